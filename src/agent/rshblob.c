/*
 * rshblob.c - the static rsh agent (src/rsh/main.c, built by the Makefile
 * as build/gen/gantry-rsh before this file) carried inside the gantry
 * binary, for the node agent to write out (agent/rsh.c).
 */
#include "agent/internal.h"

__asm__(".section .rodata\n"
	".balign 16\n"
	".global gt_rsh_blob\n"
	".type gt_rsh_blob, @object\n"
	"gt_rsh_blob:\n"
	".incbin \"build/gen/gantry-rsh\"\n"
	".global gt_rsh_blob_end\n"
	"gt_rsh_blob_end:\n"
	".previous\n");
