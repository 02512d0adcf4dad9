/*
 * cli.h - the subcommands of the gantry binary, one file each.  Each takes
 * argc/argv starting at its own name, prints its errors once, and returns
 * the process exit status.
 */
#ifndef GT_CLI_CLI_H
#define GT_CLI_CLI_H

int gt_cmd_server(int argc, char **argv);
int gt_cmd_version(int argc, char **argv);
int gt_cmd_agent(int argc, char **argv);   /* src/cli/agent.c */
int gt_cmd_node(int argc, char **argv);    /* src/cli/agent.c */
int gt_cmd_image(int argc, char **argv);   /* src/cli/image.c */
int gt_cmd_shim(int argc, char **argv);    /* src/agent/shim.c */

#define GT_VERSION "0.1.0"

#endif
