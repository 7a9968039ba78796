#!/usr/bin/env bash
# Configures and builds numlab in build/ (Release, for this machine's CPU:
# -DNUMLAB_ARCH_NATIVE=ON; NUMLAB_PORTABLE=1 builds for the generic target).
# Extra arguments go to CMake, e.g. -DKokkos_ROOT=/opt/kokkos-cuda -DKokkosKernels_ROOT=/opt/kk-cuda.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir="${NUMLAB_BUILD_DIR:-build}"
generator=()
command -v ninja >/dev/null && [ ! -f "$build_dir/Makefile" ] && generator=(-G Ninja)
native=ON
[ "${NUMLAB_PORTABLE:-0}" = 1 ] && native=OFF
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DNUMLAB_ARCH_NATIVE=$native "$@"
cmake --build "$build_dir" --parallel "$(nproc)"
