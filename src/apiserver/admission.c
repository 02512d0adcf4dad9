/*
 * admission.c - the DefaultTolerationSeconds admission plugin: a new pod
 * that does not tolerate node.kubernetes.io/not-ready or
 * node.kubernetes.io/unreachable with effect NoExecute (a toleration with
 * that key, or an empty key, and effect NoExecute or empty) gets
 * {key, operator: Exists, effect: NoExecute, tolerationSeconds: N}, N from
 * --default-not-ready-toleration-seconds / --default-unreachable-
 * toleration-seconds (300).  So a pod on a node that stops answering is
 * evicted by the taint manager after N seconds, not at once.
 */
#include <string.h>

#include "apiserver/internal.h"

static bool tolerates(const json_t *tols, const char *key)
{
	const json_t *t;
	size_t i;

	json_array_foreach(tols, i, t) {
		const char *k = gt_json_str(t, "key") ?: "", *e = gt_json_str(t, "effect") ?: "";

		if ((!*k || !strcmp(k, key)) && (!*e || !strcmp(e, "NoExecute")))
			return true;
	}
	return false;
}

void gt_admit_default_tolerations(struct gt_api *api, json_t *pod)
{
	static const char *const keys[] = { "node.kubernetes.io/not-ready",
					    "node.kubernetes.io/unreachable" };
	json_t *spec = json_object_get(pod, "spec"), *tols;

	if (!json_is_object(spec))
		return; /* validation says what is wrong */
	tols = json_object_get(spec, "tolerations");
	if (tols && !json_is_array(tols) && !json_is_null(tols))
		return;
	for (size_t i = 0; i < GT_ARRAY_SIZE(keys); i++) {
		if (tolerates(tols, keys[i]))
			continue;
		if (!json_is_array(tols)) {
			tols = json_array();
			json_object_set_new(spec, "tolerations", tols);
		}
		json_array_append_new(tols, json_pack("{s:s,s:s,s:s,s:I}", "key", keys[i], "operator",
						      "Exists", "effect", "NoExecute",
						      "tolerationSeconds",
						      (json_int_t)(i ? api->unreachable_tol_s :
								   api->not_ready_tol_s)));
	}
}
