/*
 * commands.h - the subcommands of the `evolu` program, one file each.
 *
 * Every command takes the arguments after its own name and returns the
 * process exit status: 0 success, 1 the operation failed, 2 bad usage.
 */
#ifndef EVOLU_APPS_COMMANDS_H
#define EVOLU_APPS_COMMANDS_H

int evolu_cmd_selfcheck(int argc, char **argv);
int evolu_cmd_relay(int argc, char **argv);
/* apps/cmd_proxy.c: a device (link protocol) to a relay, store-and-forward. */
int evolu_cmd_proxy(int argc, char **argv);

/* Client commands (apps/cmd_owner.c, cmd_schema.c, cmd_mutate.c, cmd_query.c,
 * cmd_sync.c). They work on the database named by the global option -d. */
int evolu_cmd_owner(int argc, char **argv);
int evolu_cmd_schema(int argc, char **argv);
int evolu_cmd_insert(int argc, char **argv);
int evolu_cmd_update(int argc, char **argv);
int evolu_cmd_delete(int argc, char **argv);
int evolu_cmd_query(int argc, char **argv);
int evolu_cmd_sync(int argc, char **argv);
int evolu_cmd_watch(int argc, char **argv);
/* The database path given with -d (NULL if none), set by main. */
const char *evolu_cmd_db_path(void);

#endif
