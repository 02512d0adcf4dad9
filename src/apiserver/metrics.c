/*
 * metrics.c - metrics.k8s.io/v1beta1 (see metrics.h): scrapes the agents
 * of Ready nodes for their latest figures and shapes them as
 * metrics-server does: NodeMetrics / PodMetrics with timestamp, window and
 * usage {cpu: "<n>n", memory: "<n>Ki"}, list and get, pods by namespace
 * and labelSelector (labels are the pod's own).  A pod without complete
 * figures (a container not sampled twice yet) is left out, and a get of it
 * is 404, as with metrics-server.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/selector.h"
#include "apiserver/agentconn.h"
#include "apiserver/internal.h"
#include "apiserver/metrics.h"
#include "client/client.h"

int gt_parse_selectors(struct gt_http_req *req, const struct gt_resource *r,
		       struct gt_labelsel **ls, struct gt_fieldsel **fs, struct gt_err *err);

static bool node_ready(const json_t *node)
{
	const json_t *c;
	size_t i;

	json_array_foreach(gt_json_path(node, "status.conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", "Ready"))
			return !strcmp(gt_json_str(c, "status") ?: "", "True");
	return false;
}

struct scrape {
	struct gt_api *api;
	const char *only;
	json_t *out;
};

static int scrape_node(struct gt_obj *o, void *arg)
{
	struct scrape *s = arg;
	const char *name = gt_json_str(o->obj, "metadata.name") ?: "";
	struct gt_client *c = NULL;
	json_t *figs = NULL;
	struct gt_err err;
	char url[300];

	if ((s->only && strcmp(s->only, name)) || !node_ready(o->obj) ||
	    gt_agent_url(o->obj, url, sizeof(url)) < 0)
		return 0;
	{
		struct gt_client_config cc = { .server_url = url, .token = s->api->token, .timeout_s = 3 };

		gt_err_clear(&err);
		if (gt_client_new(&cc, &c, &err) < 0)
			return 0;
	}
	if (gt_client_get(c, "/stats/resource", &figs, &err) == 0 && json_is_object(figs))
		json_object_set_new(s->out, name, figs);
	else
		json_decref(figs);
	gt_client_free(c);
	return 0;
}

json_t *gt_metrics_scrape(struct gt_api *api, const char *node)
{
	struct scrape s = { api, node, json_object() };

	gt_store_list(api->store, "core/nodes/", NULL, scrape_node, &s, NULL);
	return s.out;
}

/* The figures of pod uid in a scrape, complete ones only. */
static const json_t *pod_figs(const json_t *scrape, const char *uid)
{
	const char *node;
	const json_t *figs, *p;
	size_t i;

	json_object_foreach((json_t *)scrape, node, figs)
		json_array_foreach(json_object_get(figs, "pods"), i, p)
			if (!strcmp(gt_json_str(p, "uid") ?: "", uid))
				return gt_json_bool(p, "incomplete", false) ||
				       !json_array_size(json_object_get(p, "containers")) ? NULL : p;
	return NULL;
}

int gt_metrics_pod_usage(const json_t *scrape, const char *uid, int64_t *cpu_nano, int64_t *mem)
{
	const json_t *p = pod_figs(scrape, uid), *c;
	size_t i;

	if (!p)
		return -ENOENT;
	*cpu_nano = *mem = 0;
	json_array_foreach(json_object_get(p, "containers"), i, c) {
		int64_t v = 0;

		gt_json_int(c, "cpuNano", &v);
		*cpu_nano += v;
		v = 0;
		gt_json_int(c, "memoryBytes", &v);
		*mem += v;
	}
	return 0;
}

void gt_metrics_cpu_str(int64_t nano, char out[32])
{
	snprintf(out, 32, "%lldn", (long long)(nano > 0 ? nano : 0));
}

void gt_metrics_mem_str(int64_t bytes, char out[32])
{
	snprintf(out, 32, "%lldKi", (long long)(bytes > 0 ? bytes / 1024 : 0));
}

/* Go's time.Duration text for a window of ms milliseconds ("5s", "5.002s"). */
static void window_str(int64_t ms, char out[32])
{
	if (ms % 1000 == 0)
		snprintf(out, 32, "%llds", (long long)(ms / 1000));
	else {
		size_t n;

		snprintf(out, 32, "%lld.%03llds", (long long)(ms / 1000), (long long)(ms % 1000));
		n = strlen(out);
		/* trim trailing zeros of the fraction: "5.100s" -> "5.1s" */
		while (n > 2 && out[n - 2] == '0') {
			out[n - 2] = 's';
			out[--n] = '\0';
		}
	}
}

static json_t *usage(const json_t *figs)
{
	int64_t cpu = 0, mem = 0;
	char c[32], m[32];

	gt_json_int(figs, "cpuNano", &cpu);
	gt_json_int(figs, "memoryBytes", &mem);
	gt_metrics_cpu_str(cpu, c);
	gt_metrics_mem_str(mem, m);
	return json_pack("{s:s,s:s}", "cpu", c, "memory", m);
}

/* kind, apiVersion, metadata {name[, namespace], creationTimestamp, labels}, timestamp, window */
static json_t *base(const char *kind, const json_t *obj, const json_t *figs)
{
	int64_t t = 0, w = 0;
	char ts[32], win[32], now[32];
	json_t *meta, *labels = gt_json_path(obj, "metadata.labels");

	gt_json_int(figs, "time", &t);
	gt_json_int(figs, "windowMs", &w);
	gt_time_rfc3339((time_t)t, ts);
	gt_time_rfc3339(time(NULL), now);
	window_str(w, win);
	meta = json_pack("{s:s,s:s}", "name", gt_json_str(obj, "metadata.name") ?: "",
			 "creationTimestamp", now);
	if (gt_json_str(obj, "metadata.namespace"))
		json_object_set_new(meta, "namespace", json_string(gt_json_str(obj, "metadata.namespace")));
	if (labels)
		json_object_set(meta, "labels", labels);
	return json_pack("{s:s,s:s,s:o,s:s,s:s}", "kind", kind, "apiVersion", "metrics.k8s.io/v1beta1",
			 "metadata", meta, "timestamp", ts, "window", win);
}

struct collect {
	const json_t *scrape;
	const struct route *rt;
	struct gt_labelsel *ls;
	struct gt_fieldsel *fs;
	json_t *items;
};

static int add_pod(struct gt_obj *o, void *arg)
{
	struct collect *c = arg;
	const json_t *figs, *ctr;
	json_t *pm, *ctrs;
	size_t i;

	if ((c->rt->has_name && strcmp(gt_json_str(o->obj, "metadata.name") ?: "", c->rt->name)) ||
	    (c->ls && !gt_labelsel_match(c->ls, gt_json_path(o->obj, "metadata.labels"))) ||
	    (c->fs && !gt_fieldsel_match(c->fs, o->obj)) ||
	    !(figs = pod_figs(c->scrape, gt_json_str(o->obj, "metadata.uid") ?: "")))
		return 0;
	pm = base("PodMetrics", o->obj, figs);
	ctrs = json_array();
	json_array_foreach(json_object_get(figs, "containers"), i, ctr) {
		json_t *e = json_pack("{s:s,s:o}", "name", gt_json_str(ctr, "name") ?: "", "usage",
				      usage(ctr));

		json_array_append_new(ctrs, e);
	}
	json_object_set_new(pm, "containers", ctrs);
	json_array_append_new(c->items, pm);
	return 0;
}

static int add_node(struct gt_obj *o, void *arg)
{
	struct collect *c = arg;
	const char *name = gt_json_str(o->obj, "metadata.name") ?: "";
	const json_t *figs = json_object_get(json_object_get(c->scrape, name), "node");
	json_t *nm;

	if ((c->rt->has_name && strcmp(name, c->rt->name)) || !figs ||
	    (c->ls && !gt_labelsel_match(c->ls, gt_json_path(o->obj, "metadata.labels"))) ||
	    (c->fs && !gt_fieldsel_match(c->fs, o->obj)))
		return 0;
	nm = base("NodeMetrics", o->obj, figs);
	json_object_set_new(nm, "usage", usage(figs));
	json_array_append_new(c->items, nm);
	return 0;
}

void gt_handle_metrics(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	bool pods = !strcmp(rt->res->plural, "pods");
	struct collect c = { .rt = rt, .items = json_array() };
	struct gt_err err;
	char prefix[600];

	gt_err_clear(&err);
	if (gt_parse_selectors(req, rt->res, &c.ls, &c.fs, &err) < 0) {
		json_decref(c.items);
		gt_reply_error(req, &err, rt);
		return;
	}
	c.scrape = gt_metrics_scrape(api, pods || !rt->has_name ? NULL : rt->name);
	if (pods)
		snprintf(prefix, sizeof(prefix), "core/pods/%s%s", rt->has_ns ? rt->ns : "",
			 rt->has_ns ? "/" : "");
	else
		snprintf(prefix, sizeof(prefix), "core/nodes/");
	gt_store_list(api->store, prefix, NULL, pods ? add_pod : add_node, &c, NULL);
	if (rt->has_name) {
		if (json_array_size(c.items))
			gt_reply_json(req, 200, json_array_get(c.items, 0));
		else
			gt_reply_errorf(req, -ENOENT, "%s.metrics.k8s.io \"%s\" not found", rt->res->plural,
					rt->name);
	} else {
		json_t *list = json_pack("{s:s,s:s,s:{},s:O}", "kind", rt->res->list_kind, "apiVersion",
					 "metrics.k8s.io/v1beta1", "metadata", "items", c.items);

		gt_reply_json(req, 200, list);
		json_decref(list);
	}
	json_decref((json_t *)c.scrape);
	json_decref(c.items);
	gt_labelsel_free(c.ls);
	gt_fieldsel_free(c.fs);
}
