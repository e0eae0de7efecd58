/*
 * cmd_mutate.c - `evolu insert | update | delete`: local mutations, stored in
 * the database and its sync set; `evolu sync` sends them to a relay.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_client.h"
#include "commands.h"
#include "evolu/client_json.h"
#include "evolu/id.h"

static void usage(FILE *f, const char *cmd) {
    if (!strcmp(cmd, "insert"))
        fprintf(f, "usage: evolu -d DB insert TABLE '<JSON object>'\n"
                   "  insert a row and print its new id.\n");
    else if (!strcmp(cmd, "update"))
        fprintf(f, "usage: evolu -d DB update TABLE ID '<JSON object>'\n"
                   "  set the given columns of row ID.\n");
    else
        fprintf(f, "usage: evolu -d DB delete TABLE ID\n"
                   "  soft-delete row ID (isDeleted = 1; the row stays, as in Evolu).\n");
    if (strcmp(cmd, "delete"))
        fprintf(f,
                "  JSON values: string -> text (stored exactly), number -> number,\n"
                "  null -> null, true/false -> 1/0, bytes as {\"$bytes\":\"<hex>\"}.\n"
                "  example: evolu -d app.db %s todo %s'{\"title\":\"milk\",\"isCompleted\":false}'\n",
                cmd, strcmp(cmd, "update") ? "" : "<ID> ");
}

static int run(const char *cmd, evolu_mutation_kind kind, int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        usage(stdout, cmd);
        return 0;
    }
    int want = kind == EVOLU_MUTATION_INSERT ? 2 : kind == EVOLU_MUTATION_UPDATE ? 3 : 2;
    if (argc != want) {
        usage(stderr, cmd);
        return 2;
    }
    evolu_mutation m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.table = argv[0];
    m.is_delete = -1;
    if (kind != EVOLU_MUTATION_INSERT) {
        if (evolu_id_from_string(argv[1], strlen(argv[1]), m.id)) {
            fprintf(stderr, "evolu %s: '%s' is not an id (22 characters of Base64Url)\n", cmd,
                    argv[1]);
            return 2;
        }
        m.has_id = true;
    }
    evolu_json_columns cols;
    memset(&cols, 0, sizeof cols);
    if (kind != EVOLU_MUTATION_DELETE) {
        const char *why = NULL;
        evolu_err e = evolu_json_columns_parse(argv[want - 1], &cols, &why);
        if (e) {
            fprintf(stderr, "evolu %s: cannot read the JSON object: %s\n", cmd,
                    why ? why : evolu_strerror(e));
            return 2;
        }
        m.columns = cols.columns;
        m.n_columns = cols.n;
    }
    const evolu_port *port;
    evolu_client_db *db;
    int rc = cmd_open_db(cmd, &port, &db);
    if (rc) {
        evolu_json_columns_free(&cols);
        return rc;
    }
    evolu_owner owner;
    bool ro = false;
    rc = cmd_load_owner(cmd, db, port, &owner, &ro);
    if (!rc) {
        uint8_t id[1][EVOLU_ID_BYTES];
        evolu_err e = evolu_client_db_mutate(db, &owner, &m, 1, id);
        if (e == EVOLU_E_ARG) {
            fprintf(stderr,
                    "evolu %s: table '%s' or one of the columns is not declared (see evolu"
                    " schema), or a value is not allowed (system columns id, createdAt,"
                    " updatedAt, isDeleted, ownerId cannot be set)\n",
                    cmd, m.table);
            rc = 1;
        } else if (e) {
            fprintf(stderr, "evolu %s: %s\n", cmd, evolu_strerror(e));
            rc = 1;
        } else if (kind == EVOLU_MUTATION_INSERT) {
            char s[EVOLU_ID_CHARS + 1];
            evolu_id_to_string(id[0], s);
            s[EVOLU_ID_CHARS] = 0;
            printf("%s\n", s);
        }
        evolu_owner_wipe(port, &owner);
    }
    evolu_json_columns_free(&cols);
    evolu_client_db_close(db);
    return rc;
}

int evolu_cmd_insert(int argc, char **argv) {
    return run("insert", EVOLU_MUTATION_INSERT, argc, argv);
}
int evolu_cmd_update(int argc, char **argv) {
    return run("update", EVOLU_MUTATION_UPDATE, argc, argv);
}
int evolu_cmd_delete(int argc, char **argv) {
    return run("delete", EVOLU_MUTATION_DELETE, argc, argv);
}
