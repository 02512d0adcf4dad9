/*
 * api.c - the request entry point: authentication, routing to discovery or
 * resource handlers, authorization, and the api object's lifecycle
 * (including the namespaces that must always exist and re-registering the
 * CRDs found in the store).
 */
#include <string.h>

#include "apiserver/internal.h"
#include "base/log.h"

bool gt_is_public_path(const char *path);
const char *gt_request_verb(struct gt_http_req *req, const struct route *rt);

static int register_crd(struct gt_obj *o, void *ctx)
{
	struct gt_err err;

	(void)ctx;
	gt_err_clear(&err);
	if (!gt_json_path(o->obj, "metadata.deletionTimestamp") &&
	    gt_registry_add_crd(o->obj, &err) < 0)
		gt_warn("crd %s: %s", gt_json_str(o->obj, "metadata.name"), err.msg);
	return 0;
}

static void ensure_namespace(struct gt_api *api, const char *name)
{
	const struct gt_resource *r = gt_registry_find("", "v1", "namespaces");
	struct gt_obj *o = NULL;
	struct gt_err err;

	gt_err_clear(&err);
	if (gt_api_get(api, r, "", name, &o, NULL) == 0) {
		gt_obj_unref(o);
		return;
	}
	if (gt_api_create(api, r, "", json_pack("{s:{s:s}}", "metadata", "name", name), NULL, &o,
			  &err) < 0 && err.code != -EEXIST)
		gt_warn("cannot create namespace %s: %s", name, err.msg);
	gt_obj_unref(o);
}

int gt_api_new(const struct gt_api_config *cfg, struct gt_api **out, struct gt_err *err)
{
	struct gt_api *api = xcalloc(1, sizeof(*api));

	(void)err;
	api->store = cfg->store;
	api->token = cfg->token ? xstrdup(cfg->token) : NULL;
	api->server_url = cfg->server_url ? xstrdup(cfg->server_url) : NULL;
	api->max_body = cfg->max_body;
	api->not_ready_tol_s = cfg->not_ready_toleration_s > 0 ? cfg->not_ready_toleration_s : 300;
	api->unreachable_tol_s = cfg->unreachable_toleration_s > 0 ? cfg->unreachable_toleration_s : 300;
	pthread_mutex_init(&api->alloc_lock, NULL);
	pthread_rwlock_init(&api->local_lock, NULL);
	gt_store_list(api->store, "apiextensions.k8s.io/customresourcedefinitions/", NULL,
		      register_crd, NULL, NULL);
	ensure_namespace(api, "default");
	ensure_namespace(api, "kube-system");
	ensure_namespace(api, "kube-public");
	ensure_namespace(api, "kube-node-lease");
	*out = api;
	return 0;
}

void gt_api_shutdown(struct gt_api *api)
{
	if (api)
		atomic_store(&api->stopping, true);
}

void gt_api_free(struct gt_api *api)
{
	if (!api)
		return;
	free(api->token);
	free(api->server_url);
	pthread_mutex_destroy(&api->alloc_lock);
	pthread_rwlock_destroy(&api->local_lock);
	free(api);
}

void gt_api_set_local_agent(struct gt_api *api, const struct gt_api_local_agent *la)
{
	pthread_rwlock_wrlock(&api->local_lock);
	api->has_local = la != NULL;
	if (la)
		api->local = *la;
	pthread_rwlock_unlock(&api->local_lock);
}

void gt_api_handle(struct gt_http_req *req, void *ctx)
{
	struct gt_api *api = ctx;
	const char *path = gt_http_path(req);
	struct gt_user user;
	struct route rt;
	struct gt_err err;

	gt_err_clear(&err);
	if (gt_authenticate(api, req, &user) < 0 && !gt_is_public_path(path)) {
		gt_reply_errorf(req, -ENOKEY, "Unauthorized");
		return;
	}
	if (gt_is_discovery_path(path)) {
		gt_handle_discovery(api, req, path);
		return;
	}
	if (gt_route_parse(path, &rt, &err) < 0) {
		gt_reply_error(req, &err, NULL);
		return;
	}
	if (!gt_authorize(&user, gt_request_verb(req, &rt), rt.res->group, rt.res->plural, rt.sub,
			  rt.ns, rt.name)) {
		char q[256];

		gt_res_qualified(rt.res, q, sizeof(q));
		gt_reply_errorf(req, -EACCES,
				"%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\"",
				q, user.name ? user.name : "system:anonymous",
				gt_request_verb(req, &rt), rt.res->plural, rt.res->group);
		gt_route_release(&rt);
		return;
	}
	gt_handle_resource(api, req, &rt);
	gt_route_release(&rt);
}
