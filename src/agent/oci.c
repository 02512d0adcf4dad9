/*
 * oci.c - the OCI config of one container: process (argv, env, cwd), root,
 * hostname, mounts, namespaces, cgroup resources, devices, masked and
 * read-only paths.  User, capabilities and seccomp live in oci_security.c.
 * See oci.h for the mapping's contract and the `host` image.
 */
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/oci.h"
#include "api/quantity.h"

/* ---- helpers ---- */

void gt_oci_field(const struct gt_oci_input *in, char *out, size_t n)
{
	static const char *lists[] = { "containers", "initContainers", "ephemeralContainers" };
	const json_t *spec = json_object_get(in->pod, "spec");

	for (size_t k = 0; k < GT_ARRAY_SIZE(lists); k++) {
		const json_t *arr = json_object_get(spec, lists[k]);
		size_t i;
		json_t *c;

		json_array_foreach(arr, i, c) {
			if (c == in->container) {
				snprintf(out, n, "spec.%s[%zu]", lists[k], i);
				return;
			}
		}
	}
	snprintf(out, n, "container \"%s\"",
		 json_string_value(json_object_get(in->container, "name")) ?: "");
}

/* Value of key in "K=V" entries (last wins), or NULL. */
static const char *env_lookup(const json_t *env, const char *key, size_t klen)
{
	const char *found = NULL;
	size_t i;
	json_t *v;

	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v);

		if (s && !strncmp(s, key, klen) && s[klen] == '=')
			found = s + klen + 1;
	}
	return found;
}

char *gt_oci_expand(const char *s, const json_t *env)
{
	struct gt_buf b = GT_BUF_INIT;

	gt_buf_init(&b);
	for (const char *p = s; *p; p++) {
		const char *close, *val;

		if (p[0] != '$' || !p[1]) {
			gt_buf_addc(&b, *p);
			continue;
		}
		if (p[1] == '$') { /* $$ → $ */
			gt_buf_addc(&b, '$');
			p++;
			continue;
		}
		if (p[1] != '(' || !(close = strchr(p + 2, ')'))) {
			/* "$x" and an unclosed "$(" stay as written */
			gt_buf_addc(&b, '$');
			continue;
		}
		val = env_lookup(env, p + 2, (size_t)(close - p - 2));
		if (val)
			gt_buf_adds(&b, val);
		else
			gt_buf_add(&b, p, (size_t)(close - p + 1));
		p = close;
	}
	return gt_buf_detach(&b, NULL);
}

/* Sets "K=V" in arr, replacing an entry with the same key in place. */
static void env_put(json_t *arr, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv), i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		if (!strncmp(s, kv, klen) && (s[klen] == '=' || !s[klen])) {
			json_array_set_new(arr, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(arr, json_string(kv));
}

static bool env_has(const json_t *arr, const char *key)
{
	return env_lookup(arr, key, strlen(key)) != NULL;
}

/* A JSON array of strings (or absent) → check; field names it for errors. */
static int str_array(const json_t *v, const char *field, struct gt_err *err)
{
	size_t i;
	json_t *e;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return gt_err_set(err, -EINVAL, "%s: must be an array of strings", field);
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return gt_err_set(err, -EINVAL, "%s[%zu]: must be a string", field, i);
	return 0;
}

/* ---- process ---- */

static void append_expanded(json_t *argv, const json_t *words, const json_t *env)
{
	size_t i;
	json_t *v;

	json_array_foreach(words, i, v) {
		char *s = gt_oci_expand(json_string_value(v), env);

		json_array_append_new(argv, json_string(s) ?: json_string(""));
		free(s);
	}
}

static int build_args(const struct gt_oci_input *in, const char *fp, json_t *process,
		      struct gt_err *err)
{
	const json_t *cmd = json_object_get(in->container, "command");
	const json_t *args = json_object_get(in->container, "args");
	const json_t *ep = json_object_get(in->image_config, "Entrypoint");
	const json_t *icmd = json_object_get(in->image_config, "Cmd");
	json_t *argv = json_array();
	char field[256];
	size_t i;
	json_t *v;
	int r;

	snprintf(field, sizeof(field), "%s.command", fp);
	if ((r = str_array(cmd, field, err)) < 0)
		goto fail;
	snprintf(field, sizeof(field), "%s.args", fp);
	if ((r = str_array(args, field, err)) < 0)
		goto fail;
	if (json_is_array(cmd) && json_array_size(cmd)) {
		append_expanded(argv, cmd, in->env);
	} else {
		json_array_foreach(ep, i, v)
			if (json_is_string(v))
				json_array_append(argv, v);
	}
	if (json_is_array(args) && json_array_size(args)) {
		append_expanded(argv, args, in->env);
	} else if (!(json_is_array(cmd) && json_array_size(cmd))) {
		json_array_foreach(icmd, i, v)
			if (json_is_string(v))
				json_array_append(argv, v);
	}
	if (json_array_size(argv) == 0) {
		r = gt_err_set(err, -EINVAL, "%s: no command specified (the image has no "
			       "Entrypoint or Cmd and the container no command or args)", fp);
		goto fail;
	}
	json_object_set_new(process, "args", argv);
	return 0;
fail:
	json_decref(argv);
	return r;
}

static int build_env(const struct gt_oci_input *in, const char *fp, json_t *process,
		     struct gt_err *err)
{
	const json_t *ienv = json_object_get(in->image_config, "Env");
	json_t *env = json_array();
	char field[256], host[256], *kv;
	size_t i;
	json_t *v;
	int r;

	snprintf(field, sizeof(field), "%s env", fp);
	if ((r = str_array(in->env, field, err)) < 0) {
		json_decref(env);
		return r;
	}
	json_array_foreach(ienv, i, v)
		if (json_is_string(v))
			env_put(env, json_string_value(v));
	json_array_foreach(in->env, i, v)
		env_put(env, json_string_value(v));
	if (!env_has(env, "PATH"))
		json_array_insert_new(env, 0, json_string("PATH=" GT_OCI_DEFAULT_PATH));
	if (!env_has(env, "HOSTNAME")) {
		const char *h = in->hostname;

		if (!in->netns_path || !h) {
			if (gethostname(host, sizeof(host)) < 0)
				host[0] = '\0';
			host[sizeof(host) - 1] = '\0';
			h = host;
		}
		kv = xasprintf("HOSTNAME=%s", h);
		json_array_append_new(env, json_string(kv));
		free(kv);
	}
	if (!in->rootfs && !env_has(env, "HOME"))
		json_array_append_new(env, json_string("HOME=/tmp"));
	json_object_set_new(process, "env", env);
	return 0;
}

static int build_cwd(const struct gt_oci_input *in, const char *fp, json_t *process,
		     struct gt_err *err)
{
	const char *cwd = json_string_value(json_object_get(in->container, "workingDir"));

	if (!cwd || !*cwd)
		cwd = json_string_value(json_object_get(in->image_config, "WorkingDir"));
	if (!cwd || !*cwd)
		cwd = "/";
	if (cwd[0] != '/')
		return gt_err_set(err, -EINVAL, "%s.workingDir: must be an absolute path: \"%s\"",
				  fp, cwd);
	json_object_set_new(process, "cwd", json_string(cwd));
	return 0;
}

/* ---- mounts ---- */

static json_t *mnt(const char *dest, const char *type, const char *src, const char *opts)
{
	json_t *m = json_pack("{s:s,s:s,s:s}", "destination", dest, "type", type, "source", src);
	json_t *o = json_array();
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", opts);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(o, json_string(t));
	json_object_set_new(m, "options", o);
	return m;
}

static bool has_dest(const json_t *mounts, const char *dest)
{
	size_t i;
	json_t *m;

	json_array_foreach(mounts, i, m) {
		const char *d = json_string_value(json_object_get(m, "destination"));

		if (d && !strcmp(d, dest))
			return true;
	}
	return false;
}

/* Appends m to out unless an extra mount has its destination; steals m. */
static void add_std(json_t *out, const json_t *extra, json_t *m)
{
	if (has_dest(extra, json_string_value(json_object_get(m, "destination"))))
		json_decref(m);
	else
		json_array_append_new(out, m);
}

/*
 * The host view: the container's root is a private directory that mirrors
 * the host's top-level entries, each a recursive read-only bind of the
 * host's (symlinks such as /bin -> usr/bin copied as they are).  Mount
 * points that do not exist on the host (a volume at /data) can then be
 * created in the private root, which runc makes read-only afterwards; the
 * host's own / is never written.  A directory holding such a mount point
 * deeper down (a ConfigMap at /etc/mpi, the rsh agent at /run/gantry) is
 * mirrored the same way, one level further, instead of bound whole
 * (entries other than directories, files and symlinks are left out there).
 */
static bool needs_mirror(const char *src, const json_t *extra)
{
	size_t n = strlen(src), i;
	const json_t *m;
	struct stat st;

	json_array_foreach(extra, i, m) {
		const char *d = json_string_value(json_object_get(m, "destination"));

		if (d && !strncmp(d, src, n) && d[n] == '/' && lstat(d, &st) < 0)
			return true;
	}
	return false;
}

static int mirror(json_t *out, const char *hostdir, const char *root, const json_t *extra,
		  int depth, const char *fp, struct gt_err *err)
{
	static const char *own[] = { "proc", "sys", "dev", "tmp" };
	struct dirent *de;
	DIR *d = opendir(hostdir[0] ? hostdir : "/");
	int rc = 0;

	if (!d)
		return gt_err_set(err, -errno, "%s: cannot read the host's %s/", fp, hostdir);
	while ((de = readdir(d)) && !rc) {
		char dst[4096], src[4096], target[4096];
		struct stat st;
		bool skip = de->d_name[0] == '.' && (!depth || !de->d_name[1] ||
						     !strcmp(de->d_name, ".."));
		ssize_t n;

		for (size_t i = 0; i < GT_ARRAY_SIZE(own) && !skip && !depth; i++)
			skip = !strcmp(de->d_name, own[i]);
		snprintf(src, sizeof(src), "%s/%s", hostdir, de->d_name);
		snprintf(dst, sizeof(dst), "%s%s", root, src);
		if (skip || lstat(src, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(src, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (symlink(target, dst) < 0 && errno != EEXIST)
				rc = gt_err_set(err, -errno, "%s: cannot mirror %s", fp, src);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(dst, 0755) < 0 && errno != EEXIST) {
				rc = gt_err_set(err, -errno, "%s: cannot mirror %s", fp, src);
				continue;
			}
			if (depth < 4 && needs_mirror(src, extra)) {
				rc = mirror(out, src, root, extra, depth + 1, fp, err);
				continue;
			}
		} else if (S_ISREG(st.st_mode)) {
			int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

			if (fd >= 0)
				close(fd);
		} else {
			continue;
		}
		json_array_append_new(out, mnt(src, "bind", src, "rbind,rro"));
	}
	closedir(d);
	return rc;
}

static int host_view(json_t *out, const char *root, const json_t *extra, const char *fp,
		     struct gt_err *err)
{
	static const char *own[] = { "proc", "sys", "dev", "tmp" };
	int rc = mirror(out, "", root, extra, 0, fp, err);

	/* mount points runc creates for the standard mounts */
	for (size_t i = 0; i < GT_ARRAY_SIZE(own); i++) {
		char dst[4096];

		snprintf(dst, sizeof(dst), "%s/%s", root, own[i]);
		mkdir(dst, 0755);
	}
	return rc;
}

static int build_mounts(const struct gt_oci_input *in, const char *fp, bool privileged,
			const char *hostroot, json_t *config, struct gt_err *err)
{
	json_t *out = json_array();
	int rc;
	const json_t *extra = in->mounts;
	bool host = !in->rootfs;
	size_t i;
	json_t *m;

	if (extra && !json_is_array(extra)) {
		json_decref(out);
		return gt_err_set(err, -EINVAL, "%s: mounts must be an array", fp);
	}
	if (host && (rc = host_view(out, hostroot, extra, fp, err)) < 0) {
		json_decref(out);
		return rc;
	}
	add_std(out, extra, mnt("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	add_std(out, extra, mnt("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	add_std(out, extra, mnt("/dev/pts", "devpts", "devpts",
				"nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	add_std(out, extra, mnt("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	add_std(out, extra, mnt("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	if (host && !in->netns_path && !has_dest(extra, "/sys"))
		json_array_append_new(out, mnt("/sys", "tmpfs", "tmpfs", "nosuid,noexec,nodev,ro,size=4k"));
	add_std(out, extra, mnt("/sys", "sysfs", "sysfs", privileged ? "nosuid,noexec,nodev" :
				"nosuid,noexec,nodev,ro"));
	add_std(out, extra, mnt("/sys/fs/cgroup", "cgroup", "cgroup", privileged ?
				"nosuid,noexec,nodev,relatime" : "nosuid,noexec,nodev,relatime,ro"));
	if (host) {
		char *tmp = xasprintf("%s/tmp", in->scratch_dir);

		add_std(out, extra, mnt("/tmp", "bind", tmp, "rbind,nosuid,nodev"));
		free(tmp);
	}
	json_array_foreach(extra, i, m) {
		if (!json_is_object(m) || !json_is_string(json_object_get(m, "destination"))) {
			json_decref(out);
			return gt_err_set(err, -EINVAL, "%s: mount %zu: destination required", fp, i);
		}
		json_array_append(out, m);
	}
	json_object_set_new(config, "mounts", out);
	return 0;
}

/* ---- resources ---- */

/*
 * The host's device nodes under dir (recursively, as containerd's
 * HostDevices: pts, shm, mqueue, fd and the console skipped) into ldevs:
 * a privileged container sees them all in its own /dev tmpfs.
 */
static void host_devices(const char *dir, int depth, json_t *ldevs)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		static const char *skip[] = { "pts", "shm", "mqueue", "fd", "console", ".lxc",
					      ".lxd-mounts", ".udev" };
		char path[1024];
		struct stat sb;
		bool skipped = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");

		for (size_t i = 0; i < GT_ARRAY_SIZE(skip) && depth == 0; i++)
			skipped |= !strcmp(de->d_name, skip[i]);
		if (skipped)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode) && depth < 3)
			host_devices(path, depth + 1, ldevs);
		else if (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode))
			json_array_append_new(ldevs, json_pack("{s:s,s:s,s:I,s:I,s:i,s:I,s:I}",
				"path", path, "type", S_ISCHR(sb.st_mode) ? "c" : "b",
				"major", (json_int_t)major(sb.st_rdev), "minor", (json_int_t)minor(sb.st_rdev),
				"fileMode", (int)(sb.st_mode & 0777), "uid", (json_int_t)sb.st_uid,
				"gid", (json_int_t)sb.st_gid));
	}
	closedir(d);
}

/* resources.<kind>.<name> as a quantity into *q; *set says whether present. */
static int quantity(const json_t *res, const char *kind, const char *name, const char *fp,
		    struct gt_quantity *q, bool *set, struct gt_err *err)
{
	const json_t *v = json_object_get(json_object_get(res, kind), name);
	int r;

	*set = false;
	memset(q, 0, sizeof(*q));
	if (!v || json_is_null(v))
		return 0;
	if ((r = gt_quantity_from_json(v, q, err)) < 0)
		return gt_err_prefix(err, r, "%s.resources.%s.%s", fp, kind, name);
	*set = true;
	return 0;
}

static int build_resources(const struct gt_oci_input *in, const char *fp, bool privileged,
			   json_t *linux_, struct gt_err *err)
{
	const json_t *res = json_object_get(in->container, "resources");
	json_t *r = json_object(), *devs = json_array(), *ldevs = json_array();
	struct gt_quantity q;
	int64_t cpu_req = 0, cpu_lim = 0, shares;
	bool set;
	size_t i;
	json_t *d;
	int rc;

	if ((rc = quantity(res, "limits", "memory", fp, &q, &set, err)) < 0)
		goto fail;
	if (set && gt_quantity_value(&q) > 0) {
		int64_t lim = gt_quantity_value(&q);

		json_object_set_new(r, "memory", json_pack("{s:I,s:I}", "limit", (json_int_t)lim,
							   "swap", (json_int_t)lim));
	}
	if ((rc = quantity(res, "limits", "cpu", fp, &q, &set, err)) < 0)
		goto fail;
	if (set)
		cpu_lim = gt_quantity_milli(&q);
	if ((rc = quantity(res, "requests", "cpu", fp, &q, &set, err)) < 0)
		goto fail;
	cpu_req = set ? gt_quantity_milli(&q) : cpu_lim;
	/* kubelet MilliCPUToShares / MilliCPUToQuota */
	shares = cpu_req * 1024 / 1000;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	json_object_set_new(r, "cpu", json_pack("{s:I}", "shares", (json_int_t)shares));
	if (cpu_lim > 0) {
		int64_t quota = cpu_lim * 100000 / 1000;

		if (quota < 1000)
			quota = 1000;
		json_object_set_new(json_object_get(r, "cpu"), "quota", json_integer(quota));
		json_object_set_new(json_object_get(r, "cpu"), "period", json_integer(100000));
	}
	json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t)GT_OCI_PIDS_LIMIT));

	json_array_append_new(devs, json_pack("{s:b,s:s}", "allow", privileged, "access", "rwm"));
	json_array_foreach(in->devices, i, d) {
		const char *path = json_string_value(json_object_get(d, "path"));
		const char *type = json_string_value(json_object_get(d, "type")) ?: "c";
		json_t *maj = json_object_get(d, "major"), *min = json_object_get(d, "minor");

		if (!path || path[0] != '/' || !json_is_integer(maj) || !json_is_integer(min)) {
			rc = gt_err_set(err, -EINVAL, "%s: device %zu: path, major and minor required",
					fp, i);
			goto fail;
		}
		json_array_append(ldevs, d);
		if (!json_object_get(d, "type"))
			json_object_set_new(json_array_get(ldevs, json_array_size(ldevs) - 1), "type",
					    json_string(type));
		json_array_append_new(devs, json_pack("{s:b,s:s,s:O,s:O,s:s}", "allow", 1, "type", type,
						      "major", maj, "minor", min, "access", "rwm"));
	}
	if (privileged)
		host_devices("/dev", 0, ldevs);
	json_object_set_new(r, "devices", devs);
	json_object_set_new(linux_, "resources", r);
	if (json_array_size(ldevs))
		json_object_set_new(linux_, "devices", ldevs);
	else
		json_decref(ldevs);
	return 0;
fail:
	json_decref(r);
	json_decref(devs);
	json_decref(ldevs);
	return rc;
}

/* ---- namespaces, paths ---- */

static void build_namespaces(const struct gt_oci_input *in, json_t *linux_)
{
	const json_t *spec = json_object_get(in->pod, "spec");
	json_t *ns = json_array();

	if (!gt_json_bool(spec, "hostPID", false))
		json_array_append_new(ns, json_pack("{s:s}", "type", "pid"));
	if (!gt_json_bool(spec, "hostIPC", false))
		json_array_append_new(ns, json_pack("{s:s}", "type", "ipc"));
	if (in->netns_path) {
		json_array_append_new(ns, json_pack("{s:s}", "type", "uts"));
		json_array_append_new(ns, json_pack("{s:s,s:s}", "type", "network", "path",
						    in->netns_path));
	}
	json_array_append_new(ns, json_pack("{s:s}", "type", "mount"));
	json_object_set_new(linux_, "namespaces", ns);
}

static void build_paths(json_t *linux_)
{
	static const char *masked[] = {
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
		"/proc/scsi", "/sys/devices/virtual/powercap",
	};
	static const char *ro[] = {
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	};
	json_t *m = json_array(), *r = json_array();

	for (size_t i = 0; i < GT_ARRAY_SIZE(masked); i++)
		json_array_append_new(m, json_string(masked[i]));
	for (size_t i = 0; i < GT_ARRAY_SIZE(ro); i++)
		json_array_append_new(r, json_string(ro[i]));
	json_object_set_new(linux_, "maskedPaths", m);
	json_object_set_new(linux_, "readonlyPaths", r);
}

/* ---- the config ---- */

static int host_dirs(const struct gt_oci_input *in, const char *fp, char *root, size_t n,
		     struct gt_err *err)
{
	char tmp[4096];
	int r;

	if (!in->scratch_dir || in->scratch_dir[0] != '/')
		return gt_err_set(err, -EINVAL, "%s: the host image needs an absolute scratch_dir", fp);
	snprintf(root, n, "%s/root", in->scratch_dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", in->scratch_dir);
	if ((r = gt_mkdir_p(root, 0755)) < 0 || (r = gt_mkdir_p(tmp, 01777)) < 0)
		return gt_err_set(err, r, "%s: cannot create %s: %s", fp, root, strerror(-r));
	/* mkdir's mode is masked by the umask: make /tmp world-writable and sticky */
	chmod(tmp, 01777);
	return 0;
}

int gt_oci_config(const struct gt_oci_input *in, json_t **config, struct gt_err *err)
{
	const json_t *sc = json_object_get(in->container, "securityContext");
	json_t *cfg = NULL, *process, *linux_;
	char fp[96], hostroot[4096];
	bool privileged = gt_json_bool(sc, "privileged", false);
	const char *procmount = json_string_value(json_object_get(sc, "procMount"));
	int r;

	*config = NULL;
	if (!json_is_object(in->pod) || !json_is_object(in->container))
		return gt_err_set(err, -EINVAL, "pod and container required");
	gt_oci_field(in, fp, sizeof(fp));
	if (in->rootfs && in->rootfs[0] != '/')
		return gt_err_set(err, -EINVAL, "%s: rootfs must be absolute", fp);
	if (!in->rootfs && (r = host_dirs(in, fp, hostroot, sizeof(hostroot), err)) < 0)
		return r;

	cfg = json_pack("{s:s}", "ociVersion", "1.0.2");
	/* no rlimits: the container inherits the shim's, as under containerd */
	/* tty: the runtime makes a terminal the process's controlling one and
	 * hands the shim its master side (console.h) */
	process = json_pack("{s:b}", "terminal", gt_json_bool(in->container, "tty", false));
	linux_ = json_object();
	json_object_set_new(cfg, "process", process);
	json_object_set_new(cfg, "linux", linux_);

	if ((r = build_args(in, fp, process, err)) < 0 || (r = build_env(in, fp, process, err)) < 0 ||
	    (r = build_cwd(in, fp, process, err)) < 0 || (r = gt_oci_user(in, process, err)) < 0 ||
	    (r = gt_oci_security(in, privileged, process, linux_, err)) < 0)
		goto fail;

	json_object_set_new(cfg, "root", json_pack("{s:s,s:b}", "path", in->rootfs ? in->rootfs : hostroot,
						   "readonly", !in->rootfs ||
						   gt_json_bool(sc, "readOnlyRootFilesystem", false)));
	if (in->netns_path && in->hostname && *in->hostname)
		json_object_set_new(cfg, "hostname", json_string(in->hostname));
	if ((r = build_mounts(in, fp, privileged, hostroot, cfg, err)) < 0 ||
	    (r = build_resources(in, fp, privileged, linux_, err)) < 0)
		goto fail;
	if (in->cgroups_path)
		json_object_set_new(linux_, "cgroupsPath", json_string(in->cgroups_path));
	build_namespaces(in, linux_);
	if (!privileged && !(procmount && !strcmp(procmount, "Unmasked")))
		build_paths(linux_);
	*config = cfg;
	return 0;
fail:
	json_decref(cfg);
	return r;
}
