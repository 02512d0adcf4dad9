/*
 * rsh.c - the agent side of the rsh agent MPI launchers use to start their
 * daemons on the workers (OMPI_MCA_plm_rsh_agent, HYDRA_LAUNCHER_EXEC), so
 * that images need no sshd and the job needs no keys.
 *
 * The agent keeps ROOT/rsh/: exec.sock (a SOCK_SEQPACKET Unix socket), an
 * empty file "gantry" and a symlink "rsh" -> "gantry".  In the containers of
 * pods annotated GT_RSH_ANNOTATION it bind-mounts that directory read-only
 * at GT_RSH_DIR and its own binary over GT_RSH_DIR/gantry; the binary run as
 * "rsh" (cli/rsh.c) takes ssh's arguments, connects to the socket and sends
 * one message: {"host": HOST, "command": [...]} with its stdin, stdout and
 * stderr as SCM_RIGHTS.  The agent:
 *   - knows the caller's pod from the socket's peer credentials (the pid's
 *     cgroup /gantry/pod<uid>/...), so nothing in the message is trusted;
 *   - finds HOST: a pod on this node, in the caller's namespace, whose
 *     hostname or name is HOST's first label (a worker's FQDN
 *     "<job>-worker-0.<job>.<ns>.svc" or its pod name), controlled by the
 *     same owner as the caller (the same MPIJob) - nothing else is reachable;
 *     one not there yet or not running yet answers {"error", "retry": true}
 *     and the client tries again (as ssh's ConnectionAttempts) for up to
 *     $GANTRY_RSH_WAIT seconds (60);
 *   - runs `runc exec` in that pod's first running container with the
 *     command joined by spaces under /bin/sh -c (as sshd runs it), the
 *     caller's descriptors as its stdio, and answers {"exitCode": n} (or
 *     {"error": "..."}); a caller that goes away kills the process;
 *   - a HOST not on this node is looked up among the API server's pods of
 *     the namespace (same rules) and reached with `gantry exec -i` through
 *     the API server's pods/exec, with the agent's own credentials
 *     (ROOT/rsh.kubeconfig, 0600, never mounted in pods).
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/log.h"
#include "client/client.h"

extern char **environ;

#define MAX_MSG 65536

struct rsh_sess {
	struct gt_agent *a;
	int fd;
};

static void reply(int fd, json_t *msg)
{
	size_t len;
	char *s = gt_json_dump(msg, &len);

	if (send(fd, s, len, MSG_NOSIGNAL) < 0)
		gt_debug("rsh: reply: %s", strerror(errno));
	free(s);
	json_decref(msg);
}

/* The pod uid in /proc/<pid>/cgroup ("/gantry/pod<uid>/<container>-<n>"). */
static bool caller_uid(pid_t pid, char *uid, size_t n)
{
	char path[64], buf[8192], *p;
	ssize_t k;
	int fd;
	size_t i = 0;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (k <= 0)
		return false;
	buf[k] = '\0';
	p = strstr(buf, "/gantry/pod");
	if (!p)
		return false;
	p += strlen("/gantry/pod");
	while (p[i] && p[i] != '/' && p[i] != '\n' && i + 1 < n) {
		uid[i] = p[i];
		i++;
	}
	uid[i] = '\0';
	return i > 0;
}

/* The pod's controller uid, its hostname (p->lock guards p->obj). */
static void pod_facts(struct pod *p, char *owner, size_t on, char *hn, size_t hl)
{
	const json_t *r;
	size_t i;

	owner[0] = hn[0] = '\0';
	pthread_mutex_lock(&p->lock);
	json_array_foreach(gt_json_path(p->obj, "metadata.ownerReferences"), i, r)
		if (json_is_true(json_object_get(r, "controller")))
			snprintf(owner, on, "%s", gt_json_str(r, "uid") ?: "");
	snprintf(hn, hl, "%s", gt_json_str(p->obj, "spec.hostname") ?: "");
	pthread_mutex_unlock(&p->lock);
}

struct target {
	bool remote;             /* on another node: through the API server */
	char id[256];            /* local: the runc container id */
	char ns[254], pod[254], ctr[64];
};

/*
 * HOST on another node: the API server's pods in the caller's namespace.
 * -EAGAIN while it is not (yet) there and Running.
 */
static int find_remote(struct gt_agent *a, const char *owner, const char *label,
		       struct target *t, char *why, size_t wn)
{
	char path[400];
	json_t *list = NULL, *p;
	struct gt_err err;
	int rc = -EAGAIN;
	size_t i;

	gt_err_clear(&err);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", t->ns);
	if (!a->rsh_kubeconfig || gt_client_get(a->client, path, &list, &err) < 0) {
		json_decref(list);
		return rc;
	}
	json_array_foreach(json_object_get(list, "items"), i, p) {
		const json_t *r;
		const char *o = "";
		size_t k;

		if (strcmp(gt_json_str(p, "spec.hostname") ?: "", label) &&
		    strcmp(gt_json_str(p, "metadata.name") ?: "", label))
			continue;
		json_array_foreach(gt_json_path(p, "metadata.ownerReferences"), k, r)
			if (json_is_true(json_object_get(r, "controller")))
				o = gt_json_str(r, "uid") ?: "";
		if (strcmp(o, owner)) {
			snprintf(why, wn, "%s: pod %s/%s is not part of this job", label, t->ns,
				 gt_json_str(p, "metadata.name") ?: "");
			rc = -EPERM;
			break;
		}
		if (strcmp(gt_json_str(p, "status.phase") ?: "", "Running") ||
		    gt_json_path(p, "metadata.deletionTimestamp") ||
		    !strcmp(gt_json_str(p, "spec.nodeName") ?: "", a->node))
			break;
		snprintf(t->pod, sizeof(t->pod), "%s", gt_json_str(p, "metadata.name"));
		snprintf(t->ctr, sizeof(t->ctr), "%s",
			 gt_json_str(json_array_get(gt_json_path(p, "spec.containers"), 0), "name") ?: "");
		t->remote = true;
		rc = 0;
		break;
	}
	json_decref(list);
	return rc;
}

/* Finds the caller and the target. */
static int resolve(struct gt_agent *a, const char *uid, const char *host, struct target *t,
		   char *why, size_t wn)
{
	char label[254], owner[64] = "", o[64], hn[254];
	char *ns = t->ns;
	struct pod *p;
	int rc = -ENOENT;

	snprintf(label, sizeof(label), "%.*s", (int)strcspn(host, "."), host);
	pthread_mutex_lock(&a->lock);
	for (p = a->pods; p; p = p->next)
		if (!strcmp(p->uid, uid) && !p->gone) {
			pod_facts(p, owner, sizeof(owner), hn, sizeof(hn));
			snprintf(ns, sizeof(t->ns), "%s", p->ns);
			break;
		}
	if (!owner[0]) {
		snprintf(why, wn, "the calling pod is not part of a job that may use rsh");
		rc = -EPERM;
		goto out;
	}
	snprintf(why, wn, "%s: no running pod of this job has that hostname", host);
	rc = -EAGAIN; /* it may be on its way, or on another node */
	for (p = a->pods; p; p = p->next) {
		if (p->gone || strcmp(p->ns, ns))
			continue;
		pod_facts(p, o, sizeof(o), hn, sizeof(hn));
		if (strcmp(hn, label) && strcmp(p->name, label))
			continue;
		if (strcmp(o, owner)) {
			snprintf(why, wn, "%s: pod %s/%s is not part of this job", host, p->ns, p->name);
			rc = -EPERM;
			break;
		}
		snprintf(why, wn, "%s: pod %s/%s has no running container", host, p->ns, p->name);
		for (size_t i = 0; i < p->nctrs; i++)
			if (!p->ctrs[i].init && p->ctrs[i].running) {
				gt_ctr_id(p, &p->ctrs[i], p->ctrs[i].attempt, t->id, sizeof(t->id));
				rc = 0;
				break;
			}
		break;
	}
out:
	pthread_mutex_unlock(&a->lock);
	if (rc == -EAGAIN)
		rc = find_remote(a, owner, label, t, why, wn);
	return rc;
}

static void kill_pidfile(const char *pidfile)
{
	char buf[32];
	ssize_t k;
	int fd = open(pidfile, O_RDONLY | O_CLOEXEC);
	long pid;

	if (fd < 0)
		return;
	k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (k <= 0)
		return;
	buf[k] = '\0';
	pid = strtol(buf, NULL, 10);
	if (pid > 1)
		kill((pid_t)pid, SIGKILL);
}

/*
 * Runs the command with the caller's stdio; returns its exit status.  Local:
 * `runc exec`; remote: `gantry exec -i` through the API server's pods/exec.
 */
static int run(struct gt_agent *a, int conn, const struct target *t, const char *cmd,
	       const int *fds, char *why, size_t wn)
{
	static _Atomic unsigned long seq;
	posix_spawn_file_actions_t fa;
	char rroot[4200], pidfile[4200];
	char *local[] = { a->runtime, "--root", rroot, "exec", "--pid-file", pidfile,
			  (char *)t->id, "/bin/sh", "-c", (char *)cmd, NULL };
	char *remote[] = { a->rsh_exe, "exec", "-i", "--kubeconfig", a->rsh_kubeconfig, "-n",
			   (char *)t->ns, "-c", (char *)t->ctr, (char *)t->pod, "--", "/bin/sh",
			   "-c", (char *)cmd, NULL };
	char **argv = t->remote ? remote : local;
	pid_t pid;
	int status = 0, r;

	snprintf(rroot, sizeof(rroot), "%s/runc", a->root);
	snprintf(pidfile, sizeof(pidfile), "%s/rsh-%lu.pid", a->root, atomic_fetch_add(&seq, 1));
	posix_spawn_file_actions_init(&fa);
	for (int i = 0; i < 3; i++)
		posix_spawn_file_actions_adddup2(&fa, fds[i], i);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		snprintf(why, wn, "cannot start %s: %s", argv[0], strerror(r));
		return -r;
	}
	for (;;) {
		struct pollfd pf = { .fd = conn, .events = POLLIN };

		r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		/* the caller never writes again: readable means it went away */
		if (poll(&pf, 1, 200) > 0 || atomic_load(&a->stop)) {
			kill_pidfile(pidfile);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
	}
	unlink(pidfile);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void *sess_main(void *arg)
{
	struct rsh_sess *s = arg;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char *buf = xmalloc(MAX_MSG), cbuf[CMSG_SPACE(3 * sizeof(int))], uid[64];
	struct target t = { 0 };
	char why[600] = "";
	struct iovec iov = { buf, MAX_MSG - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fds[3] = { -1, -1, -1 }, nfds = 0, code;
	json_t *req = NULL, *c;
	struct gt_buf cmd = GT_BUF_INIT;
	ssize_t n;
	size_t i;

	gt_buf_init(&cmd);
	n = recvmsg(s->fd, &mh, MSG_CMSG_CLOEXEC);
	for (cm = CMSG_FIRSTHDR(&mh); n > 0 && cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(cm), (size_t)(nfds > 3 ? 3 : nfds) * sizeof(int));
		}
	if (n <= 0 || nfds != 3 || gt_json_parse(buf, (size_t)n, &req, NULL) < 0 ||
	    !gt_json_str(req, "host") || !json_array_size(json_object_get(req, "command"))) {
		reply(s->fd, json_pack("{s:s}", "error", "bad request"));
		goto out;
	}
	if (getsockopt(s->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    !caller_uid(cred.pid, uid, sizeof(uid))) {
		reply(s->fd, json_pack("{s:s}", "error", "the caller is not in a pod of this node"));
		goto out;
	}
	if ((code = resolve(s->a, uid, gt_json_str(req, "host"), &t, why, sizeof(why))) < 0) {
		reply(s->fd, json_pack("{s:s,s:b}", "error", why, "retry", code == -EAGAIN));
		goto out;
	}
	json_array_foreach(json_object_get(req, "command"), i, c)
		gt_buf_addf(&cmd, "%s%s", i ? " " : "", json_string_value(c) ?: "");
	code = run(s->a, s->fd, &t, cmd.data, fds, why, sizeof(why));
	reply(s->fd, code < 0 ? json_pack("{s:s}", "error", why) : json_pack("{s:i}", "exitCode", code));
out:
	for (int k = 0; k < 3 && k < nfds; k++)
		close(fds[k]);
	gt_buf_release(&cmd);
	json_decref(req);
	free(buf);
	close(s->fd);
	atomic_fetch_sub(&s->a->rsh_sessions, 1);
	free(s);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct gt_agent *a = arg;

	while (!atomic_load(&a->stop)) {
		struct pollfd pf = { .fd = a->rsh_fd, .events = POLLIN };
		struct rsh_sess *s;
		pthread_t t;
		int fd;

		if (poll(&pf, 1, 200) <= 0)
			continue;
		fd = accept4(a->rsh_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		s = xcalloc(1, sizeof(*s));
		s->a = a;
		s->fd = fd;
		atomic_fetch_add(&a->rsh_sessions, 1);
		if (pthread_create(&t, NULL, sess_main, s)) {
			atomic_fetch_sub(&a->rsh_sessions, 1);
			close(fd);
			free(s);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

/* ROOT/rsh.kubeconfig (0600, outside the mounted directory): the agent's
 * own credentials, for `gantry exec` to pods on other nodes. */
static void write_kubeconfig(struct gt_agent *a)
{
	const char *ca = a->client ? gt_client_ca_pem(a->client) : NULL;
	json_t *cl, *kc;
	char path[4200], *s, *b64;
	size_t len;

	if (!a->client || !gt_client_token(a->client))
		return;
	cl = json_pack("{s:s}", "server", gt_client_server(a->client));
	if (ca) {
		b64 = gt_base64_encode(ca, strlen(ca));
		json_object_set_new(cl, "certificate-authority-data", json_string(b64));
		free(b64);
	} else if (gt_client_ca_file(a->client)) {
		json_object_set_new(cl, "certificate-authority",
				    json_string(gt_client_ca_file(a->client)));
	} else if (gt_client_insecure(a->client)) {
		json_object_set_new(cl, "insecure-skip-tls-verify", json_true());
	}
	kc = json_pack("{s:s,s:s,s:[{s:s,s:o}],s:[{s:s,s:{s:s}}],s:[{s:s,s:{s:s,s:s}}],s:s}",
		       "apiVersion", "v1", "kind", "Config", "clusters", "name", "c", "cluster", cl,
		       "users", "name", "u", "user", "token", gt_client_token(a->client),
		       "contexts", "name", "x", "context", "cluster", "c", "user", "u",
		       "current-context", "x");
	s = gt_json_dump(kc, &len);
	snprintf(path, sizeof(path), "%s/rsh.kubeconfig", a->root);
	if (gt_write_file_atomic(path, s, len, 0600) == 0)
		a->rsh_kubeconfig = xstrdup(path);
	free(s);
	json_decref(kc);
}

int gt_rsh_start(struct gt_agent *a, struct gt_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[4096], path[4200], exe[4096];
	ssize_t n = readlink(a->self_exe, exe, sizeof(exe) - 1);
	int dfd;

	a->rsh_fd = -1;
	if (n <= 0)
		snprintf(exe, sizeof(exe), "%s", a->self_exe);
	else
		exe[n] = '\0';
	a->rsh_exe = xstrdup(exe);
	snprintf(dir, sizeof(dir), "%s/rsh", a->root);
	gt_mkdir_p(dir, 0755);
	/* the static rsh agent (rsh/main.c): runs in any image */
	snprintf(path, sizeof(path), "%s/gantry", dir);
	if (gt_write_file_atomic(path, gt_rsh_blob, (size_t)(gt_rsh_blob_end - gt_rsh_blob),
				 0755) < 0)
		return gt_err_set(err, -errno, "cannot write %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/rsh", dir);
	if (symlink("gantry", path) < 0 && errno != EEXIST)
		return gt_err_set(err, -errno, "cannot create %s: %s", path, strerror(errno));
	/* bind through the directory's descriptor: ROOT may be longer than sun_path */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/exec.sock", dfd);
	snprintf(path, sizeof(path), "%s/exec.sock", dir);
	unlink(path);
	a->rsh_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (dfd < 0 || a->rsh_fd < 0 || bind(a->rsh_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0666) < 0 || listen(a->rsh_fd, 64) < 0) {
		int e = errno;

		if (dfd >= 0)
			close(dfd);
		return gt_err_set(err, -e, "cannot listen on %s: %s", path, strerror(e));
	}
	close(dfd);
	a->rsh_dir = xstrdup(dir);
	write_kubeconfig(a);
	if (pthread_create(&a->rsh_thr, NULL, accept_main, a))
		return gt_err_set(err, -EAGAIN, "cannot start the rsh thread");
	a->rsh_started = true;
	return 0;
}

void gt_rsh_stop(struct gt_agent *a)
{
	if (a->rsh_started)
		pthread_join(a->rsh_thr, NULL);
	/* sessions see a->stop within 200 ms */
	for (int i = 0; i < 50 && atomic_load(&a->rsh_sessions) > 0; i++)
		usleep(100 * 1000);
	if (a->rsh_fd >= 0)
		close(a->rsh_fd);
	free(a->rsh_dir);
	free(a->rsh_exe);
	free(a->rsh_kubeconfig);
}

void gt_rsh_mounts(struct gt_agent *a, const json_t *pod, json_t *mounts)
{
	if (!a->rsh_dir || strcmp(json_string_value(json_object_get(gt_json_path(pod,
		"metadata.annotations"), GT_RSH_ANNOTATION)) ?: "", "true"))
		return;
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:[s,s,s]}", "destination", GT_RSH_DIR,
						"source", a->rsh_dir, "type", "bind", "options",
						"rbind", "ro", "rprivate"));
}
