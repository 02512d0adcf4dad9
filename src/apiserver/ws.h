/*
 * ws.h - RFC 6455 WebSocket over an abstract byte transport: the opening
 * handshake's checks (Sec-WebSocket-Accept, subprotocol choice) and the
 * framing (fragmentation, masking, 7/16/64-bit lengths, control frames,
 * the close handshake).  It knows nothing of Kubernetes: the channel
 * protocols of exec, attach and port-forward sit on top (channels.h).
 *
 * The transport is struct gt_ws_io: a blocking read and a write-all, e.g.
 * gt_http_upgraded_read/_write after gt_http_reply_upgrade (see
 * gt_ws_io_upgraded below).  A connection is the server end by default
 * (client frames must be masked, ours are not); opts.client turns it into
 * the client end (for a CLI), which masks what it sends.
 *
 * Threads: one reader calls gt_ws_recv (it answers pings and echoes the
 * peer's close itself); any number of threads may call the senders
 * (gt_ws_send, gt_ws_sendv, gt_ws_ping, gt_ws_close) at once: they hold a
 * per-connection mutex for a whole frame, so frames never interleave.
 * gt_ws_free only once every thread is done with the connection.
 */
#ifndef GT_APISERVER_WS_H
#define GT_APISERVER_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/err.h"
#include "base/util.h"
#include "http/server.h"

/*
 * The byte transport.  read: blocks; returns the count (> 0), 0 at end of
 * stream or a negative errno.  write: writes all of buf; 0 or a negative
 * errno.  (The same shape as the SPDY module's transport.)
 */
struct gt_ws_io {
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	int (*write)(void *ctx, const void *buf, size_t n);
	void *ctx;
};

/* gt_ws_io over an upgraded HTTP connection (plain or TLS). */
static inline ssize_t gt_ws_upgraded_read(void *u, void *buf, size_t n)
{
	return gt_http_upgraded_read(u, buf, n);
}
static inline int gt_ws_upgraded_write(void *u, const void *buf, size_t n)
{
	return gt_http_upgraded_write(u, buf, n);
}
static inline struct gt_ws_io gt_ws_io_upgraded(struct gt_http_upgraded *u)
{
	struct gt_ws_io io = { gt_ws_upgraded_read, gt_ws_upgraded_write, u };

	return io;
}

/* Opcodes. */
#define GT_WS_CONT   0x0
#define GT_WS_TEXT   0x1
#define GT_WS_BINARY 0x2
#define GT_WS_CLOSE  0x8
#define GT_WS_PING   0x9
#define GT_WS_PONG   0xA

/* Close codes (RFC 6455 §7.4.1). */
#define GT_WS_CLOSE_NORMAL      1000
#define GT_WS_CLOSE_GOING_AWAY  1001
#define GT_WS_CLOSE_PROTOCOL    1002
#define GT_WS_CLOSE_UNSUPPORTED 1003
#define GT_WS_CLOSE_NO_STATUS   1005 /* never sent: a close frame without a code */
#define GT_WS_CLOSE_INVALID     1007
#define GT_WS_CLOSE_POLICY      1008
#define GT_WS_CLOSE_TOO_BIG     1009
#define GT_WS_CLOSE_INTERNAL    1011

#define GT_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define GT_WS_MAX_MESSAGE_DEFAULT ((size_t)16 << 20)

/* ---- handshake ---- */

/* True when an Upgrade header value (NULL ok) lists the token "websocket"
 * (case-insensitive): tells a WebSocket request from a SPDY one. */
bool gt_ws_is_upgrade(const char *upgrade);

/*
 * Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key
 * + GUID)), 28 chars + NUL into out.  The key (surrounding blanks ignored)
 * must be base64 of 16 bytes.  Returns 0 or -EINVAL.
 */
int gt_ws_accept_key(const char *client_key, char out[29]);

/*
 * Checks a server-side opening handshake from its header values (any may
 * be NULL = absent): Upgrade lists "websocket", Connection lists "upgrade"
 * (token lists, case-insensitive), Sec-WebSocket-Version is 13 and the key
 * is valid; fills accept (for the Sec-WebSocket-Accept reply header).
 * Returns 0, -EINVAL (message names the header) or -EPROTONOSUPPORT for
 * another version (RFC 6455 wants a 426 with "Sec-WebSocket-Version: 13"
 * then; a 400 does as well for kubectl and python).  The method is not
 * checked (RFC 6455 wants GET; both clients send GET).
 */
int gt_ws_check_request(const char *upgrade, const char *connection, const char *version,
			const char *key, char accept[29], struct gt_err *err);

/*
 * Chooses a subprotocol the way the Kubernetes API server and kubelet do
 * (apimachinery wsstream handshake): the FIRST protocol in the client's
 * order that is in `supported` (NULL-terminated; exact, case-sensitive
 * match).  offered is the Sec-WebSocket-Protocol value, a comma list;
 * several headers may be joined with ", ".  Returns 1 with *chosen =
 * the matching supported[] string; 0 with *chosen = NULL when the client
 * offered none (offered NULL or blank: the kubelet then speaks the
 * unversioned channel protocol and the reply must carry no
 * Sec-WebSocket-Protocol); -EPROTONOSUPPORT when none matches (reply 400
 * or 403 with a Status: kubectl then falls back to SPDY).
 */
int gt_ws_pick_protocol(const char *offered, const char *const *supported,
			const char **chosen, struct gt_err *err);

/* A fresh random Sec-WebSocket-Key (client side), 24 chars + NUL. */
void gt_ws_client_key(char out[25]);

/* ---- framing ---- */

struct gt_ws;

struct gt_ws_opts {
	size_t max_message; /* bytes per reassembled message; 0 = 16 MiB */
	bool client;        /* client end: mask our frames, refuse masked ones */
};

/* A connection over io (copied; its ctx must outlive the connection).
 * opts may be NULL.  Free with gt_ws_free. */
struct gt_ws *gt_ws_new(const struct gt_ws_io *io, const struct gt_ws_opts *opts);
/* Frees ws (NULL ok).  Neither sends a close nor closes the transport. */
void gt_ws_free(struct gt_ws *ws);

/*
 * Reads the next data message (reassembling fragments) into msg (reset
 * first; NUL-terminated for convenience), its opcode (GT_WS_TEXT or
 * GT_WS_BINARY) into *opcode.  Control frames are handled on the way, also
 * between fragments: a ping is answered with a pong, a pong is ignored, a
 * close is echoed (unless we sent ours already) and ends the connection.
 * Text is not checked for UTF-8 (python's exec sends text frames holding a
 * raw channel byte; the protocols above treat payloads as bytes).
 *
 * Returns 1 for a message; 0 once the peer's close frame arrived (see
 * gt_ws_peer_close_code); a negative errno otherwise, after which the
 * connection is dead: -EPROTO for a protocol violation (we sent close
 * 1002: unmasked client frame, reserved bits or opcode, bad lengths,
 * control frame fragmented or over 125 bytes, stray continuation...),
 * -EMSGSIZE for a message over max_message (close 1009 sent),
 * -ECONNRESET when the stream ended without a close frame, or the
 * transport's error.  err gets the reason.  Later calls return the same.
 * One reader thread at a time.
 */
int gt_ws_recv(struct gt_ws *ws, int *opcode, struct gt_buf *msg, struct gt_err *err);

/* True while bytes read from the transport are buffered inside ws (a
 * poll() on the socket would not see them): call gt_ws_recv first. */
bool gt_ws_buffered(const struct gt_ws *ws);

/*
 * Sends one unfragmented message/frame: opcode GT_WS_TEXT, GT_WS_BINARY,
 * GT_WS_PING or GT_WS_PONG (control payloads <= 125 bytes).  sendv gathers
 * the payload from iov (e.g. a channel byte and the data) without copying
 * big pieces.  Thread-safe.  Returns 0; -EINVAL for a bad opcode or
 * control payload; -EPIPE once a close was sent or an earlier write failed;
 * or the transport's error (the connection is then unusable).
 */
int gt_ws_send(struct gt_ws *ws, int opcode, const void *data, size_t len);
int gt_ws_sendv(struct gt_ws *ws, int opcode, const struct iovec *iov, int iovcnt);
/* A ping with up to 125 bytes of payload.  Thread-safe; as gt_ws_send. */
int gt_ws_ping(struct gt_ws *ws, const void *data, size_t len);

/*
 * Starts (or answers) the close handshake: a close frame with code (0 =
 * none) and reason (NULL ok; cut to 123 bytes on a UTF-8 boundary).  No
 * frame may be sent after it.  The peer's close then arrives through
 * gt_ws_recv (returns 0); keep reading until then, with a time limit of
 * your own (gt_http_upgraded_shutdown wakes a blocked read).  Thread-safe;
 * a second call is a no-op returning 0.  Returns 0 or a transport error.
 */
int gt_ws_close(struct gt_ws *ws, int code, const char *reason);

/* The code of the peer's close frame: 0 while none arrived, 1005 for a
 * close without a code.  Meant for the reader thread. */
int gt_ws_peer_close_code(const struct gt_ws *ws);
/* True once we sent a close frame. */
bool gt_ws_close_sent(struct gt_ws *ws);

#endif
