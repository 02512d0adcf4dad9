/*
 * rsh.c - `gantry rsh [ssh options] HOST COMMAND...` (also run as "rsh",
 * the link GT_RSH_PATH inside pods): the rsh agent of MPI launchers.  It
 * hands HOST, the command and its own stdin/stdout/stderr to the node
 * agent's socket ($GANTRY_RSH_SOCKET, default GT_RSH_SOCKET) and exits with
 * the remote command's status; see agent/rsh.c.  ssh's options are
 * accepted and ignored (launchers pass "-o ConnectionAttempts=10", "-x").
 * A HOST not there or not running yet is tried again every 0.5 s for up to
 * $GANTRY_RSH_WAIT seconds (60), as ssh's ConnectionAttempts would.
 * Errors of its own exit 255, as ssh's do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "apiserver/ops.h"
#include "cli/cli.h"
#include "codec/json.h"

/* ssh options that take an argument */
static const char with_arg[] = "BbcDEeFIiJLlmOoPpQRSWw";

static int fail(const char *msg)
{
	fprintf(stderr, "rsh: %s\n", msg);
	return 255;
}

/* One request: sends it with the descriptors, waits for the answer. */
static int ask(const char *sock, const struct sockaddr_un *sa, char *msg, size_t len,
	       const int *fds, json_t **rep)
{
	char cbuf[CMSG_SPACE(3 * sizeof(int))], buf[4096];
	struct iovec iov = { msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		snprintf(buf, sizeof(buf), "cannot reach the node agent at %s: %s", sock,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return fail(buf), -1;
	}
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(3 * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, 3 * sizeof(int));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
		close(fd);
		return fail("cannot send the request"), -1;
	}
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0 || gt_json_parse(buf, (size_t)n, rep, NULL) < 0)
		return fail("the node agent did not answer"), -1;
	return 0;
}

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

int gt_cmd_rsh(int argc, char **argv)
{
	const char *sock = getenv("GANTRY_RSH_SOCKET") ?: GT_RSH_SOCKET;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fds[3] = { 0, 1, 2 }, i = 1, code;
	char *msg;
	json_t *req, *cmd, *rep = NULL;
	size_t len;
	long wait_s;

	if (argc > 1 && !strcmp(argv[1], "--wait")) {
		/* an MPI worker's process when it has none of its own: wait */
		signal(SIGTERM, on_term);
		signal(SIGINT, on_term);
		for (;;)
			pause();
	}
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: gantry rsh [ssh options] HOST COMMAND...\n"
		       "       gantry rsh --wait   (wait for SIGTERM: an idle MPI worker)\n\n"
		       "Runs COMMAND in the pod HOST names (a worker's FQDN or pod name) of the\n"
		       "calling pod's own job, through the node agent's socket\n"
		       "(GANTRY_RSH_SOCKET, default %s). Used as the rsh agent of MPI\n"
		       "launchers (OMPI_MCA_plm_rsh_agent=%s); ssh options are ignored.\n",
		       GT_RSH_SOCKET, GT_RSH_PATH);
		return 0;
	}
	while (i < argc && argv[i][0] == '-' && argv[i][1]) {
		bool takes = argv[i][2] == '\0' && strchr(with_arg, argv[i][1]);

		i += takes ? 2 : 1;
	}
	if (i + 1 >= argc)
		return fail("usage: rsh [ssh options] HOST COMMAND... (no interactive logins)");
	for (int k = 0; k < 3; k++)
		if (fcntl(k, F_GETFD) < 0)
			fds[k] = open("/dev/null", k ? O_WRONLY : O_RDONLY);
	if (strlen(sock) >= sizeof(sa.sun_path))
		return fail("socket path too long");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	cmd = json_array();
	for (int k = i + 1; k < argc; k++)
		json_array_append_new(cmd, json_string(argv[k]));
	req = json_pack("{s:s,s:o}", "host", argv[i], "command", cmd);
	msg = gt_json_dump(req, &len);
	json_decref(req);
	wait_s = strtol(getenv("GANTRY_RSH_WAIT") ?: "60", NULL, 10);
	for (long tries = 0;; tries++) {
		code = ask(sock, &sa, msg, len, fds, &rep);
		if (code < 0 || !json_is_true(json_object_get(rep, "retry")) || tries >= wait_s * 2)
			break;
		json_decref(rep);
		rep = NULL;
		usleep(500 * 1000);
	}
	free(msg);
	if (code < 0)
		return 255;
	code = 255;
	if (gt_json_str(rep, "error"))
		fail(gt_json_str(rep, "error"));
	else if (json_is_integer(json_object_get(rep, "exitCode")))
		code = (int)json_integer_value(json_object_get(rep, "exitCode"));
	json_decref(rep);
	return code;
}
