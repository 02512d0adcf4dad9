/*
 * respond.c - writing responses: JSON bodies and Kubernetes Status errors
 * (the one place an error reaches an HTTP client).
 */
#include <stdarg.h>
#include <string.h>

#include "apiserver/internal.h"

void gt_reply_raw(struct gt_http_req *req, int status, char *json, size_t len)
{
	gt_http_reply_take(req, status, "application/json", json, len);
}

void gt_reply_json(struct gt_http_req *req, int status, const json_t *v)
{
	size_t len;
	char *s = gt_json_dump(v, &len);

	gt_reply_raw(req, status, s, len);
}

json_t *gt_status_object(const struct gt_err *err, const struct route *rt)
{
	int code = err->code ? err->code : -EIO;
	json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion",
			       "v1", "metadata", "status", "Failure", "message",
			       err->msg[0] ? err->msg : "internal error", "reason",
			       err->reason ? err->reason : gt_err_reason(code), "code",
			       gt_err_http(code));
	json_t *details = NULL;

	if (!st) /* a message that is not valid UTF-8 */
		st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
			       "metadata", "status", "Failure", "message", "(unprintable error message)",
			       "reason", gt_err_reason(code), "code", gt_err_http(code));

	if (rt && rt->res) {
		details = json_object();
		if (rt->has_name)
			json_object_set_new(details, "name", json_string(rt->name));
		if (rt->res->group[0])
			json_object_set_new(details, "group", json_string(rt->res->group));
		json_object_set_new(details, "kind", json_string(code == -EBADMSG ? rt->res->kind :
								 rt->res->plural));
	}
	if (err->ncauses) {
		json_t *causes = json_array();

		if (!details)
			details = json_object();
		for (int i = 0; i < err->ncauses; i++)
			json_array_append_new(causes, json_pack("{s:s,s:s,s:s}", "reason",
								err->causes[i].reason, "message",
								err->causes[i].message, "field",
								err->causes[i].field));
		json_object_set_new(details, "causes", causes);
	}
	if (details)
		json_object_set_new(st, "details", details);
	return st;
}

void gt_reply_error(struct gt_http_req *req, const struct gt_err *err, const struct route *rt)
{
	json_t *st = gt_status_object(err, rt);
	int64_t code = 500;

	gt_json_int(st, "code", &code);
	gt_reply_json(req, (int)code, st);
	json_decref(st);
}

void gt_reply_errorf(struct gt_http_req *req, int code, const char *fmt, ...)
{
	struct gt_err err;
	va_list ap;

	gt_err_clear(&err);
	err.code = code;
	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
	va_end(ap);
	gt_reply_error(req, &err, NULL);
}
