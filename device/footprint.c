/* footprint.c - the smallest program that uses the core through the device port:
 * it exists so the size report can show what a real image pulls in (after the
 * linker's garbage collection) next to the per-object totals. It derives an
 * owner from a fixed mnemonic, encrypts and decrypts a buffer, merges a few
 * timestamps into a stream store over a stand-in host kept in RAM, and exits 0
 * if everything worked. */
#include <string.h>

#include "device.h"
#include "evolu/owner.h"
#include "evolu/port_device.h"
#include "evolu/stream_store.h"

/* A stand-in for the USB host: one index generation in RAM, no blobs kept. */
static uint8_t fp_index[2][4096];
static uint64_t fp_len[2];
static int fp_cur;
static evolu_err fh_size(void *ctx, uint64_t *len) {
    (void)ctx;
    *len = fp_len[fp_cur];
    return EVOLU_OK;
}
static evolu_err fh_read(void *ctx, uint64_t off, uint8_t *buf, size_t n) {
    (void)ctx;
    if (off > fp_len[fp_cur] || n > fp_len[fp_cur] - off) return EVOLU_E_STORAGE;
    memcpy(buf, fp_index[fp_cur] + off, n);
    return EVOLU_OK;
}
static evolu_err fh_begin(void *ctx) {
    (void)ctx;
    fp_len[!fp_cur] = 0;
    return EVOLU_OK;
}
static evolu_err fh_append(void *ctx, const uint8_t *p, size_t n) {
    (void)ctx;
    if (n > sizeof fp_index[0] - fp_len[!fp_cur]) return EVOLU_E_STORAGE;
    memcpy(fp_index[!fp_cur] + fp_len[!fp_cur], p, n);
    fp_len[!fp_cur] += n;
    return EVOLU_OK;
}
static evolu_err fh_commit(void *ctx) {
    (void)ctx;
    fp_cur = !fp_cur;
    return EVOLU_OK;
}
static void fh_abort(void *ctx) { (void)ctx; }
static evolu_err fh_put(void *ctx, const uint8_t ts[16], const uint8_t *p, size_t n) {
    (void)ctx, (void)ts, (void)p, (void)n;
    return EVOLU_OK;
}
static evolu_err fh_blob_size(void *ctx, const uint8_t ts[16], size_t *n) {
    (void)ctx, (void)ts, (void)n;
    return EVOLU_E_ARG;
}
static evolu_err fh_blob_read(void *ctx, const uint8_t ts[16], size_t off, uint8_t *b, size_t n) {
    (void)ctx, (void)ts, (void)off, (void)b, (void)n;
    return EVOLU_E_ARG;
}
static evolu_err fh_save(void *ctx, const evolu_stream_trusted *t) {
    (void)ctx, (void)t;
    return EVOLU_OK;
}
static evolu_stream_store fp_store;

static int stream_store_works(const evolu_port *port) {
    static const evolu_stream_host host = {NULL, fh_size, fh_read, fh_begin, fh_append,
                                           fh_commit, fh_abort, fh_put, fh_blob_size,
                                           fh_blob_read};
    static evolu_stream_trusted trusted;
    port->random(port->ctx, trusted.key, sizeof trusted.key);
    evolu_stream_config cfg = {port, &host, &trusted, NULL, fh_save, NULL, 0};
    evolu_stream_store_init(&fp_store, &cfg);
    if (evolu_stream_store_open(&fp_store) != EVOLU_OK) return 1;
    evolu_timestamp ts[3];
    const uint8_t *changes[3];
    size_t lens[3];
    static const uint8_t change[4] = {1, 2, 3, 4};
    for (unsigned i = 0; i < 3; i++) {
        memset(&ts[i], 0, sizeof ts[i]);
        ts[i].millis = 1700000000000ULL + 3 - i;
        changes[i] = change;
        lens[i] = sizeof change;
    }
    evolu_store_array_batch arr;
    evolu_store_batch batch;
    evolu_store_batch_from_array(&batch, &arr, ts, changes, lens, 3);
    uint64_t inserted;
    if (evolu_stream_store_merge(&fp_store, &batch, &inserted) != EVOLU_OK || inserted != 3)
        return 1;
    evolu_stream_store_init(&fp_store, &cfg);
    if (evolu_stream_store_open(&fp_store) != EVOLU_OK) return 1;
    return evolu_stream_store_check(&fp_store) != EVOLU_OK ||
           evolu_stream_store_count(&fp_store) != 3;
}

int main(void) {
    const evolu_port *port = evolu_port_device();
    uint8_t key[32], nonce[24], buf[64 + 16], back[64];
    port->random(port->ctx, key, sizeof key);
    port->random(port->ctx, nonce, sizeof nonce);
    memset(buf, 0x5a, 64);
    int bad = port->aead_encrypt(port->ctx, buf, buf, 64, nonce, key) != 0;
    bad |= port->aead_decrypt(port->ctx, back, buf, sizeof buf, nonce, key) != 0;
    for (size_t i = 0; i < sizeof back; i++) bad |= back[i] != 0x5a;
    uint8_t h[32], mac[64];
    port->sha256(port->ctx, h, back, sizeof back);
    port->hmac_sha512(port->ctx, mac, key, sizeof key, h, sizeof h, NULL, 0);
    port->memzero(port->ctx, key, sizeof key);
    static const char words[] = "abandon abandon abandon abandon abandon abandon abandon "
                                "abandon abandon abandon abandon about";
    uint8_t secret[EVOLU_MNEMONIC_MAX_SECRET_BYTES];
    size_t secret_len = 0;
    evolu_owner owner;
    bad |= evolu_mnemonic_to_secret(port, words, sizeof words - 1, secret, &secret_len) !=
           EVOLU_OK;
    bad |= evolu_owner_from_secret(port, secret, secret_len, &owner) != EVOLU_OK;
    port->memzero(port->ctx, secret, sizeof secret);
    evolu_owner_wipe(port, &owner);
    bad |= stream_store_works(port);
    return bad;
}
