/* sodium_crypto.h - the porting-table entries that are plain libsodium calls,
 * shared by the host table (port_sodium.c, Debian's libsodium) and the device
 * table (port_device.c, libsodium's sources built for the target). The tables
 * differ only in where randomness and the clock come from. */
#ifndef EVOLU_SODIUM_CRYPTO_H
#define EVOLU_SODIUM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

int evolu_sodium_aead_encrypt(void *ctx, uint8_t *c, const uint8_t *m, size_t m_len,
                              const uint8_t nonce[24], const uint8_t key[32]);
int evolu_sodium_aead_decrypt(void *ctx, uint8_t *m, const uint8_t *c, size_t c_len,
                              const uint8_t nonce[24], const uint8_t key[32]);
void evolu_sodium_sha256(void *ctx, uint8_t out[32], const uint8_t *m, size_t m_len);
void evolu_sodium_hmac_sha512(void *ctx, uint8_t out[64], const uint8_t *key, size_t key_len,
                              const uint8_t *m1, size_t m1_len, const uint8_t *m2,
                              size_t m2_len);
void evolu_sodium_memzero(void *ctx, void *p, size_t n);
int evolu_sodium_memeq(void *ctx, const void *a, const void *b, size_t n);

#endif
