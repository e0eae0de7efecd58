/* fuzz_client_db.c - received batches into a real client database
 * (evolu_client_db_apply_protocol on a fresh in-memory SQLite database per
 * input, so every run is deterministic).
 *
 * Input: one control byte, then the body.
 *   bit 0: raw - the body is a protocol message as received (its owner id is
 *          patched to ours when it is long enough, so the checks behind the
 *          owner check are reached);
 *          otherwise the body is a list of records, each encrypted with the
 *          owner's key and sent in one Broadcast or Response:
 *            [kind] [delta] [len] [len bytes]
 *            kind bit 0: 1 = a DbChange built from the bytes (table todo, tag,
 *                        _local or an undeclared one; an id; columns title, n,
 *                        color, extra with null / number / text / bytes
 *                        values; insert or update; isDeleted), 0 = the bytes
 *                        as the plaintext after the version and the
 *                        TimestampBytes (arbitrary, so the parser is fuzzed)
 *            kind bit 1: flip one ciphertext bit (the batch must be refused)
 *            kind bit 2: repeat the previous record's timestamp
 *            kind bits 3-4: counter; delta: millis step; timestamps stay
 *                        within the clock's drift limit, except bit 5 of
 *                        kind: one far in the future (must be refused)
 *   bit 1: declare the tables todo (title, n) and _local (note) first
 *   bit 2: a Response instead of a Broadcast
 *   bit 3: the same bytes are applied twice
 *
 * Properties: no crash, no leak (ASan/LSan); a refused batch leaves every
 * table and the clock exactly as they were; an accepted batch applied again
 * changes no table but the clock; after any batch the RBSR store (the O(log N)
 * index) holds exactly the SQL set: same size as evolu_timestamp and the same
 * fingerprint as the one recomputed from its h1/h2 columns. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/client_db.h"
#include "evolu/port_sodium.h"
#include "evolu/protocol.h"
#include "evolu/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000000LL
#define MAX_RECORDS 24
#define CHANGE_CAP 512
#define OUT_CAP (MAX_RECORDS * (CHANGE_CAP + 64) + 256)

static evolu_port g_port;
static uint64_t g_rand;
static evolu_owner g_owner;
static uint8_t g_changes[MAX_RECORDS][CHANGE_CAP];
static evolu_msg_entry g_entries[MAX_RECORDS];
static evolu_range_entry g_ranges[4];
static uint8_t g_out[OUT_CAP];

static int64_t fixed_now(void *ctx) {
    (void)ctx;
    return NOW;
}

static void det_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        g_rand = g_rand * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(g_rand >> 56);
    }
}

static void init(void) {
    static bool done;
    if (done) return;
    done = true;
    g_port = *evolu_port_sodium();
    g_port.now_ms = fixed_now;
    g_port.random = det_random;
    uint8_t secret[EVOLU_OWNER_SECRET_BYTES];
    memset(secret, 0x5c, sizeof secret);
    if (evolu_owner_from_secret(&g_port, secret, sizeof secret, &g_owner)) __builtin_trap();
}

/* --- a digest of the whole database ----------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* Every row of every table (in a fixed order), optionally without the
 * clock. Values with their storage class. */
static uint64_t digest(sqlite3 *db, bool with_clock) {
    uint64_t h = 0xcbf29ce484222325ULL;
    sqlite3_stmt *t = NULL;
    if (sqlite3_prepare_v2(db, "select name from sqlite_schema where type = 'table' order by name",
                           -1, &t, NULL) != SQLITE_OK)
        __builtin_trap();
    while (sqlite3_step(t) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(t, 0);
        if (!with_clock && !strcmp(name, "evolu_config")) continue;
        h = fnv(h, name, strlen(name) + 1);
        char *sql = sqlite3_mprintf("select * from \"%w\" order by 1, 2, 3, 4, 5", name);
        sqlite3_stmt *r = NULL;
        if (!sql || sqlite3_prepare_v2(db, sql, -1, &r, NULL) != SQLITE_OK) {
            /* tables of fewer than 5 columns */
            sqlite3_free(sql);
            sql = sqlite3_mprintf("select * from \"%w\" order by 1", name);
            if (!sql || sqlite3_prepare_v2(db, sql, -1, &r, NULL) != SQLITE_OK) __builtin_trap();
        }
        sqlite3_free(sql);
        while (sqlite3_step(r) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(r); i++) {
                int type = sqlite3_column_type(r, i);
                h = fnv(h, &type, sizeof type);
                const void *p = sqlite3_column_blob(r, i);
                int n = sqlite3_column_bytes(r, i);
                if (p && n > 0) h = fnv(h, p, (size_t)n);
            }
        }
        sqlite3_finalize(r);
    }
    sqlite3_finalize(t);
    return h;
}

/* The store answers for exactly the SQL set. */
static void check_store(evolu_client_db *db) {
    evolu_store s;
    if (evolu_client_db_store(db, &g_owner, &s)) __builtin_trap();
    uint64_t n = 0;
    if (s.size(s.ctx, &n)) __builtin_trap();
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(evolu_client_db_sqlite(db),
                           "select h1, h2 from evolu_timestamp where ownerId = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        __builtin_trap();
    sqlite3_bind_blob(st, 1, g_owner.id, 16, SQLITE_STATIC);
    uint64_t h1 = 0, h2 = 0, rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        h1 ^= (uint64_t)sqlite3_column_int64(st, 0);
        h2 ^= (uint64_t)sqlite3_column_int64(st, 1);
        rows++;
    }
    sqlite3_finalize(st);
    uint8_t want[12], got[12];
    for (int i = 0; i < 6; i++) {
        want[i] = (uint8_t)(h1 >> (40 - 8 * i));
        want[6 + i] = (uint8_t)(h2 >> (40 - 8 * i));
    }
    if (rows != n || s.fingerprint(s.ctx, 0, n, got) || memcmp(got, want, 12)) __builtin_trap();
}

/* --- building the batch ------------------------------------------------------------- */

typedef struct in {
    const uint8_t *p;
    size_t n;
} in;

static uint8_t take(in *x) {
    if (!x->n) return 0;
    x->n--;
    return *x->p++;
}

static const char *const k_tables[] = {"todo", "tag", "_local", "ghost"};
static const char *const k_cols[] = {"title", "n", "color", "extra", "note"};
static const char *const k_texts[] = {"", "a", "milk", "\xc5\xbe", "x\"y"};

/* A DbChange from the bytes, encrypted into out; its length or 0. */
static size_t structured(in *x, const evolu_timestamp *t, uint8_t *out) {
    evolu_dbchange c;
    memset(&c, 0, sizeof c);
    const char *table = k_tables[take(x) % 4];
    c.table = (const uint8_t *)table;
    c.table_len = strlen(table);
    memset(c.id, take(x) % 5, sizeof c.id);
    uint8_t flags = take(x);
    c.is_insert = flags & 1;
    c.is_delete = (int8_t)((flags >> 1) % 3) - 1;
    evolu_column cols[5];
    uint8_t bytes[4] = {0, 0xff, 7, 1};
    size_t n = (flags >> 3) % 6;
    for (size_t i = 0; i < n; i++) {
        cols[i].name = (const uint8_t *)k_cols[i];
        cols[i].name_len = strlen(k_cols[i]);
        uint8_t v = take(x);
        switch (v % 4) {
        case 0: cols[i].value = evolu_value_null(); break;
        case 1: cols[i].value = evolu_value_number((double)(int8_t)take(x) / 4.0); break;
        case 2: {
            const char *s = k_texts[(v >> 2) % 5];
            cols[i].value = evolu_value_text((const uint8_t *)s, strlen(s));
            break;
        }
        default: cols[i].value = evolu_value_bytes(bytes, (v >> 2) % 5); break;
        }
    }
    c.columns = cols;
    c.n_columns = n;
    uint8_t nonce[EVOLU_AEAD_NONCE_BYTES];
    g_port.random(g_port.ctx, nonce, sizeof nonce);
    evolu_writer w = evolu_writer_make(out, CHANGE_CAP);
    if (evolu_dbchange_encrypt(&w, &g_port, g_owner.encryption_key, &c, t, nonce)) return 0;
    return w.len;
}

/* version 1 || TimestampBytes || body, encrypted as an EncryptedDbChange. */
static size_t raw_plaintext(in *x, size_t len, const evolu_timestamp *t, uint8_t *out) {
    uint8_t plain[CHANGE_CAP];
    size_t m = 0;
    plain[m++] = 1;
    evolu_timestamp_to_bytes(t, plain + m);
    m += EVOLU_TIMESTAMP_BYTES;
    while (len-- && m < 256) plain[m++] = take(x);
    evolu_writer w = evolu_writer_make(out, CHANGE_CAP);
    uint8_t *nonce = out;
    g_port.random(g_port.ctx, nonce, EVOLU_AEAD_NONCE_BYTES);
    w.len = EVOLU_AEAD_NONCE_BYTES;
    evolu_put_varint(&w, m + EVOLU_AEAD_TAG_BYTES);
    if (w.err || w.len + m + EVOLU_AEAD_TAG_BYTES > CHANGE_CAP) return 0;
    if (g_port.aead_encrypt(g_port.ctx, out + w.len, plain, m, nonce, g_owner.encryption_key))
        return 0;
    return w.len + m + EVOLU_AEAD_TAG_BYTES;
}

/* The records as one protocol message in g_out; its length or 0. */
static size_t build(in *x, bool response) {
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, g_entries, MAX_RECORDS, g_ranges, 4, NULL, 0);
    evolu_header h;
    if (response) evolu_header_response(&h, g_owner.id, 0);
    else evolu_header_broadcast(&h, g_owner.id);
    if (evolu_msg_builder_begin(&b, &h, 0, 0)) return 0;
    evolu_timestamp t;
    memset(&t, 0, sizeof t);
    t.millis = (uint64_t)NOW - 100000;
    memset(t.node_id, 0xab, sizeof t.node_id);
    for (size_t k = 0; k < MAX_RECORDS && x->n >= 3; k++) {
        uint8_t kind = take(x), delta = take(x), len = take(x);
        if (!(kind & 4)) {
            t.millis += delta;
            t.counter = (uint16_t)((kind >> 3) & 3);
            t.node_id[7] = (uint8_t)(delta & 1);
        }
        evolu_timestamp tt = t;
        if (kind & 0x20) tt.millis = (uint64_t)NOW + 10 * 60 * 1000; /* beyond the drift limit */
        size_t n = (kind & 1) ? structured(x, &tt, g_changes[k])
                              : raw_plaintext(x, len, &tt, g_changes[k]);
        if (!n) break;
        if ((kind & 2) && n > EVOLU_AEAD_NONCE_BYTES + 2)
            g_changes[k][EVOLU_AEAD_NONCE_BYTES + 1 + len % (n - EVOLU_AEAD_NONCE_BYTES - 1)] ^=
                (uint8_t)(1u << (delta & 7));
        if (evolu_msg_builder_add_message(&b, &tt, g_changes[k], n)) break;
    }
    if (response && evolu_msg_builder_add_skip(&b, NULL)) return 0;
    evolu_writer w = evolu_writer_make(g_out, sizeof g_out);
    if (evolu_msg_builder_emit(&b, &w)) return 0;
    return w.len;
}

static void apply(evolu_client_db *db, const uint8_t *bytes, size_t len, bool twice) {
    sqlite3 *q = evolu_client_db_sqlite(db);
    uint64_t before = digest(q, true);
    evolu_timestamp c0, c1;
    evolu_client_db_clock(db, &c0);
    evolu_client_db_failure f;
    evolu_err e = evolu_client_db_apply_protocol(db, &g_owner, bytes, len, &f);
    evolu_client_db_clock(db, &c1);
    if (e != EVOLU_OK) {
        if (digest(q, true) != before || evolu_timestamp_cmp(&c0, &c1) != 0) __builtin_trap();
    } else if (twice) {
        uint64_t after = digest(q, false);
        if (evolu_client_db_apply_protocol(db, &g_owner, bytes, len, &f) != EVOLU_OK ||
            digest(q, false) != after)
            __builtin_trap();
    }
    check_store(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 8192) return 0;
    init();
    g_rand = 0x1234567;
    uint8_t ctl = data[0];
    evolu_client_db *db = NULL;
    if (evolu_client_db_open(":memory:", &g_port, &db)) __builtin_trap();
    if (ctl & 2) {
        const char *todo[] = {"title", "n"}, *local[] = {"note"};
        if (evolu_client_db_declare_table(db, "todo", todo, 2) ||
            evolu_client_db_declare_table(db, "_local", local, 1))
            __builtin_trap();
    }
    if (ctl & 1) {
        uint8_t *copy = malloc(size);
        if (!copy) __builtin_trap();
        memcpy(copy, data + 1, size - 1);
        /* version varint (1 byte when small), then the owner id */
        if (size - 1 >= 17) memcpy(copy + 1, g_owner.id, 16);
        apply(db, copy, size - 1, ctl & 8);
        free(copy);
    } else {
        in x = {data + 1, size - 1};
        size_t len = build(&x, ctl & 4);
        if (len) apply(db, g_out, len, ctl & 8);
    }
    evolu_client_db_close(db);
    return 0;
}
