/*
 * evolu/json.h - JSON text as JavaScript sees it, and the MessagePack subset Evolu
 * uses for numbers and JSON values (spec 2.6, 2.7.2).
 *
 * Without a JS engine, "is this string canonical JSON" means reproducing
 * JSON.stringify(JSON.parse(s)) === s exactly: JS number formatting
 * (Number::toString, shortest round trip), JS property order (array-index keys
 * ascending first, then insertion order), duplicate keys, escapes.
 *
 * Nothing here allocates. Nesting is limited to EVOLU_JSON_MAX_DEPTH levels
 * (EVOLU_E_NESTING beyond), the limit of @evolu/common 8.11.0.
 */
#ifndef EVOLU_JSON_H
#define EVOLU_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/bytes.h"
#include "evolu/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVOLU_JSON_MAX_DEPTH 1000

/* --- JavaScript numbers ------------------------------------------------------ */

/* Longest output of evolu_js_number_format: "-1.2345678901234567e-308" is 24. */
#define EVOLU_JS_NUMBER_MAX_CHARS 25

/* ECMAScript Number::toString(10) of a finite double (shortest round trip):
 * 0.1 -> "0.1", 1e21 -> "1e+21", -0 -> "0". Writes no NUL, returns the length.
 * Non-finite values give "NaN", "Infinity", "-Infinity". */
size_t evolu_js_number_format(double v, char out[EVOLU_JS_NUMBER_MAX_CHARS]);

/* Correctly rounded decimal -> double for the JSON number grammar (RFC 8259 6).
 * Overflow gives +-Infinity, as JSON.parse does. EVOLU_E_JSON if s[0..n) is not
 * exactly one JSON number. */
evolu_err evolu_js_number_parse(const char *s, size_t n, double *out);

/* --- MessagePack numbers (spec 2.6) ------------------------------------------ */

/* Writes the MessagePack encoding of v as both published encoders do for finite
 * values; -0 is written as cb 8000000000000000 (8.11.0). Non-finite values are
 * written as cb + IEEE-754 (8.0.0-next.5 behaviour); callers that follow 8.11.0
 * reject them before calling. */
void evolu_msgpack_put_number(evolu_writer *w, double v);

/* Reads one MessagePack number of the 8.11.0 subset (fixints, cc cd ce d0 d1 d2,
 * ca cb). Non-finite floats give EVOLU_E_NUMBER, other markers EVOLU_E_MSGPACK. */
evolu_err evolu_msgpack_get_number(evolu_reader *r, double *out);

/* --- JSON values ------------------------------------------------------------- */

/* True iff JSON.stringify(JSON.parse(s)) === s for the UTF-8 text s[0..n). */
bool evolu_json_is_canonical(const uint8_t *s, size_t n);

/* MessagePack encoding of JSON.parse(s) for canonical JSON text s (the text's
 * order is already JS property order). EVOLU_E_JSON if s is not canonical. */
evolu_err evolu_json_to_msgpack(const uint8_t *s, size_t n, evolu_writer *w);

/* Decodes exactly one MessagePack value of the 8.11.0 JSON subset from r and
 * writes JSON.stringify of it to w. Errors: EVOLU_E_MSGPACK (marker outside the
 * subset, non-string map key), EVOLU_E_NUMBER (non-finite float),
 * EVOLU_E_NESTING, EVOLU_E_TRUNCATED; w's sticky error reports a full buffer. */
evolu_err evolu_msgpack_to_json(evolu_reader *r, evolu_writer *w);

#ifdef __cplusplus
}
#endif
#endif
