/*
 * evolu/source.h - byte sources and sinks for bounded-RAM streaming.
 *
 * A protocol message can be 1,000,000 bytes (a relay may allow 100,000,000)
 * and an EncryptedDbChange has no size limit, while a device has kilobytes.
 * These two interfaces let the core read such data piece by piece from where
 * it really lives (the host's memory, a host blob read over the link, flash)
 * and write its output piece by piece to where it goes (the link, a UART):
 *
 *  - evolu_source: random-access reads of exactly n bytes at an offset of a
 *    fixed-length byte string. The parsers read it through evolu_scur cursors,
 *    each a small slice of a caller window: only the cursor's slice is ever in
 *    RAM, and every cursor moves forward, so a source that serves sequential
 *    reads cheaply (a link round trip per slice) is enough.
 *  - evolu_sink: a sequential writer. evolu_swriter puts bytes into a small
 *    caller buffer and hands it to the sink whenever it is full, with the
 *    sticky error of evolu_writer; a swriter without a sink measures.
 *
 * Freestanding: no allocation; the caller owns every buffer.
 */
#ifndef EVOLU_SOURCE_H
#define EVOLU_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/bytes.h"
#include "evolu/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A read-only byte string of `len` bytes. read copies bytes [off, off + n)
 * into buf; the core only asks for ranges inside [0, len). Any non-OK return
 * (e.g. EVOLU_E_STORAGE when the host does not answer) aborts the operation
 * and is passed through. The bytes must not change while a parse that reads
 * them is in progress; authenticated data is re-checked where it matters
 * (see evolu_dbchange_decrypt_stream). */
typedef struct evolu_source {
    void *ctx;
    uint64_t len;
    evolu_err (*read)(void *ctx, uint64_t off, uint8_t *buf, size_t n);
} evolu_source;

/* A sequential byte consumer: write takes the next n bytes (n >= 1). A non-OK
 * return stops the producer and is passed through. */
typedef struct evolu_sink {
    void *ctx;
    evolu_err (*write)(void *ctx, const uint8_t *p, size_t n);
} evolu_sink;

/* A source over bytes in addressable memory (host memory mapped into the
 * device's address space, flash, or a test buffer). */
void evolu_source_memory(evolu_source *s, const uint8_t *p, size_t len);

/* A sink appending to an evolu_writer (EVOLU_E_BUFFER when it is full). */
void evolu_sink_writer(evolu_sink *s, evolu_writer *w);

/* --- cursors -------------------------------------------------------------- */

/* A forward cursor over [pos, end) of a source, cached in buf[0..cap). Two
 * live cursors must never share a buffer. Reads past `end` give
 * EVOLU_E_TRUNCATED; source errors are passed through. */
typedef struct evolu_scur {
    const evolu_source *src;
    uint64_t pos;     /* next byte to read */
    uint64_t end;     /* exclusive limit */
    uint8_t *buf;
    size_t cap;
    uint64_t boff;    /* source offset of buf[0] */
    size_t blen;      /* valid bytes in buf */
} evolu_scur;

/* Smallest slice a cursor accepts (any size >= 1 works; smaller slices only
 * mean more source reads). */
#define EVOLU_SCUR_MIN 1u

/* EVOLU_E_ARG if end > src->len, pos > end or buf/cap is empty. */
evolu_err evolu_scur_init(evolu_scur *c, const evolu_source *src, uint64_t pos, uint64_t end,
                          uint8_t *buf, size_t cap);
/* Moves to pos (<= end; EVOLU_E_ARG otherwise); keeps the cached bytes. */
evolu_err evolu_scur_seek(evolu_scur *c, uint64_t pos);
static inline uint64_t evolu_scur_left(const evolu_scur *c) { return c->end - c->pos; }

evolu_err evolu_scur_u8(evolu_scur *c, uint8_t *out);
evolu_err evolu_scur_bytes(evolu_scur *c, uint8_t *out, size_t n);
evolu_err evolu_scur_skip(evolu_scur *c, uint64_t n);
/* The varint of evolu_get_varint (same rules, same errors). */
evolu_err evolu_scur_varint(evolu_scur *c, uint64_t *out);

/* --- sink writer ------------------------------------------------------------ */

typedef struct evolu_swriter {
    const evolu_sink *sink;   /* NULL: measure only */
    uint8_t *buf;
    size_t cap;
    size_t used;              /* bytes in buf not yet given to the sink */
    uint64_t total;           /* bytes put so far (written or counted) */
    evolu_err err;            /* first error (sticky); later puts only count */
} evolu_swriter;

/* buf/cap may be NULL/0 only when sink is NULL. */
void evolu_swriter_init(evolu_swriter *w, const evolu_sink *sink, uint8_t *buf, size_t cap);
void evolu_swriter_u8(evolu_swriter *w, uint8_t v);
void evolu_swriter_bytes(evolu_swriter *w, const uint8_t *p, size_t n);
void evolu_swriter_varint(evolu_swriter *w, uint64_t v);
/* Records e as the sticky error unless one is already recorded. */
void evolu_swriter_fail(evolu_swriter *w, evolu_err e);
/* Hands the buffered bytes to the sink; returns w->err. */
evolu_err evolu_swriter_flush(evolu_swriter *w);

#ifdef __cplusplus
}
#endif
#endif
