/*
 * stream_int.h - what exec.c (WebSocket) and exec_spdy.c (SPDY) share:
 * the node agent's end of a bridged stream and the upgraded connection's
 * byte transport.  Private to src/apiserver.
 */
#ifndef GT_APISERVER_STREAM_INT_H
#define GT_APISERVER_STREAM_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "apiserver/internal.h"

/*
 * The agent's end: a stream to the agent framed as http/chanframe.h, or,
 * for a port-forward to a pod of the in-process agent, the pod's socket
 * itself ("raw"), which recv and send present as the same frames.
 */
struct gt_agent_end {
	int fd;
	bool raw;
	bool raw_eof;
	char *raw_error;        /* raw: the failed connection's message, sent first */
	struct gt_buf pending;  /* bytes that came behind the agent's 101 */
	size_t off;
	pthread_mutex_t wlock;
};

void gt_agent_end_init(struct gt_agent_end *a);
void gt_agent_end_release(struct gt_agent_end *a);   /* closes fd */
/*
 * Opens a's stream to `node`'s agent (GET path: exec, attach).  Errors: the
 * agent is not there or refused (before anything was sent to the client).
 */
int gt_agent_end_open(struct gt_api *api, const char *node, const char *path,
		      struct gt_agent_end *a, struct gt_err *err);
/*
 * Opens a's port-forward to `port` of pod ns/pod on `node`: through the
 * node's agent, or, for a pod of the in-process agent, straight to the pod;
 * a refused connection there is reported as the agent reports it, in a
 * GT_CH_STATUS frame.  Errors as gt_agent_end_open's.
 */
int gt_agent_end_open_pf(struct gt_api *api, const char *node, const char *ns, const char *pod,
			 unsigned port, struct gt_agent_end *a, struct gt_err *err);
/* The next frame from the agent, as gt_chan_read: 1, 0 at the end, <0. */
int gt_agent_end_recv(struct gt_agent_end *a, int *ch, struct gt_buf *payload);
/* Sends one channel frame to the agent (thread-safe). */
int gt_agent_end_send(struct gt_agent_end *a, int ch, const void *data, size_t len);

ssize_t gt_upgraded_read(void *ctx, void *buf, size_t n);
int gt_upgraded_write(void *ctx, const void *buf, size_t n);

/* SPDY exec and port-forward (exec_spdy.c); reply to req themselves. */
void gt_spdy_serve_exec(struct gt_api *api, struct gt_http_req *req, const char *node,
			const char *agent_path, const char *const *argv, size_t argc, bool in,
			bool out, bool errs, bool tty);
/* tunnel_accept != NULL: kubectl 1.31+'s SPDY inside a WebSocket
 * (Sec-WebSocket-Accept value and the chosen subprotocol). */
void gt_spdy_serve_portforward(struct gt_api *api, struct gt_http_req *req, const char *node,
			       const char *ns, const char *pod, const char *tunnel_accept,
			       const char *tunnel_proto);

#endif
