/*
 * store.c - the cache, the group-commit writer and watches of the store
 * (see store.h for the model).
 *
 * Concurrency: one writer thread mutates the cache and the event ring; it
 * holds `lock` for writing only while applying a committed batch.  Readers
 * (get, list, watch) take `lock` for reading.  Requests queue on `qlock`;
 * watchers sleep on `wcond` until the revision moves past their cursor.
 * Revisions are consecutive, so the event of revision r lives in
 * ring[r % cap] while r is within the retained history.
 */
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/log.h"
#include "store/backend.h"
#include "store/index.h"

struct coll {
	char *name;           /* "core/pods" */
	size_t namelen;
	struct gt_index *idx;
};

struct ring_ev {
	int64_t rev;
	enum gt_event_type type;
	struct gt_obj *obj, *prev;
};

struct wreq {
	enum gt_write_type type;
	const char *key;
	json_t *obj;
	int64_t expect;
	int result;
	struct gt_obj *res;
	struct gt_err *err;
	bool done;
	pthread_cond_t done_cond; /* signalled for this request alone */
	struct wreq *next;
};

struct gt_store {
	struct gt_backend *be;
	pthread_rwlock_t lock;
	struct coll **colls;
	size_t ncolls, capcolls;
	_Atomic int64_t rev;
	int64_t compacted;       /* history at or below this is gone */
	struct ring_ev *ring;
	size_t cap;

	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct wreq *qhead, *qtail;
	bool stopping;
	pthread_t writer;

	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	_Atomic bool closing;

	uint64_t nwrites, nbatches;
};

struct gt_watch {
	struct gt_store *s;
	char *prefix;
	size_t plen;
	int64_t cursor;
};

struct gt_obj *gt_obj_ref(struct gt_obj *o)
{
	if (o)
		atomic_fetch_add_explicit((_Atomic int *)&o->refs, 1, memory_order_relaxed);
	return o;
}

void gt_obj_unref(struct gt_obj *o)
{
	if (!o)
		return;
	if (atomic_fetch_sub_explicit((_Atomic int *)&o->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(o->key);
	json_decref(o->obj);
	free(o->json);
	free(o);
}

static struct gt_obj *obj_new(const char *key, json_t *obj, int64_t crev, int64_t mrev)
{
	struct gt_obj *o = xcalloc(1, sizeof(*o));

	o->refs = 1;
	o->key = xstrdup(key);
	o->obj = obj;
	o->json = gt_json_dump(obj, &o->len);
	o->create_rev = crev;
	o->mod_rev = mrev;
	return o;
}

void gt_event_release(struct gt_event *ev)
{
	gt_obj_unref(ev->obj);
	gt_obj_unref(ev->prev);
	ev->obj = ev->prev = NULL;
}

/* ---- cache ---- */

static size_t coll_len(const char *key)
{
	const char *a = strchr(key, '/');
	const char *b = a ? strchr(a + 1, '/') : NULL;

	return b ? (size_t)(b - key) : strlen(key);
}

static struct coll *coll_find(struct gt_store *s, const char *key, bool create)
{
	size_t n = coll_len(key);
	struct coll *c;

	for (size_t i = 0; i < s->ncolls; i++)
		if (s->colls[i]->namelen == n && !memcmp(s->colls[i]->name, key, n))
			return s->colls[i];
	if (!create)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->name = xstrndup(key, n);
	c->namelen = n;
	c->idx = gt_index_new();
	gt_grow((void **)&s->colls, &s->capcolls, s->ncolls + 1, sizeof(*s->colls));
	s->colls[s->ncolls++] = c;
	return c;
}

static struct gt_obj *cache_get(struct gt_store *s, const char *key)
{
	struct coll *c = coll_find(s, key, false);

	return c ? gt_index_get(c->idx, key) : NULL;
}

/* Inserts or replaces (taking the reference o). */
static void cache_put(struct gt_store *s, struct gt_obj *o)
{
	gt_index_put(coll_find(s, o->key, true)->idx, o);
}

static void cache_del(struct gt_store *s, const char *key)
{
	struct coll *c = coll_find(s, key, false);

	if (c)
		gt_index_del(c->idx, key);
}

static void ring_put(struct gt_store *s, int64_t rev, enum gt_event_type type,
		     struct gt_obj *obj, struct gt_obj *prev)
{
	struct ring_ev *e = &s->ring[(uint64_t)rev % s->cap];

	gt_obj_unref(e->obj);
	gt_obj_unref(e->prev);
	e->rev = rev;
	e->type = type;
	e->obj = gt_obj_ref(obj);
	e->prev = gt_obj_ref(prev);
}

static int64_t oldest_locked(struct gt_store *s)
{
	int64_t rev = atomic_load(&s->rev);
	int64_t lo = rev - (int64_t)s->cap + 1;

	if (lo < s->compacted + 1)
		lo = s->compacted + 1;
	return lo < 1 ? 1 : lo;
}

/* ---- load ---- */

static json_t *parse_val(const char *val, size_t len)
{
	return json_loadb(val, len, JSON_DECODE_ANY, NULL);
}

static int load_kv(void *ctx, const char *key, const char *val, size_t len, int64_t crev,
		   int64_t mrev)
{
	struct gt_store *s = ctx;
	json_t *o = parse_val(val, len);

	if (!o) {
		gt_warn("store: skipping unparsable object %s", key);
		return 0;
	}
	cache_put(s, obj_new(key, o, crev, mrev));
	return 0;
}

static int load_ev(void *ctx, int64_t rev, int type, const char *key, const char *val,
		   size_t len)
{
	struct gt_store *s = ctx;
	json_t *o = val ? parse_val(val, len) : NULL;
	struct gt_obj *obj;
	enum gt_event_type et;

	if (!o)
		return 0;
	obj = obj_new(key, o, 0, rev);
	et = type == GT_WRITE_DELETE ? GT_EVENT_DELETED :
	     type == GT_WRITE_CREATE ? GT_EVENT_ADDED : GT_EVENT_MODIFIED;
	ring_put(s, rev, et, obj, NULL);
	gt_obj_unref(obj);
	return 0;
}

/* ---- writer ---- */

static void stamp_rv(json_t *obj, int64_t rev)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)rev);
	gt_json_set_str(obj, "metadata.resourceVersion", buf);
}

struct staged {
	struct wreq *req;
	struct gt_obj *obj, *prev;
};

static void process_batch(struct gt_store *s, struct wreq *batch)
{
	struct staged *st = NULL;
	struct gt_backend_write *w = NULL;
	size_t n = 0, cap = 0, wcap = 0, nw = 0;
	int64_t rev = atomic_load(&s->rev);
	struct gt_err err;
	int r;

	for (struct wreq *q = batch; q; q = q->next) {
		struct gt_obj *cur = cache_get(s, q->key);

		gt_grow((void **)&st, &cap, n + 1, sizeof(*st));
		st[n] = (struct staged){ .req = q };
		if (q->type == GT_WRITE_CREATE && cur) {
			q->result = -EEXIST;
		} else if (q->type != GT_WRITE_CREATE && !cur) {
			q->result = -ENOENT;
		} else if (q->type != GT_WRITE_CREATE && q->expect > 0 && cur->mod_rev != q->expect) {
			q->result = -ESTALE;
		} else {
			json_t *o;
			int64_t nrev = rev + (int64_t)nw + 1;

			if (q->type == GT_WRITE_DELETE) {
				o = json_deep_copy(cur->obj);
			} else {
				o = q->obj;
				q->obj = NULL;
			}
			stamp_rv(o, nrev);
			st[n].obj = obj_new(q->key, o,
					    q->type == GT_WRITE_CREATE ? nrev : cur->create_rev, nrev);
			st[n].prev = gt_obj_ref(cur);
			gt_grow((void **)&w, &wcap, nw + 1, sizeof(*w));
			w[nw++] = (struct gt_backend_write){
				.type = (int)q->type, .key = q->key, .val = st[n].obj->json,
				.len = st[n].obj->len, .rev = nrev, .create_rev = st[n].obj->create_rev,
			};
		}
		n++;
	}

	gt_err_clear(&err);
	r = nw ? s->be->ops->commit(s->be, w, nw, &err) : 0;
	if (r < 0)
		gt_error("store: commit of %zu writes failed: %s", nw, err.msg);

	if (r == 0 && nw) {
		pthread_rwlock_wrlock(&s->lock);
		for (size_t i = 0; i < n; i++) {
			struct staged *x = &st[i];

			if (!x->obj)
				continue;
			ring_put(s, x->obj->mod_rev,
				 x->req->type == GT_WRITE_CREATE ? GT_EVENT_ADDED :
				 x->req->type == GT_WRITE_UPDATE ? GT_EVENT_MODIFIED : GT_EVENT_DELETED,
				 x->obj, x->prev);
			if (x->req->type == GT_WRITE_DELETE)
				cache_del(s, x->req->key);
			else
				cache_put(s, gt_obj_ref(x->obj));
		}
		atomic_store(&s->rev, rev + (int64_t)nw);
		pthread_rwlock_unlock(&s->lock);
		pthread_mutex_lock(&s->wlock);
		pthread_cond_broadcast(&s->wcond);
		pthread_mutex_unlock(&s->wlock);
	}

	pthread_mutex_lock(&s->qlock);
	for (size_t i = 0; i < n; i++) {
		struct wreq *q = st[i].req;

		if (st[i].obj) {
			if (r < 0) {
				q->result = gt_err_set(q->err, r, "%s", err.msg);
				gt_obj_unref(st[i].obj);
			} else {
				q->res = st[i].obj;
			}
		}
		gt_obj_unref(st[i].prev);
		q->done = true;
		/* Only this batch's writers wake: a broadcast woke every
		 * queued writer per batch, most of them to sleep again. */
		pthread_cond_signal(&q->done_cond);
	}
	s->nwrites += nw;
	s->nbatches++;
	pthread_mutex_unlock(&s->qlock);
	free(st);
	free(w);
}

/*
 * Keeps the backend's history about as long as the ring.  Compaction runs
 * on the writer thread between batches, a bounded slice at a time, so no
 * batch waits behind one long DELETE.
 */
#define COMPACT_SLICE 256

static void maybe_compact(struct gt_store *s)
{
	int64_t rev = atomic_load(&s->rev), target = rev - (int64_t)s->cap, next;
	struct gt_err err;

	if (target - s->compacted < COMPACT_SLICE)
		return;
	next = s->compacted + COMPACT_SLICE;
	gt_err_clear(&err);
	if (s->be->ops->compact(s->be, next, &err) < 0) {
		gt_warn("store: compaction failed: %s", err.msg);
		return;
	}
	pthread_rwlock_wrlock(&s->lock);
	s->compacted = next;
	pthread_rwlock_unlock(&s->lock);
}

static void *writer_main(void *arg)
{
	struct gt_store *s = arg;

	for (;;) {
		struct wreq *batch, *tail, *q, *rest = NULL;

		pthread_mutex_lock(&s->qlock);
		while (!s->qhead && !s->stopping)
			pthread_cond_wait(&s->qcond, &s->qlock);
		if (!s->qhead && s->stopping) {
			pthread_mutex_unlock(&s->qlock);
			return NULL;
		}
		batch = s->qhead;
		/* A key may appear once per batch: cut before a repeat. */
		for (tail = batch; tail->next; tail = tail->next) {
			for (q = batch; q != tail->next; q = q->next)
				if (!strcmp(q->key, tail->next->key))
					break;
			if (q != tail->next)
				break;
		}
		rest = tail->next;
		tail->next = NULL;
		s->qhead = rest;
		if (!rest)
			s->qtail = NULL;
		pthread_mutex_unlock(&s->qlock);
		process_batch(s, batch);
		maybe_compact(s);
	}
}

int gt_store_write(struct gt_store *s, enum gt_write_type type, const char *key,
		   json_t *obj, int64_t expect_rev, struct gt_obj **result,
		   struct gt_err *err)
{
	struct wreq q = {
		.type = type, .key = key, .obj = obj, .expect = expect_rev, .err = err,
	};

	pthread_cond_init(&q.done_cond, NULL);
	pthread_mutex_lock(&s->qlock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->qlock);
		pthread_cond_destroy(&q.done_cond);
		json_decref(obj);
		return gt_err_set(err, -ECANCELED, "store is shutting down");
	}
	if (s->qtail)
		s->qtail->next = &q;
	else
		s->qhead = &q;
	s->qtail = &q;
	pthread_cond_signal(&s->qcond);
	while (!q.done)
		pthread_cond_wait(&q.done_cond, &s->qlock);
	pthread_mutex_unlock(&s->qlock);
	pthread_cond_destroy(&q.done_cond);
	json_decref(q.obj);
	if (q.result < 0) {
		if (err && !err->code)
			gt_err_set(err, q.result, "%s", q.result == -EEXIST ? "already exists" :
				   q.result == -ENOENT ? "not found" : q.result == -ESTALE ?
				   "the object has been modified" : "write failed");
		return q.result;
	}
	if (result)
		*result = q.res;
	else
		gt_obj_unref(q.res);
	return 0;
}

/* ---- open/close ---- */

int gt_store_open(struct gt_backend *be, const struct gt_store_options *opt,
		  struct gt_store **out, struct gt_err *err)
{
	struct gt_store *s = xcalloc(1, sizeof(*s));
	int64_t rev = 0, compacted = 0;
	int r;

	s->be = be;
	s->cap = opt && opt->history ? opt->history : 20000;
	s->ring = xcalloc(s->cap, sizeof(*s->ring));
	pthread_rwlock_init(&s->lock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->wcond, &ca);
		pthread_condattr_destroy(&ca);
	}
	r = be->ops->load(be, load_kv, load_ev, s, &rev, &compacted, err);
	if (r < 0) {
		s->be = NULL;
		gt_store_close(s);
		return r;
	}
	atomic_store(&s->rev, rev);
	s->compacted = compacted;
	if (pthread_create(&s->writer, NULL, writer_main, s)) {
		s->be = NULL;
		gt_store_close(s);
		return gt_err_set(err, -EAGAIN, "cannot start the store writer thread");
	}
	*out = s;
	return 0;
}

void gt_store_close(struct gt_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->qlock);
	s->stopping = true;
	pthread_cond_broadcast(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
	if (s->writer)
		pthread_join(s->writer, NULL);
	atomic_store(&s->closing, true);
	pthread_mutex_lock(&s->wlock);
	pthread_cond_broadcast(&s->wcond);
	pthread_mutex_unlock(&s->wlock);
	if (s->be)
		s->be->ops->close(s->be);
	for (size_t i = 0; i < s->ncolls; i++) {
		gt_index_free(s->colls[i]->idx);
		free(s->colls[i]->name);
		free(s->colls[i]);
	}
	free(s->colls);
	for (size_t i = 0; i < s->cap; i++) {
		gt_obj_unref(s->ring[i].obj);
		gt_obj_unref(s->ring[i].prev);
	}
	free(s->ring);
	/* Watchers still open hold no pointers into freed memory only if the
	 * caller closed them first; see gt_store_close's contract in store.h. */
	free(s);
}

/* ---- reads ---- */

int64_t gt_store_rev(struct gt_store *s)
{
	return atomic_load(&s->rev);
}

int64_t gt_store_oldest_rev(struct gt_store *s)
{
	int64_t r;

	pthread_rwlock_rdlock(&s->lock);
	r = oldest_locked(s);
	pthread_rwlock_unlock(&s->lock);
	return r;
}

int gt_store_get(struct gt_store *s, const char *key, struct gt_obj **out)
{
	struct gt_obj *o;

	pthread_rwlock_rdlock(&s->lock);
	o = gt_obj_ref(cache_get(s, key));
	pthread_rwlock_unlock(&s->lock);
	if (!o)
		return -ENOENT;
	*out = o;
	return 0;
}

int gt_store_list(struct gt_store *s, const char *prefix, const char *after,
		  int (*fn)(struct gt_obj *o, void *ctx), void *ctx, int64_t *rev)
{
	size_t plen = strlen(prefix);
	struct coll *c;

	pthread_rwlock_rdlock(&s->lock);
	if (rev)
		*rev = atomic_load(&s->rev);
	c = coll_find(s, prefix, false);
	if (c) {
		struct gt_index_pos p = gt_index_seek(c->idx, after && strcmp(after, prefix) > 0 ?
							    after : prefix);
		struct gt_obj *o = gt_index_at(c->idx, &p);

		if (after && o && !strcmp(o->key, after)) {
			gt_index_next(c->idx, &p);
			o = gt_index_at(c->idx, &p);
		}
		for (; o; gt_index_next(c->idx, &p), o = gt_index_at(c->idx, &p)) {
			if (strncmp(o->key, prefix, plen))
				break;
			if (fn(o, ctx))
				break;
		}
	}
	pthread_rwlock_unlock(&s->lock);
	return 0;
}

void gt_store_compact(struct gt_store *s, int64_t rev)
{
	struct gt_err err;

	pthread_mutex_lock(&s->qlock);
	gt_err_clear(&err);
	if (s->be->ops->compact(s->be, rev, &err) < 0)
		gt_warn("store: compaction failed: %s", err.msg);
	pthread_rwlock_wrlock(&s->lock);
	if (rev > s->compacted)
		s->compacted = rev;
	pthread_rwlock_unlock(&s->lock);
	pthread_mutex_unlock(&s->qlock);
}

void gt_store_stats(struct gt_store *s, struct gt_store_stats *st)
{
	pthread_mutex_lock(&s->qlock);
	st->writes = s->nwrites;
	st->batches = s->nbatches;
	pthread_mutex_unlock(&s->qlock);
	st->objects = 0;
	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < s->ncolls; i++)
		st->objects += gt_index_count(s->colls[i]->idx);
	pthread_rwlock_unlock(&s->lock);
}

/* ---- watches ---- */

int gt_store_watch(struct gt_store *s, const char *prefix, int64_t from_rev,
		   struct gt_watch **out, struct gt_err *err)
{
	struct gt_watch *w;
	int64_t oldest;

	pthread_rwlock_rdlock(&s->lock);
	oldest = oldest_locked(s);
	if (from_rev < atomic_load(&s->rev) && from_rev + 1 < oldest) {
		pthread_rwlock_unlock(&s->lock);
		return gt_err_set(err, -ENODATA, "too old resource version: %lld (%lld)",
				  (long long)from_rev, (long long)(oldest - 1));
	}
	pthread_rwlock_unlock(&s->lock);
	w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->prefix = xstrdup(prefix);
	w->plen = strlen(prefix);
	w->cursor = from_rev;
	*out = w;
	return 0;
}

static int next_locked(struct gt_watch *w, struct gt_event *ev)
{
	struct gt_store *s = w->s;
	int64_t rev = atomic_load(&s->rev);

	while (w->cursor < rev) {
		int64_t r = w->cursor + 1;
		struct ring_ev *e;

		if (r < oldest_locked(s))
			return -ENODATA;
		e = &s->ring[(uint64_t)r % s->cap];
		w->cursor = r;
		if (e->rev != r || !e->obj)
			continue;
		if (strncmp(e->obj->key, w->prefix, w->plen))
			continue;
		ev->type = e->type;
		ev->rev = r;
		ev->obj = gt_obj_ref(e->obj);
		ev->prev = gt_obj_ref(e->prev);
		return 0;
	}
	return -EAGAIN;
}

int gt_watch_next(struct gt_watch *w, struct gt_event *ev, int timeout_ms)
{
	struct gt_store *s = w->s;
	struct timespec deadline;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (atomic_load(&s->closing))
			return -ECANCELED;
		pthread_rwlock_rdlock(&s->lock);
		r = next_locked(w, ev);
		pthread_rwlock_unlock(&s->lock);
		if (r != -EAGAIN)
			return r;
		pthread_mutex_lock(&s->wlock);
		r = 0;
		while (atomic_load(&s->rev) <= w->cursor && !atomic_load(&s->closing) && r == 0)
			r = pthread_cond_timedwait(&s->wcond, &s->wlock, &deadline);
		pthread_mutex_unlock(&s->wlock);
		if (r == ETIMEDOUT)
			return -ETIMEDOUT;
	}
}

int64_t gt_watch_rev(struct gt_watch *w)
{
	return w->cursor;
}

void gt_watch_close(struct gt_watch *w)
{
	if (!w)
		return;
	free(w->prefix);
	free(w);
}
