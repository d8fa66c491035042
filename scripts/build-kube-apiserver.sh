#!/usr/bin/env bash
# Builds a real kube-apiserver (Kubernetes v1.20.2, Debian bookworm's source package) once and
# caches it outside the checkout; also installs Debian's etcd. Prints the cached binary's path.
# Everything comes from Debian: the source package, Go, etcd. About 6 minutes on 2 cores, once.
set -euo pipefail

version="1.20.5+really1.20.2-1.1+deb12u1"
cache="${RDS_CSI_CACHE:-/var/cache/rds-csi}"
binary="$cache/kube-apiserver-1.20.2/kube-apiserver"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi
packages=(etcd-server etcd-client openssl)
if [ ! -x "$binary" ]; then
  packages+=(golang-go rsync golang-github-modern-go-reflect2-dev dpkg-dev)
fi
need=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  "${as_root[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >&2
fi
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

work="$(mktemp -d /tmp/kube-apiserver-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# A private apt configuration with the machine's own Debian entries as source entries.
mkdir -p "$work/apt/lists/partial" "$work/apt/sources"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  sed 's/^Types: deb$/Types: deb-src/' "$f" > "$work/apt/sources/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ]; then
  grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > "$work/apt/sources.list" || true
else
  : > "$work/apt/sources.list"
fi
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list"
          -o "Dir::Etc::SourceParts=$work/apt/sources"
          -o "Dir::State::Lists=$work/apt/lists")
apt-get "${apt_opts[@]}" update -qq >&2
(cd "$work" && apt-get "${apt_opts[@]}" source -qq "kubernetes=$version" >&2)
tree="$(find "$work" -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)"

# The vendored reflect2 v1.0.1 crashes under Go >= 1.18; use Debian's v1.0.2.
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
rm -f "$tree"/vendor/github.com/modern-go/reflect2/*.go "$tree"/vendor/github.com/modern-go/reflect2/*.s
cp "$reflect2"/*.go "$tree/vendor/github.com/modern-go/reflect2/"
cp "$reflect2"/*.s "$tree/vendor/github.com/modern-go/reflect2/" 2>/dev/null || true
rm -f "$tree"/vendor/github.com/modern-go/reflect2/*_test.go

mkdir -p "$tree/.go/src/k8s.io"
ln -s "$tree" "$tree/.go/src/k8s.io/kubernetes"
(cd "$tree/.go/src/k8s.io/kubernetes" &&
  GOPATH="$tree/.go" GOFLAGS= GOPROXY=off GO111MODULE=off CGO_ENABLED=0 \
    make WHAT=cmd/kube-apiserver >&2)
mkdir -p "$(dirname "$binary")"
cp "$tree/_output/bin/kube-apiserver" "$binary.tmp"
mv "$binary.tmp" "$binary"
echo "$binary"
