/*
 * sched_gang.c - gangs: the pending members of one PodGroup are placed
 * together or not at all.  Enough of them to reach minMember (with those
 * already bound) must fit at once, each placed with the others assumed;
 * otherwise every assumption is taken back, nothing is bound and every
 * member says why.  A gang of a priority above 0 that does not fit may
 * preempt: members are placed one by one, each on a pick or, failing
 * that, on a node where victims make room (victims taken out of the
 * snapshot for the rest of the gang, whole gangs at a time); only if the
 * whole gang then fits are the victims evicted and the members nominated;
 * the gang binds in a later pass once the room is free.
 *
 * scheduleTimeoutSeconds (scheduler-plugins coscheduling): a gang that has
 * not been placed that long after its first try is backed off for as long
 * again (its members are not tried; it holds nothing, as always), and its
 * PodGroup says so (a ScheduleTimeout condition); the window starts again
 * after the back-off.
 */
#include <stdio.h>
#include <string.h>

#include "controllers/sched_ctl.h"

struct gang {
	struct pass_ctx *c;
	const json_t *pg;
	json_t *members;         /* pending members, by priority */
	const char **on;         /* their nodes while assumed */
	size_t n, placed;
	int64_t min, bound;
	char msg[700];
};

static void forget_all(struct gang *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->on[i])
			gt_sched_forget(g->c->sc->s, json_array_get(g->members, i), g->on[i]);
}

/* Tries to place every member; true when minMember is reached. */
static bool try_place(struct gang *g, char *why, size_t n)
{
	why[0] = '\0';
	g->placed = 0;
	for (size_t i = 0; i < g->n; i++) {
		json_t *terms = NULL, *m = json_array_get(g->members, i);

		g->on[i] = gt_schedc_place(g->c, m, &terms);
		json_decref(terms);
		if (g->on[i]) {
			gt_sched_assume(g->c->sc->s, m, g->on[i]);
			g->placed++;
		} else if (!why[0]) {
			snprintf(why, n, "%s", g->c->why.data);
		}
	}
	return g->bound + (int64_t)g->placed >= g->min;
}

/* The gang with victims made room for; evicts and nominates when it all fits. */
static bool try_preempt(struct gang *g)
{
	struct gt_sched *s = g->c->sc->s;
	json_t *removed = json_array(), *nominated = json_array(), *terms;
	const json_t *m0 = json_array_get(g->members, 0);
	bool ok = true;
	size_t i, placed = 0;

	for (i = 0; i < g->n; i++) {
		json_t *m = json_array_get(g->members, i), *victims = json_array(), *v;
		const char *node = NULL;
		size_t k;

		terms = NULL;
		node = gt_schedc_place(g->c, m, &terms);
		if (!node && !json_is_null(terms) &&
		    gt_sched_preempt(s, m, terms, &node, victims) == 0) {
			json_array_foreach(victims, k, v) {
				gt_sched_del_pod(s, v);
				json_array_append(removed, v);
			}
			json_array_append_new(nominated, json_pack("{s:O,s:s}", "pod", m, "node", node));
		}
		json_decref(terms);
		json_decref(victims);
		g->on[i] = node;
		if (node) {
			gt_sched_assume(s, m, node);
			placed++;
		}
	}
	ok = g->bound + (int64_t)placed >= g->min && json_array_size(removed);
	forget_all(g);
	json_array_foreach(removed, i, terms)
		gt_sched_add_pod(s, terms); /* still there until their deletion ends */
	if (ok) {
		const json_t *nm;

		gt_schedc_evict(g->c->sc->api, removed, m0,
				gt_json_str(json_array_get(nominated, 0), "node"));
		json_array_foreach(nominated, i, nm)
			gt_schedc_nominate(g->c->sc->api, json_object_get(nm, "pod"),
					   gt_json_str(nm, "node"));
	}
	json_decref(removed);
	json_decref(nominated);
	return ok;
}

/* No member may preempt while victims chosen for any of them are leaving. */
static bool may_preempt(struct gang *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (!gt_schedc_may_preempt(g->c, json_array_get(g->members, i)))
			return false;
	return true;
}

static int64_t bound_members(struct gt_scheduler *sc, const char *gk)
{
	int64_t n = json_integer_value(json_object_get(sc->gang_bound, gk));
	const char *key;
	json_t *p;
	char mk[600];

	json_object_foreach(sc->assumed, key, p) /* bindings in flight count as bound */
		n += gt_schedc_gang_key(json_object_get(p, "pod"), mk, sizeof(mk)) &&
		     !strcmp(mk, gk);
	return n;
}

/* The timeout window: false while backed off; *late when it just ran out. */
static bool window(struct gang *g, const char *gk, bool *late, char *start)
{
	json_t *st = json_object_get(g->c->sc->gangs, gk);
	int64_t now = gt_now_ms(), timeout = 0, t0, until;

	*late = false;
	if (!st) {
		st = json_pack("{s:I,s:I}", "start", (json_int_t)now, "until", (json_int_t)0);
		json_object_set_new(g->c->sc->gangs, gk, st);
	}
	t0 = json_integer_value(json_object_get(st, "start"));
	until = json_integer_value(json_object_get(st, "until"));
	gt_time_rfc3339((time_t)(t0 / 1000), start);
	if (until && now < until)
		return false;
	if (until) { /* the back-off is over: a new window */
		json_object_set_new(st, "start", json_integer(now));
		json_object_set_new(st, "until", json_integer(0));
		gt_time_rfc3339((time_t)(now / 1000), start);
		return true;
	}
	if (g->pg && gt_json_int(g->pg, "spec.scheduleTimeoutSeconds", &timeout) == 0 &&
	    timeout > 0 && now - t0 >= timeout * 1000) {
		json_object_set_new(st, "until", json_integer(now + timeout * 1000));
		*late = true;
	}
	return true;
}

void gt_schedc_place_gang(struct pass_ctx *c, const char *ns, const char *gang, json_t *members)
{
	struct gang g = { .c = c, .members = members, .n = json_array_size(members), .min = 1 };
	char gk[600], why[400] = "", start[32] = "";
	const json_t *m;
	bool late = false;
	size_t i;

	snprintf(gk, sizeof(gk), "%s/%s", ns, gang);
	g.pg = gt_schedc_find_named(&c->groups, ns, gang);
	g.on = xcalloc(g.n, sizeof(*g.on));
	g.bound = bound_members(c->sc, gk);
	if (!g.pg) {
		snprintf(g.msg, sizeof(g.msg), "pod group \"%s\" not found (PodGroup %s/%s)", gang,
			 ns, gang);
	} else {
		gt_json_int(g.pg, "spec.minMember", &g.min);
		if (g.bound + (int64_t)g.n < g.min)
			/* no count in it: the message stays the same (and unwritten)
			 * while members keep coming */
			snprintf(g.msg, sizeof(g.msg), "pod group \"%s\" has fewer pods than its "
				 "minMember %lld", gang, (long long)g.min);
		else if (!window(&g, gk, &late, start))
			snprintf(g.msg, sizeof(g.msg), "pod group \"%s\" timed out "
				 "(scheduleTimeoutSeconds) and is backing off", gang);
	}
	if (!g.msg[0] && try_place(&g, why, sizeof(why))) {
		for (i = 0; i < g.n; i++) {
			m = json_array_get(members, i);
			if (!g.on[i]) {
				gt_schedc_say(c, m, why);
				c->waiting++;
				continue;
			}
			gt_sched_forget(c->sc->s, m, g.on[i]);
			g.bound += gt_schedc_bind(c, m, g.on[i]);
		}
		json_object_del(c->sc->gangs, gk);
		gt_schedc_group_status(c->sc->api, g.pg, json_pack("{s:s,s:I}", "phase", "Scheduled",
								   "scheduled", (json_int_t)g.bound));
		free(g.on);
		return;
	}
	if (!g.msg[0]) {
		forget_all(&g);
		snprintf(g.msg, sizeof(g.msg), "pod group \"%s\": only %lld of %lld pods fit at once; "
			 "none is bound. %s", gang, (long long)(g.bound + (int64_t)g.placed),
			 (long long)g.min, why);
		if (may_preempt(&g) && try_preempt(&g))
			snprintf(g.msg, sizeof(g.msg), "pod group \"%s\": preempting lower-priority "
				 "pods to make room; none is bound yet", gang);
		if (late)
			snprintf(g.msg + strlen(g.msg), sizeof(g.msg) - strlen(g.msg),
				 " Timed out after scheduleTimeoutSeconds; backing off.");
	}
	json_array_foreach(members, i, m)
		gt_schedc_say(c, m, g.msg);
	c->waiting += g.n;
	if (g.pg) {
		json_t *want = json_pack("{s:s,s:I}", "phase", "Pending", "scheduled",
					 (json_int_t)g.bound);

		if (start[0])
			json_object_set_new(want, "scheduleStartTime", json_string(start));

		if (late || json_integer_value(json_object_get(json_object_get(c->sc->gangs, gk),
							       "until")))
			json_object_set_new(want, "conditions", json_pack(
				"[{s:s,s:s,s:s,s:s}]", "type", "ScheduleTimeout", "status", "True",
				"reason", "ScheduleTimeout", "message",
				"not all of minMember fit within scheduleTimeoutSeconds; backing off"));
		gt_schedc_group_status(c->sc->api, g.pg, want);
	}
	free(g.on);
}
