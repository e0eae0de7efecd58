/*
 * sqlite_index_internal.h - the SQLite index (evolu/sqlite_index.h) as the
 * client database uses it: over a messages table the caller already keeps,
 * with the tree written key by key inside the caller's own transaction. Not
 * a public header.
 */
#ifndef EVOLU_SQLITE_INDEX_INTERNAL_H
#define EVOLU_SQLITE_INDEX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/sqlite_index.h"

/* Like evolu_sqlite_index_open_db, but read_change, write_messages and verify
 * use the caller's table msg_table (ownerId BLOB, timestamp BLOB, change BLOB,
 * primary key (ownerId, timestamp)) instead of evolu_idx_message, which is
 * not created. msg_table is put into SQL as a quoted identifier. */
evolu_err sidx_open_db_messages(const evolu_port *port, sqlite3 *db, const char *msg_table,
                                evolu_sqlite_index **out);

/* A tree-only batch for one owner, inside a transaction the caller holds
 * (no savepoint of its own): begin, add each NEW key (the caller guarantees
 * it is not in the tree yet: it has just inserted the key's row into its own
 * table) with its fingerprint and its change's length (usage bytes), then
 * end. end(true) writes the cached nodes and the owner row; end(false)
 * discards them (the caller then rolls back its transaction, which also
 * drops any node rows already written). One batch at a time per index;
 * write_messages is refused (EVOLU_E_STATE) while a batch is open. */
evolu_err sidx_keys_begin(evolu_sqlite_index *x, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]);
evolu_err sidx_keys_add(evolu_sqlite_index *x, const uint8_t key[EVOLU_TIMESTAMP_BYTES],
                        const uint8_t fp[EVOLU_FINGERPRINT_BYTES], size_t change_len);
evolu_err sidx_keys_end(evolu_sqlite_index *x, bool commit);

/* For a caller that is the only writer of the index's tables on its handle
 * (the relay: one connection, one thread, its own file): the read cache of
 * decoded nodes and owner rows is then also used inside transactions and
 * kept across them, updated by the index's own writes instead of being
 * dropped, so reads cost no SQL while the nodes fit the cache. It is dropped
 * on every rollback: the index's own savepoints, and whole transactions
 * through the handle's rollback hook, which this sets (and close clears).
 * The caller must not write evolu_idx_owner or evolu_idx_node itself, nor
 * let another connection write them. */
evolu_err sidx_set_sole_writer(evolu_sqlite_index *x);

#endif
