/*
 * tls.c - a private CA and a server certificate made with GnuTLS' x509
 * API, kept as PEM files in the state directory, and the admin token.
 *
 * What clients insist on (and why the fields below are set):
 *   Go (kubectl): SANs (CN-only certificates are refused), a positive
 *   serial, a CA with basicConstraints CA:TRUE and keyUsage certSign;
 *   the leaf's extKeyUsage must include serverAuth when present.
 *   OpenSSL (Python): keyUsage digitalSignature on an ECDSA leaf, the
 *   authority key identifier to chain to the right CA.
 * Validity starts an hour in the past to absorb clock skew.
 */
#include "http/tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define CA_DAYS (10 * 365)
#define SERVER_DAYS (2 * 365)
#define RENEW_BEFORE_S (30 * 24 * 3600)
#define MAX_SANS 64

struct san {
	int type; /* GNUTLS_SAN_DNSNAME or GNUTLS_SAN_IPADDRESS */
	unsigned char data[256];
	size_t len;
};

struct sans {
	struct san v[MAX_SANS];
	size_t n;
};

struct pair {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
	char *crt_pem, *key_pem;
};

static void pair_release(struct pair *p)
{
	if (p->crt)
		gnutls_x509_crt_deinit(p->crt);
	if (p->key)
		gnutls_x509_privkey_deinit(p->key);
	free(p->crt_pem);
	free(p->key_pem);
	memset(p, 0, sizeof(*p));
}

static int tls_fail(struct gt_err *err, int gnutls_rc, const char *what)
{
	return gt_err_set(err, -EIO, "tls: %s: %s", what, gnutls_strerror(gnutls_rc));
}

/* ---- SAN lists ---- */

static bool san_eq(const struct san *a, const struct san *b)
{
	if (a->type != b->type || a->len != b->len)
		return false;
	if (a->type == GNUTLS_SAN_DNSNAME)
		return !strncasecmp((const char *)a->data, (const char *)b->data, a->len);
	return !memcmp(a->data, b->data, a->len);
}

static bool sans_has(const struct sans *l, const struct san *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (san_eq(&l->v[i], s))
			return true;
	return false;
}

static void sans_add(struct sans *l, const struct san *s)
{
	if (l->n < MAX_SANS && !sans_has(l, s))
		l->v[l->n++] = *s;
}

static bool dns_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_' &&
		    *s != '*')
			return false;
	return true;
}

/*
 * Parses a name into a SAN.  Returns 1 (use it), 0 (a wildcard bind
 * address: skip) or -EINVAL.
 */
static int san_parse(const char *name, struct san *out)
{
	char buf[256];
	size_t n = strlen(name);

	memset(out, 0, sizeof(*out));
	if (n >= 2 && name[0] == '[' && name[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, name + 1, n - 2);
		buf[n - 2] = '\0';
		name = buf;
	}
	if (inet_pton(AF_INET, name, out->data) == 1) {
		static const unsigned char any4[4];

		out->type = GNUTLS_SAN_IPADDRESS;
		out->len = 4;
		return memcmp(out->data, any4, 4) ? 1 : 0;
	}
	if (inet_pton(AF_INET6, name, out->data) == 1) {
		static const unsigned char any6[16];

		out->type = GNUTLS_SAN_IPADDRESS;
		out->len = 16;
		return memcmp(out->data, any6, 16) ? 1 : 0;
	}
	if (!dns_ok(name))
		return -EINVAL;
	out->type = GNUTLS_SAN_DNSNAME;
	out->len = strlen(name);
	for (size_t i = 0; i < out->len; i++)
		out->data[i] = (unsigned char)tolower((unsigned char)name[i]);
	return 1;
}

static int wanted_sans(const char *const *extra, struct sans *l, struct gt_err *err)
{
	static const char *const fixed[] = { "localhost", "127.0.0.1", "::1" };
	char host[HOST_NAME_MAX + 1];
	struct san s;

	l->n = 0;
	for (size_t i = 0; i < GT_ARRAY_SIZE(fixed); i++)
		if (san_parse(fixed[i], &s) == 1)
			sans_add(l, &s);
	if (!gethostname(host, sizeof(host))) {
		host[sizeof(host) - 1] = '\0';
		if (san_parse(host, &s) == 1) /* an odd host name is skipped */
			sans_add(l, &s);
	}
	for (; extra && *extra; extra++) {
		int rc = san_parse(*extra, &s);

		if (rc < 0)
			return gt_err_set(err, -EINVAL,
					  "tls: \"%s\" is neither an IP address nor a DNS name",
					  *extra);
		if (rc)
			sans_add(l, &s);
	}
	return 0;
}

static void crt_sans(gnutls_x509_crt_t crt, struct sans *l)
{
	l->n = 0;
	for (unsigned int i = 0;; i++) {
		struct san s;
		size_t size = sizeof(s.data) - 1;
		int type;

		memset(&s, 0, sizeof(s));
		type = gnutls_x509_crt_get_subject_alt_name(crt, i, s.data, &size, NULL);
		if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		if (type < 0)
			break;
		if (type != GNUTLS_SAN_DNSNAME && type != GNUTLS_SAN_IPADDRESS)
			continue;
		s.type = type;
		s.len = size;
		sans_add(l, &s);
	}
}

/* ---- files ---- */

static char *path_in(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* Reads dir/name; -ENOENT when missing. */
static int read_in(const char *dir, const char *name, char **out, struct gt_err *err)
{
	GT_AUTOFREE char *p = path_in(dir, name);
	size_t len;
	int rc = gt_read_file(p, out, &len);

	if (rc < 0 && rc != -ENOENT)
		return gt_err_set(err, rc, "tls: read %s: %s", p, strerror(-rc));
	return rc;
}

static int write_in(const char *dir, const char *name, const char *data, int mode,
		    struct gt_err *err)
{
	GT_AUTOFREE char *p = path_in(dir, name);
	int rc = gt_write_file_atomic(p, data, strlen(data), mode);

	if (rc < 0)
		return gt_err_set(err, rc, "tls: write %s: %s", p, strerror(-rc));
	return 0;
}

/* Parses PEM texts into p (which takes ownership of them). */
static int pair_import(struct pair *p, char *crt_pem, char *key_pem)
{
	gnutls_datum_t d;
	int rc;

	p->crt_pem = crt_pem;
	p->key_pem = key_pem;
	if ((rc = gnutls_x509_crt_init(&p->crt)) < 0 ||
	    (rc = gnutls_x509_privkey_init(&p->key)) < 0)
		return rc;
	d.data = (unsigned char *)crt_pem;
	d.size = (unsigned int)strlen(crt_pem);
	if ((rc = gnutls_x509_crt_import(p->crt, &d, GNUTLS_X509_FMT_PEM)) < 0)
		return rc;
	d.data = (unsigned char *)key_pem;
	d.size = (unsigned int)strlen(key_pem);
	return gnutls_x509_privkey_import2(p->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
}

static bool key_matches(const struct pair *p)
{
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);

	return gnutls_x509_crt_get_key_id(p->crt, GNUTLS_KEYID_USE_SHA256, a, &na) >= 0 &&
	       gnutls_x509_privkey_get_key_id(p->key, GNUTLS_KEYID_USE_SHA256, b, &nb) >= 0 &&
	       na == nb && !memcmp(a, b, na);
}

/* ---- issuing ---- */

static int export_pem(struct pair *p)
{
	gnutls_datum_t d = { NULL, 0 };
	int rc;

	if ((rc = gnutls_x509_crt_export2(p->crt, GNUTLS_X509_FMT_PEM, &d)) < 0)
		return rc;
	p->crt_pem = xstrndup((const char *)d.data, d.size);
	gnutls_free(d.data);
	d.data = NULL;
	rc = gnutls_x509_privkey_export2_pkcs8(p->key, GNUTLS_X509_FMT_PEM, NULL,
					       GNUTLS_PKCS_PLAIN, &d);
	if (rc < 0)
		return rc;
	p->key_pem = xstrndup((const char *)d.data, d.size);
	gnutls_free(d.data);
	return 0;
}

/* Fills the fields CA and leaf share; ca NULL = self-signed. */
static int issue_common(struct pair *p, const char *dn, int days)
{
	unsigned char serial[16], id[64];
	size_t idlen = sizeof(id);
	time_t now = time(NULL);
	int rc;

	gt_random_bytes(serial, sizeof(serial));
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40); /* positive, minimal DER */
	if ((rc = gnutls_x509_privkey_init(&p->key)) < 0 ||
	    (rc = gnutls_x509_privkey_generate(p->key, GNUTLS_PK_ECDSA,
					       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
					       0)) < 0 ||
	    (rc = gnutls_x509_crt_init(&p->crt)) < 0 ||
	    (rc = gnutls_x509_crt_set_version(p->crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(p->crt, serial, sizeof(serial))) < 0 ||
	    (rc = gnutls_x509_crt_set_dn(p->crt, dn, NULL)) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(p->crt, now - 3600)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(p->crt, now + (time_t)days * 86400)) < 0 ||
	    (rc = gnutls_x509_crt_set_key(p->crt, p->key)) < 0 ||
	    (rc = gnutls_x509_crt_get_key_id(p->crt, GNUTLS_KEYID_USE_SHA1, id, &idlen)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_key_id(p->crt, id, idlen)) < 0)
		return rc;
	return 0;
}

static int issue_ca(struct pair *ca, struct gt_err *err)
{
	char dn[64];
	int rc;

	snprintf(dn, sizeof(dn), "CN=gantry-ca@%lld,O=gantry", (long long)time(NULL));
	if ((rc = issue_common(ca, dn, CA_DAYS)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(ca->crt, 1, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(ca->crt, GNUTLS_KEY_KEY_CERT_SIGN |
						GNUTLS_KEY_CRL_SIGN |
						GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_sign2(ca->crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (rc = export_pem(ca)) < 0)
		return tls_fail(err, rc, "create CA");
	return 0;
}

static int issue_server(struct pair *srv, const struct pair *ca, const struct sans *sans,
			struct gt_err *err)
{
	unsigned char akid[64];
	size_t akidlen = sizeof(akid);
	int rc;

	if ((rc = issue_common(srv, "CN=gantry,O=gantry", SERVER_DAYS)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(srv->crt, 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(srv->crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
						GNUTLS_KEY_KEY_ENCIPHERMENT)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(srv->crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
		return tls_fail(err, rc, "create server certificate");
	for (size_t i = 0; i < sans->n; i++) {
		rc = gnutls_x509_crt_set_subject_alt_name(srv->crt, sans->v[i].type,
							  sans->v[i].data,
							  (unsigned int)sans->v[i].len,
							  GNUTLS_FSAN_APPEND);
		if (rc < 0)
			return tls_fail(err, rc, "set subjectAltName");
	}
	if (gnutls_x509_crt_get_subject_key_id(ca->crt, akid, &akidlen, NULL) >= 0 &&
	    (rc = gnutls_x509_crt_set_authority_key_id(srv->crt, akid, akidlen)) < 0)
		return tls_fail(err, rc, "set authority key id");
	if ((rc = gnutls_x509_crt_sign2(srv->crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (rc = export_pem(srv)) < 0)
		return tls_fail(err, rc, "sign server certificate");
	return 0;
}

/* ---- the CA and server pair ---- */

static int ensure_ca(const char *dir, struct pair *ca, bool *fresh, struct gt_err *err)
{
	char *crt = NULL, *key = NULL;
	int rc, rk;

	*fresh = false;
	rc = read_in(dir, "ca.crt", &crt, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rk = read_in(dir, "ca.key", &key, err);
	if (rk < 0 && rk != -ENOENT) {
		free(crt);
		return rk;
	}
	if (rc == 0 && rk == -ENOENT) {
		free(crt);
		return gt_err_set(err, -ENOENT, "tls: %s/ca.crt exists but ca.key is missing",
				  dir);
	}
	if (rc == 0) {
		rc = pair_import(ca, crt, key);
		if (rc < 0)
			return gt_err_set(err, -EINVAL, "tls: %s/ca.crt or ca.key: %s", dir,
					  gnutls_strerror(rc));
		if (!key_matches(ca))
			return gt_err_set(err, -EINVAL,
					  "tls: %s/ca.key does not belong to ca.crt", dir);
		if (gnutls_x509_crt_get_expiration_time(ca->crt) > time(NULL))
			return 0;
		gt_debug("tls: CA in %s has expired, creating a new one", dir);
		pair_release(ca);
	} else {
		free(key); /* a key without its certificate is of no use */
	}
	rc = issue_ca(ca, err);
	if (rc < 0)
		return rc;
	*fresh = true;
	if ((rc = write_in(dir, "ca.key", ca->key_pem, 0600, err)) < 0 ||
	    (rc = write_in(dir, "ca.crt", ca->crt_pem, 0644, err)) < 0)
		return rc;
	return 0;
}

/* Loads the server pair; returns true when it can be reused as is.  Its
 * SANs are added to *all so that a re-issued certificate keeps them. */
static bool server_usable(const char *dir, const struct pair *ca, const struct sans *want,
			  struct sans *all)
{
	struct pair srv = { 0 };
	char *crt = NULL, *key = NULL;
	struct sans have;
	unsigned int status = 1;
	bool ok = false;

	if (read_in(dir, "server.crt", &crt, NULL) < 0 ||
	    read_in(dir, "server.key", &key, NULL) < 0) {
		free(crt);
		return false;
	}
	if (pair_import(&srv, crt, key) < 0 || !key_matches(&srv))
		goto out;
	if (gnutls_x509_crt_verify(srv.crt, &ca->crt, 1, 0, &status) < 0 || status)
		goto out;
	crt_sans(srv.crt, &have);
	for (size_t i = 0; i < have.n; i++)
		sans_add(all, &have.v[i]);
	if (gnutls_x509_crt_get_expiration_time(srv.crt) < time(NULL) + RENEW_BEFORE_S)
		goto out;
	ok = true;
	for (size_t i = 0; i < want->n; i++)
		if (!sans_has(&have, &want->v[i]))
			ok = false;
out:
	pair_release(&srv);
	return ok;
}

int gt_tls_ensure(const char *dir, const char *const *extra_sans,
		  struct gt_tls_material *out, struct gt_err *err)
{
	struct pair ca = { 0 }, srv = { 0 };
	struct sans want, all;
	bool fresh;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = wanted_sans(extra_sans, &want, err);
	if (rc < 0)
		return rc;
	rc = gt_mkdir_p(dir, 0700);
	if (rc < 0)
		return gt_err_set(err, rc, "tls: mkdir %s: %s", dir, strerror(-rc));
	rc = ensure_ca(dir, &ca, &fresh, err);
	if (rc < 0)
		goto out;
	all = want;
	if (!fresh && server_usable(dir, &ca, &want, &all)) {
		char *crt = NULL, *key = NULL;

		if ((rc = read_in(dir, "server.crt", &crt, err)) < 0 ||
		    (rc = read_in(dir, "server.key", &key, err)) < 0) {
			free(crt);
			goto out;
		}
		out->cert_pem = crt;
		out->key_pem = key;
	} else {
		gt_debug("tls: issuing a server certificate in %s", dir);
		if ((rc = issue_server(&srv, &ca, &all, err)) < 0 ||
		    (rc = write_in(dir, "server.key", srv.key_pem, 0600, err)) < 0 ||
		    (rc = write_in(dir, "server.crt", srv.crt_pem, 0644, err)) < 0)
			goto out;
		out->cert_pem = srv.crt_pem;
		out->key_pem = srv.key_pem;
		srv.crt_pem = srv.key_pem = NULL;
	}
	out->ca_pem = ca.crt_pem;
	ca.crt_pem = NULL;
	rc = 0;
out:
	pair_release(&ca);
	pair_release(&srv);
	if (rc < 0)
		gt_tls_material_release(out);
	return rc;
}

void gt_tls_material_release(struct gt_tls_material *m)
{
	if (!m)
		return;
	free(m->ca_pem);
	free(m->cert_pem);
	free(m->key_pem);
	m->ca_pem = m->cert_pem = m->key_pem = NULL;
}

/* ---- admin token ---- */

int gt_tls_token(const char *dir, char **token, struct gt_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[32];
	char *text = NULL, *s, *e;
	char fresh[2 * sizeof(raw) + 2];
	int rc;

	*token = NULL;
	rc = read_in(dir, "admin.token", &text, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (rc == 0) {
		for (s = text; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			;
		if (e > s) {
			*token = xstrndup(s, (size_t)(e - s));
			free(text);
			return 0;
		}
		free(text);
	}
	rc = gt_mkdir_p(dir, 0700);
	if (rc < 0)
		return gt_err_set(err, rc, "tls: mkdir %s: %s", dir, strerror(-rc));
	gt_random_bytes(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++) {
		fresh[2 * i] = hex[raw[i] >> 4];
		fresh[2 * i + 1] = hex[raw[i] & 15];
	}
	fresh[2 * sizeof(raw)] = '\n';
	fresh[2 * sizeof(raw) + 1] = '\0';
	rc = write_in(dir, "admin.token", fresh, 0600, err);
	if (rc < 0)
		return rc;
	*token = xstrndup(fresh, 2 * sizeof(raw));
	return 0;
}
