/* fuzz_msgpack_json.c - evolu_msgpack_to_json on arbitrary bytes.
 * Properties: never reads out of bounds; a failed decode leaves the reader
 * where it was; a measuring (cap-0) decode agrees with a real one; and every
 * output is canonical JSON whose MessagePack encoding (evolu_json_to_msgpack)
 * decodes back to the same text, consuming it exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    evolu_reader r = evolu_reader_make(data, size);
    evolu_writer m = evolu_writer_make(NULL, 0);
    evolu_err e = evolu_msgpack_to_json(&r, &m);
    if (e != EVOLU_OK) {
        if (r.pos != 0) __builtin_trap();
        return 0;
    }
    size_t used = r.pos;
    uint8_t *text = malloc(m.len + 1);
    if (!text) __builtin_trap();
    evolu_reader r2 = evolu_reader_make(data, size);
    evolu_writer tw = evolu_writer_make(text, m.len);
    if (evolu_msgpack_to_json(&r2, &tw) != EVOLU_OK || tw.err != EVOLU_OK || tw.len != m.len ||
        r2.pos != used)
        __builtin_trap();
    if (!evolu_json_is_canonical(text, tw.len)) __builtin_trap();

    evolu_writer pm = evolu_writer_make(NULL, 0);
    if (evolu_json_to_msgpack(text, tw.len, &pm) != EVOLU_OK) __builtin_trap();
    uint8_t *mp = malloc(pm.len + 1);
    uint8_t *back = malloc(tw.len + 1);
    if (!mp || !back) __builtin_trap();
    evolu_writer pw = evolu_writer_make(mp, pm.len);
    if (evolu_json_to_msgpack(text, tw.len, &pw) != EVOLU_OK || pw.err != EVOLU_OK ||
        pw.len != pm.len)
        __builtin_trap();
    evolu_reader r3 = evolu_reader_make(mp, pw.len);
    evolu_writer bw = evolu_writer_make(back, tw.len);
    if (evolu_msgpack_to_json(&r3, &bw) != EVOLU_OK || bw.err != EVOLU_OK || bw.len != tw.len ||
        memcmp(back, text, tw.len) != 0 || evolu_reader_left(&r3) != 0)
        __builtin_trap();
    free(back);
    free(mp);
    free(text);
    return 0;
}
