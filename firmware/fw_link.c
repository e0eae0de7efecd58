/*
 * fw_link.c - the firmware's side of the link (evolu/link.h, docs/link.md)
 * over the board's byte stream: one endpoint, pumped from the app's loop.
 *
 *  - channel 0: protocol messages. An incoming one (up to FW_RX_MAX, the
 *    protocol's 1,000,000 bytes) is never held: each chunk is queued (at most
 *    the link's credit, FW_RXQ chunks) and put into a host blob (BLOB_PUT,
 *    key k_rx_key) without waiting; its credit is granted once it is put, so
 *    the host never sends more than the queue holds. When all chunks are put
 *    and acknowledged the message is ready and the handler reads it back
 *    through fw_rx_source (BLOB_GET). While a message waits or is being
 *    handled, or a merge is putting blobs (the host assembles one blob at a
 *    time), further messages are dropped and counted: the device is the RBSR
 *    initiator, so the relay only answers its requests one by one.
 *  - channel 1: the host store. One request at a time, answered by id; the
 *    stream store's evolu_stream_host is a thin blocking loop over it.
 *  - channel 2: the proxy's "relay up" (01) / "relay down" (00).
 */
#include <string.h>

#include "fw.h"

#define FW_STORE_TIMEOUT_MS 15000u
#define FW_SEND_TIMEOUT_MS 15000u

static uint32_t ticks(evolu_fw *fw) { return fw->dp->ticks_ms(fw->dp->ctx); }

static void flush_out(evolu_fw *fw) {
    size_t m = 0;
    while (!fw->closed &&
           evolu_link_poll(&fw->link, ticks(fw), fw->wire, sizeof fw->wire, &m) == EVOLU_OK &&
           m) {
        if (fw->dp->stream_write(fw->dp->ctx, fw->wire, m) != EVOLU_OK) fw->closed = true;
    }
}

void fw_link_init(evolu_fw *fw) {
    /* RTO 200 ms: a UART under QEMU (and a busy host) answers in tens of ms. */
    evolu_link_config cfg = {200, 2000, FW_LINK_CREDIT, FW_MTU};
    uint32_t session = 0;
    while (!session) fw->port.random(fw->port.ctx, (uint8_t *)&session, sizeof session);
    evolu_link_init(&fw->link, &cfg, session, fw->slots, FW_LINK_SLOTS, fw->rxframe,
                    sizeof fw->rxframe);
    evolu_link_msg_rx_init(&fw->mrx, FW_RX_MAX);
    fw->rx_discard = true; /* until a BEGIN */
    fw->relay_up = true;   /* unknown until the proxy says otherwise */
}

/* The host blob that holds the message being received. The proxy keeps only
 * 16-byte keys (timestamps); this one is the largest TimestampBytes, which an
 * HLC never issues in practice (millis 2^48 - 1 is the year 10889). */
static const uint8_t k_rx_key[EVOLU_TIMESTAMP_BYTES] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
#define RX_ID 0x8000u /* ids of the received message's puts: RX_ID | generation */

static size_t piece(evolu_fw *fw, size_t overhead);

/* Gives back the credit of every queued chunk and forgets the message (its
 * blob on the host is replaced by the next one). */
static void rx_abandon(evolu_fw *fw) {
    if (fw->rxq_n) evolu_link_grant(&fw->link, (uint16_t)fw->rxq_n);
    fw->rxq_n = 0;
    fw->rxq_head = 0;
    fw->rxq_done = 0;
    fw->rx_active = false;
    fw->rx_complete = false;
}

/* All chunks put and acknowledged: the message is ready (or lost). */
static void rx_check_done(evolu_fw *fw) {
    if (!fw->rx_active || !fw->rx_complete || fw->rxq_n || fw->rx_puts_pending) return;
    fw->rx_active = false;
    if (fw->rx_put_failed) {
        fw_error(fw, "message", EVOLU_E_STORAGE);
        if (fw->outstanding) fw->outstanding--; /* its answer is lost */
        return;
    }
    fw->rx_len = fw->rx_total;
    fw->rx_ready = true;
    if (fw->rx_total > fw->rx_largest) fw->rx_largest = fw->rx_total;
}

/* Puts queued chunks into the host blob as far as the send window allows
 * (never waits: it runs at the end of every pump, also inside a blocking
 * store call, so it must not pump itself). */
static void rx_drain(evolu_fw *fw) {
    while (fw->rxq_n && fw->link.connected && evolu_link_send_room(&fw->link) > 0) {
        unsigned i = fw->rxq_head;
        size_t len = fw->rxq_len[i];
        size_t k = len - fw->rxq_done;
        if (k > piece(fw, 32)) k = piece(fw, 32);
        evolu_link_store_msg req = {0};
        req.op = EVOLU_LINK_ST_BLOB_PUT;
        req.id = (uint16_t)(RX_ID | (fw->rx_gen & 0x7fffu));
        req.key = k_rx_key;
        req.key_len = EVOLU_TIMESTAMP_BYTES;
        req.offset = (uint32_t)(fw->rxq_off[i] + fw->rxq_done);
        req.size = fw->rx_total;
        req.data = fw->rxq[i] + fw->rxq_done;
        req.data_len = k;
        size_t n = 0;
        /* encoded into the wire buffer: free outside flush_out, and the
         * payload is copied into a send slot right away */
        if (evolu_link_store_encode(&req, fw->wire, FW_MTU, &n) != EVOLU_OK ||
            evolu_link_send(&fw->link, EVOLU_LINK_CH_STORE, fw->wire, n) != EVOLU_OK) {
            fw->rx_put_failed = true;
            k = len - fw->rxq_done; /* drop the chunk */
        } else {
            fw->rx_puts_pending++;
        }
        fw->rxq_done += k;
        if (fw->rxq_done == len) {
            fw->rxq_head = (fw->rxq_head + 1) % FW_RXQ;
            fw->rxq_n--;
            fw->rxq_done = 0;
            evolu_link_grant(&fw->link, 1);
        }
    }
    rx_check_done(fw);
}

/* A channel-0 payload. Returns true when the frame's credit is held (its
 * chunk is queued until it is put into the host blob). */
static bool on_protocol(evolu_fw *fw, const uint8_t *p, size_t n) {
    bool begin = n >= 1 && p[0] == EVOLU_LINK_MSG_BEGIN;
    if (fw->rx_busy || fw->rx_ready || fw->store_busy) {
        if (begin) fw->rx_dropped++;
        if (fw->rx_active) rx_abandon(fw);
        fw->rx_discard = true;
        return false;
    }
    if (begin) {
        if (fw->rx_active) rx_abandon(fw); /* the sender started over */
        evolu_link_msg_rx_init(&fw->mrx, FW_RX_MAX);
        fw->rx_discard = false;
    }
    if (fw->rx_discard) return false;
    evolu_link_msg_part part;
    evolu_err e = evolu_link_msg_feed(&fw->mrx, p, n, &part);
    if (e) {
        fw_error(fw, "message", e);
        rx_abandon(fw);
        fw->rx_discard = true;
        if (fw->outstanding) fw->outstanding--; /* its answer is lost */
        return false;
    }
    switch (part.kind) {
    case EVOLU_LINK_MSG_STARTED:
        fw->rx_active = true;
        fw->rx_complete = false;
        fw->rx_put_failed = false;
        fw->rx_puts_pending = 0;
        fw->rx_total = part.total;
        fw->rx_gen++;
        break;
    case EVOLU_LINK_MSG_DATA: {
        if (fw->rxq_n >= FW_RXQ || part.n > FW_CHUNK || part.n == 0) {
            /* more than the credit allows: a host ignoring flow control */
            fw_error(fw, "message", EVOLU_E_LIMIT);
            rx_abandon(fw);
            fw->rx_discard = true;
            if (fw->outstanding) fw->outstanding--;
            return false;
        }
        unsigned i = (fw->rxq_head + fw->rxq_n) % FW_RXQ;
        memcpy(fw->rxq[i], part.data, part.n);
        fw->rxq_len[i] = (uint16_t)part.n;
        fw->rxq_off[i] = part.offset;
        fw->rxq_n++;
        return true;
    }
    case EVOLU_LINK_MSG_COMPLETE:
        fw->rx_discard = true;
        if (part.total == 0) { /* nothing to put: an empty message is invalid */
            fw->rx_active = false;
            fw_error(fw, "message", EVOLU_E_TRUNCATED);
            if (fw->outstanding) fw->outstanding--;
            break;
        }
        fw->rx_complete = true;
        rx_check_done(fw);
        break;
    case EVOLU_LINK_MSG_ABORTED:
        rx_abandon(fw);
        fw->rx_discard = true;
        break;
    default:
        break;
    }
    return false;
}

/* A channel-1 reply: to a put of the received message, or to call(). */
static void on_store(evolu_fw *fw, const uint8_t *p, size_t n) {
    evolu_link_store_msg rep;
    if (evolu_link_store_decode(p, n, &rep) == EVOLU_OK && (rep.id & RX_ID)) {
        if (fw->rx_active && rep.id == (uint16_t)(RX_ID | (fw->rx_gen & 0x7fffu)) &&
            fw->rx_puts_pending) {
            fw->rx_puts_pending--;
            if (rep.op != (EVOLU_LINK_ST_BLOB_PUT | EVOLU_LINK_ST_REPLY) ||
                rep.status != EVOLU_LINK_ST_OK)
                fw->rx_put_failed = true;
            rx_check_done(fw);
        }
        return; /* a late reply of an abandoned message: nothing to do */
    }
    fw->reply = p; /* in rxframe, until the link decodes the next frame */
    fw->reply_len = n;
    fw->reply_ready = true;
}

/* Returns true when the frame's credit is held. */
static bool on_data(evolu_fw *fw, const evolu_link_event *ev) {
    switch (ev->chan) {
    case EVOLU_LINK_CH_STORE:
        on_store(fw, ev->payload, ev->len);
        break;
    case EVOLU_LINK_CH_PROTOCOL:
        return on_protocol(fw, ev->payload, ev->len);
    case EVOLU_LINK_CH_CONTROL:
        if (ev->len >= 1) {
            bool up = ev->payload[0] == 1;
            if (up && !fw->relay_up) fw->relay_came_up = true;
            if (up != fw->relay_up) {
                fw_line(fw, up ? "relay up" : "relay down");
                fw_emit(fw);
            }
            fw->relay_up = up;
        }
        break;
    default:
        break; /* reserved channels: ignored */
    }
    return false;
}

/* Feeds input to the link. A store reply is read where the link decoded it,
 * so feeding stops right after one (the rest of the input waits in inbuf for
 * the next pump) and the caller reads it before pumping again. */
void fw_pump(evolu_fw *fw, uint32_t wait_ms) {
    flush_out(fw);
    if (fw->in_len == 0) {
        fw->in_pos = 0;
        fw->in_len = fw->dp->stream_read(fw->dp->ctx, fw->inbuf, sizeof fw->inbuf);
        if (fw->in_len == 0 && wait_ms) {
            uint32_t t = evolu_link_timeout(&fw->link, ticks(fw));
            if (t > wait_ms) t = wait_ms;
            if (t) fw->dp->wait(fw->dp->ctx, t);
            fw->in_len = fw->dp->stream_read(fw->dp->ctx, fw->inbuf, sizeof fw->inbuf);
        }
    }
    fw->reply_ready = false; /* a reply not taken by now is stale */
    while (fw->in_len && !fw->reply_ready) {
        size_t used = 0;
        evolu_link_event ev;
        evolu_err e = evolu_link_input(&fw->link, fw->inbuf + fw->in_pos, fw->in_len, ticks(fw),
                                       &used, &ev);
        if (used > fw->in_len) used = fw->in_len;
        fw->in_pos += used;
        fw->in_len -= used;
        if (e != EVOLU_OK) break;
        if (ev.kind == EVOLU_LINK_EV_CONNECTED) {
            /* The host (re)started: whatever was in flight is gone. */
            fw->link_resets++;
            fw->reply_ready = false;
            fw->rx_discard = true;
            /* the new session starts with fresh credit; the host dropped the
             * unfinished blob */
            fw->rxq_n = 0;
            fw->rxq_head = 0;
            fw->rxq_done = 0;
            fw->rx_active = false;
            fw->outstanding = 0;
            fw_line(fw, "link up session=");
            fw_addu(fw, fw->link_resets);
            fw_emit(fw);
        } else if (ev.kind == EVOLU_LINK_EV_DATA) {
            if (!on_data(fw, &ev)) evolu_link_grant(&fw->link, 1);
        }
    }
    rx_drain(fw);
    flush_out(fw);
}

/* Encodes one payload into out (cap bytes); its length, 0 if it cannot. */
typedef size_t (*fw_encode)(void *ctx, uint8_t *out, size_t cap);

/* Queues one payload, pumping until the window has room. The payload is
 * encoded only then, into the wire buffer (evolu_link_send copies it into a
 * slot, and flush_out uses the buffer again): no buffer of its own. */
static evolu_err send_payload(evolu_fw *fw, uint8_t chan, fw_encode enc, void *ctx,
                              uint32_t resets) {
    uint32_t start = ticks(fw);
    while (!fw->link.connected || evolu_link_send_room(&fw->link) == 0) {
        if (fw->closed) return EVOLU_E_CLOSED;
        if (fw->link_resets != resets) return EVOLU_E_STATE;
        if (ticks(fw) - start > FW_SEND_TIMEOUT_MS) return EVOLU_E_TIMEOUT;
        fw_pump(fw, 20);
    }
    if (fw->link_resets != resets) return EVOLU_E_STATE;
    size_t n = enc(ctx, fw->wire, FW_MTU);
    if (!n) return EVOLU_E_ARG;
    evolu_err e = evolu_link_send(&fw->link, chan, fw->wire, n);
    flush_out(fw);
    return e;
}

/* A built message straight from the builder to the link: measured first
 * (BEGIN carries the total), then emitted through a chunk-sized buffer, so
 * the device never holds the message it sends. */
typedef struct msg_out {
    evolu_fw *fw;
    evolu_link_msg_tx t;
    uint32_t resets;
} msg_out;

static size_t chunk_size(evolu_fw *fw) {
    size_t chunk = evolu_link_mtu(&fw->link);
    if (chunk < 2 || chunk > FW_MTU) chunk = FW_MTU;
    return chunk - 1;
}

/* The link_msg pieces of one message, encoded when the window has room. */
typedef struct chunk_enc {
    msg_out *o;
    const uint8_t *p;
    size_t k;
} chunk_enc;
static size_t enc_chunk(void *ctx, uint8_t *out, size_t cap) {
    chunk_enc *c = ctx;
    return evolu_link_msg_chunk(&c->o->t, c->p, c->k, out, cap);
}
static size_t enc_begin(void *ctx, uint8_t *out, size_t cap) {
    chunk_enc *c = ctx;
    return evolu_link_msg_begin(&c->o->t, (uint32_t)c->k, out, cap);
}
static size_t enc_end(void *ctx, uint8_t *out, size_t cap) {
    return evolu_link_msg_end(&((chunk_enc *)ctx)->o->t, out, cap);
}
static size_t enc_abort(void *ctx, uint8_t *out, size_t cap) {
    return evolu_link_msg_abort(&((chunk_enc *)ctx)->o->t, out, cap);
}

static evolu_err sink_write(void *ctx, const uint8_t *p, size_t n) {
    msg_out *o = ctx;
    evolu_fw *fw = o->fw;
    size_t chunk = chunk_size(fw);
    while (n) {
        size_t k = n < chunk ? n : chunk;
        chunk_enc c = {o, p, k};
        evolu_err e = send_payload(fw, EVOLU_LINK_CH_PROTOCOL, enc_chunk, &c, o->resets);
        if (e == EVOLU_E_ARG) e = EVOLU_E_STATE;
        if (e) return e;
        p += k;
        n -= k;
    }
    return EVOLU_OK;
}

evolu_err fw_msg_send_built(evolu_fw *fw, const evolu_msg_builder *b) {
    evolu_swriter w;
    evolu_swriter_init(&w, NULL, NULL, 0);
    evolu_err e = evolu_msg_builder_emit_sink(b, &w, NULL, NULL);
    if (e) return e;
    if (w.total > UINT32_MAX) return EVOLU_E_LIMIT;
    msg_out o;
    memset(&o, 0, sizeof o);
    o.fw = fw;
    o.resets = fw->link_resets;
    chunk_enc c = {&o, NULL, (size_t)w.total};
    e = send_payload(fw, EVOLU_LINK_CH_PROTOCOL, enc_begin, &c, o.resets);
    if (e) return e;
    evolu_sink sink = {&o, sink_write};
    size_t cap = chunk_size(fw) < sizeof fw->chunkbuf ? chunk_size(fw) : sizeof fw->chunkbuf;
    evolu_swriter_init(&w, &sink, fw->chunkbuf, cap);
    e = evolu_msg_builder_emit_sink(b, &w, NULL, NULL);
    if (!e) {
        e = send_payload(fw, EVOLU_LINK_CH_PROTOCOL, enc_end, &c, o.resets);
        if (e == EVOLU_E_ARG) e = EVOLU_E_STATE;
    } else if (fw->link_resets == o.resets) {
        /* tell the host to drop what arrived (best effort) */
        (void)send_payload(fw, EVOLU_LINK_CH_PROTOCOL, enc_abort, &c, o.resets);
    }
    return e;
}

/* --- the host store over channel 1 --------------------------------------------------- */

static evolu_err status_err(uint8_t status) {
    switch (status) {
    case EVOLU_LINK_ST_OK:
        return EVOLU_OK;
    case EVOLU_LINK_ST_NOT_FOUND:
        return EVOLU_E_ARG;
    default:
        return EVOLU_E_STORAGE;
    }
}

/* One request and its reply (rep's data points into the link's frame buffer:
 * copy it before the next pump). */
static size_t enc_store(void *ctx, uint8_t *out, size_t cap) {
    size_t n = 0;
    return evolu_link_store_encode(ctx, out, cap, &n) == EVOLU_OK ? n : 0;
}

static evolu_err call(evolu_fw *fw, evolu_link_store_msg *req, evolu_link_store_msg *rep) {
    fw->req_id = (uint16_t)((fw->req_id + 1u) & 0x7fffu); /* RX_ID set: received-message puts */
    req->id = fw->req_id;
    uint32_t resets = fw->link_resets;
    fw->reply_ready = false;
    evolu_err e = send_payload(fw, EVOLU_LINK_CH_STORE, enc_store, req, resets);
    if (e) return EVOLU_E_STORAGE;
    uint32_t start = ticks(fw);
    for (;;) {
        fw_pump(fw, 20);
        if (fw->reply_ready) {
            fw->reply_ready = false;
            if (evolu_link_store_decode(fw->reply, fw->reply_len, rep) == EVOLU_OK &&
                rep->op == (uint8_t)(req->op | EVOLU_LINK_ST_REPLY) && rep->id == req->id)
                return status_err(rep->status);
        }
        if (fw->closed || fw->link_resets != resets ||
            ticks(fw) - start > FW_STORE_TIMEOUT_MS)
            return EVOLU_E_STORAGE;
    }
}

/* Data bytes per request so a reply or a request fits one frame. */
static size_t piece(evolu_fw *fw, size_t overhead) {
    size_t mtu = evolu_link_mtu(&fw->link);
    if (mtu == 0) mtu = FW_MTU;
    return mtu > overhead ? mtu - overhead : 1;
}

static evolu_err h_read(evolu_fw *fw, uint8_t op, const uint8_t *key, uint64_t off, uint8_t *buf,
                        size_t n, uint64_t *size) {
    for (;;) {
        if (off > UINT32_MAX) return EVOLU_E_STORAGE;
        evolu_link_store_msg req = {0}, rep;
        req.op = op;
        req.key = key;
        req.key_len = key ? EVOLU_TIMESTAMP_BYTES : 0;
        req.offset = (uint32_t)off;
        size_t max = n < piece(fw, 16) ? n : piece(fw, 16);
        req.size = (uint32_t)max;
        evolu_err e = call(fw, &req, &rep);
        if (e) return e;
        if (size) *size = rep.size;
        if (n == 0) return EVOLU_OK;
        if (rep.data_len == 0 || rep.data_len > n) return EVOLU_E_STORAGE;
        memcpy(buf, rep.data, rep.data_len);
        buf += rep.data_len;
        off += rep.data_len;
        n -= rep.data_len;
        if (n == 0) return EVOLU_OK;
    }
}

static evolu_err h_index_size(void *ctx, uint64_t *len) {
    return h_read(ctx, EVOLU_LINK_ST_INDEX_READ, NULL, 0, NULL, 0, len);
}

static evolu_err h_index_read(void *ctx, uint64_t off, uint8_t *buf, size_t n) {
    if (n == 0) return EVOLU_OK;
    return h_read(ctx, EVOLU_LINK_ST_INDEX_READ, NULL, off, buf, n, NULL);
}

static evolu_err h_simple(evolu_fw *fw, uint8_t op) {
    evolu_link_store_msg req = {0}, rep;
    req.op = op;
    return call(fw, &req, &rep);
}

static evolu_err h_begin(void *ctx) { return h_simple(ctx, EVOLU_LINK_ST_INDEX_BEGIN); }
static evolu_err h_commit(void *ctx) { return h_simple(ctx, EVOLU_LINK_ST_INDEX_COMMIT); }
static void h_abort(void *ctx) { (void)h_simple(ctx, EVOLU_LINK_ST_INDEX_ABORT); }

static evolu_err h_append(void *ctx, const uint8_t *p, size_t n) {
    evolu_fw *fw = ctx;
    while (n) {
        size_t k = n < piece(fw, 8) ? n : piece(fw, 8);
        evolu_link_store_msg req = {0}, rep;
        req.op = EVOLU_LINK_ST_INDEX_APPEND;
        req.data = p;
        req.data_len = k;
        evolu_err e = call(fw, &req, &rep);
        if (e) return e;
        p += k;
        n -= k;
    }
    return EVOLU_OK;
}

static evolu_err h_blob_put(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                            const uint8_t *p, size_t n) {
    evolu_fw *fw = ctx;
    if (n > UINT32_MAX) return EVOLU_E_STORAGE;
    size_t off = 0;
    do {
        size_t k = n - off < piece(fw, 32) ? n - off : piece(fw, 32);
        evolu_link_store_msg req = {0}, rep;
        req.op = EVOLU_LINK_ST_BLOB_PUT;
        req.key = ts;
        req.key_len = EVOLU_TIMESTAMP_BYTES;
        req.offset = (uint32_t)off;
        req.size = (uint32_t)n;
        req.data = p + off;
        req.data_len = k;
        evolu_err e = call(fw, &req, &rep);
        if (e) return e;
        off += k;
    } while (off < n);
    return EVOLU_OK;
}

static evolu_err h_blob_size(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES], size_t *n) {
    uint64_t size = 0;
    evolu_err e = h_read(ctx, EVOLU_LINK_ST_BLOB_GET, ts, 0, NULL, 0, &size);
    if (!e) *n = (size_t)size;
    return e;
}

static evolu_err h_blob_read(void *ctx, const uint8_t ts[EVOLU_TIMESTAMP_BYTES], size_t off,
                             uint8_t *buf, size_t n) {
    if (n == 0) return EVOLU_OK;
    return h_read(ctx, EVOLU_LINK_ST_BLOB_GET, ts, off, buf, n, NULL);
}

void fw_host_table(evolu_fw *fw, evolu_stream_host *out) {
    out->ctx = fw;
    out->index_size = h_index_size;
    out->index_read = h_index_read;
    out->write_begin = h_begin;
    out->write_append = h_append;
    out->write_commit = h_commit;
    out->write_abort = h_abort;
    out->blob_put = h_blob_put;
    out->blob_size = h_blob_size;
    out->blob_read = h_blob_read;
}

static evolu_err rx_read(void *ctx, uint64_t off, uint8_t *buf, size_t n) {
    if (n == 0) return EVOLU_OK;
    return h_read(ctx, EVOLU_LINK_ST_BLOB_GET, k_rx_key, off, buf, n, NULL);
}

void fw_rx_source(evolu_fw *fw, evolu_source *out) {
    out->ctx = fw;
    out->len = fw->rx_len;
    out->read = rx_read;
}
