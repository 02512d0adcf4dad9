/*
 * fuzz_patch.c - libFuzzer harness for the three patch flavours
 * (api/patch.h).  Input: one selector byte (which built-in kind the
 * strategic patch targets), then the target JSON document, a NUL byte, and
 * the patch JSON document.  Every flavour runs on every input; beyond "no
 * crash, no leak" it checks invariants: the target and the patch are never
 * modified, a failure returns nothing, a strategic result holds no
 * directive keys (unless the target had some), and a merge patch is
 * idempotent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kinds[][2] = {
	{ "apps/v1", "Deployment" }, { "v1", "Pod" },          { "batch/v1", "CronJob" },
	{ "v1", "Service" },         { "v1", "Node" },         { "v1", "ServiceAccount" },
	{ "batch/v1", "Job" },       { "v1", "ConfigMap" },
};

static bool has_directive(const json_t *v)
{
	const char *k;
	size_t n;
	json_t *m;

	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if (has_directive(json_array_get(v, i)))
				return true;
	} else if (json_is_object(v)) {
		json_object_keylen_foreach((json_t *)v, k, n, m)
			if ((n == 6 && !memcmp(k, "$patch", 6)) || (n == 11 && !memcmp(k, "$retainKeys", 11)) ||
			    (n >= 17 && !memcmp(k, "$setElementOrder/", 17)) ||
			    (n >= 25 && !memcmp(k, "$deleteFromPrimitiveList/", 25)) || has_directive(m))
				return true;
	}
	return false;
}

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep;
	json_t *target = NULL, *patch = NULL, *out = NULL, *again = NULL, *tcopy, *pcopy;
	struct gt_err err;
	size_t k;
	int rc;

	if (size < 2)
		return 0;
	k = data[0] % GT_ARRAY_SIZE(kinds);
	data++;
	size--;
	sep = memchr(data, 0, size);
	if (!sep)
		return 0;
	if (gt_json_parse((const char *)data, (size_t)(sep - data), &target, NULL) < 0)
		return 0;
	if (gt_json_parse((const char *)sep + 1, size - (size_t)(sep - data) - 1, &patch, NULL) < 0) {
		json_decref(target);
		return 0;
	}
	tcopy = json_deep_copy(target);
	pcopy = json_deep_copy(patch);

	gt_err_clear(&err);
	rc = gt_patch_merge(target, patch, &out, &err);
	check(rc == 0 ? out != NULL : out == NULL);
	if (rc == 0 && gt_patch_merge(out, patch, &again, &err) == 0) {
		check(json_equal(out, again));
		json_decref(again);
	}
	json_decref(out);

	gt_err_clear(&err);
	rc = gt_patch_json(target, patch, &out, &err);
	check(rc == 0 ? out != NULL : (out == NULL && err.code == rc));
	json_decref(out);

	gt_err_clear(&err);
	rc = gt_patch_strategic(kinds[k][0], kinds[k][1], target, patch, &out, &err);
	/* Directives in the stored target are data; those from the patch must not survive. */
	check(rc == 0 ? out != NULL && (has_directive(target) || !has_directive(out))
		      : (out == NULL && err.code == rc));
	json_decref(out);

	check(json_equal(target, tcopy) && json_equal(patch, pcopy));

	gt_patch_strip_directives(pcopy);
	check(!has_directive(pcopy));

	json_decref(tcopy);
	json_decref(pcopy);
	json_decref(target);
	json_decref(patch);
	return 0;
}
