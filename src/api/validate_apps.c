/*
 * validate_apps.c - validation of apps/v1: Deployment, ReplicaSet,
 * StatefulSet and DaemonSet (selector required and matching the template's
 * labels, replica counts, update strategies, RestartPolicy Always), and
 * their update rules (immutable selectors; a StatefulSet spec changes only
 * in replicas, template, updateStrategy and a few more), following
 * kubernetes/pkg/apis/apps/validation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate_int.h"

static void invalid_selector(struct gt_vld *v, const json_t *sel, const char *detail)
{
	char *s = gt_vld_goselector(sel);

	gt_vld_invalid(v, "spec.selector", s, detail);
	free(s);
}

/*
 * Selector + template, shared by the four kinds: selector required (and
 * not empty), template labels matching it, template validated as a pod,
 * restartPolicy Always and no activeDeadlineSeconds.
 */
static void selector_and_template(struct gt_vld *v, const json_t *spec, const char *kind,
				  bool require_selector)
{
	const json_t *sel = gt_vld_get(spec, "selector");
	const json_t *tmpl = gt_vld_get(spec, "template");
	const json_t *labels = gt_json_path(tmpl, "metadata.labels");
	const char *rp = json_string_value(gt_json_path(tmpl, "spec.restartPolicy"));
	static const char *const always[] = { "Always", NULL };
	char d[128];
	int match;

	if (!sel) {
		if (require_selector)
			gt_vld_required(v, "spec.selector", "");
	} else {
		gt_vld_selector(v, sel, "spec.selector");
		if (gt_vld_selector_empty(sel)) {
			snprintf(d, sizeof(d), "empty selector is invalid for %s", kind);
			invalid_selector(v, sel, d);
		}
	}
	match = gt_vld_selector_matches(sel, json_is_object(labels) ? labels : NULL);
	if (match < 0) {
		invalid_selector(v, sel, "invalid label selector");
		return;
	}
	if (!match) {
		char *m = gt_vld_gomap(json_is_object(labels) ? labels : NULL);

		gt_vld_invalid(v, "spec.template.metadata.labels", m,
			       "`selector` does not match template `labels`");
		free(m);
	}
	gt_vld_pod_template(v, tmpl, "spec.template", 0);
	if (rp && *rp && strcmp(rp, "Always"))
		gt_vld_not_supported(v, "spec.template.spec.restartPolicy", rp, always);
	if (json_is_integer(gt_json_path(tmpl, "spec.activeDeadlineSeconds"))) {
		int64_t ads = json_integer_value(gt_json_path(tmpl, "spec.activeDeadlineSeconds"));

		if (!strcmp(kind, "statefulset"))
			gt_vld_forbidden(v, "spec.template.spec.activeDeadlineSeconds",
					 "activeDeadlineSeconds in StatefulSet is not Supported");
		else
			gt_vld_invalid_int(v, "spec.template.spec.activeDeadlineSeconds", ads,
					   !strcmp(kind, "daemonset") ? "activeDeadlineSeconds in DaemonSet is not Supported"
								      : "activeDeadlineSeconds in ReplicaSet is not Supported");
	}
}

/* Value of an IntOrString for "is zero" checks: percent or integer. */
static long intstr_value(const json_t *is)
{
	if (json_is_integer(is))
		return (long)json_integer_value(is);
	if (json_is_string(is))
		return strtol(json_string_value(is), NULL, 10);
	return 0;
}

static void intstr_text(const json_t *is, char *out, size_t n)
{
	if (json_is_string(is))
		snprintf(out, n, "%s", json_string_value(is));
	else
		snprintf(out, n, "%lld", json_is_integer(is) ? (long long)json_integer_value(is) : 0LL);
}

void gt_vld_int_or_percent(struct gt_vld *v, const json_t *is, const char *path)
{
	char txt[GT_VLD_MSG];

	intstr_text(is, txt, sizeof(txt));
	if (json_is_string(is)) {
		struct gt_vld_msgs m = { 0 };

		gt_vld_is_percent(json_string_value(is), &m);
		for (int i = 0; i < m.n; i++)
			gt_vld_invalid(v, path, txt, m.m[i]);
		if (!m.n && intstr_value(is) > 100)
			gt_vld_invalid(v, path, txt, "must not be greater than 100%");
	} else if (json_is_integer(is) && json_integer_value(is) < 0) {
		gt_vld_invalid(v, path, txt, "must be greater than or equal to 0");
	}
}

static void strategy_not_supported(struct gt_vld *v, const char *path, const char *gotype,
				   const char *type, const char *valid)
{
	char q[GT_VLD_MSG], body[GT_VLD_MSG * 2];

	gt_vld_quote(type ? type : "", q, sizeof(q));
	snprintf(body, sizeof(body), "Unsupported value: %s{Type:%s, RollingUpdate:(*%s)(nil)}: supported values: %s",
		 gotype, q, gotype, valid);
	gt_vld_add(v, path, "FieldValueNotSupported", body);
}

void gt_vld_deployment(struct gt_vld *v, const json_t *obj)
{
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *st = gt_vld_get(spec, "strategy");
	const json_t *ru = gt_vld_get(st, "rollingUpdate");
	const char *type = gt_vld_str(st, "type");
	int64_t pds, mrs = 0;

	gt_vld_nonneg(v, spec, "replicas", "spec");
	selector_and_template(v, spec, "deployment", true);
	if (type && !strcmp(type, "Recreate")) {
		if (ru)
			gt_vld_forbidden(v, "spec.strategy.rollingUpdate",
					 "may not be specified when strategy `type` is 'Recreate'");
	} else if (type && !strcmp(type, "RollingUpdate")) {
		if (!ru) {
			gt_vld_required(v, "spec.strategy.rollingUpdate", "this should be defaulted and never be nil");
		} else {
			const json_t *mu = gt_vld_get(ru, "maxUnavailable");
			const json_t *ms = gt_vld_get(ru, "maxSurge");

			gt_vld_int_or_percent(v, mu, "spec.strategy.rollingUpdate.maxUnavailable");
			gt_vld_int_or_percent(v, ms, "spec.strategy.rollingUpdate.maxSurge");
			if (intstr_value(mu) == 0 && intstr_value(ms) == 0) {
				char txt[GT_VLD_MSG];

				intstr_text(mu, txt, sizeof(txt));
				gt_vld_invalid(v, "spec.strategy.rollingUpdate.maxUnavailable", txt,
					       "may not be 0 when `maxSurge` is 0");
			}
		}
	} else {
		strategy_not_supported(v, "spec.strategy", "apps.DeploymentStrategy", type,
				       "\"Recreate\", \"RollingUpdate\"");
	}
	gt_vld_nonneg(v, spec, "minReadySeconds", "spec");
	gt_vld_nonneg(v, spec, "revisionHistoryLimit", "spec");
	gt_vld_int(spec, "minReadySeconds", &mrs);
	if (gt_vld_int(spec, "progressDeadlineSeconds", &pds)) {
		gt_vld_positive(v, spec, "progressDeadlineSeconds", "spec");
		if (pds <= mrs)
			gt_vld_invalid_int(v, "spec.progressDeadlineSeconds", pds,
					   "must be greater than minReadySeconds");
	}
}

void gt_vld_replicaset(struct gt_vld *v, const json_t *obj)
{
	const json_t *spec = gt_vld_get(obj, "spec");

	gt_vld_nonneg(v, spec, "replicas", "spec");
	gt_vld_nonneg(v, spec, "minReadySeconds", "spec");
	/* Kubernetes says "deployment" here too */
	selector_and_template(v, spec, "deployment", true);
}

/*
 * A copy of a StatefulSet spec whose template also has the volumes its
 * volumeClaimTemplates become (the controller mounts them, so mounts may
 * name them), or NULL when it has none.
 */
static json_t *claim_volumes(const json_t *spec)
{
	const json_t *tpls = gt_vld_get(spec, "volumeClaimTemplates"), *t;
	json_t *copy, *vols;
	size_t i;

	if (!json_is_array(tpls) || !json_array_size(tpls) ||
	    !json_is_object(gt_json_path(spec, "template.spec")))
		return NULL;
	copy = json_deep_copy(spec);
	vols = gt_json_path(copy, "template.spec.volumes");
	if (!json_is_array(vols)) {
		vols = json_array();
		gt_json_set(copy, "template.spec.volumes", vols);
	}
	json_array_foreach(tpls, i, t) {
		const char *name = gt_json_str(t, "metadata.name");
		const json_t *have;
		size_t k;
		bool dup = false;

		json_array_foreach(vols, k, have)
			dup |= name && !strcmp(gt_json_str(have, "name") ?: "", name);
		if (name && !dup)
			json_array_append_new(vols, json_pack("{s:s,s:{s:s}}", "name", name,
							      "persistentVolumeClaim", "claimName", name));
	}
	return copy;
}

void gt_vld_statefulset(struct gt_vld *v, const json_t *obj)
{
	json_t *with_claims;
	const json_t *spec = gt_vld_get(obj, "spec");
	const char *pmp = gt_vld_str(spec, "podManagementPolicy");
	const json_t *us = gt_vld_get(spec, "updateStrategy");
	const char *type = gt_vld_str(us, "type");
	const json_t *ru = gt_vld_get(us, "rollingUpdate");

	if (!pmp || !*pmp)
		gt_vld_required(v, "spec.podManagementPolicy", "");
	else if (strcmp(pmp, "OrderedReady") && strcmp(pmp, "Parallel"))
		gt_vld_invalid_str(v, "spec.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'");
	if (!type || !*type) {
		gt_vld_required(v, "spec.updateStrategy", "");
	} else if (!strcmp(type, "OnDelete")) {
		if (ru)
			gt_vld_invalid(v, "spec.updateStrategy.rollingUpdate", "apps.RollingUpdateStatefulSetStrategy{...}",
				       "only allowed for updateStrategy 'RollingUpdate'");
	} else if (!strcmp(type, "RollingUpdate")) {
		if (ru) {
			gt_vld_nonneg(v, ru, "partition", "spec.updateStrategy.rollingUpdate");
			if (gt_vld_get(ru, "maxUnavailable"))
				gt_vld_int_or_percent(v, gt_vld_get(ru, "maxUnavailable"),
					       "spec.updateStrategy.rollingUpdate.maxUnavailable");
		}
	} else {
		char q[GT_VLD_MSG];

		gt_vld_quote(type, q, sizeof(q));
		gt_vld_invalid(v, "spec.updateStrategy", q, "must be 'RollingUpdate' or 'OnDelete'");
	}
	gt_vld_nonneg(v, spec, "replicas", "spec");
	gt_vld_nonneg(v, spec, "minReadySeconds", "spec");
	gt_vld_nonneg(v, spec, "revisionHistoryLimit", "spec");
	with_claims = claim_volumes(spec);
	selector_and_template(v, with_claims ? with_claims : spec, "statefulset", true);
	json_decref(with_claims);
}

void gt_vld_statefulset_update(struct gt_vld *v, const json_t *obj, const json_t *old)
{
	static const char *const mutable[] = { "replicas", "template", "updateStrategy", "minReadySeconds",
					       "ordinals", "revisionHistoryLimit",
					       "persistentVolumeClaimRetentionPolicy", NULL };
	const json_t *nspec = gt_vld_get(obj, "spec");
	const json_t *ospec = gt_vld_get(old, "spec");
	json_t *a, *b;

	if (!json_is_object(nspec) || !json_is_object(ospec))
		return;
	a = json_deep_copy(nspec);
	b = json_deep_copy(ospec);
	for (size_t i = 0; mutable[i]; i++) {
		json_object_del(a, mutable[i]);
		json_object_del(b, mutable[i]);
	}
	if (!json_equal(a, b))
		gt_vld_forbidden(v, "spec",
				 "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
				 "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' "
				 "and 'minReadySeconds' are forbidden");
	json_decref(a);
	json_decref(b);
}

void gt_vld_daemonset(struct gt_vld *v, const json_t *obj)
{
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *us = gt_vld_get(spec, "updateStrategy");
	const char *type = gt_vld_str(us, "type");
	const json_t *ru = gt_vld_get(us, "rollingUpdate");

	selector_and_template(v, spec, "daemonset", true);
	gt_vld_nonneg(v, spec, "minReadySeconds", "spec");
	if (type && !strcmp(type, "OnDelete")) {
		/* nothing */
	} else if (type && !strcmp(type, "RollingUpdate")) {
		if (!ru) {
			gt_vld_required(v, "spec.updateStrategy.rollingUpdate", "");
		} else {
			const json_t *mu = gt_vld_get(ru, "maxUnavailable");
			const json_t *ms = gt_vld_get(ru, "maxSurge");
			bool has_u = intstr_value(mu) != 0, has_s = intstr_value(ms) != 0;

			gt_vld_int_or_percent(v, mu, "spec.updateStrategy.rollingUpdate.maxUnavailable");
			gt_vld_int_or_percent(v, ms, "spec.updateStrategy.rollingUpdate.maxSurge");
			if (has_u && has_s) {
				char txt[GT_VLD_MSG];

				intstr_text(ms, txt, sizeof(txt));
				gt_vld_invalid(v, "spec.updateStrategy.rollingUpdate.maxSurge", txt,
					       "may not be set when maxUnavailable is non-zero");
			} else if (!has_u && !has_s) {
				gt_vld_required(v, "spec.updateStrategy.rollingUpdate.maxUnavailable",
						"cannot be 0 when maxSurge is 0");
			}
		}
	} else {
		strategy_not_supported(v, "spec.updateStrategy", "apps.DaemonSetUpdateStrategy", type,
				       "\"RollingUpdate\", \"OnDelete\"");
	}
	gt_vld_nonneg(v, spec, "revisionHistoryLimit", "spec");
}

void gt_vld_selector_update(struct gt_vld *v, const json_t *obj, const json_t *old)
{
	const json_t *ns = gt_json_path(obj, "spec.selector");
	const json_t *os = gt_json_path(old, "spec.selector");

	if (json_is_null(ns))
		ns = NULL;
	if (json_is_null(os))
		os = NULL;
	if (!gt_json_equal(ns, os)) {
		char *s = gt_vld_goselector(ns);

		gt_vld_invalid(v, "spec.selector", s, "field is immutable");
		free(s);
	}
}
