/* client_db_mutate.c - local mutations (spec 8.3): synced tables get a clock
 * stamp, an EncryptedDbChange for sync and the received-message apply path;
 * local-only tables ("_" prefix) are written directly. */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"
#include "evolu/protocol.h"
#include "sqlite_index_internal.h"

static bool is_synced_kind(evolu_mutation_kind k) {
    return k == EVOLU_MUTATION_INSERT || k == EVOLU_MUTATION_UPSERT ||
           k == EVOLU_MUTATION_UPDATE || k == EVOLU_MUTATION_DELETE;
}

/* The DbChange a mutation stands for (columns point into the mutation). */
static void to_change(const evolu_mutation *m, const uint8_t id[EVOLU_ID_BYTES],
                      evolu_dbchange *c) {
    memset(c, 0, sizeof *c);
    c->table = (const uint8_t *)m->table;
    c->table_len = strlen(m->table);
    memcpy(c->id, id, EVOLU_ID_BYTES);
    c->columns = m->columns;
    c->n_columns = m->n_columns;
    c->is_insert = m->kind == EVOLU_MUTATION_INSERT || m->kind == EVOLU_MUTATION_UPSERT;
    c->is_delete = m->kind == EVOLU_MUTATION_DELETE ? 1 : m->is_delete;
}

/* Everything a mutation must satisfy before anything is stamped or written. */
static evolu_err check_mutation(const evolu_client_db *db, const evolu_mutation *m) {
    if (!m->table || !is_synced_kind(m->kind) || m->is_delete < -1 || m->is_delete > 1 ||
        (m->n_columns && !m->columns))
        return EVOLU_E_ARG;
    size_t tlen = strlen(m->table);
    const cdb_table *t = cdb_find_table(db, (const uint8_t *)m->table, tlen);
    if (!t) return EVOLU_E_ARG;
    for (size_t i = 0; i < m->n_columns; i++) {
        const evolu_column *c = &m->columns[i];
        if (cdb_is_system_column(c->name, c->name_len)) return EVOLU_E_SYSTEM_COLUMN;
        if (!cdb_table_has_column(t, c->name, c->name_len)) return EVOLU_E_ARG;
    }
    uint8_t zero[EVOLU_ID_BYTES] = {0};
    evolu_dbchange c;
    to_change(m, zero, &c);
    size_t len;
    return evolu_dbchange_plaintext_len(&c, &len);
}

static const char *column_name(const cdb_table *t, const evolu_column *c) {
    for (size_t i = 0; i < t->n_cols; i++)
        if (strlen(t->cols[i]) == c->name_len && !memcmp(t->cols[i], c->name, c->name_len))
            return t->cols[i];
    return NULL;
}

static evolu_err upsert_direct(evolu_client_db *db, const cdb_table *t, const char *owner_s,
                               const char *id_s, const char *column, const cdb_val *v) {
    char *sql = sqlite3_mprintf("insert into \"%w\" (\"ownerId\", \"id\", \"%w\")"
                                " values (?1, ?2, ?3) on conflict (\"ownerId\", \"id\")"
                                " do update set \"%w\" = excluded.\"%w\"",
                                t->name, column, column, column);
    if (!sql) return EVOLU_E_NOMEM;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, owner_s, EVOLU_ID_CHARS, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, id_s, EVOLU_ID_CHARS, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = cdb_bind_value(st, 3, v);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

/* Local-only table: a delete removes the row; otherwise the columns, the
 * wall-clock createdAt/updatedAt and isDeleted (if given) are upserted. */
static evolu_err apply_local_only(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                  const evolu_mutation *m, const evolu_dbchange *c, int64_t now) {
    const cdb_table *t = cdb_find_table(db, c->table, c->table_len);
    char owner_s[EVOLU_ID_CHARS], id_s[EVOLU_ID_CHARS];
    evolu_id_to_string(owner_id, owner_s);
    evolu_id_to_string(c->id, id_s);
    evolu_err e = EVOLU_OK;
    if (c->is_delete == 1) {
        char *sql = sqlite3_mprintf("delete from \"%w\" where \"ownerId\" = ?1 and \"id\" = ?2",
                                    t->name);
        if (!sql) return EVOLU_E_NOMEM;
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
        sqlite3_free(sql);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, owner_s, EVOLU_ID_CHARS, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, id_s, EVOLU_ID_CHARS, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
        return sqlite3_changes(db->db) ? cdb_changed_add(db, t->name) : EVOLU_OK;
    }
    for (size_t i = 0; e == EVOLU_OK && i < m->n_columns; i++) {
        cdb_val v = {&m->columns[i].value, NULL};
        e = upsert_direct(db, t, owner_s, id_s, column_name(t, &m->columns[i]), &v);
    }
    char iso[EVOLU_DATE_ISO_CHARS];
    if (e == EVOLU_OK) e = evolu_date_iso_format(now, iso);
    if (e == EVOLU_OK) {
        evolu_value iv = evolu_value_text((const uint8_t *)iso, sizeof iso);
        cdb_val v = {&iv, NULL};
        e = upsert_direct(db, t, owner_s, id_s, c->is_insert ? "createdAt" : "updatedAt", &v);
    }
    if (e == EVOLU_OK && c->is_delete == 0) {
        evolu_value dv = evolu_value_number(0);
        cdb_val v = {&dv, NULL};
        e = upsert_direct(db, t, owner_s, id_s, "isDeleted", &v);
    }
    if (e == EVOLU_OK) e = cdb_changed_add(db, t->name);
    return e;
}

typedef struct stamped {
    evolu_timestamp ts;
    uint8_t *enc;
    size_t enc_len;
} stamped;

evolu_err evolu_client_db_mutate(evolu_client_db *db, const evolu_owner *owner,
                                 const evolu_mutation *mutations, size_t n,
                                 uint8_t (*ids_out)[EVOLU_ID_BYTES]) {
    if (!db || !owner || (n && !mutations)) return EVOLU_E_ARG;
    if (!n) return EVOLU_OK;
    evolu_err e = EVOLU_OK;
    for (size_t i = 0; e == EVOLU_OK && i < n; i++) e = check_mutation(db, &mutations[i]);
    if (e != EVOLU_OK) return e;

    uint8_t(*ids)[EVOLU_ID_BYTES] = malloc(n * sizeof *ids);
    stamped *s = calloc(n, sizeof *s);
    if (!ids || !s) {
        free(ids);
        free(s);
        return EVOLU_E_NOMEM;
    }
    const evolu_port *port = db->port;
    int64_t now = port->now_ms(port->ctx);
    evolu_timestamp clock = db->clock;
    /* Stamp and encrypt every synced change before touching the database, so
     * a clock error aborts the whole batch. */
    for (size_t i = 0; e == EVOLU_OK && i < n; i++) {
        const evolu_mutation *m = &mutations[i];
        if (m->has_id) memcpy(ids[i], m->id, EVOLU_ID_BYTES);
        else evolu_id_random(port, ids[i]);
        if (cdb_is_local_only((const uint8_t *)m->table, strlen(m->table))) continue;
        evolu_timestamp next;
        e = evolu_hlc_send(&clock, now, EVOLU_HLC_MAX_DRIFT, &next, NULL);
        if (e != EVOLU_OK) break;
        clock = next;
        s[i].ts = clock;
        evolu_dbchange c;
        to_change(m, ids[i], &c);
        size_t len = 0;
        if ((e = evolu_dbchange_encrypted_len(&c, &len)) != EVOLU_OK) break;
        /* A change no protocol message can carry would be stored and pushed
         * but never synced (evolu_msg_size_change_max): refuse it now. */
        if (len > evolu_msg_size_change_max(EVOLU_PROTOCOL_MAX_SIZE)) {
            e = EVOLU_E_LIMIT;
            break;
        }
        if (!(s[i].enc = malloc(len))) { e = EVOLU_E_NOMEM; break; }
        uint8_t nonce[EVOLU_AEAD_NONCE_BYTES];
        port->random(port->ctx, nonce, sizeof nonce);
        evolu_writer w = evolu_writer_make(s[i].enc, len);
        e = evolu_dbchange_encrypt(&w, port, owner->encryption_key, &c, &clock, nonce);
        s[i].enc_len = w.len;
    }
    bool began = false;
    if (e == EVOLU_OK) began = (e = cdb_exec(db, "begin immediate")) == EVOLU_OK;
    if (began) cdb_lww_begin(db);
    bool keys = began && (e = sidx_keys_begin(db->idx, owner->id)) == EVOLU_OK;
    bool any_synced = false;
    uint8_t first[EVOLU_TIMESTAMP_BYTES], last[EVOLU_TIMESTAMP_BYTES];
    for (size_t i = 0; e == EVOLU_OK && i < n; i++) {
        const evolu_mutation *m = &mutations[i];
        evolu_dbchange c;
        to_change(m, ids[i], &c);
        if (cdb_is_local_only(c.table, c.table_len)) {
            e = apply_local_only(db, owner->id, m, &c, now);
            continue;
        }
        e = cdb_apply_change(db, owner->id, &s[i].ts, &c, s[i].enc, s[i].enc_len);
        /* Stamps from send() only grow, so the first synced one is the least. */
        if (!any_synced) evolu_timestamp_to_bytes(&s[i].ts, first);
        evolu_timestamp_to_bytes(&s[i].ts, last);
        any_synced = true;
    }
    if (e == EVOLU_OK) e = cdb_history_flush(db);
    if (e == EVOLU_OK) e = cdb_rows_flush(db);
    if (e == EVOLU_OK && any_synced) e = cdb_update_usage(db, owner->id, first, last);
    if (e == EVOLU_OK && any_synced) e = cdb_store_clock(db, &clock);
    if (keys) {
        evolu_err ke = sidx_keys_end(db->idx, e == EVOLU_OK);
        if (e == EVOLU_OK) e = ke;
    }
    if (e == EVOLU_OK && began) e = cdb_exec(db, "commit");
    if (e != EVOLU_OK && began) cdb_exec(db, "rollback");
    cdb_lww_end(db, e == EVOLU_OK);
    if (e == EVOLU_OK) {
        db->clock = clock;
        if (ids_out) memcpy(ids_out, ids, n * sizeof *ids);
        cdb_changed_notify(db);
    } else {
        cdb_changed_clear(db);
    }
    for (size_t i = 0; i < n; i++) free(s[i].enc);
    free(s);
    free(ids);
    return e;
}
