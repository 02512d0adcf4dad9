/*
 * defaults.c - server-side defaults of the built-in kinds: one row per kind
 * in a table, one function per kind, the pod-spec defaults shared by Pods
 * and every pod template, and Job selector generation.  Mirrors
 * kubernetes/pkg/apis/{core,apps,batch}/v1/defaults.go and the create-time
 * strategies noted in defaults.h.
 *
 * Every setter checks the JSON type of the container it writes into and
 * only fills absent (or null) members, so a malformed object stays
 * malformed for gt_validate to report.
 */
#include "api/defaults.h"

#include <ctype.h>
#include <string.h>

#include "api/quantity.h"
#include "api/validate_int.h" /* tolerant JSON accessors shared with validation */

/* ---- tiny setters ---- */

static bool absent(const json_t *obj, const char *key)
{
	json_t *m = json_object_get(obj, key);

	return !m || json_is_null(m);
}

/* Sets obj[key] = v when obj is an object and the member is absent; steals v. */
static void def(json_t *obj, const char *key, json_t *v)
{
	if (json_is_object(obj) && absent(obj, key))
		json_object_set_new(obj, key, v);
	else
		json_decref(v);
}

static void def_str(json_t *obj, const char *key, const char *s)
{
	def(obj, key, json_string(s));
}

static void def_int(json_t *obj, const char *key, json_int_t n)
{
	def(obj, key, json_integer(n));
}

/* The object member key, created when absent; NULL when it has another type. */
static json_t *obj_member(json_t *obj, const char *key)
{
	json_t *m;

	if (!json_is_object(obj))
		return NULL;
	m = json_object_get(obj, key);
	if (!m || json_is_null(m)) {
		m = json_object();
		json_object_set_new(obj, key, m);
	}
	return json_is_object(m) ? m : NULL;
}

/* Existing object member or NULL. */
static json_t *obj_get(json_t *obj, const char *key)
{
	json_t *m = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_object(m) ? m : NULL;
}

/* ---- containers and pod specs ---- */

/* Kubernetes' image reference parsing, reduced to "is the tag latest". */
static const char *pull_policy(const json_t *image)
{
	const char *s = json_string_value(image);
	const char *slash, *colon;
	size_t len;

	if (!s || !*s)
		return "IfNotPresent";
	len = strcspn(s, "@");
	slash = memrchr(s, '/', len);
	colon = memchr(slash ? slash : s, ':', len - (size_t)((slash ? slash : s) - s));
	if (!colon)
		return s[len] == '@' ? "IfNotPresent" : "Always";
	return (size_t)(s + len - colon - 1) == 6 && !strncmp(colon + 1, "latest", 6) ? "Always"
										 : "IfNotPresent";
}

static void http_get(json_t *h)
{
	def_str(h, "path", "/");
	def_str(h, "scheme", "HTTP");
}

static void probe(json_t *p)
{
	if (!json_is_object(p))
		return;
	def_int(p, "timeoutSeconds", 1);
	def_int(p, "periodSeconds", 10);
	def_int(p, "successThreshold", 1);
	def_int(p, "failureThreshold", 3);
	http_get(obj_get(p, "httpGet"));
}

static void container(json_t *c)
{
	json_t *list, *m;
	size_t i;

	if (!json_is_object(c))
		return;
	def_str(c, "imagePullPolicy", pull_policy(json_object_get(c, "image")));
	def_str(c, "terminationMessagePath", "/dev/termination-log");
	def_str(c, "terminationMessagePolicy", "File");
	def(c, "resources", json_object());
	list = json_object_get(c, "ports");
	if (json_is_array(list))
		json_array_foreach(list, i, m)
			def_str(m, "protocol", "TCP");
	list = json_object_get(c, "env");
	if (json_is_array(list))
		json_array_foreach(list, i, m)
			def_str(obj_get(obj_get(m, "valueFrom"), "fieldRef"), "apiVersion", "v1");
	probe(obj_get(c, "livenessProbe"));
	probe(obj_get(c, "readinessProbe"));
	probe(obj_get(c, "startupProbe"));
	http_get(obj_get(obj_get(obj_get(c, "lifecycle"), "postStart"), "httpGet"));
	http_get(obj_get(obj_get(obj_get(c, "lifecycle"), "preStop"), "httpGet"));
}

static const char *const volume_sources[] = {
	"hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
	"nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
	"cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
	"quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
	"storageos", "csi", "ephemeral", "image", NULL,
};

static void volume(json_t *vol)
{
	bool any = false;

	if (!json_is_object(vol))
		return;
	for (size_t i = 0; volume_sources[i]; i++)
		any |= !absent(vol, volume_sources[i]);
	if (!any)
		json_object_set_new(vol, "emptyDir", json_object());
	def_int(obj_get(vol, "secret"), "defaultMode", 0644);
	def_int(obj_get(vol, "configMap"), "defaultMode", 0644);
	def_int(obj_get(vol, "downwardAPI"), "defaultMode", 0644);
	def_int(obj_get(vol, "projected"), "defaultMode", 0644);
}

/* Pod only: requests default to limits (SetDefaults_Pod). */
static void requests_from_limits(json_t *c)
{
	json_t *res = obj_get(c, "resources");
	json_t *lim = obj_get(res, "limits"), *req, *q;
	const char *k;

	if (!lim || !json_object_size(lim))
		return;
	req = obj_member(res, "requests");
	if (!req)
		return;
	json_object_foreach(lim, k, q)
		if (absent(req, k))
			json_object_set(req, k, q);
}

enum { PS_POD = 1, PS_NO_RESTART = 2 };

static void pod_spec(json_t *spec, unsigned flags)
{
	static const char *const lists[] = { "containers", "initContainers" };
	json_t *list, *m;
	size_t i;

	if (!json_is_object(spec))
		return;
	def_str(spec, "dnsPolicy", "ClusterFirst");
	if (!(flags & PS_NO_RESTART))
		def_str(spec, "restartPolicy", "Always");
	def(spec, "securityContext", json_object());
	def_int(spec, "terminationGracePeriodSeconds", 30);
	def_str(spec, "schedulerName", "default-scheduler");
	list = json_object_get(spec, "volumes");
	if (json_is_array(list))
		json_array_foreach(list, i, m)
			volume(m);
	for (size_t l = 0; l < GT_ARRAY_SIZE(lists); l++) {
		list = json_object_get(spec, lists[l]);
		if (!json_is_array(list))
			continue;
		json_array_foreach(list, i, m) {
			container(m);
			if (flags & PS_POD)
				requests_from_limits(m);
		}
	}
	if (!(flags & PS_POD))
		return;
	/* admission plugins and SetDefaults_Pod: pods only, not templates */
	def(spec, "enableServiceLinks", json_true());
	if (absent(spec, "serviceAccountName")) {
		const char *sa = json_string_value(json_object_get(spec, "serviceAccount"));

		json_object_set_new(spec, "serviceAccountName", json_string(sa && *sa ? sa : "default"));
	}
	if (json_is_string(json_object_get(spec, "serviceAccountName")))
		def(spec, "serviceAccount", json_incref(json_object_get(spec, "serviceAccountName")));
	def_int(spec, "priority", 0);
	def_str(spec, "preemptionPolicy", "PreemptLowerPriority");
	if (json_is_true(json_object_get(spec, "hostNetwork"))) {
		for (size_t l = 0; l < GT_ARRAY_SIZE(lists); l++) {
			size_t j;
			json_t *p;

			list = json_object_get(spec, lists[l]);
			if (!json_is_array(list))
				continue;
			json_array_foreach(list, i, m) {
				json_t *ports = json_object_get(m, "ports");

				if (!json_is_array(ports))
					continue;
				json_array_foreach(ports, j, p)
					if (json_is_object(p) && json_is_integer(json_object_get(p, "containerPort")))
						def(p, "hostPort", json_incref(json_object_get(p, "containerPort")));
			}
		}
	}
}

static void pod_template(json_t *tmpl, unsigned flags)
{
	pod_spec(obj_get(tmpl, "spec"), flags);
}

/* ---- Pod status: phase and QoS class (set by the pod strategy on create) ---- */

static const char *qos_class(const json_t *spec)
{
	static const char *const lists[] = { "containers", "initContainers" };
	static const char *const names[] = { "cpu", "memory" };
	struct gt_quantity req[2] = { { 0 } }, lim[2] = { { 0 } }, q;
	bool any = false, guaranteed = true;
	bool hreq[2] = { false, false }, hlim[2] = { false, false };

	for (size_t l = 0; l < GT_ARRAY_SIZE(lists); l++) {
		const json_t *list = json_object_get(spec, lists[l]);

		for (size_t i = 0; i < gt_vld_len(list); i++) {
			const json_t *res = gt_vld_get(json_array_get(list, i), "resources");
			int found = 0;

			for (size_t r = 0; r < 2; r++) {
				if (gt_vld_qty(gt_vld_get(gt_vld_get(res, "requests"), names[r]), &q) &&
				    !gt_quantity_is_zero(&q)) {
					gt_quantity_add(&req[r], &q);
					hreq[r] = any = true;
				}
				if (gt_vld_qty(gt_vld_get(gt_vld_get(res, "limits"), names[r]), &q) &&
				    !gt_quantity_is_zero(&q)) {
					gt_quantity_add(&lim[r], &q);
					hlim[r] = any = true;
					found++;
				}
			}
			if (found < 2)
				guaranteed = false;
		}
	}
	if (!any)
		return "BestEffort";
	for (size_t r = 0; r < 2 && guaranteed; r++)
		if (hreq[r] != hlim[r] || gt_quantity_cmp(&req[r], &lim[r]))
			guaranteed = false;
	return guaranteed ? "Guaranteed" : "Burstable";
}

/* ---- kinds ---- */

static void pod(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec");
	json_t *status;

	pod_spec(spec, PS_POD);
	status = obj_member(obj, "status");
	def_str(status, "phase", "Pending");
	if (spec)
		def_str(status, "qosClass", qos_class(spec));
}

static void service(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *ports, *p;
	const char *type, *aff, *cip;
	size_t i;

	if (!spec)
		return;
	def_str(spec, "sessionAffinity", "None");
	aff = json_string_value(json_object_get(spec, "sessionAffinity"));
	if (aff && !strcmp(aff, "None")) {
		json_object_del(spec, "sessionAffinityConfig");
	} else if (aff && !strcmp(aff, "ClientIP")) {
		json_t *cfg = obj_member(spec, "sessionAffinityConfig");

		def_int(obj_member(cfg, "clientIP"), "timeoutSeconds", 10800);
	}
	def_str(spec, "type", "ClusterIP");
	ports = json_object_get(spec, "ports");
	if (json_is_array(ports)) {
		json_array_foreach(ports, i, p) {
			json_t *tp;

			if (!json_is_object(p))
				continue;
			def_str(p, "protocol", "TCP");
			tp = json_object_get(p, "targetPort");
			if ((!tp || json_is_null(tp) || (json_is_integer(tp) && !json_integer_value(tp)) ||
			     (json_is_string(tp) && !*json_string_value(tp))) &&
			    json_is_integer(json_object_get(p, "port")))
				json_object_set(p, "targetPort", json_object_get(p, "port"));
		}
	}
	type = json_string_value(json_object_get(spec, "type"));
	if (!type)
		return;
	if (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"))
		def_str(spec, "externalTrafficPolicy", "Cluster");
	if (strcmp(type, "ExternalName"))
		def_str(spec, "internalTrafficPolicy", "Cluster");
	if (!strcmp(type, "LoadBalancer"))
		def(spec, "allocateLoadBalancerNodePorts", json_true());
	if (strcmp(type, "ExternalName")) {
		cip = json_string_value(json_object_get(spec, "clusterIP"));
		def_str(spec, "ipFamilyPolicy", "SingleStack");
		def(spec, "ipFamilies", json_pack("[s]", cip && strchr(cip, ':') ? "IPv6" : "IPv4"));
	}
}

static void deployment(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *st;
	const char *type;

	def_int(spec, "replicas", 1);
	st = obj_member(spec, "strategy");
	def_str(st, "type", "RollingUpdate");
	type = json_string_value(json_object_get(st, "type"));
	if (type && !strcmp(type, "RollingUpdate")) {
		json_t *ru = obj_member(st, "rollingUpdate");

		def_str(ru, "maxUnavailable", "25%");
		def_str(ru, "maxSurge", "25%");
	}
	def_int(spec, "revisionHistoryLimit", 10);
	def_int(spec, "progressDeadlineSeconds", 600);
	pod_template(obj_get(spec, "template"), 0);
}

static void replicaset(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec");

	def_int(spec, "replicas", 1);
	pod_template(obj_get(spec, "template"), 0);
}

static void pvc_spec(json_t *pvc)
{
	def_str(obj_get(pvc, "spec"), "volumeMode", "Filesystem");
	if (json_is_object(pvc))
		def_str(obj_member(pvc, "status"), "phase", "Pending");
}

static void statefulset(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *us, *list, *m;
	const char *type;
	size_t i;

	if (!spec)
		return;
	def_str(spec, "podManagementPolicy", "OrderedReady");
	us = obj_member(spec, "updateStrategy");
	if (us && absent(us, "type")) {
		json_object_set_new(us, "type", json_string("RollingUpdate"));
		obj_member(us, "rollingUpdate");
	}
	type = json_string_value(json_object_get(us, "type"));
	if (type && !strcmp(type, "RollingUpdate"))
		def_int(obj_get(us, "rollingUpdate"), "partition", 0);
	def_int(spec, "replicas", 1);
	def_int(spec, "revisionHistoryLimit", 10);
	us = obj_member(spec, "persistentVolumeClaimRetentionPolicy");
	def_str(us, "whenDeleted", "Retain");
	def_str(us, "whenScaled", "Retain");
	list = json_object_get(spec, "volumeClaimTemplates");
	if (json_is_array(list))
		json_array_foreach(list, i, m)
			pvc_spec(m);
	pod_template(obj_get(spec, "template"), 0);
}

static void daemonset(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *us;
	const char *type;

	us = obj_member(spec, "updateStrategy");
	def_str(us, "type", "RollingUpdate");
	type = json_string_value(json_object_get(us, "type"));
	if (type && !strcmp(type, "RollingUpdate")) {
		json_t *ru = obj_member(us, "rollingUpdate");

		def_int(ru, "maxUnavailable", 1);
		def_int(ru, "maxSurge", 0);
	}
	def_int(spec, "revisionHistoryLimit", 10);
	pod_template(obj_get(spec, "template"), 0);
}

static void job(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *tl, *meta;

	if (!spec)
		return;
	if (absent(spec, "completions") && absent(spec, "parallelism"))
		def_int(spec, "completions", 1);
	def_int(spec, "parallelism", 1);
	def_int(spec, "backoffLimit", absent(spec, "backoffLimitPerIndex") ? 6 : INT32_MAX);
	tl = obj_get(obj_get(obj_get(spec, "template"), "metadata"), "labels");
	meta = obj_get(obj, "metadata");
	if (tl && json_object_size(tl) && meta) {
		json_t *ml = json_object_get(meta, "labels");

		if (!ml || json_is_null(ml) || (json_is_object(ml) && !json_object_size(ml)))
			json_object_set_new(meta, "labels", json_deep_copy(tl));
	}
	def_str(spec, "completionMode", "NonIndexed");
	def(spec, "suspend", json_false());
	{
		/* SetDefaults_PodFailurePolicyOnPodConditionsPattern: status True */
		json_t *rules = json_object_get(obj_get(spec, "podFailurePolicy"), "rules"), *r, *c;
		size_t i, j;

		json_array_foreach(rules, i, r)
			json_array_foreach(json_is_object(r) ? json_object_get(r, "onPodConditions") : NULL, j, c)
				if (json_is_object(c))
					def_str(c, "status", "True");
	}
	def_str(spec, "podReplacementPolicy",
		absent(spec, "podFailurePolicy") ? "TerminatingOrFailed" : "Failed");
	pod_template(obj_get(spec, "template"), PS_NO_RESTART);
}

static void cronjob(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec");

	def_str(spec, "concurrencyPolicy", "Allow");
	def(spec, "suspend", json_false());
	def_int(spec, "successfulJobsHistoryLimit", 3);
	def_int(spec, "failedJobsHistoryLimit", 1);
	pod_template(obj_get(obj_get(obj_get(spec, "jobTemplate"), "spec"), "template"), PS_NO_RESTART);
}

static void namespace(json_t *obj)
{
	json_t *meta = obj_get(obj, "metadata");
	json_t *name = meta ? json_object_get(meta, "name") : NULL;
	json_t *spec;

	if (json_is_string(name) && json_string_length(name)) {
		json_t *labels = obj_member(meta, "labels");

		if (labels)
			json_object_set(labels, "kubernetes.io/metadata.name", name);
	}
	spec = obj_member(obj, "spec");
	def(spec, "finalizers", json_pack("[s]", "kubernetes"));
	def_str(obj_member(obj, "status"), "phase", "Active");
}

static void secret(json_t *obj)
{
	json_t *sd, *data, *val;
	const char *k;

	def_str(obj, "type", "Opaque");
	sd = json_object_get(obj, "stringData");
	if (json_is_null(sd)) {
		json_object_del(obj, "stringData");
		return;
	}
	if (!json_is_object(sd))
		return; /* wrong type: gt_validate rejects it */
	data = json_object_get(obj, "data");
	if (data && !json_is_null(data) && !json_is_object(data))
		return;
	json_object_foreach(sd, k, val) {
		if (!json_is_string(val))
			return; /* leave it whole for the 400 */
	}
	data = obj_member(obj, "data");
	json_object_foreach(sd, k, val) {
		char *b64 = gt_base64_encode(json_string_value(val), json_string_length(val));

		json_object_set_new(data, k, json_string(b64));
		free(b64);
	}
	json_object_del(obj, "stringData");
}

static void node(json_t *obj)
{
	json_t *status = obj_get(obj, "status");
	json_t *cap = obj_get(status, "capacity");

	if (cap && absent(status, "allocatable"))
		json_object_set_new(status, "allocatable", json_deep_copy(cap));
}

static void crd(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec");
	json_t *names = obj_get(spec, "names");
	const char *kind = json_string_value(json_object_get(names, "kind"));

	if (kind && *kind) {
		char *lower = xstrdup(kind), *list = xasprintf("%sList", kind);

		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		def_str(names, "singular", lower);
		def_str(names, "listKind", list);
		free(lower);
		free(list);
	}
	def(spec, "conversion", json_pack("{s:s}", "strategy", "None"));
}

/* kubeflow.org/v1 PyTorchJob: what the training operator's defaulter sets. */
static void pytorchjob(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *specs = spec ? obj_get(spec, "pytorchReplicaSpecs") : NULL;
	json_t *rs, *c;
	const char *type;
	size_t i;

	if (!spec)
		return;
	def_str(spec, "nprocPerNode", "auto");
	def_str(obj_member(spec, "runPolicy"), "cleanPodPolicy", "None");
	json_object_foreach(specs, type, rs) {
		if (!json_is_object(rs))
			continue;
		def_int(rs, "replicas", 1);
		def_str(rs, "restartPolicy", "OnFailure");
		pod_template(obj_get(rs, "template"), PS_NO_RESTART);
		json_array_foreach(gt_json_path(rs, "template.spec.containers"), i, c) {
			json_t *ports, *p;
			size_t k;
			bool has = false;

			if (!json_is_object(c) || strcmp(gt_json_str(c, "name") ?: "", "pytorch"))
				continue;
			ports = json_object_get(c, "ports");
			if (!ports || json_is_null(ports)) {
				ports = json_array();
				json_object_set_new(c, "ports", ports);
			}
			json_array_foreach(ports, k, p)
				has |= !strcmp(gt_json_str(p, "name") ?: "", "pytorchjob-port");
			if (!has && json_is_array(ports))
				json_array_append_new(ports, json_pack("{s:s,s:i,s:s}", "name",
								       "pytorchjob-port", "containerPort",
								       23456, "protocol", "TCP"));
		}
	}
}

/* kubeflow.org/v2beta1 MPIJob: mpi-operator's SetDefaults_MPIJob (the
 * Launcher restarts OnFailure, Workers Never; Worker replicas 1 here, since
 * Gantry requires workers; backoffLimit 6, the launcher Job's default). */
static void mpijob(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *specs = spec ? obj_get(spec, "mpiReplicaSpecs") : NULL;
	json_t *rs;
	const char *type;

	if (!spec)
		return;
	def_int(spec, "slotsPerWorker", 1);
	def_str(spec, "mpiImplementation", "OpenMPI");
	def_str(spec, "launcherCreationPolicy", "AtStartup");
	def_str(obj_member(spec, "runPolicy"), "cleanPodPolicy", "None");
	/* mpi-operator's launcher is a batch Job: backoffLimit 6 unless given */
	def_int(obj_member(spec, "runPolicy"), "backoffLimit", 6);
	json_object_foreach(specs, type, rs) {
		if (!json_is_object(rs))
			continue;
		def_int(rs, "replicas", 1);
		def_str(rs, "restartPolicy", strcmp(type, "Launcher") ? "Never" : "OnFailure");
		pod_template(obj_get(rs, "template"), PS_NO_RESTART);
	}
}

/* autoscaling/v2: minReplicas 1, CPU at 80 % when no metric is given; a
 * behavior given is completed with the default rules (scale up: no
 * stabilization, the larger of +100 % and +4 pods per 15 s; scale down:
 * 300 s stabilization, -100 % per 15 s), as SetDefaults does. */
static void hpa_rules(json_t *b, const char *key, bool up)
{
	json_t *r = json_object_get(b, key);

	if (!json_is_object(r) && !json_is_null(r) && r)
		return;
	r = obj_member(b, key);
	def_int(r, "stabilizationWindowSeconds", up ? 0 : 300);
	def_str(r, "selectPolicy", "Max");
	def(r, "policies", up ? json_pack("[{s:s,s:i,s:i},{s:s,s:i,s:i}]", "type", "Pods", "value", 4,
					  "periodSeconds", 15, "type", "Percent", "value", 100,
					  "periodSeconds", 15) :
				json_pack("[{s:s,s:i,s:i}]", "type", "Percent", "value", 100,
					  "periodSeconds", 15));
}

static void hpa(json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *m, *b;

	if (!spec || strcmp(gt_json_str(obj, "apiVersion") ?: "autoscaling/v2", "autoscaling/v2"))
		return;
	def_int(spec, "minReplicas", 1);
	m = json_object_get(spec, "metrics");
	if (!m || json_is_null(m) || (json_is_array(m) && !json_array_size(m)))
		json_object_set_new(spec, "metrics", json_pack(
			"[{s:s,s:{s:s,s:{s:s,s:i}}}]", "type", "Resource", "resource", "name", "cpu",
			"target", "type", "Utilization", "averageUtilization", 80));
	if ((b = obj_get(spec, "behavior"))) {
		hpa_rules(b, "scaleUp", true);
		hpa_rules(b, "scaleDown", false);
	}
}

static const struct {
	const char *group, *kind;
	void (*fn)(json_t *obj);
} rows[] = {
	{ "kubeflow.org", "PyTorchJob", pytorchjob },
	{ "kubeflow.org", "MPIJob", mpijob },
	{ "", "Pod", pod },
	{ "", "Service", service },
	{ "", "Namespace", namespace },
	{ "", "Secret", secret },
	{ "", "PersistentVolumeClaim", pvc_spec },
	{ "", "Node", node },
	{ "apps", "Deployment", deployment },
	{ "apps", "ReplicaSet", replicaset },
	{ "apps", "StatefulSet", statefulset },
	{ "apps", "DaemonSet", daemonset },
	{ "batch", "Job", job },
	{ "batch", "CronJob", cronjob },
	{ "autoscaling", "HorizontalPodAutoscaler", hpa },
	{ "apiextensions.k8s.io", "CustomResourceDefinition", crd },
};

void gt_defaults_apply(const struct gt_resource *r, json_t *obj)
{
	if (!r || !r->kind || r->custom || !json_is_object(obj))
		return;
	for (size_t i = 0; i < GT_ARRAY_SIZE(rows); i++) {
		if (!strcmp(rows[i].group, r->group ? r->group : "") && !strcmp(rows[i].kind, r->kind)) {
			rows[i].fn(obj);
			return;
		}
	}
}

/* ---- Job selector ---- */

void gt_defaults_job_selector(json_t *job, const char *uid)
{
	static const char *const name_keys[] = { "job-name", "batch.kubernetes.io/job-name" };
	static const char *const uid_keys[] = { "controller-uid", "batch.kubernetes.io/controller-uid" };
	json_t *spec = obj_get(job, "spec"), *tmeta, *labels, *sel, *ml, *meta, *jl;
	const char *name;
	bool shared;

	if (!spec || !uid || json_is_true(json_object_get(spec, "manualSelector")))
		return;
	meta = obj_get(job, "metadata");
	name = json_string_value(json_object_get(meta, "name"));
	tmeta = obj_member(obj_member(spec, "template"), "metadata");
	labels = obj_member(tmeta, "labels");
	if (!labels)
		return;
	/*
	 * SetDefaults_Job gave the Job the template's labels (Kubernetes shares
	 * the map, so the Job sees the generated labels too).  A Job without
	 * labels gets them as well: the next update would default them anyway.
	 */
	jl = obj_get(meta, "labels");
	if (meta && (absent(meta, "labels") || (jl && !json_object_size(jl)))) {
		jl = obj_member(meta, "labels");
		shared = jl != NULL;
	} else {
		shared = jl && json_object_size(labels) && json_equal(jl, labels);
	}
	for (size_t i = 0; i < 2; i++) {
		def_str(labels, name_keys[i], name ? name : "");
		def_str(labels, uid_keys[i], uid);
	}
	sel = obj_member(spec, "selector");
	ml = obj_member(sel, "matchLabels");
	def_str(ml, "batch.kubernetes.io/controller-uid", uid);
	if (shared)
		json_object_update(jl, labels);
}

/* ---- update ---- */

static void service_update(json_t *obj, const json_t *old)
{
	json_t *spec = obj_get(obj, "spec");
	const json_t *ospec = gt_vld_get(old, "spec");
	const char *type = json_string_value(json_object_get(spec, "type"));
	const char *otype = gt_vld_get(ospec, "type") ? gt_vld_str(ospec, "type") : "ClusterIP";
	const char *cip = json_string_value(json_object_get(spec, "clusterIP"));
	json_t *ports = spec ? json_object_get(spec, "ports") : NULL, *p;
	const json_t *oports = gt_vld_get(ospec, "ports");
	size_t i;

	if (!spec || !ospec || !type || !otype || !strcmp(type, "ExternalName") ||
	    !strcmp(otype, "ExternalName"))
		return;
	if (!cip || !*cip) {
		if (gt_vld_get(ospec, "clusterIP"))
			json_object_set(spec, "clusterIP", gt_vld_get(ospec, "clusterIP"));
		if (gt_vld_get(ospec, "clusterIPs") && absent(spec, "clusterIPs"))
			json_object_set(spec, "clusterIPs", gt_vld_get(ospec, "clusterIPs"));
	}
	if (strcmp(type, "NodePort") && strcmp(type, "LoadBalancer"))
		return;
	if (json_is_integer(gt_vld_get(ospec, "healthCheckNodePort")))
		def(spec, "healthCheckNodePort", json_incref(gt_vld_get(ospec, "healthCheckNodePort")));
	if (!json_is_array(ports))
		return;
	json_array_foreach(ports, i, p) {
		json_t *np = json_object_get(p, "nodePort");

		if (!json_is_object(p) || (np && !json_is_null(np) && !(json_is_integer(np) && !json_integer_value(np))))
			continue;
		for (size_t j = 0; j < gt_vld_len(oports); j++) {
			const json_t *op = json_array_get(oports, j);

			if (gt_json_equal(gt_vld_get(op, "port"), gt_vld_get(p, "port")) &&
			    gt_json_equal(gt_vld_get(op, "protocol"), gt_vld_get(p, "protocol")) &&
			    json_is_integer(gt_vld_get(op, "nodePort"))) {
				json_object_set(p, "nodePort", gt_vld_get(op, "nodePort"));
				break;
			}
		}
	}
}

void gt_defaults_update(const struct gt_resource *r, json_t *obj, const json_t *old)
{
	if (!r || !r->kind || r->custom || !json_is_object(obj) || !json_is_object(old))
		return;
	if (!strcmp(r->group ? r->group : "", "") && !strcmp(r->kind, "Service"))
		service_update(obj, old);
}
