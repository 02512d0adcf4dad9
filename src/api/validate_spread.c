/*
 * validate_spread.c - spec.topologySpreadConstraints, as Kubernetes'
 * validateTopologySpreadConstraints words it: maxSkew and minDomains
 * greater than zero, topologyKey a qualified name, whenUnsatisfiable
 * DoNotSchedule or ScheduleAnyway (minDomains only with DoNotSchedule),
 * nodeAffinityPolicy and nodeTaintsPolicy Honor or Ignore, and no two
 * constraints with the same topologyKey and whenUnsatisfiable.
 */
#include <stdio.h>
#include <string.h>

#include "api/validate_int.h"
#include "base/util.h"

void gt_vld_spread(struct gt_vld *v, const json_t *list, const char *base)
{
	static const char *const when[] = { "DoNotSchedule", "ScheduleAnyway", NULL };
	static const char *const policy[] = { "Honor", "Ignore", NULL };
	static const char *const policies[] = { "nodeAffinityPolicy", "nodeTaintsPolicy" };
	char path[GT_VLD_PATH], p[GT_VLD_PATH];

	for (size_t i = 0; i < gt_vld_len(list); i++) {
		const json_t *c = json_array_get(list, i);
		const char *key = gt_vld_str(c, "topologyKey"), *w = gt_vld_str(c, "whenUnsatisfiable");
		int64_t n;

		gt_vld_path(path, "%s[%zu]", base, i);
		if (!gt_vld_int(c, "maxSkew", &n) || n <= 0)
			gt_vld_invalid_int(v, gt_vld_path(p, "%s.maxSkew", path),
					   gt_vld_int(c, "maxSkew", &n) ? n : 0,
					   "must be greater than zero");
		gt_vld_path(p, "%s.topologyKey", path);
		if (!key || !*key) {
			gt_vld_required(v, p, "can not be empty");
		} else {
			struct gt_vld_msgs m = { 0 };

			gt_vld_is_qualified_name(key, &m);
			gt_vld_report(v, p, key, &m);
		}
		gt_vld_path(p, "%s.whenUnsatisfiable", path);
		if (!w || !*w)
			gt_vld_required(v, p, "");
		else if (strcmp(w, when[0]) && strcmp(w, when[1]))
			gt_vld_not_supported(v, p, w, when);
		if (gt_vld_int(c, "minDomains", &n)) {
			gt_vld_path(p, "%s.minDomains", path);
			if (n <= 0)
				gt_vld_invalid_int(v, p, n, "must be greater than zero");
			else if (w && !strcmp(w, "ScheduleAnyway"))
				gt_vld_invalid_int(v, p, n, "can only use minDomains if "
						   "whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway");
		}
		for (size_t k = 0; k < GT_ARRAY_SIZE(policies); k++) {
			const char *s = gt_vld_str(c, policies[k]);

			if (s && strcmp(s, policy[0]) && strcmp(s, policy[1]))
				gt_vld_not_supported(v, gt_vld_path(p, "%s.%s", path, policies[k]), s,
						     policy);
		}
		for (size_t j = 0; key && w && j < i; j++) {
			const json_t *o = json_array_get(list, j);

			if (!strcmp(gt_vld_str(o, "topologyKey") ?: "", key) &&
			    !strcmp(gt_vld_str(o, "whenUnsatisfiable") ?: "", w)) {
				char val[GT_VLD_MSG];

				snprintf(val, sizeof(val), "{%s, %s}", key, w);
				gt_vld_duplicate(v, gt_vld_path(p, "%s.{topologyKey, whenUnsatisfiable}",
								path), val);
				break;
			}
		}
	}
}
