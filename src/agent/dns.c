/*
 * dns.c - the node-local cluster DNS server: UDP and TCP on the pod
 * network's gateway address, answers from gt_svc_lookup (see svc.h).
 * One thread per transport; TCP connections are served one at a time with
 * a 2 s read timeout (resolvers use TCP only after a truncated answer).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/svc.h"
#include "base/log.h"

#define TTL 5
#define UDP_MAX 512

struct gt_dns {
	struct gt_svc *svc;
	int udp, tcp;
	_Atomic bool stop;
	pthread_t udp_thr, tcp_thr;
};

static int listen_on(const char *ip, int port, int type, struct gt_err *err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd, one = 1;

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return gt_err_set(err, -EINVAL, "DNS address \"%s\": not an IPv4 address", ip);
	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return gt_err_set(err, -errno, "DNS socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* the bridge gets the address only with its first pod */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		int e = errno;

		close(fd);
		return gt_err_set(err, -e, "DNS: cannot listen on %s:%d/%s: %s", ip, port,
				  type == SOCK_STREAM ? "tcp" : "udp", strerror(e));
	}
	return fd;
}

static bool wait_readable(struct gt_dns *d, int fd)
{
	while (!atomic_load(&d->stop)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 500) > 0)
			return true;
	}
	return false;
}

static void *udp_main(void *arg)
{
	struct gt_dns *d = arg;
	uint8_t q[4096], a[4096];

	while (wait_readable(d, d->udp)) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(d->udp, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		size_t len;

		if (n <= 0)
			continue;
		len = gt_dns_answer(q, (size_t)n, a, sizeof(a), UDP_MAX, TTL, gt_svc_lookup, d->svc);
		if (len)
			sendto(d->udp, a, len, MSG_DONTWAIT, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static bool read_full(int fd, uint8_t *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = read(fd, buf + off, n - off);

		if (r <= 0)
			return false;
		off += (size_t)r;
	}
	return true;
}

static void serve_tcp(struct gt_dns *d, int c)
{
	static _Thread_local uint8_t q[65535], a[65537];
	struct timeval tv = { .tv_sec = 2 };

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (!atomic_load(&d->stop)) {
		uint8_t hdr[2];
		size_t qlen, len;

		if (!read_full(c, hdr, 2))
			return;
		qlen = (size_t)hdr[0] << 8 | hdr[1];
		if (!read_full(c, q, qlen))
			return;
		len = gt_dns_answer(q, qlen, a + 2, sizeof(a) - 2, 0, TTL, gt_svc_lookup, d->svc);
		if (!len)
			return;
		a[0] = (uint8_t)(len >> 8);
		a[1] = (uint8_t)len;
		if (write(c, a, len + 2) != (ssize_t)(len + 2))
			return;
	}
}

static void *tcp_main(void *arg)
{
	struct gt_dns *d = arg;

	while (wait_readable(d, d->tcp)) {
		int c = accept4(d->tcp, NULL, NULL, SOCK_CLOEXEC); /* blocking, with timeouts */

		if (c < 0)
			continue;
		serve_tcp(d, c);
		close(c);
	}
	return NULL;
}

void gt_dns_stop(struct gt_dns *d)
{
	if (!d)
		return;
	atomic_store(&d->stop, true);
	if (d->udp_thr)
		pthread_join(d->udp_thr, NULL);
	if (d->tcp_thr)
		pthread_join(d->tcp_thr, NULL);
	if (d->udp >= 0)
		close(d->udp);
	if (d->tcp >= 0)
		close(d->tcp);
	free(d);
}

int gt_dns_start(struct gt_svc *s, const char *ip, int port, struct gt_dns **out,
		 struct gt_err *err)
{
	struct gt_dns *d = xcalloc(1, sizeof(*d));

	d->svc = s;
	d->udp = d->tcp = -1;
	if ((d->udp = listen_on(ip, port, SOCK_DGRAM, err)) < 0 ||
	    (d->tcp = listen_on(ip, port, SOCK_STREAM, err)) < 0) {
		int rc = d->udp < 0 ? d->udp : d->tcp;

		gt_dns_stop(d);
		return rc;
	}
	if (pthread_create(&d->udp_thr, NULL, udp_main, d) ||
	    pthread_create(&d->tcp_thr, NULL, tcp_main, d)) {
		gt_dns_stop(d);
		return gt_err_set(err, -EAGAIN, "cannot start the DNS server's threads");
	}
	gt_info("dns: serving the cluster's names on %s:%d", ip, port);
	*out = d;
	return 0;
}
