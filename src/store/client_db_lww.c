/* client_db_lww.c - what the last-writer-wins check already knows, kept in
 * memory so that most checks skip the evolu_history lookup:
 *
 *  - the owner's largest history timestamp: a change newer than it wins every
 *    cell without a lookup (the common case: synced changes are mostly newer
 *    than anything stored);
 *  - a bounded, direct-mapped table of recently written cells
 *    (owner, table, id, column) -> their largest history timestamp.
 *
 * Both are exact or absent. They are trusted only between cdb_lww_begin and
 * cdb_lww_end of one of our own transactions, and only if nothing else
 * touched the file since our last commit: the token (PRAGMA data_version for
 * other connections, sqlite3_total_changes64 for this one, which counts the
 * caller's own SQL and rolled-back writes too) must still be the one taken
 * right after that commit; otherwise everything is forgotten. A rollback
 * forgets everything. A path that never calls cdb_lww_begin (quarantine
 * release) gets "unknown" answers and simply leaves the token stale. */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"

#define LWW_CELLS 16384 /* power of two; 64 bytes each: 1 MiB */

struct cdb_lww_cell {
    const cdb_table *t; /* NULL: empty */
    uint8_t owner[EVOLU_OWNER_ID_BYTES];
    uint8_t id[EVOLU_ID_BYTES];
    uint8_t ts[EVOLU_TIMESTAMP_BYTES];
    int32_t slot;
};

static void forget(cdb_lww *l) {
    if (l->cells) memset(l->cells, 0, LWW_CELLS * sizeof *l->cells);
    l->max_state = CDB_LWW_MAX_UNKNOWN;
    l->token_ok = false;
}

void cdb_lww_clear(evolu_client_db *db) {
    forget(&db->lww);
    db->lww.active = false;
}

void cdb_lww_free(evolu_client_db *db) {
    sqlite3_finalize(db->lww.dv_st);
    sqlite3_finalize(db->lww.max_st);
    free(db->lww.cells);
    memset(&db->lww, 0, sizeof db->lww);
}

static bool data_version(evolu_client_db *db, int64_t *out) {
    cdb_lww *l = &db->lww;
    if (!l->dv_st && sqlite3_prepare_v3(db->db, "pragma data_version", -1,
                                        SQLITE_PREPARE_PERSISTENT, &l->dv_st, NULL) != SQLITE_OK)
        return false;
    bool ok = sqlite3_step(l->dv_st) == SQLITE_ROW;
    if (ok) *out = sqlite3_column_int64(l->dv_st, 0);
    sqlite3_reset(l->dv_st);
    return ok;
}

void cdb_lww_begin(evolu_client_db *db) {
    cdb_lww *l = &db->lww;
    l->active = false;
    if (!l->cells && !(l->cells = calloc(LWW_CELLS, sizeof *l->cells))) return;
    int64_t dv = 0;
    if (!data_version(db, &dv)) {
        forget(l);
        return;
    }
    if (!l->token_ok || dv != l->data_version ||
        sqlite3_total_changes64(db->db) != l->total_changes)
        forget(l);
    l->data_version = dv;
    l->active = true;
}

void cdb_lww_end(evolu_client_db *db, bool committed) {
    cdb_lww *l = &db->lww;
    cdb_history_drop(db); /* flushed before a commit; a failed batch's rows go */
    cdb_rows_drop(db);
    if (!l->active) return;
    l->active = false;
    if (!committed) {
        forget(l);
        return;
    }
    int64_t dv = 0;
    if (!data_version(db, &dv)) {
        forget(l);
        return;
    }
    l->data_version = dv;
    l->total_changes = sqlite3_total_changes64(db->db);
    l->token_ok = true;
}

static size_t cell_hash(const uint8_t *owner, const cdb_table *t, const uint8_t *id, int slot) {
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)(uintptr_t)t ^ ((uint64_t)(uint32_t)slot << 40);
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    h ^= a * 0x9E3779B97F4A7C15ULL;
    h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ULL;
    h ^= b;
    memcpy(&a, owner, 8);
    h ^= a;
    h = (h ^ (h >> 32)) * 0x94D049BB133111EBULL;
    return (size_t)(h ^ (h >> 31)) & (LWW_CELLS - 1);
}

static struct cdb_lww_cell *cell_find(cdb_lww *l, const uint8_t *owner, const cdb_table *t,
                                      const uint8_t *id, int slot) {
    struct cdb_lww_cell *c = &l->cells[cell_hash(owner, t, id, slot)];
    if (c->t == t && c->slot == slot && !memcmp(c->id, id, EVOLU_ID_BYTES) &&
        !memcmp(c->owner, owner, EVOLU_OWNER_ID_BYTES))
        return c;
    return NULL;
}

/* Loads the owner's largest history timestamp (one index descent). */
static void load_max(evolu_client_db *db, const uint8_t *owner) {
    cdb_lww *l = &db->lww;
    l->max_state = CDB_LWW_MAX_UNKNOWN;
    if (!l->max_st &&
        sqlite3_prepare_v3(db->db,
                           "select \"timestamp\" from evolu_history where \"ownerId\" = ?1"
                           " order by \"timestamp\" desc limit 1",
                           -1, SQLITE_PREPARE_PERSISTENT, &l->max_st, NULL) != SQLITE_OK)
        return;
    sqlite3_stmt *st = l->max_st;
    int rc = sqlite3_bind_blob(st, 1, owner, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        l->max_state = CDB_LWW_MAX_NONE;
    } else if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB &&
               sqlite3_column_bytes(st, 0) == EVOLU_TIMESTAMP_BYTES) {
        memcpy(l->max, sqlite3_column_blob(st, 0), EVOLU_TIMESTAMP_BYTES);
        l->max_state = CDB_LWW_MAX_KNOWN;
    }
    /* any other shape (a hand-edited file): unknown, ask SQL per cell */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (l->max_state != CDB_LWW_MAX_UNKNOWN) memcpy(l->max_owner, owner, EVOLU_OWNER_ID_BYTES);
}

int cdb_lww_check(evolu_client_db *db, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                  const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES], int slot,
                  const uint8_t ts[EVOLU_TIMESTAMP_BYTES]) {
    cdb_lww *l = &db->lww;
    if (!l->active) return -1;
    if (l->max_state == CDB_LWW_MAX_UNKNOWN ||
        memcmp(l->max_owner, owner, EVOLU_OWNER_ID_BYTES) != 0)
        load_max(db, owner);
    if (l->max_state == CDB_LWW_MAX_NONE) return 1;
    if (l->max_state == CDB_LWW_MAX_KNOWN && memcmp(ts, l->max, EVOLU_TIMESTAMP_BYTES) > 0)
        return 1;
    const struct cdb_lww_cell *c = cell_find(l, owner, t, id, slot);
    if (!c) return -1;
    return memcmp(ts, c->ts, EVOLU_TIMESTAMP_BYTES) > 0;
}

void cdb_lww_written(evolu_client_db *db, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                     const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES], int slot,
                     const uint8_t ts[EVOLU_TIMESTAMP_BYTES], bool won) {
    cdb_lww *l = &db->lww;
    if (!l->active) return;
    if (l->max_state != CDB_LWW_MAX_UNKNOWN && !memcmp(l->max_owner, owner, EVOLU_OWNER_ID_BYTES)) {
        if (l->max_state == CDB_LWW_MAX_NONE || memcmp(ts, l->max, EVOLU_TIMESTAMP_BYTES) > 0) {
            memcpy(l->max, ts, EVOLU_TIMESTAMP_BYTES);
            l->max_state = CDB_LWW_MAX_KNOWN;
        }
    }
    /* A winner is now the cell's largest stamp; a loser leaves the cell's
     * entry (if any) as it was, still the largest. */
    if (!won) return;
    struct cdb_lww_cell *c = &l->cells[cell_hash(owner, t, id, slot)];
    c->t = t;
    c->slot = slot;
    memcpy(c->owner, owner, EVOLU_OWNER_ID_BYTES);
    memcpy(c->id, id, EVOLU_ID_BYTES);
    memcpy(c->ts, ts, EVOLU_TIMESTAMP_BYTES);
}
