/*
 * evolu/bytes.h - bounded readers and writers, and the protocol's smallest codecs:
 * the NonNegativeInt varint, length-prefixed strings and the flags byte (spec 2.1-2.3).
 *
 * A reader never reads past `len`; every get returns a typed error instead. A
 * writer never writes past `cap`: on overflow it records EVOLU_E_BUFFER once
 * ("sticky", like a stream's error flag), stops writing, and keeps counting `len`
 * so the caller learns how much room was needed. A writer with cap 0 is therefore
 * a pure size calculator - the same code path computes sizes and writes bytes.
 */
#ifndef EVOLU_BYTES_H
#define EVOLU_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2^53 - 1: the largest integer a JS number holds exactly. */
#define EVOLU_MAX_SAFE_INTEGER 9007199254740991ULL
/* A varint is at most 8 bytes (8 * 7 = 56 bits >= 53). */
#define EVOLU_VARINT_MAX_BYTES 8

typedef struct evolu_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
} evolu_reader;

typedef struct evolu_writer {
    uint8_t *p;      /* may be NULL when cap == 0 */
    size_t cap;
    size_t len;      /* bytes written, or that would have been written */
    evolu_err err;   /* EVOLU_OK or the first error (EVOLU_E_BUFFER) */
} evolu_writer;

static inline evolu_reader evolu_reader_make(const uint8_t *p, size_t len) {
    evolu_reader r;
    r.p = p;
    r.len = len;
    r.pos = 0;
    return r;
}

static inline size_t evolu_reader_left(const evolu_reader *r) { return r->len - r->pos; }

static inline evolu_writer evolu_writer_make(uint8_t *p, size_t cap) {
    evolu_writer w;
    w.p = p;
    w.cap = cap;
    w.len = 0;
    w.err = EVOLU_OK;
    return w;
}

/* --- reading ---------------------------------------------------------------- */

evolu_err evolu_get_u8(evolu_reader *r, uint8_t *out);
/* Copies n bytes into out. */
evolu_err evolu_get_bytes(evolu_reader *r, uint8_t *out, size_t n);
/* Points *out at the next n bytes of the input (no copy) and advances. */
evolu_err evolu_get_span(evolu_reader *r, const uint8_t **out, size_t n);
evolu_err evolu_skip(evolu_reader *r, size_t n);

/* Spec 2.1, decoded as @evolu/common 8.11.0 does: at most 8 bytes, the 8th must
 * terminate (EVOLU_E_VARINT otherwise), the value must be <= 2^53-1
 * (EVOLU_E_VARINT), running out of input is EVOLU_E_TRUNCATED. Non-minimal
 * encodings such as 80 00 are accepted, as both published versions do. */
evolu_err evolu_get_varint(evolu_reader *r, uint64_t *out);

/* A varint length followed by that many bytes; the bytes are not copied. Fails
 * with EVOLU_E_TRUNCATED if fewer bytes remain than the length claims. */
evolu_err evolu_get_lenbytes(evolu_reader *r, const uint8_t **out, size_t *n);

/* String(s) (spec 2.2): same layout as evolu_get_lenbytes. The bytes are returned
 * as they are; the TypeScript decoder would turn invalid UTF-8 into U+FFFD. */
#define evolu_get_string evolu_get_lenbytes

/* One flags byte; bit i is flag i (spec 2.3). */
evolu_err evolu_get_flags(evolu_reader *r, uint8_t *out);

/* --- writing ---------------------------------------------------------------- */

void evolu_put_u8(evolu_writer *w, uint8_t v);
void evolu_put_bytes(evolu_writer *w, const uint8_t *p, size_t n);
/* Minimal encoding. v must be <= 2^53-1; a larger v sets EVOLU_E_ARG on w. */
void evolu_put_varint(evolu_writer *w, uint64_t v);
/* varint(n) || p[0..n) */
void evolu_put_lenbytes(evolu_writer *w, const uint8_t *p, size_t n);
#define evolu_put_string evolu_put_lenbytes

/* Number of bytes evolu_put_varint writes for v (1..8; values above 2^56-1 give 9). */
size_t evolu_varint_len(uint64_t v);

/* Big-endian fixed-width helpers used by TimestampBytes and MessagePack. */
static inline uint64_t evolu_load_be(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}
static inline void evolu_store_be(uint8_t *p, uint64_t v, unsigned n) {
    for (unsigned i = n; i-- > 0;) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

#ifdef __cplusplus
}
#endif
#endif
