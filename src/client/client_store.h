/*
 * client_store.h (internal to src/client) - the RBSR store (evolu/store.h)
 * over one owner's set in a client database.
 *
 * A thin wrapper around evolu_client_db_store (the database's own O(log N)
 * index, updated by received batches and local mutations in the same
 * transaction) that remembers the first batch the database refused, so a
 * session can say why it stopped.
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
/* Local mutations stamped after `since` are in the set already (the
 * database indexes them itself); kept so a session does not depend on how
 * the store learns about them. */
evolu_err evolu_cstore_note_local(evolu_cstore *cs, const evolu_timestamp *since);
/* The first batch the database refused, with the failing message. */
evolu_err evolu_cstore_last_failure(const evolu_cstore *cs, evolu_client_db_failure *f);

#endif
