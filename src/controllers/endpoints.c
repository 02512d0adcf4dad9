/*
 * endpoints.c - the Endpoints and EndpointSlice controllers: for every
 * Service with a selector (not ExternalName), the pods it selects that have
 * an address and are not finished become
 *   - the Endpoints object of the same name: subsets grouped by resolved
 *     port set, ready pods in addresses, the others in notReadyAddresses
 *     (all in addresses with publishNotReadyAddresses);
 *   - one EndpointSlice per resolved port set, named "<svc>-<hash>" and
 *     labelled kubernetes.io/service-name and endpointslice.kubernetes.io/
 *     managed-by, owned by the Service (the garbage collector removes it
 *     with the Service), endpoints with conditions ready/serving/terminating,
 *     nodeName, targetRef and hostname (pods whose spec.subdomain names the
 *     Service and that have spec.hostname).
 * Named targetPorts are resolved against each pod's container ports; a pod
 * without the named port is left out of that port's set, as Kubernetes
 * does.  A Service that selects nothing gets an empty Endpoints object and
 * one slice without endpoints.  Endpoints this controller made (annotated
 * endpoints.kubernetes.io/last-change-trigger-time) go when their Service
 * does or loses its selector; others are left alone (selector-less Services
 * with hand-made Endpoints).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/selector.h"
#include "base/log.h"
#include "controllers/controllers.h"

#define MANAGED_BY "endpointslice-controller.k8s.io"
#define TRIGGER_ANN "endpoints.kubernetes.io/last-change-trigger-time"
#define SVC_LABEL "kubernetes.io/service-name"
#define MANAGED_LABEL "endpointslice.kubernetes.io/managed-by"

/* The container port of pod named name (protocol proto), or -1. */
static int64_t named_port(const json_t *pod, const char *name, const char *proto)
{
	const json_t *c, *p;
	size_t i, j;

	json_array_foreach(gt_json_path(pod, "spec.containers"), i, c)
		json_array_foreach(json_object_get(c, "ports"), j, p) {
			int64_t n;

			if (!strcmp(gt_json_str(p, "name") ?: "", name) &&
			    !strcmp(gt_json_str(p, "protocol") ?: "TCP", proto) &&
			    gt_json_int(p, "containerPort", &n) == 0)
				return n;
		}
	return -1;
}

/* The pod's ports for svc: [{name, port, protocol}] in the Service's order. */
static json_t *resolve_ports(const json_t *svc, const json_t *pod)
{
	json_t *out = json_array(), *sp;
	size_t i;

	json_array_foreach(gt_json_path(svc, "spec.ports"), i, sp) {
		const json_t *tp = json_object_get(sp, "targetPort");
		const char *proto = gt_json_str(sp, "protocol") ?: "TCP";
		int64_t port = -1;
		json_t *p;

		if (json_is_integer(tp))
			port = json_integer_value(tp);
		else if (json_is_string(tp))
			port = named_port(pod, json_string_value(tp), proto);
		else
			gt_json_int(sp, "port", &port);
		if (port <= 0 || port > 65535)
			continue;
		p = json_pack("{s:I,s:s}", "port", (json_int_t)port, "protocol", proto);
		if (gt_json_str(sp, "name"))
			json_object_set_new(p, "name", json_string(gt_json_str(sp, "name")));
		json_array_append_new(out, p);
	}
	return out;
}

static json_t *target_ref(const json_t *pod)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "kind", "Pod", "namespace",
			 gt_json_str(pod, "metadata.namespace") ?: "", "name",
			 gt_json_str(pod, "metadata.name") ?: "", "uid",
			 gt_json_str(pod, "metadata.uid") ?: "");
}

/* One group of pods sharing a port set: the subset and the slice's endpoints. */
struct group {
	json_t *ports, *addrs, *notready, *slice_eps;
};

static struct group *group_for(struct group **gs, size_t *n, json_t *ports)
{
	for (size_t i = 0; i < *n; i++)
		if (gt_json_equal((*gs)[i].ports, ports)) {
			json_decref(ports);
			return &(*gs)[i];
		}
	*gs = realloc(*gs, (*n + 1) * sizeof(**gs));
	if (!*gs)
		abort();
	(*gs)[*n] = (struct group){ ports, json_array(), json_array(), json_array() };
	return &(*gs)[(*n)++];
}

static void add_pod(struct group *g, const json_t *svc, const json_t *pod)
{
	const char *ip = gt_json_str(pod, "status.podIP");
	const char *node = gt_json_str(pod, "spec.nodeName");
	const char *host = gt_json_str(pod, "spec.hostname");
	const char *sub = gt_json_str(pod, "spec.subdomain");
	bool terminating = gt_json_path(pod, "metadata.deletionTimestamp") != NULL;
	bool ready = gt_pod_is_ready(pod) && !terminating;
	bool publish = gt_json_bool(svc, "spec.publishNotReadyAddresses", false);
	bool named = host && *host && sub && !strcmp(sub, gt_json_str(svc, "metadata.name") ?: "");
	json_t *a = json_pack("{s:s,s:o}", "ip", ip, "targetRef", target_ref(pod));
	json_t *ep = json_pack("{s:[s],s:{s:b,s:b,s:b},s:o}", "addresses", ip, "conditions", "ready",
			       ready || publish, "serving", gt_pod_is_ready(pod), "terminating",
			       terminating, "targetRef", target_ref(pod));

	if (node) {
		json_object_set_new(a, "nodeName", json_string(node));
		json_object_set_new(ep, "nodeName", json_string(node));
	}
	if (named) {
		json_object_set_new(a, "hostname", json_string(host));
		json_object_set_new(ep, "hostname", json_string(host));
	}
	if (ready || publish)
		json_array_append_new(g->addrs, a);
	else if (!terminating)
		json_array_append_new(g->notready, a);
	else
		json_decref(a);
	if (terminating && !publish)
		json_decref(ep); /* kept out of slices too (Kubernetes lists them only when asked) */
	else
		json_array_append_new(g->slice_eps, ep);
}

static int by_ip(const void *a, const void *b)
{
	return strcmp(gt_json_str(*(json_t *const *)a, "ip") ?: "",
		      gt_json_str(*(json_t *const *)b, "ip") ?: "");
}

static void sort_addrs(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v;

	if (n < 2)
		return;
	v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), by_ip);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

/* Slice name "<svc>-<8 hex of the port set>", at most 253 characters. */
static void slice_name(const json_t *svc, const json_t *ports, char *out, size_t n)
{
	char *s = json_dumps(ports, JSON_COMPACT | JSON_SORT_KEYS);
	uint32_t h = 2166136261u;

	for (const char *p = s ? s : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	free(s);
	snprintf(out, n, "%.240s-%08x", gt_json_str(svc, "metadata.name") ?: "", h);
}

struct want {
	json_t *fields; /* what must be set on the object (merged over it) */
};

static int set_fields(json_t *obj, void *ctx, struct gt_err *err)
{
	json_t *want = ctx, *merged = json_deep_copy(obj), *v;
	const char *k;
	bool same;

	(void)err;
	json_object_foreach(want, k, v) {
		if (!strcmp(k, "metadata")) {
			json_t *m = json_object_get(merged, "metadata");

			json_object_update(m, v);
		} else {
			json_object_set(merged, k, v);
		}
	}
	json_object_del(json_object_get(merged, "metadata"), "managedFields");
	same = gt_json_equal(merged, obj);
	if (!same) {
		json_object_clear(obj);
		json_object_update(obj, merged);
	}
	json_decref(merged);
	return same ? -EALREADY : 0;
}

/* Creates or updates ns/name of r to carry body's fields (body stolen). */
static void put(struct gt_api *api, const struct gt_resource *r, const char *ns, const char *name,
		json_t *body, bool exists)
{
	struct gt_obj *out = NULL;
	struct gt_err err;
	int rc;

	gt_err_clear(&err);
	if (exists) {
		rc = gt_api_modify(api, r, ns, name, GT_PART_MAIN, set_fields, body, NULL, &out, &err);
		json_decref(body);
	} else {
		rc = gt_api_create(api, r, ns, body, NULL, &out, &err);
	}
	if (rc < 0 && rc != -EALREADY && rc != -EEXIST && rc != -ENOENT)
		gt_warn("endpoints: %s %s/%s: %s", r->kind, ns, name, err.msg);
	gt_obj_unref(out);
}

static bool exists(const struct gt_objlist *l, const char *ns, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(gt_json_str(l->items[i]->obj, "metadata.namespace") ?: "", ns) &&
		    !strcmp(gt_json_str(l->items[i]->obj, "metadata.name") ?: "", name))
			return true;
	return false;
}

static json_t *svc_owner(const json_t *svc)
{
	return json_pack("[{s:s,s:s,s:s,s:s,s:b,s:b}]", "apiVersion", "v1", "kind", "Service",
			 "name", gt_json_str(svc, "metadata.name") ?: "", "uid",
			 gt_json_str(svc, "metadata.uid") ?: "", "controller", 1,
			 "blockOwnerDeletion", 1);
}

static bool has_trigger(const json_t *o)
{
	return json_object_get(gt_json_path(o, "metadata.annotations"), TRIGGER_ANN) != NULL;
}

static void sync_service(struct gt_api *api, const json_t *svc, const struct gt_objlist *pods,
			 const struct gt_objlist *eps, const struct gt_objlist *slices,
			 json_t *keep)
{
	const char *ns = gt_json_str(svc, "metadata.namespace") ?: "";
	const char *name = gt_json_str(svc, "metadata.name") ?: "";
	const json_t *labels = gt_json_path(svc, "metadata.labels");
	struct gt_labelsel *sel = NULL;
	struct group *gs = NULL;
	size_t ng = 0;
	json_t *subsets = json_array(), *meta;
	char now[32];

	if (gt_labelsel_from_map(gt_json_path(svc, "spec.selector"), &sel, NULL) < 0)
		return;
	for (size_t i = 0; i < pods->n; i++) {
		const json_t *pod = pods->items[i]->obj;

		if (strcmp(gt_json_str(pod, "metadata.namespace") ?: "", ns) || gt_pod_finished(pod) ||
		    !gt_json_str(pod, "status.podIP") ||
		    !gt_labelsel_match(sel, gt_json_path(pod, "metadata.labels")))
			continue;
		add_pod(group_for(&gs, &ng, resolve_ports(svc, pod)), svc, pod);
	}
	gt_labelsel_free(sel);
	if (!ng)
		group_for(&gs, &ng, json_array());
	gt_time_rfc3339(time(NULL), now);
	for (size_t i = 0; i < ng; i++) {
		struct group *g = &gs[i];
		char sname[256];
		json_t *ss = json_object(), *body;

		sort_addrs(g->addrs);
		sort_addrs(g->notready);
		if (json_array_size(g->addrs))
			json_object_set(ss, "addresses", g->addrs);
		if (json_array_size(g->notready))
			json_object_set(ss, "notReadyAddresses", g->notready);
		if (json_array_size(g->ports))
			json_object_set(ss, "ports", g->ports);
		if (json_object_size(ss) > (json_object_get(ss, "ports") ? 1u : 0u))
			json_array_append(subsets, ss);
		json_decref(ss);
		slice_name(svc, g->ports, sname, sizeof(sname));
		meta = json_pack("{s:s,s:s,s:o}", "name", sname, "namespace", ns, "labels",
				 labels ? json_deep_copy(labels) : json_object());
		json_object_set_new(json_object_get(meta, "labels"), SVC_LABEL, json_string(name));
		json_object_set_new(json_object_get(meta, "labels"), MANAGED_LABEL,
				    json_string(MANAGED_BY));
		json_object_set_new(meta, "ownerReferences", svc_owner(svc));
		body = json_pack("{s:s,s:s,s:o,s:s,s:O,s:o}", "apiVersion", "discovery.k8s.io/v1",
				 "kind", "EndpointSlice", "metadata", meta, "addressType", "IPv4",
				 "endpoints", g->slice_eps, "ports", json_deep_copy(g->ports));
		{
			GT_AUTOFREE char *k = xasprintf("%s/%s", ns, sname);

			json_object_set_new(keep, k, json_true());
		}
		put(api, gt_registry_find("discovery.k8s.io", "v1", "endpointslices"), ns, sname, body,
		    exists(slices, ns, sname));
		json_decref(g->ports);
		json_decref(g->addrs);
		json_decref(g->notready);
		json_decref(g->slice_eps);
	}
	free(gs);
	meta = json_pack("{s:s,s:s,s:{s:s}}", "name", name, "namespace", ns, "annotations",
			 TRIGGER_ANN, now);
	if (labels)
		json_object_set_new(meta, "labels", json_deep_copy(labels));
	{
		/* the trigger time changes only with the subsets */
		json_t *cur = NULL;

		for (size_t i = 0; i < eps->n; i++)
			if (!strcmp(gt_json_str(eps->items[i]->obj, "metadata.namespace") ?: "", ns) &&
			    !strcmp(gt_json_str(eps->items[i]->obj, "metadata.name") ?: "", name))
				cur = eps->items[i]->obj;
		if (cur && has_trigger(cur) &&
		    (gt_json_equal(json_object_get(cur, "subsets"), subsets) ||
		     (!json_array_size(json_object_get(cur, "subsets")) && !json_array_size(subsets)))) {
			json_decref(meta);
			json_decref(subsets);
			return;
		}
		put(api, gt_registry_find("", "v1", "endpoints"), ns, name,
		    json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Endpoints", "metadata",
			      meta, "subsets", subsets),
		    cur != NULL);
	}
}

static bool selects(const json_t *svc)

{
	const char *type = gt_json_str(svc, "spec.type");

	return json_object_size(gt_json_path(svc, "spec.selector")) &&
	       !(type && !strcmp(type, "ExternalName"));
}

static const json_t *find_svc(const struct gt_objlist *svcs, const char *ns, const char *name)
{
	for (size_t i = 0; i < svcs->n; i++)
		if (!strcmp(gt_json_str(svcs->items[i]->obj, "metadata.namespace") ?: "", ns) &&
		    !strcmp(gt_json_str(svcs->items[i]->obj, "metadata.name") ?: "", name))
			return svcs->items[i]->obj;
	return NULL;
}

static void del(struct gt_api *api, const struct gt_resource *r, const json_t *obj)
{
	struct gt_obj *out = NULL;
	bool gone;

	gt_api_delete(api, r, gt_json_str(obj, "metadata.namespace"),
		      gt_json_str(obj, "metadata.name"), NULL, &out, &gone, NULL);
	gt_obj_unref(out);
}

int gt_endpoints_pass(struct gt_api *api, void *ctx)
{
	struct gt_objlist svcs = { 0 }, pods = { 0 }, eps = { 0 }, slices = { 0 };
	json_t *nsdone = json_object(), *keep = json_object();

	(void)ctx;
	gt_objlist_load(api, "core/services/", &svcs);
	gt_objlist_load(api, "core/endpoints/", &eps);
	gt_objlist_load(api, "discovery.k8s.io/endpointslices/", &slices);
	for (size_t i = 0; i < svcs.n; i++) {
		const char *ns = gt_json_str(svcs.items[i]->obj, "metadata.namespace") ?: "";

		if (selects(svcs.items[i]->obj) && !json_object_get(nsdone, ns)) {
			char prefix[300];

			/* only the namespaces that have Services: pods elsewhere cost nothing */
			snprintf(prefix, sizeof(prefix), "core/pods/%s/", ns);
			gt_objlist_load(api, prefix, &pods);
			json_object_set_new(nsdone, ns, json_true());
		}
	}
	for (size_t i = 0; i < svcs.n; i++)
		if (selects(svcs.items[i]->obj))
			sync_service(api, svcs.items[i]->obj, &pods, &eps, &slices, keep);
	for (size_t i = 0; i < eps.n; i++) {
		const json_t *e = eps.items[i]->obj;
		const json_t *s = find_svc(&svcs, gt_json_str(e, "metadata.namespace") ?: "",
					   gt_json_str(e, "metadata.name") ?: "");

		if (has_trigger(e) && (!s || !selects(s)))
			del(api, gt_registry_find("", "v1", "endpoints"), e);
	}
	for (size_t i = 0; i < slices.n; i++) {
		const json_t *sl = slices.items[i]->obj;
		const char *owner = json_string_value(
			json_object_get(gt_json_path(sl, "metadata.labels"), MANAGED_LABEL));
		GT_AUTOFREE char *k = xasprintf("%s/%s", gt_json_str(sl, "metadata.namespace") ?: "",
						gt_json_str(sl, "metadata.name") ?: "");

		if (owner && !strcmp(owner, MANAGED_BY) && !json_object_get(keep, k))
			del(api, gt_registry_find("discovery.k8s.io", "v1", "endpointslices"), sl);
	}
	json_decref(nsdone);
	json_decref(keep);
	gt_objlist_release(&svcs);
	gt_objlist_release(&pods);
	gt_objlist_release(&eps);
	gt_objlist_release(&slices);
	return 0;
}

bool gt_endpoints_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	const char *k = ev->obj->key;

	(void)ctx;
	(void)waiting;
	return !strncmp(k, "core/services/", 14) || !strncmp(k, "core/pods/", 10) ||
	       !strncmp(k, "core/endpoints/", 15) || !strncmp(k, "discovery.k8s.io/endpointslices/", 32);
}
