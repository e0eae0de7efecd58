/* json_internal.h - pieces shared by the JSON text side (json.c) and the
 * MessagePack -> JSON decoder (json_decode.c). Not a public API. */
#ifndef EVOLU_JSON_INTERNAL_H
#define EVOLU_JSON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/json.h"

/* One object key as a key iterator reports it. Offsets index the input. */
typedef struct evolu_jkey {
    uint32_t off, len; /* the key's bytes (text: between the quotes, raw) */
    uint32_t val;      /* offset of the entry's value */
    uint32_t next;     /* offset just past the entry's value */
    uint32_t hash;     /* of the key as a JS string (equal keys, equal hashes) */
    uint32_t index;    /* numeric value when is_index */
    bool is_index;     /* a canonical array index "0".."4294967294" */
} evolu_jkey;

/* Walks the keys of one object, in input order, as many times as asked. */
typedef struct evolu_jkey_ops {
    void (*rewind)(void *ctx);
    /* Fills *k, or sets *end at the end of the object; errors pass through. */
    evolu_err (*next)(void *ctx, evolu_jkey *k, bool *end);
    /* Are the two keys the same JS string? */
    bool (*equal)(void *ctx, uint32_t off_a, uint32_t len_a, uint32_t off_b, uint32_t len_b);
} evolu_jkey_ops;

/* Keys of one object are held this many at a time (12 bytes each) on the stack
 * while checking for duplicates: an object with k named keys costs
 * ceil(k / EVOLU_JSON_KEY_CHUNK) walks over the object. */
#define EVOLU_JSON_KEY_CHUNK 64

/* Sets *js_order when the object's keys are already in JS property order and
 * unique: canonical array-index keys first in strictly ascending order, then
 * the other keys, no two equal. *count gets the number of entries when
 * *js_order is set. */
evolu_err evolu_json_keys_check(const evolu_jkey_ops *ops, void *ctx, bool *js_order,
                                uint32_t *count);

/* "0".."4294967294" without leading zeros (JS array index). */
bool evolu_json_index_key(const uint8_t *p, size_t n, uint32_t *index);

/* FNV-1a, fed 16-bit code units (or bytes, for raw text keys). */
#define EVOLU_JSON_HASH_INIT 2166136261u
static inline uint32_t evolu_json_hash_step(uint32_t h, uint32_t unit) {
    h = (h ^ (unit & 0xff)) * 16777619u;
    return (h ^ (unit >> 8)) * 16777619u;
}

/* One UTF-8 sequence as @evolu/common 8.11.0's decoder accepts it: standard
 * UTF-8 without overlongs and above U+10FFFF, except that encoded surrogates
 * (ed a0..bf xx) are accepted and yield the surrogate code unit. Returns the
 * sequence length (1..4) and the code point, or 0 when invalid. */
unsigned evolu_json_wtf8_step(const uint8_t *p, size_t n, uint32_t *cp);

/* Writes the UTF-8 text s[0..n) (WTF-8 as above) as JSON.stringify writes the
 * JS string it decodes to: quotes, escapes, lone surrogates as \udxxx, a
 * surrogate pair encoded as two 3-byte sequences as the 4-byte character.
 * With w == NULL only validates. EVOLU_E_UTF8 when invalid. */
evolu_err evolu_json_put_string(evolu_writer *w, const uint8_t *s, size_t n);

/* MessagePack headers, smallest form (spec 2.6): str by UTF-8 byte length
 * (a0|n, d9, da, db); array (fix 0x90, dc, dd) and map (fix 0x80, de, df). */
void evolu_msgpack_put_str_header(evolu_writer *w, uint32_t n);
void evolu_msgpack_put_container_header(evolu_writer *w, uint32_t n, uint8_t fix, uint8_t m16,
                                        uint8_t m32);

#endif
