/* test_rbsr.c - the RBSR engine and its two policies beyond the vectors:
 * every error path of the relay and the client, the unflushed-Skip
 * continuation (pitfall 11), backward bounds, capacity limits, sorted versus
 * streaming answers to messy Timestamps lists, and random two-party syncs that
 * must converge to the union under tight size limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/mem_index.h"
#include "evolu/protocol.h"
#include "evolu/rbsr.h"
#include "evolu/store.h"
#include "vec.h"

#define MSGS_CAP 4096
#define RANGES_CAP 4096
#define BUF_CAP (1u << 21)

static evolu_msg_entry g_msgs[MSGS_CAP];
static evolu_range_entry g_ranges[RANGES_CAP];
static uint8_t g_arena[RANGES_CAP * EVOLU_RBSR_ARENA_PER_RANGE];
static uint8_t g_scratch[8192][EVOLU_TIMESTAMP_BYTES];
static uint8_t *g_buf, *g_buf2, *g_req;

static const uint8_t OWNER[16] = {0xf1, 0x2f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
static const uint8_t KEY[16] = {0x39, 0x2f, 0x33, 0x9d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t OTHER_KEY[16] = {0xee};
static const uint8_t CHANGE[40] = {0x55};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static evolu_timestamp ts_make(uint64_t millis, uint16_t counter, uint8_t node) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = millis;
    t.counter = counter;
    memset(t.node_id, node, sizeof t.node_id);
    return t;
}

static evolu_timestamp ts_i(unsigned i) { return ts_make(1700000000000ULL + i / 3 * 1000, (uint16_t)(i % 3), 1); }

static evolu_mem_index *index_n(unsigned from, unsigned to) {
    evolu_mem_index *x;
    if (evolu_mem_index_create(vec_port(), &x)) exit(2);
    for (unsigned i = from; i < to; i++) {
        evolu_timestamp t = ts_i(i);
        if (evolu_mem_index_insert(x, &t, CHANGE, sizeof CHANGE, NULL)) exit(2);
    }
    return x;
}

static void builder(evolu_msg_builder *b) {
    evolu_msg_builder_init(b, g_msgs, MSGS_CAP, g_ranges, RANGES_CAP, g_arena, sizeof g_arena);
}

/* --- a relay environment -------------------------------------------------------------- */

typedef struct env {
    evolu_store store;
    uint8_t key[16];
    bool has_key;
    int subscribed, unsubscribed, broadcasts;
    evolu_err key_error;
} env;

static evolu_err e_open(void *ctx, const uint8_t o[16], evolu_store *out) {
    (void)o;
    *out = ((env *)ctx)->store;
    return EVOLU_OK;
}
static evolu_err e_get(void *ctx, const uint8_t o[16], uint8_t key[16], bool *found) {
    (void)o;
    env *e = ctx;
    if (e->key_error) return e->key_error;
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
static void e_sub(void *ctx, const uint8_t o[16]) {
    (void)o;
    ((env *)ctx)->subscribed++;
}
static void e_unsub(void *ctx, const uint8_t o[16]) {
    (void)o;
    ((env *)ctx)->unsubscribed++;
}
static void e_broadcast(void *ctx, const evolu_msg_reader *req) {
    env *e = ctx;
    e->broadcasts++;
    /* the Broadcast frame the relay would send */
    evolu_msg_builder b;
    evolu_msg_entry m[8];
    evolu_msg_builder_init(&b, m, 8, NULL, 0, NULL, 0);
    uint8_t out[512];
    evolu_writer w = evolu_writer_make(out, sizeof out);
    CHECK(evolu_msg_build_broadcast(&b, req, 0) == EVOLU_OK);
    CHECK(evolu_msg_builder_emit(&b, &w) == EVOLU_OK && out[17] == EVOLU_MESSAGE_BROADCAST);
}

static void relay_cfg(evolu_relay_config *c, env *e, evolu_mem_index *x) {
    memset(e, 0, sizeof *e);
    evolu_mem_index_store(x, &e->store);
    memset(c, 0, sizeof *c);
    c->port = vec_port();
    c->ctx = e;
    c->open_store = e_open;
    c->get_write_key = e_get;
    c->set_write_key = e_set;
    c->subscribe = e_sub;
    c->unsubscribe = e_unsub;
    c->broadcast = e_broadcast;
}

/* A request: optional key, subscription, n messages ts_i(first..), ranges
 * given by the caller through add (may be NULL). Returns its length. */
typedef evolu_err (*add_ranges_fn)(evolu_msg_builder *b, void *ctx);

static size_t request(const uint8_t *key, uint8_t sub, unsigned first, unsigned n,
                      add_ranges_fn add, void *ctx) {
    evolu_msg_builder b;
    builder(&b);
    evolu_header h;
    evolu_header_request(&h, OWNER, key, sub);
    if (evolu_msg_builder_begin(&b, &h, 0, 0)) exit(2);
    for (unsigned i = 0; i < n; i++) {
        evolu_timestamp t = ts_i(first + i);
        if (evolu_msg_builder_add_message(&b, &t, CHANGE, sizeof CHANGE)) exit(2);
    }
    if (add && add(&b, ctx)) exit(2);
    evolu_writer w = evolu_writer_make(g_req, BUF_CAP);
    if (evolu_msg_builder_emit(&b, &w)) exit(2);
    return w.len;
}

static evolu_err add_inf_timestamps(evolu_msg_builder *b, void *ctx) {
    (void)ctx;
    return evolu_msg_builder_add_timestamps(b, NULL, NULL, 0);
}

static bool is_code(const evolu_writer *w, uint8_t code) {
    return w->len == 20 && g_buf[17] == EVOLU_MESSAGE_RESPONSE && g_buf[18] == code &&
           g_buf[19] == 0 && !memcmp(g_buf + 1, OWNER, 16);
}

static void relay_paths(void) {
    evolu_mem_index *x = index_n(0, 40);
    env e;
    evolu_relay_config c;
    relay_cfg(&c, &e, x);
    evolu_msg_builder b;
    builder(&b);
    evolu_relay_outcome out;
    evolu_writer w = evolu_writer_make(g_buf, BUF_CAP);

    /* version 2 -> varint(1) || ownerId */
    uint8_t v2[21] = {2};
    memcpy(v2 + 1, OWNER, 16);
    CHECK(evolu_relay_handle(&c, v2, sizeof v2, &b, &w, &out) == EVOLU_OK);
    CHECK(out.version_reply && w.len == 17 && g_buf[0] == 1 && !memcmp(g_buf + 1, OWNER, 16));

    /* garbage, truncated, wrong type: no reply */
    uint8_t garbage[3] = {1, 2, 3};
    CHECK(evolu_relay_handle(&c, garbage, 3, &b, &w, &out) != EVOLU_OK);
    uint8_t resp[20] = {1};
    memcpy(resp + 1, OWNER, 16);
    resp[17] = EVOLU_MESSAGE_RESPONSE;
    CHECK(evolu_relay_handle(&c, resp, 20, &b, &w, &out) == EVOLU_E_MESSAGE_TYPE);
    size_t n = request(NULL, 0, 0, 0, add_inf_timestamps, NULL);
    CHECK(evolu_relay_handle(&c, g_req, n - 1, &b, &w, &out) != EVOLU_OK);
    c.input_max = n - 1;
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_E_LIMIT);
    c.input_max = 0;

    /* no ranges -> the 20-byte empty Response; subscription callbacks */
    n = request(NULL, EVOLU_SUBSCRIPTION_SUBSCRIBE, 0, 0, NULL, NULL);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && is_code(&w, 0));
    CHECK(e.subscribed == 1);
    n = request(NULL, EVOLU_SUBSCRIPTION_UNSUBSCRIBE, 0, 0, NULL, NULL);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && e.unsubscribed == 1);
    n = request(NULL, 7, 0, 0, NULL, NULL); /* unknown flag: ignored */
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && is_code(&w, 0));

    /* messages without a write key -> 1 */
    n = request(NULL, 0, 100, 2, NULL, NULL);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && is_code(&w, 1));
    CHECK(evolu_mem_index_size(x) == 40 && !e.has_key);

    /* the first key claims the owner, even without messages */
    n = request(KEY, 0, 0, 0, NULL, NULL);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && is_code(&w, 0));
    CHECK(e.has_key && !memcmp(e.key, KEY, 16));
    /* a wrong key -> 1, also for a read-only sync */
    n = request(OTHER_KEY, 0, 0, 0, add_inf_timestamps, NULL);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && is_code(&w, 1));
    /* a failing key store: no reply */
    e.key_error = EVOLU_E_STATE;
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_E_STATE);
    e.key_error = EVOLU_OK;

    /* a write: stored, broadcast, then the sync answer */
    n = request(KEY, 0, 100, 3, NULL, NULL);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && is_code(&w, 0));
    CHECK(evolu_mem_index_size(x) == 43 && e.broadcasts == 1);
    /* duplicates are still broadcast */
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && e.broadcasts == 2);

    /* quota -> 3, nothing stored, no broadcast */
    evolu_mem_index_set_quota(x, evolu_mem_index_stored_bytes(x) + sizeof CHANGE);
    n = request(KEY, 0, 200, 2, NULL, NULL);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && is_code(&w, 3));
    CHECK(out.error_code == 3 && out.cause == EVOLU_E_QUOTA);
    CHECK(evolu_mem_index_size(x) == 43 && e.broadcasts == 2);
    evolu_mem_index_set_quota(x, 0);

    /* a write failure -> 2 */
    evolu_mem_index_fail_after(x, 1, EVOLU_E_STATE);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && is_code(&w, 2));
    CHECK(out.cause == EVOLU_E_STATE && e.broadcasts == 2);

    /* a store failure while reconciling -> 4 */
    for (uint64_t k = 1; k <= 3; k++) {
        evolu_mem_index_fail_after(x, k, EVOLU_E_STATE);
        size_t m = request(NULL, 0, 0, 0, add_inf_timestamps, NULL);
        CHECK(evolu_relay_handle(&c, g_req, m, &b, &w, &out) == EVOLU_OK && is_code(&w, 4));
        CHECK(out.cause == EVOLU_E_STATE);
    }
    evolu_mem_index_fail_after(x, 0, EVOLU_OK);

    /* descriptor arrays too small for the answer -> 4 */
    evolu_msg_builder small;
    evolu_msg_builder_init(&small, g_msgs, 2, g_ranges, 4, g_arena, sizeof g_arena);
    size_t m = request(NULL, 0, 0, 0, add_inf_timestamps, NULL);
    CHECK(evolu_relay_handle(&c, g_req, m, &small, &w, &out) == EVOLU_OK && is_code(&w, 4));
    CHECK(out.cause == EVOLU_E_CAPACITY);
    /* a reply buffer too small: EVOLU_E_BUFFER, nothing to send */
    evolu_writer tiny = evolu_writer_make(g_buf, 10);
    CHECK(evolu_relay_handle(&c, g_req, m, &b, &tiny, &out) == EVOLU_E_BUFFER);
    /* the answer: 43 messages, no ranges */
    CHECK(evolu_relay_handle(&c, g_req, m, &b, &w, &out) == EVOLU_OK);
    evolu_msg_reader r;
    CHECK(evolu_msg_reader_open(&r, g_buf, w.len) == EVOLU_OK && r.n_messages == 43 &&
          r.n_ranges == 0);
    evolu_mem_index_destroy(x);
}

/* --- pitfall 11 and backward bounds ------------------------------------------------------- */

typedef struct fp_ranges {
    const evolu_store *s;
} fp_ranges;

/* Fingerprint(ts_i(10)) over [0,10) matching, then Fingerprint(inf) mismatching. */
static evolu_err add_match_then_mismatch(evolu_msg_builder *b, void *ctx) {
    fp_ranges *f = ctx;
    uint8_t fp[12], junk[12] = {1};
    evolu_err e = f->s->fingerprint(f->s->ctx, 0, 10, fp);
    evolu_timestamp t = ts_i(10);
    if (!e) e = evolu_msg_builder_add_fingerprint(b, &t, fp);
    if (!e) e = evolu_msg_builder_add_fingerprint(b, NULL, junk);
    return e;
}

static evolu_err add_backwards(evolu_msg_builder *b, void *ctx) {
    (void)ctx;
    /* same millis, counter going down: a valid encoding, bounds not ascending */
    evolu_timestamp hi = ts_make(1700000003000ULL, 2, 1), lo = ts_make(1700000003000ULL, 0, 1);
    uint8_t junk[12] = {1};
    evolu_err e = evolu_msg_builder_add_skip(b, &hi);
    if (!e) e = evolu_msg_builder_add_fingerprint(b, &lo, junk);
    if (!e) e = evolu_msg_builder_add_skip(b, NULL);
    return e;
}

static void continuation_paths(void) {
    evolu_mem_index *x = index_n(0, 100);
    env e;
    evolu_relay_config c;
    relay_cfg(&c, &e, x);
    evolu_msg_builder b;
    builder(&b);
    evolu_relay_outcome out;
    evolu_writer w = evolu_writer_make(g_buf, BUF_CAP);
    fp_ranges f = {&e.store};

    /* with room: Skip(ts_i(10)) then 16 Fingerprint ranges over [10, 100) */
    size_t n = request(NULL, 0, 0, 0, add_match_then_mismatch, &f);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK);
    evolu_msg_reader r;
    evolu_range rg;
    CHECK(evolu_msg_reader_open(&r, g_buf, w.len) == EVOLU_OK && r.n_ranges == 17);
    CHECK(evolu_msg_reader_next_range(&r, &rg) == EVOLU_OK && rg.type == EVOLU_RANGE_SKIP);

    /* no room to split (canSplitRange false): only Fingerprint(inf) over our
     * items from upper = 100, i.e. the empty fingerprint; the pending Skip is
     * not flushed */
    c.ranges_max = 700;
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK);
    CHECK(evolu_msg_reader_open(&r, g_buf, w.len) == EVOLU_OK && r.n_ranges == 1);
    CHECK(evolu_msg_reader_next_range(&r, &rg) == EVOLU_OK &&
          rg.type == EVOLU_RANGE_FINGERPRINT && rg.infinite);
    static const uint8_t zero[12];
    CHECK(!memcmp(rg.fingerprint, zero, 12));
    c.ranges_max = 0;

    /* bounds going backwards: the TypeScript storage asserts -> SyncError */
    n = request(NULL, 0, 0, 0, add_backwards, NULL);
    CHECK(evolu_relay_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK && is_code(&w, 4));
    CHECK(out.cause == EVOLU_E_RANGES);
    evolu_mem_index_destroy(x);

    /* balanced buckets */
    uint64_t bk[16];
    CHECK(!evolu_rbsr_balanced_buckets(0, bk) && !evolu_rbsr_balanced_buckets(31, bk));
    CHECK(evolu_rbsr_balanced_buckets(32, bk) && bk[0] == 2 && bk[15] == 32);
    CHECK(evolu_rbsr_balanced_buckets(100, bk) && bk[0] == 7 && bk[3] == 28 && bk[4] == 34 &&
          bk[15] == 100);
    CHECK(evolu_rbsr_balanced_buckets(UINT64_MAX, bk) && bk[15] == UINT64_MAX);

    /* split_range refuses lower > upper */
    evolu_mem_index *y = index_n(0, 10);
    evolu_store s;
    evolu_mem_index_store(y, &s);
    evolu_rbsr rb;
    evolu_rbsr_init(&rb, &s, false, NULL, 0);
    evolu_header h;
    evolu_header_response(&h, OWNER, 0);
    CHECK(evolu_msg_builder_begin(&b, &h, 0, 0) == EVOLU_OK);
    CHECK(evolu_rbsr_split_range(&rb, &b, 5, 4, NULL) == EVOLU_E_ARG);
    /* a store failure in the first message */
    evolu_mem_index_fail_after(y, 1, EVOLU_E_STATE);
    CHECK(evolu_rbsr_sync_request(&rb, &b, OWNER, 0) == EVOLU_E_SYNC &&
          rb.cause == EVOLU_E_STATE);
    evolu_mem_index_destroy(y);
}

/* --- client paths --------------------------------------------------------------------------- */

static size_t response(uint8_t type, uint8_t code, unsigned first, unsigned n, bool ranges) {
    evolu_msg_builder b;
    builder(&b);
    evolu_header h;
    if (type == EVOLU_MESSAGE_BROADCAST)
        evolu_header_broadcast(&h, OWNER);
    else
        evolu_header_response(&h, OWNER, code);
    if (evolu_msg_builder_begin(&b, &h, 0, 0)) exit(2);
    for (unsigned i = 0; i < n; i++) {
        evolu_timestamp t = ts_i(first + i);
        if (evolu_msg_builder_add_message(&b, &t, CHANGE, sizeof CHANGE)) exit(2);
    }
    if (ranges && evolu_msg_builder_add_timestamps(&b, NULL, NULL, 0)) exit(2);
    evolu_writer w = evolu_writer_make(g_req, BUF_CAP);
    if (evolu_msg_builder_emit(&b, &w)) exit(2);
    return w.len;
}

static void client_paths(void) {
    evolu_mem_index *x = index_n(0, 5);
    evolu_store s;
    evolu_mem_index_store(x, &s);
    evolu_client_config c;
    memset(&c, 0, sizeof c);
    c.owner_id = OWNER;
    c.store = &s;
    c.write_key = KEY;
    evolu_msg_builder b;
    builder(&b);
    evolu_client_outcome out;
    evolu_writer w = evolu_writer_make(g_buf, BUF_CAP);

    /* version replies */
    uint8_t v2[17] = {2};
    memcpy(v2 + 1, OWNER, 16);
    CHECK(evolu_client_handle(&c, v2, 17, &b, &w, &out) == EVOLU_E_VERSION && out.version == 2 &&
          out.initiator_obsolete);
    v2[0] = 0;
    CHECK(evolu_client_handle(&c, v2, 17, &b, &w, &out) == EVOLU_E_VERSION && out.version == 0 &&
          !out.initiator_obsolete);

    /* error codes */
    static const evolu_err want[6] = {EVOLU_OK, EVOLU_E_WRITE_KEY, EVOLU_E_WRITE,
                                      EVOLU_E_QUOTA, EVOLU_E_SYNC, EVOLU_E_ERROR_CODE};
    for (uint8_t code = 1; code <= 5; code++) {
        size_t n = response(EVOLU_MESSAGE_RESPONSE, code, 0, 0, false);
        evolu_err e = evolu_client_handle(&c, g_req, n, &b, &w, &out);
        CHECK(e == want[code] && !out.local_failure);
    }
    /* a Request is not for the client; another owner; garbage */
    size_t n = request(NULL, 0, 0, 0, NULL, NULL);
    CHECK(evolu_client_handle(&c, g_req, n, &b, &w, &out) == EVOLU_E_MESSAGE_TYPE);
    n = response(EVOLU_MESSAGE_RESPONSE, 0, 0, 0, false);
    g_req[5] ^= 1;
    CHECK(evolu_client_handle(&c, g_req, n, &b, &w, &out) == EVOLU_E_OWNER);
    CHECK(evolu_client_handle(&c, g_req, 10, &b, &w, &out) != EVOLU_OK);

    /* converged: no ranges */
    n = response(EVOLU_MESSAGE_RESPONSE, 0, 0, 0, false);
    CHECK(evolu_client_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK &&
          out.status == EVOLU_CLIENT_CONVERGED);
    /* a Broadcast is applied and never answered, even with ranges absent */
    n = response(EVOLU_MESSAGE_BROADCAST, 0, 10, 2, false);
    CHECK(evolu_client_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK &&
          out.status == EVOLU_CLIENT_BROADCAST && evolu_mem_index_size(x) == 7);
    /* read-only owner: messages applied, no sync */
    c.write_key = NULL;
    n = response(EVOLU_MESSAGE_RESPONSE, 0, 20, 1, true);
    CHECK(evolu_client_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK &&
          out.status == EVOLU_CLIENT_READONLY && evolu_mem_index_size(x) == 8);
    c.write_key = KEY;
    /* with a key: answers the Timestamps(inf) range with everything it has */
    CHECK(evolu_client_handle(&c, g_req, n, &b, &w, &out) == EVOLU_OK &&
          out.status == EVOLU_CLIENT_RESPONSE);
    evolu_msg_reader r;
    CHECK(evolu_msg_reader_open(&r, g_buf, w.len) == EVOLU_OK && r.n_messages == 8 &&
          r.header.has_write_key && !memcmp(r.header.write_key, KEY, 16) &&
          r.header.subscription == 0);

    /* a refused batch stops the exchange (8.11.0) */
    evolu_mem_index_fail_after(x, 1, EVOLU_E_DECRYPT);
    n = response(EVOLU_MESSAGE_RESPONSE, 0, 30, 1, true);
    CHECK(evolu_client_handle(&c, g_req, n, &b, &w, &out) == EVOLU_E_DECRYPT &&
          out.local_failure);
    /* a store failure while reconciling: local SyncError */
    evolu_mem_index_fail_after(x, 2, EVOLU_E_STATE);
    CHECK(evolu_client_handle(&c, g_req, n, &b, &w, &out) == EVOLU_E_SYNC && out.local_failure &&
          out.cause == EVOLU_E_STATE);
    evolu_mem_index_fail_after(x, 0, EVOLU_OK);
    evolu_mem_index_destroy(x);
}

/* --- sorted vs streaming on messy Timestamps lists ------------------------------------------ */

typedef struct messy {
    evolu_timestamp ts[64];
    size_t n;
} messy;

static evolu_err add_messy(evolu_msg_builder *b, void *ctx) {
    messy *m = ctx;
    evolu_timestamp bound = ts_make(1700000020000ULL, 0, 1);
    uint8_t junk[12] = {9};
    evolu_err e = evolu_msg_builder_add_fingerprint(b, &bound, junk);
    if (!e) e = evolu_msg_builder_add_timestamps(b, NULL, m->ts, m->n);
    return e;
}

static void sorted_vs_streaming(void) {
    size_t same = 0, rounds = 300;
    for (size_t round = 0; round < rounds; round++) {
        evolu_mem_index *x;
        if (evolu_mem_index_create(vec_port(), &x)) exit(2);
        unsigned items = (unsigned)(rnd() % 120);
        for (unsigned i = 0; i < items; i++) {
            uint64_t ms = 1700000000000ULL + rnd() % 40 * 1000;
            uint16_t ctr = (uint16_t)(rnd() % 4);
            evolu_timestamp t = ts_make(ms, ctr, (uint8_t)(1 + rnd() % 2));
            if (evolu_mem_index_insert(x, &t, CHANGE, 1 + rnd() % 40, NULL)) exit(2);
        }
        /* the peer's list: sorted by millis only, with duplicates, unknowns */
        messy m;
        m.n = (size_t)(rnd() % 64);
        uint64_t millis = 1700000000000ULL;
        for (size_t i = 0; i < m.n; i++) {
            if (rnd() % 3 == 0) millis += 1000 * (rnd() % 3);
            uint16_t ctr = (uint16_t)(rnd() % 4);
            m.ts[i] = ts_make(millis, ctr, (uint8_t)(1 + rnd() % 2));
            if (i && rnd() % 6 == 0) m.ts[i] = m.ts[i - 1];
        }
        size_t n = request(NULL, 0, 0, 0, add_messy, &m);
        env e;
        evolu_relay_config c;
        relay_cfg(&c, &e, x);
        c.ranges_max = 3000 + rnd() % 2 * 27000;
        c.total_max = rnd() % 2 ? 1000 + rnd() % 3000 : 0;
        evolu_msg_builder b;
        builder(&b);
        evolu_writer w1 = evolu_writer_make(g_buf, BUF_CAP), w2 = evolu_writer_make(g_buf2, BUF_CAP);
        evolu_err e1 = evolu_relay_handle(&c, g_req, n, &b, &w1, NULL);
        c.scratch = g_scratch;
        c.scratch_cap = 8192;
        evolu_err e2 = evolu_relay_handle(&c, g_req, n, &b, &w2, NULL);
        if (e1 == e2 && w1.len == w2.len && !memcmp(g_buf, g_buf2, w1.len)) same++;
        evolu_mem_index_destroy(x);
    }
    CHECK(same == rounds);
}

/* --- random syncs converge ------------------------------------------------------------------- */

static void random_syncs(void) {
    const evolu_port *port = vec_port();
    size_t converged = 0, runs = 40, max_rounds = 0;
    for (size_t run = 0; run < runs; run++) {
        evolu_mem_index *ci, *ri, *all;
        if (evolu_mem_index_create(port, &ci) || evolu_mem_index_create(port, &ri) ||
            evolu_mem_index_create(port, &all))
            exit(2);
        unsigned items = 50 + (unsigned)(rnd() % 1500);
        unsigned pc = (unsigned)(rnd() % 101), pr = (unsigned)(rnd() % 101);
        for (unsigned i = 0; i < items; i++) {
            /* one draw per statement: argument order is unspecified */
            uint64_t ms = 1700000000000ULL + rnd() % 100000 * 7;
            uint16_t ctr = (uint16_t)(rnd() % 3);
            evolu_timestamp t = ts_make(ms, ctr, (uint8_t)(1 + rnd() % 3));
            size_t len = 1 + rnd() % 200;
            bool in_c = rnd() % 100 < pc, in_r = rnd() % 100 < pr;
            if (in_c && evolu_mem_index_insert(ci, &t, CHANGE, len < 40 ? len : 40, NULL)) exit(2);
            if (in_r && evolu_mem_index_insert(ri, &t, CHANGE, len < 40 ? len : 40, NULL)) exit(2);
            if ((in_c || in_r) && evolu_mem_index_insert(all, &t, CHANGE, 1, NULL)) exit(2);
        }
        evolu_store cs, as;
        evolu_mem_index_store(ci, &cs);
        evolu_mem_index_store(all, &as);
        env e;
        evolu_relay_config rc;
        relay_cfg(&rc, &e, ri);
        rc.broadcast = NULL;
        bool next5 = rnd() % 2;
        rc.next5_split_bug = next5;
        rc.ranges_max = rnd() % 2 ? 3000 : 30000;
        rc.total_max = rnd() % 2 ? 5000 + rnd() % 20000 : 0;
        evolu_client_config cc;
        memset(&cc, 0, sizeof cc);
        cc.owner_id = OWNER;
        cc.store = &cs;
        cc.write_key = KEY;
        cc.ranges_max = rc.ranges_max;
        cc.next5_split_bug = next5;
        if (rnd() % 2) {
            cc.scratch = rc.scratch = g_scratch;
            cc.scratch_cap = rc.scratch_cap = 8192;
        }
        evolu_msg_builder b;
        builder(&b);
        evolu_rbsr r;
        evolu_rbsr_init(&r, &cs, next5, NULL, 0);
        evolu_writer w = evolu_writer_make(g_buf, BUF_CAP);
        bool ok = evolu_rbsr_sync_request(&r, &b, OWNER, 1) == EVOLU_OK &&
                  evolu_msg_builder_emit(&b, &w) == EVOLU_OK;
        size_t len = w.len, rounds = 0;
        while (ok && rounds < 200) {
            evolu_writer rw = evolu_writer_make(g_buf2, BUF_CAP);
            ok = evolu_relay_handle(&rc, g_buf, len, &b, &rw, NULL) == EVOLU_OK;
            if (!ok) break;
            evolu_writer cw = evolu_writer_make(g_buf, BUF_CAP);
            evolu_client_outcome out;
            ok = evolu_client_handle(&cc, g_buf2, rw.len, &b, &cw, &out) == EVOLU_OK;
            rounds++;
            if (!ok || out.status == EVOLU_CLIENT_CONVERGED) break;
            len = cw.len;
        }
        uint8_t f1[12], f2[12], f3[12];
        uint64_t n = evolu_mem_index_size(all);
        evolu_store rs;
        evolu_mem_index_store(ri, &rs);
        if (ok && evolu_mem_index_size(ci) == n && evolu_mem_index_size(ri) == n &&
            !cs.fingerprint(cs.ctx, 0, n, f1) && !rs.fingerprint(rs.ctx, 0, n, f2) &&
            !as.fingerprint(as.ctx, 0, n, f3) && !memcmp(f1, f3, 12) && !memcmp(f2, f3, 12))
            converged++;
        else
            printf("run %zu: no convergence (%zu rounds, client %llu relay %llu union %llu)\n", run,
                   rounds, (unsigned long long)evolu_mem_index_size(ci),
                   (unsigned long long)evolu_mem_index_size(ri), (unsigned long long)n);
        if (rounds > max_rounds) max_rounds = rounds;
        evolu_mem_index_destroy(ci);
        evolu_mem_index_destroy(ri);
        evolu_mem_index_destroy(all);
    }
    printf("random syncs: %zu/%zu converged, at most %zu round trips\n", converged, runs,
           max_rounds);
    CHECK(converged == runs);
}

/* --- a change no message can carry: stop, never loop (spec 11 item 8) -------------------- */

static evolu_err client_cause;

/* One side holds a change of len bytes the other lacks; the side that must
 * send it replies within total_max. Returns the rounds until the exchange
 * ended (converged or refused) and the errors seen. */
static size_t one_big_change(bool at_relay, size_t len, size_t total_max, evolu_err *relay_err,
                             evolu_relay_outcome *rout, evolu_err *client_err, bool *converged) {
    static uint8_t big[20000];
    memset(big, 0x5a, sizeof big);
    evolu_mem_index *ci = index_n(0, 30), *ri = index_n(0, 30);
    evolu_timestamp t = ts_i(1000);
    if (evolu_mem_index_insert(at_relay ? ri : ci, &t, big, len, NULL)) exit(2);
    evolu_store cs;
    evolu_mem_index_store(ci, &cs);
    env e;
    evolu_relay_config rc;
    relay_cfg(&rc, &e, ri);
    rc.broadcast = NULL;
    rc.total_max = total_max;
    evolu_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.owner_id = OWNER;
    cc.store = &cs;
    cc.write_key = KEY;
    cc.total_max = total_max;
    evolu_msg_builder b;
    builder(&b);
    evolu_rbsr r;
    evolu_rbsr_init(&r, &cs, false, NULL, 0);
    evolu_writer w = evolu_writer_make(g_buf, BUF_CAP);
    *relay_err = *client_err = client_cause = EVOLU_OK;
    *converged = false;
    memset(rout, 0, sizeof *rout);
    bool ok = evolu_rbsr_sync_request(&r, &b, OWNER, 1) == EVOLU_OK &&
              evolu_msg_builder_emit(&b, &w) == EVOLU_OK;
    size_t len_out = w.len, rounds = 0;
    while (ok && rounds < 100) {
        evolu_writer rw = evolu_writer_make(g_buf2, BUF_CAP);
        *relay_err = evolu_relay_handle(&rc, g_buf, len_out, &b, &rw, rout);
        rounds++;
        if (*relay_err != EVOLU_OK || rout->error_code) break;
        evolu_writer cw = evolu_writer_make(g_buf, BUF_CAP);
        evolu_client_outcome out;
        *client_err = evolu_client_handle(&cc, g_buf2, rw.len, &b, &cw, &out);
        if (*client_err != EVOLU_OK) {
            client_cause = out.cause;
            break;
        }
        if (out.status == EVOLU_CLIENT_CONVERGED) {
            *converged = evolu_mem_index_size(ci) == 31 && evolu_mem_index_size(ri) == 31;
            break;
        }
        len_out = cw.len;
    }
    evolu_mem_index_destroy(ci);
    evolu_mem_index_destroy(ri);
    return rounds;
}

static void oversize_change(void) {
    const size_t total = 20000, max = evolu_msg_size_change_max(total);
    /* the bound: the longest header, a Timestamps range with the largest
     * timestamp, and the 50- and 60-byte margins of spec 4.7 */
    CHECK(max > 19000 && max < total - EVOLU_HEADER_MAX_BYTES - 110);
    CHECK(evolu_msg_size_change_max(EVOLU_PROTOCOL_MAX_SIZE) ==
          EVOLU_PROTOCOL_MAX_SIZE - (total - max));
    CHECK(evolu_msg_size_change_max(100) == 0);
    CHECK(total - max == EVOLU_MSG_CHANGE_OVERHEAD_MAX);
    for (int at_relay = 0; at_relay < 2; at_relay++) {
        evolu_err re, ce;
        evolu_relay_outcome ro;
        bool conv;
        /* exactly the bound: it travels, both sides end with 31 items */
        size_t rounds = one_big_change(at_relay, max, total, &re, &ro, &ce, &conv);
        printf("change of %zu B (the bound for %zu) from the %s: %s after %zu rounds\n", max,
               total, at_relay ? "relay" : "client", conv ? "converged" : "NOT converged",
               rounds);
        CHECK(conv && re == EVOLU_OK && ce == EVOLU_OK);
        /* one byte more: refused at once with EVOLU_E_LIMIT, not asked for again
         * and again (before, the sides traded Fingerprints until the round cap) */
        rounds = one_big_change(at_relay, max + 1, total, &re, &ro, &ce, &conv);
        printf("change of %zu B from the %s: refused after %zu rounds (relay %s, errorCode %u,"
               " cause %s; client %s, cause %s)\n",
               max + 1, at_relay ? "relay" : "client", rounds, evolu_strerror(re),
               (unsigned)ro.error_code, evolu_strerror(ro.cause), evolu_strerror(ce),
               evolu_strerror(client_cause));
        CHECK(!conv && rounds <= 3);
        /* the relay answers SyncError (errorCode 4) with the cause, which
         * stops the client; a client stops itself with a local sync error */
        if (at_relay)
            CHECK(re == EVOLU_OK && ro.error_code == 4 && ro.cause == EVOLU_E_LIMIT);
        else
            CHECK(ce == EVOLU_E_SYNC && client_cause == EVOLU_E_LIMIT);
    }
}

/* --- mutated messages: never crash, never read out of bounds (run under ASan) ---------- */

static void mutations(void) {
    evolu_mem_index *ri = index_n(0, 90), *ci = index_n(40, 140);
    env e;
    evolu_relay_config rc;
    relay_cfg(&rc, &e, ri);
    rc.broadcast = NULL;
    rc.ranges_max = 3000;
    evolu_store cs;
    evolu_mem_index_store(ci, &cs);
    evolu_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.owner_id = OWNER;
    cc.store = &cs;
    cc.write_key = KEY;
    evolu_msg_builder b;
    builder(&b);
    /* seeds: a first sync request and the relay's answer to it */
    static uint8_t seed_req[4096], seed_resp[1 << 16];
    evolu_rbsr r;
    evolu_rbsr_init(&r, &cs, false, NULL, 0);
    evolu_writer w = evolu_writer_make(seed_req, sizeof seed_req);
    CHECK(evolu_rbsr_sync_request(&r, &b, OWNER, 1) == EVOLU_OK &&
          evolu_msg_builder_emit(&b, &w) == EVOLU_OK);
    size_t req_len = w.len;
    w = evolu_writer_make(seed_resp, sizeof seed_resp);
    CHECK(evolu_relay_handle(&rc, seed_req, req_len, &b, &w, NULL) == EVOLU_OK);
    size_t resp_len = w.len;
    size_t handled = 0, runs = 20000;
    for (size_t i = 0; i < runs; i++) {
        bool to_relay = i % 2 == 0;
        size_t len = to_relay ? req_len : resp_len;
        memcpy(g_req, to_relay ? seed_req : seed_resp, len);
        unsigned flips = 1 + (unsigned)(rnd() % 4);
        for (unsigned k = 0; k < flips; k++) {
            size_t at = (size_t)(rnd() % len);
            if (rnd() % 2)
                g_req[at] ^= (uint8_t)(1u << (rnd() % 8));
            else
                g_req[at] = (uint8_t)rnd();
        }
        if (rnd() % 8 == 0) len = (size_t)(rnd() % (len + 1));
        evolu_writer out = evolu_writer_make(g_buf, BUF_CAP);
        evolu_client_outcome co;
        evolu_err e2 = to_relay ? evolu_relay_handle(&rc, g_req, len, &b, &out, NULL)
                                : evolu_client_handle(&cc, g_req, len, &b, &out, &co);
        if (e2 == EVOLU_OK) {
            handled++;
            /* whatever we reply must itself be a well-formed message */
            evolu_msg_reader mr;
            if (out.len > 17 && evolu_msg_reader_open(&mr, g_buf, out.len) != EVOLU_OK)
                CHECK(false);
        }
    }
    printf("mutations: %zu of %zu mutated messages handled, the rest refused\n", handled, runs);
    CHECK(handled > 0);
    evolu_mem_index_destroy(ri);
    evolu_mem_index_destroy(ci);
}

int main(void) {
    g_buf = malloc(BUF_CAP);
    g_buf2 = malloc(BUF_CAP);
    g_req = malloc(BUF_CAP);
    if (!g_buf || !g_buf2 || !g_req) return 2;
    relay_paths();
    continuation_paths();
    client_paths();
    sorted_vs_streaming();
    random_syncs();
    oversize_change();
    mutations();
    free(g_buf);
    free(g_buf2);
    free(g_req);
    return vec_finish();
}
