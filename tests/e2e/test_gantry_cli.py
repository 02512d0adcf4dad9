"""The gantry CLI's interactive commands (issue 5): `gantry exec` and
`gantry port-forward` against a real server with its embedded agent, with
kubectl's semantics (exit codes, stdin, tty, concurrent forwarded
connections, clear errors)."""
import os
import re
import shlex
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import _ns_name, agent_server, agent_teardown, create_pod, hctr, pod_body, wait_pod

SERVE = ("mkdir -p /tmp/www && cd /tmp/www && echo served > index.html"
         " && head -c 200000 /dev/urandom | od -An -tx1 > big.txt"
         " && exec python3 -m http.server 8123 --bind 127.0.0.1")


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "cli-node")
    yield s
    agent_teardown(s)


@pytest.fixture(scope="module")
def ns(srv):
    ns = srv.make_ns(_ns_name("cli"))
    create_pod(srv, ns, pod_body("box", srv.node, [hctr("c", SERVE)], restart="Always"))
    wait_pod(srv, ns, "box", lambda p: p.get("status", {}).get("phase") == "Running"
             and all(c.get("ready") for c in p["status"].get("containerStatuses", [])), 30,
             "Running")
    return ns


def gantry(srv, *args, **kw):
    kw.setdefault("timeout", 60)
    return subprocess.run([os.environ["GANTRY_BIN"], args[0], "--kubeconfig", srv.kubeconfig]
                          + list(args[1:]), capture_output=True, text=True, **kw)


def test_help():
    for cmd in ("exec", "port-forward"):
        p = subprocess.run([os.environ["GANTRY_BIN"], cmd, "--help"], capture_output=True,
                           text=True, timeout=10)
        assert p.returncode == 0 and "usage: gantry " + cmd in p.stdout, p
        assert "--kubeconfig" in p.stdout and "--namespace" in p.stdout


def test_exec_output_and_exit_code(srv, ns):
    p = gantry(srv, "exec", "-n", ns, "box", "--", "sh", "-c", "echo hi; echo err >&2; exit 3")
    assert p.returncode == 3, p
    assert p.stdout == "hi\n" and "err" in p.stderr, p
    assert "command terminated with exit code 3" in p.stderr, p
    p = gantry(srv, "exec", "-n", ns, "box", "--", "true")
    assert p.returncode == 0 and p.stdout == "", p


def test_exec_stdin(srv, ns):
    p = gantry(srv, "exec", "-i", "-n", ns, "box", "--", "tr", "a-z", "A-Z",
               input="piped input\nsecond line\n")
    assert p.returncode == 0 and p.stdout == "PIPED INPUT\nSECOND LINE\n", p


def test_exec_tty(srv, ns):
    cmd = [os.environ["GANTRY_BIN"], "exec", "--kubeconfig", srv.kubeconfig, "-it", "-n", ns,
           "box", "--", "sh", "-c", "test -t 0 && echo IS-A-TTY; stty size"]
    out = subprocess.run(["script", "-qc", shlex.join(cmd), "/dev/null"], capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "IS-A-TTY" in out.stdout, out
    # without a local terminal -t is dropped, as kubectl does
    p = gantry(srv, "exec", "-t", "-n", ns, "box", "--", "sh", "-c", "test -t 0 || echo NO-TTY",
               stdin=subprocess.DEVNULL)
    assert "NO-TTY" in p.stdout and "Unable to use a TTY" in p.stderr, p


def test_exec_errors(srv, ns):
    p = gantry(srv, "exec", "-n", ns, "nope", "--", "true")
    assert p.returncode == 1 and 'pods "nope" not found' in p.stderr, p
    p = gantry(srv, "exec", "-n", ns, "-c", "nosuch", "box", "--", "true")
    assert p.returncode == 1 and "nosuch" in p.stderr, p
    p = gantry(srv, "exec", "-n", ns, "box")
    assert p.returncode == 2 and "command is required" in p.stderr, p


def fetch(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, path), timeout=20) as r:
        return r.read()


def start_pf(srv, ns, *specs):
    proc = subprocess.Popen([os.environ["GANTRY_BIN"], "port-forward", "--kubeconfig",
                             srv.kubeconfig, "-n", ns, "box"] + list(specs),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ports = []
    for _ in specs:
        line = proc.stdout.readline()
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8123$", line.strip())
        assert m, (line, proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
        ports.append(int(m.group(1)))
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, ports


def test_port_forward_parallel(srv, ns):
    proc, (port, free) = start_pf(srv, ns, "18123:8123", ":8123")
    try:
        assert port == 18123 and free > 0
        assert fetch(port, "index.html") == b"served\n"
        results, errors = {}, []

        def get(i):
            try:
                results[i] = fetch(port if i % 2 else free, "big.txt")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        ts = [threading.Thread(target=get, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        assert not errors, errors
        assert len(results) == 4 and len({len(v) for v in results.values()}) == 1
        assert len(results[0]) > 500000
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_port_forward_errors(srv, ns):
    p = gantry(srv, "port-forward", "-n", ns, "nope", "18124:8123")
    assert p.returncode == 1 and 'pods "nope" not found' in p.stderr, p
    p = gantry(srv, "port-forward", "-n", ns, "box", "99999")
    assert p.returncode == 2 and "invalid port" in p.stderr, p
    # nothing listens on the remote port: the connection fails, the forwarder goes on
    proc, (port,) = start_pf_any(srv, ns, ":8999")
    try:
        with pytest.raises(Exception):
            fetch(port, "")
        time.sleep(0.5)  # the error line is written by the connection's thread
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)
        err = proc.stderr.read()
    assert "8999" in err, err


def start_pf_any(srv, ns, spec):
    proc = subprocess.Popen([os.environ["GANTRY_BIN"], "port-forward", "--kubeconfig",
                             srv.kubeconfig, "-n", ns, "box", spec],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> \d+$", line.strip())
    assert m, line
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, (int(m.group(1)),)
