/*
 * agent.c - `gantry agent`: a node agent joining a server, and
 * `gantry node reset`: stop and remove everything an agent started.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/sim.h"
#include "base/log.h"
#include "base/util.h"
#include "client/client.h"
#include "cli/cli.h"

static void agent_usage(FILE *f)
{
	fprintf(f,
		"usage: gantry agent [flags]\n"
		"\n"
		"Runs a node agent: registers a Node with the server and runs the Pods bound to\n"
		"it as containers (runc, CNI networking, OCI images).  Stopping the agent leaves\n"
		"containers running; the next start re-adopts them.\n"
		"\n"
		"Connection (one of):\n"
		"  --kubeconfig FILE       kubeconfig to reach the API server\n"
		"  --server URL --token T [--ca-cert FILE]\n"
		"\n"
		"Flags:\n"
		"  --node-name NAME        node name (default: the host name)\n"
		"  --root-dir DIR          state, images and pod directories (default /var/lib/gantry/agent)\n"
		"  --runtime NAME          OCI runtime binary: runc (default) or crun\n"
		"  --bridge NAME           pod network bridge (default gantry0)\n"
		"  --subnet CIDR           pod addresses (default 10.88.0.0/16); give each agent on\n"
		"                          one machine its own bridge and subnet\n"
		"  --bind ADDR             address of the agent's log endpoint (default 127.0.0.1)\n"
		"  --port N                its port (default 0: any free port, published in the Node)\n"
		"  --backoff-base-ms N     crash-loop back-off start (default 10000)\n"
		"  --backoff-max-ms N      crash-loop back-off cap (default 300000)\n"
		"  --gpu-dev-dir DIR       where to look for NVIDIA device nodes (default /dev)\n"
		"  --heartbeat-seconds N   how often the node's Lease is renewed (default 10; the\n"
		"                          server's --node-monitor-grace-period must be longer)\n"
		"  --log-level LEVEL       debug, info, warn or error\n"
		"\n"
		"Simulated (hollow) nodes, for scale tests; no containers run:\n"
		"  --simulate N            register N nodes PREFIX-0..PREFIX-(N-1) that take the pods\n"
		"                          bound to them and report them Running and Ready, and\n"
		"                          finish their deletion at once (no runtime or network used)\n"
		"  --sim-prefix P          node name prefix (default sim)\n"
		"  --sim-first N           number of the first node (default 0; for a second batch)\n"
		"  --sim-cpu Q             cpu capacity of each node (default 32)\n"
		"  --sim-memory Q          memory capacity (default 256Gi)\n"
		"  --sim-gpus N            nvidia.com/gpu capacity (default 0)\n"
		"  --sim-pods N            pods capacity (default 110)\n"
		"  --sim-zones N           label nodes topology.kubernetes.io/zone=zone-(i %% N)\n"
		"  --sim-labels K=V,...    extra node labels\n"
		"  --sim-heartbeat-s N     each node's Lease is renewed every N s (default 20)\n"
		"  --sim-writers N         pod status writer threads (default 4)\n"
		"  --sim-qps N             at most N pod writes a second (default 0: unpaced)\n"
		"  -h, --help              show this help\n");
}

int gt_cmd_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "server", required_argument, NULL, 's' },
		{ "token", required_argument, NULL, 't' },
		{ "ca-cert", required_argument, NULL, 'c' },
		{ "node-name", required_argument, NULL, 'n' },
		{ "root-dir", required_argument, NULL, 'r' },
		{ "runtime", required_argument, NULL, 'R' },
		{ "bridge", required_argument, NULL, 'B' },
		{ "subnet", required_argument, NULL, 'S' },
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "backoff-base-ms", required_argument, NULL, 'x' },
		{ "backoff-max-ms", required_argument, NULL, 'X' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "gpu-dev-dir", required_argument, NULL, 'G' },
		{ "heartbeat-seconds", required_argument, NULL, 'H' },
		{ "simulate", required_argument, NULL, 1000 },
		{ "sim-prefix", required_argument, NULL, 1001 },
		{ "sim-first", required_argument, NULL, 1002 },
		{ "sim-cpu", required_argument, NULL, 1003 },
		{ "sim-memory", required_argument, NULL, 1004 },
		{ "sim-gpus", required_argument, NULL, 1005 },
		{ "sim-pods", required_argument, NULL, 1006 },
		{ "sim-zones", required_argument, NULL, 1007 },
		{ "sim-labels", required_argument, NULL, 1008 },
		{ "sim-heartbeat-s", required_argument, NULL, 1009 },
		{ "sim-writers", required_argument, NULL, 1010 },
		{ "sim-qps", required_argument, NULL, 1011 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gt_agent_config cfg = { .root_dir = "/var/lib/gantry/agent" };
	const char *kubeconfig = NULL, *server = NULL, *token = NULL, *ca = NULL;
	char host[256] = "", self[PATH_MAX];
	struct gt_client *client = NULL;
	struct gt_agent *agent = NULL;
	struct gt_sim_config sim = { 0 };
	struct gt_sim *simr = NULL;
	struct gt_err err;
	sigset_t set;
	int c, sig;
	int64_t v;

	gt_err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': kubeconfig = optarg; break;
		case 's': server = optarg; break;
		case 't': token = optarg; break;
		case 'c': ca = optarg; break;
		case 'n': cfg.node_name = optarg; break;
		case 'r': cfg.root_dir = optarg; break;
		case 'R': cfg.runtime = optarg; break;
		case 'B': cfg.bridge = optarg; break;
		case 'S': cfg.subnet = optarg; break;
		case 'G': cfg.gpu_dev_dir = optarg; break;
		case 'b': cfg.bind = optarg; break;
		case 'H':
			if (gt_parse_i64(optarg, &v) < 0 || v < 1 || v > 3600) {
				fprintf(stderr, "gantry agent: --heartbeat-seconds: need 1-3600\n");
				return 2;
			}
			cfg.heartbeat_s = (int)v;
			break;
		case 'p':
		case 'x':
		case 'X':
			if (gt_parse_i64(optarg, &v) < 0 || v < 0 || v > INT32_MAX) {
				fprintf(stderr, "gantry agent: invalid number \"%s\"\n", optarg);
				return 2;
			}
			if (c == 'p')
				cfg.port = (int)v;
			else if (c == 'x')
				cfg.backoff_base_ms = (int)v;
			else
				cfg.backoff_max_ms = (int)v;
			break;
		case 1001: sim.prefix = optarg; break;
		case 1003: sim.cpu = optarg; break;
		case 1004: sim.memory = optarg; break;
		case 1008: sim.labels = optarg; break;
		case 1000: case 1002: case 1005: case 1006: case 1007: case 1009: case 1010:
		case 1011: {
			int *dst[] = { &sim.nodes, NULL, &sim.first, NULL, NULL, &sim.gpus,
				       &sim.max_pods, &sim.zones, NULL, &sim.heartbeat_s,
				       &sim.writers, &sim.qps };

			if (gt_parse_i64(optarg, &v) < 0 || v < 0 || v > 1000000) {
				fprintf(stderr, "gantry agent: invalid number \"%s\"\n", optarg);
				return 2;
			}
			if (c == 1000 && v < 1) {
				fprintf(stderr, "gantry agent: --simulate: at least 1 node\n");
				return 2;
			}
			*dst[c - 1000] = (int)v;
			break;
		}
		case 'l':
			gt_log_min = !strcmp(optarg, "debug") ? GT_LOG_DEBUG : !strcmp(optarg, "warn") ?
				     GT_LOG_WARN : !strcmp(optarg, "error") ? GT_LOG_ERROR : GT_LOG_INFO;
			break;
		case 'h':
			agent_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Run 'gantry agent --help' for the flags.\n");
			return 2;
		}
	}
	if (!kubeconfig && !(server && token)) {
		fprintf(stderr, "gantry agent: give --kubeconfig FILE, or --server URL and --token T\n");
		return 2;
	}
	if (!cfg.node_name) {
		gethostname(host, sizeof(host) - 1);
		cfg.node_name = host;
	}
	if (kubeconfig) {
		if (gt_client_from_kubeconfig(kubeconfig, &client, &err) < 0)
			goto fail;
	} else {
		struct gt_client_config cc = { .server_url = server, .token = token, .ca_file = ca };

		if (gt_client_new(&cc, &client, &err) < 0)
			goto fail;
	}
	{
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		self[n > 0 ? n : 0] = '\0';
		cfg.self_exe = self;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sim.nodes > 0) {
		sim.client = client;
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		signal(SIGPIPE, SIG_IGN);
		if (gt_sim_start(&sim, &simr, &err) < 0)
			goto fail;
		do {
			if (sigwait(&set, &sig) != 0)
				break;
		} while (sig != SIGTERM && sig != SIGINT);
		gt_sim_stop(simr);
		gt_client_free(client);
		return 0;
	}
	cfg.client = client;
	/* the API server presents the same token to the agent's endpoint
	 * (logs, exec, port-forward): never leave it unauthenticated */
	cfg.token = token ? token : gt_client_token(client);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (gt_agent_start(&cfg, &agent, &err) < 0)
		goto fail;
	do {
		if (sigwait(&set, &sig) != 0)
			break;
	} while (sig != SIGTERM && sig != SIGINT);
	gt_info("agent: stopping (containers keep running)");
	gt_agent_stop(agent);
	gt_client_free(client);
	return 0;
fail:
	fprintf(stderr, "gantry agent: %s\n", err.msg);
	gt_client_free(client);
	return 1;
}

int gt_cmd_node(int argc, char **argv)
{
	const char *root = NULL, *runtime = NULL;
	struct gt_err err;

	gt_err_clear(&err);
	if (argc < 2 || strcmp(argv[1], "reset")) {
		fprintf(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
			"usage: gantry node reset --root-dir DIR [--runtime runc|crun]\n"
			"\n"
			"Stops and removes every container, network namespace, mount and pod\n"
			"directory an agent created under DIR (for tests and uninstalls).\n");
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--root-dir") && i + 1 < argc)
			root = argv[++i];
		else if (!strcmp(argv[i], "--runtime") && i + 1 < argc)
			runtime = argv[++i];
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: gantry node reset --root-dir DIR [--runtime runc|crun]\n");
			return 0;
		} else {
			fprintf(stderr, "gantry node reset: unexpected argument \"%s\"\n", argv[i]);
			return 2;
		}
	}
	if (!root) {
		fprintf(stderr, "gantry node reset: --root-dir DIR is required\n");
		return 2;
	}
	if (gt_agent_reset(root, runtime, &err) < 0) {
		fprintf(stderr, "gantry node reset: %s\n", err.msg);
		return 1;
	}
	return 0;
}
