/*
 * convert.h - conversions between served versions of one stored kind.
 * HorizontalPodAutoscalers are stored as autoscaling/v2; autoscaling/v1
 * (what kubectl 1.20's `autoscale` creates) is converted at the edge, as
 * Kubernetes' conversion functions do: v1's targetCPUUtilizationPercentage
 * is a v2 Resource cpu Utilization metric, currentCPUUtilizationPercentage
 * the matching currentMetrics entry.
 */
#ifndef GT_API_CONVERT_H
#define GT_API_CONVERT_H

#include "codec/json.h"

/* A new autoscaling/v2 object from an autoscaling/v1 one (caller owns). */
json_t *gt_hpa_v1_to_v2(const json_t *v1);
/* A new autoscaling/v1 object from an autoscaling/v2 one (caller owns). */
json_t *gt_hpa_v2_to_v1(const json_t *v2);

#endif
