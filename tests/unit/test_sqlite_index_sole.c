/* test_sqlite_index_sole.c - the SQLite index in sole-writer mode
 * (sidx_set_sole_writer, as the relay uses it): its cache of nodes and owner
 * rows is kept inside and across the caller's transactions, so it must stay
 * equal to the rows through commits, whole-transaction rollbacks, refused
 * batches (the index's own savepoint rollback) and walks that resume where
 * the last one stopped. Every answer is compared with the in-memory index
 * (evolu/mem_index.h) holding what was committed, and the file is finally
 * read through a second, ordinary connection. Random operations, fixed seed. */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evolu/mem_index.h"
#include "evolu/sqlite_index.h"
#include "evolu/store.h"
#include "store/sqlite_index_internal.h"
#include "vec.h"

static const uint8_t OWNERS[2][16] = {{0xa1, 1, 2, 3}, {0xb2, 5, 6, 7}};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define BATCH_MAX 200
static evolu_timestamp g_ts[BATCH_MAX];
static uint8_t g_bytes[BATCH_MAX][24];
static const uint8_t *g_ch[BATCH_MAX];
static size_t g_len[BATCH_MAX];

/* Random timestamps in a narrow space (repeats against stored items too). */
static size_t make_batch(void) {
    size_t n = 1 + (size_t)(rnd() % BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        memset(&g_ts[i], 0, sizeof g_ts[i]);
        g_ts[i].millis = 1700000000000ULL + rnd() % 40000;
        g_ts[i].counter = (uint16_t)(rnd() % 2);
        g_ts[i].node_id[0] = 0xcd;
        g_len[i] = (size_t)(rnd() % sizeof g_bytes[i]);
        for (size_t j = 0; j < g_len[i]; j++) g_bytes[i][j] = (uint8_t)rnd();
        g_ch[i] = g_bytes[i];
    }
    return n;
}

static evolu_err write_to(const evolu_store *s, size_t n) {
    evolu_store_array_batch a;
    evolu_store_batch b;
    evolu_store_batch_from_array(&b, &a, g_ts, g_ch, g_len, n);
    return s->write_messages(s->ctx, &b);
}

typedef struct one {
    const uint8_t *ts;
    uint64_t index;
    int n;
    uint8_t got[16];
} one;

static bool one_visit(void *ctx, const uint8_t ts[16], uint64_t index) {
    one *o = ctx;
    if (o->n++ == 0) memcpy(o->got, ts, 16);
    o->index = index;
    return true;
}

/* The item at i, asked alone (as the sync engine asks a timestamps range). */
static bool item_at(const evolu_store *s, uint64_t i, uint8_t out[16]) {
    one o;
    memset(&o, 0, sizeof o);
    if (s->iterate(s->ctx, i, i + 1, one_visit, &o) || o.n != 1 || o.index != i) return false;
    memcpy(out, o.got, 16);
    return true;
}

/* Sizes, fingerprints of random ranges, and every item asked one by one in
 * order, then at random positions, alternating owners, with changes. */
static bool same(const evolu_store *ref, const evolu_store *ss, int owner) {
    uint64_t n, n2;
    if (ref->size(ref->ctx, &n) || ss->size(ss->ctx, &n2) || n != n2) {
        fprintf(stderr, "owner %d: size\n", owner);
        return false;
    }
    for (int q = 0; q < 30; q++) {
        uint64_t b = rnd() % (n + 1), e = b + rnd() % (n + 1 - b);
        uint8_t f1[12], f2[12];
        if (ref->fingerprint(ref->ctx, b, e, f1) || ss->fingerprint(ss->ctx, b, e, f2) ||
            memcmp(f1, f2, 12)) {
            fprintf(stderr, "owner %d: fingerprint [%llu, %llu)\n", owner,
                    (unsigned long long)b, (unsigned long long)e);
            return false;
        }
    }
    for (uint64_t k = 0; k < 2 * n; k++) {
        uint64_t i = k < n ? k : rnd() % n;
        uint8_t t1[16], t2[16];
        if (!item_at(ref, i, t1) || !item_at(ss, i, t2) || memcmp(t1, t2, 16)) {
            fprintf(stderr, "owner %d: item %llu\n", owner, (unsigned long long)i);
            return false;
        }
        if (k % 17 == 0) {
            const uint8_t *c1, *c2;
            size_t l1, l2;
            if (ref->read_change(ref->ctx, t1, NULL, &c1, &l1) ||
                ss->read_change(ss->ctx, t1, NULL, &c2, &l2) || l1 != l2 ||
                (l1 && memcmp(c1, c2, l1))) {
                fprintf(stderr, "owner %d: change %llu\n", owner, (unsigned long long)i);
                return false;
            }
        }
    }
    return true;
}

int main(void) {
    char dir[] = "/tmp/evolu_sqlidx_sole_XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char path[256], tmp[300];
    snprintf(path, sizeof path, "%s/relay.db", dir);

    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) ==
          SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA journal_mode = WAL;", NULL, NULL, NULL) == SQLITE_OK);
    evolu_sqlite_index *x = NULL;
    CHECK(evolu_sqlite_index_open_db(vec_port(), db, &x) == EVOLU_OK);
    CHECK(sidx_set_sole_writer(x) == EVOLU_OK);

    evolu_mem_index *mem[2];
    evolu_store ref[2], ss[2];
    for (int o = 0; o < 2; o++) {
        CHECK(evolu_mem_index_create(vec_port(), &mem[o]) == EVOLU_OK);
        evolu_mem_index_store(mem[o], &ref[o]);
        CHECK(evolu_sqlite_index_store(x, OWNERS[o], &ss[o]) == EVOLU_OK);
    }

    int commits = 0, rollbacks = 0, refused = 0, rounds = 120;
    bool ok = true;
    for (int r = 0; r < rounds && ok; r++) {
        bool keep = rnd() % 3 != 0;
        /* a refused batch now and then: the index rolls back its savepoint */
        evolu_sqlite_index_set_quota(x, rnd() % 5 == 0 ? 2000 : 0);
        ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        int batches = 1 + (int)(rnd() % 4);
        for (int k = 0; ok && k < batches; k++) {
            int o = (int)(rnd() % 2);
            size_t n = make_batch();
            evolu_err e = write_to(&ss[o], n);
            if (e == EVOLU_E_QUOTA) {
                refused++;
                continue;
            }
            ok = e == EVOLU_OK;
            if (ok && keep) ok = write_to(&ref[o], n) == EVOLU_OK;
            /* inside the transaction: the cache must answer with it */
            if (ok && keep) ok = same(&ref[o], &ss[o], o);
        }
        if (!ok) break;
        if (keep) {
            ok = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
            commits++;
        } else {
            ok = sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK;
            rollbacks++;
        }
        for (int o = 0; ok && o < 2; o++) ok = same(&ref[o], &ss[o], o);
        vec_check(ok, "round %d (%s): sole-writer answers equal the committed set", r,
                  keep ? "commit" : "rollback");
    }
    printf("sole writer: %d rounds, %d committed, %d rolled back, %d batches refused\n", rounds,
           commits, rollbacks, refused);
    CHECK(commits > 0 && rollbacks > 0 && refused > 0);
    uint64_t sizes[2] = {0, 0};
    for (int o = 0; o < 2; o++) {
        CHECK(evolu_sqlite_index_verify(x, OWNERS[o]) == EVOLU_OK);
        CHECK(ss[o].size(ss[o].ctx, &sizes[o]) == EVOLU_OK && sizes[o] > 1000);
    }

    /* The rows themselves, through another connection (no shared cache). */
    evolu_sqlite_index *y = NULL;
    CHECK(evolu_sqlite_index_open_path(vec_port(), path, &y) == EVOLU_OK);
    if (y) {
        for (int o = 0; o < 2; o++) {
            evolu_store ys;
            CHECK(evolu_sqlite_index_store(y, OWNERS[o], &ys) == EVOLU_OK);
            CHECK(evolu_sqlite_index_verify(y, OWNERS[o]) == EVOLU_OK);
            CHECK(same(&ref[o], &ys, o));
        }
        evolu_sqlite_index_close(y);
    }

    evolu_sqlite_index_close(x);
    sqlite3_close(db);
    for (int o = 0; o < 2; o++) evolu_mem_index_destroy(mem[o]);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(tmp, sizeof tmp, "%s%s", path, suffix[i]);
        unlink(tmp);
    }
    rmdir(dir);
    return vec_finish();
}
