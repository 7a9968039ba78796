#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Variants of the fp32 forward for bench_fp32.py without recompiling the 16-bit kernels: the other
# objects once into BASE_DIR (default build-fa/base), then per variant flash_fp32.cu and capi.cu with
# the flags given, linked with them into OUT_DIR/libfa.so (sm_90a; GENCODE to change).
#   bench/kernels/native_flash/build_fp32.sh OUT_DIR [-DNUMLAB_FA_FP32_WARPS=4 ...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../../../src" && pwd)
out=${1:?OUT_DIR}
shift
base=${BASE_DIR:-build-fa/base}
gencode=${GENCODE:-"-gencode=arch=compute_90a,code=sm_90a"}
nvcc=${NVCC:-nvcc}
command -v "$nvcc" >/dev/null || nvcc=/usr/local/cuda/bin/nvcc
flags=(-std=c++17 -O3 $gencode -I"$src" --expt-relaxed-constexpr -Xcompiler -fPIC)
mkdir -p "$base" "$out"
for f in flash_d64 flash_d128 flash_d256 flash_attention_cuda; do
  [ -f "$base/$f.o" ] || $nvcc "${flags[@]}" -c "$src/cuda/$f.cu" -o "$base/$f.o"
done
$nvcc "${flags[@]}" "$@" -Xptxas -v -c "$src/cuda/flash_fp32.cu" -o "$out/flash_fp32.o" >"$out/ptxas.log" 2>&1 ||
  { cat "$out/ptxas.log"; exit 1; }
$nvcc "${flags[@]}" "$@" -c "$here/capi.cu" -o "$out/capi.o"
$nvcc -shared "$base"/*.o "$out/flash_fp32.o" "$out/capi.o" -o "$out/libfa.so"
grep -E "Used|spill" "$out/ptxas.log" | paste - - | sed 's/ptxas info    : //g' | cut -c1-160
echo "built $out/libfa.so"
