"""Resource metrics and the HorizontalPodAutoscaler (issue 4): the agent's
cgroup figures served as metrics.k8s.io (kubectl top, both kubectls), an
HPA scaling a CPU-burning Deployment up and back down, and bad HPAs
refused with the field path."""
import re

import pytest

from conftest import VERSIONS, _ns_name, agent_server, agent_teardown, poll

BURN = "while [ ! -e /etc/load/off ]; do :; done; sleep 3600"


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-hpa")
    yield s
    agent_teardown(s)


def burner_pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "burn", "image": "host", "command": ["sh", "-c", "while :; do :; done"],
                "resources": {"requests": {"cpu": "100m"}}}]}}


def cpu_nano(q):
    m = re.fullmatch(r"(\d+)(n|u|m|)", q)
    assert m, q
    return int(m.group(1)) * {"n": 1, "u": 1000, "m": 1000000, "": 1000000000}[m.group(2)]


def test_metrics_api_and_kubectl_top(srv):
    ns = srv.make_ns(_ns_name("hpa-top"))
    # discovery: the group and its two resources
    groups = [g["name"] for g in srv.get("/apis")["groups"]]
    assert "metrics.k8s.io" in groups
    res = {r["name"]: r for r in srv.get("/apis/metrics.k8s.io/v1beta1")["resources"]}
    assert res["nodes"]["kind"] == "NodeMetrics" and not res["nodes"]["namespaced"]
    assert res["pods"]["kind"] == "PodMetrics" and res["pods"]["namespaced"]
    assert sorted(res["pods"]["verbs"]) == ["get", "list"]

    pod = srv.create("/api/v1/namespaces/%s/pods" % ns, burner_pod("burner"))
    srv.pod_uids.add(pod["metadata"]["uid"])
    srv.create("/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "idle", "labels": {"app": "idle"}},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "c", "image": "host", "command": ["sleep", "3600"]}]}})
    path = "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods" % ns

    def burning():
        r = srv.request("GET", path + "/burner")
        return r.status == 200 and cpu_nano(r.json()["containers"][0]["usage"]["cpu"]) > 0 and r.json()
    pm = poll(burning, 60, 1)
    assert pm, srv.request("GET", path + "/burner")
    assert pm["kind"] == "PodMetrics" and pm["metadata"]["namespace"] == ns
    assert pm["metadata"]["labels"] == {"app": "burner"}
    assert re.fullmatch(r"\d+(\.\d+)?s", pm["window"]), pm
    assert pm["timestamp"].endswith("Z")
    c = pm["containers"][0]
    assert c["name"] == "burn" and re.fullmatch(r"\d+Ki", c["usage"]["memory"]), c
    # a busy loop uses more CPU than a sleeping pod
    assert poll(lambda: srv.request("GET", path + "/idle").status == 200, 30, 1)

    def usage(name):
        return cpu_nano(srv.get(path + "/" + name)["containers"][0]["usage"]["cpu"])
    assert poll(lambda: usage("burner") > usage("idle"), 30, 1), \
        (srv.get(path + "/burner"), srv.get(path + "/idle"))

    # list, labelSelector, not found
    names = [i["metadata"]["name"] for i in srv.get(path)["items"]]
    assert sorted(names) == ["burner", "idle"], names
    sel = srv.get(path + "?labelSelector=app%3Dburner")
    assert sel["kind"] == "PodMetricsList" and [i["metadata"]["name"] for i in sel["items"]] == ["burner"]
    assert srv.request("GET", path + "/nope").status == 404
    assert srv.request("DELETE", path + "/burner").status == 405

    # nodes
    nm = srv.get("/apis/metrics.k8s.io/v1beta1/nodes/" + srv.node)
    assert nm["kind"] == "NodeMetrics" and cpu_nano(nm["usage"]["cpu"]) > 0
    assert re.fullmatch(r"\d+Ki", nm["usage"]["memory"]) and int(nm["usage"]["memory"][:-2]) > 0
    assert [i["metadata"]["name"] for i in srv.get("/apis/metrics.k8s.io/v1beta1/nodes")["items"]] \
        == [srv.node]

    for v in VERSIONS:
        out = srv.kubectl(v, "top", "node").stdout
        line = [l for l in out.splitlines() if l.startswith(srv.node)]
        assert line, out
        cells = line[0].split()
        assert re.fullmatch(r"\d+m", cells[1]) and cells[2].endswith("%"), out
        assert re.fullmatch(r"\d+Mi", cells[3]) and cells[4].endswith("%"), out
        out = srv.kubectl(v, "top", "pod", "-n", ns).stdout
        rows = {l.split()[0]: l.split() for l in out.splitlines()[1:]}
        assert set(rows) == {"burner", "idle"}, out
        assert re.fullmatch(r"\d+m", rows["burner"][1]) and rows["burner"][2].endswith("Mi"), out
        assert re.fullmatch(r"\d+m", rows["idle"][1]), out
        out = srv.kubectl(v, "top", "pod", "-n", ns, "-l", "app=burner", "--containers").stdout
        assert re.search(r"^burner\s+burn\s+\d+m\s+\d+Mi", out, re.M), out
    srv.request("DELETE", "/api/v1/namespaces/%s/pods/burner" % ns)
