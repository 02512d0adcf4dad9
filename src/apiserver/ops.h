/*
 * ops.h - the verbs of the API on objects, used by the HTTP handlers and,
 * as the in-process client, by controllers.  Each call runs the same
 * admission (defaulting, validation), metadata bookkeeping, status
 * subresource rules, finalizer and deletion semantics.
 *
 * Objects come back as struct gt_obj references (caller unrefs).  Errors are
 * negative errnos with err filled in the Kubernetes wording
 * (`pods "x" not found`, `... already exists`, 409 Conflict text, 422
 * causes).
 */
#ifndef GT_APISERVER_OPS_H
#define GT_APISERVER_OPS_H

#include <stdbool.h>

#include "api/registry.h"
#include "store/store.h"

struct gt_api;

/* What an update writes: all but status, status only, or both (in-process writers). */
enum gt_part { GT_PART_MAIN, GT_PART_STATUS, GT_PART_ALL };

struct gt_write_opts {
	bool dry_run;
	const char *field_manager;
	bool strict;               /* fieldValidation=Strict */
};

enum gt_propagation { GT_PROP_DEFAULT, GT_PROP_BACKGROUND, GT_PROP_FOREGROUND, GT_PROP_ORPHAN };

struct gt_delete_opts {
	bool dry_run;
	int64_t grace;             /* -1 = object default */
	const char *pre_uid;       /* preconditions, NULL = none */
	const char *pre_rv;
	enum gt_propagation prop;
};

/* Node annotation with the host:port of the node agent's endpoint. */
#define GT_AGENT_ENDPOINT_ANNOTATION "gantry.dev/agent-endpoint"
/* A pod with this annotation ("true") gets the node agent's rsh agent: its
 * containers see GT_RSH_DIR (the gantry binary, the "rsh" link to it, the
 * agent's exec socket); `rsh HOST CMD...` runs CMD in a pod of the same
 * controller (an MPIJob's workers) through the agent (agent/rsh.c). */
#define GT_RSH_ANNOTATION "training.gantry.dev/rsh"
#define GT_RSH_DIR "/run/gantry"
#define GT_RSH_PATH GT_RSH_DIR "/rsh"
#define GT_RSH_SOCKET GT_RSH_DIR "/exec.sock"

#define GT_FINALIZER_CRD_CLEANUP "customresourcecleanup.apiextensions.k8s.io"
#define GT_FINALIZER_PVC_PROTECTION "kubernetes.io/pvc-protection"

/* Storage key of an object. */
void gt_api_key(const struct gt_resource *r, const char *ns, const char *name,
		char *out, size_t n);

int gt_api_get(struct gt_api *api, const struct gt_resource *r, const char *ns,
	       const char *name, struct gt_obj **out, struct gt_err *err);

/* Creates obj (stolen) in namespace ns ("" for cluster-scoped). */
int gt_api_create(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  json_t *obj, const struct gt_write_opts *o, struct gt_obj **out,
		  struct gt_err *err);

/*
 * Replaces the object (or its status part) with obj (stolen).  A
 * metadata.resourceVersion in obj is a precondition (409 on mismatch).
 */
int gt_api_update(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  const char *name, enum gt_part part, json_t *obj,
		  const struct gt_write_opts *o, struct gt_obj **out, struct gt_err *err);

/*
 * Read-modify-write: calls mutate(copy of current object, ctx) and stores the
 * result, retrying on conflicts.  mutate returns < 0 to abort (error is
 * passed through).  Missing object: -ENOENT, unless create_missing, in which
 * case mutate gets NULL and returns the object to create in *created.
 */
typedef int (*gt_mutate_fn)(json_t *obj, void *ctx, struct gt_err *err);
int gt_api_modify(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  const char *name, enum gt_part part, gt_mutate_fn mutate, void *ctx,
		  const struct gt_write_opts *o, struct gt_obj **out, struct gt_err *err);

int gt_api_delete(struct gt_api *api, const struct gt_resource *r, const char *ns,
		  const char *name, const struct gt_delete_opts *o, struct gt_obj **out,
		  bool *gone, struct gt_err *err);

/*
 * Binds a pod to a node (POST pods/NAME/binding, and the scheduler): sets
 * spec.nodeName once (-ESTALE when already assigned elsewhere) and the
 * PodScheduled=True condition.  *out (may be NULL) gets the bound pod.
 */
int gt_api_bind(struct gt_api *api, const char *ns, const char *name, const char *node,
		struct gt_obj **out, struct gt_err *err);

/* The store under the api (borrowed). */
/*
 * The last `lines` lines of a container's log, fetched from the agent that
 * runs pod (a Pod object).  *body (malloc'd) and *len; 0 or negative errno.
 */
int gt_api_pod_log_tail(struct gt_api *api, const json_t *pod, const char *container, int lines,
			char **body, size_t *len, struct gt_err *err);

struct gt_store *gt_api_store(struct gt_api *api);

#endif
