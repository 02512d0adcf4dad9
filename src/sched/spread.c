/*
 * spread.c - topologySpreadConstraints as a filter (DoNotSchedule) and a
 * score (ScheduleAnyway), as kube-scheduler's PodTopologySpread plugin
 * counts them.
 *
 * Per constraint, once per pick: the domains are the values of topologyKey
 * on the eligible nodes: those with the label that (nodeAffinityPolicy
 * Honor, the default) match the pod's nodeSelector and required node
 * affinity and (nodeTaintsPolicy Honor; the default Ignore skips this)
 * whose NoSchedule/NoExecute taints the pod tolerates.  A domain counts
 * the pods on its eligible nodes in the pod's namespace that match the
 * labelSelector and are not being deleted.  The skew of placing the pod on
 * a node is its domain's count, plus one when the pod matches its own
 * selector, minus the smallest count (0 when there are fewer domains than
 * minDomains).  DoNotSchedule refuses a node whose skew would exceed
 * maxSkew or that lacks the key; ScheduleAnyway scores 100 for the least
 * loaded domain down to 0 for the most loaded.
 */
#include "sched/sched_int.h"

#include <stdlib.h>
#include <string.h>

#include "api/selector.h"

static bool taints_tolerated(const struct node *nd, const struct pick *pk)
{
	const json_t *t;
	size_t i;

	json_array_foreach(nd->taints, i, t) {
		const char *effect = gt_json_str(t, "effect") ?: "";

		if ((!strcmp(effect, "NoSchedule") || !strcmp(effect, "NoExecute")) &&
		    !gt_sched_tolerates(pk->tolerations, gt_json_str(t, "key") ?: "",
					gt_json_str(t, "value") ?: "", effect))
			return false;
	}
	return true;
}

static bool affinity_ok(const struct node *nd, const struct pick *pk)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)pk->selector, key, v) {
		const char *have = json_string_value(json_object_get(nd->labels, key));

		if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
			return false;
	}
	return gt_sched_terms_match(pk->required, nd);
}

static struct dom *dom_of(struct spread *sp, const char *value, bool make)
{
	for (size_t i = 0; i < sp->ndoms; i++)
		if (!strcmp(sp->doms[i].value, value))
			return &sp->doms[i];
	if (!make)
		return NULL;
	gt_grow((void **)&sp->doms, &sp->capdoms, sp->ndoms + 1, sizeof(*sp->doms));
	sp->doms[sp->ndoms] = (struct dom){ value, 0 };
	return &sp->doms[sp->ndoms++];
}

static void count(const struct gt_sched *s, const struct pick *pk, struct spread *sp,
		  const json_t *c)
{
	bool honor_aff = strcmp(gt_json_str(c, "nodeAffinityPolicy") ?: "Honor", "Ignore") != 0;
	bool honor_taints = !strcmp(gt_json_str(c, "nodeTaintsPolicy") ?: "Ignore", "Honor");

	for (size_t i = 0; i < s->n; i++) {
		const struct node *nd = &s->nodes[i];
		const char *v = json_string_value(json_object_get(nd->labels, sp->key));
		struct dom *d;

		if (!nd->obj || !v || (honor_aff && !affinity_ok(nd, pk)) ||
		    (honor_taints && !taints_tolerated(nd, pk)))
			continue;
		d = dom_of(sp, v, true);
		for (size_t k = 0; k < nd->npods; k++) {
			const json_t *p = nd->pods[k];

			if (!gt_sched_terminating(p) &&
			    !strcmp(gt_json_str(p, "metadata.namespace") ?: "default", pk->ns) &&
			    gt_labelsel_match(sp->sel, gt_json_path(p, "metadata.labels")))
				d->count++;
		}
	}
	for (size_t i = 0; i < sp->ndoms; i++) {
		if (!i || sp->doms[i].count < sp->min)
			sp->min = sp->doms[i].count;
		if (!i || sp->doms[i].count > sp->max)
			sp->max = sp->doms[i].count;
	}
	if (sp->hard && (int64_t)sp->ndoms < sp->min_domains)
		sp->min = 0;
}

void gt_sched_spread_init(const struct gt_sched *s, struct pick *pk)
{
	const json_t *cs = gt_json_path(pk->pod, "spec.topologySpreadConstraints"), *c;
	size_t i;

	if (!json_array_size(cs))
		return;
	pk->spread = xcalloc(json_array_size(cs), sizeof(*pk->spread));
	json_array_foreach(cs, i, c) {
		struct spread *sp = &pk->spread[pk->nspread];

		sp->key = gt_json_str(c, "topologyKey");
		if (!sp->key || gt_labelsel_from_object(json_object_get(c, "labelSelector"), &sp->sel,
							NULL) < 0)
			continue; /* validation refuses these; nothing to count */
		sp->max_skew = 1;
		gt_json_int(c, "maxSkew", &sp->max_skew);
		sp->min_domains = 1;
		gt_json_int(c, "minDomains", &sp->min_domains);
		sp->hard = strcmp(gt_json_str(c, "whenUnsatisfiable") ?: "DoNotSchedule",
				  "ScheduleAnyway") != 0;
		sp->self = !strcmp(gt_json_str(pk->pod, "metadata.namespace") ?: "default", pk->ns) &&
			   gt_labelsel_match(sp->sel, gt_json_path(pk->pod, "metadata.labels"));
		count(s, pk, sp, c);
		pk->nspread++;
	}
}

void gt_sched_spread_release(struct pick *pk)
{
	for (size_t i = 0; i < pk->nspread; i++) {
		gt_labelsel_free(pk->spread[i].sel);
		free(pk->spread[i].doms);
	}
	free(pk->spread);
	pk->spread = NULL;
	pk->nspread = 0;
}

const char *gt_sched_spread_filter(const struct node *nd, const struct pick *pk, char *buf,
				   size_t n)
{
	(void)buf;
	(void)n;
	for (size_t i = 0; i < pk->nspread; i++) {
		struct spread *sp = &pk->spread[i];
		const char *v;
		struct dom *d;

		if (!sp->hard)
			continue;
		v = json_string_value(json_object_get(nd->labels, sp->key));
		if (!v)
			return "node(s) didn't match pod topology spread constraints (missing required label)";
		d = dom_of(sp, v, false);
		if ((d ? d->count : 0) + sp->self - sp->min > sp->max_skew)
			return "node(s) didn't match pod topology spread constraints";
	}
	return NULL;
}

double gt_sched_spread_score(const struct node *nd, const struct pick *pk)
{
	double total = 0;
	int soft = 0;

	for (size_t i = 0; i < pk->nspread; i++) {
		struct spread *sp = &pk->spread[i];
		const char *v;
		struct dom *d;

		if (sp->hard)
			continue;
		soft++;
		v = json_string_value(json_object_get(nd->labels, sp->key));
		if (!v)
			continue;
		d = dom_of(sp, v, false);
		total += sp->max > sp->min ?
			100.0 * (double)(sp->max - (d ? d->count : 0)) / (double)(sp->max - sp->min) :
			100.0;
	}
	return soft ? total / soft : 0;
}
