/*
 * logs.c - GET pods/<name>/log: picks and checks the container as the real
 * API server does, then proxies to the node agent that runs the pod (its
 * address and port come from the Node's status), streaming with
 * follow=true.
 */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "apiserver/agentconn.h"
#include "apiserver/internal.h"
#include "client/client.h"

static const char *pick_container(const json_t *pod, const char *want, char *msg, size_t n)
{
	json_t *cs = gt_json_path(pod, "spec.containers"), *ics = gt_json_path(pod, "spec.initContainers"), *c;
	const char *name = gt_json_str(pod, "metadata.name") ?: "";
	size_t i;

	if (!want || !*want) {
		const char *def = json_string_value(json_object_get(gt_json_path(pod, "metadata.annotations"),
								    "kubectl.kubernetes.io/default-container"));

		if (def)
			want = def;
		else if (json_array_size(cs) == 1)
			return gt_json_str(json_array_get(cs, 0), "name");
		else {
			struct gt_buf b = GT_BUF_INIT;

			gt_buf_init(&b);
			json_array_foreach(cs, i, c)
				gt_buf_addf(&b, "%s%s", i ? " " : "", gt_json_str(c, "name") ?: "");
			snprintf(msg, n, "a container name must be specified for pod %s, choose one of: [%s]",
				 name, b.data);
			gt_buf_release(&b);
			return NULL;
		}
	}
	json_array_foreach(cs, i, c)
		if (!strcmp(gt_json_str(c, "name") ?: "", want))
			return gt_json_str(c, "name");
	json_array_foreach(ics, i, c)
		if (!strcmp(gt_json_str(c, "name") ?: "", want))
			return gt_json_str(c, "name");
	snprintf(msg, n, "container %s is not valid for pod %s", want, name);
	return NULL;
}

struct logstream {
	struct gt_client *client;
	char *path;
	int fds[2];
	pthread_t thr;
	_Atomic bool stop;
};

static int to_pipe(const char *buf, size_t len, void *ctx)
{
	struct logstream *s = ctx;

	while (len) {
		ssize_t w = write(s->fds[1], buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -EPIPE;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static void *pump(void *arg)
{
	struct logstream *s = arg;
	struct gt_err err;

	gt_err_clear(&err);
	gt_client_stream(s->client, s->path, to_pipe, s, &s->stop, &err);
	close(s->fds[1]);
	return NULL;
}

static ssize_t read_pipe(void *arg, char *buf, size_t max)
{
	struct logstream *s = arg;

	for (;;) {
		ssize_t r = read(s->fds[0], buf, max);

		if (r > 0)
			return r;
		if (r < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

static void free_stream(void *arg)
{
	struct logstream *s = arg;

	atomic_store(&s->stop, true);
	close(s->fds[0]);
	pthread_join(s->thr, NULL);
	gt_client_free(s->client);
	free(s->path);
	free(s);
}

/* A client for the agent of node (its published log endpoint). */
int gt_api_agent_client(struct gt_api *api, const char *nodename, struct gt_client **out,
			struct gt_err *err)
{
	struct gt_obj *node = NULL;
	char url[300];
	int rc;

	if (!nodename || !*nodename ||
	    gt_api_get(api, gt_registry_find("", "v1", "nodes"), "", nodename, &node, NULL) < 0)
		return gt_err_set(err, -ENOENT, "node \"%s\" not found", nodename ?: "");
	rc = gt_agent_url(node->obj, url, sizeof(url));
	gt_obj_unref(node);
	if (rc < 0)
		return gt_err_set(err, -EIO, "node %s publishes no log endpoint", nodename);
	{
		struct gt_client_config cc = { .server_url = url, .token = api->token, .timeout_s = 30 };

		return gt_client_new(&cc, out, err);
	}
}

int gt_api_pod_log_tail(struct gt_api *api, const json_t *pod, const char *container, int lines,
			char **body, size_t *len, struct gt_err *err)
{
	struct gt_client *client = NULL;
	char path[1024];
	int rc;

	*body = NULL;
	*len = 0;
	if ((rc = gt_api_agent_client(api, gt_json_str(pod, "spec.nodeName"), &client, err)) < 0)
		return rc;
	snprintf(path, sizeof(path), "/containerLogs/%s/%s/%s?tailLines=%d",
		 gt_json_str(pod, "metadata.namespace") ?: "", gt_json_str(pod, "metadata.name") ?: "",
		 container, lines);
	rc = gt_client_get_text(client, path, body, len, err);
	gt_client_free(client);
	return rc;
}

void gt_handle_pod_log(struct gt_api *api, struct gt_http_req *req, struct route *rt);
void gt_handle_pod_log(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	static const char *fwd[] = { "follow", "previous", "tailLines", "sinceSeconds",
				     "timestamps", "limitBytes" };
	struct gt_obj *pod = NULL;
	const char *cname, *nodename;
	char msg[512];
	struct gt_buf path = GT_BUF_INIT;
	struct gt_client *client = NULL;
	struct gt_err err;
	size_t i;
	bool follow = false;

	gt_err_clear(&err);
	if (gt_api_get(api, rt->res, rt->ns, rt->name, &pod, &err) < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	cname = pick_container(pod->obj, gt_http_query(req, "container"), msg, sizeof(msg));
	nodename = gt_json_str(pod->obj, "spec.nodeName");
	if (!cname) {
		gt_reply_errorf(req, -EINVAL, "%s", msg);
		goto out;
	}
	if (!nodename || !*nodename) {
		gt_reply_errorf(req, -EINVAL, "container \"%s\" in pod \"%s\" is waiting to start: ContainerCreating",
				cname, rt->name);
		goto out;
	}
	if (gt_api_agent_client(api, nodename, &client, &err) < 0) {
		if (err.code == -ENOENT)
			gt_reply_errorf(req, -EINVAL, "container \"%s\" in pod \"%s\" is waiting to start: ContainerCreating",
					cname, rt->name);
		else
			gt_reply_error(req, &err, NULL);
		goto out;
	}
	gt_buf_init(&path);
	gt_buf_addf(&path, "/containerLogs/%s/%s/%s?", rt->ns, rt->name, cname);
	for (i = 0; i < GT_ARRAY_SIZE(fwd); i++) {
		const char *v = gt_http_query(req, fwd[i]);
		bool b;

		if (!v)
			continue;
		gt_buf_addf(&path, "%s=", fwd[i]);
		for (const char *p = v; *p; p++)
			if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
				gt_buf_addc(&path, *p);
		gt_buf_addc(&path, '&');
		if (!strcmp(fwd[i], "follow") && gt_parse_bool(v, &b) == 0)
			follow = b;
	}
	if (!follow) {
		char *body = NULL;
		size_t len = 0;

		if (gt_client_get_text(client, path.data, &body, &len, &err) < 0) {
			gt_reply_error(req, &err, NULL);
		} else {
			gt_http_reply_take(req, 200, "text/plain", body, len);
			body = NULL;
		}
		free(body);
		gt_client_free(client);
	} else {
		struct logstream *s = xcalloc(1, sizeof(*s));

		s->client = client;
		s->path = gt_buf_detach(&path, NULL);
		if (pipe2(s->fds, O_CLOEXEC) < 0 || pthread_create(&s->thr, NULL, pump, s)) {
			gt_client_free(client);
			free(s->path);
			free(s);
			gt_reply_errorf(req, -EIO, "cannot stream logs");
			goto out;
		}
		gt_http_reply_stream(req, 200, "text/plain", read_pipe, s, free_stream);
	}
out:
	gt_buf_release(&path);
	gt_obj_unref(pod);
}
