/*
 * cmd_sync.c - `evolu sync URL` (until converged) and `evolu watch URL`
 * (stay connected, print every changed row and column as a JSON line).
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_client.h"
#include "commands.h"
#include "evolu/client_json.h"
#include "evolu/evolu.h"

static evolu *g_ev;

static void on_signal(int sig) {
    (void)sig;
    evolu_stop(g_ev);
}

static void usage(FILE *f, bool watch) {
    if (watch)
        fprintf(f,
                "usage: evolu -d DB watch URL [--timeout SECONDS] [--ca FILE]\n"
                "  stay connected to the relay at URL (ws:// or wss://), subscribed to the\n"
                "  owner; apply changes as they arrive and print one JSON line per changed\n"
                "  row and column: {\"table\":..,\"id\":..,\"column\":..,\"value\":..}.\n"
                "  Logs 'watching <ownerId>' on stderr once the first sync converged.\n"
                "  Reconnects with backoff if the relay drops. Ends on SIGINT/SIGTERM or\n"
                "  after --timeout seconds (exit 0).\n");
    else
        fprintf(f,
                "usage: evolu -d DB sync URL [--timeout SECONDS] [--ca FILE]\n"
                "  sync with the relay at URL (ws:// or wss://, e.g. ws://127.0.0.1:4000)\n"
                "  until both sides have the same data. Default timeout 60 seconds.\n"
                "  exit 0 converged, 1 failed (reason on stderr), 2 usage error.\n"
                "  --ca FILE: trust these CA certificates (PEM) for wss:// instead of the\n"
                "  system's.\n");
}

/* URL [--timeout S] */
static int parse_args(const char *cmd, int argc, char **argv, const char **url, double *timeout,
                      const char **ca, bool watch) {
    *url = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--ca")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "evolu %s: --ca needs a file of CA certificates (PEM)\n", cmd);
                return 2;
            }
            *ca = argv[++i];
        } else if (!strcmp(argv[i], "--timeout")) {
            char *end = NULL;
            if (i + 1 >= argc || (*timeout = strtod(argv[i + 1], &end), *end) ||
                *timeout < 0 || *timeout > 1e7) {
                fprintf(stderr, "evolu %s: --timeout needs a number of seconds\n", cmd);
                return 2;
            }
            i++;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "evolu %s: unknown option '%s'\n", cmd, argv[i]);
            return 2;
        } else if (!*url) {
            *url = argv[i];
        } else {
            usage(stderr, watch);
            return 2;
        }
    }
    if (!*url) {
        usage(stderr, watch);
        return 2;
    }
    return 0;
}

static const char *why(evolu_err e) {
    switch (e) {
    case EVOLU_E_CONNECT: return "the relay is unreachable (cannot connect)";
    case EVOLU_E_CLOSED: return "the relay closed the connection";
    case EVOLU_E_TIMEOUT: return "timed out before the sync converged";
    case EVOLU_E_WRITE_KEY: return "the relay rejected the write key (this owner's data there"
                                   " was written with another key)";
    case EVOLU_E_QUOTA: return "the relay refused the data: storage quota exceeded";
    case EVOLU_E_WRITE: return "the relay failed to store the data";
    case EVOLU_E_SYNC: return "the relay failed during sync";
    case EVOLU_E_LIMIT: return "a change in this database is larger than any protocol message"
                               " can carry, so it can never be sent";
    case EVOLU_E_VERSION: return "protocol version mismatch with the relay";
    case EVOLU_E_DECRYPT: return "received data could not be decrypted (wrong owner key or"
                                 " tampered data); nothing was applied";
    case EVOLU_E_CLOCK_DRIFT: return "received data is stamped too far in the future; nothing"
                                     " was applied";
    default: return evolu_strerror(e);
    }
}

typedef struct status_ctx {
    bool watch;
    bool announced;
    const char *owner_id;
    time_t started;
} status_ctx;

static void on_status(void *ctx, size_t relay, evolu_status st, evolu_err e) {
    status_ctx *s = ctx;
    (void)relay;
    if (st == EVOLU_STATUS_CONVERGED && s->watch && !s->announced) {
        s->announced = true;
        fprintf(stderr, "watching %s\n", s->owner_id);
    } else if (st == EVOLU_STATUS_DISCONNECTED && (s->watch || time(NULL) - s->started >= 2)) {
        fprintf(stderr, "evolu: %s; retrying\n", why(e));
    } else if (st == EVOLU_STATUS_WAITING) {
        fprintf(stderr, "evolu sync: still syncing after %ld s%s%s\n",
                (long)(time(NULL) - s->started), e ? ": " : "", e ? why(e) : "");
    } else if (st == EVOLU_STATUS_STOPPED && s->watch) {
        fprintf(stderr, "evolu watch: stopped: %s\n", why(e));
    }
}

/* --- watch output: rows and columns changed since the last look ---------------- */

typedef struct watcher {
    sqlite3 *q;
    sqlite3_int64 last;
} watcher;

static sqlite3_int64 max_history(sqlite3 *q) {
    sqlite3_stmt *st = NULL;
    sqlite3_int64 v = 0;
    if (sqlite3_prepare_v2(q, "select coalesce(max(rowid), 0) from evolu_history", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void print_change(sqlite3 *q, const char *table, const uint8_t *id, const char *column) {
    char ids[EVOLU_ID_CHARS + 1];
    evolu_id_to_string(id, ids);
    ids[EVOLU_ID_CHARS] = 0;
    char *sql = sqlite3_mprintf("select \"%w\" from \"%w\" where \"id\" = ?1", column, table);
    sqlite3_stmt *st = NULL;
    if (!sql || sqlite3_prepare_v2(q, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_free(sql);
        return; /* quarantined: the table or column is not declared here */
    }
    sqlite3_free(sql);
    sqlite3_bind_text(st, 1, ids, EVOLU_ID_CHARS, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        evolu_sbuf b = {0};
        evolu_sbuf_puts(&b, "{\"table\":");
        evolu_sbuf_json_string(&b, table, strlen(table));
        evolu_sbuf_puts(&b, ",\"id\":\"");
        evolu_sbuf_puts(&b, ids);
        evolu_sbuf_puts(&b, "\",\"column\":");
        evolu_sbuf_json_string(&b, column, strlen(column));
        evolu_sbuf_puts(&b, ",\"value\":");
        evolu_sbuf_json_value(&b, sqlite3_column_value(st, 0));
        evolu_sbuf_puts(&b, "}\n");
        if (!b.oom) {
            fwrite(b.p, 1, b.len, stdout);
            fflush(stdout);
        }
        evolu_sbuf_free(&b);
    }
    sqlite3_finalize(st);
}

static void on_change(void *ctx, const char *const *tables, size_t n) {
    (void)tables;
    (void)n;
    watcher *w = ctx;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(w->q,
                           "select rowid, \"table\", \"id\", \"column\" from evolu_history"
                           " where rowid > ?1 order by rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, w->last);
    while (sqlite3_step(st) == SQLITE_ROW) {
        w->last = sqlite3_column_int64(st, 0);
        const char *table = (const char *)sqlite3_column_text(st, 1);
        const uint8_t *id = sqlite3_column_blob(st, 2);
        const char *column = (const char *)sqlite3_column_text(st, 3);
        if (table && id && sqlite3_column_bytes(st, 2) == EVOLU_ID_BYTES && column)
            print_change(w->q, table, id, column);
    }
    sqlite3_finalize(st);
}

static int run(const char *cmd, bool watch, int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        usage(stdout, watch);
        return 0;
    }
    const char *url, *ca = NULL;
    double timeout = watch ? -1 : 60;
    int rc = parse_args(cmd, argc, argv, &url, &timeout, &ca, watch);
    if (rc) return rc;
    const char *path = evolu_cmd_db_path();
    if (!path) {
        fprintf(stderr, "evolu %s: no database given: use evolu -d DB %s URL\n", cmd, cmd);
        return 2;
    }
    status_ctx sc = {watch, false, NULL, time(NULL)};
    evolu_options o;
    memset(&o, 0, sizeof o);
    o.path = path;
    o.relays = &url;
    o.n_relays = 1;
    o.ca_file = ca;
    o.on_status = on_status;
    o.status_ctx = &sc;
    evolu *ev = NULL;
    evolu_err e = evolu_open(&o, &ev);
    if (e == EVOLU_E_URL) {
        fprintf(stderr, "evolu %s: '%s' is not a relay URL (ws://HOST:PORT or wss://...)\n",
                cmd, url);
        return 2;
    }
    if (e == EVOLU_E_STATE) {
        fprintf(stderr,
                "evolu %s: the database has no owner yet: run 'evolu -d DB owner new' or"
                " 'evolu -d DB owner restore \"<24 words>\"' first\n",
                cmd);
        return 1;
    }
    if (e) {
        fprintf(stderr, "evolu %s: cannot open %s: %s\n", cmd, path, evolu_strerror(e));
        return 1;
    }
    char oid[EVOLU_ID_CHARS + 1];
    evolu_owner_id(ev, oid);
    sc.owner_id = oid;
    g_ev = ev;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int ms = timeout < 0 ? -1 : (int)(timeout * 1000);
    if (!watch) {
        e = evolu_sync(ev, ms);
        if (e) {
            const char *d = evolu_relay_error_detail(ev, 0);
            if (e == EVOLU_E_CONNECT && strstr(d, "SSL"))
                fprintf(stderr, "evolu sync: the TLS handshake with the relay failed (is its"
                                " certificate trusted? see --ca) (%s)\n", d);
            else
                fprintf(stderr, "evolu sync: %s%s%s%s\n", why(e), *d ? " (" : "", d,
                        *d ? ")" : "");
            rc = 1;
        }
    } else {
        watcher w = {evolu_sqlite(ev), 0};
        w.last = max_history(w.q);
        evolu_on_change(ev, on_change, &w);
        e = evolu_run(ev, ms);
        evolu_on_change(ev, NULL, NULL);
    }
    evolu_close(ev);
    g_ev = NULL;
    return rc;
}

int evolu_cmd_sync(int argc, char **argv) { return run("sync", false, argc, argv); }
int evolu_cmd_watch(int argc, char **argv) { return run("watch", true, argc, argv); }
