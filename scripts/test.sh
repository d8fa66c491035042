#!/usr/bin/env bash
# Command 2 of README.md (and what .ci/run calls): install what is needed, build, and run the
# whole test suite (unit and integration) through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# The integration tests start a real kube-apiserver: built once, cached outside the checkout.
RDS_CSI_KUBE_APISERVER="$(scripts/build-kube-apiserver.sh)"
export RDS_CSI_KUBE_APISERVER
ctest --test-dir build --output-on-failure --timeout 900
