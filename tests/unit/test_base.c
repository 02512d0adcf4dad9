/* Unit tests for src/base: errors, buffers, time, parsing, base64. */
#include "t.h"
#include "base/err.h"
#include "base/util.h"

TEST(err_table)
{
	struct gt_err e;

	gt_err_clear(&e);
	CHECK_INT(gt_err_set(&e, -ENOENT, "pods \"%s\" not found", "x"), -ENOENT);
	CHECK_STR(e.msg, "pods \"x\" not found");
	CHECK_INT(gt_err_http(-ENOENT), 404);
	CHECK_STR(gt_err_reason(-ESTALE), "Conflict");
	CHECK_INT(gt_err_http(-EBADMSG), 422);
	CHECK_INT(gt_err_http(-12345), 500);
	gt_err_prefix(&e, -EINVAL, "get");
	CHECK_STR(e.msg, "get: pods \"x\" not found");
	gt_err_cause(&e, "spec.x", "FieldValueRequired", "Required value");
	CHECK_INT(e.ncauses, 1);
	CHECK_STR(e.causes[0].field, "spec.x");
}

TEST(buf)
{
	struct gt_buf b = GT_BUF_INIT;
	char *s;
	size_t n;

	for (int i = 0; i < 1000; i++)
		gt_buf_addf(&b, "%d,", i);
	CHECK(b.len > 1000);
	CHECK(!strncmp(b.data, "0,1,2,", 6));
	s = gt_buf_detach(&b, &n);
	CHECK_INT(strlen(s), n);
	free(s);
	gt_buf_release(&b);
}

TEST(time_fmt)
{
	char out[32], d[16];
	time_t t;

	gt_time_rfc3339(0, out);
	CHECK_STR(out, "1970-01-01T00:00:00Z");
	CHECK_INT(gt_time_parse("2021-01-13T13:20:00Z", &t), 0);
	gt_time_rfc3339(t, out);
	CHECK_STR(out, "2021-01-13T13:20:00Z");
	CHECK_INT(gt_time_parse("2021-01-13T14:20:00.5+01:00", &t), 0);
	gt_time_rfc3339(t, out);
	CHECK_STR(out, "2021-01-13T13:20:00Z");
	CHECK(gt_time_parse("yesterday", &t) < 0);
	gt_duration_short(45, d);
	CHECK_STR(d, "45s");
	gt_duration_short(300, d);
	CHECK_STR(d, "5m");
	gt_duration_short(2 * 86400 + 3 * 3600, d);
	CHECK_STR(d, "2d3h");
}

TEST(parse)
{
	bool b;
	int64_t v;

	CHECK_INT(gt_parse_bool("True", &b), 0);
	CHECK(b);
	CHECK_INT(gt_parse_bool("0", &b), 0);
	CHECK(!b);
	CHECK(gt_parse_bool("yes", &b) < 0);
	CHECK_INT(gt_parse_i64("-42", &v), 0);
	CHECK_INT(v, -42);
	CHECK(gt_parse_i64("4x", &v) < 0);
	CHECK(gt_parse_i64("99999999999999999999", &v) < 0);
}

TEST(base64)
{
	const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *exp[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

	for (size_t i = 0; i < 7; i++) {
		char *e = gt_base64_encode(in[i], strlen(in[i]));
		unsigned char *d;
		size_t n;

		CHECK_STR(e, exp[i]);
		CHECK_INT(gt_base64_decode(e, strlen(e), &d, &n), 0);
		CHECK_INT(n, strlen(in[i]));
		CHECK(!memcmp(d, in[i], n));
		free(d);
		free(e);
	}
	{
		unsigned char *d;
		size_t n;

		CHECK(gt_base64_decode("Zm9", 3, &d, &n) < 0);
		CHECK(gt_base64_decode("Z!9v", 4, &d, &n) < 0);
		CHECK(gt_base64_decode("Zg=v", 4, &d, &n) < 0);
	}
}

TEST(ids)
{
	char u[37], s[6];

	gt_uuid(u);
	CHECK_INT(strlen(u), 36);
	CHECK(u[14] == '4');
	gt_random_suffix(s, 5);
	CHECK_INT(strlen(s), 5);
	CHECK(strspn(s, "bcdfghjklmnpqrstvwxz2456789") == 5);
}

int main(void)
{
	RUN(err_table);
	RUN(buf);
	RUN(time_fmt);
	RUN(parse);
	RUN(base64);
	RUN(ids);
	return t_done();
}
