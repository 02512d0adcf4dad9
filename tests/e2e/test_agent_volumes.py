"""Node agent end to end: init containers and volumes (issue 3).  One server
with the embedded agent for the module (node agent-volumes); teardown deletes
the pods, stops it, runs `gantry node reset` and checks nothing leaked.

Covers: init containers in order and a failing one, emptyDir shared by two
containers, emptyDir medium Memory (tmpfs, sizeLimit), configMap and secret
volumes (keys, items/path, defaultMode), a volume naming a missing ConfigMap,
hostPath, mount points absent from the host root, a PVC.
"""
import os
import re
import time

import pytest

from conftest import (_ns_name, agent_server, agent_teardown, cstatus, create_pod, hctr, phase_is,
                      pod_body, pod_dump, pod_logs, poll, wait_pod)

K = "1.33"


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-volumes")
    yield s
    agent_teardown(s)


@pytest.fixture
def ns(srv, request):
    return srv.make_ns(_ns_name(request.node.name))


def finished(srv, ns, name, timeout=30):
    return wait_pod(srv, ns, name, phase_is("Succeeded", "Failed"), timeout, "terminal phase")


def mnt(name, path, **kw):
    m = {"name": name, "mountPath": path}
    m.update(kw)
    return m


def test_init_containers_in_order(srv, ns):
    vm = [mnt("work", "/mnt")]
    create_pod(srv, ns, pod_body("inits", srv.node, [
        hctr("main", "cat /mnt/order", volumeMounts=vm)],
        initContainers=[hctr("first", "sleep 0.3; echo first >> /mnt/order", volumeMounts=vm),
                        hctr("second", "echo second >> /mnt/order", volumeMounts=vm)],
        volumes=[{"name": "work", "emptyDir": {}}]))
    pod = finished(srv, ns, "inits")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "inits")
    assert pod_logs(srv, ns, "inits", container="main").splitlines() == ["first", "second"]
    for name in ("first", "second"):
        t = cstatus(pod, name, init=True).get("state", {}).get("terminated")
        assert t and t["exitCode"] == 0 and t["reason"] == "Completed", pod_dump(srv, ns, "inits")
    first = cstatus(pod, "first", init=True)["state"]["terminated"]
    second = cstatus(pod, "second", init=True)["state"]["terminated"]
    main = cstatus(pod, "main")["state"]["terminated"]
    assert first["finishedAt"] <= second["startedAt"] <= second["finishedAt"] <= main["startedAt"]
    conds = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conds["Initialized"] == "True", conds
    assert srv.kubectl(K, "logs", "-n", ns, "inits", "-c", "first").stdout == ""


def test_failing_init_container(srv, ns):
    create_pod(srv, ns, pod_body("badinit", srv.node, [hctr("main", "echo main-ran")],
                                 initContainers=[hctr("init", "echo init-failing; exit 7")]))
    pod = finished(srv, ns, "badinit")
    assert pod["status"]["phase"] == "Failed", pod_dump(srv, ns, "badinit")
    t = cstatus(pod, "init", init=True).get("state", {}).get("terminated")
    assert t and t["exitCode"] == 7 and t["reason"] == "Error", pod_dump(srv, ns, "badinit")
    main = cstatus(pod, "main")
    assert main.get("state", {}).get("waiting", {}).get("reason") == "PodInitializing" and \
        main["restartCount"] == 0, pod_dump(srv, ns, "badinit")
    assert not main.get("containerID"), main
    conds = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conds["Initialized"] == "False", conds
    assert pod_logs(srv, ns, "badinit", container="init").strip() == "init-failing"
    p = srv.kubectl(K, "logs", "-n", ns, "badinit", "-c", "main", check=False)
    assert p.returncode != 0 and "is waiting to start" in p.stderr, p.stderr
    cdir = os.path.join(srv.agent_root, "pods", pod["metadata"]["uid"], "containers", "main")
    assert not os.path.exists(cdir), "main container of a pod with a failed init has %s" % cdir


def test_shared_empty_dir(srv, ns):
    vm = [mnt("shared", "/mnt")]
    create_pod(srv, ns, pod_body("share", srv.node, [
        hctr("writer", "sleep 0.5; echo payload-$((6*7)) > /mnt/f.tmp; mv /mnt/f.tmp /mnt/f",
             volumeMounts=vm),
        hctr("reader", "until [ -f /mnt/f ]; do sleep 0.1; done; cat /mnt/f",
             volumeMounts=vm)], volumes=[{"name": "shared", "emptyDir": {}}]))
    pod = finished(srv, ns, "share")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "share")
    assert pod_logs(srv, ns, "share", container="reader").strip() == "payload-42"


def test_memory_empty_dir(srv, ns):
    create_pod(srv, ns, pod_body("memdir", srv.node, [
        hctr("c", "stat -f -c '%T %b %S' /mnt; echo x > /mnt/x && cat /mnt/x",
             volumeMounts=[mnt("m", "/mnt")])],
        volumes=[{"name": "m", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}]))
    pod = finished(srv, ns, "memdir")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "memdir")
    lines = pod_logs(srv, ns, "memdir").splitlines()
    typ, blocks, bsize = lines[0].split()
    assert typ == "tmpfs", lines
    assert int(blocks) * int(bsize) == 8 << 20, "sizeLimit 8Mi not applied: %s" % lines
    assert lines[1] == "x", lines


def test_config_map_and_secret_volumes(srv, ns):
    srv.create("/api/v1/namespaces/%s/configmaps" % ns, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"},
        "data": {"app.conf": "port=8080\n", "level": "debug"}})
    srv.create("/api/v1/namespaces/%s/secrets" % ns, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
        "stringData": {"user": "admin", "token": "t0k3n"}})
    # mount points that exist in the host's / (see test_mount_point_missing_from_host_root)
    script = ("cat /mnt/app.conf; cat /mnt/level; echo; "
              "cat /media/sub/u.txt; echo; ls /media; "
              "stat -L -c '%a' /media/sub/u.txt; stat -L -c '%a' /mnt/level; "
              "test -e /media/token && echo token-present || echo token-absent; "
              "(echo x > /mnt/new) 2>/dev/null && echo cm-writable || echo cm-readonly")
    create_pod(srv, ns, pod_body("cmsec", srv.node, [hctr("c", script, volumeMounts=[
        mnt("cfg", "/mnt"), mnt("sec", "/media")])], volumes=[
        {"name": "cfg", "configMap": {"name": "app"}},
        {"name": "sec", "secret": {"secretName": "creds", "defaultMode": 0o400,
                                   "items": [{"key": "user", "path": "sub/u.txt"}]}}]))
    pod = finished(srv, ns, "cmsec")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "cmsec")
    out = pod_logs(srv, ns, "cmsec").splitlines()
    assert out == ["port=8080", "debug", "admin", "sub", "400", "644", "token-absent",
                   "cm-readonly"], out


def test_config_map_update_reaches_running_pod(srv, ns):
    path = "/api/v1/namespaces/%s/configmaps/live" % ns
    srv.create("/api/v1/namespaces/%s/configmaps" % ns, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "live"},
        "data": {"v": "one"}})
    create_pod(srv, ns, pod_body("watcher", srv.node, [hctr(
        "c", "while true; do echo v=$(cat /mnt/v); sleep 0.3; done",
        volumeMounts=[mnt("cfg", "/mnt")])], volumes=[{"name": "cfg", "configMap": {"name": "live"}}],
        terminationGracePeriodSeconds=1))
    wait_pod(srv, ns, "watcher", lambda p: "running" in cstatus(p, "c").get("state", {}), 30,
             "running")
    assert poll(lambda: "v=one" in pod_logs(srv, ns, "watcher"), 10)
    r = srv.request("PATCH", path, {"data": {"v": "two"}},
                    content_type="application/merge-patch+json")
    assert r.status == 200, r
    assert poll(lambda: "v=two" in pod_logs(srv, ns, "watcher"), 20, 0.3), \
        "ConfigMap update not projected into the running pod in 20s:\n%s" % (
            pod_logs(srv, ns, "watcher")[-300:])


def test_missing_config_map_then_created(srv, ns):
    create_pod(srv, ns, pod_body("waitcm", srv.node, [hctr(
        "c", "cat /mnt/greeting", volumeMounts=[mnt("cfg", "/mnt")])],
        volumes=[{"name": "cfg", "configMap": {"name": "late-cm"}}]))

    def explains(p):
        st = p.get("status", {})
        w = cstatus(p, "c").get("state", {}).get("waiting") or {}
        text = " ".join([st.get("reason", ""), st.get("message", ""), w.get("reason", ""),
                         w.get("message", "")])
        return "late-cm" in text
    pod = wait_pod(srv, ns, "waitcm", explains, 20, "a message naming the missing ConfigMap")
    assert pod["status"]["phase"] == "Pending", pod_dump(srv, ns, "waitcm")
    st = cstatus(pod, "c").get("state", {})
    assert "running" not in st and "terminated" not in st, st
    if st.get("waiting"):
        assert st["waiting"]["reason"] in ("ContainerCreating", "CreateContainerConfigError"), st
    text = (pod["status"].get("message", "") + " " +
            (st.get("waiting") or {}).get("message", "")).lower()
    assert "configmap" in text and "not found" in text, pod_dump(srv, ns, "waitcm")
    out = srv.kubectl(K, "get", "pod", "waitcm", "-n", ns, "--no-headers").stdout.split()
    assert out[1] == "0/1" and out[2] in ("ContainerCreating", "Pending", "FailedMount",
                                          "CreateContainerConfigError"), out
    srv.create("/api/v1/namespaces/%s/configmaps" % ns, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late-cm"},
        "data": {"greeting": "finally"}})
    pod = finished(srv, ns, "waitcm", timeout=30)
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "waitcm")
    assert pod_logs(srv, ns, "waitcm").strip() == "finally"
    assert not pod["status"].get("reason"), pod["status"]


def test_host_path_volume(srv, ns, tmp_path):
    host = tmp_path / "hp"
    host.mkdir()
    (host / "in.txt").write_text("from-host\n")
    create_pod(srv, ns, pod_body("hostpath", srv.node, [hctr(
        "c", "cat /mnt/in.txt; echo from-pod > /mnt/out.txt",
        volumeMounts=[mnt("h", "/mnt")])],
        volumes=[{"name": "h", "hostPath": {"path": str(host), "type": "Directory"}}]))
    pod = finished(srv, ns, "hostpath")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "hostpath")
    assert pod_logs(srv, ns, "hostpath").strip() == "from-host"
    assert (host / "out.txt").read_text() == "from-pod\n"


def test_mount_point_missing_from_host_root(srv, ns):
    # the host image is a read-only view of /: mounting at a path it does
    # not have must still work (as with any image)
    path = "/gantry-e2e-nonexistent/data"
    assert not os.path.exists(path)
    create_pod(srv, ns, pod_body("newpath", srv.node, [hctr(
        "c", "echo ok > %s/f && cat %s/f" % (path, path),
        volumeMounts=[mnt("d", path)])], volumes=[{"name": "d", "emptyDir": {}}]))
    pod = finished(srv, ns, "newpath")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "newpath")
    assert pod_logs(srv, ns, "newpath").strip() == "ok"
    assert not os.path.exists("/gantry-e2e-nonexistent"), "the agent wrote into the host's /"


def test_persistent_volume_claim(srv, ns):
    srv.create("/api/v1/namespaces/%s/persistentvolumeclaims" % ns, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}})
    vol = [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]
    create_pod(srv, ns, pod_body("pvc-w", srv.node, [hctr(
        "c", "echo kept > /mnt/f", volumeMounts=[mnt("d", "/mnt")])], volumes=vol))
    pod = finished(srv, ns, "pvc-w")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "pvc-w")
    # a second pod sees the data
    create_pod(srv, ns, pod_body("pvc-r", srv.node, [hctr(
        "c", "cat /mnt/f", volumeMounts=[mnt("d", "/mnt")])], volumes=vol))
    pod = finished(srv, ns, "pvc-r")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "pvc-r")
    assert pod_logs(srv, ns, "pvc-r").strip() == "kept"
    pvc = srv.get("/api/v1/namespaces/%s/persistentvolumeclaims/data" % ns)
    assert pvc["status"].get("phase") == "Bound", pvc
    pv = srv.get("/api/v1/persistentvolumes/" + pvc["spec"]["volumeName"])
    assert re.search(r"Bound", pv["status"].get("phase", "")), pv
    assert "kubernetes.io/pvc-protection" in pvc["metadata"].get("finalizers", []), pvc
    pvdir = pv["spec"]["hostPath"]["path"]
    assert os.path.isfile(os.path.join(pvdir, "f")), pvdir

    # claim protection: deleting a claim a running pod uses waits for the pod
    create_pod(srv, ns, pod_body("pvc-hold", srv.node, [hctr(
        "c", "sleep 3600", volumeMounts=[mnt("d", "/mnt")])], volumes=vol, restart="Always"))
    wait_pod(srv, ns, "pvc-hold", lambda p: p.get("status", {}).get("phase") == "Running", 30,
             "Running")
    r = srv.request("DELETE", "/api/v1/namespaces/%s/persistentvolumeclaims/data" % ns)
    assert r.status == 200, r
    time.sleep(2)
    pvc = srv.get("/api/v1/namespaces/%s/persistentvolumeclaims/data" % ns)
    assert pvc["metadata"].get("deletionTimestamp"), pvc
    assert srv.exists("/api/v1/persistentvolumes/" + pv["metadata"]["name"])
    assert os.path.isfile(os.path.join(pvdir, "f")), "data removed while in use"
    # the pod goes: the claim, its volume and the volume's data go too
    srv.request("DELETE", "/api/v1/namespaces/%s/pods/pvc-hold" % ns,
                {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
    srv.wait_gone("/api/v1/namespaces/%s/persistentvolumeclaims/data" % ns, timeout=30)
    srv.wait_gone("/api/v1/persistentvolumes/" + pv["metadata"]["name"], timeout=30)
    deadline = time.time() + 30
    while os.path.exists(pvdir) and time.time() < deadline:
        time.sleep(0.5)
    assert not os.path.exists(pvdir), "volume data %s kept after the volume was deleted" % pvdir
