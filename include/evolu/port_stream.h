/*
 * evolu/port_stream.h - the streaming AEAD table (evolu_aead_stream_port in
 * evolu/port.h) filled from libsodium's primitives. The same function serves
 * the host (Debian's libsodium, in evolu_port_sodium) and the device
 * (libsodium's sources built for the target, in evolu_port_device), because
 * both compile src/port/sodium_crypto.c.
 */
#ifndef EVOLU_PORT_STREAM_H
#define EVOLU_PORT_STREAM_H

#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stateless and constant; on the host call sodium_init() (evolu_port_sodium
 * does) before using it. */
const evolu_aead_stream_port *evolu_port_aead_stream_sodium(void);

#ifdef __cplusplus
}
#endif
#endif
