/*
 * cron.h - CronJob schedules: the standard 5-field cron syntax as
 * Kubernetes parses it (robfig/cron's ParseStandard): minute, hour,
 * day of month, month, day of week; each field a comma list of `*`, `?`,
 * numbers, names (jan..dec, sun..sat, any case) and ranges `a-b`, with an
 * optional step `/n` (`N/n` means N to the field's maximum); the
 * descriptors @yearly, @annually, @monthly, @weekly, @daily, @midnight,
 * @hourly and `@every DURATION` (a Go duration such as 90s, 1h30m).
 * Day matching follows cron: when day of month and day of week are both
 * restricted, a day matches either; otherwise both must match.
 *
 * Times are UTC seconds since the epoch.  Thread-safety: pure functions.
 */
#ifndef GT_API_CRON_H
#define GT_API_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gt_cron {
	uint64_t minute;   /* bit i: minute i (0-59) */
	uint32_t hour;     /* 0-23 */
	uint32_t dom;      /* 1-31 */
	uint32_t month;    /* 1-12 */
	uint32_t dow;      /* 0-6, Sunday 0 */
	bool dom_star, dow_star; /* the field was `*` or `?` (no step > 1) */
	int64_t every;     /* @every: seconds (> 0); the fields are unused */
};

/*
 * Parses spec into *out.  0, or -EINVAL with robfig/cron's message in msg
 * (e.g. "expected exactly 5 fields, found 3: [* * *]",
 * "end of range (70) above maximum (23): 70").
 */
int gt_cron_parse(const char *spec, struct gt_cron *out, char *msg, size_t n);

/*
 * The first scheduled time strictly after `after` (whole minutes, or
 * after + every for @every), or -1 when none comes within 5 years (e.g.
 * "0 0 30 2 *").
 */
int64_t gt_cron_next(const struct gt_cron *c, int64_t after);

#endif
