/*
 * validate_meta.c - the syntax checks of apimachinery's util/validation
 * (DNS labels and subdomains, qualified names, label values, config keys,
 * environment variable and port names), ObjectMeta validation, label
 * selectors (validation and matching), and small shared checks
 * (non-negative integers, immutable fields).
 *
 * Messages are Kubernetes' own, including its quirks (the double space of
 * RegexError's "(e.g. 'my-name',  or '123-abc', ...)").
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/validate_int.h"

#define DNS1123_LABEL_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS1123_SUBDOMAIN_FMT DNS1123_LABEL_FMT "(\\." DNS1123_LABEL_FMT ")*"
#define DNS1035_LABEL_FMT "[a-z]([-a-z0-9]*[a-z0-9])?"
#define QNAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_MSG "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

static void msg_add(struct gt_vld_msgs *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void msg_add(struct gt_vld_msgs *out, const char *fmt, ...)
{
	va_list ap;

	if (out->n >= (int)GT_ARRAY_SIZE(out->m))
		return;
	va_start(ap, fmt);
	vsnprintf(out->m[out->n++], GT_VLD_MSG, fmt, ap);
	va_end(ap);
}

/* apimachinery's RegexError(msg, fmt, examples...), with an optional prefix. */
static void regex_error(struct gt_vld_msgs *out, const char *prefix, const char *msg,
			const char *fmt, const char *const *ex)
{
	char buf[GT_VLD_MSG];
	size_t o;

	o = (size_t)snprintf(buf, sizeof(buf), "%s%s (e.g. ", prefix, msg);
	for (size_t i = 0; ex[i] && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s'%s', ", i ? " or " : "", ex[i]);
	if (o < sizeof(buf))
		snprintf(buf + o, sizeof(buf) - o, "regex used for validation is '%s')", fmt);
	msg_add(out, "%s", buf);
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ over s[0..n) */
static bool match_label(const char *s, size_t n)
{
	if (!n || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool match_subdomain(const char *s)
{
	const char *p = s;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (!match_label(p, n))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/* ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$ over s[0..n) */
static bool match_qname(const char *s, size_t n)
{
	if (!n || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

void gt_vld_is_dns1123_label(const char *s, struct gt_vld_msgs *out)
{
	static const char *const ex[] = { "my-name", "123-abc", NULL };

	if (strlen(s) > 63)
		msg_add(out, "must be no more than 63 characters");
	if (!match_label(s, strlen(s))) {
		if (match_subdomain(s))
			msg_add(out, "must not contain dots");
		else
			regex_error(out, "", "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
				    DNS1123_LABEL_FMT, ex);
	}
}

void gt_vld_is_dns1123_subdomain(const char *s, struct gt_vld_msgs *out)
{
	static const char *const ex[] = { "example.com", NULL };

	if (strlen(s) > 253)
		msg_add(out, "must be no more than 253 characters");
	if (!match_subdomain(s))
		regex_error(out, "", "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
			    DNS1123_SUBDOMAIN_FMT, ex);
}

void gt_vld_is_dns1035_label(const char *s, struct gt_vld_msgs *out)
{
	static const char *const ex[] = { "my-name", "abc-123", NULL };

	if (strlen(s) > 63)
		msg_add(out, "must be no more than 63 characters");
	if (!match_label(s, strlen(s)) || !(s[0] >= 'a' && s[0] <= 'z'))
		regex_error(out, "", "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
			    DNS1035_LABEL_FMT, ex);
}

void gt_vld_is_qualified_name(const char *s, struct gt_vld_msgs *out)
{
	static const char *const ex[] = { "MyName", "my.name", "123-abc", NULL };
	const char *slash = strchr(s, '/');
	const char *name = s;

	if (slash && strchr(slash + 1, '/')) {
		struct gt_vld_msgs tmp = { 0 };

		regex_error(&tmp, "a valid label key ", QNAME_MSG, QNAME_FMT, ex);
		msg_add(out, "%s with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
			tmp.m[0]);
		return;
	}
	if (slash) {
		char *prefix = xstrndup(s, (size_t)(slash - s));
		struct gt_vld_msgs pm = { 0 };

		if (!*prefix)
			msg_add(out, "prefix part must be non-empty");
		else
			gt_vld_is_dns1123_subdomain(prefix, &pm);
		for (int i = 0; i < pm.n; i++)
			msg_add(out, "prefix part %s", pm.m[i]);
		free(prefix);
		name = slash + 1;
	}
	if (!*name)
		msg_add(out, "name part must be non-empty");
	else if (strlen(name) > 63)
		msg_add(out, "name part must be no more than 63 characters");
	if (!match_qname(name, strlen(name)))
		regex_error(out, "name part ", QNAME_MSG, QNAME_FMT, ex);
}

void gt_vld_is_label_value(const char *s, struct gt_vld_msgs *out)
{
	static const char *const ex[] = { "MyValue", "my_value", "12345", NULL };

	if (strlen(s) > 63)
		msg_add(out, "must be no more than 63 characters");
	if (*s && !match_qname(s, strlen(s)))
		regex_error(out, "", "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
			    "(" QNAME_FMT ")?", ex);
}

static void chdir_prefix(const char *s, struct gt_vld_msgs *out)
{
	if (!strcmp(s, "."))
		msg_add(out, "must not be '.'");
	else if (!strcmp(s, ".."))
		msg_add(out, "must not be '..'");
	else if (!strncmp(s, "..", 2))
		msg_add(out, "must not start with '..'");
}

void gt_vld_is_config_key(const char *s, struct gt_vld_msgs *out)
{
	static const char *const ex[] = { "key.name", "KEY_NAME", "key-name", NULL };
	bool ok = *s != '\0';

	if (strlen(s) > 253)
		msg_add(out, "must be no more than 253 characters");
	for (const char *p = s; *p; p++)
		if (!is_alnum(*p) && *p != '-' && *p != '_' && *p != '.')
			ok = false;
	if (!ok)
		regex_error(out, "", "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
			    "[-._a-zA-Z0-9]+", ex);
	chdir_prefix(s, out);
}

/*
 * IsRelaxedEnvVarName: the rule since Kubernetes 1.32
 * (RelaxedEnvironmentVariableValidation, on by default).
 */
void gt_vld_is_env_name(const char *s, struct gt_vld_msgs *out)
{
	if (!*s)
		msg_add(out, "environment variable name must be non-empty");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '=') {
			msg_add(out, "a valid environment variable name must consist only of printable ASCII characters other than '='");
			break;
		}
	}
}

void gt_vld_is_port_name(const char *s, struct gt_vld_msgs *out)
{
	size_t n = strlen(s);
	bool charset = n > 0, letter = false;

	if (n > 15)
		msg_add(out, "must be no more than 15 characters");
	for (const char *p = s; *p; p++) {
		if (!is_lower_alnum(*p) && *p != '-')
			charset = false;
		if (*p >= 'a' && *p <= 'z')
			letter = true;
	}
	if (!charset)
		msg_add(out, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
	if (!letter)
		msg_add(out, "must contain at least one letter (a-z)");
	if (strstr(s, "--"))
		msg_add(out, "must not contain consecutive hyphens");
	if (n && (s[0] == '-' || s[n - 1] == '-'))
		msg_add(out, "must not begin or end with a hyphen");
}

void gt_vld_is_path_segment(const char *s, struct gt_vld_msgs *out)
{
	if (!strcmp(s, ".") || !strcmp(s, "..")) {
		msg_add(out, "may not be '%s'", s);
		return;
	}
	if (strchr(s, '/'))
		msg_add(out, "may not contain '/'");
	if (strchr(s, '%'))
		msg_add(out, "may not contain '%%'");
}

void gt_vld_is_percent(const char *s, struct gt_vld_msgs *out)
{
	static const char *const ex[] = { "1%", "93%", NULL };
	size_t n = strlen(s), i = 0;

	while (i < n && isdigit((unsigned char)s[i]))
		i++;
	if (i == 0 || i + 1 != n || s[i] != '%')
		regex_error(out, "", "a valid percent string must be a numeric string followed by an ending '%'",
			    "[0-9]+%", ex);
}

void gt_vld_report(struct gt_vld *v, const char *field, const char *s, const struct gt_vld_msgs *m)
{
	for (int i = 0; i < m->n; i++)
		gt_vld_invalid_str(v, field, s, m->m[i]);
}

void gt_vld_join(const struct gt_vld_msgs *m, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < m->n && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s", i ? "," : "", m->m[i]);
}

/* ---- ObjectMeta ---- */

static void check_name(const char *s, enum gt_vld_name how, struct gt_vld_msgs *m)
{
	switch (how) {
	case GT_NAME_LABEL: gt_vld_is_dns1123_label(s, m); break;
	case GT_NAME_DNS1035: gt_vld_is_dns1035_label(s, m); break;
	case GT_NAME_SEGMENT: gt_vld_is_path_segment(s, m); break;
	case GT_NAME_NONE: break;
	default: gt_vld_is_dns1123_subdomain(s, m); break;
	}
}

void gt_vld_labels(struct gt_vld *v, const json_t *labels, const char *path)
{
	const char *k;
	json_t *val;

	if (!json_is_object(labels))
		return;
	json_object_foreach((json_t *)labels, k, val) {
		struct gt_vld_msgs km = { 0 }, vm = { 0 };

		gt_vld_is_qualified_name(k, &km);
		gt_vld_report(v, path, k, &km);
		if (json_is_string(val)) {
			char *s = gt_vld_strdup(val);

			gt_vld_is_label_value(s, &vm);
			gt_vld_report(v, path, s, &vm);
			free(s);
		}
	}
}

static void annotations(struct gt_vld *v, const json_t *ann, const char *path)
{
	size_t total = 0;
	const char *k;
	json_t *val;

	if (!json_is_object(ann))
		return;
	json_object_foreach((json_t *)ann, k, val) {
		struct gt_vld_msgs m = { 0 };
		char *lower = xstrdup(k);

		/* qualified name, except that case does not matter */
		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		gt_vld_is_qualified_name(lower, &m);
		gt_vld_report(v, path, k, &m);
		free(lower);
		total += strlen(k) + (json_is_string(val) ? json_string_length(val) : 0);
	}
	if (total > 256 * 1024)
		gt_vld_too_long(v, path, 256 * 1024);
}

static void owner_refs(struct gt_vld *v, const json_t *refs, const char *path)
{
	char p[GT_VLD_PATH], first[300] = "";

	for (size_t i = 0; i < gt_vld_len(refs); i++) {
		const json_t *ref = json_array_get(refs, i);
		const char *av = gt_vld_str(ref, "apiVersion");
		const char *kind = gt_vld_str(ref, "kind");
		const char *name = gt_vld_str(ref, "name");
		const char *uid = gt_vld_str(ref, "uid");
		const char *slash = av ? strrchr(av, '/') : NULL;
		const char *version = slash ? slash + 1 : av;

		if (!version || !*version || (slash && strchr(av, '/') != slash))
			gt_vld_invalid_str(v, gt_vld_path(p, "%s.apiVersion", path), av ? av : "",
					   "version must not be empty");
		if (!kind || !*kind)
			gt_vld_invalid_str(v, gt_vld_path(p, "%s.kind", path), "", "kind must not be empty");
		if (!name || !*name)
			gt_vld_invalid_str(v, gt_vld_path(p, "%s.name", path), "", "name must not be empty");
		if (!uid || !*uid)
			gt_vld_invalid_str(v, gt_vld_path(p, "%s.uid", path), "", "uid must not be empty");
		if (gt_vld_bool(ref, "controller", false)) {
			char cur[300];

			snprintf(cur, sizeof(cur), "%s/%s", kind ? kind : "", name ? name : "");
			if (*first) {
				char d[700];

				snprintf(d, sizeof(d),
					 "Only one reference can have Controller set to true. Found \"true\" in references for %s and %s",
					 first, cur);
				gt_vld_invalid(v, path, "[]v1.OwnerReference{...}", d);
			} else {
				memcpy(first, cur, sizeof(first));
			}
		}
	}
}

static void finalizers(struct gt_vld *v, const json_t *fins, const char *path)
{
	bool orphan = false, foreground = false;

	for (size_t i = 0; i < gt_vld_len(fins); i++) {
		const char *f = json_string_value(json_array_get(fins, i));
		struct gt_vld_msgs m = { 0 };

		if (!f)
			continue;
		gt_vld_is_qualified_name(f, &m);
		gt_vld_report(v, path, f, &m);
		orphan |= !strcmp(f, "orphan");
		foreground |= !strcmp(f, "foregroundDeletion");
	}
	if (orphan && foreground)
		gt_vld_invalid(v, path, "[]string{...}", "finalizer orphan and foregroundDeletion cannot be both set");
}

void gt_vld_meta(struct gt_vld *v, const json_t *meta, const char *path, enum gt_vld_name how)
{
	char *name = gt_vld_strdup(gt_vld_get(meta, "name"));
	char *gen = gt_vld_strdup(gt_vld_get(meta, "generateName"));
	char *ns = gt_vld_strdup(gt_vld_get(meta, "namespace"));
	char p[GT_VLD_PATH];

	if (gen && *gen) {
		struct gt_vld_msgs m = { 0 };
		char *masked = xstrdup(gen);
		size_t n = strlen(masked);

		/* a generated suffix follows: "web-" is a fine prefix */
		if (n > 1 && masked[n - 1] == '-')
			masked[n - 1] = 'a';
		check_name(masked, how, &m);
		gt_vld_report(v, gt_vld_path(p, "%s.generateName", path), gen, &m);
		free(masked);
	}
	if (!name || !*name) {
		if (!gen || !*gen)
			gt_vld_required(v, gt_vld_path(p, "%s.name", path), "name or generateName is required");
	} else {
		struct gt_vld_msgs m = { 0 };

		check_name(name, how, &m);
		gt_vld_report(v, gt_vld_path(p, "%s.name", path), name, &m);
	}
	if (ns && *ns) {
		struct gt_vld_msgs m = { 0 };

		gt_vld_is_dns1123_label(ns, &m);
		gt_vld_report(v, gt_vld_path(p, "%s.namespace", path), ns, &m);
	}
	free(name);
	free(gen);
	free(ns);
	gt_vld_nonneg(v, meta, "generation", path);
	gt_vld_labels(v, gt_vld_get(meta, "labels"), gt_vld_path(p, "%s.labels", path));
	annotations(v, gt_vld_get(meta, "annotations"), gt_vld_path(p, "%s.annotations", path));
	owner_refs(v, gt_vld_get(meta, "ownerReferences"), gt_vld_path(p, "%s.ownerReferences", path));
	finalizers(v, gt_vld_get(meta, "finalizers"), gt_vld_path(p, "%s.finalizers", path));
}

/* ---- label selectors ---- */

void gt_vld_selector(struct gt_vld *v, const json_t *sel, const char *path)
{
	const json_t *exprs = gt_vld_get(sel, "matchExpressions");
	char p[GT_VLD_PATH];

	if (!sel)
		return;
	gt_vld_labels(v, gt_vld_get(sel, "matchLabels"), gt_vld_path(p, "%s.matchLabels", path));
	for (size_t i = 0; i < gt_vld_len(exprs); i++) {
		const json_t *e = json_array_get(exprs, i);
		const char *op = gt_vld_str(e, "operator");
		const char *key = gt_vld_str(e, "key");
		const json_t *vals = gt_vld_get(e, "values");
		struct gt_vld_msgs m = { 0 };
		char ep[GT_VLD_PATH];

		gt_vld_path(ep, "%s.matchExpressions[%zu]", path, i);
		if (op && (!strcmp(op, "In") || !strcmp(op, "NotIn"))) {
			if (!gt_vld_len(vals))
				gt_vld_required(v, gt_vld_path(p, "%s.values", ep),
						"must be specified when `operator` is 'In' or 'NotIn'");
		} else if (op && (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist"))) {
			if (gt_vld_len(vals))
				gt_vld_forbidden(v, gt_vld_path(p, "%s.values", ep),
						 "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
		} else {
			gt_vld_invalid_str(v, gt_vld_path(p, "%s.operator", ep), op ? op : "",
					   "not a valid selector operator");
		}
		gt_vld_is_qualified_name(key ? key : "", &m);
		gt_vld_report(v, gt_vld_path(p, "%s.key", ep), key ? key : "", &m);
		for (size_t j = 0; j < gt_vld_len(vals); j++) {
			const char *s = json_string_value(json_array_get(vals, j));
			struct gt_vld_msgs vm = { 0 };

			if (!s)
				continue;
			gt_vld_is_label_value(s, &vm);
			gt_vld_report(v, gt_vld_path(p, "%s.values[%zu]", ep, j), s, &vm);
		}
	}
}

bool gt_vld_selector_empty(const json_t *sel)
{
	const json_t *ml = gt_vld_get(sel, "matchLabels");

	return (!json_is_object(ml) || !json_object_size(ml)) &&
	       !gt_vld_len(gt_vld_get(sel, "matchExpressions"));
}

static bool in_values(const json_t *vals, const char *s)
{
	for (size_t i = 0; i < gt_vld_len(vals); i++) {
		const char *x = json_string_value(json_array_get(vals, i));

		if (x && !strcmp(x, s))
			return true;
	}
	return false;
}

int gt_vld_selector_matches(const json_t *sel, const json_t *labels)
{
	const json_t *ml = gt_vld_get(sel, "matchLabels");
	const json_t *exprs = gt_vld_get(sel, "matchExpressions");
	const char *k;
	json_t *val;
	bool match = true;

	if (!json_is_object(sel))
		return 0;
	if (json_is_object(ml)) {
		json_object_foreach((json_t *)ml, k, val) {
			const char *have = gt_vld_str(labels, k);

			if (!json_is_string(val))
				return -1;
			if (!have || strcmp(have, json_string_value(val)))
				match = false;
		}
	}
	for (size_t i = 0; i < gt_vld_len(exprs); i++) {
		const json_t *e = json_array_get(exprs, i);
		const char *op = gt_vld_str(e, "operator");
		const char *key = gt_vld_str(e, "key");
		const json_t *vals = gt_vld_get(e, "values");
		const char *have;

		if (!op || !key)
			return -1;
		have = gt_vld_str(labels, key);
		if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
			bool in;

			if (!gt_vld_len(vals))
				return -1;
			in = have && in_values(vals, have);
			if (!strcmp(op, "In") ? !in : in)
				match = false;
		} else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
			if (gt_vld_len(vals))
				return -1;
			if (!strcmp(op, "Exists") ? !have : !!have)
				match = false;
		} else {
			return -1;
		}
	}
	return match;
}

/* ---- small shared checks ---- */

void gt_vld_nonneg(struct gt_vld *v, const json_t *obj, const char *key, const char *base)
{
	int64_t n;
	char p[GT_VLD_PATH];

	if (gt_vld_int(obj, key, &n) && n < 0)
		gt_vld_invalid_int(v, gt_vld_path(p, "%s%s%s", base, *base ? "." : "", key), n,
				   "must be greater than or equal to 0");
}

void gt_vld_positive(struct gt_vld *v, const json_t *obj, const char *key, const char *base)
{
	int64_t n;
	char p[GT_VLD_PATH];

	if (gt_vld_int(obj, key, &n) && n <= 0)
		gt_vld_invalid_int(v, gt_vld_path(p, "%s%s%s", base, *base ? "." : "", key), n,
				   "must be greater than 0");
}

void gt_vld_immutable(struct gt_vld *v, const json_t *nv, const json_t *ov, const char *path)
{
	char *s;

	if (json_is_null(nv))
		nv = NULL;
	if (json_is_null(ov))
		ov = NULL;
	if (gt_json_equal(nv, ov))
		return;
	if (!nv) {
		gt_vld_invalid(v, path, "null", "field is immutable");
		return;
	}
	if (json_is_string(nv)) {
		gt_vld_invalid_str(v, path, json_string_value(nv), "field is immutable");
		return;
	}
	s = gt_json_dump(nv, NULL);
	if (strlen(s) > 120) {
		size_t cut = 117;

		while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
		memcpy(s + cut, "...", 4);
	}
	gt_vld_invalid(v, path, s, "field is immutable");
	free(s);
}
