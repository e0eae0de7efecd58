/*
 * cmd_owner.c - `evolu owner new | restore "<words>" | show [--device]`: the
 * owner a client database syncs as, stored in the database.
 *
 * `show --device` prints the owner's derived keys as the firmware's first-boot
 * argument (owner_keys=<hex>, docs/firmware.md): the device is provisioned
 * with the keys, not the mnemonic, so it carries no BIP-39 word list, PBKDF
 * or SHA-512 code. From the database, or from a mnemonic given after it (no
 * database needed).
 */
#include <stdio.h>
#include <string.h>

#include "cmd_client.h"
#include "commands.h"
#include "evolu/client_owner.h"
#include "evolu/id.h"
#include "evolu/port_sodium.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: evolu -d DB owner new\n"
            "       evolu -d DB owner restore \"<24 words>\"\n"
            "       evolu -d DB owner show [--device]\n"
            "       evolu owner show --device \"<words>\"\n"
            "  new      create the database with a fresh owner and print its mnemonic\n"
            "           (24 words: keep them secret, they restore the owner anywhere)\n"
            "  restore  set the owner of a new or empty database from a mnemonic\n"
            "           (12-24 words, as a TypeScript Evolu app shows them)\n"
            "  show     print the owner id (22 characters, Base64Url)\n"
            "  show --device\n"
            "           print the firmware's first-boot argument owner_keys=<128 hex\n"
            "           digits: owner id 16 B, encryption key 32 B, write key 16 B>,\n"
            "           the owner of DB or of the mnemonic given (SECRET: it holds the\n"
            "           encryption key)\n");
}

/* owner_keys=<hex of id | encryption key | write key>: the firmware's
 * provisioning argument (firmware/fw_app.c parses it). */
static void print_device_keys(const evolu_port *port, evolu_owner *o) {
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[sizeof o->id + sizeof o->encryption_key + sizeof o->write_key];
    char text[2 * sizeof raw + 1];
    memcpy(raw, o->id, sizeof o->id);
    memcpy(raw + sizeof o->id, o->encryption_key, sizeof o->encryption_key);
    memcpy(raw + sizeof o->id + sizeof o->encryption_key, o->write_key, sizeof o->write_key);
    for (size_t i = 0; i < sizeof raw; i++) {
        text[2 * i] = hex[raw[i] >> 4];
        text[2 * i + 1] = hex[raw[i] & 15];
    }
    text[2 * sizeof raw] = 0;
    printf("owner_keys=%s\n", text);
    port->memzero(port->ctx, raw, sizeof raw);
    port->memzero(port->ctx, text, sizeof text);
    evolu_owner_wipe(port, o);
}

/* `owner show --device "<words>"`: no database, the keys of the mnemonic. */
static int show_device_from_mnemonic(const char *m) {
    const evolu_port *port = evolu_port_sodium();
    if (!port) {
        fprintf(stderr, "evolu owner show: libsodium failed to initialise\n");
        return 1;
    }
    uint8_t secret[EVOLU_MNEMONIC_MAX_SECRET_BYTES];
    size_t len = 0;
    evolu_owner o;
    evolu_err e = evolu_mnemonic_to_secret(port, m, strlen(m), secret, &len);
    if (!e) e = evolu_owner_from_secret(port, secret, len, &o);
    port->memzero(port->ctx, secret, sizeof secret);
    if (e) {
        fprintf(stderr, "evolu owner show: not a valid mnemonic: %s\n", evolu_strerror(e));
        return 2;
    }
    print_device_keys(port, &o);
    return 0;
}

static int show_id(evolu_client_db *db, const evolu_port *port, bool device) {
    evolu_owner o;
    bool ro = false;
    int rc = cmd_load_owner("owner show", db, port, &o, &ro);
    if (rc) return rc;
    if (device) {
        print_device_keys(port, &o);
        return 0;
    }
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
    bool device = is_show && argc >= 2 && !strcmp(argv[1], "--device");
    if (device && argc == 3) return show_device_from_mnemonic(argv[2]);
    if ((is_restore && argc != 2) || (is_show && argc != 1 + device) ||
        (is_new && argc != 1)) {
        usage(stderr);
        return 2;
    }
    const evolu_port *port;
    evolu_client_db *db;
    int rc = cmd_open_db("owner", &port, &db);
    if (rc) return rc;
    if (is_show) {
        rc = show_id(db, port, device);
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
