/* id.c - unpadded Base64Url (RFC 4648 5), Id <-> text, createIdFromString and
 * random Ids (spec 2.4). */
#include "evolu/id.h"

#include <string.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one Base64Url character, or -1 when it is outside the alphabet
 * (the standard alphabet's '+' and '/' and the padding '=' included). */
static int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

void evolu_base64url_encode(evolu_writer *w, const uint8_t *p, size_t n) {
    size_t i = 0;
    char out[4];
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[0] = b64url[v >> 18];
        out[1] = b64url[(v >> 12) & 63];
        out[2] = b64url[(v >> 6) & 63];
        out[3] = b64url[v & 63];
        evolu_put_bytes(w, (const uint8_t *)out, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[0] = b64url[v >> 18];
        out[1] = b64url[(v >> 12) & 63];
        evolu_put_bytes(w, (const uint8_t *)out, 2);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[0] = b64url[v >> 18];
        out[1] = b64url[(v >> 12) & 63];
        out[2] = b64url[(v >> 6) & 63];
        evolu_put_bytes(w, (const uint8_t *)out, 3);
    }
}

bool evolu_base64url_is_canonical(const char *s, size_t n) {
    if (n % 4 == 1) return false;
    for (size_t i = 0; i < n; i++)
        if (b64url_value(s[i]) < 0) return false;
    if (n == 0) return true;
    /* The last character of a 2- or 3-character tail carries 4 or 2 bits that
     * the encoder always leaves zero; anything else does not re-encode to s. */
    int last = b64url_value(s[n - 1]);
    if (n % 4 == 2) return (last & 15) == 0;
    if (n % 4 == 3) return (last & 3) == 0;
    return true;
}

evolu_err evolu_base64url_decode(evolu_writer *w, const char *s, size_t n) {
    if (!evolu_base64url_is_canonical(s, n)) return EVOLU_E_BASE64URL;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 6) | (uint32_t)b64url_value(s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            evolu_put_u8(w, (uint8_t)(acc >> bits));
            acc &= (1u << bits) - 1u;
        }
    }
    return w->err;
}

void evolu_id_to_string(const uint8_t id[EVOLU_ID_BYTES], char out[EVOLU_ID_CHARS]) {
    evolu_writer w = evolu_writer_make((uint8_t *)out, EVOLU_ID_CHARS);
    evolu_base64url_encode(&w, id, EVOLU_ID_BYTES);
}

bool evolu_is_id(const char *s, size_t n) {
    return n == EVOLU_ID_CHARS && evolu_base64url_is_canonical(s, n);
}

evolu_err evolu_id_from_string(const char *s, size_t n, uint8_t id[EVOLU_ID_BYTES]) {
    if (!evolu_is_id(s, n)) return EVOLU_E_ID;
    evolu_writer w = evolu_writer_make(id, EVOLU_ID_BYTES);
    evolu_err e = evolu_base64url_decode(&w, s, n);
    /* 22 canonical characters are exactly 16 bytes, so this cannot fail. */
    return (e == EVOLU_OK && w.len == EVOLU_ID_BYTES) ? EVOLU_OK : EVOLU_E_ID;
}

void evolu_id_from_hash(const evolu_port *port, const uint8_t *s, size_t n,
                        uint8_t id[EVOLU_ID_BYTES]) {
    uint8_t h[32];
    port->sha256(port->ctx, h, s, n);
    memcpy(id, h, EVOLU_ID_BYTES);
}

void evolu_id_random(const evolu_port *port, uint8_t id[EVOLU_ID_BYTES]) {
    port->random(port->ctx, id, EVOLU_ID_BYTES);
}
