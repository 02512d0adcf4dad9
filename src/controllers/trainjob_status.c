/*
 * trainjob_status.c - a training job's conditions (Kubeflow's shape: type,
 * status, reason, message, lastUpdateTime, lastTransitionTime) and the
 * progress rank 0 reports on stdout (see trainjob.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controllers/trainjob.h"

static json_t *find(const json_t *status, const char *type)
{
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(status, "conditions"), i, c)
		if (!strcmp(gt_json_str(c, "type") ?: "", type))
			return (json_t *)c;
	return NULL;
}

bool gt_tj_has(const json_t *status, const char *type)
{
	const json_t *c = find(status, type);

	return c && !strcmp(gt_json_str(c, "status") ?: "", "True");
}

void gt_tj_condition(json_t *status, const char *type, bool on, const char *reason,
		     const char *msg)
{
	json_t *c = find(status, type), *conds = json_object_get(status, "conditions");
	const char *st = on ? "True" : "False";
	char now[32];

	if (!c && !on)
		return;
	if (c && !strcmp(gt_json_str(c, "status") ?: "", st) &&
	    !strcmp(gt_json_str(c, "reason") ?: "", reason) &&
	    !strcmp(gt_json_str(c, "message") ?: "", msg))
		return;
	gt_time_rfc3339(time(NULL), now);
	if (!c) {
		if (!json_is_array(conds)) {
			conds = json_array();
			json_object_set_new(status, "conditions", conds);
		}
		c = json_object();
		json_array_append_new(conds, c);
	}
	if (strcmp(gt_json_str(c, "status") ?: "", st))
		json_object_set_new(c, "lastTransitionTime", json_string(now));
	json_object_set_new(c, "type", json_string(type));
	json_object_set_new(c, "status", json_string(st));
	json_object_set_new(c, "reason", json_string(reason));
	json_object_set_new(c, "message", json_string(msg));
	json_object_set_new(c, "lastUpdateTime", json_string(now));
}

static void fmt_num(char *out, size_t n, double v)
{
	snprintf(out, n, "%.4g", v);
}

bool gt_tj_progress(json_t *status, const char *log, size_t len, time_t now)
{
	const char *p = NULL, *q, *end = log + len;
	json_t *rep, *prog, *metrics, *old = json_object_get(status, "progress");
	json_error_t jerr;
	int64_t step, total = 0, ostep = -1;
	time_t otime = 0;
	const char *k;
	json_t *v;
	char buf[64], ts[32];
	double rate = 0;

	/* the last report in the tail */
	for (q = log; q && q < end; q++) {
		q = memmem(q, (size_t)(end - q), GT_TJ_PROGRESS, strlen(GT_TJ_PROGRESS));
		if (!q)
			break;
		p = q;
	}
	if (!p)
		return false;
	p += strlen(GT_TJ_PROGRESS);
	q = memchr(p, '\n', (size_t)(end - p));
	rep = json_loadb(p, q ? (size_t)(q - p) : (size_t)(end - p), 0, &jerr);
	if (!json_is_object(rep) || !json_is_integer(json_object_get(rep, "step"))) {
		json_decref(rep);
		return false;
	}
	step = json_integer_value(json_object_get(rep, "step"));
	if (json_is_integer(json_object_get(rep, "total_steps")))
		total = json_integer_value(json_object_get(rep, "total_steps"));
	/* a rank's output is not to be trusted: steps are counts */
	if (step < 0 || step > (int64_t)1 << 53 || total < 0 || total > (int64_t)1 << 53) {
		json_decref(rep);
		return false;
	}
	gt_json_int(old, "step", &ostep);
	if (ostep == step) {
		json_decref(rep);
		return false;
	}
	prog = json_object();
	metrics = json_object();
	json_object_set_new(prog, "step", json_integer(step));
	if (total > 0) {
		json_object_set_new(prog, "totalSteps", json_integer(total));
		snprintf(buf, sizeof(buf), "%lld%%", (long long)(step >= total ? 100 : step * 100 / total));
		json_object_set_new(prog, "percent", json_string(buf));
	}
	json_object_foreach(rep, k, v) {
		if (!json_is_number(v) || !strcmp(k, "step") || !strcmp(k, "total_steps"))
			continue;
		fmt_num(buf, sizeof(buf), json_number_value(v));
		json_object_set_new(metrics, k, json_string(buf));
		if (!strcmp(k, "loss"))
			json_object_set_new(prog, "loss", json_string(buf));
	}
	json_object_set_new(prog, "metrics", metrics);
	/* pace: steps per second between this report and the last one seen */
	if (ostep >= 0 && step > ostep && gt_time_parse(gt_json_str(old, "updateTime"), &otime) == 0 &&
	    now > otime)
		rate = (double)(step - ostep) / (double)(now - otime);
	else if (gt_json_str(old, "stepsPerSecond"))
		rate = strtod(gt_json_str(old, "stepsPerSecond"), NULL);
	if (rate > 0 && isfinite(rate)) {
		fmt_num(buf, sizeof(buf), rate);
		json_object_set_new(prog, "stepsPerSecond", json_string(buf));
		if (total > step) {
			char eta[16];

			gt_duration_short((int64_t)((double)(total - step) / rate), eta);
			json_object_set_new(prog, "eta", json_string(eta));
		}
	}
	gt_time_rfc3339(now, ts);
	json_object_set_new(prog, "updateTime", json_string(ts));
	json_object_set_new(status, "progress", prog);
	json_decref(rep);
	return true;
}
