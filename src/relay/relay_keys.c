/* relay_keys.c - the write keys the relay has seen, kept in memory: a key
 * never changes once an owner has one (first write wins), so every push of
 * an owner after the first compares against memory instead of running a
 * SELECT. Only keys that are in the database (or in the open group-commit
 * transaction) are kept; evolu_relay_keys_forget drops them all when that
 * transaction is lost, so a key that was rolled back is never trusted. */
#include <stdlib.h>
#include <string.h>

#include "relay_internal.h"

struct relay_key {
    struct relay_key *next;
    uint8_t owner[EVOLU_OWNER_ID_BYTES];
    uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES];
};

static uint32_t bucket(const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    uint32_t h = 2166136261u; /* FNV-1a: owner ids are random anyway */
    for (size_t i = 0; i < EVOLU_OWNER_ID_BYTES; i++) h = (h ^ owner[i]) * 16777619u;
    return h & (RELAY_KEY_BUCKETS - 1);
}

bool evolu_relay_keys_get(const evolu_relay *r, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                          uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES]) {
    if (!r->keys) return false;
    for (const relay_key *k = r->keys[bucket(owner)]; k; k = k->next)
        if (!memcmp(k->owner, owner, EVOLU_OWNER_ID_BYTES)) {
            memcpy(key, k->key, EVOLU_OWNER_WRITE_KEY_BYTES);
            return true;
        }
    return false;
}

void evolu_relay_keys_put(evolu_relay *r, const uint8_t owner[EVOLU_OWNER_ID_BYTES],
                          const uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES]) {
    if (r->n_keys >= RELAY_KEYS_MAX) return; /* beyond that: the SELECT as before */
    if (!r->keys && !(r->keys = calloc(RELAY_KEY_BUCKETS, sizeof *r->keys))) return;
    relay_key *k = malloc(sizeof *k);
    if (!k) return;
    memcpy(k->owner, owner, EVOLU_OWNER_ID_BYTES);
    memcpy(k->key, key, EVOLU_OWNER_WRITE_KEY_BYTES);
    uint32_t b = bucket(owner);
    k->next = r->keys[b];
    r->keys[b] = k;
    r->n_keys++;
}

void evolu_relay_keys_forget(evolu_relay *r) {
    if (!r->keys) return;
    for (uint32_t b = 0; b < RELAY_KEY_BUCKETS; b++)
        while (r->keys[b]) {
            relay_key *k = r->keys[b];
            r->keys[b] = k->next;
            r->o.port->memzero(r->o.port->ctx, k->key, sizeof k->key);
            free(k);
        }
    r->n_keys = 0;
}

void evolu_relay_keys_free(evolu_relay *r) {
    evolu_relay_keys_forget(r);
    free(r->keys);
    r->keys = NULL;
}
