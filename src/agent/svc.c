/*
 * svc.c - Services and EndpointSlices seen by the agent, turned into proxy
 * rules and the DNS table; see svc.h.
 */
#include "agent/svc.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/dnsmsg.h"
#include "agent/proxy.h"
#include "base/log.h"

#define SETTLE_MS 100
#define RETRY_MS 2000
#define SLICE_SVC_LABEL "kubernetes.io/service-name"

struct gt_svc {
	struct gt_client *client;
	char *domain, tag[5];
	pthread_mutex_t lock;   /* services, slices, dirty, synced */
	pthread_cond_t cond;
	json_t *services;       /* "ns/name" -> Service */
	json_t *slices;         /* "ns/name" -> EndpointSlice */
	bool dirty;
	int synced;             /* informers done with their first list */
	_Atomic bool stop;
	pthread_t svc_thr, eps_thr, sync_thr;
	pthread_mutex_t dns_lock;
	json_t *dns;            /* name -> [ "a.b.c.d", ... ] */
	json_t *chains;         /* declared by the last applied rules */
	char *applied;          /* the last applied iptables-restore text */
	struct gt_dns *dnssrv;
};

struct inf {
	struct gt_svc *s;
	json_t *map;
};

static void obj_key(const json_t *o, char *key, size_t n)
{
	const char *ns = gt_json_str(o, "metadata.namespace"), *name = gt_json_str(o, "metadata.name");

	snprintf(key, n, "%s/%s", ns ? ns : "", name ? name : "");
}

static void put(struct gt_svc *s, json_t *map, json_t *obj, bool del)
{
	char key[512];

	obj_key(obj, key, sizeof(key));
	pthread_mutex_lock(&s->lock);
	if (del)
		json_object_del(map, key);
	else
		json_object_set(map, key, obj);
	s->dirty = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void on_add(void *ctx, json_t *obj)
{
	struct inf *i = ctx;

	put(i->s, i->map, obj, false);
}

static void on_update(void *ctx, json_t *old, json_t *obj)
{
	(void)old;
	on_add(ctx, obj);
}

static void on_delete(void *ctx, json_t *obj)
{
	struct inf *i = ctx;

	put(i->s, i->map, obj, true);
}

static void on_synced(void *ctx)
{
	struct inf *i = ctx;

	pthread_mutex_lock(&i->s->lock);
	i->s->synced++;
	i->s->dirty = true;
	pthread_cond_signal(&i->s->cond);
	pthread_mutex_unlock(&i->s->lock);
}

static void on_error(void *ctx, const struct gt_err *err)
{
	(void)ctx;
	gt_debug("services: watch: %s", err->msg);
}

static void run_informer(struct gt_svc *s, json_t *map, const char *path)
{
	struct inf i = { s, map };
	struct gt_informer_ops ops = { on_add, on_update, on_delete, on_synced, on_error };

	gt_informer_run(s->client, path, &ops, &i, &s->stop);
}

static void *svc_main(void *arg)
{
	struct gt_svc *s = arg;

	run_informer(s, s->services, "/api/v1/services");
	return NULL;
}

static void *eps_main(void *arg)
{
	struct gt_svc *s = arg;

	run_informer(s, s->slices, "/apis/discovery.k8s.io/v1/endpointslices");
	return NULL;
}

/* ---- the DNS table ---- */

static void add_name(json_t *t, const char *name, const char *ip)
{
	json_t *a = json_object_get(t, name);

	if (!a) {
		a = json_array();
		json_object_set_new(t, name, a);
	}
	if (ip)
		json_array_append_new(a, json_string(ip));
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Slices grouped by their Service: "ns/svc" -> [slice...]. */
static json_t *slices_by_service(const json_t *slices)
{
	json_t *by = json_object(), *sl;
	const char *k;

	json_object_foreach((json_t *)slices, k, sl) {
		const char *ns = gt_json_str(sl, "metadata.namespace");
		const json_t *labels = gt_json_path(sl, "metadata.labels");
		const char *svc = json_string_value(json_object_get(labels, SLICE_SVC_LABEL));
		char key[512];
		json_t *a;

		if (!svc)
			continue;
		snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", svc);
		if (!(a = json_object_get(by, key))) {
			a = json_array();
			json_object_set_new(by, key, a);
		}
		json_array_append(a, sl);
	}
	return by;
}

static json_t *dns_table(const json_t *services, const json_t *by_svc, const char *domain)
{
	json_t *t = json_object(), *svc, *sl, *ep, *addr;
	const char *key;
	size_t i, j, k;

	json_object_foreach((json_t *)services, key, svc) {
		const char *ns = gt_json_str(svc, "metadata.namespace");
		const char *name = gt_json_str(svc, "metadata.name");
		const char *cip = gt_json_str(svc, "spec.clusterIP");
		bool headless = cip && !strcmp(cip, "None");
		char fqdn[600];

		if (!ns || !name)
			continue;
		snprintf(fqdn, sizeof(fqdn), "%s.%s.svc.%s", name, ns, domain);
		lower(fqdn);
		add_name(t, fqdn, headless || !cip || !*cip ? NULL : cip);
		json_array_foreach(json_object_get(by_svc, key), i, sl) {
			json_array_foreach(json_object_get(sl, "endpoints"), j, ep) {
				const char *host = gt_json_str(ep, "hostname");
				bool ready = gt_json_bool(ep, "conditions.ready", true);
				char hfqdn[700];

				if (!ready && !gt_json_bool(svc, "spec.publishNotReadyAddresses", false))
					continue;
				hfqdn[0] = '\0';
				if (host && *host) {
					snprintf(hfqdn, sizeof(hfqdn), "%s.%s", host, fqdn);
					lower(hfqdn);
				}
				json_array_foreach(json_object_get(ep, "addresses"), k, addr) {
					if (!json_is_string(addr))
						continue;
					if (headless)
						add_name(t, fqdn, json_string_value(addr));
					if (host && *host)
						add_name(t, hfqdn, json_string_value(addr));
				}
			}
		}
	}
	return t;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* A-B-C-D.NS.pod.DOMAIN -> A.B.C.D */
static bool pod_name_ip(const char *name, const char *domain, uint32_t *ip)
{
	char suffix[300], first[64];
	const char *dot = strchr(name, '.');
	unsigned a, b, c, d;
	char end;

	snprintf(suffix, sizeof(suffix), ".pod.%s", domain);
	if (!dot || !ends_with(name, suffix) || (size_t)(dot - name) >= sizeof(first) ||
	    strchr(dot + 1, '.') != name + strlen(name) - strlen(suffix))
		return false;
	memcpy(first, name, (size_t)(dot - name));
	first[dot - name] = '\0';
	if (sscanf(first, "%u-%u-%u-%u%c", &a, &b, &c, &d, &end) != 4 || a > 255 || b > 255 ||
	    c > 255 || d > 255)
		return false;
	*ip = htonl(a << 24 | b << 16 | c << 8 | d);
	return true;
}

enum gt_dns_result gt_svc_lookup(void *ctx, const char *name, uint32_t *ips, int max, int *n)
{
	struct gt_svc *s = ctx;
	json_t *t, *a, *v;
	char zone[300];
	size_t i;

	*n = 0;
	pthread_mutex_lock(&s->dns_lock);
	t = json_incref(s->dns);
	pthread_mutex_unlock(&s->dns_lock);
	a = json_object_get(t, name);
	if (a) {
		json_array_foreach(a, i, v) {
			struct in_addr in;

			if (*n < max && inet_pton(AF_INET, json_string_value(v), &in) == 1)
				ips[(*n)++] = in.s_addr;
		}
		json_decref(t);
		return GT_DNS_FOUND;
	}
	json_decref(t);
	if (max > 0 && pod_name_ip(name, s->domain, &ips[0])) {
		*n = 1;
		return GT_DNS_FOUND;
	}
	snprintf(zone, sizeof(zone), ".%s", s->domain);
	return !strcmp(name, s->domain) || ends_with(name, zone) ? GT_DNS_NXDOMAIN : GT_DNS_REFUSED;
}

/* ---- applying changes ---- */

static void *sync_main(void *arg)
{
	struct gt_svc *s = arg;
	int64_t retry_at = 0;

	while (!atomic_load(&s->stop)) {
		struct gt_buf text = GT_BUF_INIT;
		json_t *chains, *by, *table;
		struct gt_err err;
		bool ready;

		pthread_mutex_lock(&s->lock);
		while (!s->dirty && !atomic_load(&s->stop)) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
		pthread_mutex_unlock(&s->lock);
		if (atomic_load(&s->stop))
			break;
		usleep((retry_at > gt_now_ms() ? RETRY_MS : SETTLE_MS) * 1000);
		gt_buf_init(&text);
		chains = json_array();
		pthread_mutex_lock(&s->lock);
		s->dirty = false;
		ready = s->synced >= 2;
		by = slices_by_service(s->slices);
		table = dns_table(s->services, by, s->domain);
		if (ready)
			gt_proxy_render(s->tag, s->services, by, s->chains, chains, &text);
		pthread_mutex_unlock(&s->lock);
		json_decref(by);
		pthread_mutex_lock(&s->dns_lock);
		json_decref(s->dns);
		s->dns = table;
		pthread_mutex_unlock(&s->dns_lock);
		gt_err_clear(&err);
		if (ready && (!s->applied || strcmp(s->applied, text.data))) {
			if (gt_proxy_apply(s->tag, text.data, text.len, &err) < 0) {
				gt_warn("services: applying proxy rules: %s (retrying)", err.msg);
				retry_at = gt_now_ms() + RETRY_MS;
				pthread_mutex_lock(&s->lock);
				s->dirty = true;
				pthread_mutex_unlock(&s->lock);
				json_decref(chains);
			} else {
				free(s->applied);
				s->applied = gt_buf_detach(&text, NULL);
				json_decref(s->chains);
				s->chains = chains;
				retry_at = 0;
				gt_debug("services: proxy rules applied (%zu chains)",
					 json_array_size(chains));
			}
		} else {
			json_decref(chains);
		}
		gt_buf_release(&text);
	}
	return NULL;
}

void gt_svc_stop(struct gt_svc *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_mutex_lock(&s->lock);
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	gt_dns_stop(s->dnssrv);
	if (s->svc_thr)
		pthread_join(s->svc_thr, NULL);
	if (s->eps_thr)
		pthread_join(s->eps_thr, NULL);
	if (s->sync_thr)
		pthread_join(s->sync_thr, NULL);
	json_decref(s->services);
	json_decref(s->slices);
	json_decref(s->dns);
	json_decref(s->chains);
	free(s->applied);
	free(s->domain);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->dns_lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

int gt_svc_start(const struct gt_svc_config *cfg, struct gt_svc **out, struct gt_err *err)
{
	struct gt_svc *s = xcalloc(1, sizeof(*s));
	int rc;

	s->client = cfg->client;
	s->domain = xstrdup(cfg->domain ? cfg->domain : "cluster.local");
	gt_proxy_tag(cfg->bridge, s->tag);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->dns_lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->services = json_object();
	s->slices = json_object();
	s->dns = json_object();
	s->chains = gt_proxy_existing(s->tag); /* a previous run's: replaced on the first sync */
	if (cfg->dns_ip &&
	    (rc = gt_dns_start(s, cfg->dns_ip, cfg->dns_port ? cfg->dns_port : 53, &s->dnssrv,
			       err)) < 0) {
		gt_svc_stop(s);
		return rc;
	}
	if (pthread_create(&s->svc_thr, NULL, svc_main, s) ||
	    pthread_create(&s->eps_thr, NULL, eps_main, s) ||
	    pthread_create(&s->sync_thr, NULL, sync_main, s)) {
		gt_svc_stop(s);
		return gt_err_set(err, -EAGAIN, "cannot start the service proxy's threads");
	}
	*out = s;
	return 0;
}
