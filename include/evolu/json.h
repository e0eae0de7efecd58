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

/* The protocol's nesting limit: 8.11.0's encoder throws beyond it. */
#define EVOLU_JSON_PROTOCOL_DEPTH 1000
/* This build's limit. The decoder keeps a 5-byte record per level on the stack
 * (~5 KB at 1000), so a device build may set a smaller one (-D, e.g. 16, for
 * the firmware: device/CMakeLists.txt). Such a build cannot judge deeper
 * values, so it marks them instead of refusing them (evolu_value_decode) and
 * refuses to encode text it cannot tell is not JSON (evolu_value_encode):
 * what it does write is what TypeScript writes. The host keeps 1000. */
#ifndef EVOLU_JSON_MAX_DEPTH
#define EVOLU_JSON_MAX_DEPTH EVOLU_JSON_PROTOCOL_DEPTH
#endif
#if EVOLU_JSON_MAX_DEPTH < 1 || EVOLU_JSON_MAX_DEPTH > EVOLU_JSON_PROTOCOL_DEPTH
#error "EVOLU_JSON_MAX_DEPTH: 1..EVOLU_JSON_PROTOCOL_DEPTH"
#endif
/* A build whose limits are below the protocol's (see above). */
#define EVOLU_JSON_REDUCED (EVOLU_JSON_MAX_DEPTH < EVOLU_JSON_PROTOCOL_DEPTH)

/* evolu_msgpack_to_json reads peer input, and putting map keys into JS order
 * without allocating means re-scanning. Every scan step (a MessagePack marker,
 * 8 bytes of a key hashed or compared) is charged to a budget of
 *     EVOLU_JSON_WORK_BASE + EVOLU_JSON_WORK_FACTOR * (bytes of input)
 * steps, so a hostile 1 MB payload costs at most ~40 M cheap steps; input that
 * needs more is rejected with EVOLU_E_LIMIT. What TypeScript peers send (keys
 * in JS order, unique) costs one walk over each map of two or more entries
 * per 64 of its named keys (see json_keys.c). Inputs that 8.11.0 accepts but
 * that hit the budget: a map with more than about 14,000 keys (fewer if the
 * keys are long), data nested in maps more than ~32 deep around most of its
 * items, and maps with out-of-order or duplicate keys (never sent by TS
 * encoders) with more than a few hundred entries. */
#define EVOLU_JSON_WORK_BASE (8u * 1024u * 1024u)
#define EVOLU_JSON_WORK_FACTOR 32u
/* Maps with out-of-order or duplicate keys nested inside one another deeper
 * than this are rejected with EVOLU_E_LIMIT (never produced by TS encoders). */
#ifndef EVOLU_JSON_MAX_SLOW_MAPS
#define EVOLU_JSON_MAX_SLOW_MAPS 8 /* 28 B of stack each; a reduced build may lower it */
#endif

/* --- JavaScript numbers ------------------------------------------------------ */

/* Longest output of evolu_js_number_format: "-0.0000012345678901234567" is 25. */
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

/* True iff JSON.stringify(JSON.parse(s)) === s for the UTF-8 text s[0..n)
 * and 8.11.0 can encode the value: false for nesting deeper than
 * EVOLU_JSON_MAX_DEPTH (where 8.11.0's encoder throws), for text that is not
 * valid UTF-8 (a C string of invalid UTF-8 is no JS string), and for n >
 * UINT32_MAX. Iterative, ~3 KB of stack; time is linear for ordinary data,
 * O(n * (nesting depth + keys per object / 64)) at worst. */
bool evolu_json_is_canonical(const uint8_t *s, size_t n);

/* MessagePack encoding of JSON.parse(s) for canonical JSON text s (the text's
 * order is already JS property order); lone surrogates (\udxxx) become the
 * 3-byte form ed xx xx as in 8.11.0. EVOLU_E_JSON if s is not canonical,
 * EVOLU_E_NESTING if it is but nests deeper than EVOLU_JSON_MAX_DEPTH. Nothing
 * is written on error; w's sticky error reports a full buffer. */
evolu_err evolu_json_to_msgpack(const uint8_t *s, size_t n, evolu_writer *w);

/* Decodes exactly one MessagePack value of the 8.11.0 JSON subset from r and
 * writes JSON.stringify of it to w (canonical JSON text); bytes after the value
 * are left for the caller. Like 8.11.0: strings must be UTF-8 without overlongs
 * but may hold encoded surrogates (ed a0..bf xx), which JSON.stringify writes
 * as \udxxx unless two of them form a pair; "__proto__" is an ordinary key;
 * map keys are put into JS property order (array indices first, ascending)
 * and a duplicate key keeps its first position and its last value. Errors:
 * EVOLU_E_MSGPACK (marker outside the subset, non-string map key),
 * EVOLU_E_NUMBER (non-finite float), EVOLU_E_UTF8, EVOLU_E_NESTING,
 * EVOLU_E_TRUNCATED, EVOLU_E_LIMIT (work budget or EVOLU_JSON_MAX_SLOW_MAPS
 * exceeded, see above; input over UINT32_MAX bytes), EVOLU_E_ARG (w NULL). On
 * error r is unchanged and w may hold partial output. A full buffer is not an
 * error of this function: w's sticky error reports it, and w->len is the
 * length the text needs (a cap-0 writer measures). Iterative, ~7 KB of stack
 * (a 5-byte record per nesting level plus number formatting). */
evolu_err evolu_msgpack_to_json(evolu_reader *r, evolu_writer *w);

#ifdef __cplusplus
}
#endif
#endif
