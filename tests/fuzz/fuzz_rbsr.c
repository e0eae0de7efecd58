/* fuzz_rbsr.c - the RBSR engine's two policies (evolu/rbsr.h) on arbitrary
 * bytes, over small in-memory indexes rebuilt for every input from a fixed
 * seed (so each run is deterministic).
 *
 * Input: one control byte, then the message.
 *   bit 0: 0 = hand the message to the relay, 1 = to the client
 *   bit 1: give the engine scratch memory (sorted answers) or not (streaming)
 *   bit 2: the 8.0.0-next.5 splitRange bug
 *   bits 3-4: how many items the stores start with (0, 5, 40, 120)
 *   bit 5: the client is read-only (no write key)
 *   bit 6: the client's owner is the one in the message (so the client
 *          policy gets past the owner check), else a fixed owner
 *   bit 7: tight limits (small totalMaxSize / rangesMaxSize)
 *
 * Properties: no crash, no leak, no out-of-bounds read (ASan); every reply
 * the engine writes (other than the relay's 17-byte version reply) opens
 * with evolu_msg_reader_open; a relay reply is then given to a client over
 * a second store, whose own reply must open too (one more sync round). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/mem_index.h"
#include "evolu/port_sodium.h"
#include "evolu/protocol.h"
#include "evolu/rbsr.h"
#include "evolu/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MSGS_CAP 1024
#define RANGES_CAP 1024
#define REPLY_CAP (1u << 20)

static evolu_msg_entry g_msgs[MSGS_CAP];
static evolu_range_entry g_ranges[RANGES_CAP];
static uint8_t g_arena[RANGES_CAP * EVOLU_RBSR_ARENA_PER_RANGE];
static uint8_t g_scratch[256][EVOLU_TIMESTAMP_BYTES];
static uint8_t g_reply[REPLY_CAP], g_reply2[REPLY_CAP];

static const uint8_t OWNER[16] = {0xf1, 0x2f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
static const uint8_t KEY[16] = {0x39, 0x2f, 0x33, 0x9d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

typedef struct env {
    evolu_store store;
    uint8_t key[16];
    bool has_key;
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

/* Items i of a fixed sequence: a few share millis (counter runs), node ids
 * vary, so fingerprints and lower bounds see ties and gaps. stride picks a
 * different subset for the second store. */
static evolu_mem_index *store_of(const evolu_port *port, unsigned n, unsigned stride) {
    evolu_mem_index *x;
    if (evolu_mem_index_create(port, &x)) return NULL;
    static const uint8_t change[24] = {0x5a, 1, 2, 3};
    for (unsigned k = 0; k < n; k++) {
        unsigned i = k * stride;
        evolu_timestamp t;
        memset(&t, 0, sizeof t);
        t.millis = 1700000000000ULL + (uint64_t)(i / 3) * 977u;
        t.counter = (uint16_t)(i % 3);
        memset(t.node_id, (int)(1 + i % 5), sizeof t.node_id);
        if (evolu_mem_index_insert(x, &t, change, sizeof change - (i % 7), NULL)) {
            evolu_mem_index_destroy(x);
            return NULL;
        }
    }
    return x;
}

static void check_reply(const uint8_t *p, size_t n) {
    evolu_msg_reader r;
    if (evolu_msg_reader_open(&r, p, n) != EVOLU_OK) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const evolu_port *port = evolu_port_sodium();
    if (!port) return 0;
    uint8_t ctl = data[0];
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    static const unsigned counts[4] = {0, 5, 40, 120};
    unsigned n = counts[(ctl >> 3) & 3];
    bool scratch = ctl & 2, bug = ctl & 4, tight = ctl & 0x80;

    evolu_mem_index *a = store_of(port, n, 1);
    evolu_mem_index *c2 = store_of(port, n / 2, 2);
    if (!a || !c2) {
        evolu_mem_index_destroy(a);
        evolu_mem_index_destroy(c2);
        return 0;
    }
    evolu_store sa, sc2;
    evolu_mem_index_store(a, &sa);
    evolu_mem_index_store(c2, &sc2);

    evolu_msg_builder b;
    evolu_msg_builder_init(&b, g_msgs, MSGS_CAP, g_ranges, RANGES_CAP, g_arena, sizeof g_arena);

    uint8_t owner[16];
    memcpy(owner, OWNER, 16);
    if ((ctl & 0x40) && len >= 17) memcpy(owner, msg + 1, 16);
    evolu_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.owner_id = owner;
    cc.write_key = (ctl & 0x20) ? NULL : KEY;
    cc.ranges_max = tight ? 60 : 0;
    cc.input_max = 1u << 20;
    cc.next5_split_bug = bug;
    cc.scratch = scratch ? g_scratch : NULL;
    cc.scratch_cap = scratch ? 256 : 0;

    if (ctl & 1) {
        cc.store = &sa;
        evolu_writer w = evolu_writer_make(g_reply, REPLY_CAP);
        evolu_client_outcome out;
        evolu_err e = evolu_client_handle(&cc, msg, len, &b, &w, &out);
        if (e == EVOLU_OK && out.status == EVOLU_CLIENT_RESPONSE) check_reply(g_reply, w.len);
    } else {
        env en;
        memset(&en, 0, sizeof en);
        en.store = sa;
        evolu_relay_config rc;
        memset(&rc, 0, sizeof rc);
        rc.port = port;
        rc.ctx = &en;
        rc.open_store = e_open;
        rc.get_write_key = e_get;
        rc.set_write_key = e_set;
        rc.total_max = tight ? 2000 : 0;
        rc.ranges_max = tight ? 60 : 0;
        rc.next5_split_bug = bug;
        rc.scratch = cc.scratch;
        rc.scratch_cap = cc.scratch_cap;
        evolu_writer w = evolu_writer_make(g_reply, REPLY_CAP);
        evolu_relay_outcome out;
        evolu_err e = evolu_relay_handle(&rc, msg, len, &b, &w, &out);
        if (e == EVOLU_OK && !out.version_reply) {
            check_reply(g_reply, w.len);
            /* one more round: a client over the second store answers the reply */
            evolu_msg_reader hr;
            if (evolu_msg_reader_open(&hr, g_reply, w.len) == EVOLU_OK) {
                memcpy(owner, hr.header.owner_id, 16);
                cc.store = &sc2;
                evolu_writer w2 = evolu_writer_make(g_reply2, REPLY_CAP);
                evolu_client_outcome co;
                e = evolu_client_handle(&cc, g_reply, w.len, &b, &w2, &co);
                if (e == EVOLU_OK && co.status == EVOLU_CLIENT_RESPONSE)
                    check_reply(g_reply2, w2.len);
            }
        }
    }
    evolu_mem_index_destroy(a);
    evolu_mem_index_destroy(c2);
    return 0;
}
