/*
 * fuzz_schedpolicy.c - libFuzzer harness for the scheduler policy parser
 * (gt_sched_policy_parse, `gantry server --scheduler-policy`).  Checks
 * beyond "no crash": a policy that parses has every weight in 0..100, one
 * that does not says why and leaves the output as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gt_sched_policy p, before;
	struct gt_err err;
	char *text = malloc(size + 1);

	memcpy(text, data, size);
	text[size] = '\0';
	memset(&p, 0x5a, sizeof(p));
	before = p;
	gt_err_clear(&err);
	if (gt_sched_policy_parse(text, &p, &err) == 0) {
		int w[] = { p.least_allocated, p.balanced, p.gpu_binpack, p.node_affinity,
			    p.topology_spread, p.sample_percent };

		for (size_t i = 0; i < sizeof(w) / sizeof(*w); i++)
			if (w[i] < 0 || w[i] > 100)
				__builtin_trap();
	} else if (!err.msg[0] || memcmp(&p, &before, sizeof(p))) {
		__builtin_trap();
	}
	free(text);
	return 0;
}
