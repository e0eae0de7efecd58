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
