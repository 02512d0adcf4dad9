/*
 * image.c - `gantry image import|ls|rm|pull|inspect`: the node's image
 * store from the command line (src/agent/image*.c does the work).  The
 * store is ROOT/images of an agent's root directory: --root-dir DIR (default
 * /var/lib/gantry/agent), or --data-dir DIR for the agent embedded in
 * `gantry server --data-dir DIR` (DIR/agent).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/image.h"
#include "base/util.h"

#define DEFAULT_ROOT "/var/lib/gantry/agent"

struct image_opts {
	const char *root_dir, *data_dir, *docker_config, *creds, *output;
	const char *insecure[32];
	size_t ninsecure;
	bool quiet;
	char **args;
	int nargs;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gantry image <command> [flags]\n"
		"\n"
		"Manages the OCI image store of this machine's node agent.\n"
		"\n"
		"Commands:\n"
		"  import FILE...   import `docker save` or OCI image-layout archives (.tar,\n"
		"                   optionally gzip/zstd/xz compressed)\n"
		"  ls               list images (-q: image ids only; -o json)\n"
		"  rm REF...        remove images (by reference, or by image id) and the\n"
		"                   blobs and layers no other image uses\n"
		"  pull REF         pull from an OCI distribution registry\n"
		"  inspect REF      print an image's id, layers and config as JSON\n"
		"\n"
		"Flags:\n"
		"  --root-dir DIR              the agent's root directory (default " DEFAULT_ROOT ")\n"
		"  --data-dir DIR              the embedded agent of `gantry server --data-dir DIR`\n"
		"                              (its root directory is DIR/agent)\n"
		"  --insecure-registry HOST    (pull) allow plain HTTP and unverified TLS for\n"
		"                              HOST[:PORT]; repeatable.  localhost and 127.0.0.0/8\n"
		"                              are always allowed\n"
		"  --docker-config FILE        (pull) credentials: a docker config.json or\n"
		"                              .dockerconfigjson ({\"auths\":{HOST:{\"auth\":...}}})\n"
		"  --creds USER:PASSWORD       (pull) credentials for the image's registry\n"
		"  -q, --quiet                 (ls) print image ids only\n"
		"  -o, --output json           (ls) print JSON\n"
		"  -h, --help                  show this help\n"
		"\n"
		"References are normalized as Docker does: busybox is\n"
		"docker.io/library/busybox:latest.  The name \"host\" is reserved for the\n"
		"host's own root file system (see docs/agent.md).\n"
		"\n"
		"Examples:\n"
		"  gantry image import busybox.tar --data-dir /tmp/gantry\n"
		"  gantry image pull 127.0.0.1:5000/test/busybox:1\n"
		"  gantry image rm busybox\n");
}

static int parse(int argc, char **argv, struct image_opts *o)
{
	static const struct option longopts[] = {
		{ "root-dir", required_argument, NULL, 'r' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "insecure-registry", required_argument, NULL, 'i' },
		{ "docker-config", required_argument, NULL, 'c' },
		{ "creds", required_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0; /* glibc: full re-initialisation */
	while ((c = getopt_long(argc, argv, "hqo:", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o->root_dir = optarg; break;
		case 'd': o->data_dir = optarg; break;
		case 'c': o->docker_config = optarg; break;
		case 'C': o->creds = optarg; break;
		case 'q': o->quiet = true; break;
		case 'o':
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "gantry image: --output: only \"json\" is supported\n");
				return -1;
			}
			o->output = optarg;
			break;
		case 'i':
			if (o->ninsecure + 1 >= GT_ARRAY_SIZE(o->insecure)) {
				fprintf(stderr, "gantry image: too many --insecure-registry flags\n");
				return -1;
			}
			o->insecure[o->ninsecure++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "Run 'gantry image --help' for the flags.\n");
			return -1;
		}
	}
	if (o->root_dir && o->data_dir) {
		fprintf(stderr, "gantry image: --root-dir and --data-dir are exclusive\n");
		return -1;
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return 0;
}

static int open_store(const struct image_opts *o, struct gt_image_store **s)
{
	GT_AUTOFREE char *dir = o->data_dir ? xasprintf("%s/agent/images", o->data_dir)
		: xasprintf("%s/images", o->root_dir ? o->root_dir : DEFAULT_ROOT);
	struct gt_err err = { 0 };

	if (gt_image_store_open(dir, s, &err) < 0) {
		fprintf(stderr, "gantry image: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void human_size(int64_t n, char out[16])
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1000 && u + 1 < GT_ARRAY_SIZE(unit)) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(out, 16, "%lldB", (long long)n);
	else
		snprintf(out, 16, "%.3g%s", v, unit[u]);
}

static int cmd_import(struct gt_image_store *s, struct image_opts *o)
{
	int rc = 0;

	if (o->nargs < 1) {
		fprintf(stderr, "gantry image import: archive file required\n");
		return 2;
	}
	for (int i = 0; i < o->nargs; i++) {
		struct gt_err err = { 0 };
		GT_AUTOJSON json_t *refs = NULL;
		size_t k;
		json_t *r;

		if (gt_image_import(s, o->args[i], &refs, &err) < 0) {
			fprintf(stderr, "gantry image import: %s\n", err.msg);
			rc = 1;
			continue;
		}
		json_array_foreach(refs, k, r)
			printf("imported %s\n", json_string_value(r));
	}
	return rc;
}

static int cmd_ls(struct gt_image_store *s, struct image_opts *o)
{
	struct gt_err err = { 0 };
	GT_AUTOJSON json_t *list = NULL;
	json_t *e;
	size_t i;

	if (gt_image_list(s, &list, &err) < 0) {
		fprintf(stderr, "gantry image ls: %s\n", err.msg);
		return 1;
	}
	if (o->output) {
		GT_AUTOFREE char *out = json_dumps(list, JSON_INDENT(2));
		printf("%s\n", out);
		return 0;
	}
	if (!o->quiet)
		printf("%-50s %-20s %-13s %s\n", "IMAGE", "TAG", "IMAGE ID", "SIZE");
	json_array_foreach(list, i, e) {
		const char *ref = gt_json_str(e, "ref"), *id = gt_json_str(e, "id");
		const char *hex = id && strlen(id) > 7 ? id + 7 : "";
		const char *at = strchr(ref, '@'), *slash = strrchr(ref, '/');
		const char *colon = strchr(slash ? slash : ref, ':');
		char size[16];
		int64_t n = 0;

		if (o->quiet) {
			printf("%.12s\n", hex);
			continue;
		}
		gt_json_int(e, "size", &n);
		human_size(n, size);
		if (colon && (!at || colon < at))
			printf("%-50.*s %-20.*s %-13.12s %s\n", (int)(colon - ref), ref,
			       (int)(at ? at - colon - 1 : (long)strlen(colon + 1)), colon + 1, hex,
			       size);
		else
			printf("%-50.*s %-20s %-13.12s %s\n", (int)(at ? at - ref : (long)strlen(ref)),
			       ref, "<none>", hex, size);
	}
	return 0;
}

static int cmd_rm(struct gt_image_store *s, struct image_opts *o)
{
	int rc = 0;

	if (o->nargs < 1) {
		fprintf(stderr, "gantry image rm: image reference required\n");
		return 2;
	}
	for (int i = 0; i < o->nargs; i++) {
		struct gt_err err = { 0 };
		if (gt_image_remove(s, o->args[i], &err) < 0) {
			fprintf(stderr, "gantry image rm: %s\n", err.msg);
			rc = 1;
		} else {
			printf("deleted %s\n", o->args[i]);
		}
	}
	return rc;
}

static int cmd_pull(struct gt_image_store *s, struct image_opts *o)
{
	struct gt_err err = { 0 };
	GT_AUTOJSON json_t *cfg = NULL;
	struct gt_image img = { 0 };
	char norm[512];

	if (o->nargs != 1) {
		fprintf(stderr, "gantry image pull: exactly one image reference required\n");
		return 2;
	}
	if (gt_image_normalize(o->args[0], norm, sizeof(norm), &err) < 0) {
		fprintf(stderr, "gantry image pull: %s\n", err.msg);
		return 1;
	}
	if (o->docker_config) {
		GT_AUTOFREE char *buf = NULL;
		size_t len;
		int rc = gt_read_file(o->docker_config, &buf, &len);
		if (rc < 0 || gt_json_parse_lenient(buf, len, &cfg, &err) < 0) {
			fprintf(stderr, "gantry image pull: --docker-config %s: %s\n",
				o->docker_config, rc < 0 ? strerror(-rc) : err.msg);
			return 1;
		}
	} else if (o->creds) {
		const char *colon = strchr(o->creds, ':');
		const char *host = norm, *slash = strchr(norm, '/');
		GT_AUTOFREE char *user = colon ? xstrndup(o->creds, (size_t)(colon - o->creds))
					       : xstrdup(o->creds);
		GT_AUTOFREE char *h = xstrndup(host, slash ? (size_t)(slash - host) : strlen(host));
		cfg = json_pack("{s:{s:{s:s,s:s}}}", "auths", h, "username", user, "password",
				colon ? colon + 1 : "");
	}
	o->insecure[o->ninsecure] = NULL;
	if (gt_image_pull(s, norm, cfg, o->insecure, &err) < 0) {
		fprintf(stderr, "gantry image pull: %s\n", err.msg);
		return 1;
	}
	if (gt_image_get(s, norm, &img, &err) < 0) {
		fprintf(stderr, "gantry image pull: %s\n", err.msg);
		return 1;
	}
	printf("pulled %s (%s)\n", img.ref, img.id);
	gt_image_release(&img);
	return 0;
}

static int cmd_inspect(struct gt_image_store *s, struct image_opts *o)
{
	struct gt_err err = { 0 };
	struct gt_image img = { 0 };
	json_t *out, *layers;

	if (o->nargs != 1) {
		fprintf(stderr, "gantry image inspect: exactly one image reference required\n");
		return 2;
	}
	if (gt_image_get(s, o->args[0], &img, &err) < 0) {
		fprintf(stderr, "gantry image inspect: %s\n", err.msg);
		return 1;
	}
	layers = json_array();
	for (size_t i = 0; i < img.nlayers; i++)
		json_array_append_new(layers, json_string(img.layers[i]));
	out = json_pack("{s:s,s:s,s:s,s:o,s:O}", "ref", img.ref, "id", img.id, "digest",
			img.digest, "layers", layers, "config", img.config);
	GT_AUTOFREE char *txt = json_dumps(out, JSON_INDENT(2));
	printf("%s\n", txt);
	json_decref(out);
	gt_image_release(&img);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct gt_image_store *s, struct image_opts *o);
} subcmds[] = {
	{ "import", cmd_import },
	{ "ls", cmd_ls },
	{ "list", cmd_ls },
	{ "rm", cmd_rm },
	{ "pull", cmd_pull },
	{ "inspect", cmd_inspect },
};

int gt_cmd_image(int argc, char **argv)
{
	struct image_opts o = { 0 };
	struct gt_image_store *s = NULL;
	size_t i;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < GT_ARRAY_SIZE(subcmds); i++)
		if (!strcmp(argv[1], subcmds[i].name))
			break;
	if (i == GT_ARRAY_SIZE(subcmds)) {
		fprintf(stderr, "gantry image: unknown command \"%s\"\n"
			"Run 'gantry image --help' for the commands.\n", argv[1]);
		return 2;
	}
	if ((rc = parse(argc - 1, argv + 1, &o)) != 0)
		return rc < 0 ? 2 : 0;
	if (open_store(&o, &s) < 0)
		return 1;
	rc = subcmds[i].fn(s, &o);
	gt_image_store_close(s);
	return rc;
}
