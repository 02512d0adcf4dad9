/*
 * sched.c - `gantry-bench sched`: how fast the scheduler binds pods, seen
 * from outside as a client sees it, on nodes someone else registered
 * (`gantry agent --simulate N`).
 *
 * One watch on the namespace's pods (opened before anything is created,
 * resumed from the last resourceVersion if the server ends it) stamps, per
 * pod, when the watcher first read it with spec.nodeName set.
 *
 *   1. Throughput: --n bare pods (`p-I`, requests --cpu/--memory, no
 *      controller) created as fast as --conns connections go; pods/s is
 *      bound pods over the time from the first POST to the last binding
 *      seen, and the latency of each pod runs from just before its POST to
 *      its binding.
 *   2. Gang (--gang G > 0, after 1. is all bound): a PodGroup minMember G,
 *      then G pods labelled scheduling.x-k8s.io/pod-group; reported: from
 *      the last member's POST (the gang complete) to the last binding, and
 *      from the first member's POST.
 * With --pid SERVER it reads the server's VmRSS with all pods bound and its
 * CPU time over 1: all of it, and that of the scheduler's own threads
 * (named gt-sched: placing; gt-sched-write: writing the bindings).  Pods are left in place (the caller removes the server).
 */
#include "bench.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct sstamp {
	double post, bound;
};

struct srun {
	const struct bt_target *t;
	const char *ns, *cpu, *mem;
	int n, gang, conns;
	struct sstamp *p, *g;  /* plain pods, gang members */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int bound, gbound, errors;
	char rv[64];
	atomic_bool stop;
	atomic_int watch_ok;
	struct bt_buf line;
	atomic_long next;
	bool gang_phase;
};

/* CPU time of pid's threads named exactly comm, in microseconds. */
static double threads_cpu_us(long pid, const char *comm)
{
	char path[300], name[64], line[1024];
	struct dirent *de;
	double sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	if (pid <= 0 || !(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		unsigned long long ut = 0, st = 0;
		FILE *f;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%.20s/stat", pid, de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		p = fgets(line, sizeof(line), f) ? strchr(line, '(') : NULL;
		fclose(f);
		if (!p || sscanf(p, "(%63[^)])", name) != 1 || strcmp(name, comm))
			continue;
		p = strrchr(line, ')');
		if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) == 2)
			sum += (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
	}
	closedir(d);
	return sum;
}

static struct sstamp *stamp_of(struct srun *r, const char *name, bool *gang)
{
	char *end;
	long i;

	if (!name || (name[0] != 'p' && name[0] != 'g') || name[1] != '-')
		return NULL;
	i = strtol(name + 2, &end, 10);
	*gang = name[0] == 'g';
	if (*end || i < 0 || i >= (*gang ? r->gang : r->n))
		return NULL;
	return *gang ? &r->g[i] : &r->p[i];
}

static void on_event(struct srun *r, const char *s, double now)
{
	json_t *ev = json_loads(s, 0, NULL), *obj, *meta;
	const char *rv, *node;
	struct sstamp *st;
	bool gang = false;

	if (!ev)
		return;
	obj = json_object_get(ev, "object");
	meta = json_object_get(obj, "metadata");
	rv = json_string_value(json_object_get(meta, "resourceVersion"));
	if (rv)
		snprintf(r->rv, sizeof(r->rv), "%s", rv);
	node = json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
	st = stamp_of(r, json_string_value(json_object_get(meta, "name")), &gang);
	if (st && node && *node) {
		pthread_mutex_lock(&r->lock);
		if (!st->bound) {
			st->bound = now;
			if (gang)
				r->gbound++;
			else
				r->bound++;
			pthread_cond_broadcast(&r->cond);
		}
		pthread_mutex_unlock(&r->lock);
	}
	json_decref(ev);
}

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
	struct srun *r = ud;
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

static int list_rv(struct srun *r)
{
	struct bt_client c;
	struct bt_buf url = { 0 };
	json_t *j = NULL;
	int rc = -1;

	bt_client_init(&c, r->t);
	bt_buf_printf(&url, "%s/api/v1/namespaces/%s/pods?limit=1", r->t->base, r->ns);
	if (bt_client_do(&c, url.p, NULL) == 200 && (j = json_loads(c.resp.p, 0, NULL))) {
		const char *rv = json_string_value(json_object_get(json_object_get(j, "metadata"),
								   "resourceVersion"));
		if (rv) {
			snprintf(r->rv, sizeof(r->rv), "%s", rv);
			rc = 0;
		}
	}
	json_decref(j);
	bt_buf_free(&url);
	bt_client_free(&c);
	return rc;
}

static void *watch_main(void *arg)
{
	struct srun *r = arg;
	struct curl_slist *hdrs = bt_headers(r->t);
	struct bt_buf url = { 0 };

	while (!atomic_load(&r->stop)) {
		CURL *h = curl_easy_init();
		CURLM *m = curl_multi_init();
		int running = 1;
		long code = 0;

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
			if (running)
				curl_multi_poll(m, NULL, 0, 50, NULL);
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		curl_multi_remove_handle(m, h);
		curl_easy_cleanup(h);
		curl_multi_cleanup(m);
		if (code != 200 && !atomic_load(&r->stop)) {
			fprintf(stderr, "gantry-bench: sched: watch answered %ld; relisting\n", code);
			usleep(200000);
			list_rv(r);
		}
	}
	bt_buf_free(&url);
	curl_slist_free_all(hdrs);
	return NULL;
}

static int post(struct srun *r, struct bt_client *c, const char *path, json_t *obj)
{
	struct bt_buf url = { 0 };
	char *body = json_dumps(obj, JSON_COMPACT);
	int st;

	bt_buf_printf(&url, "%s%s", r->t->base, path);
	st = bt_client_do(c, url.p, body);
	if (st != 201) {
		pthread_mutex_lock(&r->lock);
		if (!r->errors++)
			fprintf(stderr, "gantry-bench: sched: POST %s: %d %.300s\n", path, st,
				st < 0 ? c->errbuf : c->resp.p);
		pthread_mutex_unlock(&r->lock);
	}
	bt_buf_free(&url);
	free(body);
	return st;
}

static void create_pod(struct srun *r, struct bt_client *c, int i, bool gang)
{
	char name[64], path[300];
	struct sstamp *st = gang ? &r->g[i] : &r->p[i];
	json_t *pod;

	snprintf(name, sizeof(name), "%c-%d", gang ? 'g' : 'p', i);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", r->ns);
	pod = json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:[{s:s,s:s,s:{s:{s:s,s:s}}}]}}",
			"apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "labels",
			"app", "gantry-bench-sched", "spec", "containers", "name", "c", "image",
			"registry.k8s.io/pause:3.9", "resources", "requests", "cpu", r->cpu,
			"memory", r->mem);
	if (gang)
		json_object_set_new(json_object_get(json_object_get(pod, "metadata"), "labels"),
				    "scheduling.x-k8s.io/pod-group", json_string("bench-gang"));
	st->post = bt_now_us();
	post(r, c, path, pod);
	json_decref(pod);
}

static void *create_main(void *arg)
{
	struct srun *r = arg;
	struct bt_client c;
	long i, n = r->gang_phase ? r->gang : r->n;

	bt_client_init(&c, r->t);
	while ((i = atomic_fetch_add(&r->next, 1)) < n)
		create_pod(r, &c, (int)i, r->gang_phase);
	bt_client_free(&c);
	return NULL;
}

static void create_all(struct srun *r, bool gang)
{
	pthread_t *th = bt_xmalloc((size_t)r->conns * sizeof(*th));

	r->gang_phase = gang;
	atomic_store(&r->next, 0);
	for (int k = 0; k < r->conns; k++)
		pthread_create(&th[k], NULL, create_main, r);
	for (int k = 0; k < r->conns; k++)
		pthread_join(th[k], NULL);
	free(th);
}

static void wait_for(struct srun *r, const int *count, int want, double deadline)
{
	pthread_mutex_lock(&r->lock);
	while (*count < want && bt_now_us() < deadline) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
}

/* first POST, last POST, last binding over n stamps; latencies into lat. */
static void spans(const struct sstamp *s, int n, double *first, double *last_post,
		  double *last_bound, struct bt_lat *lat)
{
	*first = *last_post = *last_bound = 0;
	for (int i = 0; i < n; i++) {
		if (!s[i].post)
			continue;
		if (!*first || s[i].post < *first)
			*first = s[i].post;
		if (s[i].post > *last_post)
			*last_post = s[i].post;
		if (s[i].bound) {
			if (s[i].bound > *last_bound)
				*last_bound = s[i].bound;
			bt_lat_add(lat, s[i].bound - s[i].post);
		}
	}
}

int bt_cmd_sched(const struct bt_target *t, int argc, char **argv)
{
	struct srun r;
	long pid = bt_opt_long(argc, argv, "--pid", 0);
	double timeout = bt_opt_double(argc, argv, "--timeout", 600) * 1e6;
	struct bt_lat lat = { 0 }, glat = { 0 };
	double first, last_post, last_bound, cpu0, cpu = 0, rss = 0, sc0, wr0, sc_cpu, wr_cpu;
	double gfirst = 0, glast_post = 0, glast_bound = 0;
	pthread_t wt;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	r.t = t;
	r.ns = bt_opt(argc, argv, "--ns", "bench-sched");
	r.cpu = bt_opt(argc, argv, "--cpu", "100m");
	r.mem = bt_opt(argc, argv, "--memory", "128Mi");
	r.n = (int)bt_opt_long(argc, argv, "--n", 50000);
	r.gang = (int)bt_opt_long(argc, argv, "--gang", 1000);
	r.conns = (int)bt_opt_long(argc, argv, "--conns", 8);
	if (r.n < 1 || r.n > 1000000 || r.gang < 0 || r.gang > 100000 || r.conns < 1 ||
	    r.conns > 256) {
		fprintf(stderr, "gantry-bench: sched: --n 1..1000000, --gang 0..100000, "
				"--conns 1..256\n");
		return 2;
	}
	r.p = calloc((size_t)r.n, sizeof(*r.p));
	r.g = calloc((size_t)r.gang + 1, sizeof(*r.g));
	if (!r.p || !r.g)
		abort();
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	if (list_rv(&r) < 0) {
		fprintf(stderr, "gantry-bench: sched: cannot list pods in %s\n", r.ns);
		return 1;
	}
	pthread_create(&wt, NULL, watch_main, &r);
	for (int k = 0; k < 500 && !atomic_load(&r.watch_ok); k++)
		usleep(10000);

	cpu0 = bt_proc_cpu_us(pid);
	sc0 = threads_cpu_us(pid, "gt-sched");
	wr0 = threads_cpu_us(pid, "gt-sched-write");
	create_all(&r, false);
	spans(r.p, r.n, &first, &last_post, &last_bound, &lat);
	bt_lat_free(&lat);
	fprintf(stderr, "gantry-bench: sched: %d pods created in %.1f s\n", r.n,
		(last_post - first) / 1e6);
	wait_for(&r, &r.bound, r.n, bt_now_us() + timeout);
	cpu = pid ? bt_proc_cpu_us(pid) - cpu0 : 0;
	sc_cpu = threads_cpu_us(pid, "gt-sched") - sc0;
	wr_cpu = threads_cpu_us(pid, "gt-sched-write") - wr0;
	spans(r.p, r.n, &first, &last_post, &last_bound, &lat);
	if (r.bound < r.n) {
		fprintf(stderr, "gantry-bench: sched: %d/%d bound\n", r.bound, r.n);
		rc = 1;
	}
	if (r.gang > 0 && !rc) {
		struct bt_client c;
		char path[300];
		json_t *pg = json_pack("{s:s,s:s,s:{s:s},s:{s:i}}", "apiVersion",
				       "scheduling.x-k8s.io/v1alpha1", "kind", "PodGroup",
				       "metadata", "name", "bench-gang", "spec", "minMember", r.gang);

		bt_client_init(&c, t);
		snprintf(path, sizeof(path), "/apis/scheduling.x-k8s.io/v1alpha1/namespaces/%s/podgroups",
			 r.ns);
		post(&r, &c, path, pg);
		json_decref(pg);
		bt_client_free(&c);
		create_all(&r, true);
		wait_for(&r, &r.gbound, r.gang, bt_now_us() + timeout);
		spans(r.g, r.gang, &gfirst, &glast_post, &glast_bound, &glat);
		if (r.gbound < r.gang) {
			fprintf(stderr, "gantry-bench: sched: gang: %d/%d bound\n", r.gbound, r.gang);
			rc = 1;
		}
	}
	usleep(500000);
	rss = (double)bt_proc_rss_kb(pid);
	{
		double span = last_bound > first ? (last_bound - first) / 1e6 : 0;

		bt_result("bench=sched n=%d bound=%d errors=%d create_s=%.3f span_s=%.3f "
			  "pods_per_s=%.1f p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f "
			  "server_cpu_us_per_pod=%.0f sched_thread_cpu_us_per_pod=%.0f "
			  "sched_writers_cpu_us_per_pod=%.0f gang=%d gang_bound=%d "
			  "gang_complete_to_bound_ms=%.1f gang_first_post_to_bound_ms=%.1f "
			  "gang_create_ms=%.1f server_rss_kb=%.0f",
			  r.n, r.bound, r.errors, (last_post - first) / 1e6, span,
			  span > 0 ? r.bound / span : 0, bt_lat_ms(&lat, 0.5), bt_lat_ms(&lat, 0.9),
			  bt_lat_ms(&lat, 0.99), bt_lat_ms(&lat, 1.0),
			  r.bound ? cpu / r.bound : 0, r.bound ? sc_cpu / r.bound : 0,
			  r.bound ? wr_cpu / r.bound : 0, r.gang, r.gbound,
			  glast_bound > glast_post ? (glast_bound - glast_post) / 1000.0 : 0,
			  glast_bound > gfirst ? (glast_bound - gfirst) / 1000.0 : 0,
			  (glast_post - gfirst) / 1000.0, rss);
	}
	atomic_store(&r.stop, true);
	pthread_join(wt, NULL);
	bt_lat_free(&lat);
	bt_lat_free(&glat);
	bt_buf_free(&r.line);
	free(r.p);
	free(r.g);
	return rc || r.errors ? 1 : 0;
}
