/*
 * validate_kubeflow.c - kubeflow.org/v1 PyTorchJob, as the training
 * operator's validating webhook checks it: replica types Master and Worker
 * only, Master exactly 1, every replica at least 1 with a valid pod
 * template holding a container named "pytorch" with an image, restart
 * policies Always/OnFailure/Never/ExitCode, and a sane runPolicy
 * (non-negative backoffLimit, activeDeadlineSeconds, ttlSecondsAfterFinished;
 * cleanPodPolicy None/Running/All) and elasticPolicy (min <= max).
 * kubeflow.org/v2beta1 MPIJob, as mpi-operator's validation: replica types
 * Launcher (exactly 1, required) and Worker (at least 1, required), each
 * with a valid pod template (at least one container), the same restart
 * policies and runPolicy, slotsPerWorker >= 1, mpiImplementation
 * OpenMPI/Intel/MPICH, launcherCreationPolicy AtStartup/WaitForWorkersReady.
 */
#include <string.h>

#include "api/validate_int.h"

static const char *const replica_types[] = { "Master", "Worker", NULL };
static const char *const restart_policies[] = { "Always", "OnFailure", "Never", "ExitCode", NULL };
static const char *const clean_policies[] = { "None", "Running", "All", NULL };
static const char *const mpi_types[] = { "Launcher", "Worker", NULL };
static const char *const mpi_impls[] = { "OpenMPI", "Intel", "MPICH", NULL };
static const char *const launcher_policies[] = { "AtStartup", "WaitForWorkersReady", NULL };

static bool one_of(const char *s, const char *const *set)
{
	for (; s && *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static void non_negative(struct gt_vld *v, const json_t *o, const char *key, const char *path)
{
	const json_t *x = gt_vld_get(o, key);
	char p[GT_VLD_PATH];

	if (!x || json_is_null(x))
		return;
	if (!json_is_integer(x))
		gt_vld_invalid(v, gt_vld_path(p, "%s.%s", path, key), "", "must be an integer");
	else if (json_integer_value(x) < 0)
		gt_vld_invalid_int(v, gt_vld_path(p, "%s.%s", path, key), json_integer_value(x),
				   "must be greater than or equal to 0");
}

/* One replica spec; single: the type that must have exactly 1 replica;
 * container: the name the main container must have (NULL: any). */
static void replica(struct gt_vld *v, const char *type, const json_t *rs, const char *path,
		    const char *single, const char *container)
{
	const json_t *r = gt_vld_get(rs, "replicas"), *c;
	const json_t *tmpl = gt_vld_get(rs, "template");
	const char *rp = gt_vld_str(rs, "restartPolicy");
	char p[GT_VLD_PATH];
	bool found = false;
	size_t i;

	if (!json_is_object(rs)) {
		gt_vld_invalid(v, path, "", "must be an object");
		return;
	}
	if (r && !json_is_null(r)) {
		if (!json_is_integer(r))
			gt_vld_invalid(v, gt_vld_path(p, "%s.replicas", path), "", "must be an integer");
		else if (json_integer_value(r) < 1)
			gt_vld_invalid_int(v, gt_vld_path(p, "%s.replicas", path), json_integer_value(r),
					   "must be greater than or equal to 1");
		else if (!strcmp(type, single) && json_integer_value(r) != 1)
			gt_vld_invalid_int(v, gt_vld_path(p, "%s.replicas", path), json_integer_value(r),
					   !strcmp(single, "Master") ? "must be 1 for the Master" :
					   "must be 1 for the Launcher");
	}
	if (rp && !one_of(rp, restart_policies))
		gt_vld_not_supported(v, gt_vld_path(p, "%s.restartPolicy", path), rp, restart_policies);
	if (!json_is_object(tmpl)) {
		gt_vld_required(v, gt_vld_path(p, "%s.template", path), "");
		return;
	}
	json_array_foreach(gt_json_path(tmpl, "spec.containers"), i, c) {
		if (!container || !strcmp(gt_vld_str(c, "name") ?: "", container))
			found = true;
	}
	if (!found && container)
		gt_vld_required(v, gt_vld_path(p, "%s.template.spec.containers", path),
				"must have a container named \"pytorch\"");
	else if (!found)
		gt_vld_required(v, gt_vld_path(p, "%s.template.spec.containers", path),
				"must have at least one container");
	gt_vld_pod_template(v, tmpl, gt_vld_path(p, "%s.template", path), GT_PS_RESTART_OPTIONAL);
}

/* runPolicy, shared by both kinds; false when it is not an object. */
static bool run_policy(struct gt_vld *v, const json_t *run)
{
	const char *clean = gt_vld_str(run, "cleanPodPolicy");

	if (run && !json_is_null(run) && !json_is_object(run)) {
		gt_vld_invalid(v, "spec.runPolicy", "", "must be an object");
		return false;
	}
	non_negative(v, run, "backoffLimit", "spec.runPolicy");
	non_negative(v, run, "activeDeadlineSeconds", "spec.runPolicy");
	non_negative(v, run, "ttlSecondsAfterFinished", "spec.runPolicy");
	if (clean && !one_of(clean, clean_policies))
		gt_vld_not_supported(v, "spec.runPolicy.cleanPodPolicy", clean, clean_policies);
	return true;
}

void gt_vld_pytorchjob(struct gt_vld *v, const json_t *obj)
{
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *specs = gt_vld_get(spec, "pytorchReplicaSpecs"), *rs;
	const json_t *run = gt_vld_get(spec, "runPolicy"), *el = gt_vld_get(spec, "elasticPolicy");
	const char *type;
	char p[GT_VLD_PATH];
	int64_t mn, mx;

	if (!json_is_object(specs) || !json_object_size(specs)) {
		gt_vld_required(v, "spec.pytorchReplicaSpecs", "must have at least one replica spec");
		return;
	}
	json_object_foreach((json_t *)specs, type, rs) {
		if (!one_of(type, replica_types)) {
			gt_vld_not_supported(v, "spec.pytorchReplicaSpecs", type, replica_types);
			continue;
		}
		replica(v, type, rs, gt_vld_path(p, "spec.pytorchReplicaSpecs[%s]", type), "Master",
			"pytorch");
	}
	if (!run_policy(v, run))
		return;
	if (gt_vld_int(el, "minReplicas", &mn) && gt_vld_int(el, "maxReplicas", &mx) && mn > mx)
		gt_vld_invalid_int(v, "spec.elasticPolicy.minReplicas", mn,
				   "must be less than or equal to maxReplicas");
}

void gt_vld_mpijob(struct gt_vld *v, const json_t *obj)
{
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *specs = gt_vld_get(spec, "mpiReplicaSpecs"), *rs, *slots;
	const char *type, *impl = gt_vld_str(spec, "mpiImplementation");
	const char *lcp = gt_vld_str(spec, "launcherCreationPolicy");
	char p[GT_VLD_PATH];

	if (!json_is_object(specs) || !json_object_size(specs)) {
		gt_vld_required(v, "spec.mpiReplicaSpecs", "must have Launcher and Worker replica specs");
		return;
	}
	json_object_foreach((json_t *)specs, type, rs) {
		if (!one_of(type, mpi_types)) {
			gt_vld_not_supported(v, "spec.mpiReplicaSpecs", type, mpi_types);
			continue;
		}
		replica(v, type, rs, gt_vld_path(p, "spec.mpiReplicaSpecs[%s]", type), "Launcher", NULL);
	}
	for (size_t i = 0; mpi_types[i]; i++)
		if (!json_object_get(specs, mpi_types[i]))
			gt_vld_required(v, gt_vld_path(p, "spec.mpiReplicaSpecs[%s]", mpi_types[i]),
					!i ? "must have a Launcher" : "must have Workers");
	slots = gt_vld_get(spec, "slotsPerWorker");
	if (slots && !json_is_null(slots)) {
		if (!json_is_integer(slots))
			gt_vld_invalid(v, "spec.slotsPerWorker", "", "must be an integer");
		else if (json_integer_value(slots) < 1)
			gt_vld_invalid_int(v, "spec.slotsPerWorker", json_integer_value(slots),
					   "must be greater than or equal to 1");
	}
	if (impl && !one_of(impl, mpi_impls))
		gt_vld_not_supported(v, "spec.mpiImplementation", impl, mpi_impls);
	if (lcp && !one_of(lcp, launcher_policies))
		gt_vld_not_supported(v, "spec.launcherCreationPolicy", lcp, launcher_policies);
	run_policy(v, gt_vld_get(spec, "runPolicy"));
}
