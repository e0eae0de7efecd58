/* fuzz_link.c - the link (include/evolu/link.h) on arbitrary input.
 *
 * Odd first byte: the input is a raw byte stream for the frame decoder, fed
 * in chunks whose sizes the first byte picks. Every frame the decoder accepts
 * is re-encoded and must decode again to the same frame; every DATA payload
 * also goes through the message receiver and the store decoder, and a store
 * payload that decodes must re-encode to the very same bytes.
 *
 * First byte with bits 0-1 = 10: the input is a sequence of [len][payload]
 * fed to the message receiver and the store decoder directly (a random frame
 * rarely passes the CRC, so this is how those decoders get fuzzed).
 *
 * First byte with bits 0-1 = 00: the input is a script of well-formed frames (so they pass
 * the CRC and reach the endpoint's state machine) interleaved with clock
 * steps, grants and sends. The endpoint must never deliver more frames than
 * were granted, its send window must stay consistent, and every frame it
 * emits must decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const evolu_link_frame *a, const evolu_link_frame *b) {
    return a->type == b->type && a->chan == b->chan && a->seq == b->seq && a->ack == b->ack &&
           a->limit == b->limit && a->len == b->len &&
           (a->len == 0 || memcmp(a->payload, b->payload, a->len) == 0);
}

static void check_payload(evolu_link_msg_rx *rx, const uint8_t *p, size_t n) {
    evolu_link_msg_part part;
    if (evolu_link_msg_feed(rx, p, n, &part) == EVOLU_OK && part.kind == EVOLU_LINK_MSG_DATA &&
        (part.n != n - 1 || part.data != p + 1))
        __builtin_trap();
    evolu_link_store_msg m;
    if (evolu_link_store_decode(p, n, &m) != EVOLU_OK) return;
    uint8_t *out = malloc(n);
    size_t len;
    if (!out) return;
    if (evolu_link_store_encode(&m, out, n, &len) != EVOLU_OK || len != n ||
        memcmp(out, p, n) != 0)
        __builtin_trap();
    free(out);
}

static void raw_stream(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(EVOLU_LINK_FRAME_MAX);
    uint8_t *wire = malloc(EVOLU_LINK_WIRE_MAX);
    uint8_t *buf2 = malloc(EVOLU_LINK_FRAME_MAX);
    if (!buf || !wire || !buf2) goto out;
    evolu_link_decoder d;
    evolu_link_decoder_init(&d, buf, EVOLU_LINK_FRAME_MAX);
    evolu_link_msg_rx rx;
    evolu_link_msg_rx_init(&rx, 1000000);
    size_t step = (size_t)(data[0] >> 1) + 1, pos = 1;
    while (pos < size) {
        size_t want = size - pos < step ? size - pos : step, used;
        evolu_link_frame f;
        evolu_err e = evolu_link_decode(&d, data + pos, want, &used, &f);
        if (used == 0 || used > want) __builtin_trap();
        pos += used;
        if (e != EVOLU_OK) continue;
        if (f.len > EVOLU_LINK_MTU || f.payload != buf + EVOLU_LINK_HEADER) __builtin_trap();
        size_t n;
        if (evolu_link_frame_encode(&f, wire, EVOLU_LINK_WIRE_SIZE((size_t)f.len), &n) !=
            EVOLU_OK)
            __builtin_trap();
        evolu_link_decoder d2;
        evolu_link_decoder_init(&d2, buf2, EVOLU_LINK_FRAME_MAX);
        evolu_link_frame g;
        size_t u2;
        if (evolu_link_decode(&d2, wire, n, &u2, &g) != EVOLU_OK || u2 != n || !same(&f, &g))
            __builtin_trap();
        if (f.type == EVOLU_LINK_DATA && f.len) check_payload(&rx, f.payload, f.len);
    }
out:
    free(buf);
    free(wire);
    free(buf2);
}

/* Script: records of [op][...]. */
static void script(const uint8_t *data, size_t size) {
    enum { SLOTS = 3, SESSION = 0x01020304u };
    uint8_t *slots = malloc(SLOTS * EVOLU_LINK_SLOT_SIZE);
    uint8_t *rxbuf = malloc(EVOLU_LINK_FRAME_MAX);
    uint8_t *wire = malloc(EVOLU_LINK_WIRE_MAX);
    uint8_t *pay = malloc(EVOLU_LINK_MTU);
    uint8_t *dbuf = malloc(EVOLU_LINK_FRAME_MAX);
    evolu_link l;
    evolu_link_config cfg = {5, 40, 2, 0};
    if (!slots || !rxbuf || !wire || !pay || !dbuf) goto out;
    if (evolu_link_init(&l, &cfg, SESSION, slots, SLOTS, rxbuf, EVOLU_LINK_FRAME_MAX))
        __builtin_trap();
    uint32_t now = 0;
    size_t pos = 1;
    while (pos < size) {
        uint8_t op = data[pos++];
        size_t n = 0;
        evolu_link_frame f;
        memset(&f, 0, sizeof f);
        switch (op % 6) {
        case 0: /* a HELLO from the peer: session, echo (ours or not), mtu, flags */
            if (size - pos < 3) goto out;
            for (int i = 0; i < 4; i++) pay[i] = (uint8_t)(0xA0 + (data[pos] & 3));
            for (int i = 0; i < 4; i++)
                pay[4 + i] = (data[pos + 1] & 1) ? (uint8_t)(SESSION >> (8 * i)) : data[pos + 2];
            pay[8] = data[pos + 2];
            pay[9] = data[pos + 1] >> 6;
            pay[10] = data[pos + 1] >> 1 & 1;
            f.type = EVOLU_LINK_HELLO;
            f.len = (data[pos] & 4) ? 11 : (uint16_t)(data[pos] >> 4);
            f.payload = pay;
            pos += 3;
            break;
        case 1:   /* ACK or DATA with fuzzed numbers */
        case 2: {
            if (size - pos < 8) goto out;
            f.type = op % 6 == 1 ? EVOLU_LINK_ACK : EVOLU_LINK_DATA;
            f.chan = data[pos];
            f.seq = (uint16_t)(data[pos + 1] | data[pos + 2] << 8);
            f.ack = (uint16_t)(data[pos + 3] | data[pos + 4] << 8);
            f.limit = (uint16_t)(data[pos + 5] | data[pos + 6] << 8);
            size_t len = data[pos + 7];
            pos += 8;
            if (len > size - pos) len = size - pos;
            memcpy(pay, data + pos, len);
            pos += len;
            f.len = (uint16_t)len;
            f.payload = pay;
            break;
        }
        case 3: now += data[pos - 1] >> 3; break;
        case 4:
            evolu_link_grant(&l, (uint16_t)(op >> 3));
            break;
        case 5:
            evolu_link_send(&l, op >> 3, data + pos, (size_t)(op >> 3) < size - pos ? op >> 3 : 0);
            break;
        }
        if (f.type) {
            if (evolu_link_frame_encode(&f, wire, EVOLU_LINK_WIRE_MAX, &n)) __builtin_trap();
            for (size_t off = 0; off < n;) {
                size_t used;
                evolu_link_event ev;
                evolu_link_input(&l, wire + off, n - off, now, &used, &ev);
                if (used == 0 && off < n) __builtin_trap();
                off += used;
            }
        }
        /* whatever the endpoint emits is a valid frame; once it has nothing
         * more, its timeout is not "now" */
        for (int k = 0; k < 8; k++) {
            size_t m;
            if (evolu_link_poll(&l, now, wire, EVOLU_LINK_WIRE_MAX, &m)) __builtin_trap();
            if (m == 0) {
                if (evolu_link_timeout(&l, now) == 0) __builtin_trap();
                break;
            }
            evolu_link_decoder d;
            evolu_link_decoder_init(&d, dbuf, EVOLU_LINK_FRAME_MAX);
            size_t used;
            evolu_link_frame g;
            if (evolu_link_decode(&d, wire, m, &used, &g) != EVOLU_OK || used != m)
                __builtin_trap();
        }
        /* the window stays consistent; rx_next never passes the granted
         * rx_limit, so no more is delivered than was granted */
        if ((uint16_t)(l.tx_next - l.tx_base) > SLOTS) __builtin_trap();
        if ((uint16_t)(l.tx_send - l.tx_base) > (uint16_t)(l.tx_next - l.tx_base)) __builtin_trap();
        if ((uint16_t)(l.rx_limit - l.rx_next) >= 0x8000u) __builtin_trap();
        if (evolu_link_send_room(&l) > SLOTS) __builtin_trap();
    }
out:
    free(slots);
    free(rxbuf);
    free(wire);
    free(pay);
    free(dbuf);
}

/* Payloads: [len][bytes]... each fed to the message receiver (whose offsets
 * must be contiguous and whose COMPLETE must match the BEGIN's total) and to
 * the store decoder. */
static void payloads(const uint8_t *data, size_t size) {
    evolu_link_msg_rx rx;
    evolu_link_msg_rx_init(&rx, (uint32_t)data[0] << 4);
    uint32_t total = 0, next = 0;
    bool open = false;
    size_t pos = 1;
    while (pos < size) {
        size_t n = data[pos++];
        if (n > size - pos) n = size - pos;
        uint8_t *p = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        if (!p) return;
        memcpy(p, data + pos, n);
        pos += n;
        evolu_link_msg_part part;
        evolu_err e = evolu_link_msg_feed(&rx, p, n, &part);
        if (e != EVOLU_OK) {
            open = false;
        } else if (part.kind == EVOLU_LINK_MSG_STARTED) {
            if (open || part.total > rx.max_total) __builtin_trap();
            open = true;
            total = part.total;
            next = 0;
        } else if (part.kind == EVOLU_LINK_MSG_DATA) {
            if (!open || part.offset != next || part.n == 0 || part.n > total - next)
                __builtin_trap();
            next += (uint32_t)part.n;
        } else if (part.kind == EVOLU_LINK_MSG_COMPLETE) {
            if (!open || next != total || part.total != total) __builtin_trap();
            open = false;
        } else if (part.kind == EVOLU_LINK_MSG_ABORTED) {
            open = false;
        } else {
            __builtin_trap();
        }
        if (rx.open != open) __builtin_trap();
        evolu_link_store_msg m;
        if (n && evolu_link_store_decode(p, n, &m) == EVOLU_OK) {
            uint8_t *out = malloc(n);
            size_t len;
            if (out && (evolu_link_store_encode(&m, out, n, &len) != EVOLU_OK || len != n ||
                        memcmp(out, p, n) != 0))
                __builtin_trap();
            free(out);
        }
        free(p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1) raw_stream(data, size);
    else if (data[0] & 2) payloads(data, size);
    else script(data, size);
    return 0;
}
