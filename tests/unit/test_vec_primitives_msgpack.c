/* test_vec_primitives_msgpack.c - the msgpack_number section of primitives.json
 * (spec 2.6): every value is encoded with evolu_msgpack_put_number and its
 * bytes decoded with evolu_msgpack_get_number, as 8.11.0 does. NaN/Infinity:
 * both versions encode them (cb + IEEE-754, unversioned hex), 8.11.0's
 * decoder rejects them ("decoded" is an error string) - both are checked.
 * Bad-input unit checks live in test_json.c so that this file counts vectors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/json.h"
#include "vec.h"

static double value_of(const char *s) {
    if (!strcmp(s, "NaN")) return strtod("nan", NULL);
    if (!strcmp(s, "Infinity")) return strtod("inf", NULL);
    if (!strcmp(s, "-Infinity")) return strtod("-inf", NULL);
    return strtod(s, NULL); /* "-0" gives -0.0 */
}

int main(void) {
    cJSON *root = vec_open("primitives.json");
    vec_section("msgpack_number");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "msgpack_number")) {
        const char *vs = vec_str(v, "value");
        const cJSON *hexj = vec_v11(v, "hex");
        const cJSON *decj = vec_v11(v, "decoded");
        if (!cJSON_IsString(hexj) || !cJSON_IsString(decj)) {
            vec_check(false, "%s: malformed vector", vs);
            continue;
        }
        double d = value_of(vs);
        uint8_t want[16], got[16];
        size_t wn = vec_unhex(hexj->valuestring, want, sizeof want);
        evolu_writer w = evolu_writer_make(got, sizeof got);
        evolu_msgpack_put_number(&w, d);
        bool enc_ok = w.err == EVOLU_OK && w.len == wn && !memcmp(got, want, wn);

        /* cap-0 writer measures the same length */
        evolu_writer m = evolu_writer_make(NULL, 0);
        evolu_msgpack_put_number(&m, d);
        enc_ok = enc_ok && m.len == wn;

        evolu_reader r = evolu_reader_make(want, wn);
        double back = 0;
        evolu_err e = evolu_msgpack_get_number(&r, &back);
        const char *dec = decj->valuestring;
        bool dec_ok;
        char text[EVOLU_JS_NUMBER_MAX_CHARS + 1];
        size_t tn = 0;
        if (!strncmp(dec, "error", 5)) {
            dec_ok = e == EVOLU_E_NUMBER && r.pos == 0;
        } else {
            tn = evolu_js_number_format(back, text);
            text[tn] = 0;
            /* JS String(-0) is "0"; the vector writes -0 as "-0" */
            bool neg_zero = !strcmp(dec, "-0");
            uint64_t bits;
            memcpy(&bits, &back, sizeof bits);
            dec_ok = e == EVOLU_OK && evolu_reader_left(&r) == 0 &&
                     (neg_zero ? bits == (1ULL << 63) : !strcmp(text, dec));
        }
        vec_check(enc_ok && dec_ok, "%s: encoded %s want %s; decoded %s (%s) want %s", vs,
                  vec_hex(got, w.len), hexj->valuestring, text, evolu_errname(e), dec);
    }

    cJSON_Delete(root);
    return vec_finish();
}
