#!/usr/bin/env bash
# Runs Gantry's benchmarks (`make bench`) with etcd measured in the same run
# as the peer, prints a table and writes it into docs/benchmarks.md.
#
# Starts one `gantry server` and one single-member etcd, both on loopback
# with their data in a fresh temp dir (tmpfs by default), drives them with
# build/bench/gantry-bench (bench/*.c, libcurl), and removes every process
# and file it made on exit, failure or Ctrl-C.  What is measured and why:
# docs/benchmarks.md.
#
# Environment knobs (defaults in brackets):
#   BENCH_DIR [/dev/shm]   where the temp dir with both data dirs goes
#   BENCH_SECS [3]         seconds per closed-loop create point
#   BENCH_REPS [3]         repetitions of each create point (alternating targets)
#   BENCH_RATE_SECS [10]   seconds of the fixed-rate run
#   BENCH_LIST_N [10000]   pods created for the list and RSS measurements
#   BENCH_WATCHERS [1000]  watchers of the fan-out measurement
#   BENCH_NO_DOC [unset]   set to 1 to leave docs/benchmarks.md alone
#   GANTRY_BIN [bin/gantry] the server binary; GANTRY_REV names its source
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

SECS=${BENCH_SECS:-3}
REPS=${BENCH_REPS:-3}
RATE_SECS=${BENCH_RATE_SECS:-10}
LIST_N=${BENCH_LIST_N:-10000}
WATCHERS=${BENCH_WATCHERS:-1000}
base_dir=${BENCH_DIR:-/dev/shm}
[ -d "$base_dir" ] && [ -w "$base_dir" ] || base_dir=${TMPDIR:-/tmp}

die() { echo "run-bench: $*" >&2; exit 1; }

for tool in etcd cc pkg-config openssl curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh)"
done

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
    $(pkg-config --libs libmicrohttpd gnutls jansson yaml-0.1 sqlite3 libcurl zlib) -pthread -lm ||
    die "cannot link build/bench/gantry"
  GANTRY_BIN=build/bench/gantry
fi

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
stop_pid() {
  local pid=$1 _
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run-bench: pid $pid did not exit 10 s after SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$gantry_pid"
  stop_pid "$etcd_pid"
  rm -rf "$tmp"
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
results=$tmp/results.txt; : >"$results"
meta() { echo "META $*" >>"$results"; }
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

start=$(date +%s)
meta "load_start $(cut -d' ' -f1 /proc/loadavg)"
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
meta "elapsed_s $(( $(date +%s) - start ))"

# Anything the server logged at warn or above during the run.
if grep -qE ' (warn|error) ' "$tmp/gantry.log"; then
  echo "run-bench: gantry logged warnings/errors:" >&2
  grep -E ' (warn|error) ' "$tmp/gantry.log" | sort | uniq -c | sort -rn | head -10 >&2
fi

meta "load_end $(cut -d' ' -f1 /proc/loadavg)"
meta "date $(date -u +%F)"
# GANTRY_REV names the source of a GANTRY_BIN built elsewhere.
rev=${GANTRY_REV:-$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
  git -C "$top" diff --quiet HEAD -- src 2>/dev/null || echo +dirty)}
meta "commit $rev"
meta "nproc $(nproc)"
meta "cpu $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
meta "etcd $(etcd --version | awk '/etcd Version/ {print $3}')"
meta "gantry $("$GANTRY_BIN" version 2>/dev/null | head -1 || echo unknown)"
meta "datadir $(df --output=fstype "$tmp" | tail -1)"
meta "config secs=$SECS reps=$REPS rate_secs=$RATE_SECS list_n=$LIST_N watchers=$WATCHERS"

# Keep the raw lines: `python3 bench/report.py build/bench/last-results.txt` reprints them.
cp "$results" build/bench/last-results.txt
doc=docs/benchmarks.md
[ "${BENCH_NO_DOC:-}" = 1 ] && doc=
python3 bench/report.py "$results" ${doc:+"$doc"}
