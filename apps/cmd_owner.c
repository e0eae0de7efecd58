/*
 * cmd_owner.c - `evolu owner new | restore "<words>" | show`: the owner a
 * client database syncs as, stored in the database.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_client.h"
#include "commands.h"
#include "evolu/client_owner.h"
#include "evolu/id.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: evolu -d DB owner new\n"
            "       evolu -d DB owner restore \"<24 words>\"\n"
            "       evolu -d DB owner show\n"
            "  new      create the database with a fresh owner and print its mnemonic\n"
            "           (24 words: keep them secret, they restore the owner anywhere)\n"
            "  restore  set the owner of a new or empty database from a mnemonic\n"
            "           (12-24 words, as a TypeScript Evolu app shows them)\n"
            "  show     print the owner id (22 characters, Base64Url)\n");
}

static int show_id(evolu_client_db *db, const evolu_port *port) {
    evolu_owner o;
    bool ro = false;
    int rc = cmd_load_owner("owner show", db, port, &o, &ro);
    if (rc) return rc;
    char id[EVOLU_ID_CHARS + 1];
    evolu_id_to_string(o.id, id);
    id[EVOLU_ID_CHARS] = 0;
    evolu_owner_wipe(port, &o);
    printf("%s\n", id);
    return 0;
}

int evolu_cmd_owner(int argc, char **argv) {
    if (cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[0];
    bool is_new = !strcmp(sub, "new"), is_restore = !strcmp(sub, "restore"),
         is_show = !strcmp(sub, "show");
    if (!is_new && !is_restore && !is_show) {
        fprintf(stderr, "evolu owner: unknown subcommand '%s' (new, restore or show)\n", sub);
        return 2;
    }
    if ((is_restore && argc != 2) || (!is_restore && argc != 1)) {
        usage(stderr);
        return 2;
    }
    const evolu_port *port;
    evolu_client_db *db;
    int rc = cmd_open_db("owner", &port, &db);
    if (rc) return rc;
    if (is_show) {
        rc = show_id(db, port);
    } else if (is_new) {
        uint8_t secret[EVOLU_OWNER_SECRET_BYTES];
        evolu_owner_secret_random(port, secret);
        evolu_err e = evolu_client_owner_set_secret(db, port, secret, sizeof secret, NULL);
        port->memzero(port->ctx, secret, sizeof secret);
        if (e == EVOLU_E_STATE) {
            fprintf(stderr, "evolu owner new: the database already has an owner"
                            " (evolu owner show prints it)\n");
            rc = 1;
        } else if (e) {
            fprintf(stderr, "evolu owner new: cannot store the owner: %s\n",
                    evolu_strerror(e));
            rc = 1;
        } else {
            char text[EVOLU_MNEMONIC_MAX_CHARS + 1];
            evolu_writer w = evolu_writer_make((uint8_t *)text, EVOLU_MNEMONIC_MAX_CHARS);
            e = evolu_client_owner_mnemonic(db, port, &w);
            if (e) {
                fprintf(stderr, "evolu owner new: cannot read the mnemonic: %s\n",
                        evolu_strerror(e));
                rc = 1;
            } else {
                text[w.len] = 0;
                printf("%s\n", text);
            }
            port->memzero(port->ctx, text, sizeof text);
        }
    } else {
        const char *m = argv[1];
        evolu_err e = evolu_client_owner_set_mnemonic(db, port, m, strlen(m), NULL);
        if (e == EVOLU_E_STATE) {
            fprintf(stderr, "evolu owner restore: the database already belongs to another"
                            " owner; use a new database file\n");
            rc = 1;
        } else if (e == EVOLU_E_MNEMONIC_LENGTH || e == EVOLU_E_MNEMONIC_WORD ||
                   e == EVOLU_E_MNEMONIC_CHECKSUM) {
            fprintf(stderr, "evolu owner restore: not a valid mnemonic: %s\n",
                    evolu_strerror(e));
            rc = 2;
        } else if (e) {
            fprintf(stderr, "evolu owner restore: cannot store the owner: %s\n",
                    evolu_strerror(e));
            rc = 1;
        }
    }
    evolu_client_db_close(db);
    return rc;
}
