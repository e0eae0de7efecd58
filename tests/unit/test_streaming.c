/* test_streaming.c - bounded-RAM streaming (issue 6 item 3): a 1,000,000-byte
 * Response parsed through a 1 KB window with the same results as the in-memory
 * reader (and the same error for every truncation and for mutated bytes); the
 * same message built and emitted piece by piece through a 1 KB sink buffer
 * with the same bytes as the in-memory emit and the size accountant's exact
 * size; the streaming AEAD byte for byte against libsodium's one-shot
 * XChaCha20-Poly1305; a 200 KB EncryptedDbChange decrypted through a 2 KB
 * window with the same columns as the one-shot path, tampering (also between
 * the two passes) detected, and a column larger than the window refused with
 * EVOLU_E_LIMIT, never cut. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/dbchange.h"
#include "evolu/port_stream.h"
#include "evolu/protocol.h"
#include "evolu/source.h"
#include "vec.h"

/* --- deterministic bytes ----------------------------------------------------------- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static void fill_rnd(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rnd();
}
/* Message i's change is g_pool[i .. i + g_change_len) (overlapping windows of
 * random bytes: every change differs, and a callback can produce it). */
#define N_MAX 11000
#define CHANGE_LEN 90
static uint8_t g_pool[N_MAX + CHANGE_LEN];
static uint8_t change_byte(size_t i, size_t j) { return g_pool[i + j]; }

/* --- a counting source over memory, optionally failing or switching bytes ----------- */

typedef struct csrc {
    const uint8_t *p;
    uint64_t reads, bytes, max_read;
    uint64_t fail_at;                 /* fail the read that reaches this offset (0 = never) */
    const uint8_t *second;            /* served instead of p after `switch_after` reads */
    uint64_t switch_after;
} csrc;

static evolu_err csrc_read(void *ctx, uint64_t off, uint8_t *buf, size_t n) {
    csrc *c = ctx;
    c->reads++;
    c->bytes += n;
    if (n > c->max_read) c->max_read = n;
    if (c->fail_at && off + n > c->fail_at) return EVOLU_E_STORAGE;
    const uint8_t *from = (c->second && c->reads > c->switch_after) ? c->second : c->p;
    memcpy(buf, from + off, n);
    return EVOLU_OK;
}

static evolu_source csource(csrc *c, const uint8_t *p, size_t len) {
    memset(c, 0, sizeof *c);
    c->p = p;
    evolu_source s = {c, len, csrc_read};
    return s;
}

/* --- building the big message -------------------------------------------------------- */

static evolu_msg_entry g_msgs_a[N_MAX], g_msgs_b[N_MAX];
static evolu_range_entry g_ranges_a[8], g_ranges_b[8];
static evolu_timestamp g_range_ts[40];
static const size_t g_change_len = CHANGE_LEN;

static evolu_timestamp mk_ts(uint64_t millis, uint16_t counter, uint8_t node) {
    evolu_timestamp t;
    t.millis = millis;
    t.counter = counter;
    memset(t.node_id, node, sizeof t.node_id);
    return t;
}

/* The same message twice: a with every change in memory, b with every third
 * change added by reference (produced at emit time by change_cb). */
static void build(evolu_msg_builder *a, evolu_msg_builder *b, size_t total_max) {
    uint8_t owner[16];
    memset(owner, 0x42, sizeof owner);
    evolu_header h;
    evolu_header_response(&h, owner, 0);
    evolu_msg_builder_init(a, g_msgs_a, N_MAX, g_ranges_a, 8, NULL, 0);
    evolu_msg_builder_init(b, g_msgs_b, N_MAX, g_ranges_b, 8, NULL, 0);
    CHECK(evolu_msg_builder_begin(a, &h, total_max, 0) == EVOLU_OK);
    CHECK(evolu_msg_builder_begin(b, &h, total_max, 0) == EVOLU_OK);

    uint8_t fp[12];
    for (size_t i = 0; i < 40; i++) g_range_ts[i] = mk_ts(1700000000000ull + i * 3, (uint16_t)(i / 7), (uint8_t)(i / 5));
    evolu_timestamp b1 = mk_ts(1600000000000ull, 0, 1), b2 = mk_ts(1700000000000ull, 5, 2);
    evolu_timestamp b3 = mk_ts(1800000000000ull, 0, 3);
    for (int k = 0; k < 2; k++) {
        evolu_msg_builder *x = k ? b : a;
        memset(fp, 0xa5, sizeof fp);
        CHECK(evolu_msg_builder_add_fingerprint(x, &b1, fp) == EVOLU_OK);
        CHECK(evolu_msg_builder_add_skip(x, &b2) == EVOLU_OK);
        CHECK(evolu_msg_builder_add_timestamps(x, &b3, g_range_ts, 40) == EVOLU_OK);
        memset(fp, 0x5a, sizeof fp);
        CHECK(evolu_msg_builder_add_fingerprint(x, NULL, fp) == EVOLU_OK);
    }
    size_t n = 0;
    uint64_t millis = 1650000000000ull;
    while (n < N_MAX && evolu_msg_builder_can_add_message(a, g_change_len)) {
        millis += rnd() % 3;
        /* One rnd() per statement: argument order is unspecified in C. */
        uint16_t counter = 0;
        uint8_t node = 7;
        if (rnd() % 4 == 0) counter = (uint16_t)(rnd() % 5);
        if (rnd() % 8 == 0) node = (uint8_t)(1 + rnd() % 3);
        evolu_timestamp t = mk_ts(millis, counter, node);
        const uint8_t *c = g_pool + n;
        CHECK(evolu_msg_builder_add_message(a, &t, c, g_change_len) == EVOLU_OK);
        if (n % 3 == 0)
            CHECK(evolu_msg_builder_add_message_ref(b, &t, g_change_len) == EVOLU_OK);
        else
            CHECK(evolu_msg_builder_add_message(b, &t, c, g_change_len) == EVOLU_OK);
        n++;
    }
}

static evolu_err change_cb(void *ctx, size_t i, const evolu_msg_entry *m, evolu_swriter *w) {
    (void)ctx;
    uint8_t piece[37];
    for (size_t j = 0; j < m->change_len;) {
        size_t k = m->change_len - j < sizeof piece ? m->change_len - j : sizeof piece;
        for (size_t q = 0; q < k; q++) piece[q] = change_byte(i, j + q);
        evolu_swriter_bytes(w, piece, k);
        j += k;
    }
    return w->err;
}

static evolu_err short_cb(void *ctx, size_t i, const evolu_msg_entry *m, evolu_swriter *w) {
    (void)ctx;
    (void)i;
    uint8_t one = 0;
    if (m->change_len) evolu_swriter_bytes(w, &one, 1);
    return w->err;
}

/* A sink that compares what it gets with the expected bytes (no copy kept). */
typedef struct cmp_sink {
    const uint8_t *want;
    size_t len, cap, calls, max_piece;
    bool differs;
} cmp_sink;

static evolu_err cmp_write(void *ctx, const uint8_t *p, size_t n) {
    cmp_sink *s = ctx;
    s->calls++;
    if (n > s->max_piece) s->max_piece = n;
    if (n > s->cap - s->len) return EVOLU_E_BUFFER;
    if (memcmp(s->want + s->len, p, n)) s->differs = true;
    s->len += n;
    return EVOLU_OK;
}

/* --- comparing the readers --------------------------------------------------------- */

static bool ts_eq(const evolu_timestamp *a, const evolu_timestamp *b) {
    return a->millis == b->millis && a->counter == b->counter &&
           !memcmp(a->node_id, b->node_id, sizeof a->node_id);
}

/* Parses bytes[0..len) both ways; true if both give the same result. */
static bool same_parse(const uint8_t *bytes, size_t len, size_t window_len, evolu_err *out_err,
                       csrc *stats) {
    evolu_msg_reader m;
    evolu_msg_sreader s;
    static uint8_t window[4096];
    csrc local;
    csrc *c = stats ? stats : &local;
    evolu_source src = csource(c, bytes, len);
    evolu_err em = evolu_msg_reader_open_max(&m, bytes, len, 0);
    evolu_err es = evolu_msg_sreader_open(&s, &src, window, window_len, 0);
    if (out_err) *out_err = em;
    if (em != es) {
        fprintf(stderr, "open: memory %s, stream %s\n", evolu_errname(em), evolu_errname(es));
        return false;
    }
    if (em) return true;
    if (memcmp(&m.header, &s.header, sizeof m.header) || m.end != s.end ||
        m.n_messages != s.n_messages || m.n_ranges != s.n_ranges)
        return false;
    for (int pass = 0; pass < 2; pass++) {
        evolu_timestamp t1, t2;
        const uint8_t *ch;
        size_t ch_len;
        uint64_t off, clen;
        for (;;) {
            evolu_err e1 = evolu_msg_reader_next_message(&m, &t1, &ch, &ch_len);
            evolu_err e2 = evolu_msg_sreader_next_message(&s, &t2, &off, &clen);
            if (e1 != e2) return false;
            if (e1) break;
            if (!ts_eq(&t1, &t2) || (size_t)(ch - bytes) != off || ch_len != clen) return false;
        }
        evolu_range r1;
        evolu_srange r2;
        for (;;) {
            evolu_err e1 = evolu_msg_reader_next_range(&m, &r1);
            evolu_err e2 = evolu_msg_sreader_next_range(&s, &r2);
            if (e1 != e2) return false;
            if (e1) break;
            if (r1.type != r2.type || r1.infinite != r2.infinite ||
                (!r1.infinite && !ts_eq(&r1.upper, &r2.upper)))
                return false;
            if (r1.type == EVOLU_RANGE_FINGERPRINT && memcmp(r1.fingerprint, r2.fingerprint, 12))
                return false;
            if (r1.type == EVOLU_RANGE_TIMESTAMPS) {
                if ((size_t)(r1.timestamps - bytes) != r2.timestamps_off ||
                    r1.timestamps_len != r2.timestamps_len || r1.n_timestamps != r2.n_timestamps)
                    return false;
                evolu_tslist_reader l1;
                evolu_stslist *l2;
                if (evolu_range_timestamps(&r1, &l1) ||
                    evolu_msg_sreader_range_timestamps(&s, &r2, &l2))
                    return false;
                for (;;) {
                    evolu_err f1 = evolu_tslist_next(&l1, &t1), f2 = evolu_stslist_next(l2, &t2);
                    if (f1 != f2) return false;
                    if (f1) break;
                    if (!ts_eq(&t1, &t2)) return false;
                }
            }
        }
        evolu_msg_reader_rewind(&m);
        evolu_msg_sreader_rewind(&s);
    }
    return true;
}

/* --- messages not kept in the builder (counted, supplied at emit time) ------------- */

static const evolu_msg_builder *g_ref;   /* the "store" the entries are read back from */
static size_t g_bad_entry = (size_t)-1;  /* this index reports a wrong length */

static evolu_err entry_cb(void *ctx, size_t i, evolu_msg_entry *out) {
    (void)ctx;
    out->timestamp = g_ref->msgs[i].timestamp;
    out->change = NULL;
    out->change_len = g_ref->msgs[i].change_len + (i == g_bad_entry ? 1 : 0);
    return EVOLU_OK;
}

/* A builder like `a` whose messages are only counted. */
static void build_counted(evolu_msg_builder *c, const evolu_msg_builder *a,
                          evolu_range_entry *ranges, size_t ranges_cap) {
    evolu_msg_builder_init(c, NULL, 0, ranges, ranges_cap, NULL, 0);
    CHECK(evolu_msg_builder_begin(c, &a->header, a->size.total_max, a->size.ranges_max) ==
          EVOLU_OK);
    for (size_t i = 0; i < a->n_ranges; i++)
        CHECK(evolu_msg_builder_add_range(c, &a->ranges[i]) == EVOLU_OK);
    for (size_t i = 0; i < a->n_msgs; i++)
        if (evolu_msg_builder_count_message(c, &a->msgs[i].timestamp, a->msgs[i].change_len))
            break;
    CHECK(c->n_msgs == a->n_msgs && evolu_msg_builder_size(c) == evolu_msg_builder_size(a));
}

static void measure_parse(const uint8_t *p, size_t len);
static void measure_build(const evolu_msg_builder *c, uint64_t want);

static void big_message(void) {
    fill_rnd(g_pool, sizeof g_pool);
    static evolu_msg_builder a, b;
    build(&a, &b, 0);
    uint64_t size = evolu_msg_builder_size(&a);
    printf("built: %lu messages, %lu ranges, accountant size %lu\n", (unsigned long)a.n_msgs, (unsigned long)a.n_ranges,
           (unsigned long)size);
    CHECK(size > 990000 && size <= EVOLU_PROTOCOL_MAX_SIZE);
    CHECK(evolu_msg_builder_size(&b) == size);
    /* getSize() counts the TS builder's 22-byte margin once a range exists. */
    const uint64_t margin = 22;

    /* In memory (the reference) ... */
    uint8_t *mem = malloc(EVOLU_PROTOCOL_MAX_SIZE);
    evolu_writer w = evolu_writer_make(mem, EVOLU_PROTOCOL_MAX_SIZE);
    CHECK(evolu_msg_builder_emit(&a, &w) == EVOLU_OK);
    CHECK(w.len + margin == size);
    /* ... refuses messages given by reference ... */
    evolu_writer w2 = evolu_writer_make(NULL, 0);
    CHECK(evolu_msg_builder_emit(&b, &w2) == EVOLU_E_ARG);

    /* ... and through a 1 KB buffer to a sink, piece by piece. */
    cmp_sink cs = {mem, 0, w.len, 0, 0, false};
    evolu_sink sink = {&cs, cmp_write};
    uint8_t buf[1024];
    evolu_swriter sw;
    evolu_swriter_init(&sw, &sink, buf, sizeof buf);
    CHECK(evolu_msg_builder_emit_sink(&b, &sw, change_cb, NULL) == EVOLU_OK);
    CHECK(sw.total == w.len && cs.len == w.len && !cs.differs);
    CHECK(cs.max_piece <= sizeof buf);
    printf("emit_sink: %lu bytes in %lu sink writes of <= %lu bytes, identical: %s\n",
           (unsigned long)cs.len, (unsigned long)cs.calls, (unsigned long)cs.max_piece, cs.len == w.len && !cs.differs ? "yes" : "NO");
    /* A swriter without a sink measures. */
    evolu_swriter mw;
    evolu_swriter_init(&mw, NULL, NULL, 0);
    CHECK(evolu_msg_builder_emit_sink(&b, &mw, change_cb, NULL) == EVOLU_OK && mw.total == w.len);
    /* Without the callback a referenced change cannot be produced. */
    evolu_swriter_init(&mw, NULL, NULL, 0);
    CHECK(evolu_msg_builder_emit_sink(&b, &mw, NULL, NULL) == EVOLU_E_ARG);
    /* A callback that writes the wrong length is caught. */
    evolu_swriter_init(&mw, NULL, NULL, 0);
    CHECK(evolu_msg_builder_emit_sink(&b, &mw, short_cb, NULL) == EVOLU_E_STATE);
    /* A sink that fails stops the emit with its error. */
    cmp_sink small = {mem, 0, 5000, 0, 0, false};
    evolu_sink sink2 = {&small, cmp_write};
    evolu_swriter_init(&sw, &sink2, buf, sizeof buf);
    CHECK(evolu_msg_builder_emit_sink(&b, &sw, change_cb, NULL) == EVOLU_E_BUFFER);
    CHECK(small.len <= 5000 && !small.differs);

    /* Messages only counted (no descriptors in RAM), supplied again at emit. */
    static evolu_range_entry cranges[8];
    static evolu_msg_builder cb;
    g_ref = &a;
    build_counted(&cb, &a, cranges, 8);
    cs.len = 0;
    cs.calls = 0;
    cs.differs = false;
    evolu_swriter_init(&sw, &sink, buf, sizeof buf);
    CHECK(evolu_msg_builder_emit_sink_ext(&cb, &sw, entry_cb, change_cb, NULL) == EVOLU_OK);
    CHECK(cs.len == w.len && !cs.differs);
    printf("counted messages: %lu-byte message from a %lu-byte builder with no message "
           "descriptors, identical: %s\n", (unsigned long)cs.len,
           (unsigned long)sizeof(evolu_msg_builder), cs.len == w.len && !cs.differs ? "yes" : "NO");
    evolu_swriter_init(&mw, NULL, NULL, 0);
    CHECK(evolu_msg_builder_emit(&cb, &w2) == EVOLU_E_ARG);
    CHECK(evolu_msg_builder_emit_sink_ext(&cb, &mw, NULL, change_cb, NULL) == EVOLU_E_ARG);
    g_bad_entry = 77;
    evolu_swriter_init(&mw, NULL, NULL, 0);
    CHECK(evolu_msg_builder_emit_sink_ext(&cb, &mw, entry_cb, change_cb, NULL) == EVOLU_E_STATE);
    g_bad_entry = (size_t)-1;
    evolu_timestamp t0 = a.msgs[0].timestamp;
    CHECK(evolu_msg_builder_add_message(&cb, &t0, a.msgs[0].change, 90) == EVOLU_E_STATE);
    CHECK(evolu_msg_builder_add_message_ref(&cb, &t0, 90) == EVOLU_E_STATE);
    CHECK(evolu_msg_builder_count_message(&b, &t0, 90) == EVOLU_E_STATE);

    measure_build(&cb, w.len);
    measure_parse(mem, w.len);

    /* Parsed through a 1 KB window: the same results as the in-memory reader. */
    csrc stats;
    evolu_err e;
    CHECK(same_parse(mem, w.len, 1024, &e, &stats) && e == EVOLU_OK);
    CHECK(stats.max_read <= 1024 / EVOLU_MSG_SREADER_SLICES);
    printf("sreader: %lu-byte message through a 1,024-byte window: %lu source reads, "
           "%lu bytes read, largest read %lu; sizeof(evolu_msg_sreader) = %lu\n",
           (unsigned long)w.len, (unsigned long)stats.reads, (unsigned long)stats.bytes,
           (unsigned long)stats.max_read, (unsigned long)sizeof(evolu_msg_sreader));
    /* The smallest window works too. */
    CHECK(same_parse(mem, w.len, EVOLU_MSG_SREADER_WINDOW_MIN, &e, NULL) && e == EVOLU_OK);

    /* Limits, arguments and a failing source. */
    evolu_msg_sreader s;
    uint8_t win[1024];
    csrc c;
    evolu_source src = csource(&c, mem, w.len);
    CHECK(evolu_msg_sreader_open(&s, &src, win, EVOLU_MSG_SREADER_WINDOW_MIN - 1, 0) == EVOLU_E_ARG);
    CHECK(evolu_msg_sreader_open(&s, &src, win, sizeof win, 1000) == EVOLU_E_LIMIT);
    c.fail_at = 500000;
    CHECK(evolu_msg_sreader_open(&s, &src, win, sizeof win, 0) == EVOLU_E_STORAGE);
    c.fail_at = 0;
    CHECK(evolu_msg_sreader_open(&s, &src, win, sizeof win, 0) == EVOLU_OK);
    c.fail_at = 600000; /* the host stops answering during iteration */
    evolu_timestamp t;
    uint64_t off, len;
    while ((e = evolu_msg_sreader_next_message(&s, &t, &off, &len)) == EVOLU_OK) {}
    CHECK(e == EVOLU_E_STORAGE);

    /* A smaller message of the same shape (20 KB): truncations and 400
     * mutated bytes give the in-memory reader's result. */
    build(&a, &b, 20000);
    w = evolu_writer_make(mem, EVOLU_PROTOCOL_MAX_SIZE);
    CHECK(evolu_msg_builder_emit(&a, &w) == EVOLU_OK);
    size_t ok = 0, total = 0;
    /* Every length in the header, first lists and the ranges; every 7th elsewhere. */
    for (size_t cut = 0; cut < w.len; cut += (cut < 600 || cut + 3000 > w.len) ? 1 : 7) {
        total++;
        if (same_parse(mem, cut, 512, &e, NULL)) ok++;
    }
    CHECK(ok == total);
    printf("truncations of a %lu-byte message: %lu of %lu give the same result\n",
           (unsigned long)w.len, (unsigned long)ok, (unsigned long)total);
    ok = total = 0;
    for (int k = 0; k < 400; k++) {
        size_t at = k < 200 ? rnd() % 400 : w.len - 1 - rnd() % 1500;
        uint8_t old = mem[at];
        mem[at] = (uint8_t)rnd();
        total++;
        if (same_parse(mem, w.len, 256, &e, NULL)) ok++;
        mem[at] = old;
    }
    CHECK(ok == total);
    printf("mutations: %lu of %lu give the same result\n", (unsigned long)ok,
           (unsigned long)total);
    free(mem);
}

/* --- device RAM of each streaming operation (stack painted under QEMU) ----------------- */

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
#define MEASURE_BEGIN() paint_stack()
#define MEASURE_END(what, static_bytes)                                                     \
    do {                                                                                    \
        size_t peak_ = painted_peak();                                                      \
        printf("DEVICE streaming %s: peak stack %lu B (painted) + static %lu B = %lu B\n",  \
               what, (unsigned long)peak_, (unsigned long)(static_bytes),                   \
               (unsigned long)(peak_ + (static_bytes)));                                    \
    } while (0)
#else
#define MEASURE_BEGIN() ((void)0)
#define MEASURE_END(what, static_bytes)                                                     \
    printf("streaming %s: static %lu B (the stack is measured on the device)\n", what,     \
           (unsigned long)(static_bytes))
#endif

/* Everything a device keeps to parse a message through a 1 KB window. */
static evolu_msg_sreader g_mr;
static uint8_t g_mwin[1024];
static evolu_source g_msrc;

static bool __attribute__((noinline)) parse_all(void) {
    if (evolu_msg_sreader_open(&g_mr, &g_msrc, g_mwin, sizeof g_mwin, 0)) return false;
    evolu_timestamp t;
    uint64_t off, len, n = 0;
    while (evolu_msg_sreader_next_message(&g_mr, &t, &off, &len) == EVOLU_OK) n++;
    evolu_srange rg;
    evolu_stslist *lr;
    while (evolu_msg_sreader_next_range(&g_mr, &rg) == EVOLU_OK) {
        if (rg.type != EVOLU_RANGE_TIMESTAMPS) continue;
        if (evolu_msg_sreader_range_timestamps(&g_mr, &rg, &lr)) return false;
        while (evolu_stslist_next(lr, &t) == EVOLU_OK) {}
    }
    return n == g_mr.n_messages;
}

static void measure_parse(const uint8_t *p, size_t len) {
    evolu_source_memory(&g_msrc, p, len);
    MEASURE_BEGIN();
    bool ok = parse_all();
    MEASURE_END("parse of a 1,000,000-byte message (reader + 1 KB window)",
                sizeof g_mr + sizeof g_mwin + sizeof g_msrc);
    CHECK(ok);
}

/* ... and to send one: a builder with counted messages and a 1 KB buffer. */
static uint8_t g_obuf[1024];
static evolu_swriter g_ow;
static uint64_t g_sunk;
static evolu_err count_write(void *ctx, const uint8_t *p, size_t n) {
    (void)ctx;
    (void)p;
    g_sunk += n;
    return EVOLU_OK;
}
static const evolu_sink g_osink = {NULL, count_write};

static bool __attribute__((noinline)) emit_all(const evolu_msg_builder *c) {
    evolu_swriter_init(&g_ow, &g_osink, g_obuf, sizeof g_obuf);
    return evolu_msg_builder_emit_sink_ext(c, &g_ow, entry_cb, change_cb, NULL) == EVOLU_OK;
}

static void measure_build(const evolu_msg_builder *c, uint64_t want) {
    g_sunk = 0;
    MEASURE_BEGIN();
    bool ok = emit_all(c);
    MEASURE_END("build of a 1,000,000-byte message (counted builder + 4 ranges + 1 KB buffer)",
                sizeof *c + c->n_ranges * sizeof(evolu_range_entry) + sizeof g_obuf + sizeof g_ow);
    CHECK(ok && g_sunk == want);
}

/* --- streaming AEAD against libsodium's one-shot ------------------------------------- */

static void aead(void) {
    const evolu_port *port = vec_port();
    const evolu_aead_stream_port *ap = evolu_port_aead_stream_sodium();
    static const size_t lens[] = {0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 1000, 4097, 200000};
    size_t good = 0, n_cases = 0;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        uint8_t key[32], nonce[24], tag[16];
        fill_rnd(key, sizeof key);
        fill_rnd(nonce, sizeof nonce);
        uint8_t *m = malloc(n + 1), *c = malloc(n + 16), *c2 = malloc(n + 1), *m2 = malloc(n + 1);
        fill_rnd(m, n);
        CHECK(port->aead_encrypt(port->ctx, c, m, n, nonce, key) == 0);
        /* Encrypt in random pieces: xor_at then auth. */
        evolu_aead_stream st;
        CHECK(ap->init(ap->ctx, &st, nonce, key) == 0);
        for (size_t p = 0; p < n;) {
            size_t k = 1 + rnd() % 200;
            if (k > n - p) k = n - p;
            ap->xor_at(ap->ctx, &st, p, c2 + p, m + p, k);
            ap->auth(ap->ctx, &st, c2 + p, k);
            p += k;
        }
        ap->final(ap->ctx, &st, tag);
        bool ok = (n == 0 || !memcmp(c, c2, n)) && !memcmp(c + n, tag, 16);
        /* The MAC restarts after final: a second pass gives the same tag. */
        ap->auth(ap->ctx, &st, c, n);
        uint8_t tag2[16];
        ap->final(ap->ctx, &st, tag2);
        ok = ok && !memcmp(tag, tag2, 16);
        /* Decrypt backwards in pieces (any offset, any order). */
        for (size_t p = n; p > 0;) {
            size_t k = 1 + rnd() % 100;
            if (k > p) k = p;
            p -= k;
            ap->xor_at(ap->ctx, &st, p, m2 + p, c + p, k);
        }
        ok = ok && (n == 0 || !memcmp(m, m2, n));
        port->memzero(port->ctx, &st, sizeof st);
        n_cases++;
        if (CHECK(ok)) good++;
        free(m);
        free(c);
        free(c2);
        free(m2);
    }
    printf("streaming AEAD: %lu of %lu lengths byte-identical to "
           "crypto_aead_xchacha20poly1305_ietf_encrypt\n", (unsigned long)good,
           (unsigned long)n_cases);
}

/* --- a 200 KB change ----------------------------------------------------------------- */

#define N_COLS 200
#define COL_TEXT 1000

typedef struct got {
    size_t n_cols;
    evolu_dbchange_view head;
    uint8_t table[64];
    size_t table_len;
    uint64_t digest;   /* over every column's name, kind, number and bytes */
    bool began;
} got;

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t col_digest(uint64_t h, size_t i, const evolu_column *c) {
    uint8_t k[2] = {(uint8_t)i, (uint8_t)c->value.kind};
    h = mix(h, k, 2);
    h = mix(h, c->name, c->name_len);
    if (c->value.kind == EVOLU_VALUE_NUMBER) h = mix(h, (const uint8_t *)&c->value.number, 8);
    if (c->value.data) h = mix(h, c->value.data, c->value.len);
    return h;
}

static evolu_err on_begin(void *ctx, const evolu_dbchange_view *v) {
    got *g = ctx;
    g->head = *v;
    g->began = true;
    g->table_len = v->table_len < sizeof g->table ? v->table_len : sizeof g->table;
    memcpy(g->table, v->table, g->table_len);
    return EVOLU_OK;
}

static evolu_err on_column(void *ctx, size_t i, const evolu_column *c) {
    got *g = ctx;
    if (i != g->n_cols) return EVOLU_E_STATE;
    g->digest = col_digest(g->digest, i, c);
    g->n_cols++;
    return EVOLU_OK;
}

/* One-shot: decrypt + parse + next_column, digested the same way. */
static evolu_err oneshot(const evolu_port *port, const uint8_t key[32], const evolu_timestamp *t,
                         const uint8_t *enc, size_t len, got *g) {
    memset(g, 0, sizeof *g);
    size_t plain_len = 0;
    uint8_t *plain = malloc(len + 1);
    evolu_err e = evolu_dbchange_decrypt(port, key, t, enc, len, plain, len, &plain_len);
    if (!e) e = evolu_dbchange_parse(plain, plain_len, &g->head);
    if (!e) {
        on_begin(g, &g->head);
        static uint8_t tb[4096];
        evolu_writer tw = evolu_writer_make(tb, sizeof tb);
        evolu_column c;
        while ((e = evolu_dbchange_next_column(&g->head, &tw, &c)) == EVOLU_OK) on_column(g, g->n_cols, &c);
        if (e == EVOLU_E_DONE) e = EVOLU_OK;
    }
    free(plain);
    return e;
}

static evolu_err streamed(const evolu_port *port, const uint8_t key[32], const evolu_timestamp *t,
                          const evolu_source *src, size_t window, size_t text_cap, got *g) {
    memset(g, 0, sizeof *g);
    uint8_t *buf = malloc(window);
    uint8_t *tb = malloc(text_cap + 1);
    evolu_writer tw = evolu_writer_make(tb, text_cap);
    evolu_dbchange_sink out = {g, on_begin, on_column};
    evolu_err e = evolu_dbchange_decrypt_stream(port, evolu_port_aead_stream_sodium(), key, t, src,
                                                0, src->len, buf, window, &tw, &out);
    free(buf);
    free(tb);
    return e;
}

static bool same_got(const got *a, const got *b) {
    return a->n_cols == b->n_cols && a->digest == b->digest && a->table_len == b->table_len &&
           !memcmp(a->table, b->table, a->table_len) && !memcmp(a->head.id, b->head.id, 21) &&
           a->head.is_insert == b->head.is_insert && a->head.is_delete == b->head.is_delete &&
           ts_eq(&a->head.timestamp, &b->head.timestamp);
}

/* ... and to decrypt a change of any size: a 2 KB window and 2 KB of text. */
static uint8_t g_dwin[2048], g_dtext[2048];
static evolu_source g_dsrc;
static size_t g_dcols;
static evolu_err count_col(void *ctx, size_t i, const evolu_column *c) {
    (void)ctx;
    (void)i;
    (void)c;
    g_dcols++;
    return EVOLU_OK;
}

static evolu_err __attribute__((noinline)) decrypt_all(const evolu_port *port,
                                                       const uint8_t key[32],
                                                       const evolu_timestamp *t) {
    evolu_writer tw = evolu_writer_make(g_dtext, sizeof g_dtext);
    evolu_dbchange_sink out = {NULL, NULL, count_col};
    return evolu_dbchange_decrypt_stream(port, evolu_port_aead_stream_sodium(), key, t, &g_dsrc, 0,
                                         g_dsrc.len, g_dwin, sizeof g_dwin, &tw, &out);
}

static void measure_decrypt(const evolu_port *port, const uint8_t key[32],
                            const evolu_timestamp *t, const uint8_t *enc, size_t len,
                            size_t want_cols) {
    evolu_source_memory(&g_dsrc, enc, len);
    g_dcols = 0;
    MEASURE_BEGIN();
    evolu_err e = decrypt_all(port, key, t);
    MEASURE_END("decryption of a 200 KB change (2 KB window + 2 KB text)",
                sizeof g_dwin + sizeof g_dtext + sizeof g_dsrc);
    CHECK(e == EVOLU_OK && g_dcols == want_cols);
}

static void big_change(void) {
    const evolu_port *port = vec_port();
    static evolu_column cols[N_COLS + 4];
    static char names[N_COLS][16];
    static char texts[N_COLS][COL_TEXT + 1];
    static uint8_t blob[900];
    for (size_t i = 0; i < N_COLS; i++) {
        snprintf(names[i], sizeof names[i], "c%lu", (unsigned long)i);
        for (size_t j = 0; j < COL_TEXT; j++) texts[i][j] = (char)('a' + (i + j * 3) % 26);
        texts[i][COL_TEXT] = 0;
        for (size_t j = 50; j < COL_TEXT; j += 61) texts[i][j] = ' ';
        cols[i].name = (const uint8_t *)names[i];
        cols[i].name_len = strlen(names[i]);
        cols[i].value = evolu_value_text((const uint8_t *)texts[i], COL_TEXT);
    }
    fill_rnd(blob, sizeof blob);
    cols[N_COLS].name = (const uint8_t *)"num";
    cols[N_COLS].name_len = 3;
    cols[N_COLS].value = evolu_value_number(-12.5);
    cols[N_COLS + 1].name = (const uint8_t *)"json";
    cols[N_COLS + 1].name_len = 4;
    static const char json[] = "{\"a\":[1,2,{\"b\":\"c\"}],\"d\":null}";
    cols[N_COLS + 1].value = evolu_value_text((const uint8_t *)json, strlen(json));
    cols[N_COLS + 2].name = (const uint8_t *)"blob";
    cols[N_COLS + 2].name_len = 4;
    cols[N_COLS + 2].value = evolu_value_bytes(blob, sizeof blob);
    cols[N_COLS + 3].name = (const uint8_t *)"nothing";
    cols[N_COLS + 3].name_len = 7;
    cols[N_COLS + 3].value = evolu_value_null();

    evolu_dbchange ch;
    memset(&ch, 0, sizeof ch);
    ch.table = (const uint8_t *)"todo";
    ch.table_len = 4;
    memset(ch.id, 'A', sizeof ch.id);
    ch.columns = cols;
    ch.n_columns = N_COLS + 4;
    ch.is_insert = true;
    ch.is_delete = 0;
    evolu_timestamp t = mk_ts(1700000000123ull, 7, 9);
    uint8_t key[32], nonce[24];
    fill_rnd(key, sizeof key);
    fill_rnd(nonce, sizeof nonce);
    size_t enc_len;
    CHECK(evolu_dbchange_encrypted_len(&ch, &enc_len) == EVOLU_OK);
    uint8_t *enc = malloc(enc_len);
    evolu_writer w = evolu_writer_make(enc, enc_len);
    CHECK(evolu_dbchange_encrypt(&w, port, key, &ch, &t, nonce) == EVOLU_OK);
    CHECK(enc_len > 200000);

    got g1, g2;
    CHECK(oneshot(port, key, &t, enc, enc_len, &g1) == EVOLU_OK);
    CHECK(g1.n_cols == N_COLS + 4);
    csrc c;
    evolu_source src = csource(&c, enc, enc_len);
    evolu_err se = streamed(port, key, &t, &src, 2048, 2048, &g2);
    vec_check(se == EVOLU_OK, "decrypt_stream: %s", evolu_errname(se));
    CHECK(same_got(&g1, &g2));
    printf("decrypt_stream: %lu-byte change, 2,048-byte window: %lu columns identical to the "
           "one-shot path; %lu source reads, %lu bytes (two passes), largest read %lu\n",
           (unsigned long)enc_len, (unsigned long)g2.n_cols, (unsigned long)c.reads, (unsigned long)c.bytes,
           (unsigned long)c.max_read);
    CHECK(c.max_read <= 2048);
    measure_decrypt(port, key, &t, enc, enc_len, N_COLS + 4);
    /* Other windows: the same. */
    static const size_t windows[] = {1100, 1500, 4096, 65536, 300000};
    for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++) {
        src = csource(&c, enc, enc_len);
        CHECK(streamed(port, key, &t, &src, windows[i], 2048, &g2) == EVOLU_OK && same_got(&g1, &g2));
    }
    /* A column larger than the window: refused, never cut. */
    src = csource(&c, enc, enc_len);
    CHECK(streamed(port, key, &t, &src, 1000, 2048, &g2) == EVOLU_E_LIMIT);
    CHECK(streamed(port, key, &t, &src, 64, 2048, &g2) == EVOLU_E_LIMIT);
    /* Derived text (the Json column) larger than the text buffer: refused. */
    CHECK(streamed(port, key, &t, &src, 2048, 8, &g2) == EVOLU_E_LIMIT);
    /* Tampering anywhere: detected before anything reaches the sink. */
    size_t positions[] = {0, 23, 24, 30, 1000, enc_len / 2, enc_len - 17, enc_len - 16, enc_len - 1};
    size_t detected = 0;
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        enc[positions[i]] ^= 0x20;
        src = csource(&c, enc, enc_len);
        evolu_err e1 = oneshot(port, key, &t, enc, enc_len, &g1);
        evolu_err e2 = streamed(port, key, &t, &src, 2048, 2048, &g2);
        if (CHECK(e1 == e2 && e2 != EVOLU_OK && !g2.began)) detected++;
        enc[positions[i]] ^= 0x20;
    }
    printf("tampered bytes: %lu of %lu refused with the one-shot's error before any output\n",
           (unsigned long)detected, (unsigned long)(sizeof positions / sizeof positions[0]));
    /* A host that serves other bytes in the second pass: EVOLU_E_DECRYPT at the end. */
    uint8_t *evil = malloc(enc_len);
    memcpy(evil, enc, enc_len);
    evil[enc_len / 2] ^= 1;
    src = csource(&c, enc, enc_len);
    c.second = evil;
    c.switch_after = 1 + (enc_len - 40) / 2048 + 2; /* header + pass 1 + tag */
    CHECK(streamed(port, key, &t, &src, 2048, 2048, &g2) == EVOLU_E_DECRYPT);
    free(evil);
    /* Wrong key, wrong wire timestamp, truncated framing: the one-shot's errors. */
    uint8_t key2[32];
    memcpy(key2, key, 32);
    key2[0] ^= 1;
    src = csource(&c, enc, enc_len);
    CHECK(streamed(port, key2, &t, &src, 2048, 2048, &g2) == EVOLU_E_DECRYPT);
    evolu_timestamp t2 = t;
    t2.counter++;
    CHECK(streamed(port, key, &t2, &src, 2048, 2048, &g2) == EVOLU_E_TIMESTAMP_MISMATCH);
    CHECK(oneshot(port, key, &t2, enc, enc_len, &g1) == EVOLU_E_TIMESTAMP_MISMATCH);
    static const size_t cuts[] = {0, 10, 24, 25, 26, 27, 100, 5000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        src = csource(&c, enc, cuts[i]);
        CHECK(streamed(port, key, &t, &src, 2048, 2048, &g2) ==
              oneshot(port, key, &t, enc, cuts[i], &g1));
    }
    /* A failing source: its error. */
    src = csource(&c, enc, enc_len);
    c.fail_at = 150000;
    CHECK(streamed(port, key, &t, &src, 2048, 2048, &g2) == EVOLU_E_STORAGE);
    free(enc);
}

/* Small changes (the dbchange vectors' shapes) through the smallest window,
 * every tamper and truncation compared with the one-shot path. */
static void small_changes(void) {
    const evolu_port *port = vec_port();
    evolu_column cols[3];
    cols[0].name = (const uint8_t *)"title";
    cols[0].name_len = 5;
    cols[0].value = evolu_value_text((const uint8_t *)"hello", 5);
    cols[1].name = (const uint8_t *)"n";
    cols[1].name_len = 1;
    cols[1].value = evolu_value_number(42);
    cols[2].name = (const uint8_t *)"when";
    cols[2].name_len = 4;
    cols[2].value = evolu_value_text((const uint8_t *)"2024-01-02T03:04:05.678Z", 24);
    evolu_dbchange ch;
    memset(&ch, 0, sizeof ch);
    ch.table = (const uint8_t *)"t";
    ch.table_len = 1;
    ch.columns = cols;
    ch.n_columns = 3;
    ch.is_delete = -1;
    evolu_timestamp t = mk_ts(1700000000000ull, 1, 2);
    uint8_t key[32], nonce[24], enc[512];
    fill_rnd(key, 32);
    fill_rnd(nonce, 24);
    evolu_writer w = evolu_writer_make(enc, sizeof enc);
    CHECK(evolu_dbchange_encrypt(&w, port, key, &ch, &t, nonce) == EVOLU_OK);
    size_t same = 0, n = 0;
    got g1, g2;
    csrc c;
    for (size_t cut = 0; cut <= w.len; cut++) {
        evolu_source src = csource(&c, enc, cut);
        evolu_err e1 = oneshot(port, key, &t, enc, cut, &g1);
        evolu_err e2 = streamed(port, key, &t, &src, 64, 64, &g2);
        n++;
        if (e1 == e2 && (e1 || same_got(&g1, &g2))) same++;
    }
    for (size_t at = 0; at < w.len; at++) {
        enc[at] ^= 0x01;
        evolu_source src = csource(&c, enc, w.len);
        evolu_err e1 = oneshot(port, key, &t, enc, w.len, &g1);
        evolu_err e2 = streamed(port, key, &t, &src, 64, 64, &g2);
        n++;
        if (e1 == e2 && e1 != EVOLU_OK) same++;
        enc[at] ^= 0x01;
    }
    CHECK(same == n);
    printf("small change (%lu bytes), 64-byte window: %lu of %lu truncations and bit flips "
           "give the one-shot's result\n", (unsigned long)w.len, (unsigned long)same,
           (unsigned long)n);
    uint8_t buf[63];
    uint8_t tb[8];
    evolu_writer tw = evolu_writer_make(tb, sizeof tb);
    got g;
    evolu_dbchange_sink out = {&g, on_begin, on_column};
    evolu_source src = csource(&c, enc, w.len);
    CHECK(evolu_dbchange_decrypt_stream(port, evolu_port_aead_stream_sodium(), key, &t, &src, 0,
                                        w.len, buf, sizeof buf, &tw, &out) == EVOLU_E_ARG);
    CHECK(evolu_dbchange_decrypt_stream(port, evolu_port_aead_stream_sodium(), key, &t, &src, 1,
                                        w.len, buf, sizeof buf, &tw, &out) == EVOLU_E_ARG);
}

int main(void) {
    big_message();
    aead();
    big_change();
    small_changes();
    return vec_finish();
}
