/*
 * statefulset.c - the StatefulSet controller, as Kubernetes behaves:
 * pods "<sts>-<ordinal>" for ordinals start..start+replicas-1
 * (spec.ordinals.start, 0 by default) with hostname "<sts>-<ordinal>" and
 * subdomain spec.serviceName, the labels statefulset.kubernetes.io/pod-name,
 * apps.kubernetes.io/pod-index and controller-revision-hash (the
 * ControllerRevision's name, revision.c), and for each volumeClaimTemplate
 * a claim "<template>-<sts>-<ordinal>" created before the pod and mounted
 * in place of the template's volume.
 *
 * OrderedReady (the default) creates an ordinal only once those below it
 * are Running and available (Ready for spec.minReadySeconds), and removes
 * surplus pods from the highest ordinal, one at a time, only while the
 * others are healthy; Parallel does both at once.  A finished
 * (Failed/Succeeded) pod is deleted and comes back under the same name with
 * the same claims.  RollingUpdate replaces pods whose revision is not the
 * update revision from the highest ordinal down to
 * spec.updateStrategy.rollingUpdate.partition, at most maxUnavailable (1)
 * unavailable at a time; OnDelete replaces only what users delete.  Claims
 * stay when pods go, unless persistentVolumeClaimRetentionPolicy says
 * Delete (whenScaled: deleted with the ordinal; whenDeleted: owned by the
 * StatefulSet, so the garbage collector takes them with it).
 *
 * Status: replicas, readyReplicas, availableReplicas, currentReplicas,
 * updatedReplicas, currentRevision, updateRevision (equal once a rolling
 * update is complete), observedGeneration, collisionCount (0: hashes are
 * not re-salted).  Orphans named like its pods that match its selector are
 * adopted, as Kubernetes does.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/selector.h"
#include "base/log.h"
#include "controllers/controllers.h"

#define POD_NAME_LABEL "statefulset.kubernetes.io/pod-name"
#define POD_INDEX_LABEL "apps.kubernetes.io/pod-index"
#define REV_LABEL "controller-revision-hash"
#define MAX_ORDINAL 100000
#define COMPONENT "statefulset-controller"

struct sts {
	struct gt_api *api;
	const json_t *set;
	const char *ns, *name;
	const json_t **slot;     /* pods by ordinal */
	size_t nslot;
	int64_t replicas, start;     /* ordinals start..start+replicas-1 */
	int64_t partition;           /* 0 unless RollingUpdate */
	int64_t min_ready;           /* spec.minReadySeconds */
	time_t now;
	bool *later;                 /* set: a pod becomes available with time */
	const char *urev, *crev; /* update and current revision names */
	const json_t *utpl, *ctpl;
	const struct gt_objlist *pvcs;
};

/* Running and available (Ready for minReadySeconds): what ordered progress waits for. */
static bool healthy(const struct sts *s, const json_t *pod)
{
	return pod && gt_pod_active(pod) &&
	       !strcmp(gt_json_str(pod, "status.phase") ?: "", "Running") &&
	       gt_pod_available(pod, s->min_ready, s->now, s->later);
}

/* Deletes one of the set's pods, with an event as Kubernetes records it. */
static void delete_pod(const struct sts *s, const json_t *pod, int64_t grace)
{
	if (gt_delete_obj(s->api, "", "pods", pod, grace) == 0)
		gt_record_event(s->api, s->set, "Normal", "SuccessfulDelete", COMPONENT,
				"delete Pod %s in StatefulSet %s successful",
				gt_json_str(pod, "metadata.name") ?: "", s->name);
}

static bool is_replica(const struct sts *s, int64_t ord)
{
	return ord >= s->start && ord < s->start + s->replicas;
}

static const char *label(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(gt_json_path(obj, "metadata.labels"), key));
}

/* The ordinal of a pod named "<sts>-<n>", or -1. */
static int64_t ordinal_of(const char *sts, const char *pod)
{
	size_t l = strlen(sts);
	char *end;
	long long v;

	if (strncmp(pod, sts, l) || pod[l] != '-' || pod[l + 1] < '0' || pod[l + 1] > '9')
		return -1;
	v = strtoll(pod + l + 1, &end, 10);
	return *end || v > MAX_ORDINAL || (v > 0 && pod[l + 1] == '0') ? -1 : v;
}

static void claim_name(const struct sts *s, const json_t *tpl, int64_t ord, char *out, size_t n)
{
	snprintf(out, n, "%.63s-%.180s-%lld", gt_json_str(tpl, "metadata.name") ?: "", s->name,
		 (long long)ord);
}

static const json_t *find_claim(const struct sts *s, const char *name)
{
	for (size_t i = 0; i < s->pvcs->n; i++) {
		const json_t *c = s->pvcs->items[i]->obj;

		if (!strcmp(gt_json_str(c, "metadata.namespace") ?: "", s->ns) &&
		    !strcmp(gt_json_str(c, "metadata.name") ?: "", name))
			return c;
	}
	return NULL;
}

static int create_claim(const struct sts *s, const json_t *tpl, const char *name)
{
	json_t *labels = json_deep_copy(gt_json_path(s->set, "spec.selector.matchLabels"));
	json_t *pvc = json_pack("{s:s,s:s,s:{s:s},s:o*}", "apiVersion", "v1", "kind",
				"PersistentVolumeClaim", "metadata", "name", name, "spec",
				json_deep_copy(json_object_get(tpl, "spec")));
	struct gt_obj *out = NULL;
	struct gt_err err;
	int rc;

	if (!json_is_object(labels)) {
		json_decref(labels);
		labels = json_object();
	}
	json_object_update(labels, gt_json_path(tpl, "metadata.labels"));
	gt_json_set(pvc, "metadata.labels", labels);
	if (json_is_object(gt_json_path(tpl, "metadata.annotations")))
		gt_json_set(pvc, "metadata.annotations",
			    json_deep_copy(gt_json_path(tpl, "metadata.annotations")));
	if (!strcmp(gt_json_str(s->set, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted") ?:
		    "Retain", "Delete"))
		gt_json_set(pvc, "metadata.ownerReferences",
			    json_pack("[o]", gt_owner_ref(s->set, "StatefulSet", true)));
	gt_err_clear(&err);
	rc = gt_api_create(s->api, gt_registry_find("", "v1", "persistentvolumeclaims"), s->ns, pvc,
			   NULL, &out, &err);
	gt_obj_unref(out);
	if (rc == 0)
		gt_record_event(s->api, s->set, "Normal", "SuccessfulCreate", COMPONENT,
				"create Claim %s for StatefulSet %s success", name, s->name);
	if (rc < 0 && rc != -EEXIST)
		gt_warn("statefulset %s/%s: cannot create claim %s: %s", s->ns, s->name, name, err.msg);
	return rc == -EEXIST ? 0 : rc;
}

/* The pod's volume named like the claim template now names the ordinal's claim. */
static void mount_claim(json_t *pod, const char *vol, const char *claim)
{
	json_t *vols = gt_json_path(pod, "spec.volumes"), *v;
	size_t i;

	if (!json_is_array(vols)) {
		vols = json_array();
		gt_json_set(pod, "spec.volumes", vols);
	}
	json_array_foreach(vols, i, v)
		if (!strcmp(gt_json_str(v, "name") ?: "", vol)) {
			json_array_remove(vols, i);
			break;
		}
	json_array_append_new(vols, json_pack("{s:s,s:{s:s}}", "name", vol, "persistentVolumeClaim",
					      "claimName", claim));
}

static int create_pod(const struct sts *s, int64_t ord, bool current)
{
	json_t *pod = gt_pod_from_template(s->set, "StatefulSet", current ? s->ctpl : s->utpl);
	json_t *labels = gt_json_path(pod, "metadata.labels"), *t;
	const char *svc = gt_json_str(s->set, "spec.serviceName");
	struct gt_obj *out = NULL;
	struct gt_err err;
	char name[300], idx[24], claim[300];
	size_t i;
	int rc;

	snprintf(name, sizeof(name), "%.240s-%lld", s->name, (long long)ord);
	snprintf(idx, sizeof(idx), "%lld", (long long)ord);
	json_array_foreach(gt_json_path(s->set, "spec.volumeClaimTemplates"), i, t) {
		claim_name(s, t, ord, claim, sizeof(claim));
		if (!find_claim(s, claim) && create_claim(s, t, claim) < 0) {
			json_decref(pod);
			return -EAGAIN;
		}
		mount_claim(pod, gt_json_str(t, "metadata.name") ?: "", claim);
	}
	gt_json_set_str(pod, "metadata.name", name);
	json_object_set_new(labels, POD_NAME_LABEL, json_string(name));
	json_object_set_new(labels, POD_INDEX_LABEL, json_string(idx));
	json_object_set_new(labels, REV_LABEL, json_string(current ? s->crev : s->urev));
	gt_json_set_str(pod, "spec.hostname", name);
	if (svc && *svc)
		gt_json_set_str(pod, "spec.subdomain", svc);
	gt_err_clear(&err);
	rc = gt_api_create(s->api, gt_registry_find("", "v1", "pods"), s->ns, pod, NULL, &out, &err);
	gt_obj_unref(out);
	if (rc == 0)
		gt_record_event(s->api, s->set, "Normal", "SuccessfulCreate", COMPONENT,
				"create Pod %s in StatefulSet %s successful", name, s->name);
	if (rc < 0 && rc != -EEXIST)
		gt_warn("statefulset %s/%s: cannot create pod %s: %s", s->ns, s->name, name, err.msg);
	return rc;
}

/* Claims of ordinals >= replicas with no pod left (whenScaled: Delete). */
static void drop_scaled_claims(const struct sts *s)
{
	const json_t *t;
	size_t i;

	if (strcmp(gt_json_str(s->set, "spec.persistentVolumeClaimRetentionPolicy.whenScaled") ?:
		   "Retain", "Delete"))
		return;
	for (size_t k = 0; k < s->pvcs->n; k++) {
		const json_t *c = s->pvcs->items[k]->obj;
		const char *cn = gt_json_str(c, "metadata.name") ?: "";

		if (strcmp(gt_json_str(c, "metadata.namespace") ?: "", s->ns) ||
		    gt_json_path(c, "metadata.deletionTimestamp"))
			continue;
		json_array_foreach(gt_json_path(s->set, "spec.volumeClaimTemplates"), i, t) {
			const char *tn = gt_json_str(t, "metadata.name") ?: "";
			size_t l = strlen(tn);
			int64_t ord;

			if (strncmp(cn, tn, l) || cn[l] != '-')
				continue;
			ord = ordinal_of(s->name, cn + l + 1);
			if (ord >= 0 && !is_replica(s, ord) && ((size_t)ord >= s->nslot || !s->slot[ord]))
				gt_delete_obj(s->api, "", "persistentvolumeclaims", c, -1);
		}
	}
}

/* Creates missing ordinals and removes surplus ones; returns whether all replicas are healthy. */
static bool scale(const struct sts *s, bool ordered, int *more)
{
	bool blocked = false;

	for (int64_t ord = s->start; ord < s->start + s->replicas; ord++) {
		const json_t *p = s->slot[ord];

		if (!p) {
			if (ordered && blocked)
				break;
			/* below the partition: the current revision, else the update revision */
			if (create_pod(s, ord, ord < s->start + s->partition) < 0)
				gt_debug("statefulset %s/%s: ordinal %lld not created", s->ns, s->name,
					 (long long)ord);
			*more = 1;
			blocked = true;
			continue;
		}
		if (!healthy(s, p)) {
			*more = 1;
			blocked = true;
		}
	}
	/* the condemned: outside the range, highest ordinal first */
	for (int64_t ord = (int64_t)s->nslot - 1; ord >= 0; ord--) {
		const json_t *p = s->slot[ord];

		if (!p || is_replica(s, ord))
			continue;
		*more = 1;
		if (gt_json_path(p, "metadata.deletionTimestamp")) {
			if (ordered)
				break;
			continue;
		}
		if (ordered && blocked)
			break;
		delete_pod(s, p, -1);
		if (ordered)
			break;
	}
	drop_scaled_claims(s);
	return !blocked;
}

/* RollingUpdate: outdated pods go from the highest ordinal down to the partition. */
static void roll(const struct sts *s, int64_t max_unavailable)
{
	int64_t unavailable = 0;

	for (int64_t ord = s->start; ord < s->start + s->replicas; ord++)
		unavailable += !healthy(s, s->slot[ord]);
	for (int64_t ord = s->start + s->replicas - 1; ord >= s->start + s->partition; ord--) {
		const json_t *p = s->slot[ord];

		if (!p || gt_json_path(p, "metadata.deletionTimestamp") ||
		    !strcmp(label(p, REV_LABEL) ?: "", s->urev))
			continue;
		if (unavailable >= max_unavailable && healthy(s, p))
			break;
		unavailable += healthy(s, p);
		delete_pod(s, p, -1);
	}
}

static void set_status(const struct sts *s, int more)
{
	int64_t n = 0, ready = 0, avail = 0, cur = 0, upd = 0, gen = 0;
	const char *crev = s->crev;
	json_t *want;
	struct gt_obj *out = NULL;

	for (size_t i = 0; i < s->nslot; i++) {
		const json_t *p = s->slot[i];

		if (!p || !gt_pod_active(p))
			continue;
		n++;
		ready += gt_pod_is_ready(p);
		avail += gt_pod_available(p, s->min_ready, s->now, s->later);
		cur += !strcmp(label(p, REV_LABEL) ?: "", s->crev);
		upd += !strcmp(label(p, REV_LABEL) ?: "", s->urev);
	}
	/* a finished rolling update: the update revision becomes the current one */
	if (!strcmp(gt_json_str(s->set, "spec.updateStrategy.type") ?: "RollingUpdate",
		    "RollingUpdate") && upd == n && ready == n && n == s->replicas && !more) {
		crev = s->urev;
		cur = upd;
	}
	gt_json_int(s->set, "metadata.generation", &gen);
	want = json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:I,s:i}", "replicas", (json_int_t)n,
			 "readyReplicas", (json_int_t)ready, "availableReplicas", (json_int_t)avail,
			 "currentReplicas", (json_int_t)cur, "updatedReplicas", (json_int_t)upd,
			 "currentRevision", crev, "updateRevision", s->urev, "observedGeneration",
			 (json_int_t)gen, "collisionCount", 0);
	gt_api_modify(s->api, gt_registry_find("apps", "v1", "statefulsets"), s->ns, s->name,
		      GT_PART_STATUS, gt_status_merge, want, NULL, &out, NULL);
	gt_obj_unref(out);
	json_decref(want);
}

/* The pods the set controls, by ordinal; finished ones are deleted (and come back). */
static void load_pods(struct sts *s, const struct gt_objlist *pods, const struct gt_labelsel *sel,
		      int *more)
{
	const char *uid = gt_json_str(s->set, "metadata.uid") ?: "";
	size_t cap = 0;

	for (size_t i = 0; i < pods->n; i++) {
		const json_t *p = pods->items[i]->obj;
		int64_t ord;

		if (strcmp(gt_json_str(p, "metadata.namespace") ?: "", s->ns))
			continue;
		ord = ordinal_of(s->name, gt_json_str(p, "metadata.name") ?: "");
		/* orphans named like its pods and matching the selector are adopted */
		if (ord < 0 || strcmp(gt_pod_controller(s->api, p, s->set, "StatefulSet", sel) ?: "", uid))
			continue;
		if (gt_pod_finished(p) && !gt_json_path(p, "metadata.deletionTimestamp")) {
			delete_pod(s, p, 0);
			*more = 1;
		}
		if ((size_t)ord >= s->nslot) {
			size_t old = s->nslot;

			gt_grow((void **)&s->slot, &cap, (size_t)ord + 1, sizeof(*s->slot));
			memset(s->slot + old, 0, ((size_t)ord + 1 - old) * sizeof(*s->slot));
			s->nslot = (size_t)ord + 1;
		}
		s->slot[ord] = p;
	}
	if (s->nslot < (size_t)(s->start + s->replicas)) {
		size_t old = s->nslot, want = (size_t)(s->start + s->replicas);

		gt_grow((void **)&s->slot, &cap, want, sizeof(*s->slot));
		memset(s->slot + old, 0, (want - old) * sizeof(*s->slot));
		s->nslot = want;
	}
}

static const json_t *named(const json_t **revs, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (!strcmp(gt_json_str(revs[i], "metadata.name") ?: "", name))
			return revs[i];
	return NULL;
}

static int sync_one(struct gt_api *api, const json_t *set, const struct gt_objlist *pods,
		    const struct gt_objlist *crs, const struct gt_objlist *pvcs)
{
	struct sts s = { .api = api, .set = set, .pvcs = pvcs, .replicas = 1 };
	const json_t **owned = NULL, *crev;
	const json_t *ru = gt_json_path(set, "spec.updateStrategy.rollingUpdate");
	bool rolling = !strcmp(gt_json_str(set, "spec.updateStrategy.type") ?: "RollingUpdate",
			       "RollingUpdate");
	bool ordered = strcmp(gt_json_str(set, "spec.podManagementPolicy") ?: "", "Parallel");
	struct gt_labelsel *sel = NULL;
	bool later = false;
	struct gt_obj *urev;
	size_t nowned = 0;
	int64_t limit = 10;
	char hash[16];
	int more = 0;

	s.ns = gt_json_str(set, "metadata.namespace") ?: "";
	s.name = gt_json_str(set, "metadata.name") ?: "";
	if (gt_json_path(set, "metadata.deletionTimestamp") || !gt_json_str(set, "metadata.uid"))
		return 0; /* the garbage collector takes its pods */
	gt_json_int(set, "spec.replicas", &s.replicas);
	gt_json_int(set, "spec.ordinals.start", &s.start);
	gt_json_int(set, "spec.minReadySeconds", &s.min_ready);
	if (s.replicas < 0 || s.start < 0 || s.start + s.replicas > MAX_ORDINAL)
		return 0;
	s.now = time(NULL);
	s.later = &later;
	sel = gt_owner_selector(set); /* NULL (validation refuses those): adopt nothing */
	urev = gt_revision_sync(api, set, "StatefulSet", sel, crs, hash, &owned, &nowned);
	if (!urev) {
		gt_labelsel_free(sel);
		free(owned);
		return 1;
	}
	s.urev = gt_json_str(urev->obj, "metadata.name");
	s.utpl = gt_revision_template(urev->obj);
	crev = named(owned, nowned, gt_json_str(set, "status.currentRevision"));
	s.crev = crev ? gt_json_str(crev, "metadata.name") : s.urev;
	s.ctpl = crev ? gt_revision_template(crev) : s.utpl;
	if (rolling)
		gt_json_int(ru, "partition", &s.partition);
	load_pods(&s, pods, sel, &more);
	if (scale(&s, ordered, &more) || !ordered) {
		if (rolling)
			roll(&s, gt_int_or_pct(json_object_get(ru, "maxUnavailable"), s.replicas, 1, false) ?: 1);
	}
	set_status(&s, more);
	more |= later;
	{
		const char *live[2 + 64];
		size_t nlive = 0;

		live[nlive++] = s.urev;
		live[nlive++] = s.crev;
		for (size_t i = 0; i < s.nslot && nlive < sizeof(live) / sizeof(*live); i++)
			if (s.slot[i])
				live[nlive++] = label(s.slot[i], REV_LABEL);
		gt_json_int(set, "spec.revisionHistoryLimit", &limit);
		gt_revision_trim(api, owned, nowned, limit, live, nlive);
	}
	gt_labelsel_free(sel);
	gt_obj_unref(urev);
	free(owned);
	free(s.slot);
	return more;
}

int gt_sts_pass(struct gt_api *api, void *ctx)
{
	struct gt_objlist sets = { 0 }, pods = { 0 }, crs = { 0 }, pvcs = { 0 };
	int more = 0;

	(void)ctx;
	gt_objlist_load(api, "apps/statefulsets/", &sets);
	if (sets.n) {
		gt_objlist_load(api, "core/pods/", &pods);
		gt_objlist_load(api, "apps/controllerrevisions/", &crs);
		gt_objlist_load(api, "core/persistentvolumeclaims/", &pvcs);
	}
	for (size_t i = 0; i < sets.n; i++)
		more |= sync_one(api, sets.items[i]->obj, &pods, &crs, &pvcs);
	gt_objlist_release(&pvcs);
	gt_objlist_release(&crs);
	gt_objlist_release(&pods);
	gt_objlist_release(&sets);
	return more;
}

bool gt_sts_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	const char *k = ev->obj->key;

	(void)ctx;
	(void)waiting;
	return !strncmp(k, "apps/statefulsets/", 18) || !strncmp(k, "apps/controllerrevisions/", 25) ||
	       !strncmp(k, "core/persistentvolumeclaims/", 28) ||
	       (!strncmp(k, "core/pods/", 10) && gt_json_path(ev->obj->obj, "metadata.ownerReferences"));
}
