"""Error paths: Status objects with the right code/reason/causes, for the
Python client, kubectl and raw HTTPS; and the server keeps serving after
bad input."""
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from conftest import VERSIONS, cm_body


def _status(r, code, reason):
    assert r.status == code, r
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    s = r.json()
    assert s["kind"] == "Status" and s["apiVersion"] == "v1", s
    assert s["status"] == "Failure" and s["code"] == code and s["reason"] == reason, s
    return s


def _alive(server):
    r = server.request("GET", "/api/v1/namespaces/default")
    assert r.status == 200, "server stopped serving: %r" % r


@pytest.fixture(scope="module")
def v1(server):
    return client.CoreV1Api(server.api_client())


def test_conflict_on_stale_resource_version(server, v1, ns):
    v1.create_namespaced_config_map(ns, cm_body("cc", {"a": "1"}))
    old = v1.read_namespaced_config_map("cc", ns)
    v1.patch_namespaced_config_map("cc", ns, {"data": {"a": "2"}})
    old.data = {"a": "stale"}
    with pytest.raises(ApiException) as e:
        v1.replace_namespaced_config_map("cc", ns, old)
    assert e.value.status == 409
    body = json.loads(e.value.body)
    assert body["reason"] == "Conflict", body
    assert "the object has been modified" in body["message"], body
    assert v1.read_namespaced_config_map("cc", ns).data == {"a": "2"}
    # a patch carrying a stale resourceVersion is a precondition too
    r = server.request("PATCH", "/api/v1/namespaces/%s/configmaps/cc" % ns,
                       {"metadata": {"resourceVersion": old.metadata.resource_version},
                        "data": {"a": "3"}}, content_type="application/merge-patch+json")
    _status(r, 409, "Conflict")
    # replace with the current RV works
    cur = v1.read_namespaced_config_map("cc", ns)
    cur.data = {"a": "fresh"}
    assert v1.replace_namespaced_config_map("cc", ns, cur).data == {"a": "fresh"}


def test_uid_of_a_replaced_object(server, v1, ns):
    """A pod deleted and created again under its name: a status patch that
    names the old pod's uid (as the kubelet's does) is refused with 422, a
    replace carrying it with 409, and the new pod keeps its status."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "again"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    path = "/api/v1/namespaces/%s/pods/again" % ns
    old = server.create("/api/v1/namespaces/%s/pods" % ns, pod)
    r = server.request("DELETE", path, {"gracePeriodSeconds": 0})
    assert r.status == 200, r
    new = server.create("/api/v1/namespaces/%s/pods" % ns, pod)
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    r = server.request("PATCH", path + "/status",
                       {"metadata": {"uid": old["metadata"]["uid"]}, "status": {"phase": "Failed"}},
                       content_type="application/merge-patch+json")
    s = _status(r, 422, "Invalid")
    assert s["message"] == 'Pod "again" is invalid: metadata.uid: Invalid value: "%s": ' \
        "field is immutable" % old["metadata"]["uid"], s
    body = dict(old, status={"phase": "Failed"})
    del body["metadata"]["resourceVersion"]
    r = server.request("PUT", path, body)
    s = _status(r, 409, "Conflict")
    assert "Precondition failed: UID in precondition: %s, UID in object meta: %s" % (
        old["metadata"]["uid"], new["metadata"]["uid"]) in s["message"], s
    assert server.get(path)["status"].get("phase") == "Pending"
    # its own uid passes
    r = server.request("PATCH", path + "/status",
                       {"metadata": {"uid": new["metadata"]["uid"]}, "status": {"phase": "Running"}},
                       content_type="application/merge-patch+json")
    assert r.status == 200 and r.json()["status"]["phase"] == "Running", r
    _alive(server)


def test_already_exists(server, v1, ns):
    v1.create_namespaced_config_map(ns, cm_body("dup"))
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map(ns, cm_body("dup"))
    assert e.value.status == 409
    body = json.loads(e.value.body)
    assert body["reason"] == "AlreadyExists", body
    assert body["message"] == 'configmaps "dup" already exists', body
    assert body["details"]["name"] == "dup" and body["details"]["kind"] == "configmaps", body


@pytest.mark.parametrize("v", VERSIONS)
def test_not_found(server, v1, ns, v):
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_config_map("nope", ns)
    assert e.value.status == 404
    body = json.loads(e.value.body)
    assert body["reason"] == "NotFound" and body["message"] == 'configmaps "nope" not found', body
    p = server.kubectl(v, "get", "cm", "nope", "-n", ns, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): configmaps "nope" not found', p.stderr
    # create in a namespace that does not exist
    r = server.request("POST", "/api/v1/namespaces/no-such-ns/configmaps", cm_body("x"))
    s = _status(r, 404, "NotFound")
    assert s["message"] == 'namespaces "no-such-ns" not found', s
    # listing in an empty namespace is an empty list, not 404
    r = server.request("GET", "/api/v1/namespaces/no-such-ns/configmaps")
    assert r.status == 200 and r.json()["items"] == [], r
    # unknown resource type
    p = server.kubectl(v, "get", "frobnicators", check=False)
    assert p.returncode == 1
    assert 'the server doesn\'t have a resource type "frobnicators"' in p.stderr, p.stderr


def test_invalid_deployment_422_with_causes(server, ns):
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "noimage"},
            "spec": {"selector": {"matchLabels": {"app": "x"}},
                     "template": {"metadata": {"labels": {"app": "x"}},
                                  "spec": {"containers": [{"name": "c"}]}}}}
    r = server.request("POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, body)
    s = _status(r, 422, "Invalid")
    assert s["details"]["name"] == "noimage" and s["details"]["kind"] == "Deployment", s
    fields = {c["field"]: c for c in s["details"]["causes"]}
    assert "spec.template.spec.containers[0].image" in fields, s
    assert fields["spec.template.spec.containers[0].image"]["reason"] == "FieldValueRequired", s
    assert server.request("GET", "/apis/apps/v1/namespaces/%s/deployments/noimage" % ns
                          ).status == 404, "an invalid object must not be stored"

    # selector that does not match the template labels
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx"
    body["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    r = server.request("POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, body)
    s = _status(r, 422, "Invalid")
    assert "spec.template.metadata.labels" in [c["field"] for c in s["details"]["causes"]], s

    # missing name
    r = server.request("POST", "/api/v1/namespaces/%s/configmaps" % ns,
                       {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    s = _status(r, 422, "Invalid")
    assert "metadata.name" in [c["field"] for c in s["details"]["causes"]], s

    # an invalid name
    r = server.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, cm_body("Bad_Name"))
    s = _status(r, 422, "Invalid")
    assert "metadata.name" in [c["field"] for c in s["details"]["causes"]], s


@pytest.mark.parametrize("v", VERSIONS)
def test_invalid_via_kubectl(server, ns, v):
    p = server.kubectl(v, "apply", "-f", server.render("invalid-deploy.yaml", NS=ns), check=False)
    assert p.returncode == 1, p.stdout
    assert 'The Deployment "noimage" is invalid' in p.stderr, p.stderr
    assert "spec.template.spec.containers[0].image: Required value" in p.stderr, p.stderr


@pytest.mark.parametrize("v", VERSIONS)
def test_unauthorized(server, v):
    p = server.kubectl(v, "get", "ns", "--token=not-the-token", check=False, timeout=120)
    assert p.returncode == 1
    assert "You must be logged in to the server (Unauthorized)" in p.stderr, p.stderr


def test_unauthorized_raw(server):
    for token in (None, "wrong-token"):
        r = server.request("GET", "/api/v1/namespaces", token=token)
        _status(r, 401, "Unauthorized")
    r = server.request("GET", "/api/v1/namespaces", headers={"Authorization": "Basic YTpi"},
                       token=None)
    _status(r, 401, "Unauthorized")
    r = server.request("GET", "/healthz", token=None)
    assert r.status == 200 and r.body.strip() == b"ok", r
    _alive(server)


def test_malformed_json_400(server, ns):
    for body in (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"', b"\x00\xff",
                 b"[1,2,3]", b'"just a string"', b""):
        r = server.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, body)
        assert 400 <= r.status < 500, "body %r: %r" % (body, r)
        s = r.json()
        assert s["kind"] == "Status" and s["code"] == r.status, s
    r = server.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, b'{"metadata":')
    _status(r, 400, "BadRequest")
    r = server.request("PATCH", "/api/v1/namespaces/%s/configmaps/x" % ns, b"{not json",
                       content_type="application/merge-patch+json")
    assert r.status in (400, 404), r
    r = server.request("PATCH", "/api/v1/namespaces/%s/configmaps/x" % ns, b'{"a":1}',
                       content_type="application/x-unknown-patch")
    _status(r, 415, "UnsupportedMediaType")
    _alive(server)


def test_oversized_body_413(server, ns):
    big = cm_body("big", {"blob": "x" * (3 * 1024 * 1024 + 4096)})
    r = server.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, big, timeout=60)
    assert r.status == 413, r
    s = r.json()
    assert s["kind"] == "Status" and s["code"] == 413, s
    assert server.request("GET", "/api/v1/namespaces/%s/configmaps/big" % ns).status == 404
    _alive(server)
    # just under the limit is fine for the transport (a ConfigMap may then be
    # rejected for its 1 MiB data limit, but not with 413)
    r = server.request("POST", "/api/v1/namespaces/%s/configmaps" % ns,
                       cm_body("medium", {"blob": "y" * (900 * 1024)}))
    assert r.status == 201, r


def test_type_mismatch_raw(server, ns):
    for body in ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tb"},
                  "data": {"a": True}},
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tb"},
                  "data": {"a": 1}},
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tb"},
                  "data": ["a"]},
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": True}},
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "tb"},
                 {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "tb", "labels": {"a": False}}},
                 {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "tb"},
                  "spec": {"replicas": "three"}}):
        path = ("/apis/apps/v1/namespaces/%s/deployments" if body["kind"] == "Deployment"
                else "/api/v1/namespaces/%s/configmaps") % ns
        r = server.request("POST", path, body)
        assert r.status in (400, 422), "body %s: %r" % (json.dumps(body), r)
        assert r.json()["kind"] == "Status"
        _alive(server)
    assert server.request("GET", "/api/v1/namespaces/%s/configmaps/tb" % ns).status == 404


@pytest.mark.parametrize("v", VERSIONS)
def test_yaml_boolean_via_kubectl(server, ns, v):
    p = server.kubectl(v, "apply", "-f", server.render("bool-cm.yaml", NS=ns), check=False)
    assert p.returncode == 1, p.stdout
    # a real API server: 'Error from server (BadRequest): error when creating "...":
    # ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot
    # unmarshal bool into Go struct field ConfigMap.data of type string'
    assert "Error from server (BadRequest)" in p.stderr, p.stderr
    assert "data" in p.stderr, "the message should name the offending field: " + p.stderr
    assert server.request("GET", "/api/v1/namespaces/%s/configmaps/boolcm" % ns).status == 404
    _alive(server)


def test_namespace_mismatch_and_bad_selectors(server, ns):
    body = cm_body("mm")
    body["metadata"]["namespace"] = "default"
    r = server.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, body)
    s = _status(r, 400, "BadRequest")
    assert "does not match the namespace" in s["message"], s
    r = server.request("GET", "/api/v1/namespaces/%s/configmaps?labelSelector=a%%20in%%20(" % ns)
    _status(r, 400, "BadRequest")
    r = server.request("GET", "/api/v1/namespaces/%s/configmaps?fieldSelector=spec.bogus%%3D1" % ns)
    s = _status(r, 400, "BadRequest")
    assert "field label not supported" in s["message"], s
    r = server.request("GET", "/api/v1/namespaces/%s/pods?fieldSelector=status.phase%%3DPending"
                       % ns)
    assert r.status == 200, r
    r = server.request("GET", "/apis/apps/v1/namespaces/%s/frobs" % ns)
    assert r.status == 404 and r.json()["kind"] == "Status", r
    _alive(server)
