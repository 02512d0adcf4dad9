/*
 * chanframe.c - the internal channel framing (see chanframe.h).
 */
#include "http/chanframe.h"

#include <errno.h>
#include <string.h>

int gt_chan_write(gt_chan_write_fn w, void *ctx, int ch, const void *data, size_t len)
{
	unsigned char h[5 + 512];
	int r;

	if (len > GT_CHAN_MAX_FRAME)
		return -EMSGSIZE;
	h[0] = (unsigned char)ch;
	h[1] = (unsigned char)(len >> 24);
	h[2] = (unsigned char)(len >> 16);
	h[3] = (unsigned char)(len >> 8);
	h[4] = (unsigned char)len;
	/* small frames (keystrokes, control) in one write: no header-then-
	 * payload pair for Nagle to hold back */
	if (len <= sizeof(h) - 5) {
		if (len)
			memcpy(h + 5, data, len);
		return w(ctx, h, 5 + len);
	}
	if ((r = w(ctx, h, 5)) < 0)
		return r;
	return w(ctx, data, len);
}

static int read_full(gt_chan_read_fn r, void *ctx, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = r(ctx, (char *)buf + got, n - got);

		if (k < 0)
			return (int)k;
		if (k == 0)
			return got ? -EPROTO : 0;
		got += (size_t)k;
	}
	return 1;
}

int gt_chan_read(gt_chan_read_fn r, void *ctx, int *ch, struct gt_buf *payload)
{
	unsigned char h[5];
	size_t len;
	int rc;

	gt_buf_reset(payload);
	rc = read_full(r, ctx, h, 5);
	if (rc <= 0)
		return rc;
	len = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
	if (len > GT_CHAN_MAX_FRAME)
		return -EPROTO;
	*ch = h[0];
	if (len) {
		char tmp[16384];
		size_t left = len;

		while (left) {
			size_t k = left < sizeof(tmp) ? left : sizeof(tmp);

			rc = read_full(r, ctx, tmp, k);
			if (rc <= 0)
				return rc < 0 ? rc : -EPROTO;
			gt_buf_add(payload, tmp, k);
			left -= k;
		}
	}
	return 1;
}
