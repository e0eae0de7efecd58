/* bench_apply.c - applying received changes to the client database: decrypt,
 * clock (evolu_hlc_receive), last-writer-wins per column against
 * evolu_history, the app table upsert and the timestamp set, in batches (one
 * evolu_client_db_apply = one transaction, like one received sync message)
 * into a real SQLite file (WAL, the database's own settings) in $TMPDIR or
 * /tmp. Each change writes two columns of a "todo" row; rows repeat so LWW
 * both wins and loses. Also times decryption alone, to show how the time
 * splits between crypto and SQLite.
 *
 * usage: bench_apply [N [BATCH]]   (default 200000 changes, batches of 1000)
 *        EVOLU_BENCH_CACHE_KB=K sets SQLite's page cache to K KiB
 *        EVOLU_BENCH_PRAGMAS="pragma ...; ..." runs these on the handle first
 *        EVOLU_BENCH_SHUFFLE=1 delivers the changes in random order instead of
 *          oldest first: most stamps are then older than the newest stored
 *          one, so LWW cannot win by "newer than everything" and many cells lose
 *          (the last-writer-wins check must look at each cell's own history)
 * Prints wall-clock and CPU time: on a shared machine the CPU figure is the
 * fair "changes per second on one core".
 * Built only with -DEVOLU_BENCH=ON; use a Release build for real numbers. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench_util.h"
#include "evolu/client_db.h"
#include "evolu/port_sodium.h"

#define BASE_MS 1700000000000ULL

static evolu_port g_port;
static int64_t fixed_now(void *ctx) {
    (void)ctx;
    return (int64_t)BASE_MS + 100000000;
}

static uint64_t g_rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void) { return bench_rnd(&g_rng); }

static double clock_s(clockid_t id) { return bench_clock_s(id); }
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of this process: on a shared, loaded machine the fair measure of
 * "changes per second on one core" (wall time also counts waiting for the
 * CPU and for fsync). */
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 200000;
    size_t batch = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 1000;
    if (!n || !batch) return 2;
    g_port = *evolu_port_sodium();
    g_port.now_ms = fixed_now;
    evolu_owner owner;
    for (size_t i = 0; i < sizeof owner; i++) ((uint8_t *)&owner)[i] = (uint8_t)rnd();

    /* prepare n encrypted changes (not timed) */
    evolu_client_message *m = calloc(n, sizeof *m);
    uint8_t *bufs = malloc(n * 128);
    if (!m || !bufs) return 2;
    for (size_t i = 0; i < n; i++) {
        char title[32];
        snprintf(title, sizeof title, "todo number %zu", i);
        evolu_column cols[2] = {
            {(const uint8_t *)"title", 5, evolu_value_text((const uint8_t *)title, strlen(title))},
            {(const uint8_t *)"isCompleted", 11, evolu_value_number((double)(rnd() % 2))},
        };
        evolu_dbchange c;
        memset(&c, 0, sizeof c);
        c.table = (const uint8_t *)"todo";
        c.table_len = 4;
        uint64_t row = rnd() % (n / 2 + 1); /* about half the changes hit an existing row */
        memcpy(c.id, &row, sizeof row);
        c.columns = cols;
        c.n_columns = 2;
        c.is_insert = true;
        c.is_delete = -1;
        evolu_timestamp t;
        memset(&t, 0, sizeof t);
        t.millis = BASE_MS + i / 4;
        t.counter = (uint16_t)(i % 4);
        memcpy(t.node_id, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
        uint8_t nonce[EVOLU_AEAD_NONCE_BYTES];
        for (size_t k = 0; k < sizeof nonce; k++) nonce[k] = (uint8_t)rnd();
        evolu_writer w = evolu_writer_make(bufs + i * 128, 128);
        if (evolu_dbchange_encrypt(&w, &g_port, owner.encryption_key, &c, &t, nonce)) return 2;
        m[i].timestamp = t;
        m[i].change = bufs + i * 128;
        m[i].change_len = w.len;
    }

    const char *shuffle = getenv("EVOLU_BENCH_SHUFFLE");
    if (shuffle && *shuffle && *shuffle != '0')
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)(rnd() % (i + 1));
            evolu_client_message tmp = m[i];
            m[i] = m[j];
            m[j] = tmp;
        }

    /* decryption alone */
    double t0 = now_s();
    uint8_t plain[128];
    for (size_t i = 0; i < n; i++) {
        size_t plen = 0;
        if (evolu_dbchange_decrypt(&g_port, owner.encryption_key, &m[i].timestamp, m[i].change,
                                   m[i].change_len, plain, sizeof plain, &plen))
            return 3;
    }
    double dec_s = now_s() - t0;

    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/evolu-bench-apply-%ld.sqlite", tmp && *tmp ? tmp : "/tmp",
             (long)getpid());
    evolu_client_db *db = NULL;
    if (evolu_client_db_open(path, &g_port, &db)) return 4;
    /* EVOLU_BENCH_CACHE_KB=K: a larger SQLite page cache (pragma cache_size),
     * to see how much of the time is the default 2 MB cache spilling */
    const char *cache = getenv("EVOLU_BENCH_CACHE_KB");
    if (cache) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "pragma cache_size = -%lu", strtoul(cache, NULL, 10));
        sqlite3_exec(evolu_client_db_sqlite(db), pragma, NULL, NULL, NULL);
    }
    const char *decl[2] = {"title", "isCompleted"};
    if (evolu_client_db_declare_table(db, "todo", decl, 2)) return 4;

    const char *pragmas = getenv("EVOLU_BENCH_PRAGMAS");
    if (pragmas) sqlite3_exec(evolu_client_db_sqlite(db), pragmas, NULL, NULL, NULL);
    t0 = now_s();
    double c0 = cpu_s();
    for (size_t i = 0; i < n; i += batch) {
        size_t k = n - i < batch ? n - i : batch;
        evolu_client_db_failure f;
        evolu_err e = evolu_client_db_apply(db, &owner, m + i, k, &f);
        if (e) {
            fprintf(stderr, "apply failed at %zu: %s\n", i + f.index, evolu_errname(e));
            return 5;
        }
    }
    double apply_s = now_s() - t0, apply_cpu = cpu_s() - c0;
    evolu_client_db_close(db);
    char p[600];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);

    printf("apply%s: %zu changes in batches of %zu: %.3f s wall, %.0f changes/s; %.3f s CPU,"
           " %.0f changes/s per core (target 200000)\n",
           shuffle && *shuffle && *shuffle != '0' ? " (random order)" : "", n, batch, apply_s,
           (double)n / apply_s, apply_cpu, (double)n / apply_cpu);
    printf("  of which decryption alone would take %.3f s (%.0f changes/s, %.0f%% of apply)\n",
           dec_s, (double)n / dec_s, 100.0 * dec_s / apply_s);
    free(m);
    free(bufs);
    return 0;
}
