/*
 * client.c - the Kubernetes API client core: the client object, its pool of
 * libcurl easy handles (one borrowed per request, so threads run requests
 * concurrently and keep-alive connections survive between them), the one
 * request executor (gt_client_request) and the verbs built on it, and the
 * mapping of HTTP statuses, Kubernetes Status bodies and curl failures to
 * negative errnos.
 *
 * TLS trust: a CA given as PEM text goes to libcurl as CURLOPT_CAINFO_BLOB
 * when the TLS backend supports it; Debian's libcurl-gnutls does not, so
 * the PEM is then staged once into a private temp file (mode 0600, removed
 * by gt_client_free) passed as CURLOPT_CAINFO.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "client/client_int.h"
#include "http/fetch.h"

#define POOL_MAX 8
#define MAX_BODY (512u << 20)    /* collected (non-streamed) responses */
#define MAX_ERR_BODY (1u << 20)  /* error bodies of streamed requests */

struct gt_client {
	char *server;           /* no trailing '/' */
	char *auth;             /* "Authorization: Bearer ..." or NULL */
	char *ca_pem;           /* for CURLOPT_CAINFO_BLOB, or NULL */
	char *ca_file;          /* for CURLOPT_CAINFO, or NULL */
	char *ca_tmp;           /* our staged copy of the PEM (== ca_file) */
	bool insecure;
	long timeout_s;
	pthread_mutex_t mu;     /* guards idle[] */
	CURL *idle[POOL_MAX];
	size_t nidle;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- handle pool ---- */

static CURL *acquire(struct gt_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->nidle)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->mu);
	if (!h) {
		h = curl_easy_init();
		if (!h)
			GT_BUG("curl_easy_init failed (out of memory)");
	} else {
		/* Options go back to defaults; live connections are kept. */
		curl_easy_reset(h);
	}
	return h;
}

static void release(struct gt_client *c, CURL *h)
{
	pthread_mutex_lock(&c->mu);
	if (c->nidle < POOL_MAX) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

/* ---- client lifecycle ---- */

static int stage_ca(struct gt_client *c, const char *pem, struct gt_err *err)
{
	const char *dir = getenv("TMPDIR");
	size_t len = strlen(pem), off = 0;
	char *path;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	path = xasprintf("%s/gantry-ca-XXXXXX", dir);
	fd = mkstemp(path); /* mode 0600 */
	if (fd < 0) {
		int e = errno;

		free(path);
		return gt_err_set(err, -e, "cannot stage the CA certificate in %s: %s", dir,
				  strerror(e));
	}
	while (off < len) {
		ssize_t n = write(fd, pem + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			close(fd);
			unlink(path);
			free(path);
			return gt_err_set(err, -e, "cannot stage the CA certificate: %s", strerror(e));
		}
		off += (size_t)n;
	}
	close(fd);
	c->ca_tmp = path;
	c->ca_file = xstrdup(path);
	return 0;
}

static bool blob_supported(const char *pem)
{
	struct curl_blob b = { .data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY };
	CURL *h = curl_easy_init();
	CURLcode rc;

	if (!h)
		GT_BUG("curl_easy_init failed (out of memory)");
	rc = curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	curl_easy_cleanup(h);
	return rc == CURLE_OK;
}

int gt_client_new(const struct gt_client_config *cfg, struct gt_client **out,
		  struct gt_err *err)
{
	struct gt_client *c;
	size_t n;
	int r;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return gt_err_set(err, -EIO, "libcurl initialisation failed: %s",
				  curl_easy_strerror(global_rc));
	if (!cfg || !cfg->server_url || !*cfg->server_url)
		return gt_err_set(err, -EINVAL, "server: required");
	if (strncmp(cfg->server_url, "https://", 8) && strncmp(cfg->server_url, "http://", 7))
		return gt_err_set(err, -EINVAL, "server: \"%s\": must start with https:// or http://",
				  cfg->server_url);
	for (const char *p = cfg->server_url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return gt_err_set(err, -EINVAL, "server: contains spaces or control characters");
	if (cfg->token)
		for (const char *p = cfg->token; *p; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				return gt_err_set(err, -EINVAL, "token: contains control characters");
	if (!cfg->ca_pem && cfg->ca_file && access(cfg->ca_file, R_OK) < 0)
		return gt_err_set(err, -errno, "certificate authority %s: %s", cfg->ca_file,
				  strerror(errno));

	c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->server = xstrdup(cfg->server_url);
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	if (cfg->token && *cfg->token)
		c->auth = xasprintf("Authorization: Bearer %s", cfg->token);
	c->insecure = cfg->insecure;
	c->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 30;
	if (cfg->ca_pem) {
		if (blob_supported(cfg->ca_pem)) {
			c->ca_pem = xstrdup(cfg->ca_pem);
		} else if ((r = stage_ca(c, cfg->ca_pem, err)) < 0) {
			gt_client_free(c);
			return r;
		}
	} else if (cfg->ca_file) {
		c->ca_file = xstrdup(cfg->ca_file);
	}
	*out = c;
	return 0;
}

void gt_client_free(struct gt_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	if (c->ca_tmp)
		unlink(c->ca_tmp);
	free(c->ca_tmp);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->auth);
	free(c->server);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const char *gt_client_server(const struct gt_client *c)
{
	return c->server;
}

#define AUTH_PREFIX "Authorization: Bearer "

const char *gt_client_token(const struct gt_client *c)
{
	return c->auth ? c->auth + strlen(AUTH_PREFIX) : NULL;
}

const char *gt_client_ca_pem(const struct gt_client *c)
{
	return c->ca_pem;
}

const char *gt_client_ca_file(const struct gt_client *c)
{
	return c->ca_file;
}

bool gt_client_insecure(const struct gt_client *c)
{
	return c->insecure;
}

/* ---- error mapping ---- */

static const struct {
	long status;
	int code;
} http_codes[] = {
	{ 400, -EINVAL }, { 401, -ENOKEY }, { 403, -EACCES }, { 404, -ENOENT },
	{ 405, -EOPNOTSUPP }, { 406, -ENOMSG }, { 409, -ESTALE }, { 410, -ENODATA },
	{ 413, -E2BIG }, { 415, -EPROTONOSUPPORT }, { 422, -EBADMSG }, { 429, -EAGAIN },
};

static int http_errno(long status, const char *reason)
{
	if (status == 409 && reason && !strcmp(reason, "AlreadyExists"))
		return -EEXIST;
	for (size_t i = 0; i < GT_ARRAY_SIZE(http_codes); i++)
		if (http_codes[i].status == status)
			return http_codes[i].code;
	return status >= 400 && status < 500 ? -EINVAL : -EIO;
}

/* Error from a non-2xx answer: the Status message and causes when there is
 * one, else the start of the body. */
static int status_error(long status, const struct gt_buf *body, struct gt_err *err)
{
	GT_AUTOJSON json_t *st = NULL;
	const char *msg = NULL, *reason = NULL;
	json_t *causes;
	size_t i;
	int code;

	if (body->len && gt_json_parse_lenient(body->data, body->len, &st, NULL) == 0 &&
	    json_is_object(st)) {
		msg = gt_json_str(st, "message");
		reason = gt_json_str(st, "reason");
	}
	code = http_errno(status, reason);
	if (msg && *msg) {
		gt_err_set(err, code, "%s", msg);
	} else if (body->len) {
		int n = (int)strcspn(body->data, "\r\n");

		gt_err_set(err, code, "HTTP %ld: %.*s", status, n > 300 ? 300 : n, body->data);
	} else {
		gt_err_set(err, code, "HTTP %ld", status);
	}
	causes = st ? gt_json_path(st, "details.causes") : NULL;
	json_t *cause;
	json_array_foreach(causes, i, cause) {
		const char *f = gt_json_str(cause, "field"), *rs = gt_json_str(cause, "reason"),
			   *m = gt_json_str(cause, "message");

		gt_err_cause(err, f ? f : "", rs ? rs : "", "%s", m ? m : "");
	}
	return code;
}

static bool tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER: case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND: case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED: case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_SHUTDOWN_FAILED: case CURLE_SSL_CRL_BADFILE: case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH: case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return true;
	default:
		return false;
	}
}

static int curl_error(CURL *h, CURLcode rc, const char *ebuf, const char *method,
		      const char *url, struct gt_err *err)
{
	const char *what = ebuf[0] ? ebuf : curl_easy_strerror(rc);
	long oserr = 0;
	int code;

	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		return gt_err_set(err, -EPROTO,
				  "%s %s: cannot verify the server's TLS certificate (wrong certificate "
				  "authority?): %s", method, url, what);
	if (tls_error(rc))
		return gt_err_set(err, -EPROTO, "%s %s: TLS handshake failed: %s", method, url, what);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		code = oserr == EHOSTUNREACH || oserr == ENETUNREACH ? -EHOSTUNREACH :
		       oserr == ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
		break;
	case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
		code = -EHOSTUNREACH;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		code = -ETIMEDOUT;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		return gt_err_set(err, -ECANCELED, "%s %s: canceled", method, url);
	case CURLE_URL_MALFORMAT: case CURLE_UNSUPPORTED_PROTOCOL:
		code = -EINVAL;
		break;
	case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		code = -ECONNRESET;
		break;
	default:
		code = -EIO;
		break;
	}
	return gt_err_set(err, code, "%s %s: %s", method, url, what);
}

/* ---- the request executor ---- */

struct xfer {
	const struct gt_client_req *rq;
	CURL *h;
	struct gt_buf body;     /* collected body (all of it, or an error body) */
	long status;
	int cb_rc;              /* on_data's non-zero return */
	bool too_big;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * nmemb, cap;

	if (!x->status)
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->rq->on_data && x->status / 100 == 2) {
		int r = x->rq->on_data(p, len, x->rq->ctx);

		if (r) {
			x->cb_rc = r;
			return 0; /* ends the transfer with CURLE_WRITE_ERROR */
		}
		return len;
	}
	cap = x->rq->on_data ? MAX_ERR_BODY : MAX_BODY;
	if (x->body.len + len > cap) {
		if (x->rq->on_data || x->status / 100 != 2)
			return len; /* an error body: keep its start only */
		x->too_big = true;
		return 0;
	}
	gt_buf_add(&x->body, p, len);
	return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = ud;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return x->rq->stop && atomic_load(x->rq->stop) ? 1 : 0;
}

int gt_client_request(struct gt_client *c, const struct gt_client_req *rq,
		      struct gt_buf *resp, struct gt_err *err)
{
	struct xfer x = { .rq = rq };
	struct curl_slist *hdrs = NULL;
	char ebuf[CURL_ERROR_SIZE] = "", *url, *line;
	CURLcode rc;
	int r = 0;

	if (!rq->path || rq->path[0] != '/')
		return gt_err_set(err, -EINVAL, "request path must start with '/': \"%s\"",
				  rq->path ? rq->path : "(null)");
	url = xasprintf("%s%s", c->server, rq->path);
	gt_buf_init(&x.body);
	x.h = acquire(c);

	line = xasprintf("Accept: %s", rq->accept ? rq->accept : "application/json");
	hdrs = curl_slist_append(hdrs, line);
	free(line);
	if (c->auth)
		hdrs = curl_slist_append(hdrs, c->auth);
	if (rq->body) {
		line = xasprintf("Content-Type: %s", rq->ctype ? rq->ctype : "application/json");
		hdrs = curl_slist_append(hdrs, line);
		free(line);
	}
	hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
	if (!hdrs)
		GT_BUG("curl_slist_append failed (out of memory)");

	gt_curl_cloexec(x.h);
	curl_easy_setopt(x.h, CURLOPT_URL, url);
	curl_easy_setopt(x.h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x.h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(x.h, CURLOPT_USERAGENT, "gantry-client");
	curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(x.h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(x.h, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(x.h, CURLOPT_CONNECTTIMEOUT, c->timeout_s);
	curl_easy_setopt(x.h, CURLOPT_TIMEOUT, rq->max_s < 0 ? c->timeout_s : rq->max_s);
	curl_easy_setopt(x.h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(x.h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(x.h, CURLOPT_TCP_KEEPINTVL, 10L);
	if (c->insecure) {
		curl_easy_setopt(x.h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(x.h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca_pem) {
		struct curl_blob b = { .data = c->ca_pem, .len = strlen(c->ca_pem),
				       .flags = CURL_BLOB_NOCOPY };

		curl_easy_setopt(x.h, CURLOPT_CAINFO_BLOB, &b);
		curl_easy_setopt(x.h, CURLOPT_CAPATH, NULL);
	} else if (c->ca_file) {
		curl_easy_setopt(x.h, CURLOPT_CAINFO, c->ca_file);
		/* Trust this CA only, not the system directory as well. */
		curl_easy_setopt(x.h, CURLOPT_CAPATH, NULL);
	}
	if (!strcmp(rq->method, "GET"))
		curl_easy_setopt(x.h, CURLOPT_HTTPGET, 1L);
	else
		curl_easy_setopt(x.h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rq->body) {
		curl_easy_setopt(x.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		curl_easy_setopt(x.h, CURLOPT_POSTFIELDS, rq->body);
	} else if (!strcmp(rq->method, "POST") || !strcmp(rq->method, "PUT") ||
		   !strcmp(rq->method, "PATCH")) {
		curl_easy_setopt(x.h, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(x.h, CURLOPT_POSTFIELDS, "");
	}

	rc = curl_easy_perform(x.h);
	if (rc == CURLE_WRITE_ERROR && x.cb_rc) {
		r = x.cb_rc > 0 ? 0 : x.cb_rc;
	} else if (rc == CURLE_WRITE_ERROR && x.too_big) {
		r = gt_err_set(err, -E2BIG, "%s %s: response larger than %u bytes", rq->method, url,
			       MAX_BODY);
	} else if (rc != CURLE_OK) {
		r = curl_error(x.h, rc, ebuf, rq->method, url, err);
	} else {
		curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &x.status);
		if (x.status / 100 != 2)
			r = status_error(x.status, &x.body, err);
		else if (!rq->on_data && resp)
			gt_buf_add(resp, x.body.data, x.body.len);
	}
	gt_debug("client: %s %s -> %ld (%d)", rq->method, url, x.status, r);
	curl_slist_free_all(hdrs);
	/* The handle keeps pointers to ebuf and hdrs: clear them before pooling. */
	curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, NULL);
	release(c, x.h);
	gt_buf_release(&x.body);
	free(url);
	return r;
}

void gt_client_urlencode(struct gt_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			gt_buf_addc(b, (char)ch);
		} else {
			gt_buf_addc(b, '%');
			gt_buf_addc(b, hex[ch >> 4]);
			gt_buf_addc(b, hex[ch & 15]);
		}
	}
}

/* ---- verbs ---- */

int gt_client_do(struct gt_client *c, const char *method, const char *path,
		 const char *content_type, const json_t *body, json_t **out,
		 struct gt_err *err)
{
	struct gt_client_req rq = {
		.method = method, .path = path, .ctype = content_type, .max_s = -1,
	};
	struct gt_buf resp = GT_BUF_INIT;
	char *data = NULL;
	int r;

	if (!method || !*method)
		return gt_err_set(err, -EINVAL, "request method required");
	if (body) {
		data = gt_json_dump(body, &rq.body_len);
		rq.body = data;
	}
	gt_buf_init(&resp);
	r = gt_client_request(c, &rq, &resp, err);
	free(data);
	if (r == 0 && out) {
		*out = NULL;
		if (resp.len && (r = gt_json_parse_lenient(resp.data, resp.len, out, err)) < 0)
			r = gt_err_prefix(err, -EIO, "invalid JSON in the answer to %s %s", method, path);
	}
	gt_buf_release(&resp);
	return r;
}

int gt_client_get(struct gt_client *c, const char *path, json_t **out, struct gt_err *err)
{
	return gt_client_do(c, "GET", path, NULL, NULL, out, err);
}

int gt_client_create(struct gt_client *c, const char *path, const json_t *obj,
		     json_t **out, struct gt_err *err)
{
	return gt_client_do(c, "POST", path, NULL, obj, out, err);
}

int gt_client_update(struct gt_client *c, const char *path, const json_t *obj,
		     json_t **out, struct gt_err *err)
{
	return gt_client_do(c, "PUT", path, NULL, obj, out, err);
}

int gt_client_patch(struct gt_client *c, const char *path, const char *content_type,
		    const json_t *patch, json_t **out, struct gt_err *err)
{
	return gt_client_do(c, "PATCH", path,
			    content_type ? content_type : "application/merge-patch+json", patch,
			    out, err);
}

int gt_client_delete(struct gt_client *c, const char *path, const json_t *opts,
		     json_t **out, struct gt_err *err)
{
	return gt_client_do(c, "DELETE", path, NULL, opts, out, err);
}

int gt_client_get_text(struct gt_client *c, const char *path, char **body, size_t *len,
		       struct gt_err *err)
{
	struct gt_client_req rq = { .method = "GET", .path = path, .accept = "*/*", .max_s = -1 };
	struct gt_buf resp = GT_BUF_INIT;
	int r;

	gt_buf_init(&resp);
	r = gt_client_request(c, &rq, &resp, err);
	if (r < 0) {
		gt_buf_release(&resp);
		return r;
	}
	*body = gt_buf_detach(&resp, len);
	return 0;
}

int gt_client_stream(struct gt_client *c, const char *path,
		     int (*on_data)(const char *buf, size_t len, void *ctx), void *ctx,
		     const _Atomic bool *stop, struct gt_err *err)
{
	struct gt_client_req rq = {
		.method = "GET", .path = path, .accept = "*/*", .max_s = 0, .stop = stop,
		.on_data = on_data, .ctx = ctx,
	};

	if (!on_data)
		return gt_err_set(err, -EINVAL, "stream: on_data required");
	return gt_client_request(c, &rq, NULL, err);
}
