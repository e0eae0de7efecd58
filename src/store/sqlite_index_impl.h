/*
 * sqlite_index_impl.h - the parts of the SQLite index (evolu/sqlite_index.h)
 * shared by its files: node and owner types, statements, node rows and their
 * caches (sqlite_index_node.c), tree reads and inserts (sqlite_index_tree.c),
 * the store table, opening and owners (sqlite_index.c), and the checker
 * (sqlite_index_verify.c). Not a public header.
 */
#ifndef EVOLU_SQLITE_INDEX_IMPL_H
#define EVOLU_SQLITE_INDEX_IMPL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "evolu/sqlite_index.h"

#define TS EVOLU_TIMESTAMP_BYTES
#define FP EVOLU_FINGERPRINT_BYTES
#define CAP 64          /* items per leaf, children per inner node */
#define MAX_HEIGHT 12   /* 64^12 items: never reached */

/* One decoded node. A leaf's key/fp are its items; an inner node's are its
 * children's smallest key and XOR, with child id and item count. One extra
 * slot holds the overflow before a split. */
typedef struct node {
    bool leaf;
    uint32_t n;
    int64_t next; /* leaf: the next leaf's id, 0 = last */
    uint8_t key[CAP + 1][TS];
    uint8_t fp[CAP + 1][FP];
    int64_t child[CAP + 1];
    uint64_t count[CAP + 1];
} node;

/* An owner's row of evolu_idx_owner. */
typedef struct meta {
    int64_t root; /* 0 = empty tree */
    uint32_t height;
    uint64_t size, stored;
} meta;

enum {
    Q_META_GET, Q_META_PUT, Q_NODE_GET, Q_NODE_PUT, Q_NODE_NEW, Q_MSG_INS, Q_MSG_GET,
    Q_MSG_STATS, Q_SP_BEGIN, Q_SP_RELEASE, Q_SP_ROLLBACK, Q_DATA_VERSION, Q_COUNT
};

/* A node cached during one write batch (write_messages or a keys batch). */
typedef struct centry {
    int64_t id;
    uint64_t stamp; /* last use, for LRU eviction */
    bool dirty;
    node nd;
} centry;
#define CACHE 256

/* A node kept between reads (sqlite_index_node.c): valid while its epoch is
 * the index's, i.e. while the database has not changed. */
typedef struct rentry {
    int64_t id;
    uint64_t epoch;
    node nd;
} rentry;
#define RCACHE 2048 /* slots, direct-mapped by node id (at most ~6 MB) */

/* Changes handed out without an arena: kept until the owner's next write. */
typedef struct held {
    struct held *next;
    uint8_t bytes[];
} held;

typedef struct owner {
    struct owner *next;
    evolu_sqlite_index *idx;
    uint8_t id[EVOLU_OWNER_ID_BYTES];
    held *held;
    meta meta; /* the owner row as last read, valid while meta_epoch is the index's */
    uint64_t meta_epoch;
} owner;

struct evolu_sqlite_index {
    const evolu_port *port;
    sqlite3 *db;
    bool own_db;
    sqlite3_stmt *q[Q_COUNT];
    owner *owners;
    uint64_t quota;
    /* the insert path (too big for the stack at full height) */
    node path[MAX_HEIGHT];
    int64_t path_id[MAX_HEIGHT];
    uint32_t path_slot[MAX_HEIGHT];
    node split;
    /* write-back node cache, live only inside write_messages: the upper
     * levels and the right edge are written once per batch, not per insert */
    centry *cache;
    uint32_t n_cache;
    uint64_t clock;
    bool batching;
    /* a tree-only batch of the caller (sidx_keys_begin .. sidx_keys_end) */
    owner *keys_owner;
    meta keys_meta;
    uint64_t keys_old_size;
    /* read cache: decoded nodes and owner rows kept between calls while
     * the database is unchanged (same PRAGMA data_version, same
     * sqlite3_total_changes64); used only by reads outside a transaction */
    rentry **rcache;
    uint64_t epoch;
    int64_t rc_dv, rc_tc;
    bool rc_known, rc_valid;
    /* sole writer (sidx_set_sole_writer): the read cache stays valid across
     * transactions, written through by node and owner-row writes, and is
     * dropped (epoch + 1) only on a rollback */
    bool sole;
    /* the leaf where the last walk (iterate) stopped, valid in it_epoch
     * while no write came since: the engine reads a timestamps range one
     * item per call, so the next call starts where the last one ended */
    node *it_nd;
    owner *it_owner;
    uint64_t it_first, it_epoch, it_gen;
};


/* --- sqlite_index_node.c --- */
/* The statement q, reset, with the owner bound to ?1 (if owner_id). */
sqlite3_stmt *sidx_stmt(evolu_sqlite_index *x, int q, const uint8_t *owner_id);
/* Runs a statement that returns no row. */
evolu_err sidx_exec_q(evolu_sqlite_index *x, int q);
evolu_err sidx_meta_get(owner *o, meta *m);
evolu_err sidx_meta_put(owner *o, const meta *m);
/* A node: from the batch's write-back cache while writing, from the read
 * cache between reads, else its row. */
evolu_err sidx_node_get(owner *o, int64_t id, node *nd);
/* XORs into acc the fingerprints of the items [b, e) of the leaf id,
 * reading only those bytes of its row when it is not cached. */
evolu_err sidx_leaf_xor(owner *o, int64_t id, uint64_t b, uint64_t e, uint8_t acc[FP]);
/* Writes a node (into the write-back cache while batching). */
evolu_err sidx_node_put(owner *o, int64_t id, const node *nd);
/* A new, empty node row; its id. */
evolu_err sidx_node_new(owner *o, int64_t *id);
/* Writes back every dirty node and ends the batch's cache. */
evolu_err sidx_cache_flush(owner *o);
/* Count, XOR and smallest key of a node's items. */
void sidx_summarize(const node *nd, uint64_t *count, uint8_t fp[FP], uint8_t min[TS]);
/* Brackets a read call of the store: between them the read cache is used if
 * the database is unchanged since it was filled (and not in a transaction). */
evolu_err sidx_read_begin(evolu_sqlite_index *x);
void sidx_read_end(evolu_sqlite_index *x);
/* Frees the read cache. */
void sidx_rcache_free(evolu_sqlite_index *x);
/* Drops everything cached (after a rollback). */
void sidx_cache_forget(evolu_sqlite_index *x);

/* --- sqlite_index_tree.c --- */
/* XOR of the fingerprints of the items [b, e) (b < e <= size). */
evolu_err sidx_range_xor(owner *o, const meta *m, uint64_t b, uint64_t e, uint8_t out[FP]);
/* Index of the first item >= key (size if none). */
evolu_err sidx_lower_bound(owner *o, const meta *m, const uint8_t *key, uint64_t *out);
/* The leaf holding index i (< size) into nd, and i's position in it. */
evolu_err sidx_leaf_at(owner *o, const meta *m, uint64_t i, node *nd, uint32_t *pos);
/* Inserts a key known to be new. */
evolu_err sidx_tree_insert(owner *o, meta *m, const uint8_t key[TS], const uint8_t fp[FP]);

/* --- sqlite_index.c --- */
/* The owner's handle (created on first use); NULL when out of memory. */
owner *sidx_owner_find(evolu_sqlite_index *x, const uint8_t id[EVOLU_OWNER_ID_BYTES]);

#endif
