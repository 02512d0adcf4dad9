/*
 * dnsmsg.h - the DNS wire format for the agent's cluster DNS (RFC 1035,
 * EDNS0 per RFC 6891): one question in, one answer out.  Pure: no I/O.
 */
#ifndef GT_AGENT_DNSMSG_H
#define GT_AGENT_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#define GT_DNS_MAX_NAME 255
#define GT_DNS_TYPE_A 1
#define GT_DNS_TYPE_AAAA 28
#define GT_DNS_TYPE_ANY 255

/*
 * What the resolver callback says about a name (lower case, no trailing
 * dot): GT_DNS_FOUND with up to max IPv4 addresses (network order) in ips
 * and *n set (0 = the name exists without addresses), GT_DNS_NXDOMAIN for
 * a name in the zone that does not exist, GT_DNS_REFUSED for a name outside
 * it (so the stub resolver asks its next nameserver).
 */
enum gt_dns_result { GT_DNS_FOUND, GT_DNS_NXDOMAIN, GT_DNS_REFUSED };
typedef enum gt_dns_result (*gt_dns_lookup_fn)(void *ctx, const char *name, uint32_t *ips,
					       int max, int *n);

/*
 * Answers query q (qlen bytes) into out (cap bytes, at least 512): A
 * records (TTL ttl) for A/ANY questions, an empty answer for other types
 * of names that exist.  udp_max is the UDP payload limit (512, or the
 * query's EDNS size when larger, up to cap; 0 over TCP, where only cap
 * limits): a longer answer is cut to whole records and flagged TC.
 * Returns the answer's length, or 0 when q is not worth an answer (too
 * short to carry an id, or itself a response).  Malformed queries get
 * FORMERR, other opcodes NOTIMP.
 */
size_t gt_dns_answer(const uint8_t *q, size_t qlen, uint8_t *out, size_t cap, size_t udp_max,
		     uint32_t ttl, gt_dns_lookup_fn lookup, void *ctx);

#endif
