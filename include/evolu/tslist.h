/*
 * evolu/tslist.h - the timestamp-list codec, "TimestampsBuffer" (spec 3.4).
 *
 *   varint(n) || n x varint(millis delta) || RLE(counters) || RLE(nodeIds)
 *   RLE(counters) = { varint(counter) varint(run) }*,  RLE(nodeIds) = { 8 bytes varint(run) }*
 *
 * Lists carry the timestamps of a protocol message's messages, the upper bounds
 * of its ranges and the payload of Timestamps ranges. A message can be up to
 * 100 MB and a device has kilobytes, so nothing here materialises a list:
 *
 *  - the encoder reads the timestamps through a callback (three passes: the
 *    deltas, the counter runs and the nodeId runs are separate sections), with
 *    a plain-array convenience wrapper;
 *  - evolu_tslist_size accounts the exact encoded length one timestamp at a
 *    time in O(1) state, which the protocol builder needs for the size limits
 *    of spec 4.7;
 *  - evolu_tslist_reader validates a whole list in one pass over its bytes
 *    (O(input) time, O(1) state) and then yields the timestamps one by one from
 *    three cursors into the input.
 *
 * The ranges section (spec 4.4) writes count = R but only R-1 items (the last
 * bound is the implicit infinite one), hence the "body" variants that leave
 * the count out.
 */
#ifndef EVOLU_TSLIST_H
#define EVOLU_TSLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/bytes.h"
#include "evolu/error.h"
#include "evolu/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- encoding ------------------------------------------------------------ */

/* Returns timestamp i (0 <= i < n) of the caller's list in *out. Called three
 * times per item, in index order each time; a non-OK return aborts encoding
 * and is passed through. */
typedef evolu_err (*evolu_tslist_get_fn)(void *ctx, size_t i, evolu_timestamp *out);

/* Writes varint(n) and the body. The list must be sorted by millis
 * (EVOLU_E_ORDER, as the TS encoder asserts), every millis <= EVOLU_MAX_MILLIS
 * (EVOLU_E_MILLIS). These are checked while the deltas are written, so after
 * such an error the writer holds a partial list; the error is also recorded in
 * w->err (sticky, like EVOLU_E_BUFFER). Otherwise returns w->err (EVOLU_E_BUFFER
 * if the writer was too small; a cap-0 writer measures). */
evolu_err evolu_tslist_encode_fn(evolu_writer *w, evolu_tslist_get_fn get, void *ctx,
                                 size_t n);
/* Only the body (deltas, counter runs, nodeId runs), no count. */
evolu_err evolu_tslist_encode_body_fn(evolu_writer *w, evolu_tslist_get_fn get, void *ctx,
                                      size_t n);

/* Same over an array. The array is checked before anything is written, so on
 * EVOLU_E_ORDER / EVOLU_E_MILLIS nothing of the list is in the writer. */
evolu_err evolu_tslist_encode(evolu_writer *w, const evolu_timestamp *ts, size_t n);
evolu_err evolu_tslist_encode_body(evolu_writer *w, const evolu_timestamp *ts, size_t n);

/* --- incremental size ------------------------------------------------------ */

/* The exact encoded length of a list being built, in O(1) state. Mirrors the
 * TS TimestampsBuffer's getLength(): `count` counts added timestamps plus
 * infinite bounds, the body only the timestamps. */
typedef struct evolu_tslist_size {
    uint64_t count;        /* items in the count varint (timestamps + infinite) */
    uint64_t items;        /* timestamps in the body */
    uint64_t body;         /* bytes of deltas + counter runs + nodeId runs */
    uint64_t prev_millis;
    uint64_t counter_run;  /* length of the current counter run */
    uint64_t node_run;     /* length of the current nodeId run */
    uint16_t counter;      /* value of the current counter run */
    uint8_t node_id[EVOLU_NODE_ID_BYTES];
} evolu_tslist_size;

void evolu_tslist_size_init(evolu_tslist_size *s);
/* Accounts one more timestamp. EVOLU_E_ORDER if t->millis is below the
 * previous one, EVOLU_E_MILLIS if above EVOLU_MAX_MILLIS; s is unchanged then. */
evolu_err evolu_tslist_size_add(evolu_tslist_size *s, const evolu_timestamp *t);
/* Counts an item that has no body (the ranges' InfiniteUpperBound, TS addInfinite). */
void evolu_tslist_size_add_infinite(evolu_tslist_size *s);
/* varint(count) + body. */
uint64_t evolu_tslist_size_len(const evolu_tslist_size *s);
/* body only. */
uint64_t evolu_tslist_size_body_len(const evolu_tslist_size *s);
/* varint(count + k) + body: the length if k more infinite items were counted. */
uint64_t evolu_tslist_size_len_plus(const evolu_tslist_size *s, uint64_t k);

/* --- decoding ------------------------------------------------------------ */

/* A validated list, read through three cursors into the input bytes (which
 * must stay alive and unchanged while the reader is used). */
typedef struct evolu_tslist_reader {
    evolu_reader millis;    /* the n deltas */
    evolu_reader counters;  /* the counter runs */
    evolu_reader nodes;     /* the nodeId runs */
    uint64_t count;         /* n */
    uint64_t index;         /* timestamps yielded so far */
    uint64_t prev_millis;
    uint64_t counter_left;  /* items left in the current counter run */
    uint64_t node_left;     /* items left in the current nodeId run */
    uint16_t counter;
    uint8_t node_id[EVOLU_NODE_ID_BYTES];
} evolu_tslist_reader;

/* Reads varint(n) and validates the whole list: cumulative millis are valid
 * Millis (EVOLU_E_MILLIS), counters <= 65535 (EVOLU_E_COUNTER), run lengths are
 * >= 1 and <= the items still missing (EVOLU_E_RUN_LENGTH), input ends early
 * (EVOLU_E_TRUNCATED), bad varints (EVOLU_E_VARINT). A count that the
 * remaining bytes cannot possibly hold is rejected at once. On success the
 * outer reader is advanced past the list; on failure it is left unchanged. */
evolu_err evolu_tslist_open(evolu_tslist_reader *lr, evolu_reader *r);

/* Same for a body whose count the caller already read (the ranges section:
 * count = R - 1). */
evolu_err evolu_tslist_open_body(evolu_tslist_reader *lr, evolu_reader *r, uint64_t count);

/* Number of timestamps in the list. */
static inline uint64_t evolu_tslist_count(const evolu_tslist_reader *lr) { return lr->count; }

/* The next timestamp, or EVOLU_E_DONE after the last one. */
evolu_err evolu_tslist_next(evolu_tslist_reader *lr, evolu_timestamp *out);

/* Starts the iteration again from the first timestamp. */
void evolu_tslist_rewind(evolu_tslist_reader *lr);

#ifdef __cplusplus
}
#endif
#endif
