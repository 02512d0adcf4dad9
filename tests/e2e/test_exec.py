"""Interactive access (issue 5): exec, cp and port-forward through the API
server into real containers, with kubectl 1.20 (SPDY/3.1), kubectl 1.33
(WebSocket v5 exec, SPDY tunnelled in WebSocket for port-forward) and the
Python client (WebSocket v4 exec and port-forward)."""
import hashlib
import os
import shlex
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import (VERSIONS, _ns_name, agent_links, agent_server, agent_teardown, create_pod, hctr,
                      pod_body, port_open, wait_pod)

K = "1.33"
SERVE = ("mkdir -p /tmp/www && cd /tmp/www && head -c 10485760 /dev/urandom > big.bin"
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
    """Two parallel downloads of a 10 MB file through `kubectl port-forward`
    to a server listening only on the pod's localhost; checksums match."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = srv.kubectl_popen(K, "port-forward", "-n", ns, "box", "%d:8123" % port)
    try:
        _wait(lambda: port_open(port), 20)
        want = srv.kubectl(K, "exec", "box", "-n", ns, "--", "sha256sum",
                           "/tmp/www/big.bin").stdout.split()[0]
        got = [None, None]

        def fetch(i):
            data = urllib.request.urlopen("http://127.0.0.1:%d/big.bin" % port, timeout=60).read()
            got[i] = (len(data), hashlib.sha256(data).hexdigest())
        ts = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert got == [(10485760, want)] * 2, (got, want)
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


@pytest.mark.parametrize("K", VERSIONS)
def test_attach_tty(srv, ns, K):
    """`kubectl attach -it` to a container with tty: true (what `kubectl run
    -it` does): keystrokes reach its terminal, the window size follows the
    client's, and the output comes back."""
    name = "tty-" + K.replace(".", "")
    script = 'while read l; do echo "got $l, tty $(stty size)"; done; exec sleep 3600'
    create_pod(srv, ns, pod_body(name, srv.node, [hctr("c", script, stdin=True, tty=True)],
                                 restart="Always"))
    wait_pod(srv, ns, name, lambda p: p.get("status", {}).get("phase") == "Running", 30, "Running")
    kubectl = os.environ["KUBECTL_133" if K == "1.33" else "KUBECTL_120"]
    cmd = "stty cols 97 rows 33; %s --kubeconfig %s attach -it %s -n %s" % (
        kubectl, srv.kubeconfig, name, ns)
    feeder = "sleep 2; echo hello-%s; sleep 2" % name
    # kubectl stays attached until the container ends: cut it after 10 s
    p = subprocess.run(["sh", "-c", "(%s) | timeout -s KILL 10 script -qc %s /dev/null" % (
        feeder, shlex.quote(cmd))], capture_output=True, text=True, timeout=60)
    assert "got hello-%s, tty 33 97" % name in p.stdout, p
    # the client going does not end the container; its log has the session
    pod = srv.get("/api/v1/namespaces/%s/pods/%s" % (ns, name))
    assert pod["status"]["phase"] == "Running", pod["status"]
    logs = srv.kubectl(K, "logs", name, "-n", ns).stdout
    assert "got hello-%s, tty 33 97" % name in logs, logs


# ---- bad input: no leaked processes or descriptors ------------------------------------

def _fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def _procs_with(marker, argv=None):
    """Host pids whose command line contains marker, or (argv) is exactly
    argv (the pod's processes are host processes too)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cl = f.read()
        except OSError:
            continue
        if argv is not None:
            if cl.rstrip(b"\0").split(b"\0") == [a.encode() for a in argv]:
                found.append(int(pid))
        elif marker.encode() in cl:
            found.append(int(pid))
    return found


def _cmdlines(pids):
    out = []
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                out.append((pid, f.read().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            pass
    return out


def _wait(pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return pred()


def _ws_exec(srv, ns, pod, command, proto="v5.channel.k8s.io", stdin=True):
    import ssl
    import urllib.parse
    import websocket
    q = "&".join(["command=" + urllib.parse.quote(c) for c in command] +
                 ["stdout=true", "stderr=true"] + (["stdin=true"] if stdin else []))
    ws = websocket.create_connection(
        "wss://%s:%d/api/v1/namespaces/%s/pods/%s/exec?%s" % (srv.host, srv.port, ns, pod, q),
        header=["Authorization: Bearer " + srv.token], subprotocols=[proto],
        sslopt={"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": _ca_file(srv)}, timeout=30)
    assert ws.subprotocol == proto, ws.subprotocol
    return ws


def _ca_file(srv):
    path = os.path.join(srv.work, "ca.pem")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(srv.ca_pem)
    return path


def _ws_drain(ws):
    """Reads frames until the server closes; returns ({channel: bytes}, status)."""
    import websocket
    out = {}
    while True:
        try:
            op, data = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            break
        if data:
            out[data[0]] = out.get(data[0], b"") + data[1:]
    return out


def test_exec_into_completed_pod(srv, ns):
    create_pod(srv, ns, pod_body("done", srv.node, [hctr("c", "true")]))
    wait_pod(srv, ns, "done", lambda p: p.get("status", {}).get("phase") == "Succeeded", 30,
             "Succeeded")
    for K in VERSIONS:
        p = srv.kubectl(K, "exec", "done", "-n", ns, "--", "true", check=False)
        assert p.returncode != 0 and "completed pod" in p.stderr, p
    # a client that does not check first (the Python client) gets the server's 400
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    from kubernetes.stream import stream
    v1 = client.CoreV1Api(srv.api_client())
    with pytest.raises(ApiException) as e:
        stream(v1.connect_get_namespaced_pod_exec, "done", ns, command=["true"],
               stderr=True, stdin=False, stdout=True, tty=False)
    # the client reports the refused WebSocket handshake (its reason carries
    # the HTTP status only); the body is a Status that says why
    assert "400" in str(e.value), e.value
    r = srv.request("GET", "/api/v1/namespaces/%s/pods/done/exec?command=true&stdout=true" % ns,
                    headers={"Connection": "Upgrade", "Upgrade": "websocket",
                             "Sec-WebSocket-Version": "13",
                             "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                             "Sec-WebSocket-Protocol": "v4.channel.k8s.io"})
    st = r.json()
    assert r.status == 400 and st["kind"] == "Status" and st["code"] == 400, r
    assert "not running" in st["message"], st


def test_port_nothing_listens_on(srv, ns, tmp_path):
    from kubernetes import client
    from kubernetes.stream import portforward
    v1 = client.CoreV1Api(srv.api_client())
    pf = portforward(v1.connect_get_namespaced_pod_portforward, "box", ns, ports="9")
    s = pf.socket(9)
    s.settimeout(20)
    try:  # the error may have closed the local end already
        s.sendall(b"hello")
        assert s.recv(100) == b""  # closed, no data
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert _wait(lambda: pf.error(9) is not None, 10), "no error for port 9"
    assert "9" in pf.error(9) and "refused" in pf.error(9), pf.error(9)
    s.close()
    # kubectl reports it and keeps serving other connections
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        port = ls.getsockname()[1]
    proc = srv.kubectl_popen(K, "port-forward", "-n", ns, "box", "%d:9" % port)
    try:
        assert _wait(lambda: port_open(port), 20)
        c = socket.create_connection(("127.0.0.1", port), timeout=20)
        c.sendall(b"x")
        assert c.recv(100) == b""
        c.close()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "refused" in err, err


@pytest.mark.parametrize("K", VERSIONS)
def test_client_disconnects_mid_stream(srv, ns, K):
    """kubectl is killed while its command streams output or waits: the
    command is stopped in the container and the server's descriptors come
    back to where they were."""
    pid = srv.proc.pid
    srv.kubectl(K, "exec", "box", "-n", ns, "--", "true")  # warm connections
    base = _fds(pid)
    tag = K.replace(".", "")
    for argv in (["sleep", "4%s1" % tag], ["yes", "stream-marker-%s" % tag]):
        marker = argv[1]
        proc = srv.kubectl_popen(K, "exec", "box", "-n", ns, "--", *argv)
        assert _wait(lambda: _procs_with(None, argv), 20), "command never started"
        time.sleep(0.5)
        proc.kill()
        proc.communicate(timeout=10)
        assert _wait(lambda: not _procs_with(marker), 20), \
            "still running after the client went: %s\n%s" % (_cmdlines(_procs_with(marker)), srv.log_tail(30))
    assert _wait(lambda: _fds(pid) <= base, 20), (base, _fds(pid), os.listdir("/proc/%d/fd" % pid))


def test_small_frame_flood(srv, ns):
    """20,000 one-byte stdin frames, then v5's stdin close: every byte
    arrives, the exit status comes back, nothing leaks."""
    pid = srv.proc.pid
    ws = _ws_exec(srv, ns, "box", ["wc", "-c"])
    for _ in range(20000):
        ws.send_binary(b"\x00x")
    ws.send_binary(b"\xff\x00")  # v5: close stdin
    out = _ws_drain(ws)
    assert out.get(1, b"").strip() == b"20000", out
    assert b'"Success"' in out.get(3, b""), out
    ws.close()
    # and a flood the command never reads, cut by the client
    base = _fds(pid)
    ws = _ws_exec(srv, ns, "box", ["sleep", "4343"])
    assert _wait(lambda: _procs_with(None, ["sleep", "4343"]), 20), "never started"
    for _ in range(20000):
        ws.send_binary(b"\x00y")
    ws.close()
    assert _wait(lambda: not _procs_with(None, ["sleep", "4343"]), 20), "sleep 4343 leaked"
    assert _wait(lambda: _fds(pid) <= base, 20), (base, _fds(pid))


def test_embedded_agent_port_forward_connects_to_the_pod_itself(srv, ns):
    """With the embedded agent, a port-forward's bytes skip the agent's stream:
    while one is open the API server holds no connection to its agent (an
    exec session, which the agent runs, does hold one)."""
    from kubernetes import client
    from kubernetes.stream import portforward, stream
    v1 = client.CoreV1Api(srv.api_client())
    sess = stream(v1.connect_get_namespaced_pod_exec, "box", ns, command=["cat"],
                  stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)
    try:
        sess.write_stdin("ping\n")
        out = ""
        deadline = time.time() + 20
        while "ping" not in out and time.time() < deadline:
            sess.update(timeout=1)
            out += sess.read_stdout() if sess.peek_stdout() else ""
        assert "ping" in out, out
        assert agent_links(srv, srv.node), "an exec session holds no connection to the agent"
    finally:
        sess.close()
    assert _wait(lambda: not agent_links(srv, srv.node), 10), agent_links(srv, srv.node)
    pf = portforward(v1.connect_get_namespaced_pod_portforward, "box", ns, ports="8123")
    s = pf.socket(8123)
    s.settimeout(20)
    try:
        s.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
        data = s.recv(65536)
        assert data.startswith(b"HTTP/1.0 200"), data[:100]
        assert agent_links(srv, srv.node) == []  # mid-transfer
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert len(data) > 10485760, len(data)


@pytest.mark.parametrize("K", VERSIONS)
def test_port_forward_client_killed_mid_transfer(srv, ns, K):
    """kubectl port-forward is killed while a download runs through it: the
    server lets go of the client's and the pod's connections (its
    descriptors come back to where they were), and the next forward works."""
    pid = srv.proc.pid
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = _fds(pid)
    proc = srv.kubectl_popen(K, "port-forward", "-n", ns, "box", "%d:8123" % port)
    try:
        assert _wait(lambda: port_open(port), 20)
        c = socket.create_connection(("127.0.0.1", port), timeout=20)
        c.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
        assert c.recv(65536).startswith(b"HTTP/1.0 200")
        assert _fds(pid) > base  # the forward holds the client's and the pod's sockets
        proc.kill()
        proc.communicate(timeout=10)
        c.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _wait(lambda: _fds(pid) <= base, 20), (base, _fds(pid), os.listdir("/proc/%d/fd" % pid))
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                        "http://127.0.0.1:%d/index.html" % port], capture_output=True, text=True)
    assert p.stdout != "200", p  # nothing forwards any more
    proc = srv.kubectl_popen(K, "port-forward", "-n", ns, "box", "%d:8123" % port)
    try:
        assert _wait(lambda: port_open(port), 20)
        data = urllib.request.urlopen("http://127.0.0.1:%d/index.html" % port, timeout=20).read()
        assert data == b"served\n"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
