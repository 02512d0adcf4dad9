/*
 * cron.c - CronJob schedule parsing and next-time computation (see
 * cron.h).  The parser follows robfig/cron v3 (ParseStandard), which
 * Kubernetes' CronJob controller and validation use, down to its error
 * messages; next times step month, day, hour and minute the way its
 * SpecSchedule.Next does, in UTC.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/cron.h"
#include "base/util.h"

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
				      "sep", "oct", "nov", "dec", NULL };
static const char *const dows[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

struct field {
	int lo, hi, base;
	const char *const *names;
};

static const struct field fields[5] = {
	{ 0, 59, 0, NULL }, { 0, 23, 0, NULL }, { 1, 31, 0, NULL }, { 1, 12, 1, months },
	{ 0, 6, 0, dows },
};

/* robfig parseIntOrName / mustParseInt (Go's strconv.Atoi rules). */
static int parse_int(const char *s, const char *const *names, int base, int *out, char *msg, size_t n)
{
	const char *p = s;
	long x = 0;
	bool neg = false;

	for (size_t i = 0; names && names[i]; i++) {
		if (!strcasecmp(s, names[i])) {
			*out = (int)i + base;
			return 0;
		}
	}
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		goto bad;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		if (x < 1000000)
			x = x * 10 + (*p - '0');
	}
	if (neg && x) {
		snprintf(msg, n, "negative number (-%ld) not allowed: %s", x, s);
		return -EINVAL;
	}
	*out = (int)x;
	return 0;
bad:
	snprintf(msg, n, "failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax", s, s);
	return -EINVAL;
}

/* robfig getRange: one comma-separated part of a field. */
static int parse_range(const char *expr, const struct field *f, uint64_t *bits, bool *star,
		       char *msg, size_t n)
{
	char buf[128], *slash, *dash;
	int start, end, step = 1;
	bool single;

	if (strlen(expr) >= sizeof(buf)) {
		snprintf(msg, n, "failed to parse int from %.40s: strconv.Atoi: parsing \"%.40s\": invalid syntax",
			 expr, expr);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", expr);
	slash = strchr(buf, '/');
	if (slash) {
		*slash++ = '\0';
		if (strchr(slash, '/')) {
			snprintf(msg, n, "too many slashes: %s", expr);
			return -EINVAL;
		}
	}
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	single = !dash;
	*star = false;
	if (!strcmp(buf, "*") || !strcmp(buf, "?")) {
		start = f->lo;
		end = f->hi;
		*star = true;
	} else {
		if (parse_int(buf, f->names, f->base, &start, msg, n) < 0)
			return -EINVAL;
		end = start;
		if (dash) {
			if (strchr(dash, '-')) {
				snprintf(msg, n, "too many hyphens: %s", expr);
				return -EINVAL;
			}
			if (parse_int(dash, f->names, f->base, &end, msg, n) < 0)
				return -EINVAL;
		}
	}
	if (slash) {
		if (parse_int(slash, NULL, 0, &step, msg, n) < 0)
			return -EINVAL;
		if (single)
			end = f->hi;
		if (step > 1)
			*star = false;
	}
	if (start < f->lo)
		snprintf(msg, n, "beginning of range (%d) below minimum (%d): %s", start, f->lo, expr);
	else if (end > f->hi)
		snprintf(msg, n, "end of range (%d) above maximum (%d): %s", end, f->hi, expr);
	else if (start > end)
		snprintf(msg, n, "beginning of range (%d) beyond end of range (%d): %s", start, end, expr);
	else if (step == 0)
		snprintf(msg, n, "step of range should be a positive number: %s", expr);
	else {
		for (int i = start; i <= end; i += step)
			*bits |= 1ull << i;
		return 0;
	}
	return -EINVAL;
}

static int parse_field(char *text, const struct field *f, uint64_t *bits, bool *star, char *msg, size_t n)
{
	char *part, *save = NULL;

	*bits = 0;
	*star = false;
	for (part = strtok_r(text, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		bool s;

		if (parse_range(part, f, bits, &s, msg, n) < 0)
			return -EINVAL;
		*star |= s;
	}
	return 0;
}

/* Go's time.ParseDuration, to whole seconds (robfig rounds @every to >= 1 s). */
static int parse_duration(const char *s, int64_t *out)
{
	static const struct { const char *unit; double sec; } units[] = {
		{ "ns", 1e-9 }, { "us", 1e-6 }, { "\xc2\xb5s", 1e-6 }, { "\xce\xbcs", 1e-6 },
		{ "ms", 1e-3 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
	};
	double total = 0;
	const char *p = s;
	bool neg = false;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!strcmp(p, "0")) {
		*out = 0;
		return 0;
	}
	if (!*p)
		return -EINVAL;
	while (*p) {
		const char *num = p;
		double v;
		size_t best = 0, k;
		int which = -1;

		while (isdigit((unsigned char)*p) || *p == '.')
			p++;
		if (p == num || (p == num + 1 && *num == '.'))
			return -EINVAL;
		v = strtod(num, NULL);
		for (k = 0; k < GT_ARRAY_SIZE(units); k++) {
			size_t l = strlen(units[k].unit);

			if (!strncmp(p, units[k].unit, l) && l > best &&
			    !(l == 1 && p[0] == 'm' && p[1] == 's')) {
				best = l;
				which = (int)k;
			}
		}
		if (which < 0)
			return -EINVAL;
		p += best;
		total += v * units[which].sec;
		if (total > 9.2e9)
			return -ERANGE;
	}
	*out = neg ? -(int64_t)total : (int64_t)total;
	return 0;
}

int gt_cron_parse(const char *spec, struct gt_cron *out, char *msg, size_t n)
{
	static const struct { const char *name, *expr; } desc[] = {
		{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
		{ "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
		{ "@hourly", "0 * * * *" },
	};
	char *copy, *save = NULL, *tok, *fv[5];
	uint64_t bits[5];
	bool stars[5];
	int nf = 0, rc = 0;

	memset(out, 0, sizeof(*out));
	if (!*spec) {
		snprintf(msg, n, "empty spec string");
		return -EINVAL;
	}
	if (*spec == '@') {
		for (size_t i = 0; i < GT_ARRAY_SIZE(desc); i++)
			if (!strcmp(spec, desc[i].name))
				return gt_cron_parse(desc[i].expr, out, msg, n);
		if (!strncmp(spec, "@every ", 7)) {
			int64_t d;

			if (parse_duration(spec + 7, &d) < 0) {
				snprintf(msg, n, "failed to parse duration %s: time: invalid duration \"%s\"", spec,
					 spec + 7);
				return -EINVAL;
			}
			out->every = d < 1 ? 1 : d;
			return 0;
		}
		snprintf(msg, n, "unrecognized descriptor: %s", spec);
		return -EINVAL;
	}
	copy = xstrdup(spec);
	for (tok = strtok_r(copy, " \t\n\r\v\f", &save); tok; tok = strtok_r(NULL, " \t\n\r\v\f", &save)) {
		if (nf < 5)
			fv[nf] = tok;
		nf++;
	}
	if (nf != 5) {
		snprintf(msg, n, "expected exactly 5 fields, found %d: [%s]", nf, spec);
		free(copy);
		return -EINVAL;
	}
	for (int i = 0; i < 5 && !rc; i++)
		rc = parse_field(fv[i], &fields[i], &bits[i], &stars[i], msg, n);
	free(copy);
	if (rc < 0)
		return rc;
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->dom = (uint32_t)bits[2];
	out->month = (uint32_t)bits[3];
	out->dow = (uint32_t)bits[4];
	out->dom_star = stars[2];
	out->dow_star = stars[4];
	return 0;
}

static bool day_matches(const struct gt_cron *c, const struct tm *tm)
{
	bool d = c->dom & (1u << tm->tm_mday), w = c->dow & (1u << tm->tm_wday);

	return c->dom_star || c->dow_star ? d && w : d || w;
}

int64_t gt_cron_next(const struct gt_cron *c, int64_t after)
{
	struct tm tm;
	time_t t;
	int limit;

	if (c->every > 0)
		return after + c->every;
	/* the next whole minute strictly after `after` */
	t = (time_t)((after >= 0 ? after / 60 : (after - 59) / 60) + 1) * 60;
	gmtime_r(&t, &tm);
	limit = tm.tm_year + 5;
	for (;;) {
		gmtime_r(&t, &tm);
		if (tm.tm_year > limit)
			return -1;
		if (!(c->month & (1u << (tm.tm_mon + 1)))) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!(c->hour & (1u << tm.tm_hour))) {
			tm.tm_hour++;
			tm.tm_min = tm.tm_sec = 0;
		} else if (!(c->minute & (1ull << tm.tm_min))) {
			tm.tm_min++;
			tm.tm_sec = 0;
		} else {
			return (int64_t)t;
		}
		t = timegm(&tm); /* normalises the overflowed field */
	}
}
