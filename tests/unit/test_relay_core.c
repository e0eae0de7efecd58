/* test_relay_core.c - the relay without I/O (evolu/relay.h): held replies
 * until the group commit, Broadcast decisions (other subscribers only, none
 * to a connection that closed before the commit), immediate sends without
 * group commit, the upgrade check's parse of ?ownerId= (spec 7.1), and the
 * counters. */
#include "relay_test_util.h"

#include <sqlite3.h>
#include <unistd.h>

typedef struct sent {
    evolu_relay_conn *to[64];
    uint8_t type[64];
    size_t len[64];
    size_t n;
} sent;

static void rec_send(void *ctx, evolu_relay_conn *to, evolu_relay_buf *buf) {
    sent *s = ctx;
    if (s->n < 64) {
        s->to[s->n] = to;
        s->type[s->n] = buf->len > 17 ? buf->data[17] : 255;
        s->len[s->n] = buf->len;
        s->n++;
    }
    evolu_relay_buf_unref(buf);
}

static evolu_relay *open_relay(const char *db, sent *s, bool group,
                               const uint8_t (*allow)[16], size_t n_allow) {
    evolu_relay_options o;
    evolu_relay_options_default(&o);
    o.port = evolu_port_sodium();
    o.db_path = db;
    o.send = rec_send;
    o.send_ctx = s;
    o.headroom = 16;
    o.group_commit = group;
    o.synchronous_full = false;
    o.allow = allow;
    o.n_allow = n_allow;
    o.log = t_log;
    o.log_level = EVOLU_LOG_INFO;
    evolu_relay *r = NULL;
    CHECK(evolu_relay_open(&o, &r) == EVOLU_OK);
    return r;
}

static void test_group_commit(const char *db) {
    sent s;
    memset(&s, 0, sizeof s);
    evolu_relay *r = open_relay(db, &s, true, NULL, 0);
    if (!r) return;
    evolu_owner o;
    t_owner(&o);
    evolu_relay_conn *a = evolu_relay_conn_open(r, NULL), *b = evolu_relay_conn_open(r, NULL),
                     *c = evolu_relay_conn_open(r, NULL);
    size_t len = t_raw_request(o.id, NULL, EVOLU_SUBSCRIPTION_SUBSCRIBE, 0, 0, 0, 1);
    evolu_relay_result res;
    CHECK(evolu_relay_on_message(r, a, t_out, len, &res) == EVOLU_OK && res.replied);
    CHECK(evolu_relay_on_message(r, b, t_out, len, &res) == EVOLU_OK);
    CHECK(evolu_relay_on_message(r, c, t_out, len, &res) == EVOLU_OK);
    CHECK(evolu_relay_conn_subscriptions(a) == 1);
    CHECK(s.n == 0 && evolu_relay_pending(r) == 3); /* held until the commit */
    CHECK(evolu_relay_flush(r) == EVOLU_OK);
    CHECK(s.n == 3 && s.to[0] == a && s.to[1] == b && s.to[2] == c);
    CHECK(s.type[0] == EVOLU_MESSAGE_RESPONSE);

    /* A push from a: a gets the Response, b and c the Broadcast, after the
     * commit; c closes before it, so only b gets it. */
    s.n = 0;
    len = t_raw_request(o.id, o.write_key, 0, 5, 1700000000000ull, 100, 1);
    CHECK(evolu_relay_on_message(r, a, t_out, len, &res) == EVOLU_OK);
    CHECK(res.error_code == 0 && res.broadcasts == 2);
    CHECK(s.n == 0);
    evolu_relay_conn_close(r, c);
    CHECK(evolu_relay_pending(r) == 2);
    CHECK(evolu_relay_flush(r) == EVOLU_OK);
    CHECK(s.n == 2);
    bool got_a = false, got_b = false;
    for (size_t i = 0; i < s.n; i++) {
        if (s.to[i] == a && s.type[i] == EVOLU_MESSAGE_RESPONSE) got_a = true;
        if (s.to[i] == b && s.type[i] == EVOLU_MESSAGE_BROADCAST) got_b = true;
    }
    CHECK(got_a && got_b);
    /* Nothing held: flush is a no-op. */
    s.n = 0;
    CHECK(evolu_relay_flush(r) == EVOLU_OK && s.n == 0);
    evolu_relay_stats st;
    CHECK(evolu_relay_get_stats(r, &st) == EVOLU_OK);
    CHECK(st.connections == 2 && st.connections_total == 3 && st.subscriptions == 2);
    CHECK(st.owners == 1 && st.messages_stored == 5 && st.bytes_stored == 500);
    CHECK(st.requests == 4 && st.replies == 4 && st.broadcasts == 2 && st.commits == 2);
    CHECK(st.messages_written == 5);
    bool found = false;
    CHECK(evolu_relay_owner_has_write_key(r, o.id, &found) == EVOLU_OK && found);
    char line[1024];
    evolu_relay_stats_format(&st, line, sizeof line);
    CHECK(strstr(line, "messages_stored=5 ") != NULL);
    evolu_relay_close(r); /* closes a and b */
}

static void test_no_group_commit(const char *db) {
    sent s;
    memset(&s, 0, sizeof s);
    evolu_relay *r = open_relay(db, &s, false, NULL, 0);
    if (!r) return;
    evolu_owner o;
    t_owner(&o);
    evolu_relay_conn *a = evolu_relay_conn_open(r, NULL);
    size_t len = t_raw_request(o.id, o.write_key, 0, 2, 1700000000000ull, 10, 1);
    CHECK(evolu_relay_on_message(r, a, t_out, len, NULL) == EVOLU_OK);
    CHECK(s.n == 1 && evolu_relay_pending(r) == 0);
    /* Malformed: no reply, the reason is returned. */
    static const uint8_t junk[3] = {1, 2, 3};
    evolu_relay_result res;
    CHECK(evolu_relay_on_message(r, a, junk, sizeof junk, &res) != EVOLU_OK && !res.replied);
    CHECK(s.n == 1);
    evolu_relay_conn_close(r, a);
    evolu_relay_close(r);
}

static void test_upgrade_check(const char *db) {
    sent s;
    memset(&s, 0, sizeof s);
    evolu_owner a, b;
    t_owner(&a);
    t_owner(&b);
    evolu_relay *open = open_relay(db, &s, true, NULL, 0);
    if (!open) return;
    CHECK(!evolu_relay_has_allow_list(open));
    CHECK(evolu_relay_check_upgrade(open, NULL) == 0); /* URL not looked at */
    CHECK(evolu_relay_check_upgrade(open, "garbage") == 0);
    evolu_relay_close(open);

    evolu_relay *r = open_relay(db, &s, true, (const uint8_t(*)[16])a.id, 1);
    if (!r) return;
    char ida[23], idb[23], q[128];
    evolu_id_to_string(a.id, ida);
    evolu_id_to_string(b.id, idb);
    ida[22] = idb[22] = 0;
    CHECK(evolu_relay_has_allow_list(r));
    CHECK(evolu_relay_owner_allowed(r, a.id) && !evolu_relay_owner_allowed(r, b.id));
    CHECK(evolu_relay_check_upgrade(r, NULL) == 400);
    CHECK(evolu_relay_check_upgrade(r, "") == 400);
    CHECK(evolu_relay_check_upgrade(r, "ownerId=") == 400);
    CHECK(evolu_relay_check_upgrade(r, "ownerId=abc") == 400);
    snprintf(q, sizeof q, "ownerId=%s", ida);
    CHECK(evolu_relay_check_upgrade(r, q) == 0);
    snprintf(q, sizeof q, "ownerId=%s", idb);
    CHECK(evolu_relay_check_upgrade(r, q) == 401);
    snprintf(q, sizeof q, "other=%s", ida); /* url.split("=")[1]: the name is not read */
    CHECK(evolu_relay_check_upgrade(r, q) == 0);
    snprintf(q, sizeof q, "ownerId=%s&x=1", ida); /* "<id>&x" is not an OwnerId */
    CHECK(evolu_relay_check_upgrade(r, q) == 400);
    snprintf(q, sizeof q, "ownerId=%sA", ida); /* 23 characters */
    CHECK(evolu_relay_check_upgrade(r, q) == 400);
    evolu_relay_close(r);
}

/* Damaged index rows: a sync gets errorCode 4 and a write errorCode 2, and
 * both are answered (spec 6.6); other owners keep working. */
static void test_storage_failure(const char *db) {
    sent s;
    memset(&s, 0, sizeof s);
    evolu_relay *r = open_relay(db, &s, true, NULL, 0);
    if (!r) return;
    evolu_owner o, other;
    t_owner(&o);
    t_owner(&other);
    evolu_relay_conn *a = evolu_relay_conn_open(r, NULL);
    size_t len = t_raw_request(o.id, o.write_key, 0, 200, 1700000000000ull, 50, 1);
    CHECK(evolu_relay_on_message(r, a, t_out, len, NULL) == EVOLU_OK);
    len = t_raw_request(other.id, other.write_key, 0, 3, 1700000000000ull, 50, 1);
    CHECK(evolu_relay_on_message(r, a, t_out, len, NULL) == EVOLU_OK);
    evolu_relay_flush(r);
    evolu_relay_close(r);

    /* Damage o's tree nodes behind the relay's back. */
    sqlite3 *h;
    CHECK(sqlite3_open(db, &h) == SQLITE_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE evolu_idx_node SET data = x'0102' WHERE id IN (SELECT root FROM "
             "evolu_idx_owner WHERE size = 200)");
    CHECK(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK && sqlite3_changes(h) == 1);
    sqlite3_close(h);

    memset(&s, 0, sizeof s);
    r = open_relay(db, &s, true, NULL, 0);
    if (!r) return;
    a = evolu_relay_conn_open(r, NULL);
    /* A sync from a client with 40 other items: fingerprints over the damaged tree. */
    evolu_mem_index *mi;
    evolu_mem_index_create(evolu_port_sodium(), &mi);
    for (int i = 0; i < 40; i++) {
        evolu_timestamp t;
        memset(&t, 0, sizeof t);
        t.millis = 1600000000000ull + (uint64_t)i;
        static const uint8_t ch[8] = {1};
        evolu_mem_index_insert(mi, &t, ch, sizeof ch, NULL);
    }
    evolu_store st;
    evolu_mem_index_store(mi, &st);
    evolu_rbsr rb;
    evolu_rbsr_init(&rb, &st, false, NULL, 0);
    evolu_msg_builder b;
    t_builder(&b);
    CHECK(evolu_rbsr_sync_request(&rb, &b, o.id, 0) == EVOLU_OK);
    evolu_writer w = evolu_writer_make(t_out, T_OUT);
    CHECK(evolu_msg_builder_emit(&b, &w) == EVOLU_OK);
    evolu_relay_result res;
    CHECK(evolu_relay_on_message(r, a, t_out, w.len, &res) == EVOLU_OK);
    CHECK(res.replied && res.error_code == EVOLU_ERROR_CODE_SYNC);
    evolu_mem_index_destroy(mi);
    /* A write into the damaged tree: errorCode 2. */
    len = t_raw_request(o.id, o.write_key, 0, 2, 1800000000000ull, 50, 1);
    CHECK(evolu_relay_on_message(r, a, t_out, len, &res) == EVOLU_OK);
    CHECK(res.replied && res.error_code == EVOLU_ERROR_CODE_WRITE);
    /* The other owner is fine. */
    len = t_raw_request(other.id, other.write_key, 0, 2, 1800000000000ull, 50, 1);
    CHECK(evolu_relay_on_message(r, a, t_out, len, &res) == EVOLU_OK && res.error_code == 0);
    CHECK(evolu_relay_flush(r) == EVOLU_OK && s.n == 3);
    evolu_relay_stats stt;
    evolu_relay_get_stats(r, &stt);
    CHECK(stt.sync_errors == 1 && stt.write_errors == 1);
    evolu_relay_close(r);
}

static void remove_db(const char *db) {
    char path[300];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", db, sfx[i]);
        unlink(path);
    }
}

int main(void) {
    char db[256];
    snprintf(db, sizeof db, "/tmp/evolu_test_relay_core_%d.db", (int)getpid());
    test_group_commit(db);
    remove_db(db);
    test_no_group_commit(db);
    remove_db(db);
    test_upgrade_check(db);
    remove_db(db);
    test_storage_failure(db);
    remove_db(db);
    return t_finish("test_relay_core");
}
