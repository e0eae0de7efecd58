/*
 * evolu/proxy.h - the host proxy between a device and a relay (`evolu proxy`,
 * docs/proxy.md).
 *
 * The device speaks the link protocol (evolu/link.h, docs/link.md) over a
 * byte stream: a TCP connection (QEMU's `-serial tcp:`) or a serial device.
 * The proxy
 *  - forwards every complete protocol message the device sends on channel 0
 *    verbatim to the relay, one WebSocket connection per owner (the OwnerId
 *    read from the message header) opened on demand, and every message from
 *    the relay back to the device on channel 0;
 *  - stores and forwards: each device message is first written durably to
 *    the queue directory (fsync of the file and of the directory) and only
 *    then acknowledged on the link, so nothing the device saw acknowledged
 *    is lost by a relay outage or a kill -9 of the proxy; it leaves the
 *    queue when the relay answers it (messages are re-sent after a
 *    reconnect until then: at least once, which the relay's idempotent
 *    writes make harmless);
 *  - serves the device's host store (channel 1) from a directory
 *    (evolu/stream_file_host.h);
 *  - tells the device on channel 2 when its owner's relay connection goes up
 *    (0x01) or down (0x00).
 * It never decrypts anything and holds no key material: it reads only the
 * owner id and the message type in the clear headers.
 *
 * One thread, one poll loop. Memory is bounded: one device message being
 * assembled (<= 1,000,000 bytes), the messages waiting to go to the device
 * (to_device_max; the relay is not read from while they exceed it), the
 * WebSocket send queues (messages are read from the queue only while a
 * connection has fewer than PROXY_WINDOW unanswered), and the queue's index
 * (queue_max_messages entries of 32 bytes).
 */
#ifndef EVOLU_PROXY_H
#define EVOLU_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/relay.h" /* evolu_log_level, evolu_log_fn */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evolu_proxy_options {
    /* "tcp-listen:HOST:PORT" (PORT 0: a free one, see evolu_proxy_device_port)
     * or the path of a serial device (put in raw mode if it is a terminal). */
    const char *device;
    const char *relay_url;  /* ws:// or wss://; ?ownerId= is appended */
    const char *store_dir;  /* the device's host store */
    const char *queue_dir;  /* NULL: store_dir/queue */
    size_t queue_max_messages;  /* default 65536; when full, the device waits */
    uint64_t queue_max_bytes;   /* default 1 GiB */
    size_t to_device_max;       /* bytes waiting for the device; default 8 MiB */
    int reconnect_min_ms;       /* backoff of relay reconnects; default 250 */
    int reconnect_max_ms;       /* default 10000 */
    int reply_timeout_ms;       /* an unanswered message drops the connection; 30000 */
    uint32_t link_rto_ms;       /* link retransmission timeout; default 50 */
    uint32_t link_rto_max_ms;   /* default 1000 */
    evolu_log_fn log;           /* NULL: no logs */
    void *log_ctx;
    evolu_log_level log_level;  /* default (0 after memset) = error only */
} evolu_proxy_options;

/* Fills the defaults (log level info). */
void evolu_proxy_options_default(evolu_proxy_options *o);

typedef struct evolu_proxy evolu_proxy;

/* Opens the store and the queue (re-reading what a previous run left there),
 * and listens on / opens the device. EVOLU_E_ARG for bad options, EVOLU_E_URL
 * for a bad relay URL, EVOLU_E_STORAGE if a directory cannot be used,
 * EVOLU_E_STATE if the address cannot be bound or the device opened. */
evolu_err evolu_proxy_create(const evolu_proxy_options *o, evolu_proxy **out);

/* The TCP port the proxy listens on for the device (-1 for a serial device). */
int evolu_proxy_device_port(const evolu_proxy *p);

/* Serves until evolu_proxy_stop. */
void evolu_proxy_run(evolu_proxy *p);

/* One pass of the loop, waiting at most max_wait_ms (for tests that run the
 * proxy in their own thread of control). */
void evolu_proxy_step(evolu_proxy *p, int max_wait_ms);

/* Asks the loop to return; safe from a signal handler and another thread. */
void evolu_proxy_stop(evolu_proxy *p);

typedef struct evolu_proxy_stats {
    uint64_t device_msgs;     /* complete messages from the device, queued */
    uint64_t device_dropped;  /* malformed or unusable messages from the device */
    uint64_t forwarded;       /* messages sent to a relay (re-sends included) */
    uint64_t answered;        /* queued messages the relay answered (removed) */
    uint64_t relay_msgs;      /* messages from relays */
    uint64_t to_device;       /* messages delivered whole to the device link */
    uint64_t store_requests;  /* channel-1 requests answered */
    uint64_t device_sessions; /* link sessions established */
    uint64_t relay_connects;  /* relay connections opened */
    uint64_t queued_now;      /* messages in the queue now */
} evolu_proxy_stats;

void evolu_proxy_get_stats(const evolu_proxy *p, evolu_proxy_stats *out);

/* Closes everything; what is queued stays on disk for the next run. */
void evolu_proxy_destroy(evolu_proxy *p);

#ifdef __cplusplus
}
#endif
#endif
