/* test_mem_index.c - the in-memory timestamp index (evolu/mem_index.h)
 * against a naive sorted-array model on 100,000 random operations (fixed
 * seed), plus batches: duplicates, first-wins, quota rollback, fault
 * injection and bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/mem_index.h"
#include "evolu/store.h"
#include "vec.h"

/* --- the model: sorted arrays -------------------------------------------------------- */

typedef struct model {
    uint8_t (*ts)[16];
    uint8_t (*fp)[12];
    uint32_t *tag; /* the change of item i is its 4-byte tag */
    size_t n, cap;
} model;

static size_t model_lb(const model *m, const uint8_t *key) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(m->ts[mid], key, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool model_insert(model *m, const uint8_t *key, const uint8_t *fp, uint32_t tag) {
    size_t i = model_lb(m, key);
    if (i < m->n && !memcmp(m->ts[i], key, 16)) return false;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->ts = realloc(m->ts, m->cap * 16);
        m->fp = realloc(m->fp, m->cap * 12);
        m->tag = realloc(m->tag, m->cap * sizeof *m->tag);
        if (!m->ts || !m->fp || !m->tag) abort();
    }
    memmove(m->ts + i + 1, m->ts + i, (m->n - i) * 16);
    memmove(m->fp + i + 1, m->fp + i, (m->n - i) * 12);
    memmove(m->tag + i + 1, m->tag + i, (m->n - i) * sizeof *m->tag);
    memcpy(m->ts[i], key, 16);
    memcpy(m->fp[i], fp, 12);
    m->tag[i] = tag;
    m->n++;
    return true;
}

/* --- helpers --------------------------------------------------------------------------- */

static uint64_t rng = 0x1234567887654321ULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static evolu_timestamp random_ts(void) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = 1700000000000ULL + rnd() % 2000;
    t.counter = (uint16_t)(rnd() % 3);
    t.node_id[7] = (uint8_t)(rnd() % 2);
    t.node_id[0] = 0xab;
    return t;
}

typedef struct collect {
    uint8_t (*ts)[16];
    uint64_t *idx;
    size_t n, stop_after;
} collect;

static bool collect_visit(void *ctx, const uint8_t ts[16], uint64_t index) {
    collect *c = ctx;
    memcpy(c->ts[c->n], ts, 16);
    c->idx[c->n] = index;
    c->n++;
    return c->n < c->stop_after;
}

static void random_ops(void) {
    const evolu_port *port = vec_port();
    evolu_mem_index *idx;
    CHECK(evolu_mem_index_create(port, &idx) == EVOLU_OK);
    evolu_store s;
    evolu_mem_index_store(idx, &s);
    model m = {0};
    collect c;
    c.ts = malloc(64 * 16);
    c.idx = malloc(64 * sizeof *c.idx);
    size_t fails = 0, ops = 100000;
    for (size_t op = 0; op < ops; op++) {
        unsigned kind = (unsigned)(rnd() % 100);
        uint64_t size = 0;
        if (s.size(s.ctx, &size) || size != m.n) fails++;
        if (kind < 40) { /* insert */
            evolu_timestamp t = random_ts();
            uint8_t key[16], fp[12];
            evolu_timestamp_to_bytes(&t, key);
            evolu_fingerprint(port, &t, fp);
            uint32_t tag = (uint32_t)op;
            uint8_t change[4];
            memcpy(change, &tag, 4);
            bool inserted = false;
            evolu_err e = evolu_mem_index_insert(idx, &t, change, (size_t)(op % 5), &inserted);
            bool model_new = model_insert(&m, key, fp, tag);
            if (e || inserted != model_new) fails++;
        } else if (kind < 65) { /* fingerprint */
            /* short windows mostly (the model pays O(length)), whole prefixes
             * and the whole set now and then */
            uint64_t b = m.n ? rnd() % (m.n + 1) : 0;
            uint64_t en = b + rnd() % 600;
            if (en > m.n) en = m.n;
            if (rnd() % 16 == 0) b = 0;
            if (rnd() % 64 == 0) en = m.n;
            uint8_t want[12] = {0}, got[12];
            for (uint64_t i = b; i < en; i++) evolu_fingerprint_xor(want, m.fp[i]);
            if (s.fingerprint(s.ctx, b, en, got) || memcmp(got, want, 12)) fails++;
        } else if (kind < 85) { /* lower bound */
            evolu_timestamp t = random_ts();
            uint8_t key[16];
            evolu_timestamp_to_bytes(&t, key);
            uint64_t begin = m.n ? rnd() % (m.n + 1) : 0, got = 0;
            bool inf = rnd() % 16 == 0;
            uint64_t want = model_lb(&m, key);
            if (want == m.n) want = m.n; /* none >= bound -> end (= size) */
            if (m.n == 0 || begin == m.n || inf) want = m.n;
            if (s.find_lower_bound(s.ctx, begin, m.n, inf ? NULL : key, &got) || got != want)
                fails++;
        } else if (kind < 95) { /* iterate a window */
            uint64_t b = m.n ? rnd() % (m.n + 1) : 0;
            uint64_t len = rnd() % 40;
            uint64_t en = b + len > m.n ? m.n : b + len;
            c.n = 0;
            c.stop_after = rnd() % 4 == 0 ? 1 + rnd() % 8 : 64;
            if (s.iterate(s.ctx, b, en, collect_visit, &c)) fails++;
            size_t expect = (size_t)(en - b);
            if (expect > c.stop_after) expect = c.stop_after;
            if (c.n != expect) fails++;
            for (size_t i = 0; i < c.n && i < expect; i++)
                if (c.idx[i] != b + i || memcmp(c.ts[i], m.ts[b + i], 16)) fails++;
        } else { /* read a change */
            if (m.n == 0) continue;
            size_t i = (size_t)(rnd() % m.n);
            const uint8_t *ch;
            size_t len;
            uint8_t at[16];
            if (evolu_store_timestamp_at(&s, i, at) || memcmp(at, m.ts[i], 16)) fails++;
            if (s.read_change(s.ctx, m.ts[i], NULL, &ch, &len)) {
                fails++;
            } else {
                uint8_t want[4];
                memcpy(want, &m.tag[i], 4);
                if (len != m.tag[i] % 5 || (len && memcmp(ch, want, len))) fails++;
            }
        }
    }
    CHECK(fails == 0);
    CHECK(m.n > 5000);
    printf("random ops: %zu ops, %zu items, %zu mismatches\n", ops, m.n, fails);
    free(c.ts);
    free(c.idx);
    free(m.ts);
    free(m.fp);
    free(m.tag);
    evolu_mem_index_destroy(idx);
}

static evolu_timestamp ts_n(unsigned i) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = 1000 + i;
    t.node_id[0] = 1;
    return t;
}

static void batches(void) {
    const evolu_port *port = vec_port();
    evolu_mem_index *idx;
    CHECK(evolu_mem_index_create(port, &idx) == EVOLU_OK);
    evolu_store s;
    evolu_mem_index_store(idx, &s);

    /* duplicates inside a batch: the first one wins */
    evolu_timestamp ts[4] = {ts_n(1), ts_n(2), ts_n(1), ts_n(3)};
    const uint8_t a[] = "aa", b[] = "bbb", c2[] = "c", d[] = "dddd";
    const uint8_t *ch[4] = {a, b, c2, d};
    size_t lens[4] = {2, 3, 1, 4};
    evolu_store_array_batch arr;
    evolu_store_batch batch;
    evolu_store_batch_from_array(&batch, &arr, ts, ch, lens, 4);
    CHECK(s.write_messages(s.ctx, &batch) == EVOLU_OK);
    CHECK(evolu_mem_index_size(idx) == 3);
    CHECK(evolu_mem_index_stored_bytes(idx) == 9);
    uint8_t key[16];
    const uint8_t *got;
    size_t len;
    evolu_timestamp_to_bytes(&ts[0], key);
    CHECK(s.read_change(s.ctx, key, NULL, &got, &len) == EVOLU_OK && len == 2 &&
          !memcmp(got, "aa", 2));

    /* a stored change is never replaced */
    bool inserted = true;
    CHECK(evolu_mem_index_insert(idx, &ts[0], (const uint8_t *)"zz", 2, &inserted) == EVOLU_OK);
    CHECK(!inserted);
    CHECK(s.read_change(s.ctx, key, NULL, &got, &len) == EVOLU_OK && !memcmp(got, "aa", 2));

    /* quota: all or nothing */
    evolu_mem_index_set_quota(idx, 12);
    evolu_timestamp more[3] = {ts_n(10), ts_n(0), ts_n(2)};
    const uint8_t *mch[3] = {d, d, d};
    size_t mlens[3] = {2, 2, 4}; /* ts_n(2) is stored: its bytes do not count */
    evolu_store_batch_from_array(&batch, &arr, more, mch, mlens, 3);
    CHECK(s.write_messages(s.ctx, &batch) == EVOLU_E_QUOTA);
    CHECK(evolu_mem_index_size(idx) == 3 && evolu_mem_index_stored_bytes(idx) == 9);
    uint8_t fp_before[12], fp_after[12];
    CHECK(s.fingerprint(s.ctx, 0, 3, fp_before) == EVOLU_OK);
    evolu_mem_index_set_quota(idx, 13);
    CHECK(s.write_messages(s.ctx, &batch) == EVOLU_OK);
    CHECK(evolu_mem_index_size(idx) == 5 && evolu_mem_index_stored_bytes(idx) == 13);
    CHECK(s.fingerprint(s.ctx, 1, 4, fp_after) == EVOLU_OK);
    CHECK(!memcmp(fp_before, fp_after, 12)); /* ts 1,2,3 now at indices 1..3 */

    /* bad arguments */
    uint8_t fp[12];
    uint64_t out;
    CHECK(s.fingerprint(s.ctx, 3, 2, fp) == EVOLU_E_ARG);
    CHECK(s.fingerprint(s.ctx, 0, 6, fp) == EVOLU_E_ARG);
    CHECK(s.fingerprint(s.ctx, 2, 2, fp) == EVOLU_OK && !memcmp(fp, "\0\0\0\0\0\0\0\0\0\0\0", 12));
    CHECK(s.find_lower_bound(s.ctx, 3, 2, key, &out) == EVOLU_E_ARG);
    CHECK(s.iterate(s.ctx, 0, 7, collect_visit, NULL) == EVOLU_E_ARG);
    CHECK(evolu_store_timestamp_at(&s, 5, key) == EVOLU_E_ARG);
    CHECK(evolu_store_timestamp_at(&s, UINT64_MAX, key) == EVOLU_E_ARG);
    evolu_timestamp absent = ts_n(99);
    evolu_timestamp_to_bytes(&absent, key);
    CHECK(s.read_change(s.ctx, key, NULL, &got, &len) == EVOLU_E_ARG);
    /* whole-set lower bound semantics: beyond every item -> end */
    CHECK(s.find_lower_bound(s.ctx, 0, 5, key, &out) == EVOLU_OK && out == 5);
    evolu_timestamp first = ts_n(0);
    evolu_timestamp_to_bytes(&first, key);
    CHECK(s.find_lower_bound(s.ctx, 3, 5, key, &out) == EVOLU_OK && out == 0);
    CHECK(s.find_lower_bound(s.ctx, 5, 5, key, &out) == EVOLU_OK && out == 5);

    /* fault injection */
    evolu_mem_index_fail_after(idx, 2, EVOLU_E_STATE);
    CHECK(s.size(s.ctx, &out) == EVOLU_OK);
    CHECK(s.size(s.ctx, &out) == EVOLU_E_STATE);
    CHECK(s.fingerprint(s.ctx, 0, 1, fp) == EVOLU_E_STATE);
    evolu_mem_index_fail_after(idx, 0, EVOLU_OK);
    CHECK(s.size(s.ctx, &out) == EVOLU_OK && out == 5);

    evolu_mem_index_destroy(idx);
    evolu_mem_index_destroy(NULL);
}

int main(void) {
    random_ops();
    batches();
    return vec_finish();
}
