/*
 * validate_int.h - private interface shared by src/api/validate*.c (in the
 * spirit of SQLite's *Int.h headers; nothing outside validate*.c includes
 * it).
 *
 * Validation runs in two passes, as in the Kubernetes API server:
 *
 *  1. decode (validate_schema.c): the object is checked against a table of
 *     Go field types.  A wrong JSON type, an unparsable quantity or time, or
 *     bad base64 in a []byte field is what Go's decoder rejects with 400
 *     BadRequest: `json: cannot unmarshal bool into Go struct field
 *     ObjectMeta.metadata.name of type string`.
 *  2. semantic validation (validate_meta.c, validate_core.c,
 *     validate_apps.c, validate_ext.c): field-level errors gathered into a
 *     struct gt_vld and reported as 422 Invalid with Kubernetes' wording
 *     (k8s.io/apimachinery/pkg/util/validation/field).
 *
 * Field paths are plain strings built with gt_vld_path(); every check is
 * written against jansson values whose types pass 1 already proved, but the
 * code still tolerates any type (it never trusts its caller).
 */
#ifndef GT_API_VALIDATE_INT_H
#define GT_API_VALIDATE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "api/quantity.h"
#include "api/registry.h"
#include "base/err.h"
#include "codec/json.h"

#define GT_VLD_PATH 320   /* field path buffer */
#define GT_VLD_MSG 480    /* one validation message ("must be ...") */
#define GT_VLD_MAX_ERRS 256 /* errors collected per object */

/* ---- error collection (validate.c) ---- */

struct gt_vld {
	bool create;          /* old == NULL */
	char **errs;          /* "field: body", de-duplicated, in order */
	size_t nerrs, cap;
	struct gt_err *err;   /* causes go here as they are found */
};

/* Adds one error: field path, cause reason, body ("Required value", ...). */
void gt_vld_add(struct gt_vld *v, const char *field, const char *reason, const char *body);
/* field.Required: "Required value[: detail]". */
void gt_vld_required(struct gt_vld *v, const char *field, const char *detail);
/* field.Invalid with a preformatted Go value ("3", "map[string]string{}"). */
void gt_vld_invalid(struct gt_vld *v, const char *field, const char *govalue,
		    const char *detail);
/* field.Invalid with a string value (quoted like Go's %q). */
void gt_vld_invalid_str(struct gt_vld *v, const char *field, const char *value,
			const char *detail);
/* field.Invalid with an integer value. */
void gt_vld_invalid_int(struct gt_vld *v, const char *field, int64_t value, const char *detail);
/* field.NotSupported: valid is a NULL-terminated list. */
void gt_vld_not_supported(struct gt_vld *v, const char *field, const char *value,
			  const char *const *valid);
void gt_vld_duplicate_str(struct gt_vld *v, const char *field, const char *value);
void gt_vld_duplicate(struct gt_vld *v, const char *field, const char *govalue);
void gt_vld_forbidden(struct gt_vld *v, const char *field, const char *detail);
void gt_vld_too_long(struct gt_vld *v, const char *field, long max);
void gt_vld_not_found_str(struct gt_vld *v, const char *field, const char *value);

/* Go's %q of s into out (truncated, always NUL-terminated). */
void gt_vld_quote(const char *s, char *out, size_t n);
/* Go's %#v of a map[string]string held in a JSON object (keys sorted). */
char *gt_vld_gomap(const json_t *m);
/* Go's %v of a v1.LabelSelector (for "field is immutable"). */
char *gt_vld_goselector(const json_t *sel);

/* snprintf into a path buffer: gt_vld_path(buf, "%s.containers[%zu]", base, i). */
const char *gt_vld_path(char buf[GT_VLD_PATH], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- JSON helpers tolerant of any type (validate.c) ---- */

/* Member of an object, NULL when obj is not an object or the member is null. */
json_t *gt_vld_get(const json_t *obj, const char *key);
/* String member or NULL ("" counts as present). */
const char *gt_vld_str(const json_t *obj, const char *key);
/* True when the member is a non-empty string. */
bool gt_vld_has_str(const json_t *obj, const char *key);
/* Integer member into *out; false when absent or not an integer. */
bool gt_vld_int(const json_t *obj, const char *key, int64_t *out);
/* Boolean member, def when absent. */
bool gt_vld_bool(const json_t *obj, const char *key, bool def);
/*
 * A string value as a new C string (caller frees), NULL for a non-string;
 * an embedded NUL (JSON "\u0000") becomes '?', so that syntax checks
 * reject what C string handling would silently truncate.
 */
char *gt_vld_strdup(const json_t *s);
/* Array size (0 for a non-array). */
size_t gt_vld_len(const json_t *a);

/* ---- name and syntax checks returning Kubernetes' messages (validate_meta.c) ---- */

struct gt_vld_msgs {
	int n;
	char m[4][GT_VLD_MSG];
};

void gt_vld_is_dns1123_label(const char *s, struct gt_vld_msgs *out);
void gt_vld_is_dns1123_subdomain(const char *s, struct gt_vld_msgs *out);
void gt_vld_is_dns1035_label(const char *s, struct gt_vld_msgs *out);
void gt_vld_is_qualified_name(const char *s, struct gt_vld_msgs *out);
void gt_vld_is_label_value(const char *s, struct gt_vld_msgs *out);
void gt_vld_is_config_key(const char *s, struct gt_vld_msgs *out);
void gt_vld_is_env_name(const char *s, struct gt_vld_msgs *out);
void gt_vld_is_port_name(const char *s, struct gt_vld_msgs *out);
void gt_vld_is_path_segment(const char *s, struct gt_vld_msgs *out);
void gt_vld_is_percent(const char *s, struct gt_vld_msgs *out);
/* Reports each message as field.Invalid(field, quoted s, msg). */
void gt_vld_report(struct gt_vld *v, const char *field, const char *s,
		   const struct gt_vld_msgs *m);
/* Joins messages with "," (CRD style) into out. */
void gt_vld_join(const struct gt_vld_msgs *m, char *out, size_t n);

/* spec.topologySpreadConstraints (validate_spread.c). */
void gt_vld_spread(struct gt_vld *v, const json_t *list, const char *base);

/* How metadata.name is checked. */
enum gt_vld_name {
	GT_NAME_SUBDOMAIN = 0,
	GT_NAME_LABEL,        /* DNS-1123 label (Namespace) */
	GT_NAME_DNS1035,      /* DNS-1035 label (Service) */
	GT_NAME_SEGMENT,      /* path segment (RBAC) */
	GT_NAME_NONE,         /* not checked (reviews) */
};

/* ObjectMeta: name/generateName, namespace, labels, annotations, ... */
void gt_vld_meta(struct gt_vld *v, const json_t *meta, const char *path, enum gt_vld_name how);
/* map[string]string labels at path (keys qualified names, values label values). */
void gt_vld_labels(struct gt_vld *v, const json_t *labels, const char *path);
/* A metav1.LabelSelector at path. */
void gt_vld_selector(struct gt_vld *v, const json_t *sel, const char *path);
/*
 * Does selector sel match the label map? A NULL selector matches nothing,
 * an empty one everything (metav1.LabelSelectorAsSelector).  Returns -1
 * when the selector cannot be converted (bad operator).
 */
int gt_vld_selector_matches(const json_t *sel, const json_t *labels);
/* True when sel has neither matchLabels nor matchExpressions. */
bool gt_vld_selector_empty(const json_t *sel);
/* "must be greater than or equal to 0" for an integer member, if present. */
void gt_vld_nonneg(struct gt_vld *v, const json_t *obj, const char *key, const char *base);
/* "must be greater than 0" for an integer member, if present. */
void gt_vld_positive(struct gt_vld *v, const json_t *obj, const char *key, const char *base);
/* ValidatePositiveIntOrPercent + IsNotMoreThan100Percent of an intstr at path. */
void gt_vld_int_or_percent(struct gt_vld *v, const json_t *is, const char *path);
/* field is immutable: reports field.Invalid(path, newval, "field is immutable") when differ. */
void gt_vld_immutable(struct gt_vld *v, const json_t *nv, const json_t *ov, const char *path);

/* ---- decode pass (validate_schema.c) ---- */

struct gt_vld_type;
/* Schema of a kind (group, Kind) or NULL when only metadata is known. */
const struct gt_vld_type *gt_vld_schema(const char *group, const char *kind);
/*
 * Checks obj against the Go types of t (NULL: metadata only).  Returns 0 or
 * -EINVAL with err->msg = "json: cannot unmarshal ..." (no kind prefix).
 */
int gt_vld_decode(const json_t *obj, const struct gt_vld_type *t, struct gt_err *err);

/* A quantity member (string or number): false when absent, null or malformed. */
bool gt_vld_qty(const json_t *v, struct gt_quantity *q);

/* ---- per-group semantic validators ---- */

/* Pod spec flags. */
enum {
	GT_PS_RESTART_OPTIONAL = 1, /* Job templates: an absent restartPolicy is judged by the Job */
};
void gt_vld_podspec(struct gt_vld *v, const json_t *spec, const char *path, unsigned flags);
void gt_vld_pod_template(struct gt_vld *v, const json_t *tmpl, const char *path, unsigned flags);

void gt_vld_pod(struct gt_vld *v, const json_t *obj);
void gt_vld_pod_update(struct gt_vld *v, const json_t *obj, const json_t *old);
void gt_vld_service(struct gt_vld *v, const json_t *obj);
void gt_vld_service_update(struct gt_vld *v, const json_t *obj, const json_t *old);
void gt_vld_namespace(struct gt_vld *v, const json_t *obj);
void gt_vld_configmap(struct gt_vld *v, const json_t *obj);
void gt_vld_configmap_update(struct gt_vld *v, const json_t *obj, const json_t *old);
void gt_vld_secret(struct gt_vld *v, const json_t *obj);
void gt_vld_secret_update(struct gt_vld *v, const json_t *obj, const json_t *old);
void gt_vld_pvc(struct gt_vld *v, const json_t *obj);
void gt_vld_pvc_update(struct gt_vld *v, const json_t *obj, const json_t *old);
void gt_vld_node(struct gt_vld *v, const json_t *obj);
void gt_vld_event(struct gt_vld *v, const json_t *obj);

void gt_vld_deployment(struct gt_vld *v, const json_t *obj);
void gt_vld_replicaset(struct gt_vld *v, const json_t *obj);
void gt_vld_statefulset(struct gt_vld *v, const json_t *obj);
void gt_vld_statefulset_update(struct gt_vld *v, const json_t *obj, const json_t *old);
void gt_vld_daemonset(struct gt_vld *v, const json_t *obj);
/* validate_autoscaling.c */
void gt_vld_hpa(struct gt_vld *v, const json_t *obj);
void gt_vld_selector_update(struct gt_vld *v, const json_t *obj, const json_t *old);

void gt_vld_job(struct gt_vld *v, const json_t *obj);
void gt_vld_job_update(struct gt_vld *v, const json_t *obj, const json_t *old);
void gt_vld_cronjob(struct gt_vld *v, const json_t *obj);
void gt_vld_lease(struct gt_vld *v, const json_t *obj);
void gt_vld_crd(struct gt_vld *v, const json_t *obj);
void gt_vld_pytorchjob(struct gt_vld *v, const json_t *obj);
void gt_vld_mpijob(struct gt_vld *v, const json_t *obj);
void gt_vld_crd_update(struct gt_vld *v, const json_t *obj, const json_t *old);
void gt_vld_scale(struct gt_vld *v, const json_t *obj);
void gt_vld_pdb(struct gt_vld *v, const json_t *obj);

#endif
