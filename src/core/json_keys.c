/* json_keys.c - JS property order and duplicate keys, and JSON string output,
 * shared by both JSON directions (spec 2.7.2).
 *
 * JSON.parse keeps the first position and the last value of a duplicated key,
 * and JSON.stringify lists canonical array-index keys first, ascending. Both
 * directions therefore need "are these keys in JS order and unique?". Without
 * allocation the keys cannot all be held at once, so they are checked in
 * chunks of EVOLU_JSON_KEY_CHUNK: each chunk is loaded, sorted by hash, and
 * every later key is looked up in it by binary search. Cost: one walk over the
 * object per chunk of named keys; equal hashes are confirmed by comparing the
 * keys themselves.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json_internal.h"

typedef struct kent {
    uint32_t hash, off, len;
} kent;

static void sort_by_hash(kent *t, uint32_t n) {
    for (uint32_t i = 1; i < n; i++) {
        kent x = t[i];
        uint32_t j = i;
        while (j > 0 && t[j - 1].hash > x.hash) {
            t[j] = t[j - 1];
            j--;
        }
        t[j] = x;
    }
}

static bool chunk_has_dup(const evolu_jkey_ops *ops, void *ctx, const kent *t, uint32_t n) {
    for (uint32_t i = 0; i + 1 < n; i++)
        for (uint32_t j = i + 1; j < n && t[j].hash == t[i].hash; j++)
            if (ops->equal(ctx, t[i].off, t[i].len, t[j].off, t[j].len)) return true;
    return false;
}

evolu_err evolu_json_keys_check(const evolu_jkey_ops *ops, void *ctx, bool *js_order,
                                uint32_t *count) {
    kent t[EVOLU_JSON_KEY_CHUNK];
    uint32_t start = 0; /* ordinal (among named keys) of the chunk's first key */
    bool first_walk = true;
    *js_order = false;
    *count = 0;
    for (;;) {
        ops->rewind(ctx);
        uint32_t idx = 0, cnt = 0, total = 0, last_index = 0;
        bool sorted = false, more = false, named_seen = false, index_seen = false;
        for (;;) {
            evolu_jkey k;
            bool end = false;
            evolu_err e = ops->next(ctx, &k, &end);
            if (e) return e;
            if (end) break;
            total++;
            if (first_walk && k.is_index) {
                if (named_seen || (index_seen && k.index <= last_index)) return EVOLU_OK;
                index_seen = true;
                last_index = k.index;
            }
            if (k.is_index) continue;
            named_seen = true;
            if (idx < start) {
                idx++;
                continue;
            }
            if (idx < start + EVOLU_JSON_KEY_CHUNK) {
                t[cnt].hash = k.hash;
                t[cnt].off = k.off;
                t[cnt].len = k.len;
                cnt++;
                idx++;
                continue;
            }
            if (!sorted) {
                sort_by_hash(t, cnt);
                if (chunk_has_dup(ops, ctx, t, cnt)) return EVOLU_OK;
                sorted = true;
            }
            more = true;
            idx++;
            uint32_t lo = 0, hi = cnt; /* first entry with hash >= k.hash */
            while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                if (t[mid].hash < k.hash) lo = mid + 1;
                else hi = mid;
            }
            for (; lo < cnt && t[lo].hash == k.hash; lo++)
                if (ops->equal(ctx, t[lo].off, t[lo].len, k.off, k.len)) return EVOLU_OK;
        }
        if (first_walk) *count = total;
        if (!sorted) {
            sort_by_hash(t, cnt);
            if (chunk_has_dup(ops, ctx, t, cnt)) {
                *count = 0;
                return EVOLU_OK;
            }
        }
        if (!more) {
            *js_order = true;
            return EVOLU_OK;
        }
        start += EVOLU_JSON_KEY_CHUNK;
        first_walk = false;
    }
}

bool evolu_json_index_key(const uint8_t *p, size_t n, uint32_t *index) {
    if (n == 0 || n > 10 || (n > 1 && p[0] == '0')) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > 4294967294u) return false;
    *index = (uint32_t)v;
    return true;
}

static bool cont(uint8_t b) { return (b & 0xc0) == 0x80; }

unsigned evolu_json_wtf8_step(const uint8_t *p, size_t n, uint32_t *cp) {
    uint8_t b0 = p[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        if (n < 2 || !cont(p[1])) return 0;
        *cp = ((uint32_t)(b0 & 0x1f) << 6) | (p[1] & 0x3fu);
        return 2;
    }
    if (b0 >= 0xe0 && b0 <= 0xef) {
        if (n < 3 || (b0 == 0xe0 && p[1] < 0xa0) || !cont(p[1]) || !cont(p[2])) return 0;
        *cp = ((uint32_t)(b0 & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3fu);
        return 3;
    }
    if (b0 >= 0xf0 && b0 <= 0xf4) {
        if (n < 4 || (b0 == 0xf0 && p[1] < 0x90) || (b0 == 0xf4 && p[1] > 0x8f) || !cont(p[1]) ||
            !cont(p[2]) || !cont(p[3]))
            return 0;
        *cp = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
              ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3fu);
        return 4;
    }
    return 0;
}

static void put_utf8(evolu_writer *w, uint32_t cp) {
    uint8_t b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xc0 | (cp >> 6));
        b[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xe0 | (cp >> 12));
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (uint8_t)(0xf0 | (cp >> 18));
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    evolu_put_bytes(w, b, n);
}

static void put_u_escape(evolu_writer *w, uint32_t unit) {
    static const char hex[] = "0123456789abcdef";
    uint8_t b[6] = {'\\', 'u', (uint8_t)hex[(unit >> 12) & 15], (uint8_t)hex[(unit >> 8) & 15],
                    (uint8_t)hex[(unit >> 4) & 15], (uint8_t)hex[unit & 15]};
    evolu_put_bytes(w, b, 6);
}

evolu_err evolu_json_put_string(evolu_writer *w, const uint8_t *s, size_t n) {
    if (w) evolu_put_u8(w, '"');
    size_t i = 0, run = 0; /* run: start of pending literal bytes */
    while (i < n) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        uint32_t cp;
        unsigned len = evolu_json_wtf8_step(s + i, n - i, &cp);
        if (!len) return EVOLU_E_UTF8;
        bool literal = cp >= 0x80 && (cp < 0xd800 || cp > 0xdfff);
        if (literal) {
            i += len;
            continue;
        }
        if (w) evolu_put_bytes(w, s + run, i - run);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            unsigned len2 = i + 3 < n ? evolu_json_wtf8_step(s + i + 3, n - i - 3, &lo) : 0;
            if (len2 == 3 && lo >= 0xdc00 && lo <= 0xdfff) {
                /* a pair spelled as two 3-byte sequences is one character in JS */
                if (w) put_utf8(w, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
                i += 6;
            } else {
                if (w) put_u_escape(w, cp);
                i += 3;
            }
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            if (w) put_u_escape(w, cp);
            i += 3;
        } else {
            if (w) {
                uint8_t e[2] = {'\\', 0};
                switch (cp) {
                case '"': e[1] = '"'; break;
                case '\\': e[1] = '\\'; break;
                case 0x08: e[1] = 'b'; break;
                case 0x0c: e[1] = 'f'; break;
                case 0x0a: e[1] = 'n'; break;
                case 0x0d: e[1] = 'r'; break;
                case 0x09: e[1] = 't'; break;
                default: break;
                }
                if (e[1]) evolu_put_bytes(w, e, 2);
                else put_u_escape(w, cp);
            }
            i += 1;
        }
        run = i;
    }
    if (w) {
        evolu_put_bytes(w, s + run, n - run);
        evolu_put_u8(w, '"');
    }
    return EVOLU_OK;
}

void evolu_msgpack_put_str_header(evolu_writer *w, uint32_t n) {
    uint8_t b[5];
    if (n < 32) {
        evolu_put_u8(w, (uint8_t)(0xa0 | n));
    } else if (n < 256) {
        b[0] = 0xd9;
        b[1] = (uint8_t)n;
        evolu_put_bytes(w, b, 2);
    } else if (n < 65536) {
        b[0] = 0xda;
        evolu_store_be(b + 1, n, 2);
        evolu_put_bytes(w, b, 3);
    } else {
        b[0] = 0xdb;
        evolu_store_be(b + 1, n, 4);
        evolu_put_bytes(w, b, 5);
    }
}

void evolu_msgpack_put_container_header(evolu_writer *w, uint32_t n, uint8_t fix, uint8_t m16,
                                        uint8_t m32) {
    uint8_t b[5];
    if (n < 16) {
        evolu_put_u8(w, (uint8_t)(fix | n));
    } else if (n < 65536) {
        b[0] = m16;
        evolu_store_be(b + 1, n, 2);
        evolu_put_bytes(w, b, 3);
    } else {
        b[0] = m32;
        evolu_store_be(b + 1, n, 4);
        evolu_put_bytes(w, b, 5);
    }
}
