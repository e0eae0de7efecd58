/*
 * client_session.c - one owner's sync session, no I/O (see
 * evolu/client_session.h).
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "client_store.h"
#include "evolu/client_session.h"
#include "evolu/protocol.h"

#define SESSION_MSGS_CAP 20000u   /* > 1,000,000 / 60: the most a reply can hold */
#define SESSION_RANGES_CAP 16384u /* > rangesMaxSize 30,000 / 2 bytes per range */
#define SESSION_SCRATCH 65536u
#define SESSION_ARENA (SESSION_RANGES_CAP * EVOLU_RBSR_ARENA_PER_RANGE + 1100000u)

struct evolu_session {
    evolu_client_db *db;
    const evolu_port *port;
    const evolu_owner *owner; /* the caller's: the database's store keeps a pointer */
    bool read_only;
    evolu_cstore *cs;
    evolu_msg_builder b;
    evolu_msg_entry *msgs;
    evolu_range_entry *ranges;
    uint8_t *arena;
    uint8_t (*scratch)[EVOLU_TIMESTAMP_BYTES];
    uint8_t *out;
    bool connected;
    unsigned in_flight;
    evolu_err stopped;
    evolu_client_db_failure failure;
};

evolu_err evolu_session_create(evolu_client_db *db, const evolu_port *port,
                               const evolu_owner *owner, bool read_only,
                               evolu_session **out) {
    if (!db || !port || !owner || !out) return EVOLU_E_ARG;
    evolu_session *s = calloc(1, sizeof *s);
    if (!s) return EVOLU_E_NOMEM;
    s->db = db;
    s->port = port;
    s->owner = owner;
    s->read_only = read_only;
    s->msgs = calloc(SESSION_MSGS_CAP, sizeof *s->msgs);
    s->ranges = calloc(SESSION_RANGES_CAP, sizeof *s->ranges);
    s->arena = malloc(SESSION_ARENA);
    s->scratch = malloc((size_t)SESSION_SCRATCH * EVOLU_TIMESTAMP_BYTES);
    s->out = malloc(EVOLU_PROTOCOL_MAX_SIZE);
    if (!s->msgs || !s->ranges || !s->arena || !s->scratch || !s->out) {
        evolu_session_destroy(s);
        return EVOLU_E_NOMEM;
    }
    evolu_err e = evolu_cstore_open(db, port, s->owner, &s->cs);
    if (e) {
        evolu_session_destroy(s);
        return e;
    }
    evolu_msg_builder_init(&s->b, s->msgs, SESSION_MSGS_CAP, s->ranges, SESSION_RANGES_CAP,
                           s->arena, SESSION_ARENA);
    *out = s;
    return EVOLU_OK;
}

void evolu_session_destroy(evolu_session *s) {
    if (!s) return;
    evolu_cstore_close(s->cs);
    /* frames and the builder's memory hold the write key (request headers) */
    if (s->port && s->arena) s->port->memzero(s->port->ctx, s->arena, SESSION_ARENA);
    if (s->port && s->out) s->port->memzero(s->port->ctx, s->out, EVOLU_PROTOCOL_MAX_SIZE);
    free(s->msgs);
    free(s->ranges);
    free(s->arena);
    free(s->scratch);
    free(s->out);
    free(s);
}

/* Emits b into s->out. */
static evolu_err emit(evolu_session *s, const uint8_t **frame, size_t *len) {
    evolu_writer w = evolu_writer_make(s->out, EVOLU_PROTOCOL_MAX_SIZE);
    evolu_err e = evolu_msg_builder_emit(&s->b, &w);
    if (e) return e;
    *frame = s->out;
    *len = w.len;
    return EVOLU_OK;
}

static evolu_err sync_request(evolu_session *s, uint8_t flag, const uint8_t **frame,
                              size_t *len) {
    evolu_rbsr r;
    evolu_rbsr_init(&r, evolu_cstore_store(s->cs), false, NULL, 0);
    evolu_err e = evolu_rbsr_sync_request(&r, &s->b, s->owner->id, flag);
    if (e == EVOLU_E_SYNC && r.cause) e = r.cause;
    if (!e) e = emit(s, frame, len);
    if (!e) s->in_flight++;
    return e;
}

evolu_err evolu_session_connected(evolu_session *s, bool subscribe, const uint8_t **frame,
                                  size_t *len) {
    if (!s || !frame || !len) return EVOLU_E_ARG;
    s->connected = true;
    s->in_flight = 0;
    s->stopped = EVOLU_OK;
    return sync_request(s, subscribe ? EVOLU_SUBSCRIPTION_SUBSCRIBE : EVOLU_SUBSCRIPTION_NONE,
                        frame, len);
}

evolu_err evolu_session_resync(evolu_session *s, const uint8_t **frame, size_t *len) {
    if (!s || !frame || !len) return EVOLU_E_ARG;
    if (!s->connected) return EVOLU_E_STATE;
    if (s->stopped) return s->stopped;
    return sync_request(s, EVOLU_SUBSCRIPTION_NONE, frame, len);
}

evolu_err evolu_session_receive(evolu_session *s, const uint8_t *in, size_t len,
                                evolu_session_result *res, const uint8_t **frame,
                                size_t *frame_len) {
    if (!s || (!in && len) || !res || !frame || !frame_len) return EVOLU_E_ARG;
    memset(res, 0, sizeof *res);
    *frame_len = 0;
    if (s->stopped) return s->stopped;
    evolu_client_config cfg = {
        .owner_id = s->owner->id,
        .store = evolu_cstore_store(s->cs),
        .write_key = s->read_only ? NULL : s->owner->write_key,
        .input_max = EVOLU_PROTOCOL_MAX_SIZE_MAX,
        .scratch = s->scratch,
        .scratch_cap = SESSION_SCRATCH,
    };
    evolu_writer w = evolu_writer_make(s->out, EVOLU_PROTOCOL_MAX_SIZE);
    /* A Broadcast is not an answer; everything else from a relay is. */
    bool is_broadcast = false;
    {
        evolu_reader r = evolu_reader_make(in, len);
        evolu_header h;
        if (evolu_header_decode(&r, &h) == EVOLU_OK && h.type == EVOLU_MESSAGE_BROADCAST)
            is_broadcast = true;
    }
    if (!is_broadcast && s->in_flight) s->in_flight--;
    evolu_err e = evolu_client_handle(&cfg, in, len, &s->b, &w, &res->outcome);
    /* A sync failure of our own says why (e.g. EVOLU_E_LIMIT: a stored
     * change no message can carry); the relay's SyncError stays EVOLU_E_SYNC. */
    if (e == EVOLU_E_SYNC && res->outcome.local_failure && res->outcome.cause)
        e = res->outcome.cause;
    if (e) {
        s->stopped = e;
        if (evolu_cstore_last_failure(s->cs, &s->failure) != e)
            memset(&s->failure, 0, sizeof s->failure);
        return e;
    }
    res->broadcast = res->outcome.status == EVOLU_CLIENT_BROADCAST;
    if (res->outcome.status == EVOLU_CLIENT_RESPONSE) {
        *frame = s->out;
        *frame_len = w.len;
        res->send = true;
        s->in_flight++;
    }
    res->converged = evolu_session_is_converged(s);
    return EVOLU_OK;
}

evolu_err evolu_session_push(evolu_session *s, const evolu_timestamp *since,
                             const uint8_t **frame, size_t *len) {
    if (!s || !since || !frame || !len) return EVOLU_E_ARG;
    *len = 0;
    evolu_err e = evolu_cstore_note_local(s->cs, since);
    if (e || !s->connected || s->stopped || s->read_only) return e;

    evolu_header h;
    evolu_header_request(&h, s->owner->id, s->owner->write_key, EVOLU_SUBSCRIPTION_NONE);
    e = evolu_msg_builder_begin(&s->b, &h, 0, 0);
    if (e) return e;
    uint8_t tb[EVOLU_TIMESTAMP_BYTES];
    evolu_timestamp_to_bytes(since, tb);
    sqlite3 *q = evolu_client_db_sqlite(s->db);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q,
                           "select timestamp, change from evolu_message where ownerId = ?1"
                           " and timestamp > ?2 order by timestamp",
                           -1, &st, NULL) != SQLITE_OK)
        return EVOLU_E_STORAGE;
    sqlite3_bind_blob(st, 1, s->owner->id, EVOLU_OWNER_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, tb, EVOLU_TIMESTAMP_BYTES, SQLITE_STATIC);
    size_t added = 0;
    bool overflow = false;
    int rc;
    while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *t = sqlite3_column_blob(st, 0);
        const uint8_t *ch = sqlite3_column_blob(st, 1);
        int chn = sqlite3_column_bytes(st, 1);
        evolu_timestamp ts;
        if (!t || sqlite3_column_bytes(st, 0) != EVOLU_TIMESTAMP_BYTES || !ch || chn <= 0 ||
            evolu_timestamp_from_bytes(t, &ts)) {
            e = EVOLU_E_STORAGE;
            break;
        }
        if (!evolu_msg_builder_can_add_message(&s->b, (size_t)chn) ||
            s->b.n_msgs >= s->b.msgs_cap) {
            overflow = true;
            break;
        }
        uint8_t *copy = NULL;
        e = evolu_msg_builder_alloc(&s->b, (size_t)chn, &copy);
        if (e == EVOLU_E_CAPACITY) {
            e = EVOLU_OK;
            overflow = true;
            break;
        }
        if (e) break;
        memcpy(copy, ch, (size_t)chn);
        e = evolu_msg_builder_add_message(&s->b, &ts, copy, (size_t)chn);
        if (!e) added++;
    }
    if (!e && !overflow && rc != SQLITE_DONE) e = EVOLU_E_STORAGE;
    sqlite3_finalize(st);
    if (e) return e;
    if (!added && !overflow) return EVOLU_OK;
    if (overflow) {
        /* Not all fitted: a random fingerprint makes the relay start a sync
         * that delivers the rest (spec 6.8). */
        uint8_t fp[EVOLU_FINGERPRINT_BYTES];
        s->port->random(s->port->ctx, fp, sizeof fp);
        e = evolu_msg_builder_add_fingerprint(&s->b, NULL, fp);
        if (e) return e;
    }
    e = emit(s, frame, len);
    if (!e) s->in_flight++;
    return e;
}

evolu_err evolu_session_unsubscribe(evolu_session *s, const uint8_t **frame, size_t *len) {
    if (!s || !frame || !len) return EVOLU_E_ARG;
    evolu_writer w = evolu_writer_make(s->out, EVOLU_PROTOCOL_MAX_SIZE);
    evolu_err e = evolu_msg_encode_unsubscribe(&w, s->owner->id);
    if (e) return e;
    *frame = s->out;
    *len = w.len;
    return EVOLU_OK;
}

void evolu_session_disconnected(evolu_session *s) {
    if (!s) return;
    s->connected = false;
    s->in_flight = 0;
}

bool evolu_session_is_connected(const evolu_session *s) { return s && s->connected; }

bool evolu_session_is_converged(const evolu_session *s) {
    return s && s->connected && !s->stopped && s->in_flight == 0;
}

unsigned evolu_session_in_flight(const evolu_session *s) { return s ? s->in_flight : 0; }

evolu_err evolu_session_error(const evolu_session *s, evolu_client_db_failure *failure) {
    if (!s) return EVOLU_E_ARG;
    if (failure) *failure = s->failure;
    return s->stopped;
}

const uint8_t *evolu_session_owner_id(const evolu_session *s) { return s->owner->id; }
