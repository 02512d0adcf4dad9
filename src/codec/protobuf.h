/*
 * protobuf.h - Kubernetes protobuf request bodies transcoded to JSON.
 *
 * kubectl 1.32+ sends `Content-Type: application/vnd.kubernetes.protobuf`
 * for its typed-client writes (create configmap/secret/deployment/...,
 * auth can-i, auth whoami, create token, autoscale).  Such a body is the
 * magic "k8s\0" followed by a runtime.Unknown {typeMeta{apiVersion, kind},
 * raw, contentEncoding, contentType}; raw is the object's message.  The
 * transcoder walks a static table generated from the k8s.io/api .proto
 * files (pb_table.c, made by scripts/gen-pb-table.py) and produces the same
 * JSON the object would have had, so the rest of the server sees only JSON.
 *
 * Semantics (see the reference, kubectl-1.33.md section 5):
 *   - gogo writes every non-pointer field even when empty, so "" / 0 / false
 *     and empty messages are treated as absent, except for Go pointer fields
 *     (GT_PB_KEEP: e.g. DeploymentSpec.replicas = 0 survives);
 *   - repeated elements and map values are always kept (ConfigMap data
 *     "k": "" survives);
 *   - Time/MicroTime -> RFC 3339 strings, Quantity -> string, IntOrString ->
 *     number or string, bytes -> base64, RawExtension/FieldsV1 -> the
 *     embedded JSON, Verbs/ExtraValue -> string arrays, embedded Go structs
 *     (Volume.volumeSource, Probe.handler, ...) are inlined;
 *   - unknown fields are skipped; wire types are checked against the table.
 *
 * The second half of this header describes the generated table; only
 * protobuf.c and pb_table.c need it.
 */
#ifndef GT_CODEC_PROTOBUF_H
#define GT_CODEC_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/json.h"

/* Content type of protobuf bodies. */
#define GT_PB_CONTENT_TYPE "application/vnd.kubernetes.protobuf"
/* Nested-message depth limit; deeper input is rejected. */
#define GT_PB_MAX_DEPTH 64

/*
 * Transcodes a whole protobuf body (magic + runtime.Unknown) into a new JSON
 * object whose first members are "apiVersion" and "kind" from the envelope.
 * *out is a new reference (caller json_decref()s) and is set only on success.
 * Returns 0; -EINVAL for malformed input (message names the field path, e.g.
 * "protobuf: spec.template.spec.containers[0]: truncated length-delimited
 * field"); -EPROTONOSUPPORT when the kind has no table entry or the raw
 * bytes are encoded (contentEncoding) in a way we do not read.  Never reads
 * outside buf[0..len).  Thread-safe (no shared mutable state).
 */
int gt_pb_to_json(const uint8_t *buf, size_t len, json_t **out, struct gt_err *err);

/*
 * Transcodes one raw message (no magic, no envelope) of the named type
 * (e.g. "k8s.io.api.core.v1.ConfigMap") into a new JSON object in *out.
 * Returns 0, -EINVAL on malformed input, -ENOENT when the message is unknown.
 */
int gt_pb_message_to_json(const char *message, const uint8_t *buf, size_t len,
			  json_t **out, struct gt_err *err);

/*
 * The full message name for an object kind, e.g. ("apps/v1", "Deployment")
 * -> "k8s.io.api.apps.v1.Deployment"; ("v1", "DeleteOptions") -> the
 * apimachinery meta type.  Returns a static string or NULL when the kind is
 * not a top-level object of the table.
 */
const char *gt_pb_message_for(const char *api_version, const char *kind);

/*
 * The members of obj (a built-in kind's JSON) that its type does not have,
 * as field paths ("spec.foo", "spec.template.spec.containers[0].imagePullPolcy")
 * in a new JSON array (at most 100).  Kinds without a table entry (custom
 * resources, CRDs) give an empty array.  With prune, the unknown members
 * are also removed from obj (as decoding into Go types drops them).  Used
 * for fieldValidation.
 */
json_t *gt_pb_unknown_fields(const char *api_version, const char *kind, json_t *obj, bool prune);

/* ---- the generated table (pb_table.c) ---------------------------------- */

enum gt_pb_kind {
	GT_PB_STRING = 1,
	GT_PB_BYTES,
	GT_PB_BOOL,
	GT_PB_INT32,
	GT_PB_INT64,
	GT_PB_UINT32,
	GT_PB_UINT64,
	GT_PB_DOUBLE,
	GT_PB_FLOAT,
	GT_PB_MESSAGE,
};

/* How a message appears in JSON. */
enum gt_pb_special {
	GT_PB_PLAIN = 0,    /* a JSON object of its fields */
	GT_PB_TIME,         /* {seconds, nanos} -> "2006-01-02T15:04:05Z" */
	GT_PB_MICROTIME,    /* same with ".000000" microseconds */
	GT_PB_QUANTITY,     /* {string} -> "100m" */
	GT_PB_INTORSTRING,  /* {type, intVal, strVal} -> 80 or "http" */
	GT_PB_RAW,          /* {raw bytes} -> the JSON document they hold */
	GT_PB_STRLIST,      /* {repeated string items} -> ["a", "b"] */
};

/* Field flags. */
#define GT_PB_REPEATED 0x01 /* JSON array of values */
#define GT_PB_MAP      0x02 /* map<string, V>: repeated {1 key, 2 value} -> JSON object */
#define GT_PB_KEEP     0x04 /* Go pointer: a zero value on the wire is kept */
#define GT_PB_INLINE   0x08 /* embedded struct: fields go into the parent object */

struct gt_pb_field {
	uint32_t number;
	uint8_t kind;       /* enum gt_pb_kind; for maps, the value's kind */
	uint8_t flags;
	int16_t msg;        /* index into gt_pb_messages for GT_PB_MESSAGE, else -1 */
	const char *json;   /* JSON member name */
};

struct gt_pb_message {
	const char *name;                 /* "k8s.io.api.core.v1.ConfigMap" */
	const struct gt_pb_field *fields; /* sorted by number */
	uint16_t nfields;
	uint8_t special;                  /* enum gt_pb_special */
	uint8_t toplevel;                 /* has ObjectMeta/ListMeta metadata: an API object */
};

/* Sorted by name (strcmp). */
extern const struct gt_pb_message gt_pb_messages[];
extern const size_t gt_pb_nmessages;

#endif
