/*
 * proxy_internal.h - the parts of `evolu proxy` (evolu/proxy.h) behind its
 * main loop, one file each:
 *
 *   ws_pipe.c      a raw WebSocket message pipe to a relay on libwebsockets:
 *                  binary messages out and in, no Evolu session (the proxy
 *                  only carries what the device built)
 *   proxy_queue.c  the durable store-and-forward queue: one file per message
 *   proxy_store.c  the device's host store served on link channel 1
 *
 * Private to src/net; the tests include it for the pieces' own tests.
 */
#ifndef EVOLU_NET_PROXY_INTERNAL_H
#define EVOLU_NET_PROXY_INTERNAL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/owner.h"

/* --- ws_pipe.c ------------------------------------------------------------------ */

typedef struct evolu_ws_pipe evolu_ws_pipe;
typedef struct evolu_ws_pipe_conn evolu_ws_pipe_conn;

/* Called from inside evolu_ws_pipe_service (never re-entrantly). */
typedef struct evolu_ws_pipe_handler {
    void (*on_open)(void *ctx, evolu_ws_pipe_conn *c);
    /* One complete binary message (fragments reassembled); text is ignored. */
    void (*on_message)(void *ctx, evolu_ws_pipe_conn *c, const uint8_t *p, size_t n);
    /* A connection attempt failed or an open connection closed; why is
     * libwebsockets' text or ours. The conn may be connected again. */
    void (*on_close)(void *ctx, evolu_ws_pipe_conn *c, bool was_open, const char *why);
    void *ctx;
} evolu_ws_pipe_handler;

/* max_message: a bigger received message closes the connection. */
evolu_err evolu_ws_pipe_create(const evolu_ws_pipe_handler *h, size_t max_message,
                               evolu_ws_pipe **out);
/* Closes every connection at once and frees everything. NULL is fine. */
void evolu_ws_pipe_destroy(evolu_ws_pipe *p);
/* A connection object for url (ws:// or wss://, path and query kept as
 * given); not connected yet. EVOLU_E_URL, EVOLU_E_NOMEM. */
evolu_err evolu_ws_pipe_conn_new(evolu_ws_pipe *p, const char *url, void *user,
                                 evolu_ws_pipe_conn **out);
void *evolu_ws_pipe_user(const evolu_ws_pipe_conn *c);
/* Starts a connection attempt (on_open or on_close follows). EVOLU_E_STATE
 * if one is open or under way. */
evolu_err evolu_ws_pipe_connect(evolu_ws_pipe_conn *c);
bool evolu_ws_pipe_is_open(const evolu_ws_pipe_conn *c);
bool evolu_ws_pipe_is_idle(const evolu_ws_pipe_conn *c); /* neither open nor connecting */
/* Queues one binary message (copied). EVOLU_E_STATE when not open. */
evolu_err evolu_ws_pipe_send(evolu_ws_pipe_conn *c, const uint8_t *p, size_t n);
/* Bytes queued and not yet written to the socket. */
size_t evolu_ws_pipe_queued(const evolu_ws_pipe_conn *c);
/* Stops (true) or resumes reading from the relay: back-pressure. */
void evolu_ws_pipe_pause(evolu_ws_pipe_conn *c, bool pause);
/* Drops the connection now (on_close follows from the service loop). */
void evolu_ws_pipe_drop(evolu_ws_pipe_conn *c);
/* The descriptors to poll and the longest wait (ms) before servicing again. */
size_t evolu_ws_pipe_fds(evolu_ws_pipe *p, struct pollfd *fds, size_t cap, int *timeout_ms);
/* Services descriptors with revents set, then timers, without waiting. */
void evolu_ws_pipe_service(evolu_ws_pipe *p, struct pollfd *fds, size_t n);

/* --- proxy_queue.c ------------------------------------------------------------- */

/* The queue is a directory of files NNNNNNNNNNNNNNNN.msg (16 hex digits, the
 * sequence number), each one protocol message exactly as the device sent it.
 * A push writes SEQ.tmp, fsyncs it, renames it to SEQ.msg and fsyncs the
 * directory: once it returns EVOLU_OK the message survives kill -9 and power
 * loss. Opening removes stray .tmp files and loads the index (sequence, size,
 * owner) of every .msg file; message bytes stay on disk. */
typedef struct proxy_qentry {
    uint64_t seq;
    uint32_t size;
    uint8_t owner[EVOLU_OWNER_ID_BYTES];
    uint8_t timeouts; /* times the relay left it unanswered (in memory only) */
} proxy_qentry;

typedef struct proxy_queue proxy_queue;

evolu_err proxy_queue_open(const char *dir, size_t max_msgs, uint64_t max_bytes,
                           proxy_queue **out);
void proxy_queue_close(proxy_queue *q);
/* Durably appends a message of owner. The limits are soft (the caller stops
 * taking messages once proxy_queue_full): EVOLU_E_CAPACITY only at twice
 * them; EVOLU_E_STORAGE when the disk fails. */
evolu_err proxy_queue_push(proxy_queue *q, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                           const uint8_t *p, size_t n);
bool proxy_queue_full(const proxy_queue *q);
size_t proxy_queue_count(const proxy_queue *q);
uint64_t proxy_queue_bytes(const proxy_queue *q);
/* The i-th entry in sequence order (NULL past the end). */
proxy_qentry *proxy_queue_at(proxy_queue *q, size_t i);
/* The first entry of owner with seq > after (NULL if none). */
proxy_qentry *proxy_queue_next(proxy_queue *q, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                               uint64_t after);
/* Reads an entry's bytes into buf (e->size bytes). */
evolu_err proxy_queue_read(proxy_queue *q, const proxy_qentry *e, uint8_t *buf);
/* Forgets the message seq (the relay answered it) and unlinks its file. */
evolu_err proxy_queue_remove(proxy_queue *q, uint64_t seq);

/* --- proxy_store.c ------------------------------------------------------------- */

typedef struct proxy_store proxy_store;

/* Opens the host store in dir (evolu/stream_file_host.h). */
evolu_err proxy_store_open(const char *dir, proxy_store **out);
void proxy_store_close(proxy_store *s);
/* Answers one channel-1 request of n bytes: the reply goes to out (cap >=
 * mtu) and its length is returned; replies carry at most mtu bytes. A
 * malformed request gets a BAD_REQUEST reply. 0 only when even that cannot
 * be written (cap too small). */
size_t proxy_store_handle(proxy_store *s, const uint8_t *req, size_t n, size_t mtu,
                          uint8_t *out, size_t cap);
/* A new device session: an unfinished blob or index generation is dropped. */
void proxy_store_reset(proxy_store *s);

#endif
