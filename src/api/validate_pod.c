/*
 * validate_pod.c - validation of core/v1 pod specs (Pods and every pod
 * template: Deployments, Jobs, ...), following ValidatePodSpec of
 * kubernetes/pkg/apis/core/validation: volumes, containers and init
 * containers (names, images, ports, env, mounts, probes, resources), the
 * restart and DNS policies, tolerations, and the Pod update rule (only
 * images, activeDeadlineSeconds, added tolerations and a negative grace
 * period may change; and nodeName once, for binding).
 */
#include <stdio.h>
#include <string.h>

#include "api/validate_int.h"

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

static void dns_label(struct gt_vld *v, const char *path, const char *s)
{
	struct gt_vld_msgs m = { 0 };

	gt_vld_is_dns1123_label(s, &m);
	gt_vld_report(v, path, s, &m);
}

static void subdomain(struct gt_vld *v, const char *path, const char *s)
{
	struct gt_vld_msgs m = { 0 };

	gt_vld_is_dns1123_subdomain(s, &m);
	gt_vld_report(v, path, s, &m);
}

/* An enum field that defaulting always sets: Required when empty. */
static void enum_field(struct gt_vld *v, const json_t *obj, const char *key, const char *base,
		       const char *const *valid)
{
	const char *s = gt_vld_str(obj, key);
	char p[GT_VLD_PATH];

	gt_vld_path(p, "%s.%s", base, key);
	if (!s || !*s) {
		gt_vld_required(v, p, "");
		return;
	}
	for (size_t i = 0; valid[i]; i++)
		if (!strcmp(s, valid[i]))
			return;
	gt_vld_not_supported(v, p, s, valid);
}

/* ValidatePortNumOrName for an IntOrString. */
static void port_num_or_name(struct gt_vld *v, const json_t *port, const char *path)
{
	if (json_is_integer(port)) {
		int64_t n = json_integer_value(port);

		if (n < 1 || n > 65535)
			gt_vld_invalid_int(v, path, n, "must be between 1 and 65535, inclusive");
	} else if (json_is_string(port)) {
		struct gt_vld_msgs m = { 0 };

		gt_vld_is_port_name(json_string_value(port), &m);
		gt_vld_report(v, path, json_string_value(port), &m);
	} else {
		gt_vld_invalid_int(v, path, 0, "must be between 1 and 65535, inclusive");
	}
}

/* ---- volumes ---- */

static const char *const volume_sources[] = {
	"hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
	"nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
	"cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
	"quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
	"storageos", "csi", "ephemeral", "image", NULL,
};

static void key_paths(struct gt_vld *v, const json_t *items, const char *base)
{
	char p[GT_VLD_PATH];

	for (size_t i = 0; i < gt_vld_len(items); i++) {
		const json_t *it = json_array_get(items, i);

		if (!gt_vld_has_str(it, "key"))
			gt_vld_required(v, gt_vld_path(p, "%s.items[%zu].key", base, i), "");
		if (!gt_vld_has_str(it, "path"))
			gt_vld_required(v, gt_vld_path(p, "%s.items[%zu].path", base, i), "");
	}
}

static void default_mode(struct gt_vld *v, const json_t *src, const char *base)
{
	int64_t mode;
	char p[GT_VLD_PATH];

	if (gt_vld_int(src, "defaultMode", &mode) && (mode < 0 || mode > 0777))
		gt_vld_invalid_int(v, gt_vld_path(p, "%s.defaultMode", base), mode,
				   "must be a number between 0 and 0777 (octal), both inclusive");
}

static void volume_source(struct gt_vld *v, const json_t *vol, const char *path)
{
	const char *first = NULL;
	char p[GT_VLD_PATH], sp[GT_VLD_PATH];
	const json_t *src;

	for (size_t i = 0; volume_sources[i]; i++) {
		if (!gt_vld_get(vol, volume_sources[i]))
			continue;
		if (first) {
			gt_vld_forbidden(v, gt_vld_path(p, "%s.%s", path, volume_sources[i]),
					 "may not specify more than 1 volume type");
			continue;
		}
		first = volume_sources[i];
	}
	if (!first) {
		gt_vld_required(v, path, "must specify a volume type");
		return;
	}
	src = gt_vld_get(vol, first);
	gt_vld_path(sp, "%s.%s", path, first);
	if (!strcmp(first, "hostPath") && !gt_vld_has_str(src, "path"))
		gt_vld_required(v, gt_vld_path(p, "%s.path", sp), "");
	if (!strcmp(first, "secret")) {
		if (!gt_vld_has_str(src, "secretName"))
			gt_vld_required(v, gt_vld_path(p, "%s.secretName", sp), "");
		default_mode(v, src, sp);
		key_paths(v, gt_vld_get(src, "items"), sp);
	}
	if (!strcmp(first, "configMap")) {
		if (!gt_vld_has_str(src, "name"))
			gt_vld_required(v, gt_vld_path(p, "%s.name", sp), "");
		default_mode(v, src, sp);
		key_paths(v, gt_vld_get(src, "items"), sp);
	}
	if (!strcmp(first, "persistentVolumeClaim") && !gt_vld_has_str(src, "claimName"))
		gt_vld_required(v, gt_vld_path(p, "%s.claimName", sp), "");
	if (!strcmp(first, "nfs")) {
		if (!gt_vld_has_str(src, "server"))
			gt_vld_required(v, gt_vld_path(p, "%s.server", sp), "");
		if (!gt_vld_has_str(src, "path"))
			gt_vld_required(v, gt_vld_path(p, "%s.path", sp), "");
	}
}

/* Validates spec.volumes; returns the names (a JSON object used as a set). */
static json_t *volumes(struct gt_vld *v, const json_t *vols, const char *base)
{
	json_t *names = json_object();
	char path[GT_VLD_PATH], p[GT_VLD_PATH];

	for (size_t i = 0; i < gt_vld_len(vols); i++) {
		const json_t *vol = json_array_get(vols, i);
		const char *name = gt_vld_str(vol, "name");

		gt_vld_path(path, "%s[%zu]", base, i);
		volume_source(v, vol, path);
		gt_vld_path(p, "%s.name", path);
		if (!name || !*name)
			gt_vld_required(v, p, "");
		else
			dns_label(v, p, name);
		if (name && json_object_get(names, name))
			gt_vld_duplicate_str(v, p, name);
		if (name)
			json_object_set_new(names, name, json_true());
	}
	return names;
}

/* ---- container pieces ---- */

static void ports(struct gt_vld *v, const json_t *list, const char *base)
{
	json_t *names = json_object();
	char path[GT_VLD_PATH], p[GT_VLD_PATH];
	int64_t n;

	for (size_t i = 0; i < gt_vld_len(list); i++) {
		const json_t *port = json_array_get(list, i);
		const char *name = gt_vld_str(port, "name");
		const char *proto = gt_vld_str(port, "protocol");

		gt_vld_path(path, "%s[%zu]", base, i);
		if (name && *name) {
			struct gt_vld_msgs m = { 0 };

			gt_vld_is_port_name(name, &m);
			gt_vld_path(p, "%s.name", path);
			if (m.n)
				gt_vld_report(v, p, name, &m);
			else if (json_object_get(names, name))
				gt_vld_duplicate_str(v, p, name);
			else
				json_object_set_new(names, name, json_true());
		}
		gt_vld_path(p, "%s.containerPort", path);
		if (!gt_vld_int(port, "containerPort", &n) || n == 0)
			gt_vld_required(v, p, "");
		else if (n < 1 || n > 65535)
			gt_vld_invalid_int(v, p, n, "must be between 1 and 65535, inclusive");
		if (gt_vld_int(port, "hostPort", &n) && n != 0 && (n < 1 || n > 65535))
			gt_vld_invalid_int(v, gt_vld_path(p, "%s.hostPort", path), n,
					   "must be between 1 and 65535, inclusive");
		gt_vld_path(p, "%s.protocol", path);
		if (!proto || !*proto)
			gt_vld_required(v, p, "");
		else if (strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "SCTP"))
			gt_vld_not_supported(v, p, proto, protocols);
	}
	json_decref(names);
}

static void key_selector(struct gt_vld *v, const json_t *sel, const char *base)
{
	const char *name = gt_vld_str(sel, "name");
	const char *key = gt_vld_str(sel, "key");
	char p[GT_VLD_PATH];

	if (name && *name)
		subdomain(v, gt_vld_path(p, "%s.name", base), name);
	gt_vld_path(p, "%s.key", base);
	if (!key || !*key) {
		gt_vld_required(v, p, "");
	} else {
		struct gt_vld_msgs m = { 0 };

		gt_vld_is_config_key(key, &m);
		gt_vld_report(v, p, key, &m);
	}
}

static void field_ref(struct gt_vld *v, const json_t *ref, const char *base)
{
	static const char *const supported[] = {
		"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
		"metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP",
		"status.hostIPs", "status.podIP", "status.podIPs", NULL,
	};
	const char *fp = gt_vld_str(ref, "fieldPath");
	char p[GT_VLD_PATH];

	if (!gt_vld_has_str(ref, "apiVersion"))
		gt_vld_required(v, gt_vld_path(p, "%s.apiVersion", base), "");
	gt_vld_path(p, "%s.fieldPath", base);
	if (!fp || !*fp) {
		gt_vld_required(v, p, "");
		return;
	}
	if (!strncmp(fp, "metadata.labels['", 17) || !strncmp(fp, "metadata.annotations['", 22))
		return;
	for (size_t i = 0; supported[i]; i++)
		if (!strcmp(fp, supported[i]))
			return;
	gt_vld_not_supported(v, p, fp, supported);
}

static void env(struct gt_vld *v, const json_t *list, const char *base)
{
	char path[GT_VLD_PATH], p[GT_VLD_PATH];

	for (size_t i = 0; i < gt_vld_len(list); i++) {
		const json_t *ev = json_array_get(list, i);
		const char *name = gt_vld_str(ev, "name");
		const json_t *from = gt_vld_get(ev, "valueFrom");
		int nsrc = 0;

		gt_vld_path(path, "%s[%zu]", base, i);
		gt_vld_path(p, "%s.name", path);
		if (!name || !*name) {
			gt_vld_required(v, p, "");
		} else {
			struct gt_vld_msgs m = { 0 };

			gt_vld_is_env_name(name, &m);
			gt_vld_report(v, p, name, &m);
		}
		if (!from)
			continue;
		gt_vld_path(path, "%s[%zu].valueFrom", base, i);
		if (gt_vld_get(from, "fieldRef")) {
			nsrc++;
			field_ref(v, gt_vld_get(from, "fieldRef"), gt_vld_path(p, "%s.fieldRef", path));
		}
		if (gt_vld_get(from, "resourceFieldRef")) {
			nsrc++;
			if (!gt_vld_has_str(gt_vld_get(from, "resourceFieldRef"), "resource"))
				gt_vld_required(v, gt_vld_path(p, "%s.resourceFieldRef.resource", path), "");
		}
		if (gt_vld_get(from, "configMapKeyRef")) {
			nsrc++;
			key_selector(v, gt_vld_get(from, "configMapKeyRef"),
				     gt_vld_path(p, "%s.configMapKeyRef", path));
		}
		if (gt_vld_get(from, "secretKeyRef")) {
			nsrc++;
			key_selector(v, gt_vld_get(from, "secretKeyRef"),
				     gt_vld_path(p, "%s.secretKeyRef", path));
		}
		if (nsrc == 0)
			gt_vld_invalid_str(v, path, "",
					   "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
		else if (gt_vld_has_str(ev, "value"))
			gt_vld_invalid_str(v, path, "", "may not be specified when `value` is not empty");
		else if (nsrc > 1)
			gt_vld_invalid_str(v, path, "", "may not have more than one field specified at a time");
	}
}

static void mounts(struct gt_vld *v, const json_t *list, const json_t *vols, const char *base)
{
	json_t *seen = json_object();
	char path[GT_VLD_PATH], p[GT_VLD_PATH];

	for (size_t i = 0; i < gt_vld_len(list); i++) {
		const json_t *m = json_array_get(list, i);
		const char *name = gt_vld_str(m, "name");
		const char *mp = gt_vld_str(m, "mountPath");
		const char *sub = gt_vld_str(m, "subPath");

		gt_vld_path(path, "%s[%zu]", base, i);
		gt_vld_path(p, "%s.name", path);
		if (!name || !*name)
			gt_vld_required(v, p, "");
		if (!json_object_get(vols, name ? name : ""))
			gt_vld_not_found_str(v, p, name ? name : "");
		gt_vld_path(p, "%s.mountPath", path);
		if (!mp || !*mp)
			gt_vld_required(v, p, "");
		else if (json_object_get(seen, mp))
			gt_vld_invalid_str(v, p, mp, "must be unique");
		else
			json_object_set_new(seen, mp, json_true());
		if (sub && *sub) {
			gt_vld_path(p, "%s.subPath", path);
			if (sub[0] == '/')
				gt_vld_invalid_str(v, p, sub, "must be a relative path");
			if (!strcmp(sub, "..") || !strncmp(sub, "../", 3) || strstr(sub, "/../") ||
			    (strlen(sub) >= 3 && !strcmp(sub + strlen(sub) - 3, "/..")))
				gt_vld_invalid_str(v, p, sub, "must not contain '..'");
		}
	}
	json_decref(seen);
}

static void handler(struct gt_vld *v, const json_t *h, const char *base)
{
	static const char *const kinds[] = { "exec", "httpGet", "tcpSocket", "grpc", "sleep", NULL };
	static const char *const schemes[] = { "HTTP", "HTTPS", NULL };
	char p[GT_VLD_PATH], hp[GT_VLD_PATH];
	int n = 0;

	for (size_t i = 0; kinds[i]; i++) {
		const json_t *a = gt_vld_get(h, kinds[i]);

		if (!a)
			continue;
		gt_vld_path(hp, "%s.%s", base, kinds[i]);
		if (n++) {
			gt_vld_forbidden(v, hp, "may not specify more than 1 handler type");
			continue;
		}
		if (!strcmp(kinds[i], "exec") && !gt_vld_len(gt_vld_get(a, "command")))
			gt_vld_required(v, gt_vld_path(p, "%s.command", hp), "");
		if (!strcmp(kinds[i], "httpGet")) {
			const char *scheme = gt_vld_str(a, "scheme");

			if (!gt_vld_has_str(a, "path"))
				gt_vld_required(v, gt_vld_path(p, "%s.path", hp), "");
			port_num_or_name(v, gt_vld_get(a, "port"), gt_vld_path(p, "%s.port", hp));
			if (!scheme || (strcmp(scheme, "HTTP") && strcmp(scheme, "HTTPS")))
				gt_vld_not_supported(v, gt_vld_path(p, "%s.scheme", hp), scheme ? scheme : "",
						     schemes);
		}
		if (!strcmp(kinds[i], "tcpSocket"))
			port_num_or_name(v, gt_vld_get(a, "port"), gt_vld_path(p, "%s.port", hp));
	}
	if (!n)
		gt_vld_required(v, base, "must specify a handler type");
}

static void probe(struct gt_vld *v, const json_t *pr, const char *base, bool success_one)
{
	static const char *const fields[] = { "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
					      "successThreshold", "failureThreshold", NULL };
	char p[GT_VLD_PATH];
	int64_t n;

	if (!pr)
		return;
	handler(v, pr, base);
	for (size_t i = 0; fields[i]; i++)
		gt_vld_nonneg(v, pr, fields[i], base);
	if (gt_vld_int(pr, "terminationGracePeriodSeconds", &n) && n <= 0)
		gt_vld_invalid_int(v, gt_vld_path(p, "%s.terminationGracePeriodSeconds", base), n,
				   "must be greater than 0");
	if (success_one && gt_vld_int(pr, "successThreshold", &n) && n != 1)
		gt_vld_invalid_int(v, gt_vld_path(p, "%s.successThreshold", base), n, "must be 1");
}

static bool standard_container_resource(const char *name)
{
	return !strcmp(name, "cpu") || !strcmp(name, "memory") || !strcmp(name, "ephemeral-storage") ||
	       !strncmp(name, "hugepages-", 10);
}

/* Native: no domain, or a kubernetes.io domain.  Overcommit: native, not hugepages. */
static bool overcommit_allowed(const char *name)
{
	bool native = !strchr(name, '/') || strstr(name, "kubernetes.io/");

	return native && strncmp(name, "hugepages-", 10);
}

static void resource_list(struct gt_vld *v, const json_t *list, const char *base)
{
	const char *k;
	json_t *q;
	char p[GT_VLD_PATH], txt[GT_QUANTITY_STRLEN];

	if (!json_is_object(list))
		return;
	json_object_foreach((json_t *)list, k, q) {
		struct gt_vld_msgs m = { 0 };
		struct gt_quantity val;

		gt_vld_path(p, "%s[%s]", base, k);
		gt_vld_is_qualified_name(k, &m);
		gt_vld_report(v, p, k, &m);
		if (!strchr(k, '/') && !standard_container_resource(k))
			gt_vld_invalid_str(v, p, k, "must be a standard resource for containers");
		if (!gt_vld_qty(q, &val))
			continue;
		gt_quantity_format(&val, txt);
		if (val.nano < 0)
			gt_vld_invalid_str(v, p, txt, "must be greater than or equal to 0");
		else if (!overcommit_allowed(k) && strncmp(k, "hugepages-", 10) &&
			 gt_quantity_milli(&val) % 1000 != 0)
			gt_vld_invalid_str(v, p, txt, "must be an integer");
	}
}

static void resources(struct gt_vld *v, const json_t *res, const char *base)
{
	const json_t *lim = gt_vld_get(res, "limits");
	const json_t *req = gt_vld_get(res, "requests");
	char lp[GT_VLD_PATH], rp[GT_VLD_PATH], d[GT_VLD_MSG], rt[GT_QUANTITY_STRLEN], lt[GT_QUANTITY_STRLEN];
	const char *k;
	json_t *q;

	gt_vld_path(lp, "%s.limits", base);
	gt_vld_path(rp, "%s.requests", base);
	resource_list(v, lim, lp);
	resource_list(v, req, rp);
	if (!json_is_object(req))
		return;
	json_object_foreach((json_t *)req, k, q) {
		const json_t *l = gt_vld_get(lim, k);
		struct gt_quantity rv, lv;

		if (!l) {
			if (!overcommit_allowed(k))
				gt_vld_required(v, lp, "Limit must be set for non overcommitable resources");
			continue;
		}
		if (!gt_vld_qty(q, &rv) || !gt_vld_qty(l, &lv))
			continue;
		gt_quantity_format(&rv, rt);
		gt_quantity_format(&lv, lt);
		if (gt_quantity_cmp(&rv, &lv) != 0 && !overcommit_allowed(k)) {
			snprintf(d, sizeof(d), "must be equal to %s limit of %s", k, lt);
			gt_vld_invalid_str(v, rp, rt, d);
		} else if (gt_quantity_cmp(&rv, &lv) > 0) {
			snprintf(d, sizeof(d), "must be less than or equal to %s limit of %s", k, lt);
			gt_vld_invalid_str(v, rp, rt, d);
		}
	}
}

static void container(struct gt_vld *v, const json_t *c, const json_t *vols, const char *path,
		      bool init)
{
	static const char *const pull[] = { "Always", "IfNotPresent", "Never", NULL };
	static const char *const tmp[] = { "File", "FallbackToLogsOnError", NULL };
	const char *name = gt_vld_str(c, "name");
	const char *image = gt_vld_str(c, "image");
	char p[GT_VLD_PATH];

	gt_vld_path(p, "%s.name", path);
	if (!name || !*name)
		gt_vld_required(v, p, "");
	else
		dns_label(v, p, name);
	gt_vld_path(p, "%s.image", path);
	if (!image || !*image)
		gt_vld_required(v, p, "");
	else if (image[0] == ' ' || image[strlen(image) - 1] == ' ')
		gt_vld_invalid_str(v, p, image, "must not have leading or trailing whitespace");
	if (!init) {
		probe(v, gt_vld_get(c, "livenessProbe"), gt_vld_path(p, "%s.livenessProbe", path), true);
		probe(v, gt_vld_get(c, "readinessProbe"), gt_vld_path(p, "%s.readinessProbe", path), false);
		probe(v, gt_vld_get(c, "startupProbe"), gt_vld_path(p, "%s.startupProbe", path), true);
	}
	ports(v, gt_vld_get(c, "ports"), gt_vld_path(p, "%s.ports", path));
	env(v, gt_vld_get(c, "env"), gt_vld_path(p, "%s.env", path));
	mounts(v, gt_vld_get(c, "volumeMounts"), vols, gt_vld_path(p, "%s.volumeMounts", path));
	enum_field(v, c, "terminationMessagePolicy", path, tmp);
	enum_field(v, c, "imagePullPolicy", path, pull);
	resources(v, gt_vld_get(c, "resources"), gt_vld_path(p, "%s.resources", path));
}

static void containers(struct gt_vld *v, const json_t *list, const json_t *vols, json_t *names,
		       const char *base, bool init)
{
	char path[GT_VLD_PATH], p[GT_VLD_PATH];

	for (size_t i = 0; i < gt_vld_len(list); i++) {
		const json_t *c = json_array_get(list, i);
		const char *name = gt_vld_str(c, "name");

		gt_vld_path(path, "%s[%zu]", base, i);
		container(v, c, vols, path, init);
		if (!name)
			continue;
		if (json_object_get(names, name))
			gt_vld_duplicate_str(v, gt_vld_path(p, "%s.name", path), name);
		else
			json_object_set_new(names, name, json_true());
	}
}

static void tolerations(struct gt_vld *v, const json_t *list, const char *base)
{
	static const char *const ops[] = { "Equal", "Exists", NULL };
	static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute", NULL };
	char path[GT_VLD_PATH], p[GT_VLD_PATH];

	for (size_t i = 0; i < gt_vld_len(list); i++) {
		const json_t *t = json_array_get(list, i);
		const char *key = gt_vld_str(t, "key");
		const char *op = gt_vld_str(t, "operator");
		const char *val = gt_vld_str(t, "value");
		const char *eff = gt_vld_str(t, "effect");
		int64_t secs;

		if (!op)
			op = "";
		gt_vld_path(path, "%s[%zu]", base, i);
		if (key && *key) {
			struct gt_vld_msgs m = { 0 };

			gt_vld_is_qualified_name(key, &m);
			gt_vld_report(v, gt_vld_path(p, "%s.key", path), key, &m);
		} else if (strcmp(op, "Exists")) {
			gt_vld_invalid_str(v, gt_vld_path(p, "%s.operator", path), op,
					   "operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
		}
		if (gt_vld_int(t, "tolerationSeconds", &secs) && (!eff || strcmp(eff, "NoExecute")))
			gt_vld_invalid_str(v, gt_vld_path(p, "%s.effect", path), eff ? eff : "",
					   "effect must be 'NoExecute' when `tolerationSeconds` is set");
		gt_vld_path(p, "%s.operator", path);
		if (!*op || !strcmp(op, "Equal")) {
			struct gt_vld_msgs m = { 0 };
			char joined[GT_VLD_MSG * 2];

			gt_vld_is_label_value(val ? val : "", &m);
			if (m.n) {
				gt_vld_join(&m, joined, sizeof(joined));
				gt_vld_invalid_str(v, p, val, joined);
			}
		} else if (!strcmp(op, "Exists")) {
			if (val && *val)
				gt_vld_invalid(v, p, "core.Toleration{...}", "value must be empty when `operator` is 'Exists'");
		} else {
			gt_vld_not_supported(v, p, op, ops);
		}
		if (eff && *eff && strcmp(eff, "NoSchedule") && strcmp(eff, "PreferNoSchedule") &&
		    strcmp(eff, "NoExecute"))
			gt_vld_not_supported(v, gt_vld_path(p, "%s.effect", path), eff, effects);
	}
}

void gt_vld_podspec(struct gt_vld *v, const json_t *spec, const char *path, unsigned flags)
{
	static const char *const restart[] = { "Always", "OnFailure", "Never", NULL };
	static const char *const dns[] = { "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None", NULL };
	const json_t *ctrs = gt_vld_get(spec, "containers");
	json_t *vols, *names = json_object();
	char p[GT_VLD_PATH];
	const char *s;
	int64_t n;

	vols = volumes(v, gt_vld_get(spec, "volumes"), gt_vld_path(p, "%s.volumes", path));
	gt_vld_path(p, "%s.containers", path);
	if (!gt_vld_len(ctrs))
		gt_vld_required(v, p, "");
	containers(v, ctrs, vols, names, p, false);
	containers(v, gt_vld_get(spec, "initContainers"), vols, names,
		   gt_vld_path(p, "%s.initContainers", path), true);
	if (!(flags & GT_PS_RESTART_OPTIONAL) || gt_vld_get(spec, "restartPolicy"))
		enum_field(v, spec, "restartPolicy", path, restart);
	enum_field(v, spec, "dnsPolicy", path, dns);
	gt_vld_labels(v, gt_vld_get(spec, "nodeSelector"), gt_vld_path(p, "%s.nodeSelector", path));
	if ((s = gt_vld_str(spec, "serviceAccountName")) && *s)
		subdomain(v, gt_vld_path(p, "%s.serviceAccountName", path), s);
	if ((s = gt_vld_str(spec, "nodeName")) && *s)
		subdomain(v, gt_vld_path(p, "%s.nodeName", path), s);
	if (gt_vld_int(spec, "activeDeadlineSeconds", &n) && (n < 1 || n > INT32_MAX))
		gt_vld_invalid_int(v, gt_vld_path(p, "%s.activeDeadlineSeconds", path), n,
				   "must be between 1 and 2147483647, inclusive");
	if ((s = gt_vld_str(spec, "hostname")) && *s)
		dns_label(v, gt_vld_path(p, "%s.hostname", path), s);
	if ((s = gt_vld_str(spec, "subdomain")) && *s)
		dns_label(v, gt_vld_path(p, "%s.subdomain", path), s);
	tolerations(v, gt_vld_get(spec, "tolerations"), gt_vld_path(p, "%s.tolerations", path));
	gt_vld_spread(v, gt_vld_get(spec, "topologySpreadConstraints"),
		      gt_vld_path(p, "%s.topologySpreadConstraints", path));
	if ((s = gt_vld_str(spec, "priorityClassName")) && *s)
		subdomain(v, gt_vld_path(p, "%s.priorityClassName", path), s);
	if ((s = gt_vld_str(spec, "schedulerName")) && *s)
		subdomain(v, gt_vld_path(p, "%s.schedulerName", path), s);
	json_decref(vols);
	json_decref(names);
}

void gt_vld_pod_template(struct gt_vld *v, const json_t *tmpl, const char *path, unsigned flags)
{
	const json_t *meta = gt_vld_get(tmpl, "metadata");
	char p[GT_VLD_PATH];

	/* ValidatePodTemplateSpec: labels and annotations of the template */
	gt_vld_labels(v, gt_vld_get(meta, "labels"), gt_vld_path(p, "%s.metadata.labels", path));
	gt_vld_podspec(v, gt_vld_get(tmpl, "spec"), gt_vld_path(p, "%s.spec", path), flags);
}

void gt_vld_pod(struct gt_vld *v, const json_t *obj)
{
	gt_vld_podspec(v, gt_vld_get(obj, "spec"), "spec", 0);
}

/* ---- update ---- */

/* Copies old's container images over new's (by index) in the munged spec. */
static void munge_images(json_t *spec, const json_t *ospec, const char *key)
{
	json_t *list = json_object_get(spec, key);
	const json_t *olist = gt_vld_get(ospec, key);

	for (size_t i = 0; i < gt_vld_len(list) && i < gt_vld_len(olist); i++) {
		json_t *c = json_array_get(list, i);
		json_t *img = json_object_get(json_array_get(olist, i), "image");

		if (!json_is_object(c))
			continue;
		if (img)
			json_object_set(c, "image", img);
		else
			json_object_del(c, "image");
	}
}

static bool tolerations_added_only(const json_t *nt, const json_t *ot)
{
	for (size_t i = 0; i < gt_vld_len(ot); i++) {
		bool found = false;

		for (size_t j = 0; j < gt_vld_len(nt) && !found; j++)
			found = json_equal(json_array_get(ot, i), json_array_get(nt, j));
		if (!found)
			return false;
	}
	return true;
}

static void copy_member(json_t *dst, const json_t *src, const char *key)
{
	json_t *m = json_object_get(src, key);

	if (m)
		json_object_set(dst, key, m);
	else
		json_object_del(dst, key);
}

void gt_vld_pod_update(struct gt_vld *v, const json_t *obj, const json_t *old)
{
	const json_t *nspec = gt_vld_get(obj, "spec");
	const json_t *ospec = gt_vld_get(old, "spec");
	json_t *munged;
	int64_t og, ng;

	if (!json_is_object(nspec) || !json_is_object(ospec))
		return;
	munged = json_deep_copy(nspec);
	munge_images(munged, ospec, "containers");
	munge_images(munged, ospec, "initContainers");
	copy_member(munged, ospec, "activeDeadlineSeconds");
	/*
	 * Binding (pods/NAME/binding) sets nodeName once.  Kubernetes binds
	 * outside the update path; Gantry's binding goes through it, so an
	 * unscheduled pod may gain a nodeName here.
	 */
	if (!gt_vld_has_str(ospec, "nodeName"))
		copy_member(munged, ospec, "nodeName");
	if (tolerations_added_only(gt_vld_get(nspec, "tolerations"), gt_vld_get(ospec, "tolerations")))
		copy_member(munged, ospec, "tolerations");
	if (gt_vld_int(ospec, "terminationGracePeriodSeconds", &og) && og < 0 &&
	    gt_vld_int(nspec, "terminationGracePeriodSeconds", &ng) && ng == 1)
		copy_member(munged, ospec, "terminationGracePeriodSeconds");
	if (!json_equal(munged, ospec))
		gt_vld_forbidden(v, "spec",
				 "pod updates may not change fields other than `spec.containers[*].image`,"
				 "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
				 "`spec.tolerations` (only additions to existing tolerations),"
				 "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)");
	json_decref(munged);
}
