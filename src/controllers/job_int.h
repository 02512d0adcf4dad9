/*
 * job_int.h - what the Job controller's files share (job.c runs the sync,
 * job_pods.c makes and reads the Job's pods).
 */
#ifndef GT_CONTROLLERS_JOB_INT_H
#define GT_CONTROLLERS_JOB_INT_H

#include "controllers/controllers.h"

#define GT_JOB_TRACKING "batch.kubernetes.io/job-tracking"
#define GT_JOB_INDEX "batch.kubernetes.io/job-completion-index"

/* One pod of a Job, as the sync sees it. */
struct gt_jpod {
	const json_t *obj;     /* borrowed from the pass's pod list */
	const char *uid, *name;
	int64_t index;         /* completion index, -1 when none or not a number */
	bool fin;              /* carries the job-tracking finalizer */
	bool terminal;         /* phase Succeeded or Failed */
	bool succeeded;        /* phase Succeeded */
	bool deleting;         /* metadata.deletionTimestamp */
	bool active;           /* neither terminal nor deleting */
	bool ready;            /* active with Ready=True */
	bool dropped;          /* its finalizer was removed in this pass */
};

/* Fills p from a stored pod. */
void gt_jpod_init(struct gt_jpod *p, const json_t *pod);

/*
 * Whether a pod is done as far as counting goes: terminal, or deleted and
 * either never bound or past its grace period (its node will not report).
 */
bool gt_jpod_done(const struct gt_jpod *p, time_t now);

/*
 * Creates one pod of job from its template: generateName "<job>-" (or
 * "<job>-<index>-" with index >= 0, which also sets the completion-index
 * annotation and label, JOB_COMPLETION_INDEX in every container and the
 * hostname "<job>-<index>"), the controller ownerReference and the
 * job-tracking finalizer.  0 or the create's error (logged).
 */
int gt_job_create_pod(struct gt_api *api, const json_t *job, int64_t index);

/* Deletes a pod (graceful, as a client would). */
void gt_job_delete_pod(struct gt_api *api, const json_t *pod);

/* Removes the job-tracking finalizer; 0 when gone (or the pod is). */
int gt_job_drop_finalizer(struct gt_api *api, const json_t *pod);

/*
 * The podFailurePolicy rule that matches a failed pod: its action
 * ("FailJob", "Ignore", "Count") or NULL when none; msg gets Kubernetes'
 * wording for FailJob ("Container main for pod ns/x failed with exit code
 * 42 matching FailJob rule at index 0").
 */
const char *gt_job_failure_action(const json_t *job, const json_t *pod, char *msg, size_t n);

/*
 * completedIndexes ("0-2,4") <-> a byte per index (0/1) of length n;
 * parse ignores indexes >= n.  format returns a malloc'd string.
 */
void gt_job_indexes_parse(const char *s, unsigned char *set, int64_t n);
char *gt_job_indexes_format(const unsigned char *set, int64_t n);

#endif
