/*
 * fuzz_httphead.c - libFuzzer harness for what the CLI's WebSocket dialer
 * parses (http/tlsconn.c): the server URL (gt_url_split) and the response
 * head (gt_http_head_status, gt_http_head_value).  Byte 0 picks the mode
 * and the output buffer sizes; the rest is the text.  Checks beyond "no
 * crash": outputs are NUL-terminated within their buffers, a status is a
 * 3-digit code, a port is all digits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/tlsconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol",
					     "Content-Length", "a", "" };
	char *text, out[300], host[300], port[16];
	size_t cap;
	bool tls;

	if (size < 1)
		return 0;
	cap = (size_t)(data[0] >> 1) % sizeof(out) + 1; /* 1..300 */
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] & 1) {
		int st = gt_http_head_status(text);

		if (st >= 0 && (st < 100 || st > 999))
			__builtin_trap();
		for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
			memset(out, 'X', sizeof(out));
			if (gt_http_head_value(text, names[i], out, cap) &&
			    !memchr(out, '\0', cap))
				__builtin_trap();
		}
	} else {
		size_t hs = cap < sizeof(host) ? cap : sizeof(host);

		memset(host, 'X', sizeof(host));
		memset(port, 'X', sizeof(port));
		if (gt_url_split(text, &tls, host, hs, port, sizeof(port), NULL) == 0) {
			if (!memchr(host, '\0', hs) || !memchr(port, '\0', sizeof(port)) || !host[0] ||
			    !port[0] || strspn(port, "0123456789") != strlen(port))
				__builtin_trap();
		}
	}
	free(text);
	return 0;
}
