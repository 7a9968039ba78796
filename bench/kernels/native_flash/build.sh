#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds a variant of the native kernels for bench.py: src/cuda/flash_*.cu and capi.cu here into
# one shared library OUT_DIR/libfa.so, compiled with nvcc directly (no Kokkos, no CMake; nvcc 13
# builds sm_90a without a GPU).
#   bench/kernels/native_flash/build.sh OUT_DIR [extra nvcc flags, e.g. -DSOMETHING for a variant]
# GENCODE overrides the target (default sm_90a), NVCC the compiler. The objects and ptxas logs
# (-Xptxas -v: registers, spills) stay in OUT_DIR. The default kernels need no build of their
# own: numlab's build makes BUILD/bench/kernels/native_flash/libfa.so from numlab_cuda.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../../../src" && pwd)
out=${1:-/tmp/fa_build}
shift || true
gencode=${GENCODE:-"-gencode=arch=compute_90a,code=sm_90a"}
mkdir -p "$out"
nvcc=${NVCC:-nvcc}
command -v "$nvcc" >/dev/null || nvcc=/usr/local/cuda/bin/nvcc
pids=()
for f in "$src"/cuda/flash_*.cu "$here/capi.cu"; do
  $nvcc -std=c++17 -O3 $gencode -I"$src" "$@" -Xcompiler -fPIC -Xptxas -v -c "$f" -o "$out/$(basename "$f").o" \
    >"$out/$(basename "$f").log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
cat "$out"/*.log | grep -E "error|[1-9][0-9]* bytes spill stores|Compiling entry.*(flash_fwd|flash_bwd)" || true
[ $rc = 0 ] || { cat "$out"/*.log | grep -B2 -A5 error; exit 1; }
$nvcc -shared "$out"/*.o -o "$out/libfa.so"
echo "built $out/libfa.so"
