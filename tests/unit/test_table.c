/* Unit tests for src/api/jsonpath.c, src/api/table.c and src/api/table_cols.c. */
#include "t.h"
#include "api/jsonpath.h"
#include "api/table.h"

/* 2021-01-01T00:00:00Z */
#define T0 1609459200

static json_t *J(const char *s)
{
	json_error_t je;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &je);

	if (!v)
		fprintf(stderr, "bad test JSON: %s: line %d: %s\n", s, je.line, je.text);
	return v;
}

/* Compact JSON of the first match of path in obj ("(none)" / "(error)"). */
static const char *jp(const json_t *obj, const char *path)
{
	static char buf[512];
	json_t *v;
	char *s;

	if (gt_jsonpath_eval(obj, path, &v, NULL) < 0)
		return "(error)";
	if (!v)
		return "(none)";
	s = gt_json_dump(v, NULL);
	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	json_decref(v);
	return buf;
}

static const char *jpall(const json_t *obj, const char *path)
{
	static char buf[512];
	json_t *v;
	char *s;

	if (gt_jsonpath_eval_all(obj, path, &v, NULL) < 0)
		return "(error)";
	if (!v)
		return "(none)";
	s = gt_json_dump(v, NULL);
	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	json_decref(v);
	return buf;
}

TEST(jsonpath)
{
	json_t *o = J("{\"metadata\":{\"name\":\"x\",\"annotations\":{\"a.b/c\":\"v\"}},"
		      "\"status\":{\"replicas\":3,\"conditions\":[{\"type\":\"Created\",\"status\":\"True\"},"
		      "{\"type\":\"Running\",\"status\":\"False\",\"n\":2}]},"
		      "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i1\"},{\"name\":\"b\",\"image\":\"i2\"}]}}");
	struct gt_err e;

	CHECK_STR(jp(o, ".metadata.name"), "\"x\"");
	CHECK_STR(jp(o, "{.metadata.name}"), "\"x\"");
	CHECK_STR(jp(o, " { $.metadata.name } "), "\"x\"");
	CHECK_STR(jp(o, ".status.replicas"), "3");
	CHECK_STR(jp(o, ".status.conditions[-1:].type"), "\"Running\"");
	CHECK_STR(jp(o, ".status.conditions[0].type"), "\"Created\"");
	CHECK_STR(jp(o, ".status.conditions[-1].type"), "\"Running\"");
	CHECK_STR(jp(o, ".status.conditions[5].type"), "(none)");
	CHECK_STR(jp(o, ".status.conditions[-5].type"), "(none)");
	CHECK_STR(jp(o, ".spec.containers[*].name"), "\"a\"");
	CHECK_STR(jpall(o, ".spec.containers[*].name"), "[\"a\",\"b\"]");
	CHECK_STR(jpall(o, ".spec.containers.*.image"), "[\"i1\",\"i2\"]");
	CHECK_STR(jpall(o, ".spec.containers[0:1].name"), "[\"a\"]");
	CHECK_STR(jpall(o, ".spec.containers[::2].name"), "[\"a\"]");
	CHECK_STR(jpall(o, ".spec.containers[1:1].name"), "(none)");
	CHECK_STR(jpall(o, ".status.*"), "[3,[{\"type\":\"Created\",\"status\":\"True\"},{\"type\":\"Running\",\"status\":\"False\",\"n\":2}]]");
	CHECK_STR(jp(o, ".metadata.annotations['a.b/c']"), "\"v\"");
	CHECK_STR(jp(o, ".metadata.annotations[\"a.b/c\"]"), "\"v\"");
	CHECK_STR(jp(o, ".metadata.annotations.a\\.b/c"), "\"v\"");
	CHECK_STR(jp(o, ".status.conditions[?(@.type==\"Running\")].status"), "\"False\"");
	CHECK_STR(jp(o, ".status.conditions[?(@.type == 'Created')].status"), "\"True\"");
	CHECK_STR(jp(o, ".status.conditions[?(@.type!='Created')].type"), "\"Running\"");
	CHECK_STR(jp(o, ".status.conditions[?(@.n>1)].type"), "\"Running\"");
	CHECK_STR(jp(o, ".status.conditions[?(@.n<=1.5)].type"), "(none)");
	CHECK_STR(jpall(o, ".status.conditions[?(@.status)].type"), "[\"Created\",\"Running\"]");
	CHECK_STR(jpall(o, ".status.conditions[?(@.n)].type"), "[\"Running\"]");
	CHECK_STR(jp(o, ".nope.x"), "(none)");
	CHECK_STR(jp(o, ".metadata.name.x"), "(none)");
	CHECK_STR(jp(o, ".metadata[0]"), "(none)");
	CHECK(!strncmp(jp(o, "$"), "{\"metadata\":", 12));
	CHECK(!strncmp(jp(o, "."), "{\"metadata\":", 12));

	CHECK_STR(jp(o, "..name"), "(error)");
	CHECK_STR(jp(o, ".a[0,1]"), "(error)");
	CHECK_STR(jp(o, ".a['x','y']"), "(error)");
	CHECK_STR(jp(o, "metadata.name"), "(error)");
	CHECK_STR(jp(o, "{.a}{.b}"), "(error)");
	CHECK_STR(jp(o, "{.a"), "(error)");
	CHECK_STR(jp(o, ".a["), "(error)");
	CHECK_STR(jp(o, ".a[x]"), "(error)");
	CHECK_STR(jp(o, ".a[1:2:0]"), "(error)");
	CHECK_STR(jp(o, ".a[?(@.x=='y')"), "(error)");
	CHECK_STR(jp(o, ".a[?(@.x=~'y')]"), "(error)");
	CHECK_STR(jp(o, ""), "(error)");
	CHECK_STR(jp(o, "{}"), "(error)");
	{
		struct gt_buf b = GT_BUF_INIT;

		gt_buf_adds(&b, ".a");
		for (int i = 0; i < 100; i++)
			gt_buf_adds(&b, "[?(@.a");
		for (int i = 0; i < 100; i++)
			gt_buf_adds(&b, ")]");
		CHECK_INT(gt_jsonpath_check(b.data, NULL), -EINVAL);
		gt_buf_release(&b);
	}
	CHECK_INT(gt_jsonpath_check(".a[?(@.b[?(@.c=='x')])]", NULL), 0);
	gt_err_clear(&e);
	CHECK_INT(gt_jsonpath_check("{range .items[*]}", &e), -EINVAL);
	CHECK(e.msg[0] != '\0');
	CHECK_INT(gt_jsonpath_check(".status.conditions[?(@.type=='Ready')].status", NULL), 0);
	json_decref(o);
}

/* Row 0's cells of a one-row table, as compact JSON. */
static const char *row_cells(json_t *table)
{
	static char buf[1024];
	char *s = gt_json_dump(json_object_get(json_array_get(json_object_get(table, "rows"), 0), "cells"),
			       NULL);

	snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
	free(s);
	return buf;
}

static const char *col_names(json_t *table)
{
	static char buf[512];
	json_t *c;
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(table, "columnDefinitions"), i, c)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "," : "",
				      json_string_value(json_object_get(c, "name")));
	return buf;
}

/* A table with one row for obj (JSON text) of kind group/kind. */
static json_t *one(const char *group, const char *kind, const char *obj, enum gt_table_include inc)
{
	struct gt_resource r = { .group = group, .version = "v1", .kind = kind };
	json_t *t = gt_table_new(&r), *o = J(obj);

	gt_table_add_row(t, &r, o, inc, T0 + 300);
	json_decref(o);
	return t;
}

#define META(name) "\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\",\"labels\":{\"app\":\"web\"},\"creationTimestamp\":\"2021-01-01T00:00:00Z\"}"

/* Pod status cell for a pod body (status/spec members). */
static const char *pod_status(const char *body)
{
	static char buf[128];
	char *js = xasprintf("{" META("p") ",%s}", body);
	json_t *t = one("", "Pod", js, GT_INCLUDE_NONE);

	snprintf(buf, sizeof(buf), "%s",
		 json_string_value(json_array_get(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells"), 2)) ?: "(null)");
	json_decref(t);
	free(js);
	return buf;
}

TEST(table_pod)
{
	json_t *t = one("", "Pod", "{\"kind\":\"Pod\",\"apiVersion\":\"v1\"," META("p1") ","
			"\"spec\":{\"nodeName\":\"node1\",\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
			"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.5\",\"containerStatuses\":["
			"{\"name\":\"a\",\"ready\":true,\"restartCount\":1,\"state\":{\"running\":{}}},"
			"{\"name\":\"b\",\"ready\":false,\"restartCount\":2,\"state\":{\"running\":{}}}]}}",
			GT_INCLUDE_METADATA);
	json_t *row = json_array_get(json_object_get(t, "rows"), 0), *obj;

	CHECK_STR(json_string_value(json_object_get(t, "kind")), "Table");
	CHECK_STR(json_string_value(json_object_get(t, "apiVersion")), "meta.k8s.io/v1");
	CHECK(json_is_object(json_object_get(t, "metadata")));
	CHECK_STR(col_names(t), "Name,Ready,Status,Restarts,Age,IP,Node,Nominated Node,Readiness Gates");
	CHECK_STR(row_cells(t), "[\"p1\",\"1/2\",\"Running\",3,\"5m\",\"10.0.0.5\",\"node1\",\"<none>\",\"<none>\"]");
	obj = json_object_get(row, "object");
	CHECK_STR(json_string_value(json_object_get(obj, "kind")), "PartialObjectMetadata");
	CHECK_STR(json_string_value(json_object_get(obj, "apiVersion")), "meta.k8s.io/v1");
	CHECK_STR(gt_json_str(obj, "metadata.namespace"), "default");
	CHECK_STR(gt_json_str(obj, "metadata.labels.app"), "web");
	CHECK(!json_object_get(row, "conditions"));
	CHECK_INT(json_integer_value(gt_json_path(json_array_get(json_object_get(t, "columnDefinitions"), 6), "priority")), 1);
	CHECK_STR(gt_json_str(json_array_get(json_object_get(t, "columnDefinitions"), 0), "format"), "name");
	gt_table_drop_headers(t);
	CHECK(!json_object_get(t, "columnDefinitions"));
	json_decref(t);

	CHECK_STR(pod_status("\"status\":{\"phase\":\"Pending\"}"), "Pending");
	CHECK_STR(pod_status("\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}"),
		  "ContainerCreating");
	CHECK_STR(pod_status("\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"restartCount\":5,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}"),
		  "CrashLoopBackOff");
	CHECK_STR(pod_status("\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}"),
		  "Completed");
	CHECK_STR(pod_status("\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}}]}"),
		  "Error");
	CHECK_STR(pod_status("\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":3}}}]}"),
		  "ExitCode:3");
	CHECK_STR(pod_status("\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":137,\"signal\":9}}}]}"),
		  "Signal:9");
	CHECK_STR(pod_status("\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			     "{\"ready\":true,\"state\":{\"running\":{}}},{\"state\":{\"terminated\":{\"reason\":\"Completed\"}}}]}"),
		  "Running");
	CHECK_STR(pod_status("\"spec\":{\"initContainers\":[{},{}]},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			     "{\"state\":{\"terminated\":{\"exitCode\":0}}},{\"state\":{\"running\":{}}}]}"),
		  "Init:1/2");
	CHECK_STR(pod_status("\"spec\":{\"initContainers\":[{}]},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			     "{\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}"),
		  "Init:CrashLoopBackOff");
	CHECK_STR(pod_status("\"spec\":{\"initContainers\":[{}]},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			     "{\"state\":{\"terminated\":{\"exitCode\":2}}}]}"),
		  "Init:ExitCode:2");
	CHECK_STR(pod_status("\"status\":{\"phase\":\"Pending\",\"reason\":\"Evicted\"}"), "Evicted");

	t = one("", "Pod", "{\"metadata\":{\"name\":\"p\",\"deletionTimestamp\":\"2021-01-01T00:05:00Z\"},\"status\":{\"phase\":\"Running\"}}",
		GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"p\",\"0/0\",\"Terminating\",0,\"<unknown>\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	CHECK(!json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object"));
	json_decref(t);

	t = one("", "Pod", "{" META("done") ",\"spec\":{\"readinessGates\":[{\"conditionType\":\"x\"},{\"conditionType\":\"y\"}]},"
		"\"status\":{\"phase\":\"Succeeded\",\"podIPs\":[{\"ip\":\"fd00::1\"}],\"conditions\":[{\"type\":\"x\",\"status\":\"True\"}]}}",
		GT_INCLUDE_OBJECT);
	row = json_array_get(json_object_get(t, "rows"), 0);
	CHECK_STR(gt_json_str(json_array_get(json_object_get(row, "conditions"), 0), "type"), "Completed");
	CHECK_STR(gt_json_str(json_array_get(json_object_get(row, "conditions"), 0), "reason"), "Succeeded");
	CHECK_STR(row_cells(t), "[\"done\",\"0/0\",\"Succeeded\",0,\"5m\",\"fd00::1\",\"<none>\",\"<none>\",\"1/2\"]");
	/* the stored object had no kind: the row object says which it is */
	CHECK_STR(gt_json_str(json_object_get(row, "object"), "kind"), "Pod");
	CHECK_STR(gt_json_str(json_object_get(row, "object"), "apiVersion"), "v1");
	CHECK_STR(gt_json_str(json_object_get(row, "object"), "status.phase"), "Succeeded");
	json_decref(t);
}

TEST(table_workloads)
{
	json_t *t = one("apps", "Deployment", "{" META("web") ",\"spec\":{\"replicas\":3,"
			"\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"spec\":{\"containers\":["
			"{\"name\":\"nginx\",\"image\":\"nginx:1\"},{\"name\":\"side\",\"image\":\"busybox\"}]}}},"
			"\"status\":{\"readyReplicas\":2,\"updatedReplicas\":3,\"availableReplicas\":2}}",
			GT_INCLUDE_METADATA);

	CHECK_STR(col_names(t), "Name,Ready,Up-to-date,Available,Age,Containers,Images,Selector");
	CHECK_STR(row_cells(t), "[\"web\",\"2/3\",3,2,\"5m\",\"nginx,side\",\"nginx:1,busybox\",\"app=web\"]");
	json_decref(t);

	t = one("apps", "ReplicaSet", "{" META("web-1") ",\"spec\":{\"replicas\":2,\"selector\":{\"matchExpressions\":"
		"[{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"web\"]}]}},\"status\":{\"replicas\":2,\"readyReplicas\":1}}",
		GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"web-1\",2,2,1,\"5m\",\"\",\"\",\"app in (web)\"]");
	json_decref(t);

	t = one("batch", "Job", "{" META("pi") ",\"spec\":{\"completions\":1},\"status\":{\"succeeded\":1,"
		"\"startTime\":\"2021-01-01T00:00:10Z\",\"completionTime\":\"2021-01-01T00:00:52Z\"}}",
		GT_INCLUDE_NONE);
	CHECK_STR(col_names(t), "Name,Completions,Duration,Age,Containers,Images,Selector");
	CHECK_STR(row_cells(t), "[\"pi\",\"1/1\",\"42s\",\"5m\",\"\",\"\",\"<none>\"]");
	json_decref(t);
	t = one("batch", "Job", "{" META("par") ",\"spec\":{\"parallelism\":3}}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"par\",\"0/1 of 3\",\"\",\"5m\",\"\",\"\",\"<none>\"]");
	json_decref(t);

	t = one("apps", "StatefulSet", "{" META("db") ",\"spec\":{\"replicas\":2},\"status\":{\"readyReplicas\":2}}",
		GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"db\",\"2/2\",\"5m\",\"\",\"\"]");
	json_decref(t);

	t = one("batch", "CronJob", "{" META("cj") ",\"spec\":{\"schedule\":\"*/1 * * * *\",\"suspend\":false}}",
		GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"cj\",\"*/1 * * * *\",\"False\",0,\"<none>\",\"5m\",\"\",\"\",\"<none>\"]");
	json_decref(t);
}

TEST(table_service_node_event)
{
	json_t *t = one("", "Service", "{" META("web") ",\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.10\","
			"\"clusterIPs\":[\"10.96.0.10\"],\"selector\":{\"tier\":\"fe\",\"app\":\"web\"},\"ports\":["
			"{\"port\":80,\"protocol\":\"TCP\"},{\"port\":443,\"nodePort\":30443,\"protocol\":\"TCP\"}]}}",
			GT_INCLUDE_METADATA);

	CHECK_STR(col_names(t), "Name,Type,Cluster-IP,External-IP,Port(s),Age,Selector");
	CHECK_STR(row_cells(t), "[\"web\",\"NodePort\",\"10.96.0.10\",\"<none>\",\"80/TCP,443:30443/TCP\",\"5m\",\"app=web,tier=fe\"]");
	json_decref(t);
	t = one("", "Service", "{" META("lb") ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"None\"}}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"lb\",\"LoadBalancer\",\"None\",\"<pending>\",\"<none>\",\"5m\",\"<none>\"]");
	json_decref(t);

	t = one("", "Node", "{" META("n1") ",\"spec\":{\"unschedulable\":true},"
		"\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],\"nodeInfo\":{\"kubeletVersion\":\"v1.20.2\"},"
		"\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.1.2\"}]}}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"n1\",\"Ready,SchedulingDisabled\",\"<none>\",\"5m\",\"v1.20.2\",\"192.168.1.2\",\"<none>\",\"<unknown>\",\"<unknown>\",\"<unknown>\"]");
	json_decref(t);
	t = one("", "Node", "{\"metadata\":{\"name\":\"n2\",\"labels\":{\"node-role.kubernetes.io/master\":\"\","
		"\"node-role.kubernetes.io/control-plane\":\"\",\"kubernetes.io/role\":\"gpu\"}},"
		"\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"n2\",\"NotReady\",\"control-plane,gpu,master\",\"<unknown>\",\"\",\"<none>\",\"<none>\",\"<unknown>\",\"<unknown>\",\"<unknown>\"]");
	json_decref(t);

	t = one("", "Event", "{\"metadata\":{\"name\":\"p1.123\",\"namespace\":\"default\"},"
		"\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p1\",\"fieldPath\":\"spec.containers{a}\"},"
		"\"reason\":\"Pulled\",\"message\":\" Image pulled \\n\",\"type\":\"Normal\",\"count\":2,"
		"\"source\":{\"component\":\"kubelet\",\"host\":\"n1\"},"
		"\"firstTimestamp\":\"2021-01-01T00:00:00Z\",\"lastTimestamp\":\"2021-01-01T00:04:00Z\"}",
		GT_INCLUDE_NONE);
	CHECK_STR(col_names(t), "Last Seen,Type,Reason,Object,Subobject,Source,Message,First Seen,Count,Name");
	CHECK_STR(row_cells(t), "[\"60s\",\"Normal\",\"Pulled\",\"pod/p1\",\"spec.containers{a}\",\"kubelet, n1\",\"Image pulled\",\"5m\",2,\"p1.123\"]");
	json_decref(t);
}

TEST(table_misc_kinds)
{
	json_t *t = one("", "ConfigMap", "{" META("cm") ",\"data\":{\"a\":\"1\",\"b\":\"2\"},\"binaryData\":{\"c\":\"\"}}",
			GT_INCLUDE_NONE);

	CHECK_STR(row_cells(t), "[\"cm\",3,\"5m\"]");
	json_decref(t);
	t = one("", "Secret", "{" META("s") ",\"type\":\"Opaque\",\"data\":{\"a\":\"MQ==\"}}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"s\",\"Opaque\",1,\"5m\"]");
	json_decref(t);
	t = one("", "Namespace", "{" META("ns") ",\"status\":{\"phase\":\"Active\"}}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"ns\",\"Active\",\"5m\"]");
	json_decref(t);
	t = one("", "ServiceAccount", "{" META("default") ",\"secrets\":[{\"name\":\"x\"}]}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"default\",1,\"5m\"]");
	json_decref(t);
	t = one("", "Endpoints", "{" META("web") ",\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.2\"}],"
		"\"ports\":[{\"port\":80},{\"port\":443}]}]}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"web\",\"10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...\",\"5m\"]");
	json_decref(t);
	t = one("", "Endpoints", "{" META("none") "}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"none\",\"<none>\",\"5m\"]");
	json_decref(t);
	t = one("", "PersistentVolumeClaim", "{" META("data") ",\"spec\":{\"volumeName\":\"pv1\",\"storageClassName\":\"local\"},"
		"\"status\":{\"phase\":\"Bound\",\"capacity\":{\"storage\":\"1024Mi\"},\"accessModes\":[\"ReadWriteMany\",\"ReadWriteOnce\"]}}",
		GT_INCLUDE_NONE);
	CHECK_STR(col_names(t), "Name,Status,Volume,Capacity,Access Modes,StorageClass,Age,VolumeMode");
	CHECK_STR(row_cells(t), "[\"data\",\"Bound\",\"pv1\",\"1Gi\",\"RWO,RWX\",\"local\",\"5m\",\"<unset>\"]");
	json_decref(t);
	t = one("coordination.k8s.io", "Lease", "{" META("l") ",\"spec\":{\"holderIdentity\":\"me\"}}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"l\",\"me\",\"5m\"]");
	json_decref(t);
	t = one("scheduling.k8s.io", "PriorityClass", "{" META("high") ",\"value\":1000,\"globalDefault\":true}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"high\",1000,true,\"5m\"]");
	json_decref(t);
	t = one("apps", "DaemonSet", "{" META("ds") ",\"spec\":{\"template\":{\"spec\":{\"nodeSelector\":{\"gpu\":\"true\"}}}},"
		"\"status\":{\"desiredNumberScheduled\":2,\"numberReady\":1}}", GT_INCLUDE_NONE);
	CHECK_STR(row_cells(t), "[\"ds\",2,0,1,0,0,\"gpu=true\",\"5m\",\"\",\"\",\"<none>\"]");
	json_decref(t);
	t = one("apiextensions.k8s.io", "CustomResourceDefinition", "{" META("pytorchjobs.kubeflow.org") "}", GT_INCLUDE_NONE);
	CHECK_STR(col_names(t), "Name,Created At");
	CHECK_STR(row_cells(t), "[\"pytorchjobs.kubeflow.org\",\"2021-01-01T00:00:00Z\"]");
	json_decref(t);
	t = one("example.com", "Widget", "{" META("w") "}", GT_INCLUDE_NONE);
	CHECK_STR(col_names(t), "Name,Age");
	CHECK_STR(row_cells(t), "[\"w\",\"5m\"]");
	json_decref(t);
}

TEST(table_custom_resource)
{
	json_t *pcs = J("[{\"name\":\"State\",\"type\":\"string\",\"jsonPath\":\".status.conditions[-1:].type\"},"
			"{\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"},"
			"{\"name\":\"Workers\",\"type\":\"integer\",\"jsonPath\":\".spec.workers\",\"priority\":1},"
			"{\"name\":\"Ratio\",\"type\":\"number\",\"jsonPath\":\".spec.ratio\"},"
			"{\"name\":\"Ok\",\"type\":\"boolean\",\"jsonPath\":\".spec.ok\"},"
			"{\"name\":\"Lr\",\"type\":\"string\",\"jsonPath\":\".spec.lr\"},"
			"{\"name\":\"Missing\",\"type\":\"string\",\"jsonPath\":\".status.nope\",\"description\":\"gone\"},"
			"{\"name\":\"Bad\",\"type\":\"date\",\"jsonPath\":\".spec.bad\"}]");
	struct gt_resource r = { .group = "kubeflow.org", .version = "v1", .kind = "PyTorchJob",
				 .custom = true, .printer_columns = pcs };
	json_t *t = gt_table_new(&r), *o, *defs;

	o = J("{\"apiVersion\":\"kubeflow.org/v1\",\"kind\":\"PyTorchJob\"," META("mnist") ","
	      "\"spec\":{\"workers\":2.0,\"ratio\":1,\"ok\":true,\"lr\":0.001,\"bad\":\"yesterday\"},"
	      "\"status\":{\"conditions\":[{\"type\":\"Created\"},{\"type\":\"Running\"}]}}");
	gt_table_add_row(t, &r, o, GT_INCLUDE_OBJECT, T0 + 300);
	CHECK_STR(col_names(t), "Name,State,Age,Workers,Ratio,Ok,Lr,Missing,Bad");
	CHECK_STR(row_cells(t), "[\"mnist\",\"Running\",\"5m\",2,1.0,true,\"0.001\",null,\"<invalid>\"]");
	defs = json_object_get(t, "columnDefinitions");
	CHECK_STR(gt_json_str(json_array_get(defs, 1), "description"),
		  "Custom resource definition column (in JSONPath format): .status.conditions[-1:].type");
	CHECK_STR(gt_json_str(json_array_get(defs, 7), "description"), "gone");
	CHECK_STR(gt_json_str(json_array_get(defs, 2), "type"), "date");
	CHECK_INT(json_integer_value(json_object_get(json_array_get(defs, 3), "priority")), 1);
	CHECK(json_array_get(json_object_get(t, "rows"), 0) &&
	      json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object") == o);
	json_decref(t);

	/* no printer columns: Name and a date-typed Age */
	r.printer_columns = NULL;
	t = gt_table_new(&r);
	gt_table_add_row(t, &r, o, GT_INCLUDE_METADATA, T0 + 300);
	CHECK_STR(col_names(t), "Name,Age");
	CHECK_STR(gt_json_str(json_array_get(json_object_get(t, "columnDefinitions"), 1), "type"), "date");
	CHECK_STR(row_cells(t), "[\"mnist\",\"5m\"]");
	json_decref(t);
	json_decref(o);
	json_decref(pcs);
}

/* Every built-in column set fills one cell per column, whatever the object. */
TEST(table_shapes)
{
	static const char *const gk[][2] = {
		{ "", "Pod" }, { "", "Service" }, { "", "Endpoints" }, { "", "ConfigMap" }, { "", "Secret" },
		{ "", "ServiceAccount" }, { "", "PersistentVolumeClaim" }, { "", "Namespace" }, { "", "Node" },
		{ "", "Event" }, { "apps", "Deployment" }, { "apps", "ReplicaSet" }, { "apps", "StatefulSet" },
		{ "apps", "DaemonSet" }, { "batch", "Job" }, { "batch", "CronJob" },
		{ "coordination.k8s.io", "Lease" }, { "scheduling.k8s.io", "PriorityClass" },
		{ "apiextensions.k8s.io", "CustomResourceDefinition" }, { "x", "Unknown" },
	};
	static const char *const objs[] = {
		"{}", "{\"metadata\":7,\"spec\":[],\"status\":\"x\"}",
		"{\"spec\":{\"replicas\":\"x\",\"containers\":{},\"ports\":[1,{\"port\":\"a\"}]},\"status\":{\"containerStatuses\":[1,null]}}",
	};
	enum gt_table_include incs[] = { GT_INCLUDE_NONE, GT_INCLUDE_METADATA, GT_INCLUDE_OBJECT };

	for (size_t i = 0; i < GT_ARRAY_SIZE(gk); i++) {
		for (size_t j = 0; j < GT_ARRAY_SIZE(objs); j++) {
			json_t *t = one(gk[i][0], gk[i][1], objs[j], incs[j]);
			json_t *row = json_array_get(json_object_get(t, "rows"), 0);

			CHECK_INT(json_array_size(json_object_get(row, "cells")),
				  json_array_size(json_object_get(t, "columnDefinitions")));
			json_decref(t);
		}
	}
	/* NULL object and NULL resource do not crash either */
	{
		json_t *t = gt_table_new(NULL);

		gt_table_add_row(t, NULL, NULL, GT_INCLUDE_OBJECT, T0);
		CHECK_STR(col_names(t), "Name,Age");
		json_decref(t);
	}
}

TEST(include_param)
{
	enum gt_table_include inc;
	struct gt_err e;

	CHECK_INT(gt_table_include_parse(NULL, &inc, NULL), 0);
	CHECK_INT(inc, GT_INCLUDE_METADATA);
	CHECK_INT(gt_table_include_parse("None", &inc, NULL), 0);
	CHECK_INT(inc, GT_INCLUDE_NONE);
	CHECK_INT(gt_table_include_parse("Object", &inc, NULL), 0);
	CHECK_INT(inc, GT_INCLUDE_OBJECT);
	gt_err_clear(&e);
	CHECK_INT(gt_table_include_parse("All", &inc, &e), -EINVAL);
	CHECK(strstr(e.msg, "All") != NULL);
}

int main(void)
{
	RUN(jsonpath);
	RUN(table_pod);
	RUN(table_workloads);
	RUN(table_service_node_event);
	RUN(table_misc_kinds);
	RUN(table_custom_resource);
	RUN(table_shapes);
	RUN(include_param);
	return t_done();
}
