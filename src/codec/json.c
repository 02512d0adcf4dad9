/*
 * json.c - parsing, dumping and dotted-path accessors over jansson.
 */
#include "codec/json.h"

#include <string.h>

void gt_json_decrefp(json_t **p)
{
	if (*p)
		json_decref(*p);
}

int gt_json_parse(const char *buf, size_t len, json_t **out, struct gt_err *err)
{
	json_error_t je;
	json_t *v;

	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!v)
		return gt_err_set(err, -EINVAL,
				  "invalid JSON at line %d, column %d: %s",
				  je.line, je.column, je.text);
	*out = v;
	return 0;
}

int gt_json_parse_lenient(const char *buf, size_t len, json_t **out, struct gt_err *err)
{
	json_error_t je;
	json_t *v = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);

	if (!v)
		return gt_err_set(err, -EINVAL, "invalid JSON at line %d, column %d: %s",
				  je.line, je.column, je.text);
	*out = v;
	return 0;
}

char *gt_json_dump(const json_t *v, size_t *len)
{
	struct gt_buf b = GT_BUF_INIT;

	gt_json_dump_buf(v, &b);
	return gt_buf_detach(&b, len);
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
	gt_buf_add(data, buffer, size);
	return 0;
}

void gt_json_dump_buf(const json_t *v, struct gt_buf *b)
{
	if (!b->data)
		gt_buf_init(b);
	json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

json_t *gt_json_path(const json_t *obj, const char *path)
{
	const char *p = path;

	while (obj && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (!json_is_object(obj))
			return NULL;
		obj = json_object_getn(obj, p, n);
		p += n;
		if (*p == '.')
			p++;
	}
	return (json_t *)obj;
}

const char *gt_json_str(const json_t *obj, const char *path)
{
	return json_string_value(gt_json_path(obj, path));
}

int gt_json_int(const json_t *obj, const char *path, int64_t *out)
{
	json_t *v = gt_json_path(obj, path);

	if (!v)
		return -ENOENT;
	if (!json_is_integer(v))
		return -EINVAL;
	*out = json_integer_value(v);
	return 0;
}

bool gt_json_bool(const json_t *obj, const char *path, bool def)
{
	json_t *v = gt_json_path(obj, path);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

json_t *gt_json_ensure_obj(json_t *obj, const char *path)
{
	const char *p = path;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		json_t *child = json_object_getn(obj, p, n);

		if (!json_is_object(child)) {
			child = json_object();
			json_object_setn_new(obj, p, n, child);
		}
		obj = child;
		p += n;
		if (*p == '.')
			p++;
	}
	return obj;
}

void gt_json_set(json_t *obj, const char *path, json_t *v)
{
	const char *last = strrchr(path, '.');

	if (last) {
		char *parent = xstrndup(path, (size_t)(last - path));

		obj = gt_json_ensure_obj(obj, parent);
		free(parent);
		path = last + 1;
	}
	json_object_set_new(obj, path, v);
}

void gt_json_set_str(json_t *obj, const char *path, const char *s)
{
	gt_json_set(obj, path, json_string(s));
}

void gt_json_del(json_t *obj, const char *path)
{
	const char *last = strrchr(path, '.');

	if (last) {
		char *parent = xstrndup(path, (size_t)(last - path));

		obj = gt_json_path(obj, parent);
		free(parent);
		path = last + 1;
	}
	if (json_is_object(obj))
		json_object_del(obj, path);
}

bool gt_json_equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	return json_equal(a, b);
}
