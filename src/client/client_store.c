/*
 * client_store.c - the RBSR store over a client database's set (see
 * client_store.h).
 */
#include <stdlib.h>
#include <string.h>

#include "client_store.h"

struct evolu_cstore {
    evolu_store inner; /* evolu_client_db_store */
    evolu_store store; /* the one handed to the engine */
    evolu_err failed;
};

static evolu_err c_size(void *ctx, uint64_t *out) {
    evolu_cstore *c = ctx;
    return c->inner.size(c->inner.ctx, out);
}
static evolu_err c_fp(void *ctx, uint64_t b, uint64_t e, uint8_t out[EVOLU_FINGERPRINT_BYTES]) {
    evolu_cstore *c = ctx;
    return c->inner.fingerprint(c->inner.ctx, b, e, out);
}
static evolu_err c_flb(void *ctx, uint64_t b, uint64_t e, const uint8_t *bound, uint64_t *out) {
    evolu_cstore *c = ctx;
    return c->inner.find_lower_bound(c->inner.ctx, b, e, bound, out);
}
static evolu_err c_iter(void *ctx, uint64_t b, uint64_t e, evolu_store_visit_fn v, void *vctx) {
    evolu_cstore *c = ctx;
    return c->inner.iterate(c->inner.ctx, b, e, v, vctx);
}
static evolu_err c_read(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                        const evolu_store_arena *arena, const uint8_t **ch, size_t *n) {
    evolu_cstore *c = ctx;
    return c->inner.read_change(c->inner.ctx, ts, arena, ch, n);
}
static evolu_err c_write(void *ctx, const evolu_store_batch *batch) {
    evolu_cstore *c = ctx;
    evolu_err e = c->inner.write_messages(c->inner.ctx, batch);
    if (e && !c->failed) c->failed = e;
    return e;
}

evolu_err evolu_cstore_open(evolu_client_db *db, const evolu_port *port,
                            const evolu_owner *owner, evolu_cstore **out) {
    if (!db || !port || !owner || !out) return EVOLU_E_ARG;
    evolu_cstore *c = calloc(1, sizeof *c);
    if (!c) return EVOLU_E_NOMEM;
    evolu_err e = evolu_client_db_store(db, owner, &c->inner);
    if (e) {
        free(c);
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

void evolu_cstore_close(evolu_cstore *c) { free(c); }

const evolu_store *evolu_cstore_store(evolu_cstore *c) { return &c->store; }

evolu_err evolu_cstore_note_local(evolu_cstore *c, const evolu_timestamp *since) {
    (void)c;
    (void)since;
    return EVOLU_OK;
}

evolu_err evolu_cstore_last_failure(const evolu_cstore *c, evolu_client_db_failure *f) {
    if (f) memset(f, 0, sizeof *f);
    return c->failed;
}
