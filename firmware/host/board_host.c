/*
 * board_host.c - the firmware on a PC: the same app (firmware/fw_*.c) with a
 * TCP socket instead of the UART, a file instead of flash, stdout instead of
 * semihosting, libsodium's random instead of the TRNG. For fast tests, and
 * for the proxy's tests when QEMU is not needed.
 *
 *   evolu-fw-host --connect HOST:PORT --state FILE [ARG...]
 *
 * The ARGs, joined with spaces, are the firmware's command line (what
 * -append gives it under QEMU): "owner_keys=<hex> ticks=N period_ms=M" (the
 * keys from `evolu owner show --device`).
 * The connection is retried for 10 s (the peer may still be starting). With
 * --reconnect a host that goes away is dialled again, like a USB cable
 * plugged back in (the link then sees a new session).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "evolu/device_port.h"
#include "evolu/port_sodium.h"

typedef struct host_board {
    int fd;                 /* -1: unplugged */
    const char *state;
    char args[4096];
    bool reconnect;         /* --reconnect: a lost host is dialled again */
    struct sockaddr_in addr;
} host_board;

static host_board g_board;

/* --reconnect: like a cable plugged back in. One attempt per call. */
static void plug(host_board *b) {
    if (b->fd >= 0 || !b->reconnect) return;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return;
    if (connect(fd, (struct sockaddr *)&b->addr, sizeof b->addr) != 0) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    b->fd = fd;
}

static void unplug(host_board *b) {
    if (b->fd >= 0) close(b->fd);
    b->fd = -1;
}

static size_t h_read(void *ctx, uint8_t *buf, size_t cap) {
    host_board *b = ctx;
    plug(b);
    if (b->fd < 0) return 0;
    ssize_t n = recv(b->fd, buf, cap, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        /* The host closed: like an unplugged cable, nothing arrives any more.
         * Without --reconnect stream_write reports it. */
        if (b->reconnect) unplug(b);
        return 0;
    }
    return n > 0 ? (size_t)n : 0;
}

static evolu_err h_write(void *ctx, const uint8_t *p, size_t n) {
    host_board *b = ctx;
    plug(b);
    if (b->fd < 0) return EVOLU_OK; /* unplugged: the bytes are lost, as on a line */
    while (n) {
        ssize_t k = send(b->fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0 && b->reconnect) {
            unplug(b);
            return EVOLU_OK;
        }
        if (k <= 0) return EVOLU_E_CLOSED;
        p += k;
        n -= (size_t)k;
    }
    return EVOLU_OK;
}

static void h_wait(void *ctx, uint32_t ms) {
    host_board *b = ctx;
    if (b->fd < 0) {
        struct timespec ts = {0, (long)(ms < 100 ? ms : 100) * 1000000L};
        nanosleep(&ts, NULL);
        return;
    }
    struct pollfd pfd = {b->fd, POLLIN, 0};
    (void)poll(&pfd, 1, (int)(ms > 100000 ? 100000 : ms));
}

static uint32_t h_ticks(void *ctx) {
    (void)ctx;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u);
}

static int64_t h_now(void *ctx) {
    (void)ctx;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void h_random(void *ctx, uint8_t *buf, size_t n) {
    (void)ctx;
    const evolu_port *p = evolu_port_sodium();
    p->random(p->ctx, buf, n);
}

static evolu_err h_load(void *ctx, uint8_t *buf, size_t cap, size_t *len) {
    host_board *b = ctx;
    FILE *f = fopen(b->state, "rb");
    if (!f) return errno == ENOENT ? EVOLU_E_DONE : EVOLU_E_STORAGE;
    size_t n = fread(buf, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) return EVOLU_E_STORAGE;
    *len = n;
    return EVOLU_OK;
}

static evolu_err h_save(void *ctx, const uint8_t *p, size_t n) {
    host_board *b = ctx;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.new", b->state);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return EVOLU_E_STORAGE;
    ssize_t k = write(fd, p, n);
    int ok = k == (ssize_t)n && fsync(fd) == 0;
    ok &= close(fd) == 0;
    if (!ok || rename(tmp, b->state) != 0) return EVOLU_E_STORAGE;
    return EVOLU_OK;
}

static size_t h_args(void *ctx, char *buf, size_t cap) {
    host_board *b = ctx;
    size_t n = strlen(b->args);
    if (n >= cap) return cap;
    memcpy(buf, b->args, n + 1);
    return n;
}

static void h_report(void *ctx, const char *line, size_t n) {
    (void)ctx;
    fwrite(line, 1, n, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static size_t h_zero(void *ctx) {
    (void)ctx;
    return 0;
}

const evolu_device_port *evolu_device_board(void) {
    static evolu_device_port dp;
    dp.ctx = &g_board;
    dp.crypto = evolu_port_sodium();
    dp.stream_read = h_read;
    dp.stream_write = h_write;
    dp.wait = h_wait;
    dp.ticks_ms = h_ticks;
    dp.now_ms = h_now;
    dp.random = h_random;
    dp.state_load = h_load;
    dp.state_save = h_save;
    dp.args = h_args;
    dp.report = h_report;
    dp.ram_static = h_zero;
    dp.stack_peak = h_zero;
    return &dp;
}

static int connect_to(const char *hostport) {
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host) return -1;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return -1;
    g_board.addr = a;
    for (int tries = 0; tries < 100; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        close(fd);
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int main(int argc, char **argv) {
    const char *conn = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--connect") && i + 1 < argc) conn = argv[++i];
        else if (!strcmp(argv[i], "--state") && i + 1 < argc) g_board.state = argv[++i];
        else if (!strcmp(argv[i], "--reconnect")) g_board.reconnect = true;
        else break;
    }
    if (!conn || !g_board.state) {
        fprintf(stderr, "usage: evolu-fw-host --connect HOST:PORT --state FILE [--reconnect] "
                        "[owner_keys=<hex>] [ticks=N] [period_ms=M] [idle=K]\n");
        return 2;
    }
    size_t len = 0;
    for (; i < argc; i++) {
        size_t k = strlen(argv[i]);
        if (len + k + 2 > sizeof g_board.args) {
            fprintf(stderr, "evolu-fw-host: arguments too long\n");
            return 2;
        }
        if (len) g_board.args[len++] = ' ';
        memcpy(g_board.args + len, argv[i], k);
        len += k;
        g_board.args[len] = 0;
    }
    g_board.fd = -1;
    g_board.fd = connect_to(conn);
    if (g_board.fd < 0) {
        fprintf(stderr, "evolu-fw-host: cannot connect to %s\n", conn);
        return 1;
    }
    int rc = evolu_firmware_run(evolu_device_board());
    close(g_board.fd);
    return rc;
}
