/*
 * fuzz_quantity.c - libFuzzer harness for resource.Quantity parsing.
 * Checks, beyond "no crash": the canonical string parses back to the same
 * value and prints the same; arithmetic stays within the saturation bound.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	char buf[GT_QUANTITY_STRLEN], buf2[GT_QUANTITY_STRLEN];
	struct gt_quantity q, r, sum;
	struct gt_err err;
	json_t *j;

	j = json_string(s); /* NULL for invalid UTF-8 */
	if (j) {
		gt_quantity_from_json(j, &q, &err);
		json_decref(j);
	}
	if (gt_quantity_parse(s, &q, &err) == 0) {
		gt_quantity_format(&q, buf);
		if (gt_quantity_parse(buf, &r, &err) < 0) {
			fprintf(stderr, "\"%s\" -> \"%s\" does not parse: %s\n", s, buf, err.msg);
			__builtin_trap();
		}
		gt_quantity_format(&r, buf2);
		if (gt_quantity_cmp(&q, &r) != 0 || strcmp(buf, buf2)) {
			fprintf(stderr, "\"%s\" -> \"%s\" -> \"%s\"\n", s, buf, buf2);
			__builtin_trap();
		}
		gt_quantity_value(&q);
		gt_quantity_milli(&q);
		sum = q;
		gt_quantity_add(&sum, &q);
		gt_quantity_sub(&sum, &r);
		gt_quantity_sub(&sum, &r);
		gt_quantity_sub(&sum, &r);
		gt_quantity_format(&sum, buf);
		if (sum.nano > GT_QUANTITY_LIMIT_NANO || sum.nano < -GT_QUANTITY_LIMIT_NANO)
			__builtin_trap();
	}
	free(s);
	return 0;
}
