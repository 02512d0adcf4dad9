/*
 * image_unpack.c - unpacking a layer tarball into a directory that
 * overlayfs can use as a lower layer.
 *
 * The blob is read through two libarchive readers: an outer "raw" one that
 * only decompresses (gzip, zstd, xz, bzip2 or none) and feeds an inner tar
 * reader, so the uncompressed stream is hashed on the way and checked
 * against the config's diff_id in the same single pass.
 *
 * Extraction is done here rather than with archive_write_disk, which works
 * relative to the process's current directory and may unlink symlinks on
 * its path.  Every entry's parent directory is opened with openat2(2)
 * RESOLVE_IN_ROOT, so a symlink in the layer (absolute or full of "..")
 * resolves inside the layer and is never followed out of it; the entry
 * itself is made with *at() calls that never follow a symlink.  Paths with
 * ".." components are refused.  Docker's whiteouts become overlayfs ones:
 * ".wh.NAME" a 0/0 character device NAME, ".wh..wh..opq" the xattr
 * trusted.overlay.opaque=y on its directory.  Owners, modes, times,
 * xattrs, hardlinks, symlinks and device nodes are kept.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "agent/image_int.h"
#include "base/log.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WH_META ".wh..wh."

struct dirtime {
	char *path;
	struct timespec ts[2];
};

struct unpack {
	int rootfd;
	struct archive *outer, *inner;
	struct img_sha256 sha;
	bool no_openat2;
	char cache_path[PATH_MAX]; /* the parent directory last opened */
	int cache_fd;
	struct dirtime *dirs;
	size_t ndirs, capdirs;
	const char *entry; /* for messages */
	struct gt_err *err;
	char buf[128 * 1024];
};

/* ---- rm -rf ---- */

static int rmtree_at(int dfd, const char *name, int depth)
{
	struct stat st;
	int rc = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (depth > 512)
		return -ELOOP;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = rmtree_at(fd, de->d_name, depth + 1);
		if (r < 0 && !rc)
			rc = r;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

int img_rmtree(const char *path)
{
	return rmtree_at(AT_FDCWD, path, 0);
}

/* ---- paths ---- */

/* Cleans an archive path into out: no leading "/" or "./", no "." or empty
 * components; ".." is refused.  "" is the layer root. */
static int clean_path(struct unpack *u, const char *raw, char *out, size_t n)
{
	size_t o = 0;
	const char *p = raw;

	if (!raw)
		return gt_err_set(u->err, -EINVAL, "entry without a path name");
	while (*p) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return gt_err_set(u->err, -EINVAL, "entry \"%.200s\": path escapes the layer "
					  "(\"..\" component)", raw);
		if (l && !(l == 1 && p[0] == '.')) {
			if (o + l + 2 > n)
				return gt_err_set(u->err, -ENAMETOOLONG, "entry \"%.200s\": path too "
						  "long", raw);
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
		if (*p == '/')
			p++;
	}
	out[o] = 0;
	return 0;
}

static int open_beneath(struct unpack *u, const char *rel)
{
	if (!u->no_openat2) {
		struct open_how how = {
			.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
		};
		long fd = syscall(SYS_openat2, u->rootfd, rel, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
		u->no_openat2 = true;
	}
	/* old kernels: walk without following any symlink */
	char tmp[PATH_MAX];
	int cur = dup(u->rootfd);
	snprintf(tmp, sizeof(tmp), "%s", rel);
	for (char *c = tmp, *e; cur >= 0 && *c; c = e ? e + 1 : c + strlen(c)) {
		if ((e = strchr(c, '/')))
			*e = 0;
		int nfd = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int saved = errno;
		close(cur);
		errno = saved;
		cur = nfd;
	}
	return cur;
}

static void cache_drop(struct unpack *u)
{
	if (u->cache_fd >= 0)
		close(u->cache_fd);
	u->cache_fd = -1;
	u->cache_path[0] = 0;
}

/* A borrowed fd on directory `rel` of the layer, created (mkdir -p) when
 * create is set. */
static int parent_fd(struct unpack *u, const char *rel, bool create)
{
	int fd;

	if (u->cache_fd >= 0 && !strcmp(u->cache_path, rel))
		return u->cache_fd;
	cache_drop(u);
	fd = open_beneath(u, rel[0] ? rel : ".");
	if (fd < 0 && errno == ENOENT && create) {
		char pre[PATH_MAX];
		size_t l = strlen(rel);
		/* component by component: mkdirat in the resolved parent */
		fd = open_beneath(u, ".");
		for (size_t i = 0, start = 0; fd >= 0 && i <= l; i++) {
			if (rel[i] != '/' && rel[i] != 0)
				continue;
			char comp[NAME_MAX + 1];
			size_t cl = i - start;
			if (cl > NAME_MAX) {
				close(fd);
				errno = ENAMETOOLONG;
				return -1;
			}
			memcpy(comp, rel + start, cl);
			comp[cl] = 0;
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
				int saved = errno;
				close(fd);
				errno = saved;
				return -1;
			}
			close(fd);
			memcpy(pre, rel, i);
			pre[i] = 0;
			fd = open_beneath(u, pre);
			start = i + 1;
		}
	}
	if (fd < 0)
		return -1;
	snprintf(u->cache_path, sizeof(u->cache_path), "%s", rel);
	u->cache_fd = fd;
	return fd;
}

/* ---- entries ---- */

static int fail(struct unpack *u, int rc, const char *what)
{
	return gt_err_set(u->err, rc, "entry \"%.200s\": %s: %s", u->entry, what, strerror(-rc));
}

/* Removes what is at pfd/name unless it is a directory and keep_dir. */
static int clear_slot(struct unpack *u, int pfd, const char *name, bool keep_dir)
{
	struct stat st;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : fail(u, -errno, "stat");
	if (keep_dir && S_ISDIR(st.st_mode))
		return 1;
	int rc = rmtree_at(pfd, name, 0);
	if (rc < 0)
		return fail(u, rc, "replace");
	return 0;
}

static void apply_xattrs(struct unpack *u, int fd, struct archive_entry *e)
{
	const char *name;
	const void *val;
	size_t sz;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &sz) == ARCHIVE_OK) {
		/* overlay's own xattrs are never taken from image content */
		if (!name || !strncmp(name, "trusted.overlay.", 16))
			continue;
		if (fsetxattr(fd, name, val, sz, 0) < 0)
			gt_debug("layer entry %s: xattr %s: %s", u->entry, name, strerror(errno));
	}
}

/* Owner, mode, xattrs and times on an open fd (regular files, directories). */
static int finish_fd(struct unpack *u, int fd, struct archive_entry *e, bool times)
{
	struct timespec ts[2] = {
		{ archive_entry_atime(e), archive_entry_atime_nsec(e) },
		{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
	};

	if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0 &&
	    errno != EPERM)
		return fail(u, -errno, "chown");
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return fail(u, -errno, "chmod");
	apply_xattrs(u, fd, e);
	if (!archive_entry_atime_is_set(e))
		ts[0] = ts[1];
	if (times && futimens(fd, ts) < 0)
		return fail(u, -errno, "utimes");
	return 0;
}

static int write_file(struct unpack *u, int pfd, const char *name, struct archive_entry *e)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int fd, r, rc = 0;

	fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(u, -errno, "create");
	while ((r = archive_read_data_block(u->inner, &buf, &size, &off)) == ARCHIVE_OK) {
		const char *p = buf;
		while (size > 0) {
			ssize_t w = pwrite(fd, p, size, (off_t)off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				rc = fail(u, -errno, "write");
				goto out;
			}
			p += w;
			off += w;
			size -= (size_t)w;
		}
	}
	if (r != ARCHIVE_EOF) {
		rc = gt_err_set(u->err, -EINVAL, "entry \"%.200s\": %s", u->entry,
				archive_error_string(u->inner) ? archive_error_string(u->inner)
							       : "read error");
		goto out;
	}
	/* sparse files end in a hole */
	if (archive_entry_size_is_set(e) && ftruncate(fd, archive_entry_size(e)) < 0) {
		rc = fail(u, -errno, "truncate");
		goto out;
	}
	rc = finish_fd(u, fd, e, true);
out:
	close(fd);
	return rc;
}

static int make_dir(struct unpack *u, int pfd, const char *name, const char *path,
		    struct archive_entry *e)
{
	int rc = clear_slot(u, pfd, name, true), fd;

	if (rc < 0)
		return rc;
	if (rc == 0 && mkdirat(pfd, name, 0700) < 0)
		return fail(u, -errno, "mkdir");
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(u, -errno, "open directory");
	rc = finish_fd(u, fd, e, false);
	close(fd);
	if (rc < 0)
		return rc;
	/* times last: creating children changes them */
	gt_grow((void **)&u->dirs, &u->capdirs, u->ndirs + 1, sizeof(*u->dirs));
	u->dirs[u->ndirs].path = xstrdup(path);
	u->dirs[u->ndirs].ts[1] = (struct timespec){ archive_entry_mtime(e),
						     archive_entry_mtime_nsec(e) };
	u->dirs[u->ndirs].ts[0] = archive_entry_atime_is_set(e)
		? (struct timespec){ archive_entry_atime(e), archive_entry_atime_nsec(e) }
		: u->dirs[u->ndirs].ts[1];
	u->ndirs++;
	return 0;
}

static int make_link(struct unpack *u, int pfd, const char *name, struct archive_entry *e)
{
	char tpath[PATH_MAX];
	const char *tbase;
	int rc, tfd;

	if ((rc = clean_path(u, archive_entry_hardlink(e), tpath, sizeof(tpath))) < 0)
		return gt_err_prefix(u->err, rc, "hardlink \"%.200s\"", u->entry);
	if (!tpath[0])
		return gt_err_set(u->err, -EINVAL, "entry \"%.200s\": hardlink to the layer root",
				  u->entry);
	tbase = strrchr(tpath, '/');
	if (tbase) {
		tpath[tbase - tpath] = 0;
		tbase++;
	} else {
		tbase = tpath;
	}
	tfd = open_beneath(u, tbase == tpath ? "." : tpath);
	if (tfd < 0)
		return fail(u, -errno, "hardlink target directory");
	if (linkat(tfd, tbase, pfd, name, 0) < 0) {
		rc = -errno;
		close(tfd);
		if (rc == -ENOENT)
			return gt_err_set(u->err, -EINVAL, "entry \"%.200s\": hardlink target "
					  "\"%.200s\" is not in the layer", u->entry,
					  archive_entry_hardlink(e));
		return fail(u, rc, "hardlink");
	}
	close(tfd);
	return 0;
}

static int make_special(struct unpack *u, int pfd, const char *name, struct archive_entry *e,
			mode_t type)
{
	struct timespec ts[2] = {
		{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
		{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
	};

	if (type == S_IFLNK) {
		const char *target = archive_entry_symlink(e);
		if (!target)
			return gt_err_set(u->err, -EINVAL, "entry \"%.200s\": symlink without a "
					  "target", u->entry);
		/* the target is data: stored as is, never followed here */
		if (symlinkat(target, pfd, name) < 0)
			return fail(u, -errno, "symlink");
	} else {
		if (mknodat(pfd, name, type | (archive_entry_perm(e) & 07777),
			    archive_entry_rdev(e)) < 0) {
			if (errno == EPERM && type != S_IFIFO) {
				gt_debug("layer entry %s: device node skipped: %s", u->entry,
					 strerror(errno));
				return 0;
			}
			return fail(u, -errno, "mknod");
		}
		if (fchmodat(pfd, name, archive_entry_perm(e) & 07777, 0) < 0)
			return fail(u, -errno, "chmod");
	}
	if (fchownat(pfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		     AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
		return fail(u, -errno, "chown");
	utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int whiteout(struct unpack *u, int pfd, const char *base)
{
	const char *name = base + strlen(WH_PREFIX);
	int rc;

	if (!strcmp(base, WH_OPAQUE)) {
		if (fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
			return fail(u, -errno, "set trusted.overlay.opaque");
		return 0;
	}
	if (!strncmp(base, WH_META, strlen(WH_META)))
		return 0; /* aufs bookkeeping (.wh..wh.plnk, ...): not content */
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return gt_err_set(u->err, -EINVAL, "entry \"%.200s\": bad whiteout name", u->entry);
	if ((rc = clear_slot(u, pfd, name, false)) < 0)
		return rc;
	if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
		return fail(u, -errno, "make whiteout");
	return 0;
}

static int apply(struct unpack *u, struct archive_entry *e)
{
	char path[PATH_MAX], dir[PATH_MAX];
	const char *base;
	mode_t type = archive_entry_filetype(e);
	int rc, pfd;

	u->entry = archive_entry_pathname(e);
	if ((rc = clean_path(u, u->entry, path, sizeof(path))) < 0)
		return rc;
	if (!path[0])
		return 0; /* "./": the layer root itself */
	base = strrchr(path, '/');
	if (base) {
		memcpy(dir, path, (size_t)(base - path));
		dir[base - path] = 0;
		base++;
	} else {
		dir[0] = 0;
		base = path;
	}
	if (strlen(base) > NAME_MAX)
		return gt_err_set(u->err, -ENAMETOOLONG, "entry \"%.200s\": name too long",
				  u->entry);
	if ((pfd = parent_fd(u, dir, true)) < 0)
		return fail(u, -errno, "parent directory");
	if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX))) {
		rc = whiteout(u, pfd, base);
		cache_drop(u);
		return rc;
	}
	if (type == AE_IFDIR && !archive_entry_hardlink(e))
		return make_dir(u, pfd, base, path, e);
	if ((rc = clear_slot(u, pfd, base, false)) < 0)
		return rc;
	cache_drop(u); /* a replaced entry may have been a cached directory */
	if ((pfd = parent_fd(u, dir, true)) < 0)
		return fail(u, -errno, "parent directory");
	if (archive_entry_hardlink(e))
		return make_link(u, pfd, base, e);
	switch (type) {
	case AE_IFREG:
		return write_file(u, pfd, base, e);
	case AE_IFLNK:
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		rc = make_special(u, pfd, base, e, type);
		cache_drop(u);
		return rc;
	case AE_IFSOCK:
		return 0;
	default:
		return gt_err_set(u->err, -EINVAL, "entry \"%.200s\": unsupported file type 0%o",
				  u->entry, (unsigned)type);
	}
}

/* ---- the two readers ---- */

static la_ssize_t inner_read(struct archive *a, void *ctx, const void **buf)
{
	struct unpack *u = ctx;
	la_ssize_t n = archive_read_data(u->outer, u->buf, sizeof(u->buf));

	if (n < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(u->outer)
			? archive_error_string(u->outer) : "decompression failed");
		return -1;
	}
	img_sha256_update(&u->sha, u->buf, (size_t)n);
	*buf = u->buf;
	return n;
}

static const char *aerr(struct archive *a, const char *def)
{
	const char *s = archive_error_string(a);
	return s ? s : def;
}

int img_unpack(const char *blob_path, const char *dest, const char *want_diff_id,
	       struct gt_err *err)
{
	struct unpack *u = xcalloc(1, sizeof(*u));
	struct archive_entry *e;
	char got[IMG_DIGEST_MAX];
	la_ssize_t n;
	int r, rc = 0;

	u->err = err;
	u->cache_fd = -1;
	u->rootfd = -1;
	img_sha256_init(&u->sha);
	if (mkdir(dest, 0755) < 0) {
		rc = gt_err_set(err, -errno, "mkdir %s: %s", dest, strerror(errno));
		free(u);
		return rc;
	}
	u->rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	u->outer = archive_read_new();
	u->inner = archive_read_new();
	if (u->rootfd < 0) {
		rc = gt_err_set(err, -errno, "open %s: %s", dest, strerror(errno));
		goto out;
	}
	archive_read_support_filter_gzip(u->outer);
	archive_read_support_filter_zstd(u->outer);
	archive_read_support_filter_xz(u->outer);
	archive_read_support_filter_bzip2(u->outer);
	archive_read_support_format_raw(u->outer);
	if (archive_read_open_filename(u->outer, blob_path, 128 * 1024) != ARCHIVE_OK ||
	    archive_read_next_header(u->outer, &e) != ARCHIVE_OK) {
		rc = gt_err_set(err, -EINVAL, "not a layer tarball: %s",
				aerr(u->outer, "empty or unreadable"));
		goto out;
	}
	archive_read_support_format_tar(u->inner);
	if (archive_read_open(u->inner, u, NULL, inner_read, NULL) != ARCHIVE_OK) {
		rc = gt_err_set(err, -EINVAL, "not a tar archive: %s", aerr(u->inner, "?"));
		goto out;
	}
	while ((r = archive_read_next_header(u->inner, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
		if ((rc = apply(u, e)) < 0)
			goto out;
	if (r != ARCHIVE_EOF) {
		rc = gt_err_set(err, -EINVAL, "bad tar archive: %s", aerr(u->inner, "read error"));
		goto out;
	}
	/* the rest of the stream (tar padding) counts towards the diff_id */
	while ((n = archive_read_data(u->outer, u->buf, sizeof(u->buf))) > 0)
		img_sha256_update(&u->sha, u->buf, (size_t)n);
	if (n < 0) {
		rc = gt_err_set(err, -EINVAL, "bad layer: %s", aerr(u->outer, "read error"));
		goto out;
	}
	img_sha256_final(&u->sha, got);
	if (want_diff_id && strcmp(got, want_diff_id)) {
		rc = gt_err_set(err, -EBADMSG, "diff_id mismatch: the config says %s, the "
				"uncompressed layer is %s", want_diff_id, got);
		goto out;
	}
	cache_drop(u);
	for (size_t i = u->ndirs; i-- > 0;) {
		int fd = open_beneath(u, u->dirs[i].path);
		if (fd >= 0) {
			futimens(fd, u->dirs[i].ts);
			close(fd);
		}
	}
out:
	cache_drop(u);
	for (size_t i = 0; i < u->ndirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	archive_read_free(u->inner);
	archive_read_free(u->outer);
	if (u->rootfd >= 0)
		close(u->rootfd);
	if (rc < 0)
		img_rmtree(dest);
	free(u);
	return rc;
}
