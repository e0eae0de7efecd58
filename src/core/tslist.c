/* tslist.c - the timestamp-list codec (spec 3.4): encoder, incremental size
 * accountant and a validating streaming reader. See evolu/tslist.h. */
#include "evolu/tslist.h"

#include <string.h>

/* Smallest possible encoding of the counter runs and nodeId runs of a
 * non-empty list: one run each, varint(counter) varint(run) and 8 bytes
 * varint(run). Used to reject impossible counts before looping. */
#define MIN_RUNS_BYTES (2u + EVOLU_NODE_ID_BYTES + 1u)

/* --- encoding ------------------------------------------------------------ */

static void fail(evolu_writer *w, evolu_err e) {
    if (w->err == EVOLU_OK) w->err = e;
}

static evolu_err encode_body(evolu_writer *w, evolu_tslist_get_fn get, void *ctx, size_t n) {
    evolu_timestamp t;
    evolu_err e;
    uint64_t prev = 0;

    /* Pass 1: millis deltas; also where the list is validated. */
    for (size_t i = 0; i < n; i++) {
        if ((e = get(ctx, i, &t)) != EVOLU_OK) goto out;
        if (t.millis > EVOLU_MAX_MILLIS) { e = EVOLU_E_MILLIS; goto out; }
        if (t.millis < prev) { e = EVOLU_E_ORDER; goto out; }
        evolu_put_varint(w, t.millis - prev);
        prev = t.millis;
    }

    /* Pass 2: counter runs (maximal: a run ends where the value changes). */
    uint16_t counter = 0;
    uint64_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if ((e = get(ctx, i, &t)) != EVOLU_OK) goto out;
        if (run > 0 && t.counter == counter) {
            run++;
            continue;
        }
        if (run > 0) {
            evolu_put_varint(w, counter);
            evolu_put_varint(w, run);
        }
        counter = t.counter;
        run = 1;
    }
    if (run > 0) {
        evolu_put_varint(w, counter);
        evolu_put_varint(w, run);
    }

    /* Pass 3: nodeId runs. */
    uint8_t node[EVOLU_NODE_ID_BYTES];
    run = 0;
    for (size_t i = 0; i < n; i++) {
        if ((e = get(ctx, i, &t)) != EVOLU_OK) goto out;
        if (run > 0 && memcmp(t.node_id, node, sizeof node) == 0) {
            run++;
            continue;
        }
        if (run > 0) {
            evolu_put_bytes(w, node, sizeof node);
            evolu_put_varint(w, run);
        }
        memcpy(node, t.node_id, sizeof node);
        run = 1;
    }
    if (run > 0) {
        evolu_put_bytes(w, node, sizeof node);
        evolu_put_varint(w, run);
    }
    return w->err;

out:
    fail(w, e);
    return e;
}

evolu_err evolu_tslist_encode_body_fn(evolu_writer *w, evolu_tslist_get_fn get, void *ctx,
                                      size_t n) {
    return encode_body(w, get, ctx, n);
}

evolu_err evolu_tslist_encode_fn(evolu_writer *w, evolu_tslist_get_fn get, void *ctx,
                                 size_t n) {
    evolu_put_varint(w, (uint64_t)n);
    return encode_body(w, get, ctx, n);
}

static evolu_err array_get(void *ctx, size_t i, evolu_timestamp *out) {
    *out = ((const evolu_timestamp *)ctx)[i];
    return EVOLU_OK;
}

/* The array is checked before anything is written, so on EVOLU_E_ORDER or
 * EVOLU_E_MILLIS the writer holds nothing of the list. */
static evolu_err check_array(const evolu_timestamp *ts, size_t n) {
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (ts[i].millis > EVOLU_MAX_MILLIS) return EVOLU_E_MILLIS;
        if (ts[i].millis < prev) return EVOLU_E_ORDER;
        prev = ts[i].millis;
    }
    return EVOLU_OK;
}

evolu_err evolu_tslist_encode(evolu_writer *w, const evolu_timestamp *ts, size_t n) {
    evolu_err e = check_array(ts, n);
    if (e) {
        fail(w, e);
        return e;
    }
    /* The callback context is only read; the cast drops const for the void *. */
    return evolu_tslist_encode_fn(w, array_get, (void *)(uintptr_t)ts, n);
}

evolu_err evolu_tslist_encode_body(evolu_writer *w, const evolu_timestamp *ts, size_t n) {
    evolu_err e = check_array(ts, n);
    if (e) {
        fail(w, e);
        return e;
    }
    return evolu_tslist_encode_body_fn(w, array_get, (void *)(uintptr_t)ts, n);
}

/* --- incremental size ------------------------------------------------------ */

void evolu_tslist_size_init(evolu_tslist_size *s) { memset(s, 0, sizeof *s); }

evolu_err evolu_tslist_size_add(evolu_tslist_size *s, const evolu_timestamp *t) {
    if (t->millis > EVOLU_MAX_MILLIS) return EVOLU_E_MILLIS;
    if (t->millis < s->prev_millis) return EVOLU_E_ORDER;
    s->body += evolu_varint_len(t->millis - s->prev_millis);
    s->prev_millis = t->millis;

    /* Extending a run replaces varint(run) by varint(run + 1). */
    if (s->items > 0 && t->counter == s->counter) {
        s->body += evolu_varint_len(s->counter_run + 1) - evolu_varint_len(s->counter_run);
        s->counter_run++;
    } else {
        s->counter = t->counter;
        s->counter_run = 1;
        s->body += evolu_varint_len(t->counter) + 1;
    }

    if (s->items > 0 && memcmp(t->node_id, s->node_id, EVOLU_NODE_ID_BYTES) == 0) {
        s->body += evolu_varint_len(s->node_run + 1) - evolu_varint_len(s->node_run);
        s->node_run++;
    } else {
        memcpy(s->node_id, t->node_id, EVOLU_NODE_ID_BYTES);
        s->node_run = 1;
        s->body += EVOLU_NODE_ID_BYTES + 1;
    }

    s->items++;
    s->count++;
    return EVOLU_OK;
}

void evolu_tslist_size_add_infinite(evolu_tslist_size *s) { s->count++; }

uint64_t evolu_tslist_size_body_len(const evolu_tslist_size *s) { return s->body; }

uint64_t evolu_tslist_size_len(const evolu_tslist_size *s) {
    return evolu_varint_len(s->count) + s->body;
}

uint64_t evolu_tslist_size_len_plus(const evolu_tslist_size *s, uint64_t k) {
    return evolu_varint_len(s->count + k) + s->body;
}

/* --- decoding ------------------------------------------------------------ */

/* Validates RLE runs that together cover exactly n items: each run is a value
 * (a counter varint <= 65535, or 8 nodeId bytes) followed by varint(run) with
 * 1 <= run <= items still missing. Every run consumes >= 2 bytes, so the loop
 * is bounded by the input length whatever n claims. */
static evolu_err check_runs(evolu_reader *r, uint64_t n, bool counters) {
    uint64_t left = n, v;
    evolu_err e;
    while (left > 0) {
        if (counters) {
            if ((e = evolu_get_varint(r, &v)) != EVOLU_OK) return e;
            if (v > EVOLU_MAX_COUNTER) return EVOLU_E_COUNTER;
        } else if ((e = evolu_skip(r, EVOLU_NODE_ID_BYTES)) != EVOLU_OK) {
            return e;
        }
        if ((e = evolu_get_varint(r, &v)) != EVOLU_OK) return e;
        if (v == 0 || v > left) return EVOLU_E_RUN_LENGTH;
        left -= v;
    }
    return EVOLU_OK;
}

static evolu_reader sub_reader(const evolu_reader *r, size_t start, size_t end) {
    /* An empty input may have p == NULL; NULL + 0 is undefined in C. */
    return evolu_reader_make(r->p ? r->p + start : r->p, end - start);
}

evolu_err evolu_tslist_open_body(evolu_tslist_reader *lr, evolu_reader *r, uint64_t count) {
    evolu_reader c = *r;
    evolu_err e;
    size_t left = evolu_reader_left(&c);

    /* Every item needs at least one delta byte, and a non-empty list at least
     * MIN_RUNS_BYTES of runs: reject a count the input cannot hold at once. */
    if (count > 0 && (count > left || left - (size_t)count < MIN_RUNS_BYTES))
        return EVOLU_E_TRUNCATED;

    size_t m0 = c.pos;
    uint64_t millis = 0, delta;
    for (uint64_t i = 0; i < count; i++) {
        if ((e = evolu_get_varint(&c, &delta)) != EVOLU_OK) return e;
        /* millis <= 2^48 and delta <= 2^53: no uint64 overflow. */
        millis += delta;
        if (millis > EVOLU_MAX_MILLIS) return EVOLU_E_MILLIS;
    }
    size_t c0 = c.pos;
    if ((e = check_runs(&c, count, true)) != EVOLU_OK) return e;
    size_t n0 = c.pos;
    if ((e = check_runs(&c, count, false)) != EVOLU_OK) return e;

    memset(lr, 0, sizeof *lr);
    lr->millis = sub_reader(&c, m0, c0);
    lr->counters = sub_reader(&c, c0, n0);
    lr->nodes = sub_reader(&c, n0, c.pos);
    lr->count = count;
    *r = c;
    return EVOLU_OK;
}

evolu_err evolu_tslist_open(evolu_tslist_reader *lr, evolu_reader *r) {
    evolu_reader c = *r;
    uint64_t count;
    evolu_err e = evolu_get_varint(&c, &count);
    if (e) return e;
    if ((e = evolu_tslist_open_body(lr, &c, count)) != EVOLU_OK) return e;
    *r = c;
    return EVOLU_OK;
}

void evolu_tslist_rewind(evolu_tslist_reader *lr) {
    lr->millis.pos = 0;
    lr->counters.pos = 0;
    lr->nodes.pos = 0;
    lr->index = 0;
    lr->prev_millis = 0;
    lr->counter_left = 0;
    lr->node_left = 0;
}

evolu_err evolu_tslist_next(evolu_tslist_reader *lr, evolu_timestamp *out) {
    if (lr->index >= lr->count) return EVOLU_E_DONE;
    uint64_t v;
    /* The list was validated by open, so these reads cannot fail; the checks
     * stay so a misused (e.g. hand-modified) reader still cannot misbehave. */
    if (evolu_get_varint(&lr->millis, &v) != EVOLU_OK) return EVOLU_E_INVALID;
    uint64_t millis = lr->prev_millis + v;
    if (millis > EVOLU_MAX_MILLIS) return EVOLU_E_INVALID;
    if (lr->counter_left == 0) {
        if (evolu_get_varint(&lr->counters, &v) != EVOLU_OK || v > EVOLU_MAX_COUNTER)
            return EVOLU_E_INVALID;
        lr->counter = (uint16_t)v;
        if (evolu_get_varint(&lr->counters, &lr->counter_left) != EVOLU_OK ||
            lr->counter_left == 0)
            return EVOLU_E_INVALID;
    }
    if (lr->node_left == 0) {
        if (evolu_get_bytes(&lr->nodes, lr->node_id, EVOLU_NODE_ID_BYTES) != EVOLU_OK ||
            evolu_get_varint(&lr->nodes, &lr->node_left) != EVOLU_OK || lr->node_left == 0)
            return EVOLU_E_INVALID;
    }
    lr->prev_millis = millis;
    lr->counter_left--;
    lr->node_left--;
    lr->index++;
    out->millis = millis;
    out->counter = lr->counter;
    memcpy(out->node_id, lr->node_id, EVOLU_NODE_ID_BYTES);
    return EVOLU_OK;
}
