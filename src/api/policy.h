/*
 * policy.h - what the disruption controller and the Eviction API both need
 * to know about PodDisruptionBudgets and pod conditions: which pods a
 * budget selects, Kubernetes' int-or-percent arithmetic, and setting one
 * condition in an object's status.
 */
#ifndef GT_API_POLICY_H
#define GT_API_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "codec/json.h"

/*
 * Whether PodDisruptionBudget pdb selects pod: same namespace and
 * spec.selector matching its labels (policy/v1: {} selects every pod of
 * the namespace, a missing selector none).
 */
bool gt_pdb_selects(const json_t *pdb, const json_t *pod);

/*
 * intstr.GetScaledValueFromIntOrPercent: an integer as is, "N%" as N % of
 * total, rounded up or down.  -EINVAL for anything else.
 */
int gt_intstr_scaled(const json_t *v, int64_t total, bool round_up, int64_t *out);
/* Whether v is a string "N%" (a percentage). */
bool gt_intstr_is_percent(const json_t *v);

/* Whether a pod's Ready condition is True. */
bool gt_pod_is_ready(const json_t *pod);

/*
 * Sets status.conditions[type] of obj to status st with reason and
 * message (either may be NULL) and lastTransitionTime now.  Returns
 * -EALREADY (nothing changed) when it already has that status and reason.
 */
int gt_condition_put(json_t *obj, const char *type, const char *st, const char *reason,
		     const char *message);

#endif
