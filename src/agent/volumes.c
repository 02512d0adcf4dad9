/*
 * volumes.c - pod volumes on the host: emptyDir (disk or tmpfs), hostPath
 * type checks, configMap/secret/downwardAPI/projected contents in the
 * kubelet's atomic-writer layout, PVCs bound to local PVs; the OCI bind
 * mounts for a container's volumeMounts; cleanup.  See volumes.h.
 */
#include "agent/volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/quantity.h"

/* ---- small file helpers ---- */

/* Removes name (relative to dfd) recursively without following symlinks or
 * entering another file system (a mount point gives -EBUSY). */
static int rm_rf_at(int dfd, const char *name, dev_t dev)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (st.st_dev != dev)
		return -EBUSY;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		int r;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = rm_rf_at(dirfd(d), de->d_name, dev);
		if (r < 0 && !rc)
			rc = r;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

static int rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return rm_rf_at(AT_FDCWD, path, st.st_dev);
}

static bool is_mountpoint(const char *path)
{
	GT_AUTOFREE char *parent = xasprintf("%s/..", path);
	struct stat a, b;

	return stat(path, &a) == 0 && stat(parent, &b) == 0 &&
	       (a.st_dev != b.st_dev || a.st_ino == b.st_ino);
}

static gid_t pod_fsgroup(const json_t *pod)
{
	int64_t g;

	if (gt_json_int(pod, "spec.securityContext.fsGroup", &g) < 0 || g < 0 || g > INT32_MAX)
		return (gid_t)-1;
	return (gid_t)g;
}

/* ---- payloads: the files of a projected volume ---- */

struct vfile {
	char *path;
	unsigned char *data;
	size_t len;
	int mode;
};

struct payload {
	struct vfile *f;
	size_t n, cap;
};

static void payload_release(struct payload *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->f[i].path);
		free(p->f[i].data);
	}
	free(p->f);
	memset(p, 0, sizeof(*p));
}

/* The kubelet's validatePath: relative, no ".." element, no leading "..". */
static int check_path(const char *path, const char *field, struct gt_err *err)
{
	const char *why = NULL;

	if (!*path)
		why = "must not be empty";
	else if (strlen(path) > 4096)
		why = "must be less than or equal to 4096 characters";
	else if (path[0] == '/')
		why = "must be a relative path";
	else if (!strncmp(path, "..", 2))
		why = "must not start with '..'";
	for (const char *s = path; !why && *s;) {
		size_t n = strcspn(s, "/");

		if (n > 255)
			why = "each path element must be less than or equal to 255 characters";
		else if (n == 2 && !strncmp(s, "..", 2))
			why = "must not contain '..'";
		s += n;
		s += *s == '/';
	}
	if (why)
		return gt_err_set(err, -EINVAL, "%s: Invalid value: \"%s\": %s", field, path, why);
	return 0;
}

/* Adds (or replaces) a file; takes ownership of data. */
static void payload_add(struct payload *p, const char *path, unsigned char *data, size_t len,
			int mode)
{
	for (size_t i = 0; i < p->n; i++) {
		if (!strcmp(p->f[i].path, path)) {
			free(p->f[i].data);
			p->f[i] = (struct vfile){ p->f[i].path, data, len, mode };
			return;
		}
	}
	gt_grow((void **)&p->f, &p->cap, p->n + 1, sizeof(*p->f));
	p->f[p->n++] = (struct vfile){ xstrdup(path), data, len, mode };
}

static int mode_of(const json_t *obj, const char *key, int def, const char *field,
		   struct gt_err *err, int *mode)
{
	int64_t m;
	int rc = gt_json_int(obj, key, &m);

	if (rc == -ENOENT) {
		*mode = def;
		return 0;
	}
	if (rc < 0 || m < 0 || m > 0777)
		return gt_err_set(err, -EINVAL, "%s.%s: Invalid value: must be a number between 0 and 0777 (octal), both inclusive",
				  field, key);
	*mode = (int)m;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The kubelet's fieldpath.FormatMap: sorted `key="value"` lines. */
static char *format_map(const json_t *m)
{
	struct gt_buf b = GT_BUF_INIT;
	size_t n = json_object_size(m), i = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *v;

	gt_buf_init(&b);
	json_object_foreach((json_t *)m, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 0; i < n; i++) {
		const char *val = json_string_value(json_object_get(m, keys[i]));

		if (i)
			gt_buf_addc(&b, '\n');
		gt_buf_addf(&b, "%s=", keys[i]);
		gt_buf_add_quoted(&b, val ? val : "");
	}
	free(keys);
	return gt_buf_detach(&b, NULL);
}

/* A downward API fieldRef value (new string) for fieldPath fp. */
static int field_value(const json_t *pod, const char *fp, char **out, struct gt_err *err)
{
	static const char *const plain[] = { "metadata.name", "metadata.namespace", "metadata.uid",
					     "spec.nodeName", "spec.serviceAccountName",
					     "status.podIP", "status.hostIP" };
	static const char *const maps[] = { "metadata.labels", "metadata.annotations" };

	for (size_t i = 0; i < GT_ARRAY_SIZE(plain); i++) {
		if (!strcmp(fp, plain[i])) {
			const char *s = gt_json_str(pod, fp);

			*out = xstrdup(s ? s : "");
			return 0;
		}
	}
	for (size_t i = 0; i < GT_ARRAY_SIZE(maps); i++) {
		size_t n = strlen(maps[i]), kl;

		if (strncmp(fp, maps[i], n))
			continue;
		if (!fp[n]) {
			*out = format_map(gt_json_path(pod, maps[i]));
			return 0;
		}
		kl = strlen(fp + n);
		if (kl > 4 && !strncmp(fp + n, "['", 2) && !strcmp(fp + n + kl - 2, "']")) {
			GT_AUTOFREE char *key = xstrndup(fp + n + 2, kl - 4);
			const char *v = json_string_value(json_object_get(gt_json_path(pod, maps[i]), key));

			*out = xstrdup(v ? v : "");
			return 0;
		}
	}
	return gt_err_set(err, -EINVAL, "unsupported fieldPath: %s", fp);
}

static const json_t *find_container(const json_t *pod, const char *name)
{
	static const char *const lists[] = { "spec.containers", "spec.initContainers" };
	size_t i;
	json_t *c;

	for (size_t l = 0; l < GT_ARRAY_SIZE(lists); l++)
		json_array_foreach(gt_json_path(pod, lists[l]), i, c)
			if (name && gt_json_str(c, "name") && !strcmp(gt_json_str(c, "name"), name))
				return c;
	return NULL;
}

/* A downward API resourceFieldRef value: ceil(quantity / divisor).  Unset
 * limits are the node's capacity (online CPUs, physical memory), unset
 * requests the limit when set (API defaulting) or 0. */
static int resource_value(const json_t *pod, const json_t *ref, const char *field, char **out,
			  struct gt_err *err)
{
	const char *res = gt_json_str(ref, "resource"), *cname = gt_json_str(ref, "containerName");
	const json_t *c = find_container(pod, cname);
	struct gt_quantity q = { 0, GT_QUANTITY_DECIMAL_SI }, d;
	json_t *div = json_object_get(ref, "divisor"), *v = NULL;
	bool limit;
	__int128 r;

	if (!c)
		return gt_err_set(err, -EINVAL, "%s.containerName: Not found: \"%s\"", field,
				  cname ? cname : "");
	if (!res || (strncmp(res, "limits.", 7) && strncmp(res, "requests.", 9)))
		return gt_err_set(err, -EINVAL, "%s.resource: Unsupported value: \"%s\"", field,
				  res ? res : "");
	limit = res[0] == 'l';
	v = json_object_get(gt_json_path(c, "resources.limits"), strchr(res, '.') + 1);
	if (!limit) {
		json_t *req = json_object_get(gt_json_path(c, "resources.requests"), strchr(res, '.') + 1);

		if (req)
			v = req;
	}
	if (v) {
		if (gt_quantity_from_json(v, &q, err) < 0)
			return gt_err_prefix(err, -EINVAL, "%s", field);
	} else if (limit && !strcmp(res, "limits.cpu")) {
		gt_quantity_set_int(&q, sysconf(_SC_NPROCESSORS_ONLN), GT_QUANTITY_DECIMAL_SI);
	} else if (limit && !strcmp(res, "limits.memory")) {
		gt_quantity_set_int(&q, (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE),
				    GT_QUANTITY_BINARY_SI);
	}
	gt_quantity_set_int(&d, 1, GT_QUANTITY_DECIMAL_SI);
	if (div && (gt_quantity_from_json(div, &d, err) < 0 || d.nano <= 0))
		return gt_err_set(err, -EINVAL, "%s.divisor: Invalid value", field);
	r = q.nano / d.nano + (q.nano % d.nano > 0);
	*out = xasprintf("%lld", (long long)r);
	return 0;
}

/* ---- sources → payload ---- */

struct src_ctx {
	const struct gt_vol_ctx *v;
	const json_t *pod;
	const char *ns;
	const char *field; /* e.g. spec.volumes[2] */
};

/* One key's bytes (new buffer): secrets' stringData (plain) over data
 * (base64); configMaps' data (plain) over binaryData (base64).  -ENOENT
 * when absent, -EINVAL for bad base64. */
static int kv_value(const json_t *data, const json_t *bin, bool is_secret, const char *key,
		    unsigned char **out, size_t *len)
{
	const char *plain = json_string_value(json_object_get(is_secret ? bin : data, key));
	const char *b64 = json_string_value(json_object_get(is_secret ? data : bin, key));

	if (plain) {
		*len = strlen(plain);
		*out = (unsigned char *)xstrdup(plain);
		return 0;
	}
	if (!b64)
		return -ENOENT;
	return gt_base64_decode(b64, strlen(b64), out, len);
}

/* configMap or secret (secret when is_secret) into p; items/optional/mode. */
static int kv_payload(const struct src_ctx *s, const json_t *src, bool is_secret,
		      const char *name_key, int defmode, const char *field, struct payload *p,
		      struct gt_err *err)
{
	const char *name = gt_json_str(src, name_key);
	const char *kind = is_secret ? "secret" : "configmap";
	bool optional = gt_json_bool(src, "optional", false);
	GT_AUTOJSON json_t *obj = NULL;
	json_t *items = json_object_get(src, "items"), *data, *bin, *it, *v;
	const char *k;
	size_t i;
	int rc;

	if (!name || !*name)
		return gt_err_set(err, -EINVAL, "%s.%s: Required value", field, name_key);
	rc = s->v->get(s->v->get_ctx, is_secret ? "secrets" : "configmaps", s->ns, name, &obj, err);
	if (rc == -ENOENT) {
		if (optional)
			return 0;
		return gt_err_set(err, -ENOENT, "%s \"%s\" not found", kind, name);
	}
	if (rc < 0)
		return rc;
	data = json_object_get(obj, "data");
	bin = is_secret ? json_object_get(obj, "stringData") : json_object_get(obj, "binaryData");

	/* Secrets: data is base64, stringData plain; configMaps: data plain,
	 * binaryData base64. */
#define KV_VALUE(key, outp, lenp) kv_value(data, bin, is_secret, key, outp, lenp)
	if (json_array_size(items)) {
		json_array_foreach(items, i, it) {
			const char *key = gt_json_str(it, "key"), *path = gt_json_str(it, "path");
			GT_AUTOFREE char *f = xasprintf("%s.items[%zu]", field, i);
			GT_AUTOFREE char *pf = xasprintf("%s.path", f);
			unsigned char *buf;
			size_t len;
			int mode = 0;

			if (!key || !path)
				return gt_err_set(err, -EINVAL, "%s: key and path are required", f);
			rc = check_path(path, pf, err);
			if (rc == 0)
				rc = mode_of(it, "mode", defmode, f, err, &mode);
			if (rc < 0)
				return rc;
			rc = KV_VALUE(key, &buf, &len);
			if (rc == -ENOENT) {
				if (optional)
					continue;
				return is_secret ? gt_err_set(err, -ENOENT, "references non-existent secret key: %s", key)
						 : gt_err_set(err, -ENOENT, "configmap references non-existent config key: %s", key);
			}
			if (rc < 0)
				return gt_err_set(err, rc, "%s \"%s\": key %s: invalid base64 data", kind, name, key);
			payload_add(p, path, buf, len, mode);
		}
		return 0;
	}
	for (int pass = 0; pass < 2; pass++) {
		json_object_foreach(pass ? bin : data, k, v) {
			unsigned char *buf;
			size_t len;

			if (check_path(k, field, NULL) < 0)
				continue; /* keys are validated by the API; never write outside */
			rc = KV_VALUE(k, &buf, &len);
			if (rc < 0)
				return gt_err_set(err, rc, "%s \"%s\": key %s: invalid base64 data", kind, name, k);
			payload_add(p, k, buf, len, defmode);
		}
	}
#undef KV_VALUE
	return 0;
}

static int downward_payload(const struct src_ctx *s, const json_t *src, int defmode,
			    const char *field, struct payload *p, struct gt_err *err)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(src, "items"), i, it) {
		GT_AUTOFREE char *f = xasprintf("%s.items[%zu]", field, i);
		GT_AUTOFREE char *pf = xasprintf("%s.path", f);
		GT_AUTOFREE char *rf = xasprintf("%s.resourceFieldRef", f);
		const char *path = gt_json_str(it, "path");
		const char *fp = gt_json_str(it, "fieldRef.fieldPath");
		json_t *res = json_object_get(it, "resourceFieldRef");
		char *val = NULL;
		int mode = 0, rc;

		if (!path)
			return gt_err_set(err, -EINVAL, "%s: Required value", pf);
		rc = check_path(path, pf, err);
		if (rc == 0)
			rc = mode_of(it, "mode", defmode, f, err, &mode);
		if (rc == 0) {
			if (fp)
				rc = field_value(s->pod, fp, &val, err);
			else if (res)
				rc = resource_value(s->pod, res, rf, &val, err);
			else
				rc = gt_err_set(err, -EINVAL, "%s: fieldRef or resourceFieldRef required", f);
		}
		if (rc < 0)
			return rc;
		payload_add(p, path, (unsigned char *)val, strlen(val), mode);
	}
	return 0;
}

/* Builds the payload of volume vol (one of the projected kinds). */
static int build_payload(const struct src_ctx *s, const json_t *vol, struct payload *p,
			 struct gt_err *err)
{
	json_t *src, *e;
	GT_AUTOFREE char *f = NULL;
	size_t i;
	int mode = 0, rc;

	if ((src = json_object_get(vol, "configMap"))) {
		f = xasprintf("%s.configMap", s->field);
		rc = mode_of(src, "defaultMode", 0644, f, err, &mode);
		return rc < 0 ? rc : kv_payload(s, src, false, "name", mode, f, p, err);
	}
	if ((src = json_object_get(vol, "secret"))) {
		f = xasprintf("%s.secret", s->field);
		rc = mode_of(src, "defaultMode", 0644, f, err, &mode);
		return rc < 0 ? rc : kv_payload(s, src, true, "secretName", mode, f, p, err);
	}
	if ((src = json_object_get(vol, "downwardAPI"))) {
		f = xasprintf("%s.downwardAPI", s->field);
		rc = mode_of(src, "defaultMode", 0644, f, err, &mode);
		return rc < 0 ? rc : downward_payload(s, src, mode, f, p, err);
	}
	src = json_object_get(vol, "projected");
	f = xasprintf("%s.projected", s->field);
	rc = mode_of(src, "defaultMode", 0644, f, err, &mode);
	if (rc < 0)
		return rc;
	json_array_foreach(json_object_get(src, "sources"), i, e) {
		GT_AUTOFREE char *sf = xasprintf("%s.sources[%zu]", f, i);
		GT_AUTOFREE char *cf = NULL;
		json_t *x;

		if ((x = json_object_get(e, "configMap"))) {
			cf = xasprintf("%s.configMap", sf);
			rc = kv_payload(s, x, false, "name", mode, cf, p, err);
		} else if ((x = json_object_get(e, "secret"))) {
			cf = xasprintf("%s.secret", sf);
			rc = kv_payload(s, x, true, "name", mode, cf, p, err);
		} else if ((x = json_object_get(e, "downwardAPI"))) {
			cf = xasprintf("%s.downwardAPI", sf);
			rc = downward_payload(s, x, mode, cf, p, err);
		} else {
			rc = 0; /* serviceAccountToken, clusterTrustBundle: not issued */
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- the atomic writer ---- */

static int file_mode(int mode, gid_t gid)
{
	return gid != (gid_t)-1 ? mode | 0440 : mode;
}

/* True when dir/..data holds exactly payload p (bytes, modes). */
static bool aw_same(const char *dir, const struct payload *p, gid_t gid)
{
	size_t files = 0;

	for (size_t i = 0; i < p->n; i++) {
		GT_AUTOFREE char *path = xasprintf("%s/..data/%s", dir, p->f[i].path);
		GT_AUTOFREE char *data = NULL;
		struct stat st;
		size_t len;

		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (int)(st.st_mode & 07777) != file_mode(p->f[i].mode, gid) ||
		    (gid != (gid_t)-1 && st.st_gid != gid) || (size_t)st.st_size != p->f[i].len ||
		    gt_read_file(path, &data, &len) < 0 || len != p->f[i].len ||
		    memcmp(data, p->f[i].data, len))
			return false;
	}
	/* and no extra files: count what is there */
	{
		char *stack[64];
		int top = 0;

		stack[top++] = xasprintf("%s/..data", dir);
		while (top > 0) {
			char *d = stack[--top];
			DIR *dh = opendir(d);
			struct dirent *de;

			while (dh && (de = readdir(dh))) {
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				if (de->d_type == DT_DIR && top < 64)
					stack[top++] = xasprintf("%s/%s", d, de->d_name);
				else if (de->d_type != DT_DIR)
					files++;
			}
			if (dh)
				closedir(dh);
			free(d);
		}
	}
	return files == p->n;
}

static int write_one(int tsfd, const struct vfile *f, gid_t gid)
{
	GT_AUTOFREE char *rel = xstrdup(f->path);
	size_t off = 0;
	int fd, rc = 0;

	/* parents, inside the timestamp directory */
	for (char *sl = strchr(rel, '/'); sl; sl = strchr(sl + 1, '/')) {
		*sl = '\0';
		if (mkdirat(tsfd, rel, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (gid != (gid_t)-1) {
			if (fchownat(tsfd, rel, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(tsfd, rel, 0755 | 0440 | 0110 | S_ISGID, 0) < 0)
				return -errno;
		}
		*sl = '/';
	}
	fd = openat(tsfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < f->len) {
		ssize_t w = write(fd, f->data + off, f->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0)
		rc = -errno;
	if (rc == 0 && fchmod(fd, (mode_t)file_mode(f->mode, gid)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static bool top_level_wanted(const struct payload *p, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < p->n; i++)
		if (!strncmp(p->f[i].path, name, n) && (p->f[i].path[n] == '/' || !p->f[i].path[n]))
			return true;
	return false;
}

/*
 * Writes payload p into dir: a new ..<timestamp> directory, ..data swapped
 * to it with rename(2), top-level symlinks added/removed, the old
 * timestamp directory removed.  What kubelet's AtomicWriter does.
 */
static int aw_write(const char *dir, const struct payload *p, gid_t gid, struct gt_err *err)
{
	GT_AUTOFREE char *data = xasprintf("%s/..data", dir);
	GT_AUTOFREE char *tmp = xasprintf("%s/..data_tmp", dir);
	GT_AUTOFREE char *ts = NULL;
	char old[PATH_MAX] = "", stamp[64];
	struct tm tm;
	time_t now = time(NULL);
	ssize_t ol;
	DIR *dh;
	struct dirent *de;
	int tsfd, rc = 0;

	rc = gt_mkdir_p(dir, 0755);
	if (rc < 0)
		return gt_err_set(err, rc, "%s: %s", dir, strerror(-rc));
	ol = readlink(data, old, sizeof(old) - 1);
	if (ol > 0)
		old[ol] = '\0';
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "..%Y_%m_%d_%H_%M_%S.", &tm);
	ts = xasprintf("%s/%sXXXXXX", dir, stamp);
	if (!mkdtemp(ts))
		return gt_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	if (chmod(ts, gid != (gid_t)-1 ? 0755 | 0440 | 0110 | S_ISGID : 0755) < 0 ||
	    (gid != (gid_t)-1 && chown(ts, (uid_t)-1, gid) < 0)) {
		rc = -errno;
		goto fail;
	}
	tsfd = open(ts, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tsfd < 0) {
		rc = -errno;
		goto fail;
	}
	for (size_t i = 0; i < p->n && rc == 0; i++)
		rc = write_one(tsfd, &p->f[i], gid);
	close(tsfd);
	if (rc < 0)
		goto fail;
	unlink(tmp);
	if (symlink(strrchr(ts, '/') + 1, tmp) < 0 || rename(tmp, data) < 0) {
		rc = -errno;
		unlink(tmp);
		goto fail;
	}
	for (size_t i = 0; i < p->n; i++) {
		GT_AUTOFREE char *top = xstrndup(p->f[i].path, strcspn(p->f[i].path, "/"));
		GT_AUTOFREE char *link = xasprintf("%s/%s", dir, top);
		GT_AUTOFREE char *target = xasprintf("..data/%s", top);
		struct stat st;

		if (lstat(link, &st) < 0 && symlink(target, link) < 0 && errno != EEXIST)
			return gt_err_set(err, -errno, "%s: %s", link, strerror(errno));
	}
	dh = opendir(dir);
	while (dh && (de = readdir(dh))) {
		if (!strncmp(de->d_name, "..", 2) || !strcmp(de->d_name, ".") ||
		    de->d_type != DT_LNK || top_level_wanted(p, de->d_name))
			continue;
		unlinkat(dirfd(dh), de->d_name, 0);
	}
	if (dh)
		closedir(dh);
	if (!strncmp(old, "..", 2) && !strchr(old, '/')) {
		GT_AUTOFREE char *oldp = xasprintf("%s/%s", dir, old);

		rm_rf(oldp);
	}
	return 0;
fail:
	rm_rf(ts);
	return gt_err_set(err, rc, "writing volume %s: %s", dir, strerror(-rc));
}

/* ---- prepare / refresh ---- */

static const char *const projected_kinds[] = { "configMap", "secret", "downwardAPI", "projected" };

/* The volume's source key ("emptyDir" when it has none). */
static const char *vol_kind(const json_t *vol)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)vol, k, v)
		if (strcmp(k, "name") && json_is_object(v))
			return k;
	return "emptyDir";
}

static bool is_projected(const char *kind)
{
	for (size_t i = 0; i < GT_ARRAY_SIZE(projected_kinds); i++)
		if (!strcmp(kind, projected_kinds[i]))
			return true;
	return false;
}

static int prep_empty_dir(const struct gt_vol_ctx *ctx, const json_t *pod, const json_t *src,
			  const char *dir, const char *field, struct gt_err *err)
{
	const char *medium = gt_json_str(src, "medium");
	gid_t gid = pod_fsgroup(pod);
	mode_t mode = gid != (gid_t)-1 ? 02777 : 0777;
	int rc;

	(void)ctx;
	rc = gt_mkdir_p(dir, 0755);
	if (rc < 0)
		return gt_err_set(err, rc, "%s: %s", dir, strerror(-rc));
	if (medium && !strcmp(medium, "Memory")) {
		struct gt_quantity q;
		json_t *lim = json_object_get(src, "sizeLimit");
		GT_AUTOFREE char *opts = NULL;
		int64_t bytes = 0;

		if (lim) {
			if (gt_quantity_from_json(lim, &q, err) < 0)
				return gt_err_prefix(err, -EINVAL, "%s.emptyDir.sizeLimit", field);
			bytes = gt_quantity_value(&q);
		}
		opts = bytes > 0 ? xasprintf("mode=%o,size=%lld", mode, (long long)bytes)
				 : xasprintf("mode=%o", mode);
		if (!is_mountpoint(dir) &&
		    mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
			return gt_err_set(err, -errno, "mounting tmpfs on %s: %s", dir, strerror(errno));
	} else if (medium && *medium) {
		return gt_err_set(err, -EOPNOTSUPP, "%s.emptyDir.medium: Unsupported value: \"%s\"", field,
				  medium);
	}
	if (chmod(dir, mode) < 0 || (gid != (gid_t)-1 && chown(dir, (uid_t)-1, gid) < 0))
		return gt_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	return 0;
}

/* Kubernetes' hostPath type check (pkg/volume/hostpath). */
static int prep_host_path(const json_t *src, const char *field, const char **path,
			  struct gt_err *err)
{
	const char *p = gt_json_str(src, "path"), *type = gt_json_str(src, "type");
	struct stat st;
	bool exists;
	int fd;

	if (!p || p[0] != '/')
		return gt_err_set(err, -EINVAL, "%s.hostPath.path: Invalid value: \"%s\": must be an absolute path",
				  field, p ? p : "");
	*path = p;
	if (!type || !*type)
		return 0;
	exists = stat(p, &st) == 0;
	if (!strcmp(type, "DirectoryOrCreate") || !strcmp(type, "Directory")) {
		if (!exists && type[9]) {
			int rc = gt_mkdir_p(p, 0755);

			if (rc < 0)
				return gt_err_set(err, rc, "mkdir %s: %s", p, strerror(-rc));
			return 0;
		}
		if (!exists || !S_ISDIR(st.st_mode))
			return gt_err_set(err, -ENOTDIR, "hostPath type check failed: %s is not a directory", p);
		return 0;
	}
	if (!strcmp(type, "FileOrCreate") || !strcmp(type, "File")) {
		if (!exists && type[4]) {
			fd = open(p, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0)
				return gt_err_set(err, -errno, "open %s: %s", p, strerror(errno));
			close(fd);
			return 0;
		}
		if (!exists || !S_ISREG(st.st_mode))
			return gt_err_set(err, -EINVAL, "hostPath type check failed: %s is not a file", p);
		return 0;
	}
	if (!strcmp(type, "Socket")) {
		if (!exists || !S_ISSOCK(st.st_mode))
			return gt_err_set(err, -EINVAL, "hostPath type check failed: %s is not a socket file", p);
		return 0;
	}
	if (!strcmp(type, "CharDevice")) {
		if (!exists || !S_ISCHR(st.st_mode))
			return gt_err_set(err, -EINVAL, "hostPath type check failed: %s is not a character device", p);
		return 0;
	}
	if (!strcmp(type, "BlockDevice")) {
		if (!exists || !S_ISBLK(st.st_mode))
			return gt_err_set(err, -EINVAL, "hostPath type check failed: %s is not a block device", p);
		return 0;
	}
	return gt_err_set(err, -EINVAL, "%s is an invalid volume type", type);
}

static int prep_pvc(const struct gt_vol_ctx *ctx, const char *ns, const json_t *src,
		    const char *field, char **path, struct gt_err *err)
{
	const char *claim = gt_json_str(src, "claimName"), *phase, *vname, *p;
	GT_AUTOJSON json_t *pvc = NULL, *pv = NULL;
	struct stat st;
	int rc;

	if (!claim || !*claim)
		return gt_err_set(err, -EINVAL, "%s.persistentVolumeClaim.claimName: Required value", field);
	rc = ctx->get(ctx->get_ctx, "persistentvolumeclaims", ns, claim, &pvc, err);
	if (rc == -ENOENT)
		return gt_err_set(err, -ENOENT, "persistentvolumeclaim \"%s\" not found", claim);
	if (rc < 0)
		return rc;
	phase = gt_json_str(pvc, "status.phase");
	vname = gt_json_str(pvc, "spec.volumeName");
	if (!phase || strcmp(phase, "Bound") || !vname || !*vname)
		return gt_err_set(err, -EAGAIN,
				  "PVC %s/%s has non-bound phase (\"%s\") or empty pvc.Spec.VolumeName (\"%s\")",
				  ns, claim, phase ? phase : "", vname ? vname : "");
	rc = ctx->get(ctx->get_ctx, "persistentvolumes", NULL, vname, &pv, err);
	if (rc == -ENOENT)
		return gt_err_set(err, -ENOENT, "persistentvolume \"%s\" not found", vname);
	if (rc < 0)
		return rc;
	p = gt_json_str(pv, "spec.hostPath.path");
	if (!p)
		p = gt_json_str(pv, "spec.local.path");
	if (!p || p[0] != '/')
		return gt_err_set(err, -EOPNOTSUPP,
				  "persistentvolume \"%s\": only hostPath and local volumes are supported", vname);
	if (stat(p, &st) < 0) {
		size_t rl = ctx->pv_root ? strlen(ctx->pv_root) : 0;

		if (!rl || strncmp(p, ctx->pv_root, rl) || p[rl] != '/' || strstr(p, "/../"))
			return gt_err_set(err, -ENOENT, "persistentvolume \"%s\": path %s does not exist",
					  vname, p);
		rc = gt_mkdir_p(p, 0777);
		if (rc < 0 || chmod(p, 0777) < 0)
			return gt_err_set(err, rc < 0 ? rc : -errno, "persistentvolume \"%s\": mkdir %s failed",
					  vname, p);
	}
	*path = xstrdup(p);
	return 0;
}

static bool valid_vol_name(const char *n)
{
	return n && *n && !strchr(n, '/') && strcmp(n, ".") && strcmp(n, "..") && strlen(n) <= 253;
}

static int project(const struct src_ctx *s, const json_t *vol, const char *dir, struct gt_err *err)
{
	struct payload p = { 0 };
	gid_t gid = pod_fsgroup(s->pod);
	int rc = build_payload(s, vol, &p, err);

	if (rc == 0) {
		GT_AUTOFREE char *data = xasprintf("%s/..data", dir);
		struct stat st;

		if (stat(data, &st) < 0 || !aw_same(dir, &p, gid))
			rc = aw_write(dir, &p, gid, err);
	}
	payload_release(&p);
	return rc;
}

static int prep_volume(const struct gt_vol_ctx *ctx, const json_t *pod, const json_t *vol,
		       size_t idx, json_t *paths, struct gt_err *err)
{
	const char *name = gt_json_str(vol, "name"), *kind = vol_kind(vol);
	const char *ns = gt_json_str(pod, "metadata.namespace");
	GT_AUTOFREE char *field = xasprintf("spec.volumes[%zu]", idx);
	GT_AUTOFREE char *dir = NULL;
	struct src_ctx s = { ctx, pod, ns ? ns : "default", field };
	const char *hp = NULL;
	GT_AUTOFREE char *pvc = NULL;
	int rc;

	if (!valid_vol_name(name))
		return gt_err_set(err, -EINVAL, "%s.name: Invalid value: \"%s\"", field, name ? name : "");
	dir = xasprintf("%s/volumes/%s", ctx->pod_dir, name);
	if (!strcmp(kind, "emptyDir")) {
		rc = prep_empty_dir(ctx, pod, json_object_get(vol, "emptyDir"), dir, field, err);
	} else if (!strcmp(kind, "hostPath")) {
		rc = prep_host_path(json_object_get(vol, "hostPath"), field, &hp, err);
		if (rc == 0)
			json_object_set_new(paths, name, json_string(hp));
		return rc;
	} else if (!strcmp(kind, "persistentVolumeClaim")) {
		rc = prep_pvc(ctx, s.ns, json_object_get(vol, "persistentVolumeClaim"), field, &pvc, err);
		if (rc == 0)
			json_object_set_new(paths, name, json_string(pvc));
		return rc;
	} else if (is_projected(kind)) {
		rc = project(&s, vol, dir, err);
	} else {
		return gt_err_set(err, -EOPNOTSUPP, "volume \"%s\": %s volumes are not supported", name, kind);
	}
	if (rc == 0)
		json_object_set_new(paths, name, json_string(dir));
	return rc;
}

int gt_volumes_prepare(const struct gt_vol_ctx *ctx, const json_t *pod, json_t **paths,
		       struct gt_err *err)
{
	json_t *vols = gt_json_path(pod, "spec.volumes"), *v;
	GT_AUTOFREE char *root = xasprintf("%s/volumes", ctx->pod_dir);
	size_t i;
	int rc;

	*paths = json_object();
	rc = gt_mkdir_p(root, 0755);
	if (rc < 0) {
		json_decref(*paths);
		*paths = NULL;
		return gt_err_set(err, rc, "%s: %s", root, strerror(-rc));
	}
	json_array_foreach(vols, i, v) {
		rc = prep_volume(ctx, pod, v, i, *paths, err);
		if (rc < 0) {
			json_decref(*paths);
			*paths = NULL;
			return rc;
		}
	}
	return 0;
}

int gt_volumes_refresh(const struct gt_vol_ctx *ctx, const json_t *pod, struct gt_err *err)
{
	json_t *vols = gt_json_path(pod, "spec.volumes"), *v;
	const char *ns = gt_json_str(pod, "metadata.namespace");
	size_t i;
	int first = 0;

	json_array_foreach(vols, i, v) {
		const char *name = gt_json_str(v, "name");
		GT_AUTOFREE char *field = xasprintf("spec.volumes[%zu]", i);
		GT_AUTOFREE char *dir = NULL;
		struct src_ctx s = { ctx, pod, ns ? ns : "default", field };
		struct gt_err e2;
		int rc;

		if (!is_projected(vol_kind(v)) || !valid_vol_name(name))
			continue;
		dir = xasprintf("%s/volumes/%s", ctx->pod_dir, name);
		rc = project(&s, v, dir, first ? &e2 : err);
		if (rc < 0 && !first)
			first = rc;
	}
	return first;
}

/* ---- container mounts ---- */

/* "spec.containers[3]"-style path of container within pod. */
static char *container_field(const json_t *pod, const json_t *container)
{
	static const char *const lists[] = { "containers", "initContainers", "ephemeralContainers" };
	const char *name = gt_json_str(container, "name");
	json_t *c;
	size_t i;

	for (int pass = 0; pass < 2; pass++)
		for (size_t l = 0; l < GT_ARRAY_SIZE(lists); l++)
			json_array_foreach(json_object_get(json_object_get(pod, "spec"), lists[l]), i, c)
				if (pass == 0 ? c == container
					      : (name && gt_json_equal(json_object_get(c, "name"),
								       json_object_get(container, "name"))))
					return xasprintf("spec.%s[%zu]", lists[l], i);
	return xstrdup("spec.containers[0]");
}

/* Expands $(VAR) in expr with the container's env (literal values and
 * downward fieldRefs); unknown references stay as written, $$ is $. */
static char *expand_env(const json_t *pod, const json_t *container, const char *expr)
{
	struct gt_buf b = GT_BUF_INIT;

	gt_buf_init(&b);
	for (const char *s = expr; *s; s++) {
		const char *end;
		json_t *e, *found = NULL;
		size_t i, n;

		if (s[0] == '$' && s[1] == '$') {
			gt_buf_addc(&b, '$');
			s++;
			continue;
		}
		if (s[0] != '$' || s[1] != '(' || !(end = strchr(s + 2, ')'))) {
			gt_buf_addc(&b, *s);
			continue;
		}
		n = (size_t)(end - s - 2);
		json_array_foreach(json_object_get(container, "env"), i, e) {
			const char *en = gt_json_str(e, "name");

			if (en && strlen(en) == n && !strncmp(en, s + 2, n))
				found = e;
		}
		if (found && gt_json_str(found, "value")) {
			gt_buf_adds(&b, gt_json_str(found, "value"));
		} else if (found && gt_json_str(found, "valueFrom.fieldRef.fieldPath")) {
			char *v = NULL;

			if (field_value(pod, gt_json_str(found, "valueFrom.fieldRef.fieldPath"), &v, NULL) == 0)
				gt_buf_adds(&b, v);
			free(v);
		} else {
			gt_buf_add(&b, s, n + 3);
		}
		s = end;
	}
	return gt_buf_detach(&b, NULL);
}

/*
 * Resolves sub inside base, creating missing components as directories
 * (mode of base).  Each step is resolved with realpath and must stay
 * inside base, so a symlink planted in the volume cannot lead out.
 */
static int resolve_sub(const char *base, const char *sub, char **out, struct gt_err *err)
{
	char root[PATH_MAX], cur[PATH_MAX], next[PATH_MAX];
	GT_AUTOFREE char *copy = xstrdup(sub);
	char *save = NULL;
	struct stat st;
	size_t rl;

	if (!realpath(base, root) || stat(root, &st) < 0)
		return gt_err_set(err, -errno, "volume path %s: %s", base, strerror(errno));
	rl = strlen(root);
	memcpy(cur, root, rl + 1);
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		struct stat cs;
		char *full;

		if (!strcmp(c, "."))
			continue;
		full = xasprintf("%s/%s", cur, c);
		if (lstat(full, &cs) < 0 && errno == ENOENT) {
			mode_t m = S_ISDIR(st.st_mode) ? st.st_mode & 07777 : 0755;

			/* chmod: mkdir's mode is filtered by the umask */
			if ((mkdir(full, m) < 0 && errno != EEXIST) || chmod(full, m) < 0) {
				int e = -errno;

				gt_err_set(err, e, "creating subPath %s: %s", full, strerror(-e));
				free(full);
				return e;
			}
		}
		if (!realpath(full, next)) {
			int e = -errno;

			gt_err_set(err, e, "subPath %s: %s", full, strerror(-e));
			free(full);
			return e;
		}
		free(full);
		if (strncmp(next, root, rl) || (next[rl] != '/' && next[rl] != '\0'))
			return gt_err_set(err, -EPERM, "subpath \"%s\" not within volume path \"%s\"", next, root);
		memcpy(cur, next, strlen(next) + 1);
	}
	*out = xstrdup(cur);
	return 0;
}

static const json_t *find_volume(const json_t *pod, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(gt_json_path(pod, "spec.volumes"), i, v)
		if (name && gt_json_str(v, "name") && !strcmp(gt_json_str(v, "name"), name))
			return v;
	return NULL;
}

static int one_mount(const json_t *pod, const json_t *container, const json_t *paths,
		     const json_t *vm, const char *field, json_t *mounts, struct gt_err *err)
{
	const char *name = gt_json_str(vm, "name"), *dest = gt_json_str(vm, "mountPath");
	const char *sub = gt_json_str(vm, "subPath"), *subx = gt_json_str(vm, "subPathExpr");
	const char *prop = gt_json_str(vm, "mountPropagation"), *src;
	const json_t *vol = find_volume(pod, name);
	GT_AUTOFREE char *expanded = NULL;
	GT_AUTOFREE char *resolved = NULL;
	const char *kind;
	bool ro = gt_json_bool(vm, "readOnly", false);
	json_t *opts;
	int rc;

	src = json_string_value(json_object_get(paths, name ? name : ""));
	if (!name || !vol || !src)
		return gt_err_set(err, -EINVAL, "%s.name: Not found: \"%s\"", field, name ? name : "");
	if (!dest || dest[0] != '/')
		return gt_err_set(err, -EINVAL, "%s.mountPath: Invalid value: \"%s\": must be an absolute path",
				  field, dest ? dest : "");
	kind = vol_kind(vol);
	if (is_projected(kind) || gt_json_bool(vol, "persistentVolumeClaim.readOnly", false))
		ro = true;
	if (sub && *sub && subx && *subx)
		return gt_err_set(err, -EINVAL, "%s.subPathExpr: Invalid value: \"%s\": subPathExpr and subPath are mutually exclusive",
				  field, subx);
	if (subx && *subx) {
		GT_AUTOFREE char *f = xasprintf("%s.subPathExpr", field);

		expanded = expand_env(pod, container, subx);
		rc = check_path(expanded, f, err);
		if (rc < 0)
			return rc;
		sub = expanded;
	} else if (sub && *sub) {
		GT_AUTOFREE char *f = xasprintf("%s.subPath", field);

		rc = check_path(sub, f, err);
		if (rc < 0)
			return rc;
	}
	if (sub && *sub) {
		rc = resolve_sub(src, sub, &resolved, err);
		if (rc < 0)
			return rc;
		src = resolved;
	}
	if (!prop || !strcmp(prop, "None"))
		prop = "rprivate";
	else if (!strcmp(prop, "HostToContainer"))
		prop = "rslave";
	else if (!strcmp(prop, "Bidirectional"))
		prop = "rshared";
	else
		return gt_err_set(err, -EINVAL, "%s.mountPropagation: Unsupported value: \"%s\"", field, prop);
	opts = json_pack("[s, s]", "rbind", prop);
	if (ro)
		json_array_append_new(opts, json_string("ro"));
	json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:o}", "destination", dest,
						"source", src, "type", "bind", "options", opts));
	return 0;
}

int gt_volumes_container_mounts(const json_t *pod, const json_t *container, const json_t *paths,
				json_t **mounts, struct gt_err *err)
{
	GT_AUTOFREE char *cf = container_field(pod, container);
	json_t *vm;
	size_t i;

	*mounts = json_array();
	json_array_foreach(json_object_get(container, "volumeMounts"), i, vm) {
		GT_AUTOFREE char *f = xasprintf("%s.volumeMounts[%zu]", cf, i);
		int rc = one_mount(pod, container, paths, vm, f, *mounts, err);

		if (rc < 0) {
			json_decref(*mounts);
			*mounts = NULL;
			return rc;
		}
	}
	return 0;
}

/* ---- cleanup ---- */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static int cmp_len_desc(const void *a, const void *b)
{
	size_t la = strlen(*(const char *const *)a), lb = strlen(*(const char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

int gt_volumes_cleanup(const char *pod_dir, struct gt_err *err)
{
	GT_AUTOFREE char *vols = xasprintf("%s/volumes", pod_dir);
	GT_AUTOFREE char *info = NULL;
	char real[PATH_MAX];
	char **mps = NULL;
	size_t n = 0, cap = 0, len, rl;
	int rc = 0;

	if (!realpath(vols, real))
		return errno == ENOENT ? 0 : gt_err_set(err, -errno, "%s: %s", vols, strerror(errno));
	rl = strlen(real);
	if (gt_read_file("/proc/self/mountinfo", &info, &len) == 0) {
		char *save = NULL;

		for (char *line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *f[5], *ws = NULL;
			int k = 0;

			for (char *w = strtok_r(line, " ", &ws); w && k < 5; w = strtok_r(NULL, " ", &ws))
				f[k++] = w;
			if (k < 5)
				continue;
			unescape(f[4]);
			if (!strncmp(f[4], real, rl) && (f[4][rl] == '/' || f[4][rl] == '\0')) {
				gt_grow((void **)&mps, &cap, n + 1, sizeof(*mps));
				mps[n++] = xstrdup(f[4]);
			}
		}
	}
	if (n)
		qsort(mps, n, sizeof(*mps), cmp_len_desc);
	for (size_t i = 0; i < n; i++) {
		if (umount2(mps[i], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT && !rc)
			rc = gt_err_set(err, -errno, "umount %s: %s", mps[i], strerror(errno));
		free(mps[i]);
	}
	free(mps);
	if (rc < 0)
		return rc;
	rc = rm_rf(real);
	if (rc < 0)
		return gt_err_set(err, rc, "removing %s: %s", real, strerror(-rc));
	return 0;
}
