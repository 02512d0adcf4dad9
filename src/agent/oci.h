/*
 * oci.h - a Pod's container spec → an OCI runtime config.json (runtime spec
 * 1.0.2, as runc 1.1 and crun 1.8 read it).
 *
 * gt_oci_config() is a pure mapping with Kubernetes semantics (the kubelet +
 * containerd CRI behaviour): command/args over the image's Entrypoint/Cmd
 * with $(VAR) expansion, environment, working directory, user and groups,
 * securityContext (capabilities, runAsNonRoot, read-only root,
 * noNewPrivileges, privileged, seccomp RuntimeDefault, procMount), resources
 * → cgroup limits, namespaces, the standard mounts and masked paths.  Its
 * only contacts with the outside world: it reads the image's /etc/passwd and
 * /etc/group (user names), this process's capability bounding set and, for
 * privileged containers, the host's /dev; for the `host` image it creates
 * scratch_dir/root and scratch_dir/tmp.
 *
 * privileged: every capability this process holds (as containerd: a
 * sandbox without CAP_SYS_RESOURCE cannot grant it), no seccomp, no masked
 * or read-only paths, read-write /sys and cgroupfs, every host device node
 * (containerd's HostDevices: recreated in the container's own /dev tmpfs, so
 * nothing is created on the host) and a device cgroup that allows all.
 *
 * The `host` image (rootfs NULL): root.path is the empty directory
 * scratch_dir/root, and the first mount is a recursive, recursively
 * read-only bind of the host's "/" onto it ("rbind","rro": runc 1.1 and
 * kernel >= 5.12 mount_setattr).  Every host mount is visible and none is
 * writable, the agent's state directory included.  On top come the
 * container's own /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys (a
 * fresh sysfs; for hostNetwork a tmpfs first, since the host's sysfs cannot
 * be mounted again on top of itself: EBUSY) and a private writable /tmp (a
 * bind of scratch_dir/tmp, disk-backed, removed with the container's
 * directory).  HOME defaults to /tmp there.  Mount destinations of volumes
 * must already exist on the host (runc cannot create them in a read-only
 * tree) or lie under /tmp.  To keep other pods' secrets unreadable, the agent
 * may add a mount hiding its root directory ({"destination": ROOT,
 * "type": "tmpfs", "source": "tmpfs", "options": ["ro","size=4k"]}) to
 * in->mounts; sources of bind mounts are resolved on the host side, so
 * volumes under ROOT still work.
 *
 * Default seccomp profile (seccompProfile.type RuntimeDefault; privileged
 * containers run unconfined): allow everything except, with EPERM:
 * kexec_load kexec_file_load init_module finit_module delete_module
 * create_module iopl ioperm swapon swapoff syslog acct settimeofday stime
 * clock_settime clock_adjtime adjtimex reboot keyctl add_key request_key bpf
 * perf_event_open userfaultfd lookup_dcookie quotactl nfsservctl
 * get_kernel_syms query_module uselib ustat sysfs _sysctl vhangup
 * open_by_handle_at (unless CAP_DAC_READ_SEARCH); mount umount umount2
 * pivot_root unshare setns fsopen fsconfig fsmount fspick move_mount
 * open_tree mount_setattr (unless CAP_SYS_ADMIN); ptrace process_vm_readv
 * process_vm_writev kcmp (unless CAP_SYS_PTRACE).  Architectures: x86_64
 * (+x86, x32) or aarch64 (+arm), as built.  runc applies the filter after
 * the container's mounts are made, so blocking mount costs nothing.
 */
#ifndef GT_AGENT_OCI_H
#define GT_AGENT_OCI_H

#include <stdbool.h>

#include "codec/json.h"

/* pids.limit of every container (fork-bomb guard). */
#define GT_OCI_PIDS_LIMIT 4096
/* Default PATH when neither the image nor the container sets one. */
#define GT_OCI_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct gt_oci_input {
	const json_t *pod;          /* the Pod object */
	const json_t *container;    /* one entry of spec.containers / spec.initContainers */
	bool init;                  /* an init container (no effect on the config today) */
	const char *rootfs;         /* absolute rootfs path (overlay mountpoint), NULL = `host` image */
	const char *netns_path;     /* pod network namespace path, NULL = host network */
	const char *hostname;       /* pod hostname (ignored with host network: the host's) */
	const json_t *env;          /* resolved environment: array of "K=V" strings, or NULL */
	const json_t *mounts;       /* extra OCI mounts (volumes, /etc/hosts, ...) or NULL */
	const json_t *image_config; /* {"Entrypoint","Cmd","Env","WorkingDir","User"} or NULL */
	const char *cgroups_path;   /* e.g. "/gantry/pod<uid>/<name>" (cgroupfs driver) */
	const json_t *devices;      /* extra devices [{path,type,major,minor,fileMode,uid,gid}] or NULL */
	const char *scratch_dir;    /* per-container writable dir (required for the host image) */
};

/*
 * Builds the OCI config for in into *config (a new reference the caller
 * decrefs).  Returns 0; -EINVAL for a bad field (the message names it:
 * "spec.containers[0].securityContext.capabilities.add[1]: unknown
 * capability \"FOO\""); -EPERM for runAsNonRoot with an effective uid 0
 * (the kubelet's message: "container has runAsNonRoot and image will run as
 * root (pod: \"name_ns(uid)\", container: c)"); -ENOENT for an image user
 * name the image's /etc/passwd lacks.  Extra mounts replace standard mounts
 * with the same destination (an emptyDir on /dev/shm).  Thread-safe.
 */
int gt_oci_config(const struct gt_oci_input *in, json_t **config, struct gt_err *err);

/*
 * Kubernetes' $(VAR) expansion of s against env ("K=V" strings, the last
 * definition wins): $(NAME) becomes its value, an undefined $(NAME) stays as
 * written, $$ becomes $.  Returns a new string (caller frees).
 */
char *gt_oci_expand(const char *s, const json_t *env);

/* ---- shared by oci.c and oci_security.c; not for other callers ---- */

/* Field path of in->container ("spec.containers[1]") into out. */
void gt_oci_field(const struct gt_oci_input *in, char *out, size_t n);
/* Adds process.user (uid, gid, additionalGids) to process; runAsNonRoot check. */
int gt_oci_user(const struct gt_oci_input *in, json_t *process, struct gt_err *err);
/*
 * Adds process.capabilities, process.noNewPrivileges and (RuntimeDefault)
 * linux.seccomp.  privileged: all capabilities, no seccomp.
 */
int gt_oci_security(const struct gt_oci_input *in, bool privileged, json_t *process,
		    json_t *linux_, struct gt_err *err);

#endif
