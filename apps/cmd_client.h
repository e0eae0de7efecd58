/*
 * cmd_client.h - what the client commands share: opening the -d database,
 * loading its owner, and help handling.
 */
#ifndef EVOLU_APPS_CMD_CLIENT_H
#define EVOLU_APPS_CMD_CLIENT_H

#include <stdbool.h>
#include <stdio.h>

#include "evolu/client_db.h"
#include "evolu/owner.h"
#include "evolu/port.h"

/* True if any argument is --help or -h. */
bool cmd_wants_help(int argc, char **argv);

/* Opens the -d database (creating it if absent). Prints the reason and
 * returns 1 (failure) or 2 (no -d) on error, 0 on success. */
int cmd_open_db(const char *cmd, const evolu_port **port, evolu_client_db **db);

/* Loads the database's owner; prints why and returns 1 if there is none. */
int cmd_load_owner(const char *cmd, evolu_client_db *db, const evolu_port *port,
                   evolu_owner *owner, bool *read_only);

#endif
