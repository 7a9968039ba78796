#!/usr/bin/env bash
# Builds Kokkos and Kokkos Kernels with the OpenMP (and Serial) backend from the
# distribution's own source package of Trilinos (Debian's binary packages have the
# Serial backend only), once, into a git-ignored cache folder of the checkout, and
# prints the install prefix on the last line of stdout. Re-running reuses the build.
#
#   scripts/kokkos_openmp.sh            # build or reuse; prints PREFIX (Kokkos_ROOT=PREFIX)
#   NUMLAB_CACHE_DIR=DIR scripts/kokkos_openmp.sh
#
# The source comes from `apt-get source --download-only trilinos` against a private apt
# state (deb-src twins of the machine's own deb entries, the same mirrors and keyrings),
# so the system's package lists and sources are never touched and no root is needed.
# Exit 1 with the reason on stderr when any step fails (scripts/build.sh then falls back to
# the Serial packages and says so).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache="${NUMLAB_CACHE_DIR:-$PWD/.cache}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
prefix="$cache/kokkos-openmp"
work="$cache/kokkos-openmp-work"
log="$work/build.log"
# What the install is: a change here rebuilds it.
recipe="trilinos-source kokkos+kokkos-kernels OPENMP;SERIAL shared Release tpl:BLAS,LAPACK eti:off v1"

say() { echo "kokkos_openmp: $*" >&2; }
fail() {
  say "$*"
  [ -f "$log" ] && { say "last lines of $log:"; tail -n 15 "$log" >&2; }
  exit 1
}

if [ -f "$prefix/.numlab-recipe" ] && [ "$(cat "$prefix/.numlab-recipe")" = "$recipe" ] \
  && [ -f "$prefix/kokkos/lib/cmake/Kokkos/KokkosConfig.cmake" ] \
  && [ -d "$prefix/kokkos-kernels" ]; then
  say "reusing $prefix ($(cat "$prefix/.numlab-version" 2>/dev/null || echo '?'))"
  echo "$prefix"
  exit 0
fi

for tool in apt-get cmake c++ tar; do
  command -v "$tool" >/dev/null || fail "'$tool' not found"
done
rm -rf "$work" "$prefix"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
: >"$log"

# deb-src twins of every deb entry the machine already uses (deb822 .sources and one-line lists).
srclist="$work/apt/deb-src.sources"
: >"$srclist"
shopt -s nullglob
for f in /etc/apt/sources.list.d/*.sources; do
  awk 'BEGIN { RS = ""; FS = "\n" }
       { deb = 0; off = 0
         for (i = 1; i <= NF; i++) {
           if ($i ~ /^Types:/) { n = split(substr($i, 7), t, /[ \t]+/); for (j = 1; j <= n; j++) if (t[j] == "deb") deb = 1 }
           if ($i ~ /^Enabled:[ \t]*[Nn]o/) off = 1
         }
         if (deb && !off) { for (i = 1; i <= NF; i++) print ($i ~ /^Types:/ ? "Types: deb-src" : $i); print "" } }' "$f" >>"$srclist"
done
onelines="$work/apt/deb-src.list"
: >"$onelines"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] && sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$onelines"
done
shopt -u nullglob
[ -s "$srclist" ] || [ -s "$onelines" ] || fail "no deb entries in /etc/apt to derive a deb-src source from"

apt_private=(
  -o "Dir::Etc::SourceList=$onelines" -o "Dir::Etc::SourceParts=$work/apt/parts"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=$(id -un)" -o "Acquire::Languages=none"
)
mkdir -p "$work/apt/parts"
[ -s "$srclist" ] && cp "$srclist" "$work/apt/parts/numlab-deb-src.sources"

say "fetching the source lists of the machine's apt mirrors (private apt state in $work/apt)"
apt-get "${apt_private[@]}" -qq update >>"$log" 2>&1 || say "apt-get update reported errors (some mirrors may carry no sources); trying anyway"
say "downloading Debian's trilinos source package (orig tarball about 170 MB)"
(cd "$work/src" && apt-get "${apt_private[@]}" -qq source --download-only trilinos) >>"$log" 2>&1 \
  || fail "apt-get source --download-only trilinos failed"
orig=("$work"/src/trilinos_*.orig.tar.*)
[ -f "${orig[0]}" ] || fail "no trilinos orig tarball was downloaded"
trilinos_version="$(basename "${orig[0]}" | sed 's/^trilinos_\(.*\)\.orig\.tar\..*$/\1/')"

say "extracting packages/kokkos and packages/kokkos-kernels from $(basename "${orig[0]}")"
tar -xf "${orig[0]}" -C "$work/src" --wildcards '*/packages/kokkos/*' '*/packages/kokkos-kernels/*' \
  >>"$log" 2>&1 || fail "extracting Kokkos from ${orig[0]} failed"
rm -f "${orig[@]}"
kokkos_src=("$work"/src/*/packages/kokkos)
kk_src=("$work"/src/*/packages/kokkos-kernels)
[ -f "${kokkos_src[0]}/CMakeLists.txt" ] && [ -f "${kk_src[0]}/CMakeLists.txt" ] \
  || fail "the trilinos source has no standalone packages/kokkos and packages/kokkos-kernels"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
jobs="$(nproc)"
common=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DCMAKE_CXX_STANDARD=17
  -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON)

say "building Kokkos (OpenMP + Serial) into $prefix/kokkos"
cmake -S "${kokkos_src[0]}" -B "$work/build-kokkos" "${generator[@]}" "${common[@]}" \
  -DCMAKE_INSTALL_PREFIX="$prefix/kokkos" -DKokkos_ENABLE_OPENMP=ON -DKokkos_ENABLE_SERIAL=ON \
  -DKokkos_ENABLE_TESTS=OFF -DKokkos_ENABLE_EXAMPLES=OFF >>"$log" 2>&1 || fail "configuring Kokkos failed"
cmake --build "$work/build-kokkos" --parallel "$jobs" >>"$log" 2>&1 || fail "building Kokkos failed"
cmake --install "$work/build-kokkos" >>"$log" 2>&1 || fail "installing Kokkos failed"

say "building Kokkos Kernels (BLAS/LAPACK TPLs) into $prefix/kokkos-kernels"
cmake -S "${kk_src[0]}" -B "$work/build-kk" "${generator[@]}" "${common[@]}" \
  -DCMAKE_INSTALL_PREFIX="$prefix/kokkos-kernels" -DKokkos_ROOT="$prefix/kokkos" \
  -DKokkosKernels_ENABLE_TPL_BLAS=ON -DKokkosKernels_ENABLE_TPL_LAPACK=ON \
  -DKokkosKernels_ADD_DEFAULT_ETI=OFF -DKokkosKernels_ENABLE_TESTS=OFF -DKokkosKernels_ENABLE_EXAMPLES=OFF \
  >>"$log" 2>&1 || fail "configuring Kokkos Kernels failed"
cmake --build "$work/build-kk" --parallel "$jobs" >>"$log" 2>&1 || fail "building Kokkos Kernels failed"
cmake --install "$work/build-kk" >>"$log" 2>&1 || fail "installing Kokkos Kernels failed"

kokkos_version="$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")/\1/p' "$prefix/kokkos/lib/cmake/Kokkos/KokkosConfigVersion.cmake" | head -n1)"
echo "Kokkos ${kokkos_version:-?} from trilinos $trilinos_version (OpenMP, Serial)" >"$prefix/.numlab-version"
echo "$recipe" >"$prefix/.numlab-recipe"
rm -rf "$work/src" "$work/build-kokkos" "$work/build-kk" "$work/apt"
say "installed $(cat "$prefix/.numlab-version") in $prefix"
echo "$prefix"
