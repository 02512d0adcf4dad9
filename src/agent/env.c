/*
 * env.c - container environment resolution (see env.h).
 */
#include "agent/env.h"

#include <string.h>

#include "agent/oci.h"
#include "api/quantity.h"

static void add(json_t *env, const char *k, const char *v)
{
	char *kv = xasprintf("%s=%s", k, v ? v : "");

	json_array_append_new(env, json_string(kv));
	free(kv);
}

/* metadata.labels['x'] style references. */
static const char *field_ref(const json_t *pod, const char *path, char *buf, size_t n)
{
	const char *open = strstr(path, "['");

	if (open) {
		char map[64], key[256];
		const char *close = strstr(open, "']");

		if (!close || (size_t)(open - path) >= sizeof(map) ||
		    (size_t)(close - open - 2) >= sizeof(key))
			return NULL;
		snprintf(map, sizeof(map), "%.*s", (int)(open - path), path);
		snprintf(key, sizeof(key), "%.*s", (int)(close - open - 2), open + 2);
		return json_string_value(json_object_get(gt_json_path(pod, map), key));
	}
	if (!strcmp(path, "status.podIPs"))
		path = "status.podIP";
	if (!strcmp(path, "metadata.labels") || !strcmp(path, "metadata.annotations")) {
		/* key="value" lines, as the downward API renders maps */
		json_t *m = gt_json_path(pod, path), *v;
		const char *k;
		struct gt_buf b = GT_BUF_INIT;

		gt_buf_init(&b);
		json_object_foreach(m, k, v)
			gt_buf_addf(&b, "%s%s=\"%s\"", b.len ? "\n" : "", k, json_string_value(v) ?: "");
		snprintf(buf, n, "%s", b.data);
		gt_buf_release(&b);
		return buf;
	}
	return gt_json_str(pod, path);
}

static int resource_ref(const json_t *container, const json_t *ref, char *out, size_t n,
			struct gt_err *err)
{
	const char *res = gt_json_str(ref, "resource"), *div = gt_json_str(ref, "divisor");
	struct gt_quantity q, d;
	const char *val;
	char path[128];
	bool cpu;

	if (!res || !strchr(res, '.'))
		return gt_err_set(err, -EINVAL, "resourceFieldRef: unsupported resource %s", res ?: "");
	cpu = strstr(res, "cpu") != NULL;
	snprintf(path, sizeof(path), "resources.%s", res);
	val = gt_json_str(container, path);
	if (!val && !strncmp(res, "requests.", 9)) {
		/* requests default to limits */
		snprintf(path, sizeof(path), "resources.limits.%s", res + 9);
		val = gt_json_str(container, path);
	}
	if (!val) {
		/* no limit: the node's allocatable; report 0 for requests */
		snprintf(out, n, "%s", !strncmp(res, "limits.", 7) ? (cpu ? "2" : "0") : "0");
		return 0;
	}
	if (gt_quantity_parse(val, &q, err) < 0)
		return -EINVAL;
	if (div && gt_quantity_parse(div, &d, err) < 0)
		return -EINVAL;
	if (!div)
		gt_quantity_parse("1", &d, NULL);
	{
		int64_t qm = gt_quantity_milli(&q), dm = gt_quantity_milli(&d);

		if (dm <= 0)
			return gt_err_set(err, -EINVAL, "resourceFieldRef: invalid divisor");
		/* ceil(q / d) as the kubelet does */
		snprintf(out, n, "%lld", (long long)((qm + dm - 1) / dm));
	}
	return 0;
}

static int key_ref(const json_t *pod, const json_t *ref, const char *resource, gt_env_get_fn get,
		   void *ctx, char **val, struct gt_err *err)
{
	const char *name = gt_json_str(ref, "name"), *key = gt_json_str(ref, "key");
	const char *ns = gt_json_str(pod, "metadata.namespace") ?: "default";
	bool optional = gt_json_bool(ref, "optional", false), secret = !strcmp(resource, "secrets");
	json_t *obj = NULL;
	const char *v;
	int r;

	*val = NULL;
	r = get(ctx, resource, ns, name ? name : "", &obj, err);
	if (r < 0) {
		if (optional && r == -ENOENT)
			return 0;
		return gt_err_set(err, r, "%s \"%s\" not found", secret ? "secret" : "configmap",
				  name ? name : "");
	}
	v = json_string_value(json_object_get(json_object_get(obj, "data"), key ? key : ""));
	if (!v && !secret)
		v = json_string_value(json_object_get(json_object_get(obj, "binaryData"), key ? key : ""));
	if (!v) {
		json_decref(obj);
		if (optional)
			return 0;
		return gt_err_set(err, -ENOENT, "couldn't find key %s in %s %s/%s", key ? key : "",
				  secret ? "Secret" : "ConfigMap", ns, name ? name : "");
	}
	if (secret) {
		unsigned char *dec;
		size_t len;

		if (gt_base64_decode(v, strlen(v), &dec, &len) < 0) {
			json_decref(obj);
			return gt_err_set(err, -EINVAL, "secret %s/%s: key %s is not valid base64", ns,
					  name, key);
		}
		*val = (char *)dec;
	} else {
		*val = xstrdup(v);
	}
	json_decref(obj);
	return 0;
}

static int env_from(const json_t *pod, const json_t *src, gt_env_get_fn get, void *ctx,
		    json_t *env, struct gt_err *err)
{
	const char *ns = gt_json_str(pod, "metadata.namespace") ?: "default";
	const char *prefix = gt_json_str(src, "prefix") ?: "";
	json_t *ref = json_object_get(src, "configMapRef"), *obj = NULL, *v;
	bool secret = false;
	const char *k;
	int r;

	if (!ref) {
		ref = json_object_get(src, "secretRef");
		secret = true;
	}
	if (!ref)
		return 0;
	r = get(ctx, secret ? "secrets" : "configmaps", ns, gt_json_str(ref, "name") ?: "", &obj, err);
	if (r < 0) {
		if (gt_json_bool(ref, "optional", false) && r == -ENOENT)
			return 0;
		return gt_err_set(err, r, "%s \"%s\" not found", secret ? "secret" : "configmap",
				  gt_json_str(ref, "name") ?: "");
	}
	json_object_foreach(json_object_get(obj, "data"), k, v) {
		char *name = xasprintf("%s%s", prefix, k);

		if (secret) {
			unsigned char *dec;
			size_t len;

			if (gt_base64_decode(json_string_value(v) ?: "", strlen(json_string_value(v) ?: ""),
					     &dec, &len) == 0) {
				add(env, name, (char *)dec);
				free(dec);
			}
		} else {
			add(env, name, json_string_value(v));
		}
		free(name);
	}
	json_decref(obj);
	return 0;
}

int gt_env_build(const json_t *pod, const json_t *container, gt_env_get_fn get, void *ctx,
		 json_t **out, struct gt_err *err)
{
	json_t *env = json_array(), *e;
	size_t i;
	int r;

	json_array_foreach(json_object_get(container, "envFrom"), i, e)
		if ((r = env_from(pod, e, get, ctx, env, err)) < 0)
			goto fail;
	json_array_foreach(json_object_get(container, "env"), i, e) {
		const char *name = gt_json_str(e, "name");
		json_t *vf = json_object_get(e, "valueFrom");

		if (!name)
			continue;
		if (!vf) {
			char *v = gt_oci_expand(gt_json_str(e, "value") ?: "", env);

			add(env, name, v);
			free(v);
		} else if (json_object_get(vf, "fieldRef")) {
			char buf[4096];
			const char *v = field_ref(pod, gt_json_str(vf, "fieldRef.fieldPath") ?: "", buf,
						  sizeof(buf));

			add(env, name, v ? v : "");
		} else if (json_object_get(vf, "resourceFieldRef")) {
			char buf[64];

			if ((r = resource_ref(container, json_object_get(vf, "resourceFieldRef"), buf,
					      sizeof(buf), err)) < 0)
				goto fail;
			add(env, name, buf);
		} else {
			json_t *ref = json_object_get(vf, "configMapKeyRef");
			char *v = NULL;

			r = ref ? key_ref(pod, ref, "configmaps", get, ctx, &v, err) :
				  key_ref(pod, json_object_get(vf, "secretKeyRef"), "secrets", get, ctx, &v, err);
			if (r < 0)
				goto fail;
			if (v)
				add(env, name, v);
			free(v);
		}
	}
	*out = env;
	return 0;
fail:
	json_decref(env);
	return r;
}
