/*
 * mergekeys.c - the strategic-merge-patch table: which list fields of the
 * built-in kinds merge (and by which key), which honour $retainKeys, which
 * are replaced.  Transcribed from the patchStrategy/patchMergeKey struct
 * tags of k8s.io/api v0.20 for the kinds Gantry serves.
 *
 * Layout: kind rows {group, kinds, rule}; a rule's path is relative to where
 * its table is mounted, and a rule may carry a sub-table (the PodSpec table
 * is mounted at "spec" in Pod, at "spec.template.spec" in the workload kinds
 * and at "spec.jobTemplate.spec.template.spec" in CronJob; the Container
 * table under every container list).  Adding a kind or a field is adding a
 * row.  Fields the table does not name: maps merge, lists are replaced.
 */
#include "api/patch.h"

#include <string.h>

#define RULE(p, s, k) { (p), (s), (k), NULL }
#define MOUNT(p, t) { (p), 0, NULL, (t) }
#define END { NULL, 0, NULL, NULL }

/* Container, InitContainer and EphemeralContainer(Common) fields. */
static const struct gt_patch_rule container_rules[] = {
	RULE("ports", GT_PATCH_MERGE, "containerPort"),
	RULE("env", GT_PATCH_MERGE, "name"),
	RULE("volumeMounts", GT_PATCH_MERGE, "mountPath"),
	RULE("volumeDevices", GT_PATCH_MERGE, "devicePath"),
	END,
};

static const struct gt_patch_rule podspec_rules[] = {
	{ "containers", GT_PATCH_MERGE, "name", container_rules },
	{ "initContainers", GT_PATCH_MERGE, "name", container_rules },
	{ "ephemeralContainers", GT_PATCH_MERGE, "name", container_rules },
	RULE("volumes", GT_PATCH_MERGE | GT_PATCH_RETAIN_KEYS, "name"),
	RULE("imagePullSecrets", GT_PATCH_MERGE, "name"),
	RULE("hostAliases", GT_PATCH_MERGE, "ip"),
	RULE("topologySpreadConstraints", GT_PATCH_MERGE, "topologyKey"),
	/* No patchStrategy tag: replaced (written out because people expect a merge). */
	RULE("tolerations", GT_PATCH_REPLACE, NULL),
	END,
};

/* Rows that apply to every kind. */
static const struct gt_patch_rule meta_rules[] = {
	RULE("finalizers", GT_PATCH_MERGE, NULL),
	RULE("ownerReferences", GT_PATCH_MERGE, "uid"),
	END,
};

static const struct gt_patch_rule conditions_rules[] = {
	RULE("conditions", GT_PATCH_MERGE, "type"),
	END,
};

struct kind_row {
	const char *group; /* API group, "" core, "*" any */
	const char *kinds; /* space-separated kind names, "*" any */
	struct gt_patch_rule rule;
};

#define WORKLOADS "Deployment ReplicaSet StatefulSet DaemonSet"

static const struct kind_row kind_rows[] = {
	{ "*", "*", MOUNT("metadata", meta_rules) },

	{ "", "Pod", MOUNT("spec", podspec_rules) },
	{ "", "Pod", RULE("status.conditions", GT_PATCH_MERGE, "type") },
	{ "", "Pod", RULE("status.podIPs", GT_PATCH_MERGE, "ip") },
	{ "", "PodTemplate", MOUNT("template.spec", podspec_rules) },
	{ "", "ReplicationController", MOUNT("spec.template.spec", podspec_rules) },
	{ "apps", WORKLOADS, MOUNT("spec.template.spec", podspec_rules) },
	{ "batch", "Job", MOUNT("spec.template.spec", podspec_rules) },
	{ "batch", "CronJob", MOUNT("spec.jobTemplate.spec.template.spec", podspec_rules) },

	{ "apps", "Deployment", RULE("spec.strategy", GT_PATCH_RETAIN_KEYS, NULL) },
	{ "apps", WORKLOADS, MOUNT("status", conditions_rules) },
	{ "batch", "Job", MOUNT("status", conditions_rules) },

	{ "", "Service", RULE("spec.ports", GT_PATCH_MERGE, "port") },
	{ "", "Service", MOUNT("status", conditions_rules) },
	{ "", "Node", RULE("spec.podCIDRs", GT_PATCH_MERGE, NULL) },
	{ "", "Node", MOUNT("status", conditions_rules) },
	{ "", "Node", RULE("status.addresses", GT_PATCH_MERGE, "type") },
	{ "", "Namespace", MOUNT("status", conditions_rules) },
	{ "", "ServiceAccount", RULE("secrets", GT_PATCH_MERGE, "name") },
	{ "", "PersistentVolumeClaim", MOUNT("status", conditions_rules) },
};

/* Does the space-separated list contain word (or is it "*")? */
static bool word_in(const char *list, const char *word)
{
	size_t n = strlen(word);

	if (!strcmp(list, "*"))
		return true;
	while (*list) {
		const char *end = strchr(list, ' ');
		size_t len = end ? (size_t)(end - list) : strlen(list);

		if (len == n && !memcmp(list, word, n))
			return true;
		list += len;
		while (*list == ' ')
			list++;
	}
	return false;
}

/* Finds path in one table, descending into sub-tables by prefix. */
static const struct gt_patch_rule *find_in(const struct gt_patch_rule *rules, const char *path)
{
	for (const struct gt_patch_rule *r = rules; r->path; r++) {
		size_t n = strlen(r->path);

		if (strncmp(path, r->path, n))
			continue;
		if (!path[n] && r->strategy)
			return r;
		if (path[n] == '.' && r->sub) {
			const struct gt_patch_rule *hit = find_in(r->sub, path + n + 1);

			if (hit)
				return hit;
		}
	}
	return NULL;
}

const struct gt_patch_rule *gt_patch_rule_find(const char *api_version, const char *kind,
					       const char *path)
{
	const char *slash = api_version ? strchr(api_version, '/') : NULL;
	size_t glen = slash ? (size_t)(slash - api_version) : 0;

	if (!kind || !path)
		return NULL;
	for (size_t i = 0; i < GT_ARRAY_SIZE(kind_rows); i++) {
		const struct kind_row *k = &kind_rows[i];
		const struct gt_patch_rule one[2] = { k->rule, END };
		const struct gt_patch_rule *hit;

		if (strcmp(k->group, "*") &&
		    (strlen(k->group) != glen || memcmp(k->group, api_version, glen)))
			continue;
		if (!word_in(k->kinds, kind))
			continue;
		hit = find_in(one, path);
		if (hit)
			return hit == &one[0] ? &k->rule : hit;
	}
	return NULL;
}
