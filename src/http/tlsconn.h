/*
 * tlsconn.h - a blocking client byte stream to an http:// or https:// URL's
 * host and port: plain TCP, or TLS (GnuTLS) verifying the server against a
 * CA (PEM text or file; the system store when neither is given) and the
 * URL's host name or IP address.  It is the transport under the CLI's
 * WebSocket clients (gantry exec, gantry port-forward): read/write have the
 * shape of struct gt_ws_io, and gt_tlsconn_read_head reads an HTTP response
 * head (keeping the bytes after it for the next reads).
 *
 * Threads: one reader and one writer may run at once (GnuTLS allows a
 * session to be shared by one sending and one receiving thread);
 * gt_tlsconn_shutdown may be called from any thread to wake both.
 */
#ifndef GT_HTTP_TLSCONN_H
#define GT_HTTP_TLSCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"
#include "base/util.h"

struct gt_tlsconn;

struct gt_tlsconn_opts {
	const char *ca_pem;   /* trusted CA certificate(s), PEM; NULL = ca_file */
	const char *ca_file;  /* trusted CA file; NULL (and no ca_pem) = system store */
	bool insecure;        /* skip certificate verification */
	int timeout_s;        /* connect and TLS handshake limit; <= 0 = 30 */
};

/*
 * Connects to url's host and port ("https://h:6443/prefix": the path is
 * ignored; default ports 443/80; IPv6 as [::1]).  opts may be NULL.
 * Returns 0 and *out (free with gt_tlsconn_close), or -EINVAL (bad URL),
 * -EHOSTUNREACH (unknown host), -ECONNREFUSED, -ETIMEDOUT, -EPROTO (TLS
 * handshake or verification failed), with err set.
 */
int gt_tlsconn_dial(const char *url, const struct gt_tlsconn_opts *opts,
		    struct gt_tlsconn **out, struct gt_err *err);

/* "host:port" as the Host header wants it (borrowed, valid for c's life). */
const char *gt_tlsconn_authority(const struct gt_tlsconn *c);

/*
 * Reads up to n bytes (ctx is the struct gt_tlsconn).  Returns the count,
 * 0 at end of stream, or a negative errno (-ECONNRESET, -EIO).
 */
ssize_t gt_tlsconn_read(void *ctx, void *buf, size_t n);
/* Writes all n bytes.  Returns 0 or a negative errno (-EPIPE...). */
int gt_tlsconn_write(void *ctx, const void *buf, size_t n);

/*
 * Reads an HTTP response head, up to and including the blank line, into
 * head (reset first; NUL-terminated), at most max bytes.  Bytes read past
 * it are kept and returned by the next gt_tlsconn_read calls.  Returns 0,
 * -E2BIG (head over max), -ECONNRESET (stream ended first), or a read error.
 */
int gt_tlsconn_read_head(struct gt_tlsconn *c, struct gt_buf *head, size_t max,
			 struct gt_err *err);

/*
 * Splits a server URL ("https://h:6443/prefix", "http://[::1]") into tls,
 * host (brackets removed) and port (the scheme's default when absent).
 * Returns 0 or -EINVAL with err naming what is wrong.
 */
int gt_url_split(const char *url, bool *tls, char *host, size_t hostsz, char *port,
		 size_t portsz, struct gt_err *err);

/* The status code of a response head ("HTTP/1.1 101 ..."), or -EPROTO. */
int gt_http_head_status(const char *head);
/*
 * The value of header name (case-insensitive) in a response head, blanks
 * trimmed, copied into out (cut to outsz - 1 bytes); NULL when absent.
 */
const char *gt_http_head_value(const char *head, const char *name, char *out, size_t outsz);

/* Shuts the socket down both ways (wakes blocked reads); any thread. */
void gt_tlsconn_shutdown(struct gt_tlsconn *c);

/* Ends TLS politely when possible, closes the socket and frees c (NULL ok).
 * Only once no other thread uses c. */
void gt_tlsconn_close(struct gt_tlsconn *c);

#endif
