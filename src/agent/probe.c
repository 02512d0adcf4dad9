/*
 * probe.c - one attempt of an exec, httpGet or tcpSocket probe with the
 * kubelet's success rules and messages.  HTTP is spoken over a plain
 * non-blocking socket (only the status line matters), HTTPS through GnuTLS
 * without certificate verification.  See probe.h.
 */
#include "agent/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define USER_AGENT "kube-probe/1.33"

static int fail(struct gt_probe_result *res, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct gt_probe_result *res, int rc, const char *fmt, ...)
{
	va_list ap;

	res->ok = false;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return rc;
}

/* Go's lower-case error strings: "connection refused". */
static void go_strerror(int e, char *out, size_t n)
{
	snprintf(out, n, "%s", strerror(e));
	if (out[0] >= 'A' && out[0] <= 'Z')
		out[0] = (char)(out[0] + 32);
}

/* "host:port", with brackets around an IPv6 literal. */
static void join_host_port(const char *host, int port, char *out, size_t n)
{
	if (strchr(host, ':'))
		snprintf(out, n, "[%s]:%d", host, port);
	else
		snprintf(out, n, "%s:%d", host, port);
}

static int remaining(int64_t deadline)
{
	int64_t left = deadline - gt_now_ms();

	return left > 0 ? (int)left : 0;
}

/*
 * Connects to host:port before deadline.  Returns the socket (non-blocking)
 * or -1 with why filled in Go's words ("connect: connection refused",
 * "i/o timeout").
 */
static int dial(const char *host, int port, int64_t deadline, char *why, size_t n)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char ports[8];
	int fd = -1, rc;

	snprintf(ports, sizeof(ports), "%d", port);
	rc = getaddrinfo(host, ports, &hints, &ai);
	if (rc) {
		snprintf(why, n, "lookup %s: %s", host, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		go_strerror(errno, why, n);
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		char e[96];

		go_strerror(errno, e, sizeof(e));
		snprintf(why, n, "connect: %s", e);
		close(fd);
		fd = -1;
		goto out;
	}
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		int left = remaining(deadline), err = 0;
		socklen_t el = sizeof(err);

		rc = left ? poll(&pf, 1, left) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			snprintf(why, n, "i/o timeout");
			close(fd);
			fd = -1;
			break;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			char e[96];

			go_strerror(err, e, sizeof(e));
			snprintf(why, n, "connect: %s", e);
			close(fd);
			fd = -1;
		}
		break;
	}
out:
	freeaddrinfo(ai);
	return fd;
}

/* ---- a connection: plain or TLS, with a deadline ---- */

struct conn {
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	int64_t deadline;
};

static void conn_close(struct conn *c)
{
	if (c->tls)
		gnutls_deinit(c->tls);
	if (c->cred)
		gnutls_certificate_free_credentials(c->cred);
	if (c->fd >= 0)
		close(c->fd);
}

/* Waits for fd to become readable (in) or writable; false on timeout. */
static bool wait_fd(const struct conn *c, bool in)
{
	for (;;) {
		struct pollfd pf = { .fd = c->fd, .events = in ? POLLIN : POLLOUT };
		int left = remaining(c->deadline), rc;

		if (!left)
			return false;
		rc = poll(&pf, 1, left);
		if (rc > 0)
			return true;
		if (rc == 0 || errno != EINTR)
			return false;
	}
}

/* TLS handshake; returns 0, -ETIMEDOUT, or -EPROTO with why set. */
static int tls_start(struct conn *c, const char *host, char *why, size_t n)
{
	struct in6_addr a6;
	struct in_addr a4;
	int rc;

	if (gnutls_certificate_allocate_credentials(&c->cred) < 0 ||
	    gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0 ||
	    gnutls_set_default_priority(c->tls) < 0 ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred) < 0) {
		snprintf(why, n, "tls: setup failed");
		return -EPROTO;
	}
	if (inet_pton(AF_INET, host, &a4) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
		gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, host, strlen(host));
	gnutls_transport_set_int(c->tls, c->fd);
	while ((rc = gnutls_handshake(c->tls)) < 0) {
		if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED && gnutls_error_is_fatal(rc)) {
			snprintf(why, n, "remote error: tls: %s", gnutls_strerror(rc));
			return -EPROTO;
		}
		if (!wait_fd(c, gnutls_record_get_direction(c->tls) == 0))
			return -ETIMEDOUT;
	}
	return 0;
}

static int conn_write(struct conn *c, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = c->tls ? gnutls_record_send(c->tls, buf + off, len - off)
				   : send(c->fd, buf + off, len - off, MSG_NOSIGNAL);

		if (w >= 0) {
			off += (size_t)w;
			continue;
		}
		if (c->tls ? (w != GNUTLS_E_AGAIN && w != GNUTLS_E_INTERRUPTED)
			   : (errno != EAGAIN && errno != EINTR))
			return -EIO;
		if (!wait_fd(c, c->tls ? gnutls_record_get_direction(c->tls) == 0 : false))
			return -ETIMEDOUT;
	}
	return 0;
}

/* Reads some bytes; returns the count, 0 at EOF, -ETIMEDOUT or -EIO. */
static ssize_t conn_read(struct conn *c, char *buf, size_t len)
{
	for (;;) {
		ssize_t r = c->tls ? gnutls_record_recv(c->tls, buf, len) : recv(c->fd, buf, len, 0);

		if (r >= 0)
			return r;
		if (c->tls && r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;
		if (c->tls ? (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			   : (errno != EAGAIN && errno != EINTR))
			return -EIO;
		if (!wait_fd(c, c->tls ? gnutls_record_get_direction(c->tls) == 0 : true))
			return -ETIMEDOUT;
	}
}

/* ---- handlers ---- */

/* The port of a handler: a number, or a numeric string. */
static int handler_port(const json_t *h, const char *kind, int *port, struct gt_probe_result *res)
{
	json_t *p = json_object_get(h, "port");
	int64_t v = -1;

	if (json_is_integer(p))
		v = json_integer_value(p);
	else if (json_is_string(p) && gt_parse_i64(json_string_value(p), &v) < 0)
		return fail(res, -EINVAL, "%s.port: named port \"%s\" must be resolved to a number by the caller",
			    kind, json_string_value(p));
	if (v < 1 || v > 65535)
		return fail(res, -EINVAL, "%s.port: Invalid value: must be between 1 and 65535, inclusive", kind);
	*port = (int)v;
	return 0;
}

static bool has_header(const json_t *headers, const char *name)
{
	json_t *h;
	size_t i;

	json_array_foreach(headers, i, h)
		if (gt_json_str(h, "name") && !strcasecmp(gt_json_str(h, "name"), name))
			return true;
	return false;
}

static bool header_safe(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

static int http_get(const json_t *h, const char *pod_ip, int64_t deadline,
		    struct gt_probe_result *res)
{
	const char *host = gt_json_str(h, "host"), *scheme = gt_json_str(h, "scheme");
	const char *path = gt_json_str(h, "path");
	json_t *headers = json_object_get(h, "httpHeaders"), *hd;
	struct conn c = { .fd = -1, .deadline = deadline };
	struct gt_buf req = GT_BUF_INIT, resp = GT_BUF_INIT;
	char hostport[300], url[700], why[256] = "";
	bool tls;
	size_t i;
	int port, rc, code;

	if (!host || !*host)
		host = pod_ip;
	if (!host || !*host)
		return fail(res, -EINVAL, "httpGet: no host and no pod IP");
	if (!scheme || !*scheme)
		scheme = "HTTP";
	if (strcasecmp(scheme, "HTTP") && strcasecmp(scheme, "HTTPS"))
		return fail(res, -EINVAL, "httpGet.scheme: Unsupported value: \"%s\"", scheme);
	tls = !strcasecmp(scheme, "HTTPS");
	rc = handler_port(h, "httpGet", &port, res);
	if (rc < 0)
		return rc;
	if (!path || !*path)
		path = "/";
	if (!header_safe(path) || strchr(path, ' ') || !header_safe(host))
		return fail(res, -EINVAL, "httpGet.path: Invalid value");
	join_host_port(host, port, hostport, sizeof(hostport));
	snprintf(url, sizeof(url), "%s://%s%s%s", tls ? "https" : "http", hostport,
		 path[0] == '/' ? "" : "/", path);

	gt_buf_init(&req);
	gt_buf_addf(&req, "GET %s%s HTTP/1.1\r\n", path[0] == '/' ? "" : "/", path);
	if (!has_header(headers, "Host"))
		gt_buf_addf(&req, "Host: %s\r\n", hostport);
	if (!has_header(headers, "User-Agent"))
		gt_buf_adds(&req, "User-Agent: " USER_AGENT "\r\n");
	if (!has_header(headers, "Accept"))
		gt_buf_adds(&req, "Accept: */*\r\n");
	json_array_foreach(headers, i, hd) {
		const char *n = gt_json_str(hd, "name"), *v = gt_json_str(hd, "value");

		if (!header_safe(n) || !*n || strchr(n, ':') || !header_safe(v ? v : "")) {
			gt_buf_release(&req);
			return fail(res, -EINVAL, "httpGet.httpHeaders[%zu]: Invalid value", i);
		}
		gt_buf_addf(&req, "%s: %s\r\n", n, v ? v : "");
	}
	gt_buf_adds(&req, "Connection: close\r\n\r\n");

	c.fd = dial(host, port, deadline, why, sizeof(why));
	if (c.fd < 0) {
		gt_buf_release(&req);
		if (!strcmp(why, "i/o timeout"))
			return fail(res, 0, "Get \"%s\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", url);
		return fail(res, 0, "Get \"%s\": dial tcp %s: %s", url, hostport, why);
	}
	rc = tls ? tls_start(&c, host, why, sizeof(why)) : 0;
	if (rc == 0)
		rc = conn_write(&c, req.data, req.len);
	gt_buf_init(&resp);
	while (rc == 0 && !memchr(resp.data, '\n', resp.len) && resp.len < 8192) {
		char chunk[1024];
		ssize_t r = conn_read(&c, chunk, sizeof(chunk));

		if (r < 0)
			rc = (int)r;
		else if (r == 0)
			break;
		else
			gt_buf_add(&resp, chunk, (size_t)r);
	}
	conn_close(&c);
	gt_buf_release(&req);
	if (rc == -ETIMEDOUT) {
		rc = fail(res, 0, "Get \"%s\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", url);
	} else if (rc == -EPROTO) {
		rc = fail(res, 0, "Get \"%s\": %s", url, why);
	} else if (rc < 0) {
		rc = fail(res, 0, "Get \"%s\": read: connection reset by peer", url);
	} else if (sscanf(resp.data, "HTTP/%*d.%*d %3d", &code) != 1 || code < 100) {
		rc = fail(res, 0, "Get \"%s\": malformed HTTP response", url);
	} else if (code < 200 || code >= 400) {
		rc = fail(res, 0, "HTTP probe failed with statuscode: %d", code);
	} else {
		res->ok = true;
		rc = 0;
	}
	gt_buf_release(&resp);
	return rc;
}

static int tcp_socket(const json_t *h, const char *pod_ip, int64_t deadline,
		      struct gt_probe_result *res)
{
	const char *host = gt_json_str(h, "host");
	char hostport[300], why[256] = "";
	int port, rc, fd;

	if (!host || !*host)
		host = pod_ip;
	if (!host || !*host)
		return fail(res, -EINVAL, "tcpSocket: no host and no pod IP");
	rc = handler_port(h, "tcpSocket", &port, res);
	if (rc < 0)
		return rc;
	join_host_port(host, port, hostport, sizeof(hostport));
	fd = dial(host, port, deadline, why, sizeof(why));
	if (fd < 0)
		return fail(res, 0, "dial tcp %s: %s", hostport, why);
	close(fd);
	res->ok = true;
	return 0;
}

static int exec_probe(const json_t *h, int timeout_s, gt_probe_exec_fn fn, void *ctx,
		      struct gt_probe_result *res)
{
	json_t *cmd = json_object_get(h, "command"), *a;
	struct gt_buf out = GT_BUF_INIT, joined = GT_BUF_INIT;
	size_t n = json_array_size(cmd), i;
	char **argv;
	int code = -1, rc;

	if (!n)
		return fail(res, -EINVAL, "exec.command: Required value");
	argv = xcalloc(n + 1, sizeof(*argv));
	gt_buf_init(&joined);
	json_array_foreach(cmd, i, a) {
		if (!json_is_string(a)) {
			free(argv);
			gt_buf_release(&joined);
			return fail(res, -EINVAL, "exec.command[%zu]: must be a string", i);
		}
		argv[i] = (char *)json_string_value(a);
		gt_buf_addf(&joined, "%s%s", i ? " " : "", argv[i]);
	}
	if (!fn) {
		rc = fail(res, 0, "exec probes are not available");
		goto done;
	}
	gt_buf_init(&out);
	rc = fn(ctx, argv, timeout_s, &code, &out);
	while (out.len && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == '\r'))
		out.data[--out.len] = '\0';
	if (rc == -ETIMEDOUT)
		rc = fail(res, 0, "command \"%s\" timed out", joined.data);
	else if (rc < 0)
		rc = fail(res, 0, "command \"%s\" failed to run: %s", joined.data, strerror(-rc));
	else if (code != 0 && out.len)
		rc = fail(res, 0, "%s", out.data);
	else if (code != 0)
		rc = fail(res, 0, "command \"%s\" exited with %d", joined.data, code);
	else {
		res->ok = true;
		snprintf(res->message, sizeof(res->message), "%s", out.data);
		rc = 0;
	}
	gt_buf_release(&out);
done:
	gt_buf_release(&joined);
	free(argv);
	return rc;
}

int gt_probe_run(const json_t *probe, const char *pod_ip, gt_probe_exec_fn exec_fn, void *exec_ctx,
		 struct gt_probe_result *res)
{
	int64_t t = 1, deadline;
	json_t *h;

	res->ok = false;
	res->message[0] = '\0';
	if (gt_json_int(probe, "timeoutSeconds", &t) < 0 || t < 1)
		t = 1;
	if (t > 3600)
		t = 3600;
	deadline = gt_now_ms() + t * 1000;
	if ((h = json_object_get(probe, "exec")))
		return exec_probe(h, (int)t, exec_fn, exec_ctx, res);
	if ((h = json_object_get(probe, "httpGet")))
		return http_get(h, pod_ip, deadline, res);
	if ((h = json_object_get(probe, "tcpSocket")))
		return tcp_socket(h, pod_ip, deadline, res);
	if (json_object_get(probe, "grpc"))
		return fail(res, 0, "grpc probes are not supported by Gantry");
	return fail(res, -EINVAL, "probe: must specify a handler type");
}
