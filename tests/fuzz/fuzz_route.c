/*
 * fuzz_route.c - libFuzzer harness for the API server's URL router
 * (gt_route_parse) and discovery path classifier: any path must parse or be
 * refused, never crash or overflow.
 */
#include <stdint.h>
#include <string.h>

#include "apiserver/internal.h"

bool gt_is_public_path(const char *path);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = xstrndup((const char *)data, size);
	struct route rt;
	struct gt_err err;

	gt_err_clear(&err);
	(void)gt_is_discovery_path(path);
	(void)gt_is_public_path(path);
	if (gt_route_parse(path, &rt, &err) == 0) {
		if (!rt.res)
			abort();
		gt_route_release(&rt);
	} else if (err.code != -ENOENT) {
		abort();
	}
	free(path);
	return 0;
}
