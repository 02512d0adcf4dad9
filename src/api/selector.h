/*
 * selector.h - label selectors and field selectors, as the list and watch
 * verbs (?labelSelector=, ?fieldSelector=) and the controllers use them.
 *
 * Label selectors follow k8s.io/apimachinery/pkg/labels: the string form
 * ("app in (p1,p2),tier!=x,!foo") is a comma-separated AND of requirements
 * (k=v, k==v, k!=v, k in (..), k notin (..), k, !k, k>n, k<n) with keys and
 * values validated like Kubernetes; the object form is a metav1.LabelSelector
 * ({"matchLabels":{..},"matchExpressions":[..]}).  Error messages reproduce
 * Kubernetes' ("unable to parse requirement: ...") so that clients see what
 * a real API server would say.
 *
 * Field selectors follow k8s.io/apimachinery/pkg/fields: a comma-separated
 * AND of f=v, f==v, f!=v where values may escape "\,", "\=" and "\\".  A
 * field label is a dotted path into the object (plus a few Kubernetes
 * aliases, see gt_fieldsel_match).
 *
 * Selectors are immutable after parsing and may be shared between threads.
 */
#ifndef GT_API_SELECTOR_H
#define GT_API_SELECTOR_H

#include <stdbool.h>

#include "base/err.h"
#include "codec/json.h"

struct gt_labelsel;
struct gt_fieldsel;

/*
 * Parses the string form of a label selector.  NULL, "" and all-blank
 * strings give a selector that matches everything.  On success *out is a
 * new selector (free with gt_labelsel_free) and 0 is returned; a malformed
 * selector returns -EINVAL with err set (*out untouched).
 */
int gt_labelsel_parse(const char *s, struct gt_labelsel **out, struct gt_err *err);

/*
 * Builds a selector from a metav1.LabelSelector object.  Like Kubernetes'
 * LabelSelectorAsSelector: NULL or JSON null gives a selector that matches
 * nothing; {} (no matchLabels, no matchExpressions) matches everything.
 * Operators In, NotIn, Exists, DoesNotExist.  Returns 0 and a new *out, or
 * -EINVAL with err set (invalid key, value or operator; not an object).
 */
int gt_labelsel_from_object(const json_t *sel, struct gt_labelsel **out, struct gt_err *err);

/*
 * Builds an equality selector from a plain label map ({"app":"web"}), as
 * Service.spec.selector and nodeSelector are written.  NULL or {} matches
 * everything.  Returns 0 and a new *out, or -EINVAL with err set.
 */
int gt_labelsel_from_map(const json_t *map, struct gt_labelsel **out, struct gt_err *err);

/*
 * True when `labels` (a JSON object of string values, or NULL for none)
 * satisfies every requirement.  A NULL selector matches everything.
 */
bool gt_labelsel_match(const struct gt_labelsel *s, const json_t *labels);

/* True when s (NULL allowed) matches every label set. */
bool gt_labelsel_empty(const struct gt_labelsel *s);

/*
 * Canonical string form (requirements sorted by key, values sorted), as
 * Kubernetes' Selector.String(): "a=b,c in (x,y),!d".  "" for an empty or
 * nothing selector.  Returns a new string; caller frees.
 */
char *gt_labelsel_string(const struct gt_labelsel *s);

/*
 * Renders a metav1.LabelSelector object in the string form (used for the
 * Scale subresource's status.selector and the -o wide Selector column).
 * Returns a new string (caller frees): "" for NULL / null / {} and
 * "<error>" when the object does not convert (bad operator, key or value).
 */
char *gt_labelsel_object_string(const json_t *sel);

/* Frees a selector; NULL allowed. */
void gt_labelsel_free(struct gt_labelsel *s);

/*
 * Parses the string form of a field selector.  NULL and "" match
 * everything.  Returns 0 and a new *out (free with gt_fieldsel_free), or
 * -EINVAL with err set ("invalid selector: '...'; can't understand '...'",
 * "invalid escape sequence: \x", unescaped ',' or '=' in a value).
 */
int gt_fieldsel_parse(const char *s, struct gt_fieldsel **out, struct gt_err *err);

/*
 * Checks that every term names a supported field: metadata.name,
 * metadata.namespace, or one of `allowed` (a NULL-terminated array, NULL
 * allowed; empty strings are skipped).  Returns 0, or -EINVAL with
 * "field label not supported: X".  A NULL selector passes.
 */
int gt_fieldsel_check(const struct gt_fieldsel *s, const char *const *allowed,
		      struct gt_err *err);

/*
 * Same, with `allowed` a fixed-size array of n entries that need not be
 * NULL-terminated (struct gt_resource.field_labels): stops at n or NULL.
 */
int gt_fieldsel_check_n(const struct gt_fieldsel *s, const char *const *allowed, size_t n,
			struct gt_err *err);

/*
 * True when obj satisfies every term.  A field label is a dotted JSON path
 * into obj; the value compares as its string form: strings as is, integers
 * in decimal, booleans "true"/"false", absent (or null, object, array) as "".
 * Kubernetes' non-path labels are mapped: Job "status.successful" reads
 * status.succeeded (absent = "0"), Node "spec.unschedulable" is "false" when
 * absent, Event "source" reads source.component, else reportingComponent.
 * A NULL selector matches everything.
 */
bool gt_fieldsel_match(const struct gt_fieldsel *s, const json_t *obj);

/*
 * When the selector requires metadata.name to equal a value (a "=" or "=="
 * term), sets *name to it (borrowed from s) and returns true, so callers can
 * turn a list into a single lookup.  The other terms still apply.
 */
bool gt_fieldsel_requires_name(const struct gt_fieldsel *s, const char **name);

/* True when s (NULL allowed) has no terms. */
bool gt_fieldsel_empty(const struct gt_fieldsel *s);

/* Frees a selector; NULL allowed. */
void gt_fieldsel_free(struct gt_fieldsel *s);

#endif
