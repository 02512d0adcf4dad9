/*
 * revision.c - ControllerRevisions (apps/v1) for the StatefulSet and
 * DaemonSet controllers, as Kubernetes keeps them: one per pod template the
 * owner has run, named "<owner>-<hash>", labelled like the template (so the
 * owner's selector finds them, as `kubectl rollout history` does) plus
 * controller.kubernetes.io/hash, owned by the owner (controller), holding
 * data {"spec":{"template":{...,"$patch":"replace"}}} (the strategic merge
 * patch `kubectl rollout undo` sends back) and a revision number that
 * counts up; an old template that returns takes the next number again.
 * Orphans matching the owner's selector are adopted (an owner deleted with
 * --cascade=orphan and created again finds its history).
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "controllers/controllers.h"

#define HASH_LABEL "controller.kubernetes.io/hash"

json_t *gt_revision_template(const json_t *rev)
{
	return gt_json_path(rev, "data.spec.template");
}

/* The template as compared and hashed: no "$patch", no null creationTimestamp. */
static json_t *normalized(const json_t *tpl)
{
	json_t *t = json_deep_copy(tpl), *meta;

	if (!t)
		return json_object();
	json_object_del(t, "$patch");
	meta = json_object_get(t, "metadata");
	if (json_is_null(json_object_get(meta, "creationTimestamp")))
		json_object_del(meta, "creationTimestamp");
	return t;
}

bool gt_revision_holds(const json_t *rev, const json_t *tpl)
{
	json_t *a = normalized(gt_revision_template(rev)), *b = normalized(tpl);
	bool eq = gt_json_equal(a, b);

	json_decref(a);
	json_decref(b);
	return eq;
}

static int64_t number(const json_t *rev)
{
	int64_t v = 0;

	gt_json_int(rev, "revision", &v);
	return v;
}

static int set_number(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	gt_json_set(obj, "revision", json_integer(*(int64_t *)ctx));
	return 0;
}

static struct gt_obj *create(struct gt_api *api, const json_t *owner, const char *kind,
			     const json_t *tpl, const char *hash, int64_t num)
{
	const char *ns = gt_json_str(owner, "metadata.namespace");
	json_t *labels = json_deep_copy(gt_json_path(tpl, "metadata.labels"));
	json_t *t = normalized(tpl), *rev;
	struct gt_obj *out = NULL;
	struct gt_err err;
	char name[300];

	if (!json_is_object(labels)) {
		json_decref(labels);
		labels = json_object();
	}
	json_object_set_new(labels, HASH_LABEL, json_string(hash));
	json_object_set_new(t, "$patch", json_string("replace"));
	snprintf(name, sizeof(name), "%.200s-%s", gt_json_str(owner, "metadata.name") ?: "", hash);
	rev = json_pack("{s:s,s:s,s:{s:s,s:o,s:[o]},s:{s:{s:o}},s:I}", "apiVersion", "apps/v1",
			"kind", "ControllerRevision", "metadata", "name", name, "labels", labels,
			"ownerReferences", gt_owner_ref(owner, kind, true), "data", "spec",
			"template", t, "revision", (json_int_t)num);
	gt_err_clear(&err);
	if (gt_api_create(api, gt_registry_find("apps", "v1", "controllerrevisions"), ns, rev, NULL,
			  &out, &err) < 0) {
		gt_warn("%s %s/%s: cannot create ControllerRevision %s: %s", kind, ns,
			gt_json_str(owner, "metadata.name"), name, err.msg);
		return NULL;
	}
	return out;
}

struct gt_obj *gt_revision_sync(struct gt_api *api, const json_t *owner, const char *kind,
				const struct gt_labelsel *sel, const struct gt_objlist *crs,
				char hash[16], const json_t ***owned, size_t *nowned)
{
	const char *ns = gt_json_str(owner, "metadata.namespace") ?: "";
	const char *uid = gt_json_str(owner, "metadata.uid") ?: "";
	const json_t *tpl = gt_json_path(owner, "spec.template");
	struct gt_obj *found = NULL;
	int64_t max = 0;
	size_t cap = 0;

	{
		json_t *t = normalized(tpl);

		gt_template_hash(t, hash);
		json_decref(t);
	}
	*owned = NULL;
	*nowned = 0;
	for (size_t i = 0; i < crs->n; i++) {
		const json_t *r = crs->items[i]->obj;

		if (strcmp(gt_json_str(r, "metadata.namespace") ?: "", ns) ||
		    strcmp(gt_adopt(api, "apps", "controllerrevisions", r, owner, kind, sel) ?: "", uid))
			continue;
		gt_grow((void **)owned, &cap, *nowned + 1, sizeof(**owned));
		(*owned)[(*nowned)++] = r;
		if (number(r) > max)
			max = number(r);
		if (!found && gt_revision_holds(r, tpl))
			found = crs->items[i];
	}
	if (!found)
		return create(api, owner, kind, tpl, hash, max + 1);
	if (number(found->obj) < max) {
		/* an old template is back (rollout undo): it becomes the newest */
		struct gt_obj *out = NULL;
		int64_t next = max + 1;

		if (gt_api_modify(api, gt_registry_find("apps", "v1", "controllerrevisions"), ns,
				  gt_json_str(found->obj, "metadata.name"), GT_PART_MAIN, set_number,
				  &next, NULL, &out, NULL) == 0)
			return out;
		gt_obj_unref(out);
	}
	return gt_obj_ref(found);
}

static int by_number(const void *a, const void *b)
{
	int64_t x = number(*(const json_t *const *)a), y = number(*(const json_t *const *)b);

	return x < y ? -1 : x > y;
}

void gt_revision_trim(struct gt_api *api, const json_t **owned, size_t n, int64_t limit,
		      const char *const *live, size_t nlive)
{
	size_t dead = 0;

	if (!n)
		return;
	qsort(owned, n, sizeof(*owned), by_number);
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			const char *name = gt_json_str(owned[i], "metadata.name") ?: "";
			bool used = false;

			for (size_t k = 0; k < nlive && !used; k++)
				used = live[k] && !strcmp(live[k], name);
			if (used)
				continue;
			if (pass == 0)
				dead++;
			else if ((int64_t)dead > limit) {
				gt_delete_obj(api, "apps", "controllerrevisions", owned[i], -1);
				dead--;
			}
		}
}
