/*
 * evolu/port_device.h - the device's porting table (src/port/port_device.c):
 * libsodium 1.0.18 compiled for the target for the cryptography, and two board
 * hooks for what only the board can give, randomness and the wall clock.
 *
 * A board provides the hooks: device/board_mps2_an505.c is the QEMU stand-in
 * (no TRNG there: a deterministic generator, for tests only); an STM32U5 board
 * file reads its RNG peripheral and its RTC.
 */
#ifndef EVOLU_PORT_DEVICE_H
#define EVOLU_PORT_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The table. Never NULL: the compiled-in libsodium needs no run-time start. */
const evolu_port *evolu_port_device(void);

/* The same table for a device provisioned with its owner's derived keys (the
 * firmware): it never derives keys, so hmac_sha512 (SLIP-21's primitive) is
 * left out and with it libsodium's SHA-512 (~8 KB of flash). Calling its
 * hmac_sha512 is a bug and stops hard, like libsodium's misuse handler. */
const evolu_port *evolu_port_device_provisioned(void);

/* --- board hooks (one board file implements them) ------------------------- */

/* Fill buf with len bytes from the board's cryptographic random source. */
void evolu_board_random(uint8_t *buf, size_t len);

/* Milliseconds since 1970-01-01T00:00:00Z, or -1 if the board has no clock. */
int64_t evolu_board_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif
