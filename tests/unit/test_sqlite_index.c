/* test_sqlite_index.c - the SQLite timestamp index (evolu/sqlite_index.h)
 * against the in-memory index (evolu/mem_index.h) on random operations with a
 * fixed seed: batches in append order and in random order, with duplicates
 * inside a batch and against stored items, zero-length changes, then
 * fingerprints of random ranges, lower bounds of random bounds, walks and
 * changes read back - all must equal the in-memory index's answers. Also two
 * owners in one file, the quota, bad arguments, a savepoint inside the
 * caller's own transaction, the tree checker, and reopening the file. */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evolu/mem_index.h"
#include "evolu/sqlite_index.h"
#include "evolu/store.h"
#include "vec.h"

static const uint8_t OWNER_A[16] = {0xa1, 1, 2, 3};
static const uint8_t OWNER_B[16] = {0xb2, 5, 6, 7};

static uint64_t rng = 0x0123456789abcdefULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A pair under test: the reference and the SQLite store for one owner. */
typedef struct pair {
    evolu_mem_index *mem;
    evolu_store ms, ss;
    uint64_t next_millis; /* for appends */
} pair;

#define BATCH_MAX 300
static evolu_timestamp g_ts[BATCH_MAX];
static uint8_t g_bytes[BATCH_MAX][48];
static const uint8_t *g_ch[BATCH_MAX];
static size_t g_len[BATCH_MAX];

static evolu_timestamp ts_random(void) {
    /* a narrow space, so random batches hit stored timestamps too */
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = 1700000000000ULL + rnd() % 20000;
    t.counter = (uint16_t)(rnd() % 3);
    t.node_id[0] = 0xcd;
    t.node_id[7] = (uint8_t)(rnd() % 3);
    return t;
}

static evolu_err write_both(pair *p, size_t n, evolu_err *mem_err) {
    evolu_store_array_batch a1, a2;
    evolu_store_batch b1, b2;
    evolu_store_batch_from_array(&b1, &a1, g_ts, g_ch, g_len, n);
    evolu_store_batch_from_array(&b2, &a2, g_ts, g_ch, g_len, n);
    *mem_err = p->ms.write_messages(p->ms.ctx, &b1);
    return p->ss.write_messages(p->ss.ctx, &b2);
}

/* A random batch: appended or random timestamps, some repeated. */
static size_t make_batch(pair *p, bool append) {
    size_t n = 1 + (size_t)(rnd() % BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && rnd() % 10 == 0) {
            g_ts[i] = g_ts[rnd() % i]; /* repeated in the batch: the first wins */
        } else if (append) {
            memset(&g_ts[i], 0, sizeof g_ts[i]);
            g_ts[i].millis = p->next_millis;
            g_ts[i].counter = (uint16_t)(rnd() % 2);
            if (g_ts[i].counter) p->next_millis++;
            g_ts[i].node_id[0] = 0xee;
            p->next_millis += rnd() % 3;
        } else {
            g_ts[i] = ts_random();
        }
        g_len[i] = (size_t)(rnd() % 49); /* 0 .. 48 bytes */
        for (size_t k = 0; k < g_len[i]; k++) g_bytes[i][k] = (uint8_t)rnd();
        g_ch[i] = g_bytes[i];
    }
    return n;
}

typedef struct walk {
    uint8_t ts[64][16];
    uint64_t idx[64];
    size_t n, stop;
} walk;

static bool walk_visit(void *ctx, const uint8_t ts[16], uint64_t index) {
    walk *w = ctx;
    if (w->n < 64) {
        memcpy(w->ts[w->n], ts, 16);
        w->idx[w->n] = index;
    }
    w->n++;
    return w->n < w->stop;
}

/* Random queries on both stores; returns false on the first difference
 * (and says which). */
#define DIFF(what)                                                    \
    do {                                                              \
        fprintf(stderr, "differs: %s (n=%llu)\n", what, (unsigned long long)n); \
        return false;                                                 \
    } while (0)
static bool compare(pair *p, int queries) {
    uint64_t n1, n2;
    uint64_t n = 0;
    if (p->ms.size(p->ms.ctx, &n1) || p->ss.size(p->ss.ctx, &n2) || n1 != n2) DIFF("size");
    n = n1;
    for (int q = 0; q < queries; q++) {
        uint64_t b = rnd() % (n + 1), e = rnd() % (n + 1);
        if (b > e) {
            uint64_t t = b;
            b = e;
            e = t;
        }
        if (q % 2) { /* short ranges too: both ends often share a path */
            e = b + rnd() % 150;
            if (e > n) e = n;
        }
        uint8_t f1[12], f2[12];
        if (p->ms.fingerprint(p->ms.ctx, b, e, f1) || p->ss.fingerprint(p->ss.ctx, b, e, f2) ||
            memcmp(f1, f2, 12))
            DIFF("fingerprint");

        /* a bound: a stored timestamp, a random one, or infinite */
        uint8_t key[16];
        const uint8_t *bound = key;
        int kind = (int)(rnd() % 4);
        if (kind == 0 && n) {
            if (evolu_store_timestamp_at(&p->ms, rnd() % n, key)) DIFF("timestamp_at");
        } else if (kind == 3) {
            bound = NULL;
        } else {
            evolu_timestamp t = ts_random();
            if (kind == 2) t.millis += rnd() % 2 ? 1000000 : 0;
            evolu_timestamp_to_bytes(&t, key);
        }
        uint64_t l1, l2;
        if (p->ms.find_lower_bound(p->ms.ctx, b, e, bound, &l1) ||
            p->ss.find_lower_bound(p->ss.ctx, b, e, bound, &l2) || l1 != l2)
            DIFF("lower bound");

        /* a short walk, sometimes stopped early */
        walk w1, w2;
        memset(&w1, 0, sizeof w1);
        memset(&w2, 0, sizeof w2);
        w1.stop = w2.stop = rnd() % 2 ? 64 : 1 + rnd() % 64;
        uint64_t we = b + rnd() % 70;
        if (we > n) we = n;
        if (p->ms.iterate(p->ms.ctx, b, we, walk_visit, &w1) ||
            p->ss.iterate(p->ss.ctx, b, we, walk_visit, &w2) || w1.n != w2.n ||
            memcmp(w1.ts, w2.ts, sizeof w1.ts) || memcmp(w1.idx, w2.idx, sizeof w1.idx))
            DIFF("iterate");

        /* a stored change read back */
        if (n) {
            const uint8_t *c1, *c2;
            size_t len1, len2;
            if (evolu_store_timestamp_at(&p->ss, rnd() % n, key) ||
                p->ms.read_change(p->ms.ctx, key, NULL, &c1, &len1) ||
                p->ss.read_change(p->ss.ctx, key, NULL, &c2, &len2) || len1 != len2 ||
                (len1 && memcmp(c1, c2, len1)))
                DIFF("read_change");
        }
    }
    return true;
}
#undef DIFF

/* The whole content, in order, with changes. */
static bool same_content(pair *p) {
    uint64_t n;
    if (p->ms.size(p->ms.ctx, &n)) return false;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t k1[16], k2[16];
        const uint8_t *c1, *c2;
        size_t l1, l2;
        if (evolu_store_timestamp_at(&p->ms, i, k1) || evolu_store_timestamp_at(&p->ss, i, k2) ||
            memcmp(k1, k2, 16) || p->ms.read_change(p->ms.ctx, k1, NULL, &c1, &l1) ||
            p->ss.read_change(p->ss.ctx, k1, NULL, &c2, &l2) || l1 != l2 ||
            (l1 && memcmp(c1, c2, l1)))
            return false;
    }
    uint8_t f1[12], f2[12];
    return !p->ms.fingerprint(p->ms.ctx, 0, n, f1) && !p->ss.fingerprint(p->ss.ctx, 0, n, f2) &&
           !memcmp(f1, f2, 12);
}

static void pair_open(pair *p, evolu_sqlite_index *x, const uint8_t *owner) {
    memset(p, 0, sizeof *p);
    CHECK(evolu_mem_index_create(vec_port(), &p->mem) == EVOLU_OK);
    evolu_mem_index_store(p->mem, &p->ms);
    CHECK(evolu_sqlite_index_store(x, owner, &p->ss) == EVOLU_OK);
    p->next_millis = 1700000030000ULL;
}

static void random_rounds(evolu_sqlite_index *x, pair *a, pair *b, int rounds) {
    int same = 0, refused = 0;
    for (int r = 0; r < rounds; r++) {
        pair *p = rnd() % 3 ? a : b;
        int mode = (int)(rnd() % 3); /* 0 append, 1 random, 2 both halves */
        size_t n = make_batch(p, mode == 0);
        if (mode == 2) {
            size_t half = n / 2;
            for (size_t i = 0; i < half; i++) {
                g_ts[i].millis = p->next_millis + i;
                g_ts[i].node_id[0] = 0xee;
            }
            p->next_millis += half;
        }
        evolu_err me, se = write_both(p, n, &me);
        if (se == me)
            same++;
        else
            vec_check(false, "round %d: sqlite %s, mem %s", r, evolu_errname(se),
                      evolu_errname(me));
        if (me) refused++;
        if (!compare(p, 20)) {
            vec_check(false, "round %d: answers differ", r);
            return;
        }
        if (r % 50 == 49) {
            CHECK(evolu_sqlite_index_verify(x, OWNER_A) == EVOLU_OK);
            CHECK(evolu_sqlite_index_verify(x, OWNER_B) == EVOLU_OK);
        }
    }
    uint64_t sa = 0, sb = 0, ba = 0;
    CHECK(evolu_sqlite_index_owner_usage(x, OWNER_A, &sa, &ba) == EVOLU_OK);
    CHECK(evolu_sqlite_index_owner_usage(x, OWNER_B, &sb, NULL) == EVOLU_OK);
    CHECK(sa == evolu_mem_index_size(a->mem) && sb == evolu_mem_index_size(b->mem));
    CHECK(ba == evolu_mem_index_stored_bytes(a->mem));
    printf("random rounds: %d batches, %d same results (%d refused), owners hold %llu and %llu\n",
           rounds, same, refused, (unsigned long long)sa, (unsigned long long)sb);
    CHECK(same == rounds && sa > 5000);
}

static void bad_arguments(pair *p) {
    uint64_t n, out;
    uint8_t fp[12], key[16] = {0};
    CHECK(p->ss.size(p->ss.ctx, &n) == EVOLU_OK && n > 0);
    CHECK(p->ss.fingerprint(p->ss.ctx, 2, 1, fp) == EVOLU_E_ARG);
    CHECK(p->ss.fingerprint(p->ss.ctx, 0, n + 1, fp) == EVOLU_E_ARG);
    CHECK(p->ss.fingerprint(p->ss.ctx, n, n, fp) == EVOLU_OK);
    static const uint8_t zero[12];
    CHECK(!memcmp(fp, zero, 12));
    CHECK(p->ss.find_lower_bound(p->ss.ctx, 2, 1, key, &out) == EVOLU_E_ARG);
    CHECK(p->ss.find_lower_bound(p->ss.ctx, 0, 0, key, &out) == EVOLU_OK && out == 0);
    CHECK(p->ss.find_lower_bound(p->ss.ctx, 0, 5, key, &out) == EVOLU_OK && out == 0);
    memset(key, 0xff, 16);
    CHECK(p->ss.find_lower_bound(p->ss.ctx, 0, 5, key, &out) == EVOLU_OK && out == 5);
    walk w;
    memset(&w, 0, sizeof w);
    w.stop = 64;
    CHECK(p->ss.iterate(p->ss.ctx, 3, 2, walk_visit, &w) == EVOLU_E_ARG);
    CHECK(p->ss.iterate(p->ss.ctx, 0, n + 1, walk_visit, &w) == EVOLU_E_ARG);
    CHECK(p->ss.iterate(p->ss.ctx, n, n, walk_visit, &w) == EVOLU_OK && w.n == 0);
    const uint8_t *c;
    size_t len;
    CHECK(p->ss.read_change(p->ss.ctx, key, NULL, &c, &len) == EVOLU_E_ARG);
    uint8_t out_ts[16];
    CHECK(evolu_store_timestamp_at(&p->ss, n, out_ts) == EVOLU_E_ARG);
}

static void empty_owner(evolu_sqlite_index *x) {
    static const uint8_t nobody[16] = {0x0e};
    evolu_store s;
    CHECK(evolu_sqlite_index_store(x, nobody, &s) == EVOLU_OK);
    uint64_t n = 1, out = 9;
    uint8_t fp[12] = {1}, key[16] = {0};
    static const uint8_t zero[12];
    CHECK(s.size(s.ctx, &n) == EVOLU_OK && n == 0);
    CHECK(s.fingerprint(s.ctx, 0, 0, fp) == EVOLU_OK && !memcmp(fp, zero, 12));
    CHECK(s.find_lower_bound(s.ctx, 0, 0, key, &out) == EVOLU_OK && out == 0);
    /* an empty batch and an all-duplicate batch store nothing */
    evolu_store_array_batch a;
    evolu_store_batch b;
    evolu_store_batch_from_array(&b, &a, g_ts, g_ch, g_len, 0);
    CHECK(s.write_messages(s.ctx, &b) == EVOLU_OK && s.size(s.ctx, &n) == EVOLU_OK && n == 0);
    CHECK(evolu_sqlite_index_verify(x, nobody) == EVOLU_OK);
}

/* Quota: a batch over it stores nothing on both sides. */
static void quota(evolu_sqlite_index *x, pair *p) {
    uint64_t used = evolu_mem_index_stored_bytes(p->mem), n0 = evolu_mem_index_size(p->mem);
    evolu_mem_index_set_quota(p->mem, used + 100);
    evolu_sqlite_index_set_quota(x, used + 100);
    size_t n = 50;
    for (size_t i = 0; i < n; i++) {
        memset(&g_ts[i], 0, sizeof g_ts[i]);
        g_ts[i].millis = p->next_millis++;
        g_len[i] = 10;
        g_ch[i] = g_bytes[i];
    }
    evolu_err me, se = write_both(p, n, &me);
    CHECK(se == EVOLU_E_QUOTA && me == EVOLU_E_QUOTA);
    uint64_t sz;
    CHECK(p->ss.size(p->ss.ctx, &sz) == EVOLU_OK && sz == n0);
    se = write_both(p, 10, &me); /* exactly up to the quota */
    CHECK(se == EVOLU_OK && me == EVOLU_OK && p->ss.size(p->ss.ctx, &sz) == EVOLU_OK &&
          sz == n0 + 10);
    evolu_mem_index_set_quota(p->mem, 0);
    evolu_sqlite_index_set_quota(x, 0);
    CHECK(compare(p, 50) && evolu_sqlite_index_verify(x, OWNER_A) == EVOLU_OK);
}

/* The caller's handle inside its own transaction: our savepoint nests, and
 * the caller's rollback undoes our write too. */
static void callers_handle(const char *path) {
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    evolu_sqlite_index *x;
    CHECK(evolu_sqlite_index_open_db(vec_port(), db, &x) == EVOLU_OK);
    evolu_store s;
    CHECK(evolu_sqlite_index_store(x, OWNER_B, &s) == EVOLU_OK);
    uint64_t n0, n1;
    CHECK(s.size(s.ctx, &n0) == EVOLU_OK);
    CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    memset(&g_ts[0], 0, sizeof g_ts[0]);
    g_ts[0].millis = 1800000000000ULL;
    g_len[0] = 3;
    evolu_store_array_batch a;
    evolu_store_batch b;
    evolu_store_batch_from_array(&b, &a, g_ts, g_ch, g_len, 1);
    CHECK(s.write_messages(s.ctx, &b) == EVOLU_OK && s.size(s.ctx, &n1) == EVOLU_OK &&
          n1 == n0 + 1);
    CHECK(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(s.size(s.ctx, &n1) == EVOLU_OK && n1 == n0);
    CHECK(evolu_sqlite_index_verify(x, OWNER_B) == EVOLU_OK);
    evolu_sqlite_index_close(x);
    CHECK(sqlite3_close(db) == SQLITE_OK);
}

/* The read cache never serves a stale node: reads after another connection
 * commits, after the caller's own SQL changes a node row, and after a
 * transaction that wrote and read and then rolled back, all see the file. */
static void read_cache(const char *path) {
    evolu_sqlite_index *x, *y;
    CHECK(evolu_sqlite_index_open_path(vec_port(), path, &x) == EVOLU_OK);
    CHECK(evolu_sqlite_index_open_path(vec_port(), path, &y) == EVOLU_OK);
    evolu_store sx, sy;
    CHECK(evolu_sqlite_index_store(x, OWNER_B, &sx) == EVOLU_OK);
    CHECK(evolu_sqlite_index_store(y, OWNER_B, &sy) == EVOLU_OK);
    uint64_t n0 = 0, n1 = 0;
    uint8_t f0[12], f1[12], f2[12];
    CHECK(sx.size(sx.ctx, &n0) == EVOLU_OK && n0 > 0);
    CHECK(sx.fingerprint(sx.ctx, 0, n0, f0) == EVOLU_OK); /* fills x's cache */
    /* another connection appends */
    memset(&g_ts[0], 0, sizeof g_ts[0]);
    g_ts[0].millis = 1900000000000ULL;
    g_len[0] = 3;
    evolu_store_array_batch a;
    evolu_store_batch b;
    evolu_store_batch_from_array(&b, &a, g_ts, g_ch, g_len, 1);
    CHECK(sy.write_messages(sy.ctx, &b) == EVOLU_OK);
    CHECK(sx.size(sx.ctx, &n1) == EVOLU_OK && n1 == n0 + 1);
    CHECK(sx.fingerprint(sx.ctx, 0, n1, f1) == EVOLU_OK &&
          sy.fingerprint(sy.ctx, 0, n1, f2) == EVOLU_OK && !memcmp(f1, f2, 12) &&
          memcmp(f0, f1, 12) != 0);
    /* a transaction that writes, reads and rolls back on x's own handle */
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    evolu_sqlite_index *z;
    CHECK(evolu_sqlite_index_open_db(vec_port(), db, &z) == EVOLU_OK);
    evolu_store sz;
    CHECK(evolu_sqlite_index_store(z, OWNER_B, &sz) == EVOLU_OK);
    CHECK(sz.fingerprint(sz.ctx, 0, n1, f2) == EVOLU_OK && !memcmp(f1, f2, 12));
    CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    g_ts[0].millis++;
    evolu_store_batch_from_array(&b, &a, g_ts, g_ch, g_len, 1);
    CHECK(sz.write_messages(sz.ctx, &b) == EVOLU_OK);
    CHECK(sz.fingerprint(sz.ctx, 0, n1 + 1, f2) == EVOLU_OK);
    CHECK(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    uint64_t n2 = 0;
    CHECK(sz.size(sz.ctx, &n2) == EVOLU_OK && n2 == n1);
    CHECK(sz.fingerprint(sz.ctx, 0, n1, f2) == EVOLU_OK && !memcmp(f1, f2, 12));
    /* the caller's own SQL damages the root, then mends it: each next read
     * must notice */
    CHECK(sqlite3_exec(db,
                       "CREATE TEMP TABLE keep AS SELECT id, data FROM evolu_idx_node WHERE id ="
                       " (SELECT root FROM evolu_idx_owner WHERE ownerId ="
                       " x'b2050607000000000000000000000000');"
                       "UPDATE evolu_idx_node SET data = x'00' WHERE id = (SELECT id FROM keep)",
                       NULL, NULL, NULL) == SQLITE_OK);
    CHECK(sz.fingerprint(sz.ctx, 0, n1, f2) == EVOLU_E_STORAGE);
    CHECK(sqlite3_exec(db,
                       "UPDATE evolu_idx_node SET data = (SELECT data FROM keep)"
                       " WHERE id = (SELECT id FROM keep)",
                       NULL, NULL, NULL) == SQLITE_OK);
    CHECK(sz.fingerprint(sz.ctx, 0, n1, f2) == EVOLU_OK && !memcmp(f1, f2, 12));
    CHECK(evolu_sqlite_index_verify(z, OWNER_B) == EVOLU_OK);
    evolu_sqlite_index_close(z);
    sqlite3_close(db);
    evolu_sqlite_index_close(x);
    evolu_sqlite_index_close(y);
}

/* A write that fails half-way (a trigger refuses one message) stores
 * nothing: no message, no node, no usage. */
static void failed_write(const char *path) {
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    evolu_sqlite_index *x;
    CHECK(evolu_sqlite_index_open_db(vec_port(), db, &x) == EVOLU_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TEMP TRIGGER refuse BEFORE INSERT ON evolu_idx_message "
                       "WHEN new.change = x'dead' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
                       NULL, NULL, NULL) == SQLITE_OK);
    evolu_store s;
    CHECK(evolu_sqlite_index_store(x, OWNER_A, &s) == EVOLU_OK);
    uint64_t n0, b0, n1, b1;
    CHECK(evolu_sqlite_index_owner_usage(x, OWNER_A, &n0, &b0) == EVOLU_OK);
    static const uint8_t dead[2] = {0xde, 0xad};
    size_t n = 200;
    for (size_t i = 0; i < n; i++) {
        memset(&g_ts[i], 0, sizeof g_ts[i]);
        g_ts[i].millis = 1900000000000ULL + i; /* enough to split nodes before failing */
        g_ch[i] = i == n - 1 ? dead : g_bytes[i];
        g_len[i] = 2;
    }
    evolu_store_array_batch a;
    evolu_store_batch b;
    evolu_store_batch_from_array(&b, &a, g_ts, g_ch, g_len, n);
    CHECK(s.write_messages(s.ctx, &b) == EVOLU_E_STORAGE);
    CHECK(evolu_sqlite_index_owner_usage(x, OWNER_A, &n1, &b1) == EVOLU_OK && n1 == n0 &&
          b1 == b0);
    CHECK(evolu_sqlite_index_verify(x, OWNER_A) == EVOLU_OK);
    g_ch[n - 1] = g_bytes[n - 1];
    CHECK(s.write_messages(s.ctx, &b) == EVOLU_OK);
    CHECK(evolu_sqlite_index_owner_usage(x, OWNER_A, &n1, &b1) == EVOLU_OK && n1 == n0 + n &&
          b1 == b0 + 2 * n);
    CHECK(evolu_sqlite_index_verify(x, OWNER_A) == EVOLU_OK);
    evolu_sqlite_index_close(x);
    CHECK(sqlite3_close(db) == SQLITE_OK);
}

/* Damaged node rows give EVOLU_E_STORAGE (or a well-formed answer), never a
 * crash or an out-of-bounds read; verify notices. Run last: it ruins the
 * file. */
static void damaged(const char *path) {
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    evolu_sqlite_index *x;
    CHECK(evolu_sqlite_index_open_db(vec_port(), db, &x) == EVOLU_OK);
    evolu_store s;
    CHECK(evolu_sqlite_index_store(x, OWNER_B, &s) == EVOLU_OK);
    static const char *const damage[] = {
        "UPDATE evolu_idx_node SET data = x'01'",
        "UPDATE evolu_idx_node SET data = x'0140'",
        "UPDATE evolu_idx_node SET data = substr(data, 1, length(data) - 1)",
        /* an inner node whose one child has id 0 and count 0 */
        ("UPDATE evolu_idx_node SET data = x'000100"
         "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000'"),
        "DELETE FROM evolu_idx_node",
    };
    for (size_t k = 0; k < sizeof damage / sizeof damage[0]; k++) {
        CHECK(sqlite3_exec(db, "SAVEPOINT t", NULL, NULL, NULL) == SQLITE_OK);
        CHECK(sqlite3_exec(db, damage[k], NULL, NULL, NULL) == SQLITE_OK);
        uint64_t n = 0, out;
        uint8_t fp[12], key[16] = {0x01, 0x8c};
        walk w;
        memset(&w, 0, sizeof w);
        w.stop = 64;
        CHECK(s.size(s.ctx, &n) == EVOLU_OK && n > 10);
        CHECK(s.fingerprint(s.ctx, 1, n - 1, fp) == EVOLU_E_STORAGE);
        CHECK(s.find_lower_bound(s.ctx, 0, n, key, &out) == EVOLU_E_STORAGE);
        CHECK(s.iterate(s.ctx, 0, n, walk_visit, &w) == EVOLU_E_STORAGE);
        CHECK(evolu_sqlite_index_verify(x, OWNER_B) != EVOLU_OK);
        memset(&g_ts[0], 0, sizeof g_ts[0]);
        g_ts[0].millis = 1950000000000ULL;
        g_len[0] = 1;
        evolu_store_array_batch a;
        evolu_store_batch b;
        evolu_store_batch_from_array(&b, &a, g_ts, g_ch, g_len, 1);
        CHECK(s.write_messages(s.ctx, &b) == EVOLU_E_STORAGE);
        CHECK(sqlite3_exec(db, "ROLLBACK TO t; RELEASE t", NULL, NULL, NULL) == SQLITE_OK);
    }
    CHECK(evolu_sqlite_index_verify(x, OWNER_B) == EVOLU_OK);
    evolu_sqlite_index_close(x);
    CHECK(sqlite3_close(db) == SQLITE_OK);
}

int main(void) {
    char dir[] = "/tmp/evolu_sqlidx_XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char path[256], tmp[300];
    snprintf(path, sizeof path, "%s/index.db", dir);

    evolu_sqlite_index *x;
    CHECK(evolu_sqlite_index_open_path(vec_port(), path, &x) == EVOLU_OK);
    pair a, b;
    pair_open(&a, x, OWNER_A);
    pair_open(&b, x, OWNER_B);
    empty_owner(x);
    random_rounds(x, &a, &b, 300);
    bad_arguments(&a);
    quota(x, &a);

    /* reopen: the same answers from the file */
    evolu_sqlite_index_close(x);
    CHECK(evolu_sqlite_index_open_path(vec_port(), path, &x) == EVOLU_OK);
    CHECK(evolu_sqlite_index_store(x, OWNER_A, &a.ss) == EVOLU_OK);
    CHECK(evolu_sqlite_index_store(x, OWNER_B, &b.ss) == EVOLU_OK);
    CHECK(evolu_sqlite_index_verify(x, OWNER_A) == EVOLU_OK);
    CHECK(evolu_sqlite_index_verify(x, OWNER_B) == EVOLU_OK);
    CHECK(same_content(&a) && same_content(&b));
    CHECK(compare(&a, 200) && compare(&b, 200));
    random_rounds(x, &a, &b, 40);
    evolu_sqlite_index_close(x);

    callers_handle(path);
    read_cache(path);
    failed_write(path);
    damaged(path);

    evolu_mem_index_destroy(a.mem);
    evolu_mem_index_destroy(b.mem);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(tmp, sizeof tmp, "%s%s", path, suffix[i]);
        unlink(tmp);
    }
    rmdir(dir);
    return vec_finish();
}
