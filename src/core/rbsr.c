/* rbsr.c - the RBSR engine (spec 6.2-6.5): balanced buckets, splitRange, the
 * initiator's first message and the range-processing procedure `sync`,
 * following @evolu/common 8.11.0 step by step (and 8.0.0-next.5's splitRange
 * on request). See evolu/rbsr.h. */
#include <string.h>

#include "evolu/rbsr.h"

bool evolu_rbsr_balanced_buckets(uint64_t n, uint64_t out[EVOLU_RBSR_BUCKETS]) {
    if (n < EVOLU_RBSR_SPLIT_MIN) return false;
    uint64_t base = n / EVOLU_RBSR_BUCKETS, extra = n % EVOLU_RBSR_BUCKETS, end = 0;
    for (unsigned i = 0; i < EVOLU_RBSR_BUCKETS; i++) {
        end += base + (i < extra ? 1u : 0u);
        out[i] = end;
    }
    return true;
}

void evolu_rbsr_init(evolu_rbsr *r, const evolu_store *store, bool next5_split_bug,
                     uint8_t (*scratch)[EVOLU_TIMESTAMP_BYTES], size_t scratch_cap) {
    r->store = store;
    r->next5_split_bug = next5_split_bug;
    r->scratch = scratch;
    r->scratch_cap = scratch ? scratch_cap : 0;
    r->cause = EVOLU_OK;
}

/* A store failure: remember why, report SyncError. */
static evolu_err store_fail(evolu_rbsr *r, evolu_err e) {
    r->cause = e;
    return EVOLU_E_SYNC;
}

/* --- Timestamps ranges: kept in the arena or read back from the store ---------------- */

/* The timestamps of a Timestamps range are the store's items at indices
 * first .. first+n-1; the builder asks for them by position, three times in
 * order (millis, counters, node ids), when it measures and when it emits.
 * Reading them back from the store each time costs a store whose items are
 * not in RAM (the device's stream store) three passes over the range's
 * chunks per use. So the engine reads them once, with ONE iterate call, into
 * a copy in the builder's arena (16 bytes each) when the arena has room:
 * briefly while the range is measured, and for the reply once reconcile has
 * made all its other allocations (cache_ranges). Without room the range is
 * read back as before; either way the bytes are the same. Only what the
 * callback needs is kept, so the record does not depend on the caller's
 * evolu_store living on. */
typedef struct slice {
    void *ctx;
    evolu_err (*iterate)(void *ctx, uint64_t begin, uint64_t end, evolu_store_visit_fn visit,
                         void *visit_ctx);
    uint64_t first;
    const uint8_t (*cache)[EVOLU_TIMESTAMP_BYTES]; /* NULL: read back from the store */
} slice;

_Static_assert(sizeof(slice) + _Alignof(slice) - 1 <= EVOLU_RBSR_ARENA_PER_RANGE,
               "a slice record fits the arena bytes promised per range");

typedef struct at_ctx {
    evolu_timestamp *out;
    evolu_err err;
    bool found;
} at_ctx;

static bool at_visit(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES], uint64_t index) {
    (void)index;
    at_ctx *c = ctx;
    c->err = evolu_timestamp_from_bytes(ts, c->out);
    c->found = true;
    return false;
}

static evolu_err slice_get(void *ctx, size_t i, evolu_timestamp *out) {
    const slice *s = ctx;
    if (s->cache) return evolu_timestamp_from_bytes(s->cache[i], out);
    uint64_t at = s->first + i;
    at_ctx c = {out, EVOLU_OK, false};
    evolu_err e = s->iterate(s->ctx, at, at + 1, at_visit, &c);
    if (e) return e;
    if (!c.found) return EVOLU_E_ARG;
    return c.err;
}

typedef struct fill_ctx {
    uint8_t (*out)[EVOLU_TIMESTAMP_BYTES];
    uint64_t first, n, got;
} fill_ctx;

static bool fill_visit(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES], uint64_t index) {
    fill_ctx *f = ctx;
    if (index != f->first + f->got || f->got >= f->n) return false;
    memcpy(f->out[f->got++], ts, EVOLU_TIMESTAMP_BYTES);
    return true;
}

/* Copies the slice's n timestamps into the arena (one iterate call). false
 * (nothing kept) if the arena has no room or the store fails: the range is
 * then read back at each use, which reports the store's error as before. */
static bool slice_fill(evolu_msg_builder *b, slice *s, size_t n) {
    if (n == 0 || n > SIZE_MAX / EVOLU_TIMESTAMP_BYTES) return false;
    uint8_t *mem;
    if (evolu_msg_builder_alloc(b, n * EVOLU_TIMESTAMP_BYTES, &mem) != EVOLU_OK) return false;
    fill_ctx f = {(uint8_t(*)[EVOLU_TIMESTAMP_BYTES])(void *)mem, s->first, n, 0};
    if (s->iterate(s->ctx, s->first, s->first + n, fill_visit, &f) != EVOLU_OK || f.got != n) {
        evolu_msg_builder_unalloc(b, n * EVOLU_TIMESTAMP_BYTES);
        return false;
    }
    s->cache = (const uint8_t(*)[EVOLU_TIMESTAMP_BYTES])f.out;
    return true;
}

/* Copies kept at the TOP of the builder's arena while reconcile runs: the
 * engine lowers arena_cap below them, so the builder's own allocations
 * (changes the store hands out, slice records) come from below as before.
 * If one of those finds the arena full, every copy is dropped (those ranges
 * are read back from the store at emit time, as without copies) and the
 * allocation is retried with the whole arena: the copies never take memory
 * the reply would otherwise have had. A Timestamps range's copy is written
 * while its items are walked (or, for a small range a split lists, read
 * from the chunks just scanned), so no range is read twice. When reconcile
 * ends they are moved down into the arena proper (top_settle). */
typedef struct topc {
    evolu_msg_builder *b;
    size_t cap;   /* the arena's real capacity */
    size_t from;  /* first range added by this reconcile */
    bool on;      /* false once the copies were dropped */
} topc;

static bool in_top(const topc *t, const void *p) {
    const evolu_msg_builder *b = t->b;
    return b->arena && (const uint8_t *)p >= b->arena + b->arena_cap &&
           (const uint8_t *)p < b->arena + t->cap;
}

/* Drops every copy and gives the arena back its capacity. */
static void top_release(topc *t) {
    evolu_msg_builder *b = t->b;
    if (!t->on) return;
    for (size_t i = t->from; i < b->n_ranges; i++) {
        evolu_range_entry *r = &b->ranges[i];
        if (r->type != EVOLU_RANGE_TIMESTAMPS || r->get != slice_get) continue;
        slice *s = r->get_ctx;
        if (s->cache && in_top(t, s->cache)) s->cache = NULL;
    }
    b->arena_cap = t->cap;
    t->on = false;
}

/* evolu_msg_builder_alloc, dropping the copies when they are in the way. */
static evolu_err top_alloc(topc *t, size_t n, uint8_t **out) {
    evolu_err e = evolu_msg_builder_alloc(t->b, n, out);
    if (e == EVOLU_E_CAPACITY && t->on && t->b->arena_cap != t->cap) {
        top_release(t);
        e = evolu_msg_builder_alloc(t->b, n, out);
    }
    return e;
}

static evolu_err top_arena_alloc(void *ctx, size_t n, uint8_t **out) {
    return top_alloc(ctx, n, out);
}

/* Room for n timestamps at the top (NULL if there is none). */
static uint8_t (*top_reserve(topc *t, uint64_t n))[EVOLU_TIMESTAMP_BYTES] {
    evolu_msg_builder *b = t->b;
    if (!t->on || !b->arena || n == 0 ||
        n > (b->arena_cap - b->arena_used) / EVOLU_TIMESTAMP_BYTES)
        return NULL;
    b->arena_cap -= (size_t)n * EVOLU_TIMESTAMP_BYTES;
    return (uint8_t(*)[EVOLU_TIMESTAMP_BYTES])(void *)(b->arena + b->arena_cap);
}

/* Keeps `used` of the `reserved` timestamps of the lowest reservation p
 * (moved up to the top end); returns where they now are. */
static uint8_t (*top_trim(topc *t, uint8_t (*p)[EVOLU_TIMESTAMP_BYTES], uint64_t reserved,
                          uint64_t used))[EVOLU_TIMESTAMP_BYTES] {
    size_t gap = (size_t)(reserved - used) * EVOLU_TIMESTAMP_BYTES;
    if (used) memmove(p + (reserved - used), p, (size_t)used * EVOLU_TIMESTAMP_BYTES);
    t->b->arena_cap += gap;
    return used ? p + (reserved - used) : NULL;
}

/* Reconcile is done: the copies move down into the arena proper. */
static void top_settle(topc *t) {
    evolu_msg_builder *b = t->b;
    if (!t->on || b->arena_cap == t->cap) {
        b->arena_cap = t->cap;
        return;
    }
    size_t total = t->cap - b->arena_cap, delta = b->arena_cap - b->arena_used;
    for (size_t i = t->from; i < b->n_ranges; i++) {
        evolu_range_entry *r = &b->ranges[i];
        if (r->type != EVOLU_RANGE_TIMESTAMPS || r->get != slice_get) continue;
        slice *s = r->get_ctx;
        if (s->cache && in_top(t, s->cache))
            s->cache = (const uint8_t(*)[EVOLU_TIMESTAMP_BYTES])(void *)(
                b->arena + ((size_t)((const uint8_t *)s->cache - b->arena) - delta));
    }
    memmove(b->arena + b->arena_used, b->arena + b->arena_cap, total);
    b->arena_used += total;
    b->arena_cap = t->cap;
}

/* Adds the Timestamps range of the store's items [first, first + n). keep:
 * the caller allocates nothing more before the reply is emitted, so a copy
 * made for measuring may stay for emitting. */
static evolu_err add_timestamps_slice(evolu_msg_builder *b, topc *tc, const evolu_store *st,
                                      const evolu_timestamp *bound, uint64_t first,
                                      uint64_t n, bool keep,
                                      const uint8_t (*cache)[EVOLU_TIMESTAMP_BYTES]) {
    const size_t align = _Alignof(slice), rec = sizeof(slice) + align - 1;
    uint8_t *mem;
    evolu_err e = tc ? top_alloc(tc, rec, &mem) : evolu_msg_builder_alloc(b, rec, &mem);
    if (e) return e;
    uintptr_t p = (uintptr_t)mem;
    p = (p + align - 1) & ~(uintptr_t)(align - 1);
    slice *s = (slice *)p;
    s->ctx = st->ctx;
    s->iterate = st->iterate;
    s->first = first;
    s->cache = tc && tc->on ? cache : NULL;

    evolu_range_entry r;
    memset(&r, 0, sizeof r);
    r.type = EVOLU_RANGE_TIMESTAMPS;
    r.infinite = bound == NULL;
    if (bound) r.upper = *bound;
    r.get = slice_get;
    r.get_ctx = s;
    r.n_timestamps = (size_t)n;
    if ((uint64_t)r.n_timestamps != n) {
        evolu_msg_builder_unalloc(b, rec);
        return EVOLU_E_ARG;
    }
    if (tc && !s->cache && r.n_timestamps) {
        /* a small range a split lists: its chunks were just scanned */
        uint8_t (*top)[EVOLU_TIMESTAMP_BYTES] = top_reserve(tc, r.n_timestamps);
        if (top) {
            fill_ctx f = {top, first, r.n_timestamps, 0};
            if (st->iterate(st->ctx, first, first + n, fill_visit, &f) == EVOLU_OK &&
                f.got == n)
                s->cache = (const uint8_t(*)[EVOLU_TIMESTAMP_BYTES])top;
            else
                top_trim(tc, top, n, 0);
        }
    }
    bool cached = !s->cache && slice_fill(b, s, r.n_timestamps);
    e = evolu_msg_builder_add_range(b, &r);
    if (cached && (e || !keep)) {
        s->cache = NULL;
        evolu_msg_builder_unalloc(b, r.n_timestamps * EVOLU_TIMESTAMP_BYTES);
    }
    if (e) evolu_msg_builder_unalloc(b, rec);
    return e;
}

/* After reconcile's last allocation: keeps a copy of each Timestamps range it
 * added from index `from` on, while the arena has room, so emitting reads
 * nothing back. */
static void cache_ranges(evolu_msg_builder *b, size_t from) {
    for (size_t i = from; i < b->n_ranges; i++) {
        evolu_range_entry *r = &b->ranges[i];
        if (r->type != EVOLU_RANGE_TIMESTAMPS || r->get != slice_get) continue;
        slice *s = r->get_ctx;
        if (s->cache) continue;
        if (!slice_fill(b, s, r->n_timestamps) && r->n_timestamps) {
            uint64_t need = (uint64_t)r->n_timestamps * EVOLU_TIMESTAMP_BYTES;
            if (need > b->arena_cap - b->arena_used) return; /* full: the rest reads back */
        }
    }
}

/* Store errors from the builder's callback (while measuring) are store
 * failures; everything else is the builder's. */
static evolu_err builder_or_store(evolu_rbsr *r, evolu_err e) {
    switch (e) {
    case EVOLU_OK:
    case EVOLU_E_CAPACITY:
    case EVOLU_E_LIMIT:
    case EVOLU_E_ORDER:
    case EVOLU_E_RANGES:
    case EVOLU_E_STATE:
        return e;
    default:
        return store_fail(r, e);
    }
}

/* --- splitRange (spec 6.3) ----------------------------------------------------------- */

static evolu_err split_range(evolu_rbsr *r, topc *tc, evolu_msg_builder *b, uint64_t lower,
                             uint64_t upper, const evolu_timestamp *upper_bound) {
    if (lower > upper) return EVOLU_E_ARG;
    const evolu_store *st = r->store;
    uint64_t count = upper - lower;
    uint64_t buckets[EVOLU_RBSR_BUCKETS];
    if (!evolu_rbsr_balanced_buckets(count, buckets)) {
        /* 8.0.0-next.5 iterates [0, count) instead of [lower, upper). */
        uint64_t first = r->next5_split_bug ? 0 : lower;
        return builder_or_store(r, add_timestamps_slice(b, tc, st, upper_bound, first, count, false,
                                                          NULL));
    }
    /* fingerprintRanges over [lower, lower + b0, ..., lower + b15]: each
     * bucket's bound is the first item of the next bucket, the last one's is
     * upper_bound. */
    uint64_t begin = lower;
    for (unsigned j = 0; j < EVOLU_RBSR_BUCKETS; j++) {
        uint64_t end = lower + buckets[j];
        uint8_t fp[EVOLU_FINGERPRINT_BYTES];
        evolu_err e = st->fingerprint(st->ctx, begin, end, fp);
        if (e) return store_fail(r, e);
        evolu_timestamp bound;
        const evolu_timestamp *bp = upper_bound;
        if (j + 1 < EVOLU_RBSR_BUCKETS) {
            uint8_t tb[EVOLU_TIMESTAMP_BYTES];
            e = evolu_store_timestamp_at(st, end, tb);
            if (!e) e = evolu_timestamp_from_bytes(tb, &bound);
            if (e) return store_fail(r, e);
            bp = &bound;
        }
        e = evolu_msg_builder_add_fingerprint(b, bp, fp);
        if (e) return e;
        begin = end;
    }
    return EVOLU_OK;
}

evolu_err evolu_rbsr_split_range(evolu_rbsr *r, evolu_msg_builder *b, uint64_t lower,
                                 uint64_t upper, const evolu_timestamp *upper_bound) {
    return split_range(r, NULL, b, lower, upper, upper_bound);
}

evolu_err evolu_rbsr_sync_request(evolu_rbsr *r, evolu_msg_builder *b,
                                  const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                  uint8_t subscription) {
    evolu_header h;
    evolu_header_request(&h, owner_id, NULL, subscription);
    evolu_err e = evolu_msg_builder_begin(b, &h, 0, 0);
    if (e) return e;
    uint64_t size;
    e = r->store->size(r->store->ctx, &size);
    if (e) return store_fail(r, e);
    return evolu_rbsr_split_range(r, b, 0, size, NULL);
}

/* --- the peer's Timestamps list --------------------------------------------------------- */

static void swap16(uint8_t *a, uint8_t *b) {
    uint8_t t[EVOLU_TIMESTAMP_BYTES];
    memcpy(t, a, sizeof t);
    memcpy(a, b, sizeof t);
    memcpy(b, t, sizeof t);
}

static void sift_down(uint8_t (*v)[EVOLU_TIMESTAMP_BYTES], size_t i, size_t n) {
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && memcmp(v[c + 1], v[c], EVOLU_TIMESTAMP_BYTES) > 0) c++;
        if (memcmp(v[i], v[c], EVOLU_TIMESTAMP_BYTES) >= 0) return;
        swap16(v[i], v[c]);
        i = c;
    }
}

/* Heapsort (in place, no recursion, O(n log n) worst case), then drop
 * duplicates. Returns the number of distinct timestamps. */
static size_t sort_unique(uint8_t (*v)[EVOLU_TIMESTAMP_BYTES], size_t n) {
    if (n < 2) return n;
    for (size_t i = n / 2; i-- > 0;) sift_down(v, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        swap16(v[0], v[end]);
        sift_down(v, 0, end);
    }
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (memcmp(v[i], v[k - 1], EVOLU_TIMESTAMP_BYTES) != 0) {
            if (i != k) memcpy(v[k], v[i], EVOLU_TIMESTAMP_BYTES);
            k++;
        }
    return k;
}

/* --- the peer's ranges, from the in-memory reader or from a source ------------------------ */

/* A range of the message being answered, whichever reader it came from. */
typedef struct peer_range {
    uint8_t type;
    bool infinite;
    evolu_timestamp upper;
    uint8_t fingerprint[EVOLU_FINGERPRINT_BYTES];
    uint64_t n_timestamps;
    const evolu_range *mem;     /* in-memory reader */
    evolu_msg_sreader *src;     /* source reader */
    evolu_srange srange;
} peer_range;

/* A cursor over a Timestamps range's list. The source-backed list has one
 * cache per cursor, so it is never copied: a position is saved and restored
 * with peer_mark / peer_reset (which keep the caches as they are). */
typedef struct peer_list {
    evolu_tslist_reader mem;
    evolu_stslist *s;
} peer_list;

typedef struct peer_mark {
    evolu_tslist_reader mem;
    uint64_t m, c, n, index, prev_millis, counter_left, node_left;
    uint16_t counter;
    uint8_t node_id[EVOLU_NODE_ID_BYTES];
} peer_mark;

static evolu_err peer_open(const peer_range *rg, peer_list *pl) {
    pl->s = NULL;
    if (rg->src) return evolu_msg_sreader_range_timestamps(rg->src, &rg->srange, &pl->s);
    return evolu_range_timestamps(rg->mem, &pl->mem);
}

static evolu_err peer_next(peer_list *pl, evolu_timestamp *out) {
    return pl->s ? evolu_stslist_next(pl->s, out) : evolu_tslist_next(&pl->mem, out);
}

static void peer_mark_get(const peer_list *pl, peer_mark *m) {
    if (!pl->s) {
        m->mem = pl->mem;
        return;
    }
    const evolu_stslist *l = pl->s;
    m->m = l->millis.pos;
    m->c = l->counters.pos;
    m->n = l->nodes.pos;
    m->index = l->index;
    m->prev_millis = l->prev_millis;
    m->counter_left = l->counter_left;
    m->node_left = l->node_left;
    m->counter = l->counter;
    memcpy(m->node_id, l->node_id, sizeof m->node_id);
}

static void peer_reset(peer_list *pl, const peer_mark *m) {
    if (!pl->s) {
        pl->mem = m->mem;
        return;
    }
    evolu_stslist *l = pl->s;
    l->millis.pos = m->m;
    l->counters.pos = m->c;
    l->nodes.pos = m->n;
    l->index = m->index;
    l->prev_millis = m->prev_millis;
    l->counter_left = m->counter_left;
    l->node_left = m->node_left;
    l->counter = m->counter;
    memcpy(l->node_id, m->node_id, sizeof l->node_id);
}

typedef struct ts_walk {
    evolu_rbsr *r;
    evolu_msg_builder *b;
    topc *tc;
    /* our timestamps, copied downwards from the top of the arena (reversed
     * when the walk ends) */
    bool copying;
    uint64_t n_copy;
    /* the peer's bound (NULL = infinite): the walk stops at the first item
     * >= bound, so it finds the range's end itself */
    const uint8_t *bound;
    bool at_bound;
    uint64_t bound_index;
    /* the peer's list: sorted in scratch, or streamed */
    bool sorted;
    size_t set_n, set_pos;
    peer_list peer;
    uint64_t matched;
    /* our list */
    evolu_tslist_size ours;
    uint64_t n_ours;
    /* stop */
    bool exceeded;
    uint64_t stop_index;
    evolu_timestamp stop_ts;
    evolu_err err;
} ts_walk;

static bool ts_equal(const evolu_timestamp *a, const evolu_timestamp *b) {
    return a->millis == b->millis && a->counter == b->counter &&
           memcmp(a->node_id, b->node_id, EVOLU_NODE_ID_BYTES) == 0;
}

/* Does the peer list t? Our timestamps come in ascending order. */
static bool peer_has(ts_walk *w, const uint8_t key[EVOLU_TIMESTAMP_BYTES],
                     const evolu_timestamp *t) {
    if (w->sorted) {
        uint8_t (*set)[EVOLU_TIMESTAMP_BYTES] = w->r->scratch;
        while (w->set_pos < w->set_n && memcmp(set[w->set_pos], key, EVOLU_TIMESTAMP_BYTES) < 0)
            w->set_pos++;
        return w->set_pos < w->set_n &&
               memcmp(set[w->set_pos], key, EVOLU_TIMESTAMP_BYTES) == 0;
    }
    /* The peer's list is sorted by millis only: skip the smaller millis, then
     * scan the run of equal millis. */
    evolu_timestamp x;
    /* Zeroed: a mark of an in-memory list sets only .mem, and gcc -O3 cannot
     * see that peer_reset then reads only .mem (-Wmaybe-uninitialized). */
    peer_mark m;
    memset(&m, 0, sizeof m);
    for (;;) {
        peer_mark_get(&w->peer, &m);
        if (peer_next(&w->peer, &x) != EVOLU_OK) {
            peer_reset(&w->peer, &m);
            return false;
        }
        if (x.millis >= t->millis) {
            peer_reset(&w->peer, &m);
            break;
        }
    }
    peer_mark_get(&w->peer, &m);
    bool found = false;
    while (peer_next(&w->peer, &x) == EVOLU_OK && x.millis == t->millis)
        if (ts_equal(&x, t)) {
            found = true;
            break;
        }
    peer_reset(&w->peer, &m);
    return found;
}

static bool ts_visit(void *ctx, const uint8_t key[EVOLU_TIMESTAMP_BYTES], uint64_t index) {
    ts_walk *w = ctx;
    const evolu_store *st = w->r->store;
    if (w->bound && memcmp(key, w->bound, EVOLU_TIMESTAMP_BYTES) >= 0) {
        w->at_bound = true;
        w->bound_index = index;
        return false;
    }
    evolu_timestamp t;
    evolu_err e = evolu_timestamp_from_bytes(key, &t);
    if (e) {
        w->err = store_fail(w->r, e);
        return false;
    }
    const uint8_t *change = NULL;
    size_t change_len = 0;
    bool has_msg = !peer_has(w, key, &t);
    size_t arena_before = w->b->arena_used;
    if (has_msg) {
        evolu_store_arena arena = {w->tc, top_arena_alloc};
        e = st->read_change(st->ctx, key, &arena, &change, &change_len);
        if (e == EVOLU_E_CAPACITY && w->b->n_msgs > 0) {
            /* No room in the arena beside the changes already in this reply:
             * it goes in a later round, as when the message is full (with an
             * arena of at least totalMaxSize, as the callers give, the
             * message would be full anyway). An empty reply that cannot hold
             * it stays an error: no later round could do better. */
            if (w->b->arena_used > arena_before)
                evolu_msg_builder_unalloc(w->b, w->b->arena_used - arena_before);
            w->exceeded = true;
            w->stop_index = index;
            w->stop_ts = t;
            return false;
        }
        if (e) {
            w->err = store_fail(w->r, e);
            return false;
        }
    } else {
        w->matched++;
    }
    if (has_msg && change_len > evolu_msg_size_change_max(w->b->size.total_max)) {
        /* No message of this size can ever carry it: answering with a
         * Fingerprint would make the peer ask again forever (spec 11 item 8:
         * stop rather than loop, and say why): a sync failure whose cause
         * is EVOLU_E_LIMIT, so a relay answers errorCode 4 and stops the
         * client too, instead of leaving it waiting. */
        w->err = store_fail(w->r, EVOLU_E_LIMIT);
        return false;
    }
    if (!evolu_msg_builder_can_add_timestamps_range_and_message(
            w->b, evolu_tslist_size_len(&w->ours), has_msg, change_len)) {
        w->exceeded = true;
        w->stop_index = index;
        w->stop_ts = t;
        if (w->b->arena_used > arena_before)
            evolu_msg_builder_unalloc(w->b, w->b->arena_used - arena_before);
        return false;
    }
    e = evolu_tslist_size_add(&w->ours, &t);
    if (!e && has_msg) e = evolu_msg_builder_add_message(w->b, &t, change, change_len);
    if (e) {
        w->err = e;
        return false;
    }
    if (w->copying) {
        evolu_msg_builder *b = w->b;
        if (!w->tc->on) {
            w->copying = false; /* dropped: the arena has its capacity back */
        } else if (b->arena_cap - b->arena_used >= EVOLU_TIMESTAMP_BYTES) {
            b->arena_cap -= EVOLU_TIMESTAMP_BYTES;
            memcpy(b->arena + b->arena_cap, key, EVOLU_TIMESTAMP_BYTES);
            w->n_copy++;
        } else {
            b->arena_cap += (size_t)w->n_copy * EVOLU_TIMESTAMP_BYTES;
            w->n_copy = 0;
            w->copying = false;
        }
    }
    w->n_ours++;
    return true;
}

/* Does the peer list a timestamp we do not have in [lower, upper)? (Streaming
 * mode: look each one up in the store.) */
static evolu_err peer_needs_stream(evolu_rbsr *r, const peer_range *rg, uint64_t size,
                                   uint64_t lower, uint64_t upper, bool *needs) {
    const evolu_store *st = r->store;
    peer_list lr;
    evolu_err e = peer_open(rg, &lr);
    if (e) return e;
    evolu_timestamp g;
    *needs = false;
    while ((e = peer_next(&lr, &g)) == EVOLU_OK) {
        uint8_t key[EVOLU_TIMESTAMP_BYTES], at[EVOLU_TIMESTAMP_BYTES];
        evolu_timestamp_to_bytes(&g, key);
        uint64_t idx;
        e = st->find_lower_bound(st->ctx, 0, size, key, &idx);
        if (e) return store_fail(r, e);
        bool have = false;
        if (idx >= lower && idx < upper) {
            e = evolu_store_timestamp_at(st, idx, at);
            if (e) return store_fail(r, e);
            have = memcmp(at, key, EVOLU_TIMESTAMP_BYTES) == 0;
        }
        if (!have) {
            *needs = true;
            return EVOLU_OK;
        }
    }
    return e == EVOLU_E_DONE ? EVOLU_OK : e;
}

/* --- sync (spec 6.5) ----------------------------------------------------------------------- */

typedef struct sync_state {
    evolu_rbsr *r;
    evolu_msg_builder *b;
    topc *tc;
    bool has_prev;
    evolu_timestamp prev_bound;   /* never infinite: only the last range is */
    bool pending_skip;
    bool non_skip_added;
} sync_state;

static evolu_err skip_range(sync_state *s, bool infinite) {
    if (s->non_skip_added && infinite) return evolu_msg_builder_add_skip(s->b, NULL);
    s->pending_skip = true;
    return EVOLU_OK;
}

static evolu_err before_non_skip(sync_state *s) {
    s->non_skip_added = true;
    if (!s->pending_skip) return EVOLU_OK;
    s->pending_skip = false;
    if (!s->has_prev) return EVOLU_E_STATE; /* cannot happen: a skip set it */
    return evolu_msg_builder_add_skip(s->b, &s->prev_bound);
}

/* "Continue in a later round": Fingerprint(Infinite) over our items from
 * begin. It does not flush a pending Skip (pitfall 11). */
static evolu_err remaining_fingerprint(sync_state *s, uint64_t begin, uint64_t size) {
    const evolu_store *st = s->r->store;
    uint8_t fp[EVOLU_FINGERPRINT_BYTES];
    evolu_err e = st->fingerprint(st->ctx, begin, size, fp);
    if (e) return store_fail(s->r, e);
    return evolu_msg_builder_add_fingerprint(s->b, NULL, fp);
}

/* One Timestamps range over our items from lower up to the first one >=
 * bound (NULL = infinite), which sets *upper: the walk finds the range's end
 * itself instead of a find_lower_bound reading those items first. *stop =
 * the reply is complete (size limit). */
static evolu_err timestamps_range(sync_state *s, const peer_range *rg, uint64_t size,
                                  uint64_t lower, const uint8_t *bound, uint64_t *upper,
                                  bool *stop) {
    evolu_rbsr *r = s->r;
    const evolu_store *st = r->store;
    ts_walk w;
    memset(&w, 0, sizeof w);
    w.r = r;
    w.b = s->b;
    w.tc = s->tc;
    w.bound = bound;
    evolu_tslist_size_init(&w.ours);
    evolu_err e;
    /* find_lower_bound's answer over the whole set is below lower exactly
     * when our item before lower is >= bound: the TypeScript storage's
     * SyncError (see reconcile) */
    if (lower == size) {
        w.bound = NULL;
    } else if (bound && lower > 0) {
        uint8_t prev[EVOLU_TIMESTAMP_BYTES];
        e = evolu_store_timestamp_at(st, lower - 1, prev);
        if (e) return store_fail(r, e);
        if (memcmp(prev, bound, EVOLU_TIMESTAMP_BYTES) >= 0) return store_fail(r, EVOLU_E_RANGES);
    }
    e = peer_open(rg, &w.peer);
    if (e) return e;
    if (rg->n_timestamps <= r->scratch_cap) {
        evolu_timestamp g;
        size_t n = 0;
        while ((e = peer_next(&w.peer, &g)) == EVOLU_OK)
            evolu_timestamp_to_bytes(&g, r->scratch[n++]);
        if (e != EVOLU_E_DONE) return e;
        w.sorted = true;
        w.set_n = sort_unique(r->scratch, n);
    }
    w.copying = s->tc->on && s->b->arena != NULL;
    e = st->iterate(st->ctx, lower, size, ts_visit, &w);
    if (e) return store_fail(r, e);
    if (w.err) return w.err;
    *upper = w.at_bound ? w.bound_index : size;
    uint8_t (*own)[EVOLU_TIMESTAMP_BYTES] = NULL;
    if (w.copying && s->tc->on && w.n_copy == w.n_ours && w.n_copy > 0) {
        own = (uint8_t(*)[EVOLU_TIMESTAMP_BYTES])(void *)(s->b->arena + s->b->arena_cap);
        for (uint64_t i = 0, j = w.n_copy - 1; i < j; i++, j--) swap16(own[i], own[j]);
    } else if (w.copying && s->tc->on) {
        s->b->arena_cap += (size_t)w.n_copy * EVOLU_TIMESTAMP_BYTES;
    }
    const uint8_t (*copy)[EVOLU_TIMESTAMP_BYTES] = (const uint8_t(*)[EVOLU_TIMESTAMP_BYTES])own;

    if (w.exceeded) {
        *upper = w.stop_index;
        e = before_non_skip(s);
        if (!e) e = builder_or_store(r, add_timestamps_slice(s->b, s->tc, st, &w.stop_ts,
                                                              lower, w.n_ours, true, copy));
        if (!e) e = remaining_fingerprint(s, *upper, size);
        *stop = true;
        return e;
    }
    bool needs;
    if (w.sorted) {
        needs = w.set_n > w.matched;
    } else {
        e = peer_needs_stream(r, rg, size, lower, *upper, &needs);
        if (e) return e;
    }
    if (!needs) {
        if (own) top_trim(s->tc, own, w.n_ours, 0);
        return skip_range(s, rg->infinite);
    }
    e = before_non_skip(s);
    if (e) return e;
    return builder_or_store(r, add_timestamps_slice(s->b, s->tc, st,
                                                    rg->infinite ? NULL : &rg->upper, lower,
                                                    w.n_ours, false, copy));
}

/* The next range of whichever reader is given. */
static evolu_err next_range(evolu_msg_reader *mem, evolu_msg_sreader *src, evolu_range *mr,
                            peer_range *rg) {
    evolu_err e;
    memset(rg, 0, sizeof *rg);
    if (src) {
        if ((e = evolu_msg_sreader_next_range(src, &rg->srange)) != EVOLU_OK) return e;
        rg->src = src;
        rg->type = rg->srange.type;
        rg->infinite = rg->srange.infinite;
        rg->upper = rg->srange.upper;
        memcpy(rg->fingerprint, rg->srange.fingerprint, EVOLU_FINGERPRINT_BYTES);
        rg->n_timestamps = rg->srange.n_timestamps;
        return EVOLU_OK;
    }
    if ((e = evolu_msg_reader_next_range(mem, mr)) != EVOLU_OK) return e;
    rg->mem = mr;
    rg->type = mr->type;
    rg->infinite = mr->infinite;
    rg->upper = mr->upper;
    if (mr->type == EVOLU_RANGE_FINGERPRINT)
        memcpy(rg->fingerprint, mr->fingerprint, EVOLU_FINGERPRINT_BYTES);
    rg->n_timestamps = mr->n_timestamps;
    return EVOLU_OK;
}

static evolu_err reconcile_ranges(evolu_rbsr *r, evolu_msg_reader *in, evolu_msg_sreader *sin,
                                  evolu_msg_builder *b, topc *tc, bool *changed) {
    *changed = false;
    r->cause = EVOLU_OK;
    const evolu_store *st = r->store;
    uint64_t initial = evolu_msg_builder_size(b);
    uint64_t size;
    evolu_err e = st->size(st->ctx, &size);
    if (e) return store_fail(r, e);

    sync_state s;
    memset(&s, 0, sizeof s);
    s.r = r;
    s.b = b;
    s.tc = tc;
    uint64_t prev_index = 0;
    if (sin)
        evolu_msg_sreader_rewind(sin);
    else
        evolu_msg_reader_rewind(in);
    evolu_range mr;
    peer_range rg;
    while ((e = next_range(in, sin, &mr, &rg)) == EVOLU_OK) {
        uint8_t bound[EVOLU_TIMESTAMP_BYTES];
        if (!rg.infinite) evolu_timestamp_to_bytes(&rg.upper, bound);
        uint64_t lower = prev_index, upper = size;
        if (rg.type != EVOLU_RANGE_TIMESTAMPS) { /* a Timestamps range finds it itself */
            e = st->find_lower_bound(st->ctx, prev_index, size, rg.infinite ? NULL : bound,
                                     &upper);
            if (e) return store_fail(r, e);
        }
        /* The TypeScript storage asserts begin <= end on fingerprint and
         * iterate: a bound below the previous one is a SyncError there. */
        if (rg.type != EVOLU_RANGE_SKIP && upper < lower) return store_fail(r, EVOLU_E_RANGES);

        switch (rg.type) {
        case EVOLU_RANGE_SKIP:
            e = skip_range(&s, rg.infinite);
            break;
        case EVOLU_RANGE_FINGERPRINT: {
            uint8_t fp[EVOLU_FINGERPRINT_BYTES];
            e = st->fingerprint(st->ctx, lower, upper, fp);
            if (e) return store_fail(r, e);
            if (memcmp(fp, rg.fingerprint, EVOLU_FINGERPRINT_BYTES) == 0) {
                e = skip_range(&s, rg.infinite);
            } else if (evolu_msg_builder_can_split_range(b)) {
                e = before_non_skip(&s);
                if (!e) e = split_range(r, s.tc, b, lower, upper,
                                        rg.infinite ? NULL : &rg.upper);
            } else {
                e = remaining_fingerprint(&s, upper, size);
                if (!e) *changed = true;
                return e;
            }
            break;
        }
        case EVOLU_RANGE_TIMESTAMPS: {
            bool stop = false;
            e = timestamps_range(&s, &rg, size, lower, rg.infinite ? NULL : bound, &upper,
                                 &stop);
            if (!e && stop) {
                *changed = true;
                return EVOLU_OK;
            }
            break;
        }
        default:
            return EVOLU_E_RANGE_TYPE;
        }
        if (e) return e;
        prev_index = upper;
        s.has_prev = !rg.infinite;
        if (!rg.infinite) s.prev_bound = rg.upper;
    }
    if (e != EVOLU_E_DONE) return e;
    *changed = evolu_msg_builder_size(b) > initial;
    return EVOLU_OK;
}

static evolu_err reconcile(evolu_rbsr *r, evolu_msg_reader *in, evolu_msg_sreader *sin,
                           evolu_msg_builder *b, bool *changed) {
    topc tc = {b, b->arena_cap, b->n_ranges, true};
    evolu_err e = reconcile_ranges(r, in, sin, b, &tc, changed);
    if (e) {
        top_release(&tc);
        return e;
    }
    top_settle(&tc);
    /* ranges whose copy was dropped: read once now rather than three times
     * when emitted, if the arena has room after all */
    cache_ranges(b, tc.from);
    return EVOLU_OK;
}

evolu_err evolu_rbsr_reconcile(evolu_rbsr *r, evolu_msg_reader *in, evolu_msg_builder *b,
                               bool *changed) {
    return reconcile(r, in, NULL, b, changed);
}

evolu_err evolu_rbsr_reconcile_source(evolu_rbsr *r, evolu_msg_sreader *in,
                                      evolu_msg_builder *b, bool *changed) {
    return reconcile(r, NULL, in, b, changed);
}

/* --- a batch over a reader's messages ---------------------------------------------------------- */

static void reader_rewind(void *ctx) { evolu_msg_reader_rewind(ctx); }

static evolu_err reader_next(void *ctx, evolu_timestamp *ts, const uint8_t **change,
                             size_t *change_len) {
    return evolu_msg_reader_next_message(ctx, ts, change, change_len);
}

void evolu_rbsr_batch_from_reader(evolu_store_batch *batch, evolu_msg_reader *copy,
                                  const evolu_msg_reader *in) {
    *copy = *in;
    evolu_msg_reader_rewind(copy);
    batch->ctx = copy;
    batch->count = in->n_messages;
    batch->rewind = reader_rewind;
    batch->next = reader_next;
}
