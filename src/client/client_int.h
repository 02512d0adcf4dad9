/*
 * client_int.h - what the files of src/client/ share and nobody else sees:
 * the one request executor every verb, stream and informer goes through.
 */
#ifndef GT_CLIENT_CLIENT_INT_H
#define GT_CLIENT_CLIENT_INT_H

#include "client/client.h"

struct gt_client_req {
	const char *method;     /* "GET", "POST", ... */
	const char *path;       /* starts with '/', query included */
	const char *ctype;      /* body content type; NULL = application/json */
	const char *accept;     /* NULL = application/json */
	const char *body;       /* NULL = none */
	size_t body_len;
	long max_s;             /* whole-transfer limit: < 0 = the client's
				   timeout, 0 = none */
	const _Atomic bool *stop; /* aborts the transfer (-ECANCELED); may be NULL */
	/* 2xx body sink (NULL = collect into resp); returns non-zero to end
	 * the transfer: > 0 ends it successfully, < 0 is returned as is. */
	int (*on_data)(const char *buf, size_t len, void *ctx);
	void *ctx;
};

/*
 * Runs rq.  Returns 0 on a 2xx answer (the body collected into resp, which
 * the caller has initialised, unless rq->on_data took it), or a negative
 * errno with err set (see client.h).
 */
int gt_client_request(struct gt_client *c, const struct gt_client_req *rq,
		      struct gt_buf *resp, struct gt_err *err);

/* Appends s percent-encoded (everything but RFC 3986 unreserved bytes). */
void gt_client_urlencode(struct gt_buf *b, const char *s);

#endif
