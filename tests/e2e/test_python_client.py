"""The Python kubernetes client (Debian python3-kubernetes 22.6) against the
real server: typed CRUD of pods, deployments and jobs, watches, 410 after
compaction, CustomObjectsApi and discovery APIs."""
import queue
import threading
import time

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from conftest import cm_body, poll


@pytest.fixture(scope="module")
def api(server):
    return server.api_client()


def _pod(name, labels=None):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="c", image="busybox", command=["sleep", "3600"],
            ports=[client.V1ContainerPort(container_port=8080)])]))


def test_load_kube_config_and_version(server):
    config.load_kube_config(config_file=server.kubeconfig)
    info = client.VersionApi().get_code()
    assert info.major == "1" and info.git_version.startswith("v1."), info
    assert client.CoreApi().get_api_versions().versions == ["v1"]
    groups = {g.name: g for g in client.ApisApi().get_api_versions().groups}
    for g in ("apps", "batch", "apiextensions.k8s.io", "authorization.k8s.io"):
        assert g in groups, sorted(groups)
    assert groups["apps"].preferred_version.group_version == "apps/v1"
    res = client.CoreV1Api().get_api_resources()
    names = {r.name: r for r in res.resources}
    assert names["pods"].short_names == ["po"] and names["pods"].namespaced is True
    assert "pods/status" in names
    apps = {r.name: r for r in client.AppsV1Api().get_api_resources().resources}
    assert apps["deployments/scale"].group == "autoscaling" and \
        apps["deployments/scale"].kind == "Scale"


def test_pod_crud(server, api, ns):
    v1 = client.CoreV1Api(api)
    p = v1.create_namespaced_pod(ns, _pod("p1", {"app": "p"}))
    assert p.metadata.name == "p1" and p.metadata.namespace == ns and p.metadata.uid
    assert p.status.phase == "Pending", "a pod with no node stays Pending: %r" % p.status
    c = p.spec.containers[0]
    assert c.ports[0].protocol == "TCP", "containerPort protocol defaults to TCP"
    assert p.spec.restart_policy == "Always" and p.spec.dns_policy == "ClusterFirst"
    assert p.spec.termination_grace_period_seconds == 30

    g = v1.create_namespaced_pod(ns, client.V1Pod(
        metadata=client.V1ObjectMeta(generate_name="gen-"), spec=_pod("x").spec))
    assert g.metadata.name.startswith("gen-") and len(g.metadata.name) == 9, g.metadata.name

    got = v1.read_namespaced_pod("p1", ns)
    assert got.metadata.uid == p.metadata.uid
    lst = v1.list_namespaced_pod(ns, label_selector="app=p")
    assert [i.metadata.name for i in lst.items] == ["p1"]
    assert int(lst.metadata.resource_version) >= int(got.metadata.resource_version)

    patched = v1.patch_namespaced_pod("p1", ns, {"metadata": {"labels": {"extra": "1"}}})
    assert patched.metadata.labels == {"app": "p", "extra": "1"}
    assert int(patched.metadata.resource_version) > int(got.metadata.resource_version)

    patched.metadata.annotations = {"note": "replaced"}
    rep = v1.replace_namespaced_pod("p1", ns, patched)
    assert rep.metadata.annotations == {"note": "replaced"}
    assert v1.read_namespaced_pod("p1", ns).metadata.annotations == {"note": "replaced"}

    jp = v1.patch_namespaced_pod("p1", ns, [{"op": "remove", "path": "/metadata/labels/extra"}])
    assert jp.metadata.labels == {"app": "p"}

    v1.delete_namespaced_pod("p1", ns, grace_period_seconds=0)
    assert poll(lambda: not server.exists("/api/v1/namespaces/%s/pods/p1" % ns)), \
        "pod not gone after delete with grace 0"
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod("p1", ns)
    assert e.value.status == 404


def test_deployment_crud_and_scale(server, api, ns):
    apps = client.AppsV1Api(api)
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="pyd"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels={"app": "pyd"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "pyd"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]))))
    d = apps.create_namespaced_deployment(ns, dep)
    assert d.spec.replicas == 1, "replicas defaults to 1"
    assert d.spec.strategy.type == "RollingUpdate"
    assert d.spec.revision_history_limit == 10 and d.spec.progress_deadline_seconds == 600
    assert d.metadata.generation == 1

    s = apps.patch_namespaced_deployment_scale("pyd", ns, {"spec": {"replicas": 4}})
    assert s.spec.replicas == 4
    assert apps.read_namespaced_deployment_scale("pyd", ns).spec.replicas == 4
    d2 = apps.read_namespaced_deployment("pyd", ns)
    assert d2.spec.replicas == 4 and d2.metadata.generation == 2

    # the deployment controller writes too (revision annotation, status):
    # a replace retries on 409 Conflict, as real clients do
    for _ in range(10):
        d2.spec.template.spec.containers[0].image = "nginx:2"
        try:
            d3 = apps.replace_namespaced_deployment("pyd", ns, d2)
            break
        except client.exceptions.ApiException as e:
            assert e.status == 409, e
            d2 = apps.read_namespaced_deployment("pyd", ns)
    assert d3.spec.template.spec.containers[0].image == "nginx:2"
    assert d3.metadata.generation == 3
    st = apps.read_namespaced_deployment_status("pyd", ns)
    assert st.metadata.name == "pyd"

    names = [i.metadata.name for i in apps.list_namespaced_deployment(ns).items]
    assert names == ["pyd"]
    apps.delete_namespaced_deployment("pyd", ns)
    assert poll(lambda: apps.list_namespaced_deployment(ns).items == []), "deployment not deleted"


def test_job_crud(server, api, ns):
    batch = client.BatchV1Api(api)
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="pyj"),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[client.V1Container(name="c", image="busybox", command=["true"])]))))
    j = batch.create_namespaced_job(ns, job)
    assert j.spec.backoff_limit == 6 and j.spec.completions == 1 and j.spec.parallelism == 1
    uid = j.metadata.uid
    # the selector is generated from the uid (key "controller-uid" up to 1.26,
    # "batch.kubernetes.io/controller-uid" from 1.27) and selects the template
    sel = j.spec.selector.match_labels
    assert sel in ({"controller-uid": uid}, {"batch.kubernetes.io/controller-uid": uid}), sel
    tl = j.spec.template.metadata.labels
    assert all(tl.get(k) == val for k, val in sel.items()), (sel, tl)
    assert tl.get("job-name") == "pyj" or tl.get("batch.kubernetes.io/job-name") == "pyj", tl
    all_jobs = batch.list_job_for_all_namespaces()
    assert ("pyj", ns) in [(i.metadata.name, i.metadata.namespace) for i in all_jobs.items]
    assert batch.read_namespaced_job("pyj", ns).metadata.uid == uid
    batch.delete_namespaced_job("pyj", ns, propagation_policy="Background")
    assert poll(lambda: not server.exists("/apis/batch/v1/namespaces/%s/jobs/pyj" % ns))


def test_list_pagination(server, api, ns):
    v1 = client.CoreV1Api(api)
    for i in range(5):
        v1.create_namespaced_config_map(ns, cm_body("pg%d" % i))
    first = v1.list_namespaced_config_map(ns, limit=2)
    assert [i.metadata.name for i in first.items] == ["pg0", "pg1"]
    assert first.metadata._continue, "a limited list must return a continue token"
    names = [i.metadata.name for i in first.items]
    tok = first.metadata._continue
    while tok:
        page = v1.list_namespaced_config_map(ns, limit=2, _continue=tok)
        assert len(page.items) <= 2
        names += [i.metadata.name for i in page.items]
        tok = page.metadata._continue
    assert names == ["pg%d" % i for i in range(5)], names


def test_watch_sees_added_modified_deleted(server, api, ns):
    v1 = client.CoreV1Api(api)
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    errors = queue.Queue()

    def writer():
        try:
            time.sleep(0.5)
            v1.create_namespaced_config_map(ns, cm_body("wcm", {"a": "1"}))
            v1.patch_namespaced_config_map("wcm", ns, {"data": {"a": "2"}})
            v1.create_namespaced_config_map(ns, cm_body("other", {"a": "1"}))
            v1.delete_namespaced_config_map("wcm", ns)
        except Exception as e:  # noqa: BLE001
            errors.put(e)

    t = threading.Thread(target=writer)
    t.start()
    seen = []
    w = watch.Watch()
    start = time.time()
    for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=4):
        seen.append((ev["type"], ev["object"].metadata.name,
                     (ev["object"].data or {}).get("a"), ev["object"].metadata.resource_version))
        if len(seen) == 4:
            w.stop()
    t.join()
    assert errors.empty(), errors.get()
    assert [s[:3] for s in seen] == [("ADDED", "wcm", "1"), ("MODIFIED", "wcm", "2"),
                                     ("ADDED", "other", "1"), ("DELETED", "wcm", "2")], seen
    rvs = [int(s[3]) for s in seen]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4, "resourceVersions must increase: %r" % rvs
    assert time.time() - start < 10


def test_watch_timeout_seconds_ends_stream(server, api, ns):
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(ns, cm_body("pre"))
    start = time.time()
    # no resourceVersion: existing objects are replayed as ADDED
    events = [(e["type"], e["object"].metadata.name)
              for e in watch.Watch().stream(v1.list_namespaced_config_map, ns, timeout_seconds=2)]
    took = time.time() - start
    assert events == [("ADDED", "pre")], events
    assert 1.5 <= took < 6, "timeoutSeconds=2 must end the stream after ~2 s (took %.1f s)" % took


def test_watch_label_selector(server, api, ns):
    v1 = client.CoreV1Api(api)
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version

    def writer():
        time.sleep(0.3)
        v1.create_namespaced_config_map(ns, cm_body("no", labels={"w": "n"}))
        v1.create_namespaced_config_map(ns, cm_body("yes", labels={"w": "y"}))

    t = threading.Thread(target=writer)
    t.start()
    names = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, ns, label_selector="w=y",
                       resource_version=rv, timeout_seconds=3):
        names.append(ev["object"].metadata.name)
        w.stop()
    t.join()
    assert names == ["yes"], names


def test_watch_expired_resource_version_410(new_server):
    srv = new_server("--watch-history", "100")
    v1 = client.CoreV1Api(srv.api_client())
    srv.make_ns("compact")
    v1.create_namespaced_config_map("compact", cm_body("c", {"n": "0"}))
    old_rv = v1.read_namespaced_config_map("c", "compact").metadata.resource_version
    for i in range(210):
        v1.patch_namespaced_config_map("c", "compact", {"data": {"n": str(i + 1)}})
    with pytest.raises(ApiException) as e:
        for _ in watch.Watch().stream(v1.list_namespaced_config_map, "compact",
                                      resource_version=old_rv, timeout_seconds=5):
            pass
    assert e.value.status == 410, e.value
    # raw: HTTP 200 with a single ERROR event carrying a 410 Status
    r = srv.request("GET", "/api/v1/namespaces/compact/configmaps?watch=true&resourceVersion=%s"
                    "&timeoutSeconds=3" % old_rv)
    assert r.status in (200, 410), r
    if r.status == 200:
        import json
        lines = [json.loads(l) for l in r.body.splitlines() if l.strip()]
        assert len(lines) == 1 and lines[0]["type"] == "ERROR", lines
        assert lines[0]["object"]["code"] == 410 and lines[0]["object"]["reason"] in (
            "Expired", "Gone"), lines
    # a recent resourceVersion still works on the same server
    rv = v1.list_namespaced_config_map("compact").metadata.resource_version

    def writer():
        time.sleep(0.3)
        v1.patch_namespaced_config_map("c", "compact", {"data": {"n": "last"}})

    t = threading.Thread(target=writer)
    t.start()
    w = watch.Watch()
    got = []
    for ev in w.stream(v1.list_namespaced_config_map, "compact", resource_version=rv,
                       timeout_seconds=4):
        got.append((ev["type"], ev["object"].data["n"]))
        w.stop()
    t.join()
    assert got == [("MODIFIED", "last")], got


CRD_GROUP = "py.gantry.dev"


@pytest.fixture(scope="module")
def pycrd(api):
    ext = client.ApiextensionsV1Api(api)
    body = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "models.%s" % CRD_GROUP},
        "spec": {
            "group": CRD_GROUP, "scope": "Namespaced",
            "names": {"plural": "models", "singular": "model", "kind": "Model",
                      "listKind": "ModelList"},
            "versions": [{
                "name": "v1alpha1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object",
                                               "x-kubernetes-preserve-unknown-fields": True}},
                "subresources": {"status": {}, "scale": {
                    "specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas"}}}]}}
    ext.create_custom_resource_definition(body)

    def established():
        c = ext.read_custom_resource_definition("models.%s" % CRD_GROUP)
        return any(x.type == "Established" and x.status == "True"
                   for x in (c.status.conditions or []))
    assert poll(established, timeout=10), "CRD never became Established"
    return "models"


def test_custom_objects_crud_and_status(server, api, ns, pycrd):
    co = client.CustomObjectsApi(api)
    g, ver, plural = CRD_GROUP, "v1alpha1", pycrd
    obj = {"apiVersion": "%s/%s" % (g, ver), "kind": "Model",
           "metadata": {"name": "m1", "labels": {"size": "7b"}},
           "spec": {"layers": 32, "dtype": "bf16"}}
    c = co.create_namespaced_custom_object(g, ver, ns, plural, obj)
    assert c["metadata"]["name"] == "m1" and c["metadata"]["generation"] == 1 and c["metadata"][
        "uid"]
    assert c["spec"] == {"layers": 32, "dtype": "bf16"}

    got = co.get_namespaced_custom_object(g, ver, ns, plural, "m1")
    assert got["kind"] == "Model" and got["apiVersion"] == "%s/%s" % (g, ver)
    lst = co.list_namespaced_custom_object(g, ver, ns, plural, label_selector="size=7b")
    assert [i["metadata"]["name"] for i in lst["items"]] == ["m1"]
    assert all(i["kind"] == "Model" for i in lst["items"]), "CR list items carry kind"
    assert co.list_namespaced_custom_object(g, ver, ns, plural, label_selector="size=70b")[
        "items"] == []
    allns = co.list_cluster_custom_object(g, ver, plural)
    assert ("m1", ns) in [(i["metadata"]["name"], i["metadata"]["namespace"])
                          for i in allns["items"]]

    p = co.patch_namespaced_custom_object(g, ver, ns, plural, "m1", {"spec": {"layers": 40}})
    assert p["spec"] == {"layers": 40, "dtype": "bf16"} and p["metadata"]["generation"] == 2

    s = co.patch_namespaced_custom_object_status(g, ver, ns, plural, "m1",
                                                 {"status": {"phase": "Ready"}})
    assert s["status"] == {"phase": "Ready"}
    st = co.get_namespaced_custom_object_status(g, ver, ns, plural, "m1")
    assert st["status"] == {"phase": "Ready"} and st["spec"]["layers"] == 40
    assert st["metadata"]["generation"] == 2, "status changes do not bump generation"

    # with the status subresource, status is ignored on the main resource and
    # spec is ignored on /status
    co.patch_namespaced_custom_object(g, ver, ns, plural, "m1",
                                      {"status": {"phase": "Hacked"}, "spec": {"dtype": "fp8"}})
    co.patch_namespaced_custom_object_status(g, ver, ns, plural, "m1",
                                             {"spec": {"layers": 1}, "status": {"phase": "Done"}})
    got = co.get_namespaced_custom_object(g, ver, ns, plural, "m1")
    assert got["status"] == {"phase": "Done"}, got
    assert got["spec"] == {"layers": 40, "dtype": "fp8"}, got

    # scale subresource
    sc = co.get_namespaced_custom_object_scale(g, ver, ns, plural, "m1")
    assert sc["kind"] == "Scale" and sc["spec"].get("replicas", 0) == 0, sc
    co.patch_namespaced_custom_object_scale(g, ver, ns, plural, "m1", {"spec": {"replicas": 3}})
    assert co.get_namespaced_custom_object(g, ver, ns, plural, "m1")["spec"]["replicas"] == 3
    assert co.get_namespaced_custom_object_scale(g, ver, ns, plural, "m1")["spec"][
        "replicas"] == 3

    co.delete_namespaced_custom_object(g, ver, ns, plural, "m1")
    with pytest.raises(ApiException) as e:
        co.get_namespaced_custom_object(g, ver, ns, plural, "m1")
    assert e.value.status == 404


def test_crd_delete_removes_group_and_objects(server, api, ns):
    ext = client.ApiextensionsV1Api(api)
    co = client.CustomObjectsApi(api)
    body = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "temps.tmp.gantry.dev"},
        "spec": {"group": "tmp.gantry.dev", "scope": "Namespaced",
                 "names": {"plural": "temps", "singular": "temp", "kind": "Temp"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "x-kubernetes-preserve-unknown-fields": True}}}]}}
    ext.create_custom_resource_definition(body)
    assert poll(lambda: server.request("GET", "/apis/tmp.gantry.dev/v1").status == 200)
    groups = [g.name for g in client.ApisApi(api).get_api_versions().groups]
    assert "tmp.gantry.dev" in groups
    co.create_namespaced_custom_object("tmp.gantry.dev", "v1", ns, "temps",
                                       {"apiVersion": "tmp.gantry.dev/v1", "kind": "Temp",
                                        "metadata": {"name": "t1"}, "spec": {"x": 1}})
    ext.delete_custom_resource_definition("temps.tmp.gantry.dev")
    assert poll(lambda: server.request(
        "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/temps.tmp.gantry.dev"
    ).status == 404), "CRD not deleted"
    assert poll(lambda: "tmp.gantry.dev" not in [
        g.name for g in client.ApisApi(api).get_api_versions().groups]), \
        "deleted CRD's group still in /apis"
    assert server.request("GET", "/apis/tmp.gantry.dev/v1/namespaces/%s/temps/t1" % ns
                          ).status == 404


def test_secret_string_data_and_concurrent_updates(server, api, ns):
    import base64
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_secret(ns, {"apiVersion": "v1", "kind": "Secret",
                                     "metadata": {"name": "s"}, "stringData": {"u": "me"}})
    v1.patch_namespaced_secret("s", ns, {"stringData": {"p": "pw"}})
    s = v1.read_namespaced_secret("s", ns)
    assert s.data == {"u": base64.b64encode(b"me").decode(),
                      "p": base64.b64encode(b"pw").decode()}, s.data
    assert s.string_data is None and s.type == "Opaque"

    # read-modify-replace from several threads: optimistic concurrency must
    # make every increment count exactly once
    v1.create_namespaced_config_map(ns, cm_body("counter", {"n": "0"}))
    errors = []

    def bump(times):
        try:
            done = 0
            while done < times:
                cm = v1.read_namespaced_config_map("counter", ns)
                cm.data["n"] = str(int(cm.data["n"]) + 1)
                try:
                    v1.replace_namespaced_config_map("counter", ns, cm)
                    done += 1
                except ApiException as e:
                    if e.status != 409:
                        raise
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=bump, args=(8,)) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors
    assert v1.read_namespaced_config_map("counter", ns).data["n"] == "32"
