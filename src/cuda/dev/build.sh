#!/usr/bin/env bash
# Builds the kernels + API (src/cuda/flash_*.cu) and dev/capi.cu into one shared library for bench.py.
#   src/cuda/dev/build.sh OUTDIR [extra nvcc flags, e.g. -DSOMETHING to build a variant]
# (run from the repository root; GENCODE overrides the target, default sm_90a)
set -euo pipefail
out=${1:-/tmp/fa_build}
shift || true
gencode=${GENCODE:-"-gencode=arch=compute_90a,code=sm_90a"}
mkdir -p "$out"
nvcc=${NVCC:-nvcc}
pids=()
for f in src/cuda/flash_*.cu src/cuda/dev/capi.cu; do
  $nvcc -std=c++17 -O3 $gencode -Isrc "$@" -Xcompiler -fPIC -Xptxas -v -c "$f" -o "$out/$(basename "$f").o" \
    >"$out/$(basename "$f").log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
cat "$out"/*.log | grep -E "error|[1-9][0-9]* bytes spill stores|Compiling entry.*(flash_fwd|flash_bwd)" || true
[ $rc = 0 ] || { cat "$out"/*.log | grep -B2 -A5 error; exit 1; }
$nvcc -shared "$out"/*.o -o "$out/libfa.so"
echo "built $out/libfa.so"
