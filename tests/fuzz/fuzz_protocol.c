/* fuzz_protocol.c - the protocol message reader on arbitrary bytes. When a
 * message validates, every message, range and Timestamps-range timestamp is
 * read, the message is rebuilt through the builder, and the re-emitted bytes
 * must re-parse to the same content. A version mismatch must round-trip
 * through the version-mismatch reply. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                             \
    do {                                                                                       \
        if (!(c)) __builtin_trap();                                                            \
    } while (0)

typedef struct parsed {
    evolu_msg_entry *msgs;
    evolu_range *ranges;
    evolu_timestamp **ts; /* per range: its timestamps (Timestamps ranges) */
} parsed;

static void parsed_free(parsed *p, uint64_t n_ranges) {
    if (p->ts)
        for (uint64_t i = 0; i < n_ranges; i++) free(p->ts[i]);
    free(p->ts);
    free(p->ranges);
    free(p->msgs);
}

/* Reads everything of an opened reader; traps if a validated message fails
 * to iterate. */
static void read_all(evolu_msg_reader *r, parsed *p) {
    p->msgs = calloc(r->n_messages + 1, sizeof *p->msgs);
    p->ranges = calloc(r->n_ranges + 1, sizeof *p->ranges);
    p->ts = calloc(r->n_ranges + 1, sizeof *p->ts);
    REQUIRE(p->msgs && p->ranges && p->ts);
    for (uint64_t i = 0; i < r->n_messages; i++) {
        evolu_msg_entry *m = &p->msgs[i];
        REQUIRE(evolu_msg_reader_next_message(r, &m->timestamp, &m->change, &m->change_len) ==
                EVOLU_OK);
    }
    evolu_timestamp t;
    const uint8_t *c;
    size_t cl;
    REQUIRE(evolu_msg_reader_next_message(r, &t, &c, &cl) == EVOLU_E_DONE);
    for (uint64_t i = 0; i < r->n_ranges; i++) {
        evolu_range *rg = &p->ranges[i];
        REQUIRE(evolu_msg_reader_next_range(r, rg) == EVOLU_OK);
        REQUIRE(rg->infinite == (i + 1 == r->n_ranges));
        if (rg->type == EVOLU_RANGE_TIMESTAMPS) {
            evolu_tslist_reader lr;
            REQUIRE(evolu_range_timestamps(rg, &lr) == EVOLU_OK);
            p->ts[i] = calloc(rg->n_timestamps + 1, sizeof(evolu_timestamp));
            REQUIRE(p->ts[i]);
            for (uint64_t k = 0; k < rg->n_timestamps; k++)
                REQUIRE(evolu_tslist_next(&lr, &p->ts[i][k]) == EVOLU_OK);
            REQUIRE(evolu_tslist_next(&lr, &t) == EVOLU_E_DONE);
        }
    }
    evolu_range extra;
    REQUIRE(evolu_msg_reader_next_range(r, &extra) == EVOLU_E_DONE);
}

static bool same_ts(const evolu_timestamp *a, const evolu_timestamp *b) {
    return evolu_timestamp_cmp(a, b) == 0 && a->millis == b->millis && a->counter == b->counter;
}

static bool same_header(const evolu_header *a, const evolu_header *b) {
    if (a->version != b->version || memcmp(a->owner_id, b->owner_id, 16) || a->type != b->type)
        return false;
    if (a->type == EVOLU_MESSAGE_REQUEST)
        return a->has_write_key == b->has_write_key && a->subscription == b->subscription &&
               (!a->has_write_key || !memcmp(a->write_key, b->write_key, 16));
    if (a->type == EVOLU_MESSAGE_RESPONSE) return a->error_code == b->error_code;
    return true;
}

static void version_reply(const evolu_msg_reader *r) {
    uint8_t out[EVOLU_VERSION_REPLY_MAX_BYTES];
    evolu_writer w = evolu_writer_make(out, sizeof out);
    REQUIRE(evolu_version_reply_encode(&w, r->header.version, r->header.owner_id) == EVOLU_OK);
    evolu_reader in = evolu_reader_make(out, w.len);
    evolu_header h;
    REQUIRE(evolu_header_decode(&in, &h) == EVOLU_E_VERSION);
    REQUIRE(h.version == r->header.version && !memcmp(h.owner_id, r->header.owner_id, 16));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    evolu_msg_reader r;
    evolu_err e = evolu_msg_reader_open(&r, data, size);
    if (e == EVOLU_E_VERSION) version_reply(&r);
    if (e != EVOLU_OK) return 0;
    REQUIRE(r.end <= size);

    parsed p = {0};
    read_all(&r, &p);

    /* Rebuild. A Broadcast carrying ranges is readable but cannot be built
     * (the TS builder asserts too): then only the messages are compared. */
    evolu_msg_entry *bm = calloc(r.n_messages + 1, sizeof *bm);
    evolu_range_entry *br = calloc(r.n_ranges + 1, sizeof *br);
    REQUIRE(bm && br);
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, bm, r.n_messages, br, r.n_ranges, NULL, 0);
    REQUIRE(evolu_msg_builder_begin(&b, &r.header, EVOLU_PROTOCOL_MAX_SIZE_MAX,
                                    EVOLU_PROTOCOL_RANGES_MAX_SIZE_MAX) == EVOLU_OK);
    for (uint64_t i = 0; i < r.n_messages; i++)
        REQUIRE(evolu_msg_builder_add_message(&b, &p.msgs[i].timestamp, p.msgs[i].change,
                                              p.msgs[i].change_len) == EVOLU_OK);
    bool ranges_built = true;
    for (uint64_t i = 0; i < r.n_ranges; i++) {
        const evolu_range *rg = &p.ranges[i];
        evolu_range_entry re;
        memset(&re, 0, sizeof re);
        re.type = rg->type;
        re.infinite = rg->infinite;
        re.upper = rg->upper;
        if (rg->type == EVOLU_RANGE_FINGERPRINT) memcpy(re.fingerprint, rg->fingerprint, 12);
        re.timestamps = p.ts[i];
        re.n_timestamps = (size_t)rg->n_timestamps;
        e = evolu_msg_builder_add_range(&b, &re);
        if (r.header.type == EVOLU_MESSAGE_BROADCAST) {
            REQUIRE(e == EVOLU_E_STATE);
            ranges_built = false;
            break;
        }
        REQUIRE(e == EVOLU_OK);
    }

    evolu_writer measure = evolu_writer_make(NULL, 0);
    e = evolu_msg_builder_emit(&b, &measure);
    REQUIRE(e == EVOLU_OK || e == EVOLU_E_BUFFER);
    uint8_t *out = malloc(measure.len + 1);
    REQUIRE(out);
    evolu_writer w = evolu_writer_make(out, measure.len);
    REQUIRE(evolu_msg_builder_emit(&b, &w) == EVOLU_OK && w.len == measure.len);
    /* The accountant knows the exact size (plus its 22-byte ranges margin). */
    REQUIRE(evolu_msg_builder_size(&b) == w.len + (b.n_ranges ? 22 : 0));
    /* The canonical re-encoding is never longer than what was interpreted
     * (an error Response was read up to its code only; the builder adds the
     * empty messages section). */
    bool error_response = r.header.type == EVOLU_MESSAGE_RESPONSE && r.header.error_code != 0;
    REQUIRE(!ranges_built || w.len <= r.end + (error_response ? 1 : 0));

    evolu_msg_reader r2;
    REQUIRE(evolu_msg_reader_open_max(&r2, out, w.len, EVOLU_PROTOCOL_MAX_SIZE_MAX) == EVOLU_OK);
    REQUIRE(r2.end == w.len - (error_response ? 1 : 0));
    REQUIRE(same_header(&r.header, &r2.header));
    REQUIRE(r2.n_messages == r.n_messages);
    REQUIRE(r2.n_ranges == (ranges_built ? r.n_ranges : 0));
    parsed p2 = {0};
    read_all(&r2, &p2);
    for (uint64_t i = 0; i < r.n_messages; i++) {
        REQUIRE(same_ts(&p.msgs[i].timestamp, &p2.msgs[i].timestamp));
        REQUIRE(p.msgs[i].change_len == p2.msgs[i].change_len);
        REQUIRE(!memcmp(p.msgs[i].change, p2.msgs[i].change, p.msgs[i].change_len));
    }
    for (uint64_t i = 0; i < r2.n_ranges; i++) {
        const evolu_range *a = &p.ranges[i], *c2 = &p2.ranges[i];
        REQUIRE(a->type == c2->type && a->infinite == c2->infinite);
        if (!a->infinite) REQUIRE(same_ts(&a->upper, &c2->upper));
        if (a->type == EVOLU_RANGE_FINGERPRINT)
            REQUIRE(!memcmp(a->fingerprint, c2->fingerprint, 12));
        if (a->type == EVOLU_RANGE_TIMESTAMPS) {
            REQUIRE(a->n_timestamps == c2->n_timestamps);
            for (uint64_t k = 0; k < a->n_timestamps; k++)
                REQUIRE(same_ts(&p.ts[i][k], &p2.ts[i][k]));
        }
    }

    parsed_free(&p2, r2.n_ranges);
    parsed_free(&p, r.n_ranges);
    free(out);
    free(bm);
    free(br);
    return 0;
}
