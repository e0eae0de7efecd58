/* bytes.c - bounded reader/writer, varint, strings, flags (spec 2.1-2.3). */
#include "evolu/bytes.h"

#include <string.h>

evolu_err evolu_get_u8(evolu_reader *r, uint8_t *out) {
    if (r->pos >= r->len) return EVOLU_E_TRUNCATED;
    *out = r->p[r->pos++];
    return EVOLU_OK;
}

evolu_err evolu_get_bytes(evolu_reader *r, uint8_t *out, size_t n) {
    if (n > r->len - r->pos) return EVOLU_E_TRUNCATED;
    if (n) memcpy(out, r->p + r->pos, n);
    r->pos += n;
    return EVOLU_OK;
}

evolu_err evolu_get_span(evolu_reader *r, const uint8_t **out, size_t n) {
    if (n > r->len - r->pos) return EVOLU_E_TRUNCATED;
    *out = r->p + r->pos;
    r->pos += n;
    return EVOLU_OK;
}

evolu_err evolu_skip(evolu_reader *r, size_t n) {
    if (n > r->len - r->pos) return EVOLU_E_TRUNCATED;
    r->pos += n;
    return EVOLU_OK;
}

evolu_err evolu_get_varint(evolu_reader *r, uint64_t *out) {
    uint64_t v = 0;
    size_t pos = r->pos;
    for (unsigned i = 0; i < EVOLU_VARINT_MAX_BYTES; i++) {
        if (pos >= r->len) return EVOLU_E_TRUNCATED;
        uint8_t b = r->p[pos++];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (v > EVOLU_MAX_SAFE_INTEGER) return EVOLU_E_VARINT;
            r->pos = pos;
            *out = v;
            return EVOLU_OK;
        }
    }
    /* Eight continuation bytes: 8.11.0 rejects, so do we. */
    return EVOLU_E_VARINT;
}

evolu_err evolu_get_lenbytes(evolu_reader *r, const uint8_t **out, size_t *n) {
    uint64_t len;
    size_t start = r->pos;
    evolu_err e = evolu_get_varint(r, &len);
    if (e) return e;
    if (len > r->len - r->pos) {
        r->pos = start;
        return EVOLU_E_TRUNCATED;
    }
    *out = r->p + r->pos;
    *n = (size_t)len;
    r->pos += (size_t)len;
    return EVOLU_OK;
}

evolu_err evolu_get_flags(evolu_reader *r, uint8_t *out) { return evolu_get_u8(r, out); }

void evolu_put_bytes(evolu_writer *w, const uint8_t *p, size_t n) {
    if (w->err == EVOLU_OK) {
        if (w->len <= w->cap && n <= w->cap - w->len) {
            if (n) memcpy(w->p + w->len, p, n);
        } else {
            w->err = EVOLU_E_BUFFER; /* stop writing, keep counting */
        }
    }
    w->len += n;
}

void evolu_put_u8(evolu_writer *w, uint8_t v) { evolu_put_bytes(w, &v, 1); }

size_t evolu_varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void evolu_put_varint(evolu_writer *w, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    if (v > EVOLU_MAX_SAFE_INTEGER && w->err == EVOLU_OK) w->err = EVOLU_E_ARG;
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        tmp[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    evolu_put_bytes(w, tmp, n);
}

void evolu_put_lenbytes(evolu_writer *w, const uint8_t *p, size_t n) {
    evolu_put_varint(w, (uint64_t)n);
    evolu_put_bytes(w, p, n);
}
