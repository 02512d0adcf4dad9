#!/usr/bin/env python3
"""report.py - turns the RESULT/META lines scripts/run-bench.sh collected into
markdown tables: printed on stdout and, when a doc path is given, written into
that file below its results marker (everything above the marker is kept).
For the node agent it also reads the per-pod traces of gantry-bench pods and
the `perf script` output of the sched process tracepoints recorded meanwhile,
and splits each pod's start into its steps (where the time goes).

With --section interactive or --section sched (a run of that part alone)
only that part's section and its rows of the targets table are replaced in
DOC, between the section's own markers; the other parts' results stay as
they were.

usage: report.py RESULTS [DOC]
       report.py --section interactive|sched RESULTS DOC
"""
import os
import re
import statistics
import sys

MARKER = "<!-- results: written by scripts/run-bench.sh, do not edit below -->"

TARGET_CREATES = 5000.0   # creates/s sustained on 2 cores
TARGET_P99_MS = 20.0      # p99 at 1,000 creates/s
TARGET_IDLE_MB = 30.0     # idle RSS
TARGET_POD_P50_MS = 150.0  # pod created -> Running, p50, 2 cores
TARGET_POD_P99_MS = 500.0  # and p99
TARGET_AGENT_MB = 20.0     # agent RSS, idle
TARGET_PF_RATIO = 0.5      # gantry port-forward throughput / direct loopback
K3S_AGENT_MB = 275         # k3s's published agent RSS (a reference, not measured here)
TARGET_SCHED_PODS_S = 1000.0  # pods scheduled (bound) per second at 5,000 nodes, 2 cores
TARGET_GANG_MS = 1000.0       # a 1,000-pod gang fully bound
# kube-scheduler's own scheduler_perf CI floor at 5,000 nodes (SchedulingBasic,
# test/integration/scheduler_perf thresholds), on larger CI machines
KUBE_SCHED_FLOOR = "680-810"


API_BENCHES = ("create", "rate", "list", "fill", "fanout", "fanout_setup")
SECTION_BEGIN = "<!-- section: {} (a run of this part alone rewrites it) -->"
SECTION_END = "<!-- end of section: {} -->"
TARGETS_HEAD = "### Targets (from the issue)"


def parse(path):
    """RESULT lines as dicts; META lines as {key: last value}, and every value
    of a repeated key (agent_* lines come once per runtime or run) in
    meta["_all"][key]."""
    results, meta = [], {"_all": {}}
    with open(path) as f:
        for line in f:
            kind, _, rest = line.strip().partition(" ")
            if kind == "RESULT":
                results.append(dict(kv.split("=", 1) for kv in rest.split()))
            elif kind == "META":
                key, _, val = rest.partition(" ")
                meta[key] = val
                meta["_all"].setdefault(key, []).append(val)
    return results, meta


def kvs(s):
    return dict(kv.split("=", 1) for kv in s.split()) if s else {}


def med(rows, key):
    vals = [float(r[key]) for r in rows if key in r]
    return statistics.median(vals) if vals else float("nan")


def ratio(a, b):
    return f"{a / b:.2f}x" if b and a == a and b == b else "-"


def mb(kb):
    return f"{int(kb) / 1024:.1f}"


def slow_windows(path, n=4):
    """The n 100 ms windows of a rate trace with the worst latency, in time order."""
    if not path:
        return []
    worst = {}
    try:
        with open(path) as f:
            for line in f:
                t, lat = (float(x) for x in line.split())
                win = int(t // 100)
                worst[win] = max(worst.get(win, 0.0), lat)
    except (OSError, ValueError):
        return []
    top = sorted(worst.items(), key=lambda kv: -kv[1])[:n]
    return sorted((win / 10.0, lat) for win, lat in top)


def pick(results, **want):
    return [r for r in results if all(r.get(k) == v for k, v in want.items())]


def report(results, meta):
    out = []
    w = out.append
    parts = []
    if meta.get("elapsed_api_s"):
        parts.append(f"API part {meta['elapsed_api_s']} s")
    if meta.get("elapsed_agent_s"):
        parts.append(f"agent part {meta['elapsed_agent_s']} s")
    if meta.get("elapsed_interactive_s"):
        parts.append(f"port-forward and exec part {meta['elapsed_interactive_s']} s")
    if meta.get("elapsed_sched_s"):
        parts.append(f"scheduler part {meta['elapsed_sched_s']} s")
    etcd = f", etcd {meta['etcd']}" if meta.get("etcd") else ""
    w(f"Run of {meta.get('date', '?')} on {meta.get('nproc', '?')} CPUs ({meta.get('cpu', '?')}); "
      f"{meta.get('gantry', 'gantry ?')} at {meta.get('commit', '?')}{etcd}; "
      f"data dirs on {meta.get('datadir', '?')}; whole run {meta.get('elapsed_s', '?')} s"
      f"{' (' + ', '.join(parts) + ')' if len(parts) > 1 else ''}; "
      f"load average {meta.get('load_start', '?')} at the start, {meta.get('load_end', '?')} "
      f"at the end (other work on the machine).")
    w("")
    targets = []
    if any(r.get("bench") in API_BENCHES for r in results):
        api_report(results, meta, w, targets)
    if any(k.startswith("agent_") for k in meta["_all"]) or pick(results, bench="pods"):
        agent_report(results, meta, w, targets)
    if has_sched(results, meta):
        w(SECTION_BEGIN.format("sched"))
        sched_report(results, meta, w, targets)
        w(SECTION_END.format("sched"))
        w("")
    if has_interactive(results, meta):
        w(SECTION_BEGIN.format("interactive"))
        interactive_report(results, meta, w, targets)
        w(SECTION_END.format("interactive"))
        w("")
    w(TARGETS_HEAD)
    w("")
    w("| target | measured | |")
    w("|---|---|---|")
    for t in targets:
        w(t)
    return "\n".join(out) + "\n"


def api_report(results, meta, w, targets):
    cfg = kvs(meta.get("config", ""))

    reps = cfg.get("reps", "?")
    w(f"### Creates, closed loop ({cfg.get('secs', '?')} s per point, median of {reps} runs)")
    w("")
    w("| clients | Gantry creates/s | etcd puts/s | Gantry/etcd | Gantry p50 / p99 ms "
      "| etcd p50 / p99 ms | server CPU us/op G / E | client CPU us/op G / E | errors G/E |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    best = (0.0, "?")
    cpu8 = float("nan")
    for c in ("1", "8", "64"):
        g = pick(results, bench="create", target="gantry", clients=c)
        e = pick(results, bench="create", target="etcd", clients=c)
        if not g and not e:
            continue
        gr, er = med(g, "rate"), med(e, "rate")
        if gr == gr and gr > best[0]:
            best = (gr, c)
        spread = ""
        if len(g) > 1:
            spread = f" ({min(float(r['rate']) for r in g):.0f}-{max(float(r['rate']) for r in g):.0f})"
        gerr = sum(int(r["errors"]) for r in g)
        eerr = sum(int(r["errors"]) for r in e)
        w(f"| {c} | {gr:.0f}{spread} | {er:.0f} | {ratio(gr, er)} | "
          f"{med(g, 'p50_ms'):.2f} / {med(g, 'p99_ms'):.2f} | "
          f"{med(e, 'p50_ms'):.2f} / {med(e, 'p99_ms'):.2f} | "
          f"{med(g, 'srv_cpu_us_op'):.0f} / {med(e, 'srv_cpu_us_op'):.0f} | "
          f"{med(g, 'cli_cpu_us_op'):.0f} / {med(e, 'cli_cpu_us_op'):.0f} | {gerr}/{eerr} |")
        if c == "8":
            cpu8 = med(g, "srv_cpu_us_op")
    w("")

    w(f"### Fixed rate: 1,000 creates/s over 8 connections for {cfg.get('rate_secs', '?')} s "
      "(latency from the scheduled send time)")
    w("")
    w("| | achieved/s | p50 ms | p99 ms | max ms | errors | server CPU us/op |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    rate_p99 = float("nan")
    for t in ("gantry", "etcd"):
        for r in pick(results, bench="rate", target=t):
            if t == "gantry":
                rate_p99 = float(r["p99_ms"])
            w(f"| {t} | {float(r['rate']):.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} "
              f"| {r['errors']} | {float(r.get('srv_cpu_us_op', 'nan')):.0f} |")
    rev0 = int(meta.get("rev_before_rate", "0") or 0)
    if rev0 > 20000:
        # Gantry compacts its log on the writer thread every 10,000 writes
        # (half of the default --watch-history 20000), at revisions ~n*10000+1.
        due = [(k - rev0) / 1000.0 for k in range(rev0 // 10000 * 10000 + 1, rev0 + 100000, 10000)
               if k > rev0 and (k - rev0) / 1000.0 < float(cfg.get("rate_secs", 10))]
        if due:
            w("")
            w(f"Gantry's store started this run at revision {rev0}; its log compaction "
              f"(every 10,000 writes) falls due at about " +
              ", ".join(f"{d:.1f} s" for d in due) + " into it.")
    for t in ("gantry", "etcd"):
        worst = slow_windows(meta.get(f"trace_{t}"))
        if worst:
            w("")
            w(f"{t}: slowest 100 ms windows (s after the start: worst latency ms): " +
              ", ".join(f"{a:.1f}: {m:.0f}" for a, m in worst) + ".")
    w("")

    w(f"### List of {cfg.get('list_n', '?')} pods (Gantry GET of the namespace; etcd range "
      "over the same prefix)")
    w("")
    w("| | items | response bytes | p50 ms | min ms | max ms |")
    w("|---|---:|---:|---:|---:|---:|")
    lg = pick(results, bench="list", target="gantry")
    le = pick(results, bench="list", target="etcd")
    for r in lg + le:
        w(f"| {r['target']} | {r['items']} | {r['bytes']} | {r['p50_ms']} | {r['min_ms']} "
          f"| {r['max_ms']} |")
    if lg and le:
        w(f"| Gantry/etcd | | | {ratio(float(lg[0]['p50_ms']), float(le[0]['p50_ms']))} | | |")
    ec = kvs(meta.get("etcdctl_range"))
    if ec:
        native = float(ec["full_ms"]) - float(ec["empty_ms"])
        w(f"| etcd, gRPC via etcdctl (protobuf; process start subtracted) | | | {native:.1f} "
          f"| | |")
    fill = pick(results, bench="fill")
    if fill:
        w("")
        w("Filling them (8 clients): " + ", ".join(
            f"{r['target']} {float(r['rate']):.0f}/s" for r in fill) + ".")
    w("")

    w("### One event to many watchers (time from the create request to each watcher "
      "reading the event)")
    w("")
    w("| | watchers | setup ms | p50 ms | p99 ms | max ms | last watcher, p50 of rounds | "
      "the create itself, p50 ms | missed | server RSS with them, MB |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in ("gantry", "etcd"):
        f = pick(results, bench="fanout", target=t)
        s = pick(results, bench="fanout_setup", target=t)
        if not f:
            w(f"| {t} | - | - | - | - | - | - | - | (did not run, see log) | - |")
            continue
        r = f[0]
        setup = s[0]["setup_ms"] if s else "-"
        rss = mb(s[0].get("rss_kb", 0)) if s else "-"
        before = kvs(meta.get("rss_before_fanout")).get(t)
        if s and before:
            rss += f" (+{(int(s[0].get('rss_kb', 0)) - int(before)) / 1024:.0f})"
        w(f"| {t} | {r['established']}/{r['watchers']} | {setup} | {r['p50_ms']} | "
          f"{r['p99_ms']} | {r['max_ms']} | {r['last_p50_ms']} | {r['create_p50_ms']} | "
          f"{r['missed']} | {rss} |")
    w("")

    w("### Resident memory (VmRSS, MB)")
    w("")
    idle, full = kvs(meta.get("rss_idle")), kvs(meta.get("rss_full"))
    after, end = kvs(meta.get("rss_after_list")), kvs(meta.get("rss_end"))
    pre = kvs(meta.get("rss_before_fanout"))
    w(f"| | idle | holding {cfg.get('list_n', '?')} pods | after the lists "
      f"| after all creates, before the fan-out | end of run |")
    w("|---|---:|---:|---:|---:|---:|")
    for t in ("gantry", "etcd"):
        w(f"| {t} | {mb(idle.get(t, 0))} | {mb(full.get(t, 0))} | {mb(after.get(t, 0))} "
          f"| {mb(pre.get(t, 0))} | {mb(end.get(t, 0))} |")
    objs = sum(int(r["ops"]) for r in results if r.get("bench") in ("create", "rate", "fill")
               and r.get("target") == "gantry")
    if objs:
        w("")
        w(f"Gantry held about {objs} Pods before the fan-out (every create of the run is kept; "
          f"etcd keeps the same keys).")
    w("")

    idle_mb = int(idle.get("gantry", 0)) / 1024
    w = targets.append
    w(f"| >= {TARGET_CREATES:.0f} creates/s sustained on 2 cores | {best[0]:.0f}/s "
      f"(best median, {best[1]} clients; load generator on the same 2 cores) | "
      f"{'met' if best[0] >= TARGET_CREATES else 'MISSED'} |")
    if cpu8 == cpu8 and cpu8 > 0:
        w(f"| (same, server CPU only) | {cpu8:.0f} us of server CPU per create at 8 clients: "
          f"{2e6 / cpu8:.0f}/s if it had both cores to itself | "
          f"{'met' if 2e6 / cpu8 >= TARGET_CREATES else 'MISSED'} |")
    w(f"| p99 <= {TARGET_P99_MS:.0f} ms at 1,000 creates/s | {rate_p99:.2f} ms | "
      f"{'met' if rate_p99 <= TARGET_P99_MS else 'MISSED'} |")
    w(f"| idle RSS <= {TARGET_IDLE_MB:.0f} MB | {idle_mb:.1f} MB | "
      f"{'met' if 0 < idle_mb <= TARGET_IDLE_MB else 'MISSED'} |")


# ---- the node agent ----------------------------------------------------------

PERF_LINE = re.compile(r"^\s*(.*?)\s+(\d+)/(\d+)\s+(\d+\.\d+):\s+sched:(\w+):\s*(.*)$")
CNI_PLUGINS = ("loopback", "bridge", "portmap", "host-local")


class Proc:
    """One process (thread group) below the agent: its parent, execs, end."""

    def __init__(self, pid, parent, forked_by, t):
        self.pid, self.parent, self.forked_by, self.forked = pid, parent, forked_by, t
        self.execs = []          # (time, basename of the file)
        self.end = None

    def image(self):
        return self.execs[0][1] if self.execs else ""

    def span(self, k=0):
        """exec k -> the next exec or the end of the process, in seconds."""
        if len(self.execs) <= k or self.end is None:
            return None
        stop = self.execs[k + 1][0] if k + 1 < len(self.execs) else self.end
        return stop - self.execs[k][0]


def perf_procs(path, agent_pid, shim_name):
    """The agent's descendants from `perf script` output of the sched fork,
    exec and exit tracepoints: {pid: Proc}, and the agent's thread forks
    [(time, forking tid, new tid)]."""
    procs, threads, tgid_of = {}, [], {agent_pid: agent_pid}
    try:
        f = open(path)
    except OSError:
        return {}, []
    with f:
        for line in f:
            m = PERF_LINE.match(line)
            if not m:
                continue
            _, pid, tid, t, ev, rest = m.groups()
            pid, tid, t = int(pid), int(tid), float(t)
            kv = dict(x.split("=", 1) for x in rest.split() if "=" in x)
            if ev == "sched_process_fork":
                if pid not in tgid_of:
                    continue
                child = int(kv.get("child_pid", 0))
                if pid == agent_pid:
                    threads.append((t, tid, child))
                # a thread of a process we follow, or a new process: both
                # get their tgid at the first exec or stay in the parent's
                tgid_of[child] = pid
                procs.setdefault(child, Proc(child, pid, tid, t))
            elif pid in tgid_of and pid != agent_pid:
                p = procs.setdefault(pid, Proc(pid, tgid_of[pid], 0, t))
                if ev == "sched_process_exec":
                    p.execs.append((t, os.path.basename(kv.get("filename", ""))))
                elif ev == "sched_process_exit" and (kv.get("group_dead") == "true" or
                                                     ("group_dead" not in kv and tid == pid)):
                    p.end = t
    return procs, threads


def pod_steps(procs, threads, pods, shim_name):
    """Splits each pod's start (one pod at a time) into steps, in ms."""
    rows = []
    execs = sorted(((p.execs[0][0], p) for p in procs.values() if p.execs), key=lambda x: x[0])
    for post, running in pods:
        done = post + running / 1000.0
        mine = [p for t, p in execs if post <= t <= done + 0.05]
        lo = [p for p in mine if p.image() == "loopback"]
        br = [p for p in mine if p.image() == "bridge"]
        shim = [p for p in mine if p.image() == shim_name]
        if not (lo and br and shim):
            continue
        lo, br, shim = lo[0], br[0], shim[0]
        worker = lo.forked_by
        born = [t for t, _, child in threads if child == worker]
        first = [p.forked for p in procs.values() if p.forked_by == worker and p.forked >= post]
        runc = sorted((p for p in mine if p.parent == shim.pid and p.image() in ("runc", "crun")),
                      key=lambda p: p.execs[0][0])
        ipt = [p for p in mine if p.image().startswith(("iptables", "xtables")) and p.parent == br.pid]
        if len(runc) < 2 or None in (lo.end, br.end, runc[0].end, runc[1].end):
            continue
        t_born = born[0] if born and born[0] >= post else None
        t_first = min(first) if first else lo.execs[0][0]
        step = {
            "informer": (t_born - post) if t_born else None,
            "wait": (t_first - t_born) if t_born else None,
            "netns": lo.execs[0][0] - t_first,
            "lo": lo.span(),
            "bridge": br.span(),
            "iptables": sum(p.span() or 0 for p in ipt),
            "iptables_n": len(ipt),
            "prep": shim.execs[0][0] - br.end,
            "shim": runc[0].execs[0][0] - shim.execs[0][0],
            "create": runc[0].span(),
            "start": runc[1].execs[0][0] - runc[0].end + runc[1].span(),
            "report": done - runc[1].end,
            "total": done - post,
        }
        rows.append({k: (v * 1000.0 if k not in ("iptables_n",) and v is not None else v)
                     for k, v in step.items()})
    return rows


STEPS = [
    ("informer", "create request -> the agent's pod worker started (API write, watch, informer)"),
    ("wait", "the worker idle before its first step"),
    ("netns", "network namespace created, first CNI plugin started"),
    ("lo", "CNI loopback"),
    ("bridge", "CNI bridge (veth, host-local IPAM, iptables masquerade rules)"),
    ("iptables", "  of which iptables, {n} calls"),
    ("prep", "rootfs, volumes, /etc files, OCI config.json"),
    ("shim", "gantry shim started, until it runs `runc create`"),
    ("create", "runc create (runc init sets up the container)"),
    ("start", "runc start"),
    ("report", "status PATCH -> the watcher reads Running"),
    ("total", "total (created -> Running seen)"),
]


def med_of(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt_ms(v):
    return "-" if v is None else f"{v:.1f}"


def proc_spans(procs, shim_name, t0, t1):
    """Run times (exec -> exit, ms) of the processes pod starts ran: those
    started between t0 and t1 (the deletes afterwards run the same plugins)."""
    kinds = {}
    for p in procs.values():
        if not p.execs or not t0 <= p.execs[0][0] <= t1:
            continue
        img = p.image()
        key = None
        if img in CNI_PLUGINS:
            key = f"CNI {img}"
        elif img.startswith(("iptables", "xtables")):
            key = "iptables (each call)"
        elif img in ("runc", "crun") and procs.get(p.parent) and \
                procs[p.parent].image() == shim_name:
            sib = sorted((q for q in procs.values() if q.parent == p.parent and
                          q.image() in ("runc", "crun")), key=lambda q: q.execs[0][0])
            key = f"{img} create" if sib and sib[0] is p else f"{img} start"
        if key and p.span() is not None:
            kinds.setdefault(key, []).append(p.span() * 1000.0)
    return kinds


def agent_report(results, meta, w, targets):
    al = meta["_all"]
    cfg = kvs(meta.get("agent_config", ""))
    n = cfg.get("pods", kvs(meta.get("config", "")).get("pods", "?"))
    ver = kvs(meta.get("agent_versions", ""))
    w(f"### Node agent: pod created -> Running, as a watcher sees it ({n} pods per row)")
    w("")
    for why in al.get("agent_skip", []):
        w(f"Skipped: {why}.")
        w("")
    w(f"A separate `gantry agent` (node {cfg.get('node', '?')}, bridge {cfg.get('bridge', '?')}) "
      f"against `gantry server --no-agent`; runc {ver.get('runc', '?')}, crun "
      f"{ver.get('crun', '?')}, CNI plugins {ver.get('cni', '?')}. Each pod runs `sleep 3600`. "
      f"Latency: from the start of the pod's POST until a watch on the namespace reads "
      f"`status.phase: Running` with `containerStatuses[0].state.running`.")
    w("")
    w("| runtime | image | mode | running | p50 ms | p90 ms | p99 ms | max ms "
      "| pods/s | CPU ms/pod: agent / machine | deleted -> gone p50 ms | teardown done after, s |")
    w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    teardown = dict(v.split(" ", 1) for v in al.get("agent_teardown", []))
    rows = pick(results, bench="pods")
    for r in rows:
        rt = r["tag"].split("-", 1)[0]
        img = "host" if r["image"] == "host" else f"busybox (`{r['image']}`, imported)"
        mode = "one at a time" if r["mode"] == "seq" else "all at once, 4 connections"
        rate = f"{float(r['per_s']):.1f}" if r["mode"] == "burst" else "-"
        td = teardown.get(r["tag"])
        td = f"{int(td) / 1000:.1f}" if td else "-"
        # one at a time, the machine's busy time is mostly other work's
        machine = r.get("machine_cpu_ms_per_pod", "-") if r["mode"] == "burst" else "-"
        w(f"| {rt} | {img} | {mode} | {r['running']}/{r['n']} | {r['p50_ms']} | {r['p90_ms']} | "
          f"{r['p99_ms']} | {r['max_ms']} | {rate} | {r.get('agent_cpu_ms_per_pod', '-')} / "
          f"{machine} | {r['gone_p50_ms']} | {td} |")
    for v in al.get("agent_row_skip", []):
        rt, _, rest = v.partition(" ")
        img, _, why = rest.partition(" ")
        w(f"| {rt} | {img} | - | skipped: {why} | | | | | | | | |")
    for v in al.get("agent_na", []):
        rt, _, why = v.partition(" ")
        w(f"| {rt} | - | - | n/a: {rt} cannot run here ({why}) | | | | | | | | |")
    w("")
    w("CPU ms/pod: the agent process's own CPU time (not its children's: CNI plugins, shims, "
      "runc) from the first create until the last pod ran, per pod; it includes the agent's "
      "work for the pods already running. Machine: all CPUs' busy time over the burst, per pod "
      "(server, runc, CNI, the client, and other work on the machine included).")
    w("")
    w("Deleted -> gone: from the DELETE until the watcher reads DELETED "
      "(terminationGracePeriodSeconds 1; `sleep` as PID 1 ignores SIGTERM, so each pod waits "
      "out the second). The server removes the pod at the agent's status update after the "
      "containers stopped, before the agent tears down the network and mounts; \"teardown "
      "done\" is when the agent's last pod directory went, counted from the end of the run.")
    w("")

    perf = al.get("agent_perf", [])
    if not perf:
        for why in al.get("agent_perf_skip", []):
            w(f"Where the time goes: not measured ({why}).")
            w("")
    seq_steps, spans = {}, {}
    shim_name = "gantry"
    gm = meta.get("gantry_bin")
    if gm:
        shim_name = os.path.basename(gm)
    for v in perf:
        parts = v.split()
        if len(parts) != 4:
            continue
        tag, perf_path, trace_path, apid = parts
        try:
            procs, threads = perf_procs(perf_path, int(apid), shim_name)
        except (ValueError, KeyError) as e:
            print(f"report.py: {perf_path}: {e}", file=sys.stderr)
            continue
        if not procs:
            continue
        pods = []  # (POST start s, ms until Running seen) of the pods that ran
        try:
            with open(trace_path) as f:
                for line in f:
                    x = line.split()
                    if len(x) >= 6 and float(x[5]) > 0:
                        pods.append((float(x[1]), float(x[5])))
        except OSError:
            pass
        if not pods:
            continue
        spans[tag] = proc_spans(procs, shim_name, min(p for p, _ in pods),
                                max(p + r / 1000.0 for p, r in pods))
        if tag.endswith("-seq"):
            seq_steps[tag] = pod_steps(procs, threads, pods, shim_name)
    if seq_steps:
        tags = list(seq_steps)
        w("### Where one pod's start goes (one at a time; p50 over the pods, ms)")
        w("")
        w("From `perf record -k mono -a` of the sched fork/exec/exit tracepoints during the "
          "runs above, following the agent's threads and child processes, on the same clock "
          "as the watcher's timestamps.")
        w("")
        w("| step | " + " | ".join(f"{t} ({len(seq_steps[t])} pods)" for t in tags) + " |")
        w("|---|" + "---:|" * len(tags))
        for key, label in STEPS:
            if key == "iptables":
                cnt = [med_of(seq_steps[t], "iptables_n") for t in tags]
                label = label.format(n="/".join("-" if c is None else f"{c:.0f}" for c in cnt))
            w(f"| {label} | " + " | ".join(fmt_ms(med_of(seq_steps[t], key)) for t in tags) + " |")
        w("")
    if spans:
        tags = list(spans)
        kinds = sorted({k for t in tags for k in spans[t]})
        w("### Run time of each process a pod start runs (exec -> exit, p50 / p90 ms)")
        w("")
        w("| process | " + " | ".join(tags) + " |")
        w("|---|" + "---:|" * len(tags))
        for k in kinds:
            cells = []
            for t in tags:
                v = spans[t].get(k)
                if not v:
                    cells.append("-")
                    continue
                v = sorted(v)
                p90 = v[min(len(v) - 1, int(0.9 * len(v)))]
                cells.append(f"{statistics.median(v):.1f} / {p90:.1f}")
            w(f"| {k} | " + " | ".join(cells) + " |")
        w("")

    w("### Node agent memory (VmRSS, MB)")
    w("")
    w("| runtime | idle, registered, no pods | with the pods of each run running | "
      "after all were deleted |")
    w("|---|---:|---|---:|")
    idle = {}
    for v in al.get("agent_rss_idle", []):
        rt, _, kb = v.partition(" ")
        idle[rt] = int(kb)
    after = dict(v.split(" ", 1) for v in al.get("agent_rss_after", []))
    for rt, kb in idle.items():
        busy = ", ".join(f"{r['tag'].split('-', 1)[1]} {mb(r['agent_rss_kb'])}" for r in rows
                         if r["tag"].startswith(rt + "-") and float(r.get("agent_rss_kb", 0)) > 0)
        w(f"| {rt} | {mb(kb)} | {busy or '-'} | {mb(after.get(rt, 0))} |")
    w(f"| k3s agent (published figure, not measured here) | ~{K3S_AGENT_MB} | | |")
    w("")
    left = [v for v in al.get("agent_leftover_nat_rules", []) if v.split()[-1] != "0"]
    if left:
        w("Left behind: iptables nat rules for the pod subnet after all pods were deleted: " +
          ", ".join(left) + ".")
        w("")

    seq = {r["image"]: r for r in rows if r["mode"] == "seq" and r["tag"].startswith("runc-")}
    if seq:
        def cell(key):
            return " / ".join(f"{float(r[key]):.0f} ms" for r in seq.values())
        names = " / ".join("host" if k == "host" else "busybox" for k in seq)
        p50 = max(float(r["p50_ms"]) for r in seq.values())
        p99 = max(float(r["p99_ms"]) for r in seq.values())
        ok = all(int(r["running"]) == int(r["n"]) for r in seq.values())
        targets.append(f"| pod created -> Running p50 <= {TARGET_POD_P50_MS:.0f} ms (runc, "
                       f"one at a time, {names}) | {cell('p50_ms')} | "
                       f"{'met' if ok and p50 <= TARGET_POD_P50_MS else 'MISSED'} |")
        targets.append(f"| pod created -> Running p99 <= {TARGET_POD_P99_MS:.0f} ms (same) | "
                       f"{cell('p99_ms')} | "
                       f"{'met' if ok and p99 <= TARGET_POD_P99_MS else 'MISSED'} |")
    if "runc" in idle:
        a = idle["runc"] / 1024
        targets.append(f"| agent RSS <= {TARGET_AGENT_MB:.0f} MB idle (k3s publishes ~"
                       f"{K3S_AGENT_MB} MB) | {a:.1f} MB | "
                       f"{'met' if 0 < a <= TARGET_AGENT_MB else 'MISSED'} |")


# ---- port-forward and exec ----------------------------------------------------

PF_CLIENTS = [
    ("loopback", "direct loopback TCP (the same server on the host's 127.0.0.1)"),
    ("relay3-copy", "ceiling: 2 plain relays, 3 TCP hops (read/write)"),
    ("relay3-splice", "ceiling: 2 plain relays, 3 TCP hops (splice)"),
    ("relay4-copy", "ceiling: 3 plain relays, 4 TCP hops (read/write)"),
    ("gantry-embedded", "`gantry port-forward`, embedded agent"),
    ("kubectl133-embedded", "`kubectl port-forward` {kubectl133}, embedded agent"),
    ("kubectl120-embedded", "`kubectl port-forward` {kubectl120}, embedded agent"),
    ("gantry", "`gantry port-forward`, separate agent"),
    ("kubectl133", "`kubectl port-forward` {kubectl133}, separate agent"),
    ("kubectl120", "`kubectl port-forward` {kubectl120}, separate agent"),
]
# the rows the port-forward target applies to, and how the targets table names them
PF_TARGET_ROWS = {"gantry-embedded": "`gantry port-forward`, embedded agent (the default)",
                  "gantry": "`gantry port-forward`, separate agent"}
EXEC_CLIENTS = [
    ("gantry", "`gantry exec`"),
    ("kubectl133", "`kubectl exec` {kubectl133}"),
    ("kubectl120", "`kubectl exec` {kubectl120}"),
    ("runc", "`runc exec` (the runtime alone, no API server or agent)"),
    ("nsenter", "`nsenter -t PID -a` (baseline)"),
]


def nth_slowest(n, p):
    """Which run the p-th percentile of n runs is (interactive.py's pct())."""
    if n <= 0:
        return "?"
    k = n - int(round(p / 100.0 * (n - 1)))
    return "slowest" if k == 1 else {2: "second", 3: "third"}.get(k, f"{k}th") + "-slowest"


def rel_x(v):
    return fnum(v, "{:.2f}x" if v >= 0.1 else "{:.4f}x")


def idle_s(ms):
    if ms is None:
        return "-"
    return "> 30" if ms < 0 else f"{ms / 1000:.1f}"


def has_interactive(results, meta):
    return any(k.startswith("ia_") for k in meta["_all"]) or \
        any(r.get("bench") in ("pf", "exec", "echo") for r in results)


def fnum(v, fmt="{:.1f}"):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "-"
    return "-" if x != x else fmt.format(x)


def interactive_report(results, meta, w, targets):
    al = meta["_all"]
    cfg = kvs(meta.get("ia_config", ""))
    ver = kvs(meta.get("ia_versions", ""))
    names = {k: ver.get(k, "?") for k in ("kubectl133", "kubectl120")}
    nbytes = int(cfg.get("bytes", "0") or 0)
    w("### Port-forward and exec")
    w("")
    for why in al.get("ia_skip", []):
        w(f"Skipped: {why}.")
        w("")
    if not any(r.get("bench") in ("pf", "exec", "echo") for r in results):
        return
    w(f"Two set-ups, one after the other, each with node {cfg.get('node', '?')} on bridge "
      f"{cfg.get('bridge', '?')} and runc {ver.get('runc', '?')}: `gantry server` with its "
      f"embedded agent (the default: the API server connects to the pod itself), and a separate "
      f"`gantry agent` against `gantry server --no-agent` (the API server relays the agent's "
      f"stream), both over TLS on loopback; exec is measured on the second. One pod of the `host` image whose only process is `bench/interactive.py "
      f"serve` (Python {ver.get('python', '?')}) on the pod's 127.0.0.1; kubectl "
      f"{names['kubectl133']} and {names['kubectl120']}.")
    w("")

    # -- throughput
    pf = pick(results, bench="pf")
    size = f"{nbytes / 2**30:g} GiB" if nbytes % 2**30 == 0 else f"{nbytes / 1e6:g} MB"
    w(f"#### Port-forward throughput: {size} per transfer, "
      f"{cfg.get('pf_reps', '?')} transfers per client, one client at a time")
    w("")
    w("| client | transfers done | MB/s, median (range) | / loopback | first byte ms | "
      "CPU busy, % of one core: API server / agent / forwarder / stream server / reader | "
      "machine CPU s per GB | stream end seen | API server idle after, s | target |")
    w("|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
    idle_after = {r["target"]: float(r["ms"]) for r in pick(results, bench="quiet")}
    lo = [float(r["mbps"]) for r in pick(pf, target="loopback") if r["bytes"] == r["want"]]
    lo_mbps = statistics.median(lo) if lo else float("nan")
    gantry_ratio = {}
    for key, label in PF_CLIENTS:
        rows = pick(pf, target=key)
        if not rows:
            continue
        label = label.format(**names)
        done = [r for r in rows if r["bytes"] == r["want"]]
        use = done or rows
        rates = [float(r["mbps"]) for r in use]
        rate = statistics.median(rates)
        cell = f"{rate:.1f}" if rate >= 10 else f"{rate:.2f}"
        if len(rates) > 1:
            cell += f" ({min(rates):.0f}-{max(rates):.0f})"
        if not done:
            r = rows[0]
            cell += (f" (gave up after {float(r['secs']):.0f} s: {int(r['bytes']) / 1e6:.1f} of "
                     f"{int(r['want']) / 1e6:.0f} MB)")
        rel = rate / lo_mbps if lo_mbps == lo_mbps and lo_mbps else float("nan")
        if key in PF_TARGET_ROWS:
            gantry_ratio[key] = (rel, rate)
        gb = [int(r["bytes"]) / 1e9 for r in use]

        def busy(k):
            v = [float(r[k]) / float(r["secs"]) / 10 for r in use if k in r and float(r["secs"]) > 0]
            return f"{statistics.median(v):.0f}" if v else "-"
        cpu = " / ".join(busy(f"cpu_{k}_ms") for k in
                         ("apiserver", "agent", "fwd", "server", "reader"))
        mach = [float(r["cpu_machine_ms"]) / 1000 / g for r, g in zip(use, gb) if g > 0]
        eof = f"{sum(int(r['eof']) for r in done)}/{len(done)}" if done else "-"
        tgt = ""
        if key in PF_TARGET_ROWS:
            ok = bool(done) and rel == rel and rel >= TARGET_PF_RATIO
            tgt = f">= {TARGET_PF_RATIO:.2f}x: {'met' if ok else 'MISSED'}"
        w(f"| {label} | {len(done)}/{len(rows)} | {cell} | "
          f"{'-' if key == 'loopback' else rel_x(rel)} | "
          f"{statistics.median(float(r['first_ms']) for r in use):.1f} | {cpu} | "
          f"{statistics.median(mach) if mach else float('nan'):.2f} | {eof} | "
          f"{idle_s(idle_after.get(key))} | {tgt} |")
    for v in al.get("ia_na", []):
        kind, _, rest = v.partition(" ")
        if kind == "pf":
            who, _, why = rest.partition(" ")
            w(f"| {who} | 0 | n/a: {why} | | | | | | | |")
    w("")
    w("MB/s: bytes read / time from the start of the connect to the last byte (10^6 bytes). "
      "The ceiling rows put plain relays (`interactive.py relay`: no TLS, no framing; "
      "the forwarder column is the first relay) between the reader and the loopback "
      "server: as many TCP hops as a byte crosses through the embedded agent (3) or a "
      "separate one (4), with nothing else done to it. "
      "The reader and the stream server are the same Python programs for every row, on the "
      "same 2 cores as everything else. CPU busy: each process's CPU time (all threads) over "
      "the transfer's wall time, 100 = one core (the embedded agent's is the API server's); the stream server is the pod's process for "
      "the forwarded rows and the host's for loopback. Machine CPU: all CPUs' busy time over "
      "the transfer per 10^9 bytes moved (other work on the machine included). A transfer "
      "not done in "
      f"{cfg.get('pf_timeout', '?')} s is given up (BENCH_PF_TIMEOUT) and that client is not "
      "tried again; its rate is what arrived until then. After each finished transfer the "
      "next waits until the API server, agent and forwarder are idle; after each client's "
      "transfers the client is stopped, and \"idle after\" is how long the API server and "
      "agent then took to fall under 5 % of a core (at most 30 s waited: \"> 30\").")
    w("")

    # -- exec latency
    ex = pick(results, bench="exec")
    if ex:
        base = {r["target"]: float(r["p50_ms"]) for r in ex}
        w(f"#### Exec round trip: `exec POD -- true`, a fresh client process each time "
          f"({cfg.get('exec_reps', '?')} runs per client, taking turns, after 2 untimed)")
        w("")
        w("| client | runs ok | p50 ms | p90 ms | p99 ms | max ms | p50 / nsenter | "
          "p50 / runc exec |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for key, label in EXEC_CLIENTS:
            for r in pick(ex, target=key):
                p50 = float(r["p50_ms"])
                w(f"| {label.format(**names)} | {r['ok']}/{r['reps']} | {fnum(r['p50_ms'])} | "
                  f"{fnum(r['p90_ms'])} | {fnum(r['p99_ms'])} | {fnum(r['max_ms'])} | "
                  f"{ratio(p50, base.get('nsenter'))} | {ratio(p50, base.get('runc'))} |")
                if r.get("error"):
                    w(f"| ({key}: {r['error'].replace('_', ' ').replace('|', ' ')[:160]}) "
                      f"| | | | | | | |")
        w("")
        w("Wall time of the client process from its spawn to its exit (Python `subprocess`, the "
          "same for every row). `gantry exec` and kubectl: TLS to the API server, the upgrade "
          "(WebSocket, or SPDY for kubectl 1.20), the API server's stream to the agent, and "
          f"`runc exec` there. With {cfg.get('exec_reps', '?')} runs, p99 is the "
          f"{nth_slowest(int(cfg.get('exec_reps', '0') or 0), 99)}.")
        w("")

    # -- one byte through an open session
    ec = pick(results, bench="echo")
    if ec:
        base = {r["target"]: float(r["p50_ms"]) for r in ec}
        w(f"#### One byte through an open session: `exec -i POD -- cat`, "
          f"{cfg.get('echo_reps', '?')} one-byte round trips per session, taking turns")
        w("")
        w("| client | session start ms | round trips ok | p50 ms | p90 ms | p99 ms | max ms "
          "| p50 / nsenter |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for key, label in EXEC_CLIENTS:
            for r in pick(ec, target=key):
                w(f"| {label.format(**names)} | {fnum(r['first_ms'])} | {r['ok']}/{r['reps']} | "
                  f"{fnum(r['p50_ms'], '{:.3f}')} | {fnum(r['p90_ms'], '{:.3f}')} | "
                  f"{fnum(r['p99_ms'], '{:.3f}')} | {fnum(r['max_ms'], '{:.3f}')} | "
                  f"{ratio(float(r['p50_ms']), base.get('nsenter'))} |")
                if r.get("error"):
                    w(f"| ({key}: {r['error'].replace('_', ' ').replace('|', ' ')[:160]}) "
                      f"| | | | | | | |")
        w("")
        w("A byte written to the client's stdin until `cat` in the container has echoed it "
          "back to the client's stdout (pipes, no terminal). Session start: from the spawn "
          "until the first byte came back.")
        w("")
    for v in al.get("ia_log_warnings", []):
        who, _, n = v.partition(" ")
        w(f"The {who} logged {n} warnings or errors during this part (its log is in the run's "
          f"temp dir; run-bench.sh prints the most frequent).")
        w("")

    for key, (rel, rate) in gantry_ratio.items():
        ok = rel == rel and rel >= TARGET_PF_RATIO and \
            any(r["bytes"] == r["want"] for r in pick(pf, target=key))
        targets.append(f"| port-forward >= {TARGET_PF_RATIO * 100:.0f} % of direct loopback "
                       f"throughput ({PF_TARGET_ROWS[key]}) | "
                       f"{rate:.2f} MB/s vs {lo_mbps:.0f} MB/s ({size} transfers): {rel_x(rel)} | "
                       f"{'met' if ok else 'MISSED'} |")


def has_sched(results, meta):
    return any(k.startswith("sched_") for k in meta["_all"]) or bool(pick(results, bench="sched"))


def sched_report(results, meta, w, targets):
    cfg = kvs(meta.get("sched_config", ""))
    w("### Scheduler: simulated nodes")
    w("")
    if meta.get("sched_skip"):
        w(f"Skipped: {meta['sched_skip']}")
        w("")
        return
    w(f"`gantry server --no-agent` and `gantry agent --simulate {cfg.get('nodes', '?')}` "
      f"(`{cfg.get('sim', '').replace('_', ' ')}`) on the same machine, both on loopback; "
      f"{cfg.get('nodes', '?')} hollow nodes Ready in {meta.get('sched_nodes_ready_s', '?')} s; "
      f"server RSS with the nodes registered and no pods: {mb(meta.get('sched_rss_nodes_kb', 0))} MB. "
      f"`gantry-bench sched` creates {cfg.get('pods', '?')} bare pods (requests "
      f"{cfg.get('cpu', '?')} cpu, {cfg.get('memory', '?')} memory; no controller) over "
      f"{cfg.get('conns', '?')} connections as fast as they go, then a PodGroup with minMember "
      f"{cfg.get('gang', '?')} and its {cfg.get('gang', '?')} pods. A pod counts as bound when a "
      f"watch on the namespace sees spec.nodeName set.")
    w("")
    w("| pods | bound | created in s | created -> last bound s | pods/s (binding included) | "
      "p50 / p90 / p99 / max ms, create -> bound | server CPU us per pod: all / scheduler thread "
      "/ its writers | server RSS MB, all bound |")
    w("|---:|---:|---:|---:|---:|---|---|---:|")
    rows = pick(results, bench="sched")
    for r in rows:
        w(f"| {r['n']} | {r['bound']} | {fnum(r['create_s'])} | {fnum(r['span_s'])} | "
          f"{fnum(r['pods_per_s'])} | {fnum(r['p50_ms'])} / {fnum(r['p90_ms'])} / "
          f"{fnum(r['p99_ms'])} / {fnum(r['max_ms'])} | {fnum(r['server_cpu_us_per_pod'], '{:.0f}')} / "
          f"{fnum(r.get('sched_thread_cpu_us_per_pod'), '{:.0f}')} / "
          f"{fnum(r.get('sched_writers_cpu_us_per_pod'), '{:.0f}')} | "
          f"{mb(r['server_rss_kb'])} |")
    w("")
    for r in rows:
        if int(r.get("gang", 0)):
            w(f"Gang: PodGroup minMember {r['gang']}, {r['gang_bound']}/{r['gang']} bound; "
              f"its pods created in {fnum(r['gang_create_ms'])} ms; from the last member's "
              f"create to the last binding {fnum(r['gang_complete_to_bound_ms'])} ms "
              f"({fnum(r['gang_first_post_to_bound_ms'])} ms from the first member's).")
            w("")
    w(f"There is no kube-scheduler on this machine to run beside it. kube-scheduler's own CI "
      f"floor (scheduler_perf, SchedulingBasic at 5,000 nodes) is {KUBE_SCHED_FLOOR} pods/s on "
      f"larger machines. The simulator's pod status writes (Running) share the server with the "
      f"scheduling; it was at {meta.get('sched_sim_cpu_s', '?')} s CPU and "
      f"{mb(meta.get('sched_sim_rss_kb', 0))} MB RSS at the end.")
    w("")
    if rows:
        r = rows[-1]
        ps = float(r["pods_per_s"])
        targets.append(f"| >= {TARGET_SCHED_PODS_S:.0f} pods/s scheduled, binding included, "
                       f"{cfg.get('nodes', '?')} simulated nodes, 2 cores | {ps:.0f} pods/s "
                       f"({r['n']} pods; p99 create -> bound {fnum(r['p99_ms'])} ms; "
                       f"kube-scheduler CI floor {KUBE_SCHED_FLOOR}) | "
                       f"{'met' if ps >= TARGET_SCHED_PODS_S else 'MISSED'} |")
        if int(r.get("gang", 0)):
            g = float(r["gang_complete_to_bound_ms"])
            ok = g <= TARGET_GANG_MS and r["gang_bound"] == r["gang"]
            targets.append(f"| {r['gang']}-pod gang bound in <= {TARGET_GANG_MS / 1000:.0f} s | "
                           f"{g:.0f} ms from the gang complete to its last binding | "
                           f"{'met' if ok else 'MISSED'} |")


def splice_section(doc, name, text):
    """Replaces the results of part NAME in DOC with those in text (a whole
    report of a run of that part alone): its marked section, and its rows of
    the targets table (matched by their first cell; new ones appended)."""
    with open(doc) as f:
        old = f.read()
    if MARKER not in old:
        sys.exit(f"report.py: {doc} has no results marker: run the whole bench once")
    begin, end = SECTION_BEGIN.format(name), SECTION_END.format(name)
    lines = text.split("\n")
    head = lines[0]  # "Run of ...": this part's run differs from the others'
    b, e = text.index(begin), text.index(end) + len(end)
    block = text[b:e]
    block = block.replace(begin + "\n", begin + "\n" + head.replace("Run of", "This section: run of", 1)
                          + "\n\n", 1)
    top, _, res = old.partition(MARKER)
    if begin in res and end in res:
        res = res[:res.index(begin)] + block + res[res.index(end) + len(end):]
    elif TARGETS_HEAD in res:
        i = res.index(TARGETS_HEAD)
        res = res[:i] + block + "\n\n" + res[i:]
    else:
        res = res.rstrip("\n") + "\n\n" + block + "\n"
    # this part's target rows
    new_rows = []
    if TARGETS_HEAD in text:
        new_rows = [ln for ln in text[text.index(TARGETS_HEAD):].split("\n")
                    if ln.startswith("| ") and not ln.startswith("| target |")]
    if new_rows and TARGETS_HEAD in res:
        i = res.index(TARGETS_HEAD)
        tlines = res[i:].split("\n")
        for row in new_rows:
            key = row.split("|")[1]
            hit = [k for k, ln in enumerate(tlines) if ln.startswith("|") and ln.split("|")[1] == key]
            if hit:
                tlines[hit[0]] = row
            else:
                last = max(k for k, ln in enumerate(tlines) if ln.startswith("|"))
                tlines.insert(last + 1, row)
        res = res[:i] + "\n".join(tlines)
    with open(doc, "w") as f:
        f.write(top + MARKER + res)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--section" and sys.argv[2] in ("interactive", "sched"):
        part = sys.argv[2]
        results, meta = parse(sys.argv[3])
        text = report(results, meta)
        sys.stdout.write(text)
        if not (has_interactive if part == "interactive" else has_sched)(results, meta):
            sys.exit(f"report.py: no results of the {part} part to write")
        splice_section(sys.argv[4], part, text)
        print(f"run-bench: the {part} part's results written to {sys.argv[4]}", file=sys.stderr)
        return
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    results, meta = parse(sys.argv[1])
    text = report(results, meta)
    sys.stdout.write(text)
    if len(sys.argv) == 3:
        doc = sys.argv[2]
        try:
            with open(doc) as f:
                head = f.read()
        except FileNotFoundError:
            head = "# Benchmarks\n\n" + MARKER + "\n"
        if MARKER not in head:
            head = head.rstrip("\n") + "\n\n" + MARKER + "\n"
        head = head[: head.index(MARKER) + len(MARKER)]
        with open(doc, "w") as f:
            f.write(head + "\n\n## Results\n\n" + text)
        print(f"run-bench: results written to {doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
