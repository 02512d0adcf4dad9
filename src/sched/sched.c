/*
 * sched.c - the snapshot and the pick (see sched.h).
 *
 * Each node keeps its allocatable resources and what its pods request as
 * (name, alloc, used) rows; cpu is in millicores, the rest in units.  Node
 * slots are never freed: a node that goes keeps its slot (and its pods'
 * sums) for when it comes back, and a pod bound to a node not seen yet
 * makes a slot for it.  name -> slot is a hash (a JSON object).
 */
#include "sched/sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "api/selector.h"

/* ---- resources ---- */

static int64_t amount(const char *name, const json_t *v)
{
	struct gt_quantity q;

	if (!v || gt_quantity_from_json(v, &q, NULL) < 0)
		return 0;
	return !strcmp(name, "cpu") ? gt_quantity_milli(&q) : gt_quantity_value(&q);
}

static int64_t ctr_request(const json_t *c, const char *name)
{
	const json_t *v = json_object_get(gt_json_path(c, "resources.requests"), name);

	if (!v)
		v = json_object_get(gt_json_path(c, "resources.limits"), name);
	return amount(name, v);
}

int64_t gt_sched_pod_request(const json_t *pod, const char *name)
{
	int64_t sum = 0, init = 0;
	const json_t *c;
	size_t i;

	json_array_foreach(gt_json_path(pod, "spec.containers"), i, c)
		sum += ctr_request(c, name);
	json_array_foreach(gt_json_path(pod, "spec.initContainers"), i, c) {
		int64_t r = ctr_request(c, name);

		if (r > init)
			init = r;
	}
	return sum > init ? sum : init;
}

int64_t gt_sched_priority(const json_t *pod)
{
	int64_t p = 0;

	gt_json_int(pod, "spec.priority", &p);
	return p;
}

/* Resource names the pod asks for (cpu, memory, extended ones); pods always. */
static size_t pod_resources(const json_t *pod, const char *names[MAX_RES])
{
	size_t n = 0;
	const json_t *c;
	size_t i;

	names[n++] = "pods";
	for (int k = 0; k < 2; k++)
		json_array_foreach(gt_json_path(pod, k ? "spec.initContainers" : "spec.containers"),
				   i, c) {
			for (int part = 0; part < 2; part++) {
				const char *key;
				json_t *v;

				json_object_foreach(gt_json_path(c, part ? "resources.limits" :
								 "resources.requests"), key, v) {
					size_t j;

					(void)v;
					for (j = 0; j < n && strcmp(names[j], key); j++)
						;
					if (j == n && n < MAX_RES && strcmp(key, "ephemeral-storage"))
						names[n++] = key;
				}
			}
		}
	return n;
}

int gt_sched_fixed_slot(const char *name)
{
	static const char *const fixed[RES_FIXED] = { "pods", "cpu", "memory", GT_SCHED_GPU };

	for (int i = 0; i < RES_FIXED; i++)
		if (!strcmp(name, fixed[i]))
			return i;
	return -1;
}

static struct res *res_row(struct node *nd, const char *name, bool make)
{
	int f = gt_sched_fixed_slot(name);

	if (f >= 0)
		return &nd->res[f];
	for (size_t i = RES_FIXED; i < nd->nres; i++)
		if (!strcmp(nd->res[i].name, name))
			return &nd->res[i];
	if (!make || nd->nres == MAX_RES)
		return NULL;
	nd->res[nd->nres] = (struct res){ .name = xstrdup(name) };
	return &nd->res[nd->nres++];
}

/* ---- policy ---- */

void gt_sched_policy_default(struct gt_sched_policy *p)
{
	*p = (struct gt_sched_policy){ .least_allocated = 1, .balanced = 1, .gpu_binpack = 5,
				       .node_affinity = 2, .topology_spread = 2 };
}

int gt_sched_policy_parse(const char *s, struct gt_sched_policy *p, struct gt_err *err)
{
	static const struct {
		const char *key;
		size_t off;
	} weights[] = {
		{ "least-allocated", offsetof(struct gt_sched_policy, least_allocated) },
		{ "balanced", offsetof(struct gt_sched_policy, balanced) },
		{ "gpu-weight", offsetof(struct gt_sched_policy, gpu_binpack) },
		{ "node-affinity", offsetof(struct gt_sched_policy, node_affinity) },
		{ "topology-spread", offsetof(struct gt_sched_policy, topology_spread) },
		{ "percentage-of-nodes-to-score", offsetof(struct gt_sched_policy, sample_percent) },
	};
	struct gt_sched_policy out;
	char *all = xstrdup(s ? s : ""), *save = NULL;
	int rc = 0;

	gt_sched_policy_default(&out);
	for (char *kv = strtok_r(all, ",", &save); kv && !rc; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		size_t k;
		int64_t v;

		if (!eq) {
			rc = gt_err_set(err, -EINVAL, "scheduler policy: \"%.100s\": want key=value", kv);
			break;
		}
		*eq++ = '\0';
		if (!strcmp(kv, "gpu")) {
			if (strcmp(eq, "MostAllocated") && strcmp(eq, "LeastAllocated"))
				rc = gt_err_set(err, -EINVAL, "scheduler policy: gpu: MostAllocated or "
						"LeastAllocated, not \"%.100s\"", eq);
			out.gpu_least = !strcmp(eq, "LeastAllocated");
			continue;
		}
		for (k = 0; k < GT_ARRAY_SIZE(weights) && strcmp(weights[k].key, kv); k++)
			;
		if (k == GT_ARRAY_SIZE(weights))
			rc = gt_err_set(err, -EINVAL, "scheduler policy: unknown key \"%.100s\"", kv);
		else if (gt_parse_i64(eq, &v) < 0 || v < 0 || v > 100)
			rc = gt_err_set(err, -EINVAL, "scheduler policy: %s: a number 0..100, not "
					"\"%.100s\"", kv, eq);
		else
			*(int *)((char *)&out + weights[k].off) = (int)v;
	}
	free(all);
	if (rc == 0)
		*p = out;
	return rc;
}

/* ---- snapshot ---- */

struct gt_sched *gt_sched_new(const struct gt_sched_policy *policy)
{
	struct gt_sched *s = xcalloc(1, sizeof(*s));

	if (policy)
		s->pol = *policy;
	else
		gt_sched_policy_default(&s->pol);
	s->index = json_object();
	return s;
}

void gt_sched_free(struct gt_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		for (size_t k = 0; k < s->nodes[i].npods; k++)
			json_decref(s->nodes[i].pods[k]);
		free(s->nodes[i].pods);
		free(s->nodes[i].name);
		for (size_t k = RES_FIXED; k < s->nodes[i].nres; k++)
			free(s->nodes[i].res[k].name);
		json_decref(s->nodes[i].obj);
	}
	json_decref(s->index);
	free(s->nodes);
	free(s);
}

struct node *gt_sched_node(struct gt_sched *s, const char *name)
{
	json_t *i = name ? json_object_get(s->index, name) : NULL;

	return i ? &s->nodes[json_integer_value(i)] : NULL;
}

static struct node *slot(struct gt_sched *s, const char *name)
{
	struct node *nd = gt_sched_node(s, name);

	if (nd)
		return nd;
	gt_grow((void **)&s->nodes, &s->cap, s->n + 1, sizeof(*s->nodes));
	nd = &s->nodes[s->n];
	memset(nd, 0, sizeof(*nd));
	nd->name = xstrdup(name);
	nd->nres = RES_FIXED; /* the well-known rows come first, always */
	json_object_set_new(s->index, name, json_integer((json_int_t)s->n++));
	return nd;
}

void gt_sched_add_node(struct gt_sched *s, const json_t *node)
{
	const char *name = gt_json_str(node, "metadata.name"), *key;
	const json_t *cond, *v;
	struct node *nd;
	size_t i;

	if (!name)
		return;
	nd = slot(s, name);
	if (!nd->obj)
		s->present++;
	json_incref((json_t *)node);
	json_decref(nd->obj);
	nd->obj = (json_t *)node;
	nd->labels = gt_json_path(node, "metadata.labels");
	nd->taints = gt_json_path(node, "spec.taints");
	nd->unschedulable = gt_json_bool(node, "spec.unschedulable", false);
	nd->ready = false;
	json_array_foreach(gt_json_path(node, "status.conditions"), i, cond)
		if (!strcmp(gt_json_str(cond, "type") ?: "", "Ready"))
			nd->ready = !strcmp(gt_json_str(cond, "status") ?: "", "True");
	for (i = 0; i < nd->nres; i++)
		nd->res[i].alloc = 0;
	json_object_foreach(gt_json_path(node, "status.allocatable"), key, v) {
		struct res *r = res_row(nd, key, true);

		if (r)
			r->alloc = amount(key, v);
	}
}

void gt_sched_del_node(struct gt_sched *s, const char *name)
{
	struct node *nd = gt_sched_node(s, name);

	if (!nd || !nd->obj)
		return;
	json_decref(nd->obj);
	nd->obj = NULL;
	nd->labels = nd->taints = NULL;
	s->present--;
}

size_t gt_sched_node_count(const struct gt_sched *s)
{
	return s->present;
}

void gt_sched_account(struct node *nd, const json_t *pod, int sign)
{
	const char *names[MAX_RES];
	size_t n = pod_resources(pod, names);

	for (size_t i = 0; i < n; i++) {
		struct res *r = res_row(nd, names[i], true);

		if (r)
			r->used += sign * (i == 0 ? 1 : gt_sched_pod_request(pod, names[i]));
	}
	if (sign > 0) {
		gt_grow((void **)&nd->pods, &nd->cappods, nd->npods + 1, sizeof(*nd->pods));
		nd->pods[nd->npods++] = json_incref((json_t *)pod);
		return;
	}
	for (size_t i = nd->npods; i-- > 0;)
		if (nd->pods[i] == pod) {
			nd->pods[i] = nd->pods[--nd->npods];
			json_decref((json_t *)pod);
			break;
		}
}

void gt_sched_add_pod(struct gt_sched *s, const json_t *pod)
{
	const char *name = gt_json_str(pod, "spec.nodeName");

	if (name && *name)
		gt_sched_account(slot(s, name), pod, 1);
}

void gt_sched_del_pod(struct gt_sched *s, const json_t *pod)
{
	struct node *nd = gt_sched_node(s, gt_json_str(pod, "spec.nodeName"));

	if (nd)
		gt_sched_account(nd, pod, -1);
}

bool gt_sched_replace_pod(struct gt_sched *s, const json_t *old, const json_t *new)
{
	struct node *nd = gt_sched_node(s, gt_json_str(old, "spec.nodeName"));

	for (size_t i = 0; nd && i < nd->npods; i++)
		if (nd->pods[i] == old) {
			nd->pods[i] = json_incref((json_t *)new);
			json_decref((json_t *)old);
			return true;
		}
	return false;
}

void gt_sched_assume(struct gt_sched *s, const json_t *pod, const char *node)
{
	struct node *nd = gt_sched_node(s, node);

	if (nd)
		gt_sched_account(nd, pod, 1);
}

void gt_sched_forget(struct gt_sched *s, const json_t *pod, const char *node)
{
	struct node *nd = gt_sched_node(s, node);

	if (nd)
		gt_sched_account(nd, pod, -1);
}

bool gt_sched_node_terminating(struct gt_sched *s, const char *node)
{
	struct node *nd = gt_sched_node(s, node);

	for (size_t i = 0; nd && i < nd->npods; i++)
		if (gt_sched_terminating(nd->pods[i]))
			return true;
	return false;
}

/* ---- pick ---- */

void gt_sched_pick_init(struct pick *pk, const json_t *pod, const json_t *vt)
{
	memset(pk, 0, sizeof(*pk));
	pk->pod = pod;
	pk->vt = vt;
	pk->ns = gt_json_str(pod, "metadata.namespace") ?: "default";
	pk->n = pod_resources(pod, pk->names);
	for (size_t i = 0; i < pk->n; i++) {
		pk->want[i] = i == 0 ? 1 : gt_sched_pod_request(pod, pk->names[i]);
		pk->slot[i] = gt_sched_fixed_slot(pk->names[i]);
	}
	pk->cpu = gt_sched_pod_request(pod, "cpu");
	pk->mem = gt_sched_pod_request(pod, "memory");
	pk->gpu = gt_sched_pod_request(pod, GT_SCHED_GPU);
	pk->tolerations = gt_json_path(pod, "spec.tolerations");
	pk->selector = gt_json_path(pod, "spec.nodeSelector");
	pk->required = gt_json_path(pod, "spec.affinity.nodeAffinity."
				    "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
	pk->anti = gt_json_path(pod, "spec.affinity.podAntiAffinity."
				"requiredDuringSchedulingIgnoredDuringExecution");
	pk->preferred = gt_json_path(pod, "spec.affinity.nodeAffinity."
				     "preferredDuringSchedulingIgnoredDuringExecution");
}

void gt_sched_pick_release(struct pick *pk)
{
	gt_sched_spread_release(pk);
}

/* How many feasible nodes a pick looks for before it stops. */
static size_t feasible_wanted(const struct gt_sched *s)
{
	size_t n = s->present, want;
	long pct = s->pol.sample_percent;

	if (n < 100 || pct >= 100)
		return n;
	if (pct <= 0) {
		pct = 50 - (long)n / 125;
		if (pct < 5)
			pct = 5;
	}
	want = n * (size_t)pct / 100;
	return want < 100 ? 100 : want;
}

struct reason {
	char text[200];
	int count;
};

static int cmp_reason(const void *a, const void *b)
{
	const struct reason *x = a, *y = b;
	char sx[220], sy[220];

	snprintf(sx, sizeof(sx), "%d %s", x->count, x->text);
	snprintf(sy, sizeof(sy), "%d %s", y->count, y->text);
	return strcmp(sx, sy);
}

static void count_reason(struct reason **rs, size_t *nr, size_t *cr, const char *r)
{
	size_t k;

	for (k = 0; k < *nr && strcmp((*rs)[k].text, r); k++)
		;
	if (k == *nr) {
		gt_grow((void **)rs, cr, *nr + 1, sizeof(**rs));
		snprintf((*rs)[*nr].text, sizeof((*rs)[0].text), "%s", r);
		(*rs)[(*nr)++].count = 0;
	}
	(*rs)[k].count++;
}

int gt_sched_pick(struct gt_sched *s, const json_t *pod, const json_t *volume_terms,
		  const char **node, struct gt_buf *why)
{
	struct reason *rs = NULL;
	size_t nr = 0, cr = 0, found = 0, want = feasible_wanted(s), k;
	size_t start = want < s->present && s->n ? s->next_start % s->n : 0;
	const struct node *best = NULL;
	double best_score = 0;
	struct pick pk;

	gt_sched_pick_init(&pk, pod, volume_terms);
	gt_sched_spread_init(s, &pk);
	for (k = 0; k < s->n && found < want; k++) {
		const struct node *nd = &s->nodes[(start + k) % s->n];
		const char *r;
		char buf[200];
		double sc;

		if (!nd->obj)
			continue;
		r = gt_sched_fails(nd, &pk, false, buf, sizeof(buf));
		if (r) {
			count_reason(&rs, &nr, &cr, r);
			continue;
		}
		found++;
		sc = gt_sched_score(s, nd, &pk);
		if (!best || sc > best_score) {
			best = nd;
			best_score = sc;
		}
	}
	if (want < s->present && s->n)
		s->next_start = (start + k) % s->n;
	gt_sched_pick_release(&pk);
	if (best) {
		free(rs);
		*node = best->name;
		return 0;
	}
	gt_buf_reset(why);
	if (!s->present) {
		gt_buf_adds(why, "no nodes available to schedule pods");
	} else {
		qsort(rs, nr, sizeof(*rs), cmp_reason);
		gt_buf_addf(why, "0/%zu nodes are available: ", s->present);
		for (size_t j = 0; j < nr; j++)
			gt_buf_addf(why, "%s%d %s", j ? ", " : "", rs[j].count, rs[j].text);
		gt_buf_adds(why, ".");
	}
	free(rs);
	return -ENOSPC;
}
