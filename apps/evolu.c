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
    {"relay", evolu_cmd_relay, "run a relay (WebSocket server) on a SQLite database"},
    {"selfcheck", evolu_cmd_selfcheck, "walk the core end to end and decode it back"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: evolu <command> [options]   (evolu <command> --help for more)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "evolu: unknown command '%s' (try 'evolu --help')\n", argv[1]);
    return 2;
}
