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

#include "sodium_crypto.h"

#include <sodium/core.h>
#include <sodium/randombytes.h>
#include <sodium/utils.h>

static void random_buf(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    evolu_board_random(buf, len);
}

static int64_t now_ms(void *ctx) {
    (void)ctx;
    return evolu_board_now_ms();
}

static const evolu_port device_port = {
    NULL, evolu_sodium_aead_encrypt, evolu_sodium_aead_decrypt, evolu_sodium_sha256,
    evolu_sodium_hmac_sha512, random_buf, now_ms, evolu_sodium_memzero, evolu_sodium_memeq,
};

const evolu_port *evolu_port_device(void) { return &device_port; }

/* With -ffunction-sections/-fdata-sections an image that uses only this table
 * links no HMAC-SHA-512 (and no SHA-512). */
static void no_hmac(void *ctx, uint8_t out[64], const uint8_t *key, size_t key_len,
                    const uint8_t *m1, size_t m1_len, const uint8_t *m2, size_t m2_len) {
    (void)ctx, (void)out, (void)key, (void)key_len, (void)m1, (void)m1_len, (void)m2,
        (void)m2_len;
    for (;;) __builtin_trap();
}

static const evolu_port device_port_provisioned = {
    NULL, evolu_sodium_aead_encrypt, evolu_sodium_aead_decrypt, evolu_sodium_sha256,
    no_hmac, random_buf, now_ms, evolu_sodium_memzero, evolu_sodium_memeq,
};

const evolu_port *evolu_port_device_provisioned(void) { return &device_port_provisioned; }

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
