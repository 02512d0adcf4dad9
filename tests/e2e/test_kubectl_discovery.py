"""kubectl version, api-resources and cluster-info against the real server,
with kubectl 1.20 and 1.33."""
import json

import pytest

from conftest import VERSIONS


@pytest.mark.parametrize("v", VERSIONS)
def test_version_prints_server_version(server, v):
    info = server.get("/version")
    for k in ("major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate",
              "goVersion", "compiler", "platform"):
        assert k in info, "GET /version lacks %s: %r" % (k, info)
    p = server.kubectl(v, "version", "-o", "json")
    out = json.loads(p.stdout)
    assert out["serverVersion"]["gitVersion"] == info["gitVersion"]
    assert out["serverVersion"]["major"] == info["major"]
    assert out["serverVersion"]["minor"] == info["minor"]
    assert out["clientVersion"]["gitVersion"].startswith("v" + v + ".")
    p = server.kubectl(v, "version")
    assert "Server Version" in p.stdout
    assert info["gitVersion"] in p.stdout


def _rows(text):
    return [line.split() for line in text.splitlines()[1:] if line.strip()]


@pytest.mark.parametrize("v", VERSIONS)
def test_api_resources_lists_core_kinds_with_shortnames(server, v):
    p = server.kubectl(v, "api-resources")
    assert "unable to retrieve" not in p.stderr, p.stderr
    header = p.stdout.splitlines()[0].split()
    assert header[:2] == ["NAME", "SHORTNAMES"], p.stdout
    assert "NAMESPACED" in header and "KIND" in header
    rows = {}
    for r in _rows(p.stdout):
        # the first row of a name (core before metrics.k8s.io's "pods" and "nodes", as
        # in a cluster running metrics-server)
        rows.setdefault(r[0], r)
    want = {
        "pods": ("po", "v1", "true", "Pod"),
        "configmaps": ("cm", "v1", "true", "ConfigMap"),
        "namespaces": ("ns", "v1", "false", "Namespace"),
        "deployments": ("deploy", "apps/v1", "true", "Deployment"),
        "customresourcedefinitions": ("crd,crds", "apiextensions.k8s.io/v1", "false",
                                      "CustomResourceDefinition"),
    }
    for name, (short, gv, namespaced, kind) in want.items():
        assert name in rows, "%s missing from api-resources:\n%s" % (name, p.stdout)
        r = rows[name]
        assert r[1] == short, r
        assert r[-1] == kind, r
        assert r[-2] == namespaced, r
        # 1.20+ print APIVERSION (group/version)
        assert r[2] == gv, r
    # jobs has no short name: NAME APIVERSION NAMESPACED KIND
    assert rows["jobs"] == ["jobs", "batch/v1", "true", "Job"], rows.get("jobs")

    p = server.kubectl(v, "api-resources", "-o", "name")
    names = set(p.stdout.split())
    assert {"pods", "deployments.apps", "jobs.batch",
            "customresourcedefinitions.apiextensions.k8s.io"} <= names, p.stdout

    p = server.kubectl(v, "api-resources", "--namespaced=false", "-o", "name")
    names = set(p.stdout.split())
    assert "namespaces" in names and "pods" not in names, p.stdout


@pytest.mark.parametrize("v", VERSIONS)
def test_cluster_info(server, v):
    p = server.kubectl(v, "cluster-info")
    assert "Kubernetes control plane is running at " + server.url in p.stdout, p.stdout


@pytest.mark.parametrize("v", VERSIONS)
def test_get_namespaces_default_and_kube_system(server, v):
    p = server.kubectl(v, "get", "ns", "default", "kube-system")
    rows = _rows(p.stdout)
    assert p.stdout.splitlines()[0].split() == ["NAME", "STATUS", "AGE"], p.stdout
    assert [r[:2] for r in rows] == [["default", "Active"], ["kube-system", "Active"]], p.stdout
