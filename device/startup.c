/*
 * startup.c - reset and fault handling for the Cortex-M33 images (QEMU
 * mps2-an505 standing in for an STM32U5), linked with -nostartfiles.
 *
 * Reset: set MSPLIM to the bottom of the stack (an overflow then faults instead
 * of silently corrupting the heap), enable the FPU before any floating-point
 * instruction, copy .data from flash, zero .bss, paint the unused stack so its
 * high-water mark can be measured, open the semihosting stdio handles (newlib
 * rdimon), run constructors and exit(main()) (built with EVOLU_STARTUP_NO_STDIO,
 * for the firmware: no stdio, main's status straight to the semihosting exit). The MPU makes the low alias of
 * the image read-only, so a NULL-pointer write faults.
 *
 * Faults: every fault handler drops the stack limit, moves to a fresh stack and
 * ends the program through semihosting with exit status 100 + exception number
 * (103 HardFault, 104 MemManage, 105 BusFault, 106 UsageFault - including stack
 * overflow and division by zero -, 107 SecureFault), so a crash can never pass
 * for a test result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

extern uint32_t __stack_top[], __stack_limit[];
extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start__[], __bss_end__[];
extern char __heap_start[], __heap_end[];

int main(void);
void initialise_monitor_handles(void);
void __libc_init_array(void);
void Reset_Handler(void);
void Default_Handler(void);
void _init(void);
void _fini(void);
void *_sbrk(ptrdiff_t incr);
void __assert_func(const char *file, int line, const char *func, const char *expr);

#define STACK_PAINT 0xC5C5C5C5u

/* --- semihosting ------------------------------------------------------------ */

static uint32_t semihost(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SYS_WRITE0 0x04u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

void evolu_device_exit(int status) {
    static uint32_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)status;
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) __asm__ volatile("wfi");
}

/* --- reset ------------------------------------------------------------------ */

size_t evolu_device_stack_high_water(void) {
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == STACK_PAINT) p++;
    return (size_t)((const char *)__stack_top - (const char *)p);
}

size_t evolu_device_stack_size(void) {
    return (size_t)((const char *)__stack_top - (const char *)__stack_limit);
}

/* EVOLU_STARTUP_NO_STDIO (the firmware): no newlib stdio at all (printf,
 * FILE buffers, rdimon's handles: ~7 KB of flash); the firmware reports its
 * own stack high-water mark, so main's status goes straight to the exit. */
#ifndef EVOLU_STARTUP_NO_STDIO
static void report_stack(void) {
    printf("DEVICE stack high-water: %u of %u bytes\n",
           (unsigned)evolu_device_stack_high_water(), (unsigned)evolu_device_stack_size());
    fflush(stdout);
}
#endif

/* Everything after the FPU is on: plain C, may use floating point. */
__attribute__((noinline, noreturn)) static void start_c(void) {
    for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
    for (uint32_t *d = __bss_start__; d < __bss_end__;) *d++ = 0;
    /* Paint the stack below the current frame (leave 64 bytes of slack). */
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = __stack_limit; p < sp - 16; p++) *p = STACK_PAINT;
#ifndef EVOLU_STARTUP_NO_STDIO
    initialise_monitor_handles();
    __libc_init_array();
    atexit(report_stack);
    exit(main());
#else
    __libc_init_array();
    evolu_device_exit(main());
#endif
}

void Reset_Handler(void) {
    /* Stack limit first: from here on an overflow is a UsageFault (STKOF). */
    __asm__ volatile("msr msplim, %0" : : "r"(__stack_limit));
    /* CPACR: full access to CP10/CP11 (the FPU). */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    /* SHCSR: MemManage, BusFault, UsageFault and SecureFault get their own
     * handlers (and exit codes) instead of escalating to HardFault. */
    *(volatile uint32_t *)0xE000ED24u |= (1u << 16) | (1u << 17) | (1u << 18) | (1u << 19);
    /* CCR.DIV_0_TRP: integer division by zero faults, as it does on the host,
     * instead of quietly giving 0. */
    *(volatile uint32_t *)0xE000ED14u |= 1u << 4;
    /* MPU region 0: 0x00000000-0x0FFFFFFF read-only and never executable. On the
     * AN505 that range aliases the image (SSRAM1), so without this a write
     * through a NULL pointer would quietly overwrite the vector table and code;
     * now it is a MemManage fault (exit 104). Everything else keeps the default
     * memory map (PRIVDEFENA). */
    *(volatile uint32_t *)0xE000EDC0u = 0x44u;                     /* MAIR0 attr 0 */
    *(volatile uint32_t *)0xE000ED98u = 0;                         /* RNR = 0 */
    *(volatile uint32_t *)0xE000ED9Cu = (0x3u << 1) | 1u;          /* RBAR: RO, XN */
    *(volatile uint32_t *)0xE000EDA0u = 0x0FFFFFE0u | 1u;          /* RLAR: EN */
    *(volatile uint32_t *)0xE000ED94u = (1u << 2) | 1u;            /* PRIVDEFENA, ENABLE */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    start_c();
}

/* --- faults ----------------------------------------------------------------- */

__attribute__((used, noreturn)) static void fault_exit(uint32_t ipsr) {
    uint32_t n = ipsr & 0x1FFu;
    char msg[] = "DEVICE FAULT: exception ###\n";
    char *d = msg + sizeof msg - 5;
    d[0] = (char)('0' + n / 100 % 10);
    d[1] = (char)('0' + n / 10 % 10);
    d[2] = (char)('0' + n % 10);
    semihost(SYS_WRITE0, msg);
    evolu_device_exit(100 + (int)n);
}

/* Naked: runs with whatever stack is left (possibly none, after a stack
 * overflow), so it first removes the limit and takes the top of the stack. */
__attribute__((naked)) void Default_Handler(void) {
    __asm__ volatile(
        "movs r0, #0\n\t"
        "msr msplim, r0\n\t"
        "ldr r0, =__stack_top\n\t"
        "mov sp, r0\n\t"
        "mrs r0, ipsr\n\t"
        "b fault_exit\n\t"
        ".ltorg\n\t");
}

/* 16 system exceptions + the AN505's IRQs (none used: all go to the default). */
typedef void (*vector)(void);
__attribute__((section(".vectors"), used)) static const vector vectors[16 + 96] = {
    (vector)(uintptr_t)__stack_top,
    Reset_Handler,
    [2 ... 16 + 96 - 1] = Default_Handler,
};

/* --- newlib glue -------------------------------------------------------------- */

void _init(void) {}
void _fini(void) {}

/* Heap between .bss and the stack limit (newlib's default would compare with the
 * live stack pointer, which is meaningless with a fixed stack region). */
void *_sbrk(ptrdiff_t incr) {
    static char *brk = __heap_start;
    if (incr < 0 || incr > __heap_end - brk) return (void *)-1;
    char *prev = brk;
    brk += incr;
    return prev;
}

/* A failed assert (e.g. inside libsodium) ends the program with status 99, and
 * without pulling newlib's assert printer into every image. */
void __assert_func(const char *file, int line, const char *func, const char *expr) {
    (void)line;
    (void)func;
    semihost(SYS_WRITE0, "DEVICE assert failed: ");
    semihost(SYS_WRITE0, expr);
    semihost(SYS_WRITE0, " in ");
    semihost(SYS_WRITE0, file);
    semihost(SYS_WRITE0, "\n");
    evolu_device_exit(99);
}
