/* bench_sqlite_floor.c - the floor of the client database layout: only the
 * SQL statements spec 8.2 requires for one applied two-column insert change,
 * on the exact 8.1 / 7.2 schema (the client's own creation script), and
 * nothing else (no decryption, no clock,
 * no last-writer-wins lookup, no RBSR tree, no evolu_message). Whatever the
 * apply path does on top, it cannot be faster than this on the same SQLite.
 *
 * Per change: 3 evolu_history rows (the two values and createdAt), one
 * upsert of the application row (all three columns in one statement, the
 * fewest SQL can do; the TS client runs one upsert per column, see the
 * "per-column upserts" variant), one evolu_timestamp row. Per batch: the
 * clock in evolu_config and evolu_usage, one transaction. Statements are
 * prepared once and reused, one row each (or 32, as the client writes them).
 *
 * usage: bench_sqlite_floor [--dir DIR]   (default $TMPDIR, else /tmp)
 *        N=changes (50000), BATCH=changes per transaction (1000),
 *        ONLY=k runs only the k-th variant of the table (from 1, for profiling)
 * Each variant opens a fresh database file (removed afterwards) and prints
 * CPU time of the process and wall time per change (CPU is the fair figure
 * on a shared machine), the file's size and the KiB of pages SQLite wrote
 * per change (to the WAL, or spilled from the cache). Built only with
 * -DEVOLU_BENCH=ON; use Release. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench_util.h"
#include "client_db_internal.h" /* cdb_create_sql: the client's own tables */
#include "evolu/id.h"
#include "evolu/timestamp.h"
#include "evolu/value.h"
#include "floor_sql.h"

#define BASE_MS 1700000000000ULL
#define TEXT_CHARS 20

/* One received change, decoded: what the SQL binds. */
typedef struct change {
    uint8_t id[EVOLU_ID_BYTES];
    char ids[EVOLU_ID_CHARS];
    uint8_t ts[EVOLU_TIMESTAMP_BYTES];
    char sensor[TEXT_CHARS];
    char iso[EVOLU_DATE_ISO_CHARS];
    double value;
    int64_t h1, h2;
} change;

enum { P_HIST = 1 << R_HIST, P_APP = 1 << R_APP, P_TS = 1 << R_TS, P_ALL = 7 };
/* where: 0 = the temp dir, 1 = /dev/shm, 2 = :memory:; sort_hist / sort_app:
 * a batch's history rows / app upserts in their index key order; per_column:
 * one upsert per column, as the TS client; cache_mb: instead of the client's
 * 8 MiB; multi: MULTI rows per statement. */
typedef struct variant {
    const char *name;
    int parts, where, sync_off, sort_hist, sort_app, per_column, cache_mb, multi;
} variant;

typedef struct result {
    double cpu, wall, mb, kib; /* seconds, seconds, file MB, KiB written per change */
} result;

/* A variant's open database: the statements, prepared once. */
typedef struct bench_db {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *rows[R_COUNT][2]; /* [part][0] one row, [part][1] MULTI rows */
} bench_db;

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) { return bench_rnd(&g_rng); }

static double clock_s(clockid_t id) { return bench_clock_s(id); }

static uint8_t g_owner[EVOLU_ID_BYTES];
static char g_owner_s[EVOLU_ID_CHARS];
static const char *const k_cols[3] = {"createdAt", "sensor", "value"}; /* key order */

static int cmp_id(const void *a, const void *b) {
    return memcmp((*(const change *const *)a)->id, (*(const change *const *)b)->id,
                  EVOLU_ID_BYTES);
}
static int cmp_ids(const void *a, const void *b) {
    return memcmp((*(const change *const *)a)->ids, (*(const change *const *)b)->ids,
                  EVOLU_ID_CHARS);
}

static void bind_col(sqlite3_stmt *st, int i, const change *c, int col) {
    if (col == 0) sqlite3_bind_text(st, i, c->iso, EVOLU_DATE_ISO_CHARS, SQLITE_STATIC);
    else if (col == 1) sqlite3_bind_text(st, i, c->sensor, TEXT_CHARS, SQLITE_STATIC);
    else sqlite3_bind_double(st, i, c->value);
}

static int step(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Row r of a part, bound at parameter b: history has 3 rows per change. */
static void bind_row(sqlite3_stmt *st, int part, int b, const change *const *order, size_t r) {
    const change *x = order[part == R_HIST ? r / 3 : r];
    if (part == R_HIST) {
        sqlite3_bind_blob(st, b, x->id, EVOLU_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_text(st, b + 1, k_cols[r % 3], -1, SQLITE_STATIC);
        bind_col(st, b + 2, x, (int)(r % 3));
        sqlite3_bind_blob(st, b + 3, x->ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    } else if (part == R_APP) {
        sqlite3_bind_text(st, b, x->ids, EVOLU_ID_CHARS, SQLITE_STATIC);
        for (int col = 0; col < 3; col++) bind_col(st, b + 1 + col, x, col);
    } else {
        sqlite3_bind_blob(st, b, x->ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, b + 1, x->h1);
        sqlite3_bind_int64(st, b + 2, x->h2);
    }
}

/* All rows of a part: MULTI per statement while that many are left. */
static int put_rows(bench_db *d, int part, int multi, const change *const *order, size_t rows) {
    size_t r = 0;
    int bad = 0;
    for (; multi && rows - r >= MULTI && !bad; r += MULTI) {
        sqlite3_stmt *st = d->rows[part][1];
        for (size_t j = 0; j < MULTI; j++)
            bind_row(st, part, k_rows[part].first + (int)j * k_rows[part].per_row, order, r + j);
        bad = step(st);
    }
    for (; r < rows && !bad; r++) {
        bind_row(d->rows[part][0], part, k_rows[part].first, order, r);
        bad = step(d->rows[part][0]);
    }
    return bad;
}

/* One batch in one transaction; each part over all k changes. */
static int apply_batch(bench_db *d, const variant *v, change *c, size_t k, const change **order) {
    sqlite3_stmt **st = d->st;
    int bad = sqlite3_exec(d->db, "begin", NULL, NULL, NULL) != SQLITE_OK;
    for (size_t i = 0; i < k; i++) order[i] = &c[i];
    if ((v->parts & P_HIST) && !bad) {
        if (v->sort_hist) qsort(order, k, sizeof *order, cmp_id);
        bad = put_rows(d, R_HIST, v->multi, order, 3 * k);
    }
    if ((v->parts & P_APP) && !bad) {
        if (v->sort_app) qsort(order, k, sizeof *order, cmp_ids);
        if (!v->per_column) bad = put_rows(d, R_APP, v->multi, order, k);
        for (size_t i = 0; v->per_column && i < k && !bad; i++)
            for (int col = 0; col < 3 && !bad; col++) {
                sqlite3_stmt *a = st[ST_COL0 + col];
                sqlite3_bind_text(a, 2, order[i]->ids, EVOLU_ID_CHARS, SQLITE_STATIC);
                bind_col(a, 3, order[i], col);
                bad = step(a);
            }
    }
    if ((v->parts & P_TS) && !bad) {
        for (size_t i = 0; i < k; i++) order[i] = &c[i]; /* timestamp order */
        bad = put_rows(d, R_TS, v->multi, order, k);
    }
    if (v->parts == P_ALL && !bad) { /* the batch's clock and usage */
        sqlite3_bind_blob(st[ST_CLOCK], 1, c[k - 1].ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(st[ST_USAGE], 2, c[0].ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(st[ST_USAGE], 3, c[k - 1].ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
        bad = step(st[ST_CLOCK]) || step(st[ST_USAGE]);
    }
    if (!bad && sqlite3_exec(d->db, "commit", NULL, NULL, NULL) == SQLITE_OK) return 0;
    fprintf(stderr, "batch failed: %s\n", sqlite3_errmsg(d->db));
    sqlite3_exec(d->db, "rollback", NULL, NULL, NULL);
    return -1;
}

/* Prepares a part's statement of n rows, the owner bound as ?1. */
static int prepare_rows(bench_db *d, int part, int n) {
    char *sql = sqlite3_mprintf("%s", k_rows[part].head);
    for (int i = 0; sql && i < n; i++) {
        int b = k_rows[part].first + i * k_rows[part].per_row;
        char *row = sqlite3_mprintf(k_rows[part].row, b, b + 1, b + 2, b + 3);
        char *next = row ? sqlite3_mprintf("%s%s %s", sql, i ? "," : "", row) : NULL;
        sqlite3_free(row);
        sqlite3_free(sql);
        sql = next;
    }
    char *full = sql ? sqlite3_mprintf("%s%s", sql, k_rows[part].tail) : NULL;
    sqlite3_free(sql);
    sqlite3_stmt **out = &d->rows[part][n > 1];
    int rc = full ? sqlite3_prepare_v3(d->db, full, -1, SQLITE_PREPARE_PERSISTENT, out, NULL)
                  : SQLITE_NOMEM;
    sqlite3_free(full);
    if (rc != SQLITE_OK) return -1;
    if (part == R_APP) sqlite3_bind_text(*out, 1, g_owner_s, EVOLU_ID_CHARS, SQLITE_STATIC);
    else sqlite3_bind_blob(*out, 1, g_owner, EVOLU_ID_BYTES, SQLITE_STATIC);
    if (part == R_HIST) sqlite3_bind_text(*out, 2, "reading", -1, SQLITE_STATIC);
    return 0;
}

static void remove_db(const char *path) {
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[600];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

/* Runs one variant on a fresh database. */
static int run(const variant *v, const char *dir, change *c, size_t n, size_t batch,
               result *out) {
    char path[560];
    if (v->where == 2) snprintf(path, sizeof path, ":memory:");
    else snprintf(path, sizeof path, "%s/evolu-bench-floor-%ld.sqlite",
                  v->where == 1 ? "/dev/shm" : dir, (long)getpid());
    if (v->where != 2) remove_db(path);
    bench_db d;
    memset(&d, 0, sizeof d);
    const change **order = malloc(batch * sizeof *order);
    int rc = -1;
    /* the client's own settings (src/store/client_db_schema.c) */
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "pragma journal_mode = wal; pragma synchronous = %s; pragma cache_size = -%d;"
             " pragma wal_autocheckpoint = 4000; pragma temp_store = memory",
             v->sync_off ? "off" : "normal", v->cache_mb ? v->cache_mb * 1024 : 8192);
    if (!order ||
        sqlite3_open_v2(path, &d.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                         SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(d.db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(d.db, cdb_create_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(d.db, k_schema_extra, NULL, NULL, NULL) != SQLITE_OK)
        goto done;
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(d.db, k_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d.st[i], NULL) !=
            SQLITE_OK)
            goto done;
        if (i <= ST_COL2) sqlite3_bind_text(d.st[i], 1, g_owner_s, EVOLU_ID_CHARS, SQLITE_STATIC);
        else if (i == ST_USAGE) sqlite3_bind_blob(d.st[i], 1, g_owner, EVOLU_ID_BYTES, SQLITE_STATIC);
    }
    for (int p = 0; p < R_COUNT; p++)
        if (prepare_rows(&d, p, 1) || prepare_rows(&d, p, MULTI)) goto done;
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t i = 0; i < n; i += batch)
        if (apply_batch(&d, v, c + i, n - i < batch ? n - i : batch, order)) goto done;
    out->cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    out->wall = clock_s(CLOCK_MONOTONIC) - w0;
    /* every row is there: a statement that silently wrote nothing would look fast */
    static const char *const k_count[R_COUNT] = {
        "select count(*) = 3 * ?1 from evolu_history", "select count(*) = ?1 from \"reading\"",
        "select count(*) = ?1 from evolu_timestamp"};
    sqlite3_stmt *q = NULL;
    for (int p = 0; p < R_COUNT; p++) {
        if (!(v->parts & (1 << p))) continue;
        int ok = sqlite3_prepare_v2(d.db, k_count[p], -1, &q, NULL) == SQLITE_OK &&
                 sqlite3_bind_int64(q, 1, (sqlite3_int64)n) == SQLITE_OK &&
                 sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 1;
        sqlite3_finalize(q);
        q = NULL;
        if (!ok) goto done;
    }
    if (sqlite3_prepare_v2(d.db, "select page_count, page_size from pragma_page_count(),"
                               " pragma_page_size()", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        double page = (double)sqlite3_column_int64(q, 1);
        int written = 0, hi = 0;
        sqlite3_db_status(d.db, SQLITE_DBSTATUS_CACHE_WRITE, &written, &hi, 0);
        out->mb = (double)sqlite3_column_int64(q, 0) * page / 1e6;
        out->kib = (double)written * page / 1024.0 / (double)n;
    }
    sqlite3_finalize(q);
    rc = 0;
done:
    if (rc) fprintf(stderr, "%s failed: %s\n", v->name, d.db ? sqlite3_errmsg(d.db) : "no db");
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(d.st[i]);
    for (int p = 0; p < R_COUNT; p++)
        for (int m = 0; m < 2; m++) sqlite3_finalize(d.rows[p][m]);
    sqlite3_close(d.db);
    if (v->where != 2) remove_db(path);
    free(order);
    return rc;
}

static void make_changes(change *c, size_t n) {
    static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < sizeof g_owner; i++) g_owner[i] = (uint8_t)rnd();
    evolu_id_to_string(g_owner, g_owner_s);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < EVOLU_ID_BYTES; j++) c[i].id[j] = (uint8_t)rnd();
        evolu_id_to_string(c[i].id, c[i].ids);
        evolu_timestamp t;
        memset(&t, 0, sizeof t);
        t.millis = BASE_MS + i / 4; /* a few changes per millisecond, as a busy sender */
        t.counter = (uint16_t)(i % 4);
        memcpy(t.node_id, "\x01\x23\x45\x67\x89\xab\xcd\xef", EVOLU_NODE_ID_BYTES);
        evolu_timestamp_to_bytes(&t, c[i].ts);
        for (size_t j = 0; j < TEXT_CHARS; j++) c[i].sensor[j] = abc[rnd() % (sizeof abc - 1)];
        evolu_date_iso_format((int64_t)t.millis, c[i].iso);
        c[i].value = (double)(rnd() % 1000000) / 100.0;
        c[i].h1 = (int64_t)(rnd() & 0xFFFFFFFFFFFFULL); /* fingerprint halves: 48 bits */
        c[i].h2 = (int64_t)(rnd() & 0xFFFFFFFFFFFFULL);
    }
}

int main(int argc, char **argv) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--dir DIR]  (env N, BATCH, ONLY)\n", argv[0]);
            return 2;
        }
    }
    const char *ne = getenv("N"), *be = getenv("BATCH"), *only = getenv("ONLY");
    size_t n = ne ? (size_t)strtoull(ne, NULL, 10) : 50000;
    size_t batch = be ? (size_t)strtoull(be, NULL, 10) : 1000;
    if (!n || !batch) return 2;
    change *c = calloc(n, sizeof *c);
    if (!c) return 2;
    make_changes(c, n);
    int shm = access("/dev/shm", W_OK) == 0;

    const variant vs[] = {
        {.name = "full set, WAL + synchronous=NORMAL (client)", .parts = P_ALL},
        {.name = "  history rows only (3 per change)", .parts = P_HIST},
        {.name = "  app table upsert only", .parts = P_APP},
        {.name = "  evolu_timestamp only", .parts = P_TS},
        {.name = "full set, per-column upserts (as TS)", .parts = P_ALL, .per_column = 1},
        {.name = "full set, synchronous=OFF", .parts = P_ALL, .sync_off = 1},
        {.name = "full set, :memory:", .parts = P_ALL, .where = 2},
        {.name = "full set, /dev/shm", .parts = P_ALL, .where = 1},
        {.name = "full set, history sorted in batch", .parts = P_ALL, .sort_hist = 1},
        {.name = "full set, history + app sorted in batch", .parts = P_ALL, .sort_hist = 1,
         .sort_app = 1},
        {.name = "full set, 1 GiB page cache", .parts = P_ALL, .cache_mb = 1024},
        {.name = "full set, 32 rows per statement", .parts = P_ALL, .multi = 1},
        {.name = "full set, 32 rows per statement, :memory:", .parts = P_ALL, .where = 2,
         .multi = 1},
    };
    printf("SQLite %s; %zu two-column insert changes, batches of %zu; file in %s\n",
           sqlite3_libversion(), n, batch, dir);
    /* "µs" is 3 bytes wide for printf: one more than it shows */
    printf("%-44s %9s %9s %9s %10s %7s %7s\n", "variant", "µs CPU", "chg/s CPU", "µs wall",
           "chg/s wall", "file MB", "KiB/chg");
    result best = {0}, best_file = {0};
    const char *best_name = NULL, *best_file_name = NULL;
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        if (only && strtoul(only, NULL, 10) != i + 1) continue;
        if (vs[i].where == 1 && !shm) {
            printf("%-44s skipped (no writable /dev/shm)\n", vs[i].name);
            continue;
        }
        result r = {0};
        if (run(&vs[i], dir, c, n, batch, &r)) {
            free(c);
            return 3;
        }
        printf("%-44s %8.2f %9.0f %8.2f %10.0f %7.1f %7.2f\n", vs[i].name,
               r.cpu * 1e6 / (double)n, (double)n / r.cpu, r.wall * 1e6 / (double)n,
               (double)n / r.wall, r.mb, r.kib);
        fflush(stdout);
        if (vs[i].parts != P_ALL || vs[i].per_column) continue;
        if (!best_name || r.cpu < best.cpu) best = r, best_name = vs[i].name;
        /* what a client can use: a file in the given dir, its own pragmas */
        if (!vs[i].where && !vs[i].sync_off && !vs[i].cache_mb &&
            (!best_file_name || r.cpu < best_file.cpu))
            best_file = r, best_file_name = vs[i].name;
    }
    if (best_file_name)
        printf("on a file with the client's pragmas: %.2f µs/change = %.0f changes/s CPU (%s)\n",
               best_file.cpu * 1e6 / (double)n, (double)n / best_file.cpu, best_file_name);
    if (best_name)
        printf("floor: the spec layout's SQL alone = %.2f µs/change = %.0f changes/s CPU (best"
               " variant: %s); target 5 µs = 200,000/s\n",
               best.cpu * 1e6 / (double)n, (double)n / best.cpu, best_name);
    free(c);
    return 0;
}
