/* msgpack.c - MessagePack numbers as Evolu writes and reads them (spec 2.6).
 *
 * The encoder reproduces the published encoders byte for byte: integers that
 * fit a 32-bit (un)signed MessagePack int take the smallest int form, every
 * other value is a float64. -0 is a float64 (8.11.0; 8.0.0-next.5 wrote 00).
 * The decoder accepts exactly the number markers of the 8.11.0 JSON subset.
 */
#include <stdint.h>
#include <string.h>

#include "evolu/json.h"

void evolu_msgpack_put_number(evolu_writer *w, double v) {
    uint8_t b[9];
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (bits != (1ULL << 63)) { /* -0 is a float64 */
        if (v >= 0.0 && v <= 4294967295.0) {
            uint32_t u = (uint32_t)v;
            if ((double)u == v) {
                if (u < 0x80) {
                    evolu_put_u8(w, (uint8_t)u);
                } else if (u < 0x100) {
                    b[0] = 0xcc;
                    b[1] = (uint8_t)u;
                    evolu_put_bytes(w, b, 2);
                } else if (u < 0x10000) {
                    b[0] = 0xcd;
                    evolu_store_be(b + 1, u, 2);
                    evolu_put_bytes(w, b, 3);
                } else {
                    b[0] = 0xce;
                    evolu_store_be(b + 1, u, 4);
                    evolu_put_bytes(w, b, 5);
                }
                return;
            }
        } else if (v < 0.0 && v >= -2147483648.0) {
            int32_t i = (int32_t)v;
            if ((double)i == v) {
                if (i >= -32) {
                    evolu_put_u8(w, (uint8_t)(0x100 + i));
                } else if (i >= -128) {
                    b[0] = 0xd0;
                    b[1] = (uint8_t)(int8_t)i;
                    evolu_put_bytes(w, b, 2);
                } else if (i >= -32768) {
                    b[0] = 0xd1;
                    evolu_store_be(b + 1, (uint16_t)(int16_t)i, 2);
                    evolu_put_bytes(w, b, 3);
                } else {
                    b[0] = 0xd2;
                    evolu_store_be(b + 1, (uint32_t)i, 4);
                    evolu_put_bytes(w, b, 5);
                }
                return;
            }
        }
    }
    b[0] = 0xcb;
    evolu_store_be(b + 1, bits, 8);
    evolu_put_bytes(w, b, 9);
}

evolu_err evolu_msgpack_get_number(evolu_reader *r, double *out) {
    size_t start = r->pos;
    uint8_t m;
    evolu_err e = evolu_get_u8(r, &m);
    if (e) return e;
    unsigned width = 0;
    if (m <= 0x7f) {
        *out = m;
        return EVOLU_OK;
    }
    if (m >= 0xe0) {
        *out = (int)m - 0x100;
        return EVOLU_OK;
    }
    switch (m) {
    case 0xcc: case 0xd0: width = 1; break;
    case 0xcd: case 0xd1: width = 2; break;
    case 0xce: case 0xd2: case 0xca: width = 4; break;
    case 0xcb: width = 8; break;
    default:
        r->pos = start;
        return EVOLU_E_MSGPACK;
    }
    const uint8_t *p;
    e = evolu_get_span(r, &p, width);
    if (e) {
        r->pos = start;
        return e;
    }
    uint64_t u = evolu_load_be(p, width);
    double v;
    if (m == 0xca) {
        uint32_t fb = (uint32_t)u;
        float f;
        memcpy(&f, &fb, sizeof f);
        if (((fb >> 23) & 0xff) == 0xff) {
            r->pos = start;
            return EVOLU_E_NUMBER;
        }
        v = (double)f;
    } else if (m == 0xcb) {
        if (((u >> 52) & 0x7ff) == 0x7ff) {
            r->pos = start;
            return EVOLU_E_NUMBER;
        }
        memcpy(&v, &u, sizeof v);
    } else if (m >= 0xd0) { /* signed */
        int64_t half = (int64_t)1 << (width * 8 - 1);
        int64_t s = (int64_t)u;
        if (s >= half) s -= 2 * half; /* two's complement, portably */
        v = (double)s;
    } else {
        v = (double)u;
    }
    *out = v;
    return EVOLU_OK;
}
