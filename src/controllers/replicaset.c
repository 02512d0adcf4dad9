/*
 * replicaset.c - the ReplicaSet controller: each ReplicaSet keeps
 * spec.replicas active pods (not finished, not being deleted) that it
 * controls (ownerReferences with controller: true and its uid), creating
 * them from spec.template (name "<rs>-<5 random>", its labels, the owner
 * reference) or deleting the surplus (not yet bound first, then not ready,
 * then the newest), and reports status: replicas, fullyLabeledReplicas,
 * readyReplicas, availableReplicas, observedGeneration.  Orphans matching
 * the selector are adopted, as Kubernetes does.
 */
#include <stdlib.h>
#include <string.h>

#include "api/policy.h"
#include "api/selector.h"
#include "base/log.h"
#include "controllers/controllers.h"

static bool active(const json_t *pod)
{
	return !gt_pod_finished(pod) && !gt_json_path(pod, "metadata.deletionTimestamp");
}

static json_t *owner_ref(const json_t *rs)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", "apps/v1", "kind", "ReplicaSet",
			 "name", gt_json_str(rs, "metadata.name") ?: "",
			 "uid", gt_json_str(rs, "metadata.uid") ?: "", "controller", 1,
			 "blockOwnerDeletion", 1);
}

static int adopt(json_t *obj, void *ctx, struct gt_err *err)
{
	json_t *refs = gt_json_path(obj, "metadata.ownerReferences");

	(void)err;
	if (gt_controller_uid(obj))
		return -EALREADY;
	if (!json_is_array(refs)) {
		refs = json_array();
		gt_json_set(obj, "metadata.ownerReferences", refs);
	}
	json_array_append_new(refs, owner_ref(ctx));
	return 0;
}

static int create_pod(struct gt_api *api, const json_t *rs)
{
	const char *ns = gt_json_str(rs, "metadata.namespace");
	const json_t *tpl = gt_json_path(rs, "spec.template");
	/* copies: the stored ReplicaSet is immutable, and the pod is changed below */
	json_t *pod = json_pack("{s:s,s:s,s:o*,s:o*}", "apiVersion", "v1", "kind", "Pod", "metadata",
				json_deep_copy(json_object_get(tpl, "metadata")), "spec",
				json_deep_copy(json_object_get(tpl, "spec")));
	json_t *meta;
	struct gt_obj *out = NULL;
	struct gt_err err;
	char gen[300];
	int rc;

	if (!json_object_get(pod, "metadata"))
		json_object_set_new(pod, "metadata", json_object());
	meta = json_object_get(pod, "metadata");
	json_object_del(meta, "name");
	json_object_del(meta, "namespace");
	snprintf(gen, sizeof(gen), "%.200s-", gt_json_str(rs, "metadata.name") ?: "rs");
	json_object_set_new(meta, "generateName", json_string(gen));
	json_object_set_new(meta, "ownerReferences", json_pack("[o]", owner_ref(rs)));
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

	if (gt_labelsel_from_object(gt_json_path(rs, "spec.selector"), &sel, NULL) < 0 ||
	    gt_labelsel_empty(sel)) {
		gt_labelsel_free(sel);
		return 0; /* validation refuses these; nothing safe to do */
	}
	gt_json_int(rs, "spec.replicas", &want);
	for (size_t i = 0; i < pods->n; i++) {
		const json_t *p = pods->items[i]->obj;
		const char *cu = gt_controller_uid(p);

		if (strcmp(gt_json_str(p, "metadata.namespace") ?: "", ns) ||
		    !gt_labelsel_match(sel, gt_json_path(p, "metadata.labels")))
			continue;
		if (!cu && active(p) && !gt_json_path(rs, "metadata.deletionTimestamp")) {
			/* an orphan that matches: adopt it */
			if (gt_api_modify(api, pr, ns, gt_json_str(p, "metadata.name"), GT_PART_MAIN, adopt,
					  (void *)rs, NULL, &out, NULL) == 0) {
				gt_obj_unref(out);
				out = NULL;
				cu = uid;
			}
		}
		if (!cu || !uid || strcmp(cu, uid) || !active(p))
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
	for (size_t k = 0; k < n; k++)
		st.ready += gt_pod_is_ready(mine[k]);
	st.available = st.ready;
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
