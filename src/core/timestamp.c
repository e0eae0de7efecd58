/* timestamp.c - TimestampBytes, ordering, fingerprints, NodeId hex (spec 3.2, 5.6). */
#include "evolu/timestamp.h"

#include <string.h>

#include "evolu/bytes.h"

void evolu_timestamp_to_bytes(const evolu_timestamp *t, uint8_t out[EVOLU_TIMESTAMP_BYTES]) {
    evolu_store_be(out, t->millis, 6);
    evolu_store_be(out + 6, t->counter, 2);
    memcpy(out + 8, t->node_id, EVOLU_NODE_ID_BYTES);
}

evolu_err evolu_timestamp_from_bytes(const uint8_t in[EVOLU_TIMESTAMP_BYTES],
                                     evolu_timestamp *t) {
    uint64_t millis = evolu_load_be(in, 6);
    if (millis > EVOLU_MAX_MILLIS) return EVOLU_E_MILLIS;
    t->millis = millis;
    t->counter = (uint16_t)evolu_load_be(in + 6, 2);
    memcpy(t->node_id, in + 8, EVOLU_NODE_ID_BYTES);
    return EVOLU_OK;
}

int evolu_timestamp_cmp(const evolu_timestamp *a, const evolu_timestamp *b) {
    if (a->millis != b->millis) return a->millis < b->millis ? -1 : 1;
    if (a->counter != b->counter) return a->counter < b->counter ? -1 : 1;
    return memcmp(a->node_id, b->node_id, EVOLU_NODE_ID_BYTES);
}

void evolu_fingerprint(const evolu_port *port, const evolu_timestamp *t,
                       uint8_t out[EVOLU_FINGERPRINT_BYTES]) {
    uint8_t tb[EVOLU_TIMESTAMP_BYTES], h[32];
    evolu_timestamp_to_bytes(t, tb);
    port->sha256(port->ctx, h, tb, sizeof tb);
    memcpy(out, h, EVOLU_FINGERPRINT_BYTES);
}

static const char hexdig[] = "0123456789abcdef";

void evolu_node_id_to_hex(const uint8_t id[EVOLU_NODE_ID_BYTES], char out[16]) {
    for (unsigned i = 0; i < EVOLU_NODE_ID_BYTES; i++) {
        out[2 * i] = hexdig[id[i] >> 4];
        out[2 * i + 1] = hexdig[id[i] & 15];
    }
}

static int lowerhex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

evolu_err evolu_node_id_from_hex(const char *s, size_t n, uint8_t id[EVOLU_NODE_ID_BYTES]) {
    if (n != 16) return EVOLU_E_INVALID;
    for (unsigned i = 0; i < EVOLU_NODE_ID_BYTES; i++) {
        int hi = lowerhex(s[2 * i]), lo = lowerhex(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return EVOLU_E_INVALID;
        id[i] = (uint8_t)(hi << 4 | lo);
    }
    return EVOLU_OK;
}
