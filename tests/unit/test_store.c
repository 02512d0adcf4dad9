/* Unit tests for src/store: revisions, CAS, lists, watches, 410, restart. */
#include <pthread.h>
#include <unistd.h>

#include "t.h"
#include "store/backend.h"
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

int main(void)
{
	snprintf(dbpath, sizeof(dbpath), "/tmp/gt-test-store-%d.db", (int)getpid());
	RUN(crud_and_revisions);
	RUN(watch_from_revision);
	RUN(too_old_gives_410);
	RUN(group_commit_concurrent);
	unlink(dbpath);
	{
		char p[300];
		snprintf(p, sizeof(p), "%s-wal", dbpath); unlink(p);
		snprintf(p, sizeof(p), "%s-shm", dbpath); unlink(p);
	}
	return t_done();
}
