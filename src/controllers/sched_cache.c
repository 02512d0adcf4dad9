/*
 * sched_cache.c - the scheduler's cache (see scheduler.c): every store
 * event goes through gt_schedc_relevant, which keeps the long-lived
 * snapshot current (nodes set or dropped, bound pods accounted on their
 * nodes, pending pods queued, gang members counted) and says whether a
 * pass may now do something.  Loop thread only.
 */
#include <stdio.h>
#include <string.h>

#include "controllers/sched_ctl.h"

bool gt_schedc_pending(const json_t *pod)
{
	const char *n = gt_json_str(pod, "spec.nodeName"), *sn = gt_json_str(pod, "spec.schedulerName");

	return (!n || !*n) && (!sn || !*sn || !strcmp(sn, "default-scheduler")) &&
	       !gt_json_path(pod, "metadata.deletionTimestamp") && !gt_pod_finished(pod);
}

/* Whether a pod holds room on its node. */
static bool accounted(const json_t *pod)
{
	const char *n = pod ? gt_json_str(pod, "spec.nodeName") : NULL;

	return n && *n && !gt_pod_finished(pod);
}

static int64_t rv_of(const json_t *obj)
{
	int64_t v = 0;

	gt_parse_i64(gt_json_str(obj, "metadata.resourceVersion") ?: "0", &v);
	return v;
}

const char *gt_schedc_gang_of(const json_t *pod)
{
	return json_string_value(json_object_get(gt_json_path(pod, "metadata.labels"),
						 GT_SCHED_GANG_LABEL));
}

bool gt_schedc_gang_key(const json_t *pod, char *out, size_t n)
{
	const char *gang = gt_schedc_gang_of(pod);

	if (!gang)
		return false;
	snprintf(out, n, "%s/%s", gt_json_str(pod, "metadata.namespace") ?: "", gang);
	return true;
}

/* Counts an accounted member of a gang in (delta 1) or out (-1). */
static void gang_count(struct gt_scheduler *sc, const json_t *pod, int delta)
{
	char gk[600];

	if (gt_schedc_gang_key(pod, gk, sizeof(gk)))
		json_object_set_new(sc->gang_bound, gk, json_integer(
			json_integer_value(json_object_get(sc->gang_bound, gk)) + delta));
}

void gt_schedc_put(struct gt_scheduler *sc, const char *key, const json_t *pod)
{
	json_t *old = json_object_get(sc->pods, key);

	json_t *as;

	if (old && pod && rv_of(pod) < rv_of(old))
		return; /* an older state than the one we have */
	as = json_object_get(sc->assumed, key);
	if (as && (!pod || !gt_schedc_pending(pod))) { /* bound (or gone): the assumption is over */
		gt_sched_forget(sc->s, json_object_get(as, "pod"), gt_json_str(as, "node"));
		json_object_del(sc->assumed, key);
		as = NULL;
	}
	json_incref(old);
	if (accounted(old) && accounted(pod) &&
	    !strcmp(gt_json_str(old, "spec.nodeName"), gt_json_str(pod, "spec.nodeName")) &&
	    gt_sched_replace_pod(sc->s, old, pod)) {
		/* a status or label change: same node, same requests */
		json_object_set(sc->pods, key, (json_t *)pod);
		json_decref(old);
		return;
	}
	if (accounted(old)) {
		gt_sched_del_pod(sc->s, old);
		gang_count(sc, old, -1);
		if (!accounted(pod))
			sc->epoch++; /* room freed */
	}
	if (pod) {
		json_object_set(sc->pods, key, (json_t *)pod);
		if (accounted(pod)) {
			gt_sched_add_pod(sc->s, pod);
			gang_count(sc, pod, 1);
		}
		if (gt_schedc_pending(pod) && !as)
			json_object_set(sc->pending, key, (json_t *)pod);
	} else {
		json_object_del(sc->pods, key);
	}
	if (!pod || !gt_schedc_pending(pod)) {
		json_object_del(sc->pending, key);
		json_object_del(sc->failed, key);
		json_object_del(sc->said, key);
	}
	json_decref(old);
}

void gt_schedc_resync(struct gt_scheduler *sc)
{
	struct gt_objlist nodes = { 0 }, pods = { 0 };

	gt_sched_free(sc->s);
	sc->s = gt_sched_new(&sc->pol);
	json_object_clear(sc->pods);
	json_object_clear(sc->pending);
	json_object_clear(sc->failed);
	json_object_clear(sc->assumed); /* the new snapshot has none */
	json_object_clear(sc->gang_bound);
	json_object_clear(sc->said);
	gt_objlist_load(sc->api, "core/nodes/", &nodes);
	gt_objlist_load(sc->api, "core/pods/", &pods);
	for (size_t i = 0; i < nodes.n; i++)
		gt_sched_add_node(sc->s, nodes.items[i]->obj);
	for (size_t i = 0; i < pods.n; i++)
		gt_schedc_put(sc, pods.items[i]->key, pods.items[i]->obj);
	gt_objlist_release(&nodes);
	gt_objlist_release(&pods);
	sc->synced = true;
	sc->epoch++;
}

void gt_schedc_opened(void *ctx)
{
	((struct gt_scheduler *)ctx)->synced = false;
}

/*
 * Keeps the cache current; true when a pass may do something: a pending
 * pod not tried in this state, or a change that may make room while pods
 * wait.
 */
bool gt_schedc_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	struct gt_scheduler *sc = ctx;
	const char *key = ev->obj->key;
	int64_t epoch = sc->epoch;

	(void)waiting;
	if (!sc->synced)
		return true;
	if (!strncmp(key, "core/pods/", 10)) {
		gt_schedc_put(sc, key, ev->type == GT_EVENT_DELETED ? NULL : ev->obj->obj);
		if (json_object_get(sc->pending, key) &&
		    json_integer_value(json_object_get(sc->failed, key)) != sc->epoch)
			return true;
	} else if (!strncmp(key, "core/nodes/", 11)) {
		if (ev->type == GT_EVENT_DELETED)
			gt_sched_del_node(sc->s, gt_json_str(ev->obj->obj, "metadata.name"));
		else
			gt_sched_add_node(sc->s, ev->obj->obj);
		sc->epoch++;
	} else if (!strncmp(key, "core/persistentvolumeclaims/", 28) ||
		   !strncmp(key, "core/persistentvolumes/", 23) ||
		   (sc->pg_prefix[0] && !strncmp(key, sc->pg_prefix, strlen(sc->pg_prefix)))) {
		sc->epoch++;
	}
	return sc->epoch != epoch && json_object_size(sc->pending);
}
