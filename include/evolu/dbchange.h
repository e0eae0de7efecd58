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
 * caller buffer; the parsed change then points into that buffer.
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
#include "evolu/timestamp.h"
#include "evolu/value.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVOLU_ENCRYPTION_KEY_BYTES 32

/* PADME: the padded length for a plaintext of len bytes (spec 5.4). */
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
    const evolu_column *columns; /* in JS Object.entries order */
    size_t n_columns;
    bool is_insert;
    int8_t is_delete; /* -1 = null (absent), 0 = false, 1 = true */
} evolu_dbchange;

/* Length of the plaintext before padding, or 0 with *err set on invalid input
 * (a system column name, a non-finite number). */
evolu_err evolu_dbchange_plaintext_len(const evolu_dbchange *c, size_t *out);

/* Writes the padded plaintext for change c at timestamp t. */
evolu_err evolu_dbchange_encode(evolu_writer *w, const evolu_dbchange *c,
                                const evolu_timestamp *t);

/* Size of the EncryptedDbChange of c: 24 + varint(ct) + ct, ct = padme(len) + 16. */
evolu_err evolu_dbchange_encrypted_len(const evolu_dbchange *c, size_t *out);

/* Encrypts c at timestamp t with the given nonce into w (EncryptedDbChange). */
evolu_err evolu_dbchange_encrypt(evolu_writer *w, const evolu_port *port,
                                 const uint8_t key[EVOLU_ENCRYPTION_KEY_BYTES],
                                 const evolu_dbchange *c, const evolu_timestamp *t,
                                 const uint8_t nonce[EVOLU_AEAD_NONCE_BYTES]);

/* Splits an EncryptedDbChange and decrypts it into plain (capacity plain_cap,
 * at least len(ct) - 16 bytes). Checks that the embedded TimestampBytes equal
 * the wire timestamp (EVOLU_E_TIMESTAMP_MISMATCH). The plaintext is validated
 * by evolu_dbchange_parse before this returns OK. */
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

/* Parses and fully validates a plaintext (every column decodes, no system column
 * names, no trailing data other than padding is interpreted). */
evolu_err evolu_dbchange_parse(const uint8_t *plain, size_t len, evolu_dbchange_view *v);

/* Reads the next column; derived text goes to `text` (see evolu_value_decode).
 * EVOLU_E_DONE after the last one. */
evolu_err evolu_dbchange_next_column(evolu_dbchange_view *v, evolu_writer *text,
                                     evolu_column *col);

#ifdef __cplusplus
}
#endif
#endif
