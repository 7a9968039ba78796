#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One device call for several prebuilt variants (docs/native-attention-kernels.md), from the
# repository root:
#   here:   bench/kernels/native_flash/build.sh build-fa/NAME -DFLAG=...   (each variant; build-fa/ is git-ignored)
#   device: bench/kernels/native_flash/device_run.sh NAME... [-- bench.py options]   (carry build-fa)
# Checks each library in its own process (in parallel: a crash stays in its process), then times the
# libraries that passed in one process (SDPA once per case), then dumps SASS of the first two and
# packs everything into $OUT/results.tgz ($OUT default /tmp/fa_out). Bounded by BUDGET seconds
# (default 250).
set -u
bench_py=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench.py
t0=$(date +%s)
budget=${BUDGET:-250}
out=${OUT:-/tmp/fa_out}
logs=$out/logs
mkdir -p "$logs"
names=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do names+=("$1"); shift; done
[ $# -gt 0 ] && shift
export PYTHONUNBUFFERED=1
left() { echo $((budget - ($(date +%s) - t0))); }

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
  --format=csv >"$logs/smi.txt" 2>&1
for n in "${names[@]}"; do
  timeout 120 python3 "$bench_py" "build-fa/$n/libfa.so" --names "$n" --skip-bench --out "$logs" \
    --tag "_chk_$n" >"$logs/chk_$n.txt" 2>&1 &
done
wait
pass=()
for n in "${names[@]}"; do
  line=$(grep "checks \[$n\]" "$logs/chk_$n.txt" || echo "checks [$n]: none (crashed or timed out)")
  echo "$line"
  grep -q "checks \[$n\]: 42/42" "$logs/chk_$n.txt" && pass+=("$n")
  grep -E "^(FAIL|ERROR)" "$logs/chk_$n.txt" | head -4 | cut -c1-300
done
echo "passed: ${pass[*]:-none}  (t=$(( $(date +%s) - t0 ))s)"

bench() {  # tag, extra bench.py options, libraries
  local tag=$1 opts=$2
  shift 2
  local libs=() n
  for n in "$@"; do libs+=("build-fa/$n/libfa.so"); done
  local csv
  csv=$(IFS=,; echo "$*")
  local lim=$(( $(left) - 25 ))
  [ $lim -lt 30 ] && lim=30
  # shellcheck disable=SC2086  # opts: words
  timeout $lim python3 "$bench_py" "${libs[@]}" --names "$csv" --skip-check \
    --out "$logs" --tag "_$tag" $opts "${BENCH_ARGS[@]}" >"$logs/bench_$tag.txt" 2>&1
  echo "bench $tag rc=$? (t=$(( $(date +%s) - t0 ))s)"
}
BENCH_ARGS=("$@")
if [ ${#pass[@]} -gt 0 ]; then
  bench main "" "${pass[@]}"
  if grep -q "^ERROR" "$logs/bench_main.txt" && [ "$(left)" -gt 80 ]; then
    grep "^ERROR" "$logs/bench_main.txt" | head -3
    bench nowgmma "--fwd-kernel mma_sm80" "${names[@]}"
  fi
fi
for n in "${names[@]:0:2}"; do
  cuobjdump -sass "build-fa/$n/libfa.so" 2>/dev/null | gzip >"$logs/sass_$n.txt.gz"
done
# NCU=NAME: warp-state and scheduler statistics of the forward and backward kernels of NAME (D=128, N=8k).
if [ -n "${NCU:-}" ]; then
  for kname in flash_fwd_sm90_ws_kernel flash_bwd_kernel; do
    [ "$(left)" -lt 60 ] && break
    timeout 45 ncu --kernel-name "regex:$kname" --launch-count 1 --section WarpStateStats --section SchedulerStats \
      --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis python3 "$bench_py" \
      "build-fa/$NCU/libfa.so" --skip-check --D 128 --N 8192 --extra 0 --sdpa "" --no-det --reps 1 \
      --out "$logs" --tag "_ncu" >"$logs/ncu_$kname.txt" 2>&1
    echo "ncu $kname rc=$? (t=$(( $(date +%s) - t0 ))s)"
  done
fi
tar czf "$out/results.tgz" -C "$out" logs
grep -h -A200 "^summary" "$logs"/bench_*.txt | cut -c1-400
echo "done t=$(( $(date +%s) - t0 ))s"
