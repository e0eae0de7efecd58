/*
 * evolu/value.h - column values (SqliteValue) and their wire encoding (spec 2.7).
 *
 * A value is what a JS app can store in a column: null, a number (a JS double),
 * a string, or bytes. The encoder follows the TypeScript decision order exactly
 * (empty string, DateIso, Id, canonical JSON, canonical Base64Url, plain string;
 * small non-negative integers, NonNegativeInt, MessagePack number).
 *
 * Where the two published versions differ we follow @evolu/common 8.11.0:
 * -0 is encoded as a MessagePack float (15 cb 80..00) and decodes as -0;
 * NaN and +-Infinity cannot be encoded (EVOLU_E_NUMBER) and are rejected when
 * decoded.
 */
#ifndef EVOLU_VALUE_H
#define EVOLU_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/bytes.h"
#include "evolu/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum evolu_value_kind {
    EVOLU_VALUE_NULL = 0,
    EVOLU_VALUE_NUMBER = 1,
    EVOLU_VALUE_TEXT = 2,  /* UTF-8 in data[0..len) */
    EVOLU_VALUE_BYTES = 3, /* data[0..len) */
} evolu_value_kind;

typedef struct evolu_value {
    evolu_value_kind kind;
    double number;       /* EVOLU_VALUE_NUMBER */
    const uint8_t *data; /* TEXT or BYTES; not owned */
    size_t len;
} evolu_value;

static inline evolu_value evolu_value_null(void) {
    evolu_value v = {EVOLU_VALUE_NULL, 0, 0, 0};
    return v;
}
static inline evolu_value evolu_value_number(double d) {
    evolu_value v = {EVOLU_VALUE_NUMBER, d, 0, 0};
    return v;
}
static inline evolu_value evolu_value_text(const uint8_t *s, size_t n) {
    evolu_value v = {EVOLU_VALUE_TEXT, 0, s, n};
    return v;
}
static inline evolu_value evolu_value_bytes(const uint8_t *p, size_t n) {
    evolu_value v = {EVOLU_VALUE_BYTES, 0, p, n};
    return v;
}

/* Appends the encoding of v (tag + payload) to w, choosing the tag exactly as
 * encodeSqliteValue of 8.11.0 does (spec 2.7.1). Errors: EVOLU_E_NUMBER for a
 * non-finite number, EVOLU_E_UTF8 for text that is not valid UTF-8 (a JS string
 * always is, and the predicates work on UTF-8), EVOLU_E_ARG for a bad kind or a
 * NULL pointer with a length. Buffer overflow is reported only through w->err,
 * so a cap-0 writer measures the encoding and the call still returns EVOLU_OK. */
evolu_err evolu_value_encode(evolu_writer *w, const evolu_value *v);

/* Decodes one value from r (spec 2.7.3). Text that the decoder must produce
 * (Base64Url, Id, Json, DateIso tags) is appended to `text` and v->data points
 * there; String and Bytes point into r's input; EmptyString points at a static
 * empty string. A `text` writer that is too small (e.g. cap 0) only measures:
 * the decode still validates everything and returns EVOLU_OK with v->len set,
 * v->data == NULL and text->err == EVOLU_E_BUFFER. On error neither r nor text
 * changes. Errors: EVOLU_E_TRUNCATED, EVOLU_E_VARINT, EVOLU_E_VALUE_TYPE (tags
 * 24..29 and >= 37), EVOLU_E_NUMBER (non-finite float, 8.11.0), EVOLU_E_MSGPACK,
 * EVOLU_E_TRAILING (Json payload not consumed exactly), EVOLU_E_DATE (a DateIso
 * tag whose time is outside years 0000..9999), and the JSON decoder's errors.
 * A reduced JSON build (EVOLU_JSON_REDUCED, evolu/json.h) does not refuse a
 * Json value deeper than its EVOLU_JSON_MAX_DEPTH or over its work limits
 * (EVOLU_E_NESTING, EVOLU_E_LIMIT): it returns EVOLU_OK, v->data NULL and
 * v->len the MessagePack length, like text that did not fit. */
evolu_err evolu_value_decode(evolu_reader *r, evolu_writer *text, evolu_value *v);

/* Same value as JS sees it: same kind, numbers bit-identical (so -0 != 0),
 * same bytes for text and bytes. */
bool evolu_value_equal(const evolu_value *a, const evolu_value *b);

/* True iff s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF): what TextEncoder can produce. */
bool evolu_value_text_is_valid(const uint8_t *s, size_t n);

/* --- DateIso (spec 2.7.2) ---------------------------------------------------- */

#define EVOLU_DATE_ISO_CHARS 24

/* True iff s is exactly Date.prototype.toISOString() output of some time
 * ("YYYY-MM-DDTHH:mm:ss.sssZ", years 0000..9999); stores its epoch millis. */
bool evolu_date_iso_parse(const char *s, size_t n, int64_t *millis);

/* Formats millis as toISOString() does; EVOLU_E_DATE if the year falls outside
 * 0000..9999. */
evolu_err evolu_date_iso_format(int64_t millis, char out[EVOLU_DATE_ISO_CHARS]);

#ifdef __cplusplus
}
#endif
#endif
