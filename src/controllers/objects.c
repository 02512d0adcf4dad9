/*
 * objects.c - what the controllers read objects with (see controllers.h):
 * lists of stored objects by key prefix, and the questions they all ask of
 * them (has this pod finished, who controls this object).
 */
#include <stdlib.h>
#include <string.h>

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
