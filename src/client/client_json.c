/*
 * client_json.c - query rows as JSON and JSON objects as column values (see
 * evolu/client_json.h).
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/client_json.h"
#include "evolu/json.h"

/* --- output --------------------------------------------------------------------- */

void evolu_sbuf_free(evolu_sbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void evolu_sbuf_putn(evolu_sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void evolu_sbuf_puts(evolu_sbuf *b, const char *s) { evolu_sbuf_putn(b, s, strlen(s)); }

void evolu_sbuf_json_string(evolu_sbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    evolu_sbuf_putn(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
                u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = 0;
                esc = u;
            }
        }
        if (esc) {
            evolu_sbuf_putn(b, s + i - run, run);
            run = 0;
            evolu_sbuf_puts(b, esc);
        } else {
            run++;
        }
    }
    evolu_sbuf_putn(b, s + n - run, run);
    evolu_sbuf_putn(b, "\"", 1);
}

static void put_number(evolu_sbuf *b, double d) {
    if (d != d || d - d != 0) { /* NaN, +-Infinity: JSON.stringify writes null */
        evolu_sbuf_puts(b, "null");
        return;
    }
    char out[EVOLU_JS_NUMBER_MAX_CHARS];
    size_t n = evolu_js_number_format(d, out);
    evolu_sbuf_putn(b, out, n);
}

void evolu_sbuf_json_value(evolu_sbuf *b, sqlite3_value *v) {
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER: put_number(b, (double)sqlite3_value_int64(v)); break;
    case SQLITE_FLOAT: put_number(b, sqlite3_value_double(v)); break;
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_value_text(v);
        evolu_sbuf_json_string(b, t ? t : "", (size_t)sqlite3_value_bytes(v));
        break;
    }
    case SQLITE_BLOB: {
        static const char hex[] = "0123456789abcdef";
        const uint8_t *p = sqlite3_value_blob(v);
        size_t n = (size_t)sqlite3_value_bytes(v);
        evolu_sbuf_puts(b, "{\"$bytes\":\"");
        for (size_t i = 0; i < n; i++) {
            char h[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
            evolu_sbuf_putn(b, h, 2);
        }
        evolu_sbuf_puts(b, "\"}");
        break;
    }
    default: evolu_sbuf_puts(b, "null");
    }
}

evolu_err evolu_query_json(sqlite3 *q, const char *sql, evolu_row_fn fn, void *ctx,
                           char **errmsg) {
    if (errmsg) *errmsg = NULL;
    if (!q || !sql || !fn) return EVOLU_E_ARG;
    const char *tail = sql;
    evolu_sbuf b = {0};
    evolu_err e = EVOLU_OK;
    bool stop = false;
    while (!e && !stop && tail && *tail) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(q, tail, -1, &st, &tail) != SQLITE_OK) {
            e = EVOLU_E_STORAGE;
            break;
        }
        if (!st) break; /* only whitespace or a comment left */
        int rc;
        while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            b.len = 0;
            evolu_sbuf_putn(&b, "{", 1);
            int nc = sqlite3_column_count(st);
            for (int i = 0; i < nc; i++) {
                const char *name = sqlite3_column_name(st, i);
                if (i) evolu_sbuf_putn(&b, ",", 1);
                evolu_sbuf_json_string(&b, name ? name : "", name ? strlen(name) : 0);
                evolu_sbuf_putn(&b, ":", 1);
                evolu_sbuf_json_value(&b, sqlite3_column_value(st, i));
            }
            evolu_sbuf_putn(&b, "}", 1);
            if (b.oom) {
                e = EVOLU_E_NOMEM;
                break;
            }
            if (!fn(ctx, b.p, b.len)) stop = true;
        }
        if (!e && !stop && rc != SQLITE_DONE) e = EVOLU_E_STORAGE;
        sqlite3_finalize(st);
    }
    if (e == EVOLU_E_STORAGE && errmsg) {
        const char *m = sqlite3_errmsg(q);
        size_t n = strlen(m);
        *errmsg = malloc(n + 1);
        if (*errmsg) memcpy(*errmsg, m, n + 1);
    }
    evolu_sbuf_free(&b);
    return e;
}

/* --- input ---------------------------------------------------------------------- */

typedef struct jp {
    const char *s;
    size_t pos;
    const char *why;
} jp;

static void ws(jp *p) {
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
           p->s[p->pos] == '\r')
        p->pos++;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool hex4(jp *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p->s[p->pos + (size_t)i]);
        if (h < 0) return false;
        v = v * 16 + (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return true;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A JSON string at p->pos ('"'), decoded into *o (advanced). */
static bool jstring(jp *p, char **o, size_t *n) {
    if (p->s[p->pos] != '"') return (p->why = "expected a string"), false;
    p->pos++;
    char *start = *o;
    for (;;) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (!c) return (p->why = "unterminated string"), false;
        if (c < 0x20) return (p->why = "control character in a string"), false;
        p->pos++;
        if (c == '"') break;
        if (c != '\\') {
            *(*o)++ = (char)c;
            continue;
        }
        char e = p->s[p->pos++];
        unsigned cp;
        switch (e) {
        case '"': *(*o)++ = '"'; break;
        case '\\': *(*o)++ = '\\'; break;
        case '/': *(*o)++ = '/'; break;
        case 'b': *(*o)++ = '\b'; break;
        case 'f': *(*o)++ = '\f'; break;
        case 'n': *(*o)++ = '\n'; break;
        case 'r': *(*o)++ = '\r'; break;
        case 't': *(*o)++ = '\t'; break;
        case 'u':
            if (!hex4(p, &cp)) return (p->why = "bad \\u escape"), false;
            if (cp >= 0xd800 && cp < 0xdc00) {
                unsigned lo;
                if (p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                    return (p->why = "lone surrogate in a string"), false;
                p->pos += 2;
                if (!hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return (p->why = "lone surrogate in a string"), false;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return (p->why = "lone surrogate in a string"), false;
            }
            *o += put_utf8(*o, cp);
            break;
        default: return (p->why = "bad escape in a string"), false;
        }
    }
    *n = (size_t)(*o - start);
    return true;
}

static bool jnumber(jp *p, double *d) {
    size_t b = p->pos;
    if (p->s[p->pos] == '-') p->pos++;
    while ((p->s[p->pos] >= '0' && p->s[p->pos] <= '9') || p->s[p->pos] == '.' ||
           p->s[p->pos] == 'e' || p->s[p->pos] == 'E' || p->s[p->pos] == '+' ||
           p->s[p->pos] == '-')
        p->pos++;
    if (evolu_js_number_parse(p->s + b, p->pos - b, d))
        return (p->why = "bad number"), false;
    if (*d - *d != 0) return (p->why = "number out of range"), false;
    return true;
}

static bool lit(jp *p, const char *w) {
    size_t n = strlen(w);
    if (strncmp(p->s + p->pos, w, n)) return false;
    p->pos += n;
    return true;
}

evolu_err evolu_json_columns_parse(const char *text, evolu_json_columns *out,
                                   const char **why) {
    static const char *dummy;
    if (!why) why = &dummy;
    *why = NULL;
    if (!text || !out) return EVOLU_E_ARG;
    memset(out, 0, sizeof *out);
    size_t tl = strlen(text);
    out->mem = malloc(tl + 1);
    out->bytes = malloc(tl / 2 + 1);
    out->columns = calloc(tl / 4 + 1, sizeof *out->columns);
    if (!out->mem || !out->bytes || !out->columns) {
        evolu_json_columns_free(out);
        return EVOLU_E_NOMEM;
    }
    char *o = out->mem;
    uint8_t *bo = out->bytes;
    jp p = {text, 0, NULL};
    ws(&p);
    if (text[p.pos] != '{') {
        p.why = "expected a JSON object";
        goto bad;
    }
    p.pos++;
    ws(&p);
    if (text[p.pos] == '}') {
        p.pos++;
        goto end;
    }
    for (;;) {
        ws(&p);
        char *name = o;
        size_t nn;
        if (!jstring(&p, &o, &nn)) goto bad;
        for (size_t i = 0; i < out->n; i++)
            if (out->columns[i].name_len == nn && !memcmp(out->columns[i].name, name, nn)) {
                p.why = "duplicate key";
                goto bad;
            }
        ws(&p);
        if (text[p.pos] != ':') {
            p.why = "expected ':'";
            goto bad;
        }
        p.pos++;
        ws(&p);
        evolu_column *c = &out->columns[out->n];
        c->name = (const uint8_t *)name;
        c->name_len = nn;
        char ch = text[p.pos];
        if (ch == '"') {
            char *t = o;
            size_t tn;
            if (!jstring(&p, &o, &tn)) goto bad;
            c->value = evolu_value_text((const uint8_t *)t, tn);
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            double d;
            if (!jnumber(&p, &d)) goto bad;
            c->value = evolu_value_number(d);
        } else if (lit(&p, "null")) {
            c->value = evolu_value_null();
        } else if (lit(&p, "true")) {
            c->value = evolu_value_number(1);
        } else if (lit(&p, "false")) {
            c->value = evolu_value_number(0);
        } else if (ch == '{') {
            p.pos++;
            ws(&p);
            char *k = o;
            size_t kn;
            if (!jstring(&p, &o, &kn) || kn != 6 || memcmp(k, "$bytes", 6)) {
                p.why = "an object value must be {\"$bytes\":\"<hex>\"}";
                goto bad;
            }
            o = k;
            ws(&p);
            if (text[p.pos++] != ':') {
                p.why = "expected ':'";
                goto bad;
            }
            ws(&p);
            char *h = o;
            size_t hn;
            if (!jstring(&p, &o, &hn)) goto bad;
            o = h;
            if (hn % 2) {
                p.why = "$bytes needs an even number of hex digits";
                goto bad;
            }
            uint8_t *bytes = bo;
            for (size_t i = 0; i < hn; i += 2) {
                int hi = hexval(h[i]), lo = hexval(h[i + 1]);
                if (hi < 0 || lo < 0) {
                    p.why = "$bytes is not hex";
                    goto bad;
                }
                *bo++ = (uint8_t)(hi * 16 + lo);
            }
            ws(&p);
            if (text[p.pos++] != '}') {
                p.why = "an object value must be {\"$bytes\":\"<hex>\"} only";
                goto bad;
            }
            c->value = evolu_value_bytes(bytes, hn / 2);
        } else {
            p.why = "values must be strings, numbers, null, true, false or {\"$bytes\":\"<hex>\"}";
            goto bad;
        }
        out->n++;
        ws(&p);
        if (text[p.pos] == ',') {
            p.pos++;
            continue;
        }
        if (text[p.pos] == '}') {
            p.pos++;
            break;
        }
        p.why = "expected ',' or '}'";
        goto bad;
    }
end:
    ws(&p);
    if (text[p.pos]) {
        p.why = "unexpected text after the object";
        goto bad;
    }
    return EVOLU_OK;
bad:
    *why = p.why ? p.why : "invalid JSON";
    evolu_json_columns_free(out);
    return EVOLU_E_JSON;
}

void evolu_json_columns_free(evolu_json_columns *c) {
    if (!c) return;
    free(c->columns);
    free(c->mem);
    free(c->bytes);
    memset(c, 0, sizeof *c);
}
