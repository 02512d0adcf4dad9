/*
 * defaults.h - server-side defaulting of the built-in kinds, as the
 * Kubernetes API server applies it on every create and update (the v1
 * SetDefaults_* functions, plus what the REST strategies and default
 * admission plugins add on create: a Pod's serviceAccountName and
 * priority, a Namespace's "kubernetes" finalizer, a Job's selector).
 *
 * Order in the API server (create):
 *     gt_defaults_apply(r, obj);
 *     gt_defaults_job_selector(obj, uid);    (Jobs; needs metadata.name)
 *     gt_validate(r, obj, NULL, &err);
 * and on update:
 *     gt_defaults_apply(r, obj);
 *     gt_defaults_update(r, obj, old);
 *     gt_validate(r, obj, old, &err);
 *
 * Defaulting never fails and never overwrites a value of the wrong JSON
 * type: gt_validate reports those (400).  A JSON null counts as absent, as
 * for Go's pointers.  Status is left alone except Pod (phase Pending and
 * qosClass when absent), Namespace (phase Active) and PVC (phase Pending),
 * which Kubernetes sets on create.
 *
 * Thread-safety: pure functions on the caller's private object.
 */
#ifndef GT_API_DEFAULTS_H
#define GT_API_DEFAULTS_H

#include "api/registry.h"
#include "codec/json.h"

/*
 * Applies the defaults of r's kind (r->group, r->kind) to obj in place.
 * obj must be the caller's private copy.  Unknown kinds and custom
 * resources are left untouched.
 */
void gt_defaults_apply(const struct gt_resource *r, json_t *obj);

/*
 * Job selector generation (Kubernetes' job strategy, on create), unless
 * spec.manualSelector is true: template labels controller-uid,
 * batch.kubernetes.io/controller-uid (= uid), job-name,
 * batch.kubernetes.io/job-name (= metadata.name) where absent, and
 * spec.selector.matchLabels {"batch.kubernetes.io/controller-uid": uid}.
 * When the Job's own labels were copied from the template by
 * gt_defaults_apply (or are empty), they get the same labels (Kubernetes
 * shares the map, and defaults an empty label map from the template on the
 * next update anyway).
 * uid must be the uid the Job will be stored with.
 */
void gt_defaults_job_selector(json_t *job, const char *uid);

/*
 * Update-time defaults from the stored object: a Service keeps its
 * allocated clusterIP/clusterIPs, node ports and healthCheckNodePort when
 * the update leaves them empty (what kubectl apply/replace send).
 */
void gt_defaults_update(const struct gt_resource *r, json_t *obj, const json_t *old);

#endif
