/* sqlite_index_tree.c - the counted B+-tree of the SQLite index: range
 * fingerprints, lower bounds and positions by descent, and inserts with node
 * splits (see evolu/sqlite_index.h for the design). */
#include <string.h>

#include "sqlite_index_impl.h"

/* --- reads ---------------------------------------------------------------------------- */

/* XORs into acc the fingerprints of the first k items of the subtree at id
 * (depth levels below the root); nd is scratch. */
static evolu_err prefix_from(owner *o, const meta *m, int64_t id, uint32_t depth, uint64_t k,
                             uint8_t acc[FP], node *nd) {
    for (; k > 0; depth++) {
        if (depth >= m->height) return EVOLU_E_STORAGE;
        if (depth + 1 == m->height) return sidx_leaf_xor(o, id, 0, k, acc);
        if (sidx_node_get(o, id, nd) || nd->leaf) return EVOLU_E_STORAGE;
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
evolu_err sidx_range_xor(owner *o, const meta *m, uint64_t b, uint64_t e, uint8_t out[FP]) {
    memset(out, 0, FP);
    node nd;
    int64_t id = m->root;
    for (uint32_t depth = 0;; depth++) {
        if (depth >= m->height) return EVOLU_E_STORAGE;
        if (depth + 1 == m->height) return sidx_leaf_xor(o, id, b, e, out);
        if (sidx_node_get(o, id, &nd) || nd.leaf) return EVOLU_E_STORAGE;
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
evolu_err sidx_lower_bound(owner *o, const meta *m, const uint8_t *key, uint64_t *out) {
    uint64_t idx = 0;
    int64_t id = m->root;
    node nd;
    for (uint32_t depth = 0; id; depth++) {
        if (depth >= m->height || sidx_node_get(o, id, &nd)) return EVOLU_E_STORAGE;
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
evolu_err sidx_leaf_at(owner *o, const meta *m, uint64_t i, node *nd, uint32_t *pos) {
    int64_t id = m->root;
    for (uint32_t depth = 0;; depth++) {
        if (depth >= m->height || sidx_node_get(o, id, nd)) return EVOLU_E_STORAGE;
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
evolu_err sidx_tree_insert(owner *o, meta *m, const uint8_t key[TS], const uint8_t fp[FP]) {
    evolu_sqlite_index *x = o->idx;
    evolu_err e;
    if (!m->root) {
        node *nd = &x->path[0];
        nd->leaf = true;
        nd->n = 1;
        nd->next = 0;
        memcpy(nd->key[0], key, TS);
        memcpy(nd->fp[0], fp, FP);
        if ((e = sidx_node_new(o, &m->root))) return e;
        m->height = 1;
        return sidx_node_put(o, m->root, nd);
    }
    /* descend, recording the path; rightmost = every step took the last child */
    uint32_t depth = 0;
    int64_t id = m->root;
    bool rightmost = true;
    for (;; depth++) {
        if (depth >= m->height) return EVOLU_E_STORAGE;
        node *nd = &x->path[depth];
        if ((e = sidx_node_get(o, id, nd))) return e;
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
                sidx_summarize(&x->path[d + 1], &nd->count[c], nd->fp[c], min);
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
            if ((e = sidx_node_new(o, &split_id))) return e;
            if (nd->leaf) {
                r->next = nd->next;
                nd->next = split_id;
            } else {
                r->next = 0;
            }
            sidx_summarize(r, &split_count, split_fp, split_min);
            if ((e = sidx_node_put(o, split_id, r))) return e;
        }
        if ((e = sidx_node_put(o, x->path_id[d], nd))) return e;
    }
    if (split) {
        /* the root split: a new root over both halves */
        if (m->height >= MAX_HEIGHT) return EVOLU_E_STORAGE;
        node *nr = &x->split;
        nr->leaf = false;
        nr->n = 2;
        nr->next = 0;
        nr->child[0] = m->root;
        sidx_summarize(&x->path[0], &nr->count[0], nr->fp[0], nr->key[0]);
        nr->child[1] = split_id;
        nr->count[1] = split_count;
        memcpy(nr->fp[1], split_fp, FP);
        memcpy(nr->key[1], split_min, TS);
        if ((e = sidx_node_new(o, &m->root))) return e;
        m->height++;
        return sidx_node_put(o, m->root, nr);
    }
    return EVOLU_OK;
}
