/*
 * fuzz_selector.c - libFuzzer harness for the selector parsers and the
 * JSONPath evaluator: every input is parsed as a label selector, a field
 * selector and a JSONPath.  Checks, beyond "no crash": a label selector's
 * canonical string parses back to the same string.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/jsonpath.h"
#include "api/selector.h"

static json_t *labels, *object;

static void setup(void)
{
	if (labels)
		return;
	labels = json_pack("{s:s,s:s,s:s,s:s}", "app", "web", "tier", "fe", "n", "5",
			   "app.kubernetes.io/name", "");
	object = json_loads("{\"metadata\":{\"name\":\"p1\",\"namespace\":\"default\",\"labels\":{\"a\":\"b\"}},"
			    "\"spec\":{\"nodeName\":\"n1\",\"replicas\":3,\"ok\":true,\"containers\":"
			    "[{\"name\":\"a\",\"ports\":[{\"port\":80}]},{\"name\":\"b\"}]},"
			    "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"n\":1.5}]}}",
			    0, NULL);
}

static void label(const char *s)
{
	struct gt_labelsel *sel, *again;
	struct gt_err err;
	char *str, *str2;

	if (gt_labelsel_parse(s, &sel, &err) < 0)
		return;
	gt_labelsel_match(sel, labels);
	gt_labelsel_match(sel, NULL);
	str = gt_labelsel_string(sel);
	if (gt_labelsel_parse(str, &again, &err) < 0) {
		fprintf(stderr, "canonical form does not parse: \"%s\" -> \"%s\": %s\n", s, str, err.msg);
		__builtin_trap();
	}
	str2 = gt_labelsel_string(again);
	if (strcmp(str, str2)) {
		fprintf(stderr, "canonical form unstable: \"%s\" -> \"%s\" -> \"%s\"\n", s, str, str2);
		__builtin_trap();
	}
	free(str);
	free(str2);
	gt_labelsel_free(sel);
	gt_labelsel_free(again);
}

static void field(const char *s)
{
	static const char *const allowed[] = { "spec.nodeName", "status.phase", NULL };
	struct gt_fieldsel *sel;
	struct gt_err err;
	const char *name;

	if (gt_fieldsel_parse(s, &sel, &err) < 0)
		return;
	gt_fieldsel_check(sel, allowed, &err);
	gt_fieldsel_match(sel, object);
	gt_fieldsel_match(sel, NULL);
	gt_fieldsel_requires_name(sel, &name);
	gt_fieldsel_free(sel);
}

static void path(const char *s)
{
	struct gt_err err;
	json_t *v;

	if (gt_jsonpath_eval(object, s, &v, &err) == 0)
		json_decref(v);
	if (gt_jsonpath_eval_all(object, s, &v, &err) == 0)
		json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);

	setup();
	label(s);
	field(s);
	path(s);
	free(s);
	return 0;
}
