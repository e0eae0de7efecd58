/*
 * client_store.c - the RBSR store over a client database's set (see
 * client_store.h).
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "client_store.h"
#include "evolu/mem_index.h"

struct evolu_cstore {
    evolu_client_db *db;
    const evolu_owner *owner;
    evolu_mem_index *mirror;
    evolu_store mstore; /* the mirror's own table */
    evolu_store store;  /* the one handed to the engine */
    evolu_err failed;
    evolu_client_db_failure failure;
};

static evolu_err c_size(void *ctx, uint64_t *out) {
    evolu_cstore *c = ctx;
    return c->mstore.size(c->mstore.ctx, out);
}
static evolu_err c_fp(void *ctx, uint64_t b, uint64_t e, uint8_t out[EVOLU_FINGERPRINT_BYTES]) {
    evolu_cstore *c = ctx;
    return c->mstore.fingerprint(c->mstore.ctx, b, e, out);
}
static evolu_err c_flb(void *ctx, uint64_t b, uint64_t e, const uint8_t *bound, uint64_t *out) {
    evolu_cstore *c = ctx;
    return c->mstore.find_lower_bound(c->mstore.ctx, b, e, bound, out);
}
static evolu_err c_iter(void *ctx, uint64_t b, uint64_t e, evolu_store_visit_fn v, void *vctx) {
    evolu_cstore *c = ctx;
    return c->mstore.iterate(c->mstore.ctx, b, e, v, vctx);
}
static evolu_err c_read(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                        const evolu_store_arena *arena, const uint8_t **ch, size_t *n) {
    evolu_cstore *c = ctx;
    return c->mstore.read_change(c->mstore.ctx, ts, arena, ch, n);
}

static evolu_err c_write(void *ctx, const evolu_store_batch *batch) {
    evolu_cstore *c = ctx;
    size_t n = (size_t)batch->count;
    evolu_client_message *m = calloc(n ? n : 1, sizeof *m);
    if (!m) return EVOLU_E_NOMEM;
    batch->rewind(batch->ctx);
    size_t k = 0;
    evolu_err e = EVOLU_OK;
    while (k < n) {
        e = batch->next(batch->ctx, &m[k].timestamp, &m[k].change, &m[k].change_len);
        if (e) break;
        k++;
    }
    if (e == EVOLU_E_DONE) e = EVOLU_OK;
    evolu_client_db_failure f = {0};
    if (!e) e = evolu_client_db_apply(c->db, c->owner, m, k, &f);
    if (e && !c->failed) {
        c->failed = e;
        c->failure = f;
    }
    for (size_t i = 0; !e && i < k; i++)
        e = evolu_mem_index_insert(c->mirror, &m[i].timestamp, m[i].change, m[i].change_len,
                                   NULL);
    free(m);
    return e;
}

/* Inserts the owner's evolu_message rows with timestamp > since (all if NULL). */
static evolu_err load(evolu_cstore *c, const evolu_timestamp *since) {
    uint8_t tb[EVOLU_TIMESTAMP_BYTES] = {0};
    if (since) evolu_timestamp_to_bytes(since, tb);
    sqlite3 *q = evolu_client_db_sqlite(c->db);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q,
                           "select timestamp, change from evolu_message where ownerId = ?1"
                           " and timestamp > ?2 order by timestamp",
                           -1, &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    sqlite3_bind_blob(st, 1, c->owner->id, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, tb, since ? EVOLU_TIMESTAMP_BYTES : 0, SQLITE_STATIC);
    evolu_err e = EVOLU_OK;
    int rc;
    while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *t = sqlite3_column_blob(st, 0);
        const uint8_t *ch = sqlite3_column_blob(st, 1);
        int chn = sqlite3_column_bytes(st, 1);
        evolu_timestamp ts;
        if (!t || sqlite3_column_bytes(st, 0) != EVOLU_TIMESTAMP_BYTES || !ch || chn < 0 ||
            evolu_timestamp_from_bytes(t, &ts)) {
            e = EVOLU_E_STORAGE;
            break;
        }
        e = evolu_mem_index_insert(c->mirror, &ts, ch, (size_t)chn, NULL);
    }
    if (!e && rc != SQLITE_DONE) e = EVOLU_E_STORAGE;
    sqlite3_finalize(st);
    return e;
}

evolu_err evolu_cstore_open(evolu_client_db *db, const evolu_port *port,
                            const evolu_owner *owner, evolu_cstore **out) {
    if (!db || !port || !owner || !out) return EVOLU_E_ARG;
    evolu_cstore *c = calloc(1, sizeof *c);
    if (!c) return EVOLU_E_NOMEM;
    c->db = db;
    c->owner = owner;
    evolu_err e = evolu_mem_index_create(port, &c->mirror);
    if (!e) {
        evolu_mem_index_store(c->mirror, &c->mstore);
        e = load(c, NULL);
    }
    if (e) {
        evolu_cstore_close(c);
        return e;
    }
    c->store.ctx = c;
    c->store.size = c_size;
    c->store.fingerprint = c_fp;
    c->store.find_lower_bound = c_flb;
    c->store.iterate = c_iter;
    c->store.read_change = c_read;
    c->store.write_messages = c_write;
    *out = c;
    return EVOLU_OK;
}

void evolu_cstore_close(evolu_cstore *c) {
    if (!c) return;
    evolu_mem_index_destroy(c->mirror);
    free(c);
}

const evolu_store *evolu_cstore_store(evolu_cstore *c) { return &c->store; }

evolu_err evolu_cstore_note_local(evolu_cstore *c, const evolu_timestamp *since) {
    return load(c, since);
}

evolu_err evolu_cstore_last_failure(const evolu_cstore *c, evolu_client_db_failure *f) {
    if (f) *f = c->failure;
    return c->failed;
}
