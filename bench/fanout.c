/*
 * fanout.c - `gantry-bench fanout`: one event delivered to many watchers.
 *
 * Opens N watch streams, each its own HTTPS connection (Gantry: GET
 * .../configmaps?watch=true from the current resourceVersion; etcd: a
 * POST /v3/watch stream on the gateway over the same prefix), spread over
 * a few threads that each drive their share through a libcurl multi
 * handle.  Once every stream is established it creates one ConfigMap per
 * round and records, per watcher, the time from the start of the create
 * request until that watcher has read the event line.  Rounds are
 * sequential: the next object is created after every watcher got the last
 * one (or a 10 s timeout), so the k-th event a watcher reads belongs to
 * round k.  With --pid it also reads the server's VmRSS while all the
 * streams are open (client and server share the machine).
 */
#include "bench.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ROUNDS 64

struct fan;

struct watcher {
	struct fan *f;
	int idx;
	CURL *h;
	struct bt_buf line;
	int events;
	bool established, done;
};

struct fan {
	const struct bt_target *t;
	int n, rounds, nthreads;
	struct watcher *w;
	struct curl_slist *hdrs;
	char *url, *post;
	double *recv;               /* recv[round * n + watcher], 0 = not yet */
	atomic_int established, failed, got[MAX_ROUNDS];
	atomic_bool stop;
	pthread_mutex_t lock;       /* guards first_err */
	char first_err[256];
};

struct fthread {
	struct fan *f;
	int lo, hi;
	pthread_t th;
};

static void set_established(struct watcher *w)
{
	if (w->established)
		return;
	w->established = true;
	atomic_fetch_add(&w->f->established, 1);
}

static void fail(struct watcher *w, const char *why)
{
	struct fan *f = w->f;

	if (w->done)
		return;
	w->done = true;
	atomic_fetch_add(&f->failed, 1);
	pthread_mutex_lock(&f->lock);
	if (!f->first_err[0])
		snprintf(f->first_err, sizeof(f->first_err), "watcher %d: %.200s", w->idx, why);
	pthread_mutex_unlock(&f->lock);
}

static void on_line(struct watcher *w, const char *s)
{
	struct fan *f = w->f;
	bool event;

	if (f->t->kind == BT_GANTRY) {
		if (strstr(s, "\"type\":\"ERROR\"")) {
			fail(w, s);
			return;
		}
		event = strstr(s, "\"type\":\"ADDED\"") || strstr(s, "\"type\":\"MODIFIED\"") ||
			strstr(s, "\"type\":\"DELETED\"");
	} else {
		if (strstr(s, "\"created\":true")) {
			set_established(w);
			return;
		}
		if (strstr(s, "\"canceled\":true") || strstr(s, "\"error\"")) {
			fail(w, s);
			return;
		}
		event = strstr(s, "\"events\"") != NULL;
	}
	if (!event)
		return;
	double now = bt_now_us();
	int r = w->events++;
	if (r < f->rounds) {
		f->recv[(size_t)r * (size_t)f->n + (size_t)w->idx] = now;
		atomic_fetch_add(&f->got[r], 1);
	}
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct watcher *w = ud;
	size_t len = size * n, start = 0;

	bt_buf_add(&w->line, p, len);
	for (size_t i = 0; i < w->line.len; i++) {
		if (w->line.p[i] != '\n')
			continue;
		w->line.p[i] = '\0';
		on_line(w, w->line.p + start);
		start = i + 1;
	}
	if (start) {
		memmove(w->line.p, w->line.p + start, w->line.len - start);
		w->line.len -= start;
		w->line.p[w->line.len] = '\0';
	}
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct watcher *w = ud;
	size_t len = size * n;
	long code = 0;

	if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &code);
		if (code != 200) {
			char why[64];
			snprintf(why, sizeof(why), "HTTP %ld", code);
			fail(w, why);
		} else if (w->f->t->kind == BT_GANTRY) {
			set_established(w);
		}
	}
	return len;
}

static void *watch_thread(void *arg)
{
	struct fthread *ft = arg;
	struct fan *f = ft->f;
	CURLM *m = curl_multi_init();
	int running = 0, left;

	for (int i = ft->lo; i < ft->hi; i++) {
		struct watcher *w = &f->w[i];
		w->h = curl_easy_init();
		bt_easy_setup(w->h, f->t, f->hdrs);
		curl_easy_setopt(w->h, CURLOPT_URL, f->url);
		if (f->post)
			curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, f->post);
		curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
		curl_easy_setopt(w->h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(w->h, CURLOPT_HEADERDATA, w);
		curl_easy_setopt(w->h, CURLOPT_PRIVATE, w);
		curl_easy_setopt(w->h, CURLOPT_CONNECTTIMEOUT, 30L);
		curl_multi_add_handle(m, w->h);
	}
	while (!atomic_load(&f->stop)) {
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct watcher *w = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
			fail(w, msg->data.result == CURLE_OK ? "stream ended"
							     : curl_easy_strerror(msg->data.result));
		}
		curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	for (int i = ft->lo; i < ft->hi; i++) {
		curl_multi_remove_handle(m, f->w[i].h);
		curl_easy_cleanup(f->w[i].h);
		bt_buf_free(&f->w[i].line);
	}
	curl_multi_cleanup(m);
	return NULL;
}

/* The watch request: URL (and body, for etcd) starting after the present. */
static int watch_req(struct fan *f, const char *ns)
{
	const struct bt_target *t = f->t;
	struct bt_buf url = { 0 }, body = { 0 }, key = { 0 };

	if (t->kind == BT_GANTRY) {
		struct bt_client c;
		const char *rv = NULL;
		json_t *j = NULL;

		bt_client_init(&c, t);
		bt_buf_printf(&url, "%s/api/v1/namespaces/%s/configmaps", t->base, ns);
		int st = bt_client_do(&c, url.p, NULL);
		if (st == 200 && (j = json_loads(c.resp.p, 0, NULL)))
			rv = json_string_value(json_object_get(json_object_get(j, "metadata"),
							       "resourceVersion"));
		if (!rv) {
			fprintf(stderr, "gantry-bench: fanout: list %s: %d %.200s\n", url.p, st,
				c.resp.p ? c.resp.p : c.errbuf);
			json_decref(j);
			bt_client_free(&c);
			bt_buf_free(&url);
			return -1;
		}
		bt_buf_printf(&url, "?watch=true&resourceVersion=%s", rv);
		json_decref(j);
		bt_client_free(&c);
		f->url = url.p;
		return 0;
	}
	bt_buf_printf(&url, "%s/v3/watch", t->base);
	bt_buf_printf(&key, "/registry/configmaps/%s/", ns);
	bt_buf_add(&body, "{\"create_request\":{\"key\":\"", 26);
	bt_b64(&body, key.p, key.len);
	key.p[key.len - 1]++;
	bt_buf_add(&body, "\",\"range_end\":\"", 15);
	bt_b64(&body, key.p, key.len);
	bt_buf_add(&body, "\"}}", 3);
	bt_buf_free(&key);
	f->url = url.p;
	f->post = body.p;
	return 0;
}

static void run_rounds(struct fan *f, const char *ns)
{
	struct bt_client c;
	struct bt_buf url = { 0 };
	struct bt_lat all = { 0 }, lastw = { 0 }, cre = { 0 };
	char name[96];
	int est = atomic_load(&f->established), missed = 0;

	bt_client_init(&c, f->t);
	/* warm the creating connection with a harmless read */
	bt_buf_printf(&url, "%s/version", f->t->base);
	bt_client_do(&c, url.p, NULL);
	for (int r = 0; r < f->rounds; r++) {
		snprintf(name, sizeof(name), "fan-%d-%d", (int)getpid(), r);
		bt_create_req(f->t, ns, name, true, &url, &c.body);
		double t0 = bt_now_us();
		int st = bt_client_do(&c, url.p, c.body.p);
		bt_lat_add(&cre, bt_now_us() - t0);
		if (st < 200 || st >= 300) {
			fprintf(stderr, "gantry-bench: fanout create: %d %.200s\n", st,
				st < 0 ? c.errbuf : c.resp.p);
			break;
		}
		double deadline = bt_now_us() + 10e6;
		while (atomic_load(&f->got[r]) < est && bt_now_us() < deadline)
			usleep(200);
		double worst = 0;
		for (int i = 0; i < f->n; i++) {
			double t = f->recv[(size_t)r * (size_t)f->n + (size_t)i];
			if (!f->w[i].established)
				continue;
			if (!t) {
				missed++;
				continue;
			}
			bt_lat_add(&all, t - t0);
			if (t - t0 > worst)
				worst = t - t0;
		}
		bt_lat_add(&lastw, worst);
		usleep(200000);
	}
	bt_result("bench=fanout target=%s watchers=%d established=%d rounds=%zu p50_ms=%.1f "
		  "p99_ms=%.1f max_ms=%.1f last_p50_ms=%.1f create_p50_ms=%.1f missed=%d",
		  f->t->name, f->n, est, lastw.n, bt_lat_ms(&all, 0.5), bt_lat_ms(&all, 0.99),
		  bt_lat_ms(&all, 1.0), bt_lat_ms(&lastw, 0.5), bt_lat_ms(&cre, 0.5), missed);
	bt_lat_free(&all);
	bt_lat_free(&lastw);
	bt_lat_free(&cre);
	bt_buf_free(&url);
	bt_client_free(&c);
}

int bt_cmd_fanout(const struct bt_target *t, int argc, char **argv)
{
	const char *ns = bt_opt(argc, argv, "--ns", "bench-watch");
	struct fan f;
	int rc = 0;

	memset(&f, 0, sizeof(f));
	f.t = t;
	f.n = (int)bt_opt_long(argc, argv, "--watchers", 1000);
	f.rounds = (int)bt_opt_long(argc, argv, "--rounds", 5);
	f.nthreads = (int)bt_opt_long(argc, argv, "--threads", 4);
	if (f.n < 1 || f.rounds < 1 || f.rounds > MAX_ROUNDS || f.nthreads < 1 ||
	    f.nthreads > f.n) {
		fprintf(stderr, "gantry-bench: fanout: bad --watchers/--rounds/--threads\n");
		return 2;
	}
	if (watch_req(&f, ns) < 0)
		return 1;
	pthread_mutex_init(&f.lock, NULL);
	f.hdrs = bt_headers(t);
	f.w = calloc((size_t)f.n, sizeof(*f.w));
	f.recv = calloc((size_t)f.n * (size_t)f.rounds, sizeof(*f.recv));
	if (!f.w || !f.recv)
		abort();
	for (int i = 0; i < f.n; i++) {
		f.w[i].f = &f;
		f.w[i].idx = i;
	}
	struct fthread *ths = bt_xmalloc((size_t)f.nthreads * sizeof(*ths));
	double s = bt_now_us();
	for (int i = 0; i < f.nthreads; i++) {
		ths[i].f = &f;
		ths[i].lo = (int)((long)f.n * i / f.nthreads);
		ths[i].hi = (int)((long)f.n * (i + 1) / f.nthreads);
		pthread_create(&ths[i].th, NULL, watch_thread, &ths[i]);
	}
	while (atomic_load(&f.established) + atomic_load(&f.failed) < f.n &&
	       bt_now_us() - s < 60e6)
		usleep(1000);
	double setup_ms = (bt_now_us() - s) / 1000.0;
	int est = atomic_load(&f.established), failed = atomic_load(&f.failed);
	fprintf(stderr, "gantry-bench: fanout %s: %d/%d watches established in %.0f ms (%d failed)\n",
		t->name, est, f.n, setup_ms, failed);
	if (failed)
		fprintf(stderr, "gantry-bench: fanout %s: first failure: %s\n", t->name, f.first_err);
	if (est == 0) {
		rc = 1;
	} else {
		usleep(500000);
		long rss = bt_proc_rss_kb(bt_opt_long(argc, argv, "--pid", 0));
		run_rounds(&f, ns);
		bt_result("bench=fanout_setup target=%s watchers=%d established=%d setup_ms=%.0f "
			  "failed=%d rss_kb=%ld", t->name, f.n, est, setup_ms, atomic_load(&f.failed),
			  rss);
	}
	atomic_store(&f.stop, true);
	for (int i = 0; i < f.nthreads; i++)
		pthread_join(ths[i].th, NULL);
	free(ths);
	free(f.w);
	free(f.recv);
	free(f.url);
	free(f.post);
	curl_slist_free_all(f.hdrs);
	pthread_mutex_destroy(&f.lock);
	return rc || est < f.n ? 1 : 0;
}
