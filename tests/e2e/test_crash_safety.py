"""Durability: every acknowledged write survives kill -9 of the server, with
the same resourceVersion, and resourceVersions never go backwards; a clean
SIGTERM shutdown keeps everything too."""
import http.client
import json
import threading
import time

from conftest import cm_body

NS = "crash"
THREADS = 8
TARGET = 200


def _creator(srv, tid, acked, lock, stop):
    conn = http.client.HTTPSConnection(srv.host, srv.port, context=srv._ssl, timeout=10)
    hdr = {"Authorization": "Bearer " + srv.token, "Content-Type": "application/json",
           "Accept": "application/json"}
    i = 0
    while not stop.is_set():
        name = "cm-%d-%d" % (tid, i)
        i += 1
        try:
            conn.request("POST", "/api/v1/namespaces/%s/configmaps" % NS,
                         json.dumps(cm_body(name, {"i": str(i), "t": str(tid)})), hdr)
            r = conn.getresponse()
            body = r.read()
        except (OSError, http.client.HTTPException):
            return  # the server is gone
        if r.status == 201:
            rv = json.loads(body)["metadata"]["resourceVersion"]
            with lock:
                acked[name] = rv


def test_acknowledged_writes_survive_kill9(new_server):
    srv = new_server()
    srv.make_ns(NS)
    list_rv_before = int(srv.get("/api/v1/namespaces/%s/configmaps" % NS)["metadata"][
        "resourceVersion"])
    acked, lock, stop = {}, threading.Lock(), threading.Event()
    threads = [threading.Thread(target=_creator, args=(srv, t, acked, lock, stop), daemon=True)
               for t in range(THREADS)]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        with lock:
            if len(acked) >= TARGET:
                break
        time.sleep(0.01)
    # kill while the writers are still sending
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(15)
    with lock:
        acked = dict(acked)
    assert len(acked) >= TARGET, "only %d creates acknowledged in 60 s" % len(acked)
    max_acked = max(int(rv) for rv in acked.values())
    assert len(set(acked.values())) == len(acked), "two creates got the same resourceVersion"

    srv.start()
    lst = srv.get("/api/v1/namespaces/%s/configmaps" % NS)
    have = {i["metadata"]["name"]: i for i in lst["items"]}
    missing = sorted(set(acked) - set(have))
    assert not missing, "%d acknowledged objects lost after kill -9, e.g. %s" % (
        len(missing), missing[:5])
    changed = [(n, acked[n], have[n]["metadata"]["resourceVersion"]) for n in acked
               if have[n]["metadata"]["resourceVersion"] != acked[n]]
    assert not changed, "resourceVersion changed across restart: %r" % changed[:5]
    for n in list(acked)[:20]:
        o = srv.get("/api/v1/namespaces/%s/configmaps/%s" % (NS, n))
        assert o["data"]["t"] == n.split("-")[1], o
    list_rv = int(lst["metadata"]["resourceVersion"])
    assert list_rv >= max_acked and list_rv > list_rv_before, (list_rv, max_acked)

    # new writes get resourceVersions above everything seen before the crash
    o = srv.create("/api/v1/namespaces/%s/configmaps" % NS, cm_body("after-restart"))
    assert int(o["metadata"]["resourceVersion"]) > list_rv
    # a watch from the post-restart list RV sees the new object
    r = srv.request("GET", "/api/v1/namespaces/%s/configmaps?watch=true&resourceVersion=%d"
                    "&timeoutSeconds=2" % (NS, list_rv))
    assert r.status == 200, r
    evs = [json.loads(l) for l in r.body.splitlines() if l.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [
        ("ADDED", "after-restart")], evs


def test_sigterm_shutdown_is_clean_and_keeps_data(new_server):
    srv = new_server()
    srv.make_ns("term")
    o = srv.create("/api/v1/namespaces/term/configmaps", cm_body("keep", {"k": "v"}))
    token, ca = srv.token, srv.ca_pem
    start = time.time()
    rc = srv.stop()
    assert rc == 0, "exit status after SIGTERM: %r\n%s" % (rc, srv.log_tail())
    assert time.time() - start < 10
    srv.start()
    got = srv.get("/api/v1/namespaces/term/configmaps/keep")
    assert got["data"] == {"k": "v"}
    assert got["metadata"]["resourceVersion"] == o["metadata"]["resourceVersion"]
    assert got["metadata"]["uid"] == o["metadata"]["uid"]
    # the CA and token are reused: the new kubeconfig has the same token and CA
    assert srv.token == token and srv.ca_pem == ca
    ns = srv.get("/api/v1/namespaces/default")
    assert ns["status"]["phase"] == "Active"
