/*
 * main.c - gantry-bench: the load generator scripts/run-bench.sh drives.
 *
 *   gantry-bench CMD --target gantry|etcd --url URL --cacert PEM [--token T] [opts]
 *
 * CMD is one of the rows below; create, rate and fanout also take
 * --pid SERVER_PID to report the server's CPU time per request (create,
 * rate) or its RSS while the watches are open (fanout); pods takes the
 * node agent's pid instead (its RSS with the pods running, its CPU time).
 * Every command prints RESULT lines of key=value pairs on stdout and
 * diagnostics on stderr; it exits non-zero when a request failed.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(const struct bt_target *t, int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "create", bt_cmd_create,
	  "--clients N (--duration S | --count N) [--ns NS] [--prefix P] [--configmap 1]" },
	{ "rate", bt_cmd_rate, "--rate R --conns C --duration S [--ns NS] [--prefix P] [--trace FILE]" },
	{ "list", bt_cmd_list, "--ns NS --reps N" },
	{ "fanout", bt_cmd_fanout, "--watchers N --rounds R [--threads T] [--ns NS]" },
	{ "pods", bt_cmd_pods,
	  "--node NAME [--n 100] [--mode seq|burst] [--image host] [--pull POLICY] [--ns NS]\n"
	  "          [--prefix P] [--conns 4] [--grace 1] [--timeout 60] [--delete 0|1]\n"
	  "          [--pid AGENT_PID] [--tag T] [--trace FILE]" },
	{ "sched", bt_cmd_sched,
	  "[--n 50000] [--gang 1000] [--conns 8] [--ns NS] [--cpu 100m] [--memory 128Mi]\n"
	  "          [--pid SERVER_PID] [--timeout 600]" },
};

static void usage(void)
{
	fprintf(stderr, "usage: gantry-bench CMD --target gantry|etcd --url URL --cacert PEM "
			"[--token T] [options]\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(stderr, "  %-7s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	struct bt_target t;
	const char *kind, *token;

	if (argc < 2) {
		usage();
		return 2;
	}
	memset(&t, 0, sizeof(t));
	kind = bt_opt(argc, argv, "--target", "gantry");
	t.base = bt_opt(argc, argv, "--url", NULL);
	t.cacert = bt_opt(argc, argv, "--cacert", NULL);
	token = bt_opt(argc, argv, "--token", NULL);
	if (!strcmp(kind, "gantry")) {
		t.kind = BT_GANTRY;
		t.name = "gantry";
	} else if (!strcmp(kind, "etcd")) {
		t.kind = BT_ETCD;
		t.name = "etcd";
	} else {
		fprintf(stderr, "gantry-bench: --target: gantry or etcd, not %s\n", kind);
		return 2;
	}
	if (!t.base) {
		fprintf(stderr, "gantry-bench: --url is required\n");
		return 2;
	}
	if (token && snprintf(t.auth, sizeof(t.auth), "Authorization: Bearer %s", token) >=
			     (int)sizeof(t.auth)) {
		fprintf(stderr, "gantry-bench: --token too long\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "gantry-bench: curl_global_init failed\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			int rc = cmds[i].fn(&t, argc, argv);
			curl_global_cleanup();
			return rc;
		}
	}
	usage();
	curl_global_cleanup();
	return 2;
}
