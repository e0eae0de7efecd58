/*
 * ws_pipe.c - a raw WebSocket message pipe on libwebsockets 4.1 (see
 * proxy_internal.h): the proxy forwards protocol messages it did not build
 * and cannot read (they are encrypted), so it needs binary messages in and
 * out and nothing of the client session. One lws context; the caller's
 * poll loop drives it through the external-poll callbacks, as ws_client.c
 * does, so the device's descriptors and the relay's share one poll(). The
 * lws plumbing both use (poll table, URL, reassembly, send queue) is in
 * ws_common.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <libwebsockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_internal.h"
#include "ws_common.h"

#define PIPE_MAX_CONNS 64

enum { P_IDLE, P_CONNECTING, P_OPEN };

struct evolu_ws_pipe_conn {
    evolu_ws_pipe *p;
    void *user;
    evolu_ws_url url;
    struct lws *wsi;
    int state;
    bool paused, dropping;
    evolu_ws_queue q;
    evolu_ws_rx rx;
};

struct evolu_ws_pipe {
    evolu_ws_pipe_handler h;
    size_t max_message;
    struct lws_context *ctx;
    evolu_ws_fdset fds;
    evolu_ws_pipe_conn *conns[PIPE_MAX_CONNS];
    size_t n_conns;
};

static void closed(evolu_ws_pipe_conn *c, const char *why) {
    if (c->state == P_IDLE) return;
    bool was_open = c->state == P_OPEN;
    c->state = P_IDLE;
    c->wsi = NULL;
    evolu_ws_rx_reset(&c->rx);
    evolu_ws_queue_clear(&c->q);
    if (c->p->h.on_close) c->p->h.on_close(c->p->h.ctx, c, was_open, why ? why : "");
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    (void)user;
    struct lws_context *lctx = lws_get_context(wsi);
    evolu_ws_pipe *p = lctx ? lws_context_user(lctx) : NULL;
    evolu_ws_pipe_conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_ADD_POLL_FD:
    case LWS_CALLBACK_DEL_POLL_FD:
    case LWS_CALLBACK_CHANGE_MODE_POLL_FD:
        evolu_ws_fdset_update(p ? &p->fds : NULL, reason, in);
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c) break;
        c->state = P_OPEN;
        if (c->paused) lws_rx_flow_control(wsi, 0);
        if (c->p->h.on_open) c->p->h.on_open(c->p->h.ctx, c);
        if (c->q.head) lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c || c->dropping) break;
        switch (evolu_ws_rx_feed(&c->rx, wsi, in, len, c->p->max_message)) {
        case EVOLU_WS_RX_MORE: break;
        case EVOLU_WS_RX_TOO_BIG:
            c->rx.drop = true;
            c->dropping = true;
            lws_callback_on_writable(wsi);
            break;
        case EVOLU_WS_RX_NOMEM: return -1;
        case EVOLU_WS_RX_COMPLETE:
            if (!c->rx.drop && c->p->h.on_message)
                c->p->h.on_message(c->p->h.ctx, c, c->rx.buf, c->rx.len);
            evolu_ws_rx_reset(&c->rx);
            /* a big buffer is not kept between messages: bounded memory */
            if (c->rx.cap > 65536) evolu_ws_rx_free(&c->rx);
            break;
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c) break;
        if (c->dropping) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        if (c->q.head) {
            if (evolu_ws_queue_write_one(&c->q, wsi)) return -1;
            if (c->q.head) lws_callback_on_writable(wsi);
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
    p->ctx = evolu_ws_context_create(k_protocols, p, NULL);
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
        evolu_ws_queue_clear(&c->q);
        evolu_ws_url_free(&c->url);
        evolu_ws_rx_free(&c->rx);
        free(c);
    }
    free(p);
}

evolu_err evolu_ws_pipe_conn_new(evolu_ws_pipe *p, const char *url, void *user,
                                 evolu_ws_pipe_conn **out) {
    *out = NULL;
    if (p->n_conns >= PIPE_MAX_CONNS) return EVOLU_E_CAPACITY;
    evolu_ws_pipe_conn *c = calloc(1, sizeof *c);
    if (!c) return EVOLU_E_NOMEM;
    c->p = p;
    c->user = user;
    evolu_err e = evolu_ws_url_parse(url, 0, &c->url);
    if (e) {
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
size_t evolu_ws_pipe_queued(const evolu_ws_pipe_conn *c) { return c->q.bytes; }

evolu_err evolu_ws_pipe_connect(evolu_ws_pipe_conn *c) {
    if (c->state != P_IDLE) return EVOLU_E_STATE;
    c->state = P_CONNECTING;
    c->dropping = false;
    evolu_ws_rx_reset(&c->rx);
    if (!evolu_ws_connect(c->p->ctx, &c->url, "evolu-proxy", c, &c->wsi)) {
        /* the error callback may already have run (then state is idle) */
        if (c->state != P_IDLE) closed(c, "cannot start the connection");
        c->wsi = NULL;
    }
    return EVOLU_OK;
}

evolu_err evolu_ws_pipe_send(evolu_ws_pipe_conn *c, const uint8_t *bytes, size_t n) {
    if (c->state != P_OPEN || !c->wsi) return EVOLU_E_STATE;
    evolu_err e = evolu_ws_queue_push(&c->q, bytes, n);
    if (e) return e;
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
    size_t n = evolu_ws_fdset_copy(&p->fds, fds, cap);
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
