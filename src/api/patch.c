/*
 * patch.c - RFC 7386 JSON merge patch, RFC 6902 JSON patch (with RFC 6901
 * JSON pointers), and the directive stripper for create paths.  The
 * strategic merge patch lives in smp.c, its table in mergekeys.c.
 *
 * Both flavours here work on a private deep copy of the target which is
 * handed out only on success, so a failing patch leaves nothing half-done.
 * Object keys are handled with explicit lengths throughout: jansson strings
 * may hold NUL bytes (the codec parses with JSON_ALLOW_NUL).
 */
#include "api/patch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* jansson returns NULL only on out-of-memory here; daemons abort on OOM. */
static json_t *nn(json_t *v)
{
	if (!v)
		GT_BUG("jansson: out of memory");
	return v;
}

/* ---- RFC 7386 merge patch ---- */

/* Applies p onto cur (an owned reference or NULL); returns the new value or NULL when too deep. */
static json_t *mp_apply(json_t *cur, const json_t *p, int depth)
{
	const char *k;
	size_t klen;
	json_t *v;

	if (!json_is_object(p)) {
		json_decref(cur);
		return nn(json_deep_copy(p));
	}
	if (depth > GT_PATCH_MAX_DEPTH) {
		json_decref(cur);
		return NULL;
	}
	if (!json_is_object(cur)) {
		json_decref(cur);
		cur = nn(json_object());
	}
	json_object_keylen_foreach((json_t *)p, k, klen, v) {
		json_t *old, *nv;

		if (json_is_null(v)) {
			json_object_deln(cur, k, klen);
			continue;
		}
		old = json_incref(json_object_getn(cur, k, klen));
		nv = mp_apply(old, v, depth + 1);
		if (!nv) {
			json_decref(cur);
			return NULL;
		}
		json_object_setn_new_nocheck(cur, k, klen, nv);
	}
	return cur;
}

int gt_patch_merge(const json_t *target, const json_t *patch, json_t **out, struct gt_err *err)
{
	json_t *res;

	*out = NULL;
	if (!patch)
		return gt_err_set(err, -EINVAL, "merge patch: empty patch");
	res = mp_apply(target ? nn(json_deep_copy(target)) : NULL, patch, 1);
	if (!res)
		return gt_err_set(err, -EINVAL, "merge patch: nested deeper than %d levels",
				  GT_PATCH_MAX_DEPTH);
	*out = res;
	return 0;
}

/* ---- RFC 6901 JSON pointer ---- */

struct jp_ctx {
	size_t op;          /* index of the operation, for messages */
	const char *name;   /* "add", ... */
	const char *path;   /* the pointer being worked on */
	size_t nodes;       /* values created so far (amplification budget) */
	struct gt_err *err;
};

static int jp_fail(struct jp_ctx *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int jp_fail(struct jp_ctx *c, int code, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return gt_err_set(c->err, code, "json patch operation %zu (%s \"%.200s\"): %s",
			  c->op, c->name, c->path, why);
}

/* Unescapes one reference token (~0 → ~, ~1 → /) into b. */
static int jp_token(struct jp_ctx *c, const char *s, size_t n, struct gt_buf *b)
{
	gt_buf_reset(b);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '~') {
			gt_buf_addc(b, s[i]);
			continue;
		}
		if (i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
			gt_buf_addc(b, s[i + 1] == '0' ? '~' : '/');
			i++;
			continue;
		}
		return jp_fail(c, -EBADMSG, "invalid escape in JSON pointer (only ~0 and ~1)");
	}
	return 0;
}

/* Parses an array index: digits, no leading zero, below limit.  -1 when invalid. */
static long jp_index(const struct gt_buf *b, size_t limit)
{
	size_t v = 0;

	if (!b->len || b->len > 18 || (b->data[0] == '0' && b->len > 1))
		return -1;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] < '0' || b->data[i] > '9')
			return -1;
		v = v * 10 + (size_t)(b->data[i] - '0');
	}
	return v < limit ? (long)v : -1;
}

/*
 * Walks all but the last token of ptr (length n) in doc.  On success
 * *parent is the container (NULL for the root pointer "") and last holds
 * the unescaped final token.
 */
static int jp_parent(struct jp_ctx *c, json_t *doc, const char *ptr, size_t n,
		     json_t **parent, struct gt_buf *last)
{
	const char *p = ptr, *end = ptr + n;
	json_t *cur = doc;

	*parent = NULL;
	if (!n)
		return 0;
	if (*p != '/')
		return jp_fail(c, -EBADMSG, "a JSON pointer must be empty or start with '/'");
	for (;;) {
		const char *tok = p + 1, *next = memchr(tok, '/', (size_t)(end - tok));
		size_t tlen = (size_t)((next ? next : end) - tok);
		int rc = jp_token(c, tok, tlen, last);

		if (rc < 0)
			return rc;
		if (!next) {
			*parent = cur;
			return 0;
		}
		if (json_is_object(cur)) {
			cur = json_object_getn(cur, last->data, last->len);
		} else if (json_is_array(cur)) {
			long i = jp_index(last, json_array_size(cur));

			cur = i < 0 ? NULL : json_array_get(cur, (size_t)i);
		} else {
			cur = NULL;
		}
		if (!cur)
			return jp_fail(c, -EBADMSG, "path \"%.*s\" not found",
				       (int)(next - ptr), ptr);
		p = next;
	}
}

/* The value at ptr (borrowed), or an error. */
static int jp_get(struct jp_ctx *c, json_t *doc, const char *ptr, size_t n, json_t **out)
{
	struct gt_buf last = GT_BUF_INIT;
	json_t *parent, *v = NULL;
	int rc = jp_parent(c, doc, ptr, n, &parent, &last);

	if (rc < 0)
		goto done;
	if (!parent)
		v = doc;
	else if (json_is_object(parent))
		v = json_object_getn(parent, last.data, last.len);
	else if (json_is_array(parent)) {
		long i = jp_index(&last, json_array_size(parent));

		v = i < 0 ? NULL : json_array_get(parent, (size_t)i);
	}
	if (!v)
		rc = jp_fail(c, -EBADMSG, "path not found");
	*out = v;
done:
	gt_buf_release(&last);
	return rc;
}

/* RFC 6902 "add": steals v; *doc may be replaced (root pointer). */
static int jp_add(struct jp_ctx *c, json_t **doc, const char *ptr, size_t n, json_t *v)
{
	struct gt_buf last = GT_BUF_INIT;
	json_t *parent;
	int rc = jp_parent(c, *doc, ptr, n, &parent, &last);

	if (rc < 0) {
		json_decref(v);
	} else if (!parent) {
		json_decref(*doc);
		*doc = v;
	} else if (json_is_object(parent)) {
		json_object_setn_new_nocheck(parent, last.data, last.len, v);
	} else if (json_is_array(parent)) {
		size_t size = json_array_size(parent);
		long i = last.len == 1 && last.data[0] == '-' ? (long)size
							      : jp_index(&last, size + 1);

		if (i < 0) {
			json_decref(v);
			rc = jp_fail(c, -EBADMSG, "array index \"%s\" out of range (size %zu)",
				     last.data, size);
		} else {
			json_array_insert_new(parent, (size_t)i, v);
		}
	} else {
		json_decref(v);
		rc = jp_fail(c, -EBADMSG, "parent is not an object or array");
	}
	gt_buf_release(&last);
	return rc;
}

/* RFC 6902 "remove", or the "replace" of an existing member when v is given (stolen). */
static int jp_remove(struct jp_ctx *c, json_t **doc, const char *ptr, size_t n, json_t *v)
{
	struct gt_buf last = GT_BUF_INIT;
	json_t *parent;
	int rc = jp_parent(c, *doc, ptr, n, &parent, &last);

	if (rc < 0)
		goto done;
	if (!parent) {
		if (!v) {
			rc = jp_fail(c, -EBADMSG, "cannot remove the whole document");
			goto done;
		}
		json_decref(*doc);
		*doc = v;
		v = NULL;
	} else if (json_is_object(parent) && json_object_getn(parent, last.data, last.len)) {
		if (v)
			json_object_setn_new_nocheck(parent, last.data, last.len, v);
		else
			json_object_deln(parent, last.data, last.len);
		v = NULL;
	} else if (json_is_array(parent) && jp_index(&last, json_array_size(parent)) >= 0) {
		size_t i = (size_t)jp_index(&last, json_array_size(parent));

		if (v)
			json_array_set_new(parent, i, v);
		else
			json_array_remove(parent, i);
		v = NULL;
	} else {
		rc = jp_fail(c, -EBADMSG, "path not found");
	}
done:
	json_decref(v);
	gt_buf_release(&last);
	return rc;
}

/* Counts the values in v, stopping once the total passes the budget. */
static size_t count_nodes(const json_t *v, size_t budget)
{
	size_t n = 1;

	if (json_is_object(v)) {
		const char *k;
		json_t *m;

		json_object_foreach((json_t *)v, k, m) {
			if (n > budget)
				break;
			n += count_nodes(m, budget - n);
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && n <= budget; i++)
			n += count_nodes(json_array_get(v, i), budget - n);
	}
	return n;
}

/* A deep copy of v charged against the node budget; NULL when over it. */
static json_t *jp_copy(struct jp_ctx *c, const json_t *v)
{
	size_t left = GT_PATCH_MAX_NODES - c->nodes;
	size_t n = count_nodes(v, left);

	if (n > left)
		return NULL;
	c->nodes += n;
	return nn(json_deep_copy(v));
}

/* RFC 6902 equality: numbers compare by value, objects ignore member order. */
static bool jp_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	}
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_string(a))
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!jp_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	if (json_is_object(a)) {
		const char *k;
		size_t klen;
		json_t *v;

		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_keylen_foreach((json_t *)a, k, klen, v) {
			json_t *w = json_object_getn(b, k, klen);

			if (!w || !jp_equal(v, w))
				return false;
		}
		return true;
	}
	return true; /* true, false, null */
}

/* Fetches a string member as pointer + length; NULL when absent or not a string. */
static const char *str_member(const json_t *op, const char *name, size_t *len)
{
	json_t *v = json_object_get(op, name);

	if (!json_is_string(v))
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

static int jp_apply_one(struct jp_ctx *c, json_t **doc, const json_t *op)
{
	static const char *const names[] = { "add", "remove", "replace", "move", "copy", "test" };
	enum { ADD, REMOVE, REPLACE, MOVE, COPY, TEST, NOPS } kind = NOPS;
	size_t plen = 0, flen = 0;
	const char *name = json_string_value(json_object_get(op, "op"));
	const char *path = str_member(op, "path", &plen), *from = NULL;
	json_t *value = json_object_get(op, "value"), *src, *v;
	int rc;

	c->name = name ? name : "?";
	c->path = path ? path : "";
	for (size_t i = 0; name && i < GT_ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			kind = i;
	if (kind == NOPS)
		return jp_fail(c, -EBADMSG, "unknown or missing \"op\" (add, remove, replace, move, copy, test)");
	if (!path)
		return jp_fail(c, -EBADMSG, "missing \"path\" string");
	if ((kind == ADD || kind == REPLACE || kind == TEST) && !value)
		return jp_fail(c, -EBADMSG, "missing \"value\"");
	if (kind == MOVE || kind == COPY) {
		from = str_member(op, "from", &flen);
		if (!from)
			return jp_fail(c, -EBADMSG, "missing \"from\" string");
	}

	switch (kind) {
	case ADD:
	case REPLACE:
		v = jp_copy(c, value);
		if (!v)
			return jp_fail(c, -E2BIG, "patch creates more than %d values", GT_PATCH_MAX_NODES);
		return kind == ADD ? jp_add(c, doc, path, plen, v) : jp_remove(c, doc, path, plen, v);
	case REMOVE:
		return jp_remove(c, doc, path, plen, NULL);
	case TEST:
		rc = jp_get(c, *doc, path, plen, &src);
		if (rc < 0)
			return rc;
		return jp_equal(src, value) ? 0 : jp_fail(c, -EBADMSG, "test failed: value differs");
	case MOVE:
		if (flen == plen && !memcmp(from, path, plen))
			return jp_get(c, *doc, from, flen, &src);
		if (plen > flen && !memcmp(from, path, flen) && path[flen] == '/')
			return jp_fail(c, -EBADMSG, "cannot move \"%.200s\" into its own child", from);
		rc = jp_get(c, *doc, from, flen, &src);
		if (rc < 0)
			return rc;
		v = json_incref(src);
		rc = jp_remove(c, doc, from, flen, NULL);
		if (rc < 0) {
			json_decref(v);
			return rc;
		}
		return jp_add(c, doc, path, plen, v);
	case COPY:
		rc = jp_get(c, *doc, from, flen, &src);
		if (rc < 0)
			return rc;
		v = jp_copy(c, src);
		if (!v)
			return jp_fail(c, -E2BIG, "patch creates more than %d values", GT_PATCH_MAX_NODES);
		return jp_add(c, doc, path, plen, v);
	case NOPS:
		break;
	}
	return 0;
}

int gt_patch_json(const json_t *target, const json_t *ops, json_t **out, struct gt_err *err)
{
	struct jp_ctx c = { .err = err };
	json_t *doc;
	size_t n;

	*out = NULL;
	if (!json_is_array(ops))
		return gt_err_set(err, -EINVAL, "json patch: the body must be a JSON array of operations");
	n = json_array_size(ops);
	if (n > GT_PATCH_MAX_OPS)
		return gt_err_set(err, -E2BIG,
				  "json patch: the allowed maximum operations in a JSON patch is %d, got %zu",
				  GT_PATCH_MAX_OPS, n);
	for (size_t i = 0; i < n; i++)
		if (!json_is_object(json_array_get(ops, i)))
			return gt_err_set(err, -EINVAL, "json patch: operation %zu is not an object", i);

	doc = target ? nn(json_deep_copy(target)) : nn(json_null());
	for (size_t i = 0; i < n; i++) {
		int rc;

		c.op = i;
		rc = jp_apply_one(&c, &doc, json_array_get(ops, i));
		if (rc < 0) {
			json_decref(doc);
			return rc;
		}
	}
	*out = doc;
	return 0;
}

/* ---- directive stripping ---- */

static bool has_prefix(const char *k, size_t klen, const char *prefix)
{
	size_t n = strlen(prefix);

	return klen >= n && !memcmp(k, prefix, n);
}

static void strip(json_t *v, int depth)
{
	if (depth > GT_PATCH_MAX_DEPTH)
		return;
	if (json_is_object(v)) {
		const char *k;
		size_t klen;
		json_t *m;
		void *tmp;

		json_object_keylen_foreach_safe(v, tmp, k, klen, m) {
			if ((klen == 6 && !memcmp(k, "$patch", 6)) ||
			    (klen == 11 && !memcmp(k, "$retainKeys", 11)) ||
			    has_prefix(k, klen, "$setElementOrder/") ||
			    has_prefix(k, klen, "$deleteFromPrimitiveList/"))
				json_object_deln(v, k, klen);
			else
				strip(m, depth + 1);
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			strip(json_array_get(v, i), depth + 1);
	}
}

void gt_patch_strip_directives(json_t *obj)
{
	strip(obj, 0);
}
