/*
 * load.c - the request/response benchmarks of gantry-bench:
 *
 *   create  closed loop: N client threads, each creating objects back to
 *           back on its own keep-alive connection, for a duration or until
 *           a total count is reached (the latter fills the store for list).
 *   rate    open loop: creates scheduled at fixed intervals across C
 *           connections; latency runs from the scheduled send time, so a
 *           stalled server is charged for the requests it held up
 *           (no coordinated omission).
 *   list    GET of a whole namespace's pods (Gantry) or a range over the
 *           same prefix (etcd), repeated.
 *
 * Each prints RESULT lines (see bench.h).
 */
#include "bench.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct load {
	const struct bt_target *t;
	const char *ns, *prefix;
	bool configmap;
	long count;              /* create: total objects, or 0 for duration */
	double duration_us;
	double rate;             /* rate: creates per second */
	atomic_long next;
	double t0;               /* start of the measured interval */
	pthread_barrier_t ready, go;
	pthread_mutex_t lock;    /* guards all, errors, first_err, last_done */
	struct bt_lat all;
	long errors;
	char first_err[300];
	double last_done;
	long pid;                /* server, for its CPU time; 0 = not measured */
	double *trace;           /* rate --trace: latency of request k in us, -1 failed */
	long ntrace;
	double srv_cpu, cli_cpu; /* CPU us used over the run */
};

struct worker {
	struct load *ld;
	int id;
	pthread_t th;
};

static void note_error(struct load *ld, struct bt_client *c, int status)
{
	pthread_mutex_lock(&ld->lock);
	if (!ld->errors++) {
		if (status < 0)
			snprintf(ld->first_err, sizeof(ld->first_err), "transport: %s", c->errbuf);
		else
			snprintf(ld->first_err, sizeof(ld->first_err), "HTTP %d: %.200s", status,
				 c->resp.p ? c->resp.p : "");
	}
	pthread_mutex_unlock(&ld->lock);
}

/* One create; returns true on a 2xx answer. */
static bool create_one(struct load *ld, struct bt_client *c, struct bt_buf *url,
		       const char *name)
{
	bt_create_req(ld->t, ld->ns, name, ld->configmap, url, &c->body);
	int st = bt_client_do(c, url->p, c->body.p);
	if (st >= 200 && st < 300)
		return true;
	note_error(ld, c, st);
	return false;
}

static void finish(struct load *ld, struct bt_lat *lat, double last)
{
	pthread_mutex_lock(&ld->lock);
	bt_lat_merge(&ld->all, lat);
	if (last > ld->last_done)
		ld->last_done = last;
	pthread_mutex_unlock(&ld->lock);
	bt_lat_free(lat);
}

static void *closed_loop(void *arg)
{
	struct worker *w = arg;
	struct load *ld = w->ld;
	struct bt_client c;
	struct bt_buf url = { 0 };
	struct bt_lat lat = { 0 };
	char name[128];
	double last = 0;

	bt_client_init(&c, ld->t);
	if (!ld->count) {
		/* connect and warm up outside the measured interval */
		snprintf(name, sizeof(name), "%s-w%d", ld->prefix, w->id);
		create_one(ld, &c, &url, name);
	}
	pthread_barrier_wait(&ld->ready);
	pthread_barrier_wait(&ld->go);
	for (long i = 0;; i++) {
		long k;
		if (ld->count) {
			k = atomic_fetch_add(&ld->next, 1);
			if (k >= ld->count)
				break;
			snprintf(name, sizeof(name), "%s-%ld", ld->prefix, k);
		} else {
			if (bt_now_us() - ld->t0 >= ld->duration_us)
				break;
			snprintf(name, sizeof(name), "%s-%d-%ld", ld->prefix, w->id, i);
		}
		double s = bt_now_us();
		bool ok = create_one(ld, &c, &url, name);
		last = bt_now_us();
		if (ok)
			bt_lat_add(&lat, last - s);
	}
	finish(ld, &lat, last);
	bt_buf_free(&url);
	bt_client_free(&c);
	return NULL;
}

static void *open_loop(void *arg)
{
	struct worker *w = arg;
	struct load *ld = w->ld;
	struct bt_client c;
	struct bt_buf url = { 0 };
	struct bt_lat lat = { 0 };
	char name[128];
	double last = 0;

	bt_client_init(&c, ld->t);
	snprintf(name, sizeof(name), "%s-w%d", ld->prefix, w->id);
	create_one(ld, &c, &url, name);
	pthread_barrier_wait(&ld->ready);
	pthread_barrier_wait(&ld->go);
	for (;;) {
		long k = atomic_fetch_add(&ld->next, 1);
		double sched = ld->t0 + (double)k * 1e6 / ld->rate;
		if (sched - ld->t0 >= ld->duration_us)
			break;
		bt_sleep_until_us(sched);
		snprintf(name, sizeof(name), "%s-%ld", ld->prefix, k);
		bool ok = create_one(ld, &c, &url, name);
		last = bt_now_us();
		if (ok)
			bt_lat_add(&lat, last - sched);
		if (k < ld->ntrace)
			ld->trace[k] = ok ? last - sched : -1;
	}
	finish(ld, &lat, last);
	bt_buf_free(&url);
	bt_client_free(&c);
	return NULL;
}

/* Starts n workers running fn, releases them together, joins them. */
static void run_workers(struct load *ld, int n, void *(*fn)(void *))
{
	struct worker *ws = bt_xmalloc((size_t)n * sizeof(*ws));

	pthread_barrier_init(&ld->ready, NULL, (unsigned)n + 1);
	pthread_barrier_init(&ld->go, NULL, (unsigned)n + 1);
	pthread_mutex_init(&ld->lock, NULL);
	for (int i = 0; i < n; i++) {
		ws[i].ld = ld;
		ws[i].id = i;
		if (pthread_create(&ws[i].th, NULL, fn, &ws[i])) {
			fprintf(stderr, "gantry-bench: cannot start thread %d\n", i);
			exit(1);
		}
	}
	pthread_barrier_wait(&ld->ready);
	/* a short lead for the open loop, so the first slots are not late */
	ld->t0 = bt_now_us() + (fn == open_loop ? 20000 : 0);
	double s0 = bt_proc_cpu_us(ld->pid), c0 = bt_proc_cpu_us(0);
	pthread_barrier_wait(&ld->go);
	for (int i = 0; i < n; i++)
		pthread_join(ws[i].th, NULL);
	ld->srv_cpu = ld->pid ? bt_proc_cpu_us(ld->pid) - s0 : 0;
	ld->cli_cpu = bt_proc_cpu_us(0) - c0;
	pthread_barrier_destroy(&ld->ready);
	pthread_barrier_destroy(&ld->go);
	free(ws);
}

static void load_init(struct load *ld, const struct bt_target *t, int argc, char **argv)
{
	memset(ld, 0, sizeof(*ld));
	ld->t = t;
	ld->ns = bt_opt(argc, argv, "--ns", "bench");
	ld->prefix = bt_opt(argc, argv, "--prefix", "b");
	ld->configmap = bt_opt(argc, argv, "--configmap", NULL) != NULL;
	ld->count = bt_opt_long(argc, argv, "--count", 0);
	ld->duration_us = bt_opt_double(argc, argv, "--duration", 5) * 1e6;
	ld->rate = bt_opt_double(argc, argv, "--rate", 1000);
	ld->pid = bt_opt_long(argc, argv, "--pid", 0);
	atomic_init(&ld->next, 0);
}

static void report(struct load *ld, const char *bench, const char *extra)
{
	double secs = (ld->last_done - ld->t0) / 1e6;
	size_t n = ld->all.n;

	if (secs <= 0)
		secs = 1e-9;
	double ops = n ? (double)n : 1;
	bt_result("bench=%s target=%s %s ops=%zu secs=%.2f rate=%.0f p50_ms=%.2f p99_ms=%.2f "
		  "max_ms=%.2f errors=%ld srv_cpu_us_op=%.0f cli_cpu_us_op=%.0f", bench, ld->t->name,
		  extra, n, secs, (double)n / secs, bt_lat_ms(&ld->all, 0.50),
		  bt_lat_ms(&ld->all, 0.99), bt_lat_ms(&ld->all, 1.0), ld->errors,
		  ld->srv_cpu / ops, ld->cli_cpu / ops);
	if (ld->errors)
		fprintf(stderr, "gantry-bench: %s %s: %ld errors, first: %s\n", bench, ld->t->name,
			ld->errors, ld->first_err);
	bt_lat_free(&ld->all);
	pthread_mutex_destroy(&ld->lock);
}

int bt_cmd_create(const struct bt_target *t, int argc, char **argv)
{
	struct load ld;
	int clients = (int)bt_opt_long(argc, argv, "--clients", 1);
	char extra[64];

	if (clients < 1 || clients > 1024) {
		fprintf(stderr, "gantry-bench: --clients: 1..1024\n");
		return 2;
	}
	load_init(&ld, t, argc, argv);
	run_workers(&ld, clients, closed_loop);
	snprintf(extra, sizeof(extra), "clients=%d", clients);
	long errors = ld.errors;
	report(&ld, ld.count ? "fill" : "create", extra);
	return errors ? 1 : 0;
}

/* One line per scheduled request: "send_ms latency_ms" (latency -1: failed). */
static void write_trace(struct load *ld, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "gantry-bench: --trace %s: cannot write\n", path);
	} else {
		for (long k = 0; k < ld->ntrace; k++)
			if (ld->trace[k])
				fprintf(f, "%.3f %.3f\n", (double)k * 1e3 / ld->rate,
					ld->trace[k] < 0 ? -1 : ld->trace[k] / 1e3);
		fclose(f);
	}
	free(ld->trace);
	ld->trace = NULL;
}

int bt_cmd_rate(const struct bt_target *t, int argc, char **argv)
{
	struct load ld;
	int conns = (int)bt_opt_long(argc, argv, "--conns", 8);
	char extra[64];

	if (conns < 1 || conns > 1024) {
		fprintf(stderr, "gantry-bench: --conns: 1..1024\n");
		return 2;
	}
	load_init(&ld, t, argc, argv);
	const char *trace = bt_opt(argc, argv, "--trace", NULL);
	if (trace) {
		ld.ntrace = (long)(ld.rate * ld.duration_us / 1e6) + 1;
		ld.trace = bt_xmalloc((size_t)ld.ntrace * sizeof(*ld.trace));
		for (long i = 0; i < ld.ntrace; i++)
			ld.trace[i] = 0;
	}
	run_workers(&ld, conns, open_loop);
	if (trace)
		write_trace(&ld, trace);
	snprintf(extra, sizeof(extra), "conns=%d target_rate=%.0f", conns, ld.rate);
	long errors = ld.errors;
	report(&ld, "rate", extra);
	return errors ? 1 : 0;
}

/* Items in a list answer: PodList items (Gantry) or RangeResponse count (etcd). */
static long count_items(const struct bt_target *t, const char *body)
{
	json_t *j = json_loads(body, 0, NULL);
	long n = -1;

	if (!j)
		return -1;
	if (t->kind == BT_GANTRY) {
		json_t *items = json_object_get(j, "items");
		if (json_is_array(items))
			n = (long)json_array_size(items);
	} else {
		const char *c = json_string_value(json_object_get(j, "count"));
		n = c ? strtol(c, NULL, 10) : 0;
	}
	json_decref(j);
	return n;
}

int bt_cmd_list(const struct bt_target *t, int argc, char **argv)
{
	const char *ns = bt_opt(argc, argv, "--ns", "bench");
	long reps = bt_opt_long(argc, argv, "--reps", 5);
	struct bt_client c;
	struct bt_buf url = { 0 }, body = { 0 }, key = { 0 };
	struct bt_lat lat = { 0 };
	const char *post = NULL;
	int st = 0;

	bt_client_init(&c, t);
	if (t->kind == BT_GANTRY) {
		bt_buf_printf(&url, "%s/api/v1/namespaces/%s/pods", t->base, ns);
	} else {
		bt_buf_printf(&url, "%s/v3/kv/range", t->base);
		bt_buf_printf(&key, "/registry/pods/%s/", ns);
		bt_buf_add(&body, "{\"key\":\"", 8);
		bt_b64(&body, key.p, key.len);
		key.p[key.len - 1]++; /* range_end: the prefix with its last byte + 1 */
		bt_buf_add(&body, "\",\"range_end\":\"", 15);
		bt_b64(&body, key.p, key.len);
		bt_buf_add(&body, "\"}", 2);
		post = body.p;
	}
	/* one untimed list: connection and first-touch costs */
	st = bt_client_do(&c, url.p, post);
	for (long i = 0; i < reps && st == 200; i++) {
		double s = bt_now_us();
		st = bt_client_do(&c, url.p, post);
		bt_lat_add(&lat, bt_now_us() - s);
	}
	if (st != 200) {
		fprintf(stderr, "gantry-bench: list %s: %s %.200s\n", t->name,
			st < 0 ? c.errbuf : "HTTP error", c.resp.p ? c.resp.p : "");
	} else {
		long items = count_items(t, c.resp.p);
		double mn = bt_lat_ms(&lat, 0);
		bt_result("bench=list target=%s items=%ld bytes=%zu reps=%ld p50_ms=%.1f min_ms=%.1f "
			  "max_ms=%.1f", t->name, items, c.resp.len, reps, bt_lat_ms(&lat, 0.5), mn,
			  bt_lat_ms(&lat, 1.0));
	}
	bt_lat_free(&lat);
	bt_buf_free(&url);
	bt_buf_free(&body);
	bt_buf_free(&key);
	bt_client_free(&c);
	return st == 200 ? 0 : 1;
}
