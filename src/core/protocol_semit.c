/* protocol_semit.c - evolu_msg_builder_emit to a sink: the same sequential walk
 * in the wire order of spec 4.8, through an evolu_swriter, so a message of any
 * size leaves the device piece by piece through a buffer of the caller's
 * choosing. The timestamp lists are encoded here in the three passes of
 * tslist.c (deltas, counter runs, nodeId runs), each item through the
 * swriter; changes are copied from memory or produced by the caller. */
#include <string.h>

#include "evolu/protocol.h"

evolu_err evolu_msg_builder_add_message_ref(evolu_msg_builder *b, const evolu_timestamp *ts,
                                            size_t change_len) {
    if (!b->begun || b->external) return EVOLU_E_STATE;
    if (b->n_msgs >= b->msgs_cap) return EVOLU_E_CAPACITY;
    evolu_err e = evolu_msg_size_add_message(&b->size, ts, change_len);
    if (e) return e;
    evolu_msg_entry *m = &b->msgs[b->n_msgs++];
    m->timestamp = *ts;
    m->change = NULL;
    m->change_len = change_len;
    return EVOLU_OK;
}

evolu_err evolu_msg_builder_count_message(evolu_msg_builder *b, const evolu_timestamp *ts,
                                          size_t change_len) {
    if (!b->begun || (b->n_msgs > 0 && !b->external)) return EVOLU_E_STATE;
    evolu_err e = evolu_msg_size_add_message(&b->size, ts, change_len);
    if (e) return e;
    b->n_msgs++;
    b->external = true;
    return EVOLU_OK;
}

typedef evolu_err (*get_fn)(const void *ctx, size_t i, evolu_timestamp *out);

/* tslist.c's encode_body through the swriter. */
static evolu_err put_list_body(evolu_swriter *w, get_fn get, const void *ctx, size_t n) {
    evolu_timestamp t;
    evolu_err e;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if ((e = get(ctx, i, &t)) != EVOLU_OK) return e;
        if (t.millis > EVOLU_MAX_MILLIS) return EVOLU_E_MILLIS;
        if (t.millis < prev) return EVOLU_E_ORDER;
        evolu_swriter_varint(w, t.millis - prev);
        prev = t.millis;
    }
    uint16_t counter = 0;
    uint64_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if ((e = get(ctx, i, &t)) != EVOLU_OK) return e;
        if (run > 0 && t.counter == counter) {
            run++;
            continue;
        }
        if (run > 0) {
            evolu_swriter_varint(w, counter);
            evolu_swriter_varint(w, run);
        }
        counter = t.counter;
        run = 1;
    }
    if (run > 0) {
        evolu_swriter_varint(w, counter);
        evolu_swriter_varint(w, run);
    }
    uint8_t node[EVOLU_NODE_ID_BYTES];
    run = 0;
    for (size_t i = 0; i < n; i++) {
        if ((e = get(ctx, i, &t)) != EVOLU_OK) return e;
        if (run > 0 && memcmp(t.node_id, node, sizeof node) == 0) {
            run++;
            continue;
        }
        if (run > 0) {
            evolu_swriter_bytes(w, node, sizeof node);
            evolu_swriter_varint(w, run);
        }
        memcpy(node, t.node_id, sizeof node);
        run = 1;
    }
    if (run > 0) {
        evolu_swriter_bytes(w, node, sizeof node);
        evolu_swriter_varint(w, run);
    }
    return EVOLU_OK;
}

/* Where the messages come from: the descriptors, or the caller's entry(). */
typedef struct msg_src {
    const evolu_msg_builder *b;
    evolu_msg_entry_fn entry;
    void *ctx;
} msg_src;

static evolu_err message_at(const msg_src *m, size_t i, evolu_msg_entry *out) {
    if (!m->b->external) {
        *out = m->b->msgs[i];
        return EVOLU_OK;
    }
    if (!m->entry) return EVOLU_E_ARG;
    return m->entry(m->ctx, i, out);
}

static evolu_err message_ts(const void *ctx, size_t i, evolu_timestamp *out) {
    evolu_msg_entry m;
    evolu_err e = message_at(ctx, i, &m);
    if (!e) *out = m.timestamp;
    return e;
}

static evolu_err bound_ts(const void *ctx, size_t i, evolu_timestamp *out) {
    *out = ((const evolu_msg_builder *)ctx)->ranges[i].upper;
    return EVOLU_OK;
}

static evolu_err range_ts(const void *ctx, size_t i, evolu_timestamp *out) {
    const evolu_range_entry *r = ctx;
    if (r->get) return r->get(r->get_ctx, i, out);
    *out = r->timestamps[i];
    return EVOLU_OK;
}

static evolu_err fail(evolu_swriter *w, evolu_err e) {
    evolu_swriter_fail(w, e);
    return w->err;
}

evolu_err evolu_msg_builder_emit_sink_ext(const evolu_msg_builder *b, evolu_swriter *w,
                                          evolu_msg_entry_fn entry, evolu_msg_change_fn change,
                                          void *ctx) {
    if (!b->begun) return EVOLU_E_STATE;
    if (b->n_ranges > 0 && !b->last_infinite) return EVOLU_E_RANGES;
    evolu_err e;
    msg_src ms = {b, entry, ctx};

    uint8_t head[EVOLU_HEADER_MAX_BYTES];
    evolu_writer hw = evolu_writer_make(head, sizeof head);
    if ((e = evolu_header_encode(&hw, &b->header)) != EVOLU_OK) return fail(w, e);
    evolu_swriter_bytes(w, head, hw.len);

    /* What is written is measured against the plan (the accountant). */
    uint64_t start = w->total;
    evolu_swriter_varint(w, b->n_msgs);
    if ((e = put_list_body(w, message_ts, &ms, b->n_msgs)) != EVOLU_OK) return fail(w, e);
    if (w->total - start != evolu_tslist_size_len(&b->size.msgs_ts)) return fail(w, EVOLU_E_STATE);
    start = w->total;
    for (size_t i = 0; i < b->n_msgs; i++) {
        evolu_msg_entry m;
        if ((e = message_at(&ms, i, &m)) != EVOLU_OK) return fail(w, e);
        evolu_swriter_varint(w, m.change_len);
        if (m.change || m.change_len == 0) {
            evolu_swriter_bytes(w, m.change, m.change_len);
            continue;
        }
        if (!change) return fail(w, EVOLU_E_ARG);
        uint64_t before = w->total;
        if ((e = change(ctx, i, &m, w)) != EVOLU_OK) return fail(w, e);
        if (w->total - before != m.change_len) return fail(w, EVOLU_E_STATE);
    }
    if (w->total - start != b->size.changes) return fail(w, EVOLU_E_STATE);

    if (b->n_ranges > 0) {
        evolu_swriter_varint(w, b->n_ranges);
        if ((e = put_list_body(w, bound_ts, b, b->n_ranges - 1)) != EVOLU_OK) return fail(w, e);
        for (size_t i = 0; i < b->n_ranges; i++) evolu_swriter_varint(w, b->ranges[i].type);
        for (size_t i = 0; i < b->n_ranges; i++) {
            const evolu_range_entry *r = &b->ranges[i];
            if (r->type == EVOLU_RANGE_FINGERPRINT) {
                evolu_swriter_bytes(w, r->fingerprint, EVOLU_FINGERPRINT_BYTES);
            } else if (r->type == EVOLU_RANGE_TIMESTAMPS) {
                if (!r->get && !r->timestamps && r->n_timestamps) return fail(w, EVOLU_E_ARG);
                evolu_swriter_varint(w, r->n_timestamps);
                if ((e = put_list_body(w, range_ts, r, r->n_timestamps)) != EVOLU_OK)
                    return fail(w, e);
            }
        }
    }
    return evolu_swriter_flush(w);
}

evolu_err evolu_msg_builder_emit_sink(const evolu_msg_builder *b, evolu_swriter *w,
                                      evolu_msg_change_fn change, void *ctx) {
    return evolu_msg_builder_emit_sink_ext(b, w, NULL, change, ctx);
}
