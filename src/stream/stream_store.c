/* stream_store.c - opening, verifying and reading the device's stream store
 * (evolu/stream_store.h); the merge is in stream_merge.c. */
#include <string.h>

#include "stream_internal.h"

static const uint8_t CHUNK_MAGIC[4] = {'E', 'V', 'S', 'C'};
static const uint8_t TRAILER_MAGIC[4] = {'E', 'V', 'S', 'T'};

void evolu_stream_reset_cursor_(evolu_stream_store *s) {
    s->cur = STREAM_NONE;
    s->cur_slot = 0;
    for (unsigned k = 0; k < 2; k++) {
        s->slot_chunk[k] = STREAM_NONE;
        s->slot_has_prefix[k] = false;
    }
    s->memo_n = 0;
    s->memo_next = 0;
    for (unsigned k = 0; k < EVOLU_STREAM_MARKS; k++) s->marks[k].chunk = STREAM_NONE;
    s->mark_next = 0;
}

void evolu_stream_store_init(evolu_stream_store *s, const evolu_stream_config *cfg) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    evolu_stream_reset_cursor_(s);
}

uint64_t evolu_stream_store_count(const evolu_stream_store *s) {
    return s->opened ? s->count : 0;
}

unsigned evolu_stream_chunk_entries_(const evolu_stream_store *s, uint32_t c) {
    uint64_t first = (uint64_t)c * EVOLU_STREAM_CHUNK_ENTRIES;
    uint64_t left = s->count - first;
    return left < EVOLU_STREAM_CHUNK_ENTRIES ? (unsigned)left : EVOLU_STREAM_CHUNK_ENTRIES;
}

static const uint8_t *slot_entry(const evolu_stream_store *s, unsigned k, unsigned i) {
    return s->slot[k] + STREAM_ENTRIES_AT + (size_t)i * EVOLU_STREAM_ENTRY_BYTES;
}

/* Entry i of the cursor's chunk. */
static const uint8_t *entry(const evolu_stream_store *s, unsigned i) {
    return slot_entry(s, s->cur_slot, i);
}

/* Reads chunk c into slot k, verifies it (authenticity, chunk index,
 * sequence) and makes it the cursor (prefix unknown unless c == 0). */
static evolu_err load_into(evolu_stream_store *s, unsigned k, uint32_t c) {
    const evolu_port *port = s->cfg.port;
    s->slot_chunk[k] = STREAM_NONE;
    s->slot_has_prefix[k] = false;
    s->cur_slot = k;
    s->cur = STREAM_NONE;
    if (c >= s->nchunks) return EVOLU_E_ARG;
    uint8_t *rec = s->slot[k];
    evolu_err e = s->cfg.host->index_read(s->cfg.host->ctx,
                                          (uint64_t)c * EVOLU_STREAM_RECORD_BYTES, rec,
                                          EVOLU_STREAM_RECORD_BYTES);
    if (e) return e;
    s->stats.chunk_reads++;
    uint8_t *plain = rec + EVOLU_AEAD_NONCE_BYTES;
    /* In place: libsodium verifies the tag before it decrypts. */
    if (port->aead_decrypt(port->ctx, plain, plain,
                           EVOLU_STREAM_CHUNK_PLAIN + EVOLU_AEAD_TAG_BYTES, rec,
                           s->cfg.trusted->key) != 0)
        return EVOLU_E_STREAM_TAMPERED;
    if (memcmp(plain, CHUNK_MAGIC, 4) != 0) return EVOLU_E_STREAM_ORDER;
    if (stream_get_u64(plain + 8) != s->seq) return EVOLU_E_STREAM_REPLAY;
    if (stream_get_u32(plain + 4) != c) return EVOLU_E_STREAM_ORDER;
    s->slot_chunk[k] = c;
    s->cur = c;
    if (c == 0) {
        memset(s->slot_prefix[k], 0, EVOLU_FINGERPRINT_BYTES);
        s->slot_has_prefix[k] = true;
    }
    /* landmark: first and last timestamp of this chunk */
    unsigned slot = s->mark_next, n = evolu_stream_chunk_entries_(s, c);
    for (unsigned j = 0; j < EVOLU_STREAM_MARKS; j++)
        if (s->marks[j].chunk == c) slot = j;
    if (slot == s->mark_next) s->mark_next = (s->mark_next + 1) % EVOLU_STREAM_MARKS;
    s->marks[slot].chunk = c;
    memcpy(s->marks[slot].first, slot_entry(s, k, 0), EVOLU_TIMESTAMP_BYTES);
    memcpy(s->marks[slot].last, slot_entry(s, k, n - 1), EVOLU_TIMESTAMP_BYTES);
    return EVOLU_OK;
}

evolu_err evolu_stream_load_chunk_(evolu_stream_store *s, uint32_t c) {
    s->slot_chunk[1] = STREAM_NONE; /* slot 1 is the merge's output */
    return load_into(s, 0, c);
}

/* Cursor at chunk c: from a slot if one holds it, else read into the other
 * slot (the one read longer ago). */
static evolu_err use_chunk(evolu_stream_store *s, uint32_t c) {
    for (unsigned k = 0; k < 2; k++) {
        if (s->slot_chunk[k] == c) {
            s->cur_slot = k;
            s->cur = c;
            return EVOLU_OK;
        }
    }
    return load_into(s, s->cur == STREAM_NONE ? 0 : 1 - s->cur_slot, c);
}

static bool cur_has_prefix(const evolu_stream_store *s) {
    return s->cur != STREAM_NONE && s->slot_has_prefix[s->cur_slot];
}

/* Moves the cursor to chunk cur + 1, carrying the prefix along. */
static evolu_err next_chunk(evolu_stream_store *s) {
    uint32_t c = s->cur;
    unsigned n = evolu_stream_chunk_entries_(s, c);
    uint8_t acc[EVOLU_FINGERPRINT_BYTES];
    bool had = cur_has_prefix(s);
    memcpy(acc, s->slot_prefix[s->cur_slot], sizeof acc);
    for (unsigned i = 0; had && i < n; i++)
        evolu_fingerprint_xor(acc, entry(s, i) + EVOLU_TIMESTAMP_BYTES);
    evolu_err e = use_chunk(s, c + 1);
    if (e) return e;
    if (had && !s->slot_has_prefix[s->cur_slot]) {
        memcpy(s->slot_prefix[s->cur_slot], acc, sizeof acc);
        s->slot_has_prefix[s->cur_slot] = true;
    }
    return EVOLU_OK;
}

/* Cursor at chunk c, for reading entries (prefix not needed). */
static evolu_err seek(evolu_stream_store *s, uint32_t c) {
    if (s->cur == c) return EVOLU_OK;
    if (s->cur != STREAM_NONE && s->cur + 1 == c) return next_chunk(s);
    return use_chunk(s, c);
}

static void memo_put(evolu_stream_store *s, uint64_t i, const uint8_t fp[12]) {
    for (unsigned k = 0; k < s->memo_n; k++)
        if (s->memo_idx[k] == i) return;
    s->memo_idx[s->memo_next] = i;
    memcpy(s->memo_fp[s->memo_next], fp, EVOLU_FINGERPRINT_BYTES);
    s->memo_next = (s->memo_next + 1) % EVOLU_STREAM_MEMO;
    if (s->memo_n < EVOLU_STREAM_MEMO) s->memo_n++;
}

/* Cursor at chunk c with its prefix known. Goes forward from the cursor (or
 * the other slot) when it can; otherwise restarts from the nearest
 * remembered prefix (or 0). */
static evolu_err seek_prefix(evolu_stream_store *s, uint32_t c) {
    for (unsigned k = 0; k < 2; k++) {
        if (s->slot_chunk[k] == c && s->slot_has_prefix[k]) {
            s->cur_slot = k;
            s->cur = c;
            return EVOLU_OK;
        }
    }
    /* the best starting point: a slot with a prefix, or a remembered prefix,
     * in a chunk <= c */
    uint64_t best = 0;
    int bk = -1, bs = -1;
    for (unsigned k = 0; k < s->memo_n; k++) {
        uint64_t m = s->memo_idx[k];
        if (m / EVOLU_STREAM_CHUNK_ENTRIES <= c && m >= best && m < s->count) {
            best = m;
            bk = (int)k;
        }
    }
    for (unsigned k = 0; k < 2; k++) {
        uint64_t at = (uint64_t)s->slot_chunk[k] * EVOLU_STREAM_CHUNK_ENTRIES;
        if (s->slot_chunk[k] != STREAM_NONE && s->slot_has_prefix[k] && s->slot_chunk[k] <= c &&
            (bk < 0 || at >= best)) {
            best = at;
            bs = (int)k;
        }
    }
    if (bs >= 0) {
        s->cur_slot = (unsigned)bs;
        s->cur = s->slot_chunk[bs];
    } else {
        uint32_t start = (uint32_t)(best / EVOLU_STREAM_CHUNK_ENTRIES);
        uint8_t acc[EVOLU_FINGERPRINT_BYTES];
        if (bk >= 0) memcpy(acc, s->memo_fp[bk], sizeof acc);
        evolu_err e = use_chunk(s, start);
        if (e) return e;
        if (bk >= 0) {
            /* P(chunk start) = P(m) ^ entries [chunk start, m) */
            for (uint64_t i = (uint64_t)start * EVOLU_STREAM_CHUNK_ENTRIES; i < best; i++)
                evolu_fingerprint_xor(
                    acc, entry(s, (unsigned)(i % EVOLU_STREAM_CHUNK_ENTRIES)) + 16);
            memcpy(s->slot_prefix[s->cur_slot], acc, sizeof acc);
            s->slot_has_prefix[s->cur_slot] = true;
        }
        /* start == 0 without a memo: load_into set the prefix to zero */
    }
    while (s->cur < c) {
        evolu_err e = next_chunk(s);
        if (e) return e;
    }
    return EVOLU_OK;
}

/* P(i): XOR of the fingerprints of entries [0, i), 0 <= i <= count. */
static evolu_err prefix_at(evolu_stream_store *s, uint64_t i, uint8_t out[12]) {
    for (unsigned k = 0; k < s->memo_n; k++) {
        if (s->memo_idx[k] == i) {
            memcpy(out, s->memo_fp[k], EVOLU_FINGERPRINT_BYTES);
            return EVOLU_OK;
        }
    }
    if (i == 0) {
        memset(out, 0, EVOLU_FINGERPRINT_BYTES);
        return EVOLU_OK;
    }
    uint32_t c = (uint32_t)(i / EVOLU_STREAM_CHUNK_ENTRIES);
    unsigned off = (unsigned)(i % EVOLU_STREAM_CHUNK_ENTRIES);
    if (c == s->nchunks) { /* i == count at a chunk boundary */
        c--;
        off = EVOLU_STREAM_CHUNK_ENTRIES;
    }
    evolu_err e = seek_prefix(s, c);
    if (e) return e;
    memcpy(out, s->slot_prefix[s->cur_slot], EVOLU_FINGERPRINT_BYTES);
    for (unsigned k = 0; k < off; k++) evolu_fingerprint_xor(out, entry(s, k) + 16);
    memo_put(s, i, out);
    return EVOLU_OK;
}

/* --- opening ------------------------------------------------------------------------ */

static evolu_err save(evolu_stream_store *s, const evolu_stream_trusted *t) {
    evolu_err e = s->cfg.save(s->cfg.save_ctx, t);
    if (e) return e;
    if (t != s->cfg.trusted) *s->cfg.trusted = *t;
    return EVOLU_OK;
}

evolu_err evolu_stream_store_open(evolu_stream_store *s) {
    const evolu_port *port = s->cfg.port;
    evolu_stream_trusted *t = s->cfg.trusted;
    s->opened = false;
    evolu_stream_reset_cursor_(s);
    uint64_t len;
    evolu_err e = s->cfg.host->index_size(s->cfg.host->ctx, &len);
    if (e) return e;
    bool short_ = t->seq != 0 && len < t->length;
    if (len == 0) {
        if (t->seq != 0) return EVOLU_E_STREAM_TRUNCATED;
        s->seq = 0;
        s->count = 0;
        s->nchunks = 0;
        s->opened = true;
        return EVOLU_OK;
    }
    if (len < EVOLU_STREAM_TRAILER_BYTES ||
        (len - EVOLU_STREAM_TRAILER_BYTES) % EVOLU_STREAM_RECORD_BYTES != 0)
        return short_ ? EVOLU_E_STREAM_TRUNCATED : EVOLU_E_STREAM_TAMPERED;
    uint8_t rec[EVOLU_STREAM_TRAILER_BYTES];
    e = s->cfg.host->index_read(s->cfg.host->ctx, len - EVOLU_STREAM_TRAILER_BYTES, rec,
                                sizeof rec);
    if (e) return e;
    uint8_t *p = rec + EVOLU_AEAD_NONCE_BYTES;
    if (port->aead_decrypt(port->ctx, p, p, EVOLU_STREAM_TRAILER_PLAIN + EVOLU_AEAD_TAG_BYTES,
                           rec, t->key) != 0)
        return short_ ? EVOLU_E_STREAM_TRUNCATED : EVOLU_E_STREAM_TAMPERED;
    if (memcmp(p, TRAILER_MAGIC, 4) != 0 || p[4] != STREAM_VERSION ||
        p[5] != EVOLU_STREAM_CHUNK_ENTRIES || p[6] != 0 || p[7] != 0)
        return EVOLU_E_STREAM_TAMPERED;
    uint64_t seq = stream_get_u64(p + 8), count = stream_get_u64(p + 16);
    bool promote = false;
    if (seq == t->seq) {
        /* the acknowledged generation */
    } else if (seq == t->issued && t->issued > t->seq) {
        promote = true; /* committed by the host, power lost before we saved */
    } else if (seq < t->issued) {
        return EVOLU_E_STREAM_REPLAY;
    } else {
        return EVOLU_E_STREAM_TAMPERED; /* a sequence we never issued */
    }
    if (count > (uint64_t)UINT32_MAX * EVOLU_STREAM_CHUNK_ENTRIES)
        return EVOLU_E_STREAM_TAMPERED;
    uint64_t want = stream_length_for(count);
    if (len != want) return len < want ? EVOLU_E_STREAM_TRUNCATED : EVOLU_E_STREAM_TAMPERED;
    if (!promote && t->seq != 0 && len != t->length) return EVOLU_E_STREAM_TAMPERED;
    if (promote) {
        evolu_stream_trusted nt = *t;
        nt.seq = seq;
        nt.length = len;
        if (memcmp(p + 24, nt.clock, EVOLU_TIMESTAMP_BYTES) > 0)
            memcpy(nt.clock, p + 24, EVOLU_TIMESTAMP_BYTES);
        e = save(s, &nt);
        if (e) return e;
    }
    s->seq = seq;
    s->count = count;
    s->nchunks = stream_chunks_for(count);
    s->opened = true;
    return EVOLU_OK;
}

evolu_err evolu_stream_store_check(evolu_stream_store *s) {
    if (!s->opened) return EVOLU_E_STATE;
    for (uint32_t c = 0; c < s->nchunks; c++) {
        evolu_err e = evolu_stream_load_chunk_(s, c);
        if (e) return e;
        /* entries ascend within the chunk and across chunks */
        unsigned n = evolu_stream_chunk_entries_(s, c);
        for (unsigned i = 1; i < n; i++)
            if (memcmp(entry(s, i - 1), entry(s, i), EVOLU_TIMESTAMP_BYTES) >= 0)
                return EVOLU_E_STREAM_ORDER;
    }
    evolu_stream_reset_cursor_(s);
    return EVOLU_OK;
}

/* --- the evolu_store table ------------------------------------------------------------ */

static evolu_err st_size(void *ctx, uint64_t *out) {
    evolu_stream_store *s = ctx;
    if (!s->opened) return EVOLU_E_STATE;
    *out = s->count;
    return EVOLU_OK;
}

static evolu_err st_fingerprint(void *ctx, uint64_t begin, uint64_t end, uint8_t out[12]) {
    evolu_stream_store *s = ctx;
    if (!s->opened) return EVOLU_E_STATE;
    if (begin > end || end > s->count) return EVOLU_E_ARG;
    uint8_t a[EVOLU_FINGERPRINT_BYTES];
    evolu_err e = prefix_at(s, begin, a);
    if (!e) e = prefix_at(s, end, out);
    if (e) return e;
    evolu_fingerprint_xor(out, a);
    return EVOLU_OK;
}

/* First entry of the cursor's chunk >= bound, if the chunk has one. */
static bool in_chunk(const evolu_stream_store *s, const uint8_t *bound, unsigned *at) {
    unsigned n = evolu_stream_chunk_entries_(s, s->cur);
    if (memcmp(entry(s, n - 1), bound, EVOLU_TIMESTAMP_BYTES) < 0) return false;
    unsigned lo = 0, hi = n - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (memcmp(entry(s, mid), bound, EVOLU_TIMESTAMP_BYTES) < 0) lo = mid + 1;
        else hi = mid;
    }
    *at = lo;
    return true;
}

static const struct evolu_stream_mark *mark_of(const evolu_stream_store *s, uint32_t c) {
    for (unsigned k = 0; k < EVOLU_STREAM_MARKS; k++)
        if (s->marks[k].chunk == c) return &s->marks[k];
    return NULL;
}

/* Index of the first entry >= bound over the whole set (count if none). */
static evolu_err lower_bound(evolu_stream_store *s, const uint8_t *bound, uint64_t *out) {
    if (s->count == 0) {
        *out = 0;
        return EVOLU_OK;
    }
    evolu_err e;
    /* forward: every entry before the cursor's chunk is < bound */
    const struct evolu_stream_mark *prev =
        s->cur != STREAM_NONE && s->cur > 0 ? mark_of(s, s->cur - 1) : NULL;
    bool forward = s->cur != STREAM_NONE &&
                   (s->cur == 0 || memcmp(entry(s, 0), bound, EVOLU_TIMESTAMP_BYTES) < 0 ||
                    (prev && memcmp(prev->last, bound, EVOLU_TIMESTAMP_BYTES) < 0));
    if (s->cur == STREAM_NONE) {
        e = seek_prefix(s, 0); /* a fresh pass: keep the prefix along */
        if (e) return e;
        forward = true;
    } else if (!forward) {
        /* behind the cursor: a recently read chunk may hold the answer */
        for (unsigned k = 0; k < EVOLU_STREAM_MARKS; k++) {
            const struct evolu_stream_mark *mk = &s->marks[k];
            if (mk->chunk == STREAM_NONE || mk->chunk >= s->cur) continue;
            if (memcmp(mk->first, bound, EVOLU_TIMESTAMP_BYTES) < 0 &&
                memcmp(mk->last, bound, EVOLU_TIMESTAMP_BYTES) >= 0) {
                e = seek(s, mk->chunk);
                if (e) return e;
                forward = true;
                break;
            }
            /* the answer is the first entry of chunk k + 1 */
            const struct evolu_stream_mark *nx = mark_of(s, mk->chunk + 1);
            if (nx && memcmp(mk->last, bound, EVOLU_TIMESTAMP_BYTES) < 0 &&
                memcmp(nx->first, bound, EVOLU_TIMESTAMP_BYTES) >= 0) {
                *out = (uint64_t)(mk->chunk + 1) * EVOLU_STREAM_CHUNK_ENTRIES;
                return EVOLU_OK;
            }
        }
    }
    if (!forward) {
        /* backwards (rare: bounds normally ascend): binary search over the
         * chunks before the cursor by their first entry */
        uint32_t lo = 0, hi = s->cur;
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            e = use_chunk(s, mid);
            if (e) return e;
            if (memcmp(entry(s, 0), bound, EVOLU_TIMESTAMP_BYTES) < 0) lo = mid;
            else hi = mid;
        }
        e = seek(s, lo);
        if (e) return e;
    }
    for (;;) {
        unsigned at;
        if (in_chunk(s, bound, &at)) {
            *out = (uint64_t)s->cur * EVOLU_STREAM_CHUNK_ENTRIES + at;
            break;
        }
        if (s->cur + 1 >= s->nchunks) {
            *out = s->count;
            break;
        }
        e = next_chunk(s);
        if (e) return e;
    }
    if (cur_has_prefix(s) && *out < s->count) {
        uint8_t p[EVOLU_FINGERPRINT_BYTES];
        memcpy(p, s->slot_prefix[s->cur_slot], sizeof p);
        for (unsigned k = 0; k < *out % EVOLU_STREAM_CHUNK_ENTRIES; k++)
            evolu_fingerprint_xor(p, entry(s, k) + 16);
        memo_put(s, *out, p);
    }
    return EVOLU_OK;
}

static evolu_err st_lower_bound(void *ctx, uint64_t begin, uint64_t end, const uint8_t *bound,
                                uint64_t *out) {
    evolu_stream_store *s = ctx;
    if (!s->opened) return EVOLU_E_STATE;
    if (begin > end) return EVOLU_E_ARG;
    if (end == 0 || begin == end || bound == NULL) {
        *out = end;
        return EVOLU_OK;
    }
    uint64_t i;
    evolu_err e = lower_bound(s, bound, &i);
    if (e) return e;
    *out = i < s->count ? i : end;
    return EVOLU_OK;
}

static evolu_err st_iterate(void *ctx, uint64_t begin, uint64_t end, evolu_store_visit_fn visit,
                            void *visit_ctx) {
    evolu_stream_store *s = ctx;
    if (!s->opened) return EVOLU_E_STATE;
    if (begin > end || end > s->count) return EVOLU_E_ARG;
    for (uint64_t i = begin; i < end; i++) {
        evolu_err e = seek(s, (uint32_t)(i / EVOLU_STREAM_CHUNK_ENTRIES));
        if (e) return e;
        if (!visit(visit_ctx, entry(s, (unsigned)(i % EVOLU_STREAM_CHUNK_ENTRIES)), i)) {
            /* A walk that stops at a bound (the engine's Timestamps range)
             * is where the next range starts: remember P(i) while its
             * chunk is at hand, so that range's fingerprint does not go
             * back for it. */
            if (i > begin && cur_has_prefix(s) && s->cur == i / EVOLU_STREAM_CHUNK_ENTRIES) {
                uint8_t p[EVOLU_FINGERPRINT_BYTES];
                memcpy(p, s->slot_prefix[s->cur_slot], sizeof p);
                for (unsigned k = 0; k < i % EVOLU_STREAM_CHUNK_ENTRIES; k++)
                    evolu_fingerprint_xor(p, entry(s, k) + 16);
                memo_put(s, i, p);
            }
            break;
        }
    }
    return EVOLU_OK;
}

static evolu_err st_read_change(void *ctx, const uint8_t ts[16], const evolu_store_arena *arena,
                                const uint8_t **change, size_t *change_len) {
    evolu_stream_store *s = ctx;
    if (!s->opened) return EVOLU_E_STATE;
    const evolu_stream_host *h = s->cfg.host;
    size_t n;
    evolu_err e = h->blob_size(h->ctx, ts, &n);
    if (e) return e;
    uint8_t *dst;
    if (arena) {
        e = arena->alloc(arena->ctx, n, &dst);
        if (e) return e;
    } else {
        if (n > s->cfg.change_cap || s->cfg.change_buf == NULL) return EVOLU_E_BUFFER;
        dst = s->cfg.change_buf;
    }
    e = h->blob_read(h->ctx, ts, 0, dst, n);
    if (e) return e;
    *change = dst;
    *change_len = n;
    return EVOLU_OK;
}

static evolu_err st_write(void *ctx, const evolu_store_batch *batch) {
    return evolu_stream_store_merge(ctx, batch, NULL);
}

void evolu_stream_store_table(evolu_stream_store *s, evolu_store *out) {
    out->ctx = s;
    out->size = st_size;
    out->fingerprint = st_fingerprint;
    out->find_lower_bound = st_lower_bound;
    out->iterate = st_iterate;
    out->read_change = st_read_change;
    out->write_messages = st_write;
}
