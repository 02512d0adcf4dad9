/*
 * agentconn.h - streams from the API server to node agents (exec,
 * port-forward), framed as http/chanframe.h.
 */
#ifndef GT_APISERVER_AGENTCONN_H
#define GT_APISERVER_AGENTCONN_H

#include "base/err.h"
#include "base/util.h"
#include "codec/json.h"

struct gt_api;

/*
 * Connects to the agent of `node` and upgrades GET `path` (with its query)
 * to a channel stream.  On success *fd is the socket (caller closes) and
 * leftover holds bytes that arrived behind the 101 (read them first).
 * Errors carry the agent's message (e.g. `container not found ("c")`).
 */
int gt_agent_dial(struct gt_api *api, const char *node, const char *path, int *fd,
		  struct gt_buf *leftover, struct gt_err *err);

/*
 * The base URL ("http://host:port") of the agent endpoint of a Node
 * object: the address the agent publishes (GT_AGENT_ENDPOINT_ANNOTATION,
 * possibly loopback only), else its InternalIP and kubelet port.
 * -ENOENT when the node publishes neither (e.g. a simulated node).
 */
int gt_agent_url(const json_t *node, char *url, size_t n);

#endif
