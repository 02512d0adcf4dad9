/*
 * job_pods.c - the Job controller's pods (see job_int.h): made from the
 * Job's template as Kubernetes makes them (owner reference, the
 * job-tracking finalizer, and for Indexed Jobs the completion index as an
 * annotation, a label, JOB_COMPLETION_INDEX and the hostname), read back
 * (phase, index, readiness), matched against podFailurePolicy rules, and
 * the completedIndexes interval notation ("0-2,4").
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "controllers/job_int.h"

static const struct gt_resource *pods_res(void)
{
	return gt_registry_find("", "v1", "pods");
}

static bool cond_true(const json_t *obj, const char *type)
{
	const json_t *c;
	size_t i;

	json_array_foreach(gt_json_path(obj, "status.conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", type))
			return !strcmp(gt_json_str(c, "status") ?: "", "True");
	return false;
}

static int64_t parse_index(const json_t *pod)
{
	const char *s = json_string_value(json_object_get(gt_json_path(pod, "metadata.annotations"),
							  GT_JOB_INDEX));
	int64_t v;

	if (!s || gt_parse_i64(s, &v) < 0 || v < 0)
		return -1;
	return v;
}

void gt_jpod_init(struct gt_jpod *p, const json_t *pod)
{
	const char *ph = gt_json_str(pod, "status.phase") ?: "";

	memset(p, 0, sizeof(*p));
	p->obj = pod;
	p->uid = gt_json_str(pod, "metadata.uid") ?: "";
	p->name = gt_json_str(pod, "metadata.name") ?: "";
	p->index = parse_index(pod);
	p->fin = gt_has_finalizer(pod, GT_JOB_TRACKING);
	p->succeeded = !strcmp(ph, "Succeeded");
	p->terminal = p->succeeded || !strcmp(ph, "Failed");
	p->deleting = gt_json_path(pod, "metadata.deletionTimestamp") != NULL;
	p->active = !p->terminal && !p->deleting;
	p->ready = p->active && cond_true(pod, "Ready");
}

bool gt_jpod_done(const struct gt_jpod *p, time_t now)
{
	time_t at;

	if (p->terminal)
		return true;
	if (!p->deleting)
		return false;
	if (!gt_json_str(p->obj, "spec.nodeName"))
		return true;
	return gt_time_parse(gt_json_str(p->obj, "metadata.deletionTimestamp"), &at) < 0 || now > at;
}

static json_t *owner_ref(const json_t *job)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", "batch/v1", "kind", "Job", "name",
			 gt_json_str(job, "metadata.name") ?: "", "uid",
			 gt_json_str(job, "metadata.uid") ?: "", "controller", 1, "blockOwnerDeletion", 1);
}

/* The index as env, annotation, label and hostname, as Kubernetes adds them. */
static void add_index(json_t *pod, const char *job, int64_t index)
{
	static const char *const lists[] = { "containers", "initContainers" };
	json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec"), *c;
	char ix[24], host[64];
	size_t i, n;

	snprintf(ix, sizeof(ix), "%lld", (long long)index);
	json_object_set_new(gt_json_ensure_obj(meta, "annotations"), GT_JOB_INDEX, json_string(ix));
	json_object_set_new(gt_json_ensure_obj(meta, "labels"), GT_JOB_INDEX, json_string(ix));
	n = (size_t)snprintf(host, sizeof(host), "%s-%s", job, ix);
	if (n > 63)
		n = 63;
	while (n && (host[n - 1] == '-' || host[n - 1] == '.'))
		n--;
	host[n] = '\0';
	if (!json_object_get(spec, "hostname"))
		json_object_set_new(spec, "hostname", json_string(host));
	for (size_t l = 0; l < GT_ARRAY_SIZE(lists); l++) {
		json_array_foreach(json_object_get(spec, lists[l]), i, c) {
			json_t *env = json_object_get(c, "env");

			if (!json_is_array(env)) {
				env = json_array();
				json_object_set_new(c, "env", env);
			}
			json_array_append_new(env, json_pack("{s:s,s:{s:{s:s,s:s}}}", "name",
							     "JOB_COMPLETION_INDEX", "valueFrom", "fieldRef",
							     "apiVersion", "v1", "fieldPath",
							     "metadata.annotations['" GT_JOB_INDEX "']"));
		}
	}
}

int gt_job_create_pod(struct gt_api *api, const json_t *job, int64_t index)
{
	const char *ns = gt_json_str(job, "metadata.namespace"), *name = gt_json_str(job, "metadata.name") ?: "job";
	const json_t *tpl = gt_json_path(job, "spec.template");
	json_t *pod = json_pack("{s:s,s:s,s:o*,s:o*}", "apiVersion", "v1", "kind", "Pod", "metadata",
				json_deep_copy(json_object_get(tpl, "metadata")), "spec",
				json_deep_copy(json_object_get(tpl, "spec")));
	json_t *meta;
	struct gt_obj *out = NULL;
	struct gt_err err;
	char gen[300];
	int rc;

	if (!json_is_object(json_object_get(pod, "metadata")))
		json_object_set_new(pod, "metadata", json_object());
	if (!json_is_object(json_object_get(pod, "spec")))
		json_object_set_new(pod, "spec", json_object());
	meta = json_object_get(pod, "metadata");
	json_object_del(meta, "name");
	json_object_del(meta, "namespace");
	json_object_del(meta, "creationTimestamp");
	if (index >= 0) {
		snprintf(gen, sizeof(gen), "%.200s-%lld-", name, (long long)index);
		add_index(pod, name, index);
	} else {
		snprintf(gen, sizeof(gen), "%.200s-", name);
	}
	json_object_set_new(meta, "generateName", json_string(gen));
	json_object_set_new(meta, "ownerReferences", json_pack("[o]", owner_ref(job)));
	json_object_set_new(meta, "finalizers", json_pack("[s]", GT_JOB_TRACKING));
	gt_err_clear(&err);
	rc = gt_api_create(api, pods_res(), ns, pod, NULL, &out, &err);
	if (rc < 0)
		gt_warn("job %s/%s: cannot create a pod: %s", ns, name, err.msg);
	gt_obj_unref(out);
	return rc;
}

void gt_job_delete_pod(struct gt_api *api, const json_t *pod)
{
	struct gt_obj *out = NULL;
	bool gone;

	gt_api_delete(api, pods_res(), gt_json_str(pod, "metadata.namespace") ?: "",
		      gt_json_str(pod, "metadata.name") ?: "", NULL, &out, &gone, NULL);
	gt_obj_unref(out);
}

int gt_job_drop_finalizer(struct gt_api *api, const json_t *pod)
{
	struct gt_obj *out = NULL;
	int rc = gt_api_modify(api, pods_res(), gt_json_str(pod, "metadata.namespace") ?: "",
			       gt_json_str(pod, "metadata.name") ?: "", GT_PART_MAIN, gt_drop_finalizer,
			       (void *)GT_JOB_TRACKING, NULL, &out, NULL);

	gt_obj_unref(out);
	return rc == -ENOENT ? 0 : rc;
}

/* ---- podFailurePolicy ---- */

static bool in_values(const json_t *vals, int64_t code)
{
	const json_t *v;
	size_t i;

	json_array_foreach(vals, i, v)
		if (json_integer_value(v) == code)
			return true;
	return false;
}

/* The first container (init containers first) whose non-zero exit code matches. */
static const json_t *exit_match(const json_t *pod, const json_t *rule)
{
	static const char *const lists[] = { "status.initContainerStatuses", "status.containerStatuses" };
	const char *cn = gt_json_str(rule, "containerName"), *op = gt_json_str(rule, "operator") ?: "";
	const json_t *vals = json_object_get(rule, "values"), *s;
	size_t i;

	for (size_t l = 0; l < GT_ARRAY_SIZE(lists); l++) {
		json_array_foreach(gt_json_path(pod, lists[l]), i, s) {
			int64_t code;

			if (gt_json_int(s, "state.terminated.exitCode", &code) < 0 || code == 0)
				continue;
			if (cn && strcmp(cn, gt_json_str(s, "name") ?: ""))
				continue;
			if (!strcmp(op, "In") ? in_values(vals, code) : !in_values(vals, code))
				return s;
		}
	}
	return NULL;
}

static bool conditions_match(const json_t *pod, const json_t *pcs)
{
	const json_t *want, *c;
	size_t i, j;

	json_array_foreach(pcs, i, want) {
		json_array_foreach(gt_json_path(pod, "status.conditions"), j, c)
			if (!strcmp(gt_json_str(c, "type") ?: "", gt_json_str(want, "type") ?: "-") &&
			    !strcmp(gt_json_str(c, "status") ?: "", gt_json_str(want, "status") ?: "True"))
				return true;
	}
	return false;
}

const char *gt_job_failure_action(const json_t *job, const json_t *pod, char *msg, size_t n)
{
	const json_t *r;
	size_t i;

	json_array_foreach(gt_json_path(job, "spec.podFailurePolicy.rules"), i, r) {
		const json_t *ec = json_object_get(r, "onExitCodes"), *s;
		const char *act = gt_json_str(r, "action") ?: "Count";

		if (json_is_object(ec) && (s = exit_match(pod, ec))) {
			int64_t code = 0;

			gt_json_int(s, "state.terminated.exitCode", &code);
			snprintf(msg, n, "Container %s for pod %s/%s failed with exit code %lld matching %s rule at index %zu",
				 gt_json_str(s, "name") ?: "", gt_json_str(pod, "metadata.namespace") ?: "",
				 gt_json_str(pod, "metadata.name") ?: "", (long long)code, act, i);
			return act;
		}
		if (json_array_size(json_object_get(r, "onPodConditions")) &&
		    conditions_match(pod, json_object_get(r, "onPodConditions"))) {
			snprintf(msg, n, "Pod %s/%s has condition %s matching %s rule at index %zu",
				 gt_json_str(pod, "metadata.namespace") ?: "", gt_json_str(pod, "metadata.name") ?: "",
				 gt_json_str(json_array_get(json_object_get(r, "onPodConditions"), 0), "type") ?: "",
				 act, i);
			return act;
		}
	}
	return NULL;
}

/* ---- completedIndexes ---- */

void gt_job_indexes_parse(const char *s, unsigned char *set, int64_t n)
{
	while (s && *s) {
		char *end;
		long long a = strtoll(s, &end, 10), b = a;

		if (end == s)
			return;
		s = end;
		if (*s == '-') {
			b = strtoll(s + 1, &end, 10);
			if (end == s + 1)
				return;
			s = end;
		}
		for (long long i = a < 0 ? 0 : a; i <= b && i < n; i++)
			set[i] = 1;
		if (*s == ',')
			s++;
		else if (*s)
			return;
	}
}

char *gt_job_indexes_format(const unsigned char *set, int64_t n)
{
	struct gt_buf b;

	gt_buf_init(&b);
	for (int64_t i = 0; i < n; i++) {
		int64_t j = i;

		if (!set[i])
			continue;
		while (j + 1 < n && set[j + 1])
			j++;
		if (j == i)
			gt_buf_addf(&b, "%s%lld", b.len ? "," : "", (long long)i);
		else
			gt_buf_addf(&b, "%s%lld-%lld", b.len ? "," : "", (long long)i, (long long)j);
		i = j;
	}
	return gt_buf_detach(&b, NULL);
}
