/*
 * test_proxy.c - `evolu proxy` (evolu/proxy.h) end to end on 127.0.0.1:
 *
 *   simulated device (this process: a link endpoint over a TCP socket, and
 *   protocol messages built with the core for an owner restored from a
 *   mnemonic)  <->  the proxy (this program re-executed as a child process,
 *   so it can be killed with SIGKILL)  <->  the C relay (a thread of this
 *   process, ws_server.h)
 *
 * Checked: encrypted pushes reach the relay and their Responses come back;
 * a full RBSR sync of the device runs through the proxy; "relay up/down"
 * arrives on channel 2; host-store requests work and persist across a
 * kill -9 of the proxy; with the relay down the device's pushes are taken
 * and queued, the proxy is killed and restarted, the relay comes back on
 * the same port and everything queued is forwarded in order (the relay's
 * own log of what it received), answered back to the device, and held by
 * the relay; garbage and invalid messages on the device line are survived.
 * Every process and wait is bounded in time.
 */
#define _XOPEN_SOURCE 700 /* posix_openpt: a pty stands in for a serial device */
#include "relay_test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "evolu/link.h"
#include "evolu/proxy.h"

/* --- the proxy as a child process --------------------------------------------------- */

static void proxy_log(void *ctx, evolu_log_level level, const char *line) {
    (void)ctx;
    fprintf(stderr, "[proxy %s] %s\n", evolu_log_level_name(level), line);
}

static int run_child(int argc, char **argv) {
    if (argc < 5) return 2;
    evolu_proxy_options o;
    evolu_proxy_options_default(&o);
    o.device = argc > 5 ? argv[5] : "tcp-listen:127.0.0.1:0";
    o.relay_url = argv[2];
    o.store_dir = argv[3];
    o.reconnect_min_ms = 50;
    o.reconnect_max_ms = 300;
    o.log = proxy_log; /* errors always, all with EVOLU_TEST_VERBOSE */
    o.log_level = getenv("EVOLU_TEST_VERBOSE") ? EVOLU_LOG_DEBUG : EVOLU_LOG_ERROR;
    evolu_proxy *p;
    if (evolu_proxy_create(&o, &p)) return 1;
    printf("%d\n", evolu_proxy_device_port(p));
    fflush(stdout);
    int64_t until = wsc_now_ms() + atoi(argv[4]); /* never outlive the test */
    while (wsc_now_ms() < until) evolu_proxy_step(p, 50);
    evolu_proxy_destroy(p);
    return 0;
}

typedef struct child {
    pid_t pid;
    int port;
} child;

static bool child_start_dev(child *c, const char *url, const char *store, const char *device) {
    int fds[2];
    if (pipe(fds)) return false;
    c->pid = fork();
    if (c->pid == 0) {
        dup2(fds[1], 1);
        /* no inherited sockets: a relay listener kept open here would accept
         * connections nobody serves after the test stops the relay */
        for (int fd = 3; fd < 4096; fd++) close(fd);
        execl("/proc/self/exe", "test_proxy", "--proxy-child", url, store, "120000", device,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[32] = {0};
    size_t n = 0;
    int64_t dl = wsc_now_ms() + 10000;
    while (n < sizeof line - 1 && !strchr(line, '\n') && wsc_now_ms() < dl) {
        struct pollfd pf = {fds[0], POLLIN, 0};
        if (poll(&pf, 1, 200) <= 0) continue;
        ssize_t k = read(fds[0], line + n, sizeof line - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fds[0]);
    c->port = atoi(line);
    return device[0] == 't' ? c->port > 0 : c->port == -1; /* -1: a serial device */
}

static bool child_start(child *c, const char *url, const char *store) {
    return child_start_dev(c, url, store, "tcp-listen:127.0.0.1:0");
}

static void child_kill(child *c, int sig) {
    if (c->pid <= 0) return;
    kill(c->pid, sig);
    waitpid(c->pid, NULL, 0);
    c->pid = 0;
}

/* --- the simulated device ------------------------------------------------------------ */

#define DEV_MAX_MSGS 256

typedef struct dev {
    int fd;
    evolu_link l;
    uint8_t slots[4 * EVOLU_LINK_SLOT_SIZE], rxbuf[EVOLU_LINK_FRAME_MAX];
    evolu_link_msg_rx mrx;
    uint8_t *asm_buf;
    uint8_t *msgs[DEV_MAX_MSGS];
    size_t msg_len[DEV_MAX_MSGS], n_msgs, taken;
    uint8_t reply[EVOLU_LINK_MTU];
    size_t reply_len;
    bool have_reply;
    int ctl; /* the last control byte, -1 none */
    unsigned sessions;
} dev;

static uint32_t now32(void) { return (uint32_t)wsc_now_ms(); }

static void dev_event(dev *d, const evolu_link_event *ev) {
    if (ev->kind == EVOLU_LINK_EV_CONNECTED) {
        d->sessions++;
        evolu_link_msg_rx_init(&d->mrx, EVOLU_PROTOCOL_MAX_SIZE);
        return;
    }
    if (ev->kind != EVOLU_LINK_EV_DATA) return;
    if (ev->chan == EVOLU_LINK_CH_PROTOCOL) {
        evolu_link_msg_part part;
        if (!evolu_link_msg_feed(&d->mrx, ev->payload, ev->len, &part)) {
            if (part.kind == EVOLU_LINK_MSG_DATA)
                memcpy(d->asm_buf + part.offset, part.data, part.n);
            if (part.kind == EVOLU_LINK_MSG_COMPLETE && d->n_msgs < DEV_MAX_MSGS) {
                d->msgs[d->n_msgs] = malloc(part.total ? part.total : 1);
                memcpy(d->msgs[d->n_msgs], d->asm_buf, part.total);
                d->msg_len[d->n_msgs++] = part.total;
            }
        }
    } else if (ev->chan == EVOLU_LINK_CH_STORE) {
        memcpy(d->reply, ev->payload, ev->len);
        d->reply_len = ev->len;
        d->have_reply = true;
    } else if (ev->chan == EVOLU_LINK_CH_CONTROL && ev->len == 1) {
        d->ctl = ev->payload[0];
    }
    evolu_link_grant(&d->l, 1);
}

/* write(), not send(): the line may be a socket or a pty. */
static int dev_write(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One round: wait up to ms for input, feed it, send what the link has. */
static void dev_pump(dev *d, int ms) {
    if (d->fd < 0) {
        t_sleep_ms(ms);
        return;
    }
    uint32_t lt = evolu_link_timeout(&d->l, now32());
    struct pollfd pf = {d->fd, POLLIN, 0};
    if (poll(&pf, 1, lt < (uint32_t)ms ? (int)lt : ms) > 0) {
        uint8_t buf[4096];
        ssize_t k = read(d->fd, buf, sizeof buf);
        if (k <= 0) {
            close(d->fd);
            d->fd = -1;
            return;
        }
        const uint8_t *in = buf;
        size_t n = (size_t)k, used;
        evolu_link_event ev;
        while (n && evolu_link_input(&d->l, in, n, now32(), &used, &ev) == EVOLU_OK) {
            in += used;
            n -= used;
            dev_event(d, &ev);
        }
    }
    uint8_t out[EVOLU_LINK_WIRE_MAX];
    size_t m;
    while (d->fd >= 0 && !evolu_link_poll(&d->l, now32(), out, sizeof out, &m) && m)
        if (dev_write(d->fd, out, m)) {
            close(d->fd);
            d->fd = -1;
        }
}

#define DEV_UNTIL(d, cond, ms)                                                  \
    do {                                                                        \
        int64_t dl_ = wsc_now_ms() + (ms);                                      \
        while (!(cond) && wsc_now_ms() < dl_) dev_pump((d), 5);                 \
    } while (0)

static bool dev_connect(dev *d, int port) {
    d->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(d->fd, (struct sockaddr *)&a, sizeof a)) return false;
    unsigned s0 = d->sessions;
    DEV_UNTIL(d, d->sessions > s0 && d->l.connected, 5000);
    return d->sessions > s0;
}

static void dev_init(dev *d) {
    memset(d, 0, sizeof *d);
    d->fd = -1;
    d->ctl = -1;
    d->asm_buf = malloc(EVOLU_PROTOCOL_MAX_SIZE);
    evolu_link_config cfg = {20, 200, 2, 0};
    uint32_t session = (uint32_t)getpid() * 2654435761u | 1u;
    evolu_link_init(&d->l, &cfg, session, d->slots, 4, d->rxbuf, sizeof d->rxbuf);
    evolu_link_msg_rx_init(&d->mrx, EVOLU_PROTOCOL_MAX_SIZE);
}

static void dev_free_msgs(dev *d) {
    for (size_t i = 0; i < d->n_msgs; i++) free(d->msgs[i]);
    d->n_msgs = d->taken = 0;
}

static bool dev_send_piece(dev *d, uint8_t chan, const uint8_t *p, size_t n) {
    DEV_UNTIL(d, evolu_link_send_room(&d->l) > 0, 5000);
    return evolu_link_send(&d->l, chan, p, n) == EVOLU_OK;
}

/* Sends one protocol message in pieces; true once the proxy acknowledged all
 * of it (taken: on disk in the proxy's queue). */
static bool dev_send(dev *d, const uint8_t *m, size_t n) {
    evolu_link_msg_tx t;
    uint8_t piece[EVOLU_LINK_MTU];
    size_t k = evolu_link_msg_begin(&t, (uint32_t)n, piece, sizeof piece);
    if (!dev_send_piece(d, EVOLU_LINK_CH_PROTOCOL, piece, k)) return false;
    for (size_t off = 0; off < n;) {
        size_t c = evolu_link_mtu(&d->l) - 1;
        if (c > n - off) c = n - off;
        k = evolu_link_msg_chunk(&t, m + off, c, piece, sizeof piece);
        if (!dev_send_piece(d, EVOLU_LINK_CH_PROTOCOL, piece, k)) return false;
        off += c;
    }
    k = evolu_link_msg_end(&t, piece, sizeof piece);
    if (!dev_send_piece(d, EVOLU_LINK_CH_PROTOCOL, piece, k)) return false;
    DEV_UNTIL(d, evolu_link_idle(&d->l), 5000);
    return evolu_link_idle(&d->l);
}

/* The next message from the relay (NULL after ms). Owned by d. */
static const uint8_t *dev_recv(dev *d, int ms, size_t *n) {
    DEV_UNTIL(d, d->taken < d->n_msgs, ms);
    if (d->taken >= d->n_msgs) return NULL;
    *n = d->msg_len[d->taken];
    return d->msgs[d->taken++];
}

/* A host-store request and its reply (data points into d). */
static bool dev_store(dev *d, const evolu_link_store_msg *req, evolu_link_store_msg *rep) {
    uint8_t b[EVOLU_LINK_MTU];
    size_t n;
    if (evolu_link_store_encode(req, b, sizeof b, &n)) return false;
    d->have_reply = false;
    if (!dev_send_piece(d, EVOLU_LINK_CH_STORE, b, n)) return false;
    DEV_UNTIL(d, d->have_reply, 5000);
    return d->have_reply && !evolu_link_store_decode(d->reply, d->reply_len, rep) &&
           rep->id == req->id && rep->op == (req->op | EVOLU_LINK_ST_REPLY);
}

static int dev_raw_store(dev *d, const uint8_t *b, size_t n, uint8_t *op) {
    d->have_reply = false;
    if (!dev_send_piece(d, EVOLU_LINK_CH_STORE, b, n)) return -1;
    DEV_UNTIL(d, d->have_reply, 5000);
    if (!d->have_reply || d->reply_len < 4) return -1;
    *op = d->reply[0];
    return d->reply[3];
}

/* --- protocol messages from the core --------------------------------------------------- */

/* An encrypted push of n "todo" changes titled "item <millis>" (millis base..)
 * into buf, as relay_test_util's t_push builds them. */
static size_t build_push(const evolu_owner *o, size_t n, uint64_t base, uint8_t *buf,
                         size_t cap) {
    static evolu_crdt_message m[64];
    static evolu_column col[64];
    static char titles[64][32];
    for (size_t i = 0; i < n && i < 64; i++) {
        memset(&m[i], 0, sizeof m[i]);
        m[i].timestamp.millis = base + i;
        memcpy(m[i].timestamp.node_id, "\x0d\x0e\x0f\x01\x02\x03\x04\x05", 8);
        int k = snprintf(titles[i], sizeof titles[i], "item %llu", (unsigned long long)(base + i));
        col[i].name = (const uint8_t *)"title";
        col[i].name_len = 5;
        col[i].value = evolu_value_text((const uint8_t *)titles[i], (size_t)k);
        m[i].change.table = (const uint8_t *)"todo";
        m[i].change.table_len = 4;
        evolu_id_from_hash(evolu_port_sodium(), (const uint8_t *)titles[i], (size_t)k,
                           m[i].change.id);
        m[i].change.columns = &col[i];
        m[i].change.n_columns = 1;
        m[i].change.is_insert = true;
        m[i].change.is_delete = -1;
    }
    evolu_msg_builder b;
    t_builder(&b);
    size_t included = 0;
    if (evolu_push_build(&b, evolu_port_sodium(), o, m, n, 0, &included) || included != n)
        return 0;
    evolu_writer w = evolu_writer_make(buf, cap);
    return evolu_msg_builder_emit(&b, &w) ? 0 : w.len;
}

static int response_code(const uint8_t *m, size_t n, const uint8_t *owner) {
    if (!m) return -1;
    return t_error_code(m, (long)n, owner);
}

/* The device's own RBSR sync over the proxy, into st. 0 = converged. */
static int dev_sync(dev *d, const evolu_owner *o, evolu_store *st) {
    static uint8_t out[T_OUT];
    evolu_rbsr rb;
    evolu_rbsr_init(&rb, st, false, NULL, 0);
    evolu_msg_builder b;
    t_builder(&b);
    if (evolu_rbsr_sync_request(&rb, &b, o->id, EVOLU_SUBSCRIPTION_SUBSCRIBE)) return -2;
    evolu_writer w = evolu_writer_make(out, T_OUT);
    if (evolu_msg_builder_emit(&b, &w) || !dev_send(d, out, w.len)) return -3;
    evolu_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.owner_id = o->id;
    cc.store = st;
    cc.write_key = o->write_key;
    cc.scratch = t_scratch;
    cc.scratch_cap = 65536;
    for (int round = 0; round < 50; round++) {
        size_t n;
        const uint8_t *in = dev_recv(d, 10000, &n);
        if (!in) return -4;
        evolu_client_outcome oc;
        t_builder(&b);
        w = evolu_writer_make(out, T_OUT);
        evolu_err e = evolu_client_handle(&cc, in, n, &b, &w, &oc);
        if (e) return (int)e;
        if (oc.status == EVOLU_CLIENT_CONVERGED) return 0;
        if (oc.status == EVOLU_CLIENT_RESPONSE && !dev_send(d, out, w.len)) return -3;
    }
    return -6;
}

/* --- the relay's log: the order in which it received messages ----------------------------- */

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t g_in_sizes[1024], g_n_in;

static void relay_log(void *ctx, evolu_log_level level, const char *line) {
    t_log(ctx, level, line);
    const char *s = strstr(line, " bytes in, ");
    if (!s) return;
    const char *q = s;
    while (q > line && q[-1] >= '0' && q[-1] <= '9') q--;
    pthread_mutex_lock(&g_log_mu);
    if (g_n_in < 1024) g_in_sizes[g_n_in++] = (size_t)strtoul(q, NULL, 10);
    pthread_mutex_unlock(&g_log_mu);
}

static bool relay_start(tsrv *v, const char *db, int port) {
    evolu_ws_server_options o;
    t_opts(&o, db);
    o.port = port;
    o.relay.log = relay_log;
    o.relay.log_level = EVOLU_LOG_DEBUG;
    for (int i = 0; i < 50; i++) { /* the port may linger for a moment */
        if (t_start(v, &o)) return true;
        t_sleep_ms(100);
    }
    return false;
}

static size_t count_queue_files(const char *dir) {
    char path[300];
    snprintf(path, sizeof path, "%s/queue", dir);
    DIR *dd = opendir(path);
    size_t n = 0;
    struct dirent *de;
    while (dd && (de = readdir(dd))) {
        size_t l = strlen(de->d_name);
        n += l > 4 && !strcmp(de->d_name + l - 4, ".msg");
    }
    if (dd) closedir(dd);
    return n;
}

/* --- the scenario ------------------------------------------------------------------------ */

#define QUEUED 20

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--proxy-child")) return run_child(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/evolu-test-proxy-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char db[256], store[256], url[64];
    snprintf(db, sizeof db, "%s/relay.db", dir);
    snprintf(store, sizeof store, "%s/store", dir);
    static uint8_t buf[T_OUT];

    tsrv relay;
    CHECK(relay_start(&relay, db, 0));
    int relay_port = relay.port;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", relay_port);

    evolu_owner owner;
    t_owner(&owner);
    child px;
    CHECK(child_start(&px, url, store));
    dev d;
    dev_init(&d);
    CHECK(dev_connect(&d, px.port));

    /* 1. pushes reach the relay, Responses come back, the relay is "up" */
    for (int i = 0; i < 3; i++) {
        size_t n = build_push(&owner, 2, 1000 + 2 * (uint64_t)i, buf, sizeof buf);
        CHECK(n > 0 && dev_send(&d, buf, n));
        size_t rn = 0;
        const uint8_t *r = dev_recv(&d, 10000, &rn);
        CHECK(response_code(r, rn, owner.id) == 0);
    }
    DEV_UNTIL(&d, d.ctl == 1, 3000);
    CHECK(d.ctl == 1);

    /* 2. the device's own sync through the proxy finds its 6 changes */
    evolu_mem_index *mi;
    evolu_store st;
    CHECK(!evolu_mem_index_create(evolu_port_sodium(), &mi));
    evolu_mem_index_store(mi, &st);
    CHECK(dev_sync(&d, &owner, &st) == 0);
    CHECK(t_verify_items(&owner, &st) == 6);
    evolu_mem_index_destroy(mi);

    /* 3. garbage on the line (zeros included) and an invalid message: survived */
    {
        uint8_t junk[700];
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + (i % 5 == 0 ? 0 : 11));
        CHECK(wsc_write_full(d.fd, junk, sizeof junk) == 0);
        uint8_t bad[40];
        memset(bad, 0xAB, sizeof bad);
        CHECK(dev_send(&d, bad, sizeof bad)); /* taken on the link, dropped by the proxy */
        CHECK(wsc_write_full(d.fd, junk, 123) == 0);
        size_t n = build_push(&owner, 1, 1006, buf, sizeof buf);
        CHECK(n > 0 && dev_send(&d, buf, n));
        size_t rn = 0;
        const uint8_t *r = dev_recv(&d, 10000, &rn);
        CHECK(response_code(r, rn, owner.id) == 0);
        CHECK(d.taken == d.n_msgs); /* nothing answered the invalid one */
    }

    /* 4. host store: index generations, blobs in pieces, errors */
    evolu_link_store_msg q, a;
    memset(&q, 0, sizeof q);
    q.id = 1;
    q.op = EVOLU_LINK_ST_INDEX_APPEND;
    q.data = (const uint8_t *)"x";
    q.data_len = 1;
    CHECK(dev_store(&d, &q, &a) && a.status == EVOLU_LINK_ST_SEQUENCE);
    q.id = 2;
    q.op = EVOLU_LINK_ST_INDEX_BEGIN;
    CHECK(dev_store(&d, &q, &a) && a.status == EVOLU_LINK_ST_OK);
    static uint8_t idx[3000];
    for (size_t i = 0; i < sizeof idx; i++) idx[i] = (uint8_t)(i * 13 + 1);
    for (size_t off = 0; off < sizeof idx; off += 400) {
        q.id++;
        q.op = EVOLU_LINK_ST_INDEX_APPEND;
        q.data = idx + off;
        q.data_len = sizeof idx - off < 400 ? sizeof idx - off : 400;
        CHECK(dev_store(&d, &q, &a) && a.status == EVOLU_LINK_ST_OK);
    }
    q.id++;
    q.op = EVOLU_LINK_ST_INDEX_COMMIT;
    q.data = NULL;
    q.data_len = 0;
    CHECK(dev_store(&d, &q, &a) && a.status == EVOLU_LINK_ST_OK);
    uint8_t key[16];
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)(0xA0 + i);
    static uint8_t blob[900];
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i ^ 0x5A);
    for (uint32_t off = 0; off < sizeof blob; off += 450) {
        memset(&q, 0, sizeof q);
        q.id = (uint16_t)(100 + off);
        q.op = EVOLU_LINK_ST_BLOB_PUT;
        q.key = key;
        q.key_len = 16;
        q.offset = off;
        q.size = sizeof blob;
        q.data = blob + off;
        q.data_len = 450;
        CHECK(dev_store(&d, &q, &a) && a.status == EVOLU_LINK_ST_OK);
    }
    q.op = EVOLU_LINK_ST_BLOB_PUT; /* a piece out of order */
    q.offset = 7;
    CHECK(dev_store(&d, &q, &a) && a.status == EVOLU_LINK_ST_RANGE);
    uint8_t bad_req[2] = {0x7F, 0x01};
    uint8_t op = 0;
    CHECK(dev_raw_store(&d, bad_req, sizeof bad_req, &op) == EVOLU_LINK_ST_BAD_REQUEST);
    CHECK(op == 0x82);

    /* 5. relay down: the device keeps writing, the proxy takes and queues */
    t_stop(&relay);
    DEV_UNTIL(&d, d.ctl == 0, 5000);
    CHECK(d.ctl == 0);
    pthread_mutex_lock(&g_log_mu);
    g_n_in = 0;
    pthread_mutex_unlock(&g_log_mu);
    size_t sizes[QUEUED];
    size_t before = d.n_msgs;
    for (int i = 0; i < QUEUED; i++) {
        /* i+1 changes: every push has its own size, so the relay's log shows order */
        size_t n = build_push(&owner, (size_t)i + 1, 2000 + 100 * (uint64_t)i, buf, sizeof buf);
        sizes[i] = n;
        CHECK(n > 0 && dev_send(&d, buf, n));
    }
    CHECK(d.n_msgs == before);
    CHECK(count_queue_files(store) == QUEUED);

    /* 6. kill -9 of the proxy, restart it while the relay is still down */
    child_kill(&px, SIGKILL);
    CHECK(count_queue_files(store) == QUEUED);
    CHECK(child_start(&px, url, store));
    DEV_UNTIL(&d, d.fd < 0, 2000); /* the old connection is gone */
    if (d.fd >= 0) close(d.fd);
    d.fd = -1;
    d.ctl = -1;
    CHECK(dev_connect(&d, px.port));

    /* the store persisted across the kill */
    memset(&q, 0, sizeof q);
    q.id = 500;
    q.op = EVOLU_LINK_ST_INDEX_READ;
    q.offset = 2500;
    q.size = 1000;
    CHECK(dev_store(&d, &q, &a) && a.status == EVOLU_LINK_ST_OK && a.size == sizeof idx &&
          a.data_len == 500 && !memcmp(a.data, idx + 2500, 500));
    q.op = EVOLU_LINK_ST_BLOB_GET;
    q.key = key;
    q.key_len = 16;
    q.offset = 400;
    q.size = 300;
    CHECK(dev_store(&d, &q, &a) && a.status == EVOLU_LINK_ST_OK && a.size == sizeof blob &&
          a.data_len == 300 && !memcmp(a.data, blob + 400, 300));
    key[0] ^= 1;
    CHECK(dev_store(&d, &q, &a) && a.status == EVOLU_LINK_ST_NOT_FOUND);
    t_sleep_ms(500);
    CHECK(count_queue_files(store) == QUEUED); /* nothing could go yet */

    /* 7. the relay returns on the same port: all forwarded in order, answered */
    CHECK(relay_start(&relay, db, relay_port));
    DEV_UNTIL(&d, d.n_msgs >= before + QUEUED, 20000);
    CHECK(d.n_msgs == before + QUEUED);
    int ok = 0;
    for (size_t i = before; i < d.n_msgs; i++)
        ok += response_code(d.msgs[i], d.msg_len[i], owner.id) == 0;
    CHECK(ok == QUEUED);
    DEV_UNTIL(&d, d.ctl == 1, 3000);
    CHECK(d.ctl == 1);
    DEV_UNTIL(&d, count_queue_files(store) == 0, 3000);
    CHECK(count_queue_files(store) == 0);
    pthread_mutex_lock(&g_log_mu);
    size_t in_order = 0, seen = g_n_in;
    for (size_t i = 0; i < g_n_in && in_order < QUEUED; i++)
        if (g_in_sizes[i] == sizes[in_order]) in_order++;
    pthread_mutex_unlock(&g_log_mu);
    CHECK(in_order == QUEUED && seen == QUEUED);

    /* 8. the relay holds everything: a fresh client (its own connection) */
    CHECK(!evolu_mem_index_create(evolu_port_sodium(), &mi));
    evolu_mem_index_store(mi, &st);
    int fd = t_connect(&relay, owner.id);
    CHECK(fd >= 0 && t_sync(fd, &owner, &st, 0) == 0);
    uint64_t want = 7 + (uint64_t)QUEUED * (QUEUED + 1) / 2;
    uint64_t got = t_verify_items(&owner, &st);
    CHECK(got == want);
    if (fd >= 0) close(fd);
    evolu_mem_index_destroy(mi);

    /* 9. a serial device: a pty, the proxy on its slave side in raw mode */
    child_kill(&px, SIGTERM);
    int mfd = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(mfd >= 0 && !grantpt(mfd) && !unlockpt(mfd));
    const char *slave = mfd >= 0 ? ptsname(mfd) : NULL;
    char store2[300];
    snprintf(store2, sizeof store2, "%s/store2", dir);
    dev d2;
    dev_init(&d2);
    bool serial_ok = false, handed = false;
    int fails_before = g_fail;
    if (slave && child_start_dev(&px, url, store2, slave)) {
        d2.fd = mfd;
        handed = true;
        DEV_UNTIL(&d2, d2.l.connected, 5000);
        CHECK(d2.l.connected);
        /* every byte value crosses the tty untouched (raw mode): a push whose
         * changes are random bytes, and a blob of all 256 byte values */
        size_t n = build_push(&owner, 3, 9000, buf, sizeof buf);
        CHECK(n > 0 && dev_send(&d2, buf, n));
        size_t rn = 0;
        const uint8_t *r = dev_recv(&d2, 10000, &rn);
        CHECK(response_code(r, rn, owner.id) == 0);
        uint8_t all[256];
        for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
        memset(&q, 0, sizeof q);
        q.id = 77;
        q.op = EVOLU_LINK_ST_BLOB_PUT;
        q.key = key;
        q.key_len = 16;
        q.size = sizeof all;
        q.data = all;
        q.data_len = sizeof all;
        CHECK(dev_store(&d2, &q, &a) && a.status == EVOLU_LINK_ST_OK);
        q.op = EVOLU_LINK_ST_BLOB_GET;
        q.data = NULL;
        q.data_len = 0;
        CHECK(dev_store(&d2, &q, &a) && a.status == EVOLU_LINK_ST_OK && a.data_len == 256 &&
              !memcmp(a.data, all, 256));
        CHECK(d2.l.stats.bad_crc == 0);
        serial_ok = g_fail == fails_before;
        child_kill(&px, SIGTERM);
    } else {
        CHECK(!"the proxy did not start on a pty");
    }
    if (handed) {
        if (d2.fd >= 0) close(d2.fd); /* the pty's master, unless dev_pump closed it */
    } else if (mfd >= 0) {
        close(mfd);
    }
    dev_free_msgs(&d2);
    free(d2.asm_buf);

    /* 10. done */
    t_stop(&relay);
    printf("test_proxy: %d queued pushes forwarded in order after kill -9 (%zu relay "
           "messages seen), %llu items at the relay; serial (pty) %s\n",
           QUEUED, seen, (unsigned long long)got, serial_ok ? "ok" : "FAILED");
    if (d.fd >= 0) close(d.fd);
    dev_free_msgs(&d);
    free(d.asm_buf);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", dir);
    return t_finish("test_proxy");
}
