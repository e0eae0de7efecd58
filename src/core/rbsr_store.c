/* rbsr_store.c - small helpers over the store table (evolu/store.h). */
#include <string.h>

#include "evolu/store.h"

static void array_rewind(void *ctx) { ((evolu_store_array_batch *)ctx)->pos = 0; }

static evolu_err array_next(void *ctx, evolu_timestamp *ts, const uint8_t **change,
                            size_t *change_len) {
    evolu_store_array_batch *a = ctx;
    if (a->pos >= a->n) return EVOLU_E_DONE;
    *ts = a->ts[a->pos];
    *change = a->changes[a->pos];
    *change_len = a->lens[a->pos];
    a->pos++;
    return EVOLU_OK;
}

void evolu_store_batch_from_array(evolu_store_batch *batch, evolu_store_array_batch *a,
                                  const evolu_timestamp *ts, const uint8_t *const *changes,
                                  const size_t *lens, size_t n) {
    a->ts = ts;
    a->changes = changes;
    a->lens = lens;
    a->n = n;
    a->pos = 0;
    batch->ctx = a;
    batch->count = n;
    batch->rewind = array_rewind;
    batch->next = array_next;
}

typedef struct at_ctx {
    uint8_t *out;
    bool found;
} at_ctx;

static bool at_visit(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES], uint64_t index) {
    (void)index;
    at_ctx *c = ctx;
    memcpy(c->out, ts, EVOLU_TIMESTAMP_BYTES);
    c->found = true;
    return false;
}

evolu_err evolu_store_timestamp_at(const evolu_store *s, uint64_t i,
                                   uint8_t out[EVOLU_TIMESTAMP_BYTES]) {
    if (i == UINT64_MAX) return EVOLU_E_ARG;
    at_ctx c = {out, false};
    evolu_err e = s->iterate(s->ctx, i, i + 1, at_visit, &c);
    if (e) return e;
    return c.found ? EVOLU_OK : EVOLU_E_ARG;
}
