#!/usr/bin/env bash
# scripts/kokkos_openmp.sh and scripts/build.sh without building anything: the deb-src twins of
# apt source files (Debian 12 / Ubuntu deb822 with comments, several types, disabled stanzas,
# lower-case names, CRLF; one-line lists with options), a failed source route remembered and not
# retried, and build.sh's choice of Kokkos refusing an unknown NUMLAB_KOKKOS.
set -uo pipefail
root="$1"
script="$root/scripts/kokkos_openmp.sh"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0
check() {  # check NAME EXPECTED_FILE ACTUAL_FILE
  if ! diff -u "$2" "$3"; then echo "FAIL: $1"; fails=$((fails + 1)); else echo "ok: $1"; fi
}

cat >"$tmp/d.sources" <<'SRC'
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
  
types: deb
uris: http://example.org/off
suites: x
components: main
Enabled: false

Types: deb-src
URIs: http://only.src/
Suites: y
Components: main
SRC
cat >"$tmp/d.expected" <<'SRC'
Types: deb-src
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main

SRC
bash "$script" --deb-src-of "$tmp/d.sources" >"$tmp/d.out"
check "deb822 (Debian 12 layout, disabled and source-only stanzas)" "$tmp/d.expected" "$tmp/d.out"

printf 'types: deb\r\nURIs: http://archive.ubuntu.com/ubuntu/\r\nSuites: noble noble-updates\r\nComponents: main universe\r\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\r\n' >"$tmp/u.sources"
printf 'Types: deb-src\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates\nComponents: main universe\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n\n' >"$tmp/u.expected"
bash "$script" --deb-src-of "$tmp/u.sources" >"$tmp/u.out"
check "deb822 with CRLF and lower-case field names (Ubuntu 24.04 layout)" "$tmp/u.expected" "$tmp/u.out"

printf '# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://a/ jammy main universe\n  deb http://b/ jammy-security main\ndeb-src http://c/ x main\n' >"$tmp/o.list"
printf 'deb-src [arch=amd64 signed-by=/k.gpg] http://a/ jammy main universe\ndeb-src http://b/ jammy-security main\n' >"$tmp/o.expected"
bash "$script" --deb-src-of "$tmp/o.list" >"$tmp/o.out"
check "one-line list with options" "$tmp/o.expected" "$tmp/o.out"

# A route that cannot work (no apt-get on PATH) fails with the reason, and is not retried.
mkdir -p "$tmp/bin"
for b in bash env dirname basename mkdir cat head tail rm readlink id dpkg-query flock sed awk mawk tar \
  cmake c++ g++ nproc date; do
  f="$(command -v "$b" 2>/dev/null)" && ln -sf "$f" "$tmp/bin/$b"
done
PATH="$tmp/bin" NUMLAB_CACHE_DIR="$tmp/cache" bash "$script" >"$tmp/f1.out" 2>"$tmp/f1.err"
rc1=$?
PATH="$tmp/bin" NUMLAB_CACHE_DIR="$tmp/cache" bash "$script" >"$tmp/f2.out" 2>"$tmp/f2.err"
rc2=$?
if [ $rc1 -eq 1 ] && grep -q "'apt-get' not found" "$tmp/f1.err" && [ -f "$tmp/cache/kokkos-openmp.failed" ] \
  && [ $rc2 -eq 1 ] && grep -q "not retrying" "$tmp/f2.err" && [ ! -s "$tmp/f2.out" ]; then
  echo "ok: a failed route exits 1 with its reason and is remembered"
else
  echo "FAIL: failed route: rc $rc1/$rc2"; cat "$tmp/f1.err" "$tmp/f2.err"; fails=$((fails + 1))
fi
PATH="$tmp/bin" NUMLAB_CACHE_DIR="$tmp/cache" NUMLAB_KOKKOS_RETRY=1 bash "$script" >/dev/null 2>"$tmp/f3.err"
if grep -q "'apt-get' not found" "$tmp/f3.err"; then echo "ok: NUMLAB_KOKKOS_RETRY=1 tries again"; else
  echo "FAIL: retry"; cat "$tmp/f3.err"; fails=$((fails + 1)); fi

NUMLAB_KOKKOS=bogus NUMLAB_BUILD_DIR="$tmp/b" bash "$root/scripts/build.sh" >"$tmp/b.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "expected auto, openmp or serial" "$tmp/b.out"; then echo "ok: NUMLAB_KOKKOS=bogus exits 2"; else
  echo "FAIL: NUMLAB_KOKKOS=bogus rc $rc"; cat "$tmp/b.out"; fails=$((fails + 1)); fi
exit $((fails > 0))
