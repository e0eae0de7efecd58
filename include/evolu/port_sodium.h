/*
 * evolu/port_sodium.h - the host's porting table, backed by libsodium.
 */
#ifndef EVOLU_PORT_SODIUM_H
#define EVOLU_PORT_SODIUM_H

#include "evolu/error.h"
#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialises libsodium (idempotent, thread-safe) and returns a table whose
 * clock is the system's real-time clock. Returns NULL if libsodium cannot start. */
const evolu_port *evolu_port_sodium(void);

#ifdef __cplusplus
}
#endif
#endif
