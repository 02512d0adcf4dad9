"""The scheduler against simulated GPU nodes (`gantry agent --simulate`,
issue 4): hollow nodes register with capacity and report the pods bound to
them Running without containers.  Each test runs its own server and
simulators; pods are bare (no controller), so what binds them is the
scheduler and what runs them is the simulator."""
import json
import os
import signal
import subprocess
import threading

import pytest

from conftest import poll

PG = "/apis/scheduling.x-k8s.io/v1alpha1/namespaces/%s/podgroups"


class Sims:
    """`gantry agent --simulate` processes joined to a server."""

    def __init__(self, srv):
        self.srv, self.procs, self.logs = srv, [], []

    def start(self, n, *args, prefix="sim", first=0):
        log = os.path.join(self.srv.work, "sim-%s-%d.log" % (prefix, first))
        f = open(log, "ab")
        self.logs.append(log)
        self.procs.append(subprocess.Popen(
            [self.srv.bin, "agent", "--kubeconfig", self.srv.kubeconfig, "--simulate", str(n),
             "--sim-prefix", prefix, "--sim-first", str(first), *args],
            stdin=subprocess.DEVNULL, stdout=f, stderr=f))
        f.close()
        names = ["%s-%d" % (prefix, i) for i in range(first, first + n)]

        def ready():
            nodes = {n["metadata"]["name"]: n for n in self.srv.get("/api/v1/nodes")["items"]}
            return all(any(c["type"] == "Ready" and c["status"] == "True"
                           for c in nodes.get(name, {}).get("status", {}).get("conditions", []))
                       for name in names)
        assert poll(ready, 30), "simulated nodes %s not Ready:\n%s" % (names, self.tail())
        return names

    def tail(self):
        out = []
        for log in self.logs:
            with open(log, errors="replace") as f:
                out.append(log + ":\n" + "".join(f.readlines()[-20:]))
        return "\n".join(out)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                assert p.wait(10) == 0, "simulator exited %s:\n%s" % (p.returncode, self.tail())
            except subprocess.TimeoutExpired:
                p.kill()
                raise AssertionError("simulator did not stop on SIGTERM")


@pytest.fixture
def sim(new_server):
    srv = new_server()
    s = Sims(srv)
    s.srv = srv
    yield s
    s.stop()


def gpu_pod(name, gpus, labels=None, **spec):
    s = {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                         "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}}, "spec": s}


def pod(srv, ns, name):
    return srv.get("/api/v1/namespaces/%s/pods/%s" % (ns, name))


def running(srv, ns, name, timeout=30):
    def ok():
        p = pod(srv, ns, name)
        st = p.get("status", {})
        return p if st.get("phase") == "Running" and st.get("podIP") and any(
            c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions", [])) \
            else None
    p = poll(ok, timeout)
    assert p, "pod %s/%s not Running and Ready: %s" % (ns, name, pod(srv, ns, name))
    return p


def unsched_message(srv, ns, name, want=None, timeout=30):
    def msg():
        for c in pod(srv, ns, name).get("status", {}).get("conditions", []):
            if c["type"] == "PodScheduled" and c["status"] == "False" and \
                    (want is None or want in c["message"]):
                return c["message"]
        return None
    m = poll(msg, timeout)
    assert m, "pod %s/%s: no PodScheduled=False%s: %s" % (
        ns, name, " with %r" % want if want else "", pod(srv, ns, name).get("status"))
    return m


def gang(srv, ns, name, min_member, n, gpus, prio=None, **pg_spec):
    spec = {"minMember": min_member}
    spec.update(pg_spec)
    srv.create(PG % ns, {"apiVersion": "scheduling.x-k8s.io/v1alpha1", "kind": "PodGroup",
                         "metadata": {"name": name}, "spec": spec})
    for i in range(n):
        extra = {"priorityClassName": prio} if prio else {}
        srv.create("/api/v1/namespaces/%s/pods" % ns,
                   gpu_pod("%s-%d" % (name, i), gpus,
                           labels={"scheduling.x-k8s.io/pod-group": name, "gang": name}, **extra))
    return ["%s-%d" % (name, i) for i in range(n)]


def json_stream(text):
    """The JSON objects of kubectl's --watch -o json output, one after another."""
    dec, i, out = json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


def node_of(srv, ns, name):
    return pod(srv, ns, name)["spec"].get("nodeName")


def test_hollow_nodes_run_pods_and_gpu_pod_that_cannot_fit(sim):
    """Hollow GPU nodes register Ready with nvidia.com/gpu capacity (both
    kubectls see them); a GPU pod that fits is bound and reported Running
    and Ready with a pod IP; one asking for more GPUs than any node has
    stays Pending with the scheduler's reason; deleting a pod completes."""
    srv = sim.srv
    names = sim.start(2, "--sim-gpus", "4", "--sim-cpu", "16")
    for v in ("1.33", "1.20"):
        out = srv.kubectl(v, "get", "nodes").stdout
        assert all(n in out for n in names) and out.count(" Ready ") >= 2, out
    n = srv.get("/api/v1/nodes/" + names[0])
    assert n["status"]["allocatable"]["nvidia.com/gpu"] == "4", n["status"]
    assert n["status"]["capacity"]["cpu"] == "16", n["status"]
    ns = srv.make_ns("sim-fit")
    srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("fits", 3))
    p = running(srv, ns, "fits")
    assert p["spec"]["nodeName"] in names and p["status"]["containerStatuses"][0]["ready"], p
    assert p["status"]["startTime"] and p["status"]["podIP"].startswith("100."), p["status"]
    srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("huge", 8))
    msg = unsched_message(srv, ns, "huge")
    assert msg == "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.", msg
    assert pod(srv, ns, "huge")["status"]["phase"] == "Pending"
    for v in ("1.33", "1.20"):
        out = srv.kubectl(v, "describe", "pod", "huge", "-n", ns).stdout
        assert "FailedScheduling" in out and "Insufficient nvidia.com/gpu" in out, out
    # graceful deletion ends without a kubelet: the simulator finishes it
    r = srv.request("DELETE", "/api/v1/namespaces/%s/pods/fits" % ns)
    assert r.status == 200, r
    assert srv.wait_gone("/api/v1/namespaces/%s/pods/fits" % ns, 30)


def test_gang_binds_nothing_then_everything_when_nodes_come(sim):
    """A PodGroup of 3 pods of 4 GPUs on two 4-GPU hollow nodes: nothing is
    bound; a second simulator adds a third node: all three bind and run."""
    srv = sim.srv
    sim.start(2, "--sim-gpus", "4")
    ns = srv.make_ns("sim-gang")
    members = gang(srv, ns, "train", 3, 3, 4)
    msg = unsched_message(srv, ns, "train-0", "none is bound")
    assert msg.startswith('pod group "train": only 2 of 3 pods fit at once; none is bound.'), msg
    assert not any(node_of(srv, ns, m) for m in members)
    assert srv.get(PG % ns + "/train")["status"]["phase"] == "Pending"
    sim.start(1, "--sim-gpus", "4", first=2)
    for m in members:
        running(srv, ns, m)
    assert sorted(node_of(srv, ns, m) for m in members) == ["sim-0", "sim-1", "sim-2"]
    pg = srv.get(PG % ns + "/train")
    assert pg["status"]["phase"] == "Scheduled" and pg["status"]["scheduled"] == 3, pg


def test_high_priority_gang_preempts_whole_low_gang(sim):
    """Three 4-GPU nodes full with a low-priority gang of 3; a high-priority
    gang of 2 needs two nodes: the whole low gang is evicted (its third
    member too: never half a gang), each victim with DisruptionTarget
    (PreemptionByScheduler) and a Preempted event, the preemptors get
    status.nominatedNodeName, and the high gang binds and runs."""
    srv = sim.srv
    sim.start(3, "--sim-gpus", "4")
    for name, value in (("low", 100), ("high", 1000)):
        srv.create("/apis/scheduling.k8s.io/v1/priorityclasses", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value})
    ns = srv.make_ns("sim-preempt")
    low = gang(srv, ns, "low", 3, 3, 4, prio="low")
    for m in low:
        running(srv, ns, m)
    low_uids = {m: pod(srv, ns, m)["metadata"]["uid"] for m in low}
    # watch the victims go (kubectl 1.33): their last states carry the condition
    w = srv.kubectl_popen("1.33", "get", "pods", "-n", ns, "-l", "gang=low", "--watch",
                          "-o", "json", "--output-watch-events")
    got = []
    reader = threading.Thread(target=lambda: got.extend(iter(w.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        assert poll(lambda: "".join(got).count('"ADDED"') >= 3, 30), "".join(got)
        high = gang(srv, ns, "high", 2, 2, 4, prio="high")
        for m in high:
            running(srv, ns, m, 60)
        for m in low:
            assert srv.wait_gone("/api/v1/namespaces/%s/pods/%s" % (ns, m), 30), m
        assert poll(lambda: "".join(got).count('"DELETED"') >= 3, 30), "".join(got)[-3000:]
    finally:
        w.terminate()
        w.wait(10)
        reader.join(10)
    marked = set()
    for ev in json_stream("".join(got)):
        o = ev["object"]
        for c in o.get("status", {}).get("conditions", []):
            if c["type"] == "DisruptionTarget" and c["reason"] == "PreemptionByScheduler":
                marked.add(o["metadata"]["name"])
    assert marked == set(low), marked
    evs = srv.get("/api/v1/namespaces/%s/events" % ns)["items"]
    preempted = {e["involvedObject"]["name"] for e in evs if e["reason"] == "Preempted"}
    assert preempted == set(low), [(e["reason"], e["involvedObject"]["name"]) for e in evs]
    uids = {e["involvedObject"]["uid"] for e in evs if e["reason"] == "Preempted"}
    assert uids == set(low_uids.values())
    assert len({node_of(srv, ns, m) for m in high}) == 2
    # the members that needed the room were nominated to a node first
    nominated = [pod(srv, ns, m)["status"].get("nominatedNodeName") for m in high]
    assert any(n in ("sim-0", "sim-1", "sim-2") for n in nominated), nominated
    out = srv.kubectl("1.20", "get", "events", "-n", ns).stdout
    assert "Preempted" in out, out


def test_preemption_policy_never_waits(sim):
    """A high-priority pod with preemptionPolicy Never does not evict a
    lower one: it stays Pending with the resource reason; one of the same
    priority that may preempt evicts it (a Preempted event naming the
    preemptor), is nominated to the node and runs there."""
    srv = sim.srv
    sim.start(1, "--sim-gpus", "4")
    srv.create("/apis/scheduling.k8s.io/v1/priorityclasses", {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": "polite"}, "value": 1000, "preemptionPolicy": "Never"})
    ns = srv.make_ns("sim-never")
    srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("low", 4))
    running(srv, ns, "low")
    srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("polite", 4, priorityClassName="polite"))
    msg = unsched_message(srv, ns, "polite")
    assert msg == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.", msg
    assert pod(srv, ns, "polite")["spec"]["preemptionPolicy"] == "Never"
    assert running(srv, ns, "low")["metadata"].get("deletionTimestamp") is None
    # the same priority that may preempt: low goes, the new pod runs there
    srv.request("DELETE", "/api/v1/namespaces/%s/pods/polite" % ns, {"gracePeriodSeconds": 0})
    srv.create("/apis/scheduling.k8s.io/v1/priorityclasses", {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": "urgent"}, "value": 1000})
    srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("urgent", 4, priorityClassName="urgent"))
    assert srv.wait_gone("/api/v1/namespaces/%s/pods/low" % ns, 30)
    p = running(srv, ns, "urgent")
    assert p["spec"]["nodeName"] == "sim-0" and p["status"]["nominatedNodeName"] == "sim-0", p
    evs = srv.get("/api/v1/namespaces/%s/events" % ns)["items"]
    assert [e["message"] for e in evs if e["reason"] == "Preempted"] == [
        "Preempted by pod %s on node sim-0" % p["metadata"]["uid"]], evs


def test_topology_spread_across_zones(sim):
    """Four hollow nodes in two zones (node labels from --sim-zones): six
    pods with maxSkew 1 on topology.kubernetes.io/zone land three per zone;
    pods that may only use zone-0 (nodeSelector) go there until the skew
    would be 2, then are refused (DoNotSchedule); other pods are not
    limited."""
    srv = sim.srv
    sim.start(4, "--sim-zones", "2")
    for v in ("1.33", "1.20"):
        out = srv.kubectl(v, "get", "nodes", "-L", "topology.kubernetes.io/zone").stdout
        assert out.count("zone-0") == 2 and out.count("zone-1") == 2, out
    ns = srv.make_ns("sim-spread")
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
               "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]
    for i in range(6):
        srv.create("/api/v1/namespaces/%s/pods" % ns,
                   gpu_pod("web-%d" % i, 0, labels={"app": "web"},
                           topologySpreadConstraints=spread))
    zone = {n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"]
            for n in srv.get("/api/v1/nodes")["items"]}
    for i in range(6):
        running(srv, ns, "web-%d" % i)
    per_zone = {}
    for i in range(6):
        z = zone[node_of(srv, ns, "web-%d" % i)]
        per_zone[z] = per_zone.get(z, 0) + 1
    assert per_zone == {"zone-0": 3, "zone-1": 3}, per_zone
    # pods that may only use zone-0, with nodeAffinityPolicy Ignore so zone-1
    # still counts: the first makes it 4 to 3, the second would make the skew 2
    pinned = [dict(spread[0], nodeAffinityPolicy="Ignore")]
    for name in ("pinned-1", "pinned-2"):
        srv.create("/api/v1/namespaces/%s/pods" % ns,
                   gpu_pod(name, 0, labels={"app": "web"}, topologySpreadConstraints=pinned,
                           nodeSelector={"topology.kubernetes.io/zone": "zone-0"}))
        if name == "pinned-1":
            assert zone[running(srv, ns, name)["spec"]["nodeName"]] == "zone-0"
    msg = unsched_message(srv, ns, "pinned-2")
    assert msg == ("0/4 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, "
                   "2 node(s) didn't match pod topology spread constraints."), msg
    # a pod outside the selector is not limited
    srv.create("/api/v1/namespaces/%s/pods" % ns,
               gpu_pod("other", 0, labels={"app": "other"},
                       nodeSelector={"topology.kubernetes.io/zone": "zone-0"}))
    running(srv, ns, "other")


def test_gang_schedule_timeout_backs_off(sim):
    """scheduleTimeoutSeconds: a gang that cannot complete within it is
    backed off, holds nothing, and its PodGroup says so; once room comes
    (after the back-off) it binds whole."""
    srv = sim.srv
    sim.start(1, "--sim-gpus", "4")
    ns = srv.make_ns("sim-timeout")
    members = gang(srv, ns, "slow", 2, 2, 4, scheduleTimeoutSeconds=2)

    def timed_out():
        st = srv.get(PG % ns + "/slow").get("status", {})
        return st if any(c["type"] == "ScheduleTimeout" and c["status"] == "True"
                         for c in st.get("conditions", [])) else None
    st = poll(timed_out, 30)
    assert st and st["phase"] == "Pending" and st.get("scheduleStartTime"), st
    unsched_message(srv, ns, "slow-0", "backing off")
    assert not any(node_of(srv, ns, m) for m in members)
    sim.start(1, "--sim-gpus", "4", first=1)
    for m in members:
        running(srv, ns, m, 60)
    st = srv.get(PG % ns + "/slow")["status"]
    assert st["phase"] == "Scheduled" and "conditions" not in st, st


def test_bad_spread_constraints_refused(sim):
    """Bad topologySpreadConstraints are refused with 422 and the field path
    (as Kubernetes words it); nothing is created."""
    srv = sim.srv
    ns = srv.make_ns("sim-bad-spread")
    bad = [{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
           {"maxSkew": 1, "topologyKey": "", "whenUnsatisfiable": "Sometimes"},
           {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
            "minDomains": 2, "nodeTaintsPolicy": "Maybe"},
           {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]
    r = srv.request("POST", "/api/v1/namespaces/%s/pods" % ns,
                    gpu_pod("bad", 0, topologySpreadConstraints=bad))
    assert r.status == 422, r
    causes = {(c["field"], c["reason"]) for c in r.json()["details"]["causes"]}
    base = "spec.topologySpreadConstraints"
    assert causes == {
        (base + "[0].maxSkew", "FieldValueInvalid"),
        (base + "[1].topologyKey", "FieldValueRequired"),
        (base + "[1].whenUnsatisfiable", "FieldValueNotSupported"),
        (base + "[2].minDomains", "FieldValueInvalid"),
        (base + "[2].nodeTaintsPolicy", "FieldValueNotSupported"),
        (base + "[3].{topologyKey, whenUnsatisfiable}", "FieldValueDuplicate"),
    }, causes
    assert "can only use minDomains if whenUnsatisfiable=DoNotSchedule" in r.json()["message"]
    assert srv.request("GET", "/api/v1/namespaces/%s/pods/bad" % ns).status == 404


@pytest.mark.parametrize("policy", [None, "gpu=LeastAllocated"])
def test_gpu_scoring_policy(new_server, policy):
    """GPUs are bin-packed by default (the second 1-GPU pod joins the
    first's node) and spread with --scheduler-policy gpu=LeastAllocated."""
    srv = new_server(*(("--scheduler-policy", policy) if policy else ()))
    sims = Sims(srv)
    try:
        sims.start(2, "--sim-gpus", "4")
        ns = srv.make_ns("sim-policy")
        srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("one", 1))
        first = running(srv, ns, "one")["spec"]["nodeName"]
        srv.create("/api/v1/namespaces/%s/pods" % ns, gpu_pod("two", 1))
        second = running(srv, ns, "two")["spec"]["nodeName"]
        assert (second != first) == bool(policy), (policy, first, second)
    finally:
        sims.stop()


def test_bad_scheduler_policy_refused(new_server):
    """A bad --scheduler-policy stops the server at start, naming the item."""
    srv = new_server("--scheduler-policy", "gpu=Sideways", start=False)
    p = subprocess.run([srv.bin, "server", "--data-dir", srv.data_dir, "--port", "0",
                        "--scheduler-policy", "gpu=Sideways"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2, p
    assert "--scheduler-policy: scheduler policy: gpu: MostAllocated or LeastAllocated, " \
        "not \"Sideways\"" in p.stderr, p.stderr
