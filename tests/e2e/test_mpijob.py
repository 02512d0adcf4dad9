"""MPIJob (kubeflow.org/v2beta1, issue 6): a real OpenMPI allreduce (Debian's
openmpi, compiled here with mpicc) across 2 workers of the `host` image on
the embedded agent; the launcher reaches the workers without sshd, through
Gantry's rsh agent; the hostfile; bad input with 422 field paths."""
import json
import os
import subprocess

import pytest

from conftest import VERSIONS, Agents, _ns_name, agent_server, agent_teardown, poll, pod_logs

HERE = os.path.dirname(os.path.abspath(__file__))
MPIJ = "/apis/kubeflow.org/v2beta1/namespaces/%s/mpijobs"


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "mpi-node")
    yield s
    agent_teardown(s)


@pytest.fixture
def ns(srv, request):
    return srv.make_ns(_ns_name(request.node.name))


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    """The allreduce program, built with mpicc into a directory the pods mount."""
    d = tmp_path_factory.mktemp("mpi")
    subprocess.run(["mpicc", "-O1", "-o", str(d / "allreduce"),
                    os.path.join(HERE, "manifests", "mpi_allreduce.c")], check=True)
    os.chmod(str(d), 0o755)
    return str(d)


def mpijob(name, launcher_cmd, prog_dir, workers=2, worker_cmd=("sleep", "3600"), **spec):
    vol = {"name": "prog", "hostPath": {"path": prog_dir, "type": "Directory"}}
    mount = {"name": "prog", "mountPath": "/mpi-test"}

    def tpl(cmd, env=()):
        c = {"name": "mpi", "image": "host", "env": list(env), "volumeMounts": [mount]}
        if cmd:
            c["command"] = list(cmd)
        return {"spec": {"terminationGracePeriodSeconds": 1, "volumes": [vol],
                         "containers": [c]}}
    root = [{"name": "OMPI_ALLOW_RUN_AS_ROOT", "value": "1"},
            {"name": "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "value": "1"}]
    body = {"apiVersion": "kubeflow.org/v2beta1", "kind": "MPIJob", "metadata": {"name": name},
            "spec": {"slotsPerWorker": 1,
                     "runPolicy": {"cleanPodPolicy": "Running", "backoffLimit": 0},
                     "mpiReplicaSpecs": {
                         "Launcher": {"replicas": 1, "template": tpl(launcher_cmd, root)},
                         "Worker": {"replicas": workers,
                                    "template": tpl(worker_cmd)}}}}
    body["spec"].update(spec)
    return body


def get(srv, ns, name):
    return srv.get((MPIJ % ns) + "/" + name)


def conds(j):
    return {c["type"] for c in j.get("status", {}).get("conditions", [])
            if c.get("status") == "True"}


def wait_cond(srv, ns, name, want, timeout=120):
    last = {}

    def check():
        last["j"] = get(srv, ns, name)
        return want in conds(last["j"])
    ok = poll(check, timeout)
    if not ok:
        for p in srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]:
            print(p["metadata"]["name"], json.dumps(p.get("status"))[:1500])
            print(srv.request("GET", "/api/v1/namespaces/%s/pods/%s/log" % (
                ns, p["metadata"]["name"])).body.decode()[-3000:])
    assert ok, json.dumps(last.get("j", {}).get("status"), indent=1)
    return last["j"]


def test_openmpi_allreduce_across_two_workers(srv, ns, prog):
    """mpirun in the launcher starts the ranks on both workers through the
    rsh agent (no sshd anywhere), the allreduce sums across them, the job
    Succeeds from the launcher's exit, and the running workers are cleaned."""
    # a pod of the same namespace that is not part of the job: rsh must refuse it
    srv.create("/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "outsider"},
        "spec": {"terminationGracePeriodSeconds": 1, "restartPolicy": "Never",
                 "containers": [{"name": "c", "image": "host", "command": ["sleep", "3600"]}]}})
    name = "allreduce"
    w1 = "%s-worker-1.%s.%s.svc" % (name, name, ns)
    script = ("cat /etc/mpi/hostfile; echo K_MPI_JOB_ROLE=$K_MPI_JOB_ROLE; "
              "echo rsh-agent=$OMPI_MCA_plm_rsh_agent; "
              "echo via-rsh=$(/run/gantry/rsh -o ConnectionAttempts=10 %s hostname); "
              "/run/gantry/rsh outsider true; echo outsider-rc=$?; "
              "exec mpirun -np 2 --mca btl tcp,self /mpi-test/allreduce" % w1)
    srv.create(MPIJ % ns, mpijob(name, ["sh", "-c", script], prog))
    j = wait_cond(srv, ns, name, "Succeeded", 180)
    assert "Failed" not in conds(j)
    assert j["status"]["replicaStatuses"]["Launcher"]["succeeded"] == 1
    log = pod_logs(srv, ns, name + "-launcher")
    lines = log.splitlines()
    # the hostfile mpi-operator writes for OpenMPI, mounted at /etc/mpi
    host = ["%s-worker-%d.%s.%s.svc slots=1" % (name, i, name, ns) for i in range(2)]
    assert lines[:2] == host, log
    cm = srv.get("/api/v1/namespaces/%s/configmaps/%s-config" % (ns, name))
    assert cm["data"]["hostfile"] == "\n".join(host) + "\n"
    assert cm["data"]["discover_hosts.sh"].startswith("#!/bin/sh\n")
    assert "K_MPI_JOB_ROLE=launcher" in lines
    assert "rsh-agent=/run/gantry/rsh" in lines
    # rsh ran `hostname` in worker 1; a pod outside the job is refused
    assert "via-rsh=%s-worker-1" % name in lines, log
    assert "outsider-rc=255" in lines, log
    assert "outsider is not part of this job" in log, log
    # the allreduce: 2 ranks, one on each worker, sum 1 + 2
    assert "allreduce size=2 sum=3" in lines, log
    ranks = {l.split()[1]: l.split()[3] for l in lines if l.startswith("rank ")}
    assert sorted(ranks.values()) == ["%s-worker-0" % name, "%s-worker-1" % name], log
    # what the job is made of
    svc = srv.get("/api/v1/namespaces/%s/services/%s" % (ns, name))
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"]["training.kubeflow.org/job-name"] == name
    pg = srv.get("/apis/scheduling.x-k8s.io/v1alpha1/namespaces/%s/podgroups/%s" % (ns, name))
    assert pg["spec"]["minMember"] == 3
    # cleanPodPolicy Running: the workers go once the launcher is done
    assert poll(lambda: not [p for p in srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]
                             if p["metadata"]["name"].startswith(name + "-worker")
                             and p["status"].get("phase") == "Running"
                             and not p["metadata"].get("deletionTimestamp")], 30)
    for v in VERSIONS:
        out = srv.kubectl(v, "get", "mpij", "-n", ns).stdout
        assert name in out and "Succeeded" in out, out
        r = srv.kubectl(v, "wait", "--for=condition=Succeeded", "mpijob/" + name, "-n", ns,
                        "--timeout=10s")
        assert r.returncode == 0, r.stderr


def test_workers_have_stable_dns_names_and_the_launcher_waits(srv, ns, prog):
    """WaitForWorkersReady: the launcher is created once both workers are
    Ready; workers carry hostname/subdomain and resolve by FQDN; the launcher
    gets mpi-operator's environment; the gang is the workers.  The workers
    have no command (mpi-operator would run sshd): they wait, and rsh works."""
    name = "waiter"
    w0 = "%s-worker-0.%s.%s.svc" % (name, name, ns)
    script = "getent hosts %s && /run/gantry/rsh %s echo rsh-ok && env | sort" % (w0, w0)
    srv.create(MPIJ % ns, mpijob(name, ["sh", "-c", script], prog, worker_cmd=None,
                                 launcherCreationPolicy="WaitForWorkersReady",
                                 mpiImplementation="OpenMPI", slotsPerWorker=2,
                                 runPolicy={"cleanPodPolicy": "None"}))
    j = wait_cond(srv, ns, name, "Succeeded", 120)
    pods = {p["metadata"]["name"]: p for p in srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]}
    for i in range(2):
        w = pods["%s-worker-%d" % (name, i)]
        assert w["spec"]["hostname"] == "%s-worker-%d" % (name, i)
        assert w["spec"]["subdomain"] == name
        assert w["metadata"]["labels"]["training.kubeflow.org/job-role"] == "worker"
        assert w["spec"]["containers"][0]["command"] == ["/run/gantry/gantry", "rsh", "--wait"]
        assert w["status"]["phase"] == "Running"
    la = pods[name + "-launcher"]
    # created after every worker was Ready
    ready = max(c["lastTransitionTime"] for i in range(2)
                for c in pods["%s-worker-%d" % (name, i)]["status"]["conditions"]
                if c["type"] == "Ready")
    assert la["metadata"]["creationTimestamp"] >= ready
    log = pod_logs(srv, ns, name + "-launcher")
    w0_ip = pods[name + "-worker-0"]["status"]["podIP"]
    assert log.split()[0] == w0_ip, log
    assert "rsh-ok" in log.splitlines(), log
    env = dict(l.split("=", 1) for l in log.splitlines() if "=" in l)
    want = {"OMPI_MCA_orte_keep_fqdn_hostnames": "true",
            "OMPI_MCA_orte_default_hostfile": "/etc/mpi/hostfile",
            "OMPI_MCA_plm_rsh_args": "-o ConnectionAttempts=10",
            "OMPI_MCA_orte_set_default_slots": "2",
            "OMPI_MCA_plm_rsh_agent": "/run/gantry/rsh",
            "K_MPI_JOB_ROLE": "launcher"}
    assert {k: env.get(k) for k in want} == want, log
    pg = srv.get("/apis/scheduling.x-k8s.io/v1alpha1/namespaces/%s/podgroups/%s" % (ns, name))
    assert pg["spec"]["minMember"] == 2
    assert j["spec"]["slotsPerWorker"] == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_kubeflow_example_applies_unchanged(srv, ns, version):
    """mpi-operator's pi example (image swapped) applies with kubectl; it is
    defaulted and made into its objects; a gang of 3 one-CPU pods bigger
    than this node stays Pending with the reason, holding nothing."""
    path = os.path.join(HERE, "manifests", "mpijob-pi.yaml")
    r = srv.kubectl(version, "apply", "-n", ns, "-f", path)
    assert r.returncode == 0 and "mpijob.kubeflow.org/pi created" in r.stdout, r.stderr
    j = get(srv, ns, "pi")
    assert j["spec"]["mpiImplementation"] == "OpenMPI"
    assert j["spec"]["launcherCreationPolicy"] == "AtStartup"
    assert j["spec"]["mpiReplicaSpecs"]["Launcher"]["restartPolicy"] == "OnFailure"
    assert j["spec"]["mpiReplicaSpecs"]["Worker"]["restartPolicy"] == "Never"
    assert poll(lambda: srv.exists("/api/v1/namespaces/%s/configmaps/pi-config" % ns), 30)
    cm = srv.get("/api/v1/namespaces/%s/configmaps/pi-config" % ns)
    assert cm["data"]["hostfile"] == ("pi-worker-0.pi.%s.svc slots=1\n"
                                      "pi-worker-1.pi.%s.svc slots=1\n" % (ns, ns))
    assert srv.get("/api/v1/namespaces/%s/services/pi" % ns)["spec"]["clusterIP"] == "None"
    cpus = int(srv.get("/api/v1/nodes/" + srv.node)["status"]["allocatable"]["cpu"])

    def pods():
        return {p["metadata"]["name"]: p for p in
                srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]}
    assert poll(lambda: len(pods()) == 3, 30), pods().keys()
    la = pods()["pi-launcher"]
    env = {e["name"]: e.get("value") for e in la["spec"]["containers"][0]["env"]}
    assert env["OMPI_MCA_orte_default_hostfile"] == "/etc/mpi/hostfile"
    assert la["spec"]["hostname"] == "pi-launcher" and la["spec"]["subdomain"] == "pi"
    if cpus < 3:
        def pending():
            return all(not p["spec"].get("nodeName") and any(
                "pod group" in c.get("message", "") for c in p["status"].get("conditions", []))
                for p in pods().values())
        assert poll(pending, 30), [p["status"] for p in pods().values()]
    else:
        assert poll(lambda: all(p["spec"].get("nodeName") for p in pods().values()), 30)
    out = srv.kubectl(version, "get", "mpijobs", "-n", ns).stdout
    assert out.split()[:7] == ["NAME", "STATE", "PROGRESS", "LOSS", "ETA", "RESTARTS", "AGE"], out
    assert srv.kubectl(version, "delete", "-n", ns, "-f", path).returncode == 0


@pytest.mark.parametrize("case,field", [
    ("no-launcher", "spec.mpiReplicaSpecs[Launcher]"),
    ("two-launchers", "spec.mpiReplicaSpecs[Launcher].replicas"),
    ("no-workers", "spec.mpiReplicaSpecs[Worker].replicas"),
    ("bad-type", "spec.mpiReplicaSpecs"),
    ("slots", "spec.slotsPerWorker"),
    ("impl", "spec.mpiImplementation"),
    ("policy", "spec.launcherCreationPolicy"),
    ("backoff", "spec.runPolicy.backoffLimit"),
    ("no-container", "spec.mpiReplicaSpecs[Worker].template.spec.containers"),
])
def test_bad_input_is_422_with_the_field(srv, ns, prog, case, field):
    body = mpijob("bad-" + case, ["true"], prog)
    specs, spec = body["spec"]["mpiReplicaSpecs"], body["spec"]
    if case == "no-launcher":
        del specs["Launcher"]
    elif case == "two-launchers":
        specs["Launcher"]["replicas"] = 2
    elif case == "no-workers":
        specs["Worker"]["replicas"] = 0
    elif case == "bad-type":
        specs["Chief"] = specs["Worker"]
    elif case == "slots":
        spec["slotsPerWorker"] = 0
    elif case == "impl":
        spec["mpiImplementation"] = "LAM"
    elif case == "policy":
        spec["launcherCreationPolicy"] = "Later"
    elif case == "backoff":
        spec["runPolicy"]["backoffLimit"] = -1
    elif case == "no-container":
        specs["Worker"]["template"]["spec"]["containers"] = []
    r = srv.request("POST", MPIJ % ns, body)
    assert r.status == 422, (case, r)
    causes = [c["field"] for c in r.json()["details"]["causes"]]
    assert field in causes, (field, r.json())
    assert not srv.exists((MPIJ % ns) + "/" + body["metadata"]["name"])


def test_workers_on_another_node_through_the_api_server(srv, ns, prog):
    """Launcher on the embedded agent's node, workers on a second agent: rsh
    reaches them through the API server's pods/exec and the allreduce runs
    across the two nodes."""
    agents = Agents(srv)
    try:
        agents.start("mpi-node-2")
        name = "remote"
        w1 = "%s-worker-1.%s.%s.svc" % (name, name, ns)
        script = ("echo via-rsh=$(/run/gantry/rsh %s hostname); "
                  "exec mpirun -np 2 --mca btl tcp,self /mpi-test/allreduce" % w1)
        body = mpijob(name, ["sh", "-c", script], prog)
        # the checkpoint volume is local-path (one node): none across nodes
        body["metadata"]["annotations"] = {"training.gantry.dev/checkpoint-claim": "none"}
        specs = body["spec"]["mpiReplicaSpecs"]
        for t, node in (("Launcher", srv.node), ("Worker", "mpi-node-2")):
            specs[t]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
        srv.create(MPIJ % ns, body)
        wait_cond(srv, ns, name, "Succeeded", 180)
        pods = {p["metadata"]["name"]: p for p in
                srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]}
        assert pods[name + "-launcher"]["spec"]["nodeName"] == srv.node
        log = pod_logs(srv, ns, name + "-launcher")
        lines = log.splitlines()
        assert "via-rsh=%s-worker-1" % name in lines, log
        assert "allreduce size=2 sum=3" in lines, log
        ranks = sorted(l.split()[3] for l in lines if l.startswith("rank "))
        assert ranks == ["%s-worker-0" % name, "%s-worker-1" % name], log
    finally:
        for p in srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]:
            srv.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (ns, p["metadata"]["name"]))
        left = agents.teardown()
        assert not left, "left behind: %r" % left


def test_rsh_runs_in_an_image_without_the_hosts_libraries(srv, ns, prog, tmp_path_factory):
    """Launcher and workers in a busybox image (no glibc, none of the host's
    libraries): /run/gantry/rsh is the static rsh agent, so the launcher
    still runs commands in the workers, which wait with `gantry rsh --wait`
    (the same static binary), and gets their exit codes."""
    from test_agent_images import REF, build_busybox, gantry_image
    path = str(tmp_path_factory.mktemp("img") / "busybox.tar")
    build_busybox(path)
    assert REF in gantry_image(srv, "import", path).stdout
    name = "bb"
    w1 = "%s-worker-1.%s.%s.svc" % (name, name, ns)
    script = ("echo via-rsh=$(/run/gantry/rsh -o ConnectionAttempts=10 %s 'echo in-$HOSTNAME'); "
              "/run/gantry/rsh %s-worker-0 exit 3; echo rc=$?" % (w1, name))
    body = mpijob(name, ["/bin/sh", "-c", script], prog, worker_cmd=())
    for t in ("Launcher", "Worker"):
        c = body["spec"]["mpiReplicaSpecs"][t]["template"]["spec"]["containers"][0]
        c.update({"image": REF, "imagePullPolicy": "Never", "volumeMounts": []})
        body["spec"]["mpiReplicaSpecs"][t]["template"]["spec"]["volumes"] = []
    body["metadata"]["annotations"] = {"training.gantry.dev/checkpoint-claim": "none"}
    srv.create(MPIJ % ns, body)
    wait_cond(srv, ns, name, "Succeeded", 120)
    log = pod_logs(srv, ns, name + "-launcher")
    lines = log.splitlines()
    assert "via-rsh=in-%s-worker-1" % name in lines, log
    assert "rc=3" in lines, log
    pods = {p["metadata"]["name"]: p for p in srv.get("/api/v1/namespaces/%s/pods" % ns)["items"]}
    w = pods.get(name + "-worker-0")
    if w:  # cleanPodPolicy Running may have removed it already
        assert w["spec"]["containers"][0]["command"] == ["/run/gantry/gantry", "rsh", "--wait"]
