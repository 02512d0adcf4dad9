/*
 * agent.c - the node agent's lifecycle: Node registration and heartbeats
 * (Lease + Node status), the informer over the pods bound to this node
 * feeding one worker per pod, re-adoption of what a previous agent left, and
 * `gantry node reset`.
 */
#include <dirent.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/image.h"
#include "agent/internal.h"
#include "agent/metrics.h"
#include "agent/network.h"
#include "agent/proxy.h"
#include "agent/runtime.h"
#include "agent/svc.h"
#include "agent/volumes.h"
#include "base/log.h"
#include "client/client.h"
#include "http/server.h"

void gt_agent_logs_handler(struct gt_http_req *req, void *ctx);

static void detect_host_ip(char out[64])
{
	struct ifaddrs *ifa, *i;

	snprintf(out, 64, "127.0.0.1");
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (!strncmp(i->ifa_name, "gantry", 6) || !strncmp(i->ifa_name, "veth", 4) ||
		    !strncmp(i->ifa_name, "cni", 3) || !strncmp(i->ifa_name, "docker", 6))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, 64);
		break;
	}
	freeifaddrs(ifa);
}

static void read_line(const char *path, char *out, size_t n)
{
	char *s = NULL;
	size_t len;

	out[0] = '\0';
	if (gt_read_file(path, &s, &len) == 0) {
		snprintf(out, n, "%s", s);
		out[strcspn(out, "\n")] = '\0';
	}
	free(s);
}

static json_t *node_status(struct gt_agent *a)
{
	struct sysinfo si;
	struct utsname un;
	char mem[64], machine[128], boot[128], os[256] = "Linux", now[40], kl[64], ncpu[32], ngpu[16];
	json_t *st;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char *osr = NULL, *line;
	size_t len;

	sysinfo(&si);
	uname(&un);
	snprintf(mem, sizeof(mem), "%lluKi", (unsigned long long)si.totalram * si.mem_unit / 1024);
	read_line("/etc/machine-id", machine, sizeof(machine));
	read_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	if (gt_read_file("/etc/os-release", &osr, &len) == 0 && (line = strstr(osr, "PRETTY_NAME=\""))) {
		line += 13;
		snprintf(os, sizeof(os), "%.*s", (int)strcspn(line, "\""), line);
	}
	free(osr);
	gt_time_rfc3339(time(NULL), now);
	snprintf(kl, sizeof(kl), "%s", "v1.33.0-gantry");
	snprintf(ncpu, sizeof(ncpu), "%ld", cpus);
	snprintf(ngpu, sizeof(ngpu), "%d", a->gpus.n);
	st = json_pack(
		"{s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s},"
		"s:[{s:s,s:s,s:s,s:s,s:s,s:s}],"
		"s:[{s:s,s:s},{s:s,s:s}],"
		"s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s},"
		"s:{s:{s:i}}}",
		"capacity", "cpu", ncpu, "memory", mem, "pods", "110",
		"ephemeral-storage", "100Gi",
		"allocatable", "cpu", ncpu, "memory", mem, "pods", "110",
		"ephemeral-storage", "100Gi",
		"conditions", "type", "Ready", "status", "True", "reason", "KubeletReady", "message",
		"gantry agent is posting ready status", "lastHeartbeatTime", now, "lastTransitionTime", now,
		"addresses", "type", "InternalIP", "address", a->host_ip, "type", "Hostname", "address",
		a->node,
		"nodeInfo", "machineID", machine, "systemUUID", machine, "bootID", boot, "kernelVersion",
		un.release, "osImage", os, "containerRuntimeVersion", a->runtime, "kubeletVersion", kl,
		"kubeProxyVersion", kl, "operatingSystem", "linux", "architecture",
		!strcmp(un.machine, "aarch64") ? "arm64" : "amd64",
		"daemonEndpoints", "kubeletEndpoint", "Port", a->port);
	if (a->gpus.n) {
		json_object_set_new(json_object_get(st, "capacity"), GT_GPU_RESOURCE, json_string(ngpu));
		json_object_set_new(json_object_get(st, "allocatable"), GT_GPU_RESOURCE, json_string(ngpu));
	}
	return st;
}

static int register_node(struct gt_agent *a, struct gt_err *err)
{
	char path[1024];
	json_t *st = node_status(a), *node, *out = NULL;
	int r;

	{
		char ep[128];

		snprintf(ep, sizeof(ep), "%s:%d", a->bind, a->port);
		node = json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s,s:s},s:{s:s}},s:{}}", "apiVersion", "v1",
				 "kind", "Node", "metadata", "name", a->node, "labels",
				 "kubernetes.io/hostname", a->node, "kubernetes.io/os", "linux",
				 "kubernetes.io/arch", gt_json_str(st, "nodeInfo.architecture"),
				 "annotations", GT_AGENT_ENDPOINT_ANNOTATION, ep, "spec");
	}
	r = gt_client_create(a->client, "/api/v1/nodes", node, &out, err);
	json_decref(out);
	out = NULL;
	if (r == -EEXIST) {
		/* an earlier agent registered it: refresh labels and endpoint */
		json_t *m = json_pack("{s:{s:O,s:O}}", "metadata", "labels",
				      gt_json_path(node, "metadata.labels"), "annotations",
				      gt_json_path(node, "metadata.annotations"));

		gt_err_clear(err);
		snprintf(path, sizeof(path), "/api/v1/nodes/%s", a->node);
		r = gt_client_patch(a->client, path, "application/merge-patch+json", m, NULL, err);
		json_decref(m);
	}
	json_decref(node);
	if (r < 0) {
		json_decref(st);
		return r;
	}
	gt_err_clear(err);
	snprintf(path, sizeof(path), "/api/v1/nodes/%s/status", a->node);
	node = json_pack("{s:o}", "status", st);
	r = gt_client_patch(a->client, path, "application/merge-patch+json", node, NULL, err);
	json_decref(node);
	return r;
}

/* Renews the node's Lease; false when the server did not take it. */
static bool renew_lease(struct gt_agent *a)
{
	char path[1024], now[40];
	json_t *body, *out = NULL;
	struct gt_err err;
	int r;

	gt_time_rfc3339_micro(now);
	gt_err_clear(&err);
	snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s",
		 a->node);
	body = json_pack("{s:{s:s,s:i,s:s}}", "spec", "holderIdentity", a->node,
			 "leaseDurationSeconds", 40, "renewTime", now);
	r = gt_client_patch(a->client, path, "application/merge-patch+json", body, &out, &err);
	if (r == -ENOENT) {
		json_t *lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:O}", "apiVersion",
					  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
					  a->node, "namespace", "kube-node-lease", "spec",
					  json_object_get(body, "spec"));

		gt_err_clear(&err);
		r = gt_client_create(a->client,
				     "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
				     lease, NULL, &err);
		json_decref(lease);
	}
	json_decref(out);
	json_decref(body);
	return r >= 0;
}

/* Frees the workers of pods that are gone (their state would pile up). */
static void reap_pods(struct gt_agent *a)
{
	struct pod **pp, *done = NULL;

	pthread_mutex_lock(&a->lock);
	for (pp = &a->pods; *pp;) {
		struct pod *p = *pp;

		if (atomic_load(&p->finished)) {
			*pp = p->next;
			p->next = done;
			done = p;
		} else {
			pp = &p->next;
		}
	}
	pthread_mutex_unlock(&a->lock);
	while (done) {
		struct pod *next = done->next;

		gt_pod_free(done); /* joins the finished thread */
		done = next;
	}
}

/*
 * Removes local-path volume directories (ROOT/pv/pvc-*) whose
 * PersistentVolume is gone: the provisioner deletes the object (reclaim
 * policy Delete) once the claim is deleted, and claim protection keeps the
 * claim until no pod uses it, so nothing mounts them any more.
 */
static void sweep_volumes(struct gt_agent *a)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	json_t *list = NULL, *items = NULL;
	struct gt_err err;

	snprintf(dir, sizeof(dir), "%s/pv", a->root);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char path[PATH_MAX + 300];
		bool live = false;
		json_t *pv;
		size_t i;

		if (strncmp(de->d_name, "pvc-", 4))
			continue;
		if (!list) {
			/* one list per sweep, and only when there is something to check */
			gt_err_clear(&err);
			if (gt_client_get(a->client, "/api/v1/persistentvolumes", &list, &err) < 0)
				break;
			items = json_object_get(list, "items");
			if (!json_is_array(items))
				break;
		}
		json_array_foreach(items, i, pv)
			live |= !strcmp(gt_json_str(pv, "metadata.name") ?: "", de->d_name);
		if (live)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (gt_rm_rf(path) == 0)
			gt_info("agent: removed the data of deleted volume %s", de->d_name);
	}
	json_decref(list);
	if (d)
		closedir(d);
}

static void *heartbeat_main(void *arg)
{
	struct gt_agent *a = arg;
	int64_t last_status = gt_now_ms(), last_renew = gt_now_ms();
	int ticks = (a->cfg.heartbeat_s > 0 ? a->cfg.heartbeat_s : 10) * 10;

	while (!atomic_load(&a->stop)) {
		bool gap = false;

		/* back after a gap (the server unreachable, the agent paused): the
		 * node may have been marked Unknown, so post Ready at once */
		if (renew_lease(a)) {
			gap = gt_now_ms() - last_renew > (int64_t)ticks * 100 * 2;
			last_renew = gt_now_ms();
		}
		if (gap || gt_now_ms() - last_status >= 30000) {
			struct gt_err err;

			gt_err_clear(&err);
			if (register_node(a, &err) < 0)
				gt_warn("agent: node status: %s", err.msg);
			last_status = gt_now_ms();
		}
		for (int i = 0; i < ticks && !atomic_load(&a->stop); i++) {
			struct timespec ts = { 0, 100 * 1000000L };

			nanosleep(&ts, NULL);
			if (i % 10 == 0)
				reap_pods(a);
			if (i % 50 == 0)
				sweep_volumes(a);
			if (i % (GT_METRICS_INTERVAL_MS / 100) == 0)
				gt_agent_metrics_sample(a);
		}
	}
	return NULL;
}

/* ---- pods ---- */

static struct pod *find_pod(struct gt_agent *a, const char *uid)
{
	for (struct pod *p = a->pods; p; p = p->next)
		if (!strcmp(p->uid, uid))
			return p;
	return NULL;
}

static void on_add(void *ctx, json_t *obj)
{
	struct gt_agent *a = ctx;
	const char *uid = gt_json_str(obj, "metadata.uid");
	struct pod *p;

	if (!uid)
		return;
	pthread_mutex_lock(&a->lock);
	p = find_pod(a, uid);
	if (p) {
		gt_pod_update(p, obj);
	} else {
		p = gt_pod_new(a, obj);
		p->next = a->pods;
		a->pods = p;
	}
	pthread_mutex_unlock(&a->lock);
}

static void on_update(void *ctx, json_t *old, json_t *obj)
{
	(void)old;
	on_add(ctx, obj);
}

static void on_delete(void *ctx, json_t *obj)
{
	struct gt_agent *a = ctx;
	const char *uid = gt_json_str(obj, "metadata.uid");
	struct pod *p;

	pthread_mutex_lock(&a->lock);
	p = uid ? find_pod(a, uid) : NULL;
	if (p)
		gt_pod_gone(p);
	pthread_mutex_unlock(&a->lock);
}

/* After the first full list: directories of pods the API no longer has. */
static void on_synced(void *ctx)
{
	struct gt_agent *a = ctx;
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/pods", a->root);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		bool known;

		if (de->d_name[0] == '.')
			continue;
		pthread_mutex_lock(&a->lock);
		known = find_pod(a, de->d_name) != NULL;
		pthread_mutex_unlock(&a->lock);
		if (!known) {
			char pd[PATH_MAX];

			snprintf(pd, sizeof(pd), "%s/%s", dir, de->d_name);
			gt_info("agent: cleaning up pod %s deleted while the agent was down", de->d_name);
			gt_pod_cleanup_dir(a, pd);
		}
	}
	if (d)
		closedir(d);
}

static void on_error(void *ctx, const struct gt_err *err)
{
	struct gt_agent *a = ctx;

	gt_warn("agent %s: watching pods: %s (retrying)", a->node, err->msg);
}

static void *informer_main(void *arg)
{
	struct gt_agent *a = arg;
	struct gt_informer_ops ops = { on_add, on_update, on_delete, on_synced, on_error };
	char path[1024];

	snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", a->node);
	gt_informer_run(a->client, path, &ops, a, &a->stop);
	return NULL;
}

/* Stops a leftover pod's containers and removes everything it had. */
void gt_pod_cleanup_dir(struct gt_agent *a, const char *dir)
{
	char rroot[PATH_MAX], path[PATH_MAX], state[PATH_MAX], uid[64];
	struct gt_rt rt = { a->runtime, rroot, a->self_exe };
	struct gt_net_config nc = { a->cni_bin, a->bridge, a->subnet, state };
	json_t *ids = NULL, *v;
	const char *base = strrchr(dir, '/');
	size_t i;

	snprintf(uid, sizeof(uid), "%s", base ? base + 1 : dir);
	snprintf(rroot, sizeof(rroot), "%s/runc", a->root);
	snprintf(state, sizeof(state), "%s/cni", a->root);
	if (gt_rt_list(&rt, &ids, NULL) == 0) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "gt-%.12s-", uid);
		json_array_foreach(ids, i, v) {
			const char *id = json_string_value(v);

			if (id && !strncmp(id, prefix, strlen(prefix))) {
				gt_rt_kill(&rt, id, SIGKILL, NULL);
				gt_rt_delete(&rt, id, NULL);
			}
		}
		json_decref(ids);
	}
	/* unmount container rootfs overlays */
	{
		char cdir[PATH_MAX];
		DIR *d, *e;
		struct dirent *de, *ae;

		snprintf(cdir, sizeof(cdir), "%s/containers", dir);
		d = opendir(cdir);
		while (d && (de = readdir(d))) {
			char an[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			snprintf(an, sizeof(an), "%s/%s", cdir, de->d_name);
			e = opendir(an);
			while (e && (ae = readdir(e))) {
				if (ae->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s/rootfs", an, ae->d_name);
				gt_image_unmount(path, NULL);
			}
			if (e)
				closedir(e);
		}
		if (d)
			closedir(d);
	}
	gt_volumes_cleanup(dir, NULL);
	snprintf(path, sizeof(path), "/gantry/pod%s", uid);
	gt_rt_cgroup_remove(path, NULL);
	snprintf(path, sizeof(path), "%s/netns", dir);
	if (access(path, F_OK) == 0) {
		gt_net_teardown(&nc, uid, path, NULL);
		gt_netns_destroy(path, NULL);
	}
	if (gt_rm_rf(dir) < 0)
		gt_warn("agent: could not remove all of %s (a mount still in use?)", dir);
}

/* Releases what gt_agent_start set up (threads already stopped). */
static void agent_free(struct gt_agent *a)
{
	gt_rsh_stop(a);
	gt_svc_stop(a->svc);
	gt_http_stop(a->http);
	gt_image_store_close(a->images);
	gt_agent_metrics_free(a);
	free(a->root);
	free(a->node);
	free(a->runtime);
	free(a->cni_bin);
	free(a->bridge);
	free(a->subnet);
	free(a->token);
	free(a->self_exe);
	free(a->bind);
	free(a);
}

int gt_agent_start(const struct gt_agent_config *cfg, struct gt_agent **out, struct gt_err *err)
{
	struct gt_agent *a = xcalloc(1, sizeof(*a));
	char path[PATH_MAX];
	int r;

	a->rsh_fd = -1;
	a->cfg = *cfg;
	a->client = cfg->client;
	a->root = xstrdup(cfg->root_dir);
	a->node = xstrdup(cfg->node_name);
	a->runtime = xstrdup(cfg->runtime ? cfg->runtime : "runc");
	a->cni_bin = xstrdup(cfg->cni_bin_dir ? cfg->cni_bin_dir : "/usr/lib/cni");
	a->bridge = xstrdup(cfg->bridge ? cfg->bridge : "gantry0");
	a->subnet = xstrdup(cfg->subnet ? cfg->subnet : "10.88.0.0/16");
	a->token = cfg->token ? xstrdup(cfg->token) : NULL;
	a->self_exe = xstrdup(cfg->self_exe ? cfg->self_exe : "/proc/self/exe");
	a->bind = xstrdup(cfg->bind ? cfg->bind : "127.0.0.1");
	pthread_mutex_init(&a->lock, NULL);
	detect_host_ip(a->host_ip);
	gt_gpu_discover(&a->gpus, cfg->gpu_dev_dir);
	if (strcmp(a->runtime, "runc")) {
		char rroot[PATH_MAX], scratch[PATH_MAX];
		struct gt_rt rt = { a->runtime, rroot, a->self_exe };

		snprintf(rroot, sizeof(rroot), "%s/runc", a->root);
		snprintf(scratch, sizeof(scratch), "%s/rtcheck", a->root);
		gt_mkdir_p(scratch, 0700);
		if (gt_rt_check(&rt, scratch, err) < 0) {
			gt_warn("agent: runtime %s cannot run containers here (%s); using runc",
				a->runtime, err->msg);
			gt_err_clear(err);
			free(a->runtime);
			a->runtime = xstrdup("runc");
		}
		gt_rm_rf(scratch);
	}
	snprintf(path, sizeof(path), "%s/pods", a->root);
	if ((r = gt_mkdir_p(path, 0700)) < 0) {
		gt_err_set(err, r, "cannot create %s: %s", path, strerror(-r));
		goto fail;
	}
	{
		/* what `gantry node reset` needs to know to undo this agent */
		json_t *conf = json_pack("{s:s,s:s,s:s,s:s}", "node", a->node, "runtime", a->runtime,
					 "bridge", a->bridge, "subnet", a->subnet);
		char *s;
		size_t len;

		snprintf(path, sizeof(path), "%s/agent.json", a->root);
		s = gt_json_dump(conf, &len);
		gt_write_file_atomic(path, s, len, 0600);
		free(s);
		json_decref(conf);
	}
	snprintf(path, sizeof(path), "%s/images", a->root);
	if ((r = gt_image_store_open(path, &a->images, err)) < 0)
		goto fail;
	{
		struct gt_http_config hc = {
			.bind = a->bind, .port = cfg->port,
			.handler = gt_agent_logs_handler, .ctx = a,
		};

		if ((r = gt_http_start(&hc, &a->http, err)) < 0)
			goto fail;
		a->port = gt_http_port(a->http);
	}
	if ((r = register_node(a, err)) < 0) {
		gt_err_prefix(err, r, "registering node %s", a->node);
		goto fail;
	}
	renew_lease(a);
	if (gt_net_gateway(a->subnet, a->dns_ip) < 0) {
		r = gt_err_set(err, -EINVAL, "--subnet %s: not an IPv4 CIDR between /8 and /30", a->subnet);
		goto fail;
	}
	if (!cfg->no_services) {
		struct gt_svc_config sc = { .client = a->client, .bridge = a->bridge,
					    .dns_ip = a->dns_ip, .dns_port = cfg->dns_port };

		if ((r = gt_svc_start(&sc, &a->svc, err)) < 0)
			goto fail;
	} else {
		a->dns_ip[0] = '\0';
	}
	if (gt_rsh_start(a, err) < 0) {
		gt_warn("agent: no rsh agent for MPI jobs: %s", err->msg);
		gt_err_clear(err);
	}
	if (pthread_create(&a->heartbeat, NULL, heartbeat_main, a) ||
	    pthread_create(&a->informer, NULL, informer_main, a)) {
		r = gt_err_set(err, -EAGAIN, "cannot start the agent's threads");
		goto fail;
	}
	gt_info("agent: node %s ready (runtime %s, root %s, log port %d)", a->node, a->runtime,
		a->root, a->port);
	*out = a;
	return 0;
fail:
	atomic_store(&a->stop, true);
	agent_free(a);
	return r;
}

void gt_agent_stop(struct gt_agent *a)
{
	struct pod *p, *next;

	if (!a)
		return;
	atomic_store(&a->stop, true);
	if (a->informer)
		pthread_join(a->informer, NULL);
	if (a->heartbeat)
		pthread_join(a->heartbeat, NULL);
	pthread_mutex_lock(&a->lock);
	for (p = a->pods; p; p = p->next)
		gt_pod_stop(p);
	for (p = a->pods; p; p = next) {
		next = p->next;
		gt_pod_free(p);
	}
	a->pods = NULL;
	pthread_mutex_unlock(&a->lock);
	agent_free(a);
}

int gt_agent_reset(const char *root_dir, const char *runtime, struct gt_err *err)
{
	struct gt_agent a = { 0 };
	char dir[PATH_MAX], *conf_s = NULL;
	json_t *conf = NULL;
	struct dirent *de;
	size_t len;
	DIR *d;
	int n = 0;

	(void)err;
	snprintf(dir, sizeof(dir), "%s/agent.json", root_dir);
	if (gt_read_file(dir, &conf_s, &len) == 0)
		gt_json_parse(conf_s, len, &conf, NULL);
	free(conf_s);
	a.root = (char *)root_dir;
	a.runtime = (char *)(runtime ? runtime : gt_json_str(conf, "runtime") ?: "runc");
	a.cni_bin = "/usr/lib/cni";
	a.bridge = (char *)(gt_json_str(conf, "bridge") ?: "gantry0");
	a.subnet = (char *)(gt_json_str(conf, "subnet") ?: "10.88.0.0/16");
	a.self_exe = "/proc/self/exe";
	snprintf(dir, sizeof(dir), "%s/pods", root_dir);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char pd[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(pd, sizeof(pd), "%s/%s", dir, de->d_name);
		gt_pod_cleanup_dir(&a, pd);
		n++;
	}
	if (d)
		closedir(d);
	snprintf(dir, sizeof(dir), "/sys/class/net/%s/brif", a.bridge);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] != '.') {
			/* another agent's pods still use the bridge: keep it */
			closedir(d);
			d = NULL;
			goto keep_bridge;
		}
	}
	if (d)
		closedir(d);
	{
		/* the pod bridge goes too (CNI leaves it behind) */
		char *argv[] = { "ip", "link", "del", a.bridge, NULL };
		extern char **environ;
		pid_t pid;
		int status;

		struct gt_net_config nc = { .bridge = a.bridge, .subnet = a.subnet };

		if (posix_spawnp(&pid, "ip", NULL, NULL, argv, environ) == 0)
			waitpid(pid, &status, 0);
		gt_net_masq_remove(&nc);
	}
keep_bridge:
	{
		char tag[5];

		gt_proxy_tag(a.bridge, tag);
		gt_proxy_remove(tag);
	}
	snprintf(dir, sizeof(dir), "%s/cni", root_dir);
	gt_rm_rf(dir);
	printf("removed %d pod(s) and bridge %s under %s\n", n, a.bridge, root_dir);
	json_decref(conf);
	return 0;
}
