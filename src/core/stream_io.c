/* stream_io.c - sources, sinks, forward cursors and the sink writer (see
 * evolu/source.h). */
#include <string.h>

#include "evolu/source.h"

/* --- memory source and writer sink ----------------------------------------- */

static evolu_err memory_read(void *ctx, uint64_t off, uint8_t *buf, size_t n) {
    if (n) memcpy(buf, (const uint8_t *)ctx + off, n);
    return EVOLU_OK;
}

void evolu_source_memory(evolu_source *s, const uint8_t *p, size_t len) {
    /* The context is only read; a union drops const without a cast. */
    union {
        const uint8_t *c;
        void *v;
    } u;
    u.c = p;
    s->ctx = u.v;
    s->len = p ? len : 0;
    s->read = memory_read;
}

static evolu_err writer_write(void *ctx, const uint8_t *p, size_t n) {
    evolu_writer *w = ctx;
    evolu_put_bytes(w, p, n);
    return w->err;
}

void evolu_sink_writer(evolu_sink *s, evolu_writer *w) {
    s->ctx = w;
    s->write = writer_write;
}

/* --- cursors ---------------------------------------------------------------- */

evolu_err evolu_scur_init(evolu_scur *c, const evolu_source *src, uint64_t pos, uint64_t end,
                          uint8_t *buf, size_t cap) {
    memset(c, 0, sizeof *c);
    if (!src || !src->read || !buf || cap < EVOLU_SCUR_MIN || end > src->len || pos > end)
        return EVOLU_E_ARG;
    c->src = src;
    c->pos = pos;
    c->end = end;
    c->buf = buf;
    c->cap = cap;
    return EVOLU_OK;
}

evolu_err evolu_scur_seek(evolu_scur *c, uint64_t pos) {
    if (pos > c->end) return EVOLU_E_ARG;
    c->pos = pos;
    return EVOLU_OK;
}

/* Makes c->pos cached; the caller has checked pos < end. Reads a whole slice
 * (or up to end) at once, so a forward walk costs one source read per slice. */
static evolu_err fill(evolu_scur *c) {
    if (c->pos >= c->boff && c->pos - c->boff < c->blen) return EVOLU_OK;
    uint64_t left = c->end - c->pos;
    size_t n = left < c->cap ? (size_t)left : c->cap;
    c->blen = 0;
    evolu_err e = c->src->read(c->src->ctx, c->pos, c->buf, n);
    if (e) return e;
    c->boff = c->pos;
    c->blen = n;
    return EVOLU_OK;
}

evolu_err evolu_scur_u8(evolu_scur *c, uint8_t *out) {
    if (c->pos >= c->end) return EVOLU_E_TRUNCATED;
    evolu_err e = fill(c);
    if (e) return e;
    *out = c->buf[c->pos - c->boff];
    c->pos++;
    return EVOLU_OK;
}

evolu_err evolu_scur_bytes(evolu_scur *c, uint8_t *out, size_t n) {
    if (n > c->end - c->pos) return EVOLU_E_TRUNCATED;
    while (n) {
        evolu_err e = fill(c);
        if (e) return e;
        size_t at = (size_t)(c->pos - c->boff), k = c->blen - at;
        if (k > n) k = n;
        memcpy(out, c->buf + at, k);
        out += k;
        n -= k;
        c->pos += k;
    }
    return EVOLU_OK;
}

evolu_err evolu_scur_skip(evolu_scur *c, uint64_t n) {
    if (n > c->end - c->pos) return EVOLU_E_TRUNCATED;
    c->pos += n;
    return EVOLU_OK;
}

evolu_err evolu_scur_varint(evolu_scur *c, uint64_t *out) {
    uint64_t v = 0, start = c->pos;
    for (unsigned i = 0; i < EVOLU_VARINT_MAX_BYTES; i++) {
        uint8_t b;
        evolu_err e = evolu_scur_u8(c, &b);
        if (e) {
            c->pos = start;
            return e;
        }
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (v > EVOLU_MAX_SAFE_INTEGER) break;
            *out = v;
            return EVOLU_OK;
        }
    }
    /* Eight continuation bytes or above 2^53-1: 8.11.0 rejects, so do we. */
    c->pos = start;
    return EVOLU_E_VARINT;
}

/* --- sink writer -------------------------------------------------------------- */

void evolu_swriter_init(evolu_swriter *w, const evolu_sink *sink, uint8_t *buf, size_t cap) {
    memset(w, 0, sizeof *w);
    w->sink = sink;
    w->buf = buf;
    w->cap = buf ? cap : 0;
    if (sink && (!sink->write || w->cap == 0)) w->err = EVOLU_E_ARG;
}

void evolu_swriter_fail(evolu_swriter *w, evolu_err e) {
    if (w->err == EVOLU_OK) w->err = e;
}

evolu_err evolu_swriter_flush(evolu_swriter *w) {
    if (w->err == EVOLU_OK && w->sink && w->used) {
        evolu_err e = w->sink->write(w->sink->ctx, w->buf, w->used);
        if (e) w->err = e;
    }
    w->used = 0;
    return w->err;
}

void evolu_swriter_bytes(evolu_swriter *w, const uint8_t *p, size_t n) {
    w->total += n;
    if (w->err != EVOLU_OK || !w->sink) return;
    while (n) {
        if (w->used == w->cap && evolu_swriter_flush(w) != EVOLU_OK) return;
        size_t k = w->cap - w->used;
        if (k > n) k = n;
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        p += k;
        n -= k;
    }
}

void evolu_swriter_u8(evolu_swriter *w, uint8_t v) { evolu_swriter_bytes(w, &v, 1); }

void evolu_swriter_varint(evolu_swriter *w, uint64_t v) {
    uint8_t tmp[EVOLU_VARINT_MAX_BYTES + 2];
    evolu_writer t = evolu_writer_make(tmp, sizeof tmp);
    evolu_put_varint(&t, v);
    if (t.err) {
        evolu_swriter_fail(w, t.err);
        w->total += t.len;
        return;
    }
    evolu_swriter_bytes(w, tmp, t.len);
}
