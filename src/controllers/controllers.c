/*
 * controllers.c - starts and stops the control loops of `gantry server`
 * (see controllers.h): the scheduler, the ReplicaSet, Deployment,
 * StatefulSet, DaemonSet, Job, CronJob, Endpoints, PyTorchJob, MPIJob and HPA
 * controllers, the node lifecycle and disruption controllers, and the
 * garbage collector with the claim-protection and
 * local-path passes (every 10 s too, as a safety net).  Each runs its own
 * gt_loop thread; passes that write produce events that mark the next
 * pass, so chains (Deployment -> ReplicaSet -> Pod) unwind over passes.
 */
#include <stdlib.h>

#include "controllers/controllers.h"

struct gt_controllers {
	struct gt_controllers_config cfg;
	char *pv_root, *node;
	struct gt_scheduler *sched;
	struct gt_jobs *jobs;
	struct gt_cronjobs *cron;
	struct gt_loop gc, rs, deploy, sts, ds, endpoints, ptj, mpij, hpa, nodes, disruption;
};

static int gc_pass(struct gt_api *api, void *ctx)
{
	struct gt_controllers *c = ctx;

	gt_gc_pass(api);
	gt_pvc_pass(api, &c->cfg);
	return 1; /* and again in 10 s */
}

void gt_controllers_stop(struct gt_controllers *c)
{
	if (!c)
		return;
	gt_loop_stop(&c->nodes);
	gt_loop_stop(&c->disruption);
	gt_nodelc_free(c->nodes.ctx);
	gt_loop_stop(&c->gc);
	gt_loop_stop(&c->ds);
	gt_loop_stop(&c->sts);
	gt_loop_stop(&c->hpa), gt_hpa_ctl_free(c->hpa.ctx);
	gt_loop_stop(&c->deploy);
	gt_loop_stop(&c->endpoints);
	gt_loop_stop(&c->ptj);
	gt_loop_stop(&c->mpij);
	gt_loop_stop(&c->rs);
	gt_cronjobs_stop(c->cron);
	gt_jobs_stop(c->jobs);
	gt_scheduler_stop(c->sched);
	free(c->pv_root);
	free(c->node);
	free(c);
}

int gt_controllers_start(struct gt_api *api, const struct gt_controllers_config *cfg,
			 struct gt_controllers **out, struct gt_err *err)
{
	struct gt_controllers *c = xcalloc(1, sizeof(*c));

	if (cfg && cfg->pv_root && cfg->node_name) {
		c->pv_root = xstrdup(cfg->pv_root);
		c->node = xstrdup(cfg->node_name);
		c->cfg.pv_root = c->pv_root;
		c->cfg.node_name = c->node;
	}
	c->gc = (struct gt_loop){ .api = api, .relevant = gt_gc_relevant, .pass = gc_pass, .ctx = c,
				  .retry_ms = 10000 };
	c->rs = (struct gt_loop){ .api = api, .relevant = gt_rs_relevant, .pass = gt_rs_pass,
				  .retry_ms = 2000 };
	c->deploy = (struct gt_loop){ .api = api, .relevant = gt_deploy_relevant,
				      .pass = gt_deploy_pass, .retry_ms = 2000 };
	c->sts = (struct gt_loop){ .api = api, .relevant = gt_sts_relevant, .pass = gt_sts_pass,
				   .retry_ms = 1000 };
	c->ds = (struct gt_loop){ .api = api, .relevant = gt_ds_relevant, .pass = gt_ds_pass,
				  .retry_ms = 2000 };
	c->endpoints = (struct gt_loop){ .api = api, .relevant = gt_endpoints_relevant,
					 .pass = gt_endpoints_pass, .retry_ms = 2000 };
	c->ptj = (struct gt_loop){ .api = api, .relevant = gt_ptj_relevant, .pass = gt_ptj_pass,
				   .retry_ms = 2000 };
	c->mpij = (struct gt_loop){ .api = api, .relevant = gt_mpij_relevant, .pass = gt_mpij_pass,
				    .retry_ms = 2000 };
	c->hpa = (struct gt_loop){ .api = api, .relevant = gt_hpa_relevant, .pass = gt_hpa_pass,
				   .ctx = gt_hpa_ctl_new(cfg ? cfg->hpa_sync_ms : 0),
				   .retry_ms = cfg && cfg->hpa_sync_ms > 0 ? cfg->hpa_sync_ms : 15000 };
	c->nodes = (struct gt_loop){ .api = api, .relevant = gt_nodelc_relevant,
				     .pass = gt_nodelc_pass, .ctx = gt_nodelc_new(cfg ? cfg->node_grace_s : 0) };
	c->nodes.retry_ms = gt_nodelc_period_ms(c->nodes.ctx);
	c->disruption = (struct gt_loop){ .api = api, .relevant = gt_disruption_relevant,
					  .pass = gt_disruption_pass, .retry_ms = 5000 };
	if (gt_scheduler_start(api, cfg ? cfg->sched_policy : NULL, &c->sched, err) < 0 || gt_loop_start(&c->rs, err) < 0 ||
	    gt_loop_start(&c->deploy, err) < 0 || gt_loop_start(&c->sts, err) < 0 ||
	    gt_loop_start(&c->ds, err) < 0 || gt_loop_start(&c->ptj, err) < 0 ||
	    gt_loop_start(&c->mpij, err) < 0 ||
	    gt_loop_start(&c->endpoints, err) < 0 || gt_loop_start(&c->gc, err) < 0 ||
	    gt_loop_start(&c->hpa, err) < 0 ||
	    gt_loop_start(&c->nodes, err) < 0 || gt_loop_start(&c->disruption, err) < 0 ||
	    gt_jobs_start(api, cfg ? cfg->job_backoff_ms : 0, &c->jobs, err) < 0 ||
	    gt_cronjobs_start(api, &c->cron, err) < 0) {
		gt_controllers_stop(c);
		return -EAGAIN;
	}
	*out = c;
	return 0;
}
