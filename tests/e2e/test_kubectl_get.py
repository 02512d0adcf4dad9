"""kubectl get: table columns, -o wide/json/yaml/name, -A, -l, and -w."""
import json
import time

import pytest
import yaml

from conftest import VERSIONS, LineReader, apply_app, crd_vars, ensure_crd


def _header(out):
    return out.splitlines()[0].split()


def _rows(out):
    return [l.split() for l in out.splitlines()[1:] if l.strip()]


def _cm(name, labels=None, data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}}, "data": data or {}}


@pytest.mark.parametrize("v", VERSIONS)
def test_get_table_columns(server, ns, v):
    apply_app(server, v, ns)
    p = server.kubectl(v, "get", "deploy", "-n", ns)
    assert _header(p.stdout) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], p.stdout
    rows = _rows(p.stdout)
    assert len(rows) == 1 and rows[0][0] == "web", p.stdout
    assert rows[0][1].endswith("/1"), "READY is ready/desired: %r" % rows[0]

    p = server.kubectl(v, "get", "deploy", "-n", ns, "-o", "wide")
    assert _header(p.stdout) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                                 "IMAGES", "SELECTOR"], p.stdout
    assert _rows(p.stdout)[0][-3:] == ["web", "nginx:1.19", "app=web"], p.stdout

    p = server.kubectl(v, "get", "cm", "cfg", "-n", ns)
    assert _header(p.stdout) == ["NAME", "DATA", "AGE"], p.stdout
    assert _rows(p.stdout)[0][:2] == ["cfg", "2"], p.stdout

    p = server.kubectl(v, "get", "secret", "creds", "-n", ns)
    assert _header(p.stdout) == ["NAME", "TYPE", "DATA", "AGE"], p.stdout
    assert _rows(p.stdout)[0][:3] == ["creds", "Opaque", "2"], p.stdout

    p = server.kubectl(v, "get", "svc", "web", "-n", ns)
    assert _header(p.stdout) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], \
        p.stdout
    r = _rows(p.stdout)[0]
    assert r[0] == "web" and r[1] == "ClusterIP" and r[4] == "80/TCP", p.stdout

    server.create("/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    p = server.kubectl(v, "get", "pods", "-n", ns)
    assert _header(p.stdout) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], p.stdout
    assert _rows(p.stdout)[0][:4] == ["p1", "0/1", "Pending", "0"], p.stdout

    p = server.kubectl(v, "get", "job", "pi", "-n", ns)
    assert _header(p.stdout) == ["NAME", "COMPLETIONS", "DURATION", "AGE"], p.stdout
    assert _rows(p.stdout)[0][:2] == ["pi", "0/1"], p.stdout


@pytest.mark.parametrize("v", VERSIONS)
def test_get_custom_resource_printer_columns(server, ns, v):
    plural = ensure_crd(server, v)
    cv = crd_vars(v)
    server.kubectl(v, "apply", "-f", server.render("cr.yaml", NS=ns, REPLICAS=4, **cv))
    p = server.kubectl(v, "get", plural, "-n", ns)
    assert _header(p.stdout) == ["NAME", "REPLICAS", "IMAGE", "PHASE", "AGE"], p.stdout
    r = _rows(p.stdout)
    assert len(r) == 1 and r[0][:3] == ["demo", "4", "trainer:1"], p.stdout
    # short name and the CRD's own table
    p = server.kubectl(v, "get", "tj" + cv["SFX"], "demo", "-n", ns, "-o", "name")
    assert p.stdout.strip() == "trainjob%s.e2e.gantry.dev/demo" % cv["SFX"], p.stdout
    p = server.kubectl(v, "get", "crd", "trainjobs%s.e2e.gantry.dev" % cv["SFX"])
    assert _header(p.stdout) == ["NAME", "CREATED", "AT"], p.stdout


@pytest.mark.parametrize("v", VERSIONS)
def test_get_output_json_yaml_name(server, ns, v):
    apply_app(server, v, ns)
    p = server.kubectl(v, "get", "deploy", "web", "-n", ns, "-o", "json")
    d = json.loads(p.stdout)
    assert d["kind"] == "Deployment" and d["apiVersion"] == "apps/v1"
    assert d["metadata"]["name"] == "web" and d["metadata"]["namespace"] == ns
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.19"
    assert d["metadata"]["uid"] and d["metadata"]["resourceVersion"]

    p = server.kubectl(v, "get", "cm", "-n", ns, "-o", "yaml")
    d = yaml.safe_load(p.stdout)
    assert d["kind"] == "List"
    assert [i["metadata"]["name"] for i in d["items"]] == ["cfg"]
    assert d["items"][0]["data"] == {"a": "1", "b": "2"}
    assert d["items"][0]["kind"] == "ConfigMap"

    p = server.kubectl(v, "get", "deploy,svc,cm,secret,job", "-n", ns, "-o", "name")
    assert sorted(p.stdout.split()) == sorted([
        "deployment.apps/web", "service/web", "configmap/cfg", "secret/creds", "job.batch/pi"]), \
        p.stdout

    p = server.kubectl(v, "get", "cm", "cfg", "-n", ns, "-o", "jsonpath={.data.b}")
    assert p.stdout == "2"


@pytest.mark.parametrize("v", VERSIONS)
def test_get_all_namespaces(server, v):
    tag = "v" + v.replace(".", "")
    a = server.make_ns("alla-" + tag)
    b = server.make_ns("allb-" + tag)
    server.create("/api/v1/namespaces/%s/configmaps" % a, _cm("one-" + tag))
    server.create("/api/v1/namespaces/%s/configmaps" % b, _cm("two-" + tag))
    p = server.kubectl(v, "get", "cm", "-A")
    assert _header(p.stdout) == ["NAMESPACE", "NAME", "DATA", "AGE"], p.stdout
    rows = {(r[0], r[1]) for r in _rows(p.stdout)}
    assert (a, "one-" + tag) in rows and (b, "two-" + tag) in rows, p.stdout
    assert (a, "two-" + tag) not in rows
    p = server.kubectl(v, "get", "ns", "-o", "name")
    assert "namespace/" + a in p.stdout.split() and "namespace/default" in p.stdout.split()


@pytest.mark.parametrize("v", VERSIONS)
def test_get_label_selector_filters(server, ns, v):
    for name, labels in (("fe1", {"tier": "fe", "env": "prod"}), ("fe2", {"tier": "fe"}),
                         ("be1", {"tier": "be", "env": "prod"}), ("none", {})):
        server.create("/api/v1/namespaces/%s/configmaps" % ns, _cm(name, labels))

    def names(*sel):
        p = server.kubectl(v, "get", "cm", "-n", ns, "-o", "name", *sel)
        return sorted(x.split("/", 1)[1] for x in p.stdout.split())

    assert names("-l", "tier=fe") == ["fe1", "fe2"]
    assert names("-l", "tier=fe,env=prod") == ["fe1"]
    assert names("-l", "tier!=fe") == ["be1", "none"]
    assert names("-l", "tier in (fe,be)") == ["be1", "fe1", "fe2"]
    assert names("-l", "env notin (prod)") == ["fe2", "none"]
    assert names("-l", "!tier") == ["none"]
    assert names("-l", "env") == ["be1", "fe1"]
    assert names("--field-selector", "metadata.name=be1") == ["be1"]
    p = server.kubectl(v, "get", "cm", "-n", ns, "-l", "tier=nope")
    assert p.stdout == "" and "No resources found in %s namespace." % ns in p.stderr, p.stderr
    p = server.kubectl(v, "get", "cm", "-n", ns, "-L", "tier")
    assert _header(p.stdout) == ["NAME", "DATA", "AGE", "TIER"], p.stdout
    assert {r[0]: r[-1] for r in _rows(p.stdout)}["be1"] == "be"


@pytest.mark.parametrize("v", VERSIONS)
def test_get_chunked_list(server, ns, v):
    for i in range(7):
        server.create("/api/v1/namespaces/%s/configmaps" % ns, _cm("c%d" % i))
    for args in (["-o", "name"], []):
        p = server.kubectl(v, "get", "cm", "-n", ns, "--chunk-size=2", *args)
        names = [x.split("/")[-1] for x in p.stdout.split()] if args else \
            [r[0] for r in _rows(p.stdout)]
        assert names == ["c%d" % i for i in range(7)], p.stdout
        if not args:
            assert p.stdout.count("NAME") == 1, "one header across pages:\n" + p.stdout


@pytest.mark.parametrize("v", VERSIONS)
def test_get_watch_prints_new_and_changed_rows(server, ns, v):
    server.create("/api/v1/namespaces/%s/configmaps" % ns, _cm("w0", data={"x": "1"}))
    proc = server.kubectl_popen(v, "get", "cm", "-n", ns, "-w", "--request-timeout=15s")
    out = LineReader(proc)
    try:
        assert out.wait_for(lambda l: l.split()[:1] == ["w0"]), \
            "initial list not printed: %r / %s" % (out.text(), proc.stderr)
        time.sleep(0.3)
        server.create("/api/v1/namespaces/%s/configmaps" % ns, _cm("w1", data={"x": "1"}))
        assert out.wait_for(lambda l: l.split()[:2] == ["w1", "1"]), \
            "watch did not print the new ConfigMap: %r" % out.text()
        r = server.request("PATCH", "/api/v1/namespaces/%s/configmaps/w1" % ns,
                           {"data": {"y": "2"}}, content_type="application/merge-patch+json")
        assert r.status == 200, r
        assert out.wait_for(lambda l: l.split()[:2] == ["w1", "2"]), \
            "watch did not print the modified ConfigMap: %r" % out.text()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except Exception:
            proc.kill()
    text = out.text()
    headers = [l for l in text.splitlines() if l.split()[:1] == ["NAME"]]
    assert len(headers) == 1, "watch rows must not repeat the header:\n" + text
    assert headers[0].split() == ["NAME", "DATA", "AGE"], text


@pytest.mark.parametrize("v", VERSIONS)
def test_get_single_name_watch(server, ns, v):
    server.create("/api/v1/namespaces/%s/configmaps" % ns, _cm("solo", data={"a": "1"}))
    server.create("/api/v1/namespaces/%s/configmaps" % ns, _cm("other", data={"a": "1"}))
    proc = server.kubectl_popen(v, "get", "cm", "solo", "-n", ns, "-w", "--request-timeout=15s")
    out = LineReader(proc)
    try:
        assert out.wait_for(lambda l: l.split()[:2] == ["solo", "1"]), out.text()
        time.sleep(0.3)
        for name in ("other", "solo"):
            r = server.request("PATCH", "/api/v1/namespaces/%s/configmaps/%s" % (ns, name),
                               {"data": {"b": "2", "c": "3"}},
                               content_type="application/merge-patch+json")
            assert r.status == 200, r
        assert out.wait_for(lambda l: l.split()[:2] == ["solo", "3"]), out.text()
    finally:
        proc.terminate()
        proc.wait(10)
    assert "other" not in out.text(), "watch of one name printed another object:\n" + out.text()
