/*
 * cmd_query.c - `evolu query "<SQL>"`: one JSON object per result row.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd_client.h"
#include "commands.h"
#include "evolu/client_json.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: evolu -d DB query \"<SQL>\"\n"
            "  print one JSON object per row, keys = the result column names in order.\n"
            "  TEXT -> string, INTEGER/REAL -> number (JavaScript's format: 1.0 -> 1,\n"
            "  1e21 -> 1e+21), NULL -> null, BLOB -> {\"$bytes\":\"<lowercase hex>\"}.\n"
            "  example: evolu -d app.db query 'select id, title from todo where isDeleted is"
            " not 1'\n");
}

static bool print_row(void *ctx, const char *json, size_t len) {
    (void)ctx;
    fwrite(json, 1, len, stdout);
    fputc('\n', stdout);
    return true;
}

int evolu_cmd_query(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc != 1) {
        usage(stderr);
        return 2;
    }
    const evolu_port *port;
    evolu_client_db *db;
    int rc = cmd_open_db("query", &port, &db);
    if (rc) return rc;
    char *msg = NULL;
    evolu_err e = evolu_query_json(evolu_client_db_sqlite(db), argv[0], print_row, NULL, &msg);
    if (e) {
        fprintf(stderr, "evolu query: %s\n", msg ? msg : evolu_strerror(e));
        rc = 1;
    }
    free(msg);
    fflush(stdout);
    evolu_client_db_close(db);
    return rc;
}
