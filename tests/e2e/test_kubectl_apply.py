"""kubectl apply -f (client-side three-way apply) of a multi-document
manifest with built-in kinds, a CRD and a custom resource; then re-apply
after edits; and server-side apply.  Everything is read back via the API."""
import json

import pytest

from conftest import VERSIONS, b64, crd_names, crd_vars

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _lines(p):
    return sorted(l.strip() for l in p.stdout.splitlines() if l.strip())


@pytest.mark.parametrize("v", VERSIONS)
def test_apply_multidoc_create_then_configure(server, ns, v):
    plural, crdname, crkind = crd_names(v)
    cv = crd_vars(v)
    first = server.render_many(["crd.yaml", "app.yaml"], NS=ns, **cv)
    p = server.kubectl(v, "apply", "-f", first)
    assert _lines(p) == sorted([
        "customresourcedefinition.apiextensions.k8s.io/%s created" % crdname,
        "deployment.apps/web created",
        "service/web created",
        "configmap/cfg created",
        "secret/creds created",
        "job.batch/pi created",
    ]), p.stdout + p.stderr

    # the custom resource: kubectl must find the new kind through discovery
    p = server.kubectl(v, "apply", "-f", server.render("cr.yaml", NS=ns, REPLICAS=2, **cv))
    assert _lines(p) == ["%s/demo created" % crkind], p.stdout + p.stderr

    # read back what was created
    sec = server.get("/api/v1/namespaces/%s/secrets/creds" % ns)
    assert sec["data"] == {"user": b64("admin"), "pass": b64("s3cret")}, sec
    assert "stringData" not in sec, sec
    dep = server.get("/apis/apps/v1/namespaces/%s/deployments/web" % ns)
    assert LAST_APPLIED in dep["metadata"]["annotations"]
    applied = json.loads(dep["metadata"]["annotations"][LAST_APPLIED])
    assert applied["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.19"
    assert dep["metadata"]["generation"] == 1
    cr = server.get("/apis/e2e.gantry.dev/v1/namespaces/%s/%s/demo" % (ns, plural))
    assert cr["kind"] == "TrainJob" + cv["KSFX"] and cr["spec"] == {"replicas": 2,
                                                                    "image": "trainer:1"}
    crd = server.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + crdname)
    conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conds.get("Established") == "True" and conds.get("NamesAccepted") == "True", crd

    # second apply after edits
    second = server.render_many(["crd.yaml", "app-v2.yaml"], NS=ns, **cv)
    p = server.kubectl(v, "apply", "-f", second)
    assert _lines(p) == sorted([
        "customresourcedefinition.apiextensions.k8s.io/%s unchanged" % crdname,
        "deployment.apps/web configured",
        "service/web unchanged",
        "configmap/cfg configured",
        # kubectl always re-sends stringData (the server never returns it), so a
        # Secret with stringData reports "configured" on a real cluster too
        "secret/creds configured",
        "job.batch/pi unchanged",
    ]), p.stdout + p.stderr
    p = server.kubectl(v, "apply", "-f", server.render("cr.yaml", NS=ns, REPLICAS=3, **cv))
    assert _lines(p) == ["%s/demo configured" % crkind], p.stdout + p.stderr

    dep = server.get("/apis/apps/v1/namespaces/%s/deployments/web" % ns)
    cs = dep["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1, "strategic merge duplicated containers: %r" % cs
    assert cs[0]["name"] == "web" and cs[0]["image"] == "nginx:1.20", cs
    assert [(e["name"], e["value"]) for e in cs[0]["env"]] == [("A", "2")], cs[0]["env"]
    assert [p_["containerPort"] for p_ in cs[0]["ports"]] == [80], cs[0]["ports"]
    assert dep["metadata"]["generation"] == 2, dep["metadata"]
    for k in dep["spec"]["template"]["spec"]:
        assert not k.startswith("$"), "patch directive stored: %s" % k
    assert "$setElementOrder" not in json.dumps(dep)
    applied = json.loads(dep["metadata"]["annotations"][LAST_APPLIED])
    assert applied["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.20"

    cm = server.get("/api/v1/namespaces/%s/configmaps/cfg" % ns)
    assert cm["data"] == {"a": "3"}, "three-way apply must change a and delete b: %r" % cm
    sec = server.get("/api/v1/namespaces/%s/secrets/creds" % ns)
    assert sec["data"] == {"user": b64("admin"), "pass": b64("s3cret")} and "stringData" not in sec
    cr = server.get("/apis/e2e.gantry.dev/v1/namespaces/%s/%s/demo" % (ns, plural))
    assert cr["spec"]["replicas"] == 3, cr

    # third apply of the same manifests: nothing changes
    rv_before = server.get("/apis/apps/v1/namespaces/%s/deployments/web" % ns)["metadata"][
        "resourceVersion"]
    p = server.kubectl(v, "apply", "-f", second)
    assert "deployment.apps/web unchanged" in p.stdout and "configmap/cfg unchanged" in p.stdout, \
        p.stdout
    assert server.get("/apis/apps/v1/namespaces/%s/deployments/web" % ns)["metadata"][
        "resourceVersion"] == rv_before


@pytest.mark.parametrize("v", VERSIONS)
def test_apply_server_side_create_and_update(server, ns, v):
    p = server.kubectl(v, "apply", "--server-side", "-f",
                       server.render("ssa-cm.yaml", NS=ns, VALUE="one"))
    assert p.stdout.strip() == "configmap/ssa serverside-applied", p.stdout + p.stderr
    cm = server.get("/api/v1/namespaces/%s/configmaps/ssa" % ns)
    assert cm["data"] == {"k": "one"} and cm["metadata"]["labels"] == {"via": "ssa"}, cm
    uid = cm["metadata"]["uid"]

    p = server.kubectl(v, "apply", "--server-side", "-f",
                       server.render("ssa-cm.yaml", NS=ns, VALUE="two"))
    assert p.stdout.strip() == "configmap/ssa serverside-applied", p.stdout + p.stderr
    cm = server.get("/api/v1/namespaces/%s/configmaps/ssa" % ns)
    assert cm["data"] == {"k": "two"}, cm
    assert cm["metadata"]["uid"] == uid
    assert cm["metadata"]["labels"] == {"via": "ssa"}, cm

    # a client-side-applied object taken over by server-side apply stays intact
    server.kubectl(v, "apply", "-f", server.render("app.yaml", NS=ns))
    p = server.kubectl(v, "apply", "--server-side", "--force-conflicts", "-f",
                       server.render("app-v2.yaml", NS=ns))
    assert "deployment.apps/web serverside-applied" in p.stdout, p.stdout + p.stderr
    dep = server.get("/apis/apps/v1/namespaces/%s/deployments/web" % ns)
    cs = dep["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1 and cs[0]["image"] == "nginx:1.20", cs
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}, dep["spec"]


@pytest.mark.parametrize("v", VERSIONS)
def test_create_and_replace_from_file(server, ns, v):
    p = server.kubectl(v, "create", "-f", server.render("ssa-cm.yaml", NS=ns, VALUE="one"))
    assert p.stdout.strip() == "configmap/ssa created", p.stdout + p.stderr
    before = server.get("/api/v1/namespaces/%s/configmaps/ssa" % ns)
    p = server.kubectl(v, "replace", "-f", server.render("ssa-cm.yaml", NS=ns, VALUE="two"))
    assert p.stdout.strip() == "configmap/ssa replaced", p.stdout + p.stderr
    after = server.get("/api/v1/namespaces/%s/configmaps/ssa" % ns)
    assert after["data"] == {"k": "two"} and after["metadata"]["uid"] == before["metadata"]["uid"]
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    p = server.kubectl(v, "create", "-f", server.render("ssa-cm.yaml", NS=ns, VALUE="x"),
                       check=False)
    assert p.returncode == 1 and "AlreadyExists" in p.stderr, p.stderr
