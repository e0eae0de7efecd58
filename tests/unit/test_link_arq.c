/* test_link_arq.c - two link endpoints (include/evolu/link.h) over a simulated
 * lossy serial line: a "device" with 4 send slots and room for 2 received
 * frames, and a "host". Seeded random drops, bit flips, inserted bytes and
 * lost bursts hit every byte on the wire. Through that, the device sends a
 * 1,000,000-byte protocol message while the host sends it one, and the device
 * runs a script of host-store requests (index write begin/append/commit and
 * reads, blob put/get, and requests that must fail). Every byte must arrive
 * exactly and in order, every reply must be right, and the receive queues
 * (sized by the credit they grant) must never overflow. Also: the session
 * handshake and a restart, a sender that ignores credit, the credit probe,
 * and the API's refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/link.h"

static int g_checked, g_failed;
#define EXPECT(c) expect((c), __LINE__, #c)
static bool expect(bool ok, int line, const char *what) {
    g_checked++;
    if (!ok) {
        printf("FAIL %s:%d: %s\n", __FILE__, line, what);
        g_failed++;
    }
    return ok;
}

static uint32_t g_rng;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng;
}
static uint32_t mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}
/* Content of the index of round r, byte j; of blob r, byte j; of message m. */
static uint8_t idx_byte(uint32_t r, uint32_t j) { return (uint8_t)mix(r * 0x9E3779B9u ^ j); }
static uint8_t blob_byte(uint32_t r, uint32_t j) { return (uint8_t)mix(~r * 0x85EBCA6Bu + j); }
static uint8_t msg_byte(uint32_t m, uint32_t j) { return (uint8_t)mix(m * 0xC2B2AE35u + j * 3u); }

/* --- the line ------------------------------------------------------------- */

#define PIPE_CAP (3 * EVOLU_LINK_WIRE_MAX)
typedef struct pipe {
    uint8_t b[PIPE_CAP];
    size_t head, len;
} pipe;

typedef struct faults {
    uint32_t drop, flip, insert, burst; /* per million bytes */
    long n_drop, n_flip, n_insert, n_burst, burst_left;
} faults;

static bool chance(uint32_t ppm) { return ppm && rnd() % 1000000u < ppm; }

/* --- an endpoint with its application ------------------------------------- */

#define QMAX 8
typedef struct node {
    evolu_link l;
    uint8_t slots[8 * EVOLU_LINK_SLOT_SIZE];
    uint8_t rxbuf[EVOLU_LINK_FRAME_MAX];
    /* the application's receive queue: exactly as many frames as it granted */
    uint8_t q[QMAX][EVOLU_LINK_MTU];
    uint16_t qlen[QMAX];
    uint8_t qchan[QMAX];
    int qhead, qn, qcap, qpeak, overflow;
    int connects;
    pipe out; /* bytes this node has put on the line, not yet arrived */
} node;

static void node_init(node *n, uint16_t nslots, int qcap, uint32_t session) {
    memset(n, 0, sizeof *n);
    evolu_link_config cfg = {10, 320, (uint16_t)qcap, 0};
    n->qcap = qcap;
    EXPECT(evolu_link_init(&n->l, &cfg, session, n->slots, nslots, n->rxbuf,
                           sizeof n->rxbuf) == EVOLU_OK);
}

/* Bytes arriving at n: link input, delivered payloads into the queue. */
static void node_input(node *n, const uint8_t *in, size_t len, uint32_t now) {
    size_t pos = 0;
    while (pos < len) {
        size_t used;
        evolu_link_event ev;
        evolu_err e = evolu_link_input(&n->l, in + pos, len - pos, now, &used, &ev);
        pos += used;
        if (e != EVOLU_OK) continue;
        if (ev.kind == EVOLU_LINK_EV_CONNECTED) n->connects++;
        if (ev.kind != EVOLU_LINK_EV_DATA) continue;
        if (n->qn == n->qcap) { /* the link delivered more than we granted */
            n->overflow++;
            continue;
        }
        int k = (n->qhead + n->qn) % QMAX;
        memcpy(n->q[k], ev.payload, ev.len);
        n->qlen[k] = ev.len;
        n->qchan[k] = ev.chan;
        if (++n->qn > n->qpeak) n->qpeak = n->qn;
    }
}

/* Frames out of n onto its half of the line while there is room. */
static void node_output(node *n, uint32_t now) {
    static uint8_t frame[EVOLU_LINK_WIRE_MAX];
    while (PIPE_CAP - n->out.len >= EVOLU_LINK_WIRE_MAX) {
        size_t len;
        if (evolu_link_poll(&n->l, now, frame, sizeof frame, &len) != EVOLU_OK) {
            EXPECT(!"poll failed");
            break;
        }
        if (len == 0) break;
        for (size_t i = 0; i < len; i++)
            n->out.b[(n->out.head + n->out.len + i) % PIPE_CAP] = frame[i];
        n->out.len += len;
    }
}

/* Moves up to bw bytes of from's line to `to`, damaging them on the way. */
static long g_wire_bytes;
static void line(node *from, node *to, size_t bw, faults *f, uint32_t now) {
    uint8_t chunk[2048];
    size_t n = 0;
    while (bw-- && from->out.len && n + 2 < sizeof chunk) {
        uint8_t b = from->out.b[from->out.head];
        from->out.head = (from->out.head + 1) % PIPE_CAP;
        from->out.len--;
        g_wire_bytes++;
        if (f->burst_left) {
            f->burst_left--;
            continue;
        }
        if (chance(f->burst)) {
            f->n_burst++;
            f->burst_left = (long)(rnd() % 600);
            continue;
        }
        if (chance(f->drop)) {
            f->n_drop++;
            continue;
        }
        if (chance(f->insert)) {
            f->n_insert++;
            chunk[n++] = (uint8_t)rnd();
        }
        if (chance(f->flip)) {
            f->n_flip++;
            b ^= (uint8_t)(1u << (rnd() % 8));
        }
        chunk[n++] = b;
    }
    node_input(to, chunk, n, now);
}

/* Takes the oldest queued payload; the caller grants one frame when done. */
static bool node_peek(node *n, const uint8_t **p, uint16_t *len, uint8_t *chan) {
    if (!n->qn) return false;
    *p = n->q[n->qhead];
    *len = n->qlen[n->qhead];
    *chan = n->qchan[n->qhead];
    return true;
}
static void node_pop(node *n) {
    n->qhead = (n->qhead + 1) % QMAX;
    n->qn--;
    evolu_link_grant(&n->l, 1);
}

/* --- a big message: sender and checker, neither holds it --------------------- */

typedef struct msg_send {
    evolu_link_msg_tx tx;
    uint32_t id, total, pos;
    int stage; /* 0 begin, 1 chunks, 2 end, 3 done */
} msg_send;

static void msg_pump(node *n, msg_send *m) {
    uint8_t p[EVOLU_LINK_MTU], data[EVOLU_LINK_MTU];
    while (m->stage < 3 && evolu_link_send_room(&n->l) > 1) {
        size_t len = 0;
        if (m->stage == 0) {
            len = evolu_link_msg_begin(&m->tx, m->total, p, sizeof p);
            m->stage = 1;
        } else if (m->stage == 1) {
            size_t c = evolu_link_mtu(&n->l) - 1;
            if (rnd() % 4 == 0) c = 1 + rnd() % c;
            if (c > m->total - m->pos) c = m->total - m->pos;
            for (size_t i = 0; i < c; i++) data[i] = msg_byte(m->id, m->pos + (uint32_t)i);
            len = evolu_link_msg_chunk(&m->tx, data, c, p, sizeof p);
            m->pos += (uint32_t)c;
            if (m->pos == m->total) m->stage = 2;
        } else {
            len = evolu_link_msg_end(&m->tx, p, sizeof p);
            m->stage = 3;
        }
        if (len == 0 || evolu_link_send(&n->l, EVOLU_LINK_CH_PROTOCOL, p, len) != EVOLU_OK)
            EXPECT(!"message piece not sent");
    }
}

typedef struct msg_check {
    evolu_link_msg_rx rx;
    uint32_t id, next;
    bool complete, bad;
} msg_check;

static void msg_take(msg_check *c, const uint8_t *p, size_t n) {
    evolu_link_msg_part part;
    evolu_err e = evolu_link_msg_feed(&c->rx, p, n, &part);
    if (e != EVOLU_OK) {
        c->bad = true;
        return;
    }
    if (part.kind == EVOLU_LINK_MSG_DATA) {
        if (part.offset != c->next) c->bad = true;
        for (size_t i = 0; i < part.n; i++)
            if (part.data[i] != msg_byte(c->id, c->next + (uint32_t)i)) c->bad = true;
        c->next += (uint32_t)part.n;
    } else if (part.kind == EVOLU_LINK_MSG_COMPLETE) {
        c->complete = !c->bad && c->next == part.total;
    }
}

/* --- the host store (the test's stand-in for the proxy's files) ------------------ */

#define IDX_CAP (16 * 1024)
#define BLOBS 4
#define BLOB_CAP 4096
typedef struct hstore {
    uint8_t cur[IDX_CAP], pend[IDX_CAP];
    uint32_t cur_len, pend_len;
    bool open;
    uint8_t key[BLOBS][16], blob[BLOBS][BLOB_CAP];
    uint32_t blob_len[BLOBS];
    bool used[BLOBS];
    long requests;
} hstore;

static int blob_find(hstore *s, const uint8_t *key, uint8_t klen) {
    for (int i = 0; i < BLOBS; i++)
        if (s->used[i] && klen == 16 && memcmp(s->key[i], key, 16) == 0) return i;
    return -1;
}

/* Serves one request into a reply payload. */
static size_t hstore_serve(hstore *s, const uint8_t *p, size_t n, size_t mtu, uint8_t *out) {
    evolu_link_store_msg q, r;
    memset(&r, 0, sizeof r);
    evolu_err e = evolu_link_store_decode(p, n, &q);
    s->requests++;
    r.op = (uint8_t)(q.op | EVOLU_LINK_ST_REPLY);
    r.id = q.id;
    if (e != EVOLU_OK || (q.op & EVOLU_LINK_ST_REPLY)) {
        r.op = EVOLU_LINK_ST_REPLY | EVOLU_LINK_ST_INDEX_BEGIN;
        r.status = EVOLU_LINK_ST_BAD_REQUEST;
    } else if (q.op == EVOLU_LINK_ST_INDEX_READ) {
        size_t room = mtu - 8;
        if (q.offset > s->cur_len) r.status = EVOLU_LINK_ST_RANGE; /* none yet: size 0 */
        else {
            r.size = s->cur_len;
            r.data = s->cur + q.offset;
            r.data_len = s->cur_len - q.offset;
            if (r.data_len > q.size) r.data_len = q.size;
            if (r.data_len > room) r.data_len = room;
        }
    } else if (q.op == EVOLU_LINK_ST_INDEX_BEGIN) {
        s->open = true;
        s->pend_len = 0;
    } else if (q.op == EVOLU_LINK_ST_INDEX_APPEND) {
        if (!s->open) r.status = EVOLU_LINK_ST_SEQUENCE;
        else if (q.data_len > IDX_CAP - s->pend_len) r.status = EVOLU_LINK_ST_NO_SPACE;
        else {
            memcpy(s->pend + s->pend_len, q.data, q.data_len);
            s->pend_len += (uint32_t)q.data_len;
        }
    } else if (q.op == EVOLU_LINK_ST_INDEX_ABORT) {
        if (!s->open) r.status = EVOLU_LINK_ST_SEQUENCE;
        s->open = false;
    } else if (q.op == EVOLU_LINK_ST_INDEX_COMMIT) {
        if (!s->open) r.status = EVOLU_LINK_ST_SEQUENCE;
        else {
            memcpy(s->cur, s->pend, s->pend_len);
            s->cur_len = s->pend_len;
            s->open = false;
        }
    } else if (q.op == EVOLU_LINK_ST_BLOB_PUT) {
        int i = blob_find(s, q.key, q.key_len);
        if (i < 0 && q.offset == 0) {
            for (i = 0; i < BLOBS && s->used[i]; i++) {}
            if (i == BLOBS) i = (int)(rnd() % BLOBS); /* evict */
            s->used[i] = true;
            memcpy(s->key[i], q.key, 16);
            s->blob_len[i] = 0;
        }
        if (i < 0 || q.offset != s->blob_len[i]) r.status = EVOLU_LINK_ST_RANGE;
        else if (q.size > BLOB_CAP || q.data_len > q.size - q.offset)
            r.status = EVOLU_LINK_ST_NO_SPACE;
        else {
            memcpy(s->blob[i] + q.offset, q.data, q.data_len);
            s->blob_len[i] += (uint32_t)q.data_len;
        }
    } else if (q.op == EVOLU_LINK_ST_BLOB_GET) {
        int i = blob_find(s, q.key, q.key_len);
        if (i < 0) r.status = EVOLU_LINK_ST_NOT_FOUND;
        else if (q.offset > s->blob_len[i]) r.status = EVOLU_LINK_ST_RANGE;
        else {
            r.size = s->blob_len[i];
            r.data = s->blob[i] + q.offset;
            r.data_len = s->blob_len[i] - q.offset;
            if (r.data_len > q.size) r.data_len = q.size;
            if (r.data_len > mtu - 8) r.data_len = mtu - 8;
        }
    }
    size_t len;
    if (evolu_link_store_encode(&r, out, EVOLU_LINK_MTU, &len) != EVOLU_OK) EXPECT(!"reply");
    return len;
}

/* --- the device's store script ---------------------------------------------------- */

enum { PRE_READ, PRE_APPEND, PRE_COMMIT, JUNK_BEGIN, JUNK_APPEND, ABORT, LATE_COMMIT, READ_OLD,
       BEGIN, APPEND, COMMIT, READ, READ_END, READ_PAST, PUT, GET, GET_MISSING, DONE };

typedef struct script {
    int phase;
    uint32_t round, rounds;
    uint32_t len, off;   /* index length of this round, progress */
    uint32_t old_len;    /* the committed index's length before this round */
    uint32_t blen, boff; /* blob length, progress */
    uint16_t id;
    bool waiting;
    uint32_t want;       /* READ/GET: bytes asked */
    long requests, good;
} script;

static uint8_t *key_of(uint32_t r, uint8_t key[16]) {
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)(mix(r + 0x1000u * (uint32_t)i) | 1);
    return key;
}

static void script_send(node *n, script *s) {
    if (s->waiting || s->phase == DONE || evolu_link_send_room(&n->l) == 0) return;
    uint8_t data[EVOLU_LINK_MTU], key[16], out[EVOLU_LINK_MTU];
    evolu_link_store_msg m;
    memset(&m, 0, sizeof m);
    m.id = ++s->id;
    size_t mtu = evolu_link_mtu(&n->l);
    switch (s->phase) {
    case PRE_READ:
    case READ_OLD: m.op = EVOLU_LINK_ST_INDEX_READ; m.size = 0; break;
    case JUNK_BEGIN: m.op = EVOLU_LINK_ST_INDEX_BEGIN; break;
    case JUNK_APPEND: m.op = EVOLU_LINK_ST_INDEX_APPEND; m.data = data; m.data_len = 9; break;
    case ABORT: m.op = EVOLU_LINK_ST_INDEX_ABORT; break;
    case LATE_COMMIT: m.op = EVOLU_LINK_ST_INDEX_COMMIT; break;
    case PRE_APPEND: m.op = EVOLU_LINK_ST_INDEX_APPEND; m.data = data; m.data_len = 3; break;
    case PRE_COMMIT: m.op = EVOLU_LINK_ST_INDEX_COMMIT; break;
    case BEGIN: m.op = EVOLU_LINK_ST_INDEX_BEGIN; break;
    case APPEND:
        m.op = EVOLU_LINK_ST_INDEX_APPEND;
        m.data_len = 1 + rnd() % (mtu - 3);
        if (m.data_len > s->len - s->off) m.data_len = s->len - s->off;
        for (size_t i = 0; i < m.data_len; i++) data[i] = idx_byte(s->round, s->off + (uint32_t)i);
        m.data = data;
        s->want = (uint32_t)m.data_len;
        break;
    case COMMIT: m.op = EVOLU_LINK_ST_INDEX_COMMIT; break;
    case READ:
    case READ_END:
    case READ_PAST:
        m.op = EVOLU_LINK_ST_INDEX_READ;
        m.offset = s->phase == READ ? s->off : s->phase == READ_END ? s->len : s->len + 1;
        m.size = s->want = 1 + rnd() % 1000;
        break;
    case PUT:
        m.op = EVOLU_LINK_ST_BLOB_PUT;
        m.key = key_of(s->round, key);
        m.key_len = 16;
        m.offset = s->boff;
        m.size = s->blen;
        m.data_len = 1 + rnd() % (mtu - 3 - 17 - 8);
        if (m.data_len > s->blen - s->boff) m.data_len = s->blen - s->boff;
        for (size_t i = 0; i < m.data_len; i++) data[i] = blob_byte(s->round, s->boff + (uint32_t)i);
        m.data = data;
        s->want = (uint32_t)m.data_len;
        break;
    case GET:
    case GET_MISSING:
        m.op = EVOLU_LINK_ST_BLOB_GET;
        m.key = key_of(s->phase == GET ? s->round : s->round + 1000000u, key);
        m.key_len = 16;
        m.offset = s->boff;
        m.size = s->want = 1 + rnd() % 700;
        break;
    }
    size_t len;
    if (evolu_link_store_encode(&m, out, sizeof out, &len) != EVOLU_OK ||
        evolu_link_send(&n->l, EVOLU_LINK_CH_STORE, out, len) != EVOLU_OK)
        EXPECT(!"request not sent");
    s->waiting = true;
    s->requests++;
}

static void new_round(script *s) {
    s->old_len = s->len;
    s->phase = JUNK_BEGIN;
    s->len = 1500 + (mix(s->round) % 6000);
    s->off = 0;
    s->blen = 300 + (mix(~s->round) % 3700);
    s->boff = 0;
}

/* Checks one reply and moves the script on. */
static void script_reply(script *s, const uint8_t *p, size_t n) {
    evolu_link_store_msg r;
    bool ok = evolu_link_store_decode(p, n, &r) == EVOLU_OK && s->waiting && r.id == s->id &&
              (r.op & EVOLU_LINK_ST_REPLY);
    s->waiting = false;
    if (!ok) {
        EXPECT(!"reply does not match the request");
        return;
    }
    bool good = false;
    switch (s->phase) {
    case PRE_READ:
        good = r.status == EVOLU_LINK_ST_OK && r.size == 0 && r.data_len == 0;
        s->phase++;
        break;
    case PRE_APPEND: good = r.status == EVOLU_LINK_ST_SEQUENCE; s->phase++; break;
    case PRE_COMMIT: good = r.status == EVOLU_LINK_ST_SEQUENCE; new_round(s); break;
    case JUNK_BEGIN:
    case JUNK_APPEND:
    case ABORT: good = r.status == EVOLU_LINK_ST_OK; s->phase++; break;
    case LATE_COMMIT: good = r.status == EVOLU_LINK_ST_SEQUENCE; s->phase++; break;
    case READ_OLD: /* the aborted index left the committed one alone */
        good = r.status == EVOLU_LINK_ST_OK && r.size == s->old_len && r.data_len == 0;
        s->phase = BEGIN;
        break;
    case BEGIN: good = r.status == EVOLU_LINK_ST_OK; s->phase = APPEND; break;
    case APPEND:
        good = r.status == EVOLU_LINK_ST_OK;
        s->off += s->want;
        if (s->off == s->len) s->phase = COMMIT;
        break;
    case COMMIT: good = r.status == EVOLU_LINK_ST_OK; s->phase = READ; s->off = 0; break;
    case READ:
        good = r.status == EVOLU_LINK_ST_OK && r.size == s->len && r.data_len > 0 &&
               r.data_len <= s->want && s->off + r.data_len <= s->len;
        for (size_t i = 0; good && i < r.data_len; i++)
            good = r.data[i] == idx_byte(s->round, s->off + (uint32_t)i);
        s->off += (uint32_t)r.data_len;
        if (s->off >= s->len) s->phase = READ_END;
        break;
    case READ_END:
        good = r.status == EVOLU_LINK_ST_OK && r.size == s->len && r.data_len == 0;
        s->phase = READ_PAST;
        break;
    case READ_PAST: good = r.status == EVOLU_LINK_ST_RANGE; s->phase = PUT; break;
    case PUT:
        good = r.status == EVOLU_LINK_ST_OK;
        s->boff += s->want;
        if (s->boff == s->blen) {
            s->phase = GET;
            s->boff = 0;
        }
        break;
    case GET:
        good = r.status == EVOLU_LINK_ST_OK && r.size == s->blen && r.data_len > 0 &&
               r.data_len <= s->want;
        for (size_t i = 0; good && i < r.data_len; i++)
            good = r.data[i] == blob_byte(s->round, s->boff + (uint32_t)i);
        s->boff += (uint32_t)r.data_len;
        if (s->boff >= s->blen) s->phase = GET_MISSING;
        break;
    case GET_MISSING:
        good = r.status == EVOLU_LINK_ST_NOT_FOUND;
        if (++s->round == s->rounds) s->phase = DONE;
        else new_round(s);
        s->boff = 0;
        break;
    }
    s->good += good;
    EXPECT(good);
}

/* --- the big simulation ------------------------------------------------------------ */

static node g_dev, g_host;
static hstore g_store;

static void lossy_run(uint32_t seed, const char *name, faults f, uint32_t total) {
    g_rng = seed;
    g_wire_bytes = 0;
    node *dev = &g_dev, *host = &g_host;
    node_init(dev, 4, 2, 0xD0000000u | seed);
    node_init(host, 8, 8, 0xB0000000u | seed);
    memset(&g_store, 0, sizeof g_store);
    msg_send dsend = {{0, 0, 0, false}, 1, total, 0, 0}, hsend = {{0, 0, 0, false}, 2, total, 0, 0};
    msg_check hcheck, dcheck;
    memset(&hcheck, 0, sizeof hcheck);
    memset(&dcheck, 0, sizeof dcheck);
    hcheck.id = 1;
    dcheck.id = 2;
    evolu_link_msg_rx_init(&hcheck.rx, 1000000);
    evolu_link_msg_rx_init(&dcheck.rx, 1000000);
    script sc;
    memset(&sc, 0, sizeof sc);
    sc.rounds = 25;
    faults *up = &f, down = f;
    uint32_t now = 1000;
    uint32_t limit = 4000000;
    bool done = false;
    uint8_t reply[EVOLU_LINK_MTU];
    for (; now < limit && !done; now++) {
        /* 1 byte per 1 us for the device's USB link each way: 1000 B/ms */
        line(dev, host, 1000, up, now);
        line(host, dev, 1000, &down, now);
        /* the device's application: one received frame per ms */
        const uint8_t *p;
        uint16_t len;
        uint8_t chan;
        if (node_peek(dev, &p, &len, &chan)) {
            if (chan == EVOLU_LINK_CH_PROTOCOL) msg_take(&dcheck, p, len);
            else script_reply(&sc, p, len);
            node_pop(dev);
        }
        /* the host: everything queued, a store reply only when it can be sent */
        while (node_peek(host, &p, &len, &chan)) {
            if (chan == EVOLU_LINK_CH_PROTOCOL) {
                msg_take(&hcheck, p, len);
            } else {
                if (evolu_link_send_room(&host->l) == 0) break; /* reply later */
                size_t rl = hstore_serve(&g_store, p, len, evolu_link_mtu(&host->l), reply);
                if (evolu_link_send(&host->l, EVOLU_LINK_CH_STORE, reply, rl) != EVOLU_OK)
                    EXPECT(!"reply not sent");
            }
            node_pop(host);
        }
        if (dev->l.connected && host->l.connected) {
            script_send(dev, &sc);
            msg_pump(dev, &dsend);
            msg_pump(host, &hsend);
        }
        node_output(dev, now);
        node_output(host, now);
        done = sc.phase == DONE && hcheck.complete && dcheck.complete &&
               evolu_link_idle(&dev->l) && evolu_link_idle(&host->l);
    }
    EXPECT(done);
    EXPECT(hcheck.complete && !hcheck.bad && hcheck.next == total);
    EXPECT(dcheck.complete && !dcheck.bad && dcheck.next == total);
    EXPECT(sc.phase == DONE && sc.good == sc.requests);
    EXPECT(dev->overflow == 0 && host->overflow == 0);
    EXPECT(dev->qpeak <= 2 && host->qpeak <= 8);
    EXPECT(dev->l.stats.overruns == 0 && host->l.stats.overruns == 0);
    EXPECT(dev->connects == 1 && host->connects == 1);
    const evolu_link_stats *a = &dev->l.stats, *b = &host->l.stats;
    printf("%s: %lu ms simulated, %ld wire bytes; device->host %lu and host->device %lu "
           "message bytes exact, %ld store requests answered right\n",
           name, (unsigned long)(now - 1000), g_wire_bytes, (unsigned long)hcheck.next,
           (unsigned long)dcheck.next, sc.good);
    printf("  faults: %ld dropped, %ld flipped, %ld inserted bytes, %ld lost bursts; "
           "frames rejected %lu (crc) + %lu (framing); retransmit timeouts %lu; "
           "duplicates %lu, out of order %lu, probes %lu\n",
           f.n_drop + down.n_drop, f.n_flip + down.n_flip, f.n_insert + down.n_insert,
           f.n_burst + down.n_burst, (unsigned long)(a->bad_crc + b->bad_crc),
           (unsigned long)(a->bad_frame + b->bad_frame),
           (unsigned long)(a->retransmits + b->retransmits),
           (unsigned long)(a->duplicates + b->duplicates),
           (unsigned long)(a->out_of_order + b->out_of_order),
           (unsigned long)(a->probes + b->probes));
    printf("  frames: device sent %lu, received %lu; host sent %lu, received %lu; "
           "receive queues peaked at %d of 2 (device) and %d of 8 (host)\n",
           (unsigned long)a->frames_out, (unsigned long)a->frames_in,
           (unsigned long)b->frames_out, (unsigned long)b->frames_in, dev->qpeak, host->qpeak);
}

/* --- smaller cases ------------------------------------------------------------------- */

/* Lossless exchange until both are connected; returns ms used. */
static int settle(node *a, node *b, uint32_t *now, int max) {
    int t = 0;
    faults none = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (; t < max; t++, (*now)++) {
        node_output(a, *now);
        node_output(b, *now);
        line(a, b, 100000, &none, *now);
        line(b, a, 100000, &none, *now);
        if (a->l.connected && b->l.connected && evolu_link_idle(&a->l) &&
            evolu_link_idle(&b->l) && !a->out.len && !b->out.len && !a->l.ack_due &&
            !b->l.ack_due && !a->l.hello_due && !b->l.hello_due)
            break;
    }
    return t;
}

static void handshake_and_restart(void) {
    uint32_t now = 5;
    g_rng = 99;
    node *a = &g_dev, *b = &g_host;
    node_init(a, 2, 4, 0x1111u);
    node_init(b, 2, 4, 0x2222u);
    uint8_t x = 7, small[EVOLU_LINK_WIRE_MAX - 1];
    size_t m = 1;
    EXPECT(evolu_link_poll(&a->l, now, small, sizeof small, &m) == EVOLU_E_BUFFER && m == 0);
    EXPECT(a->l.hello_due); /* nothing was lost by the refused poll */
    EXPECT(evolu_link_send(&a->l, 0, &x, 1) == EVOLU_E_STATE);
    EXPECT(evolu_link_send_room(&a->l) == 0 && evolu_link_mtu(&a->l) == 0);
    settle(a, b, &now, 100);
    EXPECT(a->l.connected && b->l.connected && a->connects == 1 && b->connects == 1);
    EXPECT(evolu_link_mtu(&a->l) == EVOLU_LINK_MTU);
    EXPECT(evolu_link_send(&a->l, 0, &x, EVOLU_LINK_MTU + 1) == EVOLU_E_LIMIT);
    EXPECT(evolu_link_send(&a->l, 0, &x, 1) == EVOLU_OK);
    EXPECT(evolu_link_send(&a->l, 0, &x, 1) == EVOLU_OK);
    EXPECT(evolu_link_send(&a->l, 0, &x, 1) == EVOLU_E_CAPACITY);
    settle(a, b, &now, 100);
    EXPECT(b->qn == 2 && b->l.stats.delivered == 2);
    node_pop(b);
    node_pop(b);
    /* a restarts with a new session: b notices, both start over at seq 0 */
    evolu_link_config cfg = a->l.cfg;
    EXPECT(evolu_link_init(&a->l, &cfg, 0x3333u, a->slots, 2, a->rxbuf, sizeof a->rxbuf) ==
           EVOLU_OK);
    a->connects = 0;
    settle(a, b, &now, 100);
    EXPECT(a->l.connected && b->l.connected && a->connects == 1 && b->connects == 2);
    EXPECT(b->l.peer_session == 0x3333u && b->l.rx_next == 0);
    for (uint8_t i = 0; i < 4; i++) {
        EXPECT(evolu_link_send(&a->l, 5, &i, 1) == EVOLU_OK);
        settle(a, b, &now, 100);
        const uint8_t *p;
        uint16_t len;
        uint8_t chan;
        EXPECT(node_peek(b, &p, &len, &chan) && len == 1 && p[0] == i && chan == 5);
        node_pop(b);
    }
    EXPECT(b->l.stats.duplicates == 0 && b->l.stats.out_of_order == 0);
}

/* A sender that ignores the credit: the receiver drops what it did not grant. */
static void rogue_sender(void) {
    uint32_t now = 5;
    node *a = &g_dev, *b = &g_host;
    node_init(a, 8, 8, 0x4444u);
    node_init(b, 2, 2, 0x5555u);
    settle(a, b, &now, 100);
    a->l.peer_limit = 100; /* pretend b granted much more */
    uint8_t x = 1;
    for (int i = 0; i < 6; i++) EXPECT(evolu_link_send(&a->l, 0, &x, 1) == EVOLU_OK);
    node_output(a, now);
    line(a, b, 100000, &(faults){0, 0, 0, 0, 0, 0, 0, 0, 0}, now);
    EXPECT(b->qn == 2 && b->overflow == 0 && b->l.stats.delivered == 2);
    EXPECT(b->l.stats.overruns == 1 && b->l.stats.out_of_order == 3);
    /* granting lets the rest through via retransmission */
    node_pop(b);
    node_pop(b);
    for (int t = 0; t < 200 && b->l.stats.delivered < 6; t++, now++) {
        node_output(a, now);
        node_output(b, now);
        line(a, b, 100000, &(faults){0, 0, 0, 0, 0, 0, 0, 0, 0}, now);
        line(b, a, 100000, &(faults){0, 0, 0, 0, 0, 0, 0, 0, 0}, now);
        while (b->qn) node_pop(b);
    }
    EXPECT(b->l.stats.delivered == 6 && b->overflow == 0);
}

/* Zero credit, and the window update is lost: the probe recovers it. */
static void credit_probe(void) {
    uint32_t now = 5;
    node *a = &g_dev, *b = &g_host;
    node_init(a, 4, 4, 0x6666u);
    node_init(b, 4, 1, 0x7777u);
    settle(a, b, &now, 100);
    uint8_t x = 9;
    EXPECT(evolu_link_send(&a->l, 0, &x, 1) == EVOLU_OK);
    EXPECT(evolu_link_send(&a->l, 0, &x, 1) == EVOLU_OK);
    settle(a, b, &now, 50);
    EXPECT(b->qn == 1); /* the second waits for credit */
    node_pop(b);        /* grant 1: the ACK carrying it is lost */
    node_output(b, now);
    EXPECT(b->out.len > 0);
    b->out.len = 0;
    uint32_t probes = a->l.stats.probes;
    for (int t = 0; t < 100 && b->qn == 0; t++, now++) {
        node_output(a, now);
        node_output(b, now);
        line(a, b, 100000, &(faults){0, 0, 0, 0, 0, 0, 0, 0, 0}, now);
        line(b, a, 100000, &(faults){0, 0, 0, 0, 0, 0, 0, 0, 0}, now);
    }
    EXPECT(b->qn == 1 && a->l.stats.probes > probes && b->l.stats.overruns == 0);
}

/* evolu_link_timeout says when poll will have work of its own. */
static void timeouts(void) {
    uint32_t now = 100;
    node *a = &g_dev, *b = &g_host;
    node_init(a, 4, 4, 0x8888u);
    node_init(b, 4, 4, 0x9999u);
    EXPECT(evolu_link_timeout(&a->l, now) == 0); /* HELLO due */
    node_output(a, now);
    EXPECT(evolu_link_timeout(&a->l, now) == 10 && evolu_link_timeout(&a->l, now + 4) == 6);
    EXPECT(evolu_link_timeout(&a->l, now + 10) == 0);
    settle(a, b, &now, 100);
    EXPECT(evolu_link_timeout(&a->l, now) == UINT32_MAX);
    uint8_t x = 1;
    EXPECT(evolu_link_send(&a->l, 0, &x, 1) == EVOLU_OK);
    EXPECT(evolu_link_timeout(&a->l, now) == 0); /* data to send */
    node_output(a, now);
    EXPECT(evolu_link_timeout(&a->l, now) == 10 && evolu_link_timeout(&a->l, now + 3) == 7);
    settle(a, b, &now, 100);
    EXPECT(evolu_link_timeout(&a->l, now) == UINT32_MAX && b->qn == 1);
}

static void bad_config(void) {
    evolu_link l;
    uint8_t slots[EVOLU_LINK_SLOT_SIZE], rx[EVOLU_LINK_FRAME_MAX];
    evolu_link_config c = {10, 100, 4, 0};
    EXPECT(evolu_link_init(&l, &c, 0, slots, 1, rx, sizeof rx) == EVOLU_E_ARG);
    EXPECT(evolu_link_init(&l, &c, 1, slots, 0, rx, sizeof rx) == EVOLU_E_ARG);
    EXPECT(evolu_link_init(&l, &c, 1, slots, 65, rx, sizeof rx) == EVOLU_E_ARG);
    EXPECT(evolu_link_init(&l, &c, 1, slots, 1, rx, sizeof rx - 1) == EVOLU_E_ARG);
    c.mtu = 64;
    EXPECT(evolu_link_init(&l, &c, 1, slots, 1, rx, 10 + 64 + 4) == EVOLU_OK);
    c.mtu = EVOLU_LINK_MTU + 1;
    EXPECT(evolu_link_init(&l, &c, 1, slots, 1, rx, sizeof rx) == EVOLU_E_ARG);
    c.mtu = 0;
    c.rto_ms = 0;
    EXPECT(evolu_link_init(&l, &c, 1, slots, 1, rx, sizeof rx) == EVOLU_E_ARG);
    c.rto_ms = 200;
    EXPECT(evolu_link_init(&l, &c, 1, slots, 1, rx, sizeof rx) == EVOLU_E_ARG);
    c.rto_max_ms = 200;
    c.rx_credit = 0x8000;
    EXPECT(evolu_link_init(&l, &c, 1, slots, 1, rx, sizeof rx) == EVOLU_E_ARG);
}

int main(void) {
    bad_config();
    handshake_and_restart();
    rogue_sender();
    credit_probe();
    timeouts();
    faults clean = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    lossy_run(11, "clean line", clean, 1000000);
    faults lossy = {50, 50, 50, 20, 0, 0, 0, 0, 0};
    lossy_run(12345, "lossy line", lossy, 1000000);
    faults awful = {300, 300, 300, 100, 0, 0, 0, 0, 0};
    lossy_run(777, "awful line", awful, 200000);
    printf("link RAM: evolu_link %lu B + device slots 4 x %lu B + frame buffer %lu B\n",
           (unsigned long)sizeof(evolu_link), (unsigned long)EVOLU_LINK_SLOT_SIZE,
           (unsigned long)EVOLU_LINK_FRAME_MAX);
    printf("test_link_arq: %d checked, %d failed\n", g_checked, g_failed);
    return g_failed ? 1 : 0;
}
