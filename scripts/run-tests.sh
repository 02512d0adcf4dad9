#!/usr/bin/env bash
# Runs Gantry's tests and ends with one line "N passed, N failed".
#   scripts/run-tests.sh unit BIN...   C unit test binaries
#   scripts/run-tests.sh e2e           end-to-end tests (pytest, real binary)
#   scripts/run-tests.sh all BIN...    both, plus the fuzz seed corpora
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-all}; shift || true
passed=0; failed=0
failures=()

run_unit() {
  local bin out p f
  for bin in "$@"; do
    out=$(timeout 300 "$bin" 2>&1); rc=$?
    echo "$out" | grep -E '^(not ok|  )' || true
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [ -z "$line" ]; then
      echo "FAIL: $bin crashed or printed no summary (rc $rc)"; echo "$out" | tail -20
      failed=$((failed + 1)); failures+=("$bin"); continue
    fi
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -eq 0 ] && [ "$rc" -eq 0 ] || failures+=("$bin")
    echo "$(basename "$bin"): $line"
  done
}

run_e2e() {
  local out line p f
  export GANTRY_BIN="${GANTRY_BIN:-$top/bin/gantry}"
  export KUBECTL_120=$("$top/scripts/kubectl120.sh")
  export KUBECTL_133=${KUBECTL_133:-/usr/lib/google-cloud-sdk/bin/kubectl.1.33}
  out=$(cd "$top" && timeout 2400 /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=15 tests/e2e 2>&1); rc=$?
  echo "$out" | tail -60
  line=$(echo "$out" | grep -E '[0-9]+ (passed|failed)' | tail -1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
  e=$(echo "$line" | grep -oE '[0-9]+ error' | grep -oE '[0-9]+' || echo 0)
  [ -z "$line" ] && f=1
  passed=$((passed + p)); failed=$((failed + f + e))
  [ "$rc" -eq 0 ] || failures+=("e2e")
}

run_fuzz_corpora() {
  # Each harness is also built as a plain program that replays its corpus.
  local h name bin
  for h in "$top"/tests/fuzz/fuzz_*.c; do
    [ -e "$h" ] || continue
    name=$(basename "$h" .c); name=${name#fuzz_}
    bin="$top/${BUILD_DIR:-build}/fuzz-replay/$name"
    if ! make -s -C "$top" "${BUILD_DIR:-build}/fuzz-replay/$name" >/dev/null 2>&1; then
      echo "FAIL: fuzz replay $name does not build"; failed=$((failed + 1)); failures+=("fuzz-$name"); continue
    fi
    if "$bin" "$top/tests/fuzz/corpus/$name"/* >/dev/null 2>&1; then
      passed=$((passed + 1)); echo "fuzz corpus $name: ok"
    else
      failed=$((failed + 1)); failures+=("fuzz-$name"); echo "FAIL: fuzz corpus $name"
    fi
  done
}

case "$mode" in
  unit) run_unit "$@" ;;
  e2e) run_e2e ;;
  all) run_unit "$@"; run_fuzz_corpora; run_e2e ;;
esac
[ ${#failures[@]} -eq 0 ] || echo "failures: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
