/*
 * exec.c - `gantry exec`: runs a command in a pod's container through the
 * API server's WebSocket exec (v5.channel.k8s.io, falling back to
 * v4.channel.k8s.io), with kubectl's semantics: -i relays stdin (EOF sends
 * the v5 CLOSE signal), -t asks for a terminal (local terminal in raw mode,
 * resizes on channel 4), the exit code comes from the final Status.
 *
 * It also holds the WebSocket dialer that `gantry port-forward` shares
 * (gt_cli_ws_dial): an HTTP/1.1 Upgrade over http/tlsconn.h, checked
 * against the accept key and the offered subprotocols.
 *
 * Threads: the main thread reads the WebSocket; a stdin thread (-i) sends
 * channel 0; a signal thread (sigwait) sends resizes on SIGWINCH and
 * restores the terminal before dying on SIGINT/SIGTERM/SIGHUP.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "apiserver/channels.h"
#include "apiserver/ws.h"
#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"
#include "client/client.h"
#include "codec/json.h"
#include "http/tlsconn.h"

/* ---- shared dialer ---- */

int gt_cli_client(const char *path, struct gt_client **out, struct gt_err *err)
{
	const char *env = getenv("KUBECONFIG");

	if (!path && (!env || !*env) && access("/var/lib/gantry/admin.kubeconfig", R_OK) == 0)
		path = "/var/lib/gantry/admin.kubeconfig";
	return gt_client_from_kubeconfig(path, out, err);
}

void gt_cli_urlencode(struct gt_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~", ch))
			gt_buf_addc(b, (char)ch);
		else
			gt_buf_addf(b, "%%%02X", ch);
	}
}

/* Turns a non-101 answer into err: the Status message when there is one. */
static int refused(struct gt_tlsconn *conn, int status, const char *head, struct gt_err *err)
{
	struct gt_buf body;
	char v[32], tmp[4096];
	long want = -1;
	ssize_t r;
	json_t *st;
	int code = status == 404 ? -ENOENT : status == 401 ? -ENOKEY : status == 403 ? -EACCES
		 : status >= 500 ? -EIO : -EINVAL;

	if (gt_http_head_value(head, "Content-Length", v, sizeof(v)))
		want = strtol(v, NULL, 10);
	gt_buf_init(&body);
	while ((want < 0 || (long)body.len < want) && body.len < 65536 &&
	       (r = gt_tlsconn_read(conn, tmp, sizeof(tmp))) > 0)
		gt_buf_add(&body, tmp, (size_t)r);
	st = json_loadb(body.data, body.len, 0, NULL);
	if (st && gt_json_str(st, "message")) {
		const char *reason = gt_json_str(st, "reason");

		if (reason && *reason)
			gt_err_set(err, code, "Error from server (%s): %s", reason,
				   gt_json_str(st, "message"));
		else
			gt_err_set(err, code, "Error from server: %s", gt_json_str(st, "message"));
	} else {
		gt_err_set(err, code, "error: the server answered HTTP %d: %.200s", status, body.data);
	}
	json_decref(st);
	gt_buf_release(&body);
	return code;
}

int gt_cli_ws_dial(struct gt_client *c, const char *path, const char *protocols,
		   struct gt_cli_ws *out, struct gt_err *err)
{
	struct gt_tlsconn_opts o = { .ca_pem = gt_client_ca_pem(c), .ca_file = gt_client_ca_file(c),
				     .insecure = gt_client_insecure(c) };
	const char *server = gt_client_server(c), *token = gt_client_token(c), *prefix;
	struct gt_ws_opts wo = { .client = true };
	struct gt_tlsconn *conn = NULL;
	struct gt_buf req, head;
	struct gt_ws_io io;
	char key[25], accept[29], v[256];
	int r, status;

	memset(out, 0, sizeof(*out));
	if ((r = gt_tlsconn_dial(server, &o, &conn, err)) < 0)
		return gt_err_prefix(err, r, "error: %s", server);
	prefix = strstr(server, "://") + 3;
	prefix += strcspn(prefix, "/");
	gt_ws_client_key(key);
	if (gt_ws_accept_key(key, accept) < 0)
		GT_BUG("bad generated WebSocket key");
	gt_buf_init(&req);
	gt_buf_init(&head);
	gt_buf_addf(&req, "GET %s%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
		    "Sec-WebSocket-Protocol: %s\r\nUser-Agent: gantry/" GT_VERSION "\r\n",
		    prefix, path, gt_tlsconn_authority(conn), key, protocols);
	if (token)
		gt_buf_addf(&req, "Authorization: Bearer %s\r\n", token);
	gt_buf_adds(&req, "\r\n");
	r = gt_tlsconn_write(conn, req.data, req.len);
	if (r < 0)
		gt_err_set(err, r, "error: sending the request: %s", strerror(-r));
	else if ((r = gt_tlsconn_read_head(conn, &head, 65536, err)) < 0)
		gt_err_prefix(err, r, "error");
	else if ((status = gt_http_head_status(head.data)) < 0)
		r = gt_err_set(err, -EPROTO, "error: not an HTTP response from %s", server);
	else if (status != 101)
		r = refused(conn, status, head.data, err);
	else if (!gt_http_head_value(head.data, "Sec-WebSocket-Accept", v, sizeof(v)) || strcmp(v, accept))
		r = gt_err_set(err, -EPROTO, "error: bad Sec-WebSocket-Accept from the server");
	else if (!gt_http_head_value(head.data, "Sec-WebSocket-Protocol", v, sizeof(v)) ||
		 !(out->proto = gt_chan_proto_get(v)) || out->proto->base64 || out->proto->tunnel)
		r = gt_err_set(err, -EPROTO, "error: the server chose no usable subprotocol "
			       "(offered %s)", protocols);
	gt_buf_release(&req);
	gt_buf_release(&head);
	if (r < 0) {
		gt_tlsconn_close(conn);
		return r;
	}
	io.read = gt_tlsconn_read;
	io.write = gt_tlsconn_write;
	io.ctx = conn;
	out->conn = conn;
	out->ws = gt_ws_new(&io, &wo);
	return 0;
}

void gt_cli_ws_close(struct gt_cli_ws *w)
{
	gt_ws_free(w->ws);
	gt_tlsconn_close(w->conn);
	memset(w, 0, sizeof(*w));
}

/* ---- gantry exec ---- */

static const char exec_usage[] =
	"usage: gantry exec [-i] [-t] [-n NAMESPACE] [-c CONTAINER] [--kubeconfig FILE] POD -- "
	"COMMAND [ARGS...]\n\n"
	"Runs COMMAND in a container of POD through the API server (WebSocket exec), like\n"
	"`kubectl exec`.  The exit status is the command's; a failure to start it is 1.\n\n"
	"  -i, --stdin              pass standard input to the command (EOF closes it)\n"
	"  -t, --tty                allocate a terminal (the local one goes into raw mode;\n"
	"                           needs a terminal on standard input)\n"
	"  -n, --namespace NS       the pod's namespace (default \"default\")\n"
	"  -c, --container NAME     the container (default: the pod's only/first one)\n"
	"      --kubeconfig FILE    kubeconfig to use (default: $KUBECONFIG, then\n"
	"                           /var/lib/gantry/admin.kubeconfig, then ~/.kube/config)\n"
	"  -h, --help               show this help\n";

static struct {
	struct gt_cli_ws w;
	bool tty;
	bool raw;
	struct termios saved;
} ex;

static void restore_terminal(void)
{
	if (ex.raw) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &ex.saved);
		ex.raw = false;
	}
}

static void send_resize(void)
{
	struct winsize ws;
	char js[64];
	int n;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return;
	n = snprintf(js, sizeof(js), "{\"Width\":%u,\"Height\":%u}", ws.ws_col, ws.ws_row);
	gt_chan_send(ex.w.ws, ex.w.proto, GT_CHAN_RESIZE, js, (size_t)n);
}

static void *signal_main(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig))
			continue;
		if (sig == SIGWINCH) {
			if (ex.tty)
				send_resize();
			continue;
		}
		restore_terminal();
		_exit(128 + sig);
	}
	return NULL;
}

static void *stdin_main(void *arg)
{
	char buf[32768];
	ssize_t n;
	int old;

	(void)arg;
	for (;;) {
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
		n = read(STDIN_FILENO, buf, sizeof(buf));
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (gt_chan_send(ex.w.ws, ex.w.proto, GT_CHAN_STDIN, buf, (size_t)n) < 0)
			return NULL;
	}
	if (ex.w.proto->close_signal) {
		unsigned char sig[2] = { GT_CHAN_CLOSE_SIGNAL, GT_CHAN_STDIN };

		gt_ws_send(ex.w.ws, GT_WS_BINARY, sig, sizeof(sig));
	}
	return NULL;
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* The exit status a Status JSON means, messages printed. */
static int status_exit(const char *js, size_t len)
{
	json_t *st = json_loadb(js, len, 0, NULL);
	const char *s = gt_json_str(st, "status"), *reason = gt_json_str(st, "reason");
	const char *msg = gt_json_str(st, "message");
	int code = 1;

	restore_terminal();
	if (s && !strcmp(s, "Success")) {
		code = 0;
	} else if (reason && !strcmp(reason, "NonZeroExitCode")) {
		json_t *causes = gt_json_path(st, "details.causes");

		for (size_t i = 0; i < json_array_size(causes); i++) {
			const char *cr = gt_json_str(json_array_get(causes, i), "reason");
			const char *cm = gt_json_str(json_array_get(causes, i), "message");

			if (cr && !strcmp(cr, "ExitCode") && cm)
				code = atoi(cm);
		}
		if (code <= 0 || code > 255)
			code = 1;
		fprintf(stderr, "command terminated with exit code %d\n", code);
	} else {
		fprintf(stderr, "error: %s\n", msg ? msg : (st ? "exec failed" : js));
	}
	json_decref(st);
	return code;
}

static int relay(void)
{
	struct gt_buf msg, status;
	struct gt_chan_msg m;
	struct gt_err err = { 0 };
	int op, r, code = -1;

	gt_buf_init(&msg);
	gt_buf_init(&status);
	while ((r = gt_ws_recv(ex.w.ws, &op, &msg, &err)) > 0) {
		if (gt_chan_parse(ex.w.proto, op, &msg, GT_CHAN_EXEC_CHANNELS, &m, &err) < 0)
			break;
		if (m.kind != GT_CHAN_MSG_DATA)
			continue;
		if (m.channel == GT_CHAN_STDOUT)
			write_all(STDOUT_FILENO, m.data, m.len);
		else if (m.channel == GT_CHAN_STDERR)
			write_all(STDERR_FILENO, m.data, m.len);
		else if (m.channel == GT_CHAN_ERROR)
			gt_buf_add(&status, m.data, m.len);
	}
	if (status.len)
		code = status_exit(status.data, status.len);
	else if (r == 0 && gt_ws_peer_close_code(ex.w.ws) == GT_WS_CLOSE_NORMAL)
		code = 0;
	if (code < 0) {
		restore_terminal();
		fprintf(stderr, "error: the exec stream ended without a status: %s\n",
			err.msg[0] ? err.msg : "connection closed");
		code = 1;
	}
	gt_buf_release(&msg);
	gt_buf_release(&status);
	return code;
}

int gt_cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdin", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "container", required_argument, NULL, 'c' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *ns = "default", *container = NULL, *kc = NULL, *pod;
	bool in = false;
	struct gt_client *c = NULL;
	struct gt_err err = { 0 };
	struct gt_buf path;
	pthread_t sig_thr, in_thr;
	sigset_t set;
	int o, code;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+itn:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'i': in = true; break;
		case 't': ex.tty = true; break;
		case 'n': ns = optarg; break;
		case 'c': container = optarg; break;
		case 'k': kc = optarg; break;
		case 'h': fputs(exec_usage, stdout); return 0;
		default: fputs(exec_usage, stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "error: a pod name is required\n%s", exec_usage);
		return 2;
	}
	pod = argv[optind++];
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc) {
		fprintf(stderr, "error: a command is required after --\n%s", exec_usage);
		return 2;
	}
	if (!*pod || !*ns) {
		fprintf(stderr, "error: pod and namespace must not be empty\n");
		return 2;
	}
	if (ex.tty && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "Unable to use a TTY - input is not a terminal or the right kind "
			"of file\n");
		ex.tty = false;
	}
	if (gt_cli_client(kc, &c, &err) < 0) {
		fprintf(stderr, "error: %s\n", err.msg);
		return 1;
	}
	gt_buf_init(&path);
	gt_buf_adds(&path, "/api/v1/namespaces/");
	gt_cli_urlencode(&path, ns);
	gt_buf_adds(&path, "/pods/");
	gt_cli_urlencode(&path, pod);
	gt_buf_adds(&path, "/exec?");
	for (int i = optind; i < argc; i++) {
		gt_buf_adds(&path, "command=");
		gt_cli_urlencode(&path, argv[i]);
		gt_buf_addc(&path, '&');
	}
	if (container) {
		gt_buf_adds(&path, "container=");
		gt_cli_urlencode(&path, container);
		gt_buf_addc(&path, '&');
	}
	gt_buf_addf(&path, "stdin=%s&stdout=true&stderr=%s&tty=%s", in ? "true" : "false",
		    ex.tty ? "false" : "true", ex.tty ? "true" : "false");
	code = gt_cli_ws_dial(c, path.data, "v5.channel.k8s.io, v4.channel.k8s.io", &ex.w, &err);
	gt_buf_release(&path);
	gt_client_free(c);
	if (code < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}

	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (ex.tty && in && tcgetattr(STDIN_FILENO, &ex.saved) == 0) {
		struct termios raw = ex.saved;

		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
			ex.raw = true;
	}
	if (pthread_create(&sig_thr, NULL, signal_main, &set))
		GT_BUG("pthread_create failed");
	pthread_detach(sig_thr);
	if (ex.tty)
		send_resize();
	if (in && pthread_create(&in_thr, NULL, stdin_main, NULL))
		GT_BUG("pthread_create failed");

	code = relay();
	restore_terminal();
	gt_ws_close(ex.w.ws, GT_WS_CLOSE_NORMAL, NULL);
	if (in) {
		pthread_cancel(in_thr);
		pthread_join(in_thr, NULL);
	}
	gt_cli_ws_close(&ex.w);
	return code;
}
