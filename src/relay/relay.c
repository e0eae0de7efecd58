/* relay.c - the relay's database and policy around evolu_relay_handle (see
 * evolu/relay.h): open/close, write keys, the allow-list, one message in ->
 * reply and Broadcasts out, counters. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/id.h"
#include "relay_internal.h"
/* the index's sole-writer mode (the relay alone writes its file) */
#include "../store/sqlite_index_internal.h"

static const char *const LEVELS[] = {"error", "warn", "info", "debug"};

const char *evolu_log_level_name(evolu_log_level l) {
    return (unsigned)l < 4 ? LEVELS[l] : NULL;
}

bool evolu_log_level_parse(const char *s, evolu_log_level *out) {
    for (unsigned i = 0; i < 4; i++)
        if (!strcmp(s, LEVELS[i])) {
            *out = (evolu_log_level)i;
            return true;
        }
    return false;
}

void evolu_relay_log(const evolu_relay *r, evolu_log_level level, const char *fmt, ...) {
    if (!r->o.log || level > r->o.log_level) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->o.log(r->o.log_ctx, level, line);
}

/* --- buffers ------------------------------------------------------------------ */

typedef struct buf_block {
    evolu_relay_buf b;
    size_t headroom;
} buf_block;

evolu_relay_buf *evolu_relay_buf_new(const evolu_relay *r, size_t len) {
    size_t head = (r->o.headroom + 15u) & ~(size_t)15u;
    buf_block *k = malloc(sizeof *k + head + len);
    if (!k) return NULL;
    k->b.refs = 1;
    k->b.len = len;
    k->b.data = (uint8_t *)(k + 1) + head;
    k->headroom = head;
    return &k->b;
}

void evolu_relay_buf_ref(evolu_relay_buf *b) { b->refs++; }

void evolu_relay_buf_unref(evolu_relay_buf *b) {
    if (b && --b->refs == 0) free(b); /* b is the first member of its block */
}

/* --- options, allow-list ---------------------------------------------------------- */

void evolu_relay_options_default(evolu_relay_options *o) {
    memset(o, 0, sizeof *o);
    o->quota_bytes = EVOLU_RELAY_DEFAULT_QUOTA;
    o->synchronous_full = true;
    o->group_commit = true;
    o->log_level = EVOLU_LOG_INFO;
}

bool evolu_relay_has_allow_list(const evolu_relay *r) { return r->o.n_allow > 0; }

bool evolu_relay_owner_allowed(const evolu_relay *r, const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    if (r->o.n_allow == 0) return true;
    for (size_t i = 0; i < r->o.n_allow; i++)
        if (!memcmp(r->allow[i], owner, EVOLU_OWNER_ID_BYTES)) return true;
    return false;
}

int evolu_relay_check_upgrade(const evolu_relay *r, const char *query) {
    if (r->o.n_allow == 0) return 0;
    /* url.split("=")[1]: the text between the first and the second '='. */
    const char *eq = query ? strchr(query, '=') : NULL;
    if (!eq) return 400;
    const char *start = eq + 1, *end = strchr(start, '=');
    size_t n = end ? (size_t)(end - start) : strlen(start);
    uint8_t owner[EVOLU_OWNER_ID_BYTES];
    if (evolu_id_from_string(start, n, owner)) return 400;
    return evolu_relay_owner_allowed(r, owner) ? 0 : 401;
}

/* --- database ------------------------------------------------------------------------ */

static evolu_err cb_open_store(void *ctx, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                               evolu_store *out) {
    evolu_relay *r = ctx;
    return evolu_sqlite_index_store(r->idx, owner, out);
}

static evolu_err cb_get_write_key(void *ctx, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                                  uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES], bool *found) {
    evolu_relay *r = ctx;
    if ((*found = evolu_relay_keys_get(r, owner, key))) return EVOLU_OK;
    sqlite3_stmt *s = r->wk_get;
    evolu_err e = EVOLU_OK;
    sqlite3_bind_blob(s, 1, owner, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(s, 0);
        if (p && sqlite3_column_bytes(s, 0) == EVOLU_OWNER_WRITE_KEY_BYTES) {
            memcpy(key, p, EVOLU_OWNER_WRITE_KEY_BYTES);
            *found = true;
            evolu_relay_keys_put(r, owner, key);
        } else {
            e = EVOLU_E_STORAGE;
        }
    } else if (rc != SQLITE_DONE) {
        e = EVOLU_E_STORAGE;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return e;
}

static evolu_err cb_set_write_key(void *ctx, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                                  const uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES]) {
    evolu_relay *r = ctx;
    sqlite3_stmt *s = r->wk_put;
    sqlite3_bind_blob(s, 1, owner, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, key, EVOLU_OWNER_WRITE_KEY_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return EVOLU_E_STORAGE;
    evolu_relay_keys_put(r, owner, key);
    char id[EVOLU_ID_CHARS + 1];
    evolu_id_to_string(owner, id);
    id[EVOLU_ID_CHARS] = 0;
    evolu_relay_log(r, EVOLU_LOG_INFO, "owner %s claimed by its first write key", id);
    return EVOLU_OK;
}

evolu_err evolu_relay_owner_has_write_key(evolu_relay *r,
                                          const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                                          bool *found) {
    uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES];
    evolu_err e = cb_get_write_key(r, owner, key, found);
    r->o.port->memzero(r->o.port->ctx, key, sizeof key);
    return e;
}

static void cb_subscribe(void *ctx, const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    evolu_relay *r = ctx;
    if (!evolu_relay_sub_add(r, r->cur, owner))
        evolu_relay_log(r, EVOLU_LOG_ERROR, "conn %llu: out of memory subscribing",
                        (unsigned long long)r->cur->id);
}

static void cb_unsubscribe(void *ctx, const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    evolu_relay *r = ctx;
    evolu_relay_sub_remove(r, r->cur, owner);
}

/* After a successful write: a Broadcast of exactly the request's messages to
 * every other subscriber (spec 7.5), built once and shared. */
static void cb_broadcast(void *ctx, const evolu_msg_reader *req) {
    evolu_relay *r = ctx;
    r->st.messages_written += req->n_messages;
    const relay_sub *s = evolu_relay_sub_find(r, req->header.owner_id);
    if (!s || (s->n == 1 && s->conns[0] == r->cur)) return;
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, r->bmsgs, RELAY_MSGS_CAP, NULL, 0, NULL, 0);
    evolu_err e = evolu_msg_build_broadcast(&b, req, EVOLU_RELAY_MAX_MESSAGE);
    evolu_writer w = evolu_writer_make(NULL, 0);
    if (!e) {
        evolu_msg_builder_emit(&b, &w);
        evolu_relay_buf *buf = evolu_relay_buf_new(r, w.len);
        if (!buf) {
            e = EVOLU_E_NOMEM;
        } else {
            w = evolu_writer_make(buf->data, buf->len);
            e = evolu_msg_builder_emit(&b, &w);
            if (!e) {
                for (size_t i = 0; i < s->n; i++) {
                    if (s->conns[i] == r->cur) continue;
                    evolu_relay_buf_ref(buf);
                    evolu_relay_deliver(r, s->conns[i], buf, RELAY_HELD_BROADCAST,
                                        req->header.owner_id);
                    r->st.broadcasts++;
                    if (r->cur_out) r->cur_out->broadcasts++;
                }
            }
            evolu_relay_buf_unref(buf);
        }
    }
    if (e)
        evolu_relay_log(r, EVOLU_LOG_ERROR, "conn %llu: broadcast not sent: %s",
                        (unsigned long long)r->cur->id, evolu_strerror(e));
}

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS evolu_relay_write_key (ownerId BLOB PRIMARY KEY, "
    "writeKey BLOB NOT NULL) STRICT, WITHOUT ROWID;";

static evolu_err open_db(evolu_relay *r) {
    /* NOMUTEX: the relay uses its handle from one thread only, so SQLite
     * need not lock the connection's mutex on every call. */
    if (sqlite3_open_v2(r->o.db_path, &r->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA busy_timeout = 5000;",
             r->o.synchronous_full ? "FULL" : "NORMAL");
    if (sqlite3_exec(r->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(r->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    /* journal_mode answers with the mode it got; insist on WAL. */
    sqlite3_stmt *q = NULL;
    bool wal = false;
    if (sqlite3_prepare_v2(r->db, "PRAGMA journal_mode", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        const unsigned char *m = sqlite3_column_text(q, 0);
        wal = m && !strcmp((const char *)m, "wal");
    }
    sqlite3_finalize(q);
    if (!wal) return EVOLU_E_STORAGE;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT writeKey FROM evolu_relay_write_key WHERE ownerId = ?1", -1,
                           &r->wk_get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "INSERT INTO evolu_relay_write_key (ownerId, writeKey) VALUES (?1, ?2)",
                           -1, &r->wk_put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db, "SELECT 1", -1, &r->totals, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    evolu_err e = evolu_sqlite_index_open_db(r->o.port, r->db, &r->idx);
    if (e) return e;
    /* One connection in one thread writes this file: the index may keep its
     * decoded nodes across the group commit's transactions (dropped on any
     * rollback), so syncs and pushes read them without SQL. */
    if ((e = sidx_set_sole_writer(r->idx))) return e;
    sqlite3_finalize(r->totals);
    r->totals = NULL;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(storedBytes), 0) "
                           "FROM evolu_idx_owner WHERE size > 0",
                           -1, &r->totals, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    evolu_sqlite_index_set_quota(r->idx, r->o.quota_bytes);
    return EVOLU_OK;
}

evolu_err evolu_relay_open(const evolu_relay_options *o, evolu_relay **out) {
    *out = NULL;
    if (!o || !o->port || !o->db_path || !o->send) return EVOLU_E_ARG;
    evolu_relay *r = calloc(1, sizeof *r);
    if (!r) return EVOLU_E_NOMEM;
    r->o = *o;
    r->arena_cap = EVOLU_RELAY_MAX_MESSAGE + (size_t)RELAY_RANGES_CAP * EVOLU_RBSR_ARENA_PER_RANGE +
                   4096;
    if (o->n_allow) {
        r->allow = malloc(o->n_allow * sizeof *r->allow);
        if (r->allow) memcpy(r->allow, o->allow, o->n_allow * sizeof *r->allow);
    }
    r->o.allow = NULL;
    r->msgs = malloc(RELAY_MSGS_CAP * sizeof *r->msgs);
    r->bmsgs = malloc(RELAY_MSGS_CAP * sizeof *r->bmsgs);
    r->ranges = malloc(RELAY_RANGES_CAP * sizeof *r->ranges);
    r->arena = malloc(r->arena_cap);
    r->scratch = malloc(RELAY_SCRATCH_CAP * sizeof *r->scratch);
    r->reply = malloc(EVOLU_RELAY_MAX_MESSAGE);
    if (!r->msgs || !r->bmsgs || !r->ranges || !r->arena || !r->scratch || !r->reply ||
        (o->n_allow && !r->allow)) {
        evolu_relay_close(r);
        return EVOLU_E_NOMEM;
    }
    evolu_err e = open_db(r);
    if (e) {
        evolu_relay_log(r, EVOLU_LOG_ERROR, "cannot open database %s: %s", o->db_path,
                        r->db ? sqlite3_errmsg(r->db) : "out of memory");
        evolu_relay_close(r);
        return e;
    }
    evolu_relay_config *c = &r->cfg;
    c->port = o->port;
    c->ctx = r;
    c->open_store = cb_open_store;
    c->get_write_key = cb_get_write_key;
    c->set_write_key = cb_set_write_key;
    c->subscribe = cb_subscribe;
    c->unsubscribe = cb_unsubscribe;
    c->broadcast = cb_broadcast;
    c->total_max = EVOLU_RELAY_MAX_MESSAGE;
    c->input_max = EVOLU_RELAY_MAX_MESSAGE;
    c->scratch = r->scratch;
    c->scratch_cap = RELAY_SCRATCH_CAP;
    *out = r;
    return EVOLU_OK;
}

void evolu_relay_close(evolu_relay *r) {
    if (!r) return;
    /* Commit what is pending (never acknowledged, but harmless) and drop
     * the held sends: the network is going away. */
    if (r->in_tx) sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    r->in_tx = false;
    while (r->held) {
        relay_held *h = r->held;
        r->held = h->next;
        evolu_relay_buf_unref(h->buf);
        free(h);
    }
    evolu_relay_subs_free(r);
    evolu_relay_keys_free(r);
    evolu_sqlite_index_close(r->idx);
    sqlite3_finalize(r->wk_get);
    sqlite3_finalize(r->wk_put);
    sqlite3_finalize(r->totals);
    if (r->db) sqlite3_close(r->db);
    free(r->allow);
    free(r->msgs);
    free(r->bmsgs);
    free(r->ranges);
    free(r->arena);
    free(r->scratch);
    free(r->reply);
    free(r);
}

/* --- one message --------------------------------------------------------------------- */

static void owner_text(const uint8_t *owner, char out[EVOLU_ID_CHARS + 1]) {
    evolu_id_to_string(owner, out);
    out[EVOLU_ID_CHARS] = 0;
}

evolu_err evolu_relay_on_message(evolu_relay *r, evolu_relay_conn *c, const uint8_t *bytes,
                                 size_t len, evolu_relay_result *out) {
    evolu_relay_result dummy;
    if (!out) out = &dummy;
    memset(out, 0, sizeof *out);
    r->st.requests++;
    r->st.bytes_received += len;
    unsigned long long cid = (unsigned long long)c->id;

    /* The allow-list also holds for the owner in each message: otherwise a
     * connection opened for an allowed owner could write to any other. */
    evolu_reader hr = evolu_reader_make(bytes, len);
    evolu_header h;
    evolu_err he = evolu_header_decode(&hr, &h);
    char id[EVOLU_ID_CHARS + 1] = "?";
    if (he == EVOLU_OK || he == EVOLU_E_VERSION) {
        owner_text(h.owner_id, id);
        if (!evolu_relay_owner_allowed(r, h.owner_id)) {
            r->st.not_allowed++;
            evolu_relay_log(r, EVOLU_LOG_WARN, "conn %llu: owner %s not allowed, no reply", cid,
                            id);
            return out->cause = EVOLU_E_OWNER;
        }
    }

    /* SQLite rolls a transaction back by itself on some errors (disk full,
     * I/O): then what this batch wrote is gone, so its held replies become
     * errorCode 2 now, before anything else is written outside it. */
    if (r->in_tx && sqlite3_get_autocommit(r->db)) evolu_relay_flush(r);
    if (r->o.group_commit && !r->in_tx) {
        if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
            r->in_tx = true;
        else
            evolu_relay_log(r, EVOLU_LOG_WARN, "cannot begin a batch: %s; committing alone",
                            sqlite3_errmsg(r->db));
    }
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, r->msgs, RELAY_MSGS_CAP, r->ranges, RELAY_RANGES_CAP, r->arena,
                           r->arena_cap);
    evolu_writer w = evolu_writer_make(r->reply, EVOLU_RELAY_MAX_MESSAGE);
    evolu_relay_outcome oc;
    r->cur = c;
    r->cur_out = out;
    evolu_err e = evolu_relay_handle(&r->cfg, bytes, len, &b, &w, &oc);
    r->cur = NULL;
    r->cur_out = NULL;
    if (e) {
        out->cause = e;
        if (e == EVOLU_E_STORAGE || e == EVOLU_E_NOMEM || e == EVOLU_E_BUFFER) {
            r->st.internal_errors++;
            evolu_relay_log(r, EVOLU_LOG_ERROR, "conn %llu: owner %s: %s, no reply", cid, id,
                            evolu_strerror(e));
        } else {
            r->st.invalid++;
            evolu_relay_log(r, EVOLU_LOG_WARN,
                            "conn %llu: invalid message (%zu bytes, owner %s): %s, no reply", cid,
                            len, id, evolu_strerror(e));
        }
        return e;
    }
    out->version_reply = oc.version_reply;
    out->error_code = oc.error_code;
    out->cause = oc.cause;
    switch (oc.version_reply ? 255 : oc.error_code) {
    case 255:
        r->st.version_replies++;
        evolu_relay_log(r, EVOLU_LOG_INFO, "conn %llu: owner %s: protocol version %llu, "
                        "answered with version 1", cid, id, (unsigned long long)h.version);
        break;
    case EVOLU_ERROR_CODE_NONE: break;
    case EVOLU_ERROR_CODE_WRITE_KEY:
        r->st.write_key_errors++;
        evolu_relay_log(r, EVOLU_LOG_WARN, "conn %llu: owner %s: write key missing or wrong "
                        "(errorCode 1)", cid, id);
        break;
    case EVOLU_ERROR_CODE_WRITE:
        r->st.write_errors++;
        evolu_relay_log(r, EVOLU_LOG_ERROR, "conn %llu: owner %s: write failed (errorCode 2): %s",
                        cid, id, evolu_strerror(oc.cause));
        break;
    case EVOLU_ERROR_CODE_QUOTA:
        r->st.quota_errors++;
        evolu_relay_log(r, EVOLU_LOG_WARN, "conn %llu: owner %s: quota exceeded (errorCode 3)",
                        cid, id);
        break;
    default:
        r->st.sync_errors++;
        evolu_relay_log(r, EVOLU_LOG_ERROR, "conn %llu: owner %s: sync failed (errorCode %u): %s",
                        cid, id, oc.error_code, evolu_strerror(oc.cause));
        break;
    }
    evolu_relay_buf *buf = evolu_relay_buf_new(r, w.len);
    if (!buf) {
        r->st.internal_errors++;
        evolu_relay_log(r, EVOLU_LOG_ERROR, "conn %llu: out of memory for the reply", cid);
        return out->cause = EVOLU_E_NOMEM;
    }
    memcpy(buf->data, r->reply, w.len);
    evolu_relay_deliver(r, c, buf, oc.version_reply ? RELAY_HELD_KEEP : RELAY_HELD_RESPONSE,
                        h.owner_id);
    r->st.replies++;
    out->replied = true;
    if (r->in_tx && ++r->batch_msgs >= RELAY_BATCH_MAX) evolu_relay_flush(r);
    evolu_relay_log(r, EVOLU_LOG_DEBUG, "conn %llu: owner %s: %zu bytes in, %zu bytes out, "
                    "errorCode %u, %zu broadcasts", cid, id, len, w.len, oc.error_code,
                    out->broadcasts);
    return EVOLU_OK;
}

/* --- stats ---------------------------------------------------------------------------- */

evolu_err evolu_relay_get_stats(evolu_relay *r, evolu_relay_stats *out) {
    evolu_relay_flush(r);
    *out = r->st;
    sqlite3_stmt *s = r->totals;
    evolu_err e = EVOLU_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        out->owners = (uint64_t)sqlite3_column_int64(s, 0);
        out->messages_stored = (uint64_t)sqlite3_column_int64(s, 1);
        out->bytes_stored = (uint64_t)sqlite3_column_int64(s, 2);
    } else {
        e = EVOLU_E_STORAGE;
    }
    sqlite3_reset(s);
    return e;
}

void evolu_relay_stats_format(const evolu_relay_stats *s, char *out, size_t cap) {
    snprintf(out, cap,
             "connections=%llu connections_total=%llu subscriptions=%llu owners=%llu "
             "messages_stored=%llu bytes_stored=%llu requests=%llu bytes_received=%llu "
             "replies=%llu broadcasts=%llu messages_written=%llu invalid=%llu "
             "not_allowed=%llu version_replies=%llu write_key_errors=%llu write_errors=%llu "
             "quota_errors=%llu sync_errors=%llu internal_errors=%llu commits=%llu "
             "commit_failures=%llu",
             (unsigned long long)s->connections, (unsigned long long)s->connections_total,
             (unsigned long long)s->subscriptions, (unsigned long long)s->owners,
             (unsigned long long)s->messages_stored, (unsigned long long)s->bytes_stored,
             (unsigned long long)s->requests, (unsigned long long)s->bytes_received,
             (unsigned long long)s->replies, (unsigned long long)s->broadcasts,
             (unsigned long long)s->messages_written, (unsigned long long)s->invalid,
             (unsigned long long)s->not_allowed, (unsigned long long)s->version_replies,
             (unsigned long long)s->write_key_errors, (unsigned long long)s->write_errors,
             (unsigned long long)s->quota_errors, (unsigned long long)s->sync_errors,
             (unsigned long long)s->internal_errors, (unsigned long long)s->commits,
             (unsigned long long)s->commit_failures);
}
