/*
 * pytorchjob.c - the PyTorchJob controller (kubeflow.org/v1), compatible
 * with Kubeflow's training operator and better where its users ask:
 *
 *   - one pod and one headless Service per replica, both named
 *     "<job>-<type>-<index>" (type lower case), labelled as Kubeflow labels
 *     them (training.kubeflow.org/job-name, replica-type, replica-index,
 *     job-role, operator-name); the Services publish not-ready addresses,
 *     so a rank resolves its peers as soon as they have an address;
 *   - Kubeflow's environment, exactly (PYTHONUNBUFFERED, MASTER_ADDR/PORT,
 *     WORLD_SIZE, RANK, the torchrun PET_* set; PET_RDZV_* with an
 *     elasticPolicy), plus GANTRY_RESTART_EPOCH and GANTRY_CHECKPOINT_DIR;
 *   - always gang-scheduled: a PodGroup "<job>" with minMember = all
 *     replicas (pods carry scheduling.x-k8s.io/pod-group);
 *   - whole-gang restart: pods run with restartPolicy Never and the
 *     controller restarts: a rank that fails retryably (OnFailure and
 *     Always: any failure; ExitCode: 128-255 or a pod lost without an exit
 *     code) makes the epoch (status.restarts) go up, every rank of the old
 *     epoch is deleted at once and the new epoch created together; a
 *     permanent failure (Never; ExitCode 1-127) fails the job at once, with
 *     the exit code in the message; restarts beyond runPolicy.backoffLimit
 *     fail it (BackoffLimitExceeded);
 *   - checkpoints: a claim "<job>-checkpoint" (1Gi, or the size in the
 *     annotation training.gantry.dev/checkpoint-size) or the one named by
 *     training.gantry.dev/checkpoint-claim ("none": no volume) is mounted
 *     at /checkpoints in every container;
 *   - progress: lines "GANTRY_PROGRESS {json}" on rank 0's stdout
 *     ({"step": n, "total_steps": N, "loss": x, ...}) become
 *     status.progress (step, totalSteps, percent, loss, ETA, metrics),
 *     which `kubectl get pytorchjobs` shows as columns.
 * Conditions Created/Running/Restarting/Succeeded/Failed/Suspended and
 * replicaStatuses as Kubeflow reports them; runPolicy: backoffLimit,
 * activeDeadlineSeconds, ttlSecondsAfterFinished, cleanPodPolicy, suspend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "controllers/controllers.h"
#include "controllers/trainjob.h"

#define KIND "PyTorchJob"
#define CONTAINER "pytorch"
#define PORT_NAME "pytorchjob-port"
#define DEFAULT_PORT 23456

static const char *const types[] = { "Master", "Worker" };

static int64_t replicas_of(const json_t *job, const char *type)
{
	int64_t n = 1;
	const json_t *rs = json_object_get(gt_json_path(job, "spec.pytorchReplicaSpecs"), type);

	if (!rs)
		return 0;
	gt_json_int(rs, "replicas", &n);
	return n;
}

static int64_t port_of(const json_t *job, const char *type)
{
	const json_t *c, *p;
	size_t i, k;

	json_array_foreach(gt_json_path(json_object_get(gt_json_path(job, "spec.pytorchReplicaSpecs"),
							 type), "template.spec.containers"), i, c) {
		if (strcmp(gt_json_str(c, "name") ?: "", CONTAINER))
			continue;
		json_array_foreach(json_object_get(c, "ports"), k, p) {
			int64_t n;

			if (!strcmp(gt_json_str(p, "name") ?: "", PORT_NAME) &&
			    gt_json_int(p, "containerPort", &n) == 0)
				return n;
		}
	}
	return DEFAULT_PORT;
}

static void env_add(json_t *env, const char *name, const char *value)
{
	json_array_append_new(env, json_pack("{s:s,s:s}", "name", name, "value", value));
}

static void env_addi(json_t *env, const char *name, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	env_add(env, name, buf);
}

/* Kubeflow's setPodEnv (pytorch/envvar.go, master.go, elastic.go). */
static void kubeflow_env(const json_t *job, const char *type, int64_t index, json_t *env)
{
	const char *name = gt_json_str(job, "metadata.name") ?: "";
	const char *nproc = gt_json_str(job, "spec.nprocPerNode") ?: "auto";
	const json_t *el = gt_json_path(job, "spec.elasticPolicy");
	int64_t total = replicas_of(job, "Master") + replicas_of(job, "Worker");
	int64_t np = strtoll(nproc, NULL, 10), mn, mx;
	char buf[300];

	if (np <= 0)
		np = 1;
	env_add(env, "PYTHONUNBUFFERED", "0");
	if (replicas_of(job, "Master")) {
		int64_t rank = index + (strcmp(type, "Worker") ? 0 : 1);

		snprintf(buf, sizeof(buf), "%s-master-0", name);
		env_addi(env, "MASTER_PORT", port_of(job, "Master"));
		env_add(env, "MASTER_ADDR", buf);
		env_addi(env, "PET_MASTER_PORT", port_of(job, "Master"));
		env_add(env, "PET_MASTER_ADDR", buf);
		env_addi(env, "WORLD_SIZE", total * np);
		env_addi(env, "RANK", rank);
		env_add(env, "PET_NPROC_PER_NODE", nproc);
		env_addi(env, "PET_NODE_RANK", rank);
	}
	if (!json_is_object(el)) {
		env_addi(env, "PET_NNODES", total);
		return;
	}
	if (gt_json_str(el, "rdzvHost"))
		snprintf(buf, sizeof(buf), "%s:%lld", gt_json_str(el, "rdzvHost"),
			 (long long)(gt_json_int(el, "rdzvPort", &mn) == 0 ? mn : port_of(job, "Worker")));
	else
		snprintf(buf, sizeof(buf), "%s-worker-0:%lld", name,
			 (long long)(gt_json_int(el, "rdzvPort", &mn) == 0 ? mn : port_of(job, "Worker")));
	env_add(env, "PET_RDZV_ENDPOINT", buf);
	env_add(env, "PET_RDZV_BACKEND", gt_json_str(el, "rdzvBackend") ?: "c10d");
	if (gt_json_int(el, "minReplicas", &mn) == 0 && gt_json_int(el, "maxReplicas", &mx) == 0) {
		snprintf(buf, sizeof(buf), "%lld:%lld", (long long)mn, (long long)mx);
		env_add(env, "PET_NNODES", buf);
	} else {
		env_addi(env, "PET_NNODES", replicas_of(job, "Worker"));
	}
	if (gt_json_int(el, "maxRestarts", &mn) == 0)
		env_addi(env, "PET_MAX_RESTARTS", mn);
	if (gt_json_int(el, "nProcPerNode", &mn) == 0)
		env_addi(env, "PET_NPROC_PER_NODE", mn);
	if (gt_json_str(el, "rdzvId"))
		env_add(env, "PET_RDZV_ID", gt_json_str(el, "rdzvId"));
	if (json_array_size(gt_json_path(el, "rdzvConf"))) {
		struct gt_buf b = GT_BUF_INIT;
		const json_t *kv;
		size_t i;

		gt_buf_init(&b);
		json_array_foreach(gt_json_path(el, "rdzvConf"), i, kv)
			gt_buf_addf(&b, "%s%s=%s", i ? "," : "", gt_json_str(kv, "key") ?: "",
				    gt_json_str(kv, "value") ?: "");
		env_add(env, "PET_RDZV_CONF", b.data);
		gt_buf_release(&b);
	}
	if (gt_json_bool(el, "standalone", false))
		env_add(env, "PET_STANDALONE", "");
}

/* Success: the Master succeeded, or (no Master) every Worker did. */
static bool succeeded(const json_t *job, const struct gt_tj_counts *c)
{
	if (replicas_of(job, "Master"))
		return c[0].succeeded >= 1;
	return c[1].succeeded >= replicas_of(job, "Worker");
}

static const struct gt_tj_kind pytorch = {
	.group = "kubeflow.org", .version = "v1", .plural = "pytorchjobs", .kind = KIND,
	.specs = "pytorchReplicaSpecs", .types = types, .ntypes = 2, .container = CONTAINER,
	.port_name = PORT_NAME, .port_of = port_of, .replicas_of = replicas_of,
	.env = kubeflow_env, .succeeded = succeeded, .operator = "pytorchjob-controller",
};

int gt_ptj_pass(struct gt_api *api, void *ctx)
{
	(void)ctx;
	return gt_tj_pass(api, &pytorch);
}

bool gt_ptj_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	(void)ctx;
	(void)waiting;
	return gt_tj_relevant(ev, &pytorch);
}
