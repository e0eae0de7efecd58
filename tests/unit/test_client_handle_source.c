/* test_client_handle_source.c - evolu_client_handle_source (the client
 * handler over a message read from a source, as a device reads one back from
 * its host) against evolu_client_handle on the same bytes: whole sync
 * sessions between a relay (evolu_relay_handle) and two identical clients,
 * one per handler, with random stores, reply limits (total_max) and reader
 * windows; every step must give the same error, status, reply bytes and
 * store. Also the error paths: version, owner, type, error codes, a refused
 * batch, a failing source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/mem_index.h"
#include "evolu/rbsr.h"
#include "evolu/source.h"
#include "vec.h"

#define MSGS_CAP 4096
#define RANGES_CAP 4096
#define BUF_CAP (1u << 20)

static evolu_msg_entry g_msgs[3][MSGS_CAP];
static evolu_range_entry g_ranges[3][RANGES_CAP];
static uint8_t g_arena[3][RANGES_CAP * EVOLU_RBSR_ARENA_PER_RANGE + (1u << 18)];
static uint8_t g_out[3][BUF_CAP];
static uint8_t g_window[4096];

static const uint8_t OWNER[16] = {0xf1, 0x2f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
static const uint8_t KEY[16] = {0x39, 0x2f, 0x33, 0x9d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void builder(evolu_msg_builder *b, int k) {
    evolu_msg_builder_init(b, g_msgs[k], MSGS_CAP, g_ranges[k], RANGES_CAP, g_arena[k],
                           sizeof g_arena[k]);
}

static evolu_timestamp ts_make(uint64_t i, uint8_t node) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = 1700000000000ULL + i / 3 * 1000;
    t.counter = (uint16_t)(i % 3);
    t.node_id[7] = node;
    return t;
}

/* --- the relay -------------------------------------------------------------------------- */

typedef struct env {
    evolu_store store;
    bool has_key;
    uint8_t key[16];
} env;
static evolu_err e_open(void *ctx, const uint8_t o[16], evolu_store *out) {
    (void)o;
    *out = ((env *)ctx)->store;
    return EVOLU_OK;
}
static evolu_err e_get(void *ctx, const uint8_t o[16], uint8_t key[16], bool *found) {
    (void)o;
    env *e = ctx;
    *found = e->has_key;
    if (e->has_key) memcpy(key, e->key, 16);
    return EVOLU_OK;
}
static evolu_err e_set(void *ctx, const uint8_t o[16], const uint8_t key[16]) {
    (void)o;
    env *e = ctx;
    memcpy(e->key, key, 16);
    e->has_key = true;
    return EVOLU_OK;
}

/* --- the source client's write callback -------------------------------------------------- */

typedef struct sclient {
    evolu_mem_index *x;
    evolu_err fail; /* returned instead of writing, when set */
    uint8_t change[1024];
} sclient;

static evolu_err s_write(void *ctx, evolu_msg_sreader *in) {
    sclient *c = ctx;
    if (c->fail) return c->fail;
    evolu_timestamp ts;
    uint64_t off, len;
    evolu_err e;
    while ((e = evolu_msg_sreader_next_message(in, &ts, &off, &len)) == EVOLU_OK) {
        if (len > sizeof c->change) return EVOLU_E_LIMIT;
        e = in->src->read(in->src->ctx, off, c->change, (size_t)len);
        if (!e) e = evolu_mem_index_insert(c->x, &ts, c->change, (size_t)len, NULL);
        if (e) return e;
    }
    return e == EVOLU_E_DONE ? EVOLU_OK : e;
}

/* A source that fails after n reads. */
typedef struct flaky {
    const uint8_t *p;
    long left;
} flaky;
static evolu_err flaky_read(void *ctx, uint64_t off, uint8_t *buf, size_t n) {
    flaky *f = ctx;
    if (f->left-- <= 0) return EVOLU_E_STORAGE;
    memcpy(buf, f->p + off, n);
    return EVOLU_OK;
}

static evolu_mem_index *index_random(uint64_t n, uint64_t span, uint8_t node) {
    evolu_mem_index *x;
    if (evolu_mem_index_create(vec_port(), &x)) exit(2);
    for (uint64_t i = 0; i < n; i++) {
        evolu_timestamp t = ts_make(rnd() % span, node);
        uint8_t change[60];
        size_t len = 1 + (size_t)(rnd() % sizeof change);
        for (size_t k = 0; k < len; k++) change[k] = (uint8_t)(t.millis + t.counter + k);
        if (evolu_mem_index_insert(x, &t, change, len, NULL)) exit(2);
    }
    return x;
}

/* One sync session between the relay and both clients. */
static void session(int round) {
    uint64_t span = 20 + rnd() % 3000;
    evolu_mem_index *r = index_random(rnd() % 400, span, 1);
    uint64_t seed = rng;
    evolu_mem_index *x1 = index_random(rnd() % 400, span, 2);
    rng = seed; /* the same random items again: an identical second client */
    evolu_mem_index *x2 = index_random(rnd() % 400, span, 2);
    CHECK(evolu_mem_index_size(x1) == evolu_mem_index_size(x2));

    env e;
    memset(&e, 0, sizeof e);
    evolu_mem_index_store(r, &e.store);
    evolu_relay_config rc;
    memset(&rc, 0, sizeof rc);
    rc.port = vec_port();
    rc.ctx = &e;
    rc.open_store = e_open;
    rc.get_write_key = e_get;
    rc.set_write_key = e_set;

    evolu_store s1, s2;
    evolu_mem_index_store(x1, &s1);
    evolu_mem_index_store(x2, &s2);
    evolu_client_config c1, c2;
    memset(&c1, 0, sizeof c1);
    c1.owner_id = OWNER;
    c1.store = &s1;
    c1.write_key = KEY;
    c1.total_max = rnd() % 2 ? 0 : 2000 + (size_t)(rnd() % 20000);
    c2 = c1;
    c2.store = &s2;
    sclient sc = {x2, EVOLU_OK, {0}};
    size_t window = EVOLU_MSG_SREADER_WINDOW_MIN + (size_t)(rnd() % (sizeof g_window - 96));

    /* the first request (from client 1; client 2 is identical) */
    evolu_msg_builder b1, b2, br;
    builder(&b1, 0);
    builder(&b2, 1);
    builder(&br, 2);
    evolu_rbsr rb;
    evolu_rbsr_init(&rb, &s1, false, NULL, 0);
    CHECK(evolu_rbsr_sync_request(&rb, &b1, OWNER, 0) == EVOLU_OK);
    evolu_writer w1 = evolu_writer_make(g_out[0], BUF_CAP);
    CHECK(evolu_msg_builder_emit(&b1, &w1) == EVOLU_OK);
    size_t req_len = w1.len;
    bool same = true;
    int steps = 0;
    for (; steps < 60; steps++) {
        evolu_writer wr = evolu_writer_make(g_out[2], BUF_CAP);
        evolu_relay_outcome ro;
        evolu_err er = evolu_relay_handle(&rc, g_out[0], req_len, &br, &wr, &ro);
        if (er != EVOLU_OK) {
            CHECK(er == EVOLU_OK);
            break;
        }
        evolu_client_outcome o1, o2;
        w1 = evolu_writer_make(g_out[0], BUF_CAP);
        evolu_err e1 = evolu_client_handle(&c1, g_out[2], wr.len, &b1, &w1, &o1);
        evolu_source src;
        evolu_source_memory(&src, g_out[2], wr.len);
        evolu_msg_sreader rd;
        evolu_writer w2 = evolu_writer_make(g_out[1], BUF_CAP);
        evolu_err e2 = evolu_client_handle_source(&c2, &rd, &src, g_window, window, s_write, &sc,
                                                  &b2, &w2, &o2);
        if (e1 != e2 || o1.status != o2.status || w1.len != w2.len ||
            memcmp(g_out[0], g_out[1], w1.len) != 0 ||
            evolu_mem_index_size(x1) != evolu_mem_index_size(x2)) {
            same = false;
            break;
        }
        if (e1 || o1.status != EVOLU_CLIENT_RESPONSE) break;
        /* the reply the source client leaves in its builder, emitted apart */
        evolu_msg_sreader rd2;
        evolu_client_outcome o3;
        builder(&b2, 1);
        CHECK(evolu_client_handle_source(&c2, &rd2, &src, g_window, window, s_write, &sc, &b2,
                                         NULL, &o3) == EVOLU_OK &&
              o3.status == EVOLU_CLIENT_RESPONSE);
        evolu_writer w3 = evolu_writer_make(g_out[1], BUF_CAP);
        CHECK(evolu_msg_builder_emit(&b2, &w3) == EVOLU_OK && w3.len == w1.len &&
              memcmp(g_out[0], g_out[1], w1.len) == 0);
        req_len = w1.len;
    }
    CHECK(same);
    CHECK(steps < 60);
    if (round < 3)
        printf("session %d: relay %llu, clients %llu items, %d steps, window %zu, total_max %zu\n",
               round, (unsigned long long)evolu_mem_index_size(r),
               (unsigned long long)evolu_mem_index_size(x1), steps, window, c1.total_max);
    evolu_mem_index_destroy(r);
    evolu_mem_index_destroy(x1);
    evolu_mem_index_destroy(x2);
}

static size_t response(uint8_t type, uint8_t code, unsigned n, bool ranges) {
    evolu_msg_builder b;
    builder(&b, 2);
    evolu_header h;
    if (type == EVOLU_MESSAGE_BROADCAST) evolu_header_broadcast(&h, OWNER);
    else evolu_header_response(&h, OWNER, code);
    if (evolu_msg_builder_begin(&b, &h, 0, 0)) exit(2);
    static const uint8_t change[40] = {0x55};
    for (unsigned i = 0; i < n; i++) {
        evolu_timestamp t = ts_make(100 + i, 3);
        if (evolu_msg_builder_add_message(&b, &t, change, sizeof change)) exit(2);
    }
    if (ranges && evolu_msg_builder_add_timestamps(&b, NULL, NULL, 0)) exit(2);
    evolu_writer w = evolu_writer_make(g_out[2], BUF_CAP);
    if (evolu_msg_builder_emit(&b, &w)) exit(2);
    return w.len;
}

static evolu_err run_src(const evolu_client_config *c, sclient *sc, const uint8_t *p, size_t n,
                         evolu_client_outcome *out) {
    evolu_source src;
    evolu_source_memory(&src, p, n);
    evolu_msg_sreader rd;
    evolu_msg_builder b;
    builder(&b, 1);
    evolu_writer w = evolu_writer_make(g_out[1], BUF_CAP);
    return evolu_client_handle_source(c, &rd, &src, g_window, 256, s_write, sc, &b, &w, out);
}

static void errors(void) {
    evolu_mem_index *x;
    if (evolu_mem_index_create(vec_port(), &x)) exit(2);
    evolu_store s;
    evolu_mem_index_store(x, &s);
    evolu_client_config c;
    memset(&c, 0, sizeof c);
    c.owner_id = OWNER;
    c.store = &s;
    c.write_key = KEY;
    sclient sc = {x, EVOLU_OK, {0}};
    evolu_client_outcome out;

    uint8_t v2[17] = {2};
    memcpy(v2 + 1, OWNER, 16);
    CHECK(run_src(&c, &sc, v2, 17, &out) == EVOLU_E_VERSION && out.version == 2 &&
          out.initiator_obsolete);
    static const evolu_err want[6] = {EVOLU_OK, EVOLU_E_WRITE_KEY, EVOLU_E_WRITE,
                                      EVOLU_E_QUOTA, EVOLU_E_SYNC, EVOLU_E_ERROR_CODE};
    for (uint8_t code = 1; code <= 5; code++) {
        size_t n = response(EVOLU_MESSAGE_RESPONSE, code, 0, false);
        CHECK(run_src(&c, &sc, g_out[2], n, &out) == want[code] && !out.local_failure);
    }
    size_t n = response(EVOLU_MESSAGE_RESPONSE, 0, 0, false);
    g_out[2][5] ^= 1;
    CHECK(run_src(&c, &sc, g_out[2], n, &out) == EVOLU_E_OWNER);
    g_out[2][5] ^= 1;
    CHECK(run_src(&c, &sc, g_out[2], 10, &out) != EVOLU_OK);
    CHECK(run_src(&c, &sc, g_out[2], n, &out) == EVOLU_OK &&
          out.status == EVOLU_CLIENT_CONVERGED);
    /* Broadcast applied, never answered; read-only owner applied, no sync */
    n = response(EVOLU_MESSAGE_BROADCAST, 0, 2, false);
    CHECK(run_src(&c, &sc, g_out[2], n, &out) == EVOLU_OK &&
          out.status == EVOLU_CLIENT_BROADCAST && evolu_mem_index_size(x) == 2);
    c.write_key = NULL;
    n = response(EVOLU_MESSAGE_RESPONSE, 0, 3, true);
    CHECK(run_src(&c, &sc, g_out[2], n, &out) == EVOLU_OK &&
          out.status == EVOLU_CLIENT_READONLY && evolu_mem_index_size(x) == 3);
    c.write_key = KEY;
    /* a refused batch stops the exchange, as a local failure */
    sc.fail = EVOLU_E_DECRYPT;
    CHECK(run_src(&c, &sc, g_out[2], n, &out) == EVOLU_E_DECRYPT && out.local_failure &&
          out.cause == EVOLU_E_DECRYPT);
    sc.fail = EVOLU_OK;
    /* no write callback; a window below the minimum */
    {
        evolu_source src;
        evolu_source_memory(&src, g_out[2], n);
        evolu_msg_sreader rd;
        evolu_msg_builder b;
        builder(&b, 1);
        CHECK(evolu_client_handle_source(&c, &rd, &src, g_window, 256, NULL, &sc, &b, NULL,
                                         &out) == EVOLU_E_ARG);
        CHECK(evolu_client_handle_source(&c, &rd, &src, g_window, 8, s_write, &sc, &b, NULL,
                                         &out) == EVOLU_E_ARG);
    }
    /* a source that fails at every point: its error, never a crash */
    for (long k = 0; k < 40; k++) {
        flaky f = {g_out[2], k};
        evolu_source src = {&f, n, flaky_read};
        evolu_msg_sreader rd;
        evolu_msg_builder b;
        builder(&b, 1);
        evolu_err e = evolu_client_handle_source(&c, &rd, &src, g_window, 96, s_write, &sc, &b,
                                                 NULL, &out);
        CHECK(e == EVOLU_OK || e == EVOLU_E_STORAGE);
        if (e == EVOLU_OK) break;
    }
    evolu_mem_index_destroy(x);
}

int main(void) {
    errors();
    for (int i = 0; i < 40; i++) session(i);
    return vec_finish();
}
