#!/usr/bin/env bash
# Installs the Debian 12 packages rds-csi needs to build and test. Every dependency comes from
# apt-get; nothing is downloaded otherwise. Skips apt-get entirely when all are present.
set -euo pipefail

packages=(
  cmake g++ make pkg-config ca-certificates openssl ccache
  libcaf-dev
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcurl4-openssl-dev libssl-dev rapidjson-dev prometheus-cpp-dev doctest-dev libyaml-cpp-dev
  curl
  # Flags (CLI11, header-only) and logging (spdlog, with libfmt).
  libcli11-dev libspdlog-dev
  # The node plugin: filesystems, mounts and loop devices (the node tests run them for real);
  # libmount reads the mount table, libnvme connects NVMe/TCP.
  e2fsprogs xfsprogs util-linux mount libmount-dev libnvme-dev
  # The allocator of the plugin (services/memory/heap.hpp).
  libjemalloc-dev
  # The fuzzers (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes.
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi
echo "installing: ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
