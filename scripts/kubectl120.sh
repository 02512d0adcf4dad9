#!/usr/bin/env bash
# Prints the path of Debian's kubectl 1.20 (package kubernetes-client),
# unpacked into build/kubectl-1.20 without installing it system-wide (the
# machine's own `kubectl` package would clash).  Idempotent.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir="$top/build/kubectl-1.20"
bin="$dir/usr/bin/kubectl"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download kubernetes-client >/dev/null 2>&1) || {
    [ "$(id -u)" -eq 0 ] && apt-get update -qq >/dev/null 2>&1
    (cd "$tmp" && apt-get download kubernetes-client >/dev/null)
  }
  dpkg -x "$tmp"/kubernetes-client_*.deb "$dir"
fi
echo "$bin"
