/*
 * image_pull.c - gt_image_pull(): the OCI distribution API, as a client.
 *
 *   GET /v2/<name>/manifests/<tag|digest>   (Accept: OCI and Docker v2
 *                                            manifests and indexes)
 *   GET /v2/<name>/blobs/<digest>           (redirects followed)
 *
 * A 401 answer carries a WWW-Authenticate challenge: Basic is answered with
 * the credentials of the docker config, Bearer by fetching a token from the
 * realm (with service and scope, and the credentials when there are some;
 * an identity token is exchanged with an OAuth2 POST).  When a credential
 * is refused the next matching one is tried (several imagePullSecrets).
 *
 * Transport: HTTPS, except for insecure hosts (listed, or loopback), where
 * HTTPS without verification is tried first and plain HTTP second, as
 * Docker does for its insecure-registries.
 *
 * Everything fetched goes to a stage and is verified (digest, size,
 * diff_id, layer paths) before img_commit() publishes it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image_int.h"
#include "http/fetch.h"

#define ACCEPT "Accept: " IMG_MT_OCI_MANIFEST ", " IMG_MT_DOCKER_MANIFEST ", " \
	IMG_MT_OCI_INDEX ", " IMG_MT_DOCKER_LIST
#define MANIFEST_MAX (4u << 20)

struct pull {
	struct gt_image_store *s;
	struct img_ref r;
	char norm[IMG_REF_MAX];
	const char *api; /* host:port the API is served at */
	bool insecure, scheme_known, http;
	const json_t *config;
	size_t cred_next;
	struct gt_pull_auth cred;
	bool have_cred, basic;
	char scratch[1024];
	char *token;
	struct img_stage st;
	struct gt_err *err;
};

static bool loopback(const char *host)
{
	if (!strncmp(host, "localhost", 9) && (host[9] == 0 || host[9] == ':'))
		return true;
	return !strncmp(host, "127.", 4) || !strncmp(host, "[::1]", 5);
}

static bool listed(const char *const *hosts, const char *host)
{
	for (size_t i = 0; hosts && hosts[i]; i++) {
		char k[256];
		const char *p = strstr(hosts[i], "://");
		p = p ? p + 3 : hosts[i];
		snprintf(k, sizeof(k), "%.*s", (int)strcspn(p, "/"), p);
		if (!strcasecmp(k, host))
			return true;
	}
	return false;
}

static bool next_cred(struct pull *p)
{
	p->have_cred = gt_image_auth_lookup(p->config, p->r.domain, p->cred_next++, &p->cred,
					    p->scratch, sizeof(p->scratch)) == 0;
	return p->have_cred;
}

/* Fetches a bearer token for challenge c into p->token. */
static int get_token(struct pull *p, const struct img_challenge *c)
{
	struct gt_fetch_req req = { .follow = true };
	struct gt_fetch_resp resp;
	GT_AUTOFREE char *url = NULL, *svc = gt_fetch_escape(c->service), *form = NULL;
	GT_AUTOFREE char *scope = NULL, *sc = NULL, *rt = NULL;
	GT_AUTOJSON json_t *doc = NULL;
	const char *tok;
	char host[256];
	int rc;

	if (!c->realm[0])
		return gt_err_set(p->err, -EPROTO, "registry %s: Bearer challenge without a realm",
				  p->r.domain);
	scope = c->scope[0] ? xstrdup(c->scope) : xasprintf("repository:%s:pull", p->r.path);
	sc = gt_fetch_escape(scope);
	const char *hp = strstr(c->realm, "://");
	hp = hp ? hp + 3 : c->realm;
	snprintf(host, sizeof(host), "%.*s", (int)strcspn(hp, "/"), hp);
	req.insecure = p->insecure && !strcasecmp(host, p->api);
	if (p->have_cred && p->cred.identity_token) {
		/* OAuth2 refresh-token grant, as docker login stores it */
		static const char *const h[] = {
			"Content-Type: application/x-www-form-urlencoded", NULL };
		rt = gt_fetch_escape(p->cred.identity_token);
		form = xasprintf("grant_type=refresh_token&service=%s&scope=%s&client_id=gantry&"
				 "refresh_token=%s", svc, sc, rt);
		url = xstrdup(c->realm);
		req.method = "POST";
		req.headers = h;
		req.body = form;
		req.body_len = strlen(form);
	} else {
		url = xasprintf("%s%s%s%s%s", c->realm, strchr(c->realm, '?') ? "&" : "?",
				c->service[0] ? "service=" : "", c->service[0] ? svc : "",
				c->service[0] ? "&scope=" : "scope=");
		char *full = xasprintf("%s%s", url, sc);
		free(url);
		url = full;
		if (p->have_cred && p->cred.username) {
			req.username = p->cred.username;
			req.password = p->cred.password;
		}
	}
	req.url = url;
	if ((rc = gt_fetch(&req, &resp, p->err)) < 0) {
		gt_fetch_resp_release(&resp);
		return gt_err_prefix(p->err, rc, "fetching a token");
	}
	if (resp.status == 401 || resp.status == 403) {
		gt_fetch_resp_release(&resp);
		return gt_err_set(p->err, -EACCES, "unauthorized: the token server %s refused the "
				  "%s (HTTP %ld)", host, p->have_cred ? "credentials" : "anonymous "
				  "request", resp.status);
	}
	if (resp.status != 200 ||
	    gt_json_parse_lenient(resp.body, resp.body_len, &doc, NULL) < 0 ||
	    !((tok = gt_json_str(doc, "token")) || (tok = gt_json_str(doc, "access_token")))) {
		rc = gt_err_set(p->err, -EPROTO, "token server %s: unexpected answer (HTTP %ld)",
				host, resp.status);
		gt_fetch_resp_release(&resp);
		return rc;
	}
	free(p->token);
	p->token = xstrdup(tok);
	gt_fetch_resp_release(&resp);
	return 0;
}

/* Answers a 401: 0 when a retry is worth it, else a negative errno. */
static int authenticate(struct pull *p, const struct gt_fetch_resp *resp, bool retried)
{
	struct img_challenge c;
	const char *h = gt_fetch_header(resp, "WWW-Authenticate");
	char why[512];

	img_registry_errors(resp->body, resp->body_len, why, sizeof(why));
	/* refused credentials: move on to the next matching secret */
	if (retried && !next_cred(p))
		return gt_err_set(p->err, -EACCES, "pull access denied, repository does not "
				  "exist or may require authorization: %s",
				  why[0] ? why : "unauthorized");
	if (!retried && !p->have_cred && p->cred_next == 0)
		next_cred(p);
	if (!h || img_parse_challenge(h, &c) < 0)
		return gt_err_set(p->err, -EACCES, "unauthorized: %s (no usable "
				  "WWW-Authenticate challenge)", why[0] ? why : "HTTP 401");
	if (!strcasecmp(c.scheme, "Basic")) {
		if (!p->have_cred || !p->cred.username)
			return gt_err_set(p->err, -EACCES, "pull access denied: registry %s needs "
					  "credentials (no imagePullSecret for it): %s",
					  p->r.domain, why[0] ? why : "unauthorized");
		p->basic = true;
		return 0;
	}
	if (!strcasecmp(c.scheme, "Bearer"))
		return get_token(p, &c);
	return gt_err_set(p->err, -EACCES, "unauthorized: unsupported authentication scheme "
			  "\"%s\"", c.scheme);
}

/* One API request with scheme fallback and authentication. */
static int api_get(struct pull *p, const char *path, const char *const *headers,
		   size_t max_body, int (*sink)(void *, const void *, size_t), void *ctx,
		   struct gt_fetch_resp *resp)
{
	bool retried = false;
	int rc;

	for (int attempt = 0; attempt < 8; attempt++) {
		GT_AUTOFREE char *url = xasprintf("%s://%s/v2/%s", p->http ? "http" : "https",
						  p->api, path);
		struct gt_fetch_req req = {
			.url = url, .headers = headers, .follow = true, .insecure = p->insecure,
			.max_body = max_body, .sink = sink, .sink_ctx = ctx,
			.bearer = p->basic ? NULL : p->token,
			.username = p->basic ? p->cred.username : NULL,
			.password = p->basic ? p->cred.password : NULL,
		};
		rc = gt_fetch(&req, resp, p->err);
		if (rc < 0 && p->insecure && !p->scheme_known && !p->http && rc != -EMSGSIZE) {
			gt_fetch_resp_release(resp);
			gt_err_clear(p->err);
			p->http = true; /* insecure registry: plain HTTP next */
			continue;
		}
		if (rc < 0) {
			gt_fetch_resp_release(resp);
			return gt_err_prefix(p->err, rc, "pulling \"%s\"", p->norm);
		}
		p->scheme_known = true;
		if (resp->status != 401)
			return 0;
		if ((rc = authenticate(p, resp, retried)) < 0) {
			gt_fetch_resp_release(resp);
			return rc;
		}
		retried = true;
		gt_fetch_resp_release(resp);
	}
	return gt_err_set(p->err, -EACCES, "unauthorized: too many authentication rounds");
}

/* A non-2xx answer as an errno and message. */
static int http_error(struct pull *p, const struct gt_fetch_resp *resp, const char *what)
{
	char why[512];

	img_registry_errors(resp->body, resp->body_len, why, sizeof(why));
	switch (resp->status) {
	case 404:
		return gt_err_set(p->err, -ENOENT, "failed to resolve reference \"%s\": %s: not "
				  "found (%s)", p->norm, p->norm, why[0] ? why : what);
	case 401:
	case 403:
		return gt_err_set(p->err, -EACCES, "pull access denied for \"%s\", repository "
				  "does not exist or may require authorization: %s", p->norm,
				  why[0] ? why : "denied");
	case 429:
		return gt_err_set(p->err, -EAGAIN, "%s: toomanyrequests: %s", p->norm,
				  why[0] ? why : "rate limited");
	default:
		return gt_err_set(p->err, -EIO, "%s: %s: unexpected HTTP %ld%s%s", p->norm, what,
				  resp->status, why[0] ? ": " : "", why);
	}
}

/* Fetches manifest `ref` (tag or digest); *doc, *digest and the raw body. */
static int get_manifest(struct pull *p, const char *ref, json_t **doc, char digest[],
			char **raw, size_t *rawlen, char *ctype, size_t ctlen)
{
	static const char *const h[] = { ACCEPT, NULL };
	GT_AUTOFREE char *path = xasprintf("%s/manifests/%s", p->r.path, ref);
	struct gt_fetch_resp resp;
	const char *dh, *ct;
	int rc;

	if ((rc = api_get(p, path, h, MANIFEST_MAX, NULL, NULL, &resp)) < 0)
		return rc;
	if (resp.status != 200) {
		rc = http_error(p, &resp, "manifest unknown");
		gt_fetch_resp_release(&resp);
		return rc;
	}
	img_sha256_buf(resp.body, resp.body_len, digest);
	dh = gt_fetch_header(&resp, "Docker-Content-Digest");
	if ((!strncmp(ref, "sha256:", 7) && strcmp(ref, digest)) ||
	    (dh && img_digest_valid(dh) && strcmp(dh, digest))) {
		rc = gt_err_set(p->err, -EBADMSG, "%s: manifest %s: content has digest %s",
				p->norm, ref, digest);
		gt_fetch_resp_release(&resp);
		return rc;
	}
	ct = gt_fetch_header(&resp, "Content-Type");
	snprintf(ctype, ctlen, "%.*s", ct ? (int)strcspn(ct, "; ") : 0, ct ? ct : "");
	if ((rc = gt_json_parse_lenient(resp.body, resp.body_len, doc, p->err)) < 0)
		gt_err_prefix(p->err, rc, "%s: manifest %s", p->norm, ref);
	*raw = resp.body;
	*rawlen = resp.body_len;
	resp.body = NULL;
	gt_fetch_resp_release(&resp);
	return rc;
}

struct blob_sink {
	int fd;
	struct img_sha256 sha;
	int64_t want;
};

static int blob_write(void *ctx, const void *data, size_t len)
{
	struct blob_sink *b = ctx;
	const char *c = data;

	if ((int64_t)(b->sha.len + len) > b->want)
		return -EBADMSG; /* more than the descriptor's size */
	img_sha256_update(&b->sha, data, len);
	while (len > 0) {
		ssize_t w = write(b->fd, c, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Downloads blob d into the stage, verified; *path gets where it is. */
static int get_blob(struct pull *p, const struct img_desc *d, const char *field, char **path)
{
	GT_AUTOFREE char *api = xasprintf("%s/blobs/%s", p->r.path, d->digest);
	char *dest = img_stage_blob(&p->st, d->digest);
	struct blob_sink b = { .want = d->size };
	struct gt_fetch_resp resp;
	char got[IMG_DIGEST_MAX];
	int rc;

	*path = NULL;
	if (access(dest, F_OK) == 0) {
		*path = dest;
		return 0;
	}
	b.fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (b.fd < 0) {
		rc = gt_err_set(p->err, -errno, "%s: %s", dest, strerror(errno));
		free(dest);
		return rc;
	}
	img_sha256_init(&b.sha);
	rc = api_get(p, api, NULL, 0, blob_write, &b, &resp);
	close(b.fd);
	if (rc == -EBADMSG)
		gt_err_set(p->err, rc, "%s: %s: blob %s is larger than its %lld bytes", p->norm,
			   field, d->digest, (long long)d->size);
	else if (rc == 0 && resp.status != 200)
		rc = http_error(p, &resp, "blob unknown");
	gt_fetch_resp_release(&resp);
	if (rc == 0) {
		int64_t got_len = (int64_t)b.sha.len;
		img_sha256_final(&b.sha, got);
		if (got_len != d->size || strcmp(got, d->digest))
			rc = gt_err_set(p->err, -EBADMSG, "%s: %s: blob %s: got %lld bytes with "
					"digest %s", p->norm, field, d->digest, (long long)got_len,
					got);
	}
	if (rc < 0) {
		unlink(dest);
		free(dest);
		return rc;
	}
	*path = dest;
	return 0;
}

static int read_small(struct pull *p, const char *path, const char *what, json_t **doc)
{
	GT_AUTOFREE char *buf = NULL;
	size_t len;
	int rc;

	if ((rc = gt_read_file(path, &buf, &len)) < 0)
		return gt_err_set(p->err, rc, "%s: %s", path, strerror(-rc));
	if ((rc = gt_json_parse_lenient(buf, len, doc, p->err)) < 0)
		return gt_err_prefix(p->err, rc, "%s: %s", p->norm, what);
	return 0;
}

static int pull_image(struct pull *p)
{
	GT_AUTOJSON json_t *doc = NULL, *cdoc = NULL, *cfg = NULL;
	GT_AUTOFREE char *raw = NULL, *cpath = NULL, *have = NULL, *mpath = NULL;
	struct img_manifest m = { 0 };
	struct img_entry e = { 0 };
	char top[IMG_DIGEST_MAX], md[IMG_DIGEST_MAX], ct[128], **diff_ids = NULL;
	size_t rawlen, nd;
	int rc;

	rc = get_manifest(p, p->r.digest[0] ? p->r.digest : p->r.tag, &doc, top, &raw, &rawlen,
			  ct, sizeof(ct));
	if (rc < 0)
		return rc;
	snprintf(md, sizeof(md), "%s", top);
	enum img_kind kind = img_manifest_kind(doc, ct);
	if (kind == IMG_KIND_INDEX) {
		struct img_desc *d;
		size_t n;
		int pick;
		if ((rc = img_parse_index(doc, &d, &n, p->err)) < 0)
			return gt_err_prefix(p->err, rc, "%s", p->norm);
		if ((pick = img_pick_platform(d, n)) < 0) {
			img_descs_free(d, n);
			return gt_err_set(p->err, -ENOENT, "%s: no matching manifest for linux/%s in "
					  "the manifest list entries", p->norm, img_host_arch());
		}
		char sub[IMG_DIGEST_MAX];
		snprintf(sub, sizeof(sub), "%s", d[pick].digest);
		img_descs_free(d, n);
		json_decref(doc);
		doc = NULL;
		free(raw);
		raw = NULL;
		if ((rc = get_manifest(p, sub, &doc, md, &raw, &rawlen, ct, sizeof(ct))) < 0)
			return rc;
		kind = img_manifest_kind(doc, ct);
	}
	if (kind == IMG_KIND_SCHEMA1)
		return gt_err_set(p->err, -EOPNOTSUPP, "%s: Docker schema 1 manifests are not "
				  "supported", p->norm);
	if (kind != IMG_KIND_MANIFEST)
		return gt_err_set(p->err, -EINVAL, "%s: not an image manifest (%s)", p->norm,
				  ct[0] ? ct : "no media type");
	if ((rc = img_parse_manifest(doc, &m, p->err)) < 0)
		return gt_err_prefix(p->err, rc, "%s", p->norm);
	/* the config: from the store when it is there */
	have = img_blob_path(p->s, m.config.digest);
	if (access(have, F_OK) == 0) {
		cpath = xstrdup(have);
	} else if ((rc = get_blob(p, &m.config, "config", &cpath)) < 0) {
		goto out;
	}
	if ((rc = read_small(p, cpath, "config", &cdoc)) < 0 ||
	    (rc = img_parse_config(cdoc, &cfg, &diff_ids, &nd, p->err)) < 0)
		goto out;
	if (nd != m.nlayers) {
		rc = gt_err_set(p->err, -EINVAL, "%s: config has %zu diff_ids for %zu layers",
				p->norm, nd, m.nlayers);
		goto out;
	}
	e.size = m.config.size;
	for (size_t i = 0; i < m.nlayers; i++) {
		const struct img_desc *l = &m.layers[i];
		GT_AUTOFREE char *blob = img_blob_path(p->s, l->digest);
		GT_AUTOFREE char *src = NULL;
		char f[48];

		e.size += l->size;
		snprintf(f, sizeof(f), "layers[%zu]", i);
		if (!img_layer_ready(p->s, &p->st, l->digest)) {
			if (access(blob, F_OK) == 0)
				src = xstrdup(blob);
			else if ((rc = get_blob(p, l, f, &src)) < 0)
				goto out;
		}
		if ((rc = img_layer_prepare(p->s, &p->st, l->digest, src, diff_ids[i], p->err)) < 0) {
			gt_err_prefix(p->err, rc, "%s: %s %s", p->norm, f, l->digest);
			goto out;
		}
	}
	mpath = img_stage_blob(&p->st, md);
	if ((rc = gt_write_file_atomic(mpath, raw, rawlen, 0644)) < 0) {
		gt_err_set(p->err, rc, "%s: %s", mpath, strerror(-rc));
		goto out;
	}
	snprintf(e.ref, sizeof(e.ref), "%s", p->norm);
	snprintf(e.digest, sizeof(e.digest), "%s", md);
	snprintf(e.id, sizeof(e.id), "%s", m.config.digest);
	snprintf(e.repo_digest, sizeof(e.repo_digest), "%s", top);
	snprintf(e.media_type, sizeof(e.media_type), "%s",
		 gt_json_str(doc, "mediaType") ? gt_json_str(doc, "mediaType")
		 : ct[0] ? ct : IMG_MT_OCI_MANIFEST);
	e.msize = (int64_t)rawlen;
	rc = img_commit(p->s, &p->st, &e, 1, p->err);
out:
	img_manifest_release(&m);
	img_strv_free(diff_ids);
	return rc;
}

int gt_image_pull(struct gt_image_store *s, const char *ref, const json_t *docker_config,
		  const char *const *insecure_hosts, struct gt_err *err)
{
	struct pull *p;
	int rc;

	if (ref && !strcmp(ref, GT_IMAGE_HOST))
		return 0; /* the host image is always there */
	p = xcalloc(1, sizeof(*p));
	p->s = s;
	p->err = err;
	p->config = docker_config;
	if ((rc = img_ref_parse(ref, &p->r, err)) < 0)
		goto out;
	img_ref_format(&p->r, p->norm, sizeof(p->norm));
	p->api = !strcmp(p->r.domain, "docker.io") ? "registry-1.docker.io" : p->r.domain;
	p->insecure = loopback(p->r.domain) || listed(insecure_hosts, p->r.domain);
	if ((rc = img_stage_open(s, &p->st, err)) < 0)
		goto out;
	rc = pull_image(p);
out:
	img_stage_release(&p->st);
	free(p->token);
	free(p);
	return rc;
}
