/*
 * validate_autoscaling.c - HorizontalPodAutoscaler (autoscaling/v2) as
 * Kubernetes' ValidateHorizontalPodAutoscaler checks it: the scale target
 * reference, the replica bounds, each metric (Resource metrics in full;
 * the other types need their source member), and the behavior's rules.
 */
#include <string.h>

#include "api/quantity.h"
#include "api/validate_int.h"

static void target_ref(struct gt_vld *v, const json_t *ref, const char *path)
{
	char p[GT_VLD_PATH];
	const char *name = gt_vld_str(ref, "name");

	if (!gt_vld_has_str(ref, "kind"))
		gt_vld_required(v, gt_vld_path(p, "%s.kind", path), "");
	if (!name || !*name) {
		gt_vld_required(v, gt_vld_path(p, "%s.name", path), "");
	} else {
		struct gt_vld_msgs m = { 0 };

		gt_vld_is_path_segment(name, &m);
		gt_vld_report(v, gt_vld_path(p, "%s.name", path), name, &m);
	}
}

static void target(struct gt_vld *v, const json_t *t, const char *path)
{
	static const char *const types[] = { "AverageValue", "Utilization", "Value", NULL };
	const char *type = gt_vld_str(t, "type");
	char p[GT_VLD_PATH];
	struct gt_quantity q;
	int64_t n;

	if (!type || !*type) {
		gt_vld_required(v, gt_vld_path(p, "%s.type", path), "must specify a metric target type");
		return;
	}
	if (strcmp(type, "Utilization") && strcmp(type, "AverageValue") && strcmp(type, "Value")) {
		gt_vld_not_supported(v, gt_vld_path(p, "%s.type", path), type, types);
		return;
	}
	if (!strcmp(type, "Utilization")) {
		if (!gt_vld_int(t, "averageUtilization", &n))
			gt_vld_required(v, gt_vld_path(p, "%s.averageUtilization", path),
					"must set either a target raw value or a target utilization");
		else if (n <= 0)
			gt_vld_invalid_int(v, gt_vld_path(p, "%s.averageUtilization", path), n,
					   "must be greater than 0");
		return;
	}
	{
		const char *key = !strcmp(type, "Value") ? "value" : "averageValue";
		const json_t *val = gt_vld_get(t, key);

		if (!val)
			gt_vld_required(v, gt_vld_path(p, "%s.%s", path, key),
					"must set either a target value or averageValue");
		else if (!gt_vld_qty(val, &q) || q.nano <= 0)
			gt_vld_invalid(v, gt_vld_path(p, "%s.%s", path, key),
				       json_is_string(val) ? json_string_value(val) : "0",
				       "must be positive");
	}
}

static void metric(struct gt_vld *v, const json_t *m, const char *path)
{
	static const char *const types[] = { "ContainerResource", "External", "Object", "Pods",
					     "Resource", NULL };
	static const char *const members[] = { "containerResource", "external", "object", "pods",
					       "resource" };
	const char *type = gt_vld_str(m, "type");
	const json_t *src;
	char p[GT_VLD_PATH];
	size_t k;

	if (!type || !*type) {
		gt_vld_required(v, gt_vld_path(p, "%s.type", path), "must specify a metric source type");
		return;
	}
	for (k = 0; types[k] && strcmp(types[k], type); k++)
		;
	if (!types[k]) {
		gt_vld_not_supported(v, gt_vld_path(p, "%s.type", path), type, types);
		return;
	}
	if (!(src = gt_vld_get(m, members[k]))) {
		gt_vld_required(v, gt_vld_path(p, "%s.%s", path, members[k]),
				"must populate information for the given metric source");
		return;
	}
	if (strcmp(type, "Resource") && strcmp(type, "ContainerResource"))
		return;
	if (!gt_vld_has_str(src, "name"))
		gt_vld_required(v, gt_vld_path(p, "%s.%s.name", path, members[k]),
				"must specify a resource name");
	if (!gt_vld_get(src, "target"))
		gt_vld_required(v, gt_vld_path(p, "%s.%s.target", path, members[k]),
				"must specify a metric target");
	else
		target(v, gt_vld_get(src, "target"), gt_vld_path(p, "%s.%s.target", path, members[k]));
}

static void rules(struct gt_vld *v, const json_t *r, const char *path)
{
	static const char *const selects[] = { "Disabled", "Max", "Min", NULL };
	static const char *const ptypes[] = { "Percent", "Pods", NULL };
	const char *sel = gt_vld_str(r, "selectPolicy");
	const json_t *pol;
	char p[GT_VLD_PATH];
	int64_t n;
	size_t i;

	if (!r)
		return;
	if (gt_vld_int(r, "stabilizationWindowSeconds", &n) && (n < 0 || n > 3600))
		gt_vld_invalid_int(v, gt_vld_path(p, "%s.stabilizationWindowSeconds", path), n,
				   n < 0 ? "must be greater than or equal to zero" :
					   "must be less than or equal to 3600");
	if (sel && strcmp(sel, "Disabled") && strcmp(sel, "Max") && strcmp(sel, "Min"))
		gt_vld_not_supported(v, gt_vld_path(p, "%s.selectPolicy", path), sel, selects);
	if (gt_vld_get(r, "policies") && !gt_vld_len(gt_vld_get(r, "policies")))
		gt_vld_required(v, gt_vld_path(p, "%s.policies", path),
				"must specify at least one Policy");
	json_array_foreach(gt_vld_get(r, "policies"), i, pol) {
		const char *t = gt_vld_str(pol, "type");

		if (!t || (strcmp(t, "Pods") && strcmp(t, "Percent")))
			gt_vld_not_supported(v, gt_vld_path(p, "%s.policies[%zu].type", path, i), t ?: "",
					     ptypes);
		if (!gt_vld_int(pol, "value", &n) || n <= 0)
			gt_vld_invalid_int(v, gt_vld_path(p, "%s.policies[%zu].value", path, i),
					   gt_vld_int(pol, "value", &n) ? n : 0, "must be greater than zero");
		if (!gt_vld_int(pol, "periodSeconds", &n) || n <= 0 || n > 1800)
			gt_vld_invalid_int(v, gt_vld_path(p, "%s.policies[%zu].periodSeconds", path, i),
					   gt_vld_int(pol, "periodSeconds", &n) ? n : 0,
					   n > 1800 ? "must be less than or equal to 1800" :
						      "must be greater than zero");
	}
}

void gt_vld_hpa(struct gt_vld *v, const json_t *obj)
{
	const json_t *spec = gt_vld_get(obj, "spec"), *m, *ref;
	int64_t min = 1, max = 0;
	bool has_min = gt_vld_int(spec, "minReplicas", &min);
	char p[GT_VLD_PATH];
	size_t i;

	if (!(ref = gt_vld_get(spec, "scaleTargetRef")))
		gt_vld_required(v, "spec.scaleTargetRef", "");
	else
		target_ref(v, ref, "spec.scaleTargetRef");
	if (has_min && min < 1)
		gt_vld_invalid_int(v, "spec.minReplicas", min, "must be greater than or equal to 1");
	if (!gt_vld_int(spec, "maxReplicas", &max) || max < 1)
		gt_vld_invalid_int(v, "spec.maxReplicas", max, "must be greater than 0");
	else if (has_min && max < min)
		gt_vld_invalid_int(v, "spec.maxReplicas", max,
				   "must be greater than or equal to `minReplicas`");
	json_array_foreach(gt_vld_get(spec, "metrics"), i, m)
		metric(v, m, gt_vld_path(p, "spec.metrics[%zu]", i));
	rules(v, gt_vld_get(gt_vld_get(spec, "behavior"), "scaleUp"), "spec.behavior.scaleUp");
	rules(v, gt_vld_get(gt_vld_get(spec, "behavior"), "scaleDown"), "spec.behavior.scaleDown");
}
