/*
 * sim.c - hollow nodes (see sim.h).
 *
 * Threads: a few registration workers at start, then one heartbeat thread
 * (each tick renews the Leases that fall due, so N nodes cost N /
 * heartbeat_s writes a second, evenly spread), one informer over every
 * bound pod (fieldSelector spec.nodeName!=) that keeps only those on our
 * nodes, and `writers` threads draining one queue of pod keys.  A key is
 * queued once however often its pod changes; the writer reads the latest
 * object the informer saw and does what it needs then: report Running, or
 * finish a graceful deletion.
 */
#include "agent/sim.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "client/client.h"
#include "codec/json.h"

struct gt_sim {
	struct gt_sim_config cfg;
	_Atomic bool stop;
	pthread_t heartbeat, informer, *writers;
	int nwriters;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	json_t *pods;      /* "ns/name" -> latest Pod on one of our nodes */
	json_t *queued;    /* "ns/name" -> true while queued */
	json_t *ips;       /* uid -> the podIP it was given (one per pod) */
	char **queue;      /* FIFO of keys */
	size_t qhead, qn, qcap;
	_Atomic uint32_t next_ip;
	int64_t next_slot_ns;  /* --sim-qps: when the next write may go */
	_Atomic int next_reg;
};

/* Our node's number, or -1 for a node that is not ours. */
static int node_index(const struct gt_sim *s, const char *node)
{
	size_t pl = strlen(s->cfg.prefix);
	int64_t v;

	if (!node || strncmp(node, s->cfg.prefix, pl) || node[pl] != '-' ||
	    gt_parse_i64(node + pl + 1, &v) < 0 || v < s->cfg.first ||
	    v >= (int64_t)s->cfg.first + s->cfg.nodes)
		return -1;
	return (int)v;
}

static void node_ip(int idx, char out[32])
{
	/* 198.18.0.0/15, the benchmarking range */
	idx++;
	snprintf(out, 32, "198.%d.%d.%d", 18 + ((idx >> 16) & 1), (idx >> 8) & 255, idx & 255);
}

/* ---- nodes ---- */

static json_t *node_object(const struct gt_sim *s, int idx)
{
	char name[128], ip[32], now[32], gpus[16], pods[16], zone[32];
	json_t *node, *labels, *cap;

	snprintf(name, sizeof(name), "%s-%d", s->cfg.prefix, idx);
	node_ip(idx, ip);
	gt_time_rfc3339(time(NULL), now);
	snprintf(gpus, sizeof(gpus), "%d", s->cfg.gpus);
	snprintf(pods, sizeof(pods), "%d", s->cfg.max_pods);
	cap = json_pack("{s:s,s:s,s:s,s:s}", "cpu", s->cfg.cpu, "memory", s->cfg.memory, "pods",
			pods, "ephemeral-storage", "100Gi");
	if (s->cfg.gpus > 0)
		json_object_set_new(cap, "nvidia.com/gpu", json_string(gpus));
	node = json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s,s:s,s:s},s:{s:s}},s:{},"
			 "s:{s:O,s:O,s:[{s:s,s:s,s:s,s:s,s:s,s:s}],s:[{s:s,s:s},{s:s,s:s}],"
			 "s:{s:s,s:s,s:s,s:s,s:s,s:s}}}",
			 "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "labels",
			 "kubernetes.io/hostname", name, "kubernetes.io/os", "linux",
			 "kubernetes.io/arch", "amd64", "gantry.dev/simulated", "true",
			 "annotations", "gantry.dev/simulated", "hollow node (gantry agent --simulate)",
			 "spec", "status", "capacity", cap, "allocatable", cap, "conditions", "type",
			 "Ready", "status", "True", "reason", "KubeletReady", "message",
			 "hollow node is posting ready status", "lastHeartbeatTime", now,
			 "lastTransitionTime", now, "addresses", "type", "InternalIP", "address", ip,
			 "type", "Hostname", "address", name, "nodeInfo", "kubeletVersion",
			 "v1.33.0-gantry-sim", "kubeProxyVersion", "v1.33.0-gantry-sim",
			 "containerRuntimeVersion", "sim://0", "operatingSystem", "linux",
			 "architecture", "amd64", "osImage", "hollow");
	json_decref(cap);
	labels = gt_json_path(node, "metadata.labels");
	if (s->cfg.zones > 0) {
		snprintf(zone, sizeof(zone), "zone-%d", idx % s->cfg.zones);
		json_object_set_new(labels, "topology.kubernetes.io/zone", json_string(zone));
	}
	if (s->cfg.labels) {
		char *all = xstrdup(s->cfg.labels), *save = NULL;

		for (char *kv = strtok_r(all, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');

			if (eq) {
				*eq = '\0';
				json_object_set_new(labels, kv, json_string(eq + 1));
			}
		}
		free(all);
	}
	return node;
}

static int register_one(struct gt_sim *s, int idx, struct gt_err *err)
{
	json_t *node = node_object(s, idx), *st = json_pack("{s:O}", "status",
							      json_object_get(node, "status"));
	char path[256];
	int r;

	r = gt_client_create(s->cfg.client, "/api/v1/nodes", node, NULL, err);
	if (r == -EEXIST) {
		json_t *m = json_pack("{s:{s:O}}", "metadata", "labels",
				      gt_json_path(node, "metadata.labels"));

		gt_err_clear(err);
		snprintf(path, sizeof(path), "/api/v1/nodes/%s",
			 gt_json_str(node, "metadata.name"));
		r = gt_client_patch(s->cfg.client, path, NULL, m, NULL, err);
		json_decref(m);
	}
	if (r == 0) {
		snprintf(path, sizeof(path), "/api/v1/nodes/%s/status",
			 gt_json_str(node, "metadata.name"));
		r = gt_client_patch(s->cfg.client, path, NULL, st, NULL, err);
	}
	json_decref(st);
	json_decref(node);
	return r;
}

struct reg {
	struct gt_sim *s;
	struct gt_err err;
	int rc;
};

static void *register_main(void *arg)
{
	struct reg *rg = arg;
	struct gt_sim *s = rg->s;
	int i;

	while (!rg->rc && (i = atomic_fetch_add(&s->next_reg, 1)) < s->cfg.nodes)
		rg->rc = register_one(s, s->cfg.first + i, &rg->err);
	return NULL;
}

static void renew(struct gt_sim *s, int idx)
{
	char name[128], path[300], now[40];
	json_t *body;
	struct gt_err err;

	snprintf(name, sizeof(name), "%s-%d", s->cfg.prefix, idx);
	snprintf(path, sizeof(path),
		 "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", name);
	gt_time_rfc3339_micro(now);
	body = json_pack("{s:{s:s,s:i,s:s}}", "spec", "holderIdentity", name,
			 "leaseDurationSeconds", 2 * s->cfg.heartbeat_s, "renewTime", now);
	gt_err_clear(&err);
	if (gt_client_patch(s->cfg.client, path, NULL, body, NULL, &err) == -ENOENT) {
		json_t *lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:O}", "apiVersion",
					  "coordination.k8s.io/v1", "kind", "Lease", "metadata",
					  "name", name, "namespace", "kube-node-lease", "spec",
					  json_object_get(body, "spec"));

		gt_err_clear(&err);
		gt_client_create(s->cfg.client,
				 "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
				 lease, NULL, &err);
		json_decref(lease);
	}
	json_decref(body);
}

/* Every node's Lease once per heartbeat_s, in slices every 100 ms. */
static void *heartbeat_main(void *arg)
{
	struct gt_sim *s = arg;
	int64_t start = gt_now_ms(), period = (int64_t)s->cfg.heartbeat_s * 1000;
	int64_t done = 0; /* renewals made since start */

	while (!atomic_load(&s->stop)) {
		int64_t due = (gt_now_ms() - start) * s->cfg.nodes / period + s->cfg.nodes;
		struct timespec ts = { 0, 100 * 1000000L };

		for (; done < due && !atomic_load(&s->stop); done++)
			renew(s, s->cfg.first + (int)(done % s->cfg.nodes));
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ---- pods ---- */

static void enqueue(struct gt_sim *s, const char *key)
{
	if (json_object_get(s->queued, key))
		return;
	json_object_set_new(s->queued, key, json_true());
	if (s->qhead + s->qn == s->qcap && s->qhead) {
		memmove(s->queue, s->queue + s->qhead, s->qn * sizeof(*s->queue));
		s->qhead = 0;
	}
	gt_grow((void **)&s->queue, &s->qcap, s->qhead + s->qn + 1, sizeof(*s->queue));
	s->queue[s->qhead + s->qn++] = xstrdup(key);
	pthread_cond_signal(&s->cond);
}

static bool needs_work(const json_t *pod)
{
	const char *phase = gt_json_str(pod, "status.phase");

	if (gt_json_path(pod, "metadata.deletionTimestamp"))
		return true;
	return !phase || !strcmp(phase, "Pending") || !gt_json_str(pod, "status.podIP");
}

static void on_pod(void *ctx, json_t *old, json_t *obj)
{
	struct gt_sim *s = ctx;
	char key[600];

	(void)old;
	if (node_index(s, gt_json_str(obj, "spec.nodeName")) < 0)
		return;
	snprintf(key, sizeof(key), "%s/%s", gt_json_str(obj, "metadata.namespace") ?: "",
		 gt_json_str(obj, "metadata.name") ?: "");
	pthread_mutex_lock(&s->lock);
	json_object_set(s->pods, key, obj);
	if (needs_work(obj))
		enqueue(s, key);
	pthread_mutex_unlock(&s->lock);
}

static void on_add(void *ctx, json_t *obj)
{
	on_pod(ctx, NULL, obj);
}

static void on_delete(void *ctx, json_t *obj)
{
	struct gt_sim *s = ctx;
	char key[600];

	snprintf(key, sizeof(key), "%s/%s", gt_json_str(obj, "metadata.namespace") ?: "",
		 gt_json_str(obj, "metadata.name") ?: "");
	pthread_mutex_lock(&s->lock);
	json_object_del(s->pods, key);
	json_object_del(s->ips, gt_json_str(obj, "metadata.uid") ?: "");
	pthread_mutex_unlock(&s->lock);
}

static void on_error(void *ctx, const struct gt_err *err)
{
	(void)ctx;
	gt_warn("sim: watching pods: %s (retrying)", err->msg);
}

static void *informer_main(void *arg)
{
	struct gt_sim *s = arg;
	struct gt_informer_ops ops = { on_add, on_pod, on_delete, NULL, on_error };

	gt_informer_run(s->cfg.client, "/api/v1/pods?fieldSelector=spec.nodeName%21%3D", &ops, s,
			&s->stop);
	return NULL;
}

/* The status a started pod reports: Running, Ready, every container running. */
static json_t *running_status(struct gt_sim *s, const json_t *pod, const char *ip)
{
	char now[32], hostip[32], cid[120];
	const char *start = gt_json_str(pod, "status.startTime");
	json_t *st, *cs = json_array(), *c;
	size_t i;

	gt_time_rfc3339(time(NULL), now);
	node_ip(node_index(s, gt_json_str(pod, "spec.nodeName")), hostip);
	json_array_foreach(gt_json_path(pod, "spec.containers"), i, c) {
		snprintf(cid, sizeof(cid), "sim://%.40s-%zu", gt_json_str(pod, "metadata.uid") ?: "",
			 i);
		json_array_append_new(cs, json_pack(
			"{s:s,s:s,s:s,s:s,s:b,s:b,s:i,s:{s:{s:s}}}", "name",
			gt_json_str(c, "name") ?: "", "image", gt_json_str(c, "image") ?: "",
			"imageID", gt_json_str(c, "image") ?: "", "containerID", cid, "ready", 1,
			"started", 1, "restartCount", 0, "state", "running", "startedAt", now));
	}
	st = json_pack("{s:s,s:s,s:s,s:[{s:s}],s:s,s:[{s:s}],s:s,s:o,s:["
		       "{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}]}",
		       "phase", "Running", "hostIP", hostip, "podIP", ip, "podIPs", "ip", ip,
		       "startTime", start ? start : now, "hostIPs", "ip", hostip, "qosClass",
		       gt_json_str(pod, "status.qosClass") ?: "BestEffort", "containerStatuses", cs,
		       "conditions", "type", "PodScheduled", "status", "True",
		       "lastTransitionTime", now, "type", "Initialized", "status", "True",
		       "lastTransitionTime", now, "type", "ContainersReady", "status", "True",
		       "lastTransitionTime", now, "type", "Ready", "status", "True",
		       "lastTransitionTime", now);
	return st;
}

static void work(struct gt_sim *s, const char *key, json_t *pod)
{
	const char *ns = gt_json_str(pod, "metadata.namespace") ?: "default";
	const char *name = gt_json_str(pod, "metadata.name") ?: "";
	char path[700];
	struct gt_err err;
	json_t *body;
	int r;

	(void)key;
	gt_err_clear(&err);
	if (gt_json_path(pod, "metadata.deletionTimestamp")) {
		/* nothing runs: the graceful deletion is over at once */
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
		body = json_pack("{s:i,s:{s:s}}", "gracePeriodSeconds", 0, "preconditions", "uid",
				 gt_json_str(pod, "metadata.uid") ?: "");
		r = gt_client_delete(s->cfg.client, path, body, NULL, &err);
		json_decref(body);
		if (r < 0 && r != -ENOENT && r != -ESTALE)
			gt_warn("sim: deleting %s/%s: %s", ns, name, err.msg);
		return;
	}
	{
		const char *uid = gt_json_str(pod, "metadata.uid") ?: "";
		char ip[32];

		pthread_mutex_lock(&s->lock);
		if (json_object_get(s->ips, uid)) {
			snprintf(ip, sizeof(ip), "%s", json_string_value(json_object_get(s->ips, uid)));
		} else {
			uint32_t n = atomic_fetch_add(&s->next_ip, 1) + 1;

			/* 100.64.0.0/10 */
			snprintf(ip, sizeof(ip), "100.%u.%u.%u", 64 + ((n >> 16) & 63),
				 (n >> 8) & 255, n & 255);
			json_object_set_new(s->ips, uid, json_string(ip));
		}
		pthread_mutex_unlock(&s->lock);
		body = json_pack("{s:o}", "status", running_status(s, pod, ip));
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", ns, name);
	r = gt_client_patch(s->cfg.client, path, NULL, body, NULL, &err);
	json_decref(body);
	if (r < 0 && r != -ENOENT)
		gt_warn("sim: status of %s/%s: %s", ns, name, err.msg);
}

static void *writer_main(void *arg)
{
	struct gt_sim *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!atomic_load(&s->stop)) {
		char *key;
		json_t *pod;

		if (!s->qn) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			continue;
		}
		if (s->cfg.qps > 0) { /* pace: one slot per 1/qps s */
			int64_t now = gt_now_ns(), wait;

			if (s->next_slot_ns < now)
				s->next_slot_ns = now;
			wait = s->next_slot_ns - now;
			s->next_slot_ns += 1000000000LL / s->cfg.qps;
			if (wait > 0) {
				struct timespec ts = { wait / 1000000000LL, wait % 1000000000LL };

				pthread_mutex_unlock(&s->lock);
				nanosleep(&ts, NULL);
				pthread_mutex_lock(&s->lock);
				if (!s->qn)
					continue;
			}
		}
		key = s->queue[s->qhead++];
		if (!--s->qn)
			s->qhead = 0;
		json_object_del(s->queued, key);
		pod = json_incref(json_object_get(s->pods, key));
		pthread_mutex_unlock(&s->lock);
		if (pod && needs_work(pod))
			work(s, key, pod);
		json_decref(pod);
		free(key);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int gt_sim_start(const struct gt_sim_config *cfg, struct gt_sim **out, struct gt_err *err)
{
	struct gt_sim *s = xcalloc(1, sizeof(*s));
	int nreg, rc = 0;
	pthread_t *regs;
	struct reg *rgs;

	s->cfg = *cfg;
	s->cfg.prefix = cfg->prefix ?: "sim";
	s->cfg.cpu = cfg->cpu ?: "32";
	s->cfg.memory = cfg->memory ?: "256Gi";
	s->cfg.max_pods = cfg->max_pods > 0 ? cfg->max_pods : 110;
	s->cfg.heartbeat_s = cfg->heartbeat_s > 0 ? cfg->heartbeat_s : 20;
	s->nwriters = cfg->writers > 0 ? cfg->writers : 4;
	if (s->cfg.nodes < 1 || s->cfg.nodes > 100000) {
		free(s);
		return gt_err_set(err, -EINVAL, "--simulate: between 1 and 100000 nodes");
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->pods = json_object();
	s->queued = json_object();
	s->ips = json_object();
	/* registration: a few requests in flight at once */
	nreg = s->cfg.nodes < 8 ? s->cfg.nodes : 8;
	regs = xcalloc((size_t)nreg, sizeof(*regs));
	rgs = xcalloc((size_t)nreg, sizeof(*rgs));
	for (int i = 0; i < nreg; i++) {
		rgs[i].s = s;
		gt_err_clear(&rgs[i].err);
		pthread_create(&regs[i], NULL, register_main, &rgs[i]);
	}
	for (int i = 0; i < nreg; i++) {
		pthread_join(regs[i], NULL);
		if (rgs[i].rc && !rc) {
			rc = rgs[i].rc;
			*err = rgs[i].err;
		}
	}
	free(regs);
	free(rgs);
	if (rc < 0) {
		json_decref(s->pods);
		json_decref(s->queued);
		json_decref(s->ips);
		free(s);
		return rc;
	}
	gt_info("sim: %d hollow nodes %s-%d..%s-%d registered", s->cfg.nodes, s->cfg.prefix,
		s->cfg.first, s->cfg.prefix, s->cfg.first + s->cfg.nodes - 1);
	s->writers = xcalloc((size_t)s->nwriters, sizeof(*s->writers));
	pthread_create(&s->heartbeat, NULL, heartbeat_main, s);
	pthread_create(&s->informer, NULL, informer_main, s);
	for (int i = 0; i < s->nwriters; i++)
		pthread_create(&s->writers[i], NULL, writer_main, s);
	*out = s;
	return 0;
}

void gt_sim_stop(struct gt_sim *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->heartbeat, NULL);
	pthread_join(s->informer, NULL);
	for (int i = 0; i < s->nwriters; i++)
		pthread_join(s->writers[i], NULL);
	while (s->qn) {
		free(s->queue[s->qhead++]);
		s->qn--;
	}
	free(s->queue);
	free(s->writers);
	json_decref(s->pods);
	json_decref(s->queued);
	json_decref(s->ips);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
