/*
 * test_proxy_parts.c - the proxy's durable queue and its host-store server
 * on their own (src/net/proxy_internal.h), without sockets:
 *  - queue: messages keep their order per owner across a reopen, stray
 *    .tmp files (a push cut by a crash) are removed, files that are not
 *    messages are set aside, removal, soft limits;
 *  - store: every channel-1 request of docs/link.md section 5, replies
 *    bounded by the link MTU, a new index generation replacing the old one
 *    atomically (BEGIN twice, ABORT, a reopen before COMMIT), blobs in pieces
 *    and out of order, empty blobs, wrong key lengths, malformed requests.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evolu/link.h"
#include "evolu/protocol.h"
#include "net/proxy_internal.h"

static int g_fail, g_checks;
#define CHECK(cond)                                                                   \
    do {                                                                              \
        g_checks++;                                                                   \
        if (!(cond)) {                                                                \
            g_fail++;                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

/* A Request header for owner o (byte value) followed by `extra` bytes. */
static size_t msg(uint8_t o, size_t extra, uint8_t *out) {
    uint8_t id[EVOLU_OWNER_ID_BYTES];
    memset(id, o, sizeof id);
    evolu_header h;
    evolu_header_request(&h, id, NULL, 0);
    evolu_writer w = evolu_writer_make(out, 4096);
    evolu_header_encode(&w, &h);
    for (size_t i = 0; i < extra; i++) evolu_put_u8(&w, (uint8_t)(o + i));
    return w.len;
}

static void write_file(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static bool exists(const char *dir, const char *name) {
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static void test_queue(const char *root) {
    char dir[400];
    snprintf(dir, sizeof dir, "%s/queue", root);
    proxy_queue *q;
    CHECK(!proxy_queue_open(dir, 4, 1u << 20, &q));
    uint8_t a[EVOLU_OWNER_ID_BYTES], b[EVOLU_OWNER_ID_BYTES], buf[4096], got[4096];
    memset(a, 1, sizeof a);
    memset(b, 2, sizeof b);
    uint8_t owners[5] = {1, 2, 1, 1, 2};
    for (size_t i = 0; i < 5; i++) {
        size_t n = msg(owners[i], 10 * i, buf);
        CHECK(!proxy_queue_push(q, owners[i] == 1 ? a : b, buf, n));
    }
    CHECK(proxy_queue_count(q) == 5);
    CHECK(proxy_queue_full(q)); /* 5 > 4: the caller stops granting credit */
    proxy_queue_close(q);

    /* a crash in the middle of a push, and a file that is not a message */
    write_file(dir, "00000000000000ff.tmp", "half");
    write_file(dir, "00000000000000fe.msg", "");
    write_file(dir, "README", "not ours");
    CHECK(!proxy_queue_open(dir, 100, 1u << 20, &q));
    CHECK(proxy_queue_count(q) == 5);
    CHECK(!exists(dir, "00000000000000ff.tmp"));
    CHECK(!exists(dir, "00000000000000fe.msg") && exists(dir, "00000000000000fe.msg.bad"));
    CHECK(exists(dir, "README"));
    /* owner a: messages 0, 2, 3 in order; owner b: 1, 4 */
    uint64_t after = 0;
    size_t want[3] = {0, 2, 3};
    for (size_t k = 0; k < 3; k++) {
        proxy_qentry *e = proxy_queue_next(q, a, after);
        CHECK(e != NULL);
        if (!e) break;
        size_t n = msg(1, 10 * want[k], buf);
        CHECK(e->size == n && !proxy_queue_read(q, e, got) && !memcmp(got, buf, n));
        after = e->seq;
    }
    CHECK(proxy_queue_next(q, a, after) == NULL);
    proxy_qentry *e = proxy_queue_next(q, b, 0);
    CHECK(e && e->size == msg(2, 10, buf));
    uint64_t first_b = e ? e->seq : 0;
    CHECK(!proxy_queue_remove(q, first_b));
    CHECK(proxy_queue_remove(q, first_b) == EVOLU_E_ARG);
    e = proxy_queue_next(q, b, 0);
    CHECK(e && e->size == msg(2, 40, buf));
    /* a new push after a reopen gets a larger sequence number */
    size_t n = msg(1, 3, buf);
    CHECK(!proxy_queue_push(q, a, buf, n));
    e = proxy_queue_at(q, proxy_queue_count(q) - 1);
    CHECK(e && e->seq > after && e->size == n);
    CHECK(proxy_queue_count(q) == 5);
    while (proxy_queue_count(q)) proxy_queue_remove(q, proxy_queue_at(q, 0)->seq);
    CHECK(proxy_queue_bytes(q) == 0);
    proxy_queue_close(q);
    CHECK(!proxy_queue_open(dir, 100, 1u << 20, &q));
    CHECK(proxy_queue_count(q) == 0);
    /* far beyond the soft limits a push is refused */
    proxy_queue_close(q);
    CHECK(!proxy_queue_open(dir, 1, 1u << 20, &q));
    CHECK(!proxy_queue_push(q, a, buf, n) && !proxy_queue_push(q, a, buf, n));
    CHECK(proxy_queue_push(q, a, buf, n) == EVOLU_E_CAPACITY);
    proxy_queue_close(q);
}

/* One request through the store; the reply decoded into r (data in rbuf). */
static uint8_t rbuf[EVOLU_LINK_MTU];
static bool ask(proxy_store *s, const evolu_link_store_msg *m, size_t mtu,
                evolu_link_store_msg *r) {
    uint8_t req[EVOLU_LINK_MTU];
    size_t n;
    if (evolu_link_store_encode(m, req, sizeof req, &n)) return false;
    size_t k = proxy_store_handle(s, req, n, mtu, rbuf, sizeof rbuf);
    return k && k <= mtu && !evolu_link_store_decode(rbuf, k, r) && r->id == m->id &&
           r->op == (m->op | EVOLU_LINK_ST_REPLY);
}

static uint8_t op_status(proxy_store *s, uint8_t op, const uint8_t *data, size_t len) {
    evolu_link_store_msg m, r;
    memset(&m, 0, sizeof m);
    m.op = op;
    m.id = 7;
    m.data = data;
    m.data_len = len;
    return ask(s, &m, EVOLU_LINK_MTU, &r) ? r.status : 0xFF;
}

/* Reads the whole index through INDEX_READ with replies of at most mtu. */
static size_t read_index(proxy_store *s, uint8_t *out, size_t cap, size_t mtu) {
    size_t got = 0;
    for (;;) {
        evolu_link_store_msg m, r;
        memset(&m, 0, sizeof m);
        m.op = EVOLU_LINK_ST_INDEX_READ;
        m.id = 9;
        m.offset = (uint32_t)got;
        m.size = 60000;
        if (!ask(s, &m, mtu, &r) || r.status) return (size_t)-1;
        if (!r.data_len) return got == r.size ? got : (size_t)-1;
        if (got + r.data_len > cap) return (size_t)-1;
        memcpy(out + got, r.data, r.data_len);
        got += r.data_len;
    }
}

static void test_store(const char *root) {
    char dir[400];
    snprintf(dir, sizeof dir, "%s/store", root);
    proxy_store *s;
    CHECK(!proxy_store_open(dir, &s));
    static uint8_t idx[5000], back[6000];
    for (size_t i = 0; i < sizeof idx; i++) idx[i] = (uint8_t)(i * 31 + 7);
    CHECK(read_index(s, back, sizeof back, 512) == 0); /* no index yet: size 0 */
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_COMMIT, NULL, 0) == EVOLU_LINK_ST_SEQUENCE);
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_ABORT, NULL, 0) == EVOLU_LINK_ST_SEQUENCE);
    /* a generation, written in pieces */
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_BEGIN, NULL, 0) == EVOLU_LINK_ST_OK);
    for (size_t off = 0; off < sizeof idx; off += 500)
        CHECK(op_status(s, EVOLU_LINK_ST_INDEX_APPEND, idx + off, 500) == EVOLU_LINK_ST_OK);
    CHECK(read_index(s, back, sizeof back, 512) == 0); /* not committed yet */
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_COMMIT, NULL, 0) == EVOLU_LINK_ST_OK);
    CHECK(read_index(s, back, sizeof back, 512) == sizeof idx && !memcmp(back, idx, sizeof idx));
    CHECK(read_index(s, back, sizeof back, 64) == sizeof idx && !memcmp(back, idx, sizeof idx));
    /* reads: at the end 0 bytes, beyond it RANGE, max 0 only the size */
    evolu_link_store_msg m, r;
    memset(&m, 0, sizeof m);
    m.op = EVOLU_LINK_ST_INDEX_READ;
    m.offset = sizeof idx;
    m.size = 100;
    CHECK(ask(s, &m, 512, &r) && r.status == 0 && r.size == sizeof idx && r.data_len == 0);
    m.offset = sizeof idx + 1;
    CHECK(ask(s, &m, 512, &r) && r.status == EVOLU_LINK_ST_RANGE && r.size == 0);
    m.offset = 10;
    m.size = 0;
    CHECK(ask(s, &m, 512, &r) && r.status == 0 && r.size == sizeof idx && r.data_len == 0);
    m.size = 1000;
    CHECK(ask(s, &m, 512, &r) && r.data_len == 504 && !memcmp(r.data, idx + 10, 504));
    /* BEGIN, BEGIN again (drops the first), ABORT: the old index stays */
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_BEGIN, NULL, 0) == EVOLU_LINK_ST_OK);
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_APPEND, idx, 100) == EVOLU_LINK_ST_OK);
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_BEGIN, NULL, 0) == EVOLU_LINK_ST_OK);
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_APPEND, idx + 1, 3) == EVOLU_LINK_ST_OK);
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_ABORT, NULL, 0) == EVOLU_LINK_ST_OK);
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_APPEND, idx, 1) == EVOLU_LINK_ST_SEQUENCE);
    CHECK(read_index(s, back, sizeof back, 512) == sizeof idx);
    /* a generation begun and never committed (a new device session, or the
     * proxy restarted) leaves the committed one */
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_BEGIN, NULL, 0) == EVOLU_LINK_ST_OK);
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_APPEND, idx, 10) == EVOLU_LINK_ST_OK);
    proxy_store_reset(s);
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_COMMIT, NULL, 0) == EVOLU_LINK_ST_SEQUENCE);
    CHECK(op_status(s, EVOLU_LINK_ST_INDEX_BEGIN, NULL, 0) == EVOLU_LINK_ST_OK);
    proxy_store_close(s);
    CHECK(!proxy_store_open(dir, &s));
    CHECK(read_index(s, back, sizeof back, 512) == sizeof idx && !memcmp(back, idx, sizeof idx));

    /* blobs */
    uint8_t key[16], key2[16];
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)i, key2[i] = (uint8_t)(100 + i);
    static uint8_t blob[1200];
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i * 3);
    memset(&m, 0, sizeof m);
    m.op = EVOLU_LINK_ST_BLOB_GET;
    m.key = key;
    m.key_len = 16;
    m.size = 100;
    CHECK(ask(s, &m, 512, &r) && r.status == EVOLU_LINK_ST_NOT_FOUND);
    m.op = EVOLU_LINK_ST_BLOB_PUT;
    m.size = sizeof blob;
    m.offset = 0;
    m.data = blob;
    m.data_len = 400;
    CHECK(ask(s, &m, 512, &r) && r.status == 0);
    m.op = EVOLU_LINK_ST_BLOB_GET; /* not there until the last piece */
    m.size = 10;
    CHECK(ask(s, &m, 512, &r) && r.status == EVOLU_LINK_ST_NOT_FOUND);
    m.op = EVOLU_LINK_ST_BLOB_PUT;
    m.size = sizeof blob;
    m.offset = 800; /* a gap */
    m.data = blob + 800;
    CHECK(ask(s, &m, 512, &r) && r.status == EVOLU_LINK_ST_RANGE);
    m.offset = 400;
    m.data = blob + 400;
    CHECK(ask(s, &m, 512, &r) && r.status == 0); /* the refused piece changed nothing */
    for (uint32_t off = 0; off < sizeof blob; off += 400) {
        m.offset = off;
        m.data = blob + off;
        CHECK(ask(s, &m, 512, &r) && r.status == 0);
    }
    m.offset = 1100; /* more than total */
    m.data = blob;
    CHECK(ask(s, &m, 512, &r) && r.status == EVOLU_LINK_ST_RANGE);
    m.op = EVOLU_LINK_ST_BLOB_GET;
    m.data = NULL;
    m.data_len = 0;
    size_t got = 0;
    while (got < sizeof blob) {
        m.offset = (uint32_t)got;
        m.size = 5000;
        if (!ask(s, &m, 200, &r) || r.status || r.size != sizeof blob || !r.data_len) break;
        CHECK(r.data_len <= 192 && !memcmp(r.data, blob + got, r.data_len));
        got += r.data_len;
    }
    CHECK(got == sizeof blob);
    m.offset = sizeof blob + 1;
    CHECK(ask(s, &m, 200, &r) && r.status == EVOLU_LINK_ST_RANGE);
    /* an empty blob, and key lengths the file host cannot keep */
    m.op = EVOLU_LINK_ST_BLOB_PUT;
    m.key = key2;
    m.offset = 0;
    m.size = 0;
    CHECK(ask(s, &m, 512, &r) && r.status == 0);
    m.op = EVOLU_LINK_ST_BLOB_GET;
    m.size = 10;
    CHECK(ask(s, &m, 512, &r) && r.status == 0 && r.size == 0 && r.data_len == 0);
    m.key_len = 8;
    CHECK(ask(s, &m, 512, &r) && r.status == EVOLU_LINK_ST_NOT_FOUND);
    m.op = EVOLU_LINK_ST_BLOB_PUT;
    m.size = 1;
    m.data = blob;
    m.data_len = 1;
    CHECK(ask(s, &m, 512, &r) && r.status == EVOLU_LINK_ST_BAD_REQUEST);
    m.key_len = 16;
    m.size = 2000000; /* larger than any change */
    m.data_len = 1;
    CHECK(ask(s, &m, 512, &r) && r.status == EVOLU_LINK_ST_NO_SPACE);

    /* malformed requests get BAD_REQUEST, with the op and id when readable */
    uint8_t rep[EVOLU_LINK_MTU];
    const uint8_t trunc[] = {EVOLU_LINK_ST_INDEX_READ, 0x34, 0x12, 0x00};
    size_t k = proxy_store_handle(s, trunc, sizeof trunc, 512, rep, sizeof rep);
    CHECK(k == 8 && rep[0] == 0x81 && rep[1] == 0x34 && rep[2] == 0x12 &&
          rep[3] == EVOLU_LINK_ST_BAD_REQUEST && !rep[4] && !rep[5] && !rep[6] && !rep[7]);
    const uint8_t unknown[] = {0x42, 0x01, 0x00};
    k = proxy_store_handle(s, unknown, sizeof unknown, 512, rep, sizeof rep);
    CHECK(k == 4 && rep[0] == 0x82 && rep[1] == 0x01 && rep[3] == EVOLU_LINK_ST_BAD_REQUEST);
    const uint8_t reply[] = {0x82, 0x01, 0x00, 0x00};
    k = proxy_store_handle(s, reply, sizeof reply, 512, rep, sizeof rep);
    CHECK(k == 4 && rep[0] == 0x82 && rep[3] == EVOLU_LINK_ST_BAD_REQUEST);
    k = proxy_store_handle(s, NULL, 0, 512, rep, sizeof rep);
    CHECK(k == 4 && rep[0] == 0x82 && rep[1] == 0 && rep[3] == EVOLU_LINK_ST_BAD_REQUEST);
    const uint8_t trailing[] = {EVOLU_LINK_ST_INDEX_COMMIT, 1, 0, 9};
    k = proxy_store_handle(s, trailing, sizeof trailing, 512, rep, sizeof rep);
    CHECK(k == 4 && rep[0] == 0x84 && rep[3] == EVOLU_LINK_ST_BAD_REQUEST);
    proxy_store_close(s);
}

int main(void) {
    char root[] = "/tmp/evolu-test-proxy-parts-XXXXXX";
    if (!mkdtemp(root)) return 1;
    test_queue(root);
    test_store(root);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", root);
    printf("test_proxy_parts: %d checks, %d failed\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
