#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the fp32 flash kernel harness alone against a CUDA Kokkos (under a minute):
#   bench/kernels/kokkos_fp32_flash/build.sh OUT_DIR [-DVARIANT ...]
# Kokkos_ROOT = a CUDA-enabled Kokkos 4.x install. Extra arguments are compile flags, e.g.
# -DNUMLAB_FLASH_GPU_MIN_TEAMS=2 to build a variant beside the default. Everything it writes
# (build tree, logs, OUT_DIR/fp32_gpu_bench) is under OUT_DIR. numlab's own build compiles the
# same harness as bench/kernels/kokkos_fp32_flash/fp32_gpu_bench in its build folder.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?output directory}
shift || true
: "${Kokkos_ROOT:?set Kokkos_ROOT to a CUDA-enabled Kokkos 4.x install}"
mkdir -p "$out"
cmake -S "$here" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKokkos_ROOT="$Kokkos_ROOT" \
  -DCMAKE_CXX_COMPILER="$Kokkos_ROOT/bin/nvcc_wrapper" -DNUMLAB_KERNEL_BENCH_FLAGS="$(IFS=';'; echo "$*")" \
  > "$out/cmake.log" 2>&1 || { tail -20 "$out/cmake.log"; exit 1; }
cmake --build "$out" > "$out/build.log" 2>&1 || { grep -E "error" "$out/build.log" | head -20; exit 1; }
echo "built $out/fp32_gpu_bench"
