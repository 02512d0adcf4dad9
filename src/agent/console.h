/*
 * console.h - the pseudo-terminal of a container with `tty: true`.
 *
 * The OCI runtime creates the terminal inside the container (the process
 * gets it as its controlling terminal) and hands the master side over a
 * unix socket (`runc create --console-socket`).  The shim keeps the master:
 * what the container prints goes to its log, what `kubectl attach` types
 * arrives through the stdin FIFO, and window sizes through the resize FIFO
 * ("<cols> <rows>\n" lines) beside the bundle.
 */
#ifndef GT_AGENT_CONSOLE_H
#define GT_AGENT_CONSOLE_H

#include <stddef.h>

struct gt_console_sock {
	int fd;          /* listening socket */
	int dirfd;       /* the directory, open while the socket is in use */
	char path[128];  /* what to pass as --console-socket */
	char file[4200]; /* the socket file, removed by _close */
};

/*
 * Listens on dir/console.sock.  The path given to the runtime goes through
 * /proc/<pid>/fd/<dirfd>/ so it stays short (sun_path holds 108 bytes).
 * Returns 0 or a negative errno.
 */
int gt_console_listen(const char *dir, struct gt_console_sock *cs);
/* Accepts the runtime's connection and receives the master fd (or -errno). */
int gt_console_receive(struct gt_console_sock *cs, int timeout_ms);
void gt_console_close(struct gt_console_sock *cs);

/*
 * Applies the complete "<cols> <rows>\n" lines in buf[0..*len) to the
 * terminal master, keeps an unterminated rest at the front of buf and
 * updates *len.  Bad lines are skipped.
 */
void gt_console_resize_feed(int master, char *buf, size_t *len);

#endif
