/*
 * ws_client.c - the client library (evolu/evolu.h): the database, the owner
 * and one sync session per relay over libwebsockets 4.1 client connections.
 *
 * Transport rules: binary frames only (text frames are ignored, as the TS
 * client does); a received message is reassembled from its fragments up to
 * receive_max bytes (a bigger one closes the connection: the relay is
 * misbehaving); every frame we send comes from the protocol builder whose
 * totalMaxSize is 1,000,000, so none is larger (checked again before
 * sending). One lws context per handle; a 100 ms timer bounds every wait so
 * retries and silence timeouts are checked even when nothing arrives.
 */
#define _POSIX_C_SOURCE 200809L
#include <libwebsockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evolu/client_json.h"
#include "evolu/client_owner.h"
#include "evolu/client_session.h"
#include "evolu/evolu.h"
#include "evolu/port_sodium.h"
#include "evolu/protocol.h"
#include "ws_common.h"

#define TICK_US (100 * LWS_US_PER_MS)
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000

enum conn_state { C_IDLE, C_CONNECTING, C_OPEN, C_WAIT, C_STOPPED };

typedef struct conn {
    struct evolu *ev;
    size_t index;
    evolu_ws_url url; /* path includes ?ownerId= */
    struct lws *wsi;
    evolu_session *session;
    evolu_ws_queue q;
    evolu_ws_rx rx;
    enum conn_state state;
    int64_t retry_at, last_rx, waiting_since;
    int backoff_ms;
    unsigned failed_attempts;
    bool ever_open, closing, want_resync;
    evolu_err err;
    evolu_err sync_failed; /* a relay error during the current evolu_sync */
    char detail[160]; /* libwebsockets' words for the last connection error */
} conn;

struct evolu {
    const evolu_port *port;
    evolu_client_db *db;
    evolu_owner owner;
    bool read_only;
    struct lws_context *ctx;
    conn conns[EVOLU_MAX_RELAYS];
    size_t n;
    size_t receive_max;
    int silence_ms;
    lws_sorted_usec_list_t tick;
    evolu_ws_fdset fds;
    volatile sig_atomic_t stop;
    evolu_status_fn on_status;
    void *status_ctx;
    char *ca_file;
};

static int64_t mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void status(conn *c, evolu_status st, evolu_err e) {
    if (c->ev->on_status) c->ev->on_status(c->ev->status_ctx, c->index, st, e);
}

/* --- URL --------------------------------------------------------------------- */

static evolu_err parse_url(conn *c, const char *url, const char *owner_id) {
    /* room after the path for "&ownerId=" and the id */
    evolu_err e = evolu_ws_url_parse(url, 38, &c->url);
    if (e) return e;
    char *path = c->url.path;
    if (!strstr(path, "ownerId=")) {
        strcat(path, strchr(path, '?') ? "&ownerId=" : "?ownerId=");
        strcat(path, owner_id);
    }
    return EVOLU_OK;
}

/* --- send queue ------------------------------------------------------------------ */

static evolu_err enqueue(conn *c, const uint8_t *bytes, size_t len) {
    if (len > EVOLU_PROTOCOL_MAX_SIZE) return EVOLU_E_LIMIT; /* never send more */
    evolu_err e = evolu_ws_queue_push(&c->q, bytes, len);
    if (e) return e;
    if (c->wsi) lws_callback_on_writable(c->wsi);
    return EVOLU_OK;
}

/* --- connection lifecycle -------------------------------------------------------- */

static void schedule_retry(conn *c) {
    c->state = C_WAIT;
    uint8_t r = 0;
    c->ev->port->random(c->ev->port->ctx, &r, 1);
    c->retry_at = mono_ms() + c->backoff_ms + (c->backoff_ms * r) / 1024; /* + 0..25% */
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void start_connect(conn *c) {
    c->state = C_CONNECTING;
    evolu_ws_rx_reset(&c->rx);
    c->closing = false;
    status(c, EVOLU_STATUS_CONNECTING, EVOLU_OK);
    if (!evolu_ws_connect(c->ev->ctx, &c->url, "evolu", c, &c->wsi)) {
        c->wsi = NULL;
        c->err = EVOLU_E_CONNECT;
        c->failed_attempts++;
        schedule_retry(c);
        status(c, EVOLU_STATUS_DISCONNECTED, c->err);
    }
}

/* A permanent stop: the same request would fail the same way again. */
static bool permanent(evolu_err e) {
    return e == EVOLU_E_WRITE_KEY || e == EVOLU_E_QUOTA || e == EVOLU_E_VERSION ||
           e == EVOLU_E_DECRYPT || e == EVOLU_E_TIMESTAMP_MISMATCH ||
           e == EVOLU_E_CLOCK_DRIFT || e == EVOLU_E_OWNER || e == EVOLU_E_STORAGE ||
           e == EVOLU_E_NOMEM || e == EVOLU_E_LIMIT;
}

static void handle_frame(conn *c) {
    evolu_session_result res;
    const uint8_t *out = NULL;
    size_t out_len = 0;
    evolu_err e = evolu_session_receive(c->session, c->rx.buf, c->rx.len, &res, &out, &out_len);
    c->rx.len = 0;
    if (e) {
        c->err = e;
        c->sync_failed = e;
        if (permanent(e)) {
            c->state = C_STOPPED;
            status(c, EVOLU_STATUS_STOPPED, e);
        } else {
            /* transient (a relay's SyncError, WriteError, invalid data):
             * drop the connection and try again later */
            status(c, EVOLU_STATUS_DISCONNECTED, e);
        }
        c->closing = true;
        if (c->wsi) lws_callback_on_writable(c->wsi);
        return;
    }
    if (res.send) {
        e = enqueue(c, out, out_len);
        if (e) {
            c->err = e;
            c->closing = true;
            if (c->wsi) lws_callback_on_writable(c->wsi);
            return;
        }
    }
    if (evolu_session_in_flight(c->session))
        c->waiting_since = mono_ms();
    if (res.converged && !res.broadcast) {
        c->backoff_ms = BACKOFF_MIN_MS;
        c->err = EVOLU_OK;
        status(c, EVOLU_STATUS_CONVERGED, EVOLU_OK);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    (void)user;
    struct lws_context *lctx = lws_get_context(wsi);
    evolu *ev = lctx ? lws_context_user(lctx) : NULL;
    conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_ADD_POLL_FD:
    case LWS_CALLBACK_DEL_POLL_FD:
    case LWS_CALLBACK_CHANGE_MODE_POLL_FD:
        evolu_ws_fdset_update(ev ? &ev->fds : NULL, reason, in);
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
        if (!c) break;
        c->state = C_OPEN;
        c->ever_open = true;
        c->failed_attempts = 0;
        c->last_rx = c->waiting_since = mono_ms();
        const uint8_t *f = NULL;
        size_t n = 0;
        evolu_err e = evolu_session_connected(c->session, true, &f, &n);
        if (!e) e = enqueue(c, f, n);
        status(c, EVOLU_STATUS_CONNECTED, e);
        if (e) {
            c->err = e;
            c->closing = true;
        }
        lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!c) break;
        c->last_rx = mono_ms();
        /* text frames carry nothing for us: the whole message is skipped */
        switch (evolu_ws_rx_feed(&c->rx, wsi, in, len, c->ev->receive_max)) {
        case EVOLU_WS_RX_MORE: break;
        case EVOLU_WS_RX_TOO_BIG:
            c->err = EVOLU_E_LIMIT;
            c->closing = true;
            lws_callback_on_writable(wsi);
            c->rx.len = 0;
            break;
        case EVOLU_WS_RX_NOMEM: return -1;
        case EVOLU_WS_RX_COMPLETE:
            if (!c->rx.drop && c->state != C_STOPPED && !c->closing) handle_frame(c);
            evolu_ws_rx_reset(&c->rx);
            break;
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!c) break;
        if (c->q.head) {
            if (evolu_ws_queue_write_one(&c->q, wsi)) return -1;
            if (c->q.head || c->closing) lws_callback_on_writable(wsi);
            break;
        }
        if (c->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED: {
        if (!c) break;
        bool was_open = c->state == C_OPEN;
        c->wsi = NULL;
        evolu_ws_queue_clear(&c->q);
        evolu_session_disconnected(c->session);
        if (reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR) {
            c->failed_attempts++;
            snprintf(c->detail, sizeof c->detail, "%s", in ? (const char *)in : "");
        }
        if (c->state == C_STOPPED) break;
        if (!c->err) c->err = was_open ? EVOLU_E_CLOSED : EVOLU_E_CONNECT;
        if (c->state != C_IDLE) {
            schedule_retry(c);
            status(c, EVOLU_STATUS_DISCONNECTED, c->err);
        }
        break;
    }
    default: break;
    }
    return 0;
}

static const struct lws_protocols k_protocols[] = {
    {"evolu", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Retries and silence timeouts, every tick and after every service pass. */
static void housekeeping(evolu *ev) {
    int64_t now = mono_ms();
    for (size_t i = 0; i < ev->n; i++) {
        conn *c = &ev->conns[i];
        if (c->state == C_WAIT && now >= c->retry_at) start_connect(c);
        if (c->state == C_OPEN && c->wsi && !c->closing &&
            evolu_session_in_flight(c->session) && now - c->last_rx > ev->silence_ms &&
            now - c->waiting_since > ev->silence_ms) {
            c->err = EVOLU_E_TIMEOUT;
            c->closing = true;
            status(c, EVOLU_STATUS_DISCONNECTED, c->err);
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 1);
            lws_callback_on_writable(c->wsi);
        }
    }
}

static void tick_cb(lws_sorted_usec_list_t *sul) {
    evolu *ev = lws_container_of(sul, evolu, tick);
    housekeeping(ev);
    lws_sul_schedule(ev->ctx, 0, &ev->tick, tick_cb, TICK_US);
}

/* --- open / close ------------------------------------------------------------------ */

static evolu_err setup_owner(evolu *ev, const evolu_options *o) {
    bool found = false;
    evolu_err e = evolu_client_owner_load(ev->db, ev->port, &ev->owner, &found, &ev->read_only);
    if (e) return e;
    if (o->mnemonic) {
        evolu_owner m;
        e = evolu_client_owner_set_mnemonic(ev->db, ev->port, o->mnemonic, strlen(o->mnemonic),
                                            &m);
        if (e) return e;
        if (!found) {
            ev->owner = m;
            ev->read_only = false;
        }
        evolu_owner_wipe(ev->port, &m);
        return EVOLU_OK;
    }
    if (found) return EVOLU_OK;
    if (!o->create_owner) return EVOLU_E_STATE;
    uint8_t secret[EVOLU_OWNER_SECRET_BYTES];
    evolu_owner_secret_random(ev->port, secret);
    e = evolu_client_owner_set_secret(ev->db, ev->port, secret, sizeof secret, &ev->owner);
    ev->port->memzero(ev->port->ctx, secret, sizeof secret);
    return e;
}

evolu_err evolu_open(const evolu_options *o, evolu **out) {
    if (!o || !o->path || !out || o->n_relays > EVOLU_MAX_RELAYS ||
        (o->n_relays && !o->relays) || (o->n_tables && !o->tables))
        return EVOLU_E_ARG;
    *out = NULL;
    evolu *ev = calloc(1, sizeof *ev);
    if (!ev) return EVOLU_E_NOMEM;
    ev->port = o->port ? o->port : evolu_port_sodium();
    ev->receive_max = o->receive_max ? o->receive_max : EVOLU_PROTOCOL_MAX_SIZE;
    ev->silence_ms = o->silence_timeout_ms > 0 ? o->silence_timeout_ms : 30000;
    ev->on_status = o->on_status;
    ev->status_ctx = o->status_ctx;
    evolu_err e = ev->port ? evolu_client_db_open(o->path, ev->port, &ev->db) : EVOLU_E_CRYPTO;
    if (!e) e = setup_owner(ev, o);
    for (size_t i = 0; !e && i < o->n_tables; i++)
        e = evolu_client_db_declare_table(ev->db, o->tables[i].name, o->tables[i].columns,
                                          o->tables[i].n_columns);
    char oid[EVOLU_ID_CHARS + 1];
    if (!e) evolu_owner_id(ev, oid);
    for (size_t i = 0; !e && i < o->n_relays; i++) {
        conn *c = &ev->conns[i];
        c->ev = ev;
        c->index = i;
        c->backoff_ms = BACKOFF_MIN_MS;
        e = o->relays[i] ? parse_url(c, o->relays[i], oid) : EVOLU_E_URL;
        if (!e) e = evolu_session_create(ev->db, ev->port, &ev->owner, ev->read_only, &c->session);
        ev->n = i + 1;
    }
    if (!e && o->ca_file) {
        ev->ca_file = strdup(o->ca_file);
        if (!ev->ca_file) e = EVOLU_E_NOMEM;
    }
    if (e) {
        evolu_close(ev);
        return e;
    }
    *out = ev;
    return EVOLU_OK;
}

static bool any_open(const evolu *ev) {
    for (size_t i = 0; i < ev->n; i++)
        if (ev->conns[i].wsi) return true;
    return false;
}

void evolu_close(evolu *ev) {
    if (!ev) return;
    if (ev->ctx) {
        /* unsubscribe, then close politely; give it a moment */
        for (size_t i = 0; i < ev->n; i++) {
            conn *c = &ev->conns[i];
            if (c->wsi && c->state == C_OPEN) {
                const uint8_t *f;
                size_t n;
                if (!evolu_session_unsubscribe(c->session, &f, &n)) enqueue(c, f, n);
            }
            if (c->state != C_STOPPED) c->state = C_IDLE;
            c->closing = true;
            if (c->wsi) lws_callback_on_writable(c->wsi);
        }
        int64_t until = mono_ms() + 500;
        while (any_open(ev) && mono_ms() < until) lws_service(ev->ctx, 0);
        lws_sul_cancel(&ev->tick);
        lws_context_destroy(ev->ctx);
    }
    for (size_t i = 0; i < ev->n; i++) {
        conn *c = &ev->conns[i];
        evolu_ws_queue_clear(&c->q);
        evolu_session_destroy(c->session);
        evolu_ws_url_free(&c->url);
        evolu_ws_rx_free(&c->rx);
    }
    if (ev->port) evolu_owner_wipe(ev->port, &ev->owner);
    evolu_client_db_close(ev->db);
    free(ev->ca_file);
    free(ev);
}

struct sqlite3 *evolu_sqlite(evolu *ev) { return evolu_client_db_sqlite(ev->db); }
evolu_client_db *evolu_db(evolu *ev) { return ev->db; }
bool evolu_is_read_only(const evolu *ev) { return ev->read_only; }

void evolu_owner_id(const evolu *ev, char out[EVOLU_ID_CHARS + 1]) {
    evolu_id_to_string(ev->owner.id, out);
    out[EVOLU_ID_CHARS] = 0;
}

evolu_err evolu_declare_table(evolu *ev, const evolu_table_def *t) {
    if (!ev || !t) return EVOLU_E_ARG;
    return evolu_client_db_declare_table(ev->db, t->name, t->columns, t->n_columns);
}

void evolu_on_change(evolu *ev, evolu_client_db_change_fn fn, void *ctx) {
    evolu_client_db_on_change(ev->db, fn, ctx);
}

evolu_err evolu_query(evolu *ev, const char *sql,
                      bool (*fn)(void *ctx, const char *json, size_t len), void *ctx,
                      char **errmsg) {
    if (!ev) return EVOLU_E_ARG;
    return evolu_query_json(evolu_client_db_sqlite(ev->db), sql, fn, ctx, errmsg);
}

/* --- mutations --------------------------------------------------------------------- */

evolu_err evolu_mutate(evolu *ev, const evolu_mutation *m, size_t n,
                       uint8_t (*ids_out)[EVOLU_ID_BYTES]) {
    if (!ev) return EVOLU_E_ARG;
    if (ev->read_only) return EVOLU_E_STATE;
    evolu_timestamp before;
    evolu_client_db_clock(ev->db, &before);
    evolu_err e = evolu_client_db_mutate(ev->db, &ev->owner, m, n, ids_out);
    if (e) return e;
    for (size_t i = 0; i < ev->n; i++) {
        conn *c = &ev->conns[i];
        const uint8_t *f = NULL;
        size_t len = 0;
        /* the mutation is committed: a failed push only delays delivery to
         * the next sync, so it is not the caller's error */
        if (!evolu_session_push(c->session, &before, &f, &len) && len && c->wsi) {
            if (!enqueue(c, f, len)) c->waiting_since = mono_ms();
        }
    }
    return EVOLU_OK;
}

evolu_err evolu_insert(evolu *ev, const char *table, const evolu_column *cols, size_t n,
                       char id_out[EVOLU_ID_CHARS + 1]) {
    evolu_mutation m;
    memset(&m, 0, sizeof m);
    m.kind = EVOLU_MUTATION_INSERT;
    m.table = table;
    m.columns = cols;
    m.n_columns = n;
    m.is_delete = -1;
    uint8_t id[1][EVOLU_ID_BYTES];
    evolu_err e = evolu_mutate(ev, &m, 1, id);
    if (!e && id_out) {
        evolu_id_to_string(id[0], id_out);
        id_out[EVOLU_ID_CHARS] = 0;
    }
    return e;
}

static evolu_err by_id(evolu *ev, evolu_mutation_kind kind, const char *table, const char *id,
                       const evolu_column *cols, size_t n) {
    evolu_mutation m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.table = table;
    m.has_id = true;
    if (!id || evolu_id_from_string(id, strlen(id), m.id)) return EVOLU_E_ID;
    m.columns = cols;
    m.n_columns = n;
    m.is_delete = -1;
    return evolu_mutate(ev, &m, 1, NULL);
}

evolu_err evolu_update(evolu *ev, const char *table, const char *id, const evolu_column *cols,
                       size_t n) {
    return by_id(ev, EVOLU_MUTATION_UPDATE, table, id, cols, n);
}

evolu_err evolu_delete(evolu *ev, const char *table, const char *id) {
    return by_id(ev, EVOLU_MUTATION_DELETE, table, id, NULL, 0);
}

/* --- running ------------------------------------------------------------------------ */

evolu_err evolu_connect(evolu *ev) {
    if (!ev) return EVOLU_E_ARG;
    if (!ev->ctx) {
        ev->ctx = evolu_ws_context_create(k_protocols, ev, ev->ca_file);
        if (!ev->ctx) return EVOLU_E_CONNECT;
        lws_sul_schedule(ev->ctx, 0, &ev->tick, tick_cb, TICK_US);
    }
    for (size_t i = 0; i < ev->n; i++) {
        conn *c = &ev->conns[i];
        if (c->state == C_IDLE) start_connect(c);
    }
    return EVOLU_OK;
}

void evolu_stop(evolu *ev) {
    if (ev) ev->stop = 1;
}

bool evolu_is_converged(const evolu *ev) {
    if (!ev) return false;
    for (size_t i = 0; i < ev->n; i++)
        if (!evolu_session_is_converged(ev->conns[i].session) || ev->conns[i].state != C_OPEN)
            return false;
    return true;
}

evolu_err evolu_relay_error(const evolu *ev, size_t relay) {
    if (!ev || relay >= ev->n) return EVOLU_E_ARG;
    return ev->conns[relay].err;
}

const char *evolu_relay_error_detail(const evolu *ev, size_t relay) {
    if (!ev || relay >= ev->n) return "";
    return ev->conns[relay].detail;
}

evolu_err evolu_sync(evolu *ev, int timeout_ms) {
    if (!ev) return EVOLU_E_ARG;
    if (!ev->n) return EVOLU_OK;
    evolu_err e = evolu_connect(ev);
    if (e) return e;
    /* ask again on connections that are already open */
    for (size_t i = 0; i < ev->n; i++) {
        conn *c = &ev->conns[i];
        c->sync_failed = EVOLU_OK;
        if (c->state == C_STOPPED) {
            c->state = C_IDLE; /* a new explicit sync tries again */
            c->err = EVOLU_OK;
            start_connect(c);
        } else if (c->state == C_OPEN && c->wsi && !c->closing) {
            const uint8_t *f;
            size_t n;
            if (!evolu_session_resync(c->session, &f, &n) && !enqueue(c, f, n))
                c->waiting_since = mono_ms();
        }
    }
    /* A stop requested before this call (a signal while the database opened
     * or the connection started) counts: the flag is consumed on return,
     * never cleared on entry, or that stop would be lost. */
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
    int64_t progress_at = mono_ms() + 5000;
    for (;;) {
        if (evolu_is_converged(ev)) return EVOLU_OK;
        if (mono_ms() >= progress_at) {
            progress_at += 5000;
            for (size_t i = 0; i < ev->n; i++)
                if (!evolu_session_is_converged(ev->conns[i].session))
                    status(&ev->conns[i], EVOLU_STATUS_WAITING, ev->conns[i].err);
        }
        for (size_t i = 0; i < ev->n; i++) {
            conn *c = &ev->conns[i];
            if (c->state == C_STOPPED) return c->err ? c->err : EVOLU_E_SYNC;
            /* the relay answered with an error (WriteError, SyncError, invalid
             * data): the connection retries later, but this sync has failed */
            if (c->sync_failed) return c->sync_failed;
            if (!c->ever_open && c->failed_attempts >= 3) return EVOLU_E_CONNECT;
        }
        if (ev->stop) {
            ev->stop = 0;
            return EVOLU_E_TIMEOUT;
        }
        if (mono_ms() >= deadline) {
            for (size_t i = 0; i < ev->n; i++)
                if (ev->conns[i].err && ev->conns[i].state != C_OPEN) return ev->conns[i].err;
            return EVOLU_E_TIMEOUT;
        }
        lws_service(ev->ctx, 0);
        housekeeping(ev);
    }
}

evolu_err evolu_run(evolu *ev, int timeout_ms) {
    if (!ev) return EVOLU_E_ARG;
    evolu_err e = evolu_connect(ev);
    if (e) return e;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
    while (!ev->stop && mono_ms() < deadline) {
        lws_service(ev->ctx, 0);
        housekeeping(ev);
    }
    ev->stop = 0; /* consumed (see evolu_sync) */
    return EVOLU_OK;
}

size_t evolu_poll_fds(evolu *ev, struct pollfd *fds, size_t cap, int *timeout_ms) {
    if (!ev) return 0;
    evolu_ws_fdset_copy(&ev->fds, fds, cap);
    if (timeout_ms) {
        int t = 100; /* the housekeeping tick */
        if (ev->ctx) t = lws_service_adjust_timeout(ev->ctx, t, 0);
        *timeout_ms = t;
    }
    return ev->fds.n;
}

evolu_err evolu_service(evolu *ev, struct pollfd *fds, size_t n) {
    if (!ev) return EVOLU_E_ARG;
    if (!ev->ctx) return EVOLU_E_STATE;
    for (size_t i = 0; fds && i < n; i++) {
        if (!fds[i].revents) continue;
        struct lws_pollfd p = {fds[i].fd, fds[i].events, fds[i].revents};
        lws_service_fd(ev->ctx, &p);
        fds[i].revents = p.revents;
    }
    /* timers and forced service, without waiting */
    lws_service(ev->ctx, -1);
    housekeeping(ev);
    return EVOLU_OK;
}
