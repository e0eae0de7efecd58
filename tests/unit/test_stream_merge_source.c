/* test_stream_merge_source.c - evolu_stream_store_merge_source (a batch whose
 * changes are not in memory, e.g. a received message the host keeps) against
 * evolu_stream_store_merge on the same batches: the same entries in the same
 * order, the same inserted counts, the same blobs; duplicates inside a batch
 * and changes already stored are kept once; a failing put is passed through
 * and acknowledges nothing; missing callbacks are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/stream_store.h"
#include "test_stream_host.h"
#include "vec.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint8_t g_change[4096];

typedef struct dev {
    mhost h;
    evolu_stream_host host;
    evolu_stream_trusted t;
    evolu_stream_store s;
} dev;

static dev *dev_new(void) {
    dev *d = calloc(1, sizeof *d);
    if (!d) abort();
    memset(d->t.key, 7, sizeof d->t.key);
    d->h.persisted = d->t;
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
    if (evolu_stream_store_open(&d->s) != EVOLU_OK) abort();
    return d;
}

static void dev_free(dev *d) {
    mh_free(&d->h);
    free(d);
}

/* --- a batch in an array; the source variant hands out no pointers ------------------ */

#define MAX_ITEMS 200
typedef struct batch {
    evolu_timestamp ts[MAX_ITEMS];
    uint8_t change[MAX_ITEMS][40];
    size_t len[MAX_ITEMS];
    size_t n, pos;
    bool source;          /* next() hides the change; put() copies it */
    uint64_t last;        /* position of the last item handed out */
    dev *target;          /* put() writes its blob there */
    long fail_put_at;     /* the put that fails (-1: none) */
    long puts;
} batch;

static void b_rewind(void *ctx) { ((batch *)ctx)->pos = 0; }
static evolu_err b_next(void *ctx, evolu_timestamp *ts, const uint8_t **change, size_t *len) {
    batch *b = ctx;
    if (b->pos == b->n) return EVOLU_E_DONE;
    size_t i = b->pos++;
    *ts = b->ts[i];
    *len = b->len[i];
    b->last = i;
    static const uint8_t junk[40]; /* never read by the source merge */
    *change = b->source ? junk : b->change[i];
    return EVOLU_OK;
}
static uint64_t b_position(void *ctx) { return ((batch *)ctx)->last; }
static evolu_err b_put(void *ctx, uint64_t pos, const uint8_t ts[16], size_t len) {
    batch *b = ctx;
    if (b->puts++ == b->fail_put_at) return EVOLU_E_STORAGE;
    if (pos >= b->n || len != b->len[pos]) return EVOLU_E_STATE;
    uint8_t want[16];
    evolu_timestamp_to_bytes(&b->ts[pos], want);
    if (memcmp(want, ts, 16) != 0) return EVOLU_E_STATE;
    return b->target->host.blob_put(b->target->host.ctx, ts, b->change[pos], len);
}

static evolu_timestamp rand_ts(void) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = 1700000000000ULL + rnd() % 5000;
    t.counter = (uint16_t)(rnd() % 3);
    for (size_t k = 0; k < sizeof t.node_id; k++) t.node_id[k] = (uint8_t)(rnd() % 2);
    return t;
}

static void batch_fill(batch *b, size_t n) {
    memset(b, 0, sizeof *b);
    b->fail_put_at = -1;
    for (size_t i = 0; i < n; i++) {
        /* some duplicates of earlier items in the same batch */
        if (i > 0 && rnd() % 8 == 0) b->ts[i] = b->ts[rnd() % i];
        else b->ts[i] = rand_ts();
        b->len[i] = 1 + (size_t)(rnd() % sizeof b->change[i]);
        for (size_t k = 0; k < b->len[i]; k++) b->change[i][k] = (uint8_t)rnd();
    }
    b->n = n;
}

/* --- comparing two stores ------------------------------------------------------------ */

typedef struct keys {
    uint8_t ts[4 * MAX_ITEMS * 4][16];
    size_t n;
} keys;

static bool collect(void *ctx, const uint8_t key[16], uint64_t index) {
    (void)index;
    keys *k = ctx;
    if (k->n < sizeof k->ts / sizeof k->ts[0]) memcpy(k->ts[k->n], key, 16);
    k->n++;
    return true;
}

static bool same_store(dev *a, dev *b) {
    static keys ka, kb;
    ka.n = kb.n = 0;
    evolu_store sa, sb;
    evolu_stream_store_table(&a->s, &sa);
    evolu_stream_store_table(&b->s, &sb);
    uint64_t na = evolu_stream_store_count(&a->s), nb = evolu_stream_store_count(&b->s);
    if (na != nb) return false;
    if (sa.iterate(sa.ctx, 0, na, collect, &ka) || sb.iterate(sb.ctx, 0, nb, collect, &kb))
        return false;
    if (ka.n != kb.n || memcmp(ka.ts, kb.ts, ka.n * 16) != 0) return false;
    for (size_t i = 0; i < ka.n; i++) {
        size_t la = 0, lb = 0;
        uint8_t ba[64], bb[64];
        if (a->host.blob_size(a->host.ctx, ka.ts[i], &la) ||
            b->host.blob_size(b->host.ctx, kb.ts[i], &lb) || la != lb || la > sizeof ba)
            return false;
        if (a->host.blob_read(a->host.ctx, ka.ts[i], 0, ba, la) ||
            b->host.blob_read(b->host.ctx, kb.ts[i], 0, bb, lb) || memcmp(ba, bb, la) != 0)
            return false;
    }
    return true;
}

static void test_same_as_merge(void) {
    dev *a = dev_new(), *b = dev_new();
    static batch bt;
    for (int round = 0; round < 12; round++) {
        size_t n = 1 + (size_t)(rnd() % MAX_ITEMS);
        batch_fill(&bt, n);
        evolu_store_batch sb = {&bt, bt.n, b_rewind, b_next};
        uint64_t ia = 0, ib = 0;
        bt.source = false;
        evolu_err ea = evolu_stream_store_merge(&a->s, &sb, &ia);
        bt.source = true;
        bt.target = b;
        evolu_stream_changes ch = {&bt, b_position, b_put};
        evolu_err eb = evolu_stream_store_merge_source(&b->s, &sb, &ch, &ib);
        CHECK(ea == EVOLU_OK && eb == EVOLU_OK);
        CHECK(ia == ib);
        CHECK((uint64_t)bt.puts == ib); /* one put per new entry, none for duplicates */
        CHECK(same_store(a, b));
        /* the same batch again: everything is stored already */
        bt.puts = 0;
        ib = 99;
        eb = evolu_stream_store_merge_source(&b->s, &sb, &ch, &ib);
        CHECK(eb == EVOLU_OK && ib == 0 && bt.puts == 0);
    }
    dev_free(a);
    dev_free(b);
}

static void test_errors(void) {
    dev *d = dev_new();
    static batch bt;
    batch_fill(&bt, 50);
    bt.source = true;
    bt.target = d;
    evolu_store_batch sb = {&bt, bt.n, b_rewind, b_next};
    uint64_t ins = 7;
    evolu_stream_changes none = {&bt, NULL, b_put};
    CHECK(evolu_stream_store_merge_source(&d->s, &sb, &none, &ins) == EVOLU_E_ARG && ins == 0);
    CHECK(evolu_stream_store_merge_source(&d->s, &sb, NULL, &ins) == EVOLU_E_ARG);
    /* a put that fails: passed through, nothing acknowledged */
    evolu_stream_changes ch = {&bt, b_position, b_put};
    bt.fail_put_at = 3;
    uint64_t before = evolu_stream_store_count(&d->s);
    CHECK(evolu_stream_store_merge_source(&d->s, &sb, &ch, &ins) == EVOLU_E_STORAGE);
    CHECK(evolu_stream_store_count(&d->s) == before);
    /* and the store keeps working */
    bt.fail_put_at = -1;
    bt.puts = 0;
    CHECK(evolu_stream_store_merge_source(&d->s, &sb, &ch, &ins) == EVOLU_OK && ins > 0);
    CHECK(evolu_stream_store_count(&d->s) == before + ins);
    dev_free(d);
}

int main(void) {
    test_same_as_merge();
    test_errors();
    return vec_finish();
}
