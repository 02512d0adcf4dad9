/*
 * test_services.c - the agent's service pieces that need no system: the
 * DNS codec (agent/dnsmsg.c) and the proxy's rule rendering (agent/proxy.c).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dnsmsg.h"
#include "agent/proxy.h"
#include "t.h"

static enum gt_dns_result lookup(void *ctx, const char *name, uint32_t *ips, int max, int *n)
{
	(void)ctx;
	*n = 0;
	if (!strcmp(name, "web.default.svc.cluster.local")) {
		ips[(*n)++] = inet_addr("10.96.0.2");
		return GT_DNS_FOUND;
	}
	if (!strcmp(name, "many.default.svc.cluster.local")) {
		for (int i = 0; i < 40 && i < max; i++)
			ips[(*n)++] = htonl(0x0a000000u + (uint32_t)i);
		return GT_DNS_FOUND;
	}
	if (strstr(name, "cluster.local"))
		return GT_DNS_NXDOMAIN;
	return GT_DNS_REFUSED;
}

/* A query for name (type qtype), with an EDNS OPT of size edns when > 0. */
static size_t query(uint8_t *b, const char *name, int qtype, int edns)
{
	size_t o = 12;
	const char *p = name;

	memset(b, 0, 12);
	b[0] = 0xab;
	b[1] = 0xcd;
	b[2] = 0x01; /* RD */
	b[5] = 1;
	b[11] = edns > 0;
	while (*p) {
		size_t l = strcspn(p, ".");

		b[o++] = (uint8_t)l;
		memcpy(b + o, p, l);
		o += l;
		p += l + (p[l] == '.');
	}
	b[o++] = 0;
	b[o++] = 0;
	b[o++] = (uint8_t)qtype;
	b[o++] = 0;
	b[o++] = 1;
	if (edns > 0) {
		uint8_t opt[11] = { 0, 0, 41, (uint8_t)(edns >> 8), (uint8_t)edns, 0, 0, 0, 0, 0, 0 };

		memcpy(b + o, opt, 11);
		o += 11;
	}
	return o;
}

static int ancount(const uint8_t *a)
{
	return a[6] << 8 | a[7];
}

TEST(dns_answers_a_records)
{
	uint8_t q[512], a[4096];
	size_t ql = query(q, "Web.Default.svc.cluster.local", 1, 0);
	size_t al = gt_dns_answer(q, ql, a, sizeof(a), 512, 5, lookup, NULL);

	CHECK_INT(al, ql + 16);
	CHECK(a[0] == 0xab && a[1] == 0xcd);
	CHECK(a[2] & 0x80);           /* response */
	CHECK(a[2] & 0x04);           /* authoritative */
	CHECK(a[2] & 0x01);           /* RD echoed */
	CHECK_INT(a[3] & 0xf, 0);
	CHECK_INT(ancount(a), 1);
	CHECK(!memcmp(a + 12, q + 12, ql - 12)); /* the question as asked (case kept) */
	CHECK(a[ql] == 0xc0 && a[ql + 1] == 12); /* name: pointer to the question */
	CHECK_INT(a[ql + 9], 5);                  /* TTL */
	CHECK(!memcmp(a + ql + 12, (uint8_t[]){ 10, 96, 0, 2 }, 4));
}

TEST(dns_rcodes)
{
	uint8_t q[512], a[4096];
	size_t ql, al;

	ql = query(q, "nothere.default.svc.cluster.local", 1, 0);
	al = gt_dns_answer(q, ql, a, sizeof(a), 512, 5, lookup, NULL);
	CHECK_INT(a[3] & 0xf, 3); /* NXDOMAIN */
	CHECK_INT(ancount(a), 0);
	CHECK_INT(al, ql);
	ql = query(q, "example.com", 1, 0);
	gt_dns_answer(q, ql, a, sizeof(a), 512, 5, lookup, NULL);
	CHECK_INT(a[3] & 0xf, 5); /* REFUSED: the resolver asks the next server */
	CHECK(!(a[2] & 0x04));
	ql = query(q, "web.default.svc.cluster.local", 28, 0);
	gt_dns_answer(q, ql, a, sizeof(a), 512, 5, lookup, NULL);
	CHECK_INT(a[3] & 0xf, 0); /* AAAA of a name that exists: no data */
	CHECK_INT(ancount(a), 0);
	/* two questions: FORMERR; opcode 2: NOTIMP; a response: no answer */
	ql = query(q, "web.default.svc.cluster.local", 1, 0);
	q[5] = 2;
	gt_dns_answer(q, ql, a, sizeof(a), 512, 5, lookup, NULL);
	CHECK_INT(a[3] & 0xf, 1);
	q[5] = 1;
	q[2] = 0x10;
	gt_dns_answer(q, ql, a, sizeof(a), 512, 5, lookup, NULL);
	CHECK_INT(a[3] & 0xf, 4);
	q[2] = 0x81;
	CHECK_INT(gt_dns_answer(q, ql, a, sizeof(a), 512, 5, lookup, NULL), 0);
	CHECK_INT(gt_dns_answer(q, 5, a, sizeof(a), 512, 5, lookup, NULL), 0);
	/* a name cut short */
	ql = query(q, "web.default.svc.cluster.local", 1, 0);
	gt_dns_answer(q, 20, a, sizeof(a), 512, 5, lookup, NULL);
	CHECK_INT(a[3] & 0xf, 1);
}

TEST(dns_truncates_to_the_udp_limit)
{
	uint8_t q[512], a[4096];
	size_t ql = query(q, "many.default.svc.cluster.local", 1, 0), al;

	al = gt_dns_answer(q, ql, a, sizeof(a), 512, 5, lookup, NULL);
	CHECK(al <= 512);
	CHECK(a[2] & 0x02); /* TC */
	CHECK_INT(ancount(a), (512 - ql) / 16);
	/* over TCP everything fits */
	al = gt_dns_answer(q, ql, a, sizeof(a), 0, 5, lookup, NULL);
	CHECK(!(a[2] & 0x02));
	CHECK_INT(ancount(a), 40);
	CHECK_INT(al, ql + 40 * 16);
	/* EDNS raises the UDP limit; the answer carries an OPT record */
	ql = query(q, "many.default.svc.cluster.local", 1, 1232);
	al = gt_dns_answer(q, ql, a, sizeof(a), 512, 5, lookup, NULL);
	CHECK(!(a[2] & 0x02));
	CHECK_INT(ancount(a), 40);
	CHECK_INT(a[11], 1);
	CHECK_INT(al, ql + 40 * 16);
}

static json_t *slice(const char *svc, int port, const char *ips[], const bool ready[], int n)
{
	json_t *eps = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(eps, json_pack("{s:[s],s:{s:b}}", "addresses", ips[i],
						     "conditions", "ready", ready[i]));
	return json_pack("{s:{s:s,s:s,s:{s:s}},s:s,s:o,s:[{s:s,s:i,s:s}]}", "metadata", "name",
			 "x", "namespace", "ns", "labels", "kubernetes.io/service-name", svc,
			 "addressType", "IPv4", "endpoints", eps, "ports", "name", "web", "port", port,
			 "protocol", "TCP");
}

TEST(proxy_rules)
{
	const char *ips[] = { "10.1.0.2", "10.1.0.3", "10.1.0.4" };
	const bool ready[] = { true, true, false };
	json_t *svcs = json_pack(
		"{s:{s:{s:s,s:s},s:{s:s,s:s,s:[{s:s,s:i,s:s,s:i}]}},"
		" s:{s:{s:s,s:s},s:{s:s,s:[{s:s,s:i}]}},"
		" s:{s:{s:s,s:s},s:{s:s,s:[{s:s,s:i}]}}}",
		"ns/web", "metadata", "namespace", "ns", "name", "web", "spec", "clusterIP",
		"10.96.0.5", "type", "NodePort", "ports", "name", "web", "port", 80, "protocol", "TCP",
		"nodePort", 30080,
		"ns/db", "metadata", "namespace", "ns", "name", "db", "spec", "clusterIP", "None",
		"ports", "name", "web", "port", 5432,
		"ns/empty", "metadata", "namespace", "ns", "name", "empty", "spec", "clusterIP",
		"10.96.0.6", "ports", "name", "web", "port", 81);
	json_t *slices = json_pack("{s:[o],s:[o]}", "ns/web", slice("web", 8080, ips, ready, 3),
				   "ns/db", slice("db", 5432, ips, ready, 1));
	json_t *chains = json_array(), *stale = json_pack("[s,s]", "GTabcd-S-000000000001",
							   "GTabcd-SERVICES");
	struct gt_buf out = GT_BUF_INIT;

	gt_buf_init(&out);
	gt_proxy_render("abcd", svcs, slices, stale, chains, &out);
	CHECK(strstr(out.data, "-A GTabcd-SERVICES -d 10.96.0.5/32 -p tcp -m tcp --dport 80 "));
	CHECK(strstr(out.data, "-A GTabcd-NODEPORTS -p tcp -m tcp --dport 30080 "));
	/* two ready endpoints: 1/2 then the rest; the not-ready one is left out */
	CHECK(strstr(out.data, "--probability 0.5000000000"));
	CHECK(strstr(out.data, "DNAT --to-destination 10.1.0.2:8080"));
	CHECK(strstr(out.data, "DNAT --to-destination 10.1.0.3:8080"));
	CHECK(!strstr(out.data, "10.1.0.4"));
	/* headless: no rules; no endpoints: refused in the filter table */
	CHECK(!strstr(out.data, "5432"));
	CHECK(strstr(out.data, "*filter\n:GTabcd-REJECT - [0:0]\n-A GTabcd-REJECT -d 10.96.0.6/32 "
			       "-p tcp -m tcp --dport 81 "));
	/* the stale chain goes, the one still declared stays */
	CHECK(strstr(out.data, "-X GTabcd-S-000000000001\n"));
	CHECK(!strstr(out.data, "-X GTabcd-SERVICES"));
	CHECK(strstr(out.data, "-A GTabcd-POST -m mark --mark 0x4000/0x4000 -j MASQUERADE"));
	/* SERVICES, NODEPORTS, POST, one S-, two E- and REJECT */
	CHECK_INT(json_array_size(chains), 7);
	{
		char t1[5], t2[5];

		gt_proxy_tag("gantry0", t1);
		gt_proxy_tag("gantry1", t2);
		CHECK_INT(strlen(t1), 4);
		CHECK(strcmp(t1, t2));
	}
	gt_buf_release(&out);
	json_decref(svcs);
	json_decref(slices);
	json_decref(chains);
	json_decref(stale);
}

int main(void)
{
	RUN(dns_answers_a_records);
	RUN(dns_rcodes);
	RUN(dns_truncates_to_the_udp_limit);
	RUN(proxy_rules);
	return t_done();
}
