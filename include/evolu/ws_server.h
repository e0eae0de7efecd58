/*
 * evolu/ws_server.h - the relay's WebSocket server on libwebsockets 4.1.
 *
 * One thread, one event loop: the server opens the relay (evolu/relay.h),
 * accepts WebSocket connections (optionally TLS), reassembles fragmented
 * frames up to max_message bytes, hands each complete message to
 * evolu_relay_on_message and sends what the relay hands back.
 *
 * It never falls over:
 *  - a message above max_message closes THAT connection with 1009; everyone
 *    else keeps working;
 *  - malformed messages are logged and not answered (the relay decides);
 *  - every connection has a bounded send queue (bytes and messages); a client
 *    that does not read is first not read from (its requests wait), and if
 *    Broadcasts still pile up it is disconnected with 1008 instead of growing
 *    memory; all queued and partially received bytes together are bounded
 *    by inflight_max (a connection that would exceed it is closed with 1013);
 *  - connections above max_connections are refused at the upgrade (503);
 *  - idle peers are pinged and dead ones dropped;
 *  - evolu_ws_server_stop closes every connection with 1000 ("Evolu Relay
 *    shutting down") after flushing what was queued (bounded to 3 s), and
 *    acknowledged writes are already durable (see evolu/relay.h).
 *
 * The upgrade: with an allow-list, `?ownerId=` must name an allowed owner
 * (400 for a missing or invalid one, 401 for one not allowed, as the
 * TypeScript relay answers); without one the URL is not looked at.
 */
#ifndef EVOLU_WS_SERVER_H
#define EVOLU_WS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/relay.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evolu_ws_server_options {
    /* The relay's options (its send and headroom are set by the server). */
    evolu_relay_options relay;
    const char *host;            /* address to listen on; NULL = 127.0.0.1 */
    int port;                    /* 0 = a free port (see evolu_ws_server_port) */
    const char *tls_cert;        /* PEM files; both or neither */
    const char *tls_key;
    size_t max_connections;      /* default 4096 */
    size_t max_message;          /* default 1,000,000 (and never more) */
    size_t queue_max_bytes;      /* per connection; default 16 MiB */
    size_t queue_max_msgs;       /* per connection; default 4096 */
    size_t inflight_max;         /* all queues + partial messages; default 1 GiB */
    unsigned ping_secs;          /* idle seconds before a ping; default 30 */
    unsigned hangup_secs;        /* idle seconds before hanging up; default 90 */
    /* Where the stats line goes (evolu_ws_server_request_stats); NULL = the
     * relay's log at level info. */
    void (*on_stats)(void *ctx, const char *line);
    void *stats_ctx;
} evolu_ws_server_options;

void evolu_ws_server_options_default(evolu_ws_server_options *o);

typedef struct evolu_ws_server evolu_ws_server;

/* Opens the relay and starts listening. EVOLU_E_ARG for bad options,
 * EVOLU_E_STORAGE if the database cannot be opened, EVOLU_E_STATE if the
 * address cannot be bound or TLS cannot start, EVOLU_E_NOMEM. */
evolu_err evolu_ws_server_create(const evolu_ws_server_options *o, evolu_ws_server **out);

/* The port actually listened on, and "ws" or "wss". */
int evolu_ws_server_port(const evolu_ws_server *s);
const char *evolu_ws_server_scheme(const evolu_ws_server *s);
evolu_relay *evolu_ws_server_relay(evolu_ws_server *s);

/* Serves until evolu_ws_server_stop, then closes every connection with 1000
 * and returns. Call from one thread only. */
void evolu_ws_server_run(evolu_ws_server *s);

/* Ask the loop to stop / to emit a stats line. Safe from a signal handler
 * and from another thread. */
void evolu_ws_server_stop(evolu_ws_server *s);
void evolu_ws_server_request_stats(evolu_ws_server *s);

/* The network layer's own counters. */
typedef struct evolu_ws_stats {
    uint64_t upgrades_rejected;  /* 400 / 401 / 503 */
    uint64_t oversize_closed;    /* 1009 */
    uint64_t slow_closed;        /* 1008 send queue full */
    uint64_t busy_closed;        /* 1013 inflight_max */
    uint64_t bytes_sent;
    uint64_t inflight;           /* bytes queued or partially received now */
} evolu_ws_stats;

/* Only from the serving thread (or after run returned). */
void evolu_ws_server_get_stats(const evolu_ws_server *s, evolu_ws_stats *out);

/* One line with the relay's and the server's counters. */
void evolu_ws_server_stats_line(evolu_ws_server *s, char *out, size_t cap);

/* Closes the relay and frees everything. NULL is fine. */
void evolu_ws_server_destroy(evolu_ws_server *s);

#ifdef __cplusplus
}
#endif
#endif
