/*
 * deployment.c - the Deployment controller: one ReplicaSet per pod
 * template ("<deployment>-<pod-template-hash>", the hash also a label on
 * its selector and pods, and deployment.kubernetes.io/revision counting up),
 * scaled between old and new as the strategy says:
 *   RollingUpdate: the new ReplicaSet grows while the total stays within
 *     replicas + maxSurge, old ones shrink while available pods stay at or
 *     above replicas - maxUnavailable (both ints or percentages, 25 % by
 *     default: surge rounded up, unavailable down);
 *   Recreate: old ReplicaSets go to 0, the new one grows once their pods
 *     are gone.
 * Status (replicas, updatedReplicas, readyReplicas, availableReplicas,
 * unavailableReplicas, observedGeneration, Available and Progressing
 * conditions) is what `kubectl rollout status` reads; `rollout undo`
 * (kubectl copies an old ReplicaSet's template back) and `rollout restart`
 * (a template annotation) are template changes like any other.  Old
 * ReplicaSets scaled to 0 beyond revisionHistoryLimit are deleted.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "controllers/controllers.h"

#define REVISION "deployment.kubernetes.io/revision"
#define HASH_LABEL "pod-template-hash"

/* A template as compared: without the hash label and a null creationTimestamp
 * (what clients such as `kubectl rollout undo` leave in copied templates). */
static json_t *normalized(const json_t *tpl)
{
	json_t *t = json_deep_copy(tpl), *meta = json_object_get(t, "metadata");

	json_object_del(json_object_get(meta, "labels"), HASH_LABEL);
	if (json_is_null(json_object_get(meta, "creationTimestamp")))
		json_object_del(meta, "creationTimestamp");
	if (json_is_object(json_object_get(meta, "labels")) && !json_object_size(json_object_get(meta, "labels")))
		json_object_del(meta, "labels");
	if (json_is_object(meta) && !json_object_size(meta))
		json_object_del(t, "metadata");
	return t;
}

/* Kubernetes' EqualIgnoreHash: the ReplicaSet runs the deployment's template. */
static bool same_template(const json_t *rs_tpl, const json_t *d_tpl)
{
	json_t *a = normalized(rs_tpl), *b = normalized(d_tpl);
	bool eq = gt_json_equal(a, b);

	json_decref(a);
	json_decref(b);
	return eq;
}

static int64_t num(const json_t *o, const char *path)
{
	int64_t v = 0;

	gt_json_int(o, path, &v);
	return v;
}

static int64_t revision(const json_t *rs)
{
	const char *v = json_string_value(json_object_get(gt_json_path(rs, "metadata.annotations"),
							  REVISION));

	return v ? strtoll(v, NULL, 10) : 0;
}

static int set_replicas(json_t *obj, void *ctx, struct gt_err *err)
{
	int64_t want = *(int64_t *)ctx;

	(void)err;
	if (num(obj, "spec.replicas") == want && gt_json_path(obj, "spec.replicas"))
		return -EALREADY;
	gt_json_set(obj, "spec.replicas", json_integer(want));
	return 0;
}

static void scale(struct gt_api *api, const json_t *rs, int64_t want)
{
	struct gt_obj *out = NULL;

	if (num(rs, "spec.replicas") == want)
		return;
	gt_api_modify(api, gt_registry_find("apps", "v1", "replicasets"),
		      gt_json_str(rs, "metadata.namespace"), gt_json_str(rs, "metadata.name"),
		      GT_PART_MAIN, set_replicas, &want, NULL, &out, NULL);
	gt_obj_unref(out);
}

static int set_revision(json_t *obj, void *ctx, struct gt_err *err)
{
	char v[24];

	(void)err;
	snprintf(v, sizeof(v), "%lld", (long long)*(int64_t *)ctx);
	if (!json_is_object(gt_json_path(obj, "metadata.annotations")))
		gt_json_set(obj, "metadata.annotations", json_object());
	json_object_set_new(gt_json_path(obj, "metadata.annotations"), REVISION, json_string(v));
	return 0;
}

static int set_min_ready(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	gt_json_set(obj, "spec.minReadySeconds", json_integer(*(int64_t *)ctx));
	return 0;
}

/* Creates the ReplicaSet of the current template (0 replicas: scaled after). */
static void create_rs(struct gt_api *api, const json_t *d, const char *hash, int64_t rev)
{
	const char *ns = gt_json_str(d, "metadata.namespace"), *name = gt_json_str(d, "metadata.name");
	json_t *tpl = json_deep_copy(gt_json_path(d, "spec.template"));
	json_t *sel = json_deep_copy(gt_json_path(d, "spec.selector"));
	json_t *labels, *rs;
	struct gt_obj *out = NULL;
	struct gt_err err;
	char rname[300], revs[24];

	if (!json_is_object(tpl) || !json_is_object(sel)) {
		json_decref(tpl);
		json_decref(sel);
		return;
	}
	if (!json_is_object(gt_json_path(tpl, "metadata.labels")))
		gt_json_set(tpl, "metadata.labels", json_object());
	labels = gt_json_path(tpl, "metadata.labels");
	json_object_set_new(labels, HASH_LABEL, json_string(hash));
	if (!json_is_object(json_object_get(sel, "matchLabels")))
		json_object_set_new(sel, "matchLabels", json_object());
	json_object_set_new(json_object_get(sel, "matchLabels"), HASH_LABEL, json_string(hash));
	snprintf(rname, sizeof(rname), "%.200s-%s", name, hash);
	snprintf(revs, sizeof(revs), "%lld", (long long)rev);
	rs = json_pack("{s:s,s:s,s:{s:s,s:o,s:{s:s},s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},"
		       "s:{s:i,s:I,s:o,s:o}}",
		       "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", rname,
		       "labels", json_deep_copy(labels), "annotations", REVISION, revs, "ownerReferences",
		       "apiVersion", "apps/v1", "kind", "Deployment", "name", name, "uid",
		       gt_json_str(d, "metadata.uid") ?: "", "controller", 1, "blockOwnerDeletion", 1,
		       "spec", "replicas", 0, "minReadySeconds", (json_int_t)num(d, "spec.minReadySeconds"),
		       "selector", sel, "template", tpl);
	gt_err_clear(&err);
	if (rs && gt_api_create(api, gt_registry_find("apps", "v1", "replicasets"), ns, rs, NULL,
				&out, &err) < 0 && err.code != -EEXIST)
		gt_warn("deployment %s/%s: cannot create ReplicaSet %s: %s", ns, name, rname, err.msg);
	gt_obj_unref(out);
}

struct dstatus {
	int64_t replicas, updated, ready, available, unavailable, generation;
	bool complete, available_ok, paused;
	int64_t deadline;       /* progressDeadlineSeconds */
	const char *rs_name;    /* the new ReplicaSet */
	bool timed_out;         /* out: Progressing turned False */
};

/*
 * The Progressing condition as Kubernetes keeps it: lastUpdateTime moves
 * whenever the rollout makes progress (replica counts change), and a
 * rollout with no progress for progressDeadlineSeconds turns it False
 * (ProgressDeadlineExceeded), which `kubectl rollout status` reports.
 */
static json_t *progressing(const json_t *cur, struct dstatus *st, const char *now)
{
	const json_t *old = NULL, *c;
	const char *last = now, *since = now, *status = "True", *reason, *old_status;
	char msg[400];
	size_t i;
	bool moved;
	time_t t;

	json_array_foreach(json_object_get(cur, "conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", "Progressing"))
			old = c;
	moved = num(cur, "replicas") != st->replicas || num(cur, "updatedReplicas") != st->updated ||
		num(cur, "availableReplicas") != st->available ||
		num(cur, "readyReplicas") != st->ready || !old;
	if (!moved && gt_json_str(old, "lastUpdateTime"))
		last = gt_json_str(old, "lastUpdateTime");
	if (st->paused) {
		status = "Unknown";
		reason = "DeploymentPaused";
		snprintf(msg, sizeof(msg), "Deployment is paused");
	} else if (st->complete) {
		reason = "NewReplicaSetAvailable";
		snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has successfully progressed.", st->rs_name);
	} else if (st->deadline >= 0 && gt_time_parse(last, &t) == 0 &&
		   t + st->deadline < time(NULL)) {
		status = "False";
		reason = "ProgressDeadlineExceeded";
		snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has timed out progressing.", st->rs_name);
		st->timed_out = true;
	} else {
		reason = "ReplicaSetUpdated";
		snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" is progressing.", st->rs_name);
	}
	old_status = gt_json_str(old, "status");
	if (old_status && !strcmp(old_status, status) && gt_json_str(old, "lastTransitionTime"))
		since = gt_json_str(old, "lastTransitionTime");
	if (st->timed_out && old_status && !strcmp(old_status, "False"))
		last = gt_json_str(old, "lastUpdateTime") ?: last;
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "Progressing", "status", status,
			 "reason", reason, "message", msg, "lastUpdateTime", last,
			 "lastTransitionTime", since);
}

static json_t *condition(const json_t *cur, const char *type, bool ok, const char *reason,
			 const char *msg, const char *now)
{
	const json_t *c;
	size_t i;
	const char *since = now;

	json_array_foreach(cur, i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", type) &&
		    !strcmp(gt_json_str(c, "status") ?: "", ok ? "True" : "False") &&
		    gt_json_str(c, "lastTransitionTime"))
			since = gt_json_str(c, "lastTransitionTime");
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", ok ? "True" : "False",
			 "reason", reason, "message", msg, "lastUpdateTime", since,
			 "lastTransitionTime", since);
}

static int set_dstatus(json_t *obj, void *ctx, struct gt_err *err)
{
	struct dstatus *st = ctx;
	json_t *cur = json_object_get(obj, "status"), *conds, *want;
	char now[32];

	(void)err;
	gt_time_rfc3339(time(NULL), now);
	conds = json_pack("[o,o]",
			  condition(json_object_get(cur, "conditions"), "Available", st->available_ok,
				    st->available_ok ? "MinimumReplicasAvailable" :
				    "MinimumReplicasUnavailable",
				    st->available_ok ? "Deployment has minimum availability." :
				    "Deployment does not have minimum availability.", now),
			  progressing(cur, st, now));
	want = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "replicas", (json_int_t)st->replicas,
			 "updatedReplicas", (json_int_t)st->updated, "readyReplicas",
			 (json_int_t)st->ready, "availableReplicas", (json_int_t)st->available,
			 "unavailableReplicas", (json_int_t)st->unavailable, "observedGeneration",
			 (json_int_t)st->generation, "conditions", conds);
	if (gt_json_equal(cur, want)) {
		json_decref(want);
		return -EALREADY;
	}
	json_object_set_new(obj, "status", want);
	return 0;
}

static int set_drevision(json_t *obj, void *ctx, struct gt_err *err)
{
	const char *rev = ctx;
	json_t *ann = gt_json_path(obj, "metadata.annotations");

	(void)err;
	if (json_is_object(ann) && !strcmp(json_string_value(json_object_get(ann, REVISION)) ?: "", rev))
		return -EALREADY;
	if (!json_is_object(ann)) {
		ann = json_object();
		gt_json_set(obj, "metadata.annotations", ann);
	}
	json_object_set_new(ann, REVISION, json_string(rev));
	return 0;
}

static int by_revision(const void *a, const void *b)
{
	int64_t x = revision(*(const json_t *const *)a), y = revision(*(const json_t *const *)b);

	return x < y ? -1 : x > y;
}

static int sync_one(struct gt_api *api, const json_t *d, const struct gt_objlist *rss)
{
	const struct gt_resource *dr = gt_registry_find("apps", "v1", "deployments");
	const char *ns = gt_json_str(d, "metadata.namespace") ?: "", *uid = gt_json_str(d, "metadata.uid");
	const char *strategy = gt_json_str(d, "spec.strategy.type") ?: "RollingUpdate";
	const json_t **old = NULL, *cur = NULL;
	size_t nold = 0, cap = 0;
	int64_t want = 1, maxrev = 0, total = 0, available = 0, old_pods = 0;
	struct dstatus st = { 0 };
	struct gt_obj *out = NULL;
	char hash[16], revs[24];

	if (gt_json_path(d, "metadata.deletionTimestamp") || !uid)
		return 0;
	gt_json_int(d, "spec.replicas", &want);
	{
		json_t *t = normalized(gt_json_path(d, "spec.template"));

		gt_template_hash(t, hash);
		json_decref(t);
	}
	for (size_t i = 0; i < rss->n; i++) {
		const json_t *rs = rss->items[i]->obj;

		if (strcmp(gt_json_str(rs, "metadata.namespace") ?: "", ns) ||
		    strcmp(gt_controller_uid(rs) ?: "", uid))
			continue;
		if (revision(rs) > maxrev)
			maxrev = revision(rs);
		if (!cur && same_template(gt_json_path(rs, "spec.template"),
					  gt_json_path(d, "spec.template"))) {
			cur = rs;
			continue;
		}
		gt_grow((void **)&old, &cap, nold + 1, sizeof(*old));
		old[nold++] = rs;
	}
	st.paused = gt_json_bool(d, "spec.paused", false);
	if (!cur && st.paused && nold) {
		/* a paused deployment rolls nothing out: report on the newest */
		qsort(old, nold, sizeof(*old), by_revision);
		cur = old[--nold];
	} else if (!cur) {
		create_rs(api, d, hash, maxrev + 1);
		free(old);
		return 1; /* the next pass scales it */
	}
	if (!st.paused && num(cur, "spec.minReadySeconds") != num(d, "spec.minReadySeconds")) {
		int64_t m = num(d, "spec.minReadySeconds");

		gt_api_modify(api, gt_registry_find("apps", "v1", "replicasets"), ns,
			      gt_json_str(cur, "metadata.name"), GT_PART_MAIN, set_min_ready, &m, NULL,
			      &out, NULL);
		gt_obj_unref(out);
		out = NULL;
	}
	if (st.paused) {
		total = num(cur, "spec.replicas");
		available = num(cur, "status.availableReplicas");
		for (size_t i = 0; i < nold; i++) {
			available += num(old[i], "status.availableReplicas");
			old_pods += num(old[i], "status.replicas");
		}
		goto status;
	}
	if (revision(cur) < maxrev) {
		/* back to an old template (rollout undo): it becomes the newest */
		int64_t r = maxrev + 1;

		gt_api_modify(api, gt_registry_find("apps", "v1", "replicasets"), ns,
			      gt_json_str(cur, "metadata.name"), GT_PART_MAIN, set_revision, &r, NULL,
			      &out, NULL);
		gt_obj_unref(out);
		out = NULL;
	}
	total = num(cur, "spec.replicas");
	available = num(cur, "status.availableReplicas");
	for (size_t i = 0; i < nold; i++) {
		total += num(old[i], "spec.replicas");
		available += num(old[i], "status.availableReplicas");
		old_pods += num(old[i], "status.replicas");
	}
	if (!strcmp(strategy, "Recreate")) {
		for (size_t i = 0; i < nold; i++)
			scale(api, old[i], 0);
		if (!old_pods)
			scale(api, cur, want);
	} else {
		const json_t *ru = gt_json_path(d, "spec.strategy.rollingUpdate");
		int64_t surge = gt_int_or_pct(json_object_get(ru, "maxSurge"), want, (want * 25 + 99) / 100, true);
		int64_t unavail = gt_int_or_pct(json_object_get(ru, "maxUnavailable"), want, want * 25 / 100, false);
		int64_t can_remove, n = num(cur, "spec.replicas");

		if (!surge && !unavail)
			unavail = 1;
		if (n > want) {
			scale(api, cur, want);
		} else if (n < want && total < want + surge) {
			int64_t up = want + surge - total;

			scale(api, cur, n + (up < want - n ? up : want - n));
		}
		/* old pods go while enough stay available */
		can_remove = available - (want - unavail);
		if (nold)
			qsort(old, nold, sizeof(*old), by_revision);
		for (size_t i = 0; i < nold && can_remove > 0; i++) {
			int64_t r = num(old[i], "spec.replicas"), k = r < can_remove ? r : can_remove;

			if (k > 0) {
				scale(api, old[i], r - k);
				can_remove -= k;
			}
		}
	}
	/* old ReplicaSets at 0 beyond the history limit */
	{
		int64_t limit = 10, zero = 0;

		gt_json_int(d, "spec.revisionHistoryLimit", &limit);
		if (nold)
			qsort(old, nold, sizeof(*old), by_revision);
		for (size_t i = 0; i < nold; i++)
			zero += !num(old[i], "spec.replicas") && !num(old[i], "status.replicas");
		for (size_t i = 0; i < nold && zero > limit; i++) {
			bool gone;

			if (num(old[i], "spec.replicas") || num(old[i], "status.replicas"))
				continue;
			gt_api_delete(api, gt_registry_find("apps", "v1", "replicasets"), ns,
				      gt_json_str(old[i], "metadata.name"), NULL, &out, &gone, NULL);
			gt_obj_unref(out);
			out = NULL;
			zero--;
		}
	}
status:
	st.updated = num(cur, "status.replicas");
	st.replicas = st.updated + old_pods;
	st.ready = num(cur, "status.readyReplicas");
	st.available = available;
	for (size_t i = 0; i < nold; i++)
		st.ready += num(old[i], "status.readyReplicas");
	st.unavailable = want - available > 0 ? want - available : 0;
	st.generation = num(d, "metadata.generation");
	{
		const json_t *ru = gt_json_path(d, "spec.strategy.rollingUpdate");
		int64_t unavail = gt_int_or_pct(json_object_get(ru, "maxUnavailable"), want, want * 25 / 100, false);

		st.available_ok = available >= want - unavail;
	}
	st.complete = st.updated == want && num(cur, "status.availableReplicas") == want && !old_pods;
	st.deadline = 600;
	gt_json_int(d, "spec.progressDeadlineSeconds", &st.deadline);
	st.rs_name = gt_json_str(cur, "metadata.name");
	snprintf(revs, sizeof(revs), "%lld", (long long)(revision(cur) > maxrev ? revision(cur) : maxrev));
	gt_api_modify(api, dr, ns, gt_json_str(d, "metadata.name"), GT_PART_MAIN, set_drevision,
		      revs, NULL, &out, NULL);
	gt_obj_unref(out);
	out = NULL;
	gt_api_modify(api, dr, ns, gt_json_str(d, "metadata.name"), GT_PART_STATUS, set_dstatus, &st,
		      NULL, &out, NULL);
	gt_obj_unref(out);
	free(old);
	return !st.complete && !st.paused && !st.timed_out;
}

int gt_deploy_pass(struct gt_api *api, void *ctx)
{
	struct gt_objlist ds = { 0 }, rss = { 0 };
	int more = 0;

	(void)ctx;
	gt_objlist_load(api, "apps/deployments/", &ds);
	if (ds.n)
		gt_objlist_load(api, "apps/replicasets/", &rss);
	for (size_t i = 0; i < ds.n; i++)
		more |= sync_one(api, ds.items[i]->obj, &rss);
	gt_objlist_release(&rss);
	gt_objlist_release(&ds);
	return more;
}

bool gt_deploy_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	(void)ctx;
	(void)waiting;
	return !strncmp(ev->obj->key, "apps/deployments/", 17) ||
	       !strncmp(ev->obj->key, "apps/replicasets/", 17);
}
