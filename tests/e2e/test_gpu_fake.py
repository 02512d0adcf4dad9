"""GPUs with fake NVIDIA device nodes (CI has no GPU): the node advertises
nvidia.com/gpu, a pod asking for one gets exactly its device node and
NVIDIA_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES, two pods never share a GPU,
and a pod asking for more than is free fails at admission with the
kubelet's reason."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import net_args, poll, wait_node_ready

GANTRY = os.environ.get("GANTRY_BIN", "bin/gantry")


@pytest.fixture(scope="module")
def gpu_server(new_server):
    if os.geteuid() != 0:
        pytest.fail("GPU tests need root (mknod, runc)")
    devdir = tempfile.mkdtemp(prefix="gt-fakegpu-")
    for i in range(2):
        os.mknod(os.path.join(devdir, "nvidia%d" % i), 0o666 | 0o020000, os.makedev(195, i))
    os.mknod(os.path.join(devdir, "nvidiactl"), 0o666 | 0o020000, os.makedev(195, 255))
    srv = new_server("--node-name", "gpu-node", "--gpu-dev-dir", devdir,
                     "--backoff-base-ms", "500", *net_args(), agent=True)
    srv.node = "gpu-node"
    wait_node_ready(srv)
    yield srv
    try:
        srv.request("DELETE", "/api/v1/namespaces/default/pods", {"gracePeriodSeconds": 0})
        deadline = time.time() + 30
        while time.time() < deadline and srv.get("/api/v1/namespaces/default/pods")["items"]:
            time.sleep(0.3)
    finally:
        rc = srv.stop()
        srv.proc = None  # stopped here; the factory's teardown must not stop it again
        assert rc == 0, "server exit status %r" % (rc,)
        subprocess.run([srv.bin, "node", "reset", "--root-dir", os.path.join(srv.data_dir, "agent")],
                       capture_output=True, timeout=60)
        shutil.rmtree(devdir, ignore_errors=True)


def gpu_pod(name, n, cmd):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": "gpu-node", "restartPolicy": "Never",
                     "containers": [{"name": "c", "image": "host", "command": ["sh", "-c", cmd],
                                     "resources": {"limits": {"nvidia.com/gpu": n}}}]}}


def wait_phase(srv, name, phases, timeout=30):
    deadline = time.time() + timeout
    pod = None
    while time.time() < deadline:
        pod = srv.get("/api/v1/namespaces/default/pods/" + name)
        if pod.get("status", {}).get("phase") in phases:
            return pod
        time.sleep(0.2)
    raise AssertionError("pod %s never reached %s: %r" % (name, phases, pod.get("status")))


def logs(srv, name):
    r = srv.request("GET", "/api/v1/namespaces/default/pods/%s/log" % name)
    assert r.status == 200, r
    return r.body.decode()


def test_capacity_allocation_and_refusal(gpu_server):
    srv = gpu_server
    node = srv.get("/api/v1/nodes/gpu-node")
    assert node["status"]["capacity"]["nvidia.com/gpu"] == "2", node["status"]["capacity"]
    cmd = "ls /dev | grep nvidia | sort | tr '\\n' ' '; echo; " \
          "echo V=$NVIDIA_VISIBLE_DEVICES C=$CUDA_VISIBLE_DEVICES; sleep 60"
    srv.create("/api/v1/namespaces/default/pods", gpu_pod("g1", 1, cmd))
    srv.create("/api/v1/namespaces/default/pods", gpu_pod("g2", 1, cmd))
    wait_phase(srv, "g1", ("Running", "Succeeded"))
    wait_phase(srv, "g2", ("Running", "Succeeded"))
    # both GPUs are held now: a third pod is refused at admission
    srv.create("/api/v1/namespaces/default/pods", gpu_pod("g3", 1, "echo never"))
    p3 = wait_phase(srv, "g3", ("Failed",))
    assert p3["status"]["reason"] == "UnexpectedAdmissionError", p3["status"]
    assert "nvidia.com/gpu" in p3["status"]["message"], p3["status"]
    # (the two keep their GPUs for a minute: no race with g3 on a slow host)
    assert poll(lambda: all(len(logs(srv, n).strip().splitlines()) >= 2 for n in ("g1", "g2")),
                30), (logs(srv, "g1"), logs(srv, "g2"))
    out1, out2 = logs(srv, "g1"), logs(srv, "g2")
    seen = []
    for out in (out1, out2):
        lines = out.strip().splitlines()
        devs = lines[0].split()
        gpus = [d for d in devs if d[len("nvidia"):].isdigit()]
        assert len(gpus) == 1 and "nvidiactl" in devs, out
        idx = gpus[0][len("nvidia"):]
        assert lines[1] == "V=%s C=0" % idx, out
        seen.append(idx)
    assert sorted(seen) == ["0", "1"], "two pods shared a GPU: %r" % seen
    # released: a new pod can take one again
    srv.request("DELETE", "/api/v1/namespaces/default/pods/g1", {"gracePeriodSeconds": 0})
    srv.wait_gone("/api/v1/namespaces/default/pods/g1", timeout=30)
    srv.create("/api/v1/namespaces/default/pods", gpu_pod("g4", 1, "echo V=$NVIDIA_VISIBLE_DEVICES"))
    wait_phase(srv, "g4", ("Succeeded",))
    assert logs(srv, "g4").strip() in ("V=0", "V=1")
    # a finished pod's GPU is free again while the pod object stays (g2
    # still holds the other one): g5 gets g4's
    srv.create("/api/v1/namespaces/default/pods", gpu_pod("g5", 1, "echo V=$NVIDIA_VISIBLE_DEVICES"))
    p5 = wait_phase(srv, "g5", ("Succeeded", "Failed"))
    assert p5["status"]["phase"] == "Succeeded", p5["status"]
    assert logs(srv, "g5").strip() == logs(srv, "g4").strip()


def test_pytorchjob_ranks_get_their_gpus(gpu_server):
    """A PyTorchJob whose ranks each ask for nvidia.com/gpu: 1 is scheduled
    onto the GPU node as a gang, and each rank sees its own device (device
    node, NVIDIA_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES) beside Kubeflow's
    environment."""
    srv = gpu_server
    # the GPUs are free again (the test before holds one for a minute)
    srv.request("DELETE", "/api/v1/namespaces/default/pods", {"gracePeriodSeconds": 0})
    assert poll(lambda: not srv.get("/api/v1/namespaces/default/pods")["items"], 30)
    # each rank holds its GPU a while: a rank that finished at once would
    # free its GPU (as the kubelet does) for a slower peer to get the same one
    cmd = ("ls /dev | grep -E '^nvidia[0-9]+$' | tr '\\n' ' '; echo; "
           "echo RANK=$RANK V=$NVIDIA_VISIBLE_DEVICES C=$CUDA_VISIBLE_DEVICES; sleep 4")
    tpl = {"spec": {"containers": [{"name": "pytorch", "image": "host",
                                    "command": ["sh", "-c", cmd],
                                    "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}
    srv.create("/apis/kubeflow.org/v1/namespaces/default/pytorchjobs", {
        "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": {
            "name": "gpujob", "annotations": {"training.gantry.dev/checkpoint-claim": "none"}},
        "spec": {"runPolicy": {"cleanPodPolicy": "None"}, "pytorchReplicaSpecs": {
            "Master": {"replicas": 1, "restartPolicy": "Never", "template": tpl},
            "Worker": {"replicas": 1, "restartPolicy": "Never", "template": tpl}}}})

    def done():
        st = srv.get("/apis/kubeflow.org/v1/namespaces/default/pytorchjobs/gpujob").get("status", {})
        return any(c["type"] in ("Succeeded", "Failed") and c["status"] == "True"
                   for c in st.get("conditions", []))
    assert poll(done, 60)
    st = srv.get("/apis/kubeflow.org/v1/namespaces/default/pytorchjobs/gpujob")["status"]
    assert any(c["type"] == "Succeeded" and c["status"] == "True" for c in st["conditions"]), \
        [c.get("message") for c in st["conditions"]]
    # the job succeeds with its Master; the worker may still be finishing
    assert poll(lambda: all(srv.get("/api/v1/namespaces/default/pods/gpujob-%s-0" % r)["status"]
                            .get("phase") == "Succeeded" for r in ("master", "worker")), 60)
    seen = []
    for role, rank in (("master", "0"), ("worker", "1")):
        out = logs(srv, "gpujob-%s-0" % role).strip().splitlines()
        devs = out[0].split()
        assert len(devs) == 1, out
        idx = devs[0][len("nvidia"):]
        assert out[1] == "RANK=%s V=%s C=0" % (rank, idx), out
        seen.append(idx)
    assert sorted(seen) == ["0", "1"], "two ranks shared a GPU: %r" % seen
    srv.request("DELETE", "/apis/kubeflow.org/v1/namespaces/default/pytorchjobs/gpujob")
