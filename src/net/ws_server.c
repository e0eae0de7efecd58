/* ws_server.c - the relay's WebSocket server on libwebsockets 4.1 (see
 * evolu/ws_server.h): upgrade checks, reassembly with a size limit, bounded
 * send queues, graceful shutdown. One lws context, one service thread. */
#include "evolu/ws_server.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_US (200 * LWS_US_PER_MS)
#define SHUTDOWN_US (3 * LWS_USEC_PER_SEC)

typedef struct qitem {
    struct qitem *next;
    evolu_relay_buf *buf;
} qitem;

/* Per connection (lws allocates and zeroes it: per_session_data_size). */
typedef struct sess {
    struct sess *prev, *next;
    struct lws *wsi;
    evolu_relay_conn *conn;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    bool rx_drop;            /* the rest of an oversize message (closing) */
    qitem *qhead, *qtail;
    size_t q_bytes, q_n;
    bool rx_paused;
    bool closing;            /* close once the queue is flushed (or at once if killed) */
    uint16_t close_code;
    const char *close_reason;
    char peer[64];
} sess;

struct evolu_ws_server {
    evolu_ws_server_options o;
    evolu_relay *relay;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry;
    lws_sorted_usec_list_t tick;
    sess *sessions;
    size_t n_sess;
    int port;
    bool tls;
    bool stopping;
    atomic_int stop_req;
    atomic_int stats_req;
    evolu_ws_stats st;
};

#define LOG(s, lvl, ...) evolu_relay_log((s)->relay, (lvl), __VA_ARGS__)

void evolu_ws_server_options_default(evolu_ws_server_options *o) {
    memset(o, 0, sizeof *o);
    evolu_relay_options_default(&o->relay);
    o->max_connections = 4096;
    o->max_message = EVOLU_RELAY_MAX_MESSAGE;
    o->queue_max_bytes = 16u << 20;
    o->queue_max_msgs = 4096;
    o->inflight_max = (size_t)1 << 30;
    o->ping_secs = 30;
    o->hangup_secs = 90;
}

/* --- queues ------------------------------------------------------------------------- */

static void queue_free(evolu_ws_server *s, sess *ss) {
    while (ss->qhead) {
        qitem *q = ss->qhead;
        ss->qhead = q->next;
        s->st.inflight -= q->buf->len;
        evolu_relay_buf_unref(q->buf);
        free(q);
    }
    ss->qtail = NULL;
    ss->q_bytes = ss->q_n = 0;
}

/* Closes a connection that cannot be served (slow, busy) right away: its
 * socket may be stalled, so waiting for it to become writable is no use. */
static void kill_sess(evolu_ws_server *s, sess *ss, uint16_t code, const char *why) {
    if (ss->closing && ss->close_code != LWS_CLOSE_STATUS_NORMAL) return;
    ss->closing = true;
    ss->close_code = code;
    ss->close_reason = why;
    queue_free(s, ss);
    LOG(s, EVOLU_LOG_WARN, "conn %llu (%s): closing with %u: %s",
        (unsigned long long)(ss->conn ? evolu_relay_conn_id(ss->conn) : 0), ss->peer, code, why);
    lws_close_reason(ss->wsi, (enum lws_close_status)code, (unsigned char *)(uintptr_t)why,
                     strlen(why));
    lws_set_timeout(ss->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* The relay's send: queue buf for the connection, within the limits. */
static void on_send(void *ctx, evolu_relay_conn *to, evolu_relay_buf *buf) {
    evolu_ws_server *s = ctx;
    sess *ss = evolu_relay_conn_user(to);
    if (ss->closing) {
        evolu_relay_buf_unref(buf);
        return;
    }
    if (ss->q_bytes + buf->len > s->o.queue_max_bytes || ss->q_n + 1 > s->o.queue_max_msgs) {
        evolu_relay_buf_unref(buf);
        s->st.slow_closed++;
        kill_sess(s, ss, LWS_CLOSE_STATUS_POLICY_VIOLATION, "send queue full");
        return;
    }
    if (s->st.inflight + buf->len > s->o.inflight_max && ss->q_n > 0) {
        evolu_relay_buf_unref(buf);
        s->st.busy_closed++;
        kill_sess(s, ss, 1013, "relay busy");
        return;
    }
    qitem *q = malloc(sizeof *q);
    if (!q) {
        evolu_relay_buf_unref(buf);
        kill_sess(s, ss, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    q->next = NULL;
    q->buf = buf;
    if (ss->qtail) ss->qtail->next = q;
    else ss->qhead = q;
    ss->qtail = q;
    ss->q_bytes += buf->len;
    ss->q_n++;
    s->st.inflight += buf->len;
    lws_callback_on_writable(ss->wsi);
}

/* --- callbacks ------------------------------------------------------------------------ */

static int confirm_upgrade(evolu_ws_server *s, struct lws *wsi) {
    char query[512] = "";
    int status = 0;
    if (s->stopping || s->n_sess >= s->o.max_connections) {
        status = 503;
    } else if (evolu_relay_has_allow_list(s->relay)) {
        int n = lws_hdr_copy(wsi, query, sizeof query, WSI_TOKEN_HTTP_URI_ARGS);
        status = evolu_relay_check_upgrade(s->relay, n > 0 ? query : NULL);
    }
    if (!status) return 0;
    s->st.upgrades_rejected++;
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    LOG(s, EVOLU_LOG_INFO, "upgrade from %s refused with %d", peer, status);
    if (lws_return_http_status(wsi, (unsigned)status, NULL)) return -1;
    return 1;
}

static int on_receive(evolu_ws_server *s, sess *ss, const uint8_t *in, size_t len) {
    if (lws_is_first_fragment(ss->wsi)) {
        ss->rx_len = 0;
        ss->rx_drop = false;
    }
    if (ss->closing || ss->rx_drop) return 0;
    size_t remaining = lws_remaining_packet_payload(ss->wsi);
    size_t need = ss->rx_len + len;
    if (need > s->o.max_message || remaining > s->o.max_message - need) {
        s->st.oversize_closed++;
        ss->rx_drop = true;
        ss->closing = true;
        ss->close_code = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
        LOG(s, EVOLU_LOG_WARN, "conn %llu (%s): message over %zu bytes, closing with 1009",
            (unsigned long long)evolu_relay_conn_id(ss->conn), ss->peer, s->o.max_message);
        static const char why[] = "message too big";
        lws_close_reason(ss->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         (unsigned char *)(uintptr_t)why, sizeof why - 1);
        return -1;
    }
    bool final = lws_is_final_fragment(ss->wsi);
    if (final && ss->rx_len == 0) { /* whole message in one piece: no copy */
        evolu_relay_on_message(s->relay, ss->conn, in, len, NULL);
        return 0;
    }
    if (need > ss->rx_cap) {
        size_t cap = ss->rx_cap ? ss->rx_cap : 4096;
        while (cap < need + remaining && cap < s->o.max_message) cap *= 2;
        if (cap > s->o.max_message) cap = s->o.max_message;
        if (cap < need) cap = need;
        if (s->st.inflight + (cap - ss->rx_cap) > s->o.inflight_max) {
            s->st.busy_closed++;
            kill_sess(s, ss, 1013, "relay busy");
            return 0;
        }
        uint8_t *p = realloc(ss->rx, cap);
        if (!p) {
            kill_sess(s, ss, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
            return 0;
        }
        s->st.inflight += cap - ss->rx_cap;
        ss->rx = p;
        ss->rx_cap = cap;
    }
    memcpy(ss->rx + ss->rx_len, in, len);
    ss->rx_len = need;
    if (!final) return 0;
    evolu_relay_on_message(s->relay, ss->conn, ss->rx, ss->rx_len, NULL);
    ss->rx_len = 0;
    if (ss->rx_cap > 65536) { /* give big buffers back */
        s->st.inflight -= ss->rx_cap;
        free(ss->rx);
        ss->rx = NULL;
        ss->rx_cap = 0;
    }
    /* A client that does not read its replies is not read from. */
    if (!ss->rx_paused && ss->q_bytes > s->o.queue_max_bytes / 2) {
        ss->rx_paused = true;
        lws_rx_flow_control(ss->wsi, 0);
    }
    return 0;
}

/* Per writable callback, a connection sends what is queued up to this much:
 * one message per callback made a connection with many queued Broadcasts
 * wait a poll round per message behind every other connection; an
 * unbounded burst would make the others wait for it instead. */
#define WRITE_BURST_BYTES (256u << 10)
#define WRITE_BURST_MSGS 64u

static int on_writeable(evolu_ws_server *s, sess *ss) {
    if (ss->qhead) {
        size_t sent = 0;
        for (unsigned k = 0; ss->qhead && k < WRITE_BURST_MSGS && sent < WRITE_BURST_BYTES;
             k++) {
            qitem *q = ss->qhead;
            ss->qhead = q->next;
            if (!ss->qhead) ss->qtail = NULL;
            ss->q_bytes -= q->buf->len;
            ss->q_n--;
            s->st.inflight -= q->buf->len;
            size_t n = q->buf->len;
            int w = lws_write(ss->wsi, q->buf->data, n, LWS_WRITE_BINARY);
            evolu_relay_buf_unref(q->buf);
            free(q);
            if (w < (int)n) return -1;
            s->st.bytes_sent += n;
            sent += n;
            /* lws kept what the socket did not take: wait for writable */
            if (lws_partial_buffered(ss->wsi)) break;
        }
        if (ss->rx_paused && ss->q_bytes <= s->o.queue_max_bytes / 4) {
            ss->rx_paused = false;
            lws_rx_flow_control(ss->wsi, 1);
        }
        if (ss->qhead || ss->closing) lws_callback_on_writable(ss->wsi);
        return 0;
    }
    if (ss->closing) {
        const char *why = ss->close_reason ? ss->close_reason : "";
        lws_close_reason(ss->wsi, (enum lws_close_status)ss->close_code,
                         (unsigned char *)(uintptr_t)why, strlen(why));
        return -1;
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    struct lws_vhost *vh = lws_get_vhost(wsi);
    evolu_ws_server *s = vh ? lws_get_vhost_user(vh) : NULL;
    sess *ss = user;
    if (!s) return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(s, wsi);
    case LWS_CALLBACK_HTTP:
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL)) return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_ESTABLISHED:
        ss->wsi = wsi;
        lws_get_peer_simple(wsi, ss->peer, sizeof ss->peer);
        ss->conn = evolu_relay_conn_open(s->relay, ss);
        if (!ss->conn) return -1;
        ss->next = s->sessions;
        if (s->sessions) s->sessions->prev = ss;
        s->sessions = ss;
        s->n_sess++;
        LOG(s, EVOLU_LOG_INFO, "conn %llu opened from %s",
            (unsigned long long)evolu_relay_conn_id(ss->conn), ss->peer);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!ss->conn) return -1;
        return on_receive(s, ss, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!ss->conn) return -1;
        return on_writeable(s, ss);
    case LWS_CALLBACK_CLOSED:
        if (!ss->conn) return 0;
        LOG(s, EVOLU_LOG_INFO, "conn %llu closed (%s)",
            (unsigned long long)evolu_relay_conn_id(ss->conn), ss->peer);
        queue_free(s, ss);
        s->st.inflight -= ss->rx_cap;
        free(ss->rx);
        ss->rx = NULL;
        ss->rx_cap = 0;
        evolu_relay_conn_close(s->relay, ss->conn);
        ss->conn = NULL;
        if (ss->prev) ss->prev->next = ss->next;
        else s->sessions = ss->next;
        if (ss->next) ss->next->prev = ss->prev;
        s->n_sess--;
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* --- lifecycle ----------------------------------------------------------------------------- */

static void on_tick(lws_sorted_usec_list_t *sul) {
    evolu_ws_server *s = lws_container_of(sul, evolu_ws_server, tick);
    lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, TICK_US);
}

evolu_err evolu_ws_server_create(const evolu_ws_server_options *o, evolu_ws_server **out) {
    *out = NULL;
    if ((o->tls_cert == NULL) != (o->tls_key == NULL) || o->port < 0 || o->port > 65535)
        return EVOLU_E_ARG;
    evolu_ws_server *s = calloc(1, sizeof *s);
    if (!s) return EVOLU_E_NOMEM;
    s->o = *o;
    if (!s->o.host) s->o.host = "127.0.0.1";
    if (!s->o.max_connections) s->o.max_connections = 4096;
    if (!s->o.max_message || s->o.max_message > EVOLU_RELAY_MAX_MESSAGE)
        s->o.max_message = EVOLU_RELAY_MAX_MESSAGE;
    if (!s->o.queue_max_bytes) s->o.queue_max_bytes = 16u << 20;
    if (s->o.queue_max_bytes < s->o.max_message) s->o.queue_max_bytes = s->o.max_message;
    if (!s->o.queue_max_msgs) s->o.queue_max_msgs = 4096;
    if (!s->o.inflight_max) s->o.inflight_max = (size_t)1 << 30;
    atomic_init(&s->stop_req, 0);
    atomic_init(&s->stats_req, 0);
    s->o.relay.send = on_send;
    s->o.relay.send_ctx = s;
    s->o.relay.headroom = LWS_PRE;
    evolu_err e = evolu_relay_open(&s->o.relay, &s->relay);
    if (e) {
        free(s);
        return e;
    }
    int lws_levels = LLL_ERR;
    if (s->o.relay.log_level >= EVOLU_LOG_DEBUG) lws_levels |= LLL_WARN | LLL_NOTICE;
    lws_set_log_level(lws_levels, NULL);

    s->tls = o->tls_cert != NULL;
    uint64_t opts = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (s->tls) opts |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (!strchr(s->o.host, ':')) opts |= LWS_SERVER_OPTION_DISABLE_IPV6;

    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof ci);
    ci.options = opts;
    ci.count_threads = 1;
    ci.fd_limit_per_thread = (unsigned)(s->o.max_connections + 64);
    ci.port = CONTEXT_PORT_NO_LISTEN;
    s->ctx = lws_create_context(&ci);
    if (!s->ctx) {
        LOG(s, EVOLU_LOG_ERROR, "libwebsockets failed to start");
        evolu_ws_server_destroy(s);
        return EVOLU_E_STATE;
    }
    s->protocols[0].name = "evolu";
    s->protocols[0].callback = callback;
    s->protocols[0].per_session_data_size = sizeof(sess);
    s->protocols[0].rx_buffer_size = 65536;
    s->retry.secs_since_valid_ping = (uint16_t)(o->ping_secs ? o->ping_secs : 30);
    s->retry.secs_since_valid_hangup = (uint16_t)(o->hangup_secs ? o->hangup_secs : 90);

    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.options = opts;
    vi.port = o->port;
    vi.iface = s->o.host;
    vi.protocols = s->protocols;
    vi.vhost_name = "evolu";
    vi.user = s;
    vi.retry_and_idle_policy = &s->retry;
    vi.ssl_cert_filepath = o->tls_cert;
    vi.ssl_private_key_filepath = o->tls_key;
    s->vh = lws_create_vhost(s->ctx, &vi);
    if (!s->vh) {
        LOG(s, EVOLU_LOG_ERROR, "cannot listen on %s port %d%s", s->o.host, o->port,
            s->tls ? " (or TLS files unusable)" : "");
        evolu_ws_server_destroy(s);
        return EVOLU_E_STATE;
    }
    s->port = lws_get_vhost_listen_port(s->vh);
    lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, TICK_US);
    *out = s;
    return EVOLU_OK;
}

int evolu_ws_server_port(const evolu_ws_server *s) { return s->port; }
const char *evolu_ws_server_scheme(const evolu_ws_server *s) { return s->tls ? "wss" : "ws"; }
evolu_relay *evolu_ws_server_relay(evolu_ws_server *s) { return s->relay; }

void evolu_ws_server_stop(evolu_ws_server *s) {
    atomic_store(&s->stop_req, 1);
    if (s->ctx) lws_cancel_service(s->ctx);
}

void evolu_ws_server_request_stats(evolu_ws_server *s) {
    atomic_store(&s->stats_req, 1);
    if (s->ctx) lws_cancel_service(s->ctx);
}

void evolu_ws_server_get_stats(const evolu_ws_server *s, evolu_ws_stats *out) { *out = s->st; }

void evolu_ws_server_stats_line(evolu_ws_server *s, char *out, size_t cap) {
    evolu_relay_stats rs;
    if (evolu_relay_get_stats(s->relay, &rs))
        LOG(s, EVOLU_LOG_ERROR, "stats: database totals unavailable");
    char line[1024];
    evolu_relay_stats_format(&rs, line, sizeof line);
    snprintf(out, cap,
             "stats %s upgrades_rejected=%llu oversize_closed=%llu slow_closed=%llu "
             "busy_closed=%llu bytes_sent=%llu inflight=%llu",
             line, (unsigned long long)s->st.upgrades_rejected,
             (unsigned long long)s->st.oversize_closed, (unsigned long long)s->st.slow_closed,
             (unsigned long long)s->st.busy_closed, (unsigned long long)s->st.bytes_sent,
             (unsigned long long)s->st.inflight);
}

static void emit_stats(evolu_ws_server *s) {
    char line[1400];
    evolu_ws_server_stats_line(s, line, sizeof line);
    if (s->o.on_stats) s->o.on_stats(s->o.stats_ctx, line);
    else LOG(s, EVOLU_LOG_INFO, "%s", line);
}

void evolu_ws_server_run(evolu_ws_server *s) {
    while (!atomic_load(&s->stop_req)) {
        if (lws_service(s->ctx, 0) < 0) break;
        evolu_relay_flush(s->relay); /* group commit, then the replies go out */
        if (atomic_exchange(&s->stats_req, 0)) emit_stats(s);
    }
    /* Shutdown: no new connections; flush queues, close everyone with 1000. */
    s->stopping = true;
    LOG(s, EVOLU_LOG_INFO, "shutting down: closing %zu connections", s->n_sess);
    for (sess *ss = s->sessions; ss; ss = ss->next) {
        if (ss->closing) continue;
        ss->closing = true;
        ss->close_code = LWS_CLOSE_STATUS_NORMAL;
        ss->close_reason = "Evolu Relay shutting down";
        lws_callback_on_writable(ss->wsi);
    }
    lws_usec_t deadline = lws_now_usecs() + SHUTDOWN_US;
    evolu_relay_flush(s->relay);
    while (s->n_sess > 0 && lws_now_usecs() < deadline) {
        if (lws_service(s->ctx, 0) < 0) break;
        evolu_relay_flush(s->relay);
    }
}

void evolu_ws_server_destroy(evolu_ws_server *s) {
    if (!s) return;
    if (s->ctx) lws_context_destroy(s->ctx); /* closes what is left (CLOSED callbacks) */
    s->ctx = NULL;
    evolu_relay_close(s->relay);
    free(s);
}
