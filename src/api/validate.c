/*
 * validate.c - the entry point of server-side validation (gt_validate), the
 * table of kinds it knows, and the error collection every validator writes
 * into: one row per kind, one helper per Kubernetes field error type
 * (Required, Invalid, NotSupported, Duplicate, Forbidden, TooLong,
 * NotFound), with the message bodies of apimachinery's field.Error.
 *
 * See validate_int.h for how the two passes (decode, then semantic
 * validation) fit together.
 */
#include "api/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/validate_int.h"

/* ---- the kinds ---- */

struct kind_row {
	const char *group;
	const char *kind;   /* NULL: every kind of the group */
	enum gt_vld_name name;
	void (*validate)(struct gt_vld *v, const json_t *obj);
	void (*update)(struct gt_vld *v, const json_t *obj, const json_t *old);
};

static const struct kind_row kinds[] = {
	{ "", "Pod", GT_NAME_SUBDOMAIN, gt_vld_pod, gt_vld_pod_update },
	{ "", "Service", GT_NAME_DNS1035, gt_vld_service, gt_vld_service_update },
	{ "", "Namespace", GT_NAME_LABEL, gt_vld_namespace, NULL },
	{ "", "ConfigMap", GT_NAME_SUBDOMAIN, gt_vld_configmap, gt_vld_configmap_update },
	{ "", "Secret", GT_NAME_SUBDOMAIN, gt_vld_secret, gt_vld_secret_update },
	{ "", "PersistentVolumeClaim", GT_NAME_SUBDOMAIN, gt_vld_pvc, gt_vld_pvc_update },
	{ "", "Node", GT_NAME_SUBDOMAIN, gt_vld_node, NULL },
	{ "", "Event", GT_NAME_SUBDOMAIN, gt_vld_event, NULL },
	{ "", "ServiceAccount", GT_NAME_SUBDOMAIN, NULL, NULL },
	{ "apps", "Deployment", GT_NAME_SUBDOMAIN, gt_vld_deployment, gt_vld_selector_update },
	{ "apps", "ReplicaSet", GT_NAME_SUBDOMAIN, gt_vld_replicaset, gt_vld_selector_update },
	{ "apps", "StatefulSet", GT_NAME_SUBDOMAIN, gt_vld_statefulset, gt_vld_statefulset_update },
	{ "apps", "DaemonSet", GT_NAME_SUBDOMAIN, gt_vld_daemonset, gt_vld_selector_update },
	{ "batch", "Job", GT_NAME_SUBDOMAIN, gt_vld_job, gt_vld_job_update },
	{ "batch", "CronJob", GT_NAME_SUBDOMAIN, gt_vld_cronjob, NULL },
	{ "coordination.k8s.io", "Lease", GT_NAME_SUBDOMAIN, gt_vld_lease, NULL },
	{ "apiextensions.k8s.io", "CustomResourceDefinition", GT_NAME_SUBDOMAIN, gt_vld_crd,
	  gt_vld_crd_update },
	{ "autoscaling", "Scale", GT_NAME_NONE, gt_vld_scale, NULL },
	{ "kubeflow.org", "PyTorchJob", GT_NAME_DNS1035, gt_vld_pytorchjob, NULL },
	{ "kubeflow.org", "MPIJob", GT_NAME_DNS1035, gt_vld_mpijob, NULL },
	{ "autoscaling", "HorizontalPodAutoscaler", GT_NAME_SEGMENT, gt_vld_hpa, NULL },
	{ "policy", "PodDisruptionBudget", GT_NAME_SUBDOMAIN, gt_vld_pdb, NULL },
	{ "policy", "Eviction", GT_NAME_NONE, NULL, NULL },
	/* RBAC names are path segments ("system:controller:x" is fine). */
	{ "rbac.authorization.k8s.io", NULL, GT_NAME_SEGMENT, NULL, NULL },
};

static const struct kind_row *find_row(const struct gt_resource *r)
{
	const char *group = r->group ? r->group : "";

	if (r->custom || !r->kind)
		return NULL;
	for (size_t i = 0; i < GT_ARRAY_SIZE(kinds); i++)
		if (!strcmp(kinds[i].group, group) &&
		    (!kinds[i].kind || !strcmp(kinds[i].kind, r->kind)))
			return &kinds[i];
	return NULL;
}

/* ---- UTF-8 safe copying (messages end up in JSON Status objects) ---- */

/* Copies s into out (n bytes), cutting at a UTF-8 character boundary. */
static void copy_cut(char *out, size_t n, const char *s)
{
	size_t len = strlen(s);

	if (len >= n) {
		len = n - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

/* ---- error collection ---- */

void gt_vld_add(struct gt_vld *v, const char *field, const char *reason, const char *body)
{
	char *line = xasprintf("%s: %s", field, body);
	char f[sizeof(((struct gt_err_cause *)0)->field)];
	char m[sizeof(((struct gt_err_cause *)0)->message)];

	/*
	 * The message holds 1 KiB and the causes 16: past a few hundred errors
	 * (a huge body of broken items) stop collecting, so the de-duplication
	 * below stays cheap.
	 */
	if (v->nerrs >= GT_VLD_MAX_ERRS) {
		free(line);
		return;
	}
	/* apimachinery's ToAggregate drops repeated messages. */
	for (size_t i = 0; i < v->nerrs; i++) {
		if (!strcmp(v->errs[i], line)) {
			free(line);
			return;
		}
	}
	gt_grow((void **)&v->errs, &v->cap, v->nerrs + 1, sizeof(*v->errs));
	v->errs[v->nerrs++] = line;
	copy_cut(f, sizeof(f), field);
	copy_cut(m, sizeof(m), body);
	gt_err_cause(v->err, f, reason, "%s", m);
}

static void add_fmt(struct gt_vld *v, const char *field, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_fmt(struct gt_vld *v, const char *field, const char *reason, const char *fmt, ...)
{
	va_list ap;
	char *body;

	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		GT_BUG("out of memory");
	va_end(ap);
	gt_vld_add(v, field, reason, body);
	free(body);
}

void gt_vld_required(struct gt_vld *v, const char *field, const char *detail)
{
	if (detail && *detail)
		add_fmt(v, field, "FieldValueRequired", "Required value: %s", detail);
	else
		gt_vld_add(v, field, "FieldValueRequired", "Required value");
}

void gt_vld_invalid(struct gt_vld *v, const char *field, const char *govalue, const char *detail)
{
	if (detail && *detail)
		add_fmt(v, field, "FieldValueInvalid", "Invalid value: %s: %s", govalue, detail);
	else
		add_fmt(v, field, "FieldValueInvalid", "Invalid value: %s", govalue);
}

void gt_vld_invalid_str(struct gt_vld *v, const char *field, const char *value, const char *detail)
{
	char q[GT_VLD_MSG];

	gt_vld_quote(value, q, sizeof(q));
	gt_vld_invalid(v, field, q, detail);
}

void gt_vld_invalid_int(struct gt_vld *v, const char *field, int64_t value, const char *detail)
{
	char n[32];

	snprintf(n, sizeof(n), "%lld", (long long)value);
	gt_vld_invalid(v, field, n, detail);
}

void gt_vld_not_supported(struct gt_vld *v, const char *field, const char *value,
			  const char *const *valid)
{
	struct gt_buf b = GT_BUF_INIT;
	char q[GT_VLD_MSG];

	gt_vld_quote(value ? value : "", q, sizeof(q));
	gt_buf_addf(&b, "Unsupported value: %s", q);
	for (size_t i = 0; valid && valid[i]; i++)
		gt_buf_addf(&b, "%s\"%s\"", i ? ", " : ": supported values: ", valid[i]);
	gt_vld_add(v, field, "FieldValueNotSupported", b.data);
	gt_buf_release(&b);
}

void gt_vld_duplicate(struct gt_vld *v, const char *field, const char *govalue)
{
	add_fmt(v, field, "FieldValueDuplicate", "Duplicate value: %s", govalue);
}

void gt_vld_duplicate_str(struct gt_vld *v, const char *field, const char *value)
{
	char q[GT_VLD_MSG];

	gt_vld_quote(value, q, sizeof(q));
	gt_vld_duplicate(v, field, q);
}

void gt_vld_forbidden(struct gt_vld *v, const char *field, const char *detail)
{
	add_fmt(v, field, "FieldValueForbidden", "Forbidden: %s", detail);
}

void gt_vld_too_long(struct gt_vld *v, const char *field, long max)
{
	add_fmt(v, field, "FieldValueTooLong", "Too long: must have at most %ld bytes", max);
}

void gt_vld_not_found_str(struct gt_vld *v, const char *field, const char *value)
{
	char q[GT_VLD_MSG];

	gt_vld_quote(value, q, sizeof(q));
	add_fmt(v, field, "FieldValueNotFound", "Not found: %s", q);
}

/* ---- Go value formatting ---- */

void gt_vld_quote(const char *s, char *out, size_t n)
{
	struct gt_buf b = GT_BUF_INIT;

	gt_buf_addc(&b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': gt_buf_adds(&b, "\\\""); break;
		case '\\': gt_buf_adds(&b, "\\\\"); break;
		case '\a': gt_buf_adds(&b, "\\a"); break;
		case '\b': gt_buf_adds(&b, "\\b"); break;
		case '\f': gt_buf_adds(&b, "\\f"); break;
		case '\n': gt_buf_adds(&b, "\\n"); break;
		case '\r': gt_buf_adds(&b, "\\r"); break;
		case '\t': gt_buf_adds(&b, "\\t"); break;
		case '\v': gt_buf_adds(&b, "\\v"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				gt_buf_addf(&b, "\\x%02x", *p);
			else
				gt_buf_addc(&b, (char)*p);
		}
		if (b.len > n + 8)
			break;
	}
	gt_buf_addc(&b, '"');
	copy_cut(out, n, b.data);
	gt_buf_release(&b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_gomap(struct gt_buf *b, const json_t *m)
{
	const char **keys;
	const char *k;
	json_t *val;
	size_t n = 0;
	char q[GT_VLD_MSG];

	if (!json_is_object(m)) {
		gt_buf_adds(b, "map[string]string(nil)");
		return;
	}
	keys = xcalloc(json_object_size(m) + 1, sizeof(*keys));
	json_object_foreach((json_t *)m, k, val)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	gt_buf_adds(b, "map[string]string{");
	for (size_t i = 0; i < n; i++) {
		gt_vld_quote(keys[i], q, sizeof(q));
		gt_buf_addf(b, "%s%s:", i ? ", " : "", q);
		val = json_object_get(m, keys[i]);
		gt_vld_quote(json_is_string(val) ? json_string_value(val) : "", q, sizeof(q));
		gt_buf_adds(b, q);
	}
	gt_buf_addc(b, '}');
	free(keys);
}

char *gt_vld_gomap(const json_t *m)
{
	struct gt_buf b = GT_BUF_INIT;

	add_gomap(&b, m);
	return gt_buf_detach(&b, NULL);
}

char *gt_vld_goselector(const json_t *sel)
{
	struct gt_buf b = GT_BUF_INIT;
	const json_t *exprs = gt_vld_get(sel, "matchExpressions");
	char q[GT_VLD_MSG];

	gt_buf_adds(&b, "v1.LabelSelector{MatchLabels:");
	add_gomap(&b, gt_vld_get(sel, "matchLabels"));
	gt_buf_adds(&b, ", MatchExpressions:");
	if (!json_is_array(exprs)) {
		gt_buf_adds(&b, "[]v1.LabelSelectorRequirement(nil)}");
		return gt_buf_detach(&b, NULL);
	}
	gt_buf_adds(&b, "[]v1.LabelSelectorRequirement{");
	for (size_t i = 0; i < json_array_size(exprs); i++) {
		const json_t *e = json_array_get(exprs, i);
		const json_t *vals = gt_vld_get(e, "values");
		const char *s;

		gt_buf_adds(&b, i ? ", v1.LabelSelectorRequirement{Key:" : "v1.LabelSelectorRequirement{Key:");
		s = gt_vld_str(e, "key");
		gt_vld_quote(s ? s : "", q, sizeof(q));
		gt_buf_adds(&b, q);
		s = gt_vld_str(e, "operator");
		gt_vld_quote(s ? s : "", q, sizeof(q));
		gt_buf_addf(&b, ", Operator:%s, Values:", q);
		if (!json_is_array(vals)) {
			gt_buf_adds(&b, "[]string(nil)}");
			continue;
		}
		gt_buf_adds(&b, "[]string{");
		for (size_t j = 0; j < json_array_size(vals); j++) {
			s = json_string_value(json_array_get(vals, j));
			gt_vld_quote(s ? s : "", q, sizeof(q));
			gt_buf_addf(&b, "%s%s", j ? ", " : "", q);
		}
		gt_buf_adds(&b, "}}");
	}
	gt_buf_adds(&b, "}}");
	return gt_buf_detach(&b, NULL);
}

const char *gt_vld_path(char buf[GT_VLD_PATH], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, GT_VLD_PATH, fmt, ap);
	va_end(ap);
	return buf;
}

/* ---- tolerant JSON accessors ---- */

json_t *gt_vld_get(const json_t *obj, const char *key)
{
	json_t *m;

	if (!json_is_object(obj))
		return NULL;
	m = json_object_get(obj, key);
	return json_is_null(m) ? NULL : m;
}

const char *gt_vld_str(const json_t *obj, const char *key)
{
	return json_string_value(gt_vld_get(obj, key));
}

bool gt_vld_has_str(const json_t *obj, const char *key)
{
	const char *s = gt_vld_str(obj, key);

	return s && *s;
}

bool gt_vld_int(const json_t *obj, const char *key, int64_t *out)
{
	json_t *m = gt_vld_get(obj, key);

	if (!json_is_integer(m))
		return false;
	*out = json_integer_value(m);
	return true;
}

bool gt_vld_bool(const json_t *obj, const char *key, bool def)
{
	json_t *m = gt_vld_get(obj, key);

	return json_is_boolean(m) ? json_is_true(m) : def;
}

char *gt_vld_strdup(const json_t *s)
{
	size_t n;
	char *out;

	if (!json_is_string(s))
		return NULL;
	n = json_string_length(s);
	out = xmalloc(n + 1);
	memcpy(out, json_string_value(s), n);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!out[i])
			out[i] = '?';
	return out;
}

size_t gt_vld_len(const json_t *a)
{
	return json_is_array(a) ? json_array_size(a) : 0;
}

/* ---- entry point ---- */

static const char *json_kind_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	default: return "null";
	}
}

static void release(struct gt_vld *v)
{
	for (size_t i = 0; i < v->nerrs; i++)
		free(v->errs[i]);
	free(v->errs);
}

int gt_validate(const struct gt_resource *r, const json_t *obj, const json_t *old,
		struct gt_err *err)
{
	struct gt_vld v = { .create = old == NULL, .err = err };
	const struct kind_row *row;
	const char *kind, *group, *name;
	struct gt_buf b = GT_BUF_INIT;
	struct gt_err derr;
	char msg[sizeof(err->msg)];
	int rc;

	gt_err_clear(err);
	if (!r || !r->kind)
		return gt_err_set(err, -EINVAL, "validation of an unknown kind");
	kind = r->kind;
	group = r->group ? r->group : "";
	if (!obj || !json_is_object(obj))
		return gt_err_set(err, -EINVAL,
				  "%s in version \"%s\" cannot be handled as a %s: json: cannot unmarshal %s into Go value of type %s",
				  kind, r->version ? r->version : "", kind,
				  obj ? json_kind_name(obj) : "null", kind);
	gt_err_clear(&derr);
	rc = gt_vld_decode(obj, r->custom ? NULL : gt_vld_schema(group, kind), &derr);
	if (rc < 0) {
		copy_cut(msg, sizeof(msg) - 128, derr.msg);
		return gt_err_set(err, rc, "%s in version \"%s\" cannot be handled as a %s: %s", kind,
				  r->version ? r->version : "", kind, msg);
	}

	row = find_row(r);
	/* Reviews, Scale and other unstored kinds have no name to check. */
	if (r->verbs != GT_VERBS_CREATE_ONLY && !(row && row->name == GT_NAME_NONE))
		gt_vld_meta(&v, gt_vld_get(obj, "metadata"), "metadata",
			    row ? row->name : GT_NAME_SUBDOMAIN);
	if (row && row->validate)
		row->validate(&v, obj);
	if (old && json_is_object(old) && row && row->update)
		row->update(&v, obj, old);
	if (!v.nerrs) {
		release(&v);
		return 0;
	}

	name = json_string_value(gt_json_path(obj, "metadata.name"));
	gt_buf_addf(&b, "%s%s%s \"%s\" is invalid: ", kind, *group ? "." : "", group,
		    name ? name : "");
	if (v.nerrs > 1)
		gt_buf_addc(&b, '[');
	for (size_t i = 0; i < v.nerrs; i++)
		gt_buf_addf(&b, "%s%s", i ? ", " : "", v.errs[i]);
	if (v.nerrs > 1)
		gt_buf_addc(&b, ']');
	copy_cut(msg, sizeof(msg), b.data);
	gt_buf_release(&b);
	release(&v);
	if (err) {
		/* keep the causes gt_vld_add() collected */
		err->code = -EBADMSG;
		memcpy(err->msg, msg, sizeof(err->msg));
	}
	return -EBADMSG;
}
