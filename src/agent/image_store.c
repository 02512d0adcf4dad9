/*
 * image_store.c - the on-disk content store under ROOT/images: opening it,
 * the lock file, index.json, staging directories, committing a stage, and
 * garbage collection of blobs and unpacked layers no reference needs.
 *
 * index.json is only ever replaced by rename (gt_write_file_atomic), so
 * readers take no lock; writers serialise on flock(ROOT/lock), which also
 * works between threads because every img_lock() opens its own file
 * description.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/image_int.h"
#include "base/log.h"

#define STALE_TMP_S (24 * 3600)

char *img_blob_path(const struct gt_image_store *s, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", s->root, digest + 7);
}

char *img_layer_path(const struct gt_image_store *s, const char *digest)
{
	return xasprintf("%s/layers/%s", s->root, digest + 7);
}

int img_lock(struct gt_image_store *s, struct gt_err *err)
{
	GT_AUTOFREE char *p = xasprintf("%s/lock", s->root);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return gt_err_set(err, -errno, "image store: open %s: %s", p, strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int rc = -errno;
			close(fd);
			return gt_err_set(err, rc, "image store: lock %s: %s", p, strerror(-rc));
		}
	}
	return fd;
}

void img_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

static json_t *index_new(void)
{
	return json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", IMG_MT_OCI_INDEX,
			 "manifests");
}

int img_index_load(struct gt_image_store *s, json_t **out, struct gt_err *err)
{
	GT_AUTOFREE char *p = xasprintf("%s/index.json", s->root);
	GT_AUTOFREE char *buf = NULL;
	size_t len;
	json_t *idx;
	int rc;

	*out = NULL;
	if ((rc = gt_read_file(p, &buf, &len)) == -ENOENT) {
		*out = index_new();
		return 0;
	}
	if (rc < 0)
		return gt_err_set(err, rc, "image store: read %s: %s", p, strerror(-rc));
	if ((rc = gt_json_parse_lenient(buf, len, &idx, err)) < 0)
		return gt_err_prefix(err, -EIO, "image store: %s is corrupt", p);
	if (!json_is_array(json_object_get(idx, "manifests"))) {
		json_decref(idx);
		return gt_err_set(err, -EIO, "image store: %s: manifests: must be an array", p);
	}
	*out = idx;
	return 0;
}

static int index_save(struct gt_image_store *s, json_t *idx, struct gt_err *err)
{
	GT_AUTOFREE char *p = xasprintf("%s/index.json", s->root);
	size_t len;
	GT_AUTOFREE char *data = gt_json_dump(idx, &len);
	int rc = gt_write_file_atomic(p, data, len, 0644);

	if (rc < 0)
		return gt_err_set(err, rc, "image store: write %s: %s", p, strerror(-rc));
	return 0;
}

int gt_image_store_open(const char *root, struct gt_image_store **out, struct gt_err *err)
{
	static const char *const dirs[] = { "blobs/sha256", "layers", "diffids", "tmp" };
	struct gt_image_store *s;
	GT_AUTOFREE char *layout = NULL;
	int rc;

	*out = NULL;
	if (!root || !*root)
		return gt_err_set(err, -EINVAL, "image store: empty root directory");
	for (size_t i = 0; i < GT_ARRAY_SIZE(dirs); i++) {
		GT_AUTOFREE char *d = xasprintf("%s/%s", root, dirs[i]);
		if ((rc = gt_mkdir_p(d, 0755)) < 0)
			return gt_err_set(err, rc, "image store: mkdir %s: %s", d, strerror(-rc));
	}
	s = xcalloc(1, sizeof(*s));
	s->root = xstrdup(root);
	layout = xasprintf("%s/oci-layout", root);
	if (access(layout, F_OK) < 0) {
		static const char v[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
		if ((rc = gt_write_file_atomic(layout, v, sizeof(v) - 1, 0644)) < 0) {
			gt_image_store_close(s);
			return gt_err_set(err, rc, "image store: write %s: %s", layout,
					  strerror(-rc));
		}
	}
	/* Leftovers of killed imports and pulls: old enough that nobody works
	 * in them any more. */
	GT_AUTOFREE char *tmp = xasprintf("%s/tmp", root);
	DIR *d = opendir(tmp);
	struct dirent *de;
	time_t now = time(NULL);
	while (d && (de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		GT_AUTOFREE char *p = xasprintf("%s/%s", tmp, de->d_name);
		if (lstat(p, &st) == 0 && now - st.st_mtime > STALE_TMP_S)
			img_rmtree(p);
	}
	if (d)
		closedir(d);
	*out = s;
	return 0;
}

void gt_image_store_close(struct gt_image_store *s)
{
	if (!s)
		return;
	free(s->root);
	free(s);
}

int img_blob_read(struct gt_image_store *s, const char *digest, char **out, size_t *len,
		  struct gt_err *err)
{
	GT_AUTOFREE char *p = img_blob_path(s, digest);
	char got[IMG_DIGEST_MAX];
	struct stat st;
	int rc;

	*out = NULL;
	if (stat(p, &st) < 0)
		return gt_err_set(err, -errno, "blob %s: %s", digest, strerror(errno));
	if (st.st_size > (off_t)IMG_JSON_MAX)
		return gt_err_set(err, -EFBIG, "blob %s: too large for a JSON document", digest);
	if ((rc = gt_read_file(p, out, len)) < 0)
		return gt_err_set(err, rc, "blob %s: %s", digest, strerror(-rc));
	img_sha256_buf(*out, *len, got);
	if (strcmp(got, digest)) {
		free(*out);
		*out = NULL;
		return gt_err_set(err, -EBADMSG, "blob %s is corrupt (content is %s)", digest, got);
	}
	return 0;
}

int img_stage_open(struct gt_image_store *s, struct img_stage *st, struct gt_err *err)
{
	char *dir = xasprintf("%s/tmp/stage-XXXXXX", s->root);

	st->dir = NULL;
	if (!mkdtemp(dir)) {
		int rc = -errno;
		gt_err_set(err, rc, "image store: mkdtemp %s: %s", dir, strerror(errno));
		free(dir);
		return rc;
	}
	GT_AUTOFREE char *b = xasprintf("%s/blobs", dir);
	GT_AUTOFREE char *l = xasprintf("%s/layers", dir);
	GT_AUTOFREE char *d = xasprintf("%s/diffids", dir);
	if (mkdir(b, 0755) < 0 || mkdir(l, 0755) < 0 || mkdir(d, 0755) < 0) {
		int rc = -errno;
		img_rmtree(dir);
		free(dir);
		return gt_err_set(err, rc, "image store: mkdir in stage: %s", strerror(-rc));
	}
	st->dir = dir;
	return 0;
}

void img_stage_release(struct img_stage *st)
{
	if (!st || !st->dir)
		return;
	img_rmtree(st->dir);
	free(st->dir);
	st->dir = NULL;
}

char *img_stage_blob(const struct img_stage *st, const char *digest)
{
	return xasprintf("%s/blobs/%s", st->dir, digest + 7);
}

char *img_stage_layer(const struct img_stage *st, const char *digest)
{
	return xasprintf("%s/layers/%s", st->dir, digest + 7);
}

static bool is_hex64(const char *n)
{
	size_t i;

	for (i = 0; n[i]; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
			return false;
	return i == 64;
}

/* Moves each 64-hex entry of stage/<sub> to ROOT/<dst>/, unless present. */
static int move_all(struct gt_image_store *s, const struct img_stage *st, const char *sub,
		    const char *dst, struct gt_err *err)
{
	GT_AUTOFREE char *from = xasprintf("%s/%s", st->dir, sub);
	DIR *d = opendir(from);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return gt_err_set(err, -errno, "image store: opendir %s: %s", from, strerror(errno));
	while ((de = readdir(d))) {
		if (!is_hex64(de->d_name))
			continue;
		GT_AUTOFREE char *a = xasprintf("%s/%s", from, de->d_name);
		GT_AUTOFREE char *b = xasprintf("%s/%s/%s", s->root, dst, de->d_name);
		if (access(b, F_OK) == 0)
			continue; /* already there; the stage copy goes with the stage */
		if (rename(a, b) < 0) {
			rc = gt_err_set(err, -errno, "image store: rename %s: %s", b,
					strerror(errno));
			break;
		}
	}
	closedir(d);
	return rc;
}

int img_stage_move(struct gt_image_store *s, struct img_stage *st, struct gt_err *err)
{
	int rc;

	/* a layer's diff_id record goes first, its directory last: a layer
	 * directory in the store always has its record */
	if ((rc = move_all(s, st, "diffids", "diffids", err)) < 0 ||
	    (rc = move_all(s, st, "blobs", "blobs/sha256", err)) < 0)
		return rc;
	return move_all(s, st, "layers", "layers", err);
}

bool img_layer_ready(struct gt_image_store *s, const struct img_stage *st, const char *digest)
{
	GT_AUTOFREE char *a = img_layer_path(s, digest);
	GT_AUTOFREE char *b = st ? img_stage_layer(st, digest) : NULL;

	return access(a, F_OK) == 0 || (b && access(b, F_OK) == 0);
}

/* The diff_id recorded for layer `digest` (stage first), or "" when none. */
static void recorded_diff_id(struct gt_image_store *s, const struct img_stage *st,
			     const char *digest, char out[IMG_DIGEST_MAX])
{
	GT_AUTOFREE char *a = xasprintf("%s/diffids/%s", st->dir, digest + 7);
	GT_AUTOFREE char *b = xasprintf("%s/diffids/%s", s->root, digest + 7);
	GT_AUTOFREE char *buf = NULL;
	size_t len;

	out[0] = 0;
	if ((gt_read_file(a, &buf, &len) == 0 || gt_read_file(b, &buf, &len) == 0) &&
	    len < IMG_DIGEST_MAX)
		snprintf(out, IMG_DIGEST_MAX, "%s", buf);
}

int img_layer_prepare(struct gt_image_store *s, struct img_stage *st, const char *digest,
		      const char *src, const char *diff_id, struct gt_err *err)
{
	char rec[IMG_DIGEST_MAX];
	unsigned char head[4] = { 0 };
	int fd, rc;

	if (src && (fd = open(src, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (read(fd, head, sizeof(head)) < 0)
			head[0] = 0;
		close(fd);
		if (!strcmp(img_layer_media_type(head, sizeof(head)),
			    "application/vnd.oci.image.layer.v1.tar") && diff_id &&
		    strcmp(digest, diff_id))
			return gt_err_set(err, -EBADMSG, "diff_id mismatch: the config says %s, "
					  "the uncompressed layer is %s", diff_id, digest);
	}
	if (img_layer_ready(s, st, digest)) {
		recorded_diff_id(s, st, digest, rec);
		if (rec[0] && diff_id && strcmp(rec, diff_id))
			return gt_err_set(err, -EBADMSG, "diff_id mismatch: the config says %s, "
					  "the uncompressed layer is %s", diff_id, rec);
		return 0;
	}
	if (!src)
		return gt_err_set(err, -ENOENT, "layer %s: no blob to unpack", digest);
	GT_AUTOFREE char *dest = img_stage_layer(st, digest);
	GT_AUTOFREE char *rp = xasprintf("%s/diffids/%s", st->dir, digest + 7);
	if ((rc = img_unpack(src, dest, diff_id, err)) < 0)
		return rc;
	if (diff_id && (rc = gt_write_file_atomic(rp, diff_id, strlen(diff_id), 0644)) < 0)
		return gt_err_set(err, rc, "write %s: %s", rp, strerror(-rc));
	return 0;
}

static json_t *entry_desc(const struct img_entry *e)
{
	char size[24];

	snprintf(size, sizeof(size), "%lld", (long long)e->size);
	return json_pack("{s:s,s:s,s:I,s:{s:s,s:s,s:s,s:s}}", "mediaType", e->media_type,
			 "digest", e->digest, "size", (json_int_t)e->msize, "annotations",
			 IMG_ANN_REF, e->ref, IMG_ANN_ID, e->id, IMG_ANN_DIGEST,
			 e->repo_digest[0] ? e->repo_digest : e->digest, IMG_ANN_SIZE, size);
}

static const char *desc_ref(const json_t *d)
{
	return json_string_value(json_object_get(json_object_get(d, "annotations"), IMG_ANN_REF));
}

static int gc(struct gt_image_store *s, json_t *idx, struct gt_err *err);

int img_commit(struct gt_image_store *s, struct img_stage *st, const struct img_entry *e,
	       size_t n, struct gt_err *err)
{
	GT_AUTOJSON json_t *idx = NULL;
	bool replaced = false;
	int fd, rc;

	if ((fd = img_lock(s, err)) < 0)
		return fd;
	if ((rc = img_index_load(s, &idx, err)) < 0 || (rc = img_stage_move(s, st, err)) < 0)
		goto out;
	json_t *mans = json_object_get(idx, "manifests");
	for (size_t i = 0; i < n; i++) {
		size_t j;
		json_t *d = NULL;
		json_array_foreach(mans, j, d) {
			const char *r = desc_ref(d);
			if (r && !strcmp(r, e[i].ref))
				break;
		}
		if (j < json_array_size(mans)) {
			replaced |= strcmp(gt_json_str(d, "digest") ? gt_json_str(d, "digest") : "",
					   e[i].digest) != 0;
			json_array_set_new(mans, j, entry_desc(&e[i]));
		} else {
			json_array_append_new(mans, entry_desc(&e[i]));
		}
	}
	/* the blobs and layers must be on disk before the index names them */
	int dfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		syncfs(dfd);
		close(dfd);
	}
	if ((rc = index_save(s, idx, err)) < 0)
		goto out;
	if (replaced)
		gc(s, idx, NULL); /* best effort: the import itself succeeded */
out:
	img_unlock(fd);
	return rc;
}

/* ---- garbage collection ---- */

static bool strv_has(char **v, size_t n, const char *x)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], x))
			return true;
	return false;
}

/* Deletes the 64-hex entries of ROOT/sub not in keep (and, for layers, not
 * named in any mount: a running container's overlay still uses them). */
static void sweep(struct gt_image_store *s, const char *sub, char **keep, size_t nkeep,
		  const char *mounts)
{
	GT_AUTOFREE char *dir = xasprintf("%s/%s", s->root, sub);
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char dg[IMG_DIGEST_MAX];
		if (!is_hex64(de->d_name))
			continue;
		snprintf(dg, sizeof(dg), "sha256:%.64s", de->d_name);
		if (strv_has(keep, nkeep, dg) || (mounts && strstr(mounts, de->d_name)))
			continue;
		GT_AUTOFREE char *p = xasprintf("%s/%s", dir, de->d_name);
		gt_debug("image store: gc %s", p);
		img_rmtree(p);
	}
	if (d)
		closedir(d);
}

static int gc(struct gt_image_store *s, json_t *idx, struct gt_err *err)
{
	json_t *mans = json_object_get(idx, "manifests"), *d;
	char **keep = NULL;
	size_t nkeep = 0, cap = 0, i;
	GT_AUTOFREE char *mounts = NULL;
	size_t mlen;
	int rc = 0;

#define KEEP(x) do { gt_grow((void **)&keep, &cap, nkeep + 1, sizeof(*keep)); \
		     keep[nkeep++] = xstrdup(x); } while (0)
	json_array_foreach(mans, i, d) {
		const char *md = gt_json_str(d, "digest");
		GT_AUTOFREE char *buf = NULL;
		GT_AUTOJSON json_t *doc = NULL;
		struct img_manifest m;
		size_t len;

		if (!img_digest_valid(md))
			continue;
		KEEP(md);
		/* an unreadable manifest hides what it needs: keep everything */
		if ((rc = img_blob_read(s, md, &buf, &len, err)) < 0 ||
		    (rc = gt_json_parse_lenient(buf, len, &doc, err)) < 0 ||
		    (rc = img_parse_manifest(doc, &m, err)) < 0)
			goto out;
		KEEP(m.config.digest);
		for (size_t k = 0; k < m.nlayers; k++)
			KEEP(m.layers[k].digest);
		img_manifest_release(&m);
	}
#undef KEEP
	if (gt_read_file("/proc/self/mountinfo", &mounts, &mlen) < 0)
		mounts = NULL;
	sweep(s, "blobs/sha256", keep, nkeep, NULL);
	sweep(s, "layers", keep, nkeep, mounts ? mounts : "");
	sweep(s, "diffids", keep, nkeep, mounts ? mounts : "");
out:
	for (i = 0; i < nkeep; i++)
		free(keep[i]);
	free(keep);
	return rc;
}

/* Positions in manifests[] that `want` selects: a normalized reference, or
 * (by_id) an image id / hex prefix of one.  Returns how many were found. */
static size_t select_entries(json_t *mans, const char *want, bool by_id, size_t *pos,
			     size_t max)
{
	size_t i, n = 0;
	json_t *d;
	const char *hex = !strncmp(want, "sha256:", 7) ? want + 7 : want;

	json_array_foreach(mans, i, d) {
		json_t *ann = json_object_get(d, "annotations");
		const char *r = json_string_value(json_object_get(ann, IMG_ANN_REF)), *id = json_string_value(json_object_get(ann, IMG_ANN_ID));
		bool hit = by_id ? (id && strlen(id) > 7 && !strncmp(id + 7, hex, strlen(hex)))
				 : (r && !strcmp(r, want));
		if (hit && n < max)
			pos[n++] = i;
	}
	return n;
}

int gt_image_remove(struct gt_image_store *s, const char *ref, struct gt_err *err)
{
	char norm[IMG_REF_MAX];
	GT_AUTOJSON json_t *idx = NULL;
	size_t pos[256], n = 0;
	const char *hex;
	bool id_like;
	int fd, rc;

	if (!ref)
		return gt_err_set(err, -EINVAL, "image reference required");
	hex = !strncmp(ref, "sha256:", 7) ? ref + 7 : ref;
	id_like = strlen(hex) >= 12 && strlen(hex) <= 64 && strspn(hex, "0123456789abcdef") ==
		  strlen(hex);
	if ((fd = img_lock(s, err)) < 0)
		return fd;
	if ((rc = img_index_load(s, &idx, err)) < 0)
		goto out;
	json_t *mans = json_object_get(idx, "manifests");
	if (id_like)
		n = select_entries(mans, hex, true, pos, GT_ARRAY_SIZE(pos));
	if (n == 0) {
		if ((rc = gt_image_normalize(ref, norm, sizeof(norm), err)) < 0)
			goto out;
		n = select_entries(mans, norm, false, pos, GT_ARRAY_SIZE(pos));
	}
	if (n == 0) {
		rc = gt_err_set(err, -ENOENT, "image \"%s\" not found in the store", ref);
		goto out;
	}
	while (n-- > 0)
		json_array_remove(mans, pos[n]);
	if ((rc = index_save(s, idx, err)) < 0)
		goto out;
	gc(s, idx, NULL); /* best effort: leftovers go at the next GC */
	rc = 0;
out:
	img_unlock(fd);
	return rc;
}

json_t *img_index_find(json_t *idx, const char *norm)
{
	json_t *mans = json_object_get(idx, "manifests"), *d;
	const char *at = strchr(norm, '@');
	size_t i;

	json_array_foreach(mans, i, d) {
		const char *r = desc_ref(d);
		if (r && !strcmp(r, norm))
			return d;
	}
	if (!at)
		return NULL;
	/* repository part: up to the tag's ':' (after the last '/') or the '@' */
	size_t rl = (size_t)(at - norm);
	const char *slash = memrchr(norm, '/', rl), *colon = slash ? memchr(slash, ':', rl - (size_t)(slash - norm)) : NULL;
	if (colon)
		rl = (size_t)(colon - norm);
	json_array_foreach(mans, i, d) {
		json_t *ann = json_object_get(d, "annotations");
		const char *r = json_string_value(json_object_get(ann, IMG_ANN_REF)), *rd = json_string_value(json_object_get(ann, IMG_ANN_DIGEST)),
			   *md = gt_json_str(d, "digest");
		if (!r || strncmp(r, norm, rl) || (r[rl] != ':' && r[rl] != '@'))
			continue;
		if ((rd && !strcmp(rd, at + 1)) || (md && !strcmp(md, at + 1)))
			return d;
	}
	return NULL;
}

int gt_image_list(struct gt_image_store *s, json_t **list, struct gt_err *err)
{
	GT_AUTOJSON json_t *idx = NULL;
	json_t *d, *out;
	size_t i;
	int rc;

	*list = NULL;
	if ((rc = img_index_load(s, &idx, err)) < 0)
		return rc;
	out = json_array();
	json_array_foreach(json_object_get(idx, "manifests"), i, d) {
		json_t *ann = json_object_get(d, "annotations");
		const char *r = json_string_value(json_object_get(ann, IMG_ANN_REF)), *sz = json_string_value(json_object_get(ann, IMG_ANN_SIZE));
		int64_t size = 0;
		if (!r)
			continue;
		if (sz)
			gt_parse_i64(sz, &size);
		json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:I}", "ref", r, "id",
						     json_string_value(json_object_get(ann, IMG_ANN_ID)) ? json_string_value(json_object_get(ann, IMG_ANN_ID)) : "",
						     "digest", json_string_value(json_object_get(ann, IMG_ANN_DIGEST)) ? json_string_value(json_object_get(ann, IMG_ANN_DIGEST)) : "",
						     "size", (json_int_t)size));
	}
	/* sorted by ref (insertion sort: stores hold tens of images) */
	for (size_t a = 1; a < json_array_size(out); a++)
		for (size_t b = a; b > 0; b--) {
			json_t *x = json_array_get(out, b - 1), *y = json_array_get(out, b);
			if (strcmp(gt_json_str(x, "ref"), gt_json_str(y, "ref")) <= 0)
				break;
			json_incref(x);
			json_array_set(out, b - 1, y);
			json_array_set_new(out, b, x);
		}
	*list = out;
	return 0;
}
