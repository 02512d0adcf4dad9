/*
 * fuzz_progress.c - libFuzzer harness for what the training-job controller
 * parses out of a rank's stdout (controllers/trainjob_status.c,
 * gt_tj_progress): any log text, twice over (the second report computes a
 * pace from the first).  Checks beyond "no crash": a progress object, when
 * made, has an integer step, and its percent (when there) is "N%".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/trainjob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *status = json_object();
	size_t half = size / 2;

	for (int round = 0; round < 2; round++) {
		const char *p = (const char *)data + (round ? half : 0);
		size_t n = round ? size - half : half;
		json_t *prog;

		gt_tj_progress(status, p, n, 1700000000 + round * 7);
		prog = json_object_get(status, "progress");
		if (prog && !json_is_integer(json_object_get(prog, "step")))
			__builtin_trap();
		if (prog && json_object_get(prog, "percent")) {
			const char *pc = json_string_value(json_object_get(prog, "percent"));

			if (!pc || !*pc || pc[strlen(pc) - 1] != '%')
				__builtin_trap();
		}
	}
	json_decref(status);
	return 0;
}
