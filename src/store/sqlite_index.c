/* sqlite_index.c - the SQLite timestamp index (see evolu/sqlite_index.h):
 * the store table over one owner, writes in a savepoint, opening, owners, and
 * the client's tree-only batches (sqlite_index_internal.h). The tree itself:
 * sqlite_index_tree.c; node rows and caches: sqlite_index_node.c. */
#include "evolu/sqlite_index.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_index_impl.h"
#include "sqlite_index_internal.h"

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
    "PRAGMA data_version",
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

/* --- store table ------------------------------------------------------------------------ */

static evolu_err st_size(void *ctx, uint64_t *out) {
    owner *o = ctx;
    meta m;
    evolu_err e = sidx_read_begin(o->idx);
    if (!e) e = sidx_meta_get(o, &m);
    sidx_read_end(o->idx);
    if (!e) *out = m.size;
    return e;
}

static evolu_err fingerprint(owner *o, uint64_t begin, uint64_t end, uint8_t out[FP]) {
    meta m;
    evolu_err e = sidx_meta_get(o, &m);
    if (e) return e;
    if (begin > end || end > m.size) return EVOLU_E_ARG;
    if (begin == end) {
        memset(out, 0, FP);
        return EVOLU_OK;
    }
    return sidx_range_xor(o, &m, begin, end, out);
}

static evolu_err st_fingerprint(void *ctx, uint64_t begin, uint64_t end, uint8_t out[FP]) {
    owner *o = ctx;
    evolu_err e = sidx_read_begin(o->idx);
    if (!e) e = fingerprint(o, begin, end, out);
    sidx_read_end(o->idx);
    return e;
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
    evolu_err e = sidx_read_begin(o->idx);
    if (!e) e = sidx_meta_get(o, &m);
    if (!e) e = sidx_lower_bound(o, &m, bound, &r);
    sidx_read_end(o->idx);
    if (!e) *out = r == m.size ? end : r;
    return e;
}

static evolu_err iterate(owner *o, uint64_t begin, uint64_t end, evolu_store_visit_fn visit,
                         void *vctx) {
    meta m;
    evolu_err e = sidx_meta_get(o, &m);
    if (e) return e;
    if (begin > end || end > m.size) return EVOLU_E_ARG;
    if (begin == end) return EVOLU_OK;
    evolu_sqlite_index *x = o->idx;
    bool memo = x->rc_valid && x->it_nd;
    /* within the leaf where the last walk stopped: straight from it, while
     * visit leaves it alone (a visit that walks again bumps it_gen) */
    while (memo && x->it_owner == o && x->it_epoch == x->epoch && begin >= x->it_first &&
           end - x->it_first <= x->it_nd->n) {
        uint64_t gen = x->it_gen;
        uint8_t key[TS];
        memcpy(key, x->it_nd->key[begin - x->it_first], TS);
        if (!visit(vctx, key, begin) || ++begin == end) return EVOLU_OK;
        if (x->it_gen != gen) break;
    }
    /* a private node: visit may call the store's other read functions */
    node *nd = malloc(sizeof *nd);
    if (!nd) return EVOLU_E_NOMEM;
    uint32_t pos;
    uint64_t i = begin, first; /* first: the index of nd's first item */
    bool at_memo = memo && x->it_owner == o && x->it_epoch == x->epoch && begin >= x->it_first;
    if (at_memo && begin - x->it_first < x->it_nd->n) {
        *nd = *x->it_nd; /* the walk goes on where the last one stopped */
        first = x->it_first;
        pos = (uint32_t)(begin - first);
    } else if (at_memo && begin - x->it_first == x->it_nd->n && x->it_nd->next) {
        first = begin; /* or at the first item of the leaf after it */
        pos = 0;
        if (!(e = sidx_node_get(o, x->it_nd->next, nd)) && !nd->leaf) e = EVOLU_E_STORAGE;
    } else {
        e = sidx_leaf_at(o, &m, begin, nd, &pos);
        first = begin - pos;
    }
    while (!e) {
        uint8_t key[TS];
        memcpy(key, nd->key[pos], TS);
        if (!visit(vctx, key, i) || ++i == end) break;
        if (++pos == nd->n) {
            first += nd->n;
            if (!nd->next || (e = sidx_node_get(o, nd->next, nd)) || !nd->leaf) {
                e = EVOLU_E_STORAGE;
                break;
            }
            pos = 0;
        }
    }
    if (!e && memo && x->rc_valid) {
        *x->it_nd = *nd;
        x->it_gen++;
        x->it_owner = o;
        x->it_first = first;
        x->it_epoch = x->epoch;
    }
    free(nd);
    return e;
}

static evolu_err st_iterate(void *ctx, uint64_t begin, uint64_t end, evolu_store_visit_fn visit,
                            void *vctx) {
    owner *o = ctx;
    evolu_err e = sidx_read_begin(o->idx);
    if (!e) e = iterate(o, begin, end, visit, vctx);
    sidx_read_end(o->idx);
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
    sqlite3_stmt *s = sidx_stmt(o->idx, Q_MSG_GET, o->id);
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
    evolu_err e = sidx_meta_get(o, &m);
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
        sqlite3_stmt *s = sidx_stmt(x, Q_MSG_INS, o->id);
        sqlite3_bind_blob(s, 2, key, TS, SQLITE_STATIC);
        sqlite3_bind_blob(s, 3, len ? (const void *)change : (const void *)"", (int)len,
                          SQLITE_STATIC);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
        if (sqlite3_changes(x->db) == 0) continue; /* already stored: first wins */
        evolu_fingerprint(x->port, &ts, fp);
        if ((e = sidx_tree_insert(o, &m, key, fp))) return e;
        m.size++;
        m.stored += len;
    }
    if (e != EVOLU_E_DONE) return e;
    if (m.size == old_size) return EVOLU_OK;
    if (x->quota && m.stored > x->quota) return EVOLU_E_QUOTA;
    if ((e = sidx_cache_flush(o))) return e;
    return sidx_meta_put(o, &m);
}

static evolu_err st_write_messages(void *ctx, const evolu_store_batch *batch) {
    owner *o = ctx;
    evolu_sqlite_index *x = o->idx;
    if (x->keys_owner) return EVOLU_E_STATE; /* inside a tree-only batch */
    sidx_read_end(x);
    held_free(o); /* the store is being written: earlier changes may go */
    x->it_owner = NULL;
    evolu_err e = sidx_exec_q(x, Q_SP_BEGIN);
    if (e) return e;
    x->batching = true;
    x->n_cache = 0;
    e = write_batch(o, batch);
    x->batching = false; /* flushed on success; on failure the rollback drops it all */
    x->n_cache = 0;
    if (e) {
        sidx_exec_q(x, Q_SP_ROLLBACK);
        sidx_exec_q(x, Q_SP_RELEASE);
        sidx_cache_forget(x); /* nodes and owner rows written through are undone */
        return e;
    }
    if ((e = sidx_exec_q(x, Q_SP_RELEASE))) {
        sidx_exec_q(x, Q_SP_ROLLBACK);
        sidx_exec_q(x, Q_SP_RELEASE);
        sidx_cache_forget(x);
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
    if (x->sole) sqlite3_rollback_hook(x->db, NULL, NULL);
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(x->q[i]);
    while (x->owners) {
        owner *o = x->owners;
        x->owners = o->next;
        held_free(o);
        free(o);
    }
    if (x->own_db) sqlite3_close(x->db);
    sidx_rcache_free(x);
    free(x->cache);
    free(x);
}

void evolu_sqlite_index_set_quota(evolu_sqlite_index *x, uint64_t max_bytes) {
    x->quota = max_bytes;
}

owner *sidx_owner_find(evolu_sqlite_index *x, const uint8_t id[EVOLU_OWNER_ID_BYTES]) {
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
    owner *o = sidx_owner_find(x, owner_id);
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
    evolu_err e = sidx_meta_get(&o, &m);
    if (e) return e;
    if (size) *size = m.size;
    if (stored_bytes) *stored_bytes = m.stored;
    return EVOLU_OK;
}

/* --- tree-only batches (sqlite_index_internal.h) ----------------------------------------- */

evolu_err sidx_keys_begin(evolu_sqlite_index *x, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]) {
    if (x->batching) return EVOLU_E_STATE;
    sidx_read_end(x);
    owner *o = sidx_owner_find(x, owner_id);
    if (!o) return EVOLU_E_NOMEM;
    held_free(o); /* the store is being written: earlier changes may go */
    x->it_owner = NULL;
    evolu_err e = sidx_meta_get(o, &x->keys_meta);
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
    evolu_err e = sidx_tree_insert(x->keys_owner, &x->keys_meta, key, fp);
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
        e = sidx_cache_flush(o);
        if (!e) e = sidx_meta_put(o, &x->keys_meta);
    }
    x->batching = false; /* on failure the caller's rollback drops the rows */
    x->n_cache = 0;
    if (!commit || e) sidx_cache_forget(x);
    return e;
}

/* --- sole writer (sqlite_index_internal.h) ------------------------------------------------ */

static void on_rollback(void *ctx) { sidx_cache_forget(ctx); }

evolu_err sidx_set_sole_writer(evolu_sqlite_index *x) {
    if (!x->rcache && !(x->rcache = calloc(RCACHE, sizeof *x->rcache))) return EVOLU_E_NOMEM;
    if (!x->it_nd && !(x->it_nd = malloc(sizeof *x->it_nd))) return EVOLU_E_NOMEM;
    sqlite3_rollback_hook(x->db, on_rollback, x);
    x->sole = true;
    x->rc_valid = !x->batching;
    sidx_cache_forget(x); /* nothing cached so far is trusted; epoch 0 is never valid */
    return EVOLU_OK;
}
