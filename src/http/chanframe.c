/*
 * chanframe.c - the internal channel framing (see chanframe.h).
 */
#include "http/chanframe.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int gt_chan_write(gt_chan_writev_fn w, void *ctx, int ch, const void *data, size_t len)
{
	unsigned char h[5];
	struct iovec iov[2] = { { h, 5 }, { (void *)data, len } };

	if (len > GT_CHAN_MAX_FRAME)
		return -EMSGSIZE;
	h[0] = (unsigned char)ch;
	h[1] = (unsigned char)(len >> 24);
	h[2] = (unsigned char)(len >> 16);
	h[3] = (unsigned char)(len >> 8);
	h[4] = (unsigned char)len;
	/* header and payload in one write: no header-then-payload pair for
	 * Nagle to hold back, one syscall per frame */
	return w(ctx, iov, len ? 2 : 1);
}

int gt_writev_all(int fd, const struct iovec *iov, int iovcnt)
{
	struct iovec v[8];
	int n = iovcnt;

	if (n < 0 || n > 8)
		return -EINVAL;
	memcpy(v, iov, sizeof(*v) * (size_t)n);
	for (int i = 0; i < n;) {
		struct msghdr m = { .msg_iov = v + i, .msg_iovlen = (size_t)(n - i) };
		ssize_t k = sendmsg(fd, &m, MSG_NOSIGNAL);

		if (k < 0 && errno == ENOTSOCK)
			k = writev(fd, v + i, n - i);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPIPE;
		while (i < n && (size_t)k >= v[i].iov_len) {
			k -= (ssize_t)v[i].iov_len;
			i++;
		}
		if (i < n) {
			v[i].iov_base = (char *)v[i].iov_base + k;
			v[i].iov_len -= (size_t)k;
		}
	}
	return 0;
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
		gt_buf_reserve(payload, len);
		rc = read_full(r, ctx, payload->data, len);
		if (rc <= 0)
			return rc < 0 ? rc : -EPROTO;
		payload->len = len;
		payload->data[len] = 0;
	}
	return 1;
}
