/*
 * hpa.c - the HorizontalPodAutoscaler controller (autoscaling/v2), as
 * Kubernetes' podautoscaler/horizontal.go runs it: every sync period each
 * HPA reads its target's scale (spec.replicas and the selector of a
 * Deployment, ReplicaSet, StatefulSet or scalable custom resource), the
 * usage of the target's pods (apiserver/metrics.h, the same figures
 * metrics.k8s.io serves) and their requests, works out the replicas each
 * Resource metric asks for (hpa_calc.c), bounds the largest by minReplicas,
 * maxReplicas and the behavior rules, writes the target's replicas, and
 * reports status (currentReplicas, desiredReplicas, currentMetrics,
 * lastScaleTime, conditions AbleToScale, ScalingActive, ScalingLimited) and
 * SuccessfulRescale events.  The behavior's history (recommendations and
 * scale changes) lives in memory, as in kube-controller-manager.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/quantity.h"
#include "api/selector.h"
#include "apiserver/metrics.h"
#include "base/log.h"
#include "controllers/controllers.h"
#include "controllers/hpa.h"

struct hstate {
	char uid[64];
	int64_t last_ms, gen;
	bool seen;
	struct gt_hpa_history h;
};

struct gt_hpa_ctl {
	int sync_ms;
	struct hstate *s;
	size_t n, cap;
};

/* What one sync found, for status. */
struct outcome {
	int32_t current, desired;     /* the target's spec replicas and what they should be */
	int32_t status_replicas;      /* its status replicas: status.currentReplicas */
	json_t *metrics;              /* status.currentMetrics */
	bool able, active, rescaled;
	enum gt_hpa_limit why;
	char able_reason[40], active_reason[40];
	char able_msg[512], active_msg[512];
};

/*
 * The pod's request of res (milli-cores for cpu, bytes otherwise); 0 when a
 * container has none, whose name goes to *missing.
 */
static int64_t pod_request(const json_t *pod, const char *res, bool cpu, const char **missing)
{
	const json_t *c;
	int64_t sum = 0;
	size_t i;

	json_array_foreach(gt_json_path(pod, "spec.containers"), i, c) {
		const json_t *v = json_object_get(gt_json_path(c, "resources.requests"), res);
		struct gt_quantity q;

		if (!v || gt_quantity_from_json(v, &q, NULL) < 0) {
			*missing = gt_json_str(c, "name");
			return 0;
		}
		sum += cpu ? gt_quantity_milli(&q) : gt_quantity_value(&q);
	}
	return sum;
}

struct target {
	const json_t *spec;          /* the metric's resource: {name, target} */
	const char *res;
	bool cpu;
	enum gt_hpa_target type;
	int64_t value;
};

static int parse_target(const json_t *m, struct target *t, char *msg, size_t n)
{
	const char *type = gt_json_str(m, "type") ?: "";
	const json_t *tg;
	struct gt_quantity q;

	if (strcmp(type, "Resource")) {
		snprintf(msg, n, "the HPA controller only supports Resource metrics (got %s)", type);
		return -ENOTSUP;
	}
	t->spec = json_object_get(m, "resource");
	t->res = gt_json_str(t->spec, "name") ?: "";
	t->cpu = !strcmp(t->res, "cpu");
	tg = json_object_get(t->spec, "target");
	if (!strcmp(gt_json_str(tg, "type") ?: "", "Utilization") &&
	    gt_json_int(tg, "averageUtilization", &t->value) == 0) {
		t->type = GT_HPA_UTILIZATION;
		return 0;
	}
	if (!strcmp(gt_json_str(tg, "type") ?: "", "AverageValue") &&
	    gt_quantity_from_json(json_object_get(tg, "averageValue"), &q, NULL) == 0) {
		t->type = GT_HPA_AVERAGE_VALUE;
		t->value = t->cpu ? gt_quantity_milli(&q) : gt_quantity_value(&q);
		return 0;
	}
	snprintf(msg, n, "invalid target for resource %s", t->res);
	return -EINVAL;
}

/* "cpu resource utilization (percentage of request)" / "memory resource" */
static void metric_name(const struct target *t, char *out, size_t n)
{
	snprintf(out, n, "%s resource%s", t->res,
		 t->type == GT_HPA_UTILIZATION ? " utilization (percentage of request)" : "");
}

static json_t *metric_status(const struct target *t, const struct gt_hpa_current *cur)
{
	struct gt_quantity q;
	char qs[GT_QUANTITY_STRLEN];
	json_t *c;

	if (t->cpu)
		gt_quantity_set_milli(&q, cur->average, GT_QUANTITY_DECIMAL_SI);
	else
		gt_quantity_set_int(&q, cur->average, GT_QUANTITY_DECIMAL_SI);
	gt_quantity_format(&q, qs);
	c = json_pack("{s:s}", "averageValue", qs);
	if (t->type == GT_HPA_UTILIZATION)
		json_object_set_new(c, "averageUtilization", json_integer(cur->utilization));
	return json_pack("{s:s,s:{s:s,s:o}}", "type", "Resource", "resource", "name", t->res,
			 "current", c);
}

/*
 * The replicas the metrics ask for (the largest), or < 0 with
 * o->active_* saying why none could be computed.
 */
static int32_t from_metrics(const json_t *hpa, const struct gt_objlist *pods,
			    const struct gt_labelsel *sel, const json_t *scrape, struct outcome *o,
			    char *why_name, size_t wn)
{
	const char *ns = gt_json_str(hpa, "metadata.namespace") ?: "";
	const json_t *m;
	struct gt_hpa_pod *hp = xcalloc(pods->n + 1, sizeof(*hp));
	int32_t best = -1;
	size_t i, invalid = 0, nm = json_array_size(gt_json_path(hpa, "spec.metrics"));
	char first[512] = "";

	json_array_foreach(gt_json_path(hpa, "spec.metrics"), i, m) {
		struct target t;
		struct gt_hpa_current cur = { 0 };
		char msg[512];
		size_t n = 0;
		const char *lacks = NULL, *lacks_pod = NULL;
		int r;

		if (parse_target(m, &t, msg, sizeof(msg)) < 0) {
			invalid++;
			if (!*first)
				snprintf(first, sizeof(first), "%s", msg);
			continue;
		}
		for (size_t k = 0; k < pods->n; k++) {
			const json_t *p = pods->items[k]->obj;
			const char *ph = gt_json_str(p, "status.phase") ?: "";
			int64_t cpu, mem;

			if (strcmp(gt_json_str(p, "metadata.namespace") ?: "", ns) ||
			    !gt_labelsel_match(sel, gt_json_path(p, "metadata.labels")) ||
			    gt_json_path(p, "metadata.deletionTimestamp") || gt_pod_finished(p))
				continue;
			hp[n].request = pod_request(p, t.res, t.cpu, &lacks);
			if (lacks && !lacks_pod)
				lacks_pod = gt_json_str(p, "metadata.name");
			/* Pending pods are unready; CPU also counts not-Ready pods unready */
			hp[n].ready = strcmp(ph, "Pending") && *ph && (!t.cpu || gt_pod_is_ready(p));
			hp[n].has_metric = gt_metrics_pod_usage(scrape, gt_json_str(p, "metadata.uid") ?: "",
							       &cpu, &mem) == 0;
			hp[n].usage = t.cpu ? cpu / 1000000 : mem;
			n++;
		}
		r = gt_hpa_replicas(hp, n, o->current, t.type, t.value, &cur);
		if (r < 0) {
			invalid++;
			if (*first)
				continue;
			if (r == -EINVAL && lacks)
				snprintf(first, sizeof(first), "failed to get %s utilization: missing request for %s in container %s of Pod %s",
					 t.res, t.res, lacks, lacks_pod ?: "");
			else
				snprintf(first, sizeof(first), "failed to get %s utilization: unable to get metrics for resource %s: no metrics returned from resource metrics API",
					 t.res, t.res);
			continue;
		}
		json_array_append_new(o->metrics, metric_status(&t, &cur));
		if (r > best) {
			best = r;
			metric_name(&t, why_name, wn);
		}
	}
	free(hp);
	/* all invalid, or some invalid and the rest would scale down: hold */
	if (invalid && (invalid >= nm || best < o->current)) {
		o->active = false;
		snprintf(o->active_reason, sizeof(o->active_reason), "FailedGetResourceMetric");
		snprintf(o->active_msg, sizeof(o->active_msg), "the HPA was unable to compute the replica count: %s",
			 first);
		return -ENODATA;
	}
	o->active = true;
	snprintf(o->active_reason, sizeof(o->active_reason), "ValidMetricFound");
	snprintf(o->active_msg, sizeof(o->active_msg),
		 "the HPA was able to successfully calculate a replica count from %s", why_name);
	return best;
}

/* A behavior direction, with the autoscaling/v2 defaults for what is absent. */
static void rules_of(const json_t *r, bool up, struct gt_hpa_rules *out)
{
	const char *sel = gt_json_str(r, "selectPolicy");
	const json_t *p;
	int64_t v;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->window_s = up ? 0 : 300;
	if (gt_json_int(r, "stabilizationWindowSeconds", &v) == 0)
		out->window_s = (int32_t)v;
	out->select = !sel || !strcmp(sel, "Max") ? GT_HPA_SELECT_MAX :
		      !strcmp(sel, "Min") ? GT_HPA_SELECT_MIN : GT_HPA_SELECT_DISABLED;
	json_array_foreach(json_object_get(r, "policies"), i, p) {
		struct gt_hpa_policy *pol;
		int64_t val = 0, per = 0;

		if (out->npolicies == GT_ARRAY_SIZE(out->policies))
			break;
		pol = &out->policies[out->npolicies++];
		gt_json_int(p, "value", &val);
		gt_json_int(p, "periodSeconds", &per);
		*pol = (struct gt_hpa_policy){ !strcmp(gt_json_str(p, "type") ?: "", "Percent"),
					       (int32_t)val, (int32_t)per };
	}
	if (!json_object_get(r, "policies")) {
		out->policies[0] = (struct gt_hpa_policy){ true, 100, 15 };
		out->npolicies = 1;
		if (up)
			out->policies[out->npolicies++] = (struct gt_hpa_policy){ false, 4, 15 };
	}
}

/* ---- the target's scale ---- */

static const char *spec_path(const struct gt_resource *r)
{
	const char *p = r->custom && r->scale_spec_path ? r->scale_spec_path : "spec.replicas";

	return p[0] == '.' ? p + 1 : p;
}

static int64_t status_replicas(const struct gt_resource *r, const json_t *obj)
{
	const char *p = r->custom && r->scale_status_path ? r->scale_status_path : "status.replicas";
	int64_t v = 0;

	gt_json_int(obj, p[0] == '.' ? p + 1 : p, &v);
	return v;
}

static int set_replicas(json_t *obj, void *ctx, struct gt_err *err)
{
	const struct gt_resource *r = ((const void **)ctx)[0];
	int32_t want = *(const int32_t *)((const void **)ctx)[1];
	int64_t cur = -1;

	(void)err;
	if (gt_json_int(obj, spec_path(r), &cur) == 0 && cur == want)
		return -EALREADY;
	gt_json_set(obj, spec_path(r), json_integer(want));
	return 0;
}

static int target_selector(const struct gt_resource *r, const json_t *obj, struct gt_labelsel **sel)
{
	if (r->custom) {
		const char *p = r->scale_selector_path;

		if (!p)
			return -ENOENT;
		return gt_labelsel_parse(gt_json_str(obj, p[0] == '.' ? p + 1 : p) ?: "", sel, NULL);
	}
	return gt_labelsel_from_object(gt_json_path(obj, "spec.selector"), sel, NULL);
}

/* ---- status ---- */

static const char *const limit_reason[][2] = {
	[GT_HPA_WITHIN_RANGE] = { "DesiredWithinRange", "the desired count is within the acceptable range" },
	[GT_HPA_TOO_MANY] = { "TooManyReplicas", "the desired replica count is more than the maximum replica count" },
	[GT_HPA_TOO_FEW] = { "TooFewReplicas", "the desired replica count is less than the minimum replica count" },
	[GT_HPA_SCALE_UP_LIMIT] = { "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate" },
	[GT_HPA_SCALE_DOWN_LIMIT] = { "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate" },
};

/* A condition, keeping lastTransitionTime when its status did not change. */
static json_t *cond(const json_t *old, const char *type, bool status, const char *reason,
		    const char *msg, const char *now)
{
	const char *st = status ? "True" : "False", *since = now;
	const json_t *c;
	size_t i;

	json_array_foreach(old, i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", type) &&
		    !strcmp(gt_json_str(c, "status") ?: "", st) && gt_json_str(c, "lastTransitionTime"))
			since = gt_json_str(c, "lastTransitionTime");
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", type, "status", st, "lastTransitionTime",
			 since, "reason", reason, "message", msg);
}

struct status_ctx {
	const struct outcome *o;
	int64_t generation;
};

static int set_status(json_t *obj, void *ctx, struct gt_err *err)
{
	const struct status_ctx *sc = ctx;
	const struct outcome *o = sc->o;
	json_t *old = json_object_get(obj, "status"), *st, *conds;
	const json_t *oc = json_object_get(old, "conditions");
	char now[32];

	(void)err;
	gt_time_rfc3339(time(NULL), now);
	st = json_pack("{s:I,s:i,s:i}", "observedGeneration", (json_int_t)sc->generation,
		       "currentReplicas", o->status_replicas, "desiredReplicas", o->desired);
	if (json_array_size(o->metrics))
		json_object_set(st, "currentMetrics", o->metrics);
	if (o->rescaled)
		json_object_set_new(st, "lastScaleTime", json_string(now));
	else if (gt_json_str(old, "lastScaleTime"))
		json_object_set(st, "lastScaleTime", json_object_get(old, "lastScaleTime"));
	conds = json_array();
	json_array_append_new(conds, cond(oc, "AbleToScale", o->able, o->able_reason, o->able_msg, now));
	if (o->active_reason[0])
		json_array_append_new(conds, cond(oc, "ScalingActive", o->active, o->active_reason,
						  o->active_msg, now));
	if (o->active)
		json_array_append_new(conds, cond(oc, "ScalingLimited", o->why != GT_HPA_WITHIN_RANGE,
						  limit_reason[o->why][0], limit_reason[o->why][1], now));
	json_object_set_new(st, "conditions", conds);
	if (gt_json_equal(st, old)) {
		json_decref(st);
		return -EALREADY;
	}
	json_object_set_new(obj, "status", st);
	return 0;
}

/* ---- one HPA ---- */

static void sync_one(struct gt_api *api, struct hstate *hs, const json_t *hpa, json_t **scrape)
{
	const json_t *spec = json_object_get(hpa, "spec"), *ref = json_object_get(spec, "scaleTargetRef");
	const char *ns = gt_json_str(hpa, "metadata.namespace") ?: "";
	const char *kind = gt_json_str(ref, "kind") ?: "", *tname = gt_json_str(ref, "name") ?: "";
	const struct gt_resource *tr = gt_registry_find_kind(gt_json_str(ref, "apiVersion") ?: "", kind);
	struct outcome o = { .metrics = json_array(), .able = true };
	struct status_ctx sc = { &o, 0 };
	struct gt_labelsel *sel = NULL;
	struct gt_obj *target = NULL, *out = NULL;
	int64_t min = 1, max = 1, cur = 1;
	char reason[300] = "", metric[200] = "";
	struct gt_err err;

	gt_json_int(spec, "minReplicas", &min);
	gt_json_int(spec, "maxReplicas", &max);
	gt_json_int(hpa, "metadata.generation", &sc.generation);
	gt_err_clear(&err);
	if (!tr || !(tr->subresources & GT_SUB_SCALE) ||
	    gt_api_get(api, tr, ns, tname, &target, &err) < 0 || target_selector(tr, target->obj, &sel) < 0) {
		o.able = false;
		snprintf(o.able_reason, sizeof(o.able_reason), "FailedGetScale");
		snprintf(o.able_msg, sizeof(o.able_msg), "the HPA controller was unable to get the target's current scale: %s",
			 !tr ? "no matches for the kind of scaleTargetRef" :
			 !(tr->subresources & GT_SUB_SCALE) ? "the target has no scale subresource" :
			 err.msg[0] ? err.msg : "the target has no selector");
		goto status;
	}
	gt_json_int(target->obj, spec_path(tr), &cur);
	o.current = o.desired = (int32_t)cur;
	o.status_replicas = (int32_t)status_replicas(tr, target->obj);
	if (cur == 0 && min != 0) {
		snprintf(o.active_reason, sizeof(o.active_reason), "ScalingDisabled");
		snprintf(o.active_msg, sizeof(o.active_msg), "scaling is disabled since the replica count of the target is zero");
	} else if (cur > max) {
		o.desired = (int32_t)max;
		snprintf(reason, sizeof(reason), "Current number of replicas above Spec.MaxReplicas");
	} else if (cur < min) {
		o.desired = (int32_t)min;
		snprintf(reason, sizeof(reason), "Current number of replicas below Spec.MinReplicas");
	} else {
		struct gt_objlist pods = { 0 };
		char prefix[300];
		int32_t want;

		snprintf(prefix, sizeof(prefix), "core/pods/%s/", ns);
		gt_objlist_load(api, prefix, &pods);
		if (!*scrape)
			*scrape = gt_metrics_scrape(api, NULL);
		want = from_metrics(hpa, &pods, sel, *scrape, &o, metric, sizeof(metric));
		gt_objlist_release(&pods);
		if (want >= 0) {
			struct gt_hpa_rules up, down;
			const json_t *b = json_object_get(spec, "behavior");

			rules_of(json_object_get(b, "scaleUp"), true, &up);
			rules_of(json_object_get(b, "scaleDown"), false, &down);
			o.desired = gt_hpa_normalize(&hs->h, gt_now_ms(), o.current, want, (int32_t)min,
						     (int32_t)max, &up, &down, &o.why);
			if (o.desired > o.current)
				snprintf(reason, sizeof(reason), "%s above target", metric);
			else if (o.desired < o.current)
				snprintf(reason, sizeof(reason), "All metrics below target");
		}
	}
	snprintf(o.able_reason, sizeof(o.able_reason), "ReadyForNewScale");
	snprintf(o.able_msg, sizeof(o.able_msg), "recommended size matches current size");
	if (o.desired != o.current) {
		const void *args[2] = { tr, &o.desired };
		char msg[600];

		gt_err_clear(&err);
		if (gt_api_modify(api, tr, ns, tname, GT_PART_MAIN, set_replicas, args, NULL, &out, &err) < 0 &&
		    err.code != -EALREADY) {
			o.able = false;
			snprintf(o.able_reason, sizeof(o.able_reason), "FailedUpdateScale");
			snprintf(o.able_msg, sizeof(o.able_msg), "the HPA controller was unable to update the target scale: %s",
				 err.msg);
			gt_record_event(api, hpa, "Warning", "FailedRescale", "horizontal-pod-autoscaler", "%s", o.able_msg);
		} else {
			o.rescaled = true;
			gt_hpa_record_scale(&hs->h, gt_now_ms(), o.current, o.desired);
			snprintf(o.able_reason, sizeof(o.able_reason), "SucceededRescale");
			snprintf(o.able_msg, sizeof(o.able_msg), "the HPA controller was able to update the target scale to %d",
				 o.desired);
			snprintf(msg, sizeof(msg), "New size: %d; reason: %s", o.desired, reason);
			gt_record_event(api, hpa, "Normal", "SuccessfulRescale", "horizontal-pod-autoscaler", "%s", msg);
			gt_info("hpa %s/%s: %s %s from %d to %d (%s)", ns, gt_json_str(hpa, "metadata.name"),
				kind, tname, o.current, o.desired, reason);
		}
		gt_obj_unref(out);
		out = NULL;
	}
status:
	gt_api_modify(api, gt_registry_find("autoscaling", "v2", "horizontalpodautoscalers"), ns,
		      gt_json_str(hpa, "metadata.name"), GT_PART_STATUS, set_status, &sc, NULL, &out, NULL);
	gt_obj_unref(out);
	gt_obj_unref(target);
	gt_labelsel_free(sel);
	gt_resource_unref(tr);
	json_decref(o.metrics);
}

/* ---- the loop ---- */

static struct hstate *state_of(struct gt_hpa_ctl *c, const char *uid)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->s[i].uid, uid))
			return &c->s[i];
	gt_grow((void **)&c->s, &c->cap, c->n + 1, sizeof(*c->s));
	memset(&c->s[c->n], 0, sizeof(*c->s));
	snprintf(c->s[c->n].uid, sizeof(c->s[c->n].uid), "%s", uid);
	return &c->s[c->n++];
}

int gt_hpa_pass(struct gt_api *api, void *ctx)
{
	struct gt_hpa_ctl *c = ctx;
	struct gt_objlist hpas = { 0 };
	json_t *scrape = NULL;
	int64_t now = gt_now_ms();

	gt_objlist_load(api, "autoscaling/horizontalpodautoscalers/", &hpas);
	for (size_t i = 0; i < c->n; i++)
		c->s[i].seen = false;
	for (size_t i = 0; i < hpas.n; i++) {
		const json_t *hpa = hpas.items[i]->obj;
		struct hstate *hs = state_of(c, gt_json_str(hpa, "metadata.uid") ?: "");
		int64_t gen = 0;

		hs->seen = true;
		gt_json_int(hpa, "metadata.generation", &gen);
		/* once per sync period, or at once when the spec changed; a
		 * little slack so the loop's own period does not skip one */
		if ((hs->last_ms && now - hs->last_ms < c->sync_ms - 250 && hs->gen == gen) ||
		    gt_json_path(hpa, "metadata.deletionTimestamp"))
			continue;
		hs->last_ms = now;
		hs->gen = gen;
		sync_one(api, hs, hpa, &scrape);
	}
	for (size_t i = 0; i < c->n;)
		if (!c->s[i].seen)
			c->s[i] = c->s[--c->n];
		else
			i++;
	json_decref(scrape);
	gt_objlist_release(&hpas);
	return c->n ? 1 : 0;
}

bool gt_hpa_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	(void)ctx;
	(void)waiting;
	return !strncmp(ev->obj->key, "autoscaling/horizontalpodautoscalers/", 37);
}

struct gt_hpa_ctl *gt_hpa_ctl_new(int sync_ms)
{
	struct gt_hpa_ctl *c = xcalloc(1, sizeof(*c));

	c->sync_ms = sync_ms > 0 ? sync_ms : 15000;
	return c;
}

void gt_hpa_ctl_free(struct gt_hpa_ctl *c)
{
	if (!c)
		return;
	free(c->s);
	free(c);
}
