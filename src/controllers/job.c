/*
 * job.c - the Job controller (batch/v1), on its own gt_loop.
 *
 * Each pass syncs every Job against the pods it controls (ownerReference
 * with controller: true and its uid):
 *  - counting: a finished pod is counted exactly once, as Kubernetes does
 *    with the batch.kubernetes.io/job-tracking finalizer every pod is
 *    created with: its uid goes into status.uncountedTerminatedPods (or,
 *    Indexed, its index into completedIndexes) before the finalizer is
 *    removed, and moves into succeeded/failed once it is; a deleted pod
 *    that did not succeed counts as failed (not while suspended);
 *  - failure: failed > backoffLimit, container restarts of OnFailure pods
 *    reaching it, activeDeadlineSeconds since startTime, a podFailurePolicy
 *    FailJob rule: FailureTarget, active pods deleted, then Failed;
 *    podFailurePolicy Ignore failures are not counted;
 *  - success: completions succeeded (Indexed: every index; no completions:
 *    one success and nothing running): SuccessCriteriaMet, then Complete
 *    and completionTime once no pod runs;
 *  - suspend deletes the active pods (condition Suspended), resuming
 *    resets startTime;
 *  - otherwise keeps min(parallelism, what is left) pods running, new
 *    ones after failures only once the back-off (base * 2^(n-1) after n
 *    failures since the last success, capped at 36 * base: 10 s and 6 min
 *    by default) has passed;
 *  - ttlSecondsAfterFinished deletes a finished Job (foreground, its pods
 *    first).
 * The pass asks to run again when the earliest back-off, deadline or TTL
 * comes due.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "controllers/job_int.h"

#define MAX_INDEXES 1000000

struct backoff {
	char uid[40];
	int64_t failures;  /* since the last success */
	int64_t last_ms;   /* when the last failure was counted */
	bool seen;
};

struct gt_jobs {
	struct gt_loop loop;
	int64_t base_ms;
	struct backoff *bo;
	size_t nbo, cap;
};

/* One Job's sync: what it read and decided. */
struct sync {
	struct gt_jobs *j;
	const json_t *job;
	const char *ns, *uid;
	json_t *st;                 /* the status being written (owned) */
	struct gt_jpod *pods;
	size_t n;
	int64_t completions;        /* -1: unset (work queue) */
	unsigned char *done_ix;     /* Indexed: completed indexes */
	time_t now;
	int64_t due_ms;             /* the earliest time to look again, 0 none */
	char fail_msg[512];         /* a FailJob rule matched */
};

/* Due times compare with timestamps: wall-clock milliseconds. */
static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct gt_resource *jobs_res(void)
{
	return gt_registry_find("batch", "v1", "jobs");
}

static struct backoff *backoff_of(struct gt_jobs *j, const char *uid)
{
	for (size_t i = 0; i < j->nbo; i++)
		if (!strcmp(j->bo[i].uid, uid))
			return &j->bo[i];
	gt_grow((void **)&j->bo, &j->cap, j->nbo + 1, sizeof(*j->bo));
	memset(&j->bo[j->nbo], 0, sizeof(*j->bo));
	snprintf(j->bo[j->nbo].uid, sizeof(j->bo[j->nbo].uid), "%s", uid);
	return &j->bo[j->nbo++];
}

static void due(struct sync *s, int64_t at_ms)
{
	if (at_ms > 0 && (!s->due_ms || at_ms < s->due_ms))
		s->due_ms = at_ms;
}

/* ---- status helpers ---- */

static json_t *cond_get(json_t *st, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(st, "conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", type))
			return c;
	return NULL;
}

static bool cond_true(json_t *st, const char *type)
{
	return !strcmp(gt_json_str(cond_get(st, type), "status") ?: "", "True");
}

static void cond_set(json_t *st, const char *type, const char *status, const char *reason,
		     const char *msg, time_t now)
{
	json_t *c = cond_get(st, type), *list = json_object_get(st, "conditions");
	char ts[32];

	if (c && !strcmp(gt_json_str(c, "status") ?: "", status) &&
	    !strcmp(gt_json_str(c, "reason") ?: "", reason))
		return;
	gt_time_rfc3339(now, ts);
	if (!c) {
		if (!json_is_array(list)) {
			list = json_array();
			json_object_set_new(st, "conditions", list);
		}
		c = json_object();
		json_array_append_new(list, c);
	}
	json_object_set_new(c, "type", json_string(type));
	json_object_set_new(c, "status", json_string(status));
	json_object_set_new(c, "lastProbeTime", json_string(ts));
	json_object_set_new(c, "lastTransitionTime", json_string(ts));
	json_object_set_new(c, "reason", json_string(reason));
	json_object_set_new(c, "message", json_string(msg));
}

static int64_t st_int(const json_t *st, const char *key)
{
	int64_t v = 0;

	gt_json_int(st, key, &v);
	return v;
}

static void st_set_int(json_t *st, const char *key, int64_t v)
{
	json_object_set_new(st, key, json_integer(v));
}

static bool uid_in(json_t *list, const char *uid)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		if (!strcmp(json_string_value(v) ?: "", uid))
			return true;
	return false;
}

static json_t *uncounted(json_t *st, const char *which)
{
	json_t *u = gt_json_ensure_obj(st, "uncountedTerminatedPods"), *l = json_object_get(u, which);

	if (!json_is_array(l)) {
		l = json_array();
		json_object_set_new(u, which, l);
	}
	return l;
}

static int put_status(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	if (gt_json_equal(json_object_get(obj, "status"), ctx))
		return -EALREADY;
	json_object_set_new(obj, "status", json_deep_copy(ctx)); /* ctx stays ours */
	return 0;
}

static int write_status(struct sync *s)
{
	struct gt_obj *out = NULL;
	struct gt_err err;
	int rc;

	gt_err_clear(&err);
	rc = gt_api_modify(s->j->loop.api, jobs_res(), s->ns, gt_json_str(s->job, "metadata.name"),
			   GT_PART_STATUS, put_status, s->st, NULL, &out, &err);
	gt_obj_unref(out);
	if (rc < 0 && rc != -EALREADY && rc != -ENOENT)
		gt_warn("job %s/%s: cannot write its status: %s", s->ns, gt_json_str(s->job, "metadata.name"),
			err.msg);
	return rc == -EALREADY ? 0 : rc;
}

static int64_t popcount(const unsigned char *set, int64_t n)
{
	int64_t c = 0;

	for (int64_t i = 0; i < n; i++)
		c += set[i];
	return c;
}

static bool indexed(const struct sync *s)
{
	return s->done_ix != NULL;
}

/* ---- counting finished pods exactly once ---- */

static void record(struct sync *s, struct gt_jpod *p, bool *changed, bool *drop)
{
	bool suspended = gt_json_bool(s->job, "spec.suspend", false);

	*drop = true;
	if (p->succeeded) {
		if (indexed(s)) {
			if (p->index >= 0 && p->index < s->completions && !s->done_ix[p->index]) {
				s->done_ix[p->index] = 1;
				*changed = true;
			}
		} else if (!uid_in(uncounted(s->st, "succeeded"), p->uid)) {
			json_array_append_new(uncounted(s->st, "succeeded"), json_string(p->uid));
			*changed = true;
		}
		return;
	}
	/* a failure, or a pod deleted before it finished */
	if ((p->deleting && (suspended || cond_true(s->st, "SuccessCriteriaMet"))) ||
	    uid_in(uncounted(s->st, "failed"), p->uid) ||
	    (indexed(s) && (p->index < 0 || p->index >= s->completions)))
		return;
	if (p->terminal && json_is_object(gt_json_path(s->job, "spec.podFailurePolicy"))) {
		char msg[512];
		const char *act = gt_job_failure_action(s->job, p->obj, msg, sizeof(msg));

		if (act && !strcmp(act, "Ignore"))
			return;
		if (act && !strcmp(act, "FailJob") && !s->fail_msg[0])
			snprintf(s->fail_msg, sizeof(s->fail_msg), "%s", msg);
	}
	json_array_append_new(uncounted(s->st, "failed"), json_string(p->uid));
	*changed = true;
}

static const struct gt_jpod *find_uid(const struct sync *s, const char *uid)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->pods[i].uid, uid))
			return &s->pods[i];
	return NULL;
}

/* uids whose pods no longer hold the finalizer move into the counters. */
static void flush(struct sync *s, const char *which, struct backoff *bo)
{
	json_t *l = uncounted(s->st, which), *keep = json_array(), *v;
	int64_t moved = 0;
	size_t i;

	json_array_foreach(l, i, v) {
		const struct gt_jpod *p = find_uid(s, json_string_value(v) ?: "");

		if (p && p->fin && !p->dropped)
			json_array_append(keep, v);
		else
			moved++;
	}
	json_object_set_new(json_object_get(s->st, "uncountedTerminatedPods"), which, keep);
	st_set_int(s->st, which, st_int(s->st, which) + moved);
	if (moved && !strcmp(which, "failed")) {
		bo->failures += moved;
		bo->last_ms = wall_ms();
	} else if (moved) {
		bo->failures = 0;
	}
}

static int track(struct sync *s, struct backoff *bo)
{
	bool changed = false;
	bool *drop = xcalloc(s->n + 1, sizeof(*drop));

	for (size_t i = 0; i < s->n; i++) {
		time_t at;

		if (s->pods[i].fin && gt_jpod_done(&s->pods[i], s->now))
			record(s, &s->pods[i], &changed, &drop[i]);
		else if (s->pods[i].fin && s->pods[i].deleting &&
			 gt_time_parse(gt_json_str(s->pods[i].obj, "metadata.deletionTimestamp"), &at) == 0)
			due(s, (int64_t)at * 1000 + 1100); /* its grace period ends: done then */
	}
	if (s->fail_msg[0] && !cond_true(s->st, "FailureTarget"))
		cond_set(s->st, "FailureTarget", "True", "PodFailurePolicy", s->fail_msg, s->now);
	if (indexed(s)) {
		char *ci = gt_job_indexes_format(s->done_ix, s->completions);

		json_object_set_new(s->st, "completedIndexes", json_string(ci));
		free(ci);
		st_set_int(s->st, "succeeded", popcount(s->done_ix, s->completions));
	}
	/* recorded before any finalizer goes: a crash here recounts nothing */
	if (changed && write_status(s) < 0) {
		free(drop);
		return -EAGAIN;
	}
	for (size_t i = 0; i < s->n; i++)
		if (drop[i] && gt_job_drop_finalizer(s->j->loop.api, s->pods[i].obj) == 0)
			s->pods[i].dropped = true;
	free(drop);
	flush(s, "succeeded", bo);
	flush(s, "failed", bo);
	return 0;
}

/* ---- decisions ---- */

static int64_t restarts(const struct gt_jpod *p)
{
	static const char *const lists[] = { "status.initContainerStatuses", "status.containerStatuses" };
	const json_t *c;
	int64_t sum = 0;
	size_t i;

	for (size_t l = 0; l < GT_ARRAY_SIZE(lists); l++)
		json_array_foreach(gt_json_path(p->obj, lists[l]), i, c)
			sum += st_int(c, "restartCount");
	return sum;
}

/* Why the Job fails now ("" when it does not): reason and message. */
static const char *failure(struct sync *s, const char **msg)
{
	int64_t limit = 6, ads, r = 0;
	time_t start;

	gt_json_int(s->job, "spec.backoffLimit", &limit);
	if (s->fail_msg[0]) {
		*msg = s->fail_msg;
		return "PodFailurePolicy";
	}
	*msg = "Job has reached the specified backoff limit";
	if (st_int(s->st, "failed") + (int64_t)json_array_size(uncounted(s->st, "failed")) > limit)
		return "BackoffLimitExceeded";
	if (!strcmp(gt_json_str(s->job, "spec.template.spec.restartPolicy") ?: "", "OnFailure")) {
		for (size_t i = 0; i < s->n; i++)
			if (s->pods[i].active)
				r += restarts(&s->pods[i]);
		if (limit == 0 ? r > 0 : r >= limit)
			return "BackoffLimitExceeded";
	}
	if (gt_json_int(s->job, "spec.activeDeadlineSeconds", &ads) == 0 &&
	    gt_time_parse(gt_json_str(s->st, "startTime"), &start) == 0 &&
	    !gt_json_bool(s->job, "spec.suspend", false)) {
		if (s->now >= start + ads) {
			*msg = "Job was active longer than specified deadline";
			return "DeadlineExceeded";
		}
		due(s, (int64_t)(start + ads) * 1000 + 50);
	}
	return "";
}

static bool succeeded(struct sync *s, size_t active)
{
	int64_t ok = st_int(s->st, "succeeded") + (int64_t)json_array_size(uncounted(s->st, "succeeded"));

	if (indexed(s))
		return popcount(s->done_ix, s->completions) >= s->completions;
	if (s->completions >= 0)
		return ok >= s->completions;
	return ok > 0 && active == 0;
}

static size_t count_active(const struct sync *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->pods[i].active;
	return n;
}

static void delete_active(struct sync *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->pods[i].active) {
			gt_job_delete_pod(s->j->loop.api, s->pods[i].obj);
			s->pods[i].active = false;
			s->pods[i].deleting = true;
		}
}

/* Pods not yet terminal and not let go: the terminal condition waits for them. */
static size_t remaining(const struct sync *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += !s->pods[i].terminal && !s->pods[i].dropped;
	return n;
}

static int by_newest(const void *a, const void *b)
{
	const struct gt_jpod *x = *(const struct gt_jpod *const *)a, *y = *(const struct gt_jpod *const *)b;

	if (x->index != y->index)
		return x->index < y->index ? 1 : -1;
	return strcmp(gt_json_str(y->obj, "metadata.creationTimestamp") ?: "",
		      gt_json_str(x->obj, "metadata.creationTimestamp") ?: "");
}

/* Creates missing pods (after the back-off) and deletes extra ones. */
static int manage(struct sync *s, struct backoff *bo)
{
	struct gt_api *api = s->j->loop.api;
	int64_t par = 1, want, have = 0, ok;
	const struct gt_jpod **act = xcalloc(s->n + 1, sizeof(*act));
	unsigned char *busy = NULL;
	int more = 0;

	gt_json_int(s->job, "spec.parallelism", &par);
	ok = st_int(s->st, "succeeded") + (int64_t)json_array_size(uncounted(s->st, "succeeded"));
	if (indexed(s)) {
		busy = xcalloc((size_t)s->completions + 1, 1);
		for (size_t i = 0; i < s->n; i++) {
			const struct gt_jpod *p = &s->pods[i];

			if (!p->active)
				continue;
			/* out of range, a duplicate or already completed: not wanted */
			if (p->index < 0 || p->index >= s->completions || busy[p->index] || s->done_ix[p->index]) {
				gt_job_delete_pod(api, p->obj);
				continue;
			}
			busy[p->index] = 1;
			act[have++] = p;
		}
		want = s->completions - popcount(s->done_ix, s->completions);
	} else {
		for (size_t i = 0; i < s->n; i++)
			if (s->pods[i].active)
				act[have++] = &s->pods[i];
		want = s->completions >= 0 ? s->completions - ok : ok > 0 ? have : par;
	}
	if (want > par)
		want = par;
	if (want < 0)
		want = 0;
	if (have > want) {
		qsort(act, (size_t)have, sizeof(*act), by_newest);
		for (int64_t k = 0; k < have - want; k++)
			gt_job_delete_pod(api, act[k]->obj);
		have = want;
	} else if (have < want) {
		int64_t wait_ms = 0;

		if (bo->failures > 0) {
			int64_t d = s->j->base_ms, cap = s->j->base_ms * 36;

			for (int64_t k = 1; k < bo->failures && d < cap; k++)
				d *= 2;
			if (d > cap)
				d = cap;
			if (wall_ms() < bo->last_ms + d)
				wait_ms = bo->last_ms + d;
		}
		if (wait_ms) {
			due(s, wait_ms);
		} else {
			int64_t ix = 0;

			for (; have < want; have++) {
				if (busy) {
					while (ix < s->completions && (busy[ix] || s->done_ix[ix]))
						ix++;
					if (ix >= s->completions)
						break;
					busy[ix] = 1;
				}
				if (gt_job_create_pod(api, s->job, busy ? ix : -1) < 0) {
					more = 1;
					break;
				}
			}
		}
	}
	st_set_int(s->st, "active", have);
	free(busy);
	free(act);
	return more;
}

/* ---- one Job ---- */

static void finished_job(struct sync *s)
{
	int64_t ttl;
	time_t at;
	const char *when = gt_json_str(s->st, "completionTime");

	for (size_t i = 0; i < s->n; i++)
		if (s->pods[i].fin)
			gt_job_drop_finalizer(s->j->loop.api, s->pods[i].obj);
	if (gt_json_int(s->job, "spec.ttlSecondsAfterFinished", &ttl) < 0)
		return;
	if (!when)
		when = gt_json_str(cond_get(s->st, cond_true(s->st, "Failed") ? "Failed" : "Complete"),
				   "lastTransitionTime");
	if (gt_time_parse(when, &at) < 0)
		return;
	if (s->now >= at + ttl) {
		struct gt_delete_opts o = { .grace = -1, .prop = GT_PROP_FOREGROUND };
		struct gt_obj *out = NULL;
		bool gone;

		if (!gt_json_path(s->job, "metadata.deletionTimestamp"))
			gt_api_delete(s->j->loop.api, jobs_res(), s->ns, gt_json_str(s->job, "metadata.name"),
				      &o, &out, &gone, NULL);
		gt_obj_unref(out);
	} else {
		due(s, (int64_t)(at + ttl) * 1000 + 50);
	}
}

static int sync_job(struct sync *s)
{
	struct backoff *bo = backoff_of(s->j, s->uid);
	const char *reason, *msg = "";
	size_t active;
	char ts[32];
	int more = 0;

	bo->seen = true;
	if (cond_true(s->st, "Complete") || cond_true(s->st, "Failed"))
		return finished_job(s), 0;
	if (gt_json_path(s->job, "metadata.deletionTimestamp")) {
		for (size_t i = 0; i < s->n; i++)
			if (s->pods[i].fin)
				gt_job_drop_finalizer(s->j->loop.api, s->pods[i].obj);
		return 0;
	}
	if (track(s, bo) < 0)
		return 1;
	active = count_active(s);
	reason = cond_true(s->st, "FailureTarget") ? gt_json_str(cond_get(s->st, "FailureTarget"), "reason")
						   : failure(s, &msg);
	if (*reason && !cond_true(s->st, "FailureTarget"))
		cond_set(s->st, "FailureTarget", "True", reason, msg, s->now);
	if (!*reason && !cond_true(s->st, "SuccessCriteriaMet") && succeeded(s, active))
		cond_set(s->st, "SuccessCriteriaMet", "True", "CompletionsReached",
			 "Reached expected number of succeeded pods", s->now);
	gt_time_rfc3339(s->now, ts);
	if (cond_true(s->st, "FailureTarget") || cond_true(s->st, "SuccessCriteriaMet")) {
		bool fail = cond_true(s->st, "FailureTarget");
		json_t *ft = cond_get(s->st, fail ? "FailureTarget" : "SuccessCriteriaMet");

		delete_active(s);
		st_set_int(s->st, "active", 0);
		if (!remaining(s)) {
			cond_set(s->st, fail ? "Failed" : "Complete", "True", gt_json_str(ft, "reason"),
				 gt_json_str(ft, "message"), s->now);
			if (!fail)
				json_object_set_new(s->st, "completionTime", json_string(ts));
		}
	} else if (gt_json_bool(s->job, "spec.suspend", false)) {
		delete_active(s);
		st_set_int(s->st, "active", 0);
		cond_set(s->st, "Suspended", "True", "JobSuspended", "Job suspended", s->now);
	} else {
		if (cond_true(s->st, "Suspended")) {
			cond_set(s->st, "Suspended", "False", "JobResumed", "Job resumed", s->now);
			json_object_del(s->st, "startTime");
		}
		if (!gt_json_str(s->st, "startTime"))
			json_object_set_new(s->st, "startTime", json_string(ts));
		more = manage(s, bo);
	}
	{
		int64_t ready = 0, term = 0;

		for (size_t i = 0; i < s->n; i++) {
			ready += s->pods[i].ready && s->pods[i].active;
			term += s->pods[i].deleting && !s->pods[i].terminal && !s->pods[i].dropped;
		}
		st_set_int(s->st, "ready", ready);
		st_set_int(s->st, "terminating", term);
	}
	if (write_status(s) < 0)
		more = 1;
	return more;
}

static int job_pass(struct gt_api *api, void *ctx)
{
	struct gt_jobs *j = ctx;
	struct gt_objlist jobs = { 0 }, pods = { 0 };
	int64_t start = wall_ms(), wake = 0;
	int more = 0;

	gt_objlist_load(api, "batch/jobs/", &jobs);
	gt_objlist_load(api, "core/pods/", &pods);
	for (size_t i = 0; i < j->nbo; i++)
		j->bo[i].seen = false;
	for (size_t i = 0; i < jobs.n; i++) {
		const json_t *job = jobs.items[i]->obj;
		struct sync s = { .j = j, .job = job, .now = time(NULL), .completions = -1 };

		s.ns = gt_json_str(job, "metadata.namespace") ?: "";
		s.uid = gt_json_str(job, "metadata.uid") ?: "";
		s.st = json_is_object(json_object_get(job, "status")) ?
			       json_deep_copy(json_object_get(job, "status")) : json_object();
		gt_json_int(job, "spec.completions", &s.completions);
		if (!strcmp(gt_json_str(job, "spec.completionMode") ?: "", "Indexed") && s.completions >= 0) {
			if (s.completions > MAX_INDEXES)
				s.completions = MAX_INDEXES;
			s.done_ix = xcalloc((size_t)s.completions + 1, 1);
			gt_job_indexes_parse(gt_json_str(s.st, "completedIndexes"), s.done_ix, s.completions);
		}
		s.pods = xcalloc(pods.n + 1, sizeof(*s.pods));
		for (size_t k = 0; k < pods.n; k++) {
			const json_t *p = pods.items[k]->obj;

			if (!strcmp(gt_json_str(p, "metadata.namespace") ?: "", s.ns) &&
			    !strcmp(gt_controller_uid(p) ?: "", s.uid))
				gt_jpod_init(&s.pods[s.n++], p);
		}
		more |= sync_job(&s);
		if (s.due_ms && (!wake || s.due_ms < wake))
			wake = s.due_ms;
		free(s.pods);
		free(s.done_ix);
		json_decref(s.st);
	}
	/* pods whose Job is gone (or orphaned them) keep no finalizer */
	for (size_t k = 0; k < pods.n; k++) {
		const json_t *p = pods.items[k]->obj;
		const char *cu = gt_controller_uid(p);
		bool owned = false;

		if (!gt_has_finalizer(p, GT_JOB_TRACKING))
			continue;
		for (size_t i = 0; cu && i < jobs.n && !owned; i++)
			owned = !strcmp(gt_json_str(jobs.items[i]->obj, "metadata.uid") ?: "", cu);
		if (!owned)
			gt_job_drop_finalizer(api, p);
	}
	for (size_t i = 0; i < j->nbo;)
		if (!j->bo[i].seen)
			j->bo[i] = j->bo[--j->nbo];
		else
			i++;
	gt_objlist_release(&pods);
	gt_objlist_release(&jobs);
	j->loop.retry_ms = 1000;
	if (wake) {
		/* the loop runs again once retry_ms has passed since this pass began */
		int64_t d = wake - start;

		j->loop.retry_ms = (int)(d < 20 ? 20 : d > 600000 ? 600000 : d);
		if (more && j->loop.retry_ms > 1000)
			j->loop.retry_ms = 1000;
		return 1;
	}
	return more;
}

static bool job_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	const json_t *o = ev->obj->obj;

	(void)waiting;
	(void)ctx;
	if (!strncmp(ev->obj->key, "batch/jobs/", 11))
		return true;
	if (strncmp(ev->obj->key, "core/pods/", 10))
		return false;
	return gt_has_finalizer(o, GT_JOB_TRACKING) ||
	       (ev->prev && gt_has_finalizer(ev->prev->obj, GT_JOB_TRACKING)) ||
	       !strcmp(gt_json_str(json_array_get(gt_json_path(o, "metadata.ownerReferences"), 0), "kind") ?: "",
		       "Job");
}

int gt_jobs_start(struct gt_api *api, int64_t backoff_ms, struct gt_jobs **out, struct gt_err *err)
{
	struct gt_jobs *j = xcalloc(1, sizeof(*j));

	j->base_ms = backoff_ms > 0 ? backoff_ms : 10000;
	j->loop = (struct gt_loop){ .api = api, .relevant = job_relevant, .pass = job_pass, .ctx = j,
				    .retry_ms = 1000 };
	if (gt_loop_start(&j->loop, err) < 0) {
		free(j);
		return -EAGAIN;
	}
	*out = j;
	return 0;
}

void gt_jobs_stop(struct gt_jobs *j)
{
	if (!j)
		return;
	gt_loop_stop(&j->loop);
	free(j->bo);
	free(j);
}
