/*
 * hpa.h - the HorizontalPodAutoscaler's arithmetic (hpa_calc.c), pure and
 * testable: the replica count one Resource metric asks for (Kubernetes'
 * replica_calculator.go) and the behavior rules that bound a change
 * (horizontal.go: stabilization windows, scale-up/down policies,
 * min/max).  No I/O, no clock: callers pass "now".
 */
#ifndef GT_CONTROLLERS_HPA_H
#define GT_CONTROLLERS_HPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GT_HPA_TOLERANCE 0.1

/* One pod of the target as the calculator sees it. */
struct gt_hpa_pod {
	int64_t usage;      /* milli-cores or bytes; valid when has_metric */
	int64_t request;    /* the pod's request of the resource (same unit), 0 = none */
	bool has_metric;
	bool ready;         /* Ready (unready pods count as 0 when scaling up) */
};

enum gt_hpa_target { GT_HPA_UTILIZATION, GT_HPA_AVERAGE_VALUE };

/* What a metric measured, for status.currentMetrics. */
struct gt_hpa_current {
	int64_t utilization;   /* percent of requests (Utilization targets) */
	int64_t average;       /* average usage per pod with metrics */
};

/*
 * The replicas one Resource metric asks for, given current replicas and
 * the target (a percentage of requests, or an average value).  Pods
 * without metrics count as using their whole request (scaling down) or
 * nothing (scaling up); unready pods count as nothing when scaling up;
 * within GT_HPA_TOLERANCE of the target nothing changes.  Returns the
 * replica count, -ENODATA when no pod has metrics, -EINVAL when a
 * Utilization target meets a pod without a request.
 */
int gt_hpa_replicas(const struct gt_hpa_pod *pods, size_t n, int32_t current,
		    enum gt_hpa_target type, int64_t target, struct gt_hpa_current *cur);

/* A behavior's rules for one direction (autoscaling/v2 HPAScalingRules). */
struct gt_hpa_policy {
	bool percent;           /* Percent, else Pods */
	int32_t value;
	int32_t period_s;
};

enum gt_hpa_select { GT_HPA_SELECT_MAX, GT_HPA_SELECT_MIN, GT_HPA_SELECT_DISABLED };

struct gt_hpa_rules {
	int32_t window_s;       /* stabilizationWindowSeconds */
	enum gt_hpa_select select;
	struct gt_hpa_policy policies[8];
	size_t npolicies;
};

/* A past recommendation or scale change, kept per HPA by the controller. */
struct gt_hpa_stamp {
	int64_t at_ms;
	int32_t value;          /* recommendation, or replicas added/removed */
};

/* The history the behavior rules look at. */
struct gt_hpa_history {
	struct gt_hpa_stamp recs[64];     /* recommendations (stabilization) */
	size_t nrecs;
	struct gt_hpa_stamp ups[64], downs[64];  /* scale events (policies) */
	size_t nups, ndowns;
};

/* Why the result was limited (the ScalingLimited condition). */
enum gt_hpa_limit {
	GT_HPA_WITHIN_RANGE = 0,   /* DesiredWithinRange */
	GT_HPA_TOO_MANY,           /* TooManyReplicas */
	GT_HPA_TOO_FEW,            /* TooFewReplicas */
	GT_HPA_SCALE_UP_LIMIT,     /* ScaleUpLimit */
	GT_HPA_SCALE_DOWN_LIMIT,   /* ScaleDownLimit */
};

/*
 * Bounds a proposal as Kubernetes' normalizeDesiredReplicasWithBehaviors:
 * stabilized over the windows (the lowest recommendation of the scale-up
 * window, the highest of the scale-down window), then limited by the
 * policies (changes already made within each policy's period count) and
 * min/max.  Records the proposal in h (old entries are dropped).
 * *why says which limit applied.
 */
int32_t gt_hpa_normalize(struct gt_hpa_history *h, int64_t now_ms, int32_t current,
			 int32_t proposal, int32_t min, int32_t max, const struct gt_hpa_rules *up,
			 const struct gt_hpa_rules *down, enum gt_hpa_limit *why);

/* Records a scale from `from` to `to` replicas at now_ms (for the policies). */
void gt_hpa_record_scale(struct gt_hpa_history *h, int64_t now_ms, int32_t from, int32_t to);

#endif
