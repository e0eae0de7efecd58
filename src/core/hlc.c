/* hlc.c - hybrid logical clock send/receive, @evolu/common 8.11.0 rules
 * (spec 3.3; see evolu/hlc.h for why 8.11.0). */
#include "evolu/hlc.h"

#include <string.h>

static bool valid_now(int64_t now) {
    return now >= 0 && (uint64_t)now <= EVOLU_MAX_MILLIS;
}

void evolu_hlc_init(const evolu_port *port, evolu_timestamp *clock) {
    memset(clock, 0, sizeof *clock);
    port->random(port->ctx, clock->node_id, EVOLU_NODE_ID_BYTES);
}

bool evolu_hlc_beyond_drift(uint64_t millis, int64_t now, uint64_t max_drift) {
    /* now may be anything here; compare without signed overflow. */
    if (now < 0) return millis > max_drift || (uint64_t)(-(now + 1)) + 1 > max_drift - millis;
    return millis > (uint64_t)now && millis - (uint64_t)now > max_drift;
}

/* The send rule on an already validated clock and now. */
static evolu_err advance(const evolu_timestamp *clock, int64_t now, uint64_t max_drift,
                         evolu_timestamp *out, evolu_hlc_drift *drift) {
    evolu_timestamp next;
    uint64_t n = (uint64_t)now;
    uint32_t counter;

    next.millis = clock->millis > n ? clock->millis : n;
    counter = next.millis == clock->millis ? (uint32_t)clock->counter + 1u : 0u;
    if (counter > EVOLU_MAX_COUNTER) {
        /* Rollover; past the largest Millis the TS code throws. */
        if (next.millis >= EVOLU_MAX_MILLIS) return EVOLU_E_CLOCK_RANGE;
        next.millis++;
        counter = 0;
    }
    next.counter = (uint16_t)counter;
    memcpy(next.node_id, clock->node_id, EVOLU_NODE_ID_BYTES);

    if (evolu_hlc_beyond_drift(next.millis, now, max_drift)) {
        if (drift) {
            drift->timestamp = next;
            drift->cause = EVOLU_HLC_LOCAL;
        }
        return EVOLU_E_CLOCK_DRIFT;
    }
    *out = next;
    return EVOLU_OK;
}

evolu_err evolu_hlc_send(const evolu_timestamp *clock, int64_t now, uint64_t max_drift,
                         evolu_timestamp *out, evolu_hlc_drift *drift) {
    if (!valid_now(now)) return EVOLU_E_CLOCK_RANGE;
    if (clock->millis > EVOLU_MAX_MILLIS) return EVOLU_E_MILLIS;
    return advance(clock, now, max_drift, out, drift);
}

evolu_err evolu_hlc_receive(const evolu_timestamp *local, const evolu_timestamp *remote,
                            int64_t now, uint64_t max_drift, evolu_timestamp *out,
                            evolu_hlc_drift *drift) {
    if (!valid_now(now)) return EVOLU_E_CLOCK_RANGE;
    if (local->millis > EVOLU_MAX_MILLIS || remote->millis > EVOLU_MAX_MILLIS)
        return EVOLU_E_MILLIS;
    if (evolu_hlc_beyond_drift(remote->millis, now, max_drift)) {
        if (drift) {
            drift->timestamp = *remote;
            drift->cause = EVOLU_HLC_REMOTE;
        }
        return EVOLU_E_CLOCK_DRIFT;
    }
    /* The later clock state, with our own nodeId. */
    evolu_timestamp latest = evolu_timestamp_cmp(local, remote) >= 0 ? *local : *remote;
    memcpy(latest.node_id, local->node_id, EVOLU_NODE_ID_BYTES);
    return advance(&latest, now, max_drift, out, drift);
}
