/*
 * tlsio.h - the socket under the GnuTLS session of a byte stream that may
 * carry bulk data (the CLI's connections, the API server's upgraded ones).
 * On its own GnuTLS reads each record's 5-byte header and then its body,
 * and sends each 16 KiB record with a sendmsg of its own.  Here reads go
 * through a 256 KiB read-ahead, and the records of a bulk write (over
 * 32 KiB) are gathered and leave in one send.
 *
 * Threads: one reader and one writer at a time, as GnuTLS allows.
 */
#ifndef GT_HTTP_TLSIO_H
#define GT_HTTP_TLSIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

#include "base/util.h"

struct gt_tlsio {
	gnutls_session_t session;
	int fd;
	unsigned char *rb;      /* ciphertext read ahead */
	size_t rpos, rlen;
	struct gt_buf wb;       /* the records of the bulk write in progress */
	pthread_t writer;       /* whose records wb gathers */
	_Atomic bool gather;
};

/* Puts io under session (before or after the handshake) on socket fd. */
void gt_tlsio_attach(struct gt_tlsio *io, gnutls_session_t session, int fd);
/* Gives the session back to plain socket reads and writes on its fd (for
 * a session someone else goes on using, e.g. to close it) and frees io's
 * buffers; ciphertext read ahead is dropped. */
void gt_tlsio_detach(struct gt_tlsio *io);
/* Bytes are waiting that poll() on the socket would not show. */
bool gt_tlsio_pending(const struct gt_tlsio *io);
/* Writes all of buf: 0 or -EPIPE. */
int gt_tlsio_write(struct gt_tlsio *io, const void *buf, size_t n);
/* Reads up to n bytes: > 0, 0 at the end (close_notify, or the peer
 * closed without one), or -ECONNRESET. */
ssize_t gt_tlsio_read(struct gt_tlsio *io, void *buf, size_t n);

#endif
