/*
 * child.c - runs a helper program (CNI plugins, iptables) and collects its
 * output; see child.h.
 */
#include "agent/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"

int gt_child_run(const char *path, char *const argv[], char *const envp[], bool search,
		     const char *in, size_t inlen, int timeout_ms, struct gt_buf *out,
		     struct gt_buf *errout, int *status)
{
	int insk[2], outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, rc = 0;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	static const int dflsigs[] = { SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT,
				       SIGUSR1, SIGUSR2, SIGALRM };
	pid_t pid;
	int64_t deadline = gt_now_ms() + timeout_ms;
	size_t off = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, insk) < 0)
		return -errno;
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out_fds;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, insk[1], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	for (size_t i = 0; i < GT_ARRAY_SIZE(dflsigs); i++)
		sigaddset(&dfl, dflsigs[i]);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = search ? posix_spawnp(&pid, path, &fa, &at, argv, envp)
		    : posix_spawn(&pid, path, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(insk[1]);
	close(outp[1]);
	close(errp[1]);
	insk[1] = outp[1] = errp[1] = -1;
	if (rc) {
		rc = -rc;
		goto out_fds;
	}
	fcntl(insk[0], F_SETFL, O_NONBLOCK);
	if (inlen == 0)
		shutdown(insk[0], SHUT_WR);
	while (outp[0] >= 0 || errp[0] >= 0) {
		struct pollfd pf[3];
		int n = 0, left = (int)(deadline - gt_now_ms());
		char chunk[4096];

		if (left <= 0) {
			kill(pid, SIGKILL);
			rc = -ETIMEDOUT;
			break;
		}
		if (off < inlen)
			pf[n++] = (struct pollfd){ .fd = insk[0], .events = POLLOUT };
		if (outp[0] >= 0)
			pf[n++] = (struct pollfd){ .fd = outp[0], .events = POLLIN };
		if (errp[0] >= 0)
			pf[n++] = (struct pollfd){ .fd = errp[0], .events = POLLIN };
		if (poll(pf, (nfds_t)n, left) < 0 && errno != EINTR) {
			kill(pid, SIGKILL);
			rc = -errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!pf[i].revents)
				continue;
			if (pf[i].fd == insk[0]) {
				ssize_t w = send(insk[0], in + off, inlen - off, MSG_NOSIGNAL);

				if (w > 0)
					off += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == inlen) {
					off = inlen;
					shutdown(insk[0], SHUT_WR);
				}
				continue;
			}
			ssize_t r = read(pf[i].fd, chunk, sizeof(chunk));

			if (r > 0) {
				gt_buf_add(pf[i].fd == outp[0] ? out : errout, chunk, (size_t)r);
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				if (pf[i].fd == outp[0]) {
					close(outp[0]);
					outp[0] = -1;
				} else {
					close(errp[0]);
					errp[0] = -1;
				}
			}
		}
	}
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			if (!rc)
				rc = -errno;
			break;
		}
	}
out_fds:
	for (int i = 0; i < 2; i++) {
		if (insk[i] >= 0)
			close(insk[i]);
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return rc;
}
