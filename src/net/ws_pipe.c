/*
 * ws_pipe.c - a raw WebSocket message pipe on libwebsockets 4.1 (see
 * proxy_internal.h): the proxy forwards protocol messages it did not build
 * and cannot read (they are encrypted), so it needs binary messages in and
 * out and nothing of the client session. One lws context; the caller's
 * poll loop drives it through the external-poll callbacks, as ws_client.c
 * does, so the device's descriptors and the relay's share one poll().
 */
#define _POSIX_C_SOURCE 200809L
#include <libwebsockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_internal.h"

#define PIPE_MAX_FDS 64
#define PIPE_MAX_CONNS 64

typedef struct pframe {
    struct pframe *next;
    size_t len;
    uint8_t buf[]; /* LWS_PRE + len */
} pframe;

enum { P_IDLE, P_CONNECTING, P_OPEN };

struct evolu_ws_pipe_conn {
    evolu_ws_pipe *p;
    void *user;
    char *host, *path;
    int port;
    bool tls;
    struct lws *wsi;
    int state;
    bool paused, dropping;
    pframe *q_head, *q_tail;
    size_t queued;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    bool rx_drop;
};

struct evolu_ws_pipe {
    evolu_ws_pipe_handler h;
    size_t max_message;
    struct lws_context *ctx;
    struct pollfd fds[PIPE_MAX_FDS];
    size_t n_fds;
    evolu_ws_pipe_conn *conns[PIPE_MAX_CONNS];
    size_t n_conns;
};

static void drop_queue(evolu_ws_pipe_conn *c) {
    while (c->q_head) {
        pframe *f = c->q_head;
        c->q_head = f->next;
        free(f);
    }
    c->q_tail = NULL;
    c->queued = 0;
}

static void closed(evolu_ws_pipe_conn *c, const char *why) {
    if (c->state == P_IDLE) return;
    bool was_open = c->state == P_OPEN;
    c->state = P_IDLE;
    c->wsi = NULL;
    c->rx_len = 0;
    c->rx_drop = false;
    drop_queue(c);
    if (c->p->h.on_close) c->p->h.on_close(c->p->h.ctx, c, was_open, why ? why : "");
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    (void)user;
    struct lws_context *lctx = lws_get_context(wsi);
    evolu_ws_pipe *p = lctx ? lws_context_user(lctx) : NULL;
    evolu_ws_pipe_conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_ADD_POLL_FD: {
        const struct lws_pollargs *pa = in;
        if (p && p->n_fds < PIPE_MAX_FDS) {
            p->fds[p->n_fds].fd = pa->fd;
            p->fds[p->n_fds].events = (short)pa->events;
            p->fds[p->n_fds].revents = 0;
            p->n_fds++;
        }
        break;
    }
    case LWS_CALLBACK_DEL_POLL_FD: {
        const struct lws_pollargs *pa = in;
        for (size_t i = 0; p && i < p->n_fds; i++)
            if (p->fds[i].fd == pa->fd) {
                p->fds[i] = p->fds[--p->n_fds];
                break;
            }
        break;
    }
    case LWS_CALLBACK_CHANGE_MODE_POLL_FD: {
        const struct lws_pollargs *pa = in;
        for (size_t i = 0; p && i < p->n_fds; i++)
            if (p->fds[i].fd == pa->fd) p->fds[i].events = (short)pa->events;
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c) break;
        c->state = P_OPEN;
        if (c->paused) lws_rx_flow_control(wsi, 0);
        if (c->p->h.on_open) c->p->h.on_open(c->p->h.ctx, c);
        if (c->q_head) lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c || c->dropping) break;
        if (!lws_frame_is_binary(wsi)) {
            c->rx_drop = true;
        } else if (!c->rx_drop) {
            if (c->rx_len + len > c->p->max_message) {
                c->rx_drop = true;
                c->dropping = true;
                lws_callback_on_writable(wsi);
                break;
            }
            if (c->rx_len + len > c->rx_cap) {
                size_t cap = c->rx_cap ? c->rx_cap : 65536;
                while (cap < c->rx_len + len) cap *= 2;
                uint8_t *np = realloc(c->rx, cap);
                if (!np) return -1;
                c->rx = np;
                c->rx_cap = cap;
            }
            memcpy(c->rx + c->rx_len, in, len);
            c->rx_len += len;
        }
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            if (!c->rx_drop && c->p->h.on_message)
                c->p->h.on_message(c->p->h.ctx, c, c->rx, c->rx_len);
            c->rx_len = 0;
            c->rx_drop = false;
            /* a big buffer is not kept between messages: bounded memory */
            if (c->rx_cap > 65536) {
                free(c->rx);
                c->rx = NULL;
                c->rx_cap = 0;
            }
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c) break;
        if (c->dropping) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        if (c->q_head) {
            pframe *f = c->q_head;
            int w = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_BINARY);
            if (w < (int)f->len) return -1;
            c->q_head = f->next;
            if (!c->q_head) c->q_tail = NULL;
            c->queued -= f->len;
            free(f);
            if (c->q_head) lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) closed(c, in ? (const char *)in : "connection failed");
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) closed(c, "closed by the relay");
        break;
    default: break;
    }
    return 0;
}

static const struct lws_protocols k_protocols[] = {
    {"evolu-proxy", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

evolu_err evolu_ws_pipe_create(const evolu_ws_pipe_handler *h, size_t max_message,
                               evolu_ws_pipe **out) {
    *out = NULL;
    evolu_ws_pipe *p = calloc(1, sizeof *p);
    if (!p) return EVOLU_E_NOMEM;
    p->h = *h;
    p->max_message = max_message;
    lws_set_log_level(getenv("EVOLU_LWS_LOG") ? atoi(getenv("EVOLU_LWS_LOG")) : 0, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = k_protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = p;
    info.gid = -1;
    info.uid = -1;
    info.client_ssl_ca_filepath = "/etc/ssl/certs/ca-certificates.crt";
    p->ctx = lws_create_context(&info);
    if (!p->ctx) {
        free(p);
        return EVOLU_E_CONNECT;
    }
    *out = p;
    return EVOLU_OK;
}

void evolu_ws_pipe_destroy(evolu_ws_pipe *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_conns; i++) p->conns[i]->state = P_IDLE; /* no callbacks */
    lws_context_destroy(p->ctx);
    for (size_t i = 0; i < p->n_conns; i++) {
        evolu_ws_pipe_conn *c = p->conns[i];
        drop_queue(c);
        free(c->host);
        free(c->path);
        free(c->rx);
        free(c);
    }
    free(p);
}

static evolu_err parse_url(evolu_ws_pipe_conn *c, const char *url) {
    const char *s = url;
    if (!strncmp(s, "wss://", 6)) {
        c->tls = true;
        c->port = 443;
        s += 6;
    } else if (!strncmp(s, "ws://", 5)) {
        c->port = 80;
        s += 5;
    } else {
        return EVOLU_E_URL;
    }
    const char *h = s, *host_end;
    if (*s == '[') {
        host_end = strchr(s, ']');
        if (!host_end) return EVOLU_E_URL;
        h = s + 1;
        s = host_end + 1;
    } else {
        s += strcspn(s, ":/?#");
        host_end = s;
    }
    if (host_end == h) return EVOLU_E_URL;
    if (*s == ':') {
        char *end;
        long v = strtol(s + 1, &end, 10);
        if (end == s + 1 || v <= 0 || v > 65535) return EVOLU_E_URL;
        c->port = (int)v;
        s = end;
    }
    if (*s && *s != '/' && *s != '?') return EVOLU_E_URL;
    size_t hl = (size_t)(host_end - h), pl = strcspn(s, "#");
    c->host = malloc(hl + 1);
    c->path = malloc(pl + 2);
    if (!c->host || !c->path) return EVOLU_E_NOMEM;
    memcpy(c->host, h, hl);
    c->host[hl] = 0;
    char *o = c->path;
    if (*s != '/') *o++ = '/';
    memcpy(o, s, pl);
    o[pl] = 0;
    return EVOLU_OK;
}

evolu_err evolu_ws_pipe_conn_new(evolu_ws_pipe *p, const char *url, void *user,
                                 evolu_ws_pipe_conn **out) {
    *out = NULL;
    if (p->n_conns >= PIPE_MAX_CONNS) return EVOLU_E_CAPACITY;
    evolu_ws_pipe_conn *c = calloc(1, sizeof *c);
    if (!c) return EVOLU_E_NOMEM;
    c->p = p;
    c->user = user;
    evolu_err e = parse_url(c, url);
    if (e) {
        free(c->host);
        free(c->path);
        free(c);
        return e;
    }
    p->conns[p->n_conns++] = c;
    *out = c;
    return EVOLU_OK;
}

void *evolu_ws_pipe_user(const evolu_ws_pipe_conn *c) { return c->user; }
bool evolu_ws_pipe_is_open(const evolu_ws_pipe_conn *c) { return c->state == P_OPEN; }
bool evolu_ws_pipe_is_idle(const evolu_ws_pipe_conn *c) { return c->state == P_IDLE; }
size_t evolu_ws_pipe_queued(const evolu_ws_pipe_conn *c) { return c->queued; }

evolu_err evolu_ws_pipe_connect(evolu_ws_pipe_conn *c) {
    if (c->state != P_IDLE) return EVOLU_E_STATE;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->p->ctx;
    ci.address = c->host;
    ci.port = c->port;
    ci.path = c->path;
    ci.host = c->host;
    ci.origin = c->host;
    ci.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
    ci.local_protocol_name = "evolu-proxy";
    ci.opaque_user_data = c;
    ci.pwsi = &c->wsi;
    c->state = P_CONNECTING;
    c->dropping = false;
    c->rx_len = 0;
    c->rx_drop = false;
    if (!lws_client_connect_via_info(&ci)) {
        /* the error callback may already have run (then state is idle) */
        if (c->state != P_IDLE) closed(c, "cannot start the connection");
        c->wsi = NULL;
    }
    return EVOLU_OK;
}

evolu_err evolu_ws_pipe_send(evolu_ws_pipe_conn *c, const uint8_t *bytes, size_t n) {
    if (c->state != P_OPEN || !c->wsi) return EVOLU_E_STATE;
    pframe *f = malloc(sizeof *f + LWS_PRE + n);
    if (!f) return EVOLU_E_NOMEM;
    f->next = NULL;
    f->len = n;
    memcpy(f->buf + LWS_PRE, bytes, n);
    if (c->q_tail) c->q_tail->next = f;
    else c->q_head = f;
    c->q_tail = f;
    c->queued += n;
    lws_callback_on_writable(c->wsi);
    return EVOLU_OK;
}

void evolu_ws_pipe_pause(evolu_ws_pipe_conn *c, bool pause) {
    if (c->paused == pause) return;
    c->paused = pause;
    if (c->state == P_OPEN && c->wsi) lws_rx_flow_control(c->wsi, pause ? 0 : 1);
}

void evolu_ws_pipe_drop(evolu_ws_pipe_conn *c) {
    if (c->state == P_IDLE || !c->wsi) return;
    c->dropping = true;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 1);
    lws_callback_on_writable(c->wsi);
}

size_t evolu_ws_pipe_fds(evolu_ws_pipe *p, struct pollfd *fds, size_t cap, int *timeout_ms) {
    size_t n = 0;
    for (; n < p->n_fds && n < cap; n++) {
        fds[n] = p->fds[n];
        fds[n].revents = 0;
    }
    if (timeout_ms) *timeout_ms = lws_service_adjust_timeout(p->ctx, *timeout_ms, 0);
    return n;
}

void evolu_ws_pipe_service(evolu_ws_pipe *p, struct pollfd *fds, size_t n) {
    for (size_t i = 0; fds && i < n; i++) {
        if (!fds[i].revents) continue;
        struct lws_pollfd pf = {fds[i].fd, fds[i].events, fds[i].revents};
        lws_service_fd(p->ctx, &pf);
    }
    lws_service(p->ctx, -1);
}
