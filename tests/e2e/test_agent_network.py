"""Node agent end to end: probes and pod networking (issue 3).  One server
with the embedded agent for the module (node agent-network); teardown
deletes the pods, stops it, runs `gantry node reset` and checks nothing
leaked.

Covers: a liveness exec probe restarting a container, readiness httpGet
gating the Ready condition (and a probe on a closed port keeping it False),
tcpSocket readiness, a startup probe, pod-to-pod HTTP by pod IP, /etc/hosts.
"""
import time

import pytest

from conftest import (_ns_name, agent_server, agent_teardown, cstatus, create_pod, get_pod, hctr,
                      phase_is, pod_body, pod_dump, pod_logs, wait_pod)

K = "1.33"


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-network")
    yield s
    agent_teardown(s)


@pytest.fixture
def ns(srv, request):
    return srv.make_ns(_ns_name(request.node.name))


def cond(pod, typ):
    for c in pod.get("status", {}).get("conditions") or []:
        if c.get("type") == typ:
            return c.get("status")
    return None


def running(name="c"):
    return lambda p: "running" in cstatus(p, name).get("state", {})


def http_server(port, extra=""):
    """A container script serving /tmp over HTTP on PORT."""
    return ("cd /tmp && %secho hello-from-$(hostname) > index.html && "
            "exec python3 -m http.server %d" % (extra, port))


def test_liveness_exec_restarts(srv, ns):
    script = "touch /tmp/healthy; echo up; sleep 2; rm /tmp/healthy; sleep 600"
    create_pod(srv, ns, pod_body("live", srv.node, [hctr("c", script, livenessProbe={
        "exec": {"command": ["test", "-f", "/tmp/healthy"]},
        "periodSeconds": 1, "failureThreshold": 1})], restart="Always",
        terminationGracePeriodSeconds=1))
    pod = wait_pod(srv, ns, "live", lambda p: cstatus(p, "c").get("restartCount", 0) >= 1, 30,
                   "a restart by the liveness probe")
    s = cstatus(pod, "c")
    last = s.get("lastState", {}).get("terminated")
    assert last and last["exitCode"] == 137, pod_dump(srv, ns, "live")
    assert pod["status"]["phase"] == "Running", pod_dump(srv, ns, "live")
    # the new attempt starts healthy again
    wait_pod(srv, ns, "live", running(), 10, "running again")
    assert "up" in pod_logs(srv, ns, "live")


def test_liveness_healthy_not_restarted(srv, ns):
    create_pod(srv, ns, pod_body("fine", srv.node, [hctr("c", "sleep 600", livenessProbe={
        "exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 1},
        startupProbe={"exec": {"command": ["true"]}, "periodSeconds": 1})], restart="Always",
        terminationGracePeriodSeconds=1))
    wait_pod(srv, ns, "fine", lambda p: cstatus(p, "c").get("started") is True, 20, "started")
    time.sleep(3)
    pod = get_pod(srv, ns, "fine")
    assert cstatus(pod, "c")["restartCount"] == 0, pod_dump(srv, ns, "fine")
    assert cond(pod, "Ready") == "True", pod_dump(srv, ns, "fine")


def test_readiness_http_gates_ready(srv, ns):
    probe = {"httpGet": {"path": "/index.html", "port": 8080}, "periodSeconds": 1}
    create_pod(srv, ns, pod_body("web", srv.node, [hctr(
        "c", http_server(8080, "sleep 2; "), readinessProbe=probe)], restart="Always",
        terminationGracePeriodSeconds=1))
    create_pod(srv, ns, pod_body("closed", srv.node, [hctr(
        "c", http_server(8080), readinessProbe=dict(probe, httpGet={"path": "/", "port": 9})
    )], restart="Always", terminationGracePeriodSeconds=1))
    # not ready while the server is still sleeping
    pod = wait_pod(srv, ns, "web", running(), 30, "running")
    assert cond(pod, "Ready") == "False" and cstatus(pod, "c")["ready"] is False, \
        pod_dump(srv, ns, "web")
    pod = wait_pod(srv, ns, "web", lambda p: cond(p, "Ready") == "True", 20, "Ready=True")
    assert cond(pod, "ContainersReady") == "True" and cstatus(pod, "c")["ready"] is True
    out = srv.kubectl(K, "get", "pod", "web", "-n", ns, "--no-headers").stdout.split()
    assert out[1] == "1/1" and out[2] == "Running", out
    wait_pod(srv, ns, "closed", running(), 30, "running")
    deadline = time.time() + 4
    while time.time() < deadline:
        pod = get_pod(srv, ns, "closed")
        assert cond(pod, "Ready") == "False" and not cstatus(pod, "c")["ready"], \
            pod_dump(srv, ns, "closed")
        time.sleep(0.3)
    assert cstatus(pod, "c")["restartCount"] == 0   # readiness never restarts


def test_pod_to_pod_by_ip(srv, ns):
    create_pod(srv, ns, pod_body("server", srv.node, [hctr(
        "c", http_server(8081), readinessProbe={"tcpSocket": {"port": 8081},
                                                 "periodSeconds": 1})],
        restart="Always", terminationGracePeriodSeconds=1))
    pod = wait_pod(srv, ns, "server", lambda p: cond(p, "Ready") == "True", 30, "Ready")
    ip = pod["status"]["podIP"]
    fetch = ("import urllib.request, sys\n"
             "print(urllib.request.urlopen('http://%s:8081/', timeout=5).read().decode()"
             ".strip())\n" % ip)
    create_pod(srv, ns, pod_body("client", srv.node, [{
        "name": "c", "image": "host", "command": ["python3", "-c", fetch]}]))
    client = wait_pod(srv, ns, "client", phase_is("Succeeded", "Failed"), 30, "terminal phase")
    assert client["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "client")
    assert pod_logs(srv, ns, "client").strip() == "hello-from-server"
    assert client["status"]["podIP"] != ip


def test_etc_hosts_and_hostname(srv, ns):
    create_pod(srv, ns, pod_body("named", srv.node, [hctr(
        "c", "hostname; cat /etc/hosts; test -s /etc/resolv.conf && echo resolv-ok")],
        hostname="myhost", subdomain="sub"))
    pod = wait_pod(srv, ns, "named", phase_is("Succeeded", "Failed"), 30, "terminal phase")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "named")
    out = pod_logs(srv, ns, "named").splitlines()
    assert out[0] == "myhost", out
    ip = pod["status"]["podIP"]
    assert any(l.split()[:1] == [ip] and "myhost" in l.split() for l in out), out
    assert any(l.split()[:1] == ["127.0.0.1"] and "localhost" in l.split() for l in out), out
    assert out[-1] == "resolv-ok", out
