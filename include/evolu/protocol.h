/*
 * evolu/protocol.h - protocol messages (spec 4 and 6.8): header, a validating
 * zero-copy reader, the size accountant of spec 4.7, a builder that keeps
 * descriptors instead of bytes, push messages and the relay's simple replies.
 *
 *   ProtocolMessage = Header || Messages || [Ranges]
 *   Header   = varint(version) || ownerId[16] || type
 *              Request:  hasWriteKey || [writeKey[16]] || subscriptionFlag
 *              Response: errorCode
 *   Messages = TimestampsBuffer(k) || k x (varint(len) || EncryptedDbChange)
 *   Ranges   = varint(R) || body of the R-1 finite upper bounds || R x varint(type)
 *              || payloads (Skip: none, Fingerprint: 12 bytes, Timestamps: a list)
 *
 * Memory. Messages may be 1,000,000 bytes (a relay may allow 100,000,000) while
 * a device has a few KB of RAM, so nothing here holds a message's contents:
 *
 *  - The reader validates the whole message once, in one pass and O(1) state,
 *    and then yields messages and ranges from cursors into the caller's bytes.
 *    Everything it keeps is a handful of offsets and run states (see
 *    evolu_msg_reader), never a copy. How a device streams: the reader only
 *    ever needs the current positions of its cursors (the messages' timestamp
 *    list, the changes, the bound list, the types, the payloads), each moving
 *    forward. A device that cannot hold a message keeps it in host memory (or
 *    flash) and serves those same cursors from there: the validation pass and
 *    each iteration are strictly sequential per cursor, so a port can replace
 *    the byte pointer by a windowed fetch without changing the algorithm.
 *  - The builder keeps descriptors, not bytes: each message is its timestamp
 *    plus a pointer and length of the EncryptedDbChange in caller memory, each
 *    range its type, bound and fingerprint or a slice/callback of timestamps.
 *    Arrays for both are provided by the caller. The size accountant keeps the
 *    exact encoded length in O(1) state as items are added, so the size-limit
 *    decisions of the TypeScript builder are reproduced bit-exactly. The bytes
 *    are produced only at the end by a straight sequential walk into an
 *    evolu_writer (a cap-0 writer measures), so a device could emit the same
 *    bytes piece by piece to a UART.
 *
 * Errors: malformed input gives the typed decoding errors of error.h
 * (EVOLU_E_TRUNCATED, EVOLU_E_VARINT, EVOLU_E_MILLIS, EVOLU_E_COUNTER,
 * EVOLU_E_RUN_LENGTH, EVOLU_E_RANGE_TYPE, EVOLU_E_MESSAGE_TYPE), a version other
 * than 1 gives EVOLU_E_VERSION, an oversize message EVOLU_E_LIMIT.
 */
#ifndef EVOLU_PROTOCOL_H
#define EVOLU_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/bytes.h"
#include "evolu/dbchange.h"
#include "evolu/error.h"
#include "evolu/owner.h"
#include "evolu/port.h"
#include "evolu/source.h"
#include "evolu/timestamp.h"
#include "evolu/tslist.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVOLU_PROTOCOL_VERSION 1u

/* Size limits (spec 4.7). The TypeScript code only allows totalMaxSize in
 * 1,000,000..100,000,000 and rangesMaxSize in 3,000..100,000
 * (evolu_protocol_limits_valid checks exactly that, for configuration). The
 * builder itself accepts any limit from EVOLU_PROTOCOL_SIZE_FLOOR up to the
 * maximum, because the published vectors force continuation with smaller
 * limits (maxSize 300 and 1000); production callers should stay in range. */
#define EVOLU_PROTOCOL_MAX_SIZE 1000000u        /* defaultProtocolMessageMaxSize */
#define EVOLU_PROTOCOL_MAX_SIZE_MIN 1000000u
#define EVOLU_PROTOCOL_MAX_SIZE_MAX 100000000u
#define EVOLU_PROTOCOL_RANGES_MAX_SIZE 30000u   /* defaultProtocolMessageRangesMaxSize */
#define EVOLU_PROTOCOL_RANGES_MAX_SIZE_MIN 3000u
#define EVOLU_PROTOCOL_RANGES_MAX_SIZE_MAX 100000u
/* Smallest limit the builder accepts: a header (at most 43 bytes) plus an empty
 * messages section must fit. */
#define EVOLU_PROTOCOL_SIZE_FLOOR 64u

/* Longest header: varint(version) (<= 8) + 16 + type + hasWriteKey + 16 + flag. */
#define EVOLU_HEADER_MAX_BYTES 43u
/* The version-mismatch reply: varint(version) || ownerId. */
#define EVOLU_VERSION_REPLY_MAX_BYTES 24u

/* --- header (spec 4.2, 4.6) --------------------------------------------------- */

typedef enum evolu_message_type {
    EVOLU_MESSAGE_REQUEST = 0,
    EVOLU_MESSAGE_RESPONSE = 1,
    EVOLU_MESSAGE_BROADCAST = 2,
} evolu_message_type;

typedef enum evolu_subscription {
    EVOLU_SUBSCRIPTION_NONE = 0,
    EVOLU_SUBSCRIPTION_SUBSCRIBE = 1,
    EVOLU_SUBSCRIPTION_UNSUBSCRIBE = 2,
} evolu_subscription;

typedef enum evolu_error_code {
    EVOLU_ERROR_CODE_NONE = 0,
    EVOLU_ERROR_CODE_WRITE_KEY = 1,
    EVOLU_ERROR_CODE_WRITE = 2,
    EVOLU_ERROR_CODE_QUOTA = 3,
    EVOLU_ERROR_CODE_SYNC = 4,
} evolu_error_code;

typedef struct evolu_header {
    uint64_t version;                                  /* 1 */
    uint8_t owner_id[EVOLU_OWNER_ID_BYTES];
    uint8_t type;                                      /* evolu_message_type */
    /* Request only. The relay reads hasWriteKey == 1 as present and any other
     * byte as absent (then no key bytes follow). */
    bool has_write_key;
    uint8_t write_key[EVOLU_OWNER_WRITE_KEY_BYTES];
    /* Request only; kept as received (the relay ignores unknown values). */
    uint8_t subscription;
    /* Response only; kept as received, see evolu_error_code_to_err. */
    uint8_t error_code;
} evolu_header;

/* Header helpers for the common cases (other fields zeroed). write_key may be
 * NULL (no key). */
void evolu_header_request(evolu_header *h, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                          const uint8_t *write_key, uint8_t subscription);
void evolu_header_response(evolu_header *h, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           uint8_t error_code);
void evolu_header_broadcast(evolu_header *h, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]);

/* Writes the header. Any version is written as given, followed by the version-1
 * layout (the TS builder's `version` option; tests build version 0 and 2
 * requests this way). EVOLU_E_ARG for an unknown type or a version above
 * 2^53-1; otherwise w->err. */
evolu_err evolu_header_encode(evolu_writer *w, const evolu_header *h);

/* Encoded length of the header (0 if it is invalid). */
size_t evolu_header_len(const evolu_header *h);

/* Reads a header. version and owner_id are read first; for a version other
 * than EVOLU_PROTOCOL_VERSION it stops there and returns EVOLU_E_VERSION with
 * those two fields filled (this is how the 17-byte version-mismatch reply
 * "varint(version) || ownerId" is recognised; @evolu/common 8.11.0's
 * parseProtocolHeader likewise returns only version and ownerId). An unknown
 * message type gives EVOLU_E_MESSAGE_TYPE, missing bytes EVOLU_E_TRUNCATED. */
evolu_err evolu_header_decode(evolu_reader *r, evolu_header *h);

/* The non-initiator's reply to a version mismatch: varint(version) || ownerId
 * and nothing else (spec 4.6). */
evolu_err evolu_version_reply_encode(evolu_writer *w, uint64_t version,
                                     const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]);

/* Response error code -> result the client reports: 0 EVOLU_OK, 1
 * EVOLU_E_WRITE_KEY, 2 EVOLU_E_WRITE, 3 EVOLU_E_QUOTA, 4 EVOLU_E_SYNC, anything
 * else EVOLU_E_ERROR_CODE (the TS client fails with ProtocolInvalidDataError). */
evolu_err evolu_error_code_to_err(uint8_t code);

/* --- simple messages (spec 4.5) -------------------------------------------------- */

/* Request with subscriptionFlag Unsubscribe and nothing else:
 * header || 00 (createProtocolMessageForUnsubscribe). */
evolu_err evolu_msg_encode_unsubscribe(evolu_writer *w,
                                       const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]);

/* Response with the given error code and an empty messages section:
 * header || 00. Code 0 is the relay's "nothing to sync" answer. */
evolu_err evolu_msg_encode_response(evolu_writer *w,
                                    const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                    uint8_t error_code);

/* --- ranges -------------------------------------------------------------------- */

typedef enum evolu_range_type {
    EVOLU_RANGE_SKIP = 0,
    EVOLU_RANGE_FINGERPRINT = 1,
    EVOLU_RANGE_TIMESTAMPS = 2,
} evolu_range_type;

/* A range as read from a message. Pointers point into the message bytes. */
typedef struct evolu_range {
    uint8_t type;                     /* evolu_range_type */
    bool infinite;                    /* upper bound is InfiniteUpperBound */
    evolu_timestamp upper;            /* the exclusive upper bound unless infinite */
    const uint8_t *fingerprint;       /* FINGERPRINT: 12 bytes */
    const uint8_t *timestamps;        /* TIMESTAMPS: the whole TimestampsBuffer */
    size_t timestamps_len;
    uint64_t n_timestamps;            /* TIMESTAMPS: its count */
} evolu_range;

/* A reader over the timestamps of a Timestamps range (already validated when
 * the message was opened). EVOLU_E_ARG for another range type. */
evolu_err evolu_range_timestamps(const evolu_range *range, evolu_tslist_reader *lr);

/* --- reader ---------------------------------------------------------------------- */

/* All state is offsets into `bytes` and the run states of two timestamp-list
 * readers: O(1) RAM whatever the message size. The bytes must stay alive and
 * unchanged while the reader is used. */
typedef struct evolu_msg_reader {
    evolu_header header;
    const uint8_t *bytes;
    size_t len;
    size_t end;             /* offset after the last byte interpreted; later bytes are ignored */
    uint64_t n_messages;
    uint64_t n_ranges;      /* 0 = no ranges section (or R = 0) */
    /* iteration */
    evolu_tslist_reader msg_ts;
    evolu_reader changes;
    uint64_t msg_index;
    evolu_tslist_reader bounds;
    evolu_reader types;
    evolu_reader payloads;
    uint64_t range_index;
    size_t changes_start, types_start, payloads_start;
} evolu_msg_reader;

/* Parses the header and validates the whole message: the messages' timestamp
 * list, then every change's length against the bytes left, then - if any bytes
 * remain - the ranges section (R, the R-1 bounds, R types with unknown types
 * EVOLU_E_RANGE_TYPE, every payload: 12-byte fingerprints, nested timestamp
 * lists). R = 0 or no bytes left means no ranges; bytes after the last payload
 * are ignored, as both published versions do. Returns EVOLU_OK only if all of
 * it is well-formed; on EVOLU_E_VERSION the header's version and owner_id are
 * filled (reply with evolu_version_reply_encode).
 *
 * A Response with a non-zero error code is complete after its header: the
 * TypeScript client reports the error before reading anything else, so the
 * rest is not looked at (n_messages = n_ranges = 0).
 *
 * The message type is not checked against the receiver's role; the relay
 * requires Request, the client Response or Broadcast. A relay that wants the
 * TypeScript relay's order of checks (a bad write key is answered before the
 * messages are decoded) can run evolu_header_decode first.
 *
 * max_size: messages longer than this are refused with EVOLU_E_LIMIT before
 * anything is read (0 = EVOLU_PROTOCOL_MAX_SIZE). */
evolu_err evolu_msg_reader_open_max(evolu_msg_reader *r, const uint8_t *bytes, size_t len,
                                    size_t max_size);
/* Same with max_size = EVOLU_PROTOCOL_MAX_SIZE. */
evolu_err evolu_msg_reader_open(evolu_msg_reader *r, const uint8_t *bytes, size_t len);

/* The next message: its timestamp and its EncryptedDbChange (pointing into the
 * message). EVOLU_E_DONE after the last one. */
evolu_err evolu_msg_reader_next_message(evolu_msg_reader *r, evolu_timestamp *ts,
                                        const uint8_t **change, size_t *change_len);

/* The next range; EVOLU_E_DONE after the last one. */
evolu_err evolu_msg_reader_next_range(evolu_msg_reader *r, evolu_range *range);

/* Restarts both iterations from the first message and the first range. */
void evolu_msg_reader_rewind(evolu_msg_reader *r);

/* --- size accountant (spec 4.7) ------------------------------------------------ */

/* The exact size of a message being built and the TypeScript builder's
 * decisions, in O(1) state. Mirrors createProtocolMessageBuffer of
 * @evolu/common 8.11.0 (identical in 8.0.0-next.5):
 *
 *   size        = header + msgsTs + msgsChanges + rangesSize
 *   rangesSize  = R > 0 ? rangesTs + types + payloads + 22 : 0
 *
 * where rangesTs is the current length of the ranges' timestamp list: its
 * count covers the ranges added so far (the infinite one only once it has
 * been added) and its body only the finite bounds. */
typedef struct evolu_msg_size {
    uint64_t total_max;
    uint64_t ranges_max;
    uint64_t header;
    evolu_tslist_size msgs_ts;
    uint64_t changes;        /* sum of varint(len) + len */
    evolu_tslist_size ranges_ts;
    uint64_t types;
    uint64_t payloads;
} evolu_msg_size;

/* true iff the limits are in the range the TypeScript code allows. */
bool evolu_protocol_limits_valid(size_t total_max, size_t ranges_max);

/* Starts accounting for a message with a header of header_len bytes.
 * total_max/ranges_max 0 = the defaults. EVOLU_E_ARG for a limit below
 * EVOLU_PROTOCOL_SIZE_FLOOR or above the allowed maximum. */
evolu_err evolu_msg_size_init(evolu_msg_size *s, size_t header_len, size_t total_max,
                              size_t ranges_max);

/* getSize(): the exact length the message would have now. */
uint64_t evolu_msg_size_total(const evolu_msg_size *s);
/* getRangesSize() (includes the 22-byte margin once a range exists). */
uint64_t evolu_msg_size_ranges(const evolu_msg_size *s);

/* canAddMessage: size + 60 + change_len <= totalMaxSize. */
bool evolu_msg_size_can_add_message(const evolu_msg_size *s, size_t change_len);
/* canSplitRange: rangesSize + 800 <= rangesMaxSize. */
bool evolu_msg_size_can_split_range(const evolu_msg_size *s);
/* canAddTimestampsRangeAndMessage: r = rangesSize + timestamps_len + 50 must be
 * <= rangesMaxSize and, if has_message, header + msgsTs + msgsChanges + r + 60
 * + change_len <= totalMaxSize. timestamps_len is the encoded length of the
 * Timestamps range being built (1 when empty). */
bool evolu_msg_size_can_add_timestamps_range_and_message(const evolu_msg_size *s,
                                                         uint64_t timestamps_len,
                                                         bool has_message,
                                                         size_t change_len);

/* The longest EncryptedDbChange that can ever be sent in a message of at most
 * total_max bytes: with the longest header and the Timestamps range that
 * carries it, and the builder's margins (spec 4.7). A longer change could be
 * pushed (canAddMessage has no range to pay for) but never synced: the engine
 * would answer every round with a Fingerprint and make no progress, so
 * evolu_rbsr refuses it with EVOLU_E_LIMIT and the client database refuses to
 * create one. 999,825 for the default 1,000,000: total_max minus
 * EVOLU_MSG_CHANGE_OVERHEAD_MAX (0 below it). */
size_t evolu_msg_size_change_max(size_t total_max);
/* The same bound as a constant, for buffers sized at compile time: a reply
 * limit of L carries changes up to L - EVOLU_MSG_CHANGE_OVERHEAD_MAX bytes
 * (test_rbsr checks it against evolu_msg_size_change_max). */
#define EVOLU_MSG_CHANGE_OVERHEAD_MAX 175u

/* Account a message / a range. Like the TS builder's assertion, the result
 * must not exceed totalMaxSize (EVOLU_E_LIMIT); EVOLU_E_ORDER / EVOLU_E_MILLIS
 * from the timestamp lists. On error s is unchanged. upper == NULL is the
 * infinite bound; payload_len is 0 (Skip), 12 (Fingerprint) or the encoded
 * timestamp list (Timestamps). */
evolu_err evolu_msg_size_add_message(evolu_msg_size *s, const evolu_timestamp *ts,
                                     size_t change_len);
evolu_err evolu_msg_size_add_range(evolu_msg_size *s, uint8_t type,
                                   const evolu_timestamp *upper, uint64_t payload_len);

/* --- builder ------------------------------------------------------------------- */

/* A message to emit: the change bytes live in caller memory (or the arena). */
typedef struct evolu_msg_entry {
    evolu_timestamp timestamp;
    const uint8_t *change;
    size_t change_len;
} evolu_msg_entry;

/* A range to emit. Timestamps come from a caller array (`timestamps`) or, if
 * `get` is set, from the callback (called three times per item, in index
 * order, at add time to measure and at emit time). */
typedef struct evolu_range_entry {
    uint8_t type;
    bool infinite;
    evolu_timestamp upper;
    uint8_t fingerprint[EVOLU_FINGERPRINT_BYTES];
    const evolu_timestamp *timestamps;
    evolu_tslist_get_fn get;
    void *get_ctx;
    size_t n_timestamps;
    uint64_t payload_len;    /* filled by the builder */
} evolu_range_entry;

typedef struct evolu_msg_builder {
    evolu_header header;
    evolu_msg_size size;
    evolu_msg_entry *msgs;
    size_t msgs_cap, n_msgs;
    evolu_range_entry *ranges;
    size_t ranges_cap, n_ranges;
    uint8_t *arena;
    size_t arena_cap, arena_used;
    bool last_infinite;
    bool begun;
    /* Messages counted with evolu_msg_builder_count_message: no descriptors
     * kept, emitted by evolu_msg_builder_emit_sink_ext only. */
    bool external;
} evolu_msg_builder;

/* Gives the builder its storage: msgs_cap message descriptors, ranges_cap
 * range descriptors and an optional byte arena (for changes the builder's user
 * creates, e.g. encrypted pushes). Any may be NULL with capacity 0. */
void evolu_msg_builder_init(evolu_msg_builder *b, evolu_msg_entry *msgs, size_t msgs_cap,
                            evolu_range_entry *ranges, size_t ranges_cap, uint8_t *arena,
                            size_t arena_cap);

/* Starts a new message with header h (copied) and the limits (0 = defaults).
 * Forgets any previous content and empties the arena. */
evolu_err evolu_msg_builder_begin(evolu_msg_builder *b, const evolu_header *h,
                                  size_t total_max, size_t ranges_max);

/* Carves n bytes from the arena (EVOLU_E_CAPACITY when it is full). */
evolu_err evolu_msg_builder_alloc(evolu_msg_builder *b, size_t n, uint8_t **out);
/* Gives back the most recent allocation (used when it is not added). */
void evolu_msg_builder_unalloc(evolu_msg_builder *b, size_t n);

/* The size accountant's questions for this message. */
bool evolu_msg_builder_can_add_message(const evolu_msg_builder *b, size_t change_len);
bool evolu_msg_builder_can_split_range(const evolu_msg_builder *b);
bool evolu_msg_builder_can_add_timestamps_range_and_message(const evolu_msg_builder *b,
                                                            uint64_t timestamps_len,
                                                            bool has_message,
                                                            size_t change_len);
/* getSize(). */
uint64_t evolu_msg_builder_size(const evolu_msg_builder *b);

/* Adds a message (the change is not copied: it must stay alive until emitted).
 * EVOLU_E_CAPACITY when the descriptor array is full, EVOLU_E_LIMIT when the
 * message would exceed totalMaxSize, EVOLU_E_ORDER when its millis are below
 * the previous message's. */
evolu_err evolu_msg_builder_add_message(evolu_msg_builder *b, const evolu_timestamp *ts,
                                        const uint8_t *change, size_t change_len);

/* Adds a range (copied; a timestamps array must stay alive until emitted).
 * EVOLU_E_STATE in a Broadcast, EVOLU_E_RANGES after an infinite range,
 * EVOLU_E_RANGE_TYPE for an unknown type, EVOLU_E_CAPACITY, EVOLU_E_LIMIT,
 * EVOLU_E_ORDER for bounds or timestamps out of millis order. */
evolu_err evolu_msg_builder_add_range(evolu_msg_builder *b, const evolu_range_entry *range);
/* Shorthands; upper == NULL is the infinite bound. */
evolu_err evolu_msg_builder_add_skip(evolu_msg_builder *b, const evolu_timestamp *upper);
evolu_err evolu_msg_builder_add_fingerprint(evolu_msg_builder *b, const evolu_timestamp *upper,
                                            const uint8_t fp[EVOLU_FINGERPRINT_BYTES]);
evolu_err evolu_msg_builder_add_timestamps(evolu_msg_builder *b, const evolu_timestamp *upper,
                                           const evolu_timestamp *ts, size_t n);

/* Writes header || messages' timestamps || changes || [ranges' timestamps ||
 * types || payloads] (spec 4.8) in one sequential walk. EVOLU_E_RANGES if the
 * last range is not infinite; otherwise w->err (EVOLU_E_BUFFER when full; a
 * cap-0 writer measures). May be called more than once. */
evolu_err evolu_msg_builder_emit(const evolu_msg_builder *b, evolu_writer *w);

/* --- streaming: a message read from a source in O(window) RAM ----------------------- */

/* The reader above over an evolu_source (evolu/source.h) instead of bytes in
 * memory: the same validation, in the same order, with the same errors, and
 * the same iteration, but every byte is read through forward cursors whose
 * caches are slices of one caller window. RAM: sizeof(evolu_msg_sreader)
 * plus the window, whatever the message size; a 1,000,000-byte message
 * parses through a 1 KB window (tests/unit/test_streaming.c). The source is
 * read once sequentially to validate, then once more per iteration. */

/* A timestamp list read through three cursors over a source. */
typedef struct evolu_stslist {
    evolu_scur millis, counters, nodes;
    uint64_t m0, c0, n0;    /* where each section starts (for rewind) */
    uint64_t count, index, prev_millis, counter_left, node_left;
    uint16_t counter;
    uint8_t node_id[EVOLU_NODE_ID_BYTES];
} evolu_stslist;

/* The next timestamp, EVOLU_E_DONE after the last one; source errors pass
 * through (the list was validated, so nothing else can fail). */
evolu_err evolu_stslist_next(evolu_stslist *lr, evolu_timestamp *out);
void evolu_stslist_rewind(evolu_stslist *lr);

/* A range as read from a source: like evolu_range, with the fingerprint
 * copied and a Timestamps payload given as a place in the source. */
typedef struct evolu_srange {
    uint8_t type;
    bool infinite;
    evolu_timestamp upper;
    uint8_t fingerprint[EVOLU_FINGERPRINT_BYTES];
    uint64_t timestamps_off;     /* TIMESTAMPS: the whole TimestampsBuffer */
    uint64_t timestamps_len;
    uint64_t n_timestamps;
} evolu_srange;

/* Window slices: 0-2 validation, then the current range's timestamp list;
 * 3-5 messages' timestamps; 6 changes; 7-9 bounds; 10 types; 11 payloads. */
#define EVOLU_MSG_SREADER_SLICES 12u
/* Smallest window: 8 bytes per slice. 512 B - 2 KB is a good size. */
#define EVOLU_MSG_SREADER_WINDOW_MIN (EVOLU_MSG_SREADER_SLICES * 8u)

typedef struct evolu_msg_sreader {
    evolu_header header;
    const evolu_source *src;
    uint64_t len;
    uint64_t end;
    uint64_t n_messages;
    uint64_t n_ranges;
    uint8_t *window;
    size_t slice;                /* bytes per slice */
    evolu_stslist msg_ts;
    evolu_scur changes;
    uint64_t msg_index;
    evolu_stslist bounds;
    evolu_scur types;
    evolu_scur payloads;
    uint64_t range_index;
    uint64_t changes_start, types_start, payloads_start;
    evolu_stslist range_ts;      /* evolu_msg_sreader_range_timestamps */
} evolu_msg_sreader;

/* evolu_msg_reader_open_max over src with the caller's window (>=
 * EVOLU_MSG_SREADER_WINDOW_MIN bytes, EVOLU_E_ARG otherwise). Same results
 * and errors as the in-memory reader on the same bytes; a failing source
 * read gives its error. src and window must outlive the reader. */
evolu_err evolu_msg_sreader_open(evolu_msg_sreader *r, const evolu_source *src,
                                 uint8_t *window, size_t window_len, size_t max_size);

/* The next message: its timestamp and where its EncryptedDbChange lies in
 * the source (read it with src->read, in pieces if it is large, e.g. with
 * evolu_dbchange_decrypt_stream). EVOLU_E_DONE after the last one. */
evolu_err evolu_msg_sreader_next_message(evolu_msg_sreader *r, evolu_timestamp *ts,
                                         uint64_t *change_off, uint64_t *change_len);

/* The next range; EVOLU_E_DONE after the last one. */
evolu_err evolu_msg_sreader_next_range(evolu_msg_sreader *r, evolu_srange *range);

/* A reader over a Timestamps range's list, using the reader's slices 0-2
 * (valid until the next call; r->range_ts is the storage). */
evolu_err evolu_msg_sreader_range_timestamps(evolu_msg_sreader *r, const evolu_srange *range,
                                             evolu_stslist **lr);

/* Restarts both iterations. */
void evolu_msg_sreader_rewind(evolu_msg_sreader *r);

/* --- streaming: a built message written to a sink piece by piece --------------------- */

/* Adds a message whose EncryptedDbChange is not in memory: only its length is
 * given (the size accountant needs nothing more), its bytes are produced at
 * emit time by the `change` callback of evolu_msg_builder_emit_sink (e.g.
 * read from a host blob keyed by the timestamp). evolu_msg_builder_emit
 * refuses such a message (EVOLU_E_ARG). Errors as evolu_msg_builder_add_message. */
evolu_err evolu_msg_builder_add_message_ref(evolu_msg_builder *b, const evolu_timestamp *ts,
                                            size_t change_len);

/* Writes exactly m->change_len bytes of message i's change to w (with
 * evolu_swriter_bytes, in as many pieces as it likes). */
typedef evolu_err (*evolu_msg_change_fn)(void *ctx, size_t i, const evolu_msg_entry *m,
                                         evolu_swriter *w);

/* evolu_msg_builder_emit to a sink: the same bytes in the same order, put
 * through w (an evolu_swriter over a small buffer that is handed to its sink
 * whenever full; a swriter without a sink measures). Changes given by pointer
 * are copied from memory; those added with _ref come from change(ctx, ...),
 * which must write exactly their length (EVOLU_E_STATE otherwise). The
 * buffer is flushed at the end. Returns w->err or the first error. */
evolu_err evolu_msg_builder_emit_sink(const evolu_msg_builder *b, evolu_swriter *w,
                                      evolu_msg_change_fn change, void *ctx);

/* Messages that are not kept in the builder at all: a 1,000,000-byte message
 * of 10,000 changes would need 10,000 descriptors (~32 B each on the device),
 * so a device sending one counts each message into the O(1) size accountant
 * only, and supplies it again at emit time (e.g. from its store, by index).
 * All messages of the builder must be added this way (EVOLU_E_STATE after
 * add_message, and add_message after this); ranges are added as usual.
 * Errors as evolu_msg_builder_add_message (no EVOLU_E_CAPACITY). */
evolu_err evolu_msg_builder_count_message(evolu_msg_builder *b, const evolu_timestamp *ts,
                                          size_t change_len);

/* Gives message i again: its timestamp and change_len (change may be NULL,
 * then its bytes come from the change callback). Called four times per
 * message, in index order each time. */
typedef evolu_err (*evolu_msg_entry_fn)(void *ctx, size_t i, evolu_msg_entry *out);

/* evolu_msg_builder_emit_sink for a builder whose messages were counted:
 * entry(ctx, i, ...) supplies them. What it supplies is measured again while
 * it is written and must be what was counted: otherwise EVOLU_E_STATE (the
 * bytes already written are then not a valid message). For a builder with
 * descriptors, entry is not used (same as evolu_msg_builder_emit_sink). */
evolu_err evolu_msg_builder_emit_sink_ext(const evolu_msg_builder *b, evolu_swriter *w,
                                          evolu_msg_entry_fn entry, evolu_msg_change_fn change,
                                          void *ctx);

/* --- push (spec 6.8) and broadcast (spec 7.5) -------------------------------------- */

typedef struct evolu_crdt_message {
    evolu_timestamp timestamp;
    evolu_dbchange change;
} evolu_crdt_message;

/* createProtocolMessageFromCrdtMessages: begins b as a Request with the
 * owner's write key (subscription None) and total_max (0 = default), then for
 * each message in the given (clock) order draws a fresh 24-byte nonce from
 * port->random and adds the encrypted change while canAddMessage holds; the
 * encrypted changes are carved from b's arena. If not all fitted, the first
 * one that did not fit has consumed its nonce (the TS code encrypts it and
 * throws it away; the ciphertext is never used, so it is not computed here)
 * and Fingerprint(Infinite, 12 random bytes) is added, which makes the relay
 * start a sync that delivers the rest. *included gets the number of messages
 * in the message. Emit with evolu_msg_builder_emit. */
evolu_err evolu_push_build(evolu_msg_builder *b, const evolu_port *port,
                           const evolu_owner *owner, const evolu_crdt_message *msgs,
                           size_t n, size_t total_max, size_t *included);

/* The relay's Broadcast of a Request's messages (spec 7.5): begins b as a
 * Broadcast for the request's owner and adds exactly the request's messages
 * (the changes point into the request's bytes, copied as received), no ranges.
 * req must be an opened reader; its iteration state is not changed.
 * total_max is the relay's limit (0 = default), as the TS relay passes it. */
evolu_err evolu_msg_build_broadcast(evolu_msg_builder *b, const evolu_msg_reader *req,
                                    size_t total_max);

#ifdef __cplusplus
}
#endif
#endif
