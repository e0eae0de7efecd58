/*
 * cmd_relay.c - `evolu relay`: the relay as a program (evolu/ws_server.h over
 * evolu/relay.h). Prints `listening on ws://HOST:PORT` on stdout once it
 * accepts connections; logs go to stderr; SIGTERM/SIGINT stop it cleanly
 * (exit 0); SIGUSR1 prints a stats line on stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "commands.h"
#include "evolu/id.h"
#include "evolu/port_sodium.h"
#include "evolu/ws_server.h"

static evolu_ws_server *g_server;

static void on_signal(int sig) {
    if (!g_server) return;
    if (sig == SIGUSR1) evolu_ws_server_request_stats(g_server);
    else evolu_ws_server_stop(g_server);
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

static void stats_line(void *ctx, const char *line) { log_line(ctx, EVOLU_LOG_INFO, line); }

static void usage(FILE *f) {
    fprintf(f,
        "usage: evolu relay --port PORT --db FILE [options]\n"
        "\n"
        "Runs an Evolu relay: a WebSocket server storing every owner's encrypted\n"
        "changes in one SQLite file. Prints `listening on ws://HOST:PORT` on stdout\n"
        "when ready; logs on stderr. SIGTERM/SIGINT: clean shutdown (close code\n"
        "1000, exit 0). SIGUSR1: one stats line on stderr.\n"
        "\n"
        "  --port PORT             TCP port (0 = a free port, printed on stdout)\n"
        "  --db FILE               SQLite database (created if missing; WAL)\n"
        "  --host ADDR             address to listen on (default 127.0.0.1)\n"
        "  --quota BYTES           stored change bytes per owner (default %u = 100 MiB;\n"
        "                          0 = unlimited); above it writes get errorCode 3\n"
        "  --allow OWNERID         allow only these owners (repeatable): the upgrade\n"
        "                          needs ?ownerId= (400 missing/invalid, 401 not\n"
        "                          allowed) and messages for other owners are dropped\n"
        "  --tls-cert FILE         PEM certificate chain (with --tls-key: serve wss://)\n"
        "  --tls-key FILE          PEM private key\n"
        "  --log-level LEVEL       error | warn | info | debug (default info)\n"
        "  --synchronous MODE      full (default): fsync each acknowledged write, survives\n"
        "                          power loss; normal: survives a crash of the process,\n"
        "                          not of the machine, and is faster\n"
        "  --max-connections N     connections at once (default 4096; more get 503)\n"
        "  --max-queue-bytes N     send queue per connection (default 16777216); a client\n"
        "                          that lets it fill is disconnected (1008)\n"
        "  --max-queue-messages N  send queue per connection in messages (default 4096)\n"
        "  --max-inflight-bytes N  all send queues and partial messages together\n"
        "                          (default 1073741824); above it connections get 1013\n"
        "  --ping SECONDS          ping idle connections after this (default 30); no\n"
        "                          answer for 3 times as long closes them\n"
        "  -h, --help              this text\n",
        EVOLU_RELAY_DEFAULT_QUOTA);
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out) {
    if (!s || !*s || *s == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max) return -1;
    *out = v;
    return 0;
}

int evolu_cmd_relay(int argc, char **argv) {
    evolu_ws_server_options o;
    evolu_ws_server_options_default(&o);
    int port = -1;
    const char *db = NULL;
    uint8_t (*allow)[EVOLU_OWNER_ID_BYTES] = calloc((size_t)argc + 1, sizeof *allow);
    size_t n_allow = 0;
    if (!allow) {
        fprintf(stderr, "evolu relay: out of memory\n");
        return 1;
    }
    int rc = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            free(allow);
            return 0;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long n = 0;
        if (!v || strncmp(a, "--", 2)) {
            fprintf(stderr, "evolu relay: %s '%s'\n", v ? "unexpected argument" :
                    "missing value after", a);
            goto usage_error;
        }
        i++;
        if (!strcmp(a, "--port")) {
            if (parse_u64(v, 65535, &n)) goto bad_value;
            port = (int)n;
        } else if (!strcmp(a, "--db")) {
            db = v;
        } else if (!strcmp(a, "--host")) {
            o.host = v;
        } else if (!strcmp(a, "--quota")) {
            if (parse_u64(v, ~0ull, &n)) goto bad_value;
            o.relay.quota_bytes = n;
        } else if (!strcmp(a, "--allow")) {
            if (evolu_id_from_string(v, strlen(v), allow[n_allow])) {
                fprintf(stderr, "evolu relay: --allow needs an OwnerId (22 Base64Url "
                        "characters), got '%s'\n", v);
                goto usage_error;
            }
            n_allow++;
        } else if (!strcmp(a, "--tls-cert")) {
            o.tls_cert = v;
        } else if (!strcmp(a, "--tls-key")) {
            o.tls_key = v;
        } else if (!strcmp(a, "--log-level")) {
            if (!evolu_log_level_parse(v, &o.relay.log_level)) goto bad_value;
        } else if (!strcmp(a, "--synchronous")) {
            if (!strcmp(v, "full")) o.relay.synchronous_full = true;
            else if (!strcmp(v, "normal")) o.relay.synchronous_full = false;
            else goto bad_value;
        } else if (!strcmp(a, "--max-connections")) {
            if (parse_u64(v, 1000000, &n) || !n) goto bad_value;
            o.max_connections = (size_t)n;
        } else if (!strcmp(a, "--max-queue-bytes")) {
            if (parse_u64(v, SIZE_MAX, &n) || !n) goto bad_value;
            o.queue_max_bytes = (size_t)n;
        } else if (!strcmp(a, "--max-queue-messages")) {
            if (parse_u64(v, SIZE_MAX, &n) || !n) goto bad_value;
            o.queue_max_msgs = (size_t)n;
        } else if (!strcmp(a, "--max-inflight-bytes")) {
            if (parse_u64(v, SIZE_MAX, &n) || !n) goto bad_value;
            o.inflight_max = (size_t)n;
        } else if (!strcmp(a, "--ping")) {
            if (parse_u64(v, 3600, &n) || !n) goto bad_value;
            o.ping_secs = (unsigned)n;
            o.hangup_secs = (unsigned)n * 3;
        } else {
            fprintf(stderr, "evolu relay: unknown option '%s' (see --help)\n", a);
            goto usage_error;
        }
        continue;
    bad_value:
        fprintf(stderr, "evolu relay: invalid value '%s' for %s (see --help)\n", v, a);
        goto usage_error;
    }
    if (port < 0 || !db) {
        fprintf(stderr, "evolu relay: --port and --db are required (see --help)\n");
        goto usage_error;
    }
    if ((o.tls_cert == NULL) != (o.tls_key == NULL)) {
        fprintf(stderr, "evolu relay: --tls-cert and --tls-key go together\n");
        goto usage_error;
    }

    const evolu_port *p = evolu_port_sodium();
    if (!p) {
        fprintf(stderr, "evolu relay: libsodium failed to start\n");
        free(allow);
        return 1;
    }
    /* Room for many sockets: the soft descriptor limit up to the hard one. */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
        o.max_connections + 64 > rl.rlim_cur)
        o.max_connections = rl.rlim_cur > 128 ? (size_t)rl.rlim_cur - 64 : 64;

    o.port = port;
    o.relay.port = p;
    o.relay.db_path = db;
    o.relay.allow = (const uint8_t(*)[EVOLU_OWNER_ID_BYTES])allow;
    o.relay.n_allow = n_allow;
    o.relay.log = log_line;
    o.on_stats = stats_line;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    evolu_ws_server *s = NULL;
    evolu_err e = evolu_ws_server_create(&o, &s);
    free(allow);
    if (e) {
        fprintf(stderr, "evolu relay: cannot start: %s\n", evolu_strerror(e));
        return 1;
    }
    g_server = s;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    const char *host = o.host ? o.host : "127.0.0.1";
    bool v6 = strchr(host, ':') != NULL;
    printf("listening on %s://%s%s%s:%d\n", evolu_ws_server_scheme(s), v6 ? "[" : "", host,
           v6 ? "]" : "", evolu_ws_server_port(s));
    fflush(stdout);
    evolu_relay_log(evolu_ws_server_relay(s), EVOLU_LOG_INFO,
                    "relay on %s port %d, database %s, quota %llu bytes per owner, %zu owners "
                    "allowed%s, synchronous=%s", host, evolu_ws_server_port(s), db,
                    (unsigned long long)o.relay.quota_bytes, n_allow,
                    n_allow ? "" : " (no allow-list)",
                    o.relay.synchronous_full ? "full" : "normal");
    evolu_ws_server_run(s);
    char line[1400];
    evolu_ws_server_stats_line(s, line, sizeof line);
    log_line(NULL, EVOLU_LOG_INFO, line);
    g_server = NULL;
    evolu_ws_server_destroy(s);
    log_line(NULL, EVOLU_LOG_INFO, "stopped");
    return 0;

usage_error:
    free(allow);
    return rc;
}
