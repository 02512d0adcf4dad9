#!/usr/bin/env bash
# `make demo`: a single-node Gantry on a temporary data dir runs a real
# PyTorch DDP training (demo/pytorchjob.yaml), kills one rank midway, and
# shows the gang restart from its checkpoint (scripts/demo.py prints it all).
# Stops everything and removes the data dir at the end, also on failure or ^C.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root (containers need runc, CNI and cgroups): sudo make demo" >&2
  exit 1
fi
data=$(mktemp -d /tmp/gantry-demo.XXXXXX)
port=${GANTRY_DEMO_PORT:-16500}
bridge=gtdemo0
subnet=10.97.0.0/24
pid=
cleanup() {
  set +e
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"; wait "$pid" 2>/dev/null
  fi
  "$top/bin/gantry" node reset --root-dir "$data/agent" >/dev/null 2>&1
  rm -rf "$data"
  echo "[demo] stopped the server and removed $data"
}
trap cleanup EXIT INT TERM
echo "[demo] starting gantry server (data dir $data, https://127.0.0.1:$port)"
"$top/bin/gantry" server --data-dir "$data" --port "$port" --node-name demo-node \
  --bridge "$bridge" --subnet "$subnet" >"$data/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ -s "$data/admin.kubeconfig" ] && grep -q 'node demo-node ready' "$data/server.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/server.log"; exit 1; }
  sleep 0.1
done
/usr/bin/python3 "$top/scripts/demo.py" "$data/admin.kubeconfig"
