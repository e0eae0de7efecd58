/*
 * evolu/stream_store.h - the device's timestamp index and change cache, kept
 * on an UNTRUSTED host (a phone or PC over USB) and streamed through a few
 * kilobytes of device RAM. docs/device.md gives the format byte for byte.
 *
 * The index is one owner's ordered set of entries (TimestampBytes 16 B +
 * fingerprint 12 B), stored as fixed-size records: chunks of
 * EVOLU_STREAM_CHUNK_ENTRIES entries, then one trailer (sequence, count, max
 * timestamp). Each record is XChaCha20-Poly1305 under the device key with a
 * random nonce. The port's AEAD has no associated data, so the binding that
 * AD would give is carried inside the authenticated plaintext instead: every
 * chunk starts with its chunk index and the generation's sequence number, and
 * the reader compares both (equivalent: the tag covers them).
 *
 * A small trusted state on the device (key, acknowledged sequence, highest
 * issued sequence, index length, clock) decides what the host may present:
 * the acknowledged generation, or - after a power cut between the host's
 * commit and the trusted-state update - the one generation begun last. An
 * older index is EVOLU_E_STREAM_REPLAY, a shorter one
 * EVOLU_E_STREAM_TRUNCATED, a chunk in the wrong place or from another
 * generation EVOLU_E_STREAM_ORDER / _REPLAY, any flipped bit or a wrong key
 * EVOLU_E_STREAM_TAMPERED. Sequence numbers are never reused, so no two
 * generations ever share (seq, chunk index).
 *
 * Changes (EncryptedDbChange, already end-to-end encrypted by the owner) are
 * cached on the host as opaque blobs keyed by timestamp.
 *
 * Writing merges a batch into a NEW generation in one streaming pass (old
 * chunk in, new chunk out), then commits: all or nothing, and a batch is
 * acknowledged only once the trusted state says so. The working set is this
 * struct (asserted <= 4 KB by the tests) plus small stack frames.
 *
 * Reading keeps one decrypted chunk (a cursor) and the running XOR of
 * fingerprints before it, plus a few remembered prefix XORs: fingerprint(a, b)
 * = P(b) ^ P(a). RBSR asks in ascending order (find_lower_bound, fingerprint,
 * iterate), so a round moves the cursor forward once over the index; reading
 * back timestamps by index seeks directly to one chunk (fixed offsets), and
 * a lookup just behind the cursor (a peer's Timestamps list checked after
 * our own were walked) finds its chunk from the first/last timestamps of the
 * last few chunks read instead of searching from the start.
 * See docs/device.md for why this and not a per-chunk fingerprint array.
 *
 * Freestanding like the core: no malloc, no I/O, crypto only via evolu_port.
 */
#ifndef EVOLU_STREAM_STORE_H
#define EVOLU_STREAM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/port.h"
#include "evolu/store.h"
#include "evolu/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVOLU_STREAM_ENTRY_BYTES 28u   /* TimestampBytes 16 + fingerprint 12 */
#define EVOLU_STREAM_CHUNK_ENTRIES 32u
#define EVOLU_STREAM_CHUNK_HEAD 16u    /* "EVSC", chunk index u32, seq u64 */
#define EVOLU_STREAM_CHUNK_PLAIN \
    (EVOLU_STREAM_CHUNK_HEAD + EVOLU_STREAM_CHUNK_ENTRIES * EVOLU_STREAM_ENTRY_BYTES)
/* One chunk on the host: nonce 24 || ciphertext || tag 16 (952 bytes). */
#define EVOLU_STREAM_RECORD_BYTES \
    (EVOLU_AEAD_NONCE_BYTES + EVOLU_STREAM_CHUNK_PLAIN + EVOLU_AEAD_TAG_BYTES)
/* Trailer plaintext: "EVST", version, entries per chunk, 2 zero, seq u64,
 * count u64, max timestamp 16. On the host 80 bytes. */
#define EVOLU_STREAM_TRAILER_PLAIN 40u
#define EVOLU_STREAM_TRAILER_BYTES \
    (EVOLU_AEAD_NONCE_BYTES + EVOLU_STREAM_TRAILER_PLAIN + EVOLU_AEAD_TAG_BYTES)
/* Batch timestamps selected per scan of a batch during a merge. */
#define EVOLU_STREAM_SELECT 16u
/* Remembered prefix XORs, and first/last timestamps of recently read chunks. */
#define EVOLU_STREAM_MEMO 4u
#define EVOLU_STREAM_MARKS 4u

/* The untrusted host. Every function returns an evolu_err; a missing blob is
 * EVOLU_E_ARG, an I/O failure EVOLU_E_STORAGE. */
typedef struct evolu_stream_host {
    void *ctx;
    /* The committed index: its length (0 = none yet) and bytes at off. */
    evolu_err (*index_size)(void *ctx, uint64_t *len);
    evolu_err (*index_read)(void *ctx, uint64_t off, uint8_t *buf, size_t n);
    /* A new index generation: begin, append bytes, then commit replaces the
     * committed index atomically (abort drops it). */
    evolu_err (*write_begin)(void *ctx);
    evolu_err (*write_append)(void *ctx, const uint8_t *p, size_t n);
    evolu_err (*write_commit)(void *ctx);
    void (*write_abort)(void *ctx);
    /* Opaque change blobs keyed by timestamp. */
    evolu_err (*blob_put)(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                          const uint8_t *p, size_t n);
    evolu_err (*blob_size)(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES], size_t *n);
    evolu_err (*blob_read)(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES], size_t off,
                           uint8_t *buf, size_t n);
} evolu_stream_host;

/* The device's trusted state (kept in its own flash / secure storage). */
typedef struct evolu_stream_trusted {
    uint8_t key[EVOLU_AEAD_KEY_BYTES]; /* device key, never leaves the device */
    uint64_t seq;      /* acknowledged generation; 0 = empty store */
    uint64_t issued;   /* highest generation ever begun (>= seq) */
    uint64_t length;   /* host index bytes of generation seq */
    uint8_t clock[EVOLU_TIMESTAMP_BYTES]; /* highest timestamp ever written */
} evolu_stream_trusted;

typedef struct evolu_stream_config {
    const evolu_port *port;
    const evolu_stream_host *host;
    /* The live trusted state: the store updates it, then calls save, which
     * must persist it atomically before returning EVOLU_OK. */
    evolu_stream_trusted *trusted;
    void *save_ctx;
    evolu_err (*save)(void *ctx, const evolu_stream_trusted *t);
    /* Where read_change puts a change when the caller gives no arena (may
     * be NULL/0: read_change without an arena is then EVOLU_E_BUFFER). */
    uint8_t *change_buf;
    size_t change_cap;
} evolu_stream_config;

/* Counters for tests and measurements. */
typedef struct evolu_stream_stats {
    uint64_t chunk_reads;   /* chunk records read and decrypted */
    uint64_t chunk_writes;  /* chunk records encrypted and appended */
    uint64_t batch_scans;   /* passes over a write batch */
} evolu_stream_stats;

/* The whole working state; the caller owns the memory (e.g. a static). */
typedef struct evolu_stream_store {
    evolu_stream_config cfg;
    bool opened;
    uint64_t seq, count;
    uint32_t nchunks;
    /* Two chunk slots (records decrypted in place). Reading keeps the two
     * chunks read last, so a range straddling a chunk boundary reads back
     * without re-reading; the cursor is slot cur_slot, holding chunk cur.
     * A merge reads the old index into slot 0 and writes from slot 1. */
    uint8_t slot[2][EVOLU_STREAM_RECORD_BYTES];
    uint32_t slot_chunk[2];      /* UINT32_MAX = empty */
    bool slot_has_prefix[2];     /* slot_prefix = XOR of entries before it */
    uint8_t slot_prefix[2][EVOLU_FINGERPRINT_BYTES];
    unsigned cur_slot;
    uint32_t cur;                /* slot_chunk[cur_slot] */
    uint64_t memo_idx[EVOLU_STREAM_MEMO];
    uint8_t memo_fp[EVOLU_STREAM_MEMO][EVOLU_FINGERPRINT_BYTES];
    unsigned memo_n, memo_next;
    struct evolu_stream_mark {
        uint32_t chunk; /* UINT32_MAX = unused */
        uint8_t first[EVOLU_TIMESTAMP_BYTES], last[EVOLU_TIMESTAMP_BYTES];
    } marks[EVOLU_STREAM_MARKS];
    unsigned mark_next;
    /* merge: the selected batch items */
    struct evolu_stream_sel {
        uint8_t ts[EVOLU_TIMESTAMP_BYTES];
        union {
            const uint8_t *change;
            uint64_t ref; /* evolu_stream_store_merge_source: where it is */
        };
        size_t len;
    } sel[EVOLU_STREAM_SELECT];
    evolu_stream_stats stats;
} evolu_stream_store;

/* Sets up s (no I/O). Call evolu_stream_store_open next. */
void evolu_stream_store_init(evolu_stream_store *s, const evolu_stream_config *cfg);

/* Checks the host's committed index against the trusted state (reads the
 * trailer only; chunks are verified as they are read): accepts the
 * acknowledged generation, or promotes the last begun one (and saves the
 * trusted state). Typed errors as described above. A store whose trusted
 * seq is 0 and whose host has no index is empty. */
evolu_err evolu_stream_store_open(evolu_stream_store *s);

/* Reads and verifies every chunk (one pass): the first error found. */
evolu_err evolu_stream_store_check(evolu_stream_store *s);

/* The evolu_store table over s (valid while s lives). */
void evolu_stream_store_table(evolu_stream_store *s, evolu_store *out);

/* Number of entries of the open generation. */
uint64_t evolu_stream_store_count(const evolu_stream_store *s);

/* Merges the batch (any order, duplicates allowed; the first occurrence of a
 * timestamp wins and stored ones are kept) into a new generation and commits
 * it. *inserted (may be NULL) = new entries. EVOLU_OK means acknowledged:
 * the trusted state was saved. On an error nothing new is acknowledged; the
 * store must be opened again if the error came after the host's commit. */
evolu_err evolu_stream_store_merge(evolu_stream_store *s, const evolu_store_batch *batch,
                                   uint64_t *inserted);

/* Changes of a batch that are not in memory (a received message the host
 * keeps, read through an evolu_source): the batch's next() may hand out any
 * change pointer (it is not read); right after each next(), position() says
 * where that change is (e.g. its offset in the source), and a change the
 * merge stores is handed to put(ctx, position, ts, len), which writes it as
 * the blob of ts (host->blob_put, in pieces if it likes). */
typedef struct evolu_stream_changes {
    void *ctx;
    uint64_t (*position)(void *ctx);
    evolu_err (*put)(void *ctx, uint64_t position, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                     size_t len);
} evolu_stream_changes;

/* evolu_stream_store_merge for such a batch: the same generation, the same
 * effects in the same order, but each new change's blob comes from
 * changes->put instead of the batch's pointer. Only the 16 selected items'
 * positions are kept, so the batch can be any size. */
evolu_err evolu_stream_store_merge_source(evolu_stream_store *s, const evolu_store_batch *batch,
                                          const evolu_stream_changes *changes,
                                          uint64_t *inserted);

#ifdef __cplusplus
}
#endif
#endif
