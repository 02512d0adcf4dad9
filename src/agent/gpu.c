/*
 * gpu.c - NVIDIA GPU discovery, allocation and container wiring (see gpu.h).
 */
#include "agent/gpu.h"

#include <dirent.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "api/quantity.h"

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

void gt_gpu_discover(struct gt_gpus *g, const char *dev_dir)
{
	struct dirent *de;
	int idx[GT_GPU_MAX], n = 0;
	DIR *d;

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	snprintf(g->dev_dir, sizeof(g->dev_dir), "%s", dev_dir ? dev_dir : "/dev");
	d = opendir(g->dev_dir);
	while (d && (de = readdir(d)) && n < GT_GPU_MAX) {
		int64_t v;

		if (strncmp(de->d_name, "nvidia", 6) || gt_parse_i64(de->d_name + 6, &v) < 0 || v < 0 ||
		    v > 1000)
			continue;
		idx[n++] = (int)v;
	}
	if (d)
		closedir(d);
	qsort(idx, (size_t)n, sizeof(int), cmp_int);
	for (int i = 0; i < n; i++) {
		char path[512];
		struct stat st;

		snprintf(path, sizeof(path), "%s/nvidia%d", g->dev_dir, idx[i]);
		if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode))
			continue;
		g->index[g->n] = idx[i];
		g->major[g->n] = major(st.st_rdev);
		g->minor[g->n] = minor(st.st_rdev);
		g->n++;
	}
}

static int quantity_int(const json_t *v)
{
	struct gt_quantity q;

	if (!v || gt_quantity_from_json(v, &q, NULL) < 0)
		return 0;
	return (int)gt_quantity_value(&q);
}

int gt_gpu_container_request(const json_t *c)
{
	json_t *lim = gt_json_path(c, "resources.limits"), *req = gt_json_path(c, "resources.requests");
	json_t *v = json_object_get(lim, GT_GPU_RESOURCE);

	if (!v)
		v = json_object_get(req, GT_GPU_RESOURCE);
	return quantity_int(v);
}

int gt_gpu_pod_request(const json_t *pod)
{
	int sum = 0, init_max = 0;
	json_t *c;
	size_t i;

	json_array_foreach(gt_json_path(pod, "spec.containers"), i, c)
		sum += gt_gpu_container_request(c);
	json_array_foreach(gt_json_path(pod, "spec.initContainers"), i, c) {
		int n = gt_gpu_container_request(c);

		if (n > init_max)
			init_max = n;
	}
	return sum > init_max ? sum : init_max;
}

static int held_locked(struct gt_gpus *g, const char *uid)
{
	int n = 0;

	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->owner[i], uid))
			n++;
	return n;
}

int gt_gpu_allocate(struct gt_gpus *g, const char *uid, int n, struct gt_err *err)
{
	int have, free_n = 0;

	pthread_mutex_lock(&g->lock);
	have = held_locked(g, uid);
	for (int i = 0; i < g->n; i++)
		if (!g->owner[i][0])
			free_n++;
	if (have >= n) {
		pthread_mutex_unlock(&g->lock);
		return 0;
	}
	if (free_n < n - have) {
		pthread_mutex_unlock(&g->lock);
		return gt_err_set(err, -ENOSPC,
				  "Allocate failed due to requested number of devices unavailable for %s. Requested: %d, Available: %d",
				  GT_GPU_RESOURCE, n, free_n + have);
	}
	for (int i = 0; i < g->n && have < n; i++) {
		if (!g->owner[i][0]) {
			snprintf(g->owner[i], sizeof(g->owner[i]), "%s", uid);
			have++;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

void gt_gpu_claim(struct gt_gpus *g, const char *uid, int idx)
{
	pthread_mutex_lock(&g->lock);
	for (int i = 0; i < g->n; i++)
		if (g->index[i] == idx && !g->owner[i][0])
			snprintf(g->owner[i], sizeof(g->owner[i]), "%s", uid);
	pthread_mutex_unlock(&g->lock);
}

void gt_gpu_release(struct gt_gpus *g, const char *uid)
{
	pthread_mutex_lock(&g->lock);
	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->owner[i], uid))
			g->owner[i][0] = '\0';
	pthread_mutex_unlock(&g->lock);
}

void gt_gpu_held(struct gt_gpus *g, const char *uid, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	pthread_mutex_lock(&g->lock);
	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->owner[i], uid) && len + 8 < n)
			len += (size_t)snprintf(out + len, n - len, "%s%d", len ? "," : "", g->index[i]);
	pthread_mutex_unlock(&g->lock);
}

static void add_dev(json_t *devices, const char *path, const char *container_path)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode))
		return;
	json_array_append_new(devices, json_pack("{s:s,s:s,s:i,s:i,s:i}", "path", container_path,
						 "type", "c", "major", (int)major(st.st_rdev), "minor",
						 (int)minor(st.st_rdev), "fileMode", 0666));
}

static void bind_ro(json_t *mounts, const char *path)
{
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:[s,s,s]}", "destination", path,
						"source", path, "type", "bind", "options", "rbind",
						"ro", "rprivate"));
}

int gt_gpu_container(struct gt_gpus *g, const char *uid, int first, int count, bool with_libs,
		     json_t *devices, json_t *env, json_t *mounts, struct gt_err *err)
{
	static const char *ctl[] = { "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset" };
	char vis[256] = "", cuda[256] = "", path[512], cpath[64], *kv;
	int taken = 0, got = 0;
	size_t vl = 0, cl = 0;

	if (count <= 0)
		return 0;
	pthread_mutex_lock(&g->lock);
	for (int i = 0; i < g->n && got < count; i++) {
		if (strcmp(g->owner[i], uid))
			continue;
		if (taken++ < first)
			continue;
		snprintf(path, sizeof(path), "%s/nvidia%d", g->dev_dir, g->index[i]);
		snprintf(cpath, sizeof(cpath), "/dev/nvidia%d", g->index[i]);
		add_dev(devices, path, cpath);
		vl += (size_t)snprintf(vis + vl, sizeof(vis) - vl, "%s%d", vl ? "," : "", g->index[i]);
		cl += (size_t)snprintf(cuda + cl, sizeof(cuda) - cl, "%s%d", cl ? "," : "", got);
		got++;
	}
	pthread_mutex_unlock(&g->lock);
	if (got < count)
		return gt_err_set(err, -ENOSPC, "pod holds %d of the %d GPUs its containers ask for",
				  got + first, count + first);
	for (size_t i = 0; i < GT_ARRAY_SIZE(ctl); i++) {
		snprintf(path, sizeof(path), "%s/%s", g->dev_dir, ctl[i]);
		snprintf(cpath, sizeof(cpath), "/dev/%s", ctl[i]);
		add_dev(devices, path, cpath);
	}
	kv = xasprintf("NVIDIA_VISIBLE_DEVICES=%s", vis);
	json_array_append_new(env, json_string(kv));
	free(kv);
	/* Only the allocated devices exist in the container, numbered from 0. */
	kv = xasprintf("CUDA_VISIBLE_DEVICES=%s", cuda);
	json_array_append_new(env, json_string(kv));
	free(kv);
	if (with_libs) {
		static const char *pats[] = {
			"/usr/lib/x86_64-linux-gnu/libnvidia-*.so*", "/usr/lib/x86_64-linux-gnu/libcuda.so*",
			"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so*", "/usr/lib/aarch64-linux-gnu/libcuda.so*",
			"/usr/lib/aarch64-linux-gnu/libnvidia-*.so*", "/usr/bin/nvidia-smi",
		};

		for (size_t i = 0; i < GT_ARRAY_SIZE(pats); i++) {
			glob_t gl;

			if (glob(pats[i], 0, NULL, &gl) == 0)
				for (size_t k = 0; k < gl.gl_pathc; k++)
					bind_ro(mounts, gl.gl_pathv[k]);
			globfree(&gl);
		}
	}
	return 0;
}
