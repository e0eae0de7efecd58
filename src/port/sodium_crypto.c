/* sodium_crypto.c - see sodium_crypto.h. */
#include "sodium_crypto.h"

#include <sodium/crypto_aead_xchacha20poly1305.h>
#include <sodium/crypto_auth_hmacsha512.h>
#include <sodium/crypto_hash_sha256.h>
#include <sodium/utils.h>

int evolu_sodium_aead_encrypt(void *ctx, uint8_t *c, const uint8_t *m, size_t m_len,
                              const uint8_t nonce[24], const uint8_t key[32]) {
    (void)ctx;
    return crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, m, m_len, NULL, 0, NULL,
                                                      nonce, key);
}

int evolu_sodium_aead_decrypt(void *ctx, uint8_t *m, const uint8_t *c, size_t c_len,
                              const uint8_t nonce[24], const uint8_t key[32]) {
    (void)ctx;
    if (c_len < crypto_aead_xchacha20poly1305_ietf_ABYTES) return -1;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(m, NULL, NULL, c, c_len, NULL, 0,
                                                      nonce, key);
}

void evolu_sodium_sha256(void *ctx, uint8_t out[32], const uint8_t *m, size_t m_len) {
    (void)ctx;
    crypto_hash_sha256(out, m, m_len);
}

void evolu_sodium_hmac_sha512(void *ctx, uint8_t out[64], const uint8_t *key, size_t key_len,
                              const uint8_t *m1, size_t m1_len, const uint8_t *m2,
                              size_t m2_len) {
    (void)ctx;
    crypto_auth_hmacsha512_state st;
    crypto_auth_hmacsha512_init(&st, key, key_len);
    if (m1_len) crypto_auth_hmacsha512_update(&st, m1, m1_len);
    if (m2_len) crypto_auth_hmacsha512_update(&st, m2, m2_len);
    crypto_auth_hmacsha512_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

void evolu_sodium_memzero(void *ctx, void *p, size_t n) {
    (void)ctx;
    sodium_memzero(p, n);
}

int evolu_sodium_memeq(void *ctx, const void *a, const void *b, size_t n) {
    (void)ctx;
    return sodium_memcmp(a, b, n) == 0;
}

/* --- streaming XChaCha20-Poly1305 (evolu_aead_stream_port) --------------------------
 * libsodium's own construction (aead_xchacha20poly1305.c and
 * aead_chacha20poly1305.c, IETF variant, no associated data), spread over
 * calls: only libsodium primitives, nothing hand-written. */

#include <sodium/crypto_core_hchacha20.h>
#include <sodium/crypto_onetimeauth_poly1305.h>
#include <sodium/crypto_stream_chacha20.h>
#include <string.h>

#include "evolu/port.h"
#include "evolu/port_stream.h"

typedef struct aead_stream_impl {
    crypto_onetimeauth_poly1305_state mac;
    unsigned char subkey[32];
    unsigned char polykey[32];
    unsigned char nonce12[12];
    uint64_t len;
} aead_stream_impl;

_Static_assert(sizeof(aead_stream_impl) <= EVOLU_AEAD_STREAM_STATE_BYTES,
               "evolu_aead_stream too small for libsodium's Poly1305 state");

static aead_stream_impl *impl(evolu_aead_stream *st) { return (aead_stream_impl *)(void *)st->opaque; }
static const aead_stream_impl *cimpl(const evolu_aead_stream *st) {
    return (const aead_stream_impl *)(const void *)st->opaque;
}

static int stream_init(void *ctx, evolu_aead_stream *st, const uint8_t nonce[24],
                       const uint8_t key[32]) {
    (void)ctx;
    aead_stream_impl *s = impl(st);
    memset(s, 0, sizeof *s);
    if (crypto_core_hchacha20(s->subkey, nonce, key, NULL) != 0) return -1;
    memcpy(s->nonce12 + 4, nonce + crypto_core_hchacha20_INPUTBYTES, 8);
    crypto_stream_chacha20_ietf(s->polykey, sizeof s->polykey, s->nonce12, s->subkey);
    return crypto_onetimeauth_poly1305_init(&s->mac, s->polykey);
}

static void stream_auth(void *ctx, evolu_aead_stream *st, const uint8_t *c, size_t n) {
    (void)ctx;
    aead_stream_impl *s = impl(st);
    if (n) crypto_onetimeauth_poly1305_update(&s->mac, c, n);
    s->len += n;
}

static void store64_le(unsigned char out[8], uint64_t v) {
    for (unsigned i = 0; i < 8; i++) out[i] = (unsigned char)(v >> (8 * i));
}

static void stream_final(void *ctx, evolu_aead_stream *st, uint8_t tag[16]) {
    (void)ctx;
    static const unsigned char pad0[16] = {0};
    unsigned char lens[16];
    aead_stream_impl *s = impl(st);
    crypto_onetimeauth_poly1305_update(&s->mac, pad0, (0x10 - (size_t)s->len) & 0xf);
    store64_le(lens, 0); /* no associated data */
    store64_le(lens + 8, s->len);
    crypto_onetimeauth_poly1305_update(&s->mac, lens, sizeof lens);
    crypto_onetimeauth_poly1305_final(&s->mac, tag);
    crypto_onetimeauth_poly1305_init(&s->mac, s->polykey);
    s->len = 0;
}

static void stream_xor_at(void *ctx, const evolu_aead_stream *st, uint64_t off, uint8_t *out,
                          const uint8_t *in, size_t n) {
    (void)ctx;
    const aead_stream_impl *s = cimpl(st);
    uint64_t block = 1 + off / 64; /* block 0 gave the Poly1305 key */
    size_t skip = (size_t)(off % 64);
    if (skip && n) {
        unsigned char tmp[64] = {0};
        size_t k = 64 - skip < n ? 64 - skip : n;
        memcpy(tmp + skip, in, k);
        crypto_stream_chacha20_ietf_xor_ic(tmp, tmp, sizeof tmp, s->nonce12, (uint32_t)block,
                                           s->subkey);
        memcpy(out, tmp + skip, k);
        sodium_memzero(tmp, sizeof tmp);
        in += k;
        out += k;
        n -= k;
        block++;
    }
    if (n) crypto_stream_chacha20_ietf_xor_ic(out, in, n, s->nonce12, (uint32_t)block, s->subkey);
}

static const evolu_aead_stream_port sodium_aead_stream = {
    NULL, stream_init, stream_auth, stream_final, stream_xor_at,
};

const evolu_aead_stream_port *evolu_port_aead_stream_sodium(void) { return &sodium_aead_stream; }
