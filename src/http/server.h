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
#include <sys/uio.h>

#include "base/err.h"

struct gt_http_server;
struct gt_http_req;

typedef void (*gt_http_handler)(struct gt_http_req *req, void *ctx);

struct gt_http_config {
	const char *bind;        /* IPv4 or IPv6 literal, or "0.0.0.0"; NULL = "0.0.0.0";
				    "::" listens on IPv6 and IPv4 (dual stack) */
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
/* Stops accepting, closes connections, joins threads, frees s (NULL ok).
 * It waits for every connection thread, so the caller must first make its
 * blocked stream callbacks return (wake the watchers: a stream fn that
 * keeps blocking hangs the stop).  Upgraded sessions get their socket shut
 * down and are waited for too; their fn must then return. */
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
/* The peer's address as text, Go RemoteAddr style: "127.0.0.1:5432",
 * "[::1]:5432". */
const char *gt_http_peer(const struct gt_http_req *r);

/* Adds a response header; call before the reply.  The reply functions
 * below must be called from inside the handler call (same thread); each
 * returns 0, or -EALREADY for a second reply, -EIO when the connection
 * cannot take it. */
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

/*
 * Connection upgrade (101 Switching Protocols) for WebSocket and SPDY
 * (exec, attach, port-forward).  The handler decides everything first
 * (protocol, target), adds the reply headers it needs (Upgrade,
 * Sec-WebSocket-Accept, ...) with gt_http_add_header, then calls
 * gt_http_reply_upgrade.  "Connection: Upgrade" is added by the server.
 *
 * Once the 101 has been sent, fn(ctx, u) runs on a thread of its own and
 * may block for as long as the session lasts; the connection is closed
 * when fn returns.  free_ctx(ctx) (may be NULL) is called exactly once:
 * after fn returns, or instead of fn when the upgrade never happens (the
 * peer left, the server is stopping).  fn must not touch the request (it
 * is gone by then): copy what it needs into ctx.
 *
 * Over TLS the server decrypts through an internal socket pair, so u reads
 * and writes plain bytes in both modes.
 */
struct gt_http_upgraded;
typedef void (*gt_http_upgrade_fn)(void *ctx, struct gt_http_upgraded *u);
/* status is normally 101.  Returns 0 or a negative errno (then free_ctx
 * has been called already). */
int gt_http_reply_upgrade(struct gt_http_req *r, int status, gt_http_upgrade_fn fn,
			  void *ctx, void (*free_ctx)(void *));
/*
 * Reads up to len bytes (bytes the client sent right behind its request
 * headers come first).  Blocks.  Returns the count, 0 at end of stream, or
 * a negative errno.  One reader at a time.
 */
ssize_t gt_http_upgraded_read(struct gt_http_upgraded *u, void *buf, size_t len);
/* Writes all of buf (blocks).  0 or a negative errno.  One writer at a
 * time (serialise writers yourself); a reader and a writer may run
 * concurrently on different threads. */
int gt_http_upgraded_write(struct gt_http_upgraded *u, const void *buf, size_t len);
/* The same for a gather list: one writev on a plain connection (TLS: each
 * piece through the session in turn). */
int gt_http_upgraded_writev(struct gt_http_upgraded *u, const struct iovec *iov, int iovcnt);
/* The socket, for poll(POLLIN) together with other fds.  Check
 * gt_http_upgraded_buffered() first: buffered bytes do not wake poll().
 * Never close it or read/write it directly. */
int gt_http_upgraded_fd(const struct gt_http_upgraded *u);
/* True while bytes received with the request headers are still unread. */
bool gt_http_upgraded_buffered(const struct gt_http_upgraded *u);
/* shutdown(2) on the socket (SHUT_RD, SHUT_WR or SHUT_RDWR): wakes blocked
 * reads/writes from any thread while fn runs.  SHUT_WR sends EOF to the
 * client on plain HTTP; over TLS it is only seen as the session's end. */
void gt_http_upgraded_shutdown(struct gt_http_upgraded *u, int how);

#endif
