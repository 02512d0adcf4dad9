/*
 * discovery.c - the endpoints clients load before anything else: /version,
 * /api, /apis, the per-group-version resource lists (built from the
 * registry, so CRD groups appear at once), the OpenAPI stubs kubectl's
 * validation needs, and the health checks.
 */
#include <ctype.h>
#include <string.h>

#include "apiserver/internal.h"

#define GT_K8S_MINOR "33"
#define GT_K8S_VERSION "v1.33.0"

/* Kubernetes version priority: GA > beta > alpha, higher numbers first,
 * non-matching names last (alphabetically). Returns <0 when a sorts first. */
static int version_cmp(const char *a, const char *b)
{
	long ma = 0, mb = 0, na = 0, nb = 0;
	int ka = 3, kb = 3; /* 0 GA, 1 beta, 2 alpha, 3 other */
	char ra[32] = "", rb[32] = "";

	if (sscanf(a, "v%ld%31s", &ma, ra) >= 1)
		ka = !ra[0] ? 0 : sscanf(ra, "beta%ld", &na) == 1 ? 1 : sscanf(ra, "alpha%ld", &na) == 1 ? 2 : 3;
	if (sscanf(b, "v%ld%31s", &mb, rb) >= 1)
		kb = !rb[0] ? 0 : sscanf(rb, "beta%ld", &nb) == 1 ? 1 : sscanf(rb, "alpha%ld", &nb) == 1 ? 2 : 3;
	if (ka != kb)
		return ka - kb;
	if (ka == 3)
		return strcmp(a, b);
	if (ma != mb)
		return ma > mb ? -1 : 1;
	return na > nb ? -1 : na < nb ? 1 : 0;
}

struct groups {
	json_t *list; /* [{name, versions:[...]}] */
};

static int add_group(const struct gt_resource *r, void *arg)
{
	struct groups *g = arg;
	json_t *grp = NULL, *vers, *v;
	size_t i;

	if (!r->group[0])
		return 0;
	json_array_foreach(g->list, i, v)
		if (!strcmp(gt_json_str(v, "name"), r->group))
			grp = v;
	if (!grp) {
		grp = json_pack("{s:s,s:[]}", "name", r->group, "versions");
		json_array_append_new(g->list, grp);
	}
	vers = json_object_get(grp, "versions");
	json_array_foreach(vers, i, v)
		if (!strcmp(gt_json_str(v, "version"), r->version))
			return 0;
	{
		char gv[256];
		size_t pos = json_array_size(vers);

		snprintf(gv, sizeof(gv), "%s/%s", r->group, r->version);
		json_array_foreach(vers, i, v)
			if (version_cmp(r->version, gt_json_str(v, "version")) < 0) {
				pos = i;
				break;
			}
		json_array_insert_new(vers, pos, json_pack("{s:s,s:s}", "groupVersion", gv, "version",
							   r->version));
	}
	return 0;
}

static json_t *group_object(json_t *g)
{
	json_t *vers = json_object_get(g, "versions");

	json_object_set_new(g, "kind", json_string("APIGroup"));
	json_object_set_new(g, "apiVersion", json_string("v1"));
	json_object_set(g, "preferredVersion", json_array_get(vers, 0));
	return g;
}

static json_t *verbs_json(const struct gt_resource *r)
{
	if (r->verbs == GT_VERBS_CREATE_ONLY)
		return json_pack("[s]", "create");
	if (r->verbs == GT_VERBS_READ_ONLY)
		return json_pack("[s,s]", "get", "list");
	return json_pack("[s,s,s,s,s,s,s,s]", "create", "delete", "deletecollection", "get",
			 "list", "patch", "update", "watch");
}

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void add_sub(json_t *list, const struct gt_resource *r, const char *sub, const char *kind,
		    const char *group, const char *version, json_t *verbs)
{
	char name[256];
	json_t *e;

	snprintf(name, sizeof(name), "%s/%s", r->plural, sub);
	e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "singularName", "", "namespaced",
		      r->namespaced, "kind", kind, "verbs", verbs);
	if (group) {
		json_object_set_new(e, "group", json_string(group));
		json_object_set_new(e, "version", json_string(version));
	}
	json_array_append_new(list, e);
}

struct rl {
	const char *group, *version;
	json_t *list;
};

static int add_resource(const struct gt_resource *r, void *arg)
{
	struct rl *c = arg;
	json_t *e;

	if (strcmp(r->group, c->group) || strcmp(r->version, c->version))
		return 0;
	e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", r->plural, "singularName", r->singular,
		      "namespaced", r->namespaced, "kind", r->kind, "verbs", verbs_json(r));
	if (r->short_names[0])
		json_object_set_new(e, "shortNames", strings(r->short_names, GT_ARRAY_SIZE(r->short_names)));
	if (r->categories[0])
		json_object_set_new(e, "categories", strings(r->categories, GT_ARRAY_SIZE(r->categories)));
	json_array_append_new(c->list, e);
	if (r->subresources & GT_SUB_STATUS)
		add_sub(c->list, r, "status", r->kind, NULL, NULL, json_pack("[s,s,s]", "get", "patch", "update"));
	if (r->subresources & GT_SUB_SCALE)
		add_sub(c->list, r, "scale", "Scale", "autoscaling", "v1", json_pack("[s,s,s]", "get", "patch", "update"));
	if (r->subresources & GT_SUB_LOG)
		add_sub(c->list, r, "log", r->kind, NULL, NULL, json_pack("[s]", "get"));
	if (r->subresources & GT_SUB_EXEC) {
		add_sub(c->list, r, "exec", "PodExecOptions", NULL, NULL, json_pack("[s,s]", "create", "get"));
		add_sub(c->list, r, "attach", "PodAttachOptions", NULL, NULL, json_pack("[s,s]", "create", "get"));
		add_sub(c->list, r, "portforward", "PodPortForwardOptions", NULL, NULL, json_pack("[s,s]", "create", "get"));
	}
	if (r->subresources & GT_SUB_BINDING)
		add_sub(c->list, r, "binding", "Binding", NULL, NULL, json_pack("[s]", "create"));
	if (r->subresources & GT_SUB_EVICTION)
		add_sub(c->list, r, "eviction", "Eviction", "policy", "v1", json_pack("[s]", "create"));
	if (r->subresources & GT_SUB_TOKEN)
		add_sub(c->list, r, "token", "TokenRequest", "authentication.k8s.io", "v1", json_pack("[s]", "create"));
	return 0;
}

static const char *const discovery_paths[] = {
	"/version", "/api", "/apis", "/openapi/v2", "/openapi/v3", "/healthz", "/readyz", "/livez",
};

bool gt_is_discovery_path(const char *path)
{
	char p[512];
	size_t n = strlen(path);

	if (n >= sizeof(p))
		return false;
	memcpy(p, path, n + 1);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	for (size_t i = 0; i < GT_ARRAY_SIZE(discovery_paths); i++)
		if (!strcmp(p, discovery_paths[i]))
			return true;
	if (!strncmp(p, "/healthz/", 9) || !strncmp(p, "/readyz/", 8) || !strncmp(p, "/livez/", 7) ||
	    !strncmp(p, "/openapi/v3/", 12))
		return true;
	/* /api/v1, /apis/G, /apis/G/V */
	if (!strcmp(p, "/api/v1"))
		return true;
	if (!strncmp(p, "/apis/", 6)) {
		const char *rest = p + 6, *s1 = strchr(rest, '/');

		return !s1 || !strchr(s1 + 1, '/');
	}
	return false;
}

/* Health and public-info paths are served without a token (as Kubernetes'
 * system:public-info-viewer allows). */
bool gt_is_public_path(const char *path);
bool gt_is_public_path(const char *path)
{
	return !strncmp(path, "/healthz", 8) || !strncmp(path, "/readyz", 7) ||
	       !strncmp(path, "/livez", 6) || !strcmp(path, "/version") || !strcmp(path, "/version/");
}

void gt_handle_discovery(struct gt_api *api, struct gt_http_req *req, const char *path)
{
	char p[512];
	size_t n = strlen(path);
	json_t *v = NULL;

	memcpy(p, path, n + 1);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	if (!strcmp(p, "/healthz") || !strcmp(p, "/readyz") || !strcmp(p, "/livez") ||
	    !strncmp(p, "/healthz/", 9) || !strncmp(p, "/readyz/", 8) || !strncmp(p, "/livez/", 7)) {
		bool ready = !atomic_load(&api->stopping);

		gt_http_reply(req, ready ? 200 : 503, "text/plain", ready ? "ok" : "shutting down",
			      ready ? 2 : 13);
		return;
	}
	if (!strcmp(p, "/version")) {
		v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor",
			      GT_K8S_MINOR, "gitVersion", GT_K8S_VERSION "+gantry", "gitCommit",
			      "gantry", "gitTreeState", "clean", "buildDate", "2026-11-27T00:00:00Z",
			      "goVersion", "go1.24.0", "compiler", "gc", "platform", "linux/amd64");
	} else if (!strcmp(p, "/openapi/v2")) {
		/* An empty protobuf document: kubectl skips client-side validation. */
		gt_http_reply(req, 200, "application/octet-stream", "", 0);
		return;
	} else if (!strncmp(p, "/openapi/v3", 11)) {
		gt_reply_errorf(req, -ENOENT, "the server could not find the requested resource");
		return;
	} else if (!strcmp(p, "/api")) {
		v = json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
			      "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
			      api->server_url ? api->server_url : "127.0.0.1:6443");
	} else if (!strcmp(p, "/apis") || !strncmp(p, "/apis/", 6)) {
		struct groups g = { json_array() };
		const char *rest = p[5] ? p + 6 : NULL;
		const char *slash = rest ? strchr(rest, '/') : NULL;

		gt_registry_foreach(add_group, &g);
		if (!rest) {
			json_t *gv;
			size_t i;

			json_array_foreach(g.list, i, gv)
				json_object_set(gv, "preferredVersion", json_array_get(json_object_get(gv, "versions"), 0));
			v = json_pack("{s:s,s:s,s:O}", "kind", "APIGroupList", "apiVersion", "v1",
				      "groups", g.list);
		} else if (!slash) {
			json_t *gv;
			size_t i;

			json_array_foreach(g.list, i, gv)
				if (!strcmp(gt_json_str(gv, "name"), rest))
					v = json_incref(group_object(gv));
		} else {
			char group[256];
			struct rl c;

			snprintf(group, sizeof(group), "%.*s", (int)(slash - rest), rest);
			c = (struct rl){ group, slash + 1, json_array() };
			gt_registry_foreach(add_resource, &c);
			if (json_array_size(c.list)) {
				char gvs[300];

				snprintf(gvs, sizeof(gvs), "%s/%s", group, slash + 1);
				v = json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion",
					      "v1", "groupVersion", gvs, "resources", c.list);
			} else {
				json_decref(c.list);
			}
		}
		json_decref(g.list);
	} else if (!strcmp(p, "/api/v1")) {
		struct rl c = { "", "v1", json_array() };

		gt_registry_foreach(add_resource, &c);
		v = json_pack("{s:s,s:s,s:o}", "kind", "APIResourceList", "groupVersion", "v1",
			      "resources", c.list);
	}
	if (!v) {
		gt_reply_errorf(req, -ENOENT, "the server could not find the requested resource");
		return;
	}
	gt_reply_json(req, 200, v);
	json_decref(v);
	(void)isdigit;
}
