"""Interactive access (issue 5): exec, cp and port-forward through the API
server into real containers, with kubectl 1.20 (SPDY/3.1), kubectl 1.33
(WebSocket v5 exec, SPDY tunnelled in WebSocket for port-forward) and the
Python client (WebSocket v4 exec and port-forward)."""
import os
import shlex
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import (VERSIONS, _ns_name, agent_server, agent_teardown, create_pod, hctr, pod_body,
                      wait_pod)

K = "1.33"
SERVE = ("mkdir -p /tmp/www && cd /tmp/www && head -c 300000 /dev/urandom | od -An -tx1 > big.txt"
         " && echo served > index.html && exec python3 -m http.server 8123 --bind 127.0.0.1")


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-exec")
    yield s
    agent_teardown(s)


@pytest.fixture(scope="module")
def ns(srv):
    ns = srv.make_ns(_ns_name("exec"))
    create_pod(srv, ns, pod_body("box", srv.node, [hctr("c", SERVE)], restart="Always"))
    wait_pod(srv, ns, "box", lambda p: p.get("status", {}).get("phase") == "Running"
             and all(c.get("ready") for c in p["status"].get("containerStatuses", [])), 30,
             "Running")
    return ns


@pytest.mark.parametrize("K", VERSIONS)
def test_exec_output_and_exit_codes(srv, ns, K):
    p = srv.kubectl(K, "exec", "box", "-n", ns, "--", "sh", "-c", "echo out; echo err >&2",
                    check=False)
    assert p.returncode == 0 and p.stdout == "out\n" and "err" in p.stderr, p
    for code in (3, 137):
        cmd = "exit 3" if code == 3 else "kill -9 $$"
        p = srv.kubectl(K, "exec", "box", "-n", ns, "--", "sh", "-c", cmd, check=False)
        assert p.returncode == code, p
        assert "command terminated with exit code %d" % code in p.stderr, p


@pytest.mark.parametrize("K", VERSIONS)
def test_exec_stdin_and_tty(srv, ns, K):
    p = srv.kubectl(K, "exec", "-i", "box", "-n", ns, "--", "sh", "-c", "tr a-z A-Z",
                    input="piped input\n")
    assert p.stdout == "PIPED INPUT\n", p
    # a pseudo-terminal on both ends (driven by script(1))
    cmd = [os.environ["KUBECTL_133" if K == "1.33" else "KUBECTL_120"], "--kubeconfig", srv.kubeconfig, "exec", "-it", "box", "-n", ns,
           "--", "sh", "-c", "test -t 0 && echo IS-A-TTY"]
    out = subprocess.run(["script", "-qc", shlex.join(cmd), "/dev/null"], capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "IS-A-TTY" in out.stdout, out


@pytest.mark.parametrize("K", VERSIONS)
def test_cp_both_directions(srv, ns, K):
    d = tempfile.mkdtemp()
    src = os.path.join(d, "up.txt")
    with open(src, "w") as f:
        f.write("uploaded content\n")
    srv.kubectl(K, "cp", src, "%s/box:/tmp/up.txt" % ns)
    p = srv.kubectl(K, "exec", "box", "-n", ns, "--", "cat", "/tmp/up.txt")
    assert p.stdout == "uploaded content\n", p
    dst = os.path.join(d, "down.html")
    srv.kubectl(K, "cp", "%s/box:/tmp/www/index.html" % ns, dst)
    with open(dst) as f:
        assert f.read() == "served\n"


def test_python_exec_and_port_forward(srv, ns):
    from kubernetes import client
    from kubernetes.stream import portforward, stream

    v1 = client.CoreV1Api(srv.api_client())
    out = stream(v1.connect_get_namespaced_pod_exec, "box", ns,
                 command=["sh", "-c", "echo py-out; echo py-err >&2"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert "py-out" in out and "py-err" in out, out
    r = stream(v1.connect_get_namespaced_pod_exec, "box", ns, command=["sh", "-c", "exit 5"],
               stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    r.run_forever(timeout=20)
    assert r.returncode == 5
    # port-forward to a server that only listens on the pod's localhost
    pf = portforward(v1.connect_get_namespaced_pod_portforward, "box", ns, ports="8123")
    s = pf.socket(8123)
    s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.0 200") and data.endswith(b"served\n"), data[:200]


def test_exec_errors(srv, ns):
    K = "1.33"
    p = srv.kubectl(K, "exec", "box", "-n", ns, "-c", "nope", "--", "true", check=False)
    assert p.returncode != 0 and "nope" in p.stderr, p
    p = srv.kubectl(K, "exec", "missing", "-n", ns, "--", "true", check=False)
    assert p.returncode != 0 and "not found" in p.stderr, p


@pytest.mark.parametrize("K", VERSIONS)
def test_kubectl_port_forward(srv, ns, K):
    """Two parallel downloads of a large file through `kubectl port-forward`
    to a server listening only on the pod's localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = srv.kubectl_popen(K, "port-forward", "-n", ns, "box", "%d:8123" % port)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        want = srv.kubectl(K, "exec", "box", "-n", ns, "--", "cat", "/tmp/www/big.txt").stdout
        got = [None, None]

        def fetch(i):
            got[i] = urllib.request.urlopen("http://127.0.0.1:%d/big.txt" % port,
                                            timeout=30).read().decode()
        ts = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        assert got[0] == want and got[1] == want, (len(got[0] or ""), len(got[1] or ""), len(want))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("K", VERSIONS)
def test_attach_with_stdin(srv, ns, K):
    """`kubectl attach -i` sees the container's output and feeds its stdin
    (a container with stdin: true); the container's exit code comes back."""
    name = "att-" + K.replace(".", "")
    script = "while read l; do echo got:$l; [ \"$l\" = two ] && exit 4; done"
    create_pod(srv, ns, pod_body(name, srv.node, [hctr("c", script, stdin=True)]))
    wait_pod(srv, ns, name, lambda p: p.get("status", {}).get("phase") == "Running", 30, "Running")
    cmd = [os.environ["KUBECTL_133" if K == "1.33" else "KUBECTL_120"], "--kubeconfig",
           srv.kubeconfig, "attach", "-i", name, "-n", ns]
    feeder = "sleep 2; echo one; sleep 0.5; echo two; sleep 5"
    p = subprocess.run(["sh", "-c", "(%s) | %s" % (feeder, shlex.join(cmd))], capture_output=True,
                       text=True, timeout=60)
    assert "got:one" in p.stdout and "got:two" in p.stdout, p
    assert p.returncode == 4, p
