/*
 * ops.c - the verbs on objects (create, update, modify, delete) with the
 * server-owned metadata (uid, creationTimestamp, generation,
 * resourceVersion), status-subresource rules, defaulting and validation,
 * finalizers and graceful deletion.  Both the HTTP handlers and the
 * controllers go through these functions.
 */
#include <string.h>
#include <time.h>

#include "api/defaults.h"
#include "api/validate.h"
#include "apiserver/internal.h"
#include "base/log.h"

void gt_api_key(const struct gt_resource *r, const char *ns, const char *name,
		char *out, size_t n)
{
	char pre[256];

	gt_resource_key_prefix(r, pre, sizeof(pre));
	if (r->namespaced)
		snprintf(out, n, "%s/%s/%s", pre, ns, name);
	else
		snprintf(out, n, "%s/%s", pre, name);
}

struct gt_store *gt_api_store(struct gt_api *api)
{
	return api->store;
}

void gt_res_qualified(const struct gt_resource *r, char *out, size_t n)
{
	if (r->group[0])
		snprintf(out, n, "%s.%s", r->plural, r->group);
	else
		snprintf(out, n, "%s", r->plural);
}

static int not_found(const struct gt_resource *r, const char *name, struct gt_err *err)
{
	char q[256];

	gt_res_qualified(r, q, sizeof(q));
	return gt_err_set(err, -ENOENT, "%s \"%s\" not found", q, name);
}

int gt_api_get(struct gt_api *api, const struct gt_resource *r, const char *ns,
	       const char *name, struct gt_obj **out, struct gt_err *err)
{
	char key[768];

	gt_api_key(r, ns, name, key, sizeof(key));
	if (gt_store_get(api->store, key, out) < 0)
		return not_found(r, name, err);
	return 0;
}

static const struct gt_resource *core(const char *plural)
{
	return gt_registry_find("", "v1", plural);
}

/* Namespace must exist and not be terminating for creates. */
static int check_namespace(struct gt_api *api, const char *ns, struct gt_err *err)
{
	struct gt_obj *o;
	int r = 0;

	if (gt_api_get(api, core("namespaces"), "", ns, &o, NULL) < 0)
		return gt_err_set(err, -ENOENT, "namespaces \"%s\" not found", ns);
	if (gt_json_path(o->obj, "metadata.deletionTimestamp"))
		r = gt_err_set(err, -EACCES,
			       "unable to create new content in namespace %s because it is being terminated",
			       ns);
	gt_obj_unref(o);
	return r;
}

static void now_rfc3339(char out[32])
{
	gt_time_rfc3339(time(NULL), out);
}

/* Sets apiVersion/kind, or rejects a body of another kind. */
static int check_type(const struct gt_resource *r, json_t *obj, struct gt_err *err)
{
	char av[160];
	const char *bav = gt_json_str(obj, "apiVersion"), *bk = gt_json_str(obj, "kind");

	gt_resource_api_version(r, av, sizeof(av));
	if (bk && strcmp(bk, r->kind))
		return gt_err_set(err, -EINVAL,
				  "the body of the request was of kind %s, but the URL expects %s", bk,
				  r->kind);
	if (bav && strcmp(bav, av))
		return gt_err_set(err, -EINVAL,
				  "the API version in the data (%s) does not match the expected API version (%s)",
				  bav, av);
	if (!json_is_object(json_object_get(obj, "metadata")) && json_object_get(obj, "metadata") &&
	    !json_is_null(json_object_get(obj, "metadata")))
		return gt_err_set(err, -EINVAL, "metadata: must be an object");
	json_object_set_new(obj, "apiVersion", json_string(av));
	json_object_set_new(obj, "kind", json_string(r->kind));
	return 0;
}

/* Fields outside metadata/status (for kinds without spec) or spec. */
static bool spec_changed(const struct gt_resource *r, const json_t *a, const json_t *b)
{
	const char *k;
	json_t *v;

	if (r->has_spec)
		return !gt_json_equal(json_object_get(a, "spec"), json_object_get(b, "spec"));
	json_object_foreach((json_t *)a, k, v) {
		if (!strcmp(k, "metadata") || !strcmp(k, "status"))
			continue;
		if (!gt_json_equal(v, json_object_get(b, k)))
			return true;
	}
	json_object_foreach((json_t *)b, k, v) {
		if (!strcmp(k, "metadata") || !strcmp(k, "status"))
			continue;
		if (!json_object_get(a, k))
			return true;
	}
	return false;
}

static bool is(const struct gt_resource *r, const char *group, const char *kind)
{
	return !r->custom && !strcmp(r->group, group) && !strcmp(r->kind, kind);
}

struct global_default {
	const json_t *cls;
};

static int find_global_default(struct gt_obj *o, void *arg)
{
	struct global_default *g = arg;

	if (gt_json_bool(o->obj, "globalDefault", false)) {
		g->cls = json_incref(o->obj);
		return 1;
	}
	return 0;
}

/*
 * The Priority admission plugin: spec.priority (and preemptionPolicy) from
 * the pod's PriorityClass, the global default class, or 0; the built-in
 * system-node-critical and system-cluster-critical classes need no object.
 */
static int admit_priority(struct gt_api *api, json_t *pod, struct gt_err *err)
{
	const char *cls = gt_json_str(pod, "spec.priorityClassName");
	const char *name = gt_json_str(pod, "metadata.name") ?: "";
	struct gt_obj *pc = NULL;
	json_t *obj = NULL;
	int64_t value = 0, given;
	bool has_given = gt_json_int(pod, "spec.priority", &given) == 0;

	if (!json_is_object(json_object_get(pod, "spec")))
		return 0; /* validation says what is wrong */
	if (cls && !strcmp(cls, "system-node-critical")) {
		value = 2000001000;
	} else if (cls && !strcmp(cls, "system-cluster-critical")) {
		value = 2000000000;
	} else if (cls && *cls) {
		if (gt_api_get(api, gt_registry_find("scheduling.k8s.io", "v1", "priorityclasses"), "",
			       cls, &pc, NULL) < 0)
			return gt_err_set(err, -EACCES, "pods \"%s\" is forbidden: no PriorityClass with "
					  "name %s was found", name, cls);
		obj = json_incref(pc->obj);
		gt_obj_unref(pc);
	} else {
		struct global_default g = { NULL };

		gt_store_list(api->store, "scheduling.k8s.io/priorityclasses/", NULL,
			      find_global_default, &g, NULL);
		obj = (json_t *)g.cls;
		if (obj)
			gt_json_set_str(pod, "spec.priorityClassName",
					gt_json_str(obj, "metadata.name") ?: "");
	}
	if (obj) {
		const char *pp = gt_json_str(obj, "preemptionPolicy");

		gt_json_int(obj, "value", &value);
		if (pp && !gt_json_path(pod, "spec.preemptionPolicy"))
			gt_json_set_str(pod, "spec.preemptionPolicy", pp);
		json_decref(obj);
	}
	if (has_given && given != value)
		return gt_err_set(err, -EACCES, "pods \"%s\" is forbidden: the integer value of "
				  "priority (%lld) must not be provided in pod spec; priority admission "
				  "controller computed %lld from the given PriorityClass name", name,
				  (long long)given, (long long)value);
	gt_json_set(pod, "spec.priority", json_integer(value));
	return 0;
}

/* Kind-specific preparation of a new object (server-set fields). */
static int prepare_create(struct gt_api *api, const struct gt_resource *r, json_t *obj,
			  struct gt_err *err)
{
	if (is(r, "", "Pod")) {
		json_t *st = json_object();
		int rc = admit_priority(api, obj, err);

		if (rc < 0) {
			json_decref(st);
			return rc;
		}
		gt_admit_default_tolerations(api, obj);
		json_object_set_new(st, "phase", json_string("Pending"));
		json_object_set_new(obj, "status", st);
	} else if (is(r, "", "Service")) {
		gt_defaults_apply(r, obj); /* the type decides what is allocated */
		return gt_svc_allocate(api, obj, NULL, err); /* under alloc_lock: gt_api_create */
	} else if (is(r, "", "PersistentVolumeClaim")) {
		/* the StorageObjectInUseProtection admission plugin's finalizer:
		 * a claim in use by a pod is deleted only once no pod uses it */
		json_t *f = gt_json_path(obj, "metadata.finalizers"), *v;
		size_t i;
		bool has = false;

		json_array_foreach(f, i, v)
			has |= json_is_string(v) && !strcmp(json_string_value(v), GT_FINALIZER_PVC_PROTECTION);
		if (!f) {
			f = json_array();
			gt_json_set(obj, "metadata.finalizers", f);
		}
		if (!has && json_is_array(f)) /* another type: validation says so */
			json_array_append_new(f, json_string(GT_FINALIZER_PVC_PROTECTION));
	} else if (is(r, "apiextensions.k8s.io", "CustomResourceDefinition")) {
		char now[32];
		json_t *names = gt_json_path(obj, "spec.names"), *st, *vers, *v;
		size_t i;

		now_rfc3339(now);
		st = json_object();
		json_object_set_new(st, "acceptedNames", names ? json_deep_copy(names) : json_object());
		vers = json_array();
		json_array_foreach(gt_json_path(obj, "spec.versions"), i, v)
			if (gt_json_bool(v, "storage", false) && gt_json_str(v, "name"))
				json_array_append_new(vers, json_string(gt_json_str(v, "name")));
		json_object_set_new(st, "storedVersions", vers);
		json_object_set_new(st, "conditions", json_pack(
			"[{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s}]",
			"type", "NamesAccepted", "status", "True", "reason", "NoConflicts",
			"message", "no conflicts found", "lastTransitionTime", now,
			"type", "Established", "status", "True", "reason", "InitialNamesAccepted",
			"message", "the initial names have been accepted", "lastTransitionTime", now));
		json_object_set_new(obj, "status", st);
	}
	return 0;
}

/* Side effects after a successful write. */
static void after_write(const struct gt_resource *r, const json_t *obj, bool deleted)
{
	if (is(r, "apiextensions.k8s.io", "CustomResourceDefinition")) {
		struct gt_err err;

		gt_err_clear(&err);
		if (deleted)
			gt_registry_remove_crd(gt_json_str(obj, "metadata.name"));
		else if (gt_registry_add_crd(obj, &err) < 0)
			gt_warn("crd %s: %s", gt_json_str(obj, "metadata.name"), err.msg);
	}
}

static int admit(const struct gt_resource *r, json_t *obj, const json_t *old,
		 struct gt_err *err)
{
	gt_defaults_apply(r, obj);
	if (old)
		gt_defaults_update(r, obj, old);
	return gt_validate(r, obj, old, err);
}

static int create(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  json_t *obj, const struct gt_write_opts *o, struct gt_obj **out,
		  struct gt_err *err)
{
	GT_AUTOJSON json_t *own = obj;
	json_t *meta;
	const char *name, *bns;
	char uid[37], now[32], key[768], q[256];
	int rc;

	if (!json_is_object(obj))
		return gt_err_set(err, -EINVAL, "the request body must be a JSON object");
	if ((rc = check_type(r, obj, err)) < 0)
		return rc;
	meta = gt_json_ensure_obj(obj, "metadata");
	bns = json_string_value(json_object_get(meta, "namespace"));
	if (r->namespaced) {
		if (bns && *bns && strcmp(bns, ns))
			return gt_err_set(err, -EINVAL,
					  "the namespace of the provided object does not match the namespace sent on the request");
		json_object_set_new(meta, "namespace", json_string(ns));
		if ((rc = check_namespace(api, ns, err)) < 0)
			return rc;
	} else {
		json_object_del(meta, "namespace");
	}
	name = json_string_value(json_object_get(meta, "name"));
	if (!name || !*name) {
		const char *gen = json_string_value(json_object_get(meta, "generateName"));

		if (gen && *gen) {
			char sfx[6], *full;

			gt_random_suffix(sfx, 5);
			full = xasprintf("%.*s%s", 58, gen, sfx);
			json_object_set_new(meta, "name", json_string(full));
			free(full);
		} else {
			gt_err_set(err, -EBADMSG, "%s \"\" is invalid: metadata.name: Required value: name or generateName is required",
				   r->kind);
			gt_err_cause(err, "metadata.name", "FieldValueRequired",
				     "Required value: name or generateName is required");
			return -EBADMSG;
		}
	}
	name = gt_json_str(obj, "metadata.name");
	gt_uuid(uid);
	now_rfc3339(now);
	json_object_set_new(meta, "uid", json_string(uid));
	json_object_set_new(meta, "creationTimestamp", json_string(now));
	/* Kinds with a spec (and custom resources) track generation; plain
	 * data kinds such as ConfigMap do not, as in Kubernetes. */
	if (r->has_spec || r->custom)
		json_object_set_new(meta, "generation", json_integer(1));
	else
		json_object_del(meta, "generation");
	json_object_del(meta, "resourceVersion");
	json_object_del(meta, "deletionTimestamp");
	json_object_del(meta, "deletionGracePeriodSeconds");
	json_object_del(meta, "selfLink");
	if (r->subresources & GT_SUB_STATUS)
		json_object_del(obj, "status");
	if ((rc = prepare_create(api, r, obj, err)) < 0)
		return rc;
	if (is(r, "batch", "Job"))
		gt_defaults_job_selector(obj, uid);
	if ((rc = admit(r, obj, NULL, err)) < 0)
		return rc;
	gt_api_key(r, ns, name, key, sizeof(key));
	if (o && o->dry_run) {
		struct gt_obj *d = xcalloc(1, sizeof(*d));

		d->refs = 1;
		d->key = xstrdup(key);
		d->obj = json_incref(obj);
		d->json = gt_json_dump(obj, &d->len);
		*out = d;
		return 0;
	}
	/* The store takes obj (and frees it on failure): keep the name. */
	snprintf(q, sizeof(q), "%s", name);
	own = NULL;
	rc = gt_store_write(api->store, GT_WRITE_CREATE, key, obj, 0, out, err);
	if (rc == -EEXIST) {
		char nm[256];

		snprintf(nm, sizeof(nm), "%s", q);
		gt_res_qualified(r, q, sizeof(q));
		return gt_err_set(err, -EEXIST, "%s \"%s\" already exists", q, nm);
	}
	if (rc == 0)
		after_write(r, (*out)->obj, false);
	return rc;
}

static int conflict(const struct gt_resource *r, const char *name, struct gt_err *err)
{
	char q[256];

	gt_res_qualified(r, q, sizeof(q));
	return gt_err_set(err, -ESTALE,
			  "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please apply your changes to the latest version and try again",
			  q, name);
}

/*
 * A write whose metadata.uid names another object than the one stored
 * under this name (it was deleted and created again), as kube-apiserver
 * answers it: an update's uid is a precondition (409), a patch that would
 * change the uid is invalid (422).  A kubelet's status patch carries the
 * pod's uid for this, so a late report never lands on a newer pod.
 */
static int uid_mismatch(const struct gt_resource *r, const json_t *cur, const json_t *nw,
			bool patch, const char *name, struct gt_err *err)
{
	const char *want = gt_json_str(nw, "metadata.uid"), *have;
	char q[256];

	have = gt_json_str(cur, "metadata.uid") ?: "";
	if (!want || !*want || !strcmp(want, have))
		return 0;
	if (patch)
		return gt_err_set(err, -EBADMSG,
				  "%s \"%s\" is invalid: metadata.uid: Invalid value: \"%s\": field is immutable",
				  r->kind, name, want);
	gt_res_qualified(r, q, sizeof(q));
	return gt_err_set(err, -ESTALE,
			  "Operation cannot be fulfilled on %s \"%s\": Precondition failed: UID in precondition: %s, UID in object meta: %s",
			  q, name, want, have);
}

/*
 * Builds the object to store from the current one and the caller's new
 * version, per part.  Returns the new object (new ref) or NULL with err.
 */
static json_t *merge_for_update(const struct gt_resource *r, const json_t *cur, json_t *nw,
				enum gt_part part, struct gt_err *err)
{
	static const char *keep[] = { "uid", "creationTimestamp", "deletionTimestamp",
				      "deletionGracePeriodSeconds", "generation", "namespace",
				      "name", "selfLink" };
	json_t *res, *cmeta, *nmeta;
	char av[160];

	if (!json_is_object(nw)) {
		gt_err_set(err, -EINVAL, "the request body must be a JSON object");
		return NULL;
	}
	if (part == GT_PART_STATUS) {
		res = json_deep_copy(cur);
		if (json_object_get(nw, "status"))
			json_object_set(res, "status", json_object_get(nw, "status"));
		else
			json_object_del(res, "status");
		return res;
	}
	res = json_deep_copy(nw);
	gt_resource_api_version(r, av, sizeof(av));
	json_object_set_new(res, "apiVersion", json_string(av));
	json_object_set_new(res, "kind", json_string(r->kind));
	cmeta = json_object_get(cur, "metadata");
	nmeta = gt_json_ensure_obj(res, "metadata");
	for (size_t i = 0; i < GT_ARRAY_SIZE(keep); i++) {
		json_t *v = json_object_get(cmeta, keep[i]);

		if (v)
			json_object_set(nmeta, keep[i], v);
		else
			json_object_del(nmeta, keep[i]);
	}
	if ((r->subresources & GT_SUB_STATUS) && part != GT_PART_ALL) {
		json_t *st = json_object_get(cur, "status");

		if (st)
			json_object_set(res, "status", st);
		else
			json_object_del(res, "status");
	}
	return res;
}

/*
 * Mutating admission of an update of the main resource: DefaultTolerationSeconds
 * runs on pod updates too (not on subresources), so a patch that replaces
 * the tolerations keeps the defaults (pod updates may only add tolerations).
 */
static void admit_update(struct gt_api *api, const struct gt_resource *r, enum gt_part part,
			 json_t *res)
{
	if (part == GT_PART_MAIN && is(r, "", "Pod"))
		gt_admit_default_tolerations(api, res);
}

static int update(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  const char *name, struct gt_obj *cur, json_t *res,
		  const struct gt_write_opts *o, struct gt_obj **out, struct gt_err *err)
{
	char key[768];
	json_t *fin;
	int rc;

	/* Generation follows spec changes. */
	if ((r->has_spec || r->custom) && spec_changed(r, cur->obj, res)) {
		int64_t g = 0;

		gt_json_int(cur->obj, "metadata.generation", &g);
		gt_json_set(res, "metadata.generation", json_integer(g + 1));
	}
	/* No new finalizers on an object being deleted. */
	fin = gt_json_path(res, "metadata.finalizers");
	if (gt_json_path(cur->obj, "metadata.deletionTimestamp") && json_array_size(fin)) {
		json_t *old = gt_json_path(cur->obj, "metadata.finalizers"), *f, *g;
		size_t i, j;

		json_array_foreach(fin, i, f) {
			bool found = false;

			json_array_foreach(old, j, g)
				if (json_equal(f, g))
					found = true;
			if (!found) {
				json_decref(res);
				gt_err_set(err, -EBADMSG,
					   "%s \"%s\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted",
					   r->kind, name);
				gt_err_cause(err, "metadata.finalizers", "FieldValueForbidden",
					     "Forbidden: no new finalizers can be added if the object is being deleted");
				return -EBADMSG;
			}
		}
	}
	if ((rc = admit(r, res, cur->obj, err)) < 0 ||
	    (is(r, "", "Service") && (rc = gt_svc_allocate(api, res, cur->obj, err)) < 0)) {
		json_decref(res);
		return rc;
	}
	gt_api_key(r, ns, name, key, sizeof(key));
	/* Nothing changed: no write, no new resourceVersion (kubectl then
	 * reports "patched (no change)"). */
	{
		json_t *cmp = json_deep_copy(res);

		gt_json_set_str(cmp, "metadata.resourceVersion",
				gt_json_str(cur->obj, "metadata.resourceVersion") ?: "");
		if (gt_json_equal(cmp, cur->obj)) {
			json_decref(cmp);
			json_decref(res);
			*out = gt_obj_ref(cur);
			return 0;
		}
		json_decref(cmp);
	}
	if (o && o->dry_run) {
		struct gt_obj *d = xcalloc(1, sizeof(*d));

		d->refs = 1;
		d->key = xstrdup(key);
		d->obj = res;
		d->json = gt_json_dump(res, &d->len);
		*out = d;
		return 0;
	}
	/* The last finalizer removed from an object being deleted: delete it.
	 * (An object being deleted without finalizers, e.g. a pod in its grace
	 * period, stays until its own final delete.) */
	if (gt_json_path(cur->obj, "metadata.deletionTimestamp") && !json_array_size(fin) &&
	    json_array_size(gt_json_path(cur->obj, "metadata.finalizers"))) {
		json_decref(res);
		rc = gt_store_write(api->store, GT_WRITE_DELETE, key, NULL, cur->mod_rev, out, err);
		if (rc == 0)
			after_write(r, (*out)->obj, true);
		return rc;
	}
	rc = gt_store_write(api->store, GT_WRITE_UPDATE, key, res, cur->mod_rev, out, err);
	if (rc == 0)
		after_write(r, (*out)->obj, false);
	return rc;
}

/* Services allocate addresses and ports: one writer at a time from the
 * allocation to the stored write (svcalloc.c). */
static int finish_update(struct gt_api *api, const struct gt_resource *r, const char *ns,
			 const char *name, struct gt_obj *cur, json_t *res,
			 const struct gt_write_opts *o, struct gt_obj **out, struct gt_err *err)
{
	int rc;

	if (!is(r, "", "Service"))
		return update(api, r, ns, name, cur, res, o, out, err);
	pthread_mutex_lock(&api->alloc_lock);
	rc = update(api, r, ns, name, cur, res, o, out, err);
	pthread_mutex_unlock(&api->alloc_lock);
	return rc;
}

int gt_api_create(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  json_t *obj, const struct gt_write_opts *o, struct gt_obj **out,
		  struct gt_err *err)
{
	int rc;

	if (!is(r, "", "Service"))
		return create(api, r, ns, obj, o, out, err);
	pthread_mutex_lock(&api->alloc_lock);
	rc = create(api, r, ns, obj, o, out, err);
	pthread_mutex_unlock(&api->alloc_lock);
	return rc;
}

int gt_api_update(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  const char *name, enum gt_part part, json_t *obj,
		  const struct gt_write_opts *o, struct gt_obj **out, struct gt_err *err)
{
	GT_AUTOJSON json_t *own = obj;
	const char *rv = gt_json_str(obj, "metadata.resourceVersion");
	const char *bname = gt_json_str(obj, "metadata.name");
	const char *bns = gt_json_str(obj, "metadata.namespace");
	int rc;

	if (!json_is_object(obj))
		return gt_err_set(err, -EINVAL, "the request body must be a JSON object");
	if ((rc = check_type(r, obj, err)) < 0)
		return rc;
	if (bname && strcmp(bname, name))
		return gt_err_set(err, -EINVAL,
				  "the name of the object (%s) does not match the name on the URL (%s)",
				  bname, name);
	if (r->namespaced && bns && *bns && strcmp(bns, ns))
		return gt_err_set(err, -EINVAL,
				  "the namespace of the provided object does not match the namespace sent on the request");
	for (int attempt = 0; attempt < 16; attempt++) {
		struct gt_obj *cur;
		json_t *res;

		if ((rc = gt_api_get(api, r, ns, name, &cur, err)) < 0)
			return rc;
		if (rv && *rv && strcmp(rv, gt_json_str(cur->obj, "metadata.resourceVersion"))) {
			gt_obj_unref(cur);
			return conflict(r, name, err);
		}
		if ((rc = uid_mismatch(r, cur->obj, obj, false, name, err)) < 0) {
			gt_obj_unref(cur);
			return rc;
		}
		res = merge_for_update(r, cur->obj, obj, part, err);
		if (!res) {
			gt_obj_unref(cur);
			return err ? err->code : -EINVAL;
		}
		admit_update(api, r, part, res);
		rc = finish_update(api, r, ns, name, cur, res, o, out, err);
		gt_obj_unref(cur);
		if (rc == -ESTALE && !(rv && *rv)) {
			gt_err_clear(err);
			continue;
		}
		if (rc == -ESTALE)
			return conflict(r, name, err);
		return rc;
	}
	return conflict(r, name, err);
}

int gt_api_modify(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  const char *name, enum gt_part part, gt_mutate_fn mutate, void *ctx,
		  const struct gt_write_opts *o, struct gt_obj **out, struct gt_err *err)
{
	int rc;

	for (int attempt = 0; attempt < 16; attempt++) {
		struct gt_obj *cur;
		json_t *copy, *res;
		const char *rv;

		if ((rc = gt_api_get(api, r, ns, name, &cur, err)) < 0)
			return rc;
		copy = json_deep_copy(cur->obj);
		rc = mutate(copy, ctx, err);
		if (rc < 0) {
			json_decref(copy);
			gt_obj_unref(cur);
			return rc;
		}
		/* A resourceVersion the mutation set differently is a precondition. */
		rv = gt_json_str(copy, "metadata.resourceVersion");
		if (rv && strcmp(rv, gt_json_str(cur->obj, "metadata.resourceVersion"))) {
			json_decref(copy);
			gt_obj_unref(cur);
			return conflict(r, name, err);
		}
		if ((rc = check_type(r, copy, err)) < 0 ||
		    (rc = uid_mismatch(r, cur->obj, copy, true, name, err)) < 0 ||
		    (gt_json_str(copy, "metadata.name") &&
		     strcmp(gt_json_str(copy, "metadata.name"), name) &&
		     (rc = gt_err_set(err, -EINVAL, "metadata.name: the name of the object (%s) does not match the name on the URL (%s)",
				      gt_json_str(copy, "metadata.name"), name)))) {
			json_decref(copy);
			gt_obj_unref(cur);
			return rc;
		}
		res = merge_for_update(r, cur->obj, copy, part, err);
		json_decref(copy);
		if (!res) {
			gt_obj_unref(cur);
			return err ? err->code : -EINVAL;
		}
		admit_update(api, r, part, res);
		rc = finish_update(api, r, ns, name, cur, res, o, out, err);
		gt_obj_unref(cur);
		if (rc != -ESTALE)
			return rc;
		gt_err_clear(err);
	}
	return conflict(r, name, err);
}

/* ---- delete ---- */

static int add_finalizer_and_mark(json_t *obj, const char *fin, int64_t grace)
{
	json_t *meta = gt_json_ensure_obj(obj, "metadata"), *f, *v;
	char now[32];
	size_t i;

	if (fin) {
		bool have = false;

		f = json_object_get(meta, "finalizers");
		if (!json_is_array(f)) {
			f = json_array();
			json_object_set_new(meta, "finalizers", f);
		}
		json_array_foreach(f, i, v)
			if (json_is_string(v) && !strcmp(json_string_value(v), fin))
				have = true;
		if (!have)
			json_array_append_new(f, json_string(fin));
	}
	if (!json_object_get(meta, "deletionTimestamp")) {
		gt_time_rfc3339(time(NULL) + (grace > 0 ? grace : 0), now);
		json_object_set_new(meta, "deletionTimestamp", json_string(now));
		json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(grace > 0 ? grace : 0));
	}
	return 0;
}

int gt_api_delete(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  const char *name, const struct gt_delete_opts *o, struct gt_obj **out,
		  bool *gone, struct gt_err *err)
{
	struct gt_delete_opts def = { .grace = -1 };
	int rc;

	if (!o)
		o = &def;
	*gone = false;
	for (int attempt = 0; attempt < 16; attempt++) {
		struct gt_obj *cur;
		json_t *copy, *fins;
		const char *fin = NULL;
		enum gt_propagation prop = o->prop;
		int64_t grace = 0;
		bool graceful = false;
		char key[768];

		if ((rc = gt_api_get(api, r, ns, name, &cur, err)) < 0)
			return rc;
		if (o->pre_uid && strcmp(o->pre_uid, gt_json_str(cur->obj, "metadata.uid") ?: "")) {
			char q[256];

			gt_res_qualified(r, q, sizeof(q));
			gt_obj_unref(cur);
			return gt_err_set(err, -ESTALE,
					  "Operation cannot be fulfilled on %s \"%s\": Precondition failed: UID in precondition: %s, UID in object meta: %s",
					  q, name, o->pre_uid, gt_json_str(cur->obj, "metadata.uid"));
		}
		if (o->pre_rv && strcmp(o->pre_rv, gt_json_str(cur->obj, "metadata.resourceVersion"))) {
			char q[256];

			gt_res_qualified(r, q, sizeof(q));
			gt_obj_unref(cur);
			return gt_err_set(err, -ESTALE,
					  "Operation cannot be fulfilled on %s \"%s\": Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s",
					  q, name, o->pre_rv, gt_json_str(cur->obj, "metadata.resourceVersion"));
		}
		if (prop == GT_PROP_DEFAULT)
			prop = is(r, "batch", "Job") || is(r, "batch", "CronJob") ? GT_PROP_ORPHAN :
			       GT_PROP_BACKGROUND;
		if (prop == GT_PROP_FOREGROUND)
			fin = "foregroundDeletion";
		else if (prop == GT_PROP_ORPHAN)
			fin = "orphan";
		if (is(r, "", "Namespace")) {
			fin = NULL;
			if (!strcmp(name, "default") || !strcmp(name, "kube-system") ||
			    !strcmp(name, "kube-public")) {
				gt_obj_unref(cur);
				return gt_err_set(err, -EACCES,
						  "namespaces \"%s\" is forbidden: this namespace may not be deleted",
						  name);
			}
		}
		if (is(r, "apiextensions.k8s.io", "CustomResourceDefinition"))
			fin = GT_FINALIZER_CRD_CLEANUP;
		/* Pods on a node terminate gracefully: the node agent finishes them. */
		if (is(r, "", "Pod") && gt_json_str(cur->obj, "spec.nodeName")) {
			const char *ph = gt_json_str(cur->obj, "status.phase");

			grace = o->grace;
			if (grace < 0 && gt_json_int(cur->obj, "spec.terminationGracePeriodSeconds", &grace) < 0)
				grace = 30;
			graceful = grace > 0 && ph && strcmp(ph, "Succeeded") && strcmp(ph, "Failed");
		}
		fins = gt_json_path(cur->obj, "metadata.finalizers");
		gt_api_key(r, ns, name, key, sizeof(key));
		if (is(r, "", "Namespace") || json_array_size(fins) || fin || graceful) {
			struct gt_obj *res = NULL;

			/* Already being deleted with nothing new to add. */
			if (gt_json_path(cur->obj, "metadata.deletionTimestamp") && !fin) {
				*out = cur;
				return 0;
			}
			copy = json_deep_copy(cur->obj);
			add_finalizer_and_mark(copy, fin, graceful ? grace : 0);
			if (is(r, "", "Namespace"))
				gt_json_set_str(copy, "status.phase", "Terminating");
			if (o->dry_run) {
				gt_obj_unref(cur);
				res = xcalloc(1, sizeof(*res));
				res->refs = 1;
				res->key = xstrdup(key);
				res->obj = copy;
				res->json = gt_json_dump(copy, &res->len);
				*out = res;
				return 0;
			}
			rc = gt_store_write(api->store, GT_WRITE_UPDATE, key, copy, cur->mod_rev, &res, err);
			gt_obj_unref(cur);
			if (rc == -ESTALE) {
				gt_err_clear(err);
				continue;
			}
			if (rc == 0)
				*out = res;
			return rc;
		}
		if (o->dry_run) {
			*out = cur;
			*gone = true;
			return 0;
		}
		rc = gt_store_write(api->store, GT_WRITE_DELETE, key, NULL, cur->mod_rev, out, err);
		gt_obj_unref(cur);
		if (rc == -ESTALE) {
			gt_err_clear(err);
			continue;
		}
		if (rc == 0) {
			*gone = true;
			after_write(r, (*out)->obj, true);
		}
		return rc;
	}
	return conflict(r, name, err);
}

/* ---- binding ---- */

static int bind_pod(json_t *obj, void *arg, struct gt_err *err)
{
	const char *node = arg;
	const char *cur = gt_json_str(obj, "spec.nodeName");

	if (cur && *cur)
		return gt_err_set(err, -ESTALE, "pod %s is already assigned to node \"%s\"",
				  gt_json_str(obj, "metadata.name"), cur);
	gt_json_set_str(obj, "spec.nodeName", node);
	return 0;
}

static int set_scheduled(json_t *obj, void *arg, struct gt_err *err)
{
	json_t *conds = gt_json_path(obj, "status.conditions"), *c, *keep = json_array();
	char now[32];
	size_t i;

	(void)arg;
	(void)err;
	json_array_foreach(conds, i, c)
		if (strcmp(gt_json_str(c, "type") ?: "", "PodScheduled"))
			json_array_append(keep, c);
	now_rfc3339(now);
	json_array_append_new(keep, json_pack("{s:s,s:s,s:n,s:s}", "type", "PodScheduled",
					      "status", "True", "lastProbeTime",
					      "lastTransitionTime", now));
	gt_json_set(obj, "status.conditions", keep);
	return 0;
}

/* spec.nodeName and PodScheduled=True in one write, as Kubernetes' binding does. */
static int bind_and_schedule(json_t *obj, void *arg, struct gt_err *err)
{
	int rc = bind_pod(obj, arg, err);

	return rc < 0 ? rc : set_scheduled(obj, NULL, err);
}

int gt_api_bind(struct gt_api *api, const char *ns, const char *name, const char *node,
		struct gt_obj **out, struct gt_err *err)
{
	const struct gt_resource *r = gt_registry_find("", "v1", "pods");
	struct gt_obj *o = NULL;
	int rc;

	rc = gt_api_modify(api, r, ns, name, GT_PART_ALL, bind_and_schedule, (void *)node, NULL,
			   &o, err);
	if (rc < 0)
		return rc;
	if (out)
		*out = o;
	else
		gt_obj_unref(o);
	return 0;
}
