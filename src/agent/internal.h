/*
 * internal.h - the agent's shared state (agent.c) and the pod workers
 * (pods.c, status.c).  Not for other modules.
 */
#ifndef GT_AGENT_INTERNAL_H
#define GT_AGENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "agent/agent.h"
#include "agent/gpu.h"
#include "apiserver/ops.h"
#include "codec/json.h"

struct gt_http_server;
struct gt_image_store;
struct gt_svc;
struct gt_metrics;

struct ctr {
	char name[64];
	bool init;
	int attempt;            /* current attempt (directory number) */
	int restarts;
	bool started;           /* an attempt exists (running or exited) */
	bool running;
	bool done;              /* init container finished successfully */
	int64_t started_ms;
	int64_t backoff_ms;     /* current back-off */
	int64_t retry_at_ms;    /* not before (crash-loop back-off) */
	char started_at[40];
	json_t *state;          /* ContainerState JSON for status */
	json_t *last;           /* lastState */
	bool ready;
	bool startup_ok;
	int live_fail, ready_fail, ready_ok, startup_fail;
	int64_t next_probe_ms[3];
	char image_id[160];
	char image[256];
	char waiting_reason[64], waiting_msg[512];
};

struct pod {
	struct gt_agent *a;
	char uid[64], ns[254], name[254];
	char dir[4096];
	pthread_t thr;
	pthread_mutex_t lock;   /* obj, wake, gone */
	pthread_cond_t cond;
	json_t *obj;            /* latest Pod from the API */
	bool wake, gone, stop;
	_Atomic bool finished;  /* the worker tore the pod down and returned */
	/* worker-private */
	char ip[64];
	bool sandbox_ready, volumes_ready, gpus_ready;
	bool rejected;          /* admission failed: the pod is Failed for good */
	int64_t gpu_wait_until; /* admission retries GPUs until then */
	json_t *vol_paths;
	struct ctr *ctrs;
	size_t nctrs;
	json_t *last_status;
	char start_time[40];
	char pod_reason[64], pod_msg[512];
	struct pod *next;
};

struct gt_agent {
	struct gt_agent_config cfg;
	char *root, *node, *runtime, *cni_bin, *bridge, *subnet, *token, *self_exe, *bind;
	char host_ip[64];
	char dns_ip[16];         /* the cluster DNS (the pod network's gateway) */
	struct gt_svc *svc;     /* service proxy + DNS */
	struct gt_client *client;
	struct gt_image_store *images;
	struct gt_gpus gpus;
	struct gt_http_server *http;
	int port;
	_Atomic bool stop;
	pthread_t informer, heartbeat;
	pthread_mutex_t lock;   /* pods list, metrics pointer */
	struct pod *pods;
	struct gt_metrics *metrics; /* metrics.c, created by the first sample */
	/* rsh.c */
	int rsh_fd;
	pthread_t rsh_thr;
	bool rsh_started;
	char *rsh_dir, *rsh_exe, *rsh_kubeconfig;
	_Atomic int rsh_sessions;
};

/* pods.c */
struct pod *gt_pod_new(struct gt_agent *a, const json_t *obj);
void gt_pod_update(struct pod *p, const json_t *obj);
void gt_pod_gone(struct pod *p);
void gt_pod_stop(struct pod *p);   /* ends the worker, leaves containers running */
void gt_pod_free(struct pod *p);
/* Removes a pod directory left by a pod the API no longer has. */
void gt_pod_cleanup_dir(struct gt_agent *a, const char *dir);

/* status.c */
json_t *gt_pod_status(struct pod *p);

/* rsh.c: the rsh agent's socket (see there); mounts for an annotated pod. */
int gt_rsh_start(struct gt_agent *a, struct gt_err *err);
void gt_rsh_stop(struct gt_agent *a);   /* after a->stop is set */
void gt_rsh_mounts(struct gt_agent *a, const json_t *pod, json_t *mounts);
/* rshblob.c: the static rsh agent's executable, [gt_rsh_blob, gt_rsh_blob_end). */
extern const unsigned char gt_rsh_blob[], gt_rsh_blob_end[];

/* runc container id for a container attempt. */
void gt_ctr_id(const struct pod *p, const struct ctr *c, int attempt, char *out, size_t n);

#endif
