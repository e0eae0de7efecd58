/*
 * evolu/store.h - the timestamp index behind RBSR (spec 6.1), as a table of
 * functions plus a context, so one engine (src/core/rbsr.c) runs over any
 * storage: the host's in-memory index (evolu/mem_index.h), SQLite, or an
 * encrypted stream on a device's flash.
 *
 * A store holds ONE owner's ordered set of TimestampBytes (memcmp order), each
 * with its EncryptedDbChange exactly as received. Items are addressed by their
 * index in that order, 0 .. size-1. Whoever serves several owners resolves the
 * owner to a store before calling the engine.
 *
 * Every function returns an evolu_err. Any failure during reconciliation makes
 * the relay answer errorCode 4 (SyncError) and the client stop (spec 6.5,
 * 6.6); write_messages' EVOLU_E_QUOTA becomes errorCode 3, any other write
 * failure errorCode 2.
 */
#ifndef EVOLU_STORE_H
#define EVOLU_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called by iterate for each item in order; return false to stop early (that
 * is not an error). ts is valid only during the call. */
typedef bool (*evolu_store_visit_fn)(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                                     uint64_t index);

/* Memory a store may use to hand out change bytes it cannot point to (e.g. a
 * change read from flash): alloc carves n bytes that stay valid until the
 * reply being built is emitted. Stores that keep changes in addressable memory
 * ignore it. */
typedef struct evolu_store_arena {
    void *ctx;
    evolu_err (*alloc)(void *ctx, size_t n, uint8_t **out);
} evolu_store_arena;

/* A batch of messages to write, read sequentially and restartable (a store
 * that checks a quota first and inserts afterwards reads it twice). The
 * changes stay valid while the batch is used. */
typedef struct evolu_store_batch {
    void *ctx;
    uint64_t count;
    void (*rewind)(void *ctx);
    /* The next message; EVOLU_E_DONE after the last one. */
    evolu_err (*next)(void *ctx, evolu_timestamp *ts, const uint8_t **change,
                      size_t *change_len);
} evolu_store_batch;

typedef struct evolu_store {
    void *ctx;

    /* getSize: number of items. */
    evolu_err (*size)(void *ctx, uint64_t *out);

    /* XOR of the 12-byte fingerprints (SHA-256(TimestampBytes)[0..12]) of
     * the items at indices [begin, end); 12 zero bytes when begin == end.
     * EVOLU_E_ARG if begin > end or end > size. */
    evolu_err (*fingerprint)(void *ctx, uint64_t begin, uint64_t end,
                             uint8_t out[EVOLU_FINGERPRINT_BYTES]);

    /* findLowerBound with the exact TypeScript semantics: if end == 0,
     * begin == end or bound is NULL (InfiniteUpperBound) the result is end;
     * otherwise it is the index of the first stored timestamp >= bound,
     * searched over the WHOLE set as the SQL store does (so it can lie
     * outside [begin, end) when the peer's bounds are not ascending), or end
     * if no stored timestamp is >= bound. EVOLU_E_ARG if begin > end. */
    evolu_err (*find_lower_bound)(void *ctx, uint64_t begin, uint64_t end,
                                  const uint8_t *bound /* 16 bytes or NULL */, uint64_t *out);

    /* Visits the items at indices [begin, end) in order with their index
     * until visit returns false. EVOLU_E_ARG if begin > end or end > size.
     * The store must not be modified during the walk, but its read functions
     * (read_change) may be called from visit. */
    evolu_err (*iterate)(void *ctx, uint64_t begin, uint64_t end, evolu_store_visit_fn visit,
                         void *visit_ctx);

    /* readDbChange: the stored EncryptedDbChange of ts. *change stays valid
     * until the store is next written (or, if the store used the arena, until
     * the arena is reset). EVOLU_E_ARG if ts is not stored. arena may be
     * NULL. */
    evolu_err (*read_change)(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                             const evolu_store_arena *arena, const uint8_t **change,
                             size_t *change_len);

    /* writeMessages: inserts the batch's timestamps and changes. A timestamp
     * already stored, or repeated in the batch, is ignored (the first one
     * wins; a stored change is never replaced). All or nothing: on any error
     * nothing of the batch is stored. EVOLU_E_QUOTA if the owner's quota
     * refuses the new bytes; other errors are write failures. A client store
     * decrypts and applies here and may return EVOLU_E_DECRYPT,
     * EVOLU_E_CLOCK_DRIFT, ... */
    evolu_err (*write_messages)(void *ctx, const evolu_store_batch *batch);
} evolu_store;

/* A batch over an array of messages (ts[i], changes[i], lens[i]). */
typedef struct evolu_store_array_batch {
    const evolu_timestamp *ts;
    const uint8_t *const *changes;
    const size_t *lens;
    size_t n, pos;
} evolu_store_array_batch;

/* Makes a batch reading the array a (a must outlive the batch). */
void evolu_store_batch_from_array(evolu_store_batch *batch, evolu_store_array_batch *a,
                                  const evolu_timestamp *ts, const uint8_t *const *changes,
                                  const size_t *lens, size_t n);

/* The timestamp at index i (iterate over [i, i+1)). EVOLU_E_ARG if i >= size. */
evolu_err evolu_store_timestamp_at(const evolu_store *s, uint64_t i,
                                   uint8_t out[EVOLU_TIMESTAMP_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
