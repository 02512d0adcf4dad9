"""End-to-end test fixtures: start the real `gantry server` binary and drive
it with real clients (Debian kubectl 1.20, kubectl 1.33 and the Python
kubernetes client).  Nothing is mocked.

Environment (defaults in brackets):
  GANTRY_BIN   the gantry binary [bin/gantry]
  KUBECTL_120  Debian kubectl 1.20.2 [output of scripts/kubectl120.sh]
  KUBECTL_133  kubectl 1.33 [/usr/lib/google-cloud-sdk/bin/kubectl.1.33]
  GANTRY_E2E_KEEP=1 keeps the temporary data directories (for debugging).
  GANTRY_E2E_NET   bridge-name prefix and first two octets for the pod
                   networks tests create [gte:10.77]: agents get bridges
                   gte0, gte1, ... with subnets 10.77.0.0/24, 10.77.1.0/24,
                   ...; two suites run at once need different values.

Fixtures:
  server     module-scoped running server (a `Server`)
  ns         a fresh namespace for the test, created through the API
  new_server factory for dedicated servers (extra flags, restarts, kill -9)
"""
import base64
import ctypes
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import string
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifests")
VERSIONS = ["1.20", "1.33"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _resolve_bin(p):
    if os.path.isabs(p):
        return p
    for base in (os.getcwd(), ROOT):
        cand = os.path.join(base, p)
        if os.path.exists(cand):
            return os.path.abspath(cand)
    return os.path.abspath(p)


def _defaults():
    os.environ["GANTRY_BIN"] = _resolve_bin(os.environ.get("GANTRY_BIN", "bin/gantry"))
    if not os.environ.get("KUBECTL_120"):
        out = subprocess.run([os.path.join(ROOT, "scripts/kubectl120.sh")], capture_output=True,
                             text=True, timeout=300, check=True)
        os.environ["KUBECTL_120"] = out.stdout.strip()
    os.environ.setdefault("KUBECTL_133", "/usr/lib/google-cloud-sdk/bin/kubectl.1.33")


_defaults()
KUBECTL = {"1.20": os.environ["KUBECTL_120"], "1.33": os.environ["KUBECTL_133"]}


def _die_with_parent():
    """In the child: get SIGKILL if pytest itself dies (no stray servers)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def pytest_configure(config):
    # `timeout` and CI runners stop pytest with SIGTERM: turn it into an
    # interrupt so fixture teardown still stops the servers and removes dirs.
    def on_term(signum, frame):
        raise KeyboardInterrupt("SIGTERM")
    signal.signal(signal.SIGTERM, on_term)


def strip_ansi(s):
    return ANSI.sub("", s)


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Resp:
    """A raw HTTP response: status, headers (lower-case names), body bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError("response %d is not JSON: %r" % (self.status, self.body[:500]))

    def __repr__(self):
        return "<HTTP %d %s>" % (self.status, self.body[:800].decode("utf-8", "replace"))


class Server:
    """One `gantry server` process on a temporary data directory."""

    def __init__(self, data_dir, extra_args=()):
        self.bin = os.environ["GANTRY_BIN"]
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.kubeconfig = os.path.join(data_dir, "admin.kubeconfig")
        self.log_path = os.path.join(os.path.dirname(data_dir), os.path.basename(data_dir) + ".log")
        self.work = os.path.join(os.path.dirname(data_dir), os.path.basename(data_dir) + "-work")
        os.makedirs(self.work, exist_ok=True)
        self.home = os.path.join(self.work, "home")
        os.makedirs(self.home, exist_ok=True)
        self.proc = None
        self.url = self.token = self.ca_pem = None
        self.host = self.port = None
        self._api_client = None
        self._log = None
        self.crashes = []
        self.term_sent = False

    # ---- process control -------------------------------------------------
    def start(self, timeout=30):
        if os.path.exists(self.kubeconfig):
            os.unlink(self.kubeconfig)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.bin, "server", "--data-dir", self.data_dir, "--port", "0", "--bind", "127.0.0.1"]
            + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            preexec_fn=_die_with_parent)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("gantry server exited with %s during start:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.kubeconfig):
                try:
                    self._read_kubeconfig()
                    r = self.request("GET", "/healthz", token=None, timeout=2)
                    if r.status == 200:
                        self._api_client = None
                        return self
                except (OSError, ValueError, KeyError, TypeError, http.client.HTTPException):
                    pass
            time.sleep(0.05)
        self.kill9()
        raise AssertionError("gantry server did not become healthy in %ds:\n%s"
                             % (timeout, self.log_tail()))

    def _read_kubeconfig(self):
        with open(self.kubeconfig) as f:
            kc = yaml.safe_load(f)
        cluster = kc["clusters"][0]["cluster"]
        self.url = cluster["server"]
        self.ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        self.token = kc["users"][0]["user"]["token"]
        u = urllib.parse.urlparse(self.url)
        self.host, self.port = u.hostname, u.port
        self._ssl = ssl.create_default_context(cadata=self.ca_pem)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self):
        """Sends SIGTERM without waiting (stop() then waits): servers stop
        side by side."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.term_sent = True

    def stop(self):
        """SIGTERM, SIGKILL after 10 s.  Returns the exit status (None if not started)."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None or self.term_sent:
            if rc is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                # where it hangs, for the report
                bt = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-ex",
                                     "thread apply all bt 8"], capture_output=True, text=True,
                                    timeout=60).stdout if shutil.which("gdb") else ""
                self.proc.kill()
                self.proc.wait(10)
                path = os.path.join(tempfile.gettempdir(), "gantry-hang-%d.txt" % self.proc.pid)
                with open(path, "w") as f:
                    f.write(bt)
                rc = "killed after SIGTERM timeout (threads: %s)" % path
        else:
            self.crashes.append("server had already exited with %s before stop" % rc)
        self._close_log()
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_log()

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, n=60):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    # ---- raw HTTPS -------------------------------------------------------
    def request(self, method, path, body=None, headers=None, token="default",
                content_type="application/json", timeout=30):
        """One HTTPS request.  body: dict/list (JSON-encoded), str or bytes.
        token: "default" = the admin token, None = no Authorization header."""
        h = {"Accept": "application/json"}
        if token == "default":
            token = self.token
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is not None and content_type:
            h["Content-Type"] = content_type
        if headers:
            h.update(headers)
        conn = http.client.HTTPSConnection(self.host, self.port, context=self._ssl, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=h)
            except OSError:
                # the server may answer (e.g. 413) and close before reading the
                # whole body (BrokenPipe, ECONNRESET, SSL EOF); read its answer
                pass
            r = conn.getresponse()
            data = r.read()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path, expect=200):
        r = self.request("GET", path)
        assert r.status == expect, "GET %s: %r" % (path, r)
        return r.json()

    def create(self, path, obj, expect=201):
        r = self.request("POST", path, obj)
        assert r.status == expect, "POST %s %s: %r" % (path, json.dumps(obj)[:300], r)
        return r.json()

    def exists(self, path):
        r = self.request("GET", path)
        assert r.status in (200, 404), "GET %s: %r" % (path, r)
        return r.status == 200

    def wait_gone(self, path, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.exists(path):
                return True
            time.sleep(0.1)
        return False

    # ---- clients ---------------------------------------------------------
    def kubectl(self, version, *args, input=None, check=True, timeout=60):
        """Run kubectl VERSION ("1.20"/"1.33") against this server.  Returns the
        CompletedProcess (text); stdout/stderr have ANSI colours stripped."""
        cache = os.path.join(self.work, "kube-cache-" + version)
        cmd = [KUBECTL[version], "--kubeconfig", self.kubeconfig, "--cache-dir", cache,
               "--request-timeout=30s"] + [str(a) for a in args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["HOME"] = self.home
        try:
            p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                               env=env)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("kubectl %s timed out after %ss: %s\nstdout: %s\nstderr: %s"
                                 % (version, timeout, " ".join(cmd[5:]), e.stdout, e.stderr))
        p.stdout = strip_ansi(p.stdout)
        p.stderr = strip_ansi(p.stderr)
        if check and p.returncode != 0:
            raise AssertionError("kubectl %s %s -> rc %d\nstdout:\n%s\nstderr:\n%s"
                                 % (version, " ".join(cmd[5:]), p.returncode, p.stdout, p.stderr))
        return p

    def kubectl_popen(self, version, *args):
        cache = os.path.join(self.work, "kube-cache-" + version)
        cmd = [KUBECTL[version], "--kubeconfig", self.kubeconfig, "--cache-dir", cache] + \
            [str(a) for a in args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["HOME"] = self.home
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)

    def api_client(self):
        """A kubernetes.client.ApiClient configured from the admin kubeconfig."""
        from kubernetes import config
        if self._api_client is None:
            self._api_client = config.new_client_from_config(config_file=self.kubeconfig)
        return self._api_client

    def render(self, name, **vars):
        """Render manifests/NAME (string.Template, $VARS) into a temp file; returns its path."""
        with open(os.path.join(MANIFESTS, name)) as f:
            text = string.Template(f.read()).substitute(vars)
        fd, path = tempfile.mkstemp(prefix=name.split(".")[0] + "-", suffix=".yaml", dir=self.work)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def render_many(self, names, **vars):
        """Render several manifests into one multi-document file."""
        docs = []
        for name in names:
            with open(os.path.join(MANIFESTS, name)) as f:
                docs.append(string.Template(f.read()).substitute(vars))
        return self.write_manifest("\n---\n".join(docs))

    def write_manifest(self, text):
        fd, path = tempfile.mkstemp(suffix=".yaml", dir=self.work)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def make_ns(self, name):
        self.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": name}})
        return name


class LineReader:
    """Collects a process's stdout lines in a thread; wait_for(pred) polls them."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(strip_ansi(line.rstrip("\n")))

    def wait_for(self, pred, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if any(pred(l) for l in self.lines):
                    return True
            time.sleep(0.05)
        return False

    def text(self):
        with self.lock:
            return "\n".join(self.lines)


def _stop_and_check(srv, keep):
    rc = srv.stop()
    problems = list(srv.crashes)
    if rc not in (0, None):
        problems.append("SIGTERM shutdown exit status %r" % (rc,))
    if problems:
        tail = srv.log_tail()
        return "%s\n--- server log tail (%s) ---\n%s" % ("; ".join(problems), srv.log_path, tail)
    return None


@pytest.fixture(scope="module")
def new_server(tmp_path_factory):
    """Factory: new_server(*extra_args) -> started Server.  All are stopped and
    their directories removed at module end."""
    servers = []
    base = str(tmp_path_factory.mktemp("gantry"))
    keep = os.environ.get("GANTRY_E2E_KEEP") == "1"

    def make(*extra, start=True, agent=False):
        """agent=True runs the embedded node agent (real runc and CNI);
        API-only tests leave it off so they stay independent of the host."""
        d = os.path.join(base, "srv%d" % len(servers))
        srv = Server(d, extra if agent else ("--no-agent",) + tuple(extra))
        servers.append(srv)
        return srv.start() if start else srv

    yield make
    errors = []
    for srv in servers:
        srv.terminate()
    for srv in servers:
        try:
            e = _stop_and_check(srv, keep)
            if e:
                errors.append(e)
        except Exception as e:  # noqa: BLE001 - keep stopping the others
            errors.append(repr(e))
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
    if errors:
        pytest.fail("server problems at module teardown:\n" + "\n\n".join(errors), pytrace=False)


@pytest.fixture(scope="module")
def server(new_server):
    return new_server()


def _ns_name(nodename):
    base = re.sub(r"[^a-z0-9]+", "-", nodename.lower()).strip("-")
    if len(base) > 50:
        base = base[:42].rstrip("-") + "-" + hashlib.md5(base.encode()).hexdigest()[:6]
    return base


@pytest.fixture
def ns(server, request):
    """A fresh namespace named after the test, created through the API."""
    return server.make_ns(_ns_name(request.node.name))


def pytest_runtest_makereport(item, call):
    """On failure, note whether the module's server has died (helps diagnosis)."""
    if call.when == "call" and call.excinfo is not None:
        srv = item.funcargs.get("server") if hasattr(item, "funcargs") else None
        if isinstance(srv, Server) and not srv.alive():
            item.add_report_section("call", "gantry", "SERVER DIED:\n" + srv.log_tail())


def cm_body(name, data=None, labels=None, **meta):
    """A ConfigMap body."""
    m = {"name": name}
    if labels:
        m["labels"] = labels
    m.update(meta)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m, "data": data or {}}


def crd_vars(v):
    """Template variables for manifests/crd.yaml and cr.yaml for kubectl version v."""
    sfx = "v" + v.replace(".", "")
    return {"SFX": sfx, "KSFX": sfx.upper()}


def crd_names(v):
    """(plural, crd name, kubectl kind prefix) of the per-version CRD."""
    sfx = crd_vars(v)["SFX"]
    return ("trainjobs" + sfx, "trainjobs%s.e2e.gantry.dev" % sfx,
            "trainjob%s.e2e.gantry.dev" % sfx)


def ensure_crd(server, v):
    """Apply manifests/crd.yaml for version v once per server; wait until Established."""
    done = server.__dict__.setdefault("_crds", set())
    plural, name, _ = crd_names(v)
    if v not in done:
        server.kubectl(v, "apply", "-f", server.render("crd.yaml", **crd_vars(v)))
        server.kubectl(v, "wait", "--for=condition=established", "--timeout=20s", "crd/" + name)
        done.add(v)
    return plural


def apply_app(server, v, ns):
    """kubectl apply manifests/app.yaml into ns (Deployment web, Service web,
    ConfigMap cfg, Secret creds, Job pi)."""
    return server.kubectl(v, "apply", "-f", server.render("app.yaml", NS=ns))


def poll(fn, timeout=15, interval=0.1):
    """Call fn until it returns a truthy value; return it (or the last value)."""
    deadline = time.time() + timeout
    v = fn()
    while not v and time.time() < deadline:
        time.sleep(interval)
        v = fn()
    return v


def port_open(port):
    """Something accepts connections on 127.0.0.1:PORT."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def stop_proc(proc, timeout=10):
    """SIGTERM, then SIGKILL after timeout seconds; reaps the process."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def agent_links(srv, node):
    """The API server's established TCP connections to NODE's agent endpoint
    (streams it relays from the agent: exec, port-forward)."""
    ep = srv.get("/api/v1/nodes/" + node)["metadata"]["annotations"]["gantry.dev/agent-endpoint"]
    out = subprocess.run(["ss", "-Htnp", "state", "established", "dst", ep],
                         capture_output=True, text=True, check=True).stdout
    return [ln for ln in out.splitlines() if "pid=%d," % srv.proc.pid in ln]


# ---- node agent helpers (tests/e2e/test_agent_*.py) ------------------------
# A module starts ONE server with the embedded agent (agent_server), shares it
# between its tests and ends it with agent_teardown: pods deleted, server
# stopped, `gantry node reset`, then a check that nothing leaked (runc
# containers, mounts, processes, cgroups, iptables rules of its pods).
import glob  # noqa: E402


_net_seq = iter(range(256))


def alloc_net():
    """(bridge, subnet) for one more agent, unique in this test run."""
    prefix, base = os.environ.get("GANTRY_E2E_NET", "gte:10.77").split(":")
    n = next(_net_seq)
    return "%s%d" % (prefix, n), "%s.%d.0/24" % (base, n)


def net_args(extra=()):
    """--bridge/--subnet from alloc_net() unless extra names a bridge."""
    if "--bridge" in extra:
        return ()
    bridge, subnet = alloc_net()
    return ("--bridge", bridge, "--subnet", subnet)


def agent_server(new_server, node, *extra):
    """A server with the embedded agent as node NODE (fast crash-loop back-off);
    returns it once the Node is Ready.  Adds .node, .agent_root, .pod_uids."""
    args = net_args(extra) + tuple(extra)
    srv = new_server("--node-name", node, "--backoff-base-ms", "300", "--backoff-max-ms", "1000",
                     *args, agent=True)
    srv.node, srv.agent_root, srv.pod_uids = node, os.path.join(srv.data_dir, "agent"), set()
    srv.subnet = args[args.index("--subnet") + 1] if "--subnet" in args else "10.88.0.0/16"
    srv.bridge = args[args.index("--bridge") + 1] if "--bridge" in args else "gantry0"
    wait_node_ready(srv)
    return srv


def wait_node_ready(srv, timeout=20):
    def ready():
        r = srv.request("GET", "/api/v1/nodes/" + srv.node)
        return r.status == 200 and any(c.get("type") == "Ready" and c.get("status") == "True"
                                       for c in r.json().get("status", {}).get("conditions", []))
    assert poll(ready, timeout), "node %s not Ready:\n%s" % (srv.node, srv.log_tail())


def runc_list(root):
    """Ids of the runc containers under an agent root (runc --root ROOT/runc)."""
    if not os.path.isdir(os.path.join(root, "runc")):
        return {}
    p = subprocess.run(["runc", "--root", os.path.join(root, "runc"), "list", "-f", "json"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, "runc list: %s" % p.stderr
    return {c["id"]: c["status"] for c in json.loads(p.stdout or "null") or []}


def agent_leaks(srv):
    """What an agent left behind on this host: [] when nothing."""
    leaks = []
    root = srv.agent_root
    left = runc_list(root)
    if left:
        leaks.append("runc containers: %s" % left)
    with open("/proc/self/mounts") as f:
        mnts = [l.split()[1] for l in f if l.split()[1].startswith(srv.data_dir)]
    if mnts:
        leaks.append("mounts: %s" % mnts)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open("/proc/%s/cgroup" % pid) as f:
                cg = f.read()
        except OSError:
            continue
        if int(pid) != os.getpid() and (root in cmd or any(u in cg for u in srv.pod_uids)):
            leaks.append("process %s: %s" % (pid, cmd[:200]))
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    for uid in srv.pod_uids:
        if uid in rules:
            leaks.append("iptables rules of pod %s" % uid)
        for d in glob.glob("/sys/fs/cgroup/*/gantry/pod" + uid):
            leaks.append("cgroup " + d)
    if os.path.isdir(os.path.join(root, "pods")) and os.listdir(os.path.join(root, "pods")):
        leaks.append("pod dirs: %s" % os.listdir(os.path.join(root, "pods")))
    return leaks


WORKLOADS = ["/apis/apps/v1/namespaces/%s/deployments", "/apis/apps/v1/namespaces/%s/replicasets",
             "/apis/apps/v1/namespaces/%s/statefulsets", "/apis/apps/v1/namespaces/%s/daemonsets",
             "/apis/batch/v1/namespaces/%s/cronjobs", "/apis/batch/v1/namespaces/%s/jobs",
             "/apis/kubeflow.org/v1/namespaces/%s/pytorchjobs",
             "/apis/kubeflow.org/v2beta1/namespaces/%s/mpijobs"]


def delete_workloads(srv):
    """Deletes every controller of pods, orphaning the pods (deleted next,
    at once), so that no controller brings them back."""
    for n in srv.get("/api/v1/namespaces")["items"]:
        for path in WORKLOADS:
            srv.request("DELETE", path % n["metadata"]["name"],
                        {"kind": "DeleteOptions", "apiVersion": "v1",
                         "propagationPolicy": "Orphan"})


def agent_teardown(srv):
    """Delete every pod, stop the server, `gantry node reset`; fail on leaks."""
    problems = []
    if srv.alive():
        try:
            delete_workloads(srv)
            for p in srv.get("/api/v1/pods")["items"]:
                m = p["metadata"]
                srv.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (m["namespace"], m["name"]),
                            {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
            pods = os.path.join(srv.agent_root, "pods")
            poll(lambda: not os.path.isdir(pods) or not os.listdir(pods), 15)
        except Exception as e:  # noqa: BLE001 - still stop and reset
            problems.append("deleting pods: %r" % e)
    rc = srv.stop()
    srv.proc = None
    if rc not in (0, None):
        problems.append("server exit status %r" % (rc,))
    p = subprocess.run([srv.bin, "node", "reset", "--root-dir", srv.agent_root],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        problems.append("node reset rc %d: %s%s" % (p.returncode, p.stdout, p.stderr))
    leaks = agent_leaks(srv)
    if leaks:
        problems.append("left behind after node reset: " + "; ".join(leaks))
    if problems:
        pytest.fail("agent teardown (%s):\n%s\n--- server log tail ---\n%s"
                    % (srv.node, "\n".join(problems), srv.log_tail(40)), pytrace=False)


def hctr(name, script, **fields):
    """A container of the `host` image running `sh -c SCRIPT`."""
    c = {"name": name, "image": "host", "command": ["sh", "-c", script]}
    c.update(fields)
    return c


def pod_body(name, node, containers, restart="Never", **spec):
    s = {"nodeName": node, "restartPolicy": restart, "containers": containers}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}


def create_pod(srv, ns, body):
    """POST a pod (bound to the agent's node unless it says otherwise)."""
    body["spec"].setdefault("nodeName", srv.node)
    p = srv.create("/api/v1/namespaces/%s/pods" % ns, body)
    srv.pod_uids.add(p["metadata"]["uid"])
    return p


def get_pod(srv, ns, name):
    return srv.get("/api/v1/namespaces/%s/pods/%s" % (ns, name))


def pod_dump(srv, ns, name):
    r = srv.request("GET", "/api/v1/namespaces/%s/pods/%s" % (ns, name))
    st = json.dumps(r.json().get("status"), indent=1) if r.status == 200 else repr(r)
    logs = [l for l in srv.log_tail(400).splitlines() if "agent" in l or name in l][-25:]
    return "pod %s/%s status:\n%s\n--- agent log ---\n%s" % (ns, name, st, "\n".join(logs))


def wait_pod(srv, ns, name, pred, timeout=30, what="condition"):
    """Poll the pod until pred(pod) is truthy; returns the pod.  Then also
    reads it with the Python client (its models must accept the status)."""
    last = [None]

    def check():
        last[0] = get_pod(srv, ns, name)
        return pred(last[0])
    if not poll(check, timeout, 0.1):
        raise AssertionError("pod %s/%s: no %s in %ss\n%s"
                             % (ns, name, what, timeout, pod_dump(srv, ns, name)))
    py_read_pod(srv, ns, name)
    return last[0]


def phase_is(*phases):
    return lambda p: p.get("status", {}).get("phase") in phases


def py_read_pod(srv, ns, name):
    from kubernetes import client
    return client.CoreV1Api(srv.api_client()).read_namespaced_pod(name, ns)


def cstatus(pod, name, init=False):
    """The containerStatuses (or initContainerStatuses) entry for NAME."""
    key = "initContainerStatuses" if init else "containerStatuses"
    for s in pod.get("status", {}).get(key) or []:
        if s.get("name") == name:
            return s
    return {}


def pod_logs(srv, ns, name, expect=200, **params):
    """GET pods/log (params: container, previous, tailLines, timestamps...) as text."""
    q = urllib.parse.urlencode({k: (str(v).lower() if isinstance(v, bool) else v)
                                for k, v in params.items()})
    r = srv.request("GET", "/api/v1/namespaces/%s/pods/%s/log%s" % (ns, name, "?" + q if q else ""))
    assert r.status == expect, "logs %s/%s %s: %r" % (ns, name, q, r)
    return r.body.decode("utf-8", "replace")


class Agents:
    """Extra `gantry agent` processes joined to a server (each with its own
    node name, root dir, bridge and subnet).  start(node) adds one; stop(node)
    sends SIGTERM (kill=True: SIGKILL, as when a node dies); teardown() deletes
    every pod, stops the agents, `node reset`s each root and returns what was
    left behind ([] when nothing)."""

    def __init__(self, srv, *extra):
        self.srv, self.extra = srv, extra
        self.base = tempfile.mkdtemp(prefix="gt-agents-")
        self.procs, self.roots, self.nets = {}, {}, {}

    def start(self, node, wait=True):
        bridge, subnet = self.nets.get(node) or alloc_net()
        self.nets[node] = (bridge, subnet)
        root = self.roots.setdefault(node, os.path.join(self.base, node))
        log = open(os.path.join(self.base, node + ".log"), "ab")
        self.procs[node] = subprocess.Popen(
            [self.srv.bin, "agent", "--kubeconfig", self.srv.kubeconfig, "--node-name", node,
             "--root-dir", root, "--bridge", bridge, "--subnet", subnet,
             "--backoff-base-ms", "300", "--backoff-max-ms", "1000", *self.extra],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        log.close()
        if wait:
            assert poll(lambda: self.ready(node), 20), "agent %s not Ready:\n%s" % (
                node, self.log_tail(node))
        return self

    def ready(self, node):
        r = self.srv.request("GET", "/api/v1/nodes/" + node)
        return r.status == 200 and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in r.json().get("status", {}).get("conditions", []))

    def log_tail(self, node, n=40):
        try:
            with open(os.path.join(self.base, node + ".log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self, node, kill=False):
        p = self.procs.pop(node, None)
        if p is None:
            return None
        p.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            return p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()

    def teardown(self):
        srv, left = self.srv, []
        if srv.alive():
            delete_workloads(srv)
            for p in srv.get("/api/v1/pods")["items"]:
                m = p["metadata"]
                srv.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (m["namespace"], m["name"]),
                            {"gracePeriodSeconds": 0})
            poll(lambda: all(not os.path.isdir(os.path.join(r, "pods")) or
                             not os.listdir(os.path.join(r, "pods"))
                             for n, r in self.roots.items() if n in self.procs), 20)
        for node in list(self.procs):
            self.stop(node)
        for node, root in self.roots.items():
            subprocess.run([srv.bin, "node", "reset", "--root-dir", root], capture_output=True,
                           timeout=120)
            if runc_list(root):
                left.append("containers of %s: %r" % (node, runc_list(root)))
            bridge = self.nets[node][0]
            if os.path.exists("/sys/class/net/" + bridge):
                left.append("bridge %s" % bridge)
        if os.environ.get("GANTRY_E2E_KEEP") != "1":
            shutil.rmtree(self.base, ignore_errors=True)
        return left


class PodWatch:
    """Every pod event of a namespace, in order (Python client watch):
    (type, name, phase, ready, being deleted, node)."""

    def __init__(self, srv, ns):
        from kubernetes import client, watch
        self.events, self.w, self.error = [], watch.Watch(), None
        api = client.CoreV1Api(srv.api_client())

        def run():
            try:
                for ev in self.w.stream(api.list_namespaced_pod, ns, timeout_seconds=600):
                    o = ev["object"]
                    ready = any(c.type == "Ready" and c.status == "True"
                                for c in (o.status.conditions or []))
                    self.events.append((ev["type"], o.metadata.name, o.status.phase, ready,
                                        o.metadata.deletion_timestamp is not None, o.spec.node_name))
            except Exception as e:  # noqa: BLE001 - the server going away ends the stream
                self.error = e
        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()

    def stop(self):
        self.w.stop()
