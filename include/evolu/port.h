/*
 * evolu/port.h - the one porting table.
 *
 * The core does no I/O and holds no global state, so everything it needs from the
 * platform - cryptographic primitives, randomness, the wall clock, secure wiping -
 * reaches it through this table (the same idea as SQLite's VFS or lwIP's sys_arch).
 * The host fills it from libsodium (evolu_port_sodium() in evolu/port_sodium.h);
 * a device fills it from libsodium's sources compiled for the target and its own
 * TRNG and RTC. No cryptography is written by hand in this project.
 *
 * Every function receives `ctx` back unchanged. All functions must be safe to call
 * with zero-length inputs. None may allocate on behalf of the core.
 */
#ifndef EVOLU_PORT_H
#define EVOLU_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVOLU_AEAD_KEY_BYTES 32
#define EVOLU_AEAD_NONCE_BYTES 24
#define EVOLU_AEAD_TAG_BYTES 16

typedef struct evolu_port {
    void *ctx;

    /* XChaCha20-Poly1305 (IETF), no associated data. Writes m_len + 16 bytes to c.
     * c and m may be the same buffer. Returns 0 on success. */
    int (*aead_encrypt)(void *ctx, uint8_t *c, const uint8_t *m, size_t m_len,
                        const uint8_t nonce[EVOLU_AEAD_NONCE_BYTES],
                        const uint8_t key[EVOLU_AEAD_KEY_BYTES]);

    /* Inverse of aead_encrypt: c_len >= 16, writes c_len - 16 bytes to m.
     * Returns 0 on success, non-zero if the tag does not verify (m is then
     * unspecified and must not be used). */
    int (*aead_decrypt)(void *ctx, uint8_t *m, const uint8_t *c, size_t c_len,
                        const uint8_t nonce[EVOLU_AEAD_NONCE_BYTES],
                        const uint8_t key[EVOLU_AEAD_KEY_BYTES]);

    /* SHA-256 of m. */
    void (*sha256)(void *ctx, uint8_t out[32], const uint8_t *m, size_t m_len);

    /* HMAC-SHA512(key, m1 || m2). Two message parts so SLIP-21's 0x00 || label
     * needs no scratch buffer. */
    void (*hmac_sha512)(void *ctx, uint8_t out[64], const uint8_t *key, size_t key_len,
                        const uint8_t *m1, size_t m1_len, const uint8_t *m2,
                        size_t m2_len);

    /* Fill buf with len bytes from a CSPRNG. */
    void (*random)(void *ctx, uint8_t *buf, size_t len);

    /* Milliseconds since 1970-01-01T00:00:00Z (Date.now()). */
    int64_t (*now_ms)(void *ctx);

    /* Overwrite n bytes at p with zeros in a way the compiler cannot elide. */
    void (*memzero)(void *ctx, void *p, size_t n);

    /* Constant-time comparison: returns 1 if the n bytes are equal, else 0. */
    int (*memeq)(void *ctx, const void *a, const void *b, size_t n);
} evolu_port;

/* --- streaming AEAD (optional) ----------------------------------------------------
 *
 * XChaCha20-Poly1305 (IETF, no associated data) in pieces, for ciphertexts
 * larger than the device's RAM (evolu_dbchange_decrypt_stream). A separate
 * table, so ports that fill evolu_port positionally stay as they are. The
 * implementation is built from libsodium's primitives only (HChaCha20,
 * ChaCha20-IETF with a block counter, Poly1305 init/update/final), the
 * construction of crypto_aead_xchacha20poly1305_ietf_*: subkey =
 * HChaCha20(key, nonce[0..16]), 12-byte nonce = 0^4 || nonce[16..24], the
 * Poly1305 key is keystream block 0, the message is XORed from block 1, the
 * tag is Poly1305(c || pad16 || le64(0) || le64(len c)). See
 * evolu/port_stream.h for libsodium's; tests check it byte for byte against
 * the one-shot functions. The state holds key material: wipe it with memzero. */
#define EVOLU_AEAD_STREAM_STATE_BYTES 384

typedef struct evolu_aead_stream {
    _Alignas(16) unsigned char opaque[EVOLU_AEAD_STREAM_STATE_BYTES];
} evolu_aead_stream;

typedef struct evolu_aead_stream_port {
    void *ctx;
    /* Derives the subkey and the Poly1305 key, starts the MAC. 0 on success. */
    int (*init)(void *ctx, evolu_aead_stream *st, const uint8_t nonce[EVOLU_AEAD_NONCE_BYTES],
                const uint8_t key[EVOLU_AEAD_KEY_BYTES]);
    /* Feeds the next n ciphertext bytes (in order) to the MAC. */
    void (*auth)(void *ctx, evolu_aead_stream *st, const uint8_t *c, size_t n);
    /* Writes the tag of everything fed since init (or the last final) and
     * starts the MAC again, so a second pass can authenticate once more. */
    void (*final)(void *ctx, evolu_aead_stream *st, uint8_t tag[EVOLU_AEAD_TAG_BYTES]);
    /* out = in XOR the keystream at message offset off (any off, any n; out
     * may equal in). */
    void (*xor_at)(void *ctx, const evolu_aead_stream *st, uint64_t off, uint8_t *out,
                   const uint8_t *in, size_t n);
} evolu_aead_stream_port;

#ifdef __cplusplus
}
#endif
#endif
