/*
 * yaml.c - YAML <-> JSON over libyaml (see yaml.h for the rules).
 *
 * Parsing consumes libyaml events and builds jansson trees with an explicit
 * stack of open collections, so hostile nesting costs heap (bounded by
 * GT_YAML_MAX_DEPTH), never C stack.  Scalars are typed by resolve(), a
 * transcription of go-yaml v2's resolve.go (YAML 1.1 booleans, Go
 * strconv.ParseInt base 0 integers); aliases are deep copies charged against
 * a node budget.  Emitting walks the JSON value recursively (its depth is
 * bounded by jansson's parser and checked here) and lets libyaml pick the
 * syntax, forcing quotes where resolve() would read a string back as
 * something else.
 */
#include "codec/yaml.h"

#include <yaml.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YTAG "tag:yaml.org,2002:"
#define EMIT_MAX_DEPTH 1000

/* ---- scalar resolution (go-yaml v2 resolve.go) --------------------------- */

enum rtype { R_STR, R_NULL, R_BOOL, R_INT, R_UINT, R_FLOAT };

struct resolved {
	enum rtype t;
	bool b;
	int64_t i;
	uint64_t u;
	double f;
};

static const struct {
	const char *s;
	enum rtype t;
	int v; /* bool value, or the sign of an infinity (0: NaN) */
} words[] = {
	{ "", R_NULL, 0 }, { "~", R_NULL, 0 }, { "null", R_NULL, 0 },
	{ "Null", R_NULL, 0 }, { "NULL", R_NULL, 0 },
	{ "y", R_BOOL, 1 }, { "Y", R_BOOL, 1 }, { "yes", R_BOOL, 1 }, { "Yes", R_BOOL, 1 },
	{ "YES", R_BOOL, 1 }, { "true", R_BOOL, 1 }, { "True", R_BOOL, 1 },
	{ "TRUE", R_BOOL, 1 }, { "on", R_BOOL, 1 }, { "On", R_BOOL, 1 }, { "ON", R_BOOL, 1 },
	{ "n", R_BOOL, 0 }, { "N", R_BOOL, 0 }, { "no", R_BOOL, 0 }, { "No", R_BOOL, 0 },
	{ "NO", R_BOOL, 0 }, { "false", R_BOOL, 0 }, { "False", R_BOOL, 0 },
	{ "FALSE", R_BOOL, 0 }, { "off", R_BOOL, 0 }, { "Off", R_BOOL, 0 },
	{ "OFF", R_BOOL, 0 },
	{ ".nan", R_FLOAT, 0 }, { ".NaN", R_FLOAT, 0 }, { ".NAN", R_FLOAT, 0 },
	{ ".inf", R_FLOAT, 1 }, { ".Inf", R_FLOAT, 1 }, { ".INF", R_FLOAT, 1 },
	{ "+.inf", R_FLOAT, 1 }, { "+.Inf", R_FLOAT, 1 }, { "+.INF", R_FLOAT, 1 },
	{ "-.inf", R_FLOAT, -1 }, { "-.Inf", R_FLOAT, -1 }, { "-.INF", R_FLOAT, -1 },
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Go strconv.ParseUint(s, 0, 64) (underscores already removed). */
static bool go_parse_uint(const char *s, size_t n, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (!n)
		return false;
	if (s[0] == '0') {
		char c = n >= 3 ? (char)(s[1] | 0x20) : 0;

		base = c == 'b' ? 2 : c == 'o' ? 8 : c == 'x' ? 16 : 8;
		s += (c == 'b' || c == 'o' || c == 'x') ? 2 : 1;
		n -= (c == 'b' || c == 'o' || c == 'x') ? 2 : 1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i], l = (char)(c | 0x20);
		unsigned d = is_digit(c) ? (unsigned)(c - '0') :
			     (l >= 'a' && l <= 'z') ? (unsigned)(l - 'a' + 10) : 99;

		if (d >= base || v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

/* Go strconv.ParseInt(s, 0, 64). */
static bool go_parse_int(const char *s, size_t n, int64_t *out)
{
	bool neg = false;
	uint64_t u;

	if (n && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		s++;
		n--;
	}
	if (!go_parse_uint(s, n, &u))
		return false;
	if (!neg && u > (uint64_t)INT64_MAX)
		return false;
	if (neg && u > (uint64_t)INT64_MAX + 1)
		return false;
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return true;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool float_syntax(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && is_digit(s[i]); i++)
			;
		if (i == d)
			return false;
	} else {
		for (d = i; i < n && is_digit(s[i]); i++)
			;
		if (i == d)
			return false;
		if (i < n && s[i] == '.')
			for (i++; i < n && is_digit(s[i]); i++)
				;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && is_digit(s[i]); i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

static bool parse_float(const char *s, size_t n, double *out)
{
	char *tmp, *end;
	bool ok;

	if (!float_syntax(s, n))
		return false;
	tmp = xstrndup(s, n);
	errno = 0;
	*out = strtod(tmp, &end);
	/* Go's ParseFloat fails on overflow: such scalars stay strings. */
	ok = *end == '\0' && !(errno == ERANGE && isinf(*out));
	free(tmp);
	return ok;
}

/* Types a plain scalar the way go-yaml v2 does. */
static void resolve(const char *s, size_t n, struct resolved *r)
{
	memset(r, 0, sizeof(*r));
	r->t = R_STR;
	for (size_t i = 0; i < GT_ARRAY_SIZE(words); i++) {
		if (strlen(words[i].s) == n && !memcmp(words[i].s, s, n)) {
			r->t = words[i].t;
			r->b = words[i].v;
			if (r->t == R_FLOAT)
				r->f = words[i].v ? words[i].v * INFINITY : NAN;
			return;
		}
	}
	if (!n)
		return;
	if (s[0] == '.') {
		if (parse_float(s, n, &r->f))
			r->t = R_FLOAT;
	} else if (is_digit(s[0]) || s[0] == '+' || s[0] == '-') {
		char *plain = xmalloc(n + 1);
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			if (s[i] != '_')
				plain[m++] = s[i];
		plain[m] = '\0';
		if (go_parse_int(plain, m, &r->i))
			r->t = R_INT;
		else if (go_parse_uint(plain, m, &r->u))
			r->t = R_UINT;
		else if (parse_float(plain, m, &r->f))
			r->t = R_FLOAT;
		free(plain);
	}
}

/*
 * Go strconv.FormatFloat(v, 'g', -1, bits): the shortest digits that read
 * back as the same float32/float64, in %e form when exp < -4 || exp >= 6.
 */
static void format_go_g(double v, int bits, char *buf, size_t size)
{
	char e[40];
	int prec, exp;

	for (prec = 1; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (bits == 32 ? (float)strtod(e, NULL) == (float)v : strtod(e, NULL) == v)
			break;
	}
	snprintf(e, sizeof(e), "%.*e", prec - 1, v);
	exp = atoi(strchr(e, 'e') + 1);
	if (exp < -4 || exp >= 6) {
		snprintf(buf, size, "%s", e); /* C and Go agree: "1.5e+06", "1e-07" */
	} else {
		snprintf(buf, size, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
	}
}

/* ---- parser state -------------------------------------------------------- */

struct frame {
	json_t *node;     /* the object or array being filled */
	json_t *merges;   /* mappings named by `<<`, applied at the end */
	char *key;        /* pending mapping key (NULL: a key comes next) */
	size_t keylen;
	bool merge_key;   /* the pending key is `<<` */
	char *anchor;
	size_t nodes0;    /* node count when the collection started */
	int height;       /* tallest child */
};

struct anchor {
	char *name;
	json_t *v;
	size_t nodes;
	int height;
};

struct ps {
	struct gt_err *err;
	struct frame *st;
	size_t nst, cst;
	struct anchor *an;
	size_t nan, can;
	size_t nodes, alias_nodes;
	json_t *root;
	yaml_mark_t mark; /* of the current event */
};

static int perr(struct ps *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct ps *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return gt_err_set(p->err, -EINVAL, "invalid YAML at line %zu, column %zu: %s",
			  p->mark.line + 1, p->mark.column + 1, msg);
}

static void clear_anchors(struct ps *p)
{
	for (size_t i = 0; i < p->nan; i++) {
		free(p->an[i].name);
		json_decref(p->an[i].v);
	}
	p->nan = 0;
}

static void add_anchor(struct ps *p, const char *name, json_t *v, size_t nodes, int height)
{
	gt_grow((void **)&p->an, &p->can, p->nan + 1, sizeof(*p->an));
	p->an[p->nan].name = xstrdup(name);
	p->an[p->nan].v = json_incref(v);
	p->an[p->nan].nodes = nodes;
	p->an[p->nan].height = height;
	p->nan++;
}

static int count_nodes(struct ps *p, size_t n, bool alias)
{
	p->nodes += n;
	if (alias)
		p->alias_nodes += n;
	if (p->nodes > GT_YAML_MAX_NODES)
		return perr(p, "document has more than %d nodes", GT_YAML_MAX_NODES);
	if (p->alias_nodes > GT_YAML_MAX_ALIAS_NODES)
		return perr(p, "aliases expand to more than %d nodes", GT_YAML_MAX_ALIAS_NODES);
	return 0;
}

/* A mapping key from a scalar (or aliased) value: Go's key-to-string rules. */
static int key_string(struct ps *p, const json_t *v, char **key, size_t *len)
{
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		*len = json_string_length(v);
		*key = xstrndup(json_string_value(v), *len);
		return 0;
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		format_go_g(json_real_value(v), 32, buf, sizeof(buf));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
		break;
	case JSON_NULL:
		return perr(p, "null mapping keys are not supported");
	default:
		return perr(p, "mapping keys must be scalars");
	}
	*key = xstrdup(buf);
	*len = strlen(buf);
	return 0;
}

static int add_merge(struct ps *p, struct frame *f, json_t *v)
{
	size_t i;
	json_t *e;

	if (!f->merges)
		f->merges = json_array();
	if (json_is_object(v))
		return json_array_append(f->merges, v) < 0 ? -ENOMEM : 0;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (!json_is_object(e))
				return perr(p, "merge key << needs a mapping or a sequence of mappings");
		json_array_foreach(v, i, e)
			json_array_append(f->merges, e);
		return 0;
	}
	return perr(p, "merge key << needs a mapping or a sequence of mappings");
}

/* Places a finished value (reference stolen) into the open collection or the root. */
static int add_value(struct ps *p, json_t *v, int height, bool merge_key)
{
	struct frame *f;
	int rc = 0;

	if (!p->nst) {
		json_decref(p->root);
		p->root = v;
		return 0;
	}
	f = &p->st[p->nst - 1];
	if (height > f->height)
		f->height = height;
	if (json_is_array(f->node)) {
		json_array_append_new(f->node, v);
		return 0;
	}
	if (!f->key && !f->merge_key) {
		if (merge_key)
			f->merge_key = true;
		else
			rc = key_string(p, v, &f->key, &f->keylen);
		json_decref(v);
		return rc;
	}
	if (f->merge_key) {
		rc = add_merge(p, f, v);
		f->merge_key = false;
		json_decref(v);
		return rc;
	}
	if (json_object_setn_new(f->node, f->key, f->keylen, v) < 0)
		rc = perr(p, "mapping key is not valid UTF-8");
	free(f->key);
	f->key = NULL;
	return rc;
}

/* ---- events -------------------------------------------------------------- */

static const char *rname(enum rtype t)
{
	static const char *const n[] = { "!!str", "!!null", "!!bool", "!!int", "!!int", "!!float" };

	return n[t];
}

static int on_scalar(struct ps *p, yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	bool plain = !tag && ev->data.scalar.plain_implicit, merge;
	unsigned char *bin = NULL;
	struct resolved r = { .t = R_STR };
	json_t *v;
	int rc;

	if ((rc = count_nodes(p, 1, false)) < 0)
		return rc;
	if (plain) {
		resolve(s, n, &r);
	} else if (tag && !strncmp(tag, YTAG, strlen(YTAG))) {
		const char *t = tag + strlen(YTAG);

		if (!strcmp(t, "binary")) {
			char *clean = xmalloc(n + 1);
			size_t m = 0, blen;

			for (size_t i = 0; i < n; i++)
				if (s[i] != '\n' && s[i] != '\r' && s[i] != ' ' && s[i] != '\t')
					clean[m++] = s[i];
			rc = gt_base64_decode(clean, m, &bin, &blen);
			free(clean);
			if (rc < 0)
				return perr(p, "!!binary value contains invalid base64 data");
			s = (const char *)bin;
			n = blen;
		} else if (!strcmp(t, "null")) {
			r.t = R_NULL;
		} else if (!strcmp(t, "bool") || !strcmp(t, "int") || !strcmp(t, "float")) {
			bool ok;

			resolve(s, n, &r);
			/* an integer is also a valid !!float */
			ok = !strcmp(t, rname(r.t) + 2) ||
			     (!strcmp(t, "float") && (r.t == R_INT || r.t == R_UINT));
			if (!ok)
				return perr(p, "cannot decode %s `%.*s` as a !!%s", rname(r.t),
					    (int)(n > 40 ? 40 : n), s, t);
		} else if (strcmp(t, "str") && strcmp(t, "timestamp")) {
			resolve(s, n, &r); /* !!map, !!seq, ...: ignore the tag */
		}
	}

	switch (r.t) {
	case R_STR:
		v = json_stringn(s, n);
		break;
	case R_NULL:
		v = json_null();
		break;
	case R_BOOL:
		v = json_boolean(r.b);
		break;
	case R_INT:
		v = json_integer(r.i);
		break;
	case R_UINT:
		v = json_real((double)r.u);
		break;
	default:
		if (!isfinite(r.f)) {
			struct frame *f = p->nst ? &p->st[p->nst - 1] : NULL;

			if (f && json_is_object(f->node) && !f->key && !f->merge_key) {
				/* as a key it is just a name */
				v = json_string(isnan(r.f) ? ".nan" : r.f > 0 ? ".inf" : "-.inf");
				break;
			}
			free(bin);
			return perr(p, "%.*s cannot be represented in JSON", (int)n, s);
		}
		if (r.f == floor(r.f) && fabs(r.f) < 9.2e18)
			v = json_integer((json_int_t)r.f);
		else
			v = json_real(r.f);
		break;
	}
	merge = plain && n == 2 && !memcmp(s, "<<", 2);
	free(bin);
	if (!v)
		return perr(p, "string is not valid UTF-8");
	if (ev->data.scalar.anchor)
		add_anchor(p, (const char *)ev->data.scalar.anchor, v, 1, 0);
	return add_value(p, v, 0, merge);
}

static int on_start(struct ps *p, bool map, const yaml_char_t *anchor)
{
	struct frame *f;
	int rc;

	if (p->nst && json_is_object(p->st[p->nst - 1].node) && !p->st[p->nst - 1].key &&
	    !p->st[p->nst - 1].merge_key)
		return perr(p, "mapping keys must be scalars");
	if (p->nst >= GT_YAML_MAX_DEPTH)
		return perr(p, "nesting deeper than %d levels", GT_YAML_MAX_DEPTH);
	if ((rc = count_nodes(p, 1, false)) < 0)
		return rc;
	gt_grow((void **)&p->st, &p->cst, p->nst + 1, sizeof(*p->st));
	f = &p->st[p->nst++];
	memset(f, 0, sizeof(*f));
	f->node = map ? json_object() : json_array();
	f->anchor = anchor ? xstrdup((const char *)anchor) : NULL;
	f->nodes0 = p->nodes - 1;
	return 0;
}

static int on_end(struct ps *p)
{
	struct frame f = p->st[--p->nst];
	size_t i;
	json_t *src;

	if (f.merges) {
		/* Explicit keys win; earlier merged mappings win over later ones. */
		json_array_foreach(f.merges, i, src) {
			for (void *it = json_object_iter(src); it; it = json_object_iter_next(src, it)) {
				const char *k = json_object_iter_key(it);
				size_t kl = json_object_iter_key_len(it);

				if (!json_object_getn(f.node, k, kl))
					json_object_setn(f.node, k, kl, json_object_iter_value(it));
			}
		}
		json_decref(f.merges);
	}
	free(f.key);
	if (f.anchor) {
		add_anchor(p, f.anchor, f.node, p->nodes - f.nodes0, f.height + 1);
		free(f.anchor);
	}
	return add_value(p, f.node, f.height + 1, false);
}

static int on_alias(struct ps *p, const char *name)
{
	struct anchor *a = NULL;
	int rc;

	for (size_t i = p->nan; i-- > 0;) {
		if (!strcmp(p->an[i].name, name)) {
			a = &p->an[i];
			break;
		}
	}
	if (!a)
		return perr(p, "unknown anchor '%s' referenced", name);
	if ((rc = count_nodes(p, a->nodes, true)) < 0)
		return rc;
	if (p->nst + (size_t)a->height > GT_YAML_MAX_DEPTH)
		return perr(p, "nesting deeper than %d levels", GT_YAML_MAX_DEPTH);
	return add_value(p, json_deep_copy(a->v), a->height, false);
}

static int parser_error(struct ps *p, yaml_parser_t *y)
{
	if (y->error == YAML_MEMORY_ERROR)
		return gt_err_set(p->err, -ENOMEM, "YAML parser out of memory");
	if (y->error == YAML_READER_ERROR)
		return gt_err_set(p->err, -EINVAL, "invalid YAML at byte %zu: %s",
				  y->problem_offset, y->problem ? y->problem : "read error");
	p->mark = y->problem_mark;
	return perr(p, "%s%s%s", y->problem ? y->problem : "syntax error",
		    y->context ? " " : "", y->context ? y->context : "");
}

int gt_yaml_to_json(const char *buf, size_t len, json_t **docs, struct gt_err *err)
{
	struct ps p = { .err = err };
	yaml_parser_t y;
	yaml_event_t ev;
	json_t *out;
	bool done = false;
	int rc = 0;

	if (len > GT_YAML_MAX_INPUT)
		return gt_err_set(err, -E2BIG, "YAML document larger than %u bytes", GT_YAML_MAX_INPUT);
	if (!yaml_parser_initialize(&y))
		return gt_err_set(err, -ENOMEM, "YAML parser out of memory");
	yaml_parser_set_input_string(&y, (const unsigned char *)buf, len);
	out = json_array();
	while (!done && rc >= 0) {
		if (!yaml_parser_parse(&y, &ev)) {
			rc = parser_error(&p, &y);
			break;
		}
		p.mark = ev.start_mark;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (p.root && !json_is_null(p.root))
				json_array_append(out, p.root);
			json_decref(p.root);
			p.root = NULL;
			clear_anchors(&p);
			break;
		case YAML_ALIAS_EVENT:
			rc = on_alias(&p, (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
			rc = on_scalar(&p, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = on_start(&p, false, ev.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = on_start(&p, true, ev.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			rc = on_end(&p);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&y);
	while (p.nst) {
		struct frame *f = &p.st[--p.nst];

		json_decref(f->node);
		json_decref(f->merges);
		free(f->key);
		free(f->anchor);
	}
	free(p.st);
	clear_anchors(&p);
	free(p.an);
	json_decref(p.root);
	if (rc < 0) {
		json_decref(out);
		return rc;
	}
	*docs = out;
	return 0;
}

/* ---- emitting ------------------------------------------------------------ */

/* Would a plain scalar s be read back as something other than this string? */
static bool needs_quotes(const char *s, size_t n)
{
	struct resolved r;
	size_t i = 0;

	resolve(s, n, &r);
	if (r.t != R_STR || (n == 2 && !memcmp(s, "<<", 2)))
		return true;
	/* go-yaml v2 also quotes timestamps (YYYY-...) and YAML 1.1 base-60 numbers (1:30). */
	while (i < n && is_digit(s[i]))
		i++;
	if (i == 4 && n > 4 && s[4] == '-')
		return true;
	i = (n && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
	if (i < n && is_digit(s[i]) && memchr(s, ':', n)) {
		for (; i < n && (is_digit(s[i]) || s[i] == '_' || s[i] == ':' || s[i] == '.'); i++)
			;
		return i == n;
	}
	return false;
}

static bool key_letter(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? true : c >= 0x80;
}

struct kv {
	const char *k;
	size_t n;
	json_t *v;
};

/* go-yaml's keyList.Less: letters after other characters, digit runs numerically. */
static int key_cmp(const void *pa, const void *pb)
{
	const struct kv *a = pa, *b = pb;
	const unsigned char *ar = (const unsigned char *)a->k, *br = (const unsigned char *)b->k;

	for (size_t i = 0; i < a->n && i < b->n; i++) {
		uint64_t an = 0, bn = 0;
		size_t ai, bi;
		bool al, bl;

		if (ar[i] == br[i])
			continue;
		al = key_letter(ar[i]);
		bl = key_letter(br[i]);
		if (al && bl)
			return ar[i] < br[i] ? -1 : 1;
		if (al || bl)
			return bl ? -1 : 1;
		if (ar[i] == '0' || br[i] == '0') {
			for (size_t j = i; j-- > 0 && is_digit((char)ar[j]);) {
				if (ar[j] != '0') {
					an = bn = 1;
					break;
				}
			}
		}
		for (ai = i; ai < a->n && is_digit((char)ar[ai]); ai++)
			an = an * 10 + (uint64_t)(ar[ai] - '0');
		for (bi = i; bi < b->n && is_digit((char)br[bi]); bi++)
			bn = bn * 10 + (uint64_t)(br[bi] - '0');
		if (an != bn)
			return an < bn ? -1 : 1;
		if (ai != bi)
			return ai < bi ? -1 : 1;
		return ar[i] < br[i] ? -1 : 1;
	}
	return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

static int emit_event(yaml_emitter_t *e, yaml_event_t *ev)
{
	return yaml_emitter_emit(e, ev) ? 0 : -EINVAL;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t n, bool string)
{
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	yaml_event_t ev;

	if (n > INT32_MAX)
		return -EINVAL;
	if (string && needs_quotes(s, n))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	else if (string && memchr(s, '\n', n))
		style = YAML_LITERAL_SCALAR_STYLE;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style))
		return -ENOMEM;
	return emit_event(e, &ev);
}

static int emit_node(yaml_emitter_t *e, const json_t *v, int depth)
{
	yaml_event_t ev;
	char buf[64];
	int rc = 0;

	if (depth > EMIT_MAX_DEPTH)
		return -EINVAL;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		struct kv *kvs = xcalloc(n ? n : 1, sizeof(*kvs));

		for (void *it = json_object_iter((json_t *)v); it;
		     it = json_object_iter_next((json_t *)v, it), i++) {
			kvs[i].k = json_object_iter_key(it);
			kvs[i].n = json_object_iter_key_len(it);
			kvs[i].v = json_object_iter_value(it);
		}
		qsort(kvs, n, sizeof(*kvs), key_cmp);
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		rc = emit_event(e, &ev);
		for (i = 0; i < n && rc >= 0; i++) {
			rc = emit_scalar(e, kvs[i].k, kvs[i].n, true);
			if (rc >= 0)
				rc = emit_node(e, kvs[i].v, depth + 1);
		}
		free(kvs);
		if (rc >= 0) {
			yaml_mapping_end_event_initialize(&ev);
			rc = emit_event(e, &ev);
		}
		return rc;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;

		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		rc = emit_event(e, &ev);
		json_array_foreach(v, i, x) {
			if (rc < 0)
				break;
			rc = emit_node(e, x, depth + 1);
		}
		if (rc >= 0) {
			yaml_sequence_end_event_initialize(&ev);
			rc = emit_event(e, &ev);
		}
		return rc;
	}
	case JSON_STRING:
		return emit_scalar(e, json_string_value(v), json_string_length(v), true);
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		format_go_g(json_real_value(v), 64, buf, sizeof(buf));
		break;
	case JSON_TRUE:
		snprintf(buf, sizeof(buf), "true");
		break;
	case JSON_FALSE:
		snprintf(buf, sizeof(buf), "false");
		break;
	default:
		snprintf(buf, sizeof(buf), "null");
		break;
	}
	return emit_scalar(e, buf, strlen(buf), false);
}

static int write_out(void *data, unsigned char *buffer, size_t size)
{
	gt_buf_add(data, buffer, size);
	return 1;
}

int gt_yaml_from_json(const json_t *v, struct gt_buf *out)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	size_t start;
	int rc;

	if (!out->data)
		gt_buf_init(out);
	start = out->len;
	if (!yaml_emitter_initialize(&e))
		return -ENOMEM;
	yaml_emitter_set_output(&e, write_out, out);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	rc = emit_event(&e, &ev);
	if (rc >= 0) {
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
		rc = emit_event(&e, &ev);
	}
	if (rc >= 0)
		rc = emit_node(&e, v, 0);
	if (rc >= 0) {
		yaml_document_end_event_initialize(&ev, 1);
		rc = emit_event(&e, &ev);
	}
	if (rc >= 0) {
		yaml_stream_end_event_initialize(&ev);
		rc = emit_event(&e, &ev);
	}
	yaml_emitter_delete(&e);
	if (rc < 0) {
		out->len = start;
		out->data[start] = '\0';
	}
	return rc;
}
