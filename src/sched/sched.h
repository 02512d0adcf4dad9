/*
 * sched.h - the scheduling algorithm: a snapshot of nodes and the pods bound
 * to them in, a node for one pod (or why none fits) out.  Pure: no store,
 * no threads; controllers/scheduler.c feeds it and writes the bindings.
 *
 * Filters are table rows (sched.c): resource fit on requests (cpu, memory,
 * pods, and any extended resource such as nvidia.com/gpu), unschedulable
 * nodes, taints and tolerations (NoSchedule, NoExecute; a node that is not
 * Ready counts as tainted node.kubernetes.io/not-ready), nodeSelector and
 * required node affinity (In, NotIn, Exists, DoesNotExist, Gt, Lt;
 * matchFields on metadata.name), the node affinity of the pod's bound
 * volumes, and required pod anti-affinity with topology key
 * kubernetes.io/hostname.  A pod that fits nowhere gets Kubernetes' message:
 * "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated
 * taint {k: v}." (reasons counted per node, sorted).
 *
 * Scores are weighted rows too (struct gt_sched_policy): least allocated
 * and balanced cpu/memory (spreads ordinary pods), GPU bin-packing (a GPU
 * pod goes to the node with the fewest free GPUs that still fit, so whole
 * nodes stay free for big jobs; a pod without GPUs prefers nodes without
 * them), and preferred node affinity.  Ties go to the node added first.
 */
#ifndef GT_SCHED_SCHED_H
#define GT_SCHED_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "codec/json.h"

struct gt_sched;

/* Score weights; 0 turns a score off. */
struct gt_sched_policy {
	int least_allocated;  /* default 1 */
	int balanced;         /* default 1 */
	int gpu_binpack;      /* default 5 */
	int node_affinity;    /* default 2 */
};

#define GT_SCHED_GPU "nvidia.com/gpu"

/* policy NULL: the defaults. */
struct gt_sched *gt_sched_new(const struct gt_sched_policy *policy);
void gt_sched_free(struct gt_sched *s);

/* Adds a Node (borrowed: it must outlive s). */
void gt_sched_add_node(struct gt_sched *s, const json_t *node);
/*
 * Accounts a pod bound to a node (spec.nodeName) that has not finished:
 * its requests count against the node, its labels against anti-affinity.
 * Borrowed.  Pods on unknown nodes are ignored.
 */
void gt_sched_add_pod(struct gt_sched *s, const json_t *pod);

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
 * while s lives), or -ENOSPC with the reason in why (reset first).  The
 * choice is not accounted: call gt_sched_add_pod once bound.
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

#endif
