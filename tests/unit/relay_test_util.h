/* relay_test_util.h - shared code of the relay tests: a relay server in a
 * thread of the test process (port 0 on 127.0.0.1), raw requests, a client
 * built from the core (owner from a mnemonic, encrypted pushes, RBSR sync
 * over an in-memory index) and small assertion helpers. Static inline only. */
#ifndef EVOLU_RELAY_TEST_UTIL_H
#define EVOLU_RELAY_TEST_UTIL_H

#include "ws_test_client.h"

#include <pthread.h>
#include <signal.h>

#include "evolu/id.h"
#include "evolu/mem_index.h"
#include "evolu/owner.h"
#include "evolu/port_sodium.h"
#include "evolu/protocol.h"
#include "evolu/rbsr.h"
#include "evolu/sqlite_index.h"
#include "evolu/ws_server.h"

static int g_fail, g_checks;
#define CHECK(cond)                                                                   \
    do {                                                                              \
        g_checks++;                                                                   \
        if (!(cond)) {                                                                \
            g_fail++;                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

#define T_MSGS 40000
#define T_RANGES 16384
#define T_OUT (1u << 20)

static evolu_msg_entry t_msgs[T_MSGS];
static evolu_range_entry t_ranges[T_RANGES];
static uint8_t t_arena[2u << 20];
static uint8_t t_out[T_OUT];
static uint8_t t_scratch[65536][EVOLU_TIMESTAMP_BYTES];

static inline void t_builder(evolu_msg_builder *b) {
    evolu_msg_builder_init(b, t_msgs, T_MSGS, t_ranges, T_RANGES, t_arena, sizeof t_arena);
}

/* --- server in a thread ----------------------------------------------------------- */

typedef struct tsrv {
    evolu_ws_server *s;
    pthread_t th;
    int port;
    evolu_relay_stats rs;   /* after stop */
    evolu_ws_stats ws;
} tsrv;

static inline void t_log(void *ctx, evolu_log_level level, const char *line) {
    (void)ctx;
    if (getenv("EVOLU_TEST_VERBOSE") || level <= EVOLU_LOG_ERROR)
        fprintf(stderr, "[relay %s] %s\n", evolu_log_level_name(level), line);
}

static inline void *t_run(void *a) {
    evolu_ws_server_run(a);
    return NULL;
}

static inline void t_opts(evolu_ws_server_options *o, const char *db) {
    evolu_ws_server_options_default(o);
    o->relay.port = evolu_port_sodium();
    o->relay.db_path = db;
    o->relay.log = t_log;
    o->relay.log_level = getenv("EVOLU_TEST_VERBOSE") ? EVOLU_LOG_DEBUG : EVOLU_LOG_INFO;
    o->relay.synchronous_full = false; /* tests: speed; durability is a script test */
    o->port = 0;
}

static inline bool t_start(tsrv *v, const evolu_ws_server_options *o) {
    memset(v, 0, sizeof *v);
    if (evolu_ws_server_create(o, &v->s)) return false;
    v->port = evolu_ws_server_port(v->s);
    return pthread_create(&v->th, NULL, t_run, v->s) == 0;
}

static inline void t_stop(tsrv *v) {
    evolu_ws_server_stop(v->s);
    pthread_join(v->th, NULL);
    evolu_ws_server_get_stats(v->s, &v->ws);
    evolu_relay_get_stats(evolu_ws_server_relay(v->s), &v->rs);
    evolu_ws_server_destroy(v->s);
    v->s = NULL;
}

/* ws connect with ?ownerId= of owner (or path as given when owner NULL). */
static inline int t_connect(const tsrv *v, const uint8_t *owner) {
    char path[64] = "/";
    if (owner) {
        char id[EVOLU_ID_CHARS + 1];
        evolu_id_to_string(owner, id);
        id[EVOLU_ID_CHARS] = 0;
        snprintf(path, sizeof path, "/?ownerId=%s", id);
    }
    int st;
    return wsc_connect(v->port, path, &st);
}

/* --- owners and messages ----------------------------------------------------------- */

/* A fresh owner the way an app makes one: random secret -> mnemonic, then
 * the owner restored from the mnemonic text. */
static inline void t_owner(evolu_owner *o) {
    const evolu_port *P = evolu_port_sodium();
    uint8_t secret[EVOLU_OWNER_SECRET_BYTES], back[EVOLU_MNEMONIC_MAX_SECRET_BYTES];
    char words[EVOLU_MNEMONIC_MAX_CHARS + 1];
    evolu_owner_secret_random(P, secret);
    evolu_writer w = evolu_writer_make((uint8_t *)words, EVOLU_MNEMONIC_MAX_CHARS);
    evolu_err e = evolu_mnemonic_from_secret(P, secret, sizeof secret, &w);
    size_t n = 0;
    if (!e) e = evolu_mnemonic_to_secret(P, words, w.len, back, &n);
    if (!e) e = evolu_owner_from_secret(P, back, n, o);
    P->memzero(P->ctx, secret, sizeof secret);
    P->memzero(P->ctx, back, sizeof back);
    P->memzero(P->ctx, words, sizeof words);
    if (e) {
        fprintf(stderr, "owner: %s\n", evolu_strerror(e));
        exit(1);
    }
}

/* A Request with n opaque changes of change_len bytes at millis base..base+n-1
 * (the relay never decrypts), with or without a write key, into t_out. */
static inline size_t t_raw_request(const uint8_t *owner, const uint8_t *key, uint8_t sub,
                                   size_t n, uint64_t base, size_t change_len, uint8_t node) {
    static uint8_t change[4096];
    for (size_t i = 0; i < sizeof change; i++) change[i] = (uint8_t)(i * 7 + node);
    evolu_header h;
    evolu_header_request(&h, owner, key, sub);
    evolu_msg_builder b;
    t_builder(&b);
    if (evolu_msg_builder_begin(&b, &h, 0, 0)) return 0;
    for (size_t i = 0; i < n; i++) {
        evolu_timestamp t;
        memset(&t, 0, sizeof t);
        t.millis = base + i;
        t.node_id[7] = node;
        if (evolu_msg_builder_add_message(&b, &t, change, change_len)) return 0;
    }
    evolu_writer w = evolu_writer_make(t_out, T_OUT);
    return evolu_msg_builder_emit(&b, &w) ? 0 : w.len;
}

/* Sends len bytes of t_out and waits for one binary reply (malloc'd), -1 if
 * none within timeout_ms. */
static inline long t_roundtrip(int fd, const uint8_t *msg, size_t len, uint8_t **reply,
                               int timeout_ms) {
    *reply = NULL;
    if (wsc_send(fd, msg, len)) return -1;
    uint8_t op;
    size_t n;
    if (wsc_recv(fd, timeout_ms, &op, reply, &n)) return -1;
    if (op != WSC_OP_BINARY) {
        free(*reply);
        *reply = NULL;
        return -1;
    }
    return (long)n;
}

/* The errorCode of a Response reply for owner, or -1 if it is not one. */
static inline int t_error_code(const uint8_t *reply, long n, const uint8_t *owner) {
    if (!reply || n <= 0) return -1;
    evolu_msg_reader r;
    if (evolu_msg_reader_open(&r, reply, (size_t)n)) return -1;
    if (r.header.type != EVOLU_MESSAGE_RESPONSE) return -1;
    if (memcmp(r.header.owner_id, owner, EVOLU_OWNER_ID_BYTES)) return -1;
    return r.header.error_code;
}

/* Request -> errorCode (-1: no reply or not a Response). */
static inline int t_code(int fd, size_t len, const uint8_t *owner) {
    uint8_t *reply;
    long n = t_roundtrip(fd, t_out, len, &reply, 5000);
    int c = t_error_code(reply, n, owner);
    free(reply);
    return c;
}

/* True if nothing arrives on fd within ms (and the socket is still open). */
static inline bool t_silent(int fd, int ms) {
    struct pollfd pf = {fd, POLLIN, 0};
    return poll(&pf, 1, ms) == 0;
}

/* Encrypted pushes from the core: n changes to table "todo" (title = "item
 * <base+i>") at millis base+i, via evolu_push_build. Returns the errorCode. */
static inline int t_push(int fd, const evolu_owner *o, size_t n, uint64_t base) {
    static evolu_crdt_message m[512];
    static evolu_column col[512];
    static char titles[512][32];
    if (n > 512) return -2;
    for (size_t i = 0; i < n; i++) {
        memset(&m[i], 0, sizeof m[i]);
        m[i].timestamp.millis = base + i;
        memcpy(m[i].timestamp.node_id, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
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
        return -2;
    evolu_writer w = evolu_writer_make(t_out, T_OUT);
    if (evolu_msg_builder_emit(&b, &w)) return -2;
    return t_code(fd, w.len, o->id);
}

/* RBSR from the client side until converged, over st. Broadcasts that arrive
 * meanwhile are applied too. 0 = converged, else the error. */
static inline int t_sync(int fd, const evolu_owner *o, evolu_store *st, uint8_t sub) {
    evolu_rbsr rb;
    evolu_rbsr_init(&rb, st, false, NULL, 0);
    evolu_msg_builder b;
    t_builder(&b);
    if (evolu_rbsr_sync_request(&rb, &b, o->id, sub)) return -2;
    evolu_writer w = evolu_writer_make(t_out, T_OUT);
    if (evolu_msg_builder_emit(&b, &w) || wsc_send(fd, t_out, w.len)) return -3;
    evolu_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.owner_id = o->id;
    cc.store = st;
    cc.write_key = o->write_key;
    cc.scratch = t_scratch;
    cc.scratch_cap = 65536;
    for (int round = 0; round < 200; round++) {
        uint8_t op, *in;
        size_t n;
        if (wsc_recv(fd, 10000, &op, &in, &n)) return -4;
        if (op != WSC_OP_BINARY) {
            free(in);
            return -5;
        }
        evolu_client_outcome oc;
        t_builder(&b);
        w = evolu_writer_make(t_out, T_OUT);
        evolu_err e = evolu_client_handle(&cc, in, n, &b, &w, &oc);
        free(in);
        if (e) return (int)e;
        if (oc.status == EVOLU_CLIENT_CONVERGED) return 0;
        if (oc.status == EVOLU_CLIENT_RESPONSE && wsc_send(fd, t_out, w.len)) return -3;
    }
    return -6;
}

/* Decrypts every change of st and checks that it is "item <millis>" in todo.
 * Returns how many did. */
static inline uint64_t t_verify_items(const evolu_owner *o, evolu_store *st) {
    uint64_t size = 0, ok = 0;
    if (st->size(st->ctx, &size)) return 0;
    for (uint64_t i = 0; i < size; i++) {
        uint8_t tsb[EVOLU_TIMESTAMP_BYTES];
        evolu_timestamp ts;
        const uint8_t *c;
        size_t cl;
        if (evolu_store_timestamp_at(st, i, tsb) || evolu_timestamp_from_bytes(tsb, &ts) ||
            st->read_change(st->ctx, tsb, NULL, &c, &cl))
            continue;
        uint8_t plain[4096];
        size_t pl;
        if (evolu_dbchange_decrypt(evolu_port_sodium(), o->encryption_key, &ts, c, cl, plain,
                                   sizeof plain, &pl))
            continue;
        evolu_dbchange_view v;
        if (evolu_dbchange_parse(plain, pl, &v) || v.table_len != 4 ||
            memcmp(v.table, "todo", 4))
            continue;
        char text[64];
        evolu_writer tw = evolu_writer_make((uint8_t *)text, sizeof text);
        evolu_column col;
        if (evolu_dbchange_next_column(&v, &tw, &col)) continue;
        char want[32];
        int k = snprintf(want, sizeof want, "item %llu", (unsigned long long)ts.millis);
        if (col.name_len == 5 && !memcmp(col.name, "title", 5) &&
            col.value.len == (size_t)k && !memcmp(col.value.data, want, (size_t)k))
            ok++;
    }
    return ok;
}

static inline void t_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline int t_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, g_checks, g_fail);
    return g_fail ? 1 : 0;
}

#endif
