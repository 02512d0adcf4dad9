/*
 * store.h - the revisioned key-value store Gantry keeps its objects in, the
 * model Kubernetes uses with etcd.
 *
 * Every write gets the next global revision, which is also the object's
 * metadata.resourceVersion.  The store keeps the whole current state in an
 * in-memory cache (sorted per collection) that serves gets and lists, plus a
 * ring of the most recent events that serves watches; the backend (SQLite
 * by default, see backend.h) is the durable truth.  Writes go through one
 * writer thread that batches concurrent requests into one transaction
 * (group commit); a write returns only after its batch is durable, and the
 * cache already reflects it.
 *
 * Keys: "<group>/<plural>/<namespace>/<name>" for namespaced objects and
 * "<group>/<plural>/<name>" for cluster-scoped ones ("core" is the core
 * group).  A collection is the first two segments; lists take a prefix
 * inside one collection.
 *
 * Thread-safety: all functions are thread-safe.  struct gt_obj values are
 * immutable and reference-counted: whoever receives one owns a reference
 * and drops it with gt_obj_unref().
 */
#ifndef GT_STORE_STORE_H
#define GT_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/json.h"

struct gt_store;
struct gt_backend;

struct gt_obj {
	int refs;             /* atomic */
	char *key;
	json_t *obj;          /* immutable; carries metadata.resourceVersion */
	char *json;           /* compact serialisation of obj */
	size_t len;
	int64_t create_rev;
	int64_t mod_rev;
};

struct gt_obj *gt_obj_ref(struct gt_obj *o);
void gt_obj_unref(struct gt_obj *o);

struct gt_store_options {
	size_t history;       /* events kept for watches (default 20000) */
};

/*
 * Opens the store over a backend (taking ownership of it): loads the current
 * state and recent history, starts the writer thread.
 */
int gt_store_open(struct gt_backend *be, const struct gt_store_options *opt,
		  struct gt_store **out, struct gt_err *err);
/* Stops the writer, wakes and fails all watchers, closes the backend. */
void gt_store_close(struct gt_store *s);

/* The current (latest committed) revision. */
int64_t gt_store_rev(struct gt_store *s);
/* The oldest revision a watch can still start from (older → 410). */
int64_t gt_store_oldest_rev(struct gt_store *s);

/* Gets the object at key: 0 and a reference in *out, or -ENOENT. */
int gt_store_get(struct gt_store *s, const char *key, struct gt_obj **out);

/*
 * Lists objects whose key starts with prefix, in key order, starting after
 * key `after` (NULL = from the start).  fn is called with a borrowed object
 * (take a reference to keep it) under the store's read lock, so it must be
 * quick and must not call back into the store; it returns non-zero to stop.
 * *rev receives the revision the list is consistent at.
 */
int gt_store_list(struct gt_store *s, const char *prefix, const char *after,
		  int (*fn)(struct gt_obj *o, void *ctx), void *ctx, int64_t *rev);

enum gt_write_type { GT_WRITE_CREATE, GT_WRITE_UPDATE, GT_WRITE_DELETE };

/*
 * Writes one object.  CREATE fails with -EEXIST when key exists.  UPDATE
 * and DELETE fail with -ENOENT when absent and -ESTALE when expect_rev > 0
 * and differs from the object's mod_rev.  obj (stolen; NULL for DELETE) is
 * stamped with metadata.resourceVersion = the new revision.  For DELETE the
 * event and *result carry the last state with the new revision.  *result
 * (optional) receives a reference to the written object.
 */
int gt_store_write(struct gt_store *s, enum gt_write_type type, const char *key,
		   json_t *obj, int64_t expect_rev, struct gt_obj **result,
		   struct gt_err *err);

/* Drops history older than rev (watches from before it get 410). */
void gt_store_compact(struct gt_store *s, int64_t rev);

enum gt_event_type { GT_EVENT_ADDED, GT_EVENT_MODIFIED, GT_EVENT_DELETED };

struct gt_event {
	enum gt_event_type type;
	int64_t rev;
	struct gt_obj *obj;   /* reference owned by the receiver */
	struct gt_obj *prev;  /* previous state (MODIFIED/DELETED) or NULL */
};
void gt_event_release(struct gt_event *ev);

struct gt_watch;

/*
 * Watches keys under prefix for events with revision > from_rev.  Returns
 * -ENODATA when from_rev is older than the retained history (410).
 */
int gt_store_watch(struct gt_store *s, const char *prefix, int64_t from_rev,
		   struct gt_watch **out, struct gt_err *err);
/*
 * Waits up to timeout_ms for the next event.  0 with *ev filled (release it
 * with gt_event_release), -ETIMEDOUT, -ENODATA when the watcher fell out of
 * the history (410), -ECANCELED when the store is closing.
 */
int gt_watch_next(struct gt_watch *w, struct gt_event *ev, int timeout_ms);
/* The revision the watcher has seen up to (for bookmarks). */
int64_t gt_watch_rev(struct gt_watch *w);
void gt_watch_close(struct gt_watch *w);

/* Statistics for benchmarks and /metrics. */
struct gt_store_stats {
	uint64_t writes, batches, objects;
};
void gt_store_stats(struct gt_store *s, struct gt_store_stats *st);

#endif
