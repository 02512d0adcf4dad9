/*
 * network.h - the pod sandbox's network: a network namespace per pod,
 * wired up by the standard CNI plugins (Debian's containernetworking-plugins:
 * loopback, bridge with host-local IPAM, portmap), plus the pod's
 * /etc/hosts and /etc/resolv.conf.
 *
 * The plugin chain is fixed (Gantry does not read /etc/cni/net.d):
 *   loopback (CNI_IFNAME=lo, its own one-plugin network "gantry-lo")
 *   bridge   (CNI_IFNAME=eth0, network "gantry": host-local IPAM over
 *             c->subnet, isGateway, ipMasq, hairpinMode, default route)
 *   portmap  (only when the pod has host ports; runtimeConfig.portMappings,
 *             prevResult = the bridge's result)
 * Each plugin is run as a child process (CNI 1.0.0 protocol: CNI_* variables,
 * the config on stdin, the result on stdout) with a 30 s timeout.  The
 * result of a successful ADD is cached in STATE/results/<pod_id>.json so
 * that DEL can pass prevResult, including after an agent restart.
 *
 * Concurrency: every function is thread-safe; several pods may be set up
 * and torn down in parallel (host-local serialises its IPAM store with its
 * own file lock, iptables with -w).  Plugins are reaped with waitpid() on
 * their own pid: the agent must not set SIGCHLD to SIG_IGN nor reap with
 * waitpid(-1, ...).
 */
#ifndef GT_AGENT_NETWORK_H
#define GT_AGENT_NETWORK_H

#include "base/err.h"
#include "codec/json.h"

struct gt_net_config {
	const char *cni_bin_dir; /* where the plugins live, e.g. "/usr/lib/cni" */
	const char *bridge;      /* host bridge name, e.g. "gantry0" (<= 15 chars) */
	const char *subnet;      /* pod CIDR, e.g. "10.88.0.0/16" */
	const char *state_dir;   /* under the agent root: ipam/ (host-local dataDir)
	                          * and results/ (cached ADD results) */
};

/*
 * Creates a new network namespace and bind-mounts it on path (the file is
 * created, mode 0644).  A helper thread unshare()s the namespace and mounts
 * /proc/thread-self/ns/net, so the caller's own namespace never changes.
 * Idempotent: when path already holds a namespace mount, returns 0 and
 * leaves it alone.  Returns 0 or a negative errno with err set.
 */
int gt_netns_create(const char *path, struct gt_err *err);

/*
 * Unmounts (lazily) and removes the namespace file at path.  Succeeds when
 * path is absent or not a mount.  The namespace itself goes away once no
 * process lives in it.  Call gt_net_teardown() first: the bridge plugin
 * needs the namespace to find the pod's addresses (see gt_net_teardown for
 * what happens when it is already gone).
 */
int gt_netns_destroy(const char *path, struct gt_err *err);

/*
 * Connects the namespace at netns_path to the pod network: runs CNI ADD for
 * loopback, bridge and (when host_ports has an entry with a hostPort)
 * portmap.  host_ports is an array of Kubernetes ContainerPort-like objects
 * {containerPort, hostPort, protocol ("TCP"/"UDP"/"SCTP", default TCP),
 * hostIP} or NULL; entries without hostPort are skipped.  pod_id (the pod
 * UID) is the CNI container id: letters, digits, '_', '.', '-'.
 *
 * Idempotent: when a cached result exists for pod_id and names the same
 * namespace (same path and inode) its IP is returned without running the
 * plugins; a stale cache (a new namespace) is torn down first.  A failed
 * ADD is rolled back with DEL.  On success copies the pod IPv4 address
 * (no prefix length) into ip and returns 0; otherwise a negative errno with
 * err naming the plugin and its message.
 */
int gt_net_setup(const struct gt_net_config *c, const char *pod_id, const char *netns_path,
		 const json_t *host_ports, char ip[64], struct gt_err *err);

/*
 * Pods reach addresses outside the pod network through one MASQUERADE rule
 * per network (nat POSTROUTING, "-s SUBNET ! -d SUBNET", comment "gantry pod
 * network BRIDGE"), not the bridge plugin's per-pod chains.  _ensure adds
 * it when missing (checked once per process and network; gt_net_setup calls
 * it); _remove deletes it (node reset, with the bridge).
 */
int gt_net_masq_ensure(const struct gt_net_config *c, struct gt_err *err);
void gt_net_masq_remove(const struct gt_net_config *c);

/*
 * Disconnects the pod: CNI DEL for portmap, bridge and loopback (in that
 * order) with the cached prevResult, then drops the cache.  netns_path may
 * be NULL (the cached path is used) or no longer a namespace: the plugins
 * then run with an empty CNI_NETNS, which still releases the IP and the
 * port mappings, and the bridge's ipMasq rules (which its DEL only removes
 * when it can read the addresses inside the namespace) are removed here by
 * their "id: <pod_id>" comment.  Idempotent: tearing down an unknown pod
 * succeeds.  All steps run even when one fails; returns the first error.
 */
int gt_net_teardown(const struct gt_net_config *c, const char *pod_id, const char *netns_path,
		    struct gt_err *err);

/*
 * Writes dir/etc-hosts and dir/resolv.conf for pod (a Pod object; borrowed)
 * whose IP is ip (may be NULL or "" for hostNetwork pods).
 *
 * etc-hosts is the kubelet's managed file: localhost lines, then
 * "<ip>\t<hostname>.<subdomain>.<ns>.svc.cluster.local\t<hostname>" (the
 * FQDN only with spec.subdomain; hostname = spec.hostname or the pod name
 * cut to 63 characters), then spec.hostAliases.  hostNetwork pods get the
 * host's /etc/hosts plus their hostAliases.
 *
 * resolv.conf follows spec.dnsPolicy:
 *   ClusterFirst (default) and ClusterFirstWithHostNet: search
 *     <ns>.svc.cluster.local svc.cluster.local cluster.local + the host's
 *     search domains, options ndots:5, nameserver dns (the agent's cluster
 *     DNS, see svc.h) followed by the host's nameservers (the cluster DNS
 *     refuses names outside the cluster, and the resolver moves on);
 *   Default: the host's search, options and nameservers;
 *   None: only spec.dnsConfig.
 *   spec.dnsConfig (nameservers, searches, options) is merged in every case.
 *   A hostNetwork pod with ClusterFirst gets Default, as with the kubelet
 *   (the host's resolv.conf, loopback nameservers included).
 * With dns NULL, only the host's nameservers are written.  Loopback
 * nameservers (127.x, ::1, e.g. systemd-resolved's 127.0.0.53) are
 * unreachable from a pod's own namespace and are skipped; when none is
 * left, the upstream servers in /run/systemd/resolve/resolv.conf are used,
 * and failing that 8.8.8.8 and 8.8.4.4 (what Docker does).  At most 3
 * nameservers and 32 search domains are written, as the kubelet does.
 * Files are written atomically (mode 0644).  Returns 0 or a negative errno.
 */
int gt_net_write_etc(const char *dir, const json_t *pod, const char *ip, const char *dns,
		     struct gt_err *err);

/* The pod network's gateway (the bridge's address: subnet's first host),
 * e.g. "10.88.0.1" for "10.88.0.0/16"; 0 or -EINVAL. */
int gt_net_gateway(const char *subnet, char out[16]);

#endif
