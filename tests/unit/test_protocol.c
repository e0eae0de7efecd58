/* test_protocol.c - protocol messages beyond the vectors: hostile input to the
 * reader (every truncation of every vector message, huge counts, unknown range
 * types), the builder's refusals (range after an infinite one, finite last
 * range, full arrays, unsorted input), and the size accountant at exactly its
 * limits versus one byte over. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/protocol.h"
#include "vec.h"

static const uint8_t OWNER[16] = {0xf1, 0x2f, 0x81, 0x86, 0x6f, 0x21, 0x8c, 0xec,
                                  0xfd, 0x6e, 0x24, 0x76, 0xa6, 0x37, 0x76, 0xb4};
static const uint8_t KEY[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static evolu_timestamp ts(uint64_t millis, uint16_t counter, uint64_t node) {
    evolu_timestamp t;
    t.millis = millis;
    t.counter = counter;
    evolu_store_be(t.node_id, node, 8);
    return t;
}

/* Errors a reader may give on bad input: decoding and protocol bands, limits. */
static bool typed_input_error(evolu_err e) {
    return (e >= 20 && e < 50) || (e >= 50 && e < 70) || e == EVOLU_E_LIMIT;
}

/* Iterates everything of an opened reader; true if it all reads cleanly. */
static bool walk(evolu_msg_reader *r) {
    evolu_timestamp t;
    const uint8_t *c;
    size_t n, msgs = 0, ranges = 0;
    evolu_err e;
    while ((e = evolu_msg_reader_next_message(r, &t, &c, &n)) == EVOLU_OK) {
        if (c < r->bytes || c + n > r->bytes + r->len) return false;
        msgs++;
    }
    if (e != EVOLU_E_DONE || msgs != r->n_messages) return false;
    evolu_range rg;
    while ((e = evolu_msg_reader_next_range(r, &rg)) == EVOLU_OK) {
        ranges++;
        if (rg.type == EVOLU_RANGE_TIMESTAMPS) {
            evolu_tslist_reader lr;
            if (evolu_range_timestamps(&rg, &lr)) return false;
            uint64_t k = 0;
            while (evolu_tslist_next(&lr, &t) == EVOLU_OK) k++;
            if (k != rg.n_timestamps) return false;
        }
        if (rg.infinite != (ranges == r->n_ranges)) return false;
    }
    return e == EVOLU_E_DONE && ranges == r->n_ranges;
}

/* --- every prefix of every vector message ---------------------------------------- */

static unsigned long g_prefixes;

static void truncations(const uint8_t *msg, size_t len, const char *what) {
    for (size_t cut = 0; cut <= len; cut++) {
        /* A fresh heap copy of exactly `cut` bytes so ASan catches any overread. */
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, msg, cut);
        evolu_msg_reader r;
        evolu_err e = evolu_msg_reader_open(&r, p, cut);
        bool ok = e == EVOLU_OK ? walk(&r) && r.end <= cut : typed_input_error(e);
        if (!ok) vec_check(false, "%s cut at %zu: %s", what, cut, evolu_errname(e));
        g_prefixes++;
        free(p);
    }
}

static void walk_json(const cJSON *j, const char *file) {
    if (cJSON_IsString(j)) {
        size_t n = 0;
        uint8_t *b = NULL;
        const char *s = j->valuestring;
        size_t sl = strlen(s);
        if (sl >= 34 && sl % 2 == 0 && strspn(s, "0123456789abcdef") == sl)
            b = vec_unhex_alloc(s, &n);
        if (b) {
            truncations(b, n, file);
            free(b);
        }
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, j) walk_json(c, file);
}

static void vector_truncations(void) {
    vec_section("truncations");
    const char *files[] = {"protocol_messages.json", "upstream_test_vectors.json"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", EVOLU_VECTORS_DIR, files[i]);
        FILE *f = fopen(path, "rb");
        if (!CHECK(f != NULL)) continue;
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *text = malloc((size_t)sz + 1);
        size_t got = fread(text, 1, (size_t)sz, f);
        text[got] = 0;
        fclose(f);
        cJSON *root = cJSON_Parse(text);
        free(text);
        if (!CHECK(root != NULL)) continue;
        unsigned long before = g_prefixes;
        walk_json(root, files[i]);
        CHECK(g_prefixes - before > 1000);
        cJSON_Delete(root);
    }
}

/* --- hostile input ----------------------------------------------------------------- */

/* header of a Request without key: 01 || owner || 00 00 00 */
static size_t request_header(uint8_t *p) {
    p[0] = 1;
    memcpy(p + 1, OWNER, 16);
    p[17] = 0;
    p[18] = 0;
    p[19] = 0;
    return 20;
}

static evolu_err open_bytes(const uint8_t *p, size_t n, evolu_msg_reader *r) {
    return evolu_msg_reader_open(r, p, n);
}

static void hostile(void) {
    vec_section("hostile");
    uint8_t m[128];
    evolu_msg_reader r;
    size_t h = request_header(m);

    /* Huge message count: 2^53-1 timestamps cannot fit. */
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f};
    memcpy(m + h, huge, 8);
    CHECK(open_bytes(m, h + 8, &r) == EVOLU_E_TRUNCATED);
    /* 9 continuation bytes: bad varint. */
    memset(m + h, 0x80, 9);
    CHECK(open_bytes(m, h + 9, &r) == EVOLU_E_VARINT);

    /* One message whose change claims 2^53-1 bytes. */
    static const uint8_t one_ts[] = {0x01, 0x00, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x01};
    memcpy(m + h, one_ts, sizeof one_ts);
    memcpy(m + h + sizeof one_ts, huge, 8);
    CHECK(open_bytes(m, h + sizeof one_ts + 8, &r) == EVOLU_E_TRUNCATED);
    /* ... and a valid 2-byte change. */
    m[h + sizeof one_ts] = 2;
    m[h + sizeof one_ts + 1] = 0xaa;
    m[h + sizeof one_ts + 2] = 0xbb;
    size_t base = h + sizeof one_ts + 3;
    CHECK(open_bytes(m, base, &r) == EVOLU_OK && r.n_messages == 1 && r.n_ranges == 0 &&
          walk(&r));

    /* Huge range count. */
    memcpy(m + base, huge, 8);
    CHECK(open_bytes(m, base + 8, &r) == EVOLU_E_TRUNCATED);
    /* R = 0 then garbage: no ranges, the rest is ignored. */
    m[base] = 0;
    m[base + 1] = 0xee;
    CHECK(open_bytes(m, base + 2, &r) == EVOLU_OK && r.n_ranges == 0 && r.end == base + 1);
    /* Unknown range type 3, and a multi-byte type varint. */
    m[base] = 1;
    m[base + 1] = 3;
    CHECK(open_bytes(m, base + 2, &r) == EVOLU_E_RANGE_TYPE);
    m[base + 1] = 0x81;
    m[base + 2] = 0x00; /* 1, non-minimal: Fingerprint */
    CHECK(open_bytes(m, base + 3, &r) == EVOLU_E_TRUNCATED); /* no payload */
    memset(m + base + 3, 0x11, 12);
    CHECK(open_bytes(m, base + 15, &r) == EVOLU_OK && r.n_ranges == 1 && walk(&r));
    /* Trailing bytes after the last payload are ignored. */
    m[base + 15] = 0x42;
    CHECK(open_bytes(m, base + 16, &r) == EVOLU_OK && r.end == base + 15);
    /* A Timestamps payload with a zero run length. */
    static const uint8_t bad_run[] = {1, 2, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1};
    memcpy(m + base, bad_run, sizeof bad_run);
    CHECK(open_bytes(m, base + sizeof bad_run, &r) == EVOLU_E_RUN_LENGTH);

    /* Unknown message type; message over the size limit. */
    m[17] = 3;
    CHECK(open_bytes(m, h + 1, &r) == EVOLU_E_MESSAGE_TYPE);
    m[17] = 0;
    CHECK(evolu_msg_reader_open_max(&r, m, base, base - 1) == EVOLU_E_LIMIT);
    CHECK(evolu_msg_reader_open_max(&r, m, base, base) == EVOLU_OK);
    CHECK(evolu_msg_reader_open(&r, NULL, 0) == EVOLU_E_TRUNCATED);

    /* hasWriteKey other than 1 is "no key"; unknown subscription flags are kept. */
    m[18] = 5;
    m[19] = 7;
    m[20] = 0;
    CHECK(open_bytes(m, 21, &r) == EVOLU_OK && !r.header.has_write_key &&
          r.header.subscription == 7);

    /* The 17-byte version-mismatch reply: version 1 is incomplete, version 2
     * is recognised with its owner. */
    CHECK(open_bytes(m, 17, &r) == EVOLU_E_TRUNCATED);
    m[0] = 2;
    CHECK(open_bytes(m, 17, &r) == EVOLU_E_VERSION && r.header.version == 2 &&
          !memcmp(r.header.owner_id, OWNER, 16));
    m[0] = 1;

    /* An error Response is complete after its code, as the TS client reads it. */
    m[17] = 1;
    m[18] = 3;
    CHECK(open_bytes(m, 19, &r) == EVOLU_OK && r.header.error_code == 3 && r.n_messages == 0 &&
          evolu_error_code_to_err(r.header.error_code) == EVOLU_E_QUOTA);
    m[18] = 0;
    CHECK(open_bytes(m, 19, &r) == EVOLU_E_TRUNCATED); /* code 0 needs the messages */
}

static void error_codes(void) {
    vec_section("error codes");
    CHECK(evolu_error_code_to_err(0) == EVOLU_OK);
    CHECK(evolu_error_code_to_err(1) == EVOLU_E_WRITE_KEY);
    CHECK(evolu_error_code_to_err(2) == EVOLU_E_WRITE);
    CHECK(evolu_error_code_to_err(3) == EVOLU_E_QUOTA);
    CHECK(evolu_error_code_to_err(4) == EVOLU_E_SYNC);
    CHECK(evolu_error_code_to_err(5) == EVOLU_E_ERROR_CODE);
    CHECK(evolu_error_code_to_err(255) == EVOLU_E_ERROR_CODE);
    uint8_t out[32];
    evolu_writer w = evolu_writer_make(out, sizeof out);
    CHECK(evolu_version_reply_encode(&w, 1, OWNER) == EVOLU_OK && w.len == 17 && out[0] == 1);
    w = evolu_writer_make(out, sizeof out);
    CHECK(evolu_version_reply_encode(&w, 300, OWNER) == EVOLU_OK && w.len == 18);
    evolu_header h;
    evolu_header_request(&h, OWNER, KEY, 1);
    CHECK(evolu_header_len(&h) == 36);
    h.type = 3;
    CHECK(evolu_header_len(&h) == 0);
    w = evolu_writer_make(out, sizeof out);
    CHECK(evolu_header_encode(&w, &h) == EVOLU_E_ARG);
}

/* --- builder ---------------------------------------------------------------------- */

static void builder_rules(void) {
    vec_section("builder rules");
    evolu_msg_entry msgs[2];
    evolu_range_entry ranges[3];
    uint8_t arena[8];
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, msgs, 2, ranges, 3, arena, sizeof arena);
    evolu_timestamp t1 = ts(1000, 0, 1), t2 = ts(2000, 0, 1), t0 = ts(500, 0, 1);
    uint8_t fp[12] = {0};
    evolu_header h;
    evolu_header_request(&h, OWNER, KEY, 0);

    CHECK(evolu_msg_builder_add_message(&b, &t1, (const uint8_t *)"x", 1) == EVOLU_E_STATE);
    CHECK(evolu_msg_builder_begin(&b, &h, 0, 0) == EVOLU_OK);

    /* Messages: order by millis, capacity. */
    CHECK(evolu_msg_builder_add_message(&b, &t1, (const uint8_t *)"ab", 2) == EVOLU_OK);
    CHECK(evolu_msg_builder_add_message(&b, &t0, (const uint8_t *)"ab", 2) == EVOLU_E_ORDER);
    CHECK(evolu_msg_builder_add_message(&b, &t1, (const uint8_t *)"cd", 2) == EVOLU_OK);
    CHECK(evolu_msg_builder_add_message(&b, &t2, (const uint8_t *)"ef", 2) == EVOLU_E_CAPACITY);

    /* Ranges: a finite last range cannot be emitted; nothing after infinite. */
    uint8_t out[256];
    evolu_writer w = evolu_writer_make(out, sizeof out);
    CHECK(evolu_msg_builder_add_fingerprint(&b, &t1, fp) == EVOLU_OK);
    CHECK(evolu_msg_builder_add_skip(&b, &t0) == EVOLU_E_ORDER);
    CHECK(evolu_msg_builder_emit(&b, &w) == EVOLU_E_RANGES);
    evolu_range_entry bad = ranges[0];
    bad.type = 3;
    CHECK(evolu_msg_builder_add_range(&b, &bad) == EVOLU_E_RANGE_TYPE);
    CHECK(evolu_msg_builder_add_skip(&b, NULL) == EVOLU_OK);
    CHECK(evolu_msg_builder_add_skip(&b, NULL) == EVOLU_E_RANGES);
    CHECK(evolu_msg_builder_add_skip(&b, &t2) == EVOLU_E_RANGES);

    /* Emission: full size, cap-0 measuring, a short writer. */
    w = evolu_writer_make(out, sizeof out);
    CHECK(evolu_msg_builder_emit(&b, &w) == EVOLU_OK);
    size_t full = w.len;
    /* size = emitted length + the 22-byte remainingRange margin (ranges present) */
    CHECK(evolu_msg_builder_size(&b) == full + 22);
    evolu_writer m0 = evolu_writer_make(NULL, 0);
    CHECK(evolu_msg_builder_emit(&b, &m0) == EVOLU_E_BUFFER && m0.len == full);
    evolu_writer shortw = evolu_writer_make(out, full - 1);
    CHECK(evolu_msg_builder_emit(&b, &shortw) == EVOLU_E_BUFFER && shortw.len == full);
    evolu_msg_reader r;
    CHECK(evolu_msg_reader_open(&r, out, full) == EVOLU_OK && r.n_messages == 2 &&
          r.n_ranges == 2 && walk(&r));

    /* Ranges capacity; Broadcast takes no ranges. */
    CHECK(evolu_msg_builder_begin(&b, &h, 0, 0) == EVOLU_OK);
    CHECK(!evolu_msg_builder_add_skip(&b, &t0) && !evolu_msg_builder_add_skip(&b, &t1) &&
          !evolu_msg_builder_add_skip(&b, &t2));
    CHECK(evolu_msg_builder_add_skip(&b, NULL) == EVOLU_E_CAPACITY);
    evolu_header bh;
    evolu_header_broadcast(&bh, OWNER);
    CHECK(evolu_msg_builder_begin(&b, &bh, 0, 0) == EVOLU_OK);
    CHECK(evolu_msg_builder_add_skip(&b, NULL) == EVOLU_E_STATE);

    /* Arena. */
    uint8_t *p;
    CHECK(evolu_msg_builder_alloc(&b, 5, &p) == EVOLU_OK && p == arena);
    CHECK(evolu_msg_builder_alloc(&b, 4, &p) == EVOLU_E_CAPACITY);
    evolu_msg_builder_unalloc(&b, 5);
    CHECK(evolu_msg_builder_alloc(&b, 8, &p) == EVOLU_OK);

    /* A Timestamps range from a callback must give the same bytes as from an array. */
    evolu_timestamp list[3] = {ts(10, 0, 7), ts(10, 1, 7), ts(99, 1, 8)};
    CHECK(evolu_msg_builder_begin(&b, &h, 0, 0) == EVOLU_OK);
    CHECK(evolu_msg_builder_add_timestamps(&b, NULL, list, 3) == EVOLU_OK);
    w = evolu_writer_make(out, sizeof out);
    CHECK(evolu_msg_builder_emit(&b, &w) == EVOLU_OK);
    evolu_timestamp unsorted[2] = {ts(10, 0, 7), ts(9, 0, 7)};
    CHECK(evolu_msg_builder_begin(&b, &h, 0, 0) == EVOLU_OK);
    CHECK(evolu_msg_builder_add_timestamps(&b, NULL, unsorted, 2) == EVOLU_E_ORDER);
}

/* --- size accountant at its limits ---------------------------------------------------- */

static void size_limits(void) {
    vec_section("size limits");
    CHECK(evolu_protocol_limits_valid(1000000, 30000));
    CHECK(evolu_protocol_limits_valid(100000000, 3000));
    CHECK(!evolu_protocol_limits_valid(999999, 30000));
    CHECK(!evolu_protocol_limits_valid(100000001, 30000));
    CHECK(!evolu_protocol_limits_valid(1000000, 2999));
    CHECK(!evolu_protocol_limits_valid(1000000, 100001));

    evolu_msg_size s;
    CHECK(evolu_msg_size_init(&s, 36, EVOLU_PROTOCOL_SIZE_FLOOR - 1, 0) == EVOLU_E_ARG);
    CHECK(evolu_msg_size_init(&s, 36, EVOLU_PROTOCOL_MAX_SIZE_MAX + 1, 0) == EVOLU_E_ARG);
    CHECK(evolu_msg_size_init(&s, 36, 0, EVOLU_PROTOCOL_RANGES_MAX_SIZE_MAX + 1) == EVOLU_E_ARG);
    CHECK(evolu_msg_size_init(&s, 36, 0, 0) == EVOLU_OK && s.total_max == 1000000 &&
          s.ranges_max == 30000);

    /* canAddMessage: size + 60 + len <= 300; header 36 + empty list 1. */
    CHECK(evolu_msg_size_init(&s, 36, 300, 0) == EVOLU_OK);
    CHECK(evolu_msg_size_total(&s) == 37 && evolu_msg_size_ranges(&s) == 0);
    CHECK(evolu_msg_size_can_add_message(&s, 300 - 37 - 60));
    CHECK(!evolu_msg_size_can_add_message(&s, 300 - 37 - 60 + 1));

    /* addMessage: exactly totalMaxSize is allowed, one more byte is not.
     * One timestamp {1,0,n}: list = 01 01 00 01 n(8) 01 = 13 bytes (+12 to 37 gives 49);
     * a change of len L adds varint(L) + L. 49 + 2 + 249 = 300. */
    evolu_timestamp t = ts(1, 0, 1);
    CHECK(evolu_msg_size_add_message(&s, &t, 250) == EVOLU_E_LIMIT);
    /* unchanged on error */
    CHECK(evolu_msg_size_total(&s) == 37 && s.msgs_ts.count == 0 && s.changes == 0);
    CHECK(evolu_msg_size_add_message(&s, &t, 249) == EVOLU_OK && evolu_msg_size_total(&s) == 300);

    /* canSplitRange: rangesSize + 800 <= rangesMax. One infinite Skip:
     * list 01 (count only) + type 1 + payload 0 + 22 = 24. */
    CHECK(evolu_msg_size_init(&s, 36, 0, 824) == EVOLU_OK);
    CHECK(evolu_msg_size_can_split_range(&s)); /* no ranges yet: 0 + 800 */
    CHECK(evolu_msg_size_add_range(&s, EVOLU_RANGE_SKIP, NULL, 0) == EVOLU_OK);
    CHECK(evolu_msg_size_ranges(&s) == 24);
    CHECK(evolu_msg_size_can_split_range(&s));
    CHECK(evolu_msg_size_init(&s, 36, 0, 823) == EVOLU_OK);
    CHECK(evolu_msg_size_add_range(&s, EVOLU_RANGE_SKIP, NULL, 0) == EVOLU_OK);
    CHECK(!evolu_msg_size_can_split_range(&s));

    /* The ranges list counts only what was added: a finite bound first
     * (count 1 + body 12 = 13), then the infinite one bumps only the count. */
    CHECK(evolu_msg_size_init(&s, 36, 0, 0) == EVOLU_OK);
    CHECK(evolu_msg_size_add_range(&s, EVOLU_RANGE_FINGERPRINT, &t, 12) == EVOLU_OK);
    CHECK(evolu_msg_size_ranges(&s) == 13 + 1 + 12 + 22);
    CHECK(evolu_msg_size_add_range(&s, EVOLU_RANGE_SKIP, NULL, 0) == EVOLU_OK);
    CHECK(evolu_msg_size_ranges(&s) == 13 + 2 + 12 + 22);

    /* canAddTimestampsRangeAndMessage: r = rangesSize + tsLen + 50 <= rangesMax
     * and header + msgs + r + 60 + len <= totalMax. */
    CHECK(evolu_msg_size_init(&s, 36, 300, 100) == EVOLU_OK);
    CHECK(evolu_msg_size_can_add_timestamps_range_and_message(&s, 50, false, 0));
    CHECK(!evolu_msg_size_can_add_timestamps_range_and_message(&s, 51, false, 0));
    /* 37 + (1 + 50) + 60 + L <= 300 -> L <= 152 */
    CHECK(evolu_msg_size_can_add_timestamps_range_and_message(&s, 1, true, 152));
    CHECK(!evolu_msg_size_can_add_timestamps_range_and_message(&s, 1, true, 153));
}

/* --- push and broadcast limits -------------------------------------------------------- */

static void push_edges(void) {
    vec_section("push");
    static const uint8_t name[] = "title";
    static const uint8_t val[] = "hello";
    evolu_column col = {name, 5, {EVOLU_VALUE_TEXT, 0, val, 5}};
    evolu_crdt_message m[2];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 2; i++) {
        m[i].timestamp = ts(1000 + (uint64_t)i, 0, 3);
        m[i].change.table = (const uint8_t *)"todo";
        m[i].change.table_len = 4;
        m[i].change.columns = &col;
        m[i].change.n_columns = 1;
        m[i].change.is_delete = -1;
    }
    evolu_owner o;
    memset(&o, 7, sizeof o);
    uint8_t random[24 * 2 + 12];
    for (size_t i = 0; i < sizeof random; i++) random[i] = (uint8_t)i;

    /* Nothing fits: one nonce drawn, then the 12-byte random fingerprint. */
    vec_fixed_port fp;
    vec_fixed_port_init(&fp, random, sizeof random, 0);
    evolu_msg_entry entries[2];
    evolu_range_entry ranges[1];
    uint8_t arena[512];
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, entries, 2, ranges, 1, arena, sizeof arena);
    size_t included = 99;
    evolu_err e = evolu_push_build(&b, &fp.port, &o, m, 2, 100, &included);
    CHECK(e == EVOLU_OK && included == 0 && fp.random_pos == 24 + 12);
    uint8_t out[1024];
    evolu_writer w = evolu_writer_make(out, sizeof out);
    CHECK(evolu_msg_builder_emit(&b, &w) == EVOLU_OK && w.len == 36 + 1 + 1 + 1 + 12 &&
          !memcmp(out + w.len - 12, random + 24, 12));

    /* All fit: two nonces, no fingerprint. */
    vec_fixed_port_init(&fp, random, sizeof random, 0);
    e = evolu_push_build(&b, &fp.port, &o, m, 2, 0, &included);
    CHECK(e == EVOLU_OK && included == 2 && fp.random_pos == 48 && b.n_ranges == 0);

    /* Arena too small for the encrypted change: a typed capacity error. */
    evolu_msg_builder_init(&b, entries, 2, ranges, 1, arena, 16);
    vec_fixed_port_init(&fp, random, sizeof random, 0);
    CHECK(evolu_push_build(&b, &fp.port, &o, m, 2, 0, &included) == EVOLU_E_CAPACITY);

    /* Broadcast of a request under a too-small limit is refused, not truncated. */
    evolu_msg_builder_init(&b, entries, 2, ranges, 1, arena, sizeof arena);
    vec_fixed_port_init(&fp, random, sizeof random, 0);
    CHECK(evolu_push_build(&b, &fp.port, &o, m, 2, 0, &included) == EVOLU_OK);
    w = evolu_writer_make(out, sizeof out);
    CHECK(evolu_msg_builder_emit(&b, &w) == EVOLU_OK);
    evolu_msg_reader r;
    CHECK(evolu_msg_reader_open(&r, out, w.len) == EVOLU_OK && r.n_messages == 2);
    evolu_msg_entry bentries[2];
    evolu_msg_builder bb;
    evolu_msg_builder_init(&bb, bentries, 2, NULL, 0, NULL, 0);
    CHECK(evolu_msg_build_broadcast(&bb, &r, 64) == EVOLU_E_LIMIT);
    CHECK(evolu_msg_build_broadcast(&bb, &r, 0) == EVOLU_OK && bb.n_msgs == 2);
    uint8_t bout[1024];
    evolu_writer bw = evolu_writer_make(bout, sizeof bout);
    CHECK(evolu_msg_builder_emit(&bb, &bw) == EVOLU_OK);
    /* same messages section; header 36 -> 18 bytes */
    CHECK(bw.len == w.len - 18 && !memcmp(bout + 18, out + 36, bw.len - 18));
}

int main(void) {
    vector_truncations();
    hostile();
    error_codes();
    builder_rules();
    size_limits();
    push_edges();
    printf("%lu prefixes of vector messages opened\n", g_prefixes);
    return vec_finish();
}
