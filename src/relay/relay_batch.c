/* relay_batch.c - group commit (see evolu/relay.h): the messages handled
 * between two evolu_relay_flush calls share one SQLite transaction; their
 * replies and Broadcasts wait here until it is committed, so an errorCode 0
 * never leaves before its write is durable, and N concurrent writers cost
 * one fsync. */
#include <stdlib.h>
#include <string.h>

#include "relay_internal.h"

void evolu_relay_deliver(evolu_relay *r, evolu_relay_conn *to, evolu_relay_buf *buf,
                         uint8_t kind, const uint8_t owner[EVOLU_OWNER_ID_BYTES]) {
    if (!r->in_tx) {
        r->o.send(r->o.send_ctx, to, buf);
        return;
    }
    relay_held *h = malloc(sizeof *h);
    if (!h) { /* cannot hold it: do not send an unconfirmed reply either */
        r->st.internal_errors++;
        evolu_relay_buf_unref(buf);
        return;
    }
    h->next = NULL;
    h->to = to;
    h->buf = buf;
    h->kind = kind;
    memcpy(h->owner, owner, EVOLU_OWNER_ID_BYTES);
    if (r->held_tail) r->held_tail->next = h;
    else r->held = h;
    r->held_tail = h;
    r->n_held++;
}

void evolu_relay_drop_held(evolu_relay *r, const evolu_relay_conn *c) {
    relay_held **pp = &r->held;
    r->held_tail = NULL;
    while (*pp) {
        relay_held *h = *pp;
        if (h->to == c) {
            *pp = h->next;
            evolu_relay_buf_unref(h->buf);
            free(h);
            r->n_held--;
        } else {
            r->held_tail = h;
            pp = &h->next;
        }
    }
}

size_t evolu_relay_pending(const evolu_relay *r) { return r->n_held; }

/* An errorCode 2 Response instead of a reply whose write was not committed. */
static evolu_relay_buf *write_error(const evolu_relay *r, const uint8_t owner[16]) {
    evolu_writer w = evolu_writer_make(NULL, 0);
    evolu_msg_encode_response(&w, owner, EVOLU_ERROR_CODE_WRITE);
    evolu_relay_buf *b = evolu_relay_buf_new(r, w.len);
    if (!b) return NULL;
    w = evolu_writer_make(b->data, b->len);
    evolu_msg_encode_response(&w, owner, EVOLU_ERROR_CODE_WRITE);
    return b;
}

evolu_err evolu_relay_flush(evolu_relay *r) {
    if (!r->in_tx) return EVOLU_OK;
    evolu_err e = EVOLU_OK;
    if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        e = EVOLU_E_STORAGE;
        r->st.commit_failures++;
        evolu_relay_log(r, EVOLU_LOG_ERROR, "commit of %zu messages failed: %s; answering "
                        "errorCode 2", r->batch_msgs, sqlite3_errmsg(r->db));
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
        evolu_relay_keys_forget(r); /* some may have been claimed in this batch */
    } else {
        r->st.commits++;
    }
    r->in_tx = false;
    r->batch_msgs = 0;
    relay_held *h = r->held;
    r->held = r->held_tail = NULL;
    r->n_held = 0;
    while (h) {
        relay_held *next = h->next;
        evolu_relay_buf *b = h->buf;
        if (e && h->kind != RELAY_HELD_KEEP) {
            evolu_relay_buf_unref(b);
            b = h->kind == RELAY_HELD_RESPONSE ? write_error(r, h->owner) : NULL;
        }
        if (b) r->o.send(r->o.send_ctx, h->to, b);
        free(h);
        h = next;
    }
    return e;
}
