/*
 * todo.c - a tiny todo app on the evolu client library (evolu/evolu.h).
 *
 *   example_todo DB [URL [TITLE]]
 *
 * Opens (or creates, with a fresh owner) the database DB with a "todo" table,
 * adds a todo titled TITLE (default "buy milk"), syncs with the relay at URL
 * if one is given, and lists the todos. The sync runs inside the program's own
 * poll() loop (evolu_poll_fds / evolu_service), the way an app with its own
 * event loop embeds the library; evolu_sync(ev, timeout) does the same in
 * one blocking call. Exit 0 on success, 1 on failure, 2 on bad usage.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "evolu/evolu.h"

static bool print_todo(void *ctx, const char *json, size_t len) {
    (void)ctx;
    printf("%.*s\n", (int)len, json);
    return true;
}

static void on_change(void *ctx, const char *const *tables, size_t n) {
    (void)ctx;
    for (size_t i = 0; i < n; i++) fprintf(stderr, "changed: %s\n", tables[i]);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: example_todo DB [URL [TITLE]]\n");
        return 2;
    }
    const char *url = argc > 2 ? argv[2] : NULL;
    const char *title = argc > 3 ? argv[3] : "buy milk";
    static const char *const todo_columns[] = {"title", "isCompleted"};
    const evolu_table_def tables[] = {{"todo", todo_columns, 2}};
    evolu_options o;
    memset(&o, 0, sizeof o);
    o.path = argv[1];
    o.create_owner = true;
    o.relays = &url;
    o.n_relays = url ? 1 : 0;
    o.tables = tables;
    o.n_tables = 1;
    evolu *ev;
    evolu_err e = evolu_open(&o, &ev);
    if (e) {
        fprintf(stderr, "cannot open %s: %s\n", argv[1], evolu_strerror(e));
        return 1;
    }
    evolu_on_change(ev, on_change, NULL);

    evolu_column cols[2] = {
        {(const uint8_t *)"title", 5, evolu_value_text((const uint8_t *)title, strlen(title))},
        {(const uint8_t *)"isCompleted", 11, evolu_value_number(0)},
    };
    char id[EVOLU_ID_CHARS + 1];
    e = evolu_insert(ev, "todo", cols, 2, id);
    if (e) {
        fprintf(stderr, "cannot add the todo: %s\n", evolu_strerror(e));
        evolu_close(ev);
        return 1;
    }
    fprintf(stderr, "added %s\n", id);

    int rc = 0;
    if (url) {
        /* the app's own loop: poll our sockets (and, in a real app, its own) */
        evolu_connect(ev);
        time_t deadline = time(NULL) + 30;
        while (!evolu_is_converged(ev) && time(NULL) < deadline) {
            struct pollfd fds[16];
            int timeout = 0;
            size_t n = evolu_poll_fds(ev, fds, 16, &timeout);
            if (n > 16) n = 16;
            poll(fds, (nfds_t)n, timeout);
            evolu_service(ev, fds, n);
        }
        if (!evolu_is_converged(ev)) {
            e = evolu_relay_error(ev, 0);
            fprintf(stderr, "sync did not converge: %s\n",
                    e ? evolu_strerror(e) : "timed out");
            rc = 1;
        }
    }
    char *msg = NULL;
    e = evolu_query(ev, "select id, title, isCompleted from todo where isDeleted is not 1"
                        " order by createdAt, id",
                    print_todo, NULL, &msg);
    if (e) {
        fprintf(stderr, "query failed: %s\n", msg ? msg : evolu_strerror(e));
        rc = 1;
    }
    evolu_close(ev);
    return rc;
}
