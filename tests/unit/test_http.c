/*
 * test_http.c - the HTTP(S) server and TLS material, end to end over real
 * sockets: libcurl for ordinary requests (plain and TLS, verified against
 * the generated CA), raw sockets and a GnuTLS client for what curl cannot
 * show (headers before the first chunk, disconnects, upgrades).
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/util.h"
#include "http/server.h"
#include "http/tls.h"
#include "http/tlsconn.h"
#include "t.h"

static char tmpdir[64];
static atomic_int handler_calls, stream_freed, peer_gone, upgrade_freed, session_ended;

/* ---- the test handler ---- */

struct delay_stream {
	int calls;
	int delay_ms[4];
	const char *text[4];
};

static ssize_t delay_fn(void *ctx, char *buf, size_t max)
{
	struct delay_stream *d = ctx;
	int i = d->calls++;
	size_t n;

	if (i >= 4 || !d->text[i])
		return -1;
	usleep((useconds_t)d->delay_ms[i] * 1000);
	n = strlen(d->text[i]);
	if (n > max)
		n = max;
	memcpy(buf, d->text[i], n);
	return (ssize_t)n;
}

static void stream_free(void *ctx)
{
	free(ctx);
	atomic_fetch_add(&stream_freed, 1);
}

/* A watch that stays silent until its client goes away. */
static ssize_t silent_fn(void *ctx, char *buf, size_t max)
{
	struct gt_http_req *r = ctx;

	(void)buf;
	(void)max;
	for (int i = 0; i < 250; i++) {
		if (gt_http_peer_closed(r)) {
			atomic_store(&peer_gone, 1);
			return -1;
		}
		usleep(20 * 1000);
	}
	return -1;
}

static void count_free(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&stream_freed, 1);
}

/* Echoes until EOF or "quit". */
static void echo_fn(void *ctx, struct gt_http_upgraded *u)
{
	char buf[256];
	ssize_t n;

	(void)ctx;
	while ((n = gt_http_upgraded_read(u, buf, sizeof(buf))) > 0) {
		if (n >= 4 && !memcmp(buf + n - 4, "quit", 4)) {
			gt_http_upgraded_write(u, "bye", 3);
			break;
		}
		if (gt_http_upgraded_write(u, buf, (size_t)n) < 0)
			break;
	}
	atomic_fetch_add(&session_ended, 1);
}

/* The byte at offset i of a bulk stream. */
static unsigned char bulk_byte(size_t i)
{
	return (unsigned char)(i % 251);
}

/* "up N\n": reads N bytes of the pattern, answers "ok N" (or "bad AT");
 * "down N\n": writes N bytes of it in 300,000-byte writes (gathered
 * records over TLS) and ends. */
static void bulk_fn(void *ctx, struct gt_http_upgraded *u)
{
	char line[64] = "", dir[8];
	size_t len = 0, n = 0, at;
	unsigned char *buf = xmalloc(300000);
	ssize_t k;

	(void)ctx;
	while (len + 1 < sizeof(line) && !strchr(line, '\n') &&
	       (k = gt_http_upgraded_read(u, line + len, 1)) == 1)
		line[++len] = '\0';
	if (sscanf(line, "%7s %zu", dir, &n) != 2)
		goto out;
	if (!strcmp(dir, "down")) {
		for (at = 0; at < n;) {
			size_t c = n - at < 300000 ? n - at : 300000;

			for (size_t i = 0; i < c; i++)
				buf[i] = bulk_byte(at + i);
			if (gt_http_upgraded_write(u, buf, c) < 0)
				break;
			at += c;
		}
	} else {
		char reply[64];

		snprintf(reply, sizeof(reply), "ok %zu", n);
		for (at = 0; at < n;) {
			k = gt_http_upgraded_read(u, buf, n - at < 300000 ? n - at : 300000);
			if (k <= 0)
				break;
			for (ssize_t i = 0; i < k; i++)
				if (buf[i] != bulk_byte(at + (size_t)i) && !strncmp(reply, "ok", 2))
					snprintf(reply, sizeof(reply), "bad %zu", at + (size_t)i);
			at += (size_t)k;
		}
		if (at < n)
			snprintf(reply, sizeof(reply), "short %zu", at);
		gt_http_upgraded_write(u, reply, strlen(reply));
	}
out:
	free(buf);
}

static void upgrade_free(void *ctx)
{
	free(ctx);
	atomic_fetch_add(&upgrade_freed, 1);
}

static void summarize(struct gt_http_req *r)
{
	struct gt_buf b = GT_BUF_INIT;
	const char *vals[8];
	size_t n;

	gt_buf_init(&b);
	gt_buf_addf(&b, "M=%s\nP=%s\n", gt_http_method(r), gt_http_path(r));
	gt_buf_addf(&b, "sel=%s\n", gt_http_query(r, "labelSelector") ?
		    gt_http_query(r, "labelSelector") : "(null)");
	n = gt_http_query_all(r, "command", vals, 8);
	gt_buf_adds(&b, "cmd=");
	for (size_t i = 0; i < n; i++)
		gt_buf_addf(&b, "%s[%s]", i ? "," : "", vals[i]);
	gt_buf_addf(&b, "\nflag=%s\n", gt_http_query(r, "flag") ? gt_http_query(r, "flag") : "(null)");
	n = gt_http_header_all(r, "x-stream-protocol-version", vals, 8);
	gt_buf_adds(&b, "xs=");
	for (size_t i = 0; i < n; i++)
		gt_buf_addf(&b, "%s%s", i ? "," : "", vals[i]);
	gt_buf_addf(&b, "\nua=%s\npeer=%s\n", gt_http_header(r, "USER-agent"), gt_http_peer(r));
	n = b.len;
	gt_http_reply_take(r, 200, "text/plain", gt_buf_detach(&b, NULL), n);
}

static void handler(struct gt_http_req *r, void *ctx)
{
	const char *p = gt_http_path(r);

	(void)ctx;
	atomic_fetch_add(&handler_calls, 1);
	if (!strncmp(p, "/echo", 5)) {
		summarize(r);
	} else if (!strcmp(p, "/body")) {
		size_t len;
		const char *body = gt_http_body(r, &len);
		unsigned sum = 0;
		char out[64];

		for (size_t i = 0; i < len; i++)
			sum = sum * 31 + (unsigned char)body[i];
		snprintf(out, sizeof(out), "len=%zu sum=%u nul=%d", len, sum, body[len] == 0);
		gt_http_reply(r, 200, "text/plain", out, strlen(out));
	} else if (!strcmp(p, "/slow")) {
		const char *ms = gt_http_query(r, "ms");

		usleep((useconds_t)(ms ? atoi(ms) : 200) * 1000);
		gt_http_reply(r, 200, "text/plain", "ok", 2);
	} else if (!strcmp(p, "/stream")) {
		struct delay_stream *d = xcalloc(1, sizeof(*d));

		d->delay_ms[0] = 1500;
		d->text[0] = "{\"type\":\"ADDED\"}\n";
		d->delay_ms[1] = 1500;
		d->text[1] = "{\"type\":\"DELETED\"}\n";
		gt_http_add_header(r, "X-Test", "yes");
		gt_http_reply_stream(r, 200, "application/json", delay_fn, d, stream_free);
	} else if (!strcmp(p, "/silent")) {
		gt_http_reply_stream(r, 200, "application/json", silent_fn, r, count_free);
	} else if (!strcmp(p, "/upgrade")) {
		gt_http_add_header(r, "Upgrade", "echo");
		gt_http_reply_upgrade(r, 101, echo_fn, xstrdup("ctx"), upgrade_free);
	} else if (!strcmp(p, "/bulk")) {
		gt_http_add_header(r, "Upgrade", "bulk");
		gt_http_reply_upgrade(r, 101, bulk_fn, xstrdup("ctx"), upgrade_free);
	} else if (!strcmp(p, "/twice")) {
		int rc;

		gt_http_reply(r, 200, "text/plain", "one", 3);
		rc = gt_http_reply(r, 200, "text/plain", "two", 3);
		gt_http_add_header(r, "X-Unused", rc == -EALREADY ? "ok" : "bad");
	} else if (!strcmp(p, "/none")) {
		/* no reply: the server answers 500 */
	} else {
		gt_http_reply(r, 404, "text/plain", "nope", 4);
	}
}

static struct gt_http_server *start(const char *bind, const char *cert, const char *key,
				    size_t max_body)
{
	struct gt_http_config cfg = { .bind = bind, .port = 0, .cert_pem = cert,
				      .key_pem = key, .max_body = max_body,
				      .handler = handler };
	struct gt_http_server *s = NULL;
	struct gt_err err;
	int rc;

	gt_err_clear(&err);
	rc = gt_http_start(&cfg, &s, &err);
	if (rc < 0)
		fprintf(stderr, "  start %s: %s\n", bind, err.msg);
	return s;
}

/* ---- curl helpers ---- */

struct resp {
	long code;
	struct gt_buf body, hdrs;
	int64_t t0, t_hdr, t_body;
	int64_t t_sent; /* connected (TLS handshake done), request going out */
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;

	if (!r->t_body)
		r->t_body = gt_now_ms();
	gt_buf_add(&r->body, p, sz * n);
	return sz * n;
}

static size_t on_hdr(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;

	if (!r->t_hdr)
		r->t_hdr = gt_now_ms();
	gt_buf_add(&r->hdrs, p, sz * n);
	return sz * n;
}

static void resp_release(struct resp *r)
{
	gt_buf_release(&r->body);
	gt_buf_release(&r->hdrs);
}

static long fetch(CURL *c, const char *url, const char *body, size_t len,
		  struct curl_slist *hdrs, struct resp *r)
{
	memset(r, 0, sizeof(*r));
	gt_buf_init(&r->body);
	gt_buf_init(&r->hdrs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	r->t0 = gt_now_ms();
	r->code = -1;
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_off_t pre = 0;

		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
		curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre);
		r->t_sent = r->t0 + (int64_t)(pre / 1000);
	}
	return r->code;
}

static long get(const char *url, struct resp *r)
{
	CURL *c = curl_easy_init();
	long code = fetch(c, url, NULL, 0, NULL, r);

	curl_easy_cleanup(c);
	return code;
}

/* ---- raw socket helpers ---- */

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads until `until` shows up in what was read (or EOF); returns its length. */
static size_t read_until(int fd, char *buf, size_t cap, const char *until)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len + 1 < cap && !strstr(buf, until)) {
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return len;
}

/* ---- tests: TLS material ---- */

static char *slurp(const char *name)
{
	char path[256], *out = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return gt_read_file(path, &out, &len) == 0 ? out : NULL;
}

static int file_mode(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

TEST(tls_material)
{
	const char *sans1[] = { "127.0.0.1", "0.0.0.0", "::", "api.example.test", "10.1.2.3", NULL };
	const char *sans2[] = { "10.9.9.9", NULL };
	const char *bad[] = { "not a name!", NULL };
	struct gt_tls_material m1, m2, m3;
	struct gt_err err;
	char *ca;

	gt_err_clear(&err);
	CHECK_INT(gt_tls_ensure(tmpdir, sans1, &m1, &err), 0);
	CHECK(m1.ca_pem && strstr(m1.ca_pem, "BEGIN CERTIFICATE"));
	CHECK(m1.cert_pem && strstr(m1.cert_pem, "BEGIN CERTIFICATE"));
	CHECK(m1.key_pem && strstr(m1.key_pem, "PRIVATE KEY"));
	CHECK_INT(file_mode("ca.key"), 0600);
	CHECK_INT(file_mode("server.key"), 0600);
	CHECK_INT(file_mode("ca.crt"), 0644);

	/* second call: everything reused */
	CHECK_INT(gt_tls_ensure(tmpdir, sans1, &m2, &err), 0);
	CHECK_STR(m2.ca_pem, m1.ca_pem);
	CHECK_STR(m2.cert_pem, m1.cert_pem);
	CHECK_STR(m2.key_pem, m1.key_pem);
	gt_tls_material_release(&m2);

	/* a new SAN: same CA, a new server certificate */
	CHECK_INT(gt_tls_ensure(tmpdir, sans2, &m3, &err), 0);
	CHECK_STR(m3.ca_pem, m1.ca_pem);
	CHECK(m3.cert_pem && strcmp(m3.cert_pem, m1.cert_pem) != 0);
	gt_tls_material_release(&m3);
	/* and the old SANs are kept: asking for them again reuses it */
	CHECK_INT(gt_tls_ensure(tmpdir, sans1, &m3, &err), 0);
	ca = slurp("server.crt");
	CHECK_STR(m3.cert_pem, ca);
	free(ca);
	gt_tls_material_release(&m3);

	gt_err_clear(&err);
	CHECK_INT(gt_tls_ensure(tmpdir, bad, &m3, &err), -EINVAL);
	CHECK(strstr(err.msg, "not a name!") != NULL);
	gt_tls_material_release(&m1);
}

TEST(tls_token)
{
	char *t1 = NULL, *t2 = NULL;
	struct gt_err err;

	CHECK_INT(gt_tls_token(tmpdir, &t1, &err), 0);
	CHECK(t1 && strlen(t1) == 64 && strspn(t1, "0123456789abcdef") == 64);
	CHECK_INT(file_mode("admin.token"), 0600);
	CHECK_INT(gt_tls_token(tmpdir, &t2, &err), 0);
	CHECK_STR(t2, t1);
	free(t1);
	free(t2);
}

/* ---- tests: plain HTTP ---- */

static struct gt_http_server *plain;
static char base[64];

TEST(get_query_headers)
{
	struct curl_slist *h = NULL;
	struct resp r;
	char url[512];
	CURL *c = curl_easy_init();

	h = curl_slist_append(h, "X-Stream-Protocol-Version: v4.channel.k8s.io");
	h = curl_slist_append(h, "X-Stream-Protocol-Version: channel.k8s.io");
	h = curl_slist_append(h, "User-Agent: kubectl/v1.33");
	snprintf(url, sizeof(url), "%s/echo/def%%61ult/a+b?labelSelector=app+in+%%28p1%%2Cp2%%29"
		 "&command=sh&command=echo+out%%3B+exit+3&flag&&bad=%%zz%%00", base);
	CHECK_INT(fetch(c, url, NULL, 0, h, &r), 200);
	CHECK(strstr(r.body.data, "M=GET\n"));
	CHECK(strstr(r.body.data, "P=/echo/default/a+b\n"));
	CHECK(strstr(r.body.data, "sel=app in (p1,p2)\n"));
	CHECK(strstr(r.body.data, "cmd=[sh],[echo out; exit 3]\n"));
	CHECK(strstr(r.body.data, "flag=\n"));
	CHECK(strstr(r.body.data, "xs=v4.channel.k8s.io,channel.k8s.io\n"));
	CHECK(strstr(r.body.data, "ua=kubectl/v1.33\n"));
	CHECK(strstr(r.body.data, "peer=127.0.0.1:"));
	CHECK(strstr(r.hdrs.data, "Content-Type: text/plain"));
	resp_release(&r);

	snprintf(url, sizeof(url), "%s/missing", base);
	CHECK_INT(fetch(c, url, NULL, 0, NULL, &r), 404);
	resp_release(&r);
	snprintf(url, sizeof(url), "%s/none", base);
	CHECK_INT(fetch(c, url, NULL, 0, NULL, &r), 500);
	CHECK(strstr(r.body.data, "\"kind\":\"Status\""));
	resp_release(&r);
	snprintf(url, sizeof(url), "%s/twice", base);
	CHECK_INT(fetch(c, url, NULL, 0, NULL, &r), 200);
	CHECK_STR(r.body.data, "one");
	resp_release(&r);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

TEST(bad_escapes_kept)
{
	int fd = dial(gt_http_port(plain));
	const char req[] = "GET /echo%00x?labelSelector=%zz%0 HTTP/1.1\r\nHost: x\r\n"
			   "Connection: close\r\n\r\n";
	char buf[4096];

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(send(fd, req, sizeof(req) - 1, 0) > 0);
	read_until(fd, buf, sizeof(buf), "peer=");
	CHECK(strstr(buf, "P=/echo%00x\n"));
	CHECK(strstr(buf, "sel=%zz%0\n"));
	close(fd);
}

TEST(post_body)
{
	size_t len = 2u << 20;
	char *body = xmalloc(len);
	unsigned sum = 0;
	char want[64], url[128];
	struct resp r;
	CURL *c = curl_easy_init();

	for (size_t i = 0; i < len; i++) {
		body[i] = (char)('a' + i % 26);
		sum = sum * 31 + (unsigned char)body[i];
	}
	snprintf(url, sizeof(url), "%s/body", base);
	snprintf(want, sizeof(want), "len=%zu sum=%u nul=1", len, sum);
	CHECK_INT(fetch(c, url, body, len, NULL, &r), 200);
	CHECK_STR(r.body.data, want);
	resp_release(&r);
	CHECK_INT(fetch(c, url, "", 0, NULL, &r), 200);
	CHECK_STR(r.body.data, "len=0 sum=0 nul=1");
	resp_release(&r);
	/* kubectl delete sends a body with DELETE; patches come with PATCH */
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	CHECK_INT(fetch(c, url, "{\"propagationPolicy\":\"Background\"}", 35, NULL, &r), 200);
	CHECK(strstr(r.body.data, "len=35 "));
	resp_release(&r);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
	CHECK_INT(fetch(c, url, "{}", 2, NULL, &r), 200);
	CHECK(strstr(r.body.data, "len=2 "));
	resp_release(&r);
	curl_easy_cleanup(c);
	free(body);
}

struct feed {
	size_t left;
};

static size_t feed_fn(char *buf, size_t sz, size_t n, void *ud)
{
	struct feed *f = ud;
	size_t k = sz * n < f->left ? sz * n : f->left;

	memset(buf, 'x', k);
	f->left -= k;
	return k;
}

TEST(too_large)
{
	struct gt_http_server *s = start("127.0.0.1", NULL, NULL, 1000);
	struct curl_slist *h = NULL;
	char url[128], body[2000];
	struct feed f = { 5000 };
	struct resp r;
	int before;
	CURL *c;

	CHECK(s != NULL);
	if (!s)
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/body", gt_http_port(s));
	memset(body, 'y', sizeof(body));
	before = atomic_load(&handler_calls);
	c = curl_easy_init();
	CHECK_INT(fetch(c, url, body, 1000, NULL, &r), 200);
	CHECK(strstr(r.body.data, "len=1000 "));
	resp_release(&r);
	CHECK_INT(fetch(c, url, body, sizeof(body), NULL, &r), 413);
	CHECK(strstr(r.body.data, "\"reason\":\"RequestEntityTooLarge\""));
	CHECK(strstr(r.body.data, "\"code\":413"));
	CHECK(strstr(r.body.data, "\"kind\":\"Status\",\"apiVersion\":\"v1\""));
	CHECK(strstr(r.hdrs.data, "application/json"));
	resp_release(&r);

	/* chunked upload without a length: noticed mid-body */
	h = curl_slist_append(h, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, feed_fn);
	curl_easy_setopt(c, CURLOPT_READDATA, &f);
	memset(&r, 0, sizeof(r));
	gt_buf_init(&r.body);
	gt_buf_init(&r.hdrs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	CHECK_INT(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
	CHECK_INT(r.code, 413);
	resp_release(&r);
	CHECK_INT(atomic_load(&handler_calls) - before, 1);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	gt_http_stop(s);
}

TEST(stream_headers_first)
{
	char url[128];
	struct resp r;
	int freed = atomic_load(&stream_freed);

	snprintf(url, sizeof(url), "%s/stream", base);
	CHECK_INT(get(url, &r), 200);
	/* headers at once, although the first event takes 1.5 s */
	CHECK(r.t_hdr - r.t_sent < 700);
	CHECK(r.t_body - r.t_sent >= 1400);
	/* the first event is not held back until the second one (at 3 s) */
	CHECK(r.t_body - r.t_sent < 2500);
	CHECK_STR(r.body.data, "{\"type\":\"ADDED\"}\n{\"type\":\"DELETED\"}\n");
	CHECK(strstr(r.hdrs.data, "Transfer-Encoding: chunked"));
	CHECK(strstr(r.hdrs.data, "X-Test: yes"));
	CHECK(strstr(r.hdrs.data, "Content-Type: application/json"));
	usleep(100 * 1000);
	CHECK_INT(atomic_load(&stream_freed) - freed, 1);
	resp_release(&r);
	if (r.t_hdr - r.t_sent >= 700 || r.t_body - r.t_sent >= 2500)
		fprintf(stderr, "  headers after %lld ms, first event after %lld ms\n",
			(long long)(r.t_hdr - r.t_sent), (long long)(r.t_body - r.t_sent));
}

TEST(peer_closed)
{
	const char req[] = "GET /silent HTTP/1.1\r\nHost: x\r\n\r\n";
	int freed = atomic_load(&stream_freed);
	int fd = dial(gt_http_port(plain));
	char buf[2048];
	int64_t t0;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	atomic_store(&peer_gone, 0);
	send(fd, req, sizeof(req) - 1, 0);
	t0 = gt_now_ms();
	read_until(fd, buf, sizeof(buf), "\r\n\r\n");
	CHECK(strstr(buf, "HTTP/1.1 200"));
	CHECK(gt_now_ms() - t0 < 700);
	close(fd);
	for (int i = 0; i < 100 && !atomic_load(&peer_gone); i++)
		usleep(20 * 1000);
	CHECK(atomic_load(&peer_gone));
	for (int i = 0; i < 100 && atomic_load(&stream_freed) == freed; i++)
		usleep(20 * 1000);
	CHECK_INT(atomic_load(&stream_freed) - freed, 1);
}

struct worker {
	int ok, connects;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	CURL *c = curl_easy_init();
	char url[128];
	long nc = 0;

	snprintf(url, sizeof(url), "%s/slow", base);
	for (int i = 0; i < 5; i++) {
		struct resp r;

		if (fetch(c, url, NULL, 0, NULL, &r) == 200 && !strcmp(r.body.data, "ok"))
			w->ok++;
		resp_release(&r);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nc);
		w->connects += (int)nc;
	}
	curl_easy_cleanup(c);
	return NULL;
}

TEST(concurrency)
{
	struct worker w[8] = { 0 };
	pthread_t t[8];
	int64_t t0 = gt_now_ms();

	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(w[i].ok, 5);
		CHECK_INT(w[i].connects, 1); /* keep-alive: one connection each */
	}
	/* 40 requests of 200 ms: in parallel, not one after another (8 s) */
	CHECK(gt_now_ms() - t0 < 4000);
}

TEST(upgrade_plain)
{
	const char req[] = "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
			   "Upgrade: echo\r\n\r\nearly-bytes";
	int ended = atomic_load(&session_ended), freed = atomic_load(&upgrade_freed);
	int fd = dial(gt_http_port(plain));
	char buf[2048];
	size_t n;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	send(fd, req, sizeof(req) - 1, 0);
	n = read_until(fd, buf, sizeof(buf), "early-bytes");
	CHECK(n > 0 && strstr(buf, "HTTP/1.1 101"));
	CHECK(strstr(buf, "Upgrade: echo"));
	CHECK(strcasestr(buf, "Connection: Upgrade"));
	CHECK(strstr(buf, "\r\n\r\nearly-bytes"));
	send(fd, "ping", 4, 0);
	n = read_until(fd, buf, sizeof(buf), "ping");
	CHECK_STR(buf, "ping");
	/* half-close: the session sees EOF and ends, closing the connection */
	shutdown(fd, SHUT_WR);
	n = read_until(fd, buf, sizeof(buf), "never");
	CHECK_INT(n, 0);
	close(fd);
	for (int i = 0; i < 100 && atomic_load(&upgrade_freed) == freed; i++)
		usleep(10 * 1000);
	CHECK_INT(atomic_load(&session_ended) - ended, 1);
	CHECK_INT(atomic_load(&upgrade_freed) - freed, 1);
}

#ifdef GT_HTTP_IDLE_TIMEOUT_S
/* Built with a 1 s idle timeout: idle connections go, streams and slow
 * handlers stay. */
TEST(timeouts)
{
	const char req[] = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = dial(gt_http_port(plain));
	char buf[4096], url[128];
	struct resp r;

	CHECK(fd >= 0);
	sleep(2);
	CHECK_INT(read_until(fd, buf, sizeof(buf), "never"), 0);
	close(fd);

	snprintf(url, sizeof(url), "%s/slow?ms=2000", base);
	CHECK_INT(get(url, &r), 200);
	CHECK_STR(r.body.data, "ok");
	resp_release(&r);

	/* a stream silent for 1.5 s twice, then the connection idles out */
	fd = dial(gt_http_port(plain));
	send(fd, req, sizeof(req) - 1, 0);
	read_until(fd, buf, sizeof(buf), "\r\n0\r\n\r\n");
	CHECK(strstr(buf, "DELETED"));
	sleep(2);
	CHECK_INT(read_until(fd, buf, sizeof(buf), "never"), 0);
	close(fd);
}
#endif

/* ---- tests: TLS ---- */

static struct gt_http_server *tls;
static char tls_base[64], ca_path[128];

TEST(tls_get)
{
	CURL *c = curl_easy_init();
	struct resp r;
	char url[256];

	snprintf(url, sizeof(url), "%s/echo?labelSelector=a%%3Db", tls_base);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca_path);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	CHECK_INT(fetch(c, url, NULL, 0, NULL, &r), 200);
	CHECK(strstr(r.body.data, "sel=a=b\n"));
	resp_release(&r);
	/* keep-alive over TLS, and localhost (a DNS SAN) verifies too */
	snprintf(url, sizeof(url), "https://localhost:%d/body", gt_http_port(tls));
	curl_easy_setopt(c, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4);
	CHECK_INT(fetch(c, url, "abc", 3, NULL, &r), 200);
	CHECK(strstr(r.body.data, "len=3 "));
	resp_release(&r);
	curl_easy_cleanup(c);

	/* a client that does not trust our CA is refused */
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_CAINFO, "/etc/ssl/certs/ca-certificates.crt");
	snprintf(url, sizeof(url), "%s/echo", tls_base);
	CHECK_INT(fetch(c, url, NULL, 0, NULL, &r), -1);
	resp_release(&r);
	curl_easy_cleanup(c);
}

TEST(tls_stream_headers_first)
{
	CURL *c = curl_easy_init();
	struct resp r;
	char url[256];

	snprintf(url, sizeof(url), "%s/stream", tls_base);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca_path);
	CHECK_INT(fetch(c, url, NULL, 0, NULL, &r), 200);
	CHECK(r.t_hdr - r.t_sent < 700);
	CHECK(r.t_body - r.t_sent >= 1400 && r.t_body - r.t_sent < 2500);
	CHECK_STR(r.body.data, "{\"type\":\"ADDED\"}\n{\"type\":\"DELETED\"}\n");
	if (r.t_hdr - r.t_sent >= 700)
		fprintf(stderr, "  TLS headers after %lld ms (handshake %lld ms)\n",
			(long long)(r.t_hdr - r.t_sent), (long long)(r.t_sent - r.t0));
	resp_release(&r);
	curl_easy_cleanup(c);
}

static ssize_t tls_read_until(gnutls_session_t s, char *buf, size_t cap, const char *until)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len + 1 < cap && !strstr(buf, until)) {
		ssize_t n = gnutls_record_recv(s, buf + len, cap - len - 1);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return (ssize_t)len;
}

/* A verified TLS connection to the test server, upgraded to the echo
 * protocol; returns 0 and fills *s / *cred / *fd. */
static int tls_upgrade(gnutls_session_t *s, gnutls_certificate_credentials_t *cred, int *fd)
{
	const char req[] = "GET /upgrade HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
			   "Upgrade: echo\r\n\r\n";
	char buf[2048];
	int rc;

	*fd = dial(gt_http_port(tls));
	if (*fd < 0)
		return -1;
	gnutls_certificate_allocate_credentials(cred);
	if (gnutls_certificate_set_x509_trust_file(*cred, ca_path, GNUTLS_X509_FMT_PEM) != 1)
		return -1;
	gnutls_init(s, GNUTLS_CLIENT);
	gnutls_set_default_priority(*s);
	gnutls_credentials_set(*s, GNUTLS_CRD_CERTIFICATE, *cred);
	gnutls_session_set_verify_cert(*s, "127.0.0.1", 0);
	gnutls_transport_set_int(*s, *fd);
	do
		rc = gnutls_handshake(*s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0)
		return rc;
	gnutls_record_send(*s, req, sizeof(req) - 1);
	tls_read_until(*s, buf, sizeof(buf), "\r\n\r\n");
	return strstr(buf, "HTTP/1.1 101") ? 0 : -1;
}

static void tls_close(gnutls_session_t s, gnutls_certificate_credentials_t cred, int fd)
{
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	close(fd);
}

/* tls_upgrade, then one echoed "hello". */
static void tls_upgrade_hello(gnutls_session_t *s, gnutls_certificate_credentials_t *cred, int *fd)
{
	char buf[2048];

	CHECK_INT(tls_upgrade(s, cred, fd), 0);
	gnutls_record_send(*s, "hello", 5);
	tls_read_until(*s, buf, sizeof(buf), "hello");
	CHECK_STR(buf, "hello");
}

TEST(upgrade_tls)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	int ended = atomic_load(&session_ended), fd = -1;
	char buf[2048];

	tls_upgrade_hello(&s, &cred, &fd);
	gnutls_record_send(s, "quit", 4);
	tls_read_until(s, buf, sizeof(buf), "bye");
	CHECK_STR(buf, "bye");
	/* then the server closes the connection */
	CHECK(tls_read_until(s, buf, sizeof(buf), "never") == 0);
	tls_close(s, cred, fd);
	for (int i = 0; i < 100 && atomic_load(&session_ended) == ended; i++)
		usleep(10 * 1000);
	CHECK_INT(atomic_load(&session_ended) - ended, 1);
}

/* A client that vanishes without a TLS close (killed): the session reads
 * EOF and ends (MHD does not pass that on through its TLS socketpair). */
TEST(upgrade_tls_client_vanishes)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	int ended = atomic_load(&session_ended), fd = -1;

	tls_upgrade_hello(&s, &cred, &fd);
	close(fd); /* no gnutls_bye */
	for (int i = 0; i < 300 && atomic_load(&session_ended) == ended; i++)
		usleep(10 * 1000);
	CHECK_INT(atomic_load(&session_ended) - ended, 1);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
}

/* The CLI's client stream (http/tlsconn.c) against the TLS server: a
 * verified dial, a response head, the upgraded stream, and the errors for
 * untrusted, refused and bad URLs.  (Over TLS the server runs upgrades on
 * the TLS session itself, and bytes a client pipelines behind the upgrade
 * request are not kept: clients wait for the 101, as kubectl does.) */
TEST(tlsconn_client)
{
	struct gt_tlsconn_opts o = { .ca_file = ca_path, .timeout_s = 5 };
	const char req[] = "GET /upgrade HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
			   "Upgrade: echo\r\n\r\n";
	struct gt_tlsconn *c = NULL;
	struct gt_buf head = GT_BUF_INIT;
	struct gt_err err;
	char buf[64], v[64], url[128];
	size_t got = 0;
	ssize_t n;
	bool tlsflag;

	gt_err_clear(&err);
	CHECK_INT(gt_tlsconn_dial(tls_base, &o, &c, &err), 0);
	if (!c) {
		fprintf(stderr, "  dial: %s\n", err.msg);
		return;
	}
	CHECK(strstr(gt_tlsconn_authority(c), "127.0.0.1:") == gt_tlsconn_authority(c));
	CHECK_INT(gt_tlsconn_write(c, req, sizeof(req) - 1), 0);
	gt_buf_init(&head);
	CHECK_INT(gt_tlsconn_read_head(c, &head, 4096, &err), 0);
	CHECK_INT(gt_http_head_status(head.data), 101);
	CHECK_STR(gt_http_head_value(head.data, "upgrade", v, sizeof(v)), "echo");
	CHECK(gt_http_head_value(head.data, "Sec-WebSocket-Accept", v, sizeof(v)) == NULL);
	CHECK(strstr(head.data, "\r\n\r\n") == head.data + head.len - 4);
	CHECK_INT(gt_tlsconn_write(c, "early", 5), 0);
	while (got < 5 && (n = gt_tlsconn_read(c, buf + got, 5 - got)) > 0)
		got += (size_t)n;
	CHECK_INT(got, 5);
	CHECK(!memcmp(buf, "early", 5));
	CHECK_INT(gt_tlsconn_write(c, "quit", 4), 0);
	got = 0;
	while (got < 3 && (n = gt_tlsconn_read(c, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	CHECK(got == 3 && !memcmp(buf, "bye", 3));
	CHECK_INT(gt_tlsconn_read(c, buf, sizeof(buf)), 0); /* the server ended it */
	gt_tlsconn_close(c);
	gt_buf_release(&head);

	/* a CA that did not sign the server's certificate */
	o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
	c = NULL;
	CHECK_INT(gt_tlsconn_dial(tls_base, &o, &c, &err), -EPROTO);
	CHECK(c == NULL);
	/* nothing listens (a port just bound and released) */
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		getsockname(fd, (struct sockaddr *)&sa, &sl);
		close(fd);
		snprintf(url, sizeof(url), "https://127.0.0.1:%d", ntohs(sa.sin_port));
		CHECK_INT(gt_tlsconn_dial(url, &o, &c, &err), -ECONNREFUSED);
	}
	/* bad URLs */
	CHECK_INT(gt_tlsconn_dial("ftp://x", &o, &c, &err), -EINVAL);
	CHECK_INT(gt_url_split("https://[::1]:8443/p", &tlsflag, v, sizeof(v), buf, 16, &err), 0);
	CHECK_STR(v, "::1");
	CHECK_STR(buf, "8443");
	CHECK(tlsflag);
	CHECK_INT(gt_url_split("http://h", &tlsflag, v, sizeof(v), buf, 16, &err), 0);
	CHECK_STR(buf, "80");
	CHECK(!tlsflag);
	CHECK_INT(gt_url_split("https://h:x1", &tlsflag, v, sizeof(v), buf, 16, &err), -EINVAL);
	CHECK_INT(gt_url_split("https://:1", &tlsflag, v, sizeof(v), buf, 16, &err), -EINVAL);
	CHECK_INT(gt_http_head_status("HTTP/1.1 1010 x"), -EPROTO);
	CHECK_INT(gt_http_head_status("HTTP/1.0 404 Not Found\r\n"), 404);
	CHECK_INT(gt_http_head_status("SSH-2.0"), -EPROTO);
}

/* A bulk dial to /bulk with tlsconn: the 101 head read. */
static struct gt_tlsconn *bulk_dial(void)
{
	struct gt_tlsconn_opts o = { .ca_file = ca_path, .timeout_s = 5 };
	const char req[] = "GET /bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
			   "Upgrade: bulk\r\n\r\n";
	struct gt_tlsconn *c = NULL;
	struct gt_buf head = GT_BUF_INIT;
	struct gt_err err;

	gt_err_clear(&err);
	if (gt_tlsconn_dial(tls_base, &o, &c, &err) < 0)
		return NULL;
	gt_buf_init(&head);
	if (gt_tlsconn_write(c, req, sizeof(req) - 1) < 0 ||
	    gt_tlsconn_read_head(c, &head, 4096, &err) < 0 || gt_http_head_status(head.data) != 101) {
		gt_tlsconn_close(c);
		c = NULL;
	}
	gt_buf_release(&head);
	return c;
}

/* Bulk bytes both ways over TLS (http/tlsio.c: the read-ahead, and the
 * records of a large write gathered into one send) arrive whole and in
 * order, with small writes between large ones. */
TEST(tls_bulk_both_ways)
{
	const size_t n = 5000000;
	unsigned char *buf = xmalloc(1 << 20);
	struct gt_tlsconn *c = bulk_dial();
	size_t at = 0, bad = SIZE_MAX;
	char line[64];
	ssize_t k;

	CHECK(c != NULL);
	if (!c) {
		free(buf);
		return;
	}
	/* client -> server: 1 MiB writes, a 1-byte and a 40,000-byte one among them */
	snprintf(line, sizeof(line), "up %zu\n", n);
	CHECK_INT(gt_tlsconn_write(c, line, strlen(line)), 0);
	while (at < n) {
		size_t w = at == 1 << 20 ? 1 : at == (1 << 20) + 1 ? 40000 : 1 << 20;

		if (w > n - at)
			w = n - at;
		for (size_t i = 0; i < w; i++)
			buf[i] = bulk_byte(at + i);
		if (gt_tlsconn_write(c, buf, w) < 0)
			break;
		at += w;
	}
	CHECK_INT(at, n);
	at = 0;
	while (at < sizeof(line) - 1 && (k = gt_tlsconn_read(c, line + at, sizeof(line) - 1 - at)) > 0)
		at += (size_t)k;
	line[at] = '\0';
	snprintf((char *)buf, 64, "ok %zu", n);
	CHECK_STR(line, (char *)buf);
	gt_tlsconn_close(c);

	/* server -> client: 300,000-byte writes, read in odd sizes */
	c = bulk_dial();
	CHECK(c != NULL);
	if (!c) {
		free(buf);
		return;
	}
	snprintf(line, sizeof(line), "down %zu\n", n);
	CHECK_INT(gt_tlsconn_write(c, line, strlen(line)), 0);
	at = 0;
	while ((k = gt_tlsconn_read(c, buf, 77777)) > 0) {
		for (ssize_t i = 0; i < k && bad == SIZE_MAX; i++)
			if (buf[i] != bulk_byte(at + (size_t)i))
				bad = at + (size_t)i;
		at += (size_t)k;
	}
	CHECK_INT(at, n);
	CHECK(bad == SIZE_MAX);
	gt_tlsconn_close(c);
	free(buf);
}

/* Stopping the TLS server with a session still open: it is woken, ends,
 * and the stop returns. */
TEST(stop_tls_with_open_session)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	int freed = atomic_load(&upgrade_freed), fd = -1;
	int64_t t0;

	CHECK_INT(tls_upgrade(&s, &cred, &fd), 0);
	t0 = gt_now_ms();
	gt_http_stop(tls);
	tls = NULL;
	CHECK(gt_now_ms() - t0 < 2000);
	CHECK_INT(atomic_load(&upgrade_freed) - freed, 1);
	tls_close(s, cred, fd);
}

/* ---- tests: binding, stopping ---- */

TEST(bind_variants)
{
	struct gt_http_server *s6 = start("::1", NULL, NULL, 0), *dual, *clash;
	struct gt_http_config cfg = { .bind = "127.0.0.1", .handler = handler };
	struct gt_err err;
	struct resp r;
	char url[128];

	if (s6) {
		snprintf(url, sizeof(url), "http://[::1]:%d/echo", gt_http_port(s6));
		CHECK_INT(get(url, &r), 200);
		CHECK(strstr(r.body.data, "peer=[::1]:"));
		resp_release(&r);
		gt_http_stop(s6);
	} else {
		fprintf(stderr, "  (no IPv6 loopback here: skipped ::1)\n");
	}
	dual = start("::", NULL, NULL, 0);
	if (dual) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", gt_http_port(dual));
		CHECK_INT(get(url, &r), 200);
		resp_release(&r);
		gt_http_stop(dual);
	}
	cfg.port = gt_http_port(plain);
	gt_err_clear(&err);
	CHECK_INT(gt_http_start(&cfg, &clash, &err), -EADDRINUSE);
	CHECK(strstr(err.msg, "127.0.0.1") != NULL);
	cfg.bind = "localhost";
	CHECK_INT(gt_http_start(&cfg, &clash, &err), -EINVAL);
	cfg.bind = "127.0.0.1";
	cfg.cert_pem = "x";
	CHECK_INT(gt_http_start(&cfg, &clash, &err), -EINVAL);
}

TEST(stop_with_open_session)
{
	struct gt_http_server *s = start("127.0.0.1", NULL, NULL, 0);
	const char req[] = "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
			   "Upgrade: echo\r\n\r\n";
	int freed = atomic_load(&upgrade_freed), fd, idle;
	char buf[1024];
	int64_t t0;

	CHECK(s != NULL);
	if (!s)
		return;
	fd = dial(gt_http_port(s));
	idle = dial(gt_http_port(s)); /* an idle keep-alive connection too */
	send(fd, req, sizeof(req) - 1, 0);
	read_until(fd, buf, sizeof(buf), "\r\n\r\n");
	CHECK(strstr(buf, "HTTP/1.1 101"));
	t0 = gt_now_ms();
	gt_http_stop(s);
	CHECK(gt_now_ms() - t0 < 2000);
	CHECK_INT(atomic_load(&upgrade_freed) - freed, 1);
	close(fd);
	close(idle);
}

int main(void)
{
	struct gt_tls_material m;
	struct gt_err err;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gt_test_http.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	curl_global_init(CURL_GLOBAL_ALL);
	RUN(tls_material);
	RUN(tls_token);

	plain = start("127.0.0.1", NULL, NULL, 0);
	if (!plain)
		return 1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", gt_http_port(plain));
	RUN(get_query_headers);
	RUN(bad_escapes_kept);
	RUN(post_body);
	RUN(too_large);
	RUN(stream_headers_first);
	RUN(peer_closed);
	RUN(concurrency);
	RUN(upgrade_plain);
#ifdef GT_HTTP_IDLE_TIMEOUT_S
	RUN(timeouts);
#endif
	RUN(bind_variants);

	if (gt_tls_ensure(tmpdir, NULL, &m, &err) < 0)
		return 1;
	tls = start("127.0.0.1", m.cert_pem, m.key_pem, 0);
	if (!tls)
		return 1;
	snprintf(tls_base, sizeof(tls_base), "https://127.0.0.1:%d", gt_http_port(tls));
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", tmpdir);
	RUN(tls_get);
	RUN(tls_stream_headers_first);
	RUN(upgrade_tls);
	RUN(upgrade_tls_client_vanishes);
	RUN(tlsconn_client);
	RUN(tls_bulk_both_ways);
	RUN(stop_tls_with_open_session);
	gt_http_stop(tls);
	gt_tls_material_release(&m);

	RUN(stop_with_open_session);
	gt_http_stop(plain);
	curl_global_cleanup();
	if (!getenv("GT_KEEP_TMP")) {
		const char *names[] = { "ca.crt", "ca.key", "server.crt", "server.key", "admin.token" };
		char path[256];

		for (size_t i = 0; i < GT_ARRAY_SIZE(names); i++) {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
			unlink(path);
		}
		rmdir(tmpdir);
	}
	return t_done();
}
