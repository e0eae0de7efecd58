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

/* Appends the encoding of v (tag + payload) to w. EVOLU_E_NUMBER for a
 * non-finite number. Buffer overflow is reported through w->err. */
evolu_err evolu_value_encode(evolu_writer *w, const evolu_value *v);

/* Decodes one value from r. Text that the decoder must produce (Base64Url, Id,
 * Json, DateIso tags) is written to `text` and v->data points there; String
 * and Bytes point into r's input. A `text` writer with cap 0 only measures:
 * the decode then still validates everything and returns EVOLU_OK, with
 * text->err == EVOLU_E_BUFFER telling that the text did not fit. */
evolu_err evolu_value_decode(evolu_reader *r, evolu_writer *text, evolu_value *v);

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
