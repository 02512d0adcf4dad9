/*
 * fuzz_cron.c - libFuzzer harness for CronJob schedules (api/cron.c).
 * Beyond "no crash": a parsed schedule's next time is later than the
 * start and itself matches (the time after it is later still), and a
 * failed parse always leaves a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/cron.h"
#include "base/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct gt_cron c;
	char msg[256] = "";
	int64_t t0 = 1795000000, n1, n2;

	if (gt_cron_parse(s, &c, msg, sizeof(msg)) < 0) {
		if (!msg[0])
			__builtin_trap();
	} else {
		n1 = gt_cron_next(&c, t0);
		if (n1 >= 0) {
			n2 = gt_cron_next(&c, n1);
			if (n1 <= t0 || (n2 >= 0 && n2 <= n1)) {
				fprintf(stderr, "\"%s\": %lld then %lld\n", s, (long long)n1, (long long)n2);
				__builtin_trap();
			}
			if (!c.every && (n1 % 60 || n2 % 60))
				__builtin_trap();
		}
	}
	free(s);
	return 0;
}
