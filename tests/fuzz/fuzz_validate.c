/*
 * fuzz_validate.c - libFuzzer harness for server-side defaulting and
 * validation (src/api/defaults.c, src/api/validate*.c).  The first byte
 * picks the kind (Pod, Service, Deployment, Job, CRD, a custom resource,
 * ...); the rest is parsed as JSON, defaulted and validated, on create and
 * as an update against itself and against the untouched parse.
 *
 * Checked: no crash, no leak; the result is 0, -EINVAL or -EBADMSG; a 422
 * has at least one cause; every message is valid UTF-8 (it ends up in a
 * JSON Status); defaulting is idempotent.  tests/fuzz/replay.c turns it
 * into a plain program that replays corpus/validate/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/defaults.h"
#include "api/validate.h"
#include "codec/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define R(g, k, ns) { .group = g, .version = "v1", .kind = k, .namespaced = ns }

static const struct gt_resource kinds[] = {
	R("", "Pod", true),
	R("", "Service", true),
	R("", "Namespace", false),
	R("", "ConfigMap", true),
	R("", "Secret", true),
	R("", "PersistentVolumeClaim", true),
	R("", "Node", false),
	R("", "Event", true),
	R("", "ServiceAccount", true),
	R("apps", "Deployment", true),
	R("apps", "ReplicaSet", true),
	R("apps", "StatefulSet", true),
	R("apps", "DaemonSet", true),
	R("batch", "Job", true),
	R("batch", "CronJob", true),
	R("coordination.k8s.io", "Lease", true),
	R("apiextensions.k8s.io", "CustomResourceDefinition", false),
	R("autoscaling", "Scale", true),
	R("rbac.authorization.k8s.io", "ClusterRole", false),
	{ .group = "kubeflow.org", .version = "v1", .kind = "PyTorchJob", .namespaced = true, .custom = true },
	{ .group = "autoscaling", .version = "v2", .kind = "HorizontalPodAutoscaler", .namespaced = true },
	R("policy", "PodDisruptionBudget", true),
	{ .group = "policy", .version = "v1", .kind = "Eviction", .verbs = GT_VERBS_CREATE_ONLY },
	{ .group = "kubeflow.org", .version = "v2beta1", .kind = "MPIJob", .namespaced = true },
};

static void utf8_ok(const char *s)
{
	json_t *v = json_string(s);

	if (!v)
		abort();
	json_decref(v);
}

static void check(int rc, const struct gt_err *e)
{
	if (rc != 0 && rc != -EINVAL && rc != -EBADMSG)
		abort();
	if (rc == -EBADMSG && e->ncauses < 1)
		abort();
	if (rc == 0)
		return;
	utf8_ok(e->msg);
	for (int i = 0; i < e->ncauses; i++) {
		utf8_ok(e->causes[i].field);
		utf8_ok(e->causes[i].reason);
		utf8_ok(e->causes[i].message);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct gt_resource *r;
	json_t *parsed, *obj, *again;
	struct gt_err e;
	int rc;

	if (size < 1)
		return 0;
	r = &kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))];
	if (gt_json_parse((const char *)data + 1, size - 1, &parsed, NULL) < 0)
		return 0;

	obj = json_deep_copy(parsed);
	gt_defaults_apply(r, obj);
	if (!strcmp(r->kind, "Job"))
		gt_defaults_job_selector(obj, "0b5e7a2c-1111-4222-8333-444455556666");
	again = json_deep_copy(obj);
	gt_defaults_apply(r, again);
	if (!strcmp(r->kind, "Job"))
		gt_defaults_job_selector(again, "0b5e7a2c-1111-4222-8333-444455556666");
	if (!json_equal(obj, again))
		abort();
	json_decref(again);

	rc = gt_validate(r, obj, NULL, &e);
	check(rc, &e);
	/* update against itself, and against the raw parse (any shape) */
	rc = gt_validate(r, obj, obj, &e);
	check(rc, &e);
	again = json_deep_copy(parsed);
	gt_defaults_apply(r, again);
	gt_defaults_update(r, again, obj);
	rc = gt_validate(r, again, parsed, &e);
	check(rc, &e);
	rc = gt_validate(r, parsed, again, NULL);
	if (rc != 0 && rc != -EINVAL && rc != -EBADMSG)
		abort();

	json_decref(again);
	json_decref(obj);
	json_decref(parsed);
	return 0;
}
