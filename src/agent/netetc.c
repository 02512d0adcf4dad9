/*
 * netetc.c - the pod's /etc/hosts and /etc/resolv.conf, as the kubelet
 * writes them (see gt_net_write_etc in network.h).
 */
#include <stdio.h>
#include <string.h>

#include "agent/network.h"
#include "base/util.h"

static bool has_space(const char *s)
{
	return strpbrk(s, " \t\r\n#") != NULL;
}

/* ---- /etc/hosts and /etc/resolv.conf ---- */

#define MAX_NAMESERVERS 3
#define MAX_SEARCHES 32

static void pod_hostname(const json_t *pod, char out[64])
{
	const char *h = gt_json_str(pod, "spec.hostname");
	size_t n;

	if (!h || !*h)
		h = gt_json_str(pod, "metadata.name");
	if (!h || !*h)
		h = "localhost";
	n = strlen(h);
	if (n > 63)
		n = 63;
	while (n && (h[n - 1] == '-' || h[n - 1] == '.'))
		n--;
	memcpy(out, h, n);
	out[n] = '\0';
}

static int add_aliases(const json_t *pod, struct gt_buf *b, struct gt_err *err)
{
	json_t *aliases = gt_json_path(pod, "spec.hostAliases"), *a, *h;
	size_t i, k;

	if (!json_array_size(aliases))
		return 0;
	gt_buf_adds(b, "\n# Entries added by HostAliases.\n");
	json_array_foreach(aliases, i, a) {
		const char *aip = gt_json_str(a, "ip");

		if (!aip || !*aip || has_space(aip))
			return gt_err_set(err, -EINVAL, "spec.hostAliases[%zu].ip: invalid value", i);
		gt_buf_adds(b, aip);
		json_array_foreach(json_object_get(a, "hostnames"), k, h) {
			if (!json_is_string(h) || !*json_string_value(h) || has_space(json_string_value(h)))
				return gt_err_set(err, -EINVAL, "spec.hostAliases[%zu].hostnames[%zu]: invalid value",
						  i, k);
			gt_buf_addf(b, "\t%s", json_string_value(h));
		}
		gt_buf_addc(b, '\n');
	}
	return 0;
}

static int write_hosts(const char *dir, const json_t *pod, const char *ip, bool hostnet,
		       struct gt_err *err)
{
	struct gt_buf b = GT_BUF_INIT;
	GT_AUTOFREE char *path = xasprintf("%s/etc-hosts", dir);
	GT_AUTOFREE char *host = NULL;
	const char *sub = gt_json_str(pod, "spec.subdomain");
	const char *ns = gt_json_str(pod, "metadata.namespace");
	char name[64];
	size_t hlen;
	int rc;

	gt_buf_init(&b);
	pod_hostname(pod, name);
	if (hostnet) {
		gt_buf_adds(&b, "# Kubernetes-managed hosts file (host network).\n");
		if (gt_read_file("/etc/hosts", &host, &hlen) == 0)
			gt_buf_add(&b, host, hlen);
	} else {
		gt_buf_adds(&b, "# Kubernetes-managed hosts file.\n"
			    "127.0.0.1\tlocalhost\n"
			    "::1\tlocalhost ip6-localhost ip6-loopback\n"
			    "fe00::0\tip6-localnet\n"
			    "fe00::0\tip6-mcastprefix\n"
			    "fe00::1\tip6-allnodes\n"
			    "fe00::2\tip6-allrouters\n");
		if (ip && *ip) {
			if (has_space(ip)) {
				gt_buf_release(&b);
				return gt_err_set(err, -EINVAL, "pod IP \"%s\": invalid", ip);
			}
			if (sub && *sub && !has_space(sub))
				gt_buf_addf(&b, "%s\t%s.%s.%s.svc.cluster.local\t%s\n", ip, name, sub,
					    ns ? ns : "default", name);
			else
				gt_buf_addf(&b, "%s\t%s\n", ip, name);
		}
	}
	rc = add_aliases(pod, &b, err);
	if (rc == 0) {
		rc = gt_write_file_atomic(path, b.data, b.len, 0644);
		if (rc < 0)
			gt_err_set(err, rc, "%s: %s", path, strerror(-rc));
	}
	gt_buf_release(&b);
	return rc;
}

/* Appends s to the string array a unless already there. */
static void add_uniq(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (!strcmp(json_string_value(v), s))
			return;
	json_array_append_new(a, json_string(s));
}

static bool is_loopback(const char *ns)
{
	return !strncmp(ns, "127.", 4) || !strcmp(ns, "::1");
}

/* Parses resolv.conf text: nameservers, search domains and options. */
static void parse_resolv(const char *text, json_t *servers, json_t *search, json_t *opts,
			 bool skip_loopback)
{
	GT_AUTOFREE char *copy = xstrdup(text ? text : "");
	char *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *ws = NULL, *key = strtok_r(line, " \t\r", &ws), *w;

		if (!key || key[0] == '#' || key[0] == ';')
			continue;
		if (!strcmp(key, "nameserver")) {
			w = strtok_r(NULL, " \t\r", &ws);
			if (w && !(skip_loopback && is_loopback(w)))
				add_uniq(servers, w);
		} else if (!strcmp(key, "search") || !strcmp(key, "domain")) {
			/* the last search/domain line wins, as in glibc */
			if (search)
				json_array_clear(search);
			while (search && (w = strtok_r(NULL, " \t\r", &ws)))
				add_uniq(search, w);
		} else if (!strcmp(key, "options")) {
			while (opts && (w = strtok_r(NULL, " \t\r", &ws)))
				add_uniq(opts, w);
		}
	}
}

/* Sets option "name[:value]" in opts, replacing one of the same name. */
static void set_option(json_t *opts, const char *opt)
{
	size_t n = strcspn(opt, ":"), i;
	json_t *v;

	json_array_foreach(opts, i, v) {
		const char *o = json_string_value(v);

		if (strcspn(o, ":") == n && !strncmp(o, opt, n)) {
			json_array_set_new(opts, i, json_string(opt));
			return;
		}
	}
	json_array_append_new(opts, json_string(opt));
}

static int merge_dns_config(const json_t *pod, json_t *servers, json_t *search, json_t *opts,
			    struct gt_err *err)
{
	json_t *cfg = gt_json_path(pod, "spec.dnsConfig"), *v;
	size_t i;

	json_array_foreach(json_object_get(cfg, "nameservers"), i, v) {
		if (!json_is_string(v) || !*json_string_value(v) || has_space(json_string_value(v)))
			return gt_err_set(err, -EINVAL, "spec.dnsConfig.nameservers[%zu]: invalid value", i);
		add_uniq(servers, json_string_value(v));
	}
	json_array_foreach(json_object_get(cfg, "searches"), i, v) {
		if (!json_is_string(v) || !*json_string_value(v) || has_space(json_string_value(v)))
			return gt_err_set(err, -EINVAL, "spec.dnsConfig.searches[%zu]: invalid value", i);
		add_uniq(search, json_string_value(v));
	}
	json_array_foreach(json_object_get(cfg, "options"), i, v) {
		const char *name = gt_json_str(v, "name"), *val = gt_json_str(v, "value");
		GT_AUTOFREE char *opt = NULL;

		if (!name || !*name || has_space(name) || (val && has_space(val)))
			return gt_err_set(err, -EINVAL, "spec.dnsConfig.options[%zu]: invalid value", i);
		opt = val && *val ? xasprintf("%s:%s", name, val) : xstrdup(name);
		set_option(opts, opt);
	}
	return 0;
}

static int write_resolv(const char *dir, const json_t *pod, bool hostnet, const char *dns,
			struct gt_err *err)
{
	GT_AUTOFREE char *path = xasprintf("%s/resolv.conf", dir);
	GT_AUTOFREE char *host = NULL;
	GT_AUTOJSON json_t *servers = json_array(), *search = json_array(), *opts = json_array();
	GT_AUTOJSON json_t *hsearch = json_array(), *hopts = json_array();
	const char *policy = gt_json_str(pod, "spec.dnsPolicy");
	const char *ns = gt_json_str(pod, "metadata.namespace");
	struct gt_buf b = GT_BUF_INIT;
	size_t len, i;
	json_t *v;
	int rc;

	if (!policy || !*policy)
		policy = "ClusterFirst";
	if (gt_read_file("/etc/resolv.conf", &host, &len) < 0)
		host = xstrdup("");
	/* The kubelet's rule: a hostNetwork pod asks for cluster DNS with
	 * ClusterFirstWithHostNet; plain ClusterFirst means the host's. */
	if (hostnet && !strcmp(policy, "ClusterFirst"))
		policy = "Default";
	if (dns && *dns && !has_space(dns) &&
	    (!strcmp(policy, "ClusterFirst") || !strcmp(policy, "ClusterFirstWithHostNet")))
		add_uniq(servers, dns);
	if (strcmp(policy, "None")) {
		parse_resolv(host, servers, hsearch, hopts, !hostnet);
		if (!json_array_size(servers)) {
			GT_AUTOFREE char *up = NULL;

			if (gt_read_file("/run/systemd/resolve/resolv.conf", &up, &len) == 0)
				parse_resolv(up, servers, NULL, NULL, !hostnet);
		}
		if (!json_array_size(servers)) {
			add_uniq(servers, "8.8.8.8");
			add_uniq(servers, "8.8.4.4");
		}
	}
	if (!strcmp(policy, "ClusterFirst") || !strcmp(policy, "ClusterFirstWithHostNet")) {
		GT_AUTOFREE char *s1 = xasprintf("%s.svc.cluster.local", ns ? ns : "default");

		add_uniq(search, s1);
		add_uniq(search, "svc.cluster.local");
		add_uniq(search, "cluster.local");
		json_array_foreach(hsearch, i, v)
			add_uniq(search, json_string_value(v));
		set_option(opts, "ndots:5");
	} else if (!strcmp(policy, "Default")) {
		json_array_extend(search, hsearch);
		json_array_extend(opts, hopts);
	} else if (strcmp(policy, "None")) {
		return gt_err_set(err, -EINVAL, "spec.dnsPolicy: Unsupported value: \"%s\"", policy);
	}
	rc = merge_dns_config(pod, servers, search, opts, err);
	if (rc < 0)
		return rc;

	gt_buf_init(&b);
	if (json_array_size(search)) {
		gt_buf_adds(&b, "search");
		json_array_foreach(search, i, v)
			if (i < MAX_SEARCHES)
				gt_buf_addf(&b, " %s", json_string_value(v));
		gt_buf_addc(&b, '\n');
	}
	json_array_foreach(servers, i, v)
		if (i < MAX_NAMESERVERS)
			gt_buf_addf(&b, "nameserver %s\n", json_string_value(v));
	if (json_array_size(opts)) {
		gt_buf_adds(&b, "options");
		json_array_foreach(opts, i, v)
			gt_buf_addf(&b, " %s", json_string_value(v));
		gt_buf_addc(&b, '\n');
	}
	rc = gt_write_file_atomic(path, b.data, b.len, 0644);
	gt_buf_release(&b);
	return rc < 0 ? gt_err_set(err, rc, "%s: %s", path, strerror(-rc)) : 0;
}

int gt_net_write_etc(const char *dir, const json_t *pod, const char *ip, const char *dns,
		     struct gt_err *err)
{
	bool hostnet = gt_json_bool(pod, "spec.hostNetwork", false);
	int rc = write_hosts(dir, pod, ip, hostnet, err);

	return rc < 0 ? rc : write_resolv(dir, pod, hostnet, dns, err);
}

int gt_net_gateway(const char *subnet, char out[16])
{
	unsigned a, b, c, d, bits;
	char end;

	if (!subnet || sscanf(subnet, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &bits, &end) != 5 ||
	    a > 255 || b > 255 || c > 255 || d > 255 || bits < 8 || bits > 30)
		return -EINVAL;
	{
		uint32_t ip = a << 24 | b << 16 | c << 8 | d;

		ip = (ip & ~((1u << (32 - bits)) - 1)) + 1;
		snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
	}
	return 0;
}
