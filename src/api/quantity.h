/*
 * quantity.h - resource.Quantity: "100m", "1Gi", "1.5", "1e3", as used in
 * resource requests and limits, PVC sizes, extended resources (GPUs) and
 * node capacity.
 *
 * Representation: a signed 128-bit count of nano-units (value × 10^9) plus
 * the format the quantity was written in.  Kubernetes rounds every quantity
 * up (away from zero) to a whole nano-unit, so this is exact for all values
 * it can hold, and sums and comparisons are exact too.  Magnitudes at or
 * above 10^28 units (GT_QUANTITY_LIMIT_NANO nano-units) saturate there:
 * Kubernetes keeps such absurd values exactly ("1e100"); Gantry clamps them
 * and gt_quantity_saturated() says so.  BinarySI quantities are capped at
 * 2^63-1 units, as Kubernetes caps them.
 *
 * Parsing and canonical printing reproduce k8s.io/apimachinery's
 * ParseQuantity and Quantity.String(), with one difference: Kubernetes
 * echoes an input that is already in canonical form byte for byte, so odd
 * spellings such as "+1" or "01" survive there; Gantry always prints the
 * canonical form ("1").
 */
#ifndef GT_API_QUANTITY_H
#define GT_API_QUANTITY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "codec/json.h"

enum gt_quantity_fmt {
	GT_QUANTITY_DECIMAL_SI = 0,   /* 100m, 5, 1k, 1G */
	GT_QUANTITY_BINARY_SI,        /* 1Ki, 1Gi */
	GT_QUANTITY_DECIMAL_EXPONENT, /* 1e3 */
};

struct gt_quantity {
	__int128 nano;             /* value × 10^9; |nano| <= GT_QUANTITY_LIMIT_NANO */
	enum gt_quantity_fmt format;
};

/* 10^37 nano-units = 10^28 units: the saturation bound. */
#define GT_QUANTITY_LIMIT_NANO ((__int128)10000000000000000000ULL * (__int128)1000000000000000000ULL)

/* Room for any formatted quantity, NUL included. */
#define GT_QUANTITY_STRLEN 64

/*
 * Parses s (no surrounding blanks) into *q.  Returns 0, or -EINVAL with the
 * Kubernetes message ("quantities must match the regular expression ...",
 * "unable to parse quantity's suffix", "unable to parse numeric part of
 * quantity"); *q is untouched on failure.
 */
int gt_quantity_parse(const char *s, struct gt_quantity *q, struct gt_err *err);

/*
 * Parses a JSON value as Kubernetes' Quantity.UnmarshalJSON does: a string
 * (surrounding blanks trimmed) or a number (2, 0.5); null gives zero.
 * Returns 0 or -EINVAL with err set.
 */
int gt_quantity_from_json(const json_t *v, struct gt_quantity *q, struct gt_err *err);

/* Sets *q to `value` units / `milli` thousandths, in format fmt. */
void gt_quantity_set_int(struct gt_quantity *q, int64_t value, enum gt_quantity_fmt fmt);
void gt_quantity_set_milli(struct gt_quantity *q, int64_t milli, enum gt_quantity_fmt fmt);

/*
 * The value in units / thousandths, rounded away from zero when not whole
 * (Kubernetes' Value() and MilliValue(): 100m → 1 unit, 1.5n → 1 milli),
 * saturated to INT64_MIN..INT64_MAX.
 */
int64_t gt_quantity_value(const struct gt_quantity *q);
int64_t gt_quantity_milli(const struct gt_quantity *q);

/* -1, 0 or 1 as a < b, a == b, a > b (exact). */
int gt_quantity_cmp(const struct gt_quantity *a, const struct gt_quantity *b);

/*
 * q += y / q -= y, saturating.  Like Kubernetes, a zero q takes y's format.
 */
void gt_quantity_add(struct gt_quantity *q, const struct gt_quantity *y);
void gt_quantity_sub(struct gt_quantity *q, const struct gt_quantity *y);

bool gt_quantity_is_zero(const struct gt_quantity *q);
/* True when q sits at the saturation bound (its true value may be larger). */
bool gt_quantity_saturated(const struct gt_quantity *q);

/*
 * Canonical string, as Quantity.String(): "0", "100m", "1500m", "1Gi",
 * "1536Mi", "1k", "1e3".  Writes into out (NUL-terminated).
 */
void gt_quantity_format(const struct gt_quantity *q, char out[GT_QUANTITY_STRLEN]);

/* The canonical string as a new JSON string (caller owns the reference). */
json_t *gt_quantity_to_json(const struct gt_quantity *q);

#endif
