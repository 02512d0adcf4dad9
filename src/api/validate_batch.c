/*
 * validate_batch.c - validation of batch/v1 Job and CronJob (with a cron
 * schedule checker giving robfig/cron's messages), and of the smaller
 * kinds: coordination.k8s.io Lease, apiextensions.k8s.io
 * CustomResourceDefinition and autoscaling/v1 Scale.  Follows
 * kubernetes/pkg/apis/batch/validation and apiextensions' validation.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/cron.h"
#include "api/validate_int.h"

/* ---- Job ---- */

static const char *const job_restart[] = { "OnFailure", "Never", NULL };

static bool has_container(const json_t *pspec, const char *name)
{
	static const char *const lists[] = { "containers", "initContainers" };

	for (size_t l = 0; l < GT_ARRAY_SIZE(lists); l++)
		for (size_t i = 0; i < gt_vld_len(gt_vld_get(pspec, lists[l])); i++)
			if (!strcmp(gt_vld_str(json_array_get(gt_vld_get(pspec, lists[l]), i), "name") ?: "", name))
				return true;
	return false;
}

static void exit_codes(struct gt_vld *v, const json_t *ec, const json_t *pspec, const char *base)
{
	static const char *const ops[] = { "In", "NotIn", NULL };
	const char *op = gt_vld_str(ec, "operator"), *cn = gt_vld_str(ec, "containerName");
	const json_t *vals = gt_vld_get(ec, "values");
	char p[GT_VLD_PATH];
	int64_t prev = 0;

	if (cn && !has_container(pspec, cn))
		gt_vld_invalid_str(v, gt_vld_path(p, "%s.containerName", base), cn,
				   "must be one of the container or initContainer names in the pod template");
	if (!op || (strcmp(op, "In") && strcmp(op, "NotIn")))
		gt_vld_not_supported(v, gt_vld_path(p, "%s.operator", base), op ? op : "", ops);
	if (!gt_vld_len(vals))
		gt_vld_invalid(v, gt_vld_path(p, "%s.values", base), "[]int32{}",
			       "at least one value is required");
	else if (gt_vld_len(vals) > 255)
		gt_vld_add(v, gt_vld_path(p, "%s.values", base), "FieldValueTooMany",
			   "Too many: must have at most 255 items");
	for (size_t i = 0; i < gt_vld_len(vals); i++) {
		int64_t x = json_integer_value(json_array_get(vals, i));

		gt_vld_path(p, "%s.values[%zu]", base, i);
		if (op && !strcmp(op, "In") && x == 0)
			gt_vld_invalid_int(v, p, x, "must not be 0 for the In operator");
		else if (i > 0 && x == prev) {
			char d[32];

			snprintf(d, sizeof(d), "%lld", (long long)x);
			gt_vld_duplicate(v, p, d);
		}
		else if (i > 0 && x < prev)
			gt_vld_invalid_int(v, p, x, "must be ordered");
		prev = x;
	}
}

/* validatePodFailurePolicy (FailIndex needs backoffLimitPerIndex, which is not served). */
static void pod_failure_policy(struct gt_vld *v, const json_t *spec, const char *path)
{
	static const char *const actions[] = { "Count", "FailIndex", "FailJob", "Ignore", NULL };
	static const char *const statuses[] = { "False", "True", "Unknown", NULL };
	const json_t *pfp = gt_vld_get(spec, "podFailurePolicy");
	const json_t *rules = gt_vld_get(pfp, "rules");
	const json_t *pspec = gt_json_path(spec, "template.spec");
	const char *rp = json_string_value(gt_json_path(spec, "template.spec.restartPolicy"));
	char p[GT_VLD_PATH], q[GT_VLD_PATH];

	if (!pfp || json_is_null(pfp))
		return;
	if (rp && strcmp(rp, "Never"))
		gt_vld_invalid_str(v, gt_vld_path(p, "%s.template.spec.restartPolicy", path), rp,
				   "only \"Never\" is supported when podFailurePolicy is specified");
	if (gt_vld_len(rules) > 20)
		gt_vld_add(v, gt_vld_path(p, "%s.podFailurePolicy.rules", path), "FieldValueTooMany",
			   "Too many: must have at most 20 items");
	for (size_t i = 0; i < gt_vld_len(rules); i++) {
		const json_t *r = json_array_get(rules, i);
		const char *act = gt_vld_str(r, "action");
		const json_t *ec = gt_vld_get(r, "onExitCodes"), *pc = gt_vld_get(r, "onPodConditions");
		bool has_ec = ec && !json_is_null(ec), has_pc = gt_vld_len(pc) > 0;

		gt_vld_path(p, "%s.podFailurePolicy.rules[%zu]", path, i);
		if (!act || (strcmp(act, "Count") && strcmp(act, "FailIndex") && strcmp(act, "FailJob") &&
			     strcmp(act, "Ignore")))
			gt_vld_not_supported(v, gt_vld_path(q, "%s.action", p), act ? act : "", actions);
		else if (!strcmp(act, "FailIndex"))
			gt_vld_invalid_str(v, gt_vld_path(q, "%s.action", p), act,
					   "requires the backoffLimitPerIndex to be set");
		if (has_ec && has_pc)
			gt_vld_invalid(v, p, "", "specifying both OnExitCodes and OnPodConditions is not supported");
		else if (!has_ec && !has_pc)
			gt_vld_invalid(v, p, "", "specifying one of OnExitCodes and OnPodConditions is required");
		if (has_ec)
			exit_codes(v, ec, pspec, gt_vld_path(q, "%s.onExitCodes", p));
		for (size_t j = 0; j < gt_vld_len(pc); j++) {
			const json_t *c = json_array_get(pc, j);
			const char *st = gt_vld_str(c, "status");

			if (!gt_vld_has_str(c, "type"))
				gt_vld_required(v, gt_vld_path(q, "%s.onPodConditions[%zu].type", p, j), "");
			if (!st || (strcmp(st, "True") && strcmp(st, "False") && strcmp(st, "Unknown")))
				gt_vld_not_supported(v, gt_vld_path(q, "%s.onPodConditions[%zu].status", p, j),
						     st ? st : "", statuses);
		}
	}
}

/* validateJobSpec: the part shared by Jobs and CronJob job templates. */
static void job_spec(struct gt_vld *v, const json_t *spec, const char *path)
{
	static const char *const modes[] = { "NonIndexed", "Indexed", NULL };
	const json_t *tmpl = gt_vld_get(spec, "template");
	const char *rp = json_string_value(gt_json_path(tmpl, "spec.restartPolicy"));
	const char *mode = gt_vld_str(spec, "completionMode");
	char p[GT_VLD_PATH];
	int64_t n;

	gt_vld_nonneg(v, spec, "parallelism", path);
	gt_vld_nonneg(v, spec, "completions", path);
	gt_vld_nonneg(v, spec, "activeDeadlineSeconds", path);
	gt_vld_nonneg(v, spec, "backoffLimit", path);
	gt_vld_nonneg(v, spec, "ttlSecondsAfterFinished", path);
	if (mode) {
		if (strcmp(mode, "NonIndexed") && strcmp(mode, "Indexed"))
			gt_vld_not_supported(v, gt_vld_path(p, "%s.completionMode", path), mode, modes);
		if (!strcmp(mode, "Indexed")) {
			if (!gt_vld_get(spec, "completions"))
				gt_vld_required(v, gt_vld_path(p, "%s.completions", path),
						"when completion mode is Indexed");
			if (gt_vld_int(spec, "parallelism", &n) && n > 100000)
				gt_vld_invalid_int(v, gt_vld_path(p, "%s.parallelism", path), n,
						   "must be less than or equal to 100000 when completion mode is Indexed");
		}
	}
	pod_failure_policy(v, spec, path);
	gt_vld_pod_template(v, tmpl, gt_vld_path(p, "%s.template", path), GT_PS_RESTART_OPTIONAL);
	/* an absent restartPolicy is what Kubernetes defaults to: Always */
	if (!rp || (strcmp(rp, "OnFailure") && strcmp(rp, "Never")))
		gt_vld_not_supported(v, gt_vld_path(p, "%s.template.spec.restartPolicy", path),
				     rp && *rp ? rp : "Always", job_restart);
}

static const char *label(const json_t *labels, const char *key)
{
	return gt_vld_str(labels, key);
}

/* validateGeneratedSelector (create only, unless spec.manualSelector). */
static void generated_selector(struct gt_vld *v, const json_t *obj)
{
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *labels = gt_json_path(spec, "template.metadata.labels");
	const char *uid = json_string_value(gt_json_path(obj, "metadata.uid"));
	const char *name = json_string_value(gt_json_path(obj, "metadata.name"));
	static const char *const keys[] = { "batch.kubernetes.io/controller-uid",
					    "batch.kubernetes.io/job-name" };
	static const char *const legacy[] = { "controller-uid", "job-name" };
	json_t *expected;
	char p[GT_VLD_PATH], d[GT_VLD_MSG];

	if (gt_vld_bool(spec, "manualSelector", false) || !json_is_object(labels))
		return;
	/* the apiserver may assign metadata.uid after validation: then trust the label */
	if (!uid)
		uid = label(labels, keys[0]);
	expected = json_object();
	for (size_t i = 0; i < GT_ARRAY_SIZE(keys); i++) {
		const char *want = i == 0 ? uid : name;
		const char *have = label(labels, keys[i]);

		if (!want)
			continue;
		snprintf(d, sizeof(d), "must be '%s'", want);
		gt_vld_path(p, "spec.template.metadata.labels[%s]", keys[i]);
		if (!have) {
			gt_vld_required(v, p, d);
		} else if (strcmp(have, want)) {
			char *m = gt_vld_gomap(labels);

			gt_vld_invalid(v, p, m, d);
			free(m);
		}
		json_object_set_new(expected, keys[i], json_string(want));
		json_object_set_new(expected, legacy[i], json_string(want));
	}
	if (gt_vld_get(spec, "selector") && gt_vld_selector_matches(gt_vld_get(spec, "selector"), expected) == 0) {
		char *s = gt_vld_goselector(gt_vld_get(spec, "selector"));

		gt_vld_invalid(v, "spec.selector", s, "`selector` not auto-generated");
		free(s);
	}
	json_decref(expected);
}

void gt_vld_job(struct gt_vld *v, const json_t *obj)
{
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *sel = gt_vld_get(spec, "selector");
	const json_t *labels = gt_json_path(spec, "template.metadata.labels");

	if (v->create)
		generated_selector(v, obj);
	job_spec(v, spec, "spec");
	if (!sel)
		gt_vld_required(v, "spec.selector", "");
	else
		gt_vld_selector(v, sel, "spec.selector");
	if (gt_vld_selector_matches(sel, json_is_object(labels) ? labels : NULL) == 0) {
		char *m = gt_vld_gomap(json_is_object(labels) ? labels : NULL);

		gt_vld_invalid(v, "spec.template.metadata.labels", m,
			       "`selector` does not match template `labels`");
		free(m);
	}
}

void gt_vld_job_update(struct gt_vld *v, const json_t *obj, const json_t *old)
{
	const json_t *nspec = gt_vld_get(obj, "spec");
	const json_t *ospec = gt_vld_get(old, "spec");
	const json_t *nsel = gt_vld_get(nspec, "selector");

	gt_vld_immutable(v, gt_vld_get(nspec, "completions"), gt_vld_get(ospec, "completions"),
			 "spec.completions");
	if (!gt_json_equal(nsel, gt_vld_get(ospec, "selector"))) {
		char *s = gt_vld_goselector(nsel);

		gt_vld_invalid(v, "spec.selector", s, "field is immutable");
		free(s);
	}
	/* a suspended Job may still have its template changed */
	if (!gt_vld_bool(ospec, "suspend", false) &&
	    !gt_json_equal(gt_vld_get(nspec, "template"), gt_vld_get(ospec, "template")))
		gt_vld_invalid(v, "spec.template", "core.PodTemplateSpec{...}", "field is immutable");
	gt_vld_immutable(v, gt_vld_get(nspec, "completionMode"), gt_vld_get(ospec, "completionMode"),
			 "spec.completionMode");
}

/* ---- CronJob ---- */

void gt_vld_cronjob(struct gt_vld *v, const json_t *obj)
{
	static const char *const policies[] = { "Allow", "Forbid", "Replace", NULL };
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *jspec = gt_json_path(spec, "jobTemplate.spec");
	const char *name = json_string_value(gt_json_path(obj, "metadata.name"));
	const char *sched = gt_vld_str(spec, "schedule");
	const char *cp = gt_vld_str(spec, "concurrencyPolicy");
	const char *tz = gt_vld_str(spec, "timeZone");
	struct gt_cron cron;
	char err[GT_VLD_MSG];

	if (v->create && name && strlen(name) > 52)
		gt_vld_invalid_str(v, "metadata.name", name, "must be no more than 52 characters");
	if (!sched || !*sched) {
		gt_vld_required(v, "spec.schedule", "");
	} else {
		if (strstr(sched, "TZ"))
			gt_vld_invalid_str(v, "spec.schedule", sched,
					   "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
		else if (gt_cron_parse(sched, &cron, err, sizeof(err)) < 0)
			gt_vld_invalid_str(v, "spec.schedule", sched, err);
	}
	if (tz && !strcasecmp(tz, "Local"))
		gt_vld_invalid_str(v, "spec.timeZone", tz,
				   "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones");
	else if (tz && strcmp(tz, "UTC") && strcmp(tz, "Etc/UTC"))
		gt_vld_invalid_str(v, "spec.timeZone", tz,
				   "only UTC (or Etc/UTC) is supported by this server: write the schedule in UTC");
	gt_vld_nonneg(v, spec, "startingDeadlineSeconds", "spec");
	if (!cp || !*cp)
		gt_vld_required(v, "spec.concurrencyPolicy", "");
	else if (strcmp(cp, "Allow") && strcmp(cp, "Forbid") && strcmp(cp, "Replace"))
		gt_vld_not_supported(v, "spec.concurrencyPolicy", cp, policies);
	job_spec(v, jspec, "spec.jobTemplate.spec");
	if (gt_vld_get(jspec, "selector")) {
		char *s = gt_vld_goselector(gt_vld_get(jspec, "selector"));

		gt_vld_invalid(v, "spec.jobTemplate.spec.selector", s, "`selector` will be auto-generated");
		free(s);
	}
	if (gt_vld_bool(jspec, "manualSelector", false)) {
		static const char *const ok[] = { "nil", "false", NULL };

		gt_vld_not_supported(v, "spec.jobTemplate.spec.manualSelector", "true", ok);
	}
	gt_vld_nonneg(v, spec, "successfulJobsHistoryLimit", "spec");
	gt_vld_nonneg(v, spec, "failedJobsHistoryLimit", "spec");
}

/* ---- Lease, Scale ---- */

void gt_vld_lease(struct gt_vld *v, const json_t *obj)
{
	const json_t *spec = gt_vld_get(obj, "spec");

	gt_vld_positive(v, spec, "leaseDurationSeconds", "spec");
	gt_vld_nonneg(v, spec, "leaseTransitions", "spec");
}

void gt_vld_scale(struct gt_vld *v, const json_t *obj)
{
	gt_vld_nonneg(v, gt_vld_get(obj, "spec"), "replicas", "spec");
}

/* ---- CustomResourceDefinition ---- */

static void dns1035(struct gt_vld *v, const char *path, const char *s, const char *prefix, bool lower)
{
	struct gt_vld_msgs m = { 0 };
	char joined[GT_VLD_MSG * 2], d[GT_VLD_MSG * 2 + 64];
	char *low = xstrdup(s);

	if (lower)
		for (char *p = low; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	gt_vld_is_dns1035_label(low, &m);
	free(low);
	if (!m.n)
		return;
	gt_vld_join(&m, joined, sizeof(joined));
	snprintf(d, sizeof(d), "%s%s", prefix, joined);
	gt_vld_invalid_str(v, path, s, d);
}

static void crd_names(struct gt_vld *v, const json_t *names)
{
	static const char *const req[] = { "plural", "singular", "kind", "listKind", NULL };
	const char *kind = gt_vld_str(names, "kind");
	const char *list = gt_vld_str(names, "listKind");
	char p[GT_VLD_PATH];
	const char *s;

	for (size_t i = 0; req[i]; i++)
		if (!gt_vld_has_str(names, req[i]))
			gt_vld_required(v, gt_vld_path(p, "spec.names.%s", req[i]), "");
	if ((s = gt_vld_str(names, "plural")) && *s)
		dns1035(v, "spec.names.plural", s, "", false);
	if ((s = gt_vld_str(names, "singular")) && *s)
		dns1035(v, "spec.names.singular", s, "", false);
	if (kind && *kind)
		dns1035(v, "spec.names.kind", kind, "may have mixed case, but should otherwise match: ", true);
	if (list && *list)
		dns1035(v, "spec.names.listKind", list, "may have mixed case, but should otherwise match: ", true);
	for (size_t i = 0; i < gt_vld_len(gt_vld_get(names, "shortNames")); i++)
		if ((s = json_string_value(json_array_get(gt_vld_get(names, "shortNames"), i))))
			dns1035(v, gt_vld_path(p, "spec.names.shortNames[%zu]", i), s, "", false);
	if (kind && *kind && list && !strcmp(kind, list))
		gt_vld_invalid_str(v, "spec.names.listKind", list, "kind and listKind may not be the same");
	for (size_t i = 0; i < gt_vld_len(gt_vld_get(names, "categories")); i++)
		if ((s = json_string_value(json_array_get(gt_vld_get(names, "categories"), i))))
			dns1035(v, gt_vld_path(p, "spec.names.categories[%zu]", i), s, "", false);
}

static void crd_columns(struct gt_vld *v, const json_t *cols, const char *base)
{
	static const char *const types[] = { "boolean", "date", "integer", "number", "string", NULL };
	char p[GT_VLD_PATH];

	for (size_t i = 0; i < gt_vld_len(cols); i++) {
		const json_t *c = json_array_get(cols, i);
		const char *type = gt_vld_str(c, "type");
		bool ok = false;

		if (!gt_vld_has_str(c, "name"))
			gt_vld_required(v, gt_vld_path(p, "%s[%zu].name", base, i), "");
		for (size_t j = 0; type && types[j]; j++)
			ok |= !strcmp(type, types[j]);
		if (!ok)
			gt_vld_not_supported(v, gt_vld_path(p, "%s[%zu].type", base, i), type ? type : "", types);
		if (!gt_vld_has_str(c, "jsonPath"))
			gt_vld_required(v, gt_vld_path(p, "%s[%zu].jsonPath", base, i), "");
		gt_vld_nonneg(v, c, "priority", gt_vld_path(p, "%s[%zu]", base, i));
	}
}

void gt_vld_crd(struct gt_vld *v, const json_t *obj)
{
	static const char *const scopes[] = { "Cluster", "Namespaced", NULL };
	const json_t *spec = gt_vld_get(obj, "spec");
	const char *name = json_string_value(gt_json_path(obj, "metadata.name"));
	const char *group = gt_vld_str(spec, "group");
	const char *plural = json_string_value(gt_json_path(spec, "names.plural"));
	const char *scope = gt_vld_str(spec, "scope");
	const json_t *versions = gt_vld_get(spec, "versions");
	json_t *seen = json_object();
	int storage = 0;
	bool unique = true;
	char p[GT_VLD_PATH];

	if (name && *name) {
		char *want = xasprintf("%s.%s", plural ? plural : "", group ? group : "");

		if (strcmp(name, want))
			gt_vld_invalid_str(v, "metadata.name", name, "must be spec.names.plural+\".\"+spec.group");
		free(want);
	}
	if (!group || !*group) {
		gt_vld_required(v, "spec.group", "");
	} else {
		struct gt_vld_msgs m = { 0 };
		char joined[GT_VLD_MSG * 2];

		gt_vld_is_dns1123_subdomain(group, &m);
		if (m.n) {
			gt_vld_join(&m, joined, sizeof(joined));
			gt_vld_invalid_str(v, "spec.group", group, joined);
		} else if (!strchr(group, '.')) {
			gt_vld_invalid_str(v, "spec.group", group, "should be a domain with at least one dot");
		}
	}
	if (!scope || !*scope)
		gt_vld_required(v, "spec.scope", "");
	else if (strcmp(scope, "Cluster") && strcmp(scope, "Namespaced"))
		gt_vld_not_supported(v, "spec.scope", scope, scopes);
	if (!gt_vld_len(versions))
		gt_vld_required(v, "spec.versions", "must have at least one version");
	for (size_t i = 0; i < gt_vld_len(versions); i++) {
		const json_t *ver = json_array_get(versions, i);
		const char *vn = gt_vld_str(ver, "name");

		if (gt_vld_bool(ver, "storage", false))
			storage++;
		if (json_object_get(seen, vn ? vn : ""))
			unique = false;
		json_object_set_new(seen, vn ? vn : "", json_true());
		dns1035(v, gt_vld_path(p, "spec.versions[%zu].name", i), vn ? vn : "", "", false);
		crd_columns(v, gt_vld_get(ver, "additionalPrinterColumns"),
			    gt_vld_path(p, "spec.versions[%zu].additionalPrinterColumns", i));
	}
	json_decref(seen);
	if (!unique)
		gt_vld_invalid(v, "spec.versions", "[]apiextensions.CustomResourceDefinitionVersion{...}",
			       "must contain unique version names");
	if (storage != 1)
		gt_vld_invalid(v, "spec.versions", "[]apiextensions.CustomResourceDefinitionVersion{...}",
			       "must have exactly one version marked as storage version");
	crd_names(v, gt_vld_get(spec, "names"));
}

void gt_vld_crd_update(struct gt_vld *v, const json_t *obj, const json_t *old)
{
	gt_vld_immutable(v, gt_json_path(obj, "spec.group"), gt_json_path(old, "spec.group"), "spec.group");
	gt_vld_immutable(v, gt_json_path(obj, "spec.scope"), gt_json_path(old, "spec.scope"), "spec.scope");
}
