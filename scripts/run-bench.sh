#!/usr/bin/env bash
# Runs Gantry's benchmarks (`make bench`): the API server and store with etcd
# measured in the same run as the peer, then the node agent (pods created ->
# Running, pods started per second, the agent's memory), then port-forward
# throughput and exec latency against direct loopback TCP and nsenter.
# Prints tables and writes them into docs/benchmarks.md.
#
# API part: one `gantry server` and one single-member etcd, both on loopback
# with their data in a fresh temp dir (tmpfs by default), driven by
# build/bench/gantry-bench (bench/*.c, libcurl).  Agent part: a fresh
# `gantry server --no-agent` and a separate `gantry agent` (node benchnode,
# its own bridge gtbench0 and subnet 10.77.0.0/24, so it never shares a
# network with a cluster running on this machine), real runc and CNI; pods
# run `sleep 3600` in the `host` image and in a busybox image built here from
# /bin/busybox and imported with `gantry image import`.  Interactive part: the
# same kind of server and agent, one pod streaming bytes on its 127.0.0.1
# (bench/interactive.py, which also reads and times), reached through
# `gantry port-forward` and kubectl 1.33/1.20; exec through `gantry exec`,
# kubectl, `runc exec` and `nsenter`.  Every process, pod,
# container, network namespace, bridge and file it made is removed on exit,
# failure or Ctrl-C.  Scheduler part: a fresh `gantry server --no-agent` and `gantry agent
# --simulate N` hollow nodes, driven by `gantry-bench sched` (pods created ->
# bound, a PodGroup gang, server RSS).  What is measured and why:
# docs/benchmarks.md.
#
# Environment knobs (defaults in brackets):
#   BENCH_PARTS ["api agent interactive sched"] which parts to run; a
#                          partial run only prints, except that one with
#                          interactive or sched rewrites that part's section
#                          of the doc
#   BENCH_SCHED_NODES [5000] simulated nodes of the scheduler part
#   BENCH_SCHED_PODS [50000] pods it schedules
#   BENCH_SCHED_GANG [1000]  minMember of its gang (0: none)
#   BENCH_SCHED_SIM ["--sim-gpus 8 --sim-heartbeat-s 60 --sim-qps 200"] simulator flags
#   BENCH_DIR [/dev/shm]   where the temp dir with the data dirs goes
#   BENCH_SECS [3]         seconds per closed-loop create point
#   BENCH_REPS [3]         repetitions of each create point (alternating targets)
#   BENCH_RATE_SECS [10]   seconds of the fixed-rate run
#   BENCH_LIST_N [10000]   pods created for the list and RSS measurements
#   BENCH_WATCHERS [1000]  watchers of the fan-out measurement
#   BENCH_PODS [100]       pods per node-agent measurement
#   BENCH_PF_BYTES [1073741824] bytes per port-forward transfer
#   BENCH_PF_REPS [3]      port-forward transfers per client
#   BENCH_PF_TIMEOUT [20]  seconds before a transfer is given up
#   BENCH_EXEC_REPS [50]   timed `exec -- true` runs per client
#   BENCH_ECHO_REPS [100]  one-byte round trips per open exec session
#   BENCH_NO_DOC [unset]   set to 1 to leave docs/benchmarks.md alone
#   GANTRY_BIN [bin/gantry] the server binary; GANTRY_REV names its source
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

PARTS=" ${BENCH_PARTS:-api agent interactive sched training} "
SECS=${BENCH_SECS:-3}
REPS=${BENCH_REPS:-3}
RATE_SECS=${BENCH_RATE_SECS:-10}
LIST_N=${BENCH_LIST_N:-10000}
WATCHERS=${BENCH_WATCHERS:-1000}
PODS=${BENCH_PODS:-100}
PF_BYTES=${BENCH_PF_BYTES:-1073741824}
PF_REPS=${BENCH_PF_REPS:-3}
PF_TIMEOUT=${BENCH_PF_TIMEOUT:-20}
EXEC_REPS=${BENCH_EXEC_REPS:-50}
ECHO_REPS=${BENCH_ECHO_REPS:-100}
SCHED_NODES=${BENCH_SCHED_NODES:-5000}
SCHED_PODS=${BENCH_SCHED_PODS:-50000}
SCHED_GANG=${BENCH_SCHED_GANG:-1000}
SCHED_SIM=${BENCH_SCHED_SIM:---sim-gpus 8 --sim-heartbeat-s 60 --sim-qps 200}
base_dir=${BENCH_DIR:-/dev/shm}
[ -d "$base_dir" ] && [ -w "$base_dir" ] || base_dir=${TMPDIR:-/tmp}

die() { echo "run-bench: $*" >&2; exit 1; }
want() { [[ "$PARTS" == *" $1 "* ]]; }

for tool in cc pkg-config curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh)"
done
if want api; then
  for tool in etcd etcdctl openssl; do
    command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh)"
  done
fi

# The server under test.  `make SANITIZE=...` writes its sanitizer build to
# bin/gantry too, and make then takes it as up to date: never time that one,
# link a plain -O2 binary from build/ instead.
GANTRY_BIN=${GANTRY_BIN:-bin/gantry}
[ -x "$GANTRY_BIN" ] || die "$GANTRY_BIN missing (make bin/gantry)"
if ldd "$GANTRY_BIN" 2>/dev/null | grep -qE 'lib(asan|ubsan|tsan|lsan)'; then
  echo "run-bench: $GANTRY_BIN is a sanitizer build; linking a plain one at build/bench/gantry" >&2
  mkdir -p build/bench
  MAKEFLAGS='' MAKELEVEL='' make -s SANITIZE='' build/obj/main.o build/libgantry.a >&2 ||
    die "cannot build the plain objects (make build/libgantry.a)"
  # shellcheck disable=SC2046
  cc -o build/bench/gantry build/obj/main.o build/libgantry.a \
    $(pkg-config --libs libmicrohttpd gnutls jansson yaml-0.1 sqlite3 libcurl zlib libarchive) \
    -pthread -lm || die "cannot link build/bench/gantry"
  GANTRY_BIN=build/bench/gantry
fi
# The agent runs its shim as this binary by absolute path.
GANTRY_BIN=$(cd "$(dirname "$GANTRY_BIN")" && pwd)/$(basename "$GANTRY_BIN")

# 1,000 watch connections need descriptors on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- build the load generator -------------------------------------------------
BENCH=build/bench/gantry-bench
mkdir -p build/bench
if [ ! -x "$BENCH" ] || [ -n "$(find bench -newer "$BENCH" -name '*.[ch]' 2>/dev/null)" ]; then
  echo "run-bench: building $BENCH" >&2
  # shellcheck disable=SC2046
  cc -O2 -g -std=gnu17 -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
    -Wmissing-prototypes -Wvla -D_GNU_SOURCE -Isrc bench/*.c -o "$BENCH" \
    $(pkg-config --cflags --libs libcurl jansson) -pthread -lm
fi

# --- processes and cleanup ----------------------------------------------------
tmp=$(mktemp -d "$base_dir/gantry-bench.XXXXXX")
gantry_pid=; etcd_pid=
# agent part: its server, the agent, a perf recorder, the roots to reset
# ("DIR:RUNTIME"), and whether the bridge is ours to remove
asrv_pid=; agent_pid=; perf_pid=; agent_roots=(); made_bridge=
# interactive part: the port-forward clients and the host's stream server
ia_pids=()
# scheduler part: the simulator
sim_pid=
NODE=benchnode; BRIDGE=gtbench0; SUBNET=10.77.0.0/24
stop_pid() { # stop_pid PID [SIGNAL]: signal, wait up to 10 s, then SIGKILL
  local pid=$1 sig=${2:-TERM} _
  [ -n "$pid" ] || return 0
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run-bench: pid $pid did not exit 10 s after SIG$sig; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
# Stops the agent, then removes every container, network namespace, mount
# and pod directory it made (`gantry node reset`) and checks that they went.
agent_stop() {
  local r root rt
  stop_pid "$perf_pid" INT; perf_pid=
  stop_pid "$agent_pid"; agent_pid=
  for r in "${agent_roots[@]}"; do
    root=${r%:*}; rt=${r##*:}
    # no agent.json: no agent ever ran there (and the reset would fall back
    # to removing the default bridge, which other clusters here may use)
    [ -f "$root/agent.json" ] || continue
    "$GANTRY_BIN" node reset --root-dir "$root" --runtime "$rt" >"$root.reset.log" 2>&1 ||
      { echo "run-bench: gantry node reset --root-dir $root failed:" >&2; cat "$root.reset.log" >&2; }
    if [ -n "$("$rt" --root "$root/runc" list -q 2>/dev/null)" ]; then
      echo "run-bench: containers left under $root/runc after the reset:" >&2
      "$rt" --root "$root/runc" list >&2 || true
    fi
  done
  agent_roots=()
}
# agent_stop, the agent part's server, and the bridge.
agent_down() {
  agent_stop
  stop_pid "$asrv_pid"; asrv_pid=
  if [ -n "$made_bridge" ]; then
    if [ -n "$(ip -o link show master "$BRIDGE" 2>/dev/null)" ]; then
      echo "run-bench: interfaces still on $BRIDGE after the reset:" >&2
      ip -br link show master "$BRIDGE" >&2 || true
    fi
    ip link del "$BRIDGE" 2>/dev/null || true
    made_bridge=
  fi
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "${ia_pids[@]}"; do stop_pid "$p"; done
  stop_pid "$sim_pid"
  agent_down
  stop_pid "$gantry_pid"
  stop_pid "$etcd_pid"
  # never follow a mount that outlived the reset into another file system
  if grep -q " $tmp/" /proc/self/mountinfo 2>/dev/null; then
    echo "run-bench: mounts left under $tmp:" >&2
    grep " $tmp/" /proc/self/mountinfo | awk '{print $5}' >&2
  fi
  rm -rf --one-file-system "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
alive() {
  kill -0 "$gantry_pid" 2>/dev/null || { tail -30 "$tmp/gantry.log" >&2; die "gantry server died ($1)"; }
  kill -0 "$etcd_pid" 2>/dev/null || { tail -30 "$tmp/etcd.log" >&2; die "etcd died ($1)"; }
}
results=$tmp/results.txt; : >"$results"
meta() { echo "META $*" >>"$results"; }

# --- API server and store, etcd as the peer ----------------------------------
api_bench() {
  # Gantry: its own CA and token, read back from the kubeconfig it writes.
  "$GANTRY_BIN" server --data-dir "$tmp/gantry" --port 0 --bind 127.0.0.1 --no-agent \
    --log-level warn >"$tmp/gantry.log" 2>&1 &
  gantry_pid=$!

  # etcd: TLS on the client port too (an ECDSA P-256 certificate, like Gantry's),
  # so both sides pay for the same handshakes and record encryption.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/etcd-key.pem" -out "$tmp/etcd-cert.pem" -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
  cport=$(free_port); pport=$(free_port)
  ETCD_URL=https://127.0.0.1:$cport
  etcd --name bench --data-dir "$tmp/etcd" \
    --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "bench=http://127.0.0.1:$pport" \
    --cert-file "$tmp/etcd-cert.pem" --key-file "$tmp/etcd-key.pem" >"$tmp/etcd.log" 2>&1 &
  etcd_pid=$!

  kc=$tmp/gantry/admin.kubeconfig
  for _ in $(seq 1 200); do [ -s "$kc" ] && break; alive "startup"; sleep 0.1; done
  [ -s "$kc" ] || die "gantry wrote no kubeconfig in 20 s"
  GANTRY_URL=$(awk '$1 == "server:" {print $2}' "$kc")
  TOKEN=$(awk '$1 == "token:" {print $2}' "$kc")
  awk '$1 == "certificate-authority-data:" {print $2}' "$kc" | base64 -d >"$tmp/gantry-ca.pem"
  for _ in $(seq 1 200); do
    curl -sf --cacert "$tmp/etcd-cert.pem" "$ETCD_URL/health" >/dev/null && break
    alive "startup"; sleep 0.1
  done
  curl -sf --cacert "$tmp/etcd-cert.pem" "$ETCD_URL/health" >/dev/null || die "etcd not healthy in 20 s"

  G=(--target gantry --url "$GANTRY_URL" --cacert "$tmp/gantry-ca.pem" --token "$TOKEN")
  E=(--target etcd --url "$ETCD_URL" --cacert "$tmp/etcd-cert.pem")
  bench() { # bench gantry|etcd CMD ARGS...: runs one measurement, keeps its RESULT lines
    local who=$1; shift
    local cmd=$1; shift
    local tgt=("${G[@]}" --pid "$gantry_pid")
    [ "$who" = etcd ] && tgt=("${E[@]}" --pid "$etcd_pid")
    local out rc=0
    out=$("$BENCH" "$cmd" "${tgt[@]}" "$@") || rc=$?
    echo "$out" | grep '^RESULT ' >>"$results" || true
    [ $rc -eq 0 ] || echo "run-bench: $who $cmd $* exited $rc" >&2
    alive "$who $cmd"
  }

  gcurl() { curl -sS -o /dev/null -w '%{http_code}' --cacert "$tmp/gantry-ca.pem" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
  for ns in bench-list bench-load bench-rate bench-watch; do
    code=$(gcurl -X POST "$GANTRY_URL/api/v1/namespaces" \
      -d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}")
    [ "$code" = 201 ] || die "creating namespace $ns: HTTP $code"
  done

  sleep 2
  meta "rss_idle gantry=$(rss_kb "$gantry_pid") etcd=$(rss_kb "$etcd_pid")"
  echo "run-bench: idle RSS measured; filling $LIST_N pods" >&2

  # --- 3 and 5: list of LIST_N pods, RSS holding them ------------------------------
  for who in gantry etcd; do
    bench "$who" create --clients 8 --count "$LIST_N" --ns bench-list --prefix pod
  done
  sleep 1
  meta "rss_full gantry=$(rss_kb "$gantry_pid") etcd=$(rss_kb "$etcd_pid") items=$LIST_N"
  for who in gantry etcd; do bench "$who" list --ns bench-list --reps 7; done
  # etcd's own gRPC range, for scale: the gateway's JSON translation is a large
  # part of the JSON list above.  etcdctl's process start is measured with an
  # empty get and subtracted.
  etcdctl_ms() { # median of 5 runs of `etcdctl get ARGS -w protobuf`, in ms
    local t0 t1 ts=()
    for _ in 1 2 3 4 5; do
      t0=$(date +%s%N)
      ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" --cacert="$tmp/etcd-cert.pem" get "$@" \
        -w protobuf >/dev/null
      t1=$(date +%s%N)
      ts+=($(( (t1 - t0) / 1000 )))
    done
    printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p | awk '{printf "%.1f", $1 / 1000}'
  }
  meta "etcdctl_range full_ms=$(etcdctl_ms --prefix /registry/pods/bench-list/) empty_ms=$(etcdctl_ms /none)"
  meta "rss_after_list gantry=$(rss_kb "$gantry_pid") etcd=$(rss_kb "$etcd_pid")"

  # --- 1: closed-loop creates, targets alternating -------------------------------
  echo "run-bench: closed-loop creates (${REPS} x ${SECS} s per point)" >&2
  for rep in $(seq 1 "$REPS"); do
    for c in 1 8 64; do
      for who in gantry etcd; do
        bench "$who" create --clients "$c" --duration "$SECS" --ns bench-load --prefix "c$rep-$c"
      done
    done
  done

  # --- 2: open loop at 1,000 creates/s --------------------------------------------
  echo "run-bench: fixed rate 1000/s for $RATE_SECS s" >&2
  # The store's revision before it, to place the store's periodic compaction.
  rv=$(curl -sS --cacert "$tmp/gantry-ca.pem" -H "Authorization: Bearer $TOKEN" \
    "$GANTRY_URL/api/v1/namespaces/bench-rate/pods?limit=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])' || echo 0)
  meta "rev_before_rate $rv"
  for who in gantry etcd; do
    bench "$who" rate --rate 1000 --conns 8 --duration "$RATE_SECS" --ns bench-rate --prefix r \
      --trace "build/bench/rate-$who.txt"
    meta "trace_$who build/bench/rate-$who.txt"
  done

  # --- 4: one event to many watchers ----------------------------------------------
  echo "run-bench: fan-out to $WATCHERS watchers" >&2
  meta "rss_before_fanout gantry=$(rss_kb "$gantry_pid") etcd=$(rss_kb "$etcd_pid")"
  for who in gantry etcd; do
    bench "$who" fanout --watchers "$WATCHERS" --rounds 5 --threads 4 --ns bench-watch
    sleep 2 # let the server notice the closed streams before the next one starts
  done
  meta "rss_end gantry=$(rss_kb "$gantry_pid") etcd=$(rss_kb "$etcd_pid")"

  # Anything the server logged at warn or above during the run.
  if grep -qE ' (warn|error) ' "$tmp/gantry.log"; then
    echo "run-bench: gantry logged warnings/errors:" >&2
    grep -E ' (warn|error) ' "$tmp/gantry.log" | sort | uniq -c | sort -rn | head -10 >&2
  fi

  # The API part's servers are done: give the agent part the machine.
  stop_pid "$gantry_pid"; gantry_pid=
  stop_pid "$etcd_pid"; etcd_pid=
}

# --- the node agent -------------------------------------------------------------
agent_skip() { meta "agent_skip $*"; echo "run-bench: agent benchmarks skipped: $*" >&2; }

# A `docker save` archive of a one-layer image: bin/busybox (static) and a
# bin/sleep link to it, built here so the run needs no registry.
make_busybox_tar() { # make_busybox_tar OUT REF
  python3 - "$1" "$2" <<'PY'
import hashlib, io, json, platform, sys, tarfile
out, ref = sys.argv[1], sys.argv[2]

def member(name, kind=tarfile.REGTYPE, mode=0o644, size=0, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.size, ti.linkname, ti.mtime = kind, mode, size, link, 0
    return ti

layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    t.addfile(member("bin", tarfile.DIRTYPE, 0o755))
    with open("/bin/busybox", "rb") as f:
        data = f.read()
    t.addfile(member("bin/busybox", mode=0o755, size=len(data)), io.BytesIO(data))
    t.addfile(member("bin/sleep", tarfile.SYMTYPE, 0o777, link="busybox"))
layer = layer.getvalue()
diff = hashlib.sha256(layer).hexdigest()
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
config = json.dumps({"architecture": arch, "os": "linux",
                     "config": {"Env": ["PATH=/bin"], "Cmd": ["sleep", "3600"]},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff]}}).encode()
cfg = hashlib.sha256(config).hexdigest() + ".json"
manifest = json.dumps([{"Config": cfg, "RepoTags": [ref],
                        "Layers": [diff + "/layer.tar"]}]).encode()
with tarfile.open(out, "w") as t:
    t.addfile(member(cfg, size=len(config)), io.BytesIO(config))
    t.addfile(member(diff, tarfile.DIRTYPE, 0o755))
    t.addfile(member(diff + "/layer.tar", size=len(layer)), io.BytesIO(layer))
    t.addfile(member("manifest.json", size=len(manifest)), io.BytesIO(manifest))
PY
}

# Whether RUNTIME can run a container here at all: `RUNTIME run` of a
# bundle whose rootfs holds only busybox.  Prints the runtime's error.
rt_check() { # rt_check RUNTIME DIR
  local rt=$1 d=$2 out rc=0
  mkdir -p "$d/bundle/rootfs/bin"
  cp /bin/busybox "$d/bundle/rootfs/bin/"
  (cd "$d/bundle" && "$rt" spec >/dev/null 2>&1) || { echo "$rt spec failed"; return 1; }
  python3 - "$d/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"], c["process"]["terminal"] = ["/bin/busybox", "true"], False
json.dump(c, open(sys.argv[1], "w"))
PY
  out=$(timeout 30 "$rt" --root "$d/state" run -b "$d/bundle" "gtbench-check-$$" </dev/null 2>&1) || rc=$?
  "$rt" --root "$d/state" delete -f "gtbench-check-$$" >/dev/null 2>&1 || true
  [ $rc -eq 0 ] && return 0
  echo "\`$rt run\` exited $rc: $(echo "$out" | tail -1 | cut -c1-200)"
  return 1
}

# One field of the node, '' when unknown.
node_field() { # node_field PYTHON-EXPR-ON-n
  curl -sS --cacert "$adir/ca.pem" -H "Authorization: Bearer $ATOKEN" \
    "$AURL/api/v1/nodes/$NODE" 2>/dev/null |
    python3 -c "import json,sys
try:
    n = json.load(sys.stdin); print($1)
except Exception:
    print('')" 2>/dev/null || true
}

# Starts the agent part's `gantry server --no-agent` with its data in
# $adir/srv and creates namespace NS; sets asrv_pid, AURL, ATOKEN and
# $adir/ca.pem.  With asrv_embedded=1 the server runs its embedded agent
# instead (the caller passes its node, bridge and subnet flags).
asrv_embedded=
asrv_start() { # asrv_start PART NS [SERVER FLAGS...]
  local part=$1 ns=$2 noagent=--no-agent
  shift 2
  [ -z "$asrv_embedded" ] || noagent=
  "$GANTRY_BIN" server --data-dir "$adir/srv" --port 0 --bind 127.0.0.1 $noagent \
    --log-level warn "$@" >"$adir/server.log" 2>&1 &
  asrv_pid=$!
  local kc=$adir/srv/admin.kubeconfig _ code
  for _ in $(seq 1 200); do [ -s "$kc" ] && break; sleep 0.1; done
  [ -s "$kc" ] || { tail -20 "$adir/server.log" >&2; die "$part part: server wrote no kubeconfig in 20 s"; }
  AURL=$(awk '$1 == "server:" {print $2}' "$kc")
  ATOKEN=$(awk '$1 == "token:" {print $2}' "$kc")
  awk '$1 == "certificate-authority-data:" {print $2}' "$kc" | base64 -d >"$adir/ca.pem"
  code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$adir/ca.pem" \
    -H "Authorization: Bearer $ATOKEN" -H 'Content-Type: application/json' -X POST \
    "$AURL/api/v1/namespaces" -d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}")
  [ "$code" = 201 ] || die "$part part: creating namespace $ns: HTTP $code"
}

# Starts `gantry agent --runtime RUNTIME` on $root (the caller has put it in
# agent_roots) against the server of asrv_start; waits until the node is Ready.
agent_start() { # agent_start RUNTIME
  local rt=$1 got _
  "$GANTRY_BIN" agent --kubeconfig "$adir/srv/admin.kubeconfig" --node-name "$NODE" \
    --root-dir "$root" --runtime "$rt" --bridge "$BRIDGE" --subnet "$SUBNET" \
    --log-level info >"$adir/agent.log" 2>&1 &
  agent_pid=$!
  node_wait_ready "$adir/agent.log"
}

# Waits until node $NODE is Ready (its agent, $agent_pid, logs to LOG).
node_wait_ready() { # node_wait_ready LOG
  local got _
  for _ in $(seq 1 300); do
    got=$(node_field "[c['status'] for c in n['status']['conditions'] if c['type'] == 'Ready'][0]")
    [ "$got" = True ] && break
    kill -0 "$agent_pid" 2>/dev/null || { tail -20 "$1" >&2; die "gantry agent did not start"; }
    sleep 0.1
  done
  [ "$got" = True ] || die "node $NODE not Ready 30 s after the agent started"
}

# One `gantry-bench pods` run (RESULT lines kept), traced with perf's
# process tracepoints when perf works here (docs/benchmarks.md: where the
# time goes).
podbench() { # podbench TAG ARGS...
  local tag=$1 out rc=0; shift
  local trace=build/bench/agent-$tag.trace perfout=build/bench/agent-$tag.perf
  rm -f "$trace" "$perfout"
  if [ -n "$perf_ok" ]; then
    perf record -q -k mono -a -e sched:sched_process_fork -e sched:sched_process_exec \
      -e sched:sched_process_exit -o "$adir/$tag.data" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 1
  fi
  echo "run-bench: agent: $tag" >&2
  out=$("$BENCH" pods "${AG[@]}" --pid "$agent_pid" --prefix "$tag" --tag "$tag" \
    --trace "$trace" "$@") || rc=$?
  echo "$out" | grep '^RESULT ' >>"$results" || true
  if [ -n "$perf_pid" ]; then
    stop_pid "$perf_pid" INT; perf_pid=
    perf script -i "$adir/$tag.data" -F comm,pid,tid,time,event,trace >"$perfout" 2>/dev/null &&
      meta "agent_perf $tag $perfout $trace $agent_pid"
    rm -f "$adir/$tag.data"
  fi
  [ $rc -eq 0 ] || echo "run-bench: agent: gantry-bench pods $tag exited $rc" >&2
  kill -0 "$agent_pid" 2>/dev/null || { tail -30 "$adir/agent.log" >&2; die "gantry agent died ($tag)"; }
  # The API objects go before the agent has torn the pods down (the network,
  # mounts and directories): wait for that too, and note how long it took.
  local t0 _
  t0=$(date +%s%N)
  for _ in $(seq 1 600); do
    [ -z "$(ls -A "$root/pods" 2>/dev/null)" ] && break
    sleep 0.1
  done
  [ -z "$(ls -A "$root/pods" 2>/dev/null)" ] ||
    echo "run-bench: agent: pod directories left 60 s after $tag: $(find "$root/pods" -mindepth 1 -maxdepth 1 | wc -l)" >&2
  meta "agent_teardown $tag $(( ($(date +%s%N) - t0) / 1000000 ))"
  return $rc
}

# Starts an agent with RUNTIME, measures it, stops it and resets its root.
agent_run() { # agent_run RUNTIME
  local rt=$1 bb=$bb_why got out
  root=$adir/root-$rt
  mkdir -p "$root"
  agent_roots+=("$root:$rt")
  if [ -z "$bb" ]; then
    if ! out=$("$GANTRY_BIN" image import "$adir/busybox.tar" --root-dir "$root" 2>&1); then
      bb="gantry image import failed: $(echo "$out" | tail -1 | cut -c1-200)"
    fi
  fi
  [ -z "$bb" ] || meta "agent_row_skip $rt busybox $bb"
  agent_start "$rt"
  got=$(node_field "n['status']['nodeInfo']['containerRuntimeVersion']")
  if [ "$got" != "$rt" ]; then
    meta "agent_na $rt the agent ran $got instead: $(grep -m1 'cannot run' "$adir/agent.log" | cut -c1-200)"
    agent_stop
    return 0
  fi
  sleep 3
  meta "agent_rss_idle $rt $(rss_kb "$agent_pid")"
  echo "run-bench: agent ($rt): idle RSS $(rss_kb "$agent_pid") kB; $PODS pods per measurement" >&2

  podbench "$rt-host-seq" --image host --mode seq || true
  [ -n "$bb" ] || podbench "$rt-bb-seq" --image gantry.bench/busybox:1 --pull Never --mode seq || true
  podbench "$rt-host-burst" --image host --mode burst --conns 4 --timeout 300 || true
  [ -n "$bb" ] || podbench "$rt-bb-burst" --image gantry.bench/busybox:1 --pull Never \
    --mode burst --conns 4 --timeout 300 || true
  sleep 2
  meta "agent_rss_after $rt $(rss_kb "$agent_pid")"
  # the iptables rules the CNI bridge plugin added for the pods must be gone
  meta "agent_leftover_nat_rules $rt $(iptables -w -t nat -S 2>/dev/null | grep -c "${SUBNET%.*}\." || true)"
  agent_stop
}

agent_bench() {
  local tool
  [ "$(id -u)" = 0 ] || { agent_skip "needs root (network namespaces, runc)"; return 0; }
  for tool in runc ip iptables; do
    command -v "$tool" >/dev/null || { agent_skip "$tool not found (scripts/deps.sh)"; return 0; }
  done
  [ -x /usr/lib/cni/bridge ] || { agent_skip "no CNI plugins in /usr/lib/cni (scripts/deps.sh)"; return 0; }
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    agent_skip "bridge $BRIDGE exists (another make bench running? else: ip link del $BRIDGE)"
    return 0
  fi
  made_bridge=1 # the agent creates it with the first pod; agent_down removes it
  adir=$tmp/agent
  mkdir -p "$adir"
  perf_ok=
  if command -v perf >/dev/null && perf record -q -k mono -a -e sched:sched_process_exec \
    -o "$adir/perf.check" -- true >/dev/null 2>&1; then
    perf_ok=1
  else
    meta "agent_perf_skip perf record of the sched tracepoints does not work here"
  fi
  bb_why=
  if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    bb_why="no static /bin/busybox (apt-get install busybox-static)"
  elif ! make_busybox_tar "$adir/busybox.tar" gantry.bench/busybox:1; then
    bb_why="could not build the busybox archive"
  fi

  asrv_start agent bench-pods
  AG=(--target gantry --url "$AURL" --cacert "$adir/ca.pem" --token "$ATOKEN" --node "$NODE"
    --ns bench-pods --n "$PODS")
  meta "agent_versions runc=$(runc --version | awk 'NR==1 {print $3}') crun=$(crun --version 2>/dev/null | awk 'NR==1 {print $3}') cni=$(dpkg-query -W -f='${Version}' containernetworking-plugins 2>/dev/null || echo unknown)"
  meta "agent_config pods=$PODS node=$NODE bridge=$BRIDGE subnet=$SUBNET"

  local rt why
  for rt in runc crun; do
    if ! command -v "$rt" >/dev/null; then
      meta "agent_na $rt not installed"
    elif [ -n "$bb_why" ]; then
      # no rootfs for the check: let the agent's own check (the same
      # `run` of a test container) decide; agent_run notices a fallback
      agent_run "$rt"
    elif ! why=$(rt_check "$rt" "$adir/check-$rt"); then
      echo "run-bench: agent: $rt cannot run here: $why" >&2
      meta "agent_na $rt $why"
    else
      agent_run "$rt"
    fi
  done
  agent_down
}

# --- interactive: port-forward and exec ------------------------------------------
ia_skip() { meta "ia_skip $*"; echo "run-bench: interactive benchmarks skipped: $*" >&2; }

# One field of pod ia, '' when unknown.
ia_pod_field() { # ia_pod_field PYTHON-EXPR-ON-p
  curl -sS --cacert "$adir/ca.pem" -H "Authorization: Bearer $ATOKEN" \
    "$AURL/api/v1/namespaces/bench-ia/pods/ia" 2>/dev/null |
    python3 -c "import json,sys
try:
    p = json.load(sys.stdin); print($1)
except Exception:
    print('')" 2>/dev/null || true
}

# Waits until something listens on TCP PORT (in the network namespace of
# PID when given): the forwarders and servers are then ready, and no probe
# connection has to go through them.
wait_listen() { # wait_listen PORT SECONDS [PID]
  local port=$1 n=$(( $2 * 10 )) pid=${3:-} _
  for _ in $(seq 1 "$n"); do
    if [ -n "$pid" ]; then
      [ -n "$(nsenter -t "$pid" -n ss -Hltn "sport = :$port" 2>/dev/null)" ] && return 0
    else
      [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && return 0
    fi
    sleep 0.1
  done
  return 1
}

# PF_REPS transfers through one port-forward client (CMD, to listen on
# LOCAL), measured alone: the client is started, measured, stopped, and then
# the API server and agent are given up to 30 s to go idle (a transfer given
# up on may leave them relaying), which is recorded.  Embedded agent: the
# agent is the API server's process ($agent_pid = $asrv_pid).
ia_pf_client() { # ia_pf_client NAME LOCAL CMD...
  local name=$1 lport=$2 pid; shift 2
  local procs=(--proc "apiserver=$asrv_pid") idle=("$asrv_pid")
  [ "$agent_pid" = "$asrv_pid" ] || { procs+=(--proc "agent=$agent_pid"); idle+=("$agent_pid"); }
  "$@" >"$adir/pf-$name.log" 2>&1 &
  pid=$!
  ia_pids+=("$pid")
  if wait_listen "$lport" 20 && kill -0 "$pid" 2>/dev/null; then
    echo "run-bench: interactive: port-forward through $name" >&2
    python3 bench/interactive.py pf --bytes "$PF_BYTES" --reps "$PF_REPS" --timeout "$PF_TIMEOUT" \
      "${procs[@]}" "$name:$lport:$cpid:$pid" >>"$results" ||
      echo "run-bench: interactive: port-forward measurement ($name) exited $?" >&2
  else
    meta "ia_na pf $name did not listen on 127.0.0.1:$lport in 20 s: $(tail -1 "$adir/pf-$name.log" | cut -c1-200)"
  fi
  stop_pid "$pid"
  ia_pids=()
  python3 bench/interactive.py quiet "$name" "${idle[@]}" >>"$results"
}

# Starts one set-up of the interactive part in $adir (MODE separate: `gantry
# server --no-agent` and `gantry agent`; embedded: `gantry server` with its
# agent), then pod ia, the throughput server of bench/interactive.py on the
# pod's 127.0.0.1 as its only process (so it is the container's init, whose
# PID the nsenter baseline uses; the host image has python3).  Sets root,
# cid and cpid.
ia_up() { # ia_up MODE
  local mode=$1 spec code got _
  mkdir -p "$adir"
  made_bridge=1
  if [ "$mode" = embedded ]; then
    asrv_embedded=1
    asrv_start interactive bench-ia --node-name "$NODE" --bridge "$BRIDGE" --subnet "$SUBNET"
    asrv_embedded=
    agent_pid=$asrv_pid
    root=$adir/srv/agent
    agent_roots+=("$root:runc")
    node_wait_ready "$adir/server.log"
  else
    root=$adir/root-runc
    mkdir -p "$root"
    asrv_start interactive bench-ia
    agent_roots+=("$root:runc")
    agent_start runc
  fi
  spec=$(python3 - "$NODE" "$pf_port" <<'PY'
import json, sys
code = open("bench/interactive.py").read()
print(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ia"},
  "spec": {"nodeName": sys.argv[1], "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
           "containers": [{"name": "c", "image": "host",
                           "command": ["/usr/bin/python3", "-c", code, "serve", sys.argv[2]]}]}}))
PY
)
  code=$(curl -sS -o "$adir/pod.json" -w '%{http_code}' --cacert "$adir/ca.pem" \
    -H "Authorization: Bearer $ATOKEN" -H 'Content-Type: application/json' -X POST \
    "$AURL/api/v1/namespaces/bench-ia/pods" --data-binary @- <<<"$spec")
  [ "$code" = 201 ] || { cat "$adir/pod.json" >&2; die "interactive part: creating pod ia: HTTP $code"; }
  for _ in $(seq 1 600); do
    got=$(ia_pod_field "p['status']['phase'] + ' ' + str(p['status']['containerStatuses'][0]['ready'])")
    [ "$got" = "Running True" ] && break
    case $got in Failed*|Succeeded*) break ;; esac
    sleep 0.1
  done
  if [ "$got" != "Running True" ]; then
    tail -20 "$adir/agent.log" "$adir/server.log" >&2 2>/dev/null || true
    die "interactive part: pod ia not running and ready in 60 s (phase/ready: '$got')"
  fi
  # The pod's container and its init process, from the runtime's own state.
  read -r cid cpid < <(runc --root "$root/runc" list -f json |
    python3 -c 'import json,sys
c = [x for x in (json.load(sys.stdin) or []) if x["status"] == "running"]
print(c[0]["id"], c[0]["pid"]) if len(c) == 1 else print("", "")') || true
  [ -n "$cpid" ] || { runc --root "$root/runc" list >&2; die "interactive part: not one running container under $root/runc"; }
  wait_listen "$pf_port" 20 "$cpid" || die "interactive part: nothing listens on $pf_port in pod ia"
  echo "run-bench: interactive ($mode agent): pod ia running (container $cid, pid $cpid)" >&2
}

# Every port-forward client against the set-up of ia_up; target names get
# SUFFIX.
ia_pf_clients() { # ia_pf_clients SUFFIX
  local sfx=$1 kc=$adir/srv/admin.kubeconfig lport
  lport=$(free_port)
  ia_pf_client "gantry$sfx" "$lport" "$GANTRY_BIN" port-forward --kubeconfig "$kc" -n bench-ia ia "$lport:$pf_port"
  if [ -n "$k133" ]; then
    lport=$(free_port)
    ia_pf_client "kubectl133$sfx" "$lport" "$k133" --kubeconfig "$kc" -n bench-ia port-forward pod/ia "$lport:$pf_port"
  fi
  if [ -n "$k120" ]; then
    lport=$(free_port)
    ia_pf_client "kubectl120$sfx" "$lport" "$k120" --kubeconfig "$kc" -n bench-ia port-forward pod/ia "$lport:$pf_port"
  fi
}

# Stops a set-up of ia_up (first checking that its processes lived through
# the measurements and reporting their warnings).
ia_down() { # ia_down MODE
  local mode=$1 f
  [ "$mode" = embedded ] || kill -0 "$agent_pid" 2>/dev/null ||
    { tail -30 "$adir/agent.log" >&2; die "gantry agent died (interactive)"; }
  kill -0 "$asrv_pid" 2>/dev/null || { tail -30 "$adir/server.log" >&2; die "gantry server died (interactive, $mode agent)"; }
  for f in server agent; do
    [ -f "$adir/$f.log" ] || continue
    if grep -qE ' (warn|error) ' "$adir/$f.log"; then
      echo "run-bench: interactive: the $f ($mode agent) logged warnings/errors:" >&2
      grep -E ' (warn|error) ' "$adir/$f.log" | sort | uniq -c | sort -rn | head -10 >&2
      meta "ia_log_warnings $f($mode) $(grep -cE ' (warn|error) ' "$adir/$f.log")"
    fi
  done
  [ "$agent_pid" != "$asrv_pid" ] || asrv_pid=
  agent_down
}

# Port-forward throughput and exec latency against one pod (docs/benchmarks.md:
# "Port-forward and exec"), on its own server, agent and bridge like the
# agent part: port-forward through `gantry server`'s embedded agent (the
# default) and through a separate `gantry agent`; exec through the latter.
interactive_bench() {
  local tool
  [ "$(id -u)" = 0 ] || { ia_skip "needs root (network namespaces, runc, nsenter)"; return 0; }
  for tool in runc ip iptables nsenter ss; do
    command -v "$tool" >/dev/null || { ia_skip "$tool not found (scripts/deps.sh)"; return 0; }
  done
  [ -x /usr/lib/cni/bridge ] || { ia_skip "no CNI plugins in /usr/lib/cni (scripts/deps.sh)"; return 0; }
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ia_skip "bridge $BRIDGE exists (another make bench running? else: ip link del $BRIDGE)"
    return 0
  fi
  local kc k133 k120 v133 v120 pf_port=7777 root cid cpid
  k133=${KUBECTL_133:-/usr/lib/google-cloud-sdk/bin/kubectl.1.33}
  [ -x "$k133" ] || k133=$(command -v kubectl || true)
  k120=${KUBECTL_120:-$(timeout 120 scripts/kubectl120.sh 2>/dev/null || true)}
  [ -n "$k120" ] && [ -x "$k120" ] || k120=
  v133=; v120=
  [ -z "$k133" ] || v133=$("$k133" version --client 2>/dev/null | awk '/^Client Version:/ {print $3}' || true)
  [ -z "$k120" ] || v120=$("$k120" version --client -o json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])' 2>/dev/null || true)
  [ -n "$v133" ] || k133=
  [ -n "$v120" ] || k120=
  meta "ia_config bytes=$PF_BYTES pf_reps=$PF_REPS pf_timeout=$PF_TIMEOUT exec_reps=$EXEC_REPS echo_reps=$ECHO_REPS node=$NODE bridge=$BRIDGE"
  meta "ia_versions runc=$(runc --version | awk 'NR==1 {print $3}') kubectl133=${v133:--} kubectl120=${v120:--} python=$(python3 -c 'import platform; print(platform.python_version())') nsenter=$(nsenter --version | awk '{print $NF}')"

  # --- port-forward throughput: the same server on the host's loopback first ---
  local hport pid
  adir=$tmp/interactive
  mkdir -p "$adir"
  hport=$(free_port)
  python3 bench/interactive.py serve "$hport" >"$adir/host-serve.log" 2>&1 &
  pid=$!
  ia_pids+=("$pid")
  wait_listen "$hport" 20 || die "interactive part: the host server does not listen"
  echo "run-bench: interactive: port-forward, $PF_REPS x $PF_BYTES bytes per client; direct loopback" >&2
  python3 bench/interactive.py pf --bytes "$PF_BYTES" --reps "$PF_REPS" --timeout "$PF_TIMEOUT" \
    "loopback:$hport:$pid:0" >>"$results" ||
    echo "run-bench: interactive: port-forward measurement (loopback) exited $?" >&2
  # the ceiling of a chain of plain relays (no TLS, no framing) in front of
  # the same server: 3 TCP hops as through the embedded agent (pod ->
  # API server -> forwarder -> reader), 4 as through a separate agent
  local spec hops mode up rport rpids
  for spec in 3:copy 3:splice 4:copy; do
    hops=${spec%:*}; mode=${spec#*:}; up=$hport; rpids=()
    for _ in $(seq 2 "$hops"); do
      rport=$(free_port)
      python3 bench/interactive.py relay "$rport" "$up" "$mode" >>"$adir/relay.log" 2>&1 &
      rpids+=("$!"); ia_pids+=("$!")
      wait_listen "$rport" 20 || die "interactive part: a relay does not listen"
      up=$rport
    done
    echo "run-bench: interactive: port-forward ceiling, $hops hops of plain relays ($mode)" >&2
    python3 bench/interactive.py pf --bytes "$PF_BYTES" --reps "$PF_REPS" --timeout "$PF_TIMEOUT" \
      "relay$hops-$mode:$up:$pid:${rpids[0]}" >>"$results" ||
      echo "run-bench: interactive: relay measurement exited $?" >&2
    for rport in "${rpids[@]}"; do stop_pid "$rport"; done
  done
  stop_pid "$pid"
  ia_pids=()

  # --- through the default `gantry server` and its embedded agent ---
  adir=$tmp/interactive-embedded
  ia_up embedded
  ia_pf_clients -embedded
  ia_down embedded

  # --- through a separate agent: port-forward, then exec ---
  adir=$tmp/interactive
  ia_up separate
  ia_pf_clients ""
  kc=$adir/srv/admin.kubeconfig
  # a fresh client per command, then one byte through an open session
  local ex=(gantry "$GANTRY_BIN" exec --kubeconfig "$kc" -n bench-ia ia -- true)
  [ -z "$k133" ] || ex+=(--- kubectl133 "$k133" --kubeconfig "$kc" -n bench-ia exec ia -- true)
  [ -z "$k120" ] || ex+=(--- kubectl120 "$k120" --kubeconfig "$kc" -n bench-ia exec ia -- true)
  ex+=(--- runc runc --root "$root/runc" exec "$cid" true --- nsenter nsenter -t "$cpid" -a true)
  echo "run-bench: interactive: exec latency, $EXEC_REPS runs per client" >&2
  python3 bench/interactive.py cmdlat --reps "$EXEC_REPS" --warmup 2 "${ex[@]}" >>"$results" ||
    echo "run-bench: interactive: exec measurement exited $?" >&2
  ex=(gantry "$GANTRY_BIN" exec -i --kubeconfig "$kc" -n bench-ia ia -- cat)
  [ -z "$k133" ] || ex+=(--- kubectl133 "$k133" --kubeconfig "$kc" -n bench-ia exec -i ia -- cat)
  ex+=(--- nsenter nsenter -t "$cpid" -a cat)
  echo "run-bench: interactive: one byte through an open exec session, $ECHO_REPS times" >&2
  python3 bench/interactive.py echo --reps "$ECHO_REPS" "${ex[@]}" >>"$results" ||
    echo "run-bench: interactive: echo measurement exited $?" >&2
  ia_down separate
}

# --- scheduler: simulated nodes ---------------------------------------------------
sched_skip() { meta "sched_skip $*"; echo "run-bench: scheduler benchmark skipped: $*" >&2; }

# Nodes with Ready=True, by the API ('' when unknown).
sched_ready_nodes() {
  curl -sS --cacert "$adir/ca.pem" -H "Authorization: Bearer $ATOKEN" "$AURL/api/v1/nodes" 2>/dev/null |
    python3 -c "import json,sys
try:
    print(sum(1 for n in json.load(sys.stdin)['items'] if any(c['type'] == 'Ready' and c['status'] == 'True' for c in n.get('status', {}).get('conditions', []))))
except Exception:
    print('')" 2>/dev/null || true
}

sched_bench() {
  local t0 got _ out rc=0
  adir=$tmp/sched
  mkdir -p "$adir"
  # the hollow nodes renew their Leases every 60 s: a longer grace than
  # that keeps the node lifecycle controller from declaring them Unknown
  asrv_start sched bench-sched --node-monitor-grace-period 600
  t0=$(date +%s%N)
  # shellcheck disable=SC2086
  "$GANTRY_BIN" agent --kubeconfig "$adir/srv/admin.kubeconfig" --simulate "$SCHED_NODES" \
    $SCHED_SIM --log-level warn >"$adir/sim.log" 2>&1 &
  sim_pid=$!
  for _ in $(seq 1 600); do
    got=$(sched_ready_nodes)
    [ "$got" = "$SCHED_NODES" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { tail -20 "$adir/sim.log" >&2; sched_skip "the simulator died"; agent_down; return 0; }
    sleep 0.5
  done
  if [ "$got" != "$SCHED_NODES" ]; then
    sched_skip "only ${got:-?} of $SCHED_NODES simulated nodes Ready after 300 s"
    stop_pid "$sim_pid"; sim_pid=; agent_down
    return 0
  fi
  meta "sched_nodes_ready_s $(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')"
  sleep 2
  meta "sched_rss_nodes_kb $(rss_kb "$asrv_pid")"
  meta "sched_config nodes=$SCHED_NODES pods=$SCHED_PODS gang=$SCHED_GANG conns=8 cpu=100m memory=128Mi sim=${SCHED_SIM// /_}"
  echo "run-bench: scheduler: $SCHED_PODS pods on $SCHED_NODES simulated nodes, then a $SCHED_GANG-pod gang" >&2
  out=$("$BENCH" sched --target gantry --url "$AURL" --cacert "$adir/ca.pem" --token "$ATOKEN" \
    --ns bench-sched --n "$SCHED_PODS" --gang "$SCHED_GANG" --conns 8 --cpu 100m --memory 128Mi \
    --pid "$asrv_pid" --timeout 600) || rc=$?
  echo "$out" | grep '^RESULT ' >>"$results" || true
  [ $rc -eq 0 ] || echo "run-bench: scheduler: gantry-bench sched exited $rc" >&2
  meta "sched_sim_rss_kb $(rss_kb "$sim_pid")"
  meta "sched_sim_cpu_s $(awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$sim_pid/stat" 2>/dev/null || echo '?')"
  kill -0 "$asrv_pid" 2>/dev/null || { tail -30 "$adir/server.log" >&2; die "gantry server died (scheduler part)"; }
  stop_pid "$sim_pid"; sim_pid=
  agent_down
}

# --- run ------------------------------------------------------------------------
# The source measured, read before the run (the tree may move meanwhile);
# GANTRY_REV names the source of a GANTRY_BIN built elsewhere.
rev=${GANTRY_REV:-$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
  git -C "$top" diff --quiet HEAD -- src 2>/dev/null || echo +dirty)}
start=$(date +%s)
meta "load_start $(cut -d' ' -f1 /proc/loadavg)"
if want api; then
  api_bench
  meta "elapsed_api_s $(( $(date +%s) - start ))"
fi
if want agent; then
  agent_t0=$(date +%s)
  agent_bench
  meta "elapsed_agent_s $(( $(date +%s) - agent_t0 ))"
fi
if want interactive; then
  ia_t0=$(date +%s)
  interactive_bench
  meta "elapsed_interactive_s $(( $(date +%s) - ia_t0 ))"
fi
if want sched; then
  sched_t0=$(date +%s)
  sched_bench
  meta "elapsed_sched_s $(( $(date +%s) - sched_t0 ))"
fi
if want training; then
  # bench/training.py runs its own server and writes its own marked section
  train_doc=docs/benchmarks.md
  [ "${BENCH_NO_DOC:-}" = 1 ] && train_doc=
  /usr/bin/python3 bench/training.py --gantry "$GANTRY_BIN" --sim "${BENCH_TRAIN_SIM:-64}" \
    ${train_doc:+--doc "$train_doc"} | tee -a "$results" | grep -v '^RESULT ' || \
    echo "run-bench: training part failed" >&2
fi
meta "elapsed_s $(( $(date +%s) - start ))"

meta "load_end $(cut -d' ' -f1 /proc/loadavg)"
meta "date $(date -u +%F)"
meta "commit $rev"
meta "nproc $(nproc)"
meta "cpu $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
want api && meta "etcd $(etcd --version | awk '/etcd Version/ {print $3}')"
meta "gantry $("$GANTRY_BIN" version 2>/dev/null | head -1 || echo unknown)"
meta "gantry_bin $GANTRY_BIN"
meta "datadir $(df --output=fstype "$tmp" | tail -1)"
meta "config secs=$SECS reps=$REPS rate_secs=$RATE_SECS list_n=$LIST_N watchers=$WATCHERS pods=$PODS"
meta "parts$PARTS"

# Keep the raw lines: `python3 bench/report.py build/bench/last-results.txt` reprints them.
cp "$results" build/bench/last-results.txt
doc=docs/benchmarks.md
[ "${BENCH_NO_DOC:-}" = 1 ] && doc=
if [ -n "$doc" ] && { ! want api || ! want agent || ! want interactive || ! want sched; }; then
  if want sched && ! want interactive; then
    echo "run-bench: BENCH_PARTS=\"${BENCH_PARTS:-}\" is a partial run: only the scheduler section of $doc is rewritten" >&2
    python3 bench/report.py --section sched "$results" "$doc"
    exit
  fi
  if want interactive; then
    # its own marked section of the Results (and its target rows) only
    echo "run-bench: BENCH_PARTS=\"${BENCH_PARTS:-}\" is a partial run: only the port-forward and exec section of $doc is rewritten" >&2
    python3 bench/report.py --section interactive "$results" "$doc"
    exit
  fi
  echo "run-bench: BENCH_PARTS=\"${BENCH_PARTS:-}\" is a partial run: $doc left alone" >&2
  doc=
fi
python3 bench/report.py "$results" ${doc:+"$doc"}
