/*
 * server.c - `gantry server`: the control plane on one machine.  Creates the
 * data directory, the CA, server certificate and admin token on first start
 * (reused later), opens the store, serves the API over HTTPS, writes an
 * admin kubeconfig, runs the controllers, and shuts down cleanly on
 * SIGTERM/SIGINT.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "apiserver/apiserver.h"
#include "base/log.h"
#include "base/util.h"
#include "client/client.h"
#include "cli/cli.h"
#include "controllers/controllers.h"
#include "http/server.h"
#include "http/tls.h"
#include "sched/sched.h"
#include "store/backend.h"

struct server_opts {
	const char *data_dir;
	const char *bind;
	int port;
	const char *kubeconfig_out;
	bool no_agent;
	bool plain_http;
	const char *node_name;
	const char *gpu_dev_dir;
	const char *bridge, *subnet;
	int backoff_base_ms, backoff_max_ms;
	int job_backoff_ms;
	int hpa_sync_s;
	size_t history;
	size_t max_body;
	int node_grace_s;
	int64_t not_ready_tol_s, unreachable_tol_s;
	const char *sched_policy;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gantry server [flags]\n"
		"\n"
		"Runs the Gantry control plane: a Kubernetes-compatible API server over HTTPS,\n"
		"the embedded SQLite store, and the controllers.  The first start creates a CA,\n"
		"a server certificate and an admin token in the data directory and writes a\n"
		"kubeconfig that kubectl and the Kubernetes client libraries use as is.\n"
		"\n"
		"Flags:\n"
		"  --data-dir DIR          state, certificates and token (default /var/lib/gantry)\n"
		"  --bind ADDR             address to listen on (default 127.0.0.1)\n"
		"  --port N                HTTPS port (default 6443; 0 picks a free port)\n"
		"  --kubeconfig-out FILE   where to write the admin kubeconfig\n"
		"                          (default DIR/admin.kubeconfig)\n"
		"  --no-agent              run the control plane only, without the embedded\n"
		"                          node agent (which runs pods as runc containers under\n"
		"                          DIR/agent)\n"
		"  --node-name NAME        the embedded agent's node name (default: host name)\n"
		"  --backoff-base-ms N     crash-loop back-off start for the embedded agent (10000)\n"
		"  --backoff-max-ms N      and its cap (300000)\n"
		"  --job-backoff-ms N      Job controller: delay before re-creating a pod after\n"
		"                          a failure, doubling with each further failure up to\n"
		"                          36 times it (default 10000: 10 s, capped at 6 min)\n"
		"  --bridge NAME           the embedded agent's pod bridge (default gantry0)\n"
		"  --subnet CIDR           its pod addresses (default 10.88.0.0/16); several\n"
		"                          agents on one machine need their own bridge and subnet\n"
		"  --gpu-dev-dir DIR       where the agent looks for NVIDIA device nodes\n"
		"                          (nvidiaN, nvidiactl; default /dev; tests use fakes)\n"
		"  --hpa-sync-period N     seconds between HorizontalPodAutoscaler syncs (15)\n"
		"  --node-monitor-grace-period SECONDS\n"
		"                          how long a node may go without a heartbeat (its\n"
		"                          Lease or status) before it turns Unknown and gets\n"
		"                          the unreachable taints (default 40)\n"
		"  --default-not-ready-toleration-seconds N\n"
		"  --default-unreachable-toleration-seconds N\n"
		"                          tolerationSeconds of the not-ready/unreachable\n"
		"                          NoExecute tolerations every pod gets unless it has\n"
		"                          its own: how long its pods stay on a failed node\n"
		"                          before they are evicted (default 300)\n"
		"  --scheduler-policy P    the scheduler's scoring, \"key=value,...\": gpu=MostAllocated\n"
		"                          (bin-pack, default) or LeastAllocated (spread);\n"
		"                          weights 0..100 least-allocated=1, balanced=1,\n"
		"                          gpu-weight=5, node-affinity=2, topology-spread=2;\n"
		"                          percentage-of-nodes-to-score=0 (0: adaptive, as\n"
		"                          kube-scheduler; 100: every node)\n"
		"  --watch-history N       events kept for watches to resume from (default 20000)\n"
		"  --max-request-bytes N   request body limit (default 3145728)\n"
		"  --log-level LEVEL       debug, info, warn or error (default info)\n"
		"  -h, --help              show this help\n"
		"\n"
		"Example:\n"
		"  gantry server --data-dir /tmp/gantry &\n"
		"  kubectl --kubeconfig /tmp/gantry/admin.kubeconfig get ns\n");
}

static int parse(int argc, char **argv, struct server_opts *o)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "kubeconfig-out", required_argument, NULL, 'k' },
		{ "no-agent", no_argument, NULL, 'n' },
		{ "watch-history", required_argument, NULL, 'w' },
		{ "max-request-bytes", required_argument, NULL, 'm' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "insecure-http", no_argument, NULL, 'i' },
		{ "node-name", required_argument, NULL, 'N' },
		{ "gpu-dev-dir", required_argument, NULL, 'G' },
		{ "bridge", required_argument, NULL, 'B' },
		{ "subnet", required_argument, NULL, 'S' },
		{ "backoff-base-ms", required_argument, NULL, 'x' },
		{ "backoff-max-ms", required_argument, NULL, 'X' },
		{ "job-backoff-ms", required_argument, NULL, 'J' },
		{ "hpa-sync-period", required_argument, NULL, 'A' },
		{ "node-monitor-grace-period", required_argument, NULL, 'g' },
		{ "default-not-ready-toleration-seconds", required_argument, NULL, 'r' },
		{ "default-unreachable-toleration-seconds", required_argument, NULL, 'u' },
		{ "scheduler-policy", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	int64_t v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->data_dir = optarg; break;
		case 'b': o->bind = optarg; break;
		case 'p':
			if (gt_parse_i64(optarg, &v) < 0 || v < 0 || v > 65535) {
				fprintf(stderr, "gantry server: --port: invalid port \"%s\" (0-65535)\n", optarg);
				return -1;
			}
			o->port = (int)v;
			break;
		case 'k': o->kubeconfig_out = optarg; break;
		case 'n': o->no_agent = true; break;
		case 'i': o->plain_http = true; break;
		case 'N': o->node_name = optarg; break;
		case 'G': o->gpu_dev_dir = optarg; break;
		case 'B': o->bridge = optarg; break;
		case 'S': o->subnet = optarg; break;
		case 'P': {
			struct gt_sched_policy pol;
			struct gt_err err;

			gt_err_clear(&err);
			if (gt_sched_policy_parse(optarg, &pol, &err) < 0) {
				fprintf(stderr, "gantry server: --scheduler-policy: %s\n", err.msg);
				return -1;
			}
			o->sched_policy = optarg;
			break;
		}
		case 'x':
		case 'X':
			if (gt_parse_i64(optarg, &v) < 0 || v < 0 || v > INT32_MAX) {
				fprintf(stderr, "gantry server: --%s: need a number of milliseconds\n",
					c == 'x' ? "backoff-base-ms" : "backoff-max-ms");
				return -1;
			}
			if (c == 'x')
				o->backoff_base_ms = (int)v;
			else
				o->backoff_max_ms = (int)v;
			break;
		case 'J':
			if (gt_parse_i64(optarg, &v) < 0 || v < 1 || v > INT32_MAX / 64) {
				fprintf(stderr, "gantry server: --job-backoff-ms: need a number of milliseconds (1-33554431)\n");
				return -1;
			}
			o->job_backoff_ms = (int)v;
			break;
		case 'A':
			if (gt_parse_i64(optarg, &v) < 0 || v < 1 || v > 3600) {
				fprintf(stderr, "gantry server: --hpa-sync-period: need a number of seconds (1-3600)\n");
				return -1;
			}
			o->hpa_sync_s = (int)v;
			break;
		case 'g':
			if (gt_parse_i64(optarg, &v) < 0 || v < 1 || v > 86400) {
				fprintf(stderr, "gantry server: --node-monitor-grace-period: need a number of seconds (1-86400)\n");
				return -1;
			}
			o->node_grace_s = (int)v;
			break;
		case 'r':
		case 'u':
			if (gt_parse_i64(optarg, &v) < 0 || v < 1 || v > INT32_MAX) {
				fprintf(stderr, "gantry server: --%s: need a number of seconds (1 or more)\n",
					c == 'r' ? "default-not-ready-toleration-seconds" :
					"default-unreachable-toleration-seconds");
				return -1;
			}
			if (c == 'r')
				o->not_ready_tol_s = v;
			else
				o->unreachable_tol_s = v;
			break;
		case 'w':
			if (gt_parse_i64(optarg, &v) < 0 || v < 100) {
				fprintf(stderr, "gantry server: --watch-history: need a number >= 100\n");
				return -1;
			}
			o->history = (size_t)v;
			break;
		case 'm':
			if (gt_parse_i64(optarg, &v) < 0 || v < 1024) {
				fprintf(stderr, "gantry server: --max-request-bytes: need a number >= 1024\n");
				return -1;
			}
			o->max_body = (size_t)v;
			break;
		case 'l':
			if (!strcmp(optarg, "debug")) gt_log_min = GT_LOG_DEBUG;
			else if (!strcmp(optarg, "info")) gt_log_min = GT_LOG_INFO;
			else if (!strcmp(optarg, "warn")) gt_log_min = GT_LOG_WARN;
			else if (!strcmp(optarg, "error")) gt_log_min = GT_LOG_ERROR;
			else {
				fprintf(stderr, "gantry server: --log-level: one of debug, info, warn, error\n");
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "Run 'gantry server --help' for the flags.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gantry server: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	return 0;
}

static char *server_url(const struct server_opts *o, int port, bool tls)
{
	const char *host = o->bind;

	if (!strcmp(host, "0.0.0.0"))
		host = "127.0.0.1";
	else if (!strcmp(host, "::"))
		host = "::1";
	if (strchr(host, ':'))
		return xasprintf("%s://[%s]:%d", tls ? "https" : "http", host, port);
	return xasprintf("%s://%s:%d", tls ? "https" : "http", host, port);
}

static int write_kubeconfig(const char *path, const char *url, const char *ca_pem,
			    const char *token, struct gt_err *err)
{
	struct gt_buf b = GT_BUF_INIT;
	int r;

	gt_buf_init(&b);
	gt_buf_addf(&b,
		    "apiVersion: v1\n"
		    "kind: Config\n"
		    "clusters:\n"
		    "- name: gantry\n"
		    "  cluster:\n"
		    "    server: %s\n", url);
	if (ca_pem) {
		char *ca = gt_base64_encode(ca_pem, strlen(ca_pem));

		gt_buf_addf(&b, "    certificate-authority-data: %s\n", ca);
		free(ca);
	}
	gt_buf_addf(&b,
		    "contexts:\n"
		    "- name: gantry\n"
		    "  context:\n"
		    "    cluster: gantry\n"
		    "    user: admin\n"
		    "    namespace: default\n"
		    "current-context: gantry\n"
		    "preferences: {}\n"
		    "users:\n"
		    "- name: admin\n"
		    "  user:\n"
		    "    token: %s\n", token);
	r = gt_write_file_atomic(path, b.data, b.len, 0600);
	gt_buf_release(&b);
	if (r < 0)
		return gt_err_set(err, r, "cannot write kubeconfig %s: %s", path, strerror(-r));
	return 0;
}

/* The embedded agent's port-forward for the API server (gt_api_local_agent). */
static int local_pf_dial(void *ctx, const char *ns, const char *pod, int port, int *fd,
			 struct gt_err *err)
{
	return gt_agent_pf_dial(ctx, ns, pod, port, fd, err);
}

int gt_cmd_server(int argc, char **argv)
{
	struct server_opts o = {
		.data_dir = "/var/lib/gantry", .bind = "127.0.0.1", .port = 6443,
	};
	struct gt_tls_material tls = { 0 };
	struct gt_backend *be = NULL;
	struct gt_store *store = NULL;
	struct gt_api *api = NULL;
	struct gt_http_server *http = NULL;
	struct gt_controllers *ctl = NULL;
	struct gt_client *client = NULL;
	struct gt_agent *agent = NULL;
	struct gt_store_options so = { 0 };
	char *token = NULL, *url = NULL, path[PATH_MAX], kc[PATH_MAX], host[256] = "";
	char node[256], pvroot[PATH_MAX];
	const char *sans[3] = { NULL, NULL, NULL };
	struct gt_err err;
	sigset_t set;
	int r, sig, rc = 1;

	gt_err_clear(&err);
	r = parse(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : 2;
	if ((r = gt_mkdir_p(o.data_dir, 0700)) < 0) {
		fprintf(stderr, "gantry server: cannot create data directory %s: %s\n", o.data_dir,
			strerror(-r));
		return 1;
	}
	/* Block the signals before any thread starts, so they all inherit it. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	gethostname(host, sizeof(host) - 1);
	sans[0] = o.bind;
	sans[1] = host[0] ? host : NULL;
	snprintf(path, sizeof(path), "%s/pki", o.data_dir);
	if (!o.plain_http && gt_tls_ensure(path, sans, &tls, &err) < 0)
		goto fail;
	if (gt_tls_token(o.data_dir, &token, &err) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/state.db", o.data_dir);
	so.history = o.history;
	if (gt_backend_sqlite_open(path, &be, &err) < 0)
		goto fail;
	if (gt_store_open(be, &so, &store, &err) < 0)
		goto fail;
	{
		struct gt_api_config ac = {
			.store = store, .token = token, .max_body = o.max_body,
			.not_ready_toleration_s = o.not_ready_tol_s,
			.unreachable_toleration_s = o.unreachable_tol_s,
		};
		char addr[300];

		snprintf(addr, sizeof(addr), "%s:%d", o.bind, o.port);
		ac.server_url = addr;
		if (gt_api_new(&ac, &api, &err) < 0)
			goto fail;
	}
	{
		struct gt_http_config hc = {
			.bind = o.bind, .port = o.port, .cert_pem = tls.cert_pem,
			.key_pem = tls.key_pem, .max_body = o.max_body, .handler = gt_api_handle,
			.ctx = api,
		};

		if (gt_http_start(&hc, &http, &err) < 0)
			goto fail;
	}
	url = server_url(&o, gt_http_port(http), !o.plain_http);
	if (o.kubeconfig_out)
		snprintf(kc, sizeof(kc), "%s", o.kubeconfig_out);
	else
		snprintf(kc, sizeof(kc), "%s/admin.kubeconfig", o.data_dir);
	if (write_kubeconfig(kc, url, tls.ca_pem, token, &err) < 0)
		goto fail;
	/* Node names are DNS subdomains: lower-case the host name. */
	snprintf(node, sizeof(node), "%s", o.node_name ? o.node_name : host[0] ? host : "localhost");
	for (char *p = node; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	snprintf(pvroot, sizeof(pvroot), "%s/agent/pv", o.data_dir);
	{
		struct gt_controllers_config ccfg = {
			.pv_root = o.no_agent ? NULL : pvroot, .node_name = o.no_agent ? NULL : node,
			.job_backoff_ms = o.job_backoff_ms,
			.hpa_sync_ms = o.hpa_sync_s * 1000,
			.node_grace_s = o.node_grace_s,
			.sched_policy = o.sched_policy,
		};

		if (gt_controllers_start(api, &ccfg, &ctl, &err) < 0)
			goto fail;
	}
	gt_info("gantry server %s listening on %s", GT_VERSION, url);
	gt_info("kubeconfig written to %s (try: kubectl --kubeconfig %s get namespaces)", kc, kc);
	if (!o.no_agent) {
		struct gt_client_config cc = { .server_url = url, .token = token, .ca_pem = tls.ca_pem };
		struct gt_agent_config ac = {
			.root_dir = path, .token = token, .backoff_base_ms = o.backoff_base_ms,
			.backoff_max_ms = o.backoff_max_ms, .gpu_dev_dir = o.gpu_dev_dir,
			.bridge = o.bridge, .subnet = o.subnet,
		};
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		self[n > 0 ? n : 0] = '\0';
		snprintf(path, sizeof(path), "%s/agent", o.data_dir);
		ac.node_name = node;
		ac.self_exe = self;
		if (gt_client_new(&cc, &client, &err) < 0)
			goto fail;
		ac.client = client;
		if (gt_agent_start(&ac, &agent, &err) < 0) {
			gt_err_prefix(&err, err.code, "starting the embedded node agent (use --no-agent to run without one)");
			goto fail;
		}
		{
			struct gt_api_local_agent la = { .ctx = agent, .pf_dial = local_pf_dial };

			snprintf(la.node, sizeof(la.node), "%s", node);
			gt_api_set_local_agent(api, &la);
		}
	}

	do {
		if (sigwait(&set, &sig) != 0)
			break;
	} while (sig != SIGTERM && sig != SIGINT);
	gt_info("shutting down (signal %d)", sig);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "gantry server: %s\n", err.msg);
out:
	if (api)
		gt_api_set_local_agent(api, NULL);
	gt_agent_stop(agent);
	gt_client_free(client);
	gt_controllers_stop(ctl);
	gt_api_shutdown(api);
	gt_http_stop(http);
	gt_api_free(api);
	gt_store_close(store);
	if (!store && be)
		be->ops->close(be);
	gt_tls_material_release(&tls);
	free(token);
	free(url);
	return rc;
}
