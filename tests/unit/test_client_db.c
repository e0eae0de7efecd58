/* test_client_db.c - unit tests of the client database (evolu/client_db.h):
 * LWW convergence in both delivery orders, duplicate delivery, quarantine and
 * its release, local-only tables, all-or-nothing batches, reopening, name
 * quoting, value storage classes, notifications and clock errors. */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evolu/client_db.h"
#include "evolu/protocol.h"
#include "vec.h"

#define NOW 1700000010000LL

static char g_dir[] = "/tmp/evolu-clientdb-unit-XXXXXX";
static evolu_owner g_owner;
static uint8_t g_random[1 << 16];
static int g_files;
/* Every encrypted message buffer, freed at the end (messages hold const views). */
static uint8_t *g_allocs[256];
static size_t g_nallocs;

/* The writable buffer behind a message made by make_msg. */
static uint8_t *buf_of(const evolu_client_message *m) {
    for (size_t i = 0; i < g_nallocs; i++)
        if ((const uint8_t *)g_allocs[i] == m->change) return g_allocs[i];
    exit(1);
}

typedef struct db_ctx {
    vec_fixed_port fp;
    evolu_client_db *db;
    char path[256];
} db_ctx;

static void open_db(db_ctx *c, bool fresh) {
    if (fresh) {
        snprintf(c->path, sizeof c->path, "%s/db%d.sqlite", g_dir, g_files++);
        vec_fixed_port_init(&c->fp, g_random, sizeof g_random, NOW);
        /* a different NodeId per database */
        c->fp.random_pos = (size_t)g_files * 64;
    }
    c->db = NULL;
    evolu_err e = evolu_client_db_open(c->path, &c->fp.port, &c->db);
    CHECK(e == EVOLU_OK);
    if (e != EVOLU_OK) exit(1);
}

static void declare_todo(db_ctx *c) {
    const char *cols[] = {"title", "isCompleted"};
    CHECK(evolu_client_db_declare_table(c->db, "todo", cols, 2) == EVOLU_OK);
}

/* An encrypted message (caller frees .change). */
static evolu_client_message make_msg(uint64_t millis, uint16_t counter, uint8_t node,
                                     const char *table, const uint8_t id[16],
                                     const evolu_column *cols, size_t n, bool is_insert,
                                     int8_t is_delete) {
    evolu_client_message m;
    memset(&m, 0, sizeof m);
    m.timestamp.millis = millis;
    m.timestamp.counter = counter;
    memset(m.timestamp.node_id, node, EVOLU_NODE_ID_BYTES);
    evolu_dbchange c;
    memset(&c, 0, sizeof c);
    c.table = (const uint8_t *)table;
    c.table_len = strlen(table);
    memcpy(c.id, id, 16);
    c.columns = cols;
    c.n_columns = n;
    c.is_insert = is_insert;
    c.is_delete = is_delete;
    size_t len = 0;
    evolu_dbchange_encrypted_len(&c, &len);
    uint8_t *enc = malloc(len);
    if (g_nallocs < sizeof g_allocs / sizeof g_allocs[0]) g_allocs[g_nallocs++] = enc;
    uint8_t nonce[EVOLU_AEAD_NONCE_BYTES];
    memset(nonce, (int)counter + node, sizeof nonce);
    evolu_writer w = evolu_writer_make(enc, len);
    CHECK(evolu_dbchange_encrypt(&w, vec_port(), g_owner.encryption_key, &c, &m.timestamp,
                                 nonce) == EVOLU_OK);
    m.change = enc;
    m.change_len = w.len;
    return m;
}

static evolu_column text_col(const char *name, const char *s) {
    evolu_column c = {(const uint8_t *)name, strlen(name),
                      evolu_value_text((const uint8_t *)s, strlen(s))};
    return c;
}

static evolu_column num_col(const char *name, double d) {
    evolu_column c = {(const uint8_t *)name, strlen(name), evolu_value_number(d)};
    return c;
}

/* The whole result of a query as one string (quote() of every column). */
static char *dump(db_ctx *c, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(evolu_client_db_sqlite(c->db), sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(evolu_client_db_sqlite(c->db)));
        exit(1);
    }
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            sqlite3_value *v = sqlite3_column_value(st, i);
            char *q = sqlite3_mprintf("%d:%Q|", sqlite3_value_type(v),
                                      (const char *)sqlite3_value_text(v));
            size_t n = strlen(q);
            if (len + n + 2 > cap) {
                cap = (cap + n) * 2;
                out = realloc(out, cap);
            }
            memcpy(out + len, q, n + 1);
            len += n;
            sqlite3_free(q);
        }
        out[len++] = '\n';
        out[len] = 0;
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t count(db_ctx *c, const char *sql) {
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(evolu_client_db_sqlite(c->db), sql, -1, &st, NULL);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

static const uint8_t k_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

#define ALL_STATE                                                                          \
    "select * from todo order by ownerId, id", "select * from evolu_history order by 1,2,3,4,5"

/* Concurrent edits of the same row delivered in both orders give the same
 * table and history; a column is won by the greater timestamp. */
static void test_lww_both_orders(void) {
    evolu_column a_cols[] = {text_col("title", "A"), num_col("isCompleted", 0)};
    evolu_column b_cols[] = {text_col("title", "B")};
    evolu_client_message a = make_msg(1700000000000, 0, 0xaa, "todo", k_id, a_cols, 2, true, -1);
    /* B is later by millis but an update; it wins title, A keeps isCompleted. */
    evolu_client_message b = make_msg(1700000000001, 0, 0xbb, "todo", k_id, b_cols, 1, false, -1);
    /* same millis and counter, larger nodeId wins */
    evolu_column c_cols[] = {num_col("isCompleted", 1)};
    evolu_client_message c = make_msg(1700000000001, 0, 0xcc, "todo", k_id, c_cols, 1, false, 1);

    db_ctx x, y;
    open_db(&x, true);
    open_db(&y, true);
    declare_todo(&x);
    declare_todo(&y);
    evolu_client_message fwd[] = {a, b, c}, rev[] = {c, b, a};
    CHECK(evolu_client_db_apply(x.db, &g_owner, fwd, 3, NULL) == EVOLU_OK);
    CHECK(evolu_client_db_apply(y.db, &g_owner, &rev[0], 1, NULL) == EVOLU_OK);
    CHECK(evolu_client_db_apply(y.db, &g_owner, &rev[1], 2, NULL) == EVOLU_OK);
    const char *q[] = {ALL_STATE};
    for (int i = 0; i < 2; i++) {
        char *dx = dump(&x, q[i]), *dy = dump(&y, q[i]);
        CHECK(!strcmp(dx, dy));
        free(dx);
        free(dy);
    }
    char *row = dump(&x, "select title, isCompleted, isDeleted, createdAt, updatedAt from todo");
    CHECK(!strcmp(row, "3:'B'|1:'1'|1:'1'|3:'2023-11-14T22:13:20.000Z'|"
                       "3:'2023-11-14T22:13:20.001Z'|\n"));
    free(row);
    evolu_client_db_close(x.db);
    evolu_client_db_close(y.db);
}

typedef struct notes {
    int calls;
    char last[256];
} notes;

static void on_change(void *ctx, const char *const *tables, size_t n) {
    notes *nt = ctx;
    nt->calls++;
    nt->last[0] = 0;
    for (size_t i = 0; i < n; i++) {
        strncat(nt->last, tables[i], sizeof nt->last - strlen(nt->last) - 2);
        strcat(nt->last, ",");
    }
}

/* Delivering the same batch again changes nothing and notifies nothing. */
static void test_duplicate_delivery(void) {
    db_ctx x;
    open_db(&x, true);
    declare_todo(&x);
    notes nt = {0, ""};
    evolu_client_db_on_change(x.db, on_change, &nt);
    evolu_column cols[] = {text_col("title", "T"), num_col("priority", 3)};
    evolu_client_message m = make_msg(1700000000000, 5, 0xaa, "todo", k_id, cols, 2, true, -1);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &m, 1, NULL) == EVOLU_OK);
    CHECK(nt.calls == 1 && !strcmp(nt.last, "todo,"));
    const char *q[] = {ALL_STATE, "select * from evolu_message_quarantine",
                       "select * from evolu_timestamp", "select * from evolu_message",
                       "select * from evolu_usage"};
    char *before[6];
    for (int i = 0; i < 6; i++) before[i] = dump(&x, q[i]);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &m, 1, NULL) == EVOLU_OK);
    for (int i = 0; i < 6; i++) {
        char *after = dump(&x, q[i]);
        CHECK(!strcmp(before[i], after));
        free(after);
        free(before[i]);
    }
    CHECK(nt.calls == 1);
    CHECK(count(&x, "select count(*) from evolu_message_quarantine") == 1);
    evolu_client_db_close(x.db);
}

/* Unknown columns and tables are quarantined and released once declared. */
static void test_quarantine_release(void) {
    db_ctx x;
    open_db(&x, true);
    declare_todo(&x);
    evolu_column c1[] = {num_col("priority", 2)};
    evolu_column c2[] = {text_col("name", "Home")};
    evolu_client_message m[] = {
        make_msg(1700000000000, 0, 0xaa, "todo", k_id, c1, 1, false, -1),
        make_msg(1700000000001, 0, 0xaa, "project", k_id, c2, 1, true, -1)};
    CHECK(evolu_client_db_apply(x.db, &g_owner, m, 2, NULL) == EVOLU_OK);
    /* updatedAt of the todo change applies although its only value is unknown */
    CHECK(count(&x, "select count(*) from todo where updatedAt is not null") == 1);
    CHECK(count(&x, "select count(*) from evolu_message_quarantine") == 3);
    notes nt = {0, ""};
    evolu_client_db_on_change(x.db, on_change, &nt);
    const char *cols[] = {"title", "isCompleted", "priority"};
    CHECK(evolu_client_db_declare_table(x.db, "todo", cols, 3) == EVOLU_OK);
    CHECK(count(&x, "select count(*) from todo where priority = 2") == 1);
    CHECK(count(&x, "select count(*) from evolu_message_quarantine") == 2);
    CHECK(count(&x, "select count(*) from evolu_history where \"column\" = 'priority'") == 1);
    CHECK(nt.calls == 1 && !strcmp(nt.last, "todo,"));
    const char *pcols[] = {"name"};
    CHECK(evolu_client_db_declare_table(x.db, "project", pcols, 1) == EVOLU_OK);
    CHECK(count(&x, "select count(*) from project where name = 'Home'"
                    " and createdAt = '2023-11-14T22:13:20.001Z'") == 1);
    CHECK(count(&x, "select count(*) from evolu_message_quarantine") == 0);
    /* A release must still respect LWW: an older quarantined value loses. */
    evolu_column newer[] = {num_col("isCompleted", 1)};
    evolu_column older[] = {num_col("isCompleted", 0), num_col("later", 9)};
    evolu_client_message n1 = make_msg(1700000000100, 0, 0xaa, "todo", k_id, newer, 1, false, -1);
    evolu_client_message n2 = make_msg(1700000000050, 0, 0xaa, "todo", k_id, older, 2, false, -1);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &n1, 1, NULL) == EVOLU_OK);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &n2, 1, NULL) == EVOLU_OK);
    CHECK(count(&x, "select isCompleted from todo") == 1);
    evolu_client_db_close(x.db);
}

/* Local-only tables: written directly, nothing stamped or synced. */
static void test_local_only(void) {
    db_ctx x;
    open_db(&x, true);
    const char *cols[] = {"text"};
    CHECK(evolu_client_db_declare_table(x.db, "_draft", cols, 1) == EVOLU_OK);
    evolu_timestamp clock0;
    evolu_client_db_clock(x.db, &clock0);
    evolu_column c[] = {text_col("text", "hello")};
    evolu_mutation m;
    memset(&m, 0, sizeof m);
    m.kind = EVOLU_MUTATION_INSERT;
    m.table = "_draft";
    m.columns = c;
    m.n_columns = 1;
    m.is_delete = -1;
    uint8_t id[1][EVOLU_ID_BYTES];
    CHECK(evolu_client_db_mutate(x.db, &g_owner, &m, 1, id) == EVOLU_OK);
    CHECK(count(&x, "select count(*) from _draft where text = 'hello'"
                    " and createdAt = '2023-11-14T22:13:30.000Z'") == 1);
    CHECK(count(&x, "select count(*) from evolu_timestamp") == 0);
    CHECK(count(&x, "select count(*) from evolu_history") == 0);
    CHECK(count(&x, "select count(*) from evolu_message") == 0);
    evolu_timestamp clock1;
    evolu_client_db_clock(x.db, &clock1);
    CHECK(evolu_timestamp_cmp(&clock0, &clock1) == 0);
    /* A received change to a local-only table is never applied. */
    evolu_column r[] = {text_col("text", "remote")};
    evolu_client_message rm = make_msg(1700000000000, 0, 0xaa, "_draft", id[0], r, 1, false, -1);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &rm, 1, NULL) == EVOLU_OK);
    CHECK(count(&x, "select count(*) from _draft where text = 'hello'") == 1);
    CHECK(count(&x, "select count(*) from evolu_message_quarantine") == 0);
    /* Delete removes the row. */
    m.kind = EVOLU_MUTATION_DELETE;
    m.has_id = true;
    memcpy(m.id, id[0], EVOLU_ID_BYTES);
    m.n_columns = 0;
    CHECK(evolu_client_db_mutate(x.db, &g_owner, &m, 1, NULL) == EVOLU_OK);
    CHECK(count(&x, "select count(*) from _draft") == 0);
    evolu_client_db_close(x.db);
}

/* One undecryptable message refuses the whole batch; nothing is written. */
static void test_bad_batch(void) {
    db_ctx x;
    open_db(&x, true);
    declare_todo(&x);
    evolu_column c[] = {text_col("title", "x")};
    evolu_client_message m[] = {
        make_msg(1700000000000, 0, 0xaa, "todo", k_id, c, 1, true, -1),
        make_msg(1700000000001, 0, 0xaa, "todo", k_id, c, 1, false, -1),
        make_msg(1700000000002, 0, 0xaa, "todo", k_id, c, 1, false, -1)};
    buf_of(&m[1])[m[1].change_len - 1] ^= 1;
    evolu_timestamp before, after;
    evolu_client_db_clock(x.db, &before);
    evolu_client_db_failure f;
    CHECK(evolu_client_db_apply(x.db, &g_owner, m, 3, &f) == EVOLU_E_DECRYPT);
    CHECK(f.index == 1);
    /* A wire timestamp that differs from the encrypted one */
    buf_of(&m[1])[m[1].change_len - 1] ^= 1;
    m[2].timestamp.counter = 7;
    CHECK(evolu_client_db_apply(x.db, &g_owner, m, 3, &f) == EVOLU_E_TIMESTAMP_MISMATCH);
    CHECK(f.index == 2);
    /* Truncated framing */
    m[2].timestamp.counter = 0;
    m[2].change_len = 10;
    CHECK(evolu_client_db_apply(x.db, &g_owner, m, 3, &f) != EVOLU_OK);
    /* Another owner's key */
    evolu_owner other = g_owner;
    other.encryption_key[0] ^= 1;
    CHECK(evolu_client_db_apply(x.db, &other, m, 1, &f) == EVOLU_E_DECRYPT);
    evolu_client_db_clock(x.db, &after);
    CHECK(evolu_timestamp_cmp(&before, &after) == 0);
    CHECK(count(&x, "select count(*) from todo") == 0);
    CHECK(count(&x, "select count(*) from evolu_history") == 0);
    CHECK(count(&x, "select count(*) from evolu_timestamp") == 0);
    CHECK(count(&x, "select count(*) from evolu_message") == 0);
    /* A protocol message for another owner */
    uint8_t buf[64];
    evolu_writer w = evolu_writer_make(buf, sizeof buf);
    uint8_t owner2[16] = {9};
    evolu_msg_encode_response(&w, owner2, 0);
    CHECK(evolu_client_db_apply_protocol(x.db, &g_owner, buf, w.len, NULL) == EVOLU_E_OWNER);
    CHECK(evolu_client_db_apply_protocol(x.db, &g_owner, buf, 3, NULL) != EVOLU_OK);
    w = evolu_writer_make(buf, sizeof buf);
    evolu_msg_encode_response(&w, g_owner.id, 3);
    CHECK(evolu_client_db_apply_protocol(x.db, &g_owner, buf, w.len, NULL) == EVOLU_E_QUOTA);
    evolu_client_db_close(x.db);
}

/* Reopening keeps the clock, the rows and the schema. */
static void test_reopen(void) {
    db_ctx x;
    open_db(&x, true);
    declare_todo(&x);
    evolu_column c[] = {text_col("title", "kept")};
    evolu_client_message m = make_msg(1700000000000, 0, 0xaa, "todo", k_id, c, 1, true, -1);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &m, 1, NULL) == EVOLU_OK);
    evolu_mutation mu;
    memset(&mu, 0, sizeof mu);
    mu.kind = EVOLU_MUTATION_UPDATE;
    mu.table = "todo";
    mu.has_id = true;
    memcpy(mu.id, k_id, 16);
    evolu_column t[] = {num_col("isCompleted", 1)};
    mu.columns = t;
    mu.n_columns = 1;
    mu.is_delete = -1;
    CHECK(evolu_client_db_mutate(x.db, &g_owner, &mu, 1, NULL) == EVOLU_OK);
    evolu_timestamp before, after;
    evolu_client_db_clock(x.db, &before);
    CHECK(before.millis == (uint64_t)NOW && before.counter == 1);
    char *rows = dump(&x, "select * from todo");
    evolu_client_db_close(x.db);
    open_db(&x, false);
    evolu_client_db_clock(x.db, &after);
    CHECK(evolu_timestamp_cmp(&before, &after) == 0);
    char *rows2 = dump(&x, "select * from todo");
    CHECK(!strcmp(rows, rows2));
    free(rows);
    free(rows2);
    /* the schema came back from the file: a new message applies without declaring */
    evolu_column c2[] = {text_col("title", "later")};
    evolu_client_message m2 = make_msg(1700000005000, 0, 0xaa, "todo", k_id, c2, 1, false, -1);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &m2, 1, NULL) == EVOLU_OK);
    CHECK(count(&x, "select count(*) from todo where title = 'later'") == 1);
    CHECK(count(&x, "select count(*) from evolu_message_quarantine") == 0);
    evolu_client_db_close(x.db);
}

/* Names that need quoting work; bad names are rejected before any SQL. */
static void test_names(void) {
    db_ctx x;
    open_db(&x, true);
    const char *weird_cols[] = {"c\"ol", "x'); drop table evolu_history; --"};
    CHECK(evolu_client_db_declare_table(x.db, "we\"ird", weird_cols, 2) == EVOLU_OK);
    evolu_column c[] = {text_col("c\"ol", "v"), text_col(weird_cols[1], "w")};
    evolu_client_message m = make_msg(1700000000000, 0, 0xaa, "we\"ird", k_id, c, 2, true, -1);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &m, 1, NULL) == EVOLU_OK);
    CHECK(count(&x, "select count(*) from \"we\"\"ird\" where \"c\"\"ol\" = 'v'") == 1);
    CHECK(count(&x, "select count(*) from evolu_history") == 3);
    const char *one[] = {"a"};
    const char *sys[] = {"createdAt"};
    const char *sys_case[] = {"ID"};
    const char *dup[] = {"a", "A"};
    const char *empty[] = {""};
    const char *ctrl[] = {"a\nb"};
    const char *bad_utf8[] = {"\xff"};
    CHECK(evolu_client_db_declare_table(x.db, "", one, 1) == EVOLU_E_ARG);
    CHECK(evolu_client_db_declare_table(x.db, "evolu_history", one, 1) == EVOLU_E_ARG);
    CHECK(evolu_client_db_declare_table(x.db, "SQLITE_x", one, 1) == EVOLU_E_ARG);
    CHECK(evolu_client_db_declare_table(x.db, "t", sys, 1) == EVOLU_E_ARG);
    CHECK(evolu_client_db_declare_table(x.db, "t", sys_case, 1) == EVOLU_E_ARG);
    CHECK(evolu_client_db_declare_table(x.db, "t", dup, 2) == EVOLU_E_ARG);
    CHECK(evolu_client_db_declare_table(x.db, "t", empty, 1) == EVOLU_E_ARG);
    CHECK(evolu_client_db_declare_table(x.db, "t", ctrl, 1) == EVOLU_E_ARG);
    CHECK(evolu_client_db_declare_table(x.db, "t", bad_utf8, 1) == EVOLU_E_ARG);
    CHECK(evolu_client_db_declare_table(x.db, "WE\"IRD", one, 1) == EVOLU_E_ARG);
    const char *col_case[] = {"C\"OL"};
    CHECK(evolu_client_db_declare_table(x.db, "we\"ird", col_case, 1) == EVOLU_E_ARG);
    CHECK(count(&x, "select count(*) from sqlite_schema where name = 't'") == 0);
    /* Declaring again with the same columns is a no-op. */
    CHECK(evolu_client_db_declare_table(x.db, "we\"ird", weird_cols, 2) == EVOLU_OK);
    /* A peer's table name differing only in case is another (unknown) table. */
    evolu_client_message m2 = make_msg(1700000000001, 0, 0xaa, "WE\"IRD", k_id, c, 1, true, -1);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &m2, 1, NULL) == EVOLU_OK);
    CHECK(count(&x, "select count(*) from evolu_message_quarantine") == 2);
    evolu_client_db_close(x.db);
}

/* Storage classes of values. */
static void test_values(void) {
    db_ctx x;
    open_db(&x, true);
    const char *cols[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    CHECK(evolu_client_db_declare_table(x.db, "v", cols, 9) == EVOLU_OK);
    static const uint8_t bytes[] = {0, 1, 2};
    evolu_column c[] = {
        num_col("a", 2),
        num_col("b", 1.5),
        num_col("c", -0.0),
        num_col("d", 9007199254740992.0), /* beyond the safe range: REAL */
        text_col("e", ""),
        {(const uint8_t *)"f", 1, evolu_value_bytes(bytes, 3)},
        {(const uint8_t *)"g", 1, evolu_value_bytes(NULL, 0)},
        {(const uint8_t *)"h", 1, evolu_value_null()},
        text_col("i", "2023-11-14T22:13:20.000Z"), /* DateIso tag, derived text */
    };
    evolu_client_message m = make_msg(1700000000000, 0, 0xaa, "v", k_id, c, 9, true, -1);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &m, 1, NULL) == EVOLU_OK);
    char *row = dump(&x, "select typeof(a), typeof(b), typeof(c), typeof(d), typeof(e),"
                         " typeof(f), typeof(g), typeof(h), i, hex(f) from v");
    CHECK(!strcmp(row, "3:'integer'|3:'real'|3:'real'|3:'real'|3:'text'|3:'blob'|3:'blob'|"
                       "3:'null'|3:'2023-11-14T22:13:20.000Z'|3:'000102'|\n"));
    free(row);
    evolu_client_db_close(x.db);
}

/* Local mutations: random ids, soft delete, and a clock error aborting all. */
static void test_mutations(void) {
    db_ctx x;
    open_db(&x, true);
    declare_todo(&x);
    notes nt = {0, ""};
    evolu_client_db_on_change(x.db, on_change, &nt);
    evolu_column c[] = {text_col("title", "one")};
    evolu_mutation m[2];
    memset(m, 0, sizeof m);
    m[0].kind = EVOLU_MUTATION_INSERT;
    m[0].table = "todo";
    m[0].columns = c;
    m[0].n_columns = 1;
    m[0].is_delete = -1;
    m[1] = m[0];
    uint8_t ids[2][EVOLU_ID_BYTES];
    CHECK(evolu_client_db_mutate(x.db, &g_owner, m, 2, ids) == EVOLU_OK);
    CHECK(memcmp(ids[0], ids[1], 16) != 0);
    CHECK(count(&x, "select count(*) from todo") == 2);
    CHECK(count(&x, "select count(*) from evolu_message") == 2);
    CHECK(nt.calls == 1 && !strcmp(nt.last, "todo,"));
    evolu_mutation d;
    memset(&d, 0, sizeof d);
    d.kind = EVOLU_MUTATION_DELETE;
    d.table = "todo";
    d.has_id = true;
    memcpy(d.id, ids[0], 16);
    d.is_delete = -1;
    CHECK(evolu_client_db_mutate(x.db, &g_owner, &d, 1, NULL) == EVOLU_OK);
    CHECK(count(&x, "select count(*) from todo where isDeleted = 1 and updatedAt is not null") ==
          1);
    /* Undeclared table / column, system column: rejected, nothing written. */
    evolu_mutation bad = m[0];
    bad.table = "nope";
    CHECK(evolu_client_db_mutate(x.db, &g_owner, &bad, 1, NULL) == EVOLU_E_ARG);
    evolu_column unk[] = {text_col("nope", "x")};
    bad = m[0];
    bad.columns = unk;
    CHECK(evolu_client_db_mutate(x.db, &g_owner, &bad, 1, NULL) == EVOLU_E_ARG);
    evolu_column sys[] = {text_col("ownerId", "x")};
    bad.columns = sys;
    CHECK(evolu_client_db_mutate(x.db, &g_owner, &bad, 1, NULL) == EVOLU_E_SYSTEM_COLUMN);
    /* Receive a stamp 4 minutes ahead, then let system time go back: send()
     * would be beyond the drift limit, so the batch fails and nothing changes. */
    evolu_client_message ahead = make_msg((uint64_t)NOW + 240000, 0, 0xaa, "todo", k_id, c, 1,
                                          true, -1);
    CHECK(evolu_client_db_apply(x.db, &g_owner, &ahead, 1, NULL) == EVOLU_OK);
    x.fp.now = NOW - 120000;
    evolu_timestamp before, after;
    evolu_client_db_clock(x.db, &before);
    int64_t n_msgs = count(&x, "select count(*) from evolu_message");
    CHECK(evolu_client_db_mutate(x.db, &g_owner, m, 2, NULL) == EVOLU_E_CLOCK_DRIFT);
    evolu_client_db_clock(x.db, &after);
    CHECK(evolu_timestamp_cmp(&before, &after) == 0);
    CHECK(count(&x, "select count(*) from evolu_message") == n_msgs);
    CHECK(count(&x, "select count(*) from todo") == 3);
    evolu_client_db_close(x.db);
}

int main(void) {
    for (size_t i = 0; i < sizeof g_random; i++) g_random[i] = (uint8_t)(i * 131 + (i >> 8));
    uint8_t secret[EVOLU_OWNER_SECRET_BYTES] = {0};
    evolu_owner_from_secret(vec_port(), secret, sizeof secret, &g_owner);
    if (!mkdtemp(g_dir)) return 2;
    test_lww_both_orders();
    test_duplicate_delivery();
    test_quarantine_release();
    test_local_only();
    test_bad_batch();
    test_reopen();
    test_names();
    test_values();
    test_mutations();
    for (int i = 0; i < g_files; i++) {
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int k = 0; k < 3; k++) {
            char p[300];
            snprintf(p, sizeof p, "%s/db%d.sqlite%s", g_dir, i, suffix[k]);
            unlink(p);
        }
    }
    rmdir(g_dir);
    for (size_t i = 0; i < g_nallocs; i++) free(g_allocs[i]);
    return vec_finish();
}
