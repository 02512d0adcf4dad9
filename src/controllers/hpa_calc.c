/*
 * hpa_calc.c - the HorizontalPodAutoscaler's arithmetic (see hpa.h),
 * following Kubernetes' replica_calculator.go (GetResourceReplicas,
 * calcPlainMetricReplicas) and horizontal.go
 * (normalizeDesiredReplicasWithBehaviors) closely enough that the same
 * inputs give the same replica counts.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "base/util.h"
#include "controllers/hpa.h"

/* The usage ratio of a set of pods: utilization of requests, or average over target. */
static double ratio_of(int64_t usage, int64_t requests, size_t n, enum gt_hpa_target type,
		       int64_t target, struct gt_hpa_current *cur)
{
	if (type == GT_HPA_UTILIZATION) {
		int64_t util = requests > 0 ? usage * 100 / requests : 0;

		if (cur) {
			cur->utilization = util;
			cur->average = n ? usage / (int64_t)n : 0;
		}
		return (double)util / (double)target;
	}
	if (cur)
		cur->average = n ? usage / (int64_t)n : 0;
	return n ? (double)(usage / (int64_t)n) / (double)target : 0;
}

int gt_hpa_replicas(const struct gt_hpa_pod *pods, size_t n, int32_t current,
		    enum gt_hpa_target type, int64_t target, struct gt_hpa_current *cur)
{
	int64_t usage = 0, requests = 0;
	size_t counted = 0, missing = 0, unready = 0;
	double ratio, nratio;
	int64_t nusage, nrequests;
	size_t ncount;
	int32_t want;

	if (target <= 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (type == GT_HPA_UTILIZATION && pods[i].request <= 0)
			return -EINVAL;
		if (!pods[i].has_metric) {
			missing++;
			continue;
		}
		if (!pods[i].ready) {
			unready++;
			continue;
		}
		usage += pods[i].usage;
		requests += pods[i].request;
		counted++;
	}
	if (!counted)
		return -ENODATA;
	ratio = ratio_of(usage, requests, counted, type, target, cur);
	if (!(unready && ratio > 1.0) && !missing) {
		if (fabs(1.0 - ratio) <= GT_HPA_TOLERANCE)
			return current;
		return (int32_t)ceil(ratio * (double)counted);
	}
	/* rebalance: missing pods use their whole request when scaling down
	 * and nothing when scaling up; unready pods nothing when scaling up */
	nusage = usage;
	nrequests = requests;
	ncount = counted;
	for (size_t i = 0; i < n; i++) {
		if (!pods[i].has_metric && ratio != 1.0) {
			if (ratio < 1.0)
				nusage += type == GT_HPA_UTILIZATION ? pods[i].request : target;
			nrequests += pods[i].request;
			ncount++;
		} else if (pods[i].has_metric && !pods[i].ready && ratio > 1.0) {
			nrequests += pods[i].request;
			ncount++;
		}
	}
	nratio = ratio_of(nusage, nrequests, ncount, type, target, NULL);
	if (fabs(1.0 - nratio) <= GT_HPA_TOLERANCE || (ratio < 1.0 && nratio > 1.0) ||
	    (ratio > 1.0 && nratio < 1.0))
		return current;
	want = (int32_t)ceil(nratio * (double)ncount);
	if ((nratio < 1.0 && want > current) || (nratio > 1.0 && want < current))
		return current;
	return want;
}

/* Replicas added (or removed) within the last period_s seconds. */
static int32_t changed_within(const struct gt_hpa_stamp *ev, size_t n, int64_t now_ms, int32_t period_s)
{
	int32_t sum = 0;

	for (size_t i = 0; i < n; i++)
		if (ev[i].at_ms > now_ms - (int64_t)period_s * 1000)
			sum += ev[i].value;
	return sum;
}

static int32_t limit_of(const struct gt_hpa_history *h, int64_t now_ms, int32_t current,
			const struct gt_hpa_rules *r, bool up)
{
	bool pick_max = up ? r->select != GT_HPA_SELECT_MIN : r->select == GT_HPA_SELECT_MIN;
	int32_t result = pick_max ? INT32_MIN : INT32_MAX;

	if (r->select == GT_HPA_SELECT_DISABLED || !r->npolicies)
		return current;
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct gt_hpa_policy *p = &r->policies[i];
		int32_t start = current - changed_within(h->ups, h->nups, now_ms, p->period_s) +
				changed_within(h->downs, h->ndowns, now_ms, p->period_s);
		int32_t proposed;

		if (up)
			proposed = p->percent ? (int32_t)ceil((double)start * (1.0 + p->value / 100.0)) :
						start + p->value;
		else
			proposed = p->percent ? (int32_t)((double)start * (1.0 - p->value / 100.0)) :
						start - p->value;
		result = pick_max ? (proposed > result ? proposed : result) :
				    (proposed < result ? proposed : result);
	}
	return result;
}

/* Appends to a bounded list, dropping the oldest entry when full. */
static void push(struct gt_hpa_stamp *list, size_t *n, size_t cap, int64_t at_ms, int32_t value)
{
	if (*n == cap) {
		memmove(list, list + 1, (cap - 1) * sizeof(*list));
		(*n)--;
	}
	list[(*n)++] = (struct gt_hpa_stamp){ at_ms, value };
}

int32_t gt_hpa_normalize(struct gt_hpa_history *h, int64_t now_ms, int32_t current,
			 int32_t proposal, int32_t min, int32_t max, const struct gt_hpa_rules *up,
			 const struct gt_hpa_rules *down, enum gt_hpa_limit *why)
{
	int32_t up_rec = proposal, down_rec = proposal, desired = current;
	int64_t up_cut = now_ms - (int64_t)up->window_s * 1000;
	int64_t down_cut = now_ms - (int64_t)down->window_s * 1000;
	int64_t keep = up_cut < down_cut ? up_cut : down_cut;
	size_t k = 0;

	*why = GT_HPA_WITHIN_RANGE;
	for (size_t i = 0; i < h->nrecs; i++) {
		if (h->recs[i].at_ms > up_cut && h->recs[i].value < up_rec)
			up_rec = h->recs[i].value;
		if (h->recs[i].at_ms > down_cut && h->recs[i].value > down_rec)
			down_rec = h->recs[i].value;
		if (h->recs[i].at_ms > keep)
			h->recs[k++] = h->recs[i];
	}
	h->nrecs = k;
	push(h->recs, &h->nrecs, GT_ARRAY_SIZE(h->recs), now_ms, proposal);
	if (desired < up_rec)
		desired = up_rec;
	if (desired > down_rec)
		desired = down_rec;

	if (desired > current) {
		int32_t lim = limit_of(h, now_ms, current, up, true);
		enum gt_hpa_limit reason = GT_HPA_SCALE_UP_LIMIT;

		if (lim < current)
			lim = current;
		if (max <= lim) {
			lim = max;
			reason = GT_HPA_TOO_MANY;
		}
		if (desired > lim) {
			desired = lim;
			*why = reason;
		}
	} else if (desired < current) {
		int32_t lim = limit_of(h, now_ms, current, down, false);
		enum gt_hpa_limit reason = GT_HPA_SCALE_DOWN_LIMIT;

		if (lim > current)
			lim = current;
		if (min >= lim) {
			lim = min;
			reason = GT_HPA_TOO_FEW;
		}
		if (desired < lim) {
			desired = lim;
			*why = reason;
		}
	}
	return desired;
}

void gt_hpa_record_scale(struct gt_hpa_history *h, int64_t now_ms, int32_t from, int32_t to)
{
	if (to > from)
		push(h->ups, &h->nups, GT_ARRAY_SIZE(h->ups), now_ms, to - from);
	else if (to < from)
		push(h->downs, &h->ndowns, GT_ARRAY_SIZE(h->downs), now_ms, from - to);
}
