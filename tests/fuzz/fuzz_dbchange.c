/* fuzz_dbchange.c - DbChange plaintexts and EncryptedDbChanges from arbitrary
 * bytes. Properties:
 *  - evolu_dbchange_parse never reads out of bounds, and when it accepts, every
 *    column reads back with evolu_dbchange_next_column (retrying after
 *    EVOLU_E_BUFFER with the size it reports) and then EVOLU_E_DONE;
 *  - an accepted change that is also valid to send (distinct UTF-8 names, UTF-8
 *    text) encrypts and decrypts back to the same change (same columns by name:
 *    the encoder puts array-index names first, as JS does);
 *  - evolu_dbchange_decrypt of the raw input with a fixed key fails cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/dbchange.h"
#include "evolu/port_sodium.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t nonce[24] = {0x55};

/* Reads every column of v into cols (text in one buffer per column). */
static size_t read_columns(evolu_dbchange_view *v, evolu_column *cols, uint8_t **texts) {
    size_t n = 0;
    for (;;) {
        size_t cap = 16;
        uint8_t *t = malloc(cap);
        evolu_writer tw = evolu_writer_make(t, cap);
        evolu_err e = evolu_dbchange_next_column(v, &tw, &cols[n]);
        if (e == EVOLU_E_BUFFER) {
            cap = cols[n].value.len;
            free(t);
            t = malloc(cap);
            tw = evolu_writer_make(t, cap);
            e = evolu_dbchange_next_column(v, &tw, &cols[n]);
        }
        if (e == EVOLU_E_DONE) {
            free(t);
            return n;
        }
        if (e != EVOLU_OK || n >= v->n_columns) __builtin_trap();
        texts[n++] = t;
    }
}

static const evolu_column *find(const evolu_column *cols, size_t n, const evolu_column *c) {
    for (size_t i = 0; i < n; i++)
        if (cols[i].name_len == c->name_len && !memcmp(cols[i].name, c->name, c->name_len))
            return &cols[i];
    return NULL;
}

static void roundtrip(const evolu_port *port, const evolu_dbchange_view *v,
                      const evolu_column *cols, size_t n) {
    evolu_dbchange c;
    memset(&c, 0, sizeof c);
    c.table = v->table;
    c.table_len = v->table_len;
    memcpy(c.id, v->id, sizeof c.id);
    c.columns = cols;
    c.n_columns = n;
    c.is_insert = v->is_insert;
    c.is_delete = v->is_delete;
    size_t elen;
    evolu_err e = evolu_dbchange_encrypted_len(&c, &elen);
    if (e == EVOLU_E_UTF8 || e == EVOLU_E_ARG) return; /* not sendable as it is */
    if (e != EVOLU_OK) __builtin_trap();
    uint8_t *enc = malloc(elen), *plain = malloc(elen);
    evolu_writer w = evolu_writer_make(enc, elen);
    size_t pn = 0;
    if (evolu_dbchange_encrypt(&w, port, key, &c, &v->timestamp, nonce) != EVOLU_OK ||
        w.len != elen ||
        evolu_dbchange_decrypt(port, key, &v->timestamp, enc, elen, plain, elen, &pn) != EVOLU_OK)
        __builtin_trap();
    evolu_dbchange_view v2;
    if (evolu_dbchange_parse(plain, pn, &v2) != EVOLU_OK || v2.n_columns != n ||
        v2.table_len != v->table_len || memcmp(v2.table, v->table, v->table_len) ||
        memcmp(v2.id, v->id, sizeof v->id) || v2.is_insert != v->is_insert ||
        v2.is_delete != v->is_delete || evolu_timestamp_cmp(&v2.timestamp, &v->timestamp))
        __builtin_trap();
    evolu_column *cols2 = malloc((n + 1) * sizeof *cols2);
    uint8_t **texts2 = malloc((n + 1) * sizeof *texts2);
    size_t n2 = read_columns(&v2, cols2, texts2);
    if (n2 != n) __builtin_trap();
    for (size_t i = 0; i < n2; i++) {
        const evolu_column *o = find(cols, n, &cols2[i]);
        if (!o || !evolu_value_equal(&o->value, &cols2[i].value)) __builtin_trap();
    }
    for (size_t i = 0; i < n2; i++) free(texts2[i]);
    free(texts2);
    free(cols2);
    free(plain);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const evolu_port *port = evolu_port_sodium();
    if (!port) __builtin_trap();

    evolu_dbchange_view v;
    if (evolu_dbchange_parse(data, size, &v) == EVOLU_OK) {
        /* Each column takes at least 2 bytes, so n_columns is bounded by size. */
        if (v.n_columns > size / 2) __builtin_trap();
        evolu_column *cols = malloc((v.n_columns + 1) * sizeof *cols);
        uint8_t **texts = malloc((v.n_columns + 1) * sizeof *texts);
        size_t n = read_columns(&v, cols, texts);
        if (n != v.n_columns) __builtin_trap();
        roundtrip(port, &v, cols, n);
        for (size_t i = 0; i < n; i++) free(texts[i]);
        free(texts);
        free(cols);
    }

    /* Raw bytes as an EncryptedDbChange: cannot authenticate. */
    uint8_t *plain = malloc(size + 1);
    size_t pn = 0;
    evolu_timestamp wire;
    memset(&wire, 0, sizeof wire);
    if (evolu_dbchange_decrypt(port, key, &wire, data, size, plain, size, &pn) == EVOLU_OK)
        __builtin_trap();
    free(plain);
    return 0;
}
