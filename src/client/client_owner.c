/*
 * client_owner.c - the database's owner in table evolu_c_owner (see
 * evolu/client_owner.h).
 */
#include <sqlite3.h>
#include <string.h>

#include "evolu/client_owner.h"

static const char k_create[] =
    "create table if not exists evolu_c_owner (\"k\" integer primary key check (\"k\" = 1),"
    " \"secret\" blob, \"id\" blob not null, \"encryptionKey\" blob not null) strict";

static evolu_err ensure_table(sqlite3 *q) {
    return sqlite3_exec(q, k_create, NULL, NULL, NULL) == SQLITE_OK ? EVOLU_OK
                                                                     : EVOLU_E_STORAGE;
}

evolu_err evolu_client_owner_load(evolu_client_db *db, const evolu_port *port,
                                  evolu_owner *out, bool *found, bool *read_only) {
    if (!db || !port || !out || !found) return EVOLU_E_ARG;
    *found = false;
    if (read_only) *read_only = false;
    sqlite3 *q = evolu_client_db_sqlite(db);
    if (ensure_table(q)) return EVOLU_E_STORAGE;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q, "select secret, id, encryptionKey from evolu_c_owner where k = 1",
                           -1, &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    evolu_err e = EVOLU_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *secret = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (secret && n > 0) {
            uint8_t tmp[EVOLU_OWNER_SECRET_MAX_BYTES];
            if (n < EVOLU_OWNER_SECRET_MIN_BYTES || n > EVOLU_OWNER_SECRET_MAX_BYTES) {
                e = EVOLU_E_STORAGE;
            } else {
                memcpy(tmp, secret, (size_t)n);
                e = evolu_owner_from_secret(port, tmp, (size_t)n, out);
                port->memzero(port->ctx, tmp, sizeof tmp);
                if (e) e = EVOLU_E_STORAGE;
            }
        } else {
            const void *id = sqlite3_column_blob(st, 1);
            const void *key = sqlite3_column_blob(st, 2);
            if (!id || sqlite3_column_bytes(st, 1) != EVOLU_OWNER_ID_BYTES || !key ||
                sqlite3_column_bytes(st, 2) != EVOLU_OWNER_ENCRYPTION_KEY_BYTES) {
                e = EVOLU_E_STORAGE;
            } else {
                memcpy(out->id, id, EVOLU_OWNER_ID_BYTES);
                memcpy(out->encryption_key, key, EVOLU_OWNER_ENCRYPTION_KEY_BYTES);
                memset(out->write_key, 0, sizeof out->write_key);
                if (read_only) *read_only = true;
            }
        }
        if (!e) *found = true;
    } else if (rc != SQLITE_DONE) {
        e = EVOLU_E_STORAGE;
    }
    sqlite3_finalize(st);
    return e;
}

/* Inserts the row unless an owner exists: the same id is a no-op, another one
 * EVOLU_E_STATE. */
static evolu_err store_row(evolu_client_db *db, const evolu_port *port, const uint8_t *secret,
                           size_t n, const evolu_owner *o) {
    bool found = false;
    evolu_owner cur;
    evolu_err e = evolu_client_owner_load(db, port, &cur, &found, NULL);
    if (e) return e;
    if (found) {
        bool same = memcmp(cur.id, o->id, EVOLU_OWNER_ID_BYTES) == 0;
        evolu_owner_wipe(port, &cur);
        return same ? EVOLU_OK : EVOLU_E_STATE;
    }
    sqlite3 *q = evolu_client_db_sqlite(db);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q,
                           "insert into evolu_c_owner (k, secret, id, encryptionKey)"
                           " values (1, ?1, ?2, ?3)",
                           -1, &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    if (secret)
        sqlite3_bind_blob(st, 1, secret, (int)n, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_blob(st, 2, o->id, EVOLU_OWNER_ID_BYTES, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 3, o->encryption_key, EVOLU_OWNER_ENCRYPTION_KEY_BYTES,
                      SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err evolu_client_owner_set_secret(evolu_client_db *db, const evolu_port *port,
                                        const uint8_t *secret, size_t n, evolu_owner *out) {
    if (!db || !port || !secret) return EVOLU_E_ARG;
    evolu_owner o;
    evolu_err e = evolu_owner_from_secret(port, secret, n, &o);
    if (e) return e;
    e = store_row(db, port, secret, n, &o);
    if (!e && out) *out = o;
    evolu_owner_wipe(port, &o);
    return e;
}

evolu_err evolu_client_owner_set_mnemonic(evolu_client_db *db, const evolu_port *port,
                                          const char *mnemonic, size_t n, evolu_owner *out) {
    if (!db || !port || !mnemonic) return EVOLU_E_ARG;
    uint8_t secret[EVOLU_MNEMONIC_MAX_SECRET_BYTES];
    size_t len = 0;
    evolu_err e = evolu_mnemonic_to_secret(port, mnemonic, n, secret, &len);
    if (!e) e = evolu_client_owner_set_secret(db, port, secret, len, out);
    port->memzero(port->ctx, secret, sizeof secret);
    return e;
}

evolu_err evolu_client_owner_set_read_only(evolu_client_db *db, const evolu_port *port,
                                           const evolu_owner *owner) {
    if (!db || !port || !owner) return EVOLU_E_ARG;
    return store_row(db, port, NULL, 0, owner);
}

evolu_err evolu_client_owner_mnemonic(evolu_client_db *db, const evolu_port *port,
                                      evolu_writer *w) {
    if (!db || !port || !w) return EVOLU_E_ARG;
    sqlite3 *q = evolu_client_db_sqlite(db);
    if (ensure_table(q)) return EVOLU_E_STORAGE;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q, "select secret from evolu_c_owner where k = 1", -1, &st, NULL) !=
        SQLITE_OK)
        return EVOLU_E_STORAGE;
    evolu_err e = EVOLU_E_STATE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *secret = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (secret && n > 0 && n <= EVOLU_MNEMONIC_MAX_SECRET_BYTES) {
            uint8_t tmp[EVOLU_MNEMONIC_MAX_SECRET_BYTES];
            memcpy(tmp, secret, (size_t)n);
            e = evolu_mnemonic_from_secret(port, tmp, (size_t)n, w);
            port->memzero(port->ctx, tmp, sizeof tmp);
        }
    } else if (rc != SQLITE_DONE) {
        e = EVOLU_E_STORAGE;
    }
    sqlite3_finalize(st);
    return e;
}
