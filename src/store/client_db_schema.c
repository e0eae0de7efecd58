/* client_db_schema.c - opening the client database, its evolu_* tables
 * (spec 8.1), the clock, and the application schema (tables declared at
 * runtime, columns added with alter table). */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"

static const char *const k_system_columns[] = {"id", "createdAt", "updatedAt", "isDeleted",
                                               "ownerId"};

/* Spec 8.1 (8.0.0-next.5 layout) plus the relay's evolu_timestamp/evolu_usage
 * (spec 7.2) and evolu_message to keep each stamp's EncryptedDbChange. Not
 * static: bench/bench_sqlite_floor.c measures the floor of exactly these. */
const char cdb_create_sql[] =
    "create table evolu_version (\"protocolVersion\" integer not null) strict;"
    "insert into evolu_version (\"protocolVersion\") values (1);"
    "create table evolu_config (\"clock\" blob not null) strict;"
    "create table evolu_history (\"ownerId\" blob not null, \"table\" text not null,"
    " \"id\" blob not null, \"column\" text not null, \"timestamp\" blob not null,"
    " \"value\" any) strict;"
    "create index evolu_history_ownerId_timestamp on evolu_history (\"ownerId\", \"timestamp\");"
    "create unique index evolu_history_ownerId_table_id_column_timestampDesc on evolu_history"
    " (\"ownerId\", \"table\", \"id\", \"column\", \"timestamp\" desc);"
    "create table evolu_message_quarantine (\"ownerId\" blob not null,"
    " \"timestamp\" blob not null, \"table\" text not null, \"id\" blob not null,"
    " \"column\" text not null, \"value\" any,"
    " primary key (\"ownerId\", \"timestamp\", \"table\", \"id\", \"column\")) strict;"
    "create table evolu_timestamp (\"ownerId\" blob not null, \"t\" blob not null,"
    " \"h1\" integer, \"h2\" integer, \"c\" integer, \"l\" integer not null,"
    " primary key (\"ownerId\", \"t\")) strict;"
    "create index evolu_timestamp_index on evolu_timestamp"
    " (\"ownerId\", \"l\", \"t\", \"h1\", \"h2\", \"c\");"
    "create table evolu_usage (\"ownerId\" blob primary key, \"storedBytes\" integer not null,"
    " \"firstTimestamp\" blob, \"lastTimestamp\" blob) strict;"
    "create table evolu_message (\"ownerId\" blob not null, \"timestamp\" blob not null,"
    " \"change\" blob not null, primary key (\"ownerId\", \"timestamp\")) strict;";

static const char *const k_stmt_sql[CDB_ST_COUNT] = {
    [CDB_ST_LWW] = "select 1 from evolu_history where \"ownerId\" = ?1 and \"table\" = ?2"
                   " and \"id\" = ?3 and \"column\" = ?4 and \"timestamp\" >= ?5 limit 1",
    [CDB_ST_HISTORY] = "insert into evolu_history (\"ownerId\", \"table\", \"id\", \"column\","
                       " \"value\", \"timestamp\") values (?1, ?2, ?3, ?4, ?5, ?6)"
                       " on conflict do nothing",
    [CDB_ST_QUARANTINE] = "insert into evolu_message_quarantine (\"ownerId\", \"timestamp\","
                          " \"table\", \"id\", \"column\", \"value\")"
                          " values (?1, ?2, ?3, ?4, ?5, ?6) on conflict do nothing",
    [CDB_ST_TS_INSERT] = "insert into evolu_timestamp (\"ownerId\", \"t\", \"h1\", \"h2\","
                         " \"c\", \"l\") values (?1, ?2, ?3, ?4, 1, 1) on conflict do nothing",
    [CDB_ST_MSG_INSERT] = "insert into evolu_message (\"ownerId\", \"timestamp\", \"change\")"
                          " values (?1, ?2, ?3) on conflict do nothing",
    [CDB_ST_USAGE] =
        "insert into evolu_usage (\"ownerId\", \"storedBytes\", \"firstTimestamp\","
        " \"lastTimestamp\") values (?1, 1, ?2, ?3) on conflict (\"ownerId\") do update set"
        " \"firstTimestamp\" = min(coalesce(\"firstTimestamp\", excluded.\"firstTimestamp\"),"
        " excluded.\"firstTimestamp\"),"
        " \"lastTimestamp\" = max(coalesce(\"lastTimestamp\", excluded.\"lastTimestamp\"),"
        " excluded.\"lastTimestamp\")",
    [CDB_ST_CLOCK] = "update evolu_config set \"clock\" = ?1",
};

evolu_err cdb_exec(evolu_client_db *db, const char *sql) {
    return sqlite3_exec(db->db, sql, NULL, NULL, NULL) == SQLITE_OK ? EVOLU_OK
                                                                    : EVOLU_E_STORAGE;
}

bool cdb_is_system_column(const uint8_t *name, size_t len) {
    for (size_t i = 0; i < sizeof k_system_columns / sizeof k_system_columns[0]; i++)
        if (strlen(k_system_columns[i]) == len && !memcmp(k_system_columns[i], name, len))
            return true;
    return false;
}

bool cdb_is_local_only(const uint8_t *name, size_t len) { return len > 0 && name[0] == '_'; }

const cdb_table *cdb_find_table(const evolu_client_db *db, const uint8_t *name, size_t len) {
    for (size_t i = 0; i < db->n_tables; i++)
        if (strlen(db->tables[i].name) == len && !memcmp(db->tables[i].name, name, len))
            return &db->tables[i];
    return NULL;
}

bool cdb_table_has_column(const cdb_table *t, const uint8_t *name, size_t len) {
    for (size_t i = 0; i < t->n_cols; i++)
        if (strlen(t->cols[i]) == len && !memcmp(t->cols[i], name, len)) return true;
    return false;
}

evolu_err cdb_store_clock(evolu_client_db *db, const evolu_timestamp *clock) {
    uint8_t b[EVOLU_TIMESTAMP_BYTES];
    evolu_timestamp_to_bytes(clock, b);
    sqlite3_stmt *st = db->st[CDB_ST_CLOCK];
    sqlite3_reset(st);
    int rc = sqlite3_bind_blob(st, 1, b, sizeof b, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

/* --- names -------------------------------------------------------------------- */

static bool ascii_ieq(const char *a, const char *b) {
    for (;; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return false;
        if (!x) return true;
    }
}

static bool ascii_iprefix(const char *s, const char *prefix) {
    size_t n = strlen(prefix);
    if (strlen(s) < n) return false;
    for (size_t i = 0; i < n; i++) {
        char x = s[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (x != prefix[i]) return false;
    }
    return true;
}

/* A name we are willing to put (escaped) into SQL: non-empty valid UTF-8
 * without control characters. Quotes are fine: sqlite3_mprintf("%w")
 * doubles them inside the "..." identifier. */
static bool name_ok(const char *s) {
    if (!s || !*s) return false;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f) return false;
    return evolu_value_text_is_valid((const uint8_t *)s, n);
}

/* --- schema in memory ----------------------------------------------------------- */

static void free_tables(evolu_client_db *db) {
    cdb_upserts_clear(db); /* they point at the tables */
    cdb_lww_clear(db);     /* so do its cells */
    for (size_t i = 0; i < db->n_tables; i++) {
        for (size_t j = 0; j < db->tables[i].n_cols; j++) free(db->tables[i].cols[j]);
        free(db->tables[i].cols);
        free(db->tables[i].name);
    }
    free(db->tables);
    db->tables = NULL;
    db->n_tables = 0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Reads the columns of one table; *is_app tells whether it has the five system
 * columns (only such tables are application tables). */
static evolu_err load_columns(evolu_client_db *db, cdb_table *t, bool *is_app) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db, "select name from pragma_table_info(?1) order by cid", -1,
                           &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    unsigned sys = 0;
    evolu_err e = EVOLU_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        if (!c) continue;
        if (cdb_is_system_column((const uint8_t *)c, strlen(c))) {
            sys++;
            continue;
        }
        char **cols = realloc(t->cols, (t->n_cols + 1) * sizeof *cols);
        if (!cols) { e = EVOLU_E_NOMEM; break; }
        t->cols = cols;
        if (!(t->cols[t->n_cols] = dup_str(c))) { e = EVOLU_E_NOMEM; break; }
        t->n_cols++;
    }
    if (e == EVOLU_OK && rc != SQLITE_DONE) e = EVOLU_E_STORAGE;
    sqlite3_finalize(st);
    *is_app = sys == 5;
    return e;
}

/* (Re)reads the application schema from the database file. */
static evolu_err load_schema(evolu_client_db *db) {
    free_tables(db);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db,
                           "select name from sqlite_schema where type = 'table'"
                           " and name not like 'evolu\\_%' escape '\\'"
                           " and name not like 'sqlite\\_%' escape '\\' order by name",
                           -1, &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    evolu_err e = EVOLU_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name) continue;
        cdb_table t = {dup_str(name), NULL, 0};
        if (!t.name) { e = EVOLU_E_NOMEM; break; }
        bool is_app = false;
        e = load_columns(db, &t, &is_app);
        cdb_table *tables = NULL;
        if (e == EVOLU_OK && is_app) {
            tables = realloc(db->tables, (db->n_tables + 1) * sizeof *tables);
            if (!tables) e = EVOLU_E_NOMEM;
        }
        if (e != EVOLU_OK || !is_app) {
            for (size_t j = 0; j < t.n_cols; j++) free(t.cols[j]);
            free(t.cols);
            free(t.name);
            if (e != EVOLU_OK) break;
            continue;
        }
        db->tables = tables;
        db->tables[db->n_tables++] = t;
    }
    if (e == EVOLU_OK && rc != SQLITE_DONE) e = EVOLU_E_STORAGE;
    sqlite3_finalize(st);
    return e;
}

/* --- open / close ------------------------------------------------------------------ */

static evolu_err load_or_create(evolu_client_db *db) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db,
                           "select 1 from sqlite_schema where type = 'table'"
                           " and name = 'evolu_version'",
                           -1, &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    if (rc == SQLITE_DONE) {
        evolu_hlc_init(db->port, &db->clock);
        uint8_t b[EVOLU_TIMESTAMP_BYTES];
        evolu_timestamp_to_bytes(&db->clock, b);
        if (cdb_exec(db, "begin immediate") != EVOLU_OK) return EVOLU_E_STORAGE;
        evolu_err e = cdb_exec(db, cdb_create_sql);
        if (e == EVOLU_OK) {
            e = EVOLU_E_STORAGE;
            if (sqlite3_prepare_v2(db->db, "insert into evolu_config (\"clock\") values (?1)",
                                   -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_blob(st, 1, b, sizeof b, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_DONE) e = EVOLU_OK;
                sqlite3_finalize(st);
            }
        }
        if (e == EVOLU_OK) e = cdb_exec(db, "commit");
        if (e != EVOLU_OK) cdb_exec(db, "rollback");
        return e;
    }
    /* An existing database: read the clock. */
    if (sqlite3_prepare_v2(db->db, "select \"clock\" from evolu_config", -1, &st, NULL) !=
        SQLITE_OK)
        return EVOLU_E_STORAGE;
    evolu_err e = EVOLU_E_STORAGE;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == EVOLU_TIMESTAMP_BYTES &&
        sqlite3_column_type(st, 0) == SQLITE_BLOB) {
        uint8_t b[EVOLU_TIMESTAMP_BYTES];
        memcpy(b, sqlite3_column_blob(st, 0), sizeof b);
        e = evolu_timestamp_from_bytes(b, &db->clock) == EVOLU_OK ? EVOLU_OK : EVOLU_E_STORAGE;
    }
    sqlite3_finalize(st);
    return e;
}

evolu_err evolu_client_db_open(const char *path, const evolu_port *port,
                               evolu_client_db **out) {
    if (!path || !port || !out) return EVOLU_E_ARG;
    *out = NULL;
    evolu_client_db *db = calloc(1, sizeof *db);
    if (!db) return EVOLU_E_NOMEM;
    db->port = port;
    evolu_err e = EVOLU_E_STORAGE;
    /* NOMUTEX: the handle is single-threaded by contract (client_db.h), so
     * SQLite's per-call connection mutex is pure cost. */
    if (sqlite3_open_v2(path, &db->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        goto fail;
    sqlite3_extended_result_codes(db->db, 1);
    /* WAL with synchronous=normal: no fsync per batch, a crash loses at most
     * the last commits. An 8 MiB page cache (SQLite's default is 2 MiB) and
     * a checkpoint every 4,000 pages (~16 MiB of WAL, default 1,000): a
     * received batch of 1,000 changes dirties ~2,000 pages (history's unique
     * index and the app table are keyed by random row ids); with 2 MiB they
     * spill in mid-transaction and are read back from the WAL, which made
     * pread/pwrite the largest cost (docs/sync.md, "Measured").
     * temp_store = memory: a batch writes rows 32 per statement, and inside a
     * transaction SQLite keeps a statement journal for every multi-row
     * statement (an error in row 20 must undo rows 1-19); past 64 KiB it
     * goes to a temporary file, which cost more pwrite calls than the rows
     * themselves (634k vs 240k for 50,000 changes). */
    if ((e = cdb_exec(db, "pragma journal_mode = wal; pragma synchronous = normal;"
                          " pragma cache_size = -8192; pragma wal_autocheckpoint = 4000;"
                          " pragma temp_store = memory")) != EVOLU_OK)
        goto fail;
    if ((e = load_or_create(db)) != EVOLU_OK) goto fail;
    if ((e = cdb_index_open(db)) != EVOLU_OK) goto fail;
    for (int i = 0; i < CDB_ST_COUNT; i++) {
        if (sqlite3_prepare_v3(db->db, k_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i],
                               NULL) != SQLITE_OK) {
            e = EVOLU_E_STORAGE;
            goto fail;
        }
    }
    if ((e = load_schema(db)) != EVOLU_OK) goto fail;
    if ((e = evolu_client_db_release_quarantine(db, NULL)) != EVOLU_OK) goto fail;
    *out = db;
    return EVOLU_OK;
fail:
    evolu_client_db_close(db);
    return e;
}

void evolu_client_db_close(evolu_client_db *db) {
    if (!db) return;
    for (int i = 0; i < CDB_ST_COUNT; i++) sqlite3_finalize(db->st[i]);
    for (int i = 0; i <= CDB_CHUNK; i++) {
        sqlite3_finalize(db->lww_st[i]);
        sqlite3_finalize(db->hist_st[i]);
    }
    cdb_stamps_free(db);
    cdb_history_free(db);
    cdb_rows_free(db);
    cdb_index_close(db);
    free_tables(db);
    cdb_lww_free(db);
    free(db->ups);
    cdb_batch_mem_free(db);
    cdb_changed_clear(db);
    free(db->changed);
    sqlite3_close(db->db);
    free(db);
}

struct sqlite3 *evolu_client_db_sqlite(evolu_client_db *db) { return db ? db->db : NULL; }

void evolu_client_db_on_change(evolu_client_db *db, evolu_client_db_change_fn fn, void *ctx) {
    db->on_change = fn;
    db->on_change_ctx = ctx;
}

void evolu_client_db_clock(const evolu_client_db *db, evolu_timestamp *out) {
    *out = db->clock;
}

/* --- declare ------------------------------------------------------------------------ */

static evolu_err exec_fmt(evolu_client_db *db, char *sql) {
    if (!sql) return EVOLU_E_NOMEM;
    evolu_err e = cdb_exec(db, sql);
    sqlite3_free(sql);
    return e;
}

static const cdb_table *find_table_ci(const evolu_client_db *db, const char *name) {
    for (size_t i = 0; i < db->n_tables; i++)
        if (ascii_ieq(db->tables[i].name, name)) return &db->tables[i];
    return NULL;
}

/* Validates every name before any SQL is built from them. */
static evolu_err check_declaration(const evolu_client_db *db, const char *table,
                                   const char *const *columns, size_t n, const cdb_table **t) {
    if (!name_ok(table) || ascii_iprefix(table, "evolu_") || ascii_iprefix(table, "sqlite_"))
        return EVOLU_E_ARG;
    if (n && !columns) return EVOLU_E_ARG;
    *t = find_table_ci(db, table);
    if (*t && strcmp((*t)->name, table) != 0) return EVOLU_E_ARG;
    for (size_t i = 0; i < n; i++) {
        const char *c = columns[i];
        if (!name_ok(c)) return EVOLU_E_ARG;
        for (size_t s = 0; s < sizeof k_system_columns / sizeof k_system_columns[0]; s++)
            if (ascii_ieq(c, k_system_columns[s])) return EVOLU_E_ARG;
        for (size_t j = 0; j < i; j++)
            if (ascii_ieq(c, columns[j])) return EVOLU_E_ARG;
        if (*t)
            for (size_t j = 0; j < (*t)->n_cols; j++)
                if (ascii_ieq(c, (*t)->cols[j]) && strcmp(c, (*t)->cols[j]) != 0)
                    return EVOLU_E_ARG;
    }
    return EVOLU_OK;
}

evolu_err evolu_client_db_declare_table(evolu_client_db *db, const char *table,
                                        const char *const *columns, size_t n_columns) {
    if (!db) return EVOLU_E_ARG;
    const cdb_table *t = NULL;
    evolu_err e = check_declaration(db, table, columns, n_columns, &t);
    if (e != EVOLU_OK) return e;
    if ((e = cdb_exec(db, "begin immediate")) != EVOLU_OK) return e;
    if (!t) {
        /* create table "<t>" ("id" text, "createdAt" any, ..., "<c>" any, ...,
         * primary key ("ownerId", "id")) without rowid, strict */
        char *sql = sqlite3_mprintf("create table \"%w\" (\"id\" text, \"createdAt\" any,"
                                    " \"updatedAt\" any, \"isDeleted\" any, \"ownerId\" any",
                                    table);
        for (size_t i = 0; sql && i < n_columns; i++) {
            char *next = sqlite3_mprintf("%s, \"%w\" any", sql, columns[i]);
            sqlite3_free(sql);
            sql = next;
        }
        if (sql) {
            char *next = sqlite3_mprintf(
                "%s, primary key (\"ownerId\", \"id\")) without rowid, strict", sql);
            sqlite3_free(sql);
            sql = next;
        }
        e = exec_fmt(db, sql);
    } else {
        for (size_t i = 0; e == EVOLU_OK && i < n_columns; i++) {
            if (cdb_table_has_column(t, (const uint8_t *)columns[i], strlen(columns[i])))
                continue;
            e = exec_fmt(db, sqlite3_mprintf("alter table \"%w\" add column \"%w\" any", table,
                                             columns[i]));
        }
    }
    if (e == EVOLU_OK) e = cdb_exec(db, "commit");
    if (e != EVOLU_OK) cdb_exec(db, "rollback");
    /* Re-read even after a failure so memory matches the file. */
    evolu_err le = load_schema(db);
    if (e == EVOLU_OK) e = le;
    if (e == EVOLU_OK) e = evolu_client_db_release_quarantine(db, NULL);
    return e;
}
