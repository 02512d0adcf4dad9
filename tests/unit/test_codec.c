/*
 * Unit tests for src/codec's outside-input parsers: YAML <-> JSON
 * (yaml.c) and Kubernetes protobuf -> JSON (protobuf.c).
 *
 * Protobuf vectors come two ways: real request bodies captured from
 * kubectl 1.33 (tests/unit/fixtures/pb/NAME.bin, with kubectl's own
 * `--dry-run=client -o json` rendering in NAME.json where it has one), and
 * messages hand-encoded here with a tiny encoder for the cases kubectl's
 * generators never produce (pointer zeros, inlined structs, special types,
 * malformed input).
 */
#include "t.h"

#include "codec/json.h"
#include "codec/protobuf.h"
#include "codec/yaml.h"

/* ---- helpers ------------------------------------------------------------- */

static json_t *yaml1(const char *src, int *rc, struct gt_err *err)
{
	json_t *docs = NULL;

	gt_err_clear(err);
	*rc = gt_yaml_to_json(src, strlen(src), &docs, err);
	return docs;
}

/* Parses "v: <scalar>" and returns the compact JSON of v (static buffer). */
static const char *scalar(const char *s)
{
	static char out[256];
	struct gt_err err;
	char *src = xasprintf("v: %s\n", s), *dump;
	int rc;
	json_t *docs = yaml1(src, &rc, &err);

	free(src);
	if (rc < 0) {
		snprintf(out, sizeof(out), "ERR %.200s", err.msg);
		return out;
	}
	dump = gt_json_dump(json_object_get(json_array_get(docs, 0), "v"), NULL);
	snprintf(out, sizeof(out), "%s", dump);
	free(dump);
	json_decref(docs);
	return out;
}

static char *to_yaml(const char *json)
{
	struct gt_buf b = GT_BUF_INIT;
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);

	if (!v || gt_yaml_from_json(v, &b) < 0) {
		json_decref(v);
		gt_buf_release(&b);
		return xstrdup("(error)");
	}
	json_decref(v);
	return gt_buf_detach(&b, NULL);
}

/* ---- YAML ---------------------------------------------------------------- */

TEST(yaml_manifest)
{
	struct gt_err err;
	int rc;
	json_t *d = yaml1("# two objects\n"
			  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
			  "spec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n"
			  "      - name: c\n        image: nginx:1.25\n        args: [\"-v\", '2']\n"
			  "---\n"
			  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n  k: |\n    a\n    b\n",
			  &rc, &err);

	CHECK_INT(rc, 0);
	CHECK_INT(json_array_size(d), 2);
	CHECK_STR(gt_json_str(json_array_get(d, 0), "metadata.name"), "web");
	CHECK(json_integer_value(gt_json_path(json_array_get(d, 0), "spec.replicas")) == 3);
	CHECK_STR(json_string_value(json_array_get(gt_json_path(json_array_get(json_object_get(
		gt_json_path(json_array_get(d, 0), "spec.template.spec"), "containers"), 0), "args"), 1)),
		"2");
	CHECK_STR(gt_json_str(json_array_get(d, 1), "data.k"), "a\nb\n");
	json_decref(d);
}

TEST(yaml_scalars)
{
	static const char *const cases[][2] = {
		{ "yes", "true" }, { "Yes", "true" }, { "YES", "true" }, { "y", "true" },
		{ "Y", "true" }, { "on", "true" }, { "On", "true" }, { "ON", "true" },
		{ "true", "true" }, { "True", "true" }, { "TRUE", "true" },
		{ "no", "false" }, { "No", "false" }, { "n", "false" }, { "off", "false" },
		{ "OFF", "false" }, { "false", "false" }, { "FALSE", "false" },
		{ "yEs", "\"yEs\"" }, { "tRUE", "\"tRUE\"" },
		{ "~", "null" }, { "null", "null" }, { "Null", "null" }, { "NULL", "null" },
		{ "", "null" }, { "nULL", "\"nULL\"" },
		{ "42", "42" }, { "-7", "-7" }, { "+12", "12" }, { "0x1F", "31" }, { "0X1f", "31" },
		{ "0o17", "15" }, { "017", "15" }, { "0b101", "5" }, { "-0b101", "-5" },
		{ "1_000", "1000" }, { "0x_1F", "31" }, { "0", "0" }, { "-0", "0" },
		{ "9223372036854775807", "9223372036854775807" },
		{ "-9223372036854775808", "-9223372036854775808" },
		{ "08", "8" }, { "1.5", "1.5" }, { ".5", "0.5" }, { "-1.25e-1", "-0.125" },
		{ "1e3", "1000" }, { "1.0", "1" }, { "3.", "3" }, { "1e400", "\"1e400\"" },
		{ "0x", "\"0x\"" }, { "1:20", "\"1:20\"" }, { "-x", "\"-x\"" }, { "_1", "\"_1\"" },
		{ "1_", "1" }, { "2024-01-02", "\"2024-01-02\"" }, { "1.2.3", "\"1.2.3\"" },
		{ "<<", "\"<<\"" }, { "yes please", "\"yes please\"" }, { "abc", "\"abc\"" },
		{ "'yes'", "\"yes\"" }, { "\"123\"", "\"123\"" }, { "'~'", "\"~\"" }, { "''", "\"\"" },
		{ "!!str 123", "\"123\"" }, { "! true", "\"true\"" }, { "!!int \"42\"", "42" },
		{ "!!float 3", "3" }, { "!!bool yes", "true" }, { "!!null ''", "null" },
		{ "!!binary aGVs\n  bG8=", "\"hello\"" }, { "!custom 5", "\"5\"" },
		{ "|\n  x\n  y", "\"x\\ny\\n\"" }, { ">-\n  x\n  y", "\"x y\"" },
		{ "\"\\u00e9\\t\"", "\"\u00e9\\t\"" },
	};

	for (size_t i = 0; i < GT_ARRAY_SIZE(cases); i++) {
		const char *got = scalar(cases[i][0]);

		if (strcmp(got, cases[i][1])) {
			fprintf(stderr, "  scalar '%s': got %s, expected %s\n", cases[i][0], got,
				cases[i][1]);
			CHECK(0);
		}
	}
}

TEST(yaml_boolean_name)
{
	struct gt_err err;
	int rc;
	json_t *d = yaml1("metadata:\n  name: yes\n  namespace: \"no\"\n", &rc, &err);

	/* YAML 1.1, like kubectl: an unquoted yes is a boolean, so the name is invalid later */
	CHECK_INT(rc, 0);
	CHECK(json_is_true(gt_json_path(json_array_get(d, 0), "metadata.name")));
	CHECK_STR(gt_json_str(json_array_get(d, 0), "metadata.namespace"), "no");
	json_decref(d);
}

TEST(yaml_keys)
{
	struct gt_err err;
	int rc;
	json_t *d = yaml1("1: a\ntrue: b\n1.5: c\nn: d\n.inf: e\n0x10: f\nk: 1\nk: 2\n", &rc, &err);
	char *s;

	CHECK_INT(rc, 0);
	s = gt_json_dump(json_array_get(d, 0), NULL);
	CHECK_STR(s, "{\"1\":\"a\",\"true\":\"b\",\"1.5\":\"c\",\"false\":\"d\",\".inf\":\"e\","
		     "\"16\":\"f\",\"k\":2}");
	free(s);
	json_decref(d);

	d = yaml1("~: x\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "null mapping keys") != NULL);
	d = yaml1("? [a, b]\n: x\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "keys must be scalars") != NULL);
	d = yaml1("a: &x [1]\n*x : 2\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
}

TEST(yaml_anchors_merge)
{
	struct gt_err err;
	int rc;
	json_t *d = yaml1("base: &b {x: 1, p: 2}\nother: &o {z: 3, x: 9}\n"
			  "a:\n  <<: *b\n  p: 5\n"
			  "b:\n  p: 5\n  <<: [*o, *b]\n"
			  "c: *b\n"
			  "d: {'<<': 1}\n"
			  "s: &s str\nt: *s\n", &rc, &err);
	char *s;

	CHECK_INT(rc, 0);
	s = gt_json_dump(json_array_get(d, 0), NULL);
	CHECK_STR(s, "{\"base\":{\"x\":1,\"p\":2},\"other\":{\"z\":3,\"x\":9},"
		     "\"a\":{\"p\":5,\"x\":1},\"b\":{\"p\":5,\"z\":3,\"x\":9},"
		     "\"c\":{\"x\":1,\"p\":2},\"d\":{\"<<\":1},\"s\":\"str\",\"t\":\"str\"}");
	free(s);
	/* aliases are copies: changing one leaves the other alone */
	json_object_set_new(gt_json_path(json_array_get(d, 0), "c"), "x", json_integer(7));
	CHECK(json_integer_value(gt_json_path(json_array_get(d, 0), "base.x")) == 1);
	json_decref(d);

	d = yaml1("a: *nope\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "unknown anchor") != NULL);
	d = yaml1("a: &x 1\n---\nb: *x\n", &rc, &err);
	CHECK_INT(rc, -EINVAL); /* anchors do not cross documents */
	d = yaml1("a:\n  <<: 5\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "merge") != NULL);
}

TEST(yaml_alias_bomb)
{
	struct gt_err err;
	int rc;
	json_t *d = yaml1("a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
			  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
			  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
			  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
			  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
			  "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
			  "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
			  "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
			  "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n", &rc, &err);

	CHECK_INT(rc, -EINVAL);
	CHECK(d == NULL);
	CHECK(strstr(err.msg, "aliases expand") != NULL);
}

TEST(yaml_depth)
{
	struct gt_err err;
	struct gt_buf b = GT_BUF_INIT;
	json_t *d;
	int rc;

	/* flow nesting far past the limit: an error, not a crash */
	for (int i = 0; i < 100000; i++)
		gt_buf_addc(&b, '[');
	d = yaml1(b.data, &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "nesting deeper") != NULL);

	/* block nesting at the limit is fine, one past it is not */
	for (int depth = GT_YAML_MAX_DEPTH; depth <= GT_YAML_MAX_DEPTH + 1; depth++) {
		gt_buf_reset(&b);
		for (int i = 0; i < depth - 1; i++)
			gt_buf_addf(&b, "%*sk:\n", i * 2, "");
		gt_buf_addf(&b, "%*sk: v\n", (depth - 1) * 2, "");
		d = yaml1(b.data, &rc, &err);
		CHECK_INT(rc, depth <= GT_YAML_MAX_DEPTH ? 0 : -EINVAL);
		json_decref(d);
	}
	gt_buf_release(&b);
}

TEST(yaml_errors)
{
	struct gt_err err;
	int rc;
	json_t *d;

	d = yaml1("a: b\n  c: d\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(d == NULL);
	CHECK(strstr(err.msg, "line 2") != NULL);
	CHECK(strstr(err.msg, "mapping values are not allowed") != NULL);

	d = yaml1("a: [1, 2\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	d = yaml1("a: \"\xff\"\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	d = yaml1("a: .inf\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "cannot be represented in JSON") != NULL);
	d = yaml1("a: -.INF\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	d = yaml1("a: .nan\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	d = yaml1("a: !!int abc\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "cannot decode !!str `abc` as a !!int") != NULL);
	d = yaml1("a: !!binary '!!'\n", &rc, &err);
	CHECK_INT(rc, -EINVAL);
	d = yaml1("a: \"\\0\"\n", &rc, &err); /* NUL inside a string is allowed, as in JSON */
	CHECK_INT(rc, 0);
	json_decref(d);

	d = NULL;
	gt_err_clear(&err);
	CHECK_INT(gt_yaml_to_json("a: 1", GT_YAML_MAX_INPUT + 1ul, &d, &err), -E2BIG);
}

TEST(yaml_empty_docs)
{
	struct gt_err err;
	int rc;
	json_t *d = yaml1("---\n---\n~\n---\n# only a comment\n", &rc, &err);

	CHECK_INT(rc, 0);
	CHECK_INT(json_array_size(d), 0);
	json_decref(d);
	d = yaml1("", &rc, &err);
	CHECK_INT(rc, 0);
	CHECK_INT(json_array_size(d), 0);
	json_decref(d);
	d = yaml1("--- hello\n--- [1]\n", &rc, &err);
	CHECK_INT(rc, 0);
	CHECK_INT(json_array_size(d), 2);
	CHECK_STR(json_string_value(json_array_get(d, 0)), "hello");
	json_decref(d);
}

TEST(yaml_emit)
{
	char *y = to_yaml("{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
			  "\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"yes\",\"b\":\"1\",\"c\":\"\"},"
			  "\"creationTimestamp\":\"2024-01-02T03:04:05Z\"},"
			  "\"data\":{\"multi\":\"l1\\nl2\\n\",\"n\":5,\"f\":0.25,\"t\":true,\"z\":null,"
			  "\"e\":{},\"l\":[],\"arr\":[{\"k\":\"v\"},\"s\"],\"q\":\"a: b\",\"h\":\"#x\"}}");

	CHECK_STR(y, "apiVersion: v1\n"
		     "data:\n"
		     "  arr:\n  - k: v\n  - s\n"
		     "  e: {}\n"
		     "  f: 0.25\n"
		     "  h: '#x'\n"
		     "  l: []\n"
		     "  multi: |\n    l1\n    l2\n"
		     "  \"n\": 5\n" /* n alone reads back as false */
		     "  q: 'a: b'\n"
		     "  t: true\n"
		     "  z: null\n"
		     "kind: ConfigMap\n"
		     "metadata:\n"
		     "  creationTimestamp: \"2024-01-02T03:04:05Z\"\n"
		     "  labels:\n    a: \"yes\"\n    b: \"1\"\n    c: \"\"\n"
		     "  name: x\n");
	free(y);

	/* go-yaml's key order: non-letters first, digit runs compared as numbers */
	y = to_yaml("{\"a10\":1,\"a2\":2,\"B\":3,\"_x\":4,\"a\":5}");
	CHECK_STR(y, "_x: 4\nB: 3\na: 5\na2: 2\na10: 1\n");
	free(y);
	y = to_yaml("[1.5e-07, 1000000.0, 0.1, -3]");
	CHECK_STR(y, "- 1.5e-07\n- 1e+06\n- 0.1\n- -3\n");
	free(y);
}

TEST(yaml_roundtrip)
{
	static const char *const strs[] = {
		"yes", "No", "on", "~", "null", "", "123", "0x1F", "1e3", ".inf", "-.nan", "<<",
		"1:20", "2024-01-02", " lead", "trail ", "a: b", "- x", "#c", "@x", "`x", "'q'",
		"\"dq\"", "multi\nline", "tab\there", "ctl\001x", "é ü 日本", "[x]", "{y}", "*a",
		"&a", "!t", "%p", "|", ">", "?", "key:", "a #b", "0o17", "+1", "-", ".5", "08",
	};
	struct gt_buf b = GT_BUF_INIT;
	json_t *obj = json_object(), *arr = json_array(), *docs = NULL;
	struct gt_err err;

	for (size_t i = 0; i < GT_ARRAY_SIZE(strs); i++) {
		json_array_append_new(arr, json_string(strs[i]));
		json_object_set_new(obj, strs[i], json_string(strs[i]));
	}
	json_object_set_new(obj, "all", arr);
	CHECK_INT(gt_yaml_from_json(obj, &b), 0);
	CHECK_INT(gt_yaml_to_json(b.data, b.len, &docs, &err), 0);
	CHECK(gt_json_equal(json_array_get(docs, 0), obj));
	if (!gt_json_equal(json_array_get(docs, 0), obj))
		fprintf(stderr, "%s\n", b.data);
	json_decref(docs);
	json_decref(obj);
	gt_buf_release(&b);
}

/* ---- protobuf: a tiny encoder --------------------------------------------- */

struct enc {
	uint8_t b[2048];
	size_t n;
};

static void e_raw(struct enc *e, const void *p, size_t n)
{
	if (e->n + n <= sizeof(e->b)) {
		memcpy(e->b + e->n, p, n);
		e->n += n;
	}
}

static void e_varint(struct enc *e, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)(v & 0x7f);

		v >>= 7;
		if (v)
			c |= 0x80;
		e_raw(e, &c, 1);
	} while (v);
}

static void e_tag(struct enc *e, uint32_t f, int wt)
{
	e_varint(e, ((uint64_t)f << 3) | (uint64_t)wt);
}

static void e_int(struct enc *e, uint32_t f, int64_t v)
{
	e_tag(e, f, 0);
	e_varint(e, (uint64_t)v);
}

static void e_bytes(struct enc *e, uint32_t f, const void *p, size_t n)
{
	e_tag(e, f, 2);
	e_varint(e, n);
	e_raw(e, p, n);
}

static void e_str(struct enc *e, uint32_t f, const char *s)
{
	e_bytes(e, f, s, strlen(s));
}

static void e_msg(struct enc *e, uint32_t f, const struct enc *sub)
{
	e_bytes(e, f, sub->b, sub->n);
}

static void e_entry(struct enc *e, uint32_t f, const char *k, const char *v)
{
	struct enc en = { .n = 0 };

	e_str(&en, 1, k);
	e_str(&en, 2, v);
	e_msg(e, f, &en);
}

/* ObjectMeta as gogo writes it: every non-pointer field, empty or not. */
static void e_meta(struct enc *e, const char *name)
{
	struct enc m = { .n = 0 }, ts = { .n = 0 };

	e_str(&m, 1, name);
	e_str(&m, 2, "");
	e_str(&m, 3, "");
	e_str(&m, 4, "");
	e_str(&m, 5, "");
	e_str(&m, 6, "");
	e_int(&m, 7, 0);
	e_msg(&m, 8, &ts);
	e_msg(e, 1, &m);
}

static void e_body(struct enc *out, const char *api_version, const char *kind, const struct enc *raw)
{
	struct enc tm = { .n = 0 };

	out->n = 0;
	e_raw(out, "k8s", 4);
	e_str(&tm, 1, api_version);
	e_str(&tm, 2, kind);
	e_msg(out, 1, &tm);
	e_msg(out, 2, raw);
	e_str(out, 3, "");
	e_str(out, 4, "");
}

static json_t *pb(const struct enc *body, int *rc, struct gt_err *err)
{
	json_t *o = NULL;

	gt_err_clear(err);
	*rc = gt_pb_to_json(body->b, body->n, &o, err);
	return o;
}

static char *pb_dump(const struct enc *body)
{
	struct gt_err err;
	int rc;
	json_t *o = pb(body, &rc, &err);
	char *s;

	if (rc < 0)
		return xasprintf("ERR %d %s", rc, err.msg);
	s = gt_json_dump(o, NULL);
	json_decref(o);
	return s;
}

/* ---- protobuf: captured kubectl 1.33 bodies ------------------------------- */

static int read_fixture(const char *name, char **data, size_t *len)
{
	char *path = xasprintf("tests/unit/fixtures/pb/%s", name);
	int rc = gt_read_file(path, data, len);

	free(path);
	if (rc < 0) {
		/* run from elsewhere: next to this source file */
		const char *slash = strrchr(__FILE__, '/');

		path = xasprintf("%.*s/fixtures/pb/%s", slash ? (int)(slash - __FILE__) : 1,
				 slash ? __FILE__ : ".", name);
		rc = gt_read_file(path, data, len);
		free(path);
	}
	return rc;
}

/* Drops null, "", 0, false, {} and [] members: what gogo's encoding cannot tell apart. */
static json_t *prune(json_t *v)
{
	const char *k;
	json_t *x;
	void *tmp;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach_safe(v, tmp, k, x) {
			prune(x);
			if (json_is_null(x) || json_is_false(x) ||
			    (json_is_string(x) && !json_string_length(x)) ||
			    (json_is_integer(x) && !json_integer_value(x)) ||
			    (json_is_object(x) && !json_object_size(x)) ||
			    (json_is_array(x) && !json_array_size(x)))
				json_object_del(v, k);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			prune(x);
	}
	return v;
}

static json_t *fixture(const char *name, int *rc, struct gt_err *err)
{
	char *bin = xasprintf("%s.bin", name), *data = NULL;
	json_t *o = NULL;
	size_t len = 0;

	*rc = read_fixture(bin, &data, &len);
	free(bin);
	if (*rc < 0) {
		fprintf(stderr, "  fixture %s missing\n", name);
		return NULL;
	}
	gt_err_clear(err);
	*rc = gt_pb_to_json((const uint8_t *)data, len, &o, err);
	free(data);
	return o;
}

TEST(pb_kubectl_vs_dry_run)
{
	static const char *const names[] = {
		"configmap", "secret", "namespace", "deployment", "deployment0", "deployment_env",
		"job", "cronjob", "serviceaccount", "service", "servicenp",
	};

	for (size_t i = 0; i < GT_ARRAY_SIZE(names); i++) {
		struct gt_err err;
		char *jname = xasprintf("%s.json", names[i]), *data = NULL;
		size_t len;
		int rc;
		json_t *got = fixture(names[i], &rc, &err), *want = NULL;

		CHECK_INT(rc, 0);
		if (read_fixture(jname, &data, &len) == 0)
			want = json_loadb(data, len, 0, NULL);
		CHECK(want != NULL);
		if (got && want && !gt_json_equal(prune(got), prune(want))) {
			char *a = gt_json_dump(got, NULL), *b = gt_json_dump(want, NULL);

			fprintf(stderr, "  %s:\n    got  %s\n    want %s\n", names[i], a, b);
			free(a);
			free(b);
			CHECK(0);
		}
		json_decref(got);
		json_decref(want);
		free(data);
		free(jname);
	}
}

TEST(pb_kubectl_details)
{
	struct gt_err err;
	json_t *o;
	int64_t n = -1;
	int rc;

	/* --replicas=0 is a pointer zero and must survive; so must "empty=" */
	o = fixture("deployment0", &rc, &err);
	CHECK_INT(gt_json_int(o, "spec.replicas", &n), 0);
	CHECK_INT(n, 0);
	CHECK_STR(gt_json_str(o, "apiVersion"), "apps/v1");
	CHECK(gt_json_path(o, "metadata.namespace") == NULL);
	CHECK(gt_json_path(o, "metadata.creationTimestamp") == NULL);
	json_decref(o);
	o = fixture("configmap", &rc, &err);
	CHECK_STR(gt_json_str(o, "data.empty"), "");
	CHECK_STR(gt_json_str(o, "data.a"), "b");
	json_decref(o);
	o = fixture("secret", &rc, &err);
	CHECK_STR(gt_json_str(o, "data.pw"), "czNjcsOpdA=="); /* base64("s3cr\xc3\xa9t") */
	json_decref(o);

	o = fixture("token", &rc, &err);
	CHECK_INT(rc, 0);
	CHECK_STR(gt_json_str(o, "kind"), "TokenRequest");
	CHECK_INT(gt_json_int(o, "spec.expirationSeconds", &n), 0);
	CHECK_INT(n, 600);
	json_decref(o);

	o = fixture("cani", &rc, &err);
	CHECK_STR(gt_json_str(o, "apiVersion"), "authorization.k8s.io/v1");
	CHECK_STR(gt_json_str(o, "spec.resourceAttributes.verb"), "create");
	CHECK_STR(gt_json_str(o, "spec.resourceAttributes.resource"), "pods");
	CHECK_STR(gt_json_str(o, "spec.resourceAttributes.namespace"), "dev");
	json_decref(o);
	o = fixture("cani_nr", &rc, &err);
	CHECK_STR(gt_json_str(o, "spec.nonResourceAttributes.path"), "/healthz");
	json_decref(o);
	o = fixture("cani_sub", &rc, &err);
	CHECK_STR(gt_json_str(o, "spec.resourceAttributes.subresource"), "scale");
	CHECK_STR(gt_json_str(o, "spec.resourceAttributes.group"), "apps");
	json_decref(o);

	o = fixture("whoami", &rc, &err);
	CHECK_INT(rc, 0);
	CHECK_STR(gt_json_str(o, "kind"), "SelfSubjectReview");
	json_decref(o);

	o = fixture("autoscale", &rc, &err);
	CHECK_STR(gt_json_str(o, "apiVersion"), "autoscaling/v1");
	CHECK_STR(gt_json_str(o, "spec.scaleTargetRef.kind"), "Deployment");
	CHECK_INT(gt_json_int(o, "spec.targetCPUUtilizationPercentage", &n), 0);
	CHECK_INT(n, 80);
	json_decref(o);

	o = fixture("service", &rc, &err);
	CHECK_STR(json_string_value(json_object_get(json_array_get(gt_json_path(o, "spec.ports"), 1),
						    "targetPort")), "https");
	CHECK(json_integer_value(json_object_get(json_array_get(gt_json_path(o, "spec.ports"), 0),
						 "targetPort")) == 8080);
	json_decref(o);

	o = fixture("priorityclass", &rc, &err);
	CHECK_INT(rc, -EPROTONOSUPPORT);
	CHECK(o == NULL);
	CHECK(strstr(err.msg, "scheduling.k8s.io/v1 PriorityClass") != NULL);
}

/* Every prefix and single-byte corruption of real bodies: no crash, no over-read. */
TEST(pb_truncated_and_corrupt)
{
	static const char *const names[] = { "deployment", "configmap", "cani", "service" };

	for (size_t i = 0; i < GT_ARRAY_SIZE(names); i++) {
		char *bin = xasprintf("%s.bin", names[i]), *data = NULL;
		size_t len = 0;

		CHECK_INT(read_fixture(bin, &data, &len), 0);
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *copy = xmalloc(cut ? cut : 1);
			struct gt_err err;
			json_t *o = NULL;
			int rc;

			memcpy(copy, data, cut);
			rc = gt_pb_to_json(copy, cut, &o, &err);
			CHECK(rc == 0 || rc == -EINVAL);
			CHECK((rc == 0) == (o != NULL));
			json_decref(o);
			free(copy);
		}
		for (size_t at = 4; at < len; at++) {
			for (int bit = 0; bit < 8; bit++) {
				struct gt_err err;
				json_t *o = NULL;
				int rc;

				data[at] ^= (char)(1 << bit);
				rc = gt_pb_to_json((const uint8_t *)data, len, &o, &err);
				CHECK(rc == 0 || rc == -EINVAL || rc == -EPROTONOSUPPORT);
				json_decref(o);
				data[at] ^= (char)(1 << bit);
			}
		}
		free(data);
		free(bin);
	}
	/* the truncated deployment names the field it was reading */
	{
		char *data = NULL;
		size_t len = 0;
		struct gt_err err;
		json_t *o = NULL;

		CHECK_INT(read_fixture("deployment.bin", &data, &len), 0);
		CHECK_INT(gt_pb_to_json((const uint8_t *)data, len - 30, &o, &err), -EINVAL);
		CHECK(strstr(err.msg, "truncated") != NULL);
		free(data);
	}
}

/* ---- protobuf: hand-encoded messages ------------------------------------- */

TEST(pb_configmap_handmade)
{
	struct enc cm = { .n = 0 }, body;
	char *s;

	e_meta(&cm, "cm");
	e_entry(&cm, 2, "a", "1");
	e_entry(&cm, 2, "empty", "");
	e_bytes(&cm, 3, "\x0a\x03" "bin\x12\x01\x00", 8); /* binaryData: map<string, bytes> */
	e_bytes(&cm, 3, "\x0a\x01k", 3);          /* entry with no value: "" */
	e_bytes(&cm, 2, "\x12\x01x", 3);          /* entry with no key: "" */
	e_int(&cm, 4, 0);                         /* immutable: *bool false is kept */
	e_int(&cm, 99, 5);                        /* unknown fields are skipped */
	e_tag(&cm, 98, 1);
	e_raw(&cm, "12345678", 8);
	e_tag(&cm, 97, 5);
	e_raw(&cm, "1234", 4);
	e_str(&cm, 96, "x");
	e_body(&body, "v1", "ConfigMap", &cm);
	s = pb_dump(&body);
	CHECK_STR(s, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\"},"
		     "\"data\":{\"a\":\"1\",\"empty\":\"\",\"\":\"x\"},\"binaryData\":{\"bin\":\"AA==\",\"k\":\"\"},"
		     "\"immutable\":false}");
	free(s);
}

TEST(pb_deployment_handmade)
{
	struct enc dep = { .n = 0 }, spec = { .n = 0 }, strat = { .n = 0 }, ru = { .n = 0 },
		   ios = { .n = 0 }, tmpl = { .n = 0 }, ps = { .n = 0 }, c = { .n = 0 },
		   port = { .n = 0 }, res = { .n = 0 }, q = { .n = 0 }, vol = { .n = 0 },
		   vs = { .n = 0 }, ed = { .n = 0 }, probe = { .n = 0 }, ph = { .n = 0 },
		   hg = { .n = 0 }, pn = { .n = 0 }, meta = { .n = 0 }, ts = { .n = 0 },
		   mf = { .n = 0 }, fv = { .n = 0 }, body;
	char *s;

	e_str(&meta, 1, "web");
	e_int(&ts, 1, 1700000000);
	e_int(&ts, 2, 5);
	e_msg(&meta, 8, &ts);                     /* creationTimestamp */
	e_str(&mf, 1, "kubectl");
	e_str(&fv, 1, "{\"f:spec\":{}}");
	e_msg(&mf, 7, &fv);                       /* fieldsV1: raw JSON */
	e_msg(&meta, 17, &mf);
	e_msg(&dep, 1, &meta);

	e_int(&spec, 1, 0);                       /* replicas = 0: pointer, kept */
	e_int(&spec, 6, -1);                      /* revisionHistoryLimit: negative int32 */
	e_int(&ios, 1, 0);
	e_int(&ios, 2, 0);
	e_str(&ios, 3, "");
	e_msg(&ru, 1, &ios);                      /* maxUnavailable: 0 (pointer IntOrString) */
	ios.n = 0;
	e_int(&ios, 1, 1);
	e_int(&ios, 2, 0);
	e_str(&ios, 3, "25%");
	e_msg(&ru, 2, &ios);                      /* maxSurge: "25%" */
	e_msg(&port, 99, &ios);                   /* unknown message field: skipped */
	e_str(&strat, 1, "RollingUpdate");
	e_msg(&strat, 2, &ru);
	e_msg(&spec, 4, &strat);
	e_int(&spec, 5, 0);                       /* minReadySeconds 0: dropped */

	e_str(&c, 1, "app");
	e_str(&c, 2, "nginx");
	e_str(&c, 3, "a");                        /* command: repeated string */
	e_str(&c, 3, "");
	e_str(&port, 1, "http");
	e_int(&port, 3, 80);
	e_msg(&c, 6, &port);
	e_str(&q, 1, "500m");
	{
		struct enc en = { .n = 0 };

		e_str(&en, 1, "cpu");
		e_msg(&en, 2, &q);
		e_msg(&res, 1, &en);              /* limits: map<string, Quantity> */
	}
	e_msg(&c, 8, &res);
	e_int(&pn, 1, 1);
	e_str(&pn, 3, "http");
	e_str(&hg, 1, "/healthz");
	e_msg(&hg, 2, &pn);
	e_msg(&ph, 2, &hg);                       /* ProbeHandler.httpGet */
	e_msg(&probe, 1, &ph);                    /* Probe.handler: inlined */
	e_int(&probe, 2, 3);
	e_msg(&c, 10, &probe);                    /* livenessProbe */
	e_msg(&ps, 2, &c);                        /* containers */
	e_str(&vol, 1, "tmp");
	e_msg(&vs, 2, &ed);                       /* emptyDir: {} kept */
	e_msg(&vol, 2, &vs);                      /* Volume.volumeSource: inlined */
	e_msg(&ps, 1, &vol);
	e_int(&ps, 4, 30);                        /* terminationGracePeriodSeconds */
	e_msg(&tmpl, 2, &ps);
	e_msg(&spec, 3, &tmpl);
	e_msg(&dep, 2, &spec);
	e_msg(&dep, 3, &(struct enc){ .n = 0 });  /* status: {} dropped */

	e_body(&body, "apps/v1", "Deployment", &dep);
	s = pb_dump(&body);
	CHECK_STR(s, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		     "\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2023-11-14T22:13:20Z\","
		     "\"managedFields\":[{\"manager\":\"kubectl\",\"fieldsV1\":{\"f:spec\":{}}}]},"
		     "\"spec\":{\"replicas\":0,\"revisionHistoryLimit\":-1,"
		     "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":0,"
		     "\"maxSurge\":\"25%\"}},"
		     "\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx\","
		     "\"command\":[\"a\",\"\"],\"ports\":[{\"name\":\"http\",\"containerPort\":80}],"
		     "\"resources\":{\"limits\":{\"cpu\":\"500m\"}},"
		     "\"livenessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":\"http\"},"
		     "\"initialDelaySeconds\":3}}],"
		     "\"volumes\":[{\"name\":\"tmp\",\"emptyDir\":{}}],"
		     "\"terminationGracePeriodSeconds\":30}}}}");
	free(s);
}

TEST(pb_reviews_and_lease)
{
	struct enc ssar = { .n = 0 }, spec = { .n = 0 }, ra = { .n = 0 }, body,
		   lease = { .n = 0 }, ls = { .n = 0 }, mt = { .n = 0 }, ev = { .n = 0 },
		   del = { .n = 0 };
	char *s;

	e_str(&ra, 1, "default");
	e_str(&ra, 2, "get");
	e_str(&ra, 5, "pods");
	e_msg(&spec, 1, &ra);
	e_msg(&ssar, 2, &spec);
	e_body(&body, "authorization.k8s.io/v1", "SelfSubjectAccessReview", &ssar);
	s = pb_dump(&body);
	CHECK_STR(s, "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
		     "\"spec\":{\"resourceAttributes\":{\"namespace\":\"default\",\"verb\":\"get\","
		     "\"resource\":\"pods\"}}}");
	free(s);

	e_meta(&lease, "node-1");
	e_str(&ls, 1, "node-1");
	e_int(&ls, 2, 40);
	e_int(&mt, 1, 86400);
	e_int(&mt, 2, 123456789);
	e_msg(&ls, 4, &mt);                       /* renewTime: MicroTime */
	e_int(&ls, 5, 0);                         /* leaseTransitions: pointer zero */
	e_msg(&lease, 2, &ls);
	e_body(&body, "coordination.k8s.io/v1", "Lease", &lease);
	s = pb_dump(&body);
	CHECK_STR(s, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
		     "\"metadata\":{\"name\":\"node-1\"},\"spec\":{\"holderIdentity\":\"node-1\","
		     "\"leaseDurationSeconds\":40,\"renewTime\":\"1970-01-02T00:00:00.123456Z\","
		     "\"leaseTransitions\":0}}");
	free(s);

	e_meta(&ev, "pod-1");
	e_int(&del, 1, 0);                        /* gracePeriodSeconds: 0 means "now" */
	e_msg(&ev, 2, &del);
	e_body(&body, "policy/v1", "Eviction", &ev);
	s = pb_dump(&body);
	CHECK_STR(s, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":"
		     "\"pod-1\"},\"deleteOptions\":{\"gracePeriodSeconds\":0}}");
	free(s);
}

TEST(pb_service_intorstring)
{
	struct enc svc = { .n = 0 }, spec = { .n = 0 }, port = { .n = 0 }, ios = { .n = 0 }, body;
	char *s;

	e_int(&port, 3, 80);
	e_int(&ios, 1, 1);                        /* a string IntOrString with no strVal: "" */
	e_msg(&port, 4, &ios);
	e_msg(&spec, 1, &port);
	ios.n = 0;
	e_int(&ios, 1, 0);
	e_int(&ios, 2, -1);                       /* negative int32 as a 10-byte varint */
	port.n = 0;
	e_int(&port, 3, 81);
	e_msg(&port, 4, &ios);
	e_msg(&spec, 1, &port);
	e_msg(&svc, 2, &spec);
	e_body(&body, "v1", "Service", &svc);
	s = pb_dump(&body);
	CHECK_STR(s, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{\"ports\":["
		     "{\"port\":80},{\"port\":81,\"targetPort\":-1}]}}");
	free(s);
}

TEST(pb_errors)
{
	struct enc cm = { .n = 0 }, body, bad = { .n = 0 };
	struct gt_err err;
	json_t *o;
	int rc;

	/* wrong wire type: metadata (a message) sent as a varint */
	e_int(&cm, 1, 5);
	e_body(&body, "v1", "ConfigMap", &cm);
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(o == NULL);
	CHECK_STR(err.msg, "protobuf: metadata: field 1: wire type 0, expected 2");

	/* wrong wire type deeper down, with the path */
	cm.n = 0;
	{
		struct enc m = { .n = 0 };

		e_int(&m, 1, 7);
		e_msg(&cm, 1, &m);
	}
	e_body(&body, "v1", "ConfigMap", &cm);
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK_STR(err.msg, "protobuf: metadata.name: field 1: wire type 0, expected 2");

	/* length past the end */
	cm.n = 0;
	e_tag(&cm, 2, 2);
	e_varint(&cm, 1000);
	e_raw(&cm, "ab", 2);
	e_body(&body, "v1", "ConfigMap", &cm);
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "data: truncated length-delimited field") != NULL);

	/* varint longer than 10 bytes */
	cm.n = 0;
	e_tag(&cm, 99, 0);
	e_raw(&cm, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
	e_body(&body, "v1", "ConfigMap", &cm);
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EINVAL);

	/* groups (wire type 3) are not accepted, even on unknown fields */
	cm.n = 0;
	e_tag(&cm, 99, 3);
	e_body(&body, "v1", "ConfigMap", &cm);
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EINVAL);

	/* field number 0 */
	cm.n = 0;
	e_raw(&cm, "\x00\x01", 2);
	e_body(&body, "v1", "ConfigMap", &cm);
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EINVAL);

	/* invalid UTF-8 in a string */
	cm.n = 0;
	e_entry(&cm, 2, "k", "\xc3\x28");
	e_body(&body, "v1", "ConfigMap", &cm);
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "data[k]") != NULL);

	/* IntOrString with an unknown type; RawExtension that is not JSON; bad time */
	{
		struct enc d = { .n = 0 }, sp = { .n = 0 }, st = { .n = 0 }, r = { .n = 0 },
			   i = { .n = 0 };

		e_int(&i, 1, 7);
		e_msg(&r, 1, &i);
		e_msg(&st, 2, &r);
		e_msg(&sp, 4, &st);
		e_msg(&d, 2, &sp);
		e_body(&body, "apps/v1", "Deployment", &d);
		o = pb(&body, &rc, &err);
		CHECK_INT(rc, -EINVAL);
		CHECK(strstr(err.msg, "spec.strategy.rollingUpdate.maxUnavailable") != NULL);

		d.n = r.n = 0;
		e_str(&r, 1, "{not json");
		e_msg(&d, 2, &r);
		e_body(&body, "apps/v1", "ControllerRevision", &d);
		o = pb(&body, &rc, &err);
		CHECK_INT(rc, -EINVAL);
		CHECK(strstr(err.msg, "data: embedded raw object is not JSON") != NULL);

		d.n = r.n = sp.n = 0;
		e_int(&r, 1, INT64_MAX);
		e_msg(&sp, 8, &r);
		e_msg(&d, 1, &sp);
		e_body(&body, "v1", "ConfigMap", &d);
		o = pb(&body, &rc, &err);
		CHECK_INT(rc, -EINVAL);
		CHECK(strstr(err.msg, "metadata.creationTimestamp: time") != NULL);
	}

	/* envelopes */
	e_raw(&bad, "k8x", 4);
	o = pb(&bad, &rc, &err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err.msg, "magic") != NULL);
	cm.n = 0;
	e_body(&body, "example.com/v1", "Widget", &cm);
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EPROTONOSUPPORT);
	e_body(&body, "v1", "Container", &cm);     /* a message, but not an object kind */
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EPROTONOSUPPORT);
	e_body(&body, "", "", &cm);
	o = pb(&body, &rc, &err);
	CHECK_INT(rc, -EINVAL);
	bad.n = 0;
	e_raw(&bad, "k8s", 4);
	{
		struct enc tm = { .n = 0 };

		e_str(&tm, 1, "v1");
		e_str(&tm, 2, "ConfigMap");
		e_msg(&bad, 1, &tm);
	}
	e_str(&bad, 3, "gzip");
	o = pb(&bad, &rc, &err);
	CHECK_INT(rc, -EPROTONOSUPPORT);
	(void)o;
}

TEST(pb_message_for)
{
	CHECK_STR(gt_pb_message_for("v1", "ConfigMap"), "k8s.io.api.core.v1.ConfigMap");
	CHECK_STR(gt_pb_message_for("apps/v1", "Deployment"), "k8s.io.api.apps.v1.Deployment");
	CHECK_STR(gt_pb_message_for("apps/v1", "StatefulSet"), "k8s.io.api.apps.v1.StatefulSet");
	CHECK_STR(gt_pb_message_for("batch/v1", "CronJob"), "k8s.io.api.batch.v1.CronJob");
	CHECK_STR(gt_pb_message_for("authentication.k8s.io/v1", "TokenRequest"),
		  "k8s.io.api.authentication.v1.TokenRequest");
	CHECK_STR(gt_pb_message_for("authentication.k8s.io/v1", "SelfSubjectReview"),
		  "k8s.io.api.authentication.v1.SelfSubjectReview");
	CHECK_STR(gt_pb_message_for("autoscaling/v2", "HorizontalPodAutoscaler"),
		  "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler");
	CHECK_STR(gt_pb_message_for("autoscaling/v1", "Scale"), "k8s.io.api.autoscaling.v1.Scale");
	CHECK_STR(gt_pb_message_for("coordination.k8s.io/v1", "Lease"),
		  "k8s.io.api.coordination.v1.Lease");
	CHECK_STR(gt_pb_message_for("v1", "DeleteOptions"),
		  "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions");
	CHECK(gt_pb_message_for("v1", "Container") == NULL);
	CHECK(gt_pb_message_for("authorization.example.com/v1", "SelfSubjectAccessReview") == NULL);
	CHECK(gt_pb_message_for("apps/v1", "") == NULL);
	CHECK(gt_pb_message_for("apps/v1/x", "Deployment") == NULL);
	CHECK(gt_pb_message_for("v1", "Config.Map") == NULL);
}

TEST(pb_table_sorted)
{
	for (size_t i = 0; i < gt_pb_nmessages; i++) {
		const struct gt_pb_message *m = &gt_pb_messages[i];

		if (i)
			CHECK(strcmp(gt_pb_messages[i - 1].name, m->name) < 0);
		for (size_t j = 0; j < m->nfields; j++) {
			const struct gt_pb_field *f = &m->fields[j];

			if (j)
				CHECK(m->fields[j - 1].number < f->number);
			CHECK((f->kind == GT_PB_MESSAGE) == (f->msg >= 0));
			CHECK(f->msg < (int)gt_pb_nmessages);
		}
	}
}

int main(void)
{
	RUN(yaml_manifest);
	RUN(yaml_scalars);
	RUN(yaml_boolean_name);
	RUN(yaml_keys);
	RUN(yaml_anchors_merge);
	RUN(yaml_alias_bomb);
	RUN(yaml_depth);
	RUN(yaml_errors);
	RUN(yaml_empty_docs);
	RUN(yaml_emit);
	RUN(yaml_roundtrip);
	RUN(pb_kubectl_vs_dry_run);
	RUN(pb_kubectl_details);
	RUN(pb_truncated_and_corrupt);
	RUN(pb_configmap_handmade);
	RUN(pb_deployment_handmade);
	RUN(pb_reviews_and_lease);
	RUN(pb_service_intorstring);
	RUN(pb_errors);
	RUN(pb_message_for);
	RUN(pb_table_sorted);
	return t_done();
}
