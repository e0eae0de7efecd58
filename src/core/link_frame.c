/* link_frame.c - link frames: CRC-32C, COBS stuffing, the encoder and the
 * streaming decoder (docs/link.md, "Frames"). */
#include <string.h>

#include "evolu/link.h"

/* CRC-32C, reflected polynomial 0x82F63B78, four bits at a time: a 64-byte
 * table instead of 1 KiB, because the device's flash is tight and a serial
 * line is far slower than two lookups per byte. */
static const uint32_t crc32c_nibble[16] = {
    0x00000000u, 0x105ec76fu, 0x20bd8edeu, 0x30e349b1u, 0x417b1dbcu, 0x5125dad3u,
    0x61c69362u, 0x7198540du, 0x82f63b78u, 0x92a8fc17u, 0xa24bb5a6u, 0xb21572c9u,
    0xc38d26c4u, 0xd3d3e1abu, 0xe330a81au, 0xf36e6f75u};

uint32_t evolu_crc32c(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 15u];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 15u];
    }
    return ~crc;
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* COBS encoder over an output already known to be large enough: each block is
 * a code byte (1 + the count of non-zero bytes that follow, 0xFF for a full
 * block of 254 with no implied zero) and the bytes; the code is back-filled. */
typedef struct cobs_out {
    uint8_t *p;
    size_t o, code_pos;
    uint8_t code;
} cobs_out;

static void cobs_byte(cobs_out *c, uint8_t b) {
    if (b == 0) {
        c->p[c->code_pos] = c->code;
        c->code_pos = c->o++;
        c->code = 1;
        return;
    }
    c->p[c->o++] = b;
    if (++c->code == 0xFF) {
        c->p[c->code_pos] = c->code;
        c->code_pos = c->o++;
        c->code = 1;
    }
}

static void cobs_bytes(cobs_out *c, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) cobs_byte(c, p[i]);
}

evolu_err evolu_link_frame_encode(const evolu_link_frame *f, uint8_t *out, size_t cap,
                                  size_t *n) {
    *n = 0;
    if (f->type < EVOLU_LINK_HELLO || f->type > EVOLU_LINK_DATA) return EVOLU_E_ARG;
    if (f->len > EVOLU_LINK_MTU) return EVOLU_E_LIMIT;
    if (f->len && !f->payload) return EVOLU_E_ARG;
    if (cap < EVOLU_LINK_WIRE_SIZE((size_t)f->len)) return EVOLU_E_BUFFER;
    uint8_t h[EVOLU_LINK_HEADER + EVOLU_LINK_CRC];
    h[0] = f->type;
    h[1] = f->chan;
    put16(h + 2, f->seq);
    put16(h + 4, f->ack);
    put16(h + 6, f->limit);
    put16(h + 8, f->len);
    uint32_t crc = evolu_crc32c(0, h, EVOLU_LINK_HEADER);
    crc = evolu_crc32c(crc, f->payload, f->len);
    cobs_out c;
    c.p = out;
    out[0] = 0;
    c.code_pos = 1;
    c.o = 2;
    c.code = 1;
    cobs_bytes(&c, h, EVOLU_LINK_HEADER);
    cobs_bytes(&c, f->payload, f->len);
    for (unsigned i = 0; i < 4; i++) cobs_byte(&c, (uint8_t)(crc >> (8 * i)));
    out[c.code_pos] = c.code;
    out[c.o++] = 0;
    *n = c.o;
    return EVOLU_OK;
}

void evolu_link_decoder_init(evolu_link_decoder *d, uint8_t *buf, size_t cap) {
    d->buf = buf;
    d->cap = cap;
    d->len = 0;
    d->left = 0;
    d->code = 0;
    d->overflow = false;
}

static void dec_append(evolu_link_decoder *d, uint8_t b) {
    if (d->len < d->cap) d->buf[d->len++] = b;
    else d->overflow = true;
}

/* The raw frame in d->buf is complete: check it. */
static evolu_err dec_finish(evolu_link_decoder *d, evolu_link_frame *f) {
    if (d->overflow) return EVOLU_E_LIMIT;
    if (d->left != 0) return EVOLU_E_TRUNCATED;
    size_t len = d->len;
    if (len < EVOLU_LINK_HEADER + EVOLU_LINK_CRC) return EVOLU_E_TRUNCATED;
    const uint8_t *b = d->buf;
    if (evolu_crc32c(0, b, len - EVOLU_LINK_CRC) != get32(b + len - EVOLU_LINK_CRC))
        return EVOLU_E_CHECKSUM;
    uint16_t plen = get16(b + 8);
    if (plen > EVOLU_LINK_MTU) return EVOLU_E_LIMIT;
    if ((size_t)plen != len - EVOLU_LINK_HEADER - EVOLU_LINK_CRC) return EVOLU_E_INVALID;
    if (b[0] < EVOLU_LINK_HELLO || b[0] > EVOLU_LINK_DATA) return EVOLU_E_INVALID;
    f->type = b[0];
    f->chan = b[1];
    f->seq = get16(b + 2);
    f->ack = get16(b + 4);
    f->limit = get16(b + 6);
    f->len = plen;
    f->payload = b + EVOLU_LINK_HEADER;
    return EVOLU_OK;
}

evolu_err evolu_link_decode(evolu_link_decoder *d, const uint8_t *in, size_t n, size_t *used,
                            evolu_link_frame *f) {
    for (size_t i = 0; i < n; i++) {
        uint8_t b = in[i];
        if (b == 0) {
            *used = i + 1;
            bool empty = d->len == 0 && d->code == 0 && !d->overflow;
            evolu_err e = empty ? EVOLU_E_DONE : dec_finish(d, f);
            d->len = 0;
            d->left = 0;
            d->code = 0;
            d->overflow = false;
            if (!empty) return e;
            continue;
        }
        if (d->left == 0) {
            /* a code byte: the previous block (if any, and not a full one)
             * ended with an implied zero, now known not to be the last */
            if (d->code != 0 && d->code != 0xFF) dec_append(d, 0);
            d->code = b;
            d->left = (uint8_t)(b - 1);
        } else {
            dec_append(d, b);
            d->left--;
        }
    }
    *used = n;
    return EVOLU_E_DONE;
}
