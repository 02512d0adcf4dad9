/*
 * test_runtime.c - the container runtime layer against real runc: OCI
 * configs from gt_oci_config() run through gt_rt_start() and the shim (this
 * binary doubles as the shim: `test_runtime shim ...`), on a busybox rootfs
 * built at test time and on the `host` image.  Needs root and runc; skips
 * with a printed reason otherwise.  Checks that nothing is left behind:
 * runc state, mounts under the temp dir, cgroups.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/console.h"
#include "agent/oci.h"
#include "agent/runtime.h"
#include "t.h"

static char tmpdir[PATH_MAX], rootfs[PATH_MAX + 16], state[PATH_MAX + 16], self[PATH_MAX],
	cgparent[64];
static struct gt_rt rt;
static const char *use_netns; /* network namespace for the next start(), NULL = host */

/* ---- fixtures ---- */

static void put(const char *path, const char *text)
{
	gt_write_file_atomic(path, text, strlen(text), 0644);
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char *data = NULL;
	size_t len;
	int r = gt_read_file(from, &data, &len);

	if (r == 0)
		r = gt_write_file_atomic(to, data, len, (int)mode);
	free(data);
	return r;
}

static int build_rootfs(void)
{
	static const char *applets[] = {
		"sh", "echo", "id", "cat", "head", "tr", "chown", "touch", "sleep", "true", "false",
		"ls", "printf", "unshare", "grep", "wc", "kill", "seq", "hostname",
	};
	static const char *dirs[] = { "bin", "etc", "tmp", "proc", "dev", "sys", "root" };
	char p[PATH_MAX + 64];

	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmpdir);
	for (size_t i = 0; i < GT_ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof(p), "%s/%s", rootfs, dirs[i]);
		if (gt_mkdir_p(p, 0755) < 0)
			return -1;
	}
	snprintf(p, sizeof(p), "%s/tmp", rootfs);
	chmod(p, 01777);
	snprintf(p, sizeof(p), "%s/bin/busybox", rootfs);
	if (copy_file("/bin/busybox", p, 0755) < 0)
		return -1;
	for (size_t i = 0; i < GT_ARRAY_SIZE(applets); i++) {
		snprintf(p, sizeof(p), "%s/bin/%s", rootfs, applets[i]);
		if (symlink("busybox", p) < 0)
			return -1;
	}
	snprintf(p, sizeof(p), "%s/etc/passwd", rootfs);
	put(p, "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n"
	       "app:x:1234:4321::/tmp:/bin/sh\n");
	snprintf(p, sizeof(p), "%s/etc/group", rootfs);
	put(p, "root:x:0:\nuser:x:1000:\napp:x:4321:\nextra:x:555:app,user\n");
	return 0;
}

struct run {
	int r, pid;
	struct gt_err err;
	struct gt_rt_state st;
	char *log;
	char dir[PATH_MAX + 64], id[96];
};

static void run_release(struct run *x)
{
	free(x->log);
	x->log = NULL;
}

/* Starts container `name` of pod JSON (spec.containers[0]); host: the host image. */
static int start(struct run *x, const char *name, const char *pod_json, bool host,
		 size_t log_max, int log_files)
{
	char bundle[PATH_MAX + 128], cfgp[PATH_MAX + 160], logp[PATH_MAX + 128],
		exitp[PATH_MAX + 128], pidp[PATH_MAX + 128], scratch[PATH_MAX + 128], cg[128];
	json_t *pod = NULL, *cfg = NULL;
	struct gt_oci_input in = { 0 };
	char *s;
	size_t len;

	memset(x, 0, sizeof(*x));
	snprintf(x->dir, sizeof(x->dir), "%s/c/%s", tmpdir, name);
	snprintf(x->id, sizeof(x->id), "gt-test-%d-%s", (int)getpid(), name);
	snprintf(bundle, sizeof(bundle), "%s/bundle", x->dir);
	snprintf(scratch, sizeof(scratch), "%s/scratch", x->dir);
	snprintf(cfgp, sizeof(cfgp), "%s/config.json", bundle);
	snprintf(cg, sizeof(cg), "%s/%s", cgparent, name);
	gt_mkdir_p(bundle, 0755);
	if ((x->r = gt_json_parse(pod_json, strlen(pod_json), &pod, &x->err)) < 0)
		return x->r;
	in.pod = pod;
	in.container = json_array_get(gt_json_path(pod, "spec.containers"), 0);
	in.rootfs = host ? NULL : rootfs;
	in.hostname = "testhost";
	in.netns_path = use_netns;
	in.cgroups_path = cg;
	in.scratch_dir = scratch;
	x->r = gt_oci_config(&in, &cfg, &x->err);
	json_decref(pod);
	if (x->r < 0)
		return x->r;
	s = gt_json_dump(cfg, &len);
	json_decref(cfg);
	gt_write_file_atomic(cfgp, s, len, 0644);
	free(s);
	snprintf(logp, sizeof(logp), "%s/log", x->dir);
	snprintf(exitp, sizeof(exitp), "%s/exit", x->dir);
	snprintf(pidp, sizeof(pidp), "%s/pid", x->dir);
	{
		struct gt_rt_start st = { x->id, bundle, logp, exitp, pidp, log_max, log_files };

		x->r = gt_rt_start(&rt, &st, &x->err);
	}
	x->pid = x->r > 0 ? x->r : 0;
	return x->r;
}

/* Polls the state until STOPPED (or timeout); reads the log. */
static int wait_exit(struct run *x, int timeout_ms)
{
	char exitp[PATH_MAX + 128], logp[PATH_MAX + 128];
	int64_t end = gt_now_ms() + timeout_ms;
	size_t len;

	snprintf(exitp, sizeof(exitp), "%s/exit", x->dir);
	snprintf(logp, sizeof(logp), "%s/log", x->dir);
	do {
		if (gt_rt_state(&rt, x->id, exitp, &x->st, &x->err) < 0)
			return -1;
		if (x->st.status == GT_RT_STOPPED)
			break;
		usleep(20000);
	} while (gt_now_ms() < end);
	free(x->log);
	x->log = NULL;
	if (gt_read_file(logp, &x->log, &len) < 0)
		x->log = xstrdup("");
	return x->st.status == GT_RT_STOPPED ? 0 : -1;
}

/* Runs a container to completion. */
static int run_to_end(struct run *x, const char *name, const char *pod_json, bool host)
{
	if (start(x, name, pod_json, host, 0, 0) < 0) {
		fprintf(stderr, "  start %s: %s\n", name, x->err.msg);
		return -1;
	}
	if (wait_exit(x, 30000) < 0) {
		fprintf(stderr, "  %s did not stop\n", name);
		return -1;
	}
	return 0;
}

#define POD(ctr) "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u1\"}," \
	"\"spec\":{\"containers\":[" ctr "]}}"

/* Lines of log whose text (after the CRI prefix) is `text` on stream with tag. */
static bool log_has(const char *log, const char *stream, char tag, const char *text)
{
	char want[512];

	snprintf(want, sizeof(want), "Z %s %c %s\n", stream, tag, text);
	return log && strstr(log, want);
}

static bool cgroup_exists(const char *path)
{
	char p[256];
	struct stat sb;

	snprintf(p, sizeof(p), "/sys/fs/cgroup/memory%s", path);
	return stat(p, &sb) == 0;
}

/* ---- tests ---- */

TEST(echo_log)
{
	struct run x;

	if (run_to_end(&x, "echo", POD("{\"name\":\"c\",\"command\":[\"sh\",\"-c\","
		       "\"echo hello; echo oops >&2; printf partial\"]}"), false) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(x.st.exit_code, 0);
	CHECK_STR(x.st.reason, "Completed");
	CHECK(x.st.started_at[0] && x.st.finished_at[0]);
	CHECK(log_has(x.log, "stdout", 'F', "hello"));
	CHECK(log_has(x.log, "stderr", 'F', "oops"));
	CHECK(log_has(x.log, "stdout", 'F', "partial"));
	/* "2016-10-06T00:17:09.669794202Z stdout F hello" */
	CHECK(x.log && strlen(x.log) > 31 && x.log[4] == '-' && x.log[10] == 'T' &&
	      x.log[19] == '.' && x.log[29] == 'Z' && x.log[30] == ' ');
	{
		char leaf[128];

		snprintf(leaf, sizeof(leaf), "%s/echo", cgparent);
		CHECK(!cgroup_exists(leaf));
	}
	run_release(&x);
}

TEST(exit_code)
{
	struct run x;

	if (run_to_end(&x, "exit3", POD("{\"name\":\"c\",\"command\":[\"sh\",\"-c\",\"exit 3\"]}"),
		       false) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(x.st.exit_code, 3);
	CHECK_STR(x.st.reason, "Error");
	run_release(&x);
}

TEST(kill_running)
{
	struct run x;
	int64_t t0 = gt_now_ns();

	if (start(&x, "kill", POD("{\"name\":\"c\",\"command\":[\"sleep\",\"1000\"]}"), false, 0, 0) < 0) {
		fprintf(stderr, "  %s\n", x.err.msg);
		CHECK(0);
		return;
	}
	CHECK(x.pid > 0);
	printf("# config + gt_rt_start: %.1f ms\n", (double)(gt_now_ns() - t0) / 1e6);
	{
		char exitp[PATH_MAX + 128];

		snprintf(exitp, sizeof(exitp), "%s/exit", x.dir);
		CHECK(gt_rt_state(&rt, x.id, exitp, &x.st, &x.err) == 0);
		CHECK_INT(x.st.status, GT_RT_RUNNING);
		CHECK_INT(x.st.pid, x.pid);
		CHECK(x.st.started_at[0]);
	}
	CHECK(gt_rt_kill(&rt, x.id, SIGKILL, &x.err) == 0);
	CHECK(wait_exit(&x, 20000) == 0);
	CHECK_INT(x.st.exit_code, 137);
	CHECK_STR(x.st.reason, "Error");
	CHECK_INT(gt_rt_kill(&rt, x.id, SIGKILL, NULL), -ENOENT);
	run_release(&x);
}

TEST(oom_killed)
{
	struct run x;

	if (run_to_end(&x, "oom", POD("{\"name\":\"c\",\"resources\":{\"limits\":{\"memory\":\"20Mi\"}},"
		       "\"command\":[\"sh\",\"-c\",\"a=xxxxxxxxxxxxxxxx; while true; do a=$a$a; done\"]}"),
		       false) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(x.st.exit_code, 137);
	CHECK_STR(x.st.reason, "OOMKilled");
	run_release(&x);
}

TEST(read_only_root)
{
	struct run x;

	if (run_to_end(&x, "ro", POD("{\"name\":\"c\",\"securityContext\":{\"readOnlyRootFilesystem\":true},"
		       "\"command\":[\"sh\",\"-c\",\"touch /x 2>/dev/null && echo wrote || echo refused\"]}"),
		       false) < 0) {
		CHECK(0);
		return;
	}
	CHECK(log_has(x.log, "stdout", 'F', "refused"));
	run_release(&x);
}

TEST(run_as_user)
{
	struct run x;

	if (run_to_end(&x, "uid", POD("{\"name\":\"c\",\"securityContext\":{\"runAsUser\":1000},"
		       "\"command\":[\"sh\",\"-c\",\"id -u; id -g; id -G\"]}"), false) < 0) {
		CHECK(0);
		return;
	}
	CHECK(log_has(x.log, "stdout", 'F', "1000"));
	CHECK(log_has(x.log, "stdout", 'F', "1000 555"));
	CHECK_INT(x.st.exit_code, 0);
	run_release(&x);
}

TEST(run_as_non_root_refused)
{
	struct run x;

	CHECK_INT(start(&x, "nonroot", POD("{\"name\":\"c\",\"securityContext\":{\"runAsNonRoot\":true},"
			"\"command\":[\"id\"]}"), false, 0, 0), -EPERM);
	CHECK(strstr(x.err.msg, "container has runAsNonRoot and image will run as root") != NULL);
}

TEST(drop_chown)
{
	struct run x;

	if (run_to_end(&x, "chown", POD("{\"name\":\"c\",\"securityContext\":{\"capabilities\":"
		       "{\"drop\":[\"CHOWN\"]}},\"command\":[\"sh\",\"-c\",\"touch /tmp/f.$$ && "
		       "chown 1000 /tmp/f.$$\"]}"), false) < 0) {
		CHECK(0);
		return;
	}
	CHECK(x.st.exit_code != 0);
	run_release(&x);
	/* the default set allows it */
	if (run_to_end(&x, "chown2", POD("{\"name\":\"c\",\"command\":[\"sh\",\"-c\",\"touch /tmp/g.$$ && "
		       "chown 1000 /tmp/g.$$\"]}"), false) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(x.st.exit_code, 0);
	run_release(&x);
}

TEST(host_image)
{
	struct run x;

	if (run_to_end(&x, "host", POD("{\"name\":\"c\",\"command\":[\"sh\",\"-c\","
		       "\"python3 -c 'print(6*7)'; touch /tmp/a && echo tmp-ok; "
		       "touch /etc/gt-test 2>/dev/null && echo root-rw || echo root-ro; "
		       "touch /run/gt-test 2>/dev/null && echo run-rw || echo run-ro; "
		       "echo $HOME; cat /proc/1/cmdline | tr '\\\\0' ' '; echo\"]}"), true) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(x.st.exit_code, 0);
	CHECK(log_has(x.log, "stdout", 'F', "42"));
	CHECK(log_has(x.log, "stdout", 'F', "tmp-ok"));
	CHECK(log_has(x.log, "stdout", 'F', "root-ro"));
	CHECK(log_has(x.log, "stdout", 'F', "run-ro"));
	CHECK(log_has(x.log, "stdout", 'F', "/tmp"));
	CHECK(strstr(x.log, "sh -c python3") != NULL); /* our own /proc: pid 1 is the container */
	CHECK(access("/etc/gt-test", F_OK) < 0);
	if (!x.st.exit_code && !strstr(x.log, "42"))
		fprintf(stderr, "  log: %s\n", x.log);
	run_release(&x);
}

/* A network namespace bind-mounted on path, as the agent's sandbox makes one. */
static int make_netns(const char *path)
{
	int p[2], fd;
	char c = 0, nspath[64];
	pid_t pid;

	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0 || pipe(p) < 0)
		return -1;
	close(fd);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		c = 0;
	close(p[0]);
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", (int)pid);
	fd = c ? mount(nspath, path, NULL, MS_BIND, NULL) : -1;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return fd;
}

TEST(pod_network_namespace)
{
	char ns[PATH_MAX + 16];
	struct run x;

	snprintf(ns, sizeof(ns), "%s/netns", tmpdir);
	if (make_netns(ns) < 0) {
		fprintf(stderr, "  cannot make a network namespace: %s\n", strerror(errno));
		CHECK(0);
		return;
	}
	use_netns = ns;
	if (run_to_end(&x, "netns", POD("{\"name\":\"c\",\"command\":[\"sh\",\"-c\","
		       "\"hostname; ls /sys/class/net | tr '\\\\n' ' '; echo; echo $HOSTNAME\"]}"), false) == 0) {
		CHECK_INT(x.st.exit_code, 0);
		CHECK(log_has(x.log, "stdout", 'F', "testhost"));
		CHECK(log_has(x.log, "stdout", 'F', "lo "));
		if (x.st.exit_code || !log_has(x.log, "stdout", 'F', "lo "))
			fprintf(stderr, "  log: %s\n", x.log);
	} else {
		CHECK(0);
	}
	run_release(&x);
	/* the host image in a pod network: its own sysfs shows the pod's interfaces */
	if (run_to_end(&x, "netns-host", POD("{\"name\":\"c\",\"command\":[\"sh\",\"-c\","
		       "\"hostname; ls /sys/class/net | tr '\\\\n' ' '; echo; python3 -c 'print(6*7)'\"]}"),
		       true) == 0) {
		CHECK_INT(x.st.exit_code, 0);
		CHECK(log_has(x.log, "stdout", 'F', "testhost"));
		CHECK(log_has(x.log, "stdout", 'F', "lo "));
		CHECK(log_has(x.log, "stdout", 'F', "42"));
		if (x.st.exit_code || !log_has(x.log, "stdout", 'F', "42"))
			fprintf(stderr, "  log: %s\n", x.log);
	} else {
		CHECK(0);
	}
	run_release(&x);
	use_netns = NULL;
	CHECK(umount2(ns, MNT_DETACH) == 0);
}

TEST(exec_probe)
{
	struct run x;
	struct gt_buf out = GT_BUF_INIT;
	char *ok[] = { "sh", "-c", "echo hi; echo there >&2; exit 4", NULL };
	char *missing[] = { "nosuchcmd", NULL };
	char *slow[] = { "sleep", "30", NULL };
	int code = -1;
	int64_t t0;

	/* pid 1 ignores SIGTERM unless it handles it: the shell's trap does */
	if (start(&x, "exec", POD("{\"name\":\"c\",\"command\":[\"sh\",\"-c\","
		  "\"trap 'exit 143' TERM; while true; do sleep 0.1; done\"]}"), false, 0, 0) < 0) {
		CHECK(0);
		return;
	}
	gt_buf_init(&out);
	CHECK(gt_rt_exec(&rt, x.id, ok, 10, &code, &out, &x.err) == 0);
	CHECK_INT(code, 4);
	CHECK(strstr(out.data, "hi\n") && strstr(out.data, "there\n"));
	gt_buf_reset(&out);
	CHECK_INT(gt_rt_exec(&rt, x.id, missing, 10, &code, &out, &x.err), -EIO);
	CHECK(strstr(x.err.msg, "executable file not found") != NULL);
	t0 = gt_now_ms();
	CHECK_INT(gt_rt_exec(&rt, x.id, slow, 1, &code, &out, &x.err), -ETIMEDOUT);
	CHECK(gt_now_ms() - t0 < 5000);
	gt_buf_release(&out);
	CHECK(gt_rt_kill(&rt, x.id, SIGTERM, NULL) == 0);
	CHECK(wait_exit(&x, 20000) == 0);
	CHECK_INT(x.st.exit_code, 143);
	CHECK_INT(gt_rt_exec(&rt, x.id, ok, 10, &code, NULL, &x.err), -ENOENT);
	run_release(&x);
}

/* The shim dies (kill -9): the runtime's state takes over, then the loss is reported. */
TEST(shim_lost)
{
	struct run x;
	char p[PATH_MAX + 128], exitp[PATH_MAX + 128], *pidtxt = NULL;
	int64_t shim = 0, end;
	size_t len;

	if (start(&x, "lost", POD("{\"name\":\"c\",\"command\":[\"sleep\",\"1000\"]}"), false, 0, 0) < 0) {
		CHECK(0);
		return;
	}
	snprintf(p, sizeof(p), "%s/pid", x.dir);
	snprintf(exitp, sizeof(exitp), "%s/exit", x.dir);
	CHECK(gt_read_file(p, &pidtxt, &len) == 0);
	if (pidtxt)
		pidtxt[strcspn(pidtxt, "\n")] = '\0';
	CHECK(pidtxt && gt_parse_i64(pidtxt, &shim) == 0 && shim > 1);
	free(pidtxt);
	if (shim > 1)
		kill((pid_t)shim, SIGKILL);
	usleep(100000);
	CHECK(gt_rt_state(&rt, x.id, exitp, &x.st, &x.err) == 0);
	CHECK_INT(x.st.status, GT_RT_RUNNING);
	CHECK_INT(x.st.pid, x.pid);
	CHECK(gt_rt_kill(&rt, x.id, SIGKILL, &x.err) == 0);
	end = gt_now_ms() + 10000;
	do {
		usleep(20000);
		CHECK(gt_rt_state(&rt, x.id, exitp, &x.st, &x.err) == 0);
	} while (x.st.status != GT_RT_STOPPED && gt_now_ms() < end);
	CHECK_INT(x.st.status, GT_RT_STOPPED);
	CHECK_STR(x.st.reason, "ContainerStatusUnknown");
	CHECK_INT(x.st.exit_code, 137);
	CHECK(gt_rt_delete(&rt, x.id, &x.err) == 0);
	CHECK(gt_rt_delete(&rt, x.id, &x.err) == 0); /* idempotent */
}

TEST(no_such_command)
{
	struct run x;
	char exitp[PATH_MAX + 128];

	CHECK_INT(start(&x, "nocmd", POD("{\"name\":\"c\",\"command\":[\"nosuchcmd\"]}"), false, 0, 0), -EIO);
	CHECK_STR(x.err.msg, "exec: \"nosuchcmd\": executable file not found in $PATH");
	snprintf(exitp, sizeof(exitp), "%s/exit", x.dir);
	CHECK(gt_rt_state(&rt, x.id, exitp, &x.st, NULL) == 0);
	CHECK_INT(x.st.status, GT_RT_STOPPED);
	CHECK_STR(x.st.reason, "ContainerCannotRun");
	CHECK_INT(x.st.exit_code, 128);
	CHECK(strstr(x.st.message, "executable file not found") != NULL);
}

TEST(log_rotation_and_long_lines)
{
	struct run x;
	char p[PATH_MAX + 128];
	char *log1 = NULL;
	size_t len;

	if (start(&x, "rot", POD("{\"name\":\"c\",\"command\":[\"sh\",\"-c\","
		  "\"seq 1 200; head -c 40000 /dev/zero | tr '\\\\0' a; echo\"]}"), false, 20000, 3) < 0 ||
	    wait_exit(&x, 30000) < 0) {
		CHECK(0);
		return;
	}
	snprintf(p, sizeof(p), "%s/log.1", x.dir);
	CHECK(gt_read_file(p, &log1, &len) == 0);
	snprintf(p, sizeof(p), "%s/log.3", x.dir);
	CHECK(access(p, F_OK) < 0);
	{
		/* the 40000-byte line: 16384 P, 16384 P, 7232 F, somewhere in log/log.1/log.2 */
		char *all = xasprintf("%s%s", log1 ? log1 : "", x.log);
		int parts = 0;
		const char *s = all;

		while ((s = strstr(s, " stdout P "))) {
			const char *nl = strchr(s, '\n');

			CHECK_INT(nl - (s + 10), 16384);
			parts++;
			s = nl;
		}
		if (parts < 2) { /* the first piece may have rotated into log.2 */
			snprintf(p, sizeof(p), "%s/log.2", x.dir);
			CHECK(access(p, F_OK) == 0);
		}
		CHECK(parts >= 1);
		CHECK(strstr(x.log, " stdout F aaaa") != NULL);
		free(all);
	}
	CHECK(strlen(x.log) <= 20000 + 16384 + 64);
	free(log1);
	run_release(&x);
}

TEST(seccomp_and_privileged)
{
	struct run x;

	if (run_to_end(&x, "seccomp", POD("{\"name\":\"c\",\"securityContext\":{\"seccompProfile\":"
		       "{\"type\":\"RuntimeDefault\"}},\"command\":[\"sh\",\"-c\","
		       "\"echo up; unshare -U true && echo unshare-ok || echo unshare-denied\"]}"),
		       false) < 0) {
		CHECK(0);
		return;
	}
	CHECK(log_has(x.log, "stdout", 'F', "up"));
	CHECK(log_has(x.log, "stdout", 'F', "unshare-denied"));
	run_release(&x);
	{
		/* a host device node appears in the privileged container's /dev */
		static const char *cands[] = { "/dev/loop-control", "/dev/fuse", "/dev/kmsg", "/dev/tty0" };
		const char *dev = "/dev/null";
		char pod[1024];

		for (size_t i = 0; i < GT_ARRAY_SIZE(cands); i++) {
			if (access(cands[i], F_OK) == 0) {
				dev = cands[i];
				break;
			}
		}
		snprintf(pod, sizeof(pod), POD("{\"name\":\"c\",\"securityContext\":{\"privileged\":true},"
			 "\"command\":[\"sh\",\"-c\",\"grep CapEff /proc/self/status; ls %s /dev/zero; "
			 "unshare -U true && echo unshare-ok\"]}"), dev);
		if (run_to_end(&x, "priv", pod, false) < 0) {
			CHECK(0);
			return;
		}
	}
	CHECK_INT(x.st.exit_code, 0);
	{
		/* all the capabilities we have ourselves */
		char *status = NULL, want[64];
		const char *b;
		size_t len;

		gt_read_file("/proc/self/status", &status, &len);
		b = status ? strstr(status, "CapBnd:\t") : NULL;
		snprintf(want, sizeof(want), "CapEff:\t%.16s", b ? b + 8 : "?");
		CHECK(x.log && strstr(x.log, want) != NULL);
		free(status);
	}
	CHECK(log_has(x.log, "stdout", 'F', "unshare-ok"));
	if (x.st.exit_code)
		fprintf(stderr, "  log: %s\n", x.log);
	run_release(&x);
}

/* Several threads start containers at once, as the agent's pod workers do. */
static void *parallel_one(void *arg)
{
	struct run *x = arg;
	char name[32];

	snprintf(name, sizeof(name), "par%d", x->pid);
	/* "$$" is Kubernetes' escape for "$": the shell sees "echo $$" */
	if (run_to_end(x, name, POD("{\"name\":\"c\",\"command\":[\"sh\",\"-c\",\"echo $$$$\"]}"),
		       false) < 0)
		x->r = -1;
	return NULL;
}

TEST(parallel_starts)
{
	enum { N = 8 };
	static struct run xs[N];
	pthread_t th[N];
	int64_t t0 = gt_now_ns();

	for (int i = 0; i < N; i++) {
		memset(&xs[i], 0, sizeof(xs[i]));
		xs[i].pid = i;
		pthread_create(&th[i], NULL, parallel_one, &xs[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		CHECK(xs[i].r >= 0);
		CHECK_INT(xs[i].st.exit_code, 0);
		CHECK(log_has(xs[i].log, "stdout", 'F', "1"));
		run_release(&xs[i]);
	}
	printf("# %d containers started and finished in parallel: %.0f ms\n", N,
	       (double)(gt_now_ns() - t0) / 1e6);
}

TEST(runtime_check)
{
	char d[PATH_MAX + 32];
	struct gt_err err;
	struct gt_rt crun = { "crun", state, self };

	snprintf(d, sizeof(d), "%s/check", tmpdir);
	CHECK(gt_rt_check(&rt, d, &err) == 0);
	if (access("/usr/bin/crun", X_OK) == 0) {
		int r = gt_rt_check(&crun, d, &err);

		printf("# crun usable here: %s%s\n", r == 0 ? "yes" : "no: ", r == 0 ? "" : err.msg);
		CHECK(r == 0 || r == -ENOTSUP);
	}
}

TEST(nothing_left_behind)
{
	json_t *ids = NULL, *v;
	size_t i;
	struct gt_err err;
	char line[4096];
	FILE *f;
	int mounts = 0;

	CHECK(gt_rt_list(&rt, &ids, &err) == 0);
	CHECK_INT(json_array_size(ids), 0);
	if (json_array_size(ids)) {
		char *s = gt_json_dump(ids, NULL);

		fprintf(stderr, "  left: %s\n", s);
		free(s);
		json_array_foreach(ids, i, v)
			gt_rt_delete(&rt, json_string_value(v), NULL);
	}
	json_decref(ids);
	f = fopen("/proc/self/mountinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, tmpdir))
			mounts++;
	if (f)
		fclose(f);
	CHECK_INT(mounts, 0);
	CHECK(gt_rt_cgroup_remove(cgparent, &err) == 0);
	CHECK(!cgroup_exists(cgparent));
	{
		char p[256];
		struct stat sb;

		snprintf(p, sizeof(p), "/sys/fs/cgroup/pids%s", cgparent);
		CHECK(stat(p, &sb) < 0);
	}
}

static int rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	int r = system(cmd);

	free(cmd);
	return r;
}

static bool have_runc(void)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL;
	bool found = false;

	copy = xstrdup(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/runc", d);
		found = access(p, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* Window sizes from the resize FIFO: complete lines applied, junk skipped,
 * the unterminated rest kept. */
TEST(console_resize_lines)
{
	int m, sl;
	struct winsize ws;
	char buf[64];
	size_t len;

	if (openpty(&m, &sl, NULL, NULL, NULL) < 0) {
		CHECK(!"openpty");
		return;
	}
	len = (size_t)snprintf(buf, sizeof(buf), "120 40\n0 9\nx y\n97 33\n50 2");
	gt_console_resize_feed(m, buf, &len);
	CHECK(ioctl(sl, TIOCGWINSZ, &ws) == 0);
	CHECK_INT(ws.ws_col, 97);
	CHECK_INT(ws.ws_row, 33);
	CHECK_INT(len, 4);
	CHECK(!memcmp(buf, "50 2", 4));
	buf[len++] = '\n';
	gt_console_resize_feed(m, buf, &len);
	CHECK(ioctl(sl, TIOCGWINSZ, &ws) == 0);
	CHECK_INT(ws.ws_col, 50);
	CHECK_INT(len, 0);
	close(m);
	close(sl);
}

int main(int argc, char **argv)
{
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "shim"))
		return gt_cmd_shim(argc - 1, argv + 1);
	RUN(console_resize_lines);
	if (geteuid() != 0) {
		printf("# SKIP test_runtime: needs root\n");
		return t_done();
	}
	if (!have_runc()) {
		printf("# SKIP test_runtime: runc not found in PATH\n");
		return t_done();
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gt-rt-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	snprintf(state, sizeof(state), "%s/runc", tmpdir);
	snprintf(cgparent, sizeof(cgparent), "/gantry-test-%d", (int)getpid());
	rt.runtime = "runc";
	rt.root = state;
	rt.shim_exe = self;
	if (build_rootfs() < 0) {
		printf("not ok - cannot build the busybox rootfs (is /bin/busybox installed?)\n");
		t_failed++;
		return t_done();
	}
	RUN(echo_log);
	RUN(exit_code);
	RUN(kill_running);
	RUN(oom_killed);
	RUN(read_only_root);
	RUN(run_as_user);
	RUN(run_as_non_root_refused);
	RUN(drop_chown);
	RUN(host_image);
	RUN(pod_network_namespace);
	RUN(exec_probe);
	RUN(shim_lost);
	RUN(no_such_command);
	RUN(log_rotation_and_long_lines);
	RUN(seccomp_and_privileged);
	RUN(parallel_starts);
	RUN(runtime_check);
	RUN(nothing_left_behind);
	if (!t_failed)
		rm_rf(tmpdir);
	else
		printf("# kept %s\n", tmpdir);
	return t_done();
}
