/*
 * sim.h - hollow nodes for scale work (`gantry agent --simulate N`): N
 * Nodes registered with the given capacity, kept alive by Lease renewals
 * spread over the heartbeat interval, that take the pods bound to them and
 * report them Running and Ready (containerStatuses, a podIP from
 * 100.64.0.0/10, startTime) without running anything, and finish their
 * graceful deletion at once.  One pod watch serves every hollow node; status
 * writes go through a small pool of writer threads from one de-duplicated
 * queue.
 */
#ifndef GT_AGENT_SIM_H
#define GT_AGENT_SIM_H

#include "base/err.h"

struct gt_client;
struct gt_sim;

struct gt_sim_config {
	struct gt_client *client;  /* borrowed; must outlive the simulator */
	int nodes;                 /* how many (1..100000) */
	int first;                 /* number of the first node (default 0) */
	const char *prefix;        /* node names PREFIX-N (default "sim") */
	const char *cpu;           /* capacity (default "32") */
	const char *memory;        /* default "256Gi" */
	int gpus;                  /* nvidia.com/gpu per node (default 0) */
	int max_pods;              /* default 110 */
	int zones;                 /* > 0: label topology.kubernetes.io/zone=zone-(N % zones) */
	const char *labels;        /* extra labels "k=v,k2=v2" (NULL: none) */
	int heartbeat_s;           /* each Lease is renewed this often (default 20) */
	int writers;               /* status writer threads (default 4) */
	int qps;                   /* > 0: at most this many pod writes a second */
};

int gt_sim_start(const struct gt_sim_config *cfg, struct gt_sim **out, struct gt_err *err);
void gt_sim_stop(struct gt_sim *s);

#endif
