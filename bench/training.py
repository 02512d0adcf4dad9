#!/usr/bin/env python3
"""training.py - the training part of `make bench` (scripts/run-bench.sh,
BENCH_PARTS=training): a `gantry server` with its embedded agent on a temp
data dir (its own bridge and subnet), real pods of the `host` image, driven
through the API with the Python client's kubeconfig.

Measures
  submit     PyTorchJob created -> all ranks Running (2 ranks, `sleep`),
             from the job's creation to the last pod's container start
             (the agent's startedAt) and to the job's Running condition.
  recover    a rank of demo/train.py SIGKILLed -> all ranks training again:
             from the kill (host clock) to the first step the restarted
             rank 0 reports (its log line's timestamp, CRI log, same clock),
             and to the restarted pods' container starts.
  sim256     (with --sim N: `gantry agent --simulate N` hollow nodes) 256
             ranks submitted -> all Running.
There is no Kubeflow training operator on this machine to compare with; its
restart path recreates the failed pod alone and the other ranks wait in
their collective until it rejoins or times out (docs/training.md).

Prints RESULT lines and a Markdown section; with --doc FILE it replaces the
section between the training markers of FILE.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from kubernetes import client, config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUP, VERSION, PLURAL, NS = "kubeflow.org", "v1", "pytorchjobs", "default"
BEGIN, END = "<!-- bench:training:begin -->", "<!-- bench:training:end -->"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class Cluster:
    def __init__(self, gantry, sim):
        self.dir = tempfile.mkdtemp(prefix="gantry-bench-train-")
        self.gantry, self.procs = gantry, []
        port = free_port()
        log = open(os.path.join(self.dir, "server.log"), "wb")
        self.procs.append(subprocess.Popen(
            [gantry, "server", "--data-dir", self.dir + "/d", "--port", str(port), "--node-name",
             "benchtrain", "--bridge", "gtbtrain0", "--subnet", "10.76.0.0/24"],
            stdout=log, stderr=log))
        kc = self.dir + "/d/admin.kubeconfig"
        for _ in range(200):
            if os.path.exists(kc) and b"node benchtrain ready" in open(
                    os.path.join(self.dir, "server.log"), "rb").read():
                break
            time.sleep(0.1)
        config.load_kube_config(kc)
        self.core, self.co = client.CoreV1Api(), client.CustomObjectsApi()
        if sim:
            self.procs.append(subprocess.Popen(
                [gantry, "agent", "--kubeconfig", kc, "--simulate", str(sim), "--sim-cpu", "8",
                 "--sim-memory", "32Gi"],
                stdout=log, stderr=log))

    def close(self):
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([self.gantry, "node", "reset", "--root-dir", self.dir + "/d/agent"],
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def job(name, cmd, workers=1, env=None, claim=True, node_selector=None):
    tpl = {"spec": {"terminationGracePeriodSeconds": 1, "containers": [{
        "name": "pytorch", "image": "host", "command": cmd, "env": env or []}]}}
    if node_selector:
        tpl["spec"]["nodeSelector"] = node_selector
    meta = {"name": name}
    if not claim:
        meta["annotations"] = {"training.gantry.dev/checkpoint-claim": "none"}
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": meta,
            "spec": {"pytorchReplicaSpecs": {
                "Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": tpl},
                "Worker": {"replicas": workers, "restartPolicy": "OnFailure", "template": tpl}}}}


def status(c, name):
    return c.co.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name).get("status", {})


def running(st):
    return any(x["type"] == "Running" and x["status"] == "True" for x in st.get("conditions", []))


def wait(pred, timeout, step=0.02):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def delete_job(c, name):
    c.co.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name)
    wait(lambda: not c.core.list_namespaced_pod(
        NS, label_selector="training.kubeflow.org/job-name=%s" % name).items, 60, 0.2)


def pods_running(c, name, epoch=None, n=2):
    """True when n pods of the job (of that restart epoch) are Running."""
    ps = c.core.list_namespaced_pod(
        NS, label_selector="training.kubeflow.org/job-name=%s" % name).items
    ok = [p for p in ps if p.status.phase == "Running" and not p.metadata.deletion_timestamp and
          (epoch is None or p.metadata.labels.get("training.gantry.dev/restart-epoch") == str(epoch))]
    return len(ok) >= n


def submit(c, reps):
    """Created -> both pods Running, and -> the job's Running condition (both
    observed by polling every 20 ms from here)."""
    starts, conds = [], []
    for i in range(reps):
        name = "sub%d" % i
        t0 = time.time()
        c.co.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL,
                                             job(name, ["sleep", "3600"], claim=False))
        ok = wait(lambda: pods_running(c, name), 60)
        starts.append(time.time() - t0 if ok else None)
        ok = wait(lambda: running(status(c, name)), 60)
        conds.append(time.time() - t0 if ok else None)
        delete_job(c, name)
    return starts, conds


def rank_pid(name, rank):
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


def first_step(c, name, epoch, timeout=120):
    """Timestamp (its CRI log line's) of the first step rank 0 of that
    restart epoch reported."""
    def look():
        try:
            pod = c.core.read_namespaced_pod("%s-master-0" % name, NS)
            if pod.metadata.labels.get("training.gantry.dev/restart-epoch") != str(epoch):
                return None
            log = c.core.read_namespaced_pod_log("%s-master-0" % name, NS, container="pytorch",
                                                 timestamps=True)
        except client.ApiException:
            return None
        for line in log.splitlines():
            stamp, _, text = line.partition(" ")
            if text.startswith("GANTRY_PROGRESS "):
                return ts(stamp)
        return None
    return wait(look, timeout, 0.05)


def recover(c, reps):
    with open(os.path.join(ROOT, "demo", "train.py")) as f:
        c.core.create_namespaced_config_map(NS, {"metadata": {"name": "demo-train"},
                                                 "data": {"train.py": f.read()}})
    body = job("rec", ["python3", "/app/train.py"],
               env=[{"name": "DEMO_STEPS", "value": "100000"},
                    {"name": "DEMO_CKPT_EVERY", "value": "10"}])
    for rs in body["spec"]["pytorchReplicaSpecs"].values():
        rs["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "app",
                                                                    "mountPath": "/app"}]
        rs["template"]["spec"]["volumes"] = [{"name": "app", "configMap": {"name": "demo-train"}}]
    c.co.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, body)
    train, back = [], []
    for i in range(reps):
        wait(lambda: running(status(c, "rec")) and status(c, "rec").get("progress", {}).get(
            "step", 0) >= 12 and status(c, "rec").get("restarts", 0) == i, 300, 0.2)
        pid = rank_pid("rec", 1)
        if not pid:
            break
        t_kill = time.time()
        os.kill(pid, signal.SIGKILL)
        ok = wait(lambda: pods_running(c, "rec", epoch=i + 1), 60)
        back.append(time.time() - t_kill if ok else None)
        t_step = first_step(c, "rec", i + 1)
        train.append(t_step - t_kill if t_step else None)
    delete_job(c, "rec")
    return train, back


def sim256(c):
    t0 = time.time()
    c.co.create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL,
        job("big", ["sleep", "3600"], workers=255, claim=False,
            node_selector={"gantry.dev/simulated": "true"}))
    ok = wait(lambda: running(status(c, "big")), 300, 0.05)
    t = time.time() - t0 if ok else None
    delete_job(c, "big")
    return t


def fmt(v):
    return "%.2f s" % v if v is not None else "n/a"


def p50(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gantry", default=os.path.join(ROOT, "bin", "gantry"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--sim", type=int, default=0)
    ap.add_argument("--doc")
    a = ap.parse_args()
    c = Cluster(a.gantry, a.sim)
    try:
        starts, conds = submit(c, a.reps)
        train, back = recover(c, a.kills)
        big = sim256(c) if a.sim else None
    finally:
        c.close()
    for k, v in (("submit_start", starts), ("submit_running", conds), ("recover_train", train),
                 ("recover_running", back)):
        print("RESULT %s=%s" % (k, ",".join("%.3f" % x if x is not None else "nan" for x in v)))
    if big is not None:
        print("RESULT sim256_running=%.3f" % big)
    date = time.strftime("%Y-%m-%d")
    sec = [BEGIN, "### Training jobs (%s, part `training`)" % date, "",
           "| measurement | p50 | runs | target |", "|---|---|---|---|",
           "| PyTorchJob created -> both ranks' pods Running (2 real ranks) | %s | %d | |"
           % (fmt(p50(starts)), len(starts)),
           "| PyTorchJob created -> job condition Running | %s | %d | |" % (fmt(p50(conds)), len(conds)),
           "| rank SIGKILLed -> the restarted gang's pods Running | %s | %d | |"
           % (fmt(p50(back)), len(back)),
           "| rank SIGKILLed -> all ranks training again (first new step logged) | %s | %d | <= 10 s |"
           % (fmt(p50(train)), len(train))]
    if a.sim:
        sec.append("| 256 ranks on %d simulated nodes: created -> Running | %s | 1 | |"
                   % (a.sim, fmt(big)))
    sec += ["", "Each kill restarts both ranks together (one epoch); \"training again\" includes "
            "Python and torch start-up, the gloo rendezvous and loading the checkpoint. No "
            "Kubeflow operator runs here to measure against: it restarts only the failed pod, "
            "and the surviving ranks wait in their collective until it rejoins or a timeout "
            "fails them.", END]
    text = "\n".join(sec)
    print(text)
    if a.doc:
        doc = open(a.doc).read()
        results = "<!-- results: written by scripts/run-bench.sh"
        if BEGIN in doc and END in doc:
            doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
        elif results in doc:  # above the part report.py rewrites
            i = doc.index(results)
            doc = doc[:i] + text + "\n\n" + doc[i:]
        else:
            doc = doc.rstrip("\n") + "\n\n" + text + "\n"
        open(a.doc, "w").write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
