"""The Eviction API, PodDisruptionBudgets and drain (issue 4).

API-level tests run a server without agents: a Node registered through the
API and pods whose status is written through the status subresource, as a
kubelet would, so the budget arithmetic, the 429 and the atomic decrement
are checked exactly.  The drain test runs two real agents and drains with
kubectl 1.33 and 1.20: evictions get 429 while the budget forbids them and
the drain finishes once replacements are Ready on the other node."""
import json
import threading

import pytest

from conftest import Agents, _ns_name, poll

EVICT_MSG = "Cannot evict pod as it would violate the pod's disruption budget."


# ---- helpers ---------------------------------------------------------------

def fake_node(srv, name):
    alloc = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    srv.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    body = srv.get("/api/v1/nodes/" + name)
    body["status"] = {"capacity": alloc, "allocatable": alloc,
                      "conditions": [{"type": "Ready", "status": "True"}]}
    assert srv.request("PUT", "/api/v1/nodes/%s/status" % name, body).status == 200


def fake_pod(srv, ns, name, node, labels, ready=True, phase="Running"):
    """A pod bound to node whose status a fake kubelet set."""
    p = srv.create("/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "host"}]}})
    p["status"] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}
    r = srv.request("PUT", "/api/v1/namespaces/%s/pods/%s/status" % (ns, name), p)
    assert r.status == 200, r
    return p


def pdb(srv, ns, name, labels, expect=201, **spec):
    spec["selector"] = {"matchLabels": labels}
    r = srv.request("POST", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % ns, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
        "spec": spec})
    assert r.status == expect, r
    return r.json()


def pdb_status(srv, ns, name):
    return srv.get("/apis/policy/v1/namespaces/%s/poddisruptionbudgets/%s" % (ns, name)).get(
        "status", {})


def evict(srv, ns, name, version="policy/v1", **extra):
    body = {"apiVersion": version, "kind": "Eviction",
            "metadata": {"name": name, "namespace": ns}}
    body.update(extra)
    return srv.request("POST", "/api/v1/namespaces/%s/pods/%s/eviction" % (ns, name), body)


def settled(srv, ns, name, allowed, healthy):
    """Wait for the disruption controller to report these numbers."""
    def ok():
        st = pdb_status(srv, ns, name)
        return st.get("disruptionsAllowed") == allowed and st.get("currentHealthy") == healthy
    assert poll(ok, 20), pdb_status(srv, ns, name)
    return pdb_status(srv, ns, name)


@pytest.fixture(scope="module")
def api(new_server):
    srv = new_server("--default-not-ready-toleration-seconds", "120",
                     "--default-unreachable-toleration-seconds", "90")
    fake_node(srv, "pdb-node")
    return srv


# ---- API-level -------------------------------------------------------------

def test_discovery_lists_eviction(api):
    res = api.get("/api/v1")["resources"]
    ev = [r for r in res if r["name"] == "pods/eviction"]
    assert ev and ev[0]["kind"] == "Eviction" and ev[0]["group"] == "policy" and \
        ev[0]["version"] == "v1" and ev[0]["verbs"] == ["create"], ev
    groups = {g["name"]: g for g in api.get("/apis")["groups"]}
    assert groups["policy"]["preferredVersion"]["groupVersion"] == "policy/v1"


def test_pdb_status_and_429(api):
    ns = api.make_ns("pdb-status")
    labels = {"app": "web"}
    for i in range(3):
        fake_pod(api, ns, "web-%d" % i, "pdb-node", labels)
    fake_pod(api, ns, "other", "pdb-node", {"app": "other"})
    pdb(api, ns, "web-pdb", labels, minAvailable=2)
    st = settled(api, ns, "web-pdb", 1, 3)
    assert st["desiredHealthy"] == 2 and st["expectedPods"] == 3 and st["observedGeneration"] == 1
    cond = [c for c in st["conditions"] if c["type"] == "DisruptionAllowed"]
    assert cond and cond[0]["status"] == "True" and cond[0]["reason"] == "SufficientPods", st
    for v in ("1.33", "1.20"):
        out = api.kubectl(v, "get", "pdb", "-n", ns).stdout.splitlines()
        assert out[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED",
                                  "DISRUPTIONS", "AGE"], out
        assert out[1].split()[:4] == ["web-pdb", "2", "N/A", "1"], out

    # a pod the budget does not select is evicted without asking it
    assert evict(api, ns, "other").status == 201
    # one disruption allowed: the first eviction passes and is recorded ...
    r = evict(api, ns, "web-0")
    assert r.status == 201 and r.json()["status"] == "Success", r
    pod = api.get("/api/v1/namespaces/%s/pods/web-0" % ns)
    assert pod["metadata"].get("deletionTimestamp"), "evicted pod not being deleted: %r" % pod
    dt = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert dt and dt[0]["reason"] == "EvictionByEvictionAPI", pod["status"]
    # ... and the next one is refused: 429 with Kubernetes' message and cause
    r = evict(api, ns, "web-1")
    assert r.status == 429, r
    st429 = r.json()
    assert st429["reason"] == "TooManyRequests" and st429["message"] == EVICT_MSG, st429
    causes = st429["details"]["causes"]
    assert causes[0]["reason"] == "DisruptionBudget" and "web-pdb" in causes[0]["message"], causes
    # no Retry-After (as Kubernetes): clients such as kubectl drain see the
    # 429 and say why they wait instead of retrying inside client-go
    assert "retry-after" not in r.headers and "retryAfterSeconds" not in st429["details"]
    assert not api.get("/api/v1/namespaces/%s/pods/web-1" % ns)["metadata"].get(
        "deletionTimestamp")
    st = settled(api, ns, "web-pdb", 0, 2)
    cond = [c for c in st["conditions"] if c["type"] == "DisruptionAllowed"][0]
    assert cond["status"] == "False" and cond["reason"] == "InsufficientPods", st

    # a pod that is not Ready does not count; evicting it spends nothing
    # while the budget is met
    fake_pod(api, ns, "web-3", "pdb-node", labels)
    settled(api, ns, "web-pdb", 1, 3)
    fake_pod(api, ns, "web-4", "pdb-node", labels, ready=False)
    assert evict(api, ns, "web-4").status == 201
    assert pdb_status(api, ns, "web-pdb")["disruptionsAllowed"] == 1
    # a Pending pod is evictable whatever the budget says
    fake_pod(api, ns, "web-5", "pdb-node", labels, ready=False, phase="Pending")
    pdb(api, ns, "strict", {"app": "strict"}, maxUnavailable=0)
    fake_pod(api, ns, "strict-0", "pdb-node", {"app": "strict"}, ready=False, phase="Pending")
    assert evict(api, ns, "strict-0").status == 201


def test_percent_budget_uses_controller_scale(api):
    ns = api.make_ns("pdb-percent")
    rs = api.create("/apis/apps/v1/namespaces/%s/replicasets" % ns, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "rs"}},
                 "template": {"metadata": {"labels": {"app": "rs"}},
                              "spec": {"nodeName": "pdb-node",
                                       "containers": [{"name": "c", "image": "host"}]}}}})
    assert poll(lambda: len(api.get("/api/v1/namespaces/%s/pods" % ns)["items"]) == 4, 20)
    for p in api.get("/api/v1/namespaces/%s/pods" % ns)["items"]:
        p["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        assert api.request("PUT", "/api/v1/namespaces/%s/pods/%s/status" % (
            ns, p["metadata"]["name"]), p).status == 200
    pdb(api, ns, "half", {"app": "rs"}, maxUnavailable="50%")
    st = settled(api, ns, "half", 2, 4)
    assert st["expectedPods"] == 4 and st["desiredHealthy"] == 2, st
    assert rs["spec"]["replicas"] == 4


def test_concurrent_evictions_spend_one_disruption(api):
    """Two evictions racing for the last allowed disruption: one passes."""
    ns = api.make_ns("pdb-race")
    for rnd in range(3):
        labels = {"app": "race%d" % rnd}
        for i in range(3):
            fake_pod(api, ns, "r%d-%d" % (rnd, i), "pdb-node", labels)
        pdb(api, ns, "race%d" % rnd, labels, minAvailable=2)
        settled(api, ns, "race%d" % rnd, 1, 3)
        results = {}
        barrier = threading.Barrier(2)

        def go(name):
            barrier.wait()
            results[name] = evict(api, ns, name).status
        ts = [threading.Thread(target=go, args=("r%d-%d" % (rnd, i),)) for i in (0, 1)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert sorted(results.values()) == [201, 429], results
        st = pdb_status(api, ns, "race%d" % rnd)
        assert st["disruptionsAllowed"] == 0 and len(st.get("disruptedPods", {})) <= 1, st


def test_python_client_eviction(api):
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    ns = api.make_ns("pdb-python")
    fake_pod(api, ns, "py-0", "pdb-node", {"app": "py"})
    pdb(api, ns, "py", {"app": "py"}, minAvailable=1)
    settled(api, ns, "py", 0, 1)
    core = client.CoreV1Api(api.api_client())
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name="py-0", namespace=ns))
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod_eviction("py-0", ns, body)
    assert e.value.status == 429 and EVICT_MSG in e.value.body
    pd = client.PolicyV1Api(api.api_client()).read_namespaced_pod_disruption_budget("py", ns)
    assert pd.status.disruptions_allowed == 0 and pd.status.current_healthy == 1


def test_eviction_delete_options_and_dry_run(api):
    ns = api.make_ns("pdb-opts")
    p = fake_pod(api, ns, "o-0", "pdb-node", {"app": "o"})
    r = evict(api, ns, "o-0", deleteOptions={"dryRun": ["All"]})
    assert r.status == 201, r
    assert not api.get("/api/v1/namespaces/%s/pods/o-0" % ns)["metadata"].get("deletionTimestamp")
    r = evict(api, ns, "o-0", deleteOptions={"preconditions": {"uid": "not-the-uid"}})
    assert r.status == 409 and "Precondition failed" in r.json()["message"], r
    r = evict(api, ns, "o-0", version="policy/v1beta1",
              deleteOptions={"gracePeriodSeconds": 0,
                             "preconditions": {"uid": p["metadata"]["uid"]}})
    assert r.status == 201, r
    assert api.wait_gone("/api/v1/namespaces/%s/pods/o-0" % ns), "grace 0 eviction kept the pod"


def test_bad_input(api):
    ns = api.make_ns("pdb-bad")
    fake_pod(api, ns, "b-0", "pdb-node", {"app": "b"})
    r = evict(api, ns, "missing")
    assert r.status == 404 and r.json()["message"] == 'pods "missing" not found', r
    r = api.request("POST", "/api/v1/namespaces/%s/pods/b-0/eviction" % ns, "{not json")
    assert r.status == 400 and r.json()["reason"] == "BadRequest", r
    r = evict(api, ns, "b-0", deleteOptions={"gracePeriodSeconds": "soon"})
    assert r.status == 400 and "gracePeriodSeconds" in r.json()["message"], r
    r = api.request("POST", "/api/v1/namespaces/%s/pods/b-0/eviction" % ns, {
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}})
    assert r.status == 400 and r.json()["message"] == \
        "name in URL does not match name in Eviction object", r
    r = api.request("POST", "/api/v1/namespaces/%s/pods/b-0/eviction" % ns, {
        "apiVersion": "policy/v1", "kind": "Pod", "metadata": {"name": "b-0"}})
    assert r.status == 400, r
    assert not api.get("/api/v1/namespaces/%s/pods/b-0" % ns)["metadata"].get("deletionTimestamp")

    r = pdb(api, ns, "both", {"app": "b"}, expect=422, minAvailable=1, maxUnavailable=1)
    st = r
    assert st["reason"] == "Invalid" and [c["field"] for c in st["details"]["causes"]] == ["spec"]
    assert "minAvailable and maxUnavailable cannot be both set" in st["message"], st
    st = pdb(api, ns, "pct", {"app": "b"}, expect=422, minAvailable="120%")
    assert st["details"]["causes"][0]["field"] == "spec.minAvailable" and \
        "must not be greater than 100%" in st["message"], st
    st = pdb(api, ns, "neg", {"app": "b"}, expect=422, maxUnavailable=-1)
    assert st["details"]["causes"][0]["field"] == "spec.maxUnavailable", st
    st = pdb(api, ns, "word", {"app": "b"}, expect=422, maxUnavailable="half")
    assert st["details"]["causes"][0]["field"] == "spec.maxUnavailable", st
    st = pdb(api, ns, "pol", {"app": "b"}, expect=422, minAvailable=1,
             unhealthyPodEvictionPolicy="Sometimes")
    assert st["details"]["causes"][0]["field"] == "spec.unhealthyPodEvictionPolicy", st
    r = api.request("POST", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % ns, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "t"},
        "spec": {"minAvailable": True}})
    assert r.status == 400, r
    assert api.request("GET", "/apis/policy/v1/namespaces/%s/poddisruptionbudgets" % ns
                       ).json()["items"] == []


def test_default_toleration_seconds(api):
    ns = api.make_ns("pdb-tolerations")
    p = fake_pod(api, ns, "t-0", "pdb-node", {"app": "t"})
    tols = {t["key"]: t for t in api.get("/api/v1/namespaces/%s/pods/t-0" % ns)["spec"][
        "tolerations"]}
    assert tols["node.kubernetes.io/not-ready"] == {
        "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
        "tolerationSeconds": 120}, tols
    assert tols["node.kubernetes.io/unreachable"]["tolerationSeconds"] == 90, tols
    assert p["metadata"]["name"] == "t-0"
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
           "effect": "NoExecute", "tolerationSeconds": 7}
    q = api.create("/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t-1"},
        "spec": {"tolerations": [own], "containers": [{"name": "c", "image": "host"}]}})
    tl = q["spec"]["tolerations"]
    assert own in tl and len([t for t in tl if t["key"] == own["key"]]) == 1, tl
    assert any(t["key"] == "node.kubernetes.io/not-ready" and t["tolerationSeconds"] == 120
               for t in tl), tl
    # a patch that replaces the list keeps the defaults (pods may only add
    # tolerations, so dropping them would be refused)
    extra = {"key": "extra", "operator": "Exists", "effect": "NoSchedule"}
    r = api.request("PATCH", "/api/v1/namespaces/%s/pods/t-1" % ns,
                    {"spec": {"tolerations": [own, extra]}},
                    content_type="application/merge-patch+json")
    assert r.status == 200, r
    tl = r.json()["spec"]["tolerations"]
    assert own in tl and extra in tl and any(
        t["key"] == "node.kubernetes.io/not-ready" and t["tolerationSeconds"] == 120 for t in tl), tl
    assert json.dumps(tl)


# ---- drain with real agents ------------------------------------------------

DRAIN_NODES = ["drain-a", "drain-b"]


@pytest.fixture(scope="module")
def cluster(new_server):
    import os
    if os.geteuid() != 0:
        pytest.fail("agents need root (runc, CNI)")
    srv = new_server()
    agents = Agents(srv)
    try:
        for node in DRAIN_NODES:
            agents.start(node, wait=False)
        assert poll(lambda: all(agents.ready(n) for n in DRAIN_NODES), 30), \
            "agents did not register"
        srv.agents = agents
        yield srv
    finally:
        left = agents.teardown()
        assert not left, "left behind: %r" % left


def _web(srv, ns):
    return [p for p in srv.get("/api/v1/namespaces/%s/pods?labelSelector=app%%3Dweb" % ns)["items"]]


def _describe(srv, ns):
    return "\n".join("%s on %s phase=%s deleting=%s" % (
        p["metadata"]["name"], p["spec"].get("nodeName"), p["status"].get("phase"),
        bool(p["metadata"].get("deletionTimestamp"))) for p in _web(srv, ns))


def _ready_on(srv, ns, node):
    return [p for p in _web(srv, ns) if p["spec"].get("nodeName") == node and
            not p["metadata"].get("deletionTimestamp") and
            any(c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", []))]


@pytest.mark.parametrize("kubectl,src,dst", [("1.33", "drain-a", "drain-b"),
                                             ("1.20", "drain-b", "drain-a")])
def test_drain_respects_pdb(cluster, kubectl, src, dst):
    """All three replicas on src; a budget of minAvailable 2 lets one go at
    a time, so drain is refused (429) until a replacement is Ready on dst,
    and finishes with every pod there."""
    srv = cluster
    other = "1.20" if kubectl == "1.33" else "1.33"
    ns = srv.make_ns(_ns_name("drain-" + kubectl))
    srv.kubectl(other, "cordon", dst)
    assert srv.get("/api/v1/nodes/" + dst)["spec"].get("unschedulable") is True
    srv.create("/apis/apps/v1/namespaces/%s/deployments" % ns, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "host",
                                     "command": ["sh", "-c", "sleep 3600"]}],
                     "volumes": [{"name": "scratch", "emptyDir": {}}]}}}})
    assert poll(lambda: len(_ready_on(srv, ns, src)) == 3, 60), _describe(srv, ns)
    pdb(srv, ns, "web", {"app": "web"}, minAvailable=2)
    settled(srv, ns, "web", 1, 3)
    srv.kubectl(kubectl, "uncordon", dst)
    assert not srv.get("/api/v1/nodes/" + dst)["spec"].get("unschedulable")

    p = srv.kubectl(kubectl, "drain", src, "--ignore-daemonsets", "--delete-emptydir-data",
                    "--timeout=150s", timeout=180)
    out = p.stdout + p.stderr
    assert EVICT_MSG in out, "drain never hit the budget:\n" + out
    # the last line: 1.33 says "drained", 1.20 "evicted"
    assert ("node/%s drained" % src) in out or ("node/%s evicted" % src) in out, out
    assert srv.get("/api/v1/nodes/" + src)["spec"].get("unschedulable") is True
    assert len(_ready_on(srv, ns, dst)) == 3 and not [
        p for p in _web(srv, ns) if p["spec"].get("nodeName") == src], _describe(srv, ns)
    srv.kubectl(other, "uncordon", src)
    assert not srv.get("/api/v1/nodes/" + src)["spec"].get("unschedulable")
    srv.kubectl(other, "delete", "namespace", ns, "--wait=false")
