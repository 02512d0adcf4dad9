"""Gantry's demo, driven through the Python Kubernetes client against a
running `gantry server` (scripts/demo.sh starts and stops it):

  a 2-rank PyTorch DDP job (demo/pytorchjob.yaml, demo/train.py) trains a
  character-level language model on a text file Debian ships; midway one
  rank is killed with SIGKILL; the gang restarts from the last checkpoint;
  the job succeeds.  Prints progress as it goes, then the loss curve, the
  restart, the time to recover and a sample of generated text.

Usage: demo.py KUBECONFIG   (exit status 0 when the job succeeded after a
restart that resumed from a checkpoint)
"""
import json
import os
import signal
import sys
import time

import yaml
from kubernetes import client, config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS, JOB = "default", "charlm"
GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "pytorchjobs"


def say(msg):
    print("[demo %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def rank_pid(rank):
    """The host pid of the rank's python process (its environment says RANK=n)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            if b"/app/train.py" not in cmd:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if b"RANK=%d" % rank in env and b"MASTER_ADDR=%s-master-0" % JOB.encode() in env:
            return int(pid)
    return None


def status(co):
    return co.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, JOB).get("status", {})


def true_conds(st):
    return [c["type"] for c in st.get("conditions", []) if c.get("status") == "True"]


def loss_curve(points, width=50, rows=10):
    """An ASCII chart of (step, loss)."""
    if not points:
        return ""
    lo, hi = min(l for _, l in points), max(l for _, l in points)
    smax = max(s for s, _ in points)
    grid = [[" "] * width for _ in range(rows)]
    for s, l in points:
        x = min(width - 1, int(s * (width - 1) / max(smax, 1)))
        y = 0 if hi == lo else int((l - lo) * (rows - 1) / (hi - lo))
        grid[rows - 1 - y][x] = "*"
    lines = []
    for i, row in enumerate(grid):
        v = hi - (hi - lo) * i / max(rows - 1, 1)
        lines.append("  %6.3f |%s" % (v, "".join(row)))
    lines.append("         +" + "-" * width)
    lines.append("          step 0%sstep %d" % (" " * (width - 14), smax))
    return "\n".join(lines)


def main():
    config.load_kube_config(sys.argv[1])
    core, co = client.CoreV1Api(), client.CustomObjectsApi()
    with open(os.path.join(ROOT, "demo", "train.py")) as f:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "demo-train"},
                                               "data": {"train.py": f.read()}})
    with open(os.path.join(ROOT, "demo", "pytorchjob.yaml")) as f:
        job = yaml.safe_load(f)
    t_submit = time.time()
    co.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, job)
    say("submitted PyTorchJob %s: 2 ranks (Master + Worker), gang-scheduled, checkpointing "
        "to its own volume" % JOB)
    killed_at, kill_step, t_running, last = None, None, None, None
    t_back, t_training, step_back, curve = None, None, None, {}
    deadline = time.time() + 600
    while time.time() < deadline:
        st = status(co)
        conds = true_conds(st)
        prog = st.get("progress", {})
        line = "state %-10s step %s/%s  loss %s  ETA %s  restarts %d" % (
            (conds or ["Pending"])[-1], prog.get("step", "-"), prog.get("totalSteps", "-"),
            prog.get("loss", "-"), prog.get("eta", "-"), st.get("restarts", 0))
        if line != last:
            say(line)
            last = line
        if "Running" in conds and t_running is None:
            t_running = time.time()
            say("all ranks running %.1f s after submission" % (t_running - t_submit))
        if "Succeeded" in conds or "Failed" in conds:
            break
        step, total = prog.get("step", 0), prog.get("totalSteps", 0)
        if prog.get("loss"):
            curve[step] = float(prog["loss"])
        if killed_at and t_back is None and st.get("restarts", 0) >= 1 and "Running" in conds:
            t_back, step_back = time.time(), step
        if t_back and t_training is None and step != step_back:
            t_training = time.time()
        if killed_at is None and total and step >= total * 0.4:
            pid = rank_pid(1)
            if pid:
                kill_step = step
                killed_at = time.time()
                os.kill(pid, signal.SIGKILL)
                say(">>> SIGKILL to rank 1 (pid %d) at step %d" % (pid, step))
        time.sleep(0.5)
    st = status(co)
    conds = true_conds(st)
    log = core.read_namespaced_pod_log("%s-master-0" % JOB, NS, container="pytorch")
    points, resumed, sample, final = [], None, None, None
    for l in log.splitlines():
        if l.startswith("GANTRY_PROGRESS "):
            r = json.loads(l[len("GANTRY_PROGRESS "):])
            points.append((r["step"], r["loss"]))
        elif l.startswith("resumed from step"):
            resumed = int(l.split()[3])
        elif l.startswith("SAMPLE "):
            sample = json.loads(l[len("SAMPLE "):])
        elif l.startswith("final loss"):
            final = l
    restart = [e.message for e in core.list_namespaced_event(
        NS, field_selector="involvedObject.name=%s" % JOB).items if e.reason.endswith("Restarting")]
    print()
    say("job %s: %s" % (JOB, ", ".join(conds)))
    if restart:
        say("restart: %s" % restart[0])
    if resumed is not None:
        say("resumed from the checkpoint at step %d (killed at step %s)" % (resumed, kill_step))
    if killed_at and t_back:
        say("time to recover: %.1f s from SIGKILL to all ranks running again%s" % (
            t_back - killed_at, "; %.1f s to the first new step reported" % (t_training - killed_at)
            if t_training else ""))
    for s_, l_ in points:
        curve.setdefault(s_, l_)
    print("\nloss curve (rank 0):")
    print(loss_curve(sorted(curve.items())))
    if final:
        say(final)
    if sample:
        print("\nsample of generated text:\n  " + sample.replace("\n", "\n  "))
    ok = "Succeeded" in conds and resumed is not None and resumed > 0
    print()
    say("demo %s" % ("OK: the job succeeded after a whole-gang restart that resumed from a "
                      "checkpoint" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
