/*
 * runtime.c - the runc/crun wrapper: starting a container through the shim
 * (double fork), state (exit file, shim liveness, `runc state`), kill,
 * delete, exec, list, the runtime usability check and cgroup removal.
 * Every runtime call is `<runtime> --root ROOT --log-format json <verb> ...`
 * run with posix_spawn; its JSON error line becomes the err message.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/oci.h"
#include "agent/runtime.h"

#define OUT_CAP (64u << 10)

/* ---- spawning ---- */

int gt_rt_spawn(char *const argv[], int in_fd, int out_fd, int err_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int fds[3] = { in_fd, out_fd, err_fd }, r;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	for (int i = 0; i < 3; i++) {
		if (fds[i] < 0)
			posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
		else
			posix_spawn_file_actions_adddup2(&fa, fds[i], i);
	}
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	r = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return -r;
}

/* Reads what is available from fd into b (at most OUT_CAP kept); -1 at EOF/error. */
static int drain(int fd, struct gt_buf *b)
{
	char chunk[8192];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0) {
			if (b && b->len < OUT_CAP)
				gt_buf_add(b, chunk, b->len + (size_t)n > OUT_CAP ? OUT_CAP - b->len :
					   (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : -1;
	}
}

/*
 * Runs argv; stdout into out, stderr into errb (the same buffer: combined).
 * timeout_ms: SIGTERM, then SIGKILL 1 s later.  *status: exit code or
 * 128+signal.  Returns 0, -ETIMEDOUT, or a spawn errno.
 */
static int run(char *const argv[], int timeout_ms, struct gt_buf *out, struct gt_buf *errb,
	       int *status)
{
	int po[2], pe[2] = { -1, -1 }, r, ws = 0, pfd;
	bool exited = false, timed_out = false;
	int64_t deadline = gt_now_ms() + timeout_ms, kill_at = 0;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	if (errb != out && pipe2(pe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		close(po[0]);
		close(po[1]);
		return r;
	}
	r = gt_rt_spawn(argv, -1, po[1], errb == out ? po[1] : pe[1], &pid);
	close(po[1]);
	if (pe[1] >= 0)
		close(pe[1]);
	if (r < 0) {
		close(po[0]);
		if (pe[0] >= 0)
			close(pe[0]);
		return r;
	}
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		struct pollfd p[3];
		int n = 0, wait;
		int64_t now = gt_now_ms();

		if (po[0] >= 0)
			p[n++] = (struct pollfd){ po[0], POLLIN, 0 };
		if (pe[0] >= 0)
			p[n++] = (struct pollfd){ pe[0], POLLIN, 0 };
		if (pfd >= 0)
			p[n++] = (struct pollfd){ pfd, POLLIN, 0 };
		wait = (int)((kill_at ? kill_at : deadline) - now);
		if (wait < 0)
			wait = 0;
		if (pfd < 0 && wait > 10)
			wait = 10;
		poll(p, (nfds_t)n, wait);
		if (po[0] >= 0 && drain(po[0], out) < 0) {
			close(po[0]);
			po[0] = -1;
		}
		if (pe[0] >= 0 && drain(pe[0], errb) < 0) {
			close(pe[0]);
			pe[0] = -1;
		}
		if (exited)
			break;
		if (waitpid(pid, &ws, WNOHANG) == pid) {
			exited = true; /* one more pass drains what it wrote last */
			continue;
		}
		now = gt_now_ms();
		if (kill_at && now >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = now + 60000;
		} else if (!kill_at && now >= deadline) {
			timed_out = true;
			kill(pid, SIGTERM);
			kill_at = now + 1000;
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (pfd >= 0)
		close(pfd);
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return timed_out ? -ETIMEDOUT : 0;
}

void gt_rt_errmsg(const char *text, char *out, size_t n)
{
	static const char *const prefixes[] = {
		"runc create failed: ", "runc run failed: ", "runc start failed: ",
		"unable to start container process: ", "error during container init: ",
		"exec failed: ",
	};
	char last[1024] = "";

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n'), *m;
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_t *j = NULL;

		if (len && p[0] == '{' && gt_json_parse(p, len, &j, NULL) == 0 && json_is_object(j)) {
			const char *lvl = json_string_value(json_object_get(j, "level"));
			const char *msg = json_string_value(json_object_get(j, "msg"));

			if (msg && (!lvl || !strcmp(lvl, "error") || !strcmp(lvl, "fatal")))
				snprintf(last, sizeof(last), "%s", msg);
		} else if ((m = memmem(p, len, "msg=\"", 5))) {
			size_t k = 0;

			for (m += 5; m < p + len && *m != '"' && k + 1 < sizeof(last); m++) {
				if (*m == '\\' && m + 1 < p + len)
					m++;
				last[k++] = *m;
			}
			last[k] = '\0';
		} else if (len) {
			snprintf(last, sizeof(last), "%.*s", (int)len, p);
		}
		json_decref(j);
		p = nl ? nl + 1 : NULL;
	}
	{
		const char *s = last;
		bool again = true;

		while (again) {
			again = false;
			for (size_t i = 0; i < GT_ARRAY_SIZE(prefixes); i++) {
				if (!strncmp(s, prefixes[i], strlen(prefixes[i]))) {
					s += strlen(prefixes[i]);
					again = true;
				}
			}
		}
		snprintf(out, n, "%s", s);
	}
}

/* Runs `<runtime> --root R --log-format json <args...>`; stderr message into msg. */
static int rt_run(const struct gt_rt *rt, const char *const args[], int timeout_ms,
		  struct gt_buf *out, int *status, char *msg, size_t msgn)
{
	const char *argv[32];
	struct gt_buf eb = GT_BUF_INIT;
	size_t n = 0;
	int r;

	argv[n++] = rt->runtime;
	argv[n++] = "--root";
	argv[n++] = rt->root;
	argv[n++] = "--log-format";
	argv[n++] = "json";
	for (size_t i = 0; args[i] && n + 1 < GT_ARRAY_SIZE(argv); i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	gt_buf_init(&eb);
	r = run((char *const *)argv, timeout_ms, out, &eb, status);
	gt_rt_errmsg(eb.data, msg, msgn);
	gt_buf_release(&eb);
	return r;
}

static int rt_fail(struct gt_err *err, const char *verb, const char *id, int r, const char *msg)
{
	if (r < 0)
		return gt_err_set(err, r, "%s %s: %s", verb, id, strerror(-r));
	if (strstr(msg, "does not exist"))
		return gt_err_set(err, -ENOENT, "container %s does not exist", id);
	if (strstr(msg, "not running"))
		return gt_err_set(err, -ESRCH, "container %s is not running", id);
	return gt_err_set(err, -EIO, "%s %s: %s", verb, id, msg[0] ? msg : "failed");
}

/* ---- start ---- */

int gt_rt_start(const struct gt_rt *rt, const struct gt_rt_start *s, struct gt_err *err)
{
	char maxb[32], maxf[32], buf[1024];
	const char *argv[32];
	size_t n = 0, got = 0;
	int p[2], r;
	pid_t c1;
	int64_t deadline;

	if (!s->id || !s->bundle || !s->log_path || !s->exit_path || !s->pid_path || !rt->shim_exe)
		return gt_err_set(err, -EINVAL, "gt_rt_start: id, bundle, log, exit, pid and shim required");
	snprintf(maxb, sizeof(maxb), "%zu", s->log_max_bytes ? s->log_max_bytes : (size_t)10 << 20);
	snprintf(maxf, sizeof(maxf), "%d", s->log_max_files > 0 ? s->log_max_files : 5);
	argv[n++] = rt->shim_exe;
	argv[n++] = "shim";
	argv[n++] = "--runtime";
	argv[n++] = rt->runtime;
	argv[n++] = "--root";
	argv[n++] = rt->root;
	argv[n++] = "--id";
	argv[n++] = s->id;
	argv[n++] = "--bundle";
	argv[n++] = s->bundle;
	argv[n++] = "--log";
	argv[n++] = s->log_path;
	argv[n++] = "--exit";
	argv[n++] = s->exit_path;
	argv[n++] = "--pid-file";
	argv[n++] = s->pid_path;
	argv[n++] = "--log-max-bytes";
	argv[n++] = maxb;
	argv[n++] = "--log-max-files";
	argv[n++] = maxf;
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	argv[n] = NULL;

	if (unlink(s->exit_path) < 0 && errno != ENOENT)
		return gt_err_set(err, -errno, "cannot remove %s: %s", s->exit_path, strerror(errno));
	if (pipe2(p, O_CLOEXEC) < 0)
		return gt_err_set(err, -errno, "pipe: %s", strerror(errno));
	c1 = fork();
	if (c1 < 0) {
		r = -errno;
		close(p[0]);
		close(p[1]);
		return gt_err_set(err, r, "fork: %s", strerror(-r));
	}
	if (c1 == 0) {
		/* only async-signal-safe calls from here to exec */
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		sigset_t none;
		int nul;

		setsid();
		if (fork() != 0)
			_exit(0);
		for (int sig = 1; sig < NSIG; sig++)
			sigaction(sig, &dfl, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (p[1] == 3)
			fcntl(3, F_SETFD, 0);
		else if (dup2(p[1], 3) < 0)
			_exit(127);
		nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
			for (int fd = 4; fd < 65536; fd++) /* kernels before 5.9 */
				close(fd);
		execv(rt->shim_exe, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (waitpid(c1, NULL, 0) < 0 && errno == EINTR)
		;
	deadline = gt_now_ms() + 120000;
	for (;;) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		int64_t left = deadline - gt_now_ms();
		ssize_t k;

		if (left <= 0) {
			close(p[0]);
			return gt_err_set(err, -ETIMEDOUT, "%s: the shim did not report within 2 minutes",
					  s->id);
		}
		if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
			break;
		k = read(p[0], buf + got, sizeof(buf) - 1 - got);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got == sizeof(buf) - 1)
			break;
	}
	close(p[0]);
	buf[got] = '\0';
	if (!strncmp(buf, "ok ", 3))
		return atoi(buf + 3) > 0 ? atoi(buf + 3) : 1;
	if (!strncmp(buf, "error ", 6)) {
		buf[strcspn(buf, "\n")] = '\0';
		return gt_err_set(err, -EIO, "%s", buf + 6);
	}
	return gt_err_set(err, -EIO, "%s: the shim (%s) exited without reporting", s->id,
			  rt->shim_exe);
}

/* ---- state ---- */

int gt_rt_read_exit(const char *path, struct gt_rt_state *st)
{
	char *data = NULL, *line[4], *p;
	size_t len;
	int64_t code;
	int r = gt_read_file(path, &data, &len);

	if (r < 0)
		return r;
	p = data;
	for (int i = 0; i < 4; i++) {
		line[i] = p;
		p = p ? strchr(p, '\n') : NULL;
		if (p)
			*p++ = '\0';
	}
	if (!line[0] || gt_parse_i64(line[0], &code) < 0 || !line[1] || !line[2]) {
		free(data);
		return -EINVAL;
	}
	memset(st, 0, sizeof(*st));
	st->status = GT_RT_STOPPED;
	st->exit_code = (int)code;
	snprintf(st->reason, sizeof(st->reason), "%s", line[1]);
	snprintf(st->finished_at, sizeof(st->finished_at), "%s", line[2]);
	snprintf(st->started_at, sizeof(st->started_at), "%s", line[3] ? line[3] : "");
	if (p) {
		len = strlen(p);
		while (len && p[len - 1] == '\n')
			p[--len] = '\0';
		snprintf(st->message, sizeof(st->message), "%s", p);
	}
	free(data);
	return 0;
}

/*
 * True while a shim holds exit_path.lock; then st gets RUNNING with the pid
 * and start time the shim wrote there (pid 0 before the container started).
 */
static bool shim_alive(const char *exit_path, struct gt_rt_state *st)
{
	char lock[4096], buf[96];
	int fd, pid;
	bool alive;
	ssize_t n;

	snprintf(lock, sizeof(lock), "%s.lock", exit_path);
	fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	alive = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (alive && st && (n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%d %39s", &pid, st->started_at) == 2 && pid > 0) {
			st->status = GT_RT_RUNNING;
			st->pid = pid;
		}
	}
	close(fd);
	return alive;
}

int gt_rt_state(const struct gt_rt *rt, const char *id, const char *exit_path,
		struct gt_rt_state *st, struct gt_err *err)
{
	const char *args[] = { "state", id, NULL };
	struct gt_buf out = GT_BUF_INIT;
	char msg[512];
	json_t *j = NULL;
	int status, r;

	memset(st, 0, sizeof(*st));
	if (exit_path && gt_rt_read_exit(exit_path, st) == 0)
		return 0;
	/* a live shim knows: no runtime process to spawn on the agent's polling path */
	if (exit_path && shim_alive(exit_path, st) && st->status == GT_RT_RUNNING)
		return 0;
	memset(st, 0, sizeof(*st));
	gt_buf_init(&out);
	r = rt_run(rt, args, 30000, &out, &status, msg, sizeof(msg));
	if (r == 0 && status == 0 && gt_json_parse(out.data, out.len, &j, NULL) == 0) {
		const char *s = json_string_value(json_object_get(j, "status"));
		const char *created = json_string_value(json_object_get(j, "created"));
		time_t t;

		st->pid = (int)json_integer_value(json_object_get(j, "pid"));
		if (created && gt_time_parse(created, &t) == 0)
			gt_time_rfc3339(t, st->started_at);
		if (s && !strcmp(s, "created"))
			st->status = GT_RT_CREATED;
		else if (s && (!strcmp(s, "running") || !strcmp(s, "paused")))
			st->status = GT_RT_RUNNING;
		else
			st->status = GT_RT_STOPPED;
	} else if (r < 0 || !strstr(msg, "does not exist")) {
		gt_buf_release(&out);
		return gt_err_set(err, r < 0 ? r : -EIO, "state %s: %s", id,
				  r < 0 ? strerror(-r) : msg);
	}
	gt_buf_release(&out);
	json_decref(j);
	if (st->status == GT_RT_CREATED || st->status == GT_RT_RUNNING)
		return 0;
	/* exited or gone: the shim's exit file is the truth */
	if (exit_path && shim_alive(exit_path, NULL)) {
		st->status = GT_RT_RUNNING; /* exit being recorded */
		return 0;
	}
	if (exit_path && gt_rt_read_exit(exit_path, st) == 0)
		return 0;
	memset(st, 0, sizeof(*st));
	st->status = GT_RT_STOPPED;
	st->exit_code = 137;
	snprintf(st->reason, sizeof(st->reason), "ContainerStatusUnknown");
	snprintf(st->message, sizeof(st->message),
		 "The container could not be located: its shim exited without recording a status");
	return 0;
}

/* ---- kill, delete, list ---- */

int gt_rt_kill(const struct gt_rt *rt, const char *id, int sig, struct gt_err *err)
{
	char num[16], msg[512];
	const char *args[] = { "kill", id, num, NULL };
	int status, r;

	snprintf(num, sizeof(num), "%d", sig);
	r = rt_run(rt, args, 30000, NULL, &status, msg, sizeof(msg));
	if (r == 0 && status == 0)
		return 0;
	return rt_fail(err, "kill", id, r, msg);
}

int gt_rt_delete(const struct gt_rt *rt, const char *id, struct gt_err *err)
{
	const char *args[] = { "delete", "--force", id, NULL };
	char msg[512];
	int status, r;

	r = rt_run(rt, args, 60000, NULL, &status, msg, sizeof(msg));
	if (r == 0 && (status == 0 || strstr(msg, "does not exist")))
		return 0;
	return rt_fail(err, "delete", id, r, msg);
}

int gt_rt_list(const struct gt_rt *rt, json_t **ids, struct gt_err *err)
{
	const char *args[] = { "list", "--format", "json", NULL };
	struct gt_buf out = GT_BUF_INIT;
	char msg[512];
	json_t *j = NULL, *v;
	int status, r;
	size_t i;

	*ids = NULL;
	gt_buf_init(&out);
	r = rt_run(rt, args, 30000, &out, &status, msg, sizeof(msg));
	if (r < 0 || status != 0) {
		gt_buf_release(&out);
		return rt_fail(err, "list", rt->root, r, msg);
	}
	if (gt_json_parse(out.data, out.len, &j, err) < 0) {
		gt_buf_release(&out);
		return gt_err_prefix(err, -EIO, "%s list", rt->runtime);
	}
	gt_buf_release(&out);
	*ids = json_array();
	json_array_foreach(j, i, v) {
		json_t *id = json_object_get(v, "id");

		if (json_is_string(id))
			json_array_append(*ids, id);
	}
	json_decref(j);
	return 0;
}

/* ---- exec ---- */

int gt_rt_exec(const struct gt_rt *rt, const char *id, char *const argv[], int timeout_s,
	       int *exit_code, struct gt_buf *output, struct gt_err *err)
{
	const char *a[64];
	struct gt_buf out = GT_BUF_INIT;
	size_t n = 0;
	int r, status = 0;

	a[n++] = rt->runtime;
	a[n++] = "--root";
	a[n++] = rt->root;
	a[n++] = "--log-format";
	a[n++] = "json";
	a[n++] = "exec";
	a[n++] = id;
	for (size_t i = 0; argv[i]; i++) {
		if (n + 1 >= GT_ARRAY_SIZE(a))
			return gt_err_set(err, -E2BIG, "exec %s: too many arguments", id);
		a[n++] = argv[i];
	}
	a[n] = NULL;
	if (!argv[0])
		return gt_err_set(err, -EINVAL, "exec %s: empty command", id);
	gt_buf_init(&out);
	r = run((char *const *)a, (timeout_s > 0 ? timeout_s : 60) * 1000, &out, &out, &status);
	*exit_code = status;
	if (r == -ETIMEDOUT) {
		gt_buf_release(&out);
		return gt_err_set(err, r, "exec %s: command timed out after %d s", id,
				  timeout_s > 0 ? timeout_s : 60);
	}
	if (r < 0) {
		gt_buf_release(&out);
		return gt_err_set(err, r, "exec %s: %s", id, strerror(-r));
	}
	/* runc's own failures (not found, not running) exit 255 or 1 with a JSON error line */
	if (status == 255 || status == 1) {
		const char *e = strstr(out.data, "{\"level\":\"error\"");

		if (e && (e == out.data || e[-1] == '\n')) {
			char msg[512];

			gt_rt_errmsg(e, msg, sizeof(msg));
			gt_buf_release(&out);
			return rt_fail(err, "exec", id, 0, msg);
		}
	}
	if (output)
		gt_buf_add(output, out.data, out.len);
	gt_buf_release(&out);
	return 0;
}

/* ---- usability check ---- */

int gt_rt_check(const struct gt_rt *rt, const char *scratch_dir, struct gt_err *err)
{
	char bundle[4000], cfgp[4096], id[64], cg[64], msg[512];
	const char *args[] = { "run", "--bundle", bundle, id, NULL };
	json_t *pod, *config = NULL;
	struct gt_oci_input in = { 0 };
	int r, status = 0;
	char *s;
	size_t len;

	snprintf(id, sizeof(id), "gt-check-%d", (int)getpid());
	snprintf(cg, sizeof(cg), "/gantry-check-%d", (int)getpid());
	if (strlen(scratch_dir) + 8 >= sizeof(bundle))
		return gt_err_set(err, -ENAMETOOLONG, "scratch dir too long");
	snprintf(bundle, sizeof(bundle), "%s/bundle", scratch_dir);
	snprintf(cfgp, sizeof(cfgp), "%s/config.json", bundle);
	if ((r = gt_mkdir_p(bundle, 0755)) < 0)
		return gt_err_set(err, r, "cannot create %s: %s", bundle, strerror(-r));
	pod = json_pack("{s:{s:s,s:s,s:s},s:{s:[{s:s,s:[s]}]}}", "metadata", "name", "check",
			"namespace", "default", "uid", "check", "spec", "containers", "name", "check",
			"command", "true");
	in.pod = pod;
	in.container = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
	in.scratch_dir = bundle;
	in.cgroups_path = cg;
	r = gt_oci_config(&in, &config, err);
	json_decref(pod);
	if (r < 0)
		return r;
	s = gt_json_dump(config, &len);
	json_decref(config);
	r = gt_write_file_atomic(cfgp, s, len, 0644);
	free(s);
	if (r < 0)
		return gt_err_set(err, r, "cannot write %s: %s", cfgp, strerror(-r));
	r = rt_run(rt, args, 60000, NULL, &status, msg, sizeof(msg));
	{
		const char *del[] = { "delete", "--force", id, NULL };
		char m2[512];
		int st2;

		if (r < 0 || status != 0)
			rt_run(rt, del, 30000, NULL, &st2, m2, sizeof(m2));
	}
	gt_rt_cgroup_remove(cg, NULL);
	unlink(cfgp);
	snprintf(cfgp, sizeof(cfgp), "%s/root", bundle);
	rmdir(cfgp);
	snprintf(cfgp, sizeof(cfgp), "%s/tmp", bundle);
	rmdir(cfgp);
	rmdir(bundle);
	if (r < 0)
		return gt_err_set(err, -ENOTSUP, "%s: %s", rt->runtime, strerror(-r));
	if (status != 0)
		return gt_err_set(err, -ENOTSUP, "%s: %s", rt->runtime,
				  msg[0] ? msg : "a test container failed");
	return 0;
}

/* ---- cgroups ---- */

/* rmdir path and the directories under it, deepest first. */
static int rmdir_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char sub[4096];

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (rmdir_tree(sub) < 0)
			r = -EBUSY;
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int gt_rt_cgroup_remove(const char *path, struct gt_err *err)
{
	FILE *f;
	char line[4096];
	int r = 0;

	if (!path || path[0] != '/' || strstr(path, "..") || !path[1])
		return gt_err_set(err, -EINVAL, "cgroup path must be absolute: \"%s\"",
				  path ? path : "");
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return gt_err_set(err, -errno, "/proc/self/mountinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char mnt[2048], type[64], full[4096];
		const char *sep = strstr(line, " - ");

		/* "id parent maj:min root mountpoint opts ... - fstype source superopts" */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %2047s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", type) != 1)
			continue;
		if (strcmp(type, "cgroup") && strcmp(type, "cgroup2"))
			continue;
		snprintf(full, sizeof(full), "%s%s", mnt, path);
		if (rmdir_tree(full) < 0)
			r = -EBUSY;
	}
	fclose(f);
	if (r < 0)
		return gt_err_set(err, r, "cgroup %s: processes remain", path);
	return 0;
}
