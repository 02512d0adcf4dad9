/*
 * oci_security.c - the security half of the OCI config: the process user
 * (runAsUser/runAsGroup, the image's User resolved through its
 * /etc/passwd and /etc/group, fsGroup and supplementalGroups), the
 * runAsNonRoot check with the kubelet's messages, capabilities (containerd's
 * default set, add/drop with "ALL"), noNewPrivileges and the RuntimeDefault
 * seccomp profile documented in oci.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/oci.h"

/* ---- securityContext lookups ---- */

/* Container securityContext field, else the pod's (for fields both have). */
static const json_t *sc_get(const struct gt_oci_input *in, const char *key, bool pod_level)
{
	const json_t *v = json_object_get(json_object_get(in->container, "securityContext"), key);

	if ((!v || json_is_null(v)) && pod_level)
		v = json_object_get(gt_json_path(in->pod, "spec.securityContext"), key);
	return json_is_null(v) ? NULL : v;
}

/* ---- /etc/passwd and /etc/group of the image ---- */

/* Reads root/rel without following links out of root (openat2 RESOLVE_IN_ROOT). */
static char *read_in_root(const char *root, const char *rel)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;
	struct gt_buf b = GT_BUF_INIT;
	char chunk[8192];
	ssize_t n;

	if (dfd < 0)
		return NULL;
	fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return NULL;
	gt_buf_init(&b);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && b.len < (4u << 20))
		gt_buf_add(&b, chunk, (size_t)n);
	close(fd);
	return gt_buf_detach(&b, NULL);
}

/*
 * Finds a colon-separated line whose field 0 equals name (name != NULL) or
 * whose field 2 equals id.  Copies up to 4 fields into f (pointers into the
 * line copy in line[]).  Returns true when found.
 */
static bool db_find(const char *db, const char *name, int64_t id, char line[1024], char *f[4])
{
	for (const char *p = db; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		int64_t v;
		int k = 0;

		if (len < 1024) {
			memcpy(line, p, len);
			line[len] = '\0';
			for (char *s = line; k < 4; k++) {
				f[k] = s;
				s = strchr(s, ':');
				if (!s) {
					k++;
					break;
				}
				*s++ = '\0';
			}
			if (k >= 3 && line[0] != '#' &&
			    (name ? !strcmp(f[0], name) : (gt_parse_i64(f[2], &v) == 0 && v == id))) {
				for (; k < 4; k++)
					f[k] = (char *)"";
				return true;
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

static bool is_num(const char *s, int64_t *v)
{
	return *s && gt_parse_i64(s, v) == 0 && *v >= 0 && *v <= 0x7fffffff;
}

struct user {
	int64_t uid, gid;
	bool gid_set;
	char name[256];  /* the user's name when known (for its groups) */
};

static int resolve_image_user(const char *spec, const char *passwd, const char *group,
			      struct user *u, struct gt_err *err)
{
	char buf[512], line[1024], *f[4], *g;
	int64_t v;

	snprintf(buf, sizeof(buf), "%s", spec);
	g = strchr(buf, ':');
	if (g)
		*g++ = '\0';
	if (!buf[0] || is_num(buf, &v)) {
		u->uid = buf[0] ? v : 0;
	} else {
		if (!db_find(passwd, buf, 0, line, f) || !is_num(f[2], &u->uid))
			return gt_err_set(err, -ENOENT, "unable to find user %s: no matching entries "
					  "in passwd file", buf);
		snprintf(u->name, sizeof(u->name), "%s", f[0]);
		if (is_num(f[3], &u->gid))
			u->gid_set = true;
	}
	if (g && *g) {
		if (is_num(g, &v)) {
			u->gid = v;
		} else {
			if (!db_find(group, g, 0, line, f) || !is_num(f[2], &u->gid))
				return gt_err_set(err, -ENOENT, "unable to find group %s: no matching "
						  "entries in group file", g);
		}
		u->gid_set = true;
	}
	return 0;
}

static void add_gid(json_t *arr, int64_t gid, int64_t primary)
{
	size_t i;
	json_t *v;

	if (gid == primary)
		return;
	json_array_foreach(arr, i, v)
		if (json_integer_value(v) == gid)
			return;
	json_array_append_new(arr, json_integer(gid));
}

/* Groups of /etc/group that list name as a member. */
static void member_groups(const char *group, const char *name, json_t *arr, int64_t primary)
{
	for (const char *p = group; p && *p && *name;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[4096], *f[4] = { 0 }, *s = line, *save = NULL;
		int64_t gid;
		int k;

		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			for (k = 0; k < 4 && s; k++) {
				f[k] = s;
				if ((s = strchr(s, ':')))
					*s++ = '\0';
			}
			if (k == 4 && is_num(f[2], &gid))
				for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
					if (!strcmp(m, name))
						add_gid(arr, gid, primary);
		}
		p = nl ? nl + 1 : NULL;
	}
}

static int id_field(const json_t *v, const char *fp, const char *name, int64_t *out,
		    struct gt_err *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x7fffffff)
		return gt_err_set(err, -EINVAL, "%s.securityContext.%s: must be an integer between 0 "
				  "and 2147483647", fp, name);
	*out = json_integer_value(v);
	return 0;
}

static int nonroot_check(const struct gt_oci_input *in, const json_t *run_as_user,
			 const char *image_user, int64_t uid, struct gt_err *err)
{
	const char *cname = json_string_value(json_object_get(in->container, "name")) ?: "";
	char pod[600];

	if (!json_is_true(sc_get(in, "runAsNonRoot", true)))
		return 0;
	snprintf(pod, sizeof(pod), "%s_%s(%s)", gt_json_str(in->pod, "metadata.name") ?: "",
		 gt_json_str(in->pod, "metadata.namespace") ?: "",
		 gt_json_str(in->pod, "metadata.uid") ?: "");
	if (run_as_user && uid == 0)
		return gt_err_set(err, -EPERM, "container's runAsUser breaks non-root policy "
				  "(pod: \"%s\", container: %s)", pod, cname);
	if (!run_as_user && image_user) {
		char u[256];
		int64_t v;

		snprintf(u, sizeof(u), "%.*s", (int)strcspn(image_user, ":"), image_user);
		if (u[0] && !is_num(u, &v))
			return gt_err_set(err, -EPERM, "container has runAsNonRoot and image has "
					  "non-numeric user (%s), cannot verify user is non-root "
					  "(pod: \"%s\", container: %s)", u, pod, cname);
	}
	if (uid == 0)
		return gt_err_set(err, -EPERM, "container has runAsNonRoot and image will run as "
				  "root (pod: \"%s\", container: %s)", pod, cname);
	return 0;
}

int gt_oci_user(const struct gt_oci_input *in, json_t *process, struct gt_err *err)
{
	const json_t *rau = sc_get(in, "runAsUser", true), *rag = sc_get(in, "runAsGroup", true);
	const json_t *psc = gt_json_path(in->pod, "spec.securityContext");
	const char *image_user = json_string_value(json_object_get(in->image_config, "User"));
	const char *root = in->rootfs ? in->rootfs : "/";
	char fp[96], line[1024], *f[4];
	struct user u = { 0 };
	char *passwd = NULL, *group = NULL;
	json_t *gids = json_array(), *user;
	size_t i;
	json_t *v;
	int r;

	gt_oci_field(in, fp, sizeof(fp));
	passwd = read_in_root(root, "etc/passwd");
	group = read_in_root(root, "etc/group");
	if (rau) {
		if ((r = id_field(rau, fp, "runAsUser", &u.uid, err)) < 0)
			goto out;
	} else if (image_user && *image_user) {
		if ((r = resolve_image_user(image_user, passwd, group, &u, err)) < 0) {
			gt_err_prefix(err, r, "%s: image user \"%s\"", fp, image_user);
			goto out;
		}
	}
	if (rag) {
		if ((r = id_field(rag, fp, "runAsGroup", &u.gid, err)) < 0)
			goto out;
		u.gid_set = true;
	}
	if (!u.name[0] && db_find(passwd, NULL, u.uid, line, f)) {
		snprintf(u.name, sizeof(u.name), "%s", f[0]);
		if (!u.gid_set && is_num(f[3], &u.gid))
			u.gid_set = true;
	}
	if (!u.gid_set)
		u.gid = 0;
	if ((r = nonroot_check(in, rau, image_user, u.uid, err)) < 0)
		goto out;

	member_groups(group, u.name, gids, u.gid);
	json_array_foreach(json_object_get(psc, "supplementalGroups"), i, v) {
		int64_t g;

		if (!json_is_integer(v) || (g = json_integer_value(v)) < 0 || g > 0x7fffffff) {
			r = gt_err_set(err, -EINVAL, "spec.securityContext.supplementalGroups[%zu]: "
				       "must be an integer between 0 and 2147483647", i);
			goto out;
		}
		add_gid(gids, g, u.gid);
	}
	if ((v = json_object_get(psc, "fsGroup")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 0x7fffffff) {
			r = gt_err_set(err, -EINVAL, "spec.securityContext.fsGroup: must be an integer "
				       "between 0 and 2147483647");
			goto out;
		}
		add_gid(gids, json_integer_value(v), u.gid);
	}
	user = json_pack("{s:I,s:I}", "uid", (json_int_t)u.uid, "gid", (json_int_t)u.gid);
	if (json_array_size(gids))
		json_object_set(user, "additionalGids", gids);
	json_object_set_new(process, "user", user);
	r = 0;
out:
	json_decref(gids);
	free(passwd);
	free(group);
	return r;
}

/* ---- capabilities ---- */

static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
	"SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
	"AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

#define CAP(n) (1ULL << (n))
/* containerd's default set */
static const uint64_t cap_default = CAP(0) | CAP(1) | CAP(4) | CAP(3) | CAP(27) | CAP(13) |
	CAP(6) | CAP(7) | CAP(31) | CAP(8) | CAP(10) | CAP(18) | CAP(5) | CAP(29);

/*
 * The capabilities this process may pass on (its bounding set): "ALL" and
 * privileged mean these, as containerd uses its own current set.  A host
 * (or sandbox) without CAP_SYS_RESOURCE cannot give it to a container.
 */
static uint64_t cap_all(void)
{
	uint64_t set = 0;

	for (size_t i = 0; i < GT_ARRAY_SIZE(cap_names); i++)
		if (prctl(PR_CAPBSET_READ, (unsigned long)i, 0, 0, 0) == 1)
			set |= CAP(i);
	return set;
}

/* Cap number of name ("NET_ADMIN", "CAP_NET_ADMIN", any case), -1 = ALL, -2 = unknown. */
static int cap_num(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	if (!strcasecmp(name, "ALL"))
		return -1;
	for (size_t i = 0; i < GT_ARRAY_SIZE(cap_names); i++)
		if (!strcasecmp(name, cap_names[i]))
			return (int)i;
	return -2;
}

static int cap_list(const json_t *list, const char *fp, const char *which, bool *all,
		    uint64_t *set, struct gt_err *err)
{
	size_t i;
	json_t *v;

	*all = false;
	*set = 0;
	if (list && !json_is_array(list))
		return gt_err_set(err, -EINVAL, "%s.securityContext.capabilities.%s: must be an array",
				  fp, which);
	json_array_foreach(list, i, v) {
		int n = json_is_string(v) ? cap_num(json_string_value(v)) : -2;

		if (n == -2)
			return gt_err_set(err, -EINVAL, "%s.securityContext.capabilities.%s[%zu]: "
					  "unknown capability \"%s\"", fp, which, i,
					  json_string_value(v) ?: "");
		if (n == -1)
			*all = true;
		else
			*set |= CAP(n);
	}
	return 0;
}

static json_t *cap_json(uint64_t set)
{
	json_t *a = json_array();

	for (size_t i = 0; i < GT_ARRAY_SIZE(cap_names); i++) {
		if (set & CAP(i)) {
			char *s = xasprintf("CAP_%s", cap_names[i]);

			json_array_append_new(a, json_string(s));
			free(s);
		}
	}
	return a;
}

/* ---- seccomp ---- */

static void deny(json_t *names, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_array_append_new(names, json_string(list[i]));
}

static json_t *seccomp_default(uint64_t caps)
{
	static const char *const always[] = {
		"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
		"create_module", "iopl", "ioperm", "swapon", "swapoff", "syslog", "acct",
		"settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex", "reboot",
		"keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
		"lookup_dcookie", "quotactl", "nfsservctl", "get_kernel_syms", "query_module",
		"uselib", "ustat", "sysfs", "_sysctl", "vhangup",
	};
	static const char *const admin[] = {
		"mount", "umount", "umount2", "pivot_root", "unshare", "setns", "fsopen",
		"fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	};
	static const char *const ptrace[] = {
		"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	};
	static const char *const dac_read_search[] = { "open_by_handle_at" };
	json_t *names = json_array();

	deny(names, always, GT_ARRAY_SIZE(always));
	if (!(caps & CAP(21)))
		deny(names, admin, GT_ARRAY_SIZE(admin));
	if (!(caps & CAP(19)))
		deny(names, ptrace, GT_ARRAY_SIZE(ptrace));
	if (!(caps & CAP(2)))
		deny(names, dac_read_search, GT_ARRAY_SIZE(dac_read_search));
	return json_pack("{s:s,s:o,s:[{s:o,s:s,s:i}]}", "defaultAction", "SCMP_ACT_ALLOW",
			 "architectures",
#if defined(__aarch64__)
			 json_pack("[s,s]", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
#else
			 json_pack("[s,s,s]", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
#endif
			 "syscalls", "names", names, "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM);
}

int gt_oci_security(const struct gt_oci_input *in, bool privileged, json_t *process,
		    json_t *linux_, struct gt_err *err)
{
	const json_t *caps = sc_get(in, "capabilities", false);
	const json_t *sp = sc_get(in, "seccompProfile", true);
	const json_t *ape = sc_get(in, "allowPrivilegeEscalation", false);
	const char *stype = json_string_value(json_object_get(sp, "type"));
	uint64_t set = cap_default, add, drop;
	bool add_all, drop_all;
	char fp[96];
	int r;

	gt_oci_field(in, fp, sizeof(fp));
	if ((r = cap_list(json_object_get(caps, "add"), fp, "add", &add_all, &add, err)) < 0 ||
	    (r = cap_list(json_object_get(caps, "drop"), fp, "drop", &drop_all, &drop, err)) < 0)
		return r;
	/* containerd's order: add ALL, drop ALL, add the named, drop the named */
	if (add_all)
		set = cap_all();
	if (drop_all)
		set = 0;
	set = (set | add) & ~drop;
	if (privileged)
		set = cap_all();
	json_object_set_new(process, "capabilities",
			    json_pack("{s:o,s:o,s:o}", "bounding", cap_json(set), "effective",
				      cap_json(set), "permitted", cap_json(set)));
	if (json_is_false(ape))
		json_object_set_new(process, "noNewPrivileges", json_true());

	if (sp && !json_is_object(sp))
		return gt_err_set(err, -EINVAL, "%s.securityContext.seccompProfile: must be an object",
				  fp);
	if (!stype || privileged || !strcmp(stype, "Unconfined"))
		return 0;
	if (!strcmp(stype, "RuntimeDefault")) {
		json_object_set_new(linux_, "seccomp", seccomp_default(set));
		return 0;
	}
	if (!strcmp(stype, "Localhost"))
		return gt_err_set(err, -EINVAL, "%s.securityContext.seccompProfile.type: Localhost "
				  "profiles are not supported", fp);
	return gt_err_set(err, -EINVAL, "%s.securityContext.seccompProfile.type: unsupported "
			  "value \"%s\": supported values: \"Localhost\", \"RuntimeDefault\", "
			  "\"Unconfined\"", fp, stype);
}
