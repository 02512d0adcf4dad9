/*
 * channels.h - the Kubernetes channel protocols that exec, attach and
 * port-forward speak over a WebSocket (ws.h), as the kubelet and the API
 * server do (apimachinery wsstream, kubelet cri/streaming):
 *
 *  - exec/attach: every message is one channel byte + payload; channels 0
 *    stdin, 1 stdout, 2 stderr, 3 error (the final Status), 4 resize
 *    ({"Width":W,"Height":H}).  v5.channel.k8s.io (kubectl >= 1.30) adds
 *    the CLOSE signal [255, ch] (stdin EOF); v4.channel.k8s.io (python) has
 *    none; the unversioned channel.k8s.io writes plain-text errors instead
 *    of a Status.  The base64 variants carry '0'+channel and base64 in text
 *    frames.
 *  - port-forward (python): port i of ?ports= owns channels 2i (data) and
 *    2i+1 (error); the server first writes [ch, port LE16] on both.
 *  - SPDY/3.1+portforward.k8s.io (kubectl >= 1.31): the binary messages
 *    carry a raw SPDY byte stream; gt_chan_tunnel turns the WebSocket into
 *    a struct gt_ws_io byte transport for the SPDY module.
 *
 * Senders are thread-safe (gt_ws's lock); parsers are pure.
 */
#ifndef GT_APISERVER_CHANNELS_H
#define GT_APISERVER_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apiserver/ws.h"
#include "base/err.h"
#include "base/util.h"

#define GT_CHAN_STDIN  0
#define GT_CHAN_STDOUT 1
#define GT_CHAN_STDERR 2
#define GT_CHAN_ERROR  3
#define GT_CHAN_RESIZE 4
#define GT_CHAN_EXEC_CHANNELS 5   /* nchannels for gt_chan_parse on exec/attach */
#define GT_CHAN_CLOSE_SIGNAL 255  /* v5: [255, ch] */

struct gt_chan_proto {
	const char *name;   /* the subprotocol ("" when the client offered none) */
	int version;        /* 1 (plain-text errors), 4 or 5 (Status JSON) */
	bool base64;        /* text frames: '0'+channel, then base64 */
	bool close_signal;  /* v5: [255, ch] half-closes a channel */
	bool tunnel;        /* SPDY/3.1+portforward.k8s.io: not channel framed */
};

/*
 * Subprotocols to offer gt_ws_pick_protocol (NULL-terminated; the client's
 * order decides).  exec/attach: v5.channel.k8s.io, v4.channel.k8s.io,
 * v4.base64.channel.k8s.io, channel.k8s.io, base64.channel.k8s.io.
 * portforward: SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io,
 * v4.base64.channel.k8s.io, channel.k8s.io, base64.channel.k8s.io (the
 * kubelet's; port-forward has no v5 and no status, so v1 = v4 there).
 * v2/v3.channel.k8s.io are SPDY-only names and not offered here.
 */
extern const char *const gt_chan_exec_protocols[];
extern const char *const gt_chan_portforward_protocols[];

/* The protocol for a chosen subprotocol name: NULL or "" (none offered)
 * gives the unversioned binary one, as the kubelet does.  Returns a static
 * descriptor, or NULL for an unknown name. */
const struct gt_chan_proto *gt_chan_proto_get(const char *name);

/* ---- messages ---- */

#define GT_CHAN_MSG_IGNORE 0  /* empty, or a channel outside [0, nchannels) */
#define GT_CHAN_MSG_DATA   1  /* channel + payload */
#define GT_CHAN_MSG_CLOSE  2  /* v5 CLOSE signal: channel is the one closed */

struct gt_chan_msg {
	int kind;
	unsigned channel;
	const unsigned char *data;  /* points into the parsed gt_buf */
	size_t len;
};

/*
 * Parses a received message (opcode and msg from gt_ws_recv; text and
 * binary are both accepted, as the kubelet does: python sends str stdin as
 * text frames).  Base64 protocols are decoded in place in msg.  Messages
 * for channels >= nchannels and empty ones are GT_CHAN_MSG_IGNORE (the
 * kubelet drops them).  Returns 0, or -EPROTO for a bad CLOSE signal
 * (not exactly [255, ch] or ch out of range) or bad base64, or -EINVAL for
 * the tunnel protocol (not channel framed).
 */
int gt_chan_parse(const struct gt_chan_proto *p, int opcode, struct gt_buf *msg,
		  unsigned nchannels, struct gt_chan_msg *out, struct gt_err *err);

/* Appends the message for (channel, data) to out (reset first), and its
 * opcode: binary [ch]+data, or text '0'+ch + base64(data). */
void gt_chan_build(const struct gt_chan_proto *p, unsigned channel, const void *data,
		   size_t len, struct gt_buf *out, int *opcode);

/* Sends data (len may be 0: a bare channel byte) on channel.  Thread-safe.
 * Returns 0 or gt_ws_send's error. */
int gt_chan_send(struct gt_ws *ws, const struct gt_chan_proto *p, unsigned channel,
		 const void *data, size_t len);

/* ---- exec / attach ---- */

/*
 * The kubelet's "connected" signal: an empty message on the lowest
 * writable channel (stdout if requested, else stderr, else error).  Not
 * required by kubectl (it ignores it) and harmless to python (it drops
 * messages of <= 1 byte); send it right after the 101, before any output.
 */
int gt_chan_exec_hello(struct gt_ws *ws, const struct gt_chan_proto *p, bool has_stdout,
		       bool has_stderr);

/*
 * The v4/v5 Status for a finished command (also what SPDY v4 writes on its
 * error stream).  exit_code 0: {"metadata":{},"status":"Success"}; else
 * {"metadata":{},"status":"Failure","message":"command terminated with
 * non-zero exit code: error executing command [sh -c exit 3], exit code
 * 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode",
 * "message":"3"}]}} -- kubectl and python read causes[0].message.  argv
 * (argc strings, may be NULL/0) only shapes the message.  A signal death
 * is exit code 128+N (137 for SIGKILL), as runc reports it.  Returns a new
 * string (caller frees); *len (NULL ok) gets its length.
 */
char *gt_chan_status_exit(int exit_code, const char *const *argv, size_t argc, size_t *len);
/*
 * The Status for a failure that is not an exit code (container not found,
 * process could not start...): {"metadata":{},"status":"Failure",
 * "message":M,"reason":R,"code":C} with R and C from gt_err_reason /
 * gt_err_http of code (a negative errno).  Caller frees.
 */
char *gt_chan_status_error(int code, const char *message, size_t *len);

/*
 * Ends an exec on the error channel in p's dialect: v4/v5 send the Status
 * above; v1 sends the plain message text (nothing for exit code 0).  Then
 * the caller closes with gt_ws_close(ws, GT_WS_CLOSE_NORMAL, NULL): kubectl
 * loses the exit code without a 1000 close.  Thread-safe.
 */
int gt_chan_send_exit(struct gt_ws *ws, const struct gt_chan_proto *p, int exit_code,
		      const char *const *argv, size_t argc);
int gt_chan_send_error(struct gt_ws *ws, const struct gt_chan_proto *p, int code,
		       const char *message);

/*
 * Parses one resize JSON object {"Width":W,"Height":H} (keys matched
 * case-insensitively as Go does; a missing one is 0; values 0..65535;
 * surrounding blanks/newline ok).  Returns 0 or -EINVAL naming the field.
 */
int gt_chan_parse_resize(const void *data, size_t len, uint16_t *width, uint16_t *height,
			 struct gt_err *err);

/*
 * A resize stream decoder, for when objects may be split or batched
 * (SPDY's resize stream is a byte stream; WebSocket messages are one
 * object each in practice).  feed returns 1 when at least one object
 * completed (*width and *height = the last one), 0 when more bytes are needed,
 * -EINVAL for bad JSON or an object over 4 KiB (then stop resizing: the
 * kubelet ends its resize loop on a decode error).
 */
struct gt_chan_resize {
	struct gt_buf buf;
};
void gt_chan_resize_init(struct gt_chan_resize *r);
void gt_chan_resize_release(struct gt_chan_resize *r);
int gt_chan_resize_feed(struct gt_chan_resize *r, const void *data, size_t len,
			uint16_t *width, uint16_t *height, struct gt_err *err);

/* ---- port-forward (python's WebSocket protocol) ---- */

#define GT_CHAN_PF_MAX_PORTS 127  /* channels are one byte */
#define GT_CHAN_PF_DATA(i)  ((unsigned)(i) * 2)
#define GT_CHAN_PF_ERROR(i) ((unsigned)(i) * 2 + 1)

/*
 * Parses the ports query: each of the nvals values (from
 * gt_http_query_all(req, "ports", ...)) is a comma list of ports 1..65535.
 * Fills ports[0..*n).  Returns 0, or -EINVAL ("ports: ..." message) for an
 * empty list, junk, a port out of range, or more than max (capped at
 * GT_CHAN_PF_MAX_PORTS).
 */
int gt_chan_pf_parse_ports(const char *const *vals, size_t nvals, uint16_t *ports,
			   size_t max, size_t *n, struct gt_err *err);

/*
 * Sends the initial [ch, port LE16] message on port index's data channel,
 * then on its error channel (python insists on exactly 3 bytes each, before
 * any data).  Send it for every port right after the 101.  Thread-safe.
 * Never send an empty data message afterwards: python raises on it.
 */
int gt_chan_pf_preamble(struct gt_ws *ws, const struct gt_chan_proto *p, size_t index,
			uint16_t port);

/* ---- SPDY tunnelled in WebSocket ---- */

/*
 * Presents the binary messages of ws as one byte stream (kubectl's
 * TunnelingConnection: message boundaries mean nothing).  io.read returns
 * the bytes of consecutive binary messages (blocking in gt_ws_recv, which
 * answers WebSocket pings), 0 once the peer closed, a negative errno on
 * error (a text message: -EPROTO, close 1003 sent); io.write sends its
 * buffer as one binary message (thread-safe).  One reader at a time.  End
 * the session with gt_ws_close(ws, GT_WS_CLOSE_NORMAL, NULL) -- kubectl
 * treats any other code as an error.  t must stay put while io is used.
 */
struct gt_chan_tunnel {
	struct gt_ws *ws;   /* borrowed */
	struct gt_buf msg;  /* the message being handed out */
	size_t pos;
	int done;           /* 0, or the sticky negative read error */
	bool eof;           /* the peer closed */
	struct gt_err err;  /* why the tunnel's read failed */
};
void gt_chan_tunnel_init(struct gt_chan_tunnel *t, struct gt_ws *ws);
void gt_chan_tunnel_release(struct gt_chan_tunnel *t);
struct gt_ws_io gt_chan_tunnel_io(struct gt_chan_tunnel *t);

#endif
