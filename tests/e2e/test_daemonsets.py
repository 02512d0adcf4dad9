"""DaemonSet controller (issue 4) across real `gantry agent`s joined to a
server started with --no-agent: one pod per node, pinned the Kubernetes
way and carrying the default tolerations; a node that joins later gets
one, a cordoned node keeps its own, a nodeSelector narrows the nodes, a
rolling update completes under `kubectl rollout status` (both kubectls),
a deleted node's pod goes; a selector not matching the template is
refused."""
import os

import pytest

from conftest import Agents, PodWatch, _ns_name, poll

K, K20 = "1.33", "1.20"


@pytest.fixture(scope="module")
def cluster(new_server):
    if os.geteuid() != 0:
        pytest.fail("agents need root (runc, CNI)")
    srv = new_server()  # API only (--no-agent)
    agents = Agents(srv)
    try:
        for node in ("ds-a", "ds-b"):
            agents.start(node, wait=False)
        assert poll(lambda: all(agents.ready(n) for n in ("ds-a", "ds-b")), 30), \
            "agents did not register"
        srv.agents = agents
        yield srv
    finally:
        left = agents.teardown()
        assert not left, "left behind: %r" % left


MANIFEST = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: mon}
spec:
  selector: {matchLabels: {app: mon}}
  template:
    metadata: {labels: {app: mon}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: host, command: [sleep, "3600"], env: [{name: V, value: "1"}]}]
"""


def pods(srv, ns):
    return [p for p in srv.get("/api/v1/namespaces/%s/pods?labelSelector=app%%3Dmon" % ns)["items"]
            if not p["metadata"].get("deletionTimestamp")]


def by_node(srv, ns):
    """{node: [pod, ...]} of the active pods, only when all are Running and Ready."""
    out = {}
    for p in pods(srv, ns):
        if p["status"].get("phase") != "Running" or not any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])):
            return None
        out.setdefault(p["spec"].get("nodeName"), []).append(p)
    return out


def one_each(srv, ns, nodes):
    m = by_node(srv, ns)
    return m is not None and sorted(m) == sorted(nodes) and all(len(v) == 1 for v in m.values())


def ds(srv, ns):
    return srv.get("/apis/apps/v1/namespaces/%s/daemonsets/mon" % ns)


def test_daemonset_follows_nodes(cluster):
    srv = cluster
    ns = srv.make_ns(_ns_name("ds-nodes"))
    srv.kubectl(K, "apply", "-n", ns, "-f", srv.write_manifest(MANIFEST))
    assert poll(lambda: one_each(srv, ns, ["ds-a", "ds-b"]), 60), by_node(srv, ns)
    d = ds(srv, ns)
    for p in pods(srv, ns):
        node = p["spec"]["nodeName"]
        terms = p["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                           "values": [node]}]}], terms
        tols = {(t["key"], t["effect"]) for t in p["spec"]["tolerations"]}
        assert {("node.kubernetes.io/not-ready", "NoExecute"),
                ("node.kubernetes.io/unreachable", "NoExecute"),
                ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                ("node.kubernetes.io/unschedulable", "NoSchedule")} <= tols, tols
        assert not any("tolerationSeconds" in t for t in p["spec"]["tolerations"])
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "DaemonSet" and ref["uid"] == d["metadata"]["uid"]
    for v in (K, K20):
        p = srv.kubectl(v, "rollout", "status", "ds/mon", "-n", ns, "--timeout=60s", timeout=90)
        assert 'daemon set "mon" successfully rolled out' in p.stdout, p
    st = ds(srv, ns)["status"]
    assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberReady"],
            st["numberAvailable"], st["updatedNumberScheduled"], st["numberMisscheduled"]) == \
        (2, 2, 2, 2, 2, 0), st
    evs = srv.get("/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name%%3Dmon" % ns)
    created = {e["message"] for e in evs["items"] if e["reason"] == "SuccessfulCreate"}
    assert created == {"Created pod: " + p["metadata"]["name"] for p in pods(srv, ns)}, created
    for v in (K, K20):
        p = srv.kubectl(v, "get", "ds", "mon", "-n", ns)
        assert p.stdout.split("\n")[1].split()[:6] == ["mon", "2", "2", "2", "2", "2"], p.stdout

    # a node that joins later gets one; cordoned, it keeps it (and gets it back)
    srv.agents.start("ds-c")
    assert poll(lambda: one_each(srv, ns, ["ds-a", "ds-b", "ds-c"]), 60), by_node(srv, ns)
    srv.kubectl(K, "cordon", "ds-c")
    old = by_node(srv, ns)["ds-c"][0]["metadata"]["name"]
    srv.kubectl(K, "delete", "pod", old, "-n", ns, "--wait=false")
    assert poll(lambda: one_each(srv, ns, ["ds-a", "ds-b", "ds-c"]) and
                by_node(srv, ns)["ds-c"][0]["metadata"]["name"] != old, 60), by_node(srv, ns)
    assert poll(lambda: ds(srv, ns)["status"].get("numberReady") == 3, 20), ds(srv, ns)["status"]

    # a node that goes away takes its pod with it
    srv.agents.stop("ds-c")
    srv.kubectl(K, "delete", "node", "ds-c")
    assert poll(lambda: one_each(srv, ns, ["ds-a", "ds-b"]), 60), by_node(srv, ns)
    assert poll(lambda: ds(srv, ns)["status"].get("desiredNumberScheduled") == 2, 20)

    # a NoSchedule taint keeps new pods off but lets the running one stay; NoExecute evicts it
    on_b = by_node(srv, ns)["ds-b"][0]["metadata"]["name"]
    srv.kubectl(K, "taint", "node", "ds-b", "k=v:NoSchedule")
    assert poll(lambda: ds(srv, ns)["status"].get("desiredNumberScheduled") == 1 and
                ds(srv, ns)["status"].get("numberMisscheduled") == 1, 20), ds(srv, ns)["status"]
    assert on_b in [p["metadata"]["name"] for p in pods(srv, ns)]
    srv.kubectl(K, "taint", "node", "ds-b", "k=v:NoExecute")
    assert poll(lambda: one_each(srv, ns, ["ds-a"]), 60), by_node(srv, ns)
    srv.kubectl(K, "taint", "node", "ds-b", "k-")
    assert poll(lambda: one_each(srv, ns, ["ds-a", "ds-b"]), 60), by_node(srv, ns)

    # a nodeSelector narrows it to the labelled node
    srv.kubectl(K, "label", "node", "ds-a", "role=mon")
    srv.kubectl(K, "patch", "ds", "mon", "-n", ns, "-p",
                '{"spec":{"template":{"spec":{"nodeSelector":{"role":"mon"}}}}}')
    assert poll(lambda: one_each(srv, ns, ["ds-a"]), 60), by_node(srv, ns)
    assert poll(lambda: ds(srv, ns)["status"].get("desiredNumberScheduled") == 1, 20)
    srv.kubectl(K, "delete", "ds", "mon", "-n", ns)
    assert poll(lambda: not pods(srv, ns), 60)


def test_daemonset_rolling_update(cluster):
    srv = cluster
    ns = srv.make_ns(_ns_name("ds-roll"))
    srv.kubectl(K, "apply", "-n", ns, "-f", srv.write_manifest(MANIFEST))
    assert poll(lambda: one_each(srv, ns, ["ds-a", "ds-b"]), 60), by_node(srv, ns)
    first = {p["metadata"]["name"] for p in pods(srv, ns)}
    watch = PodWatch(srv, ns)
    try:
        srv.kubectl(K, "set", "env", "ds/mon", "-n", ns, "V=2")
        for v in (K, K20):
            p = srv.kubectl(v, "rollout", "status", "ds/mon", "-n", ns, "--timeout=90s",
                            timeout=120)
            assert 'daemon set "mon" successfully rolled out' in p.stdout, p
    finally:
        watch.stop()
    # maxUnavailable 1: the second old pod went only after a new one was Ready
    ev = list(watch.events)
    gone = sorted(next(i for i, e in enumerate(ev) if e[1] == n and e[4]) for n in first)
    assert any(e[1] not in first and e[3] for e in ev[gone[0]:gone[1]]), ev
    assert poll(lambda: one_each(srv, ns, ["ds-a", "ds-b"]), 30), by_node(srv, ns)
    now = pods(srv, ns)
    assert not first & {p["metadata"]["name"] for p in now}
    assert all(p["spec"]["containers"][0]["env"][0]["value"] == "2" for p in now)
    revs = srv.get("/apis/apps/v1/namespaces/%s/controllerrevisions" % ns)["items"]
    assert sorted(r["revision"] for r in revs) == [1, 2], revs
    cur = [r for r in revs if r["revision"] == 2][0]
    assert all(cur["metadata"]["name"] == "mon-" + p["metadata"]["labels"][
        "controller-revision-hash"] for p in now), (cur["metadata"], now)

    # maxSurge: the new pod starts beside the old one, which goes once it is Ready
    srv.kubectl(K, "patch", "ds", "mon", "-n", ns, "-p",
                '{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}')
    old = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods(srv, ns)}
    watch = PodWatch(srv, ns)
    try:
        srv.kubectl(K, "set", "env", "ds/mon", "-n", ns, "V=3")
        p = srv.kubectl(K, "rollout", "status", "ds/mon", "-n", ns, "--timeout=90s", timeout=120)
        assert "successfully rolled out" in p.stdout, p
        # rollout status may finish before the watch has seen the old pods go
        assert poll(lambda: all(any(e[1] == n and e[4] for e in list(watch.events))
                                for n in old), 30), (old, list(watch.events))
    finally:
        watch.stop()
    ev = list(watch.events)
    for name, node in old.items():
        # on each node the new pod was Ready before the old one was deleted
        gone = next(i for i, e in enumerate(ev) if e[1] == name and e[4])
        assert any(e[1] not in old and e[5] == node and e[3] for e in ev[:gone]), (name, ev)
    assert poll(lambda: one_each(srv, ns, ["ds-a", "ds-b"]) and all(
        p["spec"]["containers"][0]["env"][0]["value"] == "3" for p in pods(srv, ns)), 30)
    for v in (K, K20):
        p = srv.kubectl(v, "rollout", "history", "ds/mon", "-n", ns)
        assert [l.split()[0] for l in p.stdout.splitlines()[2:] if l.strip()] == \
            ["1", "2", "3"], p.stdout
    srv.kubectl(K, "rollout", "undo", "ds/mon", "-n", ns)
    p = srv.kubectl(K20, "rollout", "status", "ds/mon", "-n", ns, "--timeout=90s", timeout=120)
    assert poll(lambda: one_each(srv, ns, ["ds-a", "ds-b"]) and all(
        p["spec"]["containers"][0]["env"][0]["value"] == "2" for p in pods(srv, ns)), 60)
    srv.kubectl(K, "delete", "ds", "mon", "-n", ns)
    assert poll(lambda: not pods(srv, ns), 60)


def test_daemonset_bad_input(cluster):
    srv = cluster
    ns = srv.make_ns(_ns_name("ds-bad"))
    body = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "bad"},
            "spec": {"selector": {"matchLabels": {"app": "x"}},
                     "template": {"metadata": {"labels": {"app": "y"}},
                                  "spec": {"containers": [{"name": "c", "image": "host"}]}}}}
    r = srv.request("POST", "/apis/apps/v1/namespaces/%s/daemonsets" % ns, body)
    assert r.status == 422, r
    causes = r.json()["details"]["causes"]
    assert any(c["field"] == "spec.template.metadata.labels" for c in causes), causes
    assert not srv.exists("/apis/apps/v1/namespaces/%s/daemonsets/bad" % ns)
