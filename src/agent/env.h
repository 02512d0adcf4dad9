/*
 * env.h - a container's environment as the kubelet builds it: envFrom
 * sources, then env entries (value, or valueFrom fieldRef /
 * resourceFieldRef / configMapKeyRef / secretKeyRef), with $(VAR)
 * references to earlier variables expanded.
 */
#ifndef GT_AGENT_ENV_H
#define GT_AGENT_ENV_H

#include "codec/json.h"

/* Fetches an object (resource "configmaps" or "secrets") for env sources. */
typedef int (*gt_env_get_fn)(void *ctx, const char *resource, const char *ns,
			     const char *name, json_t **out, struct gt_err *err);

/*
 * Builds the environment of `container` in `pod` into a new JSON array of
 * "K=V" strings (*out).  A missing non-optional source or key fails with
 * -ENOENT and the kubelet's wording (`configmap "x" not found`,
 * `couldn't find key k in ConfigMap ns/x`), which the agent reports as the
 * container's CreateContainerConfigError.
 */
int gt_env_build(const json_t *pod, const json_t *container, gt_env_get_fn get, void *ctx,
		 json_t **out, struct gt_err *err);

#endif
