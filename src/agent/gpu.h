/*
 * gpu.h - NVIDIA GPUs as the extended resource `nvidia.com/gpu`: discovery
 * from the device nodes (/dev/nvidiaN), exclusive allocation to pods, and
 * what a container needs to use its GPUs (device nodes with cgroup access,
 * the control devices, NVIDIA_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES, and the
 * host's driver libraries and nvidia-smi for images other than `host`).
 *
 * Thread-safety: a struct gt_gpus is shared by the pod workers; its
 * functions lock internally.
 */
#ifndef GT_AGENT_GPU_H
#define GT_AGENT_GPU_H

#include <pthread.h>
#include <stdbool.h>

#include "codec/json.h"

#define GT_GPU_RESOURCE "nvidia.com/gpu"
#define GT_GPU_MAX 64

struct gt_gpus {
	pthread_mutex_t lock;
	char dev_dir[256];          /* where the device nodes are (/dev; tests use a fake dir) */
	int n;                      /* number of GPUs */
	int index[GT_GPU_MAX];      /* the N of /dev/nvidiaN, ascending */
	unsigned major[GT_GPU_MAX], minor[GT_GPU_MAX];
	char owner[GT_GPU_MAX][64]; /* pod uid holding the GPU, "" when free */
};

/* Scans dev_dir for nvidiaN character devices. Never fails: no GPUs is n = 0. */
void gt_gpu_discover(struct gt_gpus *g, const char *dev_dir);

/* The number of GPUs a pod asks for: the sum of its containers' limits
 * (requests when no limit), init containers' maximum counted as Kubernetes
 * does (max(sum of containers, max of init containers)). */
int gt_gpu_pod_request(const json_t *pod);
/* The number a single container asks for. */
int gt_gpu_container_request(const json_t *container);

/*
 * Gives pod `uid` n GPUs (idempotent: a pod that already holds GPUs keeps
 * them).  Returns 0, or -ENOSPC with the kubelet's message when not enough
 * are free.
 */
int gt_gpu_allocate(struct gt_gpus *g, const char *uid, int n, struct gt_err *err);
/* Marks GPU with device index idx as held by uid (re-adoption). */
void gt_gpu_claim(struct gt_gpus *g, const char *uid, int idx);
/* Frees everything uid holds. */
void gt_gpu_release(struct gt_gpus *g, const char *uid);
/* The device indexes uid holds, comma-separated ("0,2"), into out. */
void gt_gpu_held(struct gt_gpus *g, const char *uid, char *out, size_t n);

/*
 * For a container of pod uid that asks for GPUs (`first` = how many of the
 * pod's GPUs earlier containers took): appends device nodes to *devices (a
 * JSON array for struct gt_oci_input.devices), "K=V" strings to env, and,
 * when with_libs, read-only bind mounts of the host's driver libraries and
 * nvidia-smi to mounts.
 */
int gt_gpu_container(struct gt_gpus *g, const char *uid, int first, int count, bool with_libs,
		     json_t *devices, json_t *env, json_t *mounts, struct gt_err *err);

#endif
