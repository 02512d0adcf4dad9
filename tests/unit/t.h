/*
 * t.h - the tiny unit-test harness.  Each tests/unit/test_<module>.c is one
 * binary: TEST(name) functions registered in main() with RUN(name), CHECK()
 * assertions that record a failure and continue, and a closing line
 * "N passed, N failed" that scripts/run-tests.sh adds up.
 *
 *   TEST(parse_ok) { CHECK(f() == 0); CHECK_STR(s, "x"); }
 *   int main(void) { RUN(parse_ok); return t_done(); }
 */
#ifndef GT_TESTS_T_H
#define GT_TESTS_T_H

#include <stdio.h>
#include <string.h>

static int t_passed, t_failed, t_cur_failed;
static const char *t_cur;

#define TEST(name) static void test_##name(void)
#define RUN(name) do { \
	t_cur = #name; t_cur_failed = 0; test_##name(); \
	if (t_cur_failed) { t_failed++; printf("not ok - %s\n", #name); } \
	else { t_passed++; printf("ok - %s\n", #name); } \
	fflush(stdout); } while (0)

#define CHECK(cond) do { if (!(cond)) { t_cur_failed = 1; \
	fprintf(stderr, "  %s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, t_cur, #cond); } } while (0)
#define CHECK_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { t_cur_failed = 1; fprintf(stderr, "  %s:%d: %s: %s == %lld, expected %lld\n", \
	__FILE__, __LINE__, t_cur, #a, _a, _b); } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b)) { t_cur_failed = 1; \
	fprintf(stderr, "  %s:%d: %s: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, t_cur, \
	#a, _a ? _a : "(null)", _b ? _b : "(null)"); } } while (0)

static inline int t_done(void)
{
	printf("%d passed, %d failed\n", t_passed, t_failed);
	return t_failed ? 1 : 0;
}

#endif
