/* protocol_reader.c - validate a protocol message once, then iterate its
 * messages and ranges through cursors into the caller's bytes (spec 4.1-4.4).
 * O(1) state, no copies: see the "Memory" note in evolu/protocol.h. */
#include <string.h>

#include "evolu/protocol.h"

/* Validates the ranges section starting at `in` (spec 4.4): R, the R-1 bounds,
 * R types, then the R payloads. Sets the reader's cursors and range count. */
static evolu_err open_ranges(evolu_msg_reader *r, evolu_reader *in) {
    if (evolu_reader_left(in) == 0) return EVOLU_OK; /* no bytes left: no ranges */
    uint64_t count;
    evolu_err e = evolu_get_varint(in, &count);
    if (e) return e;
    if (count == 0) return EVOLU_OK; /* R = 0: no ranges */
    /* Every range needs at least its type byte: reject absurd counts at once. */
    if (count > evolu_reader_left(in)) return EVOLU_E_TRUNCATED;

    e = evolu_tslist_open_body(&r->bounds, in, count - 1);
    if (e) return e;

    size_t types_start = in->pos;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t type;
        e = evolu_get_varint(in, &type);
        if (e) return e;
        if (type > EVOLU_RANGE_TIMESTAMPS) return EVOLU_E_RANGE_TYPE;
    }

    /* Payloads, walked with a second cursor over the (valid) types. */
    size_t payloads_start = in->pos;
    evolu_reader types = *in;
    types.pos = types_start;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t type = 0;
        (void)evolu_get_varint(&types, &type);
        if (type == EVOLU_RANGE_FINGERPRINT) {
            e = evolu_skip(in, EVOLU_FINGERPRINT_BYTES);
        } else if (type == EVOLU_RANGE_TIMESTAMPS) {
            evolu_tslist_reader lr;
            e = evolu_tslist_open(&lr, in);
        }
        if (e) return e;
    }

    r->n_ranges = count;
    r->types = evolu_reader_make(r->bytes, in->pos);
    r->types.pos = types_start;
    r->types_start = types_start;
    r->payloads = evolu_reader_make(r->bytes, in->pos);
    r->payloads.pos = payloads_start;
    r->payloads_start = payloads_start;
    return EVOLU_OK;
}

evolu_err evolu_msg_reader_open_max(evolu_msg_reader *r, const uint8_t *bytes, size_t len,
                                    size_t max_size) {
    memset(r, 0, sizeof *r);
    if (!bytes && len) return EVOLU_E_ARG;
    if (max_size == 0) max_size = EVOLU_PROTOCOL_MAX_SIZE;
    if (len > max_size) return EVOLU_E_LIMIT;

    evolu_reader in = evolu_reader_make(bytes, len);
    evolu_err e = evolu_header_decode(&in, &r->header);
    if (e) return e;
    r->bytes = bytes;
    r->len = len;

    /* The TS client reports a Response's error code before reading further. */
    if (r->header.type == EVOLU_MESSAGE_RESPONSE &&
        r->header.error_code != EVOLU_ERROR_CODE_NONE) {
        r->end = in.pos;
        return EVOLU_OK;
    }

    e = evolu_tslist_open(&r->msg_ts, &in);
    if (e) return e;
    uint64_t n = evolu_tslist_count(&r->msg_ts);
    size_t changes_start = in.pos;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *change;
        size_t change_len;
        e = evolu_get_lenbytes(&in, &change, &change_len);
        if (e) return e;
    }
    r->n_messages = n;
    r->changes = evolu_reader_make(bytes, in.pos);
    r->changes.pos = changes_start;
    r->changes_start = changes_start;

    e = open_ranges(r, &in);
    if (e) {
        r->n_messages = 0;
        r->n_ranges = 0;
        return e;
    }
    r->end = in.pos;
    return EVOLU_OK;
}

evolu_err evolu_msg_reader_open(evolu_msg_reader *r, const uint8_t *bytes, size_t len) {
    return evolu_msg_reader_open_max(r, bytes, len, EVOLU_PROTOCOL_MAX_SIZE);
}

evolu_err evolu_msg_reader_next_message(evolu_msg_reader *r, evolu_timestamp *ts,
                                        const uint8_t **change, size_t *change_len) {
    if (r->msg_index >= r->n_messages) return EVOLU_E_DONE;
    evolu_err e = evolu_tslist_next(&r->msg_ts, ts);
    if (e) return e;
    e = evolu_get_lenbytes(&r->changes, change, change_len);
    if (e) return e;
    r->msg_index++;
    return EVOLU_OK;
}

evolu_err evolu_msg_reader_next_range(evolu_msg_reader *r, evolu_range *range) {
    if (r->range_index >= r->n_ranges) return EVOLU_E_DONE;
    memset(range, 0, sizeof *range);
    uint64_t type;
    evolu_err e = evolu_get_varint(&r->types, &type);
    if (e) return e;
    range->type = (uint8_t)type;
    /* The last range's bound is the implicit InfiniteUpperBound. */
    if (r->range_index + 1 == r->n_ranges) {
        range->infinite = true;
    } else {
        e = evolu_tslist_next(&r->bounds, &range->upper);
        if (e) return e;
    }
    if (type == EVOLU_RANGE_FINGERPRINT) {
        e = evolu_get_span(&r->payloads, &range->fingerprint, EVOLU_FINGERPRINT_BYTES);
    } else if (type == EVOLU_RANGE_TIMESTAMPS) {
        size_t start = r->payloads.pos;
        evolu_tslist_reader lr;
        e = evolu_tslist_open(&lr, &r->payloads);
        if (!e) {
            range->timestamps = r->bytes + start;
            range->timestamps_len = r->payloads.pos - start;
            range->n_timestamps = evolu_tslist_count(&lr);
        }
    }
    if (e) return e;
    r->range_index++;
    return EVOLU_OK;
}

void evolu_msg_reader_rewind(evolu_msg_reader *r) {
    if (r->n_messages) {
        evolu_tslist_rewind(&r->msg_ts);
        r->changes.pos = r->changes_start;
    }
    r->msg_index = 0;
    if (r->n_ranges) {
        evolu_tslist_rewind(&r->bounds);
        r->types.pos = r->types_start;
        r->payloads.pos = r->payloads_start;
    }
    r->range_index = 0;
}

evolu_err evolu_range_timestamps(const evolu_range *range, evolu_tslist_reader *lr) {
    if (range->type != EVOLU_RANGE_TIMESTAMPS || !range->timestamps) return EVOLU_E_ARG;
    evolu_reader in = evolu_reader_make(range->timestamps, range->timestamps_len);
    return evolu_tslist_open(lr, &in);
}
