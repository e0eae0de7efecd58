/* sqlite_index_node.c - the SQLite index's storage layer: prepared
 * statements, owner rows, node rows (encoding, reading, writing), the
 * write-back node cache of a write batch and the read cache kept between
 * reads while the database is unchanged. */
#include <stdlib.h>
#include <string.h>

#include "sqlite_index_impl.h"

/* --- statements ------------------------------------------------------------------- */

sqlite3_stmt *sidx_stmt(evolu_sqlite_index *x, int q, const uint8_t *owner_id) {
    sqlite3_stmt *s = x->q[q];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (owner_id) sqlite3_bind_blob(s, 1, owner_id, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    return s;
}

/* Runs a statement that returns no row. */
evolu_err sidx_exec_q(evolu_sqlite_index *x, int q) {
    sqlite3_stmt *s = sidx_stmt(x, q, NULL);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? EVOLU_OK : EVOLU_E_STORAGE;
}

evolu_err sidx_meta_get(owner *o, meta *m) {
    evolu_sqlite_index *x = o->idx;
    if (x->rc_valid && o->meta_epoch == x->epoch) {
        *m = o->meta;
        return EVOLU_OK;
    }
    sqlite3_stmt *s = sidx_stmt(o->idx, Q_META_GET, o->id);
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
    if (!e && x->rc_valid) {
        o->meta = *m;
        o->meta_epoch = x->epoch;
    }
    return e;
}

evolu_err sidx_meta_put(owner *o, const meta *m) {
    sqlite3_stmt *s = sidx_stmt(o->idx, Q_META_PUT, o->id);
    sqlite3_bind_int64(s, 2, m->root);
    sqlite3_bind_int64(s, 3, m->height);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)m->size);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)m->stored);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    evolu_sqlite_index *x = o->idx;
    if (x->sole) { /* written through: the cached row is this one */
        o->meta = *m;
        o->meta_epoch = x->epoch;
    }
    return EVOLU_OK;
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
    sqlite3_stmt *s = sidx_stmt(o->idx, Q_NODE_GET, o->id);
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

static void rcache_put(evolu_sqlite_index *x, int64_t id, const node *nd);

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
    sqlite3_stmt *s = sidx_stmt(o->idx, Q_NODE_PUT, o->id);
    sqlite3_bind_int64(s, 2, id);
    sqlite3_bind_blob(s, 3, buf, (int)(p - buf), SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE || sqlite3_changes(o->idx->db) != 1) return EVOLU_E_STORAGE;
    if (o->idx->sole) rcache_put(o->idx, id, nd);
    return EVOLU_OK;
}

/* A new node row (empty until its node is put); its id. */
evolu_err sidx_node_new(owner *o, int64_t *id) {
    sqlite3_stmt *s = sidx_stmt(o->idx, Q_NODE_NEW, NULL);
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
evolu_err sidx_cache_flush(owner *o) {
    evolu_sqlite_index *x = o->idx;
    evolu_err e = EVOLU_OK;
    for (uint32_t i = 0; !e && i < x->n_cache; i++)
        if (x->cache[i].dirty) e = node_write(o, x->cache[i].id, &x->cache[i].nd);
    x->n_cache = 0;
    x->batching = false;
    return e;
}

/* --- the read cache -------------------------------------------------------------------
 * Reads (fingerprints, lower bounds, walks) mostly touch the same upper
 * nodes, so decoded nodes are kept between calls in a direct-mapped table.
 * Entries carry the epoch they were read in; the epoch moves on whenever the
 * database may have changed: another connection committed (PRAGMA
 * data_version), or this connection changed any row (total_changes64 - our
 * own writes, the caller's, and transactions since rolled back all count).
 * Only reads outside a transaction use it, so nothing read inside a
 * transaction that may roll back is kept. */

evolu_err sidx_read_begin(evolu_sqlite_index *x) {
    if (x->sole) { /* always current: written through, dropped on rollback */
        x->rc_valid = true;
        return EVOLU_OK;
    }
    x->rc_valid = false;
    if (x->batching || !sqlite3_get_autocommit(x->db)) return EVOLU_OK;
    if (!x->rcache) {
        x->rcache = calloc(RCACHE, sizeof *x->rcache);
        if (!x->rcache) return EVOLU_OK; /* no cache: reads still work */
    }
    sqlite3_stmt *s = sidx_stmt(x, Q_DATA_VERSION, NULL);
    int rc = sqlite3_step(s);
    int64_t dv = rc == SQLITE_ROW ? (int64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) return EVOLU_E_STORAGE;
    int64_t tc = (int64_t)sqlite3_total_changes64(x->db);
    if (!x->rc_known || dv != x->rc_dv || tc != x->rc_tc) {
        x->epoch++;
        x->rc_dv = dv;
        x->rc_tc = tc;
        x->rc_known = true;
    }
    x->rc_valid = true;
    return EVOLU_OK;
}

void sidx_read_end(evolu_sqlite_index *x) { x->rc_valid = x->sole; }

void sidx_cache_forget(evolu_sqlite_index *x) {
    x->epoch++;
    x->it_owner = NULL;
}

void sidx_rcache_free(evolu_sqlite_index *x) {
    free(x->it_nd);
    x->it_nd = NULL;
    x->it_owner = NULL;
    if (!x->rcache) return;
    for (uint32_t i = 0; i < RCACHE; i++) free(x->rcache[i]);
    free(x->rcache);
    x->rcache = NULL;
}

/* Copies the used part of a node (a full struct is ~2.9 KB). */
static void node_copy(node *dst, const node *src) {
    dst->leaf = src->leaf;
    dst->n = src->n;
    dst->next = src->next;
    memcpy(dst->key, src->key, src->n * (size_t)TS);
    memcpy(dst->fp, src->fp, src->n * (size_t)FP);
    if (!src->leaf) {
        memcpy(dst->child, src->child, src->n * sizeof src->child[0]);
        memcpy(dst->count, src->count, src->n * sizeof src->count[0]);
    }
}

static uint32_t rslot(int64_t id) {
    return (uint32_t)(((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 53) & (RCACHE - 1);
}

static evolu_err node_get_cached(evolu_sqlite_index *x, owner *o, int64_t id, node *nd) {
    rentry **slot = &x->rcache[rslot(id)];
    rentry *r = *slot;
    if (r && r->id == id && r->epoch == x->epoch) {
        node_copy(nd, &r->nd);
        return EVOLU_OK;
    }
    evolu_err e = node_read(o, id, nd);
    if (e) return e;
    /* a leaf never evicts a current inner node: those serve every descent */
    if (r && nd->leaf && r->epoch == x->epoch && !r->nd.leaf) return EVOLU_OK;
    if (!r && !(r = *slot = malloc(sizeof *r))) return EVOLU_OK;
    r->id = id;
    r->epoch = x->epoch;
    node_copy(&r->nd, nd);
    return EVOLU_OK;
}

/* A node just written (sole writer): its slot gets the new contents, or
 * loses a stale copy of it; a leaf still never evicts a current inner node
 * of another id. */
static void rcache_put(evolu_sqlite_index *x, int64_t id, const node *nd) {
    rentry **slot = &x->rcache[rslot(id)];
    rentry *r = *slot;
    if (r && r->id != id && nd->leaf && r->epoch == x->epoch && !r->nd.leaf) return;
    if (!r && !(r = *slot = malloc(sizeof *r))) return;
    r->id = id;
    r->epoch = x->epoch;
    node_copy(&r->nd, nd);
}

evolu_err sidx_leaf_xor(owner *o, int64_t id, uint64_t b, uint64_t e, uint8_t acc[FP]) {
    evolu_sqlite_index *x = o->idx;
    if (x->batching || (x->rc_valid && x->rcache[rslot(id)] && x->rcache[rslot(id)]->id == id &&
                        x->rcache[rslot(id)]->epoch == x->epoch)) {
        node nd;
        evolu_err err = sidx_node_get(o, id, &nd);
        if (err) return err;
        if (!nd.leaf || e > nd.n || b > e) return EVOLU_E_STORAGE;
        for (uint64_t i = b; i < e; i++) evolu_fingerprint_xor(acc, nd.fp[i]);
        return EVOLU_OK;
    }
    /* straight from the row: only the fingerprints needed, nothing decoded */
    sqlite3_stmt *s = sidx_stmt(x, Q_NODE_GET, o->id);
    sqlite3_bind_int64(s, 2, id);
    evolu_err err = EVOLU_E_STORAGE;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(s, 0);
        size_t len = (size_t)sqlite3_column_bytes(s, 0);
        if (p && len >= 11 && p[0] == 1) {
            uint32_t n = (uint32_t)p[1] | (uint32_t)p[2] << 8;
            if (n >= 1 && n <= CAP && len == 11 + n * (size_t)LEAF_ITEM && e <= n && b <= e) {
                for (uint64_t i = b; i < e; i++)
                    evolu_fingerprint_xor(acc, p + 11 + i * LEAF_ITEM + TS);
                err = EVOLU_OK;
            }
        }
    }
    sqlite3_reset(s);
    return err;
}

evolu_err sidx_node_get(owner *o, int64_t id, node *nd) {
    evolu_sqlite_index *x = o->idx;
    if (!x->batching) return x->rc_valid ? node_get_cached(x, o, id, nd) : node_read(o, id, nd);
    centry *c = cache_find(x, id);
    if (!c) {
        evolu_err e = x->sole ? node_get_cached(x, o, id, nd) : node_read(o, id, nd);
        if (e || (e = cache_slot(o, id, &c))) return e;
        c->nd = *nd;
        return EVOLU_OK;
    }
    *nd = c->nd;
    return EVOLU_OK;
}

evolu_err sidx_node_put(owner *o, int64_t id, const node *nd) {
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
void sidx_summarize(const node *nd, uint64_t *count, uint8_t fp[FP], uint8_t min[TS]) {
    *count = 0;
    memset(fp, 0, FP);
    for (uint32_t i = 0; i < nd->n; i++) {
        *count += nd->leaf ? 1 : nd->count[i];
        evolu_fingerprint_xor(fp, nd->fp[i]);
    }
    memcpy(min, nd->key[0], TS);
}
