/*
 * bench.h - shared pieces of gantry-bench, the load generator behind
 * `make bench`: the two targets it drives (Gantry's Kubernetes API and
 * etcd's v3 JSON gateway), the request bodies, libcurl handle setup,
 * latency samples and the RESULT lines scripts/run-bench.sh turns into
 * tables.
 *
 * Both targets are driven through the same code path: HTTP/1.1 over TLS
 * with keep-alive, one libcurl easy handle per client thread, JSON bodies.
 * Only the URL and body differ (a Pod for Gantry; for etcd a put of the
 * stored, defaulted Pod JSON under /registry/pods/NS/NAME, which is what a
 * Kubernetes API server would write to etcd).
 */
#ifndef GT_BENCH_H
#define GT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

enum bt_kind { BT_GANTRY, BT_ETCD };

struct bt_target {
	enum bt_kind kind;
	const char *name;      /* "gantry" or "etcd", printed in results */
	const char *base;      /* https://127.0.0.1:PORT, no trailing slash */
	const char *cacert;    /* PEM file trusted for the server certificate */
	char auth[512];        /* "Authorization: Bearer T" or "" */
};

/* A growable buffer (response bodies, request bodies). */
struct bt_buf {
	char *p;
	size_t len, cap;
};

void bt_buf_reset(struct bt_buf *b);
void bt_buf_add(struct bt_buf *b, const void *data, size_t n);
void bt_buf_printf(struct bt_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void bt_buf_free(struct bt_buf *b);

/* Latency samples in microseconds. */
struct bt_lat {
	double *v;
	size_t n, cap;
};

void bt_lat_add(struct bt_lat *l, double us);
void bt_lat_merge(struct bt_lat *into, const struct bt_lat *from);
/* Sorts l in place; returns the q-quantile (0..1) in milliseconds, 0 if empty. */
double bt_lat_ms(struct bt_lat *l, double q);
void bt_lat_free(struct bt_lat *l);

/* Monotonic clock in microseconds. */
double bt_now_us(void);
void bt_sleep_until_us(double t);

/* Aborts on out-of-memory, as the daemons do. */
void *bt_xmalloc(size_t n);
void *bt_xrealloc(void *p, size_t n);

/*
 * A client: one easy handle (keep-alive across requests), a header list and
 * a response buffer.  Not thread-safe: one per thread.
 */
struct bt_client {
	CURL *h;
	struct curl_slist *hdrs;
	struct bt_buf resp;
	struct bt_buf body;
	const struct bt_target *t;
	char errbuf[CURL_ERROR_SIZE];
};

void bt_client_init(struct bt_client *c, const struct bt_target *t);
void bt_client_free(struct bt_client *c);
/* POSTs (body != NULL) or GETs url; the response lands in c->resp.  Returns
 * the HTTP status, or -1 on a transport error (message in c->errbuf). */
int bt_client_do(struct bt_client *c, const char *url, const char *body);

/* Applies the target's TLS, HTTP/1.1 and header settings to an easy handle
 * (used by watchers, which drive their handles through a multi handle). */
void bt_easy_setup(CURL *h, const struct bt_target *t, struct curl_slist *hdrs);
/* The headers every request carries; caller frees with curl_slist_free_all. */
struct curl_slist *bt_headers(const struct bt_target *t);

/*
 * Fills url and body for creating object `name` in namespace ns: a Pod
 * (configmap false) or a small ConfigMap (configmap true).  For etcd the
 * body is a /v3/kv/put of the stored form under /registry/<res>/ns/name.
 */
void bt_create_req(const struct bt_target *t, const char *ns, const char *name,
		   bool configmap, struct bt_buf *url, struct bt_buf *body);

/* Base64 of a byte string, appended to b. */
void bt_b64(struct bt_buf *b, const void *data, size_t n);

/* VmRSS of process pid in KiB; 0 when unknown (pid <= 0, gone). */
long bt_proc_rss_kb(long pid);
/* CPU time (user + system) process pid has used, in microseconds; pid 0 is
 * this process.  Resolution: one clock tick (10 ms). */
double bt_proc_cpu_us(long pid);

/* Prints "RESULT key=value ..." on stdout (fmt gives the key=value pairs). */
void bt_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Subcommands (load.c, fanout.c, pods.c).  Each parses its own options from
 * argv, prints RESULT lines and returns the process exit status. */
int bt_cmd_create(const struct bt_target *t, int argc, char **argv);
int bt_cmd_rate(const struct bt_target *t, int argc, char **argv);
int bt_cmd_list(const struct bt_target *t, int argc, char **argv);
int bt_cmd_fanout(const struct bt_target *t, int argc, char **argv);
/* Pods bound to a node agent: created -> Running as a watcher sees it. */
int bt_cmd_pods(const struct bt_target *t, int argc, char **argv);
/* The scheduler: pods created -> bound on simulated nodes, and a gang (sched.c). */
int bt_cmd_sched(const struct bt_target *t, int argc, char **argv);

/* "--flag value" lookup over argv; returns def when absent. */
const char *bt_opt(int argc, char **argv, const char *flag, const char *def);
long bt_opt_long(int argc, char **argv, const char *flag, long def);
double bt_opt_double(int argc, char **argv, const char *flag, double def);

#endif
