#!/usr/bin/env bash
# Installs everything numlab needs on Debian 12 / Ubuntu 22.04+ from the
# distribution's packages: compilers, CMake, Kokkos + Kokkos Kernels (Debian's
# Trilinos packages), yaml-cpp, HDF5, GoogleTest, CLI11, fmt, nlohmann/json, OpenBLAS/LAPACK,
# the Python stack of the scripts (system /usr/bin/python3) with PyTorch on the CPU
# (python3-torch, 1.13: the host torch peer), a one-node Slurm
# (the cluster test) and headless Chromium (the report rendering test).
set -euo pipefail

packages=(
  build-essential cmake ninja-build git pkg-config
  libtrilinos-kokkos-dev libtrilinos-kokkos-kernels-dev
  libyaml-cpp-dev libhdf5-dev hdf5-tools libgtest-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  libopenblas-dev liblapack-dev libopenblas0-openmp
  python3 python3-numpy python3-scipy python3-h5py python3-matplotlib python3-yaml python3-pandas
  python3-markdown python3-torch
  slurm-wlm slurm-client munge chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
