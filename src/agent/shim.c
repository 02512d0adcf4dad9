/*
 * shim.c - `gantry shim`: one small process per container, like conmon.
 *
 * It becomes the child subreaper, runs `runc create` with the container's
 * stdout/stderr on two pipes, `runc start`, reports "ok <pid>" (or "error
 * <message>") on --ready-fd, then copies the pipes into the log file as CRI
 * log lines with rotation and reaps children.  When the container's init
 * exits it reads the memory cgroup's OOM-kill counter, runs `runc delete
 * --force` and writes the exit file (format in runtime.h).  It holds an
 * flock on <exit>.lock while it lives, so the agent can tell a live shim
 * from a dead one (the file holds "<init pid> <startedAt>"), and it outlives the agent (own session, SIGHUP, SIGPIPE
 * and SIGINT ignored).  Its stdio is /dev/null: problems go to the exit file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/console.h"
#include "agent/runtime.h"

#define LINE_MAX_BYTES 16384

struct opts {
	const char *runtime, *root, *id, *bundle, *log, *exit, *pidf;
	size_t max_bytes;
	int max_files, ready_fd;
	char runc_log[4096], init_pid[4096], lock[4096];
};

struct logw {
	int fd;
	const char *path;
	size_t size, max;
	int files;
};

struct stream {
	int fd;
	bool tty;            /* a terminal: partial lines go out at once */
	const char *name;
	size_t len;
	char buf[LINE_MAX_BYTES];
};

/* ---- the CRI log ---- */

static void rotate(struct logw *lw)
{
	char from[4200], to[4200];

	if (lw->files <= 1) {
		if (ftruncate(lw->fd, 0) == 0)
			lw->size = 0;
		return;
	}
	for (int i = lw->files - 1; i >= 2; i--) {
		snprintf(from, sizeof(from), "%s.%d", lw->path, i - 1);
		snprintf(to, sizeof(to), "%s.%d", lw->path, i);
		rename(from, to);
	}
	snprintf(to, sizeof(to), "%s.1", lw->path);
	rename(lw->path, to);
	close(lw->fd);
	lw->fd = open(lw->path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	lw->size = 0;
}

/* Writes one CRI record "<time> <stream> <F|P> <text>\n" in a single write. */
static void record(struct logw *lw, const char *stream, char tag, const char *text, size_t n)
{
	char rec[LINE_MAX_BYTES + 80];
	struct timespec ts;
	struct tm tm;
	size_t len;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(rec, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	len += (size_t)snprintf(rec + len, sizeof(rec) - len, ".%09ldZ %s %c ", ts.tv_nsec, stream, tag);
	memcpy(rec + len, text, n);
	len += n;
	rec[len++] = '\n';
	if (lw->max && lw->size && lw->size + len > lw->max)
		rotate(lw);
	if (lw->fd >= 0 && write(lw->fd, rec, len) == (ssize_t)len)
		lw->size += len;
}

/* Reads what is available; writes complete lines (F) and full buffers (P). */
static void pump(struct stream *s, struct logw *lw)
{
	for (;;) {
		ssize_t n = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
		size_t start = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			if (s->len) /* an unterminated last line */
				record(lw, s->name, 'F', s->buf, s->len);
			s->len = 0;
			close(s->fd);
			s->fd = -1;
			return;
		}
		s->len += (size_t)n;
		for (size_t i = s->len - (size_t)n; i < s->len; i++) {
			if (s->buf[i] == '\n') {
				record(lw, s->name, 'F', s->buf + start, i - start);
				start = i + 1;
			}
		}
		memmove(s->buf, s->buf + start, s->len - start);
		s->len -= start;
		if (s->len == sizeof(s->buf) || (s->tty && s->len)) {
			record(lw, s->name, 'P', s->buf, s->len);
			s->len = 0;
		}
	}
}

/* Copies what the stdin FIFO holds into the terminal (keystrokes: small). */
static void to_terminal(int in, int master)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t k = write(master, buf + off, (size_t)(n - off));

			if (k > 0) {
				off += k;
			} else if (k < 0 && errno == EAGAIN) {
				struct pollfd p = { .fd = master, .events = POLLOUT };

				if (poll(&p, 1, 1000) <= 0)
					return; /* nobody reads the terminal: drop the rest */
			} else if (!(k < 0 && errno == EINTR)) {
				return;
			}
		}
	}
}

/* ---- helpers ---- */

static void now_rfc3339(char out[40])
{
	gt_time_rfc3339(time(NULL), out);
}

static int wait_child(pid_t pid)
{
	int ws;

	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Runs `<runtime> --root R --log runc.log --log-format json <args>`; exit status. */
static int runc_in(const struct opts *o, const char *const args[], int in_fd, int out_fd,
		   int err_fd)
{
	const char *argv[24];
	size_t n = 0;
	pid_t pid;

	argv[n++] = o->runtime;
	argv[n++] = "--root";
	argv[n++] = o->root;
	argv[n++] = "--log";
	argv[n++] = o->runc_log;
	argv[n++] = "--log-format";
	argv[n++] = "json";
	for (size_t i = 0; args[i] && n + 1 < GT_ARRAY_SIZE(argv); i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (gt_rt_spawn((char *const *)argv, in_fd, out_fd, err_fd, &pid) < 0)
		return -1;
	return wait_child(pid);
}

static int runc(const struct opts *o, const char *const args[], int out_fd, int err_fd)
{
	return runc_in(o, args, -1, out_fd, err_fd);
}

/*
 * A container whose spec asks for stdin gets the FIFO "stdin" beside its
 * bundle (made by the agent) as its standard input; `kubectl attach -i`
 * writes into it.  Opened read-write so it never reports EOF on its own.
 */
static int attempt_file(const struct opts *o, const char *name, int flags)
{
	char path[4400];
	const char *slash = strrchr(o->bundle, '/');

	if (!slash)
		return -1;
	snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - o->bundle), o->bundle, name);
	return open(path, flags | O_CLOEXEC);
}

static int stdin_fifo(const struct opts *o)
{
	return attempt_file(o, "stdin", O_RDWR);
}

/* The runtime's last error (its --log file, else what it printed). */
static void runc_error(const struct opts *o, const char *printed, char *msg, size_t n)
{
	char *text = NULL;
	size_t len;

	msg[0] = '\0';
	if (gt_read_file(o->runc_log, &text, &len) == 0)
		gt_rt_errmsg(text, msg, n);
	free(text);
	if (!msg[0] && printed)
		gt_rt_errmsg(printed, msg, n);
	if (!msg[0])
		snprintf(msg, n, "%s failed", o->runtime);
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/* Writes path through a temporary file and rename (readers never see a part). */
static void put_file(const char *path, const char *data)
{
	char tmp[4200];
	size_t len = strlen(data);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, data, len) != (ssize_t)len || close(fd) < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

static void write_exit(const struct opts *o, int code, const char *reason, const char *finished,
		       const char *started, const char *msg)
{
	char *s = xasprintf("%d\n%s\n%s\n%s\n%s\n", code, reason, finished, started, msg);

	put_file(o->exit, s);
	free(s);
}

/* Tells gt_rt_start "<word> <arg>\n" on the ready pipe, then closes it. */
static void report(struct opts *o, const char *word, const char *arg)
{
	char buf[1200];
	int n;

	if (o->ready_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%s %s\n", word, arg);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (write(o->ready_fd, buf, (size_t)n) < 0) {
		/* the agent went away: nothing to tell */
	}
	close(o->ready_fd);
	o->ready_fd = -1;
}

/* The bundle's config.json, or NULL. */
static json_t *read_config(const struct opts *o)
{
	char path[4400], *cfg = NULL;
	json_t *j = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/config.json", o->bundle);
	if (gt_read_file(path, &cfg, &len) == 0)
		gt_json_parse(cfg, len, &j, NULL);
	free(cfg);
	return j;
}

/* "oom_kill N" of the container's memory cgroup (v1 oom_control or v2 memory.events). */
static long oom_kills(const struct opts *o)
{
	char path[4400], *text = NULL;
	static const char *const files[][2] = {
		{ "/sys/fs/cgroup/memory", "/memory.oom_control" }, /* v1 */
		{ "/sys/fs/cgroup", "/memory.events" },              /* v2 */
	};
	const char *cg;
	json_t *j = read_config(o);
	long kills = -1;
	size_t len;

	if (!(cg = gt_json_str(j, "linux.cgroupsPath")) || cg[0] != '/') {
		json_decref(j);
		return -1;
	}
	for (size_t i = 0; i < GT_ARRAY_SIZE(files) && kills < 0; i++) {
		const char *p;

		snprintf(path, sizeof(path), "%s%s%s", files[i][0], cg, files[i][1]);
		if (gt_read_file(path, &text, &len) == 0 && (p = strstr(text, "oom_kill ")))
			kills = strtol(p + 9, NULL, 10);
		free(text);
		text = NULL;
	}
	json_decref(j);
	return kills;
}

/* ---- start ---- */

static int fail_start(struct opts *o, const char *msg)
{
	const char *del[] = { "delete", "--force", o->id, NULL };
	char now[40];

	runc(o, del, -1, -1);
	now_rfc3339(now);
	write_exit(o, 128, "ContainerCannotRun", now, "", msg);
	report(o, "error", msg);
	return 1;
}

/*
 * runc create + start; returns the init pid or -1 (after fail_start).  With
 * a terminal (*master != NULL) the runtime hands its master side over the
 * console socket into *master.
 */
static pid_t start(struct opts *o, int out_w, int err_w, int err_r, int *master)
{
	const char *create[] = { "create", "--bundle", o->bundle, "--pid-file", o->init_pid,
				 o->id, NULL, NULL, NULL };
	const char *startv[] = { "start", o->id, NULL };
	struct gt_console_sock cs = { .fd = -1, .dirfd = -1 };
	char msg[1024], *pidtxt = NULL;
	size_t len;
	int64_t pid = 0;
	int st;

	unlink(o->runc_log);
	unlink(o->init_pid);
	if (master) {
		char dir[4200];
		const char *slash = strrchr(o->bundle, '/');
		int r;

		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - o->bundle) : 1,
			 slash ? o->bundle : ".");
		if ((r = gt_console_listen(dir, &cs)) < 0) {
			gt_console_close(&cs);
			snprintf(msg, sizeof(msg), "shim: console socket in %s: %s", dir, strerror(-r));
			fail_start(o, msg);
			return -1;
		}
		create[5] = "--console-socket";
		create[6] = cs.path;
		create[7] = o->id;
		st = runc_in(o, create, -1, out_w, err_w);
		if (st == 0 && (*master = gt_console_receive(&cs, 10000)) < 0) {
			snprintf(msg, sizeof(msg), "shim: no terminal from %s: %s", o->runtime,
				 strerror(-*master));
			gt_console_close(&cs);
			fail_start(o, msg); /* runc delete --force removes the created container */
			return -1;
		}
		gt_console_close(&cs);
	} else {
		int in = stdin_fifo(o);

		st = runc_in(o, create, in, out_w, err_w);
		if (in >= 0)
			close(in);
	}
	if (st != 0) {
		char printed[2048];
		ssize_t n = read(err_r, printed, sizeof(printed) - 1);

		printed[n > 0 ? n : 0] = '\0';
		runc_error(o, printed, msg, sizeof(msg));
		fail_start(o, msg);
		return -1;
	}
	if (gt_read_file(o->init_pid, &pidtxt, &len) < 0 || gt_parse_i64(pidtxt, &pid) < 0 || pid <= 0) {
		free(pidtxt);
		fail_start(o, "the runtime wrote no init pid");
		return -1;
	}
	free(pidtxt);
	if (runc(o, startv, -1, -1) != 0) {
		runc_error(o, NULL, msg, sizeof(msg));
		kill((pid_t)pid, SIGKILL);
		fail_start(o, msg);
		return -1;
	}
	return (pid_t)pid;
}

/* ---- main ---- */

static int parse(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int64_t n;

		if (!v)
			return -1;
		i++;
		if (!strcmp(a, "--runtime"))
			o->runtime = v;
		else if (!strcmp(a, "--root"))
			o->root = v;
		else if (!strcmp(a, "--id"))
			o->id = v;
		else if (!strcmp(a, "--bundle"))
			o->bundle = v;
		else if (!strcmp(a, "--log"))
			o->log = v;
		else if (!strcmp(a, "--exit"))
			o->exit = v;
		else if (!strcmp(a, "--pid-file"))
			o->pidf = v;
		else if (!strcmp(a, "--log-max-bytes") && gt_parse_i64(v, &n) == 0 && n >= 0)
			o->max_bytes = (size_t)n;
		else if (!strcmp(a, "--log-max-files") && gt_parse_i64(v, &n) == 0 && n >= 0 && n < 1000)
			o->max_files = (int)n;
		else if (!strcmp(a, "--ready-fd") && gt_parse_i64(v, &n) == 0 && n >= 0 && n < 65536)
			o->ready_fd = (int)n;
		else
			return -1;
	}
	if (!o->runtime || !o->root || !o->id || !o->bundle || !o->log || !o->exit || !o->pidf)
		return -1;
	snprintf(o->runc_log, sizeof(o->runc_log), "%s/runc.log", o->bundle);
	snprintf(o->init_pid, sizeof(o->init_pid), "%s/init.pid", o->bundle);
	snprintf(o->lock, sizeof(o->lock), "%s.lock", o->exit);
	return 0;
}

int gt_cmd_shim(int argc, char **argv)
{
	struct opts o = { .max_bytes = 10 << 20, .max_files = 5, .ready_fd = -1 };
	struct logw lw = { -1, NULL, 0, 0, 0 };
	static struct stream so, se;
	char started[40], finished[40] = "", buf[32];
	int po[2], pe[2], lockfd, sfd, ws = 0, code = 255;
	int master = -1, in_fd = -1, rs_fd = -1;
	char rs_buf[64];
	size_t rs_len = 0;
	bool exited = false, tty = false;
	int64_t drain_until = 0;
	sigset_t chld;
	struct stat sb;
	pid_t init;
	long kills;

	if (parse(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: gantry shim --runtime R --root DIR --id ID --bundle DIR "
			"--log FILE --exit FILE --pid-file FILE [--log-max-bytes N] "
			"[--log-max-files K] [--ready-fd FD]\n");
		return 2;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	setsid();
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

	lockfd = open(o.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lockfd >= 0 && flock(lockfd, LOCK_EX) == 0 && ftruncate(lockfd, 0) < 0) {
		/* a stale "<pid> <time>" only matters until the pwrite below */
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	put_file(o.pidf, buf);
	lw.path = o.log;
	lw.max = o.max_bytes;
	lw.files = o.max_files;
	lw.fd = open(o.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (lw.fd >= 0 && fstat(lw.fd, &sb) == 0)
		lw.size = (size_t)sb.st_size;
	if (sfd < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		code = fail_start(&o, "shim: cannot create pipes");
		goto out;
	}
	/* read ends non-blocking; the container's write ends stay blocking */
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	{
		json_t *cfg = read_config(&o);

		tty = gt_json_bool(cfg, "process.terminal", false);
		json_decref(cfg);
	}
	init = start(&o, po[1], pe[1], pe[0], tty ? &master : NULL);
	close(po[1]);
	close(pe[1]);
	if (init < 0) {
		close(po[0]);
		close(pe[0]);
		code = 1;
		goto out;
	}
	now_rfc3339(started);
	if (lockfd >= 0) {
		/* "<pid> <startedAt>": gt_rt_state() reads it instead of running `runc state` */
		char st[96];
		int n = snprintf(st, sizeof(st), "%d %s\n", (int)init, started);

		if (pwrite(lockfd, st, (size_t)n, 0) != n) {
			/* gt_rt_state() falls back to `runc state` */
		}
	}
	snprintf(buf, sizeof(buf), "%d", (int)init);
	report(&o, "ok", buf);

	so.fd = po[0];
	so.name = "stdout";
	se.fd = pe[0];
	se.name = "stderr";
	if (tty) {
		/* the terminal carries the container's output; stdin and window
		 * sizes come through the FIFOs beside the bundle */
		close(po[0]);
		close(pe[0]);
		fcntl(master, F_SETFL, O_NONBLOCK);
		so.fd = master;
		so.tty = true;
		se.fd = -1;
		in_fd = attempt_file(&o, "stdin", O_RDWR | O_NONBLOCK);
		rs_fd = attempt_file(&o, "resize", O_RDWR | O_NONBLOCK);
	}
	for (;;) {
		struct pollfd p[5] = { { so.fd, POLLIN, 0 }, { se.fd, POLLIN, 0 }, { sfd, POLLIN, 0 },
				       { in_fd, POLLIN, 0 }, { rs_fd, POLLIN, 0 } };
		struct signalfd_siginfo si;
		int wait = -1;
		pid_t w;

		if (exited) {
			if (so.fd < 0 && se.fd < 0)
				break;
			wait = (int)(drain_until - gt_now_ms());
			if (wait <= 0)
				break;
		}
		poll(p, 5, wait);
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			;
		if (in_fd >= 0 && so.fd >= 0 && (p[3].revents & POLLIN))
			to_terminal(in_fd, so.fd);
		if (rs_fd >= 0 && so.fd >= 0 && (p[4].revents & POLLIN)) {
			ssize_t n = read(rs_fd, rs_buf + rs_len, sizeof(rs_buf) - rs_len);

			if (n > 0) {
				rs_len += (size_t)n;
				gt_console_resize_feed(so.fd, rs_buf, &rs_len);
			}
		}
		while ((w = waitpid(-1, &ws, WNOHANG)) > 0) {
			if (w == init && !exited) {
				exited = true;
				code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
				now_rfc3339(finished);
				/* the pipes close when the last container process dies */
				drain_until = gt_now_ms() + 1000;
			}
		}
		if (so.fd >= 0)
			pump(&so, &lw);
		if (se.fd >= 0)
			pump(&se, &lw);
	}
	if (so.fd >= 0) {
		if (so.len)
			record(&lw, "stdout", 'F', so.buf, so.len);
		close(so.fd);
	}
	if (se.fd >= 0) {
		if (se.len)
			record(&lw, "stderr", 'F', se.buf, se.len);
		close(se.fd);
	}
	if (in_fd >= 0)
		close(in_fd);
	if (rs_fd >= 0)
		close(rs_fd);
	kills = oom_kills(&o);
	{
		const char *del[] = { "delete", "--force", o.id, NULL };

		runc(&o, del, -1, -1);
	}
	write_exit(&o, code, kills > 0 ? "OOMKilled" : code == 0 ? "Completed" : "Error", finished,
		   started, "");
	code = 0;
out:
	if (lockfd >= 0) {
		unlink(o.lock);
		close(lockfd);
	}
	if (lw.fd >= 0)
		close(lw.fd);
	if (sfd >= 0)
		close(sfd);
	return code;
}
