/*
 * controllers.h - the control loops that run inside `gantry server`.  They
 * talk to the API through the in-process client (apiserver/ops.h), so they
 * get exactly the semantics remote clients get.
 */
#ifndef GT_CONTROLLERS_CONTROLLERS_H
#define GT_CONTROLLERS_CONTROLLERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "api/policy.h"
#include "apiserver/ops.h"

struct gt_controllers;

struct gt_controllers_config {
	const char *pv_root;     /* local-path volumes go here (the embedded agent's ROOT/pv) */
	const char *node_name;   /* ... on this node; NULL: no provisioner */
	int64_t job_backoff_ms;  /* Job pod re-creation back-off base (0: 10 s) */

	int hpa_sync_ms;         /* HPA sync period (0: 15 s) */
	int node_grace_s;        /* --node-monitor-grace-period (0: 40 s) */
	const char *sched_policy;/* the scheduler's scoring policy (gt_sched_policy_parse); NULL: defaults */
};

/* Starts the controllers' threads.  api must outlive them; cfg is copied. */
int gt_controllers_start(struct gt_api *api, const struct gt_controllers_config *cfg,
			 struct gt_controllers **out, struct gt_err *err);
/* Stops and joins them (NULL ok). */
void gt_controllers_stop(struct gt_controllers *c);

/*
 * One pass of the garbage collector and the namespace and CRD-cleanup
 * finalizers (what the loop runs when something changed).  Exposed for
 * tests.  Returns the number of writes it made.
 */
int gt_gc_pass(struct gt_api *api);
/* A list of stored objects (references), loaded by key prefix. */
struct gt_objlist {
	struct gt_obj **items;
	size_t n, cap;
};

/* Appends every object under prefix ("core/pods/") to l. */
void gt_objlist_load(struct gt_api *api, const char *prefix, struct gt_objlist *l);
void gt_objlist_release(struct gt_objlist *l);
/*
 * The object keyed prefix + name in l (borrowed), found by binary search:
 * lists come sorted by key.  Keys must all start with prefix (one load).
 */
struct gt_obj *gt_objlist_find(const struct gt_objlist *l, const char *prefix, const char *name);


/* Whether a pod is done (phase Succeeded or Failed). */
bool gt_pod_finished(const json_t *pod);
/* The uid in obj's controller ownerReference (controller: true), or NULL. */
const char *gt_controller_uid(const json_t *obj);
struct gt_labelsel;
/*
 * The uid of obj's controller (obj a GROUP/v1 PLURAL).  An orphan not being
 * deleted that matches sel (NULL: none do) is adopted first, as Kubernetes
 * adopts: owner (an apps/v1 KIND, not being deleted, in obj's namespace) is
 * added as its controller.
 */
const char *gt_adopt(struct gt_api *api, const char *group, const char *plural, const json_t *obj,
		     const json_t *owner, const char *kind, const struct gt_labelsel *sel);
/* owner's spec.selector, or NULL when missing, invalid or empty (caller frees). */
struct gt_labelsel *gt_owner_selector(const json_t *owner);
/* gt_adopt for a pod; finished pods are not adopted. */
const char *gt_pod_controller(struct gt_api *api, const json_t *pod, const json_t *owner,
			      const char *kind, const struct gt_labelsel *sel);
/* Whether a pod counts: not finished and not being deleted. */
bool gt_pod_active(const json_t *pod);
/*
 * Whether a pod is available: Ready for at least min_ready seconds (by its
 * Ready condition's lastTransitionTime) at now.  A pod Ready but not for
 * long enough sets *later (may be NULL): it becomes available by itself.
 */
bool gt_pod_available(const json_t *pod, int64_t min_ready, time_t now, bool *later);
/* A new ownerReference to owner (an apps/v1 KIND); the caller owns it. */
json_t *gt_owner_ref(const json_t *owner, const char *kind, bool controller);
/*
 * A new Pod (caller owns it) from the template tpl of owner (an apps/v1
 * KIND): the template's metadata (without name, namespace and
 * creationTimestamp; labels always an object) and spec, and a controller
 * ownerReference to owner.
 */
json_t *gt_pod_from_template(const json_t *owner, const char *kind, const json_t *tpl);
/*
 * Kubernetes' shape of a template hash: FNV-1a 32 of v (compact JSON, keys
 * sorted), its decimal digits mapped through the "safe" alphabet.
 */
void gt_template_hash(const json_t *v, char out[16]);
/* A gt_mutate_fn merging ctx (a JSON object) into status; -EALREADY if unchanged. */
int gt_status_merge(json_t *obj, void *ctx, struct gt_err *err);
/* An IntOrString of total: "25%" rounded up or down, an int as is, else def. */
int64_t gt_int_or_pct(const json_t *v, int64_t total, int64_t def, bool up);
/*
 * Records an Event (core/v1) about obj (a stored object: its kind,
 * apiVersion, namespace, name and uid) of type "Normal" or "Warning", from
 * component, with the message fmt.  Best effort: failures are ignored.
 */
void gt_record_event(struct gt_api *api, const json_t *obj, const char *type, const char *reason,
		     const char *component, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/*
 * Deletes obj (a GROUP/v1 PLURAL) with grace seconds (-1: its own),
 * dependents in the background.  Returns 0 or a negative errno.
 */
int gt_delete_obj(struct gt_api *api, const char *group, const char *plural, const json_t *obj,
		  int64_t grace);

/*
 * A controller loop (loop.c): its thread reads the store's events, runs
 * pass() once the relevant ones (relevant(), told whether the last pass
 * asked for a retry) are drained, and again every retry_ms while pass()
 * returns > 0 ("something is still waiting").  pass runs on the loop's
 * thread and may change retry_ms (when the next pass is due).
 */
struct gt_loop {
	struct gt_api *api;
	bool (*relevant)(const struct gt_event *ev, bool waiting, void *ctx);
	int (*pass)(struct gt_api *api, void *ctx);
	void *ctx;
	int retry_ms;
	void (*opened)(void *ctx);  /* optional: a watch (re)opened; earlier events are lost */
	int max_batch_ms;           /* > 0: a due pass waits at most this long for a quiet stream */
	pthread_t thr;
	_Atomic bool stop;
	bool started;
};

int gt_loop_start(struct gt_loop *l, struct gt_err *err);
void gt_loop_stop(struct gt_loop *l);

/* The garbage collector's events (gc.c; its pass is gt_gc_pass). */
bool gt_gc_relevant(const struct gt_event *ev, bool waiting, void *ctx);

/* ReplicaSets (replicaset.c): keep spec.replicas pods of the template. */
bool gt_rs_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_rs_pass(struct gt_api *api, void *ctx);

/* Deployments (deployment.c): ReplicaSets per template, rolled as the strategy says. */
bool gt_deploy_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_deploy_pass(struct gt_api *api, void *ctx);

/* Endpoints and EndpointSlices of Services (endpoints.c). */
bool gt_endpoints_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_endpoints_pass(struct gt_api *api, void *ctx);

/* PyTorchJobs (pytorchjob.c on the training-job engine, trainjob.c). */
bool gt_ptj_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_ptj_pass(struct gt_api *api, void *ctx);
/* MPIJobs (mpijob.c on the same engine). */
bool gt_mpij_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_mpij_pass(struct gt_api *api, void *ctx);

/*
 * Jobs (job.c): pods for batch/v1 Jobs.  backoff_ms is the back-off base
 * after failures (<= 0: Kubernetes' 10 s), doubling up to 36 times it.
 */
struct gt_jobs;
int gt_jobs_start(struct gt_api *api, int64_t backoff_ms, struct gt_jobs **out, struct gt_err *err);
void gt_jobs_stop(struct gt_jobs *j);

/* CronJobs (cronjob.c): Jobs on a cron schedule. */
struct gt_cronjobs;
int gt_cronjobs_start(struct gt_api *api, struct gt_cronjobs **out, struct gt_err *err);
void gt_cronjobs_stop(struct gt_cronjobs *c);

/* StatefulSets (statefulset.c): ordinal pods, claims per ordinal, ordered rolling updates. */
bool gt_sts_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_sts_pass(struct gt_api *api, void *ctx);

/* DaemonSets (daemonset.c): one pod per eligible node, rolled as the strategy says. */
bool gt_ds_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_ds_pass(struct gt_api *api, void *ctx);

/*
 * ControllerRevisions (revision.c) of a StatefulSet or DaemonSet: the
 * revision of the owner's current spec.template, "<owner>-<hash>" with
 * data {"spec":{"template":{...,"$patch":"replace"}}} (what `kubectl
 * rollout history/undo` read and patch back), found among crs, moved to the
 * top revision number when an old template returns, or created.  Orphan
 * revisions matching sel (the owner's selector; NULL: none) are adopted.
 * Returns a reference (caller unrefs) or NULL when it could not be created;
 * *hash gets the hash.  owned gets the owner's revisions in crs (borrowed,
 * array freed by the caller).
 */
struct gt_obj *gt_revision_sync(struct gt_api *api, const json_t *owner, const char *kind,
				const struct gt_labelsel *sel, const struct gt_objlist *crs,
				char hash[16], const json_t ***owned, size_t *nowned);
/* The template a revision holds (borrowed from rev; NULL if none). */
json_t *gt_revision_template(const json_t *rev);
/* Whether a revision holds tpl. */
bool gt_revision_holds(const json_t *rev, const json_t *tpl);
/*
 * Deletes the oldest of owned beyond limit that are not named in live
 * (nlive names).
 */
void gt_revision_trim(struct gt_api *api, const json_t **owned, size_t n, int64_t limit,
		      const char *const *live, size_t nlive);

/*
 * HorizontalPodAutoscalers (hpa.c): every sync_ms, each HPA's target is
 * scaled to what its Resource metrics (metrics.k8s.io figures) ask for,
 * within its behavior rules.  ctx is a struct gt_hpa_ctl.
 */
struct gt_hpa_ctl;
struct gt_hpa_ctl *gt_hpa_ctl_new(int sync_ms);
void gt_hpa_ctl_free(struct gt_hpa_ctl *c);
bool gt_hpa_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_hpa_pass(struct gt_api *api, void *ctx);
/*
 * The node lifecycle controller (nodelifecycle.c, noexec.c): nodes whose
 * agent stopped heartbeating for grace_s (0: 40) turn Unknown and get the
 * unreachable taints, their pods NoExecute-evicted after their tolerations
 * run out; pods of nodes that no longer exist are removed (pod GC).
 */
struct gt_nodelc;
struct gt_nodelc *gt_nodelc_new(int grace_s);
void gt_nodelc_free(struct gt_nodelc *lc);
/* How often its loop should run a pass (ms). */
int gt_nodelc_period_ms(const struct gt_nodelc *lc);
bool gt_nodelc_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_nodelc_pass(struct gt_api *api, void *ctx);

/*
 * Sets (or replaces) condition type on a pod's status with status st,
 * reason and message: a status write, none when it is already so.
 */
int gt_pod_set_condition(struct gt_api *api, const json_t *pod, const char *type,
			 const char *st, const char *reason, const char *message);

/*
 * The NoExecute taint manager (noexec.c), given the nodes and pods of one
 * node lifecycle pass: pods that do not tolerate a node's NoExecute taint
 * are deleted, those that tolerate it for tolerationSeconds once that has
 * run out since the taint's timeAdded.  Returns > 0 while one waits.
 */
int gt_noexec_pass(struct gt_api *api, const struct gt_objlist *nodes,
		   const struct gt_objlist *pods, time_t now);

/* The disruption controller (disruption.c): PodDisruptionBudget status. */
bool gt_disruption_relevant(const struct gt_event *ev, bool waiting, void *ctx);
int gt_disruption_pass(struct gt_api *api, void *ctx);

/* PodGroup (the scheduler-plugins CRD the scheduler serves and reads gangs from). */
#define GT_PODGROUP_GROUP "scheduling.x-k8s.io"
#define GT_PODGROUP_VERSION "v1alpha1"

/* The scheduler (scheduler.c): binds pending pods to nodes. */
struct gt_scheduler;
int gt_scheduler_start(struct gt_api *api, const char *policy, struct gt_scheduler **out,
		       struct gt_err *err);
void gt_scheduler_stop(struct gt_scheduler *s);
/* One scheduling pass over every pending pod (exposed for tests); returns bindings made. */
int gt_scheduler_pass(struct gt_api *api);

/* Whether obj's metadata.finalizers holds f. */
bool gt_has_finalizer(const json_t *obj, const char *f);
/* A gt_mutate_fn removing the finalizer ctx (a string) from the object. */
int gt_drop_finalizer(json_t *obj, void *ctx, struct gt_err *err);

/* One pass of the local-path provisioner (pvc.c).  Returns writes made. */
int gt_pvc_pass(struct gt_api *api, const struct gt_controllers_config *cfg);

#endif
