/*
 * scheduler.c - the default scheduler's loop: pods without a node whose
 * schedulerName is empty or "default-scheduler" are placed by the algorithm
 * of sched/sched.h and bound as POST pods/binding would, highest priority
 * first (then oldest).  A pod that fits nowhere gets PodScheduled=False
 * (reason Unschedulable, the algorithm's message) and a FailedScheduling
 * event when that message changes; if pods of lower priority are in the
 * way, they are preempted (sched_write.c) and the pod binds once they are
 * gone.  Gangs: sched_gang.c.
 *
 * The cache (sched_cache.c): the loop's event feed keeps every pod and node
 * in a long-lived snapshot, so a pass costs only the pending pods, not a
 * re-list of the cluster; the first pass after the watch (re)opens lists
 * everything once.  A placed pod is assumed on its node at once and bound
 * by the writers (sched_bind.c); its bound state comes back as an event.
 * A pod that did not fit is tried again when room may have appeared (a
 * node added or changed, a bound pod gone or finished, claims, volumes or
 * PodGroups changed) and every 5 s while pods wait.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "controllers/sched_ctl.h"

const json_t *gt_schedc_find_named(const struct gt_objlist *l, const char *ns, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		const json_t *o = l->items[i]->obj;

		if (!strcmp(gt_json_str(o, "metadata.name") ?: "", name) &&
		    !strcmp(gt_json_str(o, "metadata.namespace") ?: "", ns ?: ""))
			return o;
	}
	return NULL;
}

/*
 * The node affinity of the volumes behind the pod's claims (into *terms, an
 * array of nodeSelectorTerms arrays), or why the pod cannot be placed yet
 * (a missing or unbound claim).
 */
static int volume_terms(struct pass_ctx *c, const json_t *pod, json_t **terms)
{
	const char *ns = gt_json_str(pod, "metadata.namespace") ?: "default";
	const json_t *v;
	size_t i;

	*terms = NULL;
	json_array_foreach(gt_json_path(pod, "spec.volumes"), i, v) {
		const char *claim = gt_json_str(v, "persistentVolumeClaim.claimName");
		const json_t *pvc, *pv, *t;
		const char *vol;

		if (!claim)
			continue;
		pvc = gt_schedc_find_named(&c->pvcs, ns, claim);
		if (!pvc) {
			gt_buf_reset(&c->why);
			gt_buf_addf(&c->why, "persistentvolumeclaim \"%s\" not found", claim);
			return -ENOENT;
		}
		vol = gt_json_str(pvc, "spec.volumeName");
		pv = vol ? gt_schedc_find_named(&c->pvs, "", vol) : NULL;
		if (!pv) {
			gt_buf_reset(&c->why);
			gt_buf_adds(&c->why, "pod has unbound immediate PersistentVolumeClaims");
			return -EAGAIN;
		}
		t = gt_json_path(pv, "spec.nodeAffinity.required.nodeSelectorTerms");
		if (json_is_array(t)) {
			if (!*terms)
				*terms = json_array();
			json_array_append(*terms, (json_t *)t);
		}
	}
	return 0;
}

const char *gt_schedc_place(struct pass_ctx *c, const json_t *p, json_t **terms)
{
	const char *node = NULL;
	int r = volume_terms(c, p, terms);

	if (r == 0)
		r = gt_sched_pick(c->sc->s, p, *terms, &node, &c->why);
	else
		*terms = json_null(); /* no preemption helps a missing claim */
	return r == 0 ? node : NULL;
}

bool gt_schedc_may_preempt(struct pass_ctx *c, const json_t *p)
{
	const char *nn = gt_json_str(p, "status.nominatedNodeName");

	if (!strcmp(gt_json_str(p, "spec.preemptionPolicy") ?: "", "Never"))
		return false;
	/* victims chosen earlier are still leaving: wait for them */
	return !(nn && *nn && gt_sched_node_terminating(c->sc->s, nn));
}

static void place_one(struct pass_ctx *c, const char *key, const json_t *p)
{
	struct gt_scheduler *sc = c->sc;
	json_t *terms = NULL, *victims;
	const char *node = gt_schedc_place(c, p, &terms);

	if (node) {
		gt_schedc_bind(c, p, node);
		json_decref(terms);
		return;
	}
	victims = json_array();
	if (!json_is_null(terms) && gt_schedc_may_preempt(c, p) &&
	    gt_sched_preempt(sc->s, p, terms, &node, victims) == 0) {
		gt_buf_addf(&c->why, " Preempting %zu lower-priority pod(s) on node %s.",
			    json_array_size(victims), node);
		gt_schedc_evict(sc->api, victims, p, node);
		gt_schedc_nominate(sc->api, p, node);
	}
	json_decref(victims);
	json_decref(terms);
	gt_schedc_say(c, p, c->why.data);
	json_object_set_new(sc->failed, key, json_integer(sc->epoch));
	c->waiting++;
}

struct qent {
	char *key;
	json_t *pod;
	int64_t prio;
	const char *created;
};

static int by_priority(const void *a, const void *b)
{
	const struct qent *x = a, *y = b;
	int c;

	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	c = strcmp(x->created, y->created);
	return c ? c : strcmp(x->key, y->key);
}

static void load_lists(struct pass_ctx *c)
{
	gt_objlist_load(c->sc->api, "core/persistentvolumeclaims/", &c->pvcs);
	gt_objlist_load(c->sc->api, "core/persistentvolumes/", &c->pvs);
	if (c->sc->pg_prefix[0])
		gt_objlist_load(c->sc->api, c->sc->pg_prefix, &c->groups);
}

/* A binding that failed: its pod waits again. */
static void bind_failed(const char *key, void *arg)
{
	struct gt_scheduler *sc = arg;
	json_t *as = json_object_get(sc->assumed, key), *pod = json_object_get(sc->pods, key);

	if (!as)
		return;
	gt_sched_forget(sc->s, json_object_get(as, "pod"), gt_json_str(as, "node"));
	json_object_del(sc->assumed, key);
	if (pod && gt_schedc_pending(pod))
		json_object_set(sc->pending, key, pod);
}

static int pass(struct gt_scheduler *sc, size_t *waiting)
{
	struct pass_ctx c = { .sc = sc };
	struct qent *q;
	json_t *gangs = json_object(), *p;
	const char *key;
	size_t nq = 0;

	if (sc->binder)
		gt_schedc_binder_failed(sc->binder, bind_failed, sc);
	if (!sc->synced)
		gt_schedc_resync(sc);
	if (gt_now_ms() - sc->last_retry_ms >= 5000) {
		sc->epoch++; /* try everything again now and then */
		sc->last_retry_ms = gt_now_ms();
	}
	*waiting = json_object_size(sc->pending) + json_object_size(sc->assumed);
	if (!json_object_size(sc->pending)) {
		json_decref(gangs);
		return 0;
	}
	q = xcalloc(json_object_size(sc->pending), sizeof(*q));
	json_object_foreach(sc->pending, key, p) {
		const char *gang = gt_schedc_gang_of(p);
		bool tried = json_integer_value(json_object_get(sc->failed, key)) == sc->epoch;

		if (gang) {
			char gk[600];
			json_t *g;

			snprintf(gk, sizeof(gk), "%s/%s", gt_json_str(p, "metadata.namespace") ?: "",
				 gang);
			g = json_object_get(gangs, gk);
			if (!g) {
				g = json_pack("{s:[],s:b}", "members", "fresh", 0);
				json_object_set_new(gangs, gk, g);
			}
			if (!tried)
				json_object_set_new(g, "fresh", json_true());
		} else if (tried) {
			continue;
		}
		/* binding drops pods from the map as the pass goes: hold them */
		q[nq++] = (struct qent){ xstrdup(key), json_incref(p), gt_sched_priority(p),
					 gt_json_str(p, "metadata.creationTimestamp") ?: "" };
	}
	qsort(q, nq, sizeof(*q), by_priority);
	/* gang members in queue order; a gang runs at its first member's turn */
	for (size_t i = 0; i < nq; i++) {
		const char *gang = gt_schedc_gang_of(q[i].pod);
		char gk[600];

		if (!gang)
			continue;
		snprintf(gk, sizeof(gk), "%s/%s", gt_json_str(q[i].pod, "metadata.namespace") ?: "",
			 gang);
		json_array_append(gt_json_path(json_object_get(gangs, gk), "members"), q[i].pod);
	}
	gt_buf_init(&c.why);
	load_lists(&c);
	for (size_t i = 0; i < nq; i++) {
		const char *gang = gt_schedc_gang_of(q[i].pod);
		json_t *g;
		char gk[600];

		if (!gang) {
			place_one(&c, q[i].key, q[i].pod);
			continue;
		}
		snprintf(gk, sizeof(gk), "%s/%s", gt_json_str(q[i].pod, "metadata.namespace") ?: "",
			 gang);
		g = json_object_get(gangs, gk);
		if (!g || json_object_get(g, "done"))
			continue;
		json_object_set_new(g, "done", json_true());
		if (!json_is_true(json_object_get(g, "fresh"))) {
			c.waiting += json_array_size(json_object_get(g, "members"));
			continue;
		}
		{
			json_t *members = json_incref(json_object_get(g, "members")), *m;
			size_t k;

			gt_schedc_place_gang(&c, gt_json_str(q[i].pod, "metadata.namespace") ?: "",
					     gang, members);
			json_array_foreach(members, k, m) {
				char mk[600];

				snprintf(mk, sizeof(mk), "core/pods/%s/%s",
					 gt_json_str(m, "metadata.namespace") ?: "",
					 gt_json_str(m, "metadata.name") ?: "");
				if (json_object_get(sc->pending, mk))
					json_object_set_new(sc->failed, mk, json_integer(sc->epoch));
			}
			json_decref(members);
		}
	}
	/* bindings in flight count: one that fails is picked up by a later pass */
	*waiting = c.waiting + json_object_size(sc->assumed);
	gt_buf_release(&c.why);
	for (size_t i = 0; i < nq; i++) {
		free(q[i].key);
		json_decref(q[i].pod);
	}
	free(q);
	json_decref(gangs);
	gt_objlist_release(&c.groups);
	gt_objlist_release(&c.pvs);
	gt_objlist_release(&c.pvcs);
	return c.binds;
}

static void podgroup_prefix(struct gt_scheduler *sc)
{
	const struct gt_resource *r = gt_registry_find(GT_PODGROUP_GROUP, GT_PODGROUP_VERSION,
						       "podgroups");

	sc->pg_prefix[0] = '\0';
	if (r) {
		gt_resource_key_prefix(r, sc->pg_prefix, sizeof(sc->pg_prefix));
		strncat(sc->pg_prefix, "/", sizeof(sc->pg_prefix) - strlen(sc->pg_prefix) - 1);
		gt_resource_unref(r);
	}
}

static struct gt_scheduler *sched_new(struct gt_api *api, const struct gt_sched_policy *pol)
{
	struct gt_scheduler *sc = xcalloc(1, sizeof(*sc));

	sc->api = api;
	if (pol)
		sc->pol = *pol;
	else
		gt_sched_policy_default(&sc->pol);
	sc->pods = json_object();
	sc->pending = json_object();
	sc->failed = json_object();
	sc->gangs = json_object();
	sc->assumed = json_object();
	sc->gang_bound = json_object();
	sc->said = json_object();
	podgroup_prefix(sc);
	return sc;
}

static void sched_free(struct gt_scheduler *sc)
{
	gt_sched_free(sc->s);
	json_decref(sc->pods);
	json_decref(sc->pending);
	json_decref(sc->failed);
	json_decref(sc->gangs);
	json_decref(sc->assumed);
	json_decref(sc->gang_bound);
	json_decref(sc->said);
	free(sc);
}

int gt_scheduler_pass(struct gt_api *api)
{
	struct gt_scheduler *sc = sched_new(api, NULL);
	size_t waiting;
	int binds = pass(sc, &waiting);

	sched_free(sc);
	return binds;
}

static int loop_pass(struct gt_api *api, void *ctx)
{
	struct gt_scheduler *sc = ctx;
	size_t waiting;

	(void)api;
	if (!sc->pg_prefix[0])
		podgroup_prefix(sc); /* the CRD may have come late */
	pass(sc, &waiting);
	return waiting > 0;
}

/* Serves PodGroup: creates its CRD unless one exists (a user's is kept). */
static void ensure_podgroup_crd(struct gt_api *api)
{
	static const char crd[] =
		"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		"\"metadata\":{\"name\":\"podgroups.scheduling.x-k8s.io\"},\"spec\":{"
		"\"group\":\"scheduling.x-k8s.io\",\"scope\":\"Namespaced\",\"names\":{"
		"\"kind\":\"PodGroup\",\"listKind\":\"PodGroupList\",\"plural\":\"podgroups\","
		"\"singular\":\"podgroup\",\"shortNames\":[\"pg\",\"pgs\"]},\"versions\":[{"
		"\"name\":\"v1alpha1\",\"served\":true,\"storage\":true,"
		"\"subresources\":{\"status\":{}},\"schema\":{\"openAPIV3Schema\":{"
		"\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}},"
		"\"additionalPrinterColumns\":["
		"{\"name\":\"Phase\",\"type\":\"string\",\"jsonPath\":\".status.phase\"},"
		"{\"name\":\"MinMember\",\"type\":\"integer\",\"jsonPath\":\".spec.minMember\"},"
		"{\"name\":\"Scheduled\",\"type\":\"integer\",\"jsonPath\":\".status.scheduled\"},"
		"{\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"}]}]}}";
	const struct gt_resource *r = gt_registry_find("apiextensions.k8s.io", "v1",
						       "customresourcedefinitions");
	struct gt_obj *out = NULL;
	struct gt_err err;
	json_t *obj = json_loads(crd, 0, NULL);
	int rc;

	gt_err_clear(&err);
	rc = obj && r ? gt_api_create(api, r, "", obj, NULL, &out, &err) : -EINVAL;
	if (rc < 0 && rc != -EEXIST)
		gt_warn("scheduler: cannot serve PodGroup (gangs): %s", err.msg);
	gt_obj_unref(out);
	gt_resource_unref(r);
}

int gt_scheduler_start(struct gt_api *api, const char *policy, struct gt_scheduler **out,
		       struct gt_err *err)
{
	struct gt_sched_policy pol;
	struct gt_scheduler *sc;

	if (gt_sched_policy_parse(policy, &pol, err) < 0)
		return -EINVAL;
	ensure_podgroup_crd(api);
	sc = sched_new(api, &pol);
	sc->binder = gt_schedc_binder_new(api, 64);
	sc->loop = (struct gt_loop){ .api = api, .relevant = gt_schedc_relevant, .pass = loop_pass,
				     .ctx = sc, .retry_ms = 5000, .opened = gt_schedc_opened,
				     .max_batch_ms = 20 };
	if (gt_loop_start(&sc->loop, err) < 0) {
		gt_schedc_binder_free(sc->binder);
		sched_free(sc);
		return -EAGAIN;
	}
	pthread_setname_np(sc->loop.thr, "gt-sched"); /* for top -H and the benchmark */
	*out = sc;
	return 0;
}

void gt_scheduler_stop(struct gt_scheduler *sc)
{
	if (!sc)
		return;
	gt_loop_stop(&sc->loop);
	gt_schedc_binder_free(sc->binder); /* the bindings queued are written first */
	sched_free(sc);
}
