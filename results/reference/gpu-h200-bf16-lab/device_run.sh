#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one call on the H200 behind this folder's files (run from the root of a checkout whose
# third_party/ holds Kokkos 4.6.01 with the CUDA 13 fixes, Kokkos Kernels 4.6.02, hdeps and
# device_build.sh; SRC = this branch's tree): Kokkos + Kokkos Kernels for CUDA, numlab and the
# native test binary, the bf16 lab sweep, its PyTorch peers, the native tests; files into $OUT.
set -uo pipefail
t0=$(date +%s)
el() { echo $(( $(date +%s) - t0 )); }
SRC=${SRC:-build-wt14g-src}
B=${B:-build-cuda-14g}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv > "$OUT/gpu.txt" 2>&1
if [ ! -x /tmp/kk/kokkos/bin/nvcc_wrapper ]; then
  mkdir -p /tmp/kkout && OUT=/tmp/kkout NUMLAB_STEPS=none third_party/device_build.sh > /tmp/kk_build.txt 2>&1 || { tail -20 /tmp/kk_build.txt; exit 1; }
fi
echo "kokkos ready after $(el) s"
export Kokkos_ROOT=/tmp/kk/kokkos KokkosKernels_ROOT=/tmp/kk/kk
if [ ! -f "$B/build.ninja" ]; then
  cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$Kokkos_ROOT/bin/nvcc_wrapper" \
    -DKokkos_ROOT="$Kokkos_ROOT" -DKokkosKernels_ROOT="$KokkosKernels_ROOT" \
    -DNUMLAB_HEADER_ONLY_DEPS="$PWD/third_party/hdeps" -DNUMLAB_KERNEL_BENCH=OFF -DNUMLAB_CUDA_NATIVE=ON \
    > /tmp/configure.log 2>&1 || { tail -30 /tmp/configure.log; exit 1; }
fi
timeout $(( ${BUILD_S:-360} - $(el) )) cmake --build "$B" --parallel 16 --target numlab numlab_test_cuda_native -- -k 0 \
  > /tmp/build.log 2>&1
rc=$?
echo "build rc $rc after $(el) s"
grep -E "error|FAILED" -A3 /tmp/build.log | head -60 > "$OUT/build_errors.txt"
head -30 "$OUT/build_errors.txt"
[ $rc -ne 0 ] && exit 1
bin=$PWD/$B
cd "$SRC"
timeout 150 "$bin/numlab" configs/attn_gpu_bf16_lab.yaml -o "$OUT/attn_gpu_bf16_lab.h5" --overwrite \
  > "$OUT/attn_gpu_bf16_lab.log" 2>&1
echo "numlab sweep rc $? after $(el) s"
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/peers/torch_attention.py configs/attn_gpu_bf16_lab.yaml \
  --methods torch_standard,sdpa_math,sdpa_flash,sdpa_cudnn,flash_attn -o "$OUT/attn_gpu_bf16_lab_torch.h5" \
  --overwrite --numlab "$bin/numlab" > "$OUT/attn_gpu_bf16_lab_torch.log" 2>&1
echo "torch peers rc $? after $(el) s"
left=$(( ${TOTAL_S:-585} - $(el) ))
timeout $left "$bin/tests/numlab_test_cuda_native" > "$OUT/test_cuda_native.log" 2>&1
echo "test_cuda_native rc $? after $(el) s"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests ran|FAILED  \]" "$OUT/test_cuda_native.log" | head -40
python3 results/reference/gpu-h200-bf16-lab/summarize.py "$OUT/attn_gpu_bf16_lab.h5" "$OUT/attn_gpu_bf16_lab_torch.h5" \
  > "$OUT/summary.txt" 2>&1
cat "$OUT/summary.txt"
