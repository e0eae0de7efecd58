/*
 * cmd_selfcheck.c - `evolu selfcheck`: walk the core end to end the way a
 * TypeScript Evolu client would - mnemonic -> owner (BIP-39, SLIP-21), a clock
 * tick, a DbChange encrypted with the owner's key, a push message framed for a
 * relay, and everything decoded and decrypted back - printing each step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evolu/dbchange.h"
#include "evolu/hlc.h"
#include "evolu/id.h"
#include "evolu/owner.h"
#include "evolu/port_sodium.h"
#include "evolu/protocol.h"

#include "commands.h"

/* 32 zero bytes as a mnemonic: the owner of the published test vectors. */
#define DEFAULT_MNEMONIC                                                                  \
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "    \
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "    \
    "abandon abandon abandon art"

static void usage(FILE *f) {
    fprintf(f,
            "usage: evolu selfcheck [--mnemonic \"<12-24 words>\"] [--new]\n"
            "      derive an owner from a mnemonic, encrypt a change for it, frame it\n"
            "      as a push message, and decode everything back. --new uses a fresh\n"
            "      random owner. Exit status 0 when every step round-trips.\n");
}

static void hex(const char *label, const uint8_t *p, size_t n) {
    printf("  %-22s ", label);
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

static int fail(const char *step, evolu_err e) {
    fprintf(stderr, "evolu selfcheck: %s failed: %s (%s)\n", step, evolu_strerror(e),
            evolu_errname(e));
    return 1;
}

static int selfcheck(int argc, char **argv) {
    const char *mnemonic = DEFAULT_MNEMONIC;
    int fresh = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--mnemonic") && i + 1 < argc) {
            mnemonic = argv[++i];
        } else if (!strcmp(argv[i], "--new")) {
            fresh = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "evolu selfcheck: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    const evolu_port *port = evolu_port_sodium();
    if (!port) {
        fprintf(stderr, "evolu selfcheck: libsodium failed to initialise\n");
        return 1;
    }

    /* 1. Owner from a mnemonic. */
    uint8_t secret[EVOLU_MNEMONIC_MAX_SECRET_BYTES];
    size_t secret_len = 0;
    char words[EVOLU_MNEMONIC_MAX_CHARS + 1];
    evolu_err e;
    if (fresh) {
        evolu_owner_secret_random(port, secret);
        secret_len = EVOLU_OWNER_SECRET_BYTES;
        evolu_writer w = evolu_writer_make((uint8_t *)words, sizeof words - 1);
        e = evolu_mnemonic_from_secret(port, secret, secret_len, &w);
        if (e || w.err) return fail("writing the mnemonic", e ? e : w.err);
        words[w.len] = 0;
        mnemonic = words;
    } else {
        e = evolu_mnemonic_to_secret(port, mnemonic, strlen(mnemonic), secret, &secret_len);
        if (e) return fail("reading the mnemonic", e);
    }
    evolu_owner owner;
    e = evolu_owner_from_secret(port, secret, secret_len, &owner);
    port->memzero(port->ctx, secret, sizeof secret);
    if (e) return fail("deriving the owner", e);
    char owner_id[EVOLU_ID_CHARS + 1];
    evolu_id_to_string(owner.id, owner_id);
    owner_id[EVOLU_ID_CHARS] = 0;
    printf("1. owner from a %zu-byte mnemonic secret (BIP-39 + SLIP-21)\n", secret_len);
    printf("  %-22s %s\n", "mnemonic", mnemonic);
    printf("  %-22s %s\n", "owner id", owner_id);
    hex("owner id bytes", owner.id, sizeof owner.id);
    printf("  %-22s (32 bytes, not shown)\n", "encryption key");
    printf("  %-22s (16 bytes, not shown)\n", "write key");

    /* 2. A clock tick and a change. */
    evolu_timestamp clock, t;
    evolu_hlc_init(port, &clock);
    evolu_hlc_drift drift;
    e = evolu_hlc_send(&clock, port->now_ms(port->ctx), EVOLU_HLC_MAX_DRIFT, &t, &drift);
    if (e) return fail("advancing the clock", e);
    uint8_t tb[EVOLU_TIMESTAMP_BYTES];
    evolu_timestamp_to_bytes(&t, tb);
    static const uint8_t table[] = "todo", title[] = "title", done[] = "isCompleted",
                         text[] = "Buy oat milk \xf0\x9f\xa5\x9b";
    evolu_column cols[2] = {
        {title, sizeof title - 1, evolu_value_text(text, sizeof text - 1)},
        {done, sizeof done - 1, evolu_value_number(0)},
    };
    evolu_dbchange change = {table, sizeof table - 1, {0}, cols, 2, true, -1};
    evolu_id_random(port, change.id);
    char row_id[EVOLU_ID_CHARS + 1];
    evolu_id_to_string(change.id, row_id);
    row_id[EVOLU_ID_CHARS] = 0;
    printf("2. a change at the next clock tick\n");
    hex("timestamp", tb, sizeof tb);
    printf("  %-22s insert todo %s {title: \"%s\", isCompleted: 0}\n", "change", row_id,
           (const char *)text);

    /* 3. Encrypt it (XChaCha20-Poly1305, PADME). */
    uint8_t enc[512], nonce[EVOLU_AEAD_NONCE_BYTES];
    port->random(port->ctx, nonce, sizeof nonce);
    evolu_writer ew = evolu_writer_make(enc, sizeof enc);
    e = evolu_dbchange_encrypt(&ew, port, owner.encryption_key, &change, &t, nonce);
    if (e || ew.err) return fail("encrypting the change", e ? e : ew.err);
    size_t plain_len = 0;
    evolu_dbchange_plaintext_len(&change, &plain_len);
    printf("3. encrypted: %zu-byte plaintext padded to %zu, %zu bytes on the wire\n",
           plain_len, evolu_padme(plain_len), ew.len);

    /* 4. Decrypt and decode it back. */
    uint8_t plain[512];
    size_t got_len = 0;
    e = evolu_dbchange_decrypt(port, owner.encryption_key, &t, enc, ew.len, plain,
                               sizeof plain, &got_len);
    if (e) return fail("decrypting the change", e);
    evolu_dbchange_view view;
    e = evolu_dbchange_parse(plain, got_len, &view);
    if (e) return fail("parsing the plaintext", e);
    printf("4. decrypted and decoded: table \"%.*s\", %zu columns\n", (int)view.table_len,
           (const char *)view.table, view.n_columns);
    uint8_t scratch[256];
    for (;;) {
        evolu_column col;
        evolu_writer sw = evolu_writer_make(scratch, sizeof scratch);
        e = evolu_dbchange_next_column(&view, &sw, &col);
        if (e == EVOLU_E_DONE) break;
        if (e) return fail("reading a column", e);
        if (col.value.kind == EVOLU_VALUE_TEXT)
            printf("  %-22.*s \"%.*s\"\n", (int)col.name_len, (const char *)col.name,
                   (int)col.value.len, (const char *)col.value.data);
        else if (col.value.kind == EVOLU_VALUE_NUMBER)
            printf("  %-22.*s %g\n", (int)col.name_len, (const char *)col.name,
                   col.value.number);
    }
    if (view.n_columns != 2 || memcmp(view.id, change.id, sizeof change.id) ||
        view.is_insert != true) {
        fprintf(stderr, "evolu selfcheck: the decoded change differs from the original\n");
        return 1;
    }
    port->memzero(port->ctx, plain, sizeof plain);

    /* 5. Frame it as the push message a client sends to a relay, and parse it. */
    evolu_msg_entry entries[4];
    evolu_range_entry ranges[2];
    uint8_t arena[1024], msg[1024];
    evolu_msg_builder b;
    evolu_msg_builder_init(&b, entries, 4, ranges, 2, arena, sizeof arena);
    evolu_crdt_message crdt = {t, change};
    size_t included = 0;
    e = evolu_push_build(&b, port, &owner, &crdt, 1, 0, &included);
    if (e) return fail("building the push message", e);
    evolu_writer mw = evolu_writer_make(msg, sizeof msg);
    e = evolu_msg_builder_emit(&b, &mw);
    if (e) return fail("emitting the push message", e);
    evolu_msg_reader mr;
    e = evolu_msg_reader_open(&mr, msg, mw.len);
    if (e) return fail("parsing the push message", e);
    evolu_timestamp wire_t;
    const uint8_t *wire_change;
    size_t wire_len;
    e = evolu_msg_reader_next_message(&mr, &wire_t, &wire_change, &wire_len);
    if (e) return fail("reading the pushed change", e);
    e = evolu_dbchange_decrypt(port, owner.encryption_key, &wire_t, wire_change, wire_len,
                               plain, sizeof plain, &got_len);
    if (e) return fail("decrypting the pushed change", e);
    printf("5. push message for the relay: %zu bytes, %zu change, write key %s\n", mw.len,
           included, mr.header.has_write_key ? "included" : "missing");
    /* version, owner id and type only: the bytes after them carry the write key. */
    hex("version, owner, type", msg, 18);
    port->memzero(port->ctx, plain, sizeof plain);
    port->memzero(port->ctx, arena, sizeof arena);
    evolu_owner_wipe(port, &owner);
    printf("selfcheck passed: the change round-tripped through encryption and framing\n");
    return 0;
}

int evolu_cmd_selfcheck(int argc, char **argv) { return selfcheck(argc, argv); }
