/*
 * jsonpath.h - the small JSONPath subset that CRD additionalPrinterColumns
 * and kubectl-style simple paths use (k8s.io/client-go/util/jsonpath with
 * AllowMissingKeys).
 *
 * Supported: an optional {...} wrapper and leading $; .field (backslash
 * escapes, e.g. .metadata.annotations.example\.com/x); .* and [*];
 * ['key.with.dots'] and ["key"]; [n] and [-n]; slices [a:b], [a:], [-1:],
 * [a:b:step]; filters [?(@.type=="Ready")] with ==, !=, <, >, <=, >=
 * against a string, number or true/false literal, and [?(@.x)] for
 * existence.  Not supported (an error): recursive descent (..), unions
 * ([0,1]), range/end templates, text outside one {...} block.
 *
 * Missing keys, out-of-range indices and type mismatches are not errors:
 * they yield no match, as AllowMissingKeys(true) does in Kubernetes.
 */
#ifndef GT_API_JSONPATH_H
#define GT_API_JSONPATH_H

#include "base/err.h"
#include "codec/json.h"

/*
 * Evaluates path against obj and returns the first match: *out is a new
 * reference to it, or NULL when nothing matches.  This is what the CRD
 * Table printer shows (`results[0][0]`).  Returns 0, or -EINVAL with err set
 * for a syntax error or unsupported construct.
 */
int gt_jsonpath_eval(const json_t *obj, const char *path, json_t **out, struct gt_err *err);

/*
 * Like gt_jsonpath_eval but *out is a new JSON array of every match in
 * document order (NULL when nothing matches).
 */
int gt_jsonpath_eval_all(const json_t *obj, const char *path, json_t **out,
			 struct gt_err *err);

/* Checks the syntax only (for validating CRD printer columns). 0 or -EINVAL. */
int gt_jsonpath_check(const char *path, struct gt_err *err);

#endif
