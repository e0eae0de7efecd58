/* json.c - canonical JSON text and its MessagePack encoding (spec 2.7.2).
 *
 * Canonical means JSON.stringify(JSON.parse(s)) === s, and that output has a
 * narrow grammar, so the check is a strict parser for exactly that grammar:
 * no whitespace, strings escaped as JSON.stringify escapes them, numbers equal
 * to Number::toString of their value, object keys in JS property order and
 * unique. Anything JSON.parse would accept but JSON.stringify would not
 * reproduce byte for byte is simply "not canonical".
 *
 * The parser is iterative: the only per-level state is one bit (array or
 * object), 125 bytes for EVOLU_JSON_MAX_DEPTH levels. When an object opens, its
 * keys are checked in a separate walk (json_keys.c); when encoding, an array's
 * element count is counted the same way, since MessagePack writes counts
 * first. Those walks skip nested values, so the worst case is
 * O(n * (nesting depth + keys per object / EVOLU_JSON_KEY_CHUNK)) - linear for
 * data of ordinary shape; this side only sees text the local app produced.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json_internal.h"

/* --- skipping (for the counting and key walks) --------------------------------- */

/* Skips one value of possibly invalid text; false if the text ends first. The
 * main parser validates everything, so this only has to be right for valid
 * canonical text and memory-safe for the rest. */
static bool skip_string(const uint8_t *s, size_t n, size_t *pos) {
    size_t p = *pos + 1;
    while (p < n) {
        if (s[p] == '\\') p += 2;
        else if (s[p] == '"') {
            *pos = p + 1;
            return true;
        } else p++;
    }
    return false;
}

static bool skip_value(const uint8_t *s, size_t n, size_t *pos) {
    size_t p = *pos;
    if (p >= n) return false;
    if (s[p] == '"') return skip_string(s, n, pos);
    if (s[p] == '[' || s[p] == '{') {
        size_t depth = 0;
        while (p < n) {
            uint8_t c = s[p];
            if (c == '"') {
                if (!skip_string(s, n, &p)) return false;
                continue;
            }
            if (c == '[' || c == '{') depth++;
            else if (c == ']' || c == '}') depth--;
            p++;
            if (depth == 0) {
                *pos = p;
                return true;
            }
        }
        return false;
    }
    while (p < n && s[p] != ',' && s[p] != ']' && s[p] != '}') p++;
    *pos = p;
    return true;
}

/* Elements of the array whose '[' is at s[pos - 1]. */
static bool count_elements(const uint8_t *s, size_t n, size_t pos, uint32_t *count) {
    uint32_t c = 0;
    if (pos < n && s[pos] == ']') {
        *count = 0;
        return true;
    }
    for (;;) {
        if (!skip_value(s, n, &pos)) return false;
        if (c == UINT32_MAX) return false;
        c++;
        if (pos >= n) return false;
        if (s[pos] == ']') break;
        if (s[pos] != ',') return false;
        pos++;
    }
    *count = c;
    return true;
}

/* --- the keys of one object in text -------------------------------------------- */

typedef struct tkeys {
    const uint8_t *s;
    size_t n, start, pos;
    bool first;
} tkeys;

static void tkeys_rewind(void *ctx) {
    tkeys *t = ctx;
    t->pos = t->start;
    t->first = true;
}

static evolu_err tkeys_next(void *ctx, evolu_jkey *k, bool *end) {
    tkeys *t = ctx;
    const uint8_t *s = t->s;
    size_t p = t->pos;
    if (p >= t->n) return EVOLU_E_JSON;
    if (s[p] == '}') {
        *end = true;
        return EVOLU_OK;
    }
    if (!t->first) {
        if (s[p] != ',') return EVOLU_E_JSON;
        p++;
    }
    t->first = false;
    if (p >= t->n || s[p] != '"') return EVOLU_E_JSON;
    size_t q = p;
    if (!skip_string(s, t->n, &q)) return EVOLU_E_JSON;
    k->off = (uint32_t)(p + 1);
    k->len = (uint32_t)(q - p - 2);
    uint32_t h = EVOLU_JSON_HASH_INIT;
    for (size_t i = p + 1; i < q - 1; i++) h = evolu_json_hash_step(h, s[i]);
    k->hash = h;
    k->is_index = evolu_json_index_key(s + p + 1, q - p - 2, &k->index);
    if (q >= t->n || s[q] != ':') return EVOLU_E_JSON;
    q++;
    k->val = (uint32_t)q;
    if (!skip_value(s, t->n, &q)) return EVOLU_E_JSON;
    k->next = (uint32_t)q;
    t->pos = q;
    return EVOLU_OK;
}

/* Keys of canonical text are canonically escaped, and the canonical escaping
 * of a string is unique, so equal raw bytes <=> equal strings (if either key is
 * escaped otherwise, the text is rejected anyway). */
static bool tkeys_equal(void *ctx, uint32_t a, uint32_t an, uint32_t b, uint32_t bn) {
    const tkeys *t = ctx;
    return an == bn && memcmp(t->s + a, t->s + b, an) == 0;
}


/* --- scalars ------------------------------------------------------------------- */

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* \uXXXX at s[p] (the backslash), any hex case; -1 if not one. */
static int32_t u_escape(const uint8_t *s, size_t n, size_t p, bool lowercase_only) {
    if (n - p < 6 || s[p] != '\\' || s[p + 1] != 'u') return -1;
    int32_t v = 0;
    for (int i = 2; i < 6; i++) {
        int h = hexval(s[p + (size_t)i]);
        if (h < 0 || (lowercase_only && s[p + (size_t)i] >= 'A' && s[p + (size_t)i] <= 'F'))
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A canonical string at s[*pos] == '"'; with w, writes it as a MessagePack str. */
static evolu_err string_token(const uint8_t *s, size_t n, size_t *pos, evolu_writer *w) {
    size_t p = *pos + 1;
    uint64_t blen = 0; /* UTF-8 (WTF-8) length of the decoded string */
    for (;;) {
        if (p >= n) return EVOLU_E_JSON;
        uint8_t c = s[p];
        if (c == '"') break;
        if (c < 0x20) return EVOLU_E_JSON;
        if (c < 0x80 && c != '\\') {
            blen++;
            p++;
            continue;
        }
        if (c == '\\') {
            if (p + 1 >= n) return EVOLU_E_JSON;
            switch (s[p + 1]) {
            case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
                blen++;
                p += 2;
                continue;
            default: break;
            }
            int32_t v = u_escape(s, n, p, true);
            if (v < 0) return EVOLU_E_JSON;
            if (v < 0x20 && v != 8 && v != 9 && v != 10 && v != 12 && v != 13) {
                blen += 1;
            } else if (v >= 0xd800 && v <= 0xdfff) {
                if (v <= 0xdbff) { /* lone only if no low surrogate escape follows */
                    int32_t lo = u_escape(s, n, p + 6, false);
                    if (lo >= 0xdc00 && lo <= 0xdfff) return EVOLU_E_JSON;
                }
                blen += 3;
            } else {
                return EVOLU_E_JSON;
            }
            p += 6;
            continue;
        }
        uint32_t cp;
        unsigned len = evolu_json_wtf8_step(s + p, n - p, &cp);
        if (!len || (cp >= 0xd800 && cp <= 0xdfff)) return EVOLU_E_JSON; /* strict UTF-8 */
        blen += len;
        p += len;
    }
    size_t start = *pos, end = p;
    *pos = end + 1;
    if (!w) return EVOLU_OK;
    if (blen > UINT32_MAX) return EVOLU_E_LIMIT;
    evolu_msgpack_put_str_header(w, (uint32_t)blen);
    size_t i = start + 1, run = i;
    while (i < end) {
        if (s[i] != '\\') {
            i++;
            continue;
        }
        evolu_put_bytes(w, s + run, i - run);
        uint32_t cp;
        switch (s[i + 1]) {
        case 'b': cp = 0x08; break;
        case 'f': cp = 0x0c; break;
        case 'n': cp = 0x0a; break;
        case 'r': cp = 0x0d; break;
        case 't': cp = 0x09; break;
        case 'u': cp = (uint32_t)u_escape(s, n, i, true); break;
        default: cp = s[i + 1]; break; /* '"' or '\\' */
        }
        i += s[i + 1] == 'u' ? 6 : 2;
        if (cp < 0x80) {
            evolu_put_u8(w, (uint8_t)cp);
        } else { /* a lone surrogate: the 3-byte form, as 8.11.0 writes it */
            uint8_t b3[3] = {(uint8_t)(0xe0 | (cp >> 12)), (uint8_t)(0x80 | ((cp >> 6) & 0x3f)),
                             (uint8_t)(0x80 | (cp & 0x3f))};
            evolu_put_bytes(w, b3, 3);
        }
        run = i;
    }
    evolu_put_bytes(w, s + run, end - run);
    return EVOLU_OK;
}

/* A number token: its text must be exactly Number::toString of its value. */
static evolu_err number_token(const uint8_t *s, size_t n, size_t *pos, evolu_writer *w) {
    size_t p = *pos, q = p;
    while (q < n && ((s[q] >= '0' && s[q] <= '9') || s[q] == '-' || s[q] == '.' || s[q] == 'e' ||
                     s[q] == 'E' || s[q] == '+'))
        q++;
    size_t len = q - p;
    if (len == 0 || len > EVOLU_JS_NUMBER_MAX_CHARS) return EVOLU_E_JSON;
    double v;
    if (evolu_js_number_parse((const char *)s + p, len, &v)) return EVOLU_E_JSON;
    char buf[EVOLU_JS_NUMBER_MAX_CHARS];
    size_t bl = evolu_js_number_format(v, buf);
    if (bl != len || memcmp(buf, s + p, len) != 0) return EVOLU_E_JSON;
    if (w) evolu_msgpack_put_number(w, v);
    *pos = q;
    return EVOLU_OK;
}

static evolu_err scalar(const uint8_t *s, size_t n, size_t *pos, evolu_writer *w) {
    size_t p = *pos;
    switch (s[p]) {
    case '"': return string_token(s, n, pos, w);
    case 'n':
    case 't':
    case 'f': {
        const char *word = s[p] == 'n' ? "null" : s[p] == 't' ? "true" : "false";
        size_t len = s[p] == 'f' ? 5 : 4;
        if (n - p < len || memcmp(s + p, word, len) != 0) return EVOLU_E_JSON;
        if (w) evolu_put_u8(w, s[p] == 'n' ? 0xc0 : s[p] == 't' ? 0xc3 : 0xc2);
        *pos = p + len;
        return EVOLU_OK;
    }
    default:
        if (s[p] == '-' || (s[p] >= '0' && s[p] <= '9')) return number_token(s, n, pos, w);
        return EVOLU_E_JSON;
    }
}

/* The canonical check, and with w the encoding. EVOLU_E_JSON: not canonical;
 * EVOLU_E_NESTING: canonical but deeper than EVOLU_JSON_MAX_DEPTH. */
static evolu_err walk(const uint8_t *s, size_t n, evolu_writer *w) {
    uint8_t is_object[(EVOLU_JSON_MAX_DEPTH + 7) / 8];
    size_t depth = 0, pos = 0;
    bool want_key = false; /* else want a value */
    if (n > UINT32_MAX) return EVOLU_E_LIMIT; /* key offsets are 32-bit */
    for (;;) {
        if (pos >= n) return EVOLU_E_JSON;
        if (want_key) {
            if (s[pos] != '"') return EVOLU_E_JSON;
            evolu_err e = string_token(s, n, &pos, w);
            if (e) return e;
            if (pos >= n || s[pos] != ':') return EVOLU_E_JSON;
            pos++;
            want_key = false;
            continue;
        }
        uint8_t c = s[pos];
        if (c == '[' || c == '{') {
            if (depth == EVOLU_JSON_MAX_DEPTH) return EVOLU_E_NESTING;
            bool obj = c == '{';
            uint32_t count = 0;
            if (obj) {
                /* built here: a static table of function pointers would be
                 * relocated data, which the freestanding check forbids */
                const evolu_jkey_ops tkeys_ops = {tkeys_rewind, tkeys_next, tkeys_equal};
                tkeys t = {s, n, pos + 1, pos + 1, true};
                bool ok;
                evolu_err e = evolu_json_keys_check(&tkeys_ops, &t, &ok, &count);
                if (e || !ok) return EVOLU_E_JSON;
            } else if (w && !count_elements(s, n, pos + 1, &count)) {
                return EVOLU_E_JSON;
            }
            if (w) {
                if (obj) evolu_msgpack_put_container_header(w, count, 0x80, 0xde, 0xdf);
                else evolu_msgpack_put_container_header(w, count, 0x90, 0xdc, 0xdd);
            }
            if (obj) is_object[depth / 8] |= (uint8_t)(1u << (depth % 8));
            else is_object[depth / 8] &= (uint8_t)~(1u << (depth % 8));
            depth++;
            pos++;
            if (pos < n && s[pos] == (obj ? '}' : ']')) {
                pos++;
                depth--;
            } else {
                want_key = obj;
                continue;
            }
        } else {
            evolu_err e = scalar(s, n, &pos, w);
            if (e) return e;
        }
        /* after a value: close containers until one continues */
        for (;;) {
            if (depth == 0) return pos == n ? EVOLU_OK : EVOLU_E_JSON;
            if (pos >= n) return EVOLU_E_JSON;
            bool obj = (is_object[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            if (s[pos] == ',') {
                pos++;
                want_key = obj;
                break;
            }
            if (s[pos] != (obj ? '}' : ']')) return EVOLU_E_JSON;
            pos++;
            depth--;
        }
    }
}

bool evolu_json_is_canonical(const uint8_t *s, size_t n) { return walk(s, n, NULL) == EVOLU_OK; }

evolu_err evolu_json_to_msgpack(const uint8_t *s, size_t n, evolu_writer *w) {
    evolu_err e = walk(s, n, NULL);
    if (e) return e;
    return walk(s, n, w);
}
