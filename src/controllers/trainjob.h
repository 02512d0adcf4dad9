/*
 * trainjob.h - the engine shared by the Kubeflow-style training job
 * controllers (PyTorchJob now; MPIJob next): replica specs -> gang-scheduled
 * pods and headless Services, whole-gang restarts, checkpoint claim,
 * progress, conditions and runPolicy.  A kind supplies its names, its
 * environment and its success rule (see pytorchjob.c for the behaviour).
 */
#ifndef GT_CONTROLLERS_TRAINJOB_H
#define GT_CONTROLLERS_TRAINJOB_H

#include "controllers/controllers.h"

#define GT_TJ_JOB_LABEL "training.kubeflow.org/job-name"
#define GT_TJ_TYPE_LABEL "training.kubeflow.org/replica-type"
#define GT_TJ_INDEX_LABEL "training.kubeflow.org/replica-index"
#define GT_TJ_ROLE_LABEL "training.kubeflow.org/job-role"
#define GT_TJ_OPERATOR_LABEL "training.kubeflow.org/operator-name"
#define GT_TJ_EPOCH_LABEL "training.gantry.dev/restart-epoch"
#define GT_TJ_GANG_LABEL "scheduling.x-k8s.io/pod-group"
#define GT_TJ_CKPT_CLAIM "training.gantry.dev/checkpoint-claim"
#define GT_TJ_CKPT_SIZE "training.gantry.dev/checkpoint-size"
#define GT_TJ_CKPT_PATH "/checkpoints"
#define GT_TJ_PROGRESS "GANTRY_PROGRESS "

/* Pods of one replica type in the current epoch. */
struct gt_tj_counts {
	int64_t active, running, succeeded, failed;
};

struct gt_tj_job;

struct gt_tj_kind {
	const char *group, *version, *plural, *kind;
	const char *specs;              /* "pytorchReplicaSpecs" */
	const char *const *types;       /* in rank order: "Master", "Worker" */
	size_t ntypes;
	const char *container;          /* the main container ("pytorch") */
	const char *port_name;
	const char *operator;           /* operator-name label */
	int64_t (*port_of)(const json_t *job, const char *type);
	int64_t (*replicas_of)(const json_t *job, const char *type);
	/* appends the kind's variables for replica type/index to env */
	void (*env)(const json_t *job, const char *type, int64_t index, json_t *env);
	/* counts[i] for types[i] */
	bool (*succeeded)(const json_t *job, const struct gt_tj_counts *counts);
	/* optional hooks (MPIJob): */
	bool no_replica_services;       /* no headless Service per replica */
	/* the pod's name (default "<job>-<type>-<index>") */
	void (*pod_name)(const struct gt_tj_job *j, const char *type, int64_t index, char *out,
			 size_t n);
	/* the job's other owned objects, each pass before the pods */
	void (*owned)(struct gt_tj_job *j, const struct gt_objlist *pods);
	/* last touches to a pod about to be created */
	void (*pod)(const struct gt_tj_job *j, const char *type, int64_t index, json_t *pod);
	/* false: not yet (e.g. the launcher waits for the workers) */
	bool (*may_create)(const struct gt_tj_job *j, const char *type, const struct gt_objlist *pods);
	/* the PodGroup's minMember (default: all replicas) */
	int64_t (*gang_size)(const json_t *job);
};

/* One job in a pass, as the kind's hooks see it. */
struct gt_tj_job {
	struct gt_api *api;
	const struct gt_tj_kind *k;
	const json_t *obj;
	const char *ns, *name, *uid;
	json_t *status;          /* being built */
	int64_t epoch;
	char claim[300];         /* checkpoint claim or "" */
};

/* Helpers for hooks: the controller ownerReferences of the job's objects;
 * creates obj (steals it) unless it exists; the job's pod of that name in
 * the current epoch (NULL if none or going). */
json_t *gt_tj_owner(const struct gt_tj_job *j);
bool gt_tj_exists(struct gt_tj_job *j, const struct gt_resource *r, const char *name);
void gt_tj_create(struct gt_tj_job *j, const struct gt_resource *r, json_t *obj);
const json_t *gt_tj_pod(const struct gt_tj_job *j, const struct gt_objlist *pods,
			const char *name);

int gt_tj_pass(struct gt_api *api, const struct gt_tj_kind *k);
bool gt_tj_relevant(const struct gt_event *ev, const struct gt_tj_kind *k);

/* trainjob_status.c: conditions and progress (status is a copy being built). */
void gt_tj_condition(json_t *status, const char *type, bool on, const char *reason,
		     const char *msg);
bool gt_tj_has(const json_t *status, const char *type);
/* Parses rank 0's log tail into status.progress; returns true when it changed. */
bool gt_tj_progress(json_t *status, const char *log, size_t len, time_t now);

#endif
