/*
 * fuzz_image.c - libFuzzer harness for what the image store reads from
 * outside: manifests, indexes, configs and docker's manifest.json; registry
 * challenges and error bodies; docker configs; image references; and whole
 * archives and layer tarballs (imported into a scratch store, unpacked into
 * a scratch directory).  The first byte picks the target, the rest is the
 * input.  tests/fuzz/replay.c turns it into a plain program that replays
 * corpus/image/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/image.h"
#include "agent/image_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];
static struct gt_image_store *g_store;

static void cleanup(void)
{
	gt_image_store_close(g_store);
	if (g_dir[0])
		img_rmtree(g_dir);
}

static void setup(void)
{
	if (g_dir[0])
		return;
	snprintf(g_dir, sizeof(g_dir), "/tmp/fuzz-image-XXXXXX");
	if (!mkdtemp(g_dir))
		abort();
	GT_AUTOFREE char *root = xasprintf("%s/images", g_dir);
	if (gt_image_store_open(root, &g_store, NULL) < 0)
		abort();
	atexit(cleanup);
}

static void json_targets(const char *s, size_t n)
{
	GT_AUTOJSON json_t *doc = NULL, *cfg = NULL;
	struct img_manifest m;
	struct img_desc *d;
	struct img_docker_image *di;
	char **ids;
	size_t nd;

	if (gt_json_parse_lenient(s, n, &doc, NULL) < 0)
		return;
	img_manifest_kind(doc, "application/vnd.oci.image.manifest.v1+json");
	if (img_parse_manifest(doc, &m, NULL) == 0) {
		size_t len;
		free(img_build_manifest(&m.config, m.layers, m.nlayers, &len));
		img_manifest_release(&m);
	}
	if (img_parse_index(doc, &d, &nd, NULL) == 0) {
		img_pick_platform(d, nd);
		img_descs_free(d, nd);
	}
	if (img_parse_config(doc, &cfg, &ids, &nd, NULL) == 0)
		img_strv_free(ids);
	if (img_parse_docker_manifest(doc, &di, &nd, NULL) == 0)
		img_docker_images_free(di, nd);
	struct gt_pull_auth a;
	char scratch[256];
	for (size_t i = 0; i < 3; i++)
		gt_image_auth_lookup(doc, "docker.io", i, &a, scratch, sizeof(scratch));
}

static void file_targets(int which, const uint8_t *data, size_t size)
{
	GT_AUTOFREE char *path = xasprintf("%s/input", g_dir);
	GT_AUTOFREE char *dest = xasprintf("%s/layer", g_dir);
	GT_AUTOJSON json_t *refs = NULL;

	if (gt_write_file_atomic(path, data, size, 0644) < 0)
		return;
	if (which == 4) {
		if (gt_image_import(g_store, path, &refs, NULL) == 0) {
			size_t i;
			json_t *r;
			json_array_foreach(refs, i, r) {
				struct gt_image img;
				if (gt_image_get(g_store, json_string_value(r), &img, NULL) == 0)
					gt_image_release(&img);
				gt_image_remove(g_store, json_string_value(r), NULL);
			}
		}
	} else {
		img_rmtree(dest);
		img_unpack(path, dest, NULL, NULL);
		img_rmtree(dest);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1 || size > (1u << 20))
		return 0;
	setup();
	s = xstrndup((const char *)data + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		json_targets(s, size - 1);
		break;
	case 1: {
		struct img_challenge c;
		char why[256];
		img_parse_challenge(s, &c);
		img_registry_errors(s, size - 1, why, sizeof(why));
		break;
	}
	case 2: {
		char out[IMG_REF_MAX];
		struct img_ref r;
		gt_image_normalize(s, out, sizeof(out), NULL);
		if (img_ref_parse(s, &r, NULL) == 0) {
			img_ref_format(&r, out, sizeof(out));
			/* normalization is idempotent */
			char again[IMG_REF_MAX];
			if (gt_image_normalize(out, again, sizeof(again), NULL) != 0 ||
			    strcmp(out, again))
				abort();
		}
		break;
	}
	case 3:
		gt_image_present(g_store, s);
		break;
	default:
		file_targets(data[0] % 6, data + 1, size - 1);
	}
	free(s);
	return 0;
}
