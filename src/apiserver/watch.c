/*
 * watch.c - the watch verb: a chunked stream of newline-terminated
 * WatchEvents, optionally as one-row Tables (kubectl get -w), with
 * label/field selectors applied to both the old and the new state (an
 * object leaving the selection is DELETED for that watcher), bookmarks,
 * timeoutSeconds, and 410 Expired reported as an ERROR event.
 */
#include <string.h>
#include <time.h>

#include "api/selector.h"
#include "api/table.h"
#include "apiserver/internal.h"

int gt_parse_selectors(struct gt_http_req *req, const struct gt_resource *r,
		       struct gt_labelsel **ls, struct gt_fieldsel **fs, struct gt_err *err);
void gt_list_prefix(const struct route *rt, char *out, size_t n);

struct wctx {
	struct gt_api *api;
	struct gt_http_req *req;
	const struct gt_resource *res;
	struct gt_watch *w;
	struct gt_labelsel *ls;
	struct gt_fieldsel *fs;
	bool table, headers_sent, bookmarks, done;
	enum gt_table_include inc;
	int64_t deadline_ms, last_bookmark_ms;
	struct gt_obj **init;
	size_t ninit, iinit, capinit;
	json_t *error;          /* Status to send as an ERROR event, then end */
	struct gt_buf out;
	size_t off;
};

static bool matches(struct wctx *c, const struct gt_obj *o)
{
	if (!o)
		return false;
	if (c->ls && !gt_labelsel_match(c->ls, gt_json_path(o->obj, "metadata.labels")))
		return false;
	if (c->fs && !gt_fieldsel_match(c->fs, o->obj))
		return false;
	return true;
}

static void emit(struct wctx *c, const char *type, const struct gt_obj *o)
{
	gt_buf_addf(&c->out, "{\"type\":\"%s\",\"object\":", type);
	if (c->table) {
		json_t *t = gt_table_new(c->res);

		gt_table_add_row(t, c->res, o->obj, c->inc, time(NULL));
		gt_json_set_str(t, "metadata.resourceVersion",
				gt_json_str(o->obj, "metadata.resourceVersion") ?: "");
		if (c->headers_sent)
			gt_table_drop_headers(t);
		c->headers_sent = true;
		gt_json_dump_buf(t, &c->out);
		json_decref(t);
	} else {
		gt_buf_add(&c->out, o->json, o->len);
	}
	gt_buf_adds(&c->out, "}\n");
}

static void emit_json(struct wctx *c, const char *type, const json_t *v)
{
	gt_buf_addf(&c->out, "{\"type\":\"%s\",\"object\":", type);
	gt_json_dump_buf(v, &c->out);
	gt_buf_adds(&c->out, "}\n");
}

static void emit_bookmark(struct wctx *c, int64_t rev)
{
	char av[160];

	gt_resource_api_version(c->res, av, sizeof(av));
	gt_buf_addf(&c->out,
		    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"}}}\n",
		    c->res->kind, av, (long long)rev);
}

/* Produces at least one more line into c->out, or marks the stream done. */
static void produce(struct wctx *c)
{
	while (!c->done && c->out.len == c->off) {
		struct gt_event ev;
		int64_t now = gt_now_ms();
		int wait, r;

		if (c->iinit < c->ninit) {
			emit(c, "ADDED", c->init[c->iinit]);
			gt_obj_unref(c->init[c->iinit]);
			c->init[c->iinit++] = NULL;
			return;
		}
		if (c->error) {
			emit_json(c, "ERROR", c->error);
			c->done = true;
			return;
		}
		if (atomic_load(&c->api->stopping) || now >= c->deadline_ms ||
		    gt_http_peer_closed(c->req)) {
			c->done = true;
			return;
		}
		wait = (int)(c->deadline_ms - now < 1000 ? c->deadline_ms - now : 1000);
		r = gt_watch_next(c->w, &ev, wait);
		if (r == -ETIMEDOUT) {
			if (c->bookmarks && gt_now_ms() - c->last_bookmark_ms >= 60000) {
				c->last_bookmark_ms = gt_now_ms();
				emit_bookmark(c, gt_watch_rev(c->w));
			}
			continue;
		}
		if (r == -ENODATA) {
			struct gt_err err;

			gt_err_clear(&err);
			gt_err_set(&err, -ENODATA, "too old resource version");
			c->error = gt_status_object(&err, NULL);
			continue;
		}
		if (r < 0) {
			c->done = true;
			return;
		}
		switch (ev.type) {
		case GT_EVENT_ADDED:
			if (matches(c, ev.obj))
				emit(c, "ADDED", ev.obj);
			break;
		case GT_EVENT_MODIFIED: {
			bool now_m = matches(c, ev.obj), was = ev.prev ? matches(c, ev.prev) : now_m;

			if (now_m && was)
				emit(c, "MODIFIED", ev.obj);
			else if (now_m)
				emit(c, "ADDED", ev.obj);
			else if (was)
				emit(c, "DELETED", ev.obj);
			break;
		}
		case GT_EVENT_DELETED:
			if (matches(c, ev.prev ? ev.prev : ev.obj))
				emit(c, "DELETED", ev.obj);
			break;
		}
		gt_event_release(&ev);
	}
}

static ssize_t stream_fn(void *arg, char *buf, size_t max)
{
	struct wctx *c = arg;
	size_t n;

	if (c->out.len == c->off) {
		gt_buf_reset(&c->out);
		c->off = 0;
		produce(c);
		if (c->out.len == 0)
			return -1;
	}
	n = c->out.len - c->off;
	if (n > max)
		n = max;
	memcpy(buf, c->out.data + c->off, n);
	c->off += n;
	return (ssize_t)n;
}

static void free_ctx(void *arg)
{
	struct wctx *c = arg;

	for (size_t i = c->iinit; i < c->ninit; i++)
		gt_obj_unref(c->init[i]);
	free(c->init);
	gt_watch_close(c->w);
	gt_labelsel_free(c->ls);
	gt_fieldsel_free(c->fs);
	json_decref(c->error);
	gt_buf_release(&c->out);
	gt_resource_unref(c->res);
	free(c);
}

static int collect(struct gt_obj *o, void *arg)
{
	struct wctx *c = arg;

	if (!matches(c, o))
		return 0;
	gt_grow((void **)&c->init, &c->capinit, c->ninit + 1, sizeof(*c->init));
	c->init[c->ninit++] = gt_obj_ref(o);
	return 0;
}

void gt_handle_watch(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	struct wctx *c = xcalloc(1, sizeof(*c));
	const char *rvs = gt_http_query(req, "resourceVersion");
	const char *ts = gt_http_query(req, "timeoutSeconds");
	const char *bm = gt_http_query(req, "allowWatchBookmarks");
	const char *inc = gt_http_query(req, "includeObject");
	char prefix[600];
	struct gt_err err;
	int64_t from = 0, timeout = 0;
	bool b = false;

	gt_err_clear(&err);
	c->api = api;
	c->req = req;
	c->res = rt->res;
	rt->res = NULL; /* the stream owns the reference now */
	gt_buf_init(&c->out);
	if (gt_parse_selectors(req, c->res, &c->ls, &c->fs, &err) < 0 ||
	    (rvs && *rvs && (gt_parse_i64(rvs, &from) < 0 || from < 0) &&
	     gt_err_set(&err, -EINVAL, "invalid resourceVersion: %s", rvs)) ||
	    (ts && *ts && (gt_parse_i64(ts, &timeout) < 0 || timeout < 0) &&
	     gt_err_set(&err, -EINVAL, "invalid timeoutSeconds: %s", ts))) {
		gt_reply_error(req, &err, NULL);
		free_ctx(c);
		return;
	}
	if (!timeout) {
		unsigned char rnd;

		gt_random_bytes(&rnd, 1);
		timeout = 1800 + (rnd * 1800) / 256;
	}
	c->deadline_ms = gt_now_ms() + timeout * 1000;
	c->last_bookmark_ms = gt_now_ms();
	c->bookmarks = bm && gt_parse_bool(bm, &b) == 0 && b;
	c->table = gt_wants_table(req);
	c->inc = inc && !strcmp(inc, "None") ? GT_INCLUDE_NONE :
		 inc && !strcmp(inc, "Object") ? GT_INCLUDE_OBJECT : GT_INCLUDE_METADATA;
	{
		struct route tmp = *rt;

		tmp.res = c->res;
		gt_list_prefix(&tmp, prefix, sizeof(prefix));
	}
	if (from == 0) {
		/* State first (synthetic ADDED), then changes after that revision. */
		gt_store_list(api->store, prefix, NULL, collect, c, &from);
	}
	if (gt_store_watch(api->store, prefix, from, &c->w, &err) < 0) {
		c->error = gt_status_object(&err, NULL);
		c->w = NULL;
	}
	if (!c->w) {
		/* Keep a watcher-less stream that only sends the ERROR. */
		c->done = false;
	}
	gt_http_reply_stream(req, 200, "application/json", stream_fn, c, free_ctx);
}
