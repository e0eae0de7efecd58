/*
 * proxy_store.c - the device's host store on link channel 1: each request
 * (docs/link.md section 5) is answered from an evolu_stream_file_host
 * directory. The host never sees plaintext: index chunks are encrypted by the
 * device, blobs are EncryptedDbChanges.
 *
 * BLOB_PUT arrives in pieces; the pieces of one blob are collected in memory
 * (at most PROXY_BLOB_MAX bytes) and the blob is written in one atomic put
 * when the last piece is in, so a half-sent blob never exists on disk.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "evolu/link.h"
#include "evolu/stream_file_host.h"
#include "evolu/timestamp.h"
#include "proxy_internal.h"

/* The largest blob: an EncryptedDbChange inside a 1,000,000-byte message. */
#define PROXY_BLOB_MAX 1000000u

struct proxy_store {
    evolu_stream_file_host *fh;
    evolu_stream_host h;
    bool writing; /* an index generation is open */
    /* the blob being put */
    uint8_t key[EVOLU_TIMESTAMP_BYTES];
    bool blob_open;
    uint32_t blob_total, blob_got;
    uint8_t *blob;
};

evolu_err proxy_store_open(const char *dir, proxy_store **out) {
    *out = NULL;
    proxy_store *s = calloc(1, sizeof *s);
    if (!s) return EVOLU_E_NOMEM;
    evolu_err e = evolu_stream_file_host_open(dir, &s->fh);
    if (e) {
        free(s);
        return e;
    }
    evolu_stream_file_host_table(s->fh, &s->h);
    *out = s;
    return EVOLU_OK;
}

void proxy_store_reset(proxy_store *s) {
    if (!s) return;
    if (s->writing) s->h.write_abort(s->h.ctx);
    s->writing = false;
    s->blob_open = false;
    free(s->blob);
    s->blob = NULL;
}

void proxy_store_close(proxy_store *s) {
    if (!s) return;
    proxy_store_reset(s);
    evolu_stream_file_host_close(s->fh);
    free(s);
}

static uint8_t status_of(evolu_err e) {
    switch (e) {
    case EVOLU_OK: return EVOLU_LINK_ST_OK;
    case EVOLU_E_ARG: return EVOLU_LINK_ST_NOT_FOUND;
    case EVOLU_E_STATE: return EVOLU_LINK_ST_SEQUENCE;
    default: return EVOLU_LINK_ST_IO;
    }
}

/* Up to max bytes of an object of `size` bytes at off, limited to what fits
 * one reply (mtu - 8: op, id, status, size). */
static size_t read_len(uint32_t off, uint32_t size, uint32_t max, size_t mtu) {
    size_t room = mtu > 8 ? mtu - 8 : 0;
    size_t n = size - off;
    if (n > max) n = max;
    if (n > room) n = room;
    return n;
}

static uint8_t blob_put(proxy_store *s, const evolu_link_store_msg *m) {
    if (m->key_len != EVOLU_TIMESTAMP_BYTES) return EVOLU_LINK_ST_BAD_REQUEST;
    if (m->size > PROXY_BLOB_MAX) return EVOLU_LINK_ST_NO_SPACE;
    if (m->offset == 0) { /* a new blob (or a replacement) */
        free(s->blob);
        s->blob = malloc(m->size ? m->size : 1);
        if (!s->blob) {
            s->blob_open = false;
            return EVOLU_LINK_ST_IO;
        }
        memcpy(s->key, m->key, EVOLU_TIMESTAMP_BYTES);
        s->blob_total = m->size;
        s->blob_got = 0;
        s->blob_open = true;
    } else if (!s->blob_open || memcmp(s->key, m->key, EVOLU_TIMESTAMP_BYTES) ||
               m->offset != s->blob_got || m->size != s->blob_total) {
        return EVOLU_LINK_ST_RANGE;
    }
    if (m->data_len > s->blob_total - s->blob_got) {
        s->blob_open = false;
        return EVOLU_LINK_ST_RANGE;
    }
    if (m->data_len) memcpy(s->blob + s->blob_got, m->data, m->data_len);
    s->blob_got += (uint32_t)m->data_len;
    if (s->blob_got < s->blob_total) return EVOLU_LINK_ST_OK;
    s->blob_open = false;
    evolu_err e = s->h.blob_put(s->h.ctx, s->key, s->blob, s->blob_total);
    free(s->blob);
    s->blob = NULL;
    return e ? EVOLU_LINK_ST_IO : EVOLU_LINK_ST_OK;
}

size_t proxy_store_handle(proxy_store *s, const uint8_t *req, size_t n, size_t mtu,
                          uint8_t *out, size_t cap) {
    evolu_link_store_msg m, r;
    memset(&r, 0, sizeof r);
    evolu_err de = evolu_link_store_decode(req, n, &m);
    if (de || (m.op & EVOLU_LINK_ST_REPLY)) {
        /* answer what can be read: the op if known (else 0x82), the id if any */
        r.op = EVOLU_LINK_ST_REPLY | EVOLU_LINK_ST_INDEX_BEGIN;
        if (n >= 1 && req[0] >= EVOLU_LINK_ST_INDEX_READ && req[0] <= EVOLU_LINK_ST_INDEX_ABORT)
            r.op = (uint8_t)(EVOLU_LINK_ST_REPLY | req[0]);
        r.id = n >= 3 ? (uint16_t)(req[1] | req[2] << 8) : 0;
        r.status = EVOLU_LINK_ST_BAD_REQUEST;
        size_t len = 0;
        return evolu_link_store_encode(&r, out, cap < mtu ? cap : mtu, &len) ? 0 : len;
    }
    r.op = (uint8_t)(m.op | EVOLU_LINK_ST_REPLY);
    r.id = m.id;
    r.status = EVOLU_LINK_ST_OK;
    uint8_t *data = NULL;
    switch (m.op) {
    case EVOLU_LINK_ST_INDEX_READ: {
        uint64_t size = 0;
        evolu_err e = s->h.index_size(s->h.ctx, &size);
        if (e || size > UINT32_MAX) {
            r.status = EVOLU_LINK_ST_IO;
        } else if (m.offset > size) {
            r.status = EVOLU_LINK_ST_RANGE;
        } else {
            size_t k = read_len(m.offset, (uint32_t)size, m.size, mtu);
            data = k ? malloc(k) : NULL;
            if (k && !data) r.status = EVOLU_LINK_ST_IO;
            else if (k && s->h.index_read(s->h.ctx, m.offset, data, k)) r.status = EVOLU_LINK_ST_IO;
            else {
                r.size = (uint32_t)size;
                r.data = data;
                r.data_len = k;
            }
        }
        break;
    }
    case EVOLU_LINK_ST_INDEX_BEGIN:
        r.status = status_of(s->h.write_begin(s->h.ctx));
        s->writing = r.status == EVOLU_LINK_ST_OK;
        break;
    case EVOLU_LINK_ST_INDEX_APPEND:
        if (!s->writing) r.status = EVOLU_LINK_ST_SEQUENCE;
        else if (s->h.write_append(s->h.ctx, m.data, m.data_len)) r.status = EVOLU_LINK_ST_IO;
        break;
    case EVOLU_LINK_ST_INDEX_COMMIT:
        if (!s->writing) {
            r.status = EVOLU_LINK_ST_SEQUENCE;
        } else {
            s->writing = false;
            r.status = s->h.write_commit(s->h.ctx) ? EVOLU_LINK_ST_IO : EVOLU_LINK_ST_OK;
        }
        break;
    case EVOLU_LINK_ST_INDEX_ABORT:
        if (!s->writing) {
            r.status = EVOLU_LINK_ST_SEQUENCE;
        } else {
            s->writing = false;
            s->h.write_abort(s->h.ctx);
        }
        break;
    case EVOLU_LINK_ST_BLOB_PUT:
        r.status = blob_put(s, &m);
        break;
    case EVOLU_LINK_ST_BLOB_GET: {
        if (m.key_len != EVOLU_TIMESTAMP_BYTES) {
            r.status = EVOLU_LINK_ST_NOT_FOUND; /* only timestamp keys are ever stored */
            break;
        }
        size_t size = 0;
        evolu_err e = s->h.blob_size(s->h.ctx, m.key, &size);
        if (e) {
            r.status = status_of(e);
        } else if (size > UINT32_MAX) {
            r.status = EVOLU_LINK_ST_IO;
        } else if (m.offset > size) {
            r.status = EVOLU_LINK_ST_RANGE;
        } else {
            size_t k = read_len(m.offset, (uint32_t)size, m.size, mtu);
            data = k ? malloc(k) : NULL;
            if (k && !data) r.status = EVOLU_LINK_ST_IO;
            else if (k && s->h.blob_read(s->h.ctx, m.key, m.offset, data, k))
                r.status = EVOLU_LINK_ST_IO;
            else {
                r.size = (uint32_t)size;
                r.data = data;
                r.data_len = k;
            }
        }
        break;
    }
    default: r.status = EVOLU_LINK_ST_BAD_REQUEST; break;
    }
    if (r.status != EVOLU_LINK_ST_OK) {
        r.size = 0;
        r.data = NULL;
        r.data_len = 0;
    }
    size_t len = 0;
    evolu_err e = evolu_link_store_encode(&r, out, cap < mtu ? cap : mtu, &len);
    free(data);
    return e ? 0 : len;
}
