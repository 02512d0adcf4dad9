/*
 * metrics.h - metrics.k8s.io/v1beta1 (what metrics-server serves): node
 * and pod resource usage, pulled on demand from each node agent's
 * GET /stats/resource (agent/metrics.h) over the agent endpoint the API
 * server already uses for logs.  Nothing is stored; each read scrapes.
 */
#ifndef GT_APISERVER_METRICS_H
#define GT_APISERVER_METRICS_H

#include <stdint.h>

#include "codec/json.h"

struct gt_api;

/*
 * Scrapes the agents of Ready nodes (only that node when `node` is not
 * NULL).  Returns {"<node>": <the agent's figures>} (caller owns); nodes
 * whose agent does not answer are missing.
 */
json_t *gt_metrics_scrape(struct gt_api *api, const char *node);

/*
 * The usage of pod `uid` in a scrape: CPU in nanocores and memory working
 * set in bytes, summed over its containers.  -ENOENT when the scrape has
 * no complete figures for it (not sampled twice yet, or a container
 * missing).
 */
int gt_metrics_pod_usage(const json_t *scrape, const char *uid, int64_t *cpu_nano, int64_t *mem);

/* "<n>n" for nanocores, "<n>Ki" for bytes (the formats metrics-server writes). */
void gt_metrics_cpu_str(int64_t nano, char out[32]);
void gt_metrics_mem_str(int64_t bytes, char out[32]);

#endif
