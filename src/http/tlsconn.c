/*
 * tlsconn.c - the blocking client stream of tlsconn.h: getaddrinfo + a
 * connect with a time limit, then GnuTLS with default priorities, the
 * given trust anchors and gnutls_session_set_verify_cert (which matches
 * IP literals against iPAddress SANs and names against DNS SANs).  A small
 * read-ahead buffer holds what gt_tlsconn_read_head read past the head.
 * GnuTLS reads and writes the socket through http/tlsio.h (a read-ahead
 * and gathered bulk writes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "http/chanframe.h"
#include "http/tlsconn.h"
#include "http/tlsio.h"

struct gt_tlsconn {
	int fd;
	gnutls_session_t session;              /* NULL for plain TCP */
	gnutls_certificate_credentials_t cred;
	char authority[300];
	struct gt_buf ahead;                   /* read past the head */
	size_t ahead_pos;
	struct gt_tlsio io;                    /* the session's transport */
};

int gt_url_split(const char *url, bool *tls, char *host, size_t hostsz, char *port,
		 size_t portsz, struct gt_err *err)
{
	const char *p, *end, *colon = NULL;
	size_t hl;

	if (!strncmp(url, "https://", 8)) {
		*tls = true;
		p = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		*tls = false;
		p = url + 7;
	} else {
		return gt_err_set(err, -EINVAL, "server \"%s\": must start with https:// or http://",
				  url);
	}
	end = p + strcspn(p, "/?#");
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (!rb)
			return gt_err_set(err, -EINVAL, "server \"%s\": unclosed [", url);
		hl = (size_t)(rb - p - 1);
		if (hl == 0 || hl >= hostsz)
			return gt_err_set(err, -EINVAL, "server \"%s\": bad host", url);
		memcpy(host, p + 1, hl);
		host[hl] = '\0';
		if (rb + 1 < end && rb[1] == ':')
			colon = rb + 1;
		else if (rb + 1 != end)
			return gt_err_set(err, -EINVAL, "server \"%s\": bad host", url);
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		hl = (size_t)((colon ? colon : end) - p);
		if (hl == 0 || hl >= hostsz)
			return gt_err_set(err, -EINVAL, "server \"%s\": bad host", url);
		memcpy(host, p, hl);
		host[hl] = '\0';
	}
	if (colon) {
		size_t pl = (size_t)(end - colon - 1);

		if (pl == 0 || pl >= portsz || strspn(colon + 1, "0123456789") < pl)
			return gt_err_set(err, -EINVAL, "server \"%s\": bad port", url);
		memcpy(port, colon + 1, pl);
		port[pl] = '\0';
	} else {
		snprintf(port, portsz, "%s", *tls ? "443" : "80");
	}
	return 0;
}

static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int fl = fcntl(fd, F_GETFL), soerr = 0;
	socklen_t sl = sizeof(soerr);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int r;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		do
			r = poll(&pfd, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return -errno;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -errno;
		if (soerr)
			return -soerr;
	}
	fcntl(fd, F_SETFL, fl);
	return 0;
}

static int tcp_connect(const char *host, const char *port, int timeout_ms, struct gt_err *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int fd = -1, r, last = -ECONNREFUSED;

	r = getaddrinfo(host, port, &hints, &res);
	if (r)
		return gt_err_set(err, -EHOSTUNREACH, "%s:%s: %s", host, port, gai_strerror(r));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			last = -errno;
			continue;
		}
		if ((r = connect_timeout(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms)) == 0)
			break;
		last = r;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return gt_err_set(err, last, "connect %s:%s: %s", host, port, strerror(-last));
	r = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &r, sizeof(r));
	return fd;
}

static int tls_start(struct gt_tlsconn *c, const char *host, const struct gt_tlsconn_opts *o,
		     int timeout_ms, struct gt_err *err)
{
	unsigned char ipbuf[16];
	bool is_ip = inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1;
	int r;

	if (gnutls_certificate_allocate_credentials(&c->cred) < 0)
		return gt_err_set(err, -ENOMEM, "TLS: out of memory");
	if (o->ca_pem) {
		gnutls_datum_t d = { .data = (unsigned char *)o->ca_pem,
				     .size = (unsigned)strlen(o->ca_pem) };

		r = gnutls_certificate_set_x509_trust_mem(c->cred, &d, GNUTLS_X509_FMT_PEM);
	} else if (o->ca_file) {
		r = gnutls_certificate_set_x509_trust_file(c->cred, o->ca_file, GNUTLS_X509_FMT_PEM);
	} else {
		r = gnutls_certificate_set_x509_system_trust(c->cred);
	}
	if (r < 0 || (r == 0 && !o->insecure))
		return gt_err_set(err, -EPROTO, "TLS: no usable CA certificate%s%s",
				  r < 0 ? ": " : "", r < 0 ? gnutls_strerror(r) : "");
	if (gnutls_init(&c->session, GNUTLS_CLIENT) < 0) {
		c->session = NULL;
		return gt_err_set(err, -ENOMEM, "TLS: out of memory");
	}
	gnutls_set_default_priority(c->session);
	gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, c->cred);
	if (!is_ip)
		gnutls_server_name_set(c->session, GNUTLS_NAME_DNS, host, strlen(host));
	if (!o->insecure)
		gnutls_session_set_verify_cert(c->session, host, 0);
	gt_tlsio_attach(&c->io, c->session, c->fd);
	gnutls_handshake_set_timeout(c->session, (unsigned)timeout_ms);
	do
		r = gnutls_handshake(c->session);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			gnutls_datum_t why = { 0 };
			unsigned st = gnutls_session_get_verify_cert_status(c->session);

			gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &why, 0);
			gt_err_set(err, -EPROTO, "TLS: certificate of %s: %s", host,
				   why.data ? (char *)why.data : "verification failed");
			gnutls_free(why.data);
			return -EPROTO;
		}
		return gt_err_set(err, r == GNUTLS_E_TIMEDOUT ? -ETIMEDOUT : -EPROTO,
				  "TLS handshake with %s: %s", host, gnutls_strerror(r));
	}
	return 0;
}

int gt_tlsconn_dial(const char *url, const struct gt_tlsconn_opts *opts,
		    struct gt_tlsconn **out, struct gt_err *err)
{
	struct gt_tlsconn_opts none = { 0 };
	struct gt_tlsconn *c;
	char host[256], port[16];
	bool tls = false;
	int r, ms;

	if (!opts)
		opts = &none;
	if (!url)
		return gt_err_set(err, -EINVAL, "server: required");
	if ((r = gt_url_split(url, &tls, host, sizeof(host), port, sizeof(port), err)) < 0)
		return r;
	ms = (opts->timeout_s > 0 ? opts->timeout_s : 30) * 1000;
	c = xcalloc(1, sizeof(*c));
	gt_buf_init(&c->ahead);
	if (strchr(host, ':'))
		snprintf(c->authority, sizeof(c->authority), "[%s]:%s", host, port);
	else
		snprintf(c->authority, sizeof(c->authority), "%s:%s", host, port);
	if ((c->fd = tcp_connect(host, port, ms, err)) < 0) {
		r = c->fd;
		c->fd = -1;
		gt_tlsconn_close(c);
		return r;
	}
	if (tls && (r = tls_start(c, host, opts, ms, err)) < 0) {
		gt_tlsconn_close(c);
		return r;
	}
	*out = c;
	return 0;
}

const char *gt_tlsconn_authority(const struct gt_tlsconn *c)
{
	return c->authority;
}

static ssize_t raw_read(struct gt_tlsconn *c, void *buf, size_t n)
{
	ssize_t r;

	if (!c->session) {
		do
			r = read(c->fd, buf, n);
		while (r < 0 && errno == EINTR);
		return r < 0 ? -errno : r;
	}
	return gt_tlsio_read(&c->io, buf, n);
}

ssize_t gt_tlsconn_read(void *ctx, void *buf, size_t n)
{
	struct gt_tlsconn *c = ctx;

	if (c->ahead_pos < c->ahead.len) {
		size_t k = c->ahead.len - c->ahead_pos;

		if (k > n)
			k = n;
		memcpy(buf, c->ahead.data + c->ahead_pos, k);
		c->ahead_pos += k;
		return (ssize_t)k;
	}
	return raw_read(c, buf, n);
}

int gt_tlsconn_write(void *ctx, const void *buf, size_t n)
{
	struct gt_tlsconn *c = ctx;
	struct iovec v = { (void *)buf, n };

	if (c->session)
		return gt_tlsio_write(&c->io, buf, n);
	return n ? gt_writev_all(c->fd, &v, 1) : 0;
}

int gt_tlsconn_read_head(struct gt_tlsconn *c, struct gt_buf *head, size_t max,
			 struct gt_err *err)
{
	char buf[4096];
	char *end;
	ssize_t r;

	gt_buf_reset(head);
	/* what is left from an earlier head comes first */
	gt_buf_add(head, c->ahead.data + c->ahead_pos, c->ahead.len - c->ahead_pos);
	gt_buf_reset(&c->ahead);
	c->ahead_pos = 0;
	while (!(end = strstr(head->data, "\r\n\r\n"))) {
		if (head->len > max)
			return gt_err_set(err, -E2BIG, "HTTP response head over %zu bytes", max);
		r = raw_read(c, buf, sizeof(buf));
		if (r == 0)
			return gt_err_set(err, -ECONNRESET, "connection closed before the response");
		if (r < 0)
			return gt_err_set(err, (int)r, "reading the response: %s", strerror((int)-r));
		if (memchr(buf, '\0', (size_t)r))
			return gt_err_set(err, -EPROTO, "NUL byte in the HTTP response head");
		gt_buf_add(head, buf, (size_t)r);
	}
	end += 4;
	gt_buf_add(&c->ahead, end, head->len - (size_t)(end - head->data));
	head->len = (size_t)(end - head->data);
	head->data[head->len] = '\0';
	return 0;
}

void gt_tlsconn_shutdown(struct gt_tlsconn *c)
{
	if (c && c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
}

void gt_tlsconn_close(struct gt_tlsconn *c)
{
	if (!c)
		return;
	if (c->session) {
		gnutls_bye(c->session, GNUTLS_SHUT_WR);
		gt_tlsio_detach(&c->io);
		gnutls_deinit(c->session);
	}
	if (c->cred)
		gnutls_certificate_free_credentials(c->cred);
	if (c->fd >= 0)
		close(c->fd);
	gt_buf_release(&c->ahead);
	free(c);
}

/* ---- response heads ---- */

int gt_http_head_status(const char *head)
{
	int status = 0, n = 0;

	if (sscanf(head, "HTTP/1.%*1[01] %3d%n", &status, &n) != 1 || n != 12 || status < 100 ||
	    (head[12] && head[12] != ' ' && head[12] != '\r'))
		return -EPROTO;
	return status;
}

const char *gt_http_head_value(const char *head, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);

	if (!outsz)
		return NULL;
	for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *end = strstr(line, "\r\n"), *v;
		size_t vl;

		if (!end || end == line)
			break;
		if (strncasecmp(line, name, nl) || line[nl] != ':')
			continue;
		for (v = line + nl + 1; *v == ' ' || *v == '\t'; v++)
			;
		vl = (size_t)(end - v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (vl >= outsz)
			vl = outsz - 1;
		memcpy(out, v, vl);
		out[vl] = '\0';
		return out;
	}
	return NULL;
}
