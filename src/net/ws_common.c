/*
 * ws_common.c - libwebsockets client plumbing shared by ws_client.c and
 * ws_pipe.c (see ws_common.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "ws_common.h"

#include <stdlib.h>
#include <string.h>

#define CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define RX_FIRST_CAP 65536

void evolu_ws_fdset_update(evolu_ws_fdset *s, enum lws_callback_reasons reason, const void *in) {
    const struct lws_pollargs *pa = in;
    if (!s) return;
    switch (reason) {
    case LWS_CALLBACK_ADD_POLL_FD:
        if (s->n < EVOLU_WS_MAX_FDS) {
            s->fds[s->n].fd = pa->fd;
            s->fds[s->n].events = (short)pa->events;
            s->fds[s->n].revents = 0;
            s->n++;
        }
        break;
    case LWS_CALLBACK_DEL_POLL_FD:
        for (size_t i = 0; i < s->n; i++)
            if (s->fds[i].fd == pa->fd) {
                s->fds[i] = s->fds[--s->n];
                break;
            }
        break;
    case LWS_CALLBACK_CHANGE_MODE_POLL_FD:
        for (size_t i = 0; i < s->n; i++)
            if (s->fds[i].fd == pa->fd) s->fds[i].events = (short)pa->events;
        break;
    default: break;
    }
}

size_t evolu_ws_fdset_copy(const evolu_ws_fdset *s, struct pollfd *fds, size_t cap) {
    size_t n = 0;
    for (; n < s->n && n < cap; n++) {
        fds[n] = s->fds[n];
        fds[n].revents = 0;
    }
    return n;
}

evolu_err evolu_ws_url_parse(const char *url, size_t path_extra, evolu_ws_url *out) {
    memset(out, 0, sizeof *out);
    const char *s = url;
    if (!strncmp(s, "wss://", 6)) {
        out->tls = true;
        out->port = 443;
        s += 6;
    } else if (!strncmp(s, "ws://", 5)) {
        out->port = 80;
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
        out->port = (int)v;
        s = end;
    }
    if (*s && *s != '/' && *s != '?') return EVOLU_E_URL;
    size_t hl = (size_t)(host_end - h), pl = strcspn(s, "#");
    out->host = malloc(hl + 1);
    out->path = malloc(pl + 2 + path_extra);
    if (!out->host || !out->path) {
        evolu_ws_url_free(out);
        return EVOLU_E_NOMEM;
    }
    memcpy(out->host, h, hl);
    out->host[hl] = 0;
    char *o = out->path;
    if (*s != '/') *o++ = '/';
    memcpy(o, s, pl);
    o[pl] = 0;
    return EVOLU_OK;
}

void evolu_ws_url_free(evolu_ws_url *u) {
    free(u->host);
    free(u->path);
    u->host = u->path = NULL;
}

struct lws_context *evolu_ws_context_create(const struct lws_protocols *protocols, void *user,
                                            const char *ca_file) {
    lws_set_log_level(getenv("EVOLU_LWS_LOG") ? atoi(getenv("EVOLU_LWS_LOG")) : 0, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = user;
    info.gid = -1;
    info.uid = -1;
    info.client_ssl_ca_filepath = ca_file ? ca_file : CA_BUNDLE;
    return lws_create_context(&info);
}

bool evolu_ws_connect(struct lws_context *ctx, const evolu_ws_url *u, const char *protocol,
                      void *opaque, struct lws **pwsi) {
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = ctx;
    ci.address = u->host;
    ci.port = u->port;
    ci.path = u->path;
    ci.host = u->host;
    ci.origin = u->host;
    ci.ssl_connection = u->tls ? LCCSCF_USE_SSL : 0;
    ci.local_protocol_name = protocol;
    ci.opaque_user_data = opaque;
    ci.pwsi = pwsi;
    return lws_client_connect_via_info(&ci) != NULL;
}

evolu_ws_rx_step evolu_ws_rx_feed(evolu_ws_rx *rx, struct lws *wsi, const void *in, size_t len,
                                  size_t max) {
    if (!lws_frame_is_binary(wsi)) {
        rx->drop = true;
    } else if (!rx->drop) {
        if (rx->len + len > max) return EVOLU_WS_RX_TOO_BIG;
        if (rx->len + len > rx->cap) {
            size_t cap = rx->cap ? rx->cap : RX_FIRST_CAP;
            while (cap < rx->len + len) cap *= 2;
            uint8_t *p = realloc(rx->buf, cap);
            if (!p) return EVOLU_WS_RX_NOMEM;
            rx->buf = p;
            rx->cap = cap;
        }
        memcpy(rx->buf + rx->len, in, len);
        rx->len += len;
    }
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
        return EVOLU_WS_RX_COMPLETE;
    return EVOLU_WS_RX_MORE;
}

void evolu_ws_rx_reset(evolu_ws_rx *rx) {
    rx->len = 0;
    rx->drop = false;
}

void evolu_ws_rx_free(evolu_ws_rx *rx) {
    free(rx->buf);
    rx->buf = NULL;
    rx->len = rx->cap = 0;
}

struct evolu_ws_frame {
    evolu_ws_frame *next;
    size_t len;
    uint8_t buf[]; /* LWS_PRE + len */
};

evolu_err evolu_ws_queue_push(evolu_ws_queue *q, const uint8_t *bytes, size_t n) {
    evolu_ws_frame *f = malloc(sizeof *f + LWS_PRE + n);
    if (!f) return EVOLU_E_NOMEM;
    f->next = NULL;
    f->len = n;
    memcpy(f->buf + LWS_PRE, bytes, n);
    if (q->tail)
        q->tail->next = f;
    else
        q->head = f;
    q->tail = f;
    q->bytes += n;
    return EVOLU_OK;
}

int evolu_ws_queue_write_one(evolu_ws_queue *q, struct lws *wsi) {
    evolu_ws_frame *f = q->head;
    if (!f) return 0;
    int w = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_BINARY);
    if (w < (int)f->len) return -1;
    q->head = f->next;
    if (!q->head) q->tail = NULL;
    q->bytes -= f->len;
    free(f);
    return 0;
}

void evolu_ws_queue_clear(evolu_ws_queue *q) {
    while (q->head) {
        evolu_ws_frame *f = q->head;
        q->head = f->next;
        free(f);
    }
    q->tail = NULL;
    q->bytes = 0;
}
