#!/usr/bin/env bash
# Command 2 of README.md (and what .ci/run calls): install what is needed, build, and run the
# whole test suite (unit and integration) through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 900
