"""kubectl describe, label, annotate, patch (strategic/merge/json), scale,
wait, delete, create <generator>, auth can-i/whoami and events, each checked
by reading the object back through the API."""
import base64
import json
import re
import time

import pytest

from conftest import VERSIONS, apply_app, cm_body, crd_names, crd_vars, ensure_crd

DEP = "/apis/apps/v1/namespaces/%s/deployments/%s"
CM = "/api/v1/namespaces/%s/configmaps/%s"


def _field(text, name):
    """Value of 'Name:   value' in describe output (first match)."""
    m = re.search(r"^\s*%s:\s*(.*)$" % re.escape(name), text, re.M)
    return m.group(1).strip() if m else None


@pytest.mark.parametrize("v", VERSIONS)
def test_describe_deployment_and_configmap(server, ns, v):
    apply_app(server, v, ns)
    p = server.kubectl(v, "describe", "deploy", "web", "-n", ns)
    out = p.stdout
    assert _field(out, "Name") == "web", out
    assert _field(out, "Namespace") == ns, out
    assert _field(out, "Selector") == "app=web", out
    assert _field(out, "Replicas").startswith("1 desired"), out
    assert _field(out, "StrategyType") == "RollingUpdate", out
    assert _field(out, "RollingUpdateStrategy") == "25% max unavailable, 25% max surge", out
    assert _field(out, "Image") == "nginx:1.19", out
    assert _field(out, "Port") == "80/TCP", out
    assert re.search(r"^\s+A:\s+1$", out, re.M), out

    p = server.kubectl(v, "describe", "cm", "cfg", "-n", ns)
    out = p.stdout
    assert _field(out, "Name") == "cfg" and _field(out, "Namespace") == ns, out
    lines = [l.rstrip() for l in out.splitlines()]
    i = lines.index("a:")
    assert lines[i + 1] == "----" and lines[i + 2] == "1", out
    i = lines.index("b:")
    assert lines[i + 1] == "----" and lines[i + 2] == "2", out


@pytest.mark.parametrize("v", VERSIONS)
def test_label_and_annotate(server, ns, v):
    apply_app(server, v, ns)
    p = server.kubectl(v, "label", "cm", "cfg", "-n", ns, "tier=fe", "team=ml")
    assert p.stdout.strip() == "configmap/cfg labeled", p.stdout
    assert server.get(CM % (ns, "cfg"))["metadata"]["labels"] == {"tier": "fe", "team": "ml"}
    p = server.kubectl(v, "label", "cm", "cfg", "-n", ns, "tier=be", check=False)
    assert p.returncode != 0 and "already has a value (fe)" in p.stderr, p.stderr
    server.kubectl(v, "label", "cm", "cfg", "-n", ns, "tier=be", "--overwrite")
    server.kubectl(v, "label", "cm", "cfg", "-n", ns, "team-")
    assert server.get(CM % (ns, "cfg"))["metadata"]["labels"] == {"tier": "be"}

    p = server.kubectl(v, "annotate", "deploy", "web", "-n", ns, "owner=alice")
    assert p.stdout.strip() == "deployment.apps/web annotated", p.stdout
    d = server.get(DEP % (ns, "web"))
    assert d["metadata"]["annotations"]["owner"] == "alice"
    assert "kubectl.kubernetes.io/last-applied-configuration" in d["metadata"]["annotations"]
    assert d["metadata"]["generation"] == 1, "metadata-only change must not bump generation"
    server.kubectl(v, "annotate", "deploy", "web", "-n", ns, "owner-")
    assert "owner" not in server.get(DEP % (ns, "web"))["metadata"]["annotations"]


@pytest.mark.parametrize("v", VERSIONS)
def test_patch_strategic_merge_json(server, ns, v):
    apply_app(server, v, ns)
    # strategic (the default): containers merge by name, env by name
    p = server.kubectl(v, "patch", "deploy", "web", "-n", ns, "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "env": [{"name": "B", "value": "x"}]}]}}}}))
    assert p.stdout.strip() == "deployment.apps/web patched", p.stdout
    d = server.get(DEP % (ns, "web"))
    cs = d["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1 and cs[0]["image"] == "nginx:1.19", cs
    assert sorted((e["name"], e["value"]) for e in cs[0]["env"]) == [("A", "1"), ("B", "x")], cs
    assert d["metadata"]["generation"] == 2

    # strategic $patch: delete of one env entry
    server.kubectl(v, "patch", "deploy", "web", "-n", ns, "--type=strategic", "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "env": [{"name": "A", "$patch": "delete"}]}]}}}}))
    cs = server.get(DEP % (ns, "web"))["spec"]["template"]["spec"]["containers"]
    assert [(e["name"], e["value"]) for e in cs[0]["env"]] == [("B", "x")], cs

    # merge: null deletes a key, lists would be replaced
    p = server.kubectl(v, "patch", "cm", "cfg", "-n", ns, "--type=merge",
                       "-p", '{"data":{"a":null,"c":"3"}}')
    assert p.stdout.strip() == "configmap/cfg patched", p.stdout
    assert server.get(CM % (ns, "cfg"))["data"] == {"b": "2", "c": "3"}

    # json patch
    p = server.kubectl(v, "patch", "deploy", "web", "-n", ns, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/replicas", "value": 2},
        {"op": "add", "path": "/metadata/labels/extra", "value": "yes"},
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "web"}]))
    assert p.stdout.strip() == "deployment.apps/web patched", p.stdout
    d = server.get(DEP % (ns, "web"))
    assert d["spec"]["replicas"] == 2 and d["metadata"]["labels"]["extra"] == "yes", d

    # a failing json-patch test op changes nothing (the spec and its
    # generation; the deployment controller may write status meanwhile)
    before = (d["spec"], d["metadata"]["generation"], d["metadata"]["labels"])
    p = server.kubectl(v, "patch", "deploy", "web", "-n", ns, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/replicas", "value": 7},
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "nope"}]),
        check=False)
    assert p.returncode != 0 and "invalid" in p.stderr.lower(), p.stderr
    d = server.get(DEP % (ns, "web"))
    assert (d["spec"], d["metadata"]["generation"], d["metadata"]["labels"]) == before, d

    # a no-op patch
    p = server.kubectl(v, "patch", "cm", "cfg", "-n", ns, "--type=merge", "-p", '{"data":{"c":"3"}}')
    assert p.stdout.strip() == "configmap/cfg patched (no change)", p.stdout


@pytest.mark.parametrize("v", VERSIONS)
def test_patch_custom_resource(server, ns, v):
    plural = ensure_crd(server, v)
    server.kubectl(v, "apply", "-f", server.render("cr.yaml", NS=ns, REPLICAS=1, **crd_vars(v)))
    path = "/apis/e2e.gantry.dev/v1/namespaces/%s/%s/demo" % (ns, plural)
    p = server.kubectl(v, "patch", plural, "demo", "-n", ns, "--type=merge",
                       "-p", '{"spec":{"image":"trainer:2"}}')
    assert "demo patched" in p.stdout, p.stdout
    assert server.get(path)["spec"] == {"replicas": 1, "image": "trainer:2"}
    # custom resources do not support strategic merge patch
    p = server.kubectl(v, "patch", plural, "demo", "-n", ns, "-p", '{"spec":{"image":"x"}}',
                       check=False)
    assert p.returncode != 0, p.stdout
    assert "UnsupportedMediaType" in p.stderr or "not supported" in p.stderr, p.stderr
    assert server.get(path)["spec"]["image"] == "trainer:2"


@pytest.mark.parametrize("v", VERSIONS)
def test_scale_deployment_and_custom_resource(server, ns, v):
    apply_app(server, v, ns)
    p = server.kubectl(v, "scale", "deploy/web", "-n", ns, "--replicas=3")
    assert p.stdout.strip() == "deployment.apps/web scaled", p.stdout
    assert server.get(DEP % (ns, "web"))["spec"]["replicas"] == 3
    sc = server.get(DEP % (ns, "web") + "/scale")
    assert sc["kind"] == "Scale" and sc["spec"]["replicas"] == 3, sc
    # --current-replicas takes the GET + PUT path
    p = server.kubectl(v, "scale", "deploy/web", "-n", ns, "--current-replicas=3", "--replicas=1")
    assert p.stdout.strip() == "deployment.apps/web scaled", p.stdout
    assert server.get(DEP % (ns, "web"))["spec"]["replicas"] == 1
    p = server.kubectl(v, "scale", "deploy/web", "-n", ns, "--current-replicas=5",
                       "--replicas=2", check=False)
    assert p.returncode != 0 and "Expected replicas to be 5, was 1" in p.stderr, p.stderr

    plural = ensure_crd(server, v)
    server.kubectl(v, "apply", "-f", server.render("cr.yaml", NS=ns, REPLICAS=1, **crd_vars(v)))
    p = server.kubectl(v, "scale", "%s/demo" % plural, "-n", ns, "--replicas=5")
    assert p.stdout.strip() == "%s/demo scaled" % crd_names(v)[2], p.stdout
    path = "/apis/e2e.gantry.dev/v1/namespaces/%s/%s/demo" % (ns, plural)
    assert server.get(path)["spec"]["replicas"] == 5
    sc = server.get(path + "/scale")
    assert sc["kind"] == "Scale" and sc["apiVersion"] == "autoscaling/v1", sc
    assert sc["spec"]["replicas"] == 5, sc


@pytest.mark.parametrize("v", VERSIONS)
def test_wait_crd_established(server, v):
    _, name, _ = crd_names(v)
    ensure_crd(server, v)
    p = server.kubectl(v, "wait", "--for=condition=established", "--timeout=20s", "crd/" + name)
    assert p.stdout.strip() == "customresourcedefinition.apiextensions.k8s.io/%s condition met" \
        % name, p.stdout
    p = server.kubectl(v, "wait", "--for=condition=NamesAccepted=True", "--timeout=20s",
                       "crd/" + name)
    assert "condition met" in p.stdout


def test_wait_jsonpath_waits_for_change(server, ns):
    v = "1.33"
    apply_app(server, v, ns)
    proc = server.kubectl_popen(v, "wait", "--for=jsonpath={.spec.replicas}=3", "deploy/web",
                                "-n", ns, "--timeout=30s")
    time.sleep(1.5)
    assert proc.poll() is None, "wait returned before the condition held: %s %s" \
        % proc.communicate()
    r = server.request("PATCH", DEP % (ns, "web") + "/scale", {"spec": {"replicas": 3}},
                       content_type="application/merge-patch+json")
    assert r.status == 200, r
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip() == "deployment.apps/web condition met", out + err
    # already true: returns at once
    p = server.kubectl(v, "wait", "--for=jsonpath={.spec.replicas}=3", "deploy/web", "-n", ns,
                       "--timeout=10s")
    assert p.stdout.strip() == "deployment.apps/web condition met"


@pytest.mark.parametrize("v", VERSIONS)
def test_wait_for_delete(server, ns, v):
    server.create("/api/v1/namespaces/%s/configmaps" % ns,
                  cm_body("gone", finalizers=["e2e.gantry.dev/hold"]))
    server.kubectl(v, "delete", "cm", "gone", "-n", ns, "--wait=false")
    cm = server.get(CM % (ns, "gone"))
    assert cm["metadata"].get("deletionTimestamp"), "finalizer must keep the object: %r" % cm
    proc = server.kubectl_popen(v, "wait", "--for=delete", "cm/gone", "-n", ns, "--timeout=30s")
    time.sleep(1.0)
    assert proc.poll() is None, proc.communicate()
    r = server.request("PATCH", CM % (ns, "gone"), {"metadata": {"finalizers": None}},
                       content_type="application/merge-patch+json")
    assert r.status == 200, r
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, out + err
    assert "configmap/gone condition met" in out, out + err
    assert server.request("GET", CM % (ns, "gone")).status == 404


@pytest.mark.parametrize("v", VERSIONS)
def test_delete(server, ns, v):
    apply_app(server, v, ns)
    p = server.kubectl(v, "delete", "cm", "cfg", "-n", ns)
    assert p.stdout.strip() == 'configmap "cfg" deleted', p.stdout
    r = server.request("GET", CM % (ns, "cfg"))
    assert r.status == 404 and r.json()["reason"] == "NotFound", r
    p = server.kubectl(v, "delete", "deploy/web", "svc/web", "-n", ns)
    assert sorted(p.stdout.splitlines()) == ['deployment.apps "web" deleted',
                                             'service "web" deleted'], p.stdout
    assert server.request("GET", DEP % (ns, "web")).status == 404
    p = server.kubectl(v, "delete", "cm", "cfg", "-n", ns, check=False)
    assert p.returncode == 1
    assert 'Error from server (NotFound): configmaps "cfg" not found' in p.stderr, p.stderr
    # kubectl delete waits until the object is really gone (here: a finalizer)
    server.create("/api/v1/namespaces/%s/configmaps" % ns,
                  cm_body("held", finalizers=["e2e.gantry.dev/hold"]))
    proc = server.kubectl_popen(v, "delete", "cm", "held", "-n", ns, "--request-timeout=30s")
    time.sleep(1.5)
    assert proc.poll() is None, "delete returned while the object still existed: %s %s" \
        % proc.communicate()
    r = server.request("PATCH", CM % (ns, "held"), {"metadata": {"finalizers": []}},
                       content_type="application/merge-patch+json")
    assert r.status == 200, r
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out.strip() == 'configmap "held" deleted', out + err
    assert server.request("GET", CM % (ns, "held")).status == 404
    # delete -l
    for n, tier in (("l1", "x"), ("l2", "x"), ("l3", "y")):
        server.create("/api/v1/namespaces/%s/configmaps" % ns,
                      cm_body(n, labels={"tier": tier}))
    p = server.kubectl(v, "delete", "cm", "-n", ns, "-l", "tier=x")
    assert sorted(p.stdout.splitlines()) == ['configmap "l1" deleted', 'configmap "l2" deleted']
    names = [i["metadata"]["name"] for i in server.get("/api/v1/namespaces/%s/configmaps" % ns)[
        "items"]]
    assert "l3" in names and "l1" not in names and "l2" not in names, names


@pytest.mark.parametrize("v", VERSIONS)
def test_create_generators(server, ns, v):
    """kubectl 1.33 sends these bodies as protobuf; 1.20 as JSON."""
    p = server.kubectl(v, "create", "configmap", "c1", "-n", ns, "--from-literal=k=v",
                       "--from-literal=k2=v2")
    assert p.stdout.strip() == "configmap/c1 created", p.stdout + p.stderr
    assert server.get(CM % (ns, "c1"))["data"] == {"k": "v", "k2": "v2"}

    p = server.kubectl(v, "create", "secret", "generic", "s1", "-n", ns, "--from-literal=p=q r")
    assert p.stdout.strip() == "secret/s1 created", p.stdout + p.stderr
    s = server.get("/api/v1/namespaces/%s/secrets/s1" % ns)
    assert s["data"] == {"p": base64.b64encode(b"q r").decode()} and s["type"] == "Opaque", s

    nsname = "gen-" + ns[-20:].strip("-")
    p = server.kubectl(v, "create", "namespace", nsname)
    assert p.stdout.strip() == "namespace/%s created" % nsname, p.stdout + p.stderr
    n = server.get("/api/v1/namespaces/" + nsname)
    assert n["status"]["phase"] == "Active", n

    p = server.kubectl(v, "create", "deployment", "d1", "-n", ns, "--image=nginx:1.21",
                       "--replicas=2")
    assert p.stdout.strip() == "deployment.apps/d1 created", p.stdout + p.stderr
    d = server.get(DEP % (ns, "d1"))
    assert d["spec"]["replicas"] == 2
    assert d["spec"]["selector"] == {"matchLabels": {"app": "d1"}}
    assert [(c["name"], c["image"]) for c in d["spec"]["template"]["spec"]["containers"]] == \
        [("nginx", "nginx:1.21")]

    p = server.kubectl(v, "create", "deployment", "d0", "-n", ns, "--image=busybox",
                       "--replicas=0")
    assert server.get(DEP % (ns, "d0"))["spec"]["replicas"] == 0, "explicit 0 replicas lost"

    p = server.kubectl(v, "create", "job", "j1", "-n", ns, "--image=busybox", "--", "echo", "hi")
    assert p.stdout.strip() == "job.batch/j1 created", p.stdout + p.stderr
    j = server.get("/apis/batch/v1/namespaces/%s/jobs/j1" % ns)
    c = j["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "busybox" and c["command"] == ["echo", "hi"], c
    assert j["spec"]["template"]["spec"]["restartPolicy"] == "Never"

    p = server.kubectl(v, "create", "configmap", "c1", "-n", ns, "--from-literal=k=v", check=False)
    assert p.returncode == 1
    want = {"1.20": 'Error from server (AlreadyExists): configmaps "c1" already exists',
            "1.33": 'error: failed to create configmap: configmaps "c1" already exists'}[v]
    assert p.stderr.strip() == want, p.stderr


@pytest.mark.parametrize("v", VERSIONS)
def test_auth_can_i(server, v):
    p = server.kubectl(v, "auth", "can-i", "create", "deployments")
    assert p.stdout.strip() == "yes"
    p = server.kubectl(v, "auth", "can-i", "get", "pods", "--subresource=log", "-n", "kube-system")
    assert p.stdout.strip() == "yes"
    p = server.kubectl(v, "auth", "can-i", "delete", "customresourcedefinitions")
    assert p.stdout.strip() == "yes"


def test_auth_whoami(server):
    p = server.kubectl("1.33", "auth", "whoami")
    rows = {l.split(None, 1)[0]: l.split(None, 1)[1].strip()
            for l in p.stdout.splitlines() if len(l.split(None, 1)) == 2}
    assert rows.get("ATTRIBUTE") == "VALUE", p.stdout
    assert rows.get("Username") == "admin", p.stdout
    assert "system:masters" in rows.get("Groups", ""), p.stdout


def test_events_for(server, ns):
    server.create("/api/v1/namespaces/%s/configmaps" % ns, cm_body("evcm"))
    cm = server.get(CM % (ns, "evcm"))
    for name, kind, obj, api, reason, msg in (
            ("ev1", "ConfigMap", "evcm", "v1", "E2eReason", "hello from e2e"),
            ("ev2", "Pod", "somepod", "v1", "OtherReason", "not for the configmap")):
        server.create("/api/v1/namespaces/%s/events" % ns, {
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": kind, "name": obj, "namespace": ns, "apiVersion": api,
                               "uid": cm["metadata"]["uid"] if kind == "ConfigMap" else ""},
            "reason": reason, "message": msg, "type": "Normal",
            "source": {"component": "e2e"}, "count": 1,
            "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z"})
    p = server.kubectl("1.33", "events", "-n", ns, "--for", "configmap/evcm")
    assert p.stdout.splitlines()[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT",
                                                "MESSAGE"], p.stdout
    assert "E2eReason" in p.stdout and "configmap/evcm" in p.stdout.lower(), p.stdout
    assert "hello from e2e" in p.stdout
    assert "OtherReason" not in p.stdout, "events --for must filter:\n" + p.stdout
    p = server.kubectl("1.33", "events", "-n", ns)
    assert "E2eReason" in p.stdout and "OtherReason" in p.stdout, p.stdout
    # describe shows the configmap's events only (field selector on involvedObject)
    p = server.kubectl("1.33", "describe", "cm", "evcm", "-n", ns)
    assert "hello from e2e" in p.stdout and "not for the configmap" not in p.stdout, p.stdout
