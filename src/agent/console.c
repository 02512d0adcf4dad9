/*
 * console.c - container terminals (see console.h).
 */
#include "agent/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int gt_console_listen(const char *dir, struct gt_console_sock *cs)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	cs->dirfd = -1;
	cs->fd = -1;
	snprintf(cs->file, sizeof(cs->file), "%s/console.sock", dir);
	unlink(cs->file);
	cs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cs->dirfd < 0)
		return -errno;
	snprintf(cs->path, sizeof(cs->path), "/proc/%d/fd/%d/console.sock", (int)getpid(), cs->dirfd);
	if (strlen(cs->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, cs->path, strlen(cs->path) + 1);
	cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cs->fd < 0)
		return -errno;
	if (bind(cs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(cs->fd, 1) < 0) {
		r = -errno;
		close(cs->fd);
		cs->fd = -1;
		return r;
	}
	return 0;
}

int gt_console_receive(struct gt_console_sock *cs, int timeout_ms)
{
	struct pollfd p = { .fd = cs->fd, .events = POLLIN };
	char data[4096], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	int conn, fd = -EPROTO;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	conn = accept4(cs->fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return -errno;
	if (recvmsg(conn, &m, MSG_CMSG_CLOEXEC) < 0) {
		fd = -errno;
	} else {
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
	}
	close(conn);
	return fd;
}

void gt_console_close(struct gt_console_sock *cs)
{
	if (cs->fd >= 0)
		close(cs->fd);
	cs->fd = -1;
	if (cs->file[0])
		unlink(cs->file);
	if (cs->dirfd >= 0)
		close(cs->dirfd);
	cs->dirfd = -1;
}

void gt_console_resize_feed(int master, char *buf, size_t *len)
{
	size_t start = 0;

	for (size_t i = 0; i < *len; i++) {
		char line[32], *end;
		size_t n = i - start;
		long cols, rows;

		if (buf[i] != '\n')
			continue;
		if (n < sizeof(line)) {
			memcpy(line, buf + start, n);
			line[n] = '\0';
			cols = strtol(line, &end, 10);
			rows = *end == ' ' ? strtol(end + 1, &end, 10) : 0;
			if (!*end && cols > 0 && cols < 10000 && rows > 0 && rows < 10000) {
				struct winsize ws = { .ws_row = (unsigned short)rows,
						      .ws_col = (unsigned short)cols };

				ioctl(master, TIOCSWINSZ, &ws);
			}
		}
		start = i + 1;
	}
	memmove(buf, buf + start, *len - start);
	*len -= start;
	if (*len >= 64) /* no line is that long: drop the junk */
		*len = 0;
}
