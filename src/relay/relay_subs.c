/* relay_subs.c - connections and the owner <-> connection relation that
 * decides who receives a Broadcast (spec 6.10, 7.5). A hash of owners (the
 * OwnerId is already uniformly random, so its first bytes are the hash), each
 * with the array of its subscribed connections; every connection also keeps
 * the owners it is subscribed to, so closing it removes exactly those. */
#include <stdlib.h>
#include <string.h>

#include "relay_internal.h"

static size_t bucket_of(const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    uint32_t h;
    memcpy(&h, owner, sizeof h);
    return h % RELAY_SUB_BUCKETS;
}

static relay_sub *find(const evolu_relay *r, const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    for (relay_sub *s = r->subs[bucket_of(owner)]; s; s = s->next)
        if (!memcmp(s->owner, owner, EVOLU_OWNER_ID_BYTES)) return s;
    return NULL;
}

const relay_sub *evolu_relay_sub_find(const evolu_relay *r,
                                      const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    return find(r, owner);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap * 2 : 4;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

bool evolu_relay_sub_add(evolu_relay *r, evolu_relay_conn *c,
                         const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    for (size_t i = 0; i < c->n_owners; i++)
        if (!memcmp(c->owners[i], owner, EVOLU_OWNER_ID_BYTES)) return true; /* a set */
    size_t b = bucket_of(owner);
    relay_sub *s = find(r, owner);
    bool created = false;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return false;
        memcpy(s->owner, owner, EVOLU_OWNER_ID_BYTES);
        s->next = r->subs[b];
        r->subs[b] = s;
        created = true;
    }
    void *co = c->owners;
    if (!grow((void **)&s->conns, &s->cap, s->n + 1, sizeof *s->conns) ||
        !grow(&co, &c->cap_owners, c->n_owners + 1, sizeof *c->owners)) {
        c->owners = co;
        if (created) evolu_relay_sub_remove(r, c, owner); /* drops the empty entry */
        return false;
    }
    c->owners = co;
    s->conns[s->n++] = c;
    memcpy(c->owners[c->n_owners++], owner, EVOLU_OWNER_ID_BYTES);
    r->st.subscriptions++;
    return true;
}

void evolu_relay_sub_remove(evolu_relay *r, evolu_relay_conn *c,
                            const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    size_t b = bucket_of(owner);
    relay_sub **pp = &r->subs[b];
    while (*pp && memcmp((*pp)->owner, owner, EVOLU_OWNER_ID_BYTES)) pp = &(*pp)->next;
    relay_sub *s = *pp;
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        if (s->conns[i] != c) continue;
        s->conns[i] = s->conns[--s->n];
        r->st.subscriptions--;
        break;
    }
    for (size_t i = 0; i < c->n_owners; i++) {
        if (memcmp(c->owners[i], owner, EVOLU_OWNER_ID_BYTES)) continue;
        memcpy(c->owners[i], c->owners[--c->n_owners], EVOLU_OWNER_ID_BYTES);
        break;
    }
    if (s->n == 0) {
        *pp = s->next;
        free(s->conns);
        free(s);
    }
}

void evolu_relay_subs_free(evolu_relay *r) {
    for (size_t b = 0; b < RELAY_SUB_BUCKETS; b++) {
        relay_sub *s = r->subs[b];
        while (s) {
            relay_sub *n = s->next;
            free(s->conns);
            free(s);
            s = n;
        }
        r->subs[b] = NULL;
    }
    while (r->conns) {
        evolu_relay_conn *c = r->conns;
        r->conns = c->next;
        free(c->owners);
        free(c);
    }
}

evolu_relay_conn *evolu_relay_conn_open(evolu_relay *r, void *user) {
    evolu_relay_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->user = user;
    c->id = ++r->next_conn_id;
    c->next = r->conns;
    if (r->conns) r->conns->prev = c;
    r->conns = c;
    r->st.connections++;
    r->st.connections_total++;
    return c;
}

void evolu_relay_conn_close(evolu_relay *r, evolu_relay_conn *c) {
    if (!c) return;
    evolu_relay_drop_held(r, c);
    while (c->n_owners > 0) {
        uint8_t owner[EVOLU_OWNER_ID_BYTES];
        memcpy(owner, c->owners[c->n_owners - 1], sizeof owner);
        evolu_relay_sub_remove(r, c, owner);
    }
    if (c->prev) c->prev->next = c->next;
    else r->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    r->st.connections--;
    free(c->owners);
    free(c);
}

void *evolu_relay_conn_user(const evolu_relay_conn *c) { return c->user; }
uint64_t evolu_relay_conn_id(const evolu_relay_conn *c) { return c->id; }
size_t evolu_relay_conn_subscriptions(const evolu_relay_conn *c) { return c->n_owners; }
