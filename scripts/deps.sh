#!/usr/bin/env bash
# Installs the Debian packages Gantry's build, tests and benchmarks need.
# Idempotent: packages already present are skipped, and apt is not touched when
# nothing is missing. Needs root (apt-get); prints what to do otherwise.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang
  libmicrohttpd-dev libgnutls28-dev libjansson-dev libyaml-dev libsqlite3-dev
  libcurl4-gnutls-dev zlib1g-dev
  python3 python3-kubernetes python3-pytest python3-yaml
  curl openssl ca-certificates
  etcd-server etcd-client
  runc crun containernetworking-plugins iproute2 iptables busybox-static
  libarchive-dev docker-registry skopeo
  python3-torch openmpi-bin libopenmpi-dev
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
  echo "deps.sh: run as root (sudo scripts/deps.sh) or install them with apt-get." >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps.sh: done" >&2
