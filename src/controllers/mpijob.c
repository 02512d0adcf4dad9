/*
 * mpijob.c - the MPIJob controller (kubeflow.org/v2beta1, mpi-operator v2
 * semantics) on the training-job engine (trainjob.c: gang, whole-gang
 * restarts, checkpoints, progress, conditions, runPolicy):
 *
 *   - workers "<job>-worker-<i>" with hostname "<job>-worker-<i>" and
 *     subdomain "<job>"; one headless Service "<job>" selecting all the
 *     job's pods (not-ready addresses published), so
 *     "<job>-worker-0.<job>.<ns>.svc" resolves through the cluster DNS;
 *   - a ConfigMap "<job>-config": "hostfile" (OpenMPI: "<fqdn> slots=N";
 *     Intel/MPICH: "<fqdn>:N") and "discover_hosts.sh" (the running
 *     workers), mounted at /etc/mpi in the launcher;
 *   - the launcher "<job>-launcher", created at once (AtStartup) or when
 *     every worker is Ready (WaitForWorkersReady), with mpi-operator's
 *     environment (OMPI_MCA_orte_default_hostfile, ..._keep_fqdn_hostnames,
 *     ..._set_default_slots, OMPI_MCA_plm_rsh_args, K_MPI_JOB_ROLE; the
 *     Intel/MPICH Hydra equivalents);
 *   - workers reachable without sshd: the rsh agent of every MPI
 *     implementation is /run/gantry/rsh, which the node agent mounts in
 *     the job's pods (annotation training.gantry.dev/rsh) and which runs
 *     "HOST CMD..." in the worker through the agent (docs/training.md);
 *   - a worker whose first container has no command nor args (mpi-operator
 *     would run sshd there) runs `/run/gantry/gantry rsh --wait`;
 *   - success: the launcher succeeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/controllers.h"
#include "controllers/trainjob.h"

#define KIND "MPIJob"
#define OPERATOR "mpi-operator"
#define CONFIG_PATH "/etc/mpi"
#define HOSTFILE CONFIG_PATH "/hostfile"
#define RSH_ARGS "-o ConnectionAttempts=10"

static const char *const types[] = { "Launcher", "Worker" };

static const json_t *spec_of(const json_t *job, const char *type)
{
	return json_object_get(gt_json_path(job, "spec.mpiReplicaSpecs"), type);
}

static int64_t replicas_of(const json_t *job, const char *type)
{
	int64_t n = 1;
	const json_t *rs = spec_of(job, type);

	if (!rs)
		return 0;
	gt_json_int(rs, "replicas", &n);
	return n;
}

static int64_t port_of(const json_t *job, const char *type)
{
	(void)job;
	(void)type;
	return 0;
}

static int64_t slots(const json_t *job)
{
	int64_t n = 1;

	gt_json_int(job, "spec.slotsPerWorker", &n);
	return n;
}

static const char *impl(const json_t *job)
{
	return gt_json_str(job, "spec.mpiImplementation") ?: "OpenMPI";
}

static bool wait_for_workers(const json_t *job)
{
	return !strcmp(gt_json_str(job, "spec.launcherCreationPolicy") ?: "", "WaitForWorkersReady");
}

static void env_add(json_t *env, const char *name, const char *value)
{
	json_array_append_new(env, json_pack("{s:s,s:s}", "name", name, "value", value));
}

/* mpi-operator's launcherEnvVars/ompiEnvVars/intelEnvVars/mpichEnvVars, and
 * the rsh agent. */
static void mpi_env(const json_t *job, const char *type, int64_t index, json_t *env)
{
	const char *im = impl(job);
	char n[32];

	(void)index;
	if (strcmp(type, "Launcher")) {
		env_add(env, "K_MPI_JOB_ROLE", "worker");
		return;
	}
	snprintf(n, sizeof(n), "%lld", (long long)slots(job));
	env_add(env, "K_MPI_JOB_ROLE", "launcher");
	if (!strcmp(im, "OpenMPI")) {
		env_add(env, "OMPI_MCA_orte_keep_fqdn_hostnames", "true");
		env_add(env, "OMPI_MCA_orte_default_hostfile", HOSTFILE);
		env_add(env, "OMPI_MCA_plm_rsh_args", RSH_ARGS);
		env_add(env, "OMPI_MCA_orte_set_default_slots", n);
		env_add(env, "OMPI_MCA_plm_rsh_agent", GT_RSH_PATH);
	} else if (!strcmp(im, "Intel")) {
		env_add(env, "I_MPI_HYDRA_HOST_FILE", HOSTFILE);
		env_add(env, "I_MPI_HYDRA_BOOTSTRAP_EXEC_EXTRA_ARGS", RSH_ARGS);
		env_add(env, "I_MPI_PERHOST", n);
		env_add(env, "I_MPI_HYDRA_BOOTSTRAP", "rsh");
		env_add(env, "I_MPI_HYDRA_BOOTSTRAP_EXEC", GT_RSH_PATH);
	} else {
		env_add(env, "HYDRA_HOST_FILE", HOSTFILE);
		env_add(env, "HYDRA_LAUNCH_EXTRA_ARGS", RSH_ARGS);
		env_add(env, "HYDRA_LAUNCHER", "rsh");
		env_add(env, "HYDRA_LAUNCHER_EXEC", GT_RSH_PATH);
	}
	if (!gt_json_bool(job, "spec.runLauncherAsWorker", false)) {
		/* as mpi-operator: the launcher does not use the node's GPUs */
		env_add(env, "NVIDIA_VISIBLE_DEVICES", "");
		env_add(env, "NVIDIA_DRIVER_CAPABILITIES", "");
	}
}

static bool succeeded(const json_t *job, const struct gt_tj_counts *c)
{
	(void)job;
	return c[0].succeeded >= 1;
}

static void pod_name(const struct gt_tj_job *j, const char *type, int64_t i, char *out, size_t n)
{
	if (!strcmp(type, "Launcher"))
		snprintf(out, n, "%s-launcher", j->name);
	else
		snprintf(out, n, "%s-worker-%lld", j->name, (long long)i);
}

/* ---- the Service and the ConfigMap ---- */

static void hostfile(const struct gt_tj_job *j, struct gt_buf *b)
{
	bool ompi = !strcmp(impl(j->obj), "OpenMPI");

	for (int64_t i = 0; i < replicas_of(j->obj, "Worker"); i++)
		gt_buf_addf(b, ompi ? "%s-worker-%lld.%s.%s.svc slots=%lld\n" :
			    "%s-worker-%lld.%s.%s.svc:%lld\n", j->name, (long long)i, j->name, j->ns,
			    (long long)slots(j->obj));
}

/* The running workers, in name order (mpi-operator's discover_hosts.sh). */
static void discover_hosts(const struct gt_tj_job *j, const struct gt_objlist *pods, struct gt_buf *b)
{
	gt_buf_addf(b, "#!/bin/sh\n");
	for (int64_t i = 0; i < replicas_of(j->obj, "Worker"); i++) {
		char name[300];
		const json_t *p;

		pod_name(j, "Worker", i, name, sizeof(name));
		p = gt_tj_pod(j, pods, name);
		if (p && !strcmp(gt_json_str(p, "status.phase") ?: "", "Running"))
			gt_buf_addf(b, "echo %s.%s.%s.svc\n", name, j->name, j->ns);
	}
}

static int set_data(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	if (gt_json_equal(json_object_get(obj, "data"), ctx))
		return -EALREADY;
	json_object_set(obj, "data", ctx);
	return 0;
}

static void ensure_config(struct gt_tj_job *j, const struct gt_objlist *pods)
{
	const struct gt_resource *r = gt_registry_find("", "v1", "configmaps");
	struct gt_buf hf = GT_BUF_INIT, dh = GT_BUF_INIT;
	struct gt_obj *cur = NULL, *out = NULL;
	char name[300];
	json_t *data;

	gt_buf_init(&hf);
	gt_buf_init(&dh);
	hostfile(j, &hf);
	discover_hosts(j, pods, &dh);
	data = json_pack("{s:s,s:s}", "hostfile", hf.data, "discover_hosts.sh", dh.data);
	gt_buf_release(&hf);
	gt_buf_release(&dh);
	snprintf(name, sizeof(name), "%s-config", j->name);
	if (gt_api_get(j->api, r, j->ns, name, &cur, NULL) < 0) {
		gt_tj_create(j, r, json_pack("{s:s,s:s,s:{s:s,s:{s:s},s:o},s:O}", "apiVersion", "v1",
					     "kind", "ConfigMap", "metadata", "name", name, "labels",
					     "app", j->name, "ownerReferences", gt_tj_owner(j),
					     "data", data));
	} else if (!gt_json_equal(json_object_get(cur->obj, "data"), data)) {
		gt_api_modify(j->api, r, j->ns, name, GT_PART_MAIN, set_data, data, NULL, &out, NULL);
	}
	gt_obj_unref(cur);
	gt_obj_unref(out);
	json_decref(data);
}

static void owned(struct gt_tj_job *j, const struct gt_objlist *pods)
{
	const struct gt_resource *r = gt_registry_find("", "v1", "services");

	if (!gt_tj_exists(j, r, j->name))
		gt_tj_create(j, r, json_pack("{s:s,s:s,s:{s:s,s:{s:s},s:o},s:{s:s,s:b,s:{s:s,s:s}}}",
					     "apiVersion", "v1", "kind", "Service", "metadata", "name",
					     j->name, "labels", "app", j->name, "ownerReferences",
					     gt_tj_owner(j), "spec", "clusterIP", "None",
					     "publishNotReadyAddresses", 1, "selector",
					     GT_TJ_JOB_LABEL, j->name, GT_TJ_OPERATOR_LABEL, OPERATOR));
	ensure_config(j, pods);
}

/* ---- pods ---- */

static json_t *member(json_t *o, const char *key, json_t *(*make)(void))
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		v = make();
		json_object_set_new(o, key, v);
	}
	return v;
}

static void pod_touch(const struct gt_tj_job *j, const char *type, int64_t i, json_t *pod)
{
	json_t *spec = json_object_get(pod, "spec"), *meta = json_object_get(pod, "metadata"), *c;
	bool launcher = !strcmp(type, "Launcher");
	char name[300];
	size_t k;

	pod_name(j, type, i, name, sizeof(name));
	json_object_set_new(spec, "hostname", json_string(name));
	json_object_set_new(spec, "subdomain", json_string(j->name));
	json_object_set_new(member(meta, "labels", json_object), GT_TJ_ROLE_LABEL,
			    json_string(launcher ? "launcher" : "worker"));
	json_object_set_new(member(meta, "annotations", json_object), GT_RSH_ANNOTATION,
			    json_string("true"));
	if (!launcher) {
		/* mpi-operator runs sshd in a worker without a command; Gantry's
		 * workers need no daemon: they wait for the launcher's commands */
		c = json_array_get(json_object_get(spec, "containers"), 0);
		if (json_is_object(c) && !json_array_size(json_object_get(c, "command")) &&
		    !json_array_size(json_object_get(c, "args")))
			json_object_set_new(c, "command", json_pack("[s,s,s]", GT_RSH_DIR "/gantry",
								      "rsh", "--wait"));
		return;
	}
	snprintf(name, sizeof(name), "%s-config", j->name);
	json_array_append_new(member(spec, "volumes", json_array),
			      json_pack("{s:s,s:{s:s,s:[{s:s,s:s,s:i},{s:s,s:s,s:i}]}}", "name",
					"mpi-job-config", "configMap", "name", name, "items", "key",
					"hostfile", "path", "hostfile", "mode", 0444, "key",
					"discover_hosts.sh", "path", "discover_hosts.sh", "mode",
					0555));
	json_array_foreach(json_object_get(spec, "containers"), k, c)
		json_array_append_new(member(c, "volumeMounts", json_array),
				      json_pack("{s:s,s:s}", "name", "mpi-job-config", "mountPath",
						CONFIG_PATH));
}

/* WaitForWorkersReady: the launcher comes once every worker is Ready. */
static bool may_create(const struct gt_tj_job *j, const char *type, const struct gt_objlist *pods)
{
	if (strcmp(type, "Launcher") || !wait_for_workers(j->obj))
		return true;
	for (int64_t i = 0; i < replicas_of(j->obj, "Worker"); i++) {
		char name[300];
		const json_t *p;

		pod_name(j, "Worker", i, name, sizeof(name));
		p = gt_tj_pod(j, pods, name);
		if (!p || !gt_pod_is_ready(p))
			return false;
	}
	return true;
}

/* With WaitForWorkersReady the gang is the workers (the launcher joins later). */
static int64_t gang_size(const json_t *job)
{
	return replicas_of(job, "Worker") + (wait_for_workers(job) ? 0 : 1);
}

static const struct gt_tj_kind mpi = {
	.group = "kubeflow.org", .version = "v2beta1", .plural = "mpijobs", .kind = KIND,
	.specs = "mpiReplicaSpecs", .types = types, .ntypes = 2, .container = NULL,
	.port_name = "", .port_of = port_of, .replicas_of = replicas_of, .env = mpi_env,
	.succeeded = succeeded, .operator = OPERATOR, .no_replica_services = true,
	.pod_name = pod_name, .owned = owned, .pod = pod_touch, .may_create = may_create,
	.gang_size = gang_size,
};

int gt_mpij_pass(struct gt_api *api, void *ctx)
{
	(void)ctx;
	return gt_tj_pass(api, &mpi);
}

bool gt_mpij_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	(void)ctx;
	(void)waiting;
	return gt_tj_relevant(ev, &mpi);
}
