/*
 * protobuf.c - table-driven transcoder from Kubernetes protobuf bodies to
 * JSON (see protobuf.h for the semantics).
 *
 * The decoder never trusts a length: every read goes through struct rd,
 * which checks against the end of the enclosing field, and nested messages
 * are limited to GT_PB_MAX_DEPTH.  Errors name the JSON path being decoded
 * ("spec.template.spec.containers[0].ports[1].containerPort").  Values are
 * built directly as jansson trees; "zero" values of singular non-pointer
 * fields are dropped because gogo marshals them unconditionally.
 */
#include "codec/protobuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/util.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

struct rd {
	const uint8_t *p, *end;
};

struct dec {
	struct gt_err *err;
	int depth;
	size_t plen;
	char path[512];
};

static const uint8_t magic[4] = { 'k', '8', 's', 0 };
/* An empty payload that is never NULL (json_stringn(NULL, 0) fails). */
static const uint8_t nothing[1];
#define RD_EMPTY { nothing, nothing }

/* ---- paths and errors ---------------------------------------------------- */

static size_t path_push(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(struct dec *d, const char *fmt, ...)
{
	size_t old = d->plen;
	va_list ap;
	int n;

	if (old < sizeof(d->path) - 1) {
		va_start(ap, fmt);
		n = vsnprintf(d->path + old, sizeof(d->path) - old, fmt, ap);
		va_end(ap);
		if (n > 0)
			d->plen = old + (size_t)n < sizeof(d->path) ? old + (size_t)n : sizeof(d->path) - 1;
	}
	return old;
}

/* Appends a member name, with a dot unless it starts the path. */
static size_t path_name(struct dec *d, const char *name)
{
	return path_push(d, "%s%s", d->plen ? "." : "", name);
}

static void path_pop(struct dec *d, size_t old)
{
	d->plen = old;
	d->path[old] = '\0';
}

static int fail(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct dec *d, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gt_err_set(d->err, -EINVAL, "protobuf: %s%s%s", d->path, d->plen ? ": " : "", msg);
	return -EINVAL;
}

/* ---- wire reading -------------------------------------------------------- */

static int rd_varint(struct dec *d, struct rd *r, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (r->p >= r->end)
			return fail(d, "truncated varint");
		b = *r->p++;
		if (shift == 63 && b > 1)
			return fail(d, "varint overflows 64 bits");
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return fail(d, "varint longer than 10 bytes");
}

static int rd_fixed(struct dec *d, struct rd *r, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if ((size_t)(r->end - r->p) < n)
		return fail(d, "truncated fixed%zu value", n * 8);
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	*out = v;
	return 0;
}

/* Reads a length-delimited payload into *sub. */
static int rd_len(struct dec *d, struct rd *r, struct rd *sub)
{
	uint64_t n = 0;
	int rc = rd_varint(d, r, &n);

	if (rc < 0)
		return rc;
	if (n > (uint64_t)(r->end - r->p))
		return fail(d, "truncated length-delimited field (%llu bytes declared, %zu left)",
			    (unsigned long long)n, (size_t)(r->end - r->p));
	sub->p = r->p;
	sub->end = r->p + n;
	r->p += n;
	return 0;
}

/* Reads a tag: field number and wire type. */
static int rd_tag(struct dec *d, struct rd *r, uint32_t *num, int *wt)
{
	uint64_t t = 0;
	int rc = rd_varint(d, r, &t);

	if (rc < 0)
		return rc;
	*wt = (int)(t & 7);
	if ((t >> 3) == 0 || (t >> 3) > 0x1fffffff)
		return fail(d, "invalid field number %llu", (unsigned long long)(t >> 3));
	*num = (uint32_t)(t >> 3);
	return 0;
}

static int skip(struct dec *d, struct rd *r, uint32_t num, int wt)
{
	struct rd sub;
	uint64_t v = 0;

	switch (wt) {
	case WT_VARINT:
		return rd_varint(d, r, &v);
	case WT_I64:
		return rd_fixed(d, r, 8, &v);
	case WT_I32:
		return rd_fixed(d, r, 4, &v);
	case WT_LEN:
		return rd_len(d, r, &sub);
	default:
		return fail(d, "field %u: unsupported wire type %d", num, wt);
	}
}

static int want_wt(struct dec *d, uint32_t num, int wt, int want)
{
	if (wt != want)
		return fail(d, "field %u: wire type %d, expected %d", num, wt, want);
	return 0;
}

/* ---- values -------------------------------------------------------------- */

static int decode_fields(struct dec *d, int mi, struct rd *r, json_t *obj);

static int new_string(struct dec *d, const uint8_t *p, size_t n, json_t **out)
{
	*out = json_stringn((const char *)p, n);
	if (!*out)
		return fail(d, "string is not valid UTF-8");
	return 0;
}

static int format_time(struct dec *d, int64_t secs, int64_t nanos, bool micro, json_t **out)
{
	struct tm tm;
	time_t t = (time_t)secs;
	char buf[48];

	/* 0001-01-01T00:00:00Z ... 9999-12-31T23:59:59Z, as Go can format. */
	if (secs < -62135596800LL || secs > 253402300799LL)
		return fail(d, "time %lld seconds is out of range", (long long)secs);
	if (nanos < 0 || nanos > 999999999)
		return fail(d, "time nanos %lld is out of range", (long long)nanos);
	if (!gmtime_r(&t, &tm))
		return fail(d, "time %lld seconds is out of range", (long long)secs);
	if (micro)
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(nanos / 1000));
	else
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
	*out = json_string(buf);
	return 0;
}

/*
 * Messages with a custom JSON form.  Fields: Time {1 seconds, 2 nanos},
 * Quantity {1 string}, IntOrString {1 type, 2 intVal, 3 strVal},
 * RawExtension/FieldsV1 {1 raw}, Verbs/ExtraValue {1 repeated items}.
 */
static int decode_special(struct dec *d, int special, struct rd *r, json_t **out, bool *zero)
{
	int64_t ival[4] = { 0 };
	struct rd sval[4] = { RD_EMPTY, RD_EMPTY, RD_EMPTY, RD_EMPTY };
	json_t *list = NULL;
	uint32_t num = 0;
	int wt = 0, rc;

	if (special == GT_PB_STRLIST)
		list = json_array();
	while (r->p < r->end) {
		uint64_t v = 0;
		struct rd sub;

		if ((rc = rd_tag(d, r, &num, &wt)) < 0)
			goto out;
		if (num > 3 || (special == GT_PB_STRLIST && num != 1)) {
			if ((rc = skip(d, r, num, wt)) < 0)
				goto out;
			continue;
		}
		/* strings/bytes: Quantity 1, IntOrString 3, Raw 1, list 1 */
		if ((special == GT_PB_QUANTITY || special == GT_PB_RAW || special == GT_PB_STRLIST) ||
		    (special == GT_PB_INTORSTRING && num == 3)) {
			if ((rc = want_wt(d, num, wt, WT_LEN)) < 0 || (rc = rd_len(d, r, &sub)) < 0)
				goto out;
			if (list) {
				json_t *s;

				if ((rc = new_string(d, sub.p, (size_t)(sub.end - sub.p), &s)) < 0)
					goto out;
				json_array_append_new(list, s);
			} else {
				sval[num] = sub;
			}
			continue;
		}
		if ((rc = want_wt(d, num, wt, WT_VARINT)) < 0 || (rc = rd_varint(d, r, &v)) < 0)
			goto out;
		ival[num] = (int64_t)v;
		if (num == 2) /* nanos, intVal: int32 */
			ival[num] = (int32_t)(uint32_t)v;
	}

	switch (special) {
	case GT_PB_TIME:
	case GT_PB_MICROTIME:
		*zero = !ival[1] && !ival[2];
		if (*zero) {
			*out = json_null();
			return 0;
		}
		return format_time(d, ival[1], ival[2], special == GT_PB_MICROTIME, out);
	case GT_PB_QUANTITY:
		*zero = sval[1].p == sval[1].end;
		if (*zero) {
			*out = json_string("0");
			return 0;
		}
		return new_string(d, sval[1].p, (size_t)(sval[1].end - sval[1].p), out);
	case GT_PB_INTORSTRING:
		if (ival[1] == 1) {
			*zero = sval[3].p == sval[3].end;
			return new_string(d, sval[3].p, (size_t)(sval[3].end - sval[3].p), out);
		}
		if (ival[1] != 0)
			return fail(d, "IntOrString type %lld is neither 0 (int) nor 1 (string)",
				    (long long)ival[1]);
		*zero = ival[2] == 0;
		*out = json_integer(ival[2]);
		return 0;
	case GT_PB_RAW: {
		json_error_t je;
		size_t n = (size_t)(sval[1].end - sval[1].p);

		*zero = n == 0;
		if (*zero) {
			*out = json_null();
			return 0;
		}
		*out = json_loadb((const char *)sval[1].p, n, JSON_DECODE_ANY, &je);
		if (!*out)
			return fail(d, "embedded raw object is not JSON (%s)", je.text);
		return 0;
	}
	default: /* GT_PB_STRLIST */
		*zero = json_array_size(list) == 0;
		*out = list;
		return 0;
	}
out:
	json_decref(list);
	return rc;
}

/*
 * Decodes one value of `kind` (for messages, of message index mi) that
 * arrived with wire type wt, into a new reference *out.  *zero tells the
 * caller whether it is the Go zero value ("", 0, false, empty message).
 */
static int decode_value(struct dec *d, uint32_t num, int kind, int mi, int wt, struct rd *r,
			json_t **out, bool *zero)
{
	struct rd sub = RD_EMPTY;
	uint64_t v = 0;
	int rc;

	*out = NULL;
	*zero = false;
	switch (kind) {
	case GT_PB_STRING:
	case GT_PB_BYTES:
	case GT_PB_MESSAGE:
		if ((rc = want_wt(d, num, wt, WT_LEN)) < 0 || (rc = rd_len(d, r, &sub)) < 0)
			return rc;
		break;
	case GT_PB_DOUBLE:
		if ((rc = want_wt(d, num, wt, WT_I64)) < 0 || (rc = rd_fixed(d, r, 8, &v)) < 0)
			return rc;
		break;
	case GT_PB_FLOAT:
		if ((rc = want_wt(d, num, wt, WT_I32)) < 0 || (rc = rd_fixed(d, r, 4, &v)) < 0)
			return rc;
		break;
	default:
		if ((rc = want_wt(d, num, wt, WT_VARINT)) < 0 || (rc = rd_varint(d, r, &v)) < 0)
			return rc;
		break;
	}

	switch (kind) {
	case GT_PB_STRING:
		*zero = sub.p == sub.end;
		return new_string(d, sub.p, (size_t)(sub.end - sub.p), out);
	case GT_PB_BYTES: {
		char *b64 = gt_base64_encode(sub.p, (size_t)(sub.end - sub.p));

		*zero = sub.p == sub.end;
		*out = json_string(b64);
		free(b64);
		return 0;
	}
	case GT_PB_BOOL:
		*zero = v == 0;
		*out = json_boolean(v != 0);
		return 0;
	case GT_PB_INT32:
		*zero = (int32_t)(uint32_t)v == 0;
		*out = json_integer((int32_t)(uint32_t)v);
		return 0;
	case GT_PB_UINT32:
		*zero = (uint32_t)v == 0;
		*out = json_integer((uint32_t)v);
		return 0;
	case GT_PB_INT64:
		*zero = v == 0;
		*out = json_integer((json_int_t)(int64_t)v);
		return 0;
	case GT_PB_UINT64:
		if (v > INT64_MAX)
			return fail(d, "uint64 %llu does not fit JSON integers", (unsigned long long)v);
		*zero = v == 0;
		*out = json_integer((json_int_t)v);
		return 0;
	case GT_PB_DOUBLE:
	case GT_PB_FLOAT: {
		double f;

		if (kind == GT_PB_DOUBLE) {
			memcpy(&f, &v, sizeof(f));
		} else {
			uint32_t u = (uint32_t)v;
			float ff;

			memcpy(&ff, &u, sizeof(ff));
			f = ff;
		}
		if (!isfinite(f))
			return fail(d, "non-finite number");
		*zero = f == 0;
		*out = json_real(f);
		return 0;
	}
	default:
		break;
	}

	/* GT_PB_MESSAGE */
	if (d->depth >= GT_PB_MAX_DEPTH)
		return fail(d, "nested deeper than %d messages", GT_PB_MAX_DEPTH);
	d->depth++;
	if (gt_pb_messages[mi].special != GT_PB_PLAIN) {
		rc = decode_special(d, gt_pb_messages[mi].special, &sub, out, zero);
	} else {
		*out = json_object();
		rc = decode_fields(d, mi, &sub, *out);
		*zero = json_object_size(*out) == 0;
	}
	d->depth--;
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* One map entry {1 key, 2 value} into the JSON object m. */
static int decode_map_entry(struct dec *d, const struct gt_pb_field *f, struct rd *r, json_t *m)
{
	struct rd key = RD_EMPTY, val = RD_EMPTY;
	int val_wt = -1;
	json_t *jv = NULL;
	bool zero;
	uint32_t num = 0;
	int wt = 0, rc;
	size_t old;

	while (r->p < r->end) {
		if ((rc = rd_tag(d, r, &num, &wt)) < 0)
			return rc;
		if (num == 1) {
			if ((rc = want_wt(d, num, wt, WT_LEN)) < 0 || (rc = rd_len(d, r, &key)) < 0)
				return rc;
		} else if (num == 2) {
			/* Remember where the value lies; decode once the key is known. */
			const uint8_t *start = r->p;

			if ((rc = skip(d, r, num, wt)) < 0)
				return rc;
			val.p = start;
			val.end = r->p;
			val_wt = wt;
		} else if ((rc = skip(d, r, num, wt)) < 0) {
			return rc;
		}
	}
	if (memchr(key.p, '\0', (size_t)(key.end - key.p)))
		return fail(d, "map key contains NUL");
	old = path_push(d, "[%.*s]", (int)(key.end - key.p > 64 ? 64 : key.end - key.p),
			(const char *)key.p);
	if (val_wt < 0) {
		/* absent value: decode the type's zero value from zero bytes
		 * (one 0 byte is both varint 0 and length 0) */
		static const uint8_t zeros[8];
		int k = f->kind;

		val_wt = (k == GT_PB_STRING || k == GT_PB_BYTES || k == GT_PB_MESSAGE) ? WT_LEN :
			 k == GT_PB_DOUBLE ? WT_I64 : k == GT_PB_FLOAT ? WT_I32 : WT_VARINT;
		val.p = zeros;
		val.end = zeros + (val_wt == WT_I64 ? 8 : val_wt == WT_I32 ? 4 : 1);
	}
	rc = decode_value(d, 2, f->kind, f->msg, val_wt, &val, &jv, &zero);
	if (rc >= 0 && json_object_setn_new(m, (const char *)key.p, (size_t)(key.end - key.p), jv) < 0)
		rc = fail(d, "map key is not valid UTF-8");
	path_pop(d, old);
	return rc;
}

/* Appends a repeated value (or each packed value) to the array arr. */
static int decode_repeated(struct dec *d, const struct gt_pb_field *f, int wt, struct rd *r,
			   json_t *arr)
{
	bool packed = wt == WT_LEN && f->kind != GT_PB_STRING && f->kind != GT_PB_BYTES &&
		      f->kind != GT_PB_MESSAGE;
	struct rd sub;
	json_t *v;
	bool zero;
	int rc;
	size_t old;

	if (!packed) {
		old = path_push(d, "[%zu]", json_array_size(arr));
		rc = decode_value(d, f->number, f->kind, f->msg, wt, r, &v, &zero);
		path_pop(d, old);
		if (rc < 0)
			return rc;
		json_array_append_new(arr, v);
		return 0;
	}
	if ((rc = rd_len(d, r, &sub)) < 0)
		return rc;
	wt = f->kind == GT_PB_DOUBLE ? WT_I64 : f->kind == GT_PB_FLOAT ? WT_I32 : WT_VARINT;
	while (sub.p < sub.end) {
		old = path_push(d, "[%zu]", json_array_size(arr));
		rc = decode_value(d, f->number, f->kind, f->msg, wt, &sub, &v, &zero);
		path_pop(d, old);
		if (rc < 0)
			return rc;
		json_array_append_new(arr, v);
	}
	return 0;
}

static const struct gt_pb_field *find_field(const struct gt_pb_message *m, uint32_t num)
{
	size_t lo = 0, hi = m->nfields;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->fields[mid].number == num)
			return &m->fields[mid];
		if (m->fields[mid].number < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Member name of f in obj, created as the given JSON type when missing. */
static json_t *container(json_t *obj, const char *name, bool array)
{
	json_t *c = json_object_get(obj, name);

	if (array ? json_is_array(c) : json_is_object(c))
		return c;
	c = array ? json_array() : json_object();
	json_object_set_new(obj, name, c);
	return c;
}

static int decode_field(struct dec *d, const struct gt_pb_field *f, int wt, struct rd *r,
			json_t *obj)
{
	struct rd sub;
	json_t *v;
	bool zero;
	int rc;

	if (f->flags & GT_PB_MAP) {
		if ((rc = want_wt(d, f->number, wt, WT_LEN)) < 0 || (rc = rd_len(d, r, &sub)) < 0)
			return rc;
		if (d->depth >= GT_PB_MAX_DEPTH)
			return fail(d, "nested deeper than %d messages", GT_PB_MAX_DEPTH);
		d->depth++;
		rc = decode_map_entry(d, f, &sub, container(obj, f->json, false));
		d->depth--;
		return rc;
	}
	if (f->flags & GT_PB_REPEATED)
		return decode_repeated(d, f, wt, r, container(obj, f->json, true));
	if (f->flags & GT_PB_INLINE) {
		/* An embedded Go struct: its members belong to this object. */
		if ((rc = want_wt(d, f->number, wt, WT_LEN)) < 0 || (rc = rd_len(d, r, &sub)) < 0)
			return rc;
		if (d->depth >= GT_PB_MAX_DEPTH)
			return fail(d, "nested deeper than %d messages", GT_PB_MAX_DEPTH);
		d->depth++;
		rc = decode_fields(d, f->msg, &sub, obj);
		d->depth--;
		return rc;
	}
	if ((rc = decode_value(d, f->number, f->kind, f->msg, wt, r, &v, &zero)) < 0)
		return rc;
	if (zero && !(f->flags & GT_PB_KEEP)) {
		/* Go's zero value: absent (last occurrence wins, so drop earlier ones). */
		json_decref(v);
		json_object_del(obj, f->json);
		return 0;
	}
	json_object_set_new(obj, f->json, v);
	return 0;
}

static int decode_fields(struct dec *d, int mi, struct rd *r, json_t *obj)
{
	const struct gt_pb_message *m = &gt_pb_messages[mi];

	while (r->p < r->end) {
		const struct gt_pb_field *f;
		uint32_t num = 0;
		int wt = 0, rc;
		size_t old;

		if ((rc = rd_tag(d, r, &num, &wt)) < 0)
			return rc;
		f = find_field(m, num);
		if (!f) {
			if ((rc = skip(d, r, num, wt)) < 0)
				return rc;
			continue;
		}
		old = (f->flags & GT_PB_INLINE) ? d->plen : path_name(d, f->json);
		rc = decode_field(d, f, wt, r, obj);
		path_pop(d, old);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- lookup and entry points --------------------------------------------- */

static int find_message(const char *name)
{
	size_t lo = 0, hi = gt_pb_nmessages;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(gt_pb_messages[mid].name, name);

		if (!c)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static bool is_ident(const char *s, size_t n, bool dots)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || (dots && (s[i] == '.' || s[i] == '-'))))
			return false;
	return true;
}

const char *gt_pb_message_for(const char *api_version, const char *kind)
{
	const char *slash = strchr(api_version, '/');
	const char *version = slash ? slash + 1 : api_version;
	size_t glen = slash ? (size_t)(slash - api_version) : 0;
	char pkg[64], name[256];
	int mi;

	if (!is_ident(version, strlen(version), false) || !is_ident(kind, strlen(kind), false) ||
	    (slash && !is_ident(api_version, glen, true)))
		return NULL;
	/* Built-in groups only: "" (core), "apps", "<name>.k8s.io". */
	if (!slash) {
		snprintf(pkg, sizeof(pkg), "core");
	} else {
		const char *dot = memchr(api_version, '.', glen);
		size_t plen = dot ? (size_t)(dot - api_version) : glen;

		if (dot && (glen - plen != strlen(".k8s.io") ||
			    memcmp(dot, ".k8s.io", strlen(".k8s.io"))))
			return NULL;
		if (plen >= sizeof(pkg))
			return NULL;
		snprintf(pkg, sizeof(pkg), "%.*s", (int)plen, api_version);
	}
	snprintf(name, sizeof(name), "k8s.io.api.%s.%s.%s", pkg, version, kind);
	mi = find_message(name);
	if (mi < 0 && !strcmp(version, "v1")) {
		snprintf(name, sizeof(name), "k8s.io.apimachinery.pkg.apis.meta.v1.%s", kind);
		mi = find_message(name);
	}
	if (mi < 0 || !gt_pb_messages[mi].toplevel)
		return NULL;
	return gt_pb_messages[mi].name;
}

int gt_pb_message_to_json(const char *message, const uint8_t *buf, size_t len,
			  json_t **out, struct gt_err *err)
{
	struct dec d = { .err = err };
	struct rd r = { buf, buf + len };
	int mi = find_message(message);
	json_t *obj;
	int rc;

	if (mi < 0)
		return gt_err_set(err, -ENOENT, "protobuf: unknown message %s", message);
	if (gt_pb_messages[mi].special != GT_PB_PLAIN)
		return gt_err_set(err, -ENOENT, "protobuf: %s is not an object message", message);
	obj = json_object();
	rc = decode_fields(&d, mi, &r, obj);
	if (rc < 0) {
		json_decref(obj);
		return rc;
	}
	*out = obj;
	return 0;
}

/* Copies a short envelope string into buf (NUL-terminated, no NULs inside). */
static int envelope_str(struct dec *d, struct rd *s, char *buf, size_t size)
{
	size_t n = (size_t)(s->end - s->p);

	if (n >= size || memchr(s->p, '\0', n))
		return fail(d, "envelope string too long or contains NUL");
	memcpy(buf, s->p, n);
	buf[n] = '\0';
	return 0;
}

int gt_pb_to_json(const uint8_t *buf, size_t len, json_t **out, struct gt_err *err)
{
	struct dec d = { .err = err };
	struct rd r, raw = { NULL, NULL }, tm = RD_EMPTY, s;
	char api_version[128] = "", kind[128] = "", encoding[64] = "", ctype[128] = "";
	const char *message;
	json_t *obj, *v;
	uint32_t num = 0;
	int wt = 0, rc;

	if (len < sizeof(magic) || memcmp(buf, magic, sizeof(magic)))
		return gt_err_set(err, -EINVAL, "protobuf: body does not start with the k8s\\0 magic");
	r.p = buf + sizeof(magic);
	r.end = buf + len;
	path_name(&d, "envelope");
	while (r.p < r.end) {
		if ((rc = rd_tag(&d, &r, &num, &wt)) < 0)
			return rc;
		if (num < 1 || num > 4) {
			if ((rc = skip(&d, &r, num, wt)) < 0)
				return rc;
			continue;
		}
		if ((rc = want_wt(&d, num, wt, WT_LEN)) < 0 || (rc = rd_len(&d, &r, &s)) < 0)
			return rc;
		if (num == 1)
			tm = s;
		else if (num == 2)
			raw = s;
		else if (num == 3 && (rc = envelope_str(&d, &s, encoding, sizeof(encoding))) < 0)
			return rc;
		else if (num == 4 && (rc = envelope_str(&d, &s, ctype, sizeof(ctype))) < 0)
			return rc;
	}
	/* typeMeta {1 apiVersion, 2 kind} */
	while (tm.p < tm.end) {
		if ((rc = rd_tag(&d, &tm, &num, &wt)) < 0)
			return rc;
		if (num != 1 && num != 2) {
			if ((rc = skip(&d, &tm, num, wt)) < 0)
				return rc;
			continue;
		}
		if ((rc = want_wt(&d, num, wt, WT_LEN)) < 0 || (rc = rd_len(&d, &tm, &s)) < 0 ||
		    (rc = envelope_str(&d, &s, num == 1 ? api_version : kind, 128)) < 0)
			return rc;
	}
	if (!kind[0] || !api_version[0])
		return gt_err_set(err, -EINVAL, "protobuf: envelope lacks apiVersion or kind");
	if (encoding[0])
		return gt_err_set(err, -EPROTONOSUPPORT,
				  "protobuf: unsupported contentEncoding \"%s\"", encoding);
	if (ctype[0] && strcmp(ctype, GT_PB_CONTENT_TYPE))
		return gt_err_set(err, -EPROTONOSUPPORT,
				  "protobuf: unsupported embedded contentType \"%s\"", ctype);
	message = gt_pb_message_for(api_version, kind);
	if (!message)
		return gt_err_set(err, -EPROTONOSUPPORT,
				  "protobuf: no protobuf schema for %s %s; send JSON instead",
				  api_version, kind);

	obj = json_object();
	v = json_string(api_version);
	if (!v || json_object_set_new(obj, "apiVersion", v) < 0 ||
	    !(v = json_string(kind)) || json_object_set_new(obj, "kind", v) < 0) {
		json_decref(obj);
		return gt_err_set(err, -EINVAL, "protobuf: envelope strings are not valid UTF-8");
	}
	path_pop(&d, 0);
	if (raw.p) {
		rc = decode_fields(&d, find_message(message), &raw, obj);
		if (rc < 0) {
			json_decref(obj);
			return rc;
		}
	}
	*out = obj;
	return 0;
}

/* ---- unknown-field detection (fieldValidation) --------------------------- */

/* Finds the field named json in message mi, looking into inlined structs. */
static const struct gt_pb_field *field_by_json(int mi, const char *json, int depth)
{
	const struct gt_pb_message *m = &gt_pb_messages[mi];

	if (depth > 8)
		return NULL;
	for (size_t i = 0; i < m->nfields; i++) {
		const struct gt_pb_field *f = &m->fields[i];

		if (f->flags & GT_PB_INLINE) {
			const struct gt_pb_field *g = f->msg >= 0 ? field_by_json(f->msg, json, depth + 1) : NULL;

			if (g)
				return g;
		} else if (!strcmp(f->json, json)) {
			return f;
		}
	}
	return NULL;
}

static void unknown_walk(int mi, json_t *v, struct gt_buf *path, json_t *out, int depth,
			 bool prune)
{
	const char *key;
	json_t *child;
	void *tmp;

	if (depth > GT_PB_MAX_DEPTH || !json_is_object(v) ||
	    gt_pb_messages[mi].special != GT_PB_PLAIN || json_array_size(out) >= 100)
		return;
	json_object_foreach_safe(v, tmp, key, child) {
		const struct gt_pb_field *f;
		size_t old = path->len;

		if (depth == 0 && (!strcmp(key, "apiVersion") || !strcmp(key, "kind")))
			continue;
		if (key[0] == '$') /* patch directives */
			continue;
		if (old)
			gt_buf_addc(path, '.');
		gt_buf_adds(path, key);
		f = field_by_json(mi, key, 0);
		if (!f) {
			json_array_append_new(out, json_string(path->data));
			if (prune)
				json_object_del(v, key);
		} else if (f->kind == GT_PB_MESSAGE && f->msg >= 0) {
			if (f->flags & GT_PB_MAP) {
				const char *k2;
				json_t *c2;

				json_object_foreach(child, k2, c2) {
					size_t o2 = path->len;

					gt_buf_addf(path, "[%s]", k2);
					unknown_walk(f->msg, c2, path, out, depth + 1, prune);
					path->len = o2;
					path->data[o2] = '\0';
				}
			} else if (f->flags & GT_PB_REPEATED) {
				size_t i;
				json_t *c2;

				json_array_foreach(child, i, c2) {
					size_t o2 = path->len;

					gt_buf_addf(path, "[%zu]", i);
					unknown_walk(f->msg, c2, path, out, depth + 1, prune);
					path->len = o2;
					path->data[o2] = '\0';
				}
			} else {
				unknown_walk(f->msg, child, path, out, depth + 1, prune);
			}
		}
		path->len = old;
		path->data[old] = '\0';
	}
}

json_t *gt_pb_unknown_fields(const char *api_version, const char *kind, json_t *obj, bool prune)
{
	const char *name = api_version && kind ? gt_pb_message_for(api_version, kind) : NULL;
	struct gt_buf path = GT_BUF_INIT;
	json_t *out = json_array();
	int mi;

	if (!name || (mi = find_message(name)) < 0)
		return out;
	gt_buf_init(&path);
	unknown_walk(mi, obj, &path, out, 0, prune);
	gt_buf_release(&path);
	return out;
}
