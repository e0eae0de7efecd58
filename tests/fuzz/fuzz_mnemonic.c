/* fuzz_mnemonic.c - evolu_mnemonic_to_secret on arbitrary text. Whenever it
 * parses, writing the secret back must give text that parses to the same
 * secret, and (since the accepted grammar is canonical: single spaces,
 * lowercase list words) that text must be the input itself. Text that does
 * not parse must leave no secret behind. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "evolu/owner.h"
#include "evolu/port_sodium.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const evolu_port *port = evolu_port_sodium();
    uint8_t secret[EVOLU_MNEMONIC_MAX_SECRET_BYTES];
    size_t n = 1;
    evolu_err e = evolu_mnemonic_to_secret(port, (const char *)data, size, secret, &n);
    if (e != EVOLU_OK) {
        if (n != 0) __builtin_trap();
        if (e != EVOLU_E_MNEMONIC_LENGTH && e != EVOLU_E_MNEMONIC_WORD &&
            e != EVOLU_E_MNEMONIC_CHECKSUM)
            __builtin_trap();
        return 0;
    }
    if (n < 16 || n > 32 || n % 4) __builtin_trap();
    if (size > EVOLU_MNEMONIC_MAX_CHARS) __builtin_trap();

    char text[EVOLU_MNEMONIC_MAX_CHARS];
    evolu_writer w = evolu_writer_make((uint8_t *)text, sizeof text);
    if (evolu_mnemonic_from_secret(port, secret, n, &w) != EVOLU_OK) __builtin_trap();
    if (w.len != size || memcmp(text, data, size) != 0) __builtin_trap();

    uint8_t back[EVOLU_MNEMONIC_MAX_SECRET_BYTES];
    size_t bn = 0;
    if (evolu_mnemonic_to_secret(port, text, w.len, back, &bn) != EVOLU_OK) __builtin_trap();
    if (bn != n || memcmp(back, secret, n) != 0) __builtin_trap();

    /* and the owner derivation accepts every mnemonic's secret */
    evolu_owner o;
    if (evolu_owner_from_secret(port, secret, n, &o) != EVOLU_OK) __builtin_trap();
    evolu_owner_wipe(port, &o);
    port->memzero(port->ctx, secret, sizeof secret);
    port->memzero(port->ctx, back, sizeof back);
    port->memzero(port->ctx, text, sizeof text);
    return 0;
}
