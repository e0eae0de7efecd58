/*
 * cmd_relay.c - `evolu relay`: not built yet (issue: the relay in C).
 */
#include <stdio.h>

#include "commands.h"

int evolu_cmd_relay(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "evolu relay: not available in this build yet\n");
    return 2;
}
