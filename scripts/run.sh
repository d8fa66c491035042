#!/usr/bin/env bash
# Command 1 of README.md: install what is needed, build, and run rds-csi-plugin on its embedded
# default (CSI on a unix socket under /tmp, metrics on 127.0.0.1:9809). Extra flags pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/rds-csi-plugin "$@"
