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

#include "api/validate_int.h"

/* ---- Job ---- */

static const char *const job_restart[] = { "OnFailure", "Never", NULL };

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

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
				      "sep", "oct", "nov", "dec", NULL };
static const char *const dows[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

/* robfig/cron parseIntOrName / mustParseInt */
static int cron_int(const char *s, const char *const *names, int base, int *out, char *err, size_t n)
{
	char *end;
	long x;

	for (size_t i = 0; names && names[i]; i++) {
		if (!strcasecmp(s, names[i])) {
			*out = (int)i + base;
			return 0;
		}
	}
	x = strtol(s, &end, 10);
	if (!*s || *end || (!isdigit((unsigned char)s[0]) && s[0] != '-' && s[0] != '+')) {
		snprintf(err, n, "failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax", s, s);
		return -1;
	}
	if (x < 0) {
		snprintf(err, n, "negative number (%ld) not allowed: %s", x, s);
		return -1;
	}
	*out = x > 100000 ? 100000 : (int)x;
	return 0;
}

static int cron_range(const char *expr, int lo, int hi, const char *const *names, int base,
		      char *err, size_t n)
{
	char buf[128];
	char *slash, *dash;
	int start, end, step = 1;

	snprintf(buf, sizeof(buf), "%s", expr);
	slash = strchr(buf, '/');
	if (slash) {
		*slash++ = '\0';
		if (strchr(slash, '/')) {
			snprintf(err, n, "too many slashes: %s", expr);
			return -1;
		}
	}
	dash = strchr(buf, '-');
	if (!strcmp(buf, "*") || !strcmp(buf, "?")) {
		start = lo;
		end = hi;
	} else {
		if (dash) {
			*dash++ = '\0';
			if (strchr(dash, '-')) {
				snprintf(err, n, "too many hyphens: %s", expr);
				return -1;
			}
		}
		if (cron_int(buf, names, base, &start, err, n) < 0)
			return -1;
		end = start;
		if (dash && cron_int(dash, names, base, &end, err, n) < 0)
			return -1;
	}
	if (slash) {
		if (cron_int(slash, NULL, 0, &step, err, n) < 0)
			return -1;
		if (!dash && strcmp(buf, "*") && strcmp(buf, "?"))
			end = hi;
	}
	if (start < lo)
		snprintf(err, n, "beginning of range (%d) below minimum (%d): %s", start, lo, expr);
	else if (end > hi)
		snprintf(err, n, "end of range (%d) above maximum (%d): %s", end, hi, expr);
	else if (start > end)
		snprintf(err, n, "beginning of range (%d) beyond end of range (%d): %s", start, end, expr);
	else if (step == 0)
		snprintf(err, n, "step of range should be a positive number: %s", expr);
	else
		return 0;
	return -1;
}

/* cron.ParseStandard: 0 or -1 with err set. */
static int cron_parse(const char *spec, char *err, size_t n)
{
	static const struct { int lo, hi, base; const char *const *names; } f[] = {
		{ 0, 59, 0, NULL }, { 0, 23, 0, NULL }, { 1, 31, 0, NULL }, { 1, 12, 1, months },
		{ 0, 6, 0, dows },
	};
	static const char *const desc[] = { "@yearly", "@annually", "@monthly", "@weekly", "@daily",
					    "@midnight", "@hourly", NULL };
	char *copy, *save = NULL, *tok, *fields[8];
	int nf = 0, rc = 0;

	while (isspace((unsigned char)*spec))
		spec++;
	if (!*spec) {
		snprintf(err, n, "empty spec string");
		return -1;
	}
	if (*spec == '@') {
		for (size_t i = 0; desc[i]; i++)
			if (!strcmp(spec, desc[i]))
				return 0;
		if (!strncmp(spec, "@every ", 7))
			return 0;
		snprintf(err, n, "unrecognized descriptor: %s", spec);
		return -1;
	}
	copy = xstrdup(spec);
	for (tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
		if (nf < (int)GT_ARRAY_SIZE(fields))
			fields[nf++] = tok;
		else
			nf++;
	if (nf != 5) {
		snprintf(err, n, "expected exactly 5 fields, found %d: [%s]", nf, spec);
		free(copy);
		return -1;
	}
	for (int i = 0; i < 5 && !rc; i++) {
		char *part, *psave = NULL;

		for (part = strtok_r(fields[i], ",", &psave); part && !rc; part = strtok_r(NULL, ",", &psave))
			rc = cron_range(part, f[i].lo, f[i].hi, f[i].names, f[i].base, err, n);
	}
	free(copy);
	return rc;
}

void gt_vld_cronjob(struct gt_vld *v, const json_t *obj)
{
	static const char *const policies[] = { "Allow", "Forbid", "Replace", NULL };
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *jspec = gt_json_path(spec, "jobTemplate.spec");
	const char *name = json_string_value(gt_json_path(obj, "metadata.name"));
	const char *sched = gt_vld_str(spec, "schedule");
	const char *cp = gt_vld_str(spec, "concurrencyPolicy");
	const char *tz = gt_vld_str(spec, "timeZone");
	char err[GT_VLD_MSG];

	if (v->create && name && strlen(name) > 52)
		gt_vld_invalid_str(v, "metadata.name", name, "must be no more than 52 characters");
	if (!sched || !*sched) {
		gt_vld_required(v, "spec.schedule", "");
	} else {
		if (strstr(sched, "TZ"))
			gt_vld_invalid_str(v, "spec.schedule", sched,
					   "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
		else if (cron_parse(sched, err, sizeof(err)) < 0)
			gt_vld_invalid_str(v, "spec.schedule", sched, err);
	}
	if (tz && !strcasecmp(tz, "Local"))
		gt_vld_invalid_str(v, "spec.timeZone", tz,
				   "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones");
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
