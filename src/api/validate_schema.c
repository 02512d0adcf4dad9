/*
 * validate_schema.c - the decode pass: the Go types of the built-in kinds'
 * fields as tables, and a walker that rejects what Go's encoding/json (and
 * the Quantity, IntOrString, Time and []byte unmarshalers) would reject,
 * with the same messages.  The API server answers these with 400
 * BadRequest before any field validation runs.
 *
 * Only the fields the rest of Gantry reads are described; unknown fields
 * are ignored, as the real server drops them.  status is not described
 * (components write it, and the real server would only warn about it).
 * Quantities are parsed by api/quantity.h, with its Kubernetes messages.
 */
#include <stdio.h>
#include <string.h>

#include "api/validate_int.h"

enum vk { K_STR, K_BOOL, K_I32, K_I64, K_INTSTR, K_QTY, K_TIME, K_BYTES, K_STRUCT, K_LIST, K_MAP, K_RAW };

struct gt_vld_field {
	const char *name;
	const struct gt_vld_type *t;
};

struct gt_vld_type {
	enum vk k;
	const char *go;                    /* Go type as reflect prints it */
	const struct gt_vld_type *elem;    /* K_LIST, K_MAP */
	const struct gt_vld_field *fields; /* K_STRUCT, NULL-terminated */
};

#define F(n, t) { n, &t }
#define STRUCT(var, goname, ...) \
	static const struct gt_vld_field var##_fields[] = { __VA_ARGS__, { NULL, NULL } }; \
	static const struct gt_vld_type var = { K_STRUCT, goname, NULL, var##_fields }
#define LIST(var, goname, el) static const struct gt_vld_type var = { K_LIST, goname, &el, NULL }

static const struct gt_vld_type t_str = { K_STR, "string", NULL, NULL };
static const struct gt_vld_type t_bool = { K_BOOL, "bool", NULL, NULL };
static const struct gt_vld_type t_i32 = { K_I32, "int32", NULL, NULL };
static const struct gt_vld_type t_i64 = { K_I64, "int64", NULL, NULL };
static const struct gt_vld_type t_intstr = { K_INTSTR, "intstr.IntOrString", NULL, NULL };
static const struct gt_vld_type t_qty = { K_QTY, "resource.Quantity", NULL, NULL };
static const struct gt_vld_type t_time = { K_TIME, "v1.Time", NULL, NULL };
static const struct gt_vld_type t_bytes = { K_BYTES, "[]uint8", NULL, NULL };
static const struct gt_vld_type t_raw = { K_RAW, "runtime.RawExtension", NULL, NULL };
static const struct gt_vld_type t_strlist = { K_LIST, "[]string", &t_str, NULL };
static const struct gt_vld_type t_i64list = { K_LIST, "[]int64", &t_i64, NULL };
static const struct gt_vld_type t_strmap = { K_MAP, "map[string]string", &t_str, NULL };
static const struct gt_vld_type t_qtymap = { K_MAP, "v1.ResourceList", &t_qty, NULL };
static const struct gt_vld_type t_bytesmap = { K_MAP, "map[string][]uint8", &t_bytes, NULL };

/* ---- meta/v1 ---- */

STRUCT(t_ownerref, "v1.OwnerReference", F("apiVersion", t_str), F("kind", t_str), F("name", t_str),
       F("uid", t_str), F("controller", t_bool), F("blockOwnerDeletion", t_bool));
LIST(t_ownerrefs, "[]v1.OwnerReference", t_ownerref);
STRUCT(t_meta, "v1.ObjectMeta", F("name", t_str), F("generateName", t_str), F("namespace", t_str),
       F("selfLink", t_str), F("uid", t_str), F("resourceVersion", t_str), F("generation", t_i64),
       F("creationTimestamp", t_time), F("deletionTimestamp", t_time),
       F("deletionGracePeriodSeconds", t_i64), F("labels", t_strmap), F("annotations", t_strmap),
       F("ownerReferences", t_ownerrefs), F("finalizers", t_strlist));
STRUCT(t_selreq, "v1.LabelSelectorRequirement", F("key", t_str), F("operator", t_str),
       F("values", t_strlist));
LIST(t_selreqs, "[]v1.LabelSelectorRequirement", t_selreq);
STRUCT(t_selector, "v1.LabelSelector", F("matchLabels", t_strmap), F("matchExpressions", t_selreqs));

/* ---- core/v1: containers ---- */

STRUCT(t_cport, "v1.ContainerPort", F("name", t_str), F("hostPort", t_i32), F("containerPort", t_i32),
       F("protocol", t_str), F("hostIP", t_str));
LIST(t_cports, "[]v1.ContainerPort", t_cport);
STRUCT(t_localref, "v1.LocalObjectReference", F("name", t_str));
LIST(t_localrefs, "[]v1.LocalObjectReference", t_localref);
STRUCT(t_cmenvsrc, "v1.ConfigMapEnvSource", F("name", t_str), F("optional", t_bool));
STRUCT(t_secenvsrc, "v1.SecretEnvSource", F("name", t_str), F("optional", t_bool));
STRUCT(t_envfrom, "v1.EnvFromSource", F("prefix", t_str), F("configMapRef", t_cmenvsrc),
       F("secretRef", t_secenvsrc));
LIST(t_envfroms, "[]v1.EnvFromSource", t_envfrom);
STRUCT(t_fieldsel, "v1.ObjectFieldSelector", F("apiVersion", t_str), F("fieldPath", t_str));
STRUCT(t_resfieldsel, "v1.ResourceFieldSelector", F("containerName", t_str), F("resource", t_str),
       F("divisor", t_qty));
STRUCT(t_keysel, "v1.ConfigMapKeySelector", F("name", t_str), F("key", t_str), F("optional", t_bool));
STRUCT(t_seckeysel, "v1.SecretKeySelector", F("name", t_str), F("key", t_str), F("optional", t_bool));
STRUCT(t_envsrc, "v1.EnvVarSource", F("fieldRef", t_fieldsel), F("resourceFieldRef", t_resfieldsel),
       F("configMapKeyRef", t_keysel), F("secretKeyRef", t_seckeysel));
STRUCT(t_env, "v1.EnvVar", F("name", t_str), F("value", t_str), F("valueFrom", t_envsrc));
LIST(t_envs, "[]v1.EnvVar", t_env);
STRUCT(t_resources, "v1.ResourceRequirements", F("limits", t_qtymap), F("requests", t_qtymap));
STRUCT(t_vmount, "v1.VolumeMount", F("name", t_str), F("readOnly", t_bool), F("mountPath", t_str),
       F("subPath", t_str), F("mountPropagation", t_str), F("subPathExpr", t_str));
LIST(t_vmounts, "[]v1.VolumeMount", t_vmount);
STRUCT(t_vdevice, "v1.VolumeDevice", F("name", t_str), F("devicePath", t_str));
LIST(t_vdevices, "[]v1.VolumeDevice", t_vdevice);
STRUCT(t_exec, "v1.ExecAction", F("command", t_strlist));
STRUCT(t_header, "v1.HTTPHeader", F("name", t_str), F("value", t_str));
LIST(t_headers, "[]v1.HTTPHeader", t_header);
STRUCT(t_httpget, "v1.HTTPGetAction", F("path", t_str), F("port", t_intstr), F("host", t_str),
       F("scheme", t_str), F("httpHeaders", t_headers));
STRUCT(t_tcp, "v1.TCPSocketAction", F("port", t_intstr), F("host", t_str));
STRUCT(t_grpc, "v1.GRPCAction", F("port", t_i32), F("service", t_str));
STRUCT(t_sleep, "v1.SleepAction", F("seconds", t_i64));
STRUCT(t_probe, "v1.Probe", F("exec", t_exec), F("httpGet", t_httpget), F("tcpSocket", t_tcp),
       F("grpc", t_grpc), F("initialDelaySeconds", t_i32), F("timeoutSeconds", t_i32),
       F("periodSeconds", t_i32), F("successThreshold", t_i32), F("failureThreshold", t_i32),
       F("terminationGracePeriodSeconds", t_i64));
STRUCT(t_handler, "v1.LifecycleHandler", F("exec", t_exec), F("httpGet", t_httpget),
       F("tcpSocket", t_tcp), F("sleep", t_sleep));
STRUCT(t_lifecycle, "v1.Lifecycle", F("postStart", t_handler), F("preStop", t_handler));
STRUCT(t_caps, "v1.Capabilities", F("add", t_strlist), F("drop", t_strlist));
STRUCT(t_seccomp, "v1.SeccompProfile", F("type", t_str), F("localhostProfile", t_str));
STRUCT(t_secctx, "v1.SecurityContext", F("capabilities", t_caps), F("privileged", t_bool),
       F("runAsUser", t_i64), F("runAsGroup", t_i64), F("runAsNonRoot", t_bool),
       F("readOnlyRootFilesystem", t_bool), F("allowPrivilegeEscalation", t_bool),
       F("procMount", t_str), F("seccompProfile", t_seccomp));
STRUCT(t_container, "v1.Container", F("name", t_str), F("image", t_str), F("command", t_strlist),
       F("args", t_strlist), F("workingDir", t_str), F("ports", t_cports), F("envFrom", t_envfroms),
       F("env", t_envs), F("resources", t_resources), F("volumeMounts", t_vmounts),
       F("volumeDevices", t_vdevices), F("livenessProbe", t_probe), F("readinessProbe", t_probe),
       F("startupProbe", t_probe), F("lifecycle", t_lifecycle), F("terminationMessagePath", t_str),
       F("terminationMessagePolicy", t_str), F("imagePullPolicy", t_str),
       F("securityContext", t_secctx), F("stdin", t_bool), F("stdinOnce", t_bool), F("tty", t_bool),
       F("restartPolicy", t_str));
LIST(t_containers, "[]v1.Container", t_container);

/* ---- core/v1: volumes and the pod spec ---- */

STRUCT(t_keypath, "v1.KeyToPath", F("key", t_str), F("path", t_str), F("mode", t_i32));
LIST(t_keypaths, "[]v1.KeyToPath", t_keypath);
STRUCT(t_hostpath, "v1.HostPathVolumeSource", F("path", t_str), F("type", t_str));
STRUCT(t_emptydir, "v1.EmptyDirVolumeSource", F("medium", t_str), F("sizeLimit", t_qty));
STRUCT(t_secvol, "v1.SecretVolumeSource", F("secretName", t_str), F("items", t_keypaths),
       F("defaultMode", t_i32), F("optional", t_bool));
STRUCT(t_cmvol, "v1.ConfigMapVolumeSource", F("name", t_str), F("items", t_keypaths),
       F("defaultMode", t_i32), F("optional", t_bool));
STRUCT(t_pvcvol, "v1.PersistentVolumeClaimVolumeSource", F("claimName", t_str), F("readOnly", t_bool));
STRUCT(t_nfs, "v1.NFSVolumeSource", F("server", t_str), F("path", t_str), F("readOnly", t_bool));
STRUCT(t_projected, "v1.ProjectedVolumeSource", F("sources", t_raw), F("defaultMode", t_i32));
STRUCT(t_downward, "v1.DownwardAPIVolumeSource", F("items", t_raw), F("defaultMode", t_i32));
STRUCT(t_csi, "v1.CSIVolumeSource", F("driver", t_str), F("readOnly", t_bool), F("fsType", t_str),
       F("volumeAttributes", t_strmap));
STRUCT(t_volume, "v1.Volume", F("name", t_str), F("hostPath", t_hostpath), F("emptyDir", t_emptydir),
       F("secret", t_secvol), F("configMap", t_cmvol), F("persistentVolumeClaim", t_pvcvol),
       F("nfs", t_nfs), F("projected", t_projected), F("downwardAPI", t_downward), F("csi", t_csi));
LIST(t_volumes, "[]v1.Volume", t_volume);
STRUCT(t_toleration, "v1.Toleration", F("key", t_str), F("operator", t_str), F("value", t_str),
       F("effect", t_str), F("tolerationSeconds", t_i64));
LIST(t_tolerations, "[]v1.Toleration", t_toleration);
STRUCT(t_sysctl, "v1.Sysctl", F("name", t_str), F("value", t_str));
LIST(t_sysctls, "[]v1.Sysctl", t_sysctl);
STRUCT(t_podsecctx, "v1.PodSecurityContext", F("runAsUser", t_i64), F("runAsGroup", t_i64),
       F("runAsNonRoot", t_bool), F("supplementalGroups", t_i64list), F("fsGroup", t_i64),
       F("fsGroupChangePolicy", t_str), F("sysctls", t_sysctls), F("seccompProfile", t_seccomp));
STRUCT(t_hostalias, "v1.HostAlias", F("ip", t_str), F("hostnames", t_strlist));
LIST(t_hostaliases, "[]v1.HostAlias", t_hostalias);
STRUCT(t_dnsopt, "v1.PodDNSConfigOption", F("name", t_str), F("value", t_str));
LIST(t_dnsopts, "[]v1.PodDNSConfigOption", t_dnsopt);
STRUCT(t_dnsconfig, "v1.PodDNSConfig", F("nameservers", t_strlist), F("searches", t_strlist),
       F("options", t_dnsopts));
STRUCT(t_gate, "v1.PodReadinessGate", F("conditionType", t_str));
LIST(t_gates, "[]v1.PodReadinessGate", t_gate);
STRUCT(t_podos, "v1.PodOS", F("name", t_str));
STRUCT(t_podspec, "v1.PodSpec", F("volumes", t_volumes), F("initContainers", t_containers),
       F("containers", t_containers), F("restartPolicy", t_str),
       F("terminationGracePeriodSeconds", t_i64), F("activeDeadlineSeconds", t_i64),
       F("dnsPolicy", t_str), F("nodeSelector", t_strmap), F("serviceAccountName", t_str),
       F("serviceAccount", t_str), F("automountServiceAccountToken", t_bool), F("nodeName", t_str),
       F("hostNetwork", t_bool), F("hostPID", t_bool), F("hostIPC", t_bool),
       F("shareProcessNamespace", t_bool), F("securityContext", t_podsecctx),
       F("imagePullSecrets", t_localrefs), F("hostname", t_str), F("subdomain", t_str),
       F("schedulerName", t_str), F("tolerations", t_tolerations), F("hostAliases", t_hostaliases),
       F("priorityClassName", t_str), F("priority", t_i32), F("dnsConfig", t_dnsconfig),
       F("readinessGates", t_gates), F("runtimeClassName", t_str), F("enableServiceLinks", t_bool),
       F("preemptionPolicy", t_str), F("overhead", t_qtymap), F("setHostnameAsFQDN", t_bool),
       F("os", t_podos), F("hostUsers", t_bool));
STRUCT(t_podtemplate, "v1.PodTemplateSpec", F("metadata", t_meta), F("spec", t_podspec));

STRUCT(t_pod, "v1.Pod", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_podspec));

/* ---- core/v1: other kinds ---- */

STRUCT(t_svcport, "v1.ServicePort", F("name", t_str), F("protocol", t_str), F("appProtocol", t_str),
       F("port", t_i32), F("targetPort", t_intstr), F("nodePort", t_i32));
LIST(t_svcports, "[]v1.ServicePort", t_svcport);
STRUCT(t_clientip, "v1.ClientIPConfig", F("timeoutSeconds", t_i32));
STRUCT(t_affcfg, "v1.SessionAffinityConfig", F("clientIP", t_clientip));
STRUCT(t_svcspec, "v1.ServiceSpec", F("ports", t_svcports), F("selector", t_strmap),
       F("clusterIP", t_str), F("clusterIPs", t_strlist), F("type", t_str), F("externalIPs", t_strlist),
       F("sessionAffinity", t_str), F("loadBalancerIP", t_str),
       F("loadBalancerSourceRanges", t_strlist), F("externalName", t_str),
       F("externalTrafficPolicy", t_str), F("healthCheckNodePort", t_i32),
       F("publishNotReadyAddresses", t_bool), F("sessionAffinityConfig", t_affcfg),
       F("ipFamilies", t_strlist), F("ipFamilyPolicy", t_str),
       F("allocateLoadBalancerNodePorts", t_bool), F("loadBalancerClass", t_str),
       F("internalTrafficPolicy", t_str));
STRUCT(t_service, "v1.Service", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_svcspec));

STRUCT(t_nsspec, "v1.NamespaceSpec", F("finalizers", t_strlist));
STRUCT(t_namespace, "v1.Namespace", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_nsspec));
STRUCT(t_configmap, "v1.ConfigMap", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("data", t_strmap), F("binaryData", t_bytesmap), F("immutable", t_bool));
STRUCT(t_secret, "v1.Secret", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("data", t_bytesmap), F("stringData", t_strmap), F("type", t_str), F("immutable", t_bool));

STRUCT(t_typedref, "v1.TypedLocalObjectReference", F("apiGroup", t_str), F("kind", t_str),
       F("name", t_str));
STRUCT(t_volres, "v1.VolumeResourceRequirements", F("limits", t_qtymap), F("requests", t_qtymap));
STRUCT(t_pvcspec, "v1.PersistentVolumeClaimSpec", F("accessModes", t_strlist),
       F("selector", t_selector), F("resources", t_volres), F("volumeName", t_str),
       F("storageClassName", t_str), F("volumeMode", t_str), F("dataSource", t_typedref));
STRUCT(t_pvc, "v1.PersistentVolumeClaim", F("apiVersion", t_str), F("kind", t_str),
       F("metadata", t_meta), F("spec", t_pvcspec));
LIST(t_pvcs, "[]v1.PersistentVolumeClaim", t_pvc);

STRUCT(t_taint, "v1.Taint", F("key", t_str), F("value", t_str), F("effect", t_str),
       F("timeAdded", t_time));
LIST(t_taints, "[]v1.Taint", t_taint);
STRUCT(t_nodespec, "v1.NodeSpec", F("podCIDR", t_str), F("podCIDRs", t_strlist),
       F("providerID", t_str), F("unschedulable", t_bool), F("taints", t_taints));
STRUCT(t_nodestatus, "v1.NodeStatus", F("capacity", t_qtymap), F("allocatable", t_qtymap));
STRUCT(t_node, "v1.Node", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_nodespec), F("status", t_nodestatus));

STRUCT(t_objref, "v1.ObjectReference", F("kind", t_str), F("namespace", t_str), F("name", t_str),
       F("uid", t_str), F("apiVersion", t_str), F("resourceVersion", t_str), F("fieldPath", t_str));
LIST(t_objrefs, "[]v1.ObjectReference", t_objref);
STRUCT(t_evsource, "v1.EventSource", F("component", t_str), F("host", t_str));
STRUCT(t_evseries, "v1.EventSeries", F("count", t_i32), F("lastObservedTime", t_time));
STRUCT(t_event, "v1.Event", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("involvedObject", t_objref), F("reason", t_str), F("message", t_str),
       F("source", t_evsource), F("firstTimestamp", t_time), F("lastTimestamp", t_time),
       F("count", t_i32), F("type", t_str), F("eventTime", t_time), F("series", t_evseries),
       F("action", t_str), F("related", t_objref), F("reportingComponent", t_str),
       F("reportingInstance", t_str));
STRUCT(t_sa, "v1.ServiceAccount", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("secrets", t_objrefs), F("imagePullSecrets", t_localrefs),
       F("automountServiceAccountToken", t_bool));

/* ---- apps/v1 ---- */

STRUCT(t_drolling, "v1.RollingUpdateDeployment", F("maxUnavailable", t_intstr), F("maxSurge", t_intstr));
STRUCT(t_dstrategy, "v1.DeploymentStrategy", F("type", t_str), F("rollingUpdate", t_drolling));
STRUCT(t_deployspec, "v1.DeploymentSpec", F("replicas", t_i32), F("selector", t_selector),
       F("template", t_podtemplate), F("strategy", t_dstrategy), F("minReadySeconds", t_i32),
       F("revisionHistoryLimit", t_i32), F("paused", t_bool), F("progressDeadlineSeconds", t_i32));
STRUCT(t_deployment, "v1.Deployment", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_deployspec));
STRUCT(t_rsspec, "v1.ReplicaSetSpec", F("replicas", t_i32), F("minReadySeconds", t_i32),
       F("selector", t_selector), F("template", t_podtemplate));
STRUCT(t_replicaset, "v1.ReplicaSet", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_rsspec));
STRUCT(t_ssrolling, "v1.RollingUpdateStatefulSetStrategy", F("partition", t_i32),
       F("maxUnavailable", t_intstr));
STRUCT(t_ssstrategy, "v1.StatefulSetUpdateStrategy", F("type", t_str), F("rollingUpdate", t_ssrolling));
STRUCT(t_ssretention, "v1.StatefulSetPersistentVolumeClaimRetentionPolicy", F("whenDeleted", t_str),
       F("whenScaled", t_str));
STRUCT(t_ssordinals, "v1.StatefulSetOrdinals", F("start", t_i32));
STRUCT(t_ssspec, "v1.StatefulSetSpec", F("replicas", t_i32), F("selector", t_selector),
       F("template", t_podtemplate), F("volumeClaimTemplates", t_pvcs), F("serviceName", t_str),
       F("podManagementPolicy", t_str), F("updateStrategy", t_ssstrategy),
       F("revisionHistoryLimit", t_i32), F("minReadySeconds", t_i32),
       F("persistentVolumeClaimRetentionPolicy", t_ssretention), F("ordinals", t_ssordinals));
STRUCT(t_statefulset, "v1.StatefulSet", F("apiVersion", t_str), F("kind", t_str),
       F("metadata", t_meta), F("spec", t_ssspec));
STRUCT(t_dsrolling, "v1.RollingUpdateDaemonSet", F("maxUnavailable", t_intstr), F("maxSurge", t_intstr));
STRUCT(t_dsstrategy, "v1.DaemonSetUpdateStrategy", F("type", t_str), F("rollingUpdate", t_dsrolling));
STRUCT(t_dsspec, "v1.DaemonSetSpec", F("selector", t_selector), F("template", t_podtemplate),
       F("updateStrategy", t_dsstrategy), F("minReadySeconds", t_i32),
       F("revisionHistoryLimit", t_i32));
STRUCT(t_daemonset, "v1.DaemonSet", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_dsspec));

/* ---- batch/v1, coordination, apiextensions, autoscaling ---- */

STRUCT(t_jobspec, "v1.JobSpec", F("parallelism", t_i32), F("completions", t_i32),
       F("activeDeadlineSeconds", t_i64), F("backoffLimit", t_i32), F("backoffLimitPerIndex", t_i32),
       F("maxFailedIndexes", t_i32), F("selector", t_selector), F("manualSelector", t_bool),
       F("template", t_podtemplate), F("ttlSecondsAfterFinished", t_i32),
       F("completionMode", t_str), F("suspend", t_bool), F("podReplacementPolicy", t_str));
STRUCT(t_job, "v1.Job", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_jobspec));
STRUCT(t_jobtemplate, "v1.JobTemplateSpec", F("metadata", t_meta), F("spec", t_jobspec));
STRUCT(t_cronspec, "v1.CronJobSpec", F("schedule", t_str), F("timeZone", t_str),
       F("startingDeadlineSeconds", t_i64), F("concurrencyPolicy", t_str), F("suspend", t_bool),
       F("jobTemplate", t_jobtemplate), F("successfulJobsHistoryLimit", t_i32),
       F("failedJobsHistoryLimit", t_i32));
STRUCT(t_cronjob, "v1.CronJob", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_cronspec));
STRUCT(t_leasespec, "v1.LeaseSpec", F("holderIdentity", t_str), F("leaseDurationSeconds", t_i32),
       F("acquireTime", t_time), F("renewTime", t_time), F("leaseTransitions", t_i32));
STRUCT(t_lease, "v1.Lease", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_leasespec));
STRUCT(t_crdnames, "v1.CustomResourceDefinitionNames", F("plural", t_str), F("singular", t_str),
       F("shortNames", t_strlist), F("kind", t_str), F("listKind", t_str), F("categories", t_strlist));
STRUCT(t_crdscale, "v1.CustomResourceSubresourceScale", F("specReplicasPath", t_str),
       F("statusReplicasPath", t_str), F("labelSelectorPath", t_str));
STRUCT(t_crdsub, "v1.CustomResourceSubresources", F("status", t_raw), F("scale", t_crdscale));
STRUCT(t_crdcol, "v1.CustomResourceColumnDefinition", F("name", t_str), F("type", t_str),
       F("format", t_str), F("description", t_str), F("priority", t_i32), F("jsonPath", t_str));
LIST(t_crdcols, "[]v1.CustomResourceColumnDefinition", t_crdcol);
STRUCT(t_crdvalidation, "v1.CustomResourceValidation", F("openAPIV3Schema", t_raw));
STRUCT(t_crdversion, "v1.CustomResourceDefinitionVersion", F("name", t_str), F("served", t_bool),
       F("storage", t_bool), F("deprecated", t_bool), F("deprecationWarning", t_str),
       F("schema", t_crdvalidation), F("subresources", t_crdsub),
       F("additionalPrinterColumns", t_crdcols));
LIST(t_crdversions, "[]v1.CustomResourceDefinitionVersion", t_crdversion);
STRUCT(t_crdspec, "v1.CustomResourceDefinitionSpec", F("group", t_str), F("names", t_crdnames),
       F("scope", t_str), F("versions", t_crdversions), F("preserveUnknownFields", t_bool));
STRUCT(t_crd, "v1.CustomResourceDefinition", F("apiVersion", t_str), F("kind", t_str),
       F("metadata", t_meta), F("spec", t_crdspec));
STRUCT(t_scalespec, "v1.ScaleSpec", F("replicas", t_i32));
STRUCT(t_scale, "v1.Scale", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("spec", t_scalespec));
STRUCT(t_pdbspec, "v1.PodDisruptionBudgetSpec", F("minAvailable", t_intstr),
       F("selector", t_selector), F("maxUnavailable", t_intstr),
       F("unhealthyPodEvictionPolicy", t_str));
STRUCT(t_pdb, "v1.PodDisruptionBudget", F("apiVersion", t_str), F("kind", t_str),
       F("metadata", t_meta), F("spec", t_pdbspec));
STRUCT(t_precond, "v1.Preconditions", F("uid", t_str), F("resourceVersion", t_str));
STRUCT(t_delopts, "v1.DeleteOptions", F("apiVersion", t_str), F("kind", t_str),
       F("gracePeriodSeconds", t_i64), F("preconditions", t_precond),
       F("orphanDependents", t_bool), F("propagationPolicy", t_str), F("dryRun", t_strlist));
STRUCT(t_eviction, "v1.Eviction", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta),
       F("deleteOptions", t_delopts));

STRUCT(t_generic, "v1.Object", F("apiVersion", t_str), F("kind", t_str), F("metadata", t_meta));

static const struct {
	const char *group, *kind;
	const struct gt_vld_type *t;
} roots[] = {
	{ "", "Pod", &t_pod },
	{ "", "Service", &t_service },
	{ "", "Namespace", &t_namespace },
	{ "", "ConfigMap", &t_configmap },
	{ "", "Secret", &t_secret },
	{ "", "PersistentVolumeClaim", &t_pvc },
	{ "", "Node", &t_node },
	{ "", "Event", &t_event },
	{ "", "ServiceAccount", &t_sa },
	{ "apps", "Deployment", &t_deployment },
	{ "apps", "ReplicaSet", &t_replicaset },
	{ "apps", "StatefulSet", &t_statefulset },
	{ "apps", "DaemonSet", &t_daemonset },
	{ "batch", "Job", &t_job },
	{ "batch", "CronJob", &t_cronjob },
	{ "coordination.k8s.io", "Lease", &t_lease },
	{ "apiextensions.k8s.io", "CustomResourceDefinition", &t_crd },
	{ "autoscaling", "Scale", &t_scale },
	{ "policy", "PodDisruptionBudget", &t_pdb },
	{ "policy", "Eviction", &t_eviction },
};

const struct gt_vld_type *gt_vld_schema(const char *group, const char *kind)
{
	for (size_t i = 0; i < GT_ARRAY_SIZE(roots); i++)
		if (!strcmp(roots[i].group, group ? group : "") && kind && !strcmp(roots[i].kind, kind))
			return roots[i].t;
	return NULL;
}

/* ---- quantities (api/quantity.h) ---- */

bool gt_vld_qty(const json_t *v, struct gt_quantity *q)
{
	if (!v || json_is_null(v))
		return false;
	return gt_quantity_from_json(v, q, NULL) == 0;
}

/* ---- base64 as Go's encoding/base64 StdEncoding decodes it ---- */

static bool b64char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Offset of the first byte Go reports as illegal, or -1 when s decodes. */
static long b64_bad(const char *s, size_t n)
{
	size_t i = 0;
	int j = 0;
	long qstart = 0;

	for (;;) {
		while (i < n && (s[i] == '\n' || s[i] == '\r'))
			i++;
		if (i == n)
			return j == 0 ? -1 : qstart;
		if (j == 0)
			qstart = (long)i;
		if (b64char((unsigned char)s[i])) {
			i++;
			j = (j + 1) % 4;
			continue;
		}
		if (s[i] != '=' || j < 2)
			return (long)i;
		/* padding: "xx==" or "xxx=", then only newlines */
		if (j == 2) {
			i++;
			while (i < n && (s[i] == '\n' || s[i] == '\r'))
				i++;
			if (i == n || s[i] != '=')
				return (long)(i == n ? n : i);
		}
		i++;
		while (i < n && (s[i] == '\n' || s[i] == '\r'))
			i++;
		return i < n ? (long)i : -1;
	}
}

/* ---- the walker ---- */

static const char *jkind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	default: return "number";
	}
}

static int mismatch(struct gt_err *err, const char *what, const char *sname, const char *path,
		    const char *go)
{
	if (sname)
		return gt_err_set(err, -EINVAL, "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
				  what, sname, path, go);
	return gt_err_set(err, -EINVAL, "json: cannot unmarshal %s into Go value of type %s", what, go);
}

/* "number 3.5" for numbers Go cannot store in an integer field. */
static int bad_int(const json_t *v, const char *sname, const char *path, const char *go,
		   struct gt_err *err)
{
	char what[64];

	if (json_is_integer(v))
		snprintf(what, sizeof(what), "number %lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(what, sizeof(what), "number %g", json_real_value(v));
	else
		snprintf(what, sizeof(what), "%s", jkind(v));
	return mismatch(err, what, sname, path, go);
}

static int walk(const json_t *v, const struct gt_vld_type *t, const char *sname, const char *path,
		struct gt_err *err);

static int walk_struct(const json_t *v, const struct gt_vld_type *t, const char *path,
		       struct gt_err *err)
{
	const char *dot = strchr(t->go, '.');
	const char *me = dot ? dot + 1 : t->go;
	char child[GT_VLD_PATH];
	int rc;

	for (const struct gt_vld_field *f = t->fields; f->name; f++) {
		json_t *m = json_object_get(v, f->name);

		if (!m)
			continue;
		snprintf(child, sizeof(child), "%s%s%s", path, *path ? "." : "", f->name);
		rc = walk(m, f->t, me, child, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int walk(const json_t *v, const struct gt_vld_type *t, const char *sname, const char *path,
		struct gt_err *err)
{
	json_int_t n;
	size_t i;
	const char *k;
	json_t *m;
	struct gt_quantity q;
	time_t tt;
	long bad;
	int rc;

	if (json_is_null(v) || t->k == K_RAW)
		return 0;
	switch (t->k) {
	case K_STR:
		return json_is_string(v) ? 0 : mismatch(err, jkind(v), sname, path, t->go);
	case K_BOOL:
		return json_is_boolean(v) ? 0 : mismatch(err, jkind(v), sname, path, t->go);
	case K_I32:
	case K_I64:
		if (json_is_real(v))
			return bad_int(v, sname, path, t->go, err);
		if (!json_is_integer(v))
			return mismatch(err, jkind(v), sname, path, t->go);
		n = json_integer_value(v);
		if (t->k == K_I32 && (n < INT32_MIN || n > INT32_MAX))
			return bad_int(v, sname, path, t->go, err);
		return 0;
	case K_INTSTR:
		if (json_is_string(v))
			return 0;
		if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
		    json_integer_value(v) > INT32_MAX)
			return bad_int(v, NULL, path, "int32", err);
		return 0;
	case K_QTY:
		return gt_quantity_from_json(v, &q, err);
	case K_TIME:
		if (!json_is_string(v))
			return mismatch(err, jkind(v), NULL, path, "string");
		/* Kubernetes rejects "" too; Gantry reads it as the zero time */
		if (json_string_length(v) && gt_time_parse(json_string_value(v), &tt) < 0)
			return gt_err_set(err, -EINVAL,
					  "parsing time \"%s\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"%s\" as \"2006\"",
					  json_string_value(v), json_string_value(v));
		return 0;
	case K_BYTES:
		if (!json_is_string(v))
			return mismatch(err, jkind(v), sname, path, t->go);
		bad = b64_bad(json_string_value(v), json_string_length(v));
		if (bad >= 0)
			return gt_err_set(err, -EINVAL, "illegal base64 data at input byte %ld", bad);
		return 0;
	case K_STRUCT:
		if (!json_is_object(v))
			return mismatch(err, jkind(v), sname, path, t->go);
		return walk_struct(v, t, path, err);
	case K_LIST:
		if (!json_is_array(v))
			return mismatch(err, jkind(v), sname, path, t->go);
		json_array_foreach(v, i, m) {
			rc = walk(m, t->elem, sname, path, err);
			if (rc < 0)
				return rc;
		}
		return 0;
	case K_MAP:
		if (!json_is_object(v))
			return mismatch(err, jkind(v), sname, path, t->go);
		json_object_foreach((json_t *)v, k, m) {
			rc = walk(m, t->elem, sname, path, err);
			if (rc < 0)
				return rc;
		}
		return 0;
	default:
		return 0;
	}
}

int gt_vld_decode(const json_t *obj, const struct gt_vld_type *t, struct gt_err *err)
{
	if (!t)
		t = &t_generic;
	if (!json_is_object(obj))
		return mismatch(err, obj ? jkind(obj) : "null", NULL, "", t->go);
	return walk_struct(obj, t, "", err);
}
