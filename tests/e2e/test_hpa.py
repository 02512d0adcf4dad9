"""Resource metrics and the HorizontalPodAutoscaler (issue 4): the agent's
cgroup figures served as metrics.k8s.io (kubectl top, both kubectls), an
HPA scaling a CPU-burning Deployment up and back down, and bad HPAs
refused with the field path."""
import re

import pytest

from conftest import VERSIONS, Agents, _ns_name, agent_server, agent_teardown, poll

BURN = "while [ ! -e /etc/load/off ]; do :; done; sleep 3600"


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-hpa", "--hpa-sync-period", "2")
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


# burns a CPU while the ConfigMap says so ("read" fails at the missing newline but sets m)
LOAD = "while :; do read m < /load/mode; [ \"$m\" = burn ] || break; done; exec sleep 3600"


def burn_deployment(name):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "burn", "image": "host",
                                         "command": ["sh", "-c", LOAD],
                                         "resources": {"requests": {"cpu": "100m"}},
                                         "volumeMounts": [{"name": "load", "mountPath": "/load"}]}],
                         "volumes": [{"name": "load", "configMap": {"name": "load"}}]}}}}


def cond(hpa, t):
    return next((c for c in hpa.get("status", {}).get("conditions", []) if c["type"] == t), {})


def test_hpa_scales_a_cpu_burning_deployment_up_and_down(srv):
    ns = srv.make_ns(_ns_name("hpa-scale"))
    srv.create("/api/v1/namespaces/%s/configmaps" % ns, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "load"},
        "data": {"mode": "burn"}})
    srv.create("/apis/apps/v1/namespaces/%s/deployments" % ns, burn_deployment("burn"))
    # kubectl 1.33 creates it (autoscaling/v2, a protobuf body)
    out = srv.kubectl("1.33", "autoscale", "deployment", "burn", "-n", ns, "--cpu-percent=50",
                      "--min=1", "--max=3").stdout
    assert "autoscaled" in out, out
    hpa_path = "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers/burn" % ns
    hpa = srv.get(hpa_path)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "burn"}, hpa["spec"]
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == \
        {"type": "Utilization", "averageUtilization": 50}, hpa["spec"]
    # a short scale-down window so the test ends soon; the rest defaulted
    r = srv.request("PATCH", hpa_path, {"spec": {"behavior": {"scaleDown": {
        "stabilizationWindowSeconds": 5}}}}, content_type="application/merge-patch+json")
    assert r.status == 200, r
    b = r.json()["spec"]["behavior"]
    assert b["scaleDown"]["stabilizationWindowSeconds"] == 5 and \
        b["scaleDown"]["policies"] == [{"type": "Percent", "value": 100, "periodSeconds": 15}], b
    assert b["scaleUp"]["stabilizationWindowSeconds"] == 0 and b["scaleUp"]["selectPolicy"] == "Max"

    def replicas():
        return srv.get("/apis/apps/v1/namespaces/%s/deployments/burn" % ns)["spec"].get("replicas")
    assert poll(lambda: replicas() == 3, 120, 1), (replicas(), srv.get(hpa_path).get("status"))
    hpa = srv.get(hpa_path)
    st = hpa["status"]
    assert st["desiredReplicas"] == 3 and st.get("lastScaleTime"), st
    assert cond(hpa, "ScalingActive").get("status") == "True", st
    assert cond(hpa, "ScalingActive")["reason"] == "ValidMetricFound", st
    assert cond(hpa, "AbleToScale").get("status") == "True", st
    # a busy loop is far above 50 % of 100m: held at maxReplicas
    assert poll(lambda: srv.get(hpa_path)["status"].get("currentMetrics"), 30, 1)
    assert poll(lambda: cond(srv.get(hpa_path), "ScalingLimited").get("reason") == "TooManyReplicas",
                60, 1), srv.get(hpa_path)["status"]
    cur = srv.get(hpa_path)["status"]["currentMetrics"][0]["resource"]
    assert cur["name"] == "cpu" and cur["current"]["averageUtilization"] > 50, cur
    evs = srv.get("/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name%%3Dburn,"
                  "reason%%3DSuccessfulRescale" % ns)["items"]
    assert any(e["message"].startswith("New size: ") and "above target" in e["message"] and
               e["involvedObject"]["kind"] == "HorizontalPodAutoscaler" for e in evs), evs
    for v in VERSIONS:
        # REPLICAS is the target's status.replicas: 3 once the pods exist
        def row():
            out = srv.kubectl(v, "get", "hpa", "-n", ns).stdout
            head = out.splitlines()[0].split()
            assert head == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS",
                            "AGE"], out
            return re.search(r"^burn\s+Deployment/burn\s+cpu: \d+%/50%\s+1\s+3\s+3\s", out, re.M)
        assert poll(row, 30, 1), srv.kubectl(v, "get", "hpa", "-n", ns).stdout
        # describe: 1.20 falls back from v2beta2 to the v1 view, 1.33 reads v2
        out = srv.kubectl(v, "describe", "hpa", "burn", "-n", ns).stdout
        assert re.search(r"Reference:\s+Deployment/burn", out) and \
            re.search(r"Deployment pods:\s+3 current / 3 desired", out), out
        assert "SuccessfulRescale" in out and "New size: 3" in out, out

    # the load stops: back down to minReplicas
    r = srv.request("PATCH", "/api/v1/namespaces/%s/configmaps/load" % ns,
                    {"data": {"mode": "idle"}}, content_type="application/merge-patch+json")
    assert r.status == 200, r
    assert poll(lambda: replicas() == 1, 180, 1), (replicas(), srv.get(hpa_path).get("status"))
    evs = srv.get("/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name%%3Dburn,"
                  "reason%%3DSuccessfulRescale" % ns)["items"]
    assert any(e["message"] == "New size: 1; reason: All metrics below target" for e in evs), evs
    srv.kubectl("1.33", "delete", "deployment", "burn", "-n", ns)


def test_bad_hpa_is_refused_with_the_field(srv):
    ns = srv.make_ns(_ns_name("hpa-bad"))
    path = "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers" % ns

    def body(**spec):
        s = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
             "minReplicas": 1, "maxReplicas": 3}
        s.update(spec)
        return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "bad"}, "spec": {k: v for k, v in s.items() if v is not None}}
    cases = [
        (body(minReplicas=5, maxReplicas=2), "spec.maxReplicas",
         "must be greater than or equal to `minReplicas`"),
        (body(scaleTargetRef=None), "spec.scaleTargetRef", "Required value"),
        (body(minReplicas=0), "spec.minReplicas", "must be greater than or equal to 1"),
        (body(metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization"}}}]), "spec.metrics[0].resource.target.averageUtilization",
         "Required value"),
        (body(behavior={"scaleDown": {"stabilizationWindowSeconds": 4000}}),
         "spec.behavior.scaleDown.stabilizationWindowSeconds", "less than or equal to 3600"),
    ]
    for b, field, text in cases:
        r = srv.request("POST", path, b)
        assert r.status == 422, (b, r)
        st = r.json()
        assert st["reason"] == "Invalid" and field in [c["field"] for c in st["details"]["causes"]], st
        assert text in st["message"], st
    # nothing was written
    assert srv.get(path)["items"] == []
    for v in VERSIONS:
        p = srv.kubectl(v, "create", "-f", "-", "-n", ns, check=False,
                        input=__import__("json").dumps(body(minReplicas=5, maxReplicas=2)))
        assert p.returncode != 0 and "spec.maxReplicas" in p.stderr, p.stderr


def test_kubectl_120_autoscale_creates_v1_and_missing_requests_are_reported(srv):
    ns = srv.make_ns(_ns_name("hpa-v1"))
    d = burn_deployment("web")
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["command"] = ["sleep", "3600"]
    del c["resources"], c["volumeMounts"], d["spec"]["template"]["spec"]["volumes"]
    srv.create("/apis/apps/v1/namespaces/%s/deployments" % ns, d)
    # kubectl 1.20 posts autoscaling/v1 with a typed client
    out = srv.kubectl("1.20", "autoscale", "deployment", "web", "-n", ns, "--cpu-percent=60",
                      "--min=1", "--max=4").stdout
    assert "horizontalpodautoscaler.autoscaling/web autoscaled" in out, out
    v1 = srv.get("/apis/autoscaling/v1/namespaces/%s/horizontalpodautoscalers/web" % ns)
    assert v1["apiVersion"] == "autoscaling/v1" and v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert v1["spec"]["minReplicas"] == 1 and v1["spec"]["maxReplicas"] == 4, v1
    lst = srv.get("/apis/autoscaling/v1/namespaces/%s/horizontalpodautoscalers" % ns)
    assert lst["kind"] == "HorizontalPodAutoscalerList" and \
        [i["spec"]["targetCPUUtilizationPercentage"] for i in lst["items"]] == [60], lst
    v2_path = "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers/web" % ns
    v2 = srv.get(v2_path)
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 60}}}], v2["spec"]
    # the pods request no CPU: no utilization, no scaling, and the condition says why
    assert poll(lambda: cond(srv.get(v2_path), "ScalingActive").get("reason") ==
                "FailedGetResourceMetric", 30, 1), srv.get(v2_path).get("status")
    msg = cond(srv.get(v2_path), "ScalingActive")["message"]
    assert "missing request for cpu in container burn of Pod web-" in msg, msg
    assert srv.get("/apis/apps/v1/namespaces/%s/deployments/web" % ns)["spec"]["replicas"] == 1
    for v in VERSIONS:
        out = srv.kubectl(v, "get", "hpa", "-n", ns).stdout
        assert re.search(r"^web\s+Deployment/web\s+cpu: <unknown>/60%\s+1\s+4\s", out, re.M), out
    srv.kubectl("1.20", "delete", "hpa", "web", "-n", ns)
    assert srv.get("/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers" % ns)["items"] == []
    srv.kubectl("1.33", "delete", "deployment", "web", "-n", ns)


def test_metrics_from_a_second_agent(srv):
    """The API server pulls each node's figures from that node's agent."""
    ns = srv.make_ns(_ns_name("hpa-agents"))
    agents = Agents(srv)
    try:
        agents.start("agent-hpa-2")
        pod = burner_pod("far")
        pod["spec"]["nodeName"] = "agent-hpa-2"
        srv.create("/api/v1/namespaces/%s/pods" % ns, pod)
        path = "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods/far" % ns
        assert poll(lambda: srv.request("GET", path).status == 200, 60, 1), \
            (srv.request("GET", path), agents.log_tail("agent-hpa-2"))
        assert srv.get(path)["containers"][0]["name"] == "burn"
        nodes = {i["metadata"]["name"] for i in
                 srv.get("/apis/metrics.k8s.io/v1beta1/nodes")["items"]}
        assert nodes == {srv.node, "agent-hpa-2"}, nodes
        for v in VERSIONS:
            out = srv.kubectl(v, "top", "node").stdout
            assert re.search(r"^agent-hpa-2\s+\d+m\s+\d+%", out, re.M), out
            out = srv.kubectl(v, "top", "pod", "far", "-n", ns).stdout
            assert re.search(r"^far\s+\d+m\s+\d+Mi", out, re.M), out
    finally:
        left = agents.teardown()
        srv.request("DELETE", "/api/v1/nodes/agent-hpa-2")
    assert not left, left
