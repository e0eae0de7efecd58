/* fuzz_tslist.c - the timestamp-list reader on arbitrary bytes. When a list
 * decodes, it is re-encoded (array and size accountant) and must decode to the
 * same timestamps; a decoded list re-encodes to at most the input's length
 * (runs are maximal and varints minimal in our encoding). The first byte picks
 * the plain list or a ranges-style body with a count of (byte >> 1). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/tslist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    bool body = data[0] & 1;
    uint64_t body_count = data[0] >> 1;
    evolu_reader r = evolu_reader_make(data + 1, size - 1);
    evolu_tslist_reader lr;
    evolu_err e = body ? evolu_tslist_open_body(&lr, &r, body_count) : evolu_tslist_open(&lr, &r);
    if (e != EVOLU_OK) {
        if (r.pos != 0) __builtin_trap(); /* failure leaves the outer reader alone */
        return 0;
    }
    size_t consumed = r.pos;
    uint64_t n = evolu_tslist_count(&lr);
    /* every item takes at least one input byte */
    if (n > consumed) __builtin_trap();

    evolu_timestamp *ts = malloc((size_t)(n ? n : 1) * sizeof *ts);
    if (!ts) return 0;
    size_t k = 0;
    while ((e = evolu_tslist_next(&lr, &ts[k])) == EVOLU_OK) {
        if (ts[k].millis > EVOLU_MAX_MILLIS) __builtin_trap();
        if (k > 0 && ts[k].millis < ts[k - 1].millis) __builtin_trap();
        if (++k > n) __builtin_trap();
    }
    if (e != EVOLU_E_DONE || k != n) __builtin_trap();

    /* re-encode: measure, then write */
    evolu_writer m = evolu_writer_make(NULL, 0);
    if (body) evolu_tslist_encode_body(&m, ts, k);
    else evolu_tslist_encode(&m, ts, k);
    if (m.len > consumed) __builtin_trap();

    evolu_tslist_size s;
    evolu_tslist_size_init(&s);
    for (size_t i = 0; i < k; i++)
        if (evolu_tslist_size_add(&s, &ts[i]) != EVOLU_OK) __builtin_trap();
    if ((body ? evolu_tslist_size_body_len(&s) : evolu_tslist_size_len(&s)) != m.len)
        __builtin_trap();

    uint8_t *buf = malloc(m.len ? m.len : 1);
    if (!buf) {
        free(ts);
        return 0;
    }
    evolu_writer w = evolu_writer_make(buf, m.len);
    e = body ? evolu_tslist_encode_body(&w, ts, k) : evolu_tslist_encode(&w, ts, k);
    if (e != EVOLU_OK || w.len != m.len) __builtin_trap();

    /* decode the re-encoding: same timestamps, all bytes used */
    evolu_reader r2 = evolu_reader_make(buf, w.len);
    evolu_tslist_reader lr2;
    e = body ? evolu_tslist_open_body(&lr2, &r2, k) : evolu_tslist_open(&lr2, &r2);
    if (e != EVOLU_OK || evolu_reader_left(&r2) != 0 || evolu_tslist_count(&lr2) != k)
        __builtin_trap();
    evolu_timestamp t;
    for (size_t i = 0; i < k; i++) {
        if (evolu_tslist_next(&lr2, &t) != EVOLU_OK) __builtin_trap();
        if (evolu_timestamp_cmp(&t, &ts[i]) != 0) __builtin_trap();
    }
    if (evolu_tslist_next(&lr2, &t) != EVOLU_E_DONE) __builtin_trap();

    /* the first reader rewinds to the same sequence */
    evolu_tslist_rewind(&lr);
    for (size_t i = 0; i < k; i++) {
        if (evolu_tslist_next(&lr, &t) != EVOLU_OK) __builtin_trap();
        if (evolu_timestamp_cmp(&t, &ts[i]) != 0) __builtin_trap();
    }

    free(buf);
    free(ts);
    return 0;
}
