"""Node agent end to end: agent restarts and `gantry node reset` (issue 3).
Each test runs its own server with the embedded agent (one at a time) and
ends it with agent_teardown (pods deleted, server stopped, node reset, leak
check).

Covers: containers keep running while the server (and its agent) is down and
are re-adopted afterwards (same container, same process, not restarted); a
pod deleted while the agent was down is cleaned up when it comes back;
`gantry node reset` removes containers, mounts, network namespaces,
cgroups and iptables rules of pods that are still running.
"""
import json
import os
import subprocess

import pytest

from conftest import (agent_leaks, agent_server, agent_teardown, cstatus, create_pod, get_pod,
                      hctr, pod_body, pod_dump, poll, runc_list, wait_node_ready, wait_pod)


@pytest.fixture
def srv(new_server, request):
    s = agent_server(new_server, "agent-" + request.node.name.replace("_", "-")[5:30])
    yield s
    agent_teardown(s)


def stop(srv):
    rc = srv.stop()
    srv.proc = None
    assert rc == 0, "server exit status %r:\n%s" % (rc, srv.log_tail())


def ready(p):
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in p.get("status", {}).get("conditions", []))


def ids_of(srv, uid):
    return {k: v for k, v in runc_list(srv.agent_root).items() if k.startswith("gt-" + uid[:8])}


def runc_pid(srv, cid):
    p = subprocess.run(["runc", "--root", os.path.join(srv.agent_root, "runc"), "state", cid],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["pid"]


def sleeper(name, node):
    return pod_body(name, node, [hctr("c", "echo started; exec sleep 600", readinessProbe={
        "exec": {"command": ["true"]}, "periodSeconds": 1})], restart="Always",
        terminationGracePeriodSeconds=1)


def test_readopt_and_cleanup_while_down(srv):
    ns = srv.make_ns("readopt")
    keep = create_pod(srv, ns, sleeper("keep", srv.node))
    doomed = create_pod(srv, ns, sleeper("doomed", srv.node))
    for name in ("keep", "doomed"):
        wait_pod(srv, ns, name, ready, 30, "Ready")
    before = cstatus(get_pod(srv, ns, "keep"), "c")
    cid = before["containerID"].split("://", 1)[1]
    pid = runc_pid(srv, cid)
    doomed_dir = os.path.join(srv.agent_root, "pods", doomed["metadata"]["uid"])
    assert os.path.isdir(doomed_dir)

    stop(srv)
    left = ids_of(srv, keep["metadata"]["uid"])
    assert left == {cid: "running"}, "after stopping the server: %s" % runc_list(srv.agent_root)
    assert set(ids_of(srv, doomed["metadata"]["uid"]).values()) == {"running"}

    # delete a pod while no agent runs: an API-only server on the same data
    args = srv.extra_args
    srv.extra_args = ["--no-agent"] + args
    try:
        srv.start()
        r = srv.request("DELETE", "/api/v1/namespaces/%s/pods/doomed" % ns,
                        {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
        assert r.status == 200, r
        assert srv.wait_gone("/api/v1/namespaces/%s/pods/doomed" % ns, 10)
        stop(srv)
    finally:
        srv.extra_args = args
    assert runc_pid(srv, cid) == pid, "the kept container changed while the agent was down"

    srv.start()
    wait_node_ready(srv)
    pod = wait_pod(srv, ns, "keep", lambda p: ready(p) and "running" in cstatus(p, "c")["state"],
                   30, "Ready again after the restart")
    after = cstatus(pod, "c")
    assert after["containerID"] == before["containerID"], (before, after)
    assert after["restartCount"] == 0 and after["ready"] is True, pod_dump(srv, ns, "keep")
    assert after["state"]["running"]["startedAt"] == before["state"]["running"]["startedAt"], \
        (before, after)
    assert runc_pid(srv, cid) == pid, "re-adoption restarted the container"
    assert ids_of(srv, keep["metadata"]["uid"]) == {cid: "running"}, runc_list(srv.agent_root)
    # the pod deleted while the agent was down is gone from the host
    assert poll(lambda: not ids_of(srv, doomed["metadata"]["uid"]), 20), \
        "containers of the deleted pod still exist: %s" % runc_list(srv.agent_root)
    assert poll(lambda: not os.path.exists(doomed_dir), 20), \
        "pod dir of the deleted pod still exists: %s" % os.listdir(doomed_dir)
    # and the survivor still works
    assert "started" in srv.kubectl("1.33", "logs", "-n", ns, "keep").stdout


def test_node_reset_with_running_pods(srv):
    ns = srv.make_ns("reset")
    create_pod(srv, ns, sleeper("a", srv.node))
    create_pod(srv, ns, pod_body("b", srv.node, [hctr(
        "c", "exec sleep 600", volumeMounts=[{"name": "m", "mountPath": "/mnt"}])],
        volumes=[{"name": "m", "emptyDir": {"medium": "Memory"}}],
        terminationGracePeriodSeconds=1))
    for name in ("a", "b"):
        wait_pod(srv, ns, name, lambda p: "running" in cstatus(p, "c").get("state", {}), 30,
                 "running")
    pods_dir = os.path.join(srv.agent_root, "pods")
    assert len(os.listdir(pods_dir)) == 2
    with open("/proc/self/mounts") as f:
        assert any(l.split()[1].startswith(srv.data_dir) for l in f), "no mounts before reset?"
    stop(srv)
    assert len(runc_list(srv.agent_root)) == 2, runc_list(srv.agent_root)
    p = subprocess.run([srv.bin, "node", "reset", "--root-dir", srv.agent_root],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert runc_list(srv.agent_root) == {}
    with open("/proc/self/mounts") as f:
        mounts = [l.split()[1] for l in f if srv.data_dir in l.split()[1]]
    assert mounts == [], mounts
    netns = [os.path.join(dp, f) for dp, _, fs in os.walk(srv.agent_root) for f in fs
             if f == "netns"]
    assert netns == [], netns
    assert agent_leaks(srv) == []
    # idempotent
    p = subprocess.run([srv.bin, "node", "reset", "--root-dir", srv.agent_root],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
