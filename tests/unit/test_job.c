/*
 * test_job.c - the Job controller's pure parts (controllers/job_pods.c):
 * completedIndexes notation, reading pods, podFailurePolicy matching.
 */
#include <stdlib.h>

#include "controllers/job_int.h"
#include "t.h"

static json_t *J(const char *s)
{
	json_t *j = NULL;

	gt_json_parse(s, strlen(s), &j, NULL);
	return j;
}

static const char *fmt(const char *in, int64_t n, char out[64])
{
	unsigned char set[16] = { 0 };
	char *s;

	gt_job_indexes_parse(in, set, n);
	s = gt_job_indexes_format(set, n);
	snprintf(out, 64, "%s", s);
	free(s);
	return out;
}

TEST(completed_indexes)
{
	char b[64];

	CHECK_STR(fmt("", 5, b), "");
	CHECK_STR(fmt("0", 5, b), "0");
	CHECK_STR(fmt("0-2,4", 5, b), "0-2,4");
	CHECK_STR(fmt("4,0,1,2", 5, b), "0-2,4");
	CHECK_STR(fmt("1,3,5-9", 8, b), "1,3,5-7"); /* indexes past completions dropped */
	CHECK_STR(fmt("2-3,x", 5, b), "2-3");       /* stops at garbage */
}

TEST(pod_state)
{
	struct gt_jpod p;
	json_t *pod = J("{\"metadata\":{\"name\":\"a\",\"uid\":\"u\",\"finalizers\":[\"" GT_JOB_TRACKING "\"],"
			"\"annotations\":{\"" GT_JOB_INDEX "\":\"3\"},\"deletionTimestamp\":\"2000-01-01T00:00:00Z\"},"
			"\"spec\":{\"nodeName\":\"n\"},\"status\":{\"phase\":\"Running\"}}");

	gt_jpod_init(&p, pod);
	CHECK(p.fin && p.deleting && !p.active && !p.terminal);
	CHECK_INT(p.index, 3);
	CHECK(gt_jpod_done(&p, 946684801)); /* past its grace period */
	CHECK(!gt_jpod_done(&p, 946684799));
	json_decref(pod);
}

TEST(failure_policy)
{
	char msg[256];
	json_t *job = J("{\"spec\":{\"podFailurePolicy\":{\"rules\":["
			"{\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\"}]},"
			"{\"action\":\"FailJob\",\"onExitCodes\":{\"containerName\":\"main\",\"operator\":\"In\",\"values\":[42]}},"
			"{\"action\":\"Count\",\"onExitCodes\":{\"operator\":\"NotIn\",\"values\":[1,2]}}]}}}");
	json_t *p42 = J("{\"metadata\":{\"name\":\"x\",\"namespace\":\"ns\"},\"status\":{\"phase\":\"Failed\","
			"\"containerStatuses\":[{\"name\":\"side\",\"state\":{\"terminated\":{\"exitCode\":0}}},"
			"{\"name\":\"main\",\"state\":{\"terminated\":{\"exitCode\":42}}}]}}");
	json_t *p1 = J("{\"metadata\":{\"name\":\"y\",\"namespace\":\"ns\"},\"status\":{\"phase\":\"Failed\","
		       "\"containerStatuses\":[{\"name\":\"main\",\"state\":{\"terminated\":{\"exitCode\":1}}}]}}");
	json_t *p7 = J("{\"metadata\":{\"name\":\"z\",\"namespace\":\"ns\"},\"status\":{\"phase\":\"Failed\","
		       "\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\"}],"
		       "\"containerStatuses\":[{\"name\":\"main\",\"state\":{\"terminated\":{\"exitCode\":7}}}]}}");

	CHECK_STR(gt_job_failure_action(job, p42, msg, sizeof(msg)), "FailJob");
	CHECK_STR(msg, "Container main for pod ns/x failed with exit code 42 matching FailJob rule at index 1");
	CHECK(gt_job_failure_action(job, p1, msg, sizeof(msg)) == NULL);
	CHECK_STR(gt_job_failure_action(job, p7, msg, sizeof(msg)), "Ignore");
	json_decref(job);
	json_decref(p42);
	json_decref(p1);
	json_decref(p7);
}

int main(void)
{
	RUN(completed_indexes);
	RUN(pod_state);
	RUN(failure_policy);
	return t_done();
}
