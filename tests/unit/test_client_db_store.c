/* test_client_db_store.c - the client database's RBSR store
 * (evolu_client_db_store): after local mutations, received batches written
 * through the store and refused batches, every answer (size, fingerprints of
 * random ranges, lower bounds, walks, changes) equals an in-memory index
 * built from the SQL set (evolu_timestamp + evolu_message); a refused batch
 * changes nothing; a database without the index tables (made before the
 * index existed) is indexed on open; the index survives reopening. */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evolu/client_db.h"
#include "evolu/mem_index.h"
#include "evolu/store.h"
#include "vec.h"

#define NOW 1700000010000LL

static char g_dir[] = "/tmp/evolu-cdbstore-unit-XXXXXX";
static char g_path[300];
static evolu_owner g_owner;
static evolu_port g_port;
static int64_t g_now = NOW;

static int64_t now_ms(void *ctx) {
    (void)ctx;
    return g_now;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* The SQL set as an in-memory index (the reference). */
static evolu_mem_index *reference(evolu_client_db *db) {
    evolu_mem_index *m = NULL;
    if (evolu_mem_index_create(vec_port(), &m)) exit(2);
    sqlite3_stmt *st = NULL;
    sqlite3 *q = evolu_client_db_sqlite(db);
    CHECK(sqlite3_prepare_v2(q,
                             "select t.t, m.change from evolu_timestamp t join evolu_message m"
                             " on m.ownerId = t.ownerId and m.timestamp = t.t"
                             " where t.ownerId = ?1 order by t.t",
                             -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_blob(st, 1, g_owner.id, 16, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        evolu_timestamp t;
        CHECK(sqlite3_column_bytes(st, 0) == 16 &&
              evolu_timestamp_from_bytes(sqlite3_column_blob(st, 0), &t) == EVOLU_OK);
        CHECK(evolu_mem_index_insert(m, &t, sqlite3_column_blob(st, 1),
                                     (size_t)sqlite3_column_bytes(st, 1), NULL) == EVOLU_OK);
    }
    sqlite3_finalize(st);
    return m;
}

static int64_t count(evolu_client_db *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(evolu_client_db_sqlite(db), sql, -1, &st, NULL) != SQLITE_OK) return -1;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

typedef struct walk {
    evolu_store *ref;
    uint64_t next;
    bool ok;
} walk;

static bool visit(void *ctx, const uint8_t ts[16], uint64_t i) {
    walk *w = ctx;
    uint8_t want[16];
    if (i != w->next++ || evolu_store_timestamp_at(w->ref, i, want) || memcmp(want, ts, 16))
        w->ok = false;
    return w->ok;
}

/* Every store answer equals the reference's. */
static void compare(evolu_client_db *db, evolu_store *s) {
    evolu_mem_index *m = reference(db);
    evolu_store r;
    evolu_mem_index_store(m, &r);
    uint64_t n = 0, rn = evolu_mem_index_size(m);
    CHECK(s->size(s->ctx, &n) == EVOLU_OK && n == rn);
    CHECK(rn == (uint64_t)count(db, "select count(*) from evolu_timestamp"));
    uint8_t a[12], b[12];
    for (int k = 0; k < 200; k++) {
        uint64_t x = rnd() % (n + 1), y = rnd() % (n + 1);
        if (x > y) {
            uint64_t t = x;
            x = y;
            y = t;
        }
        CHECK(s->fingerprint(s->ctx, x, y, a) == EVOLU_OK &&
              r.fingerprint(r.ctx, x, y, b) == EVOLU_OK && !memcmp(a, b, 12));
        uint8_t bound[16];
        if (n && k % 2) evolu_store_timestamp_at(&r, rnd() % n, bound);
        else for (int i = 0; i < 16; i++) bound[i] = (uint8_t)rnd();
        if (k % 4 == 1) bound[15] ^= 1; /* between stored stamps */
        uint64_t l1 = 0, l2 = 1;
        CHECK(s->find_lower_bound(s->ctx, x, y, bound, &l1) == EVOLU_OK &&
              r.find_lower_bound(r.ctx, x, y, bound, &l2) == EVOLU_OK && l1 == l2);
    }
    CHECK(s->fingerprint(s->ctx, 0, n + 1, a) == EVOLU_E_ARG);
    walk w = {&r, 0, true};
    CHECK(s->iterate(s->ctx, 0, n, visit, &w) == EVOLU_OK && w.ok && w.next == n);
    for (uint64_t i = 0; i < n; i += 1 + n / 16) {
        uint8_t ts[16];
        const uint8_t *c1, *c2;
        size_t l1, l2;
        CHECK(evolu_store_timestamp_at(&r, i, ts) == EVOLU_OK);
        CHECK(s->read_change(s->ctx, ts, NULL, &c1, &l1) == EVOLU_OK &&
              r.read_change(r.ctx, ts, NULL, &c2, &l2) == EVOLU_OK && l1 == l2 &&
              !memcmp(c1, c2, l1));
    }
    evolu_mem_index_destroy(m);
}

static void declare(evolu_client_db *db) {
    const char *cols[] = {"title", "n"};
    CHECK(evolu_client_db_declare_table(db, "todo", cols, 2) == EVOLU_OK);
}

static void mutate(evolu_client_db *db, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char title[32];
        snprintf(title, sizeof title, "local %zu", i);
        evolu_column c[2] = {
            {(const uint8_t *)"title", 5, evolu_value_text((const uint8_t *)title, strlen(title))},
            {(const uint8_t *)"n", 1, evolu_value_number((double)i)}};
        evolu_mutation m;
        memset(&m, 0, sizeof m);
        m.kind = EVOLU_MUTATION_INSERT;
        m.table = "todo";
        m.columns = c;
        m.n_columns = 2;
        m.is_delete = -1;
        CHECK(evolu_client_db_mutate(db, &g_owner, &m, 1, NULL) == EVOLU_OK);
        g_now += (int64_t)(rnd() % 3);
    }
}

/* A batch of n received changes from another node (random stamps around now,
 * some repeated), written through the store. */
#define BATCH_MAX 200
static uint8_t g_bufs[BATCH_MAX][128];

static evolu_err receive(evolu_store *s, size_t n, const uint8_t *key) {
    evolu_timestamp ts[BATCH_MAX];
    const uint8_t *ch[BATCH_MAX];
    size_t len[BATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        if (i && rnd() % 8 == 0) {
            size_t j = rnd() % i;
            ts[i] = ts[j];
            ch[i] = ch[j];
            len[i] = len[j];
            continue;
        }
        memset(&ts[i], 0, sizeof ts[i]);
        ts[i].millis = (uint64_t)(g_now - 50000 + (int64_t)(rnd() % 60000));
        ts[i].counter = (uint16_t)(rnd() % 4);
        memset(ts[i].node_id, 0x40 + (int)(rnd() % 3), 8);
        uint8_t id[16];
        for (int k = 0; k < 16; k++) id[k] = (uint8_t)(rnd() % 4);
        evolu_column c = {(const uint8_t *)"title", 5, evolu_value_number((double)i)};
        evolu_dbchange d;
        memset(&d, 0, sizeof d);
        d.table = (const uint8_t *)"todo";
        d.table_len = 4;
        memcpy(d.id, id, 16);
        d.columns = &c;
        d.n_columns = 1;
        d.is_insert = rnd() % 2;
        d.is_delete = -1;
        uint8_t nonce[EVOLU_AEAD_NONCE_BYTES];
        for (size_t k = 0; k < sizeof nonce; k++) nonce[k] = (uint8_t)rnd();
        evolu_writer w = evolu_writer_make(g_bufs[i], sizeof g_bufs[i]);
        CHECK(evolu_dbchange_encrypt(&w, vec_port(), key, &d, &ts[i], nonce) == EVOLU_OK);
        ch[i] = g_bufs[i];
        len[i] = w.len;
    }
    evolu_store_array_batch a;
    evolu_store_batch b;
    evolu_store_batch_from_array(&b, &a, ts, ch, len, n);
    return s->write_messages(s->ctx, &b);
}

static void test_store(void) {
    evolu_client_db *db = NULL;
    CHECK(evolu_client_db_open(g_path, &g_port, &db) == EVOLU_OK);
    declare(db);
    evolu_store s;
    CHECK(evolu_client_db_store(db, &g_owner, &s) == EVOLU_OK);
    uint64_t n = 1;
    CHECK(s.size(s.ctx, &n) == EVOLU_OK && n == 0);
    compare(db, &s);
    for (int round = 0; round < 12; round++) {
        mutate(db, 1 + rnd() % 20);
        CHECK(receive(&s, 1 + rnd() % BATCH_MAX, g_owner.encryption_key) == EVOLU_OK);
    }
    compare(db, &s);
    /* a batch under a wrong key is refused and changes nothing */
    uint64_t before = 0, after = 0;
    uint8_t fb[12], fa[12];
    CHECK(s.size(s.ctx, &before) == EVOLU_OK && s.fingerprint(s.ctx, 0, before, fb) == EVOLU_OK);
    uint8_t wrong[32];
    memcpy(wrong, g_owner.encryption_key, 32);
    wrong[0] ^= 1;
    CHECK(receive(&s, 50, wrong) == EVOLU_E_DECRYPT);
    CHECK(s.size(s.ctx, &after) == EVOLU_OK && after == before &&
          s.fingerprint(s.ctx, 0, after, fa) == EVOLU_OK && !memcmp(fa, fb, 12));
    /* asking again gives the same store */
    evolu_store s2;
    CHECK(evolu_client_db_store(db, &g_owner, &s2) == EVOLU_OK && s2.ctx == s.ctx);
    CHECK(evolu_client_db_store(NULL, &g_owner, &s2) == EVOLU_E_ARG);
    evolu_client_db_close(db);

    /* reopened: the same answers */
    CHECK(evolu_client_db_open(g_path, &g_port, &db) == EVOLU_OK);
    CHECK(evolu_client_db_store(db, &g_owner, &s) == EVOLU_OK);
    CHECK(s.size(s.ctx, &after) == EVOLU_OK && after == before &&
          s.fingerprint(s.ctx, 0, after, fa) == EVOLU_OK && !memcmp(fa, fb, 12));
    compare(db, &s);
    evolu_client_db_close(db);
}

/* A file made before the index existed: drop the index tables, reopen. */
static void test_migrate(void) {
    sqlite3 *q = NULL;
    CHECK(sqlite3_open(g_path, &q) == SQLITE_OK);
    CHECK(sqlite3_exec(q, "drop table evolu_idx_owner; drop table evolu_idx_node", NULL, NULL,
                       NULL) == SQLITE_OK);
    sqlite3_close(q);
    evolu_client_db *db = NULL;
    CHECK(evolu_client_db_open(g_path, &g_port, &db) == EVOLU_OK);
    CHECK(count(db, "select count(*) from evolu_idx_owner") == 1);
    evolu_store s;
    CHECK(evolu_client_db_store(db, &g_owner, &s) == EVOLU_OK);
    compare(db, &s);
    /* and it keeps working after the migration */
    mutate(db, 5);
    CHECK(receive(&s, 100, g_owner.encryption_key) == EVOLU_OK);
    compare(db, &s);
    evolu_client_db_close(db);
}

int main(void) {
    g_port = *vec_port();
    g_port.now_ms = now_ms;
    uint8_t secret[EVOLU_OWNER_SECRET_BYTES] = {7};
    evolu_owner_from_secret(vec_port(), secret, sizeof secret, &g_owner);
    if (!mkdtemp(g_dir)) return 2;
    snprintf(g_path, sizeof g_path, "%s/store.sqlite", g_dir);
    test_store();
    test_migrate();
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int k = 0; k < 3; k++) {
        char p[320];
        snprintf(p, sizeof p, "%s%s", g_path, suffix[k]);
        unlink(p);
    }
    rmdir(g_dir);
    return vec_finish();
}
