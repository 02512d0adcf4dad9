/*
 * image_import.c - gt_image_import(): `docker save` and OCI image-layout
 * archives into the store.
 *
 * The archive is read once, sequentially: each regular member is written
 * to the stage (hashed on the way), links are remembered.  Then the
 * archive's manifests are followed: every blob must be in the archive with
 * the digest (and size) its descriptor names, every layer must unpack
 * cleanly and hash to its diff_id.  Only then does img_commit() move the
 * blobs and layers into the store, so a bad archive changes nothing.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image_int.h"

#define MAX_MEMBERS 100000
#define MAX_DEPTH 4

struct member {
	char *name;   /* cleaned: no leading "./" or "/" */
	char kind;    /* 'f' file, 'l' symlink, 'h' hardlink */
	char *target; /* links: the member they point at (cleaned) */
	char *tmp;    /* files: where the content is staged */
	char digest[IMG_DIGEST_MAX];
	int64_t size;
};

struct import {
	struct gt_image_store *s;
	struct img_stage st;
	struct member *m;
	size_t n, cap;
	struct img_entry *e;
	size_t ne, cape;
	struct gt_err *err;
};

/* Cleans a member name; "..", when it climbs above the top, gives NULL. */
static char *clean(const char *base_dir, const char *raw)
{
	struct gt_buf b = GT_BUF_INIT;
	char *tmp = base_dir && *base_dir ? xasprintf("%s/%s", base_dir, raw) : xstrdup(raw);

	gt_buf_init(&b);
	for (char *p = tmp, *e; p && *p; p = e ? e + 1 : NULL) {
		if ((e = strchr(p, '/')))
			*e = 0;
		if (!*p || !strcmp(p, "."))
			continue;
		if (!strcmp(p, "..")) {
			char *up = b.len ? memrchr(b.data, '/', b.len) : NULL;
			if (!b.len) {
				free(tmp);
				gt_buf_release(&b);
				return NULL;
			}
			b.len = up ? (size_t)(up - b.data) : 0;
			b.data[b.len] = 0;
			continue;
		}
		if (b.len)
			gt_buf_addc(&b, '/');
		gt_buf_adds(&b, p);
	}
	free(tmp);
	return gt_buf_detach(&b, NULL);
}

static struct member *add_member(struct import *im, const char *name, char kind)
{
	struct member *m;

	gt_grow((void **)&im->m, &im->cap, im->n + 1, sizeof(*im->m));
	m = &im->m[im->n++];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->kind = kind;
	return m;
}

static int stage_member(struct import *im, struct archive *a, struct member *m)
{
	struct img_sha256 sha;
	char buf[65536];
	la_ssize_t r;
	int fd;

	m->tmp = xasprintf("%s/in/%zu", im->st.dir, im->n);
	fd = open(m->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return gt_err_set(im->err, -errno, "stage %s: %s", m->tmp, strerror(errno));
	img_sha256_init(&sha);
	while ((r = archive_read_data(a, buf, sizeof(buf))) > 0) {
		img_sha256_update(&sha, buf, (size_t)r);
		for (la_ssize_t off = 0; off < r;) {
			ssize_t w = write(fd, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				int rc = -errno;
				close(fd);
				return gt_err_set(im->err, rc, "stage %s: %s", m->tmp, strerror(-rc));
			}
			off += w;
		}
	}
	close(fd);
	if (r < 0)
		return gt_err_set(im->err, -EINVAL, "member \"%.200s\": truncated or corrupt: %s",
				  m->name, archive_error_string(a) ? archive_error_string(a) : "?");
	m->size = (int64_t)sha.len;
	img_sha256_final(&sha, m->digest);
	return 0;
}

static int read_archive(struct import *im, const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r, rc = 0;

	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_format_tar(a);
	if (access(path, R_OK) < 0) {
		rc = gt_err_set(im->err, -errno, "%s", strerror(errno));
		goto out;
	}
	if (archive_read_open_filename(a, path, 128 * 1024) != ARCHIVE_OK) {
		rc = gt_err_set(im->err, -EINVAL, "not a tar archive: %s",
				archive_error_string(a) ? archive_error_string(a) : "?");
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		mode_t t = archive_entry_filetype(e);
		const char *raw = archive_entry_pathname(e);
		char *name = raw ? clean(NULL, raw) : NULL;
		struct member *m;

		if (!name || !*name || (t != AE_IFREG && t != AE_IFLNK)) {
			free(name);
			continue; /* directories, devices, names above the top: never read */
		}
		if (im->n >= MAX_MEMBERS) {
			free(name);
			rc = gt_err_set(im->err, -E2BIG, "more than %d members", MAX_MEMBERS);
			goto out;
		}
		if (archive_entry_hardlink(e)) {
			m = add_member(im, name, 'h');
			m->target = clean(NULL, archive_entry_hardlink(e));
		} else if (t == AE_IFLNK) {
			const char *tg = archive_entry_symlink(e), *sl = strrchr(name, '/');
			GT_AUTOFREE char *dir = sl ? xstrndup(name, (size_t)(sl - name)) : xstrdup("");
			m = add_member(im, name, 'l');
			m->target = tg && *tg != '/' ? clean(dir, tg) : NULL;
		} else {
			m = add_member(im, name, 'f');
			rc = stage_member(im, a, m);
		}
		free(name);
		if (rc < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		rc = gt_err_set(im->err, -EINVAL, "%s: %s", im->n ? "truncated or corrupt archive"
				: "not a tar archive", archive_error_string(a)
				? archive_error_string(a) : "read error");
		goto out;
	}
	if (im->n == 0)
		rc = gt_err_set(im->err, -EINVAL, "not an image archive: no files in it");
out:
	archive_read_free(a);
	return rc;
}

/* The file member `name` leads to, through links; NULL when absent. */
static struct member *lookup(struct import *im, const char *name)
{
	GT_AUTOFREE char *want = name ? clean(NULL, name) : NULL;

	for (int hop = 0; want && hop < 16; hop++) {
		struct member *m = NULL;
		for (size_t i = im->n; i-- > 0;) /* a later member replaces an earlier one */
			if (!strcmp(im->m[i].name, want)) {
				m = &im->m[i];
				break;
			}
		if (!m || m->kind == 'f')
			return m;
		if (!m->target)
			return NULL;
		free(want);
		want = xstrdup(m->target);
	}
	return NULL;
}

/* A small JSON member, parsed. */
static int member_json(struct import *im, struct member *m, const char *what, json_t **out)
{
	GT_AUTOFREE char *buf = NULL;
	size_t len;
	int rc;

	if (m->size > (int64_t)IMG_JSON_MAX)
		return gt_err_set(im->err, -EFBIG, "%s \"%s\": too large", what, m->name);
	if ((rc = gt_read_file(m->tmp, &buf, &len)) < 0)
		return gt_err_set(im->err, rc, "%s \"%s\": %s", what, m->name, strerror(-rc));
	if ((rc = gt_json_parse_lenient(buf, len, out, im->err)) < 0)
		return gt_err_prefix(im->err, rc, "%s \"%s\"", what, m->name);
	return 0;
}

/* The member holding blob `d` (OCI layout), checked against d's digest and size. */
static int oci_blob(struct import *im, const struct img_desc *d, const char *field,
		    struct member **out)
{
	GT_AUTOFREE char *name = xasprintf("blobs/sha256/%s", d->digest + 7);
	struct member *m = lookup(im, name);

	if (!m)
		return gt_err_set(im->err, -ENOENT, "%s: blob %s not found in the archive",
				  field, d->digest);
	if (strcmp(m->digest, d->digest))
		return gt_err_set(im->err, -EBADMSG, "%s: blob \"%s\" has digest %s",
				  field, m->name, m->digest);
	if (m->size != d->size)
		return gt_err_set(im->err, -EBADMSG, "%s: blob %s is %lld bytes, the descriptor "
				  "says %lld", field, d->digest, (long long)m->size,
				  (long long)d->size);
	*out = m;
	return 0;
}

/* Puts member m into the stage as blob `digest` (a hard link). */
static int stage_blob(struct import *im, const struct member *m)
{
	GT_AUTOFREE char *p = img_stage_blob(&im->st, m->digest);

	if (link(m->tmp, p) < 0 && errno != EEXIST)
		return gt_err_set(im->err, -errno, "stage %s: %s", p, strerror(errno));
	return 0;
}

/* Stages layer blob m and unpacks it (unless the store has it already). */
static int stage_layer(struct import *im, const struct member *m, const char *diff_id,
		       const char *field)
{
	int rc;

	if ((rc = stage_blob(im, m)) < 0 ||
	    (rc = img_layer_prepare(im->s, &im->st, m->digest, m->tmp, diff_id, im->err)) < 0)
		return gt_err_prefix(im->err, rc, "%s \"%s\"", field, m->name);
	return 0;
}

static int add_entry(struct import *im, const char *name, const char *mdigest, int64_t msize,
		     const char *mtype, const char *id, const char *repo, int64_t size)
{
	struct img_entry *e;
	char norm[IMG_REF_MAX];
	int rc;

	if ((rc = gt_image_normalize(name, norm, sizeof(norm), im->err)) < 0)
		return rc;
	if (!strcmp(norm, GT_IMAGE_HOST))
		return gt_err_set(im->err, -EINVAL, "image name \"host\" is reserved");
	gt_grow((void **)&im->e, &im->cape, im->ne + 1, sizeof(*im->e));
	e = &im->e[im->ne++];
	memset(e, 0, sizeof(*e));
	snprintf(e->ref, sizeof(e->ref), "%s", norm);
	snprintf(e->digest, sizeof(e->digest), "%s", mdigest);
	snprintf(e->media_type, sizeof(e->media_type), "%s", mtype);
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->repo_digest, sizeof(e->repo_digest), "%s", repo ? repo : mdigest);
	e->msize = msize;
	e->size = size;
	return 0;
}

/* Checks a config member and its diff_ids against the layer count. */
static int load_config(struct import *im, struct member *cm, size_t nlayers, char ***diff_ids,
		       const char *field)
{
	GT_AUTOJSON json_t *doc = NULL, *cfg = NULL;
	size_t nd;
	int rc;

	if ((rc = member_json(im, cm, field, &doc)) < 0 ||
	    (rc = img_parse_config(doc, &cfg, diff_ids, &nd, im->err)) < 0)
		return gt_err_prefix(im->err, rc, "%s", field);
	if (nd != nlayers) {
		img_strv_free(*diff_ids);
		*diff_ids = NULL;
		return gt_err_set(im->err, -EINVAL, "%s: rootfs.diff_ids has %zu entries for %zu "
				  "layers", field, nd, nlayers);
	}
	return 0;
}

/* A name "<64 hex>.json" or ".../sha256/<64 hex>" says what its digest is. */
static bool name_digest(const char *name, char out[IMG_DIGEST_MAX])
{
	const char *b = strrchr(name, '/');
	size_t l;

	b = b ? b + 1 : name;
	l = strlen(b);
	if (l == 69 && !strcmp(b + 64, ".json"))
		l = 64;
	if (l != 64)
		return false;
	snprintf(out, IMG_DIGEST_MAX, "sha256:%.64s", b);
	return img_digest_valid(out);
}

static int import_docker(struct import *im, struct member *mf)
{
	GT_AUTOJSON json_t *doc = NULL;
	struct img_docker_image *v = NULL;
	size_t n = 0;
	int rc;

	if ((rc = member_json(im, mf, "manifest.json", &doc)) < 0 ||
	    (rc = img_parse_docker_manifest(doc, &v, &n, im->err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct img_docker_image *di = &v[i];
		struct member *cm = lookup(im, di->config);
		struct img_desc cfg = { 0 }, *layers = NULL;
		char **diff_ids = NULL, want[IMG_DIGEST_MAX], f[96];
		int64_t total;

		snprintf(f, sizeof(f), "manifest.json[%zu].Config", i);
		if (!cm) {
			rc = gt_err_set(im->err, -ENOENT, "%s: \"%s\" not found in the archive", f,
					di->config);
			goto out;
		}
		if (name_digest(cm->name, want) && strcmp(want, cm->digest)) {
			rc = gt_err_set(im->err, -EBADMSG, "%s: \"%s\" has digest %s", f,
					cm->name, cm->digest);
			goto out;
		}
		if ((rc = load_config(im, cm, di->nlayers, &diff_ids, f)) < 0)
			goto out;
		snprintf(cfg.media_type, sizeof(cfg.media_type), "%s", IMG_MT_OCI_CONFIG);
		snprintf(cfg.digest, sizeof(cfg.digest), "%s", cm->digest);
		cfg.size = total = cm->size;
		layers = xcalloc(di->nlayers + 1, sizeof(*layers));
		for (size_t j = 0; rc == 0 && j < di->nlayers; j++) {
			struct member *lm = lookup(im, di->layers[j]);
			unsigned char head[4] = { 0 };
			int fd;

			snprintf(f, sizeof(f), "manifest.json[%zu].Layers[%zu]", i, j);
			if (!lm) {
				rc = gt_err_set(im->err, -ENOENT, "%s: \"%s\" not found in the "
						"archive", f, di->layers[j]);
				break;
			}
			if (name_digest(lm->name, want) && strcmp(want, lm->digest)) {
				rc = gt_err_set(im->err, -EBADMSG, "%s: \"%s\" has digest %s", f,
						lm->name, lm->digest);
				break;
			}
			if ((fd = open(lm->tmp, O_RDONLY | O_CLOEXEC)) >= 0) {
				if (read(fd, head, sizeof(head)) < 0)
					head[0] = 0;
				close(fd);
			}
			snprintf(layers[j].media_type, sizeof(layers[j].media_type), "%s",
				 img_layer_media_type(head, sizeof(head)));
			snprintf(layers[j].digest, sizeof(layers[j].digest), "%s", lm->digest);
			layers[j].size = lm->size;
			total += lm->size;
			rc = stage_layer(im, lm, diff_ids[j], f);
		}
		if (rc == 0 && (rc = stage_blob(im, cm)) == 0) {
			size_t mlen;
			char md[IMG_DIGEST_MAX];
			GT_AUTOFREE char *man = img_build_manifest(&cfg, layers, di->nlayers, &mlen);
			img_sha256_buf(man, mlen, md);
			GT_AUTOFREE char *p = img_stage_blob(&im->st, md);
			if ((rc = gt_write_file_atomic(p, man, mlen, 0644)) < 0)
				gt_err_set(im->err, rc, "stage %s: %s", p, strerror(-rc));
			for (size_t t = 0; rc == 0 && di->tags && di->tags[t]; t++)
				if ((rc = add_entry(im, di->tags[t], md, (int64_t)mlen,
						    IMG_MT_OCI_MANIFEST, cm->digest, NULL, total)) < 0)
					gt_err_prefix(im->err, rc, "manifest.json[%zu].RepoTags[%zu]",
						      i, t);
		}
		img_descs_free(layers, di->nlayers);
		img_strv_free(diff_ids);
		if (rc < 0)
			goto out;
	}
out:
	img_docker_images_free(v, n);
	return rc;
}

/* One OCI descriptor: a manifest, or an index to resolve for this host. */
static int import_oci_desc(struct import *im, const struct img_desc *d, const char *name,
			   const char *repo, const char *field, int depth)
{
	struct member *mm, *cm;
	GT_AUTOJSON json_t *doc = NULL;
	struct img_manifest m = { 0 };
	char **diff_ids = NULL, f[160];
	int64_t total;
	int rc;

	if ((rc = oci_blob(im, d, field, &mm)) < 0 || (rc = member_json(im, mm, field, &doc)) < 0)
		return rc;
	switch (img_manifest_kind(doc, d->media_type)) {
	case IMG_KIND_INDEX: {
		struct img_desc *sub;
		size_t ns;
		int pick;
		if (depth >= MAX_DEPTH)
			return gt_err_set(im->err, -EINVAL, "%s: indexes nested too deep", field);
		if ((rc = img_parse_index(doc, &sub, &ns, im->err)) < 0)
			return gt_err_prefix(im->err, rc, "%s", field);
		pick = img_pick_platform(sub, ns);
		if (pick < 0 && ns == 1)
			pick = 0; /* a single-image index without platform information */
		if (pick < 0)
			rc = gt_err_set(im->err, -ENOENT, "%s: no matching manifest for linux/%s "
					"in the manifest list entries", field, img_host_arch());
		else {
			snprintf(f, sizeof(f), "%s.manifests[%d]", field, pick);
			rc = import_oci_desc(im, &sub[pick], name, repo ? repo : d->digest, f,
					     depth + 1);
		}
		img_descs_free(sub, ns);
		return rc;
	}
	case IMG_KIND_MANIFEST:
		break;
	case IMG_KIND_SCHEMA1:
		return gt_err_set(im->err, -EOPNOTSUPP, "%s: Docker schema 1 manifests are not "
				  "supported", field);
	default:
		return gt_err_set(im->err, -EINVAL, "%s: not an image manifest or index", field);
	}
	if ((rc = img_parse_manifest(doc, &m, im->err)) < 0)
		return gt_err_prefix(im->err, rc, "%s", field);
	snprintf(f, sizeof(f), "%s.config", field);
	if ((rc = oci_blob(im, &m.config, f, &cm)) < 0 ||
	    (rc = load_config(im, cm, m.nlayers, &diff_ids, f)) < 0)
		goto out;
	total = cm->size;
	for (size_t j = 0; j < m.nlayers; j++) {
		struct member *lm;
		snprintf(f, sizeof(f), "%s.layers[%zu]", field, j);
		if ((rc = oci_blob(im, &m.layers[j], f, &lm)) < 0 ||
		    (rc = stage_layer(im, lm, diff_ids[j], f)) < 0)
			goto out;
		total += lm->size;
	}
	if ((rc = stage_blob(im, cm)) < 0 || (rc = stage_blob(im, mm)) < 0)
		goto out;
	rc = add_entry(im, name, mm->digest, mm->size,
		       d->media_type[0] ? d->media_type : IMG_MT_OCI_MANIFEST, cm->digest, repo,
		       total);
	if (rc < 0)
		gt_err_prefix(im->err, rc, "%s: name \"%s\"", field, name);
out:
	img_manifest_release(&m);
	img_strv_free(diff_ids);
	return rc;
}

static int import_oci(struct import *im, struct member *ix)
{
	GT_AUTOJSON json_t *doc = NULL;
	struct img_desc *d = NULL;
	size_t n = 0;
	char f[64];
	int rc;

	if ((rc = member_json(im, ix, "index.json", &doc)) < 0 ||
	    (rc = img_parse_index(doc, &d, &n, im->err)) < 0)
		return gt_err_prefix(im->err, rc, "index.json");
	for (size_t i = 0; i < n; i++) {
		/* containerd's annotation holds the full name; the OCI one is
		 * often a bare tag, which is taken as a name ("busybox:1") */
		const char *name = d[i].cdname ? d[i].cdname : d[i].name;
		if (!name)
			continue;
		snprintf(f, sizeof(f), "index.json manifests[%zu]", i);
		if ((rc = import_oci_desc(im, &d[i], name, NULL, f, 0)) < 0)
			break;
	}
	img_descs_free(d, n);
	return rc;
}

int gt_image_import(struct gt_image_store *s, const char *archive_path, json_t **refs,
		    struct gt_err *err)
{
	struct import im = { .s = s, .err = err };
	struct member *mf, *ix, *lay;
	int rc;

	if (refs)
		*refs = NULL;
	if ((rc = img_stage_open(s, &im.st, err)) < 0)
		return rc;
	GT_AUTOFREE char *in = xasprintf("%s/in", im.st.dir);
	if (mkdir(in, 0755) < 0) {
		rc = gt_err_set(err, -errno, "mkdir %s: %s", in, strerror(errno));
		goto out;
	}
	if ((rc = read_archive(&im, archive_path)) < 0)
		goto out;
	mf = lookup(&im, "manifest.json");
	ix = lookup(&im, "index.json");
	lay = lookup(&im, "oci-layout");
	if (mf) /* docker save (Docker 25+ writes both: its RepoTags are full names) */
		rc = import_docker(&im, mf);
	else if (ix && lay)
		rc = import_oci(&im, ix);
	else
		rc = gt_err_set(err, -EINVAL, "not an image archive: neither manifest.json "
				"(docker save) nor oci-layout and index.json (OCI layout)");
	if (rc < 0)
		goto out;
	if (im.ne == 0) {
		rc = gt_err_set(err, -EINVAL, "the archive holds no named image (no RepoTags, "
				"no org.opencontainers.image.ref.name annotation)");
		goto out;
	}
	if ((rc = img_commit(s, &im.st, im.e, im.ne, err)) < 0)
		goto out;
	if (refs) {
		*refs = json_array();
		for (size_t i = 0; i < im.ne; i++)
			json_array_append_new(*refs, json_string(im.e[i].ref));
	}
out:
	if (rc < 0)
		gt_err_prefix(err, rc, "import %s", archive_path);
	img_stage_release(&im.st);
	for (size_t i = 0; i < im.n; i++) {
		free(im.m[i].name);
		free(im.m[i].target);
		free(im.m[i].tmp);
	}
	free(im.m);
	free(im.e);
	return rc;
}
