/*
 * image_int.h - what the image_*.c files share and nothing else includes:
 * SHA-256, reference parsing, the on-disk store (index, lock, staging,
 * commit, GC), manifest/index/config parsing, and layer unpacking.
 *
 * A "stage" is a private directory under ROOT/images/tmp where an import or
 * a pull puts verified blobs (stage/blobs/<hex>), unpacked layers
 * (stage/layers/<hex>) and the diff_id each layer hashed to
 * (stage/diffids/<hex>); img_commit() moves them into the store and updates
 * index.json under the lock, so readers never see a half-written image.
 */
#ifndef GT_AGENT_IMAGE_INT_H
#define GT_AGENT_IMAGE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/image.h"

#define IMG_DIGEST_MAX 72 /* "sha256:" + 64 hex + NUL */
#define IMG_REF_MAX 800 /* holds any formatted struct img_ref */
#define IMG_JSON_MAX (16u << 20) /* manifests, configs, index files */

#define IMG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define IMG_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define IMG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMG_ANN_REF "org.opencontainers.image.ref.name"
#define IMG_ANN_CONTAINERD "io.containerd.image.name"
/* (annotation keys hold dots: read them with json_object_get, not gt_json_str) */
#define IMG_ANN_ID "io.gantry.image.id"         /* config digest */
#define IMG_ANN_DIGEST "io.gantry.image.digest" /* repo (index or manifest) digest */
#define IMG_ANN_SIZE "io.gantry.image.size"     /* config + layer bytes, decimal */

/* ---- SHA-256 (image_sha256.c) ---- */
struct img_sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t nbuf;
};
void img_sha256_init(struct img_sha256 *c);
void img_sha256_update(struct img_sha256 *c, const void *data, size_t n);
/* Writes "sha256:<64 hex>" into out. */
void img_sha256_final(struct img_sha256 *c, char out[IMG_DIGEST_MAX]);
void img_sha256_buf(const void *data, size_t n, char out[IMG_DIGEST_MAX]);
/* Digest (and size, may be NULL) of a file; 0 or -errno. */
int img_sha256_file(const char *path, char out[IMG_DIGEST_MAX], int64_t *size);
/* "sha256:" followed by exactly 64 lowercase hex digits. */
bool img_digest_valid(const char *d);

/* ---- references (image_ref.c) ---- */
struct img_ref {
	char domain[256]; /* "docker.io", "127.0.0.1:5000" */
	char path[256];   /* "library/busybox" */
	char tag[130];    /* "" when absent (only with a digest) */
	char digest[IMG_DIGEST_MAX + 64]; /* "" when absent */
};
/* Parses and normalizes ref (not "host"); 0 or -EINVAL with err set. */
int img_ref_parse(const char *ref, struct img_ref *r, struct gt_err *err);
/* Writes "domain/path[:tag][@digest]" into out. */
void img_ref_format(const struct img_ref *r, char *out, size_t n);

/* ---- the store (image_store.c) ---- */
struct gt_image_store {
	char *root;
};

/* New strings: ROOT/blobs/sha256/<hex>, ROOT/layers/<hex>. */
char *img_blob_path(const struct gt_image_store *s, const char *digest);
char *img_layer_path(const struct gt_image_store *s, const char *digest);
/* Takes the store's lock (flock, blocking); returns the fd or -errno. */
int img_lock(struct gt_image_store *s, struct gt_err *err);
void img_unlock(int fd);
/* index.json as a new JSON object ({"manifests":[]} when absent). */
int img_index_load(struct gt_image_store *s, json_t **out, struct gt_err *err);
/* The descriptor for normalized ref `norm` in idx (borrowed), or NULL.
 * A digest reference also matches an image with that manifest or repo
 * digest under the same repository. */
json_t *img_index_find(json_t *idx, const char *norm);
/* Reads a blob of at most IMG_JSON_MAX bytes, checking its digest; caller frees. */
int img_blob_read(struct gt_image_store *s, const char *digest, char **out, size_t *len,
		  struct gt_err *err);

struct img_stage {
	char *dir; /* ROOT/tmp/stage-XXXXXX */
};
int img_stage_open(struct gt_image_store *s, struct img_stage *st, struct gt_err *err);
/* Removes the stage directory and what is left in it. */
void img_stage_release(struct img_stage *st);
char *img_stage_blob(const struct img_stage *st, const char *digest);
char *img_stage_layer(const struct img_stage *st, const char *digest);

/* Moves the stage's blobs, layers and diff_id records into the store
 * (what the store has already stays); the caller holds the lock. */
int img_stage_move(struct gt_image_store *s, struct img_stage *st, struct gt_err *err);
/* True when layer `digest` is unpacked in the store or in the stage. */
bool img_layer_ready(struct gt_image_store *s, const struct img_stage *st, const char *digest);
/*
 * Makes layer `digest` ready: when it is unpacked already (store or stage),
 * checks diff_id against the one recorded when it was unpacked; otherwise
 * unpacks blob file src into the stage (checking diff_id) and records it.
 * An uncompressed layer's digest must be its diff_id.  0 or -errno.
 */
int img_layer_prepare(struct gt_image_store *s, struct img_stage *st, const char *digest,
		      const char *src, const char *diff_id, struct gt_err *err);

/* One reference committed into index.json. */
struct img_entry {
	char ref[IMG_REF_MAX];
	char digest[IMG_DIGEST_MAX];      /* the manifest blob */
	int64_t msize;
	char media_type[128];
	char id[IMG_DIGEST_MAX];          /* the config digest */
	char repo_digest[IMG_DIGEST_MAX]; /* index digest, or the manifest digest */
	int64_t size;
};
/* Moves the stage's blobs and layers into the store and adds (or
 * replaces) the entries, under the lock; GC runs when a reference was
 * replaced.  The stage is left empty. */
int img_commit(struct gt_image_store *s, struct img_stage *st, const struct img_entry *e,
	       size_t n, struct gt_err *err);

/* ---- manifests (image_manifest.c) ---- */
enum img_kind { IMG_KIND_UNKNOWN, IMG_KIND_MANIFEST, IMG_KIND_INDEX, IMG_KIND_SCHEMA1 };

struct img_desc {
	char media_type[128];
	char digest[IMG_DIGEST_MAX];
	int64_t size;
	char os[32], arch[32], variant[32];
	char *name;   /* org.opencontainers.image.ref.name annotation, or NULL */
	char *cdname; /* io.containerd.image.name annotation, or NULL */
};
struct img_manifest {
	struct img_desc config;
	struct img_desc *layers;
	size_t nlayers;
};
/* Classifies a parsed manifest by its mediaType (or content_type when it
 * has none, or by shape). */
enum img_kind img_manifest_kind(const json_t *doc, const char *content_type);
/* Image manifest → *m (caller releases); 0 or -EINVAL naming the field. */
int img_parse_manifest(const json_t *doc, struct img_manifest *m, struct gt_err *err);
void img_manifest_release(struct img_manifest *m);
/* Image index / manifest list → new array of descriptors. */
int img_parse_index(const json_t *doc, struct img_desc **out, size_t *n, struct gt_err *err);
void img_descs_free(struct img_desc *d, size_t n);
/* The descriptor for linux/<host arch>, or -1. */
int img_pick_platform(const struct img_desc *d, size_t n);
/* "amd64", "arm64", ... as Go's GOARCH names the running machine. */
const char *img_host_arch(void);
/* Config blob → *config (new reference to its "config" object, {} when
 * absent) and *diff_ids (new array of n strings, NULL-terminated). */
int img_parse_config(const json_t *doc, json_t **config, char ***diff_ids, size_t *n,
		     struct gt_err *err);
void img_strv_free(char **v);

struct img_docker_image {
	char *config;
	char **tags;   /* NULL-terminated */
	char **layers; /* NULL-terminated */
	size_t nlayers;
};
/* docker save's manifest.json → new array of images. */
int img_parse_docker_manifest(const json_t *doc, struct img_docker_image **out, size_t *n,
			      struct gt_err *err);
void img_docker_images_free(struct img_docker_image *v, size_t n);
/* An OCI image manifest for config + layers as a new compact JSON string. */
char *img_build_manifest(const struct img_desc *config, const struct img_desc *layers,
			 size_t nlayers, size_t *len);
/* Layer media type from the first bytes of a blob (gzip, zstd, or tar). */
const char *img_layer_media_type(const unsigned char *head, size_t n);

/* ---- registry auth (image_auth.c) ---- */
#define IMG_CHAL_VAL 512
struct img_challenge {
	char scheme[16]; /* "Basic", "Bearer" */
	char realm[IMG_CHAL_VAL], service[IMG_CHAL_VAL], scope[IMG_CHAL_VAL], error[64];
};
/* Parses a WWW-Authenticate header value; 0 or -EINVAL. */
int img_parse_challenge(const char *h, struct img_challenge *c);
/* "manifest unknown; ..." from an OCI distribution error body into out. */
void img_registry_errors(const char *body, size_t len, char *out, size_t n);

/* ---- layers (image_unpack.c) ---- */
/*
 * Unpacks the layer tarball at blob_path (any compression) into dest, which
 * is created and must not exist, converting whiteouts to overlayfs form.
 * When want_diff_id is given, the uncompressed stream must hash to it.  On
 * failure dest is removed and err names the entry at fault.
 */
int img_unpack(const char *blob_path, const char *dest, const char *want_diff_id,
	       struct gt_err *err);
/* rm -rf without following symlinks; 0 or -errno. */
int img_rmtree(const char *path);

#endif
