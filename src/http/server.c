/*
 * server.c - the HTTP(S) server behind server.h, over libmicrohttpd 0.9.75
 * (thread per connection, poll(), optional GnuTLS).
 *
 * Request life: MHD's URI-log callback (called first, with the raw request
 * target) allocates the struct gt_http_req, so the query string is parsed
 * here from the raw bytes ('+' is a space, which MHD's own argument
 * unescaping does not do; repeated parameters keep their order).  The
 * access callback collects headers, accumulates the body up to max_body,
 * then calls the handler once; MHD's completion callback frees the request
 * (and a stream's context).  With a URI-log callback installed, MHD calls
 * the completion callback on every path, errors included, so nothing
 * leaks.
 *
 * Streams: the response headers must reach the client before the first
 * body byte (a watch may be silent for minutes).  libmicrohttpd 0.9.75
 * does that for callback responses: strace shows the header block sent
 * without MSG_MORE and TCP_NODELAY set right after, before the content
 * callback runs (the unit test checks time-to-headers, plain and TLS).  We
 * set TCP_NODELAY once more before the first callback: one syscall per
 * stream, so a libmicrohttpd that corks headers still pushes them out
 * (Linux: setting TCP_NODELAY pushes pending frames, cork or not).  The
 * connection timeout is switched off for the stream (MHD checks it after
 * the callback returns, so a watch silent for minutes would be cut), and
 * put back when the stream ends.
 *
 * Upgrades: MHD hands over the socket (over TLS, one end of a socket pair
 * that MHD's connection thread forwards through GnuTLS, so that thread
 * must not be blocked): the session runs on a thread of its own; the
 * server keeps a list of live sessions so gt_http_stop can wake them and
 * wait before MHD frees their handles.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "http/chanframe.h"
#include "http/tlsio.h"

#define DEFAULT_MAX_BODY ((size_t)3 << 20)
#ifndef GT_HTTP_IDLE_TIMEOUT_S    /* idle keep-alive connections; tests lower it */
#define GT_HTTP_IDLE_TIMEOUT_S 120u
#endif
#define IDLE_TIMEOUT_S ((unsigned int)(GT_HTTP_IDLE_TIMEOUT_S))
#define CONN_LIMIT 4096u
#define LISTEN_BACKLOG 1024u
#define CONN_MEMORY ((size_t)64 << 10) /* request line + headers, write buffer */
/* Thread stacks are reserved, not committed: the size bounds the handler's
 * depth (JSON recursion) more than memory.  Sanitizers need more. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define THREAD_STACK ((size_t)2 << 20)
#else
#define THREAD_STACK ((size_t)512 << 10)
#endif

/* TLS 1.2 and 1.3, AEAD ciphers, ECDHE only: what Go's crypto/tls and
 * Python's ssl negotiate by default. */
static const char tls_priorities[] =
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"
	"-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE";

struct kv {
	char *name;
	char *value;
};

struct kvlist {
	struct kv *v;
	size_t n, cap;
};

struct gt_http_server {
	struct MHD_Daemon *d;
	gt_http_handler handler;
	void *ctx;
	size_t max_body;
	int port;
	pthread_mutex_t lock;        /* guards the fields below */
	pthread_cond_t idle;         /* signalled when a session ends */
	bool stopping;
	bool tls;                    /* HTTPS: upgrades run on the TLS session directly */
	struct gt_http_upgraded *ups; /* live upgraded sessions */
};

struct gt_http_upgraded {
	struct gt_http_server *srv;
	gt_http_upgrade_fn fn;
	void *ctx;
	void (*free_ctx)(void *);
	struct MHD_UpgradeResponseHandle *urh;
	int fd;
	char *extra;                 /* bytes read past the request headers */
	size_t extra_len, extra_off;
	gnutls_session_t tls;        /* direct TLS session (see run_direct), or NULL */
	struct gt_tlsio io;          /* its transport while run_direct runs */
	int status;                  /* the 101 (or other) status to answer with */
	pthread_mutex_t wlock;       /* one gnutls writer at a time */
	struct gt_http_upgraded *prev, *next;
};

struct gt_http_req {
	struct gt_http_server *srv;
	struct MHD_Connection *conn;
	char *raw_uri;
	char *method;
	char *path;
	struct kvlist query, headers, out_headers;
	struct gt_buf body;
	bool started, too_big, in_handler, replied, queue_failed;
	char peer[INET6_ADDRSTRLEN + 8];
	gt_http_stream_fn sfn;
	void *sctx;
	void (*sfree)(void *);
	bool pushed;                 /* headers pushed out (streams) */
	struct gt_http_upgraded *up; /* pending upgrade, until MHD takes it */
};

/* ---- logging ---- */

static __thread char last_log[256];

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	size_t n;

	(void)cls;
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	n = strlen(last_log);
	while (n && (last_log[n - 1] == '\n' || last_log[n - 1] == '\r'))
		last_log[--n] = '\0';
	gt_debug("http: %s", last_log);
}

/* ---- decoding ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes [s, s+n) into a new string; plus_space turns '+' into
 * ' ' (query strings).  Invalid escapes and %00 stay as they are, so the
 * result never has an embedded NUL that would cut a path short.
 */
static char *decode(const char *s, size_t n, bool plus_space)
{
	char *out = xmalloc(n + 1), *o = out;
	size_t i;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0 && (hi | lo)) {
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus_space && s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static void kv_add(struct kvlist *l, char *name, char *value)
{
	gt_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n].name = name;
	l->v[l->n].value = value;
	l->n++;
}

static void kv_release(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* Splits the raw request target into the decoded path and query list. */
static void parse_target(struct gt_http_req *r)
{
	const char *u = r->raw_uri, *q, *p, *end;

	/* absolute-form ("http://host/path"), which proxies send */
	if (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8)) {
		const char *slash = strchr(strstr(u, "//") + 2, '/');

		u = slash ? slash : "/";
	}
	q = strchr(u, '?');
	r->path = decode(u, q ? (size_t)(q - u) : strlen(u), false);
	if (!q)
		return;
	for (p = q + 1; *p; p = *end ? end + 1 : end) {
		const char *eq;

		end = strchr(p, '&');
		if (!end)
			end = p + strlen(p);
		if (end == p)
			continue;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq)
			kv_add(&r->query, decode(p, (size_t)(eq - p), true),
			       decode(eq + 1, (size_t)(end - eq - 1), true));
		else
			kv_add(&r->query, decode(p, (size_t)(end - p), true), xstrdup(""));
	}
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
				      const char *key, const char *value)
{
	struct gt_http_req *r = cls;

	(void)kind;
	kv_add(&r->headers, xstrdup(key), xstrdup(value ? value : ""));
	return MHD_YES;
}

static void format_peer(struct gt_http_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char ip[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(r->peer, sizeof(r->peer), "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(r->peer, sizeof(r->peer), "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(r->peer, sizeof(r->peer), "?");
	}
}

/* ---- request lifecycle ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct gt_http_req *r = xcalloc(1, sizeof(*r));

	r->srv = cls;
	r->conn = conn;
	r->raw_uri = xstrdup(uri ? uri : "/");
	gt_buf_init(&r->body);
	return r;
}

static void upgraded_free(struct gt_http_upgraded *u)
{
	if (u->free_ctx)
		u->free_ctx(u->ctx);
	pthread_mutex_destroy(&u->wlock);
	free(u->extra);
	free(u);
}

static void req_free(struct gt_http_req *r)
{
	if (!r)
		return;
	if (r->sfree)
		r->sfree(r->sctx);
	if (r->up) /* an upgrade that never happened */
		upgraded_free(r->up);
	free(r->raw_uri);
	free(r->method);
	free(r->path);
	kv_release(&r->query);
	kv_release(&r->headers);
	kv_release(&r->out_headers);
	gt_buf_release(&r->body);
	free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		gt_debug("http: request ended early (MHD code %d)", (int)toe);
	req_free(*con_cls);
	*con_cls = NULL;
}

static int reply_status(struct gt_http_req *r, int code, const char *reason,
			const char *msg)
{
	char body[512];
	int n = snprintf(body, sizeof(body),
			 "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
			 "\"status\":\"Failure\",\"message\":\"%s\",\"reason\":\"%s\","
			 "\"code\":%d}\n", msg, reason, code);

	return gt_http_reply(r, code, "application/json", body, (size_t)n);
}

static void reply_too_big(struct gt_http_req *r)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "Request entity too large: limit is %zu",
		 r->srv->max_body);
	reply_status(r, 413, "RequestEntityTooLarge", msg);
}

static void call_handler(struct gt_http_req *r)
{
	struct gt_http_server *s = r->srv;

	r->in_handler = true;
	s->handler(r, s->ctx);
	r->in_handler = false;
	if (!r->replied) {
		gt_debug("http: handler sent no reply for %s %s", r->method, r->path);
		r->in_handler = true;
		reply_status(r, 500, "InternalError", "no response from handler");
		r->in_handler = false;
	}
	/* A handler slower than the idle timeout is fine: MHD sends the
	 * reply before it looks at the clock (tested with a 1 s timeout). */
}

static void session_register(struct gt_http_server *s, struct gt_http_upgraded *u);
static void session_unregister(struct gt_http_server *s, struct gt_http_upgraded *u);

/*
 * An upgrade over TLS, run on the connection's own thread inside the access
 * callback (MHD runs one thread per connection and does not touch the
 * connection meanwhile): the status line and headers go out on the TLS
 * session, and the session reads and writes it directly.  MHD's own upgrade
 * relays TLS through a socketpair with the buffers its connection memory
 * pool has left, which in libmicrohttpd 0.9.75 is its 8-byte emergency
 * buffer: 4 bytes per TLS record, under 1 MB/s.
 */
static void run_direct(struct gt_http_req *r)
{
	struct gt_http_upgraded *u = r->up;
	struct gt_http_server *s = r->srv;
	const union MHD_ConnectionInfo *ti =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const union MHD_ConnectionInfo *fi =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct gt_buf head = GT_BUF_INIT;
	bool has_conn = false;
	int fl, one = 1;

	r->up = NULL; /* ours now */
	if (!ti || !fi || !ti->tls_session) {
		gt_debug("http: no TLS session for the upgrade of %s", r->path);
		upgraded_free(u);
		return;
	}
	u->tls = (gnutls_session_t)ti->tls_session;
	u->fd = fi->connect_fd;
	fl = fcntl(u->fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(u->fd, F_SETFL, fl & ~O_NONBLOCK);
	gt_tlsio_attach(&u->io, u->tls, u->fd);
	setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	gt_buf_init(&head);
	gt_buf_addf(&head, "HTTP/1.1 %d %s\r\n", u->status,
		    u->status == 101 ? "Switching Protocols" : "OK");
	for (size_t i = 0; i < r->out_headers.n; i++) {
		has_conn |= !strcasecmp(r->out_headers.v[i].name, "Connection");
		gt_buf_addf(&head, "%s: %s\r\n", r->out_headers.v[i].name, r->out_headers.v[i].value);
	}
	if (!has_conn)
		gt_buf_adds(&head, "Connection: Upgrade\r\n");
	gt_buf_adds(&head, "\r\n");
	session_register(s, u);
	if (!s->stopping && gt_http_upgraded_write(u, head.data, head.len) == 0)
		u->fn(u->ctx, u);
	gt_buf_release(&head);
	if (u->free_ctx)
		u->free_ctx(u->ctx);
	u->free_ctx = NULL;
	/* MHD closes the connection (it expects its socket non-blocking) */
	gt_tlsio_detach(&u->io);
	if (fl >= 0)
		fcntl(u->fd, F_SETFL, fl);
	session_unregister(s, u);
	upgraded_free(u);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
				 const char *url, const char *method,
				 const char *version, const char *upload,
				 size_t *upload_size, void **con_cls)
{
	struct gt_http_req *r = *con_cls;

	(void)version;
	if (!r) /* the URI-log callback always runs first; be safe anyway */
		r = *con_cls = on_uri(cls, url, conn);
	if (!r->started) {
		const char *cl;
		int64_t len;

		r->started = true;
		r->conn = conn;
		r->method = xstrdup(method);
		parse_target(r);
		MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, r);
		format_peer(r);
		cl = gt_http_header(r, "Content-Length");
		if (cl && !gt_parse_i64(cl, &len) && len > 0 &&
		    (uint64_t)len > r->srv->max_body) {
			/* Refuse before the upload (no 100 Continue goes out);
			 * MHD closes the connection after the reply. */
			r->in_handler = true;
			reply_too_big(r);
			r->in_handler = false;
		}
		return r->queue_failed ? MHD_NO : MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big && r->body.len + *upload_size > r->srv->max_body) {
			/* chunked upload: keep reading, drop the bytes */
			r->too_big = true;
			gt_buf_release(&r->body);
			gt_buf_init(&r->body);
		}
		if (!r->too_big)
			gt_buf_add(&r->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->replied)
		return MHD_YES;
	if (r->too_big) {
		r->in_handler = true;
		reply_too_big(r);
		r->in_handler = false;
	} else {
		call_handler(r);
		if (r->up && r->srv->tls) {
			run_direct(r);
			return MHD_NO; /* the stream is over: MHD closes the connection */
		}
	}
	return r->queue_failed ? MHD_NO : MHD_YES;
}

/* ---- start / stop ---- */

static int parse_bind(const char *bind, int port, struct sockaddr_storage *ss,
		      unsigned int *flags, struct gt_err *err)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (port < 0 || port > 65535)
		return gt_err_set(err, -EINVAL, "http: port %d out of range", port);
	if (inet_pton(AF_INET, bind, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, bind, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*flags |= IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) ?
			MHD_USE_DUAL_STACK : MHD_USE_IPv6;
		return 0;
	}
	return gt_err_set(err, -EINVAL, "http: bind address \"%s\" is not an IP literal",
			  bind);
}

int gt_http_start(const struct gt_http_config *cfg, struct gt_http_server **out,
		  struct gt_err *err)
{
	const char *bind = cfg->bind ? cfg->bind : "0.0.0.0";
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			     MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
	struct MHD_OptionItem opts[16];
	const union MHD_DaemonInfo *di;
	struct gt_http_server *s;
	struct sockaddr_storage ss;
	size_t n = 0;
	int rc, e;

	*out = NULL;
	if (!cfg->handler)
		return gt_err_set(err, -EINVAL, "http: no handler");
	if (!cfg->cert_pem != !cfg->key_pem)
		return gt_err_set(err, -EINVAL, "http: TLS needs both a certificate and a key");
	rc = parse_bind(bind, cfg->port, &ss, &flags, err);
	if (rc < 0)
		return rc;

	s = xcalloc(1, sizeof(*s));
	s->handler = cfg->handler;
	s->ctx = cfg->ctx;
	s->max_body = cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);

#define OPT(o, v, p) (opts[n++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (p) })
	OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL); /* first, or MHD complains */
	OPT(MHD_OPTION_SOCK_ADDR, 0, &ss);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, NULL);
	OPT(MHD_OPTION_LISTEN_BACKLOG_SIZE, LISTEN_BACKLOG, NULL);
	OPT(MHD_OPTION_THREAD_STACK_SIZE, THREAD_STACK, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY, NULL);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, s);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, s);
	if (cfg->cert_pem) {
		flags |= MHD_USE_TLS;
		s->tls = true;
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->key_pem);
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->cert_pem);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_priorities);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT

	last_log[0] = '\0';
	errno = 0;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
				MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	e = errno;
	if (!s->d) {
		pthread_cond_destroy(&s->idle);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return gt_err_set(err, e == EADDRINUSE || e == EACCES || e == EADDRNOTAVAIL ?
				  -e : -EIO, "http: cannot serve on %s port %d: %s",
				  bind, cfg->port, last_log[0] ? last_log : "start failed");
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di && di->port ? di->port : cfg->port;
	*out = s;
	return 0;
}

int gt_http_port(const struct gt_http_server *s)
{
	return s->port;
}

void gt_http_stop(struct gt_http_server *s)
{
	if (!s)
		return;
	/* Upgraded sessions hold MHD handles that MHD_stop_daemon frees:
	 * wake them (their reads fail) and wait until every one is closed. */
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	for (struct gt_http_upgraded *u = s->ups; u; u = u->next)
		shutdown(u->fd, SHUT_RDWR);
	while (s->ups)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	MHD_stop_daemon(s->d);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- request accessors ---- */

const char *gt_http_method(const struct gt_http_req *r)
{
	return r->method;
}

const char *gt_http_path(const struct gt_http_req *r)
{
	return r->path;
}

static size_t kv_find(const struct kvlist *l, const char *name, bool nocase,
		      const char **vals, size_t max)
{
	size_t found = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (nocase ? strcasecmp(l->v[i].name, name) : strcmp(l->v[i].name, name))
			continue;
		if (found < max)
			vals[found] = l->v[i].value;
		found++;
	}
	return found < max ? found : max;
}

const char *gt_http_query(const struct gt_http_req *r, const char *name)
{
	const char *v = NULL;

	return kv_find(&r->query, name, false, &v, 1) ? v : NULL;
}

size_t gt_http_query_all(const struct gt_http_req *r, const char *name,
			 const char **vals, size_t max)
{
	return kv_find(&r->query, name, false, vals, max);
}

const char *gt_http_header(const struct gt_http_req *r, const char *name)
{
	const char *v = NULL;

	return kv_find(&r->headers, name, true, &v, 1) ? v : NULL;
}

size_t gt_http_header_all(const struct gt_http_req *r, const char *name,
			  const char **vals, size_t max)
{
	return kv_find(&r->headers, name, true, vals, max);
}

const char *gt_http_body(const struct gt_http_req *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return r->body.data;
}

const char *gt_http_peer(const struct gt_http_req *r)
{
	return r->peer;
}

bool gt_http_peer_closed(const struct gt_http_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd p;

	if (!ci)
		return true;
	p.fd = ci->connect_fd;
	p.events = POLLRDHUP;
	p.revents = 0;
	if (poll(&p, 1, 0) < 0)
		return false;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

/* ---- replies ---- */

void gt_http_add_header(struct gt_http_req *r, const char *name, const char *value)
{
	kv_add(&r->out_headers, xstrdup(name), xstrdup(value));
}

static int queue(struct gt_http_req *r, int status, const char *ctype,
		 struct MHD_Response *resp)
{
	enum MHD_Result ok;

	if (!resp) {
		r->queue_failed = true;
		return -ENOMEM;
	}
	if (ctype && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES)
		gt_debug("http: bad Content-Type %s", ctype);
	for (size_t i = 0; i < r->out_headers.n; i++)
		if (MHD_add_response_header(resp, r->out_headers.v[i].name,
					    r->out_headers.v[i].value) != MHD_YES)
			gt_debug("http: header %s refused", r->out_headers.v[i].name);
	ok = MHD_queue_response(r->conn, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	if (ok != MHD_YES) {
		gt_debug("http: cannot queue %d reply for %s", status, r->path);
		r->queue_failed = true;
		return -EIO;
	}
	return 0;
}

static int may_reply(struct gt_http_req *r)
{
	if (r->replied)
		return -EALREADY;
	if (!r->in_handler)
		return -EPERM;
	r->replied = true;
	return 0;
}

int gt_http_reply(struct gt_http_req *r, int status, const char *ctype,
		  const void *body, size_t len)
{
	int rc = may_reply(r);

	if (rc < 0)
		return rc;
	return queue(r, status, ctype,
		     MHD_create_response_from_buffer(len, (void *)(len ? body : ""),
						     MHD_RESPMEM_MUST_COPY));
}

int gt_http_reply_take(struct gt_http_req *r, int status, const char *ctype,
		       char *body, size_t len)
{
	struct MHD_Response *resp;
	int rc = may_reply(r);

	if (rc < 0) {
		free(body);
		return rc;
	}
	resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
	if (!resp)
		free(body);
	return queue(r, status, ctype, resp);
}

/* Pushes anything left corked (the headers) onto the wire; see top. */
static void push_out(struct gt_http_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int one = 1;

	if (ci && setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		gt_debug("http: TCP_NODELAY: %s", strerror(errno));
}

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct gt_http_req *r = cls;
	ssize_t n;

	(void)pos;
	if (!r->pushed) {
		r->pushed = true;
		push_out(r);
	}
	n = r->sfn(r->sctx, buf, max);
	if (n >= 0 && (size_t)n <= max)
		return n; /* 0 makes MHD call again at once: fn should block instead */
	/* the stream is over: the connection idles again under the timeout */
	MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, IDLE_TIMEOUT_S);
	if (n >= 0) {
		gt_debug("http: stream callback overran its buffer, closing");
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return MHD_CONTENT_READER_END_OF_STREAM;
}

int gt_http_reply_stream(struct gt_http_req *r, int status, const char *ctype,
			 gt_http_stream_fn fn, void *ctx, void (*free_ctx)(void *))
{
	int rc = may_reply(r);

	if (rc < 0) {
		if (free_ctx)
			free_ctx(ctx);
		return rc;
	}
	/* from here on req_free() owns ctx */
	r->sfn = fn;
	r->sctx = ctx;
	r->sfree = free_ctx;
	MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	return queue(r, status, ctype,
		     MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 << 10,
						       stream_cb, r, NULL));
}

/* ---- upgrades ---- */

/* Lists u among the live sessions (gt_http_stop wakes and waits for them). */
static void ups_link_locked(struct gt_http_server *s, struct gt_http_upgraded *u)
{
	u->prev = NULL;
	u->next = s->ups;
	if (s->ups)
		s->ups->prev = u;
	s->ups = u;
}

/* Unlinks u and wakes gt_http_stop (which waits for an empty list). */
static void ups_unlink_locked(struct gt_http_server *s, struct gt_http_upgraded *u)
{
	if (u->prev)
		u->prev->next = u->next;
	else
		s->ups = u->next;
	if (u->next)
		u->next->prev = u->prev;
	pthread_cond_broadcast(&s->idle);
}

static void session_register(struct gt_http_server *s, struct gt_http_upgraded *u)
{
	pthread_mutex_lock(&s->lock);
	ups_link_locked(s, u);
	pthread_mutex_unlock(&s->lock);
}

static void session_unregister(struct gt_http_server *s, struct gt_http_upgraded *u)
{
	pthread_mutex_lock(&s->lock);
	ups_unlink_locked(s, u);
	pthread_mutex_unlock(&s->lock);
}

static void *session_main(void *arg)
{
	struct gt_http_upgraded *u = arg;
	struct gt_http_server *s = u->srv;

	u->fn(u->ctx, u);
	/* before leaving the list: gt_http_stop returns once it is empty,
	 * and by then every free_ctx must have run */
	if (u->free_ctx)
		u->free_ctx(u->ctx);
	u->free_ctx = NULL;
	/* Close under the lock: gt_http_stop may be calling shutdown() on
	 * u->fd, which must not be closed (and reused) meanwhile. */
	pthread_mutex_lock(&s->lock);
	MHD_upgrade_action(u->urh, MHD_UPGRADE_ACTION_CLOSE);
	ups_unlink_locked(s, u);
	pthread_mutex_unlock(&s->lock);
	upgraded_free(u);
	return NULL;
}

static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
			const char *extra, size_t extra_len, MHD_socket sock,
			struct MHD_UpgradeResponseHandle *urh)
{
	struct gt_http_upgraded *u = cls;
	struct gt_http_req *r = con_cls;
	struct gt_http_server *s = u->srv;
	pthread_attr_t attr;
	pthread_t tid;
	int rc, fl;

	(void)conn;
	/* From here on u belongs to this function and the session thread;
	 * the request (freed on this thread right after we return) lets go. */
	if (r && r->up == u)
		r->up = NULL;
	u->urh = urh;
	u->fd = sock;
	{
		int one = 1;

		/* streams are interactive */
		setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	/* MHD's sockets are non-blocking; the session wants blocking I/O */
	fl = fcntl(sock, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(sock, F_SETFL, fl & ~O_NONBLOCK);
	if (extra_len) {
		u->extra = xmalloc(extra_len);
		memcpy(u->extra, extra, extra_len);
		u->extra_len = extra_len;
	}
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		upgraded_free(u);
		return;
	}
	ups_link_locked(s, u);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, session_main, u);
	pthread_attr_destroy(&attr);
	if (rc) {
		gt_debug("http: cannot start upgrade thread: %s", strerror(rc));
		ups_unlink_locked(s, u);
		pthread_mutex_unlock(&s->lock);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		upgraded_free(u);
		return;
	}
	pthread_mutex_unlock(&s->lock);
}

int gt_http_reply_upgrade(struct gt_http_req *r, int status, gt_http_upgrade_fn fn,
			  void *ctx, void (*free_ctx)(void *))
{
	struct gt_http_upgraded *u;
	int rc = may_reply(r);

	if (rc < 0) {
		if (free_ctx)
			free_ctx(ctx);
		return rc;
	}
	u = xcalloc(1, sizeof(*u));
	u->srv = r->srv;
	u->fn = fn;
	u->ctx = ctx;
	u->free_ctx = free_ctx;
	u->fd = -1;
	u->status = status;
	pthread_mutex_init(&u->wlock, NULL);
	r->up = u; /* req_free() frees it unless on_upgraded or run_direct takes it */
	if (r->srv->tls)
		return 0; /* on_access runs it on this connection's thread (run_direct) */
	return queue(r, status, NULL, MHD_create_response_for_upgrade(on_upgraded, u));
}

ssize_t gt_http_upgraded_read(struct gt_http_upgraded *u, void *buf, size_t len)
{
	ssize_t n;

	if (u->extra_off < u->extra_len) {
		n = (ssize_t)(u->extra_len - u->extra_off < len ?
			      u->extra_len - u->extra_off : len);
		memcpy(buf, u->extra + u->extra_off, (size_t)n);
		u->extra_off += (size_t)n;
		return n;
	}
	if (u->tls)
		return gt_tlsio_read(&u->io, buf, len);
	do
		n = recv(u->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int gt_http_upgraded_write(struct gt_http_upgraded *u, const void *buf, size_t len)
{
	const char *p = buf;

	if (u->tls) {
		int rc;

		pthread_mutex_lock(&u->wlock);
		rc = gt_tlsio_write(&u->io, buf, len);
		pthread_mutex_unlock(&u->wlock);
		return rc;
	}
	while (len) {
		ssize_t n = send(u->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int gt_http_upgraded_writev(struct gt_http_upgraded *u, const struct iovec *iov, int iovcnt)
{
	int rc = 0;

	if (!u->tls)
		return gt_writev_all(u->fd, iov, iovcnt);
	for (int i = 0; rc == 0 && i < iovcnt; i++)
		rc = gt_http_upgraded_write(u, iov[i].iov_base, iov[i].iov_len);
	return rc;
}

int gt_http_upgraded_fd(const struct gt_http_upgraded *u)
{
	return u->fd;
}

bool gt_http_upgraded_buffered(const struct gt_http_upgraded *u)
{
	return u->extra_off < u->extra_len || (u->tls && gt_tlsio_pending(&u->io));
}

void gt_http_upgraded_shutdown(struct gt_http_upgraded *u, int how)
{
	shutdown(u->fd, how);
}
