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

typedef ssize_t (*gt_chan_read_fn)(void *ctx, void *buf, size_t n);  /* 0 = EOF */
typedef int (*gt_chan_write_fn)(void *ctx, const void *buf, size_t n); /* writes all */

/* Writes one frame (not thread-safe: serialise writers). 0 or negative errno. */
int gt_chan_write(gt_chan_write_fn w, void *ctx, int ch, const void *data, size_t len);
/* Reads one frame into payload (reset first). 1 = frame, 0 = clean EOF, <0 error
 * (-EPROTO for a frame over GT_CHAN_MAX_FRAME or a truncated one). */
int gt_chan_read(gt_chan_read_fn r, void *ctx, int *ch, struct gt_buf *payload);

#endif
