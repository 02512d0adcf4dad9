/*
 * sched.c - filters and scores over a node snapshot (see sched.h).
 *
 * Each node keeps its allocatable resources and what its pods request as
 * parallel arrays of (name, amount); cpu is in millicores, the rest in
 * units.  A filter returns NULL (fits) or the reason it does not, written
 * into a caller buffer; gt_sched_pick counts reasons over the nodes.
 */
#include "sched/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "api/selector.h"

#define MAX_RES 16

struct res {
	const char *name;
	int64_t alloc, used;
};

struct node {
	const char *name;
	const json_t *obj;
	struct res res[MAX_RES];
	size_t nres;
	const json_t **pods;      /* bound pods, for anti-affinity */
	size_t npods, cappods;
	bool ready, unschedulable;
};

struct gt_sched {
	struct gt_sched_policy pol;
	struct node *nodes;
	size_t n, cap;
};

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

static struct res *node_res(struct node *nd, const char *name)
{
	for (size_t i = 0; i < nd->nres; i++)
		if (!strcmp(nd->res[i].name, name))
			return &nd->res[i];
	return NULL;
}

/* ---- snapshot ---- */

struct gt_sched *gt_sched_new(const struct gt_sched_policy *policy)
{
	struct gt_sched *s = xcalloc(1, sizeof(*s));

	s->pol = policy ? *policy : (struct gt_sched_policy){ 1, 1, 5, 2 };
	return s;
}

void gt_sched_free(struct gt_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->nodes[i].pods);
	free(s->nodes);
	free(s);
}

void gt_sched_add_node(struct gt_sched *s, const json_t *node)
{
	struct node *nd;
	const json_t *cond, *v;
	const char *key;
	size_t i;

	if (!gt_json_str(node, "metadata.name"))
		return;
	gt_grow((void **)&s->nodes, &s->cap, s->n + 1, sizeof(*s->nodes));
	nd = &s->nodes[s->n++];
	memset(nd, 0, sizeof(*nd));
	nd->name = gt_json_str(node, "metadata.name");
	nd->obj = node;
	nd->unschedulable = gt_json_bool(node, "spec.unschedulable", false);
	json_array_foreach(gt_json_path(node, "status.conditions"), i, cond)
		if (!strcmp(gt_json_str(cond, "type") ?: "", "Ready"))
			nd->ready = !strcmp(gt_json_str(cond, "status") ?: "", "True");
	json_object_foreach(gt_json_path(node, "status.allocatable"), key, v) {
		if (nd->nres == MAX_RES)
			break;
		nd->res[nd->nres++] = (struct res){ key, amount(key, v), 0 };
	}
}

static struct node *find_node(struct gt_sched *s, const char *name)
{
	for (size_t i = 0; name && i < s->n; i++)
		if (!strcmp(s->nodes[i].name, name))
			return &s->nodes[i];
	return NULL;
}

/* Adds (sign 1) or removes (-1) pod's requests and presence on nd. */
static void account(struct node *nd, const json_t *pod, int sign)
{
	const char *names[MAX_RES];
	size_t n = pod_resources(pod, names);

	for (size_t i = 0; i < n; i++) {
		struct res *r = node_res(nd, names[i]);

		if (r)
			r->used += sign * (i == 0 ? 1 : gt_sched_pod_request(pod, names[i]));
	}
	if (sign > 0) {
		gt_grow((void **)&nd->pods, &nd->cappods, nd->npods + 1, sizeof(*nd->pods));
		nd->pods[nd->npods++] = pod;
		return;
	}
	for (size_t i = nd->npods; i-- > 0;)
		if (nd->pods[i] == pod) {
			nd->pods[i] = nd->pods[--nd->npods];
			break;
		}
}

void gt_sched_add_pod(struct gt_sched *s, const json_t *pod)
{
	struct node *nd = find_node(s, gt_json_str(pod, "spec.nodeName"));

	if (nd)
		account(nd, pod, 1);
}

void gt_sched_assume(struct gt_sched *s, const json_t *pod, const char *node)
{
	struct node *nd = find_node(s, node);

	if (nd)
		account(nd, pod, 1);
}

void gt_sched_forget(struct gt_sched *s, const json_t *pod, const char *node)
{
	struct node *nd = find_node(s, node);

	if (nd)
		account(nd, pod, -1);
}

/* ---- node selector terms ---- */

static bool req_match(const json_t *req, const json_t *labels, const char *field_name)
{
	const char *key = gt_json_str(req, "key") ?: "", *op = gt_json_str(req, "operator") ?: "";
	const json_t *vals = json_object_get(req, "values"), *v;
	const char *have = field_name ? (!strcmp(key, "metadata.name") ? field_name : NULL)
				      : json_string_value(json_object_get(labels, key));
	size_t i;

	if (!strcmp(op, "Exists"))
		return have != NULL;
	if (!strcmp(op, "DoesNotExist"))
		return have == NULL;
	if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
		bool in = false;

		json_array_foreach(vals, i, v)
			in |= have && json_is_string(v) && !strcmp(json_string_value(v), have);
		return !strcmp(op, "In") ? in : !in;
	}
	if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
		char *end;
		long long a, b;

		if (!have || json_array_size(vals) != 1 || !json_is_string(json_array_get(vals, 0)))
			return false;
		a = strtoll(have, &end, 10);
		if (*end || !*have)
			return false;
		b = strtoll(json_string_value(json_array_get(vals, 0)), &end, 10);
		if (*end)
			return false;
		return !strcmp(op, "Gt") ? a > b : a < b;
	}
	return false;
}

/* A NodeSelectorTerm: all its matchExpressions and matchFields. */
static bool term_match(const json_t *term, const struct node *nd)
{
	const json_t *labels = gt_json_path(nd->obj, "metadata.labels"), *r;
	size_t i;
	bool any = false;

	json_array_foreach(json_object_get(term, "matchExpressions"), i, r) {
		any = true;
		if (!req_match(r, labels, NULL))
			return false;
	}
	json_array_foreach(json_object_get(term, "matchFields"), i, r) {
		any = true;
		if (!req_match(r, NULL, nd->name))
			return false;
	}
	return any; /* an empty term matches nothing */
}

/* Terms are ORed; no terms at all: no constraint. */
static bool terms_match(const json_t *terms, const struct node *nd)
{
	const json_t *t;
	size_t i;

	if (!json_is_array(terms))
		return true;
	json_array_foreach(terms, i, t)
		if (term_match(t, nd))
			return true;
	return false;
}

/* ---- filters ---- */

/* The pod being placed, with its requests worked out once for all nodes. */
struct pick {
	const json_t *vt;          /* its volumes' node affinity terms */
	const char *names[MAX_RES];/* pods, then the resources it requests */
	int64_t want[MAX_RES];
	size_t n;
	int64_t cpu, mem, gpu;
};

typedef const char *(*filter_fn)(const struct node *nd, const json_t *pod,
				 const struct pick *pk, char *buf, size_t n);

const json_t *gt_sched_toleration(const json_t *pod, const char *key, const char *value,
				  const char *effect)
{
	const json_t *t;
	size_t i;

	json_array_foreach(gt_json_path(pod, "spec.tolerations"), i, t) {
		const char *tk = gt_json_str(t, "key"), *op = gt_json_str(t, "operator") ?: "Equal";
		const char *te = gt_json_str(t, "effect");

		if (te && *te && strcmp(te, effect))
			continue;
		if (!tk || !*tk) {
			if (!strcmp(op, "Exists"))
				return t; /* empty key + Exists: everything */
			continue;
		}
		if (strcmp(tk, key))
			continue;
		if (!strcmp(op, "Exists") || !strcmp(gt_json_str(t, "value") ?: "", value ?: ""))
			return t;
	}
	return NULL;
}

static bool tolerates(const json_t *pod, const char *key, const char *value, const char *effect)
{
	return gt_sched_toleration(pod, key, value, effect) != NULL;
}

static const char *f_unschedulable(const struct node *nd, const json_t *pod,
				   const struct pick *pk, char *buf, size_t n)
{
	(void)pk;
	(void)buf;
	(void)n;
	if (nd->unschedulable &&
	    !tolerates(pod, "node.kubernetes.io/unschedulable", "", "NoSchedule"))
		return "node(s) were unschedulable";
	return NULL;
}

static const char *f_taints(const struct node *nd, const json_t *pod, const struct pick *pk,
			    char *buf, size_t n)
{
	const json_t *t;
	size_t i;

	(void)pk;
	json_array_foreach(gt_json_path(nd->obj, "spec.taints"), i, t) {
		const char *key = gt_json_str(t, "key") ?: "", *value = gt_json_str(t, "value") ?: "";
		const char *effect = gt_json_str(t, "effect") ?: "";

		if (strcmp(effect, "NoSchedule") && strcmp(effect, "NoExecute"))
			continue;
		if (!tolerates(pod, key, value, effect)) {
			snprintf(buf, n, "node(s) had untolerated taint {%s: %s}", key, value);
			return buf;
		}
	}
	/*
	 * A node not Ready that the node lifecycle controller has not tainted
	 * yet counts as tainted not-ready:NoSchedule (TaintNodesByCondition).
	 * Only a NoSchedule toleration helps: every pod tolerates not-ready
	 * NoExecute for a while (DefaultTolerationSeconds admission), which
	 * says how long it may stay, not that it may be placed there.
	 */
	if (!nd->ready && !tolerates(pod, "node.kubernetes.io/not-ready", "", "NoSchedule"))
		return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }";
	return NULL;
}

static const char *f_affinity(const struct node *nd, const json_t *pod, const struct pick *pk,
			      char *buf, size_t n)
{
	const json_t *sel = gt_json_path(pod, "spec.nodeSelector");
	const char *key;
	json_t *v;

	(void)pk;
	(void)buf;
	(void)n;
	json_object_foreach((json_t *)sel, key, v) {
		const char *have = json_string_value(
			json_object_get(gt_json_path(nd->obj, "metadata.labels"), key));

		if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
			return "node(s) didn't match Pod's node affinity/selector";
	}
	if (!terms_match(gt_json_path(pod, "spec.affinity.nodeAffinity."
				      "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"), nd))
		return "node(s) didn't match Pod's node affinity/selector";
	return NULL;
}

bool gt_sched_daemon_fits(const json_t *node, const json_t *pod, bool running)
{
	struct node nd = { .name = gt_json_str(node, "metadata.name"), .obj = node, .ready = true };
	const json_t *t;
	char buf[300];
	size_t i;

	if (!nd.name || f_affinity(&nd, pod, NULL, buf, sizeof(buf)))
		return false;
	json_array_foreach(gt_json_path(node, "spec.taints"), i, t) {
		const char *effect = gt_json_str(t, "effect") ?: "";

		if ((!strcmp(effect, "NoExecute") || (!running && !strcmp(effect, "NoSchedule"))) &&
		    !tolerates(pod, gt_json_str(t, "key") ?: "", gt_json_str(t, "value") ?: "", effect))
			return false;
	}
	return true;
}

static const char *f_volumes(const struct node *nd, const json_t *pod, const struct pick *pk,
			     char *buf, size_t n)
{
	const json_t *terms;
	size_t i;

	(void)pod;
	(void)buf;
	(void)n;
	json_array_foreach(pk->vt, i, terms)
		if (!terms_match(terms, nd))
			return "node(s) had volume node affinity conflict";
	return NULL;
}

/* Required anti-affinity terms with the hostname topology key. */
static const char *f_anti_affinity(const struct node *nd, const json_t *pod, const struct pick *pk,
				   char *buf, size_t n)
{
	const json_t *term;
	const char *ns = gt_json_str(pod, "metadata.namespace") ?: "default";
	size_t i;

	(void)pk;
	(void)buf;
	(void)n;
	json_array_foreach(gt_json_path(pod, "spec.affinity.podAntiAffinity."
				       "requiredDuringSchedulingIgnoredDuringExecution"), i, term) {
		struct gt_labelsel *sel = NULL;
		bool hit = false;

		if (strcmp(gt_json_str(term, "topologyKey") ?: "", "kubernetes.io/hostname") ||
		    gt_labelsel_from_object(json_object_get(term, "labelSelector"), &sel, NULL) < 0)
			continue;
		for (size_t k = 0; k < nd->npods && !hit; k++) {
			const json_t *other = nd->pods[k];
			const json_t *nss = json_object_get(term, "namespaces"), *x;
			bool ns_ok = !json_array_size(nss) ?
				!strcmp(gt_json_str(other, "metadata.namespace") ?: "default", ns) : false;
			size_t j;

			json_array_foreach(nss, j, x)
				ns_ok |= json_is_string(x) && !strcmp(json_string_value(x),
					gt_json_str(other, "metadata.namespace") ?: "default");
			hit = ns_ok && gt_labelsel_match(sel, gt_json_path(other, "metadata.labels"));
		}
		gt_labelsel_free(sel);
		if (hit)
			return "node(s) didn't match pod anti-affinity rules";
	}
	return NULL;
}

/* Resource fit: one reason per node (the first short resource). */
static const char *f_resources(const struct node *nd, const json_t *pod, const struct pick *pk,
			       char *buf, size_t n)
{
	(void)pod;
	for (size_t i = 0; i < pk->n; i++) {
		struct res *r = node_res((struct node *)nd, pk->names[i]);

		if (pk->want[i] <= 0)
			continue;
		if (!r || r->used + pk->want[i] > r->alloc) {
			if (i == 0)
				return "Too many pods";
			snprintf(buf, n, "Insufficient %s", pk->names[i]);
			return buf;
		}
	}
	return NULL;
}

static const filter_fn filters[] = {
	f_unschedulable, f_taints, f_affinity, f_volumes, f_resources, f_anti_affinity,
};

/* ---- scores (0..100 each) ---- */

static double frac_free(const struct node *nd, const char *name, int64_t want)
{
	const struct res *r = node_res((struct node *)nd, name);

	if (!r || r->alloc <= 0)
		return 0;
	return (double)(r->alloc - r->used - want) / (double)r->alloc;
}

static double score(const struct gt_sched *s, const struct node *nd, const json_t *pod,
		    const struct pick *pk)
{
	int64_t cpu = pk->cpu, mem = pk->mem, gpu = pk->gpu;
	double fc = frac_free(nd, "cpu", cpu), fm = frac_free(nd, "memory", mem), total = 0;
	const struct res *g = node_res((struct node *)nd, GT_SCHED_GPU);
	const json_t *pref;
	size_t i;

	total += s->pol.least_allocated * 50.0 * (fc + fm);
	total += s->pol.balanced * 100.0 * (1.0 - (fc > fm ? fc - fm : fm - fc));
	if (gpu > 0 && g && g->alloc > 0)
		total += s->pol.gpu_binpack * 100.0 * (double)(g->used + gpu) / (double)g->alloc;
	else if (gpu <= 0)
		total += s->pol.gpu_binpack * (g && g->alloc > 0 ? 0.0 : 100.0);
	pref = gt_json_path(pod, "spec.affinity.nodeAffinity."
			    "preferredDuringSchedulingIgnoredDuringExecution");
	if (json_array_size(pref)) {
		int64_t sum = 0, got = 0, w;
		const json_t *p;

		json_array_foreach(pref, i, p) {
			if (gt_json_int(p, "weight", &w) < 0 || w <= 0)
				continue;
			sum += w;
			if (term_match(json_object_get(p, "preference"), nd))
				got += w;
		}
		if (sum)
			total += s->pol.node_affinity * 100.0 * (double)got / (double)sum;
	}
	return total;
}

/* ---- pick ---- */

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

int gt_sched_pick(struct gt_sched *s, const json_t *pod, const json_t *volume_terms,
		  const char **node, struct gt_buf *why)
{
	struct reason *rs = NULL;
	size_t nr = 0, cr = 0;
	const struct node *best = NULL;
	double best_score = 0;
	struct pick pk = { .vt = volume_terms };

	pk.n = pod_resources(pod, pk.names);
	for (size_t i = 0; i < pk.n; i++)
		pk.want[i] = i == 0 ? 1 : gt_sched_pod_request(pod, pk.names[i]);
	pk.cpu = gt_sched_pod_request(pod, "cpu");
	pk.mem = gt_sched_pod_request(pod, "memory");
	pk.gpu = gt_sched_pod_request(pod, GT_SCHED_GPU);
	for (size_t i = 0; i < s->n; i++) {
		const struct node *nd = &s->nodes[i];
		const char *r = NULL;
		char buf[200];
		double sc;

		for (size_t f = 0; f < GT_ARRAY_SIZE(filters) && !r; f++)
			r = filters[f](nd, pod, &pk, buf, sizeof(buf));
		if (r) {
			size_t k;

			for (k = 0; k < nr && strcmp(rs[k].text, r); k++)
				;
			if (k == nr) {
				gt_grow((void **)&rs, &cr, nr + 1, sizeof(*rs));
				snprintf(rs[nr].text, sizeof(rs[nr].text), "%s", r);
				rs[nr++].count = 0;
			}
			rs[k].count++;
			continue;
		}
		sc = score(s, nd, pod, &pk);
		if (!best || sc > best_score) {
			best = nd;
			best_score = sc;
		}
	}
	if (best) {
		free(rs);
		*node = best->name;
		return 0;
	}
	gt_buf_reset(why);
	if (!s->n) {
		gt_buf_adds(why, "no nodes available to schedule pods");
	} else {
		qsort(rs, nr, sizeof(*rs), cmp_reason);
		gt_buf_addf(why, "0/%zu nodes are available: ", s->n);
		for (size_t k = 0; k < nr; k++)
			gt_buf_addf(why, "%s%d %s", k ? ", " : "", rs[k].count, rs[k].text);
		gt_buf_adds(why, ".");
	}
	free(rs);
	return -ENOSPC;
}
