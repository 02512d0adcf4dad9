/*
 * exec.c - the agent side of exec and port-forward.  The API server opens
 * GET /exec/<ns>/<pod>/<container>?command=..&stdin&stdout&stderr&tty or
 * GET /portforward/<ns>/<pod>?port=P with "Upgrade: gantry-stream" and then
 * speaks the channel framing of http/chanframe.h.  exec runs `runc exec`
 * in the container (a pseudo-terminal for tty, whose size follows resize
 * frames); port-forward connects to 127.0.0.1:P inside the pod's network
 * namespace, so ports that only listen on the pod's localhost work too.
 */
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/log.h"
#include "http/chanframe.h"
#include "http/server.h"

extern char **environ;

struct sess {
	struct gt_agent *a;
	struct gt_http_upgraded *u;
	pthread_mutex_t wlock;
	/* exec */
	char id[256], rroot[4096], runtime[64];
	char **argv;
	size_t argc;
	bool in, out, err, tty;
	/* attach */
	bool attach;
	char dir[4200];         /* the container attempt's directory */
	/* port-forward */
	bool pf;
	char netns[4096];
	int port;
	/* running state */
	char pidfile[4200];     /* where `runc exec --pid-file` puts the process's pid */
	_Atomic bool cancel;    /* the client went: the process is killed */
	_Atomic bool exited;    /* the runtime process ended by itself */
	pid_t pid;
	int fd_in, fd_out, fd_err, master;
};

static int up_write(void *ctx, const struct iovec *iov, int iovcnt)
{
	return gt_http_upgraded_writev(ctx, iov, iovcnt);
}

static ssize_t up_read(void *ctx, void *buf, size_t n)
{
	return gt_http_upgraded_read(ctx, buf, n);
}

static void send_frame(struct sess *s, int ch, const void *data, size_t len)
{
	pthread_mutex_lock(&s->wlock);
	gt_chan_write(up_write, s->u, ch, data, len);
	pthread_mutex_unlock(&s->wlock);
}

static void send_status(struct sess *s, json_t *st)
{
	size_t len;
	char *j = gt_json_dump(st, &len);

	send_frame(s, GT_CH_STATUS, j, len);
	free(j);
	json_decref(st);
}

/* Writes all of buf to fd (a pipe, a pty or a socket); stops at an error. */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t k = write(fd, buf, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		buf += k;
		len -= (size_t)k;
	}
}

struct pump {
	struct sess *s;
	int fd, ch;
	pthread_t thr;
	bool started;
};

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	char *buf = xmalloc(GT_CHAN_BULK);

	for (;;) {
		ssize_t n = read(p->fd, buf, GT_CHAN_BULK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF, or EIO on a pty whose other side closed */
		send_frame(p->s, p->ch, buf, (size_t)n);
	}
	free(buf);
	return NULL;
}

static void start_pump(struct pump *p, struct sess *s, int fd, int ch)
{
	p->s = s;
	p->fd = fd;
	p->ch = ch;
	p->started = fd >= 0 && pthread_create(&p->thr, NULL, pump_main, p) == 0;
}

struct waiter {
	struct sess *s;
	struct pump out, err;
	pthread_t thr;
};

/*
 * Kills the process runc exec started in the container (its pid file): the
 * runtime process alone would die and leave it running, holding the output
 * pipes open.
 */
static void kill_exec_process(struct sess *s)
{
	char buf[32];
	ssize_t n;
	int fd = open(s->pidfile, O_RDONLY | O_CLOEXEC);
	long pid;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	if (pid > 1)
		kill((pid_t)pid, SIGKILL);
}

/* Waits for the process, drains its output, sends the status, ends the session. */
static void *wait_main(void *arg)
{
	struct waiter *w = arg;
	struct sess *s = w->s;
	int status = 0, code;

	while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!atomic_load(&s->cancel))
		atomic_store(&s->exited, true);
	/* a cancel while runc was still starting the process: it may have
	 * written the pid file only now */
	if (atomic_load(&s->cancel))
		kill_exec_process(s);
	if (w->out.started)
		pthread_join(w->out.thr, NULL);
	if (w->err.started)
		pthread_join(w->err.thr, NULL);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	send_status(s, json_pack("{s:i}", "exitCode", code));
	gt_http_upgraded_shutdown(s->u, SHUT_RDWR);
	return NULL;
}

/* A resize frame's {"Width":W,"Height":H}: true with a sane size. */
static bool parse_size(const struct gt_buf *payload, uint16_t *w, uint16_t *h)
{
	json_t *sz = NULL;
	int64_t wd = 0, ht = 0;
	bool ok = gt_json_parse(payload->data, payload->len, &sz, NULL) == 0 &&
		  gt_json_int(sz, "Width", &wd) == 0 && gt_json_int(sz, "Height", &ht) == 0 &&
		  wd > 0 && ht > 0 && wd < 10000 && ht < 10000;

	json_decref(sz);
	*w = (uint16_t)wd;
	*h = (uint16_t)ht;
	return ok;
}

static void run_exec(struct sess *s)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, slave = -1;
	posix_spawn_file_actions_t fa;
	struct waiter w = { .s = s };
	struct gt_buf payload = GT_BUF_INIT;
	char **argv;
	size_t n = 0;
	int ch, r;

	argv = xcalloc(s->argc + 10, sizeof(char *));
	argv[n++] = s->runtime;
	argv[n++] = "--root";
	argv[n++] = s->rroot;
	argv[n++] = "exec";
	argv[n++] = "--pid-file";
	argv[n++] = s->pidfile;
	if (s->tty)
		argv[n++] = "--tty";
	argv[n++] = s->id;
	for (size_t i = 0; i < s->argc; i++)
		argv[n++] = s->argv[i];
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	if (s->tty) {
		if (openpty(&s->master, &slave, NULL, NULL, NULL) < 0) {
			send_status(s, json_pack("{s:s}", "error", "cannot allocate a terminal"));
			goto out;
		}
		fcntl(s->master, F_SETFD, FD_CLOEXEC);
		posix_spawn_file_actions_adddup2(&fa, slave, 0);
		posix_spawn_file_actions_adddup2(&fa, slave, 1);
		posix_spawn_file_actions_adddup2(&fa, slave, 2);
	} else {
		if ((s->in && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
		    pipe2(errp, O_CLOEXEC) < 0) {
			send_status(s, json_pack("{s:s}", "error", "cannot create pipes"));
			goto out;
		}
		if (s->in)
			posix_spawn_file_actions_adddup2(&fa, in[0], 0);
		else
			posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
		posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	}
	r = posix_spawnp(&s->pid, s->runtime, &fa, NULL, argv, environ);
	if (slave >= 0)
		close(slave);
	if (in[0] >= 0)
		close(in[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (errp[1] >= 0)
		close(errp[1]);
	if (r) {
		send_status(s, json_pack("{s:s}", "error", "cannot start the runtime"));
		goto out;
	}
	s->fd_in = s->tty ? s->master : in[1];
	if (s->tty) {
		start_pump(&w.out, s, s->master, GT_CH_STDOUT);
	} else {
		start_pump(&w.out, s, out[0], GT_CH_STDOUT);
		start_pump(&w.err, s, errp[0], GT_CH_STDERR);
	}
	pthread_create(&w.thr, NULL, wait_main, &w);
	gt_buf_init(&payload);
	while ((r = gt_chan_read(up_read, s->u, &ch, &payload)) == 1) {
		if (ch == GT_CH_STDIN && s->fd_in >= 0) {
			write_all(s->fd_in, payload.data, payload.len);
		} else if (ch == GT_CH_CLOSE_STDIN) {
			if (s->tty && s->fd_in >= 0) {
				char eot = 4;

				if (write(s->fd_in, &eot, 1) < 0)
					gt_debug("exec: EOT: %s", strerror(errno));
			} else if (s->fd_in >= 0) {
				close(s->fd_in);
				s->fd_in = -1;
			}
		} else if (ch == GT_CH_RESIZE && s->tty) {
			uint16_t wd, ht;

			if (parse_size(&payload, &wd, &ht)) {
				struct winsize ws = { .ws_row = ht, .ws_col = wd };

				ioctl(s->master, TIOCSWINSZ, &ws);
				kill(s->pid, SIGWINCH);
			}
		}
	}
	/* client gone (or the process ended and the waiter closed us) */
	if ((r < 0 || r == 0) && !atomic_load(&s->exited)) {
		atomic_store(&s->cancel, true);
		kill_exec_process(s);
		kill(s->pid, SIGKILL);
	}
	pthread_join(w.thr, NULL);
	unlink(s->pidfile);
	if (!s->tty && s->fd_in >= 0)
		close(s->fd_in);
	if (out[0] >= 0)
		close(out[0]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (s->master >= 0)
		close(s->master);
out:
	posix_spawn_file_actions_destroy(&fa);
	gt_buf_release(&payload);
	free(argv);
}

/* ---- port-forward ---- */

struct dial {
	const char *netns;
	int port, fd, err;
};

static void *dial_main(void *arg)
{
	struct dial *d = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d->port) };

	if (d->netns[0]) {
		int ns = open(d->netns, O_RDONLY | O_CLOEXEC);

		/* this thread only: it ends right after connecting */
		if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
			d->err = errno;
			if (ns >= 0)
				close(ns);
			return NULL;
		}
		close(ns);
	}
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	d->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->fd < 0 || connect(d->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		d->err = errno;
		if (d->fd >= 0)
			close(d->fd);
		d->fd = -1;
	}
	return NULL;
}

/* Connects to 127.0.0.1:port in netns ("" = the host's): 0 and *fd, or
 * a negative errno and the message clients get (the kubelet's words). */
static int pf_connect(const char *netns, int port, int *fd, struct gt_err *err)
{
	struct dial d = { .netns = netns, .port = port, .fd = -1 };
	pthread_t t;

	if (pthread_create(&t, NULL, dial_main, &d) == 0)
		pthread_join(t, NULL);
	*fd = d.fd;
	if (d.fd >= 0)
		return 0;
	d.err = d.err ? d.err : ECONNREFUSED;
	return gt_err_set(err, -d.err, "failed to connect to localhost:%d inside namespace: %s", port,
			  strerror(d.err));
}

/* The network namespace of running pod ns/name ("" for hostNetwork):
 * 0, or -ENOENT with the message. */
static int pf_netns(struct gt_agent *a, const char *ns, const char *name, char *netns, size_t n,
		    struct gt_err *err)
{
	struct pod *p;
	int r = -ENOENT;

	netns[0] = '\0';
	pthread_mutex_lock(&a->lock);
	for (p = a->pods; p; p = p->next) {
		if (strcmp(p->ns, ns) || strcmp(p->name, name) || p->gone)
			continue;
		if (!json_is_true(gt_json_path(p->obj, "spec.hostNetwork")))
			snprintf(netns, n, "%s/netns", p->dir);
		r = 0;
		break;
	}
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		gt_err_set(err, r, "pod %s/%s is not running on this node", ns, name);
	return r;
}

int gt_agent_pf_dial(struct gt_agent *a, const char *ns, const char *name, int port, int *fd,
		     struct gt_err *err)
{
	char netns[4096];
	int r;

	*fd = -1;
	if ((r = pf_netns(a, ns, name, netns, sizeof(netns), err)) < 0)
		return r;
	r = pf_connect(netns, port, fd, err);
	/* a refused connection is not a missing pod */
	return r == -ENOENT ? -EIO : r;
}

static void *pf_pump(void *arg)
{
	struct pump *p = arg;

	pump_main(p);
	/* the pod side closed: tell the other end */
	send_frame(p->s, GT_CH_CLOSE_STDIN, NULL, 0);
	return NULL;
}

static void run_portforward(struct sess *s)
{
	struct gt_buf payload = GT_BUF_INIT;
	struct pump p = { .s = s };
	struct gt_err err;
	int ch, r, fd;

	gt_err_clear(&err);
	if (pf_connect(s->netns, s->port, &fd, &err) < 0) {
		send_status(s, json_pack("{s:s}", "error", err.msg));
		return;
	}
	p.fd = fd;
	p.ch = GT_CH_STDOUT;
	pthread_create(&p.thr, NULL, pf_pump, &p);
	gt_buf_init(&payload);
	while ((r = gt_chan_read(up_read, s->u, &ch, &payload)) == 1) {
		if (ch == GT_CH_STDIN) {
			write_all(fd, payload.data, payload.len);
		} else if (ch == GT_CH_CLOSE_STDIN) {
			shutdown(fd, SHUT_WR);
		}
	}
	shutdown(fd, SHUT_RDWR);
	pthread_join(p.thr, NULL);
	close(fd);
	gt_buf_release(&payload);
}

/* ---- attach: the container's output (from its log) and its stdin FIFO ---- */

struct tail {
	struct sess *s;
	_Atomic bool stop;
	pthread_t thr;
};

/* Sends the CRI log lines appended after `pos` as stdout/stderr frames. */
static void *tail_main(void *arg)
{
	struct tail *t = arg;
	struct sess *s = t->s;
	char logp[4300], exitp[4300], buf[65536];
	struct gt_buf pending = GT_BUF_INIT;
	off_t pos;
	struct stat st;
	int ino;

	snprintf(logp, sizeof(logp), "%s/log", s->dir);
	snprintf(exitp, sizeof(exitp), "%s/exit", s->dir);
	pos = stat(logp, &st) == 0 ? st.st_size : 0;
	gt_buf_init(&pending);
	/* woken by writes into the container's directory (the log, the exit
	 * file), so a terminal's echo is not held back; 100 ms polls remain */
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino >= 0)
		inotify_add_watch(ino, s->dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO);
	while (!atomic_load(&t->stop)) {
		int fd = open(logp, O_RDONLY | O_CLOEXEC);
		ssize_t n = -1;

		if (fd >= 0) {
			if (fstat(fd, &st) == 0 && st.st_size < pos)
				pos = 0; /* rotated */
			n = pread(fd, buf, sizeof(buf), pos);
			close(fd);
		}
		if (n > 0) {
			char *nl;

			pos += n;
			gt_buf_add(&pending, buf, (size_t)n);
			/* "<time> <stream> <F|P> <text>\n" */
			while ((nl = memchr(pending.data, '\n', pending.len))) {
				char *line = pending.data, *a = memchr(line, ' ', (size_t)(nl - line));
				char *b = a ? memchr(a + 1, ' ', (size_t)(nl - a - 1)) : NULL;
				char *c = b ? memchr(b + 1, ' ', (size_t)(nl - b - 1)) : NULL;

				if (a && b) {
					bool err = !strncmp(a + 1, "stderr", 6);
					bool partial = b[1] == 'P';
					const char *text = c ? c + 1 : nl;
					struct gt_buf out = GT_BUF_INIT;

					gt_buf_init(&out);
					gt_buf_add(&out, text, (size_t)(nl - text));
					if (!partial)
						gt_buf_addc(&out, '\n');
					send_frame(s, err ? GT_CH_STDERR : GT_CH_STDOUT, out.data, out.len);
					gt_buf_release(&out);
				}
				memmove(pending.data, nl + 1, pending.len - (size_t)(nl + 1 - pending.data));
				pending.len -= (size_t)(nl + 1 - pending.data);
			}
			continue;
		}
		if (access(exitp, F_OK) == 0) {
			char *e = NULL;
			size_t len;
			int code = 0;

			if (gt_read_file(exitp, &e, &len) == 0)
				code = atoi(e);
			free(e);
			send_status(s, json_pack("{s:i}", "exitCode", code));
			gt_http_upgraded_shutdown(s->u, SHUT_RDWR);
			break;
		}
		if (ino >= 0) {
			struct pollfd p = { .fd = ino, .events = POLLIN };

			if (poll(&p, 1, 100) > 0)
				while (read(ino, buf, sizeof(buf)) > 0)
					;
		} else {
			struct timespec ts = { 0, 100 * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	if (ino >= 0)
		close(ino);
	gt_buf_release(&pending);
	return NULL;
}

static void run_attach(struct sess *s)
{
	struct tail t = { .s = s };
	struct gt_buf payload = GT_BUF_INIT;
	char fifo[4300];
	int ch, fd = -1, rs = -1;

	snprintf(fifo, sizeof(fifo), "%s/stdin", s->dir);
	if (s->in)
		fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	snprintf(fifo, sizeof(fifo), "%s/resize", s->dir);
	if (s->tty)
		rs = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC); /* absent without tty: true */
	pthread_create(&t.thr, NULL, tail_main, &t);
	gt_buf_init(&payload);
	while (gt_chan_read(up_read, s->u, &ch, &payload) == 1) {
		uint16_t w, h;

		if (ch == GT_CH_STDIN && fd >= 0) {
			write_all(fd, payload.data, payload.len);
		} else if (ch == GT_CH_RESIZE && rs >= 0 && parse_size(&payload, &w, &h)) {
			char line[32];
			int n = snprintf(line, sizeof(line), "%u %u\n", w, h);

			write_all(rs, line, (size_t)n);
		}
	}
	atomic_store(&t.stop, true);
	pthread_join(t.thr, NULL);
	if (fd >= 0)
		close(fd);
	if (rs >= 0)
		close(rs);
	gt_buf_release(&payload);
}

static void session_main(void *ctx, struct gt_http_upgraded *u)
{
	struct sess *s = ctx;

	s->u = u;
	if (s->pf)
		run_portforward(s);
	else if (s->attach)
		run_attach(s);
	else
		run_exec(s);
}

static void session_free(void *ctx)
{
	struct sess *s = ctx;

	for (size_t i = 0; i < s->argc; i++)
		free(s->argv[i]);
	free(s->argv);
	pthread_mutex_destroy(&s->wlock);
	free(s);
}

static bool qflag(struct gt_http_req *req, const char *name)
{
	const char *v = gt_http_query(req, name);
	bool b = false;

	return v && gt_parse_bool(v, &b) == 0 && b;
}

static void reply_text(struct gt_http_req *req, int code, const char *msg)
{
	gt_http_reply(req, code, "text/plain", msg, strlen(msg));
}

/* Handles /exec/... and /portforward/...; returns false for other paths. */
bool gt_agent_stream_handler(struct gt_agent *a, struct gt_http_req *req);
bool gt_agent_stream_handler(struct gt_agent *a, struct gt_http_req *req)
{
	const char *path = gt_http_path(req);
	char ns[254], name[254], cname[64] = "";
	bool pf = !strncmp(path, "/portforward/", 13), attach = !strncmp(path, "/attach/", 8);
	struct sess *s;
	struct pod *p;
	bool found = false;

	if (!pf && !attach && strncmp(path, "/exec/", 6))
		return false;
	if (pf ? sscanf(path, "/portforward/%253[^/]/%253[^/]", ns, name) != 2 :
		 sscanf(path, attach ? "/attach/%253[^/]/%253[^/]/%63[^/]" :
			"/exec/%253[^/]/%253[^/]/%63[^/]", ns, name, cname) != 3) {
		reply_text(req, 404, "not found");
		return true;
	}
	s = xcalloc(1, sizeof(*s));
	s->a = a;
	s->pf = pf;
	s->attach = attach;
	s->master = s->fd_in = s->fd_out = s->fd_err = -1;
	pthread_mutex_init(&s->wlock, NULL);
	snprintf(s->runtime, sizeof(s->runtime), "%s", a->runtime);
	snprintf(s->rroot, sizeof(s->rroot), "%s/runc", a->root);
	{
		static _Atomic unsigned long seq;

		snprintf(s->pidfile, sizeof(s->pidfile), "%s/exec-%lu.pid", a->root,
			 atomic_fetch_add(&seq, 1));
	}
	if (pf) {
		struct gt_err err;

		gt_err_clear(&err);
		found = pf_netns(a, ns, name, s->netns, sizeof(s->netns), &err) == 0;
	} else {
		pthread_mutex_lock(&a->lock);
		for (p = a->pods; p; p = p->next) {
			if (strcmp(p->ns, ns) || strcmp(p->name, name) || p->gone)
				continue;
			for (size_t i = 0; i < p->nctrs; i++)
				if (!strcmp(p->ctrs[i].name, cname) && p->ctrs[i].running) {
					gt_ctr_id(p, &p->ctrs[i], p->ctrs[i].attempt, s->id, sizeof(s->id));
					snprintf(s->dir, sizeof(s->dir), "%s/containers/%s/%d", p->dir,
						 cname, p->ctrs[i].attempt);
					found = true;
				}
			break;
		}
		pthread_mutex_unlock(&a->lock);
	}
	if (!found) {
		char msg[512];

		snprintf(msg, sizeof(msg), pf ? "pod %s/%s is not running on this node" :
			 "container not found (\"%s\")", pf ? ns : cname, name);
		if (!pf)
			snprintf(msg, sizeof(msg), "container not found (\"%s\")", cname);
		session_free(s);
		reply_text(req, 404, msg);
		return true;
	}
	if (pf) {
		int64_t port;

		if (gt_parse_i64(gt_http_query(req, "port") ?: "", &port) < 0 || port < 1 || port > 65535) {
			session_free(s);
			reply_text(req, 400, "invalid port");
			return true;
		}
		s->port = (int)port;
	} else if (attach) {
		s->in = qflag(req, "stdin");
		s->out = qflag(req, "stdout");
		s->err = qflag(req, "stderr");
		s->tty = qflag(req, "tty");
	} else {
		const char *cmd[256];
		size_t n = gt_http_query_all(req, "command", cmd, 256);

		if (!n) {
			session_free(s);
			reply_text(req, 400, "you must specify at least one command for the container");
			return true;
		}
		s->argv = xcalloc(n, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			s->argv[i] = xstrdup(cmd[i]);
		s->argc = n;
		s->in = qflag(req, "stdin");
		s->out = qflag(req, "stdout");
		s->err = qflag(req, "stderr");
		s->tty = qflag(req, "tty");
	}
	gt_http_add_header(req, "Upgrade", "gantry-stream");
	gt_http_reply_upgrade(req, 101, session_main, s, session_free);
	return true;
}
