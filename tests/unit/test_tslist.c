/* test_tslist.c - the timestamp-list codec (spec 3.4) beyond the vectors: bad
 * input to the reader, unsorted input to the encoder, the ranges-section body,
 * the incremental size accountant and lists of a million items. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/tslist.h"

static int g_checked, g_failed;
#define EXPECT(c) expect((c), __LINE__, #c)
static bool expect(bool ok, int line, const char *what) {
    g_checked++;
    if (!ok) {
        printf("FAIL %s:%d: %s\n", __FILE__, line, what);
        g_failed++;
    }
    return ok;
}

static size_t unhex(const char *h, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (h[0] && h[1]) {
        if (h[0] == ' ') {
            h++;
            continue;
        }
        unsigned v;
        if (n == cap || sscanf(h, "%2x", &v) != 1) abort();
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

static evolu_timestamp ts(uint64_t millis, uint16_t counter, uint64_t node) {
    evolu_timestamp t;
    t.millis = millis;
    t.counter = counter;
    evolu_store_be(t.node_id, node, 8);
    return t;
}

/* Opens hex as a list and returns the error; checks the outer reader is left
 * where it was on failure. */
static evolu_err open_hex(const char *hex) {
    uint8_t buf[256];
    size_t n = unhex(hex, buf, sizeof buf);
    evolu_reader r = evolu_reader_make(buf, n);
    evolu_tslist_reader lr;
    evolu_err e = evolu_tslist_open(&lr, &r);
    if (e) EXPECT(r.pos == 0);
    return e;
}

static void bad_input(void) {
    /* the valid single-item list: 01 | 00 | 00 01 | node 01 */
    EXPECT(open_hex("01 00 0001 000000000000000001") == EVOLU_OK);
    /* run length 0 (counters, then nodeIds) */
    EXPECT(open_hex("01 00 0000 000000000000000001") == EVOLU_E_RUN_LENGTH);
    EXPECT(open_hex("01 00 0001 000000000000000000 00") == EVOLU_E_RUN_LENGTH);
    /* run longer than the items still missing */
    EXPECT(open_hex("01 00 0002 000000000000000001") == EVOLU_E_RUN_LENGTH);
    EXPECT(open_hex("02 00 00 0001 0102 000000000000000002") == EVOLU_E_RUN_LENGTH);
    EXPECT(open_hex("02 00 00 0002 000000000000000001 0000000000000000 02") ==
           EVOLU_E_RUN_LENGTH);
    /* counter runs that stop short: the next run is read from the nodeId
     * section (value 00, run 00) */
    EXPECT(open_hex("02 00 00 0001 000000000000000002") == EVOLU_E_RUN_LENGTH);
    /* nodeId runs that stop short: the input ends inside the next run */
    EXPECT(open_hex("02 00 00 0002 000000000000000001 00000000") == EVOLU_E_TRUNCATED);
    /* counter above 65535 */
    EXPECT(open_hex("01 00 808004 01 000000000000000001") == EVOLU_E_COUNTER);
    EXPECT(open_hex("01 00 ffff03 01 000000000000000001") == EVOLU_OK);
    /* millis: one delta of 2^48 - 1, and a cumulative overflow */
    EXPECT(open_hex("01 ffffffffffff3f 0001 000000000000000001") == EVOLU_E_MILLIS);
    EXPECT(open_hex("01 feffffffffff3f 0001 000000000000000001") == EVOLU_OK);
    EXPECT(open_hex("02 feffffffffff3f 01 0002 000000000000000002") == EVOLU_E_MILLIS);
    EXPECT(open_hex("02 feffffffffff3f 00 0002 000000000000000002") == EVOLU_OK);
    /* a delta above 2^53-1 or an unterminated varint */
    EXPECT(open_hex("01 ffffffffffffff7f 0001 000000000000000001") == EVOLU_E_VARINT);
    EXPECT(open_hex("01 8080808080808080 00 0001 000000000000000001") == EVOLU_E_VARINT);
    /* counts the bytes cannot hold are rejected before any loop */
    EXPECT(open_hex("ffffffffffffff0f 00 0001 000000000000000001") == EVOLU_E_TRUNCATED);
    EXPECT(open_hex("0c 00 0001 000000000000000001") == EVOLU_E_TRUNCATED);
    EXPECT(open_hex("") == EVOLU_E_TRUNCATED);
    EXPECT(open_hex("80") == EVOLU_E_TRUNCATED);

    /* every proper prefix of a valid list fails, and nothing is read past len */
    uint8_t buf[64];
    size_t n = unhex("05 80d095ffbc31 00 05 00 e307 0001 0101 0003 0123456789abcdef 03 "
                     "fedcba9876543210 02",
                     buf, sizeof buf);
    for (size_t k = 0; k < n; k++) {
        uint8_t *copy = malloc(k ? k : 1); /* exact size so ASan sees overreads */
        memcpy(copy, buf, k);
        evolu_reader r = evolu_reader_make(copy, k);
        evolu_tslist_reader lr;
        evolu_err e = evolu_tslist_open(&lr, &r);
        EXPECT(e == EVOLU_E_TRUNCATED && r.pos == 0);
        free(copy);
    }
    /* trailing bytes stay in the outer reader */
    buf[n] = 0xaa;
    evolu_reader r = evolu_reader_make(buf, n + 1);
    evolu_tslist_reader lr;
    EXPECT(evolu_tslist_open(&lr, &r) == EVOLU_OK && r.pos == n && evolu_reader_left(&r) == 1);
}

static void encoder_errors(void) {
    evolu_timestamp l[3] = {ts(5, 0, 1), ts(4, 0, 1), ts(6, 0, 1)};
    uint8_t out[64];
    evolu_writer w = evolu_writer_make(out, sizeof out);
    EXPECT(evolu_tslist_encode(&w, l, 3) == EVOLU_E_ORDER && w.len == 0 &&
           w.err == EVOLU_E_ORDER);
    w = evolu_writer_make(out, sizeof out);
    EXPECT(evolu_tslist_encode_body(&w, l, 3) == EVOLU_E_ORDER && w.len == 0);
    l[1] = ts(EVOLU_MAX_MILLIS + 1, 0, 1);
    w = evolu_writer_make(out, sizeof out);
    EXPECT(evolu_tslist_encode(&w, l, 3) == EVOLU_E_MILLIS);
    /* equal millis are fine (delta 0) */
    l[1] = ts(5, 0, 1);
    w = evolu_writer_make(out, sizeof out);
    EXPECT(evolu_tslist_encode(&w, l, 3) == EVOLU_OK);
    /* a small writer keeps counting */
    evolu_writer small = evolu_writer_make(out, 3);
    EXPECT(evolu_tslist_encode(&small, l, 3) == EVOLU_E_BUFFER && small.len == w.len);

    /* the size accountant refuses the same inputs and stays unchanged */
    evolu_tslist_size s;
    evolu_tslist_size_init(&s);
    evolu_timestamp a = ts(5, 0, 1), b = ts(4, 0, 1), c = ts(EVOLU_MAX_MILLIS + 1, 0, 1);
    EXPECT(evolu_tslist_size_add(&s, &a) == EVOLU_OK);
    uint64_t len = evolu_tslist_size_len(&s);
    EXPECT(evolu_tslist_size_add(&s, &b) == EVOLU_E_ORDER && evolu_tslist_size_len(&s) == len);
    EXPECT(evolu_tslist_size_add(&s, &c) == EVOLU_E_MILLIS && evolu_tslist_size_len(&s) == len);
}

/* Spec 4.4 example: 3 ranges, 2 finite bounds {1700000000000,1,N}, {.., 7, N}. */
static void ranges_body(void) {
    uint8_t want[64], got[64];
    size_t wn = unhex("03 80d095ffbc31 00 0101 0701 0123456789abcdef 02", want, sizeof want);
    evolu_timestamp b[2] = {ts(1700000000000, 1, 0x0123456789abcdefULL),
                            ts(1700000000000, 7, 0x0123456789abcdefULL)};
    evolu_writer w = evolu_writer_make(got, sizeof got);
    evolu_put_varint(&w, 3);
    EXPECT(evolu_tslist_encode_body(&w, b, 2) == EVOLU_OK && w.len == wn &&
           !memcmp(got, want, wn));

    evolu_tslist_size s;
    evolu_tslist_size_init(&s);
    for (int i = 0; i < 2; i++) EXPECT(evolu_tslist_size_add(&s, &b[i]) == EVOLU_OK);
    EXPECT(evolu_tslist_size_len_plus(&s, 1) == wn);
    EXPECT(evolu_tslist_size_body_len(&s) == wn - 1);
    evolu_tslist_size_add_infinite(&s);
    EXPECT(evolu_tslist_size_len(&s) == wn && s.count == 3);

    evolu_reader r = evolu_reader_make(want, wn);
    uint64_t count;
    EXPECT(evolu_get_varint(&r, &count) == EVOLU_OK && count == 3);
    evolu_tslist_reader lr;
    EXPECT(evolu_tslist_open_body(&lr, &r, count - 1) == EVOLU_OK && evolu_reader_left(&r) == 0);
    evolu_timestamp t;
    for (int i = 0; i < 2; i++)
        EXPECT(evolu_tslist_next(&lr, &t) == EVOLU_OK && evolu_timestamp_cmp(&t, &b[i]) == 0);
    EXPECT(evolu_tslist_next(&lr, &t) == EVOLU_E_DONE);
    /* rewind replays the same list */
    evolu_tslist_rewind(&lr);
    EXPECT(evolu_tslist_next(&lr, &t) == EVOLU_OK && evolu_timestamp_cmp(&t, &b[0]) == 0);

    /* R = 1: an empty body is valid and reads nothing */
    uint8_t one = 0x01;
    r = evolu_reader_make(&one, 1);
    EXPECT(evolu_tslist_open(&lr, &r) == EVOLU_E_TRUNCATED);
    r = evolu_reader_make(NULL, 0);
    EXPECT(evolu_tslist_open_body(&lr, &r, 0) == EVOLU_OK && evolu_tslist_count(&lr) == 0 &&
           evolu_tslist_next(&lr, &t) == EVOLU_E_DONE);
}

/* A deterministic generator of a sorted list, so a million items need no array. */
typedef struct gen {
    uint64_t seed;
} gen;

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Item i: millis grows by 0..2 per step (many equal millis), counters and
 * nodeIds change now and then so runs of many lengths appear. */
static evolu_timestamp gen_item(uint64_t seed, size_t i) {
    uint64_t h = mix(seed ^ (i / 3));
    evolu_timestamp t;
    t.millis = 1700000000000ULL + i / 2 + (i / 5);
    t.counter = (uint16_t)((h & 7) == 0 ? (h >> 8) : (i / 1000));
    evolu_store_be(t.node_id, mix(seed + (i / 97) % 3), 8);
    return t;
}

static evolu_err gen_get(void *ctx, size_t i, evolu_timestamp *out) {
    *out = gen_item(((gen *)ctx)->seed, i);
    return EVOLU_OK;
}

static void big_lists(void) {
    const size_t sizes[] = {0, 1, 2, 3, 127, 128, 129, 1000, 16384, 1000000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        gen g = {si * 7919 + 1};
        evolu_writer m = evolu_writer_make(NULL, 0);
        EXPECT(evolu_tslist_encode_fn(&m, gen_get, &g, n) == EVOLU_E_BUFFER || n == 0);
        evolu_tslist_size s;
        evolu_tslist_size_init(&s);
        bool size_ok = true;
        for (size_t i = 0; i < n; i++) {
            evolu_timestamp t = gen_item(g.seed, i);
            size_ok = size_ok && evolu_tslist_size_add(&s, &t) == EVOLU_OK;
        }
        EXPECT(size_ok && evolu_tslist_size_len(&s) == m.len);

        uint8_t *buf = malloc(m.len + 1);
        evolu_writer w = evolu_writer_make(buf, m.len);
        EXPECT(evolu_tslist_encode_fn(&w, gen_get, &g, n) == EVOLU_OK && w.len == m.len);

        evolu_reader r = evolu_reader_make(buf, w.len);
        evolu_tslist_reader lr;
        EXPECT(evolu_tslist_open(&lr, &r) == EVOLU_OK && evolu_reader_left(&r) == 0 &&
               evolu_tslist_count(&lr) == n);
        size_t k = 0;
        bool same = true;
        evolu_timestamp t;
        while (evolu_tslist_next(&lr, &t) == EVOLU_OK) {
            evolu_timestamp want = gen_item(g.seed, k);
            same = same && k < n && evolu_timestamp_cmp(&t, &want) == 0;
            k++;
        }
        EXPECT(same && k == n);
        free(buf);
    }
}

/* A list with every run of length 1 and a list with one long run. */
static void run_extremes(void) {
    enum { N = 300 };
    static evolu_timestamp l[N];
    for (int i = 0; i < N; i++) l[i] = ts((uint64_t)i, (uint16_t)i, (uint64_t)i);
    uint8_t buf[8192];
    evolu_writer w = evolu_writer_make(buf, sizeof buf);
    EXPECT(evolu_tslist_encode(&w, l, N) == EVOLU_OK);
    evolu_reader r = evolu_reader_make(buf, w.len);
    evolu_tslist_reader lr;
    EXPECT(evolu_tslist_open(&lr, &r) == EVOLU_OK);
    evolu_timestamp t;
    int k = 0;
    while (evolu_tslist_next(&lr, &t) == EVOLU_OK) EXPECT(evolu_timestamp_cmp(&t, &l[k++]) == 0);
    EXPECT(k == N);

    for (int i = 0; i < N; i++) l[i] = ts(EVOLU_MAX_MILLIS, 65535, ~0ULL);
    w = evolu_writer_make(buf, sizeof buf);
    EXPECT(evolu_tslist_encode(&w, l, N) == EVOLU_OK);
    /* 2-byte count, one 7-byte delta + 299 zero deltas, ffff03 ac02, 8 bytes ac02 */
    EXPECT(w.len == 2 + 7 + 299 + 5 + 10);
}

int main(void) {
    bad_input();
    encoder_errors();
    ranges_body();
    big_lists();
    run_extremes();
    printf("test_tslist: %d checked, %d failed\n", g_checked, g_failed);
    return g_failed ? 1 : 0;
}
