#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the fp32 GPU flash kernel harness: src/attention/dev/build.sh OUT_DIR [-DVARIANT ...]
# (from the repository root; Kokkos_ROOT = a CUDA Kokkos 4.x install). Extra arguments are
# compile flags, e.g. -DNUMLAB_FLASH_GPU_MIN_TEAMS=2 to build a variant beside the default.
set -euo pipefail
out=${1:?output directory}
shift || true
: "${Kokkos_ROOT:?set Kokkos_ROOT to a CUDA-enabled Kokkos 4.x install}"
cmake -S src/attention/dev -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKokkos_ROOT="$Kokkos_ROOT" \
  -DCMAKE_CXX_COMPILER="$Kokkos_ROOT/bin/nvcc_wrapper" -DNUMLAB_DEV_FLAGS="$(IFS=';'; echo "$*")" > "$out.cmake.log" 2>&1 ||
  { tail -20 "$out.cmake.log"; exit 1; }
cmake --build "$out" > "$out.build.log" 2>&1 || { grep -E "error" "$out.build.log" | head -20; exit 1; }
echo "built $out/fp32_gpu_bench"
