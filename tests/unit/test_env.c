/* Unit tests for src/agent/env.c: the kubelet's environment rules. */
#include "t.h"
#include "agent/env.h"

static int fake_get(void *ctx, const char *resource, const char *ns, const char *name,
		    json_t **out, struct gt_err *err)
{
	(void)ctx;
	if (!strcmp(resource, "configmaps") && !strcmp(ns, "default") && !strcmp(name, "cfg")) {
		*out = json_pack("{s:{s:s,s:s}}", "data", "lr", "0.1", "epochs", "3");
		return 0;
	}
	if (!strcmp(resource, "secrets") && !strcmp(name, "sec")) {
		*out = json_pack("{s:{s:s}}", "data", "token", "czNjcjN0"); /* s3cr3t */
		return 0;
	}
	return gt_err_set(err, -ENOENT, "not found");
}

static const char *val(const json_t *env, const char *k)
{
	size_t i, n = strlen(k);
	json_t *v;
	const char *r = NULL;

	json_array_foreach(env, i, v)
		if (!strncmp(json_string_value(v), k, n) && json_string_value(v)[n] == '=')
			r = json_string_value(v) + n + 1;
	return r;
}

TEST(all_sources)
{
	json_t *pod = json_pack("{s:{s:s,s:s,s:{s:s}},s:{s:s},s:{s:s}}", "metadata", "name", "p1",
				"namespace", "default", "labels", "app", "x", "spec", "nodeName", "n1",
				"status", "podIP", "10.88.0.9");
	json_t *c = json_pack(
		"{s:s,s:{s:{s:s,s:s}},s:[{s:{s:s},s:s}],s:["
		"{s:s,s:s},{s:s,s:s},{s:s,s:{s:{s:s}}},{s:s,s:{s:{s:s}}},{s:s,s:{s:{s:s}}},"
		"{s:s,s:{s:{s:s,s:s}}},{s:s,s:{s:{s:s,s:s}}},{s:s,s:{s:{s:s,s:s}}},{s:s,s:{s:{s:s}}}]}",
		"name", "c", "resources", "limits", "memory", "64Mi", "cpu", "1500m",
		"envFrom", "configMapRef", "name", "cfg", "prefix", "CFG_",
		"env",
		"name", "A", "value", "1",
		"name", "B", "value", "$(A)-two-$$(A)",
		"name", "NAME", "valueFrom", "fieldRef", "fieldPath", "metadata.name",
		"name", "IP", "valueFrom", "fieldRef", "fieldPath", "status.podIP",
		"name", "APP", "valueFrom", "fieldRef", "fieldPath", "metadata.labels['app']",
		"name", "MEM", "valueFrom", "resourceFieldRef", "resource", "limits.memory", "divisor", "1Mi",
		"name", "LR", "valueFrom", "configMapKeyRef", "name", "cfg", "key", "lr",
		"name", "TOK", "valueFrom", "secretKeyRef", "name", "sec", "key", "token",
		"name", "CPU", "valueFrom", "resourceFieldRef", "resource", "limits.cpu");
	json_t *env = NULL;
	struct gt_err e;

	gt_err_clear(&e);
	CHECK(c != NULL);
	CHECK_INT(gt_env_build(pod, c, fake_get, NULL, &env, &e), 0);
	CHECK_STR(val(env, "CFG_lr"), "0.1");
	CHECK_STR(val(env, "CFG_epochs"), "3");
	CHECK_STR(val(env, "B"), "1-two-$(A)");
	CHECK_STR(val(env, "NAME"), "p1");
	CHECK_STR(val(env, "IP"), "10.88.0.9");
	CHECK_STR(val(env, "APP"), "x");
	CHECK_STR(val(env, "MEM"), "64");
	CHECK_STR(val(env, "LR"), "0.1");
	CHECK_STR(val(env, "TOK"), "s3cr3t");
	CHECK_STR(val(env, "CPU"), "2"); /* 1.5 cores rounded up */
	json_decref(env);
	json_decref(c);
	json_decref(pod);
}

TEST(missing_sources)
{
	json_t *pod = json_pack("{s:{s:s,s:s}}", "metadata", "name", "p", "namespace", "default");
	json_t *c1 = json_pack("{s:[{s:s,s:{s:{s:s,s:s}}}]}", "env", "name", "X", "valueFrom",
			       "configMapKeyRef", "name", "nope", "key", "k");
	json_t *c2 = json_pack("{s:[{s:s,s:{s:{s:s,s:s}}}]}", "env", "name", "X", "valueFrom",
			       "configMapKeyRef", "name", "cfg", "key", "missing");
	json_t *c3 = json_pack("{s:[{s:s,s:{s:{s:s,s:s,s:b}}}]}", "env", "name", "X", "valueFrom",
			       "configMapKeyRef", "name", "nope", "key", "k", "optional", 1);
	json_t *env = NULL;
	struct gt_err e;

	gt_err_clear(&e);
	CHECK_INT(gt_env_build(pod, c1, fake_get, NULL, &env, &e), -ENOENT);
	CHECK_STR(e.msg, "configmap \"nope\" not found");
	gt_err_clear(&e);
	CHECK_INT(gt_env_build(pod, c2, fake_get, NULL, &env, &e), -ENOENT);
	CHECK_STR(e.msg, "couldn't find key missing in ConfigMap default/cfg");
	CHECK_INT(gt_env_build(pod, c3, fake_get, NULL, &env, &e), 0);
	CHECK(val(env, "X") == NULL);
	json_decref(env);
	json_decref(c1);
	json_decref(c2);
	json_decref(c3);
	json_decref(pod);
}

int main(void)
{
	RUN(all_sources);
	RUN(missing_sources);
	return t_done();
}
