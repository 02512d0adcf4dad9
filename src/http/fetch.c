/*
 * fetch.c - one blocking HTTP(S) request with libcurl (see fetch.h).
 */
#include <curl/curl.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "http/fetch.h"

#define DEFAULT_MAX_BODY (16u << 20)

struct xfer {
	const struct gt_fetch_req *req;
	struct gt_fetch_resp *resp;
	CURL *curl;
	struct gt_buf body;
	char **hdr;
	size_t nhdr, caphdr;
	size_t max_body;
	int sink_rc;
	bool too_big;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void clear_headers(struct xfer *x)
{
	for (size_t i = 0; i < x->nhdr; i++)
		free(x->hdr[i]);
	x->nhdr = 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t len = size * n, l = len;

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		clear_headers(x); /* a new response (redirect, 100-continue) */
		return len;
	}
	while (l > 0 && (data[l - 1] == '\r' || data[l - 1] == '\n'))
		l--;
	if (l == 0 || !memchr(data, ':', l))
		return len;
	gt_grow((void **)&x->hdr, &x->caphdr, x->nhdr + 2, sizeof(*x->hdr));
	x->hdr[x->nhdr++] = xstrndup(data, l);
	x->hdr[x->nhdr] = NULL;
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x->req->sink && status >= 200 && status < 300) {
		if ((x->sink_rc = x->req->sink(x->req->sink_ctx, data, len)) < 0)
			return 0; /* aborts the transfer */
		return len;
	}
	if (x->body.len + len > x->max_body) {
		x->too_big = true;
		return 0;
	}
	gt_buf_add(&x->body, data, len);
	return len;
}

static int map_code(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static curl_socket_t open_cloexec(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)ctx;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

void gt_curl_cloexec(void *curl)
{
	curl_easy_setopt((CURL *)curl, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
}

int gt_fetch(const struct gt_fetch_req *req, struct gt_fetch_resp *resp, struct gt_err *err)
{
	struct xfer x = { .req = req, .resp = resp, .body = GT_BUF_INIT };
	struct curl_slist *hl = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	GT_AUTOFREE char *auth = NULL;
	CURLcode c;
	int rc = 0;

	memset(resp, 0, sizeof(*resp));
	if (!req || !req->url)
		return gt_err_set(err, -EINVAL, "fetch: no URL");
	pthread_once(&once, global_init);
	if (!(x.curl = curl_easy_init()))
		return gt_err_set(err, -ENOMEM, "fetch: curl_easy_init failed");
	gt_buf_init(&x.body);
	x.max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
	for (size_t i = 0; req->headers && req->headers[i]; i++)
		hl = curl_slist_append(hl, req->headers[i]);
	if (req->bearer) {
		auth = xasprintf("Authorization: Bearer %s", req->bearer);
		hl = curl_slist_append(hl, auth);
	}
	gt_curl_cloexec(x.curl);
	curl_easy_setopt(x.curl, CURLOPT_URL, req->url);
	curl_easy_setopt(x.curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x.curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(x.curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(x.curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x.curl, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(x.curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x.curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.curl, CURLOPT_USERAGENT, "gantry/0.1");
	curl_easy_setopt(x.curl, CURLOPT_CONNECTTIMEOUT, req->connect_timeout_s > 0 ?
			 req->connect_timeout_s : 30L);
	curl_easy_setopt(x.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(x.curl, CURLOPT_LOW_SPEED_TIME, req->low_speed_s > 0 ?
			 req->low_speed_s : 60L);
	if (req->follow) {
		curl_easy_setopt(x.curl, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(x.curl, CURLOPT_MAXREDIRS, 10L);
	}
	if (req->username) {
		curl_easy_setopt(x.curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(x.curl, CURLOPT_USERNAME, req->username);
		curl_easy_setopt(x.curl, CURLOPT_PASSWORD, req->password ? req->password : "");
	}
	if (req->ca_file)
		curl_easy_setopt(x.curl, CURLOPT_CAINFO, req->ca_file);
	if (req->insecure) {
		curl_easy_setopt(x.curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(x.curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (req->method && !strcmp(req->method, "HEAD")) {
		curl_easy_setopt(x.curl, CURLOPT_NOBODY, 1L);
	} else if (req->method && !strcmp(req->method, "POST")) {
		curl_easy_setopt(x.curl, CURLOPT_POST, 1L);
		curl_easy_setopt(x.curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(x.curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	c = curl_easy_perform(x.curl);
	curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &resp->status);
	char *eff = NULL;
	curl_easy_getinfo(x.curl, CURLINFO_EFFECTIVE_URL, &eff);
	resp->url = xstrdup(eff ? eff : req->url);
	if (c != CURLE_OK) {
		if (x.sink_rc < 0)
			rc = gt_err_set(err, x.sink_rc, "%s: %s", req->url, strerror(-x.sink_rc));
		else if (x.too_big)
			rc = gt_err_set(err, -EMSGSIZE, "%s: response body over %zu bytes",
					req->url, x.max_body);
		else
			rc = gt_err_set(err, map_code(c), "%s: %s", req->url,
					errbuf[0] ? errbuf : curl_easy_strerror(c));
	}
	if (!x.hdr)
		x.hdr = xcalloc(1, sizeof(*x.hdr));
	resp->headers = x.hdr;
	resp->body = gt_buf_detach(&x.body, &resp->body_len);
	curl_slist_free_all(hl);
	curl_easy_cleanup(x.curl);
	return rc;
}

void gt_fetch_resp_release(struct gt_fetch_resp *resp)
{
	if (!resp)
		return;
	for (size_t i = 0; resp->headers && resp->headers[i]; i++)
		free(resp->headers[i]);
	free(resp->headers);
	free(resp->body);
	free(resp->url);
	memset(resp, 0, sizeof(*resp));
}

const char *gt_fetch_header(const struct gt_fetch_resp *resp, const char *name)
{
	const char *found = NULL;
	size_t nl = strlen(name);

	for (size_t i = 0; resp && resp->headers && resp->headers[i]; i++) {
		const char *h = resp->headers[i];
		if (!strncasecmp(h, name, nl) && h[nl] == ':') {
			found = h + nl + 1;
			while (*found == ' ' || *found == '\t')
				found++;
		}
	}
	return found;
}

char *gt_fetch_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct gt_buf b = GT_BUF_INIT;

	gt_buf_init(&b);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			gt_buf_addc(&b, (char)*p);
		} else {
			gt_buf_addc(&b, '%');
			gt_buf_addc(&b, hex[*p >> 4]);
			gt_buf_addc(&b, hex[*p & 15]);
		}
	}
	return gt_buf_detach(&b, NULL);
}
