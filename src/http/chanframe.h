/*
 * chanframe.h - Gantry's internal channel framing between the API server
 * and node agents for exec, attach and port-forward streams, carried on an
 * upgraded HTTP connection ("Upgrade: gantry-stream"):
 *
 *   [u8 channel][u32 big-endian length][payload]
 *
 * The API server translates it to and from what clients speak (SPDY/3.1,
 * WebSocket channel protocols), so agents need only this.
 */
#ifndef GT_HTTP_CHANFRAME_H
#define GT_HTTP_CHANFRAME_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/util.h"

enum gt_chan {
	GT_CH_STDIN = 0,        /* to the process (port-forward: to the pod) */
	GT_CH_STDOUT = 1,       /* from the process (port-forward: from the pod) */
	GT_CH_STDERR = 2,
	GT_CH_STATUS = 3,       /* last frame from the agent: {"exitCode":N} or {"error":"..."} */
	GT_CH_RESIZE = 4,       /* {"Width":W,"Height":H} */
	GT_CH_CLOSE_STDIN = 255 /* EOF on stdin (port-forward: half-close towards the pod) */
};

#define GT_CHAN_MAX_FRAME (1u << 20)
/* What a bulk sender (a port-forward or output pump) reads per frame: large
 * frames keep the per-frame costs (syscalls, TLS records, WebSocket
 * headers) small against the bytes moved. */
#define GT_CHAN_BULK (256u * 1024)

typedef ssize_t (*gt_chan_read_fn)(void *ctx, void *buf, size_t n);  /* 0 = EOF */
/* Writes all of iov (one writev where the transport allows: header and
 * payload leave in one syscall). 0 or negative errno. */
typedef int (*gt_chan_writev_fn)(void *ctx, const struct iovec *iov, int iovcnt);

/* Writes one frame (not thread-safe: serialise writers). 0 or negative errno. */
int gt_chan_write(gt_chan_writev_fn w, void *ctx, int ch, const void *data, size_t len);
/* Writes all of iov to fd with writev/sendmsg (EINTR and short writes
 * retried; no SIGPIPE on a socket).  0 or negative errno. */
int gt_writev_all(int fd, const struct iovec *iov, int iovcnt);
/* Reads one frame into payload (reset first; the payload is read straight
 * into it). 1 = frame, 0 = clean EOF, <0 error
 * (-EPROTO for a frame over GT_CHAN_MAX_FRAME or a truncated one). */
int gt_chan_read(gt_chan_read_fn r, void *ctx, int *ch, struct gt_buf *payload);

#endif
