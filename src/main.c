/*
 * main.c - the subcommand table of the gantry binary.  Each subcommand lives
 * in its own file under src/cli/ and reports its errors itself, once.  Run
 * under the name "rsh", the binary is `gantry rsh`.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct gt_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "server", gt_cmd_server, "run the API server, store, controllers (and an embedded node agent)" },
	{ "agent", gt_cmd_agent, "run a node agent that joins a server and runs its pods" },
	{ "node", gt_cmd_node, "node maintenance: `gantry node reset --root-dir DIR`" },
	{ "image", gt_cmd_image, "manage the node's OCI images: import, ls, rm, pull, inspect" },
	{ "exec", gt_cmd_exec, "run a command in a pod's container: `gantry exec -it POD -- sh`" },
	{ "port-forward", gt_cmd_port_forward, "forward local ports to a pod: `gantry port-forward POD 8888:80`" },
	{ "version", gt_cmd_version, "print the version" },
	{ "rsh", gt_cmd_rsh, "(internal) the rsh agent of MPI launchers in pods: `rsh HOST CMD...`" },
	{ "shim", gt_cmd_shim, "(internal) the per-container process the agent starts" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: gantry <command> [flags]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-13s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\nRun 'gantry <command> --help' for a command's flags.\n");
}

int main(int argc, char **argv)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

	/* run as "rsh" (the link in pods, see cli/rsh.c) */
	if (argc > 0 && !strcmp(base ? base + 1 : argv[0], "rsh"))
		return gt_cmd_rsh(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "gantry: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
