/* test_json.c - canonical JSON detection, JSON -> MessagePack, MessagePack ->
 * JSON.stringify text (spec 2.6, 2.7.2), and MessagePack number bad input.
 * Expected texts follow JSON.parse / JSON.stringify semantics (checked with
 * Node where not obvious). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evolu/json.h"
#include "vec.h"

/* --- helpers ---------------------------------------------------------------------- */

/* JSON text -> msgpack -> JSON text must give the text back. */
static void round_trip(const char *text, size_t n) {
    size_t cap = 2 * n + 64;
    uint8_t *mp = malloc(cap), *back = malloc(cap + 16);
    evolu_writer w = evolu_writer_make(mp, cap);
    evolu_err e = evolu_json_to_msgpack((const uint8_t *)text, n, &w);
    evolu_reader r = evolu_reader_make(mp, w.len);
    evolu_writer o = evolu_writer_make(back, cap + 16);
    evolu_err e2 = e ? e : evolu_msgpack_to_json(&r, &o);
    vec_check(!e && w.err == EVOLU_OK && !e2 && o.err == EVOLU_OK && o.len == n &&
                  !memcmp(back, text, n) && evolu_reader_left(&r) == 0,
              "round trip %.60s: %s/%s", text, evolu_errname(e), evolu_errname(e2));
    free(mp);
    free(back);
}

static void canonical(const char *text, bool want, const char *hex) {
    size_t n = strlen(text);
    bool got = evolu_json_is_canonical((const uint8_t *)text, n);
    if (!vec_check(got == want, "is_canonical(%s) = %d, want %d", text, got, want)) return;
    uint8_t mp[256];
    evolu_writer w = evolu_writer_make(mp, sizeof mp);
    evolu_err e = evolu_json_to_msgpack((const uint8_t *)text, n, &w);
    if (!want) {
        vec_check(e == EVOLU_E_JSON && w.len == 0, "to_msgpack(%s) should fail: %s", text,
                  evolu_errname(e));
        return;
    }
    if (hex) {
        uint8_t want_mp[256];
        size_t wn = vec_unhex(hex, want_mp, sizeof want_mp);
        vec_check(!e && w.len == wn && !memcmp(mp, want_mp, wn), "to_msgpack(%s) = %s want %s",
                  text, vec_hex(mp, w.len), hex);
    }
    round_trip(text, n);
}

/* msgpack (hex) -> JSON text or error */
static void decode(const char *hex, const char *want_text, evolu_err want_err) {
    size_t n;
    uint8_t *in = vec_unhex_alloc(hex, &n);
    char out[512];
    evolu_reader r = evolu_reader_make(in, n);
    evolu_writer w = evolu_writer_make((uint8_t *)out, sizeof out);
    evolu_err e = evolu_msgpack_to_json(&r, &w);
    if (want_err) {
        vec_check(e == want_err && r.pos == 0, "decode %s: got %s want %s", hex, evolu_errname(e),
                  evolu_errname(want_err));
    } else {
        size_t tn = strlen(want_text);
        /* a cap-0 writer measures the same length */
        evolu_reader r2 = evolu_reader_make(in, n);
        evolu_writer m = evolu_writer_make(NULL, 0);
        evolu_err e2 = evolu_msgpack_to_json(&r2, &m);
        vec_check(!e && w.err == EVOLU_OK && w.len == tn && !memcmp(out, want_text, tn) &&
                      evolu_reader_left(&r) == 0 && !e2 && m.len == tn &&
                      evolu_json_is_canonical((const uint8_t *)out, w.len),
                  "decode %s: %s got %.*s want %s", hex, evolu_errname(e), (int)w.len, out,
                  want_text);
    }
    free(in);
}

/* --- the cases ------------------------------------------------------------------- */

static void spec_cases(void) {
    /* spec 2.7.1: canonical JSON sent as Json, with its MessagePack payload */
    canonical("123", true, "7b");
    canonical("true", true, "c3");
    canonical("null", true, "c0");
    canonical("1234", true, "cd04d2");
    canonical("1.5", true, "cb3ff8000000000000");
    canonical("-5", true, "fb");
    canonical("\"str\"", true, "a3737472");
    canonical("[]", true, "90");
    canonical("{}", true, "80");
    canonical("{\"compact\":true,\"schema\":0}", true, "82a7636f6d70616374c3a6736368656d6100");
    canonical("{\"__proto__\":{\"safe\":true}}", true, "81a95f5f70726f746f5f5f81a473616665c3");
    /* spec 2.7.1: not canonical */
    canonical("1e3", false, NULL);
    canonical("1e21", false, NULL);
    canonical("{\"a\": 1}", false, NULL);
    canonical("{\"a\":1,\"1\":2}", false, NULL);
    canonical("-0", false, NULL);
    canonical("[-0]", false, NULL);
    canonical("{\"a\":1,\"a\":2}", false, NULL);
}

static void tricky_cases(void) {
    /* whitespace anywhere */
    static const char *ws[] = {" 1", "1 ", "[1, 2]", "{\"a\" :1}", "\t1", "[1,2]\n", "[ ]", ""};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) canonical(ws[i], false, NULL);
    /* escapes: exactly JSON.stringify's */
    canonical("\"\\u0000\"", true, "a100");
    canonical("\"\\u001f\"", true, "a11f");
    canonical("\"\\u001F\"", false, NULL);
    canonical("\"\\/\"", false, NULL);
    canonical("\"/\"", true, "a12f");
    canonical("\"\\u0041\"", false, NULL);
    canonical("\"\\u0008\"", false, NULL);
    canonical("\"\\b\\f\\n\\r\\t\\\"\\\\\"", true, "a7080c0a0d09225c");
    canonical("\"\\u007f\"", false, NULL);
    canonical("\"\x7f\"", true, "a17f");
    canonical("\"\x01\"", false, NULL);
    canonical("\"\\x\"", false, NULL);
    canonical("\"\\u12\"", false, NULL);
    /* non-ASCII literally; invalid UTF-8, surrogates and overlongs in the text are not */
    canonical("\"\xc3\xa9\xf0\x9f\x98\x80\"", true, "a6c3a9f09f9880");
    canonical("\"\\u00e9\"", false, NULL);
    canonical("\"\xed\xa0\x80\"", false, NULL);
    canonical("\"\xc0\x80\"", false, NULL);
    canonical("\"\xff\"", false, NULL);
    canonical("\"\xf4\x90\x80\x80\"", false, NULL);
    canonical("\"\xc3\"", false, NULL);
    /* lone surrogates: \udxxx lowercase, 3-byte ed xx xx in MessagePack */
    canonical("\"\\ud800\"", true, "a3eda080");
    canonical("\"\\udfff\"", true, "a3edbfbf");
    canonical("\"\\uD800\"", false, NULL);
    canonical("\"\\ud83d\\ude00\"", false, NULL); /* a pair: stringify writes the emoji */
    canonical("\"\\ud83d\\uDE00\"", false, NULL);
    canonical("\"\\udc00\\ud800\"", true, "a6edb080eda080");
    canonical("\"\\ud800x\"", true, "a4eda08078");
    canonical("\"\\ud800\\n\"", true, "a4eda0800a");
    /* integer-like keys */
    canonical("{\"01\":1}", true, "81a2303101");
    canonical("{\"1\":1,\"01\":2}", true, NULL);
    canonical("{\"01\":2,\"1\":1}", false, NULL);
    canonical("{\"0\":1,\"1\":2}", true, NULL);
    canonical("{\"1\":1,\"0\":2}", false, NULL);
    canonical("{\"1\":1,\"1\":2}", false, NULL);
    canonical("{\"0\":1,\"1\":2,\"10\":3,\"2\":4}", false, NULL);
    canonical("{\"0\":1,\"1\":2,\"2\":3,\"10\":4}", true, NULL);
    canonical("{\"4294967295\":1,\"4294967294\":2}", false, NULL);
    canonical("{\"4294967294\":1,\"4294967295\":2}", true, NULL);
    canonical("{\"-1\":1,\"0\":2}", false, NULL);
    canonical("{\"0\":2,\"-1\":1}", true, NULL);
    canonical("{\"a\":{\"b\":1,\"b\":2}}", false, NULL);
    canonical("{\"a\":{\"b\":1},\"b\":{\"a\":2}}", true, NULL);
    canonical("{\"a\":1,\"\\u0061\":2}", false, NULL);
    canonical("{\"\":1}", true, "81a001");
    /* numbers */
    canonical("1e+21", true, "cb444b1ae4d6e2ef50");
    canonical("1e-7", true, "cb3e7ad7f29abcaf48");
    canonical("0", true, "00");
    canonical("0.1", true, NULL);
    canonical("5e-324", true, "cb0000000000000001");
    canonical("0.30000000000000004", true, NULL);
    canonical("123456789012345680000", true, NULL);
    canonical("-2147483649", true, "cbc1e0000000200000");
    canonical("4294967296", true, "cb41f0000000000000");
    static const char *badnum[] = {"1E+21", "1.0", "01", "-0.0", "123456789012345678901",
                                   "1e400", "+1", ".5", "1.", "0.10", "1e-07", "1e+7",
                                   "100e0", "-", "NaN", "Infinity", "0x1"};
    for (size_t i = 0; i < sizeof badnum / sizeof badnum[0]; i++) canonical(badnum[i], false, NULL);
    /* literals and structure */
    static const char *bad[] = {"nul", "True", "nulll", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}",
                                "{a:1}", "[1", "[1]]", "{\"a\":1,}", "\"abc", "1 2", "[][]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) canonical(bad[i], false, NULL);
    canonical("[null,true,false,\"\",[],{}]", true, "96c0c3c2a09080");
}

static char *repeat_text(const char *open, size_t k, const char *mid, const char *close) {
    size_t n = strlen(open) * k + strlen(mid) + strlen(close) * k + 1;
    char *s = malloc(n), *o = s;
    for (size_t i = 0; i < k; i++) o += sprintf(o, "%s", open);
    o += sprintf(o, "%s", mid);
    for (size_t i = 0; i < k; i++) o += sprintf(o, "%s", close);
    return s;
}

static void nesting_and_size(void) {
    char *t = repeat_text("[", 1000, "", "]");
    CHECK(evolu_json_is_canonical((const uint8_t *)t, strlen(t)));
    round_trip(t, strlen(t));
    free(t);
    t = repeat_text("[", 1001, "", "]");
    CHECK(!evolu_json_is_canonical((const uint8_t *)t, strlen(t)));
    evolu_writer w = evolu_writer_make(NULL, 0);
    CHECK(evolu_json_to_msgpack((const uint8_t *)t, strlen(t), &w) == EVOLU_E_NESTING);
    free(t);
    t = repeat_text("{\"a\":", 1000, "1", "}");
    CHECK(evolu_json_is_canonical((const uint8_t *)t, strlen(t)));
    round_trip(t, strlen(t));
    free(t);
    t = repeat_text("{\"a\":[", 500, "{\"b\":1}", "]}");
    CHECK(!evolu_json_is_canonical((const uint8_t *)t, strlen(t))); /* 1001 deep */
    free(t);
    t = repeat_text("[{\"b\":0,\"a\":", 400, "1", "}]");
    CHECK(evolu_json_is_canonical((const uint8_t *)t, strlen(t))); /* 800 deep, 2 keys each */
    round_trip(t, strlen(t));
    free(t);

    /* MessagePack nesting: 1000 arrays decode, 1001 do not */
    uint8_t mp[1100];
    memset(mp, 0x91, sizeof mp);
    mp[1000] = 0xc0;
    evolu_reader r = evolu_reader_make(mp, 1001);
    w = evolu_writer_make(NULL, 0);
    CHECK(evolu_msgpack_to_json(&r, &w) == EVOLU_OK && w.len == 2004 && r.pos == 1001);
    mp[1000] = 0x91;
    mp[1001] = 0xc0;
    r = evolu_reader_make(mp, 1002);
    w = evolu_writer_make(NULL, 0);
    CHECK(evolu_msgpack_to_json(&r, &w) == EVOLU_E_NESTING && r.pos == 0);

    /* header sizes: 16 elements -> dc, 70000 -> dd, 16 keys -> de, 32-char string -> d9 */
    char *big = malloc(70000 * 2 + 16), *o = big;
    *o++ = '[';
    for (int i = 0; i < 70000; i++) o += sprintf(o, i ? ",0" : "0");
    *o++ = ']';
    size_t bn = (size_t)(o - big);
    uint8_t *bmp = malloc(80000);
    w = evolu_writer_make(bmp, 80000);
    CHECK(evolu_json_to_msgpack((const uint8_t *)big, bn, &w) == EVOLU_OK && w.len == 70005 &&
          !memcmp(bmp, "\xdd\x00\x01\x11\x70", 5));
    round_trip(big, bn);
    free(bmp);
    free(big);
    canonical("[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]", true,
              "dc0010000102030405060708090a0b0c0d0e0f");
    canonical("{\"a\":0,\"b\":1,\"c\":2,\"d\":3,\"e\":4,\"f\":5,\"g\":6,\"h\":7,\"i\":8,\"j\":9,"
              "\"k\":10,\"l\":11,\"m\":12,\"n\":13,\"o\":14,\"p\":15}",
              true, NULL);
    {
        uint8_t m16[64];
        w = evolu_writer_make(m16, sizeof m16);
        const char *o16 = "{\"a\":0,\"b\":1,\"c\":2,\"d\":3,\"e\":4,\"f\":5,\"g\":6,\"h\":7,\"i\":8,"
                          "\"j\":9,\"k\":10,\"l\":11,\"m\":12,\"n\":13,\"o\":14,\"p\":15}";
        CHECK(evolu_json_to_msgpack((const uint8_t *)o16, strlen(o16), &w) == EVOLU_OK &&
              !memcmp(m16, "\xde\x00\x10", 3));
    }
    canonical("\"0123456789abcdef0123456789abcdef\"", true,
              "d9203031323334353637383961626364656630313233343536373839616263646566");

    /* objects with more keys than one check chunk (64): unique, and a late duplicate */
    char *ob = malloc(200 * 16 + 16);
    o = ob;
    *o++ = '{';
    for (int i = 0; i < 200; i++) o += sprintf(o, "%s\"k%d\":%d", i ? "," : "", i, i);
    *o++ = '}';
    *o = 0;
    CHECK(evolu_json_is_canonical((const uint8_t *)ob, strlen(ob)));
    round_trip(ob, strlen(ob));
    memcpy(strstr(ob, "\"k150\""), "\"k3\"  ", 6); /* "k3"  :150 - not canonical anyway */
    CHECK(!evolu_json_is_canonical((const uint8_t *)ob, strlen(ob)));
    o = ob;
    *o++ = '{';
    for (int i = 0; i < 200; i++) o += sprintf(o, "%s\"k%d\":%d", i ? "," : "", i == 190 ? 7 : i, i);
    *o++ = '}';
    *o = 0;
    CHECK(!evolu_json_is_canonical((const uint8_t *)ob, strlen(ob))); /* k7 twice */
    free(ob);
}

static void decode_cases(void) {
    /* scalars and strings */
    decode("c0", "null", 0);
    decode("c2", "false", 0);
    decode("cb8000000000000000", "0", 0); /* -0 stringifies as 0 */
    decode("ca3fc00000", "1.5", 0);
    decode("cb3e7ad7f29abcaf48", "1e-7", 0);
    decode("d280000000", "-2147483648", 0);
    decode("a122", "\"\\\"\"", 0);
    decode("a15c", "\"\\\\\"", 0);
    decode("a17f", "\"\x7f\"", 0);
    decode("a5080c0a0d09", "\"\\b\\f\\n\\r\\t\"", 0);
    decode("a3001f2f", "\"\\u0000\\u001f/\"", 0);
    decode("a3eda080", "\"\\ud800\"", 0);
    decode("a6eda0bdedb880", "\"\xf0\x9f\x98\x80\"", 0); /* a pair as two 3-byte forms */
    decode("a6edb880eda0bd", "\"\\ude00\\ud83d\"", 0);
    decode("a7eda0bdf09f9880", "\"\\ud83d\xf0\x9f\x98\x80\"", 0);
    decode("d90161", "\"a\"", 0);
    decode("da000161", "\"a\"", 0);
    decode("db0000000161", "\"a\"", 0);
    /* invalid UTF-8 as 8.11.0 rejects it */
    static const char *bad_utf8[] = {"a2c080", "a180", "a4f4908080", "a3e08080", "a1c2",
                                     "a2c241", "a4f0808080", "a1ff", "a2eda0"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++)
        decode(bad_utf8[i], NULL, EVOLU_E_UTF8);
    /* outside the subset, truncated, non-finite */
    static const struct {
        const char *hex;
        evolu_err e;
    } bad[] = {
        {"c1", EVOLU_E_MSGPACK},        {"c4020000", EVOLU_E_MSGPACK},
        {"d40100", EVOLU_E_MSGPACK},    {"cf0000000000000001", EVOLU_E_MSGPACK},
        {"d30000000000000001", EVOLU_E_MSGPACK}, {"810102", EVOLU_E_MSGPACK},
        {"8201028102", EVOLU_E_MSGPACK}, {"", EVOLU_E_TRUNCATED},
        {"9201", EVOLU_E_TRUNCATED},    {"dcffff", EVOLU_E_TRUNCATED},
        {"a561", EVOLU_E_TRUNCATED},    {"81a161", EVOLU_E_TRUNCATED},
        {"dfffffffff", EVOLU_E_TRUNCATED}, {"cb7ff8000000000000", EVOLU_E_NUMBER},
        {"91cbfff0000000000000", EVOLU_E_NUMBER}, {"ca7f800000", EVOLU_E_NUMBER},
        /* a value that a later duplicate overrides is still decoded (8.11.0) */
        {"82a161c1a16101", EVOLU_E_MSGPACK}, {"82a161cb7ff0000000000000a16101", EVOLU_E_NUMBER},
        {"83a16201a16191c1a16202", EVOLU_E_MSGPACK},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) decode(bad[i].hex, NULL, bad[i].e);

    /* maps from any peer: JS property order, duplicates collapsed */
    decode("82a16201a16102", "{\"b\":1,\"a\":2}", 0);
    decode("82a16101a13102", "{\"1\":2,\"a\":1}", 0);
    decode("83a16101a16102a16203", "{\"a\":2,\"b\":3}", 0);
    decode("83a16201a16102a16203", "{\"b\":3,\"a\":2}", 0);
    decode("84a2313001a13202a13003a13204", "{\"0\":3,\"2\":4,\"10\":1}", 0);
    decode("82a2303101a13102", "{\"1\":2,\"01\":1}", 0);
    decode("82aa3432393439363732393501aa3432393439363732393402",
           "{\"4294967294\":2,\"4294967295\":1}", 0);
    decode("81a17882a16201a16202", "{\"x\":{\"b\":2}}", 0);
    decode("82a6eda0bdedb88001a4f09f988002", "{\"\xf0\x9f\x98\x80\":2}", 0);
    decode("82a95f5f70726f746f5f5f01a95f5f70726f746f5f5f02", "{\"__proto__\":2}", 0);
    decode("83a16192a16101a16102a16103", "{\"a\":3}", 0); /* overridden value is an array */
    decode("8291a16101", NULL, EVOLU_E_MSGPACK);
    {   /* exactly one value is read; what follows is the caller's */
        uint8_t two[2] = {0x01, 0x02};
        evolu_reader r = evolu_reader_make(two, 2);
        uint8_t out[8];
        evolu_writer w = evolu_writer_make(out, sizeof out);
        CHECK(evolu_msgpack_to_json(&r, &w) == EVOLU_OK && r.pos == 1 && w.len == 1 && out[0] == '1');
    }

    /* a 101-entry map (more than one check chunk) with a duplicate at the end */
    {
        uint8_t mp[2048], *o = mp;
        *o++ = 0xde;
        *o++ = 0;
        *o++ = 101;
        char want[2048], *t = want;
        *t++ = '{';
        for (int i = 0; i < 101; i++) {
            char k[8];
            int kl = sprintf(k, "k%d", i == 100 ? 5 : i);
            *o++ = (uint8_t)(0xa0 | kl);
            memcpy(o, k, (size_t)kl);
            o += kl;
            *o++ = (uint8_t)i;
            if (i < 100) t += sprintf(t, "%s\"k%d\":%d", i ? "," : "", i, i == 5 ? 100 : i);
        }
        *t++ = '}';
        *t = 0;
        char out[2048];
        evolu_reader r = evolu_reader_make(mp, (size_t)(o - mp));
        evolu_writer w = evolu_writer_make((uint8_t *)out, sizeof out);
        evolu_err e = evolu_msgpack_to_json(&r, &w);
        vec_check(!e && w.len == strlen(want) && !memcmp(out, want, w.len),
                  "101-entry map: %s %.*s", evolu_errname(e), (int)w.len, out);
    }

    /* at most EVOLU_JSON_MAX_SLOW_MAPS out-of-order maps open at once */
    for (int depth = EVOLU_JSON_MAX_SLOW_MAPS; depth <= EVOLU_JSON_MAX_SLOW_MAPS + 1; depth++) {
        uint8_t mp[256], *o = mp;
        for (int i = 0; i < depth; i++) { /* {"b":1,"0":{...}} */
            memcpy(o, "\x82\xa1\x62\x01\xa1\x30", 6);
            o += 6;
        }
        *o++ = 0xc0;
        evolu_reader r = evolu_reader_make(mp, (size_t)(o - mp));
        evolu_writer w = evolu_writer_make(NULL, 0);
        evolu_err e = evolu_msgpack_to_json(&r, &w);
        vec_check(depth <= EVOLU_JSON_MAX_SLOW_MAPS ? e == EVOLU_OK : e == EVOLU_E_LIMIT,
                  "%d nested slow maps: %s", depth, evolu_errname(e));
    }
    {   /* out-of-order maps are emitted in JS order (not slow-limited when sequential) */
        decode("82a16282a16201a16102a16182a16201a16102",
               "{\"b\":{\"b\":1,\"a\":2},\"a\":{\"b\":1,\"a\":2}}", 0);
        decode("82a16282a13101a13002a16101", "{\"b\":{\"0\":2,\"1\":1},\"a\":1}", 0);
    }
}

/* A map of k entries {"x0":0,...}, optionally with an index key "1" at the
 * end (out of JS order: the slow path) or at the front. */
static uint8_t *make_map(uint32_t k, int index_key, size_t *len) {
    uint8_t *mp = malloc(16 + (size_t)k * 12), *o = mp;
    uint32_t total = k + (index_key ? 1 : 0);
    *o++ = 0xdf;
    for (int i = 3; i >= 0; i--) *o++ = (uint8_t)(total >> (8 * i));
    if (index_key < 0) {
        memcpy(o, "\xa1\x31\x01", 3);
        o += 3;
    }
    for (uint32_t i = 0; i < k; i++) {
        char key[16];
        int kl = sprintf(key, "x%u", (unsigned)i);
        *o++ = (uint8_t)(0xa0 | kl);
        memcpy(o, key, (size_t)kl);
        o += kl;
        *o++ = 0;
    }
    if (index_key > 0) {
        memcpy(o, "\xa1\x31\x01", 3);
        o += 3;
    }
    *len = (size_t)(o - mp);
    return mp;
}

static evolu_err timed_decode(const uint8_t *mp, size_t n, double *secs, size_t *out_len) {
    clock_t t0 = clock();
    evolu_reader r = evolu_reader_make(mp, n);
    evolu_writer w = evolu_writer_make(NULL, 0);
    evolu_err e = evolu_msgpack_to_json(&r, &w);
    *secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    *out_len = w.len;
    return e;
}

/* Hostile maps must not take quadratic time: the work budget stops them. */
static void hostile(void) {
    size_t n, out;
    double secs;
    /* 20000 named keys, then an index key: the slow path would need 20000
     * re-scans of the whole map */
    uint8_t *mp = make_map(20000, 1, &n);
    evolu_err e = timed_decode(mp, n, &secs, &out);
    vec_check(e == EVOLU_E_LIMIT, "hostile map: %s", evolu_errname(e));
    printf("hostile slow map (20001 keys, %zu bytes): %s in %.2fs\n", n, evolu_errname(e), secs);
    free(mp);
    /* keys in JS order: 30000 is past the documented limit, 10000 is not */
    mp = make_map(30000, -1, &n);
    e = timed_decode(mp, n, &secs, &out);
    vec_check(e == EVOLU_E_LIMIT, "huge ordered map: %s", evolu_errname(e));
    printf("huge ordered map (30001 keys, %zu bytes): %s in %.2fs\n", n, evolu_errname(e), secs);
    free(mp);
    mp = make_map(10000, -1, &n);
    e = timed_decode(mp, n, &secs, &out);
    vec_check(e == EVOLU_OK, "ordered map of 10001 keys: %s", evolu_errname(e));
    printf("ordered map (10001 keys, %zu bytes): %s in %.2fs\n", n, evolu_errname(e), secs);
    free(mp);
    /* a slow map of a few hundred entries decodes */
    mp = make_map(300, 1, &n);
    e = timed_decode(mp, n, &secs, &out);
    vec_check(e == EVOLU_OK, "slow map of 301 keys: %s", evolu_errname(e));
    free(mp);
}

static void number_bad_input(void) {
    static const struct {
        const char *hex;
        evolu_err err;
    } bad[] = {
        {"", EVOLU_E_TRUNCATED},       {"cc", EVOLU_E_TRUNCATED},
        {"cd01", EVOLU_E_TRUNCATED},   {"cb000000", EVOLU_E_TRUNCATED},
        {"cf0000000000000001", EVOLU_E_MSGPACK}, {"d30000000000000001", EVOLU_E_MSGPACK},
        {"c0", EVOLU_E_MSGPACK},       {"a0", EVOLU_E_MSGPACK},
        {"c1", EVOLU_E_MSGPACK},       {"ca7f800000", EVOLU_E_NUMBER},
        {"caff800000", EVOLU_E_NUMBER}, {"ca7fc00000", EVOLU_E_NUMBER},
        {"cb7ff0000000000001", EVOLU_E_NUMBER},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t in[16];
        size_t n = vec_unhex(bad[i].hex, in, sizeof in);
        evolu_reader r = evolu_reader_make(in, n);
        double x;
        evolu_err e = evolu_msgpack_get_number(&r, &x);
        vec_check(e == bad[i].err && r.pos == 0, "bad %s: got %s", bad[i].hex, evolu_errname(e));
    }
    static const struct {
        const char *hex;
        double v;
    } good[] = {{"ca3fc00000", 1.5}, {"ca00000001", 1.401298464324817e-45},
                {"d0ff", -1}, {"d17fff", 32767}, {"d27fffffff", 2147483647},
                {"d2ffffffff", -1}, {"cc00", 0}, {"ce80000000", 2147483648.0}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint8_t in[16];
        size_t n = vec_unhex(good[i].hex, in, sizeof in);
        evolu_reader r = evolu_reader_make(in, n);
        double x = -99;
        evolu_err e = evolu_msgpack_get_number(&r, &x);
        vec_check(e == EVOLU_OK && x == good[i].v && r.pos == n, "good %s: got %s %.17g",
                  good[i].hex, evolu_errname(e), x);
    }
    /* a full writer keeps counting */
    uint8_t one[1];
    evolu_writer w = evolu_writer_make(one, 1);
    evolu_msgpack_put_number(&w, 0.5);
    CHECK(w.err == EVOLU_E_BUFFER && w.len == 9);
}

int main(void) {
    spec_cases();
    tricky_cases();
    nesting_and_size();
    decode_cases();
    hostile();
    number_bad_input();
    return vec_finish();
}
