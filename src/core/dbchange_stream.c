/* dbchange_stream.c - an EncryptedDbChange of any size, decrypted and parsed
 * through a caller window (see evolu_dbchange_decrypt_stream in
 * evolu/dbchange.h): pass 1 authenticates, pass 2 decrypts window by window,
 * parses and hands out each column, and authenticates again. */
#include <string.h>

#include "evolu/dbchange.h"

#define FLAG_INSERT 0x01u
#define FLAG_DELETE_PRESENT 0x02u
#define FLAG_DELETE 0x04u
#define WINDOW_MIN 64u

/* dbchange.c's systemColumnsWithId check (kept private there). */
static bool is_system_column(const uint8_t *name, size_t n) {
    static const char names[5][10] = {"createdAt", "updatedAt", "isDeleted", "ownerId", "id"};
    static const uint8_t lens[5] = {9, 9, 9, 7, 2};
    for (size_t i = 0; i < 5; i++)
        if (n == lens[i] && !memcmp(name, names[i], n)) return true;
    return false;
}

/* Plaintext bytes [poff, poff + blen) are in buf; `at` is the next unread. */
typedef struct win {
    const evolu_aead_stream_port *aead;
    evolu_aead_stream *st;
    const evolu_source *src;
    uint64_t ct_off, m_len, poff;
    uint8_t *buf;
    size_t cap, at, blen;
} win;

static bool more(const win *w) { return w->poff + w->blen < w->m_len; }

/* Keeps the unread bytes, moves them to the front and decrypts as many more
 * as fit (authenticating the ciphertext before it is decrypted in place). */
static evolu_err refill(win *w) {
    size_t keep = w->blen - w->at;
    if (keep && w->at) memmove(w->buf, w->buf + w->at, keep);
    w->poff += w->at;
    w->at = 0;
    w->blen = keep;
    uint64_t next = w->poff + w->blen, left = w->m_len - next;
    size_t n = w->cap - w->blen;
    if (left < n) n = (size_t)left;
    if (n == 0) return EVOLU_OK;
    uint8_t *p = w->buf + w->blen;
    evolu_err e = w->src->read(w->src->ctx, w->ct_off + next, p, n);
    if (e) return e;
    w->aead->auth(w->aead->ctx, w->st, p, n);
    w->aead->xor_at(w->aead->ctx, w->st, next, p, p, n);
    w->blen += n;
    return EVOLU_OK;
}

typedef struct head_ctx {
    const evolu_timestamp *wire;
    evolu_dbchange_view *v;
    uint64_t n;
} head_ctx;

/* The order of decryptAndDecodeDbChange: version, timestamp equality, then
 * the fields of evolu_dbchange_parse. */
static evolu_err parse_head(head_ctx *h, evolu_reader *r) {
    uint64_t version;
    const uint8_t *tb, *id;
    uint8_t flags, want[EVOLU_TIMESTAMP_BYTES];
    evolu_err e;
    if ((e = evolu_get_varint(r, &version))) return e;
    if ((e = evolu_get_span(r, &tb, EVOLU_TIMESTAMP_BYTES))) return e;
    evolu_timestamp_to_bytes(h->wire, want);
    if (memcmp(tb, want, EVOLU_TIMESTAMP_BYTES) != 0) return EVOLU_E_TIMESTAMP_MISMATCH;
    if ((e = evolu_timestamp_from_bytes(tb, &h->v->timestamp))) return e;
    if ((e = evolu_get_flags(r, &flags))) return e;
    if ((e = evolu_get_string(r, &h->v->table, &h->v->table_len))) return e;
    if ((e = evolu_get_span(r, &id, EVOLU_ID_BYTES))) return e;
    memcpy(h->v->id, id, EVOLU_ID_BYTES);
    if ((e = evolu_get_varint(r, &h->n))) return e;
    h->v->is_insert = (flags & FLAG_INSERT) != 0;
    h->v->is_delete =
        (flags & FLAG_DELETE_PRESENT) ? (int8_t)((flags & FLAG_DELETE) ? 1 : 0) : -1;
    return EVOLU_OK;
}

typedef struct col_ctx {
    evolu_writer *text;
    evolu_column col;
} col_ctx;

static evolu_err parse_column(col_ctx *c, evolu_reader *r) {
    evolu_err e;
    c->text->len = 0;
    c->text->err = EVOLU_OK;
    if ((e = evolu_get_string(r, &c->col.name, &c->col.name_len))) return e;
    if (is_system_column(c->col.name, c->col.name_len)) return EVOLU_E_SYSTEM_COLUMN;
    if ((e = evolu_value_decode(r, c->text, &c->col.value))) return e;
    /* Valid, but its derived text does not fit the caller's text buffer. */
    if (c->col.value.kind == EVOLU_VALUE_TEXT && !c->col.value.data) return EVOLU_E_LIMIT;
    return EVOLU_OK;
}

/* Runs the parser of `what` over the unread window; if it fails while more
 * plaintext could be brought in, brings it in and tries again. A TRUNCATED
 * with a full window and plaintext left means the item is larger than the
 * window: EVOLU_E_LIMIT. On success the window is advanced past what was
 * consumed. (A switch, not a function pointer, so the static stack analysis
 * of the device build sees the whole call chain.) */
enum { PARSE_HEAD, PARSE_COLUMN };

static evolu_err step(win *w, int what, head_ctx *h, col_ctx *c) {
    for (;;) {
        evolu_reader r = evolu_reader_make(w->buf + w->at, w->blen - w->at);
        evolu_err e = what == PARSE_HEAD ? parse_head(h, &r) : parse_column(c, &r);
        if (e == EVOLU_OK) {
            w->at += r.pos;
            return EVOLU_OK;
        }
        if (!more(w)) return e;
        if (w->at == 0 && w->blen == w->cap) return e == EVOLU_E_TRUNCATED ? EVOLU_E_LIMIT : e;
        if ((e = refill(w)) != EVOLU_OK) return e;
    }
}

/* Pass 2 after the header: columns, the rest authenticated, tag compared. */
static evolu_err decode(const evolu_port *port, win *w, const evolu_timestamp *wire,
                        evolu_writer *text, const evolu_dbchange_sink *out,
                        const uint8_t tag[EVOLU_AEAD_TAG_BYTES]) {
    evolu_dbchange_view v;
    memset(&v, 0, sizeof v);
    head_ctx h = {wire, &v, 0};
    evolu_err e = refill(w);
    if (e) return e;
    if ((e = step(w, PARSE_HEAD, &h, NULL)) != EVOLU_OK) return e;
    /* Every column takes at least 2 bytes (name length, value tag). */
    uint64_t left = w->m_len - (w->poff + w->at);
    if (h.n > left / 2) return EVOLU_E_TRUNCATED;
    v.n_columns = (size_t)h.n;
    v.columns = evolu_reader_make(NULL, 0);
    if (out->begin && (e = out->begin(out->ctx, &v)) != EVOLU_OK) return e;

    col_ctx c;
    memset(&c, 0, sizeof c);
    c.text = text;
    for (uint64_t i = 0; i < h.n; i++) {
        if ((e = step(w, PARSE_COLUMN, NULL, &c)) != EVOLU_OK) return e;
        if (out->column && (e = out->column(out->ctx, (size_t)i, &c.col)) != EVOLU_OK) return e;
    }

    /* The padding: authenticate the rest of the ciphertext (no need to decrypt). */
    for (uint64_t p = w->poff + w->blen; p < w->m_len;) {
        size_t n = w->cap;
        if (w->m_len - p < n) n = (size_t)(w->m_len - p);
        if ((e = w->src->read(w->src->ctx, w->ct_off + p, w->buf, n)) != EVOLU_OK) return e;
        w->aead->auth(w->aead->ctx, w->st, w->buf, n);
        p += n;
    }
    uint8_t again[EVOLU_AEAD_TAG_BYTES];
    w->aead->final(w->aead->ctx, w->st, again);
    return port->memeq(port->ctx, again, tag, sizeof again) ? EVOLU_OK : EVOLU_E_DECRYPT;
}

evolu_err evolu_dbchange_decrypt_stream(const evolu_port *port,
                                        const evolu_aead_stream_port *aead,
                                        const uint8_t key[EVOLU_ENCRYPTION_KEY_BYTES],
                                        const evolu_timestamp *wire, const evolu_source *src,
                                        uint64_t off, uint64_t len, uint8_t *buf, size_t cap,
                                        evolu_writer *text, const evolu_dbchange_sink *out) {
    if (!port || !aead || !aead->init || !aead->auth || !aead->final || !aead->xor_at ||
        !src || !src->read || !buf || cap < WINDOW_MIN || !text || !out)
        return EVOLU_E_ARG;
    if (off > src->len || len > src->len - off) return EVOLU_E_ARG;

    /* Framing: nonce[24] || varint(len(ct)) || ct, as evolu_dbchange_decrypt. */
    uint8_t head[EVOLU_AEAD_NONCE_BYTES + EVOLU_VARINT_MAX_BYTES];
    size_t head_len = len < sizeof head ? (size_t)len : sizeof head;
    evolu_err e = src->read(src->ctx, off, head, head_len);
    if (e) return e;
    evolu_reader r = evolu_reader_make(head, head_len);
    const uint8_t *nonce;
    uint64_t ct_len;
    if ((e = evolu_get_span(&r, &nonce, EVOLU_AEAD_NONCE_BYTES))) return e;
    if ((e = evolu_get_varint(&r, &ct_len))) return e;
    if (ct_len > len - r.pos) return EVOLU_E_TRUNCATED;
    if (ct_len < EVOLU_AEAD_TAG_BYTES) return EVOLU_E_INVALID;

    evolu_aead_stream st;
    win w;
    memset(&w, 0, sizeof w);
    w.aead = aead;
    w.st = &st;
    w.src = src;
    w.ct_off = off + r.pos;
    w.m_len = ct_len - EVOLU_AEAD_TAG_BYTES;
    w.buf = buf;
    w.cap = cap;

    uint8_t tag[EVOLU_AEAD_TAG_BYTES], mac[EVOLU_AEAD_TAG_BYTES];
    if (aead->init(aead->ctx, &st, nonce, key) != 0) {
        e = EVOLU_E_CRYPTO;
        goto done;
    }
    /* Pass 1: the tag over the whole ciphertext, before anything is decrypted. */
    for (uint64_t p = 0; p < w.m_len;) {
        size_t n = cap;
        if (w.m_len - p < n) n = (size_t)(w.m_len - p);
        if ((e = src->read(src->ctx, w.ct_off + p, buf, n)) != EVOLU_OK) goto done;
        aead->auth(aead->ctx, &st, buf, n);
        p += n;
    }
    aead->final(aead->ctx, &st, mac);
    if ((e = src->read(src->ctx, w.ct_off + w.m_len, tag, sizeof tag)) != EVOLU_OK) goto done;
    if (!port->memeq(port->ctx, mac, tag, sizeof tag)) {
        e = EVOLU_E_DECRYPT;
        goto done;
    }

    /* Pass 2. */
    e = decode(port, &w, wire, text, out, tag);

done:
    port->memzero(port->ctx, &st, sizeof st);
    port->memzero(port->ctx, buf, cap);
    return e;
}
