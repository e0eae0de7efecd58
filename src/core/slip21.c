/* slip21.c - SLIP-0021 symmetric key derivation (spec 5.2); see evolu/owner.h. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "evolu/bytes.h"
#include "evolu/owner.h"

static const char k_seed_key[] = "Symmetric key seed";
static const uint8_t k_zero = 0;

void evolu_slip21_master(const evolu_port *port, const uint8_t *seed, size_t seed_len,
                         uint8_t node[EVOLU_SLIP21_NODE_BYTES]) {
    port->hmac_sha512(port->ctx, node, (const uint8_t *)k_seed_key, sizeof k_seed_key - 1, seed,
                      seed_len, NULL, 0);
}

void evolu_slip21_child(const evolu_port *port, const uint8_t parent[EVOLU_SLIP21_NODE_BYTES],
                        const char *label, size_t label_len,
                        uint8_t child[EVOLU_SLIP21_NODE_BYTES]) {
    /* A scratch node so child may alias parent whatever the port's HMAC does
     * with its key while writing the output. */
    uint8_t tmp[EVOLU_SLIP21_NODE_BYTES];
    port->hmac_sha512(port->ctx, tmp, parent, 32, &k_zero, 1, (const uint8_t *)label, label_len);
    memcpy(child, tmp, sizeof tmp);
    port->memzero(port->ctx, tmp, sizeof tmp);
}

void evolu_slip21_derive(const evolu_port *port, const uint8_t *seed, size_t seed_len,
                         const evolu_slip21_label *path, size_t path_len,
                         uint8_t key[EVOLU_SLIP21_KEY_BYTES]) {
    uint8_t node[EVOLU_SLIP21_NODE_BYTES];
    evolu_slip21_master(port, seed, seed_len, node);
    for (size_t i = 0; i < path_len; i++)
        evolu_slip21_child(port, node, path[i].p, path[i].n, node);
    memcpy(key, node + 32, EVOLU_SLIP21_KEY_BYTES);
    port->memzero(port->ctx, node, sizeof node);
}

size_t evolu_slip21_int_label(int64_t v, char out[EVOLU_SLIP21_INT_LABEL_MAX]) {
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (mag > EVOLU_MAX_SAFE_INTEGER) return 0;
    char digits[20];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    size_t n = 0;
    if (v < 0) out[n++] = '-';
    while (nd) out[n++] = digits[--nd];
    return n;
}
