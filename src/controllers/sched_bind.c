/*
 * sched_bind.c - bindings (and PodScheduled=False conditions) written off
 * the scheduling thread.  A binding is
 * a store write that waits for its group commit; one at a time, the
 * scheduler would spend most of its time waiting.  So a placed pod is
 * assumed on its node in the snapshot at once (the next pick sees the room
 * taken) and its binding goes to a small pool of writer threads.  The
 * pod's bound state then comes back through the event stream like any
 * other change (gt_schedc_put takes the assumption back as it accounts the
 * bound pod); a binding that fails is handed back to the loop thread,
 * which takes the assumption back and queues the pod again.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "controllers/sched_ctl.h"

struct bind_job {
	char *key, *ns, *name, *node;
	char *msg;              /* set: a PodScheduled=False write, not a binding */
	struct bind_job *next;
};

struct gt_schedc_binder {
	struct gt_api *api;
	pthread_t *thr;
	int n;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct bind_job *head, *tail, *failed;
	bool stop;
};

static void job_free(struct bind_job *j)
{
	free(j->key);
	free(j->ns);
	free(j->name);
	free(j->node);
	free(j->msg);
	free(j);
}

static void *bind_main(void *arg)
{
	struct gt_schedc_binder *b = arg;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct bind_job *j;
		struct gt_err err;
		int r;

		while (!b->head && !b->stop)
			pthread_cond_wait(&b->cond, &b->lock);
		if (!b->head)
			break;
		j = b->head;
		b->head = j->next;
		if (!b->head)
			b->tail = NULL;
		pthread_mutex_unlock(&b->lock);
		gt_err_clear(&err);
		if (j->msg) {
			gt_schedc_unschedulable(b->api, j->ns, j->name, j->msg);
			r = 0;
		} else {
			r = gt_api_bind(b->api, j->ns, j->name, j->node, NULL, &err);
		}
		if (r < 0)
			gt_debug("scheduler: binding %s/%s to %s: %s", j->ns, j->name, j->node, err.msg);
		pthread_mutex_lock(&b->lock);
		if (r < 0) {
			j->next = b->failed;
			b->failed = j;
		} else {
			job_free(j);
		}
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

struct gt_schedc_binder *gt_schedc_binder_new(struct gt_api *api, int threads)
{
	struct gt_schedc_binder *b = xcalloc(1, sizeof(*b));

	b->api = api;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->thr = xcalloc((size_t)threads, sizeof(*b->thr));
	for (int i = 0; i < threads; i++)
		if (pthread_create(&b->thr[b->n], NULL, bind_main, b) == 0)
			pthread_setname_np(b->thr[b->n++], "gt-sched-write");
	return b;
}

void gt_schedc_binder_free(struct gt_schedc_binder *b)
{
	struct bind_job *j;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	for (int i = 0; i < b->n; i++)
		pthread_join(b->thr[i], NULL);
	while ((j = b->failed)) {
		b->failed = j->next;
		job_free(j);
	}
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b->thr);
	free(b);
}

void gt_schedc_binder_add(struct gt_schedc_binder *b, const char *key, const json_t *pod,
			  const char *node, const char *msg)
{
	struct bind_job *j = xcalloc(1, sizeof(*j));

	j->key = xstrdup(key);
	j->ns = xstrdup(gt_json_str(pod, "metadata.namespace") ?: "default");
	j->name = xstrdup(gt_json_str(pod, "metadata.name") ?: "");
	j->node = xstrdup(node ? node : "");
	j->msg = msg ? xstrdup(msg) : NULL;
	pthread_mutex_lock(&b->lock);
	if (b->tail)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* Calls fn with the key of every binding that failed since the last call. */
void gt_schedc_binder_failed(struct gt_schedc_binder *b, void (*fn)(const char *key, void *arg),
			     void *arg)
{
	struct bind_job *j;

	pthread_mutex_lock(&b->lock);
	j = b->failed;
	b->failed = NULL;
	pthread_mutex_unlock(&b->lock);
	while (j) {
		struct bind_job *next = j->next;

		fn(j->key, arg);
		job_free(j);
		j = next;
	}
}
