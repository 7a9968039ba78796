#!/usr/bin/env bash
# Configures and builds numlab in build/ (Release). Extra arguments go to
# CMake, e.g. -DKokkos_ROOT=/opt/kokkos-cuda -DKokkosKernels_ROOT=/opt/kk-cuda.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir="${NUMLAB_BUILD_DIR:-build}"
generator=()
command -v ninja >/dev/null && [ ! -f "$build_dir/Makefile" ] && generator=(-G Ninja)
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" --parallel "$(nproc)"
