/* test_vec_sqlite_value.c - every vector of sqlite_value.json (spec 2.7).
 *
 * encode_and_roundtrip: the value encodes to `hex` (the 8.11.0 bytes where the
 * versions differ) and `hex` decodes to `decoded`. decode_only: the input
 * decodes to `decoded` leaving `remaining` bytes, or fails as 8.11.0 fails.
 *
 * Values in the JSON are {"null":true}, {"string":s}, {"number":"<JS text>"}
 * (JS Number::toString, also "-0", "NaN", "Infinity") or {"bytes":"<hex>"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/value.h"
#include "vec.h"

static uint8_t g_bytes[2][4096]; /* backing store for converted bytes values */

/* The JS number text of the vectors -> double. strtod reads every form used
 * ("1e+21", "-0", "NaN", "Infinity", "-Infinity"). */
static double js_number(const char *s) { return strtod(s, NULL); }

/* Converts one value object; false when the (8.11.0) value is "(absent)". */
static bool json_value(const cJSON *obj, evolu_value *v, int slot) {
    const cJSON *x;
    if (!obj || !cJSON_IsObject(obj)) return false;
    if (cJSON_GetObjectItemCaseSensitive(obj, "null")) {
        *v = evolu_value_null();
        return true;
    }
    if (cJSON_GetObjectItemCaseSensitive(obj, "string")) {
        if (!(x = vec_v11(obj, "string")) || !cJSON_IsString(x)) return false;
        *v = evolu_value_text((const uint8_t *)x->valuestring, strlen(x->valuestring));
        return true;
    }
    if (cJSON_GetObjectItemCaseSensitive(obj, "number")) {
        if (!(x = vec_v11(obj, "number")) || !cJSON_IsString(x)) return false;
        *v = evolu_value_number(js_number(x->valuestring));
        return true;
    }
    if (cJSON_GetObjectItemCaseSensitive(obj, "bytes")) {
        if (!(x = vec_v11(obj, "bytes")) || !cJSON_IsString(x)) return false;
        size_t n = vec_unhex(x->valuestring, g_bytes[slot], sizeof g_bytes[slot]);
        if (n == (size_t)-1) return false;
        *v = evolu_value_bytes(g_bytes[slot], n);
        return true;
    }
    return false;
}

static const char *describe(const evolu_value *v) {
    static char buf[4][160];
    static int i;
    char *b = buf[i++ & 3];
    switch (v->kind) {
    case EVOLU_VALUE_NULL: snprintf(b, 160, "null"); break;
    case EVOLU_VALUE_NUMBER: snprintf(b, 160, "number %.17g", v->number); break;
    case EVOLU_VALUE_TEXT:
        snprintf(b, 160, "text \"%.*s\"", (int)(v->len > 100 ? 100 : v->len),
                 v->data ? (const char *)v->data : "(null)");
        break;
    case EVOLU_VALUE_BYTES: snprintf(b, 160, "bytes %s", vec_hex(v->data, v->len)); break;
    }
    return b;
}

/* The error 8.11.0 reported, mapped to ours; EVOLU_OK if the message is unknown
 * (then any error is accepted). */
static evolu_err expected_error(const char *msg) {
    static const struct {
        const char *text;
        evolu_err err;
    } map[] = {
        {"Buffer parse ended prematurely", EVOLU_E_TRUNCATED},
        {"invalid ProtocolValueType", EVOLU_E_VALUE_TYPE},
        {"Invalid JSON MessagePack length", EVOLU_E_TRAILING},
        {"Unsupported MessagePack marker", EVOLU_E_MSGPACK},
        {"must be finite", EVOLU_E_NUMBER},
        {"Expected an encoded number", EVOLU_E_MSGPACK},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strstr(msg, map[i].text)) return map[i].err;
    return EVOLU_OK;
}

static uint8_t g_text[1 << 16];

static void encode_and_roundtrip(const cJSON *root) {
    vec_section("encode_and_roundtrip");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "encode_and_roundtrip")) {
        evolu_value in, want, got;
        uint8_t hex[4096], out[4096];
        if (!json_value(vec_get(v, "value"), &in, 0)) {
            vec_check(false, "cannot read value %s", cJSON_PrintUnformatted(vec_get(v, "value")));
            continue;
        }
        const cJSON *hexj = vec_v11(v, "hex");
        size_t hn = vec_unhex(hexj->valuestring, hex, sizeof hex);
        const cJSON *decoded = vec_v11(v, "decoded");
        bool have_want = json_value(decoded, &want, 1);
        const cJSON *err = decoded ? vec_v11(decoded, "error") : NULL;

        evolu_writer w = evolu_writer_make(out, sizeof out);
        evolu_err ee = evolu_value_encode(&w, &in);
        evolu_writer m = evolu_writer_make(NULL, 0);
        evolu_err me = evolu_value_encode(&m, &in);

        evolu_reader r = evolu_reader_make(hex, hn);
        evolu_writer text = evolu_writer_make(g_text, sizeof g_text);
        evolu_err de = evolu_value_decode(&r, &text, &got);

        if (!have_want) {
            /* NaN, Infinity: 8.0.0-next.5 writes 15 cb..., 8.11.0 rejects them when
             * decoding and its DbChange validation rejects them when encoding. */
            evolu_err want_err = err ? expected_error(err->valuestring) : EVOLU_OK;
            vec_check(de != EVOLU_OK && (want_err == EVOLU_OK || de == want_err) &&
                          ee == EVOLU_E_NUMBER && me == EVOLU_E_NUMBER,
                      "%s: decode %s gave %s, encode gave %s", describe(&in),
                      hexj->valuestring, evolu_errname(de), evolu_errname(ee));
            vec_skip("%s: encoding to %s is 8.0.0-next.5 behaviour; 8.11.0 (which we "
                     "follow) does not allow non-finite values, we return EVOLU_E_NUMBER",
                     describe(&in), hexj->valuestring);
            continue;
        }

        /* A cap-0 text writer validates and measures the same decode. */
        evolu_reader r0 = evolu_reader_make(hex, hn);
        evolu_writer t0 = evolu_writer_make(NULL, 0);
        evolu_value got0;
        evolu_err de0 = evolu_value_decode(&r0, &t0, &got0);
        bool measured = de0 == EVOLU_OK && got0.kind == got.kind && got0.len == got.len &&
                        r0.pos == hn;

        vec_check(ee == EVOLU_OK && w.err == EVOLU_OK && w.len == hn && !memcmp(out, hex, hn) &&
                      me == EVOLU_OK && m.len == hn && de == EVOLU_OK &&
                      evolu_reader_left(&r) == 0 && evolu_value_equal(&got, &want) && measured,
                  "%s: encoded %s (%s) want %s; decoded %s (%s) want %s; measured %d",
                  describe(&in), vec_hex(out, w.len), evolu_errname(ee), hexj->valuestring,
                  describe(&got), evolu_errname(de), describe(&want), measured);
    }
}

static void decode_only(const cJSON *root) {
    vec_section("decode_only");
    const cJSON *v;
    cJSON_ArrayForEach(v, vec_get(root, "decode_only")) {
        uint8_t in[4096];
        const char *hex = vec_str(v, "input");
        size_t n = vec_unhex(hex, in, sizeof in);
        evolu_value want, got;
        bool have_want = json_value(vec_v11(v, "decoded"), &want, 1);
        const cJSON *err = vec_v11(v, "error");
        const cJSON *remaining = vec_v11(v, "remaining");

        evolu_reader r = evolu_reader_make(in, n);
        evolu_writer text = evolu_writer_make(g_text, sizeof g_text);
        evolu_err e = evolu_value_decode(&r, &text, &got);
        if (have_want && !err) {
            size_t left = remaining ? (size_t)remaining->valuedouble : 0;
            vec_check(e == EVOLU_OK && evolu_value_equal(&got, &want) &&
                          evolu_reader_left(&r) == left,
                      "decode %s: %s %s left %zu; want %s left %zu", hex, evolu_errname(e),
                      describe(&got), evolu_reader_left(&r), describe(&want), left);
        } else {
            evolu_err want_err = err && cJSON_IsString(err) ? expected_error(err->valuestring)
                                                            : EVOLU_OK;
            /* A failed decode leaves the reader where it was. */
            vec_check(e != EVOLU_OK && (want_err == EVOLU_OK || e == want_err) && r.pos == 0,
                      "decode %s should fail with %s (\"%s\") but gave %s", hex,
                      evolu_errname(want_err), err ? err->valuestring : "?", evolu_errname(e));
        }
    }
}

int main(void) {
    cJSON *root = vec_open("sqlite_value.json");
    encode_and_roundtrip(root);
    decode_only(root);
    cJSON_Delete(root);
    return vec_finish();
}
