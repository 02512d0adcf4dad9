/*
 * test_chanframe.c - unit tests for the internal channel framing between
 * the API server and node agents (http/chanframe.c): frames written with
 * one gather write each, read back whole through a real socket pair (also
 * when the kernel splits them), a truncated or oversized frame, and
 * gt_writev_all's short writes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/chanframe.h"
#include "t.h"

struct rec {
	int fd;
	int calls;      /* writes made */
	int max_iov;    /* pieces in the largest one */
};

static int rec_writev(void *ctx, const struct iovec *iov, int n)
{
	struct rec *r = ctx;

	r->calls++;
	if (n > r->max_iov)
		r->max_iov = n;
	return gt_writev_all(r->fd, iov, n);
}

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
	ssize_t k = read(*(int *)ctx, buf, n);

	return k < 0 ? -errno : k;
}

/* Frames of these sizes are written by a thread (the big ones outgrow the
 * socket buffer) and read back on this one. */
static const size_t SIZES[] = { 0, 1, 600, 65536, GT_CHAN_BULK, GT_CHAN_MAX_FRAME };
#define NSIZES (sizeof(SIZES) / sizeof(SIZES[0]))

struct writer {
	struct rec r;
	int rc;
};

static unsigned char pattern(size_t i, size_t k)
{
	return (unsigned char)(i * 131 + k * 7);
}

static void *write_all_sizes(void *arg)
{
	struct writer *w = arg;
	unsigned char *p = malloc(GT_CHAN_MAX_FRAME);

	w->rc = 0;
	for (size_t k = 0; k < NSIZES && w->rc == 0; k++) {
		for (size_t i = 0; i < SIZES[k]; i++)
			p[i] = pattern(i, k);
		w->rc = gt_chan_write(rec_writev, &w->r, (int)(k + 1), p, SIZES[k]);
	}
	free(p);
	shutdown(w->r.fd, SHUT_WR);
	return NULL;
}

TEST(round_trip)
{
	int sv[2];
	struct writer w = { { 0 }, 0 };
	struct gt_buf b = GT_BUF_INIT;
	pthread_t t;
	int ch;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	w.r.fd = sv[0];
	pthread_create(&t, NULL, write_all_sizes, &w);
	gt_buf_init(&b);
	for (size_t k = 0; k < NSIZES; k++) {
		bool same = true;

		CHECK_INT(gt_chan_read(fd_read, &sv[1], &ch, &b), 1);
		CHECK_INT(ch, k + 1);
		CHECK_INT(b.len, SIZES[k]);
		for (size_t i = 0; i < b.len && same; i++)
			same = (unsigned char)b.data[i] == pattern(i, k);
		CHECK(same);
		CHECK_INT(b.data[b.len], 0);
	}
	CHECK_INT(gt_chan_read(fd_read, &sv[1], &ch, &b), 0); /* clean EOF */
	pthread_join(t, NULL);
	CHECK_INT(w.rc, 0);
	/* one gather write per frame: the header never goes out alone */
	CHECK_INT(w.r.calls, NSIZES);
	CHECK_INT(w.r.max_iov, 2);
	gt_buf_release(&b);
	close(sv[0]);
	close(sv[1]);
}

TEST(bad_frames)
{
	int sv[2];
	struct gt_buf b = GT_BUF_INIT;
	unsigned char big[5] = { 1, 0x00, 0x10, 0x00, 0x01 };   /* 1 MiB + 1 */
	unsigned char cut[8] = { 1, 0, 0, 0, 10, 'a', 'b', 'c' }; /* 10 said, 3 sent */
	struct rec r = { 0 };
	char p[8] = { 0 };
	int ch;

	gt_buf_init(&b);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[0], big, sizeof(big)) == sizeof(big));
	CHECK_INT(gt_chan_read(fd_read, &sv[1], &ch, &b), -EPROTO);
	close(sv[0]);
	close(sv[1]);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[0], cut, sizeof(cut)) == sizeof(cut));
	shutdown(sv[0], SHUT_WR);
	CHECK_INT(gt_chan_read(fd_read, &sv[1], &ch, &b), -EPROTO);
	/* a header cut short is a protocol error too, not a clean end */
	close(sv[0]);
	close(sv[1]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[0], cut, 3) == 3);
	shutdown(sv[0], SHUT_WR);
	CHECK_INT(gt_chan_read(fd_read, &sv[1], &ch, &b), -EPROTO);

	/* the writer refuses what the reader would refuse */
	r.fd = sv[0];
	CHECK_INT(gt_chan_write(rec_writev, &r, 1, p, GT_CHAN_MAX_FRAME + 1), -EMSGSIZE);
	CHECK_INT(r.calls, 0);
	close(sv[0]);
	close(sv[1]);
	gt_buf_release(&b);
}

struct drain {
	int fd;
	size_t got;
	unsigned sum;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	unsigned char buf[1000];
	ssize_t k;

	/* small reads: the writer sees many short writes */
	while ((k = read(d->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < k; i++)
			d->sum = d->sum * 31 + buf[i];
		d->got += (size_t)k;
		usleep(50);
	}
	return NULL;
}

TEST(writev_all_short_writes)
{
	int sv[2], small = 4096;
	size_t n = 3 * 100000 + 7;
	unsigned char *a = malloc(100000), *c = malloc(200007);
	unsigned char hdr[3] = { 9, 8, 7 };
	struct iovec iov[3] = { { hdr, 3 }, { a, 100000 }, { c, 200007 - 3 } };
	struct drain d = { 0 };
	unsigned sum = 0;
	pthread_t t;

	for (size_t i = 0; i < 100000; i++)
		a[i] = (unsigned char)(i * 13);
	for (size_t i = 0; i < 200007; i++)
		c[i] = (unsigned char)(i * 17 + 1);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	d.fd = sv[1];
	pthread_create(&t, NULL, drain_main, &d);
	CHECK_INT(gt_writev_all(sv[0], iov, 3), 0);
	close(sv[0]);
	pthread_join(t, NULL);
	n = 3 + 100000 + 200007 - 3;
	CHECK_INT(d.got, n);
	for (int v = 0; v < 3; v++)
		for (size_t i = 0; i < iov[v].iov_len; i++)
			sum = sum * 31 + ((unsigned char *)iov[v].iov_base)[i];
	CHECK_INT(d.sum, sum);
	/* a closed peer: an error, not a signal */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[1]);
	CHECK_INT(gt_writev_all(sv[0], iov, 1), -EPIPE);
	CHECK_INT(gt_writev_all(sv[0], iov, 9), -EINVAL);
	close(sv[0]);
	free(a);
	free(c);
}

int main(void)
{
	RUN(round_trip);
	RUN(bad_frames);
	RUN(writev_all_short_writes);
	return t_done();
}
