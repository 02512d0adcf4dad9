"""Workload controllers (issue 4): a ReplicaSet keeps its pods, through the
scheduler and the embedded agent (real containers)."""
import pytest

from conftest import _ns_name, agent_server, agent_teardown, poll

K = "1.33"


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-work")
    yield s
    agent_teardown(s)


def rs_body(name, replicas):
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                      "name": "c", "image": "host",
                                      "command": ["sleep", "3600"]}]}}}}


def active_pods(srv, ns, app):
    items = srv.get("/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s" % (ns, app))["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def test_replicaset_keeps_its_pods(srv):
    ns = srv.make_ns(_ns_name("work-rs"))
    rs = srv.create("/apis/apps/v1/namespaces/%s/replicasets" % ns, rs_body("web", 2))

    def running(n):
        pods = active_pods(srv, ns, "web")
        return len(pods) == n and all(p["status"].get("phase") == "Running" for p in pods)
    assert poll(lambda: running(2), 30), active_pods(srv, ns, "web")
    pods = active_pods(srv, ns, "web")
    for p in pods:
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "ReplicaSet" and ref["uid"] == rs["metadata"]["uid"] and \
            ref["controller"] is True, p["metadata"]
        assert p["metadata"]["name"].startswith("web-") and p["spec"]["nodeName"] == srv.node
    assert poll(lambda: srv.get("/apis/apps/v1/namespaces/%s/replicasets/web" % ns)["status"]
                .get("readyReplicas") == 2, 15)
    # a pod deleted is replaced
    gone = pods[0]["metadata"]["name"]
    srv.kubectl(K, "delete", "pod", gone, "-n", ns, "--wait=false")
    assert poll(lambda: running(2) and gone not in
                [p["metadata"]["name"] for p in active_pods(srv, ns, "web")], 30), \
        active_pods(srv, ns, "web")
    # scaled down, then deleted: the pods follow
    srv.kubectl(K, "scale", "rs", "web", "-n", ns, "--replicas=1")
    assert poll(lambda: len(active_pods(srv, ns, "web")) == 1, 15)
    st = srv.get("/apis/apps/v1/namespaces/%s/replicasets/web" % ns)["status"]
    assert poll(lambda: srv.get("/apis/apps/v1/namespaces/%s/replicasets/web" % ns)["status"]
                .get("replicas") == 1, 15), st
    srv.kubectl(K, "delete", "rs", "web", "-n", ns)
    assert poll(lambda: not srv.get("/api/v1/namespaces/%s/pods" % ns)["items"], 30), \
        srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]


def test_replicaset_adopts_orphans(srv):
    ns = srv.make_ns(_ns_name("work-adopt"))
    srv.create("/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "db"}},
        "spec": {"terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": "host", "command": ["sleep", "3600"]}]}})
    rs = srv.create("/apis/apps/v1/namespaces/%s/replicasets" % ns, rs_body("db", 1))
    assert poll(lambda: srv.get("/api/v1/namespaces/%s/pods/stray" % ns)["metadata"]
                .get("ownerReferences", [{}])[0].get("uid") == rs["metadata"]["uid"], 15)
    # the adopted pod counts: no second pod
    assert poll(lambda: srv.get("/apis/apps/v1/namespaces/%s/replicasets/db" % ns)["status"]
                .get("replicas") == 1, 15)
    assert [p["metadata"]["name"] for p in active_pods(srv, ns, "db")] == ["stray"]
    srv.kubectl(K, "delete", "rs", "db", "-n", ns)
    assert poll(lambda: not srv.get("/api/v1/namespaces/%s/pods" % ns)["items"], 30)


def test_deployment_rollout_and_undo(srv):
    """`kubectl rollout status` follows a rolling update, `rollout undo`
    (kubectl 1.20, which copies the old ReplicaSet's template back) returns
    to the first ReplicaSet, and `rollout restart` makes a new one."""
    ns = srv.make_ns(_ns_name("work-deploy"))
    manifest = srv.write_manifest("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: host, command: [sleep, "3600"], env: [{name: V, value: "1"}]}]
""")
    srv.kubectl(K, "apply", "-n", ns, "-f", manifest)
    p = srv.kubectl(K, "rollout", "status", "deploy/api", "-n", ns, "--timeout=60s", timeout=90)
    assert 'deployment "api" successfully rolled out' in p.stdout, p

    def rss():
        return {r["metadata"]["name"]: r for r in
                srv.get("/apis/apps/v1/namespaces/%s/replicasets" % ns)["items"]}
    first = list(rss())
    assert len(first) == 1 and first[0].startswith("api-"), first
    first = first[0]

    def env_values():
        return sorted(p["spec"]["containers"][0]["env"][0]["value"]
                      for p in active_pods(srv, ns, "api"))
    srv.kubectl(K, "set", "env", "deploy/api", "-n", ns, "V=2")
    p = srv.kubectl(K, "rollout", "status", "deploy/api", "-n", ns, "--timeout=60s", timeout=90)
    assert "successfully rolled out" in p.stdout, p
    assert poll(lambda: env_values() == ["2", "2"], 30), env_values()
    now = rss()
    assert len(now) == 2 and now[first]["spec"]["replicas"] == 0, now
    dep = srv.get("/apis/apps/v1/namespaces/%s/deployments/api" % ns)
    assert dep["status"]["updatedReplicas"] == 2 and dep["status"]["availableReplicas"] == 2, dep
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2", dep
    assert any(c["type"] == "Available" and c["status"] == "True"
               for c in dep["status"]["conditions"]), dep["status"]

    srv.kubectl("1.20", "rollout", "undo", "deploy/api", "-n", ns)
    p = srv.kubectl(K, "rollout", "status", "deploy/api", "-n", ns, "--timeout=60s", timeout=90)
    assert "successfully rolled out" in p.stdout, p
    assert poll(lambda: env_values() == ["1", "1"], 30), env_values()
    now = rss()
    assert now[first]["spec"]["replicas"] == 2, now  # the first ReplicaSet again
    assert now[first]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    p = srv.kubectl(K, "rollout", "history", "deploy/api", "-n", ns)
    assert [l.split()[0] for l in p.stdout.splitlines()[2:] if l.strip()] == ["2", "3"], p.stdout

    srv.kubectl(K, "rollout", "restart", "deploy/api", "-n", ns)
    p = srv.kubectl(K, "rollout", "status", "deploy/api", "-n", ns, "--timeout=60s", timeout=90)
    assert "successfully rolled out" in p.stdout, p
    assert len(rss()) == 3
    srv.kubectl(K, "delete", "deploy", "api", "-n", ns)
    assert poll(lambda: not srv.get("/api/v1/namespaces/%s/pods" % ns)["items"] and
                not rss(), 40)


def deploy_body(name, replicas, cmd, **spec):
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
         "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                   "name": "c", "image": "host", "command": cmd}]}}}}
    d["spec"].update(spec)
    return d


def test_progress_deadline_fails_the_rollout(srv):
    """A rollout whose pods never become ready turns Progressing False
    (ProgressDeadlineExceeded) after progressDeadlineSeconds, and `kubectl
    rollout status` fails saying so (both kubectls)."""
    ns = srv.make_ns(_ns_name("work-deadline"))
    d = deploy_body("stuck", 1, ["sleep", "3600"], progressDeadlineSeconds=3)
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["false"]}, "periodSeconds": 1}
    srv.create("/apis/apps/v1/namespaces/%s/deployments" % ns, d)

    def cond():
        st = srv.get("/apis/apps/v1/namespaces/%s/deployments/stuck" % ns).get("status", {})
        return {c["type"]: c for c in st.get("conditions", [])}.get("Progressing", {})
    assert poll(lambda: cond().get("status") == "False", 30), cond()
    c = cond()
    assert c["reason"] == "ProgressDeadlineExceeded", c
    assert c["message"].startswith('ReplicaSet "stuck-') and "timed out progressing" in c["message"]
    for v in ("1.20", "1.33"):
        r = srv.kubectl(v, "rollout", "status", "deployment/stuck", "-n", ns, "--timeout=30s",
                        check=False, timeout=40)
        assert r.returncode != 0, r.stdout
        assert 'deployment "stuck" exceeded its progress deadline' in r.stderr, r.stderr


def test_paused_deployment_rolls_out_on_resume(srv):
    ns = srv.make_ns(_ns_name("work-pause"))
    srv.create("/apis/apps/v1/namespaces/%s/deployments" % ns,
               deploy_body("p", 1, ["sleep", "3600"]))
    rss = lambda: srv.get("/apis/apps/v1/namespaces/%s/replicasets" % ns)["items"]
    assert poll(lambda: len(rss()) == 1, 30)
    r = srv.kubectl(K, "rollout", "pause", "deployment/p", "-n", ns)
    assert r.returncode == 0, r.stderr
    r = srv.kubectl(K, "set", "env", "deployment/p", "-n", ns, "X=1")
    assert r.returncode == 0, r.stderr

    def progressing():
        st = srv.get("/apis/apps/v1/namespaces/%s/deployments/p" % ns).get("status", {})
        return {c["type"]: c for c in st.get("conditions", [])}.get("Progressing", {})
    assert poll(lambda: progressing().get("reason") == "DeploymentPaused", 15), progressing()
    assert len(rss()) == 1  # nothing rolled out while paused
    r = srv.kubectl("1.20", "rollout", "resume", "deployment/p", "-n", ns)
    assert r.returncode == 0, r.stderr
    assert poll(lambda: len(rss()) == 2, 30), rss()
    r = srv.kubectl(K, "rollout", "status", "deployment/p", "-n", ns, "--timeout=60s", timeout=70)
    assert r.returncode == 0, r.stdout + r.stderr
    pods = active_pods(srv, ns, "p")
    assert poll(lambda: [e for p in active_pods(srv, ns, "p")
                         for e in p["spec"]["containers"][0].get("env", [])] ==
                [{"name": "X", "value": "1"}], 30), pods


def test_min_ready_seconds_delays_availability(srv):
    """A pod counts as available only once it has been ready for
    minReadySeconds: readyReplicas 1 while availableReplicas is still 0."""
    ns = srv.make_ns(_ns_name("work-minready"))
    srv.create("/apis/apps/v1/namespaces/%s/deployments" % ns,
               deploy_body("m", 1, ["sleep", "3600"], minReadySeconds=4))
    seen = []

    def status():
        rs = srv.get("/apis/apps/v1/namespaces/%s/replicasets" % ns)["items"]
        st = rs[0].get("status", {}) if rs else {}
        seen.append((st.get("readyReplicas", 0), st.get("availableReplicas", 0)))
        return seen[-1]
    assert poll(lambda: status() == (1, 1), 40), seen
    assert (1, 0) in seen, seen  # ready first, available later
    rs = srv.get("/apis/apps/v1/namespaces/%s/replicasets" % ns)["items"][0]
    assert rs["spec"]["minReadySeconds"] == 4
    d = srv.get("/apis/apps/v1/namespaces/%s/deployments/m" % ns)
    assert d["status"]["availableReplicas"] == 1
