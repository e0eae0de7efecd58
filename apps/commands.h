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

#endif
