/*
 * err.c - struct gt_err helpers and the errno → HTTP/Status.reason table.
 */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gt_err_clear(struct gt_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
	err->reason = NULL;
	err->ncauses = 0;
}

int gt_err_set(struct gt_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int gt_err_prefix(struct gt_err *err, int code, const char *fmt, ...)
{
	char pre[512], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return code;
	if (!err->code)
		err->code = code;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	{
		size_t n = strlen(pre);

		if (n > sizeof(err->msg) - 3)
			n = sizeof(err->msg) - 3;
		memcpy(err->msg, pre, n);
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		snprintf(err->msg + n, sizeof(err->msg) - n, "%.*s", (int)(sizeof(err->msg) - n - 1), old);
	}
	return err->code;
}

void gt_err_cause(struct gt_err *err, const char *field, const char *reason,
		  const char *fmt, ...)
{
	struct gt_err_cause *c;
	va_list ap;

	if (!err || err->ncauses >= GT_ERR_MAX_CAUSES)
		return;
	c = &err->causes[err->ncauses++];
	snprintf(c->field, sizeof(c->field), "%s", field ? field : "");
	snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
}

static const struct {
	int err;
	int http;
	const char *reason;
} table[] = {
	{ ENOENT, 404, "NotFound" },
	{ EEXIST, 409, "AlreadyExists" },
	{ ESTALE, 409, "Conflict" },
	{ EINVAL, 400, "BadRequest" },
	{ EBADMSG, 422, "Invalid" },
	{ ENOKEY, 401, "Unauthorized" },
	{ EACCES, 403, "Forbidden" },
	{ EPERM, 403, "Forbidden" },
	{ EOPNOTSUPP, 405, "MethodNotAllowed" },
	{ EPROTONOSUPPORT, 415, "UnsupportedMediaType" },
	{ E2BIG, 413, "RequestEntityTooLarge" },
	{ EMSGSIZE, 413, "RequestEntityTooLarge" },
	{ ENODATA, 410, "Expired" },
	{ EAGAIN, 429, "TooManyRequests" },
	{ ETIMEDOUT, 504, "Timeout" },
	{ ENOMSG, 406, "NotAcceptable" },
};

int gt_err_http(int code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].err == -code)
			return table[i].http;
	return 500;
}

const char *gt_err_reason(int code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].err == -code)
			return table[i].reason;
	return "InternalError";
}
