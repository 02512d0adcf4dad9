/*
 * volumes.h - a pod's volumes on the host, and the OCI bind mounts that
 * put them into its containers.
 *
 * Sources handled:
 *   emptyDir                 POD/volumes/<name>/ (mode 0777); medium Memory
 *                            is a tmpfs mounted there, size=sizeLimit when
 *                            given (else the tmpfs default, half the RAM)
 *   hostPath                 the path itself, after the type check
 *                            (DirectoryOrCreate, Directory, FileOrCreate,
 *                            File, Socket, CharDevice, BlockDevice) with
 *                            Kubernetes' messages
 *   configMap, secret,       POD/volumes/<name>/ in the kubelet's atomic
 *   downwardAPI, projected   writer layout: files in ..<timestamp>/, the
 *                            ..data symlink to it, and one symlink per
 *                            top-level entry (key -> ..data/key).  Updates
 *                            swap ..data with rename(2), so readers see
 *                            the old or the new set, never a mix
 *   persistentVolumeClaim    the bound PV's spec.hostPath.path or
 *                            spec.local.path (created when under pv_root)
 * A volume with no source is an emptyDir (the API's default).  projected's
 * serviceAccountToken and clusterTrustBundle sources are skipped (Gantry
 * issues no bound tokens); other volume types fail with -EOPNOTSUPP.
 *
 * Secrets are written with their decoded bytes; files get defaultMode
 * (0644 unless set) or the item's mode.  With spec.securityContext.fsGroup
 * the kubelet's ownership rule applies: files and directories get that
 * group, files gain 0440, directories the setgid bit (emptyDir: 02777).
 *
 * Error messages are the kubelet's, without its `MountVolume.SetUp failed
 * for volume "<name>" : ` prefix (the caller adds it if it wants):
 *   configmap "x" not found          (-ENOENT)
 *   secret "x" not found             (-ENOENT)
 *   configmap references non-existent config key: k   (-ENOENT)
 *   references non-existent secret key: k             (-ENOENT)
 *   hostPath type check failed: /p is not a directory (-ENOTDIR, ...)
 *   PVC ns/c has non-bound phase ("Pending") or empty pvc.Spec.VolumeName ("")  (-EAGAIN)
 */
#ifndef GT_AGENT_VOLUMES_H
#define GT_AGENT_VOLUMES_H

#include "base/err.h"
#include "codec/json.h"

struct gt_vol_ctx {
	const char *pod_dir; /* ROOT/pods/<uid> */
	const char *pv_root; /* ROOT/pv: local-path PVs may be created under it */
	/*
	 * Fetches an object: resource is "configmaps", "secrets",
	 * "persistentvolumeclaims" (namespaced) or "persistentvolumes" (ns is
	 * NULL).  Returns 0 with *out a new reference, -ENOENT when it does not
	 * exist, another negative errno (err set) on failure.
	 */
	int (*get)(void *c, const char *resource, const char *ns, const char *name, json_t **out,
		   struct gt_err *err);
	void *get_ctx;
};

/*
 * Makes every volume of pod (borrowed) ready on the host.  *paths gets a
 * new object {volume name: host path} (caller decrefs); on failure *paths
 * is NULL.  Idempotent: an agent re-adopting a pod calls it again (mounted
 * tmpfs volumes are kept, projected contents refreshed).  Returns 0, or a
 * negative errno with the kubelet's message (above), stopping at the first
 * volume that fails; err's message names only the cause.  Volumes prepared
 * before a failure stay in place (a retry reuses them); gt_volumes_cleanup
 * removes them.  A disk emptyDir's sizeLimit is not enforced.
 */
int gt_volumes_prepare(const struct gt_vol_ctx *ctx, const json_t *pod, json_t **paths,
		       struct gt_err *err);

/*
 * Re-projects the configMap, secret, downwardAPI and projected volumes of
 * pod (the current object, for downward labels/annotations): a volume whose
 * contents differ gets a new ..<timestamp> directory and an atomic ..data
 * swap; unchanged volumes are not touched.  A source that disappeared
 * keeps the old files and fails with the same message as prepare (other
 * volumes are still refreshed; the first error is returned).
 */
int gt_volumes_refresh(const struct gt_vol_ctx *ctx, const json_t *pod, struct gt_err *err);

/*
 * OCI mounts for container's volumeMounts (container is an element of the
 * pod's containers, initContainers or ephemeralContainers; paths is what
 * gt_volumes_prepare returned).  *mounts gets a new array of
 *   {"destination": mountPath, "source": host path, "type": "bind",
 *    "options": ["rbind", "rprivate"|"rslave"|"rshared", "ro"?]}
 * "ro" for readOnly mounts, PVCs with readOnly, and configMap, secret,
 * downwardAPI and projected volumes (always read-only, as in Kubernetes).
 * mountPropagation None/HostToContainer/Bidirectional → rprivate, rslave,
 * rshared.  subPath (and subPathExpr, expanded with the container's env
 * values and downward fieldRefs) must be relative without "..": otherwise
 * -EINVAL "spec.containers[0].volumeMounts[1].subPath: Invalid value:
 * \"../x\": must not contain '..'".  A missing subPath is created as a
 * directory (as the kubelet does); one that resolves outside the volume
 * through a symlink fails (-EPERM "subpath ... not within volume path ...").
 * A mount naming an unknown volume fails with -EINVAL.  Returns 0 or a
 * negative errno; *mounts is NULL on failure.
 */
int gt_volumes_container_mounts(const json_t *pod, const json_t *container, const json_t *paths,
				json_t **mounts, struct gt_err *err);

/*
 * Unmounts everything mounted under pod_dir/volumes (tmpfs emptyDirs) and
 * removes that directory, never crossing into a mount that could not be
 * unmounted.  Idempotent (absent is fine).  Returns 0 or a negative errno
 * (-EBUSY when a mount stays).
 */
int gt_volumes_cleanup(const char *pod_dir, struct gt_err *err);

#endif
