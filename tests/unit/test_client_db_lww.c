/* test_client_db_lww.c - the in-memory LWW knowledge of the client database
 * (src/store/client_db_lww.c) must never answer from a stale picture of
 * evolu_history: after the caller's own SQL on the handle, after another
 * connection's commit, after a batch that rolled back, after a schema change,
 * and with more cells than its table holds. Each case applies a change that
 * the cache alone would wrongly let win (or lose) and checks the row. */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evolu/client_db.h"
#include "vec.h"

#define NOW 1700000010000LL
#define BASE 1700000000000ULL

static char g_dir[] = "/tmp/evolu-cdb-lww-XXXXXX";
static evolu_owner g_owner;
static uint8_t g_random[4096];
static vec_fixed_port g_fp;
static int g_files;

typedef struct msg {
    evolu_client_message m;
    uint8_t buf[256];
} msg;

static void make(msg *out, uint64_t millis, const uint8_t id[16], const char *title) {
    memset(out, 0, sizeof *out);
    out->m.timestamp.millis = millis;
    memset(out->m.timestamp.node_id, 7, EVOLU_NODE_ID_BYTES);
    evolu_column col = {(const uint8_t *)"title", 5,
                        evolu_value_text((const uint8_t *)title, strlen(title))};
    evolu_dbchange c;
    memset(&c, 0, sizeof c);
    c.table = (const uint8_t *)"todo";
    c.table_len = 4;
    memcpy(c.id, id, 16);
    c.columns = &col;
    c.n_columns = 1;
    c.is_insert = true;
    c.is_delete = -1;
    uint8_t nonce[EVOLU_AEAD_NONCE_BYTES];
    memset(nonce, (int)(millis & 0xff), sizeof nonce);
    evolu_writer w = evolu_writer_make(out->buf, sizeof out->buf);
    CHECK(evolu_dbchange_encrypt(&w, vec_port(), g_owner.encryption_key, &c, &out->m.timestamp,
                                 nonce) == EVOLU_OK);
    out->m.change = out->buf;
    out->m.change_len = w.len;
}

static evolu_err apply1(evolu_client_db *db, uint64_t millis, const uint8_t id[16],
                        const char *title) {
    msg m;
    make(&m, millis, id, title);
    return evolu_client_db_apply(db, &g_owner, &m.m, 1, NULL);
}

/* title of row id (hex of the 16 bytes as the id string is not needed:
 * there is one row per id byte pattern, found through evolu_history) */
static char g_title[64];
static const char *title_of(sqlite3 *h, const uint8_t id[16]) {
    sqlite3_stmt *st = NULL;
    g_title[0] = 0;
    if (sqlite3_prepare_v2(h,
                           "select t.title from todo t join evolu_history h on"
                           " h.\"table\" = 'todo' and h.\"column\" = 'createdAt'"
                           " and h.id = ?1 and t.createdAt = h.value limit 1",
                           -1, &st, NULL) != SQLITE_OK)
        return g_title;
    sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(g_title, sizeof g_title, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return g_title;
}

/* A history row for (todo, id, title) at millis, written behind the
 * database's back through handle h. */
static void history_behind(sqlite3 *h, const uint8_t id[16], uint64_t millis) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = millis;
    memset(t.node_id, 9, EVOLU_NODE_ID_BYTES);
    uint8_t ts[EVOLU_TIMESTAMP_BYTES];
    evolu_timestamp_to_bytes(&t, ts);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(h,
                             "insert into evolu_history (ownerId, \"table\", id, \"column\","
                             " value, \"timestamp\") values (?1, 'todo', ?2, 'title', 'outside', ?3)",
                             -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_blob(st, 1, g_owner.id, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, ts, 16, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
}

static evolu_client_db *open_fresh(char *path, size_t cap) {
    snprintf(path, cap, "%s/db%d.sqlite", g_dir, g_files++);
    evolu_client_db *db = NULL;
    CHECK(evolu_client_db_open(path, &g_fp.port, &db) == EVOLU_OK);
    const char *cols[] = {"title"};
    CHECK(evolu_client_db_declare_table(db, "todo", cols, 1) == EVOLU_OK);
    return db;
}

static const uint8_t k_a[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const uint8_t k_b[16] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};

/* The caller's own SQL on the handle between two batches. */
static void test_own_sql(void) {
    char path[256];
    evolu_client_db *db = open_fresh(path, sizeof path);
    CHECK(apply1(db, BASE + 100, k_a, "first") == EVOLU_OK);
    history_behind(evolu_client_db_sqlite(db), k_a, BASE + 300);
    /* older than the outside row: loses although it is newer than all we wrote */
    CHECK(apply1(db, BASE + 200, k_a, "second") == EVOLU_OK);
    CHECK(!strcmp(title_of(evolu_client_db_sqlite(db), k_a), "first"));
    CHECK(apply1(db, BASE + 400, k_a, "third") == EVOLU_OK);
    CHECK(!strcmp(title_of(evolu_client_db_sqlite(db), k_a), "third"));
    evolu_client_db_close(db);
}

/* Another connection's commit between two batches. */
static void test_other_connection(void) {
    char path[256];
    evolu_client_db *db = open_fresh(path, sizeof path);
    CHECK(apply1(db, BASE + 100, k_a, "first") == EVOLU_OK);
    sqlite3 *other = NULL;
    CHECK(sqlite3_open(path, &other) == SQLITE_OK);
    sqlite3_busy_timeout(other, 5000);
    history_behind(other, k_a, BASE + 300);
    sqlite3_close(other);
    CHECK(apply1(db, BASE + 200, k_a, "second") == EVOLU_OK);
    CHECK(!strcmp(title_of(evolu_client_db_sqlite(db), k_a), "first"));
    evolu_client_db_close(db);
}

/* A batch that wrote cells and then rolled back leaves nothing known. */
static void test_rollback(void) {
    char path[256];
    evolu_client_db *db = open_fresh(path, sizeof path);
    sqlite3 *h = evolu_client_db_sqlite(db);
    CHECK(apply1(db, BASE + 100, k_a, "first") == EVOLU_OK);
    CHECK(sqlite3_exec(h,
                       "create trigger boom before insert on todo when new.title = 'boom'"
                       " begin select raise(abort, 'refused'); end",
                       NULL, NULL, NULL) == SQLITE_OK);
    msg m[2];
    make(&m[0], BASE + 300, k_a, "rolled back");
    make(&m[1], BASE + 301, k_b, "boom");
    evolu_client_message ms[2] = {m[0].m, m[1].m};
    CHECK(evolu_client_db_apply(db, &g_owner, ms, 2, NULL) != EVOLU_OK);
    CHECK(!strcmp(title_of(h, k_a), "first"));
    /* newer than what committed, older than what rolled back: wins */
    CHECK(apply1(db, BASE + 200, k_a, "second") == EVOLU_OK);
    CHECK(!strcmp(title_of(h, k_a), "second"));
    evolu_client_db_close(db);
}

/* Many rows (more than the cell table holds), delivered newest first and
 * then again oldest first: every row keeps its newest title. */
static void test_many_cells(void) {
    char path[256];
    evolu_client_db *db = open_fresh(path, sizeof path);
    enum { ROWS = 20000, BATCH = 500 };
    static msg m[BATCH];
    static evolu_client_message ms[BATCH];
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < ROWS; i += BATCH) {
            for (int k = 0; k < BATCH; k++) {
                int r = i + k;
                uint8_t id[16] = {0};
                memcpy(id, &r, sizeof r);
                char title[32];
                /* pass 0: millis 2r+1 ("new"), pass 1: millis 2r ("old") */
                snprintf(title, sizeof title, "%s %d", pass ? "old" : "new", r);
                make(&m[k], BASE + 2 * (uint64_t)r + (pass ? 0 : 1), id, title);
                ms[k] = m[k].m;
            }
            CHECK(evolu_client_db_apply(db, &g_owner, ms, BATCH, NULL) == EVOLU_OK);
        }
    }
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(evolu_client_db_sqlite(db),
                       "select count(*) from todo where title like 'new %'", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == ROWS);
    sqlite3_finalize(st);
    evolu_client_db_close(db);
}

/* A schema change between batches (tables reloaded). */
static void test_schema_change(void) {
    char path[256];
    evolu_client_db *db = open_fresh(path, sizeof path);
    CHECK(apply1(db, BASE + 200, k_a, "first") == EVOLU_OK);
    const char *cols[] = {"title", "note"};
    CHECK(evolu_client_db_declare_table(db, "todo", cols, 2) == EVOLU_OK);
    CHECK(apply1(db, BASE + 100, k_a, "older") == EVOLU_OK);
    CHECK(!strcmp(title_of(evolu_client_db_sqlite(db), k_a), "first"));
    evolu_client_db_close(db);
}

int main(void) {
    for (size_t i = 0; i < sizeof g_random; i++) g_random[i] = (uint8_t)(i * 37 + 11);
    vec_fixed_port_init(&g_fp, g_random, sizeof g_random, NOW);
    uint8_t secret[EVOLU_OWNER_SECRET_BYTES] = {0};
    evolu_owner_from_secret(vec_port(), secret, sizeof secret, &g_owner);
    if (!mkdtemp(g_dir)) return 2;
    test_own_sql();
    test_other_connection();
    test_rollback();
    test_many_cells();
    test_schema_change();
    for (int i = 0; i < g_files; i++) {
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int k = 0; k < 3; k++) {
            char p[300];
            snprintf(p, sizeof p, "%s/db%d.sqlite%s", g_dir, i, suffix[k]);
            unlink(p);
        }
    }
    rmdir(g_dir);
    return vec_finish();
}
