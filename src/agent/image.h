/*
 * image.h - the node agent's OCI image store: import from `docker save` and
 * OCI image-layout archives, pull from OCI-distribution registries, unpack
 * layers (with overlay whiteouts) and mount them with overlayfs.
 *
 * On disk (ROOT/images, an OCI image layout that skopeo can read as
 * `oci:ROOT/images:REF`):
 *
 *   oci-layout, index.json   one manifest descriptor per reference, named by
 *                            the annotation org.opencontainers.image.ref.name
 *                            (the full normalized reference) plus gantry's
 *                            io.gantry.image.{id,size,digest} annotations
 *   blobs/sha256/<hex>       manifests, configs, layer tarballs (as pulled)
 *   layers/<hex>/            each layer unpacked, named by its blob digest
 *   tmp/                     work in progress (same file system, for rename)
 *   lock                     flock(2) taken around every mutation
 *
 * Layers are unpacked and checked (paths, diff_ids) while importing or
 * pulling, before anything is committed, so a bad archive or blob never
 * leaves a half-imported image; gt_image_get() unpacks again any layer
 * directory that has gone missing.
 *
 * References are normalized as Docker does ("busybox" is
 * "docker.io/library/busybox:latest").  The reserved name "host" (the
 * host's own root file system, handled by the runtime) is never in the store
 * but gt_image_present("host") is true.
 *
 * Registry transport: HTTPS by default.  A host listed in insecure_hosts, or
 * a loopback host (localhost, 127.0.0.0/8, ::1), is "insecure" as in Docker:
 * HTTPS without certificate verification is tried first and plain HTTP is
 * used when that fails.
 *
 * A struct gt_image_store holds no cached state: every call re-reads
 * index.json (replaced atomically), so one store may be used from several
 * threads and several processes at once.  Mutations take the lock file.
 * Unpacking and mounting need root (mknod, chown, trusted.* xattrs).
 */
#ifndef GT_AGENT_IMAGE_H
#define GT_AGENT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "codec/json.h"

struct gt_image_store;

/* The reserved image name for the host's root file system. */
#define GT_IMAGE_HOST "host"

/*
 * Opens (creating when missing) the store in dir `root` (normally
 * ROOT/images).  *out is released with gt_image_store_close().  Returns 0,
 * or a negative errno with err set.
 */
int gt_image_store_open(const char *root, struct gt_image_store **out, struct gt_err *err);
/* Releases the handle (NULL allowed); the store on disk is untouched. */
void gt_image_store_close(struct gt_image_store *s);

/*
 * Normalizes an image reference into out (n bytes): a registry host (with
 * port) when the first component has a '.' or ':' or is "localhost", else
 * "docker.io" ("library/" added for one-component names); ":latest" when
 * neither a tag nor a digest is given; digests are kept.  "host" stays
 * "host".  Returns 0, or -EINVAL with a message naming what is wrong
 * (uppercase repository, bad tag, bad digest, empty component, too long).
 */
int gt_image_normalize(const char *ref, char *out, size_t n, struct gt_err *err);

/*
 * Imports every named image of an archive: a `docker save` tar
 * (manifest.json, RepoTags) or an OCI image-layout tar (oci-layout,
 * index.json, names from org.opencontainers.image.ref.name or
 * io.containerd.image.name); the archive itself may be gzip/zstd/xz
 * compressed, layers compressed or not.  Digests, sizes and diff_ids are
 * verified and every layer unpacked before anything is committed, so on
 * failure the store is unchanged.  *refs (may be NULL) gets a new JSON array
 * of the imported normalized references.  An existing reference is
 * replaced.  Returns 0, or a negative errno (-EINVAL malformed archive,
 * -EBADMSG digest mismatch, -ENOENT missing file) with err naming the
 * archive member at fault.
 */
int gt_image_import(struct gt_image_store *s, const char *archive_path, json_t **refs,
		    struct gt_err *err);

/* Credentials for one registry (borrowed strings; NULL when absent). */
struct gt_pull_auth {
	const char *username, *password, *identity_token;
};

/*
 * Finds the credentials for registry `host` ("docker.io" matches the keys
 * https://index.docker.io/v1/, index.docker.io, registry-1.docker.io too)
 * in a docker config: {"auths":{KEY:{"auth":base64(user:pass)} |
 * {"username","password"} | {"identitytoken"}}}, the legacy .dockercfg
 * form without "auths", or a JSON array of such configs (the pod's
 * imagePullSecrets, tried in order).  `index` picks the index-th match.
 * Strings in *out point into docker_config, or into `scratch` (a caller
 * buffer of scratch_len bytes holding the decoded "auth").  Returns 0 when
 * found, -ENOENT when not.
 */
int gt_image_auth_lookup(const json_t *docker_config, const char *host, size_t index,
			 struct gt_pull_auth *out, char *scratch, size_t scratch_len);

/*
 * Pulls ref (normalized first) over the OCI distribution API: the manifest
 * (OCI or Docker v2, manifest lists resolved to linux/<host arch>), the
 * config and the layers, each verified against its digest; 401 answers are
 * met with Basic or Bearer (token from the realm, with service and scope)
 * authentication using the credentials found in docker_config (may be NULL:
 * anonymous).  insecure_hosts is a NULL-terminated list (may be NULL) of
 * registry hosts ("host:port") where plain HTTP is allowed.  Blobs already
 * in the store are not fetched again.  Returns 0, or a negative errno with a
 * message fit for a container's ErrImagePull reason:
 *   -ENOENT   `failed to resolve reference "R": R: not found (manifest unknown)`
 *   -EACCES   `... pull access denied ... unauthorized: ...`
 *   -ECONNREFUSED / -EHOSTUNREACH / -ETIMEDOUT / -EPROTO transport errors
 *   -EBADMSG  digest mismatch, -EINVAL malformed manifest or layer.
 */
int gt_image_pull(struct gt_image_store *s, const char *ref, const json_t *docker_config,
		  const char *const *insecure_hosts, struct gt_err *err);

/* True when ref (normalized first) is in the store, or is "host". */
bool gt_image_present(struct gt_image_store *s, const char *ref);

struct gt_image {
	char *ref;      /* the normalized reference */
	char *id;       /* the config digest, "sha256:<hex>" */
	char *digest;   /* the manifest digest (index digest when pulled from a
			 * manifest list): imageID is "<repo>@<digest>" */
	char **layers;  /* unpacked layer directories, bottom first */
	size_t nlayers; /* >= 1 (an image with no layers gets one empty dir) */
	json_t *config; /* the config's "config" object (Entrypoint, Cmd, Env,
			 * WorkingDir, User, ...); an empty object when absent */
};

/*
 * Fills *img for ref (normalized first), unpacking any layer whose
 * directory is missing.  Returns 0, -ENOENT (not in the store: "image
 * \"R\" not present"), or another negative errno with err set.  The caller
 * owns *img and releases it with gt_image_release().  "host" is -ENOENT
 * (the runtime handles it).
 */
int gt_image_get(struct gt_image_store *s, const char *ref, struct gt_image *img,
		 struct gt_err *err);
/* Frees what *img holds (NULL allowed) and zeroes it. */
void gt_image_release(struct gt_image *img);

/*
 * Mounts overlayfs on target (which must exist): lowerdir = the image's
 * layers (top first), upperdir = upper, workdir = work (both created when
 * missing, on the same file system).  Single-layer images also get an
 * overlay, so the root file system is writable.  Returns 0 or a negative
 * errno with err set.
 */
int gt_image_mount(const struct gt_image *img, const char *upper, const char *work,
		   const char *target, struct gt_err *err);
/* Unmounts target (lazily when busy).  Not mounted is success. */
int gt_image_unmount(const char *target, struct gt_err *err);

/*
 * Lists the store: *list gets a new array of
 * {"ref","id","digest","size"} (size: bytes of config and layer blobs),
 * sorted by ref.  Returns 0 or a negative errno.
 */
int gt_image_list(struct gt_image_store *s, json_t **list, struct gt_err *err);

/*
 * Removes ref (normalized first; or an image id "sha256:<hex>" or a hex
 * prefix of at least 12 characters of one, which removes every reference to
 * that image), then deletes blobs and unpacked layers no longer referenced
 * (layers still used by a live overlay mount are kept).  Returns 0, -ENOENT
 * when not present, or another negative errno.
 */
int gt_image_remove(struct gt_image_store *s, const char *ref, struct gt_err *err);

/* `gantry image import|ls|rm|pull` (src/cli/image.c). */
int gt_cmd_image(int argc, char **argv);

#endif
