"""Distributed training (issue 6): PyTorchJob served built in, gang-
scheduled, restarting as a gang from checkpoints - with real PyTorch DDP
(Debian's python3-torch, gloo, CPU) in real containers on the embedded
agent, driven with kubectl and the Python client."""
import json
import os
import signal
import time

import pytest
import yaml

from conftest import VERSIONS, _ns_name, agent_server, agent_teardown, poll

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PTJ = "/apis/kubeflow.org/v1/namespaces/%s/pytorchjobs"


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "train-node")
    yield s
    agent_teardown(s)


@pytest.fixture
def ns(srv, request):
    return srv.make_ns(_ns_name(request.node.name))


def job(name, cmd, replicas=(1, 1), policy="OnFailure", run=None, env=None, **tpl_spec):
    spec = {"terminationGracePeriodSeconds": 1,
            "containers": [{"name": "pytorch", "image": "host", "command": cmd,
                            "env": env or []}]}
    spec.update(tpl_spec)
    specs = {}
    for t, n in zip(("Master", "Worker"), replicas):
        if n is not None:
            specs[t] = {"replicas": n, "restartPolicy": policy,
                        "template": {"spec": json.loads(json.dumps(spec))}}
    body = {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": {"name": name},
            "spec": {"pytorchReplicaSpecs": specs}}
    if run:
        body["spec"]["runPolicy"] = run
    return body


def get(srv, ns, name):
    return srv.get((PTJ % ns) + "/" + name)


def conds(j):
    return {c["type"]: c for c in j.get("status", {}).get("conditions", [])
            if c.get("status") == "True"}


def wait_cond(srv, ns, name, want, timeout=90):
    last = {}

    def check():
        last["j"] = get(srv, ns, name)
        return want in conds(last["j"])
    assert poll(check, timeout), json.dumps(last.get("j", {}).get("status"), indent=1)
    return last["j"]


def pods(srv, ns):
    return srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]


def rank_pid(name, rank):
    """Host pid of the job's python rank (environment RANK=n, MASTER_ADDR=<job>-master-0)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if b"/app/train.py" not in f.read():
                    continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if b"RANK=%d" % rank in env and b"MASTER_ADDR=%s-master-0" % name.encode() in env:
            return int(pid)
    return None


def test_demo_training_resumes_as_a_gang(srv, ns):
    """The demo's training: 2 DDP ranks; rank 1 SIGKILLed midway; both
    ranks restart together from the checkpoint; the job succeeds with a
    lower loss; running pods are cleaned (cleanPodPolicy Running)."""
    with open(os.path.join(ROOT, "demo", "train.py")) as f:
        srv.create("/api/v1/namespaces/%s/configmaps" % ns, {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "demo-train"},
            "data": {"train.py": f.read()}})
    with open(os.path.join(ROOT, "demo", "pytorchjob.yaml")) as f:
        body = yaml.safe_load(f)
    for rs in body["spec"]["pytorchReplicaSpecs"].values():
        rs["template"]["spec"]["containers"][0]["env"] = [
            {"name": "DEMO_STEPS", "value": "60"}, {"name": "DEMO_CKPT_EVERY", "value": "10"}]
    srv.create(PTJ % ns, body)
    name = body["metadata"]["name"]
    j = wait_cond(srv, ns, name, "Running", 120)
    # gang-scheduled: a PodGroup of both ranks, a headless Service per rank
    pg = srv.get("/apis/scheduling.x-k8s.io/v1alpha1/namespaces/%s/podgroups/%s" % (ns, name))
    assert pg["spec"]["minMember"] == 2
    for r in ("master", "worker"):
        svc = srv.get("/api/v1/namespaces/%s/services/%s-%s-0" % (ns, name, r))
        assert svc["spec"]["clusterIP"] == "None"
    # midway (after a checkpoint), kill rank 1 for real
    assert poll(lambda: get(srv, ns, name)["status"].get("progress", {}).get("step", 0) >= 25,
                120), get(srv, ns, name)["status"]
    pid = rank_pid(name, 1)
    assert pid, "rank 1 not found"
    os.kill(pid, signal.SIGKILL)
    j = wait_cond(srv, ns, name, "Succeeded", 240)
    st = j["status"]
    assert st["restarts"] == 1, st
    assert "Failed" not in conds(j)
    ev = srv.get("/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name%%3D%s" % (ns, name))
    msgs = [e["message"] for e in ev["items"] if e["reason"] == "PyTorchJobRestarting"]
    assert msgs and "all ranks restart together" in msgs[0] and "exit code 137" in msgs[0], msgs
    log = srv.request("GET", "/api/v1/namespaces/%s/pods/%s-master-0/log" % (ns, name)).body.decode()
    resumed = [int(l.split()[3]) for l in log.splitlines() if l.startswith("resumed from step")]
    assert resumed and resumed[0] > 0, log[-2000:]
    final = [l for l in log.splitlines() if l.startswith("final loss")]
    assert final, log[-2000:]
    last, first = float(final[0].split()[2]), float(final[0].split()[4].rstrip(")"))
    assert last < first, final
    assert st["progress"]["step"] == 60 and st["progress"]["totalSteps"] == 60
    assert st["replicaStatuses"]["Master"]["succeeded"] == 1
    # cleanPodPolicy Running: nothing of the job is still running
    assert poll(lambda: not [p for p in pods(srv, ns) if p["status"].get("phase") == "Running"
                             and not p["metadata"].get("deletionTimestamp")], 30)
    for v in VERSIONS:
        out = srv.kubectl(v, "get", "pytorchjobs", "-n", ns).stdout
        assert "Succeeded" in out and "100% (60/60)" in out, out
        r = srv.kubectl(v, "wait", "--for=condition=Succeeded", "pytorchjob/" + name, "-n", ns,
                        "--timeout=10s")
        assert r.returncode == 0, r.stderr


KUBEFLOW_SIMPLE = """
apiVersion: "kubeflow.org/v1"
kind: PyTorchJob
metadata:
  name: pytorch-simple
  namespace: kubeflow
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      restartPolicy: OnFailure
      template:
        spec:
          containers:
            - name: pytorch
              image: IMAGE
              imagePullPolicy: Always
              command:
                - "python3"
                - "/opt/pytorch-mnist/mnist.py"
                - "--epochs=1"
    Worker:
      replicas: 1
      restartPolicy: OnFailure
      template:
        spec:
          containers:
            - name: pytorch
              image: IMAGE
              imagePullPolicy: Always
              command:
                - "python3"
                - "/opt/pytorch-mnist/mnist.py"
                - "--epochs=1"
"""

# Stands in for the image's MNIST script (nothing can be downloaded here):
# joins the process group as Kubeflow's environment says and trains on
# random data for a while.
MNIST = """
import os, time, torch, torch.distributed as dist
dist.init_process_group("gloo")
m = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(784, 10))
opt = torch.optim.SGD(m.parameters(), lr=0.1)
for i in range(600):
    loss = m(torch.randn(32, 784)).square().mean()
    opt.zero_grad(); loss.backward(); opt.step(); time.sleep(0.05)
"""


def test_kubeflow_doc_manifest_runs_with_kubeflows_environment(srv, tmp_path):
    """Kubeflow's own example (pytorch-simple), image swapped for the local
    `host` image (the script it runs is put on the host), applied with
    kubectl: it reaches Running and each pod carries Kubeflow's environment."""
    os.makedirs("/opt/pytorch-mnist", exist_ok=True)
    script = "/opt/pytorch-mnist/mnist.py"
    created = not os.path.exists(script)
    if created:
        with open(script, "w") as f:
            f.write(MNIST)
    try:
        srv.make_ns("kubeflow")
        path = tmp_path / "simple.yaml"
        path.write_text(KUBEFLOW_SIMPLE.replace("IMAGE", "host"))
        r = srv.kubectl("1.33", "apply", "-f", str(path))
        assert r.returncode == 0, r.stderr
        wait_cond(srv, "kubeflow", "pytorch-simple", "Running", 120)
        want = {
            "master": {"PYTHONUNBUFFERED": "0", "MASTER_PORT": "23456",
                       "MASTER_ADDR": "pytorch-simple-master-0", "PET_MASTER_PORT": "23456",
                       "PET_MASTER_ADDR": "pytorch-simple-master-0", "WORLD_SIZE": "2",
                       "RANK": "0", "PET_NPROC_PER_NODE": "auto", "PET_NODE_RANK": "0",
                       "PET_NNODES": "2"},
            "worker": {"RANK": "1", "PET_NODE_RANK": "1", "WORLD_SIZE": "2",
                       "MASTER_ADDR": "pytorch-simple-master-0"},
        }
        for role, env in want.items():
            p = srv.get("/api/v1/namespaces/kubeflow/pods/pytorch-simple-%s-0" % role)
            got = {e["name"]: e.get("value") for e in p["spec"]["containers"][0]["env"]}
            for k, v in env.items():
                assert got.get(k) == v, (role, k, got)
            lab = p["metadata"]["labels"]
            assert lab["training.kubeflow.org/job-name"] == "pytorch-simple"
            assert lab["training.kubeflow.org/replica-type"] == role
            assert lab["training.kubeflow.org/replica-index"] == "0"
            # and the running process sees them
            r = srv.kubectl("1.33", "exec", "-n", "kubeflow", "pytorch-simple-%s-0" % role, "--",
                            "sh", "-c", "echo $RANK $WORLD_SIZE $MASTER_ADDR")
            assert r.stdout.split() == [env["RANK"], "2", "pytorch-simple-master-0"], r.stdout
        assert srv.get("/api/v1/namespaces/kubeflow/pods/pytorch-simple-master-0")["metadata"][
            "labels"]["training.kubeflow.org/job-role"] == "master"
        srv.kubectl("1.33", "delete", "-f", str(path), "--wait=false")
    finally:
        if created:
            os.unlink(script)
            os.rmdir("/opt/pytorch-mnist")


def test_exit_code_policy(srv, ns):
    """ExitCode: 137 restarts the gang (the next epoch succeeds), 1 fails the
    job at once; restarts past backoffLimit fail it."""
    srv.create(PTJ % ns, job("retry", ["sh", "-c", '[ "$GANTRY_RESTART_EPOCH" != 0 ] || exit 137'],
                             policy="ExitCode"))
    j = wait_cond(srv, ns, "retry", "Succeeded")
    assert j["status"]["restarts"] == 1
    srv.create(PTJ % ns, job("perm", ["sh", "-c", "exit 1"], policy="ExitCode"))
    j = wait_cond(srv, ns, "perm", "Failed")
    assert j["status"].get("restarts", 0) == 0
    assert "exit code 1" in conds(j)["Failed"]["message"], conds(j)
    srv.create(PTJ % ns, job("limit", ["sh", "-c", "exit 137"], policy="ExitCode",
                             run={"backoffLimit": 2}))
    j = wait_cond(srv, ns, "limit", "Failed")
    assert j["status"]["restarts"] == 2 and conds(j)["Failed"]["reason"] == "BackoffLimitExceeded"


def test_deleted_rank_restarts_the_whole_gang(srv, ns):
    """A rank of a running gang deleted (by hand, a drain, an eviction):
    every rank restarts together as the next epoch - the survivors are not
    left waiting in a collective for a lone replacement."""
    srv.create(PTJ % ns, job("del", ["sleep", "3600"]))
    wait_cond(srv, ns, "del", "Running")
    uids = {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods(srv, ns)}
    assert set(uids) == {"del-master-0", "del-worker-0"}, uids
    r = srv.request("DELETE", "/api/v1/namespaces/%s/pods/del-worker-0" % ns)
    assert r.status == 200, r

    def restarted():
        j = get(srv, ns, "del")
        return j if j["status"].get("restarts") == 1 else None
    j = poll(restarted, 60)
    assert j, get(srv, ns, "del")["status"]
    wait_cond(srv, ns, "del", "Running")

    def epoch1():
        ps = [p for p in pods(srv, ns) if not p["metadata"].get("deletionTimestamp")]
        return ps if len(ps) == 2 and all(
            p["metadata"]["labels"].get("training.gantry.dev/restart-epoch") == "1" and
            p["status"].get("phase") == "Running" for p in ps) else None
    ps = poll(epoch1, 60)
    assert ps, [(p["metadata"]["name"], p["metadata"]["labels"], p["status"].get("phase"))
                for p in pods(srv, ns)]
    # the master, never deleted by anyone, was restarted with the worker
    assert all(p["metadata"]["uid"] != uids[p["metadata"]["name"]] for p in ps), ps
    msgs = [e["message"] for e in srv.get("/api/v1/namespaces/%s/events" % ns)["items"]
            if e["reason"] == "PyTorchJobRestarting"]
    assert any("Worker replica del-worker-0 was deleted" in m and "epoch 1" in m for m in msgs), msgs


def test_suspend_resume_and_deadline(srv, ns):
    srv.create(PTJ % ns, job("sus", ["sh", "-c", "sleep 1"], run={"suspend": True}))
    j = wait_cond(srv, ns, "sus", "Suspended")
    assert not [p for p in pods(srv, ns) if p["metadata"]["name"].startswith("sus-")]
    srv.request("PATCH", (PTJ % ns) + "/sus", {"spec": {"runPolicy": {"suspend": False}}},
                headers={"Content-Type": "application/merge-patch+json"})
    wait_cond(srv, ns, "sus", "Succeeded")
    srv.create(PTJ % ns, job("late", ["sleep", "60"], run={"activeDeadlineSeconds": 3,
                                                           "cleanPodPolicy": "All"}))
    j = wait_cond(srv, ns, "late", "Failed", 60)
    assert conds(j)["Failed"]["reason"] == "DeadlineExceeded"
    assert poll(lambda: not [p for p in pods(srv, ns) if p["metadata"]["name"].startswith("late-")
                             and not p["metadata"].get("deletionTimestamp")], 30)


def test_bad_jobs(srv, ns):
    cases = [
        (job("zero", ["true"], replicas=(1, 0)), "spec.pytorchReplicaSpecs[Worker].replicas"),
        (job("neg", ["true"], run={"backoffLimit": -1}), "spec.runPolicy.backoffLimit"),
        (job("two", ["true"], replicas=(2, 1)), "spec.pytorchReplicaSpecs[Master].replicas"),
    ]
    bad = job("odd", ["true"])
    bad["spec"]["pytorchReplicaSpecs"]["Chief"] = bad["spec"]["pytorchReplicaSpecs"].pop("Worker")
    cases.append((bad, "spec.pytorchReplicaSpecs"))
    noname = job("noname", ["true"])
    noname["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0][
        "name"] = "main"
    cases.append((noname, "spec.pytorchReplicaSpecs[Master].template.spec.containers"))
    for body, field in cases:
        r = srv.request("POST", PTJ % ns, body)
        assert r.status == 422, (body["metadata"]["name"], r)
        causes = [c["field"] for c in r.json()["details"]["causes"]]
        assert field in causes, (field, r.json())
        assert not srv.exists((PTJ % ns) + "/" + body["metadata"]["name"])


def test_gang_bigger_than_the_cluster_holds_nothing(srv, ns):
    """Three ranks that each need most of the node's CPU: the gang cannot
    fit, so no rank is bound (none holds resources) and the pods say why."""
    node = srv.get("/api/v1/nodes/" + srv.node)
    cpu = node["status"]["allocatable"]["cpu"]
    milli = int(cpu[:-1]) if cpu.endswith("m") else int(cpu) * 1000
    each = "%dm" % (milli * 4 // 10)
    srv.create(PTJ % ns, job("big", ["sleep", "30"], replicas=(1, 2),
                             **{"containers": [{"name": "pytorch", "image": "host",
                                                "command": ["sleep", "30"],
                                                "resources": {"requests": {"cpu": each}}}]}))
    assert poll(lambda: len(pods(srv, ns)) == 3, 30)

    def waiting():
        ps = pods(srv, ns)
        return ps and all(any(c["type"] == "PodScheduled" and c["status"] == "False"
                              for c in p["status"].get("conditions", [])) for p in ps)
    assert poll(waiting, 30), [p["status"] for p in pods(srv, ns)]
    time.sleep(2)
    ps = pods(srv, ns)
    assert not [p for p in ps if p["spec"].get("nodeName")], "a partial gang was bound"
    msg = [c for c in ps[0]["status"]["conditions"] if c["type"] == "PodScheduled"][0]["message"]
    assert "Insufficient cpu" in msg or "pod group" in msg, msg
    assert "Running" not in conds(get(srv, ns, "big"))

