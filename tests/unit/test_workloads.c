/*
 * Unit tests for the StatefulSet and DaemonSet controllers
 * (src/controllers/statefulset.c, daemonset.c, revision.c) through the
 * in-process API, one pass at a time: ordered creation, claims, ordered
 * scale-down, ControllerRevisions and rolling updates; one pod per
 * eligible node, pinned and tolerating, and nodes coming and going.
 */
#include <unistd.h>

#include "t.h"
#include "apitest.h"
#include "controllers/controllers.h"

static int create(const struct gt_resource *r, const char *ns, const char *js)
{
	json_t *o = json_loads(js, 0, NULL);
	struct gt_obj *out = NULL;
	struct gt_err e;
	int rc;

	gt_err_clear(&e);
	rc = gt_api_create(api, r, ns, o, NULL, &out, &e);
	if (rc < 0)
		fprintf(stderr, "  create: %s\n", e.msg);
	gt_obj_unref(out);
	return rc;
}

static json_t *get(const struct gt_resource *r, const char *ns, const char *name)
{
	struct gt_obj *o = NULL;
	json_t *v;

	if (gt_api_get(api, r, ns, name, &o, NULL) < 0)
		return NULL;
	v = json_deep_copy(o->obj);
	gt_obj_unref(o);
	return v;
}

static bool exists(const struct gt_resource *r, const char *ns, const char *name)
{
	json_t *v = get(r, ns, name);

	json_decref(v);
	return v != NULL;
}

static int set_ready(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)ctx;
	(void)err;
	gt_json_set(obj, "status", json_pack("{s:s,s:[{s:s,s:s}]}", "phase", "Running", "conditions",
					     "type", "Ready", "status", "True"));
	return 0;
}

static int set_failed(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)ctx;
	(void)err;
	gt_json_set(obj, "status", json_pack("{s:s}", "phase", "Failed"));
	return 0;
}

static void ready(const char *ns, const char *name)
{
	struct gt_obj *o = NULL;

	if (gt_api_modify(api, R("", "pods"), ns, name, GT_PART_STATUS, set_ready, NULL, NULL, &o,
			  NULL) == 0)
		gt_obj_unref(o);
}

static int count(const char *prefix, const char *ns)
{
	struct gt_objlist l = { 0 };
	int n = 0;

	gt_objlist_load(api, prefix, &l);
	for (size_t i = 0; i < l.n; i++)
		n += !strcmp(gt_json_str(l.items[i]->obj, "metadata.namespace") ?: "", ns) &&
		     !gt_json_path(l.items[i]->obj, "metadata.deletionTimestamp");
	gt_objlist_release(&l);
	return n;
}

static int64_t status_int(const struct gt_resource *r, const char *ns, const char *name,
			  const char *path)
{
	json_t *v = get(r, ns, name);
	int64_t n = -1;

	gt_json_int(v, path, &n);
	json_decref(v);
	return n;
}

static int set_replicas(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	gt_json_set(obj, "spec.replicas", json_integer(*(int *)ctx));
	return 0;
}

static int set_env(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	gt_json_set(json_array_get(gt_json_path(obj, "spec.template.spec.containers"), 0), "env",
		    json_pack("[{s:s,s:s}]", "name", "V", "value", (const char *)ctx));
	return 0;
}

static void modify(const struct gt_resource *r, const char *ns, const char *name, gt_mutate_fn fn,
		   void *ctx)
{
	struct gt_obj *o = NULL;

	if (gt_api_modify(api, r, ns, name, GT_PART_MAIN, fn, ctx, NULL, &o, NULL) == 0)
		gt_obj_unref(o);
}

#define STS "{\"metadata\":{\"name\":\"db\"},\"spec\":{\"replicas\":3,\"serviceName\":\"dbs\"," \
	"\"selector\":{\"matchLabels\":{\"app\":\"db\"}},\"template\":{\"metadata\":{\"labels\":" \
	"{\"app\":\"db\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":" \
	"[{\"name\":\"data\",\"mountPath\":\"/d\"}]}]}},\"volumeClaimTemplates\":[{\"metadata\":" \
	"{\"name\":\"data\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":" \
	"{\"storage\":\"1Mi\"}}}}]}}"

TEST(statefulset_ordered)
{
	const struct gt_resource *pods = R("", "pods"), *sts = R("apps", "statefulsets");
	json_t *p;
	int one = 1;

	CHECK_INT(create(R("", "namespaces"), NULL, "{\"metadata\":{\"name\":\"s1\"}}"), 0);
	CHECK_INT(create(sts, "s1", STS), 0);
	gt_sts_pass(api, NULL);
	gt_sts_pass(api, NULL);
	/* OrderedReady: db-1 waits for db-0 to run and be ready */
	CHECK_INT(count("core/pods/", "s1"), 1);
	p = get(pods, "s1", "db-0");
	CHECK(p != NULL);
	CHECK_STR(gt_json_str(p, "spec.hostname"), "db-0");
	CHECK_STR(gt_json_str(p, "spec.subdomain"), "dbs");
	CHECK_STR(json_string_value(json_object_get(gt_json_path(p, "metadata.labels"),
						    "apps.kubernetes.io/pod-index")), "0");
	CHECK_STR(gt_json_str(json_array_get(gt_json_path(p, "spec.volumes"), 0),
			      "persistentVolumeClaim.claimName"), "data-db-0");
	json_decref(p);
	CHECK(exists(R("", "persistentvolumeclaims"), "s1", "data-db-0"));
	CHECK(!exists(R("", "persistentvolumeclaims"), "s1", "data-db-1"));
	ready("s1", "db-0");
	gt_sts_pass(api, NULL);
	CHECK_INT(count("core/pods/", "s1"), 2);
	CHECK(exists(pods, "s1", "db-1") && !exists(pods, "s1", "db-2"));
	ready("s1", "db-1");
	gt_sts_pass(api, NULL);
	ready("s1", "db-2");
	gt_sts_pass(api, NULL);
	CHECK_INT(status_int(sts, "s1", "db", "status.readyReplicas"), 3);
	CHECK_INT(count("apps/controllerrevisions/", "s1"), 1);
	/* a failed pod comes back under its name, with its claim */
	{
		struct gt_obj *o = NULL;
		json_t *before = get(pods, "s1", "db-1"), *after;

		if (gt_api_modify(api, pods, "s1", "db-1", GT_PART_STATUS, set_failed, NULL, NULL, &o,
				  NULL) == 0)
			gt_obj_unref(o);
		gt_sts_pass(api, NULL);
		gt_sts_pass(api, NULL);
		after = get(pods, "s1", "db-1");
		CHECK(after && strcmp(gt_json_str(after, "metadata.uid"), gt_json_str(before, "metadata.uid")));
		CHECK_STR(gt_json_str(json_array_get(gt_json_path(after, "spec.volumes"), 0),
				      "persistentVolumeClaim.claimName"), "data-db-1");
		CHECK_INT(count("core/persistentvolumeclaims/", "s1"), 3);
		json_decref(before);
		json_decref(after);
		ready("s1", "db-1");
		gt_sts_pass(api, NULL);
	}
	/* a rolling update goes from the highest ordinal, one at a time */
	modify(sts, "s1", "db", set_env, "2");
	gt_sts_pass(api, NULL); /* the new revision; db-2 goes (unbound: at once) */
	CHECK_INT(count("apps/controllerrevisions/", "s1"), 2);
	CHECK(!exists(pods, "s1", "db-2"));
	CHECK(exists(pods, "s1", "db-1") && exists(pods, "s1", "db-0"));
	gt_sts_pass(api, NULL); /* db-2 comes back new; db-1 waits for it */
	p = get(pods, "s1", "db-2");
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(
		  gt_json_path(p, "spec.containers"), 0), "env"), 0), "value")), "2");
	json_decref(p);
	gt_sts_pass(api, NULL);
	CHECK(exists(pods, "s1", "db-1"));
	ready("s1", "db-2");
	gt_sts_pass(api, NULL);
	CHECK(!exists(pods, "s1", "db-1"));
	CHECK(exists(pods, "s1", "db-0"));
	/* scale down: the highest ordinal first; claims stay */
	modify(sts, "s1", "db", set_replicas, &one);
	gt_sts_pass(api, NULL);
	gt_sts_pass(api, NULL);
	CHECK(exists(pods, "s1", "db-0"));
	CHECK(!exists(pods, "s1", "db-2"));
	CHECK_INT(count("core/persistentvolumeclaims/", "s1"), 3);
}

#define NODE(n, extra) "{\"metadata\":{\"name\":\"" n "\"},\"spec\":{" extra "}}"
#define DS "{\"metadata\":{\"name\":\"mon\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":" \
	"\"mon\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"mon\"}},\"spec\":{" \
	"\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}"

TEST(daemonset_nodes)
{
	const struct gt_resource *nodes = R("", "nodes"), *ds = R("apps", "daemonsets");
	struct gt_objlist l = { 0 };
	struct gt_obj *o = NULL;
	bool gone;

	CHECK_INT(create(nodes, NULL, NODE("n1", "")), 0);
	CHECK_INT(create(nodes, NULL, NODE("n2", "\"unschedulable\":true")), 0);
	CHECK_INT(create(nodes, NULL, NODE("n3", "\"taints\":[{\"key\":\"k\",\"effect\":\"NoSchedule\"}]")), 0);
	CHECK_INT(create(R("", "namespaces"), NULL, "{\"metadata\":{\"name\":\"d1\"}}"), 0);
	CHECK_INT(create(ds, "d1", DS), 0);
	gt_ds_pass(api, NULL);
	/* n1 and the cordoned n2; not the tainted n3 */
	CHECK_INT(count("core/pods/", "d1"), 2);
	gt_objlist_load(api, "core/pods/", &l);
	for (size_t i = 0; i < l.n; i++) {
		const json_t *p = l.items[i]->obj, *f;
		const char *node;

		if (strcmp(gt_json_str(p, "metadata.namespace") ?: "", "d1"))
			continue;
		f = json_array_get(json_object_get(json_array_get(gt_json_path(p,
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
			"nodeSelectorTerms"), 0), "matchFields"), 0);
		CHECK_STR(gt_json_str(f, "key"), "metadata.name");
		node = json_string_value(json_array_get(json_object_get(f, "values"), 0));
		CHECK(node && (!strcmp(node, "n1") || !strcmp(node, "n2")));
		CHECK_INT(json_array_size(gt_json_path(p, "spec.tolerations")), 6);
		ready("d1", gt_json_str(p, "metadata.name"));
	}
	gt_objlist_release(&l);
	gt_ds_pass(api, NULL);
	CHECK_INT(status_int(ds, "d1", "mon", "status.desiredNumberScheduled"), 2);
	CHECK_INT(status_int(ds, "d1", "mon", "status.numberReady"), 2);
	CHECK_INT(status_int(ds, "d1", "mon", "status.updatedNumberScheduled"), 2);
	/* a node that goes takes its pod; a new one gets one */
	gt_api_delete(api, nodes, NULL, "n2", NULL, &o, &gone, NULL);
	gt_obj_unref(o);
	CHECK_INT(create(nodes, NULL, NODE("n4", "")), 0);
	gt_ds_pass(api, NULL);
	gt_ds_pass(api, NULL);
	CHECK_INT(count("core/pods/", "d1"), 2);
	CHECK_INT(status_int(ds, "d1", "mon", "status.desiredNumberScheduled"), 2);
	/* a rolling update makes a new revision; with maxUnavailable 1 one old pod goes */
	modify(ds, "d1", "mon", set_env, "2");
	gt_ds_pass(api, NULL);
	CHECK_INT(count("apps/controllerrevisions/", "d1"), 2);
	CHECK_INT(count("core/pods/", "d1"), 1);
	gt_ds_pass(api, NULL); /* its replacement; the other old pod waits for it */
	gt_ds_pass(api, NULL);
	CHECK_INT(count("core/pods/", "d1"), 2);
	CHECK_INT(status_int(ds, "d1", "mon", "status.updatedNumberScheduled"), 1);
}

/* hostNetwork pods also tolerate network-unavailable; a user toleration is not doubled */
TEST(daemonset_tolerations)
{
	const struct gt_resource *ds = R("apps", "daemonsets");
	struct gt_objlist l = { 0 };
	int seen = 0;

	CHECK_INT(create(R("", "namespaces"), NULL, "{\"metadata\":{\"name\":\"d2\"}}"), 0);
	CHECK_INT(create(ds, "d2", "{\"metadata\":{\"name\":\"net\"},\"spec\":{\"selector\":"
			 "{\"matchLabels\":{\"app\":\"net\"}},\"template\":{\"metadata\":{\"labels\":"
			 "{\"app\":\"net\"}},\"spec\":{\"hostNetwork\":true,\"tolerations\":[{\"key\":"
			 "\"node.kubernetes.io/unschedulable\",\"operator\":\"Exists\",\"effect\":"
			 "\"NoSchedule\"}],\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}"), 0);
	gt_ds_pass(api, NULL);
	gt_objlist_load(api, "core/pods/", &l);
	for (size_t i = 0; i < l.n; i++) {
		const json_t *p = l.items[i]->obj, *t;
		size_t k;
		int net = 0;

		if (strcmp(gt_json_str(p, "metadata.namespace") ?: "", "d2"))
			continue;
		seen++;
		CHECK_INT(json_array_size(gt_json_path(p, "spec.tolerations")), 7);
		json_array_foreach(gt_json_path(p, "spec.tolerations"), k, t)
			net += !strcmp(gt_json_str(t, "key") ?: "", "node.kubernetes.io/network-unavailable");
		CHECK_INT(net, 1);
	}
	gt_objlist_release(&l);
	CHECK(seen > 0);
}

int main(void)
{
	setup("workloads");
	RUN(statefulset_ordered);
	RUN(daemonset_nodes);
	RUN(daemonset_tolerations);
	teardown();
	return t_done();
}
