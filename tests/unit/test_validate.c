/*
 * Unit tests for src/api/defaults.c and src/api/validate*.c: server-side
 * defaults of the built-in kinds, decode errors (400) and field validation
 * (422) with Kubernetes' field paths, reasons and messages.
 */
#include "t.h"

#include <time.h>

#include "api/defaults.h"
#include "api/policy.h"
#include "api/validate.h"

#define RES(var, grp, knd, ns) \
	static const struct gt_resource var = { .group = grp, .version = "v1", .kind = knd, .namespaced = ns }

RES(R_POD, "", "Pod", true);
RES(R_SVC, "", "Service", true);
RES(R_NS, "", "Namespace", false);
RES(R_CM, "", "ConfigMap", true);
RES(R_SECRET, "", "Secret", true);
RES(R_PVC, "", "PersistentVolumeClaim", true);
RES(R_NODE, "", "Node", false);
RES(R_EVENT, "", "Event", true);
RES(R_SA, "", "ServiceAccount", true);
RES(R_DEPLOY, "apps", "Deployment", true);
RES(R_RS, "apps", "ReplicaSet", true);
RES(R_STS, "apps", "StatefulSet", true);
RES(R_DS, "apps", "DaemonSet", true);
RES(R_JOB, "batch", "Job", true);
RES(R_CRON, "batch", "CronJob", true);
RES(R_LEASE, "coordination.k8s.io", "Lease", true);
RES(R_CRD, "apiextensions.k8s.io", "CustomResourceDefinition", false);
RES(R_ROLE, "rbac.authorization.k8s.io", "ClusterRole", false);
RES(R_SCALE, "autoscaling", "Scale", true);
RES(R_PDB, "policy", "PodDisruptionBudget", true);
static const struct gt_resource R_EVICTION = { .group = "policy", .version = "v1", .kind = "Eviction",
					       .verbs = GT_VERBS_CREATE_ONLY };
static const struct gt_resource R_SSAR = { .group = "authorization.k8s.io", .version = "v1",
					   .kind = "SelfSubjectAccessReview",
					   .verbs = GT_VERBS_CREATE_ONLY };
static const struct gt_resource R_CR = { .group = "kubeflow.org", .version = "v1", .kind = "PyTorchJob",
					 .namespaced = true, .custom = true };

static json_t *J(const char *s)
{
	json_error_t je;
	json_t *v = json_loads(s, JSON_ALLOW_NUL, &je);

	if (!v) {
		fprintf(stderr, "bad test JSON: %s: %s\n", je.text, s);
		abort();
	}
	return v;
}

/* Defaults (+ Job selector) then validation, as the API server does on create. */
static int create(const struct gt_resource *r, json_t *obj, struct gt_err *e)
{
	gt_defaults_apply(r, obj);
	if (r == &R_JOB)
		gt_defaults_job_selector(obj, "uid-1");
	return gt_validate(r, obj, NULL, e);
}

static int create_s(const struct gt_resource *r, const char *s, struct gt_err *e)
{
	json_t *obj = J(s);
	int rc = create(r, obj, e);

	json_decref(obj);
	return rc;
}

/* Update: both sides defaulted, new one completed from the old one. */
static int update_s(const struct gt_resource *r, const char *nw, const char *old, struct gt_err *e)
{
	json_t *n = J(nw), *o = J(old);
	int rc;

	gt_defaults_apply(r, o);
	if (r == &R_JOB)
		gt_defaults_job_selector(o, "uid-1");
	gt_defaults_apply(r, n);
	gt_defaults_update(r, n, o);
	rc = gt_validate(r, n, o, e);
	json_decref(n);
	json_decref(o);
	return rc;
}

static const struct gt_err_cause *cause(const struct gt_err *e, const char *field)
{
	for (int i = 0; i < e->ncauses; i++)
		if (!strcmp(e->causes[i].field, field))
			return &e->causes[i];
	return NULL;
}

/* The cause at fld exists and its message starts with prefix. */
static bool cause_starts(const struct gt_err *e, const char *fld, const char *prefix)
{
	const struct gt_err_cause *c = cause(e, fld);

	return c && !strncmp(c->message, prefix, strlen(prefix));
}

#define CHECK_CAUSE(e, fld, rsn, msg) do { const struct gt_err_cause *_c = cause(e, fld); \
	CHECK(_c != NULL); if (_c) { CHECK_STR(_c->reason, rsn); CHECK_STR(_c->message, msg); } } while (0)

#define POD(spec) "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\",\"namespace\":\"default\"},\"spec\":" spec "}"
#define C1 "{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]}"

static const char *S(const json_t *o, const char *path)
{
	return json_string_value(gt_json_path(o, path));
}

static long long I(const json_t *o, const char *path)
{
	return json_integer_value(gt_json_path(o, path));
}

/* ---- Pod ---- */

TEST(pod_defaults)
{
	json_t *p = J(POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":80}]},"
			  "{\"name\":\"d\",\"image\":\"reg:5000/x/nginx:1.25\"},{\"name\":\"e\",\"image\":\"a@sha256:00\"}]}"));
	struct gt_err e;
	json_t *c0;

	CHECK_INT(create(&R_POD, p, &e), 0);
	c0 = json_array_get(gt_json_path(p, "spec.containers"), 0);
	CHECK_STR(S(p, "spec.restartPolicy"), "Always");
	CHECK_STR(S(p, "spec.dnsPolicy"), "ClusterFirst");
	CHECK_INT(I(p, "spec.terminationGracePeriodSeconds"), 30);
	CHECK_STR(S(p, "spec.schedulerName"), "default-scheduler");
	CHECK_STR(S(p, "spec.serviceAccountName"), "default");
	CHECK_STR(S(p, "spec.serviceAccount"), "default");
	CHECK(json_is_true(gt_json_path(p, "spec.enableServiceLinks")));
	CHECK_INT(I(p, "spec.priority"), 0);
	CHECK(json_is_object(gt_json_path(p, "spec.securityContext")));
	CHECK_STR(S(c0, "imagePullPolicy"), "Always");
	CHECK_STR(S(json_array_get(gt_json_path(p, "spec.containers"), 1), "imagePullPolicy"), "IfNotPresent");
	CHECK_STR(S(json_array_get(gt_json_path(p, "spec.containers"), 2), "imagePullPolicy"), "IfNotPresent");
	CHECK_STR(S(c0, "terminationMessagePath"), "/dev/termination-log");
	CHECK_STR(S(c0, "terminationMessagePolicy"), "File");
	CHECK(json_is_object(gt_json_path(c0, "resources")));
	CHECK_STR(S(json_array_get(gt_json_path(c0, "ports"), 0), "protocol"), "TCP");
	CHECK_STR(S(p, "status.phase"), "Pending");
	CHECK_STR(S(p, "status.qosClass"), "BestEffort");
	json_decref(p);
}

TEST(pod_defaults_idempotent_and_validate_const)
{
	json_t *p = J(POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:latest\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}},"
			  "\"livenessProbe\":{\"httpGet\":{\"port\":8080}}}],\"volumes\":[{\"name\":\"v\"}]}"));
	json_t *once;
	char *before, *after;
	struct gt_err e;

	gt_defaults_apply(&R_POD, p);
	once = json_deep_copy(p);
	gt_defaults_apply(&R_POD, p);
	CHECK(json_equal(once, p));
	CHECK_STR(S(p, "status.qosClass"), "Guaranteed");
	CHECK_STR(json_string_value(gt_json_path(json_array_get(gt_json_path(p, "spec.containers"), 0),
						 "resources.requests.memory")), "1Gi");
	CHECK(json_is_object(gt_json_path(json_array_get(gt_json_path(p, "spec.volumes"), 0), "emptyDir")));
	CHECK_STR(S(json_array_get(gt_json_path(p, "spec.containers"), 0), "livenessProbe.httpGet.path"), "/");
	CHECK_INT(I(json_array_get(gt_json_path(p, "spec.containers"), 0), "livenessProbe.periodSeconds"), 10);
	before = gt_json_dump(p, NULL);
	CHECK_INT(gt_validate(&R_POD, p, NULL, &e), 0);
	after = gt_json_dump(p, NULL);
	CHECK_STR(after, before);
	free(before);
	free(after);
	json_decref(once);
	json_decref(p);
}

TEST(pod_image_required)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\"}]}"), &e), -EBADMSG);
	CHECK_STR(e.msg, "Pod \"p1\" is invalid: spec.containers[0].image: Required value");
	CHECK_INT(e.ncauses, 1);
	CHECK_CAUSE(&e, "spec.containers[0].image", "FieldValueRequired", "Required value");
	CHECK_INT(gt_err_http(e.code), 422);
}

TEST(pod_containers_required)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, POD("{}"), &e), -EBADMSG);
	CHECK_STR(e.msg, "Pod \"p1\" is invalid: spec.containers: Required value");
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[]}"), &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.containers", "FieldValueRequired", "Required value");
}

TEST(name_invalid)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":\"Foo_Bar\"},\"spec\":" C1 "}", &e), -EBADMSG);
	CHECK_STR(e.msg, "Pod \"Foo_Bar\" is invalid: metadata.name: Invalid value: \"Foo_Bar\": a lowercase RFC 1123 "
		  "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end "
		  "with an alphanumeric character (e.g. 'example.com', regex used for validation is "
		  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
	CHECK_STR(e.causes[0].field, "metadata.name");
	CHECK_STR(e.causes[0].reason, "FieldValueInvalid");
	CHECK(!strncmp(e.causes[0].message, "Invalid value: \"Foo_Bar\": a lowercase RFC 1123 subdomain", 56));
}

TEST(name_required_and_generate_name)
{
	struct gt_err e;
	char long_name[300];

	CHECK_INT(create_s(&R_POD, "{\"metadata\":{},\"spec\":" C1 "}", &e), -EBADMSG);
	CHECK_STR(e.msg, "Pod \"\" is invalid: metadata.name: Required value: name or generateName is required");
	CHECK_INT(create_s(&R_POD, "{\"spec\":" C1 "}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "metadata.name", "FieldValueRequired", "Required value: name or generateName is required");
	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"generateName\":\"web-\"},\"spec\":" C1 "}", &e), 0);
	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"generateName\":\"Web-\"},\"spec\":" C1 "}", &e), -EBADMSG);
	CHECK(cause(&e, "metadata.generateName") != NULL);
	memset(long_name, 'a', 254);
	long_name[254] = '\0';
	{
		char *s = xasprintf("{\"metadata\":{\"name\":\"%s\"},\"spec\":" C1 "}", long_name);

		CHECK_INT(create_s(&R_POD, s, &e), -EBADMSG);
		CHECK(strstr(e.msg, "aaa\": must be no more than 253 characters") != NULL);
		CHECK_INT(e.ncauses, 1);
		free(s);
	}
}

TEST(decode_errors_400)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":true},\"spec\":" C1 "}", &e), -EINVAL);
	CHECK_STR(e.msg, "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal bool into Go "
		  "struct field ObjectMeta.metadata.name of type string");
	CHECK_INT(gt_err_http(e.code), 400);
	CHECK_INT(e.ncauses, 0);
	CHECK_INT(create_s(&R_DEPLOY, "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"replicas\":\"3\"}}", &e), -EINVAL);
	CHECK_STR(e.msg, "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal "
		  "string into Go struct field DeploymentSpec.spec.replicas of type int32");
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":{}}"), &e), -EINVAL);
	CHECK(strstr(e.msg, "json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container"));
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":3.5}]}]}"), &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "cannot unmarshal number 3.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"));
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":3000000000}]}]}"), &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "number 3000000000 into"));
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[\"x\"]}"), &e), -EINVAL);
	CHECK(strstr(e.msg, "cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container"));
	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":1}},\"spec\":" C1 "}", &e), -EINVAL);
	CHECK(strstr(e.msg, "cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"));
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{\"limits\":{\"cpu\":\"abc\"}}}]}"), &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "quantities must match the regular expression"));
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"livenessProbe\":{\"httpGet\":{\"port\":true}}}]}"), &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "json: cannot unmarshal bool into Go value of type int32"));
	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":\"p\",\"creationTimestamp\":\"yesterday\"},\"spec\":" C1 "}", &e), -EINVAL);
	CHECK(strstr(e.msg, "parsing time \"yesterday\""));
	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":\"p\",\"creationTimestamp\":null},\"spec\":" C1 "}", &e), 0);
	CHECK_INT(create_s(&R_SECRET, "{\"metadata\":{\"name\":\"s\"},\"data\":{\"k\":\"ab!d\"}}", &e), -EINVAL);
	CHECK_STR(e.msg, "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 2");
	CHECK_INT(create_s(&R_SECRET, "{\"metadata\":{\"name\":\"s\"},\"data\":{\"k\":\"YWJj\\nZA==\"}}", &e), 0);
	CHECK_INT(create_s(&R_SECRET, "{\"metadata\":{\"name\":\"s\"},\"data\":{\"k\":\"YWJjZA\"}}", &e), -EINVAL);
	/* YAML 1.1 booleans: `name: Y` */
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":true,\"image\":\"x\"}]}"), &e), -EINVAL);
	CHECK(strstr(e.msg, "Go struct field Container.spec.containers.name of type string"));
}

TEST(non_object_body)
{
	struct gt_err e;
	json_t *a = J("[1]");

	CHECK_INT(gt_validate(&R_POD, a, NULL, &e), -EINVAL);
	CHECK(strstr(e.msg, "cannot unmarshal array"));
	CHECK_INT(gt_validate(&R_POD, NULL, NULL, &e), -EINVAL);
	gt_defaults_apply(&R_POD, a);
	gt_defaults_apply(NULL, a);
	json_decref(a);
}

TEST(container_ports)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":["
				       "{\"containerPort\":80,\"name\":\"http\"},{\"containerPort\":70000,\"protocol\":\"XTP\"},"
				       "{\"containerPort\":0},{\"containerPort\":81,\"name\":\"http\"},{\"containerPort\":82,\"name\":\"Bad--\"}]}]}"),
			    &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.containers[0].ports[1].containerPort", "FieldValueInvalid",
		    "Invalid value: 70000: must be between 1 and 65535, inclusive");
	CHECK_CAUSE(&e, "spec.containers[0].ports[1].protocol", "FieldValueNotSupported",
		    "Unsupported value: \"XTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
	CHECK_CAUSE(&e, "spec.containers[0].ports[2].containerPort", "FieldValueRequired", "Required value");
	CHECK_CAUSE(&e, "spec.containers[0].ports[3].name", "FieldValueDuplicate", "Duplicate value: \"http\"");
	CHECK_CAUSE(&e, "spec.containers[0].ports[4].name", "FieldValueInvalid",
		    "Invalid value: \"Bad--\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
	CHECK(!strncmp(e.msg, "Pod \"p1\" is invalid: [spec.containers[0].ports[1].containerPort: Invalid value: 70000: "
		       "must be between 1 and 65535, inclusive, ", 120));
	CHECK(e.msg[strlen(e.msg) - 1] == ']');
}

TEST(container_names)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\"},{\"name\":\"c\",\"image\":\"y\"},"
				       "{\"image\":\"z\"},{\"name\":\"A.b\",\"image\":\"z\"}],"
				       "\"initContainers\":[{\"name\":\"c\",\"image\":\"i\"}]}"), &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.containers[1].name", "FieldValueDuplicate", "Duplicate value: \"c\"");
	CHECK_CAUSE(&e, "spec.containers[2].name", "FieldValueRequired", "Required value");
	CHECK_CAUSE(&e, "spec.initContainers[0].name", "FieldValueDuplicate", "Duplicate value: \"c\"");
	CHECK(cause_starts(&e, "spec.containers[3].name",
			   "Invalid value: \"A.b\": a lowercase RFC 1123 label must consist of"));
}

TEST(volumes_and_mounts)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, POD("{\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}},{\"name\":\"data\",\"hostPath\":{}},"
				       "{\"name\":\"cm\",\"configMap\":{\"name\":\"x\"},\"secret\":{\"secretName\":\"s\"}}],"
				       "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":["
				       "{\"name\":\"data\",\"mountPath\":\"/d\"},{\"name\":\"nope\",\"mountPath\":\"/d\"},{\"name\":\"data\"}]}]}"),
			    &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.volumes[1].name", "FieldValueDuplicate", "Duplicate value: \"data\"");
	CHECK_CAUSE(&e, "spec.volumes[1].hostPath.path", "FieldValueRequired", "Required value");
	CHECK_CAUSE(&e, "spec.volumes[2].configMap", "FieldValueForbidden", "Forbidden: may not specify more than 1 volume type");
	CHECK_CAUSE(&e, "spec.containers[0].volumeMounts[1].name", "FieldValueNotFound", "Not found: \"nope\"");
	CHECK_CAUSE(&e, "spec.containers[0].volumeMounts[1].mountPath", "FieldValueInvalid", "Invalid value: \"/d\": must be unique");
	CHECK_CAUSE(&e, "spec.containers[0].volumeMounts[2].mountPath", "FieldValueRequired", "Required value");
	CHECK_INT(create_s(&R_POD, POD("{\"volumes\":[{\"name\":\"data\"}],\"containers\":[{\"name\":\"c\",\"image\":\"x\","
				       "\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/d\"}]}]}"), &e), 0);
}

TEST(restart_policy_env_probes)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, POD("{\"restartPolicy\":\"Sometimes\",\"dnsPolicy\":\"Weird\",\"containers\":[{\"name\":\"c\",\"image\":\"x\","
				       "\"env\":[{\"name\":\"A=B\"},{\"value\":\"x\"},{\"name\":\"A\",\"valueFrom\":{}}],"
				       "\"livenessProbe\":{\"periodSeconds\":-1},\"readinessProbe\":{\"exec\":{\"command\":[\"true\"]},\"tcpSocket\":{\"port\":80}}}]}"),
			    &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.restartPolicy", "FieldValueNotSupported",
		    "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
	CHECK(cause(&e, "spec.dnsPolicy") != NULL);
	CHECK_CAUSE(&e, "spec.containers[0].env[0].name", "FieldValueInvalid",
		    "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='");
	CHECK_CAUSE(&e, "spec.containers[0].env[1].name", "FieldValueRequired", "Required value");
	CHECK_CAUSE(&e, "spec.containers[0].env[2].valueFrom", "FieldValueInvalid",
		    "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
	CHECK_CAUSE(&e, "spec.containers[0].livenessProbe", "FieldValueRequired", "Required value: must specify a handler type");
	CHECK_CAUSE(&e, "spec.containers[0].livenessProbe.periodSeconds", "FieldValueInvalid",
		    "Invalid value: -1: must be greater than or equal to 0");
	CHECK_CAUSE(&e, "spec.containers[0].readinessProbe.tcpSocket", "FieldValueForbidden",
		    "Forbidden: may not specify more than 1 handler type");
}

TEST(resources)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{"
				       "\"limits\":{\"cpu\":\"1\",\"memory\":\"-1Gi\"},\"requests\":{\"cpu\":\"2\",\"gpu\":\"1\"}}}]}"), &e),
		  -EBADMSG);
	CHECK_CAUSE(&e, "spec.containers[0].resources.requests", "FieldValueInvalid",
		    "Invalid value: \"2\": must be less than or equal to cpu limit of 1");
	CHECK_CAUSE(&e, "spec.containers[0].resources.limits[memory]", "FieldValueInvalid",
		    "Invalid value: \"-1Gi\": must be greater than or equal to 0");
	CHECK_CAUSE(&e, "spec.containers[0].resources.requests[gpu]", "FieldValueInvalid",
		    "Invalid value: \"gpu\": must be a standard resource for containers");
	/* extended resources: requests == limits, whole numbers; Pod requests default to limits */
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{"
				       "\"limits\":{\"nvidia.com/gpu\":1,\"cpu\":\"500m\"}}}]}"), &e), 0);
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{"
				       "\"requests\":{\"nvidia.com/gpu\":\"1\"}}}]}"), &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.containers[0].resources.limits", "FieldValueRequired",
		    "Required value: Limit must be set for non overcommitable resources");
	CHECK_INT(create_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{"
				       "\"requests\":{\"nvidia.com/gpu\":\"500m\"},\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}"), &e),
		  -EBADMSG);
	CHECK_CAUSE(&e, "spec.containers[0].resources.requests[nvidia.com/gpu]", "FieldValueInvalid",
		    "Invalid value: \"500m\": must be an integer");
	CHECK_CAUSE(&e, "spec.containers[0].resources.requests", "FieldValueInvalid",
		    "Invalid value: \"500m\": must be equal to nvidia.com/gpu limit of 1");
}

TEST(labels_annotations_tolerations)
{
	struct gt_err e;
	char *big = xmalloc(300 * 1024), *s;

	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"Bad_NS\",\"labels\":{\"-bad\":\"ok\",\"good\":\"bad value\","
			   "\"a/b/c\":\"x\",\"example.com/x\":\"y\"}},\"spec\":{\"nodeSelector\":{\"k\":\"in valid\"},"
			   "\"tolerations\":[{\"operator\":\"Equal\",\"value\":\"x\"},{\"key\":\"k\",\"operator\":\"Maybe\"},"
			   "{\"key\":\"k\",\"effect\":\"Sometimes\"}],\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}", &e), -EBADMSG);
	CHECK(cause_starts(&e, "metadata.namespace", "Invalid value: \"Bad_NS\": a lowercase RFC 1123 label"));
	CHECK(strstr(e.msg, "metadata.labels: Invalid value: \"-bad\": name part must consist of alphanumeric characters, "
		     "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
		     "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"));
	CHECK(strstr(e.msg, "metadata.labels: Invalid value: \"bad value\": a valid label must be an empty string or consist"));
	CHECK(strstr(e.msg, "metadata.labels: Invalid value: \"a/b/c\": a valid label key must consist of"));
	CHECK(cause_starts(&e, "spec.nodeSelector", "Invalid value: \"in valid\": a valid label must be"));
	CHECK(cause_starts(&e, "spec.tolerations[0].operator",
			   "Invalid value: \"Equal\": operator must be Exists when `key` is empty"));
	CHECK_CAUSE(&e, "spec.tolerations[1].operator", "FieldValueNotSupported",
		    "Unsupported value: \"Maybe\": supported values: \"Equal\", \"Exists\"");
	CHECK(cause(&e, "spec.tolerations[2].effect") != NULL);
	memset(big, 'x', 300 * 1024 - 1);
	big[300 * 1024 - 1] = '\0';
	s = xasprintf("{\"metadata\":{\"name\":\"p\",\"annotations\":{\"a\":\"%s\"}},\"spec\":" C1 "}", big);
	CHECK_INT(create_s(&R_POD, s, &e), -EBADMSG);
	CHECK_CAUSE(&e, "metadata.annotations", "FieldValueTooLong", "Too long: must have at most 262144 bytes");
	free(s);
	free(big);
}

TEST(utf8_safe_truncation)
{
	struct gt_err e;
	struct gt_buf b = GT_BUF_INIT;
	json_t *s;

	gt_buf_adds(&b, "{\"metadata\":{\"name\":\"");
	for (int i = 0; i < 400; i++)
		gt_buf_adds(&b, "\xc3\xa9");
	gt_buf_adds(&b, "\"},\"spec\":" C1 "}");
	CHECK_INT(create_s(&R_POD, b.data, &e), -EBADMSG);
	s = json_string(e.msg);
	CHECK(s != NULL);
	json_decref(s);
	s = json_string(e.causes[0].message);
	CHECK(s != NULL);
	json_decref(s);
	gt_buf_release(&b);
}

TEST(pod_update)
{
	struct gt_err e;
	const char *old = POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}],\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}");

	CHECK_INT(update_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:2\"}],"
				       "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"},{\"key\":\"b\",\"operator\":\"Exists\"}],"
				       "\"activeDeadlineSeconds\":5}"), old, &e), 0);
	CHECK_INT(update_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\",\"ports\":[{\"containerPort\":1}]}],"
				       "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}"), old, &e), -EBADMSG);
	CHECK_STR(e.msg, "Pod \"p1\" is invalid: spec: Forbidden: pod updates may not change fields other than "
		  "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
		  "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
		  "(allow it to be set to 1 if it was previously negative)");
	CHECK_INT(update_s(&R_POD, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}"), old, &e), -EBADMSG);
	/* binding: nodeName may be set once, not changed */
	CHECK_INT(update_s(&R_POD, POD("{\"nodeName\":\"node1\",\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}],"
				       "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}"), old, &e), 0);
	CHECK_INT(update_s(&R_POD, POD("{\"nodeName\":\"node2\",\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}],"
				       "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}"),
			   POD("{\"nodeName\":\"node1\",\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}],"
			       "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}"), &e), -EBADMSG);
	/* labels may change */
	CHECK_INT(update_s(&R_POD, "{\"metadata\":{\"name\":\"p1\",\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}],"
			   "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}}", old, &e), 0);
}

/* ---- Service ---- */

#define SVC(spec) "{\"metadata\":{\"name\":\"web\"},\"spec\":" spec "}"

TEST(service_defaults)
{
	struct gt_err e;
	json_t *s = J(SVC("{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"name\":\"a\"},{\"port\":443,\"targetPort\":\"https\",\"name\":\"b\"}]}"));
	CHECK_INT(create(&R_SVC, s, &e), 0);
	CHECK_STR(S(s, "spec.type"), "ClusterIP");
	CHECK_STR(S(s, "spec.sessionAffinity"), "None");
	CHECK_STR(S(json_array_get(gt_json_path(s, "spec.ports"), 0), "protocol"), "TCP");
	CHECK_INT(I(json_array_get(gt_json_path(s, "spec.ports"), 0), "targetPort"), 80);
	CHECK_STR(S(json_array_get(gt_json_path(s, "spec.ports"), 1), "targetPort"), "https");
	CHECK_STR(S(s, "spec.ipFamilyPolicy"), "SingleStack");
	CHECK_STR(json_string_value(json_array_get(gt_json_path(s, "spec.ipFamilies"), 0)), "IPv4");
	CHECK(gt_json_path(s, "spec.clusterIP") == NULL);
	json_decref(s);
}

TEST(service_invalid)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_SVC, "{\"metadata\":{\"name\":\"1web\"},\"spec\":{\"type\":\"Magic\",\"ports\":[{\"port\":80},{\"port\":0,\"protocol\":\"ICMP\"},"
			   "{\"port\":80,\"name\":\"dup\"}],\"clusterIP\":\"10.0.0.300\"}}", &e), -EBADMSG);
	CHECK(cause_starts(&e, "metadata.name", "Invalid value: \"1web\": a DNS-1035 label must consist of lower "
		       "case alphanumeric characters or '-', start with an alphabetic character"));
	CHECK_CAUSE(&e, "spec.ports[0].name", "FieldValueRequired", "Required value");
	CHECK_CAUSE(&e, "spec.ports[1].port", "FieldValueInvalid", "Invalid value: 0: must be between 1 and 65535, inclusive");
	CHECK_CAUSE(&e, "spec.ports[1].protocol", "FieldValueNotSupported",
		    "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
	CHECK(cause(&e, "spec.ports[2]") != NULL);
	CHECK_STR(cause(&e, "spec.ports[2]")->reason, "FieldValueDuplicate");
	CHECK_CAUSE(&e, "spec.type", "FieldValueNotSupported",
		    "Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"");
	CHECK(cause(&e, "spec.clusterIPs[0]") != NULL);
	CHECK_INT(create_s(&R_SVC, SVC("{}"), &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.ports", "FieldValueRequired", "Required value");
	CHECK_INT(create_s(&R_SVC, SVC("{\"clusterIP\":\"None\"}"), &e), 0);
	CHECK_INT(create_s(&R_SVC, SVC("{\"type\":\"ExternalName\"}"), &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.externalName", "FieldValueRequired", "Required value");
	CHECK_INT(create_s(&R_SVC, SVC("{\"type\":\"ExternalName\",\"externalName\":\"example.com.\"}"), &e), 0);
	CHECK_INT(create_s(&R_SVC, SVC("{\"ports\":[{\"port\":80,\"nodePort\":30001}]}"), &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.ports[0].nodePort", "FieldValueForbidden", "Forbidden: may not be used when `type` is 'ClusterIP'");
}

TEST(service_update)
{
	struct gt_err e;
	const char *old = SVC("{\"ports\":[{\"port\":80}],\"clusterIP\":\"10.96.0.10\",\"clusterIPs\":[\"10.96.0.10\"]}");
	json_t *n = J(SVC("{\"ports\":[{\"port\":80}]}")), *o = J(old);

	CHECK_INT(update_s(&R_SVC, SVC("{\"ports\":[{\"port\":81}]}"), old, &e), 0);
	CHECK_INT(update_s(&R_SVC, SVC("{\"ports\":[{\"port\":80}],\"clusterIP\":\"10.96.0.11\"}"), old, &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.clusterIPs[0]", "FieldValueInvalid", "Invalid value: \"10.96.0.11\": may not change once set");
	gt_defaults_apply(&R_SVC, n);
	gt_defaults_update(&R_SVC, n, o);
	CHECK_STR(S(n, "spec.clusterIP"), "10.96.0.10");
	CHECK(json_is_array(gt_json_path(n, "spec.clusterIPs")));
	json_decref(n);
	json_decref(o);
	n = J(SVC("{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}"));
	o = J(SVC("{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"protocol\":\"TCP\",\"nodePort\":30080}],\"clusterIP\":\"10.0.0.1\"}"));
	gt_defaults_apply(&R_SVC, n);
	gt_defaults_update(&R_SVC, n, o);
	CHECK_INT(I(json_array_get(gt_json_path(n, "spec.ports"), 0), "nodePort"), 30080);
	CHECK_STR(S(n, "spec.externalTrafficPolicy"), "Cluster");
	json_decref(n);
	json_decref(o);
}

/* ---- apps ---- */

#define DEPLOY(spec) "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},\"spec\":" spec "}"
#define TMPL(labels) "\"template\":{\"metadata\":{\"labels\":" labels "},\"spec\":" C1 "}"

TEST(deployment_defaults)
{
	json_t *d = J(DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TMPL("{\"app\":\"web\"}") "}"));
	struct gt_err e;

	CHECK_INT(create(&R_DEPLOY, d, &e), 0);
	CHECK_INT(I(d, "spec.replicas"), 1);
	CHECK_STR(S(d, "spec.strategy.type"), "RollingUpdate");
	CHECK_STR(S(d, "spec.strategy.rollingUpdate.maxSurge"), "25%");
	CHECK_STR(S(d, "spec.strategy.rollingUpdate.maxUnavailable"), "25%");
	CHECK_INT(I(d, "spec.revisionHistoryLimit"), 10);
	CHECK_INT(I(d, "spec.progressDeadlineSeconds"), 600);
	CHECK_STR(S(d, "spec.template.spec.restartPolicy"), "Always");
	CHECK_STR(S(json_array_get(gt_json_path(d, "spec.template.spec.containers"), 0), "imagePullPolicy"), "Always");
	/* template-only: no serviceAccountName, no status */
	CHECK(gt_json_path(d, "spec.template.spec.serviceAccountName") == NULL);
	CHECK(gt_json_path(d, "status") == NULL);
	json_decref(d);
	d = J(DEPLOY("{\"strategy\":{\"type\":\"Recreate\"},\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TMPL("{\"app\":\"web\"}") "}"));
	CHECK_INT(create(&R_DEPLOY, d, &e), 0);
	CHECK(gt_json_path(d, "spec.strategy.rollingUpdate") == NULL);
	json_decref(d);
}

TEST(deployment_invalid)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_DEPLOY, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"other\"}}," TMPL("{\"app\":\"web\"}") "}"), &e),
		  -EBADMSG);
	CHECK_STR(e.msg, "Deployment.apps \"web\" is invalid: spec.template.metadata.labels: Invalid value: "
		  "map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`");
	CHECK_INT(create_s(&R_DEPLOY, DEPLOY("{" TMPL("{\"app\":\"web\",\"tier\":\"a\"}") "}"), &e), -EBADMSG);
	CHECK_STR(e.msg, "Deployment.apps \"web\" is invalid: [spec.selector: Required value, spec.template.metadata.labels: "
		  "Invalid value: map[string]string{\"app\":\"web\", \"tier\":\"a\"}: `selector` does not match template `labels`]");
	CHECK_INT(create_s(&R_DEPLOY, DEPLOY("{\"replicas\":-1,\"selector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\","
					     "\"values\":[\"web\",\"x\"]}]},\"strategy\":{\"rollingUpdate\":{\"maxSurge\":0,\"maxUnavailable\":\"0%\"}},"
					     TMPL("{\"app\":\"web\"}") "}"), &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.replicas", "FieldValueInvalid", "Invalid value: -1: must be greater than or equal to 0");
	CHECK_CAUSE(&e, "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
		    "Invalid value: 0%: may not be 0 when `maxSurge` is 0");
	CHECK_INT(e.ncauses, 2);
	CHECK_INT(create_s(&R_DEPLOY, DEPLOY("{\"selector\":{},\"strategy\":{\"type\":\"Blue\"}," TMPL("{\"app\":\"web\"}") "}"), &e),
		  -EBADMSG);
	CHECK_CAUSE(&e, "spec.selector", "FieldValueInvalid",
		    "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
		    "empty selector is invalid for deployment");
	CHECK(cause_starts(&e, "spec.strategy", "Unsupported value: apps.DeploymentStrategy{Type:\"Blue\""));
	CHECK_INT(create_s(&R_DEPLOY, DEPLOY("{\"selector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Near\"}]},"
					     TMPL("{\"app\":\"web\"}") "}"), &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.selector.matchExpressions[0].operator", "FieldValueInvalid",
		    "Invalid value: \"Near\": not a valid selector operator");
	CHECK_INT(create_s(&R_DEPLOY, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":"
					     "{\"labels\":{\"app\":\"web\"}},\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}"),
			    &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.template.spec.restartPolicy", "FieldValueNotSupported",
		    "Unsupported value: \"Never\": supported values: \"Always\"");
	CHECK_INT(create_s(&R_DEPLOY, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":"
					     "{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}"), &e), -EBADMSG);
	CHECK_STR(e.msg, "Deployment.apps \"web\" is invalid: spec.template.spec.containers[0].image: Required value");
}

TEST(deployment_update_selector_immutable)
{
	struct gt_err e;
	const char *old = DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TMPL("{\"app\":\"web\"}") "}");

	CHECK_INT(update_s(&R_DEPLOY, DEPLOY("{\"replicas\":5,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TMPL("{\"app\":\"web\"}") "}"),
			   old, &e), 0);
	CHECK_INT(update_s(&R_DEPLOY, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"nginx2\"}}," TMPL("{\"app\":\"nginx2\"}") "}"),
			   old, &e), -EBADMSG);
	CHECK_STR(e.msg, "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:"
		  "map[string]string{\"app\":\"nginx2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable");
}

TEST(replicaset_statefulset_daemonset)
{
	struct gt_err e;
	json_t *o;

	CHECK_INT(create_s(&R_RS, "{\"metadata\":{\"name\":\"rs\"},\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}}," TMPL("{\"a\":\"b\"}") "}}", &e), 0);
	o = J("{\"metadata\":{\"name\":\"ss\"},\"spec\":{\"serviceName\":\"s\",\"selector\":{\"matchLabels\":{\"a\":\"b\"}}," TMPL("{\"a\":\"b\"}")
	      ",\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"d\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"]}}]}}");
	CHECK_INT(create(&R_STS, o, &e), 0);
	CHECK_STR(S(o, "spec.podManagementPolicy"), "OrderedReady");
	CHECK_STR(S(o, "spec.updateStrategy.type"), "RollingUpdate");
	CHECK_INT(I(o, "spec.updateStrategy.rollingUpdate.partition"), 0);
	CHECK_INT(I(o, "spec.replicas"), 1);
	CHECK_INT(I(o, "spec.revisionHistoryLimit"), 10);
	CHECK_STR(S(json_array_get(gt_json_path(o, "spec.volumeClaimTemplates"), 0), "spec.volumeMode"), "Filesystem");
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"ds\"},\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}}," TMPL("{\"a\":\"b\"}") "}}");
	CHECK_INT(create(&R_DS, o, &e), 0);
	CHECK_STR(S(o, "spec.updateStrategy.type"), "RollingUpdate");
	CHECK_INT(I(o, "spec.updateStrategy.rollingUpdate.maxUnavailable"), 1);
	CHECK_INT(I(o, "spec.updateStrategy.rollingUpdate.maxSurge"), 0);
	CHECK_INT(I(o, "spec.revisionHistoryLimit"), 10);
	json_decref(o);
	CHECK_INT(create_s(&R_STS, "{\"metadata\":{\"name\":\"ss\"},\"spec\":{\"podManagementPolicy\":\"Random\",\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
			   TMPL("{\"a\":\"c\"}") "}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.podManagementPolicy", "FieldValueInvalid",
		    "Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'");
	CHECK(cause(&e, "spec.template.metadata.labels") != NULL);
	CHECK_INT(update_s(&R_STS, "{\"metadata\":{\"name\":\"ss\"},\"spec\":{\"serviceName\":\"t\",\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
			   TMPL("{\"a\":\"b\"}") "}}",
			   "{\"metadata\":{\"name\":\"ss\"},\"spec\":{\"serviceName\":\"s\",\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
			   TMPL("{\"a\":\"b\"}") "}}", &e), -EBADMSG);
	CHECK(cause_starts(&e, "spec", "Forbidden: updates to statefulset spec for fields other than"));
	CHECK_INT(update_s(&R_STS, "{\"metadata\":{\"name\":\"ss\"},\"spec\":{\"replicas\":3,\"serviceName\":\"s\",\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
			   TMPL("{\"a\":\"b\"}") "}}",
			   "{\"metadata\":{\"name\":\"ss\"},\"spec\":{\"serviceName\":\"s\",\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
			   TMPL("{\"a\":\"b\"}") "}}", &e), 0);
	/* mounts may name a volumeClaimTemplate (the controller adds the volume), nothing else */
#define STS_MOUNT(claim) "{\"metadata\":{\"name\":\"ss\"},\"spec\":{\"serviceName\":\"s\",\"selector\":{\"matchLabels\":{\"a\":\"b\"}}," \
	"\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"," \
	"\"volumeMounts\":[{\"name\":\"d\",\"mountPath\":\"/d\"}]}]}},\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"" claim "\"}," \
	"\"spec\":{\"accessModes\":[\"ReadWriteOnce\"]}}]}}"
	CHECK_INT(create_s(&R_STS, STS_MOUNT("d"), &e), 0);
	CHECK_INT(create_s(&R_STS, STS_MOUNT("other"), &e), -EBADMSG);
	CHECK(cause(&e, "spec.template.spec.containers[0].volumeMounts[0].name") != NULL);
#undef STS_MOUNT
	CHECK_INT(create_s(&R_DS, "{\"metadata\":{\"name\":\"ds\"},\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"maxUnavailable\":0}},"
			   "\"selector\":{\"matchLabels\":{\"a\":\"b\"}}," TMPL("{\"a\":\"b\"}") "}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.updateStrategy.rollingUpdate.maxUnavailable", "FieldValueRequired",
		    "Required value: cannot be 0 when maxSurge is 0");
}

/* ---- batch ---- */

#define JOB(spec) "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"pi\"},\"spec\":" spec "}"
#define JTMPL "\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"pi\",\"image\":\"perl\"}]}}"

TEST(job_defaults_and_selector)
{
	json_t *j = J(JOB("{" JTMPL "}"));
	struct gt_err e;

	CHECK_INT(create(&R_JOB, j, &e), 0);
	CHECK_INT(I(j, "spec.parallelism"), 1);
	CHECK_INT(I(j, "spec.completions"), 1);
	CHECK_INT(I(j, "spec.backoffLimit"), 6);
	CHECK_STR(S(j, "spec.completionMode"), "NonIndexed");
	CHECK(json_is_false(gt_json_path(j, "spec.suspend")));
	CHECK_STR(json_string_value(json_object_get(gt_json_path(j, "spec.selector.matchLabels"),
						    "batch.kubernetes.io/controller-uid")), "uid-1");
	CHECK_INT(json_object_size(gt_json_path(j, "spec.selector.matchLabels")), 1);
	CHECK_STR(json_string_value(json_object_get(gt_json_path(j, "spec.template.metadata.labels"), "controller-uid")), "uid-1");
	CHECK_STR(json_string_value(json_object_get(gt_json_path(j, "spec.template.metadata.labels"),
						    "batch.kubernetes.io/controller-uid")), "uid-1");
	CHECK_STR(json_string_value(json_object_get(gt_json_path(j, "spec.template.metadata.labels"), "job-name")), "pi");
	CHECK_STR(json_string_value(json_object_get(gt_json_path(j, "spec.template.metadata.labels"),
						    "batch.kubernetes.io/job-name")), "pi");
	/* restartPolicy of a Job template is not defaulted */
	CHECK_STR(S(j, "spec.template.spec.restartPolicy"), "Never");
	json_decref(j);

	/* parallelism alone: completions stays unset (work queue) */
	j = J(JOB("{\"parallelism\":3," JTMPL "}"));
	CHECK_INT(create(&R_JOB, j, &e), 0);
	CHECK(gt_json_path(j, "spec.completions") == NULL);
	json_decref(j);

	/* the Job's own labels come from the template and follow it */
	j = J(JOB("{\"template\":{\"metadata\":{\"labels\":{\"app\":\"pi\"}},\"spec\":{\"restartPolicy\":\"OnFailure\","
		  "\"containers\":[{\"name\":\"pi\",\"image\":\"perl\"}]}}}"));
	CHECK_INT(create(&R_JOB, j, &e), 0);
	CHECK_STR(json_string_value(json_object_get(gt_json_path(j, "metadata.labels"), "app")), "pi");
	CHECK_STR(json_string_value(json_object_get(gt_json_path(j, "metadata.labels"), "job-name")), "pi");
	json_decref(j);

	/* manualSelector: left alone */
	j = J(JOB("{\"manualSelector\":true,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},"
		  "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"pi\",\"image\":\"perl\"}]}}}"));
	CHECK_INT(create(&R_JOB, j, &e), 0);
	CHECK_INT(json_object_size(gt_json_path(j, "spec.template.metadata.labels")), 1);
	json_decref(j);
}

TEST(job_invalid)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_JOB, JOB("{\"template\":{\"spec\":{\"containers\":[{\"name\":\"pi\",\"image\":\"perl\"}]}}}"), &e), -EBADMSG);
	CHECK_STR(e.msg, "Job.batch \"pi\" is invalid: spec.template.spec.restartPolicy: Unsupported value: \"Always\": "
		  "supported values: \"OnFailure\", \"Never\"");
	CHECK_INT(create_s(&R_JOB, JOB("{\"parallelism\":-1,\"backoffLimit\":-2,\"completionMode\":\"Sometimes\"," JTMPL "}"), &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.parallelism", "FieldValueInvalid", "Invalid value: -1: must be greater than or equal to 0");
	CHECK_CAUSE(&e, "spec.backoffLimit", "FieldValueInvalid", "Invalid value: -2: must be greater than or equal to 0");
	CHECK_CAUSE(&e, "spec.completionMode", "FieldValueNotSupported",
		    "Unsupported value: \"Sometimes\": supported values: \"NonIndexed\", \"Indexed\"");
	/* without the generated selector */
	{
		json_t *j = J(JOB("{" JTMPL "}"));

		gt_defaults_apply(&R_JOB, j);
		CHECK_INT(gt_validate(&R_JOB, j, NULL, &e), -EBADMSG);
		CHECK_CAUSE(&e, "spec.selector", "FieldValueRequired", "Required value");
		json_decref(j);
	}
	/* a selector the user wrote without manualSelector */
	{
		json_t *j = J("{\"metadata\":{\"name\":\"pi\",\"uid\":\"uid-1\"},\"spec\":{\"selector\":{\"matchLabels\":{\"x\":\"y\"}},"
			      "\"template\":{\"metadata\":{\"labels\":{\"x\":\"y\"}},\"spec\":{\"restartPolicy\":\"Never\","
			      "\"containers\":[{\"name\":\"pi\",\"image\":\"perl\"}]}}}}");

		CHECK_INT(create(&R_JOB, j, &e), -EBADMSG);
		CHECK(cause_starts(&e, "spec.selector", "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"
				   "\"batch.kubernetes.io/controller-uid\":\"uid-1\", \"x\":\"y\"}"));
		CHECK(strstr(e.msg, "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated") != NULL);
		json_decref(j);
	}
}

TEST(job_update)
{
	struct gt_err e;
	const char *old = JOB("{" JTMPL "}");
	json_t *o = J(old), *n;

	gt_defaults_apply(&R_JOB, o);
	gt_defaults_job_selector(o, "uid-1");
	n = json_deep_copy(o);
	json_object_set_new(gt_json_path(n, "metadata"), "labels", json_pack("{s:s}", "x", "y"));
	CHECK_INT(gt_validate(&R_JOB, n, o, &e), 0);
	json_object_set_new(gt_json_path(n, "spec.template.spec"), "activeDeadlineSeconds", json_integer(5));
	json_object_set_new(gt_json_path(n, "spec.selector.matchLabels"), "extra", json_string("1"));
	CHECK_INT(gt_validate(&R_JOB, n, o, &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.template", "FieldValueInvalid", "Invalid value: core.PodTemplateSpec{...}: field is immutable");
	CHECK(cause(&e, "spec.selector") && strstr(cause(&e, "spec.selector")->message, "field is immutable"));
	/* suspended jobs may change their template */
	json_object_set_new(gt_json_path(o, "spec"), "suspend", json_true());
	json_object_set_new(gt_json_path(n, "spec"), "selector", json_deep_copy(gt_json_path(o, "spec.selector")));
	CHECK_INT(gt_validate(&R_JOB, n, o, &e), 0);
	json_decref(o);
	json_decref(n);
}

TEST(cronjob)
{
	struct gt_err e;
	json_t *c = J("{\"metadata\":{\"name\":\"hello\"},\"spec\":{\"schedule\":\"*/5 * * * *\",\"jobTemplate\":{\"spec\":{" JTMPL "}}}}");

	CHECK_INT(create(&R_CRON, c, &e), 0);
	CHECK_STR(S(c, "spec.concurrencyPolicy"), "Allow");
	CHECK(json_is_false(gt_json_path(c, "spec.suspend")));
	CHECK_INT(I(c, "spec.successfulJobsHistoryLimit"), 3);
	CHECK_INT(I(c, "spec.failedJobsHistoryLimit"), 1);
	json_decref(c);
	CHECK_INT(create_s(&R_CRON, "{\"metadata\":{\"name\":\"hello\"},\"spec\":{\"schedule\":\"* * *\",\"concurrencyPolicy\":\"Sometimes\","
			   "\"jobTemplate\":{\"spec\":{" JTMPL "}}}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.schedule", "FieldValueInvalid", "Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]");
	CHECK_CAUSE(&e, "spec.concurrencyPolicy", "FieldValueNotSupported",
		    "Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"");
	CHECK_INT(create_s(&R_CRON, "{\"metadata\":{\"name\":\"hello\"},\"spec\":{\"schedule\":\"0 70 * * *\",\"jobTemplate\":{\"spec\":{" JTMPL "}}}}", &e),
		  -EBADMSG);
	CHECK_CAUSE(&e, "spec.schedule", "FieldValueInvalid", "Invalid value: \"0 70 * * *\": end of range (70) above maximum (23): 70");
	CHECK_INT(create_s(&R_CRON, "{\"metadata\":{\"name\":\"hello\"},\"spec\":{\"schedule\":\"0 0 * JAN,jul MON-FRI\",\"jobTemplate\":{\"spec\":{" JTMPL "}}}}", &e), 0);
	CHECK_INT(create_s(&R_CRON, "{\"metadata\":{\"name\":\"hello\"},\"spec\":{\"schedule\":\"@hourly\",\"jobTemplate\":{\"spec\":{" JTMPL "}}}}", &e), 0);
	CHECK_INT(create_s(&R_CRON, "{\"metadata\":{\"name\":\"hello\"},\"spec\":{\"schedule\":\"@sometimes\",\"jobTemplate\":{\"spec\":{\"template\":"
			   "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.schedule", "FieldValueInvalid", "Invalid value: \"@sometimes\": unrecognized descriptor: @sometimes");
	CHECK_CAUSE(&e, "spec.jobTemplate.spec.template.spec.restartPolicy", "FieldValueNotSupported",
		    "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"");
}

TEST(job_pod_failure_policy_and_time_zone)
{
	struct gt_err e;
	json_t *j = J("{\"metadata\":{\"name\":\"j\"},\"spec\":{" JTMPL ",\"podFailurePolicy\":{\"rules\":["
		      "{\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]}]}}}");

	CHECK_INT(create(&R_JOB, j, &e), 0);
	/* defaulted: status True */
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(
		  gt_json_path(j, "spec.podFailurePolicy.rules"), 0), "onPodConditions"), 0), "status")), "True");
	json_decref(j);
	CHECK_INT(create_s(&R_JOB, "{\"metadata\":{\"name\":\"j\"},\"spec\":{" JTMPL ",\"podFailurePolicy\":{\"rules\":["
			   "{\"action\":\"Stop\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[1]},"
			   "\"onPodConditions\":[{\"type\":\"X\"}]},"
			   "{\"action\":\"Count\"},"
			   "{\"action\":\"FailJob\",\"onExitCodes\":{\"containerName\":\"nope\",\"operator\":\"NotIn\",\"values\":[3,2,2]}}]}}}",
			   &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.podFailurePolicy.rules[0].action", "FieldValueNotSupported",
		    "Unsupported value: \"Stop\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"");
	CHECK(cause(&e, "spec.podFailurePolicy.rules[0]") &&
	      strstr(cause(&e, "spec.podFailurePolicy.rules[0]")->message, "specifying both OnExitCodes and OnPodConditions is not supported"));
	CHECK(cause(&e, "spec.podFailurePolicy.rules[1]") &&
	      strstr(cause(&e, "spec.podFailurePolicy.rules[1]")->message, "specifying one of OnExitCodes and OnPodConditions is required"));
	CHECK_CAUSE(&e, "spec.podFailurePolicy.rules[2].onExitCodes.containerName", "FieldValueInvalid",
		    "Invalid value: \"nope\": must be one of the container or initContainer names in the pod template");
	CHECK_CAUSE(&e, "spec.podFailurePolicy.rules[2].onExitCodes.values[1]", "FieldValueInvalid",
		    "Invalid value: 2: must be ordered");
	CHECK_CAUSE(&e, "spec.podFailurePolicy.rules[2].onExitCodes.values[2]", "FieldValueDuplicate", "Duplicate value: 2");
	CHECK_INT(create_s(&R_CRON, "{\"metadata\":{\"name\":\"c\"},\"spec\":{\"schedule\":\"@daily\",\"timeZone\":\"Europe/Paris\","
			   "\"jobTemplate\":{\"spec\":{" JTMPL "}}}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.timeZone", "FieldValueInvalid",
		    "Invalid value: \"Europe/Paris\": only UTC (or Etc/UTC) is supported by this server: write the schedule in UTC");
	CHECK_INT(create_s(&R_CRON, "{\"metadata\":{\"name\":\"c\"},\"spec\":{\"schedule\":\"@daily\",\"timeZone\":\"Etc/UTC\","
			   "\"jobTemplate\":{\"spec\":{" JTMPL "}}}}", &e), 0);
}

/* ---- config ---- */

TEST(configmap)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_CM, "{\"metadata\":{\"name\":\"c\"},\"data\":{\"good.key\":\"v\",\"a b\":\"v\",\"..x\":\"v\"}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "data[a b]", "FieldValueInvalid",
		    "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
		    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
	CHECK_CAUSE(&e, "data[..x]", "FieldValueInvalid", "Invalid value: \"..x\": must not start with '..'");
	CHECK_INT(update_s(&R_CM, "{\"metadata\":{\"name\":\"c\"},\"immutable\":true,\"data\":{\"k\":\"2\"}}",
			   "{\"metadata\":{\"name\":\"c\"},\"immutable\":true,\"data\":{\"k\":\"1\"}}", &e), -EBADMSG);
	CHECK_STR(e.msg, "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set");
	CHECK_INT(update_s(&R_CM, "{\"metadata\":{\"name\":\"c\"},\"data\":{\"k\":\"2\"}}",
			   "{\"metadata\":{\"name\":\"c\"},\"data\":{\"k\":\"1\"}}", &e), 0);
}

TEST(secret)
{
	struct gt_err e;
	json_t *s = J("{\"metadata\":{\"name\":\"s\"},\"data\":{\"a\":\"eA==\"},\"stringData\":{\"user\":\"admin\",\"a\":\"y\"}}");

	CHECK_INT(create(&R_SECRET, s, &e), 0);
	CHECK_STR(S(s, "type"), "Opaque");
	CHECK_STR(S(s, "data.user"), "YWRtaW4=");
	CHECK_STR(S(s, "data.a"), "eQ==");
	CHECK(gt_json_path(s, "stringData") == NULL);
	json_decref(s);
	CHECK_INT(create_s(&R_SECRET, "{\"metadata\":{\"name\":\"s\"},\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"\"}}", &e), -EBADMSG);
	CHECK_STR(e.msg, "Secret \"s\" is invalid: data[tls.key]: Required value");
	CHECK_INT(create_s(&R_SECRET, "{\"metadata\":{\"name\":\"s\"},\"stringData\":{\"bad/key\":\"v\"}}", &e), -EBADMSG);
	CHECK(cause(&e, "data[bad/key]") != NULL);
	CHECK_INT(create_s(&R_SECRET, "{\"metadata\":{\"name\":\"s\"},\"stringData\":{\"k\":5}}", &e), -EINVAL);
	CHECK_INT(update_s(&R_SECRET, "{\"metadata\":{\"name\":\"s\"},\"type\":\"x/y\"}", "{\"metadata\":{\"name\":\"s\"}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "type", "FieldValueInvalid", "Invalid value: \"x/y\": field is immutable");
	CHECK_INT(update_s(&R_SECRET, "{\"metadata\":{\"name\":\"s\"},\"immutable\":false}",
			   "{\"metadata\":{\"name\":\"s\"},\"immutable\":true}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "immutable", "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set");
}

TEST(namespace)
{
	struct gt_err e;
	json_t *n = J("{\"metadata\":{\"name\":\"team-a\"}}");

	CHECK_INT(create(&R_NS, n, &e), 0);
	CHECK_STR(json_string_value(json_array_get(gt_json_path(n, "spec.finalizers"), 0)), "kubernetes");
	CHECK_STR(S(n, "status.phase"), "Active");
	CHECK_STR(json_string_value(json_object_get(gt_json_path(n, "metadata.labels"), "kubernetes.io/metadata.name")), "team-a");
	json_decref(n);
	CHECK_INT(create_s(&R_NS, "{\"metadata\":{\"name\":\"a.b\"}}", &e), -EBADMSG);
	CHECK_STR(e.msg, "Namespace \"a.b\" is invalid: metadata.name: Invalid value: \"a.b\": must not contain dots");
	CHECK_INT(create_s(&R_NS, "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"finalizers\":[\"custom\"]}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.finalizers", "FieldValueInvalid",
		    "Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified");
}

/* ---- other kinds ---- */

TEST(pvc_node_event_lease_sa)
{
	struct gt_err e;
	json_t *p = J("{\"metadata\":{\"name\":\"data\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}");

	CHECK_INT(create(&R_PVC, p, &e), 0);
	CHECK_STR(S(p, "spec.volumeMode"), "Filesystem");
	CHECK_STR(S(p, "status.phase"), "Pending");
	json_decref(p);
	CHECK_INT(create_s(&R_PVC, "{\"metadata\":{\"name\":\"data\"},\"spec\":{\"accessModes\":[\"ReadWriteSometimes\"]}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.resources[storage]", "FieldValueRequired", "Required value");
	CHECK_CAUSE(&e, "spec.accessModes", "FieldValueNotSupported",
		    "Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", "
		    "\"ReadWriteOnce\", \"ReadWriteOncePod\"");
	CHECK_INT(update_s(&R_PVC, "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"accessModes\":[\"ReadWriteMany\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}",
			   "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}", &e),
		  -EBADMSG);
	CHECK(cause(&e, "spec") != NULL);
	CHECK_INT(update_s(&R_PVC, "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"volumeName\":\"pv1\",\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"2Gi\"}}}}",
			   "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}", &e), 0);

	p = J("{\"metadata\":{\"name\":\"node1\"},\"status\":{\"capacity\":{\"cpu\":\"4\",\"nvidia.com/gpu\":\"2\"}}}");
	CHECK_INT(create(&R_NODE, p, &e), 0);
	CHECK_STR(S(p, "status.allocatable.cpu"), "4");
	json_decref(p);
	CHECK_INT(create_s(&R_NODE, "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"taints\":[{\"key\":\"k\",\"effect\":\"Bad\"}]}}", &e), -EBADMSG);
	CHECK(cause(&e, "spec.taints[0].effect") != NULL);
	CHECK_INT(create_s(&R_NODE, "{\"metadata\":{\"name\":\"n\"},\"status\":{\"capacity\":{\"cpu\":\"four\"}}}", &e), -EINVAL);
	CHECK_INT(create_s(&R_EVENT, "{\"metadata\":{\"name\":\"p1.1\",\"namespace\":\"default\"},\"involvedObject\":{\"kind\":\"Pod\","
			   "\"name\":\"p1\",\"namespace\":\"default\"},\"reason\":\"Scheduled\",\"count\":1,"
			   "\"firstTimestamp\":\"2024-01-01T00:00:00Z\",\"eventTime\":\"2024-01-01T00:00:00.123456Z\"}", &e), 0);
	CHECK_INT(create_s(&R_EVENT, "{\"metadata\":{\"name\":\"p1.1\",\"namespace\":\"default\"},\"involvedObject\":{\"namespace\":\"other\"}}", &e),
		  -EBADMSG);
	CHECK_CAUSE(&e, "involvedObject.namespace", "FieldValueInvalid", "Invalid value: \"other\": does not match event.namespace");
	CHECK_INT(create_s(&R_LEASE, "{\"metadata\":{\"name\":\"l\"},\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":0}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "spec.leaseDurationSeconds", "FieldValueInvalid", "Invalid value: 0: must be greater than 0");
	CHECK_INT(create_s(&R_LEASE, "{\"metadata\":{\"name\":\"l\"},\"spec\":{\"renewTime\":\"2024-01-01T00:00:00.000001Z\",\"leaseDurationSeconds\":15}}", &e), 0);
	CHECK_INT(create_s(&R_SA, "{\"metadata\":{\"name\":\"default\"}}", &e), 0);
	CHECK_INT(create_s(&R_SA, "{\"metadata\":{\"name\":\"default\"},\"secrets\":{}}", &e), -EINVAL);
}

TEST(crd)
{
	struct gt_err e;
	json_t *c = J("{\"metadata\":{\"name\":\"pytorchjobs.kubeflow.org\"},\"spec\":{\"group\":\"kubeflow.org\",\"scope\":\"Namespaced\","
		      "\"names\":{\"plural\":\"pytorchjobs\",\"kind\":\"PyTorchJob\"},\"versions\":[{\"name\":\"v1\",\"served\":true,"
		      "\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}},"
		      "\"additionalPrinterColumns\":[{\"name\":\"State\",\"type\":\"string\",\"jsonPath\":\".status.conditions[-1:].type\"}]}]}}");

	CHECK_INT(create(&R_CRD, c, &e), 0);
	CHECK_STR(S(c, "spec.names.singular"), "pytorchjob");
	CHECK_STR(S(c, "spec.names.listKind"), "PyTorchJobList");
	json_decref(c);
	CHECK_INT(create_s(&R_CRD, "{\"metadata\":{\"name\":\"foo\"},\"spec\":{\"group\":\"example\",\"scope\":\"Global\","
			   "\"names\":{\"plural\":\"Foos\",\"kind\":\"Foo\",\"listKind\":\"Foo\"},\"versions\":[{\"name\":\"v1\"},{\"name\":\"v1\"}]}}", &e),
		  -EBADMSG);
	CHECK_CAUSE(&e, "metadata.name", "FieldValueInvalid", "Invalid value: \"foo\": must be spec.names.plural+\".\"+spec.group");
	CHECK_CAUSE(&e, "spec.group", "FieldValueInvalid", "Invalid value: \"example\": should be a domain with at least one dot");
	CHECK_CAUSE(&e, "spec.scope", "FieldValueNotSupported", "Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"");
	CHECK_CAUSE(&e, "spec.names.listKind", "FieldValueInvalid", "Invalid value: \"Foo\": kind and listKind may not be the same");
	CHECK(cause(&e, "spec.names.plural") != NULL);
	CHECK(cause(&e, "spec.versions") != NULL);
	CHECK(strstr(e.msg, "must contain unique version names"));
	CHECK(strstr(e.msg, "must have exactly one version marked as storage version"));
	CHECK_INT(create_s(&R_CRD, "{\"metadata\":{\"name\":\"a.b.c\"},\"spec\":{\"group\":\"b.c\",\"scope\":\"Cluster\",\"names\":{\"plural\":\"a\",\"kind\":\"A\"}}}", &e),
		  -EBADMSG);
	CHECK_CAUSE(&e, "spec.versions", "FieldValueRequired", "Required value: must have at least one version");
}

TEST(other_kinds)
{
	struct gt_err e;
	json_t *cr = J("{\"metadata\":{\"name\":\"mnist\"},\"spec\":{\"anything\":[1,2,{\"x\":true}]}}"), *copy;

	copy = json_deep_copy(cr);
	CHECK_INT(create(&R_CR, cr, &e), 0);
	CHECK(json_equal(cr, copy));
	json_decref(copy);
	json_decref(cr);
	CHECK_INT(create_s(&R_CR, "{\"metadata\":{\"name\":\"Bad Name\"}}", &e), -EBADMSG);
	CHECK_STR(e.msg, "PyTorchJob.kubeflow.org \"Bad Name\" is invalid: metadata.name: Invalid value: \"Bad Name\": a lowercase "
		  "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end "
		  "with an alphanumeric character (e.g. 'example.com', regex used for validation is "
		  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
	CHECK_INT(create_s(&R_CR, "{\"metadata\":{\"name\":5}}", &e), -EINVAL);
	CHECK_INT(create_s(&R_ROLE, "{\"metadata\":{\"name\":\"system:controller:x\"},\"rules\":[]}", &e), 0);
	CHECK_INT(create_s(&R_ROLE, "{\"metadata\":{\"name\":\"a/b\"}}", &e), -EBADMSG);
	CHECK_CAUSE(&e, "metadata.name", "FieldValueInvalid", "Invalid value: \"a/b\": may not contain '/'");
	CHECK_INT(create_s(&R_SSAR, "{\"spec\":{\"resourceAttributes\":{\"verb\":\"get\"}}}", &e), 0);
}

TEST(owner_refs_finalizers)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":\"p\",\"finalizers\":[\"bad finalizer\"],\"ownerReferences\":["
			   "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"1\",\"controller\":true},"
			   "{\"apiVersion\":\"\",\"kind\":\"ReplicaSet\",\"name\":\"rs2\",\"uid\":\"2\",\"controller\":true}]},\"spec\":" C1 "}", &e),
		  -EBADMSG);
	CHECK_CAUSE(&e, "metadata.ownerReferences.apiVersion", "FieldValueInvalid", "Invalid value: \"\": version must not be empty");
	CHECK(strstr(e.msg, "Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/rs and ReplicaSet/rs2"));
	CHECK(cause(&e, "metadata.finalizers") != NULL);
}

TEST(many_errors_cap)
{
	struct gt_err e;
	struct gt_buf b = GT_BUF_INIT;

	gt_buf_adds(&b, "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[");
	for (int i = 0; i < 40; i++)
		gt_buf_addf(&b, "%s{\"name\":\"c%d\"}", i ? "," : "", i);
	gt_buf_adds(&b, "]}}");
	CHECK_INT(create_s(&R_POD, b.data, &e), -EBADMSG);
	CHECK_INT(e.ncauses, GT_ERR_MAX_CAUSES);
	CHECK(strlen(e.msg) < sizeof(e.msg));
	gt_buf_release(&b);
}

TEST(nul_bytes_and_scale)
{
	struct gt_err e;

	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":\"a\\u0000b\"},\"spec\":" C1 "}", &e), -EBADMSG);
	CHECK(cause_starts(&e, "metadata.name", "Invalid value: \"a?b\": a lowercase RFC 1123 subdomain"));
	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":\"p\",\"labels\":{\"k\":\"v\\u0000\"}},\"spec\":" C1 "}", &e), -EBADMSG);
	CHECK(cause(&e, "metadata.labels") != NULL);
	CHECK_INT(create_s(&R_POD, "{\"metadata\":{\"name\":\"p\",\"creationTimestamp\":\"\"},\"spec\":" C1 "}", &e), 0);
	CHECK_INT(create_s(&R_SCALE, "{\"spec\":{\"replicas\":2}}", &e), 0);
	CHECK_INT(create_s(&R_SCALE, "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":-1}}", &e), -EBADMSG);
	CHECK_STR(e.msg, "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0");
}

TEST(huge_invalid_body_is_fast)
{
	struct gt_err e;
	struct gt_buf b = GT_BUF_INIT;
	clock_t t0 = clock();

	gt_buf_adds(&b, "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[");
	for (int i = 0; i < 50000; i++)
		gt_buf_addf(&b, "%s{\"name\":\"C%d\"}", i ? "," : "", i);
	gt_buf_adds(&b, "]}}");
	CHECK_INT(create_s(&R_POD, b.data, &e), -EBADMSG);
	/* CPU time: generous, sanitizer builds are slow */
	CHECK((clock() - t0) / CLOCKS_PER_SEC < 10);
	gt_buf_release(&b);
}


/* policy/v1 PodDisruptionBudget, the Eviction body, and the policy helpers. */
TEST(pdb_and_eviction)
{
	struct gt_err e;
	json_t *o, *pod;
	int64_t v = -1;

	o = J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{\"minAvailable\":\"50%\","
	      "\"selector\":{\"matchLabels\":{\"a\":\"b\"}}}}");
	CHECK_INT(create(&R_PDB, o, &e), 0);
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{\"minAvailable\":1,"
	      "\"maxUnavailable\":\"101%\",\"unhealthyPodEvictionPolicy\":\"No\"}}");
	CHECK_INT(create(&R_PDB, o, &e), -EBADMSG);
	CHECK_INT(e.ncauses, 3);
	CHECK_STR(e.causes[0].field, "spec");
	CHECK_STR(e.causes[1].field, "spec.maxUnavailable");
	CHECK_STR(e.causes[1].message, "Invalid value: 101%: must not be greater than 100%");
	CHECK_STR(e.causes[2].field, "spec.unhealthyPodEvictionPolicy");
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{\"maxUnavailable\":-1}}");
	CHECK_INT(create(&R_PDB, o, &e), -EBADMSG);
	CHECK_STR(e.causes[0].message, "Invalid value: -1: must be greater than or equal to 0");
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"minAvailable\":[1]}}");
	CHECK_INT(create(&R_PDB, o, &e), -EINVAL);
	json_decref(o);

	o = J("{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"x\"},"
	      "\"deleteOptions\":{\"gracePeriodSeconds\":3,\"dryRun\":[\"All\"]}}");
	CHECK_INT(gt_validate(&R_EVICTION, o, NULL, &e), 0);
	json_decref(o);
	o = J("{\"deleteOptions\":{\"gracePeriodSeconds\":\"3\"}}");
	CHECK_INT(gt_validate(&R_EVICTION, o, NULL, &e), -EINVAL);
	CHECK(strstr(e.msg, "gracePeriodSeconds") != NULL);
	json_decref(o);

	o = J("{\"n\":5,\"p\":\"50%\",\"q\":\"33%\",\"bad\":\"5\",\"neg\":\"-5%\"}");
	CHECK(gt_intstr_scaled(json_object_get(o, "n"), 10, true, &v) == 0 && v == 5);
	CHECK(gt_intstr_scaled(json_object_get(o, "p"), 5, true, &v) == 0 && v == 3);
	CHECK(gt_intstr_scaled(json_object_get(o, "p"), 5, false, &v) == 0 && v == 2);
	CHECK(gt_intstr_scaled(json_object_get(o, "q"), 3, true, &v) == 0 && v == 1);
	CHECK(gt_intstr_scaled(json_object_get(o, "bad"), 3, true, &v) == -EINVAL);
	CHECK(gt_intstr_scaled(json_object_get(o, "neg"), 3, true, &v) == -EINVAL);
	CHECK(gt_intstr_is_percent(json_object_get(o, "p")) && !gt_intstr_is_percent(json_object_get(o, "n")));
	json_decref(o);

	pod = J("{\"metadata\":{\"namespace\":\"d\",\"labels\":{\"a\":\"b\"}},"
		"\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	o = J("{\"metadata\":{\"namespace\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}}}}");
	CHECK(gt_pdb_selects(o, pod));
	gt_json_set_str(o, "metadata.namespace", "other");
	CHECK(!gt_pdb_selects(o, pod));
	json_decref(o);
	o = J("{\"metadata\":{\"namespace\":\"d\"},\"spec\":{\"selector\":{}}}");
	CHECK(gt_pdb_selects(o, pod)); /* {} selects the whole namespace */
	json_decref(o);
	o = J("{\"metadata\":{\"namespace\":\"d\"},\"spec\":{}}");
	CHECK(!gt_pdb_selects(o, pod)); /* no selector: nothing */
	json_decref(o);
	CHECK(gt_pod_is_ready(pod));
	CHECK_INT(gt_condition_put(pod, "Ready", "True", NULL, NULL), -EALREADY);
	CHECK_INT(gt_condition_put(pod, "Ready", "False", "NodeLost", "gone"), 0);
	CHECK(!gt_pod_is_ready(pod));
	CHECK_INT(json_array_size(gt_json_path(pod, "status.conditions")), 1);
	CHECK_INT(gt_condition_put(pod, "DisruptionTarget", "True", "X", NULL), 0);
	CHECK_INT(json_array_size(gt_json_path(pod, "status.conditions")), 2);
	json_decref(pod);
}

int main(void)
{
	RUN(pod_defaults);
	RUN(pod_defaults_idempotent_and_validate_const);
	RUN(pod_image_required);
	RUN(pod_containers_required);
	RUN(name_invalid);
	RUN(name_required_and_generate_name);
	RUN(decode_errors_400);
	RUN(non_object_body);
	RUN(container_ports);
	RUN(container_names);
	RUN(volumes_and_mounts);
	RUN(restart_policy_env_probes);
	RUN(resources);
	RUN(labels_annotations_tolerations);
	RUN(utf8_safe_truncation);
	RUN(pod_update);
	RUN(service_defaults);
	RUN(service_invalid);
	RUN(service_update);
	RUN(deployment_defaults);
	RUN(deployment_invalid);
	RUN(deployment_update_selector_immutable);
	RUN(replicaset_statefulset_daemonset);
	RUN(job_defaults_and_selector);
	RUN(job_invalid);
	RUN(job_update);
	RUN(cronjob);
	RUN(job_pod_failure_policy_and_time_zone);
	RUN(configmap);
	RUN(secret);
	RUN(namespace);
	RUN(pvc_node_event_lease_sa);
	RUN(crd);
	RUN(other_kinds);
	RUN(owner_refs_finalizers);
	RUN(many_errors_cap);
	RUN(nul_bytes_and_scale);
	RUN(huge_invalid_body_is_fast);
	RUN(pdb_and_eviction);
	return t_done();
}
