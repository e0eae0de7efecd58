/* test_stream_memory.c - the device's memory for one sync round over the
 * stream store: a 10,000-entry store receives a full (just under 1,000,000
 * bytes) relay Response through evolu_client_handle. The message stays in
 * host memory and is read through cursors (the reader validates once, then
 * iterates in place); the index and the changes live on the host. The device
 * side is the store's state, the client's reply builder and reply buffer
 * (static RAM, counted by sizeof) and the stack (painted under QEMU: the
 * deepest stack the round used). Runs on the host too (no stack figure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/protocol.h"
#include "evolu/rbsr.h"
#include "evolu/stream_store.h"
#include "vec.h"

#define DEVICE_ENTRIES 10000u
#define MAX_NEW 12000u
#define CHANGE_LEN 96u
#define RAM_BUDGET 16384u
#define RUST_PORT_BYTES 200000u /* spec 11: ~200 KB buffered per sync round */

static const uint8_t OWNER[16] = {0xf1, 0x2f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
static const uint8_t KEY[16] = {0x39, 0x2f, 0x33, 0x9d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* --- the host: two index buffers swapped on commit; changes are one constant
 * pattern, so blobs are counted, not kept ----------------------------------------- */

typedef struct lhost {
    uint8_t *gen[2];
    size_t len[2], cap;
    int cur;
    bool writing;
    uint64_t puts;
    uint8_t change[CHANGE_LEN];
    evolu_stream_trusted saved;
} lhost;

static evolu_err lh_size(void *ctx, uint64_t *len) {
    lhost *h = ctx;
    *len = h->len[h->cur];
    return EVOLU_OK;
}
static evolu_err lh_read(void *ctx, uint64_t off, uint8_t *buf, size_t n) {
    lhost *h = ctx;
    if (off > h->len[h->cur] || n > h->len[h->cur] - off) return EVOLU_E_STORAGE;
    memcpy(buf, h->gen[h->cur] + off, n);
    return EVOLU_OK;
}
static evolu_err lh_begin(void *ctx) {
    lhost *h = ctx;
    h->len[!h->cur] = 0;
    h->writing = true;
    return EVOLU_OK;
}
static evolu_err lh_append(void *ctx, const uint8_t *p, size_t n) {
    lhost *h = ctx;
    if (!h->writing || n > h->cap - h->len[!h->cur]) return EVOLU_E_STORAGE;
    memcpy(h->gen[!h->cur] + h->len[!h->cur], p, n);
    h->len[!h->cur] += n;
    return EVOLU_OK;
}
static evolu_err lh_commit(void *ctx) {
    lhost *h = ctx;
    h->cur = !h->cur;
    h->writing = false;
    return EVOLU_OK;
}
static void lh_abort(void *ctx) {
    ((lhost *)ctx)->writing = false;
}
static evolu_err lh_put(void *ctx, const uint8_t ts[16], const uint8_t *p, size_t n) {
    lhost *h = ctx;
    (void)ts;
    if (n != CHANGE_LEN || memcmp(p, h->change, n) != 0) return EVOLU_E_STORAGE;
    h->puts++;
    return EVOLU_OK;
}
static evolu_err lh_blob_size(void *ctx, const uint8_t ts[16], size_t *n) {
    (void)ctx, (void)ts;
    *n = CHANGE_LEN;
    return EVOLU_OK;
}
static evolu_err lh_blob_read(void *ctx, const uint8_t ts[16], size_t off, uint8_t *b, size_t n) {
    lhost *h = ctx;
    (void)ts;
    if (off > CHANGE_LEN || n > CHANGE_LEN - off) return EVOLU_E_STORAGE;
    memcpy(b, h->change + off, n);
    return EVOLU_OK;
}
static evolu_err lh_save(void *ctx, const evolu_stream_trusted *t) {
    ((lhost *)ctx)->saved = *t;
    return EVOLU_OK;
}

/* --- painted stack (device only) ------------------------------------------------------- */

#ifdef EVOLU_DEVICE
extern uint32_t __stack_limit[];
#define PAINT 0xC5C5C5C5u /* the startup's pattern: its own high-water report stays right */
static uintptr_t g_painted_top;
static void __attribute__((noinline)) paint_stack(void) {
    uint32_t *sp = (uint32_t *)__builtin_frame_address(0);
    g_painted_top = (uintptr_t)sp;
    for (uint32_t *p = __stack_limit; p < sp - 64; p++) *p = PAINT;
}
static size_t painted_peak(void) {
    const uint32_t *p = __stack_limit;
    while ((uintptr_t)p < g_painted_top && *p == PAINT) p++;
    return (size_t)(g_painted_top - (uintptr_t)p);
}
#endif

/* --- the device's state for the round (static RAM) ------------------------------------- */

static evolu_stream_store g_store;
static evolu_msg_entry g_msgs[8];
static evolu_range_entry g_ranges[48];
static uint8_t g_arena[48 * EVOLU_RBSR_ARENA_PER_RANGE];
static uint8_t g_reply[1024];

static evolu_timestamp ts_at(uint64_t millis) {
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = millis;
    memset(t.node_id, 0x42, sizeof t.node_id);
    return t;
}

int main(void) {
    const evolu_port *port = vec_port();
    lhost *h = calloc(1, sizeof *h);
    evolu_timestamp *ts = malloc(MAX_NEW * sizeof *ts);
    const uint8_t **ch = malloc(MAX_NEW * sizeof *ch);
    size_t *lens = malloc(MAX_NEW * sizeof *lens);
    evolu_msg_entry *hmsgs = malloc(MAX_NEW * sizeof *hmsgs);
    uint8_t *msg = malloc(EVOLU_PROTOCOL_MAX_SIZE);
    if (!h || !ts || !ch || !lens || !hmsgs || !msg) return 2;
    h->cap = ((DEVICE_ENTRIES + MAX_NEW) / EVOLU_STREAM_CHUNK_ENTRIES + 2) *
             EVOLU_STREAM_RECORD_BYTES;
    h->gen[0] = malloc(h->cap);
    h->gen[1] = malloc(h->cap);
    if (!h->gen[0] || !h->gen[1]) return 2;
    for (unsigned i = 0; i < CHANGE_LEN; i++) h->change[i] = (uint8_t)(i * 7 + 1);
    evolu_stream_host host = {h, lh_size, lh_read, lh_begin, lh_append, lh_commit, lh_abort,
                              lh_put, lh_blob_size, lh_blob_read};
    evolu_stream_trusted trusted;
    memset(&trusted, 0, sizeof trusted);
    port->random(port->ctx, trusted.key, sizeof trusted.key);
    evolu_stream_config cfg = {port, &host, &trusted, h, lh_save, NULL, 0};
    evolu_stream_store_init(&g_store, &cfg);
    CHECK(evolu_stream_store_open(&g_store) == EVOLU_OK);

    /* the device's 10,000 entries (even millis), merged in batches of 1,000 */
    const uint64_t base = 1700000000000ULL;
    for (unsigned b = 0; b < DEVICE_ENTRIES / 1000; b++) {
        for (unsigned i = 0; i < 1000; i++) {
            ts[i] = ts_at(base + 2 * (b * 1000 + i));
            ch[i] = h->change;
            lens[i] = CHANGE_LEN;
        }
        evolu_store_array_batch arr;
        evolu_store_batch batch;
        evolu_store_batch_from_array(&batch, &arr, ts, ch, lens, 1000);
        if (evolu_stream_store_merge(&g_store, &batch, NULL) != EVOLU_OK) return 2;
    }
    CHECK(evolu_stream_store_count(&g_store) == DEVICE_ENTRIES);

    /* the relay's Response, built in host memory: new messages (odd millis,
     * interleaved with the device's) up to the 1,000,000-byte limit, then
     * Fingerprint(infinite) of the union */
    evolu_store st;
    evolu_stream_store_table(&g_store, &st);
    uint8_t fp[12];
    CHECK(st.fingerprint(st.ctx, 0, DEVICE_ENTRIES, fp) == EVOLU_OK);
    evolu_msg_builder hb;
    static evolu_range_entry hranges[4];
    evolu_msg_builder_init(&hb, hmsgs, MAX_NEW, hranges, 4, NULL, 0);
    evolu_header hdr;
    evolu_header_response(&hdr, OWNER, 0);
    CHECK(evolu_msg_builder_begin(&hb, &hdr, 0, 0) == EVOLU_OK);
    unsigned added = 0;
    while (added < MAX_NEW && evolu_msg_builder_size(&hb) + CHANGE_LEN + 64 < 999000) {
        evolu_timestamp t = ts_at(base + 2 * added + 1);
        if (evolu_msg_builder_add_message(&hb, &t, h->change, CHANGE_LEN) != EVOLU_OK) break;
        uint8_t f[12];
        evolu_fingerprint(port, &t, f);
        evolu_fingerprint_xor(fp, f);
        added++;
    }
    CHECK(evolu_msg_builder_add_fingerprint(&hb, NULL, fp) == EVOLU_OK);
    evolu_writer w = evolu_writer_make(msg, EVOLU_PROTOCOL_MAX_SIZE);
    CHECK(evolu_msg_builder_emit(&hb, &w) == EVOLU_OK);
    size_t msg_len = w.len;

    /* the round, on the device */
    evolu_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.owner_id = OWNER;
    cc.store = &st;
    cc.write_key = KEY;
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, g_msgs, 8, g_ranges, 48, g_arena, sizeof g_arena);
    evolu_writer rw = evolu_writer_make(g_reply, sizeof g_reply);
    evolu_client_outcome out;
    memset(&out, 0, sizeof out);
    uint64_t reads0 = g_store.stats.chunk_reads, scans0 = g_store.stats.batch_scans;
#ifdef EVOLU_DEVICE
    paint_stack();
#endif
    evolu_err e = evolu_client_handle(&cc, msg, msg_len, &b, &rw, &out);
#ifdef EVOLU_DEVICE
    size_t peak = painted_peak();
#endif
    CHECK(e == EVOLU_OK && out.status == EVOLU_CLIENT_CONVERGED);
    if (e) printf("client: %s (%s)\n", evolu_errname(e), evolu_errname(out.cause));
    uint64_t n = evolu_stream_store_count(&g_store);
    uint64_t reads = g_store.stats.chunk_reads - reads0;
    CHECK(n == DEVICE_ENTRIES + added && h->puts == DEVICE_ENTRIES + added);
    CHECK(evolu_stream_store_check(&g_store) == EVOLU_OK);
    size_t stat = sizeof g_store + sizeof g_msgs + sizeof g_ranges + sizeof g_arena +
                  sizeof g_reply;
    printf("memory: a %lu-byte Response with %u messages into a %u-entry stream store "
           "(%llu entries after; %llu chunk reads, %llu passes over the message's messages)\n",
           (unsigned long)msg_len, added, DEVICE_ENTRIES, (unsigned long long)n,
           (unsigned long long)reads,
           (unsigned long long)(g_store.stats.batch_scans - scans0));
    printf("memory: static RAM of the round %lu B (store %lu, reply builder %lu, reply buffer "
           "%lu)\n", (unsigned long)stat, (unsigned long)sizeof g_store,
           (unsigned long)(sizeof g_msgs + sizeof g_ranges + sizeof g_arena),
           (unsigned long)sizeof g_reply);
#ifdef EVOLU_DEVICE
    printf("DEVICE memory: peak stack %lu B (painted) + static %lu B = %lu B of the %u B RAM "
           "budget; the Rust port buffers ~%u B per sync round (spec 11)\n",
           (unsigned long)peak, (unsigned long)stat, (unsigned long)(peak + stat), RAM_BUDGET,
           RUST_PORT_BYTES);
    CHECK(peak + stat <= RAM_BUDGET);
#else
    printf("memory: the stack is measured on the device (painted, under QEMU); the Rust port "
           "buffers ~%u B per sync round (spec 11)\n", RUST_PORT_BYTES);
    CHECK(stat <= RAM_BUDGET);
#endif
    free(h->gen[0]);
    free(h->gen[1]);
    free(h);
    free(ts);
    free(ch);
    free(lens);
    free(hmsgs);
    free(msg);
    return vec_finish();
}
