/*
 * validate_policy.c - policy/v1: PodDisruptionBudget
 * (ValidatePodDisruptionBudgetSpec): minAvailable and maxUnavailable are
 * non-negative integers or percentages of at most 100%, not both set; the
 * selector is a valid label selector; unhealthyPodEvictionPolicy is
 * IfHealthyBudget or AlwaysAllow.
 */
#include <string.h>

#include "api/validate_int.h"

void gt_vld_pdb(struct gt_vld *v, const json_t *obj)
{
	static const char *const policies[] = { "IfHealthyBudget", "AlwaysAllow", NULL };
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *minav = gt_vld_get(spec, "minAvailable");
	const json_t *maxun = gt_vld_get(spec, "maxUnavailable");
	const char *pol = gt_vld_str(spec, "unhealthyPodEvictionPolicy");

	if (minav && maxun)
		gt_vld_invalid(v, "spec", "policy.PodDisruptionBudgetSpec{...}",
			       "minAvailable and maxUnavailable cannot be both set");
	if (minav)
		gt_vld_int_or_percent(v, minav, "spec.minAvailable");
	if (maxun)
		gt_vld_int_or_percent(v, maxun, "spec.maxUnavailable");
	if (gt_vld_get(spec, "selector"))
		gt_vld_selector(v, gt_vld_get(spec, "selector"), "spec.selector");
	if (pol && *pol) {
		bool ok = false;

		for (size_t i = 0; policies[i]; i++)
			ok |= !strcmp(pol, policies[i]);
		if (!ok)
			gt_vld_not_supported(v, "spec.unhealthyPodEvictionPolicy", pol, policies);
	}
}
