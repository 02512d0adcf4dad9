/*
 * hpa_v1.c - autoscaling/v1 HorizontalPodAutoscalers over the stored
 * autoscaling/v2 objects (api/convert.h): create, get and list convert
 * (kubectl 1.20's `autoscale` creates v1 with a typed client, which needs
 * a v1 answer); the other verbs are served by the v2 code as they are
 * (generic clients such as kubectl's patch and delete do not care).
 */
#include <string.h>
#include <time.h>

#include "api/convert.h"
#include "api/selector.h"
#include "api/table.h"
#include "apiserver/internal.h"

int gt_parse_selectors(struct gt_http_req *req, const struct gt_resource *r,
		       struct gt_labelsel **ls, struct gt_fieldsel **fs, struct gt_err *err);

static void reply_v1(struct gt_http_req *req, int status, const json_t *v2)
{
	json_t *v1 = gt_hpa_v2_to_v1(v2);

	gt_reply_json(req, status, v1);
	json_decref(v1);
}

struct lst {
	struct gt_labelsel *ls;
	struct gt_fieldsel *fs;
	json_t *items;
	json_t *table;
	const struct gt_resource *v2;
};

static int add(struct gt_obj *o, void *arg)
{
	struct lst *l = arg;

	if ((l->ls && !gt_labelsel_match(l->ls, gt_json_path(o->obj, "metadata.labels"))) ||
	    (l->fs && !gt_fieldsel_match(l->fs, o->obj)))
		return 0;
	if (l->table)
		gt_table_add_row(l->table, l->v2, o->obj, GT_INCLUDE_METADATA, time(NULL));
	else
		json_array_append_new(l->items, gt_hpa_v2_to_v1(o->obj));
	return 0;
}

static void list(struct gt_api *api, struct gt_http_req *req, struct route *rt,
		 const struct gt_resource *v2)
{
	struct lst l = { .v2 = v2 };
	struct gt_err err;
	char prefix[600], rv[32];
	int64_t rev = 0;

	gt_err_clear(&err);
	if (gt_parse_selectors(req, rt->res, &l.ls, &l.fs, &err) < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	if (gt_wants_table(req))
		l.table = gt_table_new(v2);
	else
		l.items = json_array();
	snprintf(prefix, sizeof(prefix), "autoscaling/horizontalpodautoscalers/%s%s",
		 rt->has_ns ? rt->ns : "", rt->has_ns ? "/" : "");
	gt_store_list(api->store, prefix, NULL, add, &l, &rev);
	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	if (l.table) {
		gt_json_set_str(l.table, "metadata.resourceVersion", rv);
		gt_reply_json(req, 200, l.table);
		json_decref(l.table);
	} else {
		json_t *out = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", "HorizontalPodAutoscalerList",
					"apiVersion", "autoscaling/v1", "metadata", "resourceVersion", rv,
					"items", l.items);

		gt_reply_json(req, 200, out);
		json_decref(out);
	}
	gt_labelsel_free(l.ls);
	gt_fieldsel_free(l.fs);
}

bool gt_handle_hpa_v1(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	const char *m = gt_http_method(req);
	const struct gt_resource *v2;
	struct gt_obj *out = NULL;
	struct gt_err err;
	const char *w = gt_http_query(req, "watch");

	if (strcmp(rt->res->group, "autoscaling") || strcmp(rt->res->version, "v1") ||
	    strcmp(rt->res->plural, "horizontalpodautoscalers"))
		return false;
	v2 = gt_registry_find("autoscaling", "v2", "horizontalpodautoscalers");
	gt_err_clear(&err);
	if (!strcmp(m, "POST") && !rt->has_name) {
		struct gt_write_opts o;
		json_t *body = NULL, *conv;

		gt_request_write_opts(req, &o);
		if (gt_request_body(req, &body, &err) < 0) {
			gt_reply_error(req, &err, rt);
			return true;
		}
		conv = gt_hpa_v1_to_v2(body);
		json_decref(body);
		if (gt_api_create(api, v2, rt->ns, conv, &o, &out, &err) < 0) {
			gt_reply_error(req, &err, rt);
			return true;
		}
		reply_v1(req, 201, out->obj);
		gt_obj_unref(out);
		return true;
	}
	if (strcmp(m, "GET") || *rt->sub || (w && strcmp(w, "false") && strcmp(w, "0")))
		goto as_v2;
	if (!rt->has_name) {
		list(api, req, rt, v2);
		return true;
	}
	if (gt_api_get(api, v2, rt->ns, rt->name, &out, &err) < 0) {
		gt_reply_error(req, &err, rt);
		return true;
	}
	if (gt_wants_table(req)) {
		json_t *t = gt_table_new(v2);

		gt_table_add_row(t, v2, out->obj, GT_INCLUDE_METADATA, time(NULL));
		gt_reply_json(req, 200, t);
		json_decref(t);
	} else {
		reply_v1(req, 200, out->obj);
	}
	gt_obj_unref(out);
	return true;
as_v2:
	/* the v2 code answers (the objects it returns are v2) */
	gt_resource_unref(rt->res);
	rt->res = v2;
	return false;
}
