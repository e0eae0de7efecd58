/* protocol_builder.c - builds a protocol message from descriptors kept in
 * caller arrays and emits it in the assembly order of spec 4.8 in one
 * sequential walk. The size accountant (protocol_size.c) is updated on every
 * add, so the decisions match the TypeScript builder exactly. */
#include <string.h>

#include "evolu/protocol.h"

void evolu_msg_builder_init(evolu_msg_builder *b, evolu_msg_entry *msgs, size_t msgs_cap,
                            evolu_range_entry *ranges, size_t ranges_cap, uint8_t *arena,
                            size_t arena_cap) {
    memset(b, 0, sizeof *b);
    b->msgs = msgs;
    b->msgs_cap = msgs ? msgs_cap : 0;
    b->ranges = ranges;
    b->ranges_cap = ranges ? ranges_cap : 0;
    b->arena = arena;
    b->arena_cap = arena ? arena_cap : 0;
}

evolu_err evolu_msg_builder_begin(evolu_msg_builder *b, const evolu_header *h,
                                  size_t total_max, size_t ranges_max) {
    b->begun = false;
    size_t header_len = evolu_header_len(h);
    if (header_len == 0) return EVOLU_E_ARG;
    evolu_err e = evolu_msg_size_init(&b->size, header_len, total_max, ranges_max);
    if (e) return e;
    b->header = *h;
    b->n_msgs = 0;
    b->n_ranges = 0;
    b->arena_used = 0;
    b->last_infinite = false;
    b->external = false;
    b->begun = true;
    return EVOLU_OK;
}

evolu_err evolu_msg_builder_alloc(evolu_msg_builder *b, size_t n, uint8_t **out) {
    if (n > b->arena_cap - b->arena_used) return EVOLU_E_CAPACITY;
    *out = b->arena + b->arena_used;
    b->arena_used += n;
    return EVOLU_OK;
}

void evolu_msg_builder_unalloc(evolu_msg_builder *b, size_t n) {
    if (n <= b->arena_used) b->arena_used -= n;
}

bool evolu_msg_builder_can_add_message(const evolu_msg_builder *b, size_t change_len) {
    return b->begun && evolu_msg_size_can_add_message(&b->size, change_len);
}

bool evolu_msg_builder_can_split_range(const evolu_msg_builder *b) {
    return b->begun && evolu_msg_size_can_split_range(&b->size);
}

bool evolu_msg_builder_can_add_timestamps_range_and_message(const evolu_msg_builder *b,
                                                            uint64_t timestamps_len,
                                                            bool has_message,
                                                            size_t change_len) {
    return b->begun && evolu_msg_size_can_add_timestamps_range_and_message(
                           &b->size, timestamps_len, has_message, change_len);
}

uint64_t evolu_msg_builder_size(const evolu_msg_builder *b) {
    return b->begun ? evolu_msg_size_total(&b->size) : 0;
}

evolu_err evolu_msg_builder_add_message(evolu_msg_builder *b, const evolu_timestamp *ts,
                                        const uint8_t *change, size_t change_len) {
    if (!b->begun) return EVOLU_E_STATE;
    if (!change && change_len) return EVOLU_E_ARG;
    if (b->external) return EVOLU_E_STATE;
    if (b->n_msgs >= b->msgs_cap) return EVOLU_E_CAPACITY;
    evolu_err e = evolu_msg_size_add_message(&b->size, ts, change_len);
    if (e) return e;
    evolu_msg_entry *m = &b->msgs[b->n_msgs++];
    m->timestamp = *ts;
    m->change = change;
    m->change_len = change_len;
    return EVOLU_OK;
}

static evolu_err array_get(void *ctx, size_t i, evolu_timestamp *out) {
    *out = ((const evolu_timestamp *)ctx)[i];
    return EVOLU_OK;
}

/* Writes a Timestamps range's list; with a cap-0 writer, measures it. */
static evolu_err put_range_timestamps(evolu_writer *w, const evolu_range_entry *r) {
    if (r->get) return evolu_tslist_encode_fn(w, r->get, r->get_ctx, r->n_timestamps);
    if (!r->timestamps && r->n_timestamps) return EVOLU_E_ARG;
    /* The array is only read: the callback context is not const for the
     * general case, so pass it through a union rather than casting. */
    union {
        const evolu_timestamp *c;
        void *v;
    } ctx;
    ctx.c = r->timestamps;
    return evolu_tslist_encode_fn(w, array_get, ctx.v, r->n_timestamps);
}

evolu_err evolu_msg_builder_add_range(evolu_msg_builder *b, const evolu_range_entry *range) {
    if (!b->begun || b->header.type == EVOLU_MESSAGE_BROADCAST) return EVOLU_E_STATE;
    if (b->last_infinite) return EVOLU_E_RANGES;
    if (range->type > EVOLU_RANGE_TIMESTAMPS) return EVOLU_E_RANGE_TYPE;
    if (b->n_ranges >= b->ranges_cap) return EVOLU_E_CAPACITY;

    uint64_t payload_len = 0;
    if (range->type == EVOLU_RANGE_FINGERPRINT) {
        payload_len = EVOLU_FINGERPRINT_BYTES;
    } else if (range->type == EVOLU_RANGE_TIMESTAMPS) {
        evolu_writer measure = evolu_writer_make(NULL, 0);
        evolu_err e = put_range_timestamps(&measure, range);
        if (e && e != EVOLU_E_BUFFER) return e;
        payload_len = measure.len;
    }
    evolu_err e = evolu_msg_size_add_range(&b->size, range->type,
                                           range->infinite ? NULL : &range->upper, payload_len);
    if (e) return e;
    evolu_range_entry *r = &b->ranges[b->n_ranges++];
    *r = *range;
    r->payload_len = payload_len;
    b->last_infinite = range->infinite;
    return EVOLU_OK;
}

static evolu_range_entry range_entry(uint8_t type, const evolu_timestamp *upper) {
    evolu_range_entry r;
    memset(&r, 0, sizeof r);
    r.type = type;
    r.infinite = upper == NULL;
    if (upper) r.upper = *upper;
    return r;
}

evolu_err evolu_msg_builder_add_skip(evolu_msg_builder *b, const evolu_timestamp *upper) {
    evolu_range_entry r = range_entry(EVOLU_RANGE_SKIP, upper);
    return evolu_msg_builder_add_range(b, &r);
}

evolu_err evolu_msg_builder_add_fingerprint(evolu_msg_builder *b, const evolu_timestamp *upper,
                                            const uint8_t fp[EVOLU_FINGERPRINT_BYTES]) {
    evolu_range_entry r = range_entry(EVOLU_RANGE_FINGERPRINT, upper);
    memcpy(r.fingerprint, fp, EVOLU_FINGERPRINT_BYTES);
    return evolu_msg_builder_add_range(b, &r);
}

evolu_err evolu_msg_builder_add_timestamps(evolu_msg_builder *b, const evolu_timestamp *upper,
                                           const evolu_timestamp *ts, size_t n) {
    evolu_range_entry r = range_entry(EVOLU_RANGE_TIMESTAMPS, upper);
    r.timestamps = ts;
    r.n_timestamps = n;
    return evolu_msg_builder_add_range(b, &r);
}

/* --- emission ------------------------------------------------------------------ */

typedef struct emit_ctx {
    const evolu_msg_builder *b;
} emit_ctx;

static evolu_err message_ts(void *ctx, size_t i, evolu_timestamp *out) {
    *out = ((const emit_ctx *)ctx)->b->msgs[i].timestamp;
    return EVOLU_OK;
}

static evolu_err bound_ts(void *ctx, size_t i, evolu_timestamp *out) {
    *out = ((const emit_ctx *)ctx)->b->ranges[i].upper;
    return EVOLU_OK;
}

/* A non-buffer error from an encoder is a bug in what was added; a buffer
 * error is already recorded in w and emission continues to count the size. */
#define EMIT_CHECK(expr)                                                                   \
    do {                                                                                   \
        evolu_err e_ = (expr);                                                             \
        if (e_ && e_ != EVOLU_E_BUFFER) return e_;                                         \
    } while (0)

evolu_err evolu_msg_builder_emit(const evolu_msg_builder *b, evolu_writer *w) {
    if (!b->begun) return EVOLU_E_STATE;
    /* The ranges cover the whole universe: the last bound must be infinite. */
    if (b->n_ranges > 0 && !b->last_infinite) return EVOLU_E_RANGES;
    /* Counted or _ref messages have their bytes only at emit_sink time. */
    if (b->external) return EVOLU_E_ARG;
    for (size_t i = 0; i < b->n_msgs; i++)
        if (!b->msgs[i].change && b->msgs[i].change_len) return EVOLU_E_ARG;
    emit_ctx ctx = {b};

    EMIT_CHECK(evolu_header_encode(w, &b->header));
    EMIT_CHECK(evolu_tslist_encode_fn(w, message_ts, &ctx, b->n_msgs));
    for (size_t i = 0; i < b->n_msgs; i++)
        evolu_put_lenbytes(w, b->msgs[i].change, b->msgs[i].change_len);

    if (b->n_ranges > 0) {
        /* count = R (the infinite bound included), body = the R-1 finite bounds */
        evolu_put_varint(w, b->n_ranges);
        EMIT_CHECK(evolu_tslist_encode_body_fn(w, bound_ts, &ctx, b->n_ranges - 1));
        for (size_t i = 0; i < b->n_ranges; i++) evolu_put_varint(w, b->ranges[i].type);
        for (size_t i = 0; i < b->n_ranges; i++) {
            const evolu_range_entry *r = &b->ranges[i];
            if (r->type == EVOLU_RANGE_FINGERPRINT)
                evolu_put_bytes(w, r->fingerprint, EVOLU_FINGERPRINT_BYTES);
            else if (r->type == EVOLU_RANGE_TIMESTAMPS)
                EMIT_CHECK(put_range_timestamps(w, r));
        }
    }
    return w->err;
}
