/*
 * resource.c - the verbs on resource URLs: get, list, create, update,
 * patch (strategic, merge, JSON, server-side apply), delete and
 * deletecollection, the status and scale subresources, and pod binding
 * (eviction is in eviction.c).
 * Watches are in watch.c, reviews in reviews.c.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/patch.h"
#include "api/selector.h"
#include "api/table.h"
#include "apiserver/internal.h"
#include "codec/protobuf.h"

/* ---- options ---- */

static bool qbool(struct gt_http_req *req, const char *name)
{
	const char *v = gt_http_query(req, name);
	bool b = false;

	return v && gt_parse_bool(v, &b) == 0 && b;
}

void gt_request_write_opts(struct gt_http_req *req, struct gt_write_opts *o)
{
	const char *dr = gt_http_query(req, "dryRun");
	const char *fv = gt_http_query(req, "fieldValidation");

	memset(o, 0, sizeof(*o));
	o->dry_run = dr && !strcmp(dr, "All");
	o->field_manager = gt_http_query(req, "fieldManager");
	o->strict = fv && !strcmp(fv, "Strict");
}

static enum gt_table_include include_mode(struct gt_http_req *req)
{
	const char *v = gt_http_query(req, "includeObject");

	if (v && !strcmp(v, "None"))
		return GT_INCLUDE_NONE;
	if (v && !strcmp(v, "Object"))
		return GT_INCLUDE_OBJECT;
	return GT_INCLUDE_METADATA;
}

static void reply_obj(struct gt_http_req *req, int status, const struct route *rt,
		      struct gt_obj *o)
{
	if (gt_wants_table(req) && status == 200) {
		json_t *t = gt_table_new(rt->res);

		gt_table_add_row(t, rt->res, o->obj, include_mode(req), time(NULL));
		gt_json_set_str(t, "metadata.resourceVersion",
				gt_json_str(o->obj, "metadata.resourceVersion") ?: "");
		gt_reply_json(req, status, t);
		json_decref(t);
	} else {
		gt_reply_raw(req, status, xstrndup(o->json, o->len), o->len);
	}
}

static const char *ns_of(const struct route *rt)
{
	return rt->res->namespaced ? rt->ns : "";
}

/* ---- get / list ---- */

struct list_ctx {
	struct gt_labelsel *ls;
	struct gt_fieldsel *fs;
	int64_t limit;
	int64_t count;
	bool more;
	char *last_key;
	struct gt_obj **items;
	size_t n, cap;
};

static int list_cb(struct gt_obj *o, void *arg)
{
	struct list_ctx *c = arg;

	if (c->ls && !gt_labelsel_match(c->ls, gt_json_path(o->obj, "metadata.labels")))
		return 0;
	if (c->fs && !gt_fieldsel_match(c->fs, o->obj))
		return 0;
	if (c->limit > 0 && (int64_t)c->n >= c->limit) {
		c->more = true;
		return 1;
	}
	gt_grow((void **)&c->items, &c->cap, c->n + 1, sizeof(*c->items));
	c->items[c->n++] = gt_obj_ref(o);
	return 0;
}

int gt_parse_selectors(struct gt_http_req *req, const struct gt_resource *r,
		       struct gt_labelsel **ls, struct gt_fieldsel **fs, struct gt_err *err);
int gt_parse_selectors(struct gt_http_req *req, const struct gt_resource *r,
		       struct gt_labelsel **ls, struct gt_fieldsel **fs, struct gt_err *err)
{
	const char *l = gt_http_query(req, "labelSelector");
	const char *f = gt_http_query(req, "fieldSelector");
	int rc;

	*ls = NULL;
	*fs = NULL;
	if (l && *l && (rc = gt_labelsel_parse(l, ls, err)) < 0)
		return rc;
	if (f && *f) {
		if ((rc = gt_fieldsel_parse(f, fs, err)) < 0 ||
		    (rc = gt_fieldsel_check_n(*fs, r->field_labels, GT_ARRAY_SIZE(r->field_labels), err)) < 0) {
			gt_labelsel_free(*ls);
			gt_fieldsel_free(*fs);
			*ls = NULL;
			*fs = NULL;
			return rc;
		}
	}
	return 0;
}

void gt_list_prefix(const struct route *rt, char *out, size_t n);
void gt_list_prefix(const struct route *rt, char *out, size_t n)
{
	char pre[256];

	gt_resource_key_prefix(rt->res, pre, sizeof(pre));
	if (rt->res->namespaced && rt->has_ns)
		snprintf(out, n, "%s/%s/", pre, rt->ns);
	else
		snprintf(out, n, "%s/", pre);
}

static void handle_list(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	struct list_ctx c = { 0 };
	struct gt_err err;
	char prefix[600], rvs[32], av[160];
	const char *cont = gt_http_query(req, "continue"), *lim = gt_http_query(req, "limit");
	char *after = NULL;
	int64_t rev;

	gt_err_clear(&err);
	if (gt_parse_selectors(req, rt->res, &c.ls, &c.fs, &err) < 0) {
		gt_reply_error(req, &err, NULL);
		return;
	}
	if (lim && *lim && (gt_parse_i64(lim, &c.limit) < 0 || c.limit < 0)) {
		gt_labelsel_free(c.ls);
		gt_fieldsel_free(c.fs);
		gt_reply_errorf(req, -EINVAL, "invalid limit: %s", lim);
		return;
	}
	gt_list_prefix(rt, prefix, sizeof(prefix));
	if (cont && *cont) {
		unsigned char *dec = NULL;
		size_t dlen = 0;

		if (gt_base64_decode(cont, strlen(cont), &dec, &dlen) < 0 ||
		    strncmp((char *)dec, prefix, strlen(prefix))) {
			free(dec);
			gt_labelsel_free(c.ls);
			gt_fieldsel_free(c.fs);
			gt_reply_errorf(req, -EINVAL, "continue key is not valid");
			return;
		}
		after = (char *)dec;
	}
	gt_store_list(api->store, prefix, after, list_cb, &c, &rev);
	free(after);
	snprintf(rvs, sizeof(rvs), "%lld", (long long)rev);
	if (gt_wants_table(req)) {
		json_t *t = gt_table_new(rt->res);
		time_t now = time(NULL);
		enum gt_table_include inc = include_mode(req);

		for (size_t i = 0; i < c.n; i++)
			gt_table_add_row(t, rt->res, c.items[i]->obj, inc, now);
		gt_json_set_str(t, "metadata.resourceVersion", rvs);
		if (c.more) {
			char *tok = gt_base64_encode(c.items[c.n - 1]->key, strlen(c.items[c.n - 1]->key));

			gt_json_set_str(t, "metadata.continue", tok);
			free(tok);
		}
		gt_reply_json(req, 200, t);
		json_decref(t);
	} else {
		struct gt_buf b = GT_BUF_INIT;
		size_t len;

		gt_resource_api_version(rt->res, av, sizeof(av));
		gt_buf_init(&b);
		gt_buf_addf(&b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%s\"",
			    rt->res->list_kind, av, rvs);
		if (c.more) {
			char *tok = gt_base64_encode(c.items[c.n - 1]->key, strlen(c.items[c.n - 1]->key));

			gt_buf_addf(&b, ",\"continue\":\"%s\"", tok);
			free(tok);
		}
		gt_buf_adds(&b, "},\"items\":[");
		for (size_t i = 0; i < c.n; i++) {
			if (i)
				gt_buf_addc(&b, ',');
			gt_buf_add(&b, c.items[i]->json, c.items[i]->len);
		}
		gt_buf_adds(&b, "]}");
		{
			char *s = gt_buf_detach(&b, &len);

			gt_reply_raw(req, 200, s, len);
		}
	}
	for (size_t i = 0; i < c.n; i++)
		gt_obj_unref(c.items[i]);
	free(c.items);
	gt_labelsel_free(c.ls);
	gt_fieldsel_free(c.fs);
}

/* ---- scale ---- */

static const char *scale_path(const struct gt_resource *r, int which)
{
	const char *p;

	if (!r->custom)
		return which == 0 ? "spec.replicas" : "status.replicas";
	p = which == 0 ? r->scale_spec_path : r->scale_status_path;
	if (p && *p == '.')
		p++;
	return p;
}

static json_t *scale_of(const struct gt_resource *r, const json_t *obj)
{
	const char *sp = scale_path(r, 0), *stp = scale_path(r, 1);
	int64_t spec = 0, status = 0;
	json_t *sc, *meta = gt_json_path(obj, "metadata");
	char *sel = NULL;

	if (sp)
		gt_json_int(obj, sp, &spec);
	if (stp)
		gt_json_int(obj, stp, &status);
	sc = json_pack("{s:s,s:s,s:{s:O*,s:O*,s:O*,s:O*,s:O*},s:{s:I},s:{s:I}}", "kind", "Scale",
		       "apiVersion", "autoscaling/v1", "metadata", "name",
		       json_object_get(meta, "name"), "namespace", json_object_get(meta, "namespace"),
		       "uid", json_object_get(meta, "uid"), "resourceVersion",
		       json_object_get(meta, "resourceVersion"), "creationTimestamp",
		       json_object_get(meta, "creationTimestamp"), "spec", "replicas",
		       (json_int_t)spec, "status", "replicas", (json_int_t)status);
	if (!r->custom && gt_json_path(obj, "spec.selector"))
		sel = gt_labelsel_object_string(gt_json_path(obj, "spec.selector"));
	else if (r->custom && r->scale_selector_path)
		sel = xstrdup(gt_json_str(obj, r->scale_selector_path[0] == '.' ?
					 r->scale_selector_path + 1 : r->scale_selector_path) ?: "");
	if (sel) {
		gt_json_set_str(sc, "status.selector", sel);
		free(sel);
	}
	return sc;
}

struct scale_ctx {
	const struct gt_resource *r;
	json_t *patch;       /* or */
	json_t *scale;       /* full object (PUT) */
	const char *ctype;
};

static int apply_scale(json_t *obj, void *arg, struct gt_err *err)
{
	struct scale_ctx *c = arg;
	json_t *cur = scale_of(c->r, obj), *nw = NULL;
	int64_t replicas;
	const char *rv;
	int rc = 0;

	if (c->scale) {
		nw = json_incref(c->scale);
	} else if (c->ctype && strstr(c->ctype, "json-patch")) {
		rc = gt_patch_json(cur, c->patch, &nw, err);
	} else {
		rc = gt_patch_merge(cur, c->patch, &nw, err);
	}
	json_decref(cur);
	if (rc < 0)
		return rc;
	if (gt_json_int(nw, "spec.replicas", &replicas) < 0 || replicas < 0) {
		json_decref(nw);
		gt_err_set(err, -EBADMSG, "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value: must be greater than or equal to 0",
			   gt_json_str(obj, "metadata.name") ?: "");
		gt_err_cause(err, "spec.replicas", "FieldValueInvalid",
			     "Invalid value: must be greater than or equal to 0");
		return -EBADMSG;
	}
	rv = gt_json_str(nw, "metadata.resourceVersion");
	if (rv && *rv)
		gt_json_set_str(obj, "metadata.resourceVersion", rv);
	gt_json_set(obj, scale_path(c->r, 0), json_integer(replicas));
	json_decref(nw);
	return 0;
}

/* ---- patch ---- */

struct patch_ctx {
	const struct gt_resource *r;
	const char *ctype;
	json_t *patch;
};

static int apply_patch(json_t *obj, void *arg, struct gt_err *err)
{
	struct patch_ctx *c = arg;
	json_t *res = NULL;
	char av[160];
	int rc;

	gt_resource_api_version(c->r, av, sizeof(av));
	if (!strcasecmp(c->ctype, "application/json-patch+json"))
		rc = gt_patch_json(obj, c->patch, &res, err);
	else if (!strcasecmp(c->ctype, "application/strategic-merge-patch+json"))
		rc = gt_patch_strategic(av, c->r->kind, obj, c->patch, &res, err);
	else
		rc = gt_patch_merge(obj, c->patch, &res, err);
	if (rc < 0)
		return rc;
	if (!json_is_object(res)) {
		json_decref(res);
		return gt_err_set(err, -EINVAL, "the patch produced a non-object");
	}
	/* Replace obj's contents in place with the result. */
	json_object_clear(obj);
	json_object_update(obj, res);
	json_decref(res);
	return 0;
}

static char *media_type(const char *ct)
{
	size_t n = 0;

	if (!ct)
		return xstrdup("");
	while (*ct == ' ')
		ct++;
	while (ct[n] && ct[n] != ';' && ct[n] != ' ')
		n++;
	return xstrndup(ct, n);
}

static void handle_patch(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	GT_AUTOFREE char *ct = media_type(gt_http_header(req, "Content-Type"));
	struct gt_write_opts o;
	struct gt_err err;
	struct gt_obj *out = NULL;
	json_t *patch = NULL;
	enum gt_part part = !strcmp(rt->sub, "status") ? GT_PART_STATUS : GT_PART_MAIN;
	bool apply = !strcasecmp(ct, "application/apply-patch+yaml");
	int rc;

	gt_err_clear(&err);
	gt_request_write_opts(req, &o);
	if (!apply && strcasecmp(ct, "application/json-patch+json") &&
	    strcasecmp(ct, "application/merge-patch+json") &&
	    strcasecmp(ct, "application/strategic-merge-patch+json")) {
		gt_reply_errorf(req, -EPROTONOSUPPORT,
				"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml%s",
				rt->res->patch == GT_SCHEMA_BUILTIN ? ", application/strategic-merge-patch+json" : "");
		return;
	}
	if (!strcasecmp(ct, "application/strategic-merge-patch+json") &&
	    (rt->res->patch != GT_SCHEMA_BUILTIN || !strcmp(rt->sub, "scale"))) {
		if (strcmp(rt->sub, "scale")) {
			gt_reply_errorf(req, -EPROTONOSUPPORT,
					"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
			return;
		}
	}
	if ((rc = gt_request_body(req, &patch, &err)) < 0 ||
	    (strcmp(rt->sub, "scale") && json_is_object(patch) &&
	     (rc = gt_field_validation(req, rt->res, patch, &err)) < 0)) {
		json_decref(patch);
		gt_reply_error(req, &err, rt);
		return;
	}
	if (!strcasecmp(ct, "application/json-patch+json") ? !json_is_array(patch) : !json_is_object(patch)) {
		json_decref(patch);
		gt_reply_errorf(req, -EINVAL, "the patch body has the wrong JSON type for %s", ct);
		return;
	}
	if (!strcmp(rt->sub, "scale")) {
		struct scale_ctx sc = { rt->res, patch, NULL, ct };

		rc = gt_api_modify(api, rt->res, ns_of(rt), rt->name, GT_PART_MAIN, apply_scale, &sc,
				   &o, &out, &err);
		json_decref(patch);
		if (rc < 0) {
			gt_reply_error(req, &err, rt);
			return;
		}
		{
			json_t *s = scale_of(rt->res, out->obj);

			gt_reply_json(req, 200, s);
			json_decref(s);
		}
		gt_obj_unref(out);
		return;
	}
	if (apply) {
		struct patch_ctx pc = { rt->res, "application/merge-patch+json", patch };

		if (!gt_http_query(req, "fieldManager")) {
			json_decref(patch);
			gt_reply_errorf(req, -EBADMSG, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
			return;
		}
		rc = gt_api_modify(api, rt->res, ns_of(rt), rt->name, part, apply_patch, &pc, &o,
				   &out, &err);
		if (rc == -ENOENT && part == GT_PART_MAIN) {
			gt_err_clear(&err);
			if (!gt_json_str(patch, "metadata.name"))
				gt_json_set_str(patch, "metadata.name", rt->name);
			rc = gt_api_create(api, rt->res, ns_of(rt), json_incref(patch), &o, &out, &err);
			json_decref(patch);
			if (rc < 0)
				gt_reply_error(req, &err, rt);
			else
				reply_obj(req, 201, rt, out);
			gt_obj_unref(out);
			return;
		}
		json_decref(patch);
	} else {
		struct patch_ctx pc = { rt->res, ct, patch };

		rc = gt_api_modify(api, rt->res, ns_of(rt), rt->name, part, apply_patch, &pc, &o,
				   &out, &err);
		json_decref(patch);
	}
	if (rc < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	reply_obj(req, 200, rt, out);
	gt_obj_unref(out);
}

/* ---- delete ---- */

int gt_delete_opts_parse(struct gt_http_req *req, const json_t *body, struct gt_delete_opts *o,
			 struct gt_err *err)
{
	const char *pp = gt_http_query(req, "propagationPolicy");
	const char *gp = gt_http_query(req, "gracePeriodSeconds");
	const char *dr = gt_http_query(req, "dryRun");
	json_t *v;

	memset(o, 0, sizeof(*o));
	o->grace = -1;
	o->dry_run = dr && !strcmp(dr, "All");
	if (body) {
		if ((v = json_object_get(body, "propagationPolicy")) && json_is_string(v))
			pp = json_string_value(v);
		if ((v = json_object_get(body, "gracePeriodSeconds")) && json_is_integer(v))
			o->grace = json_integer_value(v);
		if (json_is_true(json_object_get(body, "orphanDependents")))
			o->prop = GT_PROP_ORPHAN;
		o->pre_uid = gt_json_str(body, "preconditions.uid");
		o->pre_rv = gt_json_str(body, "preconditions.resourceVersion");
		if ((v = json_object_get(body, "dryRun")) && json_array_size(v))
			o->dry_run = true;
	}
	if (gp && *gp && gt_parse_i64(gp, &o->grace) < 0)
		return gt_err_set(err, -EINVAL, "invalid gracePeriodSeconds: %s", gp);
	if (qbool(req, "orphanDependents"))
		o->prop = GT_PROP_ORPHAN;
	if (pp && *pp) {
		if (!strcmp(pp, "Background"))
			o->prop = GT_PROP_BACKGROUND;
		else if (!strcmp(pp, "Foreground"))
			o->prop = GT_PROP_FOREGROUND;
		else if (!strcmp(pp, "Orphan"))
			o->prop = GT_PROP_ORPHAN;
		else
			return gt_err_set(err, -EBADMSG,
					  "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"%s\": supported values: \"Foreground\", \"Background\", \"Orphan\"",
					  pp);
	}
	return 0;
}

static void handle_delete(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	struct gt_delete_opts o;
	struct gt_err err;
	struct gt_obj *out = NULL;
	json_t *body = NULL;
	size_t blen;
	bool gone;
	int rc;

	gt_err_clear(&err);
	gt_http_body(req, &blen);
	if (blen && (rc = gt_request_body(req, &body, &err)) < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	rc = gt_delete_opts_parse(req, body, &o, &err);
	if (rc == 0)
		rc = gt_api_delete(api, rt->res, ns_of(rt), rt->name, &o, &out, &gone, &err);
	json_decref(body);
	if (rc < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	reply_obj(req, 200, rt, out);
	gt_obj_unref(out);
}

static void handle_deletecollection(struct gt_api *api, struct gt_http_req *req,
				    struct route *rt)
{
	struct list_ctx c = { 0 };
	struct gt_delete_opts o;
	struct gt_err err;
	char prefix[600], av[160];
	json_t *body = NULL, *list, *items;
	size_t blen;
	int64_t rev;

	gt_err_clear(&err);
	gt_http_body(req, &blen);
	if ((blen && gt_request_body(req, &body, &err) < 0) ||
	    gt_delete_opts_parse(req, body, &o, &err) < 0 ||
	    gt_parse_selectors(req, rt->res, &c.ls, &c.fs, &err) < 0) {
		json_decref(body);
		gt_reply_error(req, &err, rt);
		return;
	}
	gt_list_prefix(rt, prefix, sizeof(prefix));
	gt_store_list(api->store, prefix, NULL, list_cb, &c, &rev);
	items = json_array();
	for (size_t i = 0; i < c.n; i++) {
		struct gt_obj *out = NULL;
		bool gone;
		const char *ns = gt_json_str(c.items[i]->obj, "metadata.namespace");

		gt_err_clear(&err);
		if (gt_api_delete(api, rt->res, ns ? ns : "", gt_json_str(c.items[i]->obj, "metadata.name"),
				  &o, &out, &gone, &err) == 0) {
			json_array_append(items, out->obj);
			gt_obj_unref(out);
		}
		gt_obj_unref(c.items[i]);
	}
	free(c.items);
	gt_labelsel_free(c.ls);
	gt_fieldsel_free(c.fs);
	json_decref(body);
	gt_resource_api_version(rt->res, av, sizeof(av));
	list = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", rt->res->list_kind, "apiVersion", av,
			 "metadata", "resourceVersion", "", "items", items);
	gt_reply_json(req, 200, list);
	json_decref(list);
}

/* ---- create / update ---- */

static void handle_create(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	struct gt_write_opts o;
	struct gt_err err;
	struct gt_obj *out = NULL;
	json_t *body = NULL;

	gt_err_clear(&err);
	gt_request_write_opts(req, &o);
	if (gt_request_body(req, &body, &err) < 0 ||
	    gt_field_validation(req, rt->res, body, &err) < 0) {
		json_decref(body);
		gt_reply_error(req, &err, rt);
		return;
	}
	{
		/* Errors name the object of the body (details.name). */
		struct route named = *rt;
		const char *bn = gt_json_str(body, "metadata.name");

		if (bn && *bn) {
			snprintf(named.name, sizeof(named.name), "%s", bn);
			named.has_name = true;
		}
		if (gt_api_create(api, rt->res, ns_of(rt), body, &o, &out, &err) < 0) {
			gt_reply_error(req, &err, &named);
			return;
		}
	}
	reply_obj(req, 201, rt, out);
	gt_obj_unref(out);
}

static void handle_update(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	struct gt_write_opts o;
	struct gt_err err;
	struct gt_obj *out = NULL;
	json_t *body = NULL;
	int rc;

	gt_err_clear(&err);
	gt_request_write_opts(req, &o);
	if ((rc = gt_request_body(req, &body, &err)) < 0 ||
	    (strcmp(rt->sub, "scale") && (rc = gt_field_validation(req, rt->res, body, &err)) < 0)) {
		json_decref(body);
		gt_reply_error(req, &err, rt);
		return;
	}
	if (!strcmp(rt->sub, "scale")) {
		struct scale_ctx sc = { rt->res, NULL, body, NULL };

		rc = gt_api_modify(api, rt->res, ns_of(rt), rt->name, GT_PART_MAIN, apply_scale, &sc,
				   &o, &out, &err);
		json_decref(body);
		if (rc < 0) {
			gt_reply_error(req, &err, rt);
			return;
		}
		body = scale_of(rt->res, out->obj);
		gt_reply_json(req, 200, body);
		json_decref(body);
		gt_obj_unref(out);
		return;
	}
	rc = gt_api_update(api, rt->res, ns_of(rt), rt->name,
			   !strcmp(rt->sub, "status") ? GT_PART_STATUS : GT_PART_MAIN, body, &o,
			   &out, &err);
	if (rc < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	reply_obj(req, 200, rt, out);
	gt_obj_unref(out);
}

static void handle_binding(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	struct gt_err err;
	struct gt_obj *out = NULL;
	json_t *body = NULL;
	const char *node;

	gt_err_clear(&err);
	if (gt_request_body(req, &body, &err) < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	node = gt_json_str(body, "target.name");
	if (!node || !*node) {
		json_decref(body);
		gt_reply_errorf(req, -EBADMSG, "Binding \"%s\" is invalid: target.name: Required value", rt->name);
		return;
	}
	if (gt_api_bind(api, rt->ns, rt->name, node, &out, &err) < 0) {
		json_decref(body);
		gt_reply_error(req, &err, rt);
		return;
	}
	json_decref(body);
	gt_obj_unref(out);
	gt_reply_raw(req, 201, xstrdup("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\",\"code\":201}"),
		     strlen("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\",\"code\":201}"));
}

static const char *verb_of(const char *method, const struct route *rt, bool watch)
{
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
		return watch ? "watch" : rt->has_name ? "get" : "list";
	if (!strcmp(method, "POST"))
		return "create";
	if (!strcmp(method, "PUT"))
		return "update";
	if (!strcmp(method, "PATCH"))
		return "patch";
	if (!strcmp(method, "DELETE"))
		return rt->has_name ? "delete" : "deletecollection";
	return "unknown";
}

const char *gt_request_verb(struct gt_http_req *req, const struct route *rt);
const char *gt_request_verb(struct gt_http_req *req, const struct route *rt)
{
	return verb_of(gt_http_method(req), rt, qbool(req, "watch"));
}

static bool sub_allowed(const struct route *rt)
{
	const char *s = rt->sub;

	if (!*s)
		return true;
	if (!strcmp(s, "status"))
		return rt->res->subresources & GT_SUB_STATUS;
	if (!strcmp(s, "scale"))
		return rt->res->subresources & GT_SUB_SCALE;
	if (!strcmp(s, "binding"))
		return rt->res->subresources & GT_SUB_BINDING;
	if (!strcmp(s, "eviction"))
		return rt->res->subresources & GT_SUB_EVICTION;
	if (!strcmp(s, "log"))
		return rt->res->subresources & GT_SUB_LOG;
	if (!strcmp(s, "exec") || !strcmp(s, "attach") || !strcmp(s, "portforward"))
		return rt->res->subresources & GT_SUB_EXEC;
	return false;
}

void gt_handle_resource(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	const char *m = gt_http_method(req);

	if (rt->res->verbs == GT_VERBS_CREATE_ONLY) {
		if (!strcmp(m, "POST") && !rt->has_name)
			gt_handle_review(api, req, rt);
		else
			gt_reply_errorf(req, -EOPNOTSUPP, "the server does not allow this method on the requested resource");
		return;
	}
	if (gt_handle_hpa_v1(api, req, rt))
		return;
	if (rt->res->verbs == GT_VERBS_READ_ONLY) {
		if ((!strcmp(m, "GET") || !strcmp(m, "HEAD")) && !*rt->sub && !qbool(req, "watch"))
			gt_handle_metrics(api, req, rt);
		else
			gt_reply_errorf(req, -EOPNOTSUPP, "the server does not allow this method on the requested resource");
		return;
	}
	if (!sub_allowed(rt)) {
		gt_reply_errorf(req, -ENOENT, "the server could not find the requested resource");
		return;
	}
	if ((!strcmp(rt->sub, "exec") || !strcmp(rt->sub, "attach") || !strcmp(rt->sub, "portforward")) &&
	    (!strcmp(m, "GET") || !strcmp(m, "POST"))) {
		gt_handle_pod_stream(api, req, rt);
		return;
	}
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
		if (!rt->has_name) {
			if (qbool(req, "watch"))
				gt_handle_watch(api, req, rt);
			else
				handle_list(api, req, rt);
			return;
		}
		if (!strcmp(rt->sub, "log")) {
			gt_handle_pod_log(api, req, rt);
			return;
		}
		{
			struct gt_err err;
			struct gt_obj *o;

			gt_err_clear(&err);
			if (gt_api_get(api, rt->res, ns_of(rt), rt->name, &o, &err) < 0) {
				gt_reply_error(req, &err, rt);
				return;
			}
			if (!strcmp(rt->sub, "scale")) {
				json_t *s = scale_of(rt->res, o->obj);

				gt_reply_json(req, 200, s);
				json_decref(s);
			} else {
				reply_obj(req, 200, rt, o);
			}
			gt_obj_unref(o);
		}
	} else if (!strcmp(m, "POST")) {
		if (!strcmp(rt->sub, "binding") && rt->has_name)
			handle_binding(api, req, rt);
		else if (!strcmp(rt->sub, "eviction") && rt->has_name)
			gt_handle_eviction(api, req, rt);
		else if (rt->has_name)
			gt_reply_errorf(req, -EOPNOTSUPP, "the server does not allow this method on the requested resource");
		else
			handle_create(api, req, rt);
	} else if (!strcmp(m, "PUT") && rt->has_name) {
		handle_update(api, req, rt);
	} else if (!strcmp(m, "PATCH") && rt->has_name) {
		handle_patch(api, req, rt);
	} else if (!strcmp(m, "DELETE") && !*rt->sub) {
		if (rt->has_name)
			handle_delete(api, req, rt);
		else
			handle_deletecollection(api, req, rt);
	} else {
		gt_reply_errorf(req, -EOPNOTSUPP, "the server does not allow this method on the requested resource");
	}
}
