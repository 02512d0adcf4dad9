#!/usr/bin/env python3
"""interactive.py - the measuring side of the interactive part of `make bench`
(scripts/run-bench.sh): port-forward throughput and exec latency.  Prints
RESULT lines (key=value) for bench/report.py.  Standard library only, so the
same file also runs inside a pod of the `host` image (passed with -c).

usage:
  interactive.py serve PORT
      A TCP server on 127.0.0.1:PORT: for each connection it reads one line
      holding a byte count N, sends N zero bytes from a 1 MiB buffer and
      closes.  A thread per connection.
  interactive.py relay PORT UPSTREAM [copy|splice]
      A plain TCP relay on 127.0.0.1:PORT to 127.0.0.1:UPSTREAM (no TLS, no
      framing): the ceiling of a forwarding chain with as many hops.  The
      bytes from upstream are moved 1 MiB at a time with recv_into and
      sendall (copy) or through a pipe with os.splice (splice); a thread per
      connection and direction.
  interactive.py pf --bytes N --reps R [--timeout S] [--proc NAME=PID ...] TARGET ...
      TARGET is NAME:PORT:SERVERPID:FWDPID (FWDPID 0: none).  R rounds; in
      each, every target in turn gets one transfer of N bytes: connect to
      127.0.0.1:PORT, send the count, read N bytes, then wait up to 2 s for
      the end of the stream, and until the forwarding path is idle (quiet).  A transfer is given up after S seconds (60),
      and a target that did not finish one is not tried again.  Per
      transfer: MB/s from the start of the connect to the last byte, the
      time to the first byte, and the CPU time spent meanwhile by the
      server, the forwarder, each --proc and this reader, and by the whole
      machine.
  interactive.py quiet NAME PID...
      Waits until the processes together use under 5 % of a CPU over 0.5 s
      (at most 30 s) and reports how long that took (-1000: not in 30 s).
  interactive.py cmdlat --reps R [--warmup W] NAME ARGV... [--- NAME ARGV...]
      Runs each command R times (after W untimed runs), the commands taking
      turns, and reports the wall time of each run (spawn to exit).
  interactive.py echo --reps R NAME ARGV... [--- NAME ARGV...]
      Starts each command (one that echoes its standard input, such as an
      exec'd `cat`) and sends it one byte at a time, the commands taking
      turns, timing each byte's round trip; the first byte's time (from the
      spawn) is reported apart, as the session's start.

The reader, the server and the commands share the machine with what they
measure; run-bench.sh compares targets measured in the same run only.
"""
import fcntl
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

CHUNK = 1 << 20


def stream(c, zeros):
    try:
        line = b""
        while not line.endswith(b"\n") and len(line) < 32:
            got = c.recv(32)
            if not got:
                break
            line += got
        try:
            n = int(line.strip() or b"0")
        except ValueError:
            n = 0
        while n > 0:
            k = min(n, CHUNK)
            c.sendall(zeros[:k])
            n -= k
    except OSError:
        pass
    finally:
        c.close()


def serve(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    zeros = memoryview(bytes(CHUNK))
    while True:
        c, _ = ls.accept()
        # a thread each: a stream whose reader went away without the close
        # reaching here must not hold up the next one
        threading.Thread(target=stream, args=(c, zeros), daemon=True).start()


def pump(src, dst, use_splice):
    try:
        if use_splice:
            r, w = os.pipe()
            try:
                fcntl.fcntl(w, 1031, CHUNK)  # F_SETPIPE_SZ
            except OSError:
                pass
            while True:
                n = os.splice(src.fileno(), w, CHUNK)
                if n == 0:
                    break
                while n:
                    n -= os.splice(r, dst.fileno(), n)
        else:
            buf = bytearray(CHUNK)
            mv = memoryview(buf)
            while True:
                n = src.recv_into(buf)
                if n == 0:
                    break
                dst.sendall(mv[:n])
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def relay(port, upstream, mode):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        try:
            u = socket.create_connection(("127.0.0.1", upstream))
        except OSError:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, u, False), daemon=True).start()
        threading.Thread(target=pump, args=(u, c, mode == "splice"), daemon=True).start()


def ticks(pid):
    """utime + stime of a process, all its threads, in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            x = f.read().rsplit(")", 1)[1].split()
        return int(x[11]) + int(x[12])
    except (OSError, IndexError, ValueError):
        return None


def machine_busy():
    with open("/proc/stat") as f:
        x = [int(v) for v in f.readline().split()[1:]]
    return sum(x) - x[3] - x[4]  # all but idle and iowait


HZ = os.sysconf("SC_CLK_TCK")


def quiet(pids, limit=30.0):
    """Waits until pids together use under 5 % of a CPU over 0.5 s (or limit
    seconds went by); returns the seconds waited, -1 at the limit."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        a = sum(ticks(p) or 0 for p in pids)
        time.sleep(0.5)
        if sum(ticks(p) or 0 for p in pids) - a <= HZ * 0.5 * 0.05:
            return time.perf_counter() - t0 - 0.5
    return -1.0


def transfer(port, n, limit):
    """One transfer, given up after limit seconds: (secs to the last byte,
    secs to the first byte, bytes, end of stream seen, error)."""
    buf = bytearray(CHUNK)
    mv = memoryview(buf)
    got, first, err = 0, None, ""
    t0 = time.perf_counter()
    end = t0 + limit
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    except OSError as e:
        return time.perf_counter() - t0, 0.0, 0, False, f"connect: {e}"
    try:
        s.sendall(b"%d\n" % n)
        while got < n:
            left = end - time.perf_counter()
            if left <= 0:
                raise socket.timeout(f"timed out after {limit} s")
            s.settimeout(left)
            k = s.recv_into(mv, min(CHUNK, n - got))
            if k == 0:
                err = "early end of stream"
                break
            if first is None:
                first = time.perf_counter() - t0
            got += k
        t1 = time.perf_counter()
        # the end of the stream should follow the last byte
        eof = False
        if got == n:
            s.settimeout(2)
            try:
                eof = s.recv(1) == b""
            except socket.timeout:
                pass
    except OSError as e:
        t1 = time.perf_counter()
        eof, err = False, f"{type(e).__name__}: {e}"
    finally:
        s.close()
    return t1 - t0, first or 0.0, got, eof, err


def pf(args):
    n = reps = None
    limit = 60.0
    procs, targets = [], []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--bytes":
            n, i = int(args[i + 1]), i + 2
        elif a == "--reps":
            reps, i = int(args[i + 1]), i + 2
        elif a == "--timeout":
            limit, i = float(args[i + 1]), i + 2
        elif a == "--proc":
            name, pid = args[i + 1].split("=")
            procs.append((name, int(pid)))
            i += 2
        else:
            name, port, spid, fpid = a.split(":")
            targets.append((name, int(port), int(spid), int(fpid)))
            i += 1
    if not (n and reps and targets):
        sys.exit(__doc__)
    slow = set()
    for rep in range(1, reps + 1):
        for name, port, spid, fpid in targets:
            if name in slow:
                continue
            watch = [("server", spid)] + ([("fwd", fpid)] if fpid else []) + procs
            before = {k: ticks(p) for k, p in watch}
            me0, m0 = os.times(), machine_busy()
            secs, first, got, eof, err = transfer(port, n, limit)
            if got < n:
                slow.add(name)  # one unfinished transfer is enough
            me1, m1 = os.times(), machine_busy()
            after = {k: ticks(p) for k, p in watch}
            # what the forwarding path still does after the reader is done
            # must not be charged to the next transfer (after one given up
            # the caller stops the forwarder and waits with `quiet`)
            settle = quiet([p for k, p in watch if k != "server"]) if got == n else 0.0
            out = [f"bench=pf target={name} rep={rep} bytes={got} want={n}",
                   f"secs={secs:.3f} mbps={got / secs / 1e6:.1f} first_ms={first * 1000:.2f}",
                   f"eof={int(eof)}"]
            for k, _ in watch:
                if before[k] is not None and after[k] is not None:
                    out.append(f"cpu_{k}_ms={(after[k] - before[k]) * 1000 // HZ}")
            out.append(f"cpu_reader_ms={((me1.user + me1.system) - (me0.user + me0.system)) * 1000:.0f}")
            out.append(f"cpu_machine_ms={(m1 - m0) * 1000 // HZ}")
            out.append(f"settle_ms={settle * 1000:.0f}")
            if err:
                out.append("error=" + err.replace(" ", "_")[:120])
            print("RESULT " + " ".join(out), flush=True)


def groups(args):
    """NAME ARGV... [--- NAME ARGV...] -> [(name, argv)]"""
    out, cur = [], []
    for a in args + ["---"]:
        if a == "---":
            if len(cur) >= 2:
                out.append((cur[0], cur[1:]))
            cur = []
        else:
            cur.append(a)
    return out


def pct(vals, p):
    v = sorted(vals)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def stats(vals):
    if not vals:
        return "p50_ms=nan p90_ms=nan p99_ms=nan min_ms=nan max_ms=nan"
    return (f"p50_ms={statistics.median(vals):.3f} p90_ms={pct(vals, 90):.3f} "
            f"p99_ms={pct(vals, 99):.3f} min_ms={min(vals):.3f} max_ms={max(vals):.3f}")


def opts(args, **defaults):
    o = dict(defaults)
    while args and args[0].startswith("--") and args[0] != "---":
        o[args[0][2:]] = int(args[1])
        args = args[2:]
    return o, args


def cmdlat(args):
    o, args = opts(args, reps=50, warmup=2)
    cmds = groups(args)
    times = {name: [] for name, _ in cmds}
    fails = {name: [0, ""] for name, _ in cmds}
    for rep in range(o["warmup"] + o["reps"]):
        for name, argv in cmds:
            t0 = time.perf_counter()
            try:
                p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=30)
                rc, msg = p.returncode, p.stderr.decode(errors="replace")
            except subprocess.TimeoutExpired:
                rc, msg = -1, "timed out after 30 s"
            dt = (time.perf_counter() - t0) * 1000.0
            if rep < o["warmup"]:
                continue
            if rc == 0:
                times[name].append(dt)
            else:
                fails[name][0] += 1
                fails[name][1] = fails[name][1] or f"exit {rc}: {msg.strip()}"
    for name, _ in cmds:
        line = f"RESULT bench=exec target={name} reps={o['reps']} ok={len(times[name])} " + \
            stats(times[name])
        if fails[name][0]:
            line += " error=" + fails[name][1].replace(" ", "_").replace("\n", "|")[:160]
        print(line, flush=True)


def echo(args):
    o, args = opts(args, reps=200)
    cmds = groups(args)
    sess = {}

    def one(s):
        t0 = time.perf_counter()
        try:
            s["p"].stdin.write(b"x")
        except OSError as e:
            s["error"] = f"write: {e}"
            return None
        r, _, _ = select.select([s["p"].stdout], [], [], 30)
        if not r:
            s["error"] = "no echo in 30 s"
            return None
        b = os.read(s["p"].stdout.fileno(), 1)
        if b != b"x":
            s["error"] = f"read {b!r}"
            return None
        return time.perf_counter() - t0

    # one session at a time up to its first echo, so that no session's start
    # waits for another's
    for name, argv in cmds:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, bufsize=0)
        s = sess[name] = {"p": p, "rtt": [], "first": None, "error": ""}
        if one(s) is not None:
            s["first"] = time.perf_counter() - t0
    for _ in range(o["reps"]):
        for s in sess.values():
            if s["error"]:
                continue
            dt = one(s)
            if dt is not None:
                s["rtt"].append(dt * 1000.0)
    for name, s in sess.items():
        p = s["p"]
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            s["error"] = s["error"] or "did not exit 10 s after its stdin closed"
        if s["error"]:
            tail = p.stderr.read().decode(errors="replace").strip()[-160:]
            s["error"] += f" ({tail})" if tail else ""
        first = f"{s['first'] * 1000:.1f}" if s["first"] is not None else "nan"
        line = (f"RESULT bench=echo target={name} reps={o['reps']} ok={len(s['rtt'])} "
                f"first_ms={first} exit={p.returncode} " + stats(s["rtt"]))
        if s["error"]:
            line += " error=" + s["error"].replace(" ", "_").replace("\n", "|")[:200]
        print(line, flush=True)


def main():
    # die of Ctrl-C as a C program would: the shell running us then runs
    # its own INT trap (cleanup) instead of taking it as handled here
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve":
        serve(int(args[0]))
    elif cmd == "relay":
        relay(int(args[0]), int(args[1]), args[2] if len(args) > 2 else "copy")
    elif cmd == "pf":
        pf(args)
    elif cmd == "quiet":
        t = quiet([int(p) for p in args[1:]])
        print(f"RESULT bench=quiet target={args[0]} ms={t * 1000:.0f}", flush=True)
    elif cmd == "cmdlat":
        cmdlat(args)
    elif cmd == "echo":
        echo(args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
