/* bench_index.c - the in-memory timestamp index (evolu/mem_index.h) at
 * N = 10^4, 10^5, 10^6: inserts per second (ascending "append" and random
 * order; each insert hashes its timestamp with SHA-256 for the fingerprint),
 * microseconds per range fingerprint and per lower bound.
 * Built only with -DEVOLU_BENCH=ON; use a Release build for real numbers. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evolu/mem_index.h"
#include "evolu/port_sodium.h"
#include "evolu/store.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

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

int main(void) {
    const evolu_port *port = evolu_port_sodium();
    if (!port) return 1;
    printf("%10s %16s %16s %14s %14s\n", "N", "append ins/s", "random ins/s", "fp us/range",
           "lb us/query");
    for (uint64_t n = 10000; n <= 1000000; n *= 10) {
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
    return 0;
}
