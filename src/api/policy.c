/*
 * policy.c - PodDisruptionBudget selection, int-or-percent values and
 * status conditions (see policy.h).
 */
#include "api/policy.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/selector.h"

bool gt_pdb_selects(const json_t *pdb, const json_t *pod)
{
	struct gt_labelsel *sel = NULL;
	bool m;

	if (strcmp(gt_json_str(pdb, "metadata.namespace") ?: "",
		   gt_json_str(pod, "metadata.namespace") ?: ""))
		return false;
	if (gt_labelsel_from_object(gt_json_path(pdb, "spec.selector"), &sel, NULL) < 0)
		return false;
	m = gt_labelsel_match(sel, gt_json_path(pod, "metadata.labels"));
	gt_labelsel_free(sel);
	return m;
}

static int percent(const char *s, int64_t *out)
{
	char *end;
	long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (end == s || strcmp(end, "%") || v > INT_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

bool gt_intstr_is_percent(const json_t *v)
{
	int64_t p;

	return json_is_string(v) && percent(json_string_value(v), &p) == 0;
}

int gt_intstr_scaled(const json_t *v, int64_t total, bool round_up, int64_t *out)
{
	int64_t p;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v) || percent(json_string_value(v), &p) < 0)
		return -EINVAL;
	*out = round_up ? (p * total + 99) / 100 : p * total / 100;
	return 0;
}

bool gt_pod_is_ready(const json_t *pod)
{
	const json_t *c;
	size_t i;

	json_array_foreach(gt_json_path(pod, "status.conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", "Ready"))
			return !strcmp(gt_json_str(c, "status") ?: "", "True");
	return false;
}

int gt_condition_put(json_t *obj, const char *type, const char *st, const char *reason,
		     const char *message)
{
	json_t *conds = gt_json_path(obj, "status.conditions"), *c, *keep = json_array();
	char now[32];
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *r = gt_json_str(c, "reason");

		if (strcmp(gt_json_str(c, "type") ?: "", type)) {
			json_array_append(keep, c);
			continue;
		}
		if (!strcmp(gt_json_str(c, "status") ?: "", st) &&
		    ((!r && !reason) || (r && reason && !strcmp(r, reason)))) {
			json_decref(keep);
			return -EALREADY;
		}
	}
	gt_time_rfc3339(time(NULL), now);
	c = json_pack("{s:s,s:s,s:n,s:s}", "type", type, "status", st, "lastProbeTime",
		      "lastTransitionTime", now);
	if (reason)
		json_object_set_new(c, "reason", json_string(reason));
	if (message)
		json_object_set_new(c, "message", json_string(message));
	json_array_append_new(keep, c);
	gt_json_set(obj, "status.conditions", keep);
	return 0;
}
