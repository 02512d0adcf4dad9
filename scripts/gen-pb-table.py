#!/usr/bin/python3
"""gen-pb-table.py - turn kubernetes-protobuf-fields.json into src/codec/pb_table.c.

The input (shared/reference/kubernetes-protobuf-fields.json) maps each
protobuf message of k8s.io/api and apimachinery v0.33.1 to its fields:
    {"messages": {"k8s.io.api.core.v1.ConfigMap": {"1": [json, label, type]}},
     "keepZero": [[message, field], ...]}
label is optional|repeated|map; type is a scalar name, a message name, or for
maps a [keyType, valueType] pair.  The output is a static, sorted table that
src/codec/protobuf.c walks to transcode protobuf bodies into JSON; the build
never runs this script (the generated file is committed).

Beyond the input this script adds what the .proto files cannot say:
  * SUPPLEMENT: messages missing from the input (coordination/v1 Lease,
    policy/v1 Eviction), copied from their generated.proto;
  * KEEP_ZERO: Go pointer fields whose explicit zero value must survive
    (the input's keepZero plus other pointer ints/bools/IntOrStrings);
  * INLINE: embedded Go structs (`json:",inline"`) whose fields belong to the
    parent JSON object;
  * SPECIAL: messages with a custom JSON form (Time, Quantity, ...).

Usage: scripts/gen-pb-table.py [fields.json] [out.c]   (Debian python3, stdlib only)
"""
import json
import os
import sys

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
CORE = "k8s.io.api.core.v1."
APPS = "k8s.io.api.apps.v1."
BATCH = "k8s.io.api.batch.v1."
ASV1 = "k8s.io.api.autoscaling.v1."
ASV2 = "k8s.io.api.autoscaling.v2."

SPECIAL = {
    META + "Time": "GT_PB_TIME",
    META + "MicroTime": "GT_PB_MICROTIME",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "GT_PB_QUANTITY",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": "GT_PB_QUANTITY",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "GT_PB_INTORSTRING",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "GT_PB_RAW",
    META + "FieldsV1": "GT_PB_RAW",
    META + "Verbs": "GT_PB_STRLIST",
    "k8s.io.api.authentication.v1.ExtraValue": "GT_PB_STRLIST",
    "k8s.io.api.authorization.v1.ExtraValue": "GT_PB_STRLIST",
}

SCALARS = {
    "string": "GT_PB_STRING", "bytes": "GT_PB_BYTES", "bool": "GT_PB_BOOL",
    "int32": "GT_PB_INT32", "int64": "GT_PB_INT64",
    "uint32": "GT_PB_UINT32", "uint64": "GT_PB_UINT64",
    "double": "GT_PB_DOUBLE", "float": "GT_PB_FLOAT",
}

OPT = "optional"
SUPPLEMENT = {
    # k8s.io/api/coordination/v1/generated.proto
    "k8s.io.api.coordination.v1.Lease": {
        "1": ["metadata", OPT, META + "ObjectMeta"],
        "2": ["spec", OPT, "k8s.io.api.coordination.v1.LeaseSpec"]},
    "k8s.io.api.coordination.v1.LeaseList": {
        "1": ["metadata", OPT, META + "ListMeta"],
        "2": ["items", "repeated", "k8s.io.api.coordination.v1.Lease"]},
    "k8s.io.api.coordination.v1.LeaseSpec": {
        "1": ["holderIdentity", OPT, "string"],
        "2": ["leaseDurationSeconds", OPT, "int32"],
        "3": ["acquireTime", OPT, META + "MicroTime"],
        "4": ["renewTime", OPT, META + "MicroTime"],
        "5": ["leaseTransitions", OPT, "int32"],
        "6": ["strategy", OPT, "string"],
        "7": ["preferredHolder", OPT, "string"]},
    # k8s.io/api/policy/v1/generated.proto (drain's eviction POST)
    "k8s.io.api.policy.v1.Eviction": {
        "1": ["metadata", OPT, META + "ObjectMeta"],
        "2": ["deleteOptions", OPT, META + "DeleteOptions"]},
}

# Go pointer fields (beyond the input's keepZero) whose zero value means
# something: present on the wire => emitted even when 0/false/""/empty.
KEEP_ZERO = [
    (CORE + "PodSpec", f) for f in (
        "activeDeadlineSeconds", "automountServiceAccountToken", "shareProcessNamespace",
        "priority", "enableServiceLinks", "setHostnameAsFQDN", "hostUsers")
] + [
    (CORE + "PodSecurityContext", f) for f in ("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup")
] + [
    (CORE + "SecurityContext", f) for f in (
        "privileged", "runAsUser", "runAsGroup", "runAsNonRoot",
        "readOnlyRootFilesystem", "allowPrivilegeEscalation")
] + [
    (CORE + "Probe", "terminationGracePeriodSeconds"),
    (CORE + "ServiceSpec", "allocateLoadBalancerNodePorts"),
    (CORE + "ServiceAccount", "automountServiceAccountToken"),
    (CORE + "ConfigMap", "immutable"),
    (CORE + "Secret", "immutable"),
    (CORE + "ConfigMapVolumeSource", "defaultMode"),
    (CORE + "ConfigMapVolumeSource", "optional"),
    (CORE + "SecretVolumeSource", "defaultMode"),
    (CORE + "SecretVolumeSource", "optional"),
    (CORE + "ProjectedVolumeSource", "defaultMode"),
    (CORE + "DownwardAPIVolumeSource", "defaultMode"),
    (CORE + "KeyToPath", "mode"),
    (CORE + "DownwardAPIVolumeFile", "mode"),
    (CORE + "ConfigMapKeySelector", "optional"),
    (CORE + "SecretKeySelector", "optional"),
    (CORE + "ConfigMapEnvSource", "optional"),
    (CORE + "SecretEnvSource", "optional"),
    (CORE + "ServiceAccountTokenProjection", "expirationSeconds"),
    (CORE + "Toleration", "tolerationSeconds"),
    (CORE + "ClientIPConfig", "timeoutSeconds"),
    (CORE + "VolumeSource", "emptyDir"),
    (APPS + "StatefulSetSpec", "revisionHistoryLimit"),
    (APPS + "DaemonSetSpec", "revisionHistoryLimit"),
    (APPS + "RollingUpdateStatefulSetStrategy", "partition"),
    (APPS + "RollingUpdateStatefulSetStrategy", "maxUnavailable"),
    (APPS + "RollingUpdateDeployment", "maxUnavailable"),
    (APPS + "RollingUpdateDeployment", "maxSurge"),
    (APPS + "RollingUpdateDaemonSet", "maxUnavailable"),
    (APPS + "RollingUpdateDaemonSet", "maxSurge"),
    (BATCH + "JobSpec", "manualSelector"),
    (BATCH + "JobSpec", "suspend"),
    (BATCH + "JobSpec", "backoffLimitPerIndex"),
    (BATCH + "JobSpec", "maxFailedIndexes"),
    (BATCH + "CronJobSpec", "startingDeadlineSeconds"),
    (BATCH + "CronJobSpec", "suspend"),
    (BATCH + "CronJobSpec", "successfulJobsHistoryLimit"),
    (BATCH + "CronJobSpec", "failedJobsHistoryLimit"),
    (ASV1 + "HorizontalPodAutoscalerSpec", "minReplicas"),
    (ASV1 + "HorizontalPodAutoscalerSpec", "targetCPUUtilizationPercentage"),
    (ASV2 + "HorizontalPodAutoscalerSpec", "minReplicas"),
    (ASV2 + "MetricTarget", "averageUtilization"),
    (ASV2 + "HPAScalingRules", "stabilizationWindowSeconds"),
    (META + "ObjectMeta", "deletionGracePeriodSeconds"),
    (META + "OwnerReference", "controller"),
    (META + "OwnerReference", "blockOwnerDeletion"),
    (META + "DeleteOptions", "gracePeriodSeconds"),
    (META + "DeleteOptions", "orphanDependents"),
    ("k8s.io.api.coordination.v1.LeaseSpec", "leaseDurationSeconds"),
    ("k8s.io.api.coordination.v1.LeaseSpec", "leaseTransitions"),
]

# Embedded Go structs: their fields are written into the parent JSON object.
INLINE = [
    (CORE + "Volume", "volumeSource"),
    (CORE + "PersistentVolumeSpec", "persistentVolumeSource"),
    (CORE + "Probe", "handler"),
    (CORE + "EphemeralContainer", "ephemeralContainerCommon"),
] + [
    (CORE + m, "localObjectReference") for m in (
        "ConfigMapKeySelector", "SecretKeySelector", "ConfigMapEnvSource", "SecretEnvSource",
        "ConfigMapVolumeSource", "ConfigMapProjection", "SecretProjection")
]

# Kinds that are not k8s.io.api.<group>.<version>.<Kind> but still arrive as
# top-level bodies (apimachinery meta types registered in every group).
TOPLEVEL_EXTRA = [META + "DeleteOptions", META + "Status"]


def die(msg):
    sys.stderr.write("gen-pb-table: %s\n" % msg)
    sys.exit(1)


def c_str(s):
    if not all(c.isalnum() or c in "._-" for c in s):
        die("unexpected characters in name %r" % s)
    return '"%s"' % s


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "..", "shared", "reference", "kubernetes-protobuf-fields.json")
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "src", "codec", "pb_table.c")
    with open(src, encoding="utf-8") as f:
        data = json.load(f)
    msgs = dict(data["messages"])
    for name, fields in SUPPLEMENT.items():
        if name in msgs:
            die("supplement %s already in the input; drop it from SUPPLEMENT" % name)
        msgs[name] = fields

    names = sorted(msgs)
    index = {n: i for i, n in enumerate(names)}
    if len(names) > 32767:
        die("too many messages for int16_t indexes")

    keep = {tuple(k) for k in data.get("keepZero", [])} | set(KEEP_ZERO)
    inline = set(INLINE)
    for what, pairs in (("keepZero", keep), ("inline", inline)):
        for m, f in sorted(pairs):
            if m not in msgs or not any(v[0] == f for v in msgs[m].values()):
                die("%s entry %s.%s not in the table" % (what, m, f))

    out = []
    w = out.append
    w("/*\n * pb_table.c - GENERATED by scripts/gen-pb-table.py from\n"
      " * shared/reference/kubernetes-protobuf-fields.json (k8s.io/api and\n"
      " * apimachinery v0.33.1 generated.proto) plus the script's supplements.\n"
      " * DO NOT EDIT: change the script and regenerate.\n *\n"
      " * One row per protobuf message (sorted by full name for binary search), each\n"
      " * with its fields sorted by number.  See struct gt_pb_message in protobuf.h.\n */\n")
    w('#include "codec/protobuf.h"\n\n')

    rows = []
    for i, name in enumerate(names):
        fields = msgs[name]
        nums = sorted(int(n) for n in fields)
        frows = []
        for num in nums:
            jname, label, typ = fields[str(num)]
            if not 0 < num < (1 << 29):
                die("%s: bad field number %d" % (name, num))
            flags = []
            if label == "repeated":
                flags.append("GT_PB_REPEATED")
            elif label == "map":
                flags.append("GT_PB_MAP")
                if not isinstance(typ, list) or len(typ) != 2 or typ[0] != "string":
                    die("%s.%s: only map<string, V> is supported" % (name, jname))
                typ = typ[1]
            elif label != "optional":
                die("%s.%s: unknown label %s" % (name, jname, label))
            if (name, jname) in keep:
                flags.append("GT_PB_KEEP")
            if (name, jname) in inline:
                flags.append("GT_PB_INLINE")
            if typ in SCALARS:
                kind, child = SCALARS[typ], -1
            elif typ in index:
                kind, child = "GT_PB_MESSAGE", index[typ]
            else:
                die("%s.%s: unknown type %r" % (name, jname, typ))
            frows.append("\t{ %d, %s, %s, %d, %s },\n" % (
                num, kind, " | ".join(flags) or "0", child, c_str(jname)))
        if frows:
            w("static const struct gt_pb_field f%d[] = {\t/* %s */\n" % (i, name))
            w("".join(frows))
            w("};\n")
        special = SPECIAL.get(name, "GT_PB_PLAIN")
        toplevel = name in TOPLEVEL_EXTRA or any(
            v[0] == "metadata" and v[2] in (META + "ObjectMeta", META + "ListMeta")
            for v in fields.values())
        rows.append("\t{ %s, %s, %d, %s, %d },\n" % (
            c_str(name), ("f%d" % i) if frows else "NULL", len(frows), special, int(toplevel)))

    w("\nconst struct gt_pb_message gt_pb_messages[] = {\n")
    w("".join(rows))
    w("};\n\nconst size_t gt_pb_nmessages = %d;\n" % len(names))
    with open(dst, "w", encoding="utf-8") as f:
        f.write("".join(out))


if __name__ == "__main__":
    main()
