#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the dense LU harness alone against a CUDA Kokkos and its Kokkos Kernels (about a minute):
#   bench/kernels/dense_lu/build.sh OUT_DIR [-DVARIANT ...]
# Kokkos_ROOT / KokkosKernels_ROOT = the installs. Everything it writes is under OUT_DIR;
# numlab's own build compiles the same harness as bench/kernels/dense_lu/lu_bench.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?output directory}
shift || true
: "${Kokkos_ROOT:?set Kokkos_ROOT to a CUDA-enabled Kokkos 4.x install}"
: "${KokkosKernels_ROOT:?set KokkosKernels_ROOT to its Kokkos Kernels install}"
mkdir -p "$out"
cmake -S "$here" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKokkos_ROOT="$Kokkos_ROOT" \
  -DKokkosKernels_ROOT="$KokkosKernels_ROOT" -DCMAKE_CXX_COMPILER="$Kokkos_ROOT/bin/nvcc_wrapper" \
  -DCMAKE_CXX_FLAGS="$*" > "$out/cmake.log" 2>&1 || { tail -20 "$out/cmake.log"; exit 1; }
cmake --build "$out" > "$out/build.log" 2>&1 || { grep -E "error" -A3 "$out/build.log" | head -40; exit 1; }
echo "built $out/lu_bench"
