/* bench_util.h - what the benchmarks share: a seeded xorshift64 generator (the
 * same inputs on every run, so runs compare) and the two clocks they report.
 * Header-only; each bench_*.c defines _POSIX_C_SOURCE before including it. */
#ifndef EVOLU_BENCH_UTIL_H
#define EVOLU_BENCH_UTIL_H

#include <stdint.h>
#include <time.h>

/* xorshift64 (Marsaglia); *state must not be 0. */
static inline uint64_t bench_rnd(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* Seconds on a clock: CLOCK_MONOTONIC for wall time, CLOCK_PROCESS_CPUTIME_ID
 * for the CPU time of the process (the fair figure on a shared machine). */
static inline double bench_clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#endif
