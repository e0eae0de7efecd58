/* stream_merge.c - streaming merge-insert of a batch into a new generation of
 * the stream store (evolu/stream_store.h).
 *
 * One pass over the old index: its chunks are read one at a time into slot 0,
 * entries go out one chunk at a time through slot 1. The batch arrives in any
 * order; instead of sorting it (which needs memory for all of it) the merge
 * asks it for its EVOLU_STREAM_SELECT smallest timestamps above the last one
 * taken, one scan of the batch per selection. A batch of m distinct new
 * timestamps costs ceil(m / 16) + 2 scans of the batch (in the caller's
 * memory, no crypto) and one pass over the index.
 *
 * Order of effects, for power loss: (1) trusted state: issued = new seq,
 * saved; (2) blobs of new changes put; (3) new index appended and committed
 * by the host; (4) trusted state: seq = new seq, saved - the acknowledgement.
 * A cut before (3) leaves the old generation; between (3) and (4) either
 * generation is accepted on open (the new one is promoted); after (4) only
 * the new one. */
#include <string.h>

#include "stream_internal.h"

typedef struct merge {
    evolu_stream_store *s;
    const evolu_store_batch *batch;
    const evolu_stream_changes *changes; /* NULL: the batch's pointers */
    uint32_t out_chunk;
    unsigned out_n;
    uint64_t total, inserted, length;
    unsigned sel_n, sel_pos;
    bool have_last, batch_done;
    uint8_t last[EVOLU_TIMESTAMP_BYTES];
    uint64_t new_seq;
    uint8_t max_ts[EVOLU_TIMESTAMP_BYTES]; /* the last entry emitted: the largest */
} merge;

static evolu_err flush_chunk(merge *m) {
    evolu_stream_store *s = m->s;
    const evolu_port *port = s->cfg.port;
    uint8_t *plain = s->slot[1] + EVOLU_AEAD_NONCE_BYTES;
    size_t used = EVOLU_STREAM_CHUNK_HEAD + (size_t)m->out_n * EVOLU_STREAM_ENTRY_BYTES;
    memset(plain + used, 0, EVOLU_STREAM_CHUNK_PLAIN - used);
    memcpy(plain, "EVSC", 4);
    stream_put_u32(plain + 4, m->out_chunk);
    stream_put_u64(plain + 8, m->new_seq);
    port->random(port->ctx, s->slot[1], EVOLU_AEAD_NONCE_BYTES);
    if (port->aead_encrypt(port->ctx, plain, plain, EVOLU_STREAM_CHUNK_PLAIN, s->slot[1],
                           s->cfg.trusted->key) != 0)
        return EVOLU_E_CRYPTO;
    evolu_err e = s->cfg.host->write_append(s->cfg.host->ctx, s->slot[1], EVOLU_STREAM_RECORD_BYTES);
    if (e) return e;
    s->stats.chunk_writes++;
    m->length += EVOLU_STREAM_RECORD_BYTES;
    m->out_chunk++;
    m->out_n = 0;
    return EVOLU_OK;
}

static evolu_err emit(merge *m, const uint8_t ts[16], const uint8_t fp[12]) {
    uint8_t *p = m->s->slot[1] + STREAM_ENTRIES_AT + (size_t)m->out_n * EVOLU_STREAM_ENTRY_BYTES;
    memcpy(p, ts, EVOLU_TIMESTAMP_BYTES);
    memcpy(p + EVOLU_TIMESTAMP_BYTES, fp, EVOLU_FINGERPRINT_BYTES);
    memcpy(m->max_ts, ts, EVOLU_TIMESTAMP_BYTES);
    m->out_n++;
    m->total++;
    if (m->out_n == EVOLU_STREAM_CHUNK_ENTRIES) return flush_chunk(m);
    return EVOLU_OK;
}

/* Selects the batch's smallest distinct timestamps above m->last into s->sel
 * (ascending); the first occurrence of a timestamp wins. */
static evolu_err select_next(merge *m) {
    evolu_stream_store *s = m->s;
    const evolu_store_batch *b = m->batch;
    m->sel_n = 0;
    m->sel_pos = 0;
    b->rewind(b->ctx);
    s->stats.batch_scans++;
    for (;;) {
        evolu_timestamp t;
        const uint8_t *change;
        size_t len;
        evolu_err e = b->next(b->ctx, &t, &change, &len);
        if (e == EVOLU_E_DONE) break;
        if (e) return e;
        uint8_t ts[EVOLU_TIMESTAMP_BYTES];
        evolu_timestamp_to_bytes(&t, ts);
        if (m->have_last && memcmp(ts, m->last, sizeof ts) <= 0) continue;
        /* insertion point in the sorted selection */
        unsigned at = m->sel_n;
        while (at > 0 && memcmp(s->sel[at - 1].ts, ts, sizeof ts) > 0) at--;
        if (at > 0 && memcmp(s->sel[at - 1].ts, ts, sizeof ts) == 0) continue;
        if (at >= EVOLU_STREAM_SELECT) continue;
        unsigned keep = m->sel_n < EVOLU_STREAM_SELECT ? m->sel_n : EVOLU_STREAM_SELECT - 1;
        memmove(&s->sel[at + 1], &s->sel[at], (keep - at) * sizeof s->sel[0]);
        memcpy(s->sel[at].ts, ts, sizeof ts);
        if (m->changes) s->sel[at].ref = m->changes->position(m->changes->ctx);
        else s->sel[at].change = change;
        s->sel[at].len = len;
        if (m->sel_n < EVOLU_STREAM_SELECT) m->sel_n++;
    }
    return EVOLU_OK;
}

/* The next batch item (NULL at the end). */
static evolu_err peek_batch(merge *m, const struct evolu_stream_sel **out) {
    if (m->sel_pos == m->sel_n && !m->batch_done) {
        evolu_err e = select_next(m);
        if (e) return e;
        /* a selection that is not full took every timestamp left */
        m->batch_done = m->sel_n < EVOLU_STREAM_SELECT;
    }
    *out = m->sel_pos < m->sel_n ? &m->s->sel[m->sel_pos] : NULL;
    return EVOLU_OK;
}

static void take_batch(merge *m) {
    memcpy(m->last, m->s->sel[m->sel_pos].ts, EVOLU_TIMESTAMP_BYTES);
    m->have_last = true;
    m->sel_pos++;
}

static evolu_err run(merge *m) {
    evolu_stream_store *s = m->s;
    const evolu_port *port = s->cfg.port;
    const evolu_stream_host *h = s->cfg.host;
    uint32_t in_chunk = 0;
    unsigned in_pos = 0, in_n = 0;
    for (;;) {
        const uint8_t *a = NULL;
        if (in_pos == in_n && in_chunk < s->nchunks) {
            evolu_err e = evolu_stream_load_chunk_(s, in_chunk);
            if (e) return e;
            in_n = evolu_stream_chunk_entries_(s, in_chunk);
            in_pos = 0;
            in_chunk++;
        }
        if (in_pos < in_n) a = s->slot[0] + STREAM_ENTRIES_AT + (size_t)in_pos * EVOLU_STREAM_ENTRY_BYTES;
        const struct evolu_stream_sel *b;
        evolu_err e = peek_batch(m, &b);
        if (e) return e;
        if (!a && !b) break;
        int c = !a ? 1 : !b ? -1 : memcmp(a, b->ts, EVOLU_TIMESTAMP_BYTES);
        if (c <= 0) {
            e = emit(m, a, a + EVOLU_TIMESTAMP_BYTES);
            in_pos++;
            if (c == 0) take_batch(m); /* already stored: the stored change stays */
        } else {
            uint8_t digest[32];
            port->sha256(port->ctx, digest, b->ts, EVOLU_TIMESTAMP_BYTES);
            if (m->changes) e = m->changes->put(m->changes->ctx, b->ref, b->ts, b->len);
            else e = h->blob_put(h->ctx, b->ts, b->change, b->len);
            if (!e) e = emit(m, b->ts, digest);
            take_batch(m);
            m->inserted++;
        }
        if (e) return e;
    }
    if (m->out_n) {
        evolu_err e = flush_chunk(m);
        if (e) return e;
    }
    return EVOLU_OK;
}

static evolu_err trailer(merge *m) {
    evolu_stream_store *s = m->s;
    const evolu_port *port = s->cfg.port;
    uint8_t rec[EVOLU_STREAM_TRAILER_BYTES];
    uint8_t *p = rec + EVOLU_AEAD_NONCE_BYTES;
    memset(p, 0, EVOLU_STREAM_TRAILER_PLAIN);
    memcpy(p, "EVST", 4);
    p[4] = STREAM_VERSION;
    p[5] = EVOLU_STREAM_CHUNK_ENTRIES;
    stream_put_u64(p + 8, m->new_seq);
    stream_put_u64(p + 16, m->total);
    memcpy(p + 24, m->max_ts, EVOLU_TIMESTAMP_BYTES);
    port->random(port->ctx, rec, EVOLU_AEAD_NONCE_BYTES);
    if (port->aead_encrypt(port->ctx, p, p, EVOLU_STREAM_TRAILER_PLAIN, rec,
                           s->cfg.trusted->key) != 0)
        return EVOLU_E_CRYPTO;
    m->length += sizeof rec;
    return s->cfg.host->write_append(s->cfg.host->ctx, rec, sizeof rec);
}

/* The largest timestamp of the batch (a first scan that also checks that
 * the batch can be read to its end). */
static evolu_err batch_max(evolu_stream_store *s, const evolu_store_batch *b, uint8_t max[16],
                           bool *any) {
    *any = false;
    b->rewind(b->ctx);
    s->stats.batch_scans++;
    for (;;) {
        evolu_timestamp t;
        const uint8_t *change;
        size_t len;
        evolu_err e = b->next(b->ctx, &t, &change, &len);
        if (e == EVOLU_E_DONE) return EVOLU_OK;
        if (e) return e;
        uint8_t ts[EVOLU_TIMESTAMP_BYTES];
        evolu_timestamp_to_bytes(&t, ts);
        if (!*any || memcmp(ts, max, sizeof ts) > 0) memcpy(max, ts, sizeof ts);
        *any = true;
    }
}

static evolu_err merge_batch(evolu_stream_store *s, const evolu_store_batch *batch,
                             const evolu_stream_changes *changes, uint64_t *inserted) {
    if (inserted) *inserted = 0;
    if (!s->opened) return EVOLU_E_STATE;
    evolu_stream_trusted *t = s->cfg.trusted;
    uint8_t max_ts[EVOLU_TIMESTAMP_BYTES];
    bool any;
    evolu_err e = batch_max(s, batch, max_ts, &any);
    if (e || !any) return e;
    if (t->issued == UINT64_MAX) return EVOLU_E_LIMIT;
    if ((uint64_t)s->count + batch->count > (uint64_t)UINT32_MAX * EVOLU_STREAM_CHUNK_ENTRIES)
        return EVOLU_E_LIMIT;

    /* (1) a sequence number never used before, saved before anything is
     * encrypted under it */
    evolu_stream_trusted nt = *t;
    nt.issued = t->issued + 1;
    if (memcmp(max_ts, nt.clock, sizeof max_ts) > 0) memcpy(nt.clock, max_ts, sizeof max_ts);
    e = s->cfg.save(s->cfg.save_ctx, &nt);
    if (e) return e;
    *t = nt;

    merge m;
    memset(&m, 0, sizeof m);
    m.s = s;
    m.batch = batch;
    m.changes = changes;
    m.new_seq = nt.issued;
    const evolu_stream_host *h = s->cfg.host;
    evolu_stream_reset_cursor_(s);
    /* (2), (3) */
    e = h->write_begin(h->ctx);
    if (!e) e = run(&m);
    if (!e && m.inserted == 0) {
        h->write_abort(h->ctx); /* nothing new: the old generation stays */
        evolu_stream_reset_cursor_(s);
        return EVOLU_OK;
    }
    if (!e) e = trailer(&m);
    if (e) {
        h->write_abort(h->ctx);
        evolu_stream_reset_cursor_(s);
        return e;
    }
    e = h->write_commit(h->ctx);
    if (e) {
        /* the host may or may not have committed: find out on open */
        s->opened = false;
        return e;
    }
    /* (4) the acknowledgement */
    nt.seq = m.new_seq;
    nt.length = m.length;
    e = s->cfg.save(s->cfg.save_ctx, &nt);
    if (e) {
        s->opened = false;
        return e;
    }
    *t = nt;
    s->seq = m.new_seq;
    s->count = m.total;
    s->nchunks = stream_chunks_for(m.total);
    evolu_stream_reset_cursor_(s);
    if (inserted) *inserted = m.inserted;
    return EVOLU_OK;
}

evolu_err evolu_stream_store_merge(evolu_stream_store *s, const evolu_store_batch *batch,
                                   uint64_t *inserted) {
    return merge_batch(s, batch, NULL, inserted);
}

evolu_err evolu_stream_store_merge_source(evolu_stream_store *s, const evolu_store_batch *batch,
                                          const evolu_stream_changes *changes,
                                          uint64_t *inserted) {
    if (!changes || !changes->position || !changes->put) {
        if (inserted) *inserted = 0;
        return EVOLU_E_ARG;
    }
    return merge_batch(s, batch, changes, inserted);
}
