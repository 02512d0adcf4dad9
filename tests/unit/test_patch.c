/*
 * test_patch.c - unit tests for the three patch flavours (api/patch.h):
 * the strategic merge patches kubectl 1.20 really sent (reference §3.3),
 * apimachinery's list ordering and directives, the merge-key table, the
 * RFC 7386 and RFC 6902 appendix examples, and hostile inputs.
 */
#include "api/patch.h"
#include "t.h"

#include <stdlib.h>

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &e);

	if (!v) {
		fprintf(stderr, "bad test JSON: %s: %s\n", e.text, s);
		abort();
	}
	return v;
}

/* Compares v with the expected JSON text (arrays ordered, objects not). */
static int same(const json_t *v, const char *expect)
{
	json_t *e = J(expect);
	int ok = v && json_equal((json_t *)v, e);

	if (!ok) {
		char *got = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
		char *want = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

		fprintf(stderr, "  got:  %s\n  want: %s\n", got ? got : "(null)", want);
		free(got);
		free(want);
	}
	json_decref(e);
	return ok;
}

/* True when no object key anywhere starts with '$'. */
static int clean(const json_t *v)
{
	const char *k;
	json_t *m;

	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!clean(json_array_get(v, i)))
				return 0;
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m)
			if (k[0] == '$' || !clean(m))
				return 0;
	}
	return 1;
}

/* Strategic patch of target with patch (JSON texts); returns rc, *out the result. */
static int smp(const char *av, const char *kind, const char *target, const char *patch,
	       json_t **out, struct gt_err *err)
{
	json_t *t = J(target), *p = J(patch);
	char *before = json_dumps(t, JSON_COMPACT);
	int rc = gt_patch_strategic(av, kind, t, p, out, err);
	char *after = json_dumps(t, JSON_COMPACT);

	if (strcmp(before, after))
		fprintf(stderr, "  target was modified!\n"), rc = -1000;
	if (rc < 0 && *out)
		fprintf(stderr, "  *out set on error!\n"), rc = -1001;
	if (rc == 0 && !clean(*out))
		fprintf(stderr, "  directive stored!\n"), rc = -1002;
	free(before);
	free(after);
	json_decref(t);
	json_decref(p);
	return rc;
}

/* Runs a strategic patch expected to succeed and compares the result. */
static int smp_ok(const char *av, const char *kind, const char *target, const char *patch,
		  const char *expect)
{
	struct gt_err err = { 0 };
	json_t *out = NULL;
	int rc = smp(av, kind, target, patch, &out, &err), ok;

	if (rc)
		fprintf(stderr, "  rc %d: %s\n", rc, err.msg);
	ok = !rc && same(out, expect);
	json_decref(out);
	return ok;
}

/* Runs a strategic patch expected to fail with code; err message must contain needle. */
static int smp_fail(const char *av, const char *kind, const char *target, const char *patch,
		    int code, const char *needle)
{
	struct gt_err err = { 0 };
	json_t *out = NULL;
	int rc = smp(av, kind, target, patch, &out, &err);

	if (rc != code || (needle && !strstr(err.msg, needle))) {
		fprintf(stderr, "  rc %d (want %d): %s\n", rc, code, err.msg);
		json_decref(out);
		return 0;
	}
	return !out;
}

#define DEPLOY "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\""

/* The patch kubectl 1.20 produced in the reference capture (§3.3). */
TEST(smp_kubectl_apply_big)
{
	const char *live =
		"{" DEPLOY ",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
		"\"finalizers\":[\"example.com/a\"],"
		"\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"old\"}},"
		"\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		"\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\",\"maxUnavailable\":\"25%\"}},"
		"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
		"\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"sleep\",\"1d\"],"
		"\"env\":[{\"name\":\"X\",\"value\":\"1\"},{\"name\":\"Y\",\"value\":\"2\"}]},"
		"{\"name\":\"b\",\"image\":\"nginx\"}],"
		"\"volumes\":[{\"name\":\"v1\",\"emptyDir\":{}}]}}},"
		"\"status\":{\"replicas\":1}}";
	const char *patch =
		"{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"example.com/a\"],"
		"\"$setElementOrder/finalizers\":[\"example.com/b\"],"
		"\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"new\"},"
		"\"finalizers\":[\"example.com/b\"]},"
		"\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"rollingUpdate\":null,\"type\":\"Recreate\"},"
		"\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],"
		"\"$setElementOrder/volumes\":[{\"name\":\"v1\"}],"
		"\"containers\":[{\"$setElementOrder/env\":[{\"name\":\"Y\"},{\"name\":\"Z\"}],"
		"\"env\":[{\"name\":\"Z\",\"value\":\"3\"},{\"$patch\":\"delete\",\"name\":\"X\"}],\"name\":\"a\"},"
		"{\"$patch\":\"delete\",\"name\":\"b\"}],"
		"\"volumes\":[{\"$retainKeys\":[\"configMap\",\"name\"],\"configMap\":{\"name\":\"cfg\"},"
		"\"emptyDir\":null,\"name\":\"v1\"}]}}}}";
	const char *want =
		"{" DEPLOY ",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
		"\"finalizers\":[\"example.com/b\"],"
		"\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"new\"}},"
		"\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		"\"strategy\":{\"type\":\"Recreate\"},"
		"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
		"\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"sleep\",\"1d\"],"
		"\"env\":[{\"name\":\"Y\",\"value\":\"2\"},{\"name\":\"Z\",\"value\":\"3\"}]}],"
		"\"volumes\":[{\"name\":\"v1\",\"configMap\":{\"name\":\"cfg\"}}]}}},"
		"\"status\":{\"replicas\":1}}";

	CHECK(smp_ok("apps/v1", "Deployment", live, patch, want));
}

TEST(smp_kubectl_set_image)
{
	CHECK(smp_ok("apps/v1", "Deployment",
		      "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.20\","
		      "\"ports\":[{\"containerPort\":80}]},{\"name\":\"side\",\"image\":\"s\"}]}}}}",
		      "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"nginx\"}],"
		      "\"containers\":[{\"image\":\"nginx:1.21\",\"name\":\"nginx\"}]}}}}",
		      "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.21\","
		      "\"ports\":[{\"containerPort\":80}]},{\"name\":\"side\",\"image\":\"s\"}]}}}}"));
}

#define ENV3 "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}," \
	"{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"C\",\"value\":\"3\"}]}]}}"

TEST(smp_list_order)
{
	/* Changing a middle item keeps its place. */
	CHECK(smp_ok("v1", "Pod", ENV3,
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"B\",\"value\":\"x\"}]}]}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},"
		     "{\"name\":\"B\",\"value\":\"x\"},{\"name\":\"C\",\"value\":\"3\"}]}]}}"));
	/* apimachinery: a new item without $setElementOrder goes in front. */
	CHECK(smp_ok("v1", "Pod", ENV3,
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"D\",\"value\":\"4\"}]}]}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"D\",\"value\":\"4\"},"
		     "{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"C\",\"value\":\"3\"}]}]}}"));
	/* ... and where $setElementOrder puts it. */
	CHECK(smp_ok("v1", "Pod", ENV3,
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"$setElementOrder/env\":[{\"name\":\"A\"},"
		     "{\"name\":\"B\"},{\"name\":\"D\"},{\"name\":\"C\"}],\"env\":[{\"name\":\"D\",\"value\":\"4\"}]}]}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},"
		     "{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"D\",\"value\":\"4\"},{\"name\":\"C\",\"value\":\"3\"}]}]}}"));
	/* Pure reorder: $setElementOrder without the list. */
	CHECK(smp_ok("v1", "Pod", ENV3,
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"$setElementOrder/env\":[{\"name\":\"C\"},"
		     "{\"name\":\"A\"},{\"name\":\"B\"}]}]}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"C\",\"value\":\"3\"},"
		     "{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]}]}}"));
	/*
	 * Items not in the order list are interleaved by live position
	 * (mergeSortedSlice): B (live 1) goes before C (live 2).
	 */
	CHECK(smp_ok("v1", "Pod", ENV3,
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"$setElementOrder/env\":[{\"name\":\"C\"},"
		     "{\"name\":\"A\"}]}]}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"B\",\"value\":\"2\"},"
		     "{\"name\":\"C\",\"value\":\"3\"},{\"name\":\"A\",\"value\":\"1\"}]}]}}"));
	/* The order list must agree with the patch list. */
	CHECK(smp_fail("v1", "Pod", ENV3,
		       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"$setElementOrder/env\":[{\"name\":\"A\"}],"
		       "\"env\":[{\"name\":\"D\",\"value\":\"4\"}]}]}}",
		       -EINVAL, "spec.containers[0].env"));
}

TEST(smp_patch_directives)
{
	/* $patch: replace as a list element replaces the list. */
	CHECK(smp_ok("v1", "Pod", ENV3,
		     "{\"spec\":{\"containers\":[{\"$patch\":\"replace\"},{\"name\":\"z\",\"image\":\"i\","
		     "\"env\":[{\"$patch\":\"delete\",\"name\":\"Q\"},{\"name\":\"E\",\"value\":\"5\"}]}]}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"z\",\"image\":\"i\",\"env\":[{\"name\":\"E\",\"value\":\"5\"}]}]}}"));
	/* $patch: replace / delete in a map. */
	CHECK(smp_ok("apps/v1", "Deployment",
		     "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}}}",
		     "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"c\":\"3\",\"d\":null}}}}}",
		     "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"c\":\"3\"}}}}}"));
	CHECK(smp_ok("apps/v1", "Deployment",
		     "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"a\":\"1\"}}}}}",
		     "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"$patch\":\"delete\"}}}}}",
		     "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{}}}}}"));
	/* $patch: merge is the default. */
	CHECK(smp_ok("v1", "ConfigMap", "{\"data\":{\"a\":\"1\"}}",
		     "{\"data\":{\"$patch\":\"merge\",\"b\":\"2\"}}", "{\"data\":{\"a\":\"1\",\"b\":\"2\"}}"));
	/* Deleting a container, twice and absent. */
	CHECK(smp_ok("v1", "Pod",
		     "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}",
		     "{\"spec\":{\"containers\":[{\"$patch\":\"delete\",\"name\":\"b\"},{\"$patch\":\"delete\",\"name\":\"zz\"}]}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}"));
	/* $deleteFromPrimitiveList alone. */
	CHECK(smp_ok("v1", "ConfigMap", "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
		     "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\",\"zz\"]}}",
		     "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}"));
	/* Scalar merge list: union, ordered by $setElementOrder. */
	CHECK(smp_ok("v1", "ConfigMap", "{\"metadata\":{\"finalizers\":[\"a\"]}}",
		     "{\"metadata\":{\"$setElementOrder/finalizers\":[\"a\",\"b\"],\"finalizers\":[\"b\"]}}",
		     "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}"));
	CHECK(smp_ok("v1", "ConfigMap", "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
		     "{\"metadata\":{\"finalizers\":[\"b\",\"c\"]}}",
		     "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}"));
}

TEST(smp_basic_rules)
{
	/* Maps merge, null deletes, plain maps (ConfigMap data). */
	CHECK(smp_ok("v1", "ConfigMap", "{\"data\":{\"a\":\"1\",\"b\":\"2\"},\"x\":1}",
		     "{\"data\":{\"a\":\"3\",\"b\":null,\"c\":null}}", "{\"data\":{\"a\":\"3\"},\"x\":1}"));
	/* Lists without a strategy are replaced: command, tolerations. */
	CHECK(smp_ok("v1", "Pod",
		     "{\"spec\":{\"tolerations\":[{\"key\":\"a\"}],\"containers\":[{\"name\":\"c\",\"command\":[\"a\",\"b\"]}]}}",
		     "{\"spec\":{\"tolerations\":[{\"key\":\"b\",\"value\":null}],\"containers\":[{\"name\":\"c\",\"command\":[\"x\"]}]}}",
		     "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}],\"containers\":[{\"name\":\"c\",\"command\":[\"x\"]}]}}"));
	/* Unknown kinds: lists replace. */
	CHECK(smp_ok("example.com/v1", "Thing", "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"b\"}]}}", "{\"spec\":{\"containers\":[{\"name\":\"b\"}]}}"));
	/* Type mismatches: the patch value replaces. */
	CHECK(smp_ok("v1", "Pod", "{\"spec\":{\"containers\":[{\"name\":\"a\"}],\"x\":\"s\",\"y\":{\"a\":1}}}",
		     "{\"spec\":{\"containers\":\"oops\",\"x\":[{\"$patch\":\"delete\",\"q\":1}],\"y\":[1]}}",
		     "{\"spec\":{\"containers\":\"oops\",\"x\":[{}],\"y\":[1]}}"));
	CHECK(smp_ok("v1", "Pod", "{\"spec\":{\"containers\":\"oops\"}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"a\",\"$setElementOrder/env\":[{\"name\":\"E\"}],"
		     "\"env\":[{\"name\":\"E\",\"value\":null}]}]}}",
		     "{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"E\"}]}]}}"));
	/* New subtrees from the patch are stored without directives. */
	CHECK(smp_ok("v1", "Pod", "{\"spec\":{}}",
		     "{\"spec\":{\"volumes\":[{\"$retainKeys\":[\"name\",\"secret\"],\"name\":\"v\",\"secret\":{\"secretName\":\"s\"}}],"
		     "\"$setElementOrder/volumes\":[{\"name\":\"v\"}]}}",
		     "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"secret\":{\"secretName\":\"s\"}}]}}"));
	/* $setElementOrder on a list without merge strategy is just dropped. */
	CHECK(smp_ok("v1", "Pod", "{\"spec\":{\"tolerations\":[{\"key\":\"a\"}]}}",
		     "{\"spec\":{\"$setElementOrder/tolerations\":[{\"key\":\"b\"}]}}",
		     "{\"spec\":{\"tolerations\":[{\"key\":\"a\"}]}}"));
}

TEST(smp_merge_keys_per_kind)
{
	CHECK(smp_ok("v1", "Service", "{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\"},{\"port\":443}]}}",
		     "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080}]}}",
		     "{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\",\"targetPort\":8080},{\"port\":443}]}}"));
	CHECK(smp_ok("v1", "ServiceAccount", "{\"secrets\":[{\"name\":\"a\"}]}",
		     "{\"$setElementOrder/secrets\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"secrets\":[{\"name\":\"b\"}]}",
		     "{\"secrets\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"));
	CHECK(smp_ok("v1", "Pod", "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"},"
		     "{\"type\":\"Scheduled\",\"status\":\"True\"}],\"podIPs\":[{\"ip\":\"10.0.0.1\"}]}}",
		     "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],\"podIPs\":[{\"ip\":\"fd00::1\"}]}}",
		     "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
		     "{\"type\":\"Scheduled\",\"status\":\"True\"}],\"podIPs\":[{\"ip\":\"fd00::1\"},{\"ip\":\"10.0.0.1\"}]}}"));
	CHECK(smp_ok("v1", "Node", "{\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"h\"}]}}",
		     "{\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"h2\"}]}}",
		     "{\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"h2\"}]}}"));
	CHECK(smp_ok("batch/v1", "CronJob",
		     "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\"}]}}}}}}",
		     "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"2\"}]}}}}}}",
		     "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\",\"image\":\"2\"}]}}}}}}"));
	CHECK(smp_ok("batch/v1", "Job", "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"u1\",\"name\":\"x\"}]},"
		     "\"status\":{\"conditions\":[{\"type\":\"Complete\",\"status\":\"False\"}]}}",
		     "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"u1\",\"controller\":true}]},"
		     "\"status\":{\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}",
		     "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"u1\",\"name\":\"x\",\"controller\":true}]},"
		     "\"status\":{\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}"));
	/* Container ports merge by containerPort; 80 and 80.0 are the same key. */
	CHECK(smp_ok("v1", "Pod", "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"ports\":[{\"containerPort\":80}],"
		     "\"volumeMounts\":[{\"mountPath\":\"/a\",\"name\":\"x\"}]}]}}",
		     "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"ports\":[{\"containerPort\":80.0,\"name\":\"h\"}],"
		     "\"volumeMounts\":[{\"mountPath\":\"/a\",\"readOnly\":true}]}]}}",
		     "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"ports\":[{\"containerPort\":80.0,\"name\":\"h\"}],"
		     "\"volumeMounts\":[{\"mountPath\":\"/a\",\"name\":\"x\",\"readOnly\":true}]}]}}"));
}

TEST(smp_errors)
{
	CHECK(smp_fail("apps/v1", "Deployment", "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}}}",
		       "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}",
		       -EINVAL, "spec.template.spec.containers[0]: list element is missing its merge key \"name\""));
	CHECK(smp_fail("v1", "Pod", "{}", "{\"spec\":{\"containers\":[\"a\"]}}", -EINVAL, "spec.containers[0]"));
	CHECK(smp_fail("v1", "Pod", "{}", "{\"spec\":{\"containers\":[{\"$patch\":\"delete\"}]}}", -EINVAL, "merge key"));
	CHECK(smp_fail("v1", "Pod", "{}", "{\"spec\":{\"containers\":[{\"$patch\":\"nope\",\"name\":\"a\"}]}}", -EINVAL, "$patch"));
	CHECK(smp_fail("v1", "Pod", "{}", "{\"spec\":{\"$patch\":1}}", -EINVAL, "spec: unknown $patch"));
	CHECK(smp_fail("v1", "Pod", "{}", "{\"spec\":{\"$setElementOrder/containers\":{}}}", -EINVAL, "$setElementOrder"));
	CHECK(smp_fail("v1", "Pod", "{}", "{\"spec\":{\"$setElementOrder/containers\":[\"a\"]}}", -EINVAL, "merge key"));
	CHECK(smp_fail("v1", "Pod", "{}", "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":\"a\"}}", -EINVAL, "metadata.finalizers"));
	CHECK(smp_fail("v1", "Pod", "{}", "{\"metadata\":{\"finalizers\":[{\"a\":1}]}}", -EINVAL, "metadata.finalizers[0]"));
	CHECK(smp_fail("apps/v1", "Deployment", "{}", "{\"spec\":{\"strategy\":{\"$retainKeys\":\"type\"}}}", -EINVAL, "spec.strategy"));
	CHECK(smp_fail("apps/v1", "Deployment", "{}",
		       "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\",\"rollingUpdate\":{}}}}",
		       -EBADMSG, "rollingUpdate"));
	CHECK(smp_fail("v1", "Pod", "{}", "[]", -EINVAL, "JSON object"));
	CHECK(smp_fail("v1", "Pod", "{}", "\"x\"", -EINVAL, "JSON object"));
	CHECK(smp_fail("v1", "Pod", "[]", "{}", -EINVAL, "target"));
}

TEST(rule_table)
{
	const struct gt_patch_rule *r;

	r = gt_patch_rule_find("batch/v1", "CronJob", "spec.jobTemplate.spec.template.spec.containers.env");
	CHECK(r && r->strategy == GT_PATCH_MERGE && !strcmp(r->merge_key, "name"));
	r = gt_patch_rule_find("v1", "Pod", "spec.ephemeralContainers.volumeDevices");
	CHECK(r && !strcmp(r->merge_key, "devicePath"));
	r = gt_patch_rule_find("apps/v1", "StatefulSet", "spec.template.spec.volumes");
	CHECK(r && r->strategy == (GT_PATCH_MERGE | GT_PATCH_RETAIN_KEYS) && !strcmp(r->merge_key, "name"));
	r = gt_patch_rule_find("apps/v1", "Deployment", "spec.strategy");
	CHECK(r && r->strategy == GT_PATCH_RETAIN_KEYS);
	r = gt_patch_rule_find("apps/v1", "DaemonSet", "spec.template.spec.tolerations");
	CHECK(r && r->strategy == GT_PATCH_REPLACE);
	r = gt_patch_rule_find("v1", "Secret", "metadata.finalizers");
	CHECK(r && r->strategy == GT_PATCH_MERGE && !r->merge_key);
	r = gt_patch_rule_find("v1", "Namespace", "status.conditions");
	CHECK(r && !strcmp(r->merge_key, "type"));
	r = gt_patch_rule_find("v1", "Node", "status.addresses");
	CHECK(r && !strcmp(r->merge_key, "type"));
	CHECK(!gt_patch_rule_find("v1", "ConfigMap", "data"));
	CHECK(!gt_patch_rule_find("v1", "Pod", "spec"));
	CHECK(!gt_patch_rule_find("v1", "Pod", "spec.containersX"));
	CHECK(!gt_patch_rule_find("example.com/v1", "Deployment", "spec.template.spec.containers"));
	CHECK(!gt_patch_rule_find("v1", "Deployment", "spec.template.spec.containers"));
	CHECK(!gt_patch_rule_find("apps/v1", "Deployment", "spec.containers"));
}

/* RFC 7386 appendix A. */
TEST(merge_rfc7386)
{
	static const char *const cases[][3] = {
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
		{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
		{ "{\"a\":\"foo\"}", "null", "null" },
		{ "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
		{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
		/* Kubernetes usage: labels via kubectl label, scale. */
		{ "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"1\"}},\"spec\":{\"replicas\":1}}",
		  "{\"metadata\":{\"labels\":{\"tier\":\"fe\",\"a\":null}},\"spec\":{\"replicas\":3}}",
		  "{\"metadata\":{\"name\":\"x\",\"labels\":{\"tier\":\"fe\"}},\"spec\":{\"replicas\":3}}" },
		/* Directives mean nothing to a merge patch (arrays replace as is). */
		{ "{\"a\":[1]}", "{\"a\":[{\"$patch\":\"delete\"}]}", "{\"a\":[{\"$patch\":\"delete\"}]}" },
	};

	for (size_t i = 0; i < GT_ARRAY_SIZE(cases); i++) {
		json_t *t = J(cases[i][0]), *p = J(cases[i][1]), *out = NULL;
		char *before = json_dumps(t, JSON_ENCODE_ANY);
		struct gt_err err = { 0 };

		CHECK_INT(gt_patch_merge(t, p, &out, &err), 0);
		if (!same(out, cases[i][2])) {
			fprintf(stderr, "  merge case %zu\n", i);
			CHECK(0);
		}
		{
			char *after = json_dumps(t, JSON_ENCODE_ANY);

			CHECK_STR(after, before);
			free(after);
		}
		free(before);
		json_decref(t);
		json_decref(p);
		json_decref(out);
	}
	{
		json_t *p = J("{\"a\":1}"), *out = NULL;

		CHECK_INT(gt_patch_merge(NULL, p, &out, NULL), 0);
		CHECK(same(out, "{\"a\":1}"));
		json_decref(out);
		json_decref(p);
	}
}

/* Runs a JSON patch: returns rc; checks the target is untouched and *out NULL on error. */
static int jp(const char *target, const char *ops, const char *expect, struct gt_err *err)
{
	json_t *t = J(target), *o = J(ops), *out = NULL;
	char *before = json_dumps(t, JSON_ENCODE_ANY), *after;
	int rc = gt_patch_json(t, o, &out, err);

	after = json_dumps(t, JSON_ENCODE_ANY);
	if (strcmp(before, after))
		rc = -1000;
	if (rc < 0 && out)
		rc = -1001;
	if (rc == 0 && expect && !same(out, expect))
		rc = -1002;
	free(before);
	free(after);
	json_decref(t);
	json_decref(o);
	json_decref(out);
	return rc;
}

#define JP_OK(t, o, e) do { struct gt_err _e = { 0 }; int _rc = jp(t, o, e, &_e); \
	if (_rc) { fprintf(stderr, "  %s\n", _e.msg); } CHECK_INT(_rc, 0); } while (0)
#define JP_ERR(t, o, code, needle) do { struct gt_err _e = { 0 }; CHECK_INT(jp(t, o, NULL, &_e), code); \
	CHECK(strstr(_e.msg, needle) != NULL); } while (0)

/* RFC 6902 appendix A. */
TEST(json_rfc6902)
{
	JP_OK("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
	      "{\"baz\":\"qux\",\"foo\":\"bar\"}");                                                   /* A.1 */
	JP_OK("{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
	      "{\"foo\":[\"bar\",\"qux\",\"baz\"]}");                                                  /* A.2 */
	JP_OK("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]",
	      "{\"foo\":\"bar\"}");                                                                     /* A.3 */
	JP_OK("{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
	      "{\"foo\":[\"bar\",\"baz\"]}");                                                           /* A.4 */
	JP_OK("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
	      "{\"baz\":\"boo\",\"foo\":\"bar\"}");                                                     /* A.5 */
	JP_OK("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
	      "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
	      "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}");          /* A.6 */
	JP_OK("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
	      "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
	      "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}");                                        /* A.7 */
	JP_OK("{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
	      "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
	      NULL);                                                                                    /* A.8 */
	JP_ERR("{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]",
	       -EBADMSG, "test failed");                                                                /* A.9 */
	JP_OK("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
	      "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}");                                      /* A.10 */
	JP_OK("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]",
	      "{\"foo\":\"bar\",\"baz\":\"qux\"}");                                                     /* A.11 */
	JP_ERR("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]",
	       -EBADMSG, "not found");                                                                  /* A.12 */
	JP_OK("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]", NULL);       /* A.14 */
	JP_ERR("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]",
	       -EBADMSG, "test failed");                                                                /* A.15 */
	JP_OK("{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
	      "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}");                                                 /* A.16 */
}

TEST(json_more)
{
	/* Root, escapes, numbers, copy, kubectl-style label ops. */
	JP_OK("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"b\":2}}]", "{\"b\":2}");
	JP_OK("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":[1]}]", "[1]");
	JP_OK("{\"a/b\":{\"c~d\":1}}", "[{\"op\":\"remove\",\"path\":\"/a~1b/c~0d\"}]", "{\"a/b\":{}}");
	JP_OK("{\"n\":1,\"o\":{\"x\":[1,2.5]}}",
	      "[{\"op\":\"test\",\"path\":\"/n\",\"value\":1.0},{\"op\":\"test\",\"path\":\"/o\",\"value\":{\"x\":[1.0,2.5]}}]", NULL);
	JP_OK("{\"a\":{\"b\":[1]}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"},{\"op\":\"add\",\"path\":\"/c/b/0\",\"value\":0}]",
	      "{\"a\":{\"b\":[1]},\"c\":{\"b\":[0,1]}}");
	JP_OK("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]", "{\"a\":1}");
	JP_OK("{\"metadata\":{\"labels\":{\"app\":\"x\"}}}",
	      "[{\"op\":\"add\",\"path\":\"/metadata/labels/app.kubernetes.io~1name\",\"value\":\"y\"},"
	      "{\"op\":\"replace\",\"path\":\"/metadata/labels/app\",\"value\":\"z\"}]",
	      "{\"metadata\":{\"labels\":{\"app\":\"z\",\"app.kubernetes.io/name\":\"y\"}}}");
	JP_OK("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/2\",\"value\":3},{\"op\":\"remove\",\"path\":\"/a/0\"}]",
	      "{\"a\":[2,3]}");
	JP_OK("{}", "[]", "{}");

	/* Errors: 422 for operations, 400 for the document, 413 for size. */
	JP_ERR("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/b\"}]", -EBADMSG, "operation 0 (remove \"/b\")");
	JP_ERR("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":1}]", -EBADMSG, "not found");
	JP_ERR("{\"a\":[1]}", "[{\"op\":\"replace\",\"path\":\"/a/-\",\"value\":1}]", -EBADMSG, "not found");
	JP_ERR("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/01\",\"value\":1}]", -EBADMSG, "out of range");
	JP_ERR("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/3\",\"value\":1}]", -EBADMSG, "out of range");
	JP_ERR("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/-1\",\"value\":1}]", -EBADMSG, "out of range");
	JP_ERR("{\"a\":{}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b\"}]", -EBADMSG, "own child");
	JP_ERR("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a~2\",\"value\":1}]", -EBADMSG, "escape");
	JP_ERR("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", -EBADMSG, "start with '/'");
	JP_ERR("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":1}]", -EBADMSG, "not an object or array");
	JP_ERR("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"\"}]", -EBADMSG, "whole document");
	JP_ERR("{\"a\":1}", "[{\"op\":\"jump\",\"path\":\"/a\"}]", -EBADMSG, "unknown");
	JP_ERR("{\"a\":1}", "[{\"path\":\"/a\"}]", -EBADMSG, "unknown or missing");
	JP_ERR("{\"a\":1}", "[{\"op\":\"add\",\"value\":1}]", -EBADMSG, "missing \"path\"");
	JP_ERR("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\"}]", -EBADMSG, "missing \"value\"");
	JP_ERR("{\"a\":1}", "[{\"op\":\"copy\",\"path\":\"/b\"}]", -EBADMSG, "missing \"from\"");
	JP_ERR("{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/x\",\"path\":\"/b\"}]", -EBADMSG, "not found");
	JP_ERR("{\"a\":1}", "{\"op\":\"add\"}", -EINVAL, "array");
	JP_ERR("{\"a\":1}", "[1]", -EINVAL, "operation 0 is not an object");
	/* Atomic: the first op succeeded, the second failed: nothing comes back. */
	JP_ERR("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]",
	       -EBADMSG, "operation 1");
}

TEST(json_limits)
{
	struct gt_err err = { 0 };
	json_t *t = J("{\"a\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}"), *ops = json_array(), *out = NULL;

	/* Doubling copies: 2^40 values if allowed. */
	for (int i = 0; i < 40; i++)
		json_array_append_new(ops, J("{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/a/-\"}"));
	CHECK_INT(gt_patch_json(t, ops, &out, &err), -E2BIG);
	CHECK(!out);
	json_array_clear(ops);
	for (int i = 0; i <= GT_PATCH_MAX_OPS; i++)
		json_array_append_new(ops, J("{\"op\":\"test\",\"path\":\"/a/0\",\"value\":0}"));
	CHECK_INT(gt_patch_json(t, ops, &out, &err), -E2BIG);
	json_array_remove(ops, 0);
	CHECK_INT(gt_patch_json(t, ops, &out, &err), 0);
	json_decref(out);
	json_decref(ops);
	json_decref(t);
}

/* A chain {"a":{"a":...}} n deep (built iteratively). */
static json_t *deep(int n)
{
	json_t *v = json_object();

	for (int i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "a", v);
		v = o;
	}
	return v;
}

TEST(hostile)
{
	struct gt_err err = { 0 };
	json_t *t = J("{}"), *p = deep(GT_PATCH_MAX_DEPTH + 50), *out = NULL;

	CHECK_INT(gt_patch_strategic("v1", "Pod", t, p, &out, &err), -EINVAL);
	CHECK(!out && strstr(err.msg, "deeper"));
	CHECK_INT(gt_patch_merge(t, p, &out, &err), -EINVAL);
	CHECK(!out);
	json_decref(p);
	p = deep(1000);
	CHECK_INT(gt_patch_strategic("v1", "Pod", t, p, &out, &err), 0);
	json_decref(out);
	CHECK_INT(gt_patch_merge(t, p, &out, &err), 0);
	json_decref(out);
	json_decref(p);
	json_decref(t);

	/* Huge merge lists stay fast (hash matching): 50k env vars, half updated. */
	{
		json_t *env = json_array(), *penv = json_array(), *order = json_array();
		int n = 50000;

		for (int i = 0; i < n; i++) {
			char name[32];

			snprintf(name, sizeof(name), "V%d", i);
			json_array_append_new(env, json_pack("{s:s,s:i}", "name", name, "value", i));
			if (i % 2)
				json_array_append_new(penv, json_pack("{s:s,s:s}", "name", name, "value", "x"));
			json_array_append_new(order, json_pack("{s:s}", "name", name));
		}
		t = json_pack("{s:{s:[{s:s,s:o}]}}", "spec", "containers", "name", "c", "env", env);
		p = json_pack("{s:{s:[{s:s,s:o,s:o}]}}", "spec", "containers", "name", "c", "env", penv,
			      "$setElementOrder/env", order);
		CHECK_INT(gt_patch_strategic("v1", "Pod", t, p, &out, &err), 0);
		{
			json_t *e = gt_json_path(json_array_get(gt_json_path(out, "spec.containers"), 0), "env");

			CHECK_INT(json_array_size(e), n);
			CHECK_STR(json_string_value(json_object_get(json_array_get(e, 1), "value")), "x");
			CHECK_INT(json_integer_value(json_object_get(json_array_get(e, n - 2), "value")), n - 2);
		}
		json_decref(out);
		json_decref(t);
		json_decref(p);
	}

	/* Non-object patches. */
	t = J("{\"a\":1}");
	p = J("[1,2]");
	CHECK_INT(gt_patch_strategic("v1", "Pod", t, p, &out, &err), -EINVAL);
	CHECK_INT(gt_patch_merge(t, p, &out, &err), 0);
	CHECK(same(out, "[1,2]"));
	json_decref(out);
	json_decref(p);
	p = J("{\"op\":\"add\"}");
	CHECK_INT(gt_patch_json(t, p, &out, &err), -EINVAL);
	CHECK_INT(gt_patch_json(t, NULL, &out, &err), -EINVAL);
	CHECK_INT(gt_patch_merge(t, NULL, &out, &err), -EINVAL);
	json_decref(p);
	json_decref(t);
}

TEST(strip_directives)
{
	json_t *v = J("{\"$patch\":\"replace\",\"a\":{\"$retainKeys\":[\"x\"],\"x\":1},"
		      "\"l\":[{\"$setElementOrder/env\":[],\"$deleteFromPrimitiveList/f\":[],\"n\":1}],\"$other\":1}");

	gt_patch_strip_directives(v);
	CHECK(same(v, "{\"a\":{\"x\":1},\"l\":[{\"n\":1}],\"$other\":1}"));
	gt_patch_strip_directives(NULL);
	json_decref(v);
}

int main(void)
{
	RUN(smp_kubectl_apply_big);
	RUN(smp_kubectl_set_image);
	RUN(smp_list_order);
	RUN(smp_patch_directives);
	RUN(smp_basic_rules);
	RUN(smp_merge_keys_per_kind);
	RUN(smp_errors);
	RUN(rule_table);
	RUN(merge_rfc7386);
	RUN(json_rfc6902);
	RUN(json_more);
	RUN(json_limits);
	RUN(hostile);
	RUN(strip_directives);
	return t_done();
}
