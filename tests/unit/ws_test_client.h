/* ws_test_client.h - a tiny blocking WebSocket client over a plain socket on
 * 127.0.0.1, for the relay tests: the opening handshake (with the HTTP status
 * when the server refuses), masked frames (optionally fragmented, any
 * opcode), and reading frames with a timeout. Static functions only. */
#ifndef EVOLU_WS_TEST_CLIENT_H
#define EVOLU_WS_TEST_CLIENT_H

#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WSC_OP_CONT 0x0
#define WSC_OP_TEXT 0x1
#define WSC_OP_BINARY 0x2
#define WSC_OP_CLOSE 0x8
#define WSC_OP_PING 0x9
#define WSC_OP_PONG 0xA

static inline int64_t wsc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n bytes before the deadline; 0 ok, -1 EOF/error/timeout. */
static inline int wsc_read_full(int fd, uint8_t *p, size_t n, int64_t deadline) {
    while (n > 0) {
        int64_t left = deadline - wsc_now_ms();
        if (left <= 0) return -1;
        struct pollfd pf = {fd, POLLIN, 0};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static inline int wsc_write_full(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Connects to 127.0.0.1:port and asks to upgrade `path` (e.g.
 * "/?ownerId=..."). Returns the socket after a 101, else -1 with the HTTP
 * status in *status (0 if there was none). */
static inline int wsc_connect(int port, const char *path, int *status) {
    *status = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, port);
    if (wsc_write_full(fd, (const uint8_t *)req, (size_t)n)) {
        close(fd);
        return -1;
    }
    /* Read the response head byte by byte (so no frame bytes are eaten). */
    char head[2048];
    size_t len = 0;
    int64_t deadline = wsc_now_ms() + 5000;
    while (len + 1 < sizeof head) {
        if (wsc_read_full(fd, (uint8_t *)&head[len], 1, deadline)) break;
        len++;
        if (len >= 4 && !memcmp(head + len - 4, "\r\n\r\n", 4)) break;
    }
    head[len] = 0;
    int minor;
    if (sscanf(head, "HTTP/1.%d %d", &minor, status) != 2) *status = 0;
    if (*status != 101) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends one frame (client frames are masked). */
static inline int wsc_send_frame(int fd, uint8_t opcode, bool fin, const uint8_t *p, size_t n) {
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    memcpy(h + hl, mask, 4);
    hl += 4;
    if (wsc_write_full(fd, h, hl)) return -1;
    uint8_t chunk[65536];
    for (size_t off = 0; off < n;) {
        size_t k = n - off < sizeof chunk ? n - off : sizeof chunk;
        for (size_t i = 0; i < k; i++) chunk[i] = p[off + i] ^ mask[(off + i) & 3];
        if (wsc_write_full(fd, chunk, k)) return -1;
        off += k;
    }
    return 0;
}

static inline int wsc_send(int fd, const uint8_t *p, size_t n) {
    return wsc_send_frame(fd, WSC_OP_BINARY, true, p, n);
}

/* Receives one message (continuations joined) within timeout_ms: *op is its
 * opcode, *out a malloc'd payload (free it). Pings are answered. Returns 0,
 * or -1 on timeout, EOF or error. For a close frame *op = WSC_OP_CLOSE and
 * the payload starts with the 2-byte code. */
static inline int wsc_recv(int fd, int timeout_ms, uint8_t *op, uint8_t **out, size_t *out_len) {
    int64_t deadline = wsc_now_ms() + timeout_ms;
    uint8_t *msg = NULL;
    size_t len = 0;
    uint8_t first_op = 0;
    for (;;) {
        uint8_t h[2];
        if (wsc_read_full(fd, h, 2, deadline)) goto fail;
        uint8_t opcode = h[0] & 0x0f;
        bool fin = h[0] & 0x80;
        uint64_t n = h[1] & 0x7f;
        if (n == 126 || n == 127) {
            uint8_t ext[8];
            size_t el = n == 126 ? 2 : 8;
            if (wsc_read_full(fd, ext, el, deadline)) goto fail;
            n = 0;
            for (size_t i = 0; i < el; i++) n = n << 8 | ext[i];
        }
        if (h[1] & 0x80) { /* servers do not mask, but be tolerant */
            uint8_t m[4];
            if (wsc_read_full(fd, m, 4, deadline)) goto fail;
        }
        if (n > 200000000u) goto fail;
        uint8_t *p = malloc((size_t)n + 1);
        if (!p || wsc_read_full(fd, p, (size_t)n, deadline)) {
            free(p);
            goto fail;
        }
        if (opcode == WSC_OP_PING) {
            wsc_send_frame(fd, WSC_OP_PONG, true, p, (size_t)n);
            free(p);
            continue;
        }
        if (opcode == WSC_OP_PONG) {
            free(p);
            continue;
        }
        if (opcode >= 0x8) { /* close */
            free(msg);
            *op = opcode;
            *out = p;
            *out_len = (size_t)n;
            return 0;
        }
        if (opcode != WSC_OP_CONT) first_op = opcode;
        uint8_t *q = realloc(msg, len + (size_t)n + 1);
        if (!q) {
            free(p);
            goto fail;
        }
        msg = q;
        memcpy(msg + len, p, (size_t)n);
        len += (size_t)n;
        free(p);
        if (fin) {
            *op = first_op;
            *out = msg;
            *out_len = len;
            return 0;
        }
    }
fail:
    free(msg);
    return -1;
}

/* Waits for a close frame; returns its code, 1005 if it had none, or -1 if
 * the connection ended (or timed out) without one. Data frames are skipped. */
static inline int wsc_wait_close(int fd, int timeout_ms) {
    int64_t deadline = wsc_now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - wsc_now_ms());
        if (left <= 0) return -1;
        uint8_t op, *p;
        size_t n;
        if (wsc_recv(fd, left, &op, &p, &n)) return -1;
        if (op == WSC_OP_CLOSE) {
            int code = n >= 2 ? (p[0] << 8 | p[1]) : 1005;
            free(p);
            return code;
        }
        free(p);
    }
}

#endif
