/* footprint.c - the smallest program that uses the core through the device port:
 * it exists so the size report can show what a real image pulls in (after the
 * linker's garbage collection) next to the per-object totals. It derives an
 * owner from a fixed mnemonic, encrypts and decrypts a buffer and exits 0 if
 * everything worked. */
#include <string.h>

#include "device.h"
#include "evolu/owner.h"
#include "evolu/port_device.h"

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
    return bad;
}
