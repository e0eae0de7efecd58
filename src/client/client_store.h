/*
 * client_store.h (internal to src/client) - the RBSR store (evolu/store.h)
 * over one owner's set in a client database.
 *
 * Until the client database has its own indexed store, this keeps an
 * in-memory index (mem_index) mirroring evolu_message for the owner: loaded
 * at open, extended by received batches (write_messages applies the batch
 * with evolu_client_db_apply first, then mirrors it) and by local mutations
 * (evolu_cstore_note_local reads the rows stamped after a given time).
 */
#ifndef EVOLU_CLIENT_STORE_INTERNAL_H
#define EVOLU_CLIENT_STORE_INTERNAL_H

#include "evolu/client_db.h"
#include "evolu/store.h"

typedef struct evolu_cstore evolu_cstore;

/* owner must outlive the store (the session keeps it). */
evolu_err evolu_cstore_open(evolu_client_db *db, const evolu_port *port,
                            const evolu_owner *owner, evolu_cstore **out);
void evolu_cstore_close(evolu_cstore *cs);
const evolu_store *evolu_cstore_store(evolu_cstore *cs);
/* Mirrors the owner's messages stamped after `since` (local mutations). */
evolu_err evolu_cstore_note_local(evolu_cstore *cs, const evolu_timestamp *since);
/* The first batch the database refused, with the failing message. */
evolu_err evolu_cstore_last_failure(const evolu_cstore *cs, evolu_client_db_failure *f);

#endif
