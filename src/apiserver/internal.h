/*
 * internal.h - state and helpers shared by the apiserver's files (not for
 * other modules).
 */
#ifndef GT_APISERVER_INTERNAL_H
#define GT_APISERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "apiserver/apiserver.h"
#include "apiserver/ops.h"
#include "http/server.h"

struct gt_api {
	struct gt_store *store;
	char *token;
	char *server_url;
	size_t max_body;
	_Atomic bool stopping;
	pthread_mutex_t alloc_lock;   /* Service IP and port allocation (svcalloc.c) */
	int64_t not_ready_tol_s;      /* DefaultTolerationSeconds admission */
	int64_t unreachable_tol_s;
	pthread_rwlock_t local_lock;  /* the in-process agent (gt_api_set_local_agent) */
	struct gt_api_local_agent local;
	bool has_local;
};

/* ---- Service allocations (svcalloc.c; caller holds api->alloc_lock) ---- */
int gt_svc_allocate(struct gt_api *api, json_t *svc, const json_t *old, struct gt_err *err);

/* A parsed resource URL. */
struct route {
	const struct gt_resource *res;  /* referenced; NULL for non-resource paths */
	char group[254], version[254];
	char ns[254];
	char name[254];
	char sub[254];                  /* subresource or "" */
	bool has_ns, has_name;
};

/* ---- responses (respond.c) ---- */
void gt_reply_json(struct gt_http_req *req, int status, const json_t *v);
/* Replies with serialised JSON already in a buffer (taken). */
void gt_reply_raw(struct gt_http_req *req, int status, char *json, size_t len);
/* A Kubernetes Status for err (code → HTTP status and reason). */
void gt_reply_error(struct gt_http_req *req, const struct gt_err *err,
		    const struct route *rt);
json_t *gt_status_object(const struct gt_err *err, const struct route *rt);
void gt_reply_errorf(struct gt_http_req *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A client for node's agent (logs.c). */
struct gt_client;
int gt_api_agent_client(struct gt_api *api, const char *nodename, struct gt_client **out,
			struct gt_err *err);

/* ---- handlers ---- */
void gt_handle_discovery(struct gt_api *api, struct gt_http_req *req, const char *path);
bool gt_is_discovery_path(const char *path);
void gt_handle_resource(struct gt_api *api, struct gt_http_req *req, struct route *rt);
void gt_handle_watch(struct gt_api *api, struct gt_http_req *req, struct route *rt);
void gt_handle_review(struct gt_api *api, struct gt_http_req *req, struct route *rt);
/* Write options from the query (dryRun, fieldManager, fieldValidation). */
void gt_request_write_opts(struct gt_http_req *req, struct gt_write_opts *o);
/* autoscaling/v1 HorizontalPodAutoscalers (hpa_v1.c): true when it answered. */
bool gt_handle_hpa_v1(struct gt_api *api, struct gt_http_req *req, struct route *rt);
/* metrics.k8s.io reads (metrics.c). */
void gt_handle_metrics(struct gt_api *api, struct gt_http_req *req, struct route *rt);
void gt_handle_pod_log(struct gt_api *api, struct gt_http_req *req, struct route *rt);
void gt_handle_pod_stream(struct gt_api *api, struct gt_http_req *req, struct route *rt);
/* POST pods/NAME/eviction (eviction.c). */
void gt_handle_eviction(struct gt_api *api, struct gt_http_req *req, struct route *rt);

/* ---- request helpers (request.c) ---- */
/*
 * DeleteOptions from a body (may be NULL) and the query (dryRun,
 * gracePeriodSeconds, propagationPolicy, orphanDependents) into *o; o's
 * pointers borrow from body and req (resource.c).
 */
int gt_delete_opts_parse(struct gt_http_req *req, const json_t *body, struct gt_delete_opts *o,
			 struct gt_err *err);
/* Parses the body as JSON, YAML-free: JSON or Kubernetes protobuf by Content-Type. */
int gt_request_body(struct gt_http_req *req, json_t **out, struct gt_err *err);
bool gt_wants_table(struct gt_http_req *req);
/* fieldValidation: Strict → -EINVAL naming unknown fields; Warn (the
 * default) → Warning headers and the fields dropped; Ignore → dropped. */
int gt_field_validation(struct gt_http_req *req, const struct gt_resource *r,
			json_t *obj, struct gt_err *err);
int gt_route_parse(const char *path, struct route *rt, struct gt_err *err);
void gt_route_release(struct route *rt);
/* "pods" or "deployments.apps" for messages. */
void gt_res_qualified(const struct gt_resource *r, char *out, size_t n);

/* ---- authentication / authorization (auth.c) ---- */
struct gt_user {
	const char *name;
	const char *groups[4];
};
int gt_authenticate(struct gt_api *api, struct gt_http_req *req, struct gt_user *user);
bool gt_authorize(const struct gt_user *user, const char *verb, const char *group,
		  const char *resource, const char *sub, const char *ns, const char *name);

/* ---- admission (admission.c) ---- */
/* DefaultTolerationSeconds: the not-ready/unreachable NoExecute tolerations. */
void gt_admit_default_tolerations(struct gt_api *api, json_t *pod);

/* ---- ops internals ---- */
int gt_api_delete_all_in(struct gt_api *api, const struct gt_resource *r, const char *ns,
			 int *remaining);

#endif
