/*
 * selector.c - label and field selectors (see selector.h).
 *
 * The label selector parser is a transcription of the lexer and recursive
 * descent parser in k8s.io/apimachinery/pkg/labels/selector.go, including
 * its error messages, so that `kubectl get -l 'bad selector'` prints what it
 * would print against a real cluster.  Validation of keys and values
 * follows k8s.io/apimachinery/pkg/util/validation (IsQualifiedName,
 * IsValidLabelValue).  The field selector follows pkg/fields/selector.go.
 */
#include "api/selector.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum op {
	OP_IN, OP_NOTIN, OP_EQ, OP_DEQ, OP_NE, OP_EXISTS, OP_NOTEXISTS, OP_GT, OP_LT,
};

struct req {
	char *key;
	enum op op;
	char **vals; /* sorted, unique */
	size_t nvals;
};

struct gt_labelsel {
	struct req *reqs;
	size_t n, cap;
	bool nothing; /* from a null LabelSelector: matches no label set */
};

/* ---- validation (k8s.io/apimachinery/pkg/util/validation) ---- */

#define QNAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_MSG "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
#define QNAME_REGEX_ERR QNAME_MSG " (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" QNAME_FMT "')"
#define DNS_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
#define DNS_REGEX_ERR "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '" DNS_FMT "')"
#define VALUE_REGEX_ERR "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(" QNAME_FMT ")?')"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool qname_ok(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static bool dns_subdomain_ok(const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (i == start)
			return false;
		for (size_t j = start; j < i; j++) {
			char c = s[j];
			bool lower = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

			if (!lower && !(c == '-' && j != start && j != i - 1))
				return false;
		}
		start = i + 1;
	}
	return true;
}

static void add_part(struct gt_buf *b, const char *s)
{
	if (b->len)
		gt_buf_adds(b, "; ");
	gt_buf_adds(b, s);
}

/* IsQualifiedName: appends "; "-joined problems to b; true when valid. */
static bool check_qualified_name(const char *k, struct gt_buf *b)
{
	const char *slash = strchr(k, '/');
	const char *name = k;
	size_t before = b->len;

	if (slash && strchr(slash + 1, '/')) {
		add_part(b, "a qualified name " QNAME_REGEX_ERR
			 " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
		return false;
	}
	if (slash) {
		size_t plen = (size_t)(slash - k);

		name = slash + 1;
		if (plen == 0) {
			add_part(b, "prefix part must be non-empty");
		} else {
			if (plen > 253)
				add_part(b, "prefix part must be no more than 253 characters");
			if (!dns_subdomain_ok(k, plen))
				add_part(b, "prefix part " DNS_REGEX_ERR);
		}
	}
	if (!*name)
		add_part(b, "name part must be non-empty");
	else if (strlen(name) > 63)
		add_part(b, "name part must be no more than 63 characters");
	if (!qname_ok(name, strlen(name)))
		add_part(b, "name part " QNAME_REGEX_ERR);
	return b->len == before;
}

static bool check_label_value(const char *v, struct gt_buf *b)
{
	size_t n = strlen(v), before = b->len;

	if (n > 63)
		add_part(b, "must be no more than 63 characters");
	if (n && !qname_ok(v, n))
		add_part(b, VALUE_REGEX_ERR);
	return b->len == before;
}

/* A list of field errors, rendered like utilerrors.NewAggregate. */
struct errlist {
	struct gt_buf b;
	int n;
};

static void errlist_next(struct errlist *e)
{
	if (!e->b.data)
		gt_buf_init(&e->b);
	if (e->n++)
		gt_buf_adds(&e->b, ", ");
}

/* Adds `path: Invalid value: "v": detail`. */
static void errlist_invalid(struct errlist *e, const char *path, const char *v, const char *detail)
{
	errlist_next(e);
	gt_buf_addf(&e->b, "%s: Invalid value: ", path);
	gt_buf_add_quoted(&e->b, v);
	gt_buf_addf(&e->b, ": %s", detail);
}

/* Adds `values: Invalid value: []string{"a", "b"}: detail`. */
static void errlist_invalid_list(struct errlist *e, char **vals, size_t n, const char *detail)
{
	errlist_next(e);
	gt_buf_adds(&e->b, "values: Invalid value: []string{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			gt_buf_adds(&e->b, ", ");
		gt_buf_add_quoted(&e->b, vals[i]);
	}
	gt_buf_addf(&e->b, "}: %s", detail);
}

/* Sets err from the list (prefix + aggregate) and releases it. */
static int errlist_finish(struct errlist *e, const char *prefix, struct gt_err *err)
{
	int rc = gt_err_set(err, -EINVAL, "%s%s%s%s", prefix, e->n > 1 ? "[" : "",
			    e->b.data ? e->b.data : "", e->n > 1 ? "]" : "");

	gt_buf_release(&e->b);
	return rc;
}

/* Strict Go strconv.ParseInt(s, 10, 64). */
static bool parse_int64(const char *s, int64_t *out)
{
	const char *p = s;
	bool neg = false;
	uint64_t v = 0, lim;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (v > (lim - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* labels.NewRequirement's checks (the key was validated by the caller). */
static void check_requirement(const struct req *r, struct errlist *e)
{
	struct gt_buf b = GT_BUF_INIT;
	char path[48];

	switch (r->op) {
	case OP_IN:
	case OP_NOTIN:
		if (r->nvals == 0)
			errlist_invalid_list(e, r->vals, r->nvals,
					     "for 'in', 'notin' operators, values set can't be empty");
		break;
	case OP_EQ:
	case OP_DEQ:
	case OP_NE:
		if (r->nvals != 1)
			errlist_invalid_list(e, r->vals, r->nvals,
					     "exact-match compatibility requires one single value");
		break;
	case OP_EXISTS:
	case OP_NOTEXISTS:
		if (r->nvals != 0)
			errlist_invalid_list(e, r->vals, r->nvals,
					     "values set must be empty for exists and does not exist");
		break;
	case OP_GT:
	case OP_LT:
		if (r->nvals != 1)
			errlist_invalid_list(e, r->vals, r->nvals,
					     "for 'Gt', 'Lt' operators, exactly one value is required");
		for (size_t i = 0; i < r->nvals; i++) {
			int64_t v;

			if (!parse_int64(r->vals[i], &v)) {
				snprintf(path, sizeof(path), "values[%zu]", i);
				errlist_invalid(e, path, r->vals[i],
						"for 'Gt', 'Lt' operators, the value must be an integer");
			}
		}
		break;
	}
	for (size_t i = 0; i < r->nvals; i++) {
		gt_buf_reset(&b);
		if (!check_label_value(r->vals[i], &b)) {
			char *p = xasprintf("values[%zu][%s]", i, r->key);

			errlist_invalid(e, p, r->vals[i], b.data);
			free(p);
		}
	}
	gt_buf_release(&b);
}

/* ---- requirement sets ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void req_add_val(struct req *r, const char *v, size_t n)
{
	r->vals = xrealloc(r->vals, (r->nvals + 1) * sizeof(*r->vals));
	r->vals[r->nvals++] = xstrndup(v, n);
}

/* Sorts and removes duplicate values (a sets.String, as Kubernetes keeps). */
static void req_normalize(struct req *r)
{
	size_t j = 0;

	if (r->nvals > 1)
		qsort(r->vals, r->nvals, sizeof(*r->vals), cmp_str);
	for (size_t i = 0; i < r->nvals; i++) {
		if (j && !strcmp(r->vals[j - 1], r->vals[i]))
			free(r->vals[i]);
		else
			r->vals[j++] = r->vals[i];
	}
	r->nvals = j;
}

static void req_release(struct req *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvals; i++)
		free(r->vals[i]);
	free(r->vals);
}

static struct req *sel_push(struct gt_labelsel *s)
{
	struct req *r;

	gt_grow((void **)&s->reqs, &s->cap, s->n + 1, sizeof(*s->reqs));
	r = &s->reqs[s->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* Stable insertion sort by key: selectors are short. */
static void sel_sort(struct gt_labelsel *s)
{
	for (size_t i = 1; i < s->n; i++) {
		struct req t = s->reqs[i];
		size_t j = i;

		while (j > 0 && strcmp(s->reqs[j - 1].key, t.key) > 0) {
			s->reqs[j] = s->reqs[j - 1];
			j--;
		}
		s->reqs[j] = t;
	}
}

void gt_labelsel_free(struct gt_labelsel *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		req_release(&s->reqs[i]);
	free(s->reqs);
	free(s);
}

/* ---- lexer and parser (labels/selector.go) ---- */

enum tok {
	T_EOS, T_IDENT, T_DNE, T_NE, T_LPAREN, T_RPAREN, T_COMMA, T_EQ, T_DEQ, T_GT, T_LT,
	T_IN, T_NOTIN,
};

struct token {
	enum tok t;
	const char *lit;
	int len;
};

struct parser {
	struct token *toks;
	size_t n, cap, pos;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
	return c && strchr("=!(),><", c);
}

static void lex(struct parser *p, const char *s)
{
	for (;;) {
		struct token t = { T_EOS, s, 0 };

		while (is_ws(*s))
			s++;
		t.lit = s;
		if (!*s) {
			t.lit = "";
		} else if (is_special(*s)) {
			/* longest match among the symbol tokens: only "!=" and "==" have two chars */
			t.len = 1;
			if (s[1] == '=' && (s[0] == '!' || s[0] == '='))
				t.len = 2;
			switch (s[0]) {
			case '!': t.t = t.len == 2 ? T_NE : T_DNE; break;
			case '=': t.t = t.len == 2 ? T_DEQ : T_EQ; break;
			case '(': t.t = T_LPAREN; break;
			case ')': t.t = T_RPAREN; break;
			case ',': t.t = T_COMMA; break;
			case '>': t.t = T_GT; break;
			default: t.t = T_LT; break;
			}
		} else {
			while (s[t.len] && !is_ws(s[t.len]) && !is_special(s[t.len]))
				t.len++;
			t.t = T_IDENT;
			if (t.len == 2 && !strncmp(s, "in", 2))
				t.t = T_IN;
			else if (t.len == 5 && !strncmp(s, "notin", 5))
				t.t = T_NOTIN;
		}
		gt_grow((void **)&p->toks, &p->cap, p->n + 1, sizeof(*p->toks));
		p->toks[p->n++] = t;
		if (t.t == T_EOS)
			return;
		s += t.len;
	}
}

/* In "values" context the keywords in/notin are plain identifiers. */
static struct token peek_tok(struct parser *p, bool values)
{
	struct token t = p->toks[p->pos < p->n ? p->pos : p->n - 1];

	if (values && (t.t == T_IN || t.t == T_NOTIN))
		t.t = T_IDENT;
	return t;
}

static struct token next_tok(struct parser *p, bool values)
{
	struct token t = peek_tok(p, values);

	if (p->pos < p->n - 1)
		p->pos++;
	return t;
}

#define FOUND(err, t, what) \
	gt_err_set(err, -EINVAL, "found '%.*s', expected: " what, (t).len, (t).lit)

/* parseValues: "(" identifiers-list ")" with Kubernetes' empty-element rules. */
static int parse_values(struct parser *p, struct req *r, struct gt_err *err)
{
	struct token t = next_tok(p, true);

	if (t.t != T_LPAREN)
		return gt_err_set(err, -EINVAL, "found '%.*s' expected: '('", t.len, t.lit);
	t = peek_tok(p, true);
	if (t.t == T_RPAREN) {
		next_tok(p, true);
		req_add_val(r, "", 0);
		return 0;
	}
	if (t.t != T_IDENT && t.t != T_COMMA)
		return FOUND(err, t, "',', ')' or identifier");
	for (;;) {
		t = next_tok(p, true);
		if (t.t == T_IDENT) {
			struct token t2 = peek_tok(p, true);

			req_add_val(r, t.lit, (size_t)t.len);
			if (t2.t == T_COMMA)
				continue;
			if (t2.t == T_RPAREN)
				break;
			return FOUND(err, t2, "',' or ')'");
		} else if (t.t == T_COMMA) {
			struct token t2 = peek_tok(p, true);

			if (r->nvals == 0)
				req_add_val(r, "", 0); /* "(," */
			if (t2.t == T_RPAREN) {
				req_add_val(r, "", 0); /* ",)" */
				break;
			}
			if (t2.t == T_COMMA) {
				next_tok(p, true);
				req_add_val(r, "", 0); /* ",," */
			}
		} else {
			return FOUND(err, t, "',', or identifier");
		}
	}
	t = next_tok(p, true);
	if (t.t != T_RPAREN)
		return FOUND(err, t, "')'");
	return 0;
}

static int parse_requirement(struct parser *p, struct req *r, struct gt_err *err)
{
	struct gt_buf b = GT_BUF_INIT;
	struct errlist e = { GT_BUF_INIT, 0 };
	struct token t = next_tok(p, true), op;
	bool dne = false;

	if (t.t == T_DNE) {
		dne = true;
		t = next_tok(p, true);
	}
	if (t.t != T_IDENT)
		return FOUND(err, t, "identifier");
	r->key = xstrndup(t.lit, (size_t)t.len);
	gt_buf_init(&b);
	if (!check_qualified_name(r->key, &b)) {
		errlist_invalid(&e, "<nil>", r->key, b.data);
		gt_buf_release(&b);
		return errlist_finish(&e, "", err);
	}
	gt_buf_release(&b);
	t = peek_tok(p, true);
	if (dne || t.t == T_EOS || t.t == T_COMMA) {
		r->op = dne ? OP_NOTEXISTS : OP_EXISTS;
		return 0;
	}
	op = next_tok(p, false);
	switch (op.t) {
	case T_IN: r->op = OP_IN; break;
	case T_NOTIN: r->op = OP_NOTIN; break;
	case T_EQ: r->op = OP_EQ; break;
	case T_DEQ: r->op = OP_DEQ; break;
	case T_NE: r->op = OP_NE; break;
	case T_GT: r->op = OP_GT; break;
	case T_LT: r->op = OP_LT; break;
	default:
		return FOUND(err, op, "in, notin, =, ==, !=, gt, lt");
	}
	if (r->op == OP_IN || r->op == OP_NOTIN) {
		int rc = parse_values(p, r, err);

		if (rc < 0)
			return rc;
	} else {
		t = peek_tok(p, true);
		if (t.t == T_EOS || t.t == T_COMMA) {
			req_add_val(r, "", 0);
		} else {
			t = next_tok(p, true);
			if (t.t != T_IDENT)
				return FOUND(err, t, "identifier");
			req_add_val(r, t.lit, (size_t)t.len);
		}
	}
	req_normalize(r);
	check_requirement(r, &e);
	if (e.n)
		return errlist_finish(&e, "", err);
	return 0;
}

static int parse_all(struct parser *p, struct gt_labelsel *s, struct gt_err *err)
{
	for (;;) {
		struct token t = peek_tok(p, true);

		if (t.t == T_EOS)
			return 0;
		if (t.t != T_IDENT && t.t != T_DNE)
			return FOUND(err, t, "!, identifier, or 'end of string'");
		if (parse_requirement(p, sel_push(s), err) < 0)
			return gt_err_prefix(err, -EINVAL, "unable to parse requirement");
		t = next_tok(p, true);
		if (t.t == T_EOS)
			return 0;
		if (t.t != T_COMMA)
			return FOUND(err, t, "',' or 'end of string'");
		t = peek_tok(p, true);
		if (t.t != T_IDENT && t.t != T_DNE)
			return FOUND(err, t, "identifier after ','");
	}
}

int gt_labelsel_parse(const char *s, struct gt_labelsel **out, struct gt_err *err)
{
	struct parser p = { NULL, 0, 0, 0 };
	struct gt_labelsel *sel = xcalloc(1, sizeof(*sel));
	int rc;

	lex(&p, s ? s : "");
	rc = parse_all(&p, sel, err);
	free(p.toks);
	if (rc < 0) {
		gt_labelsel_free(sel);
		return rc;
	}
	sel_sort(sel);
	*out = sel;
	return 0;
}

/* ---- object and map forms (metav1.LabelSelectorAsSelector) ---- */

/* NewRequirement for a key coming from an object (key path "key"). */
static int add_checked(struct gt_labelsel *s, const char *key, enum op op, struct req *tmpl,
		       struct gt_err *err)
{
	struct gt_buf b = GT_BUF_INIT;
	struct errlist e = { GT_BUF_INIT, 0 };
	struct req *r;

	gt_buf_init(&b);
	if (!check_qualified_name(key, &b))
		errlist_invalid(&e, "key", key, b.data);
	gt_buf_release(&b);
	r = sel_push(s);
	*r = *tmpl;
	r->key = xstrdup(key);
	r->op = op;
	check_requirement(r, &e);
	req_normalize(r);
	if (e.n)
		return errlist_finish(&e, "", err);
	return 0;
}

static int add_map(struct gt_labelsel *s, const json_t *map, const char *what, struct gt_err *err)
{
	const char *k;
	json_t *v;

	if (!map || json_is_null(map))
		return 0;
	if (!json_is_object(map))
		return gt_err_set(err, -EINVAL, "%s: must be an object", what);
	json_object_foreach((json_t *)map, k, v) {
		struct req tmpl = { NULL, OP_EQ, NULL, 0 };

		if (!json_is_string(v))
			return gt_err_set(err, -EINVAL, "%s.%s: must be a string", what, k);
		req_add_val(&tmpl, json_string_value(v), json_string_length(v));
		if (add_checked(s, k, OP_EQ, &tmpl, err) < 0)
			return -EINVAL;
	}
	return 0;
}

static int add_expr(struct gt_labelsel *s, const json_t *x, size_t i, struct gt_err *err)
{
	static const struct { const char *name; enum op op; } ops[] = {
		{ "In", OP_IN }, { "NotIn", OP_NOTIN },
		{ "Exists", OP_EXISTS }, { "DoesNotExist", OP_NOTEXISTS },
	};
	const char *key = json_string_value(json_object_get(x, "key"));
	const char *opname = json_string_value(json_object_get(x, "operator"));
	json_t *vals = json_object_get(x, "values"), *v;
	struct req tmpl = { NULL, OP_IN, NULL, 0 };
	size_t j, vi;

	if (!json_is_object(x))
		return gt_err_set(err, -EINVAL, "matchExpressions[%zu]: must be an object", i);
	if (!key)
		return gt_err_set(err, -EINVAL, "matchExpressions[%zu].key: must be a string", i);
	if (!opname)
		return gt_err_set(err, -EINVAL, "matchExpressions[%zu].operator: must be a string", i);
	for (j = 0; j < GT_ARRAY_SIZE(ops); j++)
		if (!strcmp(ops[j].name, opname))
			break;
	if (j == GT_ARRAY_SIZE(ops))
		return gt_err_set(err, -EINVAL, "\"%s\" is not a valid label selector operator", opname);
	if (vals && !json_is_null(vals) && !json_is_array(vals))
		return gt_err_set(err, -EINVAL, "matchExpressions[%zu].values: must be an array", i);
	json_array_foreach(vals, vi, v) {
		if (!json_is_string(v)) {
			for (size_t k = 0; k < tmpl.nvals; k++)
				free(tmpl.vals[k]);
			free(tmpl.vals);
			return gt_err_set(err, -EINVAL, "matchExpressions[%zu].values[%zu]: must be a string",
					  i, vi);
		}
		req_add_val(&tmpl, json_string_value(v), json_string_length(v));
	}
	return add_checked(s, key, ops[j].op, &tmpl, err);
}

int gt_labelsel_from_object(const json_t *sel, struct gt_labelsel **out, struct gt_err *err)
{
	struct gt_labelsel *s = xcalloc(1, sizeof(*s));
	const json_t *exprs;
	json_t *x;
	size_t i;

	if (!sel || json_is_null(sel)) {
		s->nothing = true;
		*out = s;
		return 0;
	}
	if (!json_is_object(sel)) {
		gt_labelsel_free(s);
		return gt_err_set(err, -EINVAL, "selector: must be an object");
	}
	if (add_map(s, json_object_get(sel, "matchLabels"), "matchLabels", err) < 0)
		goto fail;
	exprs = json_object_get(sel, "matchExpressions");
	if (exprs && !json_is_null(exprs) && !json_is_array(exprs)) {
		gt_err_set(err, -EINVAL, "matchExpressions: must be an array");
		goto fail;
	}
	json_array_foreach(exprs, i, x)
		if (add_expr(s, x, i, err) < 0)
			goto fail;
	sel_sort(s);
	*out = s;
	return 0;
fail:
	gt_labelsel_free(s);
	return -EINVAL;
}

int gt_labelsel_from_map(const json_t *map, struct gt_labelsel **out, struct gt_err *err)
{
	struct gt_labelsel *s = xcalloc(1, sizeof(*s));

	if (add_map(s, map, "selector", err) < 0) {
		gt_labelsel_free(s);
		return -EINVAL;
	}
	sel_sort(s);
	*out = s;
	return 0;
}

/* ---- matching and printing ---- */

static bool has_value(const struct req *r, const char *v)
{
	for (size_t i = 0; i < r->nvals; i++)
		if (!strcmp(r->vals[i], v))
			return true;
	return false;
}

static bool req_match(const struct req *r, const json_t *labels)
{
	json_t *jv = labels ? json_object_get(labels, r->key) : NULL;
	const char *v = jv ? json_string_value(jv) : NULL;
	int64_t a, b;

	if (jv && !v)
		v = ""; /* a non-string label value (never valid on write) */
	switch (r->op) {
	case OP_IN:
	case OP_EQ:
	case OP_DEQ:
		return v && has_value(r, v);
	case OP_NOTIN:
	case OP_NE:
		return !v || !has_value(r, v);
	case OP_EXISTS:
		return v != NULL;
	case OP_NOTEXISTS:
		return v == NULL;
	case OP_GT:
	case OP_LT:
		if (!v || r->nvals != 1 || !parse_int64(v, &a) || !parse_int64(r->vals[0], &b))
			return false;
		return r->op == OP_GT ? a > b : a < b;
	}
	return false;
}

bool gt_labelsel_match(const struct gt_labelsel *s, const json_t *labels)
{
	if (!s)
		return true;
	if (s->nothing)
		return false;
	if (labels && !json_is_object(labels))
		labels = NULL;
	for (size_t i = 0; i < s->n; i++)
		if (!req_match(&s->reqs[i], labels))
			return false;
	return true;
}

bool gt_labelsel_empty(const struct gt_labelsel *s)
{
	return !s || (!s->nothing && s->n == 0);
}

char *gt_labelsel_string(const struct gt_labelsel *s)
{
	static const char *const sym[] = {
		[OP_IN] = " in ", [OP_NOTIN] = " notin ", [OP_EQ] = "=", [OP_DEQ] = "==",
		[OP_NE] = "!=", [OP_EXISTS] = "", [OP_NOTEXISTS] = "", [OP_GT] = ">", [OP_LT] = "<",
	};
	struct gt_buf b = GT_BUF_INIT;

	gt_buf_init(&b);
	for (size_t i = 0; s && !s->nothing && i < s->n; i++) {
		const struct req *r = &s->reqs[i];
		bool set = r->op == OP_IN || r->op == OP_NOTIN;

		if (i)
			gt_buf_addc(&b, ',');
		if (r->op == OP_NOTEXISTS)
			gt_buf_addc(&b, '!');
		gt_buf_adds(&b, r->key);
		if (r->op == OP_EXISTS || r->op == OP_NOTEXISTS)
			continue;
		gt_buf_adds(&b, sym[r->op]);
		if (set)
			gt_buf_addc(&b, '(');
		for (size_t j = 0; j < r->nvals; j++) {
			if (j)
				gt_buf_addc(&b, ',');
			gt_buf_adds(&b, r->vals[j]);
		}
		if (set)
			gt_buf_addc(&b, ')');
	}
	return gt_buf_detach(&b, NULL);
}

char *gt_labelsel_object_string(const json_t *sel)
{
	struct gt_labelsel *s;
	char *str;

	if (gt_labelsel_from_object(sel, &s, NULL) < 0)
		return xstrdup("<error>");
	str = gt_labelsel_string(s);
	gt_labelsel_free(s);
	return str;
}

/* ---- field selectors (fields/selector.go) ---- */

struct fterm {
	char *field;
	char *value;
	bool neq;
};

struct gt_fieldsel {
	struct fterm *t;
	size_t n, cap;
};

void gt_fieldsel_free(struct gt_fieldsel *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->t[i].field);
		free(s->t[i].value);
	}
	free(s->t);
	free(s);
}

/* UTF-8 sequence length from a lead byte, for error messages. */
static size_t u8len(const char *s)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

	for (size_t i = 1; i < n; i++)
		if (!s[i])
			return i;
	return n;
}

static int unescape_value(const char *s, size_t n, char **out, struct gt_err *err)
{
	char *v = xmalloc(n + 1), *w = v;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\') {
			if (i + 1 == n) {
				free(v);
				return gt_err_set(err, -EINVAL, "invalid escape sequence: \\");
			}
			if (s[i + 1] != '\\' && s[i + 1] != ',' && s[i + 1] != '=') {
				int l = (int)u8len(s + i + 1);

				free(v);
				return gt_err_set(err, -EINVAL, "invalid escape sequence: \\%.*s", l, s + i + 1);
			}
			*w++ = s[++i];
		} else if (s[i] == ',' || s[i] == '=') {
			char c = s[i];

			free(v);
			return gt_err_set(err, -EINVAL,
					  "invalid field selector: unescaped character in value: %c", c);
		} else {
			*w++ = s[i];
		}
	}
	*w = '\0';
	*out = v;
	return 0;
}

static int cmp_term_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits on unescaped commas (escapes stay in the parts). */
static char **split_terms(const char *s, size_t *n)
{
	char **parts = NULL;
	size_t cap = 0, start = 0, i;
	bool slash = false;

	*n = 0;
	for (i = 0;; i++) {
		if (s[i] && slash) {
			slash = false;
		} else if (s[i] == '\\') {
			slash = true;
		} else if (s[i] == ',' || !s[i]) {
			gt_grow((void **)&parts, &cap, *n + 1, sizeof(*parts));
			parts[(*n)++] = xstrndup(s + start, i - start);
			start = i + 1;
			if (!s[i])
				break;
		}
	}
	return parts;
}

static int parse_term(struct gt_fieldsel *fs, const char *whole, const char *part,
		      struct gt_err *err)
{
	static const char *const ops[] = { "!=", "==", "=" };

	for (size_t i = 0; part[i]; i++) {
		for (size_t o = 0; o < GT_ARRAY_SIZE(ops); o++) {
			size_t ol = strlen(ops[o]);
			struct fterm t;

			if (strncmp(part + i, ops[o], ol))
				continue;
			if (unescape_value(part + i + ol, strlen(part + i + ol), &t.value, err) < 0)
				return -EINVAL;
			t.field = xstrndup(part, i);
			t.neq = o == 0;
			gt_grow((void **)&fs->t, &fs->cap, fs->n + 1, sizeof(*fs->t));
			fs->t[fs->n++] = t;
			return 0;
		}
	}
	return gt_err_set(err, -EINVAL, "invalid selector: '%s'; can't understand '%s'", whole, part);
}

int gt_fieldsel_parse(const char *s, struct gt_fieldsel **out, struct gt_err *err)
{
	struct gt_fieldsel *fs = xcalloc(1, sizeof(*fs));
	char **parts;
	size_t n;
	int rc = 0;

	if (!s || !*s) {
		*out = fs;
		return 0;
	}
	parts = split_terms(s, &n);
	qsort(parts, n, sizeof(*parts), cmp_term_text);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && parts[i][0])
			rc = parse_term(fs, s, parts[i], err);
		free(parts[i]);
	}
	free(parts);
	if (rc < 0) {
		gt_fieldsel_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

int gt_fieldsel_check_n(const struct gt_fieldsel *s, const char *const *allowed, size_t n,
			struct gt_err *err)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const char *f = s->t[i].field;
		bool ok = !strcmp(f, "metadata.name") || !strcmp(f, "metadata.namespace");

		for (size_t j = 0; !ok && allowed && j < n && allowed[j]; j++)
			ok = allowed[j][0] && !strcmp(allowed[j], f);
		if (!ok)
			return gt_err_set(err, -EINVAL, "field label not supported: %s", f);
	}
	return 0;
}

int gt_fieldsel_check(const struct gt_fieldsel *s, const char *const *allowed,
		      struct gt_err *err)
{
	return gt_fieldsel_check_n(s, allowed, SIZE_MAX, err);
}

/* Field labels that are not plain paths (see selector.h). */
static const struct {
	const char *label;
	const char *path;
	const char *fallback; /* used when path is absent or "" */
	const char *def;      /* value when both are absent */
} aliases[] = {
	{ "status.successful", "status.succeeded", NULL, "0" },
	{ "spec.unschedulable", "spec.unschedulable", NULL, "false" },
	{ "source", "source.component", "reportingComponent", "" },
};

/* The string form of a scalar, "" otherwise.  Returns buf or a borrowed string. */
static const char *scalar_string(const json_t *v, char buf[64])
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, 64, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	if (json_is_real(v)) {
		snprintf(buf, 64, "%.17g", json_real_value(v));
		for (int p = 1; p < 17; p++) {
			char t[64];

			snprintf(t, sizeof(t), "%.*g", p, json_real_value(v));
			if (strtod(t, NULL) == json_real_value(v)) {
				memcpy(buf, t, sizeof(t));
				break;
			}
		}
		return buf;
	}
	return NULL;
}

static const char *field_value(const json_t *obj, const char *label, char buf[64])
{
	const char *v;

	for (size_t i = 0; i < GT_ARRAY_SIZE(aliases); i++) {
		if (strcmp(aliases[i].label, label))
			continue;
		v = scalar_string(gt_json_path(obj, aliases[i].path), buf);
		if ((!v || !*v) && aliases[i].fallback)
			v = scalar_string(gt_json_path(obj, aliases[i].fallback), buf);
		return v ? v : aliases[i].def;
	}
	v = scalar_string(gt_json_path(obj, label), buf);
	return v ? v : "";
}

bool gt_fieldsel_match(const struct gt_fieldsel *s, const json_t *obj)
{
	for (size_t i = 0; s && i < s->n; i++) {
		char buf[64];
		bool eq = !strcmp(field_value(obj, s->t[i].field, buf), s->t[i].value);

		if (eq == s->t[i].neq)
			return false;
	}
	return true;
}

bool gt_fieldsel_requires_name(const struct gt_fieldsel *s, const char **name)
{
	for (size_t i = 0; s && i < s->n; i++) {
		if (!s->t[i].neq && !strcmp(s->t[i].field, "metadata.name")) {
			*name = s->t[i].value;
			return true;
		}
	}
	return false;
}

bool gt_fieldsel_empty(const struct gt_fieldsel *s)
{
	return !s || s->n == 0;
}
