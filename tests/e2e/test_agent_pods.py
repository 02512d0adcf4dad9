"""Node agent end to end: pods of the `host` image run as real runc
containers (issue 3).  One server with the embedded agent for the module
(node agent-pods); teardown deletes the pods, stops it, runs `gantry node
reset` and checks that nothing leaked.

Covers: the host image, env sources, exit codes and crash-loop back-off,
`kubectl logs --previous`, OOMKilled, a command that does not exist,
securityContext, graceful termination, `kubectl logs -f/--tail/--timestamps`.
"""
import ipaddress
import re
import time

import pytest

from conftest import (LineReader, _ns_name, agent_server, agent_teardown, cstatus, create_pod,
                      get_pod, hctr, phase_is, pod_body, pod_dump, pod_logs, poll, runc_list,
                      wait_pod)

K = "1.33"


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-pods")
    yield s
    agent_teardown(s)


@pytest.fixture
def ns(srv, request):
    return srv.make_ns(_ns_name(request.node.name))


def terminated(pod, name, init=False):
    return cstatus(pod, name, init).get("state", {}).get("terminated")


def run_to_end(srv, ns, body, timeout=30):
    create_pod(srv, ns, body)
    return wait_pod(srv, ns, body["metadata"]["name"], phase_is("Succeeded", "Failed"), timeout,
                    "terminal phase")


def test_host_image_python(srv, ns):
    pod = run_to_end(srv, ns, pod_body("calc", srv.node, [{
        "name": "py", "image": "host",
        "command": ["python3", "-c", "print('sum=%d' % sum(i * i for i in range(1, 11)))"]}]))
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "calc")
    t = terminated(pod, "py")
    assert t and t["exitCode"] == 0 and t["reason"] == "Completed", pod_dump(srv, ns, "calc")
    assert t.get("startedAt") and t.get("finishedAt")
    assert cstatus(pod, "py")["restartCount"] == 0
    assert cstatus(pod, "py")["image"] == "host"
    assert cstatus(pod, "py")["containerID"].startswith("runc://")
    out = srv.kubectl(K, "logs", "-n", ns, "calc").stdout
    assert out.strip() == "sum=385", out
    ip = pod["status"]["podIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(srv.subnet), ip
    assert pod["status"]["podIPs"] == [{"ip": ip}]
    assert pod["status"].get("hostIP") and pod["status"].get("startTime")
    conds = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conds.get("PodScheduled") == "True" and conds.get("Initialized") == "True", conds
    wide = srv.kubectl(K, "get", "pod", "calc", "-n", ns, "-o", "wide").stdout
    row = wide.splitlines()[1].split()
    assert row[0] == "calc" and "Completed" in row and ip in row and srv.node in row, wide


def test_env_sources(srv, ns):
    srv.create("/api/v1/namespaces/%s/configmaps" % ns, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
        "data": {"color": "blue", "size": "xl", "mode": "fast"}})
    srv.create("/api/v1/namespaces/%s/secrets" % ns, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
        "stringData": {"password": "s3cr3t-pw"}})
    env = [
        {"name": "PLAIN", "value": "hello world"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {
            "containerName": "env", "resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
        {"name": "GREETING", "value": "$(PLAIN) from $(POD_NAME)"},
        {"name": "ESCAPED", "value": "$$(PLAIN)"},
        {"name": "UNKNOWN", "value": "x$(NOT_DEFINED)y"},
    ]
    pod = run_to_end(srv, ns, pod_body("envpod", srv.node, [hctr(
        "env", "env", env=env, envFrom=[{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}],
        resources={"limits": {"memory": "64Mi"}})]))
    assert pod["status"]["phase"] == "Succeeded", pod_dump(srv, ns, "envpod")
    out = pod_logs(srv, ns, "envpod")
    got = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    want = {
        "PLAIN": "hello world", "POD_NAME": "envpod", "POD_NS": ns,
        "POD_IP": pod["status"]["podIP"], "NODE": srv.node, "MEM_MI": "64", "COLOR": "blue",
        "PASSWORD": "s3cr3t-pw", "GREETING": "hello world from envpod", "ESCAPED": "$(PLAIN)",
        "UNKNOWN": "x$(NOT_DEFINED)y", "CFG_color": "blue", "CFG_size": "xl", "CFG_mode": "fast",
    }
    bad = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
    assert not bad, "env mismatches (want, got): %s\nfull env:\n%s" % (bad, out)
    assert got.get("HOSTNAME") == "envpod", out
    assert "PATH" in got, out


def test_exit_code_never_fails(srv, ns):
    pod = run_to_end(srv, ns, pod_body("exit3", srv.node, [hctr("c", "echo bye; exit 3")]))
    assert pod["status"]["phase"] == "Failed", pod_dump(srv, ns, "exit3")
    t = terminated(pod, "c")
    assert t and t["exitCode"] == 3 and t["reason"] == "Error", pod_dump(srv, ns, "exit3")
    assert cstatus(pod, "c")["restartCount"] == 0
    assert pod_logs(srv, ns, "exit3").strip() == "bye"


def test_crash_loop_back_off(srv, ns):
    create_pod(srv, ns, pod_body("loop", srv.node, [hctr("c", "echo crashing; exit 3")],
                                 restart="Always"))
    seen = set()

    def looped(p):
        s = cstatus(p, "c")
        w = s.get("state", {}).get("waiting")
        if w:
            seen.add(w.get("reason"))
        return s.get("restartCount", 0) >= 2 and "CrashLoopBackOff" in seen
    pod = wait_pod(srv, ns, "loop", looped, 30, "restartCount>=2 with CrashLoopBackOff")
    s = cstatus(pod, "c")
    last = s.get("lastState", {}).get("terminated")
    assert last and last["exitCode"] == 3 and last["reason"] == "Error", pod_dump(srv, ns, "loop")
    assert pod["status"]["phase"] == "Running", pod_dump(srv, ns, "loop")
    out = srv.kubectl(K, "get", "pod", "loop", "-n", ns, "--no-headers").stdout.split()
    assert out[0] == "loop" and int(out[3]) >= 2, out
    assert_backs_off(srv, ns, "loop")


def assert_backs_off(srv, ns, name, window=3.0, most=5):
    """Back-off 300 ms doubling to 1 s: at most a few restarts in WINDOW s
    (about 3; an agent without back-off manages 10-30)."""
    n0 = cstatus(get_pod(srv, ns, name), "c")["restartCount"]
    time.sleep(window)
    n1 = cstatus(get_pod(srv, ns, name), "c")["restartCount"]
    assert n1 - n0 <= most, "%d restarts in %.0fs: no crash-loop back-off\n%s" % (
        n1 - n0, window, pod_dump(srv, ns, name))


def test_logs_previous(srv, ns):
    # attempts 1 and 2 fail; attempt 3 stays up.  The counter lives in an emptyDir.
    script = ("n=$(cat /mnt/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /mnt/n; "
              "echo attempt $n; [ $n -ge 3 ] || exit 3; exec sleep 600")
    create_pod(srv, ns, pod_body("prev", srv.node, [hctr(
        "c", script, volumeMounts=[{"name": "d", "mountPath": "/mnt"}])], restart="Always",
        volumes=[{"name": "d", "emptyDir": {}}], terminationGracePeriodSeconds=1))
    pod = wait_pod(srv, ns, "prev", lambda p: cstatus(p, "c").get("restartCount") == 2 and
                   "running" in cstatus(p, "c").get("state", {}), 30, "running after 2 restarts")
    last = cstatus(pod, "c")["lastState"].get("terminated")
    assert last and last["exitCode"] == 3, pod_dump(srv, ns, "prev")
    cur = srv.kubectl(K, "logs", "-n", ns, "prev").stdout
    prev = srv.kubectl(K, "logs", "-n", ns, "prev", "--previous").stdout
    assert cur.strip() == "attempt 3", cur
    assert prev.strip() == "attempt 2", prev
    # a pod that never restarted has no previous container
    run_to_end(srv, ns, pod_body("once", srv.node, [hctr("c", "echo once")]))
    p = srv.kubectl(K, "logs", "-n", ns, "once", "--previous", check=False)
    assert p.returncode != 0 and "previous terminated container" in p.stderr, p.stderr


def test_oom_killed(srv, ns):
    pod = run_to_end(srv, ns, pod_body("oom", srv.node, [{
        "name": "hog", "image": "host",
        "command": ["python3", "-c", "import time; b = b'x' * (200 << 20); print(len(b)); "
                                     "time.sleep(1)"],
        "resources": {"limits": {"memory": "50Mi"}}}]), timeout=40)
    assert pod["status"]["phase"] == "Failed", pod_dump(srv, ns, "oom")
    t = terminated(pod, "hog")
    assert t and t["reason"] == "OOMKilled" and t["exitCode"] == 137, pod_dump(srv, ns, "oom")


def test_missing_command(srv, ns):
    create_pod(srv, ns, pod_body("nocmd", srv.node, [{
        "name": "c", "image": "host", "command": ["/no/such/binary-xyz"]}]))

    def reported(p):
        st = cstatus(p, "c").get("state", {})
        s = st.get("terminated") or st.get("waiting") or {}
        return s.get("reason") not in (None, "ContainerCreating") and s
    pod = wait_pod(srv, ns, "nocmd", reported, 30, "a failure reason")
    st = cstatus(pod, "c")["state"]
    s = st.get("terminated") or st.get("waiting")
    assert s["reason"] in ("ContainerCannotRun", "StartError", "RunContainerError",
                           "CreateContainerError"), pod_dump(srv, ns, "nocmd")
    assert "binary-xyz" in s.get("message", ""), pod_dump(srv, ns, "nocmd")
    if "terminated" in st:
        assert st["terminated"]["exitCode"] != 0
        wait_pod(srv, ns, "nocmd", phase_is("Failed"), 10, "phase Failed")
    # restartPolicy Always: retried with back-off, the reason stays visible
    create_pod(srv, ns, pod_body("nocmd-loop", srv.node, [{
        "name": "c", "image": "host", "command": ["/no/such/binary-xyz"]}], restart="Always"))
    wait_pod(srv, ns, "nocmd-loop", lambda p: cstatus(p, "c").get("restartCount", 0) >= 1,
             20, "a restart")
    assert_backs_off(srv, ns, "nocmd-loop")


def test_security_context(srv, ns):
    checks = ("id -u; id -g; touch /tmp/w && echo tmp-writable; "
              "touch /rootfile 2>/dev/null && echo root-writable || echo root-readonly; "
              "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status")
    create_pod(srv, ns, pod_body("user", srv.node, [hctr("c", checks, securityContext={
        "runAsUser": 1000, "runAsGroup": 3000})]))
    create_pod(srv, ns, pod_body("locked", srv.node, [hctr("c", checks, securityContext={
        "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]}})]))
    create_pod(srv, ns, pod_body("caps", srv.node, [hctr("c", checks, securityContext={
        "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}})]))
    create_pod(srv, ns, pod_body("nonroot", srv.node, [hctr("c", "id -u")],
                                 securityContext={"runAsNonRoot": True}))
    for name in ("user", "locked", "caps"):
        p = wait_pod(srv, ns, name, phase_is("Succeeded", "Failed"), 30, "terminal phase")
        assert p["status"]["phase"] == "Succeeded", pod_dump(srv, ns, name)
    user = pod_logs(srv, ns, "user").split()
    assert user[:2] == ["1000", "3000"] and "tmp-writable" in user, user
    assert "root-readonly" in user, user
    locked = pod_logs(srv, ns, "locked")
    assert re.search(r"^CapEff:\s+0000000000000000$", locked, re.M), locked
    assert re.search(r"^NoNewPrivs:\s+1$", locked, re.M), locked
    assert "tmp-writable" in locked and "root-readonly" in locked, locked
    assert locked.split()[0] == "0", locked
    caps = pod_logs(srv, ns, "caps")
    m = re.search(r"^CapEff:\s+([0-9a-f]+)$", caps, re.M)
    assert m and int(m.group(1), 16) == 1 << 12, caps   # CAP_NET_ADMIN only
    assert re.search(r"^NoNewPrivs:\s+0$", caps, re.M), caps

    def refused(p):
        w = cstatus(p, "c").get("state", {}).get("waiting") or {}
        return w.get("reason") not in (None, "ContainerCreating")
    p = wait_pod(srv, ns, "nonroot", refused, 20, "a refusal")
    w = cstatus(p, "c")["state"]["waiting"]
    assert w["reason"] == "CreateContainerConfigError", pod_dump(srv, ns, "nonroot")
    assert "runAsNonRoot" in w.get("message", ""), pod_dump(srv, ns, "nonroot")
    assert p["status"]["phase"] == "Pending"
    # it must never have run
    time.sleep(0.5)
    s = cstatus(get_pod(srv, ns, "nonroot"), "c")
    assert "waiting" in s["state"] and s["restartCount"] == 0 and not s.get("containerID"), s


def test_fs_group_seccomp_privileged(srv, ns):
    create_pod(srv, ns, pod_body("fsgroup", srv.node, [hctr(
        "c", "stat -c %g /mnt; id -G; touch /mnt/f && stat -c %g /mnt/f; "
             "grep -E '^Seccomp:' /proc/self/status",
        volumeMounts=[{"name": "v", "mountPath": "/mnt"}],
        securityContext={"seccompProfile": {"type": "RuntimeDefault"}})],
        volumes=[{"name": "v", "emptyDir": {}}],
        securityContext={"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000}))
    create_pod(srv, ns, pod_body("priv", srv.node, [hctr(
        "c", "grep -E '^Cap(Eff|Bnd):' /proc/self/status", securityContext={"privileged": True})]))
    for name in ("fsgroup", "priv"):
        p = wait_pod(srv, ns, name, phase_is("Succeeded", "Failed"), 30, "terminal phase")
        assert p["status"]["phase"] == "Succeeded", pod_dump(srv, ns, name)
    out = pod_logs(srv, ns, "fsgroup").splitlines()
    assert out[0] == "2000" and "2000" in out[1].split() and out[2] == "2000", out
    assert re.match(r"^Seccomp:\s+2$", out[3]), out
    caps = dict(l.split(":", 1) for l in pod_logs(srv, ns, "priv").splitlines())
    eff = int(caps["CapEff"], 16)
    assert eff == int(caps["CapBnd"], 16) and eff & (1 << 21), caps   # CAP_SYS_ADMIN


def _delete(srv, ns, name, grace=None):
    body = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if grace is not None:
        body["gracePeriodSeconds"] = grace
    r = srv.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (ns, name), body)
    assert r.status in (200, 202), r


def _running(p):
    return "running" in cstatus(p, "c").get("state", {})


def test_graceful_termination(srv, ns):
    polite = hctr("c", "trap 'echo got TERM; exit 0' TERM; echo started; "
                       "while true; do sleep 0.1; done")
    stubborn = hctr("c", "trap '' TERM; echo started; while true; do sleep 0.1; done")
    create_pod(srv, ns, pod_body("polite", srv.node, [polite]))
    create_pod(srv, ns, pod_body("stubborn", srv.node, [stubborn],
                                 terminationGracePeriodSeconds=2))
    for name in ("polite", "stubborn"):
        wait_pod(srv, ns, name, _running, 30, "running")
        assert poll(lambda: "started" in pod_logs(srv, ns, name), 10), pod_dump(srv, ns, name)
    follow = srv.kubectl_popen(K, "logs", "-f", "-n", ns, "polite")
    reader = LineReader(follow)
    try:
        assert reader.wait_for(lambda l: l == "started", 10), reader.text()
        t0 = time.time()
        _delete(srv, ns, "polite")          # default grace: 30 s
        assert srv.wait_gone("/api/v1/namespaces/%s/pods/polite" % ns, 25), \
            pod_dump(srv, ns, "polite")
        took = time.time() - t0
        assert took < 10, "polite pod took %.1fs to go" % took
        assert reader.wait_for(lambda l: l == "got TERM", 5), \
            "the TERM trap's output never reached kubectl logs -f: %r" % reader.text()
        follow.wait(10)
    finally:
        if follow.poll() is None:
            follow.kill()
        follow.wait(5)
    t0 = time.time()
    _delete(srv, ns, "stubborn")
    assert srv.wait_gone("/api/v1/namespaces/%s/pods/stubborn" % ns, 15), \
        pod_dump(srv, ns, "stubborn")
    took = time.time() - t0
    assert 1.5 <= took <= 6, "pod ignoring TERM with grace 2s went after %.1fs" % took


def test_force_delete_ends_the_grace_period(srv, ns):
    """A pod ignoring SIGTERM, deleted with a long grace period, then deleted
    again with --force --grace-period=0 (as kubectl users do with a stuck
    pod): its container is killed at once, not when the first grace ends."""
    stubborn = hctr("c", "trap '' TERM; echo started; while true; do sleep 0.1; done")
    create_pod(srv, ns, pod_body("stuck", srv.node, [stubborn],
                                 terminationGracePeriodSeconds=120))
    p = wait_pod(srv, ns, "stuck", _running, 30, "running")
    prefix = "gt-%s-" % p["metadata"]["uid"][:12]

    def mine():
        return [c for c in runc_list(srv.agent_root) if c.startswith(prefix)]
    assert mine(), runc_list(srv.agent_root)
    _delete(srv, ns, "stuck")  # its own grace: 120 s
    assert poll(lambda: get_pod(srv, ns, "stuck")["metadata"].get("deletionTimestamp"), 10)
    time.sleep(1)
    assert mine(), "the container went before its grace period was over"
    t0 = time.time()
    r = srv.kubectl(K, "delete", "pod", "stuck", "-n", ns, "--force", "--grace-period=0")
    assert r.returncode == 0, r.stderr
    assert srv.wait_gone("/api/v1/namespaces/%s/pods/stuck" % ns, 10)
    assert poll(lambda: not mine(), 15), mine()
    took = time.time() - t0
    assert took < 10, "a force-deleted pod's container lived %.1fs more" % took


def test_logs_follow_tail_timestamps(srv, ns):
    script = "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.5; done; echo err-line >&2"
    create_pod(srv, ns, pod_body("talk", srv.node, [hctr("c", script)]))
    wait_pod(srv, ns, "talk", _running, 30, "running")
    follow = srv.kubectl_popen(K, "logs", "-f", "-n", ns, "talk", "-c", "c")
    reader = LineReader(follow)
    try:
        assert reader.wait_for(lambda l: l == "line 2", 10), reader.text()
        # still running while lines arrive: kubectl is following, not dumping
        assert _running(get_pod(srv, ns, "talk")), "container finished before line 2 arrived"
        assert not reader.wait_for(lambda l: l == "line 6", 0.1)
        follow.wait(15)   # ends when the container exits
    finally:
        if follow.poll() is None:
            follow.kill()
    assert follow.returncode == 0, follow.stderr.read()
    lines = reader.text().splitlines()
    assert lines == ["line %d" % i for i in range(1, 7)] + ["err-line"], lines
    pod = wait_pod(srv, ns, "talk", phase_is("Succeeded"), 10, "Succeeded")
    assert terminated(pod, "c")["exitCode"] == 0
    tail = srv.kubectl(K, "logs", "-n", ns, "talk", "--tail=2").stdout
    assert tail.splitlines() == ["line 6", "err-line"], tail
    ts = srv.kubectl(K, "logs", "-n", ns, "talk", "--timestamps", "--tail=3").stdout.splitlines()
    assert len(ts) == 3, ts
    for line, want in zip(ts, ["line 5", "line 6", "err-line"]):
        m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)) (.*)$", line)
        assert m and m.group(4) == want, ts
    p = srv.kubectl(K, "logs", "-n", ns, "talk", "-c", "nope", check=False)
    assert p.returncode != 0 and "nope" in p.stderr, p.stderr
    # logs of the right container by -c in a two-container pod
    create_pod(srv, ns, pod_body("two", srv.node, [hctr("a", "echo from-a"),
                                                  hctr("b", "echo from-b")]))
    wait_pod(srv, ns, "two", phase_is("Succeeded"), 30, "Succeeded")
    assert srv.kubectl(K, "logs", "-n", ns, "two", "-c", "b").stdout.strip() == "from-b"
    assert srv.kubectl(K, "logs", "-n", ns, "two", "-c", "a").stdout.strip() == "from-a"
