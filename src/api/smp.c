/*
 * smp.c - Kubernetes strategic merge patch (the server side of
 * application/strategic-merge-patch+json), after apimachinery's
 * pkg/util/strategicpatch/patch.go (mergeMap, mergeSlice,
 * mergePatchIntoOriginal, normalizeElementOrder).
 *
 * The patch is applied to a private deep copy of the target, in place;
 * values taken from the patch are always rebuilt through the same merge
 * (into an empty value), which is what strips directives and nulls from
 * them.  List elements are matched through a hash of a canonical string of
 * their merge-key value (or of the scalar itself), so big lists stay
 * O(n log n).  Two paths are tracked while descending: the schema path
 * (field names only, for the merge-key table) and the display path (with
 * [i] indices, for error messages).
 */
#include "api/patch.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define D_PATCH "$patch"
#define D_RETAIN "$retainKeys"
#define D_ORDER "$setElementOrder/"
#define D_DELETE "$deleteFromPrimitiveList/"

struct smp {
	const char *api_version;
	const char *kind;
	struct gt_err *err;
	int depth;
	bool lost;          /* schema path unknown below here (key with a '.', overflow) */
	size_t slen, dlen;
	char spath[512];    /* "spec.template.spec.containers.env" */
	char dpath[512];    /* "spec.template.spec.containers[0].env" */
};

struct mark {
	size_t slen, dlen;
	bool lost;
};

static json_t *nn(json_t *v)
{
	if (!v)
		GT_BUG("jansson: out of memory");
	return v;
}

static int fail(struct smp *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct smp *s, int code, const char *fmt, ...)
{
	char why[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!s->dlen)
		return gt_err_set(s->err, code, "strategic merge patch: %s", why);
	return gt_err_set(s->err, code, "%s: %s", s->dpath, why);
}

static void dappend(struct smp *s, const char *txt, size_t n)
{
	if (n > sizeof(s->dpath) - 1 - s->dlen)
		n = sizeof(s->dpath) - 1 - s->dlen;
	memcpy(s->dpath + s->dlen, txt, n);
	s->dlen += n;
	s->dpath[s->dlen] = '\0';
}

static struct mark push_key(struct smp *s, const char *k, size_t klen)
{
	struct mark m = { s->slen, s->dlen, s->lost };

	if (memchr(k, '.', klen) || memchr(k, '\0', klen) ||
	    s->slen + klen + 2 > sizeof(s->spath)) {
		s->lost = true;
	} else if (!s->lost) {
		if (s->slen)
			s->spath[s->slen++] = '.';
		memcpy(s->spath + s->slen, k, klen);
		s->slen += klen;
		s->spath[s->slen] = '\0';
	}
	if (s->dlen)
		dappend(s, ".", 1);
	dappend(s, k, strnlen(k, klen));
	return m;
}

static struct mark push_index(struct smp *s, size_t i)
{
	struct mark m = { s->slen, s->dlen, s->lost };
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "[%zu]", i);

	dappend(s, buf, (size_t)n);
	return m;
}

static void pop(struct smp *s, struct mark m)
{
	s->slen = m.slen;
	s->dlen = m.dlen;
	s->lost = m.lost;
	s->spath[s->slen] = '\0';
	s->dpath[s->dlen] = '\0';
}

static const struct gt_patch_rule *rule_here(struct smp *s)
{
	return s->lost ? NULL : gt_patch_rule_find(s->api_version, s->kind, s->spath);
}

static bool key_is(const char *k, size_t klen, const char *lit)
{
	return klen == strlen(lit) && !memcmp(k, lit, klen);
}

static bool has_prefix(const char *k, size_t klen, const char *prefix)
{
	size_t n = strlen(prefix);

	return klen >= n && !memcmp(k, prefix, n);
}

static bool is_directive(const char *k, size_t klen)
{
	return key_is(k, klen, D_PATCH) || key_is(k, klen, D_RETAIN) ||
	       has_prefix(k, klen, D_ORDER) || has_prefix(k, klen, D_DELETE);
}

/* ---- canonical keys and index maps ---- */

/* A canonical string for v: equal JSON values (80 and 80.0 included) give equal strings. */
static void canon(const json_t *v, struct gt_buf *b)
{
	gt_buf_reset(b);
	switch (json_typeof(v)) {
	case JSON_STRING:
		gt_buf_addc(b, 's');
		gt_buf_add(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		gt_buf_addf(b, "n%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL: {
		double d = json_real_value(v);

		if (d == floor(d) && fabs(d) < 9e15)
			gt_buf_addf(b, "n%lld", (long long)d);
		else
			gt_buf_addf(b, "n%.17g", d);
		break;
	}
	case JSON_TRUE:
		gt_buf_addc(b, 't');
		break;
	case JSON_FALSE:
		gt_buf_addc(b, 'f');
		break;
	case JSON_NULL:
		gt_buf_addc(b, 'z');
		break;
	default: {
		char *dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

		gt_buf_addc(b, 'j');
		if (dump)
			gt_buf_adds(b, dump);
		free(dump);
		break;
	}
	}
}

/* The identity of a list item: its merge-key value (mk) or itself (scalar list). */
static bool item_key(const json_t *item, const char *mk, struct gt_buf *b)
{
	if (mk) {
		json_t *kv = json_is_object(item) ? json_object_get(item, mk) : NULL;

		if (!kv)
			return false;
		item = kv;
	}
	canon(item, b);
	return true;
}

/* key → first index of the items of list. */
static json_t *index_map(const json_t *list, const char *mk)
{
	struct gt_buf b = GT_BUF_INIT;
	json_t *map = nn(json_object());

	for (size_t i = 0; i < json_array_size(list); i++)
		if (item_key(json_array_get(list, i), mk, &b) && !json_object_getn(map, b.data, b.len))
			json_object_setn_new_nocheck(map, b.data, b.len, nn(json_integer((json_int_t)i)));
	gt_buf_release(&b);
	return map;
}

static long map_lookup(const json_t *map, const struct gt_buf *b)
{
	json_t *v = json_object_getn(map, b->data, b->len);

	return v ? (long)json_integer_value(v) : -1;
}

/* ---- ordering (normalizeElementOrder + mergeSortedSlice) ---- */

struct item {
	json_t *v;
	size_t pos; /* position in the merged list (stable sort) */
	long oi;    /* position in the wanted order, -1 when absent */
	long si;    /* position in the live (server) list, -1 when absent */
};

static int cmp_order(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->oi != y->oi)
		return x->oi < y->oi ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Reorders merged (owned; a new array is returned): items present in
 * `order` sorted by their position there, the others in their current
 * order, the two interleaved by live position: an unordered item goes first
 * only when both it and the next ordered item are in `server` and it comes
 * earlier there.
 */
static json_t *reorder(json_t *merged, const json_t *order, const json_t *server, const char *mk)
{
	size_t n = json_array_size(merged), np = 0, nq = 0, i = 0, j = 0;
	struct item *p = xcalloc(n + 1, sizeof(*p)), *q = xcalloc(n + 1, sizeof(*q));
	json_t *omap = index_map(order, mk), *smap = index_map(server, mk);
	json_t *res = nn(json_array());
	struct gt_buf b = GT_BUF_INIT;

	for (size_t k = 0; k < n; k++) {
		struct item it = { json_array_get(merged, k), k, -1, -1 };

		if (item_key(it.v, mk, &b)) {
			it.oi = map_lookup(omap, &b);
			it.si = map_lookup(smap, &b);
		}
		if (it.oi >= 0)
			p[np++] = it;
		else
			q[nq++] = it;
	}
	qsort(p, np, sizeof(*p), cmp_order);
	while (i < nq || j < np) {
		bool take_q = j >= np ||
			      (i < nq && q[i].si >= 0 && p[j].si >= 0 && q[i].si < p[j].si);

		json_array_append(res, take_q ? q[i++].v : p[j++].v);
	}
	gt_buf_release(&b);
	json_decref(omap);
	json_decref(smap);
	free(p);
	free(q);
	json_decref(merged);
	return res;
}

/* ---- the merge ---- */

static int merge_map(struct smp *s, json_t *cur, const json_t *patch, json_t **out);
static int merge_field(struct smp *s, json_t *old, const json_t *pv, json_t **out);

/* A list taken from the patch as is (replace strategy), rebuilt without directives. */
static int copy_list(struct smp *s, const json_t *pv, json_t **out)
{
	json_t *res = nn(json_array());

	for (size_t i = 0; i < json_array_size(pv); i++) {
		struct mark m = push_index(s, i);
		json_t *nv;
		int rc = merge_field(s, NULL, json_array_get(pv, i), &nv);

		pop(s, m);
		if (rc < 0) {
			json_decref(res);
			return rc;
		}
		json_array_append_new(res, nv);
	}
	*out = res;
	return 0;
}

/* Merges a list of scalars as an ordered set (finalizers). Steals cur. */
static int merge_scalars(struct smp *s, json_t *cur, const json_t *pv, json_t **out)
{
	struct gt_buf b = GT_BUF_INIT;
	json_t *seen = nn(json_object()), *merged = nn(json_array());

	for (size_t i = 0; i < json_array_size(pv); i++) {
		json_t *v = json_array_get(pv, i);

		if (json_is_object(v) || json_is_array(v)) {
			struct mark m = push_index(s, i);
			int rc = fail(s, -EINVAL, "this list has no merge key: its elements must be scalars");

			pop(s, m);
			gt_buf_release(&b);
			json_decref(seen);
			json_decref(merged);
			json_decref(cur);
			return rc;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		const json_t *src = pass ? pv : cur;

		for (size_t i = 0; i < json_array_size(src); i++) {
			json_t *v = json_array_get(src, i);

			canon(v, &b);
			if (json_object_getn(seen, b.data, b.len))
				continue;
			json_object_setn_new_nocheck(seen, b.data, b.len, json_true());
			json_array_append_new(merged, pass ? nn(json_deep_copy(v)) : json_incref(v));
		}
	}
	*out = reorder(merged, pv, cur, NULL);
	gt_buf_release(&b);
	json_decref(seen);
	json_decref(cur);
	return 0;
}

/* Merges a list of objects by merge key mk (mergeSlice with special elements). Steals cur. */
static int merge_keyed(struct smp *s, json_t *cur, const json_t *pv, const char *mk, json_t **out)
{
	struct gt_buf b = GT_BUF_INIT;
	json_t *dels = nn(json_object()), *regular = nn(json_array());
	json_t *server = nn(json_array()), *merged = NULL, *pos = NULL;
	bool replace = false;
	int rc = 0;

	/* Pass 1: directives ($patch delete/replace/merge elements). */
	for (size_t i = 0; i < json_array_size(pv) && !rc; i++) {
		json_t *e = json_array_get(pv, i), *d;
		struct mark m = push_index(s, i);

		if (!json_is_object(e)) {
			rc = fail(s, -EINVAL, "elements of this list must be objects with merge key \"%s\"", mk);
		} else if (!(d = json_object_get(e, D_PATCH))) {
			json_array_append(regular, e);
		} else if (json_is_string(d) && !strcmp(json_string_value(d), "delete")) {
			if (!item_key(e, mk, &b))
				rc = fail(s, -EINVAL, "$patch: delete needs the merge key \"%s\"", mk);
			else
				json_object_setn_new_nocheck(dels, b.data, b.len, json_true());
		} else if (json_is_string(d) && !strcmp(json_string_value(d), "replace")) {
			replace = true;
		} else if (!json_is_string(d) || strcmp(json_string_value(d), "merge")) {
			rc = fail(s, -EINVAL, "unknown $patch directive (delete, replace or merge)");
		}
		pop(s, m);
	}
	if (rc < 0)
		goto out;

	/* The live list after deletions is both the base and the server order. */
	for (size_t i = 0; !replace && i < json_array_size(cur); i++) {
		json_t *e = json_array_get(cur, i);

		if (item_key(e, mk, &b) && json_object_getn(dels, b.data, b.len))
			continue;
		json_array_append(server, e);
	}
	merged = nn(json_copy(server));
	pos = index_map(merged, mk);

	/* Pass 2: merge each regular element into its match, or append it. */
	for (size_t i = 0; i < json_array_size(regular) && !rc; i++) {
		json_t *e = json_array_get(regular, i), *nv;
		struct mark m = push_index(s, i);
		long at;

		if (!item_key(e, mk, &b)) {
			rc = fail(s, -EINVAL, "list element is missing its merge key \"%s\"", mk);
		} else if ((at = map_lookup(pos, &b)) >= 0) {
			rc = merge_map(s, json_incref(json_array_get(merged, (size_t)at)), e, &nv);
			if (!rc)
				json_array_set_new(merged, (size_t)at, nv);
		} else {
			rc = merge_map(s, NULL, e, &nv);
			if (!rc) {
				json_object_setn_new_nocheck(pos, b.data, b.len,
							     nn(json_integer((json_int_t)json_array_size(merged))));
				json_array_append_new(merged, nv);
			}
		}
		pop(s, m);
	}
	if (rc < 0)
		goto out;
	*out = reorder(merged, regular, server, mk);
	merged = NULL;
out:
	gt_buf_release(&b);
	json_decref(dels);
	json_decref(regular);
	json_decref(server);
	json_decref(merged);
	json_decref(pos);
	json_decref(cur);
	return rc;
}

/* Merges pv into old (an owned reference or NULL) at the current path. */
static int merge_field(struct smp *s, json_t *old, const json_t *pv, json_t **out)
{
	const struct gt_patch_rule *r;

	if (json_is_object(pv)) {
		r = rule_here(s);
		if (!json_is_object(old) || (r && (r->strategy & GT_PATCH_REPLACE))) {
			json_decref(old);
			old = NULL;
		}
		return merge_map(s, old, pv, out);
	}
	if (json_is_array(pv)) {
		int rc;

		if (++s->depth > GT_PATCH_MAX_DEPTH) {
			json_decref(old);
			s->depth--;
			return fail(s, -EINVAL, "nested deeper than %d levels", GT_PATCH_MAX_DEPTH);
		}
		r = rule_here(s);
		if (r && (r->strategy & GT_PATCH_MERGE)) {
			if (!json_is_array(old)) {
				json_decref(old);
				old = nn(json_array());
			}
			rc = r->merge_key ? merge_keyed(s, old, pv, r->merge_key, out)
					  : merge_scalars(s, old, pv, out);
		} else {
			json_decref(old);
			rc = copy_list(s, pv, out);
		}
		s->depth--;
		return rc;
	}
	json_decref(old);
	*out = nn(json_deep_copy(pv));
	return 0;
}

/* $retainKeys: validate the patch against the list, then drop unlisted keys from cur. */
static int retain_keys(struct smp *s, json_t *cur, const json_t *patch, const json_t *list)
{
	const char *k;
	size_t klen;
	json_t *v, *set;
	void *tmp;

	if (!json_is_array(list))
		return fail(s, -EINVAL, "$retainKeys must be a list of field names");
	set = nn(json_object());
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);

		if (!json_is_string(e)) {
			json_decref(set);
			return fail(s, -EINVAL, "$retainKeys must be a list of field names");
		}
		json_object_setn_new_nocheck(set, json_string_value(e), json_string_length(e),
					     json_true());
	}
	json_object_keylen_foreach((json_t *)patch, k, klen, v) {
		if (json_is_null(v) || is_directive(k, klen) || json_object_getn(set, k, klen))
			continue;
		json_decref(set);
		return fail(s, -EBADMSG, "field \"%.*s\" is not listed in $retainKeys",
			    (int)strnlen(k, klen), k);
	}
	json_object_keylen_foreach_safe(cur, tmp, k, klen, v)
		if (!json_object_getn(set, k, klen))
			json_object_deln(cur, k, klen);
	json_decref(set);
	return 0;
}

/* Checks that the patch list's items appear in $setElementOrder in the same order. */
static int check_order(struct smp *s, const json_t *plist, const json_t *order, const char *mk,
		       const char *field, size_t flen)
{
	struct gt_buf a = GT_BUF_INIT, b = GT_BUF_INIT;
	size_t pi = 0, oi = 0, n = json_array_size(plist);
	int rc = 0;

	for (size_t i = 0; i < json_array_size(order) && !rc; i++) {
		json_t *e = json_array_get(order, i);

		if (mk ? !json_is_object(e) || !json_object_get(e, mk) : json_is_object(e) || json_is_array(e))
			rc = fail(s, -EINVAL, "$setElementOrder/%.*s: item %zu must be %s%s%s",
				  (int)strnlen(field, flen), field, i,
				  mk ? "an object with merge key \"" : "a scalar", mk ? mk : "", mk ? "\"" : "");
	}
	while (!rc && pi < n && oi < json_array_size(order)) {
		json_t *e = json_array_get(plist, pi);

		if (json_is_object(e) && json_object_get(e, D_PATCH)) {
			pi++;
			continue;
		}
		if (item_key(e, mk, &a) && item_key(json_array_get(order, oi), mk, &b) &&
		    a.len == b.len && !memcmp(a.data, b.data, a.len))
			pi++;
		oi++;
	}
	while (!rc && pi < n && json_is_object(json_array_get(plist, pi)) &&
	       json_object_get(json_array_get(plist, pi), D_PATCH))
		pi++;
	if (!rc && pi < n)
		rc = fail(s, -EINVAL, "the order of list \"%.*s\" does not match its $setElementOrder",
			  (int)strnlen(field, flen), field);
	gt_buf_release(&a);
	gt_buf_release(&b);
	return rc;
}

/*
 * $setElementOrder/<field>: merge <field> now, then sort it by the order
 * list (mergePatchIntoOriginal).  Records the field in done so the main loop
 * skips it.
 */
static int set_order(struct smp *s, json_t *cur, const json_t *patch, const char *field,
		     size_t flen, const json_t *order, json_t *done)
{
	json_t *pl = json_object_getn(patch, field, flen), *ol = json_object_getn(cur, field, flen);
	const struct gt_patch_rule *r;
	json_t *server, *merged;
	struct mark m;
	int rc = 0;

	m = push_key(s, field, flen);
	if (!json_is_array(order)) {
		rc = fail(s, -EINVAL, "$setElementOrder must be a list");
		goto out;
	}
	r = rule_here(s);
	if (!r || !(r->strategy & GT_PATCH_MERGE) || json_is_null(pl))
		goto out; /* not a merging list: the directive is just dropped */
	if (pl && !json_is_array(pl)) {
		rc = fail(s, -EINVAL, "must be a list when $setElementOrder is given");
		goto out;
	}
	rc = check_order(s, pl, order, r->merge_key, field, flen);
	if (rc < 0 || (!pl && !json_is_array(ol)))
		goto out;
	server = json_is_array(ol) ? nn(json_copy(ol)) : nn(json_array());
	if (pl) {
		rc = merge_field(s, json_incref(ol), pl, &merged);
		if (rc < 0) {
			json_decref(server);
			goto out;
		}
	} else {
		merged = json_incref(ol);
	}
	json_object_setn_new_nocheck(cur, field, flen, reorder(merged, order, server, r->merge_key));
	json_object_setn_new_nocheck(done, field, flen, json_true());
	json_decref(server);
out:
	pop(s, m);
	return rc;
}

/* $deleteFromPrimitiveList/<field>: removes the listed scalars from cur[field]. */
static int delete_from(struct smp *s, json_t *cur, const char *field, size_t flen, const json_t *list)
{
	json_t *ol = json_object_getn(cur, field, flen), *set, *res;
	struct gt_buf b = GT_BUF_INIT;

	if (!json_is_array(list)) {
		struct mark m = push_key(s, field, flen);
		int rc = fail(s, -EINVAL, "$deleteFromPrimitiveList must be a list");

		pop(s, m);
		return rc;
	}
	if (!json_is_array(ol))
		return 0;
	set = index_map(list, NULL);
	res = nn(json_array());
	for (size_t i = 0; i < json_array_size(ol); i++) {
		canon(json_array_get(ol, i), &b);
		if (map_lookup(set, &b) < 0)
			json_array_append(res, json_array_get(ol, i));
	}
	json_object_setn_new_nocheck(cur, field, flen, res);
	json_decref(set);
	gt_buf_release(&b);
	return 0;
}

/* Merges the object patch into cur (an owned reference or NULL = empty). */
static int merge_map(struct smp *s, json_t *cur, const json_t *patch, json_t **out)
{
	json_t *dir = json_object_get(patch, D_PATCH), *done = NULL, *v;
	const char *k;
	size_t klen;
	int rc = 0;

	if (++s->depth > GT_PATCH_MAX_DEPTH) {
		rc = fail(s, -EINVAL, "nested deeper than %d levels", GT_PATCH_MAX_DEPTH);
		goto out;
	}
	if (dir) {
		const char *d = json_string_value(dir);

		if (d && !strcmp(d, "delete")) {
			json_decref(cur);
			cur = NULL;
			*out = nn(json_object());
			goto out;
		} else if (d && !strcmp(d, "replace")) {
			json_decref(cur);
			cur = NULL;
		} else if (!d || strcmp(d, "merge")) {
			rc = fail(s, -EINVAL, "unknown $patch directive (delete, replace or merge)");
			goto out;
		}
	}
	if (!cur)
		cur = nn(json_object());
	if ((v = json_object_get(patch, D_RETAIN)) && (rc = retain_keys(s, cur, patch, v)) < 0)
		goto out;

	done = nn(json_object());
	json_object_keylen_foreach((json_t *)patch, k, klen, v) {
		if (has_prefix(k, klen, D_ORDER)) {
			size_t n = strlen(D_ORDER);

			rc = set_order(s, cur, patch, k + n, klen - n, v, done);
			if (rc < 0)
				goto out;
		}
	}
	json_object_keylen_foreach((json_t *)patch, k, klen, v) {
		json_t *nv;
		struct mark m;

		if (is_directive(k, klen) || json_object_getn(done, k, klen))
			continue;
		if (json_is_null(v)) {
			json_object_deln(cur, k, klen);
			continue;
		}
		m = push_key(s, k, klen);
		rc = merge_field(s, json_incref(json_object_getn(cur, k, klen)), v, &nv);
		pop(s, m);
		if (rc < 0)
			goto out;
		json_object_setn_new_nocheck(cur, k, klen, nv);
	}
	json_object_keylen_foreach((json_t *)patch, k, klen, v) {
		if (has_prefix(k, klen, D_DELETE)) {
			size_t n = strlen(D_DELETE);

			rc = delete_from(s, cur, k + n, klen - n, v);
			if (rc < 0)
				goto out;
		}
	}
	*out = cur;
	cur = NULL;
out:
	s->depth--;
	json_decref(done);
	json_decref(cur);
	return rc;
}

int gt_patch_strategic(const char *api_version, const char *kind, const json_t *target,
		       const json_t *patch, json_t **out, struct gt_err *err)
{
	struct smp *s;
	int rc;

	*out = NULL;
	if (!json_is_object(patch))
		return gt_err_set(err, -EINVAL, "strategic merge patch: the patch must be a JSON object");
	if (!json_is_object(target))
		return gt_err_set(err, -EINVAL, "strategic merge patch: the target must be a JSON object");
	s = xcalloc(1, sizeof(*s));
	s->api_version = api_version ? api_version : "";
	s->kind = kind ? kind : "";
	s->err = err;
	rc = merge_map(s, nn(json_deep_copy(target)), patch, out);
	free(s);
	return rc;
}
