/*
 * pods.c - `gantry-bench pods`: how fast a node agent makes Pods run, seen
 * from outside as a client sees it.
 *
 * One watch stream on the namespace's pods (opened from the current
 * resourceVersion before anything is created, resumed from the last seen
 * one if the server ends it) stamps, per pod, when the watcher read
 *   added    the ADDED event (the server's write reached watchers),
 *   status   the first event carrying containerStatuses (the agent's first
 *            status report),
 *   running  the first event with status.phase Running and
 *            containerStatuses[0].state.running,
 *   gone     the DELETED event.
 * Pods are `PREFIX-I`, bound to --node (there is no scheduler) and run
 * `sleep 3600` in --image.
 *
 * Modes:
 *   seq    create one pod, wait until the watcher saw it Running, then the
 *          next: the created -> Running latency of an agent doing nothing
 *          else (the earlier pods keep running).
 *   burst  create all of them at once over --conns connections; the time
 *          from the first POST to the last Running gives pods started per
 *          second.
 * Latency runs from just before the pod's POST to the watcher reading the
 * Running event.  Afterwards (unless --delete 0) every pod is deleted and
 * the command waits until the watcher saw each one gone; with --pid AGENT
 * it reads the agent's VmRSS while all pods run and its own CPU time (not
 * its children's).  The whole machine's busy CPU time over the creates
 * (until the last pod ran) is reported per pod too: it includes the
 * server, runc, CNI plugins, this client, and any other work on the host.
 * --trace FILE writes one line per pod created: index, the POST's start
 * (CLOCK_MONOTONIC seconds, as `perf record -k mono` stamps events), then
 * the POST's return, added, status, running, gone and the DELETE's start
 * in ms after the POST's start (-1: not seen).
 */
#include "bench.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Without a watch stream for this long, the run gives up waiting. */
#define WATCH_DEAD_US 10e6

/* Per pod, monotonic microseconds; 0 = not (yet) seen. */
struct pstamp {
	double post, posted, added, status, running, del, gone;
	bool failed;
};

struct prun {
	const struct bt_target *t;
	const char *ns, *prefix, *node, *image, *pull;
	int n, conns, grace;
	struct pstamp *p;
	pthread_mutex_t lock;    /* guards p[], the counters, why */
	pthread_cond_t cond;     /* signalled whenever a pod runs, fails or goes */
	int running, gone, failed, posted_err;
	char why[512];           /* first failure (a waiting reason, an HTTP error) */
	char rv[64];             /* the watch resumes from here; watch thread only */
	atomic_bool stop;
	atomic_int watch_ok;     /* 1 once the first stream answered 200 */
	atomic_bool dead;        /* no watch for WATCH_DEAD_US: the server is gone */
	struct bt_buf line;
	atomic_long next;        /* burst and delete workers: next pod index */
};

/* Records a failure of pod i (-1: of the run); the caller holds r->lock. */
static void note_fail(struct prun *r, int i, const char *what, const char *detail)
{
	if (i >= 0 && !r->p[i].failed) {
		r->p[i].failed = true;
		r->failed++;
	}
	if (!r->why[0])
		snprintf(r->why, sizeof(r->why), "%s: %.400s", what, detail ? detail : "");
	pthread_cond_broadcast(&r->cond);
}

/* The pod index of NAME ("PREFIX-I"), or -1 when it is not one of ours. */
static int pod_index(const struct prun *r, const char *name)
{
	size_t pl = strlen(r->prefix);
	char *end;

	if (!name || strncmp(name, r->prefix, pl) || name[pl] != '-')
		return -1;
	long i = strtol(name + pl + 1, &end, 10);
	return *end || end == name + pl + 1 || i < 0 || i >= r->n ? -1 : (int)i;
}

/* Waiting reasons that will not turn into Running without a change. */
static bool fatal_reason(const char *why)
{
	static const char *const bad[] = { "ErrImage", "ImagePullBackOff", "InvalidImageName",
					   "CreateContainer", "RunContainerError",
					   "CrashLoopBackOff" };
	for (size_t k = 0; why && k < sizeof(bad) / sizeof(bad[0]); k++)
		if (!strncmp(why, bad[k], strlen(bad[k])))
			return true;
	return false;
}

static void on_event(struct prun *r, const char *s, double now)
{
	json_t *ev = json_loads(s, 0, NULL), *obj, *st, *cs0;
	const char *type, *rv, *phase;
	int i;

	if (!ev)
		return;
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
					       "resourceVersion"));
	if (type && !strcmp(type, "ERROR")) {
		pthread_mutex_lock(&r->lock);
		note_fail(r, -1, "watch", s);
		pthread_mutex_unlock(&r->lock);
		/* resuming from the same point would fail the same way */
		r->rv[0] = '\0';
		json_decref(ev);
		return;
	}
	if (rv)
		snprintf(r->rv, sizeof(r->rv), "%s", rv);
	i = pod_index(r, json_string_value(json_object_get(json_object_get(obj, "metadata"),
							    "name")));
	if (i < 0 || !type || !strcmp(type, "BOOKMARK")) {
		json_decref(ev);
		return;
	}
	st = json_object_get(obj, "status");
	phase = json_string_value(json_object_get(st, "phase"));
	cs0 = json_array_get(json_object_get(st, "containerStatuses"), 0);
	pthread_mutex_lock(&r->lock);
	struct pstamp *p = &r->p[i];
	if (!strcmp(type, "DELETED")) {
		if (!p->gone) {
			p->gone = now;
			r->gone++;
			pthread_cond_broadcast(&r->cond);
		}
	} else {
		if (!p->added)
			p->added = now;
		if (cs0 && !p->status)
			p->status = now;
		if (!p->running && phase && !strcmp(phase, "Running") &&
		    json_object_get(json_object_get(cs0, "state"), "running")) {
			p->running = now;
			r->running++;
			pthread_cond_broadcast(&r->cond);
		}
		json_t *w = json_object_get(json_object_get(cs0, "state"), "waiting");
		const char *reason = json_string_value(json_object_get(w, "reason"));
		if (!p->running && (fatal_reason(reason) || (phase && !strcmp(phase, "Failed")))) {
			char what[256];

			snprintf(what, sizeof(what), "pod %.60s-%d: %.100s", r->prefix, i,
				 reason ? reason : "phase Failed");
			note_fail(r, i, what, json_string_value(json_object_get(w, "message")));
		}
	}
	pthread_mutex_unlock(&r->lock);
	json_decref(ev);
}

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
	struct prun *r = ud;
	size_t len = size * n, start = 0;
	double now = bt_now_us();

	bt_buf_add(&r->line, data, len);
	for (size_t k = 0; k < r->line.len; k++) {
		if (r->line.p[k] != '\n')
			continue;
		r->line.p[k] = '\0';
		on_event(r, r->line.p + start, now);
		start = k + 1;
	}
	if (start) {
		memmove(r->line.p, r->line.p + start, r->line.len - start);
		r->line.len -= start;
		r->line.p[r->line.len] = '\0';
	}
	return len;
}

/* The namespace's current resourceVersion (a list), into r->rv; says why
 * not on stderr when verbose. */
static int list_rv(struct prun *r, bool verbose)
{
	struct bt_client c;
	struct bt_buf url = { 0 };
	json_t *j = NULL;
	int st, rc = -1;

	bt_client_init(&c, r->t);
	bt_buf_printf(&url, "%s/api/v1/namespaces/%s/pods?limit=1", r->t->base, r->ns);
	st = bt_client_do(&c, url.p, NULL);
	if (st == 200 && (j = json_loads(c.resp.p, 0, NULL))) {
		const char *rv = json_string_value(json_object_get(json_object_get(j, "metadata"),
								   "resourceVersion"));
		if (rv) {
			snprintf(r->rv, sizeof(r->rv), "%s", rv);
			rc = 0;
		}
	}
	if (rc < 0 && verbose)
		fprintf(stderr, "gantry-bench: pods: list %s: %d %.200s\n", url.p, st,
			st < 0 ? c.errbuf : c.resp.p ? c.resp.p : "");
	json_decref(j);
	bt_buf_free(&url);
	bt_client_free(&c);
	return rc;
}

/* Watches until r->stop; reconnects from the last resourceVersion seen. */
static void *watch_main(void *arg)
{
	struct prun *r = arg;
	struct curl_slist *hdrs = bt_headers(r->t);
	CURLM *m = curl_multi_init();
	struct bt_buf url = { 0 };

	double lost = 0; /* when the last stream failed; 0 while one works */

	while (!atomic_load(&r->stop)) {
		CURL *h = curl_easy_init();
		int running = 1, left;
		long code = 0;

		if (lost && bt_now_us() - lost > WATCH_DEAD_US && !atomic_load(&r->dead)) {
			atomic_store(&r->dead, true);
			pthread_mutex_lock(&r->lock);
			note_fail(r, -1, "watch", "no stream for 10 s (server gone?)");
			pthread_mutex_unlock(&r->lock);
		}
		if (!r->rv[0] && list_rv(r, !lost) < 0) {
			if (!lost)
				lost = bt_now_us();
			usleep(200000);
			curl_easy_cleanup(h);
			continue;
		}
		bt_buf_reset(&url);
		bt_buf_printf(&url, "%s/api/v1/namespaces/%s/pods?watch=true&resourceVersion=%s",
			      r->t->base, r->ns, r->rv);
		bt_easy_setup(h, r->t, hdrs);
		curl_easy_setopt(h, CURLOPT_URL, url.p);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
		bt_buf_reset(&r->line);
		curl_multi_add_handle(m, h);
		while (running && !atomic_load(&r->stop)) {
			curl_multi_perform(m, &running);
			if (!atomic_load(&r->watch_ok) &&
			    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
			    code == 200)
				atomic_store(&r->watch_ok, 1);
			CURLMsg *msg;
			while ((msg = curl_multi_info_read(m, &left)))
				if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK)
					fprintf(stderr, "gantry-bench: pods: watch: %s (resuming)\n",
						curl_easy_strerror(msg->data.result));
			if (running)
				curl_multi_poll(m, NULL, 0, 50, NULL);
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		curl_multi_remove_handle(m, h);
		curl_easy_cleanup(h);
		if (code == 200) {
			lost = 0;
		} else if (!atomic_load(&r->stop)) {
			if (!lost)
				lost = bt_now_us();
			if (code)
				fprintf(stderr, "gantry-bench: pods: watch answered HTTP %ld\n", code);
			r->rv[0] = '\0';
			usleep(200000);
		}
	}
	bt_buf_free(&url);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	return NULL;
}

/* POSTs pod i; stamps post/posted; returns true on 201. */
static bool create_pod(struct prun *r, struct bt_client *c, int i)
{
	struct bt_buf url = { 0 };
	char name[160];
	json_t *ctr, *pod;
	int st;

	snprintf(name, sizeof(name), "%s-%d", r->prefix, i);
	ctr = json_pack("{s:s, s:s, s:[s,s]}", "name", "c", "image", r->image, "command", "sleep",
			"3600");
	if (r->pull)
		json_object_set_new(ctr, "imagePullPolicy", json_string(r->pull));
	pod = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:i, s:[o]}}", "apiVersion", "v1",
			"kind", "Pod", "metadata", "name", name, "labels", "app", "gantry-bench",
			"spec", "nodeName", r->node, "terminationGracePeriodSeconds", r->grace,
			"containers", ctr);
	char *body = pod ? json_dumps(pod, JSON_COMPACT) : NULL;
	json_decref(pod);
	if (!body)
		abort();
	bt_buf_printf(&url, "%s/api/v1/namespaces/%s/pods", r->t->base, r->ns);
	double t0 = bt_now_us();
	st = bt_client_do(c, url.p, body);
	double t1 = bt_now_us();
	pthread_mutex_lock(&r->lock);
	r->p[i].post = t0;
	r->p[i].posted = t1;
	if (st != 201) {
		char what[200];

		snprintf(what, sizeof(what), "create %s: HTTP %d", name, st);
		r->posted_err++;
		note_fail(r, i, what, st < 0 ? c->errbuf : c->resp.p);
	}
	pthread_mutex_unlock(&r->lock);
	bt_buf_free(&url);
	free(body);
	return st == 201;
}

static bool delete_pod(struct prun *r, struct bt_client *c, int i)
{
	struct bt_buf url = { 0 };
	int st;

	bt_buf_printf(&url, "%s/api/v1/namespaces/%s/pods/%s-%d", r->t->base, r->ns, r->prefix, i);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, "DELETE");
	double t0 = bt_now_us();
	st = bt_client_do(c, url.p, NULL);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, NULL);
	pthread_mutex_lock(&r->lock);
	r->p[i].del = t0;
	if (st == 404 && !r->p[i].gone) {
		r->p[i].gone = t0;
		r->gone++;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	if (st != 200 && st != 202 && st != 404)
		fprintf(stderr, "gantry-bench: pods: delete %s: %d %.200s\n", url.p, st,
			st < 0 ? c->errbuf : c->resp.p);
	bt_buf_free(&url);
	return st == 200 || st == 202 || st == 404;
}

struct pworker {
	struct prun *r;
	bool del;
	pthread_t th;
};

/* Burst creates or deletes: take the next index until all are done. */
static void *burst_main(void *arg)
{
	struct pworker *w = arg;
	struct prun *r = w->r;
	struct bt_client c;
	long i;

	bt_client_init(&c, r->t);
	while ((i = atomic_fetch_add(&r->next, 1)) < r->n) {
		if (!w->del)
			create_pod(r, &c, (int)i);
		else if (r->p[i].post > 0) /* pods never created are not deleted */
			delete_pod(r, &c, (int)i);
	}
	bt_client_free(&c);
	return NULL;
}

static void run_burst(struct prun *r, bool del)
{
	struct pworker *ws = bt_xmalloc((size_t)r->conns * sizeof(*ws));

	atomic_store(&r->next, 0);
	for (int k = 0; k < r->conns; k++) {
		ws[k].r = r;
		ws[k].del = del;
		if (pthread_create(&ws[k].th, NULL, burst_main, &ws[k])) {
			fprintf(stderr, "gantry-bench: pods: cannot start a thread\n");
			exit(1);
		}
	}
	for (int k = 0; k < r->conns; k++)
		pthread_join(ws[k].th, NULL);
	free(ws);
}

/* Waits (r->lock held) until *count reaches want, a pod failed (with
 * stop_on_fail), the watch is lost, or the deadline. */
static void wait_count(struct prun *r, const int *count, int want, double deadline_us,
		       bool stop_on_fail)
{
	while (*count < want && bt_now_us() < deadline_us && !(stop_on_fail && r->failed) &&
	       !atomic_load(&r->dead)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
}

/* CPU time the whole machine spent busy (not idle, not in iowait), in us. */
static double machine_busy_us(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);
	int n = 0;

	if (f) {
		n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]);
		fclose(f);
	}
	if (n < 5)
		return 0;
	unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return (double)busy * 1e6 / (double)(hz > 0 ? hz : 100);
}

static void write_trace(const struct prun *r, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "gantry-bench: pods: cannot write %s\n", path);
		return;
	}
	for (int i = 0; i < r->n; i++) {
		const struct pstamp *p = &r->p[i];
		double v[] = { p->posted, p->added, p->status, p->running, p->gone };

		if (!p->post)
			continue;
		fprintf(f, "%d %.6f", i, p->post / 1e6);
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			fprintf(f, " %.2f", v[k] ? (v[k] - p->post) / 1000.0 : -1.0);
		fprintf(f, " %.2f\n", p->del ? (p->del - p->post) / 1000.0 : -1.0);
	}
	fclose(f);
}

static void report(struct prun *r, const char *mode, const char *tag, double rss_kb,
		   double cpu_us, double machine_us)
{
	struct bt_lat run = { 0 }, add = { 0 }, post = { 0 }, gone = { 0 };
	double first = 0, last_run = 0, first_del = 0, last_gone = 0;

	for (int i = 0; i < r->n; i++) {
		const struct pstamp *p = &r->p[i];
		if (!p->post)
			continue;
		if (!first || p->post < first)
			first = p->post;
		bt_lat_add(&post, p->posted - p->post);
		if (p->added)
			bt_lat_add(&add, p->added - p->post);
		if (p->running) {
			bt_lat_add(&run, p->running - p->post);
			if (p->running > last_run)
				last_run = p->running;
		}
		if (p->del && p->gone) {
			bt_lat_add(&gone, p->gone - p->del);
			if (!first_del || p->del < first_del)
				first_del = p->del;
			if (p->gone > last_gone)
				last_gone = p->gone;
		}
	}
	double span = last_run > first ? (last_run - first) / 1e6 : 0;
	size_t nrun = run.n, ngone = gone.n;
	bt_result("bench=pods mode=%s tag=%s image=%s n=%d running=%zu failed=%d "
		  "p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f min_ms=%.1f "
		  "added_p50_ms=%.1f post_p50_ms=%.1f span_s=%.3f per_s=%.1f "
		  "deleted=%zu gone_p50_ms=%.1f gone_p99_ms=%.1f delete_span_s=%.3f "
		  "agent_rss_kb=%.0f agent_cpu_ms_per_pod=%.1f machine_cpu_ms_per_pod=%.1f",
		  mode, tag, r->image, r->n, nrun, r->failed, bt_lat_ms(&run, 0.5),
		  bt_lat_ms(&run, 0.9), bt_lat_ms(&run, 0.99), bt_lat_ms(&run, 1.0),
		  bt_lat_ms(&run, 0), bt_lat_ms(&add, 0.5), bt_lat_ms(&post, 0.5), span,
		  span > 0 ? (double)nrun / span : 0, ngone, bt_lat_ms(&gone, 0.5),
		  bt_lat_ms(&gone, 0.99), last_gone > first_del ? (last_gone - first_del) / 1e6 : 0,
		  rss_kb, nrun ? cpu_us / 1000.0 / (double)nrun : 0,
		  nrun ? machine_us / 1000.0 / (double)nrun : 0);
	bt_lat_free(&run);
	bt_lat_free(&add);
	bt_lat_free(&post);
	bt_lat_free(&gone);
}

int bt_cmd_pods(const struct bt_target *t, int argc, char **argv)
{
	struct prun r;
	const char *mode = bt_opt(argc, argv, "--mode", "seq");
	const char *trace = bt_opt(argc, argv, "--trace", NULL);
	long pid = bt_opt_long(argc, argv, "--pid", 0);
	double timeout_us = bt_opt_double(argc, argv, "--timeout", 60) * 1e6;
	bool burst = !strcmp(mode, "burst"), del = bt_opt_long(argc, argv, "--delete", 1) != 0;
	pthread_t wt;
	int rc = 0;

	if (t->kind != BT_GANTRY) {
		fprintf(stderr, "gantry-bench: pods: only for --target gantry\n");
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.t = t;
	r.ns = bt_opt(argc, argv, "--ns", "bench-pods");
	r.prefix = bt_opt(argc, argv, "--prefix", "p");
	r.node = bt_opt(argc, argv, "--node", NULL);
	r.image = bt_opt(argc, argv, "--image", "host");
	r.pull = bt_opt(argc, argv, "--pull", NULL);
	r.n = (int)bt_opt_long(argc, argv, "--n", 100);
	r.conns = (int)bt_opt_long(argc, argv, "--conns", 4);
	r.grace = (int)bt_opt_long(argc, argv, "--grace", 1);
	if (!r.node || r.n < 1 || r.n > 100000 || r.conns < 1 || r.conns > 256 || r.grace < 0 ||
	    (!burst && strcmp(mode, "seq"))) {
		fprintf(stderr, "gantry-bench: pods: need --node; --n 1..100000, --conns 1..256, "
				"--mode seq|burst\n");
		return 2;
	}
	r.p = calloc((size_t)r.n, sizeof(*r.p));
	if (!r.p)
		abort();
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	if (list_rv(&r, true) < 0) {
		free(r.p);
		return 1;
	}
	pthread_create(&wt, NULL, watch_main, &r);
	for (int k = 0; k < 500 && !atomic_load(&r.watch_ok); k++)
		usleep(10000);
	if (!atomic_load(&r.watch_ok)) {
		fprintf(stderr, "gantry-bench: pods: the watch did not open in 5 s\n");
		rc = 1;
		goto out;
	}

	double cpu0 = bt_proc_cpu_us(pid), busy0 = machine_busy_us();
	if (burst) {
		run_burst(&r, false);
		pthread_mutex_lock(&r.lock);
		wait_count(&r, &r.running, r.n - r.posted_err, bt_now_us() + timeout_us, true);
		pthread_mutex_unlock(&r.lock);
	} else {
		struct bt_client c;

		bt_client_init(&c, t);
		for (int i = 0; i < r.n; i++) {
			if (!create_pod(&r, &c, i))
				break;
			pthread_mutex_lock(&r.lock);
			wait_count(&r, &r.running, i + 1, bt_now_us() + timeout_us, true);
			bool stuck = !r.p[i].running;
			pthread_mutex_unlock(&r.lock);
			if (stuck)
				break;
		}
		bt_client_free(&c);
	}
	double cpu = pid ? bt_proc_cpu_us(pid) - cpu0 : 0, busy = machine_busy_us() - busy0;
	usleep(300000); /* let the agent settle before reading its memory */
	double rss = (double)bt_proc_rss_kb(pid);
	pthread_mutex_lock(&r.lock);
	if (r.running < r.n) {
		fprintf(stderr, "gantry-bench: pods %s %s: %d/%d running; first failure: %s\n", mode,
			r.image, r.running, r.n, r.why[0] ? r.why : "(none: timed out)");
		rc = 1;
	}
	pthread_mutex_unlock(&r.lock);
	if (del) {
		int posted = 0;

		for (int i = 0; i < r.n; i++)
			posted += r.p[i].post > 0;
		run_burst(&r, true);
		pthread_mutex_lock(&r.lock);
		wait_count(&r, &r.gone, posted, bt_now_us() + timeout_us + r.grace * 1e6, false);
		if (r.gone < posted) {
			fprintf(stderr, "gantry-bench: pods %s %s: %d/%d gone after deletion\n", mode,
				r.image, r.gone, posted);
			rc = 1;
		}
		pthread_mutex_unlock(&r.lock);
	}
	report(&r, mode, bt_opt(argc, argv, "--tag", "-"), rss, cpu, busy);
	if (trace)
		write_trace(&r, trace);
out:
	atomic_store(&r.stop, true);
	pthread_join(wt, NULL);
	bt_buf_free(&r.line);
	pthread_mutex_destroy(&r.lock);
	pthread_cond_destroy(&r.cond);
	free(r.p);
	return rc;
}
