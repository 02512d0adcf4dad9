/*
 * sqlite.c - the embedded SQLite backend of the store.
 *
 * Two tables: kv holds the live objects (key → value, create and mod
 * revision), log holds the recent events (revision → type, key, value) so
 * watches can resume from a revision after a restart; meta holds the
 * current and compacted revisions.  WAL mode with synchronous=NORMAL: a
 * committed transaction survives a crash of the process (kill -9); only a
 * power loss can drop the last transactions (use --fsync=full for that).
 */
#include "store/backend.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "store/store.h"

struct sqlite_backend {
	struct gt_backend be;
	sqlite3 *db;
	sqlite3_stmt *put, *del, *log, *meta;
};

static int sqerr(struct sqlite_backend *b, struct gt_err *err, const char *what)
{
	return gt_err_set(err, -EIO, "sqlite %s: %s", what, sqlite3_errmsg(b->db));
}

static int exec(struct sqlite_backend *b, const char *sql, struct gt_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(b->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = gt_err_set(err, -EIO, "sqlite: %s: %s", sql, msg ? msg : "?");

		sqlite3_free(msg);
		return r;
	}
	return 0;
}

static int64_t meta_get(struct sqlite_backend *b, const char *name)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(b->db, "SELECT v FROM meta WHERE k=?", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int sq_load(struct gt_backend *be,
		   int (*kv)(void *ctx, const char *key, const char *val, size_t len,
			     int64_t create_rev, int64_t mod_rev),
		   int (*ev)(void *ctx, int64_t rev, int type, const char *key,
			     const char *val, size_t len),
		   void *ctx, int64_t *rev, int64_t *compacted, struct gt_err *err)
{
	struct sqlite_backend *b = (struct sqlite_backend *)be;
	sqlite3_stmt *st;
	int r = 0;

	*rev = meta_get(b, "rev");
	*compacted = meta_get(b, "compacted");
	if (sqlite3_prepare_v2(b->db, "SELECT k, v, crev, mrev FROM kv", -1, &st, NULL) != SQLITE_OK)
		return sqerr(b, err, "load kv");
	while (!r && sqlite3_step(st) == SQLITE_ROW)
		r = kv(ctx, (const char *)sqlite3_column_text(st, 0),
		       sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
		       sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3));
	sqlite3_finalize(st);
	if (r)
		return gt_err_set(err, r, "loading objects failed");
	if (sqlite3_prepare_v2(b->db, "SELECT rev, type, k, v FROM log ORDER BY rev", -1, &st,
			       NULL) != SQLITE_OK)
		return sqerr(b, err, "load log");
	while (!r && sqlite3_step(st) == SQLITE_ROW)
		r = ev(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
		       (const char *)sqlite3_column_text(st, 2), sqlite3_column_blob(st, 3),
		       (size_t)sqlite3_column_bytes(st, 3));
	sqlite3_finalize(st);
	if (r)
		return gt_err_set(err, r, "loading history failed");
	return 0;
}

static int sq_commit(struct gt_backend *be, const struct gt_backend_write *w, size_t n,
		     struct gt_err *err)
{
	struct sqlite_backend *b = (struct sqlite_backend *)be;
	int64_t last = 0;
	int r;

	if ((r = exec(b, "BEGIN IMMEDIATE", err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st;

		if (w[i].type == GT_WRITE_DELETE) {
			st = b->del;
			sqlite3_bind_text(st, 1, w[i].key, -1, SQLITE_STATIC);
		} else {
			st = b->put;
			sqlite3_bind_text(st, 1, w[i].key, -1, SQLITE_STATIC);
			sqlite3_bind_blob(st, 2, w[i].val, (int)w[i].len, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, w[i].create_rev);
			sqlite3_bind_int64(st, 4, w[i].rev);
		}
		r = sqlite3_step(st);
		sqlite3_reset(st);
		if (r != SQLITE_DONE)
			goto fail;
		st = b->log;
		sqlite3_bind_int64(st, 1, w[i].rev);
		sqlite3_bind_int(st, 2, w[i].type);
		sqlite3_bind_text(st, 3, w[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, w[i].val, (int)w[i].len, SQLITE_STATIC);
		r = sqlite3_step(st);
		sqlite3_reset(st);
		if (r != SQLITE_DONE)
			goto fail;
		last = w[i].rev;
	}
	sqlite3_bind_text(b->meta, 1, "rev", -1, SQLITE_STATIC);
	sqlite3_bind_int64(b->meta, 2, last);
	r = sqlite3_step(b->meta);
	sqlite3_reset(b->meta);
	if (r != SQLITE_DONE)
		goto fail;
	return exec(b, "COMMIT", err);
fail:
	r = sqerr(b, err, "commit");
	exec(b, "ROLLBACK", NULL);
	return r;
}

static int sq_compact(struct gt_backend *be, int64_t rev, struct gt_err *err)
{
	struct sqlite_backend *b = (struct sqlite_backend *)be;
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "BEGIN; DELETE FROM log WHERE rev <= %lld;"
		 "INSERT OR REPLACE INTO meta VALUES('compacted', %lld); COMMIT;",
		 (long long)rev, (long long)rev);
	return exec(b, sql, err);
}

static void sq_close(struct gt_backend *be)
{
	struct sqlite_backend *b = (struct sqlite_backend *)be;

	if (!b)
		return;
	sqlite3_finalize(b->put);
	sqlite3_finalize(b->del);
	sqlite3_finalize(b->log);
	sqlite3_finalize(b->meta);
	sqlite3_close(b->db);
	free(b);
}

static const struct gt_backend_ops sqlite_ops = {
	.name = "sqlite",
	.load = sq_load,
	.commit = sq_commit,
	.compact = sq_compact,
	.close = sq_close,
};

int gt_backend_sqlite_open(const char *path, struct gt_backend **out, struct gt_err *err)
{
	struct sqlite_backend *b = xcalloc(1, sizeof(*b));
	int r;

	b->be.ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		r = gt_err_set(err, -EIO, "cannot open database %s: %s", path,
			       b->db ? sqlite3_errmsg(b->db) : "out of memory");
		sq_close(&b->be);
		return r;
	}
	sqlite3_busy_timeout(b->db, 5000);
	r = exec(b, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		    "PRAGMA wal_autocheckpoint=4000;"
		    "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v BLOB NOT NULL,"
		    " crev INTEGER NOT NULL, mrev INTEGER NOT NULL) WITHOUT ROWID;"
		    "CREATE TABLE IF NOT EXISTS log(rev INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
		    " k TEXT NOT NULL, v BLOB);"
		    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER);", err);
	if (r < 0)
		goto fail;
	if (sqlite3_prepare_v2(b->db, "INSERT OR REPLACE INTO kv VALUES(?,?,?,?)", -1, &b->put,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "DELETE FROM kv WHERE k=?", -1, &b->del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "INSERT INTO log VALUES(?,?,?,?)", -1, &b->log, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "INSERT OR REPLACE INTO meta VALUES(?,?)", -1, &b->meta,
			       NULL) != SQLITE_OK) {
		r = sqerr(b, err, "prepare");
		goto fail;
	}
	*out = &b->be;
	return 0;
fail:
	sq_close(&b->be);
	return r;
}
