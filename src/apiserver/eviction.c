/*
 * eviction.c - POST pods/NAME/eviction, the Eviction API (policy/v1, and
 * the policy/v1beta1 body kubectl 1.20's drain sends), as Kubernetes'
 * EvictionREST does it:
 *
 *  - a pod already terminating, finished or still Pending is deleted
 *    without asking any PodDisruptionBudget;
 *  - otherwise the one budget selecting it (more than one: 500) must allow
 *    a disruption: its status must be current (observedGeneration), and
 *    disruptionsAllowed > 0 is decremented with the pod recorded in
 *    disruptedPods, in one write with a resourceVersion precondition, so
 *    two evictions racing for the last allowed disruption cannot both
 *    pass.  No disruption left: 429 TooManyRequests, "Cannot evict pod as
 *    it would violate the pod's disruption budget.", cause DisruptionBudget.
 *    A pod that is not Ready is evicted without spending a disruption when
 *    the budget is met (unhealthyPodEvictionPolicy IfHealthyBudget) or
 *    always (AlwaysAllow);
 *  - the pod then gets a DisruptionTarget condition (EvictionByEvictionAPI)
 *    and is deleted with the Eviction's deleteOptions.
 * The reply is a Status Success (201).
 */
#include <string.h>
#include <time.h>

#include "api/policy.h"
#include "api/validate.h"
#include "apiserver/internal.h"

#define EVICT_MSG "Cannot evict pod as it would violate the pod's disruption budget."

/* The Eviction body: its Go types (400), kind, apiVersion and name. */
static int check_body(const json_t *body, const char *name, struct gt_err *err)
{
	static const struct gt_resource eviction = {
		.group = "policy", .version = "v1", .kind = "Eviction",
		.verbs = GT_VERBS_CREATE_ONLY,
	};
	const char *k = gt_json_str(body, "kind"), *av = gt_json_str(body, "apiVersion");
	int rc;

	if ((rc = gt_validate(&eviction, body, NULL, err)) < 0)
		return rc;
	if (k && *k && strcmp(k, "Eviction"))
		return gt_err_set(err, -EINVAL,
				  "the body of the request was of kind %s, but the URL expects Eviction", k);
	if (av && *av && strcmp(av, "policy/v1") && strcmp(av, "policy/v1beta1"))
		return gt_err_set(err, -EINVAL, "no kind \"Eviction\" is registered for version \"%s\"",
				  av);
	if (gt_json_str(body, "metadata.name") && strcmp(gt_json_str(body, "metadata.name"), name))
		return gt_err_set(err, -EINVAL, "name in URL does not match name in Eviction object");
	return 0;
}

struct decrement {
	const json_t *pod;
	bool ready;
	int retry_after;   /* s, for a 429 (0: none) */
};

/* The budget's write: checks it allows one more disruption and spends it. */
static int decrement(json_t *pdb, void *ctx, struct gt_err *err)
{
	struct decrement *d = ctx;
	const char *name = gt_json_str(pdb, "metadata.name") ?: "";
	const char *policy = gt_json_str(pdb, "spec.unhealthyPodEvictionPolicy") ?: "IfHealthyBudget";
	int64_t gen = 0, seen = 0, allowed = 0, healthy = 0, desired = 0;
	char now[32];

	gt_json_int(pdb, "metadata.generation", &gen);
	gt_json_int(pdb, "status.observedGeneration", &seen);
	gt_json_int(pdb, "status.disruptionsAllowed", &allowed);
	gt_json_int(pdb, "status.currentHealthy", &healthy);
	gt_json_int(pdb, "status.desiredHealthy", &desired);
	if (seen < gen) {
		/* the budget will be ready soon: well-behaved clients wait 10 s */
		d->retry_after = 10;
		gt_err_set(err, -EAGAIN, EVICT_MSG);
		gt_err_cause(err, "", "DisruptionBudget",
			     "The disruption budget %s is still being processed by the server.", name);
		return -EAGAIN;
	}
	if (!d->ready && (!strcmp(policy, "AlwaysAllow") || (healthy >= desired && desired > 0)))
		return -EALREADY; /* an unhealthy pod: nothing to spend */
	if (allowed < 0)
		return gt_err_set(err, -EACCES, "pdb disruptions allowed is negative");
	if (json_object_size(gt_json_path(pdb, "status.disruptedPods")) > 2000)
		return gt_err_set(err, -EACCES, "DisruptedPods map too big - too many evictions not confirmed by PDB controller");
	if (allowed == 0) {
		/* no Retry-After: client-go would retry by itself and kubectl
		 * drain would never say why it waits */
		d->retry_after = 0;
		gt_err_set(err, -EAGAIN, EVICT_MSG);
		gt_err_cause(err, "", "DisruptionBudget",
			     "The disruption budget %s needs %lld healthy pods and has %lld currently",
			     name, (long long)desired, (long long)healthy);
		return -EAGAIN;
	}
	gt_json_set(pdb, "status.disruptionsAllowed", json_integer(allowed - 1));
	gt_time_rfc3339(time(NULL), now);
	gt_json_ensure_obj(pdb, "status.disruptedPods");
	json_object_set_new(gt_json_path(pdb, "status.disruptedPods"),
			    gt_json_str(d->pod, "metadata.name") ?: "", json_string(now));
	return 0;
}

struct budgets {
	const json_t *pod;
	struct gt_obj *first;
	int n;
};

static int find_budget(struct gt_obj *o, void *arg)
{
	struct budgets *b = arg;

	if (!gt_pdb_selects(o->obj, b->pod))
		return 0;
	if (!b->n++)
		b->first = gt_obj_ref(o);
	return 0;
}

/*
 * Asks the pod's budget; 0 when the eviction may go ahead.  A 429's
 * Retry-After goes to *retry_after.
 */
static int ask_budget(struct gt_api *api, const json_t *pod, bool dry_run, int *retry_after,
		      struct gt_err *err)
{
	const struct gt_resource *r = gt_registry_find("policy", "v1", "poddisruptionbudgets");
	struct budgets b = { pod, NULL, 0 };
	struct decrement d = { pod, gt_pod_is_ready(pod), 0 };
	struct gt_obj *out = NULL;
	char prefix[512];
	int rc;

	snprintf(prefix, sizeof(prefix), "policy/poddisruptionbudgets/%s/",
		 gt_json_str(pod, "metadata.namespace") ?: "");
	gt_store_list(api->store, prefix, NULL, find_budget, &b, NULL);
	if (b.n > 1) {
		gt_obj_unref(b.first);
		return gt_err_set(err, -EIO, "This pod has more than one PodDisruptionBudget, which the "
				  "eviction subresource does not support.");
	}
	if (!b.n)
		return 0;
	if (dry_run) {
		json_t *copy = json_deep_copy(b.first->obj);

		rc = decrement(copy, &d, err);
		json_decref(copy);
	} else {
		rc = gt_api_modify(api, r, gt_json_str(pod, "metadata.namespace") ?: "",
				   gt_json_str(b.first->obj, "metadata.name") ?: "", GT_PART_STATUS,
				   decrement, &d, NULL, &out, err);
		gt_obj_unref(out);
	}
	gt_obj_unref(b.first);
	*retry_after = d.retry_after;
	if (rc == -EALREADY) {
		gt_err_clear(err);
		rc = 0;
	}
	return rc;
}

static int disruption_target(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)ctx;
	(void)err;
	return gt_condition_put(obj, "DisruptionTarget", "True", "EvictionByEvictionAPI",
				"Eviction API: evicting");
}

static void reply_too_many(struct gt_http_req *req, const struct gt_err *err,
			   const struct route *rt, int retry_after)
{
	json_t *st = gt_status_object(err, rt), *c;
	size_t i;

	/* Kubernetes' NewTooManyRequests; its causes name no field */
	json_array_foreach(gt_json_path(st, "details.causes"), i, c)
		json_object_del(c, "field");
	if (retry_after > 0) {
		char v[16];

		snprintf(v, sizeof(v), "%d", retry_after);
		json_object_set_new(json_object_get(st, "details"), "retryAfterSeconds",
				    json_integer(retry_after));
		gt_http_add_header(req, "Retry-After", v);
	}
	gt_reply_json(req, 429, st);
	json_decref(st);
}

void gt_handle_eviction(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	const struct gt_resource *pr = rt->res;
	static const char ok[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
				 "\"status\":\"Success\",\"code\":201}";
	GT_AUTOJSON json_t *body = NULL;
	struct gt_delete_opts o;
	struct gt_obj *pod = NULL, *out = NULL;
	struct gt_err err;
	const char *ph;
	bool gone, skip_budget;
	int rc, retry_after = 0;

	gt_err_clear(&err);
	if ((rc = gt_request_body(req, &body, &err)) < 0 || (rc = check_body(body, rt->name, &err)) < 0 ||
	    (rc = gt_delete_opts_parse(req, json_object_get(body, "deleteOptions"), &o, &err)) < 0 ||
	    (rc = gt_api_get(api, pr, rt->ns, rt->name, &pod, &err)) < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	ph = gt_json_str(pod->obj, "status.phase") ?: "Pending";
	skip_budget = gt_json_path(pod->obj, "metadata.deletionTimestamp") ||
		      !strcmp(ph, "Succeeded") || !strcmp(ph, "Failed") || !strcmp(ph, "Pending");
	if (!skip_budget && (rc = ask_budget(api, pod->obj, o.dry_run, &retry_after, &err)) < 0) {
		gt_obj_unref(pod);
		if (rc == -EAGAIN)
			reply_too_many(req, &err, rt, retry_after);
		else
			gt_reply_error(req, &err, rt);
		return;
	}
	if (!o.dry_run && !gt_json_path(pod->obj, "metadata.deletionTimestamp")) {
		gt_api_modify(api, pr, rt->ns, rt->name, GT_PART_STATUS, disruption_target, NULL, NULL,
			      &out, NULL);
		gt_obj_unref(out);
		out = NULL;
	}
	gt_obj_unref(pod);
	if (gt_api_delete(api, pr, rt->ns, rt->name, &o, &out, &gone, &err) < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	gt_obj_unref(out);
	gt_reply_raw(req, 201, xstrdup(ok), strlen(ok));
}
