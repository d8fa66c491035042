#!/usr/bin/env bash
# Command 2 of README.md (and what .ci/run calls): install what is needed, build, and run the
# whole test suite (unit and integration) through CTest; then build the plugin, rds-sim and the
# unit tests again with AddressSanitizer and UndefinedBehaviorSanitizer (./build-sanitized) and
# run the unit tests and the integration tests of the controller under them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# The integration tests start a real kube-apiserver: built once, cached outside the checkout.
RDS_CSI_KUBE_APISERVER="$(scripts/build-kube-apiserver.sh)"
export RDS_CSI_KUBE_APISERVER
# deploy_test renders deploy/ with kubectl 1.20 (Debian's kubernetes-client, unpacked into the
# same cache: a machine may have another package owning /usr/bin/kubectl).
RDS_CSI_KUBECTL="${RDS_CSI_KUBECTL:-$(scripts/kubectl-1.20.sh)}"
export RDS_CSI_KUBECTL
ctest --test-dir build --output-on-failure --timeout 900
# The normal build's integration_tests drives the sanitized plugin and rds-sim (CMakeLists.txt).
cmake -S . -B build-sanitized -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRDS_CSI_SANITIZE=ON \
  -DRDS_CSI_TEST_DRIVER="$PWD/build/integration_tests" >/dev/null
cmake --build build-sanitized -j2 --target unit_tests rds-csi-plugin rds-sim kube_client_tests
ctest --test-dir build-sanitized --output-on-failure --timeout 1500
# Last: the parsers of outside input under libFuzzer with ASan+UBSan, a short fixed run per target
# from the committed seed corpus (fuzz/, README "Fuzzing").
scripts/fuzz.sh
