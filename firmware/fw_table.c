/*
 * fw_table.c - the device's copy of the app table `reading(value, note)`:
 * at most FW_ROWS rows, each cell at most FW_TEXT_MAX bytes, last writer wins
 * per cell by timestamp (TimestampBytes compare in timestamp order), like the
 * client database. Rows are kept sorted by their id string, which is the
 * order of `evolu query "... order by id"`.
 *
 * Nothing is ever truncated. A text or bytes cell longer than FW_TEXT_MAX is
 * not held: the cell keeps the change's timestamp (so last-writer-wins goes
 * on exactly as in the client database) and its length, and reports itself
 * as {"$notHeld":<bytes>} - the change itself is kept by the stream store and
 * synced like any other, so the device converges. So is a value whose
 * derived text is beyond the scratch, and a JSON value nested deeper than
 * the device decodes (EVOLU_JSON_MAX_DEPTH is small on the device: its
 * decoder keeps 5 bytes of stack per level). A change that cannot be read at
 * all is refused with a typed error by fw_table_check before anything of
 * its batch is applied.
 * Changes of other tables and other columns are ignored (the device shows
 * only what it knows). The table is a bounded view of the stream store: once
 * it holds FW_ROWS rows, changes of other rows are counted, not shown (see
 * fw_table in fw.h); their changes are stored and synced all the same.
 */
#include <string.h>

#include "evolu/id.h"
#include "evolu/json.h"
#include "fw.h"

static const char k_table[] = "reading";

static bool is_reading(const evolu_dbchange_view *v) {
    return v->table_len == sizeof k_table - 1 && !memcmp(v->table, k_table, v->table_len);
}

static int column_of(const evolu_column *c) {
    if (c->name_len == 5 && !memcmp(c->name, "value", 5)) return FW_COL_VALUE;
    if (c->name_len == 4 && !memcmp(c->name, "note", 4)) return FW_COL_NOTE;
    return -1;
}

static void id_string(const uint8_t id[EVOLU_ID_BYTES], char out[EVOLU_ID_CHARS]) {
    evolu_id_to_string(id, out);
}

/* Index of the row with this id, or where it would be inserted (*found). */
static size_t find(const fw_table *t, const uint8_t id[EVOLU_ID_BYTES], bool *found) {
    char want[EVOLU_ID_CHARS], have[EVOLU_ID_CHARS];
    id_string(id, want);
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        id_string(t->rows[mid].id, have);
        int c = memcmp(have, want, EVOLU_ID_CHARS);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    return lo;
}

/* The next column, its derived text in text[0..cap). A value the device
 * cannot derive (its text longer than cap, or a JSON value beyond the
 * device's nesting or work limits, evolu/json.h) is moved past with data
 * NULL: not held, never refused. */
static evolu_err next_column(evolu_dbchange_view *it, uint8_t *text, size_t cap,
                             evolu_column *col) {
    evolu_writer w = evolu_writer_make(text, cap);
    evolu_err e = evolu_dbchange_next_column(it, &w, col);
    if (e == EVOLU_E_BUFFER) e = evolu_dbchange_skip_column(it, col);
    return e;
}

evolu_err fw_table_check(const evolu_dbchange_view *v, uint8_t *text, size_t text_cap) {
    if (!is_reading(v)) return EVOLU_OK;
    evolu_dbchange_view it = *v;
    evolu_column col;
    evolu_err e;
    do e = next_column(&it, text, text_cap, &col);
    while (!e);
    return e == EVOLU_E_DONE ? EVOLU_OK : e;
}

static double cell_number(const fw_cell *c) {
    double d;
    memcpy(&d, c->data, sizeof d);
    return d;
}

static void cell_set_number(fw_cell *c, double d) { memcpy(c->data, &d, sizeof d); }

static bool newer(const fw_cell *c, const uint8_t ts[EVOLU_TIMESTAMP_BYTES]) {
    return memcmp(ts, c->ts, EVOLU_TIMESTAMP_BYTES) > 0;
}

evolu_err fw_table_apply(fw_table *t, const evolu_dbchange_view *v, uint8_t *text,
                         size_t text_cap) {
    if (!is_reading(v)) return EVOLU_OK;
    bool found;
    size_t at = find(t, v->id, &found);
    if (!found) {
        if (t->n >= FW_ROWS) {
            /* not held: the stream store keeps and syncs the change */
            t->changes_not_held++;
            t->changed = true;
            return EVOLU_OK;
        }
        memmove(&t->rows[at + 1], &t->rows[at], (t->n - at) * sizeof t->rows[0]);
        memset(&t->rows[at], 0, sizeof t->rows[at]);
        memcpy(t->rows[at].id, v->id, EVOLU_ID_BYTES);
        t->n++;
        t->changed = true;
    }
    fw_row *row = &t->rows[at];
    uint8_t ts[EVOLU_TIMESTAMP_BYTES];
    evolu_timestamp_to_bytes(&v->timestamp, ts);
    evolu_dbchange_view it = *v;
    evolu_column col;
    for (;;) {
        evolu_err e = next_column(&it, text, text_cap, &col);
        if (e == EVOLU_E_DONE) break;
        if (e) return e;
        int k = column_of(&col);
        if (k < 0 || !newer(&row->cell[k], ts)) continue;
        fw_cell *c = &row->cell[k];
        if (c->kind == FW_KIND_NOT_HELD) t->not_held--;
        memcpy(c->ts, ts, sizeof c->ts);
        c->kind = (uint8_t)col.value.kind;
        c->len = 0;
        if (col.value.kind == EVOLU_VALUE_NUMBER) cell_set_number(c, col.value.number);
        if (col.value.kind == EVOLU_VALUE_TEXT || col.value.kind == EVOLU_VALUE_BYTES) {
            if (col.value.len > FW_TEXT_MAX || !col.value.data) {
                /* not held: its length instead of its bytes, never a prefix */
                uint32_t n = col.value.len > UINT32_MAX ? UINT32_MAX : (uint32_t)col.value.len;
                c->kind = FW_KIND_NOT_HELD;
                memcpy(c->data, &n, sizeof n);
                t->not_held++;
            } else {
                c->len = (uint8_t)col.value.len;
                if (col.value.len) memcpy(c->data, col.value.data, col.value.len);
            }
        }
        t->changed = true;
    }
    if (v->is_delete >= 0 && memcmp(ts, row->del_ts, EVOLU_TIMESTAMP_BYTES) > 0) {
        memcpy(row->del_ts, ts, sizeof row->del_ts);
        row->deleted = v->is_delete > 0;
        t->changed = true;
    }
    return EVOLU_OK;
}

static bool deleted(const fw_row *r) { return r->deleted != 0; }

size_t fw_table_visible(const fw_table *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) n += !deleted(&t->rows[i]);
    return n;
}

/* --- JSON as `evolu query` prints it ---------------------------------------------- */

static void put(evolu_writer *w, const char *s) { evolu_put_bytes(w, (const uint8_t *)s, strlen(s)); }

static void put_string(evolu_writer *w, const uint8_t *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    evolu_put_u8(w, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            evolu_put_u8(w, '\\');
            evolu_put_u8(w, c);
        } else if (c == '\n') {
            put(w, "\\n");
        } else if (c == '\r') {
            put(w, "\\r");
        } else if (c == '\t') {
            put(w, "\\t");
        } else if (c == '\b') {
            put(w, "\\b");
        } else if (c == '\f') {
            put(w, "\\f");
        } else if (c < 0x20) {
            put(w, "\\u00");
            evolu_put_u8(w, (uint8_t)hex[c >> 4]);
            evolu_put_u8(w, (uint8_t)hex[c & 15]);
        } else {
            evolu_put_u8(w, c);
        }
    }
    evolu_put_u8(w, '"');
}

static void put_cell(evolu_writer *w, const fw_cell *c) {
    static const char hex[] = "0123456789abcdef";
    switch (c->kind) {
    case EVOLU_VALUE_NUMBER: {
        char num[EVOLU_JS_NUMBER_MAX_CHARS];
        size_t n = evolu_js_number_format(cell_number(c), num);
        evolu_put_bytes(w, (const uint8_t *)num, n);
        break;
    }
    case EVOLU_VALUE_TEXT:
        put_string(w, c->data, c->len);
        break;
    case EVOLU_VALUE_BYTES:
        put(w, "{\"$bytes\":\"");
        for (size_t i = 0; i < c->len; i++) {
            evolu_put_u8(w, (uint8_t)hex[c->data[i] >> 4]);
            evolu_put_u8(w, (uint8_t)hex[c->data[i] & 15]);
        }
        put(w, "\"}");
        break;
    case FW_KIND_NOT_HELD: {
        uint32_t n;
        memcpy(&n, c->data, sizeof n);
        put(w, "{\"$notHeld\":");
        char b[10];
        size_t i = sizeof b;
        do {
            b[--i] = (char)('0' + n % 10);
            n /= 10;
        } while (n);
        evolu_put_bytes(w, (const uint8_t *)b + i, sizeof b - i);
        put(w, "}");
        break;
    }
    default:
        put(w, "null");
        break;
    }
}

size_t fw_table_row_json(const fw_table *t, size_t i, char *out, size_t cap) {
    const fw_row *r = NULL;
    for (size_t k = 0, seen = 0; k < t->n; k++) {
        if (deleted(&t->rows[k])) continue;
        if (seen++ == i) {
            r = &t->rows[k];
            break;
        }
    }
    if (!r || cap == 0) return 0;
    evolu_writer w = evolu_writer_make((uint8_t *)out, cap - 1);
    char id[EVOLU_ID_CHARS];
    id_string(r->id, id);
    put(&w, "{\"id\":");
    put_string(&w, (const uint8_t *)id, sizeof id);
    put(&w, ",\"value\":");
    put_cell(&w, &r->cell[FW_COL_VALUE]);
    put(&w, ",\"note\":");
    put_cell(&w, &r->cell[FW_COL_NOTE]);
    put(&w, "}");
    if (w.err) return 0;
    out[w.len] = 0;
    return w.len;
}
