/* link_msg.c - what link frames carry: protocol messages of any size in
 * BEGIN/CHUNK/END pieces (channel 0) and host-store requests and replies
 * (channel 1). docs/link.md, "Messages" and "Host store". */
#include <string.h>

#include "evolu/bytes.h"
#include "evolu/link.h"

static void put32(uint8_t *p, uint32_t v) {
    for (unsigned i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* --- channel 0 --------------------------------------------------------------- */

size_t evolu_link_msg_begin(evolu_link_msg_tx *t, uint32_t total, uint8_t *out, size_t cap) {
    if (cap < 5) return 0;
    t->total = total;
    t->sent = 0;
    t->crc = 0;
    t->open = true;
    out[0] = EVOLU_LINK_MSG_BEGIN;
    put32(out + 1, total);
    return 5;
}

size_t evolu_link_msg_chunk(evolu_link_msg_tx *t, const uint8_t *p, size_t n, uint8_t *out,
                            size_t cap) {
    if (!t->open || n == 0 || n > t->total - t->sent || n > EVOLU_LINK_MSG_CHUNK_MAX ||
        cap < 1 + n)
        return 0;
    out[0] = EVOLU_LINK_MSG_CHUNK;
    memcpy(out + 1, p, n);
    t->crc = evolu_crc32c(t->crc, p, n);
    t->sent += (uint32_t)n;
    return 1 + n;
}

size_t evolu_link_msg_end(evolu_link_msg_tx *t, uint8_t *out, size_t cap) {
    if (!t->open || t->sent != t->total || cap < 5) return 0;
    t->open = false;
    out[0] = EVOLU_LINK_MSG_END;
    put32(out + 1, t->crc);
    return 5;
}

size_t evolu_link_msg_abort(evolu_link_msg_tx *t, uint8_t *out, size_t cap) {
    if (cap < 1) return 0;
    t->open = false;
    out[0] = EVOLU_LINK_MSG_ABORT;
    return 1;
}

void evolu_link_msg_rx_init(evolu_link_msg_rx *r, uint32_t max_total) {
    memset(r, 0, sizeof *r);
    r->max_total = max_total;
}

static evolu_err rx_fail(evolu_link_msg_rx *r, evolu_err e) {
    r->open = false;
    return e;
}

evolu_err evolu_link_msg_feed(evolu_link_msg_rx *r, const uint8_t *p, size_t n,
                              evolu_link_msg_part *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return rx_fail(r, EVOLU_E_TRUNCATED);
    switch (p[0]) {
    case EVOLU_LINK_MSG_BEGIN:
        if (r->open) return rx_fail(r, EVOLU_E_STATE);
        if (n != 5) return rx_fail(r, n < 5 ? EVOLU_E_TRUNCATED : EVOLU_E_TRAILING);
        r->total = get32(p + 1);
        if (r->total > r->max_total) return rx_fail(r, EVOLU_E_LIMIT);
        r->got = 0;
        r->crc = 0;
        r->open = true;
        out->kind = EVOLU_LINK_MSG_STARTED;
        out->total = r->total;
        return EVOLU_OK;
    case EVOLU_LINK_MSG_CHUNK:
        if (!r->open) return rx_fail(r, EVOLU_E_STATE);
        if (n == 1) return rx_fail(r, EVOLU_E_TRUNCATED);
        if (n - 1 > r->total - r->got) return rx_fail(r, EVOLU_E_LIMIT);
        out->kind = EVOLU_LINK_MSG_DATA;
        out->total = r->total;
        out->offset = r->got;
        out->data = p + 1;
        out->n = n - 1;
        r->crc = evolu_crc32c(r->crc, p + 1, n - 1);
        r->got += (uint32_t)(n - 1);
        return EVOLU_OK;
    case EVOLU_LINK_MSG_END:
        if (!r->open) return rx_fail(r, EVOLU_E_STATE);
        if (n != 5) return rx_fail(r, n < 5 ? EVOLU_E_TRUNCATED : EVOLU_E_TRAILING);
        if (r->got != r->total) return rx_fail(r, EVOLU_E_TRUNCATED);
        if (get32(p + 1) != r->crc) return rx_fail(r, EVOLU_E_CHECKSUM);
        r->open = false;
        out->kind = EVOLU_LINK_MSG_COMPLETE;
        out->total = r->total;
        out->offset = r->got;
        return EVOLU_OK;
    case EVOLU_LINK_MSG_ABORT:
        if (n != 1) return rx_fail(r, EVOLU_E_TRAILING);
        r->open = false;
        out->kind = EVOLU_LINK_MSG_ABORTED;
        return EVOLU_OK;
    default:
        return rx_fail(r, EVOLU_E_INVALID);
    }
}

/* --- channel 1 --------------------------------------------------------------- */

/* Which fields an op carries. */
#define F_KEY 0x01    /* u8 key_len, key */
#define F_OFFSET 0x02 /* u32 offset */
#define F_MAX 0x04    /* u16 max (request) */
#define F_TOTAL 0x08  /* u32 size */
#define F_DATA 0x10   /* the rest of the payload */

static int op_fields(uint8_t op) {
    switch (op) {
    case EVOLU_LINK_ST_INDEX_READ: return F_OFFSET | F_MAX;
    case EVOLU_LINK_ST_INDEX_BEGIN:
    case EVOLU_LINK_ST_INDEX_COMMIT:
    case EVOLU_LINK_ST_INDEX_ABORT: return 0;
    case EVOLU_LINK_ST_INDEX_APPEND: return F_DATA;
    case EVOLU_LINK_ST_BLOB_PUT: return F_KEY | F_OFFSET | F_TOTAL | F_DATA;
    case EVOLU_LINK_ST_BLOB_GET: return F_KEY | F_OFFSET | F_MAX;
    /* replies: status, then a size and bytes for the reads */
    case EVOLU_LINK_ST_REPLY | EVOLU_LINK_ST_INDEX_READ:
    case EVOLU_LINK_ST_REPLY | EVOLU_LINK_ST_BLOB_GET: return F_TOTAL | F_DATA;
    case EVOLU_LINK_ST_REPLY | EVOLU_LINK_ST_INDEX_BEGIN:
    case EVOLU_LINK_ST_REPLY | EVOLU_LINK_ST_INDEX_APPEND:
    case EVOLU_LINK_ST_REPLY | EVOLU_LINK_ST_INDEX_COMMIT:
    case EVOLU_LINK_ST_REPLY | EVOLU_LINK_ST_INDEX_ABORT:
    case EVOLU_LINK_ST_REPLY | EVOLU_LINK_ST_BLOB_PUT: return 0;
    default: return -1;
    }
}

evolu_err evolu_link_store_encode(const evolu_link_store_msg *m, uint8_t *out, size_t cap,
                                  size_t *n) {
    *n = 0;
    int fl = op_fields(m->op);
    if (fl < 0) return EVOLU_E_ARG;
    bool reply = m->op & EVOLU_LINK_ST_REPLY;
    if ((fl & F_KEY) && (m->key_len == 0 || m->key_len > EVOLU_LINK_ST_KEY_MAX || !m->key))
        return EVOLU_E_ARG;
    if ((fl & F_MAX) && m->size > 0xFFFFu) return EVOLU_E_LIMIT;
    if (reply && m->status > EVOLU_LINK_ST_NO_SPACE) return EVOLU_E_ARG;
    if ((fl & F_DATA) && m->data_len && !m->data) return EVOLU_E_ARG;
    evolu_writer w = evolu_writer_make(out, cap);
    uint8_t b[4];
    evolu_put_u8(&w, m->op);
    evolu_put_u8(&w, (uint8_t)m->id);
    evolu_put_u8(&w, (uint8_t)(m->id >> 8));
    if (reply) evolu_put_u8(&w, m->status);
    if (fl & F_KEY) {
        evolu_put_u8(&w, m->key_len);
        evolu_put_bytes(&w, m->key, m->key_len);
    }
    if (fl & F_OFFSET) {
        put32(b, m->offset);
        evolu_put_bytes(&w, b, 4);
    }
    if (fl & F_MAX) {
        evolu_put_u8(&w, (uint8_t)m->size);
        evolu_put_u8(&w, (uint8_t)(m->size >> 8));
    }
    if (fl & F_TOTAL) {
        put32(b, m->size);
        evolu_put_bytes(&w, b, 4);
    }
    if (fl & F_DATA) evolu_put_bytes(&w, m->data, m->data_len);
    if (w.err) return w.err;
    *n = w.len;
    return EVOLU_OK;
}

evolu_err evolu_link_store_decode(const uint8_t *p, size_t n, evolu_link_store_msg *m) {
    memset(m, 0, sizeof *m);
    evolu_reader r = evolu_reader_make(p, n);
    uint8_t b[4];
    evolu_err e = evolu_get_u8(&r, &m->op);
    if (e) return e;
    int fl = op_fields(m->op);
    if (fl < 0) return EVOLU_E_INVALID;
    if ((e = evolu_get_bytes(&r, b, 2))) return e;
    m->id = (uint16_t)(b[0] | b[1] << 8);
    if (m->op & EVOLU_LINK_ST_REPLY) {
        if ((e = evolu_get_u8(&r, &m->status))) return e;
        if (m->status > EVOLU_LINK_ST_NO_SPACE) return EVOLU_E_INVALID;
    }
    if (fl & F_KEY) {
        if ((e = evolu_get_u8(&r, &m->key_len))) return e;
        if (m->key_len == 0 || m->key_len > EVOLU_LINK_ST_KEY_MAX) return EVOLU_E_INVALID;
        if ((e = evolu_get_span(&r, &m->key, m->key_len))) return e;
    }
    if (fl & F_OFFSET) {
        if ((e = evolu_get_bytes(&r, b, 4))) return e;
        m->offset = get32(b);
    }
    if (fl & F_MAX) {
        if ((e = evolu_get_bytes(&r, b, 2))) return e;
        m->size = (uint32_t)(b[0] | b[1] << 8);
    }
    if (fl & F_TOTAL) {
        if ((e = evolu_get_bytes(&r, b, 4))) return e;
        m->size = get32(b);
    }
    if (fl & F_DATA) {
        m->data_len = evolu_reader_left(&r);
        m->data = m->data_len ? p + r.pos : NULL;
        return EVOLU_OK;
    }
    return evolu_reader_left(&r) ? EVOLU_E_TRAILING : EVOLU_OK;
}
