/* Unit tests for src/store: revisions, CAS, lists, watches, 410, restart. */
#include <pthread.h>
#include <unistd.h>

#include "t.h"
#include "store/backend.h"
#include "store/index.h"
#include "store/store.h"

static char dbpath[256];

static struct gt_store *open_store(size_t history)
{
	struct gt_backend *be;
	struct gt_store *s;
	struct gt_store_options o = { .history = history };
	struct gt_err e;

	gt_err_clear(&e);
	if (gt_backend_sqlite_open(dbpath, &be, &e) < 0 || gt_store_open(be, &o, &s, &e) < 0) {
		fprintf(stderr, "open: %s\n", e.msg);
		return NULL;
	}
	return s;
}

static json_t *mk(const char *name, const char *v)
{
	return json_pack("{s:{s:s},s:s}", "metadata", "name", name, "v", v);
}

static int count_cb(struct gt_obj *o, void *ctx)
{
	(void)o;
	(*(int *)ctx)++;
	return 0;
}

TEST(crud_and_revisions)
{
	struct gt_store *s = open_store(100);
	struct gt_obj *o = NULL;
	struct gt_err e;
	int n = 0;
	int64_t rev;

	gt_err_clear(&e);
	CHECK_INT(gt_store_write(s, GT_WRITE_CREATE, "core/pods/default/a", mk("a", "1"), 0, &o, &e), 0);
	CHECK_INT(o->mod_rev, 1);
	CHECK_STR(gt_json_str(o->obj, "metadata.resourceVersion"), "1");
	gt_obj_unref(o);
	CHECK_INT(gt_store_write(s, GT_WRITE_CREATE, "core/pods/default/a", mk("a", "1"), 0, NULL, &e), -EEXIST);
	CHECK_INT(gt_store_write(s, GT_WRITE_UPDATE, "core/pods/default/a", mk("a", "2"), 7, NULL, &e), -ESTALE);
	CHECK_INT(gt_store_write(s, GT_WRITE_UPDATE, "core/pods/default/a", mk("a", "2"), 1, &o, &e), 0);
	CHECK_INT(o->mod_rev, 2);
	CHECK_INT(o->create_rev, 1);
	gt_obj_unref(o);
	CHECK_INT(gt_store_write(s, GT_WRITE_UPDATE, "core/pods/default/zz", mk("zz", "2"), 0, NULL, &e), -ENOENT);
	CHECK_INT(gt_store_write(s, GT_WRITE_CREATE, "core/pods/kube-system/b", mk("b", "1"), 0, NULL, &e), 0);
	CHECK_INT(gt_store_write(s, GT_WRITE_CREATE, "core/configmaps/default/c", mk("c", "1"), 0, NULL, &e), 0);
	gt_store_list(s, "core/pods/", NULL, count_cb, &n, &rev);
	CHECK_INT(n, 2);
	CHECK_INT(rev, 4);
	n = 0;
	gt_store_list(s, "core/pods/default/", NULL, count_cb, &n, NULL);
	CHECK_INT(n, 1);
	n = 0;
	gt_store_list(s, "core/pods/", "core/pods/default/a", count_cb, &n, NULL);
	CHECK_INT(n, 1);
	CHECK_INT(gt_store_write(s, GT_WRITE_DELETE, "core/pods/default/a", NULL, 0, &o, &e), 0);
	CHECK_INT(o->mod_rev, 5);
	CHECK_STR(gt_json_str(o->obj, "v"), "2");
	gt_obj_unref(o);
	CHECK_INT(gt_store_get(s, "core/pods/default/a", &o), -ENOENT);
	gt_store_close(s);

	/* restart: same state, same revision */
	s = open_store(100);
	CHECK_INT(gt_store_rev(s), 5);
	CHECK_INT(gt_store_get(s, "core/pods/kube-system/b", &o), 0);
	CHECK_STR(gt_json_str(o->obj, "metadata.resourceVersion"), "3");
	gt_obj_unref(o);
	CHECK_INT(gt_store_get(s, "core/pods/default/a", &o), -ENOENT);
	gt_store_close(s);
}

TEST(watch_from_revision)
{
	struct gt_store *s = open_store(100);
	struct gt_watch *w;
	struct gt_event ev;
	struct gt_err e;

	gt_err_clear(&e);
	CHECK_INT(gt_store_watch(s, "core/pods/", 2, &w, &e), 0);
	CHECK_INT(gt_watch_next(w, &ev, 100), 0);
	CHECK_INT(ev.rev, 3);
	CHECK_INT(ev.type, GT_EVENT_ADDED);
	gt_event_release(&ev);
	CHECK_INT(gt_watch_next(w, &ev, 100), 0); /* rev 4 is a configmap: skipped; 5 delete */
	CHECK_INT(ev.rev, 5);
	CHECK_INT(ev.type, GT_EVENT_DELETED);
	gt_event_release(&ev);
	CHECK_INT(gt_watch_next(w, &ev, 50), -ETIMEDOUT);
	CHECK_INT(gt_store_write(s, GT_WRITE_CREATE, "core/pods/default/n", mk("n", "1"), 0, NULL, &e), 0);
	CHECK_INT(gt_watch_next(w, &ev, 1000), 0);
	CHECK_INT(ev.rev, 6);
	gt_event_release(&ev);
	gt_watch_close(w);
	gt_store_close(s);
}

TEST(too_old_gives_410)
{
	struct gt_store *s = open_store(10);
	struct gt_watch *w;
	struct gt_err e;
	char name[16];

	gt_err_clear(&e);
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		gt_store_write(s, GT_WRITE_CREATE, name[0] ? "core/configmaps/default/x" : "", mk(name, "1"), 0, NULL, &e);
		gt_store_write(s, GT_WRITE_DELETE, "core/configmaps/default/x", NULL, 0, NULL, &e);
	}
	CHECK_INT(gt_store_watch(s, "core/pods/", 1, &w, &e), -ENODATA);
	CHECK(strstr(e.msg, "too old resource version") != NULL);
	CHECK_INT(gt_store_watch(s, "core/pods/", gt_store_rev(s) - 3, &w, &e), 0);
	gt_watch_close(w);
	gt_store_close(s);
}

struct par { struct gt_store *s; int id; int ok; };

static void *writer(void *arg)
{
	struct par *p = arg;
	char key[64], name[32];

	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "p%d-%d", p->id, i);
		snprintf(key, sizeof(key), "core/pods/par/%s", name);
		if (gt_store_write(p->s, GT_WRITE_CREATE, key, mk(name, "x"), 0, NULL, NULL) == 0)
			p->ok++;
	}
	return NULL;
}

TEST(group_commit_concurrent)
{
	struct gt_store *s = open_store(100000);
	pthread_t th[8];
	struct par p[8];
	struct gt_store_stats st;
	int n = 0;
	int64_t before = gt_store_rev(s);

	for (int i = 0; i < 8; i++) {
		p[i] = (struct par){ s, i, 0 };
		pthread_create(&th[i], NULL, writer, &p[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(p[i].ok, 200);
	}
	CHECK_INT(gt_store_rev(s), before + 1600);
	gt_store_list(s, "core/pods/par/", NULL, count_cb, &n, NULL);
	CHECK_INT(n, 1600);
	gt_store_stats(s, &st);
	CHECK(st.batches < st.writes); /* batching happened */
	gt_store_close(s);
}

static struct gt_obj *idx_obj(const char *key)
{
	struct gt_obj *o = calloc(1, sizeof(*o));

	o->refs = 1;
	o->key = strdup(key);
	return o;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Random puts/deletes against a reference set; order, seek and counts agree,
 * across block splits and emptied blocks. */
TEST(index_matches_reference)
{
	enum { N = 3000 };
	struct gt_index *x = gt_index_new();
	static char present[N];
	unsigned seed = 12345;
	char key[32];
	int bad_order = 0, bad_seek = 0;
	size_t count = 0;

	memset(present, 0, sizeof(present));
	for (int step = 0; step < 40000; step++) {
		int k;

		seed = seed * 1103515245u + 12345u;
		k = (int)((seed >> 8) % N);
		snprintf(key, sizeof(key), "c/p/%05d", k);
		seed = seed * 1103515245u + 12345u;
		if (step < 20000 || (seed >> 8) % 3) {
			gt_index_put(x, idx_obj(key));
			count += !present[k];
			present[k] = 1;
		} else {
			gt_index_del(x, key);
			count -= present[k];
			present[k] = 0;
		}
	}
	CHECK_INT(gt_index_count(x), count);
	{
		struct gt_index_pos p = gt_index_seek(x, "");
		char *prev = NULL;
		size_t seen = 0;

		for (struct gt_obj *o; (o = gt_index_at(x, &p)); gt_index_next(x, &p)) {
			int k = atoi(o->key + 4);

			if (prev && strcmp(prev, o->key) >= 0)
				bad_order++;
			if (!present[k])
				bad_order++;
			prev = o->key;
			seen++;
		}
		CHECK_INT(seen, count);
	}
	CHECK_INT(bad_order, 0);
	for (int k = 0; k < N; k++) {
		struct gt_index_pos p;
		struct gt_obj *o;
		int want = k;

		snprintf(key, sizeof(key), "c/p/%05d", k);
		CHECK(!!gt_index_get(x, key) == present[k]);
		while (want < N && !present[want])
			want++;
		p = gt_index_seek(x, key);
		o = gt_index_at(x, &p);
		if (want == N ? o != NULL : !o || atoi(o->key + 4) != want)
			bad_seek++;
	}
	CHECK_INT(bad_seek, 0);
	gt_index_free(x);
	{
		/* Keys arriving in reverse order (every insert at the front). */
		char *keys[600];

		x = gt_index_new();
		for (int i = 599; i >= 0; i--) {
			snprintf(key, sizeof(key), "k%04d", i);
			keys[i] = strdup(key);
			gt_index_put(x, idx_obj(key));
		}
		qsort(keys, 600, sizeof(*keys), cmp_str);
		{
			struct gt_index_pos p = gt_index_seek(x, "k0300");
			int i = 300, ok = 1;

			for (struct gt_obj *o; (o = gt_index_at(x, &p)); gt_index_next(x, &p), i++)
				ok &= !strcmp(o->key, keys[i]);
			CHECK(ok);
			CHECK_INT(i, 600);
		}
		for (int i = 0; i < 600; i++) {
			gt_index_del(x, keys[i]);
			free(keys[i]);
		}
		CHECK_INT(gt_index_count(x), 0);
		CHECK(gt_index_get(x, "k0001") == NULL);
		gt_index_free(x);
	}
}

int main(void)
{
	snprintf(dbpath, sizeof(dbpath), "/tmp/gt-test-store-%d.db", (int)getpid());
	RUN(crud_and_revisions);
	RUN(watch_from_revision);
	RUN(too_old_gives_410);
	RUN(group_commit_concurrent);
	RUN(index_matches_reference);
	unlink(dbpath);
	{
		char p[300];
		snprintf(p, sizeof(p), "%s-wal", dbpath); unlink(p);
		snprintf(p, sizeof(p), "%s-shm", dbpath); unlink(p);
	}
	return t_done();
}
