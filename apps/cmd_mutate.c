/*
 * cmd_mutate.c - `evolu insert | update | delete`: local mutations, stored in
 * the database and its sync set; `evolu sync` sends them to a relay.
 *
 * `-` in place of the JSON object reads it from standard input: `insert`
 * takes one object per line (many rows in one process and one transaction,
 * for scripts), `update` one object. A value too long for the command line
 * (about 128 KB per argument on Linux) goes this way.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_client.h"
#include "commands.h"
#include "evolu/client_json.h"
#include "evolu/id.h"
#include "evolu/protocol.h"

static void usage(FILE *f, const char *cmd) {
    if (!strcmp(cmd, "insert"))
        fprintf(f, "usage: evolu -d DB insert TABLE '<JSON object>'\n"
                   "       evolu -d DB insert TABLE - < rows.jsonl\n"
                   "  insert a row and print its new id. With -, read one JSON object per\n"
                   "  line from standard input (empty lines are skipped) and insert them\n"
                   "  all in one transaction (all or nothing), printing one id per line.\n");
    else if (!strcmp(cmd, "update"))
        fprintf(f, "usage: evolu -d DB update TABLE ID '<JSON object>'\n"
                   "       evolu -d DB update TABLE ID - < object.json\n"
                   "  set the given columns of row ID (with -, the object is read from\n"
                   "  standard input).\n");
    else
        fprintf(f, "usage: evolu -d DB delete TABLE ID\n"
                   "  soft-delete row ID (isDeleted = 1; the row stays, as in Evolu).\n");
    if (strcmp(cmd, "delete"))
        fprintf(f,
                "  JSON values: string -> text (stored exactly), number -> number,\n"
                "  null -> null, true/false -> 1/0, bytes as {\"$bytes\":\"<hex>\"}.\n"
                "  A row whose encrypted change would exceed %zu bytes is refused:\n"
                "  no protocol message (1,000,000 bytes) could carry it.\n"
                "  example: evolu -d app.db %s todo %s'{\"title\":\"milk\",\"isCompleted\":false}'\n",
                evolu_msg_size_change_max(EVOLU_PROTOCOL_MAX_SIZE), cmd,
                strcmp(cmd, "update") ? "" : "<ID> ");
}

/* The objects to apply: one from the command line, or lines of stdin. */
typedef struct rows {
    evolu_json_columns *cols;
    size_t n, cap;
} rows;

static void rows_free(rows *r) {
    for (size_t i = 0; i < r->n; i++) evolu_json_columns_free(&r->cols[i]);
    free(r->cols);
}

/* Parses text as the next object. 0, or 2 after saying why (line > 0 names
 * the line of standard input). */
static int rows_add(rows *r, const char *cmd, const char *text, size_t line) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        evolu_json_columns *c = realloc(r->cols, cap * sizeof *c);
        if (!c) {
            fprintf(stderr, "evolu %s: out of memory\n", cmd);
            return 1;
        }
        r->cols = c;
        r->cap = cap;
    }
    evolu_json_columns *c = &r->cols[r->n];
    memset(c, 0, sizeof *c);
    const char *why = NULL;
    evolu_err e = evolu_json_columns_parse(text, c, &why);
    if (e) {
        if (line)
            fprintf(stderr, "evolu %s: line %zu: cannot read the JSON object: %s\n", cmd, line,
                    why ? why : evolu_strerror(e));
        else
            fprintf(stderr, "evolu %s: cannot read the JSON object: %s\n", cmd,
                    why ? why : evolu_strerror(e));
        return 2;
    }
    r->n++;
    return 0;
}

/* Reads standard input: one object per line (many), or all of it as one. */
static int rows_read_stdin(rows *r, const char *cmd, bool many) {
    char *line = NULL;
    size_t cap = 0, no = 0;
    ssize_t len;
    int rc = 0;
    /* many: one object per line; else the whole input (up to a NUL) is one */
    while (!rc && (len = getdelim(&line, &cap, many ? '\n' : '\0', stdin)) > 0) {
        no++;
        size_t n = (size_t)len;
        if (!many && line[n - 1] == '\0') n--; /* stopped at a NUL: refused below */
        while (many && n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (many && strspn(line, " \t") == n) continue; /* an empty line */
        if (strlen(line) != n || (!many && !feof(stdin))) {
            fprintf(stderr, "evolu %s: line %zu: a NUL byte in the input\n", cmd, no);
            rc = 2;
            break;
        }
        rc = rows_add(r, cmd, line, many ? no : 0);
    }
    free(line);
    /* getdelim returns -1 at the end and on errors alike (a read error, no
     * memory for a long line): only the end may pass, never a cut input */
    if (!rc && !feof(stdin)) {
        fprintf(stderr, "evolu %s: cannot read standard input\n", cmd);
        rc = 1;
    }
    return rc;
}

static int apply(const char *cmd, evolu_mutation_kind kind, const evolu_mutation *m, size_t n) {
    const evolu_port *port;
    evolu_client_db *db;
    int rc = cmd_open_db(cmd, &port, &db);
    if (rc) return rc;
    evolu_owner owner;
    bool ro = false;
    rc = cmd_load_owner(cmd, db, port, &owner, &ro);
    if (rc) {
        evolu_client_db_close(db);
        return rc;
    }
    uint8_t(*ids)[EVOLU_ID_BYTES] = malloc((n ? n : 1) * sizeof *ids);
    evolu_err e = ids ? evolu_client_db_mutate(db, &owner, m, n, ids) : EVOLU_E_NOMEM;
    if (e == EVOLU_E_ARG) {
        fprintf(stderr,
                "evolu %s: table '%s' or one of the columns is not declared (see evolu"
                " schema), or a value is not allowed (system columns id, createdAt,"
                " updatedAt, isDeleted, ownerId cannot be set)%s\n",
                cmd, m[0].table, n > 1 ? "; nothing was inserted" : "");
        rc = 1;
    } else if (e == EVOLU_E_LIMIT) {
        fprintf(stderr,
                "evolu %s: a row is too large to sync: its encrypted change would exceed %zu"
                " bytes, more than a protocol message (1,000,000 bytes) can carry%s\n",
                cmd, evolu_msg_size_change_max(EVOLU_PROTOCOL_MAX_SIZE),
                n > 1 ? "; nothing was inserted" : "");
        rc = 1;
    } else if (e) {
        fprintf(stderr, "evolu %s: %s\n", cmd, evolu_strerror(e));
        rc = 1;
    } else if (kind == EVOLU_MUTATION_INSERT) {
        for (size_t i = 0; i < n; i++) {
            char s[EVOLU_ID_CHARS + 1];
            evolu_id_to_string(ids[i], s);
            s[EVOLU_ID_CHARS] = 0;
            printf("%s\n", s);
        }
    }
    free(ids);
    evolu_owner_wipe(port, &owner);
    evolu_client_db_close(db);
    return rc;
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
    evolu_mutation base;
    memset(&base, 0, sizeof base);
    base.kind = kind;
    base.table = argv[0];
    base.is_delete = -1;
    if (kind != EVOLU_MUTATION_INSERT) {
        if (evolu_id_from_string(argv[1], strlen(argv[1]), base.id)) {
            fprintf(stderr, "evolu %s: '%s' is not an id (22 characters of Base64Url)\n", cmd,
                    argv[1]);
            return 2;
        }
        base.has_id = true;
    }
    if (kind == EVOLU_MUTATION_DELETE) return apply(cmd, kind, &base, 1);

    rows r = {0};
    const char *json = argv[want - 1];
    int rc = strcmp(json, "-") ? rows_add(&r, cmd, json, 0)
                               : rows_read_stdin(&r, cmd, kind == EVOLU_MUTATION_INSERT);
    if (!rc && r.n == 0) {
        fprintf(stderr, "evolu %s: no JSON object on standard input\n", cmd);
        rc = 2;
    }
    evolu_mutation *m = rc ? NULL : calloc(r.n, sizeof *m);
    if (!rc && !m) {
        fprintf(stderr, "evolu %s: out of memory\n", cmd);
        rc = 1;
    }
    if (!rc) {
        for (size_t i = 0; i < r.n; i++) {
            m[i] = base;
            m[i].columns = r.cols[i].columns;
            m[i].n_columns = r.cols[i].n;
        }
        rc = apply(cmd, kind, m, r.n);
    }
    free(m);
    rows_free(&r);
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
