/* sqlite_index_verify.c - the SQLite index's exhaustive checker
 * (evolu_sqlite_index_verify), for tests. */
#include <stdlib.h>
#include <string.h>

#include "sqlite_index_impl.h"

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
    evolu_err e = sidx_node_get(v->o, id, nd);
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
    if (!e) sidx_summarize(nd, count, fp, min);
    free(nd);
    return e;
}

evolu_err evolu_sqlite_index_verify(evolu_sqlite_index *x,
                                    const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]) {
    owner *o = sidx_owner_find(x, owner_id);
    if (!o) return EVOLU_E_NOMEM;
    meta m;
    evolu_err e = sidx_meta_get(o, &m);
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
    sqlite3_stmt *s = sidx_stmt(x, Q_MSG_STATS, o->id);
    if (sqlite3_step(s) != SQLITE_ROW) e = EVOLU_E_STORAGE;
    else if ((uint64_t)sqlite3_column_int64(s, 0) != m.size ||
             (uint64_t)sqlite3_column_int64(s, 1) != m.stored)
        e = EVOLU_E_STATE;
    sqlite3_reset(s);
    return e;
}
