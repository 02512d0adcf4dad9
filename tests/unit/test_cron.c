/*
 * test_cron.c - CronJob schedules (api/cron.c): robfig/cron's parse
 * results and messages, day-of-month/day-of-week matching, next times.
 */
#include <time.h>

#include "api/cron.h"
#include "base/util.h"
#include "t.h"

static int64_t at(const char *s)
{
	time_t t = 0;

	gt_time_parse(s, &t);
	return (int64_t)t;
}

static const char *next_str(const char *spec, const char *after, char out[32])
{
	struct gt_cron c;
	char msg[256];
	int64_t n;

	if (gt_cron_parse(spec, &c, msg, sizeof(msg)) < 0)
		return "parse error";
	n = gt_cron_next(&c, at(after));
	if (n < 0)
		return "never";
	gt_time_rfc3339((time_t)n, out);
	return out;
}

static const char *err_of(const char *spec, char msg[256])
{
	struct gt_cron c;

	if (gt_cron_parse(spec, &c, msg, 256) == 0)
		return "ok";
	return msg;
}

TEST(parse_fields)
{
	struct gt_cron c;
	char msg[256];

	CHECK_INT(gt_cron_parse("*/15 2,4-6 1 jan,JUL mon-fri", &c, msg, sizeof(msg)), 0);
	CHECK(c.minute == ((1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45)));
	CHECK(c.hour == ((1u << 2) | (1u << 4) | (1u << 5) | (1u << 6)));
	CHECK(c.dom == (1u << 1));
	CHECK(c.month == ((1u << 1) | (1u << 7)));
	CHECK(c.dow == 0x3e);
	CHECK(!c.dom_star && !c.dow_star);
	CHECK_INT(gt_cron_parse("5/20 * ? * *", &c, msg, sizeof(msg)), 0);
	CHECK(c.minute == ((1ull << 5) | (1ull << 25) | (1ull << 45)));
	CHECK(c.dom_star && c.dow_star);
	CHECK_INT(gt_cron_parse("@weekly", &c, msg, sizeof(msg)), 0);
	CHECK(c.minute == 1 && c.hour == 1 && c.dow == 1 && !c.dow_star && c.dom_star);
	CHECK_INT(gt_cron_parse("@every 1h30m", &c, msg, sizeof(msg)), 0);
	CHECK_INT(c.every, 5400);
	CHECK_INT(gt_cron_parse("@every 10ms", &c, msg, sizeof(msg)), 0);
	CHECK_INT(c.every, 1);
}

TEST(parse_errors)
{
	char m[256];

	CHECK_STR(err_of("", m), "empty spec string");
	CHECK_STR(err_of("* * *", m), "expected exactly 5 fields, found 3: [* * *]");
	CHECK_STR(err_of("* * * * * *", m), "expected exactly 5 fields, found 6: [* * * * * *]");
	CHECK_STR(err_of("0 70 * * *", m), "end of range (70) above maximum (23): 70");
	CHECK_STR(err_of("0 0 0 * *", m), "beginning of range (0) below minimum (1): 0");
	CHECK_STR(err_of("5-2 * * * *", m), "beginning of range (5) beyond end of range (2): 5-2");
	CHECK_STR(err_of("*/0 * * * *", m), "step of range should be a positive number: */0");
	CHECK_STR(err_of("1-2-3 * * * *", m), "too many hyphens: 1-2-3");
	CHECK_STR(err_of("*/2/3 * * * *", m), "too many slashes: */2/3");
	CHECK_STR(err_of("x * * * *", m), "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax");
	CHECK_STR(err_of("* * * foo *", m), "failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax");
	CHECK_STR(err_of("@sometimes", m), "unrecognized descriptor: @sometimes");
	CHECK_STR(err_of("@every x", m), "failed to parse duration @every x: time: invalid duration \"x\"");
	CHECK_STR(err_of("@every 5", m), "failed to parse duration @every 5: time: invalid duration \"5\"");
	CHECK_STR(err_of("0 0 * JAN,jul MON-FRI", m), "ok");
	CHECK_STR(err_of("@hourly", m), "ok");
}

TEST(next_times)
{
	char b[32];

	CHECK_STR(next_str("* * * * *", "2026-11-27T20:53:36Z", b), "2026-11-27T20:54:00Z");
	CHECK_STR(next_str("* * * * *", "2026-11-27T20:54:00Z", b), "2026-11-27T20:55:00Z");
	CHECK_STR(next_str("*/15 * * * *", "2026-11-27T20:53:36Z", b), "2026-11-27T21:00:00Z");
	CHECK_STR(next_str("30 2 * * *", "2026-11-27T20:53:36Z", b), "2026-11-28T02:30:00Z");
	CHECK_STR(next_str("@yearly", "2026-11-27T20:53:36Z", b), "2027-01-01T00:00:00Z");
	CHECK_STR(next_str("@monthly", "2026-12-31T23:59:00Z", b), "2027-01-01T00:00:00Z");
	/* 2026-11-27 is a Friday */
	CHECK_STR(next_str("0 9 * * mon", "2026-11-27T20:53:36Z", b), "2026-11-30T09:00:00Z");
	/* both day fields restricted: either matches (the 1st, or a Monday) */
	CHECK_STR(next_str("0 0 1 * mon", "2026-11-27T20:53:36Z", b), "2026-11-30T00:00:00Z");
	CHECK_STR(next_str("0 0 1 * mon", "2026-11-30T00:00:00Z", b), "2026-12-01T00:00:00Z");
	/* day of week a star: the day of month alone decides */
	CHECK_STR(next_str("0 0 13 * *", "2026-11-27T20:53:36Z", b), "2026-12-13T00:00:00Z");
	CHECK_STR(next_str("0 12 29 2 *", "2026-11-27T00:00:00Z", b), "2028-02-29T12:00:00Z");
	CHECK_STR(next_str("0 0 30 2 *", "2026-11-27T00:00:00Z", b), "never");
	CHECK_STR(next_str("@every 90s", "2026-11-27T20:53:36Z", b), "2026-11-27T20:55:06Z");
}

int main(void)
{
	RUN(parse_fields);
	RUN(parse_errors);
	RUN(next_times);
	return t_done();
}
