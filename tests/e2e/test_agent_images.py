"""Node agent end to end: OCI images (issue 3).  A busybox image is built at
test time with no network (Debian's busybox-static in one layer, `docker
save` layout), imported with `gantry image import`, pushed to a registry on
loopback (Debian's docker-registry, skopeo) and pulled back.  One server with
the embedded agent for the module (node agent-images); teardown deletes the
pods, stops it, runs `gantry node reset` and checks nothing leaked.
"""
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile

import pytest

from conftest import (_ns_name, agent_server, agent_teardown, cstatus, create_pod, phase_is,
                      pod_body, pod_dump, pod_logs, poll, wait_pod)

REF = "gantry.test/busybox:1"
APPLETS = ("sh", "echo", "id", "cat", "sleep", "ls", "env", "touch", "pwd", "grep")


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-images")
    yield s
    agent_teardown(s)


@pytest.fixture
def ns(srv, request):
    return srv.make_ns(_ns_name(request.node.name))


def _add(t, name, data=b"", mode=0o644, link=None, dir=False):
    ti = tarfile.TarInfo(name)
    ti.mtime = 0
    if dir:
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        t.addfile(ti)
    elif link:
        ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, link, 0o777
        t.addfile(ti)
    else:
        ti.size, ti.mode = len(data), mode
        t.addfile(ti, io.BytesIO(data))


def build_busybox(path, ref=REF, layers_ok=True):
    """Write a `docker save` archive of a one-layer busybox image to PATH."""
    lb = io.BytesIO()
    with tarfile.open(fileobj=lb, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "etc", "tmp"):
            _add(t, d, dir=True)
        with open("/bin/busybox", "rb") as f:
            _add(t, "bin/busybox", f.read(), mode=0o755)
        for a in APPLETS:
            _add(t, "bin/" + a, link="busybox")
        _add(t, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    layer = lb.getvalue()
    ldig = hashlib.sha256(layer).hexdigest()
    cfg = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo default-cmd $GREETING"],
                   "Env": ["PATH=/bin", "GREETING=from-image"], "WorkingDir": "/tmp"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ldig]}}).encode()
    cdig = hashlib.sha256(cfg).hexdigest()
    with tarfile.open(path, "w") as t:
        _add(t, cdig + ".json", cfg)
        if layers_ok:
            _add(t, ldig + "/layer.tar", layer)
        _add(t, "manifest.json", json.dumps([{
            "Config": cdig + ".json", "RepoTags": [ref], "Layers": [ldig + "/layer.tar"]}]).encode())
    return "sha256:" + cdig


def gantry_image(srv, *args, check=True):
    p = subprocess.run([srv.bin, "image"] + list(args) + ["--data-dir", srv.data_dir],
                       capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, "gantry image %s -> %d\n%s%s" % (
            " ".join(args), p.returncode, p.stdout, p.stderr)
    return p


def image_refs(srv):
    return {i["ref"]: i for i in json.loads(gantry_image(srv, "ls", "-o", "json").stdout)}


@pytest.fixture(scope="module")
def busybox(srv, tmp_path_factory):
    """Import the busybox image into the running server's agent; returns its id."""
    path = str(tmp_path_factory.mktemp("img") / "busybox.tar")
    image_id = build_busybox(path)
    p = gantry_image(srv, "import", path)
    assert REF in p.stdout, p.stdout
    return {"id": image_id, "path": path}


def bb(name, script=None, **kw):
    c = {"name": name, "image": REF, "imagePullPolicy": "Never"}
    if script is not None:
        c["command"] = ["/bin/sh", "-c", script]
    c.update(kw)
    return c


def test_import_and_run(srv, ns, busybox):
    imgs = image_refs(srv)
    assert REF in imgs and imgs[REF]["id"] == busybox["id"], imgs
    create_pod(srv, ns, pod_body("bb", srv.node, [
        bb("default"),
        bb("args", args=["echo args-override"]),
        bb("user", "id -u; id -g; pwd", securityContext={"runAsUser": 1000, "runAsGroup": 1000}),
        bb("rw", "echo written > /newfile && cat /newfile && ls /bin/busybox"),
        bb("ro", "(echo x > /newfile) 2>/dev/null && echo rw || echo ro",
           securityContext={"readOnlyRootFilesystem": True}),
    ]))
    pod = wait_pod(srv, ns, "bb", phase_is("Succeeded", "Failed"), 40, "terminal phase")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "bb")
    want = {"default": "default-cmd from-image", "args": "args-override",
            "user": "1000\n1000\n/tmp", "rw": "written\n/bin/busybox", "ro": "ro"}
    for name, text in want.items():
        assert pod_logs(srv, ns, "bb", container=name).strip() == text, name
        s = cstatus(pod, name)
        assert s["image"] == REF and s["imageID"] == "gantry.test/busybox@" + imgs[REF]["digest"], s
        assert s["state"]["terminated"]["exitCode"] == 0


def test_missing_image(srv, ns, busybox):
    create_pod(srv, ns, pod_body("nopull", srv.node, [{
        "name": "c", "image": "127.0.0.1:9/gantry-e2e/missing:1", "imagePullPolicy": "IfNotPresent"}],
        restart="Always"))
    create_pod(srv, ns, pod_body("never", srv.node, [{
        "name": "c", "image": "gantry.test/missing:1", "imagePullPolicy": "Never"}]))

    def waiting(reasons):
        def f(p):
            w = cstatus(p, "c").get("state", {}).get("waiting") or {}
            return w.get("reason") in reasons
        return f
    pod = wait_pod(srv, ns, "nopull", waiting(("ErrImagePull", "ImagePullBackOff")), 30,
                   "ErrImagePull")
    w = cstatus(pod, "c")["state"]["waiting"]
    assert "127.0.0.1:9/gantry-e2e/missing:1" in w.get("message", ""), pod_dump(srv, ns, "nopull")
    assert pod["status"]["phase"] == "Pending"
    # keeps retrying with back-off: ImagePullBackOff shows up
    wait_pod(srv, ns, "nopull", waiting(("ImagePullBackOff",)), 20, "ImagePullBackOff")
    pod = wait_pod(srv, ns, "never", waiting(("ErrImageNeverPull",)), 30, "ErrImageNeverPull")
    msg = cstatus(pod, "c")["state"]["waiting"].get("message", "")
    assert "gantry.test/missing:1" in msg, pod_dump(srv, ns, "never")
    assert pod["status"]["phase"] == "Pending"
    assert srv.alive()


def test_malformed_archives(srv, tmp_path, busybox):
    before = image_refs(srv)
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(4096))
    empty = tmp_path / "empty.tar"
    with tarfile.open(str(empty), "w"):
        pass
    nolayer = tmp_path / "nolayer.tar"
    build_busybox(str(nolayer), ref="gantry.test/broken:1", layers_ok=False)
    truncated = tmp_path / "truncated.tar"
    data = open(busybox["path"], "rb").read()
    truncated.write_bytes(data[:len(data) // 2])
    badjson = tmp_path / "badjson.tar"
    with tarfile.open(str(badjson), "w") as t:
        _add(t, "manifest.json", b"[{\"Config\": ")
    for f in (junk, empty, nolayer, truncated, badjson, tmp_path / "does-not-exist.tar"):
        p = gantry_image(srv, "import", str(f), check=False)
        assert 0 < p.returncode < 128, "import %s -> rc %d\n%s%s" % (
            f.name, p.returncode, p.stdout, p.stderr)
        assert f.name in p.stderr and len(p.stderr.strip()) > len(f.name) + 10, \
            "import %s: unclear error %r" % (f.name, p.stderr)
    p = gantry_image(srv, "import", str(nolayer), check=False)
    assert "layer.tar" in p.stderr or "layer" in p.stderr.lower(), p.stderr
    assert image_refs(srv) == before, "a failed import changed the store"
    assert srv.alive()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry on loopback (plain HTTP); yields HOST:PORT."""
    for tool in ("docker-registry", "skopeo"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed (apt-get install docker-registry skopeo)" % tool)
    port = _free_port()
    cfg = tmp_path / "registry.yml"
    cfg.write_text("version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\n"
                   "http: {addr: 127.0.0.1:%d}\n" % (tmp_path / "data", port))
    log = open(str(tmp_path / "registry.log"), "wb")
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=log, stderr=log)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            return False
    try:
        assert poll(up, 10), "docker-registry did not start: %s" % (tmp_path / "registry.log")
        yield "127.0.0.1:%d" % port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_registry_push_and_pull(srv, ns, busybox, registry):
    ref = registry + "/gantry-e2e/busybox:pushed"
    p = subprocess.run(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                        "docker-archive:" + busybox["path"], "docker://" + ref],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert ref not in image_refs(srv)
    create_pod(srv, ns, pod_body("pulled", srv.node, [{
        "name": "c", "image": ref, "imagePullPolicy": "Always",
        "command": ["/bin/sh", "-c", "echo pulled-ok; id -u"],
        "securityContext": {"runAsUser": 1234}}]))
    pod = wait_pod(srv, ns, "pulled", phase_is("Succeeded", "Failed"), 60, "terminal phase")
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "pulled")
    assert pod_logs(srv, ns, "pulled").split() == ["pulled-ok", "1234"]
    imgs = image_refs(srv)
    assert ref in imgs and imgs[ref]["id"] == busybox["id"], imgs
    s = cstatus(pod, "c")
    assert s["image"] == ref and s["imageID"] == ref.rsplit(":", 1)[0] + "@" + imgs[ref]["digest"], s
    # `gantry image pull` and `rm` from the CLI
    ref2 = registry + "/gantry-e2e/busybox:cli"
    p = subprocess.run(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                        "docker-archive:" + busybox["path"], "docker://" + ref2],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    gantry_image(srv, "pull", ref2)
    assert ref2 in image_refs(srv)
    gantry_image(srv, "rm", ref2)
    assert ref2 not in image_refs(srv) and REF in image_refs(srv)
    p = gantry_image(srv, "pull", registry + "/gantry-e2e/none:1", check=False)
    assert 0 < p.returncode < 128 and "none" in p.stderr, p.stderr
