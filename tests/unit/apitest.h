/*
 * apitest.h - an in-process API (SQLite store in /tmp, no HTTP) for unit
 * tests that drive src/apiserver/ops.c and controllers one call at a time:
 *
 *   setup("workloads");  ... gt_api_create(api, R("apps", "deployments"), ...) ...
 *   teardown();          (frees the API, removes the database files)
 */
#ifndef GT_TESTS_APITEST_H
#define GT_TESTS_APITEST_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "apiserver/apiserver.h"
#include "apiserver/ops.h"
#include "store/backend.h"

static char dbpath[256];
static struct gt_store *store;
static struct gt_api *api;

/* The v1 resource of group g ("" core) named plural. */
static inline const struct gt_resource *R(const char *g, const char *plural)
{
	return gt_registry_find(g, "v1", plural);
}

static inline void setup(const char *name)
{
	struct gt_backend *be;
	struct gt_api_config cfg = { 0 };
	struct gt_err e;

	snprintf(dbpath, sizeof(dbpath), "/tmp/gt-test-%s-%d.db", name, (int)getpid());
	gt_err_clear(&e);
	if (gt_backend_sqlite_open(dbpath, &be, &e) < 0 || gt_store_open(be, NULL, &store, &e) < 0)
		abort();
	cfg.store = store;
	cfg.token = "t";
	if (gt_api_new(&cfg, &api, &e) < 0)
		abort();
}

static inline void teardown(void)
{
	char p[300];

	gt_api_free(api);
	gt_store_close(store);
	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
}

#endif
