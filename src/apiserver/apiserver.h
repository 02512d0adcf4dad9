/*
 * apiserver.h - the Kubernetes-compatible API server: routing, discovery,
 * the verbs over the store, watches, reviews, and the in-process client the
 * controllers use (gt_api_* in ops.h) so that local components get exactly
 * the semantics remote clients get.
 */
#ifndef GT_APISERVER_APISERVER_H
#define GT_APISERVER_APISERVER_H

#include "base/err.h"
#include "http/server.h"
#include "store/store.h"

struct gt_api;

struct gt_api_config {
	struct gt_store *store;   /* borrowed; must outlive the api */
	const char *token;        /* admin bearer token */
	const char *server_url;   /* for /api serverAddressByClientCIDRs */
	size_t max_body;          /* request body limit (bytes) */
	/* tolerationSeconds of the not-ready / unreachable NoExecute
	 * tolerations pods get by default (0: 300) */
	int64_t not_ready_toleration_s, unreachable_toleration_s;
};

int gt_api_new(const struct gt_api_config *cfg, struct gt_api **out, struct gt_err *err);

/*
 * A node agent in the API server's own process (gantry server's embedded
 * one).  Port-forward streams to its pods connect straight to the pod's
 * port: the bytes skip the agent's HTTP stream and its TCP hop.
 * pf_dial connects to 127.0.0.1:port in the pod's network namespace:
 * 0 and *fd; -ENOENT when the pod does not run there; another negative
 * errno (with err's message) when the connection failed.
 */
struct gt_api_local_agent {
	char node[254];
	void *ctx;
	int (*pf_dial)(void *ctx, const char *ns, const char *pod, int port, int *fd,
		       struct gt_err *err);
};

/* Sets (copied) or, with NULL, clears the in-process agent; clearing waits
 * for dials in flight, so the agent may be stopped right after. */
void gt_api_set_local_agent(struct gt_api *api, const struct gt_api_local_agent *la);
/* The HTTP handler to plug into gt_http_start (ctx = the api). */
void gt_api_handle(struct gt_http_req *req, void *ctx);
/* Wakes all watch streams so they end (call before gt_http_stop). */
void gt_api_shutdown(struct gt_api *api);
void gt_api_free(struct gt_api *api);

#endif
