/*
 * evolu/timestamp.h - hybrid-logical-clock timestamps, TimestampBytes and
 * fingerprints (spec 3.1, 3.2, 5.6).
 */
#ifndef EVOLU_TIMESTAMP_H
#define EVOLU_TIMESTAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest valid Millis: 2^48 - 2 (2^48 - 1 is reserved as "infinity"). */
#define EVOLU_MAX_MILLIS 281474976710654ULL
#define EVOLU_MAX_COUNTER 65535u
#define EVOLU_NODE_ID_BYTES 8
#define EVOLU_TIMESTAMP_BYTES 16
#define EVOLU_FINGERPRINT_BYTES 12

typedef struct evolu_timestamp {
    uint64_t millis;                       /* 0 .. EVOLU_MAX_MILLIS */
    uint16_t counter;                      /* 0 .. 65535 */
    uint8_t node_id[EVOLU_NODE_ID_BYTES];  /* random per database */
} evolu_timestamp;

/* millis (48-bit BE) || counter (16-bit BE) || nodeId; memcmp order = timestamp order. */
void evolu_timestamp_to_bytes(const evolu_timestamp *t, uint8_t out[EVOLU_TIMESTAMP_BYTES]);

/* Inverse; EVOLU_E_MILLIS if the millis field is 2^48 - 1. */
evolu_err evolu_timestamp_from_bytes(const uint8_t in[EVOLU_TIMESTAMP_BYTES],
                                     evolu_timestamp *t);

/* <0, 0, >0 like memcmp of the TimestampBytes. */
int evolu_timestamp_cmp(const evolu_timestamp *a, const evolu_timestamp *b);

/* SHA-256(TimestampBytes(t))[0..12]. */
void evolu_fingerprint(const evolu_port *port, const evolu_timestamp *t,
                       uint8_t out[EVOLU_FINGERPRINT_BYTES]);

/* acc ^= fp (fingerprints of sets are XORs of their members'). */
static inline void evolu_fingerprint_xor(uint8_t acc[EVOLU_FINGERPRINT_BYTES],
                                         const uint8_t fp[EVOLU_FINGERPRINT_BYTES]) {
    for (unsigned i = 0; i < EVOLU_FINGERPRINT_BYTES; i++) acc[i] ^= fp[i];
}

/* NodeId as 16 lowercase hex characters (no NUL written) and back. */
void evolu_node_id_to_hex(const uint8_t id[EVOLU_NODE_ID_BYTES], char out[16]);
evolu_err evolu_node_id_from_hex(const char *s, size_t n, uint8_t id[EVOLU_NODE_ID_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
