/*
 * sched.h - the scheduling algorithm: a snapshot of nodes and the pods bound
 * to them in, a node for one pod (or why none fits, or which pods to
 * preempt) out.  Pure: no store, no threads; controllers/scheduler.c keeps
 * the snapshot current from the store's events and writes the decisions.
 *
 * The snapshot is incremental: nodes are set (added or replaced) and
 * deleted by name, pods added and removed as they are bound and go; each
 * node keeps the sums of what its pods request, so a pick costs only the
 * filters and scores over the nodes it looks at.  With many nodes a pick
 * stops once it has found enough feasible ones (kube-scheduler's
 * percentageOfNodesToScore: 50 % - nodes/125, at least 5 % and 100 nodes),
 * starting where the previous pick stopped.
 *
 * Filters are table rows (filters.c): unschedulable nodes, resource fit on
 * requests (cpu, memory, pods, and any extended resource such as
 * nvidia.com/gpu), taints and tolerations (NoSchedule, NoExecute; a node
 * that is not Ready counts as tainted node.kubernetes.io/not-ready),
 * nodeSelector and required node affinity (In, NotIn, Exists,
 * DoesNotExist, Gt, Lt; matchFields on metadata.name), the node affinity
 * of the pod's bound volumes, required pod anti-affinity with topology key
 * kubernetes.io/hostname, and topologySpreadConstraints with
 * whenUnsatisfiable DoNotSchedule (spread.c).  A pod that fits nowhere gets
 * Kubernetes' message: "0/3 nodes are available: 1 Insufficient cpu, 2
 * node(s) had untolerated taint {k: v}." (reasons counted per node,
 * sorted).
 *
 * Scores are weighted rows too (struct gt_sched_policy): least allocated
 * and balanced cpu/memory (spreads ordinary pods), GPU bin-packing
 * (MostAllocated: a GPU pod goes to the node with the fewest free GPUs that
 * still fit, so whole nodes stay free for big jobs; LeastAllocated: the
 * most free GPUs; a pod without GPUs prefers nodes without them), preferred
 * node affinity, and ScheduleAnyway topology spread.  Ties go to the node
 * looked at first.
 *
 * Preemption (preempt.c) follows kube-scheduler's DefaultPreemption and
 * keeps gangs whole: see gt_sched_preempt.
 */
#ifndef GT_SCHED_SCHED_H
#define GT_SCHED_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/util.h"
#include "codec/json.h"

struct gt_sched;

/* Score weights (0 turns a score off) and how nodes are sampled. */
struct gt_sched_policy {
	int least_allocated;  /* default 1 */
	int balanced;         /* default 1 */
	int gpu_binpack;      /* default 5 */
	int node_affinity;    /* default 2 */
	int topology_spread;  /* default 2 */
	bool gpu_least;       /* GPUs LeastAllocated (spread) instead of MostAllocated */
	int sample_percent;   /* percentage of nodes to score; 0: adaptive, 100: all */
};

#define GT_SCHED_GPU "nvidia.com/gpu"
#define GT_SCHED_GANG_LABEL "scheduling.x-k8s.io/pod-group"

/* The defaults above. */
void gt_sched_policy_default(struct gt_sched_policy *p);
/*
 * Parses a policy "key=value,..." over the defaults: gpu=MostAllocated|
 * LeastAllocated, least-allocated=W, balanced=W, gpu-weight=W,
 * node-affinity=W, topology-spread=W (weights 0..100),
 * percentage-of-nodes-to-score=0..100.  -EINVAL with err naming the item.
 */
int gt_sched_policy_parse(const char *s, struct gt_sched_policy *p, struct gt_err *err);

/* policy NULL: the defaults. */
struct gt_sched *gt_sched_new(const struct gt_sched_policy *policy);
void gt_sched_free(struct gt_sched *s);

/* Adds or replaces a Node (by metadata.name; a reference is kept). */
void gt_sched_add_node(struct gt_sched *s, const json_t *node);
/* A node that went away: no pod is placed there (its pods stay accounted). */
void gt_sched_del_node(struct gt_sched *s, const char *name);
/* Nodes present. */
size_t gt_sched_node_count(const struct gt_sched *s);

/*
 * Accounts a pod bound to a node (spec.nodeName) that has not finished:
 * its requests count against the node, its labels against anti-affinity
 * and spread, it may be a preemption victim.  A reference is kept until
 * gt_sched_del_pod with the same object.  Pods on nodes not (yet) known
 * are kept for when the node comes.
 */
void gt_sched_add_pod(struct gt_sched *s, const json_t *pod);
void gt_sched_del_pod(struct gt_sched *s, const json_t *pod);
/*
 * A newer state of an accounted pod on the same node (its requests do not
 * change: they are immutable): the snapshot keeps new instead of old,
 * without working the sums out again.  false when old is not there.
 */
bool gt_sched_replace_pod(struct gt_sched *s, const json_t *old, const json_t *new);

/*
 * Accounts pod (not bound yet) on node, or takes such an assumption back:
 * how a gang is tried all together before anything is bound.
 */
void gt_sched_assume(struct gt_sched *s, const json_t *pod, const char *node);
void gt_sched_forget(struct gt_sched *s, const json_t *pod, const char *node);

/*
 * Picks a node for pod.  volume_terms: the required nodeSelectorTerms
 * arrays of the PersistentVolumes its claims are bound to (a JSON array of
 * arrays; NULL for none).  Returns 0 with the node's name in node (valid
 * until the node is deleted), or -ENOSPC with the reason in why (reset
 * first).  The choice is not accounted: call gt_sched_add_pod once bound.
 */
int gt_sched_pick(struct gt_sched *s, const json_t *pod, const json_t *volume_terms,
		  const char **node, struct gt_buf *why);

/*
 * Whether a DaemonSet's pod should run on node, as Kubernetes'
 * NodeShouldRunDaemonPod decides: the pod's nodeSelector and required node
 * affinity match the node, and its tolerations cover the node's NoSchedule
 * and NoExecute taints (running: whether one already there may stay, where
 * only NoExecute taints count).  Resources, readiness and
 * spec.unschedulable are not considered.  Both borrowed.
 */
bool gt_sched_daemon_fits(const json_t *node, const json_t *pod, bool running);

/*
 * Preemption for a pod that gt_sched_pick could not place: the node where
 * removing pods of lower priority (spec.priority) than pod's makes it fit,
 * and those victims.  Only nodes that fail on resources or pod
 * anti-affinity are candidates.  On a node, every lower-priority pod is
 * taken out, then put back highest priority first while the pod still
 * fits; what cannot go back is a victim.  A victim in a gang (label
 * scheduling.x-k8s.io/pod-group) takes its whole gang, on every node, with
 * it; a gang comes back only whole.  Among candidate nodes the one whose
 * highest victim priority is lowest wins, then the fewest victims, then the
 * lowest sum of priorities.  Pods being deleted are never victims.
 *
 * Returns 0 with node (as gt_sched_pick) and the victims appended to
 * victims (a JSON array; the snapshot's pod objects), -EPERM when pod's
 * preemptionPolicy is Never, or -ENOSPC when no removal helps.  The
 * snapshot is left as it was.
 */
int gt_sched_preempt(struct gt_sched *s, const json_t *pod, const json_t *volume_terms,
		     const char **node, json_t *victims);

/* Whether a node holds a pod being deleted (its room is on the way). */
bool gt_sched_node_terminating(struct gt_sched *s, const char *node);

/*
 * The pod's effective request of resource name in its unit (cpu in
 * millicores, memory and the rest in units): the sum over containers
 * (requests, else limits) or the largest init container's, whichever is
 * more.  For tests and the scheduler's bookkeeping.
 */
int64_t gt_sched_pod_request(const json_t *pod, const char *name);

/*
 * The first of pod's tolerations that tolerates the taint key=value:effect
 * (an empty toleration effect matches every effect; an empty key with
 * operator Exists every key), borrowed from pod; NULL when none does.
 */
const json_t *gt_sched_toleration(const json_t *pod, const char *key, const char *value,
				  const char *effect);
/* spec.priority (0 when unset). */
int64_t gt_sched_priority(const json_t *pod);

#endif
