/* value.c - SqliteValue encoding and decoding (spec 2.7.1, 2.7.3).
 *
 * The encoder reproduces encodeSqliteValue of @evolu/common 8.11.0 decision by
 * decision; the decoder accepts every encoding the TypeScript decoder accepts
 * (also non-canonical ones such as 1e 00 or 14 00), and nothing else. */
#include <string.h>

#include "evolu/id.h"
#include "evolu/json.h"
#include "evolu/value.h"

/* ProtocolValueType (spec 2.7). Tags 0..19 are the small ints themselves. */
enum {
    TAG_SMALL_INT_END = 20,
    TAG_STRING = 20,
    TAG_NUMBER = 21,
    TAG_NULL = 22,
    TAG_BYTES = 23,
    TAG_NON_NEGATIVE_INT = 30,
    TAG_EMPTY_STRING = 31,
    TAG_BASE64URL = 32,
    TAG_ID = 33,
    TAG_JSON = 34,
    TAG_DATE_NON_NEGATIVE = 35,
    TAG_DATE_NEGATIVE = 36,
};

static uint64_t double_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static bool is_finite(double d) { return (double_bits(d) & 0x7ff0000000000000ULL) != 0x7ff0000000000000ULL; }

/* NonNegativeInt.is(v) of 8.11.0: a safe integer >= 0 that is not -0. */
static bool is_non_negative_int(double d) {
    if (!(d >= 0.0 && d <= (double)EVOLU_MAX_SAFE_INTEGER)) return false;
    if (double_bits(d) >> 63) return false; /* -0 */
    return (double)(uint64_t)d == d;
}

bool evolu_value_text_is_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t k;   /* continuation bytes */
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the first continuation byte */
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            k = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            k = 2;
            if (b == 0xe0) lo = 0xa0;      /* no overlongs */
            if (b == 0xed) hi = 0x9f;      /* no UTF-16 surrogates */
        } else if (b >= 0xf0 && b <= 0xf4) {
            k = 3;
            if (b == 0xf0) lo = 0x90;      /* no overlongs */
            if (b == 0xf4) hi = 0x8f;      /* nothing above U+10FFFF */
        } else {
            return false;
        }
        if (n - i - 1 < k) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80) return false;
        i += k + 1;
    }
    return true;
}

bool evolu_value_equal(const evolu_value *a, const evolu_value *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case EVOLU_VALUE_NULL:
        return true;
    case EVOLU_VALUE_NUMBER:
        return double_bits(a->number) == double_bits(b->number);
    case EVOLU_VALUE_TEXT:
    case EVOLU_VALUE_BYTES:
        return a->len == b->len && (a->len == 0 || !memcmp(a->data, b->data, a->len));
    }
    return false;
}

/* Bytes a canonical Base64Url text of n characters decodes to (n % 4 != 1). */
static size_t base64url_decoded_len(size_t n) { return (n / 4) * 3 + (n % 4) * 3 / 4; }

static evolu_err encode_text(evolu_writer *w, const uint8_t *s, size_t n) {
    const char *cs = (const char *)s;
    int64_t millis;

    if (n == 0) {
        evolu_put_u8(w, TAG_EMPTY_STRING);
        return EVOLU_OK;
    }
    /* Every predicate below works on UTF-8; TextEncoder never produces invalid
     * UTF-8, so text that is not UTF-8 cannot come from a JS peer and would be
     * read back differently (U+FFFD) by one. */
    if (!evolu_value_text_is_valid(s, n)) return EVOLU_E_UTF8;

    if (evolu_date_iso_parse(cs, n, &millis)) {
        if (millis >= 0) {
            evolu_put_u8(w, TAG_DATE_NON_NEGATIVE);
            evolu_put_varint(w, (uint64_t)millis);
        } else {
            evolu_put_u8(w, TAG_DATE_NEGATIVE);
            evolu_msgpack_put_number(w, (double)millis);
        }
        return EVOLU_OK;
    }
    if (evolu_is_id(cs, n)) {
        uint8_t id[EVOLU_ID_BYTES];
        evolu_err e = evolu_id_from_string(cs, n, id);
        if (e) return e;
        evolu_put_u8(w, TAG_ID);
        evolu_put_bytes(w, id, sizeof id);
        return EVOLU_OK;
    }
#if EVOLU_JSON_REDUCED
    /* Text nested deeper than this build's depth may be canonical JSON,
     * which TS would encode as Json: never write it differently. */
    if (evolu_json_to_msgpack(s, n, &(evolu_writer){0}) == EVOLU_E_NESTING)
        return EVOLU_E_NESTING;
#endif
    if (evolu_json_is_canonical(s, n)) {
        /* Measure the MessagePack first: its length precedes it. */
        evolu_writer m = evolu_writer_make(NULL, 0);
        evolu_err e = evolu_json_to_msgpack(s, n, &m);
        if (e != EVOLU_OK && e != EVOLU_E_BUFFER) return e;
        evolu_put_u8(w, TAG_JSON);
        evolu_put_varint(w, (uint64_t)m.len);
        size_t before = w->len;
        e = evolu_json_to_msgpack(s, n, w);
        if (e != EVOLU_OK && e != EVOLU_E_BUFFER) return e;
        if (w->len - before != m.len) return EVOLU_E_JSON; /* cannot happen */
        return EVOLU_OK;
    }
    if (evolu_base64url_is_canonical(cs, n)) {
        evolu_put_u8(w, TAG_BASE64URL);
        evolu_put_varint(w, (uint64_t)base64url_decoded_len(n));
        evolu_err e = evolu_base64url_decode(w, cs, n);
        if (e != EVOLU_OK && e != EVOLU_E_BUFFER) return e;
        return EVOLU_OK;
    }
    evolu_put_u8(w, TAG_STRING);
    evolu_put_string(w, s, n);
    return EVOLU_OK;
}

evolu_err evolu_value_encode(evolu_writer *w, const evolu_value *v) {
    switch (v->kind) {
    case EVOLU_VALUE_NULL:
        evolu_put_u8(w, TAG_NULL);
        return EVOLU_OK;
    case EVOLU_VALUE_NUMBER:
        if (!is_finite(v->number)) return EVOLU_E_NUMBER;
        if (is_non_negative_int(v->number)) {
            uint64_t u = (uint64_t)v->number;
            if (u < TAG_SMALL_INT_END) {
                evolu_put_u8(w, (uint8_t)u);
            } else {
                evolu_put_u8(w, TAG_NON_NEGATIVE_INT);
                evolu_put_varint(w, u);
            }
        } else {
            evolu_put_u8(w, TAG_NUMBER);
            evolu_msgpack_put_number(w, v->number);
        }
        return EVOLU_OK;
    case EVOLU_VALUE_TEXT:
        if (!v->data && v->len) return EVOLU_E_ARG;
        return encode_text(w, v->data, v->len);
    case EVOLU_VALUE_BYTES:
        if (!v->data && v->len) return EVOLU_E_ARG;
        evolu_put_u8(w, TAG_BYTES);
        evolu_put_lenbytes(w, v->data, v->len);
        return EVOLU_OK;
    }
    return EVOLU_E_ARG;
}

/* --- decoding ------------------------------------------------------------------ */

static const uint8_t empty_text[1] = {0};

/* Points v at the text written to `text` since `start` (NULL if it did not fit;
 * empty text always fits). */
static void take_text(evolu_writer *text, size_t start, evolu_value *v) {
    v->kind = EVOLU_VALUE_TEXT;
    v->number = 0;
    v->len = text->len - start;
    if (v->len == 0)
        v->data = empty_text;
    else
        v->data = text->err == EVOLU_OK ? text->p + start : NULL;
}

static evolu_err decode_date(int64_t millis, evolu_writer *text, evolu_value *v) {
    char s[EVOLU_DATE_ISO_CHARS];
    /* toISOString() of a year outside 0000..9999 is not a DateIso. */
    evolu_err e = evolu_date_iso_format(millis, s);
    if (e) return e;
    size_t start = text->len;
    evolu_put_bytes(text, (const uint8_t *)s, sizeof s);
    take_text(text, start, v);
    return EVOLU_OK;
}

static evolu_err decode_tagged(evolu_reader *r, evolu_writer *text, evolu_value *v,
                               uint64_t tag) {
    const uint8_t *p;
    size_t n;
    uint64_t u;
    double d;
    evolu_err e;

    switch (tag) {
    case TAG_STRING:
        if ((e = evolu_get_string(r, &p, &n))) return e;
        *v = evolu_value_text(p, n);
        return EVOLU_OK;
    case TAG_NUMBER:
        if ((e = evolu_msgpack_get_number(r, &d))) return e;
        if (!is_finite(d)) return EVOLU_E_NUMBER;
        *v = evolu_value_number(d);
        return EVOLU_OK;
    case TAG_NULL:
        *v = evolu_value_null();
        return EVOLU_OK;
    case TAG_BYTES:
        if ((e = evolu_get_lenbytes(r, &p, &n))) return e;
        *v = evolu_value_bytes(p, n);
        return EVOLU_OK;
    case TAG_NON_NEGATIVE_INT:
        if ((e = evolu_get_varint(r, &u))) return e;
        *v = evolu_value_number((double)u);
        return EVOLU_OK;
    case TAG_EMPTY_STRING:
        *v = evolu_value_text(empty_text, 0);
        return EVOLU_OK;
    case TAG_BASE64URL: {
        if ((e = evolu_get_lenbytes(r, &p, &n))) return e;
        size_t start = text->len;
        evolu_base64url_encode(text, p, n);
        take_text(text, start, v);
        return EVOLU_OK;
    }
    case TAG_ID: {
        char s[EVOLU_ID_CHARS];
        if ((e = evolu_get_span(r, &p, EVOLU_ID_BYTES))) return e;
        evolu_id_to_string(p, s);
        size_t start = text->len;
        evolu_put_bytes(text, (const uint8_t *)s, sizeof s);
        take_text(text, start, v);
        return EVOLU_OK;
    }
    case TAG_JSON: {
        if ((e = evolu_get_lenbytes(r, &p, &n))) return e;
        evolu_reader m = evolu_reader_make(p, n);
        size_t start = text->len;
        evolu_err text_err = text->err;
        e = evolu_msgpack_to_json(&m, text);
#if EVOLU_JSON_REDUCED
        if (e == EVOLU_E_NESTING || e == EVOLU_E_LIMIT) {
            /* Beyond this build's limits, not necessarily the protocol's:
             * not decoded here, marked like text that did not fit (data
             * NULL), len its MessagePack length (evolu_dbchange_skip_column). */
            text->len = start;
            text->err = text_err;
            *v = evolu_value_text(NULL, n);
            return EVOLU_OK;
        }
#endif
        (void)text_err;
        if (e != EVOLU_OK && e != EVOLU_E_BUFFER) return e;
        /* The payload must be exactly one MessagePack value. */
        if (evolu_reader_left(&m) != 0) return EVOLU_E_TRAILING;
        take_text(text, start, v);
        return EVOLU_OK;
    }
    case TAG_DATE_NON_NEGATIVE:
        if ((e = evolu_get_varint(r, &u))) return e;
        return decode_date((int64_t)u, text, v); /* u <= 2^53 - 1 */
    case TAG_DATE_NEGATIVE:
        /* Any number: new Date(t) truncates toward zero (TimeClip); beyond
         * +-8.64e15 it is an invalid date, which also fails the range check. */
        if ((e = evolu_msgpack_get_number(r, &d))) return e;
        if (!(d > -9e15 && d < 9e15)) return EVOLU_E_DATE;
        return decode_date((int64_t)d, text, v);
    default:
        return EVOLU_E_VALUE_TYPE;
    }
}

evolu_err evolu_value_decode(evolu_reader *r, evolu_writer *text, evolu_value *v) {
    size_t pos = r->pos, text_len = text->len;
    evolu_err text_err = text->err;
    uint64_t tag;
    evolu_err e = evolu_get_varint(r, &tag);
    if (e == EVOLU_OK) {
        if (tag < TAG_SMALL_INT_END) {
            *v = evolu_value_number((double)tag);
            return EVOLU_OK;
        }
        e = decode_tagged(r, text, v, tag);
        if (e == EVOLU_OK) return EVOLU_OK;
    }
    /* All or nothing: on error neither the input nor the text moves. */
    r->pos = pos;
    text->len = text_len;
    text->err = text_err;
    return e;
}
