/*
 * version.c - `gantry version`.
 */
#include <stdio.h>

#include "cli/cli.h"

int gt_cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("gantry %s (Kubernetes API v1.33 compatible)\n", GT_VERSION);
	return 0;
}
