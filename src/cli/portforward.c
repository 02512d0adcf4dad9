/*
 * portforward.c - `gantry port-forward`: listens on 127.0.0.1 ports and,
 * for each accepted connection, opens its own WebSocket to the pod's
 * portforward subresource (v4.channel.k8s.io, one port: channel 0 data,
 * channel 1 error, each opened by a 3-byte [channel, port LE16] preamble)
 * and relays bytes both ways, as `kubectl port-forward` does.
 *
 * Threads: the main thread accepts (poll) until SIGINT/SIGTERM; each
 * connection gets a detached thread that reads the WebSocket and a pump
 * thread that sends what the local socket delivers.  When either side
 * ends, both are closed (local EOF sends a WebSocket close; the server's
 * close or error shuts the local socket down).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apiserver/channels.h"
#include "apiserver/ws.h"
#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"
#include "client/client.h"
#include "codec/json.h"
#include "http/tlsconn.h"

#define MAX_FWD 32

static const char pf_usage[] =
	"usage: gantry port-forward [-n NAMESPACE] [--kubeconfig FILE] POD "
	"[LOCAL:]REMOTE [...]\n\n"
	"Forwards connections to 127.0.0.1:LOCAL to port REMOTE inside POD through the API\n"
	"server (WebSocket port-forward), like `kubectl port-forward`, until interrupted.\n"
	"Port specs: LOCAL:REMOTE, PORT (same local and remote), :REMOTE (a free local port).\n\n"
	"  -n, --namespace NS       the pod's namespace (default \"default\")\n"
	"      --kubeconfig FILE    kubeconfig to use (default: $KUBECONFIG, then\n"
	"                           /var/lib/gantry/admin.kubeconfig, then ~/.kube/config)\n"
	"      --address 127.0.0.1  the address to listen on (only 127.0.0.1 for now)\n"
	"  -h, --help               show this help\n";

struct fwd {
	int lfd;
	unsigned local, remote;
	char path[600];
};

struct conn {
	struct gt_client *client;  /* shared, thread-safe */
	const struct fwd *f;
	int fd;
	struct gt_cli_ws w;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int parse_port(const char *s, size_t n, bool zero_ok)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return (v == 0 && !zero_ok) || v > 65535 ? -1 : (int)v;
}

static int parse_spec(const char *s, struct fwd *f)
{
	const char *colon = strchr(s, ':');
	int l, r;

	if (!colon) {
		l = r = parse_port(s, strlen(s), false);
	} else {
		l = colon == s ? 0 : parse_port(s, (size_t)(colon - s), false);
		r = parse_port(colon + 1, strlen(colon + 1), false);
	}
	if (l < 0 || r < 0)
		return -EINVAL;
	f->local = (unsigned)l;
	f->remote = (unsigned)r;
	return 0;
}

static void *pump_main(void *arg)
{
	struct conn *c = arg;
	char buf[32768];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (gt_chan_send(c->w.ws, c->w.proto, GT_CHAN_PF_DATA(0), buf, (size_t)n) < 0)
			break;
	}
	gt_ws_close(c->w.ws, GT_WS_CLOSE_NORMAL, NULL);
	return NULL;
}

static bool send_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct gt_err err = { 0 };
	struct gt_buf msg, etext;
	struct gt_chan_msg m;
	bool seen[2] = { false, false };
	pthread_t pump;
	int op;

	if (gt_cli_ws_dial(c->client, c->f->path, "v4.channel.k8s.io", &c->w, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		close(c->fd);
		free(c);
		return NULL;
	}
	gt_buf_init(&msg);
	gt_buf_init(&etext);
	if (pthread_create(&pump, NULL, pump_main, c))
		GT_BUG("pthread_create failed");
	while (gt_ws_recv(c->w.ws, &op, &msg, &err) > 0) {
		if (gt_chan_parse(c->w.proto, op, &msg, 2, &m, &err) < 0)
			break;
		if (m.kind != GT_CHAN_MSG_DATA)
			continue;
		if (!seen[m.channel]) {
			/* the [channel, port LE16] preamble */
			seen[m.channel] = true;
			continue;
		}
		if (m.channel == GT_CHAN_PF_DATA(0)) {
			if (!send_all(c->fd, m.data, m.len))
				break;
		} else {
			gt_buf_add(&etext, m.data, m.len);
		}
	}
	if (etext.len)
		fprintf(stderr, "error: an error occurred forwarding %u -> %u: %s\n", c->f->local,
			c->f->remote, etext.data);
	shutdown(c->fd, SHUT_RDWR);
	gt_ws_close(c->w.ws, GT_WS_CLOSE_NORMAL, NULL);
	gt_tlsconn_shutdown(c->w.conn);
	pthread_join(pump, NULL);
	gt_cli_ws_close(&c->w);
	close(c->fd);
	gt_buf_release(&msg);
	gt_buf_release(&etext);
	free(c);
	return NULL;
}

static int listen_on(struct fwd *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->local) };
	socklen_t al = sizeof(a);
	int fd, one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	f->local = ntohs(a.sin_port);
	f->lfd = fd;
	return 0;
}

/* Checks that the pod exists and runs, as kubectl does first. */
static int check_pod(struct gt_client *c, const char *ns, const char *pod)
{
	struct gt_err err = { 0 };
	struct gt_buf path;
	json_t *obj = NULL;
	const char *phase;
	int r;

	gt_buf_init(&path);
	gt_buf_adds(&path, "/api/v1/namespaces/");
	gt_cli_urlencode(&path, ns);
	gt_buf_adds(&path, "/pods/");
	gt_cli_urlencode(&path, pod);
	r = gt_client_get(c, path.data, &obj, &err);
	gt_buf_release(&path);
	if (r == -ENOENT)
		fprintf(stderr, "Error from server (NotFound): %s\n", err.msg);
	else if (r < 0)
		fprintf(stderr, "error: %s\n", err.msg);
	if (r < 0)
		return r;
	phase = gt_json_str(obj, "status.phase");
	if (!phase || strcmp(phase, "Running")) {
		fprintf(stderr, "error: unable to forward port because pod is not running. "
			"Current status=%s\n", phase ? phase : "Unknown");
		r = -EAGAIN;
	}
	json_decref(obj);
	return r;
}

int gt_cmd_port_forward(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "address", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *ns = "default", *kc = NULL, *pod;
	struct fwd fwds[MAX_FWD];
	struct pollfd pfds[MAX_FWD];
	struct gt_client *client = NULL;
	struct gt_err err = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	size_t n = 0;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (o) {
		case 'n': ns = optarg; break;
		case 'k': kc = optarg; break;
		case 'a':
			if (strcmp(optarg, "127.0.0.1") && strcmp(optarg, "localhost")) {
				fprintf(stderr, "error: --address: only 127.0.0.1 is supported\n");
				return 2;
			}
			break;
		case 'h': fputs(pf_usage, stdout); return 0;
		default: fputs(pf_usage, stderr); return 2;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "error: a pod and at least one port are required\n%s", pf_usage);
		return 2;
	}
	pod = argv[optind++];
	if (!*pod || !*ns) {
		fprintf(stderr, "error: pod and namespace must not be empty\n");
		return 2;
	}
	for (; optind < argc; optind++) {
		if (n == MAX_FWD) {
			fprintf(stderr, "error: at most %d ports\n", MAX_FWD);
			return 2;
		}
		if (parse_spec(argv[optind], &fwds[n]) < 0) {
			fprintf(stderr, "error: invalid port specification \"%s\": want LOCAL:REMOTE, "
				"PORT or :REMOTE with ports 1-65535\n", argv[optind]);
			return 2;
		}
		n++;
	}
	if (gt_cli_client(kc, &client, &err) < 0) {
		fprintf(stderr, "error: %s\n", err.msg);
		return 1;
	}
	if (check_pod(client, ns, pod) < 0) {
		gt_client_free(client);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct gt_buf p;

		if ((r = listen_on(&fwds[i])) < 0) {
			fprintf(stderr, "error: unable to listen on 127.0.0.1:%u: %s\n", fwds[i].local,
				strerror(-r));
			for (size_t j = 0; j < i; j++)
				close(fwds[j].lfd);
			gt_client_free(client);
			return 1;
		}
		gt_buf_init(&p);
		gt_buf_adds(&p, "/api/v1/namespaces/");
		gt_cli_urlencode(&p, ns);
		gt_buf_adds(&p, "/pods/");
		gt_cli_urlencode(&p, pod);
		gt_buf_addf(&p, "/portforward?ports=%u", fwds[i].remote);
		snprintf(fwds[i].path, sizeof(fwds[i].path), "%s", p.data);
		gt_buf_release(&p);
		pfds[i].fd = fwds[i].lfd;
		pfds[i].events = POLLIN;
		printf("Forwarding from 127.0.0.1:%u -> %u\n", fwds[i].local, fwds[i].remote);
	}
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	while (!stopping) {
		if (poll(pfds, n, -1) < 0)
			continue; /* EINTR: a signal; the loop condition decides */
		for (size_t i = 0; i < n; i++) {
			struct conn *c;
			pthread_t t;
			int fd;

			if (!(pfds[i].revents & POLLIN))
				continue;
			fd = accept4(fwds[i].lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			printf("Handling connection for %u\n", fwds[i].local);
			fflush(stdout);
			c = xcalloc(1, sizeof(*c));
			c->client = client;
			c->f = &fwds[i];
			c->fd = fd;
			if (pthread_create(&t, NULL, conn_main, c)) {
				close(fd);
				free(c);
				continue;
			}
			pthread_detach(t);
		}
	}
	/* Connection threads still borrow client and fwds: end the process here
	 * (the kernel closes their sockets) instead of freeing under them. */
	for (size_t i = 0; i < n; i++)
		close(fwds[i].lfd);
	fflush(NULL);
	_exit(0);
}
