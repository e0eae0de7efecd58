/* protocol_push.c - messages built from CRDT messages: the client's push after
 * a local mutation (createProtocolMessageFromCrdtMessages, spec 6.8) and the
 * relay's Broadcast of a request's messages (spec 7.5). */
#include <string.h>

#include "evolu/protocol.h"

evolu_err evolu_push_build(evolu_msg_builder *b, const evolu_port *port,
                           const evolu_owner *owner, const evolu_crdt_message *msgs,
                           size_t n, size_t total_max, size_t *included) {
    *included = 0;
    if (!msgs && n) return EVOLU_E_ARG;
    evolu_header h;
    evolu_header_request(&h, owner->id, owner->write_key, EVOLU_SUBSCRIPTION_NONE);
    evolu_err e = evolu_msg_builder_begin(b, &h, total_max, 0);
    if (e) return e;

    bool all_fitted = true;
    for (size_t i = 0; i < n; i++) {
        const evolu_crdt_message *m = &msgs[i];
        size_t enc_len;
        e = evolu_dbchange_encrypted_len(&m->change, &enc_len);
        if (e) return e;
        /* One fresh nonce per message, drawn in message order - also for the
         * first message that does not fit, as the TS code encrypts it before
         * asking canAddMessage. */
        uint8_t nonce[EVOLU_AEAD_NONCE_BYTES];
        port->random(port->ctx, nonce, sizeof nonce);
        if (!evolu_msg_builder_can_add_message(b, enc_len)) {
            all_fitted = false;
            break;
        }
        uint8_t *dst;
        e = evolu_msg_builder_alloc(b, enc_len, &dst);
        if (e) return e;
        evolu_writer w = evolu_writer_make(dst, enc_len);
        e = evolu_dbchange_encrypt(&w, port, owner->encryption_key, &m->change, &m->timestamp,
                                   nonce);
        if (!e && w.len != enc_len) e = EVOLU_E_STATE; /* encrypted_len disagrees */
        if (!e) e = evolu_msg_builder_add_message(b, &m->timestamp, dst, enc_len);
        if (e) {
            /* encryption works in place: never leave plaintext behind */
            port->memzero(port->ctx, dst, enc_len);
            evolu_msg_builder_unalloc(b, enc_len);
            return e;
        }
        (*included)++;
    }

    if (!all_fitted) {
        /* A random fingerprint never matches, so the relay answers with
         * ranges and the normal sync delivers the rest. TS: "There is always
         * a space for Fingerprint with InfiniteUpperBound". */
        uint8_t fp[EVOLU_FINGERPRINT_BYTES];
        port->random(port->ctx, fp, sizeof fp);
        e = evolu_msg_builder_add_fingerprint(b, NULL, fp);
        if (e) return e;
    }
    return EVOLU_OK;
}

evolu_err evolu_msg_build_broadcast(evolu_msg_builder *b, const evolu_msg_reader *req,
                                    size_t total_max) {
    evolu_header h;
    evolu_header_broadcast(&h, req->header.owner_id);
    evolu_err e = evolu_msg_builder_begin(b, &h, total_max, 0);
    if (e) return e;
    evolu_msg_reader it = *req; /* iterate a copy: req stays untouched */
    evolu_msg_reader_rewind(&it);
    for (;;) {
        evolu_timestamp ts;
        const uint8_t *change;
        size_t change_len;
        e = evolu_msg_reader_next_message(&it, &ts, &change, &change_len);
        if (e == EVOLU_E_DONE) return EVOLU_OK;
        if (e) return e;
        e = evolu_msg_builder_add_message(b, &ts, change, change_len);
        if (e) return e;
    }
}
