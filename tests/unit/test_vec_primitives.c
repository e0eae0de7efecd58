/* test_vec_primitives.c - every vector of primitives.json (spec 2.1-2.5, 3.2,
 * 3.4, 5.4, 5.6). MessagePack numbers are in test_vec_primitives_msgpack.c. */
#include <stdio.h>
#include <string.h>

#include "evolu/bytes.h"
#include "evolu/dbchange.h"
#include "evolu/id.h"
#include "evolu/timestamp.h"
#include "evolu/tslist.h"
#include "vec.h"

static void varint_encode(const cJSON *root) {
    vec_section("varint_encode");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "varint_encode")) {
        uint64_t value = (uint64_t)vec_num(v, "value");
        uint8_t want[16], got[16];
        size_t wn = vec_unhex(vec_str(v, "hex"), want, sizeof want);
        evolu_writer w = evolu_writer_make(got, sizeof got);
        evolu_put_varint(&w, value);
        vec_check(w.err == EVOLU_OK && w.len == wn && !memcmp(got, want, wn) &&
                      evolu_varint_len(value) == wn,
                  "varint %llu: got %s want %s", (unsigned long long)value,
                  vec_hex(got, w.len), vec_hex(want, wn));
    }
}

/* 8.0.0-next.5 and 8.11.0 differ on unterminated 8-byte varints; we follow 8.11.0. */
static void varint_decode(const cJSON *root) {
    vec_section("varint_decode");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "varint_decode")) {
        uint8_t in[32];
        size_t n = vec_unhex(vec_str(v, "input"), in, sizeof in);
        const cJSON *value = vec_v11(v, "value");
        const cJSON *error = vec_v11(v, "error");
        evolu_reader r = evolu_reader_make(in, n);
        uint64_t got = 0;
        evolu_err e = evolu_get_varint(&r, &got);
        if (value && cJSON_IsNumber(value) && !error) {
            size_t remaining = (size_t)vec_v11(v, "remaining")->valuedouble;
            vec_check(e == EVOLU_OK && got == (uint64_t)value->valuedouble &&
                          evolu_reader_left(&r) == remaining,
                      "decode %s: err %s value %llu left %zu", vec_str(v, "input"),
                      evolu_errname(e), (unsigned long long)got, evolu_reader_left(&r));
        } else {
            vec_check(e != EVOLU_OK, "decode %s should fail (%s) but gave %llu",
                      vec_str(v, "input"), cJSON_IsString(error) ? error->valuestring : "?",
                      (unsigned long long)got);
        }
    }
}

static void flags(const cJSON *root) {
    vec_section("flags");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "flags")) {
        uint8_t want[2], byte = 0;
        size_t wn = vec_unhex(vec_str(v, "hex"), want, sizeof want);
        int i = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, vec_get(v, "flags")) {
            if (cJSON_IsTrue(f)) byte |= (uint8_t)(1u << i);
            i++;
        }
        evolu_reader r = evolu_reader_make(want, wn);
        uint8_t back = 0;
        evolu_err e = evolu_get_flags(&r, &back);
        vec_check(wn == 1 && want[0] == byte && e == EVOLU_OK && back == byte,
                  "flags: got %02x want %s", byte, vec_str(v, "hex"));
    }
}

static void strings(const cJSON *root) {
    vec_section("string");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "string")) {
        const char *s = vec_str(v, "value");
        uint8_t want[512], got[512];
        size_t wn = vec_unhex(vec_str(v, "hex"), want, sizeof want);
        evolu_writer w = evolu_writer_make(got, sizeof got);
        evolu_put_string(&w, (const uint8_t *)s, strlen(s));
        evolu_reader r = evolu_reader_make(want, wn);
        const uint8_t *back;
        size_t bn = 0;
        evolu_err e = evolu_get_string(&r, &back, &bn);
        vec_check(w.err == EVOLU_OK && w.len == wn && !memcmp(got, want, wn) && e == EVOLU_OK &&
                      bn == strlen(s) && !memcmp(back, s, bn) && evolu_reader_left(&r) == 0,
                  "string \"%s\": got %s want %s", s, vec_hex(got, w.len), vec_hex(want, wn));
    }
}

/* {"millis", "counter", "nodeId"} -> evolu_timestamp; false if malformed. */
static bool json_timestamp(const cJSON *j, evolu_timestamp *t) {
    const char *node = vec_str(j, "nodeId");
    t->millis = (uint64_t)vec_num(j, "millis");
    t->counter = (uint16_t)vec_num(j, "counter");
    return evolu_node_id_from_hex(node, strlen(node), t->node_id) == EVOLU_OK;
}

static void ids(const cJSON *root) {
    vec_section("id");
    const evolu_port *port = vec_port();
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "id")) {
        const char *from = vec_str(v, "from");
        const char *id = vec_str(v, "id");
        uint8_t want[EVOLU_ID_BYTES], got[EVOLU_ID_BYTES];
        char text[EVOLU_ID_CHARS];
        size_t wn = vec_unhex(vec_str(v, "bytes"), want, sizeof want);
        bool ok = wn == EVOLU_ID_BYTES;
        if (!strcmp(from, "bytes")) {
            uint8_t back[EVOLU_ID_BYTES];
            size_t bn = vec_unhex(vec_str(v, "idToIdBytes"), back, sizeof back);
            evolu_id_to_string(want, text);
            evolu_err e = evolu_id_from_string(id, strlen(id), got);
            ok = ok && !memcmp(text, id, EVOLU_ID_CHARS) && strlen(id) == EVOLU_ID_CHARS &&
                 e == EVOLU_OK && bn == EVOLU_ID_BYTES && !memcmp(got, back, bn) &&
                 evolu_is_id(id, strlen(id));
            vec_check(ok, "id %s: encoded %.22s decoded %s (%s)", id, text,
                      vec_hex(got, sizeof got), evolu_errname(e));
        } else {
            const char *in = vec_str(v, "input");
            uint8_t sha_want[32], sha_got[32];
            size_t sn = vec_unhex(vec_str(v, "sha256"), sha_want, sizeof sha_want);
            port->sha256(port->ctx, sha_got, (const uint8_t *)in, strlen(in));
            evolu_id_from_hash(port, (const uint8_t *)in, strlen(in), got);
            evolu_id_to_string(got, text);
            ok = ok && sn == 32 && !memcmp(sha_got, sha_want, 32) && !memcmp(got, want, wn) &&
                 !memcmp(text, id, EVOLU_ID_CHARS) && strlen(id) == EVOLU_ID_CHARS;
            vec_check(ok, "createIdFromString(\"%s\"): got %s %.22s want %s", in,
                      vec_hex(got, sizeof got), text, id);
        }
    }
}

static void id_validity(const cJSON *root) {
    vec_section("id_validity");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "id_validity")) {
        const char *s = vec_str(v, "value");
        bool want = cJSON_IsTrue(vec_get(v, "isId"));
        uint8_t id[EVOLU_ID_BYTES];
        evolu_err e = evolu_id_from_string(s, strlen(s), id);
        bool round = true;
        if (e == EVOLU_OK) {
            char text[EVOLU_ID_CHARS];
            evolu_id_to_string(id, text);
            round = !memcmp(text, s, EVOLU_ID_CHARS);
        }
        vec_check(evolu_is_id(s, strlen(s)) == want && (e == EVOLU_OK) == want &&
                      (want || e == EVOLU_E_ID) && round,
                  "isId(\"%s\") want %d, got %s", s, want, evolu_errname(e));
    }
}

static void timestamp_bytes(const cJSON *root) {
    vec_section("timestamp_bytes_and_fingerprint");
    const evolu_port *port = vec_port();
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "timestamp_bytes_and_fingerprint")) {
        evolu_timestamp t, back;
        uint8_t want[EVOLU_TIMESTAMP_BYTES], got[EVOLU_TIMESTAMP_BYTES];
        uint8_t fp_want[EVOLU_FINGERPRINT_BYTES], fp[EVOLU_FINGERPRINT_BYTES];
        uint8_t sha_want[32], sha[32];
        bool ok = json_timestamp(vec_get(v, "timestamp"), &t);
        ok = ok && vec_unhex(vec_str(v, "hex"), want, sizeof want) == sizeof want &&
             vec_unhex(vec_str(v, "fingerprint"), fp_want, sizeof fp_want) == sizeof fp_want &&
             vec_unhex(vec_str(v, "sha256"), sha_want, sizeof sha_want) == sizeof sha_want;
        evolu_timestamp_to_bytes(&t, got);
        evolu_err e = evolu_timestamp_from_bytes(want, &back);
        port->sha256(port->ctx, sha, got, sizeof got);
        evolu_fingerprint(port, &t, fp);
        char hex[16];
        evolu_node_id_to_hex(t.node_id, hex);
        ok = ok && !memcmp(got, want, sizeof want) && e == EVOLU_OK &&
             evolu_timestamp_cmp(&t, &back) == 0 && !memcmp(sha, sha_want, 32) &&
             !memcmp(fp, fp_want, sizeof fp) &&
             !memcmp(hex, vec_str(vec_get(v, "timestamp"), "nodeId"), 16);
        vec_check(ok, "timestamp %s: bytes %s fingerprint %s", vec_str(v, "hex"),
                  vec_hex(got, sizeof got), vec_hex(fp, sizeof fp));
    }
}

static void timestamps_buffer(const cJSON *root) {
    vec_section("timestamps_buffer");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "timestamps_buffer")) {
        evolu_timestamp ts[16];
        size_t n = 0;
        bool ok = true;
        const cJSON *j;
        cJSON_ArrayForEach(j, vec_get(v, "timestamps")) {
            if (n == 16) {
                ok = false;
                break;
            }
            ok = ok && json_timestamp(j, &ts[n++]);
        }
        uint8_t want[256], got[256];
        size_t wn = vec_unhex(vec_str(v, "hex"), want, sizeof want);
        size_t len = (size_t)vec_num(v, "getLength");

        /* encode */
        evolu_writer w = evolu_writer_make(got, sizeof got);
        evolu_err e = evolu_tslist_encode(&w, ts, n);
        ok = ok && e == EVOLU_OK && w.len == wn && !memcmp(got, want, wn);

        /* getLength: the incremental accountant and a measuring writer */
        evolu_tslist_size sz;
        evolu_tslist_size_init(&sz);
        for (size_t i = 0; i < n; i++) ok = ok && evolu_tslist_size_add(&sz, &ts[i]) == EVOLU_OK;
        evolu_writer m = evolu_writer_make(NULL, 0);
        evolu_tslist_encode(&m, ts, n);
        ok = ok && evolu_tslist_size_len(&sz) == len && m.len == len && wn == len;

        /* decode back */
        evolu_reader r = evolu_reader_make(want, wn);
        evolu_tslist_reader lr;
        e = evolu_tslist_open(&lr, &r);
        ok = ok && e == EVOLU_OK && evolu_reader_left(&r) == 0 && evolu_tslist_count(&lr) == n;
        size_t k = 0;
        evolu_timestamp t;
        while (ok && evolu_tslist_next(&lr, &t) == EVOLU_OK) {
            ok = k < n && evolu_timestamp_cmp(&t, &ts[k]) == 0;
            k++;
        }
        ok = ok && k == n;
        vec_check(ok, "timestamps_buffer %s: got %s (%s) len %llu", vec_str(v, "hex"),
                  vec_hex(got, w.len), evolu_errname(e),
                  (unsigned long long)evolu_tslist_size_len(&sz));
    }
}

static void padme(const cJSON *root) {
    vec_section("padme");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "padme")) {
        size_t len = (size_t)vec_num(v, "length");
        size_t want = (size_t)vec_num(v, "padded");
        size_t got = evolu_padme(len);
        vec_check(got == want, "padme(%zu) = %zu, want %zu", len, got, want);
    }
}

int main(void) {
    cJSON *root = vec_open("primitives.json");
    varint_encode(root);
    varint_decode(root);
    flags(root);
    strings(root);
    ids(root);
    id_validity(root);
    timestamp_bytes(root);
    timestamps_buffer(root);
    padme(root);
    cJSON_Delete(root);
    return vec_finish();
}
