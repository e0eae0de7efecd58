/* client_db_rows.c - the app-table upserts of a batch, up to 32 rows per
 * statement when consecutive changes write the same columns of the same
 * table (the common case: one kind of change repeated):
 *
 *   insert into "t" ("ownerId", "id", <cols>) values (...), (...) ...
 *   on conflict ("ownerId", "id") do update set <col> = excluded.<col>, ...
 *
 * SQLite applies the rows in order, so two writes of one row in the same
 * statement end as two statements would. Like history rows
 * (client_db_history.c) they wait only while the LWW knowledge is active,
 * nothing in a batch reads the app tables, and they are written before the
 * transaction commits (dropped with a failed batch). Values are copied. */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"

#define ROWS_CHUNK 32

typedef struct pending_val {
    evolu_value_kind kind;
    double number;
    size_t off, len;
} pending_val;

typedef struct rows_stmt {
    const cdb_table *t;
    uint64_t mask;
    size_t k;
    sqlite3_stmt *st;
} rows_stmt;

struct cdb_rows {
    const cdb_table *t;
    uint64_t mask;
    size_t n, width; /* rows waiting; values per row (bits of mask) */
    char owner_s[ROWS_CHUNK][EVOLU_ID_CHARS], id_s[ROWS_CHUNK][EVOLU_ID_CHARS];
    pending_val vals[ROWS_CHUNK * CDB_SLOTS];
    uint8_t *bytes;
    size_t bytes_len, bytes_cap;
    rows_stmt *sts;
    size_t n_sts, cap_sts;
};

void cdb_rows_clear_stmts(evolu_client_db *db) {
    cdb_rows *r = db->rows;
    if (!r) return;
    for (size_t i = 0; i < r->n_sts; i++) sqlite3_finalize(r->sts[i].st);
    r->n_sts = 0;
    r->n = 0;
    r->bytes_len = 0;
}

void cdb_rows_free(evolu_client_db *db) {
    cdb_rows *r = db->rows;
    if (!r) return;
    cdb_rows_clear_stmts(db);
    free(r->sts);
    free(r->bytes);
    free(r);
    db->rows = NULL;
}

void cdb_rows_drop(evolu_client_db *db) {
    if (!db->rows) return;
    db->rows->n = 0;
    db->rows->bytes_len = 0;
}

static int popcount64(uint64_t m) {
    int n = 0;
    for (; m; m &= m - 1) n++;
    return n;
}

static evolu_err stmt_for(evolu_client_db *db, size_t k, sqlite3_stmt **out) {
    cdb_rows *r = db->rows;
    for (size_t i = 0; i < r->n_sts; i++)
        if (r->sts[i].t == r->t && r->sts[i].mask == r->mask && r->sts[i].k == k) {
            *out = r->sts[i].st;
            return EVOLU_OK;
        }
    if (r->n_sts == r->cap_sts) {
        size_t cap = r->cap_sts ? r->cap_sts * 2 : 16;
        rows_stmt *p = realloc(r->sts, cap * sizeof *p);
        if (!p) return EVOLU_E_NOMEM;
        r->sts = p;
        r->cap_sts = cap;
    }
    const cdb_table *t = r->t;
    /* identifiers come from the schema and are escaped with %w */
    char *cols = sqlite3_mprintf("\"ownerId\", \"id\""), *set = sqlite3_mprintf("%s", "");
    for (int slot = 0; slot < CDB_SLOTS && cols && set; slot++) {
        if (!(r->mask >> slot & 1)) continue;
        const char *c = cdb_slot_name(t, slot);
        char *a = sqlite3_mprintf("%s, \"%w\"", cols, c);
        char *d = sqlite3_mprintf("%s%s\"%w\" = excluded.\"%w\"", set, *set ? ", " : "", c, c);
        sqlite3_free(cols);
        sqlite3_free(set);
        cols = a;
        set = d;
    }
    char *sql = cols && set ? sqlite3_mprintf("insert into \"%w\" (%s) values", t->name, cols)
                            : NULL;
    int p = 1;
    for (size_t i = 0; sql && i < k; i++) {
        char *next = sqlite3_mprintf("%s%s (", sql, i ? "," : "");
        for (size_t j = 0; next && j < 2 + r->width; j++) {
            char *n2 = sqlite3_mprintf("%s%s?%d", next, j ? ", " : "", p++);
            sqlite3_free(next);
            next = n2;
        }
        sqlite3_free(sql);
        sql = next ? sqlite3_mprintf("%s)", next) : NULL;
        sqlite3_free(next);
    }
    if (sql) {
        char *next = sqlite3_mprintf("%s on conflict (\"ownerId\", \"id\") do update set %s",
                                     sql, set);
        sqlite3_free(sql);
        sql = next;
    }
    sqlite3_free(cols);
    sqlite3_free(set);
    if (!sql) return EVOLU_E_NOMEM;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return EVOLU_E_STORAGE;
    r->sts[r->n_sts].t = r->t;
    r->sts[r->n_sts].mask = r->mask;
    r->sts[r->n_sts].k = k;
    r->sts[r->n_sts++].st = st;
    *out = st;
    return EVOLU_OK;
}

evolu_err cdb_rows_flush(evolu_client_db *db) {
    cdb_rows *r = db->rows;
    if (!r || !r->n) return EVOLU_OK;
    sqlite3_stmt *st = NULL;
    evolu_err e = stmt_for(db, r->n, &st);
    int rc = e == EVOLU_OK ? SQLITE_OK : SQLITE_ERROR;
    int p = 1;
    for (size_t i = 0; rc == SQLITE_OK && i < r->n; i++) {
        rc = sqlite3_bind_text(st, p++, r->owner_s[i], EVOLU_ID_CHARS, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, p++, r->id_s[i], EVOLU_ID_CHARS, SQLITE_STATIC);
        for (size_t j = 0; rc == SQLITE_OK && j < r->width; j++) {
            const pending_val *pv = &r->vals[i * r->width + j];
            evolu_value v = {pv->kind, pv->number, pv->len ? r->bytes + pv->off : NULL, pv->len};
            cdb_val cv = {&v, NULL};
            rc = cdb_bind_value(st, p++, &cv);
        }
    }
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (st) sqlite3_reset(st);
    cdb_rows_drop(db);
    if (e != EVOLU_OK) return e;
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err cdb_rows_add(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                       const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES], uint64_t mask,
                       const cdb_val *vals) {
    if (!db->rows && !(db->rows = calloc(1, sizeof *db->rows))) return EVOLU_E_NOMEM;
    cdb_rows *r = db->rows;
    if (r->n && (r->t != t || r->mask != mask || r->n == ROWS_CHUNK)) {
        evolu_err e = cdb_rows_flush(db);
        if (e != EVOLU_OK) return e;
    }
    if (!r->n) {
        r->t = t;
        r->mask = mask;
        r->width = (size_t)popcount64(mask);
    }
    size_t i = r->n, j = 0;
    evolu_id_to_string(owner_id, r->owner_s[i]);
    evolu_id_to_string(id, r->id_s[i]);
    for (int slot = 0; slot < CDB_SLOTS; slot++) {
        if (!(mask >> slot & 1)) continue;
        const evolu_value *v = vals[slot].v;
        if (!v) return EVOLU_E_STATE; /* callers defer only decoded values */
        pending_val *pv = &r->vals[i * r->width + j++];
        pv->kind = v->kind;
        pv->number = v->number;
        pv->off = r->bytes_len;
        pv->len = 0;
        if ((v->kind == EVOLU_VALUE_TEXT || v->kind == EVOLU_VALUE_BYTES) && v->len) {
            if (v->len > SIZE_MAX / 4 - r->bytes_len) return EVOLU_E_NOMEM;
            if (r->bytes_len + v->len > r->bytes_cap) {
                size_t cap = r->bytes_cap ? r->bytes_cap : 4096;
                while (cap < r->bytes_len + v->len) cap *= 2;
                uint8_t *p = realloc(r->bytes, cap);
                if (!p) return EVOLU_E_NOMEM;
                r->bytes = p;
                r->bytes_cap = cap;
            }
            memcpy(r->bytes + r->bytes_len, v->data, v->len);
            r->bytes_len += v->len;
            pv->len = v->len;
        }
    }
    r->n++;
    return cdb_changed_add(db, t->name);
}
