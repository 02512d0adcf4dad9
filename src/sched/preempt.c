/*
 * preempt.c - victims for a pod that fits nowhere (see gt_sched_preempt).
 *
 * Candidates on a node are grouped in units: a pod on its own, or all the
 * members of one gang (namespace + pod-group label) bound anywhere.  A unit
 * can be a victim only when every member's priority is below the
 * preemptor's and none is being deleted.  The node's units are taken out
 * (their members on this node), and if the pod then fits they are put back
 * one unit at a time, highest priority first, while it still fits.
 */
#include "sched/sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit {
	const char *gang;          /* NULL: a single pod */
	const json_t *pod;         /* the single pod, or the first member seen */
	int64_t prio;              /* highest of its members */
	bool victim;
};

struct cost {
	int64_t top, sum;
	size_t count;
};

static const char *gang_of(const json_t *pod)
{
	return json_string_value(json_object_get(gt_json_path(pod, "metadata.labels"),
						 GT_SCHED_GANG_LABEL));
}

static bool same_gang(const json_t *p, const char *ns, const char *gang)
{
	const char *g = gang_of(p);

	return g && !strcmp(g, gang) &&
	       !strcmp(gt_json_str(p, "metadata.namespace") ?: "default", ns);
}

/*
 * Calls fn on every bound member of pod's gang (every node); returns false
 * when one cannot be a victim (priority >= prio, or being deleted).
 */
static bool gang_members(struct gt_sched *s, const json_t *pod, int64_t prio,
			 void (*fn)(const json_t *m, void *arg), void *arg)
{
	const char *ns = gt_json_str(pod, "metadata.namespace") ?: "default", *gang = gang_of(pod);
	bool ok = true;

	for (size_t i = 0; i < s->n; i++)
		for (size_t k = 0; k < s->nodes[i].npods; k++) {
			const json_t *m = s->nodes[i].pods[k];

			if (!same_gang(m, ns, gang))
				continue;
			if (gt_sched_priority(m) >= prio || gt_sched_terminating(m))
				ok = false;
			if (fn)
				fn(m, arg);
		}
	return ok;
}

static void count_member(const json_t *m, void *arg);

/*
 * Whether pod's gang may go (gang_members), and how many members it has and
 * the sum of their priorities, worked out once per preemption (memo: a JSON
 * object "ns/gang" -> [ok, count, sum]): every node may hold a member.
 */
static bool gang_info(struct gt_sched *s, json_t *memo, const json_t *pod, int64_t prio,
		      struct cost *c)
{
	char key[600];
	json_t *e;

	snprintf(key, sizeof(key), "%s/%s", gt_json_str(pod, "metadata.namespace") ?: "default",
		 gang_of(pod));
	e = json_object_get(memo, key);
	if (!e) {
		struct cost gc = { 0 };
		bool ok = gang_members(s, pod, prio, count_member, &gc);

		e = json_pack("[b,I,I]", ok, (json_int_t)gc.count, (json_int_t)gc.sum);
		json_object_set_new(memo, key, e);
	}
	if (c) {
		c->count += (size_t)json_integer_value(json_array_get(e, 1));
		c->sum += json_integer_value(json_array_get(e, 2));
	}
	return json_is_true(json_array_get(e, 0));
}

static void add_unit(struct unit **us, size_t *nu, size_t *cu, const json_t *p, bool gang)
{
	for (size_t i = 0; gang && i < *nu; i++)
		if ((*us)[i].gang && same_gang(p, gt_json_str((*us)[i].pod, "metadata.namespace") ?:
					       "default", (*us)[i].gang)) {
			if (gt_sched_priority(p) > (*us)[i].prio)
				(*us)[i].prio = gt_sched_priority(p);
			return;
		}
	gt_grow((void **)us, cu, *nu + 1, sizeof(**us));
	(*us)[(*nu)++] = (struct unit){ gang ? gang_of(p) : NULL, p, gt_sched_priority(p), false };
}

static int by_prio_desc(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;

	return x->prio < y->prio ? 1 : x->prio > y->prio ? -1 : 0;
}

/* Takes a unit's members on nd out (sign -1) or puts them back (1). */
static void unit_on_node(struct node *nd, const struct unit *u, const json_t **local,
			 size_t nlocal, int sign)
{
	const char *ns = gt_json_str(u->pod, "metadata.namespace") ?: "default";

	for (size_t k = 0; k < nlocal; k++)
		if (u->gang ? same_gang(local[k], ns, u->gang) : local[k] == u->pod)
			gt_sched_account(nd, local[k], sign);
}

static void count_member(const json_t *m, void *arg)
{
	struct cost *c = arg;

	c->count++;
	c->sum += gt_sched_priority(m);
}

static void append_member(const json_t *m, void *arg)
{
	json_array_append((json_t *)arg, (json_t *)m);
}

/* The victims on nd (units marked), or false when removing them cannot help. */
static bool node_victims(struct gt_sched *s, json_t *memo, struct node *nd,
			 const struct pick *pk, int64_t prio, struct unit **us, size_t *nu,
			 size_t *cu, struct cost *c)
{
	const json_t **local;
	size_t nlocal = nd->npods;
	char buf[200];
	bool fits;

	*nu = 0;
	if (gt_sched_fails(nd, pk, true, buf, sizeof(buf)))
		return false;
	for (size_t k = 0; k < nd->npods; k++) {
		const json_t *p = nd->pods[k];

		if (gt_sched_priority(p) >= prio || gt_sched_terminating(p))
			continue;
		if (gang_of(p) && !gang_info(s, memo, p, prio, NULL))
			continue; /* part of its gang may not go: none of it goes */
		add_unit(us, nu, cu, p, gang_of(p) != NULL);
	}
	if (!*nu)
		return false;
	/* the node's pods move while we account: work on a copy of the list */
	local = xcalloc(nlocal, sizeof(*local));
	for (size_t k = 0; k < nlocal; k++)
		local[k] = json_incref(nd->pods[k]);
	for (size_t i = 0; i < *nu; i++)
		unit_on_node(nd, &(*us)[i], local, nlocal, -1);
	fits = !gt_sched_fails(nd, pk, false, buf, sizeof(buf));
	if (fits) {
		qsort(*us, *nu, sizeof(**us), by_prio_desc);
		for (size_t i = 0; i < *nu; i++) {
			unit_on_node(nd, &(*us)[i], local, nlocal, 1);
			if (gt_sched_fails(nd, pk, false, buf, sizeof(buf))) {
				unit_on_node(nd, &(*us)[i], local, nlocal, -1);
				(*us)[i].victim = true;
			}
		}
	}
	for (size_t i = 0; i < *nu; i++)
		if (!fits || (*us)[i].victim)
			unit_on_node(nd, &(*us)[i], local, nlocal, 1);
	for (size_t k = 0; k < nlocal; k++)
		json_decref((json_t *)local[k]);
	free(local);
	*c = (struct cost){ 0 };
	for (size_t i = 0; fits && i < *nu; i++) {
		const struct unit *u = &(*us)[i];

		if (!u->victim)
			continue;
		if (u->prio > c->top || !c->count)
			c->top = u->prio;
		if (u->gang)
			gang_info(s, memo, u->pod, prio, c);
		else
			count_member(u->pod, c);
	}
	return fits;
}

static bool cheaper(const struct cost *a, const struct cost *b)
{
	if (a->top != b->top)
		return a->top < b->top;
	if (a->count != b->count)
		return a->count < b->count;
	return a->sum < b->sum;
}

int gt_sched_preempt(struct gt_sched *s, const json_t *pod, const json_t *volume_terms,
		     const char **node, json_t *victims)
{
	int64_t prio = gt_sched_priority(pod);
	struct unit *us = NULL, *best_us = NULL;
	size_t nu = 0, cu = 0, best_nu = 0, best_cu = 0;
	struct node *best = NULL;
	struct cost best_cost = { 0 };
	struct pick pk;
	json_t *memo;

	if (!strcmp(gt_json_str(pod, "spec.preemptionPolicy") ?: "", "Never"))
		return -EPERM;
	memo = json_object();
	gt_sched_pick_init(&pk, pod, volume_terms);
	gt_sched_spread_init(s, &pk);
	for (size_t i = 0; i < s->n; i++) {
		struct node *nd = &s->nodes[i];
		struct cost c;

		if (!nd->obj || !node_victims(s, memo, nd, &pk, prio, &us, &nu, &cu, &c))
			continue;
		if (!best || cheaper(&c, &best_cost)) {
			struct unit *t = best_us;
			size_t tc = best_cu;

			best = nd;
			best_cost = c;
			best_us = us;
			best_cu = cu;
			best_nu = nu;
			us = t;
			cu = tc;
		}
	}
	gt_sched_pick_release(&pk);
	json_decref(memo);
	for (size_t i = 0; best && i < best_nu; i++) {
		if (!best_us[i].victim)
			continue;
		if (best_us[i].gang)
			gang_members(s, best_us[i].pod, prio, append_member, victims);
		else
			json_array_append(victims, (json_t *)best_us[i].pod);
	}
	free(us);
	free(best_us);
	if (!best)
		return -ENOSPC;
	*node = best->name;
	return 0;
}
