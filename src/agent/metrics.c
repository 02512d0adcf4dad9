/*
 * metrics.c - the agent's resource metrics (see metrics.h): the pure
 * parsers and the rate, then the sampler the heartbeat thread runs every
 * GT_METRICS_INTERVAL_MS and the JSON the API server pulls.
 *
 * Container cgroups are /gantry/pod<uid>/<container>-<attempt> (pods.c);
 * the highest attempt of each container is the live one.  cgroup v1 reads
 * cpuacct.usage and memory.usage_in_bytes - total_inactive_file; v2 reads
 * cpu.stat usage_usec and memory.current - inactive_file.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/internal.h"
#include "agent/metrics.h"
#include "http/server.h"

int64_t gt_metrics_rate(const struct gt_cpu_sample *prev, const struct gt_cpu_sample *cur)
{
	int64_t dt = cur->at_ms - prev->at_ms;

	if (dt <= 0 || cur->usage_ns < prev->usage_ns)
		return -1;
	/* ns of CPU per ms of wall time, scaled to ns per s: nanocores */
	return (int64_t)((double)(cur->usage_ns - prev->usage_ns) * 1000.0 / (double)dt);
}

/* The number after "key " at the start of a line of text. */
static int keyed(const char *text, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char *end;

		if (strncmp(p, key, kl) || (p[kl] != ' ' && p[kl] != ':' && p[kl] != '\t'))
			continue;
		p += kl + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		*out = strtoull(p, &end, 10);
		return end == p ? -EINVAL : 0;
	}
	return -ENOENT;
}

int gt_metrics_cpu_stat_v2(const char *text, uint64_t *ns)
{
	uint64_t us;
	int r = keyed(text, "usage_usec", &us);

	if (r == 0)
		*ns = us * 1000;
	return r;
}

uint64_t gt_metrics_working_set(uint64_t usage, const char *memory_stat, const char *key)
{
	uint64_t inactive;

	if (!memory_stat || keyed(memory_stat, key, &inactive) < 0)
		return usage;
	return inactive < usage ? usage - inactive : 0;
}

int gt_metrics_proc_stat(const char *text, uint64_t *busy_ns)
{
	unsigned long long v[10] = { 0 }, busy = 0;
	long hz = sysconf(_SC_CLK_TCK);
	int n;

	if (strncmp(text, "cpu ", 4))
		return -EINVAL;
	n = sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	if (n < 4)
		return -EINVAL;
	/* user nice system idle iowait irq softirq steal: all but idle and iowait */
	for (int i = 0; i < n; i++)
		if (i != 3 && i != 4)
			busy += v[i];
	*busy_ns = (uint64_t)busy * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
	return 0;
}

int gt_metrics_meminfo(const char *text, uint64_t *used)
{
	uint64_t total, avail;

	if (keyed(text, "MemTotal", &total) < 0 || keyed(text, "MemAvailable", &avail) < 0)
		return -EINVAL;
	*used = (avail < total ? total - avail : 0) * 1024;
	return 0;
}

/* ---- the sampler ---- */

struct ment {
	char uid[64], ns[254], name[254], ctr[64];
	struct gt_cpu_sample prev, cur;
	bool have_prev, seen;
	uint64_t mem;
	time_t at;
};

struct gt_metrics {
	pthread_mutex_t lock;
	struct ment node;
	struct ment *e;
	size_t n, cap;
};

static bool cg_v2(void)
{
	return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
}

static int read_u64(const char *path, uint64_t *out)
{
	GT_AUTOFREE char *t = NULL;
	size_t len;
	char *end;

	if (gt_read_file(path, &t, &len) < 0)
		return -ENOENT;
	*out = strtoull(t, &end, 10);
	return end == t ? -EINVAL : 0;
}

/* Reads one container cgroup (path relative to the hierarchy roots). */
static int read_cgroup(const char *rel, bool v2, uint64_t *cpu_ns, uint64_t *mem)
{
	const char *cpu_root = v2 ? "/sys/fs/cgroup" :
			       access("/sys/fs/cgroup/cpuacct", F_OK) == 0 ? "/sys/fs/cgroup/cpuacct" :
			       "/sys/fs/cgroup/cpu,cpuacct";
	const char *mem_root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
	char p[4400];
	GT_AUTOFREE char *stat = NULL;
	uint64_t usage;
	size_t len;

	if (v2) {
		GT_AUTOFREE char *cs = NULL;

		snprintf(p, sizeof(p), "%s%s/cpu.stat", cpu_root, rel);
		if (gt_read_file(p, &cs, &len) < 0 || gt_metrics_cpu_stat_v2(cs, cpu_ns) < 0)
			return -ENOENT;
	} else {
		snprintf(p, sizeof(p), "%s%s/cpuacct.usage", cpu_root, rel);
		if (read_u64(p, cpu_ns) < 0)
			return -ENOENT;
	}
	snprintf(p, sizeof(p), "%s%s/%s", mem_root, rel, v2 ? "memory.current" : "memory.usage_in_bytes");
	if (read_u64(p, &usage) < 0)
		return -ENOENT;
	snprintf(p, sizeof(p), "%s%s/memory.stat", mem_root, rel);
	gt_read_file(p, &stat, &len);
	*mem = gt_metrics_working_set(usage, stat, v2 ? "inactive_file" : "total_inactive_file");
	return 0;
}

static struct ment *find(struct gt_metrics *m, const char *uid, const char *ctr)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].uid, uid) && !strcmp(m->e[i].ctr, ctr))
			return &m->e[i];
	gt_grow((void **)&m->e, &m->cap, m->n + 1, sizeof(*m->e));
	memset(&m->e[m->n], 0, sizeof(*m->e));
	snprintf(m->e[m->n].uid, sizeof(m->e[m->n].uid), "%s", uid);
	snprintf(m->e[m->n].ctr, sizeof(m->e[m->n].ctr), "%s", ctr);
	return &m->e[m->n++];
}

static void update(struct ment *e, uint64_t cpu_ns, uint64_t mem, int64_t now, time_t wall)
{
	e->prev = e->cur;
	e->have_prev = e->cur.at_ms != 0;
	e->cur = (struct gt_cpu_sample){ now, cpu_ns };
	e->mem = mem;
	e->at = wall;
	e->seen = true;
}

struct podref {
	char uid[64], ns[254], name[254];
};

/* The live container cgroups of one pod: "<name>-<attempt>", highest attempt. */
static void sample_pod(struct gt_metrics *m, const struct podref *p, bool v2, int64_t now, time_t wall)
{
	char dir[4400];
	const char *root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
	struct { char name[64]; long attempt; } best[32];
	size_t nb = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/gantry/pod%s", root, p->uid);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		const char *dash = strrchr(de->d_name, '-');
		char *end;
		long att;
		size_t k, nl;

		if (de->d_type != DT_DIR || de->d_name[0] == '.' || !dash)
			continue;
		att = strtol(dash + 1, &end, 10);
		nl = (size_t)(dash - de->d_name);
		if (*end || end == dash + 1 || nl == 0 || nl >= sizeof(best[0].name))
			continue;
		for (k = 0; k < nb; k++)
			if (strlen(best[k].name) == nl && !strncmp(best[k].name, de->d_name, nl))
				break;
		if (k == nb) {
			if (nb == GT_ARRAY_SIZE(best))
				continue;
			snprintf(best[nb].name, sizeof(best[nb].name), "%.*s", (int)nl, de->d_name);
			best[nb++].attempt = att;
		} else if (att > best[k].attempt) {
			best[k].attempt = att;
		}
	}
	closedir(d);
	for (size_t k = 0; k < nb; k++) {
		char rel[400];
		uint64_t cpu, mem;
		struct ment *e;

		snprintf(rel, sizeof(rel), "/gantry/pod%s/%s-%ld", p->uid, best[k].name, best[k].attempt);
		if (read_cgroup(rel, v2, &cpu, &mem) < 0)
			continue;
		e = find(m, p->uid, best[k].name);
		snprintf(e->ns, sizeof(e->ns), "%s", p->ns);
		snprintf(e->name, sizeof(e->name), "%s", p->name);
		update(e, cpu, mem, now, wall);
	}
}

void gt_agent_metrics_sample(struct gt_agent *a)
{
	struct podref *refs = NULL;
	size_t n = 0, cap = 0;
	struct gt_metrics *m;
	int64_t now = gt_now_ms();
	time_t wall = time(NULL);
	bool v2 = cg_v2();

	pthread_mutex_lock(&a->lock);
	if (!a->metrics) {
		a->metrics = xcalloc(1, sizeof(*a->metrics));
		pthread_mutex_init(&a->metrics->lock, NULL);
	}
	m = a->metrics;
	for (struct pod *p = a->pods; p; p = p->next) {
		gt_grow((void **)&refs, &cap, n + 1, sizeof(*refs));
		snprintf(refs[n].uid, sizeof(refs[n].uid), "%s", p->uid);
		snprintf(refs[n].ns, sizeof(refs[n].ns), "%s", p->ns);
		snprintf(refs[n].name, sizeof(refs[n].name), "%s", p->name);
		n++;
	}
	pthread_mutex_unlock(&a->lock);

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		m->e[i].seen = false;
	for (size_t i = 0; i < n; i++)
		sample_pod(m, &refs[i], v2, now, wall);
	/* containers (and pods) that went away */
	for (size_t i = 0; i < m->n;)
		if (!m->e[i].seen)
			m->e[i] = m->e[--m->n];
		else
			i++;
	{
		GT_AUTOFREE char *st = NULL, *mi = NULL;
		uint64_t busy, used;
		size_t len;

		if (gt_read_file("/proc/stat", &st, &len) == 0 && gt_metrics_proc_stat(st, &busy) == 0 &&
		    gt_read_file("/proc/meminfo", &mi, &len) == 0 && gt_metrics_meminfo(mi, &used) == 0)
			update(&m->node, busy, used, now, wall);
	}
	pthread_mutex_unlock(&m->lock);
	free(refs);
}

static json_t *figures(const struct ment *e, json_t *obj)
{
	int64_t rate = gt_metrics_rate(&e->prev, &e->cur);

	if (!e->have_prev || rate < 0) {
		json_decref(obj);
		return NULL;
	}
	json_object_set_new(obj, "cpuNano", json_integer(rate));
	json_object_set_new(obj, "memoryBytes", json_integer((json_int_t)e->mem));
	return obj;
}

void gt_agent_metrics_reply(struct gt_agent *a, struct gt_http_req *req)
{
	json_t *out = json_object(), *pods = json_array(), *node;
	struct gt_metrics *m;
	char *body;
	size_t len;

	pthread_mutex_lock(&a->lock);
	m = a->metrics;
	pthread_mutex_unlock(&a->lock);
	if (m) {
		pthread_mutex_lock(&m->lock);
		node = figures(&m->node, json_pack("{s:I,s:I}", "time", (json_int_t)m->node.at,
						   "windowMs", (json_int_t)(m->node.cur.at_ms - m->node.prev.at_ms)));
		if (node)
			json_object_set_new(out, "node", node);
		for (size_t i = 0; i < m->n; i++) {
			const struct ment *e = &m->e[i];
			json_t *pod = NULL, *c, *v;
			size_t k;

			json_array_foreach(pods, k, v)
				if (!strcmp(gt_json_str(v, "uid") ?: "", e->uid))
					pod = v;
			if (!pod) {
				pod = json_pack("{s:s,s:s,s:s,s:I,s:I,s:[]}", "namespace", e->ns, "name", e->name,
						"uid", e->uid, "time", (json_int_t)e->at, "windowMs",
						(json_int_t)(e->cur.at_ms - e->prev.at_ms), "containers");
				json_array_append_new(pods, pod);
			}
			c = figures(e, json_pack("{s:s}", "name", e->ctr));
			/* a container without a rate yet makes the pod incomplete, as
			 * metrics-server leaves such pods out */
			if (c)
				json_array_append_new(json_object_get(pod, "containers"), c);
			else
				json_object_set_new(pod, "incomplete", json_true());
		}
		pthread_mutex_unlock(&m->lock);
	}
	json_object_set_new(out, "pods", pods);
	body = gt_json_dump(out, &len);
	json_decref(out);
	gt_http_reply_take(req, 200, "application/json", body, len);
}

void gt_agent_metrics_free(struct gt_agent *a)
{
	if (!a || !a->metrics)
		return;
	pthread_mutex_destroy(&a->metrics->lock);
	free(a->metrics->e);
	free(a->metrics);
	a->metrics = NULL;
}
