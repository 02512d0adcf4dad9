/* Unit tests for src/api/selector.c and src/api/quantity.c. */
#include "t.h"
#include "api/quantity.h"
#include "api/selector.h"

static json_t *J(const char *s)
{
	json_error_t je;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &je);

	if (!v)
		fprintf(stderr, "bad test JSON: %s: %s\n", s, je.text);
	return v;
}

static bool lmatch(const char *sel, const char *labels)
{
	struct gt_labelsel *s;
	json_t *l = J(labels);
	bool ok;

	if (gt_labelsel_parse(sel, &s, NULL) < 0) {
		json_decref(l);
		return false;
	}
	ok = gt_labelsel_match(s, l);
	gt_labelsel_free(s);
	json_decref(l);
	return ok;
}

/* The error message of a failing parse ("" when it parses). */
static const char *lerr(const char *sel)
{
	static struct gt_err e;
	struct gt_labelsel *s = NULL;

	gt_err_clear(&e);
	if (gt_labelsel_parse(sel, &s, &e) == 0) {
		gt_labelsel_free(s);
		return "";
	}
	return e.msg;
}

static char *lstr(const char *sel)
{
	static char buf[512];
	struct gt_labelsel *s;
	char *str;

	if (gt_labelsel_parse(sel, &s, NULL) < 0)
		return "(error)";
	str = gt_labelsel_string(s);
	snprintf(buf, sizeof(buf), "%s", str);
	free(str);
	gt_labelsel_free(s);
	return buf;
}

TEST(label_example)
{
	const char *sel = "app in (p1,p2),tier!=x,!foo";

	CHECK(lmatch(sel, "{\"app\":\"p1\",\"tier\":\"y\"}"));
	CHECK(lmatch(sel, "{\"app\":\"p2\"}"));
	CHECK(!lmatch(sel, "{\"app\":\"p1\",\"tier\":\"x\"}"));
	CHECK(!lmatch(sel, "{\"app\":\"p3\"}"));
	CHECK(!lmatch(sel, "{\"app\":\"p2\",\"foo\":\"\"}"));
	CHECK(!lmatch(sel, "{}"));
	CHECK_STR(lstr(sel), "app in (p1,p2),!foo,tier!=x");
	/* the form kubectl sends, after query decoding */
	CHECK(lmatch("app in (p1, p2) , tier != x", "{\"app\":\"p2\",\"tier\":\"z\"}"));
}

TEST(label_terms)
{
	CHECK(lmatch(NULL, "{}"));
	CHECK(lmatch("", "{\"a\":\"b\"}"));
	CHECK(lmatch("   ", "null"));
	CHECK(lmatch("a=b", "{\"a\":\"b\"}"));
	CHECK(lmatch("a==b", "{\"a\":\"b\"}"));
	CHECK(!lmatch("a=b", "{\"a\":\"c\"}"));
	CHECK(!lmatch("a=b", "{}"));
	CHECK(lmatch("a!=b", "{}"));
	CHECK(lmatch("a", "{\"a\":\"\"}"));
	CHECK(!lmatch("a", "{\"b\":\"\"}"));
	CHECK(lmatch("!a", "{\"b\":\"\"}"));
	CHECK(lmatch("a=", "{\"a\":\"\"}"));
	CHECK(lmatch("a notin (x,y)", "{}"));
	CHECK(lmatch("a notin (x,y)", "{\"a\":\"z\"}"));
	CHECK(!lmatch("a notin (x,y)", "{\"a\":\"y\"}"));
	CHECK(lmatch("a in (in,notin)", "{\"a\":\"notin\"}"));
	CHECK(lmatch("in in (x)", "{\"in\":\"x\"}"));
	CHECK(lmatch("a in ()", "{\"a\":\"\"}"));
	CHECK(lmatch("a in (,x)", "{\"a\":\"\"}"));
	CHECK(lmatch("n>5", "{\"n\":\"6\"}"));
	CHECK(!lmatch("n>5", "{\"n\":\"5\"}"));
	CHECK(!lmatch("n>5", "{\"n\":\"abc\"}"));
	CHECK(!lmatch("n>5", "{}"));
	CHECK(lmatch("n<5", "{\"n\":\"-3\"}"));
	CHECK(lmatch("app.kubernetes.io/name=web", "{\"app.kubernetes.io/name\":\"web\"}"));
	CHECK_STR(lstr("b=1,a in (z,y,z),!c,d"), "a in (y,z),b=1,!c,d");
	CHECK_STR(lstr("x==1,y>3"), "x==1,y>3");
	CHECK_STR(lstr(""), "");
}

TEST(label_errors)
{
	CHECK_STR(lerr("a b"), "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
	CHECK_STR(lerr("a=b c"), "found 'c', expected: ',' or 'end of string'");
	CHECK_STR(lerr("a=b,"), "found '', expected: identifier after ','");
	CHECK_STR(lerr(",a"), "found ',', expected: !, identifier, or 'end of string'");
	CHECK_STR(lerr("a in b"), "unable to parse requirement: found 'b' expected: '('");
	CHECK_STR(lerr("a in (b"), "unable to parse requirement: found '', expected: ',' or ')'");
	CHECK_STR(lerr("a=("), "unable to parse requirement: found '(', expected: identifier");
	CHECK_STR(lerr("!"), "unable to parse requirement: found '', expected: identifier");
	CHECK_STR(lerr("!a=b"), "found '=', expected: ',' or 'end of string'");
	CHECK_STR(lerr("a@b=c"),
		  "unable to parse requirement: <nil>: Invalid value: \"a@b\": name part must consist of "
		  "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
		  "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
		  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
	CHECK_STR(lerr("k>x"), "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', "
		  "'Lt' operators, the value must be an integer");
	CHECK(!strncmp(lerr("a=b@"), "unable to parse requirement: values[0][a]: Invalid value: \"b@\": a valid label must", 80));
	CHECK(strstr(lerr("Example.com/x=1"), "prefix part a lowercase RFC 1123 subdomain") != NULL);
	CHECK(strstr(lerr("/x=1"), "prefix part must be non-empty") != NULL);
	CHECK(strstr(lerr("a/b/c"), "a qualified name must consist") != NULL);
	CHECK(strstr(lerr("x/=1"), "name part must be non-empty") != NULL);
	CHECK(strstr(lerr("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		     "name part must be no more than 63 characters") != NULL);
	CHECK(strstr(lerr("a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
		     "must be no more than 63 characters") != NULL);
	CHECK_STR(lerr("a in (x y)"), "unable to parse requirement: found 'y', expected: ',' or ')'");
	CHECK_STR(lerr("a=b)"), "found ')', expected: ',' or 'end of string'");
}

/* gt_labelsel_from_object on a JSON text; frees everything. */
static int from_obj(const char *js, struct gt_err *e)
{
	struct gt_labelsel *s = NULL;
	json_t *v = J(js);
	int rc;

	gt_err_clear(e);
	rc = gt_labelsel_from_object(v, &s, e);
	gt_labelsel_free(s);
	json_decref(v);
	return rc;
}

static char *objstr(const char *js)
{
	static char buf[512];
	json_t *v = J(js);
	char *s = gt_labelsel_object_string(v);

	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	json_decref(v);
	return buf;
}

TEST(label_object)
{
	json_t *sel = J("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
			"{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"b\",\"a\"]},"
			"{\"key\":\"x\",\"operator\":\"DoesNotExist\"},"
			"{\"key\":\"env\",\"operator\":\"Exists\"},"
			"{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"z1\"]}]}");
	json_t *l1 = J("{\"app\":\"web\",\"tier\":\"a\",\"env\":\"p\"}");
	json_t *l2 = J("{\"app\":\"web\",\"tier\":\"a\",\"env\":\"p\",\"x\":\"1\"}");
	struct gt_labelsel *s;
	struct gt_err e;
	char *str;

	CHECK_INT(gt_labelsel_from_object(sel, &s, NULL), 0);
	CHECK(gt_labelsel_match(s, l1));
	CHECK(!gt_labelsel_match(s, l2));
	str = gt_labelsel_string(s);
	CHECK_STR(str, "app=web,env,tier in (a,b),!x,zone notin (z1)");
	free(str);
	gt_labelsel_free(s);

	/* null: nothing; {}: everything */
	CHECK_INT(gt_labelsel_from_object(NULL, &s, NULL), 0);
	CHECK(!gt_labelsel_match(s, l1));
	CHECK(!gt_labelsel_empty(s));
	gt_labelsel_free(s);
	CHECK_STR(objstr("{}"), "");
	CHECK_STR(objstr("null"), "");
	CHECK_STR(objstr("{\"matchLabels\":{\"b\":\"2\",\"a\":\"1\"}}"), "a=1,b=2");
	CHECK_STR(objstr("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Foo\"}]}"), "<error>");

	CHECK_INT(from_obj("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Foo\"}]}", &e), -EINVAL);
	CHECK_STR(e.msg, "\"Foo\" is not a valid label selector operator");
	CHECK_INT(from_obj("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}", &e), -EINVAL);
	CHECK_STR(e.msg, "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty");
	CHECK_INT(from_obj("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}", &e), -EINVAL);
	CHECK_STR(e.msg, "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist");
	CHECK_INT(from_obj("{\"matchLabels\":{\"a@\":\"x\"}}", &e), -EINVAL);
	CHECK(!strncmp(e.msg, "key: Invalid value: \"a@\": name part", 35));
	CHECK_INT(from_obj("{\"matchLabels\":{\"a\":1}}", &e), -EINVAL);
	CHECK_INT(from_obj("[]", &e), -EINVAL);

	json_decref(sel);
	sel = J("{\"app\":\"web\"}");
	CHECK_INT(gt_labelsel_from_map(sel, &s, NULL), 0);
	CHECK(gt_labelsel_match(s, l1));
	gt_labelsel_free(s);
	CHECK_INT(gt_labelsel_from_map(NULL, &s, NULL), 0);
	CHECK(gt_labelsel_empty(s));
	gt_labelsel_free(s);
	json_decref(sel);
	json_decref(l1);
	json_decref(l2);
}

static const char *ferr(const char *sel)
{
	static struct gt_err e;
	struct gt_fieldsel *s = NULL;

	gt_err_clear(&e);
	if (gt_fieldsel_parse(sel, &s, &e) == 0) {
		gt_fieldsel_free(s);
		return "";
	}
	return e.msg;
}

static bool fmatch(const char *sel, const char *obj)
{
	struct gt_fieldsel *s;
	json_t *o = J(obj);
	bool ok = false;

	if (gt_fieldsel_parse(sel, &s, NULL) == 0) {
		ok = gt_fieldsel_match(s, o);
		gt_fieldsel_free(s);
	}
	json_decref(o);
	return ok;
}

TEST(field_selectors)
{
	const char *pod = "{\"metadata\":{\"name\":\"p1\",\"namespace\":\"default\"},"
			  "\"spec\":{\"nodeName\":\"n1\",\"unschedulable\":true},\"status\":{\"phase\":\"Running\"},"
			  "\"count\":3}";
	const char *allowed[] = { "spec.nodeName", "status.phase", NULL };
	struct gt_fieldsel *s;
	struct gt_err e;
	const char *name;

	CHECK(fmatch(NULL, pod));
	CHECK(fmatch("", pod));
	CHECK(fmatch("metadata.name=p1", pod));
	CHECK(fmatch("metadata.name==p1,metadata.namespace=default", pod));
	CHECK(!fmatch("metadata.name!=p1", pod));
	CHECK(fmatch("status.phase!=Pending,spec.nodeName=n1", pod));
	CHECK(fmatch("spec.missing=", pod));
	CHECK(fmatch("count=3", pod));
	CHECK(fmatch("spec.unschedulable=true", pod));
	CHECK(fmatch("spec.unschedulable=false", "{}"));
	CHECK(fmatch("status.successful=0", "{}"));
	CHECK(fmatch("status.successful=2", "{\"status\":{\"succeeded\":2}}"));
	CHECK(fmatch("source=kubelet", "{\"source\":{\"component\":\"kubelet\"}}"));
	CHECK(fmatch("source=ctl", "{\"reportingComponent\":\"ctl\"}"));
	CHECK(fmatch("metadata.name=a\\,b\\=c\\\\", "{\"metadata\":{\"name\":\"a,b=c\\\\\"}}"));
	CHECK(fmatch("metadata.name=p1,", pod));

	CHECK_STR(ferr("abc"), "invalid selector: 'abc'; can't understand 'abc'");
	CHECK_STR(ferr("a=b\\"), "invalid escape sequence: \\");
	CHECK_STR(ferr("a=b\\x"), "invalid escape sequence: \\x");
	CHECK_STR(ferr("a=b=c"), "invalid field selector: unescaped character in value: =");

	CHECK_INT(gt_fieldsel_parse("spec.nodeName=n1,metadata.name=p1", &s, NULL), 0);
	CHECK_INT(gt_fieldsel_check(s, allowed, NULL), 0);
	CHECK_INT(gt_fieldsel_check_n(s, allowed + 1, 1, NULL), -EINVAL);
	CHECK_INT(gt_fieldsel_check_n(s, (const char *const[]){ "x", "spec.nodeName" }, 2, NULL), 0);
	CHECK(gt_fieldsel_requires_name(s, &name));
	CHECK_STR(name, "p1");
	gt_fieldsel_free(s);
	CHECK_INT(gt_fieldsel_parse("spec.foo=x", &s, NULL), 0);
	gt_err_clear(&e);
	CHECK_INT(gt_fieldsel_check(s, allowed, &e), -EINVAL);
	CHECK_STR(e.msg, "field label not supported: spec.foo");
	CHECK(!gt_fieldsel_requires_name(s, &name));
	gt_fieldsel_free(s);
	CHECK_INT(gt_fieldsel_parse("metadata.name!=x", &s, NULL), 0);
	CHECK_INT(gt_fieldsel_check(s, NULL, NULL), 0);
	CHECK(!gt_fieldsel_requires_name(s, &name));
	gt_fieldsel_free(s);
}

/* ---- quantities ---- */

static const struct {
	const char *in, *out;
	long long milli, value;
} qtab[] = {
	{ "0", "0", 0, 0 },
	{ "100m", "100m", 100, 1 },
	{ "1", "1", 1000, 1 },
	{ "1.5", "1500m", 1500, 2 },
	{ "0.1", "100m", 100, 1 },
	{ ".5", "500m", 500, 1 },
	{ "+5", "5", 5000, 5 },
	{ "01", "1", 1000, 1 },
	{ "1000", "1k", 1000000, 1000 },
	{ "1000m", "1", 1000, 1 },
	{ "1500m", "1500m", 1500, 2 },
	{ "1536", "1536", 1536000, 1536 },
	{ "1k", "1k", 1000000, 1000 },
	{ "1M", "1M", 1000000000LL, 1000000 },
	{ "2G", "2G", 2000000000000LL, 2000000000LL },
	{ "1.G", "1G", 1000000000000LL, 1000000000LL },
	{ "1E", "1E", INT64_MAX, 1000000000000000000LL },
	{ "1000E", "1000E", INT64_MAX, INT64_MAX },
	{ "1n", "1n", 1, 1 },
	{ "0.5n", "1n", 1, 1 },
	{ "1u", "1u", 1, 1 },
	{ "1500u", "1500u", 2, 1 },
	{ "-1", "-1", -1000, -1 },
	{ "-100m", "-100m", -100, -1 },
	{ "1Ki", "1Ki", 1024000, 1024 },
	{ "1Gi", "1Gi", 1073741824000LL, 1073741824LL },
	{ "1024Mi", "1Gi", 1073741824000LL, 1073741824LL },
	{ "1.5Gi", "1536Mi", 1610612736000LL, 1610612736LL },
	{ "0.5Ki", "512", 512000, 512 },
	{ "2048Ki", "2Mi", 2097152000LL, 2097152LL },
	{ "100Mi", "100Mi", 104857600000LL, 104857600LL },
	{ "1.1Ki", "1126400m", 1126400, 1127 },
	{ "8Ei", "9223372036854775807", INT64_MAX, INT64_MAX },
	{ "1e3", "1e3", 1000000, 1000 },
	{ "1E3", "1e3", 1000000, 1000 },
	{ "1.5e3", "1500", 1500000, 1500 },
	{ "1e-3", "1e-3", 1, 1 },
	{ "12e+2", "1200", 1200000, 1200 },
	{ "-", "0", 0, 0 },
	{ ".", "0", 0, 0 },
	{ "e3", "0", 0, 0 },
	{ "0.000000000000000000000000000000000000000000000000000001", "1n", 1, 1 },
	{ "1234567890123456789012345", "1234567890123456789012345", INT64_MAX, INT64_MAX },
	{ "123456789.123456789", "123456789123456789n", 123456789124LL, 123456790 },
};

TEST(quantity_table)
{
	for (size_t i = 0; i < GT_ARRAY_SIZE(qtab); i++) {
		struct gt_quantity q;
		struct gt_err e;
		char buf[GT_QUANTITY_STRLEN];

		gt_err_clear(&e);
		if (gt_quantity_parse(qtab[i].in, &q, &e) < 0) {
			fprintf(stderr, "  %s: %s\n", qtab[i].in, e.msg);
			CHECK(0);
			continue;
		}
		gt_quantity_format(&q, buf);
		CHECK_STR(buf, qtab[i].out);
		CHECK_INT(gt_quantity_milli(&q), qtab[i].milli);
		CHECK_INT(gt_quantity_value(&q), qtab[i].value);
	}
}

static const char *qerr(const char *s)
{
	static struct gt_err e;
	struct gt_quantity q;

	gt_err_clear(&e);
	return gt_quantity_parse(s, &q, &e) == 0 ? "" : e.msg;
}

TEST(quantity_errors_and_math)
{
	const char *fmt = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
	struct gt_quantity a, b, c;
	char buf[GT_QUANTITY_STRLEN], big[200];
	json_t *v;

	CHECK_STR(qerr(""), fmt);
	CHECK_STR(qerr("abc"), fmt);
	CHECK_STR(qerr("1Zi"), fmt);
	CHECK_STR(qerr("1e3.5"), fmt);
	CHECK_STR(qerr("1.5.5"), fmt);
	CHECK_STR(qerr(" 1"), fmt);
	CHECK_STR(qerr("1ki"), "unable to parse quantity's suffix");
	CHECK_STR(qerr("1e"), "unable to parse quantity's suffix");
	CHECK_STR(qerr("1kk"), "unable to parse quantity's suffix");
	CHECK_STR(qerr("Ei"), "unable to parse numeric part of quantity");

	CHECK_INT(gt_quantity_parse("1e100", &a, NULL), 0);
	CHECK(gt_quantity_saturated(&a));
	CHECK_INT(gt_quantity_value(&a), INT64_MAX);
	CHECK_INT(gt_quantity_parse("-1e100", &a, NULL), 0);
	CHECK(gt_quantity_saturated(&a));
	CHECK_INT(gt_quantity_value(&a), INT64_MIN);
	/* 1 followed by 100 zeros, scaled back down: exact beyond 76 significant digits */
	snprintf(big, sizeof(big), "1%0100de-100", 0);
	CHECK_INT(gt_quantity_parse(big, &a, NULL), 0);
	gt_quantity_format(&a, buf);
	CHECK_STR(buf, "1");

	gt_quantity_parse("100m", &a, NULL);
	gt_quantity_parse("1.5", &b, NULL);
	gt_quantity_add(&a, &b);
	gt_quantity_format(&a, buf);
	CHECK_STR(buf, "1600m");
	gt_quantity_sub(&a, &b);
	gt_quantity_sub(&a, &b);
	gt_quantity_format(&a, buf);
	CHECK_STR(buf, "-1400m");
	gt_quantity_set_int(&c, 0, GT_QUANTITY_DECIMAL_SI);
	gt_quantity_parse("1Gi", &b, NULL);
	gt_quantity_add(&c, &b);
	gt_quantity_add(&c, &b);
	gt_quantity_format(&c, buf);
	CHECK_STR(buf, "2Gi");
	gt_quantity_parse("1G", &a, NULL);
	CHECK_INT(gt_quantity_cmp(&b, &a), 1);
	CHECK_INT(gt_quantity_cmp(&a, &b), -1);
	gt_quantity_parse("1000m", &a, NULL);
	gt_quantity_parse("1", &b, NULL);
	CHECK_INT(gt_quantity_cmp(&a, &b), 0);
	gt_quantity_set_milli(&a, 250, GT_QUANTITY_DECIMAL_SI);
	gt_quantity_format(&a, buf);
	CHECK_STR(buf, "250m");
	CHECK(!gt_quantity_is_zero(&a));

	v = J("2");
	CHECK_INT(gt_quantity_from_json(v, &a, NULL), 0);
	json_decref(v);
	CHECK_INT(gt_quantity_value(&a), 2);
	v = json_real(0.5);
	CHECK_INT(gt_quantity_from_json(v, &a, NULL), 0);
	json_decref(v);
	gt_quantity_format(&a, buf);
	CHECK_STR(buf, "500m");
	v = json_real(0.1);
	CHECK_INT(gt_quantity_from_json(v, &a, NULL), 0);
	json_decref(v);
	CHECK_INT(gt_quantity_milli(&a), 100);
	v = json_string(" 1Gi ");
	CHECK_INT(gt_quantity_from_json(v, &a, NULL), 0);
	json_decref(v);
	v = gt_quantity_to_json(&a);
	CHECK_STR(json_string_value(v), "1Gi");
	json_decref(v);
	CHECK_INT(gt_quantity_from_json(json_null(), &a, NULL), 0);
	CHECK(gt_quantity_is_zero(&a));
	CHECK_INT(gt_quantity_from_json(json_true(), &a, NULL), -EINVAL);
}

int main(void)
{
	RUN(label_example);
	RUN(label_terms);
	RUN(label_errors);
	RUN(label_object);
	RUN(field_selectors);
	RUN(quantity_table);
	RUN(quantity_errors_and_math);
	return t_done();
}
