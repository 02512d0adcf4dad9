/*
 * tlsio.c - GnuTLS transport functions with a read-ahead and gathered bulk
 * writes (tlsio.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http/chanframe.h"
#include "http/tlsio.h"

#define RB_SIZE (256 * 1024)
#define GATHER_MIN (32 * 1024)   /* writes larger than this are gathered */
#define GATHER_MAX (256 * 1024)  /* gathered records are sent at this size */

static int send_all(int fd, const void *buf, size_t n)
{
	struct iovec v = { (void *)buf, n };

	return n ? gt_writev_all(fd, &v, 1) : 0;
}

static ssize_t io_pull(gnutls_transport_ptr_t p, void *buf, size_t n)
{
	struct gt_tlsio *io = p;
	ssize_t r;

	if (io->rpos == io->rlen) {
		do
			r = recv(io->fd, io->rb, RB_SIZE, 0);
		while (r < 0 && errno == EINTR);
		if (r <= 0) {
			if (r < 0)
				gnutls_transport_set_errno(io->session, errno);
			return r;
		}
		io->rpos = 0;
		io->rlen = (size_t)r;
	}
	if (n > io->rlen - io->rpos)
		n = io->rlen - io->rpos;
	memcpy(buf, io->rb + io->rpos, n);
	io->rpos += n;
	return (ssize_t)n;
}

static int io_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct gt_tlsio *io = p;
	struct pollfd pfd = { .fd = io->fd, .events = POLLIN };
	int r;

	if (io->rpos < io->rlen)
		return 1;
	do
		r = poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
	while (r < 0 && errno == EINTR);
	return r;
}

static ssize_t io_push(gnutls_transport_ptr_t p, const void *buf, size_t n)
{
	struct gt_tlsio *io = p;
	int r;

	/* the reader's thread may send too (a TLS 1.3 key update): only the
	 * gathering writer's records are gathered */
	if (io->gather && pthread_equal(io->writer, pthread_self())) {
		gt_buf_add(&io->wb, buf, n);
		if (io->wb.len >= GATHER_MAX) {
			r = send_all(io->fd, io->wb.data, io->wb.len);
			gt_buf_reset(&io->wb);
			if (r < 0) {
				gnutls_transport_set_errno(io->session, -r);
				return -1;
			}
		}
		return (ssize_t)n;
	}
	if ((r = send_all(io->fd, buf, n)) < 0) {
		gnutls_transport_set_errno(io->session, -r);
		return -1;
	}
	return (ssize_t)n;
}

void gt_tlsio_attach(struct gt_tlsio *io, gnutls_session_t session, int fd)
{
	memset(io, 0, sizeof(*io));
	io->session = session;
	io->fd = fd;
	io->rb = xmalloc(RB_SIZE);
	gt_buf_init(&io->wb);
	gnutls_transport_set_ptr(session, io);
	gnutls_transport_set_pull_function(session, io_pull);
	gnutls_transport_set_pull_timeout_function(session, io_pull_timeout);
	gnutls_transport_set_push_function(session, io_push);
}

/* Plain socket I/O for a detached session (its pointer is the fd). */
static ssize_t fd_pull(gnutls_transport_ptr_t p, void *buf, size_t n)
{
	return recv((int)(intptr_t)p, buf, n, 0);
}

static ssize_t fd_push(gnutls_transport_ptr_t p, const void *buf, size_t n)
{
	return send((int)(intptr_t)p, buf, n, MSG_NOSIGNAL);
}

void gt_tlsio_detach(struct gt_tlsio *io)
{
	if (!io->rb)
		return;
	gnutls_transport_set_int(io->session, io->fd);
	gnutls_transport_set_pull_function(io->session, fd_pull);
	gnutls_transport_set_pull_timeout_function(io->session, gnutls_system_recv_timeout);
	gnutls_transport_set_push_function(io->session, fd_push);
	free(io->rb);
	io->rb = NULL;
	gt_buf_release(&io->wb);
}

bool gt_tlsio_pending(const struct gt_tlsio *io)
{
	return io->rpos < io->rlen || gnutls_record_check_pending(io->session) > 0;
}

int gt_tlsio_write(struct gt_tlsio *io, const void *buf, size_t n)
{
	const char *p = buf;
	int rc = 0;

	if (n > GATHER_MIN) {
		io->writer = pthread_self();
		io->gather = true;
	}
	while (n) {
		ssize_t r = gnutls_record_send(io->session, p, n);

		if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN)
			continue;
		if (r < 0) {
			rc = -EPIPE;
			break;
		}
		p += r;
		n -= (size_t)r;
	}
	if (io->gather) {
		io->gather = false;
		if (rc == 0 && io->wb.len && send_all(io->fd, io->wb.data, io->wb.len) < 0)
			rc = -EPIPE;
		gt_buf_reset(&io->wb);
	}
	return rc;
}

ssize_t gt_tlsio_read(struct gt_tlsio *io, void *buf, size_t n)
{
	ssize_t r;

	do
		r = gnutls_record_recv(io->session, buf, n);
	while (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN);
	if (r >= 0)
		return r;
	/* no close_notify (a killed peer) is an end too */
	return r == GNUTLS_E_PREMATURE_TERMINATION ? 0 : -ECONNRESET;
}
