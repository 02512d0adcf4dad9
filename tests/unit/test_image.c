/*
 * test_image.c - the image store: reference normalization, challenge and
 * credential parsing, import of `docker save` and OCI archives built here
 * from /bin/busybox (busybox-static) with no network, overlay mounts with
 * whiteouts, malformed archives leaving the store unchanged, GC, two
 * importers at once, and registry round trips through Debian's
 * docker-registry on loopback (anonymous, htpasswd Basic auth, and Bearer
 * tokens through a small python3 token proxy), with pushes by skopeo.
 *
 * Needs root (mknod, trusted.* xattrs, overlay mounts); the parts that need
 * a missing tool print "skip:" with the reason.  Registries and proxies are
 * killed and temporary directories removed even when checks fail.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "agent/image.h"
#include "agent/image_int.h"
#include "http/fetch.h"
#include "t.h"

static char g_top[128];   /* everything of this test lives here */
static bool g_root;
static char g_d1[IMG_DIGEST_MAX], g_d2[IMG_DIGEST_MAX], g_c1[IMG_DIGEST_MAX],
	g_c2[IMG_DIGEST_MAX];

static char *tp(const char *name)
{
	return xasprintf("%s/%s", g_top, name);
}

static bool has_tool(const char *path)
{
	return access(path, X_OK) == 0;
}

/* ---- building archives ---- */

struct tent {
	const char *path;
	char type;        /* 'f' file, 'd' dir, 'l' symlink, 'h' hardlink, 'c' char
			   * device 1/3, 'p' fifo, 'o' file owned by 1234:1235 with
			   * the xattr user.gantry=yes */
	const char *data; /* content, or link target */
	const char *src;  /* or: a file whose content to use */
	int mode;
};

static int write_tar(const char *path, const struct tent *e, size_t n, bool gz)
{
	struct archive *a = archive_write_new();
	int rc = 0;

	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		char *buf = NULL;
		size_t len = 0;

		if (e[i].src && gt_read_file(e[i].src, &buf, &len) < 0)
			rc = -1;
		else if (!e[i].src && (e[i].type == 'f' || e[i].type == 'o') && e[i].data)
			len = strlen(e[i].data);
		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_mtime(ae, 1700000000, 0);
		archive_entry_set_uid(ae, e[i].type == 'o' ? 1234 : 0);
		archive_entry_set_gid(ae, e[i].type == 'o' ? 1235 : 0);
		if (e[i].type == 'o')
			archive_entry_xattr_add_entry(ae, "user.gantry", "yes", 3);
		switch (e[i].type) {
		case 'c':
			archive_entry_set_filetype(ae, AE_IFCHR);
			archive_entry_set_perm(ae, 0666);
			archive_entry_set_rdevmajor(ae, 1);
			archive_entry_set_rdevminor(ae, 3);
			break;
		case 'p':
			archive_entry_set_filetype(ae, AE_IFIFO);
			archive_entry_set_perm(ae, 0600);
			break;
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_perm(ae, 0777);
			archive_entry_set_symlink(ae, e[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, 0644);
			archive_entry_set_hardlink(ae, e[i].data);
			break;
		default:
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0644);
			archive_entry_set_size(ae, (la_int64_t)len);
		}
		if (rc == 0 && archive_write_header(a, ae) != ARCHIVE_OK)
			rc = -1;
		if (rc == 0 && (e[i].type == 'f' || e[i].type == 'o') && len &&
		    archive_write_data(a, buf ? buf : e[i].data, len) != (la_ssize_t)len)
			rc = -1;
		free(buf);
		archive_entry_free(ae);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = -1;
	archive_write_free(a);
	return rc;
}

static void write_str(const char *path, const char *s)
{
	gt_write_file_atomic(path, s, strlen(s), 0644);
}

static void digest_of(const char *path, char out[IMG_DIGEST_MAX], int64_t *size)
{
	if (img_sha256_file(path, out, size) < 0)
		out[0] = 0;
}

/* A config naming diff_ids; written to g_top/<name>, digest into out. */
static void write_config(const char *name, const char *const *diffs, size_t n,
			 char out[IMG_DIGEST_MAX])
{
	json_t *ids = json_array();
	GT_AUTOFREE char *p = tp(name);

	for (size_t i = 0; i < n; i++)
		json_array_append_new(ids, json_string(diffs[i]));
	json_t *c = json_pack("{s:s,s:s,s:{s:[s],s:[s],s:s},s:{s:s,s:o}}", "architecture",
			      img_host_arch(), "os", "linux", "config", "Cmd", "sh", "Env",
			      "PATH=/bin", "WorkingDir", "/", "rootfs", "type", "layers",
			      "diff_ids", ids);
	GT_AUTOFREE char *s = gt_json_dump(c, NULL);
	json_decref(c);
	write_str(p, s);
	digest_of(p, out, NULL);
}

/* A docker save archive: images as {config file, tags JSON, layer files}. */
struct dimg {
	const char *config;   /* file under g_top */
	const char *tags;     /* JSON array text or "null" */
	const char *layers[4]; /* files under g_top */
};

static void write_docker(const char *name, const struct dimg *imgs, size_t n)
{
	struct tent e[32];
	size_t ne = 0;
	struct gt_buf man = GT_BUF_INIT;
	char *paths[32], *names[32];
	size_t np = 0;

	gt_buf_init(&man);
	gt_buf_adds(&man, "[");
	for (size_t i = 0; i < n; i++) {
		char d[IMG_DIGEST_MAX];
		paths[np] = tp(imgs[i].config);
		digest_of(paths[np], d, NULL);
		names[np] = xasprintf("%s.json", d + 7);
		e[ne++] = (struct tent){ names[np], 'f', NULL, paths[np], 0 };
		gt_buf_addf(&man, "%s{\"Config\":\"%s\",\"RepoTags\":%s,\"Layers\":[", i ? "," : "",
			    names[np], imgs[i].tags);
		np++;
		for (size_t j = 0; imgs[i].layers[j]; j++) {
			if (strchr(imgs[i].layers[j], '/')) { /* a name not in the archive */
				gt_buf_addf(&man, "%s\"%s\"", j ? "," : "", imgs[i].layers[j]);
				continue;
			}
			paths[np] = tp(imgs[i].layers[j]);
			digest_of(paths[np], d, NULL);
			names[np] = xasprintf("%.12s/layer.tar", d + 7);
			e[ne++] = (struct tent){ names[np], 'f', NULL, paths[np], 0 };
			gt_buf_addf(&man, "%s\"%s\"", j ? "," : "", names[np]);
			np++;
		}
		gt_buf_adds(&man, "]}");
	}
	gt_buf_adds(&man, "]");
	e[ne++] = (struct tent){ "manifest.json", 'f', man.data, NULL, 0 };
	GT_AUTOFREE char *out = tp(name);
	CHECK(write_tar(out, e, ne, false) == 0);
	for (size_t i = 0; i < np; i++) {
		free(paths[i]);
		free(names[i]);
	}
	gt_buf_release(&man);
}

static void desc_json(struct gt_buf *b, const char *mt, const char *file, const char *ann)
{
	char d[IMG_DIGEST_MAX];
	int64_t size = 0;
	GT_AUTOFREE char *p = tp(file);

	digest_of(p, d, &size);
	gt_buf_addf(b, "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld%s%s}", mt, d,
		    (long long)size, ann ? "," : "", ann ? ann : "");
}

/* An OCI layout archive from files under g_top: blobs plus index.json text. */
static void write_oci(const char *name, const char *const *blobs, const char *index)
{
	struct tent e[16];
	char *paths[16], *names[16];
	size_t ne = 0, np = 0;

	e[ne++] = (struct tent){ "oci-layout", 'f', "{\"imageLayoutVersion\":\"1.0.0\"}", NULL, 0 };
	e[ne++] = (struct tent){ "index.json", 'f', index, NULL, 0 };
	e[ne++] = (struct tent){ "blobs/", 'd', NULL, NULL, 0 };
	for (size_t i = 0; blobs[i]; i++) {
		char d[IMG_DIGEST_MAX];
		paths[np] = tp(blobs[i]);
		digest_of(paths[np], d, NULL);
		names[np] = xasprintf("blobs/sha256/%s", d + 7);
		e[ne++] = (struct tent){ names[np], 'f', NULL, paths[np], 0 };
		np++;
	}
	GT_AUTOFREE char *out = tp(name);
	CHECK(write_tar(out, e, ne, false) == 0);
	for (size_t i = 0; i < np; i++) {
		free(paths[i]);
		free(names[i]);
	}
}

static void build_images(void)
{
	const struct tent l1[] = {
		{ "./", 'd', NULL, NULL, 0755 },
		{ "bin/", 'd', NULL, NULL, 0755 },
		{ "bin/busybox", 'f', NULL, "/bin/busybox", 0755 },
		{ "bin/sh", 'l', "busybox", NULL, 0 },
		{ "bin/ls", 'l', "/bin/busybox", NULL, 0 },
		{ "bin/cat", 'h', "bin/busybox", NULL, 0 },
		{ "tmp/", 'd', NULL, NULL, 01777 },
		{ "etc/hostname", 'f', "layer1\n", NULL, 0 },
		{ "data/keep/a", 'f', "kept\n", NULL, 0 },
		{ "data/gone", 'f', "to be deleted\n", NULL, 0 },
		{ "opq/x", 'f', "hidden by opaque\n", NULL, 0 },
		{ "opq/y/deep", 'f', "hidden too\n", NULL, 0 },
		{ "home/user/owned", 'o', "mine\n", NULL, 04750 },
		{ "dev/null", 'c', NULL, NULL, 0 },
		{ "run/fifo", 'p', NULL, NULL, 0 },
	};
	const struct tent l2[] = {
		{ "data/.wh.gone", 'f', "", NULL, 0 },
		{ "opq/", 'd', NULL, NULL, 0755 },
		{ "opq/.wh..wh..opq", 'f', "", NULL, 0 },
		{ "opq/z", 'f', "new in layer 2\n", NULL, 0 },
		{ "etc/hostname", 'f', "layer2\n", NULL, 0 },
		/* through a symlink full of "..": must land inside the layer */
		{ "escape", 'l', "../../../../etc", NULL, 0 },
		{ "escape/inside", 'f', "stays in the layer\n", NULL, 0 },
	};
	const struct tent evil[] = {
		{ "ok", 'f', "fine\n", NULL, 0 },
		{ "../x", 'f', "escaped\n", NULL, 0 },
	};
	GT_AUTOFREE char *p1 = tp("l1.tar"), *p1z = tp("l1.tar.gz"), *p2 = tp("l2.tar");
	GT_AUTOFREE char *pe = tp("evil.tar");

	CHECK(write_tar(p1, l1, GT_ARRAY_SIZE(l1), false) == 0);
	CHECK(write_tar(p1z, l1, GT_ARRAY_SIZE(l1), true) == 0);
	CHECK(write_tar(p2, l2, GT_ARRAY_SIZE(l2), false) == 0);
	CHECK(write_tar(pe, evil, GT_ARRAY_SIZE(evil), false) == 0);
	digest_of(p1, g_d1, NULL);
	digest_of(p2, g_d2, NULL);
	char de[IMG_DIGEST_MAX];
	digest_of(pe, de, NULL);
	const char *one[] = { g_d1 }, *two[] = { g_d1, g_d2 }, *bad[] = { g_d2, g_d2 },
		   *ev[] = { de };
	write_config("c1.json", one, 1, g_c1);
	write_config("c2.json", two, 2, g_c2);
	char tmp[IMG_DIGEST_MAX];
	write_config("cbad.json", bad, 2, tmp);
	write_config("cevil.json", ev, 1, tmp);

	const struct dimg good[] = {
		{ "c2.json", "[\"test/two:1\"]", { "l1.tar", "l2.tar", NULL } },
		{ "c1.json", "[\"test/one:1\",\"localhost:5000/one\"]", { "l1.tar", NULL } },
	};
	write_docker("docker.tar", good, 2);
	write_docker("one.tar", &good[1], 1);
	const struct dimg badiff[] = { { "cbad.json", "[\"test/bad:1\"]", { "l1.tar", "l2.tar", NULL } } };
	write_docker("badiff.tar", badiff, 1);
	const struct dimg missing[] = { { "c1.json", "[\"test/missing:1\"]", { "nope/layer.tar", NULL } } };
	write_docker("missing.tar", missing, 1);
	const struct dimg evild[] = { { "cevil.json", "[\"test/evil:1\"]", { "evil.tar", NULL } } };
	write_docker("evil-image.tar", evild, 1);
	const struct dimg untagged[] = { { "c1.json", "null", { "l1.tar", NULL } } };
	write_docker("untagged.tar", untagged, 1);

	/* OCI: a gzip layer; a manifest; a nested index with two platforms */
	struct gt_buf m = GT_BUF_INIT, ix = GT_BUF_INIT, top = GT_BUF_INIT;
	gt_buf_init(&m);
	gt_buf_adds(&m, "{\"schemaVersion\":2,\"mediaType\":\"" IMG_MT_OCI_MANIFEST "\",\"config\":");
	desc_json(&m, IMG_MT_OCI_CONFIG, "c1.json", NULL);
	gt_buf_adds(&m, ",\"layers\":[");
	desc_json(&m, "application/vnd.oci.image.layer.v1.tar+gzip", "l1.tar.gz", NULL);
	gt_buf_adds(&m, "]}");
	GT_AUTOFREE char *mp = tp("m1.json");
	write_str(mp, m.data);
	gt_buf_init(&ix);
	gt_buf_addf(&ix, "{\"schemaVersion\":2,\"mediaType\":\"" IMG_MT_OCI_INDEX "\",\"manifests\":["
		    "{\"mediaType\":\"" IMG_MT_OCI_MANIFEST "\",\"digest\":\"sha256:%064d\",\"size\":1,"
		    "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}},", 0,
		    strcmp(img_host_arch(), "s390x") ? "s390x" : "amd64");
	char plat[128];
	snprintf(plat, sizeof(plat), "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}",
		 img_host_arch());
	desc_json(&ix, IMG_MT_OCI_MANIFEST, "m1.json", plat);
	gt_buf_adds(&ix, "]}");
	GT_AUTOFREE char *ixp = tp("ix.json");
	write_str(ixp, ix.data);
	gt_buf_init(&top);
	gt_buf_adds(&top, "{\"schemaVersion\":2,\"manifests\":[");
	desc_json(&top, IMG_MT_OCI_MANIFEST, "m1.json",
		  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"test/oci:1\"}");
	gt_buf_adds(&top, ",");
	desc_json(&top, IMG_MT_OCI_INDEX, "ix.json",
		  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"2\","
		  "\"io.containerd.image.name\":\"docker.io/test/multi:2\"}");
	gt_buf_adds(&top, "]}");
	const char *blobs[] = { "l1.tar.gz", "c1.json", "m1.json", "ix.json", NULL };
	write_oci("oci.tar", blobs, top.data);
	/* bad digest: a blob whose content does not match its name */
	GT_AUTOFREE char *evilz = tp("l1.tar.gz");
	GT_AUTOFREE char *bd = tp("baddigest.tar");
	{
		char d[IMG_DIGEST_MAX];
		digest_of(evilz, d, NULL);
		GT_AUTOFREE char *bname = xasprintf("blobs/sha256/%s", d + 7);
		GT_AUTOFREE char *c1 = tp("c1.json");
		GT_AUTOFREE char *m1 = tp("m1.json");
		char dc[IMG_DIGEST_MAX], dm[IMG_DIGEST_MAX];
		digest_of(c1, dc, NULL);
		digest_of(m1, dm, NULL);
		GT_AUTOFREE char *cn = xasprintf("blobs/sha256/%s", dc + 7);
		GT_AUTOFREE char *mn = xasprintf("blobs/sha256/%s", dm + 7);
		GT_AUTOFREE char *l2f = tp("l2.tar");
		struct tent e[] = {
			{ "oci-layout", 'f', "{\"imageLayoutVersion\":\"1.0.0\"}", NULL, 0 },
			{ "index.json", 'f', top.data, NULL, 0 },
			{ bname, 'f', NULL, l2f, 0 },
			{ cn, 'f', NULL, c1, 0 },
			{ mn, 'f', NULL, m1, 0 },
		};
		CHECK(write_tar(bd, e, GT_ARRAY_SIZE(e), false) == 0);
	}
	gt_buf_release(&m);
	gt_buf_release(&ix);
	gt_buf_release(&top);
	/* truncated: the first 60% of a good archive */
	{
		GT_AUTOFREE char *src = tp("docker.tar"), *dst = tp("trunc.tar"), *buf = NULL;
		size_t len;
		if (gt_read_file(src, &buf, &len) == 0)
			gt_write_file_atomic(dst, buf, len * 6 / 10, 0644);
		GT_AUTOFREE char *junk = tp("junk.tar");
		write_str(junk, "this is not an archive at all, just text\n");
	}
}

/* ---- store helpers ---- */

static struct gt_buf g_snap;
static const char *g_snap_root;

static int snap_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)flag;
	(void)f;
	const char *rel = p + strlen(g_snap_root);
	if (!strcmp(rel, "/lock"))
		return 0;
	gt_buf_addf(&g_snap, "%s %o %lld\n", rel, st->st_mode, S_ISREG(st->st_mode)
		    ? (long long)st->st_size : 0LL);
	return 0;
}

/* Every path, mode and size under the store (but the lock file). */
static char *snapshot(const char *root)
{
	gt_buf_init(&g_snap);
	g_snap_root = root;
	nftw(root, snap_cb, 32, FTW_PHYS);
	return gt_buf_detach(&g_snap, NULL);
}

static struct gt_image_store *open_store(const char *name, char **root)
{
	struct gt_image_store *s = NULL;
	struct gt_err err = { 0 };

	*root = tp(name);
	if (gt_image_store_open(*root, &s, &err) < 0)
		fprintf(stderr, "  open store: %s\n", err.msg);
	return s;
}

static bool exists(const char *dir, const char *rel)
{
	GT_AUTOFREE char *p = xasprintf("%s/%s", dir, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

static bool file_is(const char *dir, const char *rel, const char *want)
{
	GT_AUTOFREE char *p = xasprintf("%s/%s", dir, rel);
	GT_AUTOFREE char *buf = NULL;
	size_t len;
	return gt_read_file(p, &buf, &len) == 0 && !strcmp(buf, want);
}

/* ---- pure parsing ---- */

TEST(normalize)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "busybox", "docker.io/library/busybox:latest" },
		{ "busybox:1.36", "docker.io/library/busybox:1.36" },
		{ "library/busybox", "docker.io/library/busybox:latest" },
		{ "docker.io/busybox", "docker.io/library/busybox:latest" },
		{ "index.docker.io/library/busybox:1", "docker.io/library/busybox:1" },
		{ "user/app:v2", "docker.io/user/app:v2" },
		{ "quay.io/org/app", "quay.io/org/app:latest" },
		{ "localhost/app", "localhost/app:latest" },
		{ "localhost:5000/a/b/c:t_1.x-y", "localhost:5000/a/b/c:t_1.x-y" },
		{ "127.0.0.1:5000/test/busybox:1", "127.0.0.1:5000/test/busybox:1" },
		{ "[::1]:5000/app", "[::1]:5000/app:latest" },
		{ "my-reg.example.com/a__b/c-d.e", "my-reg.example.com/a__b/c-d.e:latest" },
		{ "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
		{ "busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "docker.io/library/busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
		{ "host", "host" },
	};
	static const char *const bad[] = {
		"", "Busybox", "busybox:", ":tag", "a//b", "-a", "a-", "a/b:bad tag", "a:.x",
		"busybox@sha256:short", "busybox@md5:0123", "reg.io:port/x", "UPPER/x/Y",
		"a b", "/abs", "a/", "x@", "localhost:5000/A",
	};
	char out[IMG_REF_MAX];
	struct gt_err err = { 0 };

	for (size_t i = 0; i < GT_ARRAY_SIZE(ok); i++) {
		int rc = gt_image_normalize(ok[i].in, out, sizeof(out), &err);
		CHECK_INT(rc, 0);
		if (rc == 0)
			CHECK_STR(out, ok[i].out);
		else
			fprintf(stderr, "  %s: %s\n", ok[i].in, err.msg);
	}
	for (size_t i = 0; i < GT_ARRAY_SIZE(bad); i++) {
		int rc = gt_image_normalize(bad[i], out, sizeof(out), &err);
		if (rc == 0)
			fprintf(stderr, "  accepted \"%s\" as %s\n", bad[i], out);
		CHECK(rc < 0);
	}
	CHECK(gt_image_normalize("Busybox", out, sizeof(out), &err) == -EINVAL);
	CHECK(strstr(err.msg, "lowercase") != NULL);
	CHECK(gt_image_normalize("busybox", out, 8, &err) == -ENOSPC);
}

TEST(challenge_and_creds)
{
	struct img_challenge c;
	CHECK_INT(img_parse_challenge("Bearer realm=\"https://auth.docker.io/token\",service="
				      "\"registry.docker.io\",scope=\"repository:library/busybox:pull\"",
				      &c), 0);
	CHECK_STR(c.scheme, "Bearer");
	CHECK_STR(c.realm, "https://auth.docker.io/token");
	CHECK_STR(c.service, "registry.docker.io");
	CHECK_STR(c.scope, "repository:library/busybox:pull");
	CHECK_INT(img_parse_challenge("Basic realm=basic-realm", &c), 0);
	CHECK_STR(c.scheme, "Basic");
	CHECK_STR(c.realm, "basic-realm");
	CHECK(img_parse_challenge("Bearer realm=\"unterminated", &c) < 0);
	CHECK(img_parse_challenge("", &c) < 0);

	GT_AUTOJSON json_t *cfg = NULL;
	const char *txt = "[{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"dTE6cDE=\"},"
			  "\"other.io\":{\"username\":\"u2\",\"password\":\"p:2\"}}},"
			  "{\"auths\":{\"http://other.io/v2/\":{\"auth\":\"dTM6cDM=\"}}},"
			  "{\"tok.io\":{\"identitytoken\":\"xyz\"}}]";
	CHECK(gt_json_parse(txt, strlen(txt), &cfg, NULL) == 0);
	struct gt_pull_auth a;
	char scratch[256];
	CHECK_INT(gt_image_auth_lookup(cfg, "docker.io", 0, &a, scratch, sizeof(scratch)), 0);
	CHECK_STR(a.username, "u1");
	CHECK_STR(a.password, "p1");
	CHECK_INT(gt_image_auth_lookup(cfg, "other.io", 0, &a, scratch, sizeof(scratch)), 0);
	CHECK_STR(a.username, "u2");
	CHECK_STR(a.password, "p:2");
	CHECK_INT(gt_image_auth_lookup(cfg, "other.io", 1, &a, scratch, sizeof(scratch)), 0);
	CHECK_STR(a.username, "u3");
	CHECK_INT(gt_image_auth_lookup(cfg, "other.io", 2, &a, scratch, sizeof(scratch)), -ENOENT);
	CHECK_INT(gt_image_auth_lookup(cfg, "tok.io", 0, &a, scratch, sizeof(scratch)), 0);
	CHECK_STR(a.identity_token, "xyz");
	CHECK_INT(gt_image_auth_lookup(NULL, "x.io", 0, &a, scratch, sizeof(scratch)), -ENOENT);

	char why[128];
	const char *body = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}";
	img_registry_errors(body, strlen(body), why, sizeof(why));
	CHECK_STR(why, "manifest unknown");
	body = "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"no\"},{\"message\":\"x\"}]}";
	img_registry_errors(body, strlen(body), why, sizeof(why));
	CHECK_STR(why, "denied: no; x");
}

/* ---- import, get, mount ---- */

TEST(import_docker_and_oci)
{
	GT_AUTOFREE char *root = NULL;
	struct gt_image_store *s = open_store("store1", &root);
	struct gt_err err = { 0 };
	GT_AUTOJSON json_t *refs = NULL, *refs2 = NULL, *list = NULL;
	GT_AUTOFREE char *docker = tp("docker.tar"), *oci = tp("oci.tar");
	struct gt_image img = { 0 };

	if (!s)
		{ CHECK(0); return; }
	CHECK_INT(gt_image_import(s, docker, &refs, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK_INT(json_array_size(refs), 3);
	CHECK_STR(json_string_value(json_array_get(refs, 0)), "docker.io/test/two:1");
	CHECK_STR(json_string_value(json_array_get(refs, 2)), "localhost:5000/one:latest");
	CHECK_INT(gt_image_import(s, oci, &refs2, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK_INT(json_array_size(refs2), 2);
	CHECK_STR(json_string_value(json_array_get(refs2, 0)), "docker.io/test/oci:1");
	CHECK_STR(json_string_value(json_array_get(refs2, 1)), "docker.io/test/multi:2");

	CHECK(gt_image_present(s, "test/two:1"));
	CHECK(gt_image_present(s, "docker.io/test/oci:1"));
	CHECK(gt_image_present(s, "host"));
	CHECK(!gt_image_present(s, "test/two:2"));
	CHECK(!gt_image_present(s, "NOT VALID"));

	CHECK_INT(gt_image_get(s, "test/two:1", &img, &err), 0);
	CHECK_INT(img.nlayers, 2);
	CHECK_STR(img.id, g_c2);
	CHECK_STR(img.ref, "docker.io/test/two:1");
	CHECK_STR(gt_json_str(img.config, "WorkingDir"), "/");
	CHECK_STR(json_string_value(json_array_get(json_object_get(img.config, "Env"), 0)),
		  "PATH=/bin");
	if (img.nlayers == 2) {
		GT_AUTOFREE char *want = img_layer_path(s, g_d1);
		CHECK_STR(img.layers[0], want);
		CHECK(exists(img.layers[0], "bin/busybox"));
		CHECK(exists(img.layers[1], "opq/z"));
		/* the symlinked directory resolved inside the layer */
		CHECK(file_is(img.layers[1], "etc/inside", "stays in the layer\n"));
		struct stat st;
		GT_AUTOFREE char *wh = xasprintf("%s/data/gone", img.layers[1]);
		CHECK(lstat(wh, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0);
		GT_AUTOFREE char *cat = xasprintf("%s/bin/cat", img.layers[0]);
		GT_AUTOFREE char *bb = xasprintf("%s/bin/busybox", img.layers[0]);
		struct stat a, b;
		CHECK(stat(cat, &a) == 0 && stat(bb, &b) == 0 && a.st_ino == b.st_ino);
		CHECK((b.st_mode & 07777) == 0755);
		GT_AUTOFREE char *tmpd = xasprintf("%s/tmp", img.layers[0]);
		CHECK(stat(tmpd, &a) == 0 && (a.st_mode & 07777) == 01777);
		CHECK(a.st_mtime == 1700000000);
		GT_AUTOFREE char *own = xasprintf("%s/home/user/owned", img.layers[0]);
		char xv[8] = "";
		CHECK(stat(own, &a) == 0 && a.st_uid == 1234 && a.st_gid == 1235 &&
		      (a.st_mode & 07777) == 04750);
		CHECK(getxattr(own, "user.gantry", xv, sizeof(xv)) == 3 && !memcmp(xv, "yes", 3));
		GT_AUTOFREE char *dn = xasprintf("%s/dev/null", img.layers[0]);
		CHECK(lstat(dn, &a) == 0 && S_ISCHR(a.st_mode) && a.st_rdev == makedev(1, 3));
		GT_AUTOFREE char *ff = xasprintf("%s/run/fifo", img.layers[0]);
		CHECK(lstat(ff, &a) == 0 && S_ISFIFO(a.st_mode));
	}
	gt_image_release(&img);
	/* the OCI image, its layer gzipped, and the one picked from an index */
	CHECK_INT(gt_image_get(s, "test/oci:1", &img, &err), 0);
	CHECK_STR(img.id, g_c1);
	CHECK_INT(img.nlayers, 1);
	gt_image_release(&img);
	CHECK_INT(gt_image_get(s, "test/multi:2", &img, &err), 0);
	CHECK_STR(img.id, g_c1);
	CHECK(img.digest && strcmp(img.digest, img.id) != 0);
	gt_image_release(&img);
	CHECK_INT(gt_image_get(s, "test/none:1", &img, &err), -ENOENT);
	CHECK(strstr(err.msg, "not present") != NULL);
	CHECK_INT(gt_image_get(s, "host", &img, &err), -ENOENT);

	CHECK_INT(gt_image_list(s, &list, &err), 0);
	CHECK_INT(json_array_size(list), 5);
	CHECK_STR(gt_json_str(json_array_get(list, 0), "ref"), "docker.io/test/multi:2");
	int64_t size = 0;
	gt_json_int(json_array_get(list, 0), "size", &size);
	CHECK(size > 1000000); /* busybox is in it */

	/* a layer directory that went missing is unpacked again */
	GT_AUTOFREE char *l2 = img_layer_path(s, g_d2);
	CHECK_INT(img_rmtree(l2), 0);
	CHECK_INT(gt_image_get(s, "test/two:1", &img, &err), 0);
	CHECK(exists(l2, "opq/z"));
	gt_image_release(&img);

	/* the store is an OCI layout skopeo can read */
	if (has_tool("/usr/bin/skopeo")) {
		GT_AUTOFREE char *cmd = xasprintf("skopeo inspect --raw oci:%s:docker.io/test/two:1 "
						  ">/dev/null 2>&1", root);
		CHECK_INT(system(cmd), 0);
	}
	gt_image_store_close(s);
}

TEST(mount_overlay)
{
	GT_AUTOFREE char *root = NULL;
	struct gt_image_store *s = open_store("store1", &root);
	struct gt_err err = { 0 };
	struct gt_image img = { 0 };
	GT_AUTOFREE char *upper = tp("c1/upper"), *work = tp("c1/work"), *m = tp("c1/rootfs");
	GT_AUTOFREE char *u2 = tp("c2/upper"), *w2 = tp("c2/work"), *m2 = tp("c2/rootfs");

	if (!s || !g_root) {
		printf("skip: mount_overlay needs root\n");
		gt_image_store_close(s);
		return;
	}
	gt_mkdir_p(m, 0755);
	gt_mkdir_p(m2, 0755);
	CHECK_INT(gt_image_get(s, "test/two:1", &img, &err), 0);
	CHECK_INT(gt_image_mount(&img, upper, work, m, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(exists(m, "bin/busybox"));
	CHECK(exists(m, "data/keep/a"));
	CHECK(!exists(m, "data/gone"));  /* whiteout */
	CHECK(!exists(m, "opq/x"));      /* opaque directory */
	CHECK(!exists(m, "opq/y"));
	CHECK(exists(m, "opq/z"));
	CHECK(file_is(m, "etc/hostname", "layer2\n"));
	GT_AUTOFREE char *nf = xasprintf("%s/written", m);
	write_str(nf, "hello\n");
	CHECK(file_is(upper, "written", "hello\n"));
	GT_AUTOFREE char *cmd = xasprintf("chroot %s /bin/sh -c 'cat /etc/hostname && ls /bin' "
					  ">/dev/null 2>&1", m);
	CHECK_INT(system(cmd), 0);
	CHECK_INT(gt_image_unmount(m, &err), 0);
	CHECK(!exists(m, "bin"));
	CHECK_INT(gt_image_unmount(m, &err), 0); /* not mounted: fine */
	gt_image_release(&img);

	/* a single-layer image is still writable */
	CHECK_INT(gt_image_get(s, "test/one:1", &img, &err), 0);
	CHECK_INT(gt_image_mount(&img, u2, w2, m2, &err), 0);
	CHECK(file_is(m2, "etc/hostname", "layer1\n"));
	CHECK(exists(m2, "data/gone"));
	GT_AUTOFREE char *nf2 = xasprintf("%s/tmp/x", m2);
	write_str(nf2, "w\n");
	CHECK(file_is(u2, "tmp/x", "w\n"));
	/* GC keeps layers a live mount uses */
	CHECK_INT(gt_image_remove(s, "test/one:1", &err), 0);
	CHECK_INT(gt_image_remove(s, "localhost:5000/one", &err), 0);
	CHECK_INT(gt_image_remove(s, "test/oci:1", &err), 0);
	CHECK_INT(gt_image_remove(s, "test/multi:2", &err), 0);
	CHECK_INT(gt_image_remove(s, "test/two:1", &err), 0);
	CHECK(exists(img.layers[0], "bin/busybox"));
	CHECK_INT(gt_image_unmount(m2, &err), 0);
	gt_image_release(&img);
	CHECK_INT(gt_image_mount(&img, u2, w2, m2, &err), -EINVAL);
	gt_image_store_close(s);
}

TEST(malformed_archives)
{
	static const struct { const char *file, *want; int code; } cases[] = {
		{ "trunc.tar", "truncated", -EINVAL },
		{ "junk.tar", "not a tar archive", -EINVAL },
		{ "baddigest.tar", "has digest", -EBADMSG },
		{ "badiff.tar", "diff_id mismatch", -EBADMSG },
		{ "missing.tar", "\"nope/layer.tar\" not found in the archive", -ENOENT },
		{ "evil-image.tar", "escapes the layer", -EINVAL },
		{ "untagged.tar", "no named image", -EINVAL },
		{ "does-not-exist.tar", "No such file", -ENOENT },
	};
	GT_AUTOFREE char *root = NULL;
	struct gt_image_store *s = open_store("store2", &root);
	GT_AUTOFREE char *one = tp("one.tar");
	struct gt_err err = { 0 };

	if (!s)
		{ CHECK(0); return; }
	CHECK_INT(gt_image_import(s, one, NULL, &err), 0);
	GT_AUTOFREE char *before = snapshot(root);
	for (size_t i = 0; i < GT_ARRAY_SIZE(cases); i++) {
		GT_AUTOFREE char *p = tp(cases[i].file);
		GT_AUTOJSON json_t *refs = NULL;
		gt_err_clear(&err);
		int rc = gt_image_import(s, p, &refs, &err);
		CHECK(rc < 0);
		CHECK(refs == NULL);
		if (cases[i].code)
			CHECK_INT(rc, cases[i].code);
		CHECK(strstr(err.msg, cases[i].file) != NULL); /* names the archive */
		if (!strstr(err.msg, cases[i].want)) {
			fprintf(stderr, "  %s: message \"%s\" lacks \"%s\"\n", cases[i].file,
				err.msg, cases[i].want);
			CHECK(0);
		}
		GT_AUTOFREE char *after = snapshot(root);
		if (strcmp(before, after)) {
			fprintf(stderr, "  %s changed the store:\n%s---\n%s", cases[i].file, before,
				after);
			CHECK(0);
		}
	}
	GT_AUTOFREE char *outside = tp("x");
	CHECK(access(outside, F_OK) < 0);
	gt_image_store_close(s);
}

TEST(remove_and_gc)
{
	GT_AUTOFREE char *root = NULL;
	struct gt_image_store *s = open_store("store3", &root);
	GT_AUTOFREE char *docker = tp("docker.tar");
	struct gt_err err = { 0 };
	GT_AUTOJSON json_t *list = NULL;

	if (!s)
		{ CHECK(0); return; }
	CHECK_INT(gt_image_import(s, docker, NULL, &err), 0);
	GT_AUTOFREE char *l1 = img_layer_path(s, g_d1), *l2 = img_layer_path(s, g_d2);
	GT_AUTOFREE char *b2 = img_blob_path(s, g_d2), *c2 = img_blob_path(s, g_c2);
	CHECK(access(l2, F_OK) == 0 && access(b2, F_OK) == 0);
	CHECK_INT(gt_image_remove(s, "test/two:1", &err), 0);
	CHECK(access(l2, F_OK) < 0 && access(b2, F_OK) < 0 && access(c2, F_OK) < 0);
	CHECK(access(l1, F_OK) == 0); /* test/one still needs it */
	CHECK_INT(gt_image_remove(s, "test/two:1", &err), -ENOENT);
	CHECK(strstr(err.msg, "not found") != NULL);
	/* by image id prefix: both names of test/one go */
	char prefix[20];
	snprintf(prefix, sizeof(prefix), "%.12s", g_c1 + 7);
	CHECK_INT(gt_image_remove(s, prefix, &err), 0);
	CHECK_INT(gt_image_list(s, &list, &err), 0);
	CHECK_INT(json_array_size(list), 0);
	CHECK(access(l1, F_OK) < 0);
	GT_AUTOFREE char *blobs = xasprintf("%s/blobs/sha256", root);
	GT_AUTOFREE char *snap = snapshot(blobs);
	CHECK_STR(snap, " 40755 0\n");
	/* re-import replaces, then rm by name */
	CHECK_INT(gt_image_import(s, docker, NULL, &err), 0);
	CHECK_INT(gt_image_import(s, docker, NULL, &err), 0);
	json_decref(list);
	CHECK_INT(gt_image_list(s, &list, &err), 0);
	CHECK_INT(json_array_size(list), 3);
	gt_image_store_close(s);
}

struct racer {
	struct gt_image_store *s;
	const char *archive;
	int rc;
	struct gt_err err;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	r->rc = gt_image_import(r->s, r->archive, NULL, &r->err);
	return NULL;
}

TEST(concurrent_imports)
{
	GT_AUTOFREE char *root = NULL;
	struct gt_image_store *s1 = open_store("store4", &root), *s2 = NULL;
	GT_AUTOFREE char *docker = tp("docker.tar"), *oci = tp("oci.tar");
	struct racer r[3] = { { s1, docker, 0, { 0 } }, { NULL, docker, 0, { 0 } },
			      { s1, oci, 0, { 0 } } };
	pthread_t t[3];
	struct gt_image img = { 0 };
	struct gt_err err = { 0 };
	GT_AUTOJSON json_t *list = NULL;

	free(root);
	s2 = open_store("store4", &root);
	r[1].s = s2;
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, race, &r[i]);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(r[i].rc, 0);
		if (r[i].rc)
			fprintf(stderr, "  %s\n", r[i].err.msg);
	}
	CHECK_INT(gt_image_list(s1, &list, &err), 0);
	CHECK_INT(json_array_size(list), 5);
	CHECK_INT(gt_image_get(s2, "test/two:1", &img, &err), 0);
	gt_image_release(&img);
	GT_AUTOFREE char *tmp = xasprintf("%s/tmp", root);
	GT_AUTOFREE char *snap = snapshot(tmp);
	CHECK_STR(snap, " 40755 0\n"); /* no stage left behind */
	gt_image_store_close(s1);
	gt_image_store_close(s2);
}

/* ---- registries ---- */

struct proc {
	pid_t pid;
	int port;
};

static struct proc g_procs[4];

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static bool wait_http(int port)
{
	GT_AUTOFREE char *url = xasprintf("http://127.0.0.1:%d/v2/", port);
	for (int i = 0; i < 150; i++) {
		struct gt_fetch_req req = { .url = url, .connect_timeout_s = 1 };
		struct gt_fetch_resp resp;
		int rc = gt_fetch(&req, &resp, NULL);
		gt_fetch_resp_release(&resp);
		if (rc == 0)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

static void stop_all(void)
{
	for (size_t i = 0; i < GT_ARRAY_SIZE(g_procs); i++)
		if (g_procs[i].pid > 0) {
			kill(g_procs[i].pid, SIGTERM);
			waitpid(g_procs[i].pid, NULL, 0);
			g_procs[i].pid = 0;
		}
}

/* Starts docker-registry (slot i) with an optional auth section. */
static int start_registry(int i, const char *auth)
{
	GT_AUTOFREE char *dir = xasprintf("%s/reg%d", g_top, i);
	GT_AUTOFREE char *cfg = xasprintf("%s/config.yml", dir);
	GT_AUTOFREE char *log = xasprintf("%s/log", dir);
	int port = free_port();

	gt_mkdir_p(dir, 0755);
	GT_AUTOFREE char *yml = xasprintf("version: 0.1\nlog:\n  level: error\nstorage:\n"
					  "  filesystem:\n    rootdirectory: %s/data\n"
					  "  delete:\n    enabled: true\nhttp:\n"
					  "  addr: 127.0.0.1:%d\n%s", dir, port, auth ? auth : "");
	write_str(cfg, yml);
	char *argv[] = { "docker-registry", "serve", cfg, NULL };
	g_procs[i].pid = spawn(argv, log);
	g_procs[i].port = port;
	if (!wait_http(port)) {
		fprintf(stderr, "  registry %d did not start (see %s)\n", i, log);
		return -1;
	}
	return port;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	rc = cmd ? system(cmd) : -1;
	if (rc != 0)
		fprintf(stderr, "  command failed (%d): %s\n", rc, cmd);
	free(cmd);
	return rc;
}

static bool registry_tools(void)
{
	if (!has_tool("/usr/bin/docker-registry") || !has_tool("/usr/bin/skopeo")) {
		printf("skip: docker-registry or skopeo not installed (scripts/deps.sh)\n");
		return false;
	}
	return true;
}

TEST(registry_anonymous)
{
	GT_AUTOFREE char *root = NULL;
	struct gt_image_store *s = NULL;
	struct gt_err err = { 0 };
	struct gt_image img = { 0 };
	GT_AUTOFREE char *docker = tp("one.tar"), *two = tp("docker.tar");
	GT_AUTOFREE char *oa = tp("skopeo-oci.tar"), *da = tp("skopeo-docker.tar");
	int port;
	char ref[128];

	if (!registry_tools())
		return;
	s = open_store("store5", &root);
	if ((port = start_registry(0, NULL)) < 0)
		goto out;
	CHECK_INT(sh("skopeo copy -q --dest-tls-verify=false docker-archive:%s "
		     "docker://127.0.0.1:%d/test/busybox:1 >/dev/null", docker, port), 0);
	CHECK_INT(sh("skopeo copy -q --dest-tls-verify=false docker-archive:%s:@0 "
		     "docker://127.0.0.1:%d/test/two:1 >/dev/null", two, port), 0);
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/busybox:1", port);
	CHECK_INT(gt_image_pull(s, ref, NULL, NULL, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(gt_image_present(s, ref));
	CHECK_INT(gt_image_get(s, ref, &img, &err), 0);
	CHECK_STR(img.id, g_c1); /* the same config as the imported image */
	CHECK_INT(img.nlayers, 1);
	if (img.nlayers == 1) {
		CHECK(exists(img.layers[0], "bin/busybox"));
		CHECK(file_is(img.layers[0], "etc/hostname", "layer1\n"));
	}
	CHECK_STR(gt_json_str(img.config, "WorkingDir"), "/");
	/* by digest, resolving to the same image */
	char byd[256];
	snprintf(byd, sizeof(byd), "127.0.0.1:%d/test/busybox@%s", port, img.digest);
	CHECK(gt_image_present(s, byd));
	gt_image_release(&img);
	CHECK_INT(gt_image_pull(s, byd, NULL, NULL, &err), 0);
	/* two layers with whiteouts, through a registry (layers gzipped by skopeo) */
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/two:1", port);
	CHECK_INT(gt_image_pull(s, ref, NULL, NULL, &err), 0);
	CHECK_INT(gt_image_get(s, ref, &img, &err), 0);
	CHECK_STR(img.id, g_c2);
	CHECK_INT(img.nlayers, 2);
	if (img.nlayers == 2)
		CHECK(exists(img.layers[1], "opq/z"));
	gt_image_release(&img);
	/* again: blobs already here */
	CHECK_INT(gt_image_pull(s, ref, NULL, NULL, &err), 0);
	/* skopeo's own archives of it import too */
	CHECK_INT(sh("skopeo copy -q --src-tls-verify=false docker://%s oci-archive:%s:test/sk:oci "
		     ">/dev/null && skopeo copy -q --src-tls-verify=false docker://%s "
		     "docker-archive:%s:test/sk:docker >/dev/null", ref, oa, ref, da), 0);
	CHECK_INT(gt_image_import(s, oa, NULL, &err), 0);
	CHECK_INT(gt_image_import(s, da, NULL, &err), 0);
	CHECK_INT(gt_image_get(s, "test/sk:oci", &img, &err), 0);
	CHECK_INT(img.nlayers, 2);
	gt_image_release(&img);
	CHECK_INT(gt_image_get(s, "test/sk:docker", &img, &err), 0);
	CHECK_STR(img.id, g_c2);
	gt_image_release(&img);

	/* a missing tag, a missing repository */
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/busybox:nope", port);
	CHECK_INT(gt_image_pull(s, ref, NULL, NULL, &err), -ENOENT);
	CHECK(strstr(err.msg, "not found") && strstr(err.msg, "manifest unknown"));
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/nothing/here:1", port);
	CHECK_INT(gt_image_pull(s, ref, NULL, NULL, &err), -ENOENT);
	CHECK(strstr(err.msg, "not found") != NULL);
	/* nobody listening */
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/busybox:1", free_port());
	CHECK_INT(gt_image_pull(s, ref, NULL, NULL, &err), -ECONNREFUSED);
	CHECK(strstr(err.msg, "127.0.0.1") != NULL);
out:
	stop_all();
	gt_image_store_close(s);
}

TEST(registry_basic_auth)
{
	GT_AUTOFREE char *root = NULL;
	struct gt_image_store *s = NULL;
	struct gt_err err = { 0 };
	GT_AUTOFREE char *docker = tp("one.tar"), *ht = tp("htpasswd");
	GT_AUTOJSON json_t *good = NULL, *bad = NULL;
	GT_AUTOFREE char *auth = NULL, *g = NULL, *b = NULL;
	char ref[128];
	int port;

	if (!registry_tools())
		return;
	/* bcrypt through glibc's crypt(3) (libxcrypt), cost 4 to stay fast */
	if (sh("python3 -W ignore -c \"import crypt; print('alice:' + crypt.crypt('wonder', "
	       "crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))\" > %s", ht) != 0) {
		printf("skip: cannot make a bcrypt htpasswd with python3's crypt module\n");
		return;
	}
	s = open_store("store6", &root);
	auth = xasprintf("auth:\n  htpasswd:\n    realm: basic-realm\n"
					   "    path: %s\n", ht);
	if ((port = start_registry(1, auth)) < 0)
		goto out;
	CHECK_INT(sh("skopeo copy -q --dest-tls-verify=false --dest-creds alice:wonder "
		     "docker-archive:%s docker://127.0.0.1:%d/test/busybox:1 >/dev/null",
		     docker, port), 0);
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/busybox:1", port);
	CHECK_INT(gt_image_pull(s, ref, NULL, NULL, &err), -EACCES);
	CHECK(strstr(err.msg, "credentials") || strstr(err.msg, "unauthorized"));
	g = xasprintf("{\"auths\":{\"127.0.0.1:%d\":{\"auth\":\"YWxpY2U6d29uZGVy\"}}}",
					port);
	b = xasprintf("{\"auths\":{\"127.0.0.1:%d\":{\"username\":\"alice\","
					"\"password\":\"nope\"}}}", port);
	CHECK(gt_json_parse(g, strlen(g), &good, NULL) == 0);
	CHECK(gt_json_parse(b, strlen(b), &bad, NULL) == 0);
	CHECK_INT(gt_image_pull(s, ref, bad, NULL, &err), -EACCES);
	CHECK(strstr(err.msg, "denied") != NULL);
	CHECK(!gt_image_present(s, ref));
	CHECK_INT(gt_image_pull(s, ref, good, NULL, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(gt_image_present(s, ref));
	/* several secrets: the wrong one first, then the right one */
	json_t *both = json_pack("[O,O]", bad, good);
	CHECK_INT(gt_image_remove(s, ref, &err), 0);
	CHECK_INT(gt_image_pull(s, ref, both, NULL, &err), 0);
	json_decref(both);
out:
	stop_all();
	gt_image_store_close(s);
}

/* A Bearer-token front for registry slot 0 (python3's http.server). */
static const char proxy_py[] =
	"import base64, http.client, http.server, json, sys\n"
	"port, backend = int(sys.argv[1]), int(sys.argv[2])\n"
	"TOKEN = 'tok-' + 'x' * 20\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    def log_message(self, *a): pass\n"
	"    def reply(self, code, body, hdrs=()):\n"
	"        self.send_response(code)\n"
	"        for k, v in hdrs: self.send_header(k, v)\n"
	"        self.send_header('Content-Length', str(len(body)))\n"
	"        self.end_headers()\n"
	"        if self.command != 'HEAD': self.wfile.write(body)\n"
	"    def do_HEAD(self): self.do_GET()\n"
	"    def do_GET(self):\n"
	"        if self.path.startswith('/token'):\n"
	"            ok = 'Basic ' + base64.b64encode(b'bob:builder').decode()\n"
	"            if self.headers.get('Authorization') != ok or 'scope=repository%3Atest%2Fbusybox%3Apull' not in self.path:\n"
	"                return self.reply(401, b'{}')\n"
	"            return self.reply(200, json.dumps({'token': TOKEN}).encode(), [('Content-Type', 'application/json')])\n"
	"        if self.headers.get('Authorization') != 'Bearer ' + TOKEN:\n"
	"            ch = 'Bearer realm=\"http://127.0.0.1:%d/token\",service=\"gantry-test\",scope=\"repository:test/busybox:pull\"' % port\n"
	"            return self.reply(401, b'{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}', [('WWW-Authenticate', ch), ('Content-Type', 'application/json')])\n"
	"        c = http.client.HTTPConnection('127.0.0.1', backend)\n"
	"        c.request(self.command, self.path, headers={'Accept': self.headers.get('Accept', '*/*')})\n"
	"        r = c.getresponse(); data = r.read()\n"
	"        keep = ('content-type', 'docker-content-digest', 'location')\n"
	"        self.reply(r.status, data, [(k, v) for k, v in r.getheaders() if k.lower() in keep])\n"
	"http.server.ThreadingHTTPServer(('127.0.0.1', port), H).serve_forever()\n";

TEST(registry_bearer_token)
{
	GT_AUTOFREE char *root = NULL;
	struct gt_image_store *s = NULL;
	struct gt_err err = { 0 };
	struct gt_image img = { 0 };
	GT_AUTOFREE char *docker = tp("one.tar"), *py = tp("proxy.py"), *log = tp("proxy.log");
	GT_AUTOJSON json_t *cfg = NULL;
	GT_AUTOFREE char *c = NULL;
	char ref[128], pstr[16], bstr[16];
	char *argv[] = { "python3", py, pstr, bstr, NULL };
	int port, back;

	if (!registry_tools())
		return;
	if (!has_tool("/usr/bin/python3")) {
		printf("skip: registry_bearer_token needs python3\n");
		return;
	}
	s = open_store("store7", &root);
	if ((back = start_registry(0, NULL)) < 0)
		goto out;
	CHECK_INT(sh("skopeo copy -q --dest-tls-verify=false docker-archive:%s "
		     "docker://127.0.0.1:%d/test/busybox:1 >/dev/null", docker, back), 0);
	write_str(py, proxy_py);
	port = free_port();
	snprintf(pstr, sizeof(pstr), "%d", port);
	snprintf(bstr, sizeof(bstr), "%d", back);
	g_procs[2].pid = spawn(argv, log);
	if (!wait_http(port)) {
		fprintf(stderr, "  token proxy did not start (see %s)\n", log);
		CHECK(0);
		goto out;
	}
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/busybox:1", port);
	CHECK_INT(gt_image_pull(s, ref, NULL, NULL, &err), -EACCES);
	CHECK(strstr(err.msg, "unauthorized") != NULL);
	c = xasprintf("{\"auths\":{\"http://127.0.0.1:%d/v2/\":{\"username\":"
					"\"bob\",\"password\":\"builder\"}}}", port);
	CHECK(gt_json_parse(c, strlen(c), &cfg, NULL) == 0);
	CHECK_INT(gt_image_pull(s, ref, cfg, NULL, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK_INT(gt_image_get(s, ref, &img, &err), 0);
	CHECK_STR(img.id, g_c1);
	gt_image_release(&img);
out:
	stop_all();
	gt_image_store_close(s);
}

TEST(registry_tls)
{
	GT_AUTOFREE char *root = NULL, *url = NULL, *tls = NULL;
	GT_AUTOFREE char *docker = tp("one.tar"), *crt = tp("tls.crt"), *key = tp("tls.key");
	struct gt_image_store *s = NULL;
	struct gt_err err = { 0 };
	struct gt_fetch_resp resp;
	char ref[128];
	int port;

	if (!registry_tools())
		return;
	if (sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s "
	       "-out %s -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
	       ">/dev/null 2>&1", key, crt) != 0) {
		printf("skip: registry_tls needs openssl to make a certificate\n");
		return;
	}
	s = open_store("store8", &root);
	tls = xasprintf("  tls:\n    certificate: %s\n    key: %s\n", crt, key);
	if ((port = start_registry(3, tls)) < 0)
		goto out;
	CHECK_INT(sh("skopeo copy -q --dest-tls-verify=false docker-archive:%s "
		     "docker://127.0.0.1:%d/test/busybox:1 >/dev/null", docker, port), 0);
	/* fetch verifies certificates unless told otherwise */
	url = xasprintf("https://127.0.0.1:%d/v2/", port);
	struct gt_fetch_req req = { .url = url, .ca_file = crt };
	CHECK_INT(gt_fetch(&req, &resp, &err), 0);
	CHECK_INT(resp.status, 200);
	gt_fetch_resp_release(&resp);
	req.ca_file = NULL;
	CHECK_INT(gt_fetch(&req, &resp, &err), -EPROTO);
	gt_fetch_resp_release(&resp);
	req.insecure = true;
	CHECK_INT(gt_fetch(&req, &resp, &err), 0);
	gt_fetch_resp_release(&resp);
	/* a loopback registry is insecure: HTTPS without verification */
	gt_err_clear(&err);
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/busybox:1", port);
	CHECK_INT(gt_image_pull(s, ref, NULL, NULL, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(gt_image_present(s, ref));
out:
	stop_all();
	gt_image_store_close(s);
}

int main(void)
{
	snprintf(g_top, sizeof(g_top), "/tmp/gantry-test-image-XXXXXX");
	if (!mkdtemp(g_top)) {
		perror("mkdtemp");
		return 1;
	}
	g_root = geteuid() == 0;
	RUN(normalize);
	RUN(challenge_and_creds);
	if (!g_root || !has_tool("/bin/busybox")) {
		printf("skip: the store tests need root and /bin/busybox (busybox-static)\n");
	} else {
		build_images();
		RUN(import_docker_and_oci);
		RUN(mount_overlay);
		RUN(malformed_archives);
		RUN(remove_and_gc);
		RUN(concurrent_imports);
		RUN(registry_anonymous);
		RUN(registry_basic_auth);
		RUN(registry_bearer_token);
		RUN(registry_tls);
	}
	stop_all();
	if (getenv("GANTRY_TEST_KEEP"))
		printf("kept %s\n", g_top);
	else
		img_rmtree(g_top);
	return t_done();
}
