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
    srv = new_server()
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
