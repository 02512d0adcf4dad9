"""fieldValidation (KEP-2885): Strict rejects unknown and duplicate fields with
their paths (400), Warn (the default) and Ignore accept the object and drop
the unknown fields; Warn also sends Warning headers that kubectl prints."""
import json

import pytest

from conftest import VERSIONS

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
  namespace: {ns}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: t}}}}
  template:
    metadata: {{labels: {{app: t}}}}
    spec:
      containers:
      - name: c
        image: nginx
        imagePullPolcy: Always
  foo: bar
"""


@pytest.mark.parametrize("v", VERSIONS)
def test_kubectl_strict_and_warn(server, ns, v):
    path = server.write_manifest(DEPLOY.format(ns=ns))
    if v == "1.33":
        # kubectl >= 1.27 sends fieldValidation=Strict by default
        p = server.kubectl(v, "apply", "-f", path, check=False)
        assert p.returncode == 1, p
        assert 'strict decoding error: unknown field "spec.foo", unknown field ' \
               '"spec.template.spec.containers[0].imagePullPolcy"' in p.stderr, p.stderr
        assert not server.exists("/apis/apps/v1/namespaces/%s/deployments/typo" % ns)
        p = server.kubectl(v, "apply", "--validate=warn", "-f", path)
        assert 'Warning: unknown field "spec.foo"' in p.stderr, p.stderr
    else:
        # kubectl 1.20 sends no fieldValidation: the server default (Warn)
        server.kubectl(v, "apply", "-f", path)
    d = server.get("/apis/apps/v1/namespaces/%s/deployments/typo" % ns)
    assert "foo" not in d["spec"], d["spec"]
    assert "imagePullPolcy" not in d["spec"]["template"]["spec"]["containers"][0]


def test_raw_strict_duplicate_and_ignore(server, ns):
    base = "/api/v1/namespaces/%s/configmaps" % ns
    dup = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"data":{"a":"1"},"data":{"a":"2"}}'
    r = server.request("POST", base + "?fieldValidation=Strict", dup)
    assert r.status == 400, r
    assert 'duplicate field' in r.json()["message"], r.json()
    # without Strict the last duplicate wins, as in Kubernetes
    r = server.request("POST", base, dup)
    assert r.status == 201, r
    assert r.json()["data"] == {"a": "2"}
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u"},
            "data": {"a": "1"}, "bogus": 1}
    r = server.request("POST", base + "?fieldValidation=Warn", body)
    assert r.status == 201, r
    assert 'unknown field \\"bogus\\"' in r.headers.get("warning", ""), r.headers
    assert "bogus" not in r.json()
    body["metadata"]["name"] = "i"
    r = server.request("POST", base + "?fieldValidation=Ignore", body)
    assert r.status == 201 and "warning" not in r.headers, r
    r = server.request("POST", base + "?fieldValidation=Loud", body)
    assert r.status == 400 and "fieldValidation" in r.json()["message"], r
