/* mem_index.c - in-memory timestamp index (see evolu/mem_index.h): an
 * order-statistic treap with per-subtree count and fingerprint XOR, nodes in
 * one growable array addressed by 32-bit indices (0 = none), changes in one
 * growable byte buffer. */
#include "evolu/mem_index.h"

#include <stdlib.h>
#include <string.h>

#define NIL 0u

typedef struct node {
    uint8_t ts[EVOLU_TIMESTAMP_BYTES];
    uint8_t fp[EVOLU_FINGERPRINT_BYTES];      /* this item's fingerprint */
    uint8_t sub_fp[EVOLU_FINGERPRINT_BYTES];  /* XOR over the subtree */
    uint32_t left, right;
    uint32_t prio;
    uint32_t count;                           /* items in the subtree */
    size_t change_off, change_len;
} node;

struct evolu_mem_index {
    const evolu_port *port;
    node *nodes;           /* nodes[0] is the unused NIL slot */
    size_t n_nodes;        /* slots used, including NIL */
    size_t cap_nodes;
    uint8_t *bytes;
    size_t n_bytes, cap_bytes;
    uint32_t root;
    uint64_t rng;
    uint64_t stored_bytes;
    uint64_t quota;
    uint64_t fail_in;
    bool failing;
    evolu_err fail_err;
};

/* --- treap primitives ------------------------------------------------------------ */

static uint32_t cnt(const evolu_mem_index *x, uint32_t n) { return n ? x->nodes[n].count : 0; }

static void update(evolu_mem_index *x, uint32_t n) {
    node *p = &x->nodes[n];
    p->count = 1 + cnt(x, p->left) + cnt(x, p->right);
    memcpy(p->sub_fp, p->fp, EVOLU_FINGERPRINT_BYTES);
    if (p->left) evolu_fingerprint_xor(p->sub_fp, x->nodes[p->left].sub_fp);
    if (p->right) evolu_fingerprint_xor(p->sub_fp, x->nodes[p->right].sub_fp);
}

/* Splits t into keys < key (*l) and keys >= key (*r). */
static void split(evolu_mem_index *x, uint32_t t, const uint8_t *key, uint32_t *l,
                  uint32_t *r) {
    if (!t) {
        *l = *r = NIL;
        return;
    }
    node *p = &x->nodes[t];
    if (memcmp(p->ts, key, EVOLU_TIMESTAMP_BYTES) < 0) {
        uint32_t a, b;
        split(x, p->right, key, &a, &b);
        x->nodes[t].right = a;
        update(x, t);
        *l = t;
        *r = b;
    } else {
        uint32_t a, b;
        split(x, p->left, key, &a, &b);
        x->nodes[t].left = b;
        update(x, t);
        *l = a;
        *r = t;
    }
}

/* All keys of a are below all keys of b. */
static uint32_t merge(evolu_mem_index *x, uint32_t a, uint32_t b) {
    if (!a) return b;
    if (!b) return a;
    if (x->nodes[a].prio > x->nodes[b].prio) {
        x->nodes[a].right = merge(x, x->nodes[a].right, b);
        update(x, a);
        return a;
    }
    x->nodes[b].left = merge(x, a, x->nodes[b].left);
    update(x, b);
    return b;
}

static uint32_t insert_node(evolu_mem_index *x, uint32_t t, uint32_t n) {
    if (!t) return n;
    if (x->nodes[n].prio > x->nodes[t].prio) {
        split(x, t, x->nodes[n].ts, &x->nodes[n].left, &x->nodes[n].right);
        update(x, n);
        return n;
    }
    if (memcmp(x->nodes[n].ts, x->nodes[t].ts, EVOLU_TIMESTAMP_BYTES) < 0)
        x->nodes[t].left = insert_node(x, x->nodes[t].left, n);
    else
        x->nodes[t].right = insert_node(x, x->nodes[t].right, n);
    update(x, t);
    return t;
}

static uint32_t erase_key(evolu_mem_index *x, uint32_t t, const uint8_t *key) {
    if (!t) return NIL;
    int c = memcmp(key, x->nodes[t].ts, EVOLU_TIMESTAMP_BYTES);
    if (c == 0) return merge(x, x->nodes[t].left, x->nodes[t].right);
    if (c < 0)
        x->nodes[t].left = erase_key(x, x->nodes[t].left, key);
    else
        x->nodes[t].right = erase_key(x, x->nodes[t].right, key);
    update(x, t);
    return t;
}

static uint32_t find(const evolu_mem_index *x, const uint8_t *key) {
    uint32_t t = x->root;
    while (t) {
        int c = memcmp(key, x->nodes[t].ts, EVOLU_TIMESTAMP_BYTES);
        if (c == 0) return t;
        t = c < 0 ? x->nodes[t].left : x->nodes[t].right;
    }
    return NIL;
}

/* XOR of the fingerprints of the first k items. */
static void prefix(const evolu_mem_index *x, uint64_t k, uint8_t acc[EVOLU_FINGERPRINT_BYTES]) {
    memset(acc, 0, EVOLU_FINGERPRINT_BYTES);
    uint32_t t = x->root;
    while (t && k > 0) {
        const node *p = &x->nodes[t];
        uint64_t lc = cnt(x, p->left);
        if (k < lc) {
            t = p->left;
            continue;
        }
        if (p->left) evolu_fingerprint_xor(acc, x->nodes[p->left].sub_fp);
        if (k == lc) break;
        evolu_fingerprint_xor(acc, p->fp);
        k -= lc + 1;
        t = p->right;
    }
}

/* Index of the first item >= key (size if none). */
static uint64_t lower_bound(const evolu_mem_index *x, const uint8_t *key) {
    uint64_t idx = 0, res = cnt(x, x->root);
    uint32_t t = x->root;
    while (t) {
        const node *p = &x->nodes[t];
        if (memcmp(p->ts, key, EVOLU_TIMESTAMP_BYTES) >= 0) {
            res = idx + cnt(x, p->left);
            t = p->left;
        } else {
            idx += cnt(x, p->left) + 1;
            t = p->right;
        }
    }
    return res;
}

/* In-order walk of the items with index in [begin, end); offset is the index
 * of t's leftmost item. Returns false once visit asked to stop. */
static bool walk(const evolu_mem_index *x, uint32_t t, uint64_t offset, uint64_t begin,
                 uint64_t end, evolu_store_visit_fn visit, void *vctx) {
    if (!t || offset >= end || offset + x->nodes[t].count <= begin) return true;
    const node *p = &x->nodes[t];
    if (!walk(x, p->left, offset, begin, end, visit, vctx)) return false;
    uint64_t i = offset + cnt(x, p->left);
    if (i >= begin && i < end && !visit(vctx, p->ts, i)) return false;
    return walk(x, p->right, i + 1, begin, end, visit, vctx);
}

/* --- memory ------------------------------------------------------------------------ */

static bool reserve(evolu_mem_index *x, size_t more_nodes, size_t more_bytes) {
    if (more_nodes > UINT32_MAX - x->n_nodes) return false;
    if (x->n_nodes + more_nodes > x->cap_nodes) {
        /* Node ids are 32-bit: at most 2^32 nodes. Computed in 64 bits, since
         * on a 32-bit target (size_t)UINT32_MAX + 1 is 0 and would clamp every
         * capacity to nothing. */
        const uint64_t max_nodes = (uint64_t)UINT32_MAX + 1u;
        uint64_t cap = x->cap_nodes ? x->cap_nodes : 64;
        while (cap < (uint64_t)x->n_nodes + more_nodes) cap *= 2;
        if (cap > max_nodes) cap = max_nodes;
        if (cap > SIZE_MAX / sizeof(node)) return false;
        node *n = realloc(x->nodes, (size_t)cap * sizeof *n);
        if (!n) return false;
        x->nodes = n;
        x->cap_nodes = (size_t)cap;
    }
    if (more_bytes > SIZE_MAX - x->n_bytes) return false;
    if (x->n_bytes + more_bytes > x->cap_bytes) {
        size_t cap = x->cap_bytes ? x->cap_bytes : 1024;
        while (cap < x->n_bytes + more_bytes) {
            if (cap > SIZE_MAX / 2) {
                cap = x->n_bytes + more_bytes;
                break;
            }
            cap *= 2;
        }
        uint8_t *b = realloc(x->bytes, cap);
        if (!b) return false;
        x->bytes = b;
        x->cap_bytes = cap;
    }
    return true;
}

static uint32_t next_prio(evolu_mem_index *x) {
    /* xorshift64*: the priorities only need to be unpredictable enough to
     * keep the expected height logarithmic. */
    x->rng ^= x->rng >> 12;
    x->rng ^= x->rng << 25;
    x->rng ^= x->rng >> 27;
    return (uint32_t)((x->rng * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Fault injection: true if this call must fail. */
static bool failing(evolu_mem_index *x) {
    if (x->fail_in && --x->fail_in == 0) x->failing = true;
    return x->failing;
}

/* --- public ------------------------------------------------------------------------ */

evolu_err evolu_mem_index_create(const evolu_port *port, evolu_mem_index **out) {
    *out = NULL;
    if (!port || !port->sha256) return EVOLU_E_ARG;
    evolu_mem_index *x = calloc(1, sizeof *x);
    if (!x) return EVOLU_E_NOMEM;
    x->port = port;
    x->n_nodes = 1; /* slot 0 = NIL */
    x->rng = 0x9E3779B97F4A7C15ULL;
    if (!reserve(x, 0, 0)) {
        free(x);
        return EVOLU_E_NOMEM;
    }
    *out = x;
    return EVOLU_OK;
}

void evolu_mem_index_destroy(evolu_mem_index *x) {
    if (!x) return;
    free(x->nodes);
    free(x->bytes);
    free(x);
}

uint64_t evolu_mem_index_size(const evolu_mem_index *x) { return cnt(x, x->root); }
uint64_t evolu_mem_index_stored_bytes(const evolu_mem_index *x) { return x->stored_bytes; }
void evolu_mem_index_set_quota(evolu_mem_index *x, uint64_t max_bytes) { x->quota = max_bytes; }

void evolu_mem_index_fail_after(evolu_mem_index *x, uint64_t n, evolu_err err) {
    x->fail_in = n;
    x->failing = false;
    x->fail_err = err ? err : EVOLU_E_STATE;
}

/* --- store table --------------------------------------------------------------------- */

static evolu_err st_size(void *ctx, uint64_t *out) {
    evolu_mem_index *x = ctx;
    if (failing(x)) return x->fail_err;
    *out = cnt(x, x->root);
    return EVOLU_OK;
}

static evolu_err st_fingerprint(void *ctx, uint64_t begin, uint64_t end,
                                uint8_t out[EVOLU_FINGERPRINT_BYTES]) {
    evolu_mem_index *x = ctx;
    if (failing(x)) return x->fail_err;
    if (begin > end || end > cnt(x, x->root)) return EVOLU_E_ARG;
    uint8_t b[EVOLU_FINGERPRINT_BYTES];
    prefix(x, end, out);
    prefix(x, begin, b);
    evolu_fingerprint_xor(out, b);
    return EVOLU_OK;
}

static evolu_err st_find_lower_bound(void *ctx, uint64_t begin, uint64_t end,
                                     const uint8_t *bound, uint64_t *out) {
    evolu_mem_index *x = ctx;
    if (failing(x)) return x->fail_err;
    if (begin > end) return EVOLU_E_ARG;
    if (end == 0 || begin == end || !bound) {
        *out = end;
        return EVOLU_OK;
    }
    uint64_t r = lower_bound(x, bound);
    *out = r == cnt(x, x->root) ? end : r;
    return EVOLU_OK;
}

static evolu_err st_iterate(void *ctx, uint64_t begin, uint64_t end, evolu_store_visit_fn visit,
                            void *vctx) {
    evolu_mem_index *x = ctx;
    if (failing(x)) return x->fail_err;
    if (begin > end || end > cnt(x, x->root)) return EVOLU_E_ARG;
    walk(x, x->root, 0, begin, end, visit, vctx);
    return EVOLU_OK;
}

static evolu_err st_read_change(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                                const evolu_store_arena *arena, const uint8_t **change,
                                size_t *change_len) {
    (void)arena;
    evolu_mem_index *x = ctx;
    if (failing(x)) return x->fail_err;
    uint32_t t = find(x, ts);
    if (!t) return EVOLU_E_ARG;
    *change = x->bytes + x->nodes[t].change_off;
    *change_len = x->nodes[t].change_len;
    return EVOLU_OK;
}

/* Removes the nodes added since old_nodes (in any order) and their bytes. */
static void rollback(evolu_mem_index *x, size_t old_nodes, size_t old_bytes,
                     uint64_t old_stored) {
    for (size_t i = old_nodes; i < x->n_nodes; i++)
        x->root = erase_key(x, x->root, x->nodes[i].ts);
    x->n_nodes = old_nodes;
    x->n_bytes = old_bytes;
    x->stored_bytes = old_stored;
}

static evolu_err st_write_messages(void *ctx, const evolu_store_batch *batch) {
    evolu_mem_index *x = ctx;
    if (failing(x)) return x->fail_err;
    evolu_timestamp ts;
    const uint8_t *change;
    size_t len;
    evolu_err e;

    /* Pass 1: reserve enough for the whole batch, so inserting cannot fail. */
    size_t n = 0, total = 0;
    batch->rewind(batch->ctx);
    while ((e = batch->next(batch->ctx, &ts, &change, &len)) == EVOLU_OK) {
        if (len > SIZE_MAX - total) return EVOLU_E_NOMEM;
        total += len;
        n++;
    }
    if (e != EVOLU_E_DONE) return e;
    if (!reserve(x, n, total)) return EVOLU_E_NOMEM;

    /* Pass 2: insert the new ones; the first of equal timestamps wins. */
    size_t old_nodes = x->n_nodes, old_bytes = x->n_bytes;
    uint64_t old_stored = x->stored_bytes;
    batch->rewind(batch->ctx);
    while ((e = batch->next(batch->ctx, &ts, &change, &len)) == EVOLU_OK) {
        uint8_t key[EVOLU_TIMESTAMP_BYTES];
        evolu_timestamp_to_bytes(&ts, key);
        if (find(x, key)) continue;
        if (x->n_nodes >= x->cap_nodes || len > x->cap_bytes - x->n_bytes) {
            e = EVOLU_E_ARG; /* the batch changed between the passes */
            break;
        }
        uint32_t id = (uint32_t)x->n_nodes++;
        node *p = &x->nodes[id];
        memset(p, 0, sizeof *p);
        memcpy(p->ts, key, sizeof key);
        evolu_fingerprint(x->port, &ts, p->fp);
        p->prio = next_prio(x);
        p->change_off = x->n_bytes;
        p->change_len = len;
        if (len) memcpy(x->bytes + x->n_bytes, change, len);
        x->n_bytes += len;
        x->stored_bytes += len;
        update(x, id);
        x->root = insert_node(x, x->root, id);
    }
    if (e != EVOLU_E_DONE) {
        rollback(x, old_nodes, old_bytes, old_stored);
        return e;
    }
    if (x->quota && x->stored_bytes > x->quota) {
        rollback(x, old_nodes, old_bytes, old_stored);
        return EVOLU_E_QUOTA;
    }
    return EVOLU_OK;
}

void evolu_mem_index_store(evolu_mem_index *x, evolu_store *out) {
    out->ctx = x;
    out->size = st_size;
    out->fingerprint = st_fingerprint;
    out->find_lower_bound = st_find_lower_bound;
    out->iterate = st_iterate;
    out->read_change = st_read_change;
    out->write_messages = st_write_messages;
}

evolu_err evolu_mem_index_insert(evolu_mem_index *x, const evolu_timestamp *ts,
                                 const uint8_t *change, size_t change_len, bool *inserted) {
    evolu_store_array_batch a;
    evolu_store_batch b;
    evolu_store_batch_from_array(&b, &a, ts, &change, &change_len, 1);
    uint64_t before = evolu_mem_index_size(x);
    evolu_err e = st_write_messages(x, &b);
    if (inserted) *inserted = e == EVOLU_OK && evolu_mem_index_size(x) > before;
    return e;
}
