#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one call on the H200 behind this folder's files (run from the root of a checkout whose
# third_party/ holds Kokkos 4.6.01 with the CUDA 13 fixes, Kokkos Kernels 4.6.02, hdeps and
# device_build.sh; SRC = this branch's tree, with the fp32 harness library in SRC/build-fa/final):
# Kokkos + Kokkos Kernels for CUDA, numlab and the native test binary; the native fp32 sweep, the
# Kokkos fp32 sweep, their PyTorch peer (SDPA efficient, TF32 off), the accuracy sweep, the fp32
# kernel harness (1xTF32 vs 3xTF32 vs cuBLAS fp32 standard), the native tests; files into $OUT.
# $OUT gets three files (the device tool returns at most 8): results.tgz (everything, from $OUT/run),
# gpu_table.md and test_cuda_native.log.
set -uo pipefail
R=$OUT/run; mkdir -p "$R"
t0=$(date +%s)
el() { echo $(( $(date +%s) - t0 )); }
SRC=${SRC:-build-wt17-src}
B=${B:-build-cuda-17}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv > "$R/gpu.txt" 2>&1
# The harness first: it needs no build (libfa.so made on the host by build_fp32.sh).
PYTHONUNBUFFERED=1 timeout 90 python3 "$SRC/bench/kernels/native_flash/bench_fp32.py" "$SRC/build-fa/final/libfa.so" "$SRC/build-fa/poly/libfa.so" \
  --names final,poly --out "$R" > /tmp/bench_fp32.txt 2>&1
echo "bench_fp32 rc $? after $(el) s"; grep -v "^check" /tmp/bench_fp32.txt
# numlab's fp32 forward gets the exponential of the harness library with the smaller worst error ratio
# (final: MUFU.EX2, poly: FMA polynomial, NUMLAB_FA_FP32_EXP=2); the choice is printed and kept.
pick=$(python3 -c "
import json; r = json.load(open('$R/bench_fp32.json'))['check']
w = {}
for c in r:
    if c['terms'] == 3:
        w[c['lib']] = max(w.get(c['lib'], 0), c['ratio_O_max'], c['ratio_O_fro'], c['ratio_L_max'], c['ratio_L_fro'])
print(min(w, key=w.get), w)" 2>&1)
echo "worst ratios per library: $pick" | tee "$R/exp_choice.txt"
case "$pick" in poly*) CUDA_DEFS="-DNUMLAB_FA_FP32_EXP=2" ;; *) CUDA_DEFS="" ;; esac
echo "numlab CUDA defines: '${CUDA_DEFS}'" | tee -a "$R/exp_choice.txt"
if [ ! -x /tmp/kk/kokkos/bin/nvcc_wrapper ]; then
  mkdir -p /tmp/kkout && OUT=/tmp/kkout NUMLAB_STEPS=none third_party/device_build.sh > /tmp/kk_build.txt 2>&1 || { tail -20 /tmp/kk_build.txt; exit 1; }
fi
echo "kokkos ready after $(el) s"
export Kokkos_ROOT=/tmp/kk/kokkos KokkosKernels_ROOT=/tmp/kk/kk
if [ ! -f "$B/build.ninja" ]; then
  cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$Kokkos_ROOT/bin/nvcc_wrapper" \
    -DKokkos_ROOT="$Kokkos_ROOT" -DKokkosKernels_ROOT="$KokkosKernels_ROOT" \
    -DNUMLAB_HEADER_ONLY_DEPS="$PWD/third_party/hdeps" -DNUMLAB_KERNEL_BENCH=OFF -DNUMLAB_CUDA_NATIVE=ON -DCMAKE_CUDA_FLAGS="${CUDA_DEFS}" \
    > /tmp/configure.log 2>&1 || { tail -30 /tmp/configure.log; exit 1; }
fi
timeout $(( ${BUILD_S:-400} - $(el) )) cmake --build "$B" --parallel 16 --target numlab numlab_test_cuda_native -- -k 0 \
  > /tmp/build.log 2>&1
rc=$?
echo "build rc $rc after $(el) s"
grep -E "error|FAILED" -A3 /tmp/build.log | head -60 > "$R/build_errors.txt"
head -30 "$R/build_errors.txt"
[ $rc -ne 0 ] && { tar -czf "$OUT/results.tgz" -C "$OUT" run; exit 1; }
bin=$PWD/$B
cd "$SRC"
timeout 50 "$bin/numlab" configs/attn_gpu_fp32_native.yaml -o "$R/attn_gpu_fp32_native.h5" --overwrite > "$R/attn_gpu_fp32_native.log" 2>&1
echo "native fp32 sweep rc $? after $(el) s"
PYTHONUNBUFFERED=1 timeout 70 python3 scripts/peers/torch_attention.py configs/attn_gpu_fp32_native.yaml \
  --methods sdpa_efficient,sdpa_math -o "$R/peers_torch_fp32.h5" --overwrite --numlab "$bin/numlab" > "$R/peers_torch_fp32.log" 2>&1
echo "torch peers rc $? after $(el) s"
timeout 70 "$bin/numlab" configs/attn_gpu_fp32_native_accuracy.yaml -o "$R/attn_gpu_fp32_native_accuracy.h5" --overwrite \
  > "$R/attn_gpu_fp32_native_accuracy.log" 2>&1
echo "accuracy sweep rc $? after $(el) s"
left=$(( ${TOTAL_S:-575} - 45 - $(el) ))
timeout $left "$bin/tests/numlab_test_cuda_native" --gtest_filter='*Fp32*:CudaNativeConfig*:CudaNativeRunner*:CudaNativeSamePrecision*' \
  > "$OUT/test_cuda_native.log" 2>&1
echo "test_cuda_native rc $? after $(el) s"
left=$(( ${TOTAL_S:-575} - $(el) ))
[ $left -gt 15 ] && timeout $left "$bin/numlab" configs/attn_gpu_fp32.yaml -o "$R/attn_gpu_fp32.h5" --overwrite > "$R/attn_gpu_fp32.log" 2>&1
echo "Kokkos fp32 sweep rc $? after $(el) s"

grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests ran|FAILED  \]|Failure|kernel .* vs fp32" "$OUT/test_cuda_native.log" | head -40
python3 bench/gpu_table.py "$R" > "$OUT/gpu_table.md" 2>&1
cp "$OUT/gpu_table.md" "$OUT/test_cuda_native.log" "$R/"
tar -czf "$OUT/results.tgz" -C "$OUT" run
sed -n '/Native fp32/,$p' "$OUT/gpu_table.md" | head -40
