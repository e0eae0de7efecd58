/* client_db_quarantine.c - columns of unknown tables or columns are kept in
 * evolu_message_quarantine (spec 8.2) and released through the normal LWW
 * path once the schema has them (on open and after declaring tables). */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"

evolu_err cdb_quarantine_insert(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                const uint8_t ts[EVOLU_TIMESTAMP_BYTES], const uint8_t *table,
                                size_t table_len, const uint8_t id[EVOLU_ID_BYTES],
                                const uint8_t *column, size_t column_len, const cdb_val *v) {
    if (table_len > (size_t)INT32_MAX || column_len > (size_t)INT32_MAX) return EVOLU_E_LIMIT;
    sqlite3_stmt *st = db->st[CDB_ST_QUARANTINE];
    sqlite3_reset(st);
    int rc = sqlite3_bind_blob(st, 1, owner_id, EVOLU_OWNER_ID_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 2, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, table_len ? (const char *)table : "", (int)table_len,
                               SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 4, id, EVOLU_ID_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 5, column_len ? (const char *)column : "", (int)column_len,
                               SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = cdb_bind_value(st, 6, v);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

typedef struct qrow {
    uint8_t owner[EVOLU_OWNER_ID_BYTES];
    uint8_t ts[EVOLU_TIMESTAMP_BYTES];
    uint8_t id[EVOLU_ID_BYTES];
    const cdb_table *table;
    const char *column; /* the schema's name */
    sqlite3_value *value;
} qrow;

static const char *schema_name(const cdb_table *t, const char *column, size_t len) {
    static const char *const sys[] = {"createdAt", "updatedAt", "isDeleted"};
    for (size_t i = 0; i < 3; i++)
        if (strlen(sys[i]) == len && !memcmp(sys[i], column, len)) return sys[i];
    for (size_t i = 0; i < t->n_cols; i++)
        if (strlen(t->cols[i]) == len && !memcmp(t->cols[i], column, len)) return t->cols[i];
    return NULL;
}

/* Reads the rows that fit the schema now. Values are duplicated so the rows can
 * be applied and deleted after the scan ends. */
static evolu_err collect(evolu_client_db *db, qrow **rows, size_t *n) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db,
                           "select \"ownerId\", \"timestamp\", \"table\", \"id\", \"column\","
                           " \"value\" from evolu_message_quarantine",
                           -1, &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    evolu_err e = EVOLU_OK;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *table = sqlite3_column_text(st, 2);
        size_t table_len = (size_t)sqlite3_column_bytes(st, 2);
        const char *column = (const char *)sqlite3_column_text(st, 4);
        size_t column_len = (size_t)sqlite3_column_bytes(st, 4);
        if (!table || !column || cdb_is_local_only(table, table_len)) continue;
        const cdb_table *t = cdb_find_table(db, table, table_len);
        const char *name = t ? schema_name(t, column, column_len) : NULL;
        if (!name) continue;
        if (sqlite3_column_bytes(st, 0) != EVOLU_OWNER_ID_BYTES ||
            sqlite3_column_bytes(st, 1) != EVOLU_TIMESTAMP_BYTES ||
            sqlite3_column_bytes(st, 3) != EVOLU_ID_BYTES)
            continue; /* not ours: leave it */
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            qrow *p = realloc(*rows, cap * sizeof *p);
            if (!p) { e = EVOLU_E_NOMEM; break; }
            *rows = p;
        }
        qrow *r = &(*rows)[*n];
        memcpy(r->owner, sqlite3_column_blob(st, 0), EVOLU_OWNER_ID_BYTES);
        memcpy(r->ts, sqlite3_column_blob(st, 1), EVOLU_TIMESTAMP_BYTES);
        memcpy(r->id, sqlite3_column_blob(st, 3), EVOLU_ID_BYTES);
        r->table = t;
        r->column = name;
        if (!(r->value = sqlite3_value_dup(sqlite3_column_value(st, 5)))) {
            e = EVOLU_E_NOMEM;
            break;
        }
        (*n)++;
    }
    if (e == EVOLU_OK && rc != SQLITE_DONE) e = EVOLU_E_STORAGE;
    sqlite3_finalize(st);
    return e;
}

static evolu_err delete_row(evolu_client_db *db, sqlite3_stmt *del, const qrow *r) {
    sqlite3_reset(del);
    int rc = sqlite3_bind_blob(del, 1, r->owner, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(del, 2, r->ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(del, 3, r->table->name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(del, 4, r->id, EVOLU_ID_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(del, 5, r->column, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(del);
    sqlite3_reset(del);
    (void)db;
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err evolu_client_db_release_quarantine(evolu_client_db *db, size_t *released) {
    if (released) *released = 0;
    if (!db) return EVOLU_E_ARG;
    qrow *rows = NULL;
    size_t n = 0;
    evolu_err e = cdb_exec(db, "begin immediate");
    bool began = e == EVOLU_OK;
    if (e == EVOLU_OK) e = collect(db, &rows, &n);
    sqlite3_stmt *del = NULL;
    if (e == EVOLU_OK && n &&
        sqlite3_prepare_v2(db->db,
                           "delete from evolu_message_quarantine where \"ownerId\" = ?1 and"
                           " \"timestamp\" = ?2 and \"table\" = ?3 and \"id\" = ?4 and"
                           " \"column\" = ?5",
                           -1, &del, NULL) != SQLITE_OK)
        e = EVOLU_E_STORAGE;
    for (size_t i = 0; e == EVOLU_OK && i < n; i++) {
        cdb_val v = {NULL, rows[i].value};
        e = cdb_apply_column(db, rows[i].owner, rows[i].table, rows[i].id, rows[i].column, &v,
                             rows[i].ts);
        if (e == EVOLU_OK) e = delete_row(db, del, &rows[i]);
    }
    sqlite3_finalize(del);
    if (e == EVOLU_OK && began) e = cdb_exec(db, "commit");
    if (e != EVOLU_OK && began) cdb_exec(db, "rollback");
    for (size_t i = 0; i < n; i++) sqlite3_value_free(rows[i].value);
    free(rows);
    if (e == EVOLU_OK) {
        if (released) *released = n;
        cdb_changed_notify(db);
    } else {
        cdb_changed_clear(db);
    }
    return e;
}
