/* test_dbchange.c - DbChange plaintext and EncryptedDbChange beyond the vectors:
 * system column names, JS column order, validation, truncation at every length,
 * huge column counts, padding ignored, wrong key, tampered bytes and timestamp,
 * buffer sizes, and the retry protocol of evolu_dbchange_next_column. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "evolu/dbchange.h"
#include "vec.h"

static const uint8_t g_id[16] = {0x79, 0x75, 0x4f, 0x2d, 0xc4, 0x5a, 0xb8, 0xd0,
                                 0xf5, 0x33, 0xd9, 0x1f, 0x1d, 0xcd, 0x1b, 0x7e};

static evolu_column col(const char *name, evolu_value v) {
    evolu_column c;
    c.name = (const uint8_t *)name;
    c.name_len = strlen(name);
    c.value = v;
    return c;
}

static evolu_value text(const char *s) { return evolu_value_text((const uint8_t *)s, strlen(s)); }

static evolu_dbchange change(const evolu_column *cols, size_t n) {
    evolu_dbchange c;
    memset(&c, 0, sizeof c);
    c.table = (const uint8_t *)"todo";
    c.table_len = 4;
    memcpy(c.id, g_id, sizeof g_id);
    c.columns = cols;
    c.n_columns = n;
    c.is_insert = true;
    c.is_delete = -1;
    return c;
}

static evolu_timestamp ts(uint64_t millis, uint16_t counter) {
    evolu_timestamp t;
    t.millis = millis;
    t.counter = counter;
    for (int i = 0; i < 8; i++) t.node_id[i] = (uint8_t)(0x10 * i + 1);
    return t;
}

/* The column names of a plaintext, in order, joined with ','. */
static bool names_are(const uint8_t *plain, size_t n, const char *want) {
    evolu_dbchange_view v;
    char got[256] = {0};
    size_t len = 0;
    static uint8_t tbuf[512];
    evolu_writer tw = evolu_writer_make(tbuf, sizeof tbuf);
    if (evolu_dbchange_parse(plain, n, &v) != EVOLU_OK) return false;
    evolu_column c;
    evolu_err e;
    while ((e = evolu_dbchange_next_column(&v, &tw, &c)) == EVOLU_OK) {
        if (len) got[len++] = ',';
        memcpy(got + len, c.name, c.name_len);
        len += c.name_len;
    }
    if (e != EVOLU_E_DONE || strcmp(got, want)) {
        printf("  names %s want %s (%s)\n", got, want, evolu_errname(e));
        return false;
    }
    return true;
}

static void plaintext(void) {
    vec_section("plaintext");
    uint8_t buf[1024];
    evolu_timestamp t = ts(1700000000000ULL, 7);

    /* Object.entries order: array-index names ascending first. */
    evolu_column cols[] = {col("b", evolu_value_number(1)), col("10", evolu_value_null()),
                           col("a", text("x")), col("2", evolu_value_number(2)),
                           col("01", evolu_value_null()), col("4294967295", evolu_value_null()),
                           col("4294967294", evolu_value_null()), col("0", evolu_value_null())};
    evolu_dbchange c = change(cols, sizeof cols / sizeof cols[0]);
    evolu_writer w = evolu_writer_make(buf, sizeof buf);
    size_t plen = 0;
    CHECK(evolu_dbchange_encode(&w, &c, &t) == EVOLU_OK && evolu_dbchange_plaintext_len(&c, &plen) == EVOLU_OK &&
          w.len == evolu_padme(plen));
    CHECK(names_are(buf, w.len, "0,2,10,4294967294,b,a,01,4294967295"));

    /* Flags: every combination of isInsert / isDelete. */
    static const int8_t dels[] = {-1, 0, 1};
    static const uint8_t want_flags[2][3] = {{0x00, 0x02, 0x06}, {0x01, 0x03, 0x07}};
    for (int ins = 0; ins < 2; ins++)
        for (int d = 0; d < 3; d++) {
            evolu_dbchange_view v;
            c = change(NULL, 0);
            c.is_insert = ins;
            c.is_delete = dels[d];
            w = evolu_writer_make(buf, sizeof buf);
            vec_check(evolu_dbchange_encode(&w, &c, &t) == EVOLU_OK && buf[17] == want_flags[ins][d] &&
                          evolu_dbchange_parse(buf, w.len, &v) == EVOLU_OK &&
                          v.is_insert == (ins == 1) && v.is_delete == dels[d],
                      "flags insert %d delete %d: %02x", ins, dels[d], buf[17]);
        }
    /* Unknown flag bits are ignored; bit 2 without bit 1 is "isDelete null". */
    buf[17] = 0xfd;
    evolu_dbchange_view v;
    CHECK(evolu_dbchange_parse(buf, w.len, &v) == EVOLU_OK && v.is_insert && v.is_delete == -1);

    /* System column names are rejected by every entry point. */
    static const char *const sys[] = {"createdAt", "updatedAt", "isDeleted", "ownerId", "id"};
    for (size_t i = 0; i < 5; i++) {
        evolu_column sc[] = {col("title", text("a")), col(sys[i], evolu_value_null())};
        c = change(sc, 2);
        size_t n = 0;
        uint8_t key[32] = {0}, nonce[24] = {0};
        w = evolu_writer_make(buf, sizeof buf);
        evolu_writer ew = evolu_writer_make(buf, sizeof buf);
        vec_check(evolu_dbchange_plaintext_len(&c, &n) == EVOLU_E_SYSTEM_COLUMN &&
                      evolu_dbchange_encrypted_len(&c, &n) == EVOLU_E_SYSTEM_COLUMN &&
                      evolu_dbchange_encode(&w, &c, &t) == EVOLU_E_SYSTEM_COLUMN && w.len == 0 &&
                      evolu_dbchange_encrypt(&ew, vec_port(), key, &c, &t, nonce) ==
                          EVOLU_E_SYSTEM_COLUMN &&
                      ew.len == 0,
                  "system column %s accepted", sys[i]);
        /* ... and when parsing: encode with a same-length name, then rename. */
        char other[16];
        memset(other, 'x', strlen(sys[i]));
        other[strlen(sys[i])] = 0;
        evolu_column oc[] = {col("title", text("a")), col(other, evolu_value_null())};
        c = change(oc, 2);
        w = evolu_writer_make(buf, sizeof buf);
        evolu_dbchange_encode(&w, &c, &t);
        uint8_t *at = memmem(buf, w.len, other, strlen(other));
        memcpy(at, sys[i], strlen(sys[i]));
        vec_check(evolu_dbchange_parse(buf, w.len, &v) == EVOLU_E_SYSTEM_COLUMN,
                  "parse accepted system column %s", sys[i]);
    }
    /* Names that only look like system columns are fine. */
    evolu_column near[] = {col("Id", evolu_value_null()), col("ids", evolu_value_null()),
                           col("createdat", evolu_value_null()), col("", evolu_value_null())};
    c = change(near, 4);
    w = evolu_writer_make(buf, sizeof buf);
    CHECK(evolu_dbchange_encode(&w, &c, &t) == EVOLU_OK && names_are(buf, w.len, "Id,ids,createdat,"));

    /* Other validation. */
    size_t n;
    evolu_column dup[] = {col("a", evolu_value_null()), col("a", evolu_value_number(1))};
    c = change(dup, 2);
    CHECK(evolu_dbchange_plaintext_len(&c, &n) == EVOLU_E_ARG);
    evolu_column nan[] = {col("a", evolu_value_number((double)INFINITY))};
    c = change(nan, 1);
    CHECK(evolu_dbchange_plaintext_len(&c, &n) == EVOLU_E_NUMBER);
    c = change(NULL, 0);
    c.is_delete = 2;
    CHECK(evolu_dbchange_plaintext_len(&c, &n) == EVOLU_E_ARG);
    c = change(NULL, 0);
    c.table = (const uint8_t *)"\xff";
    c.table_len = 1;
    CHECK(evolu_dbchange_plaintext_len(&c, &n) == EVOLU_E_UTF8);
    evolu_column badname[] = {col("\xc3", evolu_value_null())};
    c = change(badname, 1);
    CHECK(evolu_dbchange_plaintext_len(&c, &n) == EVOLU_E_UTF8);
    c = change(NULL, 3);
    CHECK(evolu_dbchange_plaintext_len(&c, &n) == EVOLU_E_ARG);
    c = change(NULL, 0);
    evolu_timestamp inf = ts(EVOLU_MAX_MILLIS + 1, 0);
    w = evolu_writer_make(buf, sizeof buf);
    CHECK(evolu_dbchange_encode(&w, &c, &inf) == EVOLU_E_MILLIS && w.len == 0);

    /* Too small a buffer: sticky overflow, the padded length still counted. */
    evolu_column one[] = {col("title", text("Buy milk"))};
    c = change(one, 1);
    CHECK(evolu_dbchange_plaintext_len(&c, &n) == EVOLU_OK);
    w = evolu_writer_make(buf, 10);
    CHECK(evolu_dbchange_encode(&w, &c, &t) == EVOLU_E_BUFFER && w.len == evolu_padme(n));
}

/* Hand-built plaintexts for the parser. */
static size_t header(uint8_t *buf, size_t cap, uint64_t ncols) {
    evolu_writer w = evolu_writer_make(buf, cap);
    evolu_timestamp t = ts(5, 0);
    uint8_t tb[16];
    evolu_put_varint(&w, 1);
    evolu_timestamp_to_bytes(&t, tb);
    evolu_put_bytes(&w, tb, 16);
    evolu_put_u8(&w, 0);
    evolu_put_string(&w, (const uint8_t *)"t", 1);
    evolu_put_bytes(&w, g_id, 16);
    evolu_put_varint(&w, ncols);
    return w.len;
}

static void parse(void) {
    vec_section("parse");
    uint8_t buf[1024];
    evolu_dbchange_view v;

    /* Huge column counts fail at once, not after a long loop. */
    size_t n = header(buf, sizeof buf, EVOLU_MAX_SAFE_INTEGER);
    CHECK(evolu_dbchange_parse(buf, n, &v) == EVOLU_E_TRUNCATED);
    n = header(buf, sizeof buf, 1000);
    buf[n++] = 1;
    buf[n++] = 'a';
    buf[n++] = 0x16;
    CHECK(evolu_dbchange_parse(buf, n, &v) == EVOLU_E_TRUNCATED);
    n = header(buf, sizeof buf, 2);
    memcpy(buf + n, "\x01" "a" "\x16" "\x00" "\x13", 5);
    CHECK(evolu_dbchange_parse(buf, n + 5, &v) == EVOLU_OK && v.n_columns == 2);
    /* Every column is validated during parse: a bad second value fails it. */
    memcpy(buf + n, "\x01" "a" "\x16" "\x00" "\x19", 5);
    CHECK(evolu_dbchange_parse(buf, n + 5, &v) == EVOLU_E_VALUE_TYPE);
    memcpy(buf + n, "\x01" "a" "\x16" "\x00" "\x23\x80\xb8\xff\x90\xfd\xce\x39", 12);
    CHECK(evolu_dbchange_parse(buf, n + 12, &v) == EVOLU_E_DATE);
    /* Version: any varint is read and ignored; a bad varint fails. */
    n = header(buf, sizeof buf, 0);
    buf[0] = 0x7f;
    CHECK(evolu_dbchange_parse(buf, n, &v) == EVOLU_OK);
    /* Millis 2^48-1 is not a valid timestamp. */
    memset(buf + 1, 0xff, 6);
    CHECK(evolu_dbchange_parse(buf, n, &v) == EVOLU_E_MILLIS);
    /* Anything after the last value is padding and is not looked at. */
    n = header(buf, sizeof buf, 1);
    memcpy(buf + n, "\x01" "a" "\x07" "\xde\xad\xbe\xef", 7);
    CHECK(evolu_dbchange_parse(buf, n + 7, &v) == EVOLU_OK);

    /* Every strict prefix of an unpadded plaintext fails cleanly. */
    evolu_column cols[] = {col("title", text("Buy milk")), col("when", text("2024-10-31T00:00:00.000Z")),
                           col("n", evolu_value_number(-1.5)), col("j", text("{\"a\":[1]}"))};
    evolu_dbchange c = change(cols, 4);
    evolu_timestamp t = ts(1, 2);
    size_t plen = 0;
    evolu_writer w = evolu_writer_make(buf, sizeof buf);
    CHECK(evolu_dbchange_encode(&w, &c, &t) == EVOLU_OK &&
          evolu_dbchange_plaintext_len(&c, &plen) == EVOLU_OK);
    bool all = true;
    for (size_t k = 0; k < plen; k++)
        if (evolu_dbchange_parse(buf, k, &v) == EVOLU_OK) {
            printf("  prefix %zu of %zu parsed\n", k, plen);
            all = false;
        }
    CHECK(all && evolu_dbchange_parse(buf, plen, &v) == EVOLU_OK);

    /* next_column: a too-small text buffer is reported without consuming. */
    CHECK(evolu_dbchange_parse(buf, w.len, &v) == EVOLU_OK);
    uint8_t small[8], big[64];
    evolu_writer tw = evolu_writer_make(small, sizeof small);
    evolu_column out;
    CHECK(evolu_dbchange_next_column(&v, &tw, &out) == EVOLU_OK); /* "Buy milk": a String */
    CHECK(evolu_dbchange_next_column(&v, &tw, &out) == EVOLU_E_BUFFER && out.value.len == 24 &&
          tw.len == 0 && tw.err == EVOLU_OK && v.next == 1);
    tw = evolu_writer_make(big, sizeof big);
    CHECK(evolu_dbchange_next_column(&v, &tw, &out) == EVOLU_OK && out.value.len == 24 &&
          !memcmp(out.value.data, "2024-10-31T00:00:00.000Z", 24));
    CHECK(evolu_dbchange_next_column(&v, &tw, &out) == EVOLU_OK && out.value.number == -1.5);
    CHECK(evolu_dbchange_next_column(&v, &tw, &out) == EVOLU_OK &&
          out.value.len == 9 && !memcmp(out.value.data, "{\"a\":[1]}", 9));
    CHECK(evolu_dbchange_next_column(&v, &tw, &out) == EVOLU_E_DONE);

    /* skip_column: moves past every column, derived text measured only
     * (what a device that cannot hold a value does: "not held"). */
    CHECK(evolu_dbchange_parse(buf, w.len, &v) == EVOLU_OK);
    CHECK(evolu_dbchange_skip_column(&v, &out) == EVOLU_OK && out.value.len == 8 &&
          !memcmp(out.value.data, "Buy milk", 8)); /* a String points into the input */
    CHECK(evolu_dbchange_skip_column(&v, &out) == EVOLU_OK &&
          out.value.kind == EVOLU_VALUE_TEXT && !out.value.data && out.value.len == 24 &&
          out.name_len == 4 && !memcmp(out.name, "when", 4) && v.next == 2);
    CHECK(evolu_dbchange_skip_column(&v, &out) == EVOLU_OK && out.value.number == -1.5);
    CHECK(evolu_dbchange_skip_column(&v, &out) == EVOLU_OK && !out.value.data &&
          out.value.len == 9);
    CHECK(evolu_dbchange_skip_column(&v, &out) == EVOLU_E_DONE);
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void crypto(void) {
    vec_section("crypto");
    const evolu_port *port = vec_port();
    uint8_t key[32], key2[32], nonce[24], enc[2048], enc2[2048], plain[2048];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)i, key2[i] = (uint8_t)(i + 1);
    port->random(port->ctx, nonce, sizeof nonce);
    evolu_column cols[] = {col("title", text("Buy milk")), col("done", evolu_value_number(1))};
    evolu_dbchange c = change(cols, 2);
    evolu_timestamp t = ts(1700000000000ULL, 1);

    size_t elen = 0, plen = 0, dn = 0;
    CHECK(evolu_dbchange_encrypted_len(&c, &elen) == EVOLU_OK &&
          evolu_dbchange_plaintext_len(&c, &plen) == EVOLU_OK);
    /* Measure with a cap-0 writer, then write after 3 bytes already there. */
    evolu_writer m = evolu_writer_make(NULL, 0);
    CHECK(evolu_dbchange_encrypt(&m, port, key, &c, &t, nonce) == EVOLU_E_BUFFER &&
          m.len == elen && m.err == EVOLU_E_BUFFER);
    evolu_writer w = evolu_writer_make(enc, sizeof enc);
    evolu_put_bytes(&w, (const uint8_t *)"abc", 3);
    CHECK(evolu_dbchange_encrypt(&w, port, key, &c, &t, nonce) == EVOLU_OK && w.len == 3 + elen &&
          !memcmp(enc + 3, nonce, 24));
    memmove(enc, enc + 3, elen);
    /* Too small: nothing written. */
    memset(enc2, 0xaa, sizeof enc2);
    evolu_writer sw = evolu_writer_make(enc2, elen - 1);
    CHECK(evolu_dbchange_encrypt(&sw, port, key, &c, &t, nonce) == EVOLU_E_BUFFER &&
          sw.len == elen && enc2[0] == 0xaa && enc2[elen - 2] == 0xaa);

    CHECK(evolu_dbchange_decrypt(port, key, &t, enc, elen, plain, sizeof plain, &dn) == EVOLU_OK &&
          dn == evolu_padme(plen));
    /* Trailing bytes after the ciphertext are ignored (as in TS). */
    memcpy(enc2, enc, elen);
    enc2[elen] = 0x55;
    CHECK(evolu_dbchange_decrypt(port, key, &t, enc2, elen + 1, plain, sizeof plain, &dn) == EVOLU_OK);

    /* Wrong key: EVOLU_E_DECRYPT and nothing left in the output. */
    memset(plain, 0xaa, sizeof plain);
    CHECK(evolu_dbchange_decrypt(port, key2, &t, enc, elen, plain, sizeof plain, &dn) ==
              EVOLU_E_DECRYPT &&
          all_zero(plain, dn));
    /* Any flipped bit in nonce or ciphertext. */
    bool all = true;
    for (size_t i = 0; i < elen; i++) {
        if (i == 24) continue; /* the length varint: checked below */
        memcpy(enc2, enc, elen);
        enc2[i] ^= 0x01;
        if (evolu_dbchange_decrypt(port, key, &t, enc2, elen, plain, sizeof plain, &dn) !=
            EVOLU_E_DECRYPT) {
            printf("  flip at %zu accepted\n", i);
            all = false;
        }
    }
    CHECK(all);
    /* Length varint: too long is truncated, shorter fails authentication. */
    memcpy(enc2, enc, elen);
    enc2[24]++;
    CHECK(evolu_dbchange_decrypt(port, key, &t, enc2, elen, plain, sizeof plain, &dn) ==
          EVOLU_E_TRUNCATED);
    enc2[24] -= 2;
    CHECK(evolu_dbchange_decrypt(port, key, &t, enc2, elen, plain, sizeof plain, &dn) ==
          EVOLU_E_DECRYPT);
    enc2[24] = 15;
    CHECK(evolu_dbchange_decrypt(port, key, &t, enc2, elen, plain, sizeof plain, &dn) ==
          EVOLU_E_INVALID);
    enc2[24] = 0x80;
    CHECK(evolu_dbchange_decrypt(port, key, &t, enc2, 25, plain, sizeof plain, &dn) ==
          EVOLU_E_TRUNCATED);
    /* Every truncation fails cleanly. */
    all = true;
    for (size_t k = 0; k < elen; k++)
        if (evolu_dbchange_decrypt(port, key, &t, enc, k, plain, sizeof plain, &dn) == EVOLU_OK)
            all = false;
    CHECK(all);
    /* The wire timestamp must be the one inside. */
    evolu_timestamp t2 = t;
    t2.counter++;
    CHECK(evolu_dbchange_decrypt(port, key, &t2, enc, elen, plain, sizeof plain, &dn) ==
          EVOLU_E_TIMESTAMP_MISMATCH);
    t2 = t;
    t2.node_id[7] ^= 1;
    CHECK(evolu_dbchange_decrypt(port, key, &t2, enc, elen, plain, sizeof plain, &dn) ==
          EVOLU_E_TIMESTAMP_MISMATCH);
    /* Output buffer too small: the needed size is reported. */
    CHECK(evolu_dbchange_decrypt(port, key, &t, enc, elen, plain, 10, &dn) == EVOLU_E_BUFFER &&
          dn == evolu_padme(plen));

    /* A properly encrypted plaintext that does not parse is rejected, and the
     * timestamp check comes first, as in decryptAndDecodeDbChange. */
    uint8_t bad[64];
    size_t bn = header(bad, sizeof bad, 1);
    memcpy(bad + bn, "\x02" "id" "\x16", 4);
    bn += 4;
    evolu_timestamp bt = ts(5, 0);
    memcpy(enc2, nonce, 24);
    enc2[24] = (uint8_t)(bn + 16);
    CHECK(port->aead_encrypt(port->ctx, enc2 + 25, bad, bn, nonce, key) == 0);
    memset(plain, 0xaa, sizeof plain);
    CHECK(evolu_dbchange_decrypt(port, key, &bt, enc2, 25 + bn + 16, plain, sizeof plain, &dn) ==
              EVOLU_E_SYSTEM_COLUMN &&
          all_zero(plain, bn));
    CHECK(evolu_dbchange_decrypt(port, key, &t, enc2, 25 + bn + 16, plain, sizeof plain, &dn) ==
          EVOLU_E_TIMESTAMP_MISMATCH);
}

int main(void) {
    plaintext();
    parse();
    crypto();
    return vec_finish();
}
