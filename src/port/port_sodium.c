/* port_sodium.c - the host porting table: libsodium for crypto and randomness,
 * clock_gettime(CLOCK_REALTIME) for Date.now(). */
#define _POSIX_C_SOURCE 200809L
#include "evolu/port_sodium.h"

#include <sodium.h>
#include <time.h>

static int aead_encrypt(void *ctx, uint8_t *c, const uint8_t *m, size_t m_len,
                        const uint8_t nonce[24], const uint8_t key[32]) {
    (void)ctx;
    return crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, m, m_len, NULL, 0, NULL,
                                                      nonce, key);
}

static int aead_decrypt(void *ctx, uint8_t *m, const uint8_t *c, size_t c_len,
                        const uint8_t nonce[24], const uint8_t key[32]) {
    (void)ctx;
    if (c_len < crypto_aead_xchacha20poly1305_ietf_ABYTES) return -1;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(m, NULL, NULL, c, c_len, NULL, 0,
                                                      nonce, key);
}

static void sha256(void *ctx, uint8_t out[32], const uint8_t *m, size_t m_len) {
    (void)ctx;
    crypto_hash_sha256(out, m, m_len);
}

static void hmac_sha512(void *ctx, uint8_t out[64], const uint8_t *key, size_t key_len,
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

static void random_buf(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    randombytes_buf(buf, len);
}

static int64_t now_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void memzero(void *ctx, void *p, size_t n) {
    (void)ctx;
    sodium_memzero(p, n);
}

static int memeq(void *ctx, const void *a, const void *b, size_t n) {
    (void)ctx;
    return sodium_memcmp(a, b, n) == 0;
}

static const evolu_port sodium_port = {
    NULL, aead_encrypt, aead_decrypt, sha256, hmac_sha512, random_buf, now_ms, memzero, memeq,
};

const evolu_port *evolu_port_sodium(void) {
    if (sodium_init() < 0) return NULL;
    return &sodium_port;
}
