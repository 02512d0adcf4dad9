/*
 * cli.h - the subcommands of the gantry binary, one file each.  Each takes
 * argc/argv starting at its own name, prints its errors once, and returns
 * the process exit status.
 */
#ifndef GT_CLI_CLI_H
#define GT_CLI_CLI_H

int gt_cmd_server(int argc, char **argv);
int gt_cmd_version(int argc, char **argv);

#define GT_VERSION "0.1.0"

#endif
