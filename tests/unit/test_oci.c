/*
 * test_oci.c - the Pod → OCI config mapping (gt_oci_config), no runtime
 * needed: command/args/Entrypoint/Cmd, $(VAR) expansion, environment,
 * working directory, user and groups, runAsNonRoot, capabilities, seccomp,
 * resources, namespaces, mounts, the host image, devices.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/oci.h"
#include "t.h"

static char tmpdir[PATH_MAX], rootfs[PATH_MAX + 16];

/* Config of container 0 (or initContainers[init_idx] when >= 0) of pod_json. */
static int cfg_of(const char *pod_json, const char *image_config, const char *env_json,
		  bool host, const char *netns, json_t **cfg, struct gt_err *err)
{
	json_t *pod = NULL, *ic = NULL, *env = NULL;
	struct gt_oci_input in = { 0 };
	char scratch[PATH_MAX + 32];
	int r;

	*cfg = NULL;
	gt_err_clear(err);
	if (gt_json_parse(pod_json, strlen(pod_json), &pod, err) < 0)
		return -100;
	if (image_config && gt_json_parse(image_config, strlen(image_config), &ic, err) < 0)
		return -101;
	if (env_json && gt_json_parse(env_json, strlen(env_json), &env, err) < 0)
		return -102;
	snprintf(scratch, sizeof(scratch), "%s/scratch", tmpdir);
	in.pod = pod;
	in.container = json_array_get(gt_json_path(pod, "spec.containers"), 0);
	if (!in.container)
		in.container = json_array_get(gt_json_path(pod, "spec.initContainers"), 1);
	in.rootfs = host ? NULL : rootfs;
	in.netns_path = netns;
	in.hostname = "h";
	in.env = env;
	in.image_config = ic;
	in.cgroups_path = "/gantry/podu1/c";
	in.scratch_dir = scratch;
	r = gt_oci_config(&in, cfg, err);
	json_decref(pod);
	json_decref(ic);
	json_decref(env);
	return r;
}

#define POD(ctr) "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\"}," \
	"\"spec\":{\"containers\":[" ctr "]}}"
#define PODSC(psc, ctr) "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\"}," \
	"\"spec\":{\"securityContext\":" psc ",\"containers\":[" ctr "]}}"

/* Compact JSON of the value at a dotted path (caller frees). */
static char *at(const json_t *cfg, const char *path)
{
	json_t *v = gt_json_path(cfg, path);

	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : xstrdup("(none)");
}

#define CHECK_AT(cfg, path, want) do { char *_s = at(cfg, path); CHECK_STR(_s, want); free(_s); } while (0)

static bool has_str(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

TEST(expand)
{
	json_t *env = json_pack("[s,s,s,s]", "VAR_A=A", "VAR_B=B", "VAR_C=C", "VAR_A=A2");
	static const char *cases[][2] = {
		{ "$(VAR_A)", "A2" },
		{ "___$(VAR_B)___", "___B___" },
		{ "$(VAR_B)-$(VAR_C)", "B-C" },
		{ "$$(VAR_B)_$(VAR_C)", "$(VAR_B)_C" },
		{ "$$(VAR_B)$$(VAR_C)", "$(VAR_B)$(VAR_C)" },
		{ "f000-$$VAR_A", "f000-$VAR_A" },
		{ "foo\\$(VAR_C)bar", "foo\\Cbar" },
		{ "$(VAR_A", "$(VAR_A" },
		{ "$VAR_A)", "$VAR_A)" },
		{ "$(VAR_C)$", "C$" },
		{ "$$$$", "$$" },
		{ "$(UNSET)", "$(UNSET)" },
		{ "$()", "$()" },
		{ "$(VAR_$(VAR_A))", "$(VAR_$(VAR_A))" },
		{ "", "" },
		{ "$", "$" },
	};

	for (size_t i = 0; i < GT_ARRAY_SIZE(cases); i++) {
		char *s = gt_oci_expand(cases[i][0], env);

		CHECK_STR(s, cases[i][1]);
		free(s);
	}
	json_decref(env);
}

TEST(command_args)
{
	const char *img = "{\"Entrypoint\":[\"/ep\",\"-x\"],\"Cmd\":[\"c1\"]}";
	struct gt_err err;
	json_t *cfg;

	CHECK(cfg_of(POD("{\"name\":\"c\"}"), img, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.args", "[\"/ep\",\"-x\",\"c1\"]");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"args\":[\"a1\"]}"), img, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.args", "[\"/ep\",\"-x\",\"a1\"]");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"cmd\"]}"), img, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.args", "[\"cmd\"]");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"cmd\"],\"args\":[\"a\",\"$(X)\",\"$$(X)\"]}"), img,
		     "[\"X=42\"]", false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.args", "[\"cmd\",\"a\",\"42\",\"$(X)\"]");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"echo $(X)\"]}"), "{\"Cmd\":[\"c1\"]}",
		     "[\"X=1\"]", false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.args", "[\"echo 1\"]");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\"}"), "{\"Cmd\":[\"c1\"]}", NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.args", "[\"c1\"]");
	json_decref(cfg);
	CHECK_INT(cfg_of(POD("{\"name\":\"c\"}"), NULL, NULL, false, NULL, &cfg, &err), -EINVAL);
	CHECK(strstr(err.msg, "spec.containers[0]: no command specified") != NULL);
	CHECK_INT(cfg_of(POD("{\"name\":\"c\",\"command\":\"sh\"}"), NULL, NULL, false, NULL, &cfg, &err),
		  -EINVAL);
	CHECK(strstr(err.msg, "spec.containers[0].command: must be an array") != NULL);
	CHECK_INT(cfg_of(POD("{\"name\":\"c\",\"command\":[\"sh\",1]}"), NULL, NULL, false, NULL, &cfg,
			 &err), -EINVAL);
	CHECK(strstr(err.msg, "spec.containers[0].command[1]: must be a string") != NULL);
}

TEST(env_and_cwd)
{
	struct gt_err err;
	json_t *cfg;

	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"]}"),
		     "{\"Env\":[\"PATH=/x\",\"A=1\",\"B=2\"],\"WorkingDir\":\"/w\"}", "[\"B=3\",\"C=4\"]",
		     false, "/var/run/netns/x", &cfg, &err) == 0);
	CHECK_AT(cfg, "process.env", "[\"PATH=/x\",\"A=1\",\"B=3\",\"C=4\",\"HOSTNAME=h\"]");
	CHECK_AT(cfg, "process.cwd", "\"/w\"");
	CHECK_AT(cfg, "process.terminal", "false");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"workingDir\":\"/data\"}"), NULL,
		     "[\"HOSTNAME=mine\"]", false, "/n", &cfg, &err) == 0);
	CHECK_AT(cfg, "process.env", "[\"PATH=" GT_OCI_DEFAULT_PATH "\",\"HOSTNAME=mine\"]");
	CHECK_AT(cfg, "process.cwd", "\"/data\"");
	json_decref(cfg);
	CHECK_INT(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"workingDir\":\"rel\"}"), NULL, NULL,
			 false, NULL, &cfg, &err), -EINVAL);
	CHECK(strstr(err.msg, "spec.containers[0].workingDir: must be an absolute path") != NULL);
	/* field paths of init containers */
	CHECK_INT(cfg_of("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"initContainers\":[{\"name\":\"a\","
			 "\"command\":[\"x\"]},{\"name\":\"b\",\"command\":[\"x\"],\"workingDir\":\"r\"}]}}",
			 NULL, NULL, false, NULL, &cfg, &err), -EINVAL);
	CHECK(strstr(err.msg, "spec.initContainers[1].workingDir") != NULL);
}

TEST(user)
{
	struct gt_err err;
	json_t *cfg;

	/* pod-level runAsUser, container override, groups */
	CHECK(cfg_of(PODSC("{\"runAsUser\":1000,\"runAsGroup\":3000,\"fsGroup\":2000,"
			   "\"supplementalGroups\":[4000,2000]}", "{\"name\":\"c\",\"command\":[\"x\"]}"),
		     NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.user", "{\"uid\":1000,\"gid\":3000,\"additionalGids\":[4000,2000]}");
	json_decref(cfg);
	CHECK(cfg_of(PODSC("{\"runAsUser\":1000}", "{\"name\":\"c\",\"command\":[\"x\"],"
			   "\"securityContext\":{\"runAsUser\":1234}}"),
		     NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.user", "{\"uid\":1234,\"gid\":4321,\"additionalGids\":[555]}");
	json_decref(cfg);
	/* image users */
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"]}"), "{\"User\":\"77:88\"}", NULL, false,
		     NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.user", "{\"uid\":77,\"gid\":88}");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"]}"), "{\"User\":\"app\"}", NULL, false,
		     NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.user", "{\"uid\":1234,\"gid\":4321,\"additionalGids\":[555]}");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"]}"), "{\"User\":\"app:root\"}", NULL,
		     false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.user", "{\"uid\":1234,\"gid\":0,\"additionalGids\":[555]}");
	json_decref(cfg);
	CHECK_INT(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"]}"), "{\"User\":\"ghost\"}", NULL,
			 false, NULL, &cfg, &err), -ENOENT);
	CHECK(strstr(err.msg, "unable to find user ghost") != NULL);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"]}"), NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.user", "{\"uid\":0,\"gid\":0}");
	json_decref(cfg);
	CHECK_INT(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"securityContext\":{\"runAsUser\":-1}}"),
			 NULL, NULL, false, NULL, &cfg, &err), -EINVAL);
	CHECK(strstr(err.msg, "spec.containers[0].securityContext.runAsUser") != NULL);
}

TEST(run_as_non_root)
{
	struct gt_err err;
	json_t *cfg;

	CHECK_INT(cfg_of(PODSC("{\"runAsNonRoot\":true}", "{\"name\":\"c\",\"command\":[\"x\"]}"), NULL,
			 NULL, false, NULL, &cfg, &err), -EPERM);
	CHECK_STR(err.msg, "container has runAsNonRoot and image will run as root "
		  "(pod: \"p_ns(u1)\", container: c)");
	CHECK_INT(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"securityContext\":"
			     "{\"runAsNonRoot\":true,\"runAsUser\":0}}"), NULL, NULL, false, NULL, &cfg, &err),
		  -EPERM);
	CHECK(strstr(err.msg, "container's runAsUser breaks non-root policy") != NULL);
	CHECK_INT(cfg_of(PODSC("{\"runAsNonRoot\":true}", "{\"name\":\"c\",\"command\":[\"x\"]}"),
			 "{\"User\":\"app\"}", NULL, false, NULL, &cfg, &err), -EPERM);
	CHECK(strstr(err.msg, "non-numeric user (app)") != NULL);
	CHECK(cfg_of(PODSC("{\"runAsNonRoot\":true}", "{\"name\":\"c\",\"command\":[\"x\"]}"),
		     "{\"User\":\"1234\"}", NULL, false, NULL, &cfg, &err) == 0);
	json_decref(cfg);
	CHECK(cfg_of(PODSC("{\"runAsNonRoot\":true,\"runAsUser\":5}", "{\"name\":\"c\",\"command\":[\"x\"]}"),
		     NULL, NULL, false, NULL, &cfg, &err) == 0);
	json_decref(cfg);
}

TEST(capabilities)
{
	struct gt_err err;
	json_t *cfg, *eff;

	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"]}"), NULL, NULL, false, NULL, &cfg, &err) == 0);
	eff = gt_json_path(cfg, "process.capabilities.effective");
	CHECK_INT(json_array_size(eff), 14);
	CHECK(has_str(eff, "CAP_CHOWN") && has_str(eff, "CAP_NET_BIND_SERVICE") &&
	      has_str(eff, "CAP_AUDIT_WRITE") && !has_str(eff, "CAP_SYS_ADMIN") &&
	      !has_str(eff, "CAP_NET_ADMIN"));
	CHECK(gt_json_path(cfg, "process.capabilities.inheritable") == NULL);
	CHECK(gt_json_path(cfg, "process.noNewPrivileges") == NULL);
	CHECK(gt_json_path(cfg, "linux.seccomp") == NULL);
	CHECK(json_array_size(gt_json_path(cfg, "linux.maskedPaths")) > 5);
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"securityContext\":{\"capabilities\":"
			 "{\"drop\":[\"ALL\"],\"add\":[\"NET_BIND_SERVICE\"]},"
			 "\"allowPrivilegeEscalation\":false}}"), NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "process.capabilities.bounding", "[\"CAP_NET_BIND_SERVICE\"]");
	CHECK_AT(cfg, "process.noNewPrivileges", "true");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"securityContext\":{\"capabilities\":"
			 "{\"drop\":[\"chown\",\"CAP_KILL\"],\"add\":[\"sys_admin\"]}}}"), NULL, NULL, false,
		     NULL, &cfg, &err) == 0);
	eff = gt_json_path(cfg, "process.capabilities.permitted");
	CHECK(has_str(eff, "CAP_SYS_ADMIN") && !has_str(eff, "CAP_CHOWN") && !has_str(eff, "CAP_KILL"));
	json_decref(cfg);
	CHECK_INT(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"securityContext\":{\"capabilities\":"
			     "{\"add\":[\"NET_RAW\",\"FLY\"]}}}"), NULL, NULL, false, NULL, &cfg, &err), -EINVAL);
	CHECK_STR(err.msg, "spec.containers[0].securityContext.capabilities.add[1]: unknown capability \"FLY\"");
}

TEST(privileged_and_seccomp)
{
	struct gt_err err;
	json_t *cfg, *names;

	CHECK(cfg_of(PODSC("{\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}",
			   "{\"name\":\"c\",\"command\":[\"x\"]}"), NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "linux.seccomp.defaultAction", "\"SCMP_ACT_ALLOW\"");
	names = json_object_get(json_array_get(gt_json_path(cfg, "linux.seccomp.syscalls"), 0), "names");
	CHECK(has_str(names, "kexec_load") && has_str(names, "mount") && has_str(names, "bpf") &&
	      has_str(names, "ptrace") && !has_str(names, "read"));
	json_decref(cfg);
	/* container Unconfined overrides the pod's RuntimeDefault */
	CHECK(cfg_of(PODSC("{\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}",
			   "{\"name\":\"c\",\"command\":[\"x\"],\"securityContext\":{\"seccompProfile\":"
			   "{\"type\":\"Unconfined\"}}}"), NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK(gt_json_path(cfg, "linux.seccomp") == NULL);
	json_decref(cfg);
	CHECK_INT(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"securityContext\":{\"seccompProfile\":"
			     "{\"type\":\"Weird\"}}}"), NULL, NULL, false, NULL, &cfg, &err), -EINVAL);
	CHECK(strstr(err.msg, "seccompProfile.type: unsupported value \"Weird\"") != NULL);
	CHECK(cfg_of(PODSC("{\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}",
			   "{\"name\":\"c\",\"command\":[\"x\"],\"securityContext\":{\"privileged\":true}}"),
		     NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK(gt_json_path(cfg, "linux.seccomp") == NULL);
	CHECK(gt_json_path(cfg, "linux.maskedPaths") == NULL);
	CHECK(json_array_size(gt_json_path(cfg, "process.capabilities.bounding")) >= 30);
	CHECK_AT(cfg, "linux.resources.devices", "[{\"allow\":true,\"access\":\"rwm\"}]");
	json_decref(cfg);
}

TEST(resources)
{
	struct gt_err err;
	json_t *cfg;

	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"resources\":{\"limits\":{\"memory\":\"128Mi\","
			 "\"cpu\":\"500m\"},\"requests\":{\"cpu\":\"250m\"}}}"), NULL, NULL, false, NULL,
		     &cfg, &err) == 0);
	CHECK_AT(cfg, "linux.resources.memory", "{\"limit\":134217728,\"swap\":134217728}");
	CHECK_AT(cfg, "linux.resources.cpu", "{\"shares\":256,\"quota\":50000,\"period\":100000}");
	CHECK_AT(cfg, "linux.resources.pids", "{\"limit\":4096}");
	CHECK_AT(cfg, "linux.cgroupsPath", "\"/gantry/podu1/c\"");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"]}"), NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "linux.resources.cpu", "{\"shares\":2}");
	CHECK(gt_json_path(cfg, "linux.resources.memory") == NULL);
	CHECK_AT(cfg, "linux.resources.devices", "[{\"allow\":false,\"access\":\"rwm\"}]");
	json_decref(cfg);
	/* a limit alone is also the request; tiny values are clamped */
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"resources\":{\"limits\":{\"cpu\":\"2\"}}}"),
		     NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "linux.resources.cpu", "{\"shares\":2048,\"quota\":200000,\"period\":100000}");
	json_decref(cfg);
	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"resources\":{\"limits\":{\"cpu\":\"1m\"}}}"),
		     NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "linux.resources.cpu", "{\"shares\":2,\"quota\":1000,\"period\":100000}");
	json_decref(cfg);
	CHECK_INT(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"],\"resources\":{\"limits\":{\"memory\":\"lots\"}}}"),
			 NULL, NULL, false, NULL, &cfg, &err), -EINVAL);
	CHECK(strstr(err.msg, "spec.containers[0].resources.limits.memory") != NULL);
}

TEST(namespaces_and_mounts)
{
	struct gt_err err;
	json_t *cfg;

	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"x\"]}"), NULL, NULL, false, "/run/netns/p", &cfg,
		     &err) == 0);
	CHECK_AT(cfg, "linux.namespaces", "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
		 "{\"type\":\"network\",\"path\":\"/run/netns/p\"},{\"type\":\"mount\"}]");
	CHECK_AT(cfg, "hostname", "\"h\"");
	CHECK(!strcmp(gt_json_str(cfg, "root.path"), rootfs));
	CHECK(!gt_json_bool(cfg, "root.readonly", true));
	{
		char *m = at(cfg, "mounts");

		CHECK(strstr(m, "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
			     "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]}"));
		CHECK(strstr(m, "\"destination\":\"/proc\"") && strstr(m, "\"destination\":\"/sys/fs/cgroup\""));
		free(m);
	}
	json_decref(cfg);
	/* host network and PID: no network/uts/pid namespaces, no hostname */
	CHECK(cfg_of("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"hostNetwork\":true,\"hostPID\":true,"
		     "\"containers\":[{\"name\":\"c\",\"command\":[\"x\"],\"securityContext\":"
		     "{\"readOnlyRootFilesystem\":true}}]}}", NULL, NULL, false, NULL, &cfg, &err) == 0);
	CHECK_AT(cfg, "linux.namespaces", "[{\"type\":\"ipc\"},{\"type\":\"mount\"}]");
	CHECK(gt_json_path(cfg, "hostname") == NULL);
	CHECK(gt_json_bool(cfg, "root.readonly", false));
	json_decref(cfg);
}

TEST(extra_mounts_and_devices)
{
	json_t *pod = json_pack("{s:{s:s},s:{s:[{s:s,s:[s]}]}}", "metadata", "name", "p", "spec",
				"containers", "name", "c", "command", "x");
	json_t *mounts = json_pack("[{s:s,s:s,s:s,s:[s]},{s:s,s:s,s:s,s:[s,s]}]",
				   "destination", "/dev/shm", "type", "bind", "source", "/v/shm",
				   "options", "rbind", "destination", "/etc/hosts", "type", "bind",
				   "source", "/p/etc-hosts", "options", "rbind", "ro");
	json_t *devs = json_pack("[{s:s,s:s,s:i,s:i,s:i}]", "path", "/dev/nvidia0", "type", "c",
				 "major", 195, "minor", 0, "fileMode", 0666);
	struct gt_oci_input in = { 0 };
	struct gt_err err;
	json_t *cfg = NULL;
	char *m;

	in.pod = pod;
	in.container = json_array_get(gt_json_path(pod, "spec.containers"), 0);
	in.rootfs = rootfs;
	in.mounts = mounts;
	in.devices = devs;
	CHECK(gt_oci_config(&in, &cfg, &err) == 0);
	m = at(cfg, "mounts");
	CHECK(strstr(m, "\"source\":\"shm\"") == NULL);
	CHECK(strstr(m, "{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"/v/shm\""));
	CHECK(strstr(m, "/p/etc-hosts"));
	free(m);
	CHECK_AT(cfg, "linux.devices", "[{\"path\":\"/dev/nvidia0\",\"type\":\"c\",\"major\":195,"
		 "\"minor\":0,\"fileMode\":438}]");
	CHECK_AT(cfg, "linux.resources.devices", "[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,"
		 "\"type\":\"c\",\"major\":195,\"minor\":0,\"access\":\"rwm\"}]");
	json_decref(cfg);
	json_decref(pod);
	json_decref(mounts);
	json_decref(devs);
}

TEST(host_image)
{
	struct gt_err err;
	json_t *cfg, *m0, *want;
	char p[PATH_MAX + 64];
	struct stat sb;

	CHECK(cfg_of(POD("{\"name\":\"c\",\"command\":[\"python3\"]}"), NULL, NULL, true, NULL, &cfg,
		     &err) == 0);
	snprintf(p, sizeof(p), "%s/scratch/root", tmpdir);
	CHECK(!strcmp(gt_json_str(cfg, "root.path"), p));
	CHECK(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode));
	CHECK(gt_json_bool(cfg, "root.readonly", false));
	/* the host's top-level directories are recursive read-only binds in a
	 * private root, so new mount points can be made without touching / */
	m0 = NULL;
	{
		size_t i;
		json_t *m;

		json_array_foreach(json_object_get(cfg, "mounts"), i, m)
			if (!strcmp(gt_json_str(m, "destination") ?: "", "/usr"))
				m0 = m;
	}
	want = json_pack("{s:s,s:s,s:s,s:[s,s]}", "destination", "/usr", "type", "bind", "source",
			 "/usr", "options", "rbind", "rro");
	CHECK(gt_json_equal(m0, want));
	json_decref(want);
	snprintf(p, sizeof(p), "%s/scratch/root/usr", tmpdir);
	CHECK(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode));
	{
		char *m = at(cfg, "mounts"), tmpm[PATH_MAX + 128];

		snprintf(tmpm, sizeof(tmpm), "{\"destination\":\"/tmp\",\"type\":\"bind\",\"source\":"
			 "\"%s/scratch/tmp\"", tmpdir);
		CHECK(strstr(m, tmpm) != NULL);
		/* host network: a tmpfs under the fresh sysfs (EBUSY otherwise) */
		CHECK(strstr(m, "{\"destination\":\"/sys\",\"type\":\"tmpfs\"") != NULL);
		free(m);
	}
	snprintf(p, sizeof(p), "%s/scratch/tmp", tmpdir);
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 07777) == 01777);
	CHECK(has_str(gt_json_path(cfg, "process.env"), "HOME=/tmp"));
	json_decref(cfg);
}

/* A mount point missing on the host (/etc/<none>, /run/<none>): its
 * directory is mirrored entry by entry, the rest stays bound whole. */
TEST(host_image_nested_mount_points)
{
	struct gt_oci_input in = { 0 };
	struct gt_err err;
	json_t *pod, *cfg = NULL;
	json_t *mounts = json_pack("[{s:s,s:s,s:s,s:[s]},{s:s,s:s,s:s,s:[s]}]",
				   "destination", "/etc/gt-oci-none/x", "type", "bind", "source",
				   "/tmp", "options", "rbind", "destination", "/usr/share",
				   "type", "bind", "source", "/tmp", "options", "rbind");
	char scratch[PATH_MAX + 32], p[PATH_MAX + 64], *m;
	struct stat sb;

	gt_err_clear(&err);
	CHECK(gt_json_parse(POD("{\"name\":\"c\",\"command\":[\"true\"]}"),
			    strlen(POD("{\"name\":\"c\",\"command\":[\"true\"]}")), &pod, &err) == 0);
	snprintf(scratch, sizeof(scratch), "%s/scratch2", tmpdir);
	in.pod = pod;
	in.container = json_array_get(gt_json_path(pod, "spec.containers"), 0);
	in.hostname = "h";
	in.mounts = mounts;
	in.scratch_dir = scratch;
	CHECK(gt_oci_config(&in, &cfg, &err) == 0);
	m = at(cfg, "mounts");
	/* /etc is mirrored (its entries bound), /usr bound whole (/usr/share exists) */
	CHECK(strstr(m, "{\"destination\":\"/etc\",") == NULL);
	CHECK(strstr(m, "{\"destination\":\"/etc/passwd\",\"type\":\"bind\",\"source\":"
			"\"/etc/passwd\",\"options\":[\"rbind\",\"rro\"]}") != NULL);
	CHECK(strstr(m, "{\"destination\":\"/usr\",\"type\":\"bind\"") != NULL);
	snprintf(p, sizeof(p), "%s/root/etc/passwd", scratch);
	CHECK(stat(p, &sb) == 0 && S_ISREG(sb.st_mode));
	snprintf(p, sizeof(p), "%s/root/etc", scratch);
	CHECK(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode));
	free(m);
	json_decref(cfg);
	json_decref(pod);
	json_decref(mounts);
}

static void put(const char *path, const char *text)
{
	gt_write_file_atomic(path, text, strlen(text), 0644);
}

int main(void)
{
	char p[PATH_MAX + 64];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gt-oci-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmpdir);
	snprintf(p, sizeof(p), "%s/etc", rootfs);
	gt_mkdir_p(p, 0755);
	snprintf(p, sizeof(p), "%s/etc/passwd", rootfs);
	put(p, "root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321::/tmp:/bin/sh\n");
	snprintf(p, sizeof(p), "%s/etc/group", rootfs);
	put(p, "root:x:0:\napp:x:4321:\nextra:x:555:app,user\n");

	RUN(expand);
	RUN(command_args);
	RUN(env_and_cwd);
	RUN(user);
	RUN(run_as_non_root);
	RUN(capabilities);
	RUN(privileged_and_seccomp);
	RUN(resources);
	RUN(namespaces_and_mounts);
	RUN(extra_mounts_and_devices);
	RUN(host_image);
	RUN(host_image_nested_mount_points);
	{
		char *cmd = xasprintf("rm -rf '%s'", tmpdir);

		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
		free(cmd);
	}
	return t_done();
}
