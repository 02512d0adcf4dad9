/*
 * image_ref.c - image references: parsing and normalization with the
 * grammar of github.com/distribution/reference, which Docker, containerd and
 * the kubelet share:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] component ( "/" component )*
 *   domain     := host [ ":" port ]   (first part with '.' or ':', "localhost",
 *                                      or uppercase letters)
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest     := "sha256:" 64 lowercase hex (other algorithms are refused)
 *
 * Docker Hub names get "docker.io/" and, with one component, "library/";
 * "index.docker.io" is "docker.io"; no tag and no digest means ":latest".
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "agent/image_int.h"

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component; returns NULL or the reason it is invalid. */
static const char *check_component(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return "empty path component";
	for (size_t k = 0; k < n; k++)
		if (p[k] >= 'A' && p[k] <= 'Z')
			return "repository name must be lowercase";
	while (i < n) {
		if (!is_alnum_lower(p[i]))
			return "path component must start and end with a lowercase letter or digit";
		while (i < n && is_alnum_lower(p[i]))
			i++;
		if (i == n)
			return NULL;
		/* separator: ".", "_", "__" or one or more "-" */
		if (p[i] == '.') {
			i++;
		} else if (p[i] == '_') {
			i++;
			if (i < n && p[i] == '_')
				i++;
		} else if (p[i] == '-') {
			while (i < n && p[i] == '-')
				i++;
		} else {
			return "invalid character in repository name";
		}
		if (i == n)
			return "path component must start and end with a lowercase letter or digit";
	}
	return NULL;
}

static const char *check_domain(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return "empty registry host";
	if (p[0] == '[') { /* [ipv6]:port */
		const char *end = memchr(p, ']', n);
		if (!end)
			return "unterminated IPv6 address in registry host";
		for (const char *q = p + 1; q < end; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return "invalid IPv6 address in registry host";
		i = (size_t)(end - p) + 1;
	} else {
		size_t label = 0;
		for (; i < n && p[i] != ':'; i++) {
			char c = p[i];
			if (c == '.') {
				if (label == 0 || p[i - 1] == '-')
					return "invalid registry host name";
				label = 0;
			} else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
				label++;
			} else {
				return "invalid registry host name";
			}
		}
		if (label == 0 || p[i - 1] == '-')
			return "invalid registry host name";
	}
	if (i < n) {
		if (p[i] != ':' || i + 1 == n || n - i - 1 > 5)
			return "invalid registry port";
		for (size_t k = i + 1; k < n; k++)
			if (!isdigit((unsigned char)p[k]))
				return "invalid registry port";
	}
	return NULL;
}

static const char *check_tag(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 128)
		return "tag must be 1 to 128 characters";
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!isalnum((unsigned char)c) && c != '_' && (i == 0 || (c != '.' && c != '-')))
			return "invalid tag";
	}
	return NULL;
}

int img_ref_parse(const char *ref, struct img_ref *r, struct gt_err *err)
{
	const char *at, *slash, *colon, *name_end, *why = NULL;
	size_t nlen;

	memset(r, 0, sizeof(*r));
	if (!ref || !*ref)
		return gt_err_set(err, -EINVAL, "invalid reference format: empty image name");
	if (strlen(ref) > 400)
		return gt_err_set(err, -EINVAL, "invalid reference format: name too long");
	for (const char *p = ref; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return gt_err_set(err, -EINVAL,
					  "invalid reference format: \"%s\" contains whitespace or "
					  "control characters", ref);
	at = strchr(ref, '@');
	if (at) {
		if (strncmp(at + 1, "sha256:", 7) && strchr(at + 1, ':'))
			return gt_err_set(err, -EOPNOTSUPP,
					  "invalid reference format: \"%s\": unsupported digest "
					  "algorithm (only sha256)", ref);
		if (!img_digest_valid(at + 1))
			return gt_err_set(err, -EINVAL,
					  "invalid reference format: \"%s\": invalid digest "
					  "(want sha256: and 64 lowercase hex digits)", ref);
		snprintf(r->digest, sizeof(r->digest), "%s", at + 1);
		name_end = at;
	} else {
		name_end = ref + strlen(ref);
	}
	/* the tag follows the last ':' that comes after the last '/' */
	slash = NULL;
	colon = NULL;
	for (const char *p = ref; p < name_end; p++) {
		if (*p == '/')
			slash = p, colon = NULL;
		else if (*p == ':')
			colon = p;
	}
	if (colon) {
		char tag[256];
		size_t tl = (size_t)(name_end - colon - 1);
		if (tl >= sizeof(tag))
			return gt_err_set(err, -EINVAL, "invalid reference format: tag too long");
		memcpy(tag, colon + 1, tl);
		tag[tl] = 0;
		if ((why = check_tag(tag)))
			return gt_err_set(err, -EINVAL, "invalid reference format: \"%s\": %s",
					  ref, why);
		memcpy(r->tag, tag, tl + 1);
		name_end = colon;
	}
	nlen = (size_t)(name_end - ref);
	if (nlen == 0)
		return gt_err_set(err, -EINVAL, "invalid reference format: \"%s\": empty name", ref);
	/* domain */
	slash = memchr(ref, '/', nlen);
	const char *path = ref;
	if (slash) {
		size_t dl = (size_t)(slash - ref);
		bool upper = false, dom;
		for (size_t i = 0; i < dl; i++)
			upper |= ref[i] >= 'A' && ref[i] <= 'Z';
		dom = memchr(ref, '.', dl) || memchr(ref, ':', dl) ||
		      (dl == 9 && !strncmp(ref, "localhost", 9)) || upper;
		if (dom) {
			if ((why = check_domain(ref, dl)) || dl >= sizeof(r->domain))
				return gt_err_set(err, -EINVAL,
						  "invalid reference format: \"%s\": %s", ref,
						  why ? why : "registry host too long");
			memcpy(r->domain, ref, dl);
			r->domain[dl] = 0;
			path = slash + 1;
		}
	}
	if (!r->domain[0] || !strcmp(r->domain, "index.docker.io"))
		snprintf(r->domain, sizeof(r->domain), "docker.io");
	/* path components */
	size_t plen = (size_t)(name_end - path);
	for (const char *c = path; c <= name_end;) {
		const char *e = memchr(c, '/', (size_t)(name_end - c));
		if (!e)
			e = name_end;
		if ((why = check_component(c, (size_t)(e - c))))
			return gt_err_set(err, -EINVAL, "invalid reference format: \"%s\": %s",
					  ref, why);
		c = e + 1;
	}
	if (!strcmp(r->domain, "docker.io") && !memchr(path, '/', plen))
		snprintf(r->path, sizeof(r->path), "library/%.*s", (int)plen, path);
	else
		snprintf(r->path, sizeof(r->path), "%.*s", (int)plen, path);
	if (strlen(r->domain) + 1 + strlen(r->path) > 255)
		return gt_err_set(err, -EINVAL,
				  "invalid reference format: \"%s\": repository name must not be "
				  "more than 255 characters", ref);
	if (!r->tag[0] && !r->digest[0])
		snprintf(r->tag, sizeof(r->tag), "latest");
	return 0;
}

void img_ref_format(const struct img_ref *r, char *out, size_t n)
{
	snprintf(out, n, "%s/%s%s%s%s%s", r->domain, r->path, r->tag[0] ? ":" : "", r->tag,
		 r->digest[0] ? "@" : "", r->digest);
}

int gt_image_normalize(const char *ref, char *out, size_t n, struct gt_err *err)
{
	struct img_ref r;
	char buf[IMG_REF_MAX];
	int rc;

	if (ref && !strcmp(ref, GT_IMAGE_HOST)) {
		if (n <= strlen(GT_IMAGE_HOST))
			return gt_err_set(err, -ENOSPC, "image reference buffer too small");
		snprintf(out, n, "%s", GT_IMAGE_HOST);
		return 0;
	}
	if ((rc = img_ref_parse(ref, &r, err)) < 0)
		return rc;
	img_ref_format(&r, buf, sizeof(buf));
	if (strlen(buf) >= n)
		return gt_err_set(err, -ENOSPC, "image reference buffer too small");
	snprintf(out, n, "%s", buf);
	return 0;
}
