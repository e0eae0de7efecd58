/* dbchange.c - DbChange plaintext and EncryptedDbChange (spec 5.3-5.5).
 *
 * Both directions work in the caller's buffers: encryption writes the padded
 * plaintext where the ciphertext will be and encrypts it in place; decryption
 * writes the plaintext to the caller's buffer and parses it without copying. */
#include <stdint.h>
#include <string.h>

#include "evolu/dbchange.h"

#define PROTOCOL_VERSION 1

#define FLAG_INSERT 0x01u
#define FLAG_DELETE_PRESENT 0x02u
#define FLAG_DELETE 0x04u

/* systemColumnsWithId of @evolu/common: never allowed in DbChange values. */
static bool is_system_column(const uint8_t *name, size_t n) {
    /* Plain char arrays (no pointer table) keep this in read-only data. */
    static const char names[5][10] = {"createdAt", "updatedAt", "isDeleted", "ownerId", "id"};
    static const uint8_t lens[5] = {9, 9, 9, 7, 2};
    for (size_t i = 0; i < 5; i++)
        if (n == lens[i] && !memcmp(name, names[i], n)) return true;
    return false;
}

/* A canonical array index ("0", "1", ... "4294967294", no leading zeros): the
 * keys JS puts first, ascending, in Object.entries order. */
static bool array_index(const uint8_t *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    if (n == 0 || n > 10 || (n > 1 && s[0] == '0')) return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > 4294967294u) return false;
    *out = v;
    return true;
}

static bool same_name(const evolu_column *a, const evolu_column *b) {
    return a->name_len == b->name_len && (a->name_len == 0 || !memcmp(a->name, b->name, a->name_len));
}

/* Checks what the value encoder does not: names and the change's own fields. */
static evolu_err validate_change(const evolu_dbchange *c, const evolu_timestamp *t) {
    if (t->millis > EVOLU_MAX_MILLIS) return EVOLU_E_MILLIS;
    if (c->is_delete < -1 || c->is_delete > 1) return EVOLU_E_ARG;
    if (!c->table && c->table_len) return EVOLU_E_ARG;
    if (!evolu_value_text_is_valid(c->table, c->table_len)) return EVOLU_E_UTF8;
    if (c->n_columns && !c->columns) return EVOLU_E_ARG;
    for (size_t i = 0; i < c->n_columns; i++) {
        const evolu_column *col = &c->columns[i];
        if (!col->name && col->name_len) return EVOLU_E_ARG;
        if (is_system_column(col->name, col->name_len)) return EVOLU_E_SYSTEM_COLUMN;
        if (!evolu_value_text_is_valid(col->name, col->name_len)) return EVOLU_E_UTF8;
        /* A JS object cannot hold a name twice. */
        for (size_t j = 0; j < i; j++)
            if (same_name(col, &c->columns[j])) return EVOLU_E_ARG;
    }
    return EVOLU_OK;
}

static evolu_err put_column(evolu_writer *w, const evolu_column *col) {
    evolu_put_string(w, col->name, col->name_len);
    return evolu_value_encode(w, &col->value);
}

/* Columns in Object.entries order: array-index names ascending, then the rest
 * in the caller's order. Quadratic in the number of array-index names only. */
static evolu_err put_columns(evolu_writer *w, const evolu_dbchange *c) {
    uint64_t last = 0, idx;
    bool first = true;
    evolu_err e;
    for (;;) {
        size_t best = c->n_columns;
        uint64_t best_idx = 0;
        for (size_t i = 0; i < c->n_columns; i++) {
            const evolu_column *col = &c->columns[i];
            if (!array_index(col->name, col->name_len, &idx)) continue;
            if (!first && idx <= last) continue;
            if (best == c->n_columns || idx < best_idx) {
                best = i;
                best_idx = idx;
            }
        }
        if (best == c->n_columns) break;
        if ((e = put_column(w, &c->columns[best]))) return e;
        last = best_idx;
        first = false;
    }
    for (size_t i = 0; i < c->n_columns; i++) {
        const evolu_column *col = &c->columns[i];
        if (array_index(col->name, col->name_len, &idx)) continue;
        if ((e = put_column(w, col))) return e;
    }
    return EVOLU_OK;
}

/* The plaintext without padding. */
static evolu_err put_plain(evolu_writer *w, const evolu_dbchange *c, const evolu_timestamp *t) {
    uint8_t tb[EVOLU_TIMESTAMP_BYTES];
    evolu_err e = validate_change(c, t);
    if (e) return e;
    evolu_put_varint(w, PROTOCOL_VERSION);
    evolu_timestamp_to_bytes(t, tb);
    evolu_put_bytes(w, tb, sizeof tb);
    uint8_t flags = (uint8_t)((c->is_insert ? FLAG_INSERT : 0) |
                              (c->is_delete >= 0 ? FLAG_DELETE_PRESENT : 0) |
                              (c->is_delete == 1 ? FLAG_DELETE : 0));
    evolu_put_u8(w, flags);
    evolu_put_string(w, c->table, c->table_len);
    evolu_put_bytes(w, c->id, EVOLU_ID_BYTES);
    evolu_put_varint(w, (uint64_t)c->n_columns);
    return put_columns(w, c);
}

static void put_zeros(evolu_writer *w, size_t n) {
    static const uint8_t zeros[64] = {0};
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        evolu_put_bytes(w, zeros, k);
        n -= k;
    }
}

/* padme(len), or EVOLU_E_LIMIT where the TS code's int32 arithmetic fails. */
static evolu_err padded_len(size_t len, size_t *out) {
    size_t p = evolu_padme(len);
    if (p < len || p > SIZE_MAX - EVOLU_AEAD_NONCE_BYTES - EVOLU_VARINT_MAX_BYTES -
                           EVOLU_AEAD_TAG_BYTES)
        return EVOLU_E_LIMIT;
    *out = p;
    return EVOLU_OK;
}

evolu_err evolu_dbchange_plaintext_len(const evolu_dbchange *c, size_t *out) {
    /* Any timestamp gives the same length; validate_change needs a valid one. */
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    evolu_writer w = evolu_writer_make(NULL, 0);
    evolu_err e = put_plain(&w, c, &t);
    if (e) return e;
    *out = w.len;
    return EVOLU_OK;
}

evolu_err evolu_dbchange_encode(evolu_writer *w, const evolu_dbchange *c,
                                const evolu_timestamp *t) {
    size_t start = w->len;
    evolu_err start_err = w->err;
    evolu_err e = put_plain(w, c, t);
    if (e) {
        w->len = start;
        w->err = start_err;
        return e;
    }
    size_t len = w->len - start, padded;
    if ((e = padded_len(len, &padded))) {
        w->len = start;
        w->err = start_err;
        return e;
    }
    put_zeros(w, padded - len);
    return w->err;
}

evolu_err evolu_dbchange_encrypted_len(const evolu_dbchange *c, size_t *out) {
    size_t plain, padded;
    evolu_err e = evolu_dbchange_plaintext_len(c, &plain);
    if (e) return e;
    if ((e = padded_len(plain, &padded))) return e;
    size_t ct = padded + EVOLU_AEAD_TAG_BYTES;
    *out = EVOLU_AEAD_NONCE_BYTES + evolu_varint_len(ct) + ct;
    return EVOLU_OK;
}

evolu_err evolu_dbchange_encrypt(evolu_writer *w, const evolu_port *port,
                                 const uint8_t key[EVOLU_ENCRYPTION_KEY_BYTES],
                                 const evolu_dbchange *c, const evolu_timestamp *t,
                                 const uint8_t nonce[EVOLU_AEAD_NONCE_BYTES]) {
    size_t plain;
    evolu_err e = evolu_dbchange_plaintext_len(c, &plain);
    if (e) return e;
    if (t->millis > EVOLU_MAX_MILLIS) return EVOLU_E_MILLIS;
    size_t padded;
    if ((e = padded_len(plain, &padded))) return e;
    size_t ct = padded + EVOLU_AEAD_TAG_BYTES;
    size_t vlen = evolu_varint_len(ct);
    size_t total = EVOLU_AEAD_NONCE_BYTES + vlen + ct;

    if (w->err != EVOLU_OK || w->len > w->cap || total > w->cap - w->len) {
        if (w->err == EVOLU_OK) w->err = EVOLU_E_BUFFER;
        w->len += total; /* keep counting, as every writer does */
        return EVOLU_E_BUFFER;
    }

    uint8_t *out = w->p + w->len;
    memcpy(out, nonce, EVOLU_AEAD_NONCE_BYTES);
    evolu_writer hw = evolu_writer_make(out + EVOLU_AEAD_NONCE_BYTES, vlen);
    evolu_put_varint(&hw, ct);

    /* The padded plaintext goes where the ciphertext will be. */
    uint8_t *region = out + EVOLU_AEAD_NONCE_BYTES + vlen;
    evolu_writer pw = evolu_writer_make(region, padded);
    e = put_plain(&pw, c, t);
    if (e == EVOLU_OK && (pw.err != EVOLU_OK || pw.len != plain)) e = EVOLU_E_STATE;
    if (e == EVOLU_OK) {
        memset(region + plain, 0, padded - plain);
        /* The nonce is read from its copy in `out`, which the in-place
         * encryption does not touch, so a caller nonce aliasing w is safe. */
        if (port->aead_encrypt(port->ctx, region, region, padded, out, key) != 0)
            e = EVOLU_E_CRYPTO;
    }
    if (e) {
        port->memzero(port->ctx, region, padded); /* no plaintext left behind */
        return e;
    }
    w->len += total;
    return EVOLU_OK;
}

/* version varint (read, ignored) || TimestampBytes */
static evolu_err get_header(evolu_reader *r, const uint8_t **tb) {
    uint64_t version;
    evolu_err e = evolu_get_varint(r, &version);
    if (e) return e;
    return evolu_get_span(r, tb, EVOLU_TIMESTAMP_BYTES);
}

evolu_err evolu_dbchange_parse(const uint8_t *plain, size_t len, evolu_dbchange_view *v) {
    evolu_reader r = evolu_reader_make(plain, len);
    const uint8_t *tb, *id;
    uint8_t flags;
    uint64_t n;
    evolu_err e;

    if ((e = get_header(&r, &tb))) return e;
    if ((e = evolu_timestamp_from_bytes(tb, &v->timestamp))) return e;
    if ((e = evolu_get_flags(&r, &flags))) return e;
    if ((e = evolu_get_string(&r, &v->table, &v->table_len))) return e;
    if ((e = evolu_get_span(&r, &id, EVOLU_ID_BYTES))) return e;
    memcpy(v->id, id, EVOLU_ID_BYTES);
    if ((e = evolu_get_varint(&r, &n))) return e;
    /* Every column takes at least 2 bytes (name length, value tag). */
    if (n > evolu_reader_left(&r) / 2) return EVOLU_E_TRUNCATED;
    v->is_insert = (flags & FLAG_INSERT) != 0;
    v->is_delete = (flags & FLAG_DELETE_PRESENT) ? (int8_t)((flags & FLAG_DELETE) ? 1 : 0) : -1;
    v->n_columns = (size_t)n;
    v->columns = r;
    v->next = 0;

    /* Validate every column now, so a caller never applies half a change.
     * A cap-0 text writer validates derived text without storing it. */
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *name;
        size_t name_len;
        evolu_value val;
        evolu_writer text = evolu_writer_make(NULL, 0);
        if ((e = evolu_get_string(&r, &name, &name_len))) return e;
        if (is_system_column(name, name_len)) return EVOLU_E_SYSTEM_COLUMN;
        if ((e = evolu_value_decode(&r, &text, &val))) return e;
    }
    /* What follows the last value is padding; like the TS decoder we ignore it. */
    return EVOLU_OK;
}

static evolu_err column(evolu_dbchange_view *v, evolu_writer *text, evolu_column *col,
                        bool skip) {
    if (v->next >= v->n_columns) return EVOLU_E_DONE;
    evolu_reader r = v->columns;
    size_t text_len = text->len;
    evolu_err text_err = text->err, e;
    if ((e = evolu_get_string(&r, &col->name, &col->name_len))) return e;
    if (is_system_column(col->name, col->name_len)) return EVOLU_E_SYSTEM_COLUMN;
    if ((e = evolu_value_decode(&r, text, &col->value))) return e;
    if (col->value.kind == EVOLU_VALUE_TEXT && !col->value.data && !skip) {
        /* The derived text did not fit: leave the column unread. */
        text->len = text_len;
        text->err = text_err;
        return EVOLU_E_BUFFER;
    }
    v->columns = r;
    v->next++;
    return EVOLU_OK;
}

evolu_err evolu_dbchange_next_column(evolu_dbchange_view *v, evolu_writer *text,
                                     evolu_column *col) {
    return column(v, text, col, false);
}

evolu_err evolu_dbchange_skip_column(evolu_dbchange_view *v, evolu_column *col) {
    evolu_writer none = evolu_writer_make(NULL, 0); /* derived text: measured only */
    return column(v, &none, col, true);
}

evolu_err evolu_dbchange_decrypt(const evolu_port *port,
                                 const uint8_t key[EVOLU_ENCRYPTION_KEY_BYTES],
                                 const evolu_timestamp *wire, const uint8_t *enc,
                                 size_t enc_len, uint8_t *plain, size_t plain_cap,
                                 size_t *plain_len) {
    evolu_reader r = evolu_reader_make(enc, enc_len);
    const uint8_t *nonce, *ct, *tb;
    uint64_t ct_len;
    evolu_err e;

    if ((e = evolu_get_span(&r, &nonce, EVOLU_AEAD_NONCE_BYTES))) return e;
    if ((e = evolu_get_varint(&r, &ct_len))) return e;
    if (ct_len > evolu_reader_left(&r)) return EVOLU_E_TRUNCATED;
    if (ct_len < EVOLU_AEAD_TAG_BYTES) return EVOLU_E_INVALID;
    if ((e = evolu_get_span(&r, &ct, (size_t)ct_len))) return e;
    /* Bytes after the ciphertext are ignored, as decryptAndDecodeDbChange does. */

    size_t m_len = (size_t)ct_len - EVOLU_AEAD_TAG_BYTES;
    *plain_len = m_len;
    if (m_len > plain_cap) return EVOLU_E_BUFFER;
    if (port->aead_decrypt(port->ctx, plain, ct, (size_t)ct_len, nonce, key) != 0) {
        port->memzero(port->ctx, plain, m_len);
        return EVOLU_E_DECRYPT;
    }

    /* The TS order of checks: version, timestamp equality, then the rest. */
    evolu_reader pr = evolu_reader_make(plain, m_len);
    e = get_header(&pr, &tb);
    if (e == EVOLU_OK) {
        uint8_t want[EVOLU_TIMESTAMP_BYTES];
        evolu_timestamp_to_bytes(wire, want);
        if (memcmp(tb, want, EVOLU_TIMESTAMP_BYTES) != 0) e = EVOLU_E_TIMESTAMP_MISMATCH;
    }
    if (e == EVOLU_OK) {
        evolu_dbchange_view view;
        e = evolu_dbchange_parse(plain, m_len, &view);
    }
    if (e) port->memzero(port->ctx, plain, m_len); /* unusable, do not leave it */
    return e;
}
