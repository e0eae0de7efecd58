/* client_db_apply.c - applying one change to the client database (spec 8.2):
 * value binding, the per-column last-writer-wins check, one cached upsert per
 * change for the winning columns, history, the timestamp set (and its RBSR
 * index), usage and change notifications. Batches: client_db_receive.c. */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"
#include "sqlite_index_internal.h"

#define MAX_SAFE_INTEGER 9007199254740991.0

/* --- value binding ---------------------------------------------------------------- */

static bool is_integral_safe(double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    if (d == 0) return (bits >> 63) == 0; /* -0 stays REAL so its sign survives */
    if (!(d >= -MAX_SAFE_INTEGER && d <= MAX_SAFE_INTEGER)) return false;
    return (double)(int64_t)d == d;
}

int cdb_bind_value(sqlite3_stmt *st, int i, const cdb_val *v) {
    if (v->sv) return sqlite3_bind_value(st, i, v->sv);
    const evolu_value *x = v->v;
    if (x->len > (size_t)INT32_MAX) return SQLITE_TOOBIG; /* SQLite lengths are int */
    switch (x->kind) {
    case EVOLU_VALUE_NULL:
        return sqlite3_bind_null(st, i);
    case EVOLU_VALUE_NUMBER:
        if (is_integral_safe(x->number)) return sqlite3_bind_int64(st, i, (int64_t)x->number);
        return sqlite3_bind_double(st, i, x->number);
    case EVOLU_VALUE_TEXT:
        /* A NULL pointer would bind SQL NULL; an empty string must stay text. */
        return sqlite3_bind_text(st, i, x->len ? (const char *)x->data : "", (int)x->len,
                                 SQLITE_STATIC);
    case EVOLU_VALUE_BYTES:
        if (!x->len) return sqlite3_bind_zeroblob(st, i, 0);
        return sqlite3_bind_blob(st, i, x->data, (int)x->len, SQLITE_STATIC);
    }
    return SQLITE_MISUSE;
}

/* --- changed tables -------------------------------------------------------------------- */

evolu_err cdb_changed_add(evolu_client_db *db, const char *table) {
    for (size_t i = 0; i < db->n_changed; i++)
        if (!strcmp(db->changed[i], table)) return EVOLU_OK;
    if (db->n_changed == db->cap_changed) {
        size_t cap = db->cap_changed ? db->cap_changed * 2 : 8;
        char **p = realloc(db->changed, cap * sizeof *p);
        if (!p) return EVOLU_E_NOMEM;
        db->changed = p;
        db->cap_changed = cap;
    }
    size_t n = strlen(table) + 1;
    char *copy = malloc(n);
    if (!copy) return EVOLU_E_NOMEM;
    memcpy(copy, table, n);
    db->changed[db->n_changed++] = copy;
    return EVOLU_OK;
}

void cdb_changed_clear(evolu_client_db *db) {
    for (size_t i = 0; i < db->n_changed; i++) free(db->changed[i]);
    db->n_changed = 0;
}

void cdb_changed_notify(evolu_client_db *db) {
    if (db->n_changed && db->on_change)
        db->on_change(db->on_change_ctx, (const char *const *)db->changed, db->n_changed);
    cdb_changed_clear(db);
}

/* --- cached upserts -------------------------------------------------------------------- */

static const char *const k_sys[3] = {"createdAt", "updatedAt", "isDeleted"};

/* The slot of a schema column name (system or declared), or -1. */
static int column_slot(const cdb_table *t, const char *name, size_t len) {
    for (int i = 0; i < 3; i++)
        if (strlen(k_sys[i]) == len && !memcmp(k_sys[i], name, len)) return i;
    for (size_t j = 0; j < t->n_cols; j++)
        if (strlen(t->cols[j]) == len && !memcmp(t->cols[j], name, len)) return 3 + (int)j;
    return -1;
}

const char *cdb_slot_name(const cdb_table *t, int slot) {
    return slot < 3 ? k_sys[slot] : t->cols[slot - 3];
}
#define slot_name cdb_slot_name

void cdb_upserts_clear(evolu_client_db *db) {
    for (size_t i = 0; i < db->n_ups; i++) sqlite3_finalize(db->ups[i].st);
    db->n_ups = 0;
    cdb_rows_clear_stmts(db);
}

/* insert into "t" ("ownerId", "id", <slots>) values (?1, ?2, ?3 ...)
 * on conflict ("ownerId", "id") do update set <slot> = excluded.<slot>, ...
 * for the slots of mask (< CDB_SLOTS), prepared once per table and set. */
static evolu_err upsert_stmt(evolu_client_db *db, const cdb_table *t, uint64_t mask,
                             sqlite3_stmt **out) {
    for (size_t i = 0; i < db->n_ups; i++)
        if (db->ups[i].table == t && db->ups[i].mask == mask) {
            *out = db->ups[i].st;
            return EVOLU_OK;
        }
    if (db->n_ups == db->cap_ups) {
        size_t cap = db->cap_ups ? db->cap_ups * 2 : 16;
        cdb_upsert *p = realloc(db->ups, cap * sizeof *p);
        if (!p) return EVOLU_E_NOMEM;
        db->ups = p;
        db->cap_ups = cap;
    }
    /* Identifiers come from the schema and are escaped with %w. */
    char *cols = sqlite3_mprintf("\"ownerId\", \"id\""), *vals = sqlite3_mprintf("?1, ?2"),
         *set = sqlite3_mprintf("%s", "");
    int k = 3;
    for (int slot = 0; slot < CDB_SLOTS && cols && vals && set; slot++) {
        if (!(mask >> slot & 1)) continue;
        const char *c = slot_name(t, slot);
        char *a = sqlite3_mprintf("%s, \"%w\"", cols, c);
        char *b = sqlite3_mprintf("%s, ?%d", vals, k++);
        char *d = sqlite3_mprintf("%s%s\"%w\" = excluded.\"%w\"", set, *set ? ", " : "", c, c);
        sqlite3_free(cols);
        sqlite3_free(vals);
        sqlite3_free(set);
        cols = a;
        vals = b;
        set = d;
    }
    char *sql = cols && vals && set
                    ? sqlite3_mprintf("insert into \"%w\" (%s) values (%s) on conflict"
                                      " (\"ownerId\", \"id\") do update set %s",
                                      t->name, cols, vals, set)
                    : NULL;
    sqlite3_free(cols);
    sqlite3_free(vals);
    sqlite3_free(set);
    if (!sql) return EVOLU_E_NOMEM;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return EVOLU_E_STORAGE;
    db->ups[db->n_ups].table = t;
    db->ups[db->n_ups].mask = mask;
    db->ups[db->n_ups++].st = st;
    *out = st;
    return EVOLU_OK;
}

/* Writes the slots of mask of one row with one statement. */
static evolu_err upsert_row(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                            const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES], uint64_t mask,
                            const cdb_val *vals) {
    sqlite3_stmt *st = NULL;
    evolu_err e = upsert_stmt(db, t, mask, &st);
    if (e != EVOLU_OK) return e;
    char owner_s[EVOLU_ID_CHARS], id_s[EVOLU_ID_CHARS];
    evolu_id_to_string(owner_id, owner_s);
    evolu_id_to_string(id, id_s);
    int rc = sqlite3_bind_text(st, 1, owner_s, EVOLU_ID_CHARS, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, id_s, EVOLU_ID_CHARS, SQLITE_STATIC);
    int k = 3;
    for (int slot = 0; rc == SQLITE_OK && slot < CDB_SLOTS; slot++)
        if (mask >> slot & 1) rc = cdb_bind_value(st, k++, &vals[slot]);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* owner_s / id_s are on this stack */
    if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    return cdb_changed_add(db, t->name);
}

/* A column past the cached slots (a table of more than 61 columns): its
 * own statement, prepared for this write only. */
static evolu_err upsert_uncached(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                 const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES],
                                 const char *column, const cdb_val *v) {
    char owner_s[EVOLU_ID_CHARS], id_s[EVOLU_ID_CHARS];
    evolu_id_to_string(owner_id, owner_s);
    evolu_id_to_string(id, id_s);
    char *sql = sqlite3_mprintf("insert into \"%w\" (\"ownerId\", \"id\", \"%w\")"
                                " values (?1, ?2, ?3) on conflict (\"ownerId\", \"id\")"
                                " do update set \"%w\" = excluded.\"%w\"",
                                t->name, column, column, column);
    if (!sql) return EVOLU_E_NOMEM;
    sqlite3_stmt *up = NULL;
    int rc = sqlite3_prepare_v2(db->db, sql, -1, &up, NULL);
    sqlite3_free(sql);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(up, 1, owner_s, EVOLU_ID_CHARS, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(up, 2, id_s, EVOLU_ID_CHARS, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = cdb_bind_value(up, 3, v);
    if (rc == SQLITE_OK) rc = sqlite3_step(up);
    sqlite3_finalize(up);
    if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    return cdb_changed_add(db, t->name);
}

/* --- one column -------------------------------------------------------------------------- */

static int bind_blob16(sqlite3_stmt *st, int i, const uint8_t *p) {
    return sqlite3_bind_blob(st, i, p, 16, SQLITE_STATIC);
}

/* Last writer wins: *wins = no history stamp >= ts for the cell (memcmp
 * order of TimestampBytes, which is SQLite's blob order). */
static evolu_err lww_wins(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                          const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES],
                          const char *column, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                          bool *wins) {
    sqlite3_stmt *st = db->st[CDB_ST_LWW];
    int rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = bind_blob16(st, 3, id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 4, column, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 5, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    *wins = rc == SQLITE_DONE;
    return EVOLU_OK;
}

static evolu_err history_insert(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES],
                                const char *column, const cdb_val *v,
                                const uint8_t ts[EVOLU_TIMESTAMP_BYTES]) {
    sqlite3_stmt *st = db->st[CDB_ST_HISTORY];
    int rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = bind_blob16(st, 3, id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 4, column, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = cdb_bind_value(st, 5, v);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 6, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err cdb_apply_column(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES],
                           const char *column, const cdb_val *v,
                           const uint8_t ts[EVOLU_TIMESTAMP_BYTES]) {
    bool wins = false;
    int slot = column_slot(t, column, strlen(column));
    if (slot < 0) return EVOLU_E_STATE;
    evolu_err e = cdb_history_flush(db); /* the query below must see them */
    if (e == EVOLU_OK) e = cdb_rows_flush(db); /* and rows are written in order */
    if (e == EVOLU_OK) e = lww_wins(db, owner_id, t, id, column, ts, &wins);
    if (e == EVOLU_OK && wins) {
        if (slot < CDB_SLOTS) {
            cdb_val vals[CDB_SLOTS];
            vals[slot] = *v;
            e = upsert_row(db, owner_id, t, id, (uint64_t)1 << slot, vals);
        } else {
            e = upsert_uncached(db, owner_id, t, id, column, v);
        }
    }
    if (e == EVOLU_OK) e = history_insert(db, owner_id, t, id, column, v, ts);
    if (e == EVOLU_OK) cdb_lww_written(db, owner_id, t, id, slot, ts, wins);
    return e;
}

/* --- one message ---------------------------------------------------------------------------- */

/* Adds ts to the set (evolu_timestamp, the RBSR index, evolu_message); *added
 * is false when it was there already. */
static evolu_err record_timestamp(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                  const evolu_timestamp *t, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                                  const uint8_t *enc, size_t enc_len, bool *added) {
    uint8_t fp[EVOLU_FINGERPRINT_BYTES];
    evolu_fingerprint(db->port, t, fp);
    sqlite3_stmt *st = db->st[CDB_ST_TS_INSERT];
    int rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 2, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, (int64_t)evolu_load_be(fp, 6));
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, (int64_t)evolu_load_be(fp + 6, 6));
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    *added = sqlite3_changes(db->db) > 0;
    if (!*added) return EVOLU_OK; /* 8.11.0: a known stamp is skipped */
    /* every stamp of the set goes into the RBSR index (the caller's batch) */
    evolu_err e = sidx_keys_add(db->idx, ts, fp, enc ? enc_len : 0);
    if (e != EVOLU_OK) return e;
    if (!enc) return EVOLU_OK;
    if (enc_len > (size_t)INT32_MAX) return EVOLU_E_LIMIT;
    st = db->st[CDB_ST_MSG_INSERT];
    rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 2, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 3, enc, (int)enc_len, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err cdb_update_usage(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const uint8_t first[EVOLU_TIMESTAMP_BYTES],
                           const uint8_t last[EVOLU_TIMESTAMP_BYTES]) {
    sqlite3_stmt *st = db->st[CDB_ST_USAGE];
    int rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 2, first, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 3, last, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

static int schema_slot(const cdb_table *t, const uint8_t *name, size_t len) {
    if (!t) return -1;
    for (size_t i = 0; i < t->n_cols; i++)
        if (strlen(t->cols[i]) == len && !memcmp(t->cols[i], name, len)) return 3 + (int)i;
    return -1;
}

/* --- the cells of one change, a few per statement --------------------------------------------- */

/* The LWW check and the history rows of up to CDB_CHUNK cells of one row
 * each take one statement:
 *   select "column" from evolu_history where ownerId, table, id and
 *     "timestamp" >= T and "column" in (...)   -- the cells that lose
 *   insert into evolu_history ... values (...), (...) on conflict do nothing
 * prepared once per cell count. */
static evolu_err chunk_stmt(evolu_client_db *db, bool history, size_t k, sqlite3_stmt **out) {
    sqlite3_stmt **slot = history ? &db->hist_st[k] : &db->lww_st[k];
    if (*slot) {
        *out = *slot;
        return EVOLU_OK;
    }
    char *sql = history ? sqlite3_mprintf("insert into evolu_history (\"ownerId\", \"table\","
                                          " \"id\", \"column\", \"value\", \"timestamp\") values")
                        : sqlite3_mprintf("select \"column\" from evolu_history where"
                                          " \"ownerId\" = ?1 and \"table\" = ?2 and \"id\" = ?3"
                                          " and \"timestamp\" >= ?4 and \"column\" in (");
    for (size_t i = 0; sql && i < k; i++) {
        char *next = history ? sqlite3_mprintf("%s%s (?1, ?2, ?3, ?%d, ?%d, ?4)", sql,
                                               i ? "," : "", (int)(5 + 2 * i), (int)(6 + 2 * i))
                             : sqlite3_mprintf("%s%s?%d", sql, i ? ", " : "", (int)(5 + i));
        sqlite3_free(sql);
        sql = next;
    }
    if (sql) {
        char *next = sqlite3_mprintf("%s%s", sql, history ? " on conflict do nothing" : ")");
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

typedef struct cell {
    int slot;
    const char *name; /* the schema's name */
    cdb_val v;
} cell;

static int bind_row(sqlite3_stmt *st, const uint8_t *owner_id, const cdb_table *t,
                    const uint8_t *id, const uint8_t *ts) {
    int rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = bind_blob16(st, 3, id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 4, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    return rc;
}

/* LWW for k cells (distinct columns of one row): the winners join the row's
 * upsert (mask, vals); then every cell's history row. */
static evolu_err put_cells(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES],
                           const uint8_t ts[EVOLU_TIMESTAMP_BYTES], const cell *cells, size_t k,
                           uint64_t *mask, cdb_val *vals) {
    if (!k) return EVOLU_OK;
    /* what memory knows (client_db_lww.c); the rest is asked in one query */
    uint32_t loses = 0, ask = 0;
    size_t n_ask = 0;
    const char *ask_names[CDB_CHUNK];
    for (size_t i = 0; i < k; i++) {
        int w = cdb_lww_check(db, owner_id, t, id, cells[i].slot, ts);
        if (w == 0) loses |= 1u << i;
        if (w < 0) {
            ask |= 1u << i;
            ask_names[n_ask++] = cells[i].name;
        }
    }
    sqlite3_stmt *st = NULL;
    evolu_err e = EVOLU_OK;
    if (n_ask) {
        /* SQL must see the rows still waiting */
        if ((e = cdb_history_flush(db)) != EVOLU_OK) return e;
        if ((e = chunk_stmt(db, false, n_ask, &st)) != EVOLU_OK) return e;
        int rc = bind_row(st, owner_id, t, id, ts);
        for (size_t i = 0; rc == SQLITE_OK && i < n_ask; i++)
            rc = sqlite3_bind_text(st, (int)(5 + i), ask_names[i], -1, SQLITE_STATIC);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *c = (const char *)sqlite3_column_text(st, 0);
            for (size_t i = 0; c && i < k; i++)
                if ((ask >> i & 1) && !strcmp(c, cells[i].name)) loses |= 1u << i;
            rc = SQLITE_OK;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    }
    for (size_t i = 0; i < k; i++)
        if (!(loses >> i & 1)) {
            *mask |= (uint64_t)1 << cells[i].slot;
            vals[cells[i].slot] = cells[i].v;
        }
    bool defer = cdb_history_deferred(db);
    for (size_t i = 0; defer && i < k; i++)
        if (!cells[i].v.v) defer = false;
    if (defer) {
        for (size_t i = 0; e == EVOLU_OK && i < k; i++)
            e = cdb_history_add(db, owner_id, t->name, id, cells[i].name, cells[i].v.v, ts);
        if (e != EVOLU_OK) return e;
        for (size_t i = 0; i < k; i++)
            cdb_lww_written(db, owner_id, t, id, cells[i].slot, ts, !(loses >> i & 1));
        return EVOLU_OK;
    }
    if ((e = cdb_history_flush(db)) != EVOLU_OK) return e;
    if ((e = chunk_stmt(db, true, k, &st)) != EVOLU_OK) return e;
    int rc = bind_row(st, owner_id, t, id, ts);
    for (size_t i = 0; rc == SQLITE_OK && i < k; i++) {
        rc = sqlite3_bind_text(st, (int)(5 + 2 * i), cells[i].name, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = cdb_bind_value(st, (int)(6 + 2 * i), &cells[i].v);
    }
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    for (size_t i = 0; i < k; i++)
        cdb_lww_written(db, owner_id, t, id, cells[i].slot, ts, !(loses >> i & 1));
    return EVOLU_OK;
}

/* Collects the cells of one change and applies them a chunk at a time;
 * columns the schema lacks go to quarantine. */
typedef struct cells {
    evolu_client_db *db;
    const uint8_t *owner_id, *ts;
    const cdb_table *t;
    const evolu_dbchange *c;
    cell cell[CDB_CHUNK];
    size_t n;
    uint64_t mask;
    cdb_val vals[CDB_SLOTS];
} cells;

static evolu_err cells_flush(cells *x) {
    evolu_err e = put_cells(x->db, x->owner_id, x->t, x->c->id, x->ts, x->cell, x->n, &x->mask,
                            x->vals);
    x->n = 0;
    return e;
}

static evolu_err cells_add(cells *x, const uint8_t *name, size_t name_len, int slot,
                           const evolu_value *value) {
    cdb_val v = {value, NULL};
    if (!x->t || slot < 0)
        return cdb_quarantine_insert(x->db, x->owner_id, x->ts, x->c->table, x->c->table_len,
                                     x->c->id, name, name_len, &v);
    if (slot >= CDB_SLOTS)
        return cdb_apply_column(x->db, x->owner_id, x->t, x->c->id, slot_name(x->t, slot), &v,
                                x->ts);
    x->cell[x->n].slot = slot;
    x->cell[x->n].name = slot_name(x->t, slot);
    x->cell[x->n++].v = v;
    return x->n == CDB_CHUNK ? cells_flush(x) : EVOLU_OK;
}

evolu_err cdb_apply_change(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const evolu_timestamp *t, const evolu_dbchange *c,
                           const uint8_t *enc, size_t enc_len) {
    uint8_t ts[EVOLU_TIMESTAMP_BYTES];
    evolu_timestamp_to_bytes(t, ts);
    bool added = false;
    evolu_err e = record_timestamp(db, owner_id, t, ts, enc, enc_len, &added);
    if (e != EVOLU_OK || !added) return e;
    return cdb_apply_cells(db, owner_id, t, ts, c);
}

evolu_err cdb_apply_cells(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                          const evolu_timestamp *t, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                          const evolu_dbchange *c) {
    if (cdb_is_local_only(c->table, c->table_len)) return EVOLU_OK;
    evolu_err e = EVOLU_OK;
    cells x;
    x.db = db;
    x.owner_id = owner_id;
    x.ts = ts;
    x.t = cdb_find_table(db, c->table, c->table_len);
    x.c = c;
    x.n = 0;
    x.mask = 0;
    for (size_t i = 0; e == EVOLU_OK && i < c->n_columns; i++) {
        const evolu_column *col = &c->columns[i];
        e = cells_add(&x, col->name, col->name_len, schema_slot(x.t, col->name, col->name_len),
                      &col->value);
    }
    char iso[EVOLU_DATE_ISO_CHARS];
    evolu_value iv, dv;
    if (e == EVOLU_OK) e = evolu_date_iso_format((int64_t)t->millis, iso);
    if (e == EVOLU_OK) {
        int slot = c->is_insert ? 0 : 1;
        iv = evolu_value_text((const uint8_t *)iso, sizeof iso);
        e = cells_add(&x, (const uint8_t *)k_sys[slot], strlen(k_sys[slot]), slot, &iv);
    }
    if (e == EVOLU_OK && c->is_delete >= 0) {
        dv = evolu_value_number(c->is_delete ? 1 : 0);
        e = cells_add(&x, (const uint8_t *)"isDeleted", 9, 2, &dv);
    }
    if (e == EVOLU_OK) e = cells_flush(&x);
    if (e == EVOLU_OK && x.mask) {
        bool defer = cdb_history_deferred(db);
        for (int slot = 0; defer && slot < CDB_SLOTS; slot++)
            if ((x.mask >> slot & 1) && !x.vals[slot].v) defer = false;
        if (defer) return cdb_rows_add(db, owner_id, x.t, c->id, x.mask, x.vals);
        e = cdb_rows_flush(db);
        if (e == EVOLU_OK) e = upsert_row(db, owner_id, x.t, c->id, x.mask, x.vals);
    }
    return e;
}
