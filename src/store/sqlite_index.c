/* sqlite_index.c - the SQLite timestamp index (see evolu/sqlite_index.h): a
 * counted B+-tree per owner whose nodes are BLOB rows, read and written by
 * primary key with prepared statements; the messages in their own table. */
#include "evolu/sqlite_index.h"

#include <sqlite3.h>
#include "sqlite_index_internal.h"
#include <stdlib.h>
#include <string.h>

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
    Q_MSG_STATS, Q_SP_BEGIN, Q_SP_RELEASE, Q_SP_ROLLBACK, Q_COUNT
};

/* Node rows live in a rowid table (ids shared by all owners): a node of up
 * to 2.8 KB then fits in one 4 KB page, where a WITHOUT ROWID table would
 * spill anything over ~1 KB into overflow pages. ?1 (the owner) is unused
 * by the node statements. %w is the messages table (evolu_idx_message, or
 * the caller's own table of the same shape, e.g. the client's evolu_message). */
static const char *const SQL[Q_COUNT] = {
    "SELECT root, height, size, storedBytes FROM evolu_idx_owner WHERE ownerId = ?1",
    "INSERT OR REPLACE INTO evolu_idx_owner (ownerId, root, height, size, storedBytes) "
    "VALUES (?1, ?2, ?3, ?4, ?5)",
    "SELECT data FROM evolu_idx_node WHERE id = ?2",
    "UPDATE evolu_idx_node SET data = ?3 WHERE id = ?2",
    "INSERT INTO evolu_idx_node (data) VALUES (x'')",
    "INSERT OR IGNORE INTO \"%w\" (ownerId, timestamp, change) VALUES (?1, ?2, ?3)",
    "SELECT change FROM \"%w\" WHERE ownerId = ?1 AND timestamp = ?2",
    "SELECT count(*), coalesce(sum(length(change)), 0) FROM \"%w\" "
    "WHERE ownerId = ?1",
    "SAVEPOINT evolu_idx_write",
    "RELEASE evolu_idx_write",
    "ROLLBACK TO evolu_idx_write",
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS evolu_idx_owner (ownerId BLOB PRIMARY KEY, "
    "root INTEGER NOT NULL, height INTEGER NOT NULL, size INTEGER NOT NULL, "
    "storedBytes INTEGER NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS evolu_idx_node (id INTEGER PRIMARY KEY, data BLOB NOT NULL) "
    "STRICT;";
static const char SCHEMA_MESSAGES[] =
    "CREATE TABLE IF NOT EXISTS evolu_idx_message (ownerId BLOB NOT NULL, "
    "timestamp BLOB NOT NULL, change BLOB NOT NULL, PRIMARY KEY (ownerId, timestamp)) "
    "STRICT, WITHOUT ROWID;";

/* A node cached during one write_messages. */
typedef struct centry {
    int64_t id;
    uint64_t stamp; /* last use, for LRU eviction */
    bool dirty;
    node nd;
} centry;
#define CACHE 256

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
};

/* --- statements ------------------------------------------------------------------- */

static sqlite3_stmt *stmt(evolu_sqlite_index *x, int q, const uint8_t *owner_id) {
    sqlite3_stmt *s = x->q[q];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (owner_id) sqlite3_bind_blob(s, 1, owner_id, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    return s;
}

/* Runs a statement that returns no row. */
static evolu_err exec_q(evolu_sqlite_index *x, int q) {
    sqlite3_stmt *s = stmt(x, q, NULL);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

static evolu_err meta_get(owner *o, meta *m) {
    sqlite3_stmt *s = stmt(o->idx, Q_META_GET, o->id);
    memset(m, 0, sizeof *m);
    int rc = sqlite3_step(s);
    evolu_err e = EVOLU_OK;
    if (rc == SQLITE_ROW) {
        sqlite3_int64 v[4];
        for (int i = 0; i < 4; i++) v[i] = sqlite3_column_int64(s, i);
        if (v[0] < 0 || v[1] < 0 || v[1] > MAX_HEIGHT || v[2] < 0 || v[3] < 0 ||
            (v[0] == 0) != (v[2] == 0))
            e = EVOLU_E_STORAGE;
        m->root = v[0];
        m->height = (uint32_t)v[1];
        m->size = (uint64_t)v[2];
        m->stored = (uint64_t)v[3];
    } else if (rc != SQLITE_DONE) {
        e = EVOLU_E_STORAGE;
    }
    sqlite3_reset(s);
    return e;
}

static evolu_err meta_put(owner *o, const meta *m) {
    sqlite3_stmt *s = stmt(o->idx, Q_META_PUT, o->id);
    sqlite3_bind_int64(s, 2, m->root);
    sqlite3_bind_int64(s, 3, m->height);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)m->size);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)m->stored);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

/* --- node rows ---------------------------------------------------------------------
 * leaf:  01 | n (2, LE) | next (8, LE) | n x (key 16 | fp 12)
 * inner: 00 | n (2, LE) | n x (key 16 | fp 12 | child 8 | count 8) */

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#define LEAF_ITEM (TS + FP)
#define INNER_ITEM (TS + FP + 16)
#define NODE_MAX (11 + CAP * INNER_ITEM)

static evolu_err node_read(owner *o, int64_t id, node *nd) {
    sqlite3_stmt *s = stmt(o->idx, Q_NODE_GET, o->id);
    sqlite3_bind_int64(s, 2, id);
    evolu_err e = EVOLU_E_STORAGE;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        if (p && n >= 3 && p[0] <= 1) {
            nd->leaf = p[0] == 1;
            nd->n = (uint32_t)p[1] | (uint32_t)p[2] << 8;
            size_t want = nd->leaf ? 11 + nd->n * (size_t)LEAF_ITEM
                                   : 3 + nd->n * (size_t)INNER_ITEM;
            if (nd->n >= 1 && nd->n <= CAP && n == want) {
                e = EVOLU_OK;
                if (nd->leaf) {
                    nd->next = (int64_t)get64(p + 3);
                    p += 11;
                } else {
                    nd->next = 0;
                    p += 3;
                }
                for (uint32_t i = 0; i < nd->n; i++) {
                    memcpy(nd->key[i], p, TS);
                    memcpy(nd->fp[i], p + TS, FP);
                    p += TS + FP;
                    if (!nd->leaf) {
                        nd->child[i] = (int64_t)get64(p);
                        nd->count[i] = get64(p + 8);
                        if (nd->child[i] <= 0 || nd->count[i] == 0) e = EVOLU_E_STORAGE;
                        p += 16;
                    }
                }
            }
        }
    }
    sqlite3_reset(s);
    return e;
}

static evolu_err node_write(owner *o, int64_t id, const node *nd) {
    uint8_t buf[NODE_MAX], *p = buf;
    *p++ = nd->leaf ? 1 : 0;
    *p++ = (uint8_t)nd->n;
    *p++ = (uint8_t)(nd->n >> 8);
    if (nd->leaf) {
        put64(p, (uint64_t)nd->next);
        p += 8;
    }
    for (uint32_t i = 0; i < nd->n; i++) {
        memcpy(p, nd->key[i], TS);
        memcpy(p + TS, nd->fp[i], FP);
        p += TS + FP;
        if (!nd->leaf) {
            put64(p, (uint64_t)nd->child[i]);
            put64(p + 8, nd->count[i]);
            p += 16;
        }
    }
    sqlite3_stmt *s = stmt(o->idx, Q_NODE_PUT, o->id);
    sqlite3_bind_int64(s, 2, id);
    sqlite3_bind_blob(s, 3, buf, (int)(p - buf), SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE && sqlite3_changes(o->idx->db) == 1 ? EVOLU_OK : EVOLU_E_STORAGE;
}

/* A new node row (empty until its node is put); its id. */
static evolu_err node_new(owner *o, int64_t *id) {
    sqlite3_stmt *s = stmt(o->idx, Q_NODE_NEW, NULL);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    *id = (int64_t)sqlite3_last_insert_rowid(o->idx->db);
    return *id > 0 ? EVOLU_OK : EVOLU_E_STORAGE;
}

/* The cache entry for id, or NULL. */
static centry *cache_find(evolu_sqlite_index *x, int64_t id) {
    for (uint32_t i = 0; i < x->n_cache; i++)
        if (x->cache[i].id == id) {
            x->cache[i].stamp = ++x->clock;
            return &x->cache[i];
        }
    return NULL;
}

/* A free entry for id, writing back the least recently used one if full. */
static evolu_err cache_slot(owner *o, int64_t id, centry **out) {
    evolu_sqlite_index *x = o->idx;
    centry *c;
    if (x->n_cache < CACHE) {
        c = &x->cache[x->n_cache++];
    } else {
        c = &x->cache[0];
        for (uint32_t i = 1; i < CACHE; i++)
            if (x->cache[i].stamp < c->stamp) c = &x->cache[i];
        if (c->dirty) {
            evolu_err e = node_write(o, c->id, &c->nd);
            if (e) return e;
        }
    }
    c->id = id;
    c->dirty = false;
    c->stamp = ++x->clock;
    *out = c;
    return EVOLU_OK;
}

/* Writes back every dirty node and turns the cache off. */
static evolu_err cache_flush(owner *o) {
    evolu_sqlite_index *x = o->idx;
    evolu_err e = EVOLU_OK;
    for (uint32_t i = 0; !e && i < x->n_cache; i++)
        if (x->cache[i].dirty) e = node_write(o, x->cache[i].id, &x->cache[i].nd);
    x->n_cache = 0;
    x->batching = false;
    return e;
}

static evolu_err node_get(owner *o, int64_t id, node *nd) {
    evolu_sqlite_index *x = o->idx;
    if (!x->batching) return node_read(o, id, nd);
    centry *c = cache_find(x, id);
    if (!c) {
        evolu_err e = node_read(o, id, nd);
        if (e || (e = cache_slot(o, id, &c))) return e;
        c->nd = *nd;
        return EVOLU_OK;
    }
    *nd = c->nd;
    return EVOLU_OK;
}

static evolu_err node_put(owner *o, int64_t id, const node *nd) {
    evolu_sqlite_index *x = o->idx;
    if (!x->batching) return node_write(o, id, nd);
    centry *c = cache_find(x, id);
    if (!c) {
        evolu_err e = cache_slot(o, id, &c);
        if (e) return e;
    }
    c->nd = *nd;
    c->dirty = true;
    return EVOLU_OK;
}

/* Count, XOR and smallest key of a node's items. */
static void summarize(const node *nd, uint64_t *count, uint8_t fp[FP], uint8_t min[TS]) {
    *count = 0;
    memset(fp, 0, FP);
    for (uint32_t i = 0; i < nd->n; i++) {
        *count += nd->leaf ? 1 : nd->count[i];
        evolu_fingerprint_xor(fp, nd->fp[i]);
    }
    memcpy(min, nd->key[0], TS);
}

/* --- reads ---------------------------------------------------------------------------- */

/* XORs into acc the fingerprints of the first k items of the subtree at id
 * (depth levels below the root); nd is scratch. */
static evolu_err prefix_from(owner *o, const meta *m, int64_t id, uint32_t depth, uint64_t k,
                             uint8_t acc[FP], node *nd) {
    for (; k > 0; depth++) {
        if (depth >= m->height || node_get(o, id, nd)) return EVOLU_E_STORAGE;
        if (nd->leaf) {
            if (k > nd->n) return EVOLU_E_STORAGE;
            for (uint32_t i = 0; i < k; i++) evolu_fingerprint_xor(acc, nd->fp[i]);
            return EVOLU_OK;
        }
        uint32_t i = 0;
        while (i < nd->n && k >= nd->count[i]) {
            evolu_fingerprint_xor(acc, nd->fp[i]);
            k -= nd->count[i++];
        }
        if (k == 0) break;
        if (i == nd->n) return EVOLU_E_STORAGE;
        id = nd->child[i];
    }
    return EVOLU_OK;
}

/* XOR of the fingerprints of the items [b, e) (b < e <= size): one descent
 * while both ends lie in the same child, then whole children in between
 * from their entries, and one descent for each end's partial child. */
static evolu_err range_xor(owner *o, const meta *m, uint64_t b, uint64_t e, uint8_t out[FP]) {
    memset(out, 0, FP);
    node nd;
    int64_t id = m->root;
    for (uint32_t depth = 0;; depth++) {
        if (depth >= m->height || node_get(o, id, &nd)) return EVOLU_E_STORAGE;
        if (nd.leaf) {
            if (e > nd.n) return EVOLU_E_STORAGE;
            for (uint64_t i = b; i < e; i++) evolu_fingerprint_xor(out, nd.fp[i]);
            return EVOLU_OK;
        }
        uint32_t cb = 0;
        while (cb < nd.n && b >= nd.count[cb]) {
            b -= nd.count[cb];
            e -= nd.count[cb++];
        }
        if (cb == nd.n) return EVOLU_E_STORAGE;
        if (e <= nd.count[cb]) { /* both ends in child cb */
            id = nd.child[cb];
            continue;
        }
        /* [b, end) of child cb = its XOR ^ its first b items */
        evolu_fingerprint_xor(out, nd.fp[cb]);
        int64_t left = nd.child[cb], right = 0;
        e -= nd.count[cb];
        uint32_t ce = cb + 1;
        while (ce < nd.n && e >= nd.count[ce]) {
            evolu_fingerprint_xor(out, nd.fp[ce]);
            e -= nd.count[ce++];
        }
        if (e > 0) {
            if (ce == nd.n) return EVOLU_E_STORAGE;
            right = nd.child[ce];
        }
        evolu_err err = prefix_from(o, m, left, depth + 1, b, out, &nd);
        if (!err && e > 0) err = prefix_from(o, m, right, depth + 1, e, out, &nd);
        return err;
    }
}

/* The child of an inner node to descend into for key: the last one whose
 * smallest key is <= key, or the first. */
static uint32_t child_for(const node *nd, const uint8_t *key) {
    uint32_t lo = 1, hi = nd->n; /* first child in [1, n) with min > key */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(nd->key[mid], key, TS) > 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo - 1;
}

/* First position in a leaf whose key is >= key. */
static uint32_t leaf_pos(const node *nd, const uint8_t *key) {
    uint32_t lo = 0, hi = nd->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(nd->key[mid], key, TS) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Index of the first item >= key (size if none). */
static evolu_err lower_bound(owner *o, const meta *m, const uint8_t *key, uint64_t *out) {
    uint64_t idx = 0;
    int64_t id = m->root;
    node nd;
    for (uint32_t depth = 0; id; depth++) {
        if (depth >= m->height || node_get(o, id, &nd)) return EVOLU_E_STORAGE;
        if (nd.leaf) {
            idx += leaf_pos(&nd, key);
            break;
        }
        uint32_t c = child_for(&nd, key);
        for (uint32_t i = 0; i < c; i++) idx += nd.count[i];
        id = nd.child[c];
    }
    *out = idx;
    return EVOLU_OK;
}

/* The leaf holding index i (< size) into nd, and i's position in it. */
static evolu_err leaf_at(owner *o, const meta *m, uint64_t i, node *nd, uint32_t *pos) {
    int64_t id = m->root;
    for (uint32_t depth = 0;; depth++) {
        if (depth >= m->height || node_get(o, id, nd)) return EVOLU_E_STORAGE;
        if (nd->leaf) {
            if (i >= nd->n) return EVOLU_E_STORAGE;
            *pos = (uint32_t)i;
            return EVOLU_OK;
        }
        uint32_t c = 0;
        while (c < nd->n && i >= nd->count[c]) i -= nd->count[c++];
        if (c == nd->n) return EVOLU_E_STORAGE;
        id = nd->child[c];
    }
}

/* --- insert ----------------------------------------------------------------------------- */

/* Inserts a key known to be new (its message row was just inserted). */
static evolu_err tree_insert(owner *o, meta *m, const uint8_t key[TS], const uint8_t fp[FP]) {
    evolu_sqlite_index *x = o->idx;
    evolu_err e;
    if (!m->root) {
        node *nd = &x->path[0];
        nd->leaf = true;
        nd->n = 1;
        nd->next = 0;
        memcpy(nd->key[0], key, TS);
        memcpy(nd->fp[0], fp, FP);
        if ((e = node_new(o, &m->root))) return e;
        m->height = 1;
        return node_put(o, m->root, nd);
    }
    /* descend, recording the path; rightmost = every step took the last child */
    uint32_t depth = 0;
    int64_t id = m->root;
    bool rightmost = true;
    for (;; depth++) {
        if (depth >= m->height) return EVOLU_E_STORAGE;
        node *nd = &x->path[depth];
        if ((e = node_get(o, id, nd))) return e;
        x->path_id[depth] = id;
        if (nd->leaf) break;
        uint32_t c = child_for(nd, key);
        x->path_slot[depth] = c;
        rightmost = rightmost && c == nd->n - 1;
        id = nd->child[c];
    }
    if (depth + 1 != m->height) return EVOLU_E_STORAGE;
    node *lf = &x->path[depth];
    uint32_t pos = leaf_pos(lf, key);
    if (pos < lf->n && !memcmp(lf->key[pos], key, TS)) return EVOLU_E_STORAGE;
    rightmost = rightmost && pos == lf->n && lf->next == 0;
    memmove(lf->key[pos + 1], lf->key[pos], (lf->n - pos) * (size_t)TS);
    memmove(lf->fp[pos + 1], lf->fp[pos], (lf->n - pos) * (size_t)FP);
    memcpy(lf->key[pos], key, TS);
    memcpy(lf->fp[pos], fp, FP);
    lf->n++;

    /* walk up: update each parent's entry for the child below, split overflows */
    bool split = false;
    int64_t split_id = 0;
    uint64_t split_count = 0;
    uint8_t split_fp[FP], split_min[TS];
    for (uint32_t d = depth + 1; d-- > 0;) {
        node *nd = &x->path[d];
        if (d < depth) {
            uint32_t c = x->path_slot[d];
            if (split) {
                /* child c was split: its entry from its left half, then the right */
                uint8_t min[TS];
                summarize(&x->path[d + 1], &nd->count[c], nd->fp[c], min);
                memcpy(nd->key[c], min, TS);
                uint32_t at = c + 1;
                memmove(nd->key[at + 1], nd->key[at], (nd->n - at) * (size_t)TS);
                memmove(nd->fp[at + 1], nd->fp[at], (nd->n - at) * (size_t)FP);
                memmove(&nd->child[at + 1], &nd->child[at], (nd->n - at) * sizeof nd->child[0]);
                memmove(&nd->count[at + 1], &nd->count[at], (nd->n - at) * sizeof nd->count[0]);
                memcpy(nd->key[at], split_min, TS);
                memcpy(nd->fp[at], split_fp, FP);
                nd->child[at] = split_id;
                nd->count[at] = split_count;
                nd->n++;
            } else {
                nd->count[c]++;
                evolu_fingerprint_xor(nd->fp[c], fp);
                if (memcmp(key, nd->key[c], TS) < 0) memcpy(nd->key[c], key, TS);
            }
        }
        split = nd->n > CAP;
        if (split) {
            /* appends fill nodes completely; other inserts split in half */
            uint32_t keep = rightmost ? CAP : (CAP + 1) / 2;
            node *r = &x->split;
            r->leaf = nd->leaf;
            r->n = nd->n - keep;
            memcpy(r->key, nd->key[keep], r->n * (size_t)TS);
            memcpy(r->fp, nd->fp[keep], r->n * (size_t)FP);
            memcpy(r->child, &nd->child[keep], r->n * sizeof r->child[0]);
            memcpy(r->count, &nd->count[keep], r->n * sizeof r->count[0]);
            nd->n = keep;
            if ((e = node_new(o, &split_id))) return e;
            if (nd->leaf) {
                r->next = nd->next;
                nd->next = split_id;
            } else {
                r->next = 0;
            }
            summarize(r, &split_count, split_fp, split_min);
            if ((e = node_put(o, split_id, r))) return e;
        }
        if ((e = node_put(o, x->path_id[d], nd))) return e;
    }
    if (split) {
        /* the root split: a new root over both halves */
        if (m->height >= MAX_HEIGHT) return EVOLU_E_STORAGE;
        node *nr = &x->split;
        nr->leaf = false;
        nr->n = 2;
        nr->next = 0;
        nr->child[0] = m->root;
        summarize(&x->path[0], &nr->count[0], nr->fp[0], nr->key[0]);
        nr->child[1] = split_id;
        nr->count[1] = split_count;
        memcpy(nr->fp[1], split_fp, FP);
        memcpy(nr->key[1], split_min, TS);
        if ((e = node_new(o, &m->root))) return e;
        m->height++;
        return node_put(o, m->root, nr);
    }
    return EVOLU_OK;
}

/* --- store table ------------------------------------------------------------------------ */

static evolu_err st_size(void *ctx, uint64_t *out) {
    meta m;
    evolu_err e = meta_get(ctx, &m);
    if (!e) *out = m.size;
    return e;
}

static evolu_err st_fingerprint(void *ctx, uint64_t begin, uint64_t end, uint8_t out[FP]) {
    owner *o = ctx;
    meta m;
    evolu_err e = meta_get(o, &m);
    if (e) return e;
    if (begin > end || end > m.size) return EVOLU_E_ARG;
    if (begin == end) {
        memset(out, 0, FP);
        return EVOLU_OK;
    }
    return range_xor(o, &m, begin, end, out);
}

static evolu_err st_find_lower_bound(void *ctx, uint64_t begin, uint64_t end,
                                     const uint8_t *bound, uint64_t *out) {
    owner *o = ctx;
    if (begin > end) return EVOLU_E_ARG;
    if (end == 0 || begin == end || !bound) {
        *out = end;
        return EVOLU_OK;
    }
    meta m;
    uint64_t r;
    evolu_err e = meta_get(o, &m);
    if (!e) e = lower_bound(o, &m, bound, &r);
    if (!e) *out = r == m.size ? end : r;
    return e;
}

static evolu_err st_iterate(void *ctx, uint64_t begin, uint64_t end, evolu_store_visit_fn visit,
                            void *vctx) {
    owner *o = ctx;
    meta m;
    evolu_err e = meta_get(o, &m);
    if (e) return e;
    if (begin > end || end > m.size) return EVOLU_E_ARG;
    if (begin == end) return EVOLU_OK;
    /* a private node: visit may call the store's other read functions */
    node *nd = malloc(sizeof *nd);
    if (!nd) return EVOLU_E_NOMEM;
    uint32_t pos;
    uint64_t i = begin;
    e = leaf_at(o, &m, begin, nd, &pos);
    while (!e) {
        uint8_t key[TS];
        memcpy(key, nd->key[pos], TS);
        if (!visit(vctx, key, i) || ++i == end) break;
        if (++pos == nd->n) {
            if (!nd->next || (e = node_get(o, nd->next, nd)) || !nd->leaf) {
                e = EVOLU_E_STORAGE;
                break;
            }
            pos = 0;
        }
    }
    free(nd);
    return e;
}

static void held_free(owner *o) {
    while (o->held) {
        held *h = o->held;
        o->held = h->next;
        free(h);
    }
}

static evolu_err st_read_change(void *ctx, const uint8_t ts[TS], const evolu_store_arena *arena,
                                const uint8_t **change, size_t *change_len) {
    owner *o = ctx;
    sqlite3_stmt *s = stmt(o->idx, Q_MSG_GET, o->id);
    sqlite3_bind_blob(s, 2, ts, TS, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    evolu_err e = rc == SQLITE_ROW ? EVOLU_OK : rc == SQLITE_DONE ? EVOLU_E_ARG : EVOLU_E_STORAGE;
    if (!e) {
        const void *p = sqlite3_column_blob(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        uint8_t *dst = NULL;
        if (arena && arena->alloc) {
            e = n ? arena->alloc(arena->ctx, n, &dst) : EVOLU_OK;
        } else {
            held *h = malloc(sizeof *h + n);
            if (!h) {
                e = EVOLU_E_NOMEM;
            } else {
                h->next = o->held;
                o->held = h;
                dst = h->bytes;
            }
        }
        if (!e) {
            if (n) memcpy(dst, p, n);
            static const uint8_t empty[1] = {0};
            *change = n ? dst : empty;
            *change_len = n;
        }
    }
    sqlite3_reset(s);
    return e;
}

/* Inserts the batch's new messages and keys; the caller rolls back on error. */
static evolu_err write_batch(owner *o, const evolu_store_batch *batch) {
    evolu_sqlite_index *x = o->idx;
    meta m;
    evolu_err e = meta_get(o, &m);
    if (e) return e;
    uint64_t old_size = m.size;
    evolu_timestamp ts;
    const uint8_t *change;
    size_t len;
    batch->rewind(batch->ctx);
    while ((e = batch->next(batch->ctx, &ts, &change, &len)) == EVOLU_OK) {
        if (len > (size_t)INT32_MAX) return EVOLU_E_LIMIT;
        uint8_t key[TS], fp[FP];
        evolu_timestamp_to_bytes(&ts, key);
        sqlite3_stmt *s = stmt(x, Q_MSG_INS, o->id);
        sqlite3_bind_blob(s, 2, key, TS, SQLITE_STATIC);
        sqlite3_bind_blob(s, 3, len ? (const void *)change : (const void *)"", (int)len,
                          SQLITE_STATIC);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
        if (sqlite3_changes(x->db) == 0) continue; /* already stored: first wins */
        evolu_fingerprint(x->port, &ts, fp);
        if ((e = tree_insert(o, &m, key, fp))) return e;
        m.size++;
        m.stored += len;
    }
    if (e != EVOLU_E_DONE) return e;
    if (m.size == old_size) return EVOLU_OK;
    if (x->quota && m.stored > x->quota) return EVOLU_E_QUOTA;
    if ((e = cache_flush(o))) return e;
    return meta_put(o, &m);
}

static evolu_err st_write_messages(void *ctx, const evolu_store_batch *batch) {
    owner *o = ctx;
    evolu_sqlite_index *x = o->idx;
    if (x->keys_owner) return EVOLU_E_STATE; /* inside a tree-only batch */
    held_free(o); /* the store is being written: earlier changes may go */
    evolu_err e = exec_q(x, Q_SP_BEGIN);
    if (e) return e;
    x->batching = true;
    x->n_cache = 0;
    e = write_batch(o, batch);
    x->batching = false; /* flushed on success; on failure the rollback drops it all */
    x->n_cache = 0;
    if (e) {
        exec_q(x, Q_SP_ROLLBACK);
        exec_q(x, Q_SP_RELEASE);
        return e;
    }
    if ((e = exec_q(x, Q_SP_RELEASE))) {
        exec_q(x, Q_SP_ROLLBACK);
        exec_q(x, Q_SP_RELEASE);
    }
    return e;
}

/* --- open, close, owners ------------------------------------------------------------------ */

static evolu_err setup(const evolu_port *port, sqlite3 *db, bool own_db, const char *msg_table,
                       evolu_sqlite_index **out) {
    evolu_sqlite_index *x = calloc(1, sizeof *x);
    if (!x) {
        if (own_db) sqlite3_close(db);
        return EVOLU_E_NOMEM;
    }
    x->port = port;
    x->db = db;
    x->own_db = own_db;
    x->cache = malloc(CACHE * sizeof *x->cache);
    evolu_err e = x->cache ? EVOLU_OK : EVOLU_E_NOMEM;
    if (!e && sqlite3_exec(db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) e = EVOLU_E_STORAGE;
    if (!e && !msg_table && sqlite3_exec(db, SCHEMA_MESSAGES, NULL, NULL, NULL) != SQLITE_OK)
        e = EVOLU_E_STORAGE;
    for (int i = 0; !e && i < Q_COUNT; i++) {
        char *sql = sqlite3_mprintf(SQL[i], msg_table ? msg_table : "evolu_idx_message");
        if (!sql) {
            e = EVOLU_E_NOMEM;
            break;
        }
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &x->q[i], NULL) !=
            SQLITE_OK)
            e = EVOLU_E_STORAGE;
        sqlite3_free(sql);
    }
    if (e) {
        evolu_sqlite_index_close(x);
        return e;
    }
    *out = x;
    return EVOLU_OK;
}

evolu_err evolu_sqlite_index_open_db(const evolu_port *port, sqlite3 *db,
                                     evolu_sqlite_index **out) {
    *out = NULL;
    if (!port || !port->sha256 || !db) return EVOLU_E_ARG;
    return setup(port, db, false, NULL, out);
}

evolu_err sidx_open_db_messages(const evolu_port *port, sqlite3 *db, const char *msg_table,
                                evolu_sqlite_index **out) {
    *out = NULL;
    if (!port || !port->sha256 || !db || !msg_table) return EVOLU_E_ARG;
    return setup(port, db, false, msg_table, out);
}

evolu_err evolu_sqlite_index_open_path(const evolu_port *port, const char *path,
                                       evolu_sqlite_index **out) {
    *out = NULL;
    if (!port || !port->sha256 || !path) return EVOLU_E_ARG;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                     "PRAGMA busy_timeout = 5000;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return EVOLU_E_STORAGE;
    }
    return setup(port, db, true, NULL, out);
}

void evolu_sqlite_index_close(evolu_sqlite_index *x) {
    if (!x) return;
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(x->q[i]);
    while (x->owners) {
        owner *o = x->owners;
        x->owners = o->next;
        held_free(o);
        free(o);
    }
    if (x->own_db) sqlite3_close(x->db);
    free(x->cache);
    free(x);
}

void evolu_sqlite_index_set_quota(evolu_sqlite_index *x, uint64_t max_bytes) {
    x->quota = max_bytes;
}

static owner *owner_find(evolu_sqlite_index *x, const uint8_t id[EVOLU_OWNER_ID_BYTES]) {
    for (owner *o = x->owners; o; o = o->next)
        if (!memcmp(o->id, id, EVOLU_OWNER_ID_BYTES)) return o;
    owner *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->idx = x;
    memcpy(o->id, id, EVOLU_OWNER_ID_BYTES);
    o->next = x->owners;
    x->owners = o;
    return o;
}

evolu_err evolu_sqlite_index_store(evolu_sqlite_index *x,
                                   const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                   evolu_store *out) {
    owner *o = owner_find(x, owner_id);
    if (!o) return EVOLU_E_NOMEM;
    out->ctx = o;
    out->size = st_size;
    out->fingerprint = st_fingerprint;
    out->find_lower_bound = st_find_lower_bound;
    out->iterate = st_iterate;
    out->read_change = st_read_change;
    out->write_messages = st_write_messages;
    return EVOLU_OK;
}

evolu_err evolu_sqlite_index_owner_usage(evolu_sqlite_index *x,
                                         const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                         uint64_t *size, uint64_t *stored_bytes) {
    owner o;
    memset(&o, 0, sizeof o);
    o.idx = x;
    memcpy(o.id, owner_id, EVOLU_OWNER_ID_BYTES);
    meta m;
    evolu_err e = meta_get(&o, &m);
    if (e) return e;
    if (size) *size = m.size;
    if (stored_bytes) *stored_bytes = m.stored;
    return EVOLU_OK;
}

/* --- tree-only batches (sqlite_index_internal.h) ----------------------------------------- */

evolu_err sidx_keys_begin(evolu_sqlite_index *x, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]) {
    if (x->batching) return EVOLU_E_STATE;
    owner *o = owner_find(x, owner_id);
    if (!o) return EVOLU_E_NOMEM;
    held_free(o); /* the store is being written: earlier changes may go */
    evolu_err e = meta_get(o, &x->keys_meta);
    if (e) return e;
    x->keys_owner = o;
    x->keys_old_size = x->keys_meta.size;
    x->batching = true;
    x->n_cache = 0;
    return EVOLU_OK;
}

evolu_err sidx_keys_add(evolu_sqlite_index *x, const uint8_t key[TS], const uint8_t fp[FP],
                        size_t change_len) {
    if (!x->keys_owner) return EVOLU_E_STATE;
    evolu_err e = tree_insert(x->keys_owner, &x->keys_meta, key, fp);
    if (e) return e;
    x->keys_meta.size++;
    x->keys_meta.stored += change_len;
    return EVOLU_OK;
}

evolu_err sidx_keys_end(evolu_sqlite_index *x, bool commit) {
    owner *o = x->keys_owner;
    if (!o) return EVOLU_E_STATE;
    x->keys_owner = NULL;
    evolu_err e = EVOLU_OK;
    if (commit && x->keys_meta.size != x->keys_old_size) {
        e = cache_flush(o);
        if (!e) e = meta_put(o, &x->keys_meta);
    }
    x->batching = false; /* on failure the caller's rollback drops the rows */
    x->n_cache = 0;
    return e;
}

/* --- verify (tests) ------------------------------------------------------------------------ */

typedef struct vstate {
    owner *o;
    const meta *m;
    uint8_t last[TS];
    bool have_last;
    int64_t expect_leaf; /* the leaf the previous leaf links to */
    uint64_t items;
} vstate;

/* Checks the subtree at id (depth levels below the root); returns its
 * summary through count/fp/min. */
static evolu_err verify_node(vstate *v, int64_t id, uint32_t depth, uint64_t *count,
                             uint8_t fp[FP], uint8_t min[TS]) {
    if (depth >= v->m->height) return EVOLU_E_STATE;
    node *nd = malloc(sizeof *nd);
    if (!nd) return EVOLU_E_NOMEM;
    evolu_err e = node_get(v->o, id, nd);
    if (!e && nd->leaf != (depth + 1 == v->m->height)) e = EVOLU_E_STATE;
    if (!e && nd->leaf) {
        if (v->have_last && v->expect_leaf != id) e = EVOLU_E_STATE;
        for (uint32_t i = 0; !e && i < nd->n; i++) {
            evolu_timestamp t;
            uint8_t h[FP];
            if (v->have_last && memcmp(v->last, nd->key[i], TS) >= 0) e = EVOLU_E_STATE;
            if (!e && evolu_timestamp_from_bytes(nd->key[i], &t)) e = EVOLU_E_STATE;
            if (!e) evolu_fingerprint(v->o->idx->port, &t, h);
            if (!e && memcmp(h, nd->fp[i], FP)) e = EVOLU_E_STATE;
            memcpy(v->last, nd->key[i], TS);
            v->have_last = true;
        }
        v->expect_leaf = nd->next;
        v->items += nd->n;
    }
    for (uint32_t i = 0; !e && !nd->leaf && i < nd->n; i++) {
        uint64_t c;
        uint8_t f[FP], mn[TS];
        e = verify_node(v, nd->child[i], depth + 1, &c, f, mn);
        if (!e && (c != nd->count[i] || memcmp(f, nd->fp[i], FP) || memcmp(mn, nd->key[i], TS)))
            e = EVOLU_E_STATE;
    }
    if (!e) summarize(nd, count, fp, min);
    free(nd);
    return e;
}

evolu_err evolu_sqlite_index_verify(evolu_sqlite_index *x,
                                    const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]) {
    owner *o = owner_find(x, owner_id);
    if (!o) return EVOLU_E_NOMEM;
    meta m;
    evolu_err e = meta_get(o, &m);
    if (e) return e;
    vstate v;
    memset(&v, 0, sizeof v);
    v.o = o;
    v.m = &m;
    if (m.root) {
        uint64_t c;
        uint8_t f[FP], mn[TS];
        if ((e = verify_node(&v, m.root, 0, &c, f, mn))) return e;
        if (c != m.size || v.items != m.size || v.expect_leaf != 0) return EVOLU_E_STATE;
    }
    sqlite3_stmt *s = stmt(x, Q_MSG_STATS, o->id);
    if (sqlite3_step(s) != SQLITE_ROW) e = EVOLU_E_STORAGE;
    else if ((uint64_t)sqlite3_column_int64(s, 0) != m.size ||
             (uint64_t)sqlite3_column_int64(s, 1) != m.stored)
        e = EVOLU_E_STATE;
    sqlite3_reset(s);
    return e;
}
