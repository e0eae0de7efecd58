/* rbsr_peer.c - the two policies around the RBSR engine: the non-initiator
 * (relay, spec 6.6 and 7.3-7.5) and the initiator (client, spec 6.7), as
 * applyProtocolMessageAsRelay / applyProtocolMessageAsClient of
 * @evolu/common 8.11.0 do them. */
#include <string.h>

#include "evolu/rbsr.h"

/* --- relay ------------------------------------------------------------------------------- */

/* Writes a Response with only an error code (or 0) and returns OK/BUFFER. */
static evolu_err reply_code(evolu_writer *w, const uint8_t owner_id[EVOLU_OWNER_ID_BYTES],
                            uint8_t code, evolu_relay_outcome *out, evolu_err cause) {
    w->len = 0;
    w->err = EVOLU_OK;
    out->error_code = code;
    out->cause = cause;
    return evolu_msg_encode_response(w, owner_id, code);
}

/* Local failures that the relay answers with SyncError rather than silence. */
static bool sync_failure(evolu_err e) { return e == EVOLU_E_SYNC || e == EVOLU_E_CAPACITY; }

static evolu_err relay_sync(const evolu_relay_config *cfg, evolu_msg_reader *req,
                            evolu_msg_builder *b, evolu_writer *reply,
                            evolu_relay_outcome *out) {
    const uint8_t *owner = req->header.owner_id;
    evolu_store store;
    evolu_err e = cfg->open_store(cfg->ctx, owner, &store);
    if (e) return reply_code(reply, owner, EVOLU_ERROR_CODE_SYNC, out, e);

    evolu_header h;
    evolu_header_response(&h, owner, EVOLU_ERROR_CODE_NONE);
    e = evolu_msg_builder_begin(b, &h, cfg->total_max, cfg->ranges_max);
    if (e) return e;
    evolu_rbsr r;
    evolu_rbsr_init(&r, &store, cfg->next5_split_bug, cfg->scratch, cfg->scratch_cap);
    bool changed;
    e = evolu_rbsr_reconcile(&r, req, b, &changed);
    if (sync_failure(e))
        return reply_code(reply, owner, EVOLU_ERROR_CODE_SYNC, out,
                          e == EVOLU_E_SYNC ? r.cause : e);
    if (e) return e;
    /* Even if nothing was added: "sync completion feedback". */
    reply->len = 0;
    reply->err = EVOLU_OK;
    e = evolu_msg_builder_emit(b, reply);
    if (e && e != EVOLU_E_BUFFER)  /* a store failure while reading timestamps back */
        return reply_code(reply, owner, EVOLU_ERROR_CODE_SYNC, out, e);
    return e;
}

evolu_err evolu_relay_handle(const evolu_relay_config *cfg, const uint8_t *in, size_t len,
                             evolu_msg_builder *b, evolu_writer *reply,
                             evolu_relay_outcome *outcome) {
    evolu_relay_outcome scratch_out;
    evolu_relay_outcome *out = outcome ? outcome : &scratch_out;
    memset(out, 0, sizeof *out);
    size_t max = cfg->input_max ? cfg->input_max : EVOLU_PROTOCOL_MAX_SIZE;
    if (len > max) return EVOLU_E_LIMIT;

    /* 1-3: version and owner, then the rest of the header. */
    evolu_reader hr = evolu_reader_make(in, len);
    evolu_header h;
    evolu_err e = evolu_header_decode(&hr, &h);
    if (e == EVOLU_E_VERSION) {
        reply->len = 0;
        reply->err = EVOLU_OK;
        out->version_reply = true;
        return evolu_version_reply_encode(reply, EVOLU_PROTOCOL_VERSION, h.owner_id);
    }
    if (e) return e;
    if (h.type != EVOLU_MESSAGE_REQUEST) return EVOLU_E_MESSAGE_TYPE;

    /* 4: subscription flag (unknown values are ignored). */
    if (h.subscription == EVOLU_SUBSCRIPTION_SUBSCRIBE && cfg->subscribe)
        cfg->subscribe(cfg->ctx, h.owner_id);
    else if (h.subscription == EVOLU_SUBSCRIPTION_UNSUBSCRIBE && cfg->unsubscribe)
        cfg->unsubscribe(cfg->ctx, h.owner_id);

    /* 5: write key, first write wins, compared in constant time. */
    if (h.has_write_key) {
        uint8_t stored[EVOLU_OWNER_WRITE_KEY_BYTES];
        bool found = false;
        e = cfg->get_write_key(cfg->ctx, h.owner_id, stored, &found);
        if (e) return e;
        bool valid = true;
        if (found)
            valid = evolu_write_key_equal(cfg->port, stored, h.write_key);
        else
            e = cfg->set_write_key(cfg->ctx, h.owner_id, h.write_key);
        if (cfg->port && cfg->port->memzero) cfg->port->memzero(cfg->port->ctx, stored, sizeof stored);
        if (e) return e;
        if (!valid) return reply_code(reply, h.owner_id, EVOLU_ERROR_CODE_WRITE_KEY, out, EVOLU_OK);
    }

    /* The rest of the message, validated whole before anything is stored. */
    evolu_msg_reader req;
    e = evolu_msg_reader_open_max(&req, in, len, max);
    if (e) return e;

    /* 6: messages. */
    if (req.n_messages > 0) {
        if (!h.has_write_key)
            return reply_code(reply, h.owner_id, EVOLU_ERROR_CODE_WRITE_KEY, out, EVOLU_OK);
        evolu_store store;
        e = cfg->open_store(cfg->ctx, h.owner_id, &store);
        if (!e) {
            evolu_msg_reader copy;
            evolu_store_batch batch;
            evolu_rbsr_batch_from_reader(&batch, &copy, &req);
            e = store.write_messages(store.ctx, &batch);
        }
        if (e == EVOLU_E_QUOTA)
            return reply_code(reply, h.owner_id, EVOLU_ERROR_CODE_QUOTA, out, e);
        if (e) return reply_code(reply, h.owner_id, EVOLU_ERROR_CODE_WRITE, out, e);
        if (cfg->broadcast) cfg->broadcast(cfg->ctx, &req);
    }

    /* 7: no ranges -> an empty Response. */
    if (req.n_ranges == 0) return reply_code(reply, h.owner_id, EVOLU_ERROR_CODE_NONE, out, EVOLU_OK);

    /* 8: reconcile. */
    return relay_sync(cfg, &req, b, reply, out);
}

/* --- client ------------------------------------------------------------------------------ */

/* Steps 1-3 of applyProtocolMessageAsClient, shared by both readers: the
 * result of opening the message (version), its owner, type and error code. */
static evolu_err client_check_header(const evolu_client_config *cfg, evolu_err open_err,
                                     const evolu_header *hdr, evolu_client_outcome *out) {
    /* 1: version. */
    if (open_err == EVOLU_E_VERSION) {
        out->version = hdr->version;
        out->initiator_obsolete = EVOLU_PROTOCOL_VERSION < hdr->version;
        return open_err;
    }
    if (open_err) return open_err;
    if (memcmp(hdr->owner_id, cfg->owner_id, EVOLU_OWNER_ID_BYTES) != 0) return EVOLU_E_OWNER;
    /* 2-3: type and error code. */
    if (hdr->type != EVOLU_MESSAGE_RESPONSE && hdr->type != EVOLU_MESSAGE_BROADCAST)
        return EVOLU_E_MESSAGE_TYPE;
    if (hdr->type == EVOLU_MESSAGE_RESPONSE && hdr->error_code != EVOLU_ERROR_CODE_NONE)
        return evolu_error_code_to_err(hdr->error_code);
    return EVOLU_OK;
}

/* Steps 5-7, after the messages were applied: true when the exchange ends
 * here (a Broadcast, a read-only owner, or no ranges), with out->status set. */
static bool client_ends(const evolu_client_config *cfg, uint8_t type, uint64_t n_ranges,
                        evolu_client_outcome *out) {
    if (type == EVOLU_MESSAGE_BROADCAST)
        out->status = EVOLU_CLIENT_BROADCAST;
    else if (!cfg->write_key)
        out->status = EVOLU_CLIENT_READONLY;
    else if (n_ranges == 0)
        out->status = EVOLU_CLIENT_CONVERGED;
    else
        return false;
    return true;
}

/* Step 8's end: the reconciled Request written to reply. */
static evolu_err client_emit(evolu_msg_builder *b, evolu_writer *reply,
                             evolu_client_outcome *out) {
    out->status = EVOLU_CLIENT_RESPONSE;
    reply->len = 0;
    reply->err = EVOLU_OK;
    evolu_err e = evolu_msg_builder_emit(b, reply);
    if (e && e != EVOLU_E_BUFFER) {
        out->local_failure = true;
        out->cause = e;
        return EVOLU_E_SYNC;
    }
    return e;
}

evolu_err evolu_client_handle(const evolu_client_config *cfg, const uint8_t *in, size_t len,
                              evolu_msg_builder *b, evolu_writer *reply,
                              evolu_client_outcome *out) {
    memset(out, 0, sizeof *out);
    size_t max = cfg->input_max ? cfg->input_max : EVOLU_PROTOCOL_MAX_SIZE_MAX;
    evolu_msg_reader msg;
    evolu_err e = evolu_msg_reader_open_max(&msg, in, len, max);
    e = client_check_header(cfg, e, &msg.header, out);
    if (e) return e;

    /* 4: apply the messages; a refused batch stops the exchange (8.11.0). */
    const evolu_store *st = cfg->store;
    if (msg.n_messages > 0) {
        evolu_msg_reader copy;
        evolu_store_batch batch;
        evolu_rbsr_batch_from_reader(&batch, &copy, &msg);
        e = st->write_messages(st->ctx, &batch);
        if (e) {
            out->local_failure = true;
            out->cause = e;
            return e;
        }
    }
    /* 5-7: Broadcast, read-only owner, no ranges. */
    if (client_ends(cfg, msg.header.type, msg.n_ranges, out)) return EVOLU_OK;

    /* 8: reconcile into a Request with the write key. */
    evolu_header h;
    evolu_header_request(&h, cfg->owner_id, cfg->write_key, EVOLU_SUBSCRIPTION_NONE);
    e = evolu_msg_builder_begin(b, &h, cfg->total_max, cfg->ranges_max);
    if (e) return e;
    evolu_rbsr r;
    evolu_rbsr_init(&r, st, cfg->next5_split_bug, cfg->scratch, cfg->scratch_cap);
    bool changed;
    e = evolu_rbsr_reconcile(&r, &msg, b, &changed);
    if (e == EVOLU_E_SYNC) {
        out->local_failure = true;
        out->cause = r.cause;
    }
    if (e) return e;
    if (!changed) {
        out->status = EVOLU_CLIENT_CONVERGED;
        return EVOLU_OK;
    }
    return client_emit(b, reply, out);
}

/* --- client, the message read from a source ----------------------------------------------- */

evolu_err evolu_client_handle_source(const evolu_client_config *cfg, evolu_msg_sreader *msg,
                                     const evolu_source *src, uint8_t *window,
                                     size_t window_len, evolu_client_write_source_fn write,
                                     void *write_ctx, evolu_msg_builder *b,
                                     evolu_writer *reply, evolu_client_outcome *out) {
    memset(out, 0, sizeof *out);
    if (!write) return EVOLU_E_ARG;
    size_t max = cfg->input_max ? cfg->input_max : EVOLU_PROTOCOL_MAX_SIZE_MAX;
    evolu_err e = evolu_msg_sreader_open(msg, src, window, window_len, max);
    e = client_check_header(cfg, e, &msg->header, out);
    if (e) return e;

    /* 4: the caller applies the messages (all or nothing, as write_messages). */
    if (msg->n_messages > 0) {
        evolu_msg_sreader_rewind(msg);
        e = write(write_ctx, msg);
        if (e) {
            out->local_failure = true;
            out->cause = e;
            return e;
        }
    }
    /* 5-7: Broadcast, read-only owner, no ranges. */
    if (client_ends(cfg, msg->header.type, msg->n_ranges, out)) return EVOLU_OK;

    /* 8: reconcile into a Request with the write key. */
    evolu_header h;
    evolu_header_request(&h, cfg->owner_id, cfg->write_key, EVOLU_SUBSCRIPTION_NONE);
    e = evolu_msg_builder_begin(b, &h, cfg->total_max, cfg->ranges_max);
    if (e) return e;
    evolu_rbsr r;
    evolu_rbsr_init(&r, cfg->store, cfg->next5_split_bug, cfg->scratch, cfg->scratch_cap);
    bool changed;
    evolu_msg_sreader_rewind(msg);
    e = evolu_rbsr_reconcile_source(&r, msg, b, &changed);
    if (e == EVOLU_E_SYNC) {
        out->local_failure = true;
        out->cause = r.cause;
    }
    if (e) return e;
    if (!changed) {
        out->status = EVOLU_CLIENT_CONVERGED;
        return EVOLU_OK;
    }
    if (!reply) { /* the caller emits b itself (e.g. to a sink) */
        out->status = EVOLU_CLIENT_RESPONSE;
        return EVOLU_OK;
    }
    return client_emit(b, reply, out);
}
