/*
 * evolu/client_json.h - JSON at the edge of a client: rows of a query as one
 * JSON object each, and a JSON object of column values for a mutation. Used by
 * the `evolu` command and offered to applications as a small query helper.
 *
 * Value mapping (both directions, the `evolu` command's contract):
 *   TEXT    <-> JSON string (stored exactly, whatever it looks like)
 *   INTEGER, REAL <-> JSON number in JavaScript's format (1.0 -> 1, 1e21 -> 1e+21)
 *   NULL    <-> null
 *   BLOB    <-> {"$bytes":"<lowercase hex>"}
 *   true/false -> 1/0 (Evolu's SqliteBoolean); only on input.
 * Host code: allocates with malloc.
 */
#ifndef EVOLU_CLIENT_JSON_H
#define EVOLU_CLIENT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/dbchange.h"
#include "evolu/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;
struct sqlite3_value;

/* A growable text buffer (NUL-terminated while oom is false). */
typedef struct evolu_sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} evolu_sbuf;

void evolu_sbuf_free(evolu_sbuf *b);
void evolu_sbuf_putn(evolu_sbuf *b, const char *s, size_t n);
void evolu_sbuf_puts(evolu_sbuf *b, const char *s);
/* A JSON string literal of the UTF-8 text s[0..n) as JSON.stringify writes it. */
void evolu_sbuf_json_string(evolu_sbuf *b, const char *s, size_t n);
/* The JSON form of a SQLite value (mapping above). */
void evolu_sbuf_json_value(evolu_sbuf *b, struct sqlite3_value *v);

/* Called once per result row with its JSON object text (keys = result column
 * names in order). Return false to stop. */
typedef bool (*evolu_row_fn)(void *ctx, const char *json, size_t len);

/* Runs every statement of sql on q and calls fn for each row. EVOLU_E_STORAGE
 * with SQLite's message in *errmsg (malloc'd, may be NULL) if SQL fails. */
evolu_err evolu_query_json(struct sqlite3 *q, const char *sql, evolu_row_fn fn, void *ctx,
                           char **errmsg);

/* A parsed JSON object of column values: columns[i] point into the object's
 * own memory. */
typedef struct evolu_json_columns {
    evolu_column *columns;
    size_t n;
    char *mem; /* names and texts */
    uint8_t *bytes;
} evolu_json_columns;

/* Parses text as one JSON object whose values are strings, numbers, null,
 * true/false or {"$bytes":"hex"}. EVOLU_E_JSON with a plain-words reason in
 * *why (static text) for anything else (nested arrays/objects, duplicate
 * keys, bad hex, trailing data). */
evolu_err evolu_json_columns_parse(const char *text, evolu_json_columns *out,
                                   const char **why);
void evolu_json_columns_free(evolu_json_columns *c);

#ifdef __cplusplus
}
#endif
#endif
