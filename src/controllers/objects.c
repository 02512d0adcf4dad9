/*
 * objects.c - what the controllers read objects with (see controllers.h):
 * lists of stored objects by key prefix, and the questions they all ask of
 * them (has this pod finished, who controls this object), and the writes
 * they share (a pod condition, an Event).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/policy.h"
#include "controllers/controllers.h"

static int collect(struct gt_obj *o, void *arg)
{
	struct gt_objlist *l = arg;

	gt_grow((void **)&l->items, &l->cap, l->n + 1, sizeof(*l->items));
	l->items[l->n++] = gt_obj_ref(o);
	return 0;
}

void gt_objlist_load(struct gt_api *api, const char *prefix, struct gt_objlist *l)
{
	gt_store_list(gt_api_store(api), prefix, NULL, collect, l, NULL);
}

void gt_objlist_release(struct gt_objlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		gt_obj_unref(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

struct gt_obj *gt_objlist_find(const struct gt_objlist *l, const char *prefix, const char *name)
{
	size_t lo = 0, hi = l->n, pl = strlen(prefix);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(l->items[mid]->key, prefix, pl) ?: strcmp(l->items[mid]->key + pl, name);

		if (!c)
			return l->items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool gt_pod_finished(const json_t *pod)
{
	const char *ph = gt_json_str(pod, "status.phase") ?: "";

	return !strcmp(ph, "Succeeded") || !strcmp(ph, "Failed");
}

const char *gt_controller_uid(const json_t *obj)
{
	const json_t *r;
	size_t i;

	json_array_foreach(gt_json_path(obj, "metadata.ownerReferences"), i, r)
		if (gt_json_bool(r, "controller", false))
			return gt_json_str(r, "uid");
	return NULL;
}

void gt_event_emit(struct gt_api *api, const json_t *obj, const char *type, const char *reason,
		   const char *msg, const char *component)
{
	const struct gt_resource *er = gt_registry_find("", "v1", "events");
	const char *ns = gt_json_str(obj, "metadata.namespace") ?: "default";
	char name[300], now[32], micro[40];
	struct timespec ts;
	struct gt_obj *out = NULL;
	json_t *ev;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, sizeof(name), "%.200s.%llx", gt_json_str(obj, "metadata.name") ?: "object",
		 (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
	gt_time_rfc3339(ts.tv_sec, now);
	gt_time_rfc3339_micro(micro);
	ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},"
		       "s:s,s:s,s:i,s:s,s:s}",
		       "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace", ns,
		       "involvedObject", "kind", gt_json_str(obj, "kind") ?: "",
		       "apiVersion", gt_json_str(obj, "apiVersion") ?: "v1",
		       "name", gt_json_str(obj, "metadata.name") ?: "", "uid",
		       gt_json_str(obj, "metadata.uid") ?: "",
		       "reason", reason, "message", msg, "type", type,
		       "source", "component", component,
		       "firstTimestamp", now, "lastTimestamp", now, "count", 1,
		       "reportingComponent", component, "eventTime", micro);
	if (ev && gt_json_str(obj, "metadata.namespace"))
		gt_json_set_str(ev, "involvedObject.namespace", ns);
	if (ev && gt_api_create(api, er, ns, ev, NULL, &out, NULL) == 0)
		gt_obj_unref(out);
}

struct cond_ctx {
	const char *type, *status, *reason, *message;
};

static int put_condition(json_t *obj, void *arg, struct gt_err *err)
{
	const struct cond_ctx *cc = arg;

	(void)err;
	return gt_condition_put(obj, cc->type, cc->status, cc->reason, cc->message);
}

int gt_pod_set_condition(struct gt_api *api, const json_t *pod, const char *type,
			 const char *st, const char *reason, const char *message)
{
	struct cond_ctx cc = { type, st, reason, message };
	struct gt_obj *out = NULL;
	int rc;

	rc = gt_api_modify(api, gt_registry_find("", "v1", "pods"),
			   gt_json_str(pod, "metadata.namespace") ?: "",
			   gt_json_str(pod, "metadata.name") ?: "", GT_PART_STATUS, put_condition, &cc,
			   NULL, &out, NULL);
	gt_obj_unref(out);
	return rc == -EALREADY ? 0 : rc;
}
