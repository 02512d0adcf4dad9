/*
 * trainjob.c - the training-job engine (see trainjob.h and, for the
 * behaviour, pytorchjob.c).  One pass per job: owned objects first
 * (checkpoint claim, PodGroup, a Service per replica), then the pods of the
 * current epoch, then what they say (failure -> restart or fail; success;
 * running), then status.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "controllers/trainjob.h"

static void lower(const char *s, char *out, size_t n)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

json_t *gt_tj_owner(const struct gt_tj_job *j)
{
	char av[160];

	snprintf(av, sizeof(av), "%s/%s", j->k->group, j->k->version);
	return json_pack("[{s:s,s:s,s:s,s:s,s:b,s:b}]", "apiVersion", av, "kind", j->k->kind, "name",
			 j->name, "uid", j->uid, "controller", 1, "blockOwnerDeletion", 1);
}

static const struct gt_resource *res(const char *g, const char *v, const char *p)
{
	return gt_registry_find(g, v, p);
}

bool gt_tj_exists(struct gt_tj_job *j, const struct gt_resource *r, const char *name)
{
	struct gt_obj *o = NULL;
	bool ok = r && gt_api_get(j->api, r, j->ns, name, &o, NULL) == 0;

	gt_obj_unref(o);
	return ok;
}

void gt_tj_create(struct gt_tj_job *j, const struct gt_resource *r, json_t *obj)
{
	struct gt_obj *out = NULL;
	struct gt_err err;

	gt_err_clear(&err);
	if (r && gt_api_create(j->api, r, j->ns, obj, NULL, &out, &err) < 0 && err.code != -EEXIST)
		gt_warn("%s %s/%s: cannot create %s %s: %s", j->k->kind, j->ns, j->name, r->kind,
			gt_json_str(obj, "metadata.name") ?: "", err.msg);
	if (!r)
		json_decref(obj);
	gt_obj_unref(out);
}

static void delete_pod(struct gt_tj_job *j, const char *name, int64_t grace)
{
	struct gt_delete_opts o = { .grace = grace };
	struct gt_obj *out = NULL;
	bool gone;

	gt_api_delete(j->api, res("", "v1", "pods"), j->ns, name, &o, &out, &gone, NULL);
	gt_obj_unref(out);
}

const json_t *gt_tj_pod(const struct gt_tj_job *j, const struct gt_objlist *pods, const char *name)
{
	char ep[24];

	snprintf(ep, sizeof(ep), "%lld", (long long)j->epoch);
	for (size_t p = 0; p < pods->n; p++) {
		const json_t *o = pods->items[p]->obj;

		if (!strcmp(gt_json_str(o, "metadata.namespace") ?: "", j->ns) &&
		    !strcmp(gt_json_str(o, "metadata.name") ?: "", name) &&
		    !strcmp(gt_controller_uid(o) ?: "", j->uid) &&
		    !gt_json_path(o, "metadata.deletionTimestamp") &&
		    !strcmp(json_string_value(json_object_get(gt_json_path(o, "metadata.labels"),
							      GT_TJ_EPOCH_LABEL)) ?: "", ep))
			return o;
	}
	return NULL;
}

/* ---- owned objects ---- */

static void ensure_claim(struct gt_tj_job *j)
{
	const json_t *ann = gt_json_path(j->obj, "metadata.annotations");
	const char *named = json_string_value(json_object_get(ann, GT_TJ_CKPT_CLAIM));
	const char *size = json_string_value(json_object_get(ann, GT_TJ_CKPT_SIZE)) ?: "1Gi";
	const struct gt_resource *r = res("", "v1", "persistentvolumeclaims");

	j->claim[0] = '\0';
	if (named && !strcmp(named, "none"))
		return;
	if (named) {
		snprintf(j->claim, sizeof(j->claim), "%s", named);
		return;
	}
	snprintf(j->claim, sizeof(j->claim), "%s-checkpoint", j->name);
	if (gt_tj_exists(j, r, j->claim))
		return;
	gt_tj_create(j, r, json_pack("{s:s,s:s,s:{s:s,s:o},s:{s:[s],s:{s:{s:s}}}}", "apiVersion", "v1",
			       "kind", "PersistentVolumeClaim", "metadata", "name", j->claim,
			       "ownerReferences", gt_tj_owner(j), "spec", "accessModes", "ReadWriteOnce",
			       "resources", "requests", "storage", size));
}

static int64_t total_replicas(const struct gt_tj_job *j)
{
	int64_t n = 0;

	for (size_t t = 0; t < j->k->ntypes; t++)
		n += j->k->replicas_of(j->obj, j->k->types[t]);
	return n;
}

static void ensure_podgroup(struct gt_tj_job *j)
{
	const struct gt_resource *r = res(GT_PODGROUP_GROUP, GT_PODGROUP_VERSION, "podgroups");
	json_t *pg;
	int64_t timeout;

	if (!r || gt_tj_exists(j, r, j->name))
		return;
	pg = json_pack("{s:s,s:s,s:{s:s,s:o},s:{s:I}}", "apiVersion",
		       GT_PODGROUP_GROUP "/" GT_PODGROUP_VERSION, "kind", "PodGroup", "metadata",
		       "name", j->name, "ownerReferences", gt_tj_owner(j), "spec", "minMember",
		       (json_int_t)(j->k->gang_size ? j->k->gang_size(j->obj) : total_replicas(j)));
	if (gt_json_int(j->obj, "spec.runPolicy.schedulingPolicy.scheduleTimeoutSeconds", &timeout) == 0)
		gt_json_set(pg, "spec.scheduleTimeoutSeconds", json_integer(timeout));
	gt_tj_create(j, r, pg);
}

static void replica_name(const struct gt_tj_job *j, const char *type, int64_t i, char *out, size_t n)
{
	char lt[32];

	if (j->k->pod_name) {
		j->k->pod_name(j, type, i, out, n);
		return;
	}
	lower(type, lt, sizeof(lt));
	snprintf(out, n, "%s-%s-%lld", j->name, lt, (long long)i);
}

static json_t *selector(const struct gt_tj_job *j, const char *type, int64_t i)
{
	char lt[32], idx[24];

	lower(type, lt, sizeof(lt));
	snprintf(idx, sizeof(idx), "%lld", (long long)i);
	return json_pack("{s:s,s:s,s:s,s:s}", GT_TJ_JOB_LABEL, j->name, GT_TJ_OPERATOR_LABEL,
			 j->k->operator, GT_TJ_TYPE_LABEL, lt, GT_TJ_INDEX_LABEL, idx);
}

static void ensure_service(struct gt_tj_job *j, const char *type, int64_t i)
{
	const struct gt_resource *r = res("", "v1", "services");
	int64_t port = j->k->port_of(j->obj, type);
	char name[300];

	replica_name(j, type, i, name, sizeof(name));
	if (gt_tj_exists(j, r, name))
		return;
	gt_tj_create(j, r, json_pack("{s:s,s:s,s:{s:s,s:o,s:o},s:{s:s,s:b,s:o,s:[{s:s,s:I,s:I}]}}",
			       "apiVersion", "v1", "kind", "Service", "metadata", "name", name,
			       "labels", selector(j, type, i), "ownerReferences", gt_tj_owner(j), "spec",
			       "clusterIP", "None", "publishNotReadyAddresses", 1, "selector",
			       selector(j, type, i), "ports", "name", j->k->port_name, "port",
			       (json_int_t)port, "targetPort", (json_int_t)port));
}

/* ---- pods ---- */

static void create_pod(struct gt_tj_job *j, const char *type, int64_t i)
{
	const json_t *tpl = gt_json_path(json_object_get(gt_json_path(j->obj, "spec"), j->k->specs),
					 type);
	json_t *pod, *meta, *spec, *labels, *c, *sel;
	char name[300], lt[32], epoch[24];
	size_t k;

	tpl = gt_json_path(tpl, "template");
	pod = json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
			json_deep_copy(json_object_get(tpl, "metadata")) ?: json_object(), "spec",
			json_deep_copy(json_object_get(tpl, "spec")) ?: json_object());
	meta = json_object_get(pod, "metadata");
	spec = json_object_get(pod, "spec");
	replica_name(j, type, i, name, sizeof(name));
	lower(type, lt, sizeof(lt));
	snprintf(epoch, sizeof(epoch), "%lld", (long long)j->epoch);
	json_object_set_new(meta, "name", json_string(name));
	json_object_del(meta, "namespace");
	json_object_set_new(meta, "ownerReferences", gt_tj_owner(j));
	labels = json_object_get(meta, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(meta, "labels", labels);
	}
	sel = selector(j, type, i);
	json_object_update(labels, sel);
	json_decref(sel);
	if (!strcmp(type, j->k->types[0]))
		json_object_set_new(labels, GT_TJ_ROLE_LABEL, json_string(lt));
	json_object_set_new(labels, GT_TJ_GANG_LABEL, json_string(j->name));
	json_object_set_new(labels, GT_TJ_EPOCH_LABEL, json_string(epoch));
	/* the controller restarts, as a gang */
	json_object_set_new(spec, "restartPolicy", json_string("Never"));
	if (j->claim[0]) {
		json_t *vols = json_object_get(spec, "volumes");

		if (!json_is_array(vols)) {
			vols = json_array();
			json_object_set_new(spec, "volumes", vols);
		}
		json_array_append_new(vols, json_pack("{s:s,s:{s:s}}", "name", "gantry-checkpoint",
						      "persistentVolumeClaim", "claimName", j->claim));
	}
	json_array_foreach(json_object_get(spec, "containers"), k, c) {
		json_t *env = json_object_get(c, "env");

		if (!json_is_array(env)) {
			env = json_array();
			json_object_set_new(c, "env", env);
		}
		j->k->env(j->obj, type, i, env);
		json_array_append_new(env, json_pack("{s:s,s:s}", "name", "GANTRY_RESTART_EPOCH",
						     "value", epoch));
		if (j->claim[0]) {
			json_t *mounts = json_object_get(c, "volumeMounts");

			json_array_append_new(env, json_pack("{s:s,s:s}", "name",
							     "GANTRY_CHECKPOINT_DIR", "value",
							     GT_TJ_CKPT_PATH));
			if (!json_is_array(mounts)) {
				mounts = json_array();
				json_object_set_new(c, "volumeMounts", mounts);
			}
			json_array_append_new(mounts, json_pack("{s:s,s:s}", "name", "gantry-checkpoint",
								"mountPath", GT_TJ_CKPT_PATH));
		}
	}
	if (j->k->pod)
		j->k->pod(j, type, i, pod);
	gt_tj_create(j, res("", "v1", "pods"), pod);
}

/* The kind's main container, or (none named) the pod's first one. */
static const char *main_container(const struct gt_tj_job *j, const json_t *pod)
{
	if (j->k->container)
		return j->k->container;
	return gt_json_str(json_array_get(gt_json_path(pod, "spec.containers"), 0), "name") ?: "";
}

/* The exit code of the failed main container (or any failed one), -1 if
 * none; *at: when it ended (0 if unknown). */
static int64_t exit_code(const struct gt_tj_job *j, const json_t *pod, time_t *at)
{
	const json_t *cs;
	int64_t code = -1, c;
	size_t i;

	*at = 0;
	json_array_foreach(gt_json_path(pod, "status.containerStatuses"), i, cs) {
		if (gt_json_int(cs, "state.terminated.exitCode", &c) < 0 || !c)
			continue;
		if (code < 0 || !strcmp(gt_json_str(cs, "name") ?: "", main_container(j, pod))) {
			code = c;
			if (gt_time_parse(gt_json_str(cs, "state.terminated.finishedAt"), at) < 0)
				*at = 0;
		}
	}
	return code;
}

/*
 * Is this failure the gang's cause rather than the one recorded?  The rank
 * that failed first; at the same second, a signal or a lost pod (a rank
 * killed) over an exit code (its peers then fail their collectives).
 */
static bool first_cause(int64_t code, time_t at, int64_t was_code, time_t was_at)
{
	bool sig = code < 0 || code >= 128, was_sig = was_code < 0 || was_code >= 128;

	if (at && was_at && at != was_at)
		return at < was_at;
	return sig && !was_sig;
}

/* How long an exit code waits for the other ranks' reports (seconds). */
#define SETTLE_S 2

/* Does this failure restart the gang (else the job fails)? */
static bool retryable(const struct gt_tj_job *j, const char *type, int64_t code)
{
	const char *rp = gt_json_str(json_object_get(gt_json_path(j->obj, "spec"), j->k->specs) ?
				     json_object_get(json_object_get(gt_json_path(j->obj, "spec"),
								     j->k->specs), type) : NULL,
				     "restartPolicy") ?: "OnFailure";

	if (!strcmp(rp, "Never"))
		return false;
	if (!strcmp(rp, "ExitCode"))
		return code < 0 || code >= 128; /* 1-127: the program's own verdict */
	return true;
}

struct tally {
	struct gt_tj_counts c[4];
	int64_t pods, old, failed_code;
	time_t failed_at;
	const char *failed_type;
	bool permanent;
	char lost[400];  /* a running gang's rank that is gone, and why ("" none) */
	const char *fine[16];  /* nodes already found Ready in this pass */
	size_t nfine;
};

/* Why a rank on node is lost ("" when the node is fine): its node is gone,
 * or not Ready (Unknown: no heartbeat for the grace period).  A gang cannot
 * wait out the eviction timeout (tolerationSeconds, 300 s by default) with
 * its other ranks stuck in a collective. */
static void node_trouble(struct gt_api *api, struct tally *t, const char *node, char *why,
			 size_t n)
{
	struct gt_obj *o = NULL;
	const json_t *c;
	size_t i;

	why[0] = '\0';
	/* the ranks share few nodes: each is read once per pass */
	for (i = 0; i < t->nfine; i++)
		if (!strcmp(t->fine[i], node))
			return;
	if (gt_api_get(api, res("", "v1", "nodes"), "", node, &o, NULL) < 0) {
		snprintf(why, n, "its node %s is gone", node);
		return;
	}
	json_array_foreach(gt_json_path(o->obj, "status.conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", "Ready") &&
		    strcmp(gt_json_str(c, "status") ?: "", "True"))
			snprintf(why, n, "its node %s is %s", node,
				 !strcmp(gt_json_str(c, "status") ?: "", "False") ? "NotReady" : "Unknown");
	gt_obj_unref(o);
	if (!why[0] && t->nfine < GT_ARRAY_SIZE(t->fine))
		t->fine[t->nfine++] = node; /* the pod's string: lives through the pass */
}

static void sync_pods(struct gt_tj_job *j, const struct gt_objlist *pods, struct tally *t)
{
	for (size_t ti = 0; ti < j->k->ntypes && ti < 4; ti++) {
		const char *type = j->k->types[ti];
		int64_t n = j->k->replicas_of(j->obj, type);

		for (int64_t i = 0; i < n; i++) {
			const json_t *pod = NULL;
			char name[300];
			int64_t ep = -1;

			replica_name(j, type, i, name, sizeof(name));
			if (!j->k->no_replica_services)
				ensure_service(j, type, i);
			for (size_t p = 0; p < pods->n; p++) {
				const json_t *o = pods->items[p]->obj;

				if (!strcmp(gt_json_str(o, "metadata.namespace") ?: "", j->ns) &&
				    !strcmp(gt_json_str(o, "metadata.name") ?: "", name) &&
				    !strcmp(gt_controller_uid(o) ?: "", j->uid))
					pod = o;
			}
			if (!pod && gt_tj_has(j->status, "Running")) {
				/* the gang ran whole in this epoch: a rank deleted
				 * (evicted, drained, by hand) takes the gang with it */
				if (!t->lost[0])
					snprintf(t->lost, sizeof(t->lost), "%s replica %s was deleted",
						 type, name);
				continue;
			}
			if (!pod) {
				if (j->k->may_create && !j->k->may_create(j, type, pods))
					continue;
				create_pod(j, type, i);
				t->c[ti].active++;
				continue;
			}
			t->pods++;
			if (gt_json_path(pod, "metadata.deletionTimestamp") &&
			    gt_json_str(pod, "spec.nodeName")) {
				char why[300];

				/* nothing will finish a rank on a dead node: its name
				 * is needed for the next epoch, so it goes now */
				node_trouble(j->api, t, gt_json_str(pod, "spec.nodeName"), why,
					     sizeof(why));
				if (why[0])
					delete_pod(j, name, 0);
			}
			ep = strtoll(json_string_value(json_object_get(
				gt_json_path(pod, "metadata.labels"), GT_TJ_EPOCH_LABEL)) ?: "-1", NULL, 10);
			if (ep != j->epoch) {
				/* an earlier epoch's rank: goes before the new one starts */
				t->old++;
				if (!gt_json_path(pod, "metadata.deletionTimestamp"))
					delete_pod(j, name, 0);
				continue;
			}
			if (gt_json_path(pod, "metadata.deletionTimestamp")) {
				t->old++;
				continue;
			}
			if (!strcmp(gt_json_str(pod, "status.phase") ?: "", "Succeeded")) {
				t->c[ti].succeeded++;
			} else if (!strcmp(gt_json_str(pod, "status.phase") ?: "", "Failed")) {
				time_t at;
				int64_t code = exit_code(j, pod, &at);

				t->c[ti].failed++;
				if (!t->failed_type ||
				    first_cause(code, at, t->failed_code, t->failed_at)) {
					t->failed_type = type;
					t->failed_code = code;
					t->failed_at = at;
					t->permanent = !retryable(j, type, code);
				}
			} else {
				const char *node = gt_json_str(pod, "spec.nodeName");
				char why[300];

				t->c[ti].active++;
				if (!strcmp(gt_json_str(pod, "status.phase") ?: "", "Running"))
					t->c[ti].running++;
				if (node && !t->lost[0]) {
					node_trouble(j->api, t, node, why, sizeof(why));
					if (why[0])
						snprintf(t->lost, sizeof(t->lost), "%s replica %s was lost: %s",
							 type, name, why);
				}
			}
		}
	}
}

static bool active(const struct tally *t)
{
	for (size_t i = 0; i < 4; i++)
		if (t->c[i].active)
			return true;
	return false;
}

/* Deletes the job's pods: all, or only the unfinished ones. */
static void delete_pods(struct gt_tj_job *j, const struct gt_objlist *pods, bool running_only)
{
	for (size_t p = 0; p < pods->n; p++) {
		const json_t *o = pods->items[p]->obj;

		if (strcmp(gt_json_str(o, "metadata.namespace") ?: "", j->ns) ||
		    strcmp(gt_controller_uid(o) ?: "", j->uid) ||
		    gt_json_path(o, "metadata.deletionTimestamp") ||
		    (running_only && gt_pod_finished(o)))
			continue;
		delete_pod(j, gt_json_str(o, "metadata.name"), 0);
	}
}

static void clean_pods(struct gt_tj_job *j, const struct gt_objlist *pods)
{
	const char *policy = gt_json_str(j->obj, "spec.runPolicy.cleanPodPolicy") ?: "None";

	if (!strcmp(policy, "All"))
		delete_pods(j, pods, false);
	else if (!strcmp(policy, "Running"))
		delete_pods(j, pods, true);
}

static void finish(struct gt_tj_job *j, const struct gt_objlist *pods, bool ok, const char *reason,
		   const char *msg)
{
	char now[32];

	gt_time_rfc3339(time(NULL), now);
	gt_tj_condition(j->status, "Running", false, reason, msg);
	if (gt_tj_has(j->status, "Restarting"))
		gt_tj_condition(j->status, "Restarting", false, reason, msg);
	gt_tj_condition(j->status, ok ? "Succeeded" : "Failed", true, reason, msg);
	gt_record_event(j->api, j->obj, ok ? "Normal" : "Warning", reason, j->k->operator, "%s", msg);
	json_object_set_new(j->status, "completionTime", json_string(now));
	clean_pods(j, pods);
}

/* ---- status ---- */

static void replica_statuses(struct gt_tj_job *j, const struct tally *t)
{
	json_t *rs = json_object();

	for (size_t ti = 0; ti < j->k->ntypes && ti < 4; ti++) {
		const char *type = j->k->types[ti];
		char lt[32], sel[700];

		if (!j->k->replicas_of(j->obj, type))
			continue;
		lower(type, lt, sizeof(lt));
		snprintf(sel, sizeof(sel), "%s=%s,%s=%s,%s=%s", GT_TJ_JOB_LABEL, j->name,
			 GT_TJ_OPERATOR_LABEL, j->k->operator, GT_TJ_TYPE_LABEL, lt);
		json_object_set_new(rs, type, json_pack("{s:I,s:I,s:I,s:s}", "active",
							(json_int_t)t->c[ti].active, "succeeded",
							(json_int_t)t->c[ti].succeeded, "failed",
							(json_int_t)t->c[ti].failed, "selector", sel));
	}
	json_object_set_new(j->status, "replicaStatuses", rs);
}

static int set_status(json_t *obj, void *ctx, struct gt_err *err)
{
	json_t *want = ctx;

	(void)err;
	if (gt_json_equal(json_object_get(obj, "status"), want))
		return -EALREADY;
	json_object_set(obj, "status", want);
	return 0;
}

static void poll_progress(struct gt_tj_job *j)
{
	const char *type = j->k->types[j->k->replicas_of(j->obj, j->k->types[0]) ? 0 : 1];
	struct gt_obj *pod = NULL;
	char name[300], *log = NULL;
	size_t len = 0;

	replica_name(j, type, 0, name, sizeof(name));
	if (gt_api_get(j->api, res("", "v1", "pods"), j->ns, name, &pod, NULL) < 0)
		return;
	if (gt_api_pod_log_tail(j->api, pod->obj, main_container(j, pod->obj), 50, &log, &len, NULL) == 0)
		gt_tj_progress(j->status, log, len, time(NULL));
	free(log);
	gt_obj_unref(pod);
}

/* Kubeflow's condition reasons: "<Kind><What>" ("PyTorchJobRunning"). */
#define R(what) reason(k, what, rbuf)

static const char *reason(const struct gt_tj_kind *k, const char *what, char *buf)
{
	snprintf(buf, 64, "%s%s", k->kind, what);
	return buf;
}

static int sync_job(struct gt_api *api, const struct gt_tj_kind *k, const json_t *obj,
		    const struct gt_objlist *pods)
{
	struct gt_tj_job j = { .api = api, .k = k, .obj = obj };
	struct tally t = { 0 };
	char msg[600], now[32], rbuf[64];
	int64_t backoff = -1, ads, ttl;
	time_t start, done, tnow = time(NULL);
	int more = 0;

	j.ns = gt_json_str(obj, "metadata.namespace") ?: "";
	j.name = gt_json_str(obj, "metadata.name") ?: "";
	j.uid = gt_json_str(obj, "metadata.uid");
	if (!j.uid || gt_json_path(obj, "metadata.deletionTimestamp"))
		return 0;
	j.status = json_is_object(json_object_get(obj, "status")) ?
		   json_deep_copy(json_object_get(obj, "status")) : json_object();
	gt_time_rfc3339(tnow, now);
	gt_json_int(j.status, "restarts", &j.epoch);
	snprintf(msg, sizeof(msg), "%s %s is created.", k->kind, j.name);
	if (!gt_tj_has(j.status, "Created"))
		gt_tj_condition(j.status, "Created", true, R("Created"), msg);
	if (gt_tj_has(j.status, "Succeeded") || gt_tj_has(j.status, "Failed")) {
		clean_pods(&j, pods);
		if (gt_json_int(obj, "spec.runPolicy.ttlSecondsAfterFinished", &ttl) == 0 &&
		    gt_time_parse(gt_json_str(j.status, "completionTime"), &done) == 0) {
			if (done + ttl <= tnow) {
				struct gt_obj *out = NULL;
				bool gone;

				gt_api_delete(api, res(k->group, k->version, k->plural), j.ns, j.name, NULL,
					      &out, &gone, NULL);
				gt_obj_unref(out);
			} else {
				more = 1;
			}
		}
		goto write;
	}
	if (gt_json_bool(obj, "spec.runPolicy.suspend", false)) {
		delete_pods(&j, pods, false);
		snprintf(msg, sizeof(msg), "%s %s is suspended.", k->kind, j.name);
		gt_tj_condition(j.status, "Running", false, R("Suspended"), msg);
		gt_tj_condition(j.status, "Suspended", true, R("Suspended"), msg);
		json_object_del(j.status, "startTime");
		goto write;
	}
	if (gt_tj_has(j.status, "Suspended")) {
		snprintf(msg, sizeof(msg), "%s %s is resumed.", k->kind, j.name);
		gt_tj_condition(j.status, "Suspended", false, R("Resumed"), msg);
	}
	if (!json_object_get(j.status, "startTime"))
		json_object_set_new(j.status, "startTime", json_string(now));
	ensure_claim(&j);
	ensure_podgroup(&j);
	if (k->owned)
		k->owned(&j, pods);
	sync_pods(&j, pods, &t);
	gt_json_int(obj, "spec.runPolicy.backoffLimit", &backoff);
	if (gt_json_int(obj, "spec.runPolicy.activeDeadlineSeconds", &ads) == 0 &&
	    gt_time_parse(gt_json_str(j.status, "startTime"), &start) == 0) {
		if (start + ads <= tnow) {
			snprintf(msg, sizeof(msg), "%s %s has failed because it was active longer than "
				 "specified deadline", k->kind, j.name);
			delete_pods(&j, pods, true);
			finish(&j, pods, false, "DeadlineExceeded", msg);
			goto write;
		}
		more = 1;
	}
	if (t.failed_type && t.failed_code >= 0 && t.failed_code < 128 && active(&t) &&
	    t.failed_at && tnow - t.failed_at < SETTLE_S) {
		/*
		 * An exit code may be a rank's answer to its peer's death (a
		 * collective fails, the program exits 1) while the killed peer's
		 * report is still on its way: wait a moment for the others, so the
		 * rank that failed first is the cause (first_cause).
		 */
		more = 1;
	} else if (t.failed_type && t.permanent) {
		snprintf(msg, sizeof(msg), "%s %s is failed because 1 %s replica(s) failed with "
			 "exit code %lld (restartPolicy %s: not retryable).", k->kind, j.name,
			 t.failed_type, (long long)t.failed_code,
			 gt_json_str(json_object_get(gt_json_path(obj, "spec"), k->specs) ?
				     json_object_get(json_object_get(gt_json_path(obj, "spec"), k->specs),
						     t.failed_type) : NULL, "restartPolicy") ?: "");
		finish(&j, pods, false, R("Failed"), msg);
	} else if ((t.failed_type || t.lost[0]) && backoff >= 0 && j.epoch >= backoff) {
		snprintf(msg, sizeof(msg), "%s %s has failed because it has reached the specified "
			 "backoff limit (%lld restarts)", k->kind, j.name, (long long)j.epoch);
		finish(&j, pods, false, "BackoffLimitExceeded", msg);
	} else if (t.failed_type || t.lost[0]) {
		/* the whole gang goes and comes back as the next epoch */
		j.epoch++;
		json_object_set_new(j.status, "restarts", json_integer(j.epoch));
		json_object_set_new(j.status, "lastRestartTime", json_string(now));
		if (t.failed_type)
			snprintf(msg, sizeof(msg), "%s %s is restarting because 1 %s replica(s) failed "
				 "(exit code %lld); all ranks restart together (epoch %lld).", k->kind,
				 j.name, t.failed_type, (long long)t.failed_code, (long long)j.epoch);
		else
			snprintf(msg, sizeof(msg), "%s %s is restarting because %s; all ranks restart "
				 "together (epoch %lld).", k->kind, j.name, t.lost, (long long)j.epoch);
		gt_tj_condition(j.status, "Running", false, R("Restarting"), msg);
		gt_tj_condition(j.status, "Restarting", true, R("Restarting"), msg);
		gt_record_event(api, obj, "Warning", R("Restarting"), k->operator, "%s", msg);
		delete_pods(&j, pods, false);
		more = 1;
	} else if (k->succeeded(obj, t.c)) {
		poll_progress(&j); /* the last report, before pods may go */
		snprintf(msg, sizeof(msg), "%s %s is successfully completed.", k->kind, j.name);
		finish(&j, pods, true, R("Succeeded"), msg);
	} else {
		int64_t running = 0;

		for (size_t ti = 0; ti < k->ntypes && ti < 4; ti++)
			running += t.c[ti].running;
		if (running == total_replicas(&j) && !t.old) {
			snprintf(msg, sizeof(msg), "%s %s is running.", k->kind, j.name);
			gt_tj_condition(j.status, "Restarting", false, R("Running"), msg);
			gt_tj_condition(j.status, "Running", true, R("Running"), msg);
			poll_progress(&j);
		}
		more = 1;
	}
	replica_statuses(&j, &t);
write:
	if (!gt_json_equal(json_object_get(obj, "status"), j.status)) {
		struct gt_obj *out = NULL;

		gt_api_modify(api, res(k->group, k->version, k->plural), j.ns, j.name, GT_PART_STATUS,
			      set_status, j.status, NULL, &out, NULL);
		gt_obj_unref(out);
	}
	json_decref(j.status);
	return more;
}

int gt_tj_pass(struct gt_api *api, const struct gt_tj_kind *k)
{
	struct gt_objlist jobs = { 0 }, pods = { 0 };
	char prefix[200];
	int more = 0;

	snprintf(prefix, sizeof(prefix), "%s/%s/", k->group, k->plural);
	gt_objlist_load(api, prefix, &jobs);
	if (!jobs.n)
		return 0;
	gt_objlist_load(api, "core/pods/", &pods);
	for (size_t i = 0; i < jobs.n; i++)
		more |= sync_job(api, k, jobs.items[i]->obj, &pods);
	gt_objlist_release(&pods);
	gt_objlist_release(&jobs);
	return more;
}

bool gt_tj_relevant(const struct gt_event *ev, const struct gt_tj_kind *k)
{
	char prefix[200];

	snprintf(prefix, sizeof(prefix), "%s/%s/", k->group, k->plural);
	if (!strncmp(ev->obj->key, prefix, strlen(prefix)))
		return true;
	return !strncmp(ev->obj->key, "core/pods/", 10) &&
	       json_object_get(gt_json_path(ev->obj->obj, "metadata.labels"), GT_TJ_JOB_LABEL);
}
