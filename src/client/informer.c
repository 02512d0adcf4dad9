/*
 * informer.c - gt_informer_run: list + watch of one collection, the way
 * client-go's reflector does it.  A LIST (all pages) is diffed against the
 * informer's own map (namespace/name → object) into add/update/delete
 * callbacks; a WATCH from the list's resourceVersion then applies events as
 * they stream in (newline-delimited JSON, split here across curl's
 * chunks).  A watch that ends normally resumes from the last
 * resourceVersion seen; 410 Expired (an ERROR event or an HTTP 410) relists
 * at once; other failures relist after an exponential back-off.
 *
 * Paginated lists: this server's continue pages are not snapshots of one
 * revision, so the watch starts from the FIRST page's resourceVersion.
 * Events between that and the last page are then replayed; replays of a
 * state the map already holds (same resourceVersion) are dropped.
 */
#include <string.h>
#include <time.h>

#include "client/client_int.h"

#define PAGE_LIMIT "500"
#define WATCH_TIMEOUT_S 300
#define MAX_LINE (64u << 20)
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000

struct inf {
	struct gt_client *c;
	const char *list_path;
	const struct gt_informer_ops *ops;
	void *ctx;
	const _Atomic bool *stop;
	json_t *items;          /* key → object, our view of the collection */
	char *rv;               /* where the next watch starts */
	struct gt_buf line;     /* unfinished watch line */
	bool expired;           /* the watch reported 410 */
	int nevents;            /* events seen by the current watch */
	struct gt_err err;
};

static bool stopped(const struct inf *in)
{
	return atomic_load(in->stop);
}

/* "namespace/name", or "name" for cluster-scoped objects; NULL without a name. */
static char *obj_key(const json_t *o)
{
	const char *ns = gt_json_str(o, "metadata.namespace"), *n = gt_json_str(o, "metadata.name");

	if (!n)
		return NULL;
	return ns && *ns ? xasprintf("%s/%s", ns, n) : xstrdup(n);
}

static bool same_rv(const json_t *a, const json_t *b)
{
	const char *ra = gt_json_str(a, "metadata.resourceVersion");
	const char *rb = gt_json_str(b, "metadata.resourceVersion");

	return ra && rb && !strcmp(ra, rb);
}

/* list_path with more query parameters appended. */
static void path_with(struct gt_buf *b, const char *list_path, const char *params)
{
	gt_buf_reset(b);
	gt_buf_adds(b, list_path);
	gt_buf_addc(b, strchr(list_path, '?') ? '&' : '?');
	gt_buf_adds(b, params);
}

static void set_rv(struct inf *in, const char *rv)
{
	if (rv && *rv) {
		free(in->rv);
		in->rv = xstrdup(rv);
	}
}

/* ---- list ---- */

static void deliver_list(struct inf *in, json_t *fresh)
{
	const char *key;
	json_t *obj, *old;

	json_object_foreach(fresh, key, obj) {
		old = json_object_get(in->items, key);
		if (!old) {
			if (in->ops->on_add)
				in->ops->on_add(in->ctx, obj);
		} else if (!same_rv(old, obj) && in->ops->on_update) {
			in->ops->on_update(in->ctx, old, obj);
		}
	}
	json_object_foreach(in->items, key, old)
		if (!json_object_get(fresh, key) && in->ops->on_delete)
			in->ops->on_delete(in->ctx, old);
}

static int list(struct inf *in, struct gt_err *err)
{
	struct gt_buf path = GT_BUF_INIT, resp = GT_BUF_INIT, params = GT_BUF_INIT;
	json_t *fresh = json_object();
	char *rv = NULL, *cont = NULL;
	int r;

	gt_buf_init(&path);
	gt_buf_init(&resp);
	gt_buf_init(&params);
	for (;;) {
		struct gt_client_req rq = { .method = "GET", .max_s = -1, .stop = in->stop };
		GT_AUTOJSON json_t *page = NULL;
		json_t *obj;
		size_t i;

		gt_buf_reset(&params);
		gt_buf_adds(&params, "limit=" PAGE_LIMIT);
		if (cont) {
			gt_buf_adds(&params, "&continue=");
			gt_client_urlencode(&params, cont);
		}
		path_with(&path, in->list_path, params.data);
		rq.path = path.data;
		gt_buf_reset(&resp);
		if ((r = gt_client_request(in->c, &rq, &resp, err)) < 0)
			goto out;
		if (gt_json_parse_lenient(resp.data, resp.len, &page, err) < 0 ||
		    !json_is_array(json_object_get(page, "items"))) {
			r = gt_err_set(err, -EIO, "GET %s: not a list", path.data);
			goto out;
		}
		json_array_foreach(json_object_get(page, "items"), i, obj) {
			char *key = obj_key(obj);

			if (key)
				json_object_set(fresh, key, obj);
			free(key);
		}
		if (!rv)
			rv = xstrdup(gt_json_str(page, "metadata.resourceVersion") ?: "");
		free(cont);
		cont = NULL;
		if (gt_json_str(page, "metadata.continue") && *gt_json_str(page, "metadata.continue"))
			cont = xstrdup(gt_json_str(page, "metadata.continue"));
		if (!cont)
			break;
	}
	deliver_list(in, fresh);
	json_decref(in->items);
	in->items = fresh;
	fresh = NULL;
	free(in->rv);
	in->rv = rv;
	rv = NULL;
	r = 0;
out:
	json_decref(fresh);
	free(rv);
	free(cont);
	gt_buf_release(&path);
	gt_buf_release(&resp);
	gt_buf_release(&params);
	return r;
}

/* ---- watch ---- */

static int apply_event(struct inf *in, const char *type, json_t *obj)
{
	char *key;
	json_t *old;

	if (!strcmp(type, "BOOKMARK")) {
		set_rv(in, gt_json_str(obj, "metadata.resourceVersion"));
		return 0;
	}
	if (!strcmp(type, "ERROR")) {
		int64_t code = 0;
		const char *msg = gt_json_str(obj, "message");

		gt_json_int(obj, "code", &code);
		if (code == 410) {
			in->expired = true;
			return 1;
		}
		return gt_err_set(&in->err, -EIO, "watch %s: error event %lld: %s", in->list_path,
				  (long long)code, msg ? msg : "(no message)");
	}
	key = obj_key(obj);
	if (!key)
		return gt_err_set(&in->err, -EIO, "watch %s: %s event without metadata.name",
				  in->list_path, type);
	old = json_incref(json_object_get(in->items, key));
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
		if (!old || !same_rv(old, obj)) {
			json_object_set(in->items, key, obj);
			if (!old && in->ops->on_add)
				in->ops->on_add(in->ctx, obj);
			else if (old && in->ops->on_update)
				in->ops->on_update(in->ctx, old, obj);
		}
	} else if (!strcmp(type, "DELETED")) {
		if (old) {
			json_object_del(in->items, key);
			if (in->ops->on_delete)
				in->ops->on_delete(in->ctx, obj);
		}
	}
	json_decref(old);
	free(key);
	set_rv(in, gt_json_str(obj, "metadata.resourceVersion"));
	return 0;
}

static int handle_line(struct inf *in, const char *s, size_t n)
{
	GT_AUTOJSON json_t *ev = NULL;
	struct gt_err perr;
	const char *type;
	json_t *obj;

	while (n && (s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (!n)
		return 0;
	gt_err_clear(&perr);
	if (gt_json_parse_lenient(s, n, &ev, &perr) < 0)
		return gt_err_set(&in->err, -EIO, "watch %s: invalid event: %s", in->list_path,
				  perr.msg);
	type = gt_json_str(ev, "type");
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj))
		return gt_err_set(&in->err, -EIO, "watch %s: event without type or object",
				  in->list_path);
	in->nevents++;
	return apply_event(in, type, obj);
}

static int on_watch_data(const char *buf, size_t len, void *arg)
{
	struct inf *in = arg;
	size_t start = 0;
	char *nl;
	int r = 0;

	gt_buf_add(&in->line, buf, len);
	while (!r && (nl = memchr(in->line.data + start, '\n', in->line.len - start))) {
		size_t end = (size_t)(nl - in->line.data);

		r = handle_line(in, in->line.data + start, end - start);
		start = end + 1;
	}
	if (start) {
		memmove(in->line.data, in->line.data + start, in->line.len - start);
		in->line.len -= start;
		in->line.data[in->line.len] = '\0';
	}
	if (!r && in->line.len > MAX_LINE)
		r = gt_err_set(&in->err, -E2BIG, "watch %s: event larger than %u bytes",
			       in->list_path, MAX_LINE);
	return r;
}

static int watch(struct inf *in)
{
	struct gt_buf path = GT_BUF_INIT, params = GT_BUF_INIT;
	struct gt_client_req rq = {
		.method = "GET", .max_s = WATCH_TIMEOUT_S + 30, .stop = in->stop,
		.on_data = on_watch_data, .ctx = in,
	};
	int r;

	gt_buf_init(&path);
	gt_buf_init(&params);
	gt_buf_addf(&params, "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d",
		    WATCH_TIMEOUT_S);
	if (in->rv && *in->rv) {
		gt_buf_adds(&params, "&resourceVersion=");
		gt_client_urlencode(&params, in->rv);
	}
	path_with(&path, in->list_path, params.data);
	rq.path = path.data;
	in->expired = false;
	in->nevents = 0;
	gt_buf_reset(&in->line);
	gt_err_clear(&in->err);
	r = gt_client_request(in->c, &rq, NULL, &in->err);
	gt_buf_release(&path);
	gt_buf_release(&params);
	return r;
}

/* ---- the loop ---- */

static void backoff(struct inf *in, int *delay_ms)
{
	for (int waited = 0; waited < *delay_ms && !stopped(in); waited += 50) {
		struct timespec ts = { 0, 50 * 1000000L };

		nanosleep(&ts, NULL);
	}
	*delay_ms = *delay_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *delay_ms * 2;
}

static void report(struct inf *in, const struct gt_err *err)
{
	if (in->ops->on_error && !stopped(in))
		in->ops->on_error(in->ctx, err);
}

int gt_informer_run(struct gt_client *c, const char *list_path,
		    const struct gt_informer_ops *ops, void *ctx, const _Atomic bool *stop)
{
	struct inf in = {
		.c = c, .list_path = list_path, .ops = ops, .ctx = ctx, .stop = stop,
	};
	int delay = BACKOFF_MIN_MS, expired_in_a_row = 0;
	bool need_list = true, synced = false;
	struct gt_err err;

	if (!c || !list_path || list_path[0] != '/' || !ops || !stop)
		return -EINVAL;
	in.items = json_object();
	gt_buf_init(&in.line);
	while (!stopped(&in)) {
		int64_t t0;
		int r;

		if (need_list) {
			gt_err_clear(&err);
			r = list(&in, &err);
			if (stopped(&in))
				break;
			if (r < 0) {
				report(&in, &err);
				backoff(&in, &delay);
				continue;
			}
			delay = BACKOFF_MIN_MS;
			need_list = false;
			if (!synced) {
				synced = true;
				if (ops->on_synced)
					ops->on_synced(ctx);
			}
		}
		t0 = gt_now_ms();
		r = watch(&in);
		if (stopped(&in))
			break;
		if (in.expired || r == -ENODATA) {
			/* A second 410 right away means the list itself is behind: slow down. */
			if (++expired_in_a_row > 1)
				backoff(&in, &delay);
			need_list = true;
			continue;
		}
		expired_in_a_row = 0;
		if (r == 0 && (in.nevents > 0 || gt_now_ms() - t0 >= 1000))
			continue; /* the server ended the watch: resume from in.rv */
		if (r == 0)
			gt_err_set(&in.err, -EIO, "watch %s: ended at once", list_path);
		report(&in, &in.err);
		backoff(&in, &delay);
		need_list = true;
	}
	json_decref(in.items);
	free(in.rv);
	gt_buf_release(&in.line);
	return 0;
}
