/*
 * status.c - the PodStatus the agent reports: phase (the kubelet's rules),
 * conditions with stable transition times, init/container statuses with
 * state, lastState, ready, restartCount, image and imageID, the pod's IPs,
 * start time and QoS class.
 */
#include <string.h>
#include <time.h>

#include "agent/internal.h"

static json_t *ctr_status(const struct pod *p, const struct ctr *c)
{
	json_t *s = json_pack("{s:s,s:o,s:o,s:b,s:i,s:s,s:s,s:b}", "name", c->name, "state",
			      c->state ? json_incref(c->state) : json_object(), "lastState",
			      c->last ? json_incref(c->last) : json_object(), "ready", c->ready,
			      "restartCount",
			      c->restarts, "image", c->image, "imageID", c->image_id,
			      "started", c->running);

	if (c->started) {
		char id[300], cid[320];

		gt_ctr_id(p, c, c->attempt, id, sizeof(id));
		snprintf(cid, sizeof(cid), "runc://%s", id);
		json_object_set_new(s, "containerID", json_string(cid));
	}
	/* the "last" we keep is a state object; lastState wants {terminated:{...}} */
	return s;
}

static const char *qos(const json_t *pod)
{
	json_t *cs = gt_json_path(pod, "spec.containers"), *c;
	bool any = false, guaranteed = true;
	size_t i;

	json_array_foreach(cs, i, c) {
		json_t *lim = gt_json_path(c, "resources.limits");
		json_t *req = gt_json_path(c, "resources.requests");

		if (json_object_size(lim) || json_object_size(req))
			any = true;
		if (!json_object_get(lim, "cpu") || !json_object_get(lim, "memory"))
			guaranteed = false;
		else if (req && ((json_object_get(req, "cpu") &&
				  !json_equal(json_object_get(req, "cpu"), json_object_get(lim, "cpu"))) ||
				 (json_object_get(req, "memory") &&
				  !json_equal(json_object_get(req, "memory"), json_object_get(lim, "memory")))))
			guaranteed = false;
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

static void add_cond(json_t *conds, const json_t *prev, const char *type, bool ok,
		     const char *reason, const char *now)
{
	const char *st = ok ? "True" : "False", *ltt = now;
	json_t *c, *pc;
	size_t i;

	json_array_foreach(gt_json_path(prev, "conditions"), i, pc)
		if (!strcmp(gt_json_str(pc, "type") ?: "", type) &&
		    !strcmp(gt_json_str(pc, "status") ?: "", st) && gt_json_str(pc, "lastTransitionTime"))
			ltt = gt_json_str(pc, "lastTransitionTime");
	c = json_pack("{s:s,s:s,s:n,s:s}", "type", type, "status", st, "lastProbeTime",
		      "lastTransitionTime", ltt);
	if (!ok && reason)
		json_object_set_new(c, "reason", json_string(reason));
	json_array_append_new(conds, c);
}

json_t *gt_pod_status(struct pod *p)
{
	json_t *pod, *st, *cs = json_array(), *ics = json_array(), *conds = json_array();
	const char *pol, *phase;
	int running = 0, waiting = 0, succeeded = 0, failed = 0, total = 0, ready = 0;
	bool init_done = true, init_failed = false;
	char now[40];

	pthread_mutex_lock(&p->lock);
	pod = json_incref(p->obj);
	pthread_mutex_unlock(&p->lock);
	pol = gt_json_str(pod, "spec.restartPolicy") ?: "Always";
	for (size_t i = 0; i < p->nctrs; i++) {
		const struct ctr *c = &p->ctrs[i];
		json_t *s = ctr_status(p, c);

		if (c->init) {
			int64_t code = 0;

			json_array_append_new(ics, s);
			if (!c->done) {
				init_done = false;
				if (!c->running && json_object_get(c->state, "terminated") &&
				    gt_json_int(c->state, "terminated.exitCode", &code) == 0 && code &&
				    !strcmp(pol, "Never"))
					init_failed = true;
			}
			continue;
		}
		json_array_append_new(cs, s);
		total++;
		if (c->ready)
			ready++;
		if (c->running) {
			running++;
		} else if (c->started && json_object_get(c->state, "waiting")) {
			/* restarting after an exit (back-off): still a Running pod */
			running++;
		} else if (json_object_get(c->state, "terminated")) {
			int64_t code = 0;

			gt_json_int(c->state, "terminated.exitCode", &code);
			if (code == 0)
				succeeded++;
			else
				failed++;
		} else {
			waiting++;
		}
	}
	if (init_failed || p->rejected)
		phase = "Failed";
	else if (!init_done)
		phase = "Pending";
	else if (waiting && !running && !succeeded && !failed)
		phase = "Pending";
	else if (running)
		phase = "Running";
	else if (succeeded + failed == total && total) {
		if (!strcmp(pol, "Always"))
			phase = "Running";
		else if (failed == 0)
			phase = "Succeeded";
		else if (!strcmp(pol, "Never"))
			phase = "Failed";
		else
			phase = "Running";
	} else {
		phase = waiting ? "Pending" : "Running";
	}
	gt_time_rfc3339(time(NULL), now);
	add_cond(conds, p->last_status, "PodReadyToStartContainers", p->sandbox_ready, NULL, now);
	add_cond(conds, p->last_status, "Initialized", init_done, "ContainersNotInitialized", now);
	add_cond(conds, p->last_status, "Ready", total && ready == total && strcmp(phase, "Succeeded"),
		 "ContainersNotReady", now);
	add_cond(conds, p->last_status, "ContainersReady", total && ready == total &&
		 strcmp(phase, "Succeeded"), "ContainersNotReady", now);
	add_cond(conds, p->last_status, "PodScheduled", true, NULL, now);
	st = json_pack("{s:s,s:o,s:s,s:[{s:s}],s:s,s:o,s:s}", "phase", phase, "conditions", conds,
		       "hostIP", p->a->host_ip, "hostIPs", "ip", p->a->host_ip, "startTime",
		       p->start_time, "containerStatuses", cs, "qosClass", qos(pod));
	if (json_array_size(ics))
		json_object_set_new(st, "initContainerStatuses", ics);
	else
		json_decref(ics);
	if (p->ip[0]) {
		json_object_set_new(st, "podIP", json_string(p->ip));
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", p->ip));
	}
	if (p->pod_reason[0]) {
		json_object_set_new(st, "reason", json_string(p->pod_reason));
		json_object_set_new(st, "message", json_string(p->pod_msg));
	}
	json_decref(pod);
	return st;
}
