/* test_stream_host.h - an in-memory untrusted host for the stream store tests
 * (test-only, static functions), with power cuts: every write point (blob put,
 * index append, index commit, trusted-state save) is numbered; at the chosen
 * one the power goes off - the write does not happen, or happens torn (a
 * prefix of an append or a blob is kept) - and every later call fails until
 * the test "reboots" the host, which then shows only what was persisted. */
#ifndef TEST_STREAM_HOST_H
#define TEST_STREAM_HOST_H

#include <stdlib.h>
#include <string.h>

#include "evolu/stream_store.h"

typedef struct mblob {
    uint8_t ts[16];
    uint8_t *p;
    size_t n;
} mblob;

typedef struct mhost {
    uint8_t *idx;          /* committed index */
    size_t idx_len;
    uint8_t *shadow;       /* generation being written */
    size_t shadow_len, shadow_cap;
    bool writing;
    mblob *blobs;
    size_t n_blobs, cap_blobs;
    /* the device's trusted state as persisted */
    evolu_stream_trusted persisted;
    /* power cuts */
    long ops, cut_at;      /* cut_at <= 0: never */
    bool dead, torn;
    long appends, commits, puts, saves;
} mhost;

static void *mh_dup(const void *p, size_t n) {
    void *q = malloc(n ? n : 1);
    if (!q) abort();
    if (n) memcpy(q, p, n);
    return q;
}

/* A write point: false if the power is (now) off. */
static bool mh_point(mhost *h) {
    if (h->dead) return false;
    h->ops++;
    if (h->cut_at > 0 && h->ops == h->cut_at) {
        h->dead = true;
        return false;
    }
    return true;
}

static evolu_err mh_index_size(void *ctx, uint64_t *len) {
    mhost *h = ctx;
    if (h->dead) return EVOLU_E_STORAGE;
    *len = h->idx_len;
    return EVOLU_OK;
}
static evolu_err mh_index_read(void *ctx, uint64_t off, uint8_t *buf, size_t n) {
    mhost *h = ctx;
    if (h->dead) return EVOLU_E_STORAGE;
    if (off > h->idx_len || n > h->idx_len - off) return EVOLU_E_STORAGE;
    memcpy(buf, h->idx + off, n);
    return EVOLU_OK;
}
static evolu_err mh_begin(void *ctx) {
    mhost *h = ctx;
    if (h->dead) return EVOLU_E_STORAGE;
    h->shadow_len = 0;
    h->writing = true;
    return EVOLU_OK;
}
static void mh_keep(mhost *h, const uint8_t *p, size_t n) {
    if (h->shadow_len + n > h->shadow_cap) {
        size_t cap = (h->shadow_len + n) * 2;
        h->shadow = realloc(h->shadow, cap);
        if (!h->shadow) abort();
        h->shadow_cap = cap;
    }
    memcpy(h->shadow + h->shadow_len, p, n);
    h->shadow_len += n;
}
static evolu_err mh_append(void *ctx, const uint8_t *p, size_t n) {
    mhost *h = ctx;
    if (!h->writing) return EVOLU_E_STATE;
    if (!mh_point(h)) {
        if (h->torn && h->ops == h->cut_at) mh_keep(h, p, n / 2); /* torn write */
        return EVOLU_E_STORAGE;
    }
    h->appends++;
    mh_keep(h, p, n);
    return EVOLU_OK;
}
static evolu_err mh_commit(void *ctx) {
    mhost *h = ctx;
    if (!h->writing) return EVOLU_E_STATE;
    if (!mh_point(h)) return EVOLU_E_STORAGE;
    h->commits++;
    free(h->idx);
    h->idx = mh_dup(h->shadow, h->shadow_len);
    h->idx_len = h->shadow_len;
    h->writing = false;
    return EVOLU_OK;
}
static void mh_abort(void *ctx) {
    mhost *h = ctx;
    if (h->dead) return; /* no power: the host hears nothing */
    h->writing = false;
    h->shadow_len = 0;
}
static mblob *mh_find(mhost *h, const uint8_t ts[16]) {
    for (size_t i = 0; i < h->n_blobs; i++)
        if (memcmp(h->blobs[i].ts, ts, 16) == 0) return &h->blobs[i];
    return NULL;
}
static evolu_err mh_put(void *ctx, const uint8_t ts[16], const uint8_t *p, size_t n) {
    mhost *h = ctx;
    bool ok = mh_point(h);
    if (!ok && !(h->torn && h->ops == h->cut_at)) return EVOLU_E_STORAGE;
    size_t keep = ok ? n : n / 2;
    mblob *b = mh_find(h, ts);
    if (!b) {
        if (h->n_blobs == h->cap_blobs) {
            h->cap_blobs = h->cap_blobs ? h->cap_blobs * 2 : 64;
            h->blobs = realloc(h->blobs, h->cap_blobs * sizeof *h->blobs);
            if (!h->blobs) abort();
        }
        b = &h->blobs[h->n_blobs++];
        memcpy(b->ts, ts, 16);
    } else {
        free(b->p);
    }
    b->p = mh_dup(p, keep);
    b->n = keep;
    if (!ok) return EVOLU_E_STORAGE;
    h->puts++;
    return EVOLU_OK;
}
static evolu_err mh_blob_size(void *ctx, const uint8_t ts[16], size_t *n) {
    mhost *h = ctx;
    if (h->dead) return EVOLU_E_STORAGE;
    mblob *b = mh_find(h, ts);
    if (!b) return EVOLU_E_ARG;
    *n = b->n;
    return EVOLU_OK;
}
static evolu_err mh_blob_read(void *ctx, const uint8_t ts[16], size_t off, uint8_t *buf,
                              size_t n) {
    mhost *h = ctx;
    if (h->dead) return EVOLU_E_STORAGE;
    mblob *b = mh_find(h, ts);
    if (!b) return EVOLU_E_ARG;
    if (off > b->n || n > b->n - off) return EVOLU_E_STORAGE;
    memcpy(buf, b->p + off, n);
    return EVOLU_OK;
}
/* The trusted-state save of the device: also a write point. */
static evolu_err mh_save(void *ctx, const evolu_stream_trusted *t) {
    mhost *h = ctx;
    if (!mh_point(h)) return EVOLU_E_STORAGE;
    h->saves++;
    h->persisted = *t;
    return EVOLU_OK;
}

static void mh_table(mhost *h, evolu_stream_host *out) {
    out->ctx = h;
    out->index_size = mh_index_size;
    out->index_read = mh_index_read;
    out->write_begin = mh_begin;
    out->write_append = mh_append;
    out->write_commit = mh_commit;
    out->write_abort = mh_abort;
    out->blob_put = mh_put;
    out->blob_size = mh_blob_size;
    out->blob_read = mh_blob_read;
}

static void mh_free(mhost *h) {
    free(h->idx);
    free(h->shadow);
    for (size_t i = 0; i < h->n_blobs; i++) free(h->blobs[i].p);
    free(h->blobs);
    memset(h, 0, sizeof *h);
}

/* A deep copy (a snapshot of what the host keeps). */
static inline void mh_copy(mhost *dst, const mhost *src) {
    memset(dst, 0, sizeof *dst);
    dst->idx = mh_dup(src->idx, src->idx_len);
    dst->idx_len = src->idx_len;
    dst->persisted = src->persisted;
    dst->n_blobs = dst->cap_blobs = src->n_blobs;
    dst->blobs = mh_dup(src->blobs, src->n_blobs * sizeof *src->blobs);
    for (size_t i = 0; i < src->n_blobs; i++)
        dst->blobs[i].p = mh_dup(src->blobs[i].p, src->blobs[i].n);
}

/* Power back on: what was not committed is gone (an honest host). */
static inline void mh_reboot(mhost *h) {
    h->dead = false;
    h->cut_at = 0;
    h->torn = false;
    h->writing = false;
    h->shadow_len = 0;
}

#endif
