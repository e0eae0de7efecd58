/*
 * cmd_client.c - helpers shared by the client commands (see cmd_client.h).
 */
#include <string.h>

#include "cmd_client.h"
#include "commands.h"
#include "evolu/client_owner.h"
#include "evolu/port_sodium.h"

bool cmd_wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    return false;
}

int cmd_open_db(const char *cmd, const evolu_port **port, evolu_client_db **db) {
    const char *path = evolu_cmd_db_path();
    if (!path) {
        fprintf(stderr, "evolu %s: no database given: use evolu -d DB %s ...\n", cmd, cmd);
        return 2;
    }
    *port = evolu_port_sodium();
    if (!*port) {
        fprintf(stderr, "evolu %s: cannot start libsodium\n", cmd);
        return 1;
    }
    evolu_err e = evolu_client_db_open(path, *port, db);
    if (e) {
        fprintf(stderr, "evolu %s: cannot open database %s: %s\n", cmd, path,
                evolu_strerror(e));
        return 1;
    }
    return 0;
}

int cmd_load_owner(const char *cmd, evolu_client_db *db, const evolu_port *port,
                   evolu_owner *owner, bool *read_only) {
    bool found = false;
    evolu_err e = evolu_client_owner_load(db, port, owner, &found, read_only);
    if (e) {
        fprintf(stderr, "evolu %s: cannot read the owner: %s\n", cmd, evolu_strerror(e));
        return 1;
    }
    if (!found) {
        fprintf(stderr,
                "evolu %s: the database has no owner yet: run 'evolu -d DB owner new' or"
                " 'evolu -d DB owner restore \"<24 words>\"' first\n",
                cmd);
        return 1;
    }
    return 0;
}
