/* port_sodium.c - the host porting table: libsodium for crypto and randomness,
 * clock_gettime(CLOCK_REALTIME) for Date.now(). */
#define _POSIX_C_SOURCE 200809L
#include "evolu/port_sodium.h"

#include "sodium_crypto.h"

#include <sodium.h>
#include <time.h>

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

static const evolu_port sodium_port = {
    NULL, evolu_sodium_aead_encrypt, evolu_sodium_aead_decrypt, evolu_sodium_sha256,
    evolu_sodium_hmac_sha512, random_buf, now_ms, evolu_sodium_memzero, evolu_sodium_memeq,
};

const evolu_port *evolu_port_sodium(void) {
    if (sodium_init() < 0) return NULL;
    return &sodium_port;
}
