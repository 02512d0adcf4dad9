/*
 * pods.c - one worker thread per Pod bound to the node: sandbox (network
 * namespace, CNI, /etc files), volumes, then init containers in order, then
 * the containers, with restarts per restartPolicy and crash-loop back-off,
 * probes, graceful termination, and status reports.  State that must
 * survive an agent restart lives in the pod directory (attempt directories,
 * the shim's exit files, the IP), so a new agent re-adopts running
 * containers instead of starting them again.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/env.h"
#include "agent/image.h"
#include "agent/internal.h"
#include "agent/network.h"
#include "agent/oci.h"
#include "agent/probe.h"
#include "agent/runtime.h"
#include "agent/volumes.h"
#include "base/log.h"
#include "client/client.h"

/* ---- small helpers ---- */

static void rt_of(const struct gt_agent *a, struct gt_rt *rt, char *root, size_t n)
{
	snprintf(root, n, "%s/runc", a->root);
	rt->runtime = a->runtime;
	rt->root = root;
	rt->shim_exe = a->self_exe;
}

void gt_ctr_id(const struct pod *p, const struct ctr *c, int attempt, char *out, size_t n)
{
	snprintf(out, n, "gt-%.12s-%s-%d", p->uid, c->name, attempt);
}

static void ctr_dir(const struct pod *p, const struct ctr *c, int attempt, char *out, size_t n)
{
	snprintf(out, n, "%s/containers/%s/%d", p->dir, c->name, attempt);
}

static void now_rfc3339(char out[40])
{
	gt_time_rfc3339(time(NULL), out);
}

static void net_config(const struct gt_agent *a, struct gt_net_config *nc, char *state, size_t n)
{
	snprintf(state, n, "%s/cni", a->root);
	nc->cni_bin_dir = a->cni_bin;
	nc->bridge = a->bridge;
	nc->subnet = a->subnet;
	nc->state_dir = state;
}

static int api_get(void *ctx, const char *resource, const char *ns, const char *name,
		   json_t **out, struct gt_err *err)
{
	struct gt_agent *a = ctx;
	char path[1024];

	if (!strcmp(resource, "persistentvolumes"))
		snprintf(path, sizeof(path), "/api/v1/persistentvolumes/%s", name);
	else
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s/%s", ns, resource, name);
	return gt_client_get(a->client, path, out, err);
}

static json_t *pod_snapshot(struct pod *p)
{
	json_t *o;

	pthread_mutex_lock(&p->lock);
	o = json_incref(p->obj);
	pthread_mutex_unlock(&p->lock);
	return o;
}

static void set_waiting(struct ctr *c, const char *reason, const char *msg)
{
	snprintf(c->waiting_reason, sizeof(c->waiting_reason), "%s", reason);
	snprintf(c->waiting_msg, sizeof(c->waiting_msg), "%s", msg ? msg : "");
	json_decref(c->state);
	c->state = json_pack("{s:{s:s}}", "waiting", "reason", reason);
	if (msg && *msg)
		gt_json_set_str(c->state, "waiting.message", msg);
}

/* ---- sandbox ---- */

static int sandbox_up(struct pod *p, const json_t *pod, struct gt_err *err)
{
	char path[4096], state[4096], ipfile[4096];
	struct gt_net_config nc;
	char *saved = NULL;
	size_t len;
	int r;

	if (gt_json_bool(pod, "spec.hostNetwork", false)) {
		snprintf(p->ip, sizeof(p->ip), "%s", p->a->host_ip);
	} else {
		snprintf(ipfile, sizeof(ipfile), "%s/ip", p->dir);
		if (gt_read_file(ipfile, &saved, &len) == 0 && len > 0) {
			/* re-adopted: the namespace and its address still exist */
			snprintf(p->ip, sizeof(p->ip), "%s", saved);
			free(saved);
		} else {
			json_t *ports = json_array(), *c, *pt;
			size_t i, j;

			json_array_foreach(gt_json_path(pod, "spec.containers"), i, c)
				json_array_foreach(json_object_get(c, "ports"), j, pt)
					if (json_object_get(pt, "hostPort"))
						json_array_append(ports, pt);
			snprintf(path, sizeof(path), "%s/netns", p->dir);
			net_config(p->a, &nc, state, sizeof(state));
			r = gt_netns_create(path, err);
			if (r == 0)
				r = gt_net_setup(&nc, p->uid, path, json_array_size(ports) ? ports : NULL,
						 p->ip, err);
			json_decref(ports);
			if (r < 0)
				return r;
			gt_write_file_atomic(ipfile, p->ip, strlen(p->ip), 0644);
		}
	}
	return gt_net_write_etc(p->dir, pod, p->ip, p->a->dns_ip[0] ? p->a->dns_ip : NULL, err);
}

static void sandbox_down(struct pod *p, const json_t *pod)
{
	char path[4096], state[4096];
	struct gt_net_config nc;
	struct gt_err err;

	if (pod && gt_json_bool(pod, "spec.hostNetwork", false))
		return;
	gt_err_clear(&err);
	snprintf(path, sizeof(path), "%s/netns", p->dir);
	net_config(p->a, &nc, state, sizeof(state));
	if (gt_net_teardown(&nc, p->uid, path, &err) < 0)
		gt_warn("pod %s/%s: network teardown: %s", p->ns, p->name, err.msg);
	gt_netns_destroy(path, NULL);
}

/* ---- containers ---- */

static const json_t *container_spec(const json_t *pod, const struct ctr *c)
{
	json_t *list = gt_json_path(pod, c->init ? "spec.initContainers" : "spec.containers"), *e;
	size_t i;

	json_array_foreach(list, i, e)
		if (!strcmp(gt_json_str(e, "name") ?: "", c->name))
			return e;
	return NULL;
}

/* The registry credentials of the pod's imagePullSecrets: an array of
 * parsed .dockerconfigjson / .dockercfg documents. */
static json_t *pull_secrets(struct pod *p, const json_t *refs)
{
	json_t *out = json_array(), *ref;
	size_t i;

	json_array_foreach(refs, i, ref) {
		json_t *sec = NULL, *doc = NULL, *v;
		unsigned char *dec = NULL;
		size_t len;

		if (api_get(p->a, "secrets", p->ns, gt_json_str(ref, "name") ?: "", &sec, NULL) < 0)
			continue;
		v = json_object_get(gt_json_path(sec, "data"), ".dockerconfigjson");
		if (!v)
			v = json_object_get(gt_json_path(sec, "data"), ".dockercfg");
		if (json_is_string(v) &&
		    gt_base64_decode(json_string_value(v), strlen(json_string_value(v)), &dec, &len) == 0 &&
		    gt_json_parse((const char *)dec, len, &doc, NULL) == 0)
			json_array_append_new(out, doc);
		free(dec);
		json_decref(sec);
	}
	return out;
}

/* The image's rootfs for attempt dir d: mounted overlay, or NULL for `host`. */
static int prepare_rootfs(struct pod *p, const json_t *pod, struct ctr *c, const json_t *spec,
			  const char *d,
			  char *rootfs, size_t n, json_t **image_config, struct gt_err *err)
{
	const char *image = gt_json_str(spec, "image") ?: "";
	const char *policy = gt_json_str(spec, "imagePullPolicy") ?: "IfNotPresent";
	struct gt_image img = { 0 };
	char upper[4096], work[4096];
	int r;

	snprintf(c->image, sizeof(c->image), "%s", image);
	*image_config = NULL;
	if (!strcmp(image, "host")) {
		snprintf(c->image_id, sizeof(c->image_id), "host");
		rootfs[0] = '\0';
		return 0;
	}
	if (!strcmp(policy, "Always") || !gt_image_present(p->a->images, image)) {
		if (!strcmp(policy, "Never"))
			return gt_err_set(err, -ENOENT,
					  "Container image \"%s\" is not present with pull policy of Never",
					  image);
		json_t *auths = pull_secrets(p, gt_json_path(pod, "spec.imagePullSecrets"));

		r = gt_image_pull(p->a->images, image, json_array_size(auths) ? auths : NULL, NULL, err);
		json_decref(auths);
		if (r < 0 && !gt_image_present(p->a->images, image))
			return r;
	}
	if ((r = gt_image_get(p->a->images, image, &img, err)) < 0)
		return r;
	{
		/* imageID as the kubelet reports it: <repository>@<digest> */
		const char *ref = img.ref ? img.ref : image, *at = strchr(ref, '@');
		const char *colon = strrchr(ref, ':'), *slash = strrchr(ref, '/');
		size_t repo = at ? (size_t)(at - ref) :
			      colon && (!slash || colon > slash) ? (size_t)(colon - ref) : strlen(ref);

		snprintf(c->image_id, sizeof(c->image_id), "%.*s@%s", (int)repo, ref,
			 img.digest ? img.digest : img.id ? img.id : "");
	}
	snprintf(rootfs, n, "%s/rootfs", d);
	snprintf(upper, sizeof(upper), "%s/upper", d);
	snprintf(work, sizeof(work), "%s/work", d);
	gt_mkdir_p(rootfs, 0755);
	gt_mkdir_p(upper, 0755);
	gt_mkdir_p(work, 0755);
	r = gt_image_mount(&img, upper, work, rootfs, err);
	if (r == 0 && img.config)
		*image_config = json_incref(img.config);
	gt_image_release(&img);
	return r;
}

static int start_container(struct pod *p, struct ctr *c, const json_t *pod, struct gt_err *err)
{
	const json_t *spec = container_spec(pod, c);
	char d[4096], bundle[4096], rootfs[4096], cfgpath[4096], id[256], logp[4096], exitp[4096],
		pidp[4096], cg[512], scratch[4096], hosts[4096], resolv[4096], term[4096], rroot[4096];
	json_t *env = NULL, *mounts = NULL, *image_config = NULL, *config = NULL, *devices = NULL;
	struct gt_oci_input in = { 0 };
	struct gt_rt rt;
	int r, attempt = c->started ? c->attempt + 1 : c->attempt;

	if (!spec)
		return gt_err_set(err, -ENOENT, "container %s is not in the pod spec", c->name);
	ctr_dir(p, c, attempt, d, sizeof(d));
	gt_mkdir_p(d, 0755);
	if ((r = prepare_rootfs(p, pod, c, spec, d, rootfs, sizeof(rootfs), &image_config, err)) < 0) {
		set_waiting(c, r == -ENOENT && strstr(err->msg, "Never") ? "ErrImageNeverPull" :
			    "ErrImagePull", err->msg);
		return r;
	}
	{
		/* fieldRefs see the addresses this agent just gave the pod, which
		 * the API's copy may not show yet */
		json_t *view = json_deep_copy(pod);

		gt_json_set_str(view, "status.podIP", p->ip);
		gt_json_set(view, "status.podIPs", json_pack("[{s:s}]", "ip", p->ip));
		gt_json_set_str(view, "status.hostIP", p->a->host_ip);
		gt_json_set(view, "status.hostIPs", json_pack("[{s:s}]", "ip", p->a->host_ip));
		r = gt_env_build(view, spec, api_get, p->a, &env, err);
		json_decref(view);
	}
	if (r < 0 ||
	    (r = gt_volumes_container_mounts(pod, spec, p->vol_paths, &mounts, err)) < 0) {
		set_waiting(c, "CreateContainerConfigError", err->msg);
		goto out;
	}
	if (!rootfs[0]) {
		/* The host view must not show the agent's state (other pods'
		 * secrets, volumes): hide it under an empty read-only tmpfs. */
		json_array_insert_new(mounts, 0, json_pack("{s:s,s:s,s:s,s:[s,s]}", "destination",
							   p->a->root, "source", "tmpfs", "type", "tmpfs",
							   "options", "ro", "size=4k"));
	}
	snprintf(hosts, sizeof(hosts), "%s/etc-hosts", p->dir);
	snprintf(resolv, sizeof(resolv), "%s/resolv.conf", p->dir);
	snprintf(term, sizeof(term), "%s/termination-log", d);
	close(open(term, O_CREAT | O_WRONLY | O_CLOEXEC, 0666));
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:[s,s]}", "destination", "/etc/hosts",
						"source", hosts, "type", "bind", "options", "rbind", "rprivate"));
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:[s,s]}", "destination",
						"/etc/resolv.conf", "source", resolv, "type", "bind",
						"options", "rbind", "rprivate"));
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:[s,s]}", "destination",
						gt_json_str(spec, "terminationMessagePath") ?: "/dev/termination-log",
						"source", term, "type", "bind", "options", "rbind", "rprivate"));
	gt_rsh_mounts(p->a, pod, mounts);
	{
		int want = gt_gpu_container_request(spec), first = 0;

		/* app containers split the pod's GPUs in order; init containers
		 * run alone and may use them from the first */
		for (size_t k = 0; !c->init && k < p->nctrs && &p->ctrs[k] != c; k++)
			if (!p->ctrs[k].init)
				first += gt_gpu_container_request(container_spec(pod, &p->ctrs[k]));
		if (want > 0) {
			devices = json_array();
			if ((r = gt_gpu_container(&p->a->gpus, p->uid, first, want, rootfs[0] != '\0',
						  devices, env, mounts, err)) < 0) {
				set_waiting(c, "CreateContainerConfigError", err->msg);
				goto out;
			}
		}
	}
	/* `kubectl attach -i` writes into "stdin" (the shim makes it stdin, or
	 * copies it into the terminal); window sizes go through "resize" */
	for (int k = 0; k < 2; k++) {
		char fifo[4200];

		if (!gt_json_bool(spec, k ? "tty" : "stdin", false))
			continue;
		snprintf(fifo, sizeof(fifo), "%s/%s", d, k ? "resize" : "stdin");
		if (mkfifo(fifo, 0600) < 0 && errno != EEXIST)
			gt_warn("pod %s/%s: cannot create %s: %s", p->ns, p->name, fifo, strerror(errno));
	}
	snprintf(cg, sizeof(cg), "/gantry/pod%s/%s-%d", p->uid, c->name, attempt);
	snprintf(scratch, sizeof(scratch), "%s/scratch", d);
	gt_mkdir_p(scratch, 0755);
	in.pod = pod;
	in.container = spec;
	in.init = c->init;
	in.rootfs = rootfs[0] ? rootfs : NULL;
	{
		static char nspath[4096];
		char tmp[4096];

		snprintf(tmp, sizeof(tmp), "%s/netns", p->dir);
		in.netns_path = gt_json_bool(pod, "spec.hostNetwork", false) ? NULL : tmp;
		(void)nspath;
		in.hostname = gt_json_str(pod, "spec.hostname") ?: p->name;
		in.env = env;
		in.mounts = mounts;
		in.image_config = image_config;
		in.cgroups_path = cg;
		in.devices = devices;
		in.scratch_dir = scratch;
		r = gt_oci_config(&in, &config, err);
	}
	if (r < 0) {
		set_waiting(c, "CreateContainerConfigError", err->msg);
		goto out;
	}
	snprintf(bundle, sizeof(bundle), "%s/bundle", d);
	gt_mkdir_p(bundle, 0755);
	snprintf(cfgpath, sizeof(cfgpath), "%s/config.json", bundle);
	{
		size_t len;
		char *s = gt_json_dump(config, &len);

		r = gt_write_file_atomic(cfgpath, s, len, 0644);
		free(s);
		if (r < 0) {
			gt_err_set(err, r, "cannot write %s", cfgpath);
			goto out;
		}
	}
	gt_ctr_id(p, c, attempt, id, sizeof(id));
	snprintf(logp, sizeof(logp), "%s/log", d);
	snprintf(exitp, sizeof(exitp), "%s/exit", d);
	snprintf(pidp, sizeof(pidp), "%s/pid", d);
	rt_of(p->a, &rt, rroot, sizeof(rroot));
	/* an attempt counts from here, even one runc refuses (back-off) */
	c->started_ms = gt_now_ms();
	now_rfc3339(c->started_at);
	c->waiting_reason[0] = '\0'; /* a new attempt ends the previous wait */
	{
		struct gt_rt_start s = { .id = id, .bundle = bundle, .log_path = logp,
					 .exit_path = exitp, .pid_path = pidp,
					 .log_max_bytes = 10 << 20, .log_max_files = 2 };

		r = gt_rt_start(&rt, &s, err);
	}
	c->attempt = attempt;
	c->started = true;
	if (r < 0) {
		/* runc refused (e.g. no such executable): recorded as an exit */
		c->running = false;
		goto out;
	}
	c->running = true;
	c->ready = false;
	{
		char f[4096];

		snprintf(f, sizeof(f), "%s/image-id", d);
		gt_write_file_atomic(f, c->image_id, strlen(c->image_id), 0644);
		snprintf(f, sizeof(f), "%s/started-at", d);
		gt_write_file_atomic(f, c->started_at, strlen(c->started_at), 0644);
	}
	c->startup_ok = !json_object_get(spec, "startupProbe");
	c->live_fail = c->ready_fail = c->ready_ok = c->startup_fail = 0;
	memset(c->next_probe_ms, 0, sizeof(c->next_probe_ms));
	json_decref(c->state);
	c->state = json_pack("{s:{s:s}}", "running", "startedAt", c->started_at);
	c->waiting_reason[0] = '\0';
out:
	json_decref(env);
	json_decref(mounts);
	json_decref(image_config);
	json_decref(config);
	json_decref(devices);
	return r;
}

/* Reads the state of the current attempt; updates c->running / c->state. */
static void observe(struct pod *p, struct ctr *c)
{
	char d[4096], id[256], exitp[4096], rroot[4096];
	struct gt_rt_state st;
	struct gt_rt rt;
	struct gt_err err;

	if (!c->started)
		return;
	ctr_dir(p, c, c->attempt, d, sizeof(d));
	gt_ctr_id(p, c, c->attempt, id, sizeof(id));
	snprintf(exitp, sizeof(exitp), "%s/exit", d);
	rt_of(p->a, &rt, rroot, sizeof(rroot));
	gt_err_clear(&err);
	memset(&st, 0, sizeof(st));
	if (gt_rt_state(&rt, id, exitp, &st, &err) < 0)
		return;
	if (st.status == GT_RT_RUNNING || st.status == GT_RT_CREATED) {
		if (!c->running) {
			/* re-adopted: it was started (and past its startup probe)
			 * by an earlier agent; its start time and image come from
			 * the shim and the attempt directory */
			char f[4096], *v = NULL;
			size_t len;

			c->running = true;
			c->startup_ok = true;
			c->started_ms = gt_now_ms();
			snprintf(f, sizeof(f), "%s/started-at", d);
			if (gt_read_file(f, &v, &len) == 0 && len)
				snprintf(c->started_at, sizeof(c->started_at), "%s", v);
			else if (st.started_at[0])
				snprintf(c->started_at, sizeof(c->started_at), "%s", st.started_at);
			free(v);
			v = NULL;
			if (!c->started_at[0])
				now_rfc3339(c->started_at);
			snprintf(f, sizeof(f), "%s/image-id", d);
			if (!c->image_id[0] && gt_read_file(f, &v, &len) == 0)
				snprintf(c->image_id, sizeof(c->image_id), "%s", v);
			free(v);
			json_decref(c->state);
			c->state = json_pack("{s:{s:s}}", "running", "startedAt", c->started_at);
		}
		return;
	}
	if (st.status == GT_RT_STOPPED) {
		char cid[300];
		json_t *term;

		snprintf(cid, sizeof(cid), "runc://%s", id);
		const char *sa = st.started_at[0] ? st.started_at : c->started_at;
		const char *fa = st.finished_at[0] ? st.finished_at : sa;
		char now[40];

		if (!sa[0]) {
			now_rfc3339(now);
			sa = fa = now;
		}
		term = json_pack("{s:i,s:s,s:s,s:s,s:s}", "exitCode", st.exit_code, "reason",
				 st.reason[0] ? st.reason : (st.exit_code ? "Error" : "Completed"),
				 "startedAt", sa, "finishedAt", fa, "containerID", cid);
		if (st.message[0])
			json_object_set_new(term, "message", json_string(st.message));
		else {
			char tl[4096], *msg = NULL;
			size_t len;

			snprintf(tl, sizeof(tl), "%s/termination-log", d);
			if (gt_read_file(tl, &msg, &len) == 0 && len)
				json_object_set_new(term, "message", json_stringn(msg, len > 4096 ? 4096 : len));
			free(msg);
		}
		c->running = false;
		if (!strcmp(c->waiting_reason, "CrashLoopBackOff")) {
			/* backing off after this very exit: keep showing the wait,
			 * with the exit as lastState */
			json_decref(c->last);
			c->last = json_pack("{s:o}", "terminated", term);
			c->ready = false;
			return;
		}
		json_decref(c->state);
		c->state = json_pack("{s:o}", "terminated", term);
		c->ready = false;
		if (c->init && st.exit_code == 0)
			c->done = true;
		c->image_id[0] = c->image_id[0] ? c->image_id[0] : '\0';
		(void)err;
	}
}

static int64_t backoff_base(const struct pod *p)
{
	return p->a->cfg.backoff_base_ms > 0 ? p->a->cfg.backoff_base_ms : 10000;
}

static int64_t backoff_max(const struct pod *p)
{
	return p->a->cfg.backoff_max_ms > 0 ? p->a->cfg.backoff_max_ms : 300000;
}

/* Decides whether an exited container restarts; sets back-off. */
static bool should_restart(struct pod *p, struct ctr *c, const json_t *pod)
{
	const char *pol = gt_json_str(pod, "spec.restartPolicy") ?: "Always";
	int64_t code = -1;

	gt_json_int(c->state, "terminated.exitCode", &code);
	if (!strcmp(pol, "Never"))
		return false;
	if (!strcmp(pol, "OnFailure") && code == 0)
		return false;
	if (c->init && code == 0)
		return false;
	(void)p;
	return true;
}

static void schedule_restart(struct pod *p, struct ctr *c)
{
	int64_t ran = gt_now_ms() - c->started_ms;

	/* A container that ran 10 minutes without trouble resets its back-off. */
	if (c->backoff_ms == 0 || ran > 600000)
		c->backoff_ms = backoff_base(p);
	else if (c->backoff_ms < backoff_max(p))
		c->backoff_ms = c->backoff_ms * 2 > backoff_max(p) ? backoff_max(p) : c->backoff_ms * 2;
	c->retry_at_ms = gt_now_ms() + c->backoff_ms;
	json_decref(c->last);
	c->last = json_incref(c->state);
}

static void kill_container(struct pod *p, struct ctr *c, int sig)
{
	char id[256], rroot[4096];
	struct gt_rt rt;

	gt_ctr_id(p, c, c->attempt, id, sizeof(id));
	rt_of(p->a, &rt, rroot, sizeof(rroot));
	gt_rt_kill(&rt, id, sig, NULL);
}

static int exec_in(void *ctx, char *const argv[], int timeout_s, int *exit_code,
		   struct gt_buf *out)
{
	void **pc = ctx;
	struct pod *p = pc[0];
	struct ctr *c = pc[1];
	char id[256], rroot[4096];
	struct gt_rt rt;

	gt_ctr_id(p, c, c->attempt, id, sizeof(id));
	rt_of(p->a, &rt, rroot, sizeof(rroot));
	return gt_rt_exec(&rt, id, argv, timeout_s, exit_code, out, NULL);
}

/* Runs due probes of a running container. */
static void probe(struct pod *p, struct ctr *c, const json_t *spec)
{
	static const char *names[3] = { "startupProbe", "livenessProbe", "readinessProbe" };
	int64_t now = gt_now_ms();

	for (int k = 0; k < 3; k++) {
		json_t *pr = json_object_get(spec, names[k]);
		int64_t delay = 0, period = 10, fail_th = 3, ok_th = 1;
		struct gt_probe_result res;
		void *ctx[2] = { p, c };

		if (!pr) {
			if (k == 2)
				c->ready = c->startup_ok;
			continue;
		}
		if (k != 0 && !c->startup_ok)
			continue;
		if (k == 0 && c->startup_ok)
			continue;
		gt_json_int(pr, "initialDelaySeconds", &delay);
		gt_json_int(pr, "periodSeconds", &period);
		gt_json_int(pr, "failureThreshold", &fail_th);
		gt_json_int(pr, "successThreshold", &ok_th);
		if (now < c->started_ms + delay * 1000 || now < c->next_probe_ms[k])
			continue;
		c->next_probe_ms[k] = now + (period > 0 ? period : 10) * 1000;
		memset(&res, 0, sizeof(res));
		gt_probe_run(pr, p->ip, exec_in, ctx, &res);
		if (k == 0) {
			if (res.ok)
				c->startup_ok = true;
			else if (++c->startup_fail >= fail_th) {
				gt_info("pod %s/%s: container %s failed its startup probe: %s", p->ns,
					p->name, c->name, res.message);
				kill_container(p, c, SIGKILL);
			}
		} else if (k == 1) {
			if (res.ok) {
				c->live_fail = 0;
			} else if (++c->live_fail >= fail_th) {
				gt_info("pod %s/%s: container %s failed liveness probe, will be restarted: %s",
					p->ns, p->name, c->name, res.message);
				c->live_fail = 0;
				kill_container(p, c, SIGKILL);
			}
		} else {
			if (res.ok) {
				c->ready_fail = 0;
				if (++c->ready_ok >= ok_th)
					c->ready = true;
			} else {
				c->ready_ok = 0;
				if (++c->ready_fail >= fail_th)
					c->ready = false;
			}
		}
	}
}

/* ---- the worker ---- */

static void init_ctrs(struct pod *p, const json_t *pod)
{
	const char *lists[2] = { "spec.initContainers", "spec.containers" };
	size_t n = json_array_size(gt_json_path(pod, lists[0])) +
		   json_array_size(gt_json_path(pod, lists[1])), k = 0;

	p->ctrs = xcalloc(n ? n : 1, sizeof(*p->ctrs));
	for (int l = 0; l < 2; l++) {
		json_t *e;
		size_t i;

		json_array_foreach(gt_json_path(pod, lists[l]), i, e) {
			struct ctr *c = &p->ctrs[k++];
			char base[4096];
			DIR *dir;
			struct dirent *de;

			snprintf(c->name, sizeof(c->name), "%s", gt_json_str(e, "name") ?: "");
			snprintf(c->image, sizeof(c->image), "%s", gt_json_str(e, "image") ?: "");
			c->init = l == 0;
			set_waiting(c, !c->init && json_array_size(gt_json_path(pod, lists[0])) ?
				    "PodInitializing" : "ContainerCreating", NULL);
			/* Re-adoption: the highest attempt directory is the current one. */
			snprintf(base, sizeof(base), "%s/containers/%s", p->dir, c->name);
			dir = opendir(base);
			while (dir && (de = readdir(dir))) {
				int64_t v;

				if (gt_parse_i64(de->d_name, &v) == 0 && v >= 0) {
					if (!c->started || v > c->attempt)
						c->attempt = (int)v;
					c->started = true;
				}
			}
			if (dir)
				closedir(dir);
			c->restarts = c->started ? c->attempt : 0;
		}
	}
	p->nctrs = k;
}

static const char *ready_of(const json_t *status)
{
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(status, "conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", "Ready"))
			return gt_json_str(c, "status");
	return NULL;
}

/*
 * Whether the API's Ready condition disagrees with ours: the node
 * lifecycle controller marks pods not Ready while the agent is away, and
 * an agent that comes back must say again that they are (as the kubelet's
 * status manager compares with the API server's copy).
 */
static bool api_ready_differs(struct pod *p, const json_t *st)
{
	const char *mine = ready_of(st), *theirs;
	json_t *obj;
	bool differs;

	pthread_mutex_lock(&p->lock);
	obj = json_incref(p->obj);
	pthread_mutex_unlock(&p->lock);
	theirs = ready_of(json_object_get(obj, "status"));
	differs = mine && theirs && strcmp(mine, theirs);
	json_decref(obj);
	return differs;
}

static void report(struct pod *p)
{
	json_t *st = gt_pod_status(p), *body;
	char path[1024];
	struct gt_err err;

	if (p->last_status && gt_json_equal(st, p->last_status) && !api_ready_differs(p, st)) {
		json_decref(st);
		return;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", p->ns, p->name);
	/* the uid, as the kubelet sends it: the patch fails (422) when the name
	 * now belongs to a newer pod, which must not get this one's status */
	body = json_pack("{s:{s:s},s:o}", "metadata", "uid", p->uid, "status",
			 json_deep_copy(st)); /* st stays as reported */
	/* a merge patch keeps what it does not mention: clear what went away */
	{
		json_t *bst = json_object_get(body, "status");
		static const char *optional[] = { "reason", "message", "podIP", "podIPs",
						   "initContainerStatuses" };

		for (size_t i = 0; i < GT_ARRAY_SIZE(optional); i++)
			if (!json_object_get(bst, optional[i]))
				json_object_set_new(bst, optional[i], json_null());
	}
	gt_err_clear(&err);
	if (gt_client_patch(p->a->client, path, "application/merge-patch+json", body, NULL, &err) < 0) {
		if (err.code == -EBADMSG && strstr(err.msg, "metadata.uid"))
			gt_debug("pod %s/%s (uid %s): not reported: the name is a newer pod's now",
				 p->ns, p->name, p->uid);
		else if (err.code != -ENOENT)
			gt_warn("pod %s/%s: status update: %s", p->ns, p->name, err.msg);
		json_decref(st);
	} else {
		json_decref(p->last_status);
		p->last_status = st;
	}
	json_decref(body);
}

static bool all_stopped(struct pod *p)
{
	for (size_t i = 0; i < p->nctrs; i++) {
		observe(p, &p->ctrs[i]);
		if (p->ctrs[i].running)
			return false;
	}
	return true;
}

/*
 * Stops every container: preStop, SIGTERM, grace, SIGKILL.  Returns false
 * when the agent itself is stopping during the grace period: the
 * containers are left as they are (the next agent start, or `gantry node
 * reset`, finishes the job), so shutting down never waits out a grace.
 */
static bool stop_all(struct pod *p, const json_t *pod, int64_t grace_s)
{
	int64_t deadline;

	for (size_t i = 0; i < p->nctrs; i++) {
		struct ctr *c = &p->ctrs[i];
		const json_t *spec = container_spec(pod, c);
		json_t *pre = gt_json_path(spec, "lifecycle.preStop.exec.command");

		observe(p, c);
		if (!c->running)
			continue;
		if (json_array_size(pre)) {
			char *argv[64];
			size_t n = 0, k;
			json_t *v;
			int code;
			void *ctx[2] = { p, c };

			json_array_foreach(pre, k, v)
				if (n < 63 && json_is_string(v))
					argv[n++] = (char *)json_string_value(v);
			argv[n] = NULL;
			exec_in(ctx, argv, (int)(grace_s > 0 ? grace_s : 1), &code, NULL);
		}
		kill_container(p, c, SIGTERM);
	}
	deadline = gt_now_ms() + grace_s * 1000;
	while (gt_now_ms() < deadline && !all_stopped(p)) {
		struct timespec ts = { 0, 100 * 1000000L };
		bool gone;

		if (atomic_load(&p->a->stop))
			return false;
		pthread_mutex_lock(&p->lock);
		gone = p->gone;
		pthread_mutex_unlock(&p->lock);
		if (gone)
			break; /* force-deleted during its grace period: no more waiting */
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < p->nctrs; i++)
		if (p->ctrs[i].running)
			kill_container(p, &p->ctrs[i], SIGKILL);
	for (int k = 0; k < 50 && !all_stopped(p); k++) {
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
	}
	return true;
}

/* Removes runc state, rootfs mounts, volumes, network and the directory. */
static void teardown(struct pod *p, const json_t *pod)
{
	char rroot[4096], id[256], d[4096];
	struct gt_rt rt;

	rt_of(p->a, &rt, rroot, sizeof(rroot));
	for (size_t i = 0; i < p->nctrs; i++) {
		struct ctr *c = &p->ctrs[i];

		for (int at = 0; c->started && at <= c->attempt; at++) {
			gt_ctr_id(p, c, at, id, sizeof(id));
			gt_rt_delete(&rt, id, NULL);
			ctr_dir(p, c, at, d, sizeof(d));
			strncat(d, "/rootfs", sizeof(d) - strlen(d) - 1);
			gt_image_unmount(d, NULL);
		}
	}
	gt_volumes_cleanup(p->dir, NULL);
	sandbox_down(p, pod);
	gt_gpu_release(&p->a->gpus, p->uid);
	gt_pod_cleanup_dir(p->a, p->dir);
}

static void finish_deletion(struct pod *p)
{
	char path[1024];
	json_t *body = json_pack("{s:i,s:{s:s}}", "gracePeriodSeconds", 0, "preconditions", "uid", p->uid);
	struct gt_err err;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", p->ns, p->name);
	gt_err_clear(&err);
	if (gt_client_delete(p->a->client, path, body, NULL, &err) < 0 && err.code != -ENOENT &&
	    err.code != -ESTALE)
		gt_warn("pod %s/%s: final delete: %s", p->ns, p->name, err.msg);
	json_decref(body);
}

static bool pod_finished(struct pod *p, const json_t *pod)
{
	const char *pol = gt_json_str(pod, "spec.restartPolicy") ?: "Always";

	if (!strcmp(pol, "Always"))
		return false;
	for (size_t i = 0; i < p->nctrs; i++) {
		struct ctr *c = &p->ctrs[i];

		if (c->init)
			continue;
		if (!c->started || c->running || should_restart(p, c, pod))
			return false;
	}
	return true;
}

static void step(struct pod *p, const json_t *pod)
{
	struct gt_err err;
	bool init_done = true;

	gt_err_clear(&err);
	if (!p->sandbox_ready) {
		if (sandbox_up(p, pod, &err) < 0) {
			snprintf(p->pod_reason, sizeof(p->pod_reason), "%s", "SandboxFailed");
			snprintf(p->pod_msg, sizeof(p->pod_msg), "%s", err.msg);
			gt_warn("pod %s/%s: sandbox: %s", p->ns, p->name, err.msg);
			return;
		}
		p->sandbox_ready = true;
		p->pod_reason[0] = p->pod_msg[0] = '\0';
	}
	if (!p->volumes_ready) {
		struct gt_vol_ctx vc = { .pod_dir = p->dir, .get = api_get, .get_ctx = p->a };
		char pv[4096];

		snprintf(pv, sizeof(pv), "%s/pv", p->a->root);
		vc.pv_root = pv;
		json_decref(p->vol_paths);
		p->vol_paths = NULL;
		if (gt_volumes_prepare(&vc, pod, &p->vol_paths, &err) < 0) {
			for (size_t i = 0; i < p->nctrs; i++)
				if (!p->ctrs[i].started)
					set_waiting(&p->ctrs[i], "ContainerCreating", err.msg);
			snprintf(p->pod_reason, sizeof(p->pod_reason), "%s", "FailedMount");
			snprintf(p->pod_msg, sizeof(p->pod_msg), "%s", err.msg);
			return;
		}
		p->volumes_ready = true;
		p->pod_reason[0] = p->pod_msg[0] = '\0';
	}
	if (!p->gpus_ready) {
		int n = gt_gpu_pod_request(pod);
		char file[4096], held[256];

		if (n > 0 && gt_gpu_allocate(&p->a->gpus, p->uid, n, &err) < 0) {
			/* GPUs of a pod deleted a moment ago are freed when its
			 * worker has torn it down: give that a few seconds */
			if (!p->gpu_wait_until)
				p->gpu_wait_until = gt_now_ms() + 5000;
			if (gt_now_ms() < p->gpu_wait_until)
				return;
			/* the kubelet rejects such a pod at admission: Failed for good */
			p->rejected = true;
			snprintf(p->pod_reason, sizeof(p->pod_reason), "%s", "UnexpectedAdmissionError");
			snprintf(p->pod_msg, sizeof(p->pod_msg), "%s", err.msg);
			gt_warn("pod %s/%s: %s", p->ns, p->name, err.msg);
			return;
		}
		gt_gpu_held(&p->a->gpus, p->uid, held, sizeof(held));
		snprintf(file, sizeof(file), "%s/gpus", p->dir);
		if (held[0])
			gt_write_file_atomic(file, held, strlen(held), 0644);
		p->gpus_ready = true;
	}
	for (size_t i = 0; i < p->nctrs; i++) {
		struct ctr *c = &p->ctrs[i];
		const json_t *spec;

		if (c->init && (c->done || !init_done))
			continue;
		if (!c->init && !init_done)
			break;
		spec = container_spec(pod, c);
		observe(p, c);
		if (c->running) {
			probe(p, c, spec);
			if (c->init)
				init_done = false;
			continue;
		}
		if (c->init && c->done)
			continue;
		if (c->started && json_object_get(c->state, "terminated")) {
			if (!should_restart(p, c, pod)) {
				if (c->init)
					init_done = false; /* failed init with Never: pod fails */
				continue;
			}
			if (c->retry_at_ms == 0 || c->retry_at_ms < c->started_ms)
				schedule_restart(p, c);
			if (gt_now_ms() < c->retry_at_ms) {
				char msg[256];

				snprintf(msg, sizeof(msg), "back-off %llds restarting failed container=%s pod=%s_%s(%s)",
					 (long long)(c->backoff_ms / 1000), c->name, p->name, p->ns, p->uid);
				c->waiting_reason[0] = '\0';
				json_decref(c->last);
				c->last = json_incref(c->state);
				set_waiting(c, "CrashLoopBackOff", msg);
				if (c->init)
					init_done = false;
				continue;
			}
			c->restarts++;
		} else if (c->started && json_object_get(c->state, "waiting") &&
			   !strcmp(c->waiting_reason, "CrashLoopBackOff")) {
			if (gt_now_ms() < c->retry_at_ms) {
				if (c->init)
					init_done = false;
				continue;
			}
			c->restarts++;
		}
		if (!c->started && c->retry_at_ms > gt_now_ms()) {
			/* a failed pull waits out its back-off */
			if (!strcmp(c->waiting_reason, "ErrImagePull") ||
			    !strcmp(c->waiting_reason, "ImagePullBackOff")) {
				char msg[600];

				snprintf(msg, sizeof(msg), "Back-off pulling image \"%s\"",
					 gt_json_str(spec, "image") ?: "");
				set_waiting(c, "ImagePullBackOff", msg);
			}
			if (c->init)
				init_done = false;
			continue;
		}
		gt_err_clear(&err);
		if (start_container(p, c, pod, &err) < 0) {
			if (!c->waiting_reason[0] || !strcmp(c->waiting_reason, "ContainerCreating"))
				set_waiting(c, "RunContainerError", err.msg);
			gt_info("pod %s/%s: container %s: %s", p->ns, p->name, c->name, err.msg);
			if (c->started)
				observe(p, c);
			if (!strncmp(c->waiting_reason, "ErrImage", 8)) {
				c->retry_at_ms = gt_now_ms() + (c->backoff_ms = c->backoff_ms ?
					(c->backoff_ms * 2 > backoff_max(p) ? backoff_max(p) : c->backoff_ms * 2) :
					backoff_base(p));
			}
		}
		if (c->init)
			init_done = false;
	}
}

static void *worker(void *arg)
{
	struct pod *p = arg;
	json_t *pod = pod_snapshot(p);
	char path[4096];
	int64_t last_refresh = gt_now_ms();

	init_ctrs(p, pod);
	gt_mkdir_p(p->dir, 0755);
	snprintf(path, sizeof(path), "%s/pod.json", p->dir);
	{
		size_t len;
		char *s = gt_json_dump(pod, &len);

		gt_write_file_atomic(path, s, len, 0644);
		free(s);
	}
	if (!p->start_time[0])
		now_rfc3339(p->start_time);
	{
		/* re-adopted pods keep the GPUs they had */
		char file[4096], *held = NULL;
		size_t len;

		snprintf(file, sizeof(file), "%s/gpus", p->dir);
		if (gt_read_file(file, &held, &len) == 0) {
			for (char *t = held; t && *t;) {
				char *end;
				long v = strtol(t, &end, 10);

				if (end == t)
					break;
				gt_gpu_claim(&p->a->gpus, p->uid, (int)v);
				t = *end == ',' ? end + 1 : end;
			}
		}
		free(held);
	}
	json_decref(pod);
	for (;;) {
		bool stop, gone, deleting;

		pthread_mutex_lock(&p->lock);
		if (!p->wake && !p->stop) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 500 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		}
		p->wake = false;
		stop = p->stop;
		gone = p->gone;
		pod = json_incref(p->obj);
		pthread_mutex_unlock(&p->lock);
		if (stop) {
			json_decref(pod);
			break;
		}
		deleting = gone || gt_json_path(pod, "metadata.deletionTimestamp");
		if (deleting) {
			int64_t grace = 30;

			if (gt_json_int(pod, "metadata.deletionGracePeriodSeconds", &grace) < 0)
				gt_json_int(pod, "spec.terminationGracePeriodSeconds", &grace);
			if (!stop_all(p, pod, gone ? 0 : grace)) {
				/* the agent is stopping: its next start finishes this */
				json_decref(pod);
				atomic_store(&p->finished, true);
				break;
			}
			if (!gone)
				report(p);
			teardown(p, pod);
			if (!gone)
				finish_deletion(p);
			json_decref(pod);
			atomic_store(&p->finished, true); /* the agent reaps us */
			break;
		}
		if (p->rejected)
			; /* Failed at admission: nothing runs */
		else if (!pod_finished(p, pod))
			step(p, pod);
		else if (p->gpus_ready) {
			/* a finished pod's GPUs are free for others (the kubelet's
			 * device manager reclaims devices of pods no longer active) */
			gt_gpu_release(&p->a->gpus, p->uid);
			p->gpus_ready = false;
		}
		if (p->volumes_ready && gt_now_ms() - last_refresh > 2000) {
			struct gt_vol_ctx vc = { .pod_dir = p->dir, .get = api_get, .get_ctx = p->a };
			char pv[4096];

			/* configMap and secret volumes follow their sources */
			snprintf(pv, sizeof(pv), "%s/pv", p->a->root);
			vc.pv_root = pv;
			gt_volumes_refresh(&vc, pod, NULL);
			last_refresh = gt_now_ms();
		}
		else
			for (size_t i = 0; i < p->nctrs; i++)
				observe(p, &p->ctrs[i]);
		report(p);
		json_decref(pod);
	}
	return NULL;
}

struct pod *gt_pod_new(struct gt_agent *a, const json_t *obj)
{
	struct pod *p = xcalloc(1, sizeof(*p));

	p->a = a;
	snprintf(p->uid, sizeof(p->uid), "%s", gt_json_str(obj, "metadata.uid") ?: "");
	snprintf(p->ns, sizeof(p->ns), "%s", gt_json_str(obj, "metadata.namespace") ?: "");
	snprintf(p->name, sizeof(p->name), "%s", gt_json_str(obj, "metadata.name") ?: "");
	snprintf(p->dir, sizeof(p->dir), "%s/pods/%s", a->root, p->uid);
	p->obj = json_deep_copy(obj);
	p->wake = true; /* start at once, not after the first poll interval */
	{
		const char *st = gt_json_str(obj, "status.startTime");

		if (st)
			snprintf(p->start_time, sizeof(p->start_time), "%s", st);
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thr, NULL, worker, p)) {
		gt_error("pod %s/%s: cannot start a worker thread", p->ns, p->name);
		p->thr = 0;
	}
	return p;
}

void gt_pod_update(struct pod *p, const json_t *obj)
{
	pthread_mutex_lock(&p->lock);
	json_decref(p->obj);
	p->obj = json_deep_copy(obj);
	p->wake = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void gt_pod_gone(struct pod *p)
{
	pthread_mutex_lock(&p->lock);
	p->gone = true;
	p->wake = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void gt_pod_stop(struct pod *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void gt_pod_free(struct pod *p)
{
	if (!p)
		return;
	if (p->thr)
		pthread_join(p->thr, NULL);
	for (size_t i = 0; i < p->nctrs; i++) {
		json_decref(p->ctrs[i].state);
		json_decref(p->ctrs[i].last);
	}
	free(p->ctrs);
	json_decref(p->obj);
	json_decref(p->vol_paths);
	json_decref(p->last_status);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
