/*
 * exec.c - pods/exec and pods/portforward: the client's protocol
 * (WebSocket v4/v5 channels for the Python client and kubectl 1.30+,
 * SPDY/3.1 for kubectl 1.20 and as the fallback) is agreed BEFORE anything
 * runs, the node agent's stream is opened, and then the two are bridged:
 * the agent speaks the internal framing of http/chanframe.h.
 */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apiserver/agentconn.h"
#include "apiserver/channels.h"
#include "apiserver/internal.h"
#include "apiserver/stream_int.h"
#include "apiserver/ws.h"
#include "base/log.h"
#include "http/chanframe.h"

/* ---- the agent side of a bridge ---- */

void gt_agent_end_init(struct gt_agent_end *a)
{
	memset(a, 0, sizeof(*a));
	a->fd = -1;
	gt_buf_init(&a->pending);
	pthread_mutex_init(&a->wlock, NULL);
}

void gt_agent_end_release(struct gt_agent_end *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	free(a->raw_error);
	a->raw_error = NULL;
	gt_buf_release(&a->pending);
	pthread_mutex_destroy(&a->wlock);
}

int gt_agent_end_open(struct gt_api *api, const char *node, const char *path,
		      struct gt_agent_end *a, struct gt_err *err)
{
	return gt_agent_dial(api, node, path, &a->fd, &a->pending, err);
}

int gt_agent_end_open_pf(struct gt_api *api, const char *node, const char *ns, const char *pod,
			 unsigned port, struct gt_agent_end *a, struct gt_err *err)
{
	char path[600];
	int r = 0;

	pthread_rwlock_rdlock(&api->local_lock);
	if (api->has_local && !strcmp(api->local.node, node)) {
		struct gt_err e;

		gt_err_clear(&e);
		r = api->local.pf_dial(api->local.ctx, ns, pod, (int)port, &a->fd, &e);
		if (r == -ENOENT) {
			gt_err_set(err, r, "%s", e.msg);
		} else {
			if (r < 0)
				a->raw_error = xstrdup(e.msg);
			a->raw = true;
			r = 0;
		}
	}
	pthread_rwlock_unlock(&api->local_lock);
	if (r < 0 || a->raw)
		return r;
	snprintf(path, sizeof(path), "/portforward/%s/%s?port=%u", ns, pod, port);
	return gt_agent_end_open(api, node, path, a, err);
}

static ssize_t agent_read(void *ctx, void *buf, size_t n)
{
	struct gt_agent_end *a = ctx;

	if (a->off < a->pending.len) {
		size_t k = a->pending.len - a->off;

		if (k > n)
			k = n;
		memcpy(buf, a->pending.data + a->off, k);
		a->off += k;
		return (ssize_t)k;
	}
	for (;;) {
		ssize_t r = read(a->fd, buf, n);

		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -errno : r;
	}
}

/* The pod's socket as the agent's frames: its bytes as GT_CH_STDOUT, its
 * end as GT_CH_CLOSE_STDIN, a refused connection as GT_CH_STATUS. */
static int raw_recv(struct gt_agent_end *a, int *ch, struct gt_buf *payload)
{
	ssize_t n;

	gt_buf_reset(payload);
	if (a->raw_error) {
		json_t *st = json_pack("{s:s}", "error", a->raw_error);
		size_t len;
		char *j = gt_json_dump(st, &len);

		gt_buf_add(payload, j, len);
		free(j);
		json_decref(st);
		free(a->raw_error);
		a->raw_error = NULL;
		a->raw_eof = true;
		*ch = GT_CH_STATUS;
		return 1;
	}
	if (a->raw_eof || a->fd < 0)
		return 0;
	gt_buf_reserve(payload, GT_CHAN_BULK);
	do
		n = read(a->fd, payload->data, GT_CHAN_BULK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0) {
		a->raw_eof = true;
		*ch = GT_CH_CLOSE_STDIN;  /* the pod closed its side */
		return 1;
	}
	payload->len = (size_t)n;
	payload->data[n] = '\0';
	*ch = GT_CH_STDOUT;
	return 1;
}

int gt_agent_end_recv(struct gt_agent_end *a, int *ch, struct gt_buf *payload)
{
	return a->raw ? raw_recv(a, ch, payload) : gt_chan_read(agent_read, a, ch, payload);
}

static int agent_write(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct gt_agent_end *a = ctx;

	return gt_writev_all(a->fd, iov, iovcnt) < 0 ? -EPIPE : 0;
}

int gt_agent_end_send(struct gt_agent_end *a, int ch, const void *data, size_t len)
{
	int r = 0;

	pthread_mutex_lock(&a->wlock);
	if (!a->raw) {
		r = gt_chan_write(agent_write, a, ch, data, len);
	} else if (a->fd >= 0 && ch == GT_CH_STDIN && len) {
		struct iovec iov = { (void *)data, len };

		r = gt_writev_all(a->fd, &iov, 1) < 0 ? -EPIPE : 0;
	} else if (a->fd >= 0 && ch == GT_CH_CLOSE_STDIN) {
		shutdown(a->fd, SHUT_WR);
	}
	pthread_mutex_unlock(&a->wlock);
	return r;
}

ssize_t gt_upgraded_read(void *ctx, void *buf, size_t n)
{
	return gt_http_upgraded_read(ctx, buf, n);
}

int gt_upgraded_write(void *ctx, const void *buf, size_t n)
{
	return gt_http_upgraded_write(ctx, buf, n);
}

/* ---- WebSocket exec ---- */

struct ws_exec {
	struct gt_api *api;
	struct gt_agent_end ag;
	const struct gt_chan_proto *proto;
	char **argv;
	size_t argc;
	bool out, errs;
	struct gt_ws *ws;
	struct gt_http_upgraded *u;
};

/* agent → client */
static void *ws_exec_out(void *arg)
{
	struct ws_exec *x = arg;
	struct gt_buf b = GT_BUF_INIT;
	bool done = false;
	int ch;

	gt_buf_init(&b);
	while (!done && gt_agent_end_recv(&x->ag, &ch, &b) == 1) {
		if (ch == GT_CH_STDOUT || ch == GT_CH_STDERR) {
			if (b.len)
				gt_chan_send(x->ws, x->proto, ch == GT_CH_STDOUT ? GT_CHAN_STDOUT : GT_CHAN_STDERR,
					     b.data, b.len);
		} else if (ch == GT_CH_STATUS) {
			json_t *st = NULL;
			int64_t code = 0;

			gt_json_parse(b.data, b.len, &st, NULL);
			if (gt_json_int(st, "exitCode", &code) == 0)
				gt_chan_send_exit(x->ws, x->proto, (int)code, (const char *const *)x->argv,
						  x->argc);
			else
				gt_chan_send_error(x->ws, x->proto, -EIO,
						   gt_json_str(st, "error") ?: "the command could not run");
			json_decref(st);
			done = true;
		}
	}
	if (!done)
		gt_chan_send_error(x->ws, x->proto, -EIO, "the node agent closed the stream");
	gt_ws_close(x->ws, 1000, NULL);
	gt_buf_release(&b);
	/* the client answers our close; if it does not, do not wait forever */
	{
		struct pollfd pfd = { .fd = gt_http_upgraded_fd(x->u), .events = POLLIN };

		poll(&pfd, 1, 2000);
	}
	gt_http_upgraded_shutdown(x->u, SHUT_RDWR);
	return NULL;
}

static void ws_exec_main(void *ctx, struct gt_http_upgraded *u)
{
	struct ws_exec *x = ctx;
	struct gt_ws_io io = { gt_upgraded_read, gt_upgraded_write, u };
	struct gt_buf msg = GT_BUF_INIT;
	struct gt_err err;
	pthread_t out;
	int op;

	x->u = u;
	x->ws = gt_ws_new(&io, NULL);
	gt_chan_exec_hello(x->ws, x->proto, x->out, x->errs);
	pthread_create(&out, NULL, ws_exec_out, x);
	gt_buf_init(&msg);
	gt_err_clear(&err);
	while (gt_ws_recv(x->ws, &op, &msg, &err) == 1) {
		struct gt_chan_msg m;

		if (gt_chan_parse(x->proto, op, &msg, GT_CHAN_EXEC_CHANNELS, &m, NULL) < 0)
			break;
		if (m.kind == GT_CHAN_MSG_DATA && m.channel == GT_CHAN_STDIN)
			gt_agent_end_send(&x->ag, GT_CH_STDIN, m.data, m.len);
		else if (m.kind == GT_CHAN_MSG_DATA && m.channel == GT_CHAN_RESIZE)
			gt_agent_end_send(&x->ag, GT_CH_RESIZE, m.data, m.len);
		else if (m.kind == GT_CHAN_MSG_CLOSE && m.channel == GT_CHAN_STDIN)
			gt_agent_end_send(&x->ag, GT_CH_CLOSE_STDIN, NULL, 0);
	}
	/* client gone or done: the agent ends the process and the stream */
	shutdown(x->ag.fd, SHUT_WR);
	pthread_join(out, NULL);
	gt_buf_release(&msg);
	gt_ws_free(x->ws);
}

static void ws_exec_free(void *ctx)
{
	struct ws_exec *x = ctx;

	gt_agent_end_release(&x->ag);
	for (size_t i = 0; i < x->argc; i++)
		free(x->argv[i]);
	free(x->argv);
	free(x);
}

/* ---- WebSocket port-forward (the Python client) ---- */

struct ws_pf {
	struct gt_ws *ws;
	const struct gt_chan_proto *proto;
	size_t n;
	struct gt_agent_end ag[GT_CHAN_PF_MAX_PORTS];
	pthread_t thr[GT_CHAN_PF_MAX_PORTS];
	uint16_t ports[GT_CHAN_PF_MAX_PORTS];
	struct gt_http_upgraded *u;
	_Atomic int open;
};

struct pf_arg {
	struct ws_pf *x;
	size_t i;
};

static void *ws_pf_out(void *arg)
{
	struct pf_arg *pa = arg;
	struct ws_pf *x = pa->x;
	struct gt_buf b = GT_BUF_INIT;
	int ch;

	gt_buf_init(&b);
	while (gt_agent_end_recv(&x->ag[pa->i], &ch, &b) == 1) {
		if (ch == GT_CH_STDOUT && b.len)
			gt_chan_send(x->ws, x->proto, GT_CHAN_PF_DATA(pa->i), b.data, b.len);
		else if (ch == GT_CH_STATUS) {
			json_t *st = NULL;

			gt_json_parse(b.data, b.len, &st, NULL);
			gt_chan_send(x->ws, x->proto, GT_CHAN_PF_ERROR(pa->i), gt_json_str(st, "error") ?: "",
				     strlen(gt_json_str(st, "error") ?: ""));
			json_decref(st);
			break;
		} else if (ch == GT_CH_CLOSE_STDIN) {
			break;
		}
	}
	gt_buf_release(&b);
	if (atomic_fetch_sub(&x->open, 1) == 1) {
		/* every port's connection ended: end the session */
		gt_ws_close(x->ws, 1000, NULL);
		gt_http_upgraded_shutdown(x->u, SHUT_RDWR);
	}
	free(pa);
	return NULL;
}

static void ws_pf_main(void *ctx, struct gt_http_upgraded *u)
{
	struct ws_pf *x = ctx;
	struct gt_ws_io io = { gt_upgraded_read, gt_upgraded_write, u };
	struct gt_buf msg = GT_BUF_INIT;
	int op;

	x->u = u;
	x->ws = gt_ws_new(&io, NULL);
	atomic_store(&x->open, (int)x->n);
	for (size_t i = 0; i < x->n; i++) {
		struct pf_arg *pa = xmalloc(sizeof(*pa));

		gt_chan_pf_preamble(x->ws, x->proto, i, x->ports[i]);
		pa->x = x;
		pa->i = i;
		pthread_create(&x->thr[i], NULL, ws_pf_out, pa);
	}
	gt_buf_init(&msg);
	while (gt_ws_recv(x->ws, &op, &msg, NULL) == 1) {
		struct gt_chan_msg m;

		if (gt_chan_parse(x->proto, op, &msg, (unsigned)(2 * x->n), &m, NULL) < 0)
			break;
		if (m.kind == GT_CHAN_MSG_DATA && m.channel % 2 == 0 && m.len)
			gt_agent_end_send(&x->ag[m.channel / 2], GT_CH_STDIN, m.data, m.len);
		else if (m.kind == GT_CHAN_MSG_CLOSE && m.channel % 2 == 0)
			gt_agent_end_send(&x->ag[m.channel / 2], GT_CH_CLOSE_STDIN, NULL, 0);
	}
	for (size_t i = 0; i < x->n; i++)
		shutdown(x->ag[i].fd, SHUT_RDWR);
	for (size_t i = 0; i < x->n; i++)
		pthread_join(x->thr[i], NULL);
	gt_buf_release(&msg);
	gt_ws_free(x->ws);
}

static void ws_pf_free(void *ctx)
{
	struct ws_pf *x = ctx;

	for (size_t i = 0; i < x->n; i++)
		gt_agent_end_release(&x->ag[i]);
	free(x);
}

/* ---- the handler ---- */

static bool qflag(struct gt_http_req *req, const char *name)
{
	const char *v = gt_http_query(req, name);
	bool b = false;

	return v && gt_parse_bool(v, &b) == 0 && b;
}

static void add_escaped(struct gt_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			gt_buf_addc(b, (char)c);
		else
			gt_buf_addf(b, "%%%02X", c);
	}
}

static const char *offered_protocols(struct gt_http_req *req, char *buf, size_t n)
{
	const char *vals[16];
	size_t k = gt_http_header_all(req, "Sec-WebSocket-Protocol", vals, 16), len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < k && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", vals[i]);
	return k ? buf : NULL;
}

void gt_handle_pod_stream(struct gt_api *api, struct gt_http_req *req, struct route *rt);
void gt_handle_pod_stream(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	bool pf = !strcmp(rt->sub, "portforward");
	const char *upgrade = gt_http_header(req, "Upgrade");
	struct gt_obj *pod = NULL;
	struct gt_buf path = GT_BUF_INIT;
	const char *node, *cname = NULL, *argv[256];
	size_t argc = 0;
	struct gt_err err;
	char offered[1024];

	bool attach = !strcmp(rt->sub, "attach");

	gt_err_clear(&err);
	if (!upgrade) {
		gt_reply_errorf(req, -EINVAL, "Upgrade request required");
		return;
	}
	if (gt_api_get(api, rt->res, rt->ns, rt->name, &pod, &err) < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	node = gt_json_str(pod->obj, "spec.nodeName");
	if (!node || strcmp(gt_json_str(pod->obj, "status.phase") ?: "", "Running")) {
		gt_reply_errorf(req, -EINVAL, "pod %s is not running (phase %s)", rt->name,
				gt_json_str(pod->obj, "status.phase") ?: "Pending");
		goto out;
	}
	gt_buf_init(&path);
	if (!pf) {
		json_t *cs = gt_json_path(pod->obj, "spec.containers"), *c;
		const char *want = gt_http_query(req, "container");
		size_t i;

		argc = attach ? 0 : gt_http_query_all(req, "command", argv, 256);
		json_array_foreach(cs, i, c)
			if (!want || !*want ? i == 0 : !strcmp(gt_json_str(c, "name") ?: "", want))
				cname = gt_json_str(c, "name");
		if (!cname) {
			gt_reply_errorf(req, -EINVAL, "container %s is not valid for pod %s", want ? want : "",
					rt->name);
			goto out;
		}
		if (!argc && !attach) {
			gt_reply_errorf(req, -EINVAL, "you must specify at least one command for the container");
			goto out;
		}
		gt_buf_addf(&path, "/%s/%s/%s/%s?", attach ? "attach" : "exec", rt->ns, rt->name, cname);
		for (i = 0; i < argc; i++) {
			gt_buf_adds(&path, "command=");
			add_escaped(&path, argv[i]);
			gt_buf_addc(&path, '&');
		}
		gt_buf_addf(&path, "stdin=%d&stdout=%d&stderr=%d&tty=%d", qflag(req, "stdin"),
			    qflag(req, "stdout"), qflag(req, "stderr"), qflag(req, "tty"));
	}

	if (gt_ws_is_upgrade(upgrade)) {
		char accept[29];
		const char *chosen = NULL;
		int r;

		if (gt_ws_check_request(upgrade, gt_http_header(req, "Connection"),
					gt_http_header(req, "Sec-WebSocket-Version"),
					gt_http_header(req, "Sec-WebSocket-Key"), accept, &err) < 0) {
			gt_reply_error(req, &err, NULL);
			goto out;
		}
		r = gt_ws_pick_protocol(offered_protocols(req, offered, sizeof(offered)),
					pf ? gt_chan_portforward_protocols : gt_chan_exec_protocols,
					&chosen, &err);
		if (r < 0) {
			/* no common protocol: refuse before anything runs (kubectl then tries SPDY) */
			gt_reply_errorf(req, -EACCES, "unable to upgrade: no supported protocol among %s",
					offered);
			goto out;
		}
		if (chosen && gt_chan_proto_get(chosen)->tunnel) {
			gt_spdy_serve_portforward(api, req, node, rt->ns, rt->name, accept, chosen);
			goto out;
		}
		gt_http_add_header(req, "Upgrade", "websocket");
		gt_http_add_header(req, "Sec-WebSocket-Accept", accept);
		if (chosen && *chosen)
			gt_http_add_header(req, "Sec-WebSocket-Protocol", chosen);
		if (pf) {
			struct ws_pf *x = xcalloc(1, sizeof(*x));
			const char *pv[GT_CHAN_PF_MAX_PORTS];
			size_t nv = gt_http_query_all(req, "ports", pv, GT_CHAN_PF_MAX_PORTS);

			x->proto = gt_chan_proto_get(chosen ? chosen : "");
			if (gt_chan_pf_parse_ports(pv, nv, x->ports, GT_CHAN_PF_MAX_PORTS, &x->n, &err) < 0 ||
			    x->n == 0) {
				free(x);
				if (!err.code)
					gt_err_set(&err, -EINVAL, "query parameter \"port\" is required");
				gt_reply_error(req, &err, NULL);
				goto out;
			}
			for (size_t i = 0; i < x->n; i++) {
				gt_agent_end_init(&x->ag[i]);
				if (gt_agent_end_open_pf(api, node, rt->ns, rt->name, x->ports[i], &x->ag[i],
							 &err) < 0) {
					gt_agent_end_release(&x->ag[i]);
					x->n = i;
					ws_pf_free(x);
					gt_reply_error(req, &err, NULL);
					goto out;
				}
			}
			gt_http_reply_upgrade(req, 101, ws_pf_main, x, ws_pf_free);
		} else {
			struct ws_exec *x = xcalloc(1, sizeof(*x));

			x->api = api;
			x->proto = gt_chan_proto_get(chosen ? chosen : "");
			x->out = qflag(req, "stdout");
			x->errs = qflag(req, "stderr");
			x->argv = xcalloc(argc, sizeof(char *));
			for (size_t i = 0; i < argc; i++)
				x->argv[i] = xstrdup(argv[i]);
			x->argc = argc;
			gt_agent_end_init(&x->ag);
			if (gt_agent_end_open(api, node, path.data, &x->ag, &err) < 0) {
				ws_exec_free(x);
				gt_reply_error(req, &err, NULL);
				goto out;
			}
			gt_http_reply_upgrade(req, 101, ws_exec_main, x, ws_exec_free);
		}
		goto out;
	}
	if (!strncasecmp(upgrade, "SPDY/3.1", 8)) {
		if (pf)
			gt_spdy_serve_portforward(api, req, node, rt->ns, rt->name, NULL, NULL);
		else
			gt_spdy_serve_exec(api, req, node, path.data, argv, argc, qflag(req, "stdin"),
					   qflag(req, "stdout"), qflag(req, "stderr"), qflag(req, "tty"));
		goto out;
	}
	gt_reply_errorf(req, -EINVAL, "unsupported upgrade \"%s\"", upgrade);
out:
	gt_buf_release(&path);
	gt_obj_unref(pod);
}
