/*
 * proxy.c - `evolu proxy` (evolu/proxy.h, docs/proxy.md): the device's link
 * on one side, one WebSocket connection per owner to the relay on the
 * other, the durable queue in between and the host store on channel 1. One
 * poll() loop over the device's descriptors and libwebsockets' ones.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "evolu/id.h"
#include "evolu/link.h"
#include "evolu/protocol.h"
#include "evolu/proxy.h"
#include "proxy_internal.h"

#define PROXY_WINDOW 8          /* unanswered messages per relay connection */
#define PROXY_MAX_OWNERS 16
#define PROXY_RX_CREDIT 8       /* frames the device may send ahead */
#define PROXY_SLOTS 16          /* our send window towards the device */
#define PROXY_WS_QUEUE (4u << 20)
#define PROXY_OUT_CAP 16384
#define PROXY_MAX_MSG EVOLU_PROTOCOL_MAX_SIZE

typedef struct owner {
    uint8_t id[EVOLU_OWNER_ID_BYTES];
    char text[EVOLU_ID_CHARS + 1];
    evolu_ws_pipe_conn *conn;
    int backoff_ms;
    int64_t retry_at, progress_at;
    unsigned failures;
    uint64_t inflight[PROXY_WINDOW];
    size_t n_inflight;
    uint64_t sent_upto;
} owner;

typedef struct outmsg {
    struct outmsg *next;
    size_t len;
    uint8_t data[];
} outmsg;

struct evolu_proxy {
    evolu_proxy_options o;
    char *relay_url, *store_dir, *queue_dir, *device, *owners_path;
    volatile sig_atomic_t stop;
    /* the device */
    int listen_fd, dev_fd, port;
    bool serial;
    int64_t reopen_at;
    evolu_link link;
    uint8_t slots[PROXY_SLOTS * EVOLU_LINK_SLOT_SIZE];
    uint8_t rxbuf[EVOLU_LINK_FRAME_MAX];
    uint8_t out[PROXY_OUT_CAP];
    size_t out_len, out_off;
    /* channel 0 in: the message being assembled */
    evolu_link_msg_rx mrx;
    uint8_t *msg;
    bool msg_bad;
    uint16_t held_grants; /* channel-0 frames not granted while the queue is full */
    /* channel 1: replies waiting for a send slot (each holds its credit) */
    uint8_t replies[PROXY_RX_CREDIT][EVOLU_LINK_MTU];
    size_t reply_len[PROXY_RX_CREDIT], r_head, r_n;
    /* channel 2 */
    int ctl_pending; /* -1 none, else the byte */
    int dev_owner;   /* index of the device's owner, -1 unknown */
    /* channel 0 out: messages for the device */
    outmsg *td_head, *td_tail;
    size_t td_bytes, td_off;
    int td_phase; /* 0 idle, 1 chunks, 2 end */
    evolu_link_msg_tx mtx;
    bool td_paused;
    /* the rest */
    proxy_queue *q;
    proxy_store *st;
    evolu_ws_pipe *pipe;
    owner owners[PROXY_MAX_OWNERS];
    size_t n_owners;
    uint8_t *fwd;
    evolu_proxy_stats stats;
};

static int64_t mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void plog(const evolu_proxy *p, evolu_log_level lv, const char *fmt, ...) {
    if (!p->o.log || lv > p->o.log_level) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->o.log(p->o.log_ctx, lv, line);
}

void evolu_proxy_options_default(evolu_proxy_options *o) {
    memset(o, 0, sizeof *o);
    o->queue_max_messages = 65536;
    o->queue_max_bytes = 1ull << 30;
    o->to_device_max = 8u << 20;
    o->reconnect_min_ms = 250;
    o->reconnect_max_ms = 10000;
    o->reply_timeout_ms = 30000;
    o->link_rto_ms = 50;
    o->link_rto_max_ms = 1000;
    o->log_level = EVOLU_LOG_INFO;
}

/* --- owners and relay connections ----------------------------------------------------- */

static void on_open(void *ctx, evolu_ws_pipe_conn *c);
static void on_message(void *ctx, evolu_ws_pipe_conn *c, const uint8_t *b, size_t n);
static void on_close(void *ctx, evolu_ws_pipe_conn *c, bool was_open, const char *why);

static int find_owner(const evolu_proxy *p, const uint8_t id[EVOLU_OWNER_ID_BYTES]) {
    for (size_t i = 0; i < p->n_owners; i++)
        if (!memcmp(p->owners[i].id, id, EVOLU_OWNER_ID_BYTES)) return (int)i;
    return -1;
}

/* The owner's slot, created (and remembered in STORE/owners, so a restarted
 * proxy reconnects and can tell the device "relay up") if new; -1 if full. */
static int get_owner(evolu_proxy *p, const uint8_t id[EVOLU_OWNER_ID_BYTES], bool persist) {
    int k = find_owner(p, id);
    if (k >= 0) return k;
    if (p->n_owners >= PROXY_MAX_OWNERS) return -1;
    owner *o = &p->owners[p->n_owners];
    memset(o, 0, sizeof *o);
    memcpy(o->id, id, EVOLU_OWNER_ID_BYTES);
    evolu_id_to_string(id, o->text);
    o->text[EVOLU_ID_CHARS] = 0;
    o->backoff_ms = p->o.reconnect_min_ms;
    size_t ul = strlen(p->relay_url);
    char *url = malloc(ul + EVOLU_ID_CHARS + 16);
    if (!url) return -1;
    snprintf(url, ul + EVOLU_ID_CHARS + 16, "%s%sownerId=%s", p->relay_url,
             strchr(p->relay_url, '?') ? "&" : "?", o->text);
    evolu_err e = evolu_ws_pipe_conn_new(p->pipe, url, o, &o->conn);
    free(url);
    if (e) return -1;
    if (p->td_paused) evolu_ws_pipe_pause(o->conn, true);
    p->n_owners++;
    if (persist) {
        int fd = open(p->owners_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        char line[EVOLU_ID_CHARS + 2];
        memcpy(line, o->text, EVOLU_ID_CHARS);
        line[EVOLU_ID_CHARS] = '\n';
        if (fd < 0 || write(fd, line, EVOLU_ID_CHARS + 1) != EVOLU_ID_CHARS + 1 || fsync(fd))
            plog(p, EVOLU_LOG_WARN, "cannot record owner %s in %s", o->text, p->owners_path);
        if (fd >= 0) close(fd);
    }
    plog(p, EVOLU_LOG_INFO, "owner %s: connecting to the relay", o->text);
    evolu_ws_pipe_connect(o->conn);
    return (int)(o - p->owners);
}

static void load_owners(evolu_proxy *p) {
    FILE *f = fopen(p->owners_path, "r");
    if (!f) return;
    char line[64];
    while (fgets(line, sizeof line, f)) {
        uint8_t id[EVOLU_OWNER_ID_BYTES];
        if (strlen(line) >= EVOLU_ID_CHARS && !evolu_id_from_string(line, EVOLU_ID_CHARS, id))
            get_owner(p, id, false);
    }
    fclose(f);
}

static void set_control(evolu_proxy *p, const owner *o, bool up) {
    if (p->dev_owner >= 0 && &p->owners[p->dev_owner] == o) p->ctl_pending = up ? 1 : 0;
}

static void set_paused(evolu_proxy *p, bool pause) {
    if (p->td_paused == pause) return;
    p->td_paused = pause;
    for (size_t i = 0; i < p->n_owners; i++) evolu_ws_pipe_pause(p->owners[i].conn, pause);
    plog(p, EVOLU_LOG_DEBUG, "%s reading from the relay (%zu bytes wait for the device)",
         pause ? "pause" : "resume", p->td_bytes);
}

static void on_open(void *ctx, evolu_ws_pipe_conn *c) {
    evolu_proxy *p = ctx;
    owner *o = evolu_ws_pipe_user(c);
    o->backoff_ms = p->o.reconnect_min_ms;
    o->failures = 0;
    o->n_inflight = 0;
    o->sent_upto = 0;
    p->stats.relay_connects++;
    plog(p, EVOLU_LOG_INFO, "owner %s: relay connected", o->text);
    set_control(p, o, true);
}

static void on_close(void *ctx, evolu_ws_pipe_conn *c, bool was_open, const char *why) {
    evolu_proxy *p = ctx;
    owner *o = evolu_ws_pipe_user(c);
    o->n_inflight = 0; /* everything unanswered is sent again on reconnect */
    o->sent_upto = 0;
    uint32_t jitter = (uint32_t)(mono_ms() * 2654435761u) % 256u; /* 0..25% */
    int wait = o->backoff_ms + (int)((uint32_t)o->backoff_ms * jitter / 1024u);
    o->retry_at = mono_ms() + wait;
    o->backoff_ms = o->backoff_ms * 2 > p->o.reconnect_max_ms ? p->o.reconnect_max_ms
                                                              : o->backoff_ms * 2;
    if (was_open) {
        plog(p, EVOLU_LOG_WARN, "owner %s: relay connection lost (%s); %zu queued; retry in %d ms",
             o->text, why, proxy_queue_count(p->q), wait);
        set_control(p, o, false);
    } else {
        plog(p, o->failures ? EVOLU_LOG_DEBUG : EVOLU_LOG_WARN,
             "owner %s: relay unreachable (%s); %zu queued; retry in %d ms", o->text, why,
             proxy_queue_count(p->q), wait);
    }
    o->failures++;
}

static void to_device(evolu_proxy *p, const uint8_t *b, size_t n) {
    if (!p->link.connected) {
        plog(p, EVOLU_LOG_DEBUG, "no device session: %zu bytes from the relay dropped", n);
        return;
    }
    outmsg *m = malloc(sizeof *m + n);
    if (!m) {
        plog(p, EVOLU_LOG_ERROR, "out of memory: %zu bytes for the device dropped", n);
        return;
    }
    m->next = NULL;
    m->len = n;
    memcpy(m->data, b, n);
    if (p->td_tail) p->td_tail->next = m;
    else p->td_head = m;
    p->td_tail = m;
    p->td_bytes += n;
    if (p->td_bytes > p->o.to_device_max) set_paused(p, true);
}

static void on_message(void *ctx, evolu_ws_pipe_conn *c, const uint8_t *b, size_t n) {
    evolu_proxy *p = ctx;
    owner *o = evolu_ws_pipe_user(c);
    p->stats.relay_msgs++;
    evolu_reader r = evolu_reader_make(b, n);
    evolu_header h;
    evolu_err e = evolu_header_decode(&r, &h);
    /* a Response (or a version reply) answers the oldest unanswered message:
     * the relay answers a connection's requests in order */
    bool answer = e == EVOLU_E_VERSION || (!e && h.type == EVOLU_MESSAGE_RESPONSE);
    if (answer && o->n_inflight) {
        uint64_t seq = o->inflight[0];
        memmove(o->inflight, o->inflight + 1, (o->n_inflight - 1) * sizeof o->inflight[0]);
        o->n_inflight--;
        if (proxy_queue_remove(p->q, seq))
            plog(p, EVOLU_LOG_WARN, "queue: cannot remove message %llu", (unsigned long long)seq);
        p->stats.answered++;
        if (!e && h.error_code)
            plog(p, EVOLU_LOG_WARN, "owner %s: the relay answered with errorCode %u", o->text,
                 h.error_code);
    }
    o->progress_at = mono_ms();
    plog(p, EVOLU_LOG_DEBUG, "owner %s: %zu bytes from the relay (%s)", o->text, n,
         e == EVOLU_E_VERSION ? "version reply" : e ? "undecodable" :
         h.type == EVOLU_MESSAGE_BROADCAST ? "Broadcast" : "Response");
    to_device(p, b, n);
}

/* Sends queued messages on open connections, PROXY_WINDOW unanswered at most. */
static void pump_relay(evolu_proxy *p) {
    int64_t now = mono_ms();
    for (size_t i = 0; i < p->n_owners; i++) {
        owner *o = &p->owners[i];
        if (evolu_ws_pipe_is_idle(o->conn) && now >= o->retry_at) {
            evolu_ws_pipe_connect(o->conn);
            continue;
        }
        if (!evolu_ws_pipe_is_open(o->conn)) continue;
        if (o->n_inflight && now - o->progress_at > p->o.reply_timeout_ms) {
            proxy_qentry *e = proxy_queue_next(p->q, o->id, 0);
            if (e && e->seq == o->inflight[0] && ++e->timeouts >= 2) {
                plog(p, EVOLU_LOG_ERROR, "owner %s: the relay never answered message %llu "
                     "(%u bytes); dropped", o->text, (unsigned long long)e->seq, e->size);
                proxy_queue_remove(p->q, e->seq);
            }
            plog(p, EVOLU_LOG_WARN, "owner %s: no answer for %d ms; reconnecting", o->text,
                 p->o.reply_timeout_ms);
            evolu_ws_pipe_drop(o->conn);
            continue;
        }
        while (o->n_inflight < PROXY_WINDOW && evolu_ws_pipe_queued(o->conn) < PROXY_WS_QUEUE) {
            proxy_qentry *e = proxy_queue_next(p->q, o->id, o->sent_upto);
            if (!e) break;
            uint64_t seq = e->seq;
            if (proxy_queue_read(p->q, e, p->fwd)) {
                plog(p, EVOLU_LOG_ERROR, "queue: cannot read message %llu; dropped",
                     (unsigned long long)seq);
                proxy_queue_remove(p->q, seq);
                continue;
            }
            if (evolu_ws_pipe_send(o->conn, p->fwd, e->size)) break;
            if (!o->n_inflight) o->progress_at = now;
            o->inflight[o->n_inflight++] = seq;
            o->sent_upto = seq;
            p->stats.forwarded++;
            plog(p, EVOLU_LOG_DEBUG, "owner %s: message %llu (%u bytes) to the relay", o->text,
                 (unsigned long long)seq, e->size);
        }
    }
}

/* --- the device: messages in ----------------------------------------------------------- */

static void grant_ch0(evolu_proxy *p) {
    if (proxy_queue_full(p->q)) {
        if (!p->held_grants)
            plog(p, EVOLU_LOG_WARN, "queue full (%zu messages, %llu bytes): the device waits",
                 proxy_queue_count(p->q), (unsigned long long)proxy_queue_bytes(p->q));
        p->held_grants++;
    } else {
        evolu_link_grant(&p->link, 1);
    }
}

static void device_message(evolu_proxy *p, const uint8_t *m, size_t n) {
    evolu_msg_reader r;
    evolu_err e = evolu_msg_reader_open(&r, m, n);
    if (e == EVOLU_OK && r.header.type != EVOLU_MESSAGE_REQUEST) e = EVOLU_E_MESSAGE_TYPE;
    if (e && e != EVOLU_E_VERSION) {
        /* the relay would not answer it: do not let it block the queue */
        p->stats.device_dropped++;
        plog(p, EVOLU_LOG_WARN, "device sent an invalid message (%zu bytes): %s; dropped", n,
             evolu_strerror(e));
        return;
    }
    int k = get_owner(p, r.header.owner_id, true);
    if (k < 0) {
        p->stats.device_dropped++;
        plog(p, EVOLU_LOG_ERROR, "too many owners (%d): message dropped", PROXY_MAX_OWNERS);
        return;
    }
    if (p->dev_owner != k) { /* tell the device where its owner's relay stands */
        p->dev_owner = k;
        p->ctl_pending = evolu_ws_pipe_is_open(p->owners[k].conn) ? 1 : 0;
    }
    e = proxy_queue_push(p->q, r.header.owner_id, m, n);
    if (e) {
        p->stats.device_dropped++;
        plog(p, EVOLU_LOG_ERROR, "queue: cannot store a %zu-byte message: %s; dropped", n,
             evolu_strerror(e));
        return;
    }
    p->stats.device_msgs++;
    plog(p, EVOLU_LOG_DEBUG, "owner %s: %zu-byte message from the device queued (%zu in queue)",
         p->owners[k].text, n, proxy_queue_count(p->q));
}

static void channel0(evolu_proxy *p, const uint8_t *b, size_t n) {
    evolu_link_msg_part part;
    evolu_err e = evolu_link_msg_feed(&p->mrx, b, n, &part);
    if (e) {
        plog(p, EVOLU_LOG_WARN, "device message piece refused: %s; message dropped",
             evolu_strerror(e));
        p->stats.device_dropped++;
        return;
    }
    switch (part.kind) {
    case EVOLU_LINK_MSG_STARTED:
        p->msg_bad = false;
        if (!p->msg) p->msg = malloc(PROXY_MAX_MSG);
        if (!p->msg) {
            p->msg_bad = true;
            plog(p, EVOLU_LOG_ERROR, "out of memory for a device message");
        }
        break;
    case EVOLU_LINK_MSG_DATA:
        if (p->msg && !p->msg_bad) memcpy(p->msg + part.offset, part.data, part.n);
        break;
    case EVOLU_LINK_MSG_COMPLETE:
        /* durable before this frame's ack leaves (the ack goes out with the
         * next evolu_link_poll, after this returns) */
        if (p->msg && !p->msg_bad) device_message(p, p->msg, part.total);
        break;
    case EVOLU_LINK_MSG_ABORTED:
        plog(p, EVOLU_LOG_INFO, "the device aborted a message");
        break;
    default: break;
    }
}

static void drop_to_device(evolu_proxy *p) {
    while (p->td_head) {
        outmsg *m = p->td_head;
        p->td_head = m->next;
        free(m);
    }
    p->td_tail = NULL;
    p->td_bytes = 0;
    p->td_phase = 0;
    p->td_off = 0;
    set_paused(p, false);
}

static void link_event(evolu_proxy *p, const evolu_link_event *ev) {
    if (ev->kind == EVOLU_LINK_EV_CONNECTED) {
        /* a new session: whatever was half sent either way is gone */
        p->stats.device_sessions++;
        plog(p, EVOLU_LOG_INFO, "device session established (peer session %08lx)",
             (unsigned long)p->link.peer_session);
        evolu_link_msg_rx_init(&p->mrx, PROXY_MAX_MSG);
        drop_to_device(p);
        p->r_n = 0;
        p->held_grants = 0;
        proxy_store_reset(p->st);
        /* the current state, so the device never has to guess */
        p->ctl_pending = -1;
        if (p->dev_owner >= 0)
            p->ctl_pending = evolu_ws_pipe_is_open(p->owners[p->dev_owner].conn) ? 1 : 0;
        return;
    }
    if (ev->kind != EVOLU_LINK_EV_DATA) return;
    switch (ev->chan) {
    case EVOLU_LINK_CH_PROTOCOL:
        channel0(p, ev->payload, ev->len);
        grant_ch0(p);
        break;
    case EVOLU_LINK_CH_STORE: {
        if (p->r_n >= PROXY_RX_CREDIT) { /* the device overran its credit */
            plog(p, EVOLU_LOG_WARN, "store request beyond the credit dropped");
            evolu_link_grant(&p->link, 1);
            break;
        }
        size_t slot = (p->r_head + p->r_n) % PROXY_RX_CREDIT;
        size_t mtu = evolu_link_mtu(&p->link);
        p->reply_len[slot] = proxy_store_handle(p->st, ev->payload, ev->len, mtu,
                                                p->replies[slot], EVOLU_LINK_MTU);
        p->r_n++; /* granted once the reply is sent */
        break;
    }
    default:
        plog(p, EVOLU_LOG_DEBUG, "device: %u bytes on channel %u ignored", ev->len, ev->chan);
        evolu_link_grant(&p->link, 1);
        break;
    }
}

/* --- the device: frames out ------------------------------------------------------------- */

static void pump_device(evolu_proxy *p) {
    if (!p->link.connected) return;
    if (p->held_grants && !proxy_queue_full(p->q)) {
        evolu_link_grant(&p->link, p->held_grants);
        p->held_grants = 0;
    }
    uint8_t buf[EVOLU_LINK_MTU];
    while (evolu_link_send_room(&p->link)) {
        if (p->r_n) {
            size_t s = p->r_head;
            if (p->reply_len[s] &&
                evolu_link_send(&p->link, EVOLU_LINK_CH_STORE, p->replies[s], p->reply_len[s]))
                break;
            p->r_head = (p->r_head + 1) % PROXY_RX_CREDIT;
            p->r_n--;
            p->stats.store_requests++;
            evolu_link_grant(&p->link, 1);
            continue;
        }
        if (p->ctl_pending >= 0) {
            uint8_t c = (uint8_t)p->ctl_pending;
            if (evolu_link_send(&p->link, EVOLU_LINK_CH_CONTROL, &c, 1)) break;
            plog(p, EVOLU_LOG_DEBUG, "told the device: relay %s", c ? "up" : "down");
            p->ctl_pending = -1;
            continue;
        }
        outmsg *m = p->td_head;
        if (!m) break;
        size_t n = 0;
        if (p->td_phase == 0) {
            n = evolu_link_msg_begin(&p->mtx, (uint32_t)m->len, buf, sizeof buf);
            p->td_phase = 1;
            p->td_off = 0;
        } else if (p->td_off < m->len) {
            size_t k = evolu_link_mtu(&p->link) - 1;
            if (k > m->len - p->td_off) k = m->len - p->td_off;
            n = evolu_link_msg_chunk(&p->mtx, m->data + p->td_off, k, buf, sizeof buf);
            p->td_off += k;
        } else {
            n = evolu_link_msg_end(&p->mtx, buf, sizeof buf);
            p->td_head = m->next;
            if (!p->td_head) p->td_tail = NULL;
            p->td_bytes -= m->len;
            p->td_phase = 0;
            free(m);
            p->stats.to_device++;
            if (p->td_bytes < p->o.to_device_max / 2) set_paused(p, false);
        }
        /* room was checked, so this cannot fail short of a bug */
        if (!n || evolu_link_send(&p->link, EVOLU_LINK_CH_PROTOCOL, buf, n)) {
            plog(p, EVOLU_LOG_ERROR, "link refused a message piece");
            break;
        }
    }
}

static void close_device(evolu_proxy *p, const char *why) {
    if (p->dev_fd < 0) return;
    plog(p, EVOLU_LOG_INFO, "device %s", why);
    close(p->dev_fd);
    p->dev_fd = -1;
    p->out_len = p->out_off = 0;
    if (p->serial) p->reopen_at = mono_ms() + 1000;
}

static void flush_device(evolu_proxy *p) {
    if (p->dev_fd < 0) return;
    uint32_t now = (uint32_t)mono_ms();
    for (;;) {
        if (p->out_off == p->out_len) p->out_off = p->out_len = 0;
        while (p->out_len + EVOLU_LINK_WIRE_MAX <= sizeof p->out) {
            size_t m = 0;
            if (evolu_link_poll(&p->link, now, p->out + p->out_len, sizeof p->out - p->out_len,
                                &m) || !m)
                break;
            p->out_len += m;
        }
        if (p->out_off == p->out_len) return;
        ssize_t k = write(p->dev_fd, p->out + p->out_off, p->out_len - p->out_off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EAGAIN) return;
        if (k <= 0) {
            close_device(p, "write failed: closed");
            return;
        }
        p->out_off += (size_t)k;
    }
}

static void read_device(evolu_proxy *p) {
    uint8_t buf[4096];
    ssize_t k = read(p->dev_fd, buf, sizeof buf);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (k <= 0) {
        close_device(p, k == 0 ? "disconnected" : "read failed: closed");
        return;
    }
    const uint8_t *in = buf;
    size_t n = (size_t)k, used = 0;
    uint32_t now = (uint32_t)mono_ms();
    evolu_link_event ev;
    while (n && evolu_link_input(&p->link, in, n, now, &used, &ev) == EVOLU_OK) {
        in += used;
        n -= used;
        link_event(p, &ev);
    }
}

/* --- opening the device ------------------------------------------------------------------ */

static int set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static evolu_err open_serial(evolu_proxy *p) {
    int fd = open(p->device, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return EVOLU_E_STATE;
    struct termios t;
    if (isatty(fd) && tcgetattr(fd, &t) == 0) {
        /* raw mode (what cfmakeraw does): bytes through untouched */
        t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        t.c_oflag &= ~(tcflag_t)OPOST;
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
        t.c_cflag |= CS8;
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        t.c_cflag |= CLOCAL | CREAD;
        cfsetispeed(&t, B115200);
        cfsetospeed(&t, B115200);
        tcsetattr(fd, TCSANOW, &t);
    }
    p->dev_fd = fd;
    plog(p, EVOLU_LOG_INFO, "device %s opened", p->device);
    return EVOLU_OK;
}

static evolu_err listen_tcp(evolu_proxy *p, const char *spec) {
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec) return EVOLU_E_ARG;
    char host[64];
    size_t hl = (size_t)(colon - spec);
    if (hl >= sizeof host) return EVOLU_E_ARG;
    memcpy(host, spec, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535) return EVOLU_E_ARG;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return EVOLU_E_ARG;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return EVOLU_E_STATE;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4) || set_nonblock(fd) ||
        getsockname(fd, (struct sockaddr *)&a, &al)) {
        close(fd);
        return EVOLU_E_STATE;
    }
    p->listen_fd = fd;
    p->port = ntohs(a.sin_port);
    plog(p, EVOLU_LOG_INFO, "waiting for the device on tcp:%s:%d", host, p->port);
    return EVOLU_OK;
}

static void accept_device(evolu_proxy *p) {
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0) return;
    if (p->dev_fd >= 0) close_device(p, "connection replaced by a new one");
    set_nonblock(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p->dev_fd = fd;
    plog(p, EVOLU_LOG_INFO, "device connected");
}

/* --- create / run / destroy ---------------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

evolu_err evolu_proxy_create(const evolu_proxy_options *o, evolu_proxy **out) {
    *out = NULL;
    if (!o || !o->device || !o->relay_url || !o->store_dir || !o->queue_max_messages ||
        !o->queue_max_bytes || o->reconnect_min_ms <= 0 ||
        o->reconnect_max_ms < o->reconnect_min_ms || o->reply_timeout_ms <= 0)
        return EVOLU_E_ARG;
    if (strncmp(o->relay_url, "ws://", 5) && strncmp(o->relay_url, "wss://", 6))
        return EVOLU_E_URL;
    evolu_proxy *p = calloc(1, sizeof *p);
    if (!p) return EVOLU_E_NOMEM;
    p->o = *o;
    p->listen_fd = p->dev_fd = p->port = -1;
    p->ctl_pending = -1;
    p->dev_owner = -1;
    size_t sl = strlen(o->store_dir);
    p->relay_url = dup_or_null(o->relay_url);
    p->store_dir = dup_or_null(o->store_dir);
    p->device = dup_or_null(o->device);
    p->queue_dir = o->queue_dir ? strdup(o->queue_dir) : malloc(sl + 8);
    p->owners_path = malloc(sl + 8);
    p->fwd = malloc(PROXY_MAX_MSG);
    evolu_err e = EVOLU_OK;
    if (!p->relay_url || !p->store_dir || !p->device || !p->queue_dir || !p->owners_path ||
        !p->fwd) {
        e = EVOLU_E_NOMEM;
        goto fail;
    }
    if (!o->queue_dir) snprintf(p->queue_dir, sl + 8, "%s/queue", o->store_dir);
    snprintf(p->owners_path, sl + 8, "%s/owners", o->store_dir);
    p->o.relay_url = p->relay_url;
    p->o.store_dir = p->store_dir;
    p->o.queue_dir = p->queue_dir;
    p->o.device = p->device;
    if ((e = proxy_store_open(p->store_dir, &p->st))) goto fail;
    if ((e = proxy_queue_open(p->queue_dir, o->queue_max_messages, o->queue_max_bytes, &p->q)))
        goto fail;
    evolu_ws_pipe_handler h = {on_open, on_message, on_close, p};
    if ((e = evolu_ws_pipe_create(&h, PROXY_MAX_MSG, &p->pipe))) goto fail;
    evolu_link_config lc = {o->link_rto_ms ? o->link_rto_ms : 50,
                            o->link_rto_max_ms ? o->link_rto_max_ms : 1000, PROXY_RX_CREDIT, 0};
    uint32_t session = 0;
    while (!session) {
        int rfd = open("/dev/urandom", O_RDONLY);
        if (rfd < 0 || read(rfd, &session, sizeof session) != (ssize_t)sizeof session)
            session = (uint32_t)mono_ms() ^ (uint32_t)getpid() << 16;
        if (rfd >= 0) close(rfd);
    }
    if ((e = evolu_link_init(&p->link, &lc, session, p->slots, PROXY_SLOTS, p->rxbuf,
                             sizeof p->rxbuf)))
        goto fail;
    evolu_link_msg_rx_init(&p->mrx, PROXY_MAX_MSG);
    if (!strncmp(o->device, "tcp-listen:", 11)) {
        e = listen_tcp(p, o->device + 11);
    } else {
        p->serial = true;
        e = open_serial(p);
    }
    if (e) goto fail;
    plog(p, EVOLU_LOG_INFO, "relay %s, store %s, queue %s (%zu messages waiting)", p->relay_url,
         p->store_dir, p->queue_dir, proxy_queue_count(p->q));
    load_owners(p);
    /* owners with queued messages but not on record (an old owners file) */
    for (size_t i = 0; i < proxy_queue_count(p->q); i++)
        get_owner(p, proxy_queue_at(p->q, i)->owner, true);
    if (p->n_owners == 1) p->dev_owner = 0;
    *out = p;
    return EVOLU_OK;
fail:
    evolu_proxy_destroy(p);
    return e;
}

int evolu_proxy_device_port(const evolu_proxy *p) { return p->serial ? -1 : p->port; }

void evolu_proxy_stop(evolu_proxy *p) {
    if (p) p->stop = 1;
}

void evolu_proxy_step(evolu_proxy *p, int max_wait_ms) {
    struct pollfd fds[72];
    size_t n = 0;
    int i_listen = -1, i_dev = -1;
    if (p->serial && p->dev_fd < 0 && mono_ms() >= p->reopen_at && open_serial(p))
        p->reopen_at = mono_ms() + 1000;
    if (p->listen_fd >= 0) {
        fds[n] = (struct pollfd){p->listen_fd, POLLIN, 0};
        i_listen = (int)n++;
    }
    if (p->dev_fd >= 0) {
        short ev = POLLIN;
        if (p->out_off < p->out_len) ev |= POLLOUT;
        fds[n] = (struct pollfd){p->dev_fd, ev, 0};
        i_dev = (int)n++;
    }
    int timeout = max_wait_ms < 100 ? max_wait_ms : 100;
    if (p->dev_fd >= 0) {
        uint32_t lt = evolu_link_timeout(&p->link, (uint32_t)mono_ms());
        if (lt < (uint32_t)timeout) timeout = (int)lt;
    }
    size_t nws = evolu_ws_pipe_fds(p->pipe, fds + n, sizeof fds / sizeof fds[0] - n, &timeout);
    if (timeout < 0) timeout = 0;
    int r = poll(fds, n + nws, timeout);
    if (r < 0 && errno != EINTR) return;
    if (i_listen >= 0 && (fds[i_listen].revents & POLLIN)) accept_device(p);
    if (i_dev >= 0 && p->dev_fd == fds[i_dev].fd) {
        if (fds[i_dev].revents & (POLLIN | POLLHUP | POLLERR)) read_device(p);
    }
    evolu_ws_pipe_service(p->pipe, fds + n, nws);
    pump_relay(p);
    pump_device(p);
    flush_device(p);
    p->stats.queued_now = proxy_queue_count(p->q);
}

void evolu_proxy_run(evolu_proxy *p) {
    while (!p->stop) evolu_proxy_step(p, 100);
    plog(p, EVOLU_LOG_INFO, "stopping; %zu messages stay queued", proxy_queue_count(p->q));
}

void evolu_proxy_get_stats(const evolu_proxy *p, evolu_proxy_stats *out) {
    *out = p->stats;
    out->queued_now = p->q ? proxy_queue_count(p->q) : 0;
}

void evolu_proxy_destroy(evolu_proxy *p) {
    if (!p) return;
    if (p->dev_fd >= 0) {
        flush_device(p);
        close(p->dev_fd);
    }
    if (p->listen_fd >= 0) close(p->listen_fd);
    drop_to_device(p);
    evolu_ws_pipe_destroy(p->pipe);
    proxy_queue_close(p->q);
    proxy_store_close(p->st);
    free(p->msg);
    free(p->fwd);
    free(p->relay_url);
    free(p->store_dir);
    free(p->queue_dir);
    free(p->device);
    free(p->owners_path);
    free(p);
}
