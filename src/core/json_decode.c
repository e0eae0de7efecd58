/* json_decode.c - MessagePack (8.11.0 JSON subset) -> JSON.stringify text
 * (spec 2.6, 2.7.2).
 *
 * Iterative, one level record per open container (4 bytes count + 1 byte
 * flags, ~5 KB for EVOLU_JSON_MAX_DEPTH levels on the stack). Strings are
 * checked and escaped as 8.11.0's decoder and JSON.stringify would.
 *
 * Maps: JSON.stringify lists array-index keys first, ascending, and a key that
 * occurs twice keeps its first position with its last value. TypeScript
 * encoders always emit keys in that order and unique, so every map with two or
 * more entries is first checked (json_keys.c); if it is in JS order it is
 * streamed as it comes ("fast"). Otherwise ("slow", only from non-TS or
 * hostile peers) the whole map is validated first, exactly as 8.11.0 would
 * decode it, and then emitted by re-scanning: one scan per array-index key and
 * one per named key. All scans count against a work budget proportional to the
 * input (see EVOLU_JSON_WORK_* in evolu/json.h), so no input costs more than
 * a constant times its size; input that would exceed it is rejected with
 * EVOLU_E_LIMIT. At most EVOLU_JSON_MAX_SLOW_MAPS slow maps may be open
 * (nested in one another) at once, else EVOLU_E_LIMIT.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json_internal.h"

enum { F_MAP = 1, F_FIRST = 2, F_SLOW = 4 };

typedef struct slowmap {
    uint32_t start, end, count; /* first key, past the last value, entries */
    uint32_t j, jpos;           /* named-key phase: next entry and its offset */
    uint32_t last;              /* index-key phase: last index emitted */
    bool has_last, index_phase;
} slowmap;

typedef struct dec {
    const uint8_t *p;
    size_t len;
    evolu_reader *r;
    evolu_writer *w; /* NULL while validating a slow map */
    uint64_t work;   /* budget left */
    unsigned depth, nslow;
    uint32_t rem[EVOLU_JSON_MAX_DEPTH];
    uint8_t flags[EVOLU_JSON_MAX_DEPTH];
    slowmap slow[EVOLU_JSON_MAX_SLOW_MAPS];
} dec;

static bool spend(dec *d, uint64_t units) {
    if (d->work < units) return false;
    d->work -= units;
    return true;
}

static void put(dec *d, const char *s, size_t n) {
    if (d->w) evolu_put_bytes(d->w, (const uint8_t *)s, n);
}

/* --- headers -------------------------------------------------------------------- */

/* Reads a marker's length field. kind: 's' str, 'a' array, 'm' map, 0 other. */
static evolu_err read_len(const uint8_t *p, size_t len, size_t *pos, uint8_t m, char *kind,
                          uint32_t *n) {
    unsigned width = 0;
    *kind = 0;
    if (m >= 0x80 && m <= 0x8f) {
        *kind = 'm';
        *n = m & 0x0f;
    } else if (m >= 0x90 && m <= 0x9f) {
        *kind = 'a';
        *n = m & 0x0f;
    } else if (m >= 0xa0 && m <= 0xbf) {
        *kind = 's';
        *n = m & 0x1f;
    } else {
        switch (m) {
        case 0xd9: *kind = 's'; width = 1; break;
        case 0xda: *kind = 's'; width = 2; break;
        case 0xdb: *kind = 's'; width = 4; break;
        case 0xdc: *kind = 'a'; width = 2; break;
        case 0xdd: *kind = 'a'; width = 4; break;
        case 0xde: *kind = 'm'; width = 2; break;
        case 0xdf: *kind = 'm'; width = 4; break;
        default: return EVOLU_OK;
        }
        if (len - *pos < width) return EVOLU_E_TRUNCATED;
        *n = (uint32_t)evolu_load_be(p + *pos, width);
        *pos += width;
    }
    size_t left = len - *pos;
    /* the same early checks as 8.11.0 */
    if (*kind == 's' && *n > left) return EVOLU_E_TRUNCATED;
    if (*kind == 'a' && *n > left) return EVOLU_E_TRUNCATED;
    if (*kind == 'm' && *n > left / 2) return EVOLU_E_TRUNCATED;
    return EVOLU_OK;
}

/* Width of the payload of a scalar number/constant marker; -1 if unsupported. */
static int scalar_width(uint8_t m) {
    if (m <= 0x7f || m >= 0xe0 || m == 0xc0 || m == 0xc2 || m == 0xc3) return 0;
    switch (m) {
    case 0xcc: case 0xd0: return 1;
    case 0xcd: case 0xd1: return 2;
    case 0xce: case 0xd2: case 0xca: return 4;
    case 0xcb: return 8;
    default: return -1;
    }
}

/* Skips one value without validating strings or floats (used only on data that
 * is validated elsewhere, or before the decoder rejects it anyway). */
static evolu_err skip(dec *d, size_t *pos) {
    uint64_t pending = 1;
    while (pending) {
        pending--;
        if (!spend(d, 1)) return EVOLU_E_LIMIT;
        if (*pos >= d->len) return EVOLU_E_TRUNCATED;
        uint8_t m = d->p[(*pos)++];
        char kind;
        uint32_t n;
        evolu_err e = read_len(d->p, d->len, pos, m, &kind, &n);
        if (e) return e;
        if (kind == 's') *pos += n;
        else if (kind == 'a') pending += n;
        else if (kind == 'm') pending += 2 * (uint64_t)n;
        else {
            int wdt = scalar_width(m);
            if (wdt < 0) return EVOLU_E_MSGPACK;
            if (d->len - *pos < (size_t)wdt) return EVOLU_E_TRUNCATED;
            *pos += (size_t)wdt;
        }
    }
    return EVOLU_OK;
}

/* --- map keys ------------------------------------------------------------------- */

typedef struct mkeys {
    dec *d;
    uint32_t start, count, i, pos;
} mkeys;

static void mkeys_rewind(void *ctx) {
    mkeys *k = ctx;
    k->i = 0;
    k->pos = k->start;
}

/* The UTF-16 code units of a (validated) key, one at a time. */
typedef struct units {
    const uint8_t *p;
    size_t n, i;
    uint32_t pending; /* low surrogate of a 4-byte sequence, or 0 */
} units;

/* Next code unit; -1 at the end, -2 on invalid UTF-8. */
static int32_t unit_next(units *u) {
    if (u->pending) {
        int32_t v = (int32_t)u->pending;
        u->pending = 0;
        return v;
    }
    if (u->i >= u->n) return -1;
    uint32_t cp;
    unsigned len = evolu_json_wtf8_step(u->p + u->i, u->n - u->i, &cp);
    if (!len) return -2;
    u->i += len;
    if (cp >= 0x10000) {
        u->pending = 0xdc00 + ((cp - 0x10000) & 0x3ff);
        return (int32_t)(0xd800 + ((cp - 0x10000) >> 10));
    }
    return (int32_t)cp;
}

static evolu_err mkeys_next(void *ctx, evolu_jkey *k, bool *end) {
    mkeys *c = ctx;
    dec *d = c->d;
    if (c->i == c->count) {
        *end = true;
        return EVOLU_OK;
    }
    size_t pos = c->pos;
    if (pos >= d->len) return EVOLU_E_TRUNCATED;
    uint8_t m = d->p[pos++];
    char kind;
    uint32_t n;
    evolu_err e = read_len(d->p, d->len, &pos, m, &kind, &n);
    if (e) return e;
    if (kind != 's') return EVOLU_E_MSGPACK; /* 8.11.0: keys must be strings */
    if (!spend(d, 1 + (uint64_t)n / 8)) return EVOLU_E_LIMIT;
    k->off = (uint32_t)pos;
    k->len = n;
    units u = {d->p + pos, n, 0, 0};
    uint32_t h = EVOLU_JSON_HASH_INIT;
    for (;;) {
        int32_t v = unit_next(&u);
        if (v == -1) break;
        if (v == -2) return EVOLU_E_UTF8;
        h = evolu_json_hash_step(h, (uint32_t)v);
    }
    k->hash = h;
    k->is_index = evolu_json_index_key(d->p + pos, n, &k->index);
    pos += n;
    k->val = (uint32_t)pos;
    e = skip(d, &pos);
    if (e) return e;
    k->next = (uint32_t)pos;
    c->pos = (uint32_t)pos;
    c->i++;
    return EVOLU_OK;
}

static bool mkeys_equal(void *ctx, uint32_t a, uint32_t an, uint32_t b, uint32_t bn) {
    const mkeys *c = ctx;
    if (an == bn && memcmp(c->d->p + a, c->d->p + b, an) == 0) return true;
    /* different bytes can still be the same JS string (a surrogate pair as two
     * 3-byte sequences vs one 4-byte sequence) */
    (void)spend(c->d, 1 + ((uint64_t)an + bn) / 8);
    units ua = {c->d->p + a, an, 0, 0}, ub = {c->d->p + b, bn, 0, 0};
    for (;;) {
        int32_t x = unit_next(&ua), y = unit_next(&ub);
        if (x != y) return false;
        if (x < 0) return true;
    }
}


/* --- output --------------------------------------------------------------------- */

static evolu_err put_key(dec *d, uint32_t off, uint32_t len) {
    evolu_err e = evolu_json_put_string(d->w, d->p + off, len);
    if (e) return e;
    put(d, ":", 1);
    return EVOLU_OK;
}

static void put_separator(dec *d) {
    unsigned t = d->depth - 1;
    if (!(d->flags[t] & F_FIRST)) put(d, ",", 1);
    d->flags[t] &= (uint8_t)~F_FIRST;
}

static evolu_err push(dec *d, uint32_t count, uint8_t flags) {
    if (d->depth == EVOLU_JSON_MAX_DEPTH) return EVOLU_E_NESTING;
    d->rem[d->depth] = count;
    d->flags[d->depth] = (uint8_t)(flags | F_FIRST);
    d->depth++;
    return EVOLU_OK;
}

static evolu_err run(dec *d, unsigned base, bool at_value);

/* A map whose keys are not in JS order: validate all of it (as 8.11.0 decodes
 * every entry, also the ones a later duplicate overrides), then set up the
 * re-scanning emitter. */
static evolu_err open_slow_map(dec *d, uint32_t count) {
    if (d->nslow == EVOLU_JSON_MAX_SLOW_MAPS) return EVOLU_E_LIMIT;
    uint32_t start = (uint32_t)d->r->pos;
    evolu_writer *w = d->w;
    d->w = NULL;
    unsigned base = d->depth;
    evolu_err e = push(d, count, F_MAP);
    if (!e) e = run(d, base, false);
    d->w = w;
    if (e) return e;
    slowmap *f = &d->slow[d->nslow++];
    f->start = start;
    f->end = (uint32_t)d->r->pos;
    f->count = count;
    f->j = 0;
    f->jpos = start;
    f->has_last = false;
    f->index_phase = true;
    d->r->pos = start;
    return push(d, count, F_MAP | F_SLOW);
}

/* Positions the reader on the next value of the innermost (slow) map after
 * writing its key, or closes the map. */
static evolu_err slow_step(dec *d, bool *positioned) {
    slowmap *f = &d->slow[d->nslow - 1];
    mkeys c = {d, f->start, f->count, 0, f->start};
    evolu_jkey k, best;
    memset(&best, 0, sizeof best);
    bool end, found = false;
    evolu_err e;
    *positioned = false;
    if (f->index_phase) {
        /* smallest index key above the last one; its last occurrence */
        for (mkeys_rewind(&c);;) {
            end = false;
            if ((e = mkeys_next(&c, &k, &end))) return e;
            if (end) break;
            if (!k.is_index || (f->has_last && k.index <= f->last)) continue;
            if (!found || k.index <= best.index) best = k;
            found = true;
        }
        if (found) {
            put_separator(d);
            if ((e = put_key(d, best.off, best.len))) return e;
            f->last = best.index;
            f->has_last = true;
            d->r->pos = best.val;
            *positioned = true;
            return EVOLU_OK;
        }
        f->index_phase = false;
    }
    while (f->j < f->count) {
        mkeys one = {d, f->start, f->count, f->j, f->jpos};
        end = false;
        if ((e = mkeys_next(&one, &k, &end))) return e;
        uint32_t j = f->j++;
        f->jpos = k.next;
        if (k.is_index) continue;
        /* skip it if an earlier entry has the same key; else take the value of
         * the last entry that has it */
        bool earlier = false;
        uint32_t val = k.val;
        mkeys_rewind(&c);
        for (uint32_t i = 0; i < f->count; i++) {
            evolu_jkey o;
            end = false;
            if ((e = mkeys_next(&c, &o, &end))) return e;
            if (i == j || o.is_index || o.hash != k.hash) continue;
            if (!mkeys_equal(&c, o.off, o.len, k.off, k.len)) continue;
            if (i < j) {
                earlier = true;
                break;
            }
            val = o.val;
        }
        if (earlier) continue;
        put_separator(d);
        if ((e = put_key(d, k.off, k.len))) return e;
        d->r->pos = val;
        *positioned = true;
        return EVOLU_OK;
    }
    put(d, "}", 1);
    d->r->pos = f->end;
    d->nslow--;
    d->depth--;
    return EVOLU_OK;
}

/* One value at the reader: a scalar is written, a container is opened. */
static evolu_err value(dec *d) {
    evolu_reader *r = d->r;
    if (!spend(d, 1)) return EVOLU_E_LIMIT;
    if (r->pos >= r->len) return EVOLU_E_TRUNCATED;
    uint8_t m = r->p[r->pos];
    char kind;
    uint32_t n;
    size_t pos = r->pos + 1;
    evolu_err e = read_len(r->p, r->len, &pos, m, &kind, &n);
    if (e) return e;
    if (kind == 's') {
        if ((e = evolu_json_put_string(d->w, r->p + pos, n))) return e;
        r->pos = pos + n;
        return EVOLU_OK;
    }
    if (kind == 'a') {
        if (d->depth == EVOLU_JSON_MAX_DEPTH) return EVOLU_E_NESTING;
        r->pos = pos;
        put(d, "[", 1);
        return push(d, n, 0);
    }
    if (kind == 'm') {
        if (d->depth == EVOLU_JSON_MAX_DEPTH) return EVOLU_E_NESTING;
        r->pos = pos;
        put(d, "{", 1);
        if (d->w && n >= 2) {
            const evolu_jkey_ops mkeys_ops = {mkeys_rewind, mkeys_next, mkeys_equal};
            mkeys c = {d, (uint32_t)pos, n, 0, (uint32_t)pos};
            bool js_order;
            uint32_t count;
            if ((e = evolu_json_keys_check(&mkeys_ops, &c, &js_order, &count))) return e;
            if (!js_order) return open_slow_map(d, n);
        }
        return push(d, n, F_MAP);
    }
    switch (m) {
    case 0xc0: put(d, "null", 4); r->pos++; return EVOLU_OK;
    case 0xc2: put(d, "false", 5); r->pos++; return EVOLU_OK;
    case 0xc3: put(d, "true", 4); r->pos++; return EVOLU_OK;
    default: break;
    }
    double v;
    if ((e = evolu_msgpack_get_number(r, &v))) return e;
    char buf[EVOLU_JS_NUMBER_MAX_CHARS];
    put(d, buf, evolu_js_number_format(v, buf));
    return EVOLU_OK;
}

/* Decodes values until the container stack is back at `base` levels; at_value:
 * the reader is on a value (else on the next entry of the innermost level). */
static evolu_err run(dec *d, unsigned base, bool at_value) {
    evolu_err e;
    for (;;) {
        if (at_value && (e = value(d))) return e;
        at_value = true;
        for (;;) {
            if (d->depth == base) return EVOLU_OK;
            unsigned t = d->depth - 1;
            if (d->flags[t] & F_SLOW) {
                bool positioned;
                if ((e = slow_step(d, &positioned))) return e;
                if (positioned) break;
                continue;
            }
            if (d->rem[t] == 0) {
                put(d, (d->flags[t] & F_MAP) ? "}" : "]", 1);
                d->depth--;
                continue;
            }
            put_separator(d);
            d->rem[t]--;
            if (d->flags[t] & F_MAP) {
                size_t pos = d->r->pos;
                if (pos >= d->len) return EVOLU_E_TRUNCATED;
                uint8_t m = d->p[pos++];
                char kind;
                uint32_t n;
                if ((e = read_len(d->p, d->len, &pos, m, &kind, &n))) return e;
                if (kind != 's') return EVOLU_E_MSGPACK;
                if ((e = put_key(d, (uint32_t)pos, n))) return e;
                d->r->pos = pos + n;
            }
            break;
        }
    }
}

evolu_err evolu_msgpack_to_json(evolu_reader *r, evolu_writer *w) {
    dec d;
    size_t start = r->pos;
    if (!w) return EVOLU_E_ARG;
    if (r->len > UINT32_MAX) return EVOLU_E_LIMIT; /* offsets are 32-bit */
    d.p = r->p;
    d.len = r->len;
    d.r = r;
    d.w = w;
    d.work = EVOLU_JSON_WORK_BASE + (uint64_t)EVOLU_JSON_WORK_FACTOR * (r->len - r->pos);
    d.depth = 0;
    d.nslow = 0;
    evolu_err e = run(&d, 0, true);
    if (e) r->pos = start;
    return e;
}
