/*
 * err.h - the one error convention of Gantry.
 *
 * A fallible function returns int: >= 0 on success, a negative errno on
 * failure.  Its optional last argument, struct gt_err *err, receives a
 * human-readable message and, for validation failures, field-level causes.
 * struct gt_err never allocates: it is a fixed buffer the caller owns
 * (usually on the stack).  Errors are reported once, at the edge (CLI main,
 * HTTP handler), where gt_err_http() maps the errno to an HTTP status and a
 * Kubernetes Status.reason.
 *
 * errno → HTTP / reason table (see gt_err_http):
 *   ENOENT 404 NotFound            EEXIST 409 AlreadyExists
 *   ESTALE 409 Conflict            EINVAL 400 BadRequest
 *   EBADMSG 422 Invalid            ENOKEY 401 Unauthorized
 *   EACCES/EPERM 403 Forbidden     EOPNOTSUPP 405 MethodNotAllowed
 *   EPROTONOSUPPORT 415 UnsupportedMediaType
 *   E2BIG/EMSGSIZE 413 RequestEntityTooLarge
 *   ENODATA 410 Expired            EAGAIN 429 TooManyRequests
 *   ETIMEDOUT 504 Timeout          ENOTACCEPTABLE(ENOMSG) 406 NotAcceptable
 *   anything else 500 InternalError
 */
#ifndef GT_BASE_ERR_H
#define GT_BASE_ERR_H

#include <errno.h>
#include <stddef.h>

#define GT_ERR_MAX_CAUSES 16

struct gt_err_cause {
	char field[160];   /* e.g. "spec.containers[0].image" */
	char reason[40];   /* e.g. "FieldValueRequired" */
	char message[200]; /* e.g. "Required value" */
};

struct gt_err {
	int code;                /* negative errno, 0 when unset */
	char msg[1024];
	const char *reason;      /* optional override of the Status.reason (static string) */
	int ncauses;
	struct gt_err_cause causes[GT_ERR_MAX_CAUSES];
};

/* Clears err (NULL allowed). */
void gt_err_clear(struct gt_err *err);

/*
 * Sets err->code = code (a negative errno) and formats the message.  Returns
 * code so callers can write `return gt_err_set(err, -EINVAL, "bad %s", x);`.
 * err may be NULL (then only code is returned).
 */
int gt_err_set(struct gt_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prefixes context onto an existing message: "ctx: old message".  Returns
 * err->code (or `code` when err is NULL or unset).
 */
int gt_err_prefix(struct gt_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Adds a field-level cause (for 422 Invalid).  Silently drops causes past
 * GT_ERR_MAX_CAUSES.  Does not change err->code.
 */
void gt_err_cause(struct gt_err *err, const char *field, const char *reason,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* HTTP status for a negative errno (table above). */
int gt_err_http(int code);

/* Kubernetes Status.reason for a negative errno (static string). */
const char *gt_err_reason(int code);

#endif
