/*
 * fw_app.c - the firmware app: boot, trusted state (provisioning an owner
 * from its derived keys on first boot), a `reading` row every tick (encrypted
 * with the owner's key, stamped by the HLC, merged into the stream store on
 * the host, pushed), sync as the RBSR initiator over the stream store, and
 * the table state reported as JSON lines (docs/firmware.md has the lines).
 */
#include <stddef.h>
#include <string.h>

#include "evolu/dbchange.h"
#include "evolu/hlc.h"
#include "evolu/id.h"
#include "evolu/json.h"
#include "fw.h"

static evolu_fw g_fw; /* the firmware's RAM besides the stack: one struct */

#define FW_QUIET_MS 20000u /* longest wait for a message going into its blob */

/* --- report lines --------------------------------------------------------------- */

void fw_addn(evolu_fw *fw, const char *s, size_t n) {
    size_t room = sizeof fw->line - 1 - fw->line_len;
    if (n > room) n = room;
    memcpy(fw->line + fw->line_len, s, n);
    fw->line_len += n;
    fw->line[fw->line_len] = 0;
}
void fw_add(evolu_fw *fw, const char *s) { fw_addn(fw, s, strlen(s)); }
void fw_line(evolu_fw *fw, const char *s) {
    fw->line_len = 0;
    fw_add(fw, "evolu-fw: ");
    fw_add(fw, s);
}
void fw_addu(evolu_fw *fw, uint64_t v) {
    char b[24];
    size_t i = sizeof b;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fw_addn(fw, b + i, sizeof b - i);
}
void fw_emit(evolu_fw *fw) { fw->dp->report(fw->dp->ctx, fw->line, fw->line_len); }
void fw_error(evolu_fw *fw, const char *what, evolu_err e) {
    fw_line(fw, "error ");
    fw_add(fw, what);
    fw_add(fw, " ");
    fw_add(fw, evolu_errname(e));
    fw_emit(fw);
}

static void add_id(evolu_fw *fw, const char *key, const uint8_t id[EVOLU_ID_BYTES]) {
    char s[EVOLU_ID_CHARS];
    evolu_id_to_string(id, s);
    fw_add(fw, key);
    fw_addn(fw, s, sizeof s);
}

/* --- the port table the core sees: the board's crypto, TRNG and RTC ----------------- */

static evolu_fw *port_fw(void *ctx) { return ctx; }
static const evolu_port *cr(void *ctx) { return port_fw(ctx)->dp->crypto; }
static int p_enc(void *ctx, uint8_t *c, const uint8_t *m, size_t n, const uint8_t *nonce,
                 const uint8_t *key) {
    return cr(ctx)->aead_encrypt(cr(ctx)->ctx, c, m, n, nonce, key);
}
static int p_dec(void *ctx, uint8_t *m, const uint8_t *c, size_t n, const uint8_t *nonce,
                 const uint8_t *key) {
    return cr(ctx)->aead_decrypt(cr(ctx)->ctx, m, c, n, nonce, key);
}
static void p_sha(void *ctx, uint8_t out[32], const uint8_t *m, size_t n) {
    cr(ctx)->sha256(cr(ctx)->ctx, out, m, n);
}
static void p_hmac(void *ctx, uint8_t out[64], const uint8_t *k, size_t kn, const uint8_t *m1,
                   size_t n1, const uint8_t *m2, size_t n2) {
    cr(ctx)->hmac_sha512(cr(ctx)->ctx, out, k, kn, m1, n1, m2, n2);
}
static void p_random(void *ctx, uint8_t *b, size_t n) {
    const evolu_device_port *dp = port_fw(ctx)->dp;
    dp->random(dp->ctx, b, n);
}
static int64_t p_now(void *ctx) {
    const evolu_device_port *dp = port_fw(ctx)->dp;
    return dp->now_ms(dp->ctx);
}
static void p_zero(void *ctx, void *p, size_t n) { cr(ctx)->memzero(cr(ctx)->ctx, p, n); }
static int p_eq(void *ctx, const void *a, const void *b, size_t n) {
    return cr(ctx)->memeq(cr(ctx)->ctx, a, b, n);
}

/* --- arguments: "owner_keys=<hex> ticks=N period_ms=M idle=K sync_timeout_ms=T" ----- */

static bool parse_u32(const char *s, uint32_t *out) {
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX) return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* Unknown keys are ignored (a later version's arguments); mnemonic= is
 * refused by name: the device takes the derived keys, not the words. */
static bool parse_args(evolu_fw *fw) {
    fw_args *a = &fw->args;
    a->ticks = 5;
    a->period_ms = 1000;
    a->idle_ticks = 0;
    a->sync_timeout_ms = 3000;
    a->owner_keys = NULL;
    a->mnemonic_given = false;
    size_t n = fw->dp->args(fw->dp->ctx, fw->argbuf, sizeof fw->argbuf);
    if (n >= sizeof fw->argbuf) return false;
    fw->argbuf[n] = 0;
    char *p = fw->argbuf;
    bool ok = true;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        char *tok = p;
        while (*p && *p != ' ') p++;
        if (*p) *p++ = 0;
        uint32_t *dst = NULL;
        const char *val = NULL;
        if (!strncmp(tok, "owner_keys=", 11)) a->owner_keys = tok + 11;
        else if (!strncmp(tok, "mnemonic=", 9)) a->mnemonic_given = true, ok = false;
        else if (!strncmp(tok, "ticks=", 6)) dst = &a->ticks, val = tok + 6;
        else if (!strncmp(tok, "period_ms=", 10)) dst = &a->period_ms, val = tok + 10;
        else if (!strncmp(tok, "idle=", 5)) dst = &a->idle_ticks, val = tok + 5;
        else if (!strncmp(tok, "sync_timeout_ms=", 16)) dst = &a->sync_timeout_ms, val = tok + 16;
        if (dst && !parse_u32(val, dst)) ok = false;
    }
    return ok;
}

/* --- trusted state and provisioning ------------------------------------------------- */

/* The store hands over the state it is about to adopt (not yet in
 * fw->trusted): that is what must reach flash. */
static evolu_err save_trusted(void *ctx, const evolu_stream_trusted *t) {
    return fw_state_save(ctx, t);
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* owner_keys=<hex of owner id 16 B | encryption key 32 B | write key 16 B>,
 * what `evolu owner show --device` prints: the owner's keys derived on the
 * host from its mnemonic, so the device needs no BIP-39 list, no SLIP-21 and
 * no SHA-512. The argument is wiped once read. */
__attribute__((noinline)) static evolu_err provision(evolu_fw *fw) {
    char *k = fw->args.owner_keys;
    if (!k) return EVOLU_E_ARG;
    uint8_t raw[sizeof fw->owner.id + sizeof fw->owner.encryption_key +
                sizeof fw->owner.write_key];
    size_t n = strlen(k);
    evolu_err e = n == 2 * sizeof raw ? EVOLU_OK : EVOLU_E_INVALID;
    for (size_t i = 0; !e && i < sizeof raw; i++) {
        int hi = hex_digit(k[2 * i]), lo = hex_digit(k[2 * i + 1]);
        if (hi < 0 || lo < 0) e = EVOLU_E_INVALID;
        else raw[i] = (uint8_t)(hi << 4 | lo);
    }
    fw->port.memzero(fw->port.ctx, k, n);
    if (!e) {
        memcpy(fw->owner.id, raw, sizeof fw->owner.id);
        memcpy(fw->owner.encryption_key, raw + sizeof fw->owner.id,
               sizeof fw->owner.encryption_key);
        memcpy(fw->owner.write_key, raw + sizeof fw->owner.id + sizeof fw->owner.encryption_key,
               sizeof fw->owner.write_key);
    }
    fw->port.memzero(fw->port.ctx, raw, sizeof raw);
    if (e) return e;
    memset(&fw->trusted, 0, sizeof fw->trusted);
    fw->port.random(fw->port.ctx, fw->trusted.key, sizeof fw->trusted.key);
    evolu_hlc_init(&fw->port, &fw->clock);
    return fw_state_save(fw, &fw->trusted);
}

/* --- decrypting and applying changes -------------------------------------------------- */

/* Decrypts in place: the plaintext replaces the ciphertext in enc (libsodium
 * decrypts with m == c), so a change needs one buffer, not two. enc is
 * unusable afterwards. */
static evolu_err open_change(evolu_fw *fw, const evolu_timestamp *ts, uint8_t *enc, size_t len,
                             evolu_dbchange_view *v) {
    /* where the ciphertext starts: after the nonce and its length */
    evolu_reader r = evolu_reader_make(enc, len);
    const uint8_t *nonce;
    uint64_t ct_len;
    size_t off = 0;
    if (!evolu_get_span(&r, &nonce, EVOLU_AEAD_NONCE_BYTES) && !evolu_get_varint(&r, &ct_len))
        off = len - evolu_reader_left(&r);
    /* (a framing error: decrypt reports it before it writes anything) */
    size_t plen = 0;
    evolu_err e = evolu_dbchange_decrypt(&fw->port, fw->owner.encryption_key, ts, enc, len,
                                         enc + off, len - off, &plen);
    if (e == EVOLU_E_BUFFER) return EVOLU_E_LIMIT; /* larger than the device takes */
    if (e) return e;
    return evolu_dbchange_parse(enc + off, plen, v);
}

/* --- a received message, read back from its host blob ------------------------------- */

/* The next message of the received message: its change read into fw->change.
 * A change larger than FW_CHANGE_MAX is refused (EVOLU_E_LIMIT), never cut. */
static evolu_err next_received(evolu_fw *fw, evolu_timestamp *ts, size_t *len) {
    uint64_t off, n;
    evolu_err e = evolu_msg_sreader_next_message(&fw->rd, ts, &off, &n);
    if (e) return e;
    if (n > sizeof fw->change) return EVOLU_E_LIMIT;
    *len = (size_t)n;
    return fw->rd.src->read(fw->rd.src->ctx, off, fw->change, *len);
}

/* The batch the stream store merges: timestamps and lengths from the reader;
 * each new change is copied from the message's blob to its own blob. */
static void rb_rewind(void *ctx) { evolu_msg_sreader_rewind(&((evolu_fw *)ctx)->rd); }
static evolu_err rb_next(void *ctx, evolu_timestamp *ts, const uint8_t **change, size_t *len) {
    evolu_fw *fw = ctx;
    uint64_t off, n;
    evolu_err e = evolu_msg_sreader_next_message(&fw->rd, ts, &off, &n);
    if (e) return e;
    if (n > sizeof fw->change) return EVOLU_E_LIMIT;
    fw->rd_pos = off;
    *change = fw->change; /* not read: the merge asks rb_put */
    *len = (size_t)n;
    return EVOLU_OK;
}
static uint64_t rb_position(void *ctx) { return ((evolu_fw *)ctx)->rd_pos; }
static evolu_err rb_put(void *ctx, uint64_t pos, const uint8_t ts[EVOLU_TIMESTAMP_BYTES],
                        size_t len) {
    evolu_fw *fw = ctx;
    if (len > sizeof fw->change) return EVOLU_E_LIMIT;
    evolu_err e = fw->rd.src->read(fw->rd.src->ctx, pos, fw->change, len);
    if (!e) e = fw->host.blob_put(fw->host.ctx, ts, fw->change, len);
    return e;
}

/* Applies the messages of a received message: check every change first (all
 * or nothing: a change that cannot be read refuses the batch with a typed
 * error; the table's size never does, see fw_table), apply them to the table
 * last-writer-wins, advance the HLC, then merge them into the stream store
 * (which saves the trusted state, clock included). Each pass reads the
 * changes from the host again, one at a time. */
static evolu_err fw_write_source(void *ctx, evolu_msg_sreader *rd) {
    evolu_fw *fw = ctx;
    evolu_timestamp ts, clk = fw->clock;
    size_t len;
    int64_t now = fw->port.now_ms(fw->port.ctx);
    evolu_dbchange_view v;
    evolu_err e;
    evolu_msg_sreader_rewind(rd);
    while ((e = next_received(fw, &ts, &len)) == EVOLU_OK) {
        e = open_change(fw, &ts, fw->change, len, &v);
        if (!e) e = fw_table_check(&v, fw->text, sizeof fw->text);
        evolu_timestamp next;
        if (!e) e = evolu_hlc_receive(&clk, &ts, now, EVOLU_HLC_MAX_DRIFT, &next, NULL);
        if (e) return e;
        clk = next;
    }
    if (e != EVOLU_E_DONE) return e;
    evolu_msg_sreader_rewind(rd);
    while ((e = next_received(fw, &ts, &len)) == EVOLU_OK) {
        e = open_change(fw, &ts, fw->change, len, &v);
        if (!e) e = fw_table_apply(&fw->table, &v, fw->text, sizeof fw->text);
        if (e) return e;
        fw->messages_applied++;
    }
    if (e != EVOLU_E_DONE) return e;
    fw->clock = clk;
    evolu_store_batch batch = {fw, rd->n_messages, rb_rewind, rb_next};
    evolu_stream_changes changes = {fw, rb_position, rb_put};
    return evolu_stream_store_merge_source(&fw->store, &batch, &changes, NULL);
}

/* Boot: rebuild the table from the changes cached on the host, in the
 * store's order; past FW_ROWS rows the rest is counted, as in a run. */
typedef struct {
    evolu_fw *fw;
    evolu_err err;
    size_t used;
} rebuild_ctx;

/* A cached change is read into fw->change (it shares the idle arena with
 * the decryption buffers); one that does not fit could not be decrypted. */
static evolu_err bump_alloc(void *ctx, size_t n, uint8_t **out) {
    rebuild_ctx *r = ctx;
    if (n > sizeof r->fw->change - r->used) return EVOLU_E_LIMIT;
    *out = r->fw->change + r->used;
    r->used += n;
    return EVOLU_OK;
}

static bool rebuild_visit(void *ctx, const uint8_t key[EVOLU_TIMESTAMP_BYTES], uint64_t index) {
    (void)index;
    rebuild_ctx *r = ctx;
    evolu_fw *fw = r->fw;
    evolu_timestamp ts;
    const uint8_t *change;
    size_t len;
    evolu_dbchange_view v;
    evolu_store_arena arena = {r, bump_alloc};
    r->used = 0;
    r->err = evolu_timestamp_from_bytes(key, &ts);
    if (!r->err)
        r->err = fw->stream_table.read_change(fw->stream_table.ctx, key, &arena, &change, &len);
    /* read into fw->change (bump_alloc hands out only that buffer), so it
     * can be decrypted in place there */
    if (!r->err) r->err = open_change(fw, &ts, fw->change + (change - fw->change), len, &v);
    if (!r->err) r->err = fw_table_apply(&fw->table, &v, fw->text, sizeof fw->text);
    return r->err == EVOLU_OK;
}

/* --- reports ------------------------------------------------------------------------- */

__attribute__((noinline)) static void report_table(evolu_fw *fw) {
    size_t n = fw_table_visible(&fw->table);
    fw_line(fw, "table rows=");
    fw_addu(fw, n);
    if (fw->table.not_held) {
        fw_add(fw, " not_held=");
        fw_addu(fw, fw->table.not_held);
    }
    if (fw->table.changes_not_held) {
        fw_add(fw, " changes_not_held=");
        fw_addu(fw, fw->table.changes_not_held);
    }
    fw_emit(fw);
    for (size_t i = 0; i < n; i++) {
        fw_line(fw, "row ");
        size_t k = fw_table_row_json(&fw->table, i, fw->line + fw->line_len,
                                     sizeof fw->line - fw->line_len);
        fw->line_len += k;
        fw_emit(fw);
    }
    fw->table.changed = false;
}

/* --- protocol traffic ---------------------------------------------------------------- */

static evolu_err send_built(evolu_fw *fw) {
    evolu_err e = fw_msg_send_built(fw, &fw->builder);
    if (!e) fw->outstanding++;
    return e;
}

/* Handles a received protocol message, if one is complete. */
__attribute__((noinline)) static void handle_incoming(evolu_fw *fw) {
    if (!fw->rx_ready) return;
    fw->rx_ready = false;
    fw->rx_busy = true;
    if (fw->outstanding) fw->outstanding--;
    /* no scratch: the engine streams a peer's Timestamps list against the
     * store instead of sorting a copy (same bytes, no RAM) */
    evolu_client_config cc = {fw->owner.id, &fw->table_store, fw->owner.write_key, 0,
                              FW_RX_MAX,    false,            NULL,                0,
                              FW_REPLY_MAX};
    /* The message is read from its host blob through the window; the reply
     * is left in the builder (reply NULL) and streamed to the link. */
    evolu_source src;
    fw_rx_source(fw, &src);
    evolu_client_outcome out;
    memset(&out, 0, sizeof out);
    evolu_err e = evolu_client_handle_source(&cc, &fw->rd, &src, fw->window, sizeof fw->window,
                                             fw_write_source, fw, &fw->builder, NULL, &out);
    if (!e && out.status == EVOLU_CLIENT_RESPONSE) {
        e = send_built(fw);
    } else if (!e && out.status == EVOLU_CLIENT_CONVERGED) {
        fw->syncs++;
        fw_line(fw, "synced entries=");
        fw_addu(fw, evolu_stream_store_count(&fw->store));
        fw_add(fw, " rows=");
        fw_addu(fw, fw_table_visible(&fw->table));
        fw_emit(fw);
    } else if (!e && out.status == EVOLU_CLIENT_BROADCAST) {
        fw_line(fw, "broadcast applied");
        fw_emit(fw);
    }
    if (e) {
        fw_error(fw, "sync", e);
        if (out.local_failure) fw_error(fw, "sync-cause", out.cause);
    }
    fw->rx_busy = false;
    if (fw->table.changed) report_table(fw);
}

static uint32_t ticks(evolu_fw *fw) { return fw->dp->ticks_ms(fw->dp->ctx); }

/* Pumps the link for ms milliseconds, handling whatever arrives. */
static void run_for(evolu_fw *fw, uint32_t ms) {
    uint32_t start = ticks(fw);
    for (;;) {
        uint32_t el = ticks(fw) - start;
        if (el >= ms || fw->closed) break;
        fw_pump(fw, ms - el < 50 ? ms - el : 50);
        handle_incoming(fw);
    }
}

/* Waits until every request was answered (or the timeout). */
static bool wait_answers(evolu_fw *fw) {
    uint32_t start = ticks(fw);
    while (fw->outstanding && !fw->closed) {
        if (ticks(fw) - start > fw->args.sync_timeout_ms) {
            fw->outstanding = 0;
            fw_line(fw, "sync pending (no answer yet)");
            fw_emit(fw);
            return false;
        }
        fw_pump(fw, 20);
        handle_incoming(fw);
    }
    return true;
}

__attribute__((noinline)) static void sync_round(evolu_fw *fw) {
    evolu_rbsr r;
    evolu_rbsr_init(&r, &fw->table_store, false, NULL, 0);
    evolu_err e = evolu_rbsr_sync_request(&r, &fw->builder, fw->owner.id,
                                          EVOLU_SUBSCRIPTION_NONE);
    if (!e) e = send_built(fw);
    if (e) {
        fw_error(fw, "sync-request", e);
        return;
    }
    (void)wait_answers(fw);
}

/* Merges a reading into the stream store. The host may vanish in the middle
 * (the proxy restarted, the cable pulled): then wait for the link, reopen the
 * store (which settles a commit the trusted state did not see yet) and merge
 * the same bytes again - a reading already committed is found and kept once.
 * A few attempts; a host that keeps failing loses this reading (reported as
 * `error store`). A store left closed is reopened by the next attempt. */
static evolu_err store_reading(evolu_fw *fw, const evolu_store_batch *batch,
                               uint64_t *inserted) {
    evolu_err e = EVOLU_OK;
    /* The host assembles one blob at a time: let a message being received
     * finish going into its blob, and drop new ones while the merge puts. */
    uint32_t quiet = ticks(fw);
    while (fw->rx_active && !fw->closed && ticks(fw) - quiet < FW_QUIET_MS) fw_pump(fw, 20);
    fw->store_busy = true;
    for (unsigned attempt = 0; attempt < 4; attempt++) {
        if (attempt) {
            fw_line(fw, "retry store ");
            fw_add(fw, evolu_errname(e));
            fw_emit(fw);
            uint32_t start = ticks(fw);
            while (!fw->link.connected && !fw->closed && ticks(fw) - start < 20000u)
                fw_pump(fw, 100);
            if (fw->closed) break;
            e = evolu_stream_store_open(&fw->store);
            if (e) {
                run_for(fw, 500);
                continue;
            }
        }
        e = evolu_stream_store_merge(&fw->store, batch, inserted);
        if (!e || fw->closed) break;
    }
    fw->store_busy = false;
    return e;
}

/* One reading: stamp, encrypt, index on the host, apply, push. A full table
 * only does not show it (fw_table): it is stored and pushed all the same. */
__attribute__((noinline)) static void write_reading(evolu_fw *fw, uint32_t tick) {
    evolu_timestamp ts;
    evolu_err e = evolu_hlc_send(&fw->clock, fw->port.now_ms(fw->port.ctx), EVOLU_HLC_MAX_DRIFT,
                                 &ts, NULL);
    if (e) {
        fw_error(fw, "clock", e);
        return;
    }
    uint8_t id[EVOLU_ID_BYTES];
    evolu_id_random(&fw->port, id);
    double value = 20.0 + (double)(tick % 40) * 0.25;
    char note[24] = "tick ";
    size_t nl = 5;
    {
        char b[12];
        size_t i = sizeof b;
        uint32_t v = tick;
        do {
            b[--i] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        memcpy(note + nl, b + i, sizeof b - i);
        nl += sizeof b - i;
    }
    evolu_column cols[2] = {
        {(const uint8_t *)"value", 5, evolu_value_number(value)},
        {(const uint8_t *)"note", 4, evolu_value_text((const uint8_t *)note, nl)},
    };
    evolu_dbchange c = {(const uint8_t *)"reading", 7, {0}, cols, 2, true, -1};
    memcpy(c.id, id, sizeof id);
    uint8_t nonce[EVOLU_AEAD_NONCE_BYTES];
    fw->port.random(fw->port.ctx, nonce, sizeof nonce);
    evolu_writer w = evolu_writer_make(fw->change, sizeof fw->change);
    e = evolu_dbchange_encrypt(&w, &fw->port, fw->owner.encryption_key, &c, &ts, nonce);
    if (e) {
        fw_error(fw, "encrypt", e);
        return;
    }
    fw->clock = ts;
    /* Index it on the host (acknowledged once the trusted state is saved). */
    const uint8_t *changes[1] = {fw->change};
    size_t lens[1] = {w.len};
    evolu_store_array_batch arr;
    evolu_store_batch batch;
    evolu_store_batch_from_array(&batch, &arr, &ts, changes, lens, 1);
    uint64_t inserted = 0;
    e = store_reading(fw, &batch, &inserted);
    if (e) {
        fw_error(fw, "store", e);
        return;
    }
    /* Push: a Request with the write key and this one message. While the
     * relay is away the proxy queues it on disk and forwards it later. Sent
     * before the reading is applied: applying decrypts fw->change in place. */
    evolu_header h;
    evolu_header_request(&h, fw->owner.id, fw->owner.write_key, EVOLU_SUBSCRIPTION_NONE);
    evolu_err pe = evolu_msg_builder_begin(&fw->builder, &h, 0, 0);
    if (!pe) pe = evolu_msg_builder_add_message(&fw->builder, &ts, fw->change, w.len);
    if (!pe) pe = send_built(fw);
    evolu_dbchange_view v;
    e = open_change(fw, &ts, fw->change, w.len, &v);
    if (!e) e = fw_table_apply(&fw->table, &v, fw->text, sizeof fw->text);
    if (e) fw_error(fw, "apply", e);
    fw->readings_written++;
    fw_line(fw, "wrote reading");
    add_id(fw, " id=", id);
    fw_add(fw, " value=");
    {
        char num[EVOLU_JS_NUMBER_MAX_CHARS];
        fw_addn(fw, num, evolu_js_number_format(value, num));
    }
    fw_emit(fw);
    if (pe) fw_error(fw, "push", pe);
}

/* --- main ------------------------------------------------------------------------------ */

__attribute__((noinline)) static void report_memory(evolu_fw *fw) {
    const evolu_device_port *dp = fw->dp;
    size_t st = dp->ram_static ? dp->ram_static(dp->ctx) : 0;
    size_t sp = dp->stack_peak ? dp->stack_peak(dp->ctx) : 0;
    fw_line(fw, "memory static=");
    fw_addu(fw, st);
    fw_add(fw, " stack=");
    fw_addu(fw, sp);
    fw_add(fw, " total=");
    fw_addu(fw, st + sp);
    fw_add(fw, " fw_struct=");
    fw_addu(fw, sizeof *fw);
    /* the device-core budget (issue 6) and the Rust port's RAM per sync round */
    fw_add(fw, " budget=16384 rust_port_round=~200000");
    fw_emit(fw);
    const evolu_link_stats *s = &fw->link.stats;
    fw_line(fw, "link frames_in=");
    fw_addu(fw, s->frames_in);
    fw_add(fw, " frames_out=");
    fw_addu(fw, s->frames_out);
    fw_add(fw, " retransmits=");
    fw_addu(fw, s->retransmits);
    fw_add(fw, " bad_crc=");
    fw_addu(fw, s->bad_crc);
    fw_add(fw, " dropped_messages=");
    fw_addu(fw, fw->rx_dropped);
    fw_add(fw, " largest_received=");
    fw_addu(fw, fw->rx_largest);
    fw_emit(fw);
}

int evolu_firmware_run(const evolu_device_port *dp) {
    evolu_fw *fw = &g_fw;
    memset(fw, 0, sizeof *fw);
    fw->dp = dp;
    evolu_port p = {fw, p_enc, p_dec, p_sha, p_hmac, p_random, p_now, p_zero, p_eq};
    fw->port = p;
    if (!parse_args(fw)) {
        fw_line(fw, fw->args.mnemonic_given ? "error arguments: mnemonic= not taken, "
                                              "use owner_keys= (evolu owner show --device)"
                                            : "error arguments");
        fw_emit(fw);
        return 2;
    }
    evolu_err e = fw_state_load(fw);
    if (e == EVOLU_E_DONE) {
        e = provision(fw);
        if (e == EVOLU_E_ARG) {
            fw_line(fw, "error no owner: first boot needs owner_keys=");
            fw_emit(fw);
            return 2;
        }
        if (e) {
            fw_error(fw, "provision", e);
            return 2;
        }
        fw_line(fw, "provisioned");
        add_id(fw, " owner=", fw->owner.id);
        fw_emit(fw);
    } else if (e) {
        fw_error(fw, "state", e);
        return 1;
    }
    /* The clock never goes below what the store has written. */
    evolu_timestamp floor;
    if (!evolu_timestamp_from_bytes(fw->trusted.clock, &floor) &&
        evolu_timestamp_cmp(&floor, &fw->clock) > 0) {
        fw->clock.millis = floor.millis;
        fw->clock.counter = floor.counter;
    }
    fw_line(fw, "booted");
    add_id(fw, " owner=", fw->owner.id);
    fw_add(fw, " ticks=");
    fw_addu(fw, fw->args.ticks);
    fw_add(fw, " period_ms=");
    fw_addu(fw, fw->args.period_ms);
    fw_emit(fw);

    fw_link_init(fw);
    while (!fw->link.connected && !fw->closed) fw_pump(fw, 100);
    if (fw->closed) {
        fw_line(fw, "error link closed");
        fw_emit(fw);
        return 1;
    }

    fw_host_table(fw, &fw->host);
    evolu_stream_config sc = {&fw->port, &fw->host, &fw->trusted, fw, save_trusted, NULL, 0};
    evolu_stream_store_init(&fw->store, &sc);
    e = evolu_stream_store_open(&fw->store);
    if (e) {
        fw_error(fw, "store-open", e);
        return 1;
    }
    evolu_stream_store_table(&fw->store, &fw->stream_table);
    /* the engine only reads it; received changes go through fw_write_source */
    fw->table_store = fw->stream_table;
    if (fw->stream_table.ctx != (void *)&fw->store) {
        fw_line(fw, "error store table context");
        fw_emit(fw);
        return 1;
    }
    evolu_msg_builder_init(&fw->builder, fw->msgs, FW_MSGS, fw->ranges, FW_RANGES, fw->arena,
                           sizeof fw->arena);

    uint64_t count = evolu_stream_store_count(&fw->store);
    if (count) {
        rebuild_ctx rc = {fw, EVOLU_OK, 0};
        e = fw->stream_table.iterate(fw->stream_table.ctx, 0, count, rebuild_visit, &rc);
        if (!e) e = rc.err;
        if (e) {
            /* The host's copy is not ours (tampered, replayed blobs, a wrong
             * owner): stop rather than sync from it. */
            fw_error(fw, "rebuild", e);
            return 1;
        }
    }
    fw_line(fw, "loaded entries=");
    fw_addu(fw, count);
    fw_add(fw, " rows=");
    fw_addu(fw, fw_table_visible(&fw->table));
    fw_emit(fw);
    report_table(fw);

    if (fw->relay_up) sync_round(fw);
    uint32_t total = fw->args.ticks + fw->args.idle_ticks;
    if (total < fw->args.ticks) total = UINT32_MAX;
    for (uint32_t t = 0; t < total && !fw->closed; t++) {
        if (t < fw->args.ticks) {
            write_reading(fw, t);
            /* One request in flight at a time: the device keeps one received
             * message (FW_RX_MAX), so answers must not arrive together. While
             * the relay is down the proxy queues the push; nothing to wait for. */
            if (fw->relay_up) (void)wait_answers(fw);
            else fw->outstanding = 0;
        }
        if (fw->relay_up) sync_round(fw);
        if (fw->table.changed) report_table(fw);
        run_for(fw, fw->args.period_ms);
        if (fw->relay_came_up) {
            fw->relay_came_up = false;
            sync_round(fw);
        }
    }
    if (fw->relay_up) sync_round(fw);
    report_table(fw);
    report_memory(fw);
    fw_line(fw, "done written=");
    fw_addu(fw, fw->readings_written);
    fw_add(fw, " applied=");
    fw_addu(fw, fw->messages_applied);
    fw_add(fw, " syncs=");
    fw_addu(fw, fw->syncs);
    fw_emit(fw);
    return fw->closed ? 1 : 0;
}
