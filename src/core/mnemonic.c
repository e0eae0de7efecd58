/* mnemonic.c - BIP-39 entropy <-> English mnemonic (spec 5.1); see evolu/owner.h.
 *
 * The words carry entropy || checksum as consecutive 11-bit big-endian groups.
 * With ENT entropy bits the checksum is the first ENT/32 bits of SHA-256 of the
 * entropy, so ENT + CS = 33 * ENT / 32 = 11 * words. Both directions go through
 * one 33-byte bit buffer (at most 32 entropy bytes and one checksum byte). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bip39_words.h"
#include "evolu/owner.h"

#define BITS_BYTES (EVOLU_MNEMONIC_MAX_SECRET_BYTES + 1)

/* Words for an entropy length, 0 if the length is not a BIP-39 length. */
static size_t words_for_bytes(size_t n) {
    return (n >= 16 && n <= 32 && n % 4 == 0) ? n * 3 / 4 : 0;
}

/* Writes the 11-bit value v at bit offset pos (bits are ORed into a zeroed
 * buffer; no branch on the value). */
static void put11(uint8_t *buf, size_t pos, uint32_t v) {
    for (unsigned b = 0; b < 11; b++, pos++)
        buf[pos >> 3] |= (uint8_t)(((v >> (10 - b)) & 1u) << (7 - (pos & 7)));
}

static uint32_t get11(const uint8_t *buf, size_t pos) {
    uint32_t v = 0;
    for (unsigned b = 0; b < 11; b++, pos++) v = (v << 1) | ((buf[pos >> 3] >> (7 - (pos & 7))) & 1u);
    return v;
}

/* Index of the word w[0..n) in the sorted list, or -1. */
static int32_t word_index(const char *w, size_t n) {
    if (n == 0 || n > EVOLU_BIP39_WORD_MAX) return -1;
    uint32_t lo = 0, hi = EVOLU_BIP39_WORD_COUNT;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *c = evolu_bip39_chars + evolu_bip39_offsets[mid];
        size_t cn = (size_t)(evolu_bip39_offsets[mid + 1] - evolu_bip39_offsets[mid]);
        int cmp = memcmp(w, c, n < cn ? n : cn);
        if (cmp == 0) cmp = (n > cn) - (n < cn);
        if (cmp == 0) return (int32_t)mid;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

evolu_err evolu_mnemonic_to_secret(const evolu_port *port, const char *s, size_t n,
                                   uint8_t secret[EVOLU_MNEMONIC_MAX_SECRET_BYTES],
                                   size_t *secret_len) {
    if (secret_len) *secret_len = 0;
    if (!port || (!s && n) || !secret || !secret_len) return EVOLU_E_ARG;

    /* Like @scure/bip39: split on single spaces and check the count first. */
    size_t words = 1;
    for (size_t i = 0; i < n; i++) words += (s[i] == ' ');
    size_t ent = words % 3 == 0 ? words * 4 / 3 : 0;
    if (words_for_bytes(ent) != words) return EVOLU_E_MNEMONIC_LENGTH;

    uint8_t bits[BITS_BYTES];
    uint8_t hash[32];
    memset(bits, 0, sizeof bits);
    memset(hash, 0, sizeof hash);
    evolu_err err = EVOLU_OK;
    size_t start = 0, w = 0;
    int32_t idx = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ' ') continue;
        idx = word_index(s + start, i - start);
        if (idx < 0) {
            err = EVOLU_E_MNEMONIC_WORD;
            goto out;
        }
        put11(bits, w * 11, (uint32_t)idx);
        w++;
        start = i + 1;
    }

    port->sha256(port->ctx, hash, bits, ent);
    {
        unsigned cs = (unsigned)(ent / 4); /* ENT/32 bits, 4..8 */
        uint8_t mask = (uint8_t)(0xFFu << (8 - cs));
        if ((hash[0] ^ bits[ent]) & mask) {
            err = EVOLU_E_MNEMONIC_CHECKSUM;
            goto out;
        }
    }
    memcpy(secret, bits, ent);
    *secret_len = ent;

out:
    port->memzero(port->ctx, bits, sizeof bits);
    port->memzero(port->ctx, hash, sizeof hash);
    port->memzero(port->ctx, &idx, sizeof idx);
    return err;
}

evolu_err evolu_mnemonic_from_secret(const evolu_port *port, const uint8_t *secret, size_t n,
                                     evolu_writer *w) {
    size_t words = words_for_bytes(n);
    if (!port || !secret || !w || !words) return EVOLU_E_ARG;

    uint8_t bits[BITS_BYTES];
    uint8_t hash[32];
    memset(bits, 0, sizeof bits);
    memcpy(bits, secret, n);
    port->sha256(port->ctx, hash, secret, n);
    /* Only the top n/4 bits of this byte are read below. */
    bits[n] = hash[0];

    uint32_t idx = 0;
    for (size_t i = 0; i < words; i++) {
        idx = get11(bits, i * 11);
        if (i) evolu_put_u8(w, ' ');
        evolu_put_bytes(w, (const uint8_t *)evolu_bip39_chars + evolu_bip39_offsets[idx],
                        (size_t)(evolu_bip39_offsets[idx + 1] - evolu_bip39_offsets[idx]));
    }

    port->memzero(port->ctx, bits, sizeof bits);
    port->memzero(port->ctx, hash, sizeof hash);
    port->memzero(port->ctx, &idx, sizeof idx);
    return w->err;
}
