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
/* The HTTP handler to plug into gt_http_start (ctx = the api). */
void gt_api_handle(struct gt_http_req *req, void *ctx);
/* Wakes all watch streams so they end (call before gt_http_stop). */
void gt_api_shutdown(struct gt_api *api);
void gt_api_free(struct gt_api *api);

#endif
