#!/usr/bin/env bash
# Builds Kokkos and Kokkos Kernels with the OpenMP (and Serial) backend from the
# distribution's own source package of Trilinos (Debian's binary packages have the
# Serial backend only), once, into a git-ignored cache folder of the checkout, and
# prints the install prefix on the last line of stdout. Re-running reuses the build.
#
#   scripts/kokkos_openmp.sh                 # build or reuse; prints PREFIX
#   NUMLAB_CACHE_DIR=DIR scripts/kokkos_openmp.sh
#   scripts/kokkos_openmp.sh --deb-src-of F  # print the deb-src twins of apt source file F
#
# The source comes from `apt-get source --download-only trilinos` (the version of the installed
# libtrilinos-kokkos-dev where there is one) against a private apt state: deb-src twins of the
# machine's own deb entries, the same mirrors and keyrings, so the system's package lists and
# sources are never touched and no root is needed. Every failure exits 1 with the reason on
# stderr and is remembered (.cache/kokkos-openmp.failed): scripts/build.sh then falls back to the
# Serial packages at once instead of retrying the download on every build, until
# NUMLAB_KOKKOS=openmp or NUMLAB_KOKKOS_RETRY=1 asks for another attempt.
set -euo pipefail

# deb-src twins of the deb entries of one apt source file: deb822 (.sources) or one-line (.list).
deb_src_of() {
  case "$1" in
    *.sources)
      # Stanzas are separated by blank lines; field names are case-insensitive; CRLF tolerated.
      sed -e 's/\r$//' -e 's/^[[:space:]]*$//' "$1" | awk '
        BEGIN { RS = ""; FS = "\n" }
        { deb = 0; off = 0
          for (i = 1; i <= NF; i++) {
            name = tolower($i); sub(/:.*/, "", name)
            value = $i; sub(/^[^:]*:[ \t]*/, "", value)
            if (name == "types") { n = split(value, t, /[ \t]+/); for (j = 1; j <= n; j++) if (t[j] == "deb") deb = 1 }
            if (name == "enabled" && tolower(value) ~ /^(no|false|off|0)/) off = 1
          }
          if (deb && !off) {
            for (i = 1; i <= NF; i++) { name = tolower($i); sub(/:.*/, "", name); print (name == "types" ? "Types: deb-src" : $i) }
            print ""
          } }' ;;
    *) sed -e 's/\r$//' -n -e 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$1" ;;
  esac
}
if [ "${1:-}" = --deb-src-of ]; then
  deb_src_of "$2"
  exit 0
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache="${NUMLAB_CACHE_DIR:-$PWD/.cache}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
prefix="$cache/kokkos-openmp"
work="$cache/kokkos-openmp-work"
failed="$cache/kokkos-openmp.failed"
log="$work/build.log"
compiler="$(c++ -dumpfullversion 2>/dev/null || echo none) $(readlink -f "$(command -v c++ 2>/dev/null || echo c++)")"
pinned="$(dpkg-query -W -f='${source:Version}' libtrilinos-kokkos-dev 2>/dev/null || true)"
# What the install is: any change here rebuilds it.
recipe="trilinos-source ${pinned:-any} kokkos+kokkos-kernels OPENMP;SERIAL shared Release tpl:BLAS,LAPACK eti:off compiler:$compiler v2"

say() { echo "kokkos_openmp: $*" >&2; }
fail() {
  say "$*"
  [ -f "$log" ] && { say "last lines of $log:"; tail -n 15 "$log" >&2; }
  printf '%s\n%s\n' "$recipe" "$*" >"$failed"
  exit 1
}

# One setup at a time per cache (two build folders, setup.sh beside test.sh).
exec 9>"$cache/kokkos-openmp.lock"
if command -v flock >/dev/null; then
  flock -w 1800 9 || { say "another setup holds $cache/kokkos-openmp.lock"; exit 1; }
fi

if [ -f "$prefix/.numlab-recipe" ] && [ "$(cat "$prefix/.numlab-recipe")" = "$recipe" ] \
  && [ -f "$prefix/kokkos/lib/cmake/Kokkos/KokkosConfig.cmake" ] \
  && [ -d "$prefix/kokkos-kernels" ]; then
  say "reusing $prefix ($(cat "$prefix/.numlab-version" 2>/dev/null || echo '?'))"
  echo "$prefix"
  exit 0
fi
if [ -f "$failed" ] && [ "$(head -n 1 "$failed")" = "$recipe" ] && [ "${NUMLAB_KOKKOS_RETRY:-0}" != 1 ]; then
  say "an earlier attempt failed ($(tail -n 1 "$failed")); not retrying (NUMLAB_KOKKOS_RETRY=1 or NUMLAB_KOKKOS=openmp retries)"
  exit 1
fi
rm -f "$failed"

for tool in apt-get cmake c++ tar; do
  command -v "$tool" >/dev/null || fail "'$tool' not found"
done
rm -rf "$work" "$prefix"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/parts" "$work/src"
: >"$log"

# deb-src twins of every deb entry the machine already uses.
shopt -s nullglob
for f in /etc/apt/sources.list.d/*.sources; do
  deb_src_of "$f" >>"$work/apt/parts/numlab-deb-src.sources"
done
onelines="$work/apt/deb-src.list"
: >"$onelines"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] && deb_src_of "$f" >>"$onelines"
done
shopt -u nullglob
[ -s "$work/apt/parts/numlab-deb-src.sources" ] || rm -f "$work/apt/parts/numlab-deb-src.sources"
[ -e "$work/apt/parts/numlab-deb-src.sources" ] || [ -s "$onelines" ] \
  || fail "no deb entries in /etc/apt to derive a deb-src source from"

apt_private=(
  -o "Dir::Etc::SourceList=$onelines" -o "Dir::Etc::SourceParts=$work/apt/parts"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=$(id -un)" -o "Acquire::Languages=none"
)
say "fetching the source lists of the machine's apt mirrors (private apt state in $work/apt)"
apt-get "${apt_private[@]}" -qq update >>"$log" 2>&1 \
  || say "apt-get update reported errors (some mirrors may carry no sources); trying anyway"
want="trilinos${pinned:+=$pinned}"
say "downloading Debian's source package $want (orig tarball about 170 MB)"
(cd "$work/src" && apt-get "${apt_private[@]}" -qq source --download-only "$want") >>"$log" 2>&1 \
  || fail "apt-get source --download-only $want failed"
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
# Kokkos 3.4 predates GCC 13's leaner headers (<cstdint> no longer comes with <string>).
common=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DCMAKE_CXX_STANDARD=17
  -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON "-DCMAKE_CXX_FLAGS=-include cstdint")

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
[ -f "$prefix/kokkos/lib/cmake/Kokkos/KokkosConfig.cmake" ] || fail "the Kokkos install has no KokkosConfig.cmake"

kokkos_version="$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")/\1/p' "$prefix/kokkos/lib/cmake/Kokkos/KokkosConfigVersion.cmake" 2>/dev/null || true)"
echo "Kokkos ${kokkos_version:-?} from trilinos $trilinos_version (OpenMP, Serial)" >"$prefix/.numlab-version"
echo "$recipe" >"$prefix/.numlab-recipe"  # last: a killed build is redone
rm -rf "$work"
say "installed $(cat "$prefix/.numlab-version") in $prefix"
echo "$prefix"
