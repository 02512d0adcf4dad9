/*
 * rsh/main.c - main() of the static MPI rsh agent (build/gen/gantry-rsh):
 * only `gantry rsh` (src/cli/rsh.c), linked with -static so that it runs in
 * any image, not just in those that carry the host's libraries.  The gantry
 * binary embeds it (agent/rshblob.c) and the node agent writes it to
 * ROOT/rsh/gantry, which pods of MPIJobs see at /run/gantry/gantry (and
 * /run/gantry/rsh, a link to it).  Run as "rsh" or as "gantry rsh ...".
 */
#include <string.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "rsh"))
		return gt_cmd_rsh(argc - 1, argv + 1);
	return gt_cmd_rsh(argc, argv);
}
