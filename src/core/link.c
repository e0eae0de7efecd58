/* link.c - the link endpoint: session handshake, sequence numbers with
 * cumulative acks, go-back-N retransmission on a caller-driven clock, and
 * credit-based flow control (docs/link.md, "Reliability" and "Flow control"). */
#include <string.h>

#include "evolu/link.h"

#define HELLO_LEN 11
#define HELLO_CONNECTED 0x01

/* a < b in 16-bit sequence space (windows are far below 2^15) */
static bool seq_lt(uint16_t a, uint16_t b) {
    uint16_t d = (uint16_t)(b - a);
    return d != 0 && d < 0x8000u;
}

static uint16_t own_mtu(const evolu_link *l) {
    return l->cfg.mtu ? l->cfg.mtu : (uint16_t)EVOLU_LINK_MTU;
}

static uint8_t *slot(const evolu_link *l, uint16_t seq) {
    return l->slots + (size_t)(seq % l->nslots) * EVOLU_LINK_SLOT_BYTES(own_mtu(l));
}

/* A new session (ours at start, or the peer's after it restarted): nothing of
 * the old one survives. The receive credit is announced with the next frame. */
static void session_reset(evolu_link *l) {
    l->tx_base = l->tx_send = l->tx_next = 0;
    l->peer_limit = 0;
    l->rx_next = 0;
    l->rx_limit = l->cfg.rx_credit;
    l->rto = l->cfg.rto_ms;
    l->ack_due = true;
    l->connected = false;
}

evolu_err evolu_link_init(evolu_link *l, const evolu_link_config *cfg, uint32_t session,
                          uint8_t *slots, uint16_t nslots, uint8_t *rxbuf, size_t rxcap) {
    if (!l || !cfg || !slots || !rxbuf || session == 0) return EVOLU_E_ARG;
    if (nslots == 0 || nslots > EVOLU_LINK_MAX_SLOTS) return EVOLU_E_ARG;
    if (cfg->rto_ms == 0 || cfg->rto_max_ms < cfg->rto_ms || cfg->mtu > EVOLU_LINK_MTU)
        return EVOLU_E_ARG;
    if (cfg->rx_credit >= 0x8000u) return EVOLU_E_ARG;
    memset(l, 0, sizeof *l);
    l->cfg = *cfg;
    if (rxcap < (size_t)EVOLU_LINK_HEADER + own_mtu(l) + EVOLU_LINK_CRC) return EVOLU_E_ARG;
    evolu_link_decoder_init(&l->dec, rxbuf, rxcap);
    l->slots = slots;
    l->nslots = nslots;
    l->session = session;
    session_reset(l);
    l->hello_due = true;
    return EVOLU_OK;
}

size_t evolu_link_mtu(const evolu_link *l) {
    return l->connected ? (l->peer_mtu < own_mtu(l) ? l->peer_mtu : own_mtu(l)) : 0;
}

size_t evolu_link_send_room(const evolu_link *l) {
    if (!l->connected) return 0;
    return (size_t)l->nslots - (uint16_t)(l->tx_next - l->tx_base);
}

bool evolu_link_idle(const evolu_link *l) { return l->tx_base == l->tx_next; }

evolu_err evolu_link_send(evolu_link *l, uint8_t chan, const uint8_t *p, size_t len) {
    if (!l->connected) return EVOLU_E_STATE;
    if (len > evolu_link_mtu(l)) return EVOLU_E_LIMIT;
    if (len && !p) return EVOLU_E_ARG;
    if (evolu_link_send_room(l) == 0) return EVOLU_E_CAPACITY;
    uint8_t *s = slot(l, l->tx_next);
    s[0] = chan;
    s[1] = (uint8_t)len;
    s[2] = (uint8_t)(len >> 8);
    if (len) memcpy(s + 3, p, len);
    l->tx_next++;
    return EVOLU_OK;
}

void evolu_link_grant(evolu_link *l, uint16_t n) {
    /* never more than 2^15 - 1 ahead, so sequence comparisons stay sound */
    uint16_t ahead = (uint16_t)(l->rx_limit - l->rx_next);
    if (n > 0x7FFFu - ahead) n = (uint16_t)(0x7FFFu - ahead);
    if (n == 0) return;
    l->rx_limit = (uint16_t)(l->rx_limit + n);
    l->ack_due = true;
}

/* Acknowledgement and credit carried by every frame of an established session. */
static void take_ack(evolu_link *l, const evolu_link_frame *f, uint32_t now) {
    if (seq_lt(l->tx_base, f->ack) && !seq_lt(l->tx_next, f->ack)) {
        l->tx_base = f->ack;
        if (seq_lt(l->tx_send, l->tx_base)) l->tx_send = l->tx_base;
        l->tx_time = now;
        l->rto = l->cfg.rto_ms;
    }
    /* a limit below the ack is nonsense; a limit never moves back */
    if ((uint16_t)(f->limit - f->ack) < 0x8000u && !seq_lt(f->limit, l->peer_limit))
        l->peer_limit = f->limit;
}

static bool take_hello(evolu_link *l, const evolu_link_frame *f) {
    const uint8_t *p = f->payload;
    if (f->len < HELLO_LEN) {
        l->stats.bad_frame++;
        return false;
    }
    uint32_t s = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    uint32_t echo = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                    (uint32_t)p[7] << 24;
    uint16_t mtu = (uint16_t)(p[8] | p[9] << 8);
    if (s == 0) {
        l->stats.bad_frame++;
        return false;
    }
    if (s != l->peer_session) {
        l->peer_session = s;
        session_reset(l);
    }
    l->peer_mtu = mtu;
    if (!(p[10] & HELLO_CONNECTED)) l->hello_due = true;
    if (!l->connected && echo == l->session) {
        l->connected = true;
        l->stats.resets++;
        return true;
    }
    return false;
}

/* One good frame; true when it produced an event. */
static bool take_frame(evolu_link *l, const evolu_link_frame *f, uint32_t now,
                       evolu_link_event *ev) {
    l->stats.frames_in++;
    if (f->type == EVOLU_LINK_HELLO) {
        if (!take_hello(l, f)) return false;
        ev->kind = EVOLU_LINK_EV_CONNECTED;
        return true;
    }
    if (!l->connected) return false; /* the handshake comes first */
    take_ack(l, f, now);
    if (f->type == EVOLU_LINK_ACK) {
        if (f->chan & EVOLU_LINK_ACK_PROBE) l->ack_due = true;
        return false;
    }
    l->ack_due = true; /* every DATA is answered: in order, duplicate or not */
    if (f->seq != l->rx_next) {
        if (seq_lt(f->seq, l->rx_next)) l->stats.duplicates++;
        else l->stats.out_of_order++;
        return false;
    }
    if (!seq_lt(f->seq, l->rx_limit)) {
        l->stats.overruns++; /* the sender ignored our credit: drop it */
        return false;
    }
    l->rx_next++;
    l->stats.delivered++;
    ev->kind = EVOLU_LINK_EV_DATA;
    ev->chan = f->chan;
    ev->len = f->len;
    ev->payload = f->payload;
    return true;
}

evolu_err evolu_link_input(evolu_link *l, const uint8_t *in, size_t n, uint32_t now_ms,
                           size_t *used, evolu_link_event *ev) {
    size_t pos = 0;
    ev->kind = EVOLU_LINK_EV_NONE;
    ev->chan = 0;
    ev->len = 0;
    ev->payload = NULL;
    while (pos < n) {
        size_t u;
        evolu_link_frame f;
        evolu_err e = evolu_link_decode(&l->dec, in + pos, n - pos, &u, &f);
        pos += u;
        if (e == EVOLU_OK) {
            if (take_frame(l, &f, now_ms, ev)) {
                *used = pos;
                return EVOLU_OK;
            }
        } else if (e == EVOLU_E_CHECKSUM) {
            l->stats.bad_crc++;
        } else if (e != EVOLU_E_DONE) {
            l->stats.bad_frame++;
        }
    }
    *used = pos;
    return EVOLU_E_DONE;
}

static evolu_err emit(evolu_link *l, evolu_link_frame *f, uint8_t *out, size_t cap,
                      size_t *n) {
    f->ack = l->rx_next;
    f->limit = l->rx_limit;
    evolu_err e = evolu_link_frame_encode(f, out, cap, n);
    if (e == EVOLU_OK) l->stats.frames_out++;
    return e;
}

static evolu_err emit_hello(evolu_link *l, uint32_t now, uint8_t *out, size_t cap, size_t *n) {
    uint8_t p[HELLO_LEN];
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(l->session >> (8 * i));
        p[4 + i] = (uint8_t)(l->peer_session >> (8 * i));
    }
    p[8] = (uint8_t)own_mtu(l);
    p[9] = (uint8_t)(own_mtu(l) >> 8);
    p[10] = l->connected ? HELLO_CONNECTED : 0;
    evolu_link_frame f = {EVOLU_LINK_HELLO, 0, 0, 0, 0, HELLO_LEN, p};
    l->hello_due = false;
    l->hello_time = now;
    return emit(l, &f, out, cap, n);
}

evolu_err evolu_link_poll(evolu_link *l, uint32_t now, uint8_t *out, size_t cap, size_t *n) {
    *n = 0;
    /* before any state moves: room for the largest frame this end sends */
    if (cap < EVOLU_LINK_WIRE_SIZE(own_mtu(l))) return EVOLU_E_BUFFER;
    if (!l->connected) {
        if (l->hello_due || now - l->hello_time >= l->rto)
            return emit_hello(l, now, out, cap, n);
        return EVOLU_OK;
    }
    if (l->hello_due) return emit_hello(l, now, out, cap, n);
    /* timeout: rewind to the oldest unacknowledged frame, back off */
    if (l->tx_send != l->tx_base && now - l->tx_time >= l->rto) {
        l->tx_send = l->tx_base;
        l->rto = l->rto > l->cfg.rto_max_ms / 2 ? l->cfg.rto_max_ms : l->rto * 2;
        l->tx_time = now;
        l->stats.retransmits++;
    }
    if (l->tx_send != l->tx_next && seq_lt(l->tx_send, l->peer_limit)) {
        const uint8_t *s = slot(l, l->tx_send);
        evolu_link_frame f = {EVOLU_LINK_DATA, s[0], l->tx_send, 0, 0,
                              (uint16_t)(s[1] | s[2] << 8), s + 3};
        evolu_err e = emit(l, &f, out, cap, n);
        if (e) return e;
        if (l->tx_send == l->tx_base) l->tx_time = now;
        l->tx_send++;
        l->ack_due = false;
        return EVOLU_OK;
    }
    if (l->ack_due) {
        evolu_link_frame f = {EVOLU_LINK_ACK, 0, 0, 0, 0, 0, NULL};
        l->ack_due = false;
        return emit(l, &f, out, cap, n);
    }
    /* blocked by credit with nothing in flight: ask for the credit again now
     * and then, in case the update granting it was lost */
    if (l->tx_send != l->tx_next && l->tx_send == l->tx_base &&
        now - l->probe_time >= l->rto) {
        evolu_link_frame f = {EVOLU_LINK_ACK, EVOLU_LINK_ACK_PROBE, 0, 0, 0, 0, NULL};
        l->probe_time = now;
        l->stats.probes++;
        return emit(l, &f, out, cap, n);
    }
    return EVOLU_OK;
}

/* Time left until `since + rto`, 0 if already due. */
static uint32_t left(uint32_t since, uint32_t rto, uint32_t now) {
    uint32_t gone = now - since;
    return gone >= rto ? 0 : rto - gone;
}

uint32_t evolu_link_timeout(const evolu_link *l, uint32_t now) {
    if (l->hello_due) return 0;
    if (!l->connected) return left(l->hello_time, l->rto, now);
    bool pending = l->tx_send != l->tx_next;
    if (l->ack_due || (pending && seq_lt(l->tx_send, l->peer_limit))) return 0;
    if (l->tx_send != l->tx_base) return left(l->tx_time, l->rto, now);
    if (pending) return left(l->probe_time, l->rto, now);
    return UINT32_MAX;
}
