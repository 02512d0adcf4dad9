/*
 * table.h - the server-side Table printer (meta.k8s.io/v1 Table), which
 * `kubectl get` asks for with `Accept: application/json;as=Table;...`.
 *
 * Columns and cells follow Kubernetes' pkg/printers/internalversion (the
 * 1.20 column sets; see the reference's §2.8): one row of a static table
 * per built-in kind, keyed by group + kind.  Custom resources use their
 * CRD's additionalPrinterColumns, evaluated with api/jsonpath.  Every
 * column is filled (the server prints "wide"); kubectl hides priority >= 1
 * columns unless -o wide.  Unknown kinds get Name, Age.
 *
 * Usage, for a list or a watch event:
 *   json_t *t = gt_table_new(r);
 *   for each object: gt_table_add_row(t, r, obj, GT_INCLUDE_METADATA, time(NULL));
 *   (set t.metadata.resourceVersion / continue; for watch events after the
 *    first, gt_table_drop_headers(t))
 */
#ifndef GT_API_TABLE_H
#define GT_API_TABLE_H

#include <time.h>

#include "api/registry.h"
#include "base/err.h"
#include "codec/json.h"

/* ?includeObject=None|Metadata|Object: what each row carries in "object". */
enum gt_table_include {
	GT_INCLUDE_NONE,     /* no "object" */
	GT_INCLUDE_METADATA, /* PartialObjectMetadata with the full metadata (default) */
	GT_INCLUDE_OBJECT,   /* the full object (kubectl --sort-by) */
};

/*
 * A new Table for resource r: {"kind":"Table","apiVersion":"meta.k8s.io/v1",
 * "metadata":{},"columnDefinitions":[...],"rows":[]}.  Caller owns the
 * reference.
 */
json_t *gt_table_new(const struct gt_resource *r);

/*
 * Appends the row for obj (a whole object of resource r) to table: cells,
 * the row "object" per inc, and row conditions where Kubernetes sets them
 * (Completed for succeeded/failed pods).  Ages are computed against `now`.
 * obj is only read; with GT_INCLUDE_OBJECT the row shares obj's members
 * (obj must not be modified afterwards, as for cached objects).
 */
void gt_table_add_row(json_t *table, const struct gt_resource *r, const json_t *obj,
		      enum gt_table_include inc, time_t now);

/* Removes columnDefinitions (watch events after the first carry none). */
void gt_table_drop_headers(json_t *table);

/*
 * Parses ?includeObject= ("" or NULL = Metadata).  Returns 0, or -EINVAL
 * with err set for other values.
 */
int gt_table_include_parse(const char *s, enum gt_table_include *out, struct gt_err *err);

/* ---- internal to table.c and table_cols.c ---- */

struct gt_table_col {
	const char *name;
	const char *type;   /* string, integer, number, boolean, date */
	const char *format; /* "name" for the Name column, else "" */
	int priority;       /* 0: always shown; 1: -o wide */
	const char *desc;
};

struct gt_table_kind {
	const char *group;
	const char *kind;
	const struct gt_table_col *cols;
	size_t ncols;
	/* Appends one cell per column to cells; may add "conditions" to row. */
	void (*fill)(json_t *row, json_t *cells, const json_t *obj, time_t now);
};

/* The built-in column set for group/kind, or the Name, Age default. */
const struct gt_table_kind *gt_table_kind_find(const char *group, const char *kind);

/*
 * kubectl's age of an RFC 3339 timestamp at `now` into out: "5m", "2d3h";
 * "<unknown>" when ts is NULL or unparseable, "<invalid>" when it lies more
 * than a second in the future.
 */
void gt_table_age(const char *ts, time_t now, char out[16]);

/* Descriptions shared by table.c and table_cols.c. */
extern const char gt_table_desc_name[];
extern const char gt_table_desc_age[];

#endif
