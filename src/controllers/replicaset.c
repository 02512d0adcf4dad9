/*
 * replicaset.c - the ReplicaSet controller: each ReplicaSet keeps
 * spec.replicas active pods (not finished, not being deleted) that it
 * controls (ownerReferences with controller: true and its uid), creating
 * them from spec.template (name "<rs>-<5 random>", its labels, the owner
 * reference) or deleting the surplus (not yet bound first, then not ready,
 * then the newest), and reports status: replicas, fullyLabeledReplicas,
 * readyReplicas, availableReplicas (ready for spec.minReadySeconds),
 * observedGeneration.  Orphans matching
 * the selector are adopted, as Kubernetes does.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/policy.h"
#include "api/selector.h"
#include "base/log.h"
#include "controllers/controllers.h"

static int create_pod(struct gt_api *api, const json_t *rs)
{
	const char *ns = gt_json_str(rs, "metadata.namespace");
	json_t *pod = gt_pod_from_template(rs, "ReplicaSet", gt_json_path(rs, "spec.template"));
	struct gt_obj *out = NULL;
	struct gt_err err;
	char gen[300];
	int rc;

	snprintf(gen, sizeof(gen), "%.200s-", gt_json_str(rs, "metadata.name") ?: "rs");
	gt_json_set_str(pod, "metadata.generateName", gen);
	gt_err_clear(&err);
	rc = gt_api_create(api, gt_registry_find("", "v1", "pods"), ns, pod, NULL, &out, &err);
	if (rc < 0)
		gt_warn("replicaset %s/%s: cannot create a pod: %s", ns,
			gt_json_str(rs, "metadata.name"), err.msg);
	gt_obj_unref(out);
	return rc;
}

/* Deletion order: unbound, then not ready, then newest first. */
static int victim_order(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	int bx = gt_json_str(x, "spec.nodeName") != NULL, by = gt_json_str(y, "spec.nodeName") != NULL;
	int rx = gt_pod_is_ready(x), ry = gt_pod_is_ready(y);

	if (bx != by)
		return bx - by;
	if (rx != ry)
		return rx - ry;
	return strcmp(gt_json_str(y, "metadata.creationTimestamp") ?: "",
		      gt_json_str(x, "metadata.creationTimestamp") ?: "");
}

struct rs_status {
	int64_t replicas, labeled, ready, available, generation;
};

static int set_status(json_t *obj, void *ctx, struct gt_err *err)
{
	const struct rs_status *st = ctx;
	json_t *want = json_pack("{s:I,s:I,s:I,s:I,s:I}", "replicas", (json_int_t)st->replicas,
				 "fullyLabeledReplicas", (json_int_t)st->labeled, "readyReplicas",
				 (json_int_t)st->ready, "availableReplicas",
				 (json_int_t)st->available, "observedGeneration",
				 (json_int_t)st->generation);
	json_t *cur = json_object_get(obj, "status");

	(void)err;
	if (json_is_object(cur)) {
		json_t *merged = json_deep_copy(cur);

		json_object_update(merged, want);
		if (gt_json_equal(merged, cur)) {
			json_decref(merged);
			json_decref(want);
			return -EALREADY;
		}
		json_decref(merged);
	}
	if (!json_is_object(cur)) {
		cur = json_object();
		json_object_set_new(obj, "status", cur);
	}
	json_object_update(cur, want);
	json_decref(want);
	return 0;
}

static int sync_one(struct gt_api *api, const json_t *rs, const struct gt_objlist *pods)
{
	const struct gt_resource *pr = gt_registry_find("", "v1", "pods");
	const char *ns = gt_json_str(rs, "metadata.namespace") ?: "", *uid = gt_json_str(rs, "metadata.uid");
	struct gt_labelsel *sel = NULL;
	const json_t **mine = NULL;
	size_t n = 0, cap = 0;
	struct rs_status st = { 0 };
	int64_t want = 1;
	struct gt_obj *out = NULL;
	int more = 0;

	if (!(sel = gt_owner_selector(rs)))
		return 0; /* validation refuses these; nothing safe to do */
	gt_json_int(rs, "spec.replicas", &want);
	for (size_t i = 0; i < pods->n; i++) {
		const json_t *p = pods->items[i]->obj;
		const char *cu;

		if (strcmp(gt_json_str(p, "metadata.namespace") ?: "", ns) ||
		    !gt_labelsel_match(sel, gt_json_path(p, "metadata.labels")))
			continue;
		cu = gt_pod_controller(api, p, rs, "ReplicaSet", sel);
		if (!cu || !uid || strcmp(cu, uid) || !gt_pod_active(p))
			continue;
		gt_grow((void **)&mine, &cap, n + 1, sizeof(*mine));
		mine[n++] = p;
	}
	gt_labelsel_free(sel);
	if (!gt_json_path(rs, "metadata.deletionTimestamp")) {
		for (int64_t k = (int64_t)n; k < want; k++)
			if (create_pod(api, rs) < 0) {
				more = 1;
				break;
			}
		if ((int64_t)n > want) {
			qsort(mine, n, sizeof(*mine), victim_order);
			for (size_t k = 0; k < n - (size_t)want; k++) {
				bool gone;

				gt_api_delete(api, pr, ns, gt_json_str(mine[k], "metadata.name"), NULL, &out,
					      &gone, NULL);
				gt_obj_unref(out);
				out = NULL;
			}
		}
	}
	st.replicas = (int64_t)n;
	st.labeled = (int64_t)n;
	{
		int64_t min_ready = 0;
		bool later = false;

		gt_json_int(rs, "spec.minReadySeconds", &min_ready);
		for (size_t k = 0; k < n; k++) {
			st.ready += gt_pod_is_ready(mine[k]);
			st.available += gt_pod_available(mine[k], min_ready, time(NULL), &later);
		}
		more |= later; /* look again once they have been ready long enough */
	}
	gt_json_int(rs, "metadata.generation", &st.generation);
	gt_api_modify(api, gt_registry_find("apps", "v1", "replicasets"), ns,
		      gt_json_str(rs, "metadata.name"), GT_PART_STATUS, set_status, &st, NULL, &out,
		      NULL);
	gt_obj_unref(out);
	free(mine);
	return more;
}

int gt_rs_pass(struct gt_api *api, void *ctx)
{
	struct gt_objlist rss = { 0 }, pods = { 0 };
	int more = 0;

	(void)ctx;
	gt_objlist_load(api, "apps/replicasets/", &rss);
	if (rss.n)
		gt_objlist_load(api, "core/pods/", &pods);
	for (size_t i = 0; i < rss.n; i++)
		more |= sync_one(api, rss.items[i]->obj, &pods);
	gt_objlist_release(&pods);
	gt_objlist_release(&rss);
	return more;
}

bool gt_rs_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	(void)ctx;
	(void)waiting;
	if (!strncmp(ev->obj->key, "apps/replicasets/", 17))
		return true;
	/* a pod of some ReplicaSet (or an orphan it may adopt) changed */
	return !strncmp(ev->obj->key, "core/pods/", 10) &&
	       (gt_json_path(ev->obj->obj, "metadata.ownerReferences") || ev->type != GT_EVENT_DELETED);
}
