/*
 * registry.h - the resource registry: one row per served resource (group,
 * version, plural, kind, scope, short names, subresources, field labels).
 * Built-in kinds are static rows; CustomResourceDefinitions add rows at run
 * time (gt_registry_add_crd), and every lookup sees them at once.
 *
 * Thread-safety: all functions may be called from any thread.  Returned
 * struct gt_resource pointers are reference-counted: call
 * gt_resource_unref() when done (static rows ignore it), because a CRD row
 * can be removed while a request still uses it.
 */
#ifndef GT_API_REGISTRY_H
#define GT_API_REGISTRY_H

#include <stdbool.h>

#include "codec/json.h"

enum gt_subresource {
	GT_SUB_STATUS = 1 << 0,
	GT_SUB_SCALE = 1 << 1,
	GT_SUB_LOG = 1 << 2,
	GT_SUB_EXEC = 1 << 3,     /* exec, attach, portforward */
	GT_SUB_BINDING = 1 << 4,
	GT_SUB_EVICTION = 1 << 5,
	GT_SUB_TOKEN = 1 << 6,
};

/* Which verbs a resource serves. */
enum gt_verbs {
	GT_VERBS_ALL = 0,     /* create delete deletecollection get list patch update watch */
	GT_VERBS_CREATE_ONLY, /* reviews: create */
	GT_VERBS_READ_ONLY,   /* computed, never stored (metrics.k8s.io): get list */
};

/* Which patch flavours apply (strategic merge only for built-in kinds). */
enum gt_patch_schema {
	GT_SCHEMA_NONE = 0,   /* custom resources: strategic merge → 415 */
	GT_SCHEMA_BUILTIN,    /* built-in kind: strategic merge with merge keys */
};

struct gt_resource {
	const char *group;        /* "" for core */
	const char *version;      /* "v1" */
	const char *plural;       /* "pods" */
	const char *singular;     /* "pod" */
	const char *kind;         /* "Pod" */
	const char *list_kind;    /* "PodList" */
	bool namespaced;
	const char *short_names[4];
	const char *categories[2];
	unsigned subresources;    /* enum gt_subresource bits */
	enum gt_verbs verbs;
	enum gt_patch_schema patch;
	bool has_spec;            /* generation follows .spec (else: all but metadata/status) */
	/* Extra field selector labels beyond metadata.name / metadata.namespace. */
	const char *field_labels[16];  /* NULL-terminated */

	/* Custom resources only (NULL / false for built-ins). */
	bool custom;
	char *crd_name;           /* "pytorchjobs.kubeflow.org" */
	json_t *printer_columns;  /* additionalPrinterColumns array (owned) */
	char *scale_spec_path;    /* ".spec.replicas" */
	char *scale_status_path;  /* ".status.replicas" */
	char *scale_selector_path;/* ".status.selector" or NULL */
	int refs;                 /* CRD rows only */
	bool storage;             /* this version is the storage version */
};

/* The apiVersion string ("v1", "apps/v1") for r into out (>= 128 bytes). */
void gt_resource_api_version(const struct gt_resource *r, char *out, size_t n);

/*
 * Finds a resource by group ("" core), version and plural.  Returns a
 * referenced row or NULL.
 */
const struct gt_resource *gt_registry_find(const char *group, const char *version,
					    const char *plural);
/* Finds by apiVersion ("apps/v1") and kind ("Deployment"). */
const struct gt_resource *gt_registry_find_kind(const char *api_version, const char *kind);
void gt_resource_unref(const struct gt_resource *r);

/*
 * Iterates all rows (built-in, then custom) in a stable order; fn returns
 * non-zero to stop.  The registry is read-locked during iteration: fn must
 * not call gt_registry_add_crd / gt_registry_remove_crd.
 */
void gt_registry_foreach(int (*fn)(const struct gt_resource *r, void *ctx), void *ctx);

/*
 * Registers (or replaces) the rows served by a CustomResourceDefinition
 * object (one row per served version).  Returns 0 or a negative errno with
 * err set when the CRD is unusable.
 */
int gt_registry_add_crd(const json_t *crd, struct gt_err *err);
/* Removes the rows of CRD `name` ("<plural>.<group>"). */
void gt_registry_remove_crd(const char *name);

/* Storage key prefix of a resource: "<group>/<plural>" ("core/pods"). */
void gt_resource_key_prefix(const struct gt_resource *r, char *out, size_t n);

#endif
