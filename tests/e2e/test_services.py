"""Services (issue 4): ClusterIP and NodePort allocation, the Endpoints and
EndpointSlice controllers, the agent's service proxy (iptables) and its
cluster DNS, driven with real pods on the embedded agent and real clients."""
import shlex
import subprocess
import time

import pytest

from conftest import (VERSIONS, _ns_name, agent_server, agent_teardown, hctr, poll, pod_body,
                      create_pod, wait_pod)

# Serves its own hostname on 8080 (index.html), ready once /tmp/ready exists.
WEB = ("mkdir -p /tmp/w && hostname > /tmp/w/index.html && touch /tmp/ready && cd /tmp/w && "
       "exec python3 -m http.server 8080")
# Fetches URL N times; prints one response body per line (or ERR: ...).
FETCH = ("import sys, urllib.request\n"
         "for _ in range(int(sys.argv[2])):\n"
         "    try:\n"
         "        print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())\n"
         "    except Exception as e:\n"
         "        print('ERR: %s' % e)\n")


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "svc-node")
    yield s
    agent_teardown(s)
    tag = proxy_tag(s)
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert "GT%s-" % tag not in rules, "proxy chains left after node reset"


@pytest.fixture
def ns(srv, request):
    return srv.make_ns(_ns_name(request.node.name))


def proxy_tag(s):
    """The agent's chain tag: 4 hex digits of FNV-1a 64 of the bridge name
    (src/agent/proxy.c), so the test can check its chains."""
    h = 1469598103934665603
    for ch in s.bridge.encode():
        h = ((h ^ ch) * 1099511628211) & (2**64 - 1)
    h = ((h ^ 0xFF) * 1099511628211) & (2**64 - 1)
    return "%04x" % (h & 0xFFFF)


def deployment(name, replicas, script=WEB, labels=None, **podspec):
    labels = labels or {"app": name}
    spec = {"containers": [hctr("web", script, ports=[{"name": "http", "containerPort": 8080}],
                                readinessProbe={"exec": {"command": ["test", "-e", "/tmp/ready"]},
                                                "periodSeconds": 1})]}
    spec.update(podspec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def service(name, selector, port=80, target="http", **spec):
    s = {"selector": selector, "ports": [{"name": "web", "port": port, "targetPort": target}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": s}


def ready_pods(s, ns, app):
    return [p for p in s.get("/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s" % (ns, app))["items"]
            if any(c["type"] == "Ready" and c["status"] == "True"
                   for c in p["status"].get("conditions", []))]


def run_client(s, ns, name, script, timeout=60):
    """Runs SCRIPT (sh) in a pod of its own; returns its log once it finishes."""
    create_pod(s, ns, pod_body(name, s.node, [hctr("c", script)]))
    p = wait_pod(s, ns, name, lambda p: p["status"].get("phase") in ("Succeeded", "Failed"),
                 timeout)
    r = s.request("GET", "/api/v1/namespaces/%s/pods/%s/log" % (ns, name))
    assert r.status == 200, r
    return p, r.body.decode()


def fetch(s, ns, name, url, n):
    script = "python3 -c %s %s %d" % (shlex.quote(FETCH), url, n)
    _, out = run_client(s, ns, name, script)
    return out.split("\n")[:-1] if out.endswith("\n") else out.split("\n")


def test_cluster_ip_dns_and_balancing(srv, ns):
    s = srv
    s.create("/apis/apps/v1/namespaces/%s/deployments" % ns, deployment("web", 2))
    svc = s.create("/api/v1/namespaces/%s/services" % ns, service("web", {"app": "web"}))
    cip = svc["spec"]["clusterIP"]
    assert cip.startswith("10.96.") and svc["spec"]["clusterIPs"] == [cip], svc["spec"]
    assert poll(lambda: len(ready_pods(s, ns, "web")) == 2, 60), s.log_tail()
    pods = ready_pods(s, ns, "web")
    ips = sorted(p["status"]["podIP"] for p in pods)

    def endpoints():
        e = s.get("/api/v1/namespaces/%s/endpoints/web" % ns)
        return sorted(a["ip"] for ss in e.get("subsets") or [] for a in ss.get("addresses", []))
    assert poll(lambda: endpoints() == ips, 30), s.get("/api/v1/namespaces/%s/endpoints/web" % ns)
    e = s.get("/api/v1/namespaces/%s/endpoints/web" % ns)
    assert e["subsets"][0]["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    for a in e["subsets"][0]["addresses"]:
        assert a["targetRef"]["kind"] == "Pod" and a["nodeName"] == s.node
    sl = s.get("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices?labelSelector="
               "kubernetes.io%%2Fservice-name%%3Dweb" % ns)["items"]
    assert len(sl) == 1, sl
    assert sl[0]["addressType"] == "IPv4" and sl[0]["ports"] == e["subsets"][0]["ports"]
    assert sorted(ep["addresses"][0] for ep in sl[0]["endpoints"]) == ips
    assert all(ep["conditions"]["ready"] for ep in sl[0]["endpoints"])
    assert sl[0]["metadata"]["ownerReferences"][0]["kind"] == "Service"
    for v in VERSIONS:
        out = s.kubectl(v, "get", "endpoints", "web", "-n", ns).stdout
        for ip in ips:
            assert "%s:8080" % ip in out, out
        out = s.kubectl(v, "get", "svc", "web", "-n", ns).stdout
        assert cip in out and "80/TCP" in out, out
    names = {p["metadata"]["name"] for p in pods}
    # the short name (search domains), the FQDN and the ClusterIP all reach both pods
    got = fetch(s, ns, "c-short", "http://web/", 24)
    assert set(got) == names, got
    got = fetch(s, ns, "c-fqdn", "http://web.%s.svc.cluster.local/" % ns, 4)
    assert set(got) <= names and len(got) == 4, got
    got = fetch(s, ns, "c-ip", "http://%s/" % cip, 4)
    assert set(got) <= names and len(got) == 4, got


def test_not_ready_pod_leaves_the_service(srv, ns):
    s = srv
    s.create("/apis/apps/v1/namespaces/%s/deployments" % ns, deployment("nr", 2))
    s.create("/api/v1/namespaces/%s/services" % ns, service("nr", {"app": "nr"}))
    assert poll(lambda: len(ready_pods(s, ns, "nr")) == 2, 60), s.log_tail()
    victim, other = ready_pods(s, ns, "nr")
    r = s.kubectl("1.33", "exec", "-n", ns, victim["metadata"]["name"], "--", "rm", "/tmp/ready")
    assert r.returncode == 0, r.stderr

    def split():
        e = s.get("/api/v1/namespaces/%s/endpoints/nr" % ns)
        ss = (e.get("subsets") or [{}])[0]
        return ([a["ip"] for a in ss.get("addresses", [])],
                [a["ip"] for a in ss.get("notReadyAddresses", [])])
    want = ([other["status"]["podIP"]], [victim["status"]["podIP"]])
    assert poll(lambda: split() == want, 30), split()
    sl = s.get("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % ns)["items"]
    conds = {ep["addresses"][0]: ep["conditions"]["ready"] for ep in sl[0]["endpoints"]}
    assert conds == {other["status"]["podIP"]: True, victim["status"]["podIP"]: False}, conds
    # only the ready pod answers now (the agent applies the change within a second)
    time.sleep(1.5)
    got = fetch(s, ns, "c-nr", "http://nr/", 10)
    assert set(got) == {other["metadata"]["name"]}, got


def test_headless_service_names_pods(srv, ns):
    """Pods with hostname + subdomain get HOST.SVC.NS.svc.cluster.local; the
    headless Service's own name lists every ready pod."""
    s = srv
    for i in range(2):
        create_pod(s, ns, pod_body("db-%d" % i, s.node, [
            hctr("web", WEB, ports=[{"name": "http", "containerPort": 8080}])],
            restart="Always", hostname="db-%d" % i, subdomain="db"))
        s.request("PATCH", "/api/v1/namespaces/%s/pods/db-%d" % (ns, i),
                  {"metadata": {"labels": {"app": "db"}}},
                  headers={"Content-Type": "application/merge-patch+json"})
    s.create("/api/v1/namespaces/%s/services" % ns,
             service("db", {"app": "db"}, clusterIP="None"))
    assert poll(lambda: len(ready_pods(s, ns, "db")) == 2, 60)
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in ready_pods(s, ns, "db")}
    assert poll(lambda: sum(len(ss.get("addresses", [])) for ss in s.get(
        "/api/v1/namespaces/%s/endpoints/db" % ns).get("subsets") or []) == 2, 30)
    e = s.get("/api/v1/namespaces/%s/endpoints/db" % ns)
    assert sorted(a.get("hostname") for a in e["subsets"][0]["addresses"]) == ["db-0", "db-1"]
    time.sleep(1.5)
    _, out = run_client(s, ns, "c-dns", (
        "getent hosts db-0.db.%(ns)s.svc.cluster.local; getent hosts db-1.db; "
        "getent ahostsv4 db.%(ns)s.svc.cluster.local | awk '{print $1}' | sort -u; "
        "getent hosts nothere.%(ns)s.svc.cluster.local || echo NXDOMAIN") % {"ns": ns})
    lines = out.split("\n")
    assert lines[0].split()[0] == ips["db-0"], out
    assert lines[1].split()[0] == ips["db-1"], out
    assert sorted(lines[2:4]) == sorted(ips.values()), out
    assert "NXDOMAIN" in out, out


def test_service_without_endpoints_is_refused(srv, ns):
    s = srv
    svc = s.create("/api/v1/namespaces/%s/services" % ns, service("empty", {"app": "none"}, target=80))
    e = s.get("/api/v1/namespaces/%s/endpoints/empty" % ns) if poll(
        lambda: s.exists("/api/v1/namespaces/%s/endpoints/empty" % ns), 30) else None
    assert e is not None and not e.get("subsets"), e
    time.sleep(1.5)
    t0 = time.time()
    got = fetch(s, ns, "c-empty", "http://%s/" % svc["spec"]["clusterIP"], 1)
    assert len(got) == 1 and "refused" in got[0].lower(), got
    assert time.time() - t0 < 55  # refused, not a 5 s-per-try black hole times many tries


def test_node_port(srv, ns):
    s = srv
    s.create("/apis/apps/v1/namespaces/%s/deployments" % ns, deployment("np", 1))
    svc = s.create("/api/v1/namespaces/%s/services" % ns,
                   service("np", {"app": "np"}, type="NodePort"))
    port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767, svc["spec"]
    assert poll(lambda: len(ready_pods(s, ns, "np")) == 1, 60)
    pod = ready_pods(s, ns, "np")[0]
    node = s.get("/api/v1/nodes/" + s.node)
    host_ip = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"][0]
    time.sleep(1.5)
    # from a pod, through the node's address
    got = fetch(s, ns, "c-np", "http://%s:%d/" % (host_ip, port), 2)
    assert got == [pod["metadata"]["name"]] * 2, got
    # the same port is not handed out twice
    r = s.request("POST", "/api/v1/namespaces/%s/services" % ns,
                  service("np2", {"app": "np"}, type="NodePort",
                          ports=[{"port": 80, "targetPort": 8080, "nodePort": port}]))
    assert r.status == 422, r
    st = r.json()
    assert st["details"]["causes"][0]["field"] == "spec.ports[0].nodePort", st
    assert "provided port is already allocated" in st["message"], st


def test_bad_cluster_ips(srv, ns):
    s = srv
    a = s.create("/api/v1/namespaces/%s/services" % ns, service("a", {"app": "a"}, target=80))
    for ip, why in ((a["spec"]["clusterIP"], "provided IP is already allocated"),
                    ("192.168.1.1", "provided IP is not in the valid range")):
        r = s.request("POST", "/api/v1/namespaces/%s/services" % ns,
                      service("b", {"app": "b"}, target=80, clusterIP=ip))
        assert r.status == 422, r
        assert why in r.json()["message"], r.json()
        assert r.json()["details"]["causes"][0]["field"] == "spec.clusterIPs[0]"
    assert not s.exists("/api/v1/namespaces/%s/services/b" % ns)
    # a chosen free address is taken as is
    b = s.create("/api/v1/namespaces/%s/services" % ns,
                 service("b", {"app": "b"}, target=80, clusterIP="10.96.200.7"))
    assert b["spec"]["clusterIP"] == "10.96.200.7"
    # deleting the Service removes its Endpoints and slices
    s.request("DELETE", "/api/v1/namespaces/%s/services/a" % ns)
    assert poll(lambda: not s.exists("/api/v1/namespaces/%s/endpoints/a" % ns), 30)
    assert poll(lambda: not s.get("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices?"
                                  "labelSelector=kubernetes.io%%2Fservice-name%%3Da" % ns)["items"], 30)


def test_statefulset_pods_have_stable_dns_names(srv, ns):
    """A StatefulSet behind its headless Service: each pod is reachable from
    another pod as POD.SVC.NS.svc.cluster.local, and the name follows the pod
    when it is re-created with a new address."""
    s = srv
    s.create("/api/v1/namespaces/%s/services" % ns,
             service("web", {"app": "sts"}, clusterIP="None"))
    s.create("/apis/apps/v1/namespaces/%s/statefulsets" % ns, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {"serviceName": "web", "replicas": 2, "selector": {"matchLabels": {"app": "sts"}},
                 "template": {"metadata": {"labels": {"app": "sts"}}, "spec": {
                     "terminationGracePeriodSeconds": 1, "containers": [
                         hctr("web", WEB, ports=[{"name": "http", "containerPort": 8080}])]}}}})
    assert poll(lambda: len(ready_pods(s, ns, "sts")) == 2, 90), s.log_tail()

    def resolve(client):
        _, out = run_client(s, ns, client, (
            "for i in 0 1; do getent hosts web-$i.web.%s.svc.cluster.local | cut -d' ' -f1; "
            "done; python3 -c \"import urllib.request as u; print(u.urlopen("
            "'http://web-1.web:8080/', timeout=5).read().decode().strip())\"") % ns)
        return out.split()
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in ready_pods(s, ns, "sts")}
    time.sleep(1.5)
    got = resolve("c-sts1")
    assert got == [ips["web-0"], ips["web-1"], "web-1"], (got, ips)
    # web-1 re-created: same name, the record follows its new address
    s.request("DELETE", "/api/v1/namespaces/%s/pods/web-1" % ns, {"gracePeriodSeconds": 0})
    old = ips["web-1"]
    assert poll(lambda: any(p["metadata"]["name"] == "web-1" and p["status"]["podIP"] != old
                            for p in ready_pods(s, ns, "sts")), 60)
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in ready_pods(s, ns, "sts")}
    time.sleep(1.5)
    got = resolve("c-sts2")
    assert got == [ips["web-0"], ips["web-1"], "web-1"], (got, ips)
