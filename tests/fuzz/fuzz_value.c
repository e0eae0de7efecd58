/* fuzz_value.c - evolu_value_decode on arbitrary bytes, value after value.
 * Properties: decoding never reads out of bounds; a failed decode moves
 * neither the reader nor the text writer; a measuring (cap-0) decode agrees
 * with a real one; and every decoded value re-encodes (unless it is text that
 * is not UTF-8, which only evolu_value_encode rejects) to bytes that decode to
 * the same value, consuming them exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    evolu_reader r = evolu_reader_make(data, size);
    while (evolu_reader_left(&r) > 0) {
        /* Measure first, then decode into a buffer of exactly that size. */
        evolu_reader rm = r;
        evolu_writer m = evolu_writer_make(NULL, 0);
        evolu_value vm, v;
        evolu_err em = evolu_value_decode(&rm, &m, &vm);
        if (em != EVOLU_OK) {
            if (rm.pos != r.pos || m.len != 0 || m.err != EVOLU_OK) __builtin_trap();
            break;
        }
        uint8_t *text = malloc(m.len + 1);
        if (!text) __builtin_trap();
        evolu_writer tw = evolu_writer_make(text, m.len);
        if (evolu_value_decode(&r, &tw, &v) != EVOLU_OK || tw.err != EVOLU_OK ||
            tw.len != m.len || r.pos != rm.pos || v.kind != vm.kind || v.len != vm.len)
            __builtin_trap();

        /* Re-encode: measure, write, decode again. */
        evolu_writer em_w = evolu_writer_make(NULL, 0);
        evolu_err ee = evolu_value_encode(&em_w, &v);
        if (ee == EVOLU_E_UTF8 && v.kind == EVOLU_VALUE_TEXT &&
            !evolu_value_text_is_valid(v.data, v.len)) {
            free(text);
            continue;
        }
        if (ee != EVOLU_OK) __builtin_trap();
        uint8_t *enc = malloc(em_w.len + 1);
        if (!enc) __builtin_trap();
        evolu_writer ew = evolu_writer_make(enc, em_w.len);
        if (evolu_value_encode(&ew, &v) != EVOLU_OK || ew.err != EVOLU_OK || ew.len != em_w.len)
            __builtin_trap();

        evolu_reader r2 = evolu_reader_make(enc, ew.len);
        evolu_writer m2 = evolu_writer_make(NULL, 0);
        evolu_value v2m;
        if (evolu_value_decode(&r2, &m2, &v2m) != EVOLU_OK) __builtin_trap();
        uint8_t *text2 = malloc(m2.len + 1);
        if (!text2) __builtin_trap();
        evolu_writer tw2 = evolu_writer_make(text2, m2.len);
        evolu_value v2;
        r2 = evolu_reader_make(enc, ew.len);
        if (evolu_value_decode(&r2, &tw2, &v2) != EVOLU_OK || evolu_reader_left(&r2) != 0 ||
            !evolu_value_equal(&v, &v2))
            __builtin_trap();
        free(text2);
        free(enc);
        free(text);
    }
    return 0;
}
