"""Node failure recovery (issue 4): a server without an embedded agent and
two real agents heartbeating every second, a short node grace period and
short default tolerations.  Killing one agent (SIGKILL: its containers keep
running, as on a node that lost its kubelet) turns its node Unknown with
the unreachable taints; its pods turn not Ready, are evicted by the taint
manager once their toleration runs out and come back, Running, on the other
node through their ReplicaSet.  The agent restarted makes the node Ready
again, its taints go, and it finishes the pods that were evicted from it.
A node posting Ready=False gets the not-ready taints instead.  A paused
agent (SIGSTOP: a node cut off for a while) makes its node
Unknown and its pods not Ready; resumed, it reports both Ready again at
once, and pods that tolerate the taint long enough are not touched.  A node
deleted from the API has its pods removed by the pod GC."""
import json
import os
import signal

import pytest

from conftest import Agents, poll

NODES = ["nlc-a", "nlc-b"]
GRACE, TOLERATION = 5, 4
UNREACHABLE = "node.kubernetes.io/unreachable"


@pytest.fixture(scope="module")
def cluster(new_server):
    if os.geteuid() != 0:
        pytest.fail("agents need root (runc, CNI)")
    srv = new_server("--node-monitor-grace-period", str(GRACE),
                     "--default-unreachable-toleration-seconds", str(TOLERATION),
                     "--default-not-ready-toleration-seconds", str(TOLERATION))
    agents = Agents(srv, "--heartbeat-seconds", "1")
    try:
        for node in NODES:
            agents.start(node, wait=False)
        assert poll(lambda: all(agents.ready(n) for n in NODES), 30), "agents did not register"
        srv.agents = agents
        yield srv
    finally:
        left = agents.teardown()
        assert not left, "left behind: %r" % left


def node(srv, name):
    return srv.get("/api/v1/nodes/" + name)


def ready_cond(n):
    return next((c for c in n.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {})


def cond(pod, type_):
    return next((c for c in pod.get("status", {}).get("conditions", []) if c["type"] == type_), {})


def pods(srv, ns):
    return srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]


def describe(srv, ns):
    return "\n".join("%s on %s phase=%s deleting=%s" % (
        p["metadata"]["name"], p["spec"].get("nodeName"), p["status"].get("phase"),
        bool(p["metadata"].get("deletionTimestamp"))) for p in pods(srv, ns))


def test_dead_node_pods_move_and_node_recovers(cluster):
    srv, agents = cluster, cluster.agents
    ns = srv.make_ns("nlc")
    srv.create("/apis/apps/v1/namespaces/%s/replicasets" % ns, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "terminationGracePeriodSeconds": 2,
                     "containers": [{"name": "c", "image": "host",
                                     "command": ["sh", "-c", "sleep 3600"],
                                     "resources": {"requests": {"cpu": "100m"}}}]}}}})

    def running():
        return [p for p in pods(srv, ns) if p["status"].get("phase") == "Running"
                and not p["metadata"].get("deletionTimestamp")]
    assert poll(lambda: len(running()) == 4, 60), describe(srv, ns)
    on = {p["spec"]["nodeName"] for p in running()}
    assert on == set(NODES), "pods not spread over both nodes:\n" + describe(srv, ns)
    # DefaultTolerationSeconds admission gave each pod the short tolerations
    tol = [t for t in running()[0]["spec"]["tolerations"] if t["key"] == UNREACHABLE]
    assert tol == [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": TOLERATION}], running()[0]["spec"]["tolerations"]
    victims = {p["metadata"]["name"] for p in running() if p["spec"]["nodeName"] == "nlc-a"}
    survivors = {p["metadata"]["name"] for p in running() if p["spec"]["nodeName"] == "nlc-b"}

    agents.stop("nlc-a", kill=True)
    # the node turns Unknown, as Kubernetes says it, and gets the taints
    assert poll(lambda: ready_cond(node(srv, "nlc-a")).get("status") == "Unknown", 60), \
        node(srv, "nlc-a")
    n = node(srv, "nlc-a")
    rc = ready_cond(n)
    assert rc["reason"] == "NodeStatusUnknown" and \
        rc["message"] == "Kubelet stopped posting node status.", rc
    taints = {(t["key"], t["effect"]): t for t in n["spec"].get("taints", [])}
    assert (UNREACHABLE, "NoSchedule") in taints and (UNREACHABLE, "NoExecute") in taints, n["spec"]
    assert taints[(UNREACHABLE, "NoExecute")].get("timeAdded"), taints
    assert ready_cond(node(srv, "nlc-b")).get("status") == "True"
    # its pods are not Ready any more
    def victims_not_ready():
        ps = {p["metadata"]["name"]: p for p in pods(srv, ns)}
        return all(cond(ps[v], "Ready").get("status") == "False" for v in victims if v in ps)
    assert poll(victims_not_ready, 30), describe(srv, ns)

    # after the toleration the taint manager evicts them (they stay
    # Terminating: no agent can confirm), and replacements run on nlc-b
    def evicted():
        ps = {p["metadata"]["name"]: p for p in pods(srv, ns)}
        return all(v not in ps or (ps[v]["metadata"].get("deletionTimestamp") and
                                   cond(ps[v], "DisruptionTarget").get("reason") ==
                                   "DeletionByTaintManager") for v in victims)
    assert poll(evicted, 60), describe(srv, ns)
    reasons = {(e["involvedObject"]["name"], e["reason"])
               for e in srv.get("/api/v1/namespaces/%s/events" % ns)["items"]}
    assert all((v, "TaintManagerEviction") in reasons and (v, "NodeNotReady") in reasons
               for v in victims), reasons
    assert any(e["involvedObject"] == {**e["involvedObject"], "kind": "Node", "name": "nlc-a"}
               and e["reason"] == "NodeNotReady"
               for e in srv.get("/api/v1/namespaces/default/events")["items"])
    assert poll(lambda: len(running()) == 4 and
                all(p["spec"]["nodeName"] == "nlc-b" for p in running()), 60), describe(srv, ns)
    assert survivors <= {p["metadata"]["name"] for p in running()}, describe(srv, ns)
    rs = srv.get("/apis/apps/v1/namespaces/%s/replicasets/web" % ns)
    assert poll(lambda: srv.get("/apis/apps/v1/namespaces/%s/replicasets/web" % ns)["status"].get(
        "readyReplicas") == 4, 30), rs["status"]

    # the agent comes back: node Ready, taints gone, evicted pods finished
    agents.start("nlc-a")
    assert poll(lambda: ready_cond(node(srv, "nlc-a")).get("status") == "True" and
                not [t for t in node(srv, "nlc-a")["spec"].get("taints", [])
                     if t["key"] == UNREACHABLE], 30), node(srv, "nlc-a")
    assert poll(lambda: not victims & {p["metadata"]["name"] for p in pods(srv, ns)}, 60), \
        describe(srv, ns)
    assert len(running()) == 4


def test_deleted_node_pods_are_collected(cluster):
    """A pod bound to a node deleted from the API is removed (pod GC)."""
    srv = cluster
    ns = srv.make_ns("nlc-gc")
    srv.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                 "metadata": {"name": "nlc-ghost"}})
    srv.create("/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan"},
        "spec": {"nodeName": "nlc-ghost", "containers": [{"name": "c", "image": "host"}]}})
    # the ghost node never heartbeats: it turns Unknown (never updated) too
    assert poll(lambda: ready_cond(node(srv, "nlc-ghost")).get("status") == "Unknown", 30)
    assert srv.exists("/api/v1/namespaces/%s/pods/orphan" % ns)
    assert srv.request("DELETE", "/api/v1/nodes/nlc-ghost").status == 200
    assert srv.wait_gone("/api/v1/namespaces/%s/pods/orphan" % ns, 60), \
        srv.get("/api/v1/namespaces/%s/pods/orphan" % ns)


def test_paused_agent_comes_back_ready(cluster):
    srv, agents = cluster, cluster.agents
    ns = srv.make_ns("nlc-pause")
    tol = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 600}
    srv.create("/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "patient"},
        "spec": {"nodeName": "nlc-b", "terminationGracePeriodSeconds": 1, "tolerations": [tol],
                 "containers": [{"name": "c", "image": "host",
                                 "command": ["sh", "-c", "sleep 3600"]}]}})
    path = "/api/v1/namespaces/%s/pods/patient" % ns
    assert poll(lambda: cond(srv.get(path), "Ready").get("status") == "True", 60), srv.get(path)
    proc = agents.procs["nlc-b"]
    proc.send_signal(signal.SIGSTOP)
    try:
        assert poll(lambda: ready_cond(node(srv, "nlc-b")).get("status") == "Unknown", 60)
        assert poll(lambda: cond(srv.get(path), "Ready").get("status") == "False", 30), \
            srv.get(path)["status"]
    finally:
        proc.send_signal(signal.SIGCONT)
    assert poll(lambda: ready_cond(node(srv, "nlc-b")).get("status") == "True" and
                not node(srv, "nlc-b")["spec"].get("taints"), 30), node(srv, "nlc-b")
    assert poll(lambda: cond(srv.get(path), "Ready").get("status") == "True", 30), \
        srv.get(path)["status"]
    assert not srv.get(path)["metadata"].get("deletionTimestamp")


def test_not_ready_node_gets_not_ready_taints(cluster):
    """A kubelet posting Ready=False (heartbeating through its status) gets
    the not-ready taints, and loses them when it posts Ready=True."""
    import datetime
    srv = cluster
    srv.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                 "metadata": {"name": "nlc-sick"}})

    def post(status):
        # the node controller writes the node too (taints): a 409 means read again
        for _ in range(20):
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = srv.get("/api/v1/nodes/nlc-sick")
            body["status"] = {"conditions": [{"type": "Ready", "status": status,
                                              "reason": "KubeletNotReady",
                                              "lastHeartbeatTime": now,
                                              "lastTransitionTime": now}]}
            r = srv.request("PUT", "/api/v1/nodes/nlc-sick/status", body)
            if r.status != 409:
                break
        assert r.status == 200, r

    def taints():
        spec = node(srv, "nlc-sick").get("spec", {})
        return {(t["key"], t["effect"]) for t in spec.get("taints", [])}

    def heartbeat_until(status, want):
        def check():
            post(status)
            return taints() == want
        return poll(check, 30, 0.5)
    nr = "node.kubernetes.io/not-ready"
    assert heartbeat_until("False", {(nr, "NoSchedule"), (nr, "NoExecute")}), taints()
    assert ready_cond(node(srv, "nlc-sick"))["status"] == "False"
    assert heartbeat_until("True", set()), taints()
    assert srv.request("DELETE", "/api/v1/nodes/nlc-sick").status == 200


def test_training_gang_restarts_when_a_ranks_node_dies(cluster):
    """A PyTorchJob rank's node dies (its agent SIGKILLed): as soon as the
    node is Unknown - not after the pods' eviction timeout - the whole gang
    restarts as the next epoch, the dead node's rank is removed (no agent
    will ever finish it) and the new gang runs on the healthy node."""
    srv, agents = cluster, cluster.agents
    ns = srv.make_ns("nlc-train")
    # tolerate the unreachable taint for long: only the training controller
    # may react here, not the taint manager
    tol = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 600}]

    def spec(**extra):
        s = {"terminationGracePeriodSeconds": 1, "tolerations": tol,
             "containers": [{"name": "pytorch", "image": "host", "command": ["sleep", "3600"]}]}
        s.update(extra)
        return {"replicas": 1, "restartPolicy": "OnFailure", "template": {"spec": s}}
    path = "/apis/kubeflow.org/v1/namespaces/%s/pytorchjobs" % ns
    srv.create(path, {
        "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
        "metadata": {"name": "pt", "annotations": {"training.gantry.dev/checkpoint-claim": "none"}},
        "spec": {"pytorchReplicaSpecs": {
            "Master": spec(nodeSelector={"kubernetes.io/hostname": "nlc-b"}),
            "Worker": spec(affinity={"nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 100, "preference": {"matchExpressions": [{
                        "key": "kubernetes.io/hostname", "operator": "In",
                        "values": ["nlc-a"]}]}}]}})}}})

    def job():
        return srv.get(path + "/pt")

    def running(j):
        return any(c["type"] == "Running" and c["status"] == "True"
                   for c in j.get("status", {}).get("conditions", []))

    def live():
        return {p["metadata"]["name"]: p for p in pods(srv, ns)
                if not p["metadata"].get("deletionTimestamp")}
    assert poll(lambda: running(job()), 60), job().get("status")
    first = live()
    assert first["pt-worker-0"]["spec"]["nodeName"] == "nlc-a", describe(srv, ns)
    assert first["pt-master-0"]["spec"]["nodeName"] == "nlc-b", describe(srv, ns)

    agents.stop("nlc-a", kill=True)
    try:
        assert poll(lambda: job()["status"].get("restarts") == 1, 60), job().get("status")
        msgs = [e["message"] for e in srv.get("/api/v1/namespaces/%s/events" % ns)["items"]
                if e["reason"] == "PyTorchJobRestarting"]
        assert any("Worker replica pt-worker-0 was lost: its node nlc-a is Unknown" in m
                   for m in msgs), msgs

        def moved():
            ps = live()
            return len(ps) == 2 and all(
                p["spec"].get("nodeName") == "nlc-b" and p["status"].get("phase") == "Running" and
                p["metadata"]["labels"].get("training.gantry.dev/restart-epoch") == "1"
                for p in ps.values()) and running(job())
        assert poll(moved, 60), describe(srv, ns) + "\n" + json.dumps(job().get("status"))
        # both ranks are new pods: the master on the healthy node restarted too
        assert all(live()[n]["metadata"]["uid"] != first[n]["metadata"]["uid"] for n in first)
        assert job()["status"]["restarts"] == 1
    finally:
        agents.start("nlc-a")
    srv.request("DELETE", path + "/pt")
