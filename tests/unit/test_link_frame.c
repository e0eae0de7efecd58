/* test_link_frame.c - link frames (include/evolu/link.h): the CRC-32C check
 * value, encode/decode round trips at every size class, byte-by-byte and
 * random-chunk feeding, bad input to the encoder and decoder, and recovery:
 * every possible dropped byte, inserted byte and flipped bit inside a frame,
 * and random garbage between frames, are rejected and the frames around them
 * still decode exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/link.h"

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

static uint32_t g_rng = 0x12345678u;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng;
}

static void crc_values(void) {
    const uint8_t s[] = "123456789";
    EXPECT(evolu_crc32c(0, s, 9) == 0xE3069283u);
    /* incremental equals one shot */
    EXPECT(evolu_crc32c(evolu_crc32c(0, s, 4), s + 4, 5) == 0xE3069283u);
    EXPECT(evolu_crc32c(0, s, 0) == 0);
    /* RFC 3720 B.4: 32 bytes of zeros -> aa 36 91 8a (little-endian) */
    uint8_t z[32] = {0};
    EXPECT(evolu_crc32c(0, z, 32) == 0x8A9136AAu);
    memset(z, 0xFF, sizeof z);
    EXPECT(evolu_crc32c(0, z, 32) == 0x62A8AB43u);
}

static bool same(const evolu_link_frame *a, const evolu_link_frame *b) {
    return a->type == b->type && a->chan == b->chan && a->seq == b->seq && a->ack == b->ack &&
           a->limit == b->limit && a->len == b->len &&
           (a->len == 0 || memcmp(a->payload, b->payload, a->len) == 0);
}

static evolu_link_frame make(uint8_t *payload, uint16_t len, int fill) {
    evolu_link_frame f;
    for (uint16_t i = 0; i < len; i++)
        payload[i] = fill == 0 ? 0 : fill == 1 ? (uint8_t)(1 + i % 255) : (uint8_t)rnd();
    f.type = (uint8_t)(1 + rnd() % 3);
    f.chan = (uint8_t)rnd();
    f.seq = (uint16_t)rnd();
    f.ack = (uint16_t)rnd();
    f.limit = (uint16_t)rnd();
    f.len = len;
    f.payload = payload;
    return f;
}

/* Decodes all of in[0..n) in chunks of `step` (0: random sizes); collects up to
 * max good frames (copied to store) and counts errors. */
typedef struct got {
    evolu_link_frame f[8];
    uint8_t store[8][EVOLU_LINK_MTU];
    int n, errors;
    evolu_err last_err;
} got;

static void decode_all(const uint8_t *in, size_t n, size_t step, got *g) {
    static uint8_t buf[EVOLU_LINK_FRAME_MAX];
    evolu_link_decoder d;
    evolu_link_decoder_init(&d, buf, sizeof buf);
    memset(g, 0, sizeof *g);
    size_t pos = 0;
    while (pos < n) {
        size_t want = step ? step : 1 + rnd() % 700;
        if (want > n - pos) want = n - pos;
        size_t off = 0;
        while (off < want) {
            size_t used;
            evolu_link_frame f;
            evolu_err e = evolu_link_decode(&d, in + pos + off, want - off, &used, &f);
            if (used == 0 || used > want - off) {
                EXPECT(!"decoder consumed nothing or too much");
                return;
            }
            off += used;
            if (e == EVOLU_OK) {
                if (g->n < 8) {
                    memcpy(g->store[g->n], f.payload, f.len);
                    g->f[g->n] = f;
                    g->f[g->n].payload = g->store[g->n];
                }
                g->n++;
            } else if (e != EVOLU_E_DONE) {
                g->errors++;
                g->last_err = e;
            }
        }
        pos += want;
    }
}

static void round_trips(void) {
    static const uint16_t sizes[] = {0, 1, 2, 100, 239, 240, 241, 253, 254, 255, 256,
                                     300, 493, 494, 495, 508, 509, 510, 511, 512};
    static uint8_t payload[EVOLU_LINK_MTU];
    static uint8_t wire[EVOLU_LINK_WIRE_MAX];
    int ok_all = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int fill = 0; fill < 3; fill++) {
            evolu_link_frame f = make(payload, sizes[s], fill);
            size_t n;
            EXPECT(evolu_link_frame_encode(&f, wire, sizeof wire, &n) == EVOLU_OK);
            EXPECT(n <= EVOLU_LINK_WIRE_SIZE(sizes[s]));
            EXPECT(wire[0] == 0 && wire[n - 1] == 0);
            bool nozero = true;
            for (size_t i = 1; i + 1 < n; i++) nozero &= wire[i] != 0;
            EXPECT(nozero);
            /* exact capacity is enough only when it is the worst case */
            size_t m;
            EXPECT(evolu_link_frame_encode(&f, wire, EVOLU_LINK_WIRE_SIZE(sizes[s]) - 1, &m) ==
                   EVOLU_E_BUFFER);
            EXPECT(evolu_link_frame_encode(&f, wire, sizeof wire, &n) == EVOLU_OK);
            size_t steps[] = {1, 2, 7, n, 0};
            for (size_t k = 0; k < 5; k++) {
                got g;
                decode_all(wire, n, steps[k], &g);
                bool ok = g.n == 1 && g.errors == 0 && same(&g.f[0], &f);
                ok_all += ok;
                EXPECT(ok);
            }
        }
    }
    printf("round trips: %d frames decoded exactly (sizes 0..512, byte by byte and in chunks)\n",
           ok_all);
}

static void encoder_errors(void) {
    static uint8_t payload[EVOLU_LINK_MTU + 1];
    static uint8_t wire[EVOLU_LINK_WIRE_MAX + 8];
    size_t n = 99;
    evolu_link_frame f = make(payload, EVOLU_LINK_MTU, 2);
    f.len = EVOLU_LINK_MTU + 1;
    EXPECT(evolu_link_frame_encode(&f, wire, sizeof wire, &n) == EVOLU_E_LIMIT && n == 0);
    f.len = 4;
    f.type = 0;
    EXPECT(evolu_link_frame_encode(&f, wire, sizeof wire, &n) == EVOLU_E_ARG);
    f.type = 4;
    EXPECT(evolu_link_frame_encode(&f, wire, sizeof wire, &n) == EVOLU_E_ARG);
    f.type = EVOLU_LINK_DATA;
    f.payload = NULL;
    EXPECT(evolu_link_frame_encode(&f, wire, sizeof wire, &n) == EVOLU_E_ARG);
    f.len = 0;
    EXPECT(evolu_link_frame_encode(&f, wire, sizeof wire, &n) == EVOLU_OK);
    EXPECT(evolu_link_frame_encode(&f, wire, 0, &n) == EVOLU_E_BUFFER);
}

/* Hand-built raw frames, COBS-stuffed by a tiny reference encoder here, to
 * reach each decoder error. */
static size_t stuff(const uint8_t *raw, size_t n, uint8_t *out) {
    size_t o = 0, code_pos = o++;
    uint8_t code = 1;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == 0) {
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
        } else {
            out[o++] = raw[i];
            if (++code == 0xFF) {
                out[code_pos] = code;
                code_pos = o++;
                code = 1;
            }
        }
    }
    out[code_pos] = code;
    out[o++] = 0;
    return o;
}

static evolu_err decode_raw(const uint8_t *raw, size_t n) {
    static uint8_t wire[4 * EVOLU_LINK_FRAME_MAX];
    size_t w = stuff(raw, n, wire);
    got g;
    decode_all(wire, w, 1, &g);
    if (g.n == 1 && g.errors == 0) return EVOLU_OK;
    return g.errors == 1 && g.n == 0 ? g.last_err : EVOLU_E_STATE;
}

static void put_crc(uint8_t *raw, size_t n) {
    uint32_t c = evolu_crc32c(0, raw, n);
    for (int i = 0; i < 4; i++) raw[n + (size_t)i] = (uint8_t)(c >> (8 * i));
}

static void decoder_errors(void) {
    static uint8_t raw[2 * EVOLU_LINK_FRAME_MAX];
    memset(raw, 0, sizeof raw);
    /* a good empty ACK */
    raw[0] = EVOLU_LINK_ACK;
    put_crc(raw, 10);
    EXPECT(decode_raw(raw, 14) == EVOLU_OK);
    /* damaged CRC */
    raw[13] ^= 1;
    EXPECT(decode_raw(raw, 14) == EVOLU_E_CHECKSUM);
    /* too short for a header and CRC */
    EXPECT(decode_raw(raw, 13) == EVOLU_E_TRUNCATED);
    EXPECT(decode_raw(raw, 1) == EVOLU_E_TRUNCATED);
    /* length field says 5, there are 4 */
    raw[8] = 5;
    put_crc(raw, 14);
    EXPECT(decode_raw(raw, 18) == EVOLU_E_INVALID);
    /* length field over the MTU with a good CRC */
    raw[8] = (uint8_t)(EVOLU_LINK_MTU + 1);
    raw[9] = (uint8_t)((EVOLU_LINK_MTU + 1) >> 8);
    put_crc(raw, 14);
    EXPECT(decode_raw(raw, 18) == EVOLU_E_LIMIT);
    /* unknown types */
    raw[8] = raw[9] = 0;
    raw[0] = 0;
    put_crc(raw, 10);
    EXPECT(decode_raw(raw, 14) == EVOLU_E_INVALID);
    raw[0] = 9;
    put_crc(raw, 10);
    EXPECT(decode_raw(raw, 14) == EVOLU_E_INVALID);
    /* a frame longer than the buffer: dropped at its delimiter */
    memset(raw, 0x55, sizeof raw);
    EXPECT(decode_raw(raw, EVOLU_LINK_FRAME_MAX + 1) == EVOLU_E_LIMIT);
    /* a COBS block cut short by a delimiter: code 05 then two bytes */
    uint8_t cut[] = {0x05, 0x11, 0x22, 0x00};
    got g;
    decode_all(cut, sizeof cut, 1, &g);
    EXPECT(g.n == 0 && g.errors == 1 && g.last_err == EVOLU_E_TRUNCATED);
    /* runs of delimiters are silence, not errors */
    uint8_t zeros[64] = {0};
    decode_all(zeros, sizeof zeros, 3, &g);
    EXPECT(g.n == 0 && g.errors == 0);
    /* a small decoder buffer rejects frames it cannot hold, then recovers */
    uint8_t small[20];
    evolu_link_decoder d;
    evolu_link_decoder_init(&d, small, sizeof small);
    static uint8_t payload[64], wire[EVOLU_LINK_WIRE_SIZE(64) * 2];
    evolu_link_frame f = make(payload, 64, 2), h = make(payload, 2, 2);
    size_t a, b, used;
    evolu_link_frame_encode(&f, wire, sizeof wire, &a);
    evolu_link_frame_encode(&h, wire + a, sizeof wire - a, &b);
    evolu_link_frame out;
    evolu_err e = evolu_link_decode(&d, wire, a + b, &used, &out);
    EXPECT(e == EVOLU_E_LIMIT && used == a);
    e = evolu_link_decode(&d, wire + used, a + b - used, &used, &out);
    EXPECT(e == EVOLU_OK && same(&out, &h));
}

/* Three frames in a row; one fault inside the middle one's wire bytes. The
 * outer two must decode exactly; the middle one must be rejected unless the
 * fault only touched a delimiter (then it is intact); nothing else appears. */
typedef enum { DROP, INSERT, FLIP } fault;

static long g_faults, g_rejected, g_intact;

static void one_fault(const uint8_t *w, const size_t len[3], const evolu_link_frame f[3],
                      fault kind, size_t at, int bit) {
    static uint8_t buf[3 * EVOLU_LINK_WIRE_MAX + 4];
    size_t n = 0, start = len[0], end = len[0] + len[1], total = end + len[2];
    for (size_t i = 0; i < total; i++) {
        if (i == start + at) {
            if (kind == DROP) continue;
            if (kind == INSERT) buf[n++] = (uint8_t)rnd();
            if (kind == FLIP) {
                buf[n++] = (uint8_t)(w[i] ^ (1u << bit));
                continue;
            }
        }
        buf[n++] = w[i];
    }
    got g;
    decode_all(buf, n, (g_faults & 1) ? 1 : 0, &g);
    g_faults++;
    bool first = g.n >= 1 && same(&g.f[0], &f[0]);
    bool last = g.n >= 2 && same(&g.f[g.n - 1], &f[2]);
    if (g.n == 3 && same(&g.f[1], &f[1])) {
        g_intact++;
        /* only a fault on a delimiter may leave the frame intact */
        EXPECT(first && last && (at == 0 || at == len[1] - 1 || kind == INSERT));
    } else {
        g_rejected++;
        if (!EXPECT(g.n == 2 && first && last && g.errors >= 1))
            printf("  fault %d at %lu bit %d: %d frames, %d errors\n", (int)kind,
                   (unsigned long)at, bit, g.n, g.errors);
    }
}

static void faults(void) {
    static const uint16_t sizes[] = {0, 40, 300, EVOLU_LINK_MTU};
    static uint8_t p[3][EVOLU_LINK_MTU];
    static uint8_t w[3 * EVOLU_LINK_WIRE_MAX];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        evolu_link_frame f[3];
        size_t len[3], n = 0;
        for (int k = 0; k < 3; k++) {
            f[k] = make(p[k], k == 1 ? sizes[s] : 30, k == 1 && s == 2 ? 0 : 2);
            evolu_link_frame_encode(&f[k], w + n, sizeof w - n, &len[k]);
            n += len[k];
        }
        /* every position: drop it, insert before it, flip each of its bits */
        for (size_t at = 0; at < len[1]; at++) {
            one_fault(w, len, f, DROP, at, 0);
            one_fault(w, len, f, INSERT, at, 0);
            for (int bit = 0; bit < 8; bit++) one_fault(w, len, f, FLIP, at, bit);
        }
    }
    printf("faults: %ld injected (every dropped byte, inserted byte, flipped bit), "
           "%ld frames rejected, %ld intact (fault on a delimiter or a harmless "
           "insertion), neighbours always exact\n",
           g_faults, g_rejected, g_intact);
}

/* Random garbage (zeros included) between good frames: every good frame comes
 * out exactly, in order. */
static void garbage(void) {
    static uint8_t stream[64 * 1024];
    static uint8_t pay[200][64];
    static evolu_link_frame fr[200];
    size_t n = 0;
    int frames = 0;
    long garbage_bytes = 0;
    while (frames < 200) {
        size_t gl = rnd() % 40;
        for (size_t i = 0; i < gl; i++) stream[n++] = (rnd() % 4 == 0) ? 0 : (uint8_t)rnd();
        garbage_bytes += (long)gl;
        fr[frames] = make(pay[frames], (uint16_t)(rnd() % 64), 2);
        size_t m;
        EXPECT(evolu_link_frame_encode(&fr[frames], stream + n, sizeof stream - n, &m) ==
               EVOLU_OK);
        n += m;
        frames++;
    }
    static uint8_t buf[EVOLU_LINK_FRAME_MAX];
    evolu_link_decoder d;
    evolu_link_decoder_init(&d, buf, sizeof buf);
    int k = 0, errors = 0;
    bool order = true;
    for (size_t pos = 0; pos < n;) {
        size_t used;
        evolu_link_frame f;
        evolu_err e = evolu_link_decode(&d, stream + pos, n - pos, &used, &f);
        pos += used;
        if (e == EVOLU_OK) order &= k < frames && same(&f, &fr[k++]);
        else if (e != EVOLU_E_DONE) errors++;
    }
    EXPECT(order && k == frames);
    printf("garbage: %d frames among %ld garbage bytes all exact (%d garbage runs rejected)\n",
           k, garbage_bytes, errors);
}

int main(void) {
    crc_values();
    round_trips();
    encoder_errors();
    decoder_errors();
    faults();
    garbage();
    printf("test_link_frame: %d checked, %d failed\n", g_checked, g_failed);
    return g_failed ? 1 : 0;
}
