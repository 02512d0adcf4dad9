/*
 * pvc.c - claim protection and the local-path provisioner.
 *
 * Protection: a claim being deleted keeps its kubernetes.io/pvc-protection
 * finalizer (added on create) while a pod that is not finished uses it.
 *
 * Provisioner: every pending PersistentVolumeClaim
 * (no volumeName, storage class unset or "local-path") gets a
 * PersistentVolume "pvc-<uid>" whose hostPath lies under the embedded node
 * agent's pv directory (created by the agent on first use), pinned to that
 * node, and is bound to it; a deleted claim's volume is deleted with it
 * (reclaim policy Delete).  Remote agents with other root directories are
 * not served yet (see docs/agent.md).
 */
#include <string.h>

#include "base/log.h"
#include "controllers/controllers.h"

static int set_volume(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	gt_json_set_str(obj, "spec.volumeName", ctx);
	return 0;
}

static int set_bound(json_t *obj, void *ctx, struct gt_err *err)
{
	json_t *pvc = ctx;

	(void)err;
	/* copies: pvc is a stored (immutable) object */
	gt_json_set(obj, "status", json_pack("{s:s,s:o*,s:o*}", "phase", "Bound", "accessModes",
					     json_deep_copy(gt_json_path(pvc, "spec.accessModes")),
					     "capacity",
					     json_deep_copy(gt_json_path(pvc, "spec.resources.requests"))));
	return 0;
}

static int set_pv_bound(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	(void)ctx;
	gt_json_set(obj, "status", json_pack("{s:s}", "phase", "Bound"));
	return 0;
}

static int provision(struct gt_api *api, const struct gt_controllers_config *cfg,
		     const json_t *pvc)
{
	const struct gt_resource *pvr = gt_registry_find("", "v1", "persistentvolumes");
	const struct gt_resource *pvcr = gt_registry_find("", "v1", "persistentvolumeclaims");
	const char *ns = gt_json_str(pvc, "metadata.namespace"), *name = gt_json_str(pvc, "metadata.name");
	const char *uid = gt_json_str(pvc, "metadata.uid");
	char pvname[128], path[4096];
	struct gt_obj *out = NULL;
	struct gt_err err;
	json_t *pv;
	int r;

	snprintf(pvname, sizeof(pvname), "pvc-%s", uid);
	snprintf(path, sizeof(path), "%s/%s", cfg->pv_root, pvname);
	pv = json_pack("{s:{s:s,s:{s:s}},s:{s:o*,s:o*,s:s,s:s,s:{s:s,s:s},"
		       "s:{s:s,s:s,s:s,s:s},s:{s:{s:[{s:[{s:s,s:s,s:[s]}]}]}}}}",
		       "metadata", "name", pvname, "annotations", "pv.kubernetes.io/provisioned-by",
		       "gantry.dev/local-path",
		       "spec", "capacity", json_deep_copy(gt_json_path(pvc, "spec.resources.requests")),
		       "accessModes", json_deep_copy(gt_json_path(pvc, "spec.accessModes")),
		       "persistentVolumeReclaimPolicy", "Delete",
		       "storageClassName", gt_json_str(pvc, "spec.storageClassName") ?: "local-path",
		       "hostPath", "path", path, "type", "DirectoryOrCreate",
		       "claimRef", "kind", "PersistentVolumeClaim", "namespace", ns, "name", name, "uid", uid,
		       "nodeAffinity", "required", "nodeSelectorTerms", "matchExpressions", "key",
		       "kubernetes.io/hostname", "operator", "In", "values", cfg->node_name);
	if (!pv)
		return 0;
	if (!json_object_get(json_object_get(pv, "spec"), "capacity"))
		gt_json_set(pv, "spec.capacity", json_pack("{s:s}", "storage", "1Gi"));
	gt_err_clear(&err);
	r = gt_api_create(api, pvr, "", pv, NULL, &out, &err);
	gt_obj_unref(out);
	out = NULL;
	if (r < 0 && r != -EEXIST) {
		gt_warn("local-path: cannot create %s for %s/%s: %s", pvname, ns, name, err.msg);
		return 0;
	}
	gt_api_modify(api, pvr, "", pvname, GT_PART_STATUS, set_pv_bound, NULL, NULL, &out, NULL);
	gt_obj_unref(out);
	out = NULL;
	if (gt_api_modify(api, pvcr, ns, name, GT_PART_MAIN, set_volume, pvname, NULL, &out, &err) == 0) {
		gt_obj_unref(out);
		out = NULL;
		gt_api_modify(api, pvcr, ns, name, GT_PART_STATUS, set_bound, (void *)pvc, NULL, &out, NULL);
		gt_obj_unref(out);
		gt_info("local-path: bound %s/%s to %s", ns, name, pvname);
		return 1;
	}
	gt_warn("local-path: cannot bind %s/%s to %s: %s", ns, name, pvname, err.msg);
	return 0;
}

/* Whether a pod of namespace ns that has not finished mounts claim name. */
static bool claim_in_use(const struct gt_objlist *pods, const char *ns, const char *name)
{
	for (size_t i = 0; i < pods->n; i++) {
		const json_t *p = pods->items[i]->obj;
		json_t *v;
		size_t k;

		if (strcmp(gt_json_str(p, "metadata.namespace") ?: "", ns) || gt_pod_finished(p))
			continue;
		json_array_foreach(gt_json_path(p, "spec.volumes"), k, v)
			if (!strcmp(gt_json_str(v, "persistentVolumeClaim.claimName") ?: "", name))
				return true;
	}
	return false;
}

static int protect(struct gt_api *api, const struct gt_objlist *c)
{
	const struct gt_resource *pvcr = gt_registry_find("", "v1", "persistentvolumeclaims");
	struct gt_objlist pods = { 0 };
	int writes = 0;

	for (size_t i = 0; i < c->n; i++) {
		const json_t *o = c->items[i]->obj;
		const char *ns = gt_json_str(o, "metadata.namespace") ?: "";
		const char *name = gt_json_str(o, "metadata.name") ?: "";
		if (!gt_json_path(o, "metadata.deletionTimestamp") ||
		    !gt_has_finalizer(o, GT_FINALIZER_PVC_PROTECTION))
			continue;
		if (!pods.items)
			gt_objlist_load(api, "core/pods/", &pods);
		if (!claim_in_use(&pods, ns, name)) {
			struct gt_obj *out = NULL;

			if (gt_api_modify(api, pvcr, ns, name, GT_PART_MAIN, gt_drop_finalizer,
					  GT_FINALIZER_PVC_PROTECTION, NULL,
					  &out, NULL) == 0)
				writes++;
			gt_obj_unref(out);
		}
	}
	gt_objlist_release(&pods);
	return writes;
}

int gt_pvc_pass(struct gt_api *api, const struct gt_controllers_config *cfg)
{
	struct gt_objlist c = { 0 }, pvs = { 0 };
	int writes = 0;

	gt_objlist_load(api, "core/persistentvolumeclaims/", &c);
	writes += protect(api, &c);
	if (!cfg || !cfg->pv_root || !cfg->node_name)
		goto out;
	for (size_t i = 0; i < c.n; i++) {
		const json_t *o = c.items[i]->obj;
		const char *sc = gt_json_str(o, "spec.storageClassName");

		if (!gt_json_str(o, "spec.volumeName") && !gt_json_path(o, "metadata.deletionTimestamp") &&
		    (!sc || !strcmp(sc, "local-path")))
			writes += provision(api, cfg, o);
	}
	/* Reclaim: volumes we provisioned whose claim is gone. */
	gt_objlist_load(api, "core/persistentvolumes/", &pvs);
	for (size_t i = 0; i < pvs.n; i++) {
		const json_t *pv = pvs.items[i]->obj;
		const char *ns = gt_json_str(pv, "spec.claimRef.namespace");
		const char *name = gt_json_str(pv, "spec.claimRef.name");
		const char *uid = gt_json_str(pv, "spec.claimRef.uid");
		bool found = false;

		if (strcmp(json_string_value(json_object_get(gt_json_path(pv, "metadata.annotations"),
							     "pv.kubernetes.io/provisioned-by")) ?: "",
			   "gantry.dev/local-path") || !ns || !name)
			continue;
		for (size_t k = 0; k < c.n && !found; k++)
			found = !strcmp(gt_json_str(c.items[k]->obj, "metadata.uid") ?: "", uid ?: "");
		if (!found) {
			struct gt_obj *out = NULL;
			bool gone;

			if (gt_api_delete(api, gt_registry_find("", "v1", "persistentvolumes"), "",
					  gt_json_str(pv, "metadata.name"), NULL, &out, &gone, NULL) == 0)
				writes++;
			gt_obj_unref(out);
		}
	}
out:
	gt_objlist_release(&c);
	gt_objlist_release(&pvs);
	return writes;
}
