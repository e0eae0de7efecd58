/*
 * evolu/rbsr.h - Range-Based Set Reconciliation as Evolu implements it (spec
 * 6.2-6.9): one engine, two policies.
 *
 *  - the engine: balanced buckets, splitRange, the initiator's first message
 *    and the range-processing procedure `sync` (spec 6.5), exactly as
 *    @evolu/common 8.11.0 does it, with an option that reproduces the
 *    8.0.0-next.5 splitRange bug byte for byte (spec 6.3, 10 #1);
 *  - the non-initiator (relay) and initiator (client) message handlers
 *    (spec 6.6, 6.7) as policy around it: write keys, read-only owners,
 *    error codes, version mismatch, Broadcast.
 *
 * Freestanding and allocation-free. Storage is reached only through the
 * store table (evolu/store.h). The reply is assembled in a caller-provided
 * evolu_msg_builder (descriptor arrays + arena, see evolu/protocol.h): its
 * messages point at the changes the store hands out. Each Timestamps range
 * the engine adds needs a small record carved from the builder's arena
 * (EVOLU_RBSR_ARENA_PER_RANGE bytes per range, plus whatever the store itself
 * asks for); its timestamps are read from the store once, as the range is
 * walked, and copied to the arena (16 bytes each) when it has room - else
 * they are read back from the store by index when the reply is measured and
 * emitted, so a reply never gets less memory than it needs. Hence: emit the
 * reply before the store is written again, and do not allocate from the
 * arena between reconcile and emit. The handlers below do both.
 *
 * Answering a Timestamps range needs, for each of our timestamps, "does the
 * peer list it?" and finally "does the peer list anything we lack?". With
 * scratch space for the peer's list (16 bytes per timestamp) the engine sorts
 * it once: O(m log m + n). Without (or when it does not fit) it streams: the
 * peer list is sorted by millis, so each of our timestamps is looked up in the
 * peer's run of equal millis, and each peer timestamp is looked up in the
 * store with find_lower_bound: O(n * run + m log N), no memory. Both give the
 * same bytes.
 */
#ifndef EVOLU_RBSR_H
#define EVOLU_RBSR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/owner.h"
#include "evolu/port.h"
#include "evolu/protocol.h"
#include "evolu/store.h"
#include "evolu/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* computeBalancedBuckets' constants (spec 6.2). */
#define EVOLU_RBSR_BUCKETS 16u
#define EVOLU_RBSR_MIN_PER_BUCKET 2u
/* splitRange sends a Timestamps range below this many items. */
#define EVOLU_RBSR_SPLIT_MIN (EVOLU_RBSR_BUCKETS * EVOLU_RBSR_MIN_PER_BUCKET)
/* Arena bytes the engine uses per Timestamps range it adds (an upper bound,
 * alignment included). */
#define EVOLU_RBSR_ARENA_PER_RANGE 48u

/* computeBalancedBuckets(n, 16, 2): false if n < 32; otherwise out gets the
 * 16 cumulative bucket ends (the last is n). */
bool evolu_rbsr_balanced_buckets(uint64_t n, uint64_t out[EVOLU_RBSR_BUCKETS]);

/* The engine's state for one reply. */
typedef struct evolu_rbsr {
    const evolu_store *store;
    /* Reproduce the 8.0.0-next.5 splitRange bug (lists the items at indices
     * [0, count) instead of [lower, upper)); false = 8.11.0. */
    bool next5_split_bug;
    /* Optional scratch for sorting a peer's Timestamps list (see above). */
    uint8_t (*scratch)[EVOLU_TIMESTAMP_BYTES];
    size_t scratch_cap;
    /* Out: the store's error behind an EVOLU_E_SYNC result. */
    evolu_err cause;
} evolu_rbsr;

/* Sets up r over store (scratch may be NULL with cap 0). */
void evolu_rbsr_init(evolu_rbsr *r, const evolu_store *store, bool next5_split_bug,
                     uint8_t (*scratch)[EVOLU_TIMESTAMP_BYTES], size_t scratch_cap);

/* splitRange(lower, upper, upperBound) (spec 6.3) into b: one Timestamps range
 * below 32 items, else 16 Fingerprint ranges over balanced buckets.
 * upper_bound NULL = infinite. EVOLU_E_SYNC (r->cause set) on a store
 * failure; builder errors (EVOLU_E_CAPACITY, EVOLU_E_LIMIT, ...) as is;
 * EVOLU_E_ARG if lower > upper. */
evolu_err evolu_rbsr_split_range(evolu_rbsr *r, evolu_msg_builder *b, uint64_t lower,
                                 uint64_t upper, const evolu_timestamp *upper_bound);

/* createProtocolMessageForSync (spec 6.4): begins b as a Request without
 * write key, with the given subscription flag and default limits, and adds
 * splitRange(0, size, Infinite). Emit with evolu_msg_builder_emit. */
evolu_err evolu_rbsr_sync_request(evolu_rbsr *r, evolu_msg_builder *b,
                                  const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                  uint8_t subscription);

/* `sync` (spec 6.5): answers the ranges of the opened message in (its range
 * iteration is restarted) into b, which the caller has begun (a Response on
 * the relay, a Request with write key on the client). *changed = whether b
 * grew. EVOLU_E_SYNC (r->cause set) when the store fails or the peer's
 * bounds go backwards where the TypeScript storage would refuse; builder
 * errors as is. */
evolu_err evolu_rbsr_reconcile(evolu_rbsr *r, evolu_msg_reader *in, evolu_msg_builder *b,
                               bool *changed);

/* evolu_rbsr_reconcile over a message read from a source (evolu_msg_sreader,
 * evolu/protocol.h): the same reply, byte for byte, with the peer's ranges
 * and Timestamps lists read through the reader's window (the list being
 * answered uses its slices 0-2), so the ranges section of a large message
 * never has to be in RAM. */
evolu_err evolu_rbsr_reconcile_source(evolu_rbsr *r, evolu_msg_sreader *in,
                                      evolu_msg_builder *b, bool *changed);

/* A batch (evolu/store.h) over the messages of an opened reader; `copy` holds
 * the iteration state and must outlive the batch. */
void evolu_rbsr_batch_from_reader(evolu_store_batch *batch, evolu_msg_reader *copy,
                                  const evolu_msg_reader *in);

/* --- non-initiator: the relay (spec 6.6, 7.3-7.5) ----------------------------------- */

typedef struct evolu_relay_config {
    const evolu_port *port;   /* evolu_write_key_equal */
    void *ctx;                /* passed to every callback */
    /* The owner's store (created if new). */
    evolu_err (*open_store)(void *ctx, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                            evolu_store *out);
    /* The stored write key of the owner (*found = false if none). */
    evolu_err (*get_write_key)(void *ctx, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                               uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES], bool *found);
    /* Stores the first write key presented for an owner (first write wins). */
    evolu_err (*set_write_key)(void *ctx, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                               const uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES]);
    /* Subscription flag 1 / 2 of a Request (may be NULL). */
    void (*subscribe)(void *ctx, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]);
    void (*unsubscribe)(void *ctx, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]);
    /* After the request's messages were stored: send them to the owner's
     * other subscribers (build with evolu_msg_build_broadcast). May be NULL. */
    void (*broadcast)(void *ctx, const evolu_msg_reader *request);
    size_t total_max;         /* reply limit; 0 = 1,000,000 */
    size_t ranges_max;        /* 0 = 30,000 */
    size_t input_max;         /* largest accepted request; 0 = 1,000,000 */
    bool next5_split_bug;
    uint8_t (*scratch)[EVOLU_TIMESTAMP_BYTES];
    size_t scratch_cap;
} evolu_relay_config;

/* What the relay did, for logging. */
typedef struct evolu_relay_outcome {
    uint8_t error_code;   /* errorCode of the reply (0 also for a version reply) */
    bool version_reply;   /* the reply was varint(1) || ownerId */
    evolu_err cause;      /* the local error behind errorCode 2, 3 or 4 */
} evolu_relay_outcome;

/* applyProtocolMessageAsRelay: handles one request and writes the reply to
 * reply (capacity >= total_max is always enough). EVOLU_OK = reply written
 * (the relay always answers a well-formed Request, spec 6.6). Any other
 * result = send nothing: malformed input or a wrong message type
 * (ProtocolInvalidDataError), a failing write-key callback, a builder
 * error the TypeScript relay would have thrown on, or EVOLU_E_BUFFER if reply
 * is too small. A store failure, or descriptor arrays too small for the
 * answer, become errorCode 4 (SyncError). b provides the reply's memory;
 * out may be NULL.
 *
 * Order of effects is the TypeScript relay's: subscription, then the write
 * key (a first key claims the owner), then the messages. Unlike it, the whole
 * request is validated before any message is stored, so a request with
 * malformed ranges stores nothing (both send no reply). */
evolu_err evolu_relay_handle(const evolu_relay_config *cfg, const uint8_t *in, size_t len,
                             evolu_msg_builder *b, evolu_writer *reply,
                             evolu_relay_outcome *out);

/* --- initiator: the client (spec 6.7) ------------------------------------------------- */

typedef struct evolu_client_config {
    const uint8_t *owner_id;   /* 16 bytes: messages for other owners are refused */
    const evolu_store *store;  /* its write_messages decrypts and applies (spec 8) */
    const uint8_t *write_key;  /* 16 bytes, or NULL for a read-only owner */
    size_t ranges_max;         /* 0 = 30,000 */
    size_t input_max;          /* largest accepted message; 0 = 100,000,000 */
    bool next5_split_bug;      /* for reproducing 8.0.0-next.5 clients */
    uint8_t (*scratch)[EVOLU_TIMESTAMP_BYTES];
    size_t scratch_cap;
    /* Largest reply (totalMaxSize of the Request built; 0 = 1,000,000). A
     * device whose builder arena holds a few KB of changes read back from its
     * store sets it below the arena: the engine then stops adding messages
     * where they would not fit and ends the reply with a Fingerprint range,
     * so the rest follows in the next round instead of the round failing
     * with EVOLU_E_CAPACITY. */
    size_t total_max;
} evolu_client_config;

typedef enum evolu_client_status {
    EVOLU_CLIENT_RESPONSE = 0,  /* reply written: send it */
    EVOLU_CLIENT_CONVERGED,     /* nothing more to send: sync complete */
    EVOLU_CLIENT_BROADCAST,     /* a Broadcast was applied; never answered */
    EVOLU_CLIENT_READONLY,      /* messages applied; no write key, no sync */
} evolu_client_status;

typedef struct evolu_client_outcome {
    evolu_client_status status;
    uint64_t version;            /* EVOLU_E_VERSION: the peer's version */
    bool initiator_obsolete;     /* EVOLU_E_VERSION: our version is the lower one */
    evolu_err cause;             /* the store's error behind a local EVOLU_E_SYNC */
    bool local_failure;          /* the error happened here, not on the relay */
} evolu_client_outcome;

/* applyProtocolMessageAsClient with the 8.11.0 rules: EVOLU_OK with
 * out->status; errors stop the exchange (send nothing):
 *   EVOLU_E_VERSION (out->version, out->initiator_obsolete),
 *   EVOLU_E_WRITE_KEY / WRITE / QUOTA / SYNC for the relay's error codes 1-4,
 *   EVOLU_E_ERROR_CODE, EVOLU_E_MESSAGE_TYPE, decoding errors (invalid data),
 *   EVOLU_E_OWNER for another owner's message,
 *   the store's write error as is (decrypt, drift, quota, ...: the batch is
 *   refused and, unlike 8.0.0-next.5, the client does not keep syncing),
 *   EVOLU_E_SYNC with local_failure for a store failure while reconciling,
 *   builder errors as is, EVOLU_E_BUFFER if reply is too small. */
evolu_err evolu_client_handle(const evolu_client_config *cfg, const uint8_t *in, size_t len,
                              evolu_msg_builder *b, evolu_writer *reply,
                              evolu_client_outcome *out);

/* Applies the messages of a Response or Broadcast read from a source: iterate
 * in with evolu_msg_sreader_next_message (already rewound) and read each
 * change from the source (in pieces if large: evolu_dbchange_decrypt_stream).
 * All or nothing, like evolu_store.write_messages; an error refuses the batch. */
typedef evolu_err (*evolu_client_write_source_fn)(void *ctx, evolu_msg_sreader *in);

/* evolu_client_handle for a message that is not in memory: it is read from
 * src through msg (the reader's storage, caller-owned) and window (>=
 * EVOLU_MSG_SREADER_WINDOW_MIN), so a 1,000,000-byte Response costs a window,
 * not its size. The messages are applied by write(write_ctx, msg) instead of
 * cfg->store->write_messages (whose batch hands out changes in memory); the
 * ranges are answered with evolu_rbsr_reconcile_source over cfg->store. Same
 * rules, statuses and errors as evolu_client_handle. reply may be NULL: then
 * EVOLU_CLIENT_RESPONSE means "b holds the reply", for the caller to emit
 * (e.g. evolu_msg_builder_emit_sink, so the reply is never in RAM either). */
evolu_err evolu_client_handle_source(const evolu_client_config *cfg, evolu_msg_sreader *msg,
                                     const evolu_source *src, uint8_t *window,
                                     size_t window_len, evolu_client_write_source_fn write,
                                     void *write_ctx, evolu_msg_builder *b,
                                     evolu_writer *reply, evolu_client_outcome *out);

#ifdef __cplusplus
}
#endif
#endif
