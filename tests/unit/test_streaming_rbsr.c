/* test_streaming_rbsr.c - the RBSR engine answering a message read from a
 * source (evolu_rbsr_reconcile_source) gives byte for byte the reply of the
 * in-memory path: random two-party syncs between in-memory indexes, every
 * round answered both ways (with and without the scratch that sorts a peer's
 * Timestamps list, through the smallest window and a 1 KB one), until the two
 * sets converge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/mem_index.h"
#include "evolu/protocol.h"
#include "evolu/rbsr.h"
#include "evolu/source.h"
#include "vec.h"

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

static const uint8_t CHANGE[40] = {1, 2, 3};
static const uint8_t OWNER[16] = {7, 7, 7};
static const uint8_t WRITE_KEY[16] = {9, 9, 9};

#define MSGS_CAP 12000
#define RANGES_CAP 512
#define ARENA_CAP 65536
static evolu_msg_entry g_msgs[2][MSGS_CAP];
static evolu_range_entry g_ranges[2][RANGES_CAP];
static uint8_t g_arena[2][ARENA_CAP];
static uint8_t g_scratch[64][EVOLU_TIMESTAMP_BYTES];
static uint8_t g_out[2][EVOLU_PROTOCOL_MAX_SIZE];
static uint8_t g_in[EVOLU_PROTOCOL_MAX_SIZE];

static evolu_timestamp mk_ts(uint64_t k, unsigned node) {
    evolu_timestamp t;
    t.millis = 1700000000000ull + k / 3;
    t.counter = (uint16_t)(k % 3);
    memset(t.node_id, (int)node, sizeof t.node_id);
    return t;
}

/* Answers in[0..len) from store st into g_out[0] (memory) and g_out[1]
 * (source); true if both give the same result and bytes. */
static bool answer_both(const evolu_store *st, bool relay, const uint8_t *in, size_t len,
                        bool scratch, size_t window_len, size_t *out_len, bool *changed) {
    evolu_err er[2];
    bool ch[2];
    size_t n[2];
    for (int k = 0; k < 2; k++) {
        evolu_msg_builder b;
        evolu_msg_builder_init(&b, g_msgs[k], MSGS_CAP, g_ranges[k], RANGES_CAP, g_arena[k],
                               ARENA_CAP);
        evolu_header h;
        if (relay)
            evolu_header_response(&h, OWNER, 0);
        else
            evolu_header_request(&h, OWNER, WRITE_KEY, EVOLU_SUBSCRIPTION_NONE);
        if (evolu_msg_builder_begin(&b, &h, 0, 0)) return false;
        evolu_rbsr r;
        evolu_rbsr_init(&r, st, false, scratch ? g_scratch : NULL, scratch ? 64 : 0);
        ch[k] = false;
        if (k == 0) {
            evolu_msg_reader m;
            if (evolu_msg_reader_open(&m, in, len)) return false;
            er[k] = evolu_rbsr_reconcile(&r, &m, &b, &ch[k]);
        } else {
            static uint8_t window[2048];
            evolu_source src;
            evolu_source_memory(&src, in, len);
            evolu_msg_sreader s;
            if (evolu_msg_sreader_open(&s, &src, window, window_len, 0)) return false;
            er[k] = evolu_rbsr_reconcile_source(&r, &s, &b, &ch[k]);
        }
        evolu_writer w = evolu_writer_make(g_out[k], sizeof g_out[k]);
        if (!er[k] && evolu_msg_builder_emit(&b, &w)) return false;
        n[k] = er[k] ? 0 : w.len;
    }
    *out_len = n[0];
    *changed = ch[0];
    return er[0] == er[1] && ch[0] == ch[1] && n[0] == n[1] && !memcmp(g_out[0], g_out[1], n[0]);
}

/* The receiver stores the message's messages (as a peer would). */
static void receive(const evolu_store *st, const uint8_t *in, size_t len) {
    evolu_msg_reader m, copy;
    if (evolu_msg_reader_open(&m, in, len)) return;
    if (m.n_messages == 0) return;
    evolu_store_batch batch;
    evolu_rbsr_batch_from_reader(&batch, &copy, &m);
    CHECK(st->write_messages(st->ctx, &batch) == EVOLU_OK);
}

static void sync_pair(unsigned n_a, unsigned n_b, unsigned overlap, bool scratch,
                      size_t window_len, unsigned *rounds_out, bool *same_out) {
    evolu_mem_index *a, *b;
    if (evolu_mem_index_create(vec_port(), &a) || evolu_mem_index_create(vec_port(), &b)) exit(2);
    /* A: keys [0, n_a); B: keys [n_a - overlap, n_a - overlap + n_b), some other nodes. */
    for (unsigned i = 0; i < n_a; i++) {
        evolu_timestamp t = mk_ts(i * 2, 1 + (i % 7 == 0));
        evolu_mem_index_insert(a, &t, CHANGE, sizeof CHANGE, NULL);
    }
    for (unsigned i = 0; i < n_b; i++) {
        unsigned k = n_a - overlap + i;
        evolu_timestamp t = mk_ts(k * 2 + (rnd() % 5 == 0), 1 + (k % 7 == 0));
        evolu_mem_index_insert(b, &t, CHANGE, sizeof CHANGE, NULL);
    }
    evolu_store sa, sb;
    evolu_mem_index_store(a, &sa);
    evolu_mem_index_store(b, &sb);

    /* The client (A) starts. */
    evolu_msg_builder bl;
    evolu_msg_builder_init(&bl, g_msgs[0], MSGS_CAP, g_ranges[0], RANGES_CAP, g_arena[0],
                           ARENA_CAP);
    evolu_rbsr r;
    evolu_rbsr_init(&r, &sa, false, NULL, 0);
    CHECK(evolu_rbsr_sync_request(&r, &bl, OWNER, EVOLU_SUBSCRIPTION_NONE) == EVOLU_OK);
    evolu_writer w = evolu_writer_make(g_in, sizeof g_in);
    CHECK(evolu_msg_builder_emit(&bl, &w) == EVOLU_OK);
    size_t len = w.len;
    bool same = true, relay = true;
    unsigned rounds = 0;
    for (; rounds < 60; rounds++) {
        const evolu_store *st = relay ? &sb : &sa;
        receive(st, g_in, len);
        bool changed;
        size_t out_len;
        if (!answer_both(st, relay, g_in, len, scratch, window_len, &out_len, &changed)) {
            same = false;
            break;
        }
        if (!changed && !relay) break;
        memcpy(g_in, g_out[0], out_len);
        len = out_len;
        relay = !relay;
    }
    bool converged = evolu_mem_index_size(a) == evolu_mem_index_size(b);
    *rounds_out = rounds;
    *same_out = same && converged;
    evolu_mem_index_destroy(a);
    evolu_mem_index_destroy(b);
}

int main(void) {
    static const unsigned shapes[][3] = {
        {0, 10, 0},      {10, 0, 0},     {40, 40, 20},    {100, 3000, 50},
        {3000, 100, 50}, {2000, 2000, 1990}, {5000, 4000, 2000}, {31, 33, 0},
    };
    unsigned total = 0, same = 0, rounds_sum = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int scratch = 0; scratch < 2; scratch++)
            for (int wi = 0; wi < 2; wi++) {
                unsigned rounds;
                bool ok;
                sync_pair(shapes[i][0], shapes[i][1], shapes[i][2], scratch,
                          wi ? 1024 : EVOLU_MSG_SREADER_WINDOW_MIN, &rounds, &ok);
                total++;
                rounds_sum += rounds;
                if (vec_check(ok, "sync %u/%u overlap %u scratch %d window %d: replies differ or "
                                  "no convergence", shapes[i][0], shapes[i][1], shapes[i][2],
                              scratch, wi))
                    same++;
            }
    printf("reconcile over a source: %u of %u syncs (%u round trips) answered byte for byte as "
           "in memory, all converged\n", same, total, rounds_sum);
    return vec_finish();
}
