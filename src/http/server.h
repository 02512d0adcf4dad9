/*
 * server.h - the HTTP(S) server the API server runs on, wrapping
 * libmicrohttpd (the only module that includes its header).
 *
 * Model: one thread per connection (keep-alive), so a handler and a
 * streaming callback may block.  The handler is called once per request,
 * after the whole body has arrived (bodies over max_body get a 413
 * Kubernetes Status without reaching the handler).  It must answer with
 * exactly one gt_http_reply*() call.  A struct gt_http_req stays valid until
 * its response has been sent completely (streams included).
 */
#ifndef GT_HTTP_SERVER_H
#define GT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

struct gt_http_server;
struct gt_http_req;

typedef void (*gt_http_handler)(struct gt_http_req *req, void *ctx);

struct gt_http_config {
	const char *bind;        /* IPv4 or IPv6 literal, or "0.0.0.0" */
	int port;                /* 0 = pick a free one (see gt_http_port) */
	const char *cert_pem;    /* NULL with key_pem NULL: plain HTTP */
	const char *key_pem;
	size_t max_body;         /* bytes; 0 = 3 MiB */
	gt_http_handler handler;
	void *ctx;
};

/* Starts listening and serving.  *out is freed by gt_http_stop(). */
int gt_http_start(const struct gt_http_config *cfg, struct gt_http_server **out,
		  struct gt_err *err);
/* The port actually bound. */
int gt_http_port(const struct gt_http_server *s);
/* Stops accepting, closes connections, joins threads, frees s (NULL ok). */
void gt_http_stop(struct gt_http_server *s);

/* Request accessors: returned strings are borrowed, valid for req's life. */
const char *gt_http_method(const struct gt_http_req *r);   /* "GET" ... */
const char *gt_http_path(const struct gt_http_req *r);     /* percent-decoded, no query */
/* First value of a query parameter, percent- and '+'-decoded; NULL if absent. */
const char *gt_http_query(const struct gt_http_req *r, const char *name);
/* All values of a repeated query parameter (command=a&command=b), in order. */
size_t gt_http_query_all(const struct gt_http_req *r, const char *name,
			 const char **vals, size_t max);
/* First value of a header (case-insensitive name); NULL if absent. */
const char *gt_http_header(const struct gt_http_req *r, const char *name);
size_t gt_http_header_all(const struct gt_http_req *r, const char *name,
			  const char **vals, size_t max);
/* The request body (NUL-terminated for convenience; len excludes the NUL). */
const char *gt_http_body(const struct gt_http_req *r, size_t *len);
/* The peer's address as text. */
const char *gt_http_peer(const struct gt_http_req *r);

/* Adds a response header; call before the reply. */
void gt_http_add_header(struct gt_http_req *r, const char *name, const char *value);

/* Replies with a copy of body. */
int gt_http_reply(struct gt_http_req *r, int status, const char *ctype,
		  const void *body, size_t len);
/* Replies taking ownership of a malloc'd body. */
int gt_http_reply_take(struct gt_http_req *r, int status, const char *ctype,
		       char *body, size_t len);

/*
 * A streamed (chunked) reply: headers go out at once, then fn is called
 * from the connection's thread to produce body bytes.  fn may block; it
 * returns the number of bytes written into buf (> 0), or -1 to end the
 * stream.  free_ctx(ctx) is called once the response is done or the
 * connection dies.
 */
typedef ssize_t (*gt_http_stream_fn)(void *ctx, char *buf, size_t max);
int gt_http_reply_stream(struct gt_http_req *r, int status, const char *ctype,
			 gt_http_stream_fn fn, void *ctx, void (*free_ctx)(void *));

/*
 * True when the peer has closed its side of the connection (for blocked
 * streams to notice a client that went away).  Never blocks.
 */
bool gt_http_peer_closed(const struct gt_http_req *r);

#endif
