/*
 * cmd_proxy.c - `evolu proxy`: bridges a device (link protocol over TCP or a
 * serial device) to a relay with store-and-forward (evolu/proxy.h,
 * docs/proxy.md). With --device tcp-listen:HOST:PORT it prints
 * `device on tcp:HOST:PORT` on stdout (flushed) before anything else; logs
 * go to stderr; SIGTERM/SIGINT stop it (exit 0), the queue stays on disk.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "evolu/proxy.h"

static evolu_proxy *g_proxy;

static void on_signal(int sig) {
    (void)sig;
    if (g_proxy) evolu_proxy_stop(g_proxy);
}

static void log_line(void *ctx, evolu_log_level level, const char *line) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            evolu_log_level_name(level), line);
}

static void usage(FILE *f) {
    fprintf(f,
        "usage: evolu proxy --device tcp-listen:HOST:PORT|PATH --relay URL --store DIR\n"
        "                   [--queue DIR] [options]\n"
        "\n"
        "Bridges a device speaking the link protocol (docs/link.md) to an Evolu relay\n"
        "over WebSocket, one connection per owner. Every message from the device is\n"
        "written to the queue and fsynced before the link acknowledges it, and leaves\n"
        "the queue when the relay answers it: while the relay is unreachable the\n"
        "device keeps writing, and a restarted proxy forwards what was queued, in\n"
        "order. Serves the device's host store (encrypted index and changes) from\n"
        "DIR. Never decrypts anything.\n"
        "\n"
        "  --device SPEC          tcp-listen:HOST:PORT (PORT 0 = a free one; prints\n"
        "                         `device on tcp:HOST:PORT` on stdout) or the path of\n"
        "                         a serial device (raw mode), e.g. /dev/ttyACM0\n"
        "  --relay URL            ws:// or wss:// relay; ?ownerId=<OwnerId> is appended\n"
        "  --store DIR            the device's host store (created if missing)\n"
        "  --queue DIR            the store-and-forward queue (default DIR/queue)\n"
        "  --queue-max-messages N stop taking messages from the device at N queued\n"
        "                         (default 65536)\n"
        "  --queue-max-bytes N    ... or at N bytes queued (default 1073741824)\n"
        "  --reconnect-max-ms MS  longest wait between relay reconnects (default 10000)\n"
        "  --reply-timeout-ms MS  reconnect when the relay leaves a message unanswered\n"
        "                         this long (default 30000)\n"
        "  --log-level LEVEL      error | warn | info | debug (default info)\n"
        "  -h, --help             this text\n"
        "\n"
        "Exit status: 0 after SIGTERM/SIGINT, 1 if it cannot start, 2 bad usage.\n");
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out) {
    if (!s || !*s || *s == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max || v == 0) return -1;
    *out = v;
    return 0;
}

int evolu_cmd_proxy(int argc, char **argv) {
    evolu_proxy_options o;
    evolu_proxy_options_default(&o);
    o.log = log_line;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v || strncmp(a, "--", 2)) {
            fprintf(stderr, "evolu proxy: %s '%s' (try 'evolu proxy --help')\n",
                    v ? "unexpected argument" : "missing value after", a);
            return 2;
        }
        i++;
        unsigned long long n = 0;
        if (!strcmp(a, "--device")) o.device = v;
        else if (!strcmp(a, "--relay")) o.relay_url = v;
        else if (!strcmp(a, "--store")) o.store_dir = v;
        else if (!strcmp(a, "--queue")) o.queue_dir = v;
        else if (!strcmp(a, "--queue-max-messages") && !parse_u64(v, SIZE_MAX, &n))
            o.queue_max_messages = (size_t)n;
        else if (!strcmp(a, "--queue-max-bytes") && !parse_u64(v, ~0ull, &n))
            o.queue_max_bytes = n;
        else if (!strcmp(a, "--reconnect-max-ms") && !parse_u64(v, 3600000, &n))
            o.reconnect_max_ms = (int)n;
        else if (!strcmp(a, "--reply-timeout-ms") && !parse_u64(v, 86400000, &n))
            o.reply_timeout_ms = (int)n;
        else if (!strcmp(a, "--log-level") && evolu_log_level_parse(v, &o.log_level))
            ;
        else {
            fprintf(stderr, "evolu proxy: bad option or value: %s %s\n", a, v);
            return 2;
        }
    }
    if (!o.device || !o.relay_url || !o.store_dir) {
        fprintf(stderr, "evolu proxy: --device, --relay and --store are required "
                        "(try 'evolu proxy --help')\n");
        return 2;
    }
    if (o.reconnect_min_ms > o.reconnect_max_ms) o.reconnect_min_ms = o.reconnect_max_ms;
    evolu_err e = evolu_proxy_create(&o, &g_proxy);
    if (e) {
        fprintf(stderr, "evolu proxy: cannot start: %s\n",
                e == EVOLU_E_URL ? "the relay URL must start with ws:// or wss://" :
                e == EVOLU_E_ARG ? "bad --device (tcp-listen:HOST:PORT with an IPv4 address)" :
                e == EVOLU_E_STATE ? "cannot listen on or open the device" :
                e == EVOLU_E_STORAGE ? "cannot use the store or queue directory" :
                evolu_strerror(e));
        return e == EVOLU_E_ARG || e == EVOLU_E_URL ? 2 : 1;
    }
    int port = evolu_proxy_device_port(g_proxy);
    if (port >= 0) {
        const char *spec = o.device + 11;
        const char *colon = strrchr(spec, ':');
        printf("device on tcp:%.*s:%d\n", (int)(colon - spec), spec, port);
        fflush(stdout);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    evolu_proxy_run(g_proxy);
    evolu_proxy *p = g_proxy;
    g_proxy = NULL;
    evolu_proxy_destroy(p);
    return 0;
}
