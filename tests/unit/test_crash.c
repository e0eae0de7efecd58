/* test_crash.c - crash safety of the client database: a received batch is
 * applied all or nothing even when the process dies at any moment.
 *
 * The parent prepares 50 batches of 200 encrypted changes (distinct,
 * disjoint timestamp ranges per batch, two columns each, rows shared between
 * batches so LWW really compares), applies them once to a reference database
 * to learn each batch's row counts and the time a run takes, then 50 times:
 * forks a child that opens the database and applies the batches (starting at a
 * random batch, wrapping around), and kills it with SIGKILL - by the PID fork
 * returned, never by name - after a random delay of up to six batches' time. After each
 * kill it reopens the file and checks: PRAGMA integrity_check is "ok", and for
 * every batch the evolu_timestamp, evolu_message and evolu_history rows in its
 * timestamp range are either all there (the reference counts) or none. Every
 * 5th round starts from a fresh file; the others continue the killed file, so
 * recovery of a WAL left by a killed writer is exercised too. At the end the
 * surviving file gets every batch and must equal the reference.
 *
 * Environment: EVOLU_CRASH_KILLS=N runs N kills (default 50).
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evolu/client_db.h"
#include "vec.h"

#define N_BATCHES 50
#define PER_BATCH 200
#define BASE_MS 1700000000000ULL
#define NOW_MS ((int64_t)BASE_MS + 10000000)

static evolu_owner g_owner;
static evolu_client_message g_msgs[N_BATCHES][PER_BATCH];
static int64_t g_ref[N_BATCHES][3]; /* timestamps, messages, history rows per batch */
static char g_dir[64], g_path[128];
static evolu_port g_port;

static int64_t fixed_now(void *ctx) {
    (void)ctx;
    return NOW_MS;
}

static uint64_t g_rng = 0xc0ffee5eedULL;
static uint64_t rnd(void) {
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static evolu_timestamp ts_of(unsigned b, unsigned i) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = BASE_MS + (uint64_t)b * 1000 + i / 4;
    t.counter = (uint16_t)(i % 4);
    memset(t.node_id, 0x42, sizeof t.node_id);
    return t;
}

static void prepare(void) {
    g_port = *vec_port();
    g_port.now_ms = fixed_now;
    for (size_t i = 0; i < sizeof g_owner; i++) ((uint8_t *)&g_owner)[i] = (uint8_t)rnd();
    for (unsigned b = 0; b < N_BATCHES; b++)
        for (unsigned i = 0; i < PER_BATCH; i++) {
            char title[32];
            snprintf(title, sizeof title, "title %u.%u", b, i);
            evolu_column cols[2] = {
                {(const uint8_t *)"title", 5,
                 evolu_value_text((const uint8_t *)title, strlen(title))},
                {(const uint8_t *)"prio", 4, evolu_value_number((double)(rnd() % 100))},
            };
            evolu_dbchange c;
            memset(&c, 0, sizeof c);
            c.table = (const uint8_t *)"todo";
            c.table_len = 4;
            memset(c.id, 0, sizeof c.id);
            c.id[0] = (uint8_t)rnd(); /* 256 rows shared by all batches */
            c.id[1] = (uint8_t)(c.id[0] >> 1);
            c.columns = cols;
            c.n_columns = 2;
            c.is_insert = rnd() % 2;
            c.is_delete = -1;
            evolu_timestamp t = ts_of(b, i);
            size_t len = 0;
            if (evolu_dbchange_encrypted_len(&c, &len)) exit(2);
            uint8_t *enc = malloc(len);
            uint8_t nonce[EVOLU_AEAD_NONCE_BYTES];
            for (size_t k = 0; k < sizeof nonce; k++) nonce[k] = (uint8_t)rnd();
            evolu_writer w = evolu_writer_make(enc, len);
            if (!enc || evolu_dbchange_encrypt(&w, &g_port, g_owner.encryption_key, &c, &t, nonce))
                exit(2);
            g_msgs[b][i].timestamp = t;
            g_msgs[b][i].change = enc;
            g_msgs[b][i].change_len = w.len;
        }
}

static void remove_db(const char *path) {
    char p[160];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static evolu_client_db *open_db(const char *path) {
    evolu_client_db *db = NULL;
    if (evolu_client_db_open(path, &g_port, &db)) return NULL;
    const char *cols[2] = {"title", "prio"};
    if (evolu_client_db_declare_table(db, "todo", cols, 2)) {
        evolu_client_db_close(db);
        return NULL;
    }
    return db;
}

static void apply_from(evolu_client_db *db, unsigned first) {
    for (unsigned k = 0; k < N_BATCHES; k++) {
        unsigned b = (first + k) % N_BATCHES;
        if (evolu_client_db_apply(db, &g_owner, g_msgs[b], PER_BATCH, NULL)) _exit(3);
    }
}

/* Rows of each table in batch b's timestamp range. */
static void batch_counts(sqlite3 *q, unsigned b, int64_t out[3]) {
    static const char *const sql[3] = {
        "select count(*) from evolu_timestamp where t between ?1 and ?2",
        "select count(*) from evolu_message where timestamp between ?1 and ?2",
        "select count(*) from evolu_history where timestamp between ?1 and ?2",
    };
    uint8_t lo[16], hi[16];
    evolu_timestamp a = ts_of(b, 0), z = ts_of(b, PER_BATCH - 1);
    evolu_timestamp_to_bytes(&a, lo);
    evolu_timestamp_to_bytes(&z, hi);
    for (int k = 0; k < 3; k++) {
        sqlite3_stmt *st = NULL;
        out[k] = -1;
        if (sqlite3_prepare_v2(q, sql[k], -1, &st, NULL) != SQLITE_OK) continue;
        sqlite3_bind_blob(st, 1, lo, 16, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, hi, 16, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) out[k] = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
}

static char *integrity(sqlite3 *q) {
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(q, "pragma integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Checks the killed file; returns the number of complete batches or -1. */
static int check_file(unsigned round) {
    evolu_client_db *db = open_db(g_path);
    if (!CHECK(db != NULL)) return -1;
    sqlite3 *q = evolu_client_db_sqlite(db);
    char *ic = integrity(q);
    bool ok = CHECK(ic && !strcmp(ic, "ok"));
    if (!ok) printf("crash round %u: integrity_check says %s\n", round, ic ? ic : "(nothing)");
    free(ic);
    int complete = 0;
    for (unsigned b = 0; b < N_BATCHES; b++) {
        int64_t c[3];
        batch_counts(q, b, c);
        bool none = c[0] == 0 && c[1] == 0 && c[2] == 0;
        bool all = c[0] == g_ref[b][0] && c[1] == g_ref[b][1] && c[2] == g_ref[b][2];
        if (all) complete++;
        if (!none && !all) {
            ok = false;
            printf("crash round %u: batch %u partly stored (%lld/%lld/%lld rows)\n", round, b,
                   (long long)c[0], (long long)c[1], (long long)c[2]);
        }
    }
    CHECK(ok);
    evolu_client_db_close(db);
    return ok ? complete : -1;
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s/evolu-crash-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(g_dir)) return 2;
    const char *env = getenv("EVOLU_CRASH_KILLS");
    unsigned kills = env ? (unsigned)strtoul(env, NULL, 10) : 50;
    prepare();

    /* the reference: every batch applied in order, and how long that takes */
    char ref_path[128];
    snprintf(ref_path, sizeof ref_path, "%s/ref.sqlite", g_dir);
    double t0 = now_s();
    evolu_client_db *ref = open_db(ref_path);
    if (!ref) return 2;
    apply_from(ref, 0);
    double run_s = now_s() - t0;
    for (unsigned b = 0; b < N_BATCHES; b++) {
        batch_counts(evolu_client_db_sqlite(ref), b, g_ref[b]);
        CHECK(g_ref[b][0] == PER_BATCH && g_ref[b][1] == PER_BATCH && g_ref[b][2] > 0);
    }

    snprintf(g_path, sizeof g_path, "%s/crash.sqlite", g_dir);
    unsigned killed = 0, finished = 0;
    int complete_sum = 0;
    for (unsigned round = 0; round < kills; round++) {
        if (round % 5 == 0) remove_db(g_path);
        unsigned first = (unsigned)(rnd() % N_BATCHES);
        /* a delay within the open and the first few batches, in microseconds
         * (bounded, so a round never waits for a whole run) */
        long delay_us = (long)(rnd() % (uint64_t)(run_s / N_BATCHES * 6e6 + 2000));
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) return 2;
        if (pid == 0) {
            evolu_client_db *db = open_db(g_path);
            if (!db) _exit(4);
            apply_from(db, first);
            evolu_client_db_close(db);
            _exit(0);
        }
        struct timespec d = {delay_us / 1000000, (delay_us % 1000000) * 1000};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        if (waitpid(pid, &status, 0) != pid) return 2;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
            killed++;
        } else if (!CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            printf("crash round %u: the child failed on its own (status %d)\n", round, status);
        } else {
            finished++;
        }
        int complete = check_file(round);
        if (complete >= 0) complete_sum += complete;
    }

    /* the survivor takes every batch and then equals the reference */
    evolu_client_db *db = open_db(g_path);
    CHECK(db != NULL);
    if (db) {
        apply_from(db, 0);
        for (unsigned b = 0; b < N_BATCHES; b++) {
            int64_t c[3];
            batch_counts(evolu_client_db_sqlite(db), b, c);
            CHECK(c[0] == g_ref[b][0] && c[1] == g_ref[b][1] && c[2] == g_ref[b][2]);
        }
        evolu_client_db_close(db);
    }
    printf("crash: %u rounds, %u killed mid-run, %u finished first, %.1f complete batches per"
           " kill on average, one run takes %.0f ms\n",
           kills, killed, finished, kills ? (double)complete_sum / kills : 0.0, run_s * 1e3);
    evolu_client_db_close(ref);
    remove_db(ref_path);
    remove_db(g_path);
    rmdir(g_dir);
    for (unsigned b = 0; b < N_BATCHES; b++)
        for (unsigned i = 0; i < PER_BATCH; i++) free((void *)(uintptr_t)g_msgs[b][i].change);
    return vec_finish();
}
