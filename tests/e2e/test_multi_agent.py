"""Several node agents on one machine (issue 3): two `gantry agent`
processes with their own node name, root dir, bridge and subnet join a
server started with --no-agent; pods bound to each run there, get an
address from that agent's subnet, and their logs come back through the API
server.  Teardown stops the agents and `gantry node reset`s both roots."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import _ns_name, poll, runc_list

AGENTS = [("multi-a", "gtmulta0", "10.66.1.0/24"), ("multi-b", "gtmultb0", "10.66.2.0/24")]


@pytest.fixture(scope="module")
def cluster(new_server):
    if os.geteuid() != 0:
        pytest.fail("agents need root (runc, CNI)")
    srv = new_server()  # API only (--no-agent)
    base = tempfile.mkdtemp(prefix="gt-multi-")
    procs, roots = [], []
    for node, bridge, subnet in AGENTS:
        root = os.path.join(base, node)
        roots.append(root)
        log = open(os.path.join(base, node + ".log"), "wb")
        procs.append(subprocess.Popen(
            [srv.bin, "agent", "--kubeconfig", srv.kubeconfig, "--node-name", node, "--root-dir",
             root, "--bridge", bridge, "--subnet", subnet], stdout=log, stderr=log,
            stdin=subprocess.DEVNULL))

    def ready():
        nodes = srv.get("/api/v1/nodes")["items"]
        names = {n["metadata"]["name"] for n in nodes
                 if any(c["type"] == "Ready" and c["status"] == "True"
                        for c in n.get("status", {}).get("conditions", []))}
        return all(a[0] in names for a in AGENTS)
    try:
        assert poll(ready, 20), "agents did not register"
        yield srv
    finally:
        for p in srv.get("/api/v1/pods")["items"] if srv.alive() else []:
            m = p["metadata"]
            srv.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (m["namespace"], m["name"]),
                        {"gracePeriodSeconds": 0})
        poll(lambda: all(not os.path.isdir(os.path.join(r, "pods")) or
                         not os.listdir(os.path.join(r, "pods")) for r in roots), 15)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        for r in roots:
            subprocess.run([srv.bin, "node", "reset", "--root-dir", r], capture_output=True,
                           timeout=120)
        left = {r: runc_list(r) for r in roots}
        shutil.rmtree(base, ignore_errors=True)
        assert not any(left.values()), "containers left: %r" % left
        for _, bridge, _ in AGENTS:
            assert not os.path.exists("/sys/class/net/" + bridge), "bridge %s left" % bridge


def test_pods_run_on_their_nodes(cluster):
    srv = cluster
    ns = srv.make_ns(_ns_name("multi"))
    for node, _, _ in AGENTS:
        srv.create("/api/v1/namespaces/%s/pods" % ns, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p-" + node},
            "spec": {"nodeName": node, "restartPolicy": "Never", "containers": [{
                "name": "c", "image": "host",
                "command": ["sh", "-c", "echo on-$(hostname)"]}]}})
    for node, _, subnet in AGENTS:
        name = "p-" + node

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
    assert on == sorted(a[0] for a in AGENTS), on
    # the third has nowhere to go, and says why
    left = [p for p in pods() if not p["spec"].get("nodeName")]
    assert len(left) == 1
    cond = [c for c in left[0]["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    assert cond and cond[0]["status"] == "False" and cond[0]["reason"] == "Unschedulable", left
    assert cond[0]["message"] == ("0/2 nodes are available: 2 node(s) didn't match pod "
                                  "anti-affinity rules."), cond
