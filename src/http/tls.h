/*
 * tls.h - the server's TLS material and admin token, kept in a state
 * directory: a private CA (ca.crt, ca.key), a server certificate signed by
 * it (server.crt, server.key) and a bearer token (admin.token).
 *
 * Keys are ECDSA P-256 (accepted by Go's crypto/tls, Python's ssl and
 * GnuTLS); certificates carry subjectAltNames, since Go rejects CN-only
 * certificates.  Key and token files are written with mode 0600.
 */
#ifndef GT_HTTP_TLS_H
#define GT_HTTP_TLS_H

#include "base/err.h"

/* PEM strings, each malloc'd and NUL-terminated; release with
 * gt_tls_material_release(). */
struct gt_tls_material {
	char *ca_pem;   /* the CA certificate (for kubeconfig certificate-authority-data) */
	char *cert_pem; /* the server certificate */
	char *key_pem;  /* the server key (PKCS#8) */
};

/*
 * Loads, or creates on first use, the CA and server certificate in dir
 * (created with mode 0700 if missing).  extra_sans is a NULL-terminated
 * list (may be NULL) of names the server is reached by, e.g. the bind
 * address and the host name: IP literals become IP SANs, anything else a
 * DNS SAN; the wildcards 0.0.0.0 and :: are skipped.  The server
 * certificate always holds DNS localhost, DNS <gethostname()>, IP
 * 127.0.0.1 and IP ::1.  It is re-issued (with a new key) when a wanted
 * SAN is missing, it expires within 30 days, or it was not signed by the
 * CA on disk; the CA is only created when ca.crt and ca.key are both
 * absent (or ca.crt has expired), so issued kubeconfigs stay valid.
 * Fills *out (caller releases).  Returns 0 or a negative errno with err set
 * (an unreadable or corrupt CA is reported, never overwritten; a broken
 * server pair is simply re-issued).
 */
int gt_tls_ensure(const char *dir, const char *const *extra_sans,
		  struct gt_tls_material *out, struct gt_err *err);

/* Frees the strings in m (m itself is the caller's; NULL ok). */
void gt_tls_material_release(struct gt_tls_material *m);

/*
 * Reads dir/admin.token (surrounding whitespace trimmed) or, when absent
 * or empty, creates it: 32 random bytes as 64 hex characters, mode 0600.
 * *token is malloc'd (caller frees).  Returns 0 or a negative errno.
 */
int gt_tls_token(const char *dir, char **token, struct gt_err *err);

#endif
