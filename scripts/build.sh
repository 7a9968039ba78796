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
for a in "$@"; do
  case "$a" in -DKokkos_ROOT=* | -DKokkos_DIR=* | -DKokkos_ROOT:*=* | -DKokkos_DIR:*=*) user_root=1 ;; esac
done
[ -n "${Kokkos_ROOT:-}" ] && user_root=1

kokkos_args=()
case "$choice" in
  auto | openmp | serial) ;;
  *) echo "build.sh: NUMLAB_KOKKOS='$choice': expected auto, openmp or serial" >&2; exit 2 ;;
esac
if [ "$user_root" = 1 ]; then
  origin="user (Kokkos_ROOT)"
elif [ "$choice" = serial ]; then
  origin="debian-serial-packages"
else
  if prefix="$(scripts/kokkos_openmp.sh | tail -n 1)" && [ -d "$prefix/kokkos" ]; then
    origin="trilinos-source-openmp"
    kokkos_args=(-DKokkos_ROOT="$prefix/kokkos" -DKokkosKernels_ROOT="$prefix/kokkos-kernels")
  elif [ "$choice" = openmp ]; then
    echo "build.sh: NUMLAB_KOKKOS=openmp, but the OpenMP Kokkos could not be built (reason above)" >&2
    exit 1
  else
    origin="debian-serial-packages"
    cat >&2 <<'EOF'
build.sh: ************************************************************************
build.sh: Could not build Kokkos with OpenMP from Debian's trilinos source package
build.sh: (reason above). Building against Debian's Kokkos binary packages instead:
build.sh: they have the Serial backend only, so every Kokkos kernel of numlab runs on ONE
build.sh: core. NUMLAB_KOKKOS=serial chooses this quietly; NUMLAB_KOKKOS=openmp makes the
build.sh: failure an error; -DKokkos_ROOT=DIR uses your own Kokkos install.
build.sh: ************************************************************************
EOF
  fi
fi

# A build folder configured against another Kokkos is configured afresh (CMake caches Kokkos_DIR).
stamp="$build_dir/.numlab-kokkos-origin"
if [ -f "$build_dir/CMakeCache.txt" ] && { [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$origin ${kokkos_args[*]}" ]; }; then
  echo "build.sh: $build_dir was configured against another Kokkos; configuring it afresh ($origin)" >&2
  rm -rf "$build_dir/CMakeCache.txt" "$build_dir/CMakeFiles"
fi
generator=()
command -v ninja >/dev/null && [ ! -f "$build_dir/Makefile" ] && generator=(-G Ninja)
native=ON
[ "${NUMLAB_PORTABLE:-0}" = 1 ] && native=OFF
echo "build.sh: Kokkos: $origin" >&2
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DNUMLAB_ARCH_NATIVE=$native \
  -DNUMLAB_KOKKOS_ORIGIN="$origin" "${kokkos_args[@]}" "$@"
echo "$origin ${kokkos_args[*]}" >"$stamp"
cmake --build "$build_dir" --parallel "$(nproc)"
