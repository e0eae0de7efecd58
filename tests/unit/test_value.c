/* test_value.c - edge cases and bad input for SqliteValue and DateIso (spec 2.7)
 * beyond the vectors: every calendar day, bad dates, tags 24..29 and >= 37,
 * truncation at every length, DateIso tags out of range, UTF-8, all-or-nothing
 * decoding and the measuring (cap-0) text writer. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "evolu/value.h"
#include "vec.h"

static bool parse(const char *s, int64_t *ms) { return evolu_date_iso_parse(s, strlen(s), ms); }

static void date_iso(void) {
    vec_section("date_iso");
    int64_t ms = 0;
    char out[EVOLU_DATE_ISO_CHARS];

    CHECK(parse("1970-01-01T00:00:00.000Z", &ms) && ms == 0);
    CHECK(parse("0000-01-01T00:00:00.000Z", &ms) && ms == -62167219200000LL);
    CHECK(parse("9999-12-31T23:59:59.999Z", &ms) && ms == 253402300799999LL);
    CHECK(parse("1969-12-31T23:59:59.999Z", &ms) && ms == -1);
    CHECK(parse("2024-10-31T00:00:00.000Z", &ms) && ms == 1730332800000LL);
    CHECK(parse("2024-02-29T12:00:00.000Z", &ms));
    CHECK(parse("2000-02-29T00:00:00.000Z", &ms));
    CHECK(parse("0000-02-29T00:00:00.000Z", &ms)); /* year 0000 is a leap year */

    static const char *const bad[] = {
        "2023-02-29T00:00:00.000Z", /* not a leap year */
        "1900-02-29T00:00:00.000Z", /* divisible by 100, not by 400 */
        "2024-04-31T00:00:00.000Z", "2024-13-01T00:00:00.000Z", "2024-00-01T00:00:00.000Z",
        "2024-01-00T00:00:00.000Z", "2024-01-32T00:00:00.000Z",
        "2024-01-01T24:00:00.000Z", /* toISOString never writes hour 24 */
        "2024-01-01T23:60:00.000Z", "2024-01-01T23:59:60.000Z",
        "2024-01-01T00:00:00.000z", /* lowercase z */
        "2024-01-01t00:00:00.000Z", "2024-01-01 00:00:00.000Z", "2024-01-01T00:00:00.000+",
        "2024-01-01T00:00:00Z",     /* no millis */
        "2024-01-01T00:00:00.00Z",  "10000-01-01T00:00:00.000Z", /* 5-digit year */
        "+10000-01-01T00:00:00.000Z", "-000001-01-01T00:00:00.000Z", "2024-1-01T00:00:00.0000Z",
        "2024-01-01T00:00:00,000Z", "2024/01/01T00:00:00.000Z", "２024-01-01T00:00:00.000Z",
        "", "2024-01-01T00:00:00.000ZZ", " 024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.-00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        vec_check(!parse(bad[i], &ms), "\"%s\" must not be a DateIso", bad[i]);

    CHECK(evolu_date_iso_format(-62167219200001LL, out) == EVOLU_E_DATE);
    CHECK(evolu_date_iso_format(253402300800000LL, out) == EVOLU_E_DATE);
    CHECK(evolu_date_iso_format(INT64_MIN, out) == EVOLU_E_DATE);
    CHECK(evolu_date_iso_format(INT64_MAX, out) == EVOLU_E_DATE);
    CHECK(evolu_date_iso_format(-1, out) == EVOLU_OK &&
          !memcmp(out, "1969-12-31T23:59:59.999Z", 24));
    CHECK(evolu_date_iso_format(-62167219200000LL, out) == EVOLU_OK &&
          !memcmp(out, "0000-01-01T00:00:00.000Z", 24));
    CHECK(evolu_date_iso_format(951782400000LL, out) == EVOLU_OK &&
          !memcmp(out, "2000-02-29T00:00:00.000Z", 24));

    /* Every day of 0000..9999: format and parse agree, days are consecutive and
     * the date text increases (it sorts like the time). */
    bool ok = true;
    char prev[EVOLU_DATE_ISO_CHARS] = {0};
    for (int64_t day = -719528; day <= 2932896 && ok; day++) {
        int64_t t = day * 86400000LL + (day & 1 ? 86399999 : 0), back = 0;
        ok = evolu_date_iso_format(t, out) == EVOLU_OK &&
             evolu_date_iso_parse(out, sizeof out, &back) && back == t &&
             memcmp(prev, out, sizeof out) < 0;
        memcpy(prev, out, sizeof out);
        if (!ok) printf("day %lld: %.24s\n", (long long)day, out);
    }
    CHECK(ok && !memcmp(prev, "9999-12-31T00:00:00.000Z", 24));
    CHECK(evolu_date_iso_format(2932897LL * 86400000LL, out) == EVOLU_E_DATE);
}

static bool encodes_to(const evolu_value *v, const char *hex) {
    uint8_t want[256], got[256];
    size_t n = vec_unhex(hex, want, sizeof want);
    evolu_writer w = evolu_writer_make(got, sizeof got);
    if (evolu_value_encode(&w, v) != EVOLU_OK || w.err != EVOLU_OK) return false;
    if (w.len != n || memcmp(got, want, n)) {
        printf("  got %s want %s\n", vec_hex(got, w.len), hex);
        return false;
    }
    return true;
}

static bool text_encodes_to(const char *s, const char *hex) {
    evolu_value v = evolu_value_text((const uint8_t *)s, strlen(s));
    return encodes_to(&v, hex);
}

static void encode(void) {
    vec_section("encode");
    evolu_value v;
    uint8_t buf[64];

    v = evolu_value_number(-0.0);
    CHECK(encodes_to(&v, "15cb8000000000000000")); /* 8.11.0 */
    v = evolu_value_number(9007199254740992.0);       /* 2^53: not a safe integer */
    CHECK(encodes_to(&v, "15cb4340000000000000"));
    v = evolu_value_number(19.5);
    CHECK(encodes_to(&v, "15cb4033800000000000"));

    const double nonfinite[] = {(double)NAN, (double)INFINITY, -(double)INFINITY};
    for (size_t i = 0; i < 3; i++) {
        evolu_writer w = evolu_writer_make(buf, sizeof buf);
        v = evolu_value_number(nonfinite[i]);
        CHECK(evolu_value_encode(&w, &v) == EVOLU_E_NUMBER && w.len == 0);
    }

    /* Decision order: Json before Base64Url, DateIso before everything. */
    CHECK(text_encodes_to("1234", "2203cd04d2"));
    CHECK(text_encodes_to("1e21", "2003d5edb5"));
    CHECK(text_encodes_to("todo", "2003b68768"));
    CHECK(text_encodes_to("-0", "14022d30"));
    CHECK(text_encodes_to("AAAAAAAAAAAAAAAAAAAAAA", "2100000000000000000000000000000000"));
    CHECK(text_encodes_to("_____________________w", "21ffffffffffffffffffffffffffffffff"));
    CHECK(text_encodes_to("AAAAAAAAAAAAAAAAAAAAAAA", "201100000000000000000000000000000000"
                                                     "00"));

    /* Text must be UTF-8 (TextEncoder output). */
    static const char *const bad_utf8[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                           "\xe2\x82", "\xff", "a\x80"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        evolu_writer w = evolu_writer_make(buf, sizeof buf);
        v = evolu_value_text((const uint8_t *)bad_utf8[i], strlen(bad_utf8[i]));
        vec_check(evolu_value_encode(&w, &v) == EVOLU_E_UTF8 && w.len == 0,
                  "invalid UTF-8 %s accepted", vec_hex(v.data, v.len));
    }
    CHECK(evolu_value_text_is_valid((const uint8_t *)"\xc5\xbe\xf0\x9f\x98\x80\xef\xbf\xbd", 9));

    v = evolu_value_bytes(NULL, 0);
    CHECK(encodes_to(&v, "1700"));
    evolu_writer w = evolu_writer_make(buf, sizeof buf);
    v = evolu_value_bytes(NULL, 3);
    CHECK(evolu_value_encode(&w, &v) == EVOLU_E_ARG);
    v.kind = (evolu_value_kind)9;
    CHECK(evolu_value_encode(&w, &v) == EVOLU_E_ARG);

    /* A full buffer: sticky error, the length still counts. */
    w = evolu_writer_make(buf, 3);
    v = evolu_value_text((const uint8_t *)"Hello, world!", 13);
    CHECK(evolu_value_encode(&w, &v) == EVOLU_OK && w.err == EVOLU_E_BUFFER && w.len == 15);
}

/* Decodes hex; returns the error and fills v (text into a 256-byte buffer). */
static uint8_t g_in[256], g_text[256];
static evolu_err dec(const char *hex, evolu_value *v, size_t *left) {
    size_t n = vec_unhex(hex, g_in, sizeof g_in);
    evolu_reader r = evolu_reader_make(g_in, n);
    evolu_writer t = evolu_writer_make(g_text, sizeof g_text);
    evolu_err e = evolu_value_decode(&r, &t, v);
    if (left) *left = evolu_reader_left(&r);
    if (e && (r.pos != 0 || t.len != 0 || t.err)) return EVOLU_E_STATE; /* must not move */
    return e;
}

static bool dec_text(const char *hex, const char *want) {
    evolu_value v;
    size_t left;
    evolu_err e = dec(hex, &v, &left);
    bool ok = e == EVOLU_OK && left == 0 && v.kind == EVOLU_VALUE_TEXT && v.len == strlen(want) &&
              !memcmp(v.data, want, v.len);
    if (!ok) printf("  %s: %s\n", hex, evolu_errname(e));
    return ok;
}

static void decode(void) {
    vec_section("decode");
    evolu_value v;
    char hex[64];

    CHECK(dec("", &v, NULL) == EVOLU_E_TRUNCATED);
    for (int tag = 24; tag <= 29; tag++) {
        snprintf(hex, sizeof hex, "%02x00000000000000000000000000000000", tag);
        vec_check(dec(hex, &v, NULL) == EVOLU_E_VALUE_TYPE, "tag %d must be invalid", tag);
    }
    static const char *const high_tags[] = {"25", "26", "7f", "8001", "ffffffffffffff0f"};
    for (size_t i = 0; i < 5; i++)
        vec_check(dec(high_tags[i], &v, NULL) == EVOLU_E_VALUE_TYPE, "tag %s", high_tags[i]);
    CHECK(dec("8080808080808080", &v, NULL) == EVOLU_E_VARINT);
    CHECK(dec("80", &v, NULL) == EVOLU_E_TRUNCATED);
    CHECK(dec("8000", &v, NULL) == EVOLU_OK && v.kind == EVOLU_VALUE_NUMBER && v.number == 0);

    /* Truncation inside every payload kind, at every length. */
    static const char *const full[] = {
        "140568656c6c6f", "1703010203", "15cb3fe0000000000000", "1e8001",
        "2003010203",     "21000102030405060708090a0b0c0d0e0f", "2380e8fcfead32",
        "24cbc280128ff1200000", "2201c0", "15cd0100",
    };
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        size_t n = strlen(full[i]) / 2;
        CHECK(dec(full[i], &v, NULL) == EVOLU_OK);
        for (size_t k = 0; k < n; k++) {
            memcpy(hex, full[i], 2 * k);
            hex[2 * k] = 0;
            vec_check(dec(hex, &v, NULL) == EVOLU_E_TRUNCATED, "prefix %s of %s", hex, full[i]);
        }
    }
    CHECK(dec("14ffffffffffffff0f", &v, NULL) == EVOLU_E_TRUNCATED); /* huge length */
    CHECK(dec("178080808080808080", &v, NULL) == EVOLU_E_VARINT);

    /* Non-canonical encodings are accepted. */
    CHECK(dec("1e00", &v, NULL) == EVOLU_OK && v.number == 0);
    CHECK(dec("1e13", &v, NULL) == EVOLU_OK && v.number == 19);
    CHECK(dec_text("1400", ""));
    CHECK(dec_text("1f", ""));
    CHECK(dec_text("2000", ""));
    CHECK(dec_text("1402dead", "\xde\xad")); /* String bytes are returned as they are */
    CHECK(dec("1502", &v, NULL) == EVOLU_OK && v.number == 2);
    CHECK(dec("15a161", &v, NULL) == EVOLU_E_MSGPACK);
    CHECK(dec("15cbfff0000000000000", &v, NULL) == EVOLU_E_NUMBER);
    CHECK(dec("15cf0000000000000001", &v, NULL) == EVOLU_E_MSGPACK);

    /* DateIso tags: the time must format to a year 0000..9999. */
    CHECK(dec_text("23ffb7ff90fdce39", "9999-12-31T23:59:59.999Z"));
    CHECK(dec("2380b8ff90fdce39", &v, NULL) == EVOLU_E_DATE); /* 253402300800000 */
    CHECK(dec("23ffffffffffffff0f", &v, NULL) == EVOLU_E_DATE);
    CHECK(dec_text("24cbc2cc453782300000", "0000-01-01T00:00:00.000Z"));
    CHECK(dec("24cbc2cc453782300080", &v, NULL) == EVOLU_E_DATE); /* 1 ms earlier */
    CHECK(dec_text("2403", "1970-01-01T00:00:00.003Z"));       /* any number */
    CHECK(dec_text("24cb3ff8000000000000", "1970-01-01T00:00:00.001Z")); /* 1.5 truncates */
    CHECK(dec_text("24cbbfe0000000000000", "1970-01-01T00:00:00.000Z")); /* -0.5 -> 0 */
    CHECK(dec_text("24cbbff8000000000000", "1969-12-31T23:59:59.999Z")); /* -1.5 -> -1 */
    CHECK(dec("24cb7ff8000000000000", &v, NULL) == EVOLU_E_NUMBER);
    CHECK(dec("24cb7fefffffffffffff", &v, NULL) == EVOLU_E_DATE);
    CHECK(dec("24a161", &v, NULL) == EVOLU_E_MSGPACK);

    /* Json payload must be exactly one value. */
    CHECK(dec("2202c0c0", &v, NULL) == EVOLU_E_TRAILING);
    CHECK(dec("2200", &v, NULL) == EVOLU_E_TRUNCATED);
    CHECK(dec("2203c0", &v, NULL) == EVOLU_E_TRUNCATED);
    CHECK(dec_text("2201c3", "true"));

    /* Id and Base64Url text. */
    CHECK(dec_text("21ffffffffffffffffffffffffffffffff", "_____________________w"));
    CHECK(dec_text("2003b68768", "todo"));
    size_t left;
    CHECK(dec("2000ff", &v, &left) == EVOLU_OK && left == 1);

    /* Measuring text writer: validated, length known, no data. */
    uint8_t in[32];
    size_t n = vec_unhex("21000102030405060708090a0b0c0d0e0f", in, sizeof in);
    evolu_reader r = evolu_reader_make(in, n);
    evolu_writer t = evolu_writer_make(NULL, 0);
    CHECK(evolu_value_decode(&r, &t, &v) == EVOLU_OK && v.len == 22 && v.data == NULL &&
          t.err == EVOLU_E_BUFFER && r.pos == n);
    /* A small one: the same. Then a value that needs no text still decodes. */
    uint8_t small[10];
    r = evolu_reader_make(in, n);
    t = evolu_writer_make(small, sizeof small);
    CHECK(evolu_value_decode(&r, &t, &v) == EVOLU_OK && v.len == 22 && v.data == NULL &&
          t.err == EVOLU_E_BUFFER);
    n = vec_unhex("140161", in, sizeof in);
    r = evolu_reader_make(in, n);
    CHECK(evolu_value_decode(&r, &t, &v) == EVOLU_OK && v.len == 1 && v.data == in + 2);
    /* Two derived texts share one writer, one after the other. */
    n = vec_unhex("2003b68768" "2301", in, sizeof in);
    r = evolu_reader_make(in, n);
    t = evolu_writer_make(g_text, sizeof g_text);
    evolu_value a, b;
    CHECK(evolu_value_decode(&r, &t, &a) == EVOLU_OK && evolu_value_decode(&r, &t, &b) == EVOLU_OK &&
          a.len == 4 && !memcmp(a.data, "todo", 4) && b.len == 24 &&
          !memcmp(b.data, "1970-01-01T00:00:00.001Z", 24) && t.len == 28);

    /* -0 survives; equality tells it from 0. */
    evolu_value z = evolu_value_number(-0.0), p0 = evolu_value_number(0.0);
    CHECK(dec("15cb8000000000000000", &v, NULL) == EVOLU_OK && evolu_value_equal(&v, &z) &&
          !evolu_value_equal(&v, &p0));
}

int main(void) {
    date_iso();
    encode();
    decode();
    return vec_finish();
}
