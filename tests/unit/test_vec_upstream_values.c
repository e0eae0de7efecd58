/* test_vec_upstream_values.c - the value and DbChange vectors that upstream's own
 * Protocol tests pin (upstream_test_vectors.json): encodeNumber and encodeString
 * concatenations, the 16-value encodeSqliteValue concatenation and the
 * encodeAndEncryptDbChange snapshot, in the 8.0.0-next.5 monorepo section and
 * the 8.11.0 package section. The protocol-message vectors of this file belong
 * to the protocol tests.
 *
 * Upstream describes some inputs as text. Where that text is a plain list it is
 * parsed; the encodeSqliteValue inputs are written here (each is checked to be
 * named in the description), and the random Id of createId(testCreateDeps()) is
 * taken from where the expected bytes show it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/dbchange.h"
#include "evolu/id.h"
#include "evolu/json.h"
#include "vec.h"

/* "[0, 42, MAX_SAFE_INTEGER, ...] each with encodeNumber" -> MessagePack numbers. */
static void encode_number_concat(const cJSON *sec) {
    vec_section("next5 encodeNumber_concat");
    const cJSON *v = vec_get(sec, "encodeNumber_concat");
    const char *inputs = vec_str(v, "inputs");
    uint8_t want[512], got[512];
    size_t wn = vec_unhex(vec_str(v, "hex"), want, sizeof want);
    evolu_writer w = evolu_writer_make(got, sizeof got);
    const char *p = strchr(inputs, '['), *end = strchr(inputs, ']');
    int count = 0;
    bool parsed = p && end;
    while (parsed && p < end) {
        char tok[64];
        size_t n = 0;
        p++;
        while (p < end && *p == ' ') p++;
        while (p < end && *p != ',' && n + 1 < sizeof tok) tok[n++] = *p++;
        tok[n] = 0;
        double d;
        char *stop;
        if (!strcmp(tok, "MAX_SAFE_INTEGER")) {
            d = 9007199254740991.0;
        } else if (!strcmp(tok, "MIN_SAFE_INTEGER")) {
            d = -9007199254740991.0;
        } else {
            d = strtod(tok, &stop); /* also "Infinity", "-Infinity", "NaN" */
            if (stop == tok || *stop) parsed = false;
        }
        evolu_msgpack_put_number(&w, d);
        count++;
    }
    vec_check(parsed && count == 9 && w.err == EVOLU_OK && w.len == wn && !memcmp(got, want, wn),
              "encodeNumber concat of %d inputs: %s want %s", count, vec_hex(got, w.len),
              vec_hex(want, wn));
}

static void encode_string_hello(const cJSON *sec) {
    vec_section("next5 encodeString_hello");
    const cJSON *v = vec_get(sec, "encodeString_hello");
    const char *s = vec_str(v, "input");
    uint8_t want[64], got[64];
    size_t wn = vec_unhex(vec_str(v, "hex"), want, sizeof want);
    evolu_writer w = evolu_writer_make(got, sizeof got);
    evolu_put_string(&w, (const uint8_t *)s, strlen(s));
    vec_check(w.err == EVOLU_OK && w.len == wn && !memcmp(got, want, wn),
              "encodeString %s: %s want %s", s, vec_hex(got, w.len), vec_hex(want, wn));
}

/* The 16 inputs of upstream's encodeSqliteValue test; index 5 is the Id. */
#define CONCAT_ID_INDEX 5
static const char *const concat_texts[] = {
    "{\"compact\":true,\"schema\":0}", "0000-01-01T00:00:00.000Z",
    "2024-10-31T00:00:00.000Z",        "2108-10-31T00:00:00.000Z",
    "2109-10-31T00:00:00.000Z",        "9999-12-31T23:59:59.999Z",
};

static size_t concat_inputs(evolu_value vals[16], const uint8_t id[EVOLU_ID_BYTES],
                            char id_text[EVOLU_ID_CHARS]) {
    static const uint8_t bytes123[] = {1, 2, 3};
    size_t n = 0;
    vals[n++] = evolu_value_text((const uint8_t *)"", 0);
    vals[n++] = evolu_value_number(123.5);
    vals[n++] = evolu_value_number(-123);
    vals[n++] = evolu_value_null();
    vals[n++] = evolu_value_bytes(bytes123, sizeof bytes123);
    evolu_id_to_string(id, id_text);
    vals[n++] = evolu_value_text((const uint8_t *)id_text, EVOLU_ID_CHARS);
    vals[n++] = evolu_value_number(0);
    vals[n++] = evolu_value_number(19);
    vals[n++] = evolu_value_number(123);
    vals[n++] = evolu_value_number(16383);
    for (size_t i = 0; i < sizeof concat_texts / sizeof concat_texts[0]; i++)
        vals[n++] = evolu_value_text((const uint8_t *)concat_texts[i], strlen(concat_texts[i]));
    return n;
}

static bool description_names_inputs(const char *desc) {
    for (size_t i = 0; i < sizeof concat_texts / sizeof concat_texts[0]; i++)
        if (!strstr(desc, concat_texts[i])) return false;
    return strstr(desc, "Uint8Array[1,2,3]") && strstr(desc, "createId(testCreateDeps())") &&
           strstr(desc, "123.5") && strstr(desc, "16383");
}

static void encode_sqlite_value_concat(const char *label, const cJSON *v, const char *desc,
                                       const uint8_t *id_from_text) {
    vec_section(label);
    uint8_t want[512], got[512], id[EVOLU_ID_BYTES];
    size_t wn = vec_unhex(vec_str(v, "hex"), want, sizeof want);
    evolu_value vals[16];
    char id_text[EVOLU_ID_CHARS];

    /* The Id: given in the text, or read where the expected bytes show it
     * (tag 0x21 after the encodings of the five values before it). */
    bool have_id = true;
    if (id_from_text) {
        memcpy(id, id_from_text, sizeof id);
    } else {
        uint8_t zero[EVOLU_ID_BYTES] = {0};
        concat_inputs(vals, zero, id_text);
        evolu_writer m = evolu_writer_make(NULL, 0);
        for (size_t i = 0; i < CONCAT_ID_INDEX; i++) evolu_value_encode(&m, &vals[i]);
        have_id = m.len + 1 + sizeof id <= wn && want[m.len] == 0x21;
        if (have_id) memcpy(id, want + m.len + 1, sizeof id);
    }
    size_t n = concat_inputs(vals, id, id_text);
    evolu_writer w = evolu_writer_make(got, sizeof got);
    evolu_err e = EVOLU_OK;
    for (size_t i = 0; i < n && !e; i++) e = evolu_value_encode(&w, &vals[i]);

    /* And back: the concatenation decodes to the same 16 values. */
    static uint8_t text[1024];
    evolu_writer tw = evolu_writer_make(text, sizeof text);
    evolu_reader r = evolu_reader_make(want, wn);
    bool back = true;
    for (size_t i = 0; i < n && back; i++) {
        evolu_value d;
        back = evolu_value_decode(&r, &tw, &d) == EVOLU_OK && evolu_value_equal(&d, &vals[i]);
    }
    back = back && evolu_reader_left(&r) == 0;

    vec_check(description_names_inputs(desc) && have_id && n == 16 && e == EVOLU_OK &&
                  w.err == EVOLU_OK && w.len == wn && !memcmp(got, want, wn) && back,
              "encodeSqliteValue concat: %s (%s) want %s; decodes back %d", vec_hex(got, w.len),
              evolu_errname(e), vec_hex(want, wn), back);
}

static void json_timestamp(const cJSON *j, evolu_timestamp *t) {
    t->millis = (uint64_t)vec_num(j, "millis");
    t->counter = (uint16_t)vec_num(j, "counter");
    const char *node = vec_str(j, "nodeId");
    if (evolu_node_id_from_hex(node, strlen(node), t->node_id) != EVOLU_OK)
        memset(t->node_id, 0, sizeof t->node_id);
}

/* Decode the given plaintext, encode it again, encrypt with the given key and
 * nonce: upstream's bytes. Then decrypt them back. */
static void encode_and_encrypt(const char *label, const cJSON *v) {
    vec_section(label);
    uint8_t key[32], nonce[24], plain[1024], want[1024], out[1024], re[1024], dec[1024];
    static uint8_t text[1024];
    evolu_timestamp t;
    const evolu_port *port = vec_port();
    vec_unhex(vec_str(v, "key"), key, sizeof key);
    vec_unhex(vec_str(v, "nonce"), nonce, sizeof nonce);
    size_t pn = vec_unhex(vec_str(v, "plaintext"), plain, sizeof plain);
    size_t wn = vec_unhex(vec_str(v, "hex"), want, sizeof want);
    json_timestamp(vec_get(v, "timestamp"), &t);

    evolu_dbchange_view view;
    evolu_column cols[16];
    evolu_dbchange c;
    memset(&c, 0, sizeof c);
    evolu_err pe = evolu_dbchange_parse(plain, pn, &view);
    bool parsed = pe == EVOLU_OK && evolu_timestamp_cmp(&view.timestamp, &t) == 0 &&
                  view.n_columns <= 16;
    if (parsed) {
        evolu_writer tw = evolu_writer_make(text, sizeof text);
        c.table = view.table;
        c.table_len = view.table_len;
        memcpy(c.id, view.id, sizeof c.id);
        c.is_insert = view.is_insert;
        c.is_delete = view.is_delete;
        c.columns = cols;
        for (size_t i = 0; i < view.n_columns && parsed; i++)
            parsed = evolu_dbchange_next_column(&view, &tw, &cols[c.n_columns++]) == EVOLU_OK;
    }
    evolu_writer rw = evolu_writer_make(re, sizeof re);
    evolu_err ee = parsed ? evolu_dbchange_encode(&rw, &c, &t) : pe;
    evolu_writer w = evolu_writer_make(out, sizeof out);
    evolu_err ce = parsed ? evolu_dbchange_encrypt(&w, port, key, &c, &t, nonce) : pe;
    size_t dn = 0;
    evolu_err de = evolu_dbchange_decrypt(port, key, &t, want, wn, dec, sizeof dec, &dn);

    vec_check(parsed && ee == EVOLU_OK && rw.len == pn && !memcmp(re, plain, pn) &&
                  ce == EVOLU_OK && w.len == wn && !memcmp(out, want, wn) && de == EVOLU_OK &&
                  dn == pn && !memcmp(dec, plain, pn),
              "%s: parse %s, re-encoded %s, encrypted %s (%s) want %s, decrypt %s", label,
              evolu_errname(pe), vec_hex(re, rw.len), vec_hex(out, w.len), evolu_errname(ce),
              vec_hex(want, wn), evolu_errname(de));
}

int main(void) {
    cJSON *root = vec_open("upstream_test_vectors.json");
    const cJSON *next5 = vec_get(root, "next5_monorepo_tests");
    const cJSON *v11 = vec_get(root, "v8_11_0_package_tests");
    const cJSON *next5_concat = vec_get(next5, "encodeSqliteValue_concat");
    const char *desc = vec_str(next5_concat, "inputs");

    encode_number_concat(next5);
    encode_string_hello(next5);
    encode_sqlite_value_concat("next5 encodeSqliteValue_concat", next5_concat, desc, NULL);

    /* 8.11.0: "same 16 inputs as next5 ...; the Id is createId(testCreateDeps())
     * = bytes <hex>". */
    const cJSON *v11_concat = vec_get(vec_get(v11, "vectors"), "encodeSqliteValue_concat");
    const char *v11_inputs = vec_str(v11_concat, "inputs");
    const char *at = strstr(v11_inputs, "bytes ");
    uint8_t id[EVOLU_ID_BYTES];
    char idhex[2 * EVOLU_ID_BYTES + 1] = {0};
    if (at) strncpy(idhex, at + 6, 2 * EVOLU_ID_BYTES);
    if (at && strstr(v11_inputs, "same 16 inputs") &&
        vec_unhex(idhex, id, sizeof id) == EVOLU_ID_BYTES)
        encode_sqlite_value_concat("8.11.0 encodeSqliteValue_concat", v11_concat, desc, id);
    else
        vec_check(false, "8.11.0 encodeSqliteValue_concat: cannot read the inputs \"%s\"",
                  v11_inputs);

    encode_and_encrypt("next5 encodeAndEncryptDbChange", vec_get(next5, "encodeAndEncryptDbChange"));
    encode_and_encrypt("8.11.0 encodeAndEncryptDbChange", vec_get(v11, "encodeAndEncryptDbChange"));
    cJSON_Delete(root);
    return vec_finish();
}
