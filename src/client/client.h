/*
 * client.h - the Kubernetes API client the node agent and the gantry CLI
 * use: JSON verbs over HTTPS (libcurl), kubeconfig loading, text and
 * streamed GETs (logs), and an informer (list + watch with relist) that
 * keeps a local copy of a collection and reports changes through callbacks.
 *
 * Only src/client/ and src/http/ include <curl/curl.h>.
 *
 * Errors follow base/err.h: a negative errno, and err->msg holds the
 * Kubernetes Status message (field causes of a 422 are copied into
 * err->causes) or, for transport failures, curl's description prefixed
 * with the method and URL.  HTTP status → errno:
 *   400 -EINVAL            401 -ENOKEY           403 -EACCES
 *   404 -ENOENT            405 -EOPNOTSUPP       406 -ENOMSG
 *   409 reason AlreadyExists -EEXIST, other 409 (Conflict) -ESTALE
 *   410 -ENODATA           413 -E2BIG            415 -EPROTONOSUPPORT
 *   422 -EBADMSG           429 -EAGAIN           other 4xx -EINVAL
 *   5xx (and anything else) -EIO
 * Transport: -ECONNREFUSED (nothing listening), -EHOSTUNREACH (no route or
 * unknown host), -ETIMEDOUT, -EPROTO (TLS handshake or certificate
 * verification failed), -ECONNRESET (connection dropped), -ECANCELED (a
 * stop flag was raised), -EIO (invalid response).
 *
 * Thread-safety: one struct gt_client may be shared by any number of
 * threads once created.  Each request borrows a libcurl handle from a small
 * pool inside the client (so keep-alive connections are reused and calls
 * run concurrently); gt_client_free() must only be called once no call is
 * running.  Requests speak HTTP/1.1.
 */
#ifndef GT_CLIENT_CLIENT_H
#define GT_CLIENT_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "codec/json.h"

struct gt_client;

struct gt_client_config {
	const char *server_url; /* "https://127.0.0.1:6443" (a path prefix is kept) */
	const char *token;      /* bearer token; NULL = none */
	const char *ca_pem;     /* CA certificate(s), PEM text; NULL = see ca_file */
	const char *ca_file;    /* CA file path (used when ca_pem is NULL) */
	bool insecure;          /* skip server certificate verification */
	int timeout_s;          /* connect timeout and non-streaming request
				   timeout in seconds; <= 0 = 30 */
};

/*
 * Creates a client.  Strings in cfg are copied (cfg may go away).  With
 * neither ca_pem nor ca_file nor insecure, the system CA bundle is used;
 * with a CA given, only that CA is trusted.  Returns 0 and *out (release
 * with gt_client_free), or -EINVAL (bad URL scheme, token with control
 * characters) / an I/O errno (the CA could not be staged) with err set.
 */
int gt_client_new(const struct gt_client_config *cfg, struct gt_client **out,
		  struct gt_err *err);

/*
 * Creates a client from a kubeconfig file (path NULL = the first entry of
 * $KUBECONFIG, else ~/.kube/config).  Follows current-context (or the only
 * context when current-context is unset) to its cluster and user:
 * cluster.server, certificate-authority-data (base64 PEM) or
 * certificate-authority (a file; relative to the kubeconfig's directory),
 * insecure-skip-tls-verify; user.token or user.tokenFile.  Returns 0 and
 * *out, or -ENOENT (file, context, cluster or user missing) / -EINVAL
 * (malformed; the message names the field, e.g.
 * `clusters[name="c"].cluster.server: required`) with err set.
 */
int gt_client_from_kubeconfig(const char *path, struct gt_client **out,
			      struct gt_err *err);

/* Frees the client, its pooled connections and any staged CA file (NULL ok). */
void gt_client_free(struct gt_client *c);

/* The server URL without a trailing '/' (borrowed, valid for c's life). */
const char *gt_client_server(const struct gt_client *c);

/* What the client authenticates and verifies with, for callers that open
 * their own connections (the CLI's WebSocket streams).  All borrowed, valid
 * for c's life.  token: the bearer token or NULL; ca_pem: the CA PEM text
 * or NULL; ca_file: the CA file (or a staged copy of the PEM) or NULL;
 * insecure: certificate verification is off. */
const char *gt_client_token(const struct gt_client *c);
const char *gt_client_ca_pem(const struct gt_client *c);
const char *gt_client_ca_file(const struct gt_client *c);
bool gt_client_insecure(const struct gt_client *c);

/*
 * One request.  path starts with '/' and includes the query (already
 * percent-encoded).  body may be NULL; it is sent with content_type
 * (NULL = "application/json").  On 2xx returns 0 and, when out is not
 * NULL, *out = the parsed response (a new reference; NULL for an empty
 * body).  Otherwise a negative errno (table above), *out untouched.
 */
int gt_client_do(struct gt_client *c, const char *method, const char *path,
		 const char *content_type, const json_t *body, json_t **out,
		 struct gt_err *err);

/* Shorthands for gt_client_do: GET, POST, PUT, PATCH (content_type is the
 * patch type, e.g. "application/merge-patch+json"; NULL = merge patch) and
 * DELETE (opts = DeleteOptions or NULL). */
int gt_client_get(struct gt_client *c, const char *path, json_t **out, struct gt_err *err);
int gt_client_create(struct gt_client *c, const char *path, const json_t *obj,
		     json_t **out, struct gt_err *err);
int gt_client_update(struct gt_client *c, const char *path, const json_t *obj,
		     json_t **out, struct gt_err *err);
int gt_client_patch(struct gt_client *c, const char *path, const char *content_type,
		    const json_t *patch, json_t **out, struct gt_err *err);
int gt_client_delete(struct gt_client *c, const char *path, const json_t *opts,
		     json_t **out, struct gt_err *err);

/*
 * GET of a non-JSON body (e.g. pod logs).  On 2xx returns 0, *body a
 * malloc'd NUL-terminated copy (caller frees) and *len its length (len may
 * be NULL).  Errors as gt_client_do.
 */
int gt_client_get_text(struct gt_client *c, const char *path, char **body, size_t *len,
		       struct gt_err *err);

/*
 * Streams the body of a GET (e.g. `.../log?follow=true`) to on_data as it
 * arrives, until the server ends it, on_data returns non-zero, or *stop
 * (may be NULL) becomes true (noticed within about a second).  There is no
 * overall time limit.  on_data runs on the calling thread with a buffer
 * that is only valid for the call.  Returns 0 at the end of the body or
 * when on_data returned a positive value, on_data's negative return as is,
 * -ECANCELED when stopped, or the errors of gt_client_do (a non-2xx answer
 * is not passed to on_data).
 */
int gt_client_stream(struct gt_client *c, const char *path,
		     int (*on_data)(const char *buf, size_t len, void *ctx), void *ctx,
		     const _Atomic bool *stop, struct gt_err *err);

/*
 * Informer callbacks.  Objects are borrowed for the call: never modify
 * them; json_incref() to keep one.  All calls come from the thread running
 * gt_informer_run, one at a time.  Any callback may be NULL.  Callbacks may
 * use the same client for other requests.
 */
struct gt_informer_ops {
	void (*on_add)(void *ctx, json_t *obj);
	void (*on_update)(void *ctx, json_t *old, json_t *obj);
	/* obj is the last state known (from a DELETED event or the cache) */
	void (*on_delete)(void *ctx, json_t *obj);
	/* once, after the first complete list has been delivered */
	void (*on_synced)(void *ctx);
	/* a failed list or watch, before the back-off; for logging */
	void (*on_error)(void *ctx, const struct gt_err *err);
};

/*
 * Keeps the collection at list_path (e.g. "/api/v1/pods?fieldSelector=
 * spec.nodeName%3Dn1") in sync in the calling thread until *stop becomes
 * true, then returns 0 (-EINVAL for bad arguments).  It LISTs all pages
 * (limit=500), delivers on_add for new objects, on_update for ones whose
 * resourceVersion changed and on_delete for ones gone since the previous
 * list (it keeps its own map namespace/name → object), then WATCHes from
 * the list's resourceVersion (allowWatchBookmarks=true, timeoutSeconds=300)
 * and applies events to the map.  When a watch ends normally it resumes
 * from the last resourceVersion seen; on 410 Expired it relists at once;
 * on any other error it relists after a back-off (0.2 s doubling to 5 s,
 * reset by a successful list).  *stop is noticed within about a second,
 * also while blocked in a watch or a back-off.
 */
int gt_informer_run(struct gt_client *c, const char *list_path,
		    const struct gt_informer_ops *ops, void *ctx, const _Atomic bool *stop);

#endif
