"""Several node agents on one machine (issue 3): two `gantry agent`
processes with their own node name, root dir, bridge and subnet join a
server started with --no-agent; pods bound to each run there, get an
address from that agent's subnet, and their logs come back through the API
server.  Teardown stops the agents and `gantry node reset`s both roots."""
import hashlib
import os
import socket
import threading
import urllib.request

import pytest

from conftest import VERSIONS, Agents, _ns_name, agent_links, poll, port_open, stop_proc

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


def test_deployment_across_agents_with_a_service(cluster):
    """A Deployment spreads over both agents; its Service is reached by name
    from a pod on each agent (the proxy and DNS of each agent, traffic
    crossing between the two pod networks); a rolling update succeeds with
    `rollout status`, `undo` restores the old template, and a deleted pod
    is replaced."""
    srv = cluster
    ns = srv.make_ns(_ns_name("multi-deploy"))
    web = ("mkdir -p /tmp/w && echo $VERSION-$(hostname) > /tmp/w/index.html && cd /tmp/w && "
           "exec python3 -m http.server 8080")

    def dep(version):
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                         "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                         "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                             "containers": [{"name": "web", "image": "host",
                                             "command": ["sh", "-c", web],
                                             "env": [{"name": "VERSION", "value": version}],
                                             "resources": {"requests": {"cpu": "100m"}},
                                             "ports": [{"containerPort": 8080}],
                                             "readinessProbe": {"tcpSocket": {"port": 8080},
                                                                "periodSeconds": 1}}]}}}}
    srv.create("/apis/apps/v1/namespaces/%s/deployments" % ns, dep("v1"))
    srv.create("/api/v1/namespaces/%s/services" % ns, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    for v in VERSIONS:
        r = srv.kubectl(v, "rollout", "status", "deployment/web", "-n", ns, "--timeout=90s",
                        timeout=100)
        assert r.returncode == 0, r.stdout + r.stderr

    def pods():
        return [p for p in srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]
                if not p["metadata"].get("deletionTimestamp")]
    nodes = sorted(p["spec"].get("nodeName") for p in pods())
    assert nodes == sorted(AGENTS), nodes

    def fetch_from(node, name, n=8):
        script = ("for i in $(seq %d); do python3 -c \"import urllib.request as u; "
                  "print(u.urlopen('http://web/', timeout=5).read().decode().strip())\" "
                  "|| echo ERR; done" % n)
        srv.create("/api/v1/namespaces/%s/pods" % ns, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "restartPolicy": "Never", "containers": [{
                "name": "c", "image": "host", "command": ["sh", "-c", script]}]}})
        path = "/api/v1/namespaces/%s/pods/%s" % (ns, name)
        assert poll(lambda: srv.get(path)["status"].get("phase") in ("Succeeded", "Failed"), 60)
        out = srv.request("GET", path + "/log").body.decode().split()
        srv.request("DELETE", path, {"gracePeriodSeconds": 0})
        return out
    for node in AGENTS:
        got = fetch_from(node, "c-" + node)
        assert len(got) == 8 and all(g.startswith("v1-web-") for g in got), got
    # rolling update to v2, then undo back to v1
    r = srv.kubectl("1.33", "set", "env", "deployment/web", "-n", ns, "VERSION=v2")
    assert r.returncode == 0, r.stderr
    r = srv.kubectl("1.33", "rollout", "status", "deployment/web", "-n", ns, "--timeout=90s",
                    timeout=100)
    assert r.returncode == 0, r.stdout + r.stderr
    assert poll(lambda: all(g.startswith("v2-") for g in fetch_from(AGENTS[0], "c-v2", 4)), 10)
    r = srv.kubectl("1.20", "rollout", "undo", "deployment/web", "-n", ns)
    assert r.returncode == 0, r.stderr
    r = srv.kubectl("1.20", "rollout", "status", "deployment/web", "-n", ns, "--timeout=90s",
                    timeout=100)
    assert r.returncode == 0, r.stdout + r.stderr
    got = fetch_from(AGENTS[1], "c-undo", 4)
    assert all(g.startswith("v1-") for g in got), got
    # a deleted pod is replaced
    victim = [p for p in pods() if p["metadata"]["labels"].get("app") == "web"][0]
    srv.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (ns, victim["metadata"]["name"]))

    def replaced():
        ps = [p for p in pods() if p["metadata"]["labels"].get("app") == "web"]
        return (len(ps) == 2 and victim["metadata"]["name"] not in
                {p["metadata"]["name"] for p in ps} and
                all(any(c["type"] == "Ready" and c["status"] == "True"
                        for c in p["status"].get("conditions", [])) for p in ps))
    assert poll(replaced, 60), [(p["metadata"]["name"], p["status"].get("phase")) for p in pods()]


@pytest.mark.parametrize("K", VERSIONS)
def test_exec_and_port_forward_through_a_separate_agent(cluster, K):
    """A separate agent serves exec and port-forward through its own stream:
    the API server holds a connection to the agent while a forward is open,
    and two parallel 10 MB downloads arrive whole."""
    srv = cluster
    ns = srv.make_ns(_ns_name("multi-pf" + K.replace(".", "")))
    serve = ("mkdir -p /tmp/www && cd /tmp/www && head -c 10485760 /dev/urandom > big.bin"
             " && touch /tmp/ready && exec python3 -m http.server 8123 --bind 127.0.0.1")
    srv.create("/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"nodeName": "multi-b", "containers": [{
            "name": "c", "image": "host", "command": ["sh", "-c", serve]}]}})
    path = "/api/v1/namespaces/%s/pods/web" % ns
    assert poll(lambda: srv.get(path)["status"].get("phase") == "Running", 30), srv.get(path)
    p = srv.kubectl(K, "exec", "web", "-n", ns, "--", "sh", "-c", "echo out; exit 3", check=False)
    assert p.returncode == 3 and p.stdout == "out\n", p
    listening = ("test -e /tmp/ready && python3 -c "
                 "'import socket; socket.create_connection((\"127.0.0.1\", 8123))'")
    assert poll(lambda: srv.kubectl(K, "exec", "web", "-n", ns, "--", "sh", "-c", listening,
                                    check=False).returncode == 0, 20)
    want = srv.kubectl(K, "exec", "web", "-n", ns, "--", "sha256sum",
                       "/tmp/www/big.bin").stdout.split()[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = srv.kubectl_popen(K, "port-forward", "-n", ns, "web", "%d:8123" % port)
    try:
        assert poll(lambda: port_open(port), 20), "kubectl port-forward does not listen"
        got, links = [None, None], []

        def fetch(i):
            with urllib.request.urlopen("http://127.0.0.1:%d/big.bin" % port, timeout=60) as r:
                head = r.read(1 << 16)
                if i == 0:  # mid-transfer: the API server relays the agent's stream
                    links.extend(agent_links(srv, "multi-b"))
                data = head + r.read()
            got[i] = (len(data), hashlib.sha256(data).hexdigest())
        ts = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert got == [(10485760, want)] * 2, (got, want)
        assert links, "no connection from the API server to the agent during the transfer"
    finally:
        stop_proc(proc)

