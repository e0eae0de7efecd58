/* test_vec_primitives.c - every vector of primitives.json (spec 2.1-2.5, 3.2,
 * 3.4, 5.4, 5.6). MessagePack numbers are in test_vec_primitives_msgpack.c. */
#include <stdio.h>
#include <string.h>

#include "evolu/bytes.h"
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
                      vec_str(v, "input"), error ? cJSON_PrintUnformatted(error) : "?",
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

int main(void) {
    cJSON *root = vec_open("primitives.json");
    varint_encode(root);
    varint_decode(root);
    flags(root);
    strings(root);
    cJSON_Delete(root);
    return vec_finish();
}
