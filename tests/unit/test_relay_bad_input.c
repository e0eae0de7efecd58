/* test_relay_bad_input.c - the C relay answers bad input as Evolu does and
 * keeps serving: garbage, truncated messages, a wrong message type, protocol
 * version 2, a missing and a wrong write key, quota exceeded, an oversize
 * message (1009 for that connection only, also when it comes in fragments),
 * and the allow-list at the upgrade (400/401). After each, a good client on
 * the same relay pushes and syncs. Real sockets on 127.0.0.1. */
#include "relay_test_util.h"

#include <unistd.h>

static char g_db[256];
static uint64_t g_millis = 1700000000000ull;

/* The good client: an encrypted push and a full sync on its own socket. */
typedef struct good {
    evolu_owner o;
    int fd;
    evolu_mem_index *mi;
    evolu_store st;
    uint64_t pushed;
} good;

static void good_open(good *g, const tsrv *v) {
    t_owner(&g->o);
    g->fd = t_connect(v, g->o.id);
    evolu_mem_index_create(evolu_port_sodium(), &g->mi);
    evolu_mem_index_store(g->mi, &g->st);
    g->pushed = 0;
}

static bool good_works(good *g) {
    if (t_push(g->fd, &g->o, 2, g_millis) != 0) return false;
    g_millis += 2;
    g->pushed += 2;
    return t_sync(g->fd, &g->o, &g->st, EVOLU_SUBSCRIPTION_NONE) == 0 &&
           evolu_mem_index_size(g->mi) == g->pushed;
}

static void good_close(good *g) {
    close(g->fd);
    evolu_mem_index_destroy(g->mi);
}

/* Sends bytes on fd and expects no reply, the socket still usable. */
static bool no_reply(int fd, const uint8_t *p, size_t n, uint8_t opcode) {
    return wsc_send_frame(fd, opcode, true, p, n) == 0 && t_silent(fd, 300);
}

static void test_bad_messages(const tsrv *v, good *g) {
    evolu_owner o;
    t_owner(&o);
    int x = t_connect(v, o.id);
    CHECK(x >= 0);

    /* Garbage of several shapes: no reply. */
    static const uint8_t g1[] = {0xff, 0xff, 0xff};
    CHECK(no_reply(x, g1, sizeof g1, WSC_OP_BINARY));
    CHECK(no_reply(x, NULL, 0, WSC_OP_BINARY));
    uint8_t junk[5000];
    evolu_port_sodium()->random(NULL, junk, sizeof junk);
    junk[0] = 1; /* version 1, then random: an invalid message */
    junk[17] = 0;
    junk[18] = 7; /* hasWriteKey byte neither 0 nor 1 */
    CHECK(no_reply(x, junk, sizeof junk, WSC_OP_BINARY));
    CHECK(good_works(g));

    /* Truncated: a valid push cut short. */
    size_t len = t_raw_request(o.id, o.write_key, 0, 10, g_millis, 100, 1);
    CHECK(len > 100);
    CHECK(no_reply(x, t_out, len / 2, WSC_OP_BINARY));
    CHECK(no_reply(x, t_out, 18, WSC_OP_BINARY)); /* header cut inside */
    CHECK(good_works(g));

    /* Wrong message type: a Response and a Broadcast sent to the relay. */
    evolu_writer w = evolu_writer_make(t_out, T_OUT);
    evolu_msg_encode_response(&w, o.id, 0);
    CHECK(no_reply(x, t_out, w.len, WSC_OP_BINARY));
    evolu_header h;
    evolu_header_broadcast(&h, o.id);
    w = evolu_writer_make(t_out, T_OUT);
    evolu_header_encode(&w, &h);
    evolu_put_u8(&w, 0);
    CHECK(no_reply(x, t_out, w.len, WSC_OP_BINARY));
    CHECK(good_works(g));

    /* Protocol version 2: the reply is varint(1) || ownerId, 17 bytes. */
    evolu_header_request(&h, o.id, NULL, 0);
    h.version = 2;
    w = evolu_writer_make(t_out, T_OUT);
    evolu_header_encode(&w, &h);
    evolu_put_u8(&w, 0);
    uint8_t *reply;
    long n = t_roundtrip(x, t_out, w.len, &reply, 5000);
    CHECK(n == 17 && reply && reply[0] == 1 && !memcmp(reply + 1, o.id, 16));
    free(reply);

    /* Missing write key with messages: errorCode 1, nothing stored. */
    len = t_raw_request(o.id, NULL, 0, 3, g_millis, 80, 1);
    CHECK(t_code(x, len, o.id) == EVOLU_ERROR_CODE_WRITE_KEY);
    /* The right key claims the owner ... */
    len = t_raw_request(o.id, o.write_key, 0, 3, g_millis, 80, 1);
    CHECK(t_code(x, len, o.id) == 0);
    /* ... then a wrong key gets errorCode 1, with or without messages. */
    uint8_t wrong[16];
    memcpy(wrong, o.write_key, 16);
    wrong[15] ^= 1;
    len = t_raw_request(o.id, wrong, 0, 3, g_millis + 100, 80, 1);
    CHECK(t_code(x, len, o.id) == EVOLU_ERROR_CODE_WRITE_KEY);
    len = t_raw_request(o.id, wrong, 0, 0, 0, 0, 1);
    CHECK(t_code(x, len, o.id) == EVOLU_ERROR_CODE_WRITE_KEY);
    /* Only the 3 accepted messages are there. */
    evolu_mem_index *mi;
    evolu_mem_index_create(evolu_port_sodium(), &mi);
    evolu_store st;
    evolu_mem_index_store(mi, &st);
    CHECK(t_sync(x, &o, &st, EVOLU_SUBSCRIPTION_NONE) == 0);
    CHECK(evolu_mem_index_size(mi) == 3);
    evolu_mem_index_destroy(mi);
    CHECK(good_works(g));

    /* A text frame is processed as bytes, as the TypeScript relay does. */
    len = t_raw_request(o.id, NULL, 0, 0, 0, 0, 1);
    CHECK(wsc_send_frame(x, WSC_OP_TEXT, true, t_out, len) == 0);
    uint8_t op;
    size_t rn;
    CHECK(wsc_recv(x, 5000, &op, &reply, &rn) == 0 && op == WSC_OP_BINARY);
    CHECK(t_error_code(reply, (long)rn, o.id) == 0);
    free(reply);

    /* A message in three fragments is reassembled and answered. */
    len = t_raw_request(o.id, o.write_key, 0, 50, g_millis + 1000, 300, 2);
    CHECK(wsc_send_frame(x, WSC_OP_BINARY, false, t_out, 100) == 0);
    CHECK(wsc_send_frame(x, WSC_OP_CONT, false, t_out + 100, 5000) == 0);
    CHECK(wsc_send_frame(x, WSC_OP_CONT, true, t_out + 5100, len - 5100) == 0);
    CHECK(wsc_recv(x, 5000, &op, &reply, &rn) == 0 && op == WSC_OP_BINARY);
    CHECK(t_error_code(reply, (long)rn, o.id) == 0);
    free(reply);

    /* The same connection still works after all of it. */
    len = t_raw_request(o.id, o.write_key, 0, 1, g_millis + 5000, 10, 1);
    CHECK(t_code(x, len, o.id) == 0);
    close(x);
}

/* Oversize: exactly 1,000,000 bytes is a message (here invalid: no reply);
 * 1,000,001 bytes closes that connection with 1009, in one frame or in
 * fragments, and the good client does not notice. */
static void test_oversize(const tsrv *v, good *g) {
    static uint8_t big[1000001];
    memset(big, 0xee, sizeof big);
    evolu_owner o;
    t_owner(&o);
    int x = t_connect(v, o.id);
    CHECK(no_reply(x, big, 1000000, WSC_OP_BINARY));
    size_t len = t_raw_request(o.id, NULL, 0, 0, 0, 0, 1);
    CHECK(t_code(x, len, o.id) == 0);

    wsc_send_frame(x, WSC_OP_BINARY, true, big, sizeof big); /* the relay may cut it short */
    CHECK(wsc_wait_close(x, 5000) == 1009);
    close(x);
    CHECK(good_works(g));

    x = t_connect(v, o.id);
    CHECK(wsc_send_frame(x, WSC_OP_BINARY, false, big, 600000) == 0);
    wsc_send_frame(x, WSC_OP_CONT, true, big, 400001); /* may fail once closed */
    CHECK(wsc_wait_close(x, 5000) == 1009);
    close(x);
    CHECK(good_works(g));
}

/* Quota: a relay with 2,000 bytes per owner answers errorCode 3 and stores
 * nothing of that request; other owners are unaffected. */
static void test_quota(void) {
    char db[300];
    snprintf(db, sizeof db, "%s.quota", g_db);
    evolu_ws_server_options opt;
    t_opts(&opt, db);
    opt.relay.quota_bytes = 2000;
    tsrv v;
    CHECK(t_start(&v, &opt));
    good g;
    good_open(&g, &v);
    evolu_owner o;
    t_owner(&o);
    int x = t_connect(&v, o.id);
    size_t len = t_raw_request(o.id, o.write_key, 0, 15, 1700000000000ull, 100, 1);
    CHECK(t_code(x, len, o.id) == 0); /* 1,500 bytes */
    len = t_raw_request(o.id, o.write_key, 0, 6, 1700000001000ull, 100, 1);
    CHECK(t_code(x, len, o.id) == EVOLU_ERROR_CODE_QUOTA); /* would be 2,100 */
    len = t_raw_request(o.id, o.write_key, 0, 15, 1700000000000ull, 100, 1);
    CHECK(t_code(x, len, o.id) == 0); /* duplicates add nothing */
    len = t_raw_request(o.id, o.write_key, 0, 5, 1700000002000ull, 100, 1);
    CHECK(t_code(x, len, o.id) == 0); /* exactly 2,000 */
    evolu_mem_index *mi;
    evolu_mem_index_create(evolu_port_sodium(), &mi);
    evolu_store st;
    evolu_mem_index_store(mi, &st);
    CHECK(t_sync(x, &o, &st, EVOLU_SUBSCRIPTION_NONE) == 0);
    CHECK(evolu_mem_index_size(mi) == 20);
    evolu_mem_index_destroy(mi);
    CHECK(good_works(&g));
    close(x);
    good_close(&g);
    t_stop(&v);
    CHECK(v.rs.quota_errors == 1);
    unlink(db);
}

/* Allow-list: 400 without or with an invalid ownerId, 401 for an owner not
 * on the list; the listed owner connects (with or without a path), and a
 * message for an unlisted owner on its connection is not answered. */
static void test_allow_list(void) {
    char db[300];
    snprintf(db, sizeof db, "%s.allow", g_db);
    evolu_owner a, b;
    t_owner(&a);
    t_owner(&b);
    evolu_ws_server_options opt;
    t_opts(&opt, db);
    const uint8_t (*list)[16] = (const uint8_t(*)[16])a.id;
    opt.relay.allow = list;
    opt.relay.n_allow = 1;
    tsrv v;
    CHECK(t_start(&v, &opt));
    char ida[23], idb[23], path[128];
    evolu_id_to_string(a.id, ida);
    evolu_id_to_string(b.id, idb);
    ida[22] = idb[22] = 0;
    int st;
    CHECK(wsc_connect(v.port, "/", &st) < 0 && st == 400);
    CHECK(wsc_connect(v.port, "/?ownerId=", &st) < 0 && st == 400);
    CHECK(wsc_connect(v.port, "/?ownerId=notanownerid", &st) < 0 && st == 400);
    snprintf(path, sizeof path, "/?ownerId=%s", idb);
    CHECK(wsc_connect(v.port, path, &st) < 0 && st == 401);
    snprintf(path, sizeof path, "/?ownerId=%s&x=y", ida); /* url.split("=")[1] */
    CHECK(wsc_connect(v.port, path, &st) < 0 && st == 400);
    snprintf(path, sizeof path, "/some/path?ownerId=%s", ida);
    int fd = wsc_connect(v.port, path, &st);
    CHECK(fd >= 0 && st == 101);
    close(fd);
    snprintf(path, sizeof path, "/?ownerId=%s", ida);
    fd = wsc_connect(v.port, path, &st);
    CHECK(fd >= 0);
    CHECK(t_push(fd, &a, 2, 1700000000000ull) == 0);
    size_t len = t_raw_request(b.id, b.write_key, 0, 2, 1700000000000ull, 50, 1);
    CHECK(no_reply(fd, t_out, len, WSC_OP_BINARY));
    CHECK(t_push(fd, &a, 2, 1700000000010ull) == 0);
    close(fd);
    t_stop(&v);
    CHECK(v.ws.upgrades_rejected == 5);
    CHECK(v.rs.not_allowed == 1);
    unlink(db);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_db, sizeof g_db, "/tmp/evolu_test_relay_bad_%d.db", (int)getpid());
    evolu_ws_server_options opt;
    t_opts(&opt, g_db);
    tsrv v;
    CHECK(t_start(&v, &opt));
    if (g_fail) return t_finish("test_relay_bad_input");
    good g;
    good_open(&g, &v);
    CHECK(good_works(&g));
    test_bad_messages(&v, &g);
    test_oversize(&v, &g);
    CHECK(good_works(&g));
    good_close(&g);
    t_stop(&v);
    CHECK(v.ws.oversize_closed == 2);
    CHECK(v.rs.invalid == 8);
    if (v.rs.invalid != 8) fprintf(stderr, "invalid=%llu\n", (unsigned long long)v.rs.invalid);
    CHECK(v.rs.write_key_errors == 3);
    CHECK(v.rs.version_replies == 1);
    test_quota();
    test_allow_list();
    char path[300];
    const char *sfx[] = {"", "-wal", "-shm", ".quota-wal", ".quota-shm", ".allow-wal",
                         ".allow-shm"};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(path, sizeof path, "%s%s", g_db, sfx[i]);
        unlink(path);
    }
    return t_finish("test_relay_bad_input");
}
