/*
 * test_network.c - pod network namespaces and the CNI chain against the real
 * plugins in /usr/lib/cni (needs root; skipped otherwise), plus the pod's
 * etc-hosts and resolv.conf.
 *
 * Everything lives on a test-only bridge (gttest0, 10.123.0.0/24) with IPAM
 * state in a temporary directory.  The test cleans up before and after
 * itself: namespaces, the bridge, the nat rules it added (the nat table must
 * read the same at the end as at the start) and ip_forward.
 *
 * Host ports are checked through the bridge's own address (10.123.0.1):
 * portmap DNATs locally generated traffic to any local address, but
 * 127.0.0.1 only works with route_localnet, which we leave alone.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/network.h"
#include "t.h"

#define BRIDGE "gttest0"
#define SUBNET "10.123.0.0/24"
/* the NAT rules this test can make (other agents on the host may be busy) */
#define NAT_OURS "iptables -w -t nat -S | grep -e " BRIDGE " -e 10.123.0. -e gttest- || true"
#define GATEWAY "10.123.0.1"
#define MASQ_RULE "-A POSTROUTING -s " SUBNET " ! -d " SUBNET \
	" -m comment --comment \"gantry pod network " BRIDGE "\" -j MASQUERADE"

static char root[64];
static char state[128];
static struct gt_net_config cfg;
static char *nat_before;
static int forward_before = -1;

static char *sh_out(const char *cmd)
{
	struct gt_buf b = GT_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f = popen(cmd, "r");

	gt_buf_init(&b);
	if (f) {
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			gt_buf_add(&b, chunk, n);
		pclose(f);
	}
	return gt_buf_detach(&b, NULL);
}

static char *nspath(const char *name)
{
	return xasprintf("%s/%s", root, name);
}

static const char *const pods[] = { "gttest-a", "gttest-b", "gttest-c", "gttest-p0",
				    "gttest-p1", "gttest-p2", "gttest-p3" };

static void cleanup(void)
{
	for (size_t i = 0; i < GT_ARRAY_SIZE(pods); i++) {
		char *p = nspath(pods[i]);

		gt_net_teardown(&cfg, pods[i], NULL, NULL);
		gt_netns_destroy(p, NULL);
		free(p);
	}
	if (system("ip link del " BRIDGE " 2>/dev/null")) {
		/* absent already */
	}
	gt_net_masq_remove(&cfg);
	/* portmap's shared chains, when this test created them */
	if (nat_before && !strstr(nat_before, "CNI-HOSTPORT-DNAT")) {
		char *now = sh_out("iptables -w -t nat -S");

		if (strstr(now, "CNI-HOSTPORT") && !strstr(now, "-j CNI-DN-")) {
			int r = system("for c in PREROUTING OUTPUT POSTROUTING; do "
				       "iptables -w -t nat -S $c | grep -- '-j CNI-HOSTPORT' | "
				       "sed 's/^-A/-D/' | while read -r l; do eval iptables -w -t nat $l; done; done; "
				       "for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do "
				       "iptables -w -t nat -F $c 2>/dev/null; iptables -w -t nat -X $c 2>/dev/null; done; true");
			(void)r;
		}
		free(now);
	}
	if (forward_before >= 0) {
		FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "w");

		if (f) {
			fprintf(f, "%d\n", forward_before);
			fclose(f);
		}
	}
	if (root[0]) {
		char *cmd = xasprintf("rm -rf %s", root);

		if (system(cmd)) {
			/* reported by the leak check below */
		}
		free(cmd);
	}
}

static int setup_pod(const char *id, const json_t *ports, char ip[64])
{
	struct gt_err err;
	char *p = nspath(id);
	int rc;

	gt_err_clear(&err);
	rc = gt_netns_create(p, &err);
	if (rc == 0)
		rc = gt_net_setup(&cfg, id, p, ports, ip, &err);
	if (rc < 0)
		fprintf(stderr, "  setup %s: %s\n", id, err.msg);
	free(p);
	return rc;
}

static int teardown_pod(const char *id)
{
	struct gt_err err;
	char *p = nspath(id);
	int rc;

	gt_err_clear(&err);
	rc = gt_net_teardown(&cfg, id, p, &err);
	if (rc < 0)
		fprintf(stderr, "  teardown %s: %s\n", id, err.msg);
	else
		rc = gt_netns_destroy(p, &err);
	free(p);
	return rc;
}

static int enter(const char *id)
{
	char *p = nspath(id);
	int fd = open(p, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd >= 0) {
		rc = setns(fd, CLONE_NEWNET);
		close(fd);
	}
	free(p);
	return rc;
}

/* Forks a one-shot TCP server inside pod id on port; returns its pid once
 * it listens.  It answers "pong" to "ping". */
static pid_t serve(const char *id, int port)
{
	int sync[2];
	char c;
	pid_t pid;

	if (pipe(sync) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int one = 1, s, cfd;
		char buf[8] = "";

		close(sync[0]);
		alarm(10);
		if (enter(id) < 0)
			_exit(2);
		s = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0)
			_exit(3);
		if (write(sync[1], "r", 1) != 1)
			_exit(4);
		cfd = accept(s, NULL, NULL);
		if (cfd < 0 || read(cfd, buf, 4) != 4 || memcmp(buf, "ping", 4))
			_exit(5);
		_exit(write(cfd, "pong", 4) == 4 ? 0 : 6);
	}
	close(sync[1]);
	if (pid < 0 || read(sync[0], &c, 1) != 1) {
		close(sync[0]);
		return -1;
	}
	close(sync[0]);
	return pid;
}

/* Connects to ip:port (from pod `from`, or the host when NULL) and checks
 * the ping/pong exchange; returns 0 on success. */
static int ping(const char *from, const char *ip, int port)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		char buf[8] = "";
		int s;

		alarm(10);
		if (from && enter(from) < 0)
			_exit(2);
		inet_pton(AF_INET, ip, &a.sin_addr);
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(3);
		if (write(s, "ping", 4) != 4 || read(s, buf, 4) != 4)
			_exit(4);
		_exit(memcmp(buf, "pong", 4) ? 5 : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int wait_ok(pid_t pid)
{
	int st = 0;

	if (pid <= 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static bool in_subnet(const char *ip)
{
	return !strncmp(ip, "10.123.0.", 9) && strcmp(ip, GATEWAY);
}

static int bridge_ports(void)
{
	char *out = sh_out("ls /sys/class/net/" BRIDGE "/brif 2>/dev/null | wc -l");
	int n = atoi(out);

	free(out);
	return n;
}

TEST(netns_create_idempotent)
{
	char *p = nspath("gttest-c");
	struct stat a, b;

	CHECK_INT(gt_netns_create(p, NULL), 0);
	CHECK_INT(stat(p, &a), 0);
	CHECK_INT(gt_netns_create(p, NULL), 0);
	CHECK_INT(stat(p, &b), 0);
	CHECK(a.st_ino == b.st_ino);
	CHECK_INT(gt_netns_destroy(p, NULL), 0);
	CHECK(access(p, F_OK) < 0);
	CHECK_INT(gt_netns_destroy(p, NULL), 0);
	free(p);
}

TEST(pod_to_pod_and_hostport)
{
	char ipa[64] = "", ipb[64] = "", again[64] = "";
	json_t *ports = json_pack("[{s:i, s:i, s:s, s:s}, {s:i}]", "containerPort", 8080,
				  "hostPort", 18080, "protocol", "TCP", "hostIP", "0.0.0.0",
				  "containerPort", 9090);
	pid_t srv;

	CHECK_INT(setup_pod("gttest-a", ports, ipa), 0);
	CHECK_INT(setup_pod("gttest-b", NULL, ipb), 0);
	CHECK(in_subnet(ipa));
	CHECK(in_subnet(ipb));
	CHECK(strcmp(ipa, ipb) != 0);
	CHECK_INT(bridge_ports(), 2);

	/* setup again: the cached result, same IP, no new plugin run */
	{
		char *p = nspath("gttest-a");

		CHECK_INT(gt_net_setup(&cfg, "gttest-a", p, ports, again, NULL), 0);
		CHECK_STR(again, ipa);
		free(p);
	}

	srv = serve("gttest-a", 8080);
	CHECK(srv > 0);
	CHECK_INT(ping("gttest-b", ipa, 8080), 0);
	CHECK_INT(wait_ok(srv), 0);

	/* host port through the bridge address */
	srv = serve("gttest-a", 8080);
	CHECK(srv > 0);
	CHECK_INT(ping(NULL, GATEWAY, 18080), 0);
	CHECK_INT(wait_ok(srv), 0);

	/* the port rules carry the pod id; one masquerade rule serves the
	 * whole pod network (no per-pod chains) */
	{
		char *nat = sh_out("iptables -w -t nat -S");

		CHECK(strstr(nat, "id: \\\"gttest-a\\\"") != NULL);
		CHECK(strstr(nat, "dport 18080") != NULL);
		CHECK(strstr(nat, MASQ_RULE) != NULL);
		CHECK(strstr(nat, "-j CNI-") == NULL || strstr(nat, "-j CNI-HOSTPORT") != NULL);
		free(nat);
	}

	CHECK_INT(teardown_pod("gttest-b"), 0);
	CHECK_INT(bridge_ports(), 1);
	CHECK_INT(teardown_pod("gttest-b"), 0); /* idempotent */
	CHECK_INT(setup_pod("gttest-b", NULL, again), 0);
	CHECK(in_subnet(again));
	CHECK_INT(teardown_pod("gttest-b"), 0);
	CHECK_INT(teardown_pod("gttest-a"), 0);
	CHECK_INT(bridge_ports(), 0);
	{
		char *nat = sh_out("iptables -w -t nat -S");
		char *ipam = xasprintf("ls %s/ipam/gantry 2>/dev/null | grep -c '^10\\.' || true", state);
		char *n = sh_out(ipam);

		CHECK(strstr(nat, "gttest-") == NULL);
		CHECK(strstr(nat, "dport 18080") == NULL);
		CHECK_INT(atoi(n), 0);
		free(nat);
		free(ipam);
		free(n);
	}
	json_decref(ports);
}

/* The namespace is gone before DEL: the IP and the masquerade rules are
 * still released. */
TEST(teardown_without_netns)
{
	char ip[64] = "";
	char *p = nspath("gttest-c");
	char *nat;
	struct gt_err err;

	CHECK_INT(setup_pod("gttest-c", NULL, ip), 0);
	CHECK_INT(gt_netns_destroy(p, NULL), 0);
	gt_err_clear(&err);
	CHECK_INT(gt_net_teardown(&cfg, "gttest-c", p, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	nat = sh_out("iptables -w -t nat -S");
	CHECK(strstr(nat, "gttest-c") == NULL);
	free(nat);
	free(p);
}

/* The cached result is lost (a crash, a wiped state dir): DEL still
 * removes the port mappings and masquerade rules by pod id. */
TEST(teardown_without_cache)
{
	char ip[64] = "";
	json_t *ports = json_pack("[{s:i, s:i}]", "containerPort", 80, "hostPort", 18081);
	char *cache = xasprintf("%s/results/gttest-c.json", state);
	char *nat;

	CHECK_INT(setup_pod("gttest-c", ports, ip), 0);
	nat = sh_out("iptables -w -t nat -S");
	CHECK(strstr(nat, "dport 18081") != NULL);
	free(nat);
	CHECK_INT(unlink(cache), 0);
	CHECK_INT(teardown_pod("gttest-c"), 0);
	nat = sh_out("iptables -w -t nat -S");
	CHECK(strstr(nat, "dport 18081") == NULL);
	CHECK(strstr(nat, "gttest-c") == NULL);
	free(nat);
	free(cache);
	json_decref(ports);
}

/* The sandbox is recreated (a new namespace at the same path): setup
 * releases the old address and configures the new one. */
TEST(new_sandbox_same_path)
{
	char ip1[64] = "", ip2[64] = "";
	char *p = nspath("gttest-c");
	char *lease;

	CHECK_INT(setup_pod("gttest-c", NULL, ip1), 0);
	CHECK_INT(gt_netns_destroy(p, NULL), 0);
	CHECK_INT(setup_pod("gttest-c", NULL, ip2), 0);
	CHECK(in_subnet(ip2));
	/* host-local keeps one file per leased address */
	lease = xasprintf("%s/ipam/gantry/%s", state, ip1);
	if (strcmp(ip1, ip2))
		CHECK(access(lease, F_OK) < 0);
	free(lease);
	lease = xasprintf("%s/ipam/gantry/%s", state, ip2);
	CHECK(access(lease, F_OK) == 0);
	free(lease);
	CHECK_INT(teardown_pod("gttest-c"), 0);
	free(p);
}

static int masq_rules(void)
{
	char *nat = sh_out("iptables -w -t nat -S POSTROUTING");
	int n = 0;

	for (char *q = nat; (q = strstr(q, MASQ_RULE)); q++)
		n++;
	free(nat);
	return n;
}

struct par {
	const char *id;
	char ip[64];
	int rc;
};

static void *par_setup(void *arg)
{
	struct par *p = arg;

	p->rc = setup_pod(p->id, NULL, p->ip);
	return NULL;
}

TEST(parallel_setup)
{
	struct par ps[4] = { { "gttest-p0", "", 0 }, { "gttest-p1", "", 0 },
			     { "gttest-p2", "", 0 }, { "gttest-p3", "", 0 } };
	pthread_t th[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, par_setup, &ps[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++) {
		CHECK_INT(ps[i].rc, 0);
		CHECK(in_subnet(ps[i].ip));
		for (int j = 0; j < i; j++)
			CHECK(strcmp(ps[i].ip, ps[j].ip) != 0);
	}
	CHECK_INT(masq_rules(), 1); /* one rule, however many pods */
	for (int i = 0; i < 4; i++)
		CHECK_INT(teardown_pod(ps[i].id), 0);
	CHECK_INT(bridge_ports(), 0);
	gt_net_masq_remove(&cfg);
	CHECK_INT(masq_rules(), 0);
	CHECK_INT(gt_net_masq_ensure(&cfg, NULL), 0);
	CHECK_INT(gt_net_masq_ensure(&cfg, NULL), 0);
	CHECK_INT(masq_rules(), 1);
}

TEST(bad_input)
{
	struct gt_err err;
	char ip[64];
	char *p = nspath("gttest-c");
	struct gt_net_config bad = cfg;
	json_t *ports = json_pack("[{s:i, s:i, s:s}]", "containerPort", 1, "hostPort", 2,
				  "protocol", "ICMP");

	gt_err_clear(&err);
	CHECK_INT(gt_net_setup(&cfg, "../x", p, NULL, ip, &err), -EINVAL);
	CHECK_INT(gt_net_setup(&cfg, "gttest-c", p, NULL, ip, &err), -EINVAL); /* no netns */
	CHECK_INT(gt_netns_create(p, NULL), 0);
	CHECK_INT(gt_net_setup(&cfg, "gttest-c", p, ports, ip, &err), -EINVAL);
	CHECK(strstr(err.msg, "protocol") != NULL);
	bad.cni_bin_dir = "/nonexistent";
	gt_err_clear(&err);
	CHECK_INT(gt_net_setup(&bad, "gttest-c", p, NULL, ip, &err), -ENOENT);
	CHECK(strstr(err.msg, "loopback") != NULL);
	/* the failed ADD could not be rolled back (no plugins): the cache
	 * stays for a later DEL, which succeeds with the right directory */
	CHECK_INT(gt_net_teardown(&cfg, "gttest-c", p, NULL), 0);
	/* a plugin error names the plugin: a subnet host-local cannot parse */
	bad = cfg;
	bad.subnet = "not-a-cidr";
	gt_err_clear(&err);
	CHECK(gt_net_setup(&bad, "gttest-c", p, NULL, ip, &err) < 0);
	CHECK(strstr(err.msg, "CNI plugin bridge ADD failed") != NULL);
	CHECK(strstr(err.msg, "not-a-cidr") != NULL);
	CHECK_INT(gt_net_teardown(&cfg, "gttest-c", p, NULL), 0);
	CHECK_INT(gt_netns_destroy(p, NULL), 0);
	json_decref(ports);
	free(p);
}

static char *slurp(const char *name)
{
	char *path = xasprintf("%s/%s", root, name), *data = NULL;
	size_t len;

	if (gt_read_file(path, &data, &len) < 0)
		data = xstrdup("");
	free(path);
	return data;
}

TEST(etc_files)
{
	json_t *pod = json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:[{s:s, s:[s, s]}]}}",
				"metadata", "name", "web-0", "namespace", "shop",
				"spec", "hostname", "web-0", "subdomain", "web",
				"hostAliases", "ip", "1.2.3.4", "hostnames", "foo.local", "bar");
	char *hosts, *resolv;

	CHECK_INT(gt_net_write_etc(root, pod, "10.123.0.7", "10.123.0.1", NULL), 0);
	hosts = slurp("etc-hosts");
	resolv = slurp("resolv.conf");
	CHECK(strstr(hosts, "127.0.0.1\tlocalhost\n") != NULL);
	CHECK(strstr(hosts, "10.123.0.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n") != NULL);
	CHECK(strstr(hosts, "# Entries added by HostAliases.\n1.2.3.4\tfoo.local\tbar\n") != NULL);
	CHECK(!strncmp(resolv, "search shop.svc.cluster.local svc.cluster.local cluster.local", 61));
	/* the cluster DNS first, then the host's (never a loopback one) */
	CHECK(strstr(resolv, "\nnameserver 10.123.0.1\nnameserver ") != NULL);
	CHECK(strstr(resolv, "nameserver 127.") == NULL);
	CHECK(strstr(resolv, "options ndots:5\n") != NULL);
	free(hosts);
	free(resolv);

	/* no subdomain; dnsPolicy None with dnsConfig */
	json_object_del(json_object_get(pod, "spec"), "subdomain");
	json_object_del(json_object_get(pod, "spec"), "hostAliases");
	gt_json_set_str(pod, "spec.dnsPolicy", "None");
	gt_json_set(pod, "spec.dnsConfig", json_pack("{s:[s], s:[s], s:[{s:s, s:s}, {s:s}]}",
		    "nameservers", "1.1.1.1", "searches", "example.com", "options", "name", "ndots",
		    "value", "2", "name", "edns0"));
	CHECK_INT(gt_net_write_etc(root, pod, "10.123.0.7", "10.123.0.1", NULL), 0);
	hosts = slurp("etc-hosts");
	resolv = slurp("resolv.conf");
	CHECK(strstr(hosts, "10.123.0.7\tweb-0\n") != NULL);
	CHECK(strstr(hosts, "HostAliases") == NULL);
	CHECK_STR(resolv, "search example.com\nnameserver 1.1.1.1\noptions ndots:2 edns0\n");
	free(hosts);
	free(resolv);

	/* hostNetwork: the host's files */
	gt_json_set(pod, "spec.hostNetwork", json_true());
	gt_json_del(pod, "spec.dnsConfig");
	gt_json_set_str(pod, "spec.dnsPolicy", "ClusterFirst");
	CHECK_INT(gt_net_write_etc(root, pod, NULL, "10.123.0.1", NULL), 0);
	hosts = slurp("etc-hosts");
	resolv = slurp("resolv.conf");
	CHECK(!strncmp(hosts, "# Kubernetes-managed hosts file (host network).\n", 48));
	CHECK(strstr(resolv, "svc.cluster.local") == NULL || strstr(resolv, "search shop.") == NULL);
	CHECK(strstr(resolv, "ndots:5") == NULL);
	free(hosts);
	free(resolv);

	/* injection through a host alias is refused */
	gt_json_set(pod, "spec.hostAliases", json_pack("[{s:s, s:[s]}]", "ip", "1.2.3.4\n5.6.7.8",
		    "hostnames", "x"));
	CHECK_INT(gt_net_write_etc(root, pod, "10.123.0.7", "10.123.0.1", NULL), -EINVAL);
	json_decref(pod);
}

TEST(gateway)
{
	char gw[16];

	CHECK_INT(gt_net_gateway("10.88.0.0/16", gw), 0);
	CHECK_STR(gw, "10.88.0.1");
	CHECK_INT(gt_net_gateway("10.77.3.0/24", gw), 0);
	CHECK_STR(gw, "10.77.3.1");
	CHECK_INT(gt_net_gateway("10.77.3.9/24", gw), 0); /* host bits ignored */
	CHECK_STR(gw, "10.77.3.1");
	CHECK_INT(gt_net_gateway("10.77.3.0", gw), -EINVAL);
	CHECK_INT(gt_net_gateway("10.77.3.0/31", gw), -EINVAL);
	CHECK_INT(gt_net_gateway("300.1.1.0/24", gw), -EINVAL);
	CHECK_INT(gt_net_gateway(NULL, gw), -EINVAL);
}

int main(void)
{
	RUN(gateway);
	char *fw;

	if (geteuid() != 0 || access("/usr/lib/cni/bridge", X_OK) < 0) {
		printf("# skipped: needs root and /usr/lib/cni\n");
		return t_done();
	}
	snprintf(root, sizeof(root), "/tmp/gt-net-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(state, sizeof(state), "%s/state", root);
	cfg = (struct gt_net_config){ "/usr/lib/cni", BRIDGE, SUBNET, state };
	fw = sh_out("cat /proc/sys/net/ipv4/ip_forward");
	forward_before = atoi(fw);
	free(fw);
	if (system("ip link del " BRIDGE " 2>/dev/null")) {
		/* no leftover from an earlier run */
	}
	/* rules a crashed earlier run may have left (masquerade, by pod id) */
	for (size_t i = 0; i < GT_ARRAY_SIZE(pods); i++)
		gt_net_teardown(&cfg, pods[i], NULL, NULL);
	nat_before = sh_out(NAT_OURS);

	RUN(netns_create_idempotent);
	RUN(etc_files);
	RUN(bad_input);
	RUN(pod_to_pod_and_hostport);
	RUN(teardown_without_netns);
	RUN(teardown_without_cache);
	RUN(new_sandbox_same_path);
	RUN(parallel_setup);

	cleanup();
	{
		char *nat_after = sh_out(NAT_OURS);

		t_cur = "no_leaks";
		t_cur_failed = 0;
		CHECK_STR(nat_after, nat_before);
		CHECK(access(root, F_OK) < 0);
		if (t_cur_failed)
			t_failed++;
		else
			t_passed++;
		printf("%s - no_leaks\n", t_cur_failed ? "not ok" : "ok");
		free(nat_after);
	}
	free(nat_before);
	return t_done();
}
