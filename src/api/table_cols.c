/*
 * table_cols.c - the column sets and cell builders of the built-in kinds
 * (see table.h), one table row per kind.
 *
 * Each fill function transcribes the matching print function of
 * kubernetes/pkg/printers/internalversion/printers.go, reading the object as
 * JSON.  Absent fields read as Go's zero values; spec.replicas reads as 1
 * (its default) when absent.
 */
#include "api/table.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/quantity.h"
#include "api/selector.h"

const char gt_table_desc_name[] =
	"Name must be unique within a namespace. It is required when creating resources, although "
	"some resources may allow a client to request the generation of an appropriate name "
	"automatically. Name is primarily intended for creation idempotence and configuration "
	"definition. Cannot be updated. More info: "
	"http://kubernetes.io/docs/user-guide/identifiers#names";
const char gt_table_desc_age[] =
	"CreationTimestamp is a timestamp representing the server time when this object was "
	"created. It is not guaranteed to be set in happens-before order across separate "
	"operations. Clients may not set this value. It is represented in RFC3339 form and is in "
	"UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
	"https://git.k8s.io/community/contributors/devel/api-conventions.md#metadata";

#define NAME { "Name", "string", "name", 0, gt_table_desc_name }
#define AGE { "Age", "string", "", 0, gt_table_desc_age }
#define S(n, p, d) { n, "string", "", p, d }
#define I(n, p, d) { n, "integer", "", p, d }
#define CONTAINERS S("Containers", 1, "Names of each container in the template.")
#define IMAGES S("Images", 1, "Images referenced by each container in the template.")
#define SELECTOR S("Selector", 1, "Selector is a label query over pods that should match the replica count.")

/* ---- JSON reading helpers ---- */

static const char *str(const json_t *o, const char *path)
{
	const char *s = gt_json_str(o, path);

	return s ? s : "";
}

static int64_t num(const json_t *o, const char *path, int64_t def)
{
	int64_t v;

	return gt_json_int(o, path, &v) == 0 ? v : def;
}

static size_t count(const json_t *o, const char *path)
{
	json_t *v = gt_json_path(o, path);

	return json_is_array(v) ? json_array_size(v) : json_is_object(v) ? json_object_size(v) : 0;
}

static void add_str(json_t *cells, const char *s)
{
	json_array_append_new(cells, json_string(s ? s : ""));
}

static void add_or(json_t *cells, const char *s, const char *dflt)
{
	add_str(cells, s && *s ? s : dflt);
}

static void add_int(json_t *cells, int64_t v)
{
	json_array_append_new(cells, json_integer(v));
}

static void add_fmt(json_t *cells, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_fmt(json_t *cells, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	add_str(cells, buf);
}

void gt_table_age(const char *ts, time_t now, char out[16])
{
	time_t t;

	if (!ts || gt_time_parse(ts, &t) < 0) {
		snprintf(out, 16, "<unknown>");
		return;
	}
	if (now - t < -1) {
		snprintf(out, 16, "<invalid>");
		return;
	}
	gt_duration_short(now > t ? (int64_t)(now - t) : 0, out);
}

static void add_age(json_t *cells, const json_t *obj, const char *path, time_t now)
{
	char out[16];

	gt_table_age(gt_json_str(obj, path), now, out);
	add_str(cells, out);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* labels.FormatLabels: "k=v,..." sorted by key, "<none>" when empty. */
static void add_label_map(json_t *cells, const json_t *map)
{
	struct gt_buf b = GT_BUF_INIT;
	const char **keys;
	const char *k;
	json_t *v;
	size_t n = 0;

	if (!json_is_object(map) || json_object_size(map) == 0) {
		add_str(cells, "<none>");
		return;
	}
	keys = xcalloc(json_object_size(map), sizeof(*keys));
	json_object_foreach((json_t *)map, k, v)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_strp);
	gt_buf_init(&b);
	for (size_t i = 0; i < n; i++)
		gt_buf_addf(&b, "%s%s=%s", i ? "," : "", keys[i],
			    json_string_value(json_object_get(map, keys[i])) ?: "");
	add_str(cells, b.data);
	gt_buf_release(&b);
	free(keys);
}

/* metav1.FormatLabelSelector: "<none>" when empty, "<error>" when invalid. */
static void add_selector(json_t *cells, const json_t *sel)
{
	char *s = gt_labelsel_object_string(sel);

	add_or(cells, s, "<none>");
	free(s);
}

/* layoutContainerCells: names and images, comma-separated. */
static void add_containers(json_t *cells, const json_t *obj, const char *path)
{
	struct gt_buf names = GT_BUF_INIT, images = GT_BUF_INIT;
	json_t *c;
	size_t i;

	gt_buf_init(&names);
	gt_buf_init(&images);
	json_array_foreach(gt_json_path(obj, path), i, c) {
		gt_buf_addf(&names, "%s%s", i ? "," : "", str(c, "name"));
		gt_buf_addf(&images, "%s%s", i ? "," : "", str(c, "image"));
	}
	add_str(cells, names.data);
	add_str(cells, images.data);
	gt_buf_release(&names);
	gt_buf_release(&images);
}

/* ---- pods ---- */

static const struct gt_table_col pod_cols[] = {
	NAME,
	S("Ready", 0, "The aggregate readiness state of this pod for accepting traffic."),
	S("Status", 0, "The aggregate status of the containers in this pod."),
	I("Restarts", 0, "The number of times the containers in this pod have been restarted."),
	AGE,
	S("IP", 1, "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
	S("Node", 1, "NodeName is a request to schedule this pod onto a specific node."),
	S("Nominated Node", 1, "nominatedNodeName is set when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods."),
	S("Readiness Gates", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
};

/* A terminated state without a reason: "<prefix>Signal:N" or "<prefix>ExitCode:N". */
static void terminated_reason(const json_t *term, const char *prefix, char *out, size_t n)
{
	int64_t sig = num(term, "signal", 0);

	if (*str(term, "reason"))
		snprintf(out, n, "%s%s", prefix, str(term, "reason"));
	else if (sig)
		snprintf(out, n, "%sSignal:%lld", prefix, (long long)sig);
	else
		snprintf(out, n, "%sExitCode:%lld", prefix, (long long)num(term, "exitCode", 0));
}

static void pod_fill(json_t *row, json_t *cells, const json_t *obj, time_t now)
{
	const json_t *status = gt_json_path(obj, "status"), *c;
	const char *phase = str(status, "phase");
	int64_t restarts = 0, ready = 0;
	bool initializing = false;
	char reason[192], ip[64];
	size_t i, n;

	snprintf(reason, sizeof(reason), "%s", *str(status, "reason") ? str(status, "reason") : phase);
	if (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")) {
		bool ok = phase[0] == 'S';

		json_object_set_new(row, "conditions", json_pack("[{s:s,s:s,s:s,s:s}]",
			"type", "Completed", "status", "True", "reason", phase, "message",
			ok ? "The pod has completed successfully." : "The pod failed."));
	}
	json_array_foreach(json_object_get(status, "initContainerStatuses"), i, c) {
		const json_t *term = gt_json_path(c, "state.terminated");
		const json_t *wait = gt_json_path(c, "state.waiting");

		restarts += num(c, "restartCount", 0);
		if (json_is_object(term) && num(term, "exitCode", 0) == 0)
			continue;
		initializing = true;
		if (json_is_object(term))
			terminated_reason(term, "Init:", reason, sizeof(reason));
		else if (json_is_object(wait) && *str(wait, "reason") &&
			 strcmp(str(wait, "reason"), "PodInitializing"))
			snprintf(reason, sizeof(reason), "Init:%s", str(wait, "reason"));
		else
			snprintf(reason, sizeof(reason), "Init:%zu/%zu", i,
				 count(obj, "spec.initContainers"));
		break;
	}
	if (!initializing) {
		json_t *cs = json_object_get(status, "containerStatuses");
		bool running = false;

		restarts = 0;
		for (n = json_array_size(cs); n > 0; n--) {
			const json_t *term, *wait;

			c = json_array_get(cs, n - 1);
			term = gt_json_path(c, "state.terminated");
			wait = gt_json_path(c, "state.waiting");
			restarts += num(c, "restartCount", 0);
			if (json_is_object(wait) && *str(wait, "reason")) {
				snprintf(reason, sizeof(reason), "%s", str(wait, "reason"));
			} else if (json_is_object(term)) {
				terminated_reason(term, "", reason, sizeof(reason));
			} else if (gt_json_bool(c, "ready", false) &&
				   json_is_object(gt_json_path(c, "state.running"))) {
				running = true;
				ready++;
			}
		}
		if (!strcmp(reason, "Completed") && running)
			snprintf(reason, sizeof(reason), "Running");
	}
	if (gt_json_path(obj, "metadata.deletionTimestamp"))
		snprintf(reason, sizeof(reason), "%s",
			 strcmp(str(status, "reason"), "NodeLost") ? "Terminating" : "Unknown");

	add_str(cells, str(obj, "metadata.name"));
	add_fmt(cells, "%lld/%zu", (long long)ready, count(obj, "spec.containers"));
	add_str(cells, reason);
	add_int(cells, restarts);
	add_age(cells, obj, "metadata.creationTimestamp", now);

	snprintf(ip, sizeof(ip), "%s", str(json_array_get(json_object_get(status, "podIPs"), 0), "ip"));
	if (!ip[0])
		snprintf(ip, sizeof(ip), "%s", str(status, "podIP"));
	add_or(cells, ip, "<none>");
	add_or(cells, str(obj, "spec.nodeName"), "<none>");
	add_or(cells, str(status, "nominatedNodeName"), "<none>");
	n = count(obj, "spec.readinessGates");
	if (n == 0) {
		add_str(cells, "<none>");
	} else {
		size_t ok = 0;
		json_t *g, *cond;

		json_array_foreach(gt_json_path(obj, "spec.readinessGates"), i, g) {
			size_t j;

			json_array_foreach(json_object_get(status, "conditions"), j, cond) {
				if (!strcmp(str(cond, "type"), str(g, "conditionType"))) {
					ok += !strcmp(str(cond, "status"), "True");
					break;
				}
			}
		}
		add_fmt(cells, "%zu/%zu", ok, n);
	}
}

/* ---- workloads ---- */

static const struct gt_table_col deploy_cols[] = {
	NAME,
	S("Ready", 0, "Number of the pod with ready state"),
	I("Up-to-date", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
	I("Available", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
	AGE, CONTAINERS, IMAGES, SELECTOR,
};

static void deploy_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_fmt(cells, "%lld/%lld", (long long)num(obj, "status.readyReplicas", 0),
		(long long)num(obj, "spec.replicas", 1));
	add_int(cells, num(obj, "status.updatedReplicas", 0));
	add_int(cells, num(obj, "status.availableReplicas", 0));
	add_age(cells, obj, "metadata.creationTimestamp", now);
	add_containers(cells, obj, "spec.template.spec.containers");
	add_selector(cells, gt_json_path(obj, "spec.selector"));
}

static const struct gt_table_col rs_cols[] = {
	NAME,
	I("Desired", 0, "Replicas is the number of desired replicas."),
	I("Current", 0, "Replicas is the most recently oberved number of replicas."),
	I("Ready", 0, "The number of ready replicas for this replica set."),
	AGE, CONTAINERS, IMAGES, SELECTOR,
};

static void rs_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_int(cells, num(obj, "spec.replicas", 1));
	add_int(cells, num(obj, "status.replicas", 0));
	add_int(cells, num(obj, "status.readyReplicas", 0));
	add_age(cells, obj, "metadata.creationTimestamp", now);
	add_containers(cells, obj, "spec.template.spec.containers");
	add_selector(cells, gt_json_path(obj, "spec.selector"));
}

static const struct gt_table_col sts_cols[] = {
	NAME,
	S("Ready", 0, "Number of the pod with ready state"),
	AGE, CONTAINERS, IMAGES,
};

static void sts_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_fmt(cells, "%lld/%lld", (long long)num(obj, "status.readyReplicas", 0),
		(long long)num(obj, "spec.replicas", 1));
	add_age(cells, obj, "metadata.creationTimestamp", now);
	add_containers(cells, obj, "spec.template.spec.containers");
}

static const struct gt_table_col ds_cols[] = {
	NAME,
	I("Desired", 0, "The total number of nodes that should be running the daemon pod."),
	I("Current", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
	I("Ready", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
	I("Up-to-date", 0, "The total number of nodes that are running updated daemon pod"),
	I("Available", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
	S("Node Selector", 0, "NodeSelector is a selector which must be true for the pod to fit on a node."),
	AGE, CONTAINERS, IMAGES, SELECTOR,
};

static void ds_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_int(cells, num(obj, "status.desiredNumberScheduled", 0));
	add_int(cells, num(obj, "status.currentNumberScheduled", 0));
	add_int(cells, num(obj, "status.numberReady", 0));
	add_int(cells, num(obj, "status.updatedNumberScheduled", 0));
	add_int(cells, num(obj, "status.numberAvailable", 0));
	add_label_map(cells, gt_json_path(obj, "spec.template.spec.nodeSelector"));
	add_age(cells, obj, "metadata.creationTimestamp", now);
	add_containers(cells, obj, "spec.template.spec.containers");
	add_selector(cells, gt_json_path(obj, "spec.selector"));
}

static const struct gt_table_col job_cols[] = {
	NAME,
	S("Completions", 0, "The desired number of successfully finished pods the job should be run with."),
	S("Duration", 0, "Time required to complete the job."),
	AGE, CONTAINERS, IMAGES, SELECTOR,
};

static void job_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	int64_t succeeded = num(obj, "status.succeeded", 0), par = num(obj, "spec.parallelism", 0);
	time_t start, end = now;
	char dur[16] = "";

	add_str(cells, str(obj, "metadata.name"));
	if (json_is_integer(gt_json_path(obj, "spec.completions")))
		add_fmt(cells, "%lld/%lld", (long long)succeeded,
			(long long)num(obj, "spec.completions", 0));
	else if (par > 1)
		add_fmt(cells, "%lld/1 of %lld", (long long)succeeded, (long long)par);
	else
		add_fmt(cells, "%lld/1", (long long)succeeded);
	if (gt_time_parse(gt_json_str(obj, "status.startTime"), &start) == 0) {
		const char *ct = gt_json_str(obj, "status.completionTime");

		if (ct && gt_time_parse(ct, &end) < 0)
			end = now;
		if (end - start < -1)
			snprintf(dur, sizeof(dur), "<invalid>");
		else
			gt_duration_short(end > start ? (int64_t)(end - start) : 0, dur);
	}
	add_str(cells, dur);
	add_age(cells, obj, "metadata.creationTimestamp", now);
	add_containers(cells, obj, "spec.template.spec.containers");
	add_selector(cells, gt_json_path(obj, "spec.selector"));
}

static const struct gt_table_col cronjob_cols[] = {
	NAME,
	S("Schedule", 0, "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
	{ "Suspend", "boolean", "", 0, "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false." },
	I("Active", 0, "A list of pointers to currently running jobs."),
	S("Last Schedule", 0, "Information when was the last time the job was successfully scheduled."),
	AGE, CONTAINERS, IMAGES, SELECTOR,
};

static void cronjob_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	json_t *suspend = gt_json_path(obj, "spec.suspend");
	const char *last = gt_json_str(obj, "status.lastScheduleTime");

	add_str(cells, str(obj, "metadata.name"));
	add_str(cells, str(obj, "spec.schedule"));
	add_str(cells, !json_is_boolean(suspend) ? "<unset>" : json_is_true(suspend) ? "True" : "False");
	add_int(cells, (int64_t)count(obj, "status.active"));
	if (last)
		add_age(cells, obj, "status.lastScheduleTime", now);
	else
		add_str(cells, "<none>");
	add_age(cells, obj, "metadata.creationTimestamp", now);
	add_containers(cells, obj, "spec.jobTemplate.spec.template.spec.containers");
	add_selector(cells, gt_json_path(obj, "spec.jobTemplate.spec.selector"));
}

/* ---- services and endpoints ---- */

static const struct gt_table_col svc_cols[] = {
	NAME,
	S("Type", 0, "type determines how the Service is exposed."),
	S("Cluster-IP", 0, "clusterIP is the IP address of the service and is usually assigned randomly."),
	S("External-IP", 0, "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
	S("Port(s)", 0, "The list of ports that are exposed by this service."),
	AGE,
	S("Selector", 1, "Route service traffic to pods with label keys and values matching this selector."),
};

static void join_array(struct gt_buf *b, const json_t *arr)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_is_string(v))
			gt_buf_addf(b, "%s%s", b->len ? "," : "", json_string_value(v));
}

static void svc_external_ip(json_t *cells, const json_t *obj)
{
	const char *type = str(obj, "spec.type");
	json_t *ext = gt_json_path(obj, "spec.externalIPs"), *ing;
	struct gt_buf b = GT_BUF_INIT;
	size_t i;

	gt_buf_init(&b);
	if (!strcmp(type, "ClusterIP") || !strcmp(type, "NodePort")) {
		join_array(&b, ext);
		add_or(cells, b.data, "<none>");
	} else if (!strcmp(type, "LoadBalancer")) {
		json_array_foreach(gt_json_path(obj, "status.loadBalancer.ingress"), i, ing) {
			const char *s = *str(ing, "ip") ? str(ing, "ip") : str(ing, "hostname");

			if (*s)
				gt_buf_addf(&b, "%s%s", b.len ? "," : "", s);
		}
		join_array(&b, ext);
		add_or(cells, b.data, "<pending>");
	} else if (!strcmp(type, "ExternalName")) {
		add_str(cells, str(obj, "spec.externalName"));
	} else {
		add_str(cells, "<unknown>");
	}
	gt_buf_release(&b);
}

static void svc_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	const char *cip = gt_json_str(json_array_get(gt_json_path(obj, "spec.clusterIPs"), 0), "");
	struct gt_buf b = GT_BUF_INIT;
	json_t *p;
	size_t i;

	if (!cip || !*cip)
		cip = str(obj, "spec.clusterIP");
	add_str(cells, str(obj, "metadata.name"));
	add_str(cells, str(obj, "spec.type"));
	add_or(cells, cip, "<none>");
	svc_external_ip(cells, obj);
	gt_buf_init(&b);
	json_array_foreach(gt_json_path(obj, "spec.ports"), i, p) {
		int64_t np = num(p, "nodePort", 0);

		gt_buf_addf(&b, "%s%lld", i ? "," : "", (long long)num(p, "port", 0));
		if (np > 0)
			gt_buf_addf(&b, ":%lld", (long long)np);
		gt_buf_addf(&b, "/%s", str(p, "protocol"));
	}
	add_or(cells, b.data, "<none>");
	gt_buf_release(&b);
	add_age(cells, obj, "metadata.creationTimestamp", now);
	add_label_map(cells, gt_json_path(obj, "spec.selector"));
}

static const struct gt_table_col ep_cols[] = {
	NAME,
	S("Endpoints", 0, "Endpoints is the list of endpoints in the cluster."),
	AGE,
};

/* formatEndpoints: up to three host:port pairs, then "+ N more...". */
static void ep_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	struct gt_buf b = GT_BUF_INIT;
	size_t listed = 0, total = 0, i, j, k;
	json_t *ss, *port, *addr, *subsets = gt_json_path(obj, "subsets");

	add_str(cells, str(obj, "metadata.name"));
	gt_buf_init(&b);
	json_array_foreach(subsets, i, ss) {
		json_t *addrs = json_object_get(ss, "addresses"), *ports = json_object_get(ss, "ports");

		if (json_array_size(ports) == 0) {
			total += json_array_size(addrs);
			json_array_foreach(addrs, k, addr)
				if (listed < 3)
					gt_buf_addf(&b, "%s%s", listed++ ? "," : "", str(addr, "ip"));
			continue;
		}
		json_array_foreach(ports, j, port) {
			total += json_array_size(addrs);
			json_array_foreach(addrs, k, addr) {
				const char *ip = str(addr, "ip");
				bool v6 = strchr(ip, ':') != NULL;

				if (listed >= 3)
					break;
				gt_buf_addf(&b, "%s%s%s%s:%lld", listed++ ? "," : "", v6 ? "[" : "", ip,
					    v6 ? "]" : "", (long long)num(port, "port", 0));
			}
		}
	}
	if (json_array_size(subsets) == 0)
		add_str(cells, "<none>");
	else if (total > listed)
		add_fmt(cells, "%s + %zu more...", b.data, total - listed);
	else
		add_str(cells, b.data);
	gt_buf_release(&b);
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

/* ---- config, storage, identity ---- */

static const struct gt_table_col cm_cols[] = {
	NAME, I("Data", 0, "Data contains the configuration data."), AGE,
};

static void cm_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_int(cells, (int64_t)(count(obj, "data") + count(obj, "binaryData")));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

static const struct gt_table_col secret_cols[] = {
	NAME,
	S("Type", 0, "Used to facilitate programmatic handling of secret data."),
	I("Data", 0, "Data contains the secret data."),
	AGE,
};

static void secret_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_str(cells, str(obj, "type"));
	add_int(cells, (int64_t)count(obj, "data"));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

static const struct gt_table_col sa_cols[] = {
	NAME, I("Secrets", 0, "Secrets is the list of secrets allowed to be used by pods running using this ServiceAccount."), AGE,
};

static void sa_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_int(cells, (int64_t)count(obj, "secrets"));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

static const struct gt_table_col pvc_cols[] = {
	NAME,
	S("Status", 0, "Phase represents the current phase of PersistentVolumeClaim."),
	S("Volume", 0, "VolumeName is the binding reference to the PersistentVolume backing this claim."),
	S("Capacity", 0, "Represents the actual resources of the underlying volume."),
	S("Access Modes", 0, "AccessModes contains the actual access modes the volume backing the PVC has."),
	S("StorageClass", 0, "Name of the StorageClass required by the claim."),
	AGE,
	S("VolumeMode", 1, "volumeMode defines what type of volume is required by the claim."),
};

static void pvc_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	static const char *const modes[][2] = {
		{ "ReadWriteOnce", "RWO" }, { "ReadOnlyMany", "ROX" },
		{ "ReadWriteMany", "RWX" }, { "ReadWriteOncePod", "RWOP" },
	};
	const char *vol = str(obj, "spec.volumeName");
	json_t *ann, *m;
	struct gt_buf b = GT_BUF_INIT;
	char cap[GT_QUANTITY_STRLEN] = "";
	size_t i;

	ann = json_object_get(gt_json_path(obj, "metadata.annotations"),
			      "volume.beta.kubernetes.io/storage-class");
	gt_buf_init(&b);
	if (*vol) {
		json_t *st = json_object_get(gt_json_path(obj, "status.capacity"), "storage");
		struct gt_quantity q;

		if (st && gt_quantity_from_json(st, &q, NULL) == 0)
			gt_quantity_format(&q, cap);
		else if (json_is_string(st))
			snprintf(cap, sizeof(cap), "%s", json_string_value(st));
		for (size_t k = 0; k < GT_ARRAY_SIZE(modes); k++) {
			json_array_foreach(gt_json_path(obj, "status.accessModes"), i, m) {
				if (!strcmp(json_string_value(m) ?: "", modes[k][0])) {
					gt_buf_addf(&b, "%s%s", b.len ? "," : "", modes[k][1]);
					break;
				}
			}
		}
	}
	add_str(cells, str(obj, "metadata.name"));
	add_str(cells, gt_json_path(obj, "metadata.deletionTimestamp") ? "Terminating"
								       : str(obj, "status.phase"));
	add_str(cells, vol);
	add_str(cells, cap);
	add_str(cells, b.data);
	add_str(cells, json_is_string(ann) ? json_string_value(ann) : str(obj, "spec.storageClassName"));
	add_age(cells, obj, "metadata.creationTimestamp", now);
	add_or(cells, str(obj, "spec.volumeMode"), "<unset>");
	gt_buf_release(&b);
}

/* ---- cluster objects ---- */

static const struct gt_table_col ns_cols[] = {
	NAME, S("Status", 0, "The status of the namespace"), AGE,
};

static void ns_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_str(cells, str(obj, "status.phase"));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

static const struct gt_table_col node_cols[] = {
	NAME,
	S("Status", 0, "The status of the node"),
	S("Roles", 0, "The roles of the node"),
	AGE,
	S("Version", 0, "Kubelet Version reported by the node."),
	S("Internal-IP", 1, "List of addresses reachable to the node. Queried from cloud provider, if available."),
	S("External-IP", 1, "List of addresses reachable to the node. Queried from cloud provider, if available."),
	S("OS-Image", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
	S("Kernel-Version", 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
	S("Container-Runtime", 1, "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
};

static void node_address(json_t *cells, const json_t *obj, const char *type)
{
	json_t *a;
	size_t i;

	json_array_foreach(gt_json_path(obj, "status.addresses"), i, a) {
		if (!strcmp(str(a, "type"), type)) {
			add_str(cells, str(a, "address"));
			return;
		}
	}
	add_str(cells, "<none>");
}

static void node_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	struct gt_buf b = GT_BUF_INIT;
	const char **roles, *k;
	json_t *c, *labels = gt_json_path(obj, "metadata.labels"), *v;
	const json_t *ready = NULL;
	size_t i, n = 0;

	json_array_foreach(gt_json_path(obj, "status.conditions"), i, c)
		if (!strcmp(str(c, "type"), "Ready"))
			ready = c; /* the last one wins, as in the Go map */
	gt_buf_init(&b);
	gt_buf_adds(&b, !ready ? "Unknown" : strcmp(str(ready, "status"), "True") ? "NotReady" : "Ready");
	if (gt_json_bool(obj, "spec.unschedulable", false))
		gt_buf_adds(&b, ",SchedulingDisabled");
	add_str(cells, str(obj, "metadata.name"));
	add_str(cells, b.data);

	roles = xcalloc(json_object_size(labels) + 1, sizeof(*roles));
	json_object_foreach(labels, k, v) {
		const char *role = NULL;

		if (!strncmp(k, "node-role.kubernetes.io/", 24) && k[24])
			role = k + 24;
		else if (!strcmp(k, "kubernetes.io/role") && json_string_value(v) && *json_string_value(v))
			role = json_string_value(v);
		if (role)
			roles[n++] = role;
	}
	qsort(roles, n, sizeof(*roles), cmp_strp);
	gt_buf_reset(&b);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(roles[i], roles[i - 1]))
			gt_buf_addf(&b, "%s%s", b.len ? "," : "", roles[i]);
	add_or(cells, b.data, "<none>");
	free(roles);
	gt_buf_release(&b);

	add_age(cells, obj, "metadata.creationTimestamp", now);
	add_str(cells, str(obj, "status.nodeInfo.kubeletVersion"));
	node_address(cells, obj, "InternalIP");
	node_address(cells, obj, "ExternalIP");
	add_or(cells, str(obj, "status.nodeInfo.osImage"), "<unknown>");
	add_or(cells, str(obj, "status.nodeInfo.kernelVersion"), "<unknown>");
	add_or(cells, str(obj, "status.nodeInfo.containerRuntimeVersion"), "<unknown>");
}

static const struct gt_table_col event_cols[] = {
	S("Last Seen", 0, "The time at which the most recent occurrence of this event was recorded."),
	S("Type", 0, "Type of this event (Normal, Warning), new types could be added in the future"),
	S("Reason", 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
	S("Object", 0, "The object that this event is about."),
	S("Subobject", 1, "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]."),
	S("Source", 1, "The component reporting this event. Should be a short machine understandable string."),
	S("Message", 0, "A human-readable description of the status of this operation."),
	S("First Seen", 1, "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
	S("Count", 1, "The number of times this event has occurred."),
	{ "Name", "string", "name", 1, gt_table_desc_name },
};

static void event_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	char first[16], last[16], *lower, *msg;
	const char *kind = str(obj, "involvedObject.kind"), *name = str(obj, "involvedObject.name");
	const char *comp = str(obj, "source.component"), *host = str(obj, "source.host");
	int64_t n = num(obj, "count", 0);
	size_t len;

	gt_table_age(gt_json_str(obj, gt_json_str(obj, "firstTimestamp") ? "firstTimestamp" : "eventTime"),
		     now, first);
	if (gt_json_str(obj, "lastTimestamp"))
		gt_table_age(gt_json_str(obj, "lastTimestamp"), now, last);
	else
		memcpy(last, first, sizeof(last));
	if (json_is_object(gt_json_path(obj, "series"))) {
		gt_table_age(gt_json_str(obj, "series.lastObservedTime"), now, last);
		n = num(obj, "series.count", 0);
	} else if (n == 0) {
		n = 1;
	}
	lower = xstrdup(kind);
	for (char *p = lower; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (!*comp)
		comp = str(obj, "reportingComponent");
	if (!*host)
		host = str(obj, "reportingInstance");
	msg = xstrdup(str(obj, "message"));
	for (len = strlen(msg); len && strchr(" \t\r\n\v\f", msg[len - 1]); len--)
		msg[len - 1] = '\0';

	add_str(cells, last);
	add_str(cells, str(obj, "type"));
	add_str(cells, str(obj, "reason"));
	if (*name)
		add_fmt(cells, "%s/%s", lower, name);
	else
		add_str(cells, lower);
	add_str(cells, str(obj, "involvedObject.fieldPath"));
	if (*host)
		add_fmt(cells, "%s, %s", comp, host);
	else
		add_str(cells, comp);
	add_str(cells, msg + strspn(msg, " \t\r\n\v\f"));
	add_str(cells, first);
	add_int(cells, n);
	add_str(cells, str(obj, "metadata.name"));
	free(lower);
	free(msg);
}

static const struct gt_table_col lease_cols[] = {
	NAME, S("Holder", 0, "holderIdentity contains the identity of the holder of a current lease."), AGE,
};

static void lease_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_str(cells, str(obj, "spec.holderIdentity"));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

static const struct gt_table_col pc_cols[] = {
	NAME,
	I("Value", 0, "The value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec."),
	{ "Global-Default", "boolean", "", 0, "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class." },
	AGE,
};

static void pc_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_int(cells, num(obj, "value", 0));
	json_array_append_new(cells, json_boolean(gt_json_bool(obj, "globalDefault", false)));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

static const struct gt_table_col crd_cols[] = {
	NAME, { "Created At", "date", "", 0, gt_table_desc_age },
};

static void crd_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now GT_UNUSED)
{
	char ts[32] = "0001-01-01T00:00:00Z";
	time_t t;

	if (gt_time_parse(gt_json_str(obj, "metadata.creationTimestamp"), &t) == 0)
		gt_time_rfc3339(t, ts);
	add_str(cells, str(obj, "metadata.name"));
	add_str(cells, ts);
}

static const struct gt_table_col hpa_cols[] = {
	NAME,
	S("Reference", 0, "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count."),
	S("Targets", 0, "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used)."),
	S("MinPods", 0, "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
	S("MaxPods", 0, "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
	S("Replicas", 0, "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler."),
	AGE,
};

/* printers.go formatHPAMetrics for Resource metrics ("cpu: 250%/50%"), two at most. */
static void hpa_targets(json_t *cells, const json_t *obj)
{
	const json_t *specs = gt_json_path(obj, "spec.metrics"), *m;
	const json_t *stats = gt_json_path(obj, "status.currentMetrics");
	char out[256] = "";
	size_t i, used = 0, n = json_array_size(specs);

	if (!n) {
		add_str(cells, "<none>");
		return;
	}
	json_array_foreach(specs, i, m) {
		const json_t *st = gt_json_path(json_array_get(stats, i), "resource.current");
		const char *res = str(m, "resource.name");
		char cur[64] = "<unknown>", tgt[64] = "<auto>";
		int64_t u;

		if (i == 2)
			break;
		if (strcmp(str(m, "type"), "Resource") && strcmp(str(m, "type"), "ContainerResource")) {
			snprintf(cur, sizeof(cur), "<unknown>");
			snprintf(tgt, sizeof(tgt), "<unknown>");
		} else if (gt_json_path(m, "resource.target.averageValue")) {
			if (gt_json_str(st, "averageValue"))
				snprintf(cur, sizeof(cur), "%s", gt_json_str(st, "averageValue"));
			snprintf(tgt, sizeof(tgt), "%s", str(m, "resource.target.averageValue"));
		} else {
			if (gt_json_int(st, "averageUtilization", &u) == 0)
				snprintf(cur, sizeof(cur), "%lld%%", (long long)u);
			if (gt_json_int(m, "resource.target.averageUtilization", &u) == 0)
				snprintf(tgt, sizeof(tgt), "%lld%%", (long long)u);
		}
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s: %s/%s", i ? ", " : "",
					 *res ? res : "<unknown>", cur, tgt);
		if (used >= sizeof(out))
			used = sizeof(out) - 1;
	}
	if (n > 2)
		snprintf(out + used, sizeof(out) - used, " + %zu more...", n - 2);
	add_str(cells, out);
}

static void hpa_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	int64_t min;

	add_str(cells, str(obj, "metadata.name"));
	add_fmt(cells, "%s/%s", str(obj, "spec.scaleTargetRef.kind"), str(obj, "spec.scaleTargetRef.name"));
	hpa_targets(cells, obj);
	if (gt_json_int(obj, "spec.minReplicas", &min) == 0)
		add_fmt(cells, "%lld", (long long)min);
	else
		add_str(cells, "<unset>");
	add_int(cells, num(obj, "spec.maxReplicas", 0));
	add_int(cells, num(obj, "status.currentReplicas", 0));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

static const struct gt_table_col pdb_cols[] = {
	NAME,
	S("Min Available", 0, "The minimum number of pods that must be available, either as an absolute number or percentage."),
	S("Max Unavailable", 0, "The maximum number of pods that may be unavailable, either as an absolute number or percentage."),
	I("Allowed Disruptions", 0, "Number of pod disruptions that are currently allowed."),
	AGE,
};

/* An intstr as IntOrString.String() prints it, "N/A" when unset. */
static void add_intstr(json_t *cells, const json_t *v)
{
	if (json_is_integer(v))
		add_fmt(cells, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		add_str(cells, json_string_value(v));
	else
		add_str(cells, "N/A");
}

static void pdb_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_intstr(cells, gt_json_path(obj, "spec.minAvailable"));
	add_intstr(cells, gt_json_path(obj, "spec.maxUnavailable"));
	add_int(cells, num(obj, "status.disruptionsAllowed", 0));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

static const struct gt_table_col default_cols[] = { NAME, AGE };

static void default_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	add_str(cells, str(obj, "metadata.name"));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

static const struct gt_table_col ptj_cols[] = {
	NAME,
	S("State", 0, "The job's latest condition (Created, Running, Restarting, Succeeded, Failed, Suspended)."),
	S("Progress", 0, "Steps done of the total, as rank 0 (MPIJob: the launcher) reports them."),
	S("Loss", 0, "The latest loss rank 0 reported."),
	S("ETA", 0, "Time left at the current pace."),
	I("Restarts", 0, "Whole-gang restarts so far."),
	AGE,
};

static void ptj_fill(json_t *row GT_UNUSED, json_t *cells, const json_t *obj, time_t now)
{
	const json_t *conds = gt_json_path(obj, "status.conditions"), *c;
	const char *state = "";
	size_t i;

	add_str(cells, str(obj, "metadata.name"));
	json_array_foreach(conds, i, c)
		if (!strcmp(str(c, "status"), "True"))
			state = str(c, "type");
	add_str(cells, state);
	if (gt_json_path(obj, "status.progress.step"))
		add_fmt(cells, "%s (%lld/%lld)", str(obj, "status.progress.percent"),
			(long long)num(obj, "status.progress.step", 0),
			(long long)num(obj, "status.progress.totalSteps", 0));
	else
		add_str(cells, "");
	add_str(cells, str(obj, "status.progress.loss"));
	add_str(cells, str(obj, "status.progress.eta"));
	json_array_append_new(cells, json_integer(num(obj, "status.restarts", 0)));
	add_age(cells, obj, "metadata.creationTimestamp", now);
}

#define KIND(g, k, cols, fill) { g, k, cols, GT_ARRAY_SIZE(cols), fill }

static const struct gt_table_kind kinds[] = {
	KIND("", "Pod", pod_cols, pod_fill),
	KIND("", "Service", svc_cols, svc_fill),
	KIND("", "Endpoints", ep_cols, ep_fill),
	KIND("", "ConfigMap", cm_cols, cm_fill),
	KIND("", "Secret", secret_cols, secret_fill),
	KIND("", "ServiceAccount", sa_cols, sa_fill),
	KIND("", "PersistentVolumeClaim", pvc_cols, pvc_fill),
	KIND("", "Namespace", ns_cols, ns_fill),
	KIND("", "Node", node_cols, node_fill),
	KIND("", "Event", event_cols, event_fill),
	KIND("apps", "Deployment", deploy_cols, deploy_fill),
	KIND("apps", "ReplicaSet", rs_cols, rs_fill),
	KIND("apps", "StatefulSet", sts_cols, sts_fill),
	KIND("apps", "DaemonSet", ds_cols, ds_fill),
	KIND("batch", "Job", job_cols, job_fill),
	KIND("batch", "CronJob", cronjob_cols, cronjob_fill),
	KIND("kubeflow.org", "PyTorchJob", ptj_cols, ptj_fill),
	KIND("kubeflow.org", "MPIJob", ptj_cols, ptj_fill),
	KIND("autoscaling", "HorizontalPodAutoscaler", hpa_cols, hpa_fill),
	KIND("coordination.k8s.io", "Lease", lease_cols, lease_fill),
	KIND("scheduling.k8s.io", "PriorityClass", pc_cols, pc_fill),
	KIND("policy", "PodDisruptionBudget", pdb_cols, pdb_fill),
	KIND("apiextensions.k8s.io", "CustomResourceDefinition", crd_cols, crd_fill),
};

static const struct gt_table_kind default_kind = KIND("", "", default_cols, default_fill);

const struct gt_table_kind *gt_table_kind_find(const char *group, const char *kind)
{
	for (size_t i = 0; group && kind && i < GT_ARRAY_SIZE(kinds); i++)
		if (!strcmp(kinds[i].group, group) && !strcmp(kinds[i].kind, kind))
			return &kinds[i];
	return &default_kind;
}
