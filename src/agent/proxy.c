/*
 * proxy.c - Services as iptables NAT rules; see proxy.h for the layout.
 */
#include "agent/proxy.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "agent/child.h"
#include "base/log.h"

#define MASQ_MARK "0x4000/0x4000"
#define IPT_TIMEOUT_MS 30000

extern char **environ;

static uint64_t fnv64(uint64_t h, const char *s)
{
	if (!h)
		h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	h ^= 0xff; /* separator, so ("ab","c") != ("a","bc") */
	return h * 1099511628211ull;
}

void gt_proxy_tag(const char *bridge, char tag[5])
{
	snprintf(tag, 5, "%04x", (unsigned)(fnv64(0, bridge) & 0xffff));
}

static bool ipv4_ok(const char *s)
{
	unsigned a, b, c, d;
	char end;

	return s && sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) == 4 && a < 256 && b < 256 &&
	       c < 256 && d < 256;
}

static const char *proto_of(const json_t *p)
{
	const char *pr = gt_json_str(p, "protocol");

	if (!pr || !strcmp(pr, "TCP"))
		return "tcp";
	if (!strcmp(pr, "UDP"))
		return "udp";
	if (!strcmp(pr, "SCTP"))
		return "sctp";
	return NULL;
}

static bool same_port_name(const json_t *a, const json_t *b)
{
	const char *x = gt_json_str(a, "name"), *y = gt_json_str(b, "name");

	return !strcmp(x ? x : "", y ? y : "");
}

/* "ip:port" of the ready endpoints for service port sp, deduplicated. */
static json_t *endpoints_for(const json_t *slices, const json_t *sp)
{
	json_t *eps = json_array(), *sl, *ep, *a, *p;
	size_t i, j, k, m;

	json_array_foreach(slices, i, sl) {
		const char *at = gt_json_str(sl, "addressType");
		int64_t port = -1;

		if (at && strcmp(at, "IPv4"))
			continue;
		json_array_foreach(json_object_get(sl, "ports"), j, p) {
			int64_t n;

			if (same_port_name(p, sp) && gt_json_int(p, "port", &n) == 0 &&
			    !strcmp(proto_of(p) ? proto_of(p) : "", proto_of(sp)))
				port = n;
		}
		if (port <= 0 || port > 65535)
			continue;
		json_array_foreach(json_object_get(sl, "endpoints"), k, ep) {
			if (!gt_json_bool(ep, "conditions.ready", true))
				continue;
			json_array_foreach(json_object_get(ep, "addresses"), m, a) {
				char buf[64];
				bool dup = false;
				size_t q;
				json_t *e;

				if (!ipv4_ok(json_string_value(a)))
					continue;
				snprintf(buf, sizeof(buf), "%s:%lld", json_string_value(a), (long long)port);
				json_array_foreach(eps, q, e)
					dup |= !strcmp(json_string_value(e), buf);
				if (!dup)
					json_array_append_new(eps, json_string(buf));
			}
		}
	}
	return eps;
}

static void declare(struct gt_buf *out, json_t *chains, const char *name)
{
	gt_buf_addf(out, ":%s - [0:0]\n", name);
	if (chains)
		json_array_append_new(chains, json_string(name));
}

/* The rules of one service port; rej gets its filter rule when it has no
 * endpoints. */
static void render_port(const char *tag, const char *key, const json_t *svc, const json_t *sp,
			const json_t *slices, json_t *chains, struct gt_buf *decl,
			struct gt_buf *rules, struct gt_buf *rej)
{
	const char *cip = gt_json_str(svc, "spec.clusterIP"), *proto = proto_of(sp);
	const char *type = gt_json_str(svc, "spec.type"), *pname = gt_json_str(sp, "name");
	GT_AUTOJSON json_t *eps = NULL;
	int64_t port, nport = 0;
	char schain[32];
	size_t i, n;
	json_t *e;

	if (!proto || gt_json_int(sp, "port", &port) < 0 || port <= 0 || port > 65535)
		return;
	if (type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer")))
		gt_json_int(sp, "nodePort", &nport);
	eps = endpoints_for(slices, sp);
	n = json_array_size(eps);
	if (!n) {
		if (ipv4_ok(cip))
			gt_buf_addf(rej, "-A GT%s-REJECT -d %s/32 -p %s -m %s --dport %lld "
				    "-m comment --comment \"%s:%s has no endpoints\" -j REJECT\n", tag, cip,
				    proto, proto, (long long)port, key, pname ? pname : "");
		return;
	}
	snprintf(schain, sizeof(schain), "GT%s-S-%012llx", tag,
		 (unsigned long long)(fnv64(fnv64(fnv64(fnv64(0, tag), key), pname ? pname : ""),
					    proto) & 0xffffffffffffull));
	declare(decl, chains, schain);
	if (ipv4_ok(cip))
		gt_buf_addf(rules, "-A GT%s-SERVICES -d %s/32 -p %s -m %s --dport %lld "
			    "-m comment --comment \"%s:%s cluster IP\" -j %s\n", tag, cip, proto, proto,
			    (long long)port, key, pname ? pname : "", schain);
	if (nport > 0 && nport < 65536)
		gt_buf_addf(rules, "-A GT%s-NODEPORTS -p %s -m %s --dport %lld "
			    "-m comment --comment \"%s:%s node port\" -j %s\n", tag, proto, proto,
			    (long long)nport, key, pname ? pname : "", schain);
	json_array_foreach(eps, i, e) {
		const char *ipport = json_string_value(e);
		char echain[32];

		snprintf(echain, sizeof(echain), "GT%s-E-%012llx", tag,
			 (unsigned long long)(fnv64(fnv64(0, schain), ipport) & 0xffffffffffffull));
		declare(decl, chains, echain);
		if (i + 1 < n)
			gt_buf_addf(rules, "-A %s -m statistic --mode random --probability %.10f -j %s\n",
				    schain, 1.0 / (double)(n - i), echain);
		else
			gt_buf_addf(rules, "-A %s -j %s\n", schain, echain);
		gt_buf_addf(rules, "-A %s -j MARK --set-xmark " MASQ_MARK "\n", echain);
		gt_buf_addf(rules, "-A %s -p %s -m %s -j DNAT --to-destination %s\n", echain, proto,
			    proto, ipport);
	}
}

static bool in_array(const json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (!strcmp(json_string_value(v), s))
			return true;
	return false;
}

void gt_proxy_render(const char *tag, const json_t *services, const json_t *slices,
		     const json_t *stale, json_t *chains, struct gt_buf *out)
{
	struct gt_buf decl = GT_BUF_INIT, rules = GT_BUF_INIT, rej = GT_BUF_INIT;
	const char *key;
	json_t *svc, *sp, *v;
	size_t i;
	char name[32];

	gt_buf_init(&decl);
	gt_buf_init(&rules);
	gt_buf_init(&rej);
	snprintf(name, sizeof(name), "GT%s-SERVICES", tag);
	declare(&decl, chains, name);
	snprintf(name, sizeof(name), "GT%s-NODEPORTS", tag);
	declare(&decl, chains, name);
	snprintf(name, sizeof(name), "GT%s-POST", tag);
	declare(&decl, chains, name);
	json_object_foreach((json_t *)services, key, svc) {
		const char *cip = gt_json_str(svc, "spec.clusterIP");
		const char *type = gt_json_str(svc, "spec.type");

		if (type && !strcmp(type, "ExternalName"))
			continue;
		if (cip && !strcmp(cip, "None"))
			continue; /* headless: DNS only */
		json_array_foreach(gt_json_path(svc, "spec.ports"), i, sp)
			render_port(tag, key, svc, sp, json_object_get(slices, key), chains, &decl,
				    &rules, &rej);
	}
	gt_buf_addf(&rules, "-A GT%s-SERVICES -m addrtype --dst-type LOCAL -j GT%s-NODEPORTS\n", tag,
		    tag);
	gt_buf_addf(&rules, "-A GT%s-POST -m mark --mark " MASQ_MARK " -j MASQUERADE\n", tag);
	gt_buf_adds(out, "*nat\n");
	gt_buf_add(out, decl.data, decl.len);
	json_array_foreach(stale, i, v) {
		const char *c = json_string_value(v);

		if (c && strncmp(c + 6, "-REJECT", 7) && !in_array(chains, c))
			gt_buf_addf(out, ":%s - [0:0]\n", c);
	}
	gt_buf_add(out, rules.data, rules.len);
	json_array_foreach(stale, i, v) {
		const char *c = json_string_value(v);

		if (c && strncmp(c + 6, "-REJECT", 7) && !in_array(chains, c))
			gt_buf_addf(out, "-X %s\n", c);
	}
	gt_buf_addf(out, "COMMIT\n*filter\n:GT%s-REJECT - [0:0]\n", tag);
	gt_buf_add(out, rej.data, rej.len);
	gt_buf_adds(out, "COMMIT\n");
	snprintf(name, sizeof(name), "GT%s-REJECT", tag);
	json_array_append_new(chains, json_string(name));
	gt_buf_release(&decl);
	gt_buf_release(&rules);
	gt_buf_release(&rej);
}

/* ---- applying ---- */

static int run(char **argv, const char *in, size_t inlen, struct gt_buf *out, struct gt_err *err)
{
	struct gt_buf eout = GT_BUF_INIT;
	int status = 0, rc;

	gt_buf_init(&eout);
	rc = gt_child_run(argv[0], argv, environ, true, in, inlen, IPT_TIMEOUT_MS, out, &eout,
			  &status);
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		rc = -EIO;
	if (rc < 0 && err)
		gt_err_set(err, rc, "%s: %s", argv[0], eout.len ? eout.data : strerror(-rc));
	gt_buf_release(&eout);
	return rc;
}

/* The jump rules: table, chain, target suffix. */
static const char *const jumps[][3] = {
	{ "nat", "PREROUTING", "SERVICES" },
	{ "nat", "OUTPUT", "SERVICES" },
	{ "nat", "POSTROUTING", "POST" },
	{ "filter", "FORWARD", "REJECT" },
	{ "filter", "OUTPUT", "REJECT" },
};

static int jump(const char *tag, int i, const char *op)
{
	char target[32], comment[64];
	char *argv[] = { "iptables", "-w", "-t", (char *)jumps[i][0], (char *)op,
			 (char *)jumps[i][1], "-m", "comment", "--comment", comment, "-j", target,
			 NULL };

	snprintf(target, sizeof(target), "GT%s-%s", tag, jumps[i][2]);
	snprintf(comment, sizeof(comment), "gantry services %s", tag);
	return run(argv, NULL, 0, NULL, NULL);
}

int gt_proxy_apply(const char *tag, const char *text, size_t len, struct gt_err *err)
{
	char *argv[] = { "iptables-restore", "-w", "--noflush", NULL };
	int rc = run(argv, text, len, NULL, err);

	if (rc < 0)
		return rc;
	for (int i = 0; i < (int)(sizeof(jumps) / sizeof(jumps[0])); i++)
		if (jump(tag, i, "-C") < 0 && (rc = jump(tag, i, "-I")) < 0)
			return gt_err_set(err, rc, "iptables: cannot add the %s jump to GT%s-%s",
					  jumps[i][1], tag, jumps[i][2]);
	return 0;
}

json_t *gt_proxy_existing(const char *tag)
{
	static const char *const tables[] = { "nat", "filter" };
	json_t *names = json_array();
	char prefix[16];

	snprintf(prefix, sizeof(prefix), ":GT%s-", tag);
	for (int t = 0; t < 2; t++) {
		char *argv[] = { "iptables-save", "-t", (char *)tables[t], NULL };
		struct gt_buf out = GT_BUF_INIT;

		gt_buf_init(&out);
		if (run(argv, NULL, 0, &out, NULL) == 0 && out.data) {
			char *save = NULL;

			for (char *l = strtok_r(out.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
				if (!strncmp(l, prefix, strlen(prefix)))
					json_array_append_new(names, json_stringn(l + 1, strcspn(l + 1, " ")));
		}
		gt_buf_release(&out);
	}
	return names;
}

void gt_proxy_remove(const char *tag)
{
	GT_AUTOJSON json_t *old = gt_proxy_existing(tag);
	struct gt_buf nat = GT_BUF_INIT, filter = GT_BUF_INIT;
	char *argv[] = { "iptables-restore", "-w", "--noflush", NULL };
	size_t i;
	json_t *v;

	for (int k = 0; k < (int)(sizeof(jumps) / sizeof(jumps[0])); k++)
		while (jump(tag, k, "-D") == 0)
			;
	gt_buf_init(&nat);
	gt_buf_init(&filter);
	gt_buf_adds(&nat, "*nat\n");
	gt_buf_adds(&filter, "*filter\n");
	json_array_foreach(old, i, v) {
		const char *c = json_string_value(v);

		gt_buf_addf(strcmp(c + 6, "-REJECT") ? &nat : &filter, ":%s - [0:0]\n", c);
	}
	json_array_foreach(old, i, v) {
		const char *c = json_string_value(v);

		gt_buf_addf(strcmp(c + 6, "-REJECT") ? &nat : &filter, "-X %s\n", c);
	}
	gt_buf_adds(&nat, "COMMIT\n");
	gt_buf_adds(&filter, "COMMIT\n");
	gt_buf_add(&nat, filter.data, filter.len);
	if (json_array_size(old))
		run(argv, nat.data, nat.len, NULL, NULL);
	gt_buf_release(&nat);
	gt_buf_release(&filter);
}
