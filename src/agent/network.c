/*
 * network.c - pod network namespaces and the CNI plugin chain (loopback,
 * bridge + host-local, portmap), with results cached for DEL, and the one
 * masquerade rule per pod network.  See network.h for the contracts; the
 * pod's /etc/hosts and /etc/resolv.conf are in netetc.c.
 */
#include "agent/network.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/child.h"
#include "base/log.h"

#define PLUGIN_TIMEOUT_MS 30000
#define CNI_VERSION "1.0.0"
#define NET_NAME "gantry"

extern char **environ;

/* ---- network namespaces ---- */

static bool is_netns(const char *path, ino_t *ino)
{
	struct statfs sf;
	struct stat st;

	if (statfs(path, &sf) < 0 || sf.f_type != NSFS_MAGIC || stat(path, &st) < 0)
		return false;
	if (ino)
		*ino = st.st_ino;
	return true;
}

struct ns_job {
	const char *path;
	int rc;
};

/* Runs in its own thread: unsharing changes only this thread's namespace,
 * which outlives the thread through the bind mount. */
static void *ns_thread(void *arg)
{
	struct ns_job *j = arg;

	if (unshare(CLONE_NEWNET) < 0)
		j->rc = -errno;
	else if (mount("/proc/thread-self/ns/net", j->path, "none", MS_BIND, NULL) < 0)
		j->rc = -errno;
	return NULL;
}

int gt_netns_create(const char *path, struct gt_err *err)
{
	struct ns_job j = { path, 0 };
	pthread_t th;
	int fd, rc;

	if (is_netns(path, NULL))
		return 0;
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return gt_err_set(err, -errno, "netns %s: create: %s", path, strerror(errno));
	close(fd);
	rc = pthread_create(&th, NULL, ns_thread, &j);
	if (rc)
		return gt_err_set(err, -rc, "netns %s: thread: %s", path, strerror(rc));
	pthread_join(th, NULL);
	if (j.rc < 0) {
		unlink(path);
		return gt_err_set(err, j.rc, "netns %s: %s", path, strerror(-j.rc));
	}
	return 0;
}

int gt_netns_destroy(const char *path, struct gt_err *err)
{
	/* Loop in case the namespace was mounted more than once. */
	for (int i = 0; i < 8 && is_netns(path, NULL); i++)
		if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL)
			return gt_err_set(err, -errno, "netns %s: umount: %s", path, strerror(errno));
	if (unlink(path) < 0 && errno != ENOENT)
		return gt_err_set(err, -errno, "netns %s: unlink: %s", path, strerror(errno));
	return 0;
}

/* ---- CNI plugins ---- */

static bool valid_id(const char *id)
{
	if (!id || !*id || strlen(id) > 200 || !((*id >= 'a' && *id <= 'z') ||
	    (*id >= 'A' && *id <= 'Z') || (*id >= '0' && *id <= '9')))
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

/* Trims trailing whitespace of a plugin's stderr in place. */
static const char *trimmed(struct gt_buf *b)
{
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' '))
		b->data[--b->len] = '\0';
	return b->data;
}

/*
 * Runs plugin `type` (the conf's "type") for cmd ("ADD"/"DEL") on the pod.
 * *result (ADD only, may be NULL) gets the parsed stdout (new reference).
 */
static int cni_exec(const struct gt_net_config *c, const char *cmd, const char *id,
		    const char *netns, const char *ifname, const json_t *conf, json_t **result,
		    struct gt_err *err)
{
	const char *type = gt_json_str(conf, "type");
	const char *path_env = getenv("PATH");
	struct gt_buf out = GT_BUF_INIT, eout = GT_BUF_INIT;
	GT_AUTOFREE char *bin = xasprintf("%s/%s", c->cni_bin_dir, type);
	GT_AUTOFREE char *e_cmd = xasprintf("CNI_COMMAND=%s", cmd);
	GT_AUTOFREE char *e_id = xasprintf("CNI_CONTAINERID=%s", id);
	GT_AUTOFREE char *e_ns = xasprintf("CNI_NETNS=%s", netns ? netns : "");
	GT_AUTOFREE char *e_if = xasprintf("CNI_IFNAME=%s", ifname);
	GT_AUTOFREE char *e_path = xasprintf("CNI_PATH=%s", c->cni_bin_dir);
	GT_AUTOFREE char *e_sys = xasprintf("PATH=%s", path_env && *path_env ? path_env
					    : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	GT_AUTOFREE char *in = NULL;
	char *envp[] = { e_cmd, e_id, e_ns, e_if, e_path, e_sys, NULL };
	char *argv[] = { bin, NULL };
	size_t inlen;
	int status = 0, rc;

	if (result)
		*result = NULL;
	if (access(bin, X_OK) < 0)
		return gt_err_set(err, -ENOENT, "CNI plugin %s not found in %s", type, c->cni_bin_dir);
	in = gt_json_dump(conf, &inlen);
	rc = gt_child_run(bin, argv, envp, false, in, inlen, PLUGIN_TIMEOUT_MS, &out, &eout, &status);
	if (rc < 0) {
		gt_err_set(err, rc, "CNI plugin %s %s: %s", type, cmd,
			   rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
		goto done;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		json_t *e = NULL;

		/* CNI error object: {"code":N,"msg":"...","details":"..."} */
		if (out.len && gt_json_parse(out.data, out.len, &e, NULL) == 0 &&
		    gt_json_str(e, "msg")) {
			const char *d = gt_json_str(e, "details");
			int64_t code = 0;

			gt_json_int(e, "code", &code);
			gt_err_set(err, -EIO, "CNI plugin %s %s failed (code %lld): %s%s%s", type,
				   cmd, (long long)code, gt_json_str(e, "msg"),
				   d && *d ? ": " : "", d && *d ? d : "");
		} else {
			gt_err_set(err, -EIO, "CNI plugin %s %s failed (status %d): %s", type, cmd,
				   status, eout.len ? trimmed(&eout) : trimmed(&out));
		}
		json_decref(e);
		rc = -EIO;
		goto done;
	}
	if (result && out.len) {
		rc = gt_json_parse(out.data, out.len, result, err);
		if (rc < 0)
			gt_err_prefix(err, rc, "CNI plugin %s %s: bad result", type, cmd);
	}
done:
	gt_buf_release(&out);
	gt_buf_release(&eout);
	return rc;
}

static json_t *loopback_conf(void)
{
	return json_pack("{s:s, s:s, s:s}", "cniVersion", CNI_VERSION, "name", NET_NAME "-lo",
			 "type", "loopback");
}

static json_t *bridge_conf(const struct gt_net_config *c)
{
	GT_AUTOFREE char *dir = xasprintf("%s/ipam", c->state_dir);

	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:{s:s, s:[[{s:s}]], s:[{s:s}], s:s}}",
			 "cniVersion", CNI_VERSION, "name", NET_NAME, "type", "bridge",
			 "bridge", c->bridge, "isGateway", 1, "ipMasq", 0, "hairpinMode", 1,
			 "ipam", "type", "host-local", "ranges", "subnet", c->subnet,
			 "routes", "dst", "0.0.0.0/0", "dataDir", dir);
}

static json_t *portmap_conf(const json_t *mappings)
{
	return json_pack("{s:s, s:s, s:s, s:{s:b}, s:{s:O}}", "cniVersion", CNI_VERSION,
			 "name", NET_NAME, "type", "portmap", "capabilities", "portMappings", 1,
			 "runtimeConfig", "portMappings", mappings);
}

static bool has_space(const char *s)
{
	return strpbrk(s, " \t\r\n#") != NULL;
}

/* Kubernetes ports → CNI portMappings (only entries with a hostPort). */
static int port_mappings(const json_t *ports, json_t **out, struct gt_err *err)
{
	json_t *m = json_array(), *p;
	size_t i;

	*out = m;
	if (!ports)
		return 0;
	if (!json_is_array(ports))
		return gt_err_set(err, -EINVAL, "host ports: not an array");
	json_array_foreach(ports, i, p) {
		int64_t hp = 0, cp = 0;
		const char *proto = gt_json_str(p, "protocol"), *hip = gt_json_str(p, "hostIP");
		char lp[8] = "tcp";

		if (gt_json_int(p, "hostPort", &hp) < 0 || hp == 0)
			continue;
		if (hp < 1 || hp > 65535 || gt_json_int(p, "containerPort", &cp) < 0 || cp < 1 ||
		    cp > 65535)
			return gt_err_set(err, -EINVAL, "host ports[%zu]: invalid port", i);
		if (proto) {
			size_t n = strlen(proto);

			if (n >= sizeof(lp) || (strcasecmp(proto, "TCP") && strcasecmp(proto, "UDP") &&
			    strcasecmp(proto, "SCTP")))
				return gt_err_set(err, -EINVAL, "host ports[%zu].protocol: unsupported value \"%s\"",
						  i, proto);
			for (size_t k = 0; k <= n; k++)
				lp[k] = (char)((proto[k] >= 'A' && proto[k] <= 'Z') ? proto[k] + 32 : proto[k]);
		}
		/* the wildcard means "every address", which portmap spells "" */
		if (hip && (!strcmp(hip, "0.0.0.0") || !strcmp(hip, "::")))
			hip = "";
		if (hip && has_space(hip))
			return gt_err_set(err, -EINVAL, "host ports[%zu].hostIP: invalid value", i);
		json_array_append_new(m, json_pack("{s:I, s:I, s:s, s:s}", "hostPort", (json_int_t)hp,
						   "containerPort", (json_int_t)cp, "protocol", lp,
						   "hostIP", hip ? hip : ""));
	}
	return 0;
}

static char *cache_path(const struct gt_net_config *c, const char *id)
{
	return xasprintf("%s/results/%s.json", c->state_dir, id);
}

static json_t *cache_read(const struct gt_net_config *c, const char *id)
{
	GT_AUTOFREE char *path = cache_path(c, id);
	GT_AUTOFREE char *data = NULL;
	json_t *v = NULL;
	size_t len;

	if (gt_read_file(path, &data, &len) < 0 || gt_json_parse(data, len, &v, NULL) < 0)
		return NULL;
	return v;
}

static int cache_write(const struct gt_net_config *c, const char *id, const json_t *v,
		       struct gt_err *err)
{
	GT_AUTOFREE char *dir = xasprintf("%s/results", c->state_dir);
	GT_AUTOFREE char *path = cache_path(c, id);
	GT_AUTOFREE char *data = NULL;
	size_t len;
	int rc = gt_mkdir_p(dir, 0700);

	if (rc == 0) {
		data = gt_json_dump(v, &len);
		rc = gt_write_file_atomic(path, data, len, 0600);
	}
	if (rc < 0)
		return gt_err_set(err, rc, "CNI result cache %s: %s", path, strerror(-rc));
	return 0;
}

/* The first IPv4 address of a CNI result, without its prefix length. */
static int result_ip(const json_t *res, char ip[64])
{
	json_t *ips = json_object_get(res, "ips"), *e;
	size_t i;

	json_array_foreach(ips, i, e) {
		const char *a = gt_json_str(e, "address");
		size_t n;

		if (!a || strchr(a, ':'))
			continue;
		n = strcspn(a, "/");
		if (n == 0 || n >= 64)
			continue;
		memcpy(ip, a, n);
		ip[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

/*
 * A bridge whose ports all went away takes the MAC 00:00:00:00:00:00, and
 * the bridge plugin (1.1) then fails every ADD with "could not set bridge's
 * mac: invalid argument" (it re-applies the MAC it read).  That happens
 * when the bridge's very first ADD failed before the plugin pinned its MAC.
 * Give such a bridge a random locally administered MAC first.
 */
static void fix_bridge_mac(const char *bridge)
{
	GT_AUTOFREE char *path = xasprintf("/sys/class/net/%s/address", bridge);
	GT_AUTOFREE char *mac = NULL;
	struct ifreq ifr;
	size_t len;
	int fd;

	if (strlen(bridge) >= IFNAMSIZ || gt_read_file(path, &mac, &len) < 0 ||
	    strncmp(mac, "00:00:00:00:00:00", 17))
		return;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, bridge, strlen(bridge));
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	gt_random_bytes(ifr.ifr_hwaddr.sa_data, 6);
	ifr.ifr_hwaddr.sa_data[0] = (char)((ifr.ifr_hwaddr.sa_data[0] & 0xfe) | 0x02);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (ioctl(fd, SIOCSIFHWADDR, &ifr) < 0)
			gt_debug("network: %s: set MAC: %s", bridge, strerror(errno));
		close(fd);
	}
}

/* ---- ipMasq rules left behind by a DEL that could not enter the netns ---- */

/* Splits one `iptables -S` line into words, honouring "..." with \-escapes. */
static int split_words(const char *s, char **w, int max)
{
	int n = 0;

	while (*s && n < max) {
		struct gt_buf b = GT_BUF_INIT;

		while (*s == ' ')
			s++;
		if (!*s)
			break;
		gt_buf_init(&b);
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				gt_buf_addc(&b, *s);
			}
			if (*s)
				s++;
		} else {
			while (*s && *s != ' ')
				gt_buf_addc(&b, *s++);
		}
		w[n++] = gt_buf_detach(&b, NULL);
	}
	return n;
}

static int iptables(char **args, int nargs, struct gt_buf *out)
{
	char *argv[48];
	struct gt_buf eout = GT_BUF_INIT;
	int status = 0, rc, n = 0;

	argv[n++] = (char *)"iptables";
	argv[n++] = (char *)"-w";
	argv[n++] = (char *)"-t";
	argv[n++] = (char *)"nat";
	for (int i = 0; i < nargs && n < 47; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	rc = gt_child_run("iptables", argv, environ, true, NULL, 0, PLUGIN_TIMEOUT_MS, out, &eout,
		       &status);
	gt_buf_release(&eout);
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		rc = -EIO;
	return rc;
}

static void masq_cleanup(const char *id)
{
	struct gt_buf out = GT_BUF_INIT;
	GT_AUTOFREE char *needle = xasprintf("name: \\\"%s\\\" id: \\\"%s\\\"", NET_NAME, id);
	char *list[] = { (char *)"-S", (char *)"POSTROUTING" };

	if (iptables(list, 2, &out) < 0) {
		gt_buf_release(&out);
		return;
	}
	for (char *line = out.data, *nl; line && *line; line = nl) {
		char *w[40];
		int n;
		const char *chain = NULL;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		if (strncmp(line, "-A POSTROUTING ", 15) || !strstr(line, needle))
			continue;
		n = split_words(line, w, 40);
		w[0][1] = 'D';
		for (int i = 2; i + 1 < n; i++)
			if (!strcmp(w[i], "-j"))
				chain = w[i + 1];
		if (iptables(w, n, NULL) == 0 && chain && !strncmp(chain, "CNI-", 4)) {
			char *fl[] = { (char *)"-F", (char *)chain }, *xl[] = { (char *)"-X", (char *)chain };

			iptables(fl, 2, NULL);
			iptables(xl, 2, NULL);
			gt_debug("network: removed leftover masquerade chain %s of %s", chain, id);
		}
		for (int i = 0; i < n; i++)
			free(w[i]);
	}
	gt_buf_release(&out);
}

/* ---- one masquerade rule per pod network ---- */

/*
 * The bridge plugin's ipMasq adds a chain and two rules per pod (three
 * iptables runs, ~20 ms of each pod's start); one rule for the whole
 * subnet does the same job: traffic from pods to anything outside the pod
 * network leaves with the host's address.
 */
static void masq_args(const struct gt_net_config *c, const char *op, char **w, char *comment,
		      size_t n)
{
	snprintf(comment, n, "gantry pod network %s", c->bridge);
	w[0] = (char *)op;
	w[1] = (char *)"POSTROUTING";
	w[2] = (char *)"-s";
	w[3] = (char *)c->subnet;
	w[4] = (char *)"!";
	w[5] = (char *)"-d";
	w[6] = (char *)c->subnet;
	w[7] = (char *)"-m";
	w[8] = (char *)"comment";
	w[9] = (char *)"--comment";
	w[10] = comment;
	w[11] = (char *)"-j";
	w[12] = (char *)"MASQUERADE";
}

/* Networks whose rule this process has checked ("bridge subnet"). */
static pthread_mutex_t masq_lock = PTHREAD_MUTEX_INITIALIZER;
static char **masq_done;
static size_t masq_n, masq_cap;

int gt_net_masq_ensure(const struct gt_net_config *c, struct gt_err *err)
{
	GT_AUTOFREE char *key = xasprintf("%s %s", c->bridge, c->subnet);
	char *w[13], comment[64];
	int rc = 0;

	pthread_mutex_lock(&masq_lock);
	for (size_t i = 0; i < masq_n; i++)
		if (!strcmp(masq_done[i], key))
			goto out;
	masq_args(c, "-C", w, comment, sizeof(comment));
	if (iptables(w, 13, NULL) < 0) {
		w[0] = (char *)"-A";
		rc = iptables(w, 13, NULL);
		if (rc < 0) {
			rc = gt_err_set(err, rc, "iptables: cannot add the masquerade rule for pod "
					"network %s (is iptables installed? scripts/deps.sh installs it)",
					c->subnet);
			goto out;
		}
	}
	gt_grow((void **)&masq_done, &masq_cap, masq_n + 1, sizeof(*masq_done));
	masq_done[masq_n++] = xstrdup(key);
out:
	pthread_mutex_unlock(&masq_lock);
	return rc;
}

void gt_net_masq_remove(const struct gt_net_config *c)
{
	char *w[13], comment[64];

	masq_args(c, "-D", w, comment, sizeof(comment));
	while (iptables(w, 13, NULL) == 0)
		;
	pthread_mutex_lock(&masq_lock);
	for (size_t i = 0; i < masq_n; i++) {
		GT_AUTOFREE char *key = xasprintf("%s %s", c->bridge, c->subnet);

		if (!strcmp(masq_done[i], key)) {
			free(masq_done[i]);
			masq_done[i] = masq_done[--masq_n];
			break;
		}
	}
	pthread_mutex_unlock(&masq_lock);
}

/* ---- setup / teardown ---- */

int gt_net_teardown(const struct gt_net_config *c, const char *pod_id, const char *netns_path,
		    struct gt_err *err)
{
	GT_AUTOJSON json_t *cache = NULL, *lo = NULL, *br = NULL, *pm = NULL;
	GT_AUTOFREE char *path = NULL;
	struct gt_err e2;
	json_t *prev, *maps;
	const char *ns;
	int64_t cino;
	ino_t ino;
	int rc = 0, r;

	if (!valid_id(pod_id))
		return gt_err_set(err, -EINVAL, "pod id \"%s\": invalid CNI container id", pod_id ? pod_id : "");
	cache = cache_read(c, pod_id);
	ns = netns_path ? netns_path : gt_json_str(cache, "netns");
	/* A different namespace at the cached path (a new sandbox) is not the
	 * one the plugins configured: treat the old one as gone. */
	if (ns && (!is_netns(ns, &ino) ||
		   (gt_json_int(cache, "netnsIno", &cino) == 0 && (ino_t)cino != ino)))
		ns = NULL;
	prev = json_object_get(cache, "result");
	maps = json_object_get(cache, "portMappings");

	gt_err_clear(&e2);
	/* portmap's DEL removes the pod's chains by container id but does
	 * nothing without mappings: give it a placeholder when none are
	 * cached, so that rules of a pod whose cache was lost still go. */
	if (json_array_size(maps)) {
		pm = portmap_conf(maps);
	} else {
		GT_AUTOJSON json_t *ph = json_pack("[{s:i, s:i, s:s}]", "hostPort", 1,
						   "containerPort", 1, "protocol", "tcp");

		pm = portmap_conf(ph);
	}
	if (prev)
		json_object_set(pm, "prevResult", prev);
	r = cni_exec(c, "DEL", pod_id, ns, "eth0", pm, NULL, rc ? &e2 : err);
	rc = rc ? rc : r;
	br = bridge_conf(c);
	if (prev)
		json_object_set(br, "prevResult", prev);
	r = cni_exec(c, "DEL", pod_id, ns, "eth0", br, NULL, rc ? &e2 : err);
	rc = rc ? rc : r;
	lo = loopback_conf();
	r = cni_exec(c, "DEL", pod_id, ns, "lo", lo, NULL, rc ? &e2 : err);
	rc = rc ? rc : r;
	if (!ns)
		masq_cleanup(pod_id);
	if (rc == 0) {
		path = cache_path(c, pod_id);
		if (unlink(path) < 0 && errno != ENOENT)
			rc = gt_err_set(err, -errno, "%s: %s", path, strerror(errno));
	}
	return rc;
}

int gt_net_setup(const struct gt_net_config *c, const char *pod_id, const char *netns_path,
		 const json_t *host_ports, char ip[64], struct gt_err *err)
{
	GT_AUTOJSON json_t *cache = NULL, *maps = NULL, *lo = NULL, *br = NULL, *pm = NULL;
	GT_AUTOJSON json_t *r_lo = NULL, *r_br = NULL, *r_pm = NULL;
	GT_AUTOFREE char *ipam = NULL;
	json_t *final;
	ino_t ino;
	int rc;

	if (!valid_id(pod_id))
		return gt_err_set(err, -EINVAL, "pod id \"%s\": invalid CNI container id", pod_id ? pod_id : "");
	if (!is_netns(netns_path, &ino))
		return gt_err_set(err, -EINVAL, "%s: not a network namespace", netns_path);
	rc = port_mappings(host_ports, &maps, err);
	if (rc < 0)
		return rc;
	cache = cache_read(c, pod_id);
	if (cache) {
		const char *cip = gt_json_str(cache, "ip"), *cns = gt_json_str(cache, "netns");
		int64_t cino = 0;

		gt_json_int(cache, "netnsIno", &cino);
		if (cip && cns && !strcmp(cns, netns_path) && (ino_t)cino == ino &&
		    strlen(cip) < 64 && gt_json_equal(json_object_get(cache, "portMappings"), maps)) {
			memcpy(ip, cip, strlen(cip) + 1);
			return 0;
		}
		rc = gt_net_teardown(c, pod_id, NULL, err);
		if (rc < 0)
			return gt_err_prefix(err, rc, "stale network of pod %s", pod_id);
		json_decref(cache);
	}
	ipam = xasprintf("%s/ipam", c->state_dir);
	rc = gt_mkdir_p(ipam, 0700);
	if (rc < 0)
		return gt_err_set(err, rc, "%s: %s", ipam, strerror(-rc));

	/* Recorded before ADD so that a crash in the middle still lets DEL
	 * find the port mappings. */
	cache = json_pack("{s:s, s:s, s:I, s:O}", "podId", pod_id, "netns", netns_path,
			  "netnsIno", (json_int_t)ino, "portMappings", maps);
	rc = cache_write(c, pod_id, cache, err);
	if (rc < 0)
		return rc;

	lo = loopback_conf();
	rc = cni_exec(c, "ADD", pod_id, netns_path, "lo", lo, &r_lo, err);
	if (rc < 0)
		goto fail;
	br = bridge_conf(c);
	fix_bridge_mac(c->bridge);
	rc = cni_exec(c, "ADD", pod_id, netns_path, "eth0", br, &r_br, err);
	if (rc < 0)
		goto fail;
	rc = gt_net_masq_ensure(c, err);
	if (rc < 0)
		goto fail;
	final = r_br;
	if (json_array_size(maps)) {
		pm = portmap_conf(maps);
		json_object_set(pm, "prevResult", r_br);
		rc = cni_exec(c, "ADD", pod_id, netns_path, "eth0", pm, &r_pm, err);
		if (rc < 0)
			goto fail;
		if (r_pm)
			final = r_pm;
	}
	if (!final || result_ip(final, ip) < 0) {
		rc = gt_err_set(err, -EIO, "CNI plugin bridge ADD: no IPv4 address in the result");
		goto fail;
	}
	json_object_set(cache, "result", final);
	json_object_set_new(cache, "ip", json_string(ip));
	rc = cache_write(c, pod_id, cache, err);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	/* Roll back what ADD did; keep the ADD error. */
	{
		struct gt_err e2;

		if (r_br && !json_object_get(cache, "result")) {
			json_object_set(cache, "result", r_pm ? r_pm : r_br);
			cache_write(c, pod_id, cache, NULL);
		}
		if (gt_net_teardown(c, pod_id, netns_path, &e2) < 0)
			gt_debug("network: rollback of pod %s: %s", pod_id, e2.msg);
	}
	return rc;
}
