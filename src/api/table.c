/*
 * table.c - building meta.k8s.io/v1 Table objects (see table.h): the Table
 * envelope, the row objects (PartialObjectMetadata or the full object), and
 * the columns of custom resources, which come from the CRD's
 * additionalPrinterColumns as apiextensions-apiserver's tableconvertor
 * builds them.  The built-in kinds' columns live in table_cols.c.
 */
#include "api/table.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/jsonpath.h"

/*
 * True when r prints through CRD printer columns (custom resources, and any
 * row with printer_columns but no built-in column set); *pcs is then the
 * column array, or NULL for none (Name, Age).
 */
static bool cr_columns(const struct gt_resource *r, const json_t **pcs)
{
	*pcs = NULL;
	if (!r || (!r->custom && gt_table_kind_find(r->group, r->kind)->kind[0]))
		return false;
	if (json_is_array(r->printer_columns) && json_array_size(r->printer_columns))
		*pcs = r->printer_columns;
	return r->custom || *pcs;
}

static json_t *col_json(const char *name, const char *type, const char *format, json_int_t prio,
			const char *desc)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I}", "name", name, "type", type, "format", format,
			 "description", desc, "priority", prio);
}

json_t *gt_table_new(const struct gt_resource *r)
{
	const json_t *pcs;
	json_t *defs = json_array(), *pc;
	size_t i;

	if (!cr_columns(r, &pcs)) {
		const struct gt_table_kind *k = gt_table_kind_find(r ? r->group : NULL,
								   r ? r->kind : NULL);

		for (i = 0; i < k->ncols; i++)
			json_array_append_new(defs, col_json(k->cols[i].name, k->cols[i].type,
							     k->cols[i].format, k->cols[i].priority,
							     k->cols[i].desc));
	} else {
		json_array_append_new(defs, col_json("Name", "string", "name", 0, gt_table_desc_name));
		if (!pcs)
			json_array_append_new(defs, col_json("Age", "date", "", 0, gt_table_desc_age));
		json_array_foreach(pcs, i, pc) {
			const char *path = json_string_value(json_object_get(pc, "jsonPath"));
			const char *desc = json_string_value(json_object_get(pc, "description"));
			json_int_t prio = json_integer_value(json_object_get(pc, "priority"));
			char *dflt = NULL;

			if (!desc || !*desc)
				desc = dflt = xasprintf("Custom resource definition column (in JSONPath format): %s",
							path ? path : "");
			json_array_append_new(defs, col_json(
				json_string_value(json_object_get(pc, "name")) ?: "",
				json_string_value(json_object_get(pc, "type")) ?: "",
				json_string_value(json_object_get(pc, "format")) ?: "", prio, desc));
			free(dflt);
		}
	}
	return json_pack("{s:s,s:s,s:{},s:o,s:[]}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
			 "metadata", "columnDefinitions", defs, "rows");
}

/* Go's %v of a float64: shortest round-trip digits, exponent form past 1e21. */
static void go_float(double d, char out[40])
{
	char e[40];
	int p, x;

	for (p = 1; p < 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	snprintf(e, sizeof(e), "%.*e", p - 1, d);
	x = atoi(strchr(e, 'e') + 1);
	if (x < -4 || x >= 21)
		snprintf(out, 40, "%s", e);
	else
		snprintf(out, 40, "%.*f", p - 1 - x > 0 ? p - 1 - x : 0, d);
}

/* apiextensions tableconvertor's cellForJSONValue, plus the "string" printer. */
static json_t *cr_cell(const char *type, const json_t *v, time_t now)
{
	char buf[40];

	if (!v || json_is_null(v) || !type)
		return json_null();
	if (!strcmp(type, "string")) {
		if (json_is_string(v))
			return json_incref((json_t *)v);
		if (json_is_integer(v)) {
			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
			return json_string(buf);
		}
		if (json_is_real(v)) {
			go_float(json_real_value(v), buf);
			return json_string(buf);
		}
		if (json_is_boolean(v))
			return json_string(json_is_true(v) ? "true" : "false");
		{
			char *s = gt_json_dump(v, NULL);
			json_t *c = json_string(s);

			free(s);
			return c;
		}
	}
	if (!strcmp(type, "integer")) {
		double d;

		if (json_is_integer(v))
			return json_integer(json_integer_value(v));
		if (!json_is_real(v))
			return json_null();
		d = json_real_value(v);
		if (!isfinite(d) || d >= 9.2233720368547758e18 || d <= -9.2233720368547758e18)
			return json_null();
		return json_integer((json_int_t)d);
	}
	if (!strcmp(type, "number"))
		return json_is_number(v) ? json_real(json_number_value(v)) : json_null();
	if (!strcmp(type, "boolean"))
		return json_is_boolean(v) ? json_boolean(json_is_true(v)) : json_null();
	if (!strcmp(type, "date")) {
		time_t t;

		if (!json_is_string(v))
			return json_null();
		if (gt_time_parse(json_string_value(v), &t) < 0)
			return json_string("<invalid>");
		gt_table_age(json_string_value(v), now, buf);
		return json_string(buf);
	}
	return json_null();
}

static void cr_fill(json_t *cells, const json_t *pcs, const json_t *obj, time_t now)
{
	json_t *pc, *v;
	size_t i;

	json_array_append_new(cells, json_string(gt_json_str(obj, "metadata.name") ?: ""));
	if (!pcs) {
		gt_jsonpath_eval(obj, ".metadata.creationTimestamp", &v, NULL);
		json_array_append_new(cells, cr_cell("date", v, now));
		json_decref(v);
		return;
	}
	json_array_foreach(pcs, i, pc) {
		const char *path = json_string_value(json_object_get(pc, "jsonPath"));

		v = NULL;
		if (path)
			gt_jsonpath_eval(obj, path, &v, NULL);
		json_array_append_new(cells, cr_cell(json_string_value(json_object_get(pc, "type")), v,
						     now));
		json_decref(v);
	}
}

static json_t *row_object(const struct gt_resource *r, const json_t *obj, enum gt_table_include inc)
{
	json_t *meta = json_object_get(obj, "metadata"), *o;

	if (inc == GT_INCLUDE_METADATA) {
		o = json_pack("{s:s,s:s}", "kind", "PartialObjectMetadata", "apiVersion", "meta.k8s.io/v1");
		json_object_set_new(o, "metadata", json_is_object(meta) ? json_incref(meta) : json_object());
		return o;
	}
	if (json_object_get(obj, "kind") && json_object_get(obj, "apiVersion"))
		return json_incref((json_t *)obj);
	/* a stored object without its type: say which it is, as list items do */
	o = json_copy((json_t *)obj);
	if (r && r->version && !json_object_get(o, "apiVersion")) {
		char *av = r->group && *r->group ? xasprintf("%s/%s", r->group, r->version)
						 : xstrdup(r->version);

		json_object_set_new(o, "apiVersion", json_string(av));
		free(av);
	}
	if (r && r->kind && !json_object_get(o, "kind"))
		json_object_set_new(o, "kind", json_string(r->kind));
	return o;
}

void gt_table_add_row(json_t *table, const struct gt_resource *r, const json_t *obj,
		      enum gt_table_include inc, time_t now)
{
	const json_t *pcs;
	json_t *row = json_object(), *cells = json_array();

	if (!json_is_object(obj))
		obj = NULL;
	if (cr_columns(r, &pcs))
		cr_fill(cells, pcs, obj, now);
	else
		gt_table_kind_find(r ? r->group : NULL, r ? r->kind : NULL)->fill(row, cells, obj, now);
	json_object_set_new(row, "cells", cells);
	if (inc != GT_INCLUDE_NONE && obj)
		json_object_set_new(row, "object", row_object(r, obj, inc));
	if (!json_is_array(json_object_get(table, "rows")))
		json_object_set_new(table, "rows", json_array());
	json_array_append_new(json_object_get(table, "rows"), row);
}

void gt_table_drop_headers(json_t *table)
{
	if (json_is_object(table))
		json_object_del(table, "columnDefinitions");
}

int gt_table_include_parse(const char *s, enum gt_table_include *out, struct gt_err *err)
{
	if (!s || !*s || !strcmp(s, "Metadata"))
		*out = GT_INCLUDE_METADATA;
	else if (!strcmp(s, "None"))
		*out = GT_INCLUDE_NONE;
	else if (!strcmp(s, "Object"))
		*out = GT_INCLUDE_OBJECT;
	else
		return gt_err_set(err, -EINVAL,
				  "includeObject: Unsupported value: \"%s\": supported values: \"Metadata\", \"None\", \"Object\"",
				  s);
	return 0;
}
