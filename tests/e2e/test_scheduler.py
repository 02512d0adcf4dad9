"""The scheduler (issue 4): pods without spec.nodeName are bound to a node
that fits them.  API-only tests register Node objects through the API (no
containers run: binding is what is checked), with GPU capacity, taints and
cordons; the embedded-agent test runs a scheduled pod for real, and one
that waits for a node label until the label appears."""
import time

import pytest

from conftest import _ns_name, agent_server, agent_teardown, hctr, poll, wait_pod


def node_obj(name, gpus=0, cpu="8", labels=None, taints=None):
    alloc = {"cpu": cpu, "memory": "32Gi", "pods": "110"}
    if gpus:
        alloc["nvidia.com/gpu"] = str(gpus)
    n = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
         "spec": {"taints": taints or []},
         "status": {"capacity": alloc, "allocatable": alloc,
                    "conditions": [{"type": "Ready", "status": "True"}]}}
    return n


def gpu_pod(name, gpus, **spec):
    s = {"containers": [{"name": "c", "image": "host", "command": ["true"],
                         "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}


def bound_to(srv, ns, name, timeout=10):
    path = "/api/v1/namespaces/%s/pods/%s" % (ns, name)
    poll(lambda: srv.get(path)["spec"].get("nodeName"), timeout)
    return srv.get(path)["spec"].get("nodeName")


def unsched_message(srv, ns, name, timeout=10):
    path = "/api/v1/namespaces/%s/pods/%s" % (ns, name)

    def msg():
        for c in srv.get(path)["status"].get("conditions", []):
            if c["type"] == "PodScheduled" and c["status"] == "False":
                return c["message"]
        return None
    poll(msg, timeout)
    return msg()


@pytest.fixture(scope="module")
def gsrv(new_server):
    # these nodes have no agent heartbeating: a long grace keeps the node
    # lifecycle controller from marking them Unknown during the module
    srv = new_server("--node-monitor-grace-period", "3600")
    for name in ("g1", "g2"):
        r = srv.request("POST", "/api/v1/nodes", node_obj(name, gpus=4))
        assert r.status == 201, r
        # a registering kubelet writes status through the status subresource too
        body = srv.get("/api/v1/nodes/" + name)
        body["status"] = node_obj(name, gpus=4)["status"]
        assert srv.request("PUT", "/api/v1/nodes/%s/status" % name, body).status == 200
    return srv


def test_gpu_binpacking_and_insufficient(gsrv):
    srv = gsrv
    ns = srv.make_ns(_ns_name("sched-gpu"))
    srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("a", 2))
    first = bound_to(srv, ns, "a")
    assert first in ("g1", "g2")
    # the partly used node is filled first: the other stays whole
    srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("b", 2))
    assert bound_to(srv, ns, "b") == first
    srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("c", 4))
    other = bound_to(srv, ns, "c")
    assert other and other != first
    srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("d", 1))
    assert unsched_message(srv, ns, "d") == \
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    assert not srv.get("/api/v1/namespaces/%s/pods/d" % ns)["spec"].get("nodeName")
    ev = srv.get("/api/v1/namespaces/%s/events" % ns)["items"]
    assert any(e["reason"] == "FailedScheduling" and e["involvedObject"]["name"] == "d" and
               "Insufficient nvidia.com/gpu" in e["message"] for e in ev), ev
    # capacity comes back: the pod is bound
    srv.request("DELETE", "/api/v1/namespaces/%s/pods/a" % ns, {"gracePeriodSeconds": 0})
    srv.wait_gone("/api/v1/namespaces/%s/pods/a" % ns)
    assert bound_to(srv, ns, "d") == first
    pod = srv.get("/api/v1/namespaces/%s/pods/d" % ns)
    assert any(c["type"] == "PodScheduled" and c["status"] == "True"
               for c in pod["status"]["conditions"]), pod["status"]


def test_taints_cordon_and_selectors(gsrv):
    srv = gsrv
    ns = srv.make_ns(_ns_name("sched-taint"))
    K = "1.33"
    srv.kubectl(K, "taint", "nodes", "g2", "dedicated=train:NoSchedule")
    srv.kubectl(K, "cordon", "g1")
    try:
        srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("t0", 0))
        assert unsched_message(srv, ns, "t0") == (
            "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: train}, "
            "1 node(s) were unschedulable.")
        srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("t1", 0, tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "train", "effect": "NoSchedule"}]))
        assert bound_to(srv, ns, "t1") == "g2"
        srv.kubectl(K, "uncordon", "g1")
        assert bound_to(srv, ns, "t0") == "g1"
        srv.kubectl(K, "label", "nodes", "g2", "zone=b")
        srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("sel", 0, nodeSelector={"zone": "b"},
                                                              tolerations=[{"operator": "Exists"}]))
        assert bound_to(srv, ns, "sel") == "g2"
        # another scheduler's pods are left alone
        srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("other", 0,
                                                              schedulerName="my-scheduler"))
        time.sleep(1)
        pod = srv.get("/api/v1/namespaces/%s/pods/other" % ns)
        assert not pod["spec"].get("nodeName") and not pod["status"].get("conditions"), pod
    finally:
        srv.kubectl(K, "taint", "nodes", "g2", "dedicated-", check=False)
        srv.kubectl(K, "uncordon", "g1", check=False)


@pytest.fixture(scope="module")
def asrv(new_server):
    s = agent_server(new_server, "agent-sched")
    yield s
    agent_teardown(s)


def create_unbound(srv, ns, body):
    """POST a pod without spec.nodeName (create_pod would bind it)."""
    p = srv.create("/api/v1/namespaces/%s/pods" % ns, body)
    srv.pod_uids.add(p["metadata"]["uid"])
    return p


def test_scheduled_pod_runs_and_waits_for_label(asrv):
    srv = asrv
    ns = srv.make_ns(_ns_name("sched-run"))
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "free"},
            "spec": {"restartPolicy": "Never", "containers": [hctr("c", "echo scheduled")]}}
    create_unbound(srv, ns, body)
    pod = wait_pod(srv, ns, "free", lambda p: p.get("status", {}).get("phase") == "Succeeded",
                   30, "Succeeded")
    assert pod["spec"]["nodeName"] == srv.node
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "waits"},
            "spec": {"restartPolicy": "Never", "nodeSelector": {"gantry-test": "yes"},
                     "containers": [hctr("c", "echo labelled")]}}
    create_unbound(srv, ns, body)
    assert unsched_message(srv, ns, "waits") == (
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.")
    srv.kubectl("1.33", "label", "nodes", srv.node, "gantry-test=yes")
    wait_pod(srv, ns, "waits", lambda p: p.get("status", {}).get("phase") == "Succeeded", 30,
             "Succeeded")


def test_gang_all_or_nothing(gsrv):
    """A PodGroup of 3 pods needing 2 GPUs each on nodes of 2 GPUs: with two
    nodes nothing is bound (no partial gang holds GPUs), with a third all
    three are; PodGroup is served (CRD installed by the server) and its
    status follows."""
    srv = gsrv
    ns = srv.make_ns(_ns_name("sched-gang"))

    def add_node(name):
        n = node_obj(name, gpus=2, labels={"pool": "gang"})
        n["status"]["allocatable"]["nvidia.com/gpu"] = "2"
        assert srv.request("POST", "/api/v1/nodes", n).status == 201
        body = srv.get("/api/v1/nodes/" + name)
        body["status"] = n["status"]
        assert srv.request("PUT", "/api/v1/nodes/%s/status" % name, body).status == 200

    add_node("h1")
    add_node("h2")
    r = srv.request("POST", "/apis/scheduling.x-k8s.io/v1alpha1/namespaces/%s/podgroups" % ns,
                    {"apiVersion": "scheduling.x-k8s.io/v1alpha1", "kind": "PodGroup",
                     "metadata": {"name": "train"},
                     "spec": {"minMember": 3, "scheduleTimeoutSeconds": 60}})
    assert r.status == 201, r
    for i in range(3):
        body = gpu_pod("w%d" % i, 2, nodeSelector={"pool": "gang"})
        body["metadata"]["labels"] = {"scheduling.x-k8s.io/pod-group": "train"}
        srv.create("/api/v1/namespaces/%s/pods" % ns, body)
    msg = unsched_message(srv, ns, "w0")
    assert msg and msg.startswith('pod group "train": only 2 of 3 pods fit at once; none is '
                                  'bound.'), msg
    time.sleep(1)
    pods = srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]
    assert not any(p["spec"].get("nodeName") for p in pods), \
        [(p["metadata"]["name"], p["spec"].get("nodeName")) for p in pods]
    pg = srv.get("/apis/scheduling.x-k8s.io/v1alpha1/namespaces/%s/podgroups/train" % ns)
    assert pg["status"]["phase"] == "Pending", pg
    # room for the whole gang: all of it is bound, on three different nodes
    add_node("h3")
    nodes = sorted(bound_to(srv, ns, "w%d" % i) or "-" for i in range(3))
    assert nodes == ["h1", "h2", "h3"], nodes
    pg = srv.get("/apis/scheduling.x-k8s.io/v1alpha1/namespaces/%s/podgroups/train" % ns)
    assert pg["status"] == {"phase": "Scheduled", "scheduled": 3}, pg
    p = srv.kubectl("1.33", "get", "pg", "-n", ns)
    assert "train" in p.stdout and "Scheduled" in p.stdout and "MINMEMBER" in p.stdout, p.stdout


def test_priority_classes(gsrv):
    """Pods get spec.priority from their PriorityClass (or the global
    default); an unknown class is refused; the scheduler takes the higher
    priority first when both cannot fit."""
    srv = gsrv
    ns = srv.make_ns(_ns_name("sched-prio"))
    for name, value, default in (("high", 1000, False), ("low-default", 10, True)):
        r = srv.request("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "globalDefault": default})
        assert r.status == 201, r
    try:
        p = srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("dflt", 0, nodeName="g1"))
        assert p["spec"]["priority"] == 10 and p["spec"]["priorityClassName"] == "low-default", p
        p = srv.create("/api/v1/namespaces/%s/pods" % ns,
                       gpu_pod("hi", 0, nodeName="g1", priorityClassName="high"))
        assert p["spec"]["priority"] == 1000, p
        p = srv.create("/api/v1/namespaces/%s/pods" % ns,
                       gpu_pod("sys", 0, nodeName="g1", priorityClassName="system-node-critical"))
        assert p["spec"]["priority"] == 2000001000, p
        r = srv.request("POST", "/api/v1/namespaces/%s/pods" % ns,
                        gpu_pod("bad", 0, priorityClassName="nope"))
        assert r.status == 403 and "no PriorityClass with name nope was found" in \
            r.json()["message"], r
        r = srv.request("POST", "/api/v1/namespaces/%s/pods" % ns,
                        gpu_pod("forged", 0, priorityClassName="high", priority=5))
        assert r.status == 403 and "must not be provided" in r.json()["message"], r
        assert srv.request("GET", "/api/v1/namespaces/%s/pods/bad" % ns).status == 404
        # one GPU left in the cluster: take it, queue a low and a high pod,
        # free it: the high one gets it although it came later
        srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("lo1", 1))
        assert bound_to(srv, ns, "lo1")
        srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("lo2", 1))
        srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("hi2", 1, priorityClassName="high"))
        assert unsched_message(srv, ns, "lo2") and unsched_message(srv, ns, "hi2")
        srv.request("DELETE", "/api/v1/namespaces/%s/pods/lo1" % ns, {"gracePeriodSeconds": 0})
        assert bound_to(srv, ns, "hi2")
        time.sleep(1)
        assert not srv.get("/api/v1/namespaces/%s/pods/lo2" % ns)["spec"].get("nodeName")
    finally:
        for name in ("high", "low-default"):
            srv.request("DELETE", "/apis/scheduling.k8s.io/v1/priorityclasses/" + name)
