/*
 * proxy.h - kube-proxy's job in the agent: Services' virtual addresses
 * (ClusterIP, NodePort) turned into iptables NAT rules that spread new
 * connections over the ready endpoints of the Service's EndpointSlices.
 *
 * Every chain an agent owns is named "GT<tag>-..." where <tag> is four hex
 * digits of a hash of its bridge name, so several agents on one machine
 * (each with its own bridge) never touch each other's rules:
 *   nat    GT<tag>-SERVICES   jumped to from PREROUTING and OUTPUT:
 *                             "-d CLUSTERIP -p PROTO --dport PORT -> GT<tag>-S-<hash>"
 *                             and, last, "dst-type LOCAL -> GT<tag>-NODEPORTS"
 *          GT<tag>-NODEPORTS  "--dport NODEPORT -> GT<tag>-S-<hash>"
 *          GT<tag>-S-<hash>   one per service port: picks an endpoint
 *                             (-m statistic --mode random, 1/n, 1/(n-1)...)
 *          GT<tag>-E-<hash>   one per endpoint: marks 0x4000 and DNATs
 *          GT<tag>-POST       jumped to from POSTROUTING: MASQUERADE marked
 *                             packets (so replies come back through the host
 *                             without br_netfilter, hairpin included)
 *   filter GT<tag>-REJECT     jumped to from FORWARD and OUTPUT: a service
 *                             port without ready endpoints is refused (TCP
 *                             reset / ICMP port unreachable), not black-holed
 * The rules are replaced as a whole with one `iptables-restore --noflush`
 * (atomic per table); chains that are no longer needed are deleted in the
 * same run.
 */
#ifndef GT_AGENT_PROXY_H
#define GT_AGENT_PROXY_H

#include "base/err.h"
#include "base/util.h"
#include "codec/json.h"

/* The 4-hex-digit tag of bridge's chains. */
void gt_proxy_tag(const char *bridge, char tag[5]);

/*
 * The iptables-restore input for services (object "ns/name" -> Service)
 * and slices (object "ns/name" -> array of that Service's EndpointSlices).
 * chains (an array) gets the name of every chain the text declares; stale
 * (may be NULL: an array of chain names declared by an earlier call) are
 * flushed and deleted in the same text.  Pure: no system calls.
 */
void gt_proxy_render(const char *tag, const json_t *services, const json_t *slices,
		     const json_t *stale, json_t *chains, struct gt_buf *out);

/* Applies text with iptables-restore --noflush (after installing the jump
 * rules when missing). */
int gt_proxy_apply(const char *tag, const char *text, size_t len, struct gt_err *err);

/* Names of the chains of tag that exist now (nat and filter). */
json_t *gt_proxy_existing(const char *tag);

/* Removes tag's jump rules and chains (agent reset). */
void gt_proxy_remove(const char *tag);

#endif
