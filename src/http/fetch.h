/*
 * fetch.h - a small blocking HTTP(S) client over libcurl for the image
 * puller (and anything else that needs one request at a time): GET, HEAD or
 * POST, extra headers, basic or bearer authorization, redirects, TLS with an
 * optional CA file or no verification, the body into a buffer or a sink
 * callback, and the final response's headers.
 *
 * Thread-safe: each call uses its own curl handle (libcurl's global init is
 * done once, on first use).
 */
#ifndef GT_HTTP_FETCH_H
#define GT_HTTP_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/*
 * Makes the sockets of libcurl handle curl (a CURL *) close-on-exec: libcurl
 * opens them without it, and every child the agent spawns (runc, the shims
 * that outlive it, CNI plugins) would otherwise hold a copy of its API
 * connections.  Every curl handle in Gantry goes through this.
 */
void gt_curl_cloexec(void *curl);

struct gt_fetch_req {
	const char *method;          /* "GET" (NULL), "HEAD" or "POST" */
	const char *url;
	const char *const *headers;  /* NULL-terminated "Name: value" lines, or NULL */
	const char *username;        /* Basic auth when set (password may be NULL) */
	const char *password;
	const char *bearer;          /* "Authorization: Bearer <bearer>" when set */
	const void *body;            /* POST body (body_len bytes) */
	size_t body_len;
	const char *ca_file;         /* extra CA bundle (PEM), NULL: the system's */
	bool insecure;               /* skip TLS certificate and host name checks */
	bool follow;                 /* follow up to 10 redirects (Authorization is
				      * not sent to another host) */
	long connect_timeout_s;      /* 0: 30 s */
	long low_speed_s;            /* abort below 1 byte/s for this long; 0: 60 s */
	size_t max_body;             /* cap on a buffered body; 0: 16 MiB */
	/* When set, a 2xx body goes here instead of the buffer (error bodies
	 * are always buffered).  Returns 0, or a negative errno to abort. */
	int (*sink)(void *ctx, const void *data, size_t len);
	void *sink_ctx;
};

struct gt_fetch_resp {
	long status;      /* HTTP status of the final response */
	char *body;       /* buffered body, NUL-terminated (never NULL after success) */
	size_t body_len;
	char **headers;   /* the final response's "Name: value" lines, NULL-terminated */
	char *url;        /* the effective URL after redirects */
};

/*
 * Performs one request.  Returns 0 when a response arrived (whatever its
 * status), or a negative errno for transport failures with err set to
 * curl's message: -ECONNREFUSED, -EHOSTUNREACH (name resolution),
 * -ETIMEDOUT, -EPROTO (TLS), -EMSGSIZE (body over max_body), the sink's
 * error, -EIO otherwise.  *resp is filled in either case and released with
 * gt_fetch_resp_release().
 */
int gt_fetch(const struct gt_fetch_req *req, struct gt_fetch_resp *resp, struct gt_err *err);
void gt_fetch_resp_release(struct gt_fetch_resp *resp);

/* The value of the last header `name` (case-insensitive) of the final
 * response, without leading blanks; NULL when absent.  Borrowed. */
const char *gt_fetch_header(const struct gt_fetch_resp *resp, const char *name);

/* Percent-encodes s for a query string (RFC 3986 unreserved kept); caller frees. */
char *gt_fetch_escape(const char *s);

#endif
