/* test_vec_crypto_dbchange.c - the EncryptedDbChange vectors of crypto_owner.json
 * (spec 5.3-5.5): plaintext bytes and lengths, encryption with the given nonce,
 * decryption back to the same change, and the timestamp tamper check. The owner
 * vectors of the same file are checked by the owner tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/dbchange.h"
#include "evolu/id.h"
#include "vec.h"

#define MAX_COLS 64

/* A change read from JSON, with the storage its pointers point into. */
typedef struct json_change {
    evolu_dbchange c;
    evolu_column cols[MAX_COLS];
    uint8_t bytes[MAX_COLS][256];
} json_change;

/* {"null":true} | {"string":s} | {"number":"<JS text>"} | {"bytes":"<hex>"};
 * the 8.11.0 member where the versions differ. */
static bool json_value(const cJSON *obj, evolu_value *v, uint8_t *buf, size_t cap) {
    const cJSON *x;
    if (cJSON_GetObjectItemCaseSensitive(obj, "null")) {
        *v = evolu_value_null();
        return true;
    }
    if ((x = vec_v11(obj, "string")) && cJSON_IsString(x)) {
        *v = evolu_value_text((const uint8_t *)x->valuestring, strlen(x->valuestring));
        return true;
    }
    if ((x = vec_v11(obj, "number")) && cJSON_IsString(x)) {
        *v = evolu_value_number(strtod(x->valuestring, NULL));
        return true;
    }
    if ((x = vec_v11(obj, "bytes")) && cJSON_IsString(x)) {
        size_t n = vec_unhex(x->valuestring, buf, cap);
        if (n == (size_t)-1) return false;
        *v = evolu_value_bytes(buf, n);
        return true;
    }
    return false;
}

static bool json_change_read(const cJSON *j, json_change *out) {
    memset(out, 0, sizeof *out);
    const char *table = vec_str(j, "table");
    const char *id = vec_str(j, "id");
    out->c.table = (const uint8_t *)table;
    out->c.table_len = strlen(table);
    if (evolu_id_from_string(id, strlen(id), out->c.id) != EVOLU_OK) return false;
    out->c.is_insert = cJSON_IsTrue(vec_get(j, "isInsert"));
    const cJSON *del = vec_get(j, "isDelete");
    out->c.is_delete = cJSON_IsNull(del) ? -1 : cJSON_IsTrue(del) ? 1 : 0;
    const cJSON *col;
    size_t n = 0;
    cJSON_ArrayForEach(col, vec_get(j, "values")) {
        if (n == MAX_COLS) return false;
        out->cols[n].name = (const uint8_t *)col->string;
        out->cols[n].name_len = strlen(col->string);
        if (!json_value(col, &out->cols[n].value, out->bytes[n], sizeof out->bytes[n]))
            return false;
        n++;
    }
    out->c.columns = out->cols;
    out->c.n_columns = n;
    return true;
}

static void json_timestamp(const cJSON *j, evolu_timestamp *t) {
    t->millis = (uint64_t)vec_num(j, "millis");
    t->counter = (uint16_t)vec_num(j, "counter");
    const char *node = vec_str(j, "nodeId");
    if (evolu_node_id_from_hex(node, strlen(node), t->node_id) != EVOLU_OK)
        memset(t->node_id, 0, sizeof t->node_id);
}

/* The parsed plaintext equals the expected change, column by column in order. */
static bool view_equals(evolu_dbchange_view *v, const json_change *want,
                        const evolu_timestamp *t) {
    static uint8_t text[4096];
    if (evolu_timestamp_cmp(&v->timestamp, t) != 0) return false;
    if (v->table_len != want->c.table_len || memcmp(v->table, want->c.table, v->table_len))
        return false;
    if (memcmp(v->id, want->c.id, EVOLU_ID_BYTES) || v->is_insert != want->c.is_insert ||
        v->is_delete != want->c.is_delete || v->n_columns != want->c.n_columns)
        return false;
    evolu_writer tw = evolu_writer_make(text, sizeof text);
    for (size_t i = 0; i < want->c.n_columns; i++) {
        evolu_column col;
        if (evolu_dbchange_next_column(v, &tw, &col) != EVOLU_OK) return false;
        if (col.name_len != want->cols[i].name_len ||
            memcmp(col.name, want->cols[i].name, col.name_len) ||
            !evolu_value_equal(&col.value, &want->cols[i].value))
            return false;
    }
    evolu_column extra;
    return evolu_dbchange_next_column(v, &tw, &extra) == EVOLU_E_DONE;
}

static void encrypted_db_change(const cJSON *root, const evolu_port *port) {
    vec_section("encrypted_db_change");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "encrypted_db_change")) {
        const char *name = vec_str(v, "name");
        uint8_t key[32], nonce[24], tsb[16], want_tsb[16], plain[4096], want_plain[4096];
        uint8_t enc[4096], want_enc[4096], dec[4096];
        json_change ch, back;
        evolu_timestamp t;

        vec_unhex(vec_str(v, "key"), key, sizeof key);
        vec_unhex(vec_str(v, "nonce"), nonce, sizeof nonce);
        json_timestamp(vec_get(v, "timestamp"), &t);
        evolu_timestamp_to_bytes(&t, tsb);
        size_t tn = vec_unhex(vec_str(v, "timestampBytes"), want_tsb, sizeof want_tsb);
        size_t pn = vec_unhex(vec_v11(v, "plaintext")->valuestring, want_plain, sizeof want_plain);
        size_t en = vec_unhex(vec_v11(v, "encryptedDbChange")->valuestring, want_enc,
                              sizeof want_enc);
        size_t plain_len_padded = (size_t)vec_v11(v, "plaintextLength")->valuedouble;
        size_t ct_len = (size_t)vec_v11(v, "ciphertextLength")->valuedouble;
        if (!json_change_read(vec_get(v, "change"), &ch) ||
            !json_change_read(vec_get(v, "decrypted"), &back)) {
            vec_check(false, "%s: cannot read the change", name);
            continue;
        }

        /* Plaintext: layout, lengths, padding. */
        size_t unpadded = 0, enc_len = 0;
        evolu_err le = evolu_dbchange_plaintext_len(&ch.c, &unpadded);
        evolu_err ele = evolu_dbchange_encrypted_len(&ch.c, &enc_len);
        evolu_writer w = evolu_writer_make(plain, sizeof plain);
        evolu_err pe = evolu_dbchange_encode(&w, &ch.c, &t);
        vec_check(tn == 16 && !memcmp(tsb, want_tsb, 16) && le == EVOLU_OK && pe == EVOLU_OK &&
                      evolu_padme(unpadded) == plain_len_padded && w.len == pn &&
                      pn == plain_len_padded && !memcmp(plain, want_plain, pn) &&
                      ct_len == pn + 16 && ele == EVOLU_OK && enc_len == en,
                  "%s plaintext: %s (%s, unpadded %zu) want %s; encrypted len %zu want %zu",
                  name, vec_hex(plain, w.len), evolu_errname(pe), unpadded,
                  vec_hex(want_plain, pn), enc_len, en);

        /* Encryption with the vector's nonce. */
        evolu_writer ew = evolu_writer_make(enc, sizeof enc);
        evolu_err ee = evolu_dbchange_encrypt(&ew, port, key, &ch.c, &t, nonce);
        vec_check(ee == EVOLU_OK && ew.len == en && !memcmp(enc, want_enc, en),
                  "%s encrypt: %s (%s) want %s", name, vec_hex(enc, ew.len), evolu_errname(ee),
                  vec_hex(want_enc, en));

        /* Decryption of the vector's bytes back to the decoded change. */
        size_t dn = 0;
        evolu_err de = evolu_dbchange_decrypt(port, key, &t, want_enc, en, dec, sizeof dec, &dn);
        evolu_dbchange_view view;
        evolu_err pa = de == EVOLU_OK ? evolu_dbchange_parse(dec, dn, &view) : de;
        vec_check(de == EVOLU_OK && dn == pn && !memcmp(dec, want_plain, pn) && pa == EVOLU_OK &&
                      view_equals(&view, &back, &t),
                  "%s decrypt: %s / parse %s, plaintext %s", name, evolu_errname(de),
                  evolu_errname(pa), vec_hex(dec, dn));
        port->memzero(port->ctx, dec, sizeof dec);
    }
}

/* The first vector decrypted under a different wire timestamp must fail. */
static void timestamp_tamper_check(const cJSON *root, const evolu_port *port) {
    vec_section("timestamp_tamper_check");
    const cJSON *tc = vec_get(root, "timestamp_tamper_check");
    const cJSON *first = cJSON_GetArrayItem(vec_get(root, "encrypted_db_change"), 0);
    uint8_t key[32], enc[4096], dec[4096];
    evolu_timestamp wire;
    vec_unhex(vec_str(first, "key"), key, sizeof key);
    size_t en = vec_unhex(vec_str(first, "encryptedDbChange"), enc, sizeof enc);
    json_timestamp(vec_get(tc, "decryptWithTimestamp"), &wire);
    size_t dn = 0;
    evolu_err e = evolu_dbchange_decrypt(port, key, &wire, enc, en, dec, sizeof dec, &dn);
    bool want_mismatch = !strcmp(vec_str(tc, "result"), "ProtocolTimestampMismatchError");
    vec_check(want_mismatch && e == EVOLU_E_TIMESTAMP_MISMATCH, "tamper check gave %s, want %s",
              evolu_errname(e), vec_str(tc, "result"));
}

int main(void) {
    cJSON *root = vec_open("crypto_owner.json");
    const evolu_port *port = vec_port();
    encrypted_db_change(root, port);
    timestamp_tamper_check(root, port);
    cJSON_Delete(root);
    return vec_finish();
}
