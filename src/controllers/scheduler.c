/*
 * scheduler.c - the default scheduler's loop: pods without a node whose
 * schedulerName is empty or "default-scheduler" are placed by the algorithm
 * of sched/sched.h on a snapshot of the nodes and the pods bound to them,
 * highest priority first (then oldest), and bound as POST pods/binding
 * would.  A pod that fits nowhere gets PodScheduled=False (reason
 * Unschedulable, the algorithm's message) and a FailedScheduling event
 * when that message changes.
 *
 * Passes run when a pending pod appears or, while pods wait, when pods,
 * nodes or volumes change (events read until the stream is quiet, then one
 * pass), and every 5 s while pods wait.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "controllers/controllers.h"
#include "sched/sched.h"

struct gt_scheduler {
	struct gt_loop loop;
};

static bool pending(const json_t *pod)
{
	const char *n = gt_json_str(pod, "spec.nodeName"), *sn = gt_json_str(pod, "spec.schedulerName");

	return (!n || !*n) && (!sn || !*sn || !strcmp(sn, "default-scheduler")) &&
	       !gt_json_path(pod, "metadata.deletionTimestamp") && !gt_pod_finished(pod);
}

static int64_t priority(const json_t *pod)
{
	int64_t p = 0;

	gt_json_int(pod, "spec.priority", &p);
	return p;
}

static int by_priority(const void *a, const void *b)
{
	const json_t *x = (*(struct gt_obj *const *)a)->obj, *y = (*(struct gt_obj *const *)b)->obj;
	int64_t px = priority(x), py = priority(y);
	int c;

	if (px != py)
		return px > py ? -1 : 1;
	c = strcmp(gt_json_str(x, "metadata.creationTimestamp") ?: "",
		   gt_json_str(y, "metadata.creationTimestamp") ?: "");
	return c ? c : strcmp((*(struct gt_obj *const *)a)->key, (*(struct gt_obj *const *)b)->key);
}

static const json_t *find_named(const struct gt_objlist *l, const char *ns, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		const json_t *o = l->items[i]->obj;

		if (!strcmp(gt_json_str(o, "metadata.name") ?: "", name) &&
		    !strcmp(gt_json_str(o, "metadata.namespace") ?: "", ns ?: ""))
			return o;
	}
	return NULL;
}

/*
 * The node affinity of the volumes behind the pod's claims (into *terms, an
 * array of nodeSelectorTerms arrays), or why the pod cannot be placed yet
 * (a missing or unbound claim).
 */
static int volume_terms(const json_t *pod, const struct gt_objlist *pvcs,
			const struct gt_objlist *pvs, json_t **terms, struct gt_buf *why)
{
	const char *ns = gt_json_str(pod, "metadata.namespace") ?: "default";
	const json_t *v;
	size_t i;

	*terms = NULL;
	json_array_foreach(gt_json_path(pod, "spec.volumes"), i, v) {
		const char *claim = gt_json_str(v, "persistentVolumeClaim.claimName");
		const json_t *pvc, *pv, *t;
		const char *vol;

		if (!claim)
			continue;
		pvc = find_named(pvcs, ns, claim);
		if (!pvc) {
			gt_buf_reset(why);
			gt_buf_addf(why, "persistentvolumeclaim \"%s\" not found", claim);
			return -ENOENT;
		}
		vol = gt_json_str(pvc, "spec.volumeName");
		pv = vol ? find_named(pvs, "", vol) : NULL;
		if (!pv) {
			gt_buf_reset(why);
			gt_buf_adds(why, "pod has unbound immediate PersistentVolumeClaims");
			return -EAGAIN;
		}
		t = gt_json_path(pv, "spec.nodeAffinity.required.nodeSelectorTerms");
		if (json_is_array(t)) {
			if (!*terms)
				*terms = json_array();
			json_array_append(*terms, (json_t *)t);
		}
	}
	return 0;
}

struct unsched {
	const char *msg;
	bool changed;
};

static int set_unschedulable(json_t *obj, void *arg, struct gt_err *err)
{
	struct unsched *u = arg;
	json_t *conds = gt_json_path(obj, "status.conditions"), *c, *keep = json_array();
	char now[32];
	size_t i;

	(void)err;
	json_array_foreach(conds, i, c) {
		if (strcmp(gt_json_str(c, "type") ?: "", "PodScheduled")) {
			json_array_append(keep, c);
		} else if (!strcmp(gt_json_str(c, "status") ?: "", "False") &&
			   !strcmp(gt_json_str(c, "message") ?: "", u->msg)) {
			json_decref(keep);
			return -EALREADY; /* said already: no write */
		}
	}
	gt_time_rfc3339(time(NULL), now);
	json_array_append_new(keep, json_pack("{s:s,s:s,s:n,s:s,s:s,s:s}", "type", "PodScheduled",
					      "status", "False", "lastProbeTime",
					      "lastTransitionTime", now, "reason", "Unschedulable",
					      "message", u->msg));
	gt_json_set(obj, "status.conditions", keep);
	u->changed = true;
	return 0;
}

static void event(struct gt_api *api, const json_t *pod, const char *msg)
{
	gt_event_emit(api, pod, "Warning", "FailedScheduling", msg, "default-scheduler");
}

static void unschedulable(struct gt_api *api, const json_t *pod, const char *msg)
{
	struct unsched u = { msg, false };
	struct gt_obj *out = NULL;

	if (gt_api_modify(api, gt_registry_find("", "v1", "pods"),
			  gt_json_str(pod, "metadata.namespace"), gt_json_str(pod, "metadata.name"),
			  GT_PART_STATUS, set_unschedulable, &u, NULL, &out, NULL) == 0 && u.changed) {
		gt_info("scheduler: %s/%s: %s", gt_json_str(pod, "metadata.namespace"),
			gt_json_str(pod, "metadata.name"), msg);
		event(api, pod, msg);
	}
	gt_obj_unref(out);
}


#define GANG_LABEL "scheduling.x-k8s.io/pod-group"

/* What one pass works with. */
struct pass_ctx {
	struct gt_api *api;
	struct gt_sched *s;
	const struct gt_objlist *pods, *pvcs, *pvs, *groups;
	struct gt_objlist bound;   /* bound pods the snapshot borrows */
	struct gt_buf why;
	size_t waiting;
	int binds;
};

static const char *gang_of(const json_t *pod)
{
	return json_string_value(json_object_get(gt_json_path(pod, "metadata.labels"), GANG_LABEL));
}

/* Places one pod; returns its node (NULL with ctx->why set). */
static const char *place(struct pass_ctx *c, const json_t *p)
{
	json_t *terms = NULL;
	const char *node = NULL;
	int r;

	r = volume_terms(p, c->pvcs, c->pvs, &terms, &c->why);
	if (r == 0)
		r = gt_sched_pick(c->s, p, terms, &node, &c->why);
	json_decref(terms);
	return r == 0 ? node : NULL;
}

static bool bind(struct pass_ctx *c, struct gt_obj *pod, const char *node)
{
	struct gt_obj *out = NULL;
	struct gt_err err;

	gt_err_clear(&err);
	if (gt_api_bind(c->api, gt_json_str(pod->obj, "metadata.namespace"),
			gt_json_str(pod->obj, "metadata.name"), node, &out, &err) < 0) {
		gt_debug("scheduler: binding %s to %s: %s", pod->key, node, err.msg);
		c->waiting++; /* try again on the next pass */
		return false;
	}
	gt_grow((void **)&c->bound.items, &c->bound.cap, c->bound.n + 1, sizeof(*c->bound.items));
	c->bound.items[c->bound.n++] = out;
	c->binds++;
	return true;
}

static int set_group_status(json_t *obj, void *arg, struct gt_err *err)
{
	json_t *want = arg, *cur = json_object_get(obj, "status");

	(void)err;
	if (cur && gt_json_equal(json_object_get(cur, "phase"), json_object_get(want, "phase")) &&
	    gt_json_equal(json_object_get(cur, "scheduled"), json_object_get(want, "scheduled")))
		return -EALREADY;
	if (!json_is_object(cur)) {
		cur = json_object();
		json_object_set_new(obj, "status", cur);
	}
	json_object_update(cur, want);
	return 0;
}

static void group_status(struct pass_ctx *c, const json_t *pg, const char *phase, int64_t scheduled)
{
	const struct gt_resource *r = gt_registry_find(GT_PODGROUP_GROUP, GT_PODGROUP_VERSION,
						       "podgroups");
	json_t *want = json_pack("{s:s,s:I}", "phase", phase, "scheduled", (json_int_t)scheduled);
	struct gt_obj *out = NULL;

	if (r)
		gt_api_modify(c->api, r, gt_json_str(pg, "metadata.namespace"),
			      gt_json_str(pg, "metadata.name"), GT_PART_STATUS, set_group_status, want,
			      NULL, &out, NULL);
	gt_obj_unref(out);
	gt_resource_unref(r);
	json_decref(want);
}

/*
 * A gang: the pending members of one PodGroup are placed together or not
 * at all.  Enough of them to reach minMember (with those already bound)
 * must fit at once; otherwise nothing is bound and every member says why.
 */
static void place_gang(struct pass_ctx *c, struct gt_obj **queue, size_t nq, size_t first,
		       bool *done)
{
	const json_t *p0 = queue[first]->obj;
	const char *ns = gt_json_str(p0, "metadata.namespace") ?: "", *gang = gang_of(p0);
	const json_t *pg = find_named(c->groups, ns, gang);
	struct gt_obj **m = NULL;
	const char **on = NULL;
	size_t nm = 0, cap = 0, placed = 0, bound = 0;
	int64_t min = 1;
	char msg[512] = "";

	for (size_t j = first; j < nq; j++) {
		const json_t *q = queue[j]->obj;

		if (done[j] || strcmp(gt_json_str(q, "metadata.namespace") ?: "", ns) ||
		    strcmp(gang_of(q) ?: "", gang))
			continue;
		done[j] = true;
		gt_grow((void **)&m, &cap, nm + 1, sizeof(*m));
		m[nm++] = queue[j];
	}
	on = xcalloc(nm, sizeof(*on));
	for (size_t i = 0; i < c->pods->n; i++) {
		const json_t *q = c->pods->items[i]->obj;

		bound += !strcmp(gt_json_str(q, "metadata.namespace") ?: "", ns) &&
			 !strcmp(gang_of(q) ?: "", gang) && gt_json_str(q, "spec.nodeName") &&
			 !gt_pod_finished(q);
	}
	if (!pg) {
		snprintf(msg, sizeof(msg), "pod group \"%s\" not found (PodGroup %s/%s)", gang, ns, gang);
	} else {
		gt_json_int(pg, "spec.minMember", &min);
		if ((int64_t)(bound + nm) < min)
			snprintf(msg, sizeof(msg), "pod group \"%s\" has %zu of its minMember %lld pods",
				 gang, bound + nm, (long long)min);
	}
	if (!msg[0]) {
		const char *first_why = NULL;
		char whybuf[300] = "";

		for (size_t i = 0; i < nm; i++) {
			on[i] = place(c, m[i]->obj);
			if (on[i]) {
				gt_sched_assume(c->s, m[i]->obj, on[i]);
				placed++;
			} else if (!first_why) {
				snprintf(whybuf, sizeof(whybuf), "%s", c->why.data);
				first_why = whybuf;
			}
		}
		if ((int64_t)(bound + placed) < min) {
			for (size_t i = 0; i < nm; i++)
				if (on[i])
					gt_sched_forget(c->s, m[i]->obj, on[i]);
			snprintf(msg, sizeof(msg), "pod group \"%s\": only %zu of %lld pods fit at once; "
				 "none is bound. %s", gang, bound + placed, (long long)min,
				 first_why ? first_why : "");
		} else {
			for (size_t i = 0; i < nm; i++) {
				if (on[i] && bind(c, m[i], on[i]))
					bound++;
				else if (!on[i]) {
					unschedulable(c->api, m[i]->obj, first_why ? first_why : "");
					c->waiting++;
				}
			}
			group_status(c, pg, "Scheduled", (int64_t)bound);
		}
	}
	if (msg[0]) {
		for (size_t i = 0; i < nm; i++)
			unschedulable(c->api, m[i]->obj, msg);
		c->waiting += nm;
		if (pg)
			group_status(c, pg, "Pending", (int64_t)bound);
	}
	free(on);
	free(m);
}

static int pass(struct gt_api *api, size_t *waiting)
{
	struct gt_objlist nodes = { 0 }, pods = { 0 }, pvcs = { 0 }, pvs = { 0 }, groups = { 0 };
	struct pass_ctx c = { .api = api, .pods = &pods, .pvcs = &pvcs, .pvs = &pvs,
			      .groups = &groups };
	struct gt_obj **queue = NULL;
	bool *done;
	size_t nq = 0;

	*waiting = 0;
	gt_objlist_load(api, "core/pods/", &pods);
	for (size_t i = 0; i < pods.n; i++)
		nq += pending(pods.items[i]->obj);
	if (!nq) {
		gt_objlist_release(&pods);
		return 0;
	}
	gt_objlist_load(api, "core/nodes/", &nodes);
	gt_objlist_load(api, "core/persistentvolumeclaims/", &pvcs);
	gt_objlist_load(api, "core/persistentvolumes/", &pvs);
	{
		const struct gt_resource *r = gt_registry_find(GT_PODGROUP_GROUP, GT_PODGROUP_VERSION,
							       "podgroups");
		char pre[300];

		if (r) {
			gt_resource_key_prefix(r, pre, sizeof(pre));
			strncat(pre, "/", sizeof(pre) - strlen(pre) - 1);
			gt_objlist_load(api, pre, &groups);
			gt_resource_unref(r);
		}
	}
	c.s = gt_sched_new(NULL);
	for (size_t i = 0; i < nodes.n; i++)
		gt_sched_add_node(c.s, nodes.items[i]->obj);
	queue = xcalloc(nq, sizeof(*queue));
	done = xcalloc(nq, sizeof(*done));
	nq = 0;
	for (size_t i = 0; i < pods.n; i++) {
		const json_t *p = pods.items[i]->obj;

		if (pending(p))
			queue[nq++] = pods.items[i];
		else if (!gt_pod_finished(p))
			gt_sched_add_pod(c.s, p);
	}
	qsort(queue, nq, sizeof(*queue), by_priority);
	gt_buf_init(&c.why);
	for (size_t i = 0; i < nq; i++) {
		const char *node;

		if (done[i])
			continue;
		if (gang_of(queue[i]->obj)) {
			place_gang(&c, queue, nq, i, done);
			continue;
		}
		done[i] = true;
		node = place(&c, queue[i]->obj);
		if (!node) {
			unschedulable(api, queue[i]->obj, c.why.data);
			c.waiting++;
			continue;
		}
		/* the snapshot borrows the pending pod until the pass ends */
		if (bind(&c, queue[i], node))
			gt_sched_assume(c.s, queue[i]->obj, node);
	}
	*waiting = c.waiting;
	gt_sched_free(c.s);
	gt_buf_release(&c.why);
	free(queue);
	free(done);
	gt_objlist_release(&c.bound);
	gt_objlist_release(&groups);
	gt_objlist_release(&pvs);
	gt_objlist_release(&pvcs);
	gt_objlist_release(&nodes);
	gt_objlist_release(&pods);
	return c.binds;
}

int gt_scheduler_pass(struct gt_api *api)
{
	size_t waiting;

	return pass(api, &waiting);
}

/*
 * Whether an event can change what a pass would do: a new pending pod, or,
 * while pods wait, anything that may free or add room for them (pods,
 * nodes, claims, volumes).  Other writes cost the scheduler nothing.
 */
static bool relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	static const char *const prefixes[] = { "core/nodes/", "core/persistentvolumeclaims/",
						"core/persistentvolumes/", "core/pods/" };

	(void)ctx;
	if (!strncmp(ev->obj->key, "core/pods/", 10) && ev->type != GT_EVENT_DELETED &&
	    pending(ev->obj->obj))
		return true;
	for (size_t i = 0; waiting && i < GT_ARRAY_SIZE(prefixes); i++)
		if (!strncmp(ev->obj->key, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static int loop_pass(struct gt_api *api, void *ctx)
{
	size_t waiting;

	(void)ctx;
	pass(api, &waiting);
	return waiting > 0;
}

/* Serves PodGroup: creates its CRD unless one exists (a user's is kept). */
static void ensure_podgroup_crd(struct gt_api *api)
{
	static const char crd[] =
		"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		"\"metadata\":{\"name\":\"podgroups.scheduling.x-k8s.io\"},\"spec\":{"
		"\"group\":\"scheduling.x-k8s.io\",\"scope\":\"Namespaced\",\"names\":{"
		"\"kind\":\"PodGroup\",\"listKind\":\"PodGroupList\",\"plural\":\"podgroups\","
		"\"singular\":\"podgroup\",\"shortNames\":[\"pg\",\"pgs\"]},\"versions\":[{"
		"\"name\":\"v1alpha1\",\"served\":true,\"storage\":true,"
		"\"subresources\":{\"status\":{}},\"schema\":{\"openAPIV3Schema\":{"
		"\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}},"
		"\"additionalPrinterColumns\":["
		"{\"name\":\"Phase\",\"type\":\"string\",\"jsonPath\":\".status.phase\"},"
		"{\"name\":\"MinMember\",\"type\":\"integer\",\"jsonPath\":\".spec.minMember\"},"
		"{\"name\":\"Scheduled\",\"type\":\"integer\",\"jsonPath\":\".status.scheduled\"},"
		"{\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"}]}]}}";
	const struct gt_resource *r = gt_registry_find("apiextensions.k8s.io", "v1",
						       "customresourcedefinitions");
	struct gt_obj *out = NULL;
	struct gt_err err;
	json_t *obj = json_loads(crd, 0, NULL);
	int rc;

	gt_err_clear(&err);
	rc = obj && r ? gt_api_create(api, r, "", obj, NULL, &out, &err) : -EINVAL;
	if (rc < 0 && rc != -EEXIST)
		gt_warn("scheduler: cannot serve PodGroup (gangs): %s", err.msg);
	gt_obj_unref(out);
	gt_resource_unref(r);
}

int gt_scheduler_start(struct gt_api *api, struct gt_scheduler **out, struct gt_err *err)
{
	struct gt_scheduler *sc = xcalloc(1, sizeof(*sc));

	ensure_podgroup_crd(api);
	sc->loop = (struct gt_loop){ .api = api, .relevant = relevant, .pass = loop_pass,
				     .retry_ms = 5000 };
	if (gt_loop_start(&sc->loop, err) < 0) {
		free(sc);
		return -EAGAIN;
	}
	*out = sc;
	return 0;
}

void gt_scheduler_stop(struct gt_scheduler *sc)
{
	if (!sc)
		return;
	gt_loop_stop(&sc->loop);
	free(sc);
}
