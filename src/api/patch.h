/*
 * patch.h - the three Kubernetes patch flavours over JSON trees, implemented
 * once for every resource:
 *
 *   application/merge-patch+json           gt_patch_merge      (RFC 7386)
 *   application/json-patch+json            gt_patch_json       (RFC 6902)
 *   application/strategic-merge-patch+json gt_patch_strategic  (apimachinery
 *                                          strategicpatch, built-in kinds)
 *
 * All three are pure functions: the target and the patch are never modified
 * and *out receives a new reference (caller json_decref()s) only on success.
 * On failure nothing is returned (*out is left NULL) and err names the field
 * path.  They are thread-safe (no global state besides the static
 * merge-key table).
 *
 * Error codes (see base/err.h for the HTTP mapping; chosen to match what the
 * Kubernetes API server answers):
 *   -EINVAL  400  malformed patch document: a JSON patch that is not an
 *                 array of objects, a strategic patch with a bad directive,
 *                 a merging-list element without its merge key, ...
 *   -EBADMSG 422  a well-formed JSON patch whose operations cannot be
 *                 applied (failed "test", missing path, bad pointer, unknown
 *                 op): apiserver answers 422 for every jsonpatch Apply error;
 *                 also a strategic patch whose fields contradict $retainKeys.
 *   -E2BIG   413  more than GT_PATCH_MAX_OPS JSON patch operations, or a JSON
 *                 patch that would create more than GT_PATCH_MAX_NODES values
 *                 (copy/add amplification).
 * Trees nested deeper than GT_PATCH_MAX_DEPTH are refused with -EINVAL.
 *
 * The strategic merge patch follows apimachinery's patch.go, including its
 * list ordering (patch items in patch order, server-only items interleaved
 * by their live position: a new item without $setElementOrder lands in front
 * of the untouched items, as on a real server) and $setElementOrder.
 * Deliberate differences, all more lenient or stricter-and-safer:
 *   - directives are never stored: values taken from the patch (new keys,
 *     replaced lists, type mismatches) are stripped of directives and nulls;
 *   - "$patch":"merge" is accepted as the default in maps and ignored in
 *     list elements (apimachinery errors on both); "$patch":"delete" in a
 *     map leaves an empty map {} (as apimachinery does; send null to remove
 *     the key);
 *   - a $setElementOrder list must name the patch list's items in the same
 *     relative order (apimachinery's check), else -EINVAL;
 *   - $deleteFromPrimitiveList/<f> is applied after <f> itself is merged;
 *   - $retainKeys is honoured in any map (so is apimachinery), the table's
 *     GT_PATCH_RETAIN_KEYS flag documents where Kubernetes declares it;
 *   - unknown kinds or paths: maps merge, lists are replaced.
 */
#ifndef GT_API_PATCH_H
#define GT_API_PATCH_H

#include "codec/json.h"

/* Hard limits against hostile input (see the error list above). */
#define GT_PATCH_MAX_DEPTH 2048    /* = jansson's parser depth limit */
#define GT_PATCH_MAX_OPS 10000     /* apiserver's maxJSONPatchOperations */
#define GT_PATCH_MAX_NODES (1 << 20)

/*
 * RFC 7386 JSON merge patch.  Objects merge recursively, null deletes,
 * anything else (arrays included) replaces.  A non-object patch replaces the
 * whole target (RFC behaviour): the caller checks that the result is still
 * an object of the right kind.  target may be NULL (treated as absent).
 * Returns 0 with *out a new reference, or -EINVAL (too deep).
 */
int gt_patch_merge(const json_t *target, const json_t *patch, json_t **out,
		   struct gt_err *err);

/*
 * RFC 6902 JSON patch: ops is an array of {op, path, value|from} with op in
 * add/remove/replace/move/copy/test, paths are RFC 6901 JSON pointers (~0 ~1
 * escapes, "-" appends in add/move/copy targets, no leading zeros, no
 * negative indices).  Numbers compare numerically in "test".  Atomic: the
 * operations run on a private copy which is returned only when all succeed.
 * Returns 0 with *out a new reference, -EINVAL (malformed document), -EBADMSG
 * (an operation failed; the message names the op index and pointer) or
 * -E2BIG.
 */
int gt_patch_json(const json_t *target, const json_t *ops, json_t **out,
		  struct gt_err *err);

/*
 * Kubernetes strategic merge patch against an object of a built-in kind
 * (api_version "apps/v1", kind "Deployment"), using the merge-key table
 * below.  target and patch must be objects.  Handles null deletion, merge
 * lists by key, scalar merge lists (union), and the directives $patch
 * (delete/replace/merge), $setElementOrder/<f>, $deleteFromPrimitiveList/<f>
 * and $retainKeys; none of them is ever stored.
 * Returns 0 with *out a new reference, -EINVAL (bad patch; the message names
 * the field path) or -EBADMSG (patch content contradicts $retainKeys).
 */
int gt_patch_strategic(const char *api_version, const char *kind, const json_t *target,
		       const json_t *patch, json_t **out, struct gt_err *err);

/*
 * Removes strategic-merge directive keys ($patch, $retainKeys,
 * $setElementOrder/..., $deleteFromPrimitiveList/...) from obj in place,
 * recursively (objects inside arrays included), for create paths that must
 * not store them.  NULL and non-objects are ignored.
 */
void gt_patch_strip_directives(json_t *obj);

/* ---- the merge-key table (mergekeys.c) ---- */

enum {
	GT_PATCH_MERGE = 1 << 0,       /* list merges (by merge_key, or as a scalar set) */
	GT_PATCH_RETAIN_KEYS = 1 << 1, /* map (or list items) honour $retainKeys */
	GT_PATCH_REPLACE = 1 << 2,     /* list or map is replaced wholesale */
};

/*
 * One row: a field path relative to the table it sits in (dotted field
 * names, list elements add no segment: "containers.ports"), its strategy,
 * its merge key (NULL: scalar list or not a list), and an optional sub-table
 * whose paths continue below this one (the reusable PodSpec and Container
 * tables).  Tables end with a row whose path is NULL.
 */
struct gt_patch_rule {
	const char *path;
	unsigned strategy;
	const char *merge_key;
	const struct gt_patch_rule *sub;
};

/*
 * The rule for a field of an object of (api_version, kind), path as above
 * from the object root ("spec.template.spec.containers.env"), or NULL when
 * the table says nothing (maps merge, lists replace).  Returns a pointer to
 * a static row.
 */
const struct gt_patch_rule *gt_patch_rule_find(const char *api_version, const char *kind,
					       const char *path);

#endif
