/*
 * request.c - turning an HTTP request into what the handlers work on: the
 * resource route parsed from the URL, the body decoded from JSON, YAML or
 * Kubernetes protobuf, and the response flavour the client asked for.
 */
#include <string.h>
#include <strings.h>

#include "apiserver/internal.h"
#include "codec/protobuf.h"
#include "codec/yaml.h"

static size_t split(const char *path, char segs[][254], size_t max, bool *toolong)
{
	size_t n = 0;
	const char *p = path;

	*toolong = false;
	while (*p) {
		const char *e;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		len = e ? (size_t)(e - p) : strlen(p);
		if (n == max || len >= 254) {
			*toolong = true;
			return n;
		}
		memcpy(segs[n], p, len);
		segs[n][len] = '\0';
		n++;
		p += len;
	}
	return n;
}

static bool valid_segment(const char *s)
{
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '\\')
			return false;
	return true;
}

int gt_route_parse(const char *path, struct route *rt, struct gt_err *err)
{
	char segs[10][254];
	bool toolong;
	size_t n = split(path, segs, 10, &toolong), i;
	const char *plural;

	memset(rt, 0, sizeof(*rt));
	if (toolong)
		return gt_err_set(err, -ENOENT, "the server could not find the requested resource");
	for (i = 0; i < n; i++)
		if (!valid_segment(segs[i]))
			return gt_err_set(err, -ENOENT, "the server could not find the requested resource");
	if (n >= 2 && !strcmp(segs[0], "api")) {
		snprintf(rt->version, sizeof(rt->version), "%s", segs[1]);
		i = 2;
	} else if (n >= 3 && !strcmp(segs[0], "apis")) {
		snprintf(rt->group, sizeof(rt->group), "%s", segs[1]);
		snprintf(rt->version, sizeof(rt->version), "%s", segs[2]);
		i = 3;
	} else {
		return gt_err_set(err, -ENOENT, "the server could not find the requested resource");
	}
	n -= i;
	if (n == 0)
		return gt_err_set(err, -ENOENT, "the server could not find the requested resource");
	if (!strcmp(segs[i], "namespaces") && n >= 3 &&
	    !(n == 3 && !rt->group[0] && (!strcmp(segs[i + 2], "status") ||
					  !strcmp(segs[i + 2], "finalize")))) {
		rt->has_ns = true;
		snprintf(rt->ns, sizeof(rt->ns), "%s", segs[i + 1]);
		i += 2;
		n -= 2;
	}
	plural = segs[i];
	if (n > 3)
		return gt_err_set(err, -ENOENT, "the server could not find the requested resource");
	if (n >= 2) {
		rt->has_name = true;
		snprintf(rt->name, sizeof(rt->name), "%s", segs[i + 1]);
	}
	if (n == 3)
		snprintf(rt->sub, sizeof(rt->sub), "%s", segs[i + 2]);
	rt->res = gt_registry_find(rt->group, rt->version, plural);
	if (!rt->res)
		return gt_err_set(err, -ENOENT, "the server could not find the requested resource");
	if (rt->has_ns && !rt->res->namespaced) {
		gt_route_release(rt);
		return gt_err_set(err, -ENOENT, "the server could not find the requested resource");
	}
	if (rt->res->namespaced && rt->has_name && !rt->has_ns) {
		gt_route_release(rt);
		return gt_err_set(err, -ENOENT, "the server could not find the requested resource");
	}
	return 0;
}

void gt_route_release(struct route *rt)
{
	gt_resource_unref(rt->res);
	rt->res = NULL;
}

static bool ctype_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	return !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int gt_request_body(struct gt_http_req *req, json_t **out, struct gt_err *err)
{
	const char *ct = gt_http_header(req, "Content-Type");
	size_t len;
	const char *body = gt_http_body(req, &len);

	if (len == 0)
		return gt_err_set(err, -EINVAL, "the request body is empty");
	if (ctype_is(ct, "application/vnd.kubernetes.protobuf"))
		return gt_pb_to_json((const uint8_t *)body, len, out, err);
	if (ctype_is(ct, "application/yaml") || ctype_is(ct, "application/apply-patch+yaml")) {
		json_t *docs;
		int r = gt_yaml_to_json(body, len, &docs, err);

		if (r < 0)
			return r;
		if (json_array_size(docs) != 1) {
			json_decref(docs);
			return gt_err_set(err, -EINVAL, "expected exactly one YAML document");
		}
		*out = json_incref(json_array_get(docs, 0));
		json_decref(docs);
		return 0;
	}
	if (ct && *ct && !ctype_is(ct, "application/json") && !ctype_is(ct, "*/*") &&
	    !ctype_is(ct, "application/merge-patch+json") &&
	    !ctype_is(ct, "application/strategic-merge-patch+json") &&
	    !ctype_is(ct, "application/json-patch+json") && !ctype_is(ct, "text/plain"))
		return gt_err_set(err, -EPROTONOSUPPORT,
				  "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf");
	{
		const char *fv = gt_http_query(req, "fieldValidation");

		if (fv && !strcmp(fv, "Strict")) {
			int r = gt_json_parse(body, len, out, err);

			if (r < 0 && err && strstr(err->msg, "duplicate object key")) {
				const char *k = strstr(err->msg, "duplicate object key");

				return gt_err_set(err, -EINVAL, "strict decoding error: duplicate field%s",
						  k + strlen("duplicate object key"));
			}
			return r;
		}
	}
	return gt_json_parse_lenient(body, len, out, err);
}

int gt_field_validation(struct gt_http_req *req, const struct gt_resource *r,
			json_t *obj, struct gt_err *err)
{
	const char *fv = gt_http_query(req, "fieldValidation");
	char av[160];
	json_t *unknown, *p;
	size_t i;

	if (fv && *fv && strcmp(fv, "Strict") && strcmp(fv, "Warn") && strcmp(fv, "Ignore"))
		return gt_err_set(err, -EINVAL,
				  "fieldValidation: Unsupported value: \"%s\": supported values: \"Ignore\", \"Strict\", \"Warn\"",
				  fv);
	if (r->custom || !json_is_object(obj))
		return 0;
	gt_resource_api_version(r, av, sizeof(av));
	/* Unknown fields are dropped (as decoding into Go types does) unless
	 * Strict rejects them. */
	unknown = gt_pb_unknown_fields(av, r->kind, obj, !(fv && !strcmp(fv, "Strict")));
	if (fv && !strcmp(fv, "Ignore"))
		json_array_clear(unknown);
	if (!json_array_size(unknown)) {
		json_decref(unknown);
		return 0;
	}
	if (fv && !strcmp(fv, "Strict")) {
		struct gt_buf b = GT_BUF_INIT;

		gt_buf_init(&b);
		gt_buf_adds(&b, "strict decoding error: ");
		json_array_foreach(unknown, i, p)
			gt_buf_addf(&b, "%sunknown field \"%s\"", i ? ", " : "", json_string_value(p));
		gt_err_set(err, -EINVAL, "%s", b.data);
		gt_buf_release(&b);
		json_decref(unknown);
		return -EINVAL;
	}
	json_array_foreach(unknown, i, p) {
		char *w = xasprintf("299 - \"unknown field \\\"%s\\\"\"", json_string_value(p));

		gt_http_add_header(req, "Warning", w);
		free(w);
	}
	json_decref(unknown);
	return 0;
}

bool gt_wants_table(struct gt_http_req *req)
{
	const char *a = gt_http_header(req, "Accept");

	return a && strstr(a, "as=Table") != NULL;
}
