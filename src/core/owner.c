/* owner.c - createOwner and deriveShardOwner (spec 5.2); see evolu/owner.h. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "evolu/owner.h"

/* A label literal as (pointer, length). */
#define LABEL(lit) (lit), sizeof(lit) - 1

evolu_err evolu_owner_from_secret(const evolu_port *port, const uint8_t *secret, size_t n,
                                  evolu_owner *out) {
    if (!port || !secret || !out || n < EVOLU_OWNER_SECRET_MIN_BYTES ||
        n > EVOLU_OWNER_SECRET_MAX_BYTES)
        return EVOLU_E_ARG;
    /* The three paths share node0 and node("Evolu"): derive those once. */
    uint8_t evolu[EVOLU_SLIP21_NODE_BYTES];
    uint8_t leaf[EVOLU_SLIP21_NODE_BYTES];
    evolu_slip21_master(port, secret, n, evolu);
    evolu_slip21_child(port, evolu, LABEL("Evolu"), evolu);

    evolu_owner o;
    evolu_slip21_child(port, evolu, LABEL("OwnerIdBytes"), leaf);
    memcpy(o.id, leaf + 32, sizeof o.id);
    evolu_slip21_child(port, evolu, LABEL("OwnerEncryptionKey"), leaf);
    memcpy(o.encryption_key, leaf + 32, sizeof o.encryption_key);
    evolu_slip21_child(port, evolu, LABEL("OwnerWriteKey"), leaf);
    memcpy(o.write_key, leaf + 32, sizeof o.write_key);
    /* out is written only now, so it may overlap the secret. */
    memcpy(out, &o, sizeof o);

    port->memzero(port->ctx, evolu, sizeof evolu);
    port->memzero(port->ctx, leaf, sizeof leaf);
    port->memzero(port->ctx, &o, sizeof o);
    return EVOLU_OK;
}

evolu_err evolu_owner_derive_shard(const evolu_port *port, const evolu_owner *app,
                                   const evolu_slip21_label *path, size_t path_len,
                                   evolu_owner *out) {
    if (!port || !app || !out || !path || path_len == 0) return EVOLU_E_ARG;
    uint8_t secret[EVOLU_SLIP21_KEY_BYTES];
    evolu_slip21_derive(port, app->encryption_key, sizeof app->encryption_key, path, path_len,
                        secret);
    evolu_err err = evolu_owner_from_secret(port, secret, sizeof secret, out);
    port->memzero(port->ctx, secret, sizeof secret);
    return err;
}

void evolu_owner_secret_random(const evolu_port *port,
                               uint8_t secret[EVOLU_OWNER_SECRET_BYTES]) {
    port->random(port->ctx, secret, EVOLU_OWNER_SECRET_BYTES);
}

void evolu_owner_write_key_random(const evolu_port *port,
                                  uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES]) {
    port->random(port->ctx, key, EVOLU_OWNER_WRITE_KEY_BYTES);
}

void evolu_owner_wipe(const evolu_port *port, evolu_owner *o) {
    if (port && o) port->memzero(port->ctx, o, sizeof *o);
}

bool evolu_write_key_equal(const evolu_port *port, const uint8_t a[EVOLU_OWNER_WRITE_KEY_BYTES],
                           const uint8_t b[EVOLU_OWNER_WRITE_KEY_BYTES]) {
    return port->memeq(port->ctx, a, b, EVOLU_OWNER_WRITE_KEY_BYTES) == 1;
}
