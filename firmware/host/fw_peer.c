/*
 * fw_peer.c - a minimal host for testing the firmware without the proxy and
 * a relay: it listens like `evolu proxy --device tcp-listen:...` does, serves
 * the device's host store from a directory (channel 1, the file host of
 * evolu/stream_file_host.h) and answers its protocol messages itself with the
 * relay policy (evolu_relay_handle) over an in-memory index (channel 0).
 *
 *   evolu-fw-peer --listen PORT --store DIR [--timeout S]
 *                 [--mnemonic "<words>" --inject-after N [--inject-bulk M]
 *                  [--inject-note TEXT] [--inject-id ID]]
 *
 * Prints "device on tcp:127.0.0.1:PORT" first (PORT 0 picks one). With
 * --inject-after N, once the relay holds N messages it adds one change of the
 * owner (a `reading` row, value 999, note "from peer" or --inject-note's
 * TEXT; a new row, or the row ID with --inject-id), as another client of
 * the same owner would, so the device's next sync must bring it in. Ends when
 * the device disconnects or after the timeout, printing
 * "peer: relay messages=N injected=ID bytes=B" (B: the changes' bytes the
 * relay holds; the injection prints its change's size too).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "evolu/dbchange.h"
#include "evolu/id.h"
#include "evolu/link.h"
#include "evolu/mem_index.h"
#include "evolu/owner.h"
#include "evolu/port_sodium.h"
#include "evolu/rbsr.h"
#include "evolu/stream_file_host.h"

#define MSG_MAX 1000000u

typedef struct outq {
    struct outq *next;
    uint8_t chan;
    size_t len;
    uint8_t p[EVOLU_LINK_MTU];
} outq;

typedef struct peer {
    const evolu_port *port;
    int fd;
    evolu_link link;
    uint8_t slots[8 * EVOLU_LINK_SLOT_SIZE], rxbuf[EVOLU_LINK_FRAME_MAX];
    outq *head, *tail;
    evolu_stream_host host;
    evolu_mem_index *idx;
    evolu_store store;
    uint8_t write_key[16];
    bool has_key;
    evolu_link_msg_rx mrx;
    uint8_t *msg;
    size_t msg_len;
    uint8_t *blob;
    size_t blob_len;
    evolu_msg_entry *msgs;
    evolu_range_entry *ranges;
    uint8_t *reply;
    uint8_t *arena;
    /* --drop-at-commit N: the Nth index commit is done, then the connection
     * is dropped without a reply (the host lost power after its commit) */
    long drop_at, commits;
    bool drop_now;
    /* injection */
    const char *mnemonic;
    long inject_after;
    long inject_bulk; /* --inject-bulk N: N more changes of table "bulk" */
    const char *inject_note; /* --inject-note TEXT: the injected row's note */
    const char *inject_id;   /* --inject-id ID: the row it changes (else a new one) */
    bool injected;
    char injected_id[EVOLU_ID_CHARS + 1];
} peer;

static uint32_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u);
}

static void enqueue(peer *pr, uint8_t chan, const uint8_t *p, size_t n) {
    outq *q = calloc(1, sizeof *q);
    if (!q || n > sizeof q->p) abort();
    q->chan = chan;
    q->len = n;
    memcpy(q->p, p, n);
    if (pr->tail) pr->tail->next = q;
    else pr->head = q;
    pr->tail = q;
}

/* --- channel 1 ------------------------------------------------------------------------ */

static uint8_t st_status(evolu_err e) {
    if (!e) return EVOLU_LINK_ST_OK;
    if (e == EVOLU_E_ARG) return EVOLU_LINK_ST_NOT_FOUND;
    return EVOLU_LINK_ST_IO;
}

static void on_store(peer *pr, const uint8_t *p, size_t n) {
    evolu_link_store_msg m, r;
    uint8_t out[EVOLU_LINK_MTU], data[EVOLU_LINK_MTU];
    memset(&r, 0, sizeof r);
    if (evolu_link_store_decode(p, n, &m) != EVOLU_OK) {
        r.op = 0x82;
        r.status = EVOLU_LINK_ST_BAD_REQUEST;
    } else {
        r.op = m.op | EVOLU_LINK_ST_REPLY;
        r.id = m.id;
        const evolu_stream_host *h = &pr->host;
        size_t mtu = evolu_link_mtu(&pr->link) - 8;
        evolu_err e = EVOLU_OK;
        switch (m.op) {
        case EVOLU_LINK_ST_INDEX_READ: {
            uint64_t size = 0;
            e = h->index_size(h->ctx, &size);
            r.size = (uint32_t)size;
            if (e) break;
            if (m.offset > size) {
                r.status = EVOLU_LINK_ST_RANGE;
                r.size = 0;
                break;
            }
            size_t k = m.size;
            if (k > size - m.offset) k = (size_t)(size - m.offset);
            if (k > mtu) k = mtu;
            if (k) e = h->index_read(h->ctx, m.offset, data, k);
            r.data = data;
            r.data_len = k;
            break;
        }
        case EVOLU_LINK_ST_INDEX_BEGIN: e = h->write_begin(h->ctx); break;
        case EVOLU_LINK_ST_INDEX_APPEND: e = h->write_append(h->ctx, m.data, m.data_len); break;
        case EVOLU_LINK_ST_INDEX_COMMIT:
            e = h->write_commit(h->ctx);
            if (++pr->commits == pr->drop_at) {
                pr->drop_now = true;
                printf("peer: dropped the device after commit %ld\n", pr->commits);
                fflush(stdout);
                return; /* no reply */
            }
            break;
        case EVOLU_LINK_ST_INDEX_ABORT: h->write_abort(h->ctx); break;
        case EVOLU_LINK_ST_BLOB_PUT:
            if (m.key_len != 16 || m.offset != (m.offset == 0 ? 0 : pr->blob_len) ||
                (uint64_t)m.offset + m.data_len > m.size) {
                r.status = EVOLU_LINK_ST_RANGE;
                break;
            }
            if (m.offset == 0) {
                free(pr->blob);
                pr->blob = malloc(m.size ? m.size : 1);
                pr->blob_len = 0;
            }
            memcpy(pr->blob + pr->blob_len, m.data, m.data_len);
            pr->blob_len += m.data_len;
            if (pr->blob_len == m.size) e = h->blob_put(h->ctx, m.key, pr->blob, pr->blob_len);
            break;
        case EVOLU_LINK_ST_BLOB_GET: {
            size_t size = 0;
            if (m.key_len != 16) {
                r.status = EVOLU_LINK_ST_NOT_FOUND;
                break;
            }
            e = h->blob_size(h->ctx, m.key, &size);
            if (e) break;
            r.size = (uint32_t)size;
            if (m.offset > size) {
                r.status = EVOLU_LINK_ST_RANGE;
                r.size = 0;
                break;
            }
            size_t k = m.size;
            if (k > size - m.offset) k = size - m.offset;
            if (k > mtu) k = mtu;
            if (k) e = h->blob_read(h->ctx, m.key, m.offset, data, k);
            r.data = data;
            r.data_len = k;
            break;
        }
        default: r.status = EVOLU_LINK_ST_BAD_REQUEST; break;
        }
        if (e) r.status = st_status(e);
        if (r.status) {
            r.size = 0;
            r.data = NULL;
            r.data_len = 0;
        }
    }
    size_t k = 0;
    if (evolu_link_store_encode(&r, out, sizeof out, &k) == EVOLU_OK)
        enqueue(pr, EVOLU_LINK_CH_STORE, out, k);
}

/* --- channel 0: the relay ---------------------------------------------------------------- */

static evolu_err r_open(void *ctx, const uint8_t id[16], evolu_store *out) {
    (void)id;
    *out = ((peer *)ctx)->store;
    return EVOLU_OK;
}
static evolu_err r_get_key(void *ctx, const uint8_t id[16], uint8_t key[16], bool *found) {
    peer *pr = ctx;
    (void)id;
    *found = pr->has_key;
    if (pr->has_key) memcpy(key, pr->write_key, 16);
    return EVOLU_OK;
}
static evolu_err r_set_key(void *ctx, const uint8_t id[16], const uint8_t key[16]) {
    peer *pr = ctx;
    (void)id;
    memcpy(pr->write_key, key, 16);
    pr->has_key = true;
    return EVOLU_OK;
}

static void send_message(peer *pr, const uint8_t *p, size_t n) {
    evolu_link_msg_tx t;
    uint8_t out[EVOLU_LINK_MTU];
    size_t k = evolu_link_msg_begin(&t, (uint32_t)n, out, sizeof out);
    enqueue(pr, EVOLU_LINK_CH_PROTOCOL, out, k);
    /* CHUNKs within the smaller MTU of the two ends, as the proxy sends them
     * (a device with a smaller MTU refuses a longer frame) */
    size_t max = evolu_link_mtu(&pr->link) > 1 ? evolu_link_mtu(&pr->link) - 1 : 1;
    if (max > EVOLU_LINK_MSG_CHUNK_MAX) max = EVOLU_LINK_MSG_CHUNK_MAX;
    for (size_t off = 0; off < n; off += max) {
        size_t c = n - off < max ? n - off : max;
        k = evolu_link_msg_chunk(&t, p + off, c, out, sizeof out);
        enqueue(pr, EVOLU_LINK_CH_PROTOCOL, out, k);
    }
    k = evolu_link_msg_end(&t, out, sizeof out);
    enqueue(pr, EVOLU_LINK_CH_PROTOCOL, out, k);
}

static void inject(peer *pr) {
    uint8_t secret[32];
    size_t len = 0;
    evolu_owner owner;
    if (evolu_mnemonic_to_secret(pr->port, pr->mnemonic, strlen(pr->mnemonic), secret, &len) ||
        evolu_owner_from_secret(pr->port, secret, len, &owner)) {
        fprintf(stderr, "peer: bad mnemonic\n");
        exit(1);
    }
    evolu_timestamp ts;
    memset(&ts, 0, sizeof ts);
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    ts.millis = (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
    pr->port->random(pr->port->ctx, ts.node_id, sizeof ts.node_id);
    uint8_t id[16];
    if (!pr->inject_id) evolu_id_random(pr->port, id);
    else if (evolu_id_from_string(pr->inject_id, strlen(pr->inject_id), id)) {
        fprintf(stderr, "peer: bad --inject-id\n");
        exit(1);
    }
    const char *note = pr->inject_note ? pr->inject_note : "from peer";
    evolu_column cols[2] = {
        {(const uint8_t *)"value", 5, evolu_value_number(999)},
        {(const uint8_t *)"note", 4, evolu_value_text((const uint8_t *)note, strlen(note))},
    };
    evolu_dbchange c = {(const uint8_t *)"reading", 7, {0}, cols, 2, true, -1};
    memcpy(c.id, id, 16);
    uint8_t nonce[24], enc[4096];
    pr->port->random(pr->port->ctx, nonce, sizeof nonce);
    evolu_writer w = evolu_writer_make(enc, sizeof enc);
    if (evolu_dbchange_encrypt(&w, pr->port, owner.encryption_key, &c, &ts, nonce) ||
        evolu_mem_index_insert(pr->idx, &ts, enc, w.len, NULL)) {
        fprintf(stderr, "peer: inject failed\n");
        exit(1);
    }
    size_t injected_len = w.len; /* the EncryptedDbChange's size */
    /* A large answer: changes of a table the device does not show (it still
     * decrypts, checks, indexes and caches each), ~300 bytes each, so the
     * relay's Response to the device's next sync is up to 1,000,000 bytes. */
    static uint8_t filler[200];
    memset(filler, 'x', sizeof filler);
    for (long i = 0; i < pr->inject_bulk; i++) {
        evolu_timestamp bt = ts;
        bt.counter = (uint16_t)(i % 65536);
        bt.millis = ts.millis - 1000u - (uint64_t)(i / 65536);
        uint8_t bid[16];
        evolu_id_random(pr->port, bid);
        evolu_column bcols[1] = {
            {(const uint8_t *)"data", 4, evolu_value_text(filler, sizeof filler)},
        };
        evolu_dbchange bc = {(const uint8_t *)"bulk", 4, {0}, bcols, 1, true, -1};
        memcpy(bc.id, bid, 16);
        pr->port->random(pr->port->ctx, nonce, sizeof nonce);
        evolu_writer bw = evolu_writer_make(enc, sizeof enc);
        if (evolu_dbchange_encrypt(&bw, pr->port, owner.encryption_key, &bc, &bt, nonce) ||
            evolu_mem_index_insert(pr->idx, &bt, enc, bw.len, NULL)) {
            fprintf(stderr, "peer: bulk inject failed\n");
            exit(1);
        }
    }
    evolu_id_to_string(id, pr->injected_id);
    pr->injected_id[EVOLU_ID_CHARS] = 0;
    pr->injected = true;
    printf("peer: injected id=%s bytes=%zu\n", pr->injected_id, injected_len);
    fflush(stdout);
}

static void on_protocol(peer *pr, const uint8_t *p, size_t n) {
    if (n && p[0] == EVOLU_LINK_MSG_BEGIN) evolu_link_msg_rx_init(&pr->mrx, MSG_MAX);
    evolu_link_msg_part part;
    if (evolu_link_msg_feed(&pr->mrx, p, n, &part) != EVOLU_OK) return;
    if (part.kind == EVOLU_LINK_MSG_DATA) memcpy(pr->msg + part.offset, part.data, part.n);
    if (part.kind != EVOLU_LINK_MSG_COMPLETE) return;
    evolu_relay_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.port = pr->port;
    cfg.ctx = pr;
    cfg.open_store = r_open;
    cfg.get_write_key = r_get_key;
    cfg.set_write_key = r_set_key;
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, pr->msgs, 20000, pr->ranges, 2000, pr->arena, 2000 * 64);
    evolu_writer w = evolu_writer_make(pr->reply, MSG_MAX);
    evolu_relay_outcome out;
    evolu_err e = evolu_relay_handle(&cfg, pr->msg, part.total, &b, &w, &out);
    if (e) {
        fprintf(stderr, "peer: relay_handle %s\n", evolu_errname(e));
        return;
    }
    if (out.error_code)
        fprintf(stderr, "peer: answered errorCode %u (%s)\n", out.error_code,
                evolu_errname(out.cause));
    send_message(pr, pr->reply, w.len);
    if (pr->mnemonic && !pr->injected &&
        (long)evolu_mem_index_size(pr->idx) >= pr->inject_after)
        inject(pr);
}

int main(int argc, char **argv) {
    static peer pr;
    int port = -1;
    const char *dir = NULL;
    double timeout = 120;
    pr.inject_after = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--store") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "--mnemonic") && i + 1 < argc) pr.mnemonic = argv[++i];
        else if (!strcmp(argv[i], "--inject-after") && i + 1 < argc)
            pr.inject_after = atol(argv[++i]);
        else if (!strcmp(argv[i], "--inject-bulk") && i + 1 < argc)
            pr.inject_bulk = atol(argv[++i]);
        else if (!strcmp(argv[i], "--inject-note") && i + 1 < argc)
            pr.inject_note = argv[++i];
        else if (!strcmp(argv[i], "--inject-id") && i + 1 < argc)
            pr.inject_id = argv[++i];
        else if (!strcmp(argv[i], "--drop-at-commit") && i + 1 < argc)
            pr.drop_at = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: evolu-fw-peer --listen PORT --store DIR [--timeout S] "
                            "[--mnemonic WORDS --inject-after N [--inject-note TEXT] [--inject-id ID]] "
                            "[--drop-at-commit N]\n");
            return 2;
        }
    }
    if (port < 0 || !dir) return 2;
    if (pr.inject_after < 0) pr.mnemonic = NULL;
    pr.port = evolu_port_sodium();
    evolu_stream_file_host *fh;
    if (evolu_stream_file_host_open(dir, &fh) || evolu_mem_index_create(pr.port, &pr.idx)) {
        fprintf(stderr, "peer: cannot open %s\n", dir);
        return 1;
    }
    evolu_stream_file_host_table(fh, &pr.host);
    evolu_mem_index_store(pr.idx, &pr.store);
    pr.msg = malloc(MSG_MAX);
    pr.reply = malloc(MSG_MAX);
    pr.msgs = calloc(20000, sizeof *pr.msgs);
    pr.ranges = calloc(2000, sizeof *pr.ranges);
    pr.arena = malloc(2000 * 64);
    if (!pr.msg || !pr.reply || !pr.msgs || !pr.ranges || !pr.arena) return 1;

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) ||
        getsockname(ls, (struct sockaddr *)&a, &al)) {
        perror("peer: listen");
        return 1;
    }
    printf("device on tcp:127.0.0.1:%u\n", ntohs(a.sin_port));
    fflush(stdout);
    uint32_t start = now_ms();
    struct pollfd lp = {ls, POLLIN, 0};
    if (poll(&lp, 1, (int)(timeout * 1000)) != 1) {
        fprintf(stderr, "peer: no device connected\n");
        return 1;
    }
    uint8_t in[4096], out[EVOLU_LINK_WIRE_MAX];
    bool open = true;
    pr.fd = -1;
reconnect:
    if (pr.fd >= 0) {
        close(pr.fd);
        while (pr.head) {
            outq *q = pr.head;
            pr.head = q->next;
            free(q);
        }
        pr.tail = NULL;
        if (poll(&lp, 1, 30000) != 1) {
            fprintf(stderr, "peer: the device did not come back\n");
            return 1;
        }
    }
    pr.fd = accept(ls, NULL, NULL);
    setsockopt(pr.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    evolu_link_config lc = {50, 1000, 8, 0};
    uint32_t session = 0;
    while (!session) pr.port->random(pr.port->ctx, (uint8_t *)&session, sizeof session);
    evolu_link_init(&pr.link, &lc, session, pr.slots, 8, pr.rxbuf, sizeof pr.rxbuf);
    evolu_link_msg_rx_init(&pr.mrx, MSG_MAX);
    while (open && now_ms() - start < (uint32_t)(timeout * 1000)) {
        if (pr.drop_now) {
            pr.drop_now = false;
            goto reconnect;
        }
        while (pr.head && evolu_link_send_room(&pr.link)) {
            outq *q = pr.head;
            if (evolu_link_send(&pr.link, q->chan, q->p, q->len)) break;
            pr.head = q->next;
            if (!pr.head) pr.tail = NULL;
            free(q);
        }
        size_t m;
        while (evolu_link_poll(&pr.link, now_ms(), out, sizeof out, &m) == EVOLU_OK && m)
            if (send(pr.fd, out, m, MSG_NOSIGNAL) != (ssize_t)m) open = false;
        uint32_t t = evolu_link_timeout(&pr.link, now_ms());
        struct pollfd pfd = {pr.fd, POLLIN, 0};
        if (poll(&pfd, 1, t > 50 ? 50 : (int)t) <= 0) continue;
        ssize_t n = recv(pr.fd, in, sizeof in, 0);
        if (n <= 0) break;
        const uint8_t *ip = in;
        size_t left = (size_t)n;
        while (left) {
            size_t used = 0;
            evolu_link_event ev;
            evolu_err e = evolu_link_input(&pr.link, ip, left, now_ms(), &used, &ev);
            ip += used;
            left -= used;
            if (e) break;
            if (ev.kind == EVOLU_LINK_EV_DATA) {
                if (ev.chan == EVOLU_LINK_CH_STORE) on_store(&pr, ev.payload, ev.len);
                else if (ev.chan == EVOLU_LINK_CH_PROTOCOL) on_protocol(&pr, ev.payload, ev.len);
                evolu_link_grant(&pr.link, 1);
            } else if (ev.kind == EVOLU_LINK_EV_CONNECTED) {
                while (pr.head) {
                    outq *q = pr.head;
                    pr.head = q->next;
                    free(q);
                }
                pr.tail = NULL;
                evolu_link_msg_rx_init(&pr.mrx, MSG_MAX);
            }
        }
    }
    printf("peer: relay messages=%llu injected=%s bytes=%llu\n",
           (unsigned long long)evolu_mem_index_size(pr.idx),
           pr.injected ? pr.injected_id : "-",
           (unsigned long long)evolu_mem_index_stored_bytes(pr.idx));
    fflush(stdout);
    close(pr.fd);
    close(ls);
    evolu_mem_index_destroy(pr.idx);
    evolu_stream_file_host_close(fh);
    free(pr.blob);
    free(pr.msg);
    free(pr.reply);
    free(pr.msgs);
    free(pr.ranges);
    free(pr.arena);
    while (pr.head) {
        outq *q = pr.head;
        pr.head = q->next;
        free(q);
    }
    return 0;
}
