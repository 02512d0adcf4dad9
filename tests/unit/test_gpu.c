/*
 * Unit tests for src/agent/gpu.c with fake NVIDIA device nodes (mknod in a
 * temp dir, root only): discovery, exclusive allocation, the kubelet's
 * refusal message, container wiring (devices, env) and release.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "t.h"
#include "agent/gpu.h"

static char dir[128];

static int mk(const char *name, unsigned minor)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return mknod(p, S_IFCHR | 0666, makedev(195, minor));
}

TEST(discover_allocate_wire)
{
	struct gt_gpus g;
	struct gt_err e;
	json_t *pod = json_pack("{s:{s:[{s:s,s:{s:{s:s}}},{s:s,s:{s:{s:i}}}]}}", "spec",
				"containers", "name", "a", "resources", "limits", "nvidia.com/gpu", "1",
				"name", "b", "resources", "limits", "nvidia.com/gpu", 1);
	json_t *dev = json_array(), *env = json_array(), *mounts = json_array();
	char held[64];

	gt_err_clear(&e);
	CHECK_INT(mk("nvidia0", 0), 0);
	CHECK_INT(mk("nvidia1", 1), 0);
	CHECK_INT(mk("nvidia2", 2), 0);
	CHECK_INT(mk("nvidiactl", 255), 0);
	gt_gpu_discover(&g, dir);
	CHECK_INT(g.n, 3);
	CHECK_INT(gt_gpu_pod_request(pod), 2);
	CHECK_INT(gt_gpu_allocate(&g, "pod-a", 2, &e), 0);
	CHECK_INT(gt_gpu_allocate(&g, "pod-a", 2, &e), 0); /* idempotent */
	gt_gpu_held(&g, "pod-a", held, sizeof(held));
	CHECK_STR(held, "0,1");
	/* only one left: a pod asking for 2 is refused with the kubelet's words */
	CHECK_INT(gt_gpu_allocate(&g, "pod-b", 2, &e), -ENOSPC);
	CHECK(strstr(e.msg, "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu") != NULL);
	CHECK_INT(gt_gpu_allocate(&g, "pod-c", 1, &e), 0);
	gt_gpu_held(&g, "pod-c", held, sizeof(held));
	CHECK_STR(held, "2");
	/* the second container of pod-a gets the second GPU */
	CHECK_INT(gt_gpu_container(&g, "pod-a", 1, 1, false, dev, env, mounts, &e), 0);
	CHECK_STR(gt_json_str(json_array_get(dev, 0), "path"), "/dev/nvidia1");
	CHECK(json_array_size(dev) == 2); /* nvidia1 + nvidiactl */
	CHECK_STR(json_string_value(json_array_get(env, 0)), "NVIDIA_VISIBLE_DEVICES=1");
	CHECK_STR(json_string_value(json_array_get(env, 1)), "CUDA_VISIBLE_DEVICES=0");
	gt_gpu_release(&g, "pod-a");
	CHECK_INT(gt_gpu_allocate(&g, "pod-b", 2, &e), 0);
	gt_gpu_held(&g, "pod-b", held, sizeof(held));
	CHECK_STR(held, "0,1");
	json_decref(pod);
	json_decref(dev);
	json_decref(env);
	json_decref(mounts);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("test_gpu: needs root for mknod; skipped\n0 passed, 0 failed\n");
		return 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/gt-gpu-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(discover_allocate_wire);
	if (gt_rm_rf(dir) < 0)
		return 1;
	return t_done();
}
