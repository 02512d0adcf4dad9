/*
 * test_probe.c - probes against servers on 127.0.0.1 run by threads of this
 * test: HTTP status codes, the request the kubelet sends, timeouts, HTTPS
 * (a GnuTLS server with a certificate from gt_tls_ensure), TCP open and
 * closed ports, and exec through a fake exec function.
 */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/probe.h"
#include "http/tls.h"
#include "t.h"

struct server {
	int fd;              /* listening socket */
	int port;
	const char *reply;   /* full response; NULL: accept and say nothing */
	bool tls;
	struct gt_tls_material *mat;
	char request[2048];  /* what the client sent */
	pthread_t th;
};

static int listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static void read_request(struct server *s, gnutls_session_t ss, int cfd)
{
	size_t off = 0;

	while (off < sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n")) {
		ssize_t r = ss ? gnutls_record_recv(ss, s->request + off, sizeof(s->request) - 1 - off)
			       : read(cfd, s->request + off, sizeof(s->request) - 1 - off);

		if (r <= 0)
			break;
		off += (size_t)r;
		s->request[off] = '\0';
	}
}

static void *serve_one(void *arg)
{
	struct server *s = arg;
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t ss = NULL;
	int cfd = accept(s->fd, NULL, NULL);

	if (cfd < 0)
		return NULL;
	if (s->tls) {
		gnutls_datum_t cert = { (unsigned char *)s->mat->cert_pem, (unsigned)strlen(s->mat->cert_pem) };
		gnutls_datum_t key = { (unsigned char *)s->mat->key_pem, (unsigned)strlen(s->mat->key_pem) };
		int rc;

		gnutls_certificate_allocate_credentials(&cred);
		gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
		gnutls_init(&ss, GNUTLS_SERVER);
		gnutls_set_default_priority(ss);
		gnutls_credentials_set(ss, GNUTLS_CRD_CERTIFICATE, cred);
		gnutls_transport_set_int(ss, cfd);
		do
			rc = gnutls_handshake(ss);
		while (rc < 0 && !gnutls_error_is_fatal(rc));
		if (rc < 0)
			goto out;
	}
	read_request(s, ss, cfd);
	if (s->reply) {
		if (ss)
			gnutls_record_send(ss, s->reply, strlen(s->reply));
		else if (write(cfd, s->reply, strlen(s->reply)) < 0)
			goto out;
	} else {
		sleep(2); /* past the client's timeout */
	}
out:
	if (ss) {
		gnutls_bye(ss, GNUTLS_SHUT_WR);
		gnutls_deinit(ss);
	}
	if (cred)
		gnutls_certificate_free_credentials(cred);
	close(cfd);
	return NULL;
}

static void start(struct server *s, const char *reply)
{
	s->reply = reply;
	s->request[0] = '\0';
	s->fd = listen_any(&s->port);
	pthread_create(&s->th, NULL, serve_one, s);
}

static void stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->th, NULL);
	close(s->fd);
}

static json_t *http_probe(int port, const char *scheme)
{
	return json_pack("{s:{s:s, s:i, s:s, s:[{s:s, s:s}]}, s:i}", "httpGet", "path", "/healthz",
			 "port", port, "scheme", scheme, "httpHeaders", "name", "X-Probe", "value", "yes",
			 "timeoutSeconds", 1);
}

TEST(http_ok_and_request)
{
	struct server s = { 0 };
	struct gt_probe_result r;
	json_t *p;

	start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	p = http_probe(s.port, "HTTP");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(r.ok);
	stop(&s);
	CHECK(!strncmp(s.request, "GET /healthz HTTP/1.1\r\n", 23));
	CHECK(strstr(s.request, "\r\nUser-Agent: kube-probe/1.33\r\n") != NULL);
	CHECK(strstr(s.request, "\r\nX-Probe: yes\r\n") != NULL);
	CHECK(strstr(s.request, "\r\nAccept: */*\r\n") != NULL);
	{
		char host[64];

		snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", s.port);
		CHECK(strstr(s.request, host) != NULL);
	}
	json_decref(p);

	/* 3xx counts as success; a port as a numeric string is accepted */
	start(&s, "HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n");
	p = json_pack("{s:{s:s}}", "httpGet", "port", "0");
	json_object_set_new(json_object_get(p, "httpGet"), "port", json_sprintf("%d", s.port));
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(r.ok);
	stop(&s);
	CHECK(!strncmp(s.request, "GET / HTTP/1.1\r\n", 16));
	json_decref(p);
}

TEST(http_failures)
{
	struct server s = { 0 };
	struct gt_probe_result r;
	json_t *p;
	char want[128];
	int64_t t0;

	start(&s, "HTTP/1.1 404 Not Found\r\n\r\n");
	p = http_probe(s.port, "HTTP");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(!r.ok);
	CHECK_STR(r.message, "HTTP probe failed with statuscode: 404");
	stop(&s);
	json_decref(p);

	/* accepted but never answered: the timeout */
	start(&s, NULL);
	p = http_probe(s.port, "HTTP");
	t0 = gt_now_ms();
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(gt_now_ms() - t0 >= 900 && gt_now_ms() - t0 < 1900);
	CHECK(!r.ok);
	snprintf(want, sizeof(want), "Get \"http://127.0.0.1:%d/healthz\": context deadline exceeded", s.port);
	CHECK(!strncmp(r.message, want, strlen(want)));
	stop(&s);
	json_decref(p);

	/* nobody listening */
	{
		int port, fd = listen_any(&port);

		close(fd);
		p = http_probe(port, "HTTP");
		CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
		CHECK(!r.ok);
		snprintf(want, sizeof(want), "Get \"http://127.0.0.1:%d/healthz\": dial tcp 127.0.0.1:%d: connect: connection refused",
			 port, port);
		CHECK_STR(r.message, want);
		json_decref(p);
	}

	/* garbage instead of HTTP */
	start(&s, "SSH-2.0-OpenSSH\r\n");
	p = http_probe(s.port, "HTTP");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(!r.ok);
	CHECK(strstr(r.message, "malformed HTTP response") != NULL);
	stop(&s);
	json_decref(p);

	/* bad probes */
	p = json_pack("{s:{s:s}}", "httpGet", "port", "http");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), -EINVAL);
	CHECK(strstr(r.message, "named port \"http\"") != NULL);
	json_decref(p);
	p = json_pack("{s:{s:i, s:s}}", "httpGet", "port", 80, "scheme", "FTP");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), -EINVAL);
	json_decref(p);
	p = json_pack("{s:{s:i, s:s}}", "httpGet", "port", 80, "path", "/x\r\nEvil: 1");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), -EINVAL);
	json_decref(p);
	p = json_pack("{s:i}", "periodSeconds", 3);
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), -EINVAL);
	CHECK(!r.ok);
	json_decref(p);
	p = json_pack("{s:{s:i}}", "grpc", "port", 9000);
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(!r.ok);
	CHECK(strstr(r.message, "grpc") != NULL);
	json_decref(p);
}

TEST(https)
{
	struct gt_tls_material mat = { 0 };
	struct server s = { 0 };
	struct gt_probe_result r;
	char dir[] = "/tmp/gt-probe-XXXXXX";
	json_t *p;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT(gt_tls_ensure(dir, NULL, &mat, NULL), 0);
	s.tls = true;
	s.mat = &mat;
	start(&s, "HTTP/1.1 204 No Content\r\n\r\n");
	p = http_probe(s.port, "HTTPS");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(r.ok);
	if (!r.ok)
		fprintf(stderr, "  %s\n", r.message);
	stop(&s);
	CHECK(strstr(s.request, "GET /healthz") != NULL);
	json_decref(p);

	start(&s, "HTTP/1.1 500 Oops\r\n\r\n");
	p = http_probe(s.port, "HTTPS");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK_STR(r.message, "HTTP probe failed with statuscode: 500");
	stop(&s);
	json_decref(p);

	/* HTTPS against a plain HTTP server fails, not hangs */
	s.tls = false;
	start(&s, "HTTP/1.1 200 OK\r\n\r\n");
	p = http_probe(s.port, "HTTPS");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(!r.ok);
	stop(&s);
	json_decref(p);
	gt_tls_material_release(&mat);
	{
		char *cmd = xasprintf("rm -rf %s", dir);

		CHECK_INT(system(cmd), 0);
		free(cmd);
	}
}

TEST(tcp)
{
	struct gt_probe_result r;
	int port, fd = listen_any(&port);
	json_t *p = json_pack("{s:{s:i}}", "tcpSocket", "port", port);
	char want[96];

	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(r.ok);
	close(fd);
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	CHECK(!r.ok);
	snprintf(want, sizeof(want), "dial tcp 127.0.0.1:%d: connect: connection refused", port);
	CHECK_STR(r.message, want);
	/* host overrides the pod IP */
	gt_json_set_str(p, "tcpSocket.host", "::1");
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), 0);
	snprintf(want, sizeof(want), "dial tcp [::1]:%d: connect:", port);
	CHECK(!strncmp(r.message, want, strlen(want)));
	json_decref(p);
	p = json_pack("{s:{s:i}}", "tcpSocket", "port", 70000);
	CHECK_INT(gt_probe_run(p, "127.0.0.1", NULL, NULL, &r), -EINVAL);
	json_decref(p);
}

struct fake {
	int calls;
	int exit_code;
	int rc;
	const char *output;
	char argv0[64];
	int timeout;
};

static int fake_exec(void *ctx, char *const argv[], int timeout_s, int *exit_code, struct gt_buf *out)
{
	struct fake *f = ctx;

	f->calls++;
	snprintf(f->argv0, sizeof(f->argv0), "%s", argv[0]);
	f->timeout = timeout_s;
	if (f->rc < 0)
		return f->rc;
	*exit_code = f->exit_code;
	gt_buf_adds(out, f->output);
	return 0;
}

TEST(exec)
{
	struct fake f = { 0, 0, 0, "fine\n", "", 0 };
	struct gt_probe_result r;
	json_t *p = json_pack("{s:{s:[s, s]}, s:i}", "exec", "command", "cat", "/tmp/healthy",
			      "timeoutSeconds", 5);

	CHECK_INT(gt_probe_run(p, NULL, fake_exec, &f, &r), 0);
	CHECK(r.ok);
	CHECK_STR(f.argv0, "cat");
	CHECK_INT(f.timeout, 5);
	f.exit_code = 1;
	f.output = "cat: /tmp/healthy: No such file or directory\n";
	CHECK_INT(gt_probe_run(p, NULL, fake_exec, &f, &r), 0);
	CHECK(!r.ok);
	CHECK_STR(r.message, "cat: /tmp/healthy: No such file or directory");
	f.output = "";
	CHECK_INT(gt_probe_run(p, NULL, fake_exec, &f, &r), 0);
	CHECK_STR(r.message, "command \"cat /tmp/healthy\" exited with 1");
	f.rc = -ETIMEDOUT;
	CHECK_INT(gt_probe_run(p, NULL, fake_exec, &f, &r), 0);
	CHECK(!r.ok);
	CHECK_STR(r.message, "command \"cat /tmp/healthy\" timed out");
	CHECK_INT(gt_probe_run(p, NULL, NULL, NULL, &r), 0);
	CHECK(!r.ok);
	CHECK_INT(f.calls, 4);
	json_decref(p);
	p = json_pack("{s:{s:[]}}", "exec", "command");
	CHECK_INT(gt_probe_run(p, NULL, fake_exec, &f, &r), -EINVAL);
	json_decref(p);
}

int main(void)
{
	RUN(http_ok_and_request);
	RUN(http_failures);
	RUN(https);
	RUN(tcp);
	RUN(exec);
	return t_done();
}
