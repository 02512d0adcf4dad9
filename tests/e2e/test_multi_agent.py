"""Several node agents on one machine (issue 3): two `gantry agent`
processes with their own node name, root dir, bridge and subnet join a
server started with --no-agent; pods bound to each run there, get an
address from that agent's subnet, and their logs come back through the API
server.  Teardown stops the agents and `gantry node reset`s both roots."""
import os

import pytest

from conftest import Agents, _ns_name, poll

AGENTS = ["multi-a", "multi-b"]


@pytest.fixture(scope="module")
def cluster(new_server):
    if os.geteuid() != 0:
        pytest.fail("agents need root (runc, CNI)")
    srv = new_server()  # API only (--no-agent)
    agents = Agents(srv)
    try:
        for node in AGENTS:
            agents.start(node, wait=False)
        assert poll(lambda: all(agents.ready(n) for n in AGENTS), 20), "agents did not register"
        srv.agents = agents
        yield srv
    finally:
        left = agents.teardown()
        assert not left, "left behind: %r" % left


def test_pods_run_on_their_nodes(cluster):
    srv = cluster
    ns = srv.make_ns(_ns_name("multi"))
    for node in AGENTS:
        srv.create("/api/v1/namespaces/%s/pods" % ns, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p-" + node},
            "spec": {"nodeName": node, "restartPolicy": "Never", "containers": [{
                "name": "c", "image": "host",
                "command": ["sh", "-c", "echo on-$(hostname)"]}]}})
    for node in AGENTS:
        name, subnet = "p-" + node, srv.agents.nets[node][1]

        def done():
            return srv.get("/api/v1/namespaces/%s/pods/%s" % (ns, name))["status"].get(
                "phase") == "Succeeded"
        assert poll(done, 30), srv.get("/api/v1/namespaces/%s/pods/%s" % (ns, name))["status"]
        pod = srv.get("/api/v1/namespaces/%s/pods/%s" % (ns, name))
        prefix = subnet.rsplit(".", 1)[0] + "."
        assert pod["status"]["podIP"].startswith(prefix), pod["status"]
        r = srv.request("GET", "/api/v1/namespaces/%s/pods/%s/log" % (ns, name))
        assert r.status == 200 and r.body.decode().strip() == "on-" + name, r


def test_scheduler_spreads_pods_over_agents(cluster):
    """Pods without a node, kept apart by hostname anti-affinity, are bound
    by the scheduler to different agents and run there."""
    srv = cluster
    ns = srv.make_ns(_ns_name("multi-sched"))
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": {"app": "spread"}}}]}}
    for i in range(3):
        srv.create("/api/v1/namespaces/%s/pods" % ns, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "s%d" % i, "labels": {"app": "spread"}},
            "spec": {"restartPolicy": "Never", "affinity": anti, "containers": [{
                "name": "c", "image": "host", "command": ["sh", "-c", "sleep 30"]}]}})
    pods = lambda: srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]
    assert poll(lambda: sum(1 for p in pods() if p["status"].get("phase") == "Running") == 2, 30), \
        [(p["metadata"]["name"], p["spec"].get("nodeName"), p["status"]) for p in pods()]
    on = sorted(p["spec"]["nodeName"] for p in pods() if p["spec"].get("nodeName"))
    assert on == sorted(AGENTS), on
    # the third has nowhere to go, and says why
    left = [p for p in pods() if not p["spec"].get("nodeName")]
    assert len(left) == 1
    cond = [c for c in left[0]["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    assert cond and cond[0]["status"] == "False" and cond[0]["reason"] == "Unschedulable", left
    assert cond[0]["message"] == ("0/2 nodes are available: 2 node(s) didn't match pod "
                                  "anti-affinity rules."), cond
