/*
 * registry.c - the resource table: static rows for the built-in kinds and
 * run-time rows for the versions CustomResourceDefinitions serve.
 *
 * Adding a built-in resource is adding a row to `builtin` below.  CRD rows
 * live in a list guarded by a rwlock and are reference-counted, so a
 * request that found a row can finish while the CRD is deleted.
 */
#include "api/registry.h"

/* Rows are positional for compactness; trailing CRD-only fields stay zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define POD_FIELDS { "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", \
	"spec.serviceAccountName", "status.phase", "status.podIP", "status.nominatedNodeName", \
	"spec.hostNetwork", NULL }
#define EVENT_FIELDS { "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", \
	"involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", \
	"involvedObject.fieldPath", "reason", "type", "reportingComponent", "source", NULL }

static const struct gt_resource builtin[] = {
	/* core/v1 */
	{ "", "v1", "pods", "pod", "Pod", "PodList", true, { "po" }, { "all" },
	  GT_SUB_STATUS | GT_SUB_LOG | GT_SUB_EXEC | GT_SUB_BINDING | GT_SUB_EVICTION,
	  GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, POD_FIELDS },
	{ "", "v1", "services", "service", "Service", "ServiceList", true, { "svc" }, { "all" },
	  GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, { NULL } },
	{ "", "v1", "endpoints", "endpoints", "Endpoints", "EndpointsList", true, { "ep" }, { NULL },
	  0, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, false, { NULL } },
	{ "", "v1", "configmaps", "configmap", "ConfigMap", "ConfigMapList", true, { "cm" }, { NULL },
	  0, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, false, { NULL } },
	{ "", "v1", "secrets", "secret", "Secret", "SecretList", true, { NULL }, { NULL },
	  0, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, false, { "type", NULL } },
	{ "", "v1", "events", "event", "Event", "EventList", true, { "ev" }, { NULL },
	  0, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, false, EVENT_FIELDS },
	{ "", "v1", "namespaces", "namespace", "Namespace", "NamespaceList", false, { "ns" }, { NULL },
	  GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, { "status.phase", NULL } },
	{ "", "v1", "nodes", "node", "Node", "NodeList", false, { "no" }, { NULL },
	  GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, { "spec.unschedulable", NULL } },
	{ "", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", "ServiceAccountList",
	  true, { "sa" }, { NULL }, GT_SUB_TOKEN, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, false, { NULL } },
	{ "", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim",
	  "PersistentVolumeClaimList", true, { "pvc" }, { NULL }, GT_SUB_STATUS, GT_VERBS_ALL,
	  GT_SCHEMA_BUILTIN, true, { NULL } },
	{ "", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume",
	  "PersistentVolumeList", false, { "pv" }, { NULL }, GT_SUB_STATUS, GT_VERBS_ALL,
	  GT_SCHEMA_BUILTIN, true, { NULL } },
	/* apps/v1 */
	{ "apps", "v1", "deployments", "deployment", "Deployment", "DeploymentList", true,
	  { "deploy" }, { "all" }, GT_SUB_STATUS | GT_SUB_SCALE, GT_VERBS_ALL, GT_SCHEMA_BUILTIN,
	  true, { NULL } },
	{ "apps", "v1", "replicasets", "replicaset", "ReplicaSet", "ReplicaSetList", true,
	  { "rs" }, { "all" }, GT_SUB_STATUS | GT_SUB_SCALE, GT_VERBS_ALL, GT_SCHEMA_BUILTIN,
	  true, { "status.replicas", NULL } },
	{ "apps", "v1", "statefulsets", "statefulset", "StatefulSet", "StatefulSetList", true,
	  { "sts" }, { "all" }, GT_SUB_STATUS | GT_SUB_SCALE, GT_VERBS_ALL, GT_SCHEMA_BUILTIN,
	  true, { NULL } },
	{ "apps", "v1", "daemonsets", "daemonset", "DaemonSet", "DaemonSetList", true,
	  { "ds" }, { "all" }, GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, { NULL } },
	{ "apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision",
	  "ControllerRevisionList", true, { NULL }, { NULL }, 0, GT_VERBS_ALL, GT_SCHEMA_BUILTIN,
	  false, { NULL } },
	/* batch/v1 */
	{ "batch", "v1", "jobs", "job", "Job", "JobList", true, { NULL }, { "all" },
	  GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, { "status.successful", NULL } },
	{ "batch", "v1", "cronjobs", "cronjob", "CronJob", "CronJobList", true, { "cj" },
	  { "all" }, GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, { NULL } },
	/* autoscaling/v1 (converted at the edge: apiserver/hpa_v1.c) and v2 (stored) */
	{ "autoscaling", "v1", "horizontalpodautoscalers", "horizontalpodautoscaler",
	  "HorizontalPodAutoscaler", "HorizontalPodAutoscalerList", true, { "hpa" }, { "all" },
	  GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, { NULL } },
	{ "autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler",
	  "HorizontalPodAutoscaler", "HorizontalPodAutoscalerList", true, { "hpa" }, { "all" },
	  GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, { NULL } },
	/* policy/v1 */
	{ "policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget",
	  "PodDisruptionBudgetList", true, { "pdb" }, { NULL }, GT_SUB_STATUS, GT_VERBS_ALL,
	  GT_SCHEMA_BUILTIN, true, { NULL } },
	/* coordination.k8s.io/v1 */
	{ "coordination.k8s.io", "v1", "leases", "lease", "Lease", "LeaseList", true, { NULL },
	  { NULL }, 0, GT_VERBS_ALL, GT_SCHEMA_BUILTIN, true, { NULL } },
	/* scheduling.k8s.io/v1 */
	{ "scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass",
	  "PriorityClassList", false, { "pc" }, { NULL }, 0, GT_VERBS_ALL, GT_SCHEMA_BUILTIN,
	  false, { NULL } },
	/* discovery.k8s.io/v1 */
	{ "discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice",
	  "EndpointSliceList", true, { NULL }, { NULL }, 0, GT_VERBS_ALL, GT_SCHEMA_BUILTIN,
	  false, { NULL } },
	/* kubeflow.org: training jobs, served as built-ins (controllers/pytorchjob.c, mpijob.c) */
	{ "kubeflow.org", "v1", "pytorchjobs", "pytorchjob", "PyTorchJob", "PyTorchJobList", true,
	  { "ptj" }, { "kubeflow" }, GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_NONE, true, { NULL } },
	{ "kubeflow.org", "v2beta1", "mpijobs", "mpijob", "MPIJob", "MPIJobList", true,
	  { "mpij" }, { "kubeflow" }, GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_NONE, true, { NULL } },
	/* apiextensions.k8s.io/v1 */
	{ "apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
	  "CustomResourceDefinition", "CustomResourceDefinitionList", false, { "crd", "crds" },
	  { NULL }, GT_SUB_STATUS, GT_VERBS_ALL, GT_SCHEMA_NONE, true, { NULL } },
	/* metrics.k8s.io/v1beta1: read-only, pulled from the agents (apiserver/metrics.c) */
	{ "metrics.k8s.io", "v1beta1", "nodes", "", "NodeMetrics", "NodeMetricsList", false,
	  { NULL }, { NULL }, 0, GT_VERBS_READ_ONLY, GT_SCHEMA_BUILTIN, false, { NULL } },
	{ "metrics.k8s.io", "v1beta1", "pods", "", "PodMetrics", "PodMetricsList", true,
	  { NULL }, { NULL }, 0, GT_VERBS_READ_ONLY, GT_SCHEMA_BUILTIN, false, { NULL } },
	/* reviews: create-only, never stored */
	{ "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
	  "SelfSubjectAccessReview", "", false, { NULL }, { NULL }, 0, GT_VERBS_CREATE_ONLY,
	  GT_SCHEMA_BUILTIN, true, { NULL } },
	{ "authorization.k8s.io", "v1", "selfsubjectrulesreviews", "selfsubjectrulesreview",
	  "SelfSubjectRulesReview", "", false, { NULL }, { NULL }, 0, GT_VERBS_CREATE_ONLY,
	  GT_SCHEMA_BUILTIN, true, { NULL } },
	{ "authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview",
	  "SelfSubjectReview", "", false, { NULL }, { NULL }, 0, GT_VERBS_CREATE_ONLY,
	  GT_SCHEMA_BUILTIN, true, { NULL } },
};

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct gt_resource **custom;
static size_t ncustom, capcustom;

void gt_resource_api_version(const struct gt_resource *r, char *out, size_t n)
{
	if (r->group[0])
		snprintf(out, n, "%s/%s", r->group, r->version);
	else
		snprintf(out, n, "%s", r->version);
}

void gt_resource_key_prefix(const struct gt_resource *r, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", r->group[0] ? r->group : "core", r->plural);
}

static struct gt_resource *ref(struct gt_resource *r)
{
	if (r->custom)
		atomic_fetch_add((_Atomic int *)&r->refs, 1);
	return r;
}

static void free_row(struct gt_resource *r)
{
	free((char *)r->group);
	free((char *)r->version);
	free((char *)r->plural);
	free((char *)r->singular);
	free((char *)r->kind);
	free((char *)r->list_kind);
	for (size_t i = 0; i < GT_ARRAY_SIZE(r->short_names); i++)
		free((char *)r->short_names[i]);
	for (size_t i = 0; i < GT_ARRAY_SIZE(r->categories); i++)
		free((char *)r->categories[i]);
	free(r->crd_name);
	json_decref(r->printer_columns);
	free(r->scale_spec_path);
	free(r->scale_status_path);
	free(r->scale_selector_path);
	free(r);
}

void gt_resource_unref(const struct gt_resource *r)
{
	struct gt_resource *m = (struct gt_resource *)r;

	if (!m || !m->custom)
		return;
	if (atomic_fetch_sub((_Atomic int *)&m->refs, 1) == 1)
		free_row(m);
}

const struct gt_resource *gt_registry_find(const char *group, const char *version,
					    const char *plural)
{
	const struct gt_resource *found = NULL;

	for (size_t i = 0; i < GT_ARRAY_SIZE(builtin); i++)
		if (!strcmp(builtin[i].group, group) && !strcmp(builtin[i].version, version) &&
		    !strcmp(builtin[i].plural, plural))
			return &builtin[i];
	pthread_rwlock_rdlock(&lock);
	for (size_t i = 0; i < ncustom && !found; i++)
		if (!strcmp(custom[i]->group, group) && !strcmp(custom[i]->version, version) &&
		    !strcmp(custom[i]->plural, plural))
			found = ref(custom[i]);
	pthread_rwlock_unlock(&lock);
	return found;
}

const struct gt_resource *gt_registry_find_kind(const char *api_version, const char *kind)
{
	const struct gt_resource *found = NULL;
	char av[256];

	if (!api_version || !kind)
		return NULL;
	for (size_t i = 0; i < GT_ARRAY_SIZE(builtin); i++) {
		gt_resource_api_version(&builtin[i], av, sizeof(av));
		if (!strcmp(av, api_version) && !strcmp(builtin[i].kind, kind))
			return &builtin[i];
	}
	pthread_rwlock_rdlock(&lock);
	for (size_t i = 0; i < ncustom && !found; i++) {
		gt_resource_api_version(custom[i], av, sizeof(av));
		if (!strcmp(av, api_version) && !strcmp(custom[i]->kind, kind))
			found = ref(custom[i]);
	}
	pthread_rwlock_unlock(&lock);
	return found;
}

void gt_registry_foreach(int (*fn)(const struct gt_resource *r, void *ctx), void *ctx)
{
	for (size_t i = 0; i < GT_ARRAY_SIZE(builtin); i++)
		if (fn(&builtin[i], ctx))
			return;
	pthread_rwlock_rdlock(&lock);
	for (size_t i = 0; i < ncustom; i++)
		if (fn(custom[i], ctx))
			break;
	pthread_rwlock_unlock(&lock);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* ".spec.replicas" → "spec.replicas" style is kept as given (JSONPath). */
static char *dup_path(const json_t *v)
{
	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static void remove_locked(const char *name)
{
	size_t j = 0;

	for (size_t i = 0; i < ncustom; i++) {
		if (!strcmp(custom[i]->crd_name, name))
			gt_resource_unref(custom[i]);
		else
			custom[j++] = custom[i];
	}
	ncustom = j;
}

int gt_registry_add_crd(const json_t *crd, struct gt_err *err)
{
	const char *name = gt_json_str(crd, "metadata.name");
	const char *group = gt_json_str(crd, "spec.group");
	const char *plural = gt_json_str(crd, "spec.names.plural");
	const char *kind = gt_json_str(crd, "spec.names.kind");
	const char *scope = gt_json_str(crd, "spec.scope");
	json_t *versions = gt_json_path(crd, "spec.versions"), *v;
	size_t i;

	if (!name || !group || !plural || !kind || !json_is_array(versions))
		return gt_err_set(err, -EINVAL, "CustomResourceDefinition is incomplete");
	pthread_rwlock_wrlock(&lock);
	remove_locked(name);
	json_array_foreach(versions, i, v) {
		struct gt_resource *r;
		const char *vname = gt_json_str(v, "name");
		const char *singular = gt_json_str(crd, "spec.names.singular");
		const char *list_kind = gt_json_str(crd, "spec.names.listKind");
		json_t *sn = gt_json_path(crd, "spec.names.shortNames");
		json_t *cat = gt_json_path(crd, "spec.names.categories");
		json_t *scale = gt_json_path(v, "subresources.scale");
		json_t *cols = gt_json_path(v, "additionalPrinterColumns");

		if (!vname || !gt_json_bool(v, "served", true))
			continue;
		r = xcalloc(1, sizeof(*r));
		r->custom = true;
		r->refs = 1;
		r->crd_name = xstrdup(name);
		r->group = xstrdup(group);
		r->version = xstrdup(vname);
		r->plural = xstrdup(plural);
		r->singular = singular ? xstrdup(singular) : xasprintf("%s", "");
		if (!singular) {
			char *lk = xstrdup(kind);

			for (char *p = lk; *p; p++)
				*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
			free((char *)r->singular);
			r->singular = lk;
		}
		r->kind = xstrdup(kind);
		r->list_kind = list_kind ? xstrdup(list_kind) : xasprintf("%sList", kind);
		r->namespaced = !scope || strcmp(scope, "Cluster") != 0;
		for (size_t k = 0; k < GT_ARRAY_SIZE(r->short_names) && k < json_array_size(sn); k++)
			r->short_names[k] = dup_or_null(json_string_value(json_array_get(sn, k)));
		for (size_t k = 0; k < GT_ARRAY_SIZE(r->categories) && k < json_array_size(cat); k++)
			r->categories[k] = dup_or_null(json_string_value(json_array_get(cat, k)));
		if (gt_json_path(v, "subresources.status"))
			r->subresources |= GT_SUB_STATUS;
		if (scale) {
			r->subresources |= GT_SUB_SCALE;
			r->scale_spec_path = dup_path(json_object_get(scale, "specReplicasPath"));
			r->scale_status_path = dup_path(json_object_get(scale, "statusReplicasPath"));
			r->scale_selector_path = dup_path(json_object_get(scale, "labelSelectorPath"));
		}
		if (json_is_array(cols))
			r->printer_columns = json_deep_copy(cols);
		r->verbs = GT_VERBS_ALL;
		r->patch = GT_SCHEMA_NONE;
		r->has_spec = false;
		r->storage = gt_json_bool(v, "storage", false);
		gt_grow((void **)&custom, &capcustom, ncustom + 1, sizeof(*custom));
		custom[ncustom++] = r;
	}
	pthread_rwlock_unlock(&lock);
	return 0;
}

void gt_registry_remove_crd(const char *name)
{
	pthread_rwlock_wrlock(&lock);
	remove_locked(name);
	pthread_rwlock_unlock(&lock);
}
