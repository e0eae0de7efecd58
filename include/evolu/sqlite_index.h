/*
 * evolu/sqlite_index.h - the persistent timestamp index (the relay's, and the
 * client database's): the second implementation of evolu_store
 * (evolu/store.h), in a SQLite database, for any number of owners.
 *
 * Design: a counted B+-tree per owner, whose nodes are rows of one SQLite
 * table (one BLOB per node). A leaf holds up to 64 sorted TimestampBytes with
 * their 12-byte fingerprints and a link to the next leaf; an inner node holds
 * up to 64 children, each with its item count, the XOR of its items'
 * fingerprints and its smallest timestamp. So
 *   - fingerprint(begin, end) = prefix(end) ^ prefix(begin), each prefix one
 *     root-to-leaf descent by index;
 *   - find_lower_bound = one descent by key, adding the counts on the left;
 *   - the timestamp at an index and iterate(begin, end) = one descent, then
 *     the leaf chain;
 *   - an insert = one descent, updating count / XOR / smallest key on the
 *     path and splitting full nodes (an insert at the right edge, the usual
 *     case for new timestamps, splits 64/1 so appended trees stay full).
 * Every call reads O(height) rows by primary key, and height = log64(N): 3
 * rows for a million items. Nothing scans. This is simpler to keep exact than
 * the TypeScript relay's probabilistic skiplist (spec 7.2) and gives equal
 * results, which is all the protocol needs (spec 6.1).
 *
 * Tables (all prefixed evolu_idx_; NOT the TypeScript relay's layout - our
 * relay keeps its own file, and other evolu_* tables, e.g. a write-key
 * table, may live in the same database):
 *   evolu_idx_owner   (ownerId BLOB PRIMARY KEY, root, height, size,
 *                      storedBytes)
 *   evolu_idx_node    (id INTEGER PRIMARY KEY, data BLOB) - node ids are
 *                      shared by all owners; a rowid table keeps a 2.8 KB
 *                      node in one page (WITHOUT ROWID would overflow it)
 *   evolu_idx_message (ownerId, timestamp BLOB, change BLOB;
 *                      PRIMARY KEY (ownerId, timestamp)) - the
 *                      EncryptedDbChange exactly as received.
 *
 * Writes: write_messages runs in one SAVEPOINT (so it nests inside a
 * transaction the caller may hold on its own handle): the messages, the tree
 * nodes and the owner's size and usage bytes commit together or not at all.
 * A timestamp already stored or repeated in the batch is ignored (the first
 * change wins and is never replaced). Crash safety is SQLite's: the database
 * opened by path uses WAL with synchronous=NORMAL, so a crash or power loss
 * loses at most the last committed batches, never consistency.
 *
 * Changes: SQLite cannot lend its memory beyond a statement, so read_change
 * copies each change into the arena the engine passes (the reply builder's
 * arena - give it room for a whole reply, total_max bytes, on top of
 * EVOLU_RBSR_ARENA_PER_RANGE per range) or, without an arena, into memory
 * the index keeps until the owner's next write.
 *
 * Read cache: between read calls the index keeps decoded nodes (up to 2,048,
 * ~6 MB, upper levels first) and owner rows while the database is unchanged -
 * checked on every read call with PRAGMA data_version (other connections'
 * commits) and sqlite3_total_changes64 (any change on this handle, including
 * the caller's own SQL and rolled-back transactions). Reads inside a
 * transaction bypass it. So a range fingerprint at a million items reads the
 * cached inner nodes and two leaf rows.
 *
 * The client database (evolu/client_db.h) uses the same tree over its own
 * evolu_message table, in its own file and transactions
 * (evolu_client_db_store).
 *
 * Not thread-safe: one index (and its handle) per thread.
 */
#ifndef EVOLU_SQLITE_INDEX_H
#define EVOLU_SQLITE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/owner.h"
#include "evolu/port.h"
#include "evolu/store.h"
#include "evolu/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sqlite3 sqlite3;
typedef struct evolu_sqlite_index evolu_sqlite_index;

/* Opens (creating if needed) the database file at path in WAL mode, creates
 * the evolu_idx_ tables if missing. port computes fingerprints (SHA-256) and
 * must outlive the index. EVOLU_E_STORAGE if SQLite fails, EVOLU_E_NOMEM. */
evolu_err evolu_sqlite_index_open_path(const evolu_port *port, const char *path,
                                       evolu_sqlite_index **out);

/* The same over the caller's handle (not closed by evolu_sqlite_index_close;
 * the caller chooses journal mode and may share the handle with its own
 * tables, e.g. the relay's write keys). */
evolu_err evolu_sqlite_index_open_db(const evolu_port *port, sqlite3 *db,
                                     evolu_sqlite_index **out);

/* Finalizes statements, frees the owner handles, and closes the database if
 * the index opened it. NULL is fine. */
void evolu_sqlite_index_close(evolu_sqlite_index *idx);

/* The store table for one owner (the owner's rows are created on its first
 * write). Valid until the index is closed; asking again for the same owner
 * gives the same context. EVOLU_E_NOMEM. */
evolu_err evolu_sqlite_index_store(evolu_sqlite_index *idx,
                                   const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                   evolu_store *out);

/* Number of items and the sum of the stored changes' lengths (what the
 * relay's quota counts, spec 7.4) of an owner (0 for an unknown owner). */
evolu_err evolu_sqlite_index_owner_usage(evolu_sqlite_index *idx,
                                         const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                         uint64_t *size, uint64_t *stored_bytes);

/* Quota for every owner of this index: a write whose new changes would bring
 * the owner's stored bytes above max_bytes is refused with EVOLU_E_QUOTA and
 * stores nothing. 0 = none. */
void evolu_sqlite_index_set_quota(evolu_sqlite_index *idx, uint64_t max_bytes);

/* Checks an owner's tree: sorted keys, counts, XORs, smallest keys and leaf
 * links all agree with the messages table. For tests; O(N). EVOLU_E_STATE
 * if anything disagrees. */
evolu_err evolu_sqlite_index_verify(evolu_sqlite_index *idx,
                                    const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
