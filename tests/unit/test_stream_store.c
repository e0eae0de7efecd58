/* test_stream_store.c - the device's stream store (evolu/stream_store.h) over
 * an in-memory untrusted host: round trips against a reference set, the
 * working set, host tampering (every byte flipped, replayed, truncated,
 * swapped, foreign chunks, wrong key) with its typed errors, and power cuts
 * at every write point of a merge. Runs on the host and under QEMU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/stream_store.h"
#include "test_stream_host.h"
#include "vec.h"

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint8_t g_change[4096];

/* --- a device: host + trusted state + store ---------------------------------------- */

typedef struct dev {
    mhost h;
    evolu_stream_host host;
    evolu_stream_trusted t;
    evolu_stream_store s;
    evolu_store st;
} dev;

static void dev_store(dev *d) {
    mh_table(&d->h, &d->host);
    evolu_stream_config c;
    memset(&c, 0, sizeof c);
    c.port = vec_port();
    c.host = &d->host;
    c.trusted = &d->t;
    c.save = mh_save;
    c.save_ctx = &d->h;
    c.change_buf = g_change;
    c.change_cap = sizeof g_change;
    evolu_stream_store_init(&d->s, &c);
    evolu_stream_store_table(&d->s, &d->st);
}

static dev *dev_new(uint8_t key_byte) {
    dev *d = calloc(1, sizeof *d);
    if (!d) abort();
    memset(d->t.key, key_byte, sizeof d->t.key);
    d->h.persisted = d->t;
    dev_store(d);
    if (evolu_stream_store_open(&d->s) != EVOLU_OK) abort();
    return d;
}

/* Power on again: the device reads its persisted trusted state, the host
 * shows what it kept; returns open's result. */
static evolu_err dev_reboot(dev *d) {
    mh_reboot(&d->h);
    d->t = d->h.persisted;
    dev_store(d);
    return evolu_stream_store_open(&d->s);
}

/* Forgets the cursor by reopening the store over the same host (no I/O
 * while the host is down: the state is rebuilt by hand). */
static void dev_reset_cursor(dev *d) {
    uint64_t seq = d->s.seq, count = d->s.count;
    uint32_t nchunks = d->s.nchunks;
    dev_store(d);
    d->s.opened = true;
    d->s.seq = seq;
    d->s.count = count;
    d->s.nchunks = nchunks;
}

static void dev_free(dev *d) {
    mh_free(&d->h);
    free(d);
}

/* --- the reference: a sorted set of (ts, fingerprint, change) ---------------------- */

typedef struct item {
    uint8_t ts[16], fp[12];
    uint8_t change[64];
    size_t len;
} item;

typedef struct ref {
    item *v;
    size_t n;
} ref;

static int item_cmp(const void *a, const void *b) {
    return memcmp(((const item *)a)->ts, ((const item *)b)->ts, 16);
}

static item make_item(const evolu_timestamp *t, uint8_t variant) {
    item it;
    memset(&it, 0, sizeof it);
    evolu_timestamp_to_bytes(t, it.ts);
    uint8_t d[32];
    vec_port()->sha256(NULL, d, it.ts, 16);
    memcpy(it.fp, d, 12);
    it.len = 1 + (d[20] % 63);
    for (size_t k = 0; k < it.len; k++) it.change[k] = (uint8_t)(d[k % 32] ^ variant ^ k);
    return it;
}

static bool ref_has(const ref *r, const uint8_t ts[16]) {
    item key;
    memcpy(key.ts, ts, 16);
    return r->n && bsearch(&key, r->v, r->n, sizeof *r->v, item_cmp) != NULL;
}

/* A batch: items in random order, with duplicates (of stored items and
 * repeated inside the batch with another change: the first must win). */
typedef struct batch {
    evolu_timestamp ts[400];
    const uint8_t *changes[400];
    size_t lens[400];
    item items[400];
    size_t n;
    evolu_store_array_batch arr;
    evolu_store_batch b;
} batch;

static evolu_timestamp rand_ts(uint64_t spread) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = 1700000000000ULL + rnd() % spread;
    t.counter = (uint16_t)(rnd() % 3);
    memset(t.node_id, (int)(1 + rnd() % 3), sizeof t.node_id);
    return t;
}

static void batch_make(batch *bt, const ref *r, size_t n, uint64_t spread) {
    bt->n = 0;
    for (size_t i = 0; i < n && bt->n < 400; i++) {
        evolu_timestamp t;
        uint64_t k = rnd() % 10;
        if (k == 0 && r->n) {
            /* a stored one, with a different change: ignored */
            evolu_timestamp_from_bytes(r->v[rnd() % r->n].ts, &t);
        } else if (k == 1 && bt->n) {
            t = bt->ts[rnd() % bt->n]; /* repeated in the batch */
        } else {
            t = rand_ts(spread);
        }
        bt->ts[bt->n] = t;
        bt->items[bt->n] = make_item(&t, (uint8_t)(k + 1));
        bt->n++;
    }
    for (size_t i = 0; i < bt->n; i++) {
        bt->changes[i] = bt->items[i].change;
        bt->lens[i] = bt->items[i].len;
    }
    evolu_store_batch_from_array(&bt->b, &bt->arr, bt->ts, bt->changes, bt->lens, bt->n);
}

/* r := r u batch, first occurrence wins. Returns the number new. */
static size_t ref_merge(ref *r, const batch *bt) {
    size_t added = 0;
    r->v = realloc(r->v, (r->n + bt->n + 1) * sizeof *r->v);
    if (!r->v) abort();
    for (size_t i = 0; i < bt->n; i++) {
        if (ref_has(r, bt->items[i].ts)) continue;
        r->v[r->n++] = bt->items[i];
        qsort(r->v, r->n, sizeof *r->v, item_cmp);
        added++;
    }
    return added;
}

static void ref_copy(ref *dst, const ref *src) {
    dst->n = src->n;
    dst->v = mh_dup(src->v, (src->n + 1) * sizeof *src->v);
}

/* --- comparing a store with the reference ------------------------------------------------- */

typedef struct walk {
    const ref *r;
    uint64_t n;
    bool ok;
} walk;

static bool walk_visit(void *ctx, const uint8_t ts[16], uint64_t i) {
    walk *w = ctx;
    if (i != w->n || i >= w->r->n || memcmp(ts, w->r->v[i].ts, 16) != 0) w->ok = false;
    w->n++;
    return true;
}

static size_t ref_lower_bound(const ref *r, const uint8_t *b) {
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (memcmp(r->v[mid].ts, b, 16) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Everything the store tells equals the reference. */
static bool same(dev *d, const ref *r, unsigned probes) {
    evolu_store *st = &d->st;
    uint64_t n;
    if (st->size(st->ctx, &n) || n != r->n) return false;
    walk w = {r, 0, true};
    if (st->iterate(st->ctx, 0, n, walk_visit, &w) || !w.ok || w.n != n) return false;
    for (size_t i = 0; i < r->n; i++) {
        const uint8_t *c;
        size_t len;
        if (st->read_change(st->ctx, r->v[i].ts, NULL, &c, &len) || len != r->v[i].len ||
            memcmp(c, r->v[i].change, len) != 0)
            return false;
    }
    for (unsigned p = 0; p < probes; p++) {
        uint64_t a = n ? rnd() % (n + 1) : 0, b = n ? rnd() % (n + 1) : 0;
        if (a > b) {
            uint64_t x = a;
            a = b;
            b = x;
        }
        uint8_t fp[12], want[12] = {0};
        for (uint64_t i = a; i < b; i++) evolu_fingerprint_xor(want, r->v[i].fp);
        if (st->fingerprint(st->ctx, a, b, fp) || memcmp(fp, want, 12) != 0) return false;
        uint8_t bound[16];
        if (r->n && rnd() % 2) {
            memcpy(bound, r->v[rnd() % r->n].ts, 16);
            if (rnd() % 2) bound[15] ^= 1;
        } else {
            evolu_timestamp t = rand_ts(3000);
            evolu_timestamp_to_bytes(&t, bound);
        }
        uint64_t got, exp = ref_lower_bound(r, bound);
        if (exp == n) exp = n; /* end */
        if (st->find_lower_bound(st->ctx, 0, n, bound, &got) || got != exp) return false;
    }
    return true;
}

/* An arena over one buffer (what a reply builder gives a store). */
typedef struct big_arena {
    uint8_t *p;
    size_t cap, used;
} big_arena;

static evolu_err big_alloc(void *ctx, size_t n, uint8_t **out) {
    big_arena *a = ctx;
    if (n > a->cap - a->used) return EVOLU_E_CAPACITY;
    *out = a->p + a->used;
    a->used += n;
    return EVOLU_OK;
}

/* --- round trips ---------------------------------------------------------------------------- */

static void test_roundtrip(void) {
    dev *d = dev_new(0x11);
    ref r = {NULL, 0};
    CHECK(same(d, &r, 4));
    batch *bt = malloc(sizeof *bt);
    if (!bt) abort();
    bool all = true;
    uint64_t inserted_total = 0, reads = 0, writes = 0, scans = 0;
    for (int round = 0; round < 25; round++) {
        batch_make(bt, &r, (size_t)(rnd() % 200), 3000);
        uint64_t ins;
        evolu_err e = evolu_stream_store_merge(&d->s, &bt->b, &ins);
        size_t added = ref_merge(&r, bt);
        inserted_total += ins;
        if (e || ins != added || !same(d, &r, 40)) {
            printf("round %d: merge %s, inserted %llu (want %lu)\n", round, evolu_errname(e),
                   (unsigned long long)ins, (unsigned long)added);
            all = false;
            break;
        }
        reads += d->s.stats.chunk_reads;
        writes += d->s.stats.chunk_writes;
        scans += d->s.stats.batch_scans;
        memset(&d->s.stats, 0, sizeof d->s.stats);
        if (round % 5 == 4 && (dev_reboot(d) != EVOLU_OK || !same(d, &r, 10) ||
                               evolu_stream_store_check(&d->s) != EVOLU_OK))
            all = false;
    }
    CHECK(all);
    printf("round trips: %lu entries in %u chunks after 25 merges (%llu inserted), "
           "%llu chunk reads (merges and checks), %llu chunk writes, %llu batch scans\n",
           (unsigned long)r.n, (unsigned)d->s.nchunks, (unsigned long long)inserted_total, (unsigned long long)reads,
           (unsigned long long)writes, (unsigned long long)scans);
    /* a batch of nothing new leaves the generation as it was */
    uint64_t seq = d->t.seq, ins = 1;
    batch_make(bt, &r, 0, 3000);
    CHECK(evolu_stream_store_merge(&d->s, &bt->b, &ins) == EVOLU_OK && ins == 0 &&
          d->t.seq == seq);
    /* merging through the evolu_store table */
    batch_make(bt, &r, 50, 3000);
    CHECK(d->st.write_messages(d->st.ctx, &bt->b) == EVOLU_OK);
    ref_merge(&r, bt);
    CHECK(same(d, &r, 20));
    /* bad arguments */
    uint8_t fp[12];
    CHECK(d->st.fingerprint(d->st.ctx, 2, 1, fp) == EVOLU_E_ARG);
    CHECK(d->st.fingerprint(d->st.ctx, 0, r.n + 1, fp) == EVOLU_E_ARG);
    uint8_t missing[16] = {0};
    const uint8_t *c;
    size_t len;
    CHECK(d->st.read_change(d->st.ctx, missing, NULL, &c, &len) == EVOLU_E_ARG);
    uint64_t lb;
    CHECK(d->st.find_lower_bound(d->st.ctx, 0, r.n, NULL, &lb) == EVOLU_OK && lb == r.n);
    CHECK(d->st.find_lower_bound(d->st.ctx, 2, 1, missing, &lb) == EVOLU_E_ARG);
    /* the trusted clock follows the largest timestamp written */
    CHECK(memcmp(d->t.clock, r.v[r.n - 1].ts, 16) == 0);
    /* a host that stops answering: its error comes back as is */
    d->h.dead = true;
    dev_reset_cursor(d);
    CHECK(d->st.fingerprint(d->st.ctx, 0, r.n, fp) == EVOLU_E_STORAGE);
    CHECK(evolu_stream_store_merge(&d->s, &bt->b, NULL) == EVOLU_E_STORAGE);
    d->h.dead = false;
    CHECK(dev_reboot(d) == EVOLU_OK && same(d, &r, 5));
    /* a change far larger than any device buffer is stored whole, read back
     * whole through an arena, and refused (never cut) where it does not fit */
    {
        size_t big_n = 100000;
        uint8_t *big = malloc(big_n), *arena_mem = malloc(big_n);
        if (!big || !arena_mem) abort();
        for (size_t i = 0; i < big_n; i++) big[i] = (uint8_t)(i * 31 + 7);
        evolu_timestamp bt1 = rand_ts(3000);
        bt1.millis += 10000000; /* not stored yet */
        const uint8_t *bc[1] = {big};
        size_t bl[1] = {big_n};
        evolu_store_array_batch ba;
        evolu_store_batch bb;
        evolu_store_batch_from_array(&bb, &ba, &bt1, bc, bl, 1);
        CHECK(evolu_stream_store_merge(&d->s, &bb, NULL) == EVOLU_OK);
        uint8_t key[16];
        evolu_timestamp_to_bytes(&bt1, key);
        big_arena ar = {arena_mem, big_n, 0};
        evolu_store_arena arena = {&ar, big_alloc};
        CHECK(d->st.read_change(d->st.ctx, key, &arena, &c, &len) == EVOLU_OK &&
              len == big_n && memcmp(c, big, big_n) == 0);
        ar.cap = big_n - 1;
        ar.used = 0;
        CHECK(d->st.read_change(d->st.ctx, key, &arena, &c, &len) == EVOLU_E_CAPACITY);
        CHECK(d->st.read_change(d->st.ctx, key, NULL, &c, &len) == EVOLU_E_BUFFER);
        free(big);
        free(arena_mem);
        /* (the reference set no longer matches: nothing is compared after this) */
    }
    /* nothing works before open */
    evolu_stream_store fresh;
    evolu_stream_store_init(&fresh, &d->s.cfg);
    uint64_t sz;
    evolu_store fs;
    evolu_stream_store_table(&fresh, &fs);
    CHECK(fs.size(fs.ctx, &sz) == EVOLU_E_STATE &&
          evolu_stream_store_merge(&fresh, &bt->b, NULL) == EVOLU_E_STATE &&
          evolu_stream_store_check(&fresh) == EVOLU_E_STATE);
    free(bt);
    free(r.v);
    dev_free(d);
}

/* --- the working set -------------------------------------------------------------------------- */

static void test_working_set(void) {
    printf("working set: evolu_stream_store is %lu bytes (limit 4096): two records of %u B, "
           "%u selected batch items of %lu B, cursor and prefix memo\n",
           (unsigned long)sizeof(evolu_stream_store), (unsigned)EVOLU_STREAM_RECORD_BYTES,
           (unsigned)EVOLU_STREAM_SELECT,
           (unsigned long)sizeof(((evolu_stream_store *)0)->sel[0]));
    CHECK(sizeof(evolu_stream_store) <= 4096);
}

/* --- tampering -------------------------------------------------------------------------------- */

/* open + full check on the current host bytes */
static evolu_err open_check(dev *d) {
    evolu_err e = dev_reboot(d);
    if (!e) e = evolu_stream_store_check(&d->s);
    return e;
}

static void set_index(dev *d, const uint8_t *p, size_t n) {
    free(d->h.idx);
    d->h.idx = mh_dup(p, n);
    d->h.idx_len = n;
}

static void test_tamper(void) {
    rng = 0xd1b54a32d192ed03ULL;
    dev *d = dev_new(0x22);
    ref r = {NULL, 0};
    batch *bt = malloc(sizeof *bt);
    if (!bt) abort();
    batch_make(bt, &r, 60, 100000);
    CHECK(evolu_stream_store_merge(&d->s, &bt->b, NULL) == EVOLU_OK);
    ref_merge(&r, bt);
    size_t old_len = d->h.idx_len;
    uint8_t *old = mh_dup(d->h.idx, old_len);
    batch_make(bt, &r, 40, 100000);
    CHECK(evolu_stream_store_merge(&d->s, &bt->b, NULL) == EVOLU_OK);
    ref_merge(&r, bt);
    size_t len = d->h.idx_len;
    uint8_t *good = mh_dup(d->h.idx, len);
    unsigned chunks = (unsigned)d->s.nchunks;
    CHECK(chunks >= 3 && open_check(d) == EVOLU_OK && same(d, &r, 10));

    /* every byte flipped (each bit position in turn) */
    size_t flips = 0, detected = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t *bad = mh_dup(good, len);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        set_index(d, bad, len);
        free(bad);
        evolu_err e = open_check(d);
        flips++;
        if (e == EVOLU_E_STREAM_TAMPERED) detected++;
        else printf("flip at %lu: %s\n", (unsigned long)i, evolu_errname(e));
    }
    printf("tamper: %lu of %lu single-bit flips (every byte of a %lu-byte index, %u chunks) "
           "refused as EVOLU_E_STREAM_TAMPERED\n", (unsigned long)detected,
           (unsigned long)flips, (unsigned long)len, chunks);
    CHECK(detected == flips);

    /* the previous generation replayed */
    set_index(d, old, old_len);
    CHECK(open_check(d) == EVOLU_E_STREAM_REPLAY);
    /* truncated at every length */
    size_t cuts = 0, trunc = 0;
    for (size_t n = 0; n < len; n++) {
        set_index(d, good, n);
        cuts++;
        if (open_check(d) == EVOLU_E_STREAM_TRUNCATED) trunc++;
    }
    printf("tamper: %lu of %lu truncations refused as EVOLU_E_STREAM_TRUNCATED\n",
           (unsigned long)trunc, (unsigned long)cuts);
    CHECK(trunc == cuts);
    /* a whole chunk cut out, the trailer kept */
    uint8_t *cut = mh_dup(good, len);
    memmove(cut + EVOLU_STREAM_RECORD_BYTES, cut + 2 * EVOLU_STREAM_RECORD_BYTES,
            len - 2 * EVOLU_STREAM_RECORD_BYTES);
    set_index(d, cut, len - EVOLU_STREAM_RECORD_BYTES);
    CHECK(open_check(d) == EVOLU_E_STREAM_TRUNCATED);
    free(cut);
    /* two chunks swapped */
    uint8_t *sw = mh_dup(good, len);
    memcpy(sw, good + EVOLU_STREAM_RECORD_BYTES, EVOLU_STREAM_RECORD_BYTES);
    memcpy(sw + EVOLU_STREAM_RECORD_BYTES, good, EVOLU_STREAM_RECORD_BYTES);
    set_index(d, sw, len);
    CHECK(open_check(d) == EVOLU_E_STREAM_ORDER);
    /* chunk 0 of the previous generation in place of the current one */
    memcpy(sw, good, len);
    memcpy(sw, old, EVOLU_STREAM_RECORD_BYTES);
    set_index(d, sw, len);
    CHECK(open_check(d) == EVOLU_E_STREAM_REPLAY);
    /* the previous trailer on the current chunks */
    memcpy(sw, good, len);
    memcpy(sw + len - EVOLU_STREAM_TRAILER_BYTES, old + old_len - EVOLU_STREAM_TRAILER_BYTES,
           EVOLU_STREAM_TRAILER_BYTES);
    set_index(d, sw, len);
    CHECK(open_check(d) == EVOLU_E_STREAM_REPLAY);
    free(sw);
    /* an index that vanished */
    set_index(d, good, 0);
    CHECK(open_check(d) == EVOLU_E_STREAM_TRUNCATED);
    /* the right bytes under another key */
    set_index(d, good, len);
    d->h.persisted.key[0] ^= 1;
    CHECK(open_check(d) == EVOLU_E_STREAM_TAMPERED);
    d->h.persisted.key[0] ^= 1;
    /* and the untouched index still opens and reads back */
    CHECK(open_check(d) == EVOLU_OK && same(d, &r, 20));
    free(old);
    free(good);
    free(bt);
    free(r.v);
    dev_free(d);
}

/* --- power cuts at every write point ------------------------------------------------------------ */

/* Restores dst to a snapshot of host + trusted state. */
static void restore(dev *d, const mhost *snap) {
    mh_free(&d->h);
    mh_copy(&d->h, snap);
    d->t = d->h.persisted;
    dev_store(d);
}

static void test_power(void) {
    rng = 0x9e3779b97f4a7c15ULL; /* the same cases whatever ran before */
    dev *d = dev_new(0x33);
    ref r = {NULL, 0};
    batch *bt = malloc(sizeof *bt);
    if (!bt) abort();
    batch_make(bt, &r, 300, 20000);
    CHECK(evolu_stream_store_merge(&d->s, &bt->b, NULL) == EVOLU_OK);
    ref_merge(&r, bt);
    mhost snap;
    mh_copy(&snap, &d->h);
    batch_make(bt, &r, 200, 20000);
    ref after;
    ref_copy(&after, &r);
    ref_merge(&after, bt);

    /* a run without a cut counts the write points */
    restore(d, &snap);
    CHECK(evolu_stream_store_open(&d->s) == EVOLU_OK);
    long ops0 = d->h.ops;
    CHECK(evolu_stream_store_merge(&d->s, &bt->b, NULL) == EVOLU_OK && same(d, &after, 10));
    long points = d->h.ops - ops0;
    printf("power: a merge of %lu messages (%lu new) into %lu entries has %ld write points "
           "(%ld blob puts, %ld appends, %ld commit, %ld trusted saves)\n",
           (unsigned long)bt->n, (unsigned long)(after.n - r.n), (unsigned long)r.n, points, d->h.puts, d->h.appends, d->h.commits,
           d->h.saves);

    size_t exercised = 0, ok_old = 0, ok_new = 0, bad = 0, torn_refused = 0, replays = 0;
    size_t complete_shadow = 0;
    for (int torn = 0; torn < 2; torn++) {
        for (long k = 1; k <= points; k++) {
            restore(d, &snap);
            if (evolu_stream_store_open(&d->s) != EVOLU_OK) {
                bad++;
                continue;
            }
            d->h.cut_at = d->h.ops + k;
            d->h.torn = torn;
            evolu_err e = evolu_stream_store_merge(&d->s, &bt->b, NULL);
            exercised++;
            if (e == EVOLU_OK) { /* the cut must have stopped it */
                bad++;
                continue;
            }
            /* a host that presents the torn, uncommitted generation */
            if (d->h.writing && d->h.shadow_len) {
                mhost evil;
                mh_copy(&evil, &d->h);
                free(evil.idx);
                evil.idx = mh_dup(d->h.shadow, d->h.shadow_len);
                evil.idx_len = d->h.shadow_len;
                dev *e2 = calloc(1, sizeof *e2);
                if (!e2) abort();
                e2->h = evil;
                /* refused when torn; a complete one (cut at the commit) is the
                 * begun generation itself and may be accepted as such */
                if (dev_reboot(e2) != EVOLU_OK || evolu_stream_store_check(&e2->s) != EVOLU_OK)
                    torn_refused++;
                else if (same(e2, &after, 8))
                    complete_shadow++;
                else
                    bad++;
                dev_free(e2);
            }
            /* honest recovery: the old or (if committed) the new generation */
            uint64_t committed_new = d->h.commits;
            e = dev_reboot(d);
            if (e) {
                printf("cut %ld%s: reopen %s\n", k, torn ? " torn" : "", evolu_errname(e));
                bad++;
                continue;
            }
            if (evolu_stream_store_check(&d->s) == EVOLU_OK && same(d, &r, 8) && !committed_new)
                ok_old++;
            else if (same(d, &after, 8) && committed_new)
                ok_new++;
            else {
                printf("cut %ld%s: recovered state is neither\n", k, torn ? " torn" : "");
                bad++;
                continue;
            }
            /* after a promotion the old generation is a replay */
            if (committed_new) {
                mhost keep;
                mh_copy(&keep, &d->h);
                free(d->h.idx);
                d->h.idx = mh_dup(snap.idx, snap.idx_len);
                d->h.idx_len = snap.idx_len;
                if (dev_reboot(d) == EVOLU_E_STREAM_REPLAY) replays++;
                else bad++;
                mh_free(&d->h);
                d->h = keep;
                if (dev_reboot(d) != EVOLU_OK) bad++;
            }
            /* and the store keeps working: the batch again, then more */
            uint64_t ins = 0;
            e = evolu_stream_store_merge(&d->s, &bt->b, &ins);
            if (e || ins != (committed_new ? 0 : after.n - r.n) || !same(d, &after, 8) ||
                dev_reboot(d) != EVOLU_OK || !same(d, &after, 4)) {
                printf("cut %ld%s: merge after recovery %s, %llu inserted\n", k,
                       torn ? " torn" : "", evolu_errname(e), (unsigned long long)ins);
                bad++;
            }
        }
    }
    printf("power: %lu cut points exercised (%ld write points x clean/torn): %lu recovered the "
           "old generation, %lu the new one; an uncommitted generation shown by the host: %lu "
           "torn ones refused, %lu complete ones accepted as the begun generation; %lu "
           "replays of the old index after promotion refused; %lu failures\n",
           (unsigned long)exercised, points, (unsigned long)ok_old, (unsigned long)ok_new,
           (unsigned long)torn_refused, (unsigned long)complete_shadow, (unsigned long)replays,
           (unsigned long)bad);
    CHECK(bad == 0 && exercised == (size_t)(2 * points) && ok_old + ok_new == exercised);

    /* acknowledged means kept: after an acknowledged merge only the new
     * generation opens */
    restore(d, &snap);
    CHECK(evolu_stream_store_open(&d->s) == EVOLU_OK);
    CHECK(evolu_stream_store_merge(&d->s, &bt->b, NULL) == EVOLU_OK);
    free(d->h.idx);
    d->h.idx = mh_dup(snap.idx, snap.idx_len);
    d->h.idx_len = snap.idx_len;
    CHECK(dev_reboot(d) == EVOLU_E_STREAM_REPLAY);

    /* the crash between the host's commit and the acknowledgement, with a
     * host that then shows the OLD index: accepted (nothing was acknowledged),
     * and the abandoned generation can never come back afterwards */
    restore(d, &snap);
    CHECK(evolu_stream_store_open(&d->s) == EVOLU_OK);
    d->h.cut_at = d->h.ops + points; /* the last write point: the acknowledgement */
    CHECK(evolu_stream_store_merge(&d->s, &bt->b, NULL) == EVOLU_E_STORAGE);
    uint8_t *newer = mh_dup(d->h.idx, d->h.idx_len);
    size_t newer_len = d->h.idx_len;
    free(d->h.idx);
    d->h.idx = mh_dup(snap.idx, snap.idx_len);
    d->h.idx_len = snap.idx_len;
    CHECK(dev_reboot(d) == EVOLU_OK && same(d, &r, 8));
    batch *b2 = malloc(sizeof *b2);
    if (!b2) abort();
    batch_make(b2, &r, 10, 20000);
    CHECK(evolu_stream_store_merge(&d->s, &b2->b, NULL) == EVOLU_OK);
    free(d->h.idx);
    d->h.idx = newer;
    d->h.idx_len = newer_len;
    CHECK(dev_reboot(d) == EVOLU_E_STREAM_REPLAY);
    free(b2);
    mh_free(&snap);
    free(after.v);
    free(bt);
    free(r.v);
    dev_free(d);
}

int main(void) {
    test_working_set();
    test_roundtrip();
    test_tamper();
    test_power();
    return vec_finish();
}
