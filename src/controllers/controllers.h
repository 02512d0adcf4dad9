/*
 * controllers.h - the control loops that run inside `gantry server`.  They
 * talk to the API through the in-process client (apiserver/ops.h), so they
 * get exactly the semantics remote clients get.
 */
#ifndef GT_CONTROLLERS_CONTROLLERS_H
#define GT_CONTROLLERS_CONTROLLERS_H

#include <pthread.h>
#include <stdatomic.h>

#include "apiserver/ops.h"

struct gt_controllers;

struct gt_controllers_config {
	const char *pv_root;     /* local-path volumes go here (the embedded agent's ROOT/pv) */
	const char *node_name;   /* ... on this node; NULL: no provisioner */
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

/* Whether a pod is done (phase Succeeded or Failed). */
bool gt_pod_finished(const json_t *pod);
/* The uid in obj's controller ownerReference (controller: true), or NULL. */
const char *gt_controller_uid(const json_t *obj);

/*
 * A controller loop (loop.c): its thread reads the store's events, runs
 * pass() once the relevant ones (relevant(), told whether the last pass
 * asked for a retry) are drained, and again every retry_ms while pass()
 * returns > 0 ("something is still waiting").
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
