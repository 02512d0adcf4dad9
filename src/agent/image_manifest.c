/*
 * image_manifest.c - parsing of the JSON documents an image is made of:
 * OCI and Docker v2 image manifests, OCI indexes and Docker manifest lists,
 * image configs, and `docker save`'s manifest.json.  Pure functions over
 * parsed JSON: everything here is outside input (archives, registries) and
 * is fuzzed by tests/fuzz/fuzz_image.c.  Errors name the field at fault.
 */
#include <stdio.h>
#include <string.h>

#include "agent/image_int.h"

enum img_kind img_manifest_kind(const json_t *doc, const char *content_type)
{
	const char *mt = json_is_object(doc) ? gt_json_str(doc, "mediaType") : NULL;
	json_int_t sv = json_integer_value(json_object_get(doc, "schemaVersion"));

	if (!json_is_object(doc))
		return IMG_KIND_UNKNOWN;
	if (sv == 1)
		return IMG_KIND_SCHEMA1;
	if (!mt && content_type && *content_type)
		mt = content_type;
	if (mt) {
		if (!strcmp(mt, IMG_MT_OCI_MANIFEST) || !strcmp(mt, IMG_MT_DOCKER_MANIFEST))
			return IMG_KIND_MANIFEST;
		if (!strcmp(mt, IMG_MT_OCI_INDEX) || !strcmp(mt, IMG_MT_DOCKER_LIST))
			return IMG_KIND_INDEX;
		if (strstr(mt, "manifest.v1"))
			return IMG_KIND_SCHEMA1;
	}
	/* OCI allows an absent mediaType: tell by shape */
	if (json_is_array(json_object_get(doc, "manifests")))
		return IMG_KIND_INDEX;
	if (json_is_object(json_object_get(doc, "config")) &&
	    json_is_array(json_object_get(doc, "layers")))
		return IMG_KIND_MANIFEST;
	return IMG_KIND_UNKNOWN;
}

static void copy_str(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

static int parse_desc(const json_t *d, const char *field, struct img_desc *out,
		      struct gt_err *err)
{
	const char *mt, *dg;
	json_t *sz, *plat, *ann;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(d))
		return gt_err_set(err, -EINVAL, "%s: must be an object", field);
	mt = gt_json_str(d, "mediaType");
	dg = gt_json_str(d, "digest");
	sz = json_object_get(d, "size");
	if (mt && strlen(mt) >= sizeof(out->media_type))
		return gt_err_set(err, -EINVAL, "%s.mediaType: too long", field);
	if (!dg)
		return gt_err_set(err, -EINVAL, "%s.digest: required", field);
	if (!img_digest_valid(dg)) {
		if (strncmp(dg, "sha256:", 7) && strchr(dg, ':'))
			return gt_err_set(err, -EOPNOTSUPP,
					  "%s.digest: unsupported digest algorithm in \"%.80s\"",
					  field, dg);
		return gt_err_set(err, -EINVAL, "%s.digest: invalid digest \"%.80s\"", field, dg);
	}
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return gt_err_set(err, -EINVAL, "%s.size: must be a non-negative integer", field);
	copy_str(out->media_type, sizeof(out->media_type), mt);
	copy_str(out->digest, sizeof(out->digest), dg);
	out->size = json_integer_value(sz);
	plat = json_object_get(d, "platform");
	if (json_is_object(plat)) {
		copy_str(out->os, sizeof(out->os), gt_json_str(plat, "os"));
		copy_str(out->arch, sizeof(out->arch), gt_json_str(plat, "architecture"));
		copy_str(out->variant, sizeof(out->variant), gt_json_str(plat, "variant"));
	}
	ann = json_object_get(d, "annotations");
	if (json_is_object(ann)) {
		const char *n = json_string_value(json_object_get(ann, IMG_ANN_REF)), *c = json_string_value(json_object_get(ann, IMG_ANN_CONTAINERD));
		out->name = n ? xstrdup(n) : NULL;
		out->cdname = c ? xstrdup(c) : NULL;
	}
	return 0;
}

static void desc_release(struct img_desc *d)
{
	free(d->name);
	free(d->cdname);
	d->name = d->cdname = NULL;
}

void img_descs_free(struct img_desc *d, size_t n)
{
	for (size_t i = 0; d && i < n; i++)
		desc_release(&d[i]);
	free(d);
}

static int parse_desc_array(const json_t *arr, const char *field, bool required,
			    struct img_desc **out, size_t *n, struct gt_err *err)
{
	size_t cnt = json_array_size(arr), i;
	struct img_desc *v;
	char f[64];
	int rc;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr)) {
		if (!arr && !required)
			return 0;
		return gt_err_set(err, -EINVAL, "%s: must be an array", field);
	}
	if (cnt > 4096)
		return gt_err_set(err, -EINVAL, "%s: too many entries (%zu)", field, cnt);
	v = xcalloc(cnt ? cnt : 1, sizeof(*v));
	for (i = 0; i < cnt; i++) {
		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		if ((rc = parse_desc(json_array_get(arr, i), f, &v[i], err)) < 0) {
			img_descs_free(v, i);
			return rc;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

int img_parse_manifest(const json_t *doc, struct img_manifest *m, struct gt_err *err)
{
	int rc;

	memset(m, 0, sizeof(*m));
	if (!json_is_object(doc))
		return gt_err_set(err, -EINVAL, "manifest: must be a JSON object");
	if (json_integer_value(json_object_get(doc, "schemaVersion")) != 2)
		return gt_err_set(err, -EINVAL, "manifest.schemaVersion: must be 2");
	if ((rc = parse_desc(json_object_get(doc, "config"), "manifest.config", &m->config,
			     err)) < 0)
		return rc;
	if ((rc = parse_desc_array(json_object_get(doc, "layers"), "manifest.layers", true,
				   &m->layers, &m->nlayers, err)) < 0) {
		desc_release(&m->config);
		return rc;
	}
	for (size_t i = 0; i < m->nlayers; i++) {
		const char *mt = m->layers[i].media_type;
		if (strstr(mt, "+encrypted")) {
			img_manifest_release(m);
			return gt_err_set(err, -EOPNOTSUPP,
					  "manifest.layers[%zu]: encrypted layers are not supported", i);
		}
		if (strstr(mt, "foreign") || strstr(mt, "nondistributable")) {
			img_manifest_release(m);
			return gt_err_set(err, -EOPNOTSUPP,
					  "manifest.layers[%zu]: foreign (non-distributable) layers "
					  "are not supported", i);
		}
	}
	return 0;
}

void img_manifest_release(struct img_manifest *m)
{
	if (!m)
		return;
	desc_release(&m->config);
	img_descs_free(m->layers, m->nlayers);
	m->layers = NULL;
	m->nlayers = 0;
}

int img_parse_index(const json_t *doc, struct img_desc **out, size_t *n, struct gt_err *err)
{
	if (!json_is_object(doc))
		return gt_err_set(err, -EINVAL, "index: must be a JSON object");
	if (json_integer_value(json_object_get(doc, "schemaVersion")) != 2)
		return gt_err_set(err, -EINVAL, "index.schemaVersion: must be 2");
	return parse_desc_array(json_object_get(doc, "manifests"), "index.manifests", true, out,
				n, err);
}

const char *img_host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#elif defined(__arm__)
	return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "ppc64le";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#else
	return "unknown";
#endif
}

int img_pick_platform(const struct img_desc *d, size_t n)
{
	const char *arch = img_host_arch();
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].os, "linux") || strcmp(d[i].arch, arch))
			continue;
		/* arm64 images come as "v8" or with no variant; both run */
		if (!strcmp(arch, "arm64") && d[i].variant[0] && strcmp(d[i].variant, "v8"))
			continue;
		if (best < 0)
			best = (int)i;
	}
	return best;
}

void img_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int img_parse_config(const json_t *doc, json_t **config, char ***diff_ids, size_t *n,
		     struct gt_err *err)
{
	json_t *c, *ids;
	char **v;
	size_t cnt;

	*config = NULL;
	*diff_ids = NULL;
	*n = 0;
	if (!json_is_object(doc))
		return gt_err_set(err, -EINVAL, "config: must be a JSON object");
	c = json_object_get(doc, "config");
	if (c && !json_is_object(c) && !json_is_null(c))
		return gt_err_set(err, -EINVAL, "config.config: must be an object");
	ids = gt_json_path(doc, "rootfs.diff_ids");
	if (ids && !json_is_array(ids))
		return gt_err_set(err, -EINVAL, "config.rootfs.diff_ids: must be an array");
	cnt = json_array_size(ids);
	if (cnt > 4096)
		return gt_err_set(err, -EINVAL, "config.rootfs.diff_ids: too many entries");
	v = xcalloc(cnt + 1, sizeof(*v));
	for (size_t i = 0; i < cnt; i++) {
		const char *d = json_string_value(json_array_get(ids, i));
		if (!img_digest_valid(d)) {
			img_strv_free(v);
			return gt_err_set(err, -EINVAL,
					  "config.rootfs.diff_ids[%zu]: invalid digest", i);
		}
		v[i] = xstrdup(d);
	}
	*config = json_is_object(c) ? json_incref(c) : json_object();
	*diff_ids = v;
	*n = cnt;
	return 0;
}

static int str_array(const json_t *a, const char *field, bool nullok, char ***out, size_t *n,
		     struct gt_err *err)
{
	size_t cnt = json_array_size(a);
	char **v;

	*out = NULL;
	if (n)
		*n = 0;
	if (!json_is_array(a) && !(nullok && (!a || json_is_null(a))))
		return gt_err_set(err, -EINVAL, "%s: must be an array of strings", field);
	if (cnt > 4096)
		return gt_err_set(err, -EINVAL, "%s: too many entries", field);
	v = xcalloc(cnt + 1, sizeof(*v));
	for (size_t i = 0; i < cnt; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (!s || !*s) {
			img_strv_free(v);
			return gt_err_set(err, -EINVAL, "%s[%zu]: must be a non-empty string",
					  field, i);
		}
		v[i] = xstrdup(s);
	}
	*out = v;
	if (n)
		*n = cnt;
	return 0;
}

int img_parse_docker_manifest(const json_t *doc, struct img_docker_image **out, size_t *n,
			      struct gt_err *err)
{
	size_t cnt = json_array_size(doc);
	struct img_docker_image *v;
	char f[64];
	int rc;

	*out = NULL;
	*n = 0;
	if (!json_is_array(doc))
		return gt_err_set(err, -EINVAL, "manifest.json: must be a JSON array");
	if (cnt > 4096)
		return gt_err_set(err, -EINVAL, "manifest.json: too many images");
	v = xcalloc(cnt ? cnt : 1, sizeof(*v));
	for (size_t i = 0; i < cnt; i++) {
		json_t *e = json_array_get(doc, i);
		const char *cfg = gt_json_str(e, "Config");
		if (!json_is_object(e)) {
			rc = gt_err_set(err, -EINVAL, "manifest.json[%zu]: must be an object", i);
			goto fail;
		}
		if (!cfg || !*cfg) {
			rc = gt_err_set(err, -EINVAL, "manifest.json[%zu].Config: required", i);
			goto fail;
		}
		v[i].config = xstrdup(cfg);
		snprintf(f, sizeof(f), "manifest.json[%zu].RepoTags", i);
		if ((rc = str_array(json_object_get(e, "RepoTags"), f, true, &v[i].tags, NULL,
				    err)) < 0)
			goto fail;
		snprintf(f, sizeof(f), "manifest.json[%zu].Layers", i);
		if ((rc = str_array(json_object_get(e, "Layers"), f, false, &v[i].layers,
				    &v[i].nlayers, err)) < 0)
			goto fail;
	}
	*out = v;
	*n = cnt;
	return 0;
fail:
	img_docker_images_free(v, cnt);
	return rc;
}

void img_docker_images_free(struct img_docker_image *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].config);
		img_strv_free(v[i].tags);
		img_strv_free(v[i].layers);
	}
	free(v);
}

static json_t *desc_json(const struct img_desc *d)
{
	return json_pack("{s:s,s:s,s:I}", "mediaType", d->media_type, "digest", d->digest,
			 "size", (json_int_t)d->size);
}

char *img_build_manifest(const struct img_desc *config, const struct img_desc *layers,
			 size_t nlayers, size_t *len)
{
	json_t *m = json_object(), *ls = json_array();
	char *out;

	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(IMG_MT_OCI_MANIFEST));
	json_object_set_new(m, "config", desc_json(config));
	for (size_t i = 0; i < nlayers; i++)
		json_array_append_new(ls, desc_json(&layers[i]));
	json_object_set_new(m, "layers", ls);
	out = gt_json_dump(m, len);
	json_decref(m);
	return out;
}

const char *img_layer_media_type(const unsigned char *head, size_t n)
{
	if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		return "application/vnd.oci.image.layer.v1.tar+gzip";
	if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	return "application/vnd.oci.image.layer.v1.tar";
}
