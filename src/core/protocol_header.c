/* protocol_header.c - the protocol header, version negotiation, error codes and
 * the messages that are only a header (spec 4.2, 4.5, 4.6). */
#include <string.h>

#include "evolu/protocol.h"

void evolu_header_request(evolu_header *h, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                          const uint8_t *write_key, uint8_t subscription) {
    memset(h, 0, sizeof *h);
    h->version = EVOLU_PROTOCOL_VERSION;
    memcpy(h->owner_id, owner_id, EVOLU_OWNER_ID_BYTES);
    h->type = EVOLU_MESSAGE_REQUEST;
    if (write_key) {
        h->has_write_key = true;
        memcpy(h->write_key, write_key, EVOLU_OWNER_WRITE_KEY_BYTES);
    }
    h->subscription = subscription;
}

void evolu_header_response(evolu_header *h, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                           uint8_t error_code) {
    memset(h, 0, sizeof *h);
    h->version = EVOLU_PROTOCOL_VERSION;
    memcpy(h->owner_id, owner_id, EVOLU_OWNER_ID_BYTES);
    h->type = EVOLU_MESSAGE_RESPONSE;
    h->error_code = error_code;
}

void evolu_header_broadcast(evolu_header *h, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]) {
    memset(h, 0, sizeof *h);
    h->version = EVOLU_PROTOCOL_VERSION;
    memcpy(h->owner_id, owner_id, EVOLU_OWNER_ID_BYTES);
    h->type = EVOLU_MESSAGE_BROADCAST;
}

static bool header_valid(const evolu_header *h) {
    return h->type <= EVOLU_MESSAGE_BROADCAST && h->version <= EVOLU_MAX_SAFE_INTEGER;
}

size_t evolu_header_len(const evolu_header *h) {
    if (!header_valid(h)) return 0;
    size_t n = evolu_varint_len(h->version) + EVOLU_OWNER_ID_BYTES + 1;
    if (h->type == EVOLU_MESSAGE_REQUEST)
        n += 1 + (h->has_write_key ? EVOLU_OWNER_WRITE_KEY_BYTES : 0) + 1;
    else if (h->type == EVOLU_MESSAGE_RESPONSE)
        n += 1;
    return n;
}

evolu_err evolu_header_encode(evolu_writer *w, const evolu_header *h) {
    if (!header_valid(h)) return EVOLU_E_ARG;
    evolu_put_varint(w, h->version);
    evolu_put_bytes(w, h->owner_id, EVOLU_OWNER_ID_BYTES);
    evolu_put_u8(w, h->type);
    if (h->type == EVOLU_MESSAGE_REQUEST) {
        evolu_put_u8(w, h->has_write_key ? 1 : 0);
        if (h->has_write_key) evolu_put_bytes(w, h->write_key, EVOLU_OWNER_WRITE_KEY_BYTES);
        evolu_put_u8(w, h->subscription);
    } else if (h->type == EVOLU_MESSAGE_RESPONSE) {
        evolu_put_u8(w, h->error_code);
    }
    return w->err;
}

evolu_err evolu_header_decode(evolu_reader *r, evolu_header *h) {
    memset(h, 0, sizeof *h);
    evolu_err e = evolu_get_varint(r, &h->version);
    if (e) return e;
    e = evolu_get_bytes(r, h->owner_id, EVOLU_OWNER_ID_BYTES);
    if (e) return e;
    /* version and ownerId are the only fields stable across versions (4.6). */
    if (h->version != EVOLU_PROTOCOL_VERSION) return EVOLU_E_VERSION;
    e = evolu_get_u8(r, &h->type);
    if (e) return e;
    switch (h->type) {
    case EVOLU_MESSAGE_REQUEST: {
        uint8_t has = 0;
        e = evolu_get_u8(r, &has);
        if (e) return e;
        h->has_write_key = has == 1; /* the relay's reading: only 1 means present */
        if (h->has_write_key) {
            e = evolu_get_bytes(r, h->write_key, EVOLU_OWNER_WRITE_KEY_BYTES);
            if (e) return e;
        }
        return evolu_get_u8(r, &h->subscription);
    }
    case EVOLU_MESSAGE_RESPONSE:
        return evolu_get_u8(r, &h->error_code);
    case EVOLU_MESSAGE_BROADCAST:
        return EVOLU_OK;
    default:
        return EVOLU_E_MESSAGE_TYPE;
    }
}

evolu_err evolu_version_reply_encode(evolu_writer *w, uint64_t version,
                                     const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]) {
    if (version > EVOLU_MAX_SAFE_INTEGER) return EVOLU_E_ARG;
    evolu_put_varint(w, version);
    evolu_put_bytes(w, owner_id, EVOLU_OWNER_ID_BYTES);
    return w->err;
}

evolu_err evolu_error_code_to_err(uint8_t code) {
    switch (code) {
    case EVOLU_ERROR_CODE_NONE: return EVOLU_OK;
    case EVOLU_ERROR_CODE_WRITE_KEY: return EVOLU_E_WRITE_KEY;
    case EVOLU_ERROR_CODE_WRITE: return EVOLU_E_WRITE;
    case EVOLU_ERROR_CODE_QUOTA: return EVOLU_E_QUOTA;
    case EVOLU_ERROR_CODE_SYNC: return EVOLU_E_SYNC;
    default: return EVOLU_E_ERROR_CODE;
    }
}

evolu_err evolu_msg_encode_unsubscribe(evolu_writer *w,
                                       const uint8_t owner_id[EVOLU_OWNER_ID_BYTES]) {
    evolu_header h;
    evolu_header_request(&h, owner_id, NULL, EVOLU_SUBSCRIPTION_UNSUBSCRIBE);
    evolu_header_encode(w, &h);
    evolu_put_u8(w, 0); /* empty messages section */
    return w->err;
}

evolu_err evolu_msg_encode_response(evolu_writer *w,
                                    const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                                    uint8_t error_code) {
    evolu_header h;
    evolu_header_response(&h, owner_id, error_code);
    evolu_header_encode(w, &h);
    evolu_put_u8(w, 0); /* empty messages section */
    return w->err;
}
