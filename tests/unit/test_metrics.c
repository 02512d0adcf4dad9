/*
 * Unit tests for the pure parts of src/agent/metrics.c: the CPU rate over
 * a window and the cgroup v1/v2 and /proc parsers.
 */
#include <errno.h>

#include "t.h"
#include "agent/metrics.h"

TEST(rate)
{
	struct gt_cpu_sample a = { 1000, 5000000000ULL }, b = { 6000, 7500000000ULL };

	/* 2.5 s of CPU in 5 s of wall time: half a core */
	CHECK_INT(gt_metrics_rate(&a, &b), 500000000);
	b.usage_ns = a.usage_ns;
	CHECK_INT(gt_metrics_rate(&a, &b), 0);
	/* a counter that went back (a new cgroup) or no time passed: unknown */
	b.usage_ns = 1;
	CHECK_INT(gt_metrics_rate(&a, &b), -1);
	b = a;
	CHECK_INT(gt_metrics_rate(&a, &b), -1);
}

TEST(cgroup_files)
{
	uint64_t ns = 0, used = 0;

	CHECK_INT(gt_metrics_cpu_stat_v2("usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n", &ns), 0);
	CHECK_INT(ns, 1234000);
	CHECK_INT(gt_metrics_cpu_stat_v2("user_usec 1000\n", &ns), -ENOENT);
	/* v1: total_inactive_file, not inactive_file (the cgroup's own) */
	CHECK_INT(gt_metrics_working_set(10000, "cache 5\ninactive_file 100\ntotal_inactive_file 4000\n",
					  "total_inactive_file"), 6000);
	/* v2 */
	CHECK_INT(gt_metrics_working_set(10000, "anon 5\ninactive_file 3000\n", "inactive_file"), 7000);
	CHECK_INT(gt_metrics_working_set(100, "inactive_file 3000\n", "inactive_file"), 0);
	CHECK_INT(gt_metrics_working_set(100, NULL, "inactive_file"), 100);
	CHECK_INT(gt_metrics_meminfo("MemTotal:  1000 kB\nMemFree: 10 kB\nMemAvailable:   400 kB\n", &used), 0);
	CHECK_INT(used, 600 * 1024);
	CHECK_INT(gt_metrics_meminfo("MemTotal:  1000 kB\n", &used), -EINVAL);
	CHECK_INT(gt_metrics_proc_stat("cpu  100 0 50 1000 30 0 0 0 0 0\ncpu0 1 2 3\n", &ns), 0);
	/* user + system, not idle or iowait, in ticks of 1/CLK_TCK s */
	CHECK(ns > 0 && ns % 150 == 0);
	CHECK_INT(gt_metrics_proc_stat("intr 1 2 3\n", &ns), -EINVAL);
}

int main(void)
{
	RUN(rate);
	RUN(cgroup_files);
	return t_done();
}
