/* port_device.c - the device porting table (STM32U5-class Cortex-M33): the
 * cryptography comes from libsodium 1.0.18's own sources compiled for the target
 * (only the files the table needs, see device/CMakeLists.txt), randomness and the
 * clock from the board (evolu_board_random, evolu_board_now_ms).
 *
 * Under QEMU mps2-an505 the board is device/board_mps2_an505.c, whose random
 * source is a STAND-IN (a ChaCha20 generator seeded at build time, because the
 * AN505 has no TRNG); the STM32U5 board file uses the RNG peripheral instead.
 *
 * Also here: the few libsodium entry points that live in files we do not compile
 * (core.c, randombytes.c): sodium_init, sodium_misuse and randombytes_buf. */
#include "evolu/port_device.h"

#include <sodium/core.h>
#include <sodium/crypto_aead_xchacha20poly1305.h>
#include <sodium/crypto_auth_hmacsha512.h>
#include <sodium/crypto_hash_sha256.h>
#include <sodium/randombytes.h>
#include <sodium/utils.h>

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
    evolu_board_random(buf, len);
}

static int64_t now_ms(void *ctx) {
    (void)ctx;
    return evolu_board_now_ms();
}

static void memzero(void *ctx, void *p, size_t n) {
    (void)ctx;
    sodium_memzero(p, n);
}

static int memeq(void *ctx, const void *a, const void *b, size_t n) {
    (void)ctx;
    return sodium_memcmp(a, b, n) == 0;
}

static const evolu_port device_port = {
    NULL, aead_encrypt, aead_decrypt, sha256, hmac_sha512, random_buf, now_ms, memzero, memeq,
};

const evolu_port *evolu_port_device(void) { return &device_port; }

/* --- libsodium glue ---------------------------------------------------------- */

/* Nothing to start: the compiled-in implementations are chosen statically (the
 * portable ChaCha20 and Poly1305 code; no run-time CPU feature detection). */
int sodium_init(void) { return 0; }

/* libsodium calls this on API misuse (e.g. an over-long message): stop hard. */
void sodium_misuse(void) {
    for (;;) __builtin_trap();
}

void randombytes_buf(void *const buf, const size_t size) {
    evolu_board_random(buf, size);
}
