/*
 * image_auth.c - registry credentials and challenges: looking a registry
 * up in a docker config (.dockerconfigjson, legacy .dockercfg, or a list of
 * them: a pod's imagePullSecrets) and parsing WWW-Authenticate challenges
 * (RFC 7235: `Bearer realm="...",service="...",scope="..."`).  Pure
 * functions over outside input, fuzzed with the manifests.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agent/image_int.h"

/* "https://index.docker.io/v1/" → "index.docker.io" into out. */
static void key_host(const char *key, char *out, size_t n)
{
	const char *p = strstr(key, "://");
	size_t l;

	p = p ? p + 3 : key;
	l = strcspn(p, "/");
	snprintf(out, n, "%.*s", (int)l, p);
}

static bool is_hub(const char *h)
{
	return !strcmp(h, "docker.io") || !strcmp(h, "index.docker.io") ||
	       !strcmp(h, "registry-1.docker.io") || !strcmp(h, "registry.hub.docker.com");
}

static bool host_matches(const char *key, const char *host)
{
	char k[256];

	key_host(key, k, sizeof(k));
	if (!strcasecmp(k, host))
		return true;
	return is_hub(host) && is_hub(k);
}

/* Fills *out from one auths entry; false when it holds no credentials. */
static bool entry_creds(const json_t *v, struct gt_pull_auth *out, char *scratch,
			size_t scratch_len)
{
	const char *auth = gt_json_str(v, "auth"), *u = gt_json_str(v, "username"),
		   *pw = gt_json_str(v, "password"), *tok = gt_json_str(v, "identitytoken");

	memset(out, 0, sizeof(*out));
	if (auth && *auth) {
		unsigned char *dec = NULL;
		size_t dl = 0;
		char *colon;
		if (gt_base64_decode(auth, strlen(auth), &dec, &dl) == 0 && dl < scratch_len &&
		    (colon = memchr(dec, ':', dl))) {
			memcpy(scratch, dec, dl);
			scratch[dl] = 0;
			scratch[colon - (char *)dec] = 0;
			out->username = scratch;
			out->password = scratch + (colon - (char *)dec) + 1;
		}
		free(dec);
	}
	if (!out->username && u) {
		out->username = u;
		out->password = pw;
	}
	if (tok && *tok)
		out->identity_token = tok;
	return out->username || out->identity_token;
}

int gt_image_auth_lookup(const json_t *docker_config, const char *host, size_t index,
			 struct gt_pull_auth *out, char *scratch, size_t scratch_len)
{
	size_t nconf = json_is_array(docker_config) ? json_array_size(docker_config) : 1;
	size_t seen = 0;

	memset(out, 0, sizeof(*out));
	if (!docker_config || !host)
		return -ENOENT;
	for (size_t c = 0; c < nconf; c++) {
		const json_t *conf = json_is_array(docker_config)
			? json_array_get(docker_config, c) : docker_config;
		const json_t *auths = json_object_get(conf, "auths");
		const char *key;
		json_t *v;

		if (!json_is_object(auths))
			auths = conf; /* legacy .dockercfg: {host: {auth, email}} */
		if (!json_is_object(auths))
			continue;
		json_object_foreach((json_t *)auths, key, v) {
			if (!json_is_object(v) || !host_matches(key, host))
				continue;
			if (!entry_creds(v, out, scratch, scratch_len))
				continue;
			if (seen++ == index)
				return 0;
		}
	}
	memset(out, 0, sizeof(*out));
	return -ENOENT;
}

/* Parses a WWW-Authenticate value: the scheme and the realm, service,
 * scope and error parameters, unquoted (longer values are cut). */
int img_parse_challenge(const char *h, struct img_challenge *c)
{
	const char *p = h;
	size_t l;

	memset(c, 0, sizeof(*c));
	if (!h)
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	l = strcspn(p, " \t,");
	if (l == 0 || l >= sizeof(c->scheme))
		return -EINVAL;
	memcpy(c->scheme, p, l);
	p += l;
	while (*p) {
		char key[32], val[IMG_CHAL_VAL];
		size_t kl, vl = 0;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		kl = strcspn(p, "= \t,");
		if (kl == 0 || p[kl] != '=')
			return -EINVAL;
		snprintf(key, sizeof(key), "%.*s", (int)(kl < sizeof(key) ? kl : sizeof(key) - 1), p);
		p += kl + 1;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (vl + 1 < sizeof(val))
					val[vl++] = *p;
			}
			if (*p != '"')
				return -EINVAL;
			p++;
		} else {
			while (*p && *p != ',' && *p != ' ' && *p != '\t') {
				if (vl + 1 < sizeof(val))
					val[vl++] = *p;
				p++;
			}
		}
		val[vl] = 0;
		if (!strcasecmp(key, "realm"))
			snprintf(c->realm, sizeof(c->realm), "%s", val);
		else if (!strcasecmp(key, "service"))
			snprintf(c->service, sizeof(c->service), "%s", val);
		else if (!strcasecmp(key, "scope"))
			snprintf(c->scope, sizeof(c->scope), "%s", val);
		else if (!strcasecmp(key, "error"))
			snprintf(c->error, sizeof(c->error), "%.63s", val);
	}
	return 0;
}

/* "message; message2" from a registry error body, into out: each error's
 * code, lower-cased ("MANIFEST_UNKNOWN" reads "manifest unknown"), then its
 * message when that says more. */
void img_registry_errors(const char *body, size_t len, char *out, size_t n)
{
	GT_AUTOJSON json_t *doc = NULL;
	json_t *errs, *e;
	size_t i, o = 0;

	out[0] = 0;
	if (!body || !len || gt_json_parse_lenient(body, len, &doc, NULL) < 0)
		return;
	errs = json_object_get(doc, "errors");
	json_array_foreach(errs, i, e) {
		const char *code = gt_json_str(e, "code"), *msg = gt_json_str(e, "message");
		char lc[64] = "";
		int w;

		if (!code && !msg)
			continue;
		for (size_t k = 0; code && code[k] && k + 1 < sizeof(lc); k++) {
			char c = code[k];
			lc[k] = c == '_' ? ' ' : (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
			lc[k + 1] = 0;
		}
		if (msg && !strcmp(lc, msg))
			msg = NULL;
		w = snprintf(out + o, n - o, "%s%s%s%s", o ? "; " : "", lc,
			     lc[0] && msg ? ": " : "", msg ? msg : "");
		if (w < 0 || (size_t)w >= n - o)
			break;
		o += (size_t)w;
	}
}
