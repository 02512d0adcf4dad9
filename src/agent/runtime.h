/*
 * runtime.h - the OCI runtime (runc by default, or crun) and the per-container
 * shim (`gantry shim`, like conmon).
 *
 * Starting: gt_rt_start() spawns the shim detached (double fork + setsid,
 * stdio on /dev/null, default signal dispositions and mask).  The shim makes
 * itself the child subreaper, runs `runc create` with the container's
 * stdout/stderr on pipes it reads (stdin /dev/null, no terminal), then `runc
 * start`, and reports on an inherited pipe ("ok <pid>" or "error <message>").
 * It then writes the container's output to the log file as CRI log lines,
 * reaps children, and when the container's init exits records the exit file,
 * runs `runc delete --force` and exits.  It ignores SIGHUP/SIGPIPE/SIGINT and
 * outlives the agent, which re-adopts the container later through
 * gt_rt_state().
 *
 * Files of one container (paths chosen by the caller):
 *   log        CRI log lines "2016-10-06T00:17:09.669794202Z stdout F text\n";
 *              "P" marks a partial line (a line longer than 16 KiB is split
 *              into 16 KiB "P" pieces; an unterminated last line is "F").
 *              Rotated when a record would take it past log_max_bytes:
 *              log → log.1 → ... → log.<log_max_files-1> (1 file: truncated).
 *   exit       written atomically once the container is gone:
 *                "<exit code>\n<reason>\n<finishedAt>\n<startedAt>\n<message>"
 *              reason: Completed, Error, OOMKilled (the memory cgroup counted
 *              an OOM kill), ContainerCannotRun (runc create/start failed;
 *              exit code 128, message = runc's error).  Signals give
 *              128+signal.  Times are RFC 3339 UTC seconds.
 *   exit.lock  held (flock) by the shim while it lives: tells a live shim
 *              from a dead one; holds "<init pid> <startedAt>\n" once the
 *              container started.  Removed by the shim at the end.
 *   pid        the shim's pid.
 *   bundle/init.pid, bundle/runc.log   runc's pid file and JSON log.
 *
 * Runtime choice: runc works with cgroup v1, v2 and the hybrid layout;
 * crun 1.8 refuses the hybrid layout ("cgroups in hybrid mode not
 * supported").  gt_rt_check() runs a trivial container to find out whether
 * a runtime works on this host.  Cgroups use the cgroupfs driver
 * (cgroupsPath "/gantry/pod<uid>/<name>", absolute, under each hierarchy's
 * root); runc delete removes a container's own cgroup, gt_rt_cgroup_remove()
 * the pod-level parents.
 *
 * All functions are thread-safe (no global state) and safe to call from a
 * multi-threaded process: children are started with posix_spawn or with
 * only async-signal-safe calls between fork and exec.  A process that
 * ignores SIGCHLD cannot use them (waitpid needs the children).
 */
#ifndef GT_AGENT_RUNTIME_H
#define GT_AGENT_RUNTIME_H

#include <stddef.h>
#include <sys/types.h>

#include "codec/json.h"

struct gt_rt {
	const char *runtime;  /* "runc", "crun" or a path (PATH is searched) */
	const char *root;     /* the runtime's --root state directory */
	const char *shim_exe; /* the gantry binary (/proc/self/exe resolved) */
};

struct gt_rt_start {
	const char *id, *bundle, *log_path, *exit_path, *pid_path;
	size_t log_max_bytes; /* 0 = 10 MiB */
	int log_max_files;    /* 0 = 5 (the current file included) */
};

/*
 * Starts container s->id from s->bundle through a detached shim and waits
 * (up to 2 minutes) until it runs.  Removes a stale exit file first.
 * Returns the container's init pid (> 0), or a negative errno: -EIO when
 * runc failed, with runc's error in err (e.g. `exec: "nosuchcmd": executable
 * file not found in $PATH`); the shim has then also written the exit file
 * (ContainerCannotRun) and removed the container.
 */
int gt_rt_start(const struct gt_rt *rt, const struct gt_rt_start *s, struct gt_err *err);

enum gt_rt_status { GT_RT_UNKNOWN, GT_RT_CREATED, GT_RT_RUNNING, GT_RT_STOPPED };

struct gt_rt_state {
	enum gt_rt_status status;
	int pid;            /* init pid while created/running */
	int exit_code;      /* STOPPED */
	char reason[64];    /* STOPPED: Completed, Error, OOMKilled, ContainerCannotRun,
			     * ContainerStatusUnknown (shim gone without an exit file) */
	char message[512];
	char started_at[40], finished_at[40]; /* RFC 3339, "" when unknown */
};

/*
 * State of container id: the exit file when present (STOPPED with its
 * data); else, while its shim lives, RUNNING with the pid and start time
 * from exit.lock (no process spawned: cheap enough to poll); else the
 * runtime's state (`runc state`).  A container whose init has exited while
 * its shim still lives (draining output, deleting) is RUNNING until the
 * exit file appears.  Neither an exit file, a live shim nor a running
 * container: STOPPED with reason ContainerStatusUnknown and exit code 137
 * (as the kubelet reports a lost container).  Returns 0 or a negative errno.
 */
int gt_rt_state(const struct gt_rt *rt, const char *id, const char *exit_path,
		struct gt_rt_state *st, struct gt_err *err);

/* Sends sig to the container's init.  -ENOENT: no such container; -ESRCH: not running. */
int gt_rt_kill(const struct gt_rt *rt, const char *id, int sig, struct gt_err *err);

/* `runc delete --force`: kills and removes; 0 also when it does not exist. */
int gt_rt_delete(const struct gt_rt *rt, const char *id, struct gt_err *err);

/*
 * Runs argv in the running container (`runc exec`, the container's user,
 * env and cwd).  Combined stdout+stderr are appended to output (NULL
 * allowed; at most 64 KiB kept).  *exit_code gets the command's exit status
 * (128+signal when killed).  Returns 0; -ETIMEDOUT after timeout_s seconds
 * (<= 0: 60) — the runtime is sent SIGTERM (forwarded to the command), then
 * SIGKILL; -EIO when the command could not be started (runc's message in
 * err: e.g. not found, container not running).
 */
int gt_rt_exec(const struct gt_rt *rt, const char *id, char *const argv[], int timeout_s,
	       int *exit_code, struct gt_buf *output, struct gt_err *err);

/* *ids gets a new JSON array of the ids of all containers under rt->root. */
int gt_rt_list(const struct gt_rt *rt, json_t **ids, struct gt_err *err);

/*
 * Whether rt->runtime can run containers here: runs `true` in a container
 * made of the host image under scratch_dir (created, then removed).  Returns
 * 0, or -ENOTSUP with the runtime's message (crun on the hybrid cgroup
 * layout: "cgroups in hybrid mode not supported, ...").  Takes ~0.1 s.
 */
int gt_rt_check(const struct gt_rt *rt, const char *scratch_dir, struct gt_err *err);

/*
 * Removes cgroup path (e.g. "/gantry/pod<uid>") and the empty cgroups under
 * it from every mounted cgroup hierarchy (v1 and v2).  Absent is success;
 * -EBUSY when processes remain.
 */
int gt_rt_cgroup_remove(const char *path, struct gt_err *err);

/* `gantry shim --runtime R --root ROOT --id ID --bundle B --log FILE --exit FILE
 *  --pid-file F [--log-max-bytes N --log-max-files K] [--ready-fd FD]` */
int gt_cmd_shim(int argc, char **argv);

/* ---- shared by runtime.c and shim.c ---- */

/*
 * posix_spawnp(argv) with stdin/stdout/stderr on the given fds (-1 =
 * /dev/null), every other descriptor closed, signal mask empty and default
 * dispositions.  *pid gets the child.  Returns 0 or a negative errno.
 */
int gt_rt_spawn(char *const argv[], int in_fd, int out_fd, int err_fd, pid_t *pid);

/*
 * The error message in a runtime's stderr or --log output (JSON lines with
 * "msg", logrus text with msg="...", or plain text): the last error, with
 * runc's "runc create failed: unable to start container process: " kind of
 * prefixes removed.  Writes "" when text holds nothing.
 */
void gt_rt_errmsg(const char *text, char *out, size_t n);

/* Reads an exit file into st (STOPPED).  -ENOENT when absent, -EINVAL when malformed. */
int gt_rt_read_exit(const char *path, struct gt_rt_state *st);

#endif
