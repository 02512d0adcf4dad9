/*
 * probe.h - one run of a Kubernetes container probe (liveness, readiness,
 * startup): exec, httpGet, tcpSocket.  Only the single attempt lives here;
 * periods, thresholds and initial delays are the caller's (pods.c).
 *
 *   httpGet    GET scheme://host:port/path over a plain socket (HTTP/1.1,
 *              Connection: close; only the status line is read) or GnuTLS
 *              for HTTPS (the certificate is not verified, as the kubelet
 *              does not verify it).  host defaults to the pod IP; headers
 *              are the kubelet's (User-Agent: kube-probe/1.33, Accept: * / *)
 *              overridden by httpHeaders (a "Host" header sets the Host).
 *              Success: status 200-399 (redirects are not followed).
 *   tcpSocket  a non-blocking connect to host (default pod IP):port.
 *   exec       the caller's exec_fn runs command in the container; exit
 *              code 0 is success.
 *   grpc       not supported: always a failure saying so.
 * timeoutSeconds (default 1, at least 1) bounds the whole attempt.
 *
 * Ports must be numbers: the caller resolves a named port (the container's
 * ports[].name) and passes a copy of the probe with the number in place.
 * Failure messages are the kubelet's, e.g.
 *   HTTP probe failed with statuscode: 404
 *   Get "http://10.88.0.5:8080/healthz": dial tcp 10.88.0.5:8080: connect: connection refused
 *   Get "http://...": context deadline exceeded (Client.Timeout exceeded while awaiting headers)
 *   dial tcp 10.88.0.5:6379: i/o timeout
 *   command "cat /tmp/healthy" timed out
 * Host names other than IP literals are resolved with getaddrinfo, whose
 * time is not bounded by timeoutSeconds.
 */
#ifndef GT_AGENT_PROBE_H
#define GT_AGENT_PROBE_H

#include <stdbool.h>

#include "base/util.h"
#include "codec/json.h"

struct gt_probe_result {
	bool ok;
	char message[256]; /* why it failed ("" on success, or the exec output) */
};

/*
 * Runs command argv (NULL-terminated) in the container with a timeout of
 * timeout_s seconds, appending its combined output to out.  Returns 0 with
 * *exit_code set, -ETIMEDOUT when it ran past the timeout, or another
 * negative errno when it could not be run.
 */
typedef int (*gt_probe_exec_fn)(void *ctx, char *const argv[], int timeout_s, int *exit_code,
				struct gt_buf *out);

/*
 * Runs probe (a Kubernetes Probe object, borrowed) once against the pod
 * at pod_ip (may be NULL when every handler names its host).  exec_fn /
 * exec_ctx serve exec probes (exec_fn may be NULL: exec probes then fail).
 * Returns 0 with *res filled (res->ok is the verdict), or -EINVAL for a
 * probe that cannot run (no handler, bad port, unknown scheme), with
 * res->ok false and res->message saying why.  Thread-safe; blocks for at
 * most about timeoutSeconds.
 */
int gt_probe_run(const json_t *probe, const char *pod_ip, gt_probe_exec_fn exec_fn, void *exec_ctx,
		 struct gt_probe_result *res);

#endif
