/*
 * evolu/owner.h - owners: the secret, its BIP-39 mnemonic, and the keys SLIP-21
 * derives from it (spec 5.1, 5.2).
 *
 * An owner is a 16-byte id (public), a 32-byte encryption key (protects the
 * data) and a 16-byte write key (authorizes writes on a relay). All three are
 * derived deterministically from the owner secret, so the mnemonic alone
 * restores an owner on another device. Everything here is caller-owned memory;
 * every intermediate secret is wiped with port->memzero before returning.
 */
#ifndef EVOLU_OWNER_H
#define EVOLU_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evolu/bytes.h"
#include "evolu/error.h"
#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVOLU_OWNER_ID_BYTES 16
#define EVOLU_OWNER_ENCRYPTION_KEY_BYTES 32
#define EVOLU_OWNER_WRITE_KEY_BYTES 16
/* createOwnerSecret makes 32 bytes; a 12-word mnemonic gives 16, and SLIP-21
 * takes any seed, so owner derivation accepts 16..64 bytes (Entropy16/32/64). */
#define EVOLU_OWNER_SECRET_BYTES 32
#define EVOLU_OWNER_SECRET_MIN_BYTES 16
#define EVOLU_OWNER_SECRET_MAX_BYTES 64

typedef struct evolu_owner {
    uint8_t id[EVOLU_OWNER_ID_BYTES];                         /* OwnerIdBytes */
    uint8_t encryption_key[EVOLU_OWNER_ENCRYPTION_KEY_BYTES]; /* OwnerEncryptionKey */
    uint8_t write_key[EVOLU_OWNER_WRITE_KEY_BYTES];           /* OwnerWriteKey */
} evolu_owner;

/* --- mnemonic (BIP-39 entropy encoding, English wordlist) ---------------------
 *
 * The mnemonic encodes the secret itself: there is no PBKDF2 seed step and no
 * passphrase (the package uses @scure/bip39 entropyToMnemonic/mnemonicToEntropy).
 * 12/15/18/21/24 words <-> 16/20/24/28/32 bytes.
 *
 * Accepted text: exactly the words of the BIP-39 English list (lowercase ASCII),
 * separated by single ASCII spaces, nothing before the first or after the last
 * word. For ASCII input this is exactly what @scure/bip39 accepts: it splits on
 * " " (so a doubled, leading or trailing space makes an empty "word" and changes
 * the count) and looks words up case-sensitively. @scure/bip39 first applies
 * Unicode NFKD, which folds a few non-ASCII spellings (full-width letters,
 * U+00A0 no-break space) onto ASCII; we do not carry Unicode tables in the core
 * and reject every non-ASCII byte instead. The errors come in @scure/bip39's
 * order: word count first (EVOLU_E_MNEMONIC_LENGTH), then the first unknown word
 * (EVOLU_E_MNEMONIC_WORD), then the checksum (EVOLU_E_MNEMONIC_CHECKSUM). Input
 * of any length is handled without copying it; anything longer than
 * EVOLU_MNEMONIC_MAX_CHARS necessarily fails with one of those errors. */

/* 24 words of at most 8 letters and 23 spaces. */
#define EVOLU_MNEMONIC_MAX_CHARS 215
#define EVOLU_MNEMONIC_MAX_SECRET_BYTES 32

/* Parses the n bytes at s (no NUL needed). On success writes the 16..32-byte
 * secret to secret[0..*secret_len). On failure *secret_len is 0 and secret is
 * untouched. Word lookup is a binary search, so its timing depends on the
 * words (as @scure/bip39's does). */
evolu_err evolu_mnemonic_to_secret(const evolu_port *port, const char *s, size_t n,
                                   uint8_t secret[EVOLU_MNEMONIC_MAX_SECRET_BYTES],
                                   size_t *secret_len);

/* Writes the mnemonic of secret[0..n) to w: words separated by single spaces,
 * no NUL. n must be 16, 20, 24, 28 or 32 (EVOLU_E_ARG otherwise, w untouched).
 * Returns w->err (EVOLU_E_BUFFER if it did not fit; a cap-0 writer measures).
 * The text is as secret as the secret: the caller wipes it. */
evolu_err evolu_mnemonic_from_secret(const evolu_port *port, const uint8_t *secret, size_t n,
                                     evolu_writer *w);

/* --- SLIP-0021 symmetric key derivation ----------------------------------------
 *
 * node0 = HMAC-SHA512(key "Symmetric key seed", seed)
 * child(node, label) = HMAC-SHA512(key node[0..32], 0x00 || label)
 * key(path) = node_path[32..64]
 * Labels are UTF-8 bytes; a JS number n in a path is the label String(n)
 * (evolu_slip21_int_label). */

#define EVOLU_SLIP21_NODE_BYTES 64
#define EVOLU_SLIP21_KEY_BYTES 32
/* "-9007199254740991" plus room to spare. */
#define EVOLU_SLIP21_INT_LABEL_MAX 24

typedef struct evolu_slip21_label {
    const char *p;
    size_t n;
} evolu_slip21_label;

/* A label from a string literal: EVOLU_SLIP21_LABEL("Evolu"). */
#define EVOLU_SLIP21_LABEL(lit) {(lit), sizeof(lit) - 1}

/* The master node of seed[0..seed_len). */
void evolu_slip21_master(const evolu_port *port, const uint8_t *seed, size_t seed_len,
                         uint8_t node[EVOLU_SLIP21_NODE_BYTES]);

/* The child of parent for label[0..label_len). child may be parent. */
void evolu_slip21_child(const evolu_port *port, const uint8_t parent[EVOLU_SLIP21_NODE_BYTES],
                        const char *label, size_t label_len,
                        uint8_t child[EVOLU_SLIP21_NODE_BYTES]);

/* createSlip21(seed, path): the 32-byte key of the node at path (path_len may be
 * 0: the master node's key). */
void evolu_slip21_derive(const evolu_port *port, const uint8_t *seed, size_t seed_len,
                         const evolu_slip21_label *path, size_t path_len,
                         uint8_t key[EVOLU_SLIP21_KEY_BYTES]);

/* Writes JS String(v) for an integer v (decimal, "-" for negatives, no NUL) to
 * out and returns its length. Only safe integers (|v| <= 2^53-1) are numbers
 * JS holds exactly, so anything else returns 0 and writes nothing. */
size_t evolu_slip21_int_label(int64_t v, char out[EVOLU_SLIP21_INT_LABEL_MAX]);

/* --- owners -------------------------------------------------------------------- */

/* createOwner(secret): id = SLIP21(["Evolu","OwnerIdBytes"])[0..16],
 * encryption_key = SLIP21(["Evolu","OwnerEncryptionKey"]),
 * write_key = SLIP21(["Evolu","OwnerWriteKey"])[0..16].
 * n must be 16..64 (EVOLU_E_ARG otherwise; out untouched). */
evolu_err evolu_owner_from_secret(const evolu_port *port, const uint8_t *secret, size_t n,
                                  evolu_owner *out);

/* deriveShardOwner(appOwner, path): createOwner(SLIP21(seed =
 * app->encryption_key, path)). path must be non-empty (EVOLU_E_ARG). out may be
 * app. Lets one mnemonic restore any number of deletable shard owners. */
evolu_err evolu_owner_derive_shard(const evolu_port *port, const evolu_owner *app,
                                   const evolu_slip21_label *path, size_t path_len,
                                   evolu_owner *out);

/* createOwnerSecret: 32 bytes from the port's CSPRNG. */
void evolu_owner_secret_random(const evolu_port *port,
                               uint8_t secret[EVOLU_OWNER_SECRET_BYTES]);

/* createOwnerWriteKey: 16 random bytes, to rotate write access without changing
 * the owner's id or encryption key. */
void evolu_owner_write_key_random(const evolu_port *port,
                                  uint8_t key[EVOLU_OWNER_WRITE_KEY_BYTES]);

/* Wipes all key material of o. */
void evolu_owner_wipe(const evolu_port *port, evolu_owner *o);

/* Constant-time equality of two write keys, so a relay checking a presented key
 * against the stored one leaks nothing through timing. */
bool evolu_write_key_equal(const evolu_port *port, const uint8_t a[EVOLU_OWNER_WRITE_KEY_BYTES],
                           const uint8_t b[EVOLU_OWNER_WRITE_KEY_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
