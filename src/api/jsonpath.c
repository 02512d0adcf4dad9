/*
 * jsonpath.c - a small JSONPath evaluator (see jsonpath.h).
 *
 * A path is parsed into a list of steps (field, wildcard, index/slice,
 * filter) and evaluated breadth-first over a list of borrowed nodes, the way
 * client-go's jsonpath walks its reflect.Values.  Index and slice bounds
 * follow client-go (negative indices count from the end, [-1:] is the last
 * element); where client-go would fail at run time (index out of range, a
 * field of a non-object) this evaluator yields no match for that node.
 */
#include "api/jsonpath.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum step_kind { ST_FIELD, ST_WILD, ST_ARRAY, ST_FILTER };
enum fop { F_EXISTS, F_EQ, F_NE, F_LT, F_GT, F_LE, F_GE };
enum opd_kind { OPD_PATH, OPD_STR, OPD_INT, OPD_REAL, OPD_BOOL };

struct path;

struct operand {
	enum opd_kind k;
	struct path *path; /* OPD_PATH: relative to the element (@) */
	char *s;
	int64_t i;
	double d;
	bool b;
};

struct step {
	enum step_kind k;
	char *name;        /* ST_FIELD; "" is the node itself */
	long v[3];         /* ST_ARRAY: start, end, step */
	bool known[3];
	bool end_derived;  /* [n]: end is n+1 */
	enum fop op;       /* ST_FILTER */
	struct operand l, r;
};

struct path {
	struct step *s;
	size_t n, cap;
};

struct nodes {
	const json_t **v;
	size_t n, cap;
};

static void path_free(struct path *pa);

static void operand_release(struct operand *o)
{
	path_free(o->path);
	free(o->s);
}

static void path_free(struct path *pa)
{
	if (!pa)
		return;
	for (size_t i = 0; i < pa->n; i++) {
		free(pa->s[i].name);
		operand_release(&pa->s[i].l);
		operand_release(&pa->s[i].r);
	}
	free(pa->s);
	free(pa);
}

static struct step *push_step(struct path *pa, enum step_kind k)
{
	struct step *st;

	gt_grow((void **)&pa->s, &pa->cap, pa->n + 1, sizeof(*pa->s));
	st = &pa->s[pa->n++];
	memset(st, 0, sizeof(*st));
	st->k = k;
	return st;
}

/* ---- parsing ---- */

static bool is_term(char c)
{
	return strchr(".[]{},$@ \t\r\n", c) != NULL;
}

#define MAX_DEPTH 16 /* nested filters */

static int parse_steps(struct path *pa, const char *s, size_t n, int depth, struct gt_err *err);

/* Parses "-?digits" in [s, s+n) (n may be 0: unknown). */
static int parse_long(const char *s, size_t n, long *v, bool *known, struct gt_err *err)
{
	size_t i = 0;
	long x = 0;
	bool neg = false;

	*known = false;
	if (n == 0)
		return 0;
	if (s[0] == '-')
		neg = true, i++;
	if (i == n)
		return gt_err_set(err, -EINVAL, "array index %.*s is not a number", (int)n, s);
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return gt_err_set(err, -EINVAL, "invalid array index %.*s", (int)n, s);
		if (x > 100000000L)
			return gt_err_set(err, -EINVAL, "array index %.*s is too large", (int)n, s);
		x = x * 10 + (s[i] - '0');
	}
	*v = neg ? -x : x;
	*known = true;
	return 0;
}

/* [a], [a:b], [a:b:c] (client-go parseArray). */
static int parse_slice(struct path *pa, const char *s, size_t n, struct gt_err *err)
{
	struct step *st = push_step(pa, ST_ARRAY);
	size_t start = 0, part = 0;

	if (n == 0)
		return gt_err_set(err, -EINVAL, "invalid array index []");
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ':')
			continue;
		if (part == 3)
			return gt_err_set(err, -EINVAL, "invalid array index %.*s", (int)n, s);
		if (parse_long(s + start, i - start, &st->v[part], &st->known[part], err) < 0)
			return -EINVAL;
		part++;
		start = i + 1;
	}
	if (part == 1) {
		st->v[1] = st->v[0] + 1;
		st->known[1] = st->end_derived = true;
	}
	if (st->known[2] && st->v[2] <= 0)
		return gt_err_set(err, -EINVAL, "step must be > 0");
	return 0;
}

static char *trim_dup(const char *s, size_t n)
{
	while (n && strchr(" \t\r\n", *s))
		s++, n--;
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* Unquotes 'x' or "x" (backslash takes the next char as is); NULL if not quoted. */
static char *unquote(const char *s, size_t n)
{
	char *out, *w;

	if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0])
		return NULL;
	out = w = xmalloc(n);
	for (size_t i = 1; i + 1 < n; i++) {
		if (s[i] == '\\' && i + 2 < n)
			i++;
		*w++ = s[i];
	}
	*w = '\0';
	return out;
}

static int parse_operand(struct operand *o, const char *text, int depth, struct gt_err *err)
{
	size_t n = strlen(text);
	char *end;

	if (text[0] == '@') {
		o->k = OPD_PATH;
		o->path = xcalloc(1, sizeof(*o->path));
		return parse_steps(o->path, text + 1, n - 1, depth, err);
	}
	if (text[0] == '\'' || text[0] == '"') {
		o->k = OPD_STR;
		o->s = unquote(text, n);
		if (!o->s)
			return gt_err_set(err, -EINVAL, "unterminated string in filter: %s", text);
		return 0;
	}
	if (!strcmp(text, "true") || !strcmp(text, "false")) {
		o->k = OPD_BOOL;
		o->b = text[0] == 't';
		return 0;
	}
	if (n && !strpbrk(text, ".eE")) {
		errno = 0;
		o->i = strtoll(text, &end, 10);
		if (!*end && !errno && end != text && !strchr(" \t", text[0])) {
			o->k = OPD_INT;
			return 0;
		}
	}
	o->d = strtod(text, &end);
	if (n && !*end && end != text && isfinite(o->d) && !strchr(" \t", text[0])) {
		o->k = OPD_REAL;
		return 0;
	}
	return gt_err_set(err, -EINVAL, "unrecognized filter operand: %s", text);
}

/* [?(left op right)] or [?(@.x)]: text is what lies between "[?(" and ")]". */
static int parse_filter(struct path *pa, const char *s, size_t n, int depth, struct gt_err *err)
{
	static const struct { const char *s; enum fop op; } ops[] = {
		{ "==", F_EQ }, { "!=", F_NE }, { "<=", F_LE }, { ">=", F_GE }, { "<", F_LT }, { ">", F_GT },
	};
	struct step *st = push_step(pa, ST_FILTER);
	size_t k = 0, e;
	char *l, *r, *opname, q = 0;
	int rc = 0;

	/* the first operator outside brackets and quotes (Kubernetes takes the first at all) */
	for (int br = 0; k < n; k++) {
		if (q) {
			if (s[k] == '\\')
				k++;
			else if (s[k] == q)
				q = 0;
		} else if (s[k] == '\'' || s[k] == '"') {
			q = s[k];
		} else if (s[k] == '[') {
			br++;
		} else if (s[k] == ']') {
			br--;
		} else if (br == 0 && strchr("!<>=", s[k])) {
			break;
		}
	}
	if (k > n)
		k = n;
	if (k == n || k == 0) {
		st->op = F_EXISTS;
		l = trim_dup(s, n);
		rc = parse_operand(&st->l, l, depth, err);
		free(l);
		return rc;
	}
	for (e = k; e < n && strchr("!<>=", s[e]); e++)
		;
	if (e == n)
		return gt_err_set(err, -EINVAL, "invalid filter: %.*s", (int)n, s);
	opname = xstrndup(s + k, e - k);
	st->op = F_EXISTS;
	for (size_t i = 0; i < GT_ARRAY_SIZE(ops); i++)
		if (!strcmp(ops[i].s, opname))
			st->op = ops[i].op;
	if (st->op == F_EXISTS)
		rc = gt_err_set(err, -EINVAL, "unrecognized filter operator %s", opname);
	free(opname);
	if (rc < 0)
		return rc;
	l = trim_dup(s, k);
	r = trim_dup(s + e, n - e);
	rc = parse_operand(&st->l, l, depth, err);
	if (rc == 0)
		rc = parse_operand(&st->r, r, depth, err);
	free(l);
	free(r);
	return rc;
}

/* s[i] == '['; returns the index after the closing ']' or -EINVAL. */
static long parse_bracket(struct path *pa, const char *s, size_t n, size_t i, int depth,
			  struct gt_err *err)
{
	size_t j;

	if (i + 2 < n && s[i + 1] == '?' && s[i + 2] == '(') {
		char q = 0;
		int paren = 0;

		for (j = i + 3; j < n; j++) {
			if (q) {
				if (s[j] == '\\')
					j++;
				else if (s[j] == q)
					q = 0;
			} else if (s[j] == '\'' || s[j] == '"') {
				q = s[j];
			} else if (s[j] == '(') {
				paren++;
			} else if (s[j] == ')' && paren-- == 0) {
				break;
			}
		}
		if (j >= n)
			return gt_err_set(err, -EINVAL, "unterminated filter");
		if (j + 1 >= n || s[j + 1] != ']')
			return gt_err_set(err, -EINVAL, "unclosed array expect ]");
		if (depth >= MAX_DEPTH)
			return gt_err_set(err, -EINVAL, "filters nested too deeply");
		if (parse_filter(pa, s + i + 3, j - (i + 3), depth + 1, err) < 0)
			return -EINVAL;
		return (long)(j + 2);
	}
	if (i + 1 < n && (s[i + 1] == '\'' || s[i + 1] == '"')) {
		char q = s[i + 1];
		struct step *st;

		for (j = i + 2; j < n && s[j] != q; j++)
			if (s[j] == '\\')
				j++;
		if (j >= n)
			return gt_err_set(err, -EINVAL, "unterminated string in JSONPath");
		if (j + 1 < n && s[j + 1] == ',')
			return gt_err_set(err, -EINVAL, "unions ([a,b]) are not supported in JSONPath");
		if (j + 1 >= n || s[j + 1] != ']')
			return gt_err_set(err, -EINVAL, "unclosed array expect ]");
		st = push_step(pa, ST_FIELD);
		st->name = unquote(s + i + 1, j + 1 - (i + 1));
		if (!st->name)
			st->name = xstrdup("");
		return (long)(j + 2);
	}
	for (j = i + 1; j < n && s[j] != ']'; j++)
		;
	if (j >= n)
		return gt_err_set(err, -EINVAL, "unclosed array expect ]");
	if (j == i + 2 && s[i + 1] == '*') {
		push_step(pa, ST_WILD);
		return (long)(j + 1);
	}
	if (memchr(s + i + 1, ',', j - i - 1))
		return gt_err_set(err, -EINVAL, "unions ([a,b]) are not supported in JSONPath");
	if (parse_slice(pa, s + i + 1, j - i - 1, err) < 0)
		return -EINVAL;
	return (long)(j + 1);
}

static int parse_steps(struct path *pa, const char *s, size_t n, int depth, struct gt_err *err)
{
	size_t i = 0;

	while (i < n) {
		if (s[i] == '.') {
			struct gt_buf name = GT_BUF_INIT;
			bool raw_star;

			i++;
			if (i < n && s[i] == '.')
				return gt_err_set(err, -EINVAL,
						  "recursive descent (..) is not supported in JSONPath");
			gt_buf_init(&name);
			raw_star = i < n && s[i] == '*' && (i + 1 == n || is_term(s[i + 1]));
			while (i < n && !is_term(s[i])) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				gt_buf_addc(&name, s[i++]);
			}
			if (raw_star) {
				push_step(pa, ST_WILD);
				gt_buf_release(&name);
			} else {
				push_step(pa, ST_FIELD)->name = gt_buf_detach(&name, NULL);
			}
		} else if (s[i] == '[') {
			long next = parse_bracket(pa, s, n, i, depth, err);

			if (next < 0)
				return -EINVAL;
			i = (size_t)next;
		} else {
			return gt_err_set(err, -EINVAL,
					  "unrecognized character in JSONPath at position %zu: '%c'",
					  i, s[i]);
		}
	}
	return 0;
}

static int parse_path(const char *path, struct path **out, struct gt_err *err)
{
	struct path *pa;
	const char *s = path ? path : "";
	size_t n = strlen(s);

	while (n && strchr(" \t\r\n", *s))
		s++, n--;
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	if (n && s[0] == '{') {
		if (s[n - 1] != '}')
			return gt_err_set(err, -EINVAL, "unclosed action in JSONPath %s", path);
		s++, n -= 2;
		while (n && strchr(" \t\r\n", *s))
			s++, n--;
		while (n && strchr(" \t\r\n", s[n - 1]))
			n--;
	}
	if (n == 0)
		return gt_err_set(err, -EINVAL, "empty JSONPath");
	if (s[0] == '$')
		s++, n--;
	else if (s[0] != '.' && s[0] != '[')
		return gt_err_set(err, -EINVAL, "JSONPath %s must start with '.', '[' or '$'", path);
	pa = xcalloc(1, sizeof(*pa));
	if (parse_steps(pa, s, n, 0, err) < 0) {
		path_free(pa);
		return gt_err_prefix(err, -EINVAL, "invalid JSONPath %s", path);
	}
	*out = pa;
	return 0;
}

/* ---- evaluation ---- */

static void push_node(struct nodes *ns, const json_t *v)
{
	gt_grow((void **)&ns->v, &ns->cap, ns->n + 1, sizeof(*ns->v));
	ns->v[ns->n++] = v;
}

static void eval_path(const struct path *pa, const json_t *root, struct nodes *out);

/* -2 when incomparable, else -1/0/1. */
static int compare(const json_t *a, const struct operand *b)
{
	if (json_is_string(a) && b->k == OPD_STR) {
		int c = strcmp(json_string_value(a), b->s);

		return (c > 0) - (c < 0);
	}
	if (json_is_boolean(a) && b->k == OPD_BOOL)
		return json_is_true(a) == b->b ? 0 : 1; /* only == and != are meaningful */
	if (json_is_integer(a) && b->k == OPD_INT) {
		json_int_t x = json_integer_value(a);

		return (x > b->i) - (x < b->i);
	}
	if (json_is_number(a) && (b->k == OPD_INT || b->k == OPD_REAL)) {
		double x = json_number_value(a), y = b->k == OPD_INT ? (double)b->i : b->d;

		return (x > y) - (x < y);
	}
	return -2;
}

/* The operand's value as a JSON node (new reference) for a literal. */
static json_t *literal(const struct operand *o)
{
	switch (o->k) {
	case OPD_STR: return json_string(o->s);
	case OPD_INT: return json_integer(o->i);
	case OPD_REAL: return json_real(o->d);
	case OPD_BOOL: return json_boolean(o->b);
	default: return NULL;
	}
}

/* Resolves an operand against element e to exactly one node; NULL otherwise. */
static const json_t *operand_value(const struct operand *o, const json_t *e, json_t **tmp)
{
	struct nodes ns = { NULL, 0, 0 };
	const json_t *v = NULL;

	if (o->k != OPD_PATH)
		return *tmp = literal(o);
	eval_path(o->path, e, &ns);
	if (ns.n == 1)
		v = ns.v[0];
	free(ns.v);
	return v;
}

static bool filter_match(const struct step *st, const json_t *e)
{
	const json_t *lv;
	json_t *lt = NULL;
	struct operand ro;
	bool ok = false;
	int c;

	if (st->op == F_EXISTS) {
		struct nodes ns = { NULL, 0, 0 };

		if (st->l.k != OPD_PATH)
			return true;
		eval_path(st->l.path, e, &ns);
		free(ns.v);
		return ns.n > 0;
	}
	lv = operand_value(&st->l, e, &lt);
	ro = st->r;
	if (lv && st->r.k == OPD_PATH) {
		/* compare two nodes: express the right one as a literal operand */
		const json_t *rv = operand_value(&st->r, e, &lt);

		memset(&ro, 0, sizeof(ro));
		if (json_is_string(rv)) {
			ro.k = OPD_STR, ro.s = (char *)json_string_value(rv);
		} else if (json_is_integer(rv)) {
			ro.k = OPD_INT, ro.i = json_integer_value(rv);
		} else if (json_is_real(rv)) {
			ro.k = OPD_REAL, ro.d = json_real_value(rv);
		} else if (json_is_boolean(rv)) {
			ro.k = OPD_BOOL, ro.b = json_is_true(rv);
		} else {
			lv = NULL;
		}
	}
	c = lv ? compare(lv, &ro) : -2;
	if (c != -2) {
		bool isbool = ro.k == OPD_BOOL;

		switch (st->op) {
		case F_EQ: ok = c == 0; break;
		case F_NE: ok = c != 0; break;
		case F_LT: ok = !isbool && c < 0; break;
		case F_GT: ok = !isbool && c > 0; break;
		case F_LE: ok = !isbool && c <= 0; break;
		case F_GE: ok = !isbool && c >= 0; break;
		default: break;
		}
	}
	if (lt)
		json_decref(lt);
	return ok;
}

static void eval_array(const struct step *st, const json_t *v, struct nodes *out)
{
	long len, a, b, step;

	if (!json_is_array(v))
		return;
	len = (long)json_array_size(v);
	a = st->known[0] ? st->v[0] : 0;
	if (a < 0)
		a += len;
	b = st->known[1] ? st->v[1] : len;
	if (b < 0 || (b == 0 && st->end_derived))
		b += len;
	step = st->known[2] ? st->v[2] : 1;
	if (a == b || a < 0 || a >= len || b < 0 || b > len || a > b)
		return;
	for (long i = a; i < b; i += step)
		push_node(out, json_array_get(v, (size_t)i));
}

static void eval_step(const struct step *st, const json_t *v, struct nodes *out)
{
	const char *k;
	json_t *m;
	size_t i;

	switch (st->k) {
	case ST_FIELD:
		if (!st->name[0])
			push_node(out, v);
		else if (json_is_object(v) && (m = json_object_get(v, st->name)))
			push_node(out, m);
		break;
	case ST_WILD:
		if (json_is_object(v)) {
			json_object_foreach((json_t *)v, k, m)
				push_node(out, m);
		} else if (json_is_array(v)) {
			json_array_foreach(v, i, m)
				push_node(out, m);
		}
		break;
	case ST_ARRAY:
		eval_array(st, v, out);
		break;
	case ST_FILTER:
		json_array_foreach(v, i, m)
			if (filter_match(st, m))
				push_node(out, m);
		break;
	}
}

static void eval_path(const struct path *pa, const json_t *root, struct nodes *out)
{
	struct nodes cur = { NULL, 0, 0 }, next = { NULL, 0, 0 };

	push_node(&cur, root);
	for (size_t s = 0; s < pa->n && cur.n; s++) {
		next.n = 0;
		for (size_t i = 0; i < cur.n; i++)
			eval_step(&pa->s[s], cur.v[i], &next);
		struct nodes t = cur;

		cur = next;
		next = t;
	}
	for (size_t i = 0; i < cur.n; i++)
		push_node(out, cur.v[i]);
	free(cur.v);
	free(next.v);
}

int gt_jsonpath_eval_all(const json_t *obj, const char *path, json_t **out, struct gt_err *err)
{
	struct nodes ns = { NULL, 0, 0 };
	struct path *pa;

	*out = NULL;
	if (parse_path(path, &pa, err) < 0)
		return -EINVAL;
	if (obj)
		eval_path(pa, obj, &ns);
	if (ns.n) {
		*out = json_array();
		for (size_t i = 0; i < ns.n; i++)
			json_array_append(*out, (json_t *)ns.v[i]);
	}
	free(ns.v);
	path_free(pa);
	return 0;
}

int gt_jsonpath_eval(const json_t *obj, const char *path, json_t **out, struct gt_err *err)
{
	struct nodes ns = { NULL, 0, 0 };
	struct path *pa;

	*out = NULL;
	if (parse_path(path, &pa, err) < 0)
		return -EINVAL;
	if (obj)
		eval_path(pa, obj, &ns);
	if (ns.n)
		*out = json_incref((json_t *)ns.v[0]);
	free(ns.v);
	path_free(pa);
	return 0;
}

int gt_jsonpath_check(const char *path, struct gt_err *err)
{
	struct path *pa;

	if (parse_path(path, &pa, err) < 0)
		return -EINVAL;
	path_free(pa);
	return 0;
}
