/* relay_internal.h - the relay's state shared by relay.c (database and
 * policy) and relay_subs.c (connections and subscriptions). */
#ifndef EVOLU_RELAY_INTERNAL_H
#define EVOLU_RELAY_INTERNAL_H

#include <sqlite3.h>

#include "evolu/protocol.h"
#include "evolu/rbsr.h"
#include "evolu/relay.h"
#include "evolu/sqlite_index.h"

/* One owner's subscribers. */
typedef struct relay_sub {
    struct relay_sub *next;              /* hash chain */
    uint8_t owner[EVOLU_OWNER_ID_BYTES];
    evolu_relay_conn **conns;
    size_t n, cap;
} relay_sub;

#define RELAY_SUB_BUCKETS 4096u

struct evolu_relay_conn {
    evolu_relay_conn *prev, *next;       /* all connections */
    void *user;
    uint64_t id;
    uint8_t (*owners)[EVOLU_OWNER_ID_BYTES]; /* owners it is subscribed to */
    size_t n_owners, cap_owners;
};

/* A reply or Broadcast held until the batch is committed. */
typedef struct relay_held {
    struct relay_held *next;
    evolu_relay_conn *to;
    evolu_relay_buf *buf;
    uint8_t kind;                        /* RELAY_HELD_* */
    uint8_t owner[EVOLU_OWNER_ID_BYTES];
} relay_held;

/* What becomes of a held send if the commit fails. */
#define RELAY_HELD_BROADCAST 0u /* dropped */
#define RELAY_HELD_RESPONSE 1u  /* replaced by errorCode 2 */
#define RELAY_HELD_KEEP 2u      /* sent as is (the version reply: no write) */

#define RELAY_BATCH_MAX 512u             /* messages per batch before an early flush */

typedef struct relay_key relay_key;      /* relay_keys.c */
#define RELAY_KEY_BUCKETS 4096u
#define RELAY_KEYS_MAX 262144u           /* owners whose key is kept in memory (~12 MB) */

struct evolu_relay {
    evolu_relay_options o;
    uint8_t (*allow)[EVOLU_OWNER_ID_BYTES];
    sqlite3 *db;
    evolu_sqlite_index *idx;
    sqlite3_stmt *wk_get, *wk_put, *totals;
    evolu_relay_config cfg;
    /* working memory for one reply */
    evolu_msg_entry *msgs;
    evolu_range_entry *ranges;
    uint8_t *arena;
    size_t arena_cap;
    uint8_t (*scratch)[EVOLU_TIMESTAMP_BYTES];
    uint8_t *reply;
    evolu_msg_entry *bmsgs;              /* for Broadcasts */
    /* the message being handled */
    evolu_relay_conn *cur;
    evolu_relay_result *cur_out;
    /* connections and subscriptions */
    evolu_relay_conn *conns;
    uint64_t next_conn_id;
    relay_sub *subs[RELAY_SUB_BUCKETS];
    evolu_relay_stats st;
    /* group commit */
    bool in_tx;
    size_t batch_msgs;
    relay_held *held, *held_tail;
    size_t n_held;
    /* write keys seen (relay_keys.c) */
    relay_key **keys;
    size_t n_keys;
};

#define RELAY_MSGS_CAP 32768u
#define RELAY_RANGES_CAP 16384u
#define RELAY_SCRATCH_CAP 65536u

/* relay_subs.c */
bool evolu_relay_sub_add(evolu_relay *r, evolu_relay_conn *c,
                         const uint8_t owner[EVOLU_OWNER_ID_BYTES]);
void evolu_relay_sub_remove(evolu_relay *r, evolu_relay_conn *c,
                            const uint8_t owner[EVOLU_OWNER_ID_BYTES]);
/* The owner's subscribers (NULL if none). */
const relay_sub *evolu_relay_sub_find(const evolu_relay *r,
                                      const uint8_t owner[EVOLU_OWNER_ID_BYTES]);
void evolu_relay_subs_free(evolu_relay *r);

/* relay_keys.c: the key of an owner if kept; keep one (it is in the
 * database or the open transaction); drop all (the transaction was lost). */
bool evolu_relay_keys_get(const evolu_relay *r, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                          uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES]);
void evolu_relay_keys_put(evolu_relay *r, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                          const uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES]);
void evolu_relay_keys_forget(evolu_relay *r);
void evolu_relay_keys_free(evolu_relay *r);

/* relay.c */
/* Sends buf to `to` now, or holds it for the commit (takes the reference). */
void evolu_relay_deliver(evolu_relay *r, evolu_relay_conn *to, evolu_relay_buf *buf,
                         uint8_t kind, const uint8_t owner[EVOLU_OWNER_ID_BYTES]);
/* Drops what is held for c (it is closing). */
void evolu_relay_drop_held(evolu_relay *r, const evolu_relay_conn *c);
evolu_relay_buf *evolu_relay_buf_new(const evolu_relay *r, size_t len);

#endif
