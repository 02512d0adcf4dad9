/*
 * exec_spdy.c - exec and port-forward for SPDY/3.1 clients: kubectl 1.20,
 * the SPDY fallback of newer kubectl, and kubectl 1.31+'s port-forward with
 * SPDY tunnelled inside a WebSocket.  The client's streams are bridged to
 * the node agent's channel stream (http/chanframe.h).
 */
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apiserver/agentconn.h"
#include "apiserver/channels.h"
#include "apiserver/spdy.h"
#include "apiserver/stream_int.h"
#include "apiserver/ws.h"
#include "base/log.h"
#include "http/chanframe.h"

static const char *const exec_versions[] = {
	"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io", NULL,
};

/* The first version the client offers that we speak (kubectl lists its
 * preference first), or NULL. */
static const char *pick_version(struct gt_http_req *req, const char *const *ours)
{
	const char *vals[16];
	size_t n = gt_http_header_all(req, "X-Stream-Protocol-Version", vals, 16);

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ours[k]; k++)
			if (!strcasecmp(vals[i], ours[k]))
				return ours[k];
	return NULL;
}

/* ---- exec ---- */

struct sx {
	struct gt_agent_end ag;
	struct gt_spdy *spdy;
	struct gt_spdy_exec streams;
	bool in, out, errs, tty;
	char **argv;
	size_t argc;
	struct gt_http_upgraded *u;
};

static void *sx_out(void *arg)
{
	struct sx *x = arg;
	uint32_t out = x->streams.id[GT_SPDY_EXEC_STDOUT], err = x->streams.id[GT_SPDY_EXEC_STDERR];
	uint32_t estream = x->streams.id[GT_SPDY_EXEC_ERROR];
	struct gt_buf b = GT_BUF_INIT;
	char *status = NULL;
	size_t slen = 0;
	int ch;

	gt_buf_init(&b);
	while (gt_agent_end_recv(&x->ag, &ch, &b) == 1) {
		if (ch == GT_CH_STDOUT && out && b.len)
			gt_spdy_write(x->spdy, out, b.data, b.len, false, NULL);
		else if (ch == GT_CH_STDERR && b.len && (err || out))
			gt_spdy_write(x->spdy, err ? err : out, b.data, b.len, false, NULL);
		else if (ch == GT_CH_STATUS) {
			json_t *st = NULL;
			int64_t code = 0;

			gt_json_parse(b.data, b.len, &st, NULL);
			if (gt_json_int(st, "exitCode", &code) == 0)
				status = gt_chan_status_exit((int)code, (const char *const *)x->argv, x->argc,
							     &slen);
			else
				status = gt_chan_status_error(-EIO, gt_json_str(st, "error") ?:
							      "the command could not run", &slen);
			json_decref(st);
			break;
		}
	}
	if (!status)
		status = gt_chan_status_error(-EIO, "the node agent closed the stream", &slen);
	/* kubectl's order: FIN stdout and stderr, then the status, FIN error */
	if (out)
		gt_spdy_fin(x->spdy, out, NULL);
	if (err)
		gt_spdy_fin(x->spdy, err, NULL);
	if (estream)
		gt_spdy_write(x->spdy, estream, status, slen, true, NULL);
	free(status);
	gt_buf_release(&b);
	{
		/* kubectl now resets its streams and sends GOAWAY; don't wait forever */
		struct pollfd pfd = { .fd = gt_http_upgraded_fd(x->u), .events = POLLIN };

		poll(&pfd, 1, 3000);
	}
	gt_http_upgraded_shutdown(x->u, SHUT_RDWR);
	return NULL;
}

static void sx_main(void *ctx, struct gt_http_upgraded *u)
{
	struct sx *x = ctx;
	struct gt_spdy_io io = { gt_upgraded_read, gt_upgraded_write, u };
	struct gt_chan_resize rz;
	struct gt_spdy_event ev;
	pthread_t out;
	bool started = false;
	int r;

	x->u = u;
	if (gt_spdy_new(&io, &x->spdy, NULL) < 0)
		return;
	gt_chan_resize_init(&rz);
	gt_spdy_exec_init(&x->streams, x->in, x->out, x->errs, x->tty);
	while ((r = gt_spdy_next(x->spdy, &ev, NULL)) == 1) {
		if (ev.type == GT_SPDY_EV_STREAM && !started) {
			int k = gt_spdy_exec_add(&x->streams, &ev, NULL);

			if (k < 0)
				break;
			/* every expected stream is there: start relaying output */
			if (k == 1)
				started = pthread_create(&out, NULL, sx_out, x) == 0;
		} else if (ev.type == GT_SPDY_EV_DATA) {
			int kind = gt_spdy_exec_kind(&x->streams, ev.stream);

			if (kind == GT_SPDY_EXEC_STDIN) {
				if (ev.len)
					gt_agent_end_send(&x->ag, GT_CH_STDIN, ev.data, ev.len);
				if (ev.fin)
					gt_agent_end_send(&x->ag, GT_CH_CLOSE_STDIN, NULL, 0);
			} else if (kind == GT_SPDY_EXEC_RESIZE && ev.len) {
				uint16_t w, h;

				if (gt_chan_resize_feed(&rz, ev.data, ev.len, &w, &h, NULL) == 1) {
					char js[64];
					int n = snprintf(js, sizeof(js), "{\"Width\":%u,\"Height\":%u}", w, h);

					gt_agent_end_send(&x->ag, GT_CH_RESIZE, js, (size_t)n);
				}
			}
		}
	}
	/* the client is gone or done: the agent ends the process */
	shutdown(x->ag.fd, SHUT_WR);
	if (started)
		pthread_join(out, NULL);
	gt_chan_resize_release(&rz);
	gt_spdy_free(x->spdy);
	x->spdy = NULL;
}

static void sx_free(void *ctx)
{
	struct sx *x = ctx;

	gt_agent_end_release(&x->ag);
	for (size_t i = 0; i < x->argc; i++)
		free(x->argv[i]);
	free(x->argv);
	free(x);
}

void gt_spdy_serve_exec(struct gt_api *api, struct gt_http_req *req, const char *node,
			const char *agent_path, const char *const *argv, size_t argc, bool in,
			bool out, bool errs, bool tty)
{
	const char *ver = pick_version(req, exec_versions);
	struct gt_err err;
	struct sx *x;

	gt_err_clear(&err);
	if (!ver) {
		/* no common version: refuse before anything runs */
		for (size_t k = 0; exec_versions[k]; k++)
			gt_http_add_header(req, "X-Accepted-Stream-Protocol-Versions", exec_versions[k]);
		gt_reply_errorf(req, -EACCES, "unable to upgrade: no supported stream protocol version");
		return;
	}
	x = xcalloc(1, sizeof(*x));
	gt_agent_end_init(&x->ag);
	x->in = in;
	x->out = out;
	x->errs = errs && !tty;
	x->tty = tty;
	x->argv = xcalloc(argc ? argc : 1, sizeof(char *));
	for (size_t i = 0; i < argc; i++)
		x->argv[i] = xstrdup(argv[i]);
	x->argc = argc;
	if (gt_agent_end_open(api, node, agent_path, &x->ag, &err) < 0) {
		sx_free(x);
		gt_reply_error(req, &err, NULL);
		return;
	}
	gt_http_add_header(req, "Upgrade", "SPDY/3.1");
	gt_http_add_header(req, "X-Stream-Protocol-Version", ver);
	gt_http_reply_upgrade(req, 101, sx_main, x, sx_free);
}

/* ---- port-forward ---- */

struct pconn {
	struct sp *owner;
	struct gt_spdy_pf_pair pair;
	struct gt_agent_end ag;
	pthread_t thr;
	bool started;
};

struct sp {
	struct gt_api *api;
	char *node, *ns, *pod;
	struct gt_spdy *spdy;
	struct pconn **conns;
	size_t n, cap;
	bool tunnel;
	struct gt_http_upgraded *u;
};

static void *pconn_out(void *arg)
{
	struct pconn *c = arg;
	struct gt_buf b = GT_BUF_INIT;
	int ch;

	gt_buf_init(&b);
	while (gt_agent_end_recv(&c->ag, &ch, &b) == 1) {
		if (ch == GT_CH_STDOUT && b.len) {
			if (gt_spdy_write(c->owner->spdy, c->pair.data_stream, b.data, b.len, false, NULL) < 0)
				break;
		} else if (ch == GT_CH_STATUS) {
			json_t *st = NULL;
			const char *msg;

			gt_json_parse(b.data, b.len, &st, NULL);
			msg = gt_json_str(st, "error") ?: "port-forward failed";
			gt_spdy_write(c->owner->spdy, c->pair.error_stream, msg, strlen(msg), false, NULL);
			json_decref(st);
			break;
		} else if (ch == GT_CH_CLOSE_STDIN) {
			break; /* the pod closed its side */
		}
	}
	gt_buf_release(&b);
	/* kubectl closes the local connection when both streams end */
	gt_spdy_fin(c->owner->spdy, c->pair.data_stream, NULL);
	gt_spdy_fin(c->owner->spdy, c->pair.error_stream, NULL);
	return NULL;
}

static struct pconn *find_conn(struct sp *s, uint32_t stream)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->conns[i]->pair.data_stream == stream || s->conns[i]->pair.error_stream == stream)
			return s->conns[i];
	return NULL;
}

static void new_conn(struct sp *s, const struct gt_spdy_pf_pair *pair)
{
	struct pconn *c = xcalloc(1, sizeof(*c));
	struct gt_err err;

	c->owner = s;
	c->pair = *pair;
	gt_agent_end_init(&c->ag);
	gt_grow((void **)&s->conns, &s->cap, s->n + 1, sizeof(*s->conns));
	s->conns[s->n++] = c;
	gt_err_clear(&err);
	if (gt_agent_end_open_pf(s->api, s->node, s->ns, s->pod, pair->port, &c->ag, &err) < 0) {
		gt_spdy_write(s->spdy, pair->error_stream, err.msg, strlen(err.msg), true, NULL);
		gt_spdy_fin(s->spdy, pair->data_stream, NULL);
		return;
	}
	c->started = pthread_create(&c->thr, NULL, pconn_out, c) == 0;
}

static void sp_run(struct sp *s, const struct gt_spdy_io *io)
{
	struct gt_spdy_pf pf;
	struct gt_spdy_event ev;

	if (gt_spdy_new(io, &s->spdy, NULL) < 0)
		return;
	gt_spdy_pf_init(&pf);
	while (gt_spdy_next(s->spdy, &ev, NULL) == 1) {
		if (ev.type == GT_SPDY_EV_STREAM) {
			struct gt_spdy_pf_pair pair;

			if (gt_spdy_pf_add(&pf, &ev, &pair, NULL) == 1)
				new_conn(s, &pair);
		} else if (ev.type == GT_SPDY_EV_DATA) {
			struct pconn *c = find_conn(s, ev.stream);

			if (!c || c->pair.data_stream != ev.stream || c->ag.fd < 0)
				continue;
			if (ev.len)
				gt_agent_end_send(&c->ag, GT_CH_STDIN, ev.data, ev.len);
			if (ev.fin)
				gt_agent_end_send(&c->ag, GT_CH_CLOSE_STDIN, NULL, 0);
		} else if (ev.type == GT_SPDY_EV_RESET) {
			struct pconn *c = find_conn(s, ev.stream);

			gt_spdy_pf_forget(&pf, ev.stream);
			if (c && c->ag.fd >= 0)
				shutdown(c->ag.fd, SHUT_RDWR);
		}
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->conns[i]->ag.fd >= 0)
			shutdown(s->conns[i]->ag.fd, SHUT_RDWR);
	for (size_t i = 0; i < s->n; i++) {
		if (s->conns[i]->started)
			pthread_join(s->conns[i]->thr, NULL);
		gt_agent_end_release(&s->conns[i]->ag);
		free(s->conns[i]);
	}
	free(s->conns);
	s->conns = NULL;
	s->n = 0;
	gt_spdy_pf_release(&pf);
	gt_spdy_free(s->spdy);
	s->spdy = NULL;
}

static void sp_main(void *ctx, struct gt_http_upgraded *u)
{
	struct sp *s = ctx;

	s->u = u;
	if (s->tunnel) {
		struct gt_ws_io wio = { gt_upgraded_read, gt_upgraded_write, u };
		struct gt_ws *ws = gt_ws_new(&wio, NULL);
		struct gt_chan_tunnel t;
		struct gt_ws_io tio;
		struct gt_spdy_io io;

		gt_chan_tunnel_init(&t, ws);
		tio = gt_chan_tunnel_io(&t);
		io.read = tio.read;
		io.write = tio.write;
		io.ctx = tio.ctx;
		sp_run(s, &io);
		gt_ws_close(ws, 1000, NULL);
		gt_chan_tunnel_release(&t);
		gt_ws_free(ws);
	} else {
		struct gt_spdy_io io = { gt_upgraded_read, gt_upgraded_write, u };

		sp_run(s, &io);
	}
}

static void sp_free(void *ctx)
{
	struct sp *s = ctx;

	free(s->node);
	free(s->ns);
	free(s->pod);
	free(s);
}

void gt_spdy_serve_portforward(struct gt_api *api, struct gt_http_req *req, const char *node,
			       const char *ns, const char *pod, const char *tunnel_accept,
			       const char *tunnel_proto)
{
	static const char *const pf_versions[] = { "portforward.k8s.io", NULL };
	struct sp *s;

	if (!tunnel_accept && !pick_version(req, pf_versions)) {
		gt_http_add_header(req, "X-Accepted-Stream-Protocol-Versions", "portforward.k8s.io");
		gt_reply_errorf(req, -EACCES, "unable to upgrade: port-forward needs portforward.k8s.io");
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->api = api;
	s->node = xstrdup(node);
	s->ns = xstrdup(ns);
	s->pod = xstrdup(pod);
	s->tunnel = tunnel_accept != NULL;
	if (s->tunnel) {
		gt_http_add_header(req, "Upgrade", "websocket");
		gt_http_add_header(req, "Sec-WebSocket-Accept", tunnel_accept);
		gt_http_add_header(req, "Sec-WebSocket-Protocol", tunnel_proto);
	} else {
		gt_http_add_header(req, "Upgrade", "SPDY/3.1");
		gt_http_add_header(req, "X-Stream-Protocol-Version", "portforward.k8s.io");
	}
	gt_http_reply_upgrade(req, 101, sp_main, s, sp_free);
}
