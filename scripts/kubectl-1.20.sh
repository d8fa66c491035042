#!/usr/bin/env bash
# Prints the path of a kubectl 1.20 (Debian 12's kubernetes-client, with its built-in kustomize
# v2.0.3) for integration/deploy_test.cpp. The package is unpacked (dpkg-deb -x) into a cache
# outside the checkout rather than installed, because a machine may already carry another
# package that owns /usr/bin/kubectl (installing kubernetes-client beside it fails in dpkg).
# If kubernetes-client itself is installed, its /usr/bin/kubectl is used.
set -euo pipefail

cache="${RDS_CSI_CACHE:-/var/cache/rds-csi}"
dir="$cache/kubernetes-client"
binary="$dir/usr/bin/kubectl"

if dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null | grep -q "install ok installed"; then
  echo /usr/bin/kubectl
  exit 0
fi
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi
work="$(mktemp -d /tmp/kubernetes-client.XXXXXX)"
chmod 755 "$work" # apt-get download drops to the _apt user where it can
trap 'rm -rf "$work"' EXIT
# apt-get download needs the package lists; refresh them once if they do not know the package.
if ! (cd "$work" && apt-get download -qq kubernetes-client >&2); then
  "${as_root[@]}" apt-get update -qq >&2
  (cd "$work" && apt-get download -qq kubernetes-client >&2)
fi
"${as_root[@]}" mkdir -p "$cache"
"${as_root[@]}" rm -rf "$dir.tmp"
"${as_root[@]}" dpkg-deb -x "$work"/kubernetes-client_*.deb "$dir.tmp"
"${as_root[@]}" rm -rf "$dir"
"${as_root[@]}" mv "$dir.tmp" "$dir"
"$binary" version --client --short >&2 || "$binary" version --client >&2
echo "$binary"
