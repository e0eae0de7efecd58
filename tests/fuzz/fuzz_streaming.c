/* fuzz_streaming.c - the streaming paths against the in-memory ones on
 * arbitrary bytes. The first byte picks the case, the second the window:
 *   0: a protocol message parsed by evolu_msg_reader and by
 *      evolu_msg_sreader through the window: the same open result, and when
 *      valid the same messages, ranges and listed timestamps; when valid, the
 *      message rebuilt through the builder and emitted to a sink through a
 *      small buffer gives the bytes of the in-memory emit;
 *   1: the bytes as an EncryptedDbChange under a fixed key: the streaming
 *      decryption gives the one-shot's error;
 *   2: the bytes as a plaintext, encrypted under the fixed key (wire
 *      timestamp = the plaintext's own when it has one): the streaming
 *      decryption gives the one-shot's result, and the same columns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/dbchange.h"
#include "evolu/port_sodium.h"
#include "evolu/port_stream.h"
#include "evolu/protocol.h"
#include "evolu/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                             \
    do {                                                                                       \
        if (!(c)) __builtin_trap();                                                            \
    } while (0)

static bool ts_eq(const evolu_timestamp *a, const evolu_timestamp *b) {
    return a->millis == b->millis && a->counter == b->counter &&
           !memcmp(a->node_id, b->node_id, sizeof a->node_id);
}

static evolu_err vec_sink(void *ctx, const uint8_t *p, size_t n) {
    evolu_writer *w = ctx;
    evolu_put_bytes(w, p, n);
    return w->err;
}

static void protocol(const uint8_t *p, size_t n, size_t window_len) {
    static uint8_t window[4096];
    evolu_msg_reader m;
    evolu_msg_sreader s;
    evolu_source src;
    evolu_source_memory(&src, p, n);
    evolu_err em = evolu_msg_reader_open(&m, p, n);
    evolu_err es = evolu_msg_sreader_open(&s, &src, window, window_len, 0);
    REQUIRE(em == es);
    if (em) return;
    REQUIRE(!memcmp(&m.header, &s.header, sizeof m.header) && m.end == s.end &&
            m.n_messages == s.n_messages && m.n_ranges == s.n_ranges);

    /* Rebuild while comparing: the builder gets what the in-memory reader read. */
    size_t cap_m = (size_t)m.n_messages + 1, cap_r = (size_t)m.n_ranges + 1;
    evolu_msg_entry *msgs = calloc(cap_m, sizeof *msgs);
    evolu_range_entry *ranges = calloc(cap_r, sizeof *ranges);
    evolu_timestamp *ts = calloc(n + 1, sizeof *ts); /* every listed timestamp */
    REQUIRE(msgs && ranges && ts);
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, msgs, cap_m, ranges, cap_r, NULL, 0);
    bool build = evolu_msg_builder_begin(&b, &m.header, EVOLU_PROTOCOL_MAX_SIZE_MAX,
                                         EVOLU_PROTOCOL_RANGES_MAX_SIZE_MAX) == EVOLU_OK;
    size_t used = 0;

    evolu_timestamp t1, t2;
    const uint8_t *ch;
    size_t ch_len;
    uint64_t off, len;
    for (;;) {
        evolu_err e1 = evolu_msg_reader_next_message(&m, &t1, &ch, &ch_len);
        evolu_err e2 = evolu_msg_sreader_next_message(&s, &t2, &off, &len);
        REQUIRE(e1 == e2);
        if (e1) break;
        REQUIRE(ts_eq(&t1, &t2) && (size_t)(ch - p) == off && ch_len == len);
        if (build && evolu_msg_builder_add_message(&b, &t1, ch, ch_len)) build = false;
    }
    evolu_range r1;
    evolu_srange r2;
    for (;;) {
        evolu_err e1 = evolu_msg_reader_next_range(&m, &r1);
        evolu_err e2 = evolu_msg_sreader_next_range(&s, &r2);
        REQUIRE(e1 == e2);
        if (e1) break;
        REQUIRE(r1.type == r2.type && r1.infinite == r2.infinite);
        REQUIRE(r1.infinite || ts_eq(&r1.upper, &r2.upper));
        evolu_range_entry re;
        memset(&re, 0, sizeof re);
        re.type = r1.type;
        re.infinite = r1.infinite;
        re.upper = r1.upper;
        if (r1.type == EVOLU_RANGE_FINGERPRINT) {
            REQUIRE(!memcmp(r1.fingerprint, r2.fingerprint, EVOLU_FINGERPRINT_BYTES));
            memcpy(re.fingerprint, r1.fingerprint, EVOLU_FINGERPRINT_BYTES);
        }
        if (r1.type == EVOLU_RANGE_TIMESTAMPS) {
            REQUIRE((size_t)(r1.timestamps - p) == r2.timestamps_off &&
                    r1.timestamps_len == r2.timestamps_len &&
                    r1.n_timestamps == r2.n_timestamps);
            evolu_tslist_reader l1;
            evolu_stslist *l2;
            REQUIRE(evolu_range_timestamps(&r1, &l1) == EVOLU_OK);
            REQUIRE(evolu_msg_sreader_range_timestamps(&s, &r2, &l2) == EVOLU_OK);
            re.timestamps = ts + used;
            for (;;) {
                evolu_err f1 = evolu_tslist_next(&l1, &t1), f2 = evolu_stslist_next(l2, &t2);
                REQUIRE(f1 == f2);
                if (f1) break;
                REQUIRE(ts_eq(&t1, &t2) && used < n);
                ts[used++] = t1;
                re.n_timestamps++;
            }
        }
        if (build && evolu_msg_builder_add_range(&b, &re)) build = false;
    }

    /* The builder refuses what the TS builder would not build (unsorted
     * millis, ranges after an infinite one, ...); whatever it accepts is
     * emitted identically to memory and through a sink. */
    if (build) {
        evolu_writer w = evolu_writer_make(NULL, 0);
        evolu_err e = evolu_msg_builder_emit(&b, &w);
        if (e == EVOLU_E_BUFFER || e == EVOLU_OK) {
            uint8_t *a = malloc(w.len + 1), *c = malloc(w.len + 1);
            REQUIRE(a && c);
            w = evolu_writer_make(a, w.len);
            REQUIRE(evolu_msg_builder_emit(&b, &w) == EVOLU_OK);
            evolu_writer cw = evolu_writer_make(c, w.len);
            evolu_sink sink = {&cw, vec_sink};
            uint8_t buf[37];
            evolu_swriter sw;
            evolu_swriter_init(&sw, &sink, buf, sizeof buf);
            REQUIRE(evolu_msg_builder_emit_sink(&b, &sw, NULL, NULL) == EVOLU_OK);
            REQUIRE(sw.total == w.len && cw.len == w.len && !memcmp(a, c, w.len));
            free(a);
            free(c);
        }
    }
    free(msgs);
    free(ranges);
    free(ts);
}

/* --- changes ---------------------------------------------------------------------- */

typedef struct digest {
    uint64_t h;
    size_t n;
    bool began;
} digest;

static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static evolu_err on_begin(void *ctx, const evolu_dbchange_view *v) {
    digest *d = ctx;
    d->began = true;
    d->h = mix(d->h, v->table, v->table_len);
    d->h = mix(d->h, v->id, sizeof v->id);
    return EVOLU_OK;
}

static evolu_err on_column(void *ctx, size_t i, const evolu_column *c) {
    digest *d = ctx;
    (void)i;
    d->h = mix(d->h, c->name, c->name_len);
    d->h = mix(d->h, &c->value.kind, sizeof c->value.kind);
    if (c->value.kind == EVOLU_VALUE_NUMBER) d->h = mix(d->h, &c->value.number, 8);
    if (c->value.data) d->h = mix(d->h, c->value.data, c->value.len);
    d->n++;
    return EVOLU_OK;
}

static const uint8_t KEY[32] = {0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9};

static void change(const evolu_port *port, const evolu_timestamp *wire, const uint8_t *enc,
                   size_t len, size_t window_len) {
    /* One-shot: decrypt, parse, every column (text buffer 4 KB). */
    digest d1 = {0xcbf29ce484222325ull, 0, false}, d2 = d1;
    uint8_t *plain = malloc(len + 1);
    static uint8_t text[4096];
    REQUIRE(plain);
    size_t plain_len = 0;
    evolu_err e1 = evolu_dbchange_decrypt(port, KEY, wire, enc, len, plain, len, &plain_len);
    bool text_fits = true;
    if (!e1) {
        evolu_dbchange_view v;
        REQUIRE(evolu_dbchange_parse(plain, plain_len, &v) == EVOLU_OK);
        on_begin(&d1, &v);
        evolu_column c;
        evolu_writer tw = evolu_writer_make(text, sizeof text);
        evolu_err e;
        while ((e = evolu_dbchange_next_column(&v, &tw, &c)) != EVOLU_E_DONE) {
            if (e == EVOLU_E_BUFFER) {
                text_fits = false;
                break;
            }
            REQUIRE(e == EVOLU_OK);
            on_column(&d1, 0, &c);
            tw.len = 0;
        }
    }
    free(plain);

    evolu_source src;
    evolu_source_memory(&src, enc, len);
    uint8_t *win = malloc(window_len);
    REQUIRE(win);
    evolu_writer tw = evolu_writer_make(text, sizeof text);
    evolu_dbchange_sink out = {&d2, on_begin, on_column};
    evolu_err e2 = evolu_dbchange_decrypt_stream(port, evolu_port_aead_stream_sodium(), KEY, wire,
                                                 &src, 0, len, win, window_len, &tw, &out);
    free(win);
    /* The streaming path may refuse (LIMIT) what does not fit its window or
     * text buffer; otherwise it must agree with the one-shot path. */
    if (e2 == EVOLU_E_LIMIT) {
        REQUIRE(e1 != EVOLU_E_DECRYPT && (e1 == EVOLU_OK || e1 >= EVOLU_E_TRUNCATED));
        return;
    }
    if (!text_fits) return;
    REQUIRE(e1 == e2);
    if (!e1) REQUIRE(d1.h == d2.h && d1.n == d2.n);
    /* Nothing reaches the caller before the tag verified. */
    if (e1 == EVOLU_E_DECRYPT) REQUIRE(!d2.began);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const evolu_port *port = evolu_port_sodium();
    REQUIRE(port);
    uint8_t mode = data[0] % 3;
    size_t knob = data[1];
    data += 2;
    size -= 2;
    if (mode == 0) {
        protocol(data, size, EVOLU_MSG_SREADER_WINDOW_MIN + knob * 8);
        return 0;
    }
    evolu_timestamp wire;
    memset(&wire, 0, sizeof wire);
    size_t window_len = 64 + knob * 4;
    if (mode == 1) {
        change(port, &wire, data, size, window_len);
        return 0;
    }
    /* mode 2: encrypt data as the plaintext (nonce fixed: a test key). */
    if (size >= 17) (void)evolu_timestamp_from_bytes(data + 1, &wire);
    size_t ct = size + EVOLU_AEAD_TAG_BYTES;
    size_t total = EVOLU_AEAD_NONCE_BYTES + evolu_varint_len(ct) + ct;
    uint8_t *enc = malloc(total);
    REQUIRE(enc);
    evolu_writer w = evolu_writer_make(enc, total);
    static const uint8_t nonce[EVOLU_AEAD_NONCE_BYTES] = {1, 2, 3};
    evolu_put_bytes(&w, nonce, sizeof nonce);
    evolu_put_varint(&w, ct);
    REQUIRE(w.err == EVOLU_OK);
    REQUIRE(port->aead_encrypt(port->ctx, enc + w.len, data, size, nonce, KEY) == 0);
    change(port, &wire, enc, total, window_len);
    free(enc);
    return 0;
}
