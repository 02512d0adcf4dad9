/*
 * agent.h - the node agent: registers a Node, keeps its Lease fresh, and
 * drives every Pod bound to the node through sandbox, volumes, images, init
 * containers and containers, reporting status back through the API (the
 * kubelet's job).  Stopping the agent leaves containers running; the next
 * start re-adopts them.
 */
#ifndef GT_AGENT_AGENT_H
#define GT_AGENT_AGENT_H

#include <stdbool.h>

#include "base/err.h"

struct gt_client;
struct gt_agent;

struct gt_agent_config {
	struct gt_client *client;    /* borrowed; must outlive the agent */
	const char *node_name;
	const char *root_dir;        /* pods/, images/, runc/, cni/ live here */
	const char *runtime;         /* "runc" (default) or "crun" */
	const char *cni_bin_dir;     /* default /usr/lib/cni */
	const char *bridge;          /* default "gantry0" */
	const char *subnet;          /* default "10.88.0.0/16" */
	const char *bind;            /* address of the agent's log server (default 127.0.0.1) */
	int port;                    /* its port (0 = any) */
	const char *token;           /* bearer token the API server presents to the agent */
	int backoff_base_ms;         /* crash-loop back-off start (default 10000) */
	int backoff_max_ms;          /* and cap (default 300000) */
	const char *self_exe;        /* the gantry binary (for the shim) */
	const char *gpu_dev_dir;     /* where to look for /dev/nvidiaN (default /dev) */
	bool no_services;            /* no service proxy, no cluster DNS */
	int dns_port;                /* the cluster DNS's port (0: 53) */
	int heartbeat_s;             /* Lease renewal period (default 10) */
};

/* Starts the agent's threads.  *out is stopped with gt_agent_stop(). */
int gt_agent_start(const struct gt_agent_config *cfg, struct gt_agent **out, struct gt_err *err);
/* Stops the agent's threads; running containers keep running. */
void gt_agent_stop(struct gt_agent *a);

/*
 * Port-forward without the agent's HTTP stream, for an API server in the
 * same process (gt_api_local_agent): connects to 127.0.0.1:port in the
 * network namespace of pod ns/name.  0 and *fd (the caller closes it);
 * -ENOENT when the pod does not run here; another negative errno with the
 * message the agent's own stream would report when the connection failed.
 */
int gt_agent_pf_dial(struct gt_agent *a, const char *ns, const char *name, int port, int *fd,
		     struct gt_err *err);

/* Stops and removes everything an agent started under root_dir. */
int gt_agent_reset(const char *root_dir, const char *runtime, struct gt_err *err);

int gt_cmd_agent(int argc, char **argv);
int gt_cmd_node(int argc, char **argv);

#endif
