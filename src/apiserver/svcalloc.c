/*
 * svcalloc.c - what kube-apiserver's Service REST storage allocates: a
 * ClusterIP from 10.96.0.0/16 (10.96.0.1 and 10.96.0.10 stay reserved for
 * the kubernetes and DNS Services, as kubeadm lays them out) and node ports
 * from 30000-32767, none used by another Service.  A requested ClusterIP or
 * node port is checked against the range and the others ("provided IP is
 * already allocated", 422 with the field path).  Callers hold
 * api->alloc_lock from the allocation until the write is stored, so two
 * concurrent creates never get the same address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/internal.h"

#define NP_MIN 30000
#define NP_MAX 32767

struct used {
	const char *ns, *name;        /* the Service being written (not counted) */
	unsigned char ips[65536];
	unsigned char ports[2][NP_MAX - NP_MIN + 1]; /* [0] TCP/SCTP, [1] UDP */
};

static int ip_index(const char *ip)
{
	unsigned a, b, c, d;
	char end;

	if (!ip || sscanf(ip, "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) != 4 || a != 10 || b != 96 ||
	    c > 255 || d > 255)
		return -1;
	return (int)(c * 256 + d);
}

static int proto_slot(const json_t *p)
{
	const char *pr = gt_json_str(p, "protocol");

	return pr && !strcmp(pr, "UDP") ? 1 : 0;
}

static int mark(struct gt_obj *o, void *ctx)
{
	struct used *u = ctx;
	const json_t *p;
	size_t i;
	int k;

	if (!strcmp(gt_json_str(o->obj, "metadata.namespace") ?: "", u->ns) &&
	    !strcmp(gt_json_str(o->obj, "metadata.name") ?: "", u->name))
		return 0;
	if ((k = ip_index(gt_json_str(o->obj, "spec.clusterIP"))) >= 0)
		u->ips[k] = 1;
	json_array_foreach(gt_json_path(o->obj, "spec.ports"), i, p) {
		int64_t np;

		if (gt_json_int(p, "nodePort", &np) == 0 && np >= NP_MIN && np <= NP_MAX)
			u->ports[proto_slot(p)][np - NP_MIN] = 1;
	}
	return 0;
}

static int invalid(struct gt_err *err, const char *svc, const char *field, const char *value,
		   const char *why)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "Invalid value: %s: %s", value, why);
	gt_err_set(err, -EBADMSG, "Service \"%s\" is invalid: %s: %s", svc, field, msg);
	gt_err_cause(err, field, "FieldValueInvalid", "%s", msg);
	return -EBADMSG;
}

static int cluster_ip(struct used *u, json_t *svc, const json_t *old, struct gt_err *err)
{
	const char *type = gt_json_str(svc, "spec.type");
	const char *ip = gt_json_str(svc, "spec.clusterIP");
	const char *oip = old ? gt_json_str(old, "spec.clusterIP") : NULL;
	char buf[16], q[64];
	int k;

	if (type && !strcmp(type, "ExternalName"))
		return 0;
	if (ip && (!strcmp(ip, "None") || (oip && !strcmp(ip, oip))))
		return 0;
	if (ip && *ip) {
		snprintf(q, sizeof(q), "\"%.40s\"", ip);
		if ((k = ip_index(ip)) < 0 || k == 0 || k == 65535)
			return invalid(err, u->name, "spec.clusterIPs[0]", q,
				       "provided IP is not in the valid range. The range of valid IPs "
				       "is 10.96.0.0/16");
		if (u->ips[k])
			return invalid(err, u->name, "spec.clusterIPs[0]", q,
				       "failed to allocate IP: provided IP is already allocated");
		if (!gt_json_path(svc, "spec.clusterIPs"))
			gt_json_set(svc, "spec.clusterIPs", json_pack("[s]", ip));
		return 0;
	}
	u->ips[0] = u->ips[1] = u->ips[10] = u->ips[65535] = 1;
	for (k = 2; k < 65535 && u->ips[k]; k++)
		;
	if (k == 65535)
		return gt_err_set(err, -ENOSPC, "Internal error occurred: failed to allocate a "
				  "serviceIP: range is full");
	snprintf(buf, sizeof(buf), "10.96.%d.%d", k / 256, k % 256);
	gt_json_set_str(svc, "spec.clusterIP", buf);
	gt_json_set(svc, "spec.clusterIPs", json_pack("[s]", buf));
	return 0;
}

static int node_ports(struct used *u, json_t *svc, struct gt_err *err)
{
	const char *type = gt_json_str(svc, "spec.type");
	json_t *p;
	size_t i;

	if (!type || (strcmp(type, "NodePort") && strcmp(type, "LoadBalancer")))
		return 0;
	/* requested ports first, so a free pick never takes one of them */
	json_array_foreach(gt_json_path(svc, "spec.ports"), i, p) {
		int64_t np = 0;
		char f[64], v[32];

		if (!json_is_object(p) || gt_json_int(p, "nodePort", &np) < 0 || !np)
			continue;
		snprintf(f, sizeof(f), "spec.ports[%zu].nodePort", i);
		snprintf(v, sizeof(v), "%lld", (long long)np);
		if (np < NP_MIN || np > NP_MAX)
			return invalid(err, u->name, f, v, "provided port is not in the valid range. "
				       "The range of valid ports is 30000-32767");
		if (u->ports[proto_slot(p)][np - NP_MIN])
			return invalid(err, u->name, f, v, "provided port is already allocated");
		u->ports[proto_slot(p)][np - NP_MIN] = 1;
	}
	json_array_foreach(gt_json_path(svc, "spec.ports"), i, p) {
		int64_t np = 0;
		int start = rand() % (NP_MAX - NP_MIN + 1), k;

		if (!json_is_object(p) || (gt_json_int(p, "nodePort", &np) == 0 && np))
			continue;
		for (k = 0; k <= NP_MAX - NP_MIN; k++)
			if (!u->ports[proto_slot(p)][(start + k) % (NP_MAX - NP_MIN + 1)])
				break;
		if (k > NP_MAX - NP_MIN)
			return gt_err_set(err, -ENOSPC, "Internal error occurred: failed to allocate a "
					  "nodePort: range is full");
		k = (start + k) % (NP_MAX - NP_MIN + 1);
		u->ports[proto_slot(p)][k] = 1;
		json_object_set_new(p, "nodePort", json_integer(NP_MIN + k));
	}
	return 0;
}

int gt_svc_allocate(struct gt_api *api, json_t *svc, const json_t *old, struct gt_err *err)
{
	struct used *u = xcalloc(1, sizeof(*u));
	int rc;

	u->ns = gt_json_str(svc, "metadata.namespace") ?: "";
	u->name = gt_json_str(svc, "metadata.name") ?: "";
	gt_store_list(api->store, "core/services/", NULL, mark, u, NULL);
	rc = cluster_ip(u, svc, old, err);
	if (rc == 0)
		rc = node_ports(u, svc, err);
	free(u);
	return rc;
}
