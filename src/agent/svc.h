/*
 * svc.h - the agent's view of Services: two informers (all Services, all
 * EndpointSlices) feed one table that drives the service proxy (proxy.h:
 * iptables rules for ClusterIPs and NodePorts) and the node-local cluster
 * DNS server (dns.c).  Changes are applied at most every 100 ms, in one
 * iptables-restore run and one swap of the DNS table.
 *
 * DNS (the names CoreDNS's kubernetes plugin serves, TTL 5 s):
 *   SVC.NS.svc.DOMAIN            the ClusterIP; for a headless Service, the
 *                                addresses of its ready endpoints
 *   HOST.SVC.NS.svc.DOMAIN       an endpoint whose pod has hostname HOST and
 *                                subdomain SVC (StatefulSets)
 *   A-B-C-D.NS.pod.DOMAIN        A.B.C.D
 * It listens on UDP and TCP port 53 of the pod network's gateway address
 * (IP_FREEBIND: the bridge gets it with the first pod), answers names under
 * DOMAIN authoritatively (NXDOMAIN when unknown) and REFUSES the rest, so
 * a pod's resolver moves on to the host's nameservers listed after it.
 */
#ifndef GT_AGENT_SVC_H
#define GT_AGENT_SVC_H

#include "agent/dnsmsg.h"
#include "base/err.h"
#include "client/client.h"

struct gt_svc_config {
	struct gt_client *client;
	const char *bridge;  /* names this agent's iptables chains (proxy.h) */
	const char *dns_ip;  /* the DNS server's address; NULL: no DNS server */
	int dns_port;        /* 0: 53 */
	const char *domain;  /* NULL: "cluster.local" */
};

struct gt_svc;

int gt_svc_start(const struct gt_svc_config *cfg, struct gt_svc **out, struct gt_err *err);
void gt_svc_stop(struct gt_svc *s);

/* The DNS lookup over s's table (a gt_dns_lookup_fn, see dnsmsg.h). */
enum gt_dns_result gt_svc_lookup(void *ctx, const char *name, uint32_t *ips, int max, int *n);

/* DNS server side (dns.c): serves lookups of s on ip:port until stopped. */
struct gt_dns;
int gt_dns_start(struct gt_svc *s, const char *ip, int port, struct gt_dns **out,
		 struct gt_err *err);
void gt_dns_stop(struct gt_dns *d);

#endif
