#!/usr/bin/env bash
# Sets numlab up on a fresh Debian/Ubuntu machine and runs the main job:
# installs dependencies, builds, runs the lab's linear-systems sweep into
# results/linsolve_sweep.h5. Pass another config to run that instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
config="${1:-configs/linsolve_sweep.yaml}"
scripts/install_deps.sh
scripts/build.sh
./numlab "$config" --overwrite
