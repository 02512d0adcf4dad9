/*
 * agentconn.c - opens an exec or port-forward stream to the node agent that
 * runs a pod: finds the node's agent endpoint, sends the upgrade request
 * and checks for 101.  The stream then speaks http/chanframe.h.  Also the
 * agent's base URL for plain requests (logs, resource metrics).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apiserver/agentconn.h"
#include "apiserver/internal.h"

static int endpoint(struct gt_api *api, const char *node, struct sockaddr_in *sa, struct gt_err *err)
{
	struct gt_obj *n = NULL;
	const char *ep;
	char host[64];
	int port;

	if (gt_api_get(api, gt_registry_find("", "v1", "nodes"), "", node, &n, NULL) < 0)
		return gt_err_set(err, -ENOENT, "node \"%s\" not found", node);
	ep = json_string_value(json_object_get(gt_json_path(n->obj, "metadata.annotations"),
					       GT_AGENT_ENDPOINT_ANNOTATION));
	if (!ep || sscanf(ep, "%63[^:]:%d", host, &port) != 2 || port <= 0 || port > 65535) {
		gt_obj_unref(n);
		return gt_err_set(err, -EIO, "node %s publishes no agent endpoint", node);
	}
	gt_obj_unref(n);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return gt_err_set(err, -EIO, "node %s: bad agent endpoint %s", node, ep);
	return 0;
}

int gt_agent_url(const json_t *node, char *url, size_t n)
{
	const char *addr = json_string_value(json_object_get(gt_json_path(node, "metadata.annotations"),
							     GT_AGENT_ENDPOINT_ANNOTATION));
	int64_t port = 0;
	const json_t *a;
	size_t i;

	if (addr) {
		snprintf(url, n, "http://%s", addr);
		return 0;
	}
	json_array_foreach(gt_json_path(node, "status.addresses"), i, a)
		if (!strcmp(gt_json_str(a, "type") ?: "", "InternalIP"))
			addr = gt_json_str(a, "address");
	gt_json_int(node, "status.daemonEndpoints.kubeletEndpoint.Port", &port);
	if (!addr || port <= 0)
		return -ENOENT;
	snprintf(url, n, "http://%s:%lld", addr, (long long)port);
	return 0;
}

int gt_agent_dial(struct gt_api *api, const char *node, const char *path, int *fd_out,
		  struct gt_buf *leftover, struct gt_err *err)
{
	struct sockaddr_in sa;
	struct gt_buf b = GT_BUF_INIT;
	char *req, *end;
	int fd, r, status = 0;

	if ((r = endpoint(api, node, &sa, err)) < 0)
		return r;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return gt_err_set(err, r, "cannot reach the agent of node %s: %s", node, strerror(-r));
	}
	{
		int one = 1;

		/* interactive streams: every frame goes out at once */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	req = xasprintf("GET %s HTTP/1.1\r\nHost: agent\r\nConnection: Upgrade\r\n"
			"Upgrade: gantry-stream\r\nAuthorization: Bearer %s\r\n\r\n",
			path, api->token ? api->token : "");
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		free(req);
		close(fd);
		return gt_err_set(err, -EIO, "cannot talk to the agent of node %s", node);
	}
	free(req);
	gt_buf_init(&b);
	while (!(end = strstr(b.data, "\r\n\r\n"))) {
		char tmp[4096];
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n <= 0 || b.len > 65536) {
			close(fd);
			gt_buf_release(&b);
			return gt_err_set(err, -EIO, "the agent of node %s closed the stream", node);
		}
		gt_buf_add(&b, tmp, (size_t)n);
	}
	sscanf(b.data, "HTTP/1.%*d %d", &status);
	if (status != 101) {
		/* the agent's error text follows (Content-Length bodies are short) */
		const char *body = end + 4;
		char msg[512];

		snprintf(msg, sizeof(msg), "%.*s", (int)(b.len - (size_t)(body - b.data)), body);
		close(fd);
		gt_buf_release(&b);
		return gt_err_set(err, status == 404 ? -ENOENT : -EINVAL, "%s",
				  msg[0] ? msg : "the agent refused the stream");
	}
	gt_buf_reset(leftover);
	gt_buf_add(leftover, end + 4, b.len - (size_t)(end + 4 - b.data));
	gt_buf_release(&b);
	*fd_out = fd;
	return 0;
}
