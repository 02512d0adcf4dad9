/*
 * cronjob.c - the CronJob controller (batch/v1), on its own gt_loop.
 *
 * For each CronJob it looks at the Jobs it controls and:
 *  - reports status.active (references to unfinished Jobs),
 *    lastScheduleTime and lastSuccessfulTime (the latest completionTime);
 *  - deletes finished Jobs beyond successfulJobsHistoryLimit and
 *    failedJobsHistoryLimit, oldest first;
 *  - unless suspended, finds the most recent schedule time (api/cron.h,
 *    UTC) after lastScheduleTime (or creation) that is not in the future
 *    and, when it is within startingDeadlineSeconds, starts a Job
 *    "<cronjob>-<minutes since the epoch>" from spec.jobTemplate with the
 *    annotation batch.kubernetes.io/cronjob-scheduled-timestamp, as
 *    concurrencyPolicy allows: Allow, Forbid (not while one is active: the
 *    time is taken once the active Job ends, deadline permitting), Replace
 *    (the active Jobs are deleted first).
 * The pass asks to run again at the next schedule time.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/cron.h"
#include "base/log.h"
#include "controllers/controllers.h"

#define SCHEDULED "batch.kubernetes.io/cronjob-scheduled-timestamp"

struct gt_cronjobs {
	struct gt_loop loop;
};

static const struct gt_resource *jobs_res(void)
{
	return gt_registry_find("batch", "v1", "jobs");
}

static const char *finished(const json_t *job)
{
	const json_t *c;
	size_t i;

	json_array_foreach(gt_json_path(job, "status.conditions"), i, c) {
		const char *t = gt_json_str(c, "type") ?: "";

		if ((!strcmp(t, "Complete") || !strcmp(t, "Failed")) &&
		    !strcmp(gt_json_str(c, "status") ?: "", "True"))
			return t;
	}
	return NULL;
}

static int by_creation(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	int c = strcmp(gt_json_str(x, "metadata.creationTimestamp") ?: "",
		       gt_json_str(y, "metadata.creationTimestamp") ?: "");

	return c ? c : strcmp(gt_json_str(x, "metadata.name") ?: "", gt_json_str(y, "metadata.name") ?: "");
}

static void delete_job(struct gt_api *api, const json_t *job)
{
	struct gt_delete_opts o = { .grace = -1, .prop = GT_PROP_BACKGROUND };
	struct gt_obj *out = NULL;
	bool gone;

	gt_api_delete(api, jobs_res(), gt_json_str(job, "metadata.namespace") ?: "",
		      gt_json_str(job, "metadata.name") ?: "", &o, &out, &gone, NULL);
	gt_obj_unref(out);
}

/* Keeps the newest `limit` finished Jobs of one kind (Complete or Failed). */
static void prune(struct gt_api *api, const json_t *cj, const json_t **jobs, size_t n, const char *kind,
		  const char *limit_key)
{
	int64_t limit, keep = 0;

	if (gt_json_int(cj, limit_key, &limit) < 0)
		return;
	for (size_t i = n; i-- > 0;) {
		const char *f = finished(jobs[i]);

		if (!f || strcmp(f, kind) || gt_json_path(jobs[i], "metadata.deletionTimestamp"))
			continue;
		if (++keep > limit)
			delete_job(api, jobs[i]);
	}
}

static json_t *job_ref(const json_t *job)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "apiVersion", "batch/v1", "kind", "Job", "name",
			 gt_json_str(job, "metadata.name") ?: "", "namespace",
			 gt_json_str(job, "metadata.namespace") ?: "", "uid",
			 gt_json_str(job, "metadata.uid") ?: "", "resourceVersion",
			 gt_json_str(job, "metadata.resourceVersion") ?: "");
}

static int create_job(struct gt_api *api, const json_t *cj, int64_t t, json_t **ref)
{
	const char *ns = gt_json_str(cj, "metadata.namespace") ?: "", *name = gt_json_str(cj, "metadata.name") ?: "";
	const json_t *tpl = gt_json_path(cj, "spec.jobTemplate");
	json_t *meta = json_object(), *job;
	struct gt_obj *out = NULL;
	struct gt_err err;
	char jname[300], ts[32];
	int rc;

	snprintf(jname, sizeof(jname), "%s-%lld", name, (long long)(t / 60));
	gt_time_rfc3339((time_t)t, ts);
	json_object_set_new(meta, "name", json_string(jname));
	if (json_is_object(gt_json_path(tpl, "metadata.labels")))
		json_object_set_new(meta, "labels", json_deep_copy(gt_json_path(tpl, "metadata.labels")));
	json_object_set_new(meta, "annotations",
			    json_is_object(gt_json_path(tpl, "metadata.annotations")) ?
				    json_deep_copy(gt_json_path(tpl, "metadata.annotations")) : json_object());
	json_object_set_new(json_object_get(meta, "annotations"), SCHEDULED, json_string(ts));
	json_object_set_new(meta, "ownerReferences",
			    json_pack("[{s:s,s:s,s:s,s:s,s:b,s:b}]", "apiVersion", "batch/v1", "kind", "CronJob",
				      "name", name, "uid", gt_json_str(cj, "metadata.uid") ?: "", "controller", 1,
				      "blockOwnerDeletion", 1));
	job = json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "batch/v1", "kind", "Job", "metadata", meta, "spec",
			json_is_object(json_object_get(tpl, "spec")) ? json_deep_copy(json_object_get(tpl, "spec"))
								     : json_object());
	gt_err_clear(&err);
	rc = gt_api_create(api, jobs_res(), ns, job, NULL, &out, &err);
	if (rc == -EEXIST)
		rc = gt_api_get(api, jobs_res(), ns, jname, &out, NULL);
	if (rc < 0)
		gt_warn("cronjob %s/%s: cannot create job %s: %s", ns, name, jname, err.msg);
	else if (strcmp(gt_controller_uid(out->obj) ?: "", gt_json_str(cj, "metadata.uid") ?: ""))
		rc = -EEXIST; /* someone else's Job has the name */
	else
		*ref = job_ref(out->obj);
	gt_obj_unref(out);
	return rc;
}

/*
 * The most recent schedule time in (from, now], or -1; *next gets the
 * first one after now.
 */
static int64_t most_recent(const struct gt_cron *c, int64_t from, int64_t now, int64_t *next)
{
	int64_t t = from, last = -1;

	/* at most a week of minutes is walked: older missed times do not matter */
	if (now - from > 7 * 86400)
		t = now - 7 * 86400;
	for (;;) {
		t = gt_cron_next(c, t);
		if (t < 0 || t > now) {
			*next = t;
			return last;
		}
		last = t;
	}
}

static int put_status(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	if (gt_json_equal(json_object_get(obj, "status"), ctx))
		return -EALREADY;
	json_object_set_new(obj, "status", json_deep_copy(ctx)); /* ctx stays ours */
	return 0;
}

/* One CronJob; returns the time (s) it wants to be looked at again, or 0. */
static int64_t sync_cron(struct gt_api *api, const json_t *cj, const struct gt_objlist *jobs)
{
	const char *ns = gt_json_str(cj, "metadata.namespace") ?: "", *uid = gt_json_str(cj, "metadata.uid") ?: "";
	const char *policy = gt_json_str(cj, "spec.concurrencyPolicy") ?: "Allow";
	json_t *st = json_is_object(json_object_get(cj, "status")) ? json_deep_copy(json_object_get(cj, "status"))
								   : json_object();
	json_t *active = json_array();
	const json_t **mine = xcalloc(jobs->n + 1, sizeof(*mine));
	size_t n = 0;
	int64_t now = time(NULL), next = 0, sds, t;
	time_t from = 0, done;
	struct gt_cron c;
	char msg[256], ts[32];
	struct gt_obj *out = NULL;

	for (size_t i = 0; i < jobs->n; i++) {
		const json_t *j = jobs->items[i]->obj;

		if (!strcmp(gt_json_str(j, "metadata.namespace") ?: "", ns) && !strcmp(gt_controller_uid(j) ?: "", uid))
			mine[n++] = j;
	}
	qsort(mine, n, sizeof(*mine), by_creation);
	for (size_t i = 0; i < n; i++) {
		const char *f = finished(mine[i]);
		time_t last = 0;

		if (!f && !gt_json_path(mine[i], "metadata.deletionTimestamp")) {
			json_array_append_new(active, job_ref(mine[i]));
		} else if (f && !strcmp(f, "Complete") &&
			   gt_time_parse(gt_json_str(mine[i], "status.completionTime"), &done) == 0 &&
			   (gt_time_parse(gt_json_str(st, "lastSuccessfulTime"), &last) < 0 || done > last)) {
			json_object_set(st, "lastSuccessfulTime", json_object_get(json_object_get(mine[i], "status"),
										    "completionTime"));
		}
	}
	prune(api, cj, mine, n, "Complete", "spec.successfulJobsHistoryLimit");
	prune(api, cj, mine, n, "Failed", "spec.failedJobsHistoryLimit");
	if (!gt_json_bool(cj, "spec.suspend", false) && !gt_json_path(cj, "metadata.deletionTimestamp") &&
	    gt_cron_parse(gt_json_str(cj, "spec.schedule") ?: "", &c, msg, sizeof(msg)) == 0 &&
	    (gt_time_parse(gt_json_str(st, "lastScheduleTime"), &from) == 0 ||
	     gt_time_parse(gt_json_str(cj, "metadata.creationTimestamp"), &from) == 0)) {
		if (gt_json_int(cj, "spec.startingDeadlineSeconds", &sds) == 0 && from < now - sds)
			from = (time_t)(now - sds);
		t = most_recent(&c, from, now, &next);
		if (t >= 0 && !(strcmp(policy, "Forbid") == 0 && json_array_size(active))) {
			json_t *ref = NULL;

			if (!strcmp(policy, "Replace")) {
				for (size_t i = 0; i < n; i++)
					if (!finished(mine[i]) && !gt_json_path(mine[i], "metadata.deletionTimestamp"))
						delete_job(api, mine[i]);
				json_array_clear(active);
			}
			if (create_job(api, cj, t, &ref) == 0) {
				json_array_append_new(active, ref);
				gt_time_rfc3339((time_t)t, ts);
				json_object_set_new(st, "lastScheduleTime", json_string(ts));
			} else {
				next = now + 5; /* try again soon */
			}
		}
	}
	if (json_array_size(active))
		json_object_set(st, "active", active);
	else
		json_object_del(st, "active");
	gt_api_modify(api, gt_registry_find("batch", "v1", "cronjobs"), ns, gt_json_str(cj, "metadata.name"),
		      GT_PART_STATUS, put_status, st, NULL, &out, NULL);
	gt_obj_unref(out);
	json_decref(active);
	json_decref(st);
	free(mine);
	return next > 0 ? next : 0;
}

static int cron_pass(struct gt_api *api, void *ctx)
{
	struct gt_cronjobs *cs = ctx;
	struct gt_objlist cjs = { 0 }, jobs = { 0 };
	int64_t wake = 0;

	gt_objlist_load(api, "batch/cronjobs/", &cjs);
	if (cjs.n)
		gt_objlist_load(api, "batch/jobs/", &jobs);
	for (size_t i = 0; i < cjs.n; i++) {
		int64_t w = sync_cron(api, cjs.items[i]->obj, &jobs);

		if (w > 0 && (!wake || w < wake))
			wake = w;
	}
	gt_objlist_release(&jobs);
	gt_objlist_release(&cjs);
	if (!wake)
		return 0;
	/* the loop runs again once retry_ms has passed since this pass began */
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		wake = wake * 1000 - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) + 200;
	}
	cs->loop.retry_ms = (int)(wake < 100 ? 100 : wake > 600000 ? 600000 : wake);
	return 1;
}

static bool cron_relevant(const struct gt_event *ev, bool waiting, void *ctx)
{
	(void)waiting;
	(void)ctx;
	if (!strncmp(ev->obj->key, "batch/cronjobs/", 15))
		return true;
	return !strncmp(ev->obj->key, "batch/jobs/", 11) &&
	       !strcmp(gt_json_str(json_array_get(gt_json_path(ev->obj->obj, "metadata.ownerReferences"), 0),
				   "kind") ?: "", "CronJob");
}

int gt_cronjobs_start(struct gt_api *api, struct gt_cronjobs **out, struct gt_err *err)
{
	struct gt_cronjobs *cs = xcalloc(1, sizeof(*cs));

	cs->loop = (struct gt_loop){ .api = api, .relevant = cron_relevant, .pass = cron_pass, .ctx = cs,
				     .retry_ms = 1000 };
	if (gt_loop_start(&cs->loop, err) < 0) {
		free(cs);
		return -EAGAIN;
	}
	*out = cs;
	return 0;
}

void gt_cronjobs_stop(struct gt_cronjobs *cs)
{
	if (!cs)
		return;
	gt_loop_stop(&cs->loop);
	free(cs);
}
