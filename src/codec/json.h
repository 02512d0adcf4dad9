/*
 * json.h - Gantry's JSON object model: jansson's json_t, re-exported here so
 * that only codec/ includes the library's header, plus the typed accessors
 * the rest of the code reads objects with.
 *
 * Objects are JSON trees.  Ownership follows jansson: functions named *_new,
 * *_copy, *_parse return a new reference (caller json_decref()s); accessors
 * (gt_json_path, gt_json_str, ...) return borrowed pointers valid while the
 * tree is alive and unmodified.  json_t values shared between threads (the
 * watch cache) are immutable: modify only a json_deep_copy().
 */
#ifndef GT_CODEC_JSON_H
#define GT_CODEC_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/util.h"

/* cleanup helper: `GT_AUTOJSON json_t *o = ...;` */
void gt_json_decrefp(json_t **p);
#define GT_AUTOJSON __attribute__((cleanup(gt_json_decrefp)))

/*
 * Parses buf as one JSON value.  Duplicate keys are rejected.  On failure returns -EINVAL
 * and an error message with line/column.  *out is a new reference.
 */
int gt_json_parse(const char *buf, size_t len, json_t **out, struct gt_err *err);
/* Same, but duplicate keys are accepted (the last one wins), as Kubernetes
 * does unless fieldValidation=Strict. */
int gt_json_parse_lenient(const char *buf, size_t len, json_t **out, struct gt_err *err);

/*
 * Serialises compactly (no spaces, keys in insertion order) into a new
 * NUL-terminated string; *len gets its length.  Caller frees.
 */
char *gt_json_dump(const json_t *v, size_t *len);
/* Appends the compact serialisation to b. */
void gt_json_dump_buf(const json_t *v, struct gt_buf *b);

/*
 * Dotted-path lookup: "metadata.name", "spec.template.spec".  Only object
 * members (no array indices).  Returns a borrowed pointer or NULL.
 */
json_t *gt_json_path(const json_t *obj, const char *path);
/* String at path, or NULL when absent or not a string. */
const char *gt_json_str(const json_t *obj, const char *path);
/* Integer at path into *out: 0, -ENOENT when absent, -EINVAL when not an integer. */
int gt_json_int(const json_t *obj, const char *path, int64_t *out);
/* Boolean at path, def when absent or not a boolean. */
bool gt_json_bool(const json_t *obj, const char *path, bool def);

/*
 * Object at path, created (with intermediate objects) when absent or not
 * an object.  Returns a borrowed pointer into obj.
 */
json_t *gt_json_ensure_obj(json_t *obj, const char *path);
/* Sets a member at path (creating parents); steals the reference to v. */
void gt_json_set(json_t *obj, const char *path, json_t *v);
void gt_json_set_str(json_t *obj, const char *path, const char *s);
/* Removes the member at path if present. */
void gt_json_del(json_t *obj, const char *path);

/* Deep equality (jansson's json_equal, NULL-safe). */
bool gt_json_equal(const json_t *a, const json_t *b);

#endif
