/*
 * image_mount.c - an image's layers as one writable root file system:
 * overlayfs with the unpacked layers as lower directories (top first), and
 * a per-container upper and work directory.
 *
 * mount(2) takes at most one page of options.  When the lowerdir list of a
 * deep image does not fit, a child process changes into the layers'
 * directory and mounts with their short relative names (the parent's cwd,
 * shared by every thread, is left alone).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/image_int.h"

#define OPT_MAX 4095

static bool bad_path(const char *p)
{
	/* ',' and ':' separate overlay options and lower directories */
	return !p || !*p || strpbrk(p, ",:\\") != NULL;
}

static void build_opts(struct gt_buf *b, const struct gt_image *img, bool relative,
		       const char *upper, const char *work)
{
	gt_buf_adds(b, "lowerdir=");
	for (size_t i = img->nlayers; i-- > 0;) {
		const char *l = img->layers[i];
		if (relative && strrchr(l, '/'))
			l = strrchr(l, '/') + 1;
		gt_buf_adds(b, l);
		if (i)
			gt_buf_addc(b, ':');
	}
	gt_buf_addf(b, ",upperdir=%s,workdir=%s", upper, work);
}

static int mount_relative(const struct gt_image *img, const char *opts, const char *target)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(img->layers[0], '/');
	size_t dl = slash ? (size_t)(slash - img->layers[0]) : 0;
	int status;
	pid_t pid;

	for (size_t i = 0; i < img->nlayers; i++) {
		const char *s = strrchr(img->layers[i], '/');
		if (!s || (size_t)(s - img->layers[i]) != dl ||
		    strncmp(img->layers[i], img->layers[0], dl))
			return -E2BIG; /* layers in several directories: cannot shorten */
	}
	if (dl == 0 || dl >= sizeof(dir))
		return -E2BIG;
	memcpy(dir, img->layers[0], dl);
	dir[dl] = 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (chdir(dir) < 0)
			_exit(errno & 0xff);
		_exit(mount("overlay", target, "overlay", 0, opts) < 0 ? (errno & 0xff) : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status))
		return -EIO;
	return -WEXITSTATUS(status);
}

int gt_image_mount(const struct gt_image *img, const char *upper, const char *work,
		   const char *target, struct gt_err *err)
{
	struct gt_buf b = GT_BUF_INIT;
	int rc;

	if (!img || img->nlayers == 0 || !img->layers)
		return gt_err_set(err, -EINVAL, "mount: image has no layers");
	for (size_t i = 0; i < img->nlayers; i++)
		if (bad_path(img->layers[i]))
			return gt_err_set(err, -EINVAL, "mount: layer path \"%s\" has ',' or ':'",
					  img->layers[i] ? img->layers[i] : "");
	if (bad_path(upper) || bad_path(work) || !target || !*target)
		return gt_err_set(err, -EINVAL, "mount: upper, work and target paths are required "
				  "and may not contain ',' or ':'");
	if ((rc = gt_mkdir_p(upper, 0755)) < 0)
		return gt_err_set(err, rc, "mount: mkdir %s: %s", upper, strerror(-rc));
	if ((rc = gt_mkdir_p(work, 0700)) < 0)
		return gt_err_set(err, rc, "mount: mkdir %s: %s", work, strerror(-rc));
	gt_buf_init(&b);
	build_opts(&b, img, false, upper, work);
	if (b.len <= OPT_MAX) {
		rc = mount("overlay", target, "overlay", 0, b.data) < 0 ? -errno : 0;
	} else {
		gt_buf_reset(&b);
		build_opts(&b, img, true, upper, work);
		rc = b.len <= OPT_MAX ? mount_relative(img, b.data, target) : -E2BIG;
	}
	gt_buf_release(&b);
	if (rc == -E2BIG)
		return gt_err_set(err, rc, "mount overlay on %s: %zu layers do not fit in the "
				  "mount options", target, img->nlayers);
	if (rc < 0)
		return gt_err_set(err, rc, "mount overlay on %s: %s", target, strerror(-rc));
	return 0;
}

int gt_image_unmount(const char *target, struct gt_err *err)
{
	if (!target || !*target)
		return gt_err_set(err, -EINVAL, "unmount: target required");
	if (umount2(target, 0) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOENT)
		return 0; /* not a mount point (any more) */
	if (errno == EBUSY && umount2(target, MNT_DETACH) == 0)
		return 0;
	return gt_err_set(err, -errno, "unmount %s: %s", target, strerror(errno));
}
