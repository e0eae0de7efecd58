/* client_db_stamps.c - the timestamp set side of a received batch, written
 * a chunk of rows per statement instead of two statements per change:
 *
 *   insert into evolu_timestamp ... values (...), (...) ... on conflict do
 *     nothing returning "t"       -- the stamps that were new
 *   insert into evolu_message ... values (...), (...) ... on conflict do nothing
 *
 * plus the RBSR tree insert of every new stamp, in batch order. A stamp
 * already stored, or repeated in the batch, is not new: only its first
 * occurrence is (the first change wins, as with one row per statement), and
 * only new stamps get their change applied (client_db_receive.c). */
#include <string.h>

#include "client_db_internal.h"
#include "sqlite_index_internal.h"

/* rows per statement: 32 x 3 + 1 = 97 parameters, far under SQLite's limit */
#define STAMP_CHUNK 32

static evolu_err chunk_stmt(evolu_client_db *db, bool msg, size_t k, sqlite3_stmt **out) {
    sqlite3_stmt **slot = msg ? &db->msg_st[k] : &db->ts_st[k];
    if (*slot) {
        *out = *slot;
        return EVOLU_OK;
    }
    char *sql = msg ? sqlite3_mprintf("insert into evolu_message (\"ownerId\", \"timestamp\","
                                      " \"change\") values")
                    : sqlite3_mprintf("insert into evolu_timestamp (\"ownerId\", \"t\", \"h1\","
                                      " \"h2\", \"c\", \"l\") values");
    for (size_t i = 0; sql && i < k; i++) {
        char *next = msg ? sqlite3_mprintf("%s%s (?1, ?%d, ?%d)", sql, i ? "," : "",
                                           (int)(2 + 2 * i), (int)(3 + 2 * i))
                         : sqlite3_mprintf("%s%s (?1, ?%d, ?%d, ?%d, 1, 1)", sql, i ? "," : "",
                                           (int)(2 + 3 * i), (int)(3 + 3 * i), (int)(4 + 3 * i));
        sqlite3_free(sql);
        sql = next;
    }
    if (sql) {
        char *next = sqlite3_mprintf("%s on conflict do nothing%s", sql,
                                     msg ? "" : " returning \"t\"");
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

void cdb_stamps_free(evolu_client_db *db) {
    for (int i = 0; i <= CDB_STAMP_CHUNK; i++) {
        sqlite3_finalize(db->ts_st[i]);
        sqlite3_finalize(db->msg_st[i]);
        db->ts_st[i] = db->msg_st[i] = NULL;
    }
}

/* Stamps [lo, lo + k) of the batch: marks added[i] for the new ones. */
static evolu_err put_chunk(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const evolu_client_message *m, size_t lo, size_t k, uint8_t *ts,
                           uint8_t *added, size_t *failed) {
    *failed = lo;
    sqlite3_stmt *st = NULL;
    evolu_err e = chunk_stmt(db, false, k, &st);
    if (e != EVOLU_OK) return e;
    uint8_t fp[STAMP_CHUNK][EVOLU_FINGERPRINT_BYTES];
    int rc = sqlite3_bind_blob(st, 1, owner_id, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    for (size_t i = 0; rc == SQLITE_OK && i < k; i++) {
        evolu_timestamp_to_bytes(&m[lo + i].timestamp, ts + (lo + i) * EVOLU_TIMESTAMP_BYTES);
        evolu_fingerprint(db->port, &m[lo + i].timestamp, fp[i]);
        rc = sqlite3_bind_blob(st, (int)(2 + 3 * i), ts + (lo + i) * EVOLU_TIMESTAMP_BYTES,
                               EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, (int)(3 + 3 * i), (int64_t)evolu_load_be(fp[i], 6));
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, (int)(4 + 3 * i), (int64_t)evolu_load_be(fp[i] + 6, 6));
    }
    memset(added + lo, 0, k);
    /* RETURNING gives the rows inserted; a stamp repeated in the chunk was
     * inserted by its first occurrence. */
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *t = sqlite3_column_blob(st, 0);
        rc = SQLITE_OK;
        if (!t || sqlite3_column_bytes(st, 0) != EVOLU_TIMESTAMP_BYTES) {
            rc = SQLITE_CORRUPT;
            break;
        }
        size_t i = 0;
        while (i < k && (added[lo + i] ||
                         memcmp(ts + (lo + i) * EVOLU_TIMESTAMP_BYTES, t, EVOLU_TIMESTAMP_BYTES)))
            i++;
        if (i == k) {
            rc = SQLITE_CORRUPT;
            break;
        }
        added[lo + i] = 1;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    /* the tree, in batch order, and the changes of the new stamps */
    size_t n_new = 0;
    for (size_t i = 0; i < k; i++) {
        if (!added[lo + i]) continue;
        *failed = lo + i;
        if (m[lo + i].change_len > (size_t)INT32_MAX) return EVOLU_E_LIMIT;
        e = sidx_keys_add(db->idx, ts + (lo + i) * EVOLU_TIMESTAMP_BYTES, fp[i],
                          m[lo + i].change_len);
        if (e != EVOLU_OK) return e;
        n_new++;
    }
    if (!n_new) return EVOLU_OK;
    *failed = lo;
    if ((e = chunk_stmt(db, true, n_new, &st)) != EVOLU_OK) return e;
    rc = sqlite3_bind_blob(st, 1, owner_id, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    int p = 2;
    for (size_t i = 0; rc == SQLITE_OK && i < k; i++) {
        if (!added[lo + i]) continue;
        rc = sqlite3_bind_blob(st, p++, ts + (lo + i) * EVOLU_TIMESTAMP_BYTES,
                               EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
        /* a zero-length change stays a (non-NULL) empty blob */
        if (rc == SQLITE_OK)
            rc = m[lo + i].change_len
                     ? sqlite3_bind_blob(st, p++, m[lo + i].change, (int)m[lo + i].change_len,
                                         SQLITE_STATIC)
                     : sqlite3_bind_zeroblob(st, p++, 0);
    }
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err cdb_record_stamps(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                            const evolu_client_message *m, size_t n, uint8_t *ts,
                            uint8_t *added, size_t *failed) {
    for (size_t lo = 0; lo < n; lo += STAMP_CHUNK) {
        size_t k = n - lo < STAMP_CHUNK ? n - lo : STAMP_CHUNK;
        evolu_err e = put_chunk(db, owner_id, m, lo, k, ts, added, failed);
        if (e != EVOLU_OK) return e;
    }
    return EVOLU_OK;
}
