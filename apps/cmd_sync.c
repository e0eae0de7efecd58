/*
 * cmd_sync.c - `evolu sync URL` and `evolu watch URL` (placeholder until the
 * WebSocket client lands).
 */
#include <stdio.h>

#include "cmd_client.h"
#include "commands.h"

int evolu_cmd_sync(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        printf("usage: evolu -d DB sync URL [--timeout SECONDS]\n");
        return 0;
    }
    fprintf(stderr, "evolu sync: not available in this build yet\n");
    return 1;
}

int evolu_cmd_watch(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        printf("usage: evolu -d DB watch URL [--timeout SECONDS]\n");
        return 0;
    }
    fprintf(stderr, "evolu watch: not available in this build yet\n");
    return 1;
}
