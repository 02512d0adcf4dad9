/*
 * noexec.c - the NoExecute taint manager (kube-controller-manager's
 * taint-eviction controller): a pod bound to a node with a NoExecute taint
 * it does not tolerate is deleted at once; one that tolerates every such
 * taint, some with tolerationSeconds, is deleted once the smallest of those
 * has passed since the taint was added (the latest timeAdded); one that
 * tolerates them all without a limit stays.  Before the delete the pod gets
 * a DisruptionTarget condition (reason DeletionByTaintManager).
 *
 * The delete is an ordinary one with the pod's grace period: on a node
 * whose agent is gone nobody confirms it, so the pod stays Terminating
 * until the node comes back (its agent then stops it) or is deleted (the
 * pod GC removes it).  Its ReplicaSet does not count a terminating pod and
 * makes a replacement, which the scheduler keeps off the tainted node.
 */
#include <string.h>

#include "base/log.h"
#include "controllers/controllers.h"
#include "sched/sched.h"

/*
 * When pod must go: -1 never, else the unix time (0: now).  A pod
 * tolerating a taint with tolerationSeconds <= 0 goes at once.
 */
static time_t deadline(const json_t *pod, const json_t *taints)
{
	int64_t min = -1;
	time_t latest = 0;
	const json_t *t;
	size_t i;
	bool any = false;

	json_array_foreach(taints, i, t) {
		const json_t *tol;
		const char *added = gt_json_str(t, "timeAdded");
		time_t ta = 0;
		int64_t secs;

		if (strcmp(gt_json_str(t, "effect") ?: "", "NoExecute"))
			continue;
		any = true;
		tol = gt_sched_toleration(pod, gt_json_str(t, "key") ?: "", gt_json_str(t, "value") ?: "",
					 "NoExecute");
		if (!tol)
			return 0;
		if (gt_json_int(tol, "tolerationSeconds", &secs) == 0) {
			if (secs <= 0)
				return 0;
			if (min < 0 || secs < min)
				min = secs;
		}
		if (added && gt_time_parse(added, &ta) == 0 && ta > latest)
			latest = ta;
	}
	if (!any || min < 0)
		return -1;
	return latest + (time_t)min;
}

int gt_noexec_pass(struct gt_api *api, const struct gt_objlist *nodes,
		   const struct gt_objlist *pods, time_t now)
{
	const struct gt_resource *pr = gt_registry_find("", "v1", "pods");
	bool tainted = false;
	int waiting = 0;

	for (size_t i = 0; i < nodes->n && !tainted; i++) {
		const json_t *t;
		size_t k;

		json_array_foreach(gt_json_path(nodes->items[i]->obj, "spec.taints"), k, t)
			tainted |= !strcmp(gt_json_str(t, "effect") ?: "", "NoExecute");
	}
	if (!tainted)
		return 0;
	for (size_t i = 0; i < pods->n; i++) {
		const json_t *p = pods->items[i]->obj;
		const char *node = gt_json_str(p, "spec.nodeName");
		struct gt_obj *n;
		struct gt_obj *out = NULL;
		time_t when;
		bool gone;

		if (!node || gt_json_path(p, "metadata.deletionTimestamp") || gt_pod_finished(p) ||
		    !(n = gt_objlist_find(nodes, "core/nodes/", node)))
			continue;
		when = deadline(p, gt_json_path(n->obj, "spec.taints"));
		if (when < 0)
			continue;
		if (when > now) {
			waiting = 1;
			continue;
		}
		gt_info("taint manager: evicting %s/%s from node %s (NoExecute taint)",
			gt_json_str(p, "metadata.namespace"), gt_json_str(p, "metadata.name"), node);
		{
			char msg[600];

			snprintf(msg, sizeof(msg), "Marking for deletion Pod %s/%s",
				 gt_json_str(p, "metadata.namespace") ?: "",
				 gt_json_str(p, "metadata.name") ?: "");
			gt_record_event(api, p, "Normal", "TaintManagerEviction", "taint-eviction-controller", "%s", msg);
		}
		gt_pod_set_condition(api, p, "DisruptionTarget", "True", "DeletionByTaintManager",
				     "Taint manager: deleting due to NoExecute taint");
		gt_api_delete(api, pr, gt_json_str(p, "metadata.namespace") ?: "",
			      gt_json_str(p, "metadata.name") ?: "", NULL, &out, &gone, NULL);
		gt_obj_unref(out);
	}
	return waiting;
}
