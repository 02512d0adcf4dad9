/*
 * rsh.c - `gantry rsh [ssh options] HOST COMMAND...` (also run as "rsh",
 * the link GT_RSH_PATH inside pods): the rsh agent of MPI launchers.  It
 * hands HOST, the command and its own stdin/stdout/stderr to the node
 * agent's socket ($GANTRY_RSH_SOCKET, default GT_RSH_SOCKET) and exits with
 * the remote command's status; see agent/rsh.c.  ssh's options are
 * accepted and ignored (launchers pass "-o ConnectionAttempts=10", "-x").
 * Errors of its own exit 255, as ssh's do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
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

int gt_cmd_rsh(int argc, char **argv)
{
	const char *sock = getenv("GANTRY_RSH_SOCKET") ?: GT_RSH_SOCKET;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fds[3] = { 0, 1, 2 }, i = 1, fd, code = 255;
	char cbuf[CMSG_SPACE(sizeof(fds))], *msg, buf[4096];
	json_t *req, *cmd, *rep = NULL;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	size_t len;
	ssize_t n;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: gantry rsh [ssh options] HOST COMMAND...\n\n"
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
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(buf, sizeof(buf), "cannot reach the node agent at %s: %s", sock, strerror(errno));
		free(msg);
		return fail(buf);
	}
	iov.iov_base = msg;
	iov.iov_len = len;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
		free(msg);
		return fail("cannot send the request");
	}
	free(msg);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0 || gt_json_parse(buf, (size_t)n, &rep, NULL) < 0)
		return fail("the node agent did not answer");
	if (gt_json_str(rep, "error"))
		fail(gt_json_str(rep, "error"));
	else if (json_is_integer(json_object_get(rep, "exitCode")))
		code = (int)json_integer_value(json_object_get(rep, "exitCode"));
	json_decref(rep);
	close(fd);
	return code;
}
