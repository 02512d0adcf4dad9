/*
 * kubeconfig.c - gt_client_from_kubeconfig: reads a kubeconfig (YAML, via
 * codec/yaml.h), follows current-context to its cluster and user, and
 * builds a client from the server URL, the CA (inline base64 PEM or a file)
 * and the bearer token (inline or a file).  Relative file paths are taken
 * relative to the kubeconfig's directory, as client-go does.  Messages name
 * the kubeconfig and the field at fault.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "codec/yaml.h"

/* The entry of list `field` whose name is `name`, or NULL. */
static json_t *named(const json_t *doc, const char *field, const char *name)
{
	json_t *list = json_object_get(doc, field), *e;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *n = gt_json_str(e, "name");

		if (n && !strcmp(n, name))
			return e;
	}
	return NULL;
}

/* path made absolute against the kubeconfig's directory (caller frees). */
static char *resolve(const char *kc, const char *path)
{
	const char *slash = strrchr(kc, '/');

	if (path[0] == '/' || !slash)
		return xstrdup(path);
	return xasprintf("%.*s/%s", (int)(slash - kc), kc, path);
}

static char *default_path(void)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");

	if (env && *env)
		return xstrndup(env, strcspn(env, ":"));
	return xasprintf("%s/.kube/config", home && *home ? home : ".");
}

static int load(const char *path, json_t **doc, struct gt_err *err)
{
	GT_AUTOFREE char *buf = NULL;
	GT_AUTOJSON json_t *docs = NULL;
	size_t len = 0;
	int r;

	if ((r = gt_read_file(path, &buf, &len)) < 0)
		return gt_err_set(err, r, "kubeconfig %s: %s", path, strerror(-r));
	if ((r = gt_yaml_to_json(buf, len, &docs, err)) < 0)
		return gt_err_prefix(err, r, "kubeconfig %s", path);
	if (!json_is_object(json_array_get(docs, 0)))
		return gt_err_set(err, -EINVAL, "kubeconfig %s: not a mapping", path);
	*doc = json_incref(json_array_get(docs, 0));
	return 0;
}

/* Reads the token of user u (inline or tokenFile) into *token. */
static int user_token(const char *path, const json_t *u, const char *uname, char **token,
		      struct gt_err *err)
{
	const char *t = gt_json_str(u, "user.token"), *tf = gt_json_str(u, "user.tokenFile");
	char *file, *buf = NULL;
	size_t len = 0, start = 0;
	int r;

	*token = NULL;
	if (t && *t) {
		*token = xstrdup(t);
		return 0;
	}
	if (!tf || !*tf)
		return 0;
	file = resolve(path, tf);
	r = gt_read_file(file, &buf, &len);
	if (r < 0) {
		gt_err_set(err, r, "kubeconfig %s: users[name=\"%s\"].user.tokenFile: %s: %s", path,
			   uname, file, strerror(-r));
		free(file);
		return r;
	}
	free(file);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
			   buf[len - 1] == '\t'))
		buf[--len] = '\0';
	while (start < len && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\n'))
		start++;
	*token = xstrdup(buf + start);
	free(buf);
	return 0;
}

int gt_client_from_kubeconfig(const char *path, struct gt_client **out, struct gt_err *err)
{
	GT_AUTOFREE char *dpath = NULL, *token = NULL, *ca_file = NULL;
	GT_AUTOFREE unsigned char *ca = NULL;
	GT_AUTOJSON json_t *doc = NULL;
	struct gt_client_config cfg = { 0 };
	const char *ctxname, *cname, *uname, *cad, *caf;
	json_t *ctx, *cl, *u = NULL, *v;
	size_t calen = 0;
	int r;

	if (!path)
		path = dpath = default_path();
	if ((r = load(path, &doc, err)) < 0)
		return r;

	ctxname = gt_json_str(doc, "current-context");
	if (!ctxname || !*ctxname) {
		json_t *all = json_object_get(doc, "contexts");

		if (json_array_size(all) != 1)
			return gt_err_set(err, -ENOENT, "kubeconfig %s: current-context: not set", path);
		ctxname = gt_json_str(json_array_get(all, 0), "name");
		if (!ctxname)
			return gt_err_set(err, -EINVAL, "kubeconfig %s: contexts[0].name: required",
					  path);
	}
	ctx = named(doc, "contexts", ctxname);
	if (!ctx)
		return gt_err_set(err, -ENOENT, "kubeconfig %s: context \"%s\" not found", path,
				  ctxname);
	cname = gt_json_str(ctx, "context.cluster");
	if (!cname || !*cname)
		return gt_err_set(err, -EINVAL, "kubeconfig %s: contexts[name=\"%s\"].context.cluster: "
				  "required", path, ctxname);
	cl = named(doc, "clusters", cname);
	if (!cl)
		return gt_err_set(err, -ENOENT, "kubeconfig %s: cluster \"%s\" not found", path, cname);
	uname = gt_json_str(ctx, "context.user");
	if (uname && *uname && !(u = named(doc, "users", uname)))
		return gt_err_set(err, -ENOENT, "kubeconfig %s: user \"%s\" not found", path, uname);

	cfg.server_url = gt_json_str(cl, "cluster.server");
	if (!cfg.server_url || !*cfg.server_url)
		return gt_err_set(err, -EINVAL, "kubeconfig %s: clusters[name=\"%s\"].cluster.server: "
				  "required", path, cname);
	v = gt_json_path(cl, "cluster.insecure-skip-tls-verify");
	if (v && !json_is_boolean(v))
		return gt_err_set(err, -EINVAL, "kubeconfig %s: clusters[name=\"%s\"].cluster."
				  "insecure-skip-tls-verify: must be true or false", path, cname);
	cfg.insecure = json_is_true(v);
	cad = gt_json_str(cl, "cluster.certificate-authority-data");
	caf = gt_json_str(cl, "cluster.certificate-authority");
	if (cad && *cad) {
		if (gt_base64_decode(cad, strlen(cad), &ca, &calen) < 0 || !calen)
			return gt_err_set(err, -EINVAL, "kubeconfig %s: clusters[name=\"%s\"].cluster."
					  "certificate-authority-data: invalid base64", path, cname);
		if (memchr(ca, '\0', calen) || !strstr((char *)ca, "-----BEGIN"))
			return gt_err_set(err, -EINVAL, "kubeconfig %s: clusters[name=\"%s\"].cluster."
					  "certificate-authority-data: not a PEM certificate", path,
					  cname);
		cfg.ca_pem = (const char *)ca;
	} else if (caf && *caf) {
		cfg.ca_file = ca_file = resolve(path, caf);
	}
	if (u && (r = user_token(path, u, uname, &token, err)) < 0)
		return r;
	cfg.token = token;
	if ((r = gt_client_new(&cfg, out, err)) < 0)
		return gt_err_prefix(err, r, "kubeconfig %s", path);
	return 0;
}
