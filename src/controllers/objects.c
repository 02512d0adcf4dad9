/*
 * objects.c - what the controllers read objects with (see controllers.h):
 * lists of stored objects by key prefix, and the questions they all ask of
 * them (has this pod finished, who controls this object), and the writes
 * they share (a pod condition, an Event).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/selector.h"
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

bool gt_pod_active(const json_t *pod)
{
	return !gt_pod_finished(pod) && !gt_json_path(pod, "metadata.deletionTimestamp");
}

bool gt_pod_available(const json_t *pod, int64_t min_ready, time_t now, bool *later)
{
	const json_t *c;
	size_t i;
	time_t since;

	if (!gt_pod_is_ready(pod))
		return false;
	if (min_ready <= 0)
		return true;
	json_array_foreach(gt_json_path(pod, "status.conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", "Ready") &&
		    gt_time_parse(gt_json_str(c, "lastTransitionTime") ?: "", &since) == 0 &&
		    since + min_ready <= now)
			return true;
	if (later)
		*later = true;
	return false;
}

json_t *gt_owner_ref(const json_t *owner, const char *kind, bool controller)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", "apps/v1", "kind", kind,
			 "name", gt_json_str(owner, "metadata.name") ?: "",
			 "uid", gt_json_str(owner, "metadata.uid") ?: "", "controller", controller,
			 "blockOwnerDeletion", 1);
}

json_t *gt_pod_from_template(const json_t *owner, const char *kind, const json_t *tpl)
{
	/* copies: the stored owner is immutable, and callers change the pod */
	json_t *pod = json_pack("{s:s,s:s,s:o*,s:o*}", "apiVersion", "v1", "kind", "Pod", "metadata",
				json_deep_copy(json_object_get(tpl, "metadata")), "spec",
				json_deep_copy(json_object_get(tpl, "spec")));
	json_t *meta;

	if (!json_is_object(json_object_get(pod, "metadata")))
		json_object_set_new(pod, "metadata", json_object());
	if (!json_is_object(json_object_get(pod, "spec")))
		json_object_set_new(pod, "spec", json_object());
	meta = json_object_get(pod, "metadata");
	json_object_del(meta, "name");
	json_object_del(meta, "namespace");
	json_object_del(meta, "creationTimestamp");
	if (!json_is_object(json_object_get(meta, "labels")))
		json_object_set_new(meta, "labels", json_object());
	json_object_set_new(meta, "ownerReferences", json_pack("[o]", gt_owner_ref(owner, kind, true)));
	return pod;
}

void gt_template_hash(const json_t *v, char out[16])
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS), dec[16];
	uint32_t h = 2166136261u;
	size_t i;

	for (const char *p = s ? s : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	free(s);
	snprintf(dec, sizeof(dec), "%u", h);
	for (i = 0; dec[i]; i++)
		out[i] = alpha[(unsigned char)dec[i] % (sizeof(alpha) - 1)];
	out[i] = '\0';
}

int gt_status_merge(json_t *obj, void *ctx, struct gt_err *err)
{
	const json_t *want = ctx;
	json_t *cur = json_object_get(obj, "status"), *merged;

	(void)err;
	merged = json_is_object(cur) ? json_deep_copy(cur) : json_object();
	json_object_update(merged, (json_t *)want);
	if (json_is_object(cur) && gt_json_equal(merged, cur)) {
		json_decref(merged);
		return -EALREADY;
	}
	json_object_set_new(obj, "status", merged);
	return 0;
}

int64_t gt_int_or_pct(const json_t *v, int64_t total, int64_t def, bool up)
{
	const char *s = json_string_value(v);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (!s || !strchr(s, '%'))
		return def;
	return up ? (total * strtoll(s, NULL, 10) + 99) / 100 : total * strtoll(s, NULL, 10) / 100;
}

int gt_delete_obj(struct gt_api *api, const char *group, const char *plural, const json_t *obj,
		  int64_t grace)
{
	struct gt_delete_opts o = { .grace = grace, .prop = GT_PROP_BACKGROUND };
	struct gt_obj *out = NULL;
	bool gone;
	int rc;

	rc = gt_api_delete(api, gt_registry_find(group, "v1", plural),
			   gt_json_str(obj, "metadata.namespace"), gt_json_str(obj, "metadata.name"), &o,
			   &out, &gone, NULL);
	gt_obj_unref(out);
	return rc;
}

struct adoption {
	const json_t *owner;
	const char *kind;
};

static int adopt(json_t *obj, void *ctx, struct gt_err *err)
{
	const struct adoption *a = ctx;
	json_t *refs = gt_json_path(obj, "metadata.ownerReferences");

	(void)err;
	if (gt_controller_uid(obj))
		return -EALREADY;
	if (!json_is_array(refs)) {
		refs = json_array();
		gt_json_set(obj, "metadata.ownerReferences", refs);
	}
	json_array_append_new(refs, gt_owner_ref(a->owner, a->kind, true));
	return 0;
}

const char *gt_adopt(struct gt_api *api, const char *group, const char *plural, const json_t *obj,
		     const json_t *owner, const char *kind, const struct gt_labelsel *sel)
{
	const char *cu = gt_controller_uid(obj);
	struct adoption a = { owner, kind };
	struct gt_obj *out = NULL;

	if (cu || !sel || gt_json_path(obj, "metadata.deletionTimestamp") ||
	    gt_json_path(owner, "metadata.deletionTimestamp") ||
	    !gt_labelsel_match(sel, gt_json_path(obj, "metadata.labels")))
		return cu;
	if (gt_api_modify(api, gt_registry_find(group, "v1", plural), gt_json_str(obj, "metadata.namespace"),
			  gt_json_str(obj, "metadata.name"), GT_PART_MAIN, adopt, &a, NULL, &out,
			  NULL) < 0)
		return NULL;
	gt_obj_unref(out);
	return gt_json_str(owner, "metadata.uid");
}

const char *gt_pod_controller(struct gt_api *api, const json_t *pod, const json_t *owner,
			      const char *kind, const struct gt_labelsel *sel)
{
	if (gt_pod_finished(pod))
		return gt_controller_uid(pod);
	return gt_adopt(api, "", "pods", pod, owner, kind, sel);
}

struct gt_labelsel *gt_owner_selector(const json_t *owner)
{
	struct gt_labelsel *sel = NULL;

	if (gt_labelsel_from_object(gt_json_path(owner, "spec.selector"), &sel, NULL) < 0 ||
	    gt_labelsel_empty(sel)) {
		gt_labelsel_free(sel);
		return NULL;
	}
	return sel;
}

void gt_record_event(struct gt_api *api, const json_t *obj, const char *type, const char *reason,
		     const char *component, const char *fmt, ...)
{
	const char *ns = gt_json_str(obj, "metadata.namespace") ?: "default";
	char name[300], now[32], micro[40], msg[1024];
	struct timespec ts;
	struct gt_obj *out = NULL;
	va_list ap;
	json_t *ev;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
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
	if (ev && gt_api_create(api, gt_registry_find("", "v1", "events"), ns, ev, NULL, &out, NULL) == 0)
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
