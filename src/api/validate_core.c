/*
 * validate_core.c - validation of the core/v1 kinds other than Pod:
 * Service, Namespace, ConfigMap, Secret, PersistentVolumeClaim, Node and
 * Event, with their update rules (Service clusterIP, immutable ConfigMaps
 * and Secrets, PVC spec), following kubernetes/pkg/apis/core/validation.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "api/validate_int.h"

#define MAX_SECRET_SIZE (1024 * 1024)

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

static bool is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* ---- Service ---- */

static void service_port(struct gt_vld *v, const json_t *sp, bool require_name, json_t *names,
			 const char *type, const char *path)
{
	const char *name = gt_vld_str(sp, "name");
	const char *proto = gt_vld_str(sp, "protocol");
	const json_t *target = gt_vld_get(sp, "targetPort");
	char p[GT_VLD_PATH];
	int64_t n = 0;

	gt_vld_path(p, "%s.name", path);
	if (require_name && (!name || !*name)) {
		gt_vld_required(v, p, "");
	} else if (name && *name) {
		struct gt_vld_msgs m = { 0 };

		gt_vld_is_dns1123_label(name, &m);
		gt_vld_report(v, p, name, &m);
		if (json_object_get(names, name))
			gt_vld_duplicate_str(v, p, name);
		else
			json_object_set_new(names, name, json_true());
	}
	gt_vld_int(sp, "port", &n);
	if (n < 1 || n > 65535)
		gt_vld_invalid_int(v, gt_vld_path(p, "%s.port", path), n,
				   "must be between 1 and 65535, inclusive");
	gt_vld_path(p, "%s.protocol", path);
	if (!proto || !*proto)
		gt_vld_required(v, p, "");
	else if (strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "SCTP"))
		gt_vld_not_supported(v, p, proto, protocols);
	gt_vld_path(p, "%s.targetPort", path);
	if (json_is_integer(target)) {
		n = json_integer_value(target);
		if (n < 1 || n > 65535)
			gt_vld_invalid_int(v, p, n, "must be between 1 and 65535, inclusive");
	} else if (json_is_string(target)) {
		struct gt_vld_msgs m = { 0 };

		gt_vld_is_port_name(json_string_value(target), &m);
		gt_vld_report(v, p, json_string_value(target), &m);
	}
	if (gt_vld_int(sp, "nodePort", &n) && n != 0 && type && !strcmp(type, "ClusterIP"))
		gt_vld_forbidden(v, gt_vld_path(p, "%s.nodePort", path),
				 "may not be used when `type` is 'ClusterIP'");
}

void gt_vld_service(struct gt_vld *v, const json_t *obj)
{
	static const char *const types[] = { "ClusterIP", "ExternalName", "LoadBalancer", "NodePort", NULL };
	static const char *const affinity[] = { "ClientIP", "None", NULL };
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *ports = gt_vld_get(spec, "ports");
	const char *type = gt_vld_str(spec, "type");
	const char *cip = gt_vld_str(spec, "clusterIP");
	const char *aff = gt_vld_str(spec, "sessionAffinity");
	bool headless = cip && !strcmp(cip, "None");
	bool extname = type && !strcmp(type, "ExternalName");
	json_t *names = json_object(), *seen = json_object();
	char p[GT_VLD_PATH];

	if (!gt_vld_len(ports) && !headless && !extname)
		gt_vld_required(v, "spec.ports", "");
	for (size_t i = 0; i < gt_vld_len(ports); i++)
		service_port(v, json_array_get(ports, i), gt_vld_len(ports) > 1, names, type,
			     gt_vld_path(p, "spec.ports[%zu]", i));
	for (size_t i = 0; i < gt_vld_len(ports); i++) {
		const json_t *sp = json_array_get(ports, i);
		const char *proto = gt_vld_str(sp, "protocol");
		int64_t port = 0;
		char key[64], q[64];

		gt_vld_int(sp, "port", &port);
		snprintf(key, sizeof(key), "%lld/%s", (long long)port, proto ? proto : "");
		if (json_object_get(seen, key)) {
			gt_vld_quote(proto ? proto : "", q, sizeof(q));
			snprintf(key, sizeof(key), "%lld", (long long)port);
			{
				char val[300];

				snprintf(val, sizeof(val),
					 "core.ServicePort{Name:\"\", Protocol:%s, AppProtocol:(*string)(nil), Port:%s, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
					 q, key);
				gt_vld_duplicate(v, gt_vld_path(p, "spec.ports[%zu]", i), val);
			}
		} else {
			json_object_set_new(seen, key, json_true());
		}
	}
	json_decref(names);
	json_decref(seen);
	if (!type || !*type)
		gt_vld_required(v, "spec.type", "");
	else if (strcmp(type, "ClusterIP") && strcmp(type, "NodePort") &&
		 strcmp(type, "LoadBalancer") && strcmp(type, "ExternalName"))
		gt_vld_not_supported(v, "spec.type", type, types);
	gt_vld_labels(v, gt_vld_get(spec, "selector"), "spec.selector");
	if (!aff || !*aff)
		gt_vld_required(v, "spec.sessionAffinity", "");
	else if (strcmp(aff, "ClientIP") && strcmp(aff, "None"))
		gt_vld_not_supported(v, "spec.sessionAffinity", aff, affinity);
	if (extname) {
		const char *cname = gt_vld_str(spec, "externalName");

		if (cip && *cip)
			gt_vld_forbidden(v, "spec.clusterIPs", "may not be set for ExternalName services");
		if (!cname || !*cname || !strcmp(cname, ".")) {
			gt_vld_required(v, "spec.externalName", "");
		} else {
			struct gt_vld_msgs m = { 0 };
			char *trim = xstrdup(cname);

			if (trim[strlen(trim) - 1] == '.')
				trim[strlen(trim) - 1] = '\0';
			gt_vld_is_dns1123_subdomain(trim, &m);
			gt_vld_report(v, "spec.externalName", trim, &m);
			free(trim);
		}
	} else if (cip && *cip && !headless && !is_ip(cip)) {
		gt_vld_invalid_str(v, "spec.clusterIPs[0]", cip,
				   "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
	}
	for (size_t i = 0; i < gt_vld_len(gt_vld_get(spec, "externalIPs")); i++) {
		const char *ip = json_string_value(json_array_get(gt_vld_get(spec, "externalIPs"), i));

		if (ip && !is_ip(ip))
			gt_vld_invalid_str(v, gt_vld_path(p, "spec.externalIPs[%zu]", i), ip,
					   "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
	}
}

void gt_vld_service_update(struct gt_vld *v, const json_t *obj, const json_t *old)
{
	const char *ntype = json_string_value(gt_json_path(obj, "spec.type"));
	const char *otype = json_string_value(gt_json_path(old, "spec.type"));
	const char *nip = json_string_value(gt_json_path(obj, "spec.clusterIP"));
	const char *oip = json_string_value(gt_json_path(old, "spec.clusterIP"));

	if ((ntype && !strcmp(ntype, "ExternalName")) || (otype && !strcmp(otype, "ExternalName")))
		return;
	/* An empty clusterIP in an update keeps the allocated one (see gt_defaults_update). */
	if (nip && *nip && oip && *oip && strcmp(nip, oip))
		gt_vld_invalid_str(v, "spec.clusterIPs[0]", nip, "may not change once set");
}

/* ---- Namespace ---- */

void gt_vld_namespace(struct gt_vld *v, const json_t *obj)
{
	const json_t *fins = gt_json_path(obj, "spec.finalizers");

	for (size_t i = 0; i < gt_vld_len(fins); i++) {
		const char *f = json_string_value(json_array_get(fins, i));
		struct gt_vld_msgs m = { 0 };

		if (!f)
			continue;
		gt_vld_is_qualified_name(f, &m);
		gt_vld_report(v, "spec.finalizers", f, &m);
		if (!strchr(f, '/') && strcmp(f, "kubernetes") && strcmp(f, "orphan") &&
		    strcmp(f, "foregroundDeletion"))
			gt_vld_invalid_str(v, "spec.finalizers", f,
					   "name is neither a standard finalizer name nor is it fully qualified");
	}
}

/* ---- ConfigMap and Secret ---- */

static size_t data_keys(struct gt_vld *v, const json_t *data, const char *base, bool b64)
{
	const char *k;
	json_t *val;
	size_t total = 0;
	char p[GT_VLD_PATH];

	if (!json_is_object(data))
		return 0;
	json_object_foreach((json_t *)data, k, val) {
		struct gt_vld_msgs m = { 0 };

		gt_vld_is_config_key(k, &m);
		gt_vld_report(v, gt_vld_path(p, "%s[%s]", base, k), k, &m);
		if (json_is_string(val))
			total += b64 ? json_string_length(val) / 4 * 3 : json_string_length(val);
	}
	return total;
}

void gt_vld_configmap(struct gt_vld *v, const json_t *obj)
{
	const json_t *data = gt_vld_get(obj, "data");
	const json_t *bin = gt_vld_get(obj, "binaryData");
	size_t total = data_keys(v, data, "data", false) + data_keys(v, bin, "binaryData", true);
	const char *k;
	json_t *val;
	char p[GT_VLD_PATH];

	if (json_is_object(data) && json_is_object(bin)) {
		json_object_foreach((json_t *)data, k, val) {
			if (json_object_get(bin, k))
				gt_vld_invalid_str(v, gt_vld_path(p, "data[%s]", k), k,
						   "duplicate of key present in binaryData");
		}
	}
	if (total > MAX_SECRET_SIZE)
		gt_vld_too_long(v, "", MAX_SECRET_SIZE);
}

static void immutable_data(struct gt_vld *v, const json_t *obj, const json_t *old, const char *const *keys)
{
	if (!gt_vld_bool(old, "immutable", false))
		return;
	if (!gt_vld_bool(obj, "immutable", false))
		gt_vld_forbidden(v, "immutable", "field is immutable when `immutable` is set");
	for (size_t i = 0; keys[i]; i++)
		if (!gt_json_equal(gt_vld_get(obj, keys[i]), gt_vld_get(old, keys[i])))
			gt_vld_forbidden(v, keys[i], "field is immutable when `immutable` is set");
}

void gt_vld_configmap_update(struct gt_vld *v, const json_t *obj, const json_t *old)
{
	static const char *const keys[] = { "data", "binaryData", NULL };

	immutable_data(v, obj, old, keys);
}

static bool has_key(const json_t *data, const char *k)
{
	return gt_vld_get(data, k) != NULL;
}

void gt_vld_secret(struct gt_vld *v, const json_t *obj)
{
	const json_t *data = gt_vld_get(obj, "data");
	const char *type = gt_vld_str(obj, "type");
	size_t total = data_keys(v, data, "data", true);

	if (total > MAX_SECRET_SIZE)
		gt_vld_too_long(v, "data", MAX_SECRET_SIZE);
	if (!type)
		return;
	if (!strcmp(type, "kubernetes.io/service-account-token")) {
		const char *sa = json_string_value(
			gt_vld_get(gt_json_path(obj, "metadata.annotations"), "kubernetes.io/service-account.name"));

		if (!sa || !*sa)
			gt_vld_required(v, "metadata.annotations[kubernetes.io/service-account.name]", "");
	} else if (!strcmp(type, "kubernetes.io/dockercfg")) {
		if (!has_key(data, ".dockercfg"))
			gt_vld_required(v, "data[.dockercfg]", "");
	} else if (!strcmp(type, "kubernetes.io/dockerconfigjson")) {
		if (!has_key(data, ".dockerconfigjson"))
			gt_vld_required(v, "data[.dockerconfigjson]", "");
	} else if (!strcmp(type, "kubernetes.io/basic-auth")) {
		if (!has_key(data, "username") && !has_key(data, "password")) {
			gt_vld_required(v, "data[username]", "");
			gt_vld_required(v, "data[password]", "");
		}
	} else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
		const char *k = gt_vld_str(data, "ssh-privatekey");

		if (!k || !*k)
			gt_vld_required(v, "data[ssh-privatekey]", "");
	} else if (!strcmp(type, "kubernetes.io/tls")) {
		if (!has_key(data, "tls.crt"))
			gt_vld_required(v, "data[tls.crt]", "");
		if (!has_key(data, "tls.key"))
			gt_vld_required(v, "data[tls.key]", "");
	}
}

void gt_vld_secret_update(struct gt_vld *v, const json_t *obj, const json_t *old)
{
	static const char *const keys[] = { "data", NULL };

	gt_vld_immutable(v, gt_vld_get(obj, "type"), gt_vld_get(old, "type"), "type");
	immutable_data(v, obj, old, keys);
}

/* ---- PersistentVolumeClaim ---- */

void gt_vld_pvc(struct gt_vld *v, const json_t *obj)
{
	static const char *const modes[] = { "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
					     "ReadWriteOncePod", NULL };
	static const char *const vmodes[] = { "Block", "Filesystem", NULL };
	const json_t *spec = gt_vld_get(obj, "spec");
	const json_t *am = gt_vld_get(spec, "accessModes");
	const json_t *storage = gt_vld_get(gt_json_path(spec, "resources.requests"), "storage");
	const char *sc = gt_vld_str(spec, "storageClassName");
	const char *vm = gt_vld_str(spec, "volumeMode");
	struct gt_quantity q;

	if (!gt_vld_len(am))
		gt_vld_required(v, "spec.accessModes", "at least 1 access mode is required");
	gt_vld_selector(v, gt_vld_get(spec, "selector"), "spec.selector");
	for (size_t i = 0; i < gt_vld_len(am); i++) {
		const char *m = json_string_value(json_array_get(am, i));
		bool ok = false;

		for (size_t j = 0; m && modes[j]; j++)
			ok |= !strcmp(m, modes[j]);
		if (!ok)
			gt_vld_not_supported(v, "spec.accessModes", m ? m : "", modes);
	}
	if (!storage) {
		gt_vld_required(v, "spec.resources[storage]", "");
	} else if (gt_vld_qty(storage, &q) && q.nano <= 0) {
		char txt[GT_QUANTITY_STRLEN];

		gt_quantity_format(&q, txt);
		gt_vld_invalid_str(v, "spec.resources[storage]", txt, "must be greater than zero");
	}
	if (sc && *sc) {
		struct gt_vld_msgs m = { 0 };

		gt_vld_is_dns1123_subdomain(sc, &m);
		gt_vld_report(v, "spec.storageClassName", sc, &m);
	}
	if (vm && strcmp(vm, "Block") && strcmp(vm, "Filesystem"))
		gt_vld_not_supported(v, "spec.volumeMode", vm, vmodes);
}

void gt_vld_pvc_update(struct gt_vld *v, const json_t *obj, const json_t *old)
{
	const json_t *nspec = gt_vld_get(obj, "spec");
	const json_t *ospec = gt_vld_get(old, "spec");
	const json_t *ns = gt_vld_get(gt_json_path(nspec, "resources.requests"), "storage");
	const json_t *os = gt_vld_get(gt_json_path(ospec, "resources.requests"), "storage");
	json_t *a, *b;
	struct gt_quantity nq, oq;

	if (!json_is_object(nspec) || !json_is_object(ospec))
		return;
	a = json_deep_copy(nspec);
	b = json_deep_copy(ospec);
	/* the binder sets volumeName once; requests may change */
	if (!gt_vld_has_str(ospec, "volumeName")) {
		json_object_del(a, "volumeName");
		json_object_del(b, "volumeName");
	}
	json_object_del(gt_vld_get(a, "resources"), "requests");
	json_object_del(gt_vld_get(b, "resources"), "requests");
	if (!json_equal(a, b))
		gt_vld_forbidden(v, "spec",
				 "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims");
	if (gt_vld_qty(ns, &nq) && gt_vld_qty(os, &oq) && gt_quantity_cmp(&nq, &oq) < 0)
		gt_vld_forbidden(v, "spec.resources.requests.storage", "field can not be less than previous value");
	json_decref(a);
	json_decref(b);
}

/* ---- Node and Event (light) ---- */

void gt_vld_node(struct gt_vld *v, const json_t *obj)
{
	static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute", NULL };
	const json_t *taints = gt_json_path(obj, "spec.taints");
	char path[GT_VLD_PATH], p[GT_VLD_PATH];

	for (size_t i = 0; i < gt_vld_len(taints); i++) {
		const json_t *t = json_array_get(taints, i);
		const char *key = gt_vld_str(t, "key");
		const char *val = gt_vld_str(t, "value");
		const char *eff = gt_vld_str(t, "effect");
		struct gt_vld_msgs m = { 0 };

		gt_vld_path(path, "spec.taints[%zu]", i);
		gt_vld_path(p, "%s.key", path);
		if (!key || !*key) {
			gt_vld_required(v, p, "");
		} else {
			gt_vld_is_qualified_name(key, &m);
			gt_vld_report(v, p, key, &m);
		}
		if (val) {
			struct gt_vld_msgs vm = { 0 };

			gt_vld_is_label_value(val, &vm);
			gt_vld_report(v, gt_vld_path(p, "%s.value", path), val, &vm);
		}
		gt_vld_path(p, "%s.effect", path);
		if (!eff || !*eff)
			gt_vld_required(v, p, "");
		else if (strcmp(eff, "NoSchedule") && strcmp(eff, "PreferNoSchedule") && strcmp(eff, "NoExecute"))
			gt_vld_not_supported(v, p, eff, effects);
	}
}

void gt_vld_event(struct gt_vld *v, const json_t *obj)
{
	const char *ns = json_string_value(gt_json_path(obj, "metadata.namespace"));
	const char *ins = json_string_value(gt_json_path(obj, "involvedObject.namespace"));

	if (ns && *ns && ins && *ins && strcmp(ns, ins))
		gt_vld_invalid_str(v, "involvedObject.namespace", ins, "does not match event.namespace");
	gt_vld_nonneg(v, obj, "count", "");
}
