/* test_vec_protocol_messages.c - every vector of protocol_messages.json
 * (spec 4, 6.8, 7.5): framing built from scratch and parsed back, pushes built
 * with injected nonces (and the size-limited continuation), header parsing,
 * and the relay's responses. The owner (owner[0]) comes from crypto_owner.json,
 * the pushed changes from its encrypted_db_change entries (by name). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/id.h"
#include "evolu/protocol.h"
#include "vec.h"

#define MAX_COLS 16
#define BUF 8192

static evolu_owner g_owner;

static void load_owner(const cJSON *crypto) {
    const cJSON *o = cJSON_GetArrayItem(vec_get(crypto, "owners_from_mnemonic"), 0);
    vec_unhex(vec_str(o, "ownerIdBytes"), g_owner.id, sizeof g_owner.id);
    vec_unhex(vec_str(o, "encryptionKey"), g_owner.encryption_key,
              sizeof g_owner.encryption_key);
    vec_unhex(vec_str(o, "writeKey"), g_owner.write_key, sizeof g_owner.write_key);
}

/* Builds a message with only a header (no messages, no ranges). */
static size_t build_header_only(const evolu_header *h, uint8_t *out, size_t cap) {
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, NULL, 0, NULL, 0, NULL, 0);
    if (evolu_msg_builder_begin(&b, h, 0, 0)) return (size_t)-1;
    evolu_writer w = evolu_writer_make(out, cap);
    if (evolu_msg_builder_emit(&b, &w)) return (size_t)-1;
    return w.len;
}

static bool same_hex(const uint8_t *got, size_t n, const char *want_hex) {
    uint8_t want[BUF];
    size_t wn = vec_unhex(want_hex, want, sizeof want);
    return wn == n && !memcmp(got, want, n);
}

/* Re-emits an opened message through the builder (messages and ranges as
 * parsed; Timestamps ranges decoded into `ts`). Returns the emitted length or
 * (size_t)-1. */
static size_t reemit(evolu_msg_reader *r, uint8_t *out, size_t cap) {
    enum { NM = 64, NR = 64, NT = 512 };
    static evolu_msg_entry msgs[NM];
    static evolu_range_entry ranges[NR];
    static evolu_timestamp ts[NT];
    size_t nts = 0;
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, msgs, NM, ranges, NR, NULL, 0);
    if (evolu_msg_builder_begin(&b, &r->header, EVOLU_PROTOCOL_MAX_SIZE_MAX,
                                EVOLU_PROTOCOL_RANGES_MAX_SIZE_MAX))
        return (size_t)-1;
    evolu_msg_reader_rewind(r);
    evolu_timestamp t;
    const uint8_t *change;
    size_t len;
    evolu_err e;
    while ((e = evolu_msg_reader_next_message(r, &t, &change, &len)) == EVOLU_OK)
        if (evolu_msg_builder_add_message(&b, &t, change, len)) return (size_t)-1;
    if (e != EVOLU_E_DONE) return (size_t)-1;
    evolu_range rg;
    while ((e = evolu_msg_reader_next_range(r, &rg)) == EVOLU_OK) {
        const evolu_timestamp *upper = rg.infinite ? NULL : &rg.upper;
        if (rg.type == EVOLU_RANGE_SKIP) {
            e = evolu_msg_builder_add_skip(&b, upper);
        } else if (rg.type == EVOLU_RANGE_FINGERPRINT) {
            e = evolu_msg_builder_add_fingerprint(&b, upper, rg.fingerprint);
        } else {
            evolu_tslist_reader lr;
            if (evolu_range_timestamps(&rg, &lr)) return (size_t)-1;
            size_t start = nts;
            while (nts < NT && evolu_tslist_next(&lr, &ts[nts]) == EVOLU_OK) nts++;
            if (nts - start != rg.n_timestamps) return (size_t)-1;
            e = evolu_msg_builder_add_timestamps(&b, upper, ts + start, nts - start);
        }
        if (e) return (size_t)-1;
    }
    if (e != EVOLU_E_DONE) return (size_t)-1;
    evolu_writer w = evolu_writer_make(out, cap);
    if (evolu_msg_builder_emit(&b, &w)) return (size_t)-1;
    return w.len;
}

/* Parses hex, re-emits it and compares. */
static bool roundtrip_hex(const char *hex) {
    uint8_t in[BUF], out[BUF];
    size_t n = vec_unhex(hex, in, sizeof in);
    evolu_msg_reader r;
    if (evolu_msg_reader_open(&r, in, n) != EVOLU_OK || r.end != n) return false;
    size_t m = reemit(&r, out, sizeof out);
    return m == n && !memcmp(in, out, n);
}

static void framing(const cJSON *root) {
    vec_section("framing");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "framing")) {
        const char *name = v->string;
        const char *hex = v->valuestring;
        uint8_t out[BUF], in[BUF];
        size_t in_len = vec_unhex(hex, in, sizeof in);
        size_t n = (size_t)-1;
        evolu_header h;
        evolu_writer w = evolu_writer_make(out, sizeof out);
        int code = -1;
        if (!strcmp(name, "request_empty")) {
            evolu_header_request(&h, g_owner.id, NULL, EVOLU_SUBSCRIPTION_NONE);
            n = build_header_only(&h, out, sizeof out);
        } else if (!strcmp(name, "request_subscribe")) {
            evolu_header_request(&h, g_owner.id, NULL, EVOLU_SUBSCRIPTION_SUBSCRIBE);
            n = build_header_only(&h, out, sizeof out);
        } else if (!strcmp(name, "request_writeKey_subscribe")) {
            evolu_header_request(&h, g_owner.id, g_owner.write_key, EVOLU_SUBSCRIPTION_SUBSCRIBE);
            n = build_header_only(&h, out, sizeof out);
        } else if (!strcmp(name, "unsubscribe")) {
            evolu_header_request(&h, g_owner.id, NULL, EVOLU_SUBSCRIPTION_UNSUBSCRIBE);
            if (!evolu_msg_encode_unsubscribe(&w, g_owner.id)) n = w.len;
        } else if (sscanf(name, "response_errorCode_%d", &code) == 1) {
            if (!evolu_msg_encode_response(&w, g_owner.id, (uint8_t)code)) n = w.len;
        } else if (!strcmp(name, "broadcast_empty")) {
            evolu_header_broadcast(&h, g_owner.id);
            n = build_header_only(&h, out, sizeof out);
        } else if (!strcmp(name, "request_version_2") || !strcmp(name, "request_version_0")) {
            evolu_header_request(&h, g_owner.id, NULL, EVOLU_SUBSCRIPTION_NONE);
            h.version = name[16] == '2' ? 2 : 0;
            n = build_header_only(&h, out, sizeof out);
            evolu_msg_reader r;
            evolu_err e = evolu_msg_reader_open(&r, in, in_len);
            vec_check(e == EVOLU_E_VERSION && r.header.version == h.version &&
                          !memcmp(r.header.owner_id, g_owner.id, 16),
                      "%s: parse gives %s version %llu", name, evolu_errname(e),
                      (unsigned long long)r.header.version);
        } else if (!strcmp(name, "request_three_ranges")) {
            /* Parse and check the fields of spec 4.4's annotated example, then
             * re-emit from what was parsed. */
            evolu_msg_reader r;
            evolu_err e = evolu_msg_reader_open(&r, in, in_len);
            evolu_range rg[3];
            bool ok = e == EVOLU_OK && r.header.type == EVOLU_MESSAGE_REQUEST &&
                      r.header.has_write_key &&
                      !memcmp(r.header.write_key, g_owner.write_key, 16) &&
                      r.header.subscription == 0 && r.n_messages == 0 && r.n_ranges == 3;
            for (int i = 0; ok && i < 3; i++) ok = !evolu_msg_reader_next_range(&r, &rg[i]);
            ok = ok && rg[0].type == EVOLU_RANGE_SKIP && !rg[0].infinite &&
                 rg[0].upper.millis == 1700000000000ULL && rg[0].upper.counter == 1 &&
                 rg[1].type == EVOLU_RANGE_FINGERPRINT && !rg[1].infinite &&
                 rg[1].upper.millis == 1700000000000ULL && rg[1].upper.counter == 7 &&
                 rg[1].fingerprint[0] == 0xa0 && rg[1].fingerprint[11] == 0xab &&
                 rg[2].type == EVOLU_RANGE_TIMESTAMPS && rg[2].infinite &&
                 rg[2].n_timestamps == 2 &&
                 evolu_msg_reader_next_range(&r, &rg[0]) == EVOLU_E_DONE;
            vec_check(ok, "%s: parsed fields (%s)", name, evolu_errname(e));
            if (e == EVOLU_OK) n = reemit(&r, out, sizeof out);
        } else if (!strcmp(name, "response_single_infinite_skip")) {
            evolu_msg_builder b;
            evolu_range_entry ranges[1];
            evolu_msg_builder_init(&b, NULL, 0, ranges, 1, NULL, 0);
            evolu_header_response(&h, g_owner.id, 0);
            if (!evolu_msg_builder_begin(&b, &h, 0, 0) && !evolu_msg_builder_add_skip(&b, NULL) &&
                !evolu_msg_builder_emit(&b, &w))
                n = w.len;
        } else {
            vec_check(false, "unknown framing vector %s", name);
            continue;
        }
        vec_check(n != (size_t)-1 && same_hex(out, n, hex), "%s: built %s want %s", name,
                  n == (size_t)-1 ? "(error)" : vec_hex(out, n), hex);

        /* Parse back: the header fields must be what was built. */
        if (strncmp(name, "request_version_", 16) != 0) {
            evolu_msg_reader r;
            evolu_err e = evolu_msg_reader_open(&r, in, in_len);
            /* An error Response is complete after its header (the TS client
             * reads nothing more), so its "00" is not interpreted. */
            size_t end = code > 0 ? in_len - 1 : in_len;
            bool ok = e == EVOLU_OK && r.end == end &&
                      !memcmp(r.header.owner_id, g_owner.id, 16) && r.header.version == 1;
            if (ok && code >= 0)
                ok = r.header.type == EVOLU_MESSAGE_RESPONSE && r.header.error_code == code &&
                     (code == 0 ? evolu_error_code_to_err((uint8_t)code) == EVOLU_OK
                                : evolu_error_code_to_err((uint8_t)code) != EVOLU_OK);
            else if (ok && strncmp(name, "request_three", 13) != 0 &&
                     strcmp(name, "response_single_infinite_skip") != 0)
                ok = r.header.type == h.type && r.header.has_write_key == h.has_write_key &&
                     r.header.subscription == h.subscription && r.n_messages == 0 &&
                     r.n_ranges == 0;
            vec_check(ok, "%s: parse back (%s)", name, evolu_errname(e));
        }
    }
}

/* --- pushes ------------------------------------------------------------------ */

typedef struct json_change {
    evolu_dbchange c;
    evolu_column cols[MAX_COLS];
    uint8_t bytes[MAX_COLS][64];
} json_change;

static bool json_value(const cJSON *obj, evolu_value *v, uint8_t *buf, size_t cap) {
    const cJSON *x;
    if (cJSON_GetObjectItemCaseSensitive(obj, "null")) {
        *v = evolu_value_null();
    } else if ((x = vec_v11(obj, "string")) && cJSON_IsString(x)) {
        *v = evolu_value_text((const uint8_t *)x->valuestring, strlen(x->valuestring));
    } else if ((x = vec_v11(obj, "number")) && cJSON_IsString(x)) {
        *v = evolu_value_number(strtod(x->valuestring, NULL));
    } else if ((x = vec_v11(obj, "bytes")) && cJSON_IsString(x)) {
        size_t n = vec_unhex(x->valuestring, buf, cap);
        if (n == (size_t)-1) return false;
        *v = evolu_value_bytes(buf, n);
    } else {
        return false;
    }
    return true;
}

/* The CRDT message named `name` in crypto_owner.json's encrypted_db_change. */
static bool crdt_message(const cJSON *crypto, const char *name, json_change *jc,
                         evolu_crdt_message *m) {
    const cJSON *e;
    cJSON_ArrayForEach(e, vec_get(crypto, "encrypted_db_change")) {
        if (strcmp(vec_str(e, "name"), name) != 0) continue;
        const cJSON *t = vec_get(e, "timestamp");
        memset(m, 0, sizeof *m);
        memset(jc, 0, sizeof *jc);
        m->timestamp.millis = (uint64_t)vec_num(t, "millis");
        m->timestamp.counter = (uint16_t)vec_num(t, "counter");
        vec_unhex(vec_str(t, "nodeId"), m->timestamp.node_id, 8);
        const cJSON *c = vec_get(e, "change");
        const char *table = vec_str(c, "table"), *id = vec_str(c, "id");
        jc->c.table = (const uint8_t *)table;
        jc->c.table_len = strlen(table);
        if (evolu_id_from_string(id, strlen(id), jc->c.id)) return false;
        jc->c.is_insert = cJSON_IsTrue(vec_get(c, "isInsert"));
        const cJSON *del = vec_get(c, "isDelete");
        jc->c.is_delete = cJSON_IsNull(del) ? -1 : cJSON_IsTrue(del) ? 1 : 0;
        const cJSON *col;
        size_t n = 0;
        cJSON_ArrayForEach(col, vec_get(c, "values")) {
            if (n == MAX_COLS) return false;
            jc->cols[n].name = (const uint8_t *)col->string;
            jc->cols[n].name_len = strlen(col->string);
            if (!json_value(col, &jc->cols[n].value, jc->bytes[n], sizeof jc->bytes[n]))
                return false;
            n++;
        }
        jc->c.columns = jc->cols;
        jc->c.n_columns = n;
        m->change = jc->c;
        return true;
    }
    return false;
}

/* Leading hex of s (up to the first space) into out. */
static size_t hex_prefix(const char *s, uint8_t *out, size_t cap) {
    char tmp[256];
    size_t i = 0;
    while (s[i] && s[i] != ' ' && i + 1 < sizeof tmp) {
        tmp[i] = s[i];
        i++;
    }
    tmp[i] = 0;
    return vec_unhex(tmp, out, cap);
}

static void push(const cJSON *root, const cJSON *crypto, const char *section,
                 const cJSON *nonces_json, const cJSON *messages_json, size_t max_size,
                 size_t want_included) {
    vec_section(section);
    enum { N = 8 };
    json_change jc[N];
    evolu_crdt_message msgs[N];
    size_t n = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, messages_json) {
        if (n == N || !crdt_message(crypto, m->valuestring, &jc[n], &msgs[n])) {
            vec_check(false, "%s: message %s not found", section, m->valuestring);
            return;
        }
        msgs[n].change = jc[n].c;
        n++;
    }
    uint8_t random[256];
    size_t rn = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, nonces_json) rn += hex_prefix(x->valuestring, random + rn,
                                                        sizeof random - rn);
    vec_fixed_port fp;
    vec_fixed_port_init(&fp, random, rn, 0);

    evolu_msg_entry entries[N];
    evolu_range_entry ranges[2];
    uint8_t arena[4096];
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, entries, N, ranges, 2, arena, sizeof arena);
    size_t included = 0;
    evolu_err e = evolu_push_build(&b, &fp.port, &g_owner, msgs, n, max_size, &included);
    uint8_t out[BUF];
    evolu_writer w = evolu_writer_make(out, sizeof out);
    if (!e) e = evolu_msg_builder_emit(&b, &w);
    const char *want = vec_str(vec_get(root, section), "hex");
    vec_check(e == EVOLU_OK && included == want_included && fp.random_pos == rn &&
                  same_hex(out, w.len, want),
              "%s: %s, %zu included, %zu/%zu random bytes, got %s want %s", section,
              evolu_errname(e), included, fp.random_pos, rn, vec_hex(out, w.len), want);

    /* The relay reads back exactly the pushed messages, each decrypting to a
     * change at its wire timestamp. */
    evolu_msg_reader r;
    e = evolu_msg_reader_open(&r, out, w.len);
    bool ok = e == EVOLU_OK && r.n_messages == included && r.header.has_write_key;
    for (size_t i = 0; ok && i < included; i++) {
        evolu_timestamp t;
        const uint8_t *c;
        size_t cl, pl;
        uint8_t plain[1024];
        ok = !evolu_msg_reader_next_message(&r, &t, &c, &cl) &&
             !evolu_timestamp_cmp(&t, &msgs[i].timestamp) &&
             !evolu_dbchange_decrypt(vec_port(), g_owner.encryption_key, &t, c, cl, plain,
                                     sizeof plain, &pl);
    }
    vec_check(ok, "%s: parse back and decrypt (%s)", section, evolu_errname(e));
}

/* --- header parsing -------------------------------------------------------- */

static void parse_header(const cJSON *root) {
    vec_section("parse_header");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "parse_header")) {
        uint8_t in[64];
        const char *input = vec_str(v, "input");
        size_t n = vec_unhex(input, in, sizeof in);
        const cJSON *res = vec_get(v, "result");
        evolu_reader r = evolu_reader_make(in, n);
        evolu_header h;
        evolu_err e = evolu_header_decode(&r, &h);
        if (vec_v11(res, "error")) {
            vec_check(e != EVOLU_OK && e != EVOLU_E_VERSION, "%s: want an error, got %s", input,
                      evolu_errname(e));
            continue;
        }
        /* 8.11.0 returns {version, ownerId} for other versions: we return
         * EVOLU_E_VERSION with exactly those two fields. */
        uint64_t version = (uint64_t)vec_v11(res, "version")->valuedouble;
        char id[EVOLU_ID_CHARS + 1] = {0};
        evolu_id_to_string(h.owner_id, id);
        bool ok = h.version == version && !strcmp(id, vec_v11(res, "ownerId")->valuestring);
        const cJSON *type = vec_v11(res, "messageType");
        if (version == EVOLU_PROTOCOL_VERSION)
            ok = ok && e == EVOLU_OK && type && h.type == (uint8_t)type->valuedouble;
        else
            ok = ok && e == EVOLU_E_VERSION && !type;
        vec_check(ok, "%s: %s version %llu owner %s type %u", input, evolu_errname(e),
                  (unsigned long long)h.version, id, h.type);
    }
}

/* --- relay responses --------------------------------------------------------- */

/* What the relay does with each request, as the vector names say (the relay
 * itself is a later module; here only the framing is checked). */
typedef enum { REPLY_VERSION, REPLY_NONE, REPLY_CODE, REPLY_SYNC } reply_kind;
static const struct {
    const char *name;
    reply_kind kind;
    int code;
} relay_cases[] = {
    {"version_mismatch", REPLY_VERSION, 0},
    {"empty_sync_on_empty_relay", REPLY_CODE, EVOLU_ERROR_CODE_NONE},
    {"garbage", REPLY_NONE, 0},
    {"wrong_message_type", REPLY_NONE, 0},
    {"messages_without_writeKey", REPLY_CODE, EVOLU_ERROR_CODE_WRITE_KEY},
    {"first_write", REPLY_CODE, EVOLU_ERROR_CODE_NONE},
    {"wrong_writeKey_readonly_sync", REPLY_CODE, EVOLU_ERROR_CODE_WRITE_KEY},
    {"quota_exceeded", REPLY_CODE, EVOLU_ERROR_CODE_QUOTA},
    {"relay_has_5_client_empty", REPLY_SYNC, 0},
};

static void relay_responses(const cJSON *root) {
    vec_section("relay_responses");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "relay_responses")) {
        const char *name = v->string;
        size_t k = 0;
        while (k < sizeof relay_cases / sizeof relay_cases[0] && strcmp(relay_cases[k].name, name))
            k++;
        if (k == sizeof relay_cases / sizeof relay_cases[0]) {
            vec_check(false, "unknown relay case %s", name);
            continue;
        }
        uint8_t req[BUF], out[BUF];
        size_t req_len = vec_unhex(vec_str(v, "request"), req, sizeof req);
        evolu_msg_reader r;
        evolu_err e = evolu_msg_reader_open(&r, req, req_len);
        evolu_writer w = evolu_writer_make(out, sizeof out);

        switch (relay_cases[k].kind) {
        case REPLY_VERSION:
            vec_check(e == EVOLU_E_VERSION && r.header.version == 2, "%s: request gives %s",
                      name, evolu_errname(e));
            evolu_version_reply_encode(&w, EVOLU_PROTOCOL_VERSION, r.header.owner_id);
            break;
        case REPLY_NONE:
            /* Rejected: not decodable, or not a Request. */
            vec_check(vec_get(v, "error") &&
                          ((e != EVOLU_OK && e != EVOLU_E_VERSION) ||
                           (e == EVOLU_OK && r.header.type != EVOLU_MESSAGE_REQUEST)),
                      "%s: request should be rejected, got %s type %u", name, evolu_errname(e),
                      r.header.type);
            continue;
        case REPLY_CODE:
            vec_check(e == EVOLU_OK && r.header.type == EVOLU_MESSAGE_REQUEST && r.end == req_len,
                      "%s: request gives %s", name, evolu_errname(e));
            evolu_msg_encode_response(&w, r.header.owner_id, (uint8_t)relay_cases[k].code);
            break;
        case REPLY_SYNC: {
            vec_check(e == EVOLU_OK && r.n_ranges == 1, "%s: request gives %s", name,
                      evolu_errname(e));
            /* The response needs the relay's sync engine (a later module):
             * parse it fully and check it re-emits byte-identically. */
            vec_check(roundtrip_hex(vec_str(v, "hex")), "%s: response re-emit", name);
            continue;
        }
        }
        vec_check(w.err == EVOLU_OK && same_hex(out, w.len, vec_str(v, "hex")),
                  "%s: built %s want %s", name, vec_hex(out, w.len), vec_str(v, "hex"));

        if (relay_cases[k].kind == REPLY_CODE) {
            evolu_msg_reader resp;
            e = evolu_msg_reader_open(&resp, out, w.len);
            vec_check(e == EVOLU_OK && resp.header.type == EVOLU_MESSAGE_RESPONSE &&
                          evolu_error_code_to_err(resp.header.error_code) ==
                              evolu_error_code_to_err((uint8_t)relay_cases[k].code),
                      "%s: response parse back", name);
        }
        const cJSON *bc = cJSON_GetObjectItemCaseSensitive(v, "broadcast");
        if (bc) {
            evolu_msg_entry msgs[8];
            evolu_msg_builder b;
            evolu_msg_builder_init(&b, msgs, 8, NULL, 0, NULL, 0);
            w = evolu_writer_make(out, sizeof out);
            e = evolu_msg_build_broadcast(&b, &r, 0);
            if (!e) e = evolu_msg_builder_emit(&b, &w);
            vec_check(e == EVOLU_OK && same_hex(out, w.len, bc->valuestring),
                      "%s: broadcast %s want %s", name, vec_hex(out, w.len), bc->valuestring);
        }
    }
}

int main(void) {
    cJSON *crypto = vec_open("crypto_owner.json");
    load_owner(crypto);
    cJSON *root = vec_open("protocol_messages.json");
    framing(root);
    const cJSON *fc = vec_get(root, "from_crdt_messages");
    push(root, crypto, "from_crdt_messages", vec_get(fc, "nonces"), vec_get(fc, "messages"), 0,
         3);
    const cJSON *cc = vec_get(root, "from_crdt_messages_continuation");
    push(root, crypto, "from_crdt_messages_continuation", vec_get(cc, "randomBytesConsumed"),
         vec_get(fc, "messages"), (size_t)vec_num(cc, "maxSize"), 1);
    parse_header(root);
    relay_responses(root);
    cJSON_Delete(root);
    cJSON_Delete(crypto);
    return vec_finish();
}
