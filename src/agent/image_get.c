/*
 * image_get.c - reading images out of the store: gt_image_present() and
 * gt_image_get(), which resolves a reference to its config and unpacked
 * layer directories, unpacking (again) any layer whose directory is gone.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image_int.h"

bool gt_image_present(struct gt_image_store *s, const char *ref)
{
	char norm[IMG_REF_MAX];
	GT_AUTOJSON json_t *idx = NULL;

	if (ref && !strcmp(ref, GT_IMAGE_HOST))
		return true;
	if (gt_image_normalize(ref, norm, sizeof(norm), NULL) < 0 ||
	    img_index_load(s, &idx, NULL) < 0)
		return false;
	return img_index_find(idx, norm) != NULL;
}

void gt_image_release(struct gt_image *img)
{
	if (!img)
		return;
	free(img->ref);
	free(img->id);
	free(img->digest);
	for (size_t i = 0; i < img->nlayers; i++)
		free(img->layers[i]);
	free(img->layers);
	json_decref(img->config);
	memset(img, 0, sizeof(*img));
}

/* Unpacks layer `l` into ROOT/layers/<hex> unless another process did. */
static int ensure_layer(struct gt_image_store *s, const struct img_desc *l, const char *diff_id,
			struct gt_err *err)
{
	struct img_stage st = { NULL };
	GT_AUTOFREE char *blob = img_blob_path(s, l->digest);
	int fd, rc;

	if ((fd = img_lock(s, err)) < 0)
		return fd;
	if (img_layer_ready(s, NULL, l->digest)) {
		rc = 0;
		goto out;
	}
	if (access(blob, F_OK) < 0) {
		rc = gt_err_set(err, -ENOENT, "layer %s: blob missing from the store (pull or "
				"import the image again)", l->digest);
		goto out;
	}
	if ((rc = img_stage_open(s, &st, err)) < 0)
		goto out;
	if ((rc = img_layer_prepare(s, &st, l->digest, blob, diff_id, err)) < 0 ||
	    (rc = img_stage_move(s, &st, err)) < 0)
		gt_err_prefix(err, rc, "layer %s", l->digest);
out:
	img_stage_release(&st);
	img_unlock(fd);
	return rc;
}

static int load_json_blob(struct gt_image_store *s, const char *digest, const char *what,
			  json_t **out, struct gt_err *err)
{
	GT_AUTOFREE char *buf = NULL;
	size_t len;
	int rc;

	if ((rc = img_blob_read(s, digest, &buf, &len, err)) < 0 ||
	    (rc = gt_json_parse_lenient(buf, len, out, err)) < 0)
		return gt_err_prefix(err, rc, "%s", what);
	return 0;
}

int gt_image_get(struct gt_image_store *s, const char *ref, struct gt_image *img,
		 struct gt_err *err)
{
	char norm[IMG_REF_MAX];
	GT_AUTOJSON json_t *idx = NULL, *mdoc = NULL, *cdoc = NULL;
	struct img_manifest m = { 0 };
	char **diff_ids = NULL;
	size_t ndiff = 0;
	json_t *d;
	const char *md, *repo;
	int rc;

	memset(img, 0, sizeof(*img));
	if (ref && !strcmp(ref, GT_IMAGE_HOST))
		return gt_err_set(err, -ENOENT, "image \"host\" is not in the store (the runtime "
				  "provides it)");
	if ((rc = gt_image_normalize(ref, norm, sizeof(norm), err)) < 0 ||
	    (rc = img_index_load(s, &idx, err)) < 0)
		return rc;
	if (!(d = img_index_find(idx, norm)))
		return gt_err_set(err, -ENOENT, "image \"%s\" not present in the store", norm);
	md = gt_json_str(d, "digest");
	repo = json_string_value(json_object_get(json_object_get(d, "annotations"), IMG_ANN_DIGEST));
	if (!img_digest_valid(md))
		return gt_err_set(err, -EIO, "image \"%s\": bad digest in index.json", norm);
	if ((rc = load_json_blob(s, md, "manifest", &mdoc, err)) < 0 ||
	    (rc = img_parse_manifest(mdoc, &m, err)) < 0 ||
	    (rc = load_json_blob(s, m.config.digest, "config", &cdoc, err)) < 0 ||
	    (rc = img_parse_config(cdoc, &img->config, &diff_ids, &ndiff, err)) < 0)
		goto fail;
	if (ndiff != m.nlayers) {
		rc = gt_err_set(err, -EBADMSG, "config has %zu diff_ids for %zu layers", ndiff,
				m.nlayers);
		goto fail;
	}
	img->ref = xstrdup(norm);
	img->id = xstrdup(m.config.digest);
	img->digest = xstrdup(repo && img_digest_valid(repo) ? repo : md);
	img->layers = xcalloc(m.nlayers ? m.nlayers : 1, sizeof(*img->layers));
	if (m.nlayers == 0) {
		/* overlayfs needs one lower directory */
		img->layers[0] = xasprintf("%s/layers/empty", s->root);
		img->nlayers = 1;
		if (mkdir(img->layers[0], 0755) < 0 && errno != EEXIST) {
			rc = gt_err_set(err, -errno, "mkdir %s: %s", img->layers[0], strerror(errno));
			goto fail;
		}
	}
	for (size_t i = 0; i < m.nlayers; i++) {
		img->layers[i] = img_layer_path(s, m.layers[i].digest);
		img->nlayers = i + 1;
		if (access(img->layers[i], F_OK) < 0 &&
		    (rc = ensure_layer(s, &m.layers[i], diff_ids[i], err)) < 0)
			goto fail;
	}
	img_manifest_release(&m);
	img_strv_free(diff_ids);
	return 0;
fail:
	gt_err_prefix(err, rc, "image \"%s\"", norm);
	img_manifest_release(&m);
	img_strv_free(diff_ids);
	gt_image_release(img);
	return rc;
}
