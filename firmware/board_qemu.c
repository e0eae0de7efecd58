/*
 * board_qemu.c - the firmware's port points (evolu/device_port.h) on QEMU's
 * mps2-an505, the emulated stand-in for an STM32U5 board:
 *
 *   byte stream  CMSDK UART0 at 0x50200000 (stands in for USB CDC);
 *                -serial tcp:127.0.0.1:PORT connects it to the proxy
 *   wait         polls UART0's RX flag and the clock (see q_wait); a real
 *                board sleeps in wfi
 *   clocks       semihosting SYS_ELAPSED / SYS_TICKFREQ (host monotonic time)
 *                for the link's timers, SYS_TIME (host seconds) + elapsed
 *                milliseconds within the second for the wall clock (an
 *                STM32U5 reads a timer and its RTC)
 *   random       QEMU STAND-IN, NOT A TRNG: SHA-256 in counter mode over a
 *                key from the build's fixed generator (evolu_board_random of
 *                device/board_mps2_an505.c) mixed with the host time at boot,
 *                so two boots of one build do not repeat nonces. Tests only;
 *                an STM32U5 board reads its RNG peripheral.
 *   flash        a semihosting file (state=PATH on the command line, default
 *                evolu-fw.state), written as PATH.new and renamed over PATH
 *                (atomic on the host's file system)
 *   args/report  SYS_GET_CMDLINE (-append) and SYS_WRITE0 to QEMU's stdout
 */
#include <stdint.h>
#include <string.h>

#include "device.h"
#include "evolu/device_port.h"
#include "evolu/port_device.h"

int main(void);

/* --- semihosting ------------------------------------------------------------------ */

static uint32_t semi(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_WRITE0 0x04u
#define SYS_WRITE 0x05u
#define SYS_READ 0x06u
#define SYS_FLEN 0x0Cu
#define SYS_RENAME 0x0Fu
#define SYS_CLOCK 0x10u
#define SYS_TIME 0x11u
#define SYS_GET_CMDLINE 0x15u
#define SYS_ELAPSED 0x30u
#define SYS_TICKFREQ 0x31u

/* --- UART0, NVIC, SysTick ------------------------------------------------------------ */

#define REG(a) (*(volatile uint32_t *)(a))
#define UART0 0x50200000u
#define UART_DATA REG(UART0 + 0x0u)
#define UART_STATE REG(UART0 + 0x4u)
#define UART_CTRL REG(UART0 + 0x8u)
#define UART_INT REG(UART0 + 0xCu)
#define UART_BAUDDIV REG(UART0 + 0x10u)
#define NVIC_ISER1 REG(0xE000E104u)
#define NVIC_ICPR1 REG(0xE000E284u)
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SCB_ICSR REG(0xE000ED04u)

typedef struct qemu_board {
    int started;
    uint32_t boot_cs;
    uint64_t boot_ticks, ticks_per_ms;
    int64_t boot_ms;
    int64_t sec_ms, last_ms; /* wall clock: the current host second, the last value */
    uint32_t sec_ticks;
    uint8_t key[32];
    uint64_t counter;
    char state[96]; /* PATH; PATH.new is made on the stack when saving */
} qemu_board;

static qemu_board g_qb;

static uint64_t elapsed_ticks(void);

#define FW_BOARD_CMDLINE_MAX 512u

/* The -append text into buf (NUL-terminated); its length, or cap when it does
 * not fit (the app then refuses its arguments). */
static size_t cmdline(char *buf, size_t cap) {
    uint32_t blk[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)cap - 1u};
    buf[0] = 0;
    if (semi(SYS_GET_CMDLINE, blk) != 0 || blk[1] >= cap) return cap;
    buf[blk[1]] = 0;
    return blk[1];
}

static void board_start(qemu_board *b) {
    if (b->started) return;
    b->started = 1;
    UART_BAUDDIV = 16;
    UART_CTRL = 0x3u | (1u << 3); /* TX, RX, RX interrupt */
    __asm__ volatile("cpsid i" ::: "memory");
    NVIC_ISER1 = 1u << 0; /* IRQ 32: UART0 RX */
    SYST_RVR = 250000u - 1u; /* ~10 ms at 25 MHz: a wake-up source only */
    SYST_CVR = 0;
    SYST_CSR = 0x7u;
    b->boot_cs = semi(SYS_CLOCK, NULL);
    uint32_t freq = semi(SYS_TICKFREQ, NULL);
    b->ticks_per_ms = freq >= 1000u && freq != UINT32_MAX ? freq / 1000u : 1u;
    b->boot_ticks = elapsed_ticks();
    b->boot_ms = (int64_t)semi(SYS_TIME, NULL) * 1000;
    /* random: the build's generator mixed with the boot time */
    const evolu_port *p = evolu_port_device_provisioned();
    uint8_t seed[32 + 8];
    evolu_board_random(seed, 32);
    for (unsigned i = 0; i < 4; i++) seed[32 + i] = (uint8_t)((uint64_t)b->boot_ms >> (8 * (i + 1)));
    for (unsigned i = 0; i < 4; i++) seed[36 + i] = (uint8_t)(b->boot_cs >> (8 * i));
    p->sha256(p->ctx, b->key, seed, sizeof seed);
    p->memzero(p->ctx, seed, sizeof seed);
    /* the state file's name: state=PATH, a token of the command line (read
     * here into the stack; q_args reads it again into the app's buffer). No
     * strstr: newlib's pulls ~1 KB. */
    char cmd[FW_BOARD_CMDLINE_MAX];
    size_t len = cmdline(cmd, sizeof cmd);
    if (len >= sizeof cmd) len = 0;
    static const char def[] = "evolu-fw.state";
    memcpy(b->state, def, sizeof def);
    for (size_t i = 0; i + 6 <= len; i++) {
        if ((i && cmd[i - 1] != ' ') || memcmp(cmd + i, "state=", 6)) continue;
        const char *s = cmd + i + 6;
        size_t n = 0;
        while (s[n] && s[n] != ' ') n++;
        /* a path that does not fit is not cut: no state file (EVOLU_E_STORAGE) */
        if (n >= sizeof b->state - 4) n = 0;
        memcpy(b->state, s, n);
        b->state[n] = 0;
        break;
    }
}

static size_t q_read(void *ctx, uint8_t *buf, size_t cap) {
    (void)ctx;
    size_t n = 0;
    while (n < cap && (UART_STATE & 2u)) buf[n++] = (uint8_t)UART_DATA;
    return n;
}

static evolu_err q_write(void *ctx, const uint8_t *p, size_t n) {
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        while (UART_STATE & 1u) {
        }
        UART_DATA = p[i];
    }
    return EVOLU_OK;
}

/* Milliseconds of real time: SYS_ELAPSED (a 64-bit count of SYS_TICKFREQ
 * ticks since QEMU started, host monotonic time). QEMU's SYS_CLOCK is the
 * host process's CPU time (clock()), which stands still while the board
 * sleeps or waits: useless for timeouts. */
static uint64_t elapsed_ticks(void) {
    uint32_t t[2] = {0, 0};
    if (semi(SYS_ELAPSED, t) != 0) return 0;
    return (uint64_t)t[1] << 32 | t[0];
}
static uint32_t q_ticks(void *ctx) {
    qemu_board *b = ctx;
    return (uint32_t)((elapsed_ticks() - b->boot_ticks) / b->ticks_per_ms);
}

static void q_wait(void *ctx, uint32_t ms) {
    uint32_t start = q_ticks(ctx);
    /* Polls: under QEMU 7.2 the SysTick did not wake wfi here (the idle link
     * then slept forever), so only the UART may end a wfi. A real board
     * sleeps in wfi with the RX interrupt and a low-power timer. */
    while (!(UART_STATE & 2u) && q_ticks(ctx) - start < ms) {
        __asm__ volatile("wfi" ::: "memory");
        /* PRIMASK keeps the handlers from running: clear what woke us. */
        SCB_ICSR = 1u << 25; /* PENDSTCLR */
        UART_INT = 0x2u;     /* RX interrupt */
        NVIC_ICPR1 = 1u << 0;
    }
}

/* The wall clock follows the host's SYS_TIME (whole seconds), with the
 * milliseconds since that second began from the elapsed-time counter,
 * capped below the next second; never decreasing. */
static int64_t q_now(void *ctx) {
    qemu_board *b = ctx;
    int64_t sec = (int64_t)semi(SYS_TIME, NULL) * 1000;
    uint32_t t = q_ticks(ctx);
    if (sec != b->sec_ms) {
        b->sec_ms = sec;
        b->sec_ticks = t;
    }
    uint32_t sub = t - b->sec_ticks;
    int64_t now = sec + (sub > 999 ? 999 : sub);
    if (now < b->last_ms) now = b->last_ms;
    b->last_ms = now;
    return now;
}

static void q_random(void *ctx, uint8_t *buf, size_t n) {
    qemu_board *b = ctx;
    const evolu_port *p = evolu_port_device_provisioned();
    uint8_t in[40], out[32];
    while (n) {
        memcpy(in, b->key, 32);
        for (unsigned i = 0; i < 8; i++) in[32 + i] = (uint8_t)(b->counter >> (8 * i));
        b->counter++;
        p->sha256(p->ctx, out, in, sizeof in);
        size_t k = n < sizeof out ? n : sizeof out;
        memcpy(buf, out, k);
        buf += k;
        n -= k;
    }
    p->memzero(p->ctx, in, sizeof in);
    p->memzero(p->ctx, out, sizeof out);
}

static evolu_err q_load(void *ctx, uint8_t *buf, size_t cap, size_t *len) {
    qemu_board *b = ctx;
    if (!b->state[0]) return EVOLU_E_STORAGE;
    uint32_t open_blk[3] = {(uint32_t)(uintptr_t)b->state, 1 /* "rb" */, strlen(b->state)};
    int32_t h = (int32_t)semi(SYS_OPEN, open_blk);
    if (h < 0) return EVOLU_E_DONE;
    uint32_t hb[1] = {(uint32_t)h};
    int32_t flen = (int32_t)semi(SYS_FLEN, hb);
    evolu_err e = EVOLU_OK;
    if (flen < 0 || (uint32_t)flen > cap) {
        e = EVOLU_E_STORAGE;
    } else {
        uint32_t rd[3] = {(uint32_t)h, (uint32_t)(uintptr_t)buf, (uint32_t)flen};
        if (semi(SYS_READ, rd) != 0) e = EVOLU_E_STORAGE;
        *len = (size_t)flen;
    }
    semi(SYS_CLOSE, hb);
    return e;
}

static evolu_err q_save(void *ctx, const uint8_t *p, size_t n) {
    qemu_board *b = ctx;
    if (!b->state[0]) return EVOLU_E_STORAGE;
    char state_new[sizeof b->state + 4];
    size_t k = strlen(b->state);
    memcpy(state_new, b->state, k);
    memcpy(state_new + k, ".new", 5);
    uint32_t open_blk[3] = {(uint32_t)(uintptr_t)state_new, 5 /* "wb" */, strlen(state_new)};
    int32_t h = (int32_t)semi(SYS_OPEN, open_blk);
    if (h < 0) return EVOLU_E_STORAGE;
    uint32_t wr[3] = {(uint32_t)h, (uint32_t)(uintptr_t)p, (uint32_t)n};
    uint32_t left = semi(SYS_WRITE, wr);
    uint32_t hb[1] = {(uint32_t)h};
    uint32_t closed = semi(SYS_CLOSE, hb);
    if (left || closed) return EVOLU_E_STORAGE;
    uint32_t rn[4] = {(uint32_t)(uintptr_t)state_new, strlen(state_new),
                      (uint32_t)(uintptr_t)b->state, strlen(b->state)};
    return semi(SYS_RENAME, rn) == 0 ? EVOLU_OK : EVOLU_E_STORAGE;
}

static size_t q_args(void *ctx, char *buf, size_t cap) {
    (void)ctx;
    return cap ? cmdline(buf, cap) : 0;
}

/* SYS_WRITE0 takes a NUL-terminated string: the line goes out in pieces
 * through a small stack buffer (no static copy of the longest line). */
static void q_report(void *ctx, const char *line, size_t n) {
    (void)ctx;
    char out[65];
    size_t i = 0;
    do {
        size_t k = n - i < sizeof out - 2 ? n - i : sizeof out - 2;
        memcpy(out, line + i, k);
        i += k;
        if (i == n) out[k++] = '\n';
        out[k] = 0;
        semi(SYS_WRITE0, out);
    } while (i < n);
}

extern uint32_t __data_start[], __bss_end__[];
static size_t q_static(void *ctx) {
    (void)ctx;
    return (size_t)((const char *)__bss_end__ - (const char *)__data_start);
}
static size_t q_stack(void *ctx) {
    (void)ctx;
    return evolu_device_stack_high_water();
}

const evolu_device_port *evolu_device_board(void) {
    static evolu_device_port dp;
    board_start(&g_qb);
    dp.ctx = &g_qb;
    dp.crypto = evolu_port_device_provisioned();
    dp.stream_read = q_read;
    dp.stream_write = q_write;
    dp.wait = q_wait;
    dp.ticks_ms = q_ticks;
    dp.now_ms = q_now;
    dp.random = q_random;
    dp.state_load = q_load;
    dp.state_save = q_save;
    dp.args = q_args;
    dp.report = q_report;
    dp.ram_static = q_static;
    dp.stack_peak = q_stack;
    return &dp;
}

int main(void) { return evolu_firmware_run(evolu_device_board()); }
