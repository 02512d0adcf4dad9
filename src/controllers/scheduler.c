/*
 * scheduler.c - the default scheduler's loop: pods without a node whose
 * schedulerName is empty or "default-scheduler" are placed by the algorithm
 * of sched/sched.h on a snapshot of the nodes and the pods bound to them,
 * highest priority first (then oldest), and bound as POST pods/binding
 * would.  A pod that fits nowhere gets PodScheduled=False (reason
 * Unschedulable, the algorithm's message) and a FailedScheduling event
 * when that message changes.
 *
 * Passes run when a pending pod appears or, while pods wait, when pods,
 * nodes or volumes change (events read until the stream is quiet, then one
 * pass), and every 5 s while pods wait.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "controllers/controllers.h"
#include "sched/sched.h"

struct gt_scheduler {
	struct gt_api *api;
	pthread_t thr;
	_Atomic bool stop;
};

static bool finished(const json_t *pod)
{
	const char *ph = gt_json_str(pod, "status.phase") ?: "";

	return !strcmp(ph, "Succeeded") || !strcmp(ph, "Failed");
}

static bool pending(const json_t *pod)
{
	const char *n = gt_json_str(pod, "spec.nodeName"), *sn = gt_json_str(pod, "spec.schedulerName");

	return (!n || !*n) && (!sn || !*sn || !strcmp(sn, "default-scheduler")) &&
	       !gt_json_path(pod, "metadata.deletionTimestamp") && !finished(pod);
}

static int64_t priority(const json_t *pod)
{
	int64_t p = 0;

	gt_json_int(pod, "spec.priority", &p);
	return p;
}

static int by_priority(const void *a, const void *b)
{
	const json_t *x = (*(struct gt_obj *const *)a)->obj, *y = (*(struct gt_obj *const *)b)->obj;
	int64_t px = priority(x), py = priority(y);
	int c;

	if (px != py)
		return px > py ? -1 : 1;
	c = strcmp(gt_json_str(x, "metadata.creationTimestamp") ?: "",
		   gt_json_str(y, "metadata.creationTimestamp") ?: "");
	return c ? c : strcmp((*(struct gt_obj *const *)a)->key, (*(struct gt_obj *const *)b)->key);
}

static const json_t *find_named(const struct gt_objlist *l, const char *ns, const char *name)
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
static int volume_terms(const json_t *pod, const struct gt_objlist *pvcs,
			const struct gt_objlist *pvs, json_t **terms, struct gt_buf *why)
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
		pvc = find_named(pvcs, ns, claim);
		if (!pvc) {
			gt_buf_reset(why);
			gt_buf_addf(why, "persistentvolumeclaim \"%s\" not found", claim);
			return -ENOENT;
		}
		vol = gt_json_str(pvc, "spec.volumeName");
		pv = vol ? find_named(pvs, "", vol) : NULL;
		if (!pv) {
			gt_buf_reset(why);
			gt_buf_adds(why, "pod has unbound immediate PersistentVolumeClaims");
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

struct unsched {
	const char *msg;
	bool changed;
};

static int set_unschedulable(json_t *obj, void *arg, struct gt_err *err)
{
	struct unsched *u = arg;
	json_t *conds = gt_json_path(obj, "status.conditions"), *c, *keep = json_array();
	char now[32];
	size_t i;

	(void)err;
	json_array_foreach(conds, i, c) {
		if (strcmp(gt_json_str(c, "type") ?: "", "PodScheduled")) {
			json_array_append(keep, c);
		} else if (!strcmp(gt_json_str(c, "status") ?: "", "False") &&
			   !strcmp(gt_json_str(c, "message") ?: "", u->msg)) {
			json_decref(keep);
			return -EALREADY; /* said already: no write */
		}
	}
	gt_time_rfc3339(time(NULL), now);
	json_array_append_new(keep, json_pack("{s:s,s:s,s:n,s:s,s:s,s:s}", "type", "PodScheduled",
					      "status", "False", "lastProbeTime",
					      "lastTransitionTime", now, "reason", "Unschedulable",
					      "message", u->msg));
	gt_json_set(obj, "status.conditions", keep);
	u->changed = true;
	return 0;
}

static void event(struct gt_api *api, const json_t *pod, const char *msg)
{
	const struct gt_resource *er = gt_registry_find("", "v1", "events");
	const char *ns = gt_json_str(pod, "metadata.namespace") ?: "default";
	char name[300], now[32], micro[40];
	struct timespec ts;
	struct gt_obj *out = NULL;
	json_t *ev;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, sizeof(name), "%.200s.%llx", gt_json_str(pod, "metadata.name") ?: "pod",
		 (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
	gt_time_rfc3339(ts.tv_sec, now);
	gt_time_rfc3339_micro(micro);
	ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},"
		       "s:s,s:s,s:i,s:s,s:s}",
		       "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace", ns,
		       "involvedObject", "kind", "Pod", "apiVersion", "v1", "namespace", ns, "name",
		       gt_json_str(pod, "metadata.name") ?: "", "uid",
		       gt_json_str(pod, "metadata.uid") ?: "",
		       "reason", "FailedScheduling", "message", msg, "type", "Warning",
		       "source", "component", "default-scheduler",
		       "firstTimestamp", now, "lastTimestamp", now, "count", 1,
		       "reportingComponent", "default-scheduler", "eventTime", micro);
	if (ev && gt_api_create(api, er, ns, ev, NULL, &out, NULL) == 0)
		gt_obj_unref(out);
}

static void unschedulable(struct gt_api *api, const json_t *pod, const char *msg)
{
	struct unsched u = { msg, false };
	struct gt_obj *out = NULL;

	if (gt_api_modify(api, gt_registry_find("", "v1", "pods"),
			  gt_json_str(pod, "metadata.namespace"), gt_json_str(pod, "metadata.name"),
			  GT_PART_STATUS, set_unschedulable, &u, NULL, &out, NULL) == 0 && u.changed) {
		gt_info("scheduler: %s/%s: %s", gt_json_str(pod, "metadata.namespace"),
			gt_json_str(pod, "metadata.name"), msg);
		event(api, pod, msg);
	}
	gt_obj_unref(out);
}

static int pass(struct gt_api *api, size_t *waiting)
{
	struct gt_objlist nodes = { 0 }, pods = { 0 }, pvcs = { 0 }, pvs = { 0 }, bound = { 0 };
	struct gt_obj **queue = NULL;
	struct gt_buf why = GT_BUF_INIT;
	struct gt_sched *s;
	size_t nq = 0;
	int binds = 0;

	*waiting = 0;
	gt_objlist_load(api, "core/pods/", &pods);
	for (size_t i = 0; i < pods.n; i++)
		nq += pending(pods.items[i]->obj);
	if (!nq) {
		gt_objlist_release(&pods);
		return 0;
	}
	gt_objlist_load(api, "core/nodes/", &nodes);
	gt_objlist_load(api, "core/persistentvolumeclaims/", &pvcs);
	gt_objlist_load(api, "core/persistentvolumes/", &pvs);
	s = gt_sched_new(NULL);
	for (size_t i = 0; i < nodes.n; i++)
		gt_sched_add_node(s, nodes.items[i]->obj);
	queue = xcalloc(nq, sizeof(*queue));
	nq = 0;
	for (size_t i = 0; i < pods.n; i++) {
		const json_t *p = pods.items[i]->obj;

		if (pending(p))
			queue[nq++] = pods.items[i];
		else if (!finished(p))
			gt_sched_add_pod(s, p);
	}
	qsort(queue, nq, sizeof(*queue), by_priority);
	gt_buf_init(&why);
	for (size_t i = 0; i < nq; i++) {
		const json_t *p = queue[i]->obj;
		json_t *terms = NULL;
		const char *node = NULL;
		struct gt_obj *out = NULL;
		struct gt_err err;

		if (volume_terms(p, &pvcs, &pvs, &terms, &why) < 0 ||
		    gt_sched_pick(s, p, terms, &node, &why) < 0) {
			json_decref(terms);
			unschedulable(api, p, why.data);
			(*waiting)++;
			continue;
		}
		json_decref(terms);
		gt_err_clear(&err);
		if (gt_api_bind(api, gt_json_str(p, "metadata.namespace"),
				gt_json_str(p, "metadata.name"), node, &out, &err) < 0) {
			gt_debug("scheduler: binding %s to %s: %s", queue[i]->key, node, err.msg);
			(*waiting)++; /* try again on the next pass */
			continue;
		}
		/* the snapshot borrows the bound pod until the pass ends */
		gt_sched_add_pod(s, out->obj);
		gt_grow((void **)&bound.items, &bound.cap, bound.n + 1, sizeof(*bound.items));
		bound.items[bound.n++] = out;
		binds++;
	}
	gt_sched_free(s);
	gt_buf_release(&why);
	free(queue);
	gt_objlist_release(&bound);
	gt_objlist_release(&pvs);
	gt_objlist_release(&pvcs);
	gt_objlist_release(&nodes);
	gt_objlist_release(&pods);
	return binds;
}

int gt_scheduler_pass(struct gt_api *api)
{
	size_t waiting;

	return pass(api, &waiting);
}

/*
 * Whether an event can change what a pass would do: a new pending pod, or,
 * while pods wait, anything that may free or add room for them (pods,
 * nodes, claims, volumes).  Other writes cost the scheduler nothing.
 */
static bool relevant(const struct gt_event *ev, size_t waiting)
{
	static const char *const prefixes[] = { "core/nodes/", "core/persistentvolumeclaims/",
						"core/persistentvolumes/", "core/pods/" };

	if (!strncmp(ev->obj->key, "core/pods/", 10) && ev->type != GT_EVENT_DELETED &&
	    pending(ev->obj->obj))
		return true;
	for (size_t i = 0; waiting && i < GT_ARRAY_SIZE(prefixes); i++)
		if (!strncmp(ev->obj->key, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static void *sched_main(void *arg)
{
	struct gt_scheduler *sc = arg;
	struct gt_store *st = gt_api_store(sc->api);
	struct gt_watch *w = NULL;
	int64_t last = 0;
	size_t waiting = 0;
	bool dirty = true;

	while (!atomic_load(&sc->stop)) {
		struct gt_event ev;
		int r;

		if (!w && gt_store_watch(st, "", gt_store_rev(st), &w, NULL) < 0) {
			w = NULL;
			dirty = true;
		}
		/* read what is there; wait only when nothing needs a pass */
		r = w ? gt_watch_next(w, &ev, dirty ? 0 : 200) : -ETIMEDOUT;
		if (r == 0) {
			dirty |= relevant(&ev, waiting);
			gt_event_release(&ev);
			continue;
		}
		if (r == -ENODATA || r == -ECANCELED) {
			gt_watch_close(w);
			w = NULL;
			dirty = true;
			if (r == -ECANCELED)
				break;
		}
		if (dirty || (waiting && gt_now_ms() - last > 5000)) {
			dirty = false;
			last = gt_now_ms();
			pass(sc->api, &waiting);
		}
	}
	gt_watch_close(w);
	return NULL;
}

int gt_scheduler_start(struct gt_api *api, struct gt_scheduler **out, struct gt_err *err)
{
	struct gt_scheduler *sc = xcalloc(1, sizeof(*sc));

	sc->api = api;
	if (pthread_create(&sc->thr, NULL, sched_main, sc)) {
		free(sc);
		return gt_err_set(err, -EAGAIN, "cannot start the scheduler thread");
	}
	*out = sc;
	return 0;
}

void gt_scheduler_stop(struct gt_scheduler *sc)
{
	if (!sc)
		return;
	atomic_store(&sc->stop, true);
	pthread_join(sc->thr, NULL);
	free(sc);
}
