/*
 * board_mps2_an505.c - board hooks for QEMU's mps2-an505 (the emulated stand-in
 * for an STM32U5 board).
 *
 * RANDOMNESS - QEMU STAND-IN, NOT FOR PRODUCTION. The AN505 has no hardware RNG.
 * This generator is ChaCha20 (libsodium) keyed with a 32-byte seed fixed when the
 * build is configured (EVOLU_QEMU_RNG_SEED, from CMake's string(RANDOM)), run as a
 * fast-key-erasure generator: each call draws 32 bytes of keystream for the next
 * key, then the output. Every run of one build therefore produces the same
 * sequence, and the seed is in the image: fine for tests, useless for secrets.
 * On an STM32U5 this file is replaced by one that reads the RNG peripheral (a
 * NIST SP 800-90B entropy source), checking its seed/clock error flags.
 *
 * CLOCK: the host's time through semihosting (SYS_TIME, whole seconds) - also a
 * stand-in; an STM32U5 board reads its RTC.
 */
#include <stdint.h>
#include <string.h>

#include <sodium/crypto_stream_chacha20.h>
#include <sodium/utils.h>

#include "evolu/port_device.h"

#ifndef EVOLU_QEMU_RNG_SEED
#error "EVOLU_QEMU_RNG_SEED (64 hex digits) must be defined by the build"
#endif

/* The generator's state: the one mutable global of the port, owned by the board. */
static struct {
    uint8_t key[32];
    uint64_t calls;
    int seeded;
} g_rng;

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return 0;
}

static void rng_seed(void) {
    static const char seed[] = EVOLU_QEMU_RNG_SEED;
    _Static_assert(sizeof seed == 65, "EVOLU_QEMU_RNG_SEED must be 64 hex digits");
    for (size_t i = 0; i < 32; i++)
        g_rng.key[i] = (uint8_t)(hexval(seed[2 * i]) << 4 | hexval(seed[2 * i + 1]));
    g_rng.seeded = 1;
}

void evolu_board_random(uint8_t *buf, size_t len) {
    if (!g_rng.seeded) rng_seed();
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    uint8_t block[64];
    for (size_t i = 0; i < sizeof nonce; i++) nonce[i] = (uint8_t)(g_rng.calls >> (8 * i));
    g_rng.calls++;
    /* Block 0: 32 bytes become the next key (the rest is discarded). */
    crypto_stream_chacha20(block, sizeof block, nonce, g_rng.key);
    /* The output: keystream from block 1 on, under the old key. */
    if (len) {
        memset(buf, 0, len);
        crypto_stream_chacha20_xor_ic(buf, buf, len, nonce, 1, g_rng.key);
    }
    memcpy(g_rng.key, block, sizeof g_rng.key);
    sodium_memzero(block, sizeof block);
}

#define SYS_TIME 0x11u

int64_t evolu_board_now_ms(void) {
    register uint32_t r0 __asm__("r0") = SYS_TIME;
    register uint32_t r1 __asm__("r1") = 0;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return (int64_t)r0 * 1000;
}
