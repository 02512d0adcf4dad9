/*
 * gc.c - the garbage collector and the deletion finalizers.
 *
 * One pass looks at every stored object and:
 *  - deletes dependents whose owners (ownerReferences uids) are all gone,
 *    or whose owner is being deleted in the foreground;
 *  - strips ownerReferences pointing at an owner deleted with the orphan
 *    policy, then lets the owner go (finalizer "orphan");
 *  - lets a foreground-deleted owner go once it has no dependents left
 *    (finalizer "foregroundDeletion");
 *  - empties a terminating namespace, then removes it;
 *  - deletes every custom resource of a CRD being deleted, then the CRD.
 * The loop runs a pass whenever the store changed (checked every 200 ms).
 */
#include <string.h>

#include "base/log.h"
#include "controllers/controllers.h"

struct item {
	const struct gt_resource *res;
	struct gt_obj *obj;
};

struct uidx {
	const char *uid;
	size_t i;
};

struct snap {
	struct item *items;
	size_t n, cap;
	const struct gt_resource *cur;
	struct uidx *uids; /* sorted by uid */
	size_t nuids;
};

static int collect(struct gt_obj *o, void *arg)
{
	struct snap *s = arg;

	gt_grow((void **)&s->items, &s->cap, s->n + 1, sizeof(*s->items));
	s->items[s->n++] = (struct item){ s->cur, gt_obj_ref(o) };
	return 0;
}

struct api_store {
	struct gt_api *api;
	struct snap *snap;
};

static int each_res(const struct gt_resource *r, void *arg)
{
	struct api_store *a = arg;
	char pre[300];

	if (r->verbs == GT_VERBS_CREATE_ONLY || r->verbs == GT_VERBS_READ_ONLY)
		return 0;
	if (r->custom && !r->storage)
		return 0;
	gt_resource_key_prefix(r, pre, sizeof(pre));
	strncat(pre, "/", sizeof(pre) - strlen(pre) - 1);
	a->snap->cur = r;
	gt_store_list(gt_api_store(a->api), pre, NULL, collect, a->snap, NULL);
	return 0;
}

static int cmpuid(const void *a, const void *b)
{
	return strcmp(((const struct uidx *)a)->uid, ((const struct uidx *)b)->uid);
}

static const struct item *find_uid(const struct snap *s, const char *uid)
{
	struct uidx k = { uid, 0 }, *f;

	f = bsearch(&k, s->uids, s->nuids, sizeof(*s->uids), cmpuid);
	return f ? &s->items[f->i] : NULL;
}

static bool live(const struct snap *s, const char *uid)
{
	return find_uid(s, uid) != NULL;
}

bool gt_has_finalizer(const json_t *obj, const char *f)
{
	json_t *a = gt_json_path(obj, "metadata.finalizers"), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), f))
			return true;
	return false;
}

static const char *ns_of(const json_t *o)
{
	const char *ns = gt_json_str(o, "metadata.namespace");

	return ns ? ns : "";
}

static int del(struct gt_api *api, const struct item *it, enum gt_propagation prop)
{
	struct gt_delete_opts o = { .grace = -1, .prop = prop };
	struct gt_obj *out = NULL;
	struct gt_err err;
	bool gone;
	int r;

	gt_err_clear(&err);
	if (gt_json_path(it->obj->obj, "metadata.deletionTimestamp"))
		return 0;
	r = gt_api_delete(api, it->res, ns_of(it->obj->obj), gt_json_str(it->obj->obj, "metadata.name"),
			  &o, &out, &gone, &err);
	gt_obj_unref(out);
	if (r < 0 && r != -ENOENT)
		gt_debug("gc: delete %s: %s", it->obj->key, err.msg);
	return r == 0;
}

int gt_drop_finalizer(json_t *obj, void *ctx, struct gt_err *err)
{
	json_t *a = gt_json_path(obj, "metadata.finalizers"), *n = json_array(), *v;
	size_t i;

	(void)err;
	json_array_foreach(a, i, v)
		if (!json_is_string(v) || strcmp(json_string_value(v), ctx))
			json_array_append(n, v);
	gt_json_set(obj, "metadata.finalizers", n);
	return 0;
}

static int drop_owner(json_t *obj, void *ctx, struct gt_err *err)
{
	json_t *a = gt_json_path(obj, "metadata.ownerReferences"), *n = json_array(), *v;
	size_t i;

	(void)err;
	json_array_foreach(a, i, v)
		if (strcmp(gt_json_str(v, "uid") ?: "", ctx))
			json_array_append(n, v);
	if (json_array_size(n))
		gt_json_set(obj, "metadata.ownerReferences", n);
	else {
		json_decref(n);
		gt_json_del(obj, "metadata.ownerReferences");
	}
	return 0;
}

static int modify(struct gt_api *api, const struct item *it, gt_mutate_fn fn, void *ctx)
{
	struct gt_obj *out = NULL;
	struct gt_err err;
	int r;

	gt_err_clear(&err);
	r = gt_api_modify(api, it->res, ns_of(it->obj->obj), gt_json_str(it->obj->obj, "metadata.name"),
			  GT_PART_MAIN, fn, ctx, NULL, &out, &err);
	gt_obj_unref(out);
	if (r < 0 && r != -ENOENT)
		gt_debug("gc: update %s: %s", it->obj->key, err.msg);
	return r == 0;
}

static bool depends_on(const json_t *obj, const char *uid)
{
	json_t *refs = gt_json_path(obj, "metadata.ownerReferences"), *v;
	size_t i;

	json_array_foreach(refs, i, v)
		if (!strcmp(gt_json_str(v, "uid") ?: "", uid))
			return true;
	return false;
}

static int namespace_pass(struct gt_api *api, const struct snap *s, const struct item *ns)
{
	const char *name = gt_json_str(ns->obj->obj, "metadata.name");
	int writes = 0, remaining = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (!s->items[i].res->namespaced || strcmp(ns_of(s->items[i].obj->obj), name))
			continue;
		remaining++;
		writes += del(api, &s->items[i], GT_PROP_BACKGROUND);
	}
	if (!remaining) {
		struct gt_obj *out = NULL;

		if (gt_store_write(gt_api_store(api), GT_WRITE_DELETE, ns->obj->key, NULL,
				   ns->obj->mod_rev, &out, NULL) == 0)
			writes++;
		gt_obj_unref(out);
	}
	return writes;
}

static int crd_pass(struct gt_api *api, const struct snap *s, const struct item *crd)
{
	const char *group = gt_json_str(crd->obj->obj, "spec.group");
	const char *plural = gt_json_str(crd->obj->obj, "spec.names.plural");
	char pre[300];
	int writes = 0, remaining = 0;

	if (!group || !plural)
		return 0;
	snprintf(pre, sizeof(pre), "%s/%s/", group, plural);
	for (size_t i = 0; i < s->n; i++) {
		if (strncmp(s->items[i].obj->key, pre, strlen(pre)))
			continue;
		remaining++;
		writes += del(api, &s->items[i], GT_PROP_BACKGROUND);
	}
	if (!remaining)
		writes += modify(api, crd, gt_drop_finalizer, GT_FINALIZER_CRD_CLEANUP);
	return writes;
}

int gt_gc_pass(struct gt_api *api)
{
	struct snap s = { 0 };
	struct api_store a = { api, &s };
	int writes = 0;

	gt_registry_foreach(each_res, &a);
	s.uids = xcalloc(s.n + 1, sizeof(*s.uids));
	for (size_t i = 0; i < s.n; i++) {
		const char *u = gt_json_str(s.items[i].obj->obj, "metadata.uid");

		if (u)
			s.uids[s.nuids++] = (struct uidx){ u, i };
	}
	qsort(s.uids, s.nuids, sizeof(*s.uids), cmpuid);

	for (size_t i = 0; i < s.n; i++) {
		const struct item *it = &s.items[i];
		const json_t *o = it->obj->obj;
		json_t *refs = gt_json_path(o, "metadata.ownerReferences"), *ref;
		bool any_live = false, fg = false;
		const char *uid = gt_json_str(o, "metadata.uid") ?: "";
		size_t k;

		(void)live;

		/* Dependents: deleted when every owner is gone (or being deleted
		 * in the foreground); an owner deleted with the orphan policy is
		 * dropped from the references instead. */
		{
			size_t remaining = 0, missing = 0;

			json_array_foreach(refs, k, ref) {
				const char *ou = gt_json_str(ref, "uid") ?: "";
				const struct item *owner = find_uid(&s, ou);

				if (!owner) {
					missing++;
					remaining++;
					continue;
				}
				if (gt_json_path(owner->obj->obj, "metadata.deletionTimestamp")) {
					if (gt_has_finalizer(owner->obj->obj, "orphan")) {
						writes += modify(api, it, drop_owner, (void *)ou);
						continue;
					}
					if (gt_has_finalizer(owner->obj->obj, "foregroundDeletion")) {
						fg = true;
						remaining++;
						continue;
					}
				}
				any_live = true;
				remaining++;
			}
			if (remaining && !any_live && (fg || missing))
				writes += del(api, it, fg ? GT_PROP_FOREGROUND : GT_PROP_BACKGROUND);
		}

		if (!gt_json_path(o, "metadata.deletionTimestamp"))
			continue;
		/* Owners waiting on their dependents. */
		if (gt_has_finalizer(o, "foregroundDeletion") || gt_has_finalizer(o, "orphan")) {
			bool deps = false;

			for (size_t j = 0; j < s.n && !deps; j++)
				deps = depends_on(s.items[j].obj->obj, uid);
			if (!deps) {
				writes += modify(api, it, gt_drop_finalizer, "foregroundDeletion");
				writes += modify(api, it, gt_drop_finalizer, "orphan");
			}
		}
		if (!it->res->custom && !strcmp(it->res->kind, "Namespace") && !it->res->group[0])
			writes += namespace_pass(api, &s, it);
		if (!it->res->custom && !strcmp(it->res->kind, "CustomResourceDefinition") &&
		    gt_has_finalizer(o, GT_FINALIZER_CRD_CLEANUP))
			writes += crd_pass(api, &s, it);
	}
	for (size_t i = 0; i < s.n; i++)
		gt_obj_unref(s.items[i].obj);
	free(s.items);
	free(s.uids);
	return writes;
}

/*
 * Whether an event can give the collector or a finalizer something to do
 * (a deletion, an object with owners or being deleted, a claim, a finished
 * pod with volumes); plain creates of ownerless objects cost nothing.
 */
bool gt_gc_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	(void)waiting;
	(void)ctx;
	if (ev->type == GT_EVENT_DELETED || !strncmp(ev->obj->key, "core/persistentvolumeclaims/", 28))
		return true;
	/* a finished pod may release a protected claim */
	if (!strncmp(ev->obj->key, "core/pods/", 10) && gt_pod_finished(ev->obj->obj) &&
	    gt_json_path(ev->obj->obj, "spec.volumes"))
		return true;
	return gt_json_path(ev->obj->obj, "metadata.ownerReferences") ||
	       gt_json_path(ev->obj->obj, "metadata.deletionTimestamp");
}
