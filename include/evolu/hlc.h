/*
 * evolu/hlc.h - the hybrid logical clock (spec 3.1, 3.3).
 *
 * One clock per database: it advances when a local change to a synced table is
 * stamped (send) and when a received message is accepted (receive); the
 * resulting clock is what the caller persists. The functions are pure: the
 * caller passes `now` (port->now_ms(), captured once per request or batch, so a
 * replay gives the same result) and gets the new clock back.
 *
 * We follow @evolu/common 8.11.0, not 8.0.0-next.5 (spec 10, row 12):
 *
 *  - Counter exhaustion rolls over to millis + 1, counter 0, instead of failing
 *    with TimestampCounterOverflowError. In 8.0.0-next.5 a client making more
 *    than 65536 changes within one millisecond of its clock - easy when the
 *    clock runs ahead of system time after receiving a future timestamp -
 *    would fail every further write until system time caught up ("wedged").
 *    Rollover keeps timestamps unique and ordered; only the drift limit bounds
 *    how far ahead the clock may move.
 *  - receive rejects a remote timestamp that is itself beyond the drift limit
 *    *before* any clock arithmetic (cause EVOLU_HLC_REMOTE), so a hostile or
 *    broken peer cannot drag our clock into the future; 8.0.0-next.5 checked
 *    only the merged result, which cannot tell who was at fault.
 *  - The result is checked for drift after rollover; a failure reports the
 *    candidate timestamp (cause EVOLU_HLC_LOCAL) so the database can quarantine
 *    instead of dropping.
 *
 * Both versions produce the same timestamps in every other case.
 */
#ifndef EVOLU_HLC_H
#define EVOLU_HLC_H

#include <stdbool.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/port.h"
#include "evolu/timestamp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* defaultTimestampMaxDrift: 5 minutes. The database does not make it configurable. */
#define EVOLU_HLC_MAX_DRIFT 300000u

typedef enum evolu_hlc_cause {
    EVOLU_HLC_LOCAL = 0,  /* our clock (after advancing) is too far ahead of now */
    EVOLU_HLC_REMOTE = 1  /* the received timestamp is too far ahead of now */
} evolu_hlc_cause;

/* Details of an EVOLU_E_CLOCK_DRIFT (TS TimestampDriftError, 8.11.0 shape). */
typedef struct evolu_hlc_drift {
    evolu_timestamp timestamp; /* LOCAL: the candidate clock; REMOTE: the remote input */
    evolu_hlc_cause cause;
} evolu_hlc_drift;

/* createInitialTimestamp: millis 0, counter 0, a random 8-byte nodeId. */
void evolu_hlc_init(const evolu_port *port, evolu_timestamp *clock);

/* isTimestampBeyondMaxDrift: millis - now > max_drift (the exact limit passes). */
bool evolu_hlc_beyond_drift(uint64_t millis, int64_t now, uint64_t max_drift);

/* sendTimestamp: stamps a local change. *out gets the new clock.
 *   EVOLU_E_CLOCK_RANGE  now is not a valid Millis (0 .. 2^48-2), or the
 *                        counter would roll over past the largest Millis
 *   EVOLU_E_MILLIS       clock->millis is not a valid Millis
 *   EVOLU_E_CLOCK_DRIFT  the new clock is more than max_drift ahead of now;
 *                        *drift (if not NULL) gets the candidate, cause LOCAL
 * *out is written only on success. Pass EVOLU_HLC_MAX_DRIFT as max_drift. */
evolu_err evolu_hlc_send(const evolu_timestamp *clock, int64_t now, uint64_t max_drift,
                         evolu_timestamp *out, evolu_hlc_drift *drift);

/* receiveTimestamp: advances the clock `local` past a received timestamp.
 * Remote drift is checked first (cause REMOTE, *drift gets the remote
 * timestamp); then the later of local and remote (timestamp order) is
 * advanced like send, keeping local's nodeId. Errors as for send. */
evolu_err evolu_hlc_receive(const evolu_timestamp *local, const evolu_timestamp *remote,
                            int64_t now, uint64_t max_drift, evolu_timestamp *out,
                            evolu_hlc_drift *drift);

#ifdef __cplusplus
}
#endif
#endif
