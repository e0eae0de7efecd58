/*
 * evolu.c - the `evolu` program: global options and the subcommand table.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"owner", evolu_cmd_owner, "create, restore or show the database's owner"},
    {"schema", evolu_cmd_schema, "create or extend tables: \"todo(title, isCompleted)\""},
    {"insert", evolu_cmd_insert, "insert a row from a JSON object, print its id"},
    {"update", evolu_cmd_update, "update a row's columns from a JSON object"},
    {"delete", evolu_cmd_delete, "soft-delete a row (isDeleted = 1)"},
    {"query", evolu_cmd_query, "run SQL, print one JSON object per row"},
    {"sync", evolu_cmd_sync, "sync with a relay until converged"},
    {"watch", evolu_cmd_watch, "stay connected to a relay and print changes as they arrive"},
    {"relay", evolu_cmd_relay, "run a relay (WebSocket server) on a SQLite database"},
    {"proxy", evolu_cmd_proxy, "bridge a device's link to a relay, with store-and-forward"},
    {"selfcheck", evolu_cmd_selfcheck, "walk the core end to end and decode it back"},
};

static const char *g_db_path;

const char *evolu_cmd_db_path(void) { return g_db_path; }

static void usage(FILE *f) {
    fprintf(f, "usage: evolu [-d DB] <command> [options]   (evolu <command> --help for more)\n\n"
               "  -d DB      the client database (a SQLite file) for the client commands\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit status: 0 ok, 1 the operation failed, 2 usage error\n");
}

int main(int argc, char **argv) {
    int i = 1;
    while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--help") && strcmp(argv[i], "-h")) {
        if (!strcmp(argv[i], "-d") || !strcmp(argv[i], "--db")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "evolu: -d needs a database file\n");
                return 2;
            }
            g_db_path = argv[i + 1];
            i += 2;
        } else {
            fprintf(stderr, "evolu: unknown option '%s' (try 'evolu --help')\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc || !strcmp(argv[i], "help") || !strcmp(argv[i], "--help") ||
        !strcmp(argv[i], "-h")) {
        usage(i >= argc ? stderr : stdout);
        return i >= argc ? 2 : 0;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (!strcmp(argv[i], commands[k].name))
            return commands[k].run(argc - i - 1, argv + i + 1);
    fprintf(stderr, "evolu: unknown command '%s' (try 'evolu --help')\n", argv[i]);
    return 2;
}
