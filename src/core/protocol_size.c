/* protocol_size.c - the size accountant of spec 4.7, replicating
 * createProtocolMessageBuffer of @evolu/common 8.11.0 (same in 8.0.0-next.5)
 * exactly: its getSize/getRangesSize and the "safe margins" that decide which
 * messages and ranges fit. Bit-exact output depends on every constant and on
 * when each applies, so they are spelled out here as the TS code has them. */
#include <string.h>

#include "evolu/protocol.h"

/* The TS safeMargins. */
enum {
    /* range type + a possibly longer count varint: fingerprintSize + 10 */
    MARGIN_REMAINING_RANGE = EVOLU_FINGERPRINT_BYTES + 10,
    /* max millis + max counter + NodeId */
    MARGIN_TIMESTAMP = 30,
    /* the longest EncryptedDbChange length varint */
    MARGIN_DB_CHANGE_LENGTH = 8,
    /* worst case of a split is around 650 bytes */
    MARGIN_SPLIT_RANGE = 800,
    /* range type + its upper bound + a possibly longer count varint */
    MARGIN_TIMESTAMPS_RANGE = 50,
    /* addMessageSafeMargin = 30 + 8 + 22 = 60 */
    MARGIN_ADD_MESSAGE = MARGIN_TIMESTAMP + MARGIN_DB_CHANGE_LENGTH + MARGIN_REMAINING_RANGE,
};

bool evolu_protocol_limits_valid(size_t total_max, size_t ranges_max) {
    return total_max >= EVOLU_PROTOCOL_MAX_SIZE_MIN && total_max <= EVOLU_PROTOCOL_MAX_SIZE_MAX &&
           ranges_max >= EVOLU_PROTOCOL_RANGES_MAX_SIZE_MIN &&
           ranges_max <= EVOLU_PROTOCOL_RANGES_MAX_SIZE_MAX;
}

evolu_err evolu_msg_size_init(evolu_msg_size *s, size_t header_len, size_t total_max,
                              size_t ranges_max) {
    if (total_max == 0) total_max = EVOLU_PROTOCOL_MAX_SIZE;
    if (ranges_max == 0) ranges_max = EVOLU_PROTOCOL_RANGES_MAX_SIZE;
    if (total_max < EVOLU_PROTOCOL_SIZE_FLOOR || total_max > EVOLU_PROTOCOL_MAX_SIZE_MAX ||
        ranges_max < EVOLU_PROTOCOL_SIZE_FLOOR ||
        ranges_max > EVOLU_PROTOCOL_RANGES_MAX_SIZE_MAX || header_len == 0 ||
        header_len > EVOLU_HEADER_MAX_BYTES)
        return EVOLU_E_ARG;
    s->total_max = total_max;
    s->ranges_max = ranges_max;
    s->header = header_len;
    evolu_tslist_size_init(&s->msgs_ts);
    s->changes = 0;
    evolu_tslist_size_init(&s->ranges_ts);
    s->types = 0;
    s->payloads = 0;
    return EVOLU_OK;
}

/* getHeaderAndMessagesSize() */
static uint64_t header_and_messages(const evolu_msg_size *s) {
    return s->header + evolu_tslist_size_len(&s->msgs_ts) + s->changes;
}

/* getRangesSize(): zero until the first range; the ranges' list length counts
 * only the ranges added so far (the infinite bound once it has been added). */
uint64_t evolu_msg_size_ranges(const evolu_msg_size *s) {
    if (s->ranges_ts.count == 0) return 0;
    return evolu_tslist_size_len(&s->ranges_ts) + s->types + s->payloads +
           MARGIN_REMAINING_RANGE;
}

uint64_t evolu_msg_size_total(const evolu_msg_size *s) {
    return header_and_messages(s) + evolu_msg_size_ranges(s);
}

bool evolu_msg_size_can_add_message(const evolu_msg_size *s, size_t change_len) {
    return evolu_msg_size_total(s) + MARGIN_ADD_MESSAGE + (uint64_t)change_len <= s->total_max;
}

bool evolu_msg_size_can_split_range(const evolu_msg_size *s) {
    return evolu_msg_size_ranges(s) + MARGIN_SPLIT_RANGE <= s->ranges_max;
}

bool evolu_msg_size_can_add_timestamps_range_and_message(const evolu_msg_size *s,
                                                         uint64_t timestamps_len,
                                                         bool has_message,
                                                         size_t change_len) {
    uint64_t ranges_new = evolu_msg_size_ranges(s) + timestamps_len + MARGIN_TIMESTAMPS_RANGE;
    if (ranges_new > s->ranges_max) return false;
    if (!has_message) return true;
    return header_and_messages(s) + ranges_new + MARGIN_ADD_MESSAGE + (uint64_t)change_len <=
           s->total_max;
}

size_t evolu_msg_size_change_max(size_t total_max) {
    /* The message that carries one change alone: the longest header, the
     * change's timestamp in the messages' list, and a Timestamps range holding
     * that one timestamp (the only way the sync engine sends a change). With
     * the largest timestamp, every varint in both lists is at its longest. */
    evolu_timestamp t;
    memset(&t, 0xff, sizeof t);
    t.millis = EVOLU_MAX_MILLIS;
    t.counter = UINT16_MAX;
    evolu_tslist_size one;
    evolu_tslist_size_init(&one);
    (void)evolu_tslist_size_add(&one, &t); /* cannot fail: the largest valid timestamp */
    evolu_tslist_size none;
    evolu_tslist_size_init(&none);
    uint64_t ranges_new = evolu_tslist_size_len(&one) + MARGIN_TIMESTAMPS_RANGE;
    uint64_t fixed = EVOLU_HEADER_MAX_BYTES + evolu_tslist_size_len(&none) + ranges_new +
                     MARGIN_ADD_MESSAGE;
    return total_max > fixed ? total_max - (size_t)fixed : 0;
}

evolu_err evolu_msg_size_add_message(evolu_msg_size *s, const evolu_timestamp *ts,
                                     size_t change_len) {
    evolu_msg_size next = *s;
    evolu_err e = evolu_tslist_size_add(&next.msgs_ts, ts);
    if (e) return e;
    next.changes += evolu_varint_len(change_len) + (uint64_t)change_len;
    if (evolu_msg_size_total(&next) > next.total_max) return EVOLU_E_LIMIT;
    *s = next;
    return EVOLU_OK;
}

evolu_err evolu_msg_size_add_range(evolu_msg_size *s, uint8_t type,
                                   const evolu_timestamp *upper, uint64_t payload_len) {
    if (type > EVOLU_RANGE_TIMESTAMPS) return EVOLU_E_RANGE_TYPE;
    evolu_msg_size next = *s;
    if (upper) {
        evolu_err e = evolu_tslist_size_add(&next.ranges_ts, upper);
        if (e) return e;
    } else {
        evolu_tslist_size_add_infinite(&next.ranges_ts);
    }
    next.types += evolu_varint_len(type);
    next.payloads += payload_len;
    if (evolu_msg_size_total(&next) > next.total_max) return EVOLU_E_LIMIT;
    *s = next;
    return EVOLU_OK;
}
