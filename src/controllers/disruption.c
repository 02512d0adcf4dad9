/*
 * disruption.c - the disruption controller: the status of every
 * PodDisruptionBudget, as Kubernetes computes it.
 *
 *  - expectedPods: with an integer minAvailable, the number of pods the
 *    budget selects; with maxUnavailable or a percentage, the scale of
 *    their controllers (each ReplicaSet, Deployment, StatefulSet or
 *    ReplicationController counted once, a ReplicaSet under a Deployment
 *    through the Deployment).  A selected pod without such a controller
 *    makes the sync fail: disruptionsAllowed 0, condition reason
 *    SyncFailed.
 *  - desiredHealthy: minAvailable (a percentage rounded up), or
 *    expectedPods - maxUnavailable (rounded up), at least 0.
 *  - currentHealthy: selected pods Ready, not being deleted, and not in
 *    disruptedPods (evicted, deletion not yet seen; an entry older than
 *    2 minutes lapses).
 *  - disruptionsAllowed = max(0, currentHealthy - desiredHealthy), and the
 *    DisruptionAllowed condition (SufficientPods / InsufficientPods).
 *
 * The status is computed inside the write against the budget's current
 * disruptedPods, so an eviction that lands between the read and the write
 * (apiserver/eviction.c decrements disruptionsAllowed with a
 * resourceVersion precondition) is never undone.
 */
#include <stdlib.h>
#include <string.h>

#include "api/policy.h"
#include "api/selector.h"
#include "base/log.h"
#include "controllers/controllers.h"

#define DELETION_TIMEOUT 120 /* s: Kubernetes' DeletionTimeout for disruptedPods */

struct calc {
	const struct gt_objlist *pods;   /* the pods the budget selects */
	int64_t expected, desired;
	const char *fail;                 /* the sync failed: why */
	char why[300];
	time_t now;
	bool recheck;                     /* a disruptedPods entry will lapse */
};

static const json_t *owner(const json_t *obj)
{
	const json_t *r;
	size_t i;

	json_array_foreach(gt_json_path(obj, "metadata.ownerReferences"), i, r)
		if (gt_json_bool(r, "controller", false))
			return r;
	return NULL;
}

/* Adds the scale of pod's controller to *sum unless uid is already in seen. */
static int add_scale(struct gt_api *api, const json_t *pod, json_t *seen, int64_t *sum)
{
	const json_t *ref = owner(pod);
	const char *ns = gt_json_str(pod, "metadata.namespace") ?: "";
	const char *kind = gt_json_str(ref, "kind") ?: "";
	const struct gt_resource *r = NULL;
	struct gt_obj *o = NULL;
	int64_t n = 1;

	if (!strcmp(kind, "ReplicaSet"))
		r = gt_registry_find("apps", "v1", "replicasets");
	else if (!strcmp(kind, "StatefulSet"))
		r = gt_registry_find("apps", "v1", "statefulsets");
	else if (!strcmp(kind, "ReplicationController"))
		r = gt_registry_find("", "v1", "replicationcontrollers");
	if (!ref || !r || gt_api_get(api, r, ns, gt_json_str(ref, "name") ?: "", &o, NULL) < 0 ||
	    strcmp(gt_json_str(o->obj, "metadata.uid") ?: "", gt_json_str(ref, "uid") ?: "")) {
		gt_obj_unref(o);
		return -ENOENT;
	}
	/* a ReplicaSet of a Deployment: the Deployment's scale */
	if (!strcmp(kind, "ReplicaSet") && owner(o->obj) &&
	    !strcmp(gt_json_str(owner(o->obj), "kind") ?: "", "Deployment")) {
		const json_t *dref = owner(o->obj);
		struct gt_obj *d = NULL;

		if (gt_api_get(api, gt_registry_find("apps", "v1", "deployments"), ns,
			       gt_json_str(dref, "name") ?: "", &d, NULL) == 0) {
			gt_obj_unref(o);
			o = d;
		}
	}
	if (!json_object_get(seen, gt_json_str(o->obj, "metadata.uid") ?: "")) {
		json_object_set_new(seen, gt_json_str(o->obj, "metadata.uid") ?: "", json_true());
		gt_json_int(o->obj, "spec.replicas", &n);
		*sum += n;
	}
	gt_obj_unref(o);
	return 0;
}

static void expectations(struct gt_api *api, const json_t *pdb, struct calc *c)
{
	const json_t *minav = gt_json_path(pdb, "spec.minAvailable");
	const json_t *maxun = gt_json_path(pdb, "spec.maxUnavailable");
	int64_t v = 0;

	if (minav && json_is_integer(minav)) {
		c->expected = (int64_t)c->pods->n;
		c->desired = json_integer_value(minav);
		return;
	}
	if (minav || maxun) {
		json_t *seen = json_object();

		c->expected = 0;
		for (size_t i = 0; i < c->pods->n; i++)
			if (add_scale(api, c->pods->items[i]->obj, seen, &c->expected) < 0) {
				snprintf(c->why, sizeof(c->why), "found no controllers for pod \"%s\"",
					 gt_json_str(c->pods->items[i]->obj, "metadata.name") ?: "");
				c->fail = c->why;
				break;
			}
		json_decref(seen);
	}
	if (c->fail)
		return;
	if (minav) {
		if (gt_intstr_scaled(minav, c->expected, true, &v) < 0)
			c->fail = "invalid minAvailable";
		c->desired = v;
	} else if (maxun) {
		if (gt_intstr_scaled(maxun, c->expected, true, &v) < 0)
			c->fail = "invalid maxUnavailable";
		c->desired = c->expected - v > 0 ? c->expected - v : 0;
	} else {
		/* neither: Kubernetes defaults minAvailable to 1 */
		c->expected = (int64_t)c->pods->n;
		c->desired = 1;
	}
}

static bool pod_alive(const struct gt_objlist *pods, const char *name)
{
	for (size_t i = 0; i < pods->n; i++)
		if (!strcmp(gt_json_str(pods->items[i]->obj, "metadata.name") ?: "", name))
			return !gt_json_path(pods->items[i]->obj, "metadata.deletionTimestamp");
	return false;
}

static int set_status(json_t *obj, void *ctx, struct gt_err *err)
{
	struct calc *c = ctx;
	json_t *old = gt_json_path(obj, "status.disruptedPods"), *dp = json_object(), *v, *st;
	json_t *cond;
	const char *k, *reason, *ltt = NULL, *cs;
	int64_t healthy = 0, allowed, gen = 0;
	char now[32];

	(void)err;
	gt_time_rfc3339(c->now, now);
	/* evicted pods whose deletion has not shown up yet, for 2 minutes */
	json_object_foreach(old, k, v) {
		time_t t;

		if (!json_is_string(v) || gt_time_parse(json_string_value(v), &t) < 0 ||
		    t + DELETION_TIMEOUT < c->now || !pod_alive(c->pods, k))
			continue;
		json_object_set(dp, k, v);
		c->recheck = true;
	}
	for (size_t i = 0; i < c->pods->n; i++) {
		const json_t *p = c->pods->items[i]->obj;

		if (!gt_json_path(p, "metadata.deletionTimestamp") && gt_pod_is_ready(p) &&
		    !json_object_get(dp, gt_json_str(p, "metadata.name") ?: ""))
			healthy++;
	}
	allowed = c->fail ? 0 : healthy - c->desired > 0 ? healthy - c->desired : 0;
	reason = c->fail ? "SyncFailed" : allowed > 0 ? "SufficientPods" : "InsufficientPods";
	cs = allowed > 0 ? "True" : "False";
	gt_json_int(obj, "metadata.generation", &gen);
	{
		const json_t *oc;
		size_t i;

		json_array_foreach(gt_json_path(obj, "status.conditions"), i, oc)
			if (!strcmp(gt_json_str(oc, "type") ?: "", "DisruptionAllowed") &&
			    !strcmp(gt_json_str(oc, "status") ?: "", cs))
				ltt = gt_json_str(oc, "lastTransitionTime");
	}
	cond = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "type", "DisruptionAllowed", "status", cs,
			 "reason", reason, "message", c->fail ? c->fail : "", "observedGeneration",
			 (json_int_t)gen, "lastTransitionTime", ltt ? ltt : now);
	st = json_pack("{s:o,s:I,s:I,s:I,s:I,s:I,s:[o]}", "disruptedPods", dp,
		       "disruptionsAllowed", (json_int_t)allowed, "currentHealthy",
		       (json_int_t)healthy, "desiredHealthy", (json_int_t)(c->fail ? 0 : c->desired),
		       "expectedPods", (json_int_t)(c->fail ? 0 : c->expected), "observedGeneration",
		       (json_int_t)gen, "conditions", cond);
	if (!json_object_size(dp))
		json_object_del(st, "disruptedPods");
	if (gt_json_equal(st, json_object_get(obj, "status"))) {
		json_decref(st);
		return -EALREADY;
	}
	json_object_set_new(obj, "status", st);
	return 0;
}

static bool sync_one(struct gt_api *api, const json_t *pdb, const struct gt_objlist *all)
{
	struct gt_objlist mine = { 0 };
	struct calc c = { .pods = &mine, .now = time(NULL) };
	struct gt_obj *out = NULL;
	struct gt_labelsel *sel = NULL;
	const char *ns = gt_json_str(pdb, "metadata.namespace") ?: "";

	/* gt_pdb_selects' rule, with the selector parsed once */
	if (gt_labelsel_from_object(gt_json_path(pdb, "spec.selector"), &sel, NULL) == 0) {
		for (size_t i = 0; i < all->n; i++) {
			const json_t *p = all->items[i]->obj;

			if (strcmp(gt_json_str(p, "metadata.namespace") ?: "", ns) ||
			    !gt_labelsel_match(sel, gt_json_path(p, "metadata.labels")))
				continue;
			gt_grow((void **)&mine.items, &mine.cap, mine.n + 1, sizeof(*mine.items));
			mine.items[mine.n++] = gt_obj_ref(all->items[i]);
		}
		gt_labelsel_free(sel);
	}
	expectations(api, pdb, &c);
	gt_api_modify(api, gt_registry_find("policy", "v1", "poddisruptionbudgets"),
		      gt_json_str(pdb, "metadata.namespace") ?: "",
		      gt_json_str(pdb, "metadata.name") ?: "", GT_PART_STATUS, set_status, &c, NULL,
		      &out, NULL);
	gt_obj_unref(out);
	gt_objlist_release(&mine);
	return c.recheck;
}

int gt_disruption_pass(struct gt_api *api, void *ctx)
{
	struct gt_objlist pdbs = { 0 }, pods = { 0 };
	int again = 0;

	(void)ctx;
	gt_objlist_load(api, "policy/poddisruptionbudgets/", &pdbs);
	if (pdbs.n)
		gt_objlist_load(api, "core/pods/", &pods);
	for (size_t i = 0; i < pdbs.n; i++)
		again |= sync_one(api, pdbs.items[i]->obj, &pods);
	gt_objlist_release(&pods);
	gt_objlist_release(&pdbs);
	return again;
}

bool gt_disruption_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	const char *k = ev->obj->key;

	(void)waiting;
	(void)ctx;
	return !strncmp(k, "policy/poddisruptionbudgets/", 28) || !strncmp(k, "core/pods/", 10) ||
	       !strncmp(k, "apps/", 5);
}
