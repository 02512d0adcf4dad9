/*
 * Unit tests for src/client/: a real API server runs in-process over HTTPS
 * (SQLite store with a short watch history, the api handler, a CA from
 * gt_tls_ensure) and the client talks to it: kubeconfig loading (inline and
 * file CA, inline token and tokenFile), the verbs and the errno mapping of
 * Kubernetes Status answers, TLS and connection failures, text and streamed
 * GETs, and the informer (event order, relist after 410, prompt stop).
 */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "apiserver/apiserver.h"
#include "client/client.h"
#include "http/server.h"
#include "http/tls.h"
#include "store/backend.h"

#define TOKEN "secret-token-123"

static char tmpdir[64], url[64];
static struct gt_store *store;
static struct gt_api *api;
static struct gt_http_server *http;
static struct gt_tls_material tls;

static void write_text(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

/* A kubeconfig in tmpdir/name with the given cluster and user lines. */
static void write_kubeconfig(const char *name, const char *cluster_extra, const char *user)
{
	char buf[8192];

	snprintf(buf, sizeof(buf),
		 "apiVersion: v1\nkind: Config\n"
		 "clusters:\n- name: other\n  cluster:\n    server: https://192.0.2.1:1\n"
		 "- name: gantry\n  cluster:\n    server: %s\n%s"
		 "contexts:\n- name: other\n  context: {cluster: other, user: nobody}\n"
		 "- name: gantry\n  context:\n    cluster: gantry\n    user: admin\n"
		 "current-context: gantry\n"
		 "users:\n- name: admin\n  user:\n%s",
		 url, cluster_extra, user);
	write_text(name, buf);
}

static struct gt_client *kc_client(const char *name)
{
	struct gt_client *c = NULL;
	struct gt_err err;
	char path[256];

	gt_err_clear(&err);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (gt_client_from_kubeconfig(path, &c, &err) < 0)
		fprintf(stderr, "  kubeconfig %s: %s\n", name, err.msg);
	return c;
}

static struct gt_client *main_client(void)
{
	struct gt_client_config cfg = { .server_url = url, .token = TOKEN, .ca_pem = tls.ca_pem };
	struct gt_client *c = NULL;

	if (gt_client_new(&cfg, &c, NULL) < 0)
		abort();
	return c;
}

static json_t *cm(const char *name, const char *val)
{
	return json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			 "metadata", "name", name, "data", "k", val);
}

TEST(kubeconfig_inline_ca_and_token)
{
	char *b64 = gt_base64_encode(tls.ca_pem, strlen(tls.ca_pem)), extra[4096];
	struct gt_client *c;
	json_t *ns = NULL;
	struct gt_err err;

	snprintf(extra, sizeof(extra), "    certificate-authority-data: %s\n", b64);
	free(b64);
	write_kubeconfig("kc-data", extra, "    token: " TOKEN "\n");
	c = kc_client("kc-data");
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_STR(gt_client_server(c), url);
	gt_err_clear(&err);
	CHECK_INT(gt_client_get(c, "/api/v1/namespaces/default", &ns, &err), 0);
	CHECK_STR(gt_json_str(ns, "metadata.name"), "default");
	json_decref(ns);
	gt_client_free(c);
}

TEST(kubeconfig_ca_file_and_token_file)
{
	struct gt_client *c;
	char *text = NULL;
	size_t len = 0;

	write_text("token", "  " TOKEN "\n");
	/* Relative paths: against the kubeconfig's directory. */
	write_kubeconfig("kc-file", "    certificate-authority: pki/ca.crt\n",
			 "    tokenFile: token\n");
	c = kc_client("kc-file");
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_INT(gt_client_get_text(c, "/healthz", &text, &len, NULL), 0);
	CHECK_STR(text, "ok");
	CHECK_INT(len, 2);
	free(text);
	gt_client_free(c);
}

TEST(kubeconfig_errors)
{
	struct gt_client *c = NULL;
	struct gt_err err;
	char path[256];

	gt_err_clear(&err);
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	CHECK_INT(gt_client_from_kubeconfig(path, &c, &err), -ENOENT);
	CHECK(strstr(err.msg, "missing") != NULL);

	write_text("kc-bad", "clusters:\n- name: x\n  cluster: {}\ncontexts:\n- name: x\n"
		   "  context: {cluster: x}\ncurrent-context: x\n");
	snprintf(path, sizeof(path), "%s/kc-bad", tmpdir);
	gt_err_clear(&err);
	CHECK_INT(gt_client_from_kubeconfig(path, &c, &err), -EINVAL);
	CHECK(strstr(err.msg, "clusters[name=\"x\"].cluster.server: required") != NULL);

	write_text("kc-noctx", "clusters: []\ncontexts: []\ncurrent-context: nope\n");
	snprintf(path, sizeof(path), "%s/kc-noctx", tmpdir);
	gt_err_clear(&err);
	CHECK_INT(gt_client_from_kubeconfig(path, &c, &err), -ENOENT);
	CHECK(strstr(err.msg, "context \"nope\" not found") != NULL);

	write_text("kc-b64", "clusters:\n- name: x\n  cluster: {server: 'https://h', "
		   "certificate-authority-data: '!!!'}\ncontexts:\n- name: x\n"
		   "  context: {cluster: x}\ncurrent-context: x\n");
	snprintf(path, sizeof(path), "%s/kc-b64", tmpdir);
	gt_err_clear(&err);
	CHECK_INT(gt_client_from_kubeconfig(path, &c, &err), -EINVAL);
	CHECK(strstr(err.msg, "certificate-authority-data") != NULL);

	write_text("kc-yaml", "clusters: [\n");
	snprintf(path, sizeof(path), "%s/kc-yaml", tmpdir);
	CHECK_INT(gt_client_from_kubeconfig(path, &c, NULL), -EINVAL);
	CHECK(c == NULL);
}

TEST(crud_and_errno_mapping)
{
	struct gt_client *c = main_client();
	const char *base = "/api/v1/namespaces/default/configmaps";
	json_t *a = cm("a", "1"), *out = NULL, *stale;
	struct gt_err err;

	gt_err_clear(&err);
	CHECK_INT(gt_client_create(c, base, a, &out, &err), 0);
	CHECK_STR(gt_json_str(out, "metadata.name"), "a");
	stale = json_deep_copy(out);
	json_decref(out);
	out = NULL;

	gt_err_clear(&err);
	CHECK_INT(gt_client_create(c, base, a, NULL, &err), -EEXIST);
	CHECK(strstr(err.msg, "already exists") != NULL);

	/* Conflict: an update carrying an old resourceVersion. */
	json_object_set_new(json_object_get(stale, "data"), "k", json_string("2"));
	CHECK_INT(gt_client_update(c, "/api/v1/namespaces/default/configmaps/a", stale, &out, NULL),
		  0);
	json_decref(out);
	out = NULL;
	gt_err_clear(&err);
	CHECK_INT(gt_client_update(c, "/api/v1/namespaces/default/configmaps/a", stale, NULL, &err),
		  -ESTALE);
	CHECK(strstr(err.msg, "modified") != NULL);
	json_decref(stale);

	{
		json_t *p = json_pack("{s:{s:s}}", "data", "k2", "v2");

		CHECK_INT(gt_client_patch(c, "/api/v1/namespaces/default/configmaps/a", NULL, p, &out,
					  NULL), 0);
		CHECK_STR(gt_json_str(out, "data.k2"), "v2");
		CHECK_STR(gt_json_str(out, "data.k"), "2");
		json_decref(out);
		out = NULL;
		json_decref(p);
	}

	gt_err_clear(&err);
	CHECK_INT(gt_client_get(c, "/api/v1/namespaces/default/configmaps/nope", &out, &err),
		  -ENOENT);
	CHECK(out == NULL);
	CHECK(strstr(err.msg, "\"nope\" not found") != NULL);

	{
		json_t *bad = cm("Bad_Name", "x");

		gt_err_clear(&err);
		CHECK_INT(gt_client_create(c, base, bad, NULL, &err), -EBADMSG);
		CHECK(err.ncauses >= 1);
		CHECK_STR(err.causes[0].field, "metadata.name");
		json_decref(bad);
	}

	gt_err_clear(&err);
	CHECK_INT(gt_client_get(c, "/api/v1/namespaces/default/configmaps?labelSelector=a%3D%3D%3Db",
				NULL, &err), -EINVAL);

	{
		json_t *opts = json_pack("{s:s,s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1",
					 "propagationPolicy", "Background");

		CHECK_INT(gt_client_delete(c, "/api/v1/namespaces/default/configmaps/a", opts, NULL,
					   NULL), 0);
		json_decref(opts);
	}
	CHECK_INT(gt_client_delete(c, "/api/v1/namespaces/default/configmaps/a", NULL, NULL, NULL),
		  -ENOENT);
	/* A raw request with an unsupported patch type. */
	gt_err_clear(&err);
	CHECK_INT(gt_client_do(c, "PATCH", "/api/v1/namespaces/default", "text/plain", a, NULL,
			       &err), -EPROTONOSUPPORT);
	json_decref(a);
	gt_client_free(c);
}

TEST(bad_token_and_transport_errors)
{
	struct gt_client_config cfg = { .server_url = url, .token = "wrong", .ca_pem = tls.ca_pem };
	struct gt_client *c = NULL;
	struct gt_err err;
	char dir[128], other[64];
	struct gt_tls_material m2 = { 0 };

	CHECK_INT(gt_client_new(&cfg, &c, NULL), 0);
	gt_err_clear(&err);
	CHECK_INT(gt_client_get(c, "/api/v1/namespaces", NULL, &err), -ENOKEY);
	CHECK(err.msg[0] != '\0');
	gt_client_free(c);

	/* A CA that did not sign the server certificate. */
	snprintf(dir, sizeof(dir), "%s/other-pki", tmpdir);
	CHECK_INT(gt_tls_ensure(dir, NULL, &m2, NULL), 0);
	cfg.token = TOKEN;
	cfg.ca_pem = m2.ca_pem;
	CHECK_INT(gt_client_new(&cfg, &c, NULL), 0);
	gt_err_clear(&err);
	CHECK_INT(gt_client_get(c, "/api/v1/namespaces", NULL, &err), -EPROTO);
	CHECK(strstr(err.msg, "certificate") != NULL);
	gt_client_free(c);

	/* Skipping verification works with any CA. */
	cfg.insecure = true;
	CHECK_INT(gt_client_new(&cfg, &c, NULL), 0);
	CHECK_INT(gt_client_get(c, "/api/v1/namespaces", NULL, NULL), 0);
	gt_client_free(c);
	gt_tls_material_release(&m2);

	/* No trust at all: the system bundle does not know our CA. */
	cfg.insecure = false;
	cfg.ca_pem = NULL;
	CHECK_INT(gt_client_new(&cfg, &c, NULL), 0);
	CHECK_INT(gt_client_get(c, "/api/v1/namespaces", NULL, NULL), -EPROTO);
	gt_client_free(c);

	/* Nothing listening. */
	snprintf(other, sizeof(other), "https://127.0.0.1:1");
	cfg.server_url = other;
	CHECK_INT(gt_client_new(&cfg, &c, NULL), 0);
	gt_err_clear(&err);
	CHECK_INT(gt_client_get(c, "/api", NULL, &err), -ECONNREFUSED);
	CHECK(strstr(err.msg, "127.0.0.1:1") != NULL);
	gt_client_free(c);

	cfg.server_url = "ftp://x";
	CHECK_INT(gt_client_new(&cfg, &c, NULL), -EINVAL);
	cfg.server_url = url;
	cfg.token = "a\r\nX-Evil: 1";
	CHECK_INT(gt_client_new(&cfg, &c, NULL), -EINVAL);
}

/* ---- streams ---- */

struct sink {
	struct gt_buf data;
	int lines_wanted;
};

static int on_chunk(const char *buf, size_t len, void *ctx)
{
	struct sink *s = ctx;
	int lines = 0;

	gt_buf_add(&s->data, buf, len);
	for (size_t i = 0; i < s->data.len; i++)
		lines += s->data.data[i] == '\n';
	return s->lines_wanted && lines >= s->lines_wanted ? 1 : 0;
}

static _Atomic bool stream_stop;

static void *raise_stop(void *arg)
{
	struct timespec ts = { 0, 300 * 1000000L };

	(void)arg;
	nanosleep(&ts, NULL);
	atomic_store(&stream_stop, true);
	return NULL;
}

TEST(stream)
{
	struct gt_client *c = main_client();
	struct sink s = { .lines_wanted = 1 };
	struct gt_err err;
	pthread_t th;
	int64_t t0;

	gt_buf_init(&s.data);
	/* on_data ends it: a watch lists default's namespace object first. */
	CHECK_INT(gt_client_stream(c, "/api/v1/namespaces?watch=1", on_chunk, &s, NULL, NULL), 0);
	CHECK(strstr(s.data.data, "\"ADDED\"") != NULL);

	/* The stop flag ends a stream that has nothing more to say. */
	gt_buf_reset(&s.data);
	s.lines_wanted = 0;
	atomic_store(&stream_stop, false);
	pthread_create(&th, NULL, raise_stop, NULL);
	t0 = gt_now_ms();
	gt_err_clear(&err);
	CHECK_INT(gt_client_stream(c, "/api/v1/namespaces?watch=1", on_chunk, &s, &stream_stop,
				   &err), -ECANCELED);
	CHECK(gt_now_ms() - t0 < 2000);
	pthread_join(th, NULL);
	CHECK(strstr(s.data.data, "\"ADDED\"") != NULL);

	/* Errors are not streamed. */
	gt_buf_reset(&s.data);
	CHECK_INT(gt_client_stream(c, "/api/v1/nope", on_chunk, &s, NULL, NULL), -ENOENT);
	CHECK_INT(s.data.len, 0);
	gt_buf_release(&s.data);
	gt_client_free(c);
}

/* ---- informer ---- */

struct rec {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gt_buf log;        /* "add:a update:a delete:a synced ..." */
	int hot_updates, errors;
	bool pause_armed, paused, release;
};

static void note(struct rec *r, const char *what, const json_t *obj)
{
	pthread_mutex_lock(&r->mu);
	gt_buf_addf(&r->log, "%s:%s ", what, obj ? gt_json_str(obj, "metadata.name") : "");
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void on_add(void *ctx, json_t *obj)
{
	struct rec *r = ctx;

	note(r, "add", obj);
	if (!strcmp(gt_json_str(obj, "metadata.name"), "pause")) {
		pthread_mutex_lock(&r->mu);
		if (r->pause_armed) {
			r->paused = true;
			pthread_cond_broadcast(&r->cv);
			while (!r->release)
				pthread_cond_wait(&r->cv, &r->mu);
		}
		pthread_mutex_unlock(&r->mu);
	}
}

static void on_update(void *ctx, json_t *old, json_t *obj)
{
	struct rec *r = ctx;

	CHECK(!gt_json_equal(old, obj));
	note(r, "update", obj);
	if (!strcmp(gt_json_str(obj, "metadata.name"), "hot")) {
		pthread_mutex_lock(&r->mu);
		r->hot_updates++;
		pthread_mutex_unlock(&r->mu);
	}
}

static void on_delete(void *ctx, json_t *obj)
{
	note(ctx, "delete", obj);
}

static void on_synced(void *ctx)
{
	note(ctx, "synced", NULL);
}

static void on_error(void *ctx, const struct gt_err *err)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->mu);
	r->errors++;
	pthread_mutex_unlock(&r->mu);
	fprintf(stderr, "  informer error: %s\n", err->msg);
}

static const struct gt_informer_ops rec_ops = {
	.on_add = on_add, .on_update = on_update, .on_delete = on_delete,
	.on_synced = on_synced, .on_error = on_error,
};

struct run {
	struct gt_client *c;
	const char *path;
	struct rec *rec;
	_Atomic bool stop;
	int rc;
	pthread_t th;
};

static void *informer_thread(void *arg)
{
	struct run *run = arg;

	run->rc = gt_informer_run(run->c, run->path, &rec_ops, run->rec, &run->stop);
	return NULL;
}

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	gt_buf_init(&r->log);
}

static void rec_release(struct rec *r)
{
	gt_buf_release(&r->log);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
}

/* Waits up to 5 s for the log to contain want. */
static bool wait_log(struct rec *r, const char *want)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&r->mu);
	while (!(ok = strstr(r->log.data, want) != NULL))
		if (pthread_cond_timedwait(&r->cv, &r->mu, &ts))
			break;
	if (!ok)
		fprintf(stderr, "  log \"%s\" lacks \"%s\"\n", r->log.data, want);
	pthread_mutex_unlock(&r->mu);
	return ok;
}

static void make_ns(struct gt_client *c, const char *name)
{
	json_t *ns = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", name);

	CHECK_INT(gt_client_create(c, "/api/v1/namespaces", ns, NULL, NULL), 0);
	json_decref(ns);
}

static void put_cm(struct gt_client *c, const char *ns, const char *name, const char *val)
{
	char path[200];
	json_t *o = cm(name, val);
	int r;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	r = gt_client_update(c, path, o, NULL, NULL); /* PUT creates when absent */
	if (r == -ENOENT) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
		r = gt_client_create(c, path, o, NULL, NULL);
	}
	CHECK_INT(r, 0);
	json_decref(o);
}

static void del_cm(struct gt_client *c, const char *ns, const char *name)
{
	char path[200];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	CHECK_INT(gt_client_delete(c, path, NULL, NULL, NULL), 0);
}

static int64_t stop_run(struct run *run)
{
	int64_t t0 = gt_now_ms();

	atomic_store(&run->stop, true);
	pthread_join(run->th, NULL);
	return gt_now_ms() - t0;
}

TEST(informer_events_in_order)
{
	struct gt_client *c = main_client();
	struct rec r;
	struct run run = { .c = c, .path = "/api/v1/namespaces/inf/configmaps", .rec = &r };
	int64_t ms;

	rec_init(&r);
	make_ns(c, "inf");
	put_cm(c, "inf", "pre", "0");
	pthread_create(&run.th, NULL, informer_thread, &run);
	CHECK(wait_log(&r, "add:pre synced: "));

	put_cm(c, "inf", "x", "1");
	put_cm(c, "inf", "x", "2");
	del_cm(c, "inf", "x");
	put_cm(c, "default", "elsewhere", "1"); /* not in the watched namespace */
	put_cm(c, "inf", "y", "1");
	CHECK(wait_log(&r, "add:pre synced: add:x update:x delete:x add:y "));
	/* Blocked in the watch now: the stop flag ends it within about a second. */
	ms = stop_run(&run);
	CHECK(ms < 1500);
	CHECK_INT(run.rc, 0);
	CHECK(strstr(r.log.data, "elsewhere") == NULL);
	CHECK_INT(r.errors, 0);
	rec_release(&r);
	gt_client_free(c);
}

TEST(informer_relists_after_410)
{
	struct gt_client *c = main_client();
	struct rec r;
	struct run run = { .c = c, .path = "/api/v1/namespaces/inf2/configmaps", .rec = &r };
	const char *log;

	rec_init(&r);
	make_ns(c, "inf2");
	put_cm(c, "inf2", "hot", "0");
	put_cm(c, "inf2", "pause", "0");
	put_cm(c, "inf2", "victim", "0");
	r.pause_armed = true;
	pthread_create(&run.th, NULL, informer_thread, &run);

	/* The informer is stuck delivering its first list, before its watch. */
	pthread_mutex_lock(&r.mu);
	while (!r.paused)
		pthread_cond_wait(&r.cv, &r.mu);
	pthread_mutex_unlock(&r.mu);
	/* Far more writes than the store's history of 100 events. */
	for (int i = 1; i <= 250; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", i);
		put_cm(c, "inf2", "hot", v);
	}
	del_cm(c, "inf2", "victim");
	put_cm(c, "inf2", "newbie", "1");
	pthread_mutex_lock(&r.mu);
	r.release = true;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);

	/* The watch from the list's revision gets 410; the relist coalesces. */
	CHECK(wait_log(&r, "add:newbie "));
	CHECK(wait_log(&r, "delete:victim "));
	CHECK(wait_log(&r, "update:hot "));
	log = r.log.data;
	CHECK(strncmp(log, "add:hot add:pause add:victim synced: ", 37) == 0);
	CHECK_INT(r.hot_updates, 1);
	/* And it keeps watching after the relist. */
	put_cm(c, "inf2", "late", "1");
	CHECK(wait_log(&r, "add:late "));
	CHECK(stop_run(&run) < 1500);
	CHECK_INT(r.errors, 0);
	rec_release(&r);
	gt_client_free(c);
}

static struct gt_client *shared;
static _Atomic int shared_fail;

static void *hammer(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < 20; i++) {
		char name[32], path[128];
		json_t *o, *out = NULL;

		snprintf(name, sizeof(name), "c%ld-%d", id, i);
		o = cm(name, "v");
		if (gt_client_create(shared, "/api/v1/namespaces/default/configmaps", o, NULL, NULL) < 0)
			atomic_fetch_add(&shared_fail, 1);
		snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s", name);
		if (gt_client_get(shared, path, &out, NULL) < 0 ||
		    strcmp(gt_json_str(out, "metadata.name") ?: "", name))
			atomic_fetch_add(&shared_fail, 1);
		json_decref(out);
		json_decref(o);
	}
	return NULL;
}

/* One client shared by threads: each request borrows its own handle. */
TEST(concurrent_requests)
{
	pthread_t th[6];

	shared = main_client();
	for (size_t i = 0; i < GT_ARRAY_SIZE(th); i++)
		pthread_create(&th[i], NULL, hammer, (void *)(long)i);
	for (size_t i = 0; i < GT_ARRAY_SIZE(th); i++)
		pthread_join(th[i], NULL);
	CHECK_INT(atomic_load(&shared_fail), 0);
	gt_client_free(shared);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void)
{
	struct gt_store_options so = { .history = 100 };
	struct gt_backend *be = NULL;
	struct gt_err err;
	char path[256];

	gt_err_clear(&err);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gt_test_client.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/state.db", tmpdir);
	if (gt_backend_sqlite_open(path, &be, &err) < 0 || gt_store_open(be, &so, &store, &err) < 0)
		goto fail;
	{
		struct gt_api_config ac = { .store = store, .token = TOKEN };

		if (gt_api_new(&ac, &api, &err) < 0)
			goto fail;
	}
	snprintf(path, sizeof(path), "%s/pki", tmpdir);
	if (gt_tls_ensure(path, NULL, &tls, &err) < 0)
		goto fail;
	{
		struct gt_http_config hc = {
			.bind = "127.0.0.1", .port = 0, .cert_pem = tls.cert_pem, .key_pem = tls.key_pem,
			.handler = gt_api_handle, .ctx = api,
		};

		if (gt_http_start(&hc, &http, &err) < 0)
			goto fail;
	}
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", gt_http_port(http));
	return 0;
fail:
	fprintf(stderr, "setup: %s\n", err.msg);
	return -1;
}

static void teardown(void)
{
	gt_api_shutdown(api);
	gt_http_stop(http);
	gt_api_free(api);
	gt_store_close(store);
	gt_tls_material_release(&tls);
	if (!getenv("GT_KEEP_TMP"))
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	if (setup() < 0)
		return 1;
	RUN(kubeconfig_inline_ca_and_token);
	RUN(kubeconfig_ca_file_and_token_file);
	RUN(kubeconfig_errors);
	RUN(crud_and_errno_mapping);
	RUN(bad_token_and_transport_errors);
	RUN(stream);
	RUN(concurrent_requests);
	RUN(informer_events_in_order);
	RUN(informer_relists_after_410);
	teardown();
	return t_done();
}
