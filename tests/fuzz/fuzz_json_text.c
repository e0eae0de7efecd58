/* fuzz_json_text.c - evolu_json_is_canonical on arbitrary text.
 * Properties: never reads out of bounds; evolu_json_to_msgpack succeeds
 * exactly when the text is canonical (and writes nothing otherwise); canonical
 * text encodes to MessagePack that evolu_msgpack_to_json turns back into the
 * very same text. Short inputs also go through evolu_js_number_parse, checked
 * against strtod, and back through evolu_js_number_format. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void number(const uint8_t *data, size_t size) {
    if (size > 64) return;
    char buf[65];
    memcpy(buf, data, size);
    buf[size] = 0;
    double v;
    if (evolu_js_number_parse(buf, size, &v) != EVOLU_OK) return;
    double ref = strtod(buf, NULL);
    if (memcmp(&v, &ref, sizeof v) != 0) __builtin_trap();
    char out[EVOLU_JS_NUMBER_MAX_CHARS];
    size_t n = evolu_js_number_format(v, out);
    double back;
    if (n > EVOLU_JS_NUMBER_MAX_CHARS) __builtin_trap();
    if (v - v == 0) { /* finite */
        if (evolu_js_number_parse(out, n, &back) != EVOLU_OK) __builtin_trap();
        if (back != v) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    number(data, size);
    bool canonical = evolu_json_is_canonical(data, size);
    evolu_writer m = evolu_writer_make(NULL, 0);
    evolu_err e = evolu_json_to_msgpack(data, size, &m);
    if (canonical != (e == EVOLU_OK)) __builtin_trap();
    if (!canonical) {
        if (m.len != 0) __builtin_trap();
        return 0;
    }
    uint8_t *mp = malloc(m.len + 1);
    uint8_t *text = malloc(size + 1);
    if (!mp || !text) __builtin_trap();
    evolu_writer w = evolu_writer_make(mp, m.len);
    if (evolu_json_to_msgpack(data, size, &w) != EVOLU_OK || w.err != EVOLU_OK || w.len != m.len)
        __builtin_trap();
    evolu_reader r = evolu_reader_make(mp, w.len);
    evolu_writer tw = evolu_writer_make(text, size);
    if (evolu_msgpack_to_json(&r, &tw) != EVOLU_OK || tw.err != EVOLU_OK || tw.len != size ||
        memcmp(text, data, size) != 0 || evolu_reader_left(&r) != 0)
        __builtin_trap();
    free(text);
    free(mp);
    return 0;
}
