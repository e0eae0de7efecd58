/*
 * evolu/client_owner.h - the owner a client database belongs to, kept in the
 * database itself (table evolu_c_owner), so `evolu owner new` / `owner restore`
 * and later commands agree on it without passing the mnemonic around again.
 *
 * One owner per database file. The row holds the owner secret (from which the
 * mnemonic and all keys derive) or, for a read-only owner, only its id and
 * encryption key (it can read and decrypt but never write to a relay). The
 * secret is as sensitive as the mnemonic: it lives in the database file the
 * way the TypeScript client keeps it in its own evolu_config; protect the
 * file. Every copy this module makes in memory is wiped with port->memzero.
 */
#ifndef EVOLU_CLIENT_OWNER_H
#define EVOLU_CLIENT_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/bytes.h"
#include "evolu/client_db.h"
#include "evolu/error.h"
#include "evolu/owner.h"
#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads the database's owner. *found = false (and *out untouched) when none is
 * set. *read_only (may be NULL) = true when only id and encryption key are
 * stored; out->write_key is then zero. EVOLU_E_STORAGE on SQLite failure or a
 * damaged row. The caller wipes *out with evolu_owner_wipe. */
evolu_err evolu_client_owner_load(evolu_client_db *db, const evolu_port *port,
                                  evolu_owner *out, bool *found, bool *read_only);

/* Sets the owner from its secret (16..64 bytes, EVOLU_E_ARG otherwise). The
 * same secret again is a no-op; a different owner already set gives
 * EVOLU_E_STATE, because data of two owners in one database would be synced
 * to the wrong one. out (may be NULL) receives the derived owner. */
evolu_err evolu_client_owner_set_secret(evolu_client_db *db, const evolu_port *port,
                                        const uint8_t *secret, size_t n, evolu_owner *out);

/* Same from a mnemonic (the evolu_mnemonic_to_secret errors). */
evolu_err evolu_client_owner_set_mnemonic(evolu_client_db *db, const evolu_port *port,
                                          const char *mnemonic, size_t n, evolu_owner *out);

/* Sets a read-only owner: id and encryption key only (write_key is ignored).
 * EVOLU_E_STATE if another owner is set. */
evolu_err evolu_client_owner_set_read_only(evolu_client_db *db, const evolu_port *port,
                                           const evolu_owner *owner);

/* Writes the owner's mnemonic to w (no NUL): EVOLU_E_STATE when no owner or a
 * read-only one (no secret) is stored; w->err if it did not fit. The caller
 * wipes the text. */
evolu_err evolu_client_owner_mnemonic(evolu_client_db *db, const evolu_port *port,
                                      evolu_writer *w);

#ifdef __cplusplus
}
#endif
#endif
