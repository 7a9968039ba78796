#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs the whole suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install_deps.sh
scripts/build.sh
cd "${NUMLAB_BUILD_DIR:-build}"
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
