/*
 * test_volumes.c - pod volumes: every source type (items, modes, optional),
 * the atomic-writer layout and its refresh, tmpfs emptyDirs (root only),
 * PVCs, the kubelet's error messages, container mounts with subPath checks,
 * and cleanup.  Objects come from an in-memory fake of the API.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <linux/magic.h>
#include <unistd.h>

#include "agent/volumes.h"
#include "t.h"

static char tmp[64];
static json_t *objects; /* "resource/ns/name" → object */

static int fake_get(void *c, const char *resource, const char *ns, const char *name, json_t **out,
		    struct gt_err *err)
{
	char key[512];
	json_t *o;

	(void)c;
	(void)err;
	snprintf(key, sizeof(key), "%s/%s/%s", resource, ns ? ns : "", name);
	o = json_object_get(objects, key);
	if (!o)
		return -ENOENT;
	*out = json_deep_copy(o);
	return 0;
}

static void put(const char *resource, const char *ns, const char *name, json_t *obj)
{
	char key[512];

	snprintf(key, sizeof(key), "%s/%s/%s", resource, ns ? ns : "", name);
	json_object_set_new(objects, key, obj);
}

static struct gt_vol_ctx ctx_for(const char *pod)
{
	static char dir[128], pv[128];

	snprintf(dir, sizeof(dir), "%s/pods/%s", tmp, pod);
	snprintf(pv, sizeof(pv), "%s/pv", tmp);
	gt_mkdir_p(dir, 0755);
	return (struct gt_vol_ctx){ dir, pv, fake_get, NULL };
}

static json_t *pod_with(json_t *volumes)
{
	return json_pack("{s:{s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s}}, s:{s:o, s:[{s:s, s:{s:{s:s}}}]}}",
			 "metadata", "name", "p1", "namespace", "ns1", "uid", "u-1", "labels",
			 "app", "web", "tier", "fe \"x\"", "annotations", "note", "hi",
			 "spec", "volumes", volumes, "containers", "name", "c1",
			 "resources", "limits", "memory", "64Mi");
}

static char *slurp(const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s", dir, rel), *data = NULL;
	size_t len;

	if (gt_read_file(path, &data, &len) < 0)
		data = NULL;
	free(path);
	return data;
}

static int mode_at(const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s", dir, rel);
	struct stat st;
	int m = stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;

	free(path);
	return m;
}

static char *link_at(const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s", dir, rel), buf[512];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	free(path);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static const char *path_of(const json_t *paths, const char *name)
{
	return json_string_value(json_object_get(paths, name));
}

TEST(empty_dir_and_host_path)
{
	struct gt_vol_ctx ctx = ctx_for("a");
	char *hp_dir = xasprintf("%s/host/newdir", tmp), *hp_file = xasprintf("%s/host/f.txt", tmp);
	json_t *pod = pod_with(json_pack("[{s:s, s:{}}, {s:s}, {s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}]",
					 "name", "scratch", "emptyDir", "name", "nosource",
					 "name", "hd", "hostPath", "path", hp_dir, "type", "DirectoryOrCreate",
					 "name", "hf", "hostPath", "path", hp_file, "type", "FileOrCreate"));
	json_t *paths = NULL;
	struct gt_err err;
	struct stat st;

	{
		char *host = xasprintf("%s/host", tmp);

		gt_mkdir_p(host, 0755);
		free(host);
	}
	gt_err_clear(&err);
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	CHECK(paths != NULL);
	CHECK(path_of(paths, "scratch") && strstr(path_of(paths, "scratch"), "/pods/a/volumes/scratch"));
	CHECK_INT(mode_at(path_of(paths, "scratch"), "."), 0777);
	CHECK(path_of(paths, "nosource") != NULL);
	CHECK_STR(path_of(paths, "hd"), hp_dir);
	CHECK(stat(hp_dir, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(stat(hp_file, &st) == 0 && S_ISREG(st.st_mode));
	json_decref(paths);

	/* type checks with Kubernetes' messages */
	json_t *v = json_object_get(json_array_get(gt_json_path(pod, "spec.volumes"), 2), "hostPath");

	json_object_set_new(v, "type", json_string("Directory"));
	json_object_set_new(v, "path", json_string(hp_file));
	CHECK(gt_volumes_prepare(&ctx, pod, &paths, &err) < 0);
	CHECK(paths == NULL);
	CHECK(strstr(err.msg, "hostPath type check failed: ") && strstr(err.msg, "f.txt is not a directory"));
	json_object_set_new(v, "type", json_string("File"));
	json_object_set_new(v, "path", json_string(hp_dir));
	CHECK(gt_volumes_prepare(&ctx, pod, &paths, &err) < 0);
	CHECK(strstr(err.msg, "newdir is not a file") != NULL);
	json_object_set_new(v, "type", json_string("Socket"));
	CHECK(gt_volumes_prepare(&ctx, pod, &paths, &err) < 0);
	CHECK(strstr(err.msg, "newdir is not a socket file") != NULL);
	json_object_set_new(v, "type", json_string("CharDevice"));
	json_object_set_new(v, "path", json_string("/dev/null"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	json_decref(paths);
	json_object_set_new(v, "type", json_string("Bogus"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -EINVAL);
	CHECK_STR(err.msg, "Bogus is an invalid volume type");
	json_object_set_new(v, "type", json_string("Directory"));
	json_object_set_new(v, "path", json_string("relative/x"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -EINVAL);
	CHECK(strstr(err.msg, "spec.volumes[2].hostPath.path") != NULL);

	/* unsupported sources */
	json_array_append_new(gt_json_path(pod, "spec.volumes"),
			      json_pack("{s:s, s:{s:s}}", "name", "n", "nfs", "server", "x"));
	json_object_set_new(v, "path", json_string(hp_dir));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -EOPNOTSUPP);
	CHECK(strstr(err.msg, "nfs") != NULL);
	json_decref(pod);
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, NULL), 0);
	free(hp_dir);
	free(hp_file);
}

TEST(memory_empty_dir)
{
	struct gt_vol_ctx ctx = ctx_for("mem");
	json_t *pod = pod_with(json_pack("[{s:s, s:{s:s, s:s}}]", "name", "shm", "emptyDir",
					 "medium", "Memory", "sizeLimit", "1Mi"));
	json_t *paths = NULL;
	struct statfs sf;
	struct gt_err err;
	char *vols = xasprintf("%s/volumes", ctx.pod_dir);

	if (geteuid() != 0) {
		printf("# memory_empty_dir: skipped (needs root)\n");
		json_decref(pod);
		free(vols);
		return;
	}
	gt_err_clear(&err);
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	CHECK(statfs(path_of(paths, "shm"), &sf) == 0);
	CHECK(sf.f_type == TMPFS_MAGIC);
	CHECK_INT((long long)sf.f_blocks * sf.f_bsize, 1024 * 1024);
	json_decref(paths);
	/* again (re-adoption): not mounted twice */
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	{
		char *info = NULL, *p;
		size_t len;
		int count = 0;

		gt_read_file("/proc/self/mountinfo", &info, &len);
		for (p = info; p && (p = strstr(p, "/pods/mem/volumes/shm ")); p++)
			count++;
		CHECK_INT(count, 1);
		free(info);
	}
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, &err), 0);
	CHECK(access(vols, F_OK) < 0);
	CHECK(statfs(path_of(paths, "shm"), &sf) < 0);
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, &err), 0); /* idempotent */
	json_decref(paths);
	json_decref(pod);
	free(vols);
}

TEST(config_map)
{
	struct gt_vol_ctx ctx = ctx_for("cm");
	json_t *pod = pod_with(json_pack("[{s:s, s:{s:s}}, {s:s, s:{s:s, s:i, s:[{s:s, s:s, s:i}, {s:s, s:s}]}}]",
					 "name", "all", "configMap", "name", "cfg",
					 "name", "some", "configMap", "name", "cfg", "defaultMode", 0600,
					 "items", "key", "a.conf", "path", "sub/dir/a", "mode", 0400,
					 "key", "bin", "path", "b"));
	json_t *paths = NULL;
	struct gt_err err;
	const char *d;
	char *s;

	put("configmaps", "ns1", "cfg", json_pack("{s:{s:s, s:s}, s:{s:s}}", "data", "a.conf", "x=1\n",
						 "b.txt", "hello", "binaryData", "bin", "AAEC/w=="));
	gt_err_clear(&err);
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	d = path_of(paths, "all");
	CHECK((s = slurp(d, "a.conf")) && !strcmp(s, "x=1\n"));
	free(s);
	CHECK((s = slurp(d, "b.txt")) && !strcmp(s, "hello"));
	free(s);
	CHECK((s = slurp(d, "bin")) && !memcmp(s, "\x00\x01\x02\xff", 4));
	free(s);
	CHECK_INT(mode_at(d, "a.conf"), 0644);
	/* layout: key -> ..data/key, ..data -> ..<timestamp> */
	CHECK((s = link_at(d, "a.conf")) && !strcmp(s, "..data/a.conf"));
	free(s);
	CHECK((s = link_at(d, "..data")) && !strncmp(s, "..20", 4));
	free(s);

	d = path_of(paths, "some");
	CHECK((s = slurp(d, "sub/dir/a")) && !strcmp(s, "x=1\n"));
	free(s);
	CHECK_INT(mode_at(d, "sub/dir/a"), 0400);
	CHECK_INT(mode_at(d, "b"), 0600);
	CHECK((s = link_at(d, "sub")) && !strcmp(s, "..data/sub"));
	free(s);
	CHECK(mode_at(d, "a.conf") < 0);
	json_decref(paths);

	/* a key the items name but the ConfigMap lacks */
	json_array_append_new(gt_json_path(json_array_get(gt_json_path(pod, "spec.volumes"), 1), "configMap.items"),
			      json_pack("{s:s, s:s}", "key", "nope", "path", "n"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -ENOENT);
	CHECK_STR(err.msg, "configmap references non-existent config key: nope");
	gt_json_set(json_array_get(gt_json_path(pod, "spec.volumes"), 1), "configMap.optional", json_true());
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	json_decref(paths);

	/* items path traversal */
	json_array_append_new(gt_json_path(json_array_get(gt_json_path(pod, "spec.volumes"), 1), "configMap.items"),
			      json_pack("{s:s, s:s}", "key", "b.txt", "path", "../../etc/evil"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -EINVAL);
	CHECK(strstr(err.msg, "items[3].path: Invalid value: \"../../etc/evil\"") != NULL);
	json_decref(pod);

	/* missing ConfigMap: the kubelet's message; optional: an empty volume */
	pod = pod_with(json_pack("[{s:s, s:{s:s}}]", "name", "m", "configMap", "name", "x"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -ENOENT);
	CHECK_STR(err.msg, "configmap \"x\" not found");
	CHECK(paths == NULL);
	gt_json_set(json_array_get(gt_json_path(pod, "spec.volumes"), 0), "configMap.optional", json_true());
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	CHECK((s = link_at(path_of(paths, "m"), "..data")) != NULL);
	free(s);
	json_decref(paths);
	json_decref(pod);
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, NULL), 0);
}

TEST(secret_and_fsgroup)
{
	struct gt_vol_ctx ctx = ctx_for("sec");
	json_t *pod = pod_with(json_pack("[{s:s, s:{s:s, s:i}}]", "name", "s", "secret",
					 "secretName", "creds", "defaultMode", 0400));
	json_t *paths = NULL;
	struct gt_err err;
	struct stat st;
	char *s, *f;

	put("secrets", "ns1", "creds", json_pack("{s:{s:s}}", "data", "password", "czNjcjN0"));
	gt_err_clear(&err);
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	CHECK((s = slurp(path_of(paths, "s"), "password")) && !strcmp(s, "s3cr3t"));
	free(s);
	CHECK_INT(mode_at(path_of(paths, "s"), "password"), 0400);
	json_decref(paths);
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, NULL), 0);

	if (geteuid() == 0) { /* chown needs root */
		gt_json_set(pod, "spec.securityContext", json_pack("{s:i}", "fsGroup", 2345));
		CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
		f = xasprintf("%s/password", path_of(paths, "s"));
		CHECK(stat(f, &st) == 0 && st.st_gid == 2345 && (st.st_mode & 07777) == 0440);
		free(f);
		json_decref(paths);
	}

	gt_json_set(json_array_get(gt_json_path(pod, "spec.volumes"), 0), "secret.secretName",
		    json_string("gone"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -ENOENT);
	CHECK_STR(err.msg, "secret \"gone\" not found");
	json_decref(pod);
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, NULL), 0);
}

TEST(downward_and_projected)
{
	struct gt_vol_ctx ctx = ctx_for("dw");
	json_t *pod = pod_with(json_pack(
		"[{s:s, s:{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s, s:s, s:s}}]}},"
		" {s:s, s:{s:i, s:[{s:{s:s}}, {s:{s:s, s:[{s:s, s:s}]}}, {s:{s:[{s:s, s:{s:s}}]}}, {s:{s:s}}]}}]",
		"name", "info", "downwardAPI", "items",
		"path", "labels", "fieldRef", "fieldPath", "metadata.labels",
		"path", "name", "fieldRef", "fieldPath", "metadata.name",
		"path", "note", "fieldRef", "fieldPath", "metadata.annotations['note']",
		"path", "mem", "resourceFieldRef", "containerName", "c1", "resource", "limits.memory",
		"divisor", "1Mi",
		"name", "all", "projected", "defaultMode", 0640, "sources",
		"configMap", "name", "cfg2",
		"secret", "name", "creds2", "items", "key", "token", "path", "tok",
		"downwardAPI", "items", "path", "ns", "fieldRef", "fieldPath", "metadata.namespace",
		"serviceAccountToken", "path", "sa-token"));
	json_t *paths = NULL;
	struct gt_err err;
	const char *d;
	char *s;

	put("configmaps", "ns1", "cfg2", json_pack("{s:{s:s}}", "data", "k", "v"));
	put("secrets", "ns1", "creds2", json_pack("{s:{s:s}}", "data", "token", "dG9r"));
	gt_err_clear(&err);
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	d = path_of(paths, "info");
	CHECK((s = slurp(d, "labels")) && !strcmp(s, "app=\"web\"\ntier=\"fe \\\"x\\\"\""));
	free(s);
	CHECK((s = slurp(d, "name")) && !strcmp(s, "p1"));
	free(s);
	CHECK((s = slurp(d, "note")) && !strcmp(s, "hi"));
	free(s);
	CHECK((s = slurp(d, "mem")) && !strcmp(s, "64"));
	free(s);
	d = path_of(paths, "all");
	CHECK((s = slurp(d, "k")) && !strcmp(s, "v"));
	free(s);
	CHECK((s = slurp(d, "tok")) && !strcmp(s, "tok"));
	free(s);
	CHECK((s = slurp(d, "ns")) && !strcmp(s, "ns1"));
	free(s);
	CHECK_INT(mode_at(d, "tok"), 0640);
	CHECK(mode_at(d, "sa-token") < 0);
	json_decref(paths);

	/* an unsupported field path */
	gt_json_set(json_array_get(gt_json_path(json_array_get(gt_json_path(pod, "spec.volumes"), 0),
						"downwardAPI.items"), 1),
		    "fieldRef", json_pack("{s:s}", "fieldPath", "spec.bogus"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -EINVAL);
	CHECK_STR(err.msg, "unsupported fieldPath: spec.bogus");
	json_decref(pod);
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, NULL), 0);
}

TEST(refresh_is_atomic)
{
	struct gt_vol_ctx ctx = ctx_for("rf");
	json_t *pod = pod_with(json_pack("[{s:s, s:{s:s}}, {s:s, s:{s:[{s:s, s:{s:s}}]}}]",
					 "name", "c", "configMap", "name", "live",
					 "name", "d", "downwardAPI", "items", "path", "labels",
					 "fieldRef", "fieldPath", "metadata.labels"));
	json_t *paths = NULL;
	char *ts1, *ts2, *s, *old;
	const char *d;

	put("configmaps", "ns1", "live", json_pack("{s:{s:s, s:s}}", "data", "a", "1", "b", "2"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, NULL), 0);
	d = path_of(paths, "c");
	ts1 = link_at(d, "..data");

	/* unchanged: nothing rewritten */
	CHECK_INT(gt_volumes_refresh(&ctx, pod, NULL), 0);
	ts2 = link_at(d, "..data");
	CHECK_STR(ts2, ts1);
	free(ts2);

	/* changed: a new timestamp dir, the old one gone, removed key unlinked */
	put("configmaps", "ns1", "live", json_pack("{s:{s:s, s:s}}", "data", "a", "10", "c", "3"));
	CHECK_INT(gt_volumes_refresh(&ctx, pod, NULL), 0);
	ts2 = link_at(d, "..data");
	CHECK(ts2 && ts1 && strcmp(ts1, ts2));
	CHECK((s = slurp(d, "a")) && !strcmp(s, "10"));
	free(s);
	CHECK((s = slurp(d, "c")) && !strcmp(s, "3"));
	free(s);
	CHECK((s = link_at(d, "b")) == NULL);
	free(s);
	old = xasprintf("%s/%s", d, ts1 ? ts1 : "x");
	CHECK(access(old, F_OK) < 0);
	free(old);
	free(ts1);
	free(ts2);

	/* labels changed on the pod object: the downward file follows */
	gt_json_set_str(pod, "metadata.labels.app", "api");
	CHECK_INT(gt_volumes_refresh(&ctx, pod, NULL), 0);
	CHECK((s = slurp(path_of(paths, "d"), "labels")) && !strncmp(s, "app=\"api\"", 9));
	free(s);

	/* the ConfigMap deleted: old files stay, error reported */
	json_object_del(objects, "configmaps/ns1/live");
	{
		struct gt_err err;

		CHECK_INT(gt_volumes_refresh(&ctx, pod, &err), -ENOENT);
		CHECK_STR(err.msg, "configmap \"live\" not found");
	}
	CHECK((s = slurp(d, "a")) && !strcmp(s, "10"));
	free(s);
	json_decref(paths);
	json_decref(pod);
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, NULL), 0);
}

TEST(pvc)
{
	struct gt_vol_ctx ctx = ctx_for("pvc");
	json_t *pod = pod_with(json_pack("[{s:s, s:{s:s, s:b}}]", "name", "data",
					 "persistentVolumeClaim", "claimName", "claim1", "readOnly", 1));
	json_t *paths = NULL, *mounts = NULL;
	char *pvpath = xasprintf("%s/pv/pv-1", tmp);
	struct gt_err err;
	struct stat st;

	gt_err_clear(&err);
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -ENOENT);
	CHECK_STR(err.msg, "persistentvolumeclaim \"claim1\" not found");
	put("persistentvolumeclaims", "ns1", "claim1", json_pack("{s:{}, s:{s:s}}", "spec", "status",
								 "phase", "Pending"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -EAGAIN);
	CHECK_STR(err.msg, "PVC ns1/claim1 has non-bound phase (\"Pending\") or empty pvc.Spec.VolumeName (\"\")");
	put("persistentvolumeclaims", "ns1", "claim1",
	    json_pack("{s:{s:s}, s:{s:s}}", "spec", "volumeName", "pv-1", "status", "phase", "Bound"));
	put("persistentvolumes", NULL, "pv-1", json_pack("{s:{s:{s:s}}}", "spec", "hostPath", "path", pvpath));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), 0);
	CHECK_STR(path_of(paths, "data"), pvpath);
	CHECK(stat(pvpath, &st) == 0 && S_ISDIR(st.st_mode));
	{
		json_t *c = json_pack("{s:s, s:[{s:s, s:s}]}", "name", "c1", "volumeMounts", "name", "data",
				      "mountPath", "/data");

		CHECK_INT(gt_volumes_container_mounts(pod, c, paths, &mounts, &err), 0);
		CHECK(json_array_size(json_object_get(json_array_get(mounts, 0), "options")) == 3); /* ro */
		json_decref(mounts);
		json_decref(c);
	}
	json_decref(paths);
	/* a PV outside pv_root that does not exist is not created */
	put("persistentvolumes", NULL, "pv-1", json_pack("{s:{s:{s:s}}}", "spec", "local", "path", "/nonexistent/gt"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, &err), -ENOENT);
	CHECK(access("/nonexistent/gt", F_OK) < 0);
	json_decref(pod);
	free(pvpath);
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, NULL), 0);
}

TEST(container_mounts)
{
	struct gt_vol_ctx ctx = ctx_for("mnt");
	json_t *pod = pod_with(json_pack("[{s:s, s:{}}, {s:s, s:{s:s}}]", "name", "work", "emptyDir",
					 "name", "cfg", "configMap", "name", "mcfg"));
	json_t *c, *paths = NULL, *mounts = NULL, *m;
	struct gt_err err;
	char *evil;

	put("configmaps", "ns1", "mcfg", json_pack("{s:{s:s}}", "data", "app.conf", "x"));
	CHECK_INT(gt_volumes_prepare(&ctx, pod, &paths, NULL), 0);
	c = json_array_get(gt_json_path(pod, "spec.containers"), 0);
	json_object_set_new(c, "env", json_pack("[{s:s, s:{s:{s:s}}}]", "name", "POD",
						 "valueFrom", "fieldRef", "fieldPath", "metadata.name"));
	json_object_set_new(c, "volumeMounts", json_pack(
		"[{s:s, s:s}, {s:s, s:s, s:s, s:b}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]",
		"name", "work", "mountPath", "/work",
		"name", "work", "mountPath", "/logs", "subPath", "logs/a", "readOnly", 1,
		"name", "cfg", "mountPath", "/etc/app.conf", "subPath", "app.conf",
		"name", "work", "mountPath", "/mine", "subPathExpr", "pods/$(POD)",
		"name", "work", "mountPath", "/shared", "mountPropagation", "HostToContainer"));
	gt_err_clear(&err);
	CHECK_INT(gt_volumes_container_mounts(pod, c, paths, &mounts, &err), 0);
	CHECK_INT(json_array_size(mounts), 5);
	m = json_array_get(mounts, 0);
	CHECK_STR(gt_json_str(m, "destination"), "/work");
	CHECK_STR(gt_json_str(m, "source"), path_of(paths, "work"));
	CHECK_STR(gt_json_str(m, "type"), "bind");
	CHECK_STR(json_string_value(json_array_get(json_object_get(m, "options"), 0)), "rbind");
	CHECK_STR(json_string_value(json_array_get(json_object_get(m, "options"), 1)), "rprivate");
	CHECK_INT(json_array_size(json_object_get(m, "options")), 2);
	m = json_array_get(mounts, 1);
	CHECK(strstr(gt_json_str(m, "source"), "/volumes/work/logs/a") != NULL);
	CHECK_STR(json_string_value(json_array_get(json_object_get(m, "options"), 2)), "ro");
	CHECK_INT(mode_at(gt_json_str(m, "source"), "."), 0777);
	m = json_array_get(mounts, 2); /* configMap key through its symlinks, read-only */
	CHECK(strstr(gt_json_str(m, "source"), "/volumes/cfg/..20") != NULL);
	CHECK(strstr(gt_json_str(m, "source"), "/app.conf") != NULL);
	CHECK_STR(json_string_value(json_array_get(json_object_get(m, "options"), 2)), "ro");
	m = json_array_get(mounts, 3);
	CHECK(strstr(gt_json_str(m, "source"), "/volumes/work/pods/p1") != NULL);
	m = json_array_get(mounts, 4);
	CHECK_STR(json_string_value(json_array_get(json_object_get(m, "options"), 1)), "rslave");
	json_decref(mounts);

	/* traversal, absolute paths, symlink escapes, unknown volumes */
	json_object_set_new(c, "volumeMounts", json_pack("[{s:s, s:s}, {s:s, s:s, s:s}]",
		"name", "work", "mountPath", "/w", "name", "work", "mountPath", "/x", "subPath", "a/../../etc"));
	CHECK_INT(gt_volumes_container_mounts(pod, c, paths, &mounts, &err), -EINVAL);
	CHECK(mounts == NULL);
	CHECK_STR(err.msg, "spec.containers[0].volumeMounts[1].subPath: Invalid value: \"a/../../etc\": must not contain '..'");
	json_object_set_new(json_array_get(json_object_get(c, "volumeMounts"), 1), "subPath", json_string("/etc"));
	CHECK_INT(gt_volumes_container_mounts(pod, c, paths, &mounts, &err), -EINVAL);
	CHECK_STR(err.msg, "spec.containers[0].volumeMounts[1].subPath: Invalid value: \"/etc\": must be a relative path");
	evil = xasprintf("%s/evil", path_of(paths, "work"));
	CHECK_INT(symlink("/etc", evil), 0);
	json_object_set_new(json_array_get(json_object_get(c, "volumeMounts"), 1), "subPath", json_string("evil/newdir"));
	CHECK_INT(gt_volumes_container_mounts(pod, c, paths, &mounts, &err), -EPERM);
	CHECK(strstr(err.msg, "not within volume path") != NULL);
	CHECK(access("/etc/newdir", F_OK) < 0);
	free(evil);
	json_object_set_new(json_array_get(json_object_get(c, "volumeMounts"), 1), "subPath", json_string(""));
	json_object_set_new(json_array_get(json_object_get(c, "volumeMounts"), 1), "name", json_string("ghost"));
	CHECK_INT(gt_volumes_container_mounts(pod, c, paths, &mounts, &err), -EINVAL);
	CHECK_STR(err.msg, "spec.containers[0].volumeMounts[1].name: Not found: \"ghost\"");
	json_decref(paths);
	json_decref(pod);
	CHECK_INT(gt_volumes_cleanup(ctx.pod_dir, NULL), 0);
}

/* Every test cleaned up after itself: only the empty pod dirs remain, and
 * nothing under the test directory is still mounted. */
TEST(no_leftovers)
{
	char *cmd = xasprintf("find %s/pods -mindepth 2 | wc -l; grep -c ' %s/' /proc/self/mountinfo", tmp, tmp);
	FILE *f = popen(cmd, "r");
	int files = -1, mounts = -1;

	if (f) {
		if (fscanf(f, "%d %d", &files, &mounts) != 2)
			files = -1;
		pclose(f);
	}
	CHECK_INT(files, 0);
	CHECK_INT(mounts, 0);
	free(cmd);
}

int main(void)
{
	char *cmd;
	int rc;

	snprintf(tmp, sizeof(tmp), "/tmp/gt-vol-XXXXXX");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	objects = json_object();
	RUN(empty_dir_and_host_path);
	RUN(memory_empty_dir);
	RUN(config_map);
	RUN(secret_and_fsgroup);
	RUN(downward_and_projected);
	RUN(refresh_is_atomic);
	RUN(pvc);
	RUN(container_mounts);
	json_decref(objects);
	RUN(no_leftovers);
	cmd = xasprintf("umount -R %s/pods/*/volumes/* 2>/dev/null; rm -rf %s", tmp, tmp);
	rc = system(cmd);
	(void)rc;
	free(cmd);
	return t_done();
}
