/* client_db_receive.c - received batches (spec 8.2): decrypt and parse every
 * message, advance the clock over all of them, then apply them in one
 * transaction (with the RBSR index updated in it) - all or nothing. The
 * plaintexts, columns and derived text of a batch live in memory the handle
 * reuses from batch to batch, so applying allocates nothing per message. */
#include <stdlib.h>
#include <string.h>

#include "client_db_internal.h"
#include "evolu/protocol.h"
#include "sqlite_index_internal.h"

#define NO_TEXT SIZE_MAX

void cdb_batch_mem_free(evolu_client_db *db) {
    cdb_batch_mem *m = &db->mem;
    free(m->plain);
    free(m->d);
    free(m->cols);
    free(m->text_off);
    free(m->text);
    free(m->msgs);
    free(m->ts);
    free(m->added);
    memset(m, 0, sizeof *m);
}

/* p (of *cap elements of size sz) grown to hold at least want elements;
 * NULL when out of memory (p is then unchanged and still owned). */
static void *grow(void *p, size_t *cap, size_t want, size_t sz) {
    if (want <= *cap) return p;
    size_t n = *cap ? *cap : 16;
    while (n < want) {
        if (n > SIZE_MAX / 2 / sz) return NULL;
        n *= 2;
    }
    void *q = realloc(p, n * sz);
    if (q) *cap = n;
    return q;
}

#define GROW(ptr, cap, want)                                                   \
    do {                                                                       \
        if ((want) > (cap)) {                                                  \
            void *grown_ = grow((ptr), &(cap), (want), sizeof *(ptr));         \
            if (!grown_) return EVOLU_E_NOMEM;                                 \
            (ptr) = grown_;                                                    \
        }                                                                      \
    } while (0)

static bool points_into(const uint8_t *p, const uint8_t *buf, size_t cap) {
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)buf;
    return p && buf && a >= b && a < b + cap;
}

/* Decrypts and parses message m into d, its plaintext at plain (room for
 * m->change_len bytes). Columns go to m->cols; derived text is appended to
 * m->text and recorded by offset (the buffers may move while the batch is
 * decoded; pointers are fixed afterwards). A name given twice keeps its first
 * position and its last value (a JS object). */
static evolu_err decode_one(const evolu_port *port, const uint8_t *key,
                            const evolu_client_message *msg, uint8_t *plain, cdb_batch_mem *m,
                            cdb_decoded *d) {
    if (!msg->change && msg->change_len) return EVOLU_E_ARG;
    size_t plain_len = 0;
    evolu_err e = evolu_dbchange_decrypt(port, key, &msg->timestamp, msg->change,
                                         msg->change_len, plain, msg->change_len, &plain_len);
    if (e != EVOLU_OK) return e;
    evolu_dbchange_view v;
    if ((e = evolu_dbchange_parse(plain, plain_len, &v)) != EVOLU_OK) return e;
    if (v.n_columns > plain_len) return EVOLU_E_INVALID;
    memset(d, 0, sizeof *d);
    d->col0 = m->n_cols;
    d->change.table = v.table;
    d->change.table_len = v.table_len;
    memcpy(d->change.id, v.id, EVOLU_ID_BYTES);
    d->change.is_insert = v.is_insert;
    d->change.is_delete = v.is_delete;
    GROW(m->cols, m->cols_cap, m->n_cols + v.n_columns);
    GROW(m->text_off, m->off_cap, m->n_cols + v.n_columns);
    for (;;) {
        if (!m->text_cap) GROW(m->text, m->text_cap, 256);
        evolu_writer w = evolu_writer_make(m->text + m->text_len, m->text_cap - m->text_len);
        evolu_column col;
        e = evolu_dbchange_next_column(&v, &w, &col);
        if (e == EVOLU_E_DONE) break;
        if (e == EVOLU_E_BUFFER) {
            if (col.value.len > SIZE_MAX / 4 - m->text_len) return EVOLU_E_NOMEM;
            GROW(m->text, m->text_cap, m->text_len + col.value.len + 1);
            continue;
        }
        if (e != EVOLU_OK) return e;
        size_t toff = NO_TEXT;
        if ((col.value.kind == EVOLU_VALUE_TEXT || col.value.kind == EVOLU_VALUE_BYTES) &&
            points_into(col.value.data, m->text, m->text_cap)) {
            toff = (size_t)(col.value.data - m->text);
            m->text_len = toff + col.value.len;
        }
        evolu_column *cols = m->cols + d->col0;
        size_t j = 0;
        while (j < d->change.n_columns &&
               !(cols[j].name_len == col.name_len && !memcmp(cols[j].name, col.name, col.name_len)))
            j++;
        if (j == d->change.n_columns) {
            d->change.n_columns++;
            m->n_cols++;
        }
        cols[j] = col;
        m->text_off[d->col0 + j] = toff;
    }
    return EVOLU_OK;
}

/* Decodes the batch into db->mem; on success every change's columns point
 * into it. *bad = the message at fault. */
static evolu_err decode_batch(evolu_client_db *db, const evolu_owner *owner,
                              const evolu_client_message *msgs, size_t n, size_t *bad) {
    cdb_batch_mem *m = &db->mem;
    m->n_cols = 0;
    m->text_len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].change_len > SIZE_MAX - total) return EVOLU_E_NOMEM;
        total += msgs[i].change_len;
    }
    GROW(m->plain, m->plain_cap, total ? total : 1);
    GROW(m->d, m->d_cap, n);
    GROW(m->added, m->added_cap, n);
    if (n > SIZE_MAX / EVOLU_TIMESTAMP_BYTES) return EVOLU_E_NOMEM;
    GROW(m->ts, m->ts_cap, n * EVOLU_TIMESTAMP_BYTES);
    evolu_err e = EVOLU_OK;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        *bad = i;
        e = decode_one(db->port, owner->encryption_key, &msgs[i], m->plain + off, m, &m->d[i]);
        off += msgs[i].change_len;
        if (e) break;
    }
    if (e) {
        db->port->memzero(db->port->ctx, m->plain, off);
        return e;
    }
    for (size_t k = 0; k < m->n_cols; k++)
        if (m->text_off[k] != NO_TEXT) m->cols[k].value.data = m->text + m->text_off[k];
    for (size_t i = 0; i < n; i++)
        m->d[i].change.columns = m->d[i].change.n_columns ? m->cols + m->d[i].col0 : NULL;
    return EVOLU_OK;
}

evolu_err evolu_client_db_apply(evolu_client_db *db, const evolu_owner *owner,
                                const evolu_client_message *messages, size_t n,
                                evolu_client_db_failure *failure) {
    if (failure) memset(failure, 0, sizeof *failure);
    if (!db || !owner || (n && !messages)) return EVOLU_E_ARG;
    if (!n) return EVOLU_OK;
    /* 1. Decrypt and parse everything first: one bad message refuses the batch. */
    size_t i = 0;
    evolu_err e = decode_batch(db, owner, messages, n, &i);
    bool decoded = e == EVOLU_OK;
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
        if (e != EVOLU_OK) {
            i--;
            if (failure) failure->drift = drift;
        }
    }
    if (e != EVOLU_OK && failure) failure->index = i;
    /* 3. One transaction. */
    if (e == EVOLU_OK) {
        size_t lo = 0, hi = 0;
        e = cdb_exec(db, "begin immediate");
        bool began = e == EVOLU_OK;
        if (began) cdb_lww_begin(db);
        bool keys = began && (e = sidx_keys_begin(db->idx, owner->id)) == EVOLU_OK;
        /* the set first (a chunk of stamps per statement), then the cells
         * of the changes whose stamp was new, in batch order */
        size_t bad = 0;
        if (e == EVOLU_OK)
            e = cdb_record_stamps(db, owner->id, messages, n, db->mem.ts, db->mem.added, &bad);
        for (i = 0; e == EVOLU_OK && i < n; i++) {
            bad = i;
            if (db->mem.added[i])
                e = cdb_apply_cells(db, owner->id, &messages[i].timestamp,
                                    db->mem.ts + i * EVOLU_TIMESTAMP_BYTES, &db->mem.d[i].change);
            if (evolu_timestamp_cmp(&messages[i].timestamp, &messages[lo].timestamp) < 0) lo = i;
            if (evolu_timestamp_cmp(&messages[i].timestamp, &messages[hi].timestamp) > 0) hi = i;
        }
        if (e == EVOLU_OK) e = cdb_history_flush(db);
        if (e == EVOLU_OK) e = cdb_rows_flush(db);
        if (e != EVOLU_OK && failure) failure->index = bad;
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
        cdb_lww_end(db, e == EVOLU_OK);
        if (e == EVOLU_OK) db->clock = clock;
    }
    /* the plaintexts (decode_batch wiped them already on its own failure) */
    if (decoded) {
        size_t used = 0;
        for (size_t k = 0; k < n; k++) used += messages[k].change_len;
        db->port->memzero(db->port->ctx, db->mem.plain, used);
    }
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
    cdb_batch_mem *mem = &db->mem;
    GROW(mem->msgs, mem->msgs_cap, (size_t)r.n_messages);
    evolu_client_message *m = mem->msgs;
    size_t k = 0;
    while (k < r.n_messages &&
           (e = evolu_msg_reader_next_message(&r, &m[k].timestamp, &m[k].change,
                                              &m[k].change_len)) == EVOLU_OK)
        k++;
    if (e == EVOLU_OK || e == EVOLU_E_DONE) e = evolu_client_db_apply(db, owner, m, k, failure);
    return e;
}
