/* fuzz_client_json.c - evolu_json_columns_parse (the `evolu insert/update`
 * JSON object of column values) on arbitrary text.
 * Properties: never crashes, leaks or reads out of bounds; a refusal always
 * names its reason; an accepted object, written back as JSON (strings with
 * evolu_sbuf_json_string, numbers in JavaScript's format, bytes as
 * {"$bytes":"hex"}), parses again to the same columns (-0 comes back as 0,
 * as in JavaScript). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/client_json.h"
#include "evolu/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_back(evolu_sbuf *b, const evolu_json_columns *c) {
    evolu_sbuf_puts(b, "{");
    for (size_t i = 0; i < c->n; i++) {
        const evolu_column *col = &c->columns[i];
        if (i) evolu_sbuf_puts(b, ",");
        evolu_sbuf_json_string(b, (const char *)col->name, col->name_len);
        evolu_sbuf_puts(b, ":");
        const evolu_value *v = &col->value;
        switch (v->kind) {
        case EVOLU_VALUE_NULL: evolu_sbuf_puts(b, "null"); break;
        case EVOLU_VALUE_NUMBER: {
            char num[EVOLU_JS_NUMBER_MAX_CHARS];
            size_t n = evolu_js_number_format(v->number, num);
            evolu_sbuf_putn(b, num, n);
            break;
        }
        case EVOLU_VALUE_TEXT:
            evolu_sbuf_json_string(b, (const char *)v->data, v->len);
            break;
        case EVOLU_VALUE_BYTES:
            evolu_sbuf_puts(b, "{\"$bytes\":\"");
            for (size_t k = 0; k < v->len; k++) {
                char hx[3] = {"0123456789abcdef"[v->data[k] >> 4],
                              "0123456789abcdef"[v->data[k] & 15], 0};
                evolu_sbuf_puts(b, hx);
            }
            evolu_sbuf_puts(b, "\"}");
            break;
        }
    }
    evolu_sbuf_puts(b, "}");
}

static int same_value(const evolu_value *a, const evolu_value *b) {
    if (a->kind != b->kind) return 0;
    /* == and not the bits: JSON, like JavaScript's String(), writes -0 as 0. */
    if (a->kind == EVOLU_VALUE_NUMBER) return a->number == b->number;
    if (a->kind == EVOLU_VALUE_NULL) return 1;
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    evolu_json_columns c;
    const char *why = NULL;
    evolu_err e = evolu_json_columns_parse(text, &c, &why);
    free(text);
    if (e != EVOLU_OK) {
        if (e == EVOLU_E_JSON && !why) __builtin_trap();
        return 0;
    }
    evolu_sbuf b = {0};
    write_back(&b, &c);
    if (!b.oom) {
        evolu_json_columns d;
        if (evolu_json_columns_parse(b.p, &d, &why) != EVOLU_OK) __builtin_trap();
        if (d.n != c.n) __builtin_trap();
        for (size_t i = 0; i < c.n; i++) {
            if (d.columns[i].name_len != c.columns[i].name_len ||
                memcmp(d.columns[i].name, c.columns[i].name, c.columns[i].name_len) != 0)
                __builtin_trap();
            if (!same_value(&d.columns[i].value, &c.columns[i].value)) __builtin_trap();
        }
        evolu_json_columns_free(&d);
    }
    evolu_sbuf_free(&b);
    evolu_json_columns_free(&c);
    return 0;
}
