#!/usr/bin/env bash
# Sets numlab up on a fresh Debian/Ubuntu machine and runs the lab: installs dependencies, builds,
# then `numlab lab --quick` (every experiment, peer and check of the lab at small sizes: minutes on
# 2 cores) into results/lab-quick/, ending with the path of its report.html. Rerunning continues
# it (--resume). `./setup.sh CONFIG.yaml` runs that config instead (replacing its output).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/install_deps.sh
scripts/build.sh
if [ $# -gt 0 ]; then
  ./numlab "$1" --overwrite
else
  ./numlab lab --quick --resume
fi
