/*
 * loop.c - the event-driven loop the controllers share (see controllers.h):
 * read the store's event stream; when an event is relevant, drain what is
 * queued and run one pass; while the last pass asked to be retried, run
 * one at least every retry_ms, also while events keep arriving.
 */
#include <pthread.h>
#include <stdlib.h>

#include "controllers/controllers.h"

static void *loop_main(void *arg)
{
	struct gt_loop *l = arg;
	struct gt_store *st = gt_api_store(l->api);
	struct gt_watch *w = NULL;
	int64_t last = 0, dirty_since = 0;
	int again = 0;
	bool dirty = true;

	while (!atomic_load(&l->stop)) {
		struct gt_event ev;
		int r;

		if (!w) {
			if (gt_store_watch(st, "", gt_store_rev(st), &w, NULL) < 0)
				w = NULL;
			else if (l->opened)
				l->opened(l->ctx); /* events before this one were missed */
			dirty = true;
		}
		/* read what is there; wait only when nothing needs a pass */
		/* with max_batch_ms, a busy stream does not hold a due pass back for longer */
		if (dirty && l->max_batch_ms > 0 && gt_now_ms() - dirty_since >= l->max_batch_ms)
			r = -ETIMEDOUT;
		else
			r = w ? gt_watch_next(w, &ev, dirty ? 0 : 200) : -ETIMEDOUT;
		if (r == 0) {
			if (!dirty && l->relevant(&ev, again > 0, l->ctx)) {
				dirty = true;
				dirty_since = gt_now_ms();
			} else if (dirty) {
				l->relevant(&ev, again > 0, l->ctx);
			}
			gt_event_release(&ev);
			/* a steady stream of events must not starve a due retry */
			if (!(again > 0 && gt_now_ms() - last > l->retry_ms))
				continue;
		}
		if (r == -ENODATA || r == -ECANCELED) {
			gt_watch_close(w);
			w = NULL;
			dirty = true;
			if (r == -ECANCELED)
				break;
		}
		if (dirty || (again > 0 && gt_now_ms() - last > l->retry_ms)) {
			dirty = false;
			last = gt_now_ms();
			again = l->pass(l->api, l->ctx);
		}
	}
	gt_watch_close(w);
	return NULL;
}

int gt_loop_start(struct gt_loop *l, struct gt_err *err)
{
	atomic_store(&l->stop, false);
	if (pthread_create(&l->thr, NULL, loop_main, l))
		return gt_err_set(err, -EAGAIN, "cannot start a controller thread");
	l->started = true;
	return 0;
}

void gt_loop_stop(struct gt_loop *l)
{
	if (!l->started)
		return;
	atomic_store(&l->stop, true);
	pthread_join(l->thr, NULL);
	l->started = false;
}
