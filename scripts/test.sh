#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs the whole suite.
#
# The main build (build/) uses the Kokkos scripts/build.sh picks (OpenMP from Debian's trilinos
# source package, else the Serial packages). When that is the OpenMP one, the fallback (Debian's
# Serial binary packages) is built in build-serial/ and runs the C++ suite too (every test of
# Kokkos code, in process or through the binary), so both configurations a user can get stay
# green; NUMLAB_TEST_FALLBACK=0 skips it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install_deps.sh
scripts/build.sh
build_dir="${NUMLAB_BUILD_DIR:-build}"
origin="$(cat "$build_dir/numlab-kokkos-origin.txt" 2>/dev/null || echo unknown)"
echo "test.sh: suite of $build_dir (Kokkos: $origin)"
(cd "$build_dir" && ctest --output-on-failure --parallel "$(nproc)" --timeout 900)
if [ "${NUMLAB_TEST_FALLBACK:-1}" != 0 ] && [ "$origin" = trilinos-source-openmp ]; then
  serial_dir="${build_dir%/}-serial"
  echo "test.sh: the fallback: Debian's Serial Kokkos packages in $serial_dir"
  # The Kokkos-dependent part: the native CUDA kernels and the kernel harnesses do not use Kokkos'
  # host backend (built and tested above), nor do the script tests (peers, python, slurm, setup).
  NUMLAB_KOKKOS=serial NUMLAB_BUILD_DIR="$serial_dir" scripts/build.sh -DNUMLAB_CUDA_NATIVE=OFF -DNUMLAB_KERNEL_BENCH=OFF
  (cd "$serial_dir" && ctest --output-on-failure --parallel "$(nproc)" --timeout 900 \
    -E '^numlab[.](peers|python|slurm|scripts)[.]')
fi
