/*
 * evolu/dbchange.h - DbChange plaintext, PADME padding and EncryptedDbChange
 * (spec 5.3-5.5).
 *
 *   plaintext = varint(1) || TimestampBytes || flags || String(table) || IdBytes
 *               || varint(ncols) || (String(name) || SqliteValue)* || zero padding
 *   encrypted = nonce[24] || varint(len(ct)) || ct,   ct = XChaCha20-Poly1305(padded)
 *
 * Encryption builds the plaintext directly in the output buffer and encrypts it
 * in place, so no scratch buffer is needed. Decryption writes the plaintext to a
 * caller buffer; the parsed change then points into that buffer. The plaintext
 * is the user's data, not key material: the caller owns it and should wipe it
 * (port->memzero) when it is done if the data is sensitive.
 */
#ifndef EVOLU_DBCHANGE_H
#define EVOLU_DBCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/bytes.h"
#include "evolu/error.h"
#include "evolu/id.h"
#include "evolu/port.h"
#include "evolu/source.h"
#include "evolu/timestamp.h"
#include "evolu/value.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVOLU_ENCRYPTION_KEY_BYTES 32

/* PADME: the padded length for a plaintext of len bytes (spec 5.4). Returns 0
 * for len 0 and when the padded length would reach 2^31 (the TS code works in
 * int32 and fails there); the DbChange functions then fail with EVOLU_E_LIMIT.
 * Implemented in padme.c. */
size_t evolu_padme(size_t len);

typedef struct evolu_column {
    const uint8_t *name; /* UTF-8 column name */
    size_t name_len;
    evolu_value value;
} evolu_column;

typedef struct evolu_dbchange {
    const uint8_t *table; /* UTF-8 table name */
    size_t table_len;
    uint8_t id[EVOLU_ID_BYTES];
    /* Any order: the encoder writes them in JS Object.entries order (names that
     * are array indices "0".."4294967294" ascending first, then the others in
     * the given order), as the TS encoder does for a JS object. Names must be
     * distinct UTF-8 and not a system column. */
    const evolu_column *columns;
    size_t n_columns;
    bool is_insert;
    int8_t is_delete; /* -1 = null (absent), 0 = false, 1 = true */
} evolu_dbchange;

/* Validates c and stores the length of its plaintext before padding in *out.
 * Errors: EVOLU_E_SYSTEM_COLUMN (createdAt, updatedAt, isDeleted, ownerId, id),
 * EVOLU_E_NUMBER (non-finite value), EVOLU_E_UTF8 (table, column name or text
 * not UTF-8), EVOLU_E_ARG (duplicate column name, is_delete not -1/0/1, NULL
 * pointer with a length). */
evolu_err evolu_dbchange_plaintext_len(const evolu_dbchange *c, size_t *out);

/* Writes the padded plaintext for change c at timestamp t. Validation errors
 * as evolu_dbchange_plaintext_len (plus EVOLU_E_MILLIS for t), and then w
 * is left as it was; otherwise returns w->err (EVOLU_E_BUFFER if it did not fit,
 * the writer's usual sticky overflow). */
evolu_err evolu_dbchange_encode(evolu_writer *w, const evolu_dbchange *c,
                                const evolu_timestamp *t);

/* Size of the EncryptedDbChange of c: 24 + varint(ct) + ct, ct = padme(len) + 16. */
evolu_err evolu_dbchange_encrypted_len(const evolu_dbchange *c, size_t *out);

/* Encrypts c at timestamp t with the given nonce into w (EncryptedDbChange),
 * all or nothing: if it does not fit, nothing is written, w->len grows by the
 * size needed, w->err and the result are EVOLU_E_BUFFER. The nonce must be
 * fresh random bytes for every call (the caller draws them from port->random).
 * EVOLU_E_CRYPTO if port->aead_encrypt fails (the plaintext is wiped). */
evolu_err evolu_dbchange_encrypt(evolu_writer *w, const evolu_port *port,
                                 const uint8_t key[EVOLU_ENCRYPTION_KEY_BYTES],
                                 const evolu_dbchange *c, const evolu_timestamp *t,
                                 const uint8_t nonce[EVOLU_AEAD_NONCE_BYTES]);

/* Splits an EncryptedDbChange and decrypts it into plain (capacity plain_cap,
 * at least len(ct) - 16 bytes, which *plain_len reports as soon as the framing
 * is read, also with EVOLU_E_BUFFER). plain must not overlap enc. Checks, in the
 * order of decryptAndDecodeDbChange: framing (EVOLU_E_TRUNCATED, EVOLU_E_VARINT,
 * EVOLU_E_INVALID for a ciphertext shorter than the tag), authentication
 * (EVOLU_E_DECRYPT), that the embedded TimestampBytes equal the wire timestamp
 * (EVOLU_E_TIMESTAMP_MISMATCH), then evolu_dbchange_parse. On any error after
 * decryption the plaintext is wiped. Bytes after the ciphertext are ignored,
 * as the TS decoder does. Parse the returned plaintext with
 * evolu_dbchange_parse to read it. */
evolu_err evolu_dbchange_decrypt(const evolu_port *port,
                                 const uint8_t key[EVOLU_ENCRYPTION_KEY_BYTES],
                                 const evolu_timestamp *wire, const uint8_t *enc,
                                 size_t enc_len, uint8_t *plain, size_t plain_cap,
                                 size_t *plain_len);

/* A parsed plaintext; columns are read one by one with evolu_dbchange_next_column. */
typedef struct evolu_dbchange_view {
    evolu_timestamp timestamp;
    const uint8_t *table;
    size_t table_len;
    uint8_t id[EVOLU_ID_BYTES];
    bool is_insert;
    int8_t is_delete;
    size_t n_columns;
    evolu_reader columns; /* positioned at the next column */
    size_t next;          /* index of the next column */
} evolu_dbchange_view;

/* Parses and fully validates a plaintext: version varint (read and ignored),
 * TimestampBytes, flags (bits other than 0..2 ignored), table, id, column
 * count, and every column (name not a system column, value decodes, see
 * evolu_value_decode). Everything after the last value is padding and is not
 * looked at, as in the TS decoder. If a name occurs twice, the later value wins
 * in TS (a JS object); the view returns both in wire order. */
evolu_err evolu_dbchange_parse(const uint8_t *plain, size_t len, evolu_dbchange_view *v);

/* Reads the next column; derived text goes to `text` (see evolu_value_decode).
 * EVOLU_E_DONE after the last one. If the column's derived text does not fit in
 * `text`, returns EVOLU_E_BUFFER without consuming the column (col->value.len
 * tells the room needed; text is unchanged), so the caller can retry. In a
 * reduced JSON build (EVOLU_JSON_REDUCED) a Json value beyond its limits
 * gives EVOLU_E_BUFFER with any room: skip it (evolu_dbchange_skip_column). */
evolu_err evolu_dbchange_next_column(evolu_dbchange_view *v, evolu_writer *text,
                                     evolu_column *col);

/* Reads the next column like evolu_dbchange_next_column but without its
 * derived text, so it always moves on: for a value with derived text,
 * col->value is EVOLU_VALUE_TEXT with data NULL and len the text's length
 * (for a Json value beyond a reduced build's limits, EVOLU_JSON_REDUCED in
 * evolu/json.h, its MessagePack length). For a caller that cannot hold a
 * value and moves past it (the firmware: "not held"). */
evolu_err evolu_dbchange_skip_column(evolu_dbchange_view *v, evolu_column *col);

/* --- streaming decryption: changes larger than RAM ---------------------------------- */

/* Where a streamed change goes. begin gets the change's fields (head->table
 * points into the window and is valid during the call; head->columns is not
 * readable), column each column in wire order (name and value valid during
 * the call). A non-OK return stops decryption and is passed through. */
typedef struct evolu_dbchange_sink {
    void *ctx;
    evolu_err (*begin)(void *ctx, const evolu_dbchange_view *head);
    evolu_err (*column)(void *ctx, size_t index, const evolu_column *col);
} evolu_dbchange_sink;

/* evolu_dbchange_decrypt + evolu_dbchange_parse + next_column for an
 * EncryptedDbChange of any size, read from src at [off, off + len), in RAM
 * bounded by the caller: buf (cap >= 64 bytes) holds a window of the
 * plaintext, text takes each column's derived text (its contents are
 * replaced per column), plus a few hundred bytes of stack.
 *
 * Two passes over the source: the first checks the framing and the Poly1305
 * tag of the whole ciphertext (EVOLU_E_DECRYPT, nothing reaches out); the
 * second decrypts window by window, checks the embedded timestamp
 * (EVOLU_E_TIMESTAMP_MISMATCH) and validates and hands out the header and
 * each column as it goes, with the errors of evolu_dbchange_parse in the
 * same order, and authenticates the ciphertext again: a source that serves
 * different bytes the second time gives EVOLU_E_DECRYPT at the end. So out
 * may have seen part of a change when the result is not EVOLU_OK: stage what
 * it gets and apply it only on EVOLU_OK (all or nothing, as a change
 * is applied in one transaction anyway).
 *
 * Never truncates: a header or a single column whose encoding does not fit
 * in buf, or whose derived text does not fit in text, is refused with
 * EVOLU_E_LIMIT (use a larger window, or the caller cannot take this
 * change). EVOLU_E_ARG for a missing port entry or a window below 64 bytes.
 * The window is wiped before returning. */
evolu_err evolu_dbchange_decrypt_stream(const evolu_port *port,
                                        const evolu_aead_stream_port *aead,
                                        const uint8_t key[EVOLU_ENCRYPTION_KEY_BYTES],
                                        const evolu_timestamp *wire, const evolu_source *src,
                                        uint64_t off, uint64_t len, uint8_t *buf, size_t cap,
                                        evolu_writer *text, const evolu_dbchange_sink *out);

#ifdef __cplusplus
}
#endif
#endif
