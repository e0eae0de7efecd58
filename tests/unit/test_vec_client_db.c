/* test_vec_client_db.c - client_db_next5.json (spec 8.5): the published
 * 8.0.0-next.5 DbWorker's SQLite state after six Broadcast frames, a local
 * mutation, the initial sync message's timestamps and a drifted message,
 * reproduced against a real SQLite file with the same fixed clock and NodeId.
 *
 * Legitimate differences, checked as our rules say and explained where they
 * occur:
 *  - storage class of numbers: better-sqlite3 binds every JS number as REAL
 *    (typeof 'real'); we store integral safe numbers as INTEGER
 *    (evolu/client_db.h). The value is compared exactly, and the class must
 *    be 'integer' for an integral value, 'real' otherwise.
 *  - the table DDL text: ours is the same table (columns, order, primary key,
 *    without rowid, strict), written with different whitespace; the vector's
 *    DDL is executed in a scratch database and both are compared through
 *    SQLite's own pragmas. */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evolu/client_db.h"
#include "evolu/protocol.h"
#include "vec.h"

static const cJSON *g_root;
static evolu_client_db *g_db;
static evolu_owner g_owner;

/* "x'ab01'" -> bytes */
static size_t xblob(const char *s, uint8_t *out, size_t cap) {
    size_t n = strlen(s);
    if (n < 3 || (s[0] != 'x' && s[0] != 'X') || s[1] != '\'' || s[n - 1] != '\'')
        return (size_t)-1;
    char hex[512];
    if (n - 3 >= sizeof hex) return (size_t)-1;
    memcpy(hex, s + 2, n - 3);
    hex[n - 3] = 0;
    return vec_unhex(hex, out, cap);
}

static bool is_xblob(const cJSON *j) {
    return cJSON_IsString(j) && (j->valuestring[0] == 'x') && j->valuestring[1] == '\'';
}

/* A JSON value from the vector against column i of a row. */
static bool json_eq_col(const cJSON *j, sqlite3_stmt *st, int i) {
    int type = sqlite3_column_type(st, i);
    if (cJSON_IsNull(j)) return type == SQLITE_NULL;
    if (is_xblob(j)) {
        uint8_t b[256];
        size_t n = xblob(j->valuestring, b, sizeof b);
        return type == SQLITE_BLOB && n != (size_t)-1 &&
               (size_t)sqlite3_column_bytes(st, i) == n &&
               !memcmp(sqlite3_column_blob(st, i), b, n);
    }
    if (cJSON_IsString(j))
        return type == SQLITE_TEXT &&
               (size_t)sqlite3_column_bytes(st, i) == strlen(j->valuestring) &&
               !memcmp(sqlite3_column_text(st, i), j->valuestring, strlen(j->valuestring));
    if (cJSON_IsNumber(j))
        return (type == SQLITE_INTEGER || type == SQLITE_FLOAT) &&
               sqlite3_column_double(st, i) == j->valuedouble;
    return false;
}

/* The storage class we must have where better-sqlite3 reported `theirs`. */
static bool typeof_ok(const char *theirs, const char *ours, sqlite3_stmt *st, int value_col) {
    if (strcmp(theirs, "real") != 0) return !strcmp(theirs, ours);
    double d = sqlite3_column_double(st, value_col);
    bool integral = d == (double)(int64_t)d;
    return !strcmp(ours, integral ? "integer" : "real");
}

static sqlite3_stmt *prep(const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(evolu_client_db_sqlite(g_db), sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare failed: %s: %s\n", sql,
                sqlite3_errmsg(evolu_client_db_sqlite(g_db)));
        exit(2);
    }
    return st;
}

static int64_t count_rows(const char *sql) {
    sqlite3_stmt *st = prep(sql);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

static void bind_x(sqlite3_stmt *st, int i, const char *x) {
    uint8_t b[64];
    size_t n = xblob(x, b, sizeof b);
    if (n == (size_t)-1) n = 0;
    sqlite3_bind_blob(st, i, b, (int)n, SQLITE_TRANSIENT);
}

/* --- schema ------------------------------------------------------------------------ */

/* "name type pk" for each column plus the table_list flags, as one string. */
static void table_shape(sqlite3 *db, const char *table, char *out, size_t cap) {
    out[0] = 0;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "select name, type, pk from pragma_table_info(?1) order by cid", -1,
                       &st, NULL);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s %s %d;", (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2));
    }
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "select wr, strict from pragma_table_list where name = ?1", -1, &st,
                       NULL);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "wr=%d strict=%d", sqlite3_column_int(st, 0),
                 sqlite3_column_int(st, 1));
    }
    sqlite3_finalize(st);
}

static void check_schema(void) {
    vec_section("todoDdl");
    sqlite3 *scratch = NULL;
    sqlite3_open(":memory:", &scratch);
    int rc = sqlite3_exec(scratch, vec_str(g_root, "todoDdl"), NULL, NULL, NULL);
    char want[1024], got[1024];
    table_shape(scratch, "todo", want, sizeof want);
    table_shape(evolu_client_db_sqlite(g_db), "todo", got, sizeof got);
    sqlite3_close(scratch);
    vec_check(rc == SQLITE_OK && !strcmp(want, got), "todo table: got %s want %s", got, want);
}

/* --- steps ----------------------------------------------------------------------------- */

static void apply_steps(void) {
    vec_section("steps");
    const cJSON *step;
    cJSON_ArrayForEach(step, vec_get(g_root, "steps")) {
        size_t n = 0;
        uint8_t *msg = vec_unhex_alloc(vec_str(step, "inputMessage"), &n);
        evolu_msg_reader r;
        evolu_err oe = evolu_msg_reader_open(&r, msg, n);
        bool broadcast = oe == EVOLU_OK && r.header.type == EVOLU_MESSAGE_BROADCAST;
        evolu_client_db_failure f;
        evolu_err e = evolu_client_db_apply_protocol(g_db, &g_owner, msg, n, &f);
        const cJSON *ts = vec_get(step, "timestamp");
        vec_check(e == EVOLU_OK && broadcast == !strcmp(vec_str(step, "result"), "Broadcast"),
                  "step %.0f: %s", vec_num(ts, "millis"), evolu_errname(e));
        free(msg);
    }
    vec_section("errors");
    vec_check(cJSON_GetArraySize(vec_get(g_root, "errors")) == 0,
              "the vector expects errors from the steps, we reported none");
}

static void check_todo_table(void) {
    vec_section("todoTable");
    const cJSON *want = vec_get(g_root, "todoTable");
    sqlite3_stmt *st = prep("select id, createdAt, updatedAt, isDeleted, ownerId, title,"
                            " isCompleted, typeof(isCompleted), typeof(isDeleted) from todo"
                            " order by ownerId, id");
    const char *cols[] = {"id", "createdAt", "updatedAt", "isDeleted", "ownerId", "title",
                          "isCompleted"};
    const cJSON *row;
    cJSON_ArrayForEach(row, want) {
        bool have = sqlite3_step(st) == SQLITE_ROW;
        for (int i = 0; i < 7; i++)
            vec_check(have && json_eq_col(vec_get(row, cols[i]), st, i), "todo.%s differs",
                      cols[i]);
        /* better-sqlite3 stored REAL; we store integral numbers as INTEGER. */
        vec_check(have && typeof_ok(vec_str(row, "typeof(isCompleted)"),
                                    (const char *)sqlite3_column_text(st, 7), st, 6),
                  "typeof(isCompleted)");
        vec_check(have && typeof_ok(vec_str(row, "typeof(isDeleted)"),
                                    (const char *)sqlite3_column_text(st, 8), st, 3),
                  "typeof(isDeleted)");
    }
    vec_check(sqlite3_step(st) == SQLITE_DONE, "todo has more rows than expected");
    sqlite3_finalize(st);
}

/* Looks up each expected history row by its key and compares value and class. */
static void check_history(void) {
    vec_section("evolu_history");
    const cJSON *want = vec_get(g_root, "evolu_history");
    sqlite3_stmt *st = prep("select value, typeof(value) from evolu_history where ownerId = ?1"
                            " and \"table\" = ?2 and id = ?3 and \"column\" = ?4"
                            " and timestamp = ?5");
    const cJSON *row;
    cJSON_ArrayForEach(row, want) {
        sqlite3_reset(st);
        bind_x(st, 1, vec_str(row, "ownerId"));
        sqlite3_bind_text(st, 2, vec_str(row, "table"), -1, SQLITE_TRANSIENT);
        bind_x(st, 3, vec_str(row, "id"));
        sqlite3_bind_text(st, 4, vec_str(row, "column"), -1, SQLITE_TRANSIENT);
        bind_x(st, 5, vec_str(row, "timestamp"));
        bool have = sqlite3_step(st) == SQLITE_ROW;
        vec_check(have && json_eq_col(vec_get(row, "value"), st, 0) &&
                      typeof_ok(vec_str(row, "typeof"), (const char *)sqlite3_column_text(st, 1),
                                st, 0),
                  "history %s %s @ %s", vec_str(row, "table"), vec_str(row, "column"),
                  vec_str(row, "timestamp"));
    }
    sqlite3_finalize(st);
    int64_t n = count_rows("select count(*) from evolu_history");
    vec_check(n == cJSON_GetArraySize(want), "evolu_history has %lld rows, want %d",
              (long long)n, cJSON_GetArraySize(want));
}

static void check_quarantine(void) {
    vec_section("evolu_message_quarantine");
    const cJSON *want = vec_get(g_root, "evolu_message_quarantine");
    sqlite3_stmt *st = prep("select value from evolu_message_quarantine where ownerId = ?1"
                            " and timestamp = ?2 and \"table\" = ?3 and id = ?4"
                            " and \"column\" = ?5");
    const cJSON *row;
    cJSON_ArrayForEach(row, want) {
        sqlite3_reset(st);
        bind_x(st, 1, vec_str(row, "ownerId"));
        bind_x(st, 2, vec_str(row, "timestamp"));
        sqlite3_bind_text(st, 3, vec_str(row, "table"), -1, SQLITE_TRANSIENT);
        bind_x(st, 4, vec_str(row, "id"));
        sqlite3_bind_text(st, 5, vec_str(row, "column"), -1, SQLITE_TRANSIENT);
        bool have = sqlite3_step(st) == SQLITE_ROW;
        vec_check(have && json_eq_col(vec_get(row, "value"), st, 0), "quarantine %s.%s",
                  vec_str(row, "table"), vec_str(row, "column"));
    }
    sqlite3_finalize(st);
    int64_t n = count_rows("select count(*) from evolu_message_quarantine");
    vec_check(n == cJSON_GetArraySize(want), "quarantine has %lld rows, want %d", (long long)n,
              cJSON_GetArraySize(want));
}

/* Rows of a small evolu_* table compared column by column (keys of the JSON). */
static void check_rows(const char *table, const cJSON *want) {
    vec_section(table);
    const cJSON *row = cJSON_GetArrayItem(want, 0);
    int64_t n = -1;
    {
        char sql[128];
        snprintf(sql, sizeof sql, "select count(*) from %s", table);
        n = count_rows(sql);
    }
    vec_check(n == cJSON_GetArraySize(want), "%s: %lld rows", table, (long long)n);
    if (!row) return;
    const cJSON *col;
    cJSON_ArrayForEach(col, row) {
        char sql[256];
        snprintf(sql, sizeof sql, "select \"%s\" from %s", col->string, table);
        sqlite3_stmt *st = prep(sql);
        vec_check(sqlite3_step(st) == SQLITE_ROW && json_eq_col(col, st, 0), "%s.%s", table,
                  col->string);
        sqlite3_finalize(st);
    }
}

/* --- local mutation -------------------------------------------------------------------- */

/* values {"name": string|number|null} -> columns (names/strings point into the JSON). */
static size_t json_columns(const cJSON *values, evolu_column *cols, size_t cap) {
    size_t n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, values) {
        if (n == cap) break;
        cols[n].name = (const uint8_t *)v->string;
        cols[n].name_len = strlen(v->string);
        if (cJSON_IsString(v))
            cols[n].value = evolu_value_text((const uint8_t *)v->valuestring,
                                             strlen(v->valuestring));
        else if (cJSON_IsNumber(v)) cols[n].value = evolu_value_number(v->valuedouble);
        else cols[n].value = evolu_value_null();
        n++;
    }
    return n;
}

static void local_mutation(void) {
    vec_section("localMutation");
    const cJSON *lm = vec_get(g_root, "localMutation");
    const cJSON *m0 = cJSON_GetArrayItem(vec_get(lm, "messages"), 0);
    const cJSON *change = vec_get(m0, "change");
    evolu_column cols[8];
    evolu_mutation m;
    memset(&m, 0, sizeof m);
    m.kind = cJSON_IsTrue(vec_get(change, "isInsert")) ? EVOLU_MUTATION_INSERT
                                                        : EVOLU_MUTATION_UPDATE;
    m.table = vec_str(change, "table");
    m.has_id = true;
    evolu_id_from_string(vec_str(change, "id"), strlen(vec_str(change, "id")), m.id);
    m.columns = cols;
    m.n_columns = json_columns(vec_get(change, "values"), cols, 8);
    m.is_delete = cJSON_IsNull(vec_get(change, "isDelete"))
                      ? -1
                      : (cJSON_IsTrue(vec_get(change, "isDelete")) ? 1 : 0);
    evolu_err e = evolu_client_db_mutate(g_db, &g_owner, &m, 1, NULL);
    vec_check(e == EVOLU_OK, "mutate: %s", evolu_errname(e));

    /* The stamp send() gave it. */
    const cJSON *ts = vec_get(m0, "timestamp");
    evolu_timestamp want_ts = {(uint64_t)vec_num(ts, "millis"), (uint16_t)vec_num(ts, "counter"),
                               {0}};
    evolu_node_id_from_hex(vec_str(ts, "nodeId"), 16, want_ts.node_id);
    uint8_t want_tb[EVOLU_TIMESTAMP_BYTES];
    evolu_timestamp_to_bytes(&want_ts, want_tb);

    const cJSON *row;
    cJSON_ArrayForEach(row, vec_get(lm, "historyRows")) {
        sqlite3_stmt *st = prep("select value from evolu_history where \"table\" = ?1 and"
                                " id = ?2 and \"column\" = ?3 and timestamp = ?4");
        sqlite3_bind_text(st, 1, m.table, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, m.id, EVOLU_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, vec_str(row, "column"), -1, SQLITE_TRANSIENT);
        bind_x(st, 4, vec_str(row, "timestamp"));
        vec_check(sqlite3_step(st) == SQLITE_ROW && json_eq_col(vec_get(row, "value"), st, 0),
                  "local history %s", vec_str(row, "column"));
        sqlite3_finalize(st);
    }
    const cJSON *clock = cJSON_GetArrayItem(vec_get(lm, "clockAfter"), 0);
    sqlite3_stmt *st = prep("select clock from evolu_config");
    vec_check(sqlite3_step(st) == SQLITE_ROW && json_eq_col(vec_get(clock, "clock"), st, 0),
              "clock after the local mutation");
    sqlite3_finalize(st);

    /* The stored EncryptedDbChange decrypts to the vector's change at that stamp. */
    st = prep("select change from evolu_message where timestamp = ?1");
    sqlite3_bind_blob(st, 1, want_tb, sizeof want_tb, SQLITE_STATIC);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        uint8_t *plain = malloc(n);
        size_t plen = 0;
        evolu_dbchange_view v;
        ok = evolu_dbchange_decrypt(vec_port(), g_owner.encryption_key, &want_ts,
                                    sqlite3_column_blob(st, 0), n, plain, n,
                                    &plen) == EVOLU_OK &&
             evolu_dbchange_parse(plain, plen, &v) == EVOLU_OK &&
             v.table_len == strlen(m.table) && !memcmp(v.table, m.table, v.table_len) &&
             !memcmp(v.id, m.id, EVOLU_ID_BYTES) && v.is_insert &&
             v.n_columns == m.n_columns;
        for (size_t i = 0; ok && i < m.n_columns; i++) {
            uint8_t text[256];
            evolu_writer w = evolu_writer_make(text, sizeof text);
            evolu_column c;
            ok = evolu_dbchange_next_column(&v, &w, &c) == EVOLU_OK &&
                 c.name_len == cols[i].name_len && !memcmp(c.name, cols[i].name, c.name_len) &&
                 evolu_value_equal(&c.value, &cols[i].value);
        }
        free(plain);
    }
    vec_check(ok, "stored EncryptedDbChange of the local mutation");
    sqlite3_finalize(st);
}

/* The initial sync message is one Timestamps range over the whole set: its
 * timestamps must be exactly our evolu_timestamp rows (the RBSR store over
 * SQLite itself is separate work). */
static void sync_timestamps(void) {
    vec_section("createSyncMessages");
    const cJSON *sm = vec_get(vec_get(g_root, "createSyncMessages"), vec_str(g_root, "owner"));
    size_t n = 0;
    uint8_t *msg = vec_unhex_alloc(sm->valuestring, &n);
    evolu_msg_reader r;
    evolu_range range;
    evolu_tslist_reader lr;
    bool ok = evolu_msg_reader_open(&r, msg, n) == EVOLU_OK && r.n_ranges == 1 &&
              evolu_msg_reader_next_range(&r, &range) == EVOLU_OK &&
              range.type == EVOLU_RANGE_TIMESTAMPS &&
              evolu_range_timestamps(&range, &lr) == EVOLU_OK;
    sqlite3_stmt *st = prep("select t from evolu_timestamp where ownerId = ?1 order by t");
    sqlite3_bind_blob(st, 1, g_owner.id, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    uint64_t k = 0;
    evolu_timestamp t;
    while (ok && evolu_tslist_next(&lr, &t) == EVOLU_OK) {
        uint8_t b[EVOLU_TIMESTAMP_BYTES];
        evolu_timestamp_to_bytes(&t, b);
        ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16 &&
             !memcmp(sqlite3_column_blob(st, 0), b, 16);
        k++;
    }
    ok = ok && sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    free(msg);
    vec_check(ok, "timestamp set = the sync message's %llu timestamps", (unsigned long long)k);
}

/* A message 10 minutes ahead. 8.0.0-next.5 reported TimestampDriftError and
 * dropped it; 8.11.0 would store it and quarantine its columns (spec 8.6).
 * We refuse the batch with EVOLU_E_CLOCK_DRIFT (cause REMOTE: the peer's stamp
 * itself is too far ahead, checked before any clock arithmetic) and write
 * nothing, so the caller stops instead of looping (spec 11 item 8). The
 * vector has no frame for it, so we encrypt an update of the todo row at that
 * stamp with the owner's key. */
static void drifted(void) {
    vec_section("driftedMessage");
    const cJSON *dm = vec_get(g_root, "driftedMessage");
    const cJSON *ts = vec_get(dm, "timestamp");
    evolu_timestamp t = {(uint64_t)vec_num(ts, "millis"), (uint16_t)vec_num(ts, "counter"), {0}};
    evolu_node_id_from_hex(vec_str(ts, "nodeId"), 16, t.node_id);
    const cJSON *step0 = vec_get(cJSON_GetArrayItem(vec_get(g_root, "steps"), 0), "change");
    evolu_column col = {(const uint8_t *)"title", 5,
                        evolu_value_text((const uint8_t *)"Drifted", 7)};
    evolu_dbchange c;
    memset(&c, 0, sizeof c);
    c.table = (const uint8_t *)"todo";
    c.table_len = 4;
    evolu_id_from_string(vec_str(step0, "id"), 22, c.id);
    c.columns = &col;
    c.n_columns = 1;
    c.is_delete = -1;
    uint8_t enc[512], nonce[EVOLU_AEAD_NONCE_BYTES] = {0};
    evolu_writer w = evolu_writer_make(enc, sizeof enc);
    evolu_dbchange_encrypt(&w, vec_port(), g_owner.encryption_key, &c, &t, nonce);
    evolu_client_message m = {t, enc, w.len};

    evolu_timestamp before;
    evolu_client_db_clock(g_db, &before);
    int64_t n_ts = count_rows("select count(*) from evolu_timestamp");
    evolu_client_db_failure f;
    evolu_err e = evolu_client_db_apply(g_db, &g_owner, &m, 1, &f);
    const cJSON *rep = cJSON_GetArrayItem(vec_get(dm, "reportedErrors"), 0);
    vec_check(e == EVOLU_E_CLOCK_DRIFT && !strcmp(rep->valuestring, "TimestampDriftError") &&
                  f.index == 0 && f.drift.cause == EVOLU_HLC_REMOTE &&
                  evolu_timestamp_cmp(&f.drift.timestamp, &t) == 0,
              "drifted message: %s", evolu_errname(e));
    evolu_timestamp after;
    evolu_client_db_clock(g_db, &after);
    vec_check(evolu_timestamp_cmp(&before, &after) == 0 &&
                  count_rows("select count(*) from evolu_timestamp") == n_ts,
              "drifted message left the clock and the set alone");
    sqlite3_stmt *st = prep("select title from todo order by ownerId, id");
    const cJSON *title;
    bool ok = true;
    cJSON_ArrayForEach(title, vec_get(dm, "titleAfter")) {
        ok = ok && sqlite3_step(st) == SQLITE_ROW && json_eq_col(title, st, 0);
    }
    ok = ok && sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    vec_check(ok, "titles after the drifted message");
}

int main(void) {
    g_root = vec_open("client_db_next5.json");

    /* The owner is the one of the all-zero 32-byte secret (spec 5.2). */
    uint8_t secret[EVOLU_OWNER_SECRET_BYTES] = {0};
    evolu_owner_from_secret(vec_port(), secret, sizeof secret, &g_owner);
    char owner_s[EVOLU_ID_CHARS];
    evolu_id_to_string(g_owner.id, owner_s);
    vec_section("owner");
    vec_check(!memcmp(owner_s, vec_str(g_root, "owner"), EVOLU_ID_CHARS), "owner id");

    /* The DbWorker's NodeId is the tail of its clock; then a nonce for the
     * local mutation. */
    const cJSON *cfg = cJSON_GetArrayItem(vec_get(g_root, "evolu_config"), 0);
    uint8_t clock_b[EVOLU_TIMESTAMP_BYTES];
    xblob(vec_str(cfg, "clock"), clock_b, sizeof clock_b);
    uint8_t random[EVOLU_NODE_ID_BYTES + EVOLU_AEAD_NONCE_BYTES] = {0};
    memcpy(random, clock_b + 8, EVOLU_NODE_ID_BYTES);
    vec_fixed_port fp;
    vec_fixed_port_init(&fp, random, sizeof random, (int64_t)vec_num(g_root, "now"));

    char dir[] = "/tmp/evolu-clientdb-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char path[256];
    snprintf(path, sizeof path, "%s/client.db", dir);
    if (evolu_client_db_open(path, &fp.port, &g_db) != EVOLU_OK) return 2;
    const char *todo_cols[] = {"title", "isCompleted"};
    if (evolu_client_db_declare_table(g_db, "todo", todo_cols, 2) != EVOLU_OK) return 2;

    check_schema();
    apply_steps();
    check_todo_table();
    check_history();
    check_quarantine();
    check_rows("evolu_config", vec_get(g_root, "evolu_config"));
    check_rows("evolu_version", vec_get(g_root, "evolu_version"));
    vec_section("evolu_timestamp_count");
    vec_check(count_rows("select count(*) from evolu_timestamp") ==
                  (int64_t)vec_num(g_root, "evolu_timestamp_count"),
              "evolu_timestamp count");
    check_rows("evolu_usage", vec_get(g_root, "evolu_usage"));
    local_mutation();
    sync_timestamps();
    drifted();

    evolu_client_db_close(g_db);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return vec_finish();
}
