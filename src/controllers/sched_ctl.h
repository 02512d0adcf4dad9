/*
 * sched_ctl.h - the scheduler controller's parts (scheduler.c: the cache
 * and the pass; sched_gang.c: gangs; sched_write.c: what it writes).  Not
 * for other modules.
 */
#ifndef GT_CONTROLLERS_SCHED_CTL_H
#define GT_CONTROLLERS_SCHED_CTL_H

#include "controllers/controllers.h"
#include "sched/sched.h"

/*
 * The scheduler's cache, fed by the store's events (the loop thread only):
 * every pod by store key, the snapshot holding the bound ones, the pending
 * ones, and for each pending pod the epoch of its last failed try (a pod is
 * tried again once the epoch moves: room freed or added, or every 5 s).
 */
struct gt_scheduler {
	struct gt_loop loop;
	struct gt_api *api;
	struct gt_sched_policy pol;
	struct gt_sched *s;
	json_t *pods;        /* store key -> Pod */
	json_t *pending;     /* store key -> Pod without a node */
	json_t *failed;      /* store key -> epoch of its last failed try */
	json_t *gangs;       /* "ns/gang" -> {"start": ms, "until": ms} (timeouts) */
	json_t *assumed;     /* store key -> {"pod", "node"}: binding in flight */
	json_t *gang_bound;  /* "ns/gang" -> members accounted on nodes */
	json_t *said;        /* store key -> the PodScheduled=False message queued */
	struct gt_schedc_binder *binder; /* NULL: bind on the loop thread (one-shot passes) */
	int64_t epoch, last_retry_ms;
	bool synced;
	char pg_prefix[300]; /* store key prefix of PodGroups */
};

/* What one pass works with. */
struct pass_ctx {
	struct gt_scheduler *sc;
	struct gt_objlist pvcs, pvs, groups;
	struct gt_buf why;
	size_t waiting;
	int binds;
};

/* sched_cache.c */
/* Records pod (NULL: gone) under key in the cache and the snapshot. */
void gt_schedc_put(struct gt_scheduler *sc, const char *key, const json_t *pod);
/* Lists nodes and pods into a new snapshot (after the watch (re)opened). */
void gt_schedc_resync(struct gt_scheduler *sc);
/* The loop's hooks. */
bool gt_schedc_relevant(const struct gt_event *ev, bool waiting, void *ctx);
void gt_schedc_opened(void *ctx);
/* Whether a pod waits for this scheduler to place it. */
bool gt_schedc_pending(const json_t *pod);
const char *gt_schedc_gang_of(const json_t *pod);
/* "ns/gang" of a pod in a gang into out; false for a pod in none. */
bool gt_schedc_gang_key(const json_t *pod, char *out, size_t n);

/* scheduler.c */
const json_t *gt_schedc_find_named(const struct gt_objlist *l, const char *ns, const char *name);
/* A node for p (NULL with c->why set). */
const char *gt_schedc_place(struct pass_ctx *c, const json_t *p, json_t **terms);
/* Whether p may preempt now (not Never; no victims of its still leaving). */
bool gt_schedc_may_preempt(struct pass_ctx *c, const json_t *p);

/* sched_bind.c */
struct gt_schedc_binder;
struct gt_schedc_binder *gt_schedc_binder_new(struct gt_api *api, int threads);
void gt_schedc_binder_free(struct gt_schedc_binder *b);
/* A binding to node, or with msg a PodScheduled=False write. */
void gt_schedc_binder_add(struct gt_schedc_binder *b, const char *key, const json_t *pod,
			  const char *node, const char *msg);
void gt_schedc_binder_failed(struct gt_schedc_binder *b, void (*fn)(const char *key, void *arg),
			     void *arg);

/* sched_write.c */
bool gt_schedc_bind(struct pass_ctx *c, const json_t *pod, const char *node);
/* PodScheduled=False with msg (and an event) unless said already or bound meanwhile. */
void gt_schedc_unschedulable(struct gt_api *api, const char *ns, const char *name,
			     const char *msg);
/* The same from a pass: queued to the writers when there are some. */
void gt_schedc_say(struct pass_ctx *c, const json_t *pod, const char *msg);
void gt_schedc_nominate(struct gt_api *api, const json_t *pod, const char *node);
/* Evicts victims (DisruptionTarget, a Preempted event, delete) for preemptor on node. */
void gt_schedc_evict(struct gt_api *api, const json_t *victims, const json_t *preemptor,
		     const char *node);
void gt_schedc_group_status(struct gt_api *api, const json_t *pg, json_t *want);

/* sched_gang.c: places the pending members of one gang; returns members handled. */
void gt_schedc_place_gang(struct pass_ctx *c, const char *ns, const char *gang, json_t *members);

#endif
