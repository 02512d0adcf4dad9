"""StatefulSet controller (issue 4) on the embedded agent (real containers
and local-path volumes): ordered start observed through a watch, stable
names and per-ordinal claims whose data outlives the pod, the hostname and
subdomain in /etc/hosts, an ordered rolling update with `kubectl rollout
status/history/undo` (both kubectls), ordered scale-down that keeps the
claims, and a selector that does not match the template refused."""
import threading

import pytest

from conftest import PodWatch, _ns_name, agent_server, agent_teardown, poll

K, K20 = "1.33", "1.20"


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-sts")
    yield s
    agent_teardown(s)


MANIFEST = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 3
  serviceName: websvc
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: host
        env: [{name: V, value: "1"}]
        command: [sh, -c, 'echo start-$(hostname) >> /data/log; cat /data/log; grep websvc /etc/hosts; exec sleep 3600']
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 10Mi}}
"""


def sts(srv, ns):
    return srv.get("/apis/apps/v1/namespaces/%s/statefulsets/web" % ns)


def sts_status(srv, ns):
    """The status, {} until the controller first writes one."""
    return sts(srv, ns).get("status", {})


def pods(srv, ns):
    return {p["metadata"]["name"]: p for p in
            srv.get("/api/v1/namespaces/%s/pods?labelSelector=app%%3Dweb" % ns)["items"]}


def all_ready(srv, ns, n):
    ps = [p for p in pods(srv, ns).values() if not p["metadata"].get("deletionTimestamp")]
    return len(ps) == n and all(p["status"].get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        for p in ps)


def logs(srv, ns, name):
    r = srv.request("GET", "/api/v1/namespaces/%s/pods/%s/log" % (ns, name))
    return r.body.decode("utf-8", "replace") if r.status == 200 else ""


def first(events, pred):
    return next((i for i, e in enumerate(events) if pred(e)), None)


def test_statefulset_lifecycle(srv):
    ns = srv.make_ns(_ns_name("sts-life"))
    watch = PodWatch(srv, ns)
    try:
        srv.kubectl(K, "apply", "-n", ns, "-f", srv.write_manifest(MANIFEST))
        assert poll(lambda: all_ready(srv, ns, 3), 90), pods(srv, ns).keys()
        ev = list(watch.events)
        # OrderedReady: web-N appears only after web-0..N-1 were seen Running and Ready
        for n in (1, 2):
            added = first(ev, lambda e: e[0] == "ADDED" and e[1] == "web-%d" % n)
            assert added is not None, ev
            for k in range(n):
                assert first(ev[:added], lambda e: e[1] == "web-%d" % k and e[2] == "Running"
                             and e[3]) is not None, (n, k, ev)
        ps = pods(srv, ns)
        assert sorted(ps) == ["web-0", "web-1", "web-2"]
        st = sts(srv, ns)
        for name, p in ps.items():
            m, s = p["metadata"], p["spec"]
            assert m["labels"]["statefulset.kubernetes.io/pod-name"] == name
            assert m["labels"]["apps.kubernetes.io/pod-index"] == name[-1]
            assert m["labels"]["controller-revision-hash"] == st["status"]["updateRevision"]
            assert m["ownerReferences"][0]["kind"] == "StatefulSet" and \
                m["ownerReferences"][0]["uid"] == st["metadata"]["uid"]
            assert s["hostname"] == name and s["subdomain"] == "websvc"
            vol = [v for v in s["volumes"] if v["name"] == "data"][0]
            assert vol["persistentVolumeClaim"]["claimName"] == "data-" + name
            # the agent wrote the per-pod FQDN into /etc/hosts
            assert poll(lambda: "%s.websvc.%s.svc.cluster.local" % (name, ns) in
                        logs(srv, ns, name), 20), logs(srv, ns, name)
        claims = srv.get("/api/v1/namespaces/%s/persistentvolumeclaims" % ns)["items"]
        assert sorted(c["metadata"]["name"] for c in claims) == ["data-web-0", "data-web-1",
                                                                  "data-web-2"]
        assert all(c["status"]["phase"] == "Bound" for c in claims), claims
        assert poll(lambda: sts_status(srv, ns).get("readyReplicas") == 3, 20)
        st = sts_status(srv, ns)
        assert st["replicas"] == 3 and st["currentReplicas"] == 3 and \
            st["updatedReplicas"] == 3 and st["currentRevision"] == st["updateRevision"], st
        for v in (K, K20):
            p = srv.kubectl(v, "get", "sts", "web", "-n", ns)
            assert p.stdout.split("\n")[1].split()[:2] == ["web", "3/3"], p.stdout
        p = srv.kubectl(K, "describe", "sts", "web", "-n", ns)
        for want in ("create Pod web-0 in StatefulSet web successful",
                     "create Claim data-web-2 for StatefulSet web success"):
            assert want in p.stdout, p.stdout

        # a deleted pod comes back with the same name and the same claim (and its data)
        uid = ps["web-1"]["metadata"]["uid"]
        srv.kubectl(K, "delete", "pod", "web-1", "-n", ns, "--wait=false")
        assert poll(lambda: pods(srv, ns).get("web-1", {}).get("metadata", {}).get("uid")
                    not in (None, uid) and all_ready(srv, ns, 3), 60), pods(srv, ns).keys()
        assert poll(lambda: logs(srv, ns, "web-1").count("start-web-1") == 2, 20), \
            logs(srv, ns, "web-1")

        # rolling update: highest ordinal first, rollout status with both kubectls
        mark = len(watch.events)
        srv.kubectl(K, "set", "env", "sts/web", "-n", ns, "V=2")
        for v in (K, K20):
            p = srv.kubectl(v, "rollout", "status", "sts/web", "-n", ns, "--timeout=120s",
                            timeout=150)
            assert "roll out complete" in p.stdout or "rolling update complete" in p.stdout, p
        assert poll(lambda: all_ready(srv, ns, 3), 30)
        ev = watch.events[mark:]
        order = [first(ev, lambda e, n=n: e[1] == n and e[4]) for n in ("web-2", "web-1", "web-0")]
        assert None not in order and order == sorted(order), (order, ev)
        st = sts(srv, ns)
        assert st["status"]["currentRevision"] == st["status"]["updateRevision"] and \
            st["status"]["updatedReplicas"] == 3, st["status"]
        for p in pods(srv, ns).values():
            assert p["spec"]["containers"][0]["env"][0]["value"] == "2"
            assert p["metadata"]["labels"]["controller-revision-hash"] == \
                st["status"]["updateRevision"]
        revs = srv.get("/apis/apps/v1/namespaces/%s/controllerrevisions" % ns)["items"]
        assert sorted(r["revision"] for r in revs) == [1, 2], revs
        assert all(r["metadata"]["ownerReferences"][0]["uid"] == st["metadata"]["uid"]
                   for r in revs)
        for v in (K, K20):
            p = srv.kubectl(v, "rollout", "history", "sts/web", "-n", ns)
            assert [l.split()[0] for l in p.stdout.splitlines()[2:] if l.strip()] == \
                ["1", "2"], p.stdout
        srv.kubectl(K20, "rollout", "undo", "sts/web", "-n", ns)
        p = srv.kubectl(K, "rollout", "status", "sts/web", "-n", ns, "--timeout=120s",
                        timeout=150)
        assert poll(lambda: all_ready(srv, ns, 3) and sorted(
            p["spec"]["containers"][0]["env"][0]["value"] for p in pods(srv, ns).values())
            == ["1", "1", "1"], 60), pods(srv, ns)
        revs = srv.get("/apis/apps/v1/namespaces/%s/controllerrevisions" % ns)["items"]
        assert sorted(r["revision"] for r in revs) == [2, 3], revs  # revision 1 came back as 3

        # scale down: highest ordinal first, one at a time; claims stay
        mark, starts = len(watch.events), logs(srv, ns, "web-1").count("start-web-1")
        assert starts == 4, logs(srv, ns, "web-1")  # created, deleted, updated, undone
        srv.kubectl(K20, "scale", "sts", "web", "-n", ns, "--replicas=1")
        assert poll(lambda: list(pods(srv, ns)) == ["web-0"], 60), pods(srv, ns).keys()
        ev = watch.events[mark:]
        gone2 = first(ev, lambda e: e[0] == "DELETED" and e[1] == "web-2")
        start1 = first(ev, lambda e: e[1] == "web-1" and e[4])
        assert gone2 is not None and start1 is not None and gone2 < start1, ev
        assert sts_status(srv, ns)["replicas"] == 1 or poll(
            lambda: sts_status(srv, ns).get("replicas") == 1, 20)
        claims = srv.get("/api/v1/namespaces/%s/persistentvolumeclaims" % ns)["items"]
        assert len(claims) == 3, claims
        srv.kubectl(K, "scale", "sts", "web", "-n", ns, "--replicas=2")
        assert poll(lambda: all_ready(srv, ns, 2), 60)
        assert poll(lambda: logs(srv, ns, "web-1").count("start-web-1") == starts + 1, 20), \
            logs(srv, ns, "web-1")

        # deleted with --cascade=orphan and created again: pods and history adopted
        kept = {n: p["metadata"]["uid"] for n, p in pods(srv, ns).items()}
        revs = sorted(r["metadata"]["name"] for r in srv.get(
            "/apis/apps/v1/namespaces/%s/controllerrevisions" % ns)["items"])
        srv.kubectl(K, "delete", "sts", "web", "-n", ns, "--cascade=orphan")
        assert poll(lambda: not srv.exists("/apis/apps/v1/namespaces/%s/statefulsets/web" % ns) and
                    all(not p["metadata"].get("ownerReferences") for p in pods(srv, ns).values()),
                    30), pods(srv, ns)
        srv.kubectl(K, "apply", "-n", ns, "-f", srv.write_manifest(MANIFEST))
        uid = sts(srv, ns)["metadata"]["uid"]
        assert poll(lambda: all_ready(srv, ns, 3), 60), pods(srv, ns).keys()
        now = pods(srv, ns)
        assert {n: now[n]["metadata"]["uid"] for n in kept} == kept
        assert all(p["metadata"]["ownerReferences"][0]["uid"] == uid for p in now.values())
        crs = srv.get("/apis/apps/v1/namespaces/%s/controllerrevisions" % ns)["items"]
        assert sorted(r["metadata"]["name"] for r in crs) == revs, crs
        assert all(r["metadata"]["ownerReferences"][0]["uid"] == uid for r in crs), crs

        srv.kubectl(K, "delete", "sts", "web", "-n", ns)
        assert poll(lambda: not pods(srv, ns), 60), pods(srv, ns).keys()
        assert len(srv.get("/api/v1/namespaces/%s/persistentvolumeclaims" % ns)["items"]) == 3
        assert poll(lambda: not srv.get("/apis/apps/v1/namespaces/%s/controllerrevisions"
                                        % ns)["items"], 30)
    finally:
        watch.stop()


def test_statefulset_parallel_and_claim_retention(srv):
    """Parallel creates every ordinal at once; whenScaled/whenDeleted: Delete
    take the claims with the ordinal and with the set."""
    ns = srv.make_ns(_ns_name("sts-par"))
    m = MANIFEST.replace("replicas: 3", "replicas: 2\n  podManagementPolicy: Parallel\n"
                         "  persistentVolumeClaimRetentionPolicy: "
                         "{whenScaled: Delete, whenDeleted: Delete}")
    srv.kubectl(K, "apply", "-n", ns, "-f", srv.write_manifest(m))
    assert poll(lambda: all_ready(srv, ns, 2), 60), pods(srv, ns).keys()

    def claims():
        return sorted(c["metadata"]["name"] for c in srv.get(
            "/api/v1/namespaces/%s/persistentvolumeclaims" % ns)["items"])
    assert claims() == ["data-web-0", "data-web-1"]
    # a partition: only ordinals at or above it are updated
    before = sts_status(srv, ns)["updateRevision"]
    srv.kubectl(K, "patch", "sts", "web", "-n", ns, "-p",
                '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":1}},'
                '"template":{"metadata":{"annotations":{"v":"2"}}}}}')
    p = srv.kubectl(K, "rollout", "status", "sts/web", "-n", ns, "--timeout=60s", timeout=90)
    assert "partitioned roll out complete: 1 new pods have been updated" in p.stdout, p
    assert poll(lambda: all_ready(srv, ns, 2), 60)
    st = sts_status(srv, ns)
    hashes = {n: p["metadata"]["labels"]["controller-revision-hash"]
              for n, p in pods(srv, ns).items()}
    assert hashes == {"web-0": before, "web-1": st["updateRevision"]} and \
        st["currentRevision"] == before and st["updatedReplicas"] == 1 and \
        st["currentReplicas"] == 1, (hashes, st)
    # OnDelete: a template change reaches only the pods deleted afterwards
    srv.kubectl(K, "patch", "sts", "web", "-n", ns, "--type=merge", "-p",
                '{"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null},'
                '"template":{"metadata":{"annotations":{"v":"3"}}}}}')
    assert poll(lambda: sts_status(srv, ns).get("observedGeneration") ==
                sts(srv, ns)["metadata"]["generation"], 20)
    newest = sts_status(srv, ns)["updateRevision"]
    assert newest not in hashes.values()
    old1 = pods(srv, ns)["web-1"]["metadata"]["uid"]
    assert {n: p["metadata"]["labels"]["controller-revision-hash"]
            for n, p in pods(srv, ns).items()} == hashes
    srv.kubectl(K, "delete", "pod", "web-1", "-n", ns, "--wait=false")
    assert poll(lambda: all_ready(srv, ns, 2) and
                pods(srv, ns)["web-1"]["metadata"]["uid"] != old1, 60), pods(srv, ns).keys()
    assert pods(srv, ns)["web-1"]["metadata"]["labels"]["controller-revision-hash"] == newest
    assert pods(srv, ns)["web-0"]["metadata"]["labels"]["controller-revision-hash"] == before

    srv.kubectl(K, "scale", "sts", "web", "-n", ns, "--replicas=1")
    assert poll(lambda: claims() == ["data-web-0"], 60), claims()
    srv.kubectl(K, "delete", "sts", "web", "-n", ns)
    assert poll(lambda: not claims() and not pods(srv, ns), 60), claims()


def test_statefulset_bad_input(srv):
    ns = srv.make_ns(_ns_name("sts-bad"))
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "bad"},
            "spec": {"selector": {"matchLabels": {"app": "x"}}, "serviceName": "s",
                     "template": {"metadata": {"labels": {"app": "y"}},
                                  "spec": {"containers": [{"name": "c", "image": "host"}]}}}}
    r = srv.request("POST", "/apis/apps/v1/namespaces/%s/statefulsets" % ns, body)
    assert r.status == 422, r
    causes = r.json()["details"]["causes"]
    assert any(c["field"] == "spec.template.metadata.labels" for c in causes), causes
    assert not srv.exists("/apis/apps/v1/namespaces/%s/statefulsets/bad" % ns)
    body["spec"]["template"]["metadata"]["labels"]["app"] = "x"
    body["spec"]["replicas"] = -1
    r = srv.request("POST", "/apis/apps/v1/namespaces/%s/statefulsets" % ns, body)
    assert r.status == 422 and any(c["field"] == "spec.replicas"
                                   for c in r.json()["details"]["causes"]), r


def test_statefulset_ordinals_start_and_min_ready(srv):
    """spec.ordinals.start shifts the ordinals; with minReadySeconds a Ready
    pod counts as available (and lets the next ordinal start) only later."""
    from kubernetes import client, watch
    ns = srv.make_ns(_ns_name("sts-ord"))
    seen, w = [], watch.Watch()
    api = client.AppsV1Api(srv.api_client())

    def run():
        try:
            for ev in w.stream(api.list_namespaced_stateful_set, ns, timeout_seconds=300):
                st = ev["object"].status
                if st:
                    seen.append((st.ready_replicas or 0, st.available_replicas or 0))
        except Exception:  # noqa: BLE001 - the server going away ends the stream
            pass
    threading.Thread(target=run, daemon=True).start()
    watch_pods = PodWatch(srv, ns)
    try:
        m = MANIFEST.replace("replicas: 3", "replicas: 2\n  ordinals: {start: 5}\n"
                             "  minReadySeconds: 2")
        srv.kubectl(K, "apply", "-n", ns, "-f", srv.write_manifest(m))
        assert poll(lambda: sts_status(srv, ns).get("availableReplicas") == 2, 60), \
            sts_status(srv, ns)
    finally:
        w.stop()
        watch_pods.stop()
    assert sorted(pods(srv, ns)) == ["web-5", "web-6"]
    assert pods(srv, ns)["web-6"]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "6"
    assert any(r > a for r, a in seen), seen  # Ready before available
    # web-6 was created only after web-5 counted as available
    ev = watch_pods.events
    added6 = first(ev, lambda e: e[0] == "ADDED" and e[1] == "web-6")
    assert added6 is not None and first(ev[:added6], lambda e: e[1] == "web-5" and e[3]) is not None
    srv.kubectl(K, "delete", "sts", "web", "-n", ns)
    assert poll(lambda: not pods(srv, ns), 60)
