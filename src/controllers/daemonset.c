/*
 * daemonset.c - the DaemonSet controller, as Kubernetes behaves: one pod
 * ("<ds>-<random>") on every node where it should run (the template's
 * nodeSelector and required node affinity match the node, its tolerations
 * cover the node's NoSchedule/NoExecute taints: gt_sched_daemon_fits;
 * a pod already there stays under a new NoSchedule taint, not NoExecute),
 * pinned there the way Kubernetes pins it (required node affinity
 * replaced by matchFields metadata.name In [node]) and bound by the
 * scheduler, with the DaemonSet default tolerations added
 * (node.kubernetes.io/not-ready and unreachable NoExecute with no
 * tolerationSeconds; disk-pressure, memory-pressure, pid-pressure and
 * unschedulable NoSchedule, so cordoned nodes keep theirs;
 * network-unavailable too for hostNetwork pods).  Pods on nodes that are
 * gone or no longer eligible are deleted, failed ones replaced, extras
 * removed (the oldest stays).  Orphans bound or pinned to a node that match
 * the selector are adopted, as Kubernetes does.
 *
 * Pods carry controller-revision-hash (the ControllerRevision's hash,
 * revision.c) and pod-template-generation.  RollingUpdate: with maxSurge 0
 * old pods are deleted while at most maxUnavailable (1) nodes lack an
 * available pod (Ready for spec.minReadySeconds); with maxSurge the new pod starts next to the old one on
 * up to maxSurge nodes and the old one goes once the new one is Ready
 * (both ints or percentages of the desired nodes, rounded up).  OnDelete:
 * only deleted pods come back new.
 *
 * Status: desiredNumberScheduled, currentNumberScheduled,
 * numberMisscheduled, numberReady, numberAvailable (Ready for
 * minReadySeconds), numberUnavailable, updatedNumberScheduled (the oldest
 * pod on the node is of the current revision), observedGeneration.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/selector.h"
#include "base/log.h"
#include "controllers/controllers.h"
#include "sched/sched.h"

#define REV_LABEL "controller-revision-hash"
#define GEN_LABEL "pod-template-generation"
#define COMPONENT "daemonset-controller"

static const struct {
	const char *key, *effect;
} default_tolerations[] = {
	{ "node.kubernetes.io/not-ready", "NoExecute" },
	{ "node.kubernetes.io/unreachable", "NoExecute" },
	{ "node.kubernetes.io/disk-pressure", "NoSchedule" },
	{ "node.kubernetes.io/memory-pressure", "NoSchedule" },
	{ "node.kubernetes.io/pid-pressure", "NoSchedule" },
	{ "node.kubernetes.io/unschedulable", "NoSchedule" },
	{ "node.kubernetes.io/network-unavailable", "NoSchedule" }, /* hostNetwork only */
};

struct ds {
	struct gt_api *api;
	const json_t *set;
	const char *ns, *name, *hash;
	const json_t *tpl;
	int64_t min_ready; /* spec.minReadySeconds */
	time_t now;
	bool *later;       /* set: a pod becomes available with time */
};

/* One node's view: its daemon pods (active ones), and whether one belongs there. */
struct node_pods {
	const json_t *node;
	const char *name;
	bool fits, stays, terminating; /* should run; one there may stay */
	const json_t **pods; /* active, oldest first */
	size_t n, cap;
};

static const char *label(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(gt_json_path(obj, "metadata.labels"), key));
}

static void add_toleration(json_t *spec, const char *key, const char *effect)
{
	json_t *tols = json_object_get(spec, "tolerations"), *t;
	size_t i;

	if (!json_is_array(tols)) {
		tols = json_array();
		json_object_set_new(spec, "tolerations", tols);
	}
	json_array_foreach(tols, i, t)
		if (!strcmp(gt_json_str(t, "key") ?: "", key) &&
		    !strcmp(gt_json_str(t, "effect") ?: "", effect))
			return;
	json_array_append_new(tols, json_pack("{s:s,s:s,s:s}", "key", key, "operator", "Exists",
					      "effect", effect));
}

/* The pod the set runs on node (a new object). */
static json_t *new_pod(const struct ds *d, const char *node)
{
	json_t *pod = gt_pod_from_template(d->set, "DaemonSet", d->tpl);
	json_t *spec = json_object_get(pod, "spec"), *labels = gt_json_path(pod, "metadata.labels");
	bool host_net = gt_json_bool(spec, "hostNetwork", false);
	int64_t gen = 0;
	char gens[24], gen_name[300];

	gt_json_int(d->set, "metadata.generation", &gen);
	snprintf(gens, sizeof(gens), "%lld", (long long)gen);
	snprintf(gen_name, sizeof(gen_name), "%.200s-", d->name);
	gt_json_set_str(pod, "metadata.generateName", gen_name);
	json_object_set_new(labels, REV_LABEL, json_string(d->hash));
	json_object_set_new(labels, GEN_LABEL, json_string(gens));
	gt_json_set(pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
		    json_pack("{s:[{s:[{s:s,s:s,s:[s]}]}]}", "nodeSelectorTerms", "matchFields", "key",
			      "metadata.name", "operator", "In", "values", node));
	for (size_t i = 0; i < sizeof(default_tolerations) / sizeof(*default_tolerations); i++)
		if (host_net || strcmp(default_tolerations[i].key, "node.kubernetes.io/network-unavailable"))
			add_toleration(spec, default_tolerations[i].key, default_tolerations[i].effect);
	return pod;
}

static void create_pod(const struct ds *d, const char *node)
{
	json_t *pod = new_pod(d, node);
	struct gt_obj *out = NULL;
	struct gt_err err;

	gt_err_clear(&err);
	if (gt_api_create(d->api, gt_registry_find("", "v1", "pods"), d->ns, pod, NULL, &out, &err) < 0)
		gt_warn("daemonset %s/%s: cannot create a pod for node %s: %s", d->ns, d->name, node,
			err.msg);
	else
		gt_record_event(d->api, d->set, "Normal", "SuccessfulCreate", COMPONENT,
				"Created pod: %s", gt_json_str(out->obj, "metadata.name") ?: "");
	gt_obj_unref(out);
}

/* Deletes one of the set's pods, with an event as Kubernetes records it. */
static void delete_pod(const struct ds *d, const json_t *pod, int64_t grace)
{
	if (gt_delete_obj(d->api, "", "pods", pod, grace) == 0)
		gt_record_event(d->api, d->set, "Normal", "SuccessfulDelete", COMPONENT,
				"Deleted pod: %s", gt_json_str(pod, "metadata.name") ?: "");
}

/* The node a daemon pod is for: spec.nodeName, else its matchFields pin. */
static const char *target_node(const json_t *pod)
{
	const json_t *terms = gt_json_path(pod, "spec.affinity.nodeAffinity."
					   "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
	const json_t *t, *f;
	size_t i, k;

	if (gt_json_str(pod, "spec.nodeName"))
		return gt_json_str(pod, "spec.nodeName");
	json_array_foreach(terms, i, t)
		json_array_foreach(json_object_get(t, "matchFields"), k, f)
			if (!strcmp(gt_json_str(f, "key") ?: "", "metadata.name") &&
			    json_array_size(json_object_get(f, "values")) == 1)
				return json_string_value(json_array_get(json_object_get(f, "values"), 0));
	return NULL;
}

static int by_age(const void *a, const void *b)
{
	return strcmp(gt_json_str(*(const json_t *const *)a, "metadata.creationTimestamp") ?: "",
		      gt_json_str(*(const json_t *const *)b, "metadata.creationTimestamp") ?: "");
}

static bool available(const struct ds *d, const json_t *pod)
{
	return pod && gt_pod_available(pod, d->min_ready, d->now, d->later);
}

static bool is_new(const struct ds *d, const json_t *pod)
{
	return !strcmp(label(pod, REV_LABEL) ?: "", d->hash);
}

/* Groups the set's pods by node; pods for unknown nodes are deleted at once. */
static struct node_pods *group(const struct ds *d, const struct gt_objlist *nodes,
			       const struct gt_objlist *pods, const struct gt_labelsel *sel, int *more)
{
	struct node_pods *np = xcalloc(nodes->n ? nodes->n : 1, sizeof(*np));
	const char *uid = gt_json_str(d->set, "metadata.uid") ?: "";

	for (size_t i = 0; i < nodes->n; i++) {
		json_t *proto = new_pod(d, gt_json_str(nodes->items[i]->obj, "metadata.name") ?: "");

		np[i].node = nodes->items[i]->obj;
		np[i].name = gt_json_str(np[i].node, "metadata.name") ?: "";
		np[i].fits = gt_sched_daemon_fits(np[i].node, proto, false);
		np[i].stays = gt_sched_daemon_fits(np[i].node, proto, true);
		json_decref(proto);
	}
	for (size_t i = 0; i < pods->n; i++) {
		const json_t *p = pods->items[i]->obj;
		const char *node;
		size_t k;

		if (strcmp(gt_json_str(p, "metadata.namespace") ?: "", d->ns) || !(node = target_node(p)) ||
		    strcmp(gt_pod_controller(d->api, p, d->set, "DaemonSet", sel) ?: "", uid))
			continue; /* (orphans for a node that match the selector are adopted) */
		for (k = 0; k < nodes->n && strcmp(np[k].name, node); k++)
			;
		if (k == nodes->n) {
			if (!gt_json_path(p, "metadata.deletionTimestamp"))
				delete_pod(d, p, 0);
			continue;
		}
		if (gt_json_path(p, "metadata.deletionTimestamp")) {
			np[k].terminating = true;
			*more = 1;
		} else if (gt_pod_finished(p)) {
			/* failed (or done): replaced once it is gone */
			delete_pod(d, p, -1);
			np[k].terminating = true;
			*more = 1;
		} else {
			gt_grow((void **)&np[k].pods, &np[k].cap, np[k].n + 1, sizeof(*np[k].pods));
			np[k].pods[np[k].n++] = p;
		}
	}
	for (size_t i = 0; i < nodes->n; i++)
		if (np[i].n > 1)
			qsort(np[i].pods, np[i].n, sizeof(*np[i].pods), by_age);
	return np;
}

/* Pods where there are none, none where none belong, no extras (old+new while surging is no extra). */
static void place(const struct ds *d, struct node_pods *np, size_t n, int *more)
{
	for (size_t i = 0; i < n; i++) {
		struct node_pods *x = &np[i];
		size_t olds = 0, news = 0;

		if (!x->fits) {
			/* a NoSchedule taint keeps new pods off, not the one there */
			for (size_t k = 0; k < x->n && !x->stays; k++)
				delete_pod(d, x->pods[k], -1);
			*more |= x->n > 0 && !x->stays;
			continue;
		}
		if (!x->n) {
			if (!x->terminating) /* else: once the old one is gone */
				create_pod(d, x->name);
			*more = 1;
			continue;
		}
		for (size_t k = 0; k < x->n; k++) {
			bool nw = is_new(d, x->pods[k]);

			/* keep the oldest of each revision */
			if ((nw ? news++ : olds++) > 0) {
				delete_pod(d, x->pods[k], -1);
				*more = 1;
			}
		}
		*more |= !gt_pod_is_ready(x->pods[0]) || x->n > 1;
	}
}

static const json_t *pick(const struct ds *d, const struct node_pods *x, bool nw)
{
	for (size_t k = 0; k < x->n; k++)
		if (is_new(d, x->pods[k]) == nw)
			return x->pods[k];
	return NULL;
}

static void roll(const struct ds *d, struct node_pods *np, size_t n, int *more)
{
	const json_t *ru = gt_json_path(d->set, "spec.updateStrategy.rollingUpdate");
	int64_t desired = 0, unavailable = 0, surging = 0, max_unav, max_surge;

	for (size_t i = 0; i < n; i++) {
		if (!np[i].fits)
			continue;
		desired++;
		unavailable += !np[i].n || !available(d, np[i].pods[0]);
		surging += pick(d, &np[i], true) && pick(d, &np[i], false);
	}
	max_unav = gt_int_or_pct(json_object_get(ru, "maxUnavailable"), desired, 1, true);
	max_surge = gt_int_or_pct(json_object_get(ru, "maxSurge"), desired, 0, true);
	if (!max_unav && !max_surge)
		max_unav = 1;
	for (size_t i = 0; i < n; i++) {
		const json_t *old = np[i].fits ? pick(d, &np[i], false) : NULL;
		const json_t *nw = np[i].fits ? pick(d, &np[i], true) : NULL;

		if (!old)
			continue;
		*more = 1;
		if (nw) {
			if (available(d, nw)) /* surged: the new one took over */
				delete_pod(d, old, -1);
		} else if (!available(d, old)) {
			delete_pod(d, old, -1); /* unavailable anyway */
		} else if (max_surge > 0) {
			if (surging < max_surge) {
				create_pod(d, np[i].name);
				surging++;
			}
		} else if (unavailable < max_unav) {
			delete_pod(d, old, -1);
			unavailable++;
		}
	}
}

static void set_status(const struct ds *d, const struct node_pods *np, size_t n)
{
	int64_t desired = 0, current = 0, mis = 0, ready = 0, avail = 0, updated = 0, gen = 0;
	struct gt_obj *out = NULL;
	json_t *want;

	for (size_t i = 0; i < n; i++) {
		if (!np[i].fits) {
			mis += np[i].n > 0;
			continue;
		}
		desired++;
		if (!np[i].n)
			continue;
		current++;
		ready += gt_pod_is_ready(np[i].pods[0]);
		avail += available(d, np[i].pods[0]);
		updated += is_new(d, np[i].pods[0]);
	}
	gt_json_int(d->set, "metadata.generation", &gen);
	want = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "desiredNumberScheduled",
			 (json_int_t)desired, "currentNumberScheduled", (json_int_t)current,
			 "numberMisscheduled", (json_int_t)mis, "numberReady", (json_int_t)ready,
			 "numberAvailable", (json_int_t)avail, "numberUnavailable",
			 (json_int_t)(desired - avail), "updatedNumberScheduled", (json_int_t)updated,
			 "observedGeneration", (json_int_t)gen);
	gt_api_modify(d->api, gt_registry_find("apps", "v1", "daemonsets"), d->ns, d->name,
		      GT_PART_STATUS, gt_status_merge, want, NULL, &out, NULL);
	gt_obj_unref(out);
	json_decref(want);
}

/* Revisions beyond the history limit go, but not the current one or one a pod runs. */
static void trim(const struct ds *d, const struct gt_obj *rev, const struct node_pods *np, size_t n,
		 const json_t **owned, size_t nowned)
{
	char (*names)[300] = NULL;
	const char **live = NULL;
	size_t nlive = 0, cap = 0, ncap = 0;
	int64_t limit = 10;

	gt_grow((void **)&live, &cap, 1, sizeof(*live));
	live[nlive++] = gt_json_str(rev->obj, "metadata.name");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < np[i].n; k++) {
			gt_grow((void **)&names, &ncap, nlive, sizeof(*names));
			snprintf(names[nlive - 1], sizeof(*names), "%.200s-%.60s", d->name,
				 label(np[i].pods[k], REV_LABEL) ?: "");
			gt_grow((void **)&live, &cap, nlive + 1, sizeof(*live));
			nlive++;
		}
	for (size_t i = 1; i < nlive; i++)
		live[i] = names[i - 1]; /* names may have moved while growing */
	gt_json_int(d->set, "spec.revisionHistoryLimit", &limit);
	gt_revision_trim(d->api, owned, nowned, limit, live, nlive);
	free(names);
	free(live);
}

static int sync_one(struct gt_api *api, const json_t *set, const struct gt_objlist *nodes,
		    const struct gt_objlist *pods, const struct gt_objlist *crs)
{
	struct ds d = { .api = api, .set = set, .now = time(NULL) };
	bool later = false;
	const json_t **owned = NULL;
	struct gt_labelsel *sel = NULL;
	struct node_pods *np;
	struct gt_obj *rev;
	size_t nowned = 0;
	char hash[16];
	int more = 0;

	d.ns = gt_json_str(set, "metadata.namespace") ?: "";
	d.name = gt_json_str(set, "metadata.name") ?: "";
	if (gt_json_path(set, "metadata.deletionTimestamp") || !gt_json_str(set, "metadata.uid"))
		return 0;
	sel = gt_owner_selector(set); /* NULL (validation refuses those): adopt nothing */
	rev = gt_revision_sync(api, set, "DaemonSet", sel, crs, hash, &owned, &nowned);
	if (!rev) {
		gt_labelsel_free(sel);
		free(owned);
		return 1;
	}
	d.hash = hash;
	d.later = &later;
	gt_json_int(set, "spec.minReadySeconds", &d.min_ready);
	d.tpl = gt_json_path(set, "spec.template");
	np = group(&d, nodes, pods, sel, &more);
	place(&d, np, nodes->n, &more);
	if (!strcmp(gt_json_str(set, "spec.updateStrategy.type") ?: "RollingUpdate", "RollingUpdate"))
		roll(&d, np, nodes->n, &more);
	set_status(&d, np, nodes->n);
	more |= later;
	trim(&d, rev, np, nodes->n, owned, nowned);
	gt_labelsel_free(sel);
	for (size_t i = 0; i < nodes->n; i++)
		free(np[i].pods);
	free(np);
	gt_obj_unref(rev);
	free(owned);
	return more;
}

int gt_ds_pass(struct gt_api *api, void *ctx)
{
	struct gt_objlist sets = { 0 }, nodes = { 0 }, pods = { 0 }, crs = { 0 };
	int more = 0;

	(void)ctx;
	gt_objlist_load(api, "apps/daemonsets/", &sets);
	if (sets.n) {
		gt_objlist_load(api, "core/nodes/", &nodes);
		gt_objlist_load(api, "core/pods/", &pods);
		gt_objlist_load(api, "apps/controllerrevisions/", &crs);
	}
	for (size_t i = 0; i < sets.n; i++)
		more |= sync_one(api, sets.items[i]->obj, &nodes, &pods, &crs);
	gt_objlist_release(&crs);
	gt_objlist_release(&pods);
	gt_objlist_release(&nodes);
	gt_objlist_release(&sets);
	return more;
}

bool gt_ds_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	const char *k = ev->obj->key;

	(void)ctx;
	(void)waiting;
	if (!strncmp(k, "core/nodes/", 11))
		return ev->type != GT_EVENT_MODIFIED || !waiting; /* heartbeats: the retry covers them */
	return !strncmp(k, "apps/daemonsets/", 16) || !strncmp(k, "apps/controllerrevisions/", 25) ||
	       (!strncmp(k, "core/pods/", 10) && gt_json_path(ev->obj->obj, "metadata.ownerReferences"));
}
