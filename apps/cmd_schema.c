#define _POSIX_C_SOURCE 200809L
/*
 * cmd_schema.c - `evolu schema "todo(title, isCompleted)" ...`: create tables
 * or add columns (never dropped), like an app's schema growing over versions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_client.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: evolu -d DB schema \"TABLE(COLUMN, ...)\" [\"TABLE(COLUMN, ...)\" ...]\n"
            "  create each table, or add the columns it lacks (columns are never dropped).\n"
            "  Every table also has id, createdAt, updatedAt, isDeleted and ownerId.\n"
            "  A table name starting with '_' is local-only (never synced).\n"
            "  example: evolu -d app.db schema \"todo(title, isCompleted)\" \"tag(name)\"\n");
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    return s;
}

/* Splits "t(a, b)" in place into the table and its columns. */
static bool parse_def(char *def, char **table, char ***cols, size_t *n) {
    char *open = strchr(def, '(');
    size_t len = strlen(def);
    while (len && (def[len - 1] == ' ' || def[len - 1] == '\t')) len--;
    if (!open || len == 0 || def[len - 1] != ')') return false;
    def[len - 1] = 0;
    *open = 0;
    *table = trim(def);
    if (!**table) return false;
    char *body = open + 1;
    size_t cap = 1;
    for (char *p = body; *p; p++)
        if (*p == ',') cap++;
    *cols = calloc(cap, sizeof **cols);
    if (!*cols) return false;
    *n = 0;
    if (!*trim(body)) return true;
    char *save = NULL;
    for (char *tok = strtok_r(body, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *c = trim(tok);
        if (!*c || strchr(c, '(') || strchr(c, ')')) {
            free(*cols);
            *cols = NULL;
            return false;
        }
        (*cols)[(*n)++] = c;
    }
    /* "a,,b" or a trailing comma */
    if (*n != cap) {
        free(*cols);
        *cols = NULL;
        return false;
    }
    return true;
}

int evolu_cmd_schema(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    const evolu_port *port;
    evolu_client_db *db;
    int rc = cmd_open_db("schema", &port, &db);
    if (rc) return rc;
    for (int i = 0; i < argc && !rc; i++) {
        char *def = strdup(argv[i]);
        char *table, **cols = NULL;
        size_t n = 0;
        if (!def || !parse_def(def, &table, &cols, &n)) {
            fprintf(stderr, "evolu schema: cannot read '%s': write TABLE(COLUMN, ...)\n",
                    argv[i]);
            rc = 2;
        } else {
            evolu_err e =
                evolu_client_db_declare_table(db, table, (const char *const *)cols, n);
            if (e == EVOLU_E_ARG) {
                fprintf(stderr,
                        "evolu schema: '%s' is not allowed: names must be non-empty, without"
                        " control characters, not evolu_*/sqlite_* tables, not a system"
                        " column (id, createdAt, updatedAt, isDeleted, ownerId), not"
                        " repeated, and not differ from an existing name only in case\n",
                        argv[i]);
                rc = 2;
            } else if (e) {
                fprintf(stderr, "evolu schema: cannot change table %s: %s\n", table,
                        evolu_strerror(e));
                rc = 1;
            }
        }
        free(cols);
        free(def);
    }
    evolu_client_db_close(db);
    return rc;
}
