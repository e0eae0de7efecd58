/* test_client_session.c - the client session (evolu/client_session.h) and the
 * owner kept in the database (evolu/client_owner.h), against an in-process
 * relay (evolu_relay_handle over an in-memory index) with no network:
 * two clients of one owner converge through it; a mutation made offline goes
 * out on the next sync; a mutation made while connected is pushed and reaches
 * the other subscribed client as a Broadcast; bulk data needs continuation
 * rounds; a wrong write key stops the session with EVOLU_E_WRITE_KEY and keeps
 * the local data; a batch that cannot be decrypted stops it with
 * EVOLU_E_DECRYPT and applies nothing; a read-only owner reads without a
 * write key; plus the JSON helpers (evolu/client_json.h). */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evolu/client_json.h"
#include "evolu/client_owner.h"
#include "evolu/client_session.h"
#include "evolu/mem_index.h"
#include "evolu/protocol.h"
#include "evolu/rbsr.h"
#include "vec.h"

#define MAXC 4
#define BUF_CAP (1u << 20)
#define MSGS_CAP 20000

static char g_dir[] = "/tmp/evolu-session-unit-XXXXXX";
static evolu_msg_entry g_bmsgs[MSGS_CAP];
static evolu_msg_entry g_rmsgs[MSGS_CAP];
static evolu_range_entry g_rranges[16384];
static uint8_t g_rarena[16384 * EVOLU_RBSR_ARENA_PER_RANGE];
static uint8_t *g_reply;

typedef struct client {
    evolu_client_db *db;
    evolu_session *s;
    evolu_owner owner;
    char path[300];
    bool subscribed;
    uint8_t *bq[8]; /* queued Broadcasts */
    size_t bqn[8], nbq;
} client;

typedef struct relay {
    evolu_mem_index *idx;
    evolu_store store;
    uint8_t key[16];
    bool has_key;
    evolu_relay_config rc;
    client *clients[MAXC];
    int sender;
    unsigned requests;
} relay;

static relay g_relay;

static evolu_err rl_open(void *ctx, const uint8_t o[16], evolu_store *out) {
    (void)o;
    relay *r = ctx;
    *out = r->store;
    return EVOLU_OK;
}
static evolu_err rl_get(void *ctx, const uint8_t o[16], uint8_t key[16], bool *found) {
    (void)o;
    relay *r = ctx;
    *found = r->has_key;
    if (r->has_key) memcpy(key, r->key, 16);
    return EVOLU_OK;
}
static evolu_err rl_set(void *ctx, const uint8_t o[16], const uint8_t key[16]) {
    (void)o;
    relay *r = ctx;
    memcpy(r->key, key, 16);
    r->has_key = true;
    return EVOLU_OK;
}
static void rl_sub(void *ctx, const uint8_t o[16]) {
    (void)o;
    relay *r = ctx;
    if (r->sender >= 0) r->clients[r->sender]->subscribed = true;
}
static void rl_unsub(void *ctx, const uint8_t o[16]) {
    (void)o;
    relay *r = ctx;
    if (r->sender >= 0) r->clients[r->sender]->subscribed = false;
}
static void rl_broadcast(void *ctx, const evolu_msg_reader *req) {
    relay *r = ctx;
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, g_bmsgs, MSGS_CAP, NULL, 0, NULL, 0);
    if (evolu_msg_build_broadcast(&b, req, 0)) return;
    evolu_writer w = evolu_writer_make(NULL, 0);
    evolu_msg_builder_emit(&b, &w);
    for (int i = 0; i < MAXC; i++) {
        client *c = r->clients[i];
        if (!c || i == r->sender || !c->subscribed || c->nbq == 8) continue;
        uint8_t *p = malloc(w.len);
        evolu_writer o = evolu_writer_make(p, w.len);
        evolu_msg_builder_emit(&b, &o);
        c->bq[c->nbq] = p;
        c->bqn[c->nbq++] = w.len;
    }
}

/* Sends one frame of client i to the relay; the reply in g_reply. */
static size_t relay_handle(int i, const uint8_t *f, size_t n) {
    g_relay.sender = i;
    g_relay.requests++;
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, g_rmsgs, MSGS_CAP, g_rranges, 16384, g_rarena, sizeof g_rarena);
    evolu_writer w = evolu_writer_make(g_reply, BUF_CAP);
    evolu_err e = evolu_relay_handle(&g_relay.rc, f, n, &b, &w, NULL);
    g_relay.sender = -1;
    CHECK(e == EVOLU_OK);
    return e ? 0 : w.len;
}

/* Runs the exchange that starts with frame f until the session sends
 * nothing; returns the first error and counts the round trips. */
static evolu_err exchange(int i, const uint8_t *f, size_t n, unsigned *rounds) {
    client *c = g_relay.clients[i];
    uint8_t *copy = malloc(BUF_CAP);
    evolu_err e = EVOLU_OK;
    unsigned k = 0;
    while (n && !e) {
        memcpy(copy, f, n);
        size_t rn = relay_handle(i, copy, n);
        if (!rn) break;
        evolu_session_result res;
        e = evolu_session_receive(c->s, g_reply, rn, &res, &f, &n);
        if (!e) CHECK(res.send == (n > 0));
        k++;
    }
    free(copy);
    if (rounds) *rounds = k;
    return e;
}

static evolu_err sync_client(int i, unsigned *rounds) {
    client *c = g_relay.clients[i];
    const uint8_t *f;
    size_t n;
    evolu_err e = evolu_session_connected(c->s, true, &f, &n);
    if (e) return e;
    CHECK(evolu_session_in_flight(c->s) == 1);
    e = exchange(i, f, n, rounds);
    if (!e) CHECK(evolu_session_is_converged(c->s));
    return e;
}

/* Delivers queued Broadcasts. */
static evolu_err deliver_broadcasts(client *c, unsigned *applied) {
    evolu_err first = EVOLU_OK;
    for (size_t k = 0; k < c->nbq; k++) {
        evolu_session_result res;
        const uint8_t *f;
        size_t n;
        evolu_err e = evolu_session_receive(c->s, c->bq[k], c->bqn[k], &res, &f, &n);
        if (!e) {
            CHECK(res.broadcast && !res.send);
            if (applied) (*applied)++;
        } else if (!first) {
            first = e;
        }
        free(c->bq[k]);
    }
    c->nbq = 0;
    return first;
}

static void open_client(int i, client *c, const uint8_t *secret, const evolu_owner *ro) {
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s/c%d.sqlite", g_dir, i);
    CHECK(evolu_client_db_open(c->path, vec_port(), &c->db) == EVOLU_OK);
    if (secret)
        CHECK(evolu_client_owner_set_secret(c->db, vec_port(), secret, 32, &c->owner) ==
              EVOLU_OK);
    else
        CHECK(evolu_client_owner_set_read_only(c->db, vec_port(), ro) == EVOLU_OK);
    bool found = false, read_only = false;
    CHECK(evolu_client_owner_load(c->db, vec_port(), &c->owner, &found, &read_only) ==
          EVOLU_OK);
    CHECK(found && read_only == (secret == NULL));
    const char *cols[] = {"title", "n"};
    CHECK(evolu_client_db_declare_table(c->db, "todo", cols, 2) == EVOLU_OK);
    CHECK(evolu_session_create(c->db, vec_port(), &c->owner, read_only, &c->s) == EVOLU_OK);
    g_relay.clients[i] = c;
}

static void close_client(client *c) {
    for (size_t k = 0; k < c->nbq; k++) free(c->bq[k]);
    evolu_session_destroy(c->s);
    evolu_client_db_close(c->db);
    char p[320];
    unlink(c->path);
    snprintf(p, sizeof p, "%s-wal", c->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", c->path);
    unlink(p);
}

/* Inserts a row (and pushes it when connected: the frame goes to the relay). */
static void insert(int i, const char *title, double n, bool deliver_push) {
    client *c = g_relay.clients[i];
    evolu_column cols[2] = {
        {(const uint8_t *)"title", 5, evolu_value_text((const uint8_t *)title, strlen(title))},
        {(const uint8_t *)"n", 1, evolu_value_number(n)},
    };
    evolu_mutation m = {EVOLU_MUTATION_INSERT, "todo", false, {0}, cols, 2, -1};
    evolu_timestamp before;
    evolu_client_db_clock(c->db, &before);
    CHECK(evolu_client_db_mutate(c->db, &c->owner, &m, 1, NULL) == EVOLU_OK);
    const uint8_t *f = NULL;
    size_t len = 0;
    CHECK(evolu_session_push(c->s, &before, &f, &len) == EVOLU_OK);
    CHECK((len > 0) == evolu_session_is_connected(c->s));
    if (len && deliver_push) CHECK(exchange(i, f, len, NULL) == EVOLU_OK);
}

static char *dump(client *c) {
    evolu_sbuf b = {0};
    sqlite3_stmt *st;
    sqlite3_prepare_v2(evolu_client_db_sqlite(c->db),
                       "select id, title, n, createdAt from todo order by id", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int k = 0; k < 4; k++) evolu_sbuf_json_value(&b, sqlite3_column_value(st, k));
        evolu_sbuf_puts(&b, "\n");
    }
    sqlite3_finalize(st);
    evolu_sbuf_puts(&b, "");
    return b.p;
}

static int count_rows(client *c) {
    sqlite3_stmt *st;
    int n = -1;
    sqlite3_prepare_v2(evolu_client_db_sqlite(c->db), "select count(*) from todo", -1, &st,
                       NULL);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static bool same(client *a, client *b) {
    char *x = dump(a), *y = dump(b);
    bool ok = x && y && !strcmp(x, y);
    free(x);
    free(y);
    return ok;
}

static void test_owner_storage(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/owner.sqlite", g_dir);
    evolu_client_db *db;
    CHECK(evolu_client_db_open(path, vec_port(), &db) == EVOLU_OK);
    evolu_owner o, o2;
    bool found = true;
    CHECK(evolu_client_owner_load(db, vec_port(), &o, &found, NULL) == EVOLU_OK && !found);
    uint8_t buf[300];
    evolu_writer w = evolu_writer_make(buf, sizeof buf);
    CHECK(evolu_client_owner_mnemonic(db, vec_port(), &w) == EVOLU_E_STATE);
    const char *m = "abandon abandon abandon abandon abandon abandon abandon abandon abandon"
                    " abandon abandon abandon abandon abandon abandon abandon abandon abandon"
                    " abandon abandon abandon abandon abandon art";
    CHECK(evolu_client_owner_set_mnemonic(db, vec_port(), m, strlen(m), &o) == EVOLU_OK);
    CHECK(evolu_client_owner_set_mnemonic(db, vec_port(), m, strlen(m), NULL) == EVOLU_OK);
    uint8_t other[32];
    memset(other, 7, sizeof other);
    CHECK(evolu_client_owner_set_secret(db, vec_port(), other, 32, NULL) == EVOLU_E_STATE);
    CHECK(evolu_client_owner_set_secret(db, vec_port(), other, 15, NULL) == EVOLU_E_ARG);
    CHECK(evolu_client_owner_set_mnemonic(db, vec_port(), "abandon", 7, NULL) ==
          EVOLU_E_MNEMONIC_LENGTH);
    evolu_client_db_close(db);
    /* persists across reopen; the mnemonic comes back */
    CHECK(evolu_client_db_open(path, vec_port(), &db) == EVOLU_OK);
    bool ro = true;
    CHECK(evolu_client_owner_load(db, vec_port(), &o2, &found, &ro) == EVOLU_OK && found && !ro);
    CHECK(!memcmp(&o, &o2, sizeof o));
    uint8_t zero[32] = {0};
    evolu_owner z;
    CHECK(evolu_owner_from_secret(vec_port(), zero, 32, &z) == EVOLU_OK);
    CHECK(!memcmp(&z, &o2, sizeof z));
    w = evolu_writer_make(buf, sizeof buf);
    CHECK(evolu_client_owner_mnemonic(db, vec_port(), &w) == EVOLU_OK && w.len == strlen(m) &&
          !memcmp(buf, m, w.len));
    evolu_client_db_close(db);
}

static void test_json(void) {
    evolu_json_columns c;
    const char *why;
    CHECK(evolu_json_columns_parse(
              " { \"a\" : \"x\\u00e9\\ud83d\\ude00\", \"b\":-1.5e3,\"c\":null,\"d\":true,"
              "\"e\":false,\"f\":{\"$bytes\":\"0aFF\"} } ",
              &c, &why) == EVOLU_OK);
    CHECK(c.n == 6);
    if (c.n == 6) {
        CHECK(c.columns[0].value.kind == EVOLU_VALUE_TEXT && c.columns[0].value.len == 7 &&
              !memcmp(c.columns[0].value.data, "x\xc3\xa9\xf0\x9f\x98\x80", 7));
        CHECK(c.columns[1].value.kind == EVOLU_VALUE_NUMBER && c.columns[1].value.number == -1500);
        CHECK(c.columns[2].value.kind == EVOLU_VALUE_NULL);
        CHECK(c.columns[3].value.number == 1 && c.columns[4].value.number == 0);
        CHECK(c.columns[5].value.kind == EVOLU_VALUE_BYTES && c.columns[5].value.len == 2 &&
              c.columns[5].value.data[0] == 10 && c.columns[5].value.data[1] == 255);
    }
    evolu_json_columns_free(&c);
    CHECK(evolu_json_columns_parse("{}", &c, &why) == EVOLU_OK && c.n == 0);
    evolu_json_columns_free(&c);
    const char *bad[] = {"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}x",
                         "{\"a\":[1]}", "{\"a\":{}}", "{\"a\":{\"$bytes\":\"0\"}}",
                         "{\"a\":{\"$bytes\":\"zz\"}}", "{\"a\":1,\"a\":2}", "{\"a\":1e999}",
                         "{\"a\":\"\\ud800\"}", "{\"a\":\"\x01\"}", "{\"a\":01}", "{a:1}",
                         "{\"a\":tru}", "{\"a\":\"x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        bool refused = evolu_json_columns_parse(bad[i], &c, &why) == EVOLU_E_JSON;
        vec_check(refused && why, "refuses %s", bad[i]);
    }
}

int main(void) {
    if (!mkdtemp(g_dir)) return 2;
    g_reply = malloc(BUF_CAP);
    test_owner_storage();
    test_json();

    CHECK(evolu_mem_index_create(vec_port(), &g_relay.idx) == EVOLU_OK);
    evolu_mem_index_store(g_relay.idx, &g_relay.store);
    g_relay.sender = -1;
    g_relay.rc.port = vec_port();
    g_relay.rc.ctx = &g_relay;
    g_relay.rc.open_store = rl_open;
    g_relay.rc.get_write_key = rl_get;
    g_relay.rc.set_write_key = rl_set;
    g_relay.rc.subscribe = rl_sub;
    g_relay.rc.unsubscribe = rl_unsub;
    g_relay.rc.broadcast = rl_broadcast;

    uint8_t secret[32];
    for (int i = 0; i < 32; i++) secret[i] = (uint8_t)(i * 7 + 1);
    static client a, b, bad, ro;
    open_client(0, &a, secret, NULL);
    open_client(1, &b, secret, NULL);

    /* offline mutations: stored, nothing to send */
    insert(0, "one", 1, true);
    insert(0, "two", 2.5, true);
    CHECK(evolu_mem_index_size(g_relay.idx) == 0);
    unsigned rounds = 0;
    CHECK(sync_client(0, &rounds) == EVOLU_OK);
    CHECK(evolu_mem_index_size(g_relay.idx) == 2); /* one message per mutation */
    CHECK(sync_client(1, &rounds) == EVOLU_OK);
    CHECK(count_rows(&b) == 2 && same(&a, &b));
    CHECK(a.subscribed && b.subscribed);

    /* connected mutation: pushed; the relay broadcasts to B */
    insert(0, "live", -3, true);
    CHECK(b.nbq == 1 && a.nbq == 0);
    unsigned applied = 0;
    CHECK(deliver_broadcasts(&b, &applied) == EVOLU_OK && applied == 1);
    CHECK(count_rows(&b) == 3 && same(&a, &b));
    CHECK(evolu_session_is_converged(a.s) && evolu_session_is_converged(b.s));

    /* bulk from B: pushes of many messages, then a sync that needs several rounds */
    evolu_session_disconnected(b.s);
    CHECK(!evolu_session_is_connected(b.s) && !evolu_session_is_converged(b.s));
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 400; i++) insert(1, big, i, true);
    CHECK(sync_client(1, &rounds) == EVOLU_OK);
    CHECK(sync_client(0, &rounds) == EVOLU_OK);
    vec_check(rounds >= 2, "bulk sync needs continuation rounds (%u)", rounds);
    CHECK(count_rows(&a) == 403 && same(&a, &b));
    /* a push larger than one message carries a fingerprint and the exchange
     * it starts delivers the rest (the 200 single pushes are "lost") */
    for (int i = 0; i < 200; i++) insert(1, big, i, false);
    CHECK(evolu_session_in_flight(b.s) == 200);
    {
        evolu_timestamp zero;
        memset(&zero, 0, sizeof zero);
        const uint8_t *f;
        size_t n;
        CHECK(evolu_session_push(b.s, &zero, &f, &n) == EVOLU_OK && n > 0 &&
              n <= EVOLU_PROTOCOL_MAX_SIZE);
        evolu_msg_reader rd;
        CHECK(evolu_msg_reader_open(&rd, f, n) == EVOLU_OK && rd.header.has_write_key &&
              rd.n_ranges == 1 && rd.n_messages > 0 && rd.n_messages < 600);
        CHECK(exchange(1, f, n, &rounds) == EVOLU_OK);
        CHECK(evolu_session_in_flight(b.s) == 200);
        evolu_session_disconnected(b.s);
    }
    for (size_t k = 0; k < a.nbq; k++) free(a.bq[k]);
    a.nbq = 0;
    CHECK(sync_client(0, &rounds) == EVOLU_OK);
    CHECK(count_rows(&a) == 603 && same(&a, &b));

    /* unsubscribe: no more Broadcasts for A */
    {
        const uint8_t *f;
        size_t n;
        CHECK(evolu_session_unsubscribe(a.s, &f, &n) == EVOLU_OK);
        relay_handle(0, f, n);
        CHECK(!a.subscribed);
        CHECK(sync_client(1, NULL) == EVOLU_OK && b.subscribed);
        insert(1, "after unsubscribe", 0, true);
        CHECK(a.nbq == 0);
    }

    /* a wrong write key: typed error, local data kept */
    {
        uint8_t other[32];
        memset(other, 9, sizeof other);
        open_client(2, &bad, other, NULL);
        memcpy(bad.owner.id, a.owner.id, 16);
        evolu_session_destroy(bad.s);
        CHECK(evolu_session_create(bad.db, vec_port(), &bad.owner, false, &bad.s) == EVOLU_OK);
        const uint8_t *f;
        size_t n;
        CHECK(evolu_session_connected(bad.s, false, &f, &n) == EVOLU_OK);
        insert(2, "mine", 1, false);
        evolu_timestamp zero;
        memset(&zero, 0, sizeof zero);
        CHECK(evolu_session_push(bad.s, &zero, &f, &n) == EVOLU_OK && n);
        CHECK(exchange(2, f, n, NULL) == EVOLU_E_WRITE_KEY);
        CHECK(evolu_session_error(bad.s, NULL) == EVOLU_E_WRITE_KEY);
        CHECK(!evolu_session_is_converged(bad.s));
        CHECK(count_rows(&bad) == 1);
        /* and the relay never took it */
        CHECK(sync_client(0, NULL) == EVOLU_OK && count_rows(&a) == 604);
        close_client(&bad);
    }

    /* a batch that cannot be decrypted: stop, nothing applied */
    {
        uint8_t other[32];
        memset(other, 11, sizeof other);
        open_client(2, &bad, other, NULL);
        memcpy(bad.owner.id, a.owner.id, 16);
        memcpy(bad.owner.write_key, a.owner.write_key, 16);
        evolu_session_destroy(bad.s);
        CHECK(evolu_session_create(bad.db, vec_port(), &bad.owner, false, &bad.s) == EVOLU_OK);
        CHECK(sync_client(2, NULL) == EVOLU_E_DECRYPT);
        CHECK(evolu_session_error(bad.s, NULL) == EVOLU_E_DECRYPT);
        CHECK(count_rows(&bad) == 0);
        evolu_session_result res;
        const uint8_t *f;
        size_t n;
        uint8_t junk[4] = {1, 2, 3, 4};
        CHECK(evolu_session_receive(bad.s, junk, 4, &res, &f, &n) == EVOLU_E_DECRYPT);
        close_client(&bad);
    }

    /* a read-only owner: no write key, reads what the first answer holds */
    {
        evolu_owner o = a.owner;
        memset(o.write_key, 0, 16);
        open_client(3, &ro, NULL, &o);
        const uint8_t *f;
        size_t n;
        CHECK(evolu_session_connected(ro.s, true, &f, &n) == EVOLU_OK);
        evolu_msg_reader rd;
        CHECK(evolu_msg_reader_open(&rd, f, n) == EVOLU_OK && !rd.header.has_write_key);
        size_t rn = relay_handle(3, f, n);
        evolu_session_result res;
        CHECK(evolu_session_receive(ro.s, g_reply, rn, &res, &f, &n) == EVOLU_OK);
        CHECK(res.outcome.status == EVOLU_CLIENT_READONLY && !res.send);
        CHECK(count_rows(&ro) > 0);
        evolu_timestamp zero;
        memset(&zero, 0, sizeof zero);
        CHECK(evolu_session_push(ro.s, &zero, &f, &n) == EVOLU_OK && n == 0);
        close_client(&ro);
    }

    /* garbage from a relay stops the session with a decoding error */
    {
        evolu_session_result res;
        const uint8_t *f;
        size_t n;
        CHECK(evolu_session_connected(b.s, false, &f, &n) == EVOLU_OK);
        uint8_t junk[3] = {1, 0, 0};
        CHECK(evolu_session_receive(b.s, junk, 3, &res, &f, &n) != EVOLU_OK);
        CHECK(evolu_session_error(b.s, NULL) != EVOLU_OK);
        evolu_session_disconnected(b.s);
        CHECK(sync_client(1, NULL) == EVOLU_OK); /* a new connection starts afresh */
    }

    close_client(&a);
    close_client(&b);
    evolu_mem_index_destroy(g_relay.idx);
    free(g_reply);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", g_dir);
    return vec_finish();
}
