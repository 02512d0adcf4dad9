/*
 * backend.h - the durable side of the store: a backend persists batches of
 * revisioned writes atomically and loads them back on start.  SQLite
 * (sqlite.c) is the embedded default; etcd can implement the same table of
 * operations.  Backends are used from the store's writer thread (commit,
 * compact) and from gt_store_open (load) only: they need no locking of
 * their own.
 */
#ifndef GT_STORE_BACKEND_H
#define GT_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct gt_backend;

struct gt_backend_write {
	int type;              /* enum gt_write_type */
	const char *key;
	const char *val;       /* serialised object (for DELETE: last state) */
	size_t len;
	int64_t rev;           /* the revision of this write */
	int64_t create_rev;
};

struct gt_backend_ops {
	const char *name;
	/* Calls kv() for every live key and ev() for every retained event in
	 * revision order; sets the current and the compacted revision. */
	int (*load)(struct gt_backend *be,
		    int (*kv)(void *ctx, const char *key, const char *val, size_t len,
			      int64_t create_rev, int64_t mod_rev),
		    int (*ev)(void *ctx, int64_t rev, int type, const char *key,
			      const char *val, size_t len),
		    void *ctx, int64_t *rev, int64_t *compacted, struct gt_err *err);
	/* Persists n writes atomically (all or none) and durably. */
	int (*commit)(struct gt_backend *be, const struct gt_backend_write *w, size_t n,
		      struct gt_err *err);
	/* Forgets history older than rev. */
	int (*compact)(struct gt_backend *be, int64_t rev, struct gt_err *err);
	void (*close)(struct gt_backend *be);
};

struct gt_backend {
	const struct gt_backend_ops *ops;
};

/* Opens (creating) the SQLite database at path in WAL mode. */
int gt_backend_sqlite_open(const char *path, struct gt_backend **out, struct gt_err *err);

#endif
