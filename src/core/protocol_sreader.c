/* protocol_sreader.c - the validating protocol message reader over an
 * evolu_source: the checks of protocol_reader.c and tslist.c, in the same
 * order with the same errors, through forward cursors whose caches are slices
 * of one caller window (see evolu/protocol.h, "streaming"). */
#include <string.h>

#include "evolu/protocol.h"

/* Smallest encoding of the runs of a non-empty list (as tslist.c). */
#define MIN_RUNS_BYTES (2u + EVOLU_NODE_ID_BYTES + 1u)

enum { SL_IN = 0, SL_TYPES_WALK = 1, SL_RANGE_TS = 0, SL_MSG_TS = 3, SL_CHANGES = 6,
       SL_BOUNDS = 7, SL_TYPES = 10, SL_PAYLOADS = 11 };

static uint8_t *slice(const evolu_msg_sreader *r, unsigned i) { return r->window + i * r->slice; }

/* --- timestamp lists ------------------------------------------------------------ */

/* tslist.c's check_runs over a cursor. */
static evolu_err check_runs(evolu_scur *c, uint64_t n, bool counters) {
    uint64_t left = n, v;
    evolu_err e;
    while (left > 0) {
        if (counters) {
            if ((e = evolu_scur_varint(c, &v)) != EVOLU_OK) return e;
            if (v > EVOLU_MAX_COUNTER) return EVOLU_E_COUNTER;
        } else if ((e = evolu_scur_skip(c, EVOLU_NODE_ID_BYTES)) != EVOLU_OK) {
            return e;
        }
        if ((e = evolu_scur_varint(c, &v)) != EVOLU_OK) return e;
        if (v == 0 || v > left) return EVOLU_E_RUN_LENGTH;
        left -= v;
    }
    return EVOLU_OK;
}

/* evolu_tslist_open_body over a cursor: validates `count` items and records
 * where the three sections start in lr (cursors not attached yet). On
 * failure the cursor's position is unspecified (the caller gives up). */
static evolu_err stslist_check(evolu_stslist *lr, evolu_scur *c, uint64_t count) {
    uint64_t left = evolu_scur_left(c);
    evolu_err e;
    if (count > 0 && (count > left || left - count < MIN_RUNS_BYTES)) return EVOLU_E_TRUNCATED;
    uint64_t m0 = c->pos, millis = 0, delta;
    for (uint64_t i = 0; i < count; i++) {
        if ((e = evolu_scur_varint(c, &delta)) != EVOLU_OK) return e;
        millis += delta;
        if (millis > EVOLU_MAX_MILLIS) return EVOLU_E_MILLIS;
    }
    uint64_t c0 = c->pos;
    if ((e = check_runs(c, count, true)) != EVOLU_OK) return e;
    uint64_t n0 = c->pos;
    if ((e = check_runs(c, count, false)) != EVOLU_OK) return e;
    memset(lr, 0, sizeof *lr);
    lr->m0 = m0;
    lr->c0 = c0;
    lr->n0 = n0;
    lr->nodes.end = c->pos; /* remembered until attach */
    lr->count = count;
    return EVOLU_OK;
}

static evolu_err stslist_check_counted(evolu_stslist *lr, evolu_scur *c) {
    uint64_t count, start = c->pos;
    evolu_err e = evolu_scur_varint(c, &count);
    if (e) return e;
    if ((e = stslist_check(lr, c, count)) != EVOLU_OK) c->pos = start;
    return e;
}

/* Gives a checked list its three cursors, each over its own section. */
static evolu_err stslist_attach(evolu_stslist *lr, const evolu_source *src, uint8_t *bufs,
                                size_t slice_len) {
    uint64_t end = lr->nodes.end;
    evolu_err e = evolu_scur_init(&lr->millis, src, lr->m0, lr->c0, bufs, slice_len);
    if (!e) e = evolu_scur_init(&lr->counters, src, lr->c0, lr->n0, bufs + slice_len, slice_len);
    if (!e) e = evolu_scur_init(&lr->nodes, src, lr->n0, end, bufs + 2 * slice_len, slice_len);
    return e;
}

void evolu_stslist_rewind(evolu_stslist *lr) {
    lr->millis.pos = lr->m0;
    lr->counters.pos = lr->c0;
    lr->nodes.pos = lr->n0;
    lr->index = 0;
    lr->prev_millis = 0;
    lr->counter_left = 0;
    lr->node_left = 0;
}

/* A validated list can still fail here if the source fails or changed since
 * validation: a source error is passed through, different bytes are
 * EVOLU_E_INVALID (never an out-of-range value). */
static evolu_err bad(evolu_err e) {
    return (e >= EVOLU_E_TRUNCATED && e < EVOLU_E_VERSION) ? EVOLU_E_INVALID : e;
}

evolu_err evolu_stslist_next(evolu_stslist *lr, evolu_timestamp *out) {
    if (lr->index >= lr->count) return EVOLU_E_DONE;
    uint64_t v;
    evolu_err e;
    if ((e = evolu_scur_varint(&lr->millis, &v)) != EVOLU_OK) return bad(e);
    uint64_t millis = lr->prev_millis + v;
    if (millis > EVOLU_MAX_MILLIS) return EVOLU_E_INVALID;
    if (lr->counter_left == 0) {
        if ((e = evolu_scur_varint(&lr->counters, &v)) != EVOLU_OK) return bad(e);
        if (v > EVOLU_MAX_COUNTER) return EVOLU_E_INVALID;
        lr->counter = (uint16_t)v;
        if ((e = evolu_scur_varint(&lr->counters, &lr->counter_left)) != EVOLU_OK) return bad(e);
        if (lr->counter_left == 0) return EVOLU_E_INVALID;
    }
    if (lr->node_left == 0) {
        if ((e = evolu_scur_bytes(&lr->nodes, lr->node_id, EVOLU_NODE_ID_BYTES)) != EVOLU_OK ||
            (e = evolu_scur_varint(&lr->nodes, &lr->node_left)) != EVOLU_OK)
            return bad(e);
        if (lr->node_left == 0) return EVOLU_E_INVALID;
    }
    lr->prev_millis = millis;
    lr->counter_left--;
    lr->node_left--;
    lr->index++;
    out->millis = millis;
    out->counter = lr->counter;
    memcpy(out->node_id, lr->node_id, EVOLU_NODE_ID_BYTES);
    return EVOLU_OK;
}

/* --- the message ------------------------------------------------------------------ */

static evolu_err open_ranges(evolu_msg_sreader *r, evolu_scur *in) {
    if (evolu_scur_left(in) == 0) return EVOLU_OK;
    uint64_t count;
    evolu_err e = evolu_scur_varint(in, &count);
    if (e) return e;
    if (count == 0) return EVOLU_OK;
    if (count > evolu_scur_left(in)) return EVOLU_E_TRUNCATED;

    if ((e = stslist_check(&r->bounds, in, count - 1)) != EVOLU_OK) return e;

    uint64_t types_start = in->pos;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t type;
        if ((e = evolu_scur_varint(in, &type)) != EVOLU_OK) return e;
        if (type > EVOLU_RANGE_TIMESTAMPS) return EVOLU_E_RANGE_TYPE;
    }

    uint64_t payloads_start = in->pos;
    evolu_scur types;
    if ((e = evolu_scur_init(&types, r->src, types_start, payloads_start,
                             slice(r, SL_TYPES_WALK), r->slice)) != EVOLU_OK)
        return e;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t type = 0;
        if ((e = evolu_scur_varint(&types, &type)) != EVOLU_OK) return e;
        if (type == EVOLU_RANGE_FINGERPRINT) {
            e = evolu_scur_skip(in, EVOLU_FINGERPRINT_BYTES);
        } else if (type == EVOLU_RANGE_TIMESTAMPS) {
            evolu_stslist lr;
            e = stslist_check_counted(&lr, in);
        }
        if (e) return e;
    }

    if ((e = stslist_attach(&r->bounds, r->src, slice(r, SL_BOUNDS), r->slice)) != EVOLU_OK ||
        (e = evolu_scur_init(&r->types, r->src, types_start, payloads_start,
                             slice(r, SL_TYPES), r->slice)) != EVOLU_OK ||
        (e = evolu_scur_init(&r->payloads, r->src, payloads_start, in->pos,
                             slice(r, SL_PAYLOADS), r->slice)) != EVOLU_OK)
        return e;
    r->n_ranges = count;
    r->types_start = types_start;
    r->payloads_start = payloads_start;
    return EVOLU_OK;
}

evolu_err evolu_msg_sreader_open(evolu_msg_sreader *r, const evolu_source *src,
                                 uint8_t *window, size_t window_len, size_t max_size) {
    memset(r, 0, sizeof *r);
    if (!src || !src->read || !window || window_len < EVOLU_MSG_SREADER_WINDOW_MIN)
        return EVOLU_E_ARG;
    if (max_size == 0) max_size = EVOLU_PROTOCOL_MAX_SIZE;
    if (src->len > max_size) return EVOLU_E_LIMIT;
    r->src = src;
    r->len = src->len;
    r->window = window;
    r->slice = window_len / EVOLU_MSG_SREADER_SLICES;

    /* The header is at most 43 bytes: decode it from a copy. */
    uint8_t head[EVOLU_HEADER_MAX_BYTES];
    size_t head_len = src->len < sizeof head ? (size_t)src->len : sizeof head;
    evolu_err e = src->read(src->ctx, 0, head, head_len);
    if (e) return e;
    evolu_reader hr = evolu_reader_make(head, head_len);
    e = evolu_header_decode(&hr, &r->header);
    if (e) return e;

    if (r->header.type == EVOLU_MESSAGE_RESPONSE &&
        r->header.error_code != EVOLU_ERROR_CODE_NONE) {
        r->end = hr.pos;
        return EVOLU_OK;
    }

    evolu_scur in;
    if ((e = evolu_scur_init(&in, src, hr.pos, src->len, slice(r, SL_IN), r->slice)) != EVOLU_OK)
        return e;
    if ((e = stslist_check_counted(&r->msg_ts, &in)) != EVOLU_OK) return e;
    uint64_t n = r->msg_ts.count;
    uint64_t changes_start = in.pos;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t change_len, at = in.pos;
        if ((e = evolu_scur_varint(&in, &change_len)) != EVOLU_OK) return e;
        if (change_len > evolu_scur_left(&in)) {
            in.pos = at;
            return EVOLU_E_TRUNCATED;
        }
        in.pos += change_len;
    }
    if ((e = stslist_attach(&r->msg_ts, src, slice(r, SL_MSG_TS), r->slice)) != EVOLU_OK ||
        (e = evolu_scur_init(&r->changes, src, changes_start, in.pos, slice(r, SL_CHANGES),
                             r->slice)) != EVOLU_OK)
        return e;
    r->n_messages = n;
    r->changes_start = changes_start;

    if ((e = open_ranges(r, &in)) != EVOLU_OK) {
        r->n_messages = 0;
        r->n_ranges = 0;
        return e;
    }
    r->end = in.pos;
    return EVOLU_OK;
}

evolu_err evolu_msg_sreader_next_message(evolu_msg_sreader *r, evolu_timestamp *ts,
                                         uint64_t *change_off, uint64_t *change_len) {
    if (r->msg_index >= r->n_messages) return EVOLU_E_DONE;
    evolu_err e = evolu_stslist_next(&r->msg_ts, ts);
    if (e) return e;
    uint64_t len;
    if ((e = evolu_scur_varint(&r->changes, &len)) != EVOLU_OK) return bad(e);
    *change_off = r->changes.pos;
    if ((e = evolu_scur_skip(&r->changes, len)) != EVOLU_OK) return EVOLU_E_INVALID;
    *change_len = len;
    r->msg_index++;
    return EVOLU_OK;
}

evolu_err evolu_msg_sreader_next_range(evolu_msg_sreader *r, evolu_srange *range) {
    if (r->range_index >= r->n_ranges) return EVOLU_E_DONE;
    memset(range, 0, sizeof *range);
    uint64_t type;
    evolu_err e = evolu_scur_varint(&r->types, &type);
    if (e) return bad(e);
    if (type > EVOLU_RANGE_TIMESTAMPS) return EVOLU_E_INVALID;
    range->type = (uint8_t)type;
    if (r->range_index + 1 == r->n_ranges) {
        range->infinite = true;
    } else if ((e = evolu_stslist_next(&r->bounds, &range->upper)) != EVOLU_OK) {
        return e;
    }
    if (type == EVOLU_RANGE_FINGERPRINT) {
        e = evolu_scur_bytes(&r->payloads, range->fingerprint, EVOLU_FINGERPRINT_BYTES);
        if (e) return bad(e);
    } else if (type == EVOLU_RANGE_TIMESTAMPS) {
        uint64_t start = r->payloads.pos;
        evolu_stslist lr;
        /* Checked again: cheap next to reading it, and it moves the cursor. */
        if ((e = stslist_check_counted(&lr, &r->payloads)) != EVOLU_OK) return bad(e);
        range->timestamps_off = start;
        range->timestamps_len = r->payloads.pos - start;
        range->n_timestamps = lr.count;
    }
    r->range_index++;
    return EVOLU_OK;
}

evolu_err evolu_msg_sreader_range_timestamps(evolu_msg_sreader *r, const evolu_srange *range,
                                             evolu_stslist **lr) {
    if (range->type != EVOLU_RANGE_TIMESTAMPS || !r->src) return EVOLU_E_ARG;
    evolu_scur c;
    evolu_err e = evolu_scur_init(&c, r->src, range->timestamps_off,
                                  range->timestamps_off + range->timestamps_len,
                                  slice(r, SL_RANGE_TS), r->slice);
    if (e) return e;
    if ((e = stslist_check_counted(&r->range_ts, &c)) != EVOLU_OK) return bad(e);
    if ((e = stslist_attach(&r->range_ts, r->src, slice(r, SL_RANGE_TS), r->slice)) != EVOLU_OK)
        return e;
    *lr = &r->range_ts;
    return EVOLU_OK;
}

void evolu_msg_sreader_rewind(evolu_msg_sreader *r) {
    if (r->n_messages) {
        evolu_stslist_rewind(&r->msg_ts);
        r->changes.pos = r->changes_start;
    }
    r->msg_index = 0;
    if (r->n_ranges) {
        evolu_stslist_rewind(&r->bounds);
        r->types.pos = r->types_start;
        r->payloads.pos = r->payloads_start;
    }
    r->range_index = 0;
}
