/*
 * common.c - buffers, latency samples, clocks, libcurl client setup and the
 * request bodies shared by every gantry-bench subcommand.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *bt_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "gantry-bench: out of memory\n");
		abort();
	}
	return p;
}

void *bt_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "gantry-bench: out of memory\n");
		abort();
	}
	return q;
}

void bt_buf_reset(struct bt_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

static void buf_grow(struct bt_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = bt_xrealloc(b->p, cap);
	b->cap = cap;
}

void bt_buf_add(struct bt_buf *b, const void *data, size_t n)
{
	buf_grow(b, n);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void bt_buf_printf(struct bt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void bt_buf_free(struct bt_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void bt_b64(struct bt_buf *b, const void *data, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = data;
	char out[4];

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		out[0] = tab[(v >> 18) & 63];
		out[1] = tab[(v >> 12) & 63];
		out[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[3] = i + 2 < n ? tab[v & 63] : '=';
		bt_buf_add(b, out, 4);
	}
}

void bt_lat_add(struct bt_lat *l, double us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = bt_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = us;
}

void bt_lat_merge(struct bt_lat *into, const struct bt_lat *from)
{
	for (size_t i = 0; i < from->n; i++)
		bt_lat_add(into, from->v[i]);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bt_lat_ms(struct bt_lat *l, double q)
{
	if (!l->n)
		return 0;
	qsort(l->v, l->n, sizeof(*l->v), cmp_double);
	/* nearest rank: the smallest sample with at least q of them at or below */
	size_t rank = (size_t)ceil(q * (double)l->n);
	if (rank < 1)
		rank = 1;
	if (rank > l->n)
		rank = l->n;
	return l->v[rank - 1] / 1000.0;
}

void bt_lat_free(struct bt_lat *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

double bt_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

void bt_sleep_until_us(double t)
{
	struct timespec ts;

	if (t <= bt_now_us())
		return;
	ts.tv_sec = (time_t)(t / 1e6);
	ts.tv_nsec = (long)((t - (double)ts.tv_sec * 1e6) * 1e3);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

struct curl_slist *bt_headers(const struct bt_target *t)
{
	struct curl_slist *h = NULL;

	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json");
	/* libcurl would otherwise wait for "100 Continue" on bodies > 1 KiB */
	h = curl_slist_append(h, "Expect:");
	if (t->auth[0])
		h = curl_slist_append(h, t->auth);
	return h;
}

void bt_easy_setup(CURL *h, const struct bt_target *t, struct curl_slist *hdrs)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	/* Both servers speak HTTP/1.1; etcd would also take h2 via ALPN, which
	 * would make the two sides use different protocols. */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (t->cacert) {
		curl_easy_setopt(h, CURLOPT_CAINFO, t->cacert);
		/* libcurl-gnutls would also parse all of /etc/ssl/certs on every
		 * new connection (~100 ms), which swamps the fan-out setup */
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	bt_buf_add(ud, p, size * n);
	return size * n;
}

void bt_client_init(struct bt_client *c, const struct bt_target *t)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->h = curl_easy_init();
	if (!c->h) {
		fprintf(stderr, "gantry-bench: curl_easy_init failed\n");
		abort();
	}
	c->hdrs = bt_headers(t);
	bt_easy_setup(c->h, t, c->hdrs);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->resp);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 60L);
}

void bt_client_free(struct bt_client *c)
{
	if (c->h)
		curl_easy_cleanup(c->h);
	curl_slist_free_all(c->hdrs);
	bt_buf_free(&c->resp);
	bt_buf_free(&c->body);
	c->h = NULL;
	c->hdrs = NULL;
}

int bt_client_do(struct bt_client *c, const char *url, const char *body)
{
	long code = 0;

	bt_buf_reset(&c->resp);
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	if (body) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	}
	CURLcode rc = curl_easy_perform(c->h);
	if (rc != CURLE_OK) {
		if (!c->errbuf[0])
			snprintf(c->errbuf, sizeof(c->errbuf), "%s", curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
	return (int)code;
}

/* A uid that differs per name (the bytes matter for size, not for meaning). */
static void fake_uid(const char *name, char out[37])
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	snprintf(out, 37, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(h >> 32),
		 (unsigned)(h >> 16) & 0xffff, (unsigned)h & 0xfff, (unsigned)(h >> 20) & 0xfff,
		 (unsigned long long)(h * 31) & 0xffffffffffffull);
}

/*
 * What a client sends to create a Pod: one container with requests, for a
 * scheduler that does not run (the API part measures the API server and its
 * store, as kube-apiserver + etcd without kube-scheduler).
 */
static const char pod_fmt[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
	"\"labels\":{\"app\":\"bench\",\"tier\":\"load\"}},\"spec\":{\"schedulerName\":"
	"\"gantry-bench\",\"containers\":"
	"[{\"name\":\"app\",\"image\":\"registry.example/bench/app:1.0\",\"resources\":"
	"{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}}}]}}";

/* The same Pod as an API server stores it: defaulted, with uid and time. */
static const char pod_stored_fmt[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
	"\"namespace\":\"%s\",\"uid\":\"%s\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\","
	"\"labels\":{\"app\":\"bench\",\"tier\":\"load\"}},\"spec\":{\"containers\":"
	"[{\"name\":\"app\",\"image\":\"registry.example/bench/app:1.0\",\"resources\":"
	"{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}},\"imagePullPolicy\":"
	"\"IfNotPresent\",\"terminationMessagePath\":\"/dev/termination-log\","
	"\"terminationMessagePolicy\":\"File\"}],\"dnsPolicy\":\"ClusterFirst\","
	"\"restartPolicy\":\"Always\",\"securityContext\":{},\"terminationGracePeriodSeconds\":30,"
	"\"schedulerName\":\"gantry-bench\",\"enableServiceLinks\":true,"
	"\"serviceAccountName\":\"default\",\"serviceAccount\":\"default\",\"priority\":0,"
	"\"preemptionPolicy\":\"PreemptLowerPriority\"},\"status\":{\"phase\":\"Pending\","
	"\"qosClass\":\"Burstable\"}}";

static const char cm_fmt[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"},"
	"\"data\":{\"key\":\"value\"}}";

static const char cm_stored_fmt[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
	"\"namespace\":\"%s\",\"uid\":\"%s\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
	"\"data\":{\"key\":\"value\"}}";

void bt_create_req(const struct bt_target *t, const char *ns, const char *name,
		   bool configmap, struct bt_buf *url, struct bt_buf *body)
{
	const char *res = configmap ? "configmaps" : "pods";

	bt_buf_reset(url);
	bt_buf_reset(body);
	if (t->kind == BT_GANTRY) {
		bt_buf_printf(url, "%s/api/v1/namespaces/%s/%s", t->base, ns, res);
		bt_buf_printf(body, configmap ? cm_fmt : pod_fmt, name);
		return;
	}
	struct bt_buf key = { 0 }, val = { 0 };
	char uid[37];

	fake_uid(name, uid);
	bt_buf_printf(&key, "/registry/%s/%s/%s", res, ns, name);
	bt_buf_printf(&val, configmap ? cm_stored_fmt : pod_stored_fmt, name, ns, uid);
	bt_buf_printf(url, "%s/v3/kv/put", t->base);
	bt_buf_add(body, "{\"key\":\"", 8);
	bt_b64(body, key.p, key.len);
	bt_buf_add(body, "\",\"value\":\"", 11);
	bt_b64(body, val.p, val.len);
	bt_buf_add(body, "\"}", 2);
	bt_buf_free(&key);
	bt_buf_free(&val);
}

long bt_proc_rss_kb(long pid)
{
	char path[64], line[256];
	long kb = 0;
	FILE *f;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

double bt_proc_cpu_us(long pid)
{
	char path[64], line[1024];
	unsigned long long ut = 0, st = 0;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	if (!(f = fopen(path, "r")))
		return 0;
	char *p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
	fclose(f);
	/* after "pid (comm)": state is field 3, utime 14 and stime 15 */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return 0;
	long hz = sysconf(_SC_CLK_TCK);
	return (double)(ut + st) * 1e6 / (double)(hz > 0 ? hz : 100);
}

void bt_result(const char *fmt, ...)
{
	va_list ap;

	fputs("RESULT ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

const char *bt_opt(int argc, char **argv, const char *flag, const char *def)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], flag))
			return argv[i + 1];
	return def;
}

long bt_opt_long(int argc, char **argv, const char *flag, long def)
{
	const char *v = bt_opt(argc, argv, flag, NULL);
	char *end;

	if (!v)
		return def;
	long n = strtol(v, &end, 10);
	if (*end || end == v) {
		fprintf(stderr, "gantry-bench: %s: not a number: %s\n", flag, v);
		exit(2);
	}
	return n;
}

double bt_opt_double(int argc, char **argv, const char *flag, double def)
{
	const char *v = bt_opt(argc, argv, flag, NULL);
	char *end;

	if (!v)
		return def;
	double d = strtod(v, &end);
	if (*end || end == v) {
		fprintf(stderr, "gantry-bench: %s: not a number: %s\n", flag, v);
		exit(2);
	}
	return d;
}
