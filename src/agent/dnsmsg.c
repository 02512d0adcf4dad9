/*
 * dnsmsg.c - DNS query parsing and answers; see dnsmsg.h.
 */
#include "agent/dnsmsg.h"

#include <string.h>

#define HDR 12
#define MAX_ADDRS 64
#define TYPE_OPT 41
#define RCODE_FORMERR 1
#define RCODE_NXDOMAIN 3
#define RCODE_NOTIMP 4
#define RCODE_REFUSED 5

struct question {
	char name[GT_DNS_MAX_NAME + 1]; /* lower case, dotted, no trailing dot */
	size_t wire_len;                /* name + type + class, as received */
	uint16_t type, cls;
	int edns;                       /* -1: no OPT record; else its UDP size */
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Reads an uncompressed name at q[*off]; 0 or -1. */
static int read_name(const uint8_t *q, size_t qlen, size_t *off, char *name)
{
	size_t o = *off, n = 0;

	for (;;) {
		uint8_t l;

		if (o >= qlen)
			return -1;
		l = q[o++];
		if (!l)
			break;
		if (l & 0xc0 || o + l > qlen || n + l + 1 > GT_DNS_MAX_NAME)
			return -1; /* compression has no place in a question */
		if (n)
			name[n++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			char c = (char)q[o + i];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c == '.' || c == '\0')
				return -1;
			name[n++] = c;
		}
		o += l;
	}
	name[n] = '\0';
	*off = o;
	return 0;
}

/* Skips any resource record (names may be compressed); 0 or -1. */
static int skip_rr(const uint8_t *q, size_t qlen, size_t *off, uint16_t *type, uint16_t *cls)
{
	size_t o = *off;

	for (;;) {
		if (o >= qlen)
			return -1;
		if ((q[o] & 0xc0) == 0xc0) {
			o += 2;
			break;
		}
		if (q[o] & 0xc0)
			return -1;
		if (!q[o]) {
			o++;
			break;
		}
		o += 1 + q[o];
	}
	if (o + 10 > qlen)
		return -1;
	*type = get16(q + o);
	*cls = get16(q + o + 2);
	o += 10 + get16(q + o + 8);
	if (o > qlen)
		return -1;
	*off = o;
	return 0;
}

static int parse(const uint8_t *q, size_t qlen, struct question *qs)
{
	size_t off = HDR;
	uint16_t an = get16(q + 6), ns = get16(q + 8), ar = get16(q + 10);

	if (get16(q + 4) != 1)
		return -1;
	if (read_name(q, qlen, &off, qs->name) < 0 || off + 4 > qlen)
		return -1;
	qs->type = get16(q + off);
	qs->cls = get16(q + off + 2);
	off += 4;
	qs->wire_len = off - HDR;
	qs->edns = -1;
	for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
		uint16_t type, cls;

		if (skip_rr(q, qlen, &off, &type, &cls) < 0)
			return -1;
		if (type == TYPE_OPT && i >= (unsigned)an + ns)
			qs->edns = cls;
	}
	return 0;
}

static size_t header_only(const uint8_t *q, uint8_t *out, int rcode)
{
	memset(out, 0, HDR);
	memcpy(out, q, 2);
	out[2] = (uint8_t)(0x80 | (q[2] & 0x79)); /* QR, opcode, RD */
	out[3] = (uint8_t)rcode;
	return HDR;
}

size_t gt_dns_answer(const uint8_t *q, size_t qlen, uint8_t *out, size_t cap, size_t udp_max,
		     uint32_t ttl, gt_dns_lookup_fn lookup, void *ctx)
{
	struct question qs;
	uint32_t ips[MAX_ADDRS];
	int n = 0, rcode = 0, opcode;
	enum gt_dns_result res;
	size_t off, limit = cap, opt_len;
	uint16_t count = 0;

	if (qlen < HDR || cap < 512 || (q[2] & 0x80))
		return 0;
	opcode = (q[2] >> 3) & 0xf;
	if (opcode != 0)
		return header_only(q, out, RCODE_NOTIMP);
	if (qlen > 65535 || parse(q, qlen, &qs) < 0)
		return header_only(q, out, RCODE_FORMERR);
	if (udp_max) {
		limit = udp_max;
		if (qs.edns > (int)limit)
			limit = (size_t)qs.edns;
		if (limit > cap)
			limit = cap;
	}
	opt_len = qs.edns >= 0 ? 11 : 0;
	if (qs.cls != 1 && qs.cls != 255) {
		res = GT_DNS_REFUSED;
	} else {
		res = lookup(ctx, qs.name, ips, MAX_ADDRS, &n);
	}
	if (res == GT_DNS_REFUSED)
		rcode = RCODE_REFUSED;
	else if (res == GT_DNS_NXDOMAIN)
		rcode = RCODE_NXDOMAIN;
	if (qs.type != GT_DNS_TYPE_A && qs.type != GT_DNS_TYPE_ANY)
		n = 0;
	memcpy(out, q, 2);
	out[2] = (uint8_t)(0x80 | (q[2] & 0x79));
	if (res != GT_DNS_REFUSED)
		out[2] |= 0x04; /* authoritative for the cluster's zone */
	out[3] = (uint8_t)rcode;
	put16(out + 4, 1);
	memset(out + 6, 0, 6);
	memcpy(out + HDR, q + HDR, qs.wire_len);
	off = HDR + qs.wire_len;
	for (int i = 0; i < n && res == GT_DNS_FOUND; i++) {
		if (off + 16 + opt_len > limit) {
			out[2] |= 0x02; /* TC: the client retries over TCP */
			break;
		}
		put16(out + off, 0xc000 | HDR); /* the question's name */
		put16(out + off + 2, GT_DNS_TYPE_A);
		put16(out + off + 4, 1);
		put16(out + off + 6, (uint16_t)(ttl >> 16));
		put16(out + off + 8, (uint16_t)ttl);
		put16(out + off + 10, 4);
		memcpy(out + off + 12, &ips[i], 4);
		off += 16;
		count++;
	}
	put16(out + 6, count);
	if (opt_len) {
		/* our OPT: root name, type 41, UDP size 1232, no flags */
		memset(out + off, 0, 11);
		put16(out + off + 1, TYPE_OPT);
		put16(out + off + 3, 1232);
		off += 11;
		put16(out + 10, 1);
	}
	return off;
}
