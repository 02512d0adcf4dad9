/*
 * Unit tests for src/controllers/hpa_calc.c: the replica count a Resource
 * metric asks for (tolerance, missing and unready pods, AverageValue) and
 * the behavior rules (stabilization windows, scale-up/down policies,
 * min/max and the reason a limit applied).
 */
#include <errno.h>

#include "t.h"
#include "api/convert.h"
#include "controllers/hpa.h"

static struct gt_hpa_pod P(int64_t usage, int64_t request)
{
	return (struct gt_hpa_pod){ usage, request, true, true };
}

TEST(utilization)
{
	struct gt_hpa_pod pods[3] = { P(500, 100), P(500, 100), P(500, 100) };
	struct gt_hpa_current cur = { 0 };

	/* 500 % of requests against a 50 % target: ten times the pods */
	CHECK_INT(gt_hpa_replicas(pods, 3, 3, GT_HPA_UTILIZATION, 50, &cur), 30);
	CHECK_INT(cur.utilization, 500);
	CHECK_INT(cur.average, 500);
	/* within 10 %: no change */
	pods[0] = P(54, 100), pods[1] = P(54, 100), pods[2] = P(54, 100);
	CHECK_INT(gt_hpa_replicas(pods, 3, 3, GT_HPA_UTILIZATION, 50, &cur), 3);
	/* just past the tolerance */
	pods[0] = P(56, 100), pods[1] = P(56, 100), pods[2] = P(56, 100);
	CHECK_INT(gt_hpa_replicas(pods, 3, 3, GT_HPA_UTILIZATION, 50, &cur), 4);
	/* idle: down to ceil(ratio * n) */
	pods[0] = P(1, 100), pods[1] = P(1, 100), pods[2] = P(1, 100);
	CHECK_INT(gt_hpa_replicas(pods, 3, 3, GT_HPA_UTILIZATION, 50, &cur), 1);
	CHECK_INT(cur.utilization, 1);
}

TEST(missing_request_and_no_metrics)
{
	struct gt_hpa_pod pods[2] = { P(100, 100), P(100, 0) };

	CHECK_INT(gt_hpa_replicas(pods, 2, 2, GT_HPA_UTILIZATION, 50, NULL), -EINVAL);
	/* AverageValue needs no requests */
	CHECK_INT(gt_hpa_replicas(pods, 2, 2, GT_HPA_AVERAGE_VALUE, 50, NULL), 4);
	pods[0].has_metric = pods[1].has_metric = false;
	CHECK_INT(gt_hpa_replicas(pods, 2, 2, GT_HPA_AVERAGE_VALUE, 50, NULL), -ENODATA);
}

TEST(missing_and_unready_pods)
{
	struct gt_hpa_pod pods[4] = { P(200, 100), P(200, 100), P(0, 100), P(0, 100) };

	/* scaling up: a pod without metrics counts as using nothing:
	 * (200+200+0)/300 = 133 % of 100 % -> ceil(1.33 * 3) = 4 */
	pods[2].has_metric = false;
	pods[3].has_metric = false;
	CHECK_INT(gt_hpa_replicas(pods, 3, 3, GT_HPA_UTILIZATION, 100, NULL), 4);
	/* ... and with both missing, 400/400 = 100 %: no change */
	CHECK_INT(gt_hpa_replicas(pods, 4, 4, GT_HPA_UTILIZATION, 100, NULL), 4);
	/* scaling down: missing pods count as using their whole request, which
	 * here flips the direction: no change */
	pods[0] = P(10, 100), pods[1] = P(10, 100);
	CHECK_INT(gt_hpa_replicas(pods, 4, 4, GT_HPA_UTILIZATION, 50, NULL), 4);
	/* unready pods count as nothing when scaling up */
	pods[0] = P(300, 100), pods[1] = P(300, 100);
	pods[2] = P(900, 100), pods[3] = P(900, 100);
	pods[2].ready = pods[3].ready = false;
	/* (300+300+0+0)/400 = 150 % of 100 % -> 6 */
	CHECK_INT(gt_hpa_replicas(pods, 4, 4, GT_HPA_UTILIZATION, 100, NULL), 6);
}

static const struct gt_hpa_rules UP = { 0, GT_HPA_SELECT_MAX, { { false, 4, 15 }, { true, 100, 15 } }, 2 };
static const struct gt_hpa_rules DOWN = { 300, GT_HPA_SELECT_MAX, { { true, 100, 15 } }, 1 };

TEST(scale_up_policies)
{
	struct gt_hpa_history h = { 0 };
	enum gt_hpa_limit why;

	/* from 1: max(1 + 4, 1 * 2) = 5 within 15 s */
	CHECK_INT(gt_hpa_normalize(&h, 1000, 1, 30, 1, 100, &UP, &DOWN, &why), 5);
	CHECK_INT(why, GT_HPA_SCALE_UP_LIMIT);
	gt_hpa_record_scale(&h, 1000, 1, 5);
	/* 5 s later the 4 pods added count against the period: start 1 -> 5 */
	CHECK_INT(gt_hpa_normalize(&h, 6000, 5, 30, 1, 100, &UP, &DOWN, &why), 5);
	/* after the period: max(5 + 4, 10) = 10 */
	CHECK_INT(gt_hpa_normalize(&h, 17000, 5, 30, 1, 100, &UP, &DOWN, &why), 10);
	/* maxReplicas wins when lower */
	CHECK_INT(gt_hpa_normalize(&h, 17000, 5, 30, 1, 8, &UP, &DOWN, &why), 8);
	CHECK_INT(why, GT_HPA_TOO_MANY);
	/* Min picks the smaller policy: min(5 + 4, 10) = 9 */
	{
		struct gt_hpa_rules up = UP;
		struct gt_hpa_history h2 = { 0 };

		up.select = GT_HPA_SELECT_MIN;
		CHECK_INT(gt_hpa_normalize(&h2, 1000, 5, 30, 1, 100, &up, &DOWN, &why), 9);
		up.select = GT_HPA_SELECT_DISABLED;
		CHECK_INT(gt_hpa_normalize(&h2, 1000, 5, 30, 1, 100, &up, &DOWN, &why), 5);
	}
}

TEST(scale_down_stabilization)
{
	struct gt_hpa_history h = { 0 };
	struct gt_hpa_rules down = DOWN;
	enum gt_hpa_limit why;

	/* a high recommendation holds a scale-down for the window */
	CHECK_INT(gt_hpa_normalize(&h, 0, 4, 4, 1, 10, &UP, &down, &why), 4);
	CHECK_INT(gt_hpa_normalize(&h, 10000, 4, 1, 1, 10, &UP, &down, &why), 4);
	CHECK_INT(gt_hpa_normalize(&h, 299000, 4, 1, 1, 10, &UP, &down, &why), 4);
	/* the 4 leaves the window after 300 s */
	CHECK_INT(gt_hpa_normalize(&h, 301000, 4, 1, 1, 10, &UP, &down, &why), 1);
	/* a short window and a Pods policy: at most 1 pod per 60 s */
	{
		struct gt_hpa_history h2 = { 0 };

		down.window_s = 0;
		down.policies[0] = (struct gt_hpa_policy){ false, 1, 60 };
		CHECK_INT(gt_hpa_normalize(&h2, 0, 4, 1, 1, 10, &UP, &down, &why), 3);
		CHECK_INT(why, GT_HPA_SCALE_DOWN_LIMIT);
		gt_hpa_record_scale(&h2, 0, 4, 3);
		CHECK_INT(gt_hpa_normalize(&h2, 30000, 3, 1, 1, 10, &UP, &down, &why), 3);
		CHECK_INT(gt_hpa_normalize(&h2, 61000, 3, 1, 1, 10, &UP, &down, &why), 2);
		/* minReplicas bounds it */
		CHECK_INT(gt_hpa_normalize(&h2, 200000, 2, 1, 2, 10, &UP, &down, &why), 2);
	}
	/* scale-up window: the lowest recent recommendation */
	{
		struct gt_hpa_history h3 = { 0 };
		struct gt_hpa_rules up = UP;

		up.window_s = 60;
		CHECK_INT(gt_hpa_normalize(&h3, 0, 2, 2, 1, 10, &up, &DOWN, &why), 2);
		CHECK_INT(gt_hpa_normalize(&h3, 10000, 2, 6, 1, 10, &up, &DOWN, &why), 2);
		CHECK_INT(gt_hpa_normalize(&h3, 61000, 2, 6, 1, 10, &up, &DOWN, &why), 6);
	}
}

TEST(v1_v2_conversion)
{
	json_t *v1 = json_pack("{s:s,s:s,s:{s:s},s:{s:{s:s,s:s,s:s},s:i,s:i,s:i},s:{s:i,s:i,s:i}}",
			       "apiVersion", "autoscaling/v1", "kind", "HorizontalPodAutoscaler",
			       "metadata", "name", "web", "spec", "scaleTargetRef", "apiVersion",
			       "apps/v1", "kind", "Deployment", "name", "web", "minReplicas", 1,
			       "maxReplicas", 4, "targetCPUUtilizationPercentage", 60, "status",
			       "currentReplicas", 2, "desiredReplicas", 3,
			       "currentCPUUtilizationPercentage", 90);
	json_t *v2 = gt_hpa_v1_to_v2(v1), *back;

	CHECK_STR(gt_json_str(v2, "apiVersion"), "autoscaling/v2");
	CHECK_STR(gt_json_str(v2, "metadata.name"), "web");
	CHECK(!gt_json_path(v2, "spec.targetCPUUtilizationPercentage"));
	CHECK_STR(gt_json_str(json_array_get(gt_json_path(v2, "spec.metrics"), 0), "resource.target.type"),
		  "Utilization");
	back = gt_hpa_v2_to_v1(v2);
	/* what v1 can hold survives the round trip */
	CHECK(gt_json_equal(back, v1));
	json_decref(back);
	json_decref(v2);
	json_decref(v1);
}

int main(void)
{
	RUN(v1_v2_conversion);
	RUN(utilization);
	RUN(missing_request_and_no_metrics);
	RUN(missing_and_unready_pods);
	RUN(scale_up_policies);
	RUN(scale_down_stabilization);
	return t_done();
}
