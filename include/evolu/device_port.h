/*
 * evolu/device_port.h - the port points of the firmware (firmware/): what an
 * STM32U5 board must provide, in one table. The firmware logic is portable C
 * and reaches the hardware only through this table, so the same app runs
 *
 *   - on an STM32U5 (USB CDC, TRNG, RTC, a flash page for the trusted state,
 *     a debug console or ITM for the report),
 *   - under qemu-system-arm -M mps2-an505 (firmware/board_qemu.c: UART0 for
 *     the byte stream, semihosting for the clock, the state file, the command
 *     line and the report; a deterministic stand-in generator, no TRNG),
 *   - on a PC (firmware/host/board_host.c: a TCP socket, files, stdout), for
 *     fast tests and for the proxy's tests when QEMU is not needed.
 *
 * Every function gets ctx back. None may be called from an interrupt.
 */
#ifndef EVOLU_DEVICE_PORT_H
#define EVOLU_DEVICE_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "evolu/error.h"
#include "evolu/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest trusted-state record the firmware saves (bytes). A flash page of
 * the STM32U5 (8 KB) holds it many times over (wear levelling: append and
 * take the last valid copy). */
#define EVOLU_DEVICE_STATE_MAX 512u

typedef struct evolu_device_port {
    void *ctx;

    /* Cryptography (libsodium compiled for the target, evolu/port_device.h,
     * or the host's). Its random and now_ms are NOT used: the two hooks
     * below are. */
    const evolu_port *crypto;

    /* --- byte stream to the host (USB CDC / UART0 / TCP) -------------------
     * The link protocol (evolu/link.h) runs over it and copes with loss,
     * garbage and a host that restarts. */
    /* Bytes received so far, at most cap, without blocking (0: none). */
    size_t (*stream_read)(void *ctx, uint8_t *buf, size_t cap);
    /* Sends all n bytes (may block while the line drains). EVOLU_E_CLOSED
     * when the host is gone for good (a PC peer closed its socket); a USB
     * or UART port never returns it. */
    evolu_err (*stream_write)(void *ctx, const uint8_t *p, size_t n);
    /* Sleeps until a byte may be readable or max_ms passed (wfi on the
     * device, with the RX interrupt and a timer as wake-up sources). */
    void (*wait)(void *ctx, uint32_t max_ms);

    /* --- clocks ----------------------------------------------------------- */
    /* Monotonic milliseconds (wrapping 32-bit): the link's timers. */
    uint32_t (*ticks_ms)(void *ctx);
    /* Wall clock, milliseconds since 1970 (the RTC): the HLC's now. */
    int64_t (*now_ms)(void *ctx);

    /* --- TRNG ------------------------------------------------------------- */
    void (*random)(void *ctx, uint8_t *buf, size_t n);

    /* --- flash for the trusted state (owner keys, device key, sequence,
     * clock). load: EVOLU_OK with *len, EVOLU_E_DONE when nothing was ever
     * saved (first boot), EVOLU_E_STORAGE on a read failure. save must be
     * atomic: after a power cut load returns the old record or the new one,
     * never a mix (a file renamed over the old one; two flash pages). */
    evolu_err (*state_load)(void *ctx, uint8_t *buf, size_t cap, size_t *len);
    evolu_err (*state_save)(void *ctx, const uint8_t *p, size_t n);

    /* --- provisioning and report ------------------------------------------
     * args: the provisioning/command line ("mnemonic=<24 words> ticks=N
     * period_ms=M ...", semihosting SYS_GET_CMDLINE under QEMU), NUL-
     * terminated in buf; returns its length (0: none). */
    size_t (*args)(void *ctx, char *buf, size_t cap);
    /* One report line (no newline in line; the board adds it). */
    void (*report)(void *ctx, const char *line, size_t n);
    /* RAM actually used, for the report: static (data + bss) and the stack's
     * high-water mark (painted at boot). 0 when the board cannot tell. */
    size_t (*ram_static)(void *ctx);
    size_t (*stack_peak)(void *ctx);
} evolu_device_port;

/* The board's table (one board file implements it). */
const evolu_device_port *evolu_device_board(void);

/* The firmware app (firmware/fw_app.c): boots, provisions or loads the
 * trusted state, then runs the ticks. Returns the exit status: 0 done,
 * 1 a failure it reported, 2 bad arguments or no provisioning. */
int evolu_firmware_run(const evolu_device_port *dp);

#ifdef __cplusplus
}
#endif
#endif
