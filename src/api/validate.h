/*
 * validate.h - server-side validation of the built-in kinds, with
 * Kubernetes' field paths, messages and 400/422 split.
 *
 * The API server calls, for every create and update of a built-in kind:
 *
 *     gt_defaults_apply(r, obj);            (api/defaults.h)
 *     gt_defaults_job_selector(obj, uid);   (Jobs, on create)
 *     rc = gt_validate(r, obj, old, &err);
 *
 * Two kinds of failure come back, exactly as from a real API server:
 *
 *  -EINVAL (400 BadRequest): the body cannot be decoded into the Go types,
 *     e.g. `Pod in version "v1" cannot be handled as a Pod: json: cannot
 *     unmarshal bool into Go struct field ObjectMeta.metadata.name of type
 *     string`, a malformed quantity, invalid base64 in Secret data.  No
 *     causes.
 *  -EBADMSG (422 Invalid): err->msg is `<Kind>[.<group>] "<name>" is
 *     invalid: <error>` (several errors: `[<e1>, <e2>]`, as Go's aggregate
 *     prints them), and err->causes holds one cause per error (reason
 *     FieldValueRequired/Invalid/NotSupported/Duplicate/TooLong/Forbidden/
 *     NotFound, message like `Invalid value: "Foo_Bar": a lowercase RFC 1123
 *     subdomain must consist of ...`, field like `spec.containers[0].image`).
 *     The HTTP layer fills Status.details.kind from r->kind and
 *     details.name from metadata.name.
 *
 * Kinds without a dedicated validator (custom resources, RBAC, reviews,
 * other rows of the registry) get the metadata checks only.
 */
#ifndef GT_API_VALIDATE_H
#define GT_API_VALIDATE_H

#include "api/registry.h"
#include "base/err.h"
#include "codec/json.h"

/*
 * Validates obj (already defaulted) as a resource of r's kind.  old is the
 * stored object on update (NULL on create), for immutability checks.
 * Neither obj nor old is modified or retained.  Returns 0, -EINVAL (decode
 * error, 400) or -EBADMSG (422, causes filled).  err may be NULL.
 * Thread-safe (no shared state).
 */
int gt_validate(const struct gt_resource *r, const json_t *obj, const json_t *old,
		struct gt_err *err);

#endif
