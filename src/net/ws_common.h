/*
 * ws_common.h - libwebsockets client plumbing shared by ws_client.c (the
 * client library's sync connections) and ws_pipe.c (the proxy's raw message
 * pipe). Internal to src/net: not a public header.
 *
 * Both run one lws context per handle under the caller's poll loop (lws
 * external-poll callbacks), speak binary WebSocket messages only, reassemble
 * a received message from its fragments up to a size limit, and queue the
 * messages they send with the LWS_PRE headroom lws_write needs. What each
 * does with a finished message, a too-big one or a closed connection stays
 * in its own file; this module holds only the mechanics that are the same.
 */
#ifndef EVOLU_NET_WS_COMMON_H
#define EVOLU_NET_WS_COMMON_H

#include <libwebsockets.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"

/* --- the descriptors lws asks us to poll ---------------------------------- */

#define EVOLU_WS_MAX_FDS 64

typedef struct evolu_ws_fdset {
    struct pollfd fds[EVOLU_WS_MAX_FDS];
    size_t n;
} evolu_ws_fdset;

/* Keeps the set in step with lws's ADD_POLL_FD / DEL_POLL_FD /
 * CHANGE_MODE_POLL_FD callbacks (`in` is their struct lws_pollargs). Other
 * reasons, and a NULL set (a callback before the context has its user),
 * are ignored. Past EVOLU_WS_MAX_FDS a new descriptor is not recorded. */
void evolu_ws_fdset_update(evolu_ws_fdset *s, enum lws_callback_reasons reason, const void *in);

/* Copies up to cap descriptors with revents cleared; returns how many. */
size_t evolu_ws_fdset_copy(const evolu_ws_fdset *s, struct pollfd *fds, size_t cap);

/* --- URL -------------------------------------------------------------------- */

typedef struct evolu_ws_url {
    char *host; /* without the brackets of an IPv6 literal */
    char *path; /* starts with '/', keeps the query, drops any #fragment */
    int port;   /* explicit, or 443 for wss:// and 80 for ws:// */
    bool tls;
} evolu_ws_url;

/* Parses ws://host[:port][/path][?query][#fragment] (wss:// for TLS, host
 * may be [v6]). path_extra more bytes are allocated after the path's
 * terminator so the caller may append to it. EVOLU_E_URL on a malformed URL,
 * EVOLU_E_NOMEM; on error nothing stays allocated (host and path are NULL). */
evolu_err evolu_ws_url_parse(const char *url, size_t path_extra, evolu_ws_url *out);

/* Frees host and path (safe on a zeroed or failed url). */
void evolu_ws_url_free(evolu_ws_url *u);

/* --- context and connection -------------------------------------------------- */

/* Creates a client-only lws context (no listening port, TLS initialised)
 * whose user is `user`; ca_file NULL means the system CA bundle. The lws
 * log level comes from EVOLU_LWS_LOG (default 0: silent). NULL on failure. */
struct lws_context *evolu_ws_context_create(const struct lws_protocols *protocols, void *user,
                                            const char *ca_file);

/* Starts a client connection to u with the named local protocol; opaque is
 * the wsi's opaque user data and *pwsi is set by lws. Returns false when lws
 * could not start it (lws may already have called CONNECTION_ERROR). */
bool evolu_ws_connect(struct lws_context *ctx, const evolu_ws_url *u, const char *protocol,
                      void *opaque, struct lws **pwsi);

/* --- receive: one message from its fragments ---------------------------------- */

typedef struct evolu_ws_rx {
    uint8_t *buf;
    size_t len, cap;
    bool drop; /* the current message is skipped (a text message) */
} evolu_ws_rx;

typedef enum {
    EVOLU_WS_RX_MORE,     /* the message goes on */
    EVOLU_WS_RX_COMPLETE, /* its last fragment: buf/len hold it unless drop */
    EVOLU_WS_RX_TOO_BIG,  /* it would exceed max; nothing was appended */
    EVOLU_WS_RX_NOMEM,    /* the buffer could not grow */
} evolu_ws_rx_step;

/* Takes one CLIENT_RECEIVE fragment. A text message is marked dropped (the
 * protocol is binary; the TS client ignores text too). After COMPLETE the
 * caller uses the message (if !drop) and calls evolu_ws_rx_reset. */
evolu_ws_rx_step evolu_ws_rx_feed(evolu_ws_rx *rx, struct lws *wsi, const void *in, size_t len,
                                  size_t max);

/* Ready for the next message (the buffer is kept). */
void evolu_ws_rx_reset(evolu_ws_rx *rx);

/* Frees the buffer. */
void evolu_ws_rx_free(evolu_ws_rx *rx);

/* --- send queue ---------------------------------------------------------------- */

typedef struct evolu_ws_frame evolu_ws_frame;

typedef struct evolu_ws_queue {
    evolu_ws_frame *head, *tail;
    size_t bytes; /* payload bytes queued */
} evolu_ws_queue;

/* Appends a copy of n bytes (EVOLU_E_NOMEM). Asking lws for a writable
 * callback is the caller's business. */
evolu_err evolu_ws_queue_push(evolu_ws_queue *q, const uint8_t *bytes, size_t n);

/* Writes the first queued message as one binary message and removes it.
 * Returns -1 when lws did not take it all (the caller closes by returning
 * -1 from its callback), 0 otherwise (also when the queue is empty). */
int evolu_ws_queue_write_one(evolu_ws_queue *q, struct lws *wsi);

/* Frees every queued message. */
void evolu_ws_queue_clear(evolu_ws_queue *q);

#endif
