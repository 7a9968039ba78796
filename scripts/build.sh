#!/usr/bin/env bash
# Configures and builds numlab in build/ (Release, for this machine's CPU:
# -DNUMLAB_ARCH_NATIVE=ON; NUMLAB_PORTABLE=1 builds for the generic target).
#
# Which Kokkos (NUMLAB_KOKKOS):
#   auto    (default) Kokkos + Kokkos Kernels with OpenMP, built once from Debian's trilinos
#           source package into .cache/ (scripts/kokkos_openmp.sh); if that fails, Debian's
#           Serial binary packages, with a message saying so
#   openmp  the same, but a failure of the source route is an error
#   serial  Debian's binary packages (libtrilinos-kokkos*-dev: Serial backend, one core)
# Passing -DKokkos_ROOT=... (and -DKokkosKernels_ROOT=...), or exporting Kokkos_ROOT, uses
# that install instead, e.g. -DKokkos_ROOT=/opt/kokkos-cuda -DKokkosKernels_ROOT=/opt/kk-cuda.
# Extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir="${NUMLAB_BUILD_DIR:-build}"
choice="${NUMLAB_KOKKOS:-auto}"

user_root=0
prev=""
for a in "$@"; do
  case "$prev$a" in -DKokkos_ROOT=* | -DKokkos_DIR=* | -DKokkos_ROOT:*=* | -DKokkos_DIR:*=*) user_root=1 ;; esac
  prev=""
  [ "$a" = -D ] && prev="-D"
done
[ -n "${Kokkos_ROOT:-}" ] && user_root=1
case "$choice" in
  auto | openmp | serial) ;;
  *) echo "build.sh: NUMLAB_KOKKOS='$choice': expected auto, openmp or serial" >&2; exit 2 ;;
esac
# What the build folder was configured against (cmake/NumlabKokkos.cmake writes it).
configured="$(cat "$build_dir/numlab-kokkos-origin.txt" 2>/dev/null || true)"
if [ "$user_root" = 0 ] && [ -z "${NUMLAB_KOKKOS:-}" ] && [ "${configured#user}" != "$configured" ]; then
  # A folder configured by hand against another Kokkos (e.g. CUDA) stays as it is.
  echo "build.sh: $build_dir is configured against $configured; keeping it (NUMLAB_KOKKOS=auto|openmp|serial switches)" >&2
  user_root=1
fi

kokkos_args=()
want=user
if [ "$user_root" = 0 ] && [ "$choice" = serial ]; then
  want=debian-serial-packages
elif [ "$user_root" = 0 ]; then
  retry=()
  [ "$choice" = openmp ] && retry=(env NUMLAB_KOKKOS_RETRY=1)
  if prefix="$("${retry[@]}" scripts/kokkos_openmp.sh | tail -n 1)" && [ -d "$prefix/kokkos" ]; then
    want=trilinos-source-openmp
    kokkos_args=(-DKokkos_ROOT="$prefix/kokkos" -DKokkosKernels_ROOT="$prefix/kokkos-kernels")
  elif [ "$choice" = openmp ]; then
    echo "build.sh: NUMLAB_KOKKOS=openmp, but the OpenMP Kokkos could not be built (reason above)" >&2
    exit 1
  else
    want=debian-serial-packages
    cat >&2 <<'EOF'
build.sh: ************************************************************************
build.sh: Could not build Kokkos with OpenMP from Debian's trilinos source package
build.sh: (reason above). Building against Debian's Kokkos binary packages instead:
build.sh: they have the Serial backend only, so every Kokkos kernel of numlab runs on ONE
build.sh: core. NUMLAB_KOKKOS=serial chooses this quietly; NUMLAB_KOKKOS=openmp retries and
build.sh: makes a failure an error; -DKokkos_ROOT=DIR uses your own Kokkos install.
build.sh: ************************************************************************
EOF
  fi
fi

# The cached find results of an earlier configure win over a new Kokkos_ROOT: forget them (and
# an old Kokkos_ROOT) whenever build.sh chooses the Kokkos; finding again is quick.
forget=()
if [ "$want" != user ]; then
  [ -n "$configured" ] && [ "$configured" != "$want" ] \
    && echo "build.sh: $build_dir was configured against $configured; switching it to $want" >&2
  forget=(-U Kokkos_DIR -U KokkosKernels_DIR -U Kokkos_ROOT -U KokkosKernels_ROOT -U "_kk_lib_*")
fi
generator=()
command -v ninja >/dev/null && [ ! -f "$build_dir/Makefile" ] && generator=(-G Ninja)
native=ON
[ "${NUMLAB_PORTABLE:-0}" = 1 ] && native=OFF
echo "build.sh: Kokkos: $want" >&2
cmake -S . -B "$build_dir" "${generator[@]}" "${forget[@]}" -DCMAKE_BUILD_TYPE=Release -DNUMLAB_ARCH_NATIVE=$native \
  "${kokkos_args[@]}" "$@"
echo "build.sh: configured against $(cat "$build_dir/numlab-kokkos-origin.txt" 2>/dev/null || echo '?')" >&2
cmake --build "$build_dir" --parallel "$(nproc)"
