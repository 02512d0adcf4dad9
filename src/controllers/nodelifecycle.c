/*
 * nodelifecycle.c - the node lifecycle controller, as kube-controller-
 * manager's: it watches each node's heartbeats (its Lease in
 * kube-node-lease being renewed, or the Ready condition's
 * lastHeartbeatTime moving) and, like Kubernetes, times them by when it
 * observed the change, not by the agent's clock.  A node silent for longer
 * than the grace period gets its conditions set to Unknown
 * (NodeStatusUnknown, "Kubelet stopped posting node status.") and its pods'
 * Ready condition False.  Taints follow the Ready condition: Unknown ->
 * node.kubernetes.io/unreachable, False -> node.kubernetes.io/not-ready,
 * each NoSchedule and NoExecute (timeAdded on the latter); True -> none.
 * The agent posting status again makes the node Ready and the taints go.
 *
 * The same pass runs the NoExecute taint manager (noexec.c) and the pod
 * GC of orphans: pods bound to a node that no longer exists are deleted at
 * once (grace 0: nobody is left to stop them) after the node has been
 * missing for the grace period (Kubernetes' quarantine), with a
 * DisruptionTarget condition (DeletionByPodGC).
 */
#include <stdlib.h>
#include <string.h>

#include "api/policy.h"
#include "base/log.h"
#include "controllers/controllers.h"

#define TAINT_UNREACHABLE "node.kubernetes.io/unreachable"
#define TAINT_NOT_READY "node.kubernetes.io/not-ready"

struct obs {
	char *name;
	char *renew, *hb;   /* last seen Lease renewTime and Ready lastHeartbeatTime */
	int64_t seen_ms;    /* when one of them last changed */
};

struct miss {
	char *name;         /* a node that pods name but that does not exist */
	int64_t since_ms;
};

struct gt_nodelc {
	int64_t grace_ms;
	struct obs *obs;    /* sorted by name */
	size_t nobs;
	struct miss *miss;
	size_t nmiss, capmiss;
};

struct gt_nodelc *gt_nodelc_new(int grace_s)
{
	struct gt_nodelc *lc = xcalloc(1, sizeof(*lc));

	lc->grace_ms = (int64_t)(grace_s > 0 ? grace_s : 40) * 1000;
	return lc;
}

static void obs_release(struct obs *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o[i].name);
		free(o[i].renew);
		free(o[i].hb);
	}
	free(o);
}

void gt_nodelc_free(struct gt_nodelc *lc)
{
	if (!lc)
		return;
	obs_release(lc->obs, lc->nobs);
	for (size_t i = 0; i < lc->nmiss; i++)
		free(lc->miss[i].name);
	free(lc->miss);
	free(lc);
}

int gt_nodelc_period_ms(const struct gt_nodelc *lc)
{
	int64_t p = lc->grace_ms / 8;

	/* Kubernetes monitors every 5 s against a 40 s grace */
	return (int)(p < 200 ? 200 : p > 5000 ? 5000 : p);
}

bool gt_nodelc_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	(void)waiting;
	(void)ctx;
	/* heartbeats are read by the periodic pass; a node appearing,
	 * going or changing is worth a pass at once */
	return !strncmp(ev->obj->key, "core/nodes/", 11) && ev->type != GT_EVENT_MODIFIED;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static const json_t *condition(const json_t *obj, const char *type)
{
	const json_t *c;
	size_t i;

	json_array_foreach(gt_json_path(obj, "status.conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", type))
			return c;
	return NULL;
}

/* The Ready condition's status; NULL when the node has none (yet). */
static const char *ready_status(const json_t *node)
{
	const json_t *c = condition(node, "Ready");

	return c ? gt_json_str(c, "status") ?: "Unknown" : NULL;
}

static struct obs *find_obs(struct gt_nodelc *lc, const char *name)
{
	size_t lo = 0, hi = lc->nobs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(lc->obs[mid].name, name);

		if (!c)
			return &lc->obs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- node writes ---- */

struct unknown_ctx {
	const char *now;
	const struct obs *seen;
};

static int set_unknown(json_t *obj, void *ctx, struct gt_err *err)
{
	const struct unknown_ctx *uc = ctx;
	json_t *conds = gt_json_path(obj, "status.conditions"), *c;
	const char *now = uc->now;
	bool changed = false;
	size_t i;

	(void)err;
	/* the agent posted status since we looked: it is alive after all */
	if (!same(gt_json_str(condition(obj, "Ready"), "lastHeartbeatTime"), uc->seen->hb))
		return -ECANCELED;
	if (!json_is_array(conds)) {
		conds = json_array();
		gt_json_set(obj, "status.conditions", conds);
	}
	if (!condition(obj, "Ready")) {
		changed = true;
		json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "Ready",
						       "status", "Unknown", "reason",
						       "NodeStatusNeverUpdated", "message",
						       "Kubelet never posted node status.",
						       "lastHeartbeatTime", now, "lastTransitionTime", now));
	}
	json_array_foreach(conds, i, c) {
		if (!strcmp(gt_json_str(c, "status") ?: "", "Unknown"))
			continue;
		/* lastHeartbeatTime stays: it says when the agent was last heard */
		gt_json_set_str(c, "status", "Unknown");
		gt_json_set_str(c, "reason", "NodeStatusUnknown");
		gt_json_set_str(c, "message", "Kubelet stopped posting node status.");
		gt_json_set_str(c, "lastTransitionTime", now);
		changed = true;
	}
	return changed ? 0 : -EALREADY;
}

static bool is_ours(const json_t *t)
{
	const char *k = gt_json_str(t, "key") ?: "";
	const char *e = gt_json_str(t, "effect") ?: "";

	return (!strcmp(k, TAINT_UNREACHABLE) || !strcmp(k, TAINT_NOT_READY)) &&
	       (!strcmp(e, "NoSchedule") || !strcmp(e, "NoExecute"));
}

static bool has_taint(const json_t *taints, const char *key, const char *effect)
{
	const json_t *t;
	size_t i;

	json_array_foreach(taints, i, t)
		if (!strcmp(gt_json_str(t, "key") ?: "", key) &&
		    !strcmp(gt_json_str(t, "effect") ?: "", effect))
			return true;
	return false;
}

/* The taint the Ready condition calls for (NULL: none; *known false: no
 * Ready condition posted yet, leave the taints alone). */
static const char *wanted_taint(const json_t *node, bool *known)
{
	const char *rs = ready_status(node);

	*known = rs != NULL;
	if (rs && !strcmp(rs, "Unknown"))
		return TAINT_UNREACHABLE;
	if (rs && !strcmp(rs, "False"))
		return TAINT_NOT_READY;
	return NULL;
}

/* Makes spec.taints carry exactly the taints the Ready condition calls for. */
static int sync_taints(json_t *obj, void *ctx, struct gt_err *err)
{
	json_t *taints = gt_json_path(obj, "spec.taints"), *keep, *t;
	bool changed = false, known;
	const char *want = wanted_taint(obj, &known);
	char now[32];
	size_t i;

	(void)ctx;
	(void)err;
	if (!known)
		return -EALREADY; /* not posted yet: nothing to follow */
	keep = json_array();
	json_array_foreach(taints, i, t) {
		if (is_ours(t) && (!want || strcmp(gt_json_str(t, "key"), want)))
			changed = true; /* dropped */
		else
			json_array_append(keep, t);
	}
	gt_time_rfc3339(time(NULL), now);
	if (want && !has_taint(keep, want, "NoSchedule")) {
		json_array_append_new(keep, json_pack("{s:s,s:s}", "key", want, "effect", "NoSchedule"));
		changed = true;
	}
	if (want && !has_taint(keep, want, "NoExecute")) {
		json_array_append_new(keep, json_pack("{s:s,s:s,s:s}", "key", want, "effect",
						      "NoExecute", "timeAdded", now));
		changed = true;
	}
	if (!changed) {
		json_decref(keep);
		return -EALREADY;
	}
	if (json_array_size(keep))
		gt_json_set(obj, "spec.taints", keep);
	else {
		json_decref(keep);
		json_object_del(json_object_get(obj, "spec"), "taints");
	}
	return 0;
}

/* Whether sync_taints would change nothing (read-only, no copy). */
static bool taints_right(const json_t *node)
{
	const json_t *taints = gt_json_path(node, "spec.taints"), *t;
	bool known;
	const char *want = wanted_taint(node, &known);
	size_t i;

	if (!known)
		return true;
	json_array_foreach(taints, i, t)
		if (is_ours(t) && (!want || strcmp(gt_json_str(t, "key"), want)))
			return false;
	return !want || (has_taint(taints, want, "NoSchedule") && has_taint(taints, want, "NoExecute"));
}

/* ---- pods ---- */

/* Pods bound to a node that is gone (after the quarantine): deleted at once. */
static int gc_orphans(struct gt_api *api, struct gt_nodelc *lc, const struct gt_objlist *nodes,
		      const struct gt_objlist *pods, int64_t now)
{
	const struct gt_resource *pr = gt_registry_find("", "v1", "pods");
	struct gt_delete_opts force = { .grace = 0 };
	size_t n = 0;
	int waiting = 0;

	for (size_t i = 0; i < pods->n; i++) {
		const json_t *p = pods->items[i]->obj;
		const char *node = gt_json_str(p, "spec.nodeName");
		struct miss *m = NULL;
		struct gt_obj *out = NULL;
		bool gone;

		if (!node || !*node || gt_objlist_find(nodes, "core/nodes/", node))
			continue;
		for (size_t k = 0; k < lc->nmiss && !m; k++)
			if (!strcmp(lc->miss[k].name, node))
				m = &lc->miss[k];
		if (!m) {
			gt_grow((void **)&lc->miss, &lc->capmiss, lc->nmiss + 1, sizeof(*lc->miss));
			m = &lc->miss[lc->nmiss++];
			m->name = xstrdup(node);
			m->since_ms = now;
		}
		if (now - m->since_ms < lc->grace_ms) {
			waiting = 1;
			continue;
		}
		gt_info("pod gc: deleting %s/%s of node %s, which no longer exists",
			gt_json_str(p, "metadata.namespace"), gt_json_str(p, "metadata.name"), node);
		if (!gt_pod_finished(p))
			gt_pod_set_condition(api, p, "DisruptionTarget", "True", "DeletionByPodGC",
					     "PodGC: node no longer exists");
		gt_api_delete(api, pr, gt_json_str(p, "metadata.namespace") ?: "",
			      gt_json_str(p, "metadata.name") ?: "", &force, &out, &gone, NULL);
		gt_obj_unref(out);
	}
	/* forget missing nodes that came back or that no pod names any more */
	for (size_t k = 0; k < lc->nmiss; k++) {
		bool named = false;

		for (size_t i = 0; i < pods->n && !named; i++)
			named = same(gt_json_str(pods->items[i]->obj, "spec.nodeName"), lc->miss[k].name);
		if (named && !gt_objlist_find(nodes, "core/nodes/", lc->miss[k].name))
			lc->miss[n++] = lc->miss[k];
		else
			free(lc->miss[k].name);
	}
	lc->nmiss = n;
	return waiting;
}

/* Pods of nodes that went Unknown are not Ready any more (MarkPodsNotReady). */
static void pods_not_ready(struct gt_api *api, const struct gt_objlist *nodes,
			   const struct gt_objlist *pods)
{
	for (size_t i = 0; i < pods->n; i++) {
		const json_t *p = pods->items[i]->obj;
		const char *node = gt_json_str(p, "spec.nodeName");
		struct gt_obj *n;

		if (!node || !gt_pod_is_ready(p) || !(n = gt_objlist_find(nodes, "core/nodes/", node)) ||
		    strcmp(ready_status(n->obj) ?: "", "Unknown"))
			continue;
		if (gt_pod_set_condition(api, p, "Ready", "False", NULL, NULL) == 0)
			gt_record_event(api, p, "Warning", "NodeNotReady", "node-controller", "%s", "Node is not ready");
	}
}

/* ---- the pass ---- */

static void observe(struct gt_nodelc *lc, const struct gt_objlist *nodes,
		    const struct gt_objlist *leases, int64_t now)
{
	struct obs *fresh = xcalloc(nodes->n ? nodes->n : 1, sizeof(*fresh));

	for (size_t i = 0; i < nodes->n; i++) {
		const json_t *node = nodes->items[i]->obj;
		const char *name = gt_json_str(node, "metadata.name") ?: "";
		struct gt_obj *lease = gt_objlist_find(leases, "coordination.k8s.io/leases/kube-node-lease/", name);
		const char *renew = lease ? gt_json_str(lease->obj, "spec.renewTime") : NULL;
		const char *hb = gt_json_str(condition(node, "Ready"), "lastHeartbeatTime");
		struct obs *old = find_obs(lc, name);

		fresh[i].name = xstrdup(name);
		fresh[i].renew = renew ? xstrdup(renew) : NULL;
		fresh[i].hb = hb ? xstrdup(hb) : NULL;
		/* a node seen for the first time gets a full grace period */
		fresh[i].seen_ms = old && same(old->renew, renew) && same(old->hb, hb) ? old->seen_ms : now;
	}
	obs_release(lc->obs, lc->nobs);
	lc->obs = fresh;
	lc->nobs = nodes->n;
}

int gt_nodelc_pass(struct gt_api *api, void *ctx)
{
	const struct gt_resource *nr = gt_registry_find("", "v1", "nodes");
	struct gt_nodelc *lc = ctx;
	struct gt_objlist nodes = { 0 }, leases = { 0 }, pods = { 0 };
	int64_t now = gt_now_ms();
	bool wrote = false;
	char ts[32];

	gt_objlist_load(api, "core/nodes/", &nodes);
	gt_objlist_load(api, "coordination.k8s.io/leases/kube-node-lease/", &leases);
	observe(lc, &nodes, &leases, now);
	gt_time_rfc3339(time(NULL), ts);
	for (size_t i = 0; i < nodes.n; i++) {
		const json_t *node = nodes.items[i]->obj;
		const char *name = lc->obs[i].name;
		struct gt_obj *out = NULL;
		struct unknown_ctx uc = { ts, &lc->obs[i] };
		bool unknown = false;

		if (now - lc->obs[i].seen_ms > lc->grace_ms &&
		    strcmp(ready_status(node) ?: "", "Unknown") &&
		    gt_api_modify(api, nr, "", name, GT_PART_STATUS, set_unknown, &uc, NULL, &out,
				  NULL) == 0) {
			char msg[400];

			gt_info("node %s: no heartbeat for %llds, status Unknown", name,
				(long long)(now - lc->obs[i].seen_ms) / 1000);
			snprintf(msg, sizeof(msg), "Node %s status is now: NodeNotReady", name);
			gt_record_event(api, node, "Normal", "NodeNotReady", "node-controller", "%s", msg);
			wrote = unknown = true;
		}
		gt_obj_unref(out);
		out = NULL;
		if (unknown || !taints_right(node)) {
			if (gt_api_modify(api, nr, "", name, GT_PART_MAIN, sync_taints, NULL, NULL, &out,
					  NULL) == 0) {
				wrote = true;
				if (!strcmp(ready_status(out->obj) ?: "", "True")) {
					char msg[400];

					gt_info("node %s: Ready again, taints removed", name);
					snprintf(msg, sizeof(msg), "Node %s status is now: NodeReady", name);
					gt_record_event(api, out->obj, "Normal", "NodeReady", "node-controller", "%s", msg);
				}
			}
			gt_obj_unref(out);
		}
	}
	if (wrote) {
		/* read back what was written: taints and conditions decide below */
		gt_objlist_release(&nodes);
		gt_objlist_load(api, "core/nodes/", &nodes);
	}
	gt_objlist_load(api, "core/pods/", &pods);
	pods_not_ready(api, &nodes, &pods);
	gt_noexec_pass(api, &nodes, &pods, time(NULL));
	gc_orphans(api, lc, &nodes, &pods, now);
	gt_objlist_release(&pods);
	gt_objlist_release(&leases);
	gt_objlist_release(&nodes);
	return 1; /* heartbeats are checked every period */
}
