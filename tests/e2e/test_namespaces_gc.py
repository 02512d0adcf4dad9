"""Namespace deletion empties the namespace; garbage collection of
ownerReferences with Background, Orphan and Foreground propagation."""
import threading
import time

import pytest
from kubernetes import client, watch

from conftest import VERSIONS, apply_app, cm_body, poll

CMS = "/api/v1/namespaces/%s/configmaps"
CM = CMS + "/%s"


@pytest.mark.parametrize("v", VERSIONS)
def test_delete_namespace_deletes_contents(server, v):
    nsname = server.make_ns("doomed-" + v.replace(".", ""))
    apply_app(server, v, nsname)
    server.create(CMS % nsname, cm_body("extra"))
    p = server.kubectl(v, "delete", "ns", nsname, "--timeout=60s", timeout=90)
    assert p.stdout.strip() == 'namespace "%s" deleted' % nsname, p.stdout
    # kubectl waits until the namespace is gone
    r = server.request("GET", "/api/v1/namespaces/" + nsname)
    assert r.status == 404, "namespace still there after kubectl delete returned: %r" % r
    for path in ("/api/v1/namespaces/%s/configmaps/extra", "/api/v1/namespaces/%s/configmaps/cfg",
                 "/api/v1/namespaces/%s/secrets/creds", "/api/v1/namespaces/%s/services/web",
                 "/apis/apps/v1/namespaces/%s/deployments/web",
                 "/apis/batch/v1/namespaces/%s/jobs/pi"):
        assert server.request("GET", path % nsname).status == 404, path % nsname
    assert server.get(CMS % nsname)["items"] == []
    # the name can be reused
    server.make_ns(nsname)
    assert server.get("/api/v1/namespaces/" + nsname)["status"]["phase"] == "Active"


def test_terminating_namespace_rejects_creates(server):
    nsname = server.make_ns("terminating")
    server.create(CMS % nsname, cm_body("held", finalizers=["e2e.gantry.dev/hold"]))
    r = server.request("DELETE", "/api/v1/namespaces/" + nsname)
    assert r.status == 200, r
    n = server.get("/api/v1/namespaces/" + nsname)
    assert n["status"]["phase"] == "Terminating" and n["metadata"].get("deletionTimestamp"), n
    r = server.request("POST", CMS % nsname, cm_body("late"))
    assert r.status == 403 and r.json()["reason"] == "Forbidden", r
    # release the finalizer: the namespace finishes
    assert poll(lambda: server.get(CM % (nsname, "held"))["metadata"].get("deletionTimestamp"))
    r = server.request("PATCH", CM % (nsname, "held"), {"metadata": {"finalizers": None}},
                       content_type="application/merge-patch+json")
    assert r.status == 200, r
    assert server.wait_gone("/api/v1/namespaces/" + nsname), "namespace never went away"


def test_default_namespaces_exist(server):
    names = [i["metadata"]["name"] for i in server.get("/api/v1/namespaces")["items"]]
    assert "default" in names and "kube-system" in names, names
    r = server.request("DELETE", "/api/v1/namespaces/default")
    assert r.status in (403, 405, 422), "deleting 'default' must be refused: %r" % r
    assert server.get("/api/v1/namespaces/default")["status"]["phase"] == "Active"


def _owner_and_dependent(server, ns, block=False):
    owner = server.create(CMS % ns, cm_body("owner"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
           "uid": owner["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    dep = server.create(CMS % ns, cm_body("dependent", ownerReferences=[ref]))
    other = server.create(CMS % ns, cm_body("bystander"))
    return owner, dep, other


@pytest.mark.parametrize("v", VERSIONS)
def test_gc_background(server, ns, v):
    _owner_and_dependent(server, ns)
    p = server.kubectl(v, "delete", "cm", "owner", "-n", ns)
    assert p.stdout.strip() == 'configmap "owner" deleted'
    assert server.request("GET", CM % (ns, "owner")).status == 404
    assert server.wait_gone(CM % (ns, "dependent")), "dependent not garbage-collected"
    assert server.exists(CM % (ns, "bystander"))


@pytest.mark.parametrize("v", VERSIONS)
def test_gc_orphan(server, ns, v):
    _owner_and_dependent(server, ns)
    p = server.kubectl(v, "delete", "cm", "owner", "-n", ns, "--cascade=orphan")
    assert p.stdout.strip() == 'configmap "owner" deleted'
    assert server.request("GET", CM % (ns, "owner")).status == 404
    d = poll(lambda: (lambda o: o if not o["metadata"].get("ownerReferences") else None)(
        server.get(CM % (ns, "dependent"))), timeout=10)
    assert d, "orphaned dependent still has its ownerReference: %r" % server.get(
        CM % (ns, "dependent"))
    # and it stays
    time.sleep(1)
    assert server.exists(CM % (ns, "dependent"))


def test_gc_dangling_owner_reference(server, ns):
    """A dependent whose owner uid never existed is collected too."""
    server.create(CMS % ns, cm_body("owner"))
    server.create(CMS % ns, cm_body("stray", ownerReferences=[{
        "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
        "uid": "00000000-0000-0000-0000-000000000000"}]))
    assert server.wait_gone(CM % (ns, "stray")), "dependent of a missing owner uid not collected"
    assert server.exists(CM % (ns, "owner"))


@pytest.mark.parametrize("v", VERSIONS)
def test_gc_foreground(server, ns, v):
    owner, dep, _ = _owner_and_dependent(server, ns, block=True)
    v1 = client.CoreV1Api(server.api_client())
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    events = []

    def watcher():
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv,
                           timeout_seconds=15):
            md = ev["raw_object"]["metadata"]
            events.append((ev["type"], md["name"], bool(md.get("deletionTimestamp")),
                           md.get("finalizers") or []))
            if ev["type"] == "DELETED" and md["name"] == "owner":
                w.stop()

    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.5)
    p = server.kubectl(v, "delete", "cm", "owner", "-n", ns, "--cascade=foreground",
                       "--timeout=30s")
    assert p.stdout.strip() == 'configmap "owner" deleted'
    t.join(20)
    # kubectl waited for the owner to be gone; the dependent went first
    assert server.request("GET", CM % (ns, "owner")).status == 404
    assert server.request("GET", CM % (ns, "dependent")).status == 404
    seq = [(e[0], e[1]) for e in events]
    assert ("DELETED", "dependent") in seq and ("DELETED", "owner") in seq, events
    assert seq.index(("DELETED", "dependent")) < seq.index(("DELETED", "owner")), \
        "foreground deletion must remove the dependent before the owner: %r" % events
    first_owner = [e for e in events if e[1] == "owner"][0]
    assert first_owner[0] == "MODIFIED" and first_owner[2] and \
        "foregroundDeletion" in first_owner[3], \
        "owner should first get deletionTimestamp + foregroundDeletion: %r" % events
    assert ("DELETED", "bystander") not in seq
