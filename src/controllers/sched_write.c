/*
 * sched_write.c - what the scheduler writes: bindings, PodScheduled=False
 * with FailedScheduling events, status.nominatedNodeName, the eviction of
 * preemption victims (DisruptionTarget condition, Preempted event, delete)
 * and PodGroup status.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "controllers/sched_ctl.h"

static const struct gt_resource *pods_res(void)
{
	return gt_registry_find("", "v1", "pods");
}

static void event(struct gt_api *api, const json_t *pod, const char *type, const char *reason,
		  const char *msg)
{
	gt_record_event(api, pod, type, reason, "default-scheduler", "%s", msg);
}

bool gt_schedc_bind(struct pass_ctx *c, const json_t *pod, const char *node)
{
	struct gt_scheduler *sc = c->sc;
	struct gt_obj *out = NULL;
	struct gt_err err;

	if (sc->binder) {
		char key[600];

		snprintf(key, sizeof(key), "core/pods/%s/%s",
			 gt_json_str(pod, "metadata.namespace") ?: "default",
			 gt_json_str(pod, "metadata.name") ?: "");
		gt_sched_assume(sc->s, pod, node);
		json_object_set_new(sc->assumed, key, json_pack("{s:O,s:s}", "pod", pod, "node", node));
		json_object_del(sc->pending, key);
		json_object_del(sc->failed, key);
		gt_schedc_binder_add(sc->binder, key, pod, node, NULL);
		c->binds++;
		return true;
	}
	gt_err_clear(&err);
	if (gt_api_bind(c->sc->api, gt_json_str(pod, "metadata.namespace"),
			gt_json_str(pod, "metadata.name"), node, &out, &err) < 0) {
		gt_debug("scheduler: binding %s to %s: %s", gt_json_str(pod, "metadata.name"), node,
			 err.msg);
		c->waiting++; /* try again on the next pass */
		return false;
	}
	gt_schedc_put(c->sc, out->key, out->obj); /* accounted before its event comes */
	gt_obj_unref(out);
	c->binds++;
	return true;
}

struct unsched {
	const char *msg;
	bool changed;
};

static int set_unschedulable(json_t *obj, void *arg, struct gt_err *err)
{
	struct unsched *u = arg;
	json_t *conds = gt_json_path(obj, "status.conditions"), *c, *keep;
	char now[32];
	size_t i;

	(void)err;
	if (gt_json_str(obj, "spec.nodeName"))
		return -EALREADY; /* bound since the pass that wrote this */
	keep = json_array();
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

void gt_schedc_unschedulable(struct gt_api *api, const char *ns, const char *name,
			     const char *msg)
{
	struct unsched u = { msg, false };
	struct gt_obj *out = NULL;

	if (gt_api_modify(api, pods_res(), ns, name, GT_PART_STATUS, set_unschedulable, &u, NULL,
			  &out, NULL) == 0 && u.changed) {
		gt_info("scheduler: %s/%s: %s", ns, name, msg);
		event(api, out->obj, "Warning", "FailedScheduling", msg);
	}
	gt_obj_unref(out);
}

void gt_schedc_say(struct pass_ctx *c, const json_t *pod, const char *msg)
{
	const char *cur = NULL;
	const json_t *cond;
	char key[600];
	size_t i;

	json_array_foreach(gt_json_path(pod, "status.conditions"), i, cond)
		if (!strcmp(gt_json_str(cond, "type") ?: "", "PodScheduled"))
			cur = gt_json_str(cond, "message");
	if (cur && !strcmp(cur, msg))
		return; /* said already */
	/* queued already (its write has not come back through the events yet) */
	snprintf(key, sizeof(key), "core/pods/%s/%s", gt_json_str(pod, "metadata.namespace") ?: "",
		 gt_json_str(pod, "metadata.name") ?: "");
	if (!strcmp(json_string_value(json_object_get(c->sc->said, key)) ?: "", msg))
		return;
	json_object_set_new(c->sc->said, key, json_string(msg));
	if (c->sc->binder)
		gt_schedc_binder_add(c->sc->binder, "", pod, NULL, msg);
	else
		gt_schedc_unschedulable(c->sc->api, gt_json_str(pod, "metadata.namespace"),
					gt_json_str(pod, "metadata.name"), msg);
}

static int set_nominated(json_t *obj, void *arg, struct gt_err *err)
{
	(void)err;
	if (!strcmp(gt_json_str(obj, "status.nominatedNodeName") ?: "", arg))
		return -EALREADY;
	gt_json_set(obj, "status.nominatedNodeName", json_string(arg));
	return 0;
}

void gt_schedc_nominate(struct gt_api *api, const json_t *pod, const char *node)
{
	struct gt_obj *out = NULL;

	gt_api_modify(api, pods_res(), gt_json_str(pod, "metadata.namespace"),
		      gt_json_str(pod, "metadata.name"), GT_PART_STATUS, set_nominated,
		      (void *)node, NULL, &out, NULL);
	gt_obj_unref(out);
}

void gt_schedc_evict(struct gt_api *api, const json_t *victims, const json_t *preemptor,
		     const char *node)
{
	const json_t *v;
	char msg[400];
	size_t i;

	snprintf(msg, sizeof(msg), "Preempted by pod %.60s on node %.200s",
		 gt_json_str(preemptor, "metadata.uid") ?: "", node);
	json_array_foreach(victims, i, v) {
		const char *ns = gt_json_str(v, "metadata.namespace"), *name = gt_json_str(v,
											   "metadata.name");
		struct gt_delete_opts o = { .grace = -1, .pre_uid = gt_json_str(v, "metadata.uid") };
		struct gt_obj *out = NULL;
		bool gone = false;

		gt_info("scheduler: preempting %s/%s on %s for %s/%s", ns, name,
			gt_json_str(v, "spec.nodeName") ?: "", gt_json_str(preemptor,
									   "metadata.namespace"),
			gt_json_str(preemptor, "metadata.name"));
		gt_pod_set_condition(api, v, "DisruptionTarget", "True", "PreemptionByScheduler",
				     "default-scheduler: preempting to accommodate a higher priority pod");
		event(api, v, "Normal", "Preempted", msg);
		gt_api_delete(api, pods_res(), ns, name, &o, &out, &gone, NULL);
		gt_obj_unref(out);
	}
}

static int set_group_status(json_t *obj, void *arg, struct gt_err *err)
{
	json_t *want = arg, *cur = json_object_get(obj, "status");
	const char *k;
	json_t *v;
	bool same = json_is_object(cur);

	(void)err;
	json_object_foreach(want, k, v)
		same &= gt_json_equal(json_object_get(cur, k), v) ||
			!strcmp(k, "scheduleStartTime");
	if (same)
		return -EALREADY;
	if (!json_is_object(cur)) {
		cur = json_object();
		json_object_set_new(obj, "status", cur);
	}
	if (json_object_get(cur, "scheduleStartTime"))
		json_object_del(want, "scheduleStartTime"); /* the first one stays */
	json_object_update(cur, want);
	if (!json_object_get(want, "conditions"))
		json_object_del(cur, "conditions");
	return 0;
}

void gt_schedc_group_status(struct gt_api *api, const json_t *pg, json_t *want)
{
	const struct gt_resource *r = gt_registry_find(GT_PODGROUP_GROUP, GT_PODGROUP_VERSION,
						       "podgroups");
	struct gt_obj *out = NULL;

	if (r)
		gt_api_modify(api, r, gt_json_str(pg, "metadata.namespace"),
			      gt_json_str(pg, "metadata.name"), GT_PART_STATUS, set_group_status, want,
			      NULL, &out, NULL);
	gt_obj_unref(out);
	gt_resource_unref(r);
	json_decref(want);
}
