/* client_db_store.c - the client database's RBSR store (evolu_client_db_store):
 * the SQLite counted B+-tree (sqlite_index.c) over the client's own set, in
 * the client's own file and transactions. Every timestamp written to
 * evolu_timestamp (received or local) is added to the tree in the same
 * transaction (client_db_apply.c record_timestamp), so the tree and the flat
 * table always hold the same set; a file made before the index existed is
 * indexed once when opened. */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"
#include "sqlite_index_internal.h"

struct cdb_store {
    cdb_store *next;
    evolu_client_db *db;
    const evolu_owner *owner;
    evolu_store tree; /* the index's store over evolu_message */
};

/* --- opening and the one-time build ------------------------------------------------ */

static evolu_err table_exists(evolu_client_db *db, const char *name, bool *exists) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db, "select 1 from sqlite_schema where type = 'table' and name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    *exists = rc == SQLITE_ROW;
    return EVOLU_OK;
}

/* Indexes every row of evolu_timestamp (all owners), in key order, so each
 * owner's tree is built by appends (full nodes). */
static evolu_err build_index(evolu_client_db *db) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db,
                           "select t.\"ownerId\", t.\"t\", length(m.\"change\")"
                           " from evolu_timestamp t left join evolu_message m"
                           " on m.\"ownerId\" = t.\"ownerId\" and m.\"timestamp\" = t.\"t\""
                           " order by t.\"ownerId\", t.\"t\"",
                           -1, &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    uint8_t cur[EVOLU_OWNER_ID_BYTES];
    bool open = false;
    evolu_err e = EVOLU_OK;
    int rc;
    while (e == EVOLU_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *o = sqlite3_column_blob(st, 0);
        const uint8_t *t = sqlite3_column_blob(st, 1);
        evolu_timestamp ts;
        if (!o || sqlite3_column_bytes(st, 0) != EVOLU_OWNER_ID_BYTES || !t ||
            sqlite3_column_bytes(st, 1) != EVOLU_TIMESTAMP_BYTES ||
            evolu_timestamp_from_bytes(t, &ts) != EVOLU_OK) {
            e = EVOLU_E_STORAGE;
            break;
        }
        if (!open || memcmp(cur, o, EVOLU_OWNER_ID_BYTES) != 0) {
            if (open && (e = sidx_keys_end(db->idx, true)) != EVOLU_OK) {
                open = false;
                break;
            }
            open = false;
            memcpy(cur, o, EVOLU_OWNER_ID_BYTES);
            if ((e = sidx_keys_begin(db->idx, cur)) != EVOLU_OK) break;
            open = true;
        }
        uint8_t fp[EVOLU_FINGERPRINT_BYTES];
        evolu_fingerprint(db->port, &ts, fp);
        e = sidx_keys_add(db->idx, t, fp, (size_t)sqlite3_column_int64(st, 2));
    }
    if (e == EVOLU_OK && rc != SQLITE_DONE) e = EVOLU_E_STORAGE;
    sqlite3_finalize(st);
    if (open) {
        evolu_err ke = sidx_keys_end(db->idx, e == EVOLU_OK);
        if (e == EVOLU_OK) e = ke;
    }
    return e;
}

evolu_err cdb_index_open(evolu_client_db *db) {
    bool had = false;
    evolu_err e = table_exists(db, "evolu_idx_owner", &had);
    if (e != EVOLU_OK) return e;
    if (had) return sidx_open_db_messages(db->port, db->db, "evolu_message", &db->idx);
    /* No index yet: create it and index the existing set in one transaction,
     * so a crash leaves either no index (built again next time) or all of it. */
    if ((e = cdb_exec(db, "begin immediate")) != EVOLU_OK) return e;
    e = sidx_open_db_messages(db->port, db->db, "evolu_message", &db->idx);
    if (e == EVOLU_OK) e = build_index(db);
    if (e == EVOLU_OK) e = cdb_exec(db, "commit");
    if (e != EVOLU_OK) cdb_exec(db, "rollback");
    return e;
}

void cdb_index_close(evolu_client_db *db) {
    while (db->stores) {
        cdb_store *s = db->stores;
        db->stores = s->next;
        free(s);
    }
    evolu_sqlite_index_close(db->idx);
    db->idx = NULL;
}

/* --- the store ----------------------------------------------------------------------- */

static evolu_err s_size(void *ctx, uint64_t *out) {
    cdb_store *s = ctx;
    return s->tree.size(s->tree.ctx, out);
}

static evolu_err s_fingerprint(void *ctx, uint64_t begin, uint64_t end,
                               uint8_t out[EVOLU_FINGERPRINT_BYTES]) {
    cdb_store *s = ctx;
    return s->tree.fingerprint(s->tree.ctx, begin, end, out);
}

static evolu_err s_lower_bound(void *ctx, uint64_t begin, uint64_t end, const uint8_t *bound,
                               uint64_t *out) {
    cdb_store *s = ctx;
    return s->tree.find_lower_bound(s->tree.ctx, begin, end, bound, out);
}

static evolu_err s_iterate(void *ctx, uint64_t begin, uint64_t end, evolu_store_visit_fn visit,
                           void *vctx) {
    cdb_store *s = ctx;
    return s->tree.iterate(s->tree.ctx, begin, end, visit, vctx);
}

static evolu_err s_read_change(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                               const evolu_store_arena *arena, const uint8_t **change,
                               size_t *change_len) {
    cdb_store *s = ctx;
    return s->tree.read_change(s->tree.ctx, ts, arena, change, change_len);
}

/* Decrypts and applies the batch with evolu_client_db_apply (which indexes
 * the new stamps in its own transaction). */
static evolu_err s_write_messages(void *ctx, const evolu_store_batch *batch) {
    cdb_store *s = ctx;
    if (!batch->count) return EVOLU_OK;
    if (batch->count > SIZE_MAX / sizeof(evolu_client_message)) return EVOLU_E_LIMIT;
    size_t n = (size_t)batch->count;
    evolu_client_message *m = malloc(n * sizeof *m);
    if (!m) return EVOLU_E_NOMEM;
    batch->rewind(batch->ctx);
    size_t k = 0;
    evolu_err e = EVOLU_OK;
    while (k < n &&
           (e = batch->next(batch->ctx, &m[k].timestamp, &m[k].change, &m[k].change_len)) ==
               EVOLU_OK)
        k++;
    if (e == EVOLU_OK || e == EVOLU_E_DONE) e = evolu_client_db_apply(s->db, s->owner, m, k, NULL);
    free(m);
    return e;
}

evolu_err evolu_client_db_store(evolu_client_db *db, const evolu_owner *owner, evolu_store *out) {
    if (!db || !owner || !out) return EVOLU_E_ARG;
    cdb_store *s = db->stores;
    while (s && memcmp(s->owner->id, owner->id, EVOLU_OWNER_ID_BYTES) != 0) s = s->next;
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return EVOLU_E_NOMEM;
        evolu_err e = evolu_sqlite_index_store(db->idx, owner->id, &s->tree);
        if (e != EVOLU_OK) {
            free(s);
            return e;
        }
        s->db = db;
        s->next = db->stores;
        db->stores = s;
    }
    s->owner = owner; /* the latest owner given for this id (keys included) */
    out->ctx = s;
    out->size = s_size;
    out->fingerprint = s_fingerprint;
    out->find_lower_bound = s_lower_bound;
    out->iterate = s_iterate;
    out->read_change = s_read_change;
    out->write_messages = s_write_messages;
    return EVOLU_OK;
}
