/* client_db_history.c - evolu_history rows of a batch, written up to 32 per
 * statement instead of one statement per change:
 *
 *   insert into evolu_history (...) values (...), (...) ... on conflict do nothing
 *
 * Only while the in-memory LWW knowledge is active (client_db_lww.c): it
 * already counts a pending row when deciding later cells, so the table needs
 * to hold the rows only when SQL itself is asked - cdb_history_flush runs
 * before any LWW query on evolu_history and before the transaction commits.
 * Values are copied (a pending row outlives the change's plaintext and the
 * ISO date on the caller's stack). A failed batch drops what is pending. */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"

#define HIST_CHUNK 32 /* 6 parameters a row: 192 */

typedef struct cdb_hist_row {
    uint8_t owner[EVOLU_OWNER_ID_BYTES];
    uint8_t id[EVOLU_ID_BYTES];
    uint8_t ts[EVOLU_TIMESTAMP_BYTES];
    const char *table, *column; /* the schema's names: stable for the batch */
    evolu_value_kind kind;
    double number;
    size_t off, len; /* TEXT/BYTES in the byte buffer */
} cdb_hist_row;

struct cdb_hist {
    cdb_hist_row rows[HIST_CHUNK];
    size_t n;
    uint8_t *bytes;
    size_t bytes_len, bytes_cap;
    sqlite3_stmt *st[HIST_CHUNK + 1]; /* by row count */
};

void cdb_history_free(evolu_client_db *db) {
    cdb_hist *h = db->hist;
    if (!h) return;
    for (int i = 0; i <= HIST_CHUNK; i++) sqlite3_finalize(h->st[i]);
    free(h->bytes);
    free(h);
    db->hist = NULL;
}

void cdb_history_drop(evolu_client_db *db) {
    if (!db->hist) return;
    db->hist->n = 0;
    db->hist->bytes_len = 0;
}

bool cdb_history_deferred(const evolu_client_db *db) { return db->lww.active; }

static evolu_err stmt_for(evolu_client_db *db, size_t k, sqlite3_stmt **out) {
    sqlite3_stmt **slot = &db->hist->st[k];
    if (*slot) {
        *out = *slot;
        return EVOLU_OK;
    }
    char *sql = sqlite3_mprintf("insert into evolu_history (\"ownerId\", \"table\", \"id\","
                                " \"column\", \"value\", \"timestamp\") values");
    for (size_t i = 0; sql && i < k; i++) {
        int p = (int)(6 * i);
        char *next = sqlite3_mprintf("%s%s (?%d, ?%d, ?%d, ?%d, ?%d, ?%d)", sql, i ? "," : "",
                                     p + 1, p + 2, p + 3, p + 4, p + 5, p + 6);
        sqlite3_free(sql);
        sql = next;
    }
    if (sql) {
        char *next = sqlite3_mprintf("%s on conflict do nothing", sql);
        sqlite3_free(sql);
        sql = next;
    }
    if (!sql) return EVOLU_E_NOMEM;
    int rc = sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return EVOLU_E_STORAGE;
    *out = *slot;
    return EVOLU_OK;
}

evolu_err cdb_history_flush(evolu_client_db *db) {
    cdb_hist *h = db->hist;
    if (!h || !h->n) return EVOLU_OK;
    sqlite3_stmt *st = NULL;
    evolu_err e = stmt_for(db, h->n, &st);
    int rc = e == EVOLU_OK ? SQLITE_OK : SQLITE_ERROR;
    for (size_t i = 0; rc == SQLITE_OK && i < h->n; i++) {
        const cdb_hist_row *r = &h->rows[i];
        int p = (int)(6 * i);
        evolu_value v = {r->kind, r->number, r->len ? h->bytes + r->off : NULL, r->len};
        cdb_val cv = {&v, NULL};
        rc = sqlite3_bind_blob(st, p + 1, r->owner, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, p + 2, r->table, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, p + 3, r->id, EVOLU_ID_BYTES, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, p + 4, r->column, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = cdb_bind_value(st, p + 5, &cv);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob(st, p + 6, r->ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (st) sqlite3_reset(st);
    cdb_history_drop(db);
    if (e != EVOLU_OK) return e;
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err cdb_history_add(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                          const char *table, const uint8_t id[EVOLU_ID_BYTES],
                          const char *column, const evolu_value *v,
                          const uint8_t ts[EVOLU_TIMESTAMP_BYTES]) {
    if (!db->hist && !(db->hist = calloc(1, sizeof *db->hist))) return EVOLU_E_NOMEM;
    cdb_hist *h = db->hist;
    if (h->n == HIST_CHUNK) {
        evolu_err e = cdb_history_flush(db);
        if (e != EVOLU_OK) return e;
    }
    cdb_hist_row *r = &h->rows[h->n];
    memcpy(r->owner, owner_id, EVOLU_OWNER_ID_BYTES);
    memcpy(r->id, id, EVOLU_ID_BYTES);
    memcpy(r->ts, ts, EVOLU_TIMESTAMP_BYTES);
    r->table = table;
    r->column = column;
    r->kind = v->kind;
    r->number = v->number;
    r->off = h->bytes_len;
    r->len = 0;
    if ((v->kind == EVOLU_VALUE_TEXT || v->kind == EVOLU_VALUE_BYTES) && v->len) {
        if (v->len > SIZE_MAX / 4 - h->bytes_len) return EVOLU_E_NOMEM;
        if (h->bytes_len + v->len > h->bytes_cap) {
            size_t cap = h->bytes_cap ? h->bytes_cap : 4096;
            while (cap < h->bytes_len + v->len) cap *= 2;
            uint8_t *p = realloc(h->bytes, cap);
            if (!p) return EVOLU_E_NOMEM;
            h->bytes = p;
            h->bytes_cap = cap;
        }
        memcpy(h->bytes + h->bytes_len, v->data, v->len);
        h->bytes_len += v->len;
        r->len = v->len;
    }
    h->n++;
    return EVOLU_OK;
}
