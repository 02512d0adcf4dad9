/*
 * convert.c - autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscalers
 * (see convert.h).  Like Kubernetes' conversion, v2-only data (other
 * metrics, behavior, conditions) does not survive a round trip through v1;
 * Kubernetes keeps it in annotations, Gantry drops it from the v1 view.
 */
#include <string.h>

#include "api/convert.h"

static bool cpu_utilization(const json_t *m)
{
	return !strcmp(gt_json_str(m, "type") ?: "", "Resource") &&
	       !strcmp(gt_json_str(m, "resource.name") ?: "", "cpu") &&
	       !strcmp(gt_json_str(m, "resource.target.type") ?: "", "Utilization");
}

/* A copy of obj with apiVersion av and without spec and status. */
static json_t *shell(const json_t *obj, const char *av)
{
	json_t *out = json_is_object(obj) ? json_deep_copy(obj) : json_object();

	json_object_set_new(out, "apiVersion", json_string(av));
	json_object_del(out, "spec");
	json_object_del(out, "status");
	return out;
}

static void copy(json_t *to, const json_t *from, const char *key)
{
	json_t *v = json_object_get(from, key);

	if (v)
		json_object_set_new(to, key, json_deep_copy(v));
}

json_t *gt_hpa_v1_to_v2(const json_t *v1)
{
	json_t *out = shell(v1, "autoscaling/v2");
	const json_t *spec = json_object_get(v1, "spec"), *st = json_object_get(v1, "status");
	json_t *t = json_object_get(spec, "targetCPUUtilizationPercentage");

	if (json_is_object(spec)) {
		json_t *s = json_object();

		copy(s, spec, "scaleTargetRef");
		copy(s, spec, "minReplicas");
		copy(s, spec, "maxReplicas");
		if (t && !json_is_null(t))
			json_object_set_new(s, "metrics", json_pack("[{s:s,s:{s:s,s:{s:s,s:O}}}]", "type",
				"Resource", "resource", "name", "cpu", "target", "type", "Utilization",
				"averageUtilization", t));
		json_object_set_new(out, "spec", s);
	} else if (spec) {
		json_object_set_new(out, "spec", json_deep_copy(spec));  /* validation says why */
	}
	if (json_is_object(st)) {
		json_t *s = json_object();
		json_t *cur = json_object_get(st, "currentCPUUtilizationPercentage");

		copy(s, st, "observedGeneration");
		copy(s, st, "lastScaleTime");
		copy(s, st, "currentReplicas");
		copy(s, st, "desiredReplicas");
		if (cur && !json_is_null(cur))
			json_object_set_new(s, "currentMetrics", json_pack("[{s:s,s:{s:s,s:{s:O}}}]", "type",
				"Resource", "resource", "name", "cpu", "current", "averageUtilization", cur));
		json_object_set_new(out, "status", s);
	}
	return out;
}

json_t *gt_hpa_v2_to_v1(const json_t *v2)
{
	json_t *out = shell(v2, "autoscaling/v1");
	const json_t *spec = json_object_get(v2, "spec"), *st = json_object_get(v2, "status"), *m;
	json_t *s = json_object();
	size_t i;

	copy(s, spec, "scaleTargetRef");
	copy(s, spec, "minReplicas");
	copy(s, spec, "maxReplicas");
	json_array_foreach(json_object_get(spec, "metrics"), i, m)
		if (cpu_utilization(m)) {
			copy(s, gt_json_path(m, "resource.target"), "averageUtilization");
			json_object_set(s, "targetCPUUtilizationPercentage",
					json_object_get(s, "averageUtilization"));
			json_object_del(s, "averageUtilization");
			break;
		}
	json_object_set_new(out, "spec", s);
	s = json_object();
	copy(s, st, "observedGeneration");
	copy(s, st, "lastScaleTime");
	copy(s, st, "currentReplicas");
	copy(s, st, "desiredReplicas");
	if (!json_object_get(s, "currentReplicas"))
		json_object_set_new(s, "currentReplicas", json_integer(0));
	if (!json_object_get(s, "desiredReplicas"))
		json_object_set_new(s, "desiredReplicas", json_integer(0));
	json_array_foreach(json_object_get(st, "currentMetrics"), i, m) {
		const json_t *u = gt_json_path(m, "resource.current.averageUtilization");

		if (!strcmp(gt_json_str(m, "resource.name") ?: "", "cpu") && u) {
			json_object_set_new(s, "currentCPUUtilizationPercentage", json_deep_copy(u));
			break;
		}
	}
	json_object_set_new(out, "status", s);
	return out;
}
