/*
 * filters.c - the filter and score rows (see sched.h).  A filter returns
 * NULL (fits) or the reason it does not, written into a caller buffer when
 * it has to be formatted.  What a filter reads of the pod was looked up
 * once per pick (struct pick); what it reads of the node, once when the
 * node was set (struct node).
 */
#include "sched/sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"

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
bool gt_sched_term_match(const json_t *term, const struct node *nd)
{
	const json_t *r;
	size_t i;
	bool any = false;

	json_array_foreach(json_object_get(term, "matchExpressions"), i, r) {
		any = true;
		if (!req_match(r, nd->labels, NULL))
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
bool gt_sched_terms_match(const json_t *terms, const struct node *nd)
{
	const json_t *t;
	size_t i;

	if (!json_is_array(terms))
		return true;
	json_array_foreach(terms, i, t)
		if (gt_sched_term_match(t, nd))
			return true;
	return false;
}

/* The first of tolerations that tolerates the taint key=value:effect. */
static const json_t *toleration(const json_t *tolerations, const char *key, const char *value,
				const char *effect)
{
	const json_t *t;
	size_t i;

	json_array_foreach(tolerations, i, t) {
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

bool gt_sched_tolerates(const json_t *tolerations, const char *key, const char *value,
			const char *effect)
{
	return toleration(tolerations, key, value, effect) != NULL;
}

const json_t *gt_sched_toleration(const json_t *pod, const char *key, const char *value,
				  const char *effect)
{
	return toleration(gt_json_path(pod, "spec.tolerations"), key, value, effect);
}

bool gt_sched_daemon_fits(const json_t *node, const json_t *pod, bool running)
{
	const json_t *sel = gt_json_path(pod, "spec.nodeSelector"), *t, *v;
	const json_t *labels = gt_json_path(node, "metadata.labels");
	const json_t *tols = gt_json_path(pod, "spec.tolerations");
	struct node nd = { .name = (char *)gt_json_str(node, "metadata.name"),
			   .labels = (json_t *)labels };
	const char *key;
	size_t i;

	if (!nd.name)
		return false;
	json_object_foreach((json_t *)sel, key, v) {
		const char *have = json_string_value(json_object_get(labels, key));

		if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
			return false;
	}
	if (!gt_sched_terms_match(gt_json_path(pod, "spec.affinity.nodeAffinity."
					       "requiredDuringSchedulingIgnoredDuringExecution."
					       "nodeSelectorTerms"), &nd))
		return false;
	json_array_foreach(gt_json_path(node, "spec.taints"), i, t) {
		const char *effect = gt_json_str(t, "effect") ?: "";

		if ((!strcmp(effect, "NoExecute") || (!running && !strcmp(effect, "NoSchedule"))) &&
		    !gt_sched_tolerates(tols, gt_json_str(t, "key") ?: "", gt_json_str(t, "value") ?: "",
					effect))
			return false;
	}
	return true;
}

bool gt_sched_terminating(const json_t *pod)
{
	return gt_json_path(pod, "metadata.deletionTimestamp") != NULL;
}

/* ---- filters ---- */

static const char *f_unschedulable(const struct node *nd, const struct pick *pk, char *buf,
				   size_t n)
{
	(void)buf;
	(void)n;
	if (nd->unschedulable &&
	    !gt_sched_tolerates(pk->tolerations, "node.kubernetes.io/unschedulable", "",
				"NoSchedule"))
		return "node(s) were unschedulable";
	return NULL;
}

static const char *f_taints(const struct node *nd, const struct pick *pk, char *buf, size_t n)
{
	const json_t *t;
	size_t i;

	json_array_foreach(nd->taints, i, t) {
		const char *key = gt_json_str(t, "key") ?: "", *value = gt_json_str(t, "value") ?: "";
		const char *effect = gt_json_str(t, "effect") ?: "";

		if (strcmp(effect, "NoSchedule") && strcmp(effect, "NoExecute"))
			continue;
		if (!gt_sched_tolerates(pk->tolerations, key, value, effect)) {
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
	if (!nd->ready &&
	    !gt_sched_tolerates(pk->tolerations, "node.kubernetes.io/not-ready", "", "NoSchedule"))
		return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }";
	return NULL;
}

static const char *f_affinity(const struct node *nd, const struct pick *pk, char *buf, size_t n)
{
	const char *key;
	json_t *v;

	(void)buf;
	(void)n;
	json_object_foreach((json_t *)pk->selector, key, v) {
		const char *have = json_string_value(json_object_get(nd->labels, key));

		if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
			return "node(s) didn't match Pod's node affinity/selector";
	}
	if (!gt_sched_terms_match(pk->required, nd))
		return "node(s) didn't match Pod's node affinity/selector";
	return NULL;
}

static const char *f_volumes(const struct node *nd, const struct pick *pk, char *buf, size_t n)
{
	const json_t *terms;
	size_t i;

	(void)buf;
	(void)n;
	json_array_foreach(pk->vt, i, terms)
		if (!gt_sched_terms_match(terms, nd))
			return "node(s) had volume node affinity conflict";
	return NULL;
}

/* Required anti-affinity terms with the hostname topology key. */
static const char *f_anti_affinity(const struct node *nd, const struct pick *pk, char *buf,
				   size_t n)
{
	const json_t *term;
	size_t i;

	(void)buf;
	(void)n;
	json_array_foreach(pk->anti, i, term) {
		struct gt_labelsel *sel = NULL;
		bool hit = false;

		if (strcmp(gt_json_str(term, "topologyKey") ?: "", "kubernetes.io/hostname") ||
		    gt_labelsel_from_object(json_object_get(term, "labelSelector"), &sel, NULL) < 0)
			continue;
		for (size_t k = 0; k < nd->npods && !hit; k++) {
			const json_t *other = nd->pods[k];
			const char *ons = gt_json_str(other, "metadata.namespace") ?: "default";
			const json_t *nss = json_object_get(term, "namespaces"), *x;
			bool ns_ok = !json_array_size(nss) ? !strcmp(ons, pk->ns) : false;
			size_t j;

			json_array_foreach(nss, j, x)
				ns_ok |= json_is_string(x) && !strcmp(json_string_value(x), ons);
			hit = ns_ok && gt_labelsel_match(sel, gt_json_path(other, "metadata.labels"));
		}
		gt_labelsel_free(sel);
		if (hit)
			return "node(s) didn't match pod anti-affinity rules";
	}
	return NULL;
}

static const struct res *node_res(const struct node *nd, const char *name)
{
	for (size_t i = RES_FIXED; i < nd->nres; i++)
		if (!strcmp(nd->res[i].name, name))
			return &nd->res[i];
	return NULL;
}

/* Resource fit: one reason per node (the first short resource). */
static const char *f_resources(const struct node *nd, const struct pick *pk, char *buf,
			       size_t n)
{
	for (size_t i = 0; i < pk->n; i++) {
		const struct res *r;

		if (pk->want[i] <= 0)
			continue;
		r = pk->slot[i] >= 0 ? &nd->res[pk->slot[i]] : node_res(nd, pk->names[i]);
		if (!r || r->used + pk->want[i] > r->alloc) {
			if (i == 0)
				return "Too many pods";
			snprintf(buf, n, "Insufficient %s", pk->names[i]);
			return buf;
		}
	}
	return NULL;
}

const struct gt_sched_filter gt_sched_filters[] = {
	{ f_unschedulable, false }, { f_taints, false }, { f_affinity, false },
	{ f_volumes, false }, { f_resources, true }, { f_anti_affinity, true },
	{ gt_sched_spread_filter, false },
};
const size_t gt_sched_nfilters = GT_ARRAY_SIZE(gt_sched_filters);

const char *gt_sched_fails(const struct node *nd, const struct pick *pk, bool only_fixed,
			   char *buf, size_t n)
{
	const char *r = NULL;

	for (size_t f = 0; f < gt_sched_nfilters && !r; f++)
		if (!only_fixed || !gt_sched_filters[f].resolvable)
			r = gt_sched_filters[f].fn(nd, pk, buf, n);
	return r;
}

/* ---- scores (0..100 each) ---- */

static double frac_free(const struct node *nd, int slot, int64_t want)
{
	const struct res *r = &nd->res[slot];

	if (r->alloc <= 0)
		return 0;
	return (double)(r->alloc - r->used - want) / (double)r->alloc;
}

double gt_sched_score(const struct gt_sched *s, const struct node *nd, const struct pick *pk)
{
	double fc = frac_free(nd, RES_CPU, pk->cpu), fm = frac_free(nd, RES_MEMORY, pk->mem), total = 0;
	const struct res *g = &nd->res[RES_GPU];
	size_t i;

	total += s->pol.least_allocated * 50.0 * (fc + fm);
	total += s->pol.balanced * 100.0 * (1.0 - (fc > fm ? fc - fm : fm - fc));
	if (pk->gpu > 0 && g && g->alloc > 0) {
		double used = (double)(g->used + pk->gpu) / (double)g->alloc;

		total += s->pol.gpu_binpack * 100.0 * (s->pol.gpu_least ? 1.0 - used : used);
	} else if (pk->gpu <= 0) {
		total += s->pol.gpu_binpack * (g && g->alloc > 0 ? 0.0 : 100.0);
	}
	if (json_array_size(pk->preferred)) {
		int64_t sum = 0, got = 0, w;
		const json_t *p;

		json_array_foreach(pk->preferred, i, p) {
			if (gt_json_int(p, "weight", &w) < 0 || w <= 0)
				continue;
			sum += w;
			if (gt_sched_term_match(json_object_get(p, "preference"), nd))
				got += w;
		}
		if (sum)
			total += s->pol.node_affinity * 100.0 * (double)got / (double)sum;
	}
	if (pk->nspread)
		total += s->pol.topology_spread * gt_sched_spread_score(nd, pk);
	return total;
}
