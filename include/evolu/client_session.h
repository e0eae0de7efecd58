/*
 * evolu/client_session.h - one owner's sync session with one relay, with no
 * I/O: the transport hands it the frames it receives and sends the frames it
 * returns. Keeping the protocol decisions here lets the same logic be tested
 * against an in-process relay and run over any transport.
 *
 * Lifecycle per connection:
 *   evolu_session_connected()  -> the first sync request (subscribe flag 1)
 *   evolu_session_receive()    -> for each frame from the relay: applies its
 *                                 messages, maybe a reply to send
 *   evolu_session_push()       -> after local mutations while connected: a
 *                                 Request carrying them (spec 6.8)
 *   evolu_session_unsubscribe()-> before closing on purpose
 *   evolu_session_disconnected()
 * Local mutations made while disconnected need nothing: they are stored in
 * the database's set and the next connection's sync delivers them.
 *
 * Converged means every Request sent on this connection has been answered
 * and the last answer needed no reply. A refused batch (decrypt, clock drift,
 * storage) or a relay error stops the session: it sends nothing more until
 * the next connection, and evolu_session_error tells why.
 */
#ifndef EVOLU_CLIENT_SESSION_H
#define EVOLU_CLIENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/client_db.h"
#include "evolu/error.h"
#include "evolu/owner.h"
#include "evolu/port.h"
#include "evolu/rbsr.h"
#include "evolu/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evolu_session evolu_session;

/* What one received frame did. */
typedef struct evolu_session_result {
    bool send;                 /* a reply frame was produced: send it */
    bool broadcast;            /* it was a Broadcast (applied, never answered) */
    bool converged;            /* no Request is waiting for an answer any more */
    evolu_client_outcome outcome; /* the engine's view (status, version, cause) */
} evolu_session_result;

/* Creates a session for owner over db. read_only: the owner has no write key
 * (sync requests carry none, nothing is pushed). The db and port must outlive
 * the session, and owner must outlive both the session and the db handle
 * (the database's store keeps a pointer to it, evolu_client_db_store). */
evolu_err evolu_session_create(evolu_client_db *db, const evolu_port *port,
                               const evolu_owner *owner, bool read_only,
                               evolu_session **out);
void evolu_session_destroy(evolu_session *s);

/* A connection opened: resets the per-connection state and builds the first
 * sync request with subscription flag 1 (subscribe) or 0. The frame stays
 * valid until the next call on s. */
evolu_err evolu_session_connected(evolu_session *s, bool subscribe, const uint8_t **frame,
                                  size_t *len);

/* Starts another sync round on an open connection (no subscription change). */
evolu_err evolu_session_resync(evolu_session *s, const uint8_t **frame, size_t *len);

/* Handles one received frame. EVOLU_OK with *res filled; when res->send the
 * reply is in *frame / *len (valid until the next call). Any error stops the
 * session (see above): relay error codes (EVOLU_E_WRITE_KEY, EVOLU_E_WRITE,
 * EVOLU_E_QUOTA, EVOLU_E_SYNC), EVOLU_E_VERSION, a refused batch's error
 * (EVOLU_E_DECRYPT, EVOLU_E_CLOCK_DRIFT, ...), invalid data, and a local
 * sync failure as its cause (EVOLU_E_LIMIT: a stored change larger than any
 * message can carry; EVOLU_E_STORAGE). After a stop every frame returns the
 * same error. */
evolu_err evolu_session_receive(evolu_session *s, const uint8_t *in, size_t len,
                                evolu_session_result *res, const uint8_t **frame,
                                size_t *frame_len);

/* After local mutations (stamped after `since`, the clock read before them):
 * makes them known to the sync set and, if connected, builds a push Request
 * of them (*len = 0 when there is nothing to send: disconnected, stopped,
 * read-only, or no new messages). */
evolu_err evolu_session_push(evolu_session *s, const evolu_timestamp *since,
                             const uint8_t **frame, size_t *len);

/* The unsubscribe Request (spec 6.10), for a deliberate close. */
evolu_err evolu_session_unsubscribe(evolu_session *s, const uint8_t **frame, size_t *len);

/* The connection is gone: unanswered Requests are forgotten (the next
 * connection syncs again) and a stop is cleared. */
void evolu_session_disconnected(evolu_session *s);

bool evolu_session_is_connected(const evolu_session *s);
/* Connected, not stopped and no Request waiting for an answer. */
bool evolu_session_is_converged(const evolu_session *s);
/* Requests sent and not yet answered. */
unsigned evolu_session_in_flight(const evolu_session *s);
/* Why the session stopped (EVOLU_OK if it has not). *failure (may be NULL)
 * is zeroed: the database's store reports the error of a refused batch but
 * not which message caused it. */
evolu_err evolu_session_error(const evolu_session *s, evolu_client_db_failure *failure);
/* The owner id. */
const uint8_t *evolu_session_owner_id(const evolu_session *s);

#ifdef __cplusplus
}
#endif
#endif
