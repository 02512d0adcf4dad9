/*
 * metrics.h - the node agent's resource metrics (what the kubelet's
 * resource endpoint gives metrics-server): per-container CPU usage rate and
 * memory working set read from the pods' cgroups, and node totals from
 * /proc, sampled every GT_METRICS_INTERVAL_MS.  The CPU rate is the
 * counter's increase between the two latest samples (the "window").
 *
 * The API server pulls them from the agent's endpoint (GET /stats/resource,
 * JSON below) when a metrics.k8s.io request or the HPA controller needs
 * them; nothing is stored.
 *
 *   {"node": {"time": 1700000000, "windowMs": 5000, "cpuNano": 12345,
 *             "memoryBytes": 456},
 *    "pods": [{"namespace": "ns", "name": "p", "uid": "u", "time": ...,
 *              "windowMs": ..., "containers": [{"name": "c", "cpuNano": ...,
 *              "memoryBytes": ...}]}]}
 *
 * cpuNano is in nanocores (1e9 = one core busy).
 */
#ifndef GT_AGENT_METRICS_H
#define GT_AGENT_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/json.h"

#define GT_METRICS_INTERVAL_MS 5000

/* A cumulative CPU counter read at a monotonic time. */
struct gt_cpu_sample {
	int64_t at_ms;
	uint64_t usage_ns;
};

/*
 * The usage rate in nanocores between two samples, or -1 when it cannot be
 * known (no time passed, or the counter went back: a new cgroup).
 */
int64_t gt_metrics_rate(const struct gt_cpu_sample *prev, const struct gt_cpu_sample *cur);

/* usage_usec of a cgroup v2 cpu.stat, in ns.  -ENOENT when absent. */
int gt_metrics_cpu_stat_v2(const char *text, uint64_t *ns);

/*
 * The working set: usage minus the inactive file cache (key
 * "total_inactive_file" in v1 memory.stat, "inactive_file" in v2), never
 * below 0.  A stat without the key leaves usage as it is.
 */
uint64_t gt_metrics_working_set(uint64_t usage, const char *memory_stat, const char *key);

/* Busy CPU time of the "cpu" line of /proc/stat (all but idle and iowait), in ns. */
int gt_metrics_proc_stat(const char *text, uint64_t *busy_ns);

/* MemTotal - MemAvailable of /proc/meminfo, in bytes. */
int gt_metrics_meminfo(const char *text, uint64_t *used);

struct gt_agent;
struct gt_http_req;

/* One sampling round over the agent's pods and the node (heartbeat thread). */
void gt_agent_metrics_sample(struct gt_agent *a);
/* Answers GET /stats/resource with the latest figures (JSON above). */
void gt_agent_metrics_reply(struct gt_agent *a, struct gt_http_req *req);
/* Frees the sampler's state (NULL ok). */
void gt_agent_metrics_free(struct gt_agent *a);

#endif
