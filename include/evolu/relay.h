/*
 * evolu/relay.h - the relay without I/O: its database, its policy and the
 * decisions of who gets what, for a network layer (src/net/ws_server.c) to
 * drive.
 *
 * The relay owns
 *   - one SQLite database file (WAL) with the timestamp index of every owner
 *     (evolu/sqlite_index.h: changes stored exactly as received, usage per
 *     owner) and a write-key table (evolu_relay_write_key, first write wins,
 *     compared in constant time by evolu_relay_handle);
 *   - the quota per owner in bytes of stored changes (errorCode 3);
 *   - an optional owner allow-list;
 *   - the connections and their subscriptions (owner <-> connection), so it
 *     decides who receives a Broadcast: every OTHER connection subscribed to
 *     the owner, after a successful write;
 *   - counters for the stats line.
 *
 * Durability: a reply is handed to send only after the write it answers is
 * committed. With synchronous_full (the default) the commit fsyncs the WAL,
 * so a write answered with errorCode 0 survives kill -9 and power loss.
 * Without it (synchronous=NORMAL) it still survives kill -9 of the process
 * (the WAL is in the kernel's page cache) but not a power loss.
 *
 * Group commit (group_commit, the default): the messages handled between two
 * calls of evolu_relay_flush share one transaction, and their replies and
 * Broadcasts are held until evolu_relay_flush has committed it. The network
 * layer calls evolu_relay_flush after each round of socket events, so many
 * concurrent writers cost one fsync instead of one each. If the commit
 * fails, nothing of the batch is stored and every held reply becomes a
 * Response with errorCode 2 (Broadcasts are dropped).
 *
 * Single-threaded: one relay is driven by one thread (the event loop).
 * Outgoing bytes are handed to the network layer as reference-counted
 * buffers with `headroom` free bytes in front (libwebsockets needs LWS_PRE),
 * so one Broadcast goes to many connections without copies.
 */
#ifndef EVOLU_RELAY_H
#define EVOLU_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/owner.h"
#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default quota: 100 MiB of stored changes per owner. The Docker relay of
 * Evolu allows 1 MiB, which a real app's history outgrows quickly; 100 MiB
 * keeps a single owner from filling a disk while never bothering a normal
 * app. */
#define EVOLU_RELAY_DEFAULT_QUOTA (100u * 1024u * 1024u)
/* Largest message the relay accepts (the TypeScript relay's maxPayload). */
#define EVOLU_RELAY_MAX_MESSAGE 1000000u

typedef enum evolu_log_level {
    EVOLU_LOG_ERROR = 0,
    EVOLU_LOG_WARN = 1,
    EVOLU_LOG_INFO = 2,
    EVOLU_LOG_DEBUG = 3,
} evolu_log_level;

/* "error", "warn", "info", "debug"; NULL for others. */
const char *evolu_log_level_name(evolu_log_level l);
/* Parses a level name; false if unknown. */
bool evolu_log_level_parse(const char *s, evolu_log_level *out);

/* A line of log (no newline). Never contains key material or changes. */
typedef void (*evolu_log_fn)(void *ctx, evolu_log_level level, const char *line);

/* An outgoing message: data[0..len) with `headroom` writable bytes before
 * data. Reference-counted; the relay gives each receiver one reference. */
typedef struct evolu_relay_buf {
    size_t refs;
    size_t len;
    uint8_t *data;
} evolu_relay_buf;

void evolu_relay_buf_ref(evolu_relay_buf *b);
/* Drops a reference; frees the buffer on the last. NULL is fine. */
void evolu_relay_buf_unref(evolu_relay_buf *b);

typedef struct evolu_relay evolu_relay;
typedef struct evolu_relay_conn evolu_relay_conn;

/* Hands a buffer to the network layer for connection `to` (whose user
 * pointer is evolu_relay_conn_user(to)). The callee takes one reference
 * (it must unref it when sent or dropped). */
typedef void (*evolu_relay_send_fn)(void *ctx, evolu_relay_conn *to, evolu_relay_buf *buf);

typedef struct evolu_relay_options {
    const evolu_port *port;        /* fingerprints, constant-time compare */
    const char *db_path;           /* SQLite file (created if missing) */
    uint64_t quota_bytes;          /* per owner; 0 = no quota */
    const uint8_t (*allow)[EVOLU_OWNER_ID_BYTES]; /* allow-list, n_allow entries */
    size_t n_allow;                /* 0 = every owner is allowed */
    bool synchronous_full;         /* fsync every commit (see above) */
    bool group_commit;             /* one transaction per batch (see above) */
    size_t headroom;               /* bytes reserved before each buffer's data */
    evolu_relay_send_fn send;
    void *send_ctx;
    evolu_log_fn log;              /* may be NULL */
    void *log_ctx;
    evolu_log_level log_level;     /* lines above this level are not formatted */
} evolu_relay_options;

/* Defaults: quota EVOLU_RELAY_DEFAULT_QUOTA, synchronous_full, group_commit, no
 * allow-list, level info. port, db_path and send must still be set. */
void evolu_relay_options_default(evolu_relay_options *o);

/* Opens the database (WAL, the chosen synchronous mode, tables created if
 * missing) and the working memory for replies (about 6 MB, shared by all
 * connections since one thread answers one message at a time).
 * EVOLU_E_ARG, EVOLU_E_STORAGE, EVOLU_E_NOMEM. */
evolu_err evolu_relay_open(const evolu_relay_options *o, evolu_relay **out);

/* Closes every connection object, the index and the database. NULL is fine. */
void evolu_relay_close(evolu_relay *r);

/* Whether an allow-list is configured, and whether owner is on it (always
 * true without a list). */
bool evolu_relay_has_allow_list(const evolu_relay *r);
bool evolu_relay_owner_allowed(const evolu_relay *r, const uint8_t owner[EVOLU_OWNER_ID_BYTES]);

/* The upgrade check of the TypeScript relay (spec 7.1) for the request's
 * query string (the text after '?', may be NULL): without an allow-list 0
 * (accept, the URL is not looked at); otherwise the text between the first
 * and the second '=' must be a valid OwnerId (400 if not) that is on the
 * list (401 if not). Returns 0 or the HTTP status to answer. */
int evolu_relay_check_upgrade(const evolu_relay *r, const char *query);

/* A connection: created when a WebSocket opens, closed when it closes (its
 * subscriptions go with it). user is the network layer's pointer. NULL on
 * out of memory. */
evolu_relay_conn *evolu_relay_conn_open(evolu_relay *r, void *user);
void evolu_relay_conn_close(evolu_relay *r, evolu_relay_conn *c);
void *evolu_relay_conn_user(const evolu_relay_conn *c);
uint64_t evolu_relay_conn_id(const evolu_relay_conn *c);
/* Number of owners c is subscribed to. */
size_t evolu_relay_conn_subscriptions(const evolu_relay_conn *c);

/* What happened to one message, for logs and tests. */
typedef struct evolu_relay_result {
    bool replied;           /* a reply was handed to send */
    bool version_reply;     /* it was the version-mismatch reply */
    uint8_t error_code;     /* the reply's errorCode */
    size_t broadcasts;      /* connections a Broadcast was handed to */
    evolu_err cause;        /* why there was no reply, or the error behind 2-4 */
} evolu_relay_result;

/* One complete WebSocket message from c: applyProtocolMessageAsRelay (spec
 * 6.6) over the database, then the reply to c and Broadcasts to the other
 * subscribers through send. Malformed input, a wrong message type, an owner
 * not on the allow-list or an internal failure is logged and not answered
 * (as Evolu does); the connection stays usable. Returns EVOLU_OK when a
 * reply was sent, else the reason (also in out->cause). out may be NULL. */
evolu_err evolu_relay_on_message(evolu_relay *r, evolu_relay_conn *c, const uint8_t *bytes,
                                 size_t len, evolu_relay_result *out);

/* Commits the current batch (if any) and hands its held replies and
 * Broadcasts to send, in order. Without group commit it does nothing.
 * EVOLU_E_STORAGE if the commit failed (the replies were turned into
 * errorCode 2). Call it from the loop after each round of events, and
 * before reading the database from elsewhere. */
evolu_err evolu_relay_flush(evolu_relay *r);

/* Messages whose replies are held for the next flush. */
size_t evolu_relay_pending(const evolu_relay *r);

/* Counters. The stored totals are read from the database when asked. */
typedef struct evolu_relay_stats {
    uint64_t connections;        /* open now */
    uint64_t connections_total;  /* opened since start */
    uint64_t subscriptions;      /* (owner, connection) pairs now */
    uint64_t owners;             /* owners with stored messages (database) */
    uint64_t messages_stored;    /* database total */
    uint64_t bytes_stored;       /* database total of change bytes */
    uint64_t requests;           /* messages received */
    uint64_t bytes_received;
    uint64_t replies;
    uint64_t broadcasts;         /* Broadcast frames handed out */
    uint64_t messages_written;   /* messages in requests whose write succeeded */
    uint64_t invalid;            /* malformed / wrong type: no reply */
    uint64_t not_allowed;        /* owner not on the allow-list: no reply */
    uint64_t version_replies;
    uint64_t write_key_errors;   /* errorCode 1 */
    uint64_t write_errors;       /* errorCode 2 */
    uint64_t quota_errors;       /* errorCode 3 */
    uint64_t sync_errors;        /* errorCode 4 */
    uint64_t internal_errors;    /* e.g. out of memory: no reply */
    uint64_t commits;            /* group commits */
    uint64_t commit_failures;
} evolu_relay_stats;

evolu_err evolu_relay_get_stats(evolu_relay *r, evolu_relay_stats *out);

/* Formats s as one line "key=value ..." (no newline) into out. */
void evolu_relay_stats_format(const evolu_relay_stats *s, char *out, size_t cap);

/* Logging through the relay's log function (used by the network layer so
 * all lines share one format and level). printf-style. */
void evolu_relay_log(const evolu_relay *r, evolu_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The stored write key's presence for owner (for tests and tools; the key
 * itself is never handed out). */
evolu_err evolu_relay_owner_has_write_key(evolu_relay *r,
                                          const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                                          bool *found);

#ifdef __cplusplus
}
#endif
#endif
