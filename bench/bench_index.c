/* bench_index.c - the timestamp indexes at N = 10^4, 10^5, 10^6: inserts per
 * second (ascending "append" and random order; each insert hashes its
 * timestamp with SHA-256 for the fingerprint), microseconds per range
 * fingerprint and per lower bound.
 *
 *  - the in-memory index (evolu/mem_index.h), one insert at a time;
 *  - the SQLite index (evolu/sqlite_index.h) in a database file (WAL,
 *    synchronous=NORMAL) in $TMPDIR or /tmp, written in batches of
 *    SQL_BATCH messages (one write_messages = one transaction, like one
 *    received sync message) with 64-byte changes.
 *
 * usage: bench_index [MAX_N [MIN_N]]   (default 1000000, from 10000)
 *        EVOLU_BENCH_SQLITE_ONLY=1 skips the in-memory index
 * Built only with -DEVOLU_BENCH=ON; use a Release build for real numbers. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "evolu/mem_index.h"
#include "evolu/port_sodium.h"
#include "evolu/sqlite_index.h"
#include "evolu/store.h"

#define SQL_BATCH 1000

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void) { return bench_rnd(&rng); }

static double now_s(void) { return bench_clock_s(CLOCK_MONOTONIC); }
/* CPU time of this process (the machine is shared: wall time also counts
 * waiting for a core). */
static double cpu_s(void) { return bench_clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static evolu_timestamp ts_at(uint64_t i) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = 1700000000000ULL + i / 4;
    t.counter = (uint16_t)(i % 4);
    memcpy(t.node_id, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
    return t;
}

static evolu_timestamp ts_random(void) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = 1700000000000ULL + rnd() % 100000000000ULL;
    t.counter = (uint16_t)(rnd() & 0xffff);
    uint64_t n = rnd();
    memcpy(t.node_id, &n, 8);
    return t;
}

static evolu_mem_index *fill(const evolu_port *port, uint64_t n, int random, double *secs) {
    evolu_mem_index *x;
    if (evolu_mem_index_create(port, &x)) exit(1);
    static const uint8_t change[16] = {1};
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        evolu_timestamp t = random ? ts_random() : ts_at(i);
        if (evolu_mem_index_insert(x, &t, change, sizeof change, NULL)) exit(1);
    }
    *secs = now_s() - t0;
    return x;
}

/* CPU µs per range fingerprint of the last queries() call. */
static double g_fp_cpu_us;

/* µs per random range fingerprint and per random lower bound over s. */
static int queries(const evolu_store *s, int q, double *us_fp, double *us_lb) {
    uint64_t size;
    if (s->size(s->ctx, &size)) return 1;
    uint8_t fp[12], acc = 0;
    double c0 = cpu_s();
    double t0 = now_s();
    for (int i = 0; i < q; i++) {
        uint64_t b = rnd() % (size + 1), e = rnd() % (size + 1);
        if (b > e) {
            uint64_t tmp = b;
            b = e;
            e = tmp;
        }
        if (s->fingerprint(s->ctx, b, e, fp)) return 1;
        acc ^= fp[0];
    }
    *us_fp = (now_s() - t0) * 1e6 / q;
    g_fp_cpu_us = (cpu_s() - c0) * 1e6 / q;
    t0 = now_s();
    for (int i = 0; i < q; i++) {
        evolu_timestamp t = ts_random();
        uint8_t key[16];
        evolu_timestamp_to_bytes(&t, key);
        uint64_t out;
        if (s->find_lower_bound(s->ctx, 0, size, key, &out)) return 1;
        acc ^= (uint8_t)out;
    }
    *us_lb = (now_s() - t0) * 1e6 / q;
    if (acc == 0x5a) printf(" \n"); /* keep the results alive */
    return 0;
}

/* Fills a fresh SQLite index file with n items in batches; seconds taken. */
static int fill_sqlite(const evolu_port *port, const char *path, uint64_t n, int random,
                       evolu_sqlite_index **out, evolu_store *s, double *secs) {
    static const uint8_t owner[16] = {0x42};
    static evolu_timestamp ts[SQL_BATCH];
    static const uint8_t *changes[SQL_BATCH];
    static size_t lens[SQL_BATCH];
    static const uint8_t change[64] = {1};
    if (evolu_sqlite_index_open_path(port, path, out) || evolu_sqlite_index_store(*out, owner, s))
        return 1;
    double t0 = now_s();
    for (uint64_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < SQL_BATCH && i < n; k++, i++) {
            ts[k] = random ? ts_random() : ts_at(i);
            changes[k] = change;
            lens[k] = sizeof change;
        }
        evolu_store_array_batch a;
        evolu_store_batch b;
        evolu_store_batch_from_array(&b, &a, ts, changes, lens, k);
        if (s->write_messages(s->ctx, &b)) return 1;
    }
    *secs = now_s() - t0;
    return 0;
}

static void remove_db(const char *path) {
    char p[512];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

static int bench_sqlite(const evolu_port *port, uint64_t min_n, uint64_t max_n) {
    const char *dir = getenv("TMPDIR");
    char path[400];
    snprintf(path, sizeof path, "%s/evolu_bench_index_%ld.db", dir && *dir ? dir : "/tmp",
             (long)getpid());
    printf("\nSQLite index (%s, batches of %d, 64-byte changes)\n", path, SQL_BATCH);
    printf("%10s %16s %16s %14s %14s %12s\n", "N", "append ins/s", "random ins/s",
           "fp us/range", "lb us/query", "file MB");
    for (uint64_t n = min_n; n <= max_n; n *= 10) {
        double ta, tr, fa, la, fr, lr, fa_cpu;
        evolu_sqlite_index *x;
        evolu_store s;
        remove_db(path);
        if (fill_sqlite(port, path, n, 0, &x, &s, &ta) || queries(&s, 20000, &fa, &la)) return 1;
        fa_cpu = g_fp_cpu_us;
        evolu_sqlite_index_close(x);
        remove_db(path);
        if (fill_sqlite(port, path, n, 1, &x, &s, &tr) || queries(&s, 20000, &fr, &lr)) return 1;
        evolu_sqlite_index_close(x);
        FILE *f = fopen(path, "rb");
        double mb = 0;
        if (f) {
            fseek(f, 0, SEEK_END);
            mb = (double)ftell(f) / 1e6;
            fclose(f);
        }
        remove_db(path);
        printf("%10llu %16.0f %16.0f %14.2f %14.2f %12.1f\n", (unsigned long long)n,
               (double)n / ta, (double)n / tr, fr, lr, mb);
        printf("%10s %16s %16s %14.2f %14.2f   (queries on the appended file)\n", "", "", "",
               fa, la);
        printf("%10s %16s %16s %14.2f %14.2f   (CPU us per fingerprint: random, appended file)\n",
               "", "", "", g_fp_cpu_us, fa_cpu);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv) {
    const evolu_port *port = evolu_port_sodium();
    if (!port) return 1;
    uint64_t max_n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    uint64_t min_n = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000;
    if (!min_n) return 2;
    const char *sql_only = getenv("EVOLU_BENCH_SQLITE_ONLY");
    if (sql_only && *sql_only == '1') return bench_sqlite(port, min_n, max_n);
    printf("in-memory index\n");
    printf("%10s %16s %16s %14s %14s\n", "N", "append ins/s", "random ins/s", "fp us/range",
           "lb us/query");
    for (uint64_t n = min_n; n <= max_n; n *= 10) {
        double ta, tr;
        evolu_mem_index *a = fill(port, n, 0, &ta);
        evolu_mem_index *r = fill(port, n, 1, &tr);
        evolu_store s;
        evolu_mem_index_store(r, &s);
        uint64_t size = evolu_mem_index_size(r);

        const int q = 200000;
        uint8_t fp[12], acc = 0;
        double t0 = now_s();
        for (int i = 0; i < q; i++) {
            uint64_t b = rnd() % (size + 1), e = rnd() % (size + 1);
            if (b > e) {
                uint64_t tmp = b;
                b = e;
                e = tmp;
            }
            if (s.fingerprint(s.ctx, b, e, fp)) return 1;
            acc ^= fp[0];
        }
        double tf = now_s() - t0;

        t0 = now_s();
        for (int i = 0; i < q; i++) {
            evolu_timestamp t = ts_random();
            uint8_t key[16];
            evolu_timestamp_to_bytes(&t, key);
            uint64_t out;
            if (s.find_lower_bound(s.ctx, 0, size, key, &out)) return 1;
            acc ^= (uint8_t)out;
        }
        double tl = now_s() - t0;

        printf("%10llu %16.0f %16.0f %14.3f %14.3f\n", (unsigned long long)n,
               (double)n / ta, (double)n / tr, tf * 1e6 / q, tl * 1e6 / q);
        if (acc == 0x5a) printf(" \n"); /* keep the results alive */
        evolu_mem_index_destroy(a);
        evolu_mem_index_destroy(r);
    }
    return bench_sqlite(port, min_n, max_n);
}
