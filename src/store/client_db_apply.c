/* client_db_apply.c - applying messages to the client database (spec 8.2):
 * value binding, the per-column last-writer-wins write, the timestamp set,
 * usage, change notifications, and the all-or-nothing batch of received
 * messages. */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"
#include "evolu/protocol.h"
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
                                 SQLITE_TRANSIENT);
    case EVOLU_VALUE_BYTES:
        if (!x->len) return sqlite3_bind_zeroblob(st, i, 0);
        return sqlite3_bind_blob(st, i, x->data, (int)x->len, SQLITE_TRANSIENT);
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

/* --- one column -------------------------------------------------------------------------- */

static int bind_blob16(sqlite3_stmt *st, int i, const uint8_t *p) {
    return sqlite3_bind_blob(st, i, p, 16, SQLITE_TRANSIENT);
}

evolu_err cdb_apply_column(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const cdb_table *t, const uint8_t id[EVOLU_ID_BYTES],
                           const char *column, const cdb_val *v,
                           const uint8_t ts[EVOLU_TIMESTAMP_BYTES]) {
    /* Last writer wins: write only if no history stamp >= ts (memcmp order of
     * TimestampBytes, which is SQLite's blob order). */
    sqlite3_stmt *st = db->st[CDB_ST_LWW];
    sqlite3_reset(st);
    int rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, t->name, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = bind_blob16(st, 3, id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 4, column, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 5, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    if (rc == SQLITE_DONE) {
        char owner_s[EVOLU_ID_CHARS], id_s[EVOLU_ID_CHARS];
        evolu_id_to_string(owner_id, owner_s);
        evolu_id_to_string(id, id_s);
        /* Identifiers come from the schema and are escaped with %w. */
        char *sql = sqlite3_mprintf("insert into \"%w\" (\"ownerId\", \"id\", \"%w\")"
                                    " values (?1, ?2, ?3) on conflict (\"ownerId\", \"id\")"
                                    " do update set \"%w\" = excluded.\"%w\"",
                                    t->name, column, column, column);
        if (!sql) return EVOLU_E_NOMEM;
        sqlite3_stmt *up = NULL;
        rc = sqlite3_prepare_v2(db->db, sql, -1, &up, NULL);
        sqlite3_free(sql);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(up, 1, owner_s, EVOLU_ID_CHARS, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(up, 2, id_s, EVOLU_ID_CHARS, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = cdb_bind_value(up, 3, v);
        if (rc == SQLITE_OK) rc = sqlite3_step(up);
        sqlite3_finalize(up);
        if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
        evolu_err e = cdb_changed_add(db, t->name);
        if (e != EVOLU_OK) return e;
    }
    st = db->st[CDB_ST_HISTORY];
    sqlite3_reset(st);
    rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, t->name, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = bind_blob16(st, 3, id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 4, column, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = cdb_bind_value(st, 5, v);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 6, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

/* --- one message ---------------------------------------------------------------------------- */

static evolu_err ts_exists(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const uint8_t ts[EVOLU_TIMESTAMP_BYTES], bool *exists) {
    sqlite3_stmt *st = db->st[CDB_ST_TS_EXISTS];
    sqlite3_reset(st);
    int rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 2, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    *exists = rc == SQLITE_ROW;
    return EVOLU_OK;
}

static evolu_err record_timestamp(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                  const evolu_timestamp *t, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                                  const uint8_t *enc, size_t enc_len) {
    uint8_t fp[EVOLU_FINGERPRINT_BYTES];
    evolu_fingerprint(db->port, t, fp);
    sqlite3_stmt *st = db->st[CDB_ST_TS_INSERT];
    sqlite3_reset(st);
    int rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 2, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, (int64_t)evolu_load_be(fp, 6));
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, (int64_t)evolu_load_be(fp + 6, 6));
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    /* every stamp of the set goes into the RBSR index (the caller's batch) */
    evolu_err e = sidx_keys_add(db->idx, ts, fp, enc ? enc_len : 0);
    if (e != EVOLU_OK) return e;
    if (!enc) return EVOLU_OK;
    if (enc_len > (size_t)INT32_MAX) return EVOLU_E_LIMIT;
    st = db->st[CDB_ST_MSG_INSERT];
    sqlite3_reset(st);
    rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 2, ts, EVOLU_TIMESTAMP_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 3, enc, (int)enc_len, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err cdb_update_usage(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const uint8_t first[EVOLU_TIMESTAMP_BYTES],
                           const uint8_t last[EVOLU_TIMESTAMP_BYTES]) {
    sqlite3_stmt *st = db->st[CDB_ST_USAGE];
    sqlite3_reset(st);
    int rc = bind_blob16(st, 1, owner_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 2, first, EVOLU_TIMESTAMP_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 3, last, EVOLU_TIMESTAMP_BYTES, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

/* Applies or quarantines one column of a change. */
static evolu_err put_column(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                            const cdb_table *t, const evolu_dbchange *c, const uint8_t *name,
                            size_t name_len, const char *schema_name, const evolu_value *value,
                            const uint8_t ts[EVOLU_TIMESTAMP_BYTES]) {
    cdb_val v = {value, NULL};
    if (t && schema_name) return cdb_apply_column(db, owner_id, t, c->id, schema_name, &v, ts);
    return cdb_quarantine_insert(db, owner_id, ts, c->table, c->table_len, c->id, name, name_len,
                                 &v);
}

static const char *schema_column(const cdb_table *t, const uint8_t *name, size_t len) {
    if (!t) return NULL;
    for (size_t i = 0; i < t->n_cols; i++)
        if (strlen(t->cols[i]) == len && !memcmp(t->cols[i], name, len)) return t->cols[i];
    return NULL;
}

evolu_err cdb_apply_change(evolu_client_db *db, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           const evolu_timestamp *t, const evolu_dbchange *c,
                           const uint8_t *enc, size_t enc_len) {
    uint8_t ts[EVOLU_TIMESTAMP_BYTES];
    evolu_timestamp_to_bytes(t, ts);
    bool exists = false;
    evolu_err e = ts_exists(db, owner_id, ts, &exists);
    if (e != EVOLU_OK || exists) return e; /* 8.11.0: a known stamp is skipped */
    if (!cdb_is_local_only(c->table, c->table_len)) {
        const cdb_table *tbl = cdb_find_table(db, c->table, c->table_len);
        for (size_t i = 0; e == EVOLU_OK && i < c->n_columns; i++) {
            const evolu_column *col = &c->columns[i];
            e = put_column(db, owner_id, tbl, c, col->name, col->name_len,
                           schema_column(tbl, col->name, col->name_len), &col->value, ts);
        }
        char iso[EVOLU_DATE_ISO_CHARS];
        if (e == EVOLU_OK) e = evolu_date_iso_format((int64_t)t->millis, iso);
        if (e == EVOLU_OK) {
            const char *sys = c->is_insert ? "createdAt" : "updatedAt";
            evolu_value v = evolu_value_text((const uint8_t *)iso, sizeof iso);
            e = put_column(db, owner_id, tbl, c, (const uint8_t *)sys, strlen(sys),
                           tbl ? sys : NULL, &v, ts);
        }
        if (e == EVOLU_OK && c->is_delete >= 0) {
            evolu_value v = evolu_value_number(c->is_delete ? 1 : 0);
            e = put_column(db, owner_id, tbl, c, (const uint8_t *)"isDeleted", 9,
                           tbl ? "isDeleted" : NULL, &v, ts);
        }
    }
    if (e == EVOLU_OK) e = record_timestamp(db, owner_id, t, ts, enc, enc_len);
    return e;
}

/* --- received batches ------------------------------------------------------------------------ */

typedef struct decoded {
    uint8_t *plain;
    size_t plain_len;
    evolu_column *cols;
    uint8_t **owned; /* per column: derived text we copied, or NULL */
    evolu_dbchange change;
} decoded;

static void decoded_free(const evolu_port *port, decoded *d) {
    if (d->owned) {
        for (size_t i = 0; i < d->change.n_columns; i++) free(d->owned[i]);
        free(d->owned);
    }
    free(d->cols);
    if (d->plain) {
        port->memzero(port->ctx, d->plain, d->plain_len);
        free(d->plain);
    }
    memset(d, 0, sizeof *d);
}

static bool points_into(const uint8_t *p, const uint8_t *buf, size_t cap) {
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)buf;
    return p && buf && a >= b && a < b + cap;
}

/* Decrypts and parses one message into d; derived text is copied out of the
 * scratch buffer so every column stays valid while the batch is applied. A
 * name given twice keeps its first position and its last value (a JS object). */
static evolu_err decode_one(const evolu_port *port, const uint8_t *key,
                            const evolu_client_message *m, uint8_t **scratch, size_t *scap,
                            decoded *d) {
    if (!m->change && m->change_len) return EVOLU_E_ARG;
    size_t cap = m->change_len ? m->change_len : 1;
    if (!(d->plain = malloc(cap))) return EVOLU_E_NOMEM;
    d->plain_len = cap;
    size_t plain_len = 0;
    evolu_err e = evolu_dbchange_decrypt(port, key, &m->timestamp, m->change, m->change_len,
                                         d->plain, cap, &plain_len);
    if (e != EVOLU_OK) return e;
    evolu_dbchange_view v;
    if ((e = evolu_dbchange_parse(d->plain, plain_len, &v)) != EVOLU_OK) return e;
    if (v.n_columns > plain_len) return EVOLU_E_INVALID;
    size_t n = v.n_columns ? v.n_columns : 1;
    d->cols = calloc(n, sizeof *d->cols);
    d->owned = calloc(n, sizeof *d->owned);
    if (!d->cols || !d->owned) return EVOLU_E_NOMEM;
    d->change.table = v.table;
    d->change.table_len = v.table_len;
    memcpy(d->change.id, v.id, EVOLU_ID_BYTES);
    d->change.is_insert = v.is_insert;
    d->change.is_delete = v.is_delete;
    d->change.columns = d->cols;
    for (;;) {
        evolu_writer w = evolu_writer_make(*scratch, *scap);
        evolu_column col;
        e = evolu_dbchange_next_column(&v, &w, &col);
        if (e == EVOLU_E_DONE) break;
        if (e == EVOLU_E_BUFFER) {
            size_t want = col.value.len > *scap * 2 ? col.value.len : *scap * 2;
            uint8_t *p = realloc(*scratch, want);
            if (!p) return EVOLU_E_NOMEM;
            *scratch = p;
            *scap = want;
            continue;
        }
        if (e != EVOLU_OK) return e;
        uint8_t *own = NULL;
        if ((col.value.kind == EVOLU_VALUE_TEXT || col.value.kind == EVOLU_VALUE_BYTES) &&
            points_into(col.value.data, *scratch, *scap)) {
            if (!(own = malloc(col.value.len ? col.value.len : 1))) return EVOLU_E_NOMEM;
            memcpy(own, col.value.data, col.value.len);
            col.value.data = own;
        }
        size_t j = 0;
        while (j < d->change.n_columns &&
               !(d->cols[j].name_len == col.name_len &&
                 !memcmp(d->cols[j].name, col.name, col.name_len)))
            j++;
        if (j == d->change.n_columns) d->change.n_columns++;
        free(d->owned[j]);
        d->owned[j] = own;
        d->cols[j] = col;
    }
    return EVOLU_OK;
}

evolu_err evolu_client_db_apply(evolu_client_db *db, const evolu_owner *owner,
                                const evolu_client_message *messages, size_t n,
                                evolu_client_db_failure *failure) {
    if (failure) memset(failure, 0, sizeof *failure);
    if (!db || !owner || (n && !messages)) return EVOLU_E_ARG;
    if (!n) return EVOLU_OK;
    decoded *d = calloc(n, sizeof *d);
    size_t scap = 256;
    uint8_t *scratch = malloc(scap);
    evolu_err e = (!d || !scratch) ? EVOLU_E_NOMEM : EVOLU_OK;
    size_t i = 0;
    /* 1. Decrypt and parse everything first: one bad message refuses the batch. */
    for (; e == EVOLU_OK && i < n; i++)
        e = decode_one(db->port, owner->encryption_key, &messages[i], &scratch, &scap, &d[i]);
    /* 2. Advance the clock over every message in order. */
    evolu_timestamp clock = db->clock;
    if (e == EVOLU_OK) {
        int64_t now = db->port->now_ms(db->port->ctx);
        evolu_hlc_drift drift;
        memset(&drift, 0, sizeof drift);
        for (i = 0; e == EVOLU_OK && i < n; i++) {
            evolu_timestamp next;
            e = evolu_hlc_receive(&clock, &messages[i].timestamp, now, EVOLU_HLC_MAX_DRIFT,
                                  &next, &drift);
            if (e == EVOLU_OK) clock = next;
        }
        if (e != EVOLU_OK && failure) failure->drift = drift;
    }
    if (e != EVOLU_OK && failure) failure->index = i ? i - 1 : 0;
    /* 3. One transaction. */
    if (e == EVOLU_OK) {
        size_t lo = 0, hi = 0;
        e = cdb_exec(db, "begin immediate");
        bool began = e == EVOLU_OK;
        bool keys = began && (e = sidx_keys_begin(db->idx, owner->id)) == EVOLU_OK;
        for (i = 0; e == EVOLU_OK && i < n; i++) {
            e = cdb_apply_change(db, owner->id, &messages[i].timestamp, &d[i].change,
                                 messages[i].change, messages[i].change_len);
            if (evolu_timestamp_cmp(&messages[i].timestamp, &messages[lo].timestamp) < 0) lo = i;
            if (evolu_timestamp_cmp(&messages[i].timestamp, &messages[hi].timestamp) > 0) hi = i;
        }
        if (e != EVOLU_OK && failure) failure->index = i ? i - 1 : 0;
        if (e == EVOLU_OK) {
            uint8_t first[EVOLU_TIMESTAMP_BYTES], last[EVOLU_TIMESTAMP_BYTES];
            evolu_timestamp_to_bytes(&messages[lo].timestamp, first);
            evolu_timestamp_to_bytes(&messages[hi].timestamp, last);
            e = cdb_update_usage(db, owner->id, first, last);
        }
        if (e == EVOLU_OK) e = cdb_store_clock(db, &clock);
        if (keys) {
            evolu_err ke = sidx_keys_end(db->idx, e == EVOLU_OK);
            if (e == EVOLU_OK) e = ke;
        }
        if (e == EVOLU_OK) e = cdb_exec(db, "commit");
        if (e != EVOLU_OK && began) cdb_exec(db, "rollback");
        if (e == EVOLU_OK) db->clock = clock;
    }
    if (d)
        for (size_t k = 0; k < n; k++) decoded_free(db->port, &d[k]);
    free(d);
    free(scratch);
    if (e == EVOLU_OK) cdb_changed_notify(db);
    else cdb_changed_clear(db);
    return e;
}

evolu_err evolu_client_db_apply_protocol(evolu_client_db *db, const evolu_owner *owner,
                                         const uint8_t *bytes, size_t len,
                                         evolu_client_db_failure *failure) {
    if (failure) memset(failure, 0, sizeof *failure);
    if (!db || !owner || (!bytes && len)) return EVOLU_E_ARG;
    evolu_msg_reader r;
    evolu_err e = evolu_msg_reader_open(&r, bytes, len);
    if (e != EVOLU_OK) return e;
    if (memcmp(r.header.owner_id, owner->id, EVOLU_OWNER_ID_BYTES) != 0) return EVOLU_E_OWNER;
    if (r.header.type == EVOLU_MESSAGE_REQUEST) return EVOLU_E_MESSAGE_TYPE;
    if (r.header.type == EVOLU_MESSAGE_RESPONSE && r.header.error_code != 0)
        return evolu_error_code_to_err(r.header.error_code);
    if (r.n_messages == 0) return EVOLU_OK;
    if (r.n_messages > len) return EVOLU_E_INVALID;
    evolu_client_message *m = calloc((size_t)r.n_messages, sizeof *m);
    if (!m) return EVOLU_E_NOMEM;
    size_t k = 0;
    while (k < r.n_messages &&
           (e = evolu_msg_reader_next_message(&r, &m[k].timestamp, &m[k].change,
                                              &m[k].change_len)) == EVOLU_OK)
        k++;
    if (e == EVOLU_OK || e == EVOLU_E_DONE) e = evolu_client_db_apply(db, owner, m, k, failure);
    free(m);
    return e;
}
