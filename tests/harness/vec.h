/*
 * vec.h - a small harness for tests driven by the JSON vectors in tests/vectors.
 *
 * A test program covers one vector file. It calls vec_open("file.json"), walks
 * the JSON with cJSON, and reports each vector with vec_check() or vec_skip()
 * (a skip always names its reason). vec_finish() prints the counts, writes them
 * for the per-file summary, and returns the exit code (non-zero if any check
 * failed or if nothing was checked).
 */
#ifndef EVOLU_TEST_VEC_H
#define EVOLU_TEST_VEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/port.h"

/* Loads tests/vectors/<file>; exits the program if it cannot. */
cJSON *vec_open(const char *file);

/* Starts a named section (for messages only). */
void vec_section(const char *name);

/* Records one vector: ok or a failure with a printf-style explanation. */
bool vec_check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records one vector as skipped, with the reason. */
void vec_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the counts and returns the process exit code. */
int vec_finish(void);

/* Plain assertion for unit tests. In a program that opened a vector file it
 * counts toward that file's vectors, so vector programs should use vec_check
 * for vectors and keep other assertions in separate unit-test programs. A
 * program that opens no vector file reports "CHECKS prog: N checked". */
#define CHECK(cond) vec_check((cond), "%s:%d: %s", __FILE__, __LINE__, #cond)

/* --- helpers ---------------------------------------------------------------- */

/* Member lookup that exits with a message when the member is missing. */
cJSON *vec_get(const cJSON *obj, const char *key);
const char *vec_str(const cJSON *obj, const char *key);
double vec_num(const cJSON *obj, const char *key);

/* The member `key` as @evolu/common 8.11.0 produced it: where the vectors hold
 * {"8.0.0-next.5": a, "8.11.0": b} this returns b; a plain member is returned as
 * is. NULL when the member is missing or the 8.11.0 value is "(absent)". */
const cJSON *vec_v11(const cJSON *obj, const char *key);
/* Same for the 8.0.0-next.5 value. */
const cJSON *vec_next5(const cJSON *obj, const char *key);
/* True when a member differs between the two published versions. */
bool vec_versioned(const cJSON *obj, const char *key);

/* Lowercase/uppercase hex -> bytes. Returns the byte count, or (size_t)-1 on bad
 * hex or if cap is too small. */
size_t vec_unhex(const char *hex, uint8_t *out, size_t cap);
/* Decodes hex into a fresh malloc'd buffer (caller frees); *n gets the length. */
uint8_t *vec_unhex_alloc(const char *hex, size_t *n);
/* bytes -> lowercase hex in a static buffer cycling among 4 (for messages). */
const char *vec_hex(const uint8_t *p, size_t n);

/* The host port (libsodium). */
const evolu_port *vec_port(void);

/* A port whose random() replays a fixed byte sequence and whose clock is fixed;
 * used to reproduce vectors generated with injected randomness. */
typedef struct vec_fixed_port {
    evolu_port port;
    const uint8_t *random;
    size_t random_len, random_pos;
    int64_t now;
} vec_fixed_port;
void vec_fixed_port_init(vec_fixed_port *fp, const uint8_t *random, size_t n, int64_t now);

#endif
