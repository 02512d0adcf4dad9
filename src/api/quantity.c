/*
 * quantity.c - resource.Quantity parsing, arithmetic and printing (see
 * quantity.h).
 *
 * The string is split exactly as Kubernetes' parseQuantityString splits it
 * (sign, integer digits, fraction digits, suffix), so the same strings are
 * accepted and rejected.  The value is then computed exactly with a small
 * fixed-width big number (6 × 64 bits): digits × 2^binaryExp × 10^decimalExp,
 * rounded up to a nano-unit, and stored in 128 bits.
 */
#include "api/quantity.h"

#include <stdio.h>
#include <string.h>

#define ERR_FORMAT "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define ERR_NUMERIC "unable to parse numeric part of quantity"
#define ERR_SUFFIX "unable to parse quantity's suffix"

#define NANO 1000000000
#define MAX_SIG_DIGITS 76 /* < 2^253: room to multiply by 2^60 in 384 bits */

typedef unsigned __int128 u128; /* local shorthand, not a struct */

/* ---- a 384-bit unsigned accumulator ---- */

struct big {
	uint64_t l[6]; /* little-endian limbs */
};

static void big_mul(struct big *a, uint64_t m)
{
	u128 carry = 0;

	for (int i = 0; i < 6; i++) {
		u128 t = (u128)a->l[i] * m + carry;

		a->l[i] = (uint64_t)t;
		carry = t >> 64;
	}
}

static void big_add(struct big *a, uint64_t v)
{
	for (int i = 0; i < 6 && v; i++) {
		a->l[i] += v;
		v = a->l[i] < v;
	}
}

/* a /= d; returns the remainder. */
static uint64_t big_div(struct big *a, uint64_t d)
{
	u128 rem = 0;

	for (int i = 5; i >= 0; i--) {
		u128 cur = (rem << 64) | a->l[i];

		a->l[i] = (uint64_t)(cur / d);
		rem = cur % d;
	}
	return (uint64_t)rem;
}

static bool big_zero(const struct big *a)
{
	for (int i = 0; i < 6; i++)
		if (a->l[i])
			return false;
	return true;
}

/* min(a, LIMIT) as u128; *over set when a > LIMIT. */
static u128 big_clamp(const struct big *a, bool *over)
{
	u128 v = ((u128)a->l[1] << 64) | a->l[0];

	*over = a->l[2] || a->l[3] || a->l[4] || a->l[5] || v > (u128)GT_QUANTITY_LIMIT_NANO;
	return *over ? (u128)GT_QUANTITY_LIMIT_NANO : v;
}

/* ---- parsing ---- */

struct split {
	bool positive;
	const char *num;   /* integer digits, leading zeros stripped */
	size_t nnum;
	const char *denom; /* fraction digits */
	size_t ndenom;
	const char *suffix;
	size_t nsuffix;
	bool digits;       /* the numeric part has at least one digit */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* parseQuantityString; false for ErrFormatWrong. */
static bool split_quantity(const char *str, struct split *sp)
{
	size_t pos = 0, end = strlen(str), i;

	memset(sp, 0, sizeof(*sp));
	sp->positive = true;
	sp->num = sp->denom = sp->suffix = "";
	if (pos < end && (str[0] == '-' || str[0] == '+')) {
		sp->positive = str[0] != '-';
		pos++;
	}
	while (pos < end && str[pos] == '0') {
		pos++;
		sp->digits = true;
	}
	if (pos >= end) {
		sp->digits = true; /* Kubernetes answers "0" here, even for "-" */
		return true;
	}
	for (i = pos; i < end && is_digit(str[i]); i++)
		;
	sp->num = str + pos;
	sp->nnum = i - pos;
	sp->digits |= sp->nnum > 0;
	pos = i;
	if (pos >= end)
		return true;
	if (str[pos] == '.') {
		pos++;
		for (i = pos; i < end && is_digit(str[i]); i++)
			;
		sp->denom = str + pos;
		sp->ndenom = i - pos;
		sp->digits |= sp->ndenom > 0;
		pos = i;
		if (pos >= end)
			return true;
	}
	sp->suffix = str + pos;
	for (i = pos; i < end && strchr("eEinumkKMGTP", str[i]); i++)
		;
	if (i >= end)
		goto done;
	pos = i;
	if (str[pos] == '-' || str[pos] == '+')
		pos++;
	for (i = pos; i < end && is_digit(str[i]); i++)
		;
	if (i < end)
		return false;
done:
	sp->nsuffix = (size_t)(str + end - sp->suffix);
	return true;
}

/* suffixHandler.interpret: base 10 or 2, exponent, format; false for ErrSuffix. */
static bool interpret_suffix(const char *s, size_t n, int *base, int *exp,
			     enum gt_quantity_fmt *fmt)
{
	static const struct { const char *s; int exp; } dec[] = {
		{ "n", -9 }, { "u", -6 }, { "m", -3 }, { "", 0 }, { "k", 3 }, { "M", 6 },
		{ "G", 9 }, { "T", 12 }, { "P", 15 }, { "E", 18 },
	}, bin[] = {
		{ "Ki", 10 }, { "Mi", 20 }, { "Gi", 30 }, { "Ti", 40 }, { "Pi", 50 }, { "Ei", 60 },
	};
	int64_t e = 0;
	size_t i = 1;
	bool neg = false;

	for (size_t k = 0; k < GT_ARRAY_SIZE(dec); k++) {
		if (strlen(dec[k].s) == n && !strncmp(dec[k].s, s, n)) {
			*base = 10, *exp = dec[k].exp, *fmt = GT_QUANTITY_DECIMAL_SI;
			return true;
		}
	}
	for (size_t k = 0; k < GT_ARRAY_SIZE(bin); k++) {
		if (n == 2 && !strncmp(bin[k].s, s, 2)) {
			*base = 2, *exp = bin[k].exp, *fmt = GT_QUANTITY_BINARY_SI;
			return true;
		}
	}
	if (n < 2 || (s[0] != 'e' && s[0] != 'E'))
		return false;
	/* strconv.ParseInt(s[1:], 10, 64) */
	if (s[i] == '+' || s[i] == '-')
		neg = s[i++] == '-';
	if (i >= n)
		return false;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		if (e > (INT64_MAX - 9) / 10)
			return false;
		e = e * 10 + (s[i] - '0');
	}
	/* Past ±1000 the value is 0, rounds up to 1n, or saturates either way. */
	if (e > 1000)
		e = 1000;
	*base = 10, *exp = (int)(neg ? -e : e), *fmt = GT_QUANTITY_DECIMAL_EXPONENT;
	return true;
}

/* Would ParseQuantity take its inf.Dec path (which needs a numeric part)? */
static bool slow_path(const struct split *sp, int exp, enum gt_quantity_fmt fmt)
{
	int len = (int)(sp->nnum ? sp->nnum : 1); /* Kubernetes counts an empty num as "0" */

	if (fmt == GT_QUANTITY_BINARY_SI)
		return exp < 0 || sp->ndenom || 15 - len - exp * 3 / 10 - 1 < 0;
	if (18 - len - (int)sp->ndenom < 0)
		return true;
	return exp - (int)sp->ndenom < -9;
}

int gt_quantity_parse(const char *s, struct gt_quantity *q, struct gt_err *err)
{
	struct split sp;
	struct big acc = { { 0 } };
	enum gt_quantity_fmt fmt;
	int base, exp, sig = 0;
	long k, dropped = 0;
	bool sticky = false, over;
	u128 mag;

	if (!s || !*s || !split_quantity(s, &sp))
		return gt_err_set(err, -EINVAL, ERR_FORMAT);
	if (!interpret_suffix(sp.suffix, sp.nsuffix, &base, &exp, &fmt))
		return gt_err_set(err, -EINVAL, ERR_SUFFIX);
	if (slow_path(&sp, exp, fmt) && !sp.digits)
		return gt_err_set(err, -EINVAL, ERR_NUMERIC);

	for (size_t i = 0; i < sp.nnum + sp.ndenom; i++) {
		int d = (i < sp.nnum ? sp.num[i] : sp.denom[i - sp.nnum]) - '0';

		if (sig == 0 && d == 0)
			continue;
		if (sig < MAX_SIG_DIGITS) {
			big_mul(&acc, 10);
			big_add(&acc, (uint64_t)d);
			sig++;
		} else {
			dropped++;
			sticky |= d != 0;
		}
	}
	if (base == 2)
		for (int i = 0; i < exp; i += 10)
			big_mul(&acc, 1024);
	k = (base == 10 ? exp : 0) - (long)sp.ndenom + 9 + dropped;
	for (; k > 0 && !big_zero(&acc); k--) {
		big_mul(&acc, 10);
		big_clamp(&acc, &over);
		if (over)
			break;
	}
	for (; k < 0 && !big_zero(&acc); k++)
		sticky |= big_div(&acc, 10) != 0;
	if (sticky)
		big_add(&acc, 1); /* round up to the next nano-unit, away from zero */
	mag = big_clamp(&acc, &over);
	if (fmt == GT_QUANTITY_BINARY_SI && mag > (u128)INT64_MAX * NANO)
		mag = (u128)INT64_MAX * NANO;
	q->nano = sp.positive ? (__int128)mag : -(__int128)mag;
	q->format = fmt;
	return 0;
}

/* Shortest text that reads back as d (what a JSON encoder would have sent). */
static void real_text(double d, char out[40])
{
	for (int p = 1; p <= 17; p++) {
		snprintf(out, 40, "%.*g", p, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

int gt_quantity_from_json(const json_t *v, struct gt_quantity *q, struct gt_err *err)
{
	char buf[40];

	if (!v || json_is_null(v)) {
		q->nano = 0;
		q->format = GT_QUANTITY_DECIMAL_SI;
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		char *t;
		int rc;

		if (strlen(s) != n) /* embedded NUL */
			return gt_err_set(err, -EINVAL, ERR_FORMAT);
		while (n && strchr(" \t\r\n\v\f", s[n - 1]))
			n--;
		while (n && strchr(" \t\r\n\v\f", *s))
			s++, n--;
		t = xstrndup(s, n);
		rc = gt_quantity_parse(t, q, err);
		free(t);
		return rc;
	}
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		return gt_quantity_parse(buf, q, err);
	}
	if (json_is_real(v)) {
		real_text(json_real_value(v), buf);
		return gt_quantity_parse(buf, q, err);
	}
	return gt_err_set(err, -EINVAL, ERR_FORMAT);
}

/* ---- arithmetic ---- */

static __int128 clamp(__int128 v)
{
	if (v > GT_QUANTITY_LIMIT_NANO)
		return GT_QUANTITY_LIMIT_NANO;
	if (v < -GT_QUANTITY_LIMIT_NANO)
		return -GT_QUANTITY_LIMIT_NANO;
	return v;
}

void gt_quantity_set_int(struct gt_quantity *q, int64_t value, enum gt_quantity_fmt fmt)
{
	q->nano = (__int128)value * NANO;
	q->format = fmt;
}

void gt_quantity_set_milli(struct gt_quantity *q, int64_t milli, enum gt_quantity_fmt fmt)
{
	q->nano = (__int128)milli * 1000000;
	q->format = fmt;
}

/* nano / div rounded away from zero, saturated to int64. */
static int64_t scaled(__int128 nano, int64_t div)
{
	__int128 r = nano / div;

	if (nano % div)
		r += nano > 0 ? 1 : -1;
	if (r > INT64_MAX)
		return INT64_MAX;
	if (r < INT64_MIN)
		return INT64_MIN;
	return (int64_t)r;
}

int64_t gt_quantity_value(const struct gt_quantity *q)
{
	return scaled(q->nano, NANO);
}

int64_t gt_quantity_milli(const struct gt_quantity *q)
{
	return scaled(q->nano, 1000000);
}

int gt_quantity_cmp(const struct gt_quantity *a, const struct gt_quantity *b)
{
	return (a->nano > b->nano) - (a->nano < b->nano);
}

void gt_quantity_add(struct gt_quantity *q, const struct gt_quantity *y)
{
	if (q->nano == 0)
		q->format = y->format;
	q->nano = clamp(q->nano + y->nano);
}

void gt_quantity_sub(struct gt_quantity *q, const struct gt_quantity *y)
{
	if (q->nano == 0)
		q->format = y->format;
	q->nano = clamp(q->nano - y->nano);
}

bool gt_quantity_is_zero(const struct gt_quantity *q)
{
	return q->nano == 0;
}

bool gt_quantity_saturated(const struct gt_quantity *q)
{
	return q->nano >= GT_QUANTITY_LIMIT_NANO || q->nano <= -GT_QUANTITY_LIMIT_NANO;
}

/* ---- printing (Quantity.CanonicalizeBytes) ---- */

static void put_u128(u128 v, char *out, size_t n)
{
	char tmp[48];
	size_t i = sizeof(tmp);

	tmp[--i] = '\0';
	do {
		tmp[--i] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v && i > 0);
	snprintf(out, n, "%s", tmp + i);
}

void gt_quantity_format(const struct gt_quantity *q, char out[GT_QUANTITY_STRLEN])
{
	static const char *const bin[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
	static const char *const dec[] = { "n", "u", "m", "", "k", "M", "G", "T", "P", "E" };
	enum gt_quantity_fmt fmt = q->format;
	u128 mag = q->nano < 0 ? (u128)(-q->nano) : (u128)q->nano;
	char digits[48], suffix[16] = "";
	int exp = -9;

	if (q->nano == 0) {
		snprintf(out, GT_QUANTITY_STRLEN, "0");
		return;
	}
	if (fmt == GT_QUANTITY_BINARY_SI && (mag < (u128)1024 * NANO || mag % NANO))
		fmt = GT_QUANTITY_DECIMAL_SI; /* small or fractional: avoid rounding */
	if (fmt == GT_QUANTITY_BINARY_SI) {
		int e = 0;

		mag /= NANO;
		while (e < 6 && mag % 1024 == 0) {
			mag /= 1024;
			e++;
		}
		snprintf(suffix, sizeof(suffix), "%s", bin[e]);
	} else {
		while (mag % 10 == 0) {
			mag /= 10;
			exp++;
		}
		/* make the exponent a multiple of 3 (exp >= -9, so this never exceeds |nano|) */
		while (exp % 3 != 0) {
			mag *= 10;
			exp--;
		}
		if (fmt == GT_QUANTITY_DECIMAL_SI) {
			/* past "E" (10^18) Kubernetes has no suffix: keep the digits */
			for (; exp > 18; exp--)
				mag *= 10;
			snprintf(suffix, sizeof(suffix), "%s", dec[(exp + 9) / 3]);
		} else if (exp != 0) {
			snprintf(suffix, sizeof(suffix), "e%d", exp);
		}
	}
	put_u128(mag, digits, sizeof(digits));
	snprintf(out, GT_QUANTITY_STRLEN, "%s%s%s", q->nano < 0 ? "-" : "", digits, suffix);
}

json_t *gt_quantity_to_json(const struct gt_quantity *q)
{
	char buf[GT_QUANTITY_STRLEN];

	gt_quantity_format(q, buf);
	return json_string(buf);
}
