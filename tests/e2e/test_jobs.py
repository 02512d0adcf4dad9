"""Job and CronJob controllers (issue 4), with real pods of the `host` image
on the embedded agent: failures and back-off, backoffLimit, Indexed Jobs and
JOB_COMPLETION_INDEX, parallelism, `kubectl wait --for=condition=complete`,
suspend/resume, activeDeadlineSeconds, ttlSecondsAfterFinished,
podFailurePolicy, a CronJob that runs, `kubectl create job --from=cronjob`,
and bad input."""
import json
import time

import pytest

from conftest import VERSIONS, _ns_name, agent_server, agent_teardown, pod_logs, poll


@pytest.fixture(scope="module")
def srv(new_server):
    s = agent_server(new_server, "agent-jobs", "--job-backoff-ms", "200")
    yield s
    agent_teardown(s)


def job_body(name, script, restart="Never", **spec):
    s = {"template": {"spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 1,
                               "containers": [{"name": "main", "image": "host",
                                               "command": ["sh", "-c", script]}]}}}
    s.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": s}


def jobs_path(ns, name=""):
    return "/apis/batch/v1/namespaces/%s/jobs%s" % (ns, "/" + name if name else "")


def get_job(srv, ns, name):
    return srv.get(jobs_path(ns, name))


def cond(job, type_):
    for c in job.get("status", {}).get("conditions") or []:
        if c["type"] == type_ and c["status"] == "True":
            return c
    return None


def wait_cond(srv, ns, name, type_, timeout=60):
    last = [None]

    def check():
        last[0] = get_job(srv, ns, name)
        return cond(last[0], type_)
    c = poll(check, timeout, 0.2)
    assert c, "job %s/%s: no %s condition in %ss: %s\npods: %s\n%s" % (
        ns, name, type_, timeout, last[0].get("status"), pods_of(srv, ns, name), srv.log_tail(30))
    return last[0]


def pods_of(srv, ns, job):
    items = srv.get("/api/v1/namespaces/%s/pods?labelSelector=batch.kubernetes.io/job-name%%3D%s"
                    % (ns, job))["items"]
    return sorted(items, key=lambda p: p["metadata"]["creationTimestamp"] + p["metadata"]["name"])


def phases(pods):
    return [p.get("status", {}).get("phase") for p in pods]


def test_failures_back_off_then_success(srv, tmp_path):
    """Pods fail until an attempt counter on a hostPath volume reaches 3:
    the Job re-creates them (after the back-off) and completes."""
    ns = srv.make_ns(_ns_name("jobs-retry"))
    d = tmp_path / "counter"
    d.mkdir()
    body = job_body("retry", "n=$(cat /c/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /c/n; "
                    "echo attempt $n; [ $n -ge 3 ]", backoffLimit=4)
    spec = body["spec"]["template"]["spec"]
    spec["volumes"] = [{"name": "c", "hostPath": {"path": str(d), "type": "Directory"}}]
    spec["containers"][0]["volumeMounts"] = [{"name": "c", "mountPath": "/c"}]
    job = srv.create(jobs_path(ns), body)
    done = wait_cond(srv, ns, "retry", "Complete", 90)
    st = done["status"]
    assert st["succeeded"] == 1 and st["failed"] == 2 and st.get("active", 0) == 0, st
    assert st["startTime"] and st["completionTime"], st
    assert cond(done, "SuccessCriteriaMet"), st
    assert (d / "n").read_text().strip() == "3"
    pods = pods_of(srv, ns, "retry")
    assert phases(pods) == ["Failed", "Failed", "Succeeded"], phases(pods)
    for p in pods:
        m = p["metadata"]
        ref = m["ownerReferences"][0]
        assert ref["kind"] == "Job" and ref["uid"] == job["metadata"]["uid"] and ref["controller"], m
        assert m["name"].startswith("retry-") and not m.get("finalizers"), m
        for k in ("batch.kubernetes.io/controller-uid", "controller-uid"):
            assert m["labels"][k] == job["metadata"]["uid"], m["labels"]
        for k in ("batch.kubernetes.io/job-name", "job-name"):
            assert m["labels"][k] == "retry", m["labels"]
    assert "attempt 3" in pod_logs(srv, ns, pods[2]["metadata"]["name"])
    # the finished pods were counted once: deleting them changes nothing
    for p in pods:
        srv.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (ns, p["metadata"]["name"]))
    assert poll(lambda: not pods_of(srv, ns, "retry"), 30)
    st = get_job(srv, ns, "retry")["status"]
    assert st["succeeded"] == 1 and st["failed"] == 2, st


def test_backoff_limit_exceeded(srv):
    ns = srv.make_ns(_ns_name("jobs-limit"))
    srv.create(jobs_path(ns), job_body("never", "exit 3", backoffLimit=1))
    j = wait_cond(srv, ns, "never", "Failed", 60)
    c = cond(j, "Failed")
    assert c["reason"] == "BackoffLimitExceeded", c
    assert c["message"] == "Job has reached the specified backoff limit", c
    assert cond(j, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    assert j["status"]["failed"] == 2 and not j["status"].get("succeeded"), j["status"]
    assert not cond(j, "Complete") and "completionTime" not in j["status"]
    assert phases(pods_of(srv, ns, "never")) == ["Failed", "Failed"]
    # kubectl reads the same status
    p = srv.kubectl("1.33", "describe", "job", "never", "-n", ns)
    assert "0 Active (0 Ready) / 0 Succeeded / 2 Failed" in p.stdout, p.stdout
    p = srv.kubectl("1.20", "get", "job", "never", "-n", ns, "-o",
                    'jsonpath={.status.conditions[?(@.type=="Failed")].reason}')
    assert p.stdout == "BackoffLimitExceeded", p.stdout


def test_on_failure_restarts_count_toward_the_limit(srv):
    ns = srv.make_ns(_ns_name("jobs-onfailure"))
    srv.create(jobs_path(ns), job_body("crash", "exit 1", restart="OnFailure", backoffLimit=2))
    j = wait_cond(srv, ns, "crash", "Failed", 60)
    assert cond(j, "Failed")["reason"] == "BackoffLimitExceeded", j["status"]
    # one pod, restarted in place, then deleted by the failing Job
    assert poll(lambda: len(pods_of(srv, ns, "crash")) <= 1, 20)


def test_indexed_job_and_kubectl_wait(srv):
    ns = srv.make_ns(_ns_name("jobs-indexed"))
    srv.create(jobs_path(ns), job_body(
        "ix", "echo index=$JOB_COMPLETION_INDEX host=$(hostname)", completions=3, parallelism=3,
        completionMode="Indexed"))
    for v in VERSIONS:
        p = srv.kubectl(v, "wait", "--for=condition=complete", "--timeout=60s", "job/ix", "-n", ns,
                        timeout=90)
        assert "job.batch/ix condition met" in p.stdout, p.stdout + p.stderr
    j = get_job(srv, ns, "ix")
    assert j["status"]["completedIndexes"] == "0-2" and j["status"]["succeeded"] == 3, j["status"]
    pods = pods_of(srv, ns, "ix")
    assert len(pods) == 3, [p["metadata"]["name"] for p in pods]
    seen = set()
    for p in pods:
        m = p["metadata"]
        ix = m["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert m["labels"]["batch.kubernetes.io/job-completion-index"] == ix
        assert m["name"].startswith("ix-%s-" % ix), m["name"]
        assert p["spec"]["hostname"] == "ix-" + ix
        out = pod_logs(srv, ns, m["name"])
        assert out.strip() == "index=%s host=ix-%s" % (ix, ix), out
        seen.add(ix)
    assert seen == {"0", "1", "2"}


def test_parallelism_bounds_active_pods(srv):
    ns = srv.make_ns(_ns_name("jobs-par"))
    srv.create(jobs_path(ns), job_body("par", "sleep 1", completions=4, parallelism=2))
    most = [0]

    def finished():
        running = [p for p in pods_of(srv, ns, "par")
                   if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")]
        most[0] = max(most[0], len(running))
        return cond(get_job(srv, ns, "par"), "Complete")
    assert poll(finished, 90, 0.1), get_job(srv, ns, "par")["status"]
    assert most[0] == 2, most[0]
    assert phases(pods_of(srv, ns, "par")) == ["Succeeded"] * 4
    assert get_job(srv, ns, "par")["status"]["succeeded"] == 4


def test_work_queue_without_completions(srv):
    """completions unset: done when one pod succeeded and none is running."""
    ns = srv.make_ns(_ns_name("jobs-queue"))
    body = job_body("queue", "sleep 1")
    body["spec"]["parallelism"] = 2
    srv.create(jobs_path(ns), body)
    j = wait_cond(srv, ns, "queue", "Complete", 60)
    assert j["spec"].get("completions") is None
    assert j["status"]["succeeded"] == 2, j["status"]


def test_suspend_and_resume(srv):
    ns = srv.make_ns(_ns_name("jobs-suspend"))
    srv.create(jobs_path(ns), job_body("sus", "sleep 3600", suspend=True))
    j = wait_cond(srv, ns, "sus", "Suspended", 30)
    assert cond(j, "Suspended")["reason"] == "JobSuspended" and not pods_of(srv, ns, "sus")
    assert "startTime" not in j["status"], j["status"]
    srv.kubectl("1.33", "patch", "job", "sus", "-n", ns, "-p", '{"spec":{"suspend":false}}')
    assert poll(lambda: phases(pods_of(srv, ns, "sus")) == ["Running"], 30), pods_of(srv, ns, "sus")
    j = get_job(srv, ns, "sus")
    assert j["status"]["startTime"] and not cond(j, "Suspended"), j["status"]
    assert poll(lambda: get_job(srv, ns, "sus")["status"].get("active") == 1, 15)
    srv.kubectl("1.20", "patch", "job", "sus", "-n", ns, "-p", '{"spec":{"suspend":true}}')
    j = wait_cond(srv, ns, "sus", "Suspended", 30)
    assert poll(lambda: not pods_of(srv, ns, "sus"), 30), pods_of(srv, ns, "sus")
    j = get_job(srv, ns, "sus")
    assert j["status"].get("active") == 0 and not j["status"].get("failed"), j["status"]
    srv.kubectl("1.33", "delete", "job", "sus", "-n", ns)


def test_active_deadline(srv):
    ns = srv.make_ns(_ns_name("jobs-deadline"))
    srv.create(jobs_path(ns), job_body("late", "sleep 3600", activeDeadlineSeconds=2))
    j = wait_cond(srv, ns, "late", "Failed", 60)
    c = cond(j, "Failed")
    assert c["reason"] == "DeadlineExceeded", c
    assert c["message"] == "Job was active longer than specified deadline", c
    assert j["status"].get("active") == 0, j["status"]
    # the running pod was killed
    assert poll(lambda: all(p.get("status", {}).get("phase") in ("Failed", None) or
                            p["metadata"].get("deletionTimestamp") for p in pods_of(srv, ns, "late")), 30)


def test_ttl_after_finished(srv):
    ns = srv.make_ns(_ns_name("jobs-ttl"))
    srv.create(jobs_path(ns), job_body("brief", "true", ttlSecondsAfterFinished=1))
    wait_cond(srv, ns, "brief", "Complete", 60)
    assert poll(lambda: not srv.exists(jobs_path(ns, "brief")), 30), get_job(srv, ns, "brief")
    assert poll(lambda: not pods_of(srv, ns, "brief"), 30), pods_of(srv, ns, "brief")


def test_pod_failure_policy_fail_job(srv):
    ns = srv.make_ns(_ns_name("jobs-pfp"))
    srv.create(jobs_path(ns), job_body("pfp", "exit 42", backoffLimit=6, podFailurePolicy={"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                              "values": [42]}}]}))
    j = wait_cond(srv, ns, "pfp", "Failed", 60)
    c = cond(j, "Failed")
    pod = pods_of(srv, ns, "pfp")[0]["metadata"]["name"]
    assert c["reason"] == "PodFailurePolicy", c
    assert c["message"] == ("Container main for pod %s/%s failed with exit code 42 matching "
                            "FailJob rule at index 1" % (ns, pod)), c
    assert j["status"]["failed"] == 1 and len(pods_of(srv, ns, "pfp")) == 1, j["status"]


def cronjob_body(name, schedule, script="echo tick", **spec):
    s = {"schedule": schedule, "jobTemplate": {"metadata": {"labels": {"app": name}}, "spec": {
        "template": {"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                              "containers": [{"name": "c", "image": "host",
                                              "command": ["sh", "-c", script]}]}}}}}
    s.update(spec)
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": s}


def test_cronjob_runs_and_create_job_from_it(srv):
    ns = srv.make_ns(_ns_name("jobs-cron"))
    cj = srv.create("/apis/batch/v1/namespaces/%s/cronjobs" % ns,
                    cronjob_body("tick", "* * * * *", successfulJobsHistoryLimit=1))
    # concurrency policies, checked at the first tick: each CronJob already
    # has a running Job (made from it by hand, so it owns it) when it fires
    cns = srv.make_ns(_ns_name("jobs-cron-policy"))
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)  # the tick must not fall in between
    for name, policy in (("a-forbid", "Forbid"), ("b-replace", "Replace")):
        srv.create("/apis/batch/v1/namespaces/%s/cronjobs" % cns,
                   cronjob_body(name, "* * * * *", "sleep 3600", concurrencyPolicy=policy))
        srv.kubectl("1.33", "create", "job", "running-" + name, "--from=cronjob/" + name,
                    "-n", cns)
    # kubectl create job --from=cronjob while we wait for the schedule.  Only
    # kubectl 1.33: 1.20 knows CronJob only as batch/v1beta1, which Kubernetes
    # stopped serving in 1.25 (it fails the same way against a real 1.33 cluster)
    for v in ["1.33"]:
        name = "manual-" + v.replace(".", "")
        srv.kubectl(v, "create", "job", name, "--from=cronjob/tick", "-n", ns)
        j = get_job(srv, ns, name)
        assert j["metadata"]["annotations"].get("cronjob.kubernetes.io/instantiate") == "manual"
        assert j["metadata"]["ownerReferences"][0]["uid"] == cj["metadata"]["uid"]
        p = srv.kubectl(v, "wait", "--for=condition=complete", "--timeout=60s", "job/" + name,
                        "-n", ns, timeout=90)
        assert "condition met" in p.stdout, p.stdout + p.stderr

    def scheduled():
        return [j for j in srv.get(jobs_path(ns))["items"]
                if "batch.kubernetes.io/cronjob-scheduled-timestamp" in
                j["metadata"].get("annotations", {})]
    got = poll(scheduled, 90, 0.5)
    assert got, srv.get("/apis/batch/v1/namespaces/%s/cronjobs/tick" % ns)
    j = got[0]
    ts = j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    when = int(time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)
    assert when % 60 == 0 and j["metadata"]["name"] == "tick-%d" % (when // 60), (ts, j["metadata"])
    assert j["metadata"]["labels"]["app"] == "tick"
    ref = j["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "CronJob" and ref["uid"] == cj["metadata"]["uid"] and ref["controller"]
    name = j["metadata"]["name"]
    wait_cond(srv, ns, name, "Complete", 60)

    def status():
        st = srv.get("/apis/batch/v1/namespaces/%s/cronjobs/tick" % ns).get("status", {})
        return st if st.get("lastSuccessfulTime") and st.get("lastScheduleTime") == ts and \
            not any(a["name"] == name for a in st.get("active") or []) else None
    assert poll(status, 30), srv.get("/apis/batch/v1/namespaces/%s/cronjobs/tick" % ns)
    # successfulJobsHistoryLimit 1: of the finished Jobs, only the newest stays
    assert poll(lambda: len([x for x in srv.get(jobs_path(ns))["items"] if cond(x, "Complete")]) == 1,
                30), [x["metadata"]["name"] for x in srv.get(jobs_path(ns))["items"]]
    p = srv.kubectl("1.33", "get", "cronjob", "tick", "-n", ns)
    assert "* * * * *" in p.stdout, p.stdout

    def jobs_of(cronjob):
        return sorted(j["metadata"]["name"] for j in srv.get(jobs_path(cns))["items"]
                      if j["metadata"]["ownerReferences"][0]["name"] == cronjob and
                      not j["metadata"].get("deletionTimestamp"))
    # the tick (seen above): Replace swapped the running Job for a scheduled
    # one; Forbid (synced first in the same pass, its name sorts first) kept
    # the running one and started none
    assert poll(lambda: jobs_of("b-replace") not in ([], ["running-b-replace"]), 30), \
        jobs_of("b-replace")
    assert len(jobs_of("b-replace")) == 1 and jobs_of("b-replace")[0].startswith("b-replace-"), \
        jobs_of("b-replace")
    assert jobs_of("a-forbid") == ["running-a-forbid"], srv.get(jobs_path(cns))["items"]
    def forbid_active():
        st = srv.get("/apis/batch/v1/namespaces/%s/cronjobs/a-forbid" % cns).get("status", {})
        return [a["name"] for a in st.get("active") or []]
    assert poll(lambda: forbid_active() == ["running-a-forbid"], 10), forbid_active()
    srv.kubectl("1.33", "delete", "cronjob", "a-forbid", "b-replace", "-n", cns)
    assert poll(lambda: not srv.get("/api/v1/namespaces/%s/pods" % cns)["items"], 60)


def causes(r):
    return {c["field"]: c["message"] for c in r.json()["details"]["causes"]}


def test_bad_input(srv):
    ns = srv.make_ns(_ns_name("jobs-bad"))
    r = srv.request("POST", "/apis/batch/v1/namespaces/%s/cronjobs" % ns,
                    cronjob_body("bad", "*/5 * * *"))
    assert r.status == 422, r
    assert causes(r)["spec.schedule"] == \
        'Invalid value: "*/5 * * *": expected exactly 5 fields, found 4: [*/5 * * *]', r
    r = srv.request("POST", "/apis/batch/v1/namespaces/%s/cronjobs" % ns,
                    cronjob_body("bad", "0 25 * * *"))
    assert r.status == 422 and "end of range (25) above maximum (23)" in causes(r)["spec.schedule"], r
    path = srv.write_manifest(json.dumps(cronjob_body("bad", "61 * * * *")))
    for v in VERSIONS:
        p = srv.kubectl(v, "apply", "-n", ns, "-f", path, check=False)
        assert p.returncode != 0 and 'spec.schedule: Invalid value: "61 * * * *": end of range (61) ' \
            'above maximum (59): 61' in p.stderr, p.stderr
    r = srv.request("POST", jobs_path(ns), job_body("neg", "true", backoffLimit=-1))
    assert r.status == 422 and causes(r)["spec.backoffLimit"] == \
        "Invalid value: -1: must be greater than or equal to 0", r
    r = srv.request("POST", jobs_path(ns), job_body("negc", "true", completions=-2))
    assert r.status == 422 and "spec.completions" in causes(r), r
    r = srv.request("POST", jobs_path(ns), job_body("ixnc", "true", completionMode="Indexed", parallelism=2))
    assert r.status == 422 and causes(r)["spec.completions"].startswith("Required value"), r
    r = srv.request("POST", jobs_path(ns), job_body("pfp", "true", restart="OnFailure", podFailurePolicy={
        "rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0]}}]}))
    assert r.status == 422, r
    c = causes(r)
    assert "spec.template.spec.restartPolicy" in c and \
        c["spec.podFailurePolicy.rules[0].onExitCodes.values[0]"] == \
        "Invalid value: 0: must not be 0 for the In operator", c
    # nothing half-written
    assert srv.get(jobs_path(ns))["items"] == []
    assert srv.get("/apis/batch/v1/namespaces/%s/cronjobs" % ns)["items"] == []
